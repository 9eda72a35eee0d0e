import Foundation
import Testing

/// Users in a real PostgreSQL (`--users postgresql://...`): `ferry user` against it, logins and
/// transfers with its users, and a database that goes away and comes back.
@Suite(.serialized) struct PostgresUsersTests {
    private func ferry(_ arguments: [String], input: String? = nil) throws -> ProcessResult {
        try Tool.run(FerryProcess.binary, arguments, input: input.map { Data($0.utf8) })
    }

    @Test func userCommandsInitAddListPasswdAndDelAgainstTheDatabase() throws {
        let database = try PostgresCluster()
        let url = database.url(password: "not-for-logs")
        let first = try ferry(["user", "init", "--users", url])
        #expect(first.status == 0 && first.stdout.contains("upgraded from version 0 to 4"), "\(first.stdout)\(first.stderr)")
        #expect(!first.stdout.contains("not-for-logs") && first.stdout.contains("ferry:***@"), "the password is never printed")
        let again = try ferry(["user", "init", "--users", url])
        #expect(again.status == 0 && again.stdout.contains("up to date (version 4)"), "\(again.stdout)\(again.stderr)")
        let added = try ferry(["user", "add", "alice", "--users", url, "--home", "/srv/alice", "--password-stdin", "--quota", "1G",
                               "--max-sessions", "2", "--umask", "027", "--client-cert", "with-password"], input: "secret\n")
        #expect(added.status == 0, "\(added.stderr)")
        _ = try ferry(["user", "add", "bob", "--users", url, "--home", "/srv/bob", "--read-only", "--password-stdin"], input: "pw\n")
        let listed = try ferry(["user", "list", "--users", url])
        #expect(listed.stdout == "alice\trw\t/srv/alice\tmax-sessions=2,umask=027,quota=1073741824,client-cert=with-password\nbob\tro\t/srv/bob\n",
                "\(listed.stdout)\(listed.stderr)")
        #expect(try ferry(["user", "passwd", "bob", "--users", url, "--password-stdin"], input: "new\n").status == 0)
        #expect(try ferry(["user", "del", "bob", "--users", url]).status == 0)
        let missing = try ferry(["user", "del", "bob", "--users", url])
        #expect(missing.status != 0 && missing.stderr.contains("no user bob in postgresql://ferry:***@"), "\(missing.stderr)")
        let bad = try ferry(["user", "list", "--users", "postgresql://ferry@127.0.0.1:notaport/postgres"])
        #expect(bad.status != 0 && bad.stderr.contains("invalid"), "\(bad.stderr)")
        let fileInit = try ferry(["user", "init", "--users", "/tmp/users.txt"])
        #expect(fileInit.status != 0 && fileInit.stderr.contains("a users file needs no set-up"), "\(fileInit.stderr)")
    }

    /// Logins read the database at each attempt; while it is down new logins get 421 and a session
    /// already logged in goes on; once it is back, logins work again.
    @Test func loginsUseTheDatabaseAndSurviveItsOutage() throws {
        let database = try PostgresCluster()
        let url = database.url(password: "not-for-logs")
        #expect(try ferry(["user", "init", "--users", url]).status == 0)
        let server = try FerryProcess(["--users", url, "--log-level", "info"], prepare: { scratch, _ in
            try FileManager.default.createDirectory(at: scratch.appendingPathComponent("home-alice"), withIntermediateDirectories: true)
        })
        defer { server.stop() }
        let added = try ferry(["user", "add", "alice", "--users", url, "--home", server.home("alice").path, "--password-stdin"], input: "secret\n")
        #expect(added.status == 0, "\(added.stderr)")
        #expect(!server.log.contains("not-for-logs"), "the banner hides the password")
        let result = try Tool.python(FtplibTests.prelude + #"""
import subprocess
f = connect()
f.storbinary("STOR a.bin", io.BytesIO(b"x" * 100000))
assert f.size("a.bin") == 100000
g = ftplib.FTP(); g.connect(HOST, PORT, timeout=10); expect_error("530", g.login, "alice", "wrong"); g.close()
g = ftplib.FTP(); g.connect(HOST, PORT, timeout=10); expect_error("530", g.login, "nobody", "secret"); g.close()
subprocess.run(os.environ["STOP_DATABASE"], shell=True, check=True)
# The database is down: a new login is refused with 421, the open session goes on.
g = ftplib.FTP(); g.connect(HOST, PORT, timeout=10)
expect_error("421", g.login, "alice", "secret")
assert f.sendcmd("NOOP").startswith("200")
got = io.BytesIO(); f.retrbinary("RETR a.bin", got.write); assert len(got.getvalue()) == 100000
subprocess.run(os.environ["START_DATABASE"], shell=True, check=True, stdout=subprocess.DEVNULL)
# Back: within the retry pause (at most 10 s) logins work again.
for attempt in range(40):
    try:
        connect().quit()
        break
    except ftplib.all_errors as e:
        assert str(e).startswith("421"), e
        time.sleep(0.5)
else:
    raise AssertionError("no login after the database came back")
f.quit()
"""#, server: server, extra: ["STOP_DATABASE": database.stopCommand, "START_DATABASE": try database.startCommand])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(server.log)")
        #expect(server.log.contains("login refused: the user directory cannot answer"), "\(server.log)")
        #expect(!server.log.contains("not-for-logs"))
    }

    /// Two nodes on one database: a user's max-sessions counts the sessions of both (sixteen logins
    /// racing on both nodes admit exactly two), a ban started on
    /// one refuses the address on the other within about a second, and the sessions of a node that
    /// dies stop counting once its heartbeat is overdue.
    @Test func maxSessionsAndBansHoldAcrossNodesAndADeadNodesSessionsExpire() throws {
        let store = try SharedUserStore()
        try store.addUser("alice", password: "secret", ["--max-sessions", "2"])
        let nodes = try (0..<2).map { _ in try FerryProcess(["--users", store.url, "--max-failed-logins-per-ip", "2"]) }
        defer { nodes.forEach { $0.stop() } }
        let result = try Tool.python(FtplibTests.prelude + #"""
import signal
ports = [int(p) for p in os.environ["NODE_PORTS"].split(",")]
def login(node, source="127.0.0.1", password="secret"):
    f = ftplib.FTP(source_address=(source, 0)); f.connect(HOST, ports[node], timeout=10)
    f.login("alice", password)
    return f
def eventually(what, seconds):
    deadline = time.time() + seconds
    while True:
        try:
            return what()
        except ftplib.all_errors + (AssertionError,) as e:
            if time.time() > deadline:
                raise AssertionError(f"not within {seconds} s: {e}")
            time.sleep(0.25)
# Sixteen logins at once, alternating nodes: exactly two are admitted.
import threading
held, lock = [], threading.Lock()
def attempt(i):
    try:
        f = login(i % 2)
        with lock:
            held.append(f)
    except ftplib.error_temp as e:
        assert str(e).startswith("421 Too many sessions"), e
threads = [threading.Thread(target=attempt, args=(i,)) for i in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert len(held) == 2, f"{len(held)} sessions admitted for max-sessions 2"
for f in held:
    f.quit()
a = eventually(lambda: login(0), 5)
b = eventually(lambda: login(1), 5)
expect_error("421 Too many sessions for alice (2)", login, 0)
b.quit()
b = eventually(lambda: login(1), 5)
# Two failures from 127.0.0.5 on node 0 ban it; node 1 refuses it within about a second.
for _ in range(2):
    expect_error("530", login, 0, "127.0.0.5", "wrong")
def refused_on_node_1():
    f = ftplib.FTP(source_address=("127.0.0.5", 0))
    try:
        welcome = f.connect(HOST, ports[1], timeout=10)
    except ftplib.error_temp as e:
        welcome = str(e)
    f.close()
    assert welcome.startswith("421 Too many failed logins"), welcome
started = time.time()
eventually(refused_on_node_1, 3)
print(f"ban seen on node 1 after {time.time() - started:.1f} s")
# Node 0 dies with a's session open: its row counts until its heartbeat is overdue (15 s).
os.kill(int(os.environ["NODE0_PID"]), signal.SIGKILL)
expect_error("421 Too many sessions", login, 1)
started = time.time()
c = eventually(lambda: login(1), 30)
print(f"dead node's session expired after {time.time() - started:.1f} s")
c.quit(); b.quit()
"""#, server: nodes[0], extra: ["NODE_PORTS": nodes.map { String($0.port) }.joined(separator: ","), "NODE0_PID": String(nodes[0].pid)])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(nodes[0].log)\n\(nodes[1].log)")
        print(result.stdout)
    }
}
