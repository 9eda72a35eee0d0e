import Foundation
import Testing

/// What a finished client process left: exit status and output.
struct ProcessResult {
    let status: Int32
    let stdout: String
    let stderr: String
    let stdoutData: Data
}

enum HarnessError: Error, CustomStringConvertible {
    case message(String)
    var description: String { if case .message(let m) = self { return m } else { return "" } }
}

/// Runs tools (curl, lftp, python3, ferry) with a deadline; output goes through temporary files so a
/// chatty tool can never block on a full pipe.
enum Tool {
    static func run(_ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String] = [:],
                    timeout: TimeInterval = 120) throws -> ProcessResult {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-tool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out")
        let errURL = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : try which(executable))
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try? stdin.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw HarnessError.message("\(executable) \(arguments.joined(separator: " ")) timed out after \(timeout) s")
        }
        process.waitUntilExit()
        let out = (try? Data(contentsOf: outURL)) ?? Data()
        let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return ProcessResult(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: err, stdoutData: out)
    }

    static func which(_ name: String) throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw HarnessError.message("\(name) not found on PATH: run .ci/install-deps")
    }

    /// Run a Python ftplib script; it gets HOST, PORT and ROOT in its environment and fails by raising.
    static func python(_ script: String, server: FerryProcess, extra: [String: String] = [:], timeout: TimeInterval = 120) throws -> ProcessResult {
        var env = ["HOST": server.host, "PORT": String(server.port), "ROOT": server.root.path, "PYTHONUNBUFFERED": "1"]
        env.merge(extra) { $1 }
        return try run("python3", ["-c", script], environment: env, timeout: timeout)
    }
}

/// The real `ferry` binary serving a fresh temporary folder on a free loopback port, stopped by its PID.
final class FerryProcess {
    let host: String
    let port: UInt16
    let root: URL
    let scratch: URL
    private let process = Process()
    private let logURL: URL

    static var binary: String {
        // The test bundle sits next to the products of the same build (.build/<triple>/debug/).
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("ferry").path
    }

    /// Start `ferry serve` with `arguments` (plus --listen, --root unless given). `prepare` fills the
    /// scratch folder (users files, homes) before the server starts.
    /// The implicit FTPS port, when started with `implicitTLS`.
    private(set) var implicitPort: UInt16 = 0

    /// With `users`, the scratch folder gets `Disk.makeUsers`' users file and `--users` points at it.
    /// With `tls`, `ferry cert self-signed` makes a certificate there and the server offers AUTH TLS;
    /// `implicitTLS` also opens an implicit FTPS port.
    /// `configFile` (written by `prepare`, relative to the scratch folder) is passed as `--config`;
    /// `environment` is added to the server's. `workers` nil leaves the event loops to the default.
    init(_ arguments: [String] = [], host: String = "127.0.0.1", users: Bool = false, tls: Bool = false, implicitTLS: Bool = false,
         prepare: (URL, URL) throws -> Void = { _, _ in }, configFile: String? = nil, environment: [String: String] = [:],
         launcher: [String] = [], workers: Int? = 2) throws {
        self.host = host
        port = try FerryProcess.freePort(host: host)
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-it-\(UUID().uuidString)")
        root = scratch.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        logURL = scratch.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        try prepare(scratch, root)
        guard FileManager.default.isExecutableFile(atPath: FerryProcess.binary) else {
            throw HarnessError.message("no ferry binary at \(FerryProcess.binary): run `swift build --product ferry` first")
        }
        // `launcher` (e.g. prlimit with its options) runs the binary; its PID is the server's.
        process.executableURL = URL(fileURLWithPath: try launcher.first.map { try Tool.which($0) } ?? FerryProcess.binary)
        let listen = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var args = ["serve", "--listen", listen] + (workers.map { ["--workers", "\($0)"] } ?? [])
        if !arguments.contains("--root") { args += ["--root", root.path] }
        if users {
            try Disk.makeUsers(scratch)
            args += ["--users", scratch.appendingPathComponent("users.txt").path]
        }
        if tls || implicitTLS {
            let made = try Tool.run(FerryProcess.binary, ["cert", "self-signed", "--out", tlsFolder.path, "--name", host])
            guard made.status == 0 else { throw HarnessError.message("ferry cert self-signed failed: \(made.stderr)") }
            args += ["--tls-cert", tlsFolder.appendingPathComponent("cert.pem").path, "--tls-key", tlsFolder.appendingPathComponent("key.pem").path]
        }
        if implicitTLS {
            implicitPort = try FerryProcess.freePort(host: host)
            args += ["--implicit-tls-listen", "\(host):\(implicitPort)"]
        }
        if let configFile { args += ["--config", scratch.appendingPathComponent(configFile).path] }
        process.arguments = (launcher.isEmpty ? [] : Array(launcher.dropFirst()) + [FerryProcess.binary]) + args + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let log = try FileHandle(forWritingTo: logURL)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try waitUntilListening()
    }

    var pid: Int32 { process.processIdentifier }
    var tlsFolder: URL { scratch.appendingPathComponent("tls") }

    /// How many descriptors the server process holds now, leaving out the pipes its own child
    /// processes read and write as their standard input and output: ThreadSanitizer starts a
    /// symbolizer that way the first time it reports (suppressed reports too). (A child also inherits
    /// descriptors the server keeps, so only its fds 0 and 1 are telling.)
    var openDescriptors: Int {
        let files = FileManager.default
        let children = ((try? files.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).flatMap { task in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "").split(separator: " ")
        }
        let standardStreams = Set(children.flatMap { child in
            ["0", "1"].compactMap { try? files.destinationOfSymbolicLink(atPath: "/proc/\(child)/fd/\($0)") }
        })
        let folder = "/proc/\(pid)/fd"
        guard let own = try? files.contentsOfDirectory(atPath: folder) else { return -1 }
        return own.filter { name in
            guard let target = try? files.destinationOfSymbolicLink(atPath: "\(folder)/\(name)") else { return false }
            return !(target.hasPrefix("pipe:") && standardStreams.contains(target))
        }.count
    }

    /// `openDescriptors` once it has held still for half a second (within 10 s): a session that just
    /// ended may still be closing its socket, more slowly under a sanitizer.
    var settledDescriptors: Int {
        var last = openDescriptors
        var still = 0
        for _ in 0..<100 where still < 5 {
            usleep(100_000)
            let now = openDescriptors
            still = now == last ? still + 1 : 0
            last = now
        }
        return last
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
    var url: String { host.contains(":") ? "ftp://[\(host)]:\(port)" : "ftp://\(host):\(port)" }

    private func waitUntilListening() throws {
        for _ in 0..<200 {
            if !process.isRunning { throw HarnessError.message("ferry exited at start-up: \(log)") }
            if FerryProcess.canConnect(host: host, port: port) { return }
            usleep(50_000)
        }
        stop()
        throw HarnessError.message("ferry did not listen on \(port) within 10 s: \(log)")
    }

    /// The exit status once the server has exited by itself, or nil if it still runs after `seconds`.
    func waitForExit(seconds: Int) -> Int32? {
        for _ in 0..<(seconds * 20) where process.isRunning { usleep(50_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// SIGTERM, wait up to 15 s, then SIGKILL. Returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(pid, SIGTERM)
        for _ in 0..<300 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: scratch)
    }

    static func freePort(host: String) throws -> UInt16 {
        let v6 = host.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var storage = sockaddr_storage()
        var length: socklen_t
        if v6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            inet_pton(AF_INET6, host, &a.sin6_addr)
            withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: a) { raw.copyMemory(from: $0) } }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, host, &a.sin_addr)
            withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: a) { raw.copyMemory(from: $0) } }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw HarnessError.message("bind for a free port failed") }
        var out = sockaddr_storage()
        var outLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &out) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &outLength) } }
        return withUnsafeBytes(of: out) { raw in
            v6 ? UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port) : UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
    }

    static func canConnect(host: String, port: UInt16) -> Bool {
        let result = try? Tool.run("python3", ["-c", "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()", host, String(port)], timeout: 5)
        return result?.status == 0
    }
}

/// Files in a test's folders.
enum Disk {
    static func write(_ url: URL, _ text: String) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    static func read(_ url: URL) -> String? {
        (try? Data(contentsOf: url)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A sparse file of `size` bytes (zeros), taking almost no disk.
    static func sparse(_ url: URL, size: UInt64) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: size)
        try handle.close()
    }

    /// Deterministic pseudo-random bytes (so a mix-up of offsets cannot pass unnoticed).
    static func pattern(_ count: Int, seed: UInt64 = 1) -> Data {
        var state = seed &* 0x9E3779B97F4A7C15 | 1
        var data = Data(count: count)
        data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            for i in 0..<count {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                raw[i] = UInt8(truncatingIfNeeded: state)
            }
        }
        return data
    }

    /// A users file with `alice` (rw, password "secret") and `bob` (ro, "bobpw"), homes
    /// `scratch/home-alice` and `scratch/home-bob`.
    static func makeUsers(_ scratch: URL) throws {
        try addUser(scratch, "alice", password: "secret")
        try addUser(scratch, "bob", password: "bobpw", ["--read-only"])
    }

    /// Add `name` to the scratch folder's users file, with the home `scratch/home-NAME` (made if
    /// missing) and more `ferry user add` flags (limits, `--read-only`).
    static func addUser(_ scratch: URL, _ name: String, password: String, _ flags: [String] = []) throws {
        let home = scratch.appendingPathComponent("home-\(name)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let args = ["user", "add", name, "--users", scratch.appendingPathComponent("users.txt").path, "--home", home.path, "--password-stdin"]
        let result = try Tool.run(FerryProcess.binary, args + flags, input: Data("\(password)\n".utf8))
        guard result.status == 0 else { throw HarnessError.message("ferry user add failed: \(result.stderr)") }
    }
}

extension FerryProcess {
    /// A user's home from `Disk.makeUsers`.
    func home(_ user: String) -> URL { scratch.appendingPathComponent("home-\(user)") }
}
