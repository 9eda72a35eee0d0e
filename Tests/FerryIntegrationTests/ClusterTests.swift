import Foundation
import Testing

/// The whole cluster: two Ferry nodes with their users in a real PostgreSQL, behind a real HAProxy
/// (contrib/haproxy/haproxy-per-node-ranges.cfg), sharing one folder as their storage.
@Suite(.serialized) struct ClusterTests {
    /// ftplib, curl and lftp log in with PostgreSQL users through the balancer from 127.0.0.2, which
    /// the nodes log; a file uploaded through one node is downloaded through the other; max-sessions
    /// 2 refuses a third session on either node; and one quota holds across both nodes: an upload
    /// through one is refused once the other used the room, and space deleted through one is free
    /// for the other within a few seconds.
    @Test func postgresUsersThroughTheBalancerShareFilesAndOneQuota() throws {
        let store = try SharedUserStore()
        let home = store.home
        try store.addUser("alice", password: "secret", folder: "alice", ["--quota", "1000000", "--max-sessions", "2"])
        try store.addUser("bob", password: "bob-pw", folder: "bob")
        let cluster = try TwoNodeCluster(contrib: "haproxy-per-node-ranges.cfg", users: store.url)
        defer { cluster.removeLogs() }
        let logs = { "\(cluster.nodes[0].log)\n\(cluster.nodes[1].log)" }
        let quota = try cluster.client("127.0.0.2", #"""
import re
def node_of(f):
    numbers = [int(n) for n in re.findall(r"\d+", f.sendcmd("PASV").split("(")[1])]
    return 0 if numbers[4] * 256 + numbers[5] <= int(os.environ["LAST_OF_FIRST"]) else 1
a = through(); a.sendcmd("TYPE I")
b = through(); b.sendcmd("TYPE I")
assert node_of(a) != node_of(b), "leastconn sent the second session to the other node"
# max-sessions 2 counts the sessions of both nodes: a third is refused on either.
for _ in range(2):
    expect_error("421 Too many sessions for alice (2)", through)
payload = os.urandom(300000)
a.storbinary("STOR shared.bin", io.BytesIO(payload))
got = io.BytesIO(); b.retrbinary("RETR shared.bin", got.write)
assert got.getvalue() == payload, "uploaded through one node, downloaded through the other"
# A quota of 1 000 000 bytes: about 300 KB and 500 KB used through a's node leave too little for
# 400 KB through b's.
a.storbinary("STOR a1.bin", io.BytesIO(b"a" * 500000))
expect_error("552", b.storbinary, "STOR b1.bin", io.BytesIO(b"b" * 400000))
b.delete("b1.bin")
b.delete("shared.bin")
# What b's node freed reaches the cluster's count within about a second.
deadline = time.time() + 10
while True:
    try:
        a.storbinary("STOR a2.bin", io.BytesIO(b"c" * 400000))
        break
    except ftplib.error_perm as e:
        assert str(e).startswith("552") and time.time() < deadline, f"the space freed through the other node never came back: {e}"
        time.sleep(0.5)
print(f"freed space usable through the other node after {10 - (deadline - time.time()):.1f} s")
expect_error("552", b.storbinary, "STOR b2.bin", io.BytesIO(b"d" * 200000))
a.quit(); b.quit()
"""#, extraEnvironment: ["LAST_OF_FIRST": String(cluster.lastPortOfFirstNode)])
        #expect(quota.status == 0, "\(quota.stdout)\(quota.stderr)\n\(logs())")
        print(quota.stdout)
        let stored = try FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("alice").path).reduce(0) { total, name in
            total + ((try FileManager.default.attributesOfItem(atPath: home.appendingPathComponent("alice/\(name)").path)[.size] as? Int) ?? 0)
        }
        #expect(stored <= 1_000_000, "\(stored) bytes stored under a quota of 1 000 000")
        #expect((try? Data(contentsOf: home.appendingPathComponent("alice/a2.bin")))?.count == 400_000)

        // curl and lftp, with bob, each through whichever node the balancer picks.
        let payload = cluster.nodes[0].scratch.appendingPathComponent("payload.bin")
        try Disk.pattern(2_000_000, seed: 3).write(to: payload)
        let base = "ftp://127.0.0.3:\(cluster.balancer.controlPort)"
        let up = try Tool.run("curl", ["-sS", "--max-time", "30", "--interface", "127.0.0.2", "-u", "bob:bob-pw", "-T", payload.path, "\(base)/curl.bin"])
        #expect(up.status == 0, "\(up.stderr)\n\(logs())")
        let back = cluster.nodes[0].scratch.appendingPathComponent("curl-back.bin")
        let down = try Tool.run("curl", ["-sS", "--max-time", "30", "--interface", "127.0.0.2", "-u", "bob:bob-pw", "-o", back.path, "\(base)/curl.bin"])
        #expect(down.status == 0 && (try? Data(contentsOf: back)) == Disk.pattern(2_000_000, seed: 3), "\(down.stderr)")
        let settings = "set net:max-retries 1; set net:timeout 20; set cmd:fail-exit true; set ftp:passive-mode true; set net:socket-bind-ipv4 127.0.0.2"
        let lftpBack = cluster.nodes[0].scratch.appendingPathComponent("lftp-back.bin")
        let lftp = try Tool.run("lftp", ["-c", "\(settings); open -u bob,bob-pw -p \(cluster.balancer.controlPort) 127.0.0.3; "
                                         + "put \(payload.path) -o lftp.bin; get lftp.bin -o \(lftpBack.path)"], timeout: 60)
        #expect(lftp.status == 0, "\(lftp.stderr)\n\(logs())")
        #expect((try? Data(contentsOf: home.appendingPathComponent("bob/lftp.bin"))) == Disk.pattern(2_000_000, seed: 3))
        #expect((try? Data(contentsOf: lftpBack)) == Disk.pattern(2_000_000, seed: 3))
        let logins = cluster.logins("127.0.0.2")
        #expect(logins[0] > 0 && logins[1] > 0 && logins[0] + logins[1] == 5, "every login logged with the real client, on both nodes: \(logins)")
    }

    /// A client whose wrong passwords the balancer spreads over both nodes is counted once for the
    /// cluster: with `--max-failed-logins-per-ip 2`, one failure on each node bans it, and both
    /// nodes refuse it within about a second.
    @Test func failedLoginsCountAcrossNodesAndTheBanHoldsOnBoth() throws {
        let store = try SharedUserStore()
        try store.addUser("alice", password: "secret")
        let cluster = try TwoNodeCluster(contrib: "haproxy-per-node-ranges.cfg", users: store.url, flags: ["--max-failed-logins-per-ip", "2"])
        defer { cluster.removeLogs() }
        let result = try cluster.client("127.0.0.2", #"""
def attempt(source, password):
    f = ftplib.FTP(source_address=(source, 0)); f.connect(HOST, PORT, timeout=30)
    expect_error("530", f.login, "alice", password)
    return f
# leastconn: a session held from 127.0.0.2 sends the first guess to the other node, and closing it
# sends the second guess back to the first.
held = through()
first = attempt("127.0.0.5", "wrong-1")
held.quit()
second = attempt("127.0.0.5", "wrong-2")
first.close(); second.close()
deadline = time.time() + 5
refusals = 0
while refusals < 4:
    f = ftplib.FTP(source_address=("127.0.0.5", 0))
    try:
        welcome = f.connect(HOST, PORT, timeout=10)
    except ftplib.error_temp as e:
        welcome = str(e)
    f.close()
    if welcome.startswith("421 Too many failed logins"):
        refusals += 1
    else:
        assert time.time() < deadline, f"not banned on both nodes: {welcome}"
        time.sleep(0.25)
through().quit()
"""#)
        let logs = "\(cluster.nodes[0].log)\n\(cluster.nodes[1].log)"
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(logs)")
        let failures = cluster.nodes.map { node in node.log.split(separator: "\n").filter { $0.contains("client=127.0.0.5:") && $0.contains("login failed") }.count }
        #expect(failures == [1, 1], "one failure on each node: \(failures)")
        #expect(logs.contains("address banned after repeated failed logins on the cluster"), "\(logs)")
        let refused = cluster.nodes.map { $0.log.split(separator: "\n").contains { $0.contains("client=127.0.0.5:") && $0.contains("Too many failed logins") } }
        #expect(refused == [true, true], "both nodes refused the banned address: \(refused)")
    }
}
