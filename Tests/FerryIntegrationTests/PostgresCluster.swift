import Foundation
import Glibc

/// A throwaway PostgreSQL (Debian's) for one test: `initdb` into a temporary folder and a server on
/// 127.0.0.1 and a free port, run as the `postgres` system user (initdb and postgres refuse root).
/// Trust authentication for the role `ferry`, on loopback only. Stopped by its postmaster's PID.
final class PostgresCluster {
    let port: UInt16
    private let folder = URL(fileURLWithPath: "/tmp").appendingPathComponent("ferry-pg-\(UUID().uuidString)")
    private var data: URL { folder.appendingPathComponent("data") }

    /// `postgresql://ferry@127.0.0.1:PORT/postgres`, with `password` in it when given (trust
    /// authentication ignores it: it is there to check that Ferry never prints it).
    func url(password: String? = nil) -> String {
        "postgresql://ferry\(password.map { ":\($0)" } ?? "")@127.0.0.1:\(port)/postgres?connect_timeout=3"
    }

    init() throws {
        port = try FerryProcess.freePort(host: "127.0.0.1")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        _ = try PostgresCluster.asPostgres("chown", ["postgres:postgres", folder.path], asRoot: true)
        let initdb = try PostgresCluster.asPostgres(PostgresCluster.binary("initdb"),
                                                    ["-D", data.path, "-U", "ferry", "-A", "trust", "--no-sync", "--no-instructions", "-E", "UTF8"])
        guard initdb.status == 0 else { throw HarnessError.message("initdb failed: \(initdb.stderr)") }
        try start()
    }

    /// A shell command that starts the server (again, after a stop) and waits until it accepts
    /// connections: for scripts that take the database away and bring it back mid-test.
    var startCommand: String {
        get throws {
            "runuser -u postgres -- \(try PostgresCluster.binary("pg_ctl")) -D \(data.path) -l \(folder.appendingPathComponent("server.log").path)"
                + " -w -t 30 start -o '-c listen_addresses=127.0.0.1 -p \(port) -k \(folder.path) -c fsync=off -c max_connections=50'"
        }
    }

    /// A shell command that stops the server at once (SIGQUIT to the postmaster: immediate shutdown)
    /// and waits up to 10 s for it to be gone.
    var stopCommand: String {
        "pid=$(head -1 \(data.path)/postmaster.pid) && kill -QUIT $pid && for i in $(seq 200); do kill -0 $pid 2>/dev/null || exit 0; sleep 0.05; done; exit 1"
    }

    func start() throws {
        // Through Python, whose subprocess closes every inherited descriptor but 0-2: the postmaster
        // stays running, and a pipe of this process it kept open would hide pg_ctl's exit from
        // Foundation's Process.
        let started = try Tool.run("python3", ["-c", "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1], shell=True).returncode)",
                                               try startCommand], timeout: 60)
        guard started.status == 0 else {
            let log = (try? String(contentsOf: folder.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
            throw HarnessError.message("PostgreSQL did not start: \(started.stderr)\n\(log)")
        }
    }

    /// The postmaster's PID (first line of postmaster.pid), while it runs.
    private var postmaster: pid_t? {
        (try? String(contentsOf: data.appendingPathComponent("postmaster.pid"), encoding: .utf8))?
            .split(separator: "\n").first.flatMap { pid_t($0) }
    }

    /// Stop the server at once (SIGQUIT: immediate shutdown) and wait until it is gone.
    func stop() {
        guard let pid = postmaster else { return }
        kill(pid, SIGQUIT)
        for _ in 0..<200 where kill(pid, 0) == 0 { usleep(50_000) }
        try? FileManager.default.removeItem(at: data.appendingPathComponent("postmaster.pid"))
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: folder)
    }

    /// The newest installed PostgreSQL's `name` (Debian keeps them off PATH).
    private static func binary(_ name: String) throws -> String {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let newest = versions.compactMap(Int.init).max() else {
            throw HarnessError.message("PostgreSQL is not installed: run .ci/install-deps")
        }
        return "/usr/lib/postgresql/\(newest)/bin/\(name)"
    }

    /// Run `executable` as the `postgres` user (or as root with `asRoot`).
    private static func asPostgres(_ executable: String, _ arguments: [String], asRoot: Bool = false) throws -> ProcessResult {
        asRoot ? try Tool.run(executable, arguments, timeout: 60) : try Tool.run("runuser", ["-u", "postgres", "--", executable] + arguments, timeout: 60)
    }
}

/// What the cluster tests start from: a throwaway PostgreSQL with Ferry's schema applied, and an
/// empty folder standing for the storage the nodes share (removed with this object).
final class SharedUserStore {
    let database: PostgresCluster
    let url: String
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-shared-\(UUID().uuidString)")

    init() throws {
        database = try PostgresCluster()
        url = database.url()
        let initialized = try Tool.run(FerryProcess.binary, ["user", "init", "--users", url])
        guard initialized.status == 0 else { throw HarnessError.message("ferry user init failed: \(initialized.stderr)") }
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: home) }

    /// `ferry user add` in the database, with `folder` (created, inside the shared folder; the shared
    /// folder itself when nil) as the home, and `limits` as flags.
    func addUser(_ name: String, password: String, folder: String? = nil, _ limits: [String] = []) throws {
        let userHome = folder.map { home.appendingPathComponent($0) } ?? home
        try FileManager.default.createDirectory(at: userHome, withIntermediateDirectories: true)
        let added = try Tool.run(FerryProcess.binary, ["user", "add", name, "--users", url, "--home", userHome.path, "--password-stdin"] + limits,
                                 input: Data((password + "\n").utf8))
        guard added.status == 0 else { throw HarnessError.message("ferry user add \(name) failed: \(added.stderr)") }
    }
}
