import Foundation
import Testing

/// The command line: start-up errors, user management, limits, timeouts and shutdown.
@Suite struct CLITests {
    @Test func startupErrorsNameTheProblem() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let port = try FerryProcess.freePort(host: "127.0.0.1")
        let listen = ["--listen", "127.0.0.1:\(port)"]

        let missingRoot = try Tool.run(FerryProcess.binary, ["serve", "--root", "/nonexistent/ferry"] + listen)
        #expect(missingRoot.status != 0)
        #expect(missingRoot.stderr.contains("/nonexistent/ferry") && missingRoot.stderr.split(separator: "\n").count == 1, "\(missingRoot.stderr)")

        let unreadable = try Tool.run(FerryProcess.binary, ["serve", "--root", scratch.path, "--users", scratch.appendingPathComponent("nope.txt").path] + listen)
        #expect(unreadable.status != 0)
        #expect(unreadable.stderr.contains("nope.txt"), "\(unreadable.stderr)")

        try Disk.write(scratch.appendingPathComponent("bad-users.txt"), "alice:nohash\n")
        let malformed = try Tool.run(FerryProcess.binary, ["serve", "--root", scratch.path, "--users", scratch.appendingPathComponent("bad-users.txt").path] + listen)
        #expect(malformed.status != 0)
        #expect(malformed.stderr.contains("bad-users.txt:1"), "\(malformed.stderr)")

        let badFlag = try Tool.run(FerryProcess.binary, ["serve", "--passive-ports", "90-80"] + listen)
        #expect(badFlag.status != 0)
        #expect(badFlag.stderr.contains("--passive-ports") && badFlag.stderr.split(separator: "\n").count == 1, "\(badFlag.stderr)")
        let unknownFlag = try Tool.run(FerryProcess.binary, ["serve", "--no-such-flag"])
        #expect(unknownFlag.status != 0 && unknownFlag.stderr.split(separator: "\n").count == 1, "\(unknownFlag.stderr)")
        // Every config key is a flag too.
        let help = try Tool.run(FerryProcess.binary, ["serve", "--help"])
        let example = try Tool.run(FerryProcess.binary, ["config", "example"])
        let keys = example.stdout.split(separator: "\n").compactMap { line -> String? in
            let text = line.hasPrefix("# ") ? line.dropFirst(2) : line[...]
            guard let equals = text.range(of: " = ") else { return nil }
            return String(text[..<equals.lowerBound])
        }
        #expect(keys.count > 20)
        let readme = try String(contentsOf: ContribTests.unitPath.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md"), encoding: .utf8)
        var completions: [String: String] = [:]
        for shell in ["bash", "zsh", "fish"] {
            let script = try Tool.run(FerryProcess.binary, ["--generate-completion-script", shell])
            #expect(script.status == 0, "\(shell): \(script.stderr)")
            completions[shell] = script.stdout
        }
        for key in keys {
            #expect(help.stdout.contains("--\(key) ") || help.stdout.contains("--\(key)\n"), "--\(key) in ferry serve --help")
            #expect(readme.contains("`--\(key)"), "--\(key) in the README's option table")
            for (shell, script) in completions {
                #expect(script.contains(key), "--\(key) in the \(shell) completions")
            }
        }
        let jsonError = try Tool.run(FerryProcess.binary, ["serve", "--log-format", "json", "--root", "/nonexistent/ferry"] + listen)
        #expect(jsonError.status != 0)
        #expect(jsonError.stderr.hasPrefix("{") && jsonError.stderr.contains("/nonexistent/ferry"), "\(jsonError.stderr)")

        let badListen = try Tool.run(FerryProcess.binary, ["serve", "--listen", "nowhere"])
        #expect(badListen.status != 0 && badListen.stderr.contains("HOST:PORT"))

        let first = try FerryProcess()
        let busy = try Tool.run(FerryProcess.binary, ["serve", "--root", scratch.path, "--listen", "127.0.0.1:\(first.port)"])
        #expect(busy.status != 0)
        #expect(busy.stderr.contains("\(first.port)") && busy.stderr.contains("in use"), "\(busy.stderr)")
    }

    @Test func userManagementAndForeignHashes() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-users-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let users = scratch.appendingPathComponent("users.txt").path
        let add = try Tool.run(FerryProcess.binary, ["user", "add", "carol", "--users", users, "--home", "/srv/carol", "--password-stdin"], input: Data("pw one\n".utf8))
        #expect(add.status == 0, "\(add.stderr)")
        let line = Disk.read(URL(fileURLWithPath: users)) ?? ""
        #expect(line.hasPrefix("carol:$") && line.hasSuffix(":/srv/carol:rw\n") && !line.contains("pw one"))
        let mode = try FileManager.default.attributesOfItem(atPath: users)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try Tool.run(FerryProcess.binary, ["user", "add", "dave", "--users", users, "--home", "/srv/dave", "--read-only", "--password-stdin"], input: Data("x\n".utf8)).status == 0)
        let list = try Tool.run(FerryProcess.binary, ["user", "list", "--users", users])
        #expect(list.stdout == "carol\trw\t/srv/carol\ndave\tro\t/srv/dave\n")
        #expect(try Tool.run(FerryProcess.binary, ["user", "passwd", "carol", "--users", users, "--password-stdin"], input: Data("pw two\n".utf8)).status == 0)
        #expect(Disk.read(URL(fileURLWithPath: users)) != line)
        // A replaced file keeps the mode an operator gave it (e.g. 0640 for a service group).
        #expect(chmod(users, 0o640) == 0)
        #expect(try Tool.run(FerryProcess.binary, ["user", "del", "dave", "--users", users]).status == 0)
        #expect((try FileManager.default.attributesOfItem(atPath: users)[.posixPermissions] as? Int) == 0o640)
        #expect(try Tool.run(FerryProcess.binary, ["user", "list", "--users", users]).stdout == "carol\trw\t/srv/carol\n")
        let missing = try Tool.run(FerryProcess.binary, ["user", "del", "nobody", "--users", users])
        #expect(missing.status != 0 && missing.stderr.contains("nobody"))
        let badName = try Tool.run(FerryProcess.binary, ["user", "add", "a:b", "--users", users, "--home", "/x", "--password-stdin"], input: Data("x\n".utf8))
        #expect(badName.status != 0)

        // A SHA-512 hash from `openssl passwd -6` logs in, and the new password works for carol.
        let openssl = try Tool.run("openssl", ["passwd", "-6", "-stdin"], input: Data("sha pass\n".utf8))
        #expect(openssl.status == 0)
        let server = try FerryProcess(users: true) { scratch, _ in
            try FileManager.default.createDirectory(at: scratch.appendingPathComponent("home-erin"), withIntermediateDirectories: true)
        }
        let usersFile = server.scratch.appendingPathComponent("users.txt")
        let hash = openssl.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let erin = "erin:\(hash):\(server.scratch.appendingPathComponent("home-erin").path):rw\n"
        try Data(((Disk.read(usersFile) ?? "") + erin).utf8).write(to: usersFile)
        server.stop()
        let restarted = try FerryProcess(["--users", usersFile.path, "--root", server.root.path])
        let login = try Tool.python(FtplibTests.prelude + #"""
ftp = connect("erin", "sha pass"); ftp.quit(); print("erin ok")
"""#, server: restarted)
        #expect(login.status == 0 && login.stdout.contains("erin ok"), "\(login.stderr)\n\(restarted.log)")
    }

    @Test func sessionLimitsAndIdleTimeout() throws {
        let server = try FerryProcess(["--max-sessions", "3", "--idle-timeout", "1"])
        let result = try Tool.python(FtplibTests.prelude + #"""
held = []
for i in range(3):
    s = socket.create_connection((HOST, PORT), timeout=10); held.append(s)
    assert s.recv(100).startswith(b"220")
s = socket.create_connection((HOST, PORT), timeout=10)
r = s.recv(200); assert r.startswith(b"421"), r
assert s.recv(100) == b""   # and closed
# idle sessions are closed with 421 after --idle-timeout
t = time.time(); r = held[0].recv(200); assert r.startswith(b"421"), r
assert time.time() - t < 5
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")

        let perIP = try FerryProcess(["--max-sessions-per-ip", "2"])
        let second = try Tool.python(FtplibTests.prelude + #"""
a = ftplib.FTP(); a.connect(HOST, PORT, timeout=10)
b = ftplib.FTP(); b.connect(HOST, PORT, timeout=10)
expect_error("421", ftplib.FTP().connect, HOST, PORT, 10)
a.quit()
time.sleep(0.3)
c = ftplib.FTP(); c.connect(HOST, PORT, timeout=10); c.login(); c.quit()
print("ok")
"""#, server: perIP)
        #expect(second.status == 0, "\(second.stderr)\n\(perIP.log)")
    }

    @Test func bansAfterRepeatedFailuresAndLoginTimeout() throws {
        let server = try FerryProcess(["--max-failed-logins-per-ip", "3", "--ban-time", "2", "--login-timeout", "1"], users: true)
        let result = try Tool.python(FtplibTests.prelude + #"""
for attempt in range(3):
    f = ftplib.FTP(); f.connect(HOST, PORT, timeout=10)
    expect_error("530", f.login, "alice", "wrong")
    f.close()
# banned now: refused at once with the time left
r = expect_error("421", ftplib.FTP().connect, HOST, PORT, 10)
assert "try again in" in r, r
time.sleep(2.2)
f = ftplib.FTP(); f.connect(HOST, PORT, timeout=10); f.login("alice", "secret"); f.quit()
# --login-timeout: a session that never logs in is closed
s = socket.create_connection((HOST, PORT), timeout=10); s.recv(200)
t = time.time(); r = s.recv(200); assert r.startswith(b"421"), r
assert time.time() - t < 4
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect(server.log.contains("address banned") && server.log.contains("seconds=2"))
    }

    @Test func runAsDropsRootAfterBinding() throws {
        if getuid() != 0 {
            let port = try FerryProcess.freePort(host: "127.0.0.1")
            let refused = try Tool.run(FerryProcess.binary, ["serve", "--listen", "127.0.0.1:\(port)", "--run-as", "nobody"])
            #expect(refused.status != 0 && refused.stderr.contains("needs Ferry to start as root"), "\(refused.stderr)")
            return
        }
        let server = try FerryProcess(["--run-as", "nobody"])
        try Disk.write(server.root.appendingPathComponent("n.txt"), "served by nobody")
        let status = try String(contentsOfFile: "/proc/\(server.pid)/status", encoding: .utf8)
        let uids = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?.split(separator: "\t").dropFirst().map(String.init) ?? []
        #expect(uids == ["65534", "65534", "65534", "65534"], "\(uids)")
        let download = try Tool.run("curl", ["-sS", "\(server.url)/n.txt"])
        #expect(download.stdout == "served by nobody", "\(download.stderr)\n\(server.log)")
        let missing = try Tool.run(FerryProcess.binary, ["serve", "--listen", "127.0.0.1:\(try FerryProcess.freePort(host: "127.0.0.1"))", "--run-as", "no-such-user-here"])
        #expect(missing.status != 0 && missing.stderr.contains("no such user"))
    }

    /// By default one event loop per core the process may run on: under taskset (or a container's
    /// cpuset) that is the cores it was given, not the machine's.
    @Test func workersDefaultToTheCoresTheServerMayRunOn() throws {
        // Cpus_allowed_list reads like "0-1" or "0,2-3".
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let list = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }?.split(separator: ":").last)
        let ranges = list.trimmingCharacters(in: .whitespaces).split(separator: ",").map { $0.split(separator: "-").compactMap { Int($0) } }
        let allowed = ranges.reduce(0) { $0 + ($1.count == 2 ? $1[1] - $1[0] + 1 : 1) }
        let first = try #require(ranges.first?.first)
        let free = try FerryProcess(workers: nil)
        #expect(free.log.contains("(\(allowed) worker\(allowed == 1 ? "" : "s"), "), "\(free.log)")
        let pinned = try FerryProcess(launcher: ["taskset", "-c", "\(first)"], workers: nil)
        #expect(pinned.log.contains("(1 worker, "), "\(pinned.log)")
    }

    @Test func descriptorBudgetRefusesCleanlyInsteadOfRunningOut() throws {
        // 100 descriptors: 64 kept back, 36 for sessions (one each), open homes (one each, shared by
        // every session in that home) and transfers (five each).
        let server = try FerryProcess(["--workers", "1"], launcher: ["prlimit", "--nofile=100:100", "--"])
        try Disk.write(server.root.appendingPathComponent("f.txt"), "fits")
        let result = try Tool.python(FtplibTests.prelude + #"""
held = []
for i in range(30):          # 30 anonymous sessions: 30 control connections + 1 shared home
    f = ftplib.FTP(); f.connect(HOST, PORT, timeout=10); f.login(); held.append(f)
got = bytearray(); held[0].retrbinary("RETR f.txt", got.extend); assert bytes(got) == b"fits"   # 31 + 5 <= 36
for _ in range(2):                                                                                # 33 in use
    held.append(ftplib.FTP()); held[-1].connect(HOST, PORT, timeout=10); held[-1].login()
expect_error("425", held[1].sendcmd, "PASV")                                                       # 33 + 5 > 36
for _ in range(3):                                                                                # 36 in use
    held.append(ftplib.FTP()); held[-1].connect(HOST, PORT, timeout=10)
expect_error("421", ftplib.FTP().connect, HOST, PORT, 10)                                           # no room for a 37th
for _ in range(5):
    held.pop().close()                                                                            # 31 in use
time.sleep(0.5)
got = bytearray(); held[1].retrbinary("RETR f.txt", got.extend); assert bytes(got) == b"fits"     # room again
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect(server.log.contains("descriptor budget exhausted"))
    }

    @Test func dataConnectionAndStallTimeouts() throws {
        let server = try FerryProcess(["--data-timeout", "1", "--transfer-timeout", "1"], users: true)
        let big = server.home("alice").appendingPathComponent("big.bin")
        try Disk.sparse(big, size: 256 << 20)
        let result = try Tool.python(FtplibTests.prelude + #"""
ftp = connect(); ftp.sendcmd("TYPE I")
# PASV, then never connect: 425 after --data-timeout
ftp.sendcmd("PASV")
t = time.time(); r = ftp.sendcmd("RETR big.bin"); assert r.startswith("150"), r
expect_error("425", ftp.voidresp); assert time.time() - t < 5
# connect, then stop reading: 426 after --transfer-timeout without progress
conn = ftp.transfercmd("RETR big.bin")
conn.recv(1000)
t = time.time(); expect_error("426", ftp.voidresp); assert time.time() - t < 6
conn.close()
assert ftp.sendcmd("NOOP").startswith("200")
ftp.quit()
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
    }

    /// SIGTERM: /healthz turns 503 (a load balancer stops sending clients), new sessions are refused,
    /// the running transfer finishes, then the server exits.
    @Test func sigtermLetsARunningTransferFinish() throws {
        let metrics = try FerryProcess.freePort(host: "127.0.0.1")
        let server = try FerryProcess(["--metrics-listen", "127.0.0.1:\(metrics)"], users: true)
        // Larger than the socket buffers can hold, so the transfer is still running at SIGTERM.
        let payload = Disk.pattern(64 << 20, seed: 11)
        try payload.write(to: server.home("alice").appendingPathComponent("drain.bin"))
        let result = try Tool.python(FtplibTests.prelude + #"""
import hashlib, signal, urllib.request, urllib.error
def health():
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{os.environ['METRICS']}/healthz", timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code
assert health() == 200
ftp = connect(); ftp.sendcmd("TYPE I")
conn = ftp.transfercmd("RETR drain.bin")
first = conn.recv(4096)
os.kill(int(os.environ["SERVER_PID"]), signal.SIGTERM)
time.sleep(0.5)
assert health() == 503, "draining"
# new sessions are refused while the transfer drains
try:
    socket.create_connection((HOST, PORT), timeout=2).close()
    refused = False
except OSError:
    refused = True
h = hashlib.sha256(first)
while True:
    chunk = conn.recv(1 << 16)
    if not chunk: break
    h.update(chunk)
conn.close()
assert ftp.voidresp().startswith("226")
want = hashlib.sha256(open(os.environ["FILE"], "rb").read()).hexdigest()
assert h.hexdigest() == want
assert refused
print("ok")
"""#, server: server, extra: ["SERVER_PID": String(server.pid), "METRICS": String(metrics), "FILE": server.home("alice").appendingPathComponent("drain.bin").path])
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        // The one SIGTERM is enough: with the transfer done, the server exits by itself, with 0.
        #expect(server.waitForExit(seconds: 15) == 0, "\(server.log)")
    }
}
