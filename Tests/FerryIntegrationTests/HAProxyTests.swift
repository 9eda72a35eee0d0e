import Foundation
import Glibc
import Testing

/// A real HAProxy (Debian's) running one of contrib/haproxy's configurations, its example addresses
/// replaced by loopback ones: the balancer on 127.0.0.3, node 1 on 127.0.0.1, node 2 on 127.0.0.4
/// (HAProxy reaches both from 127.0.0.1). Stopped by its PID.
final class HAProxyProcess {
    private let process = Process()
    private let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-haproxy-\(UUID().uuidString)")
    let controlPort: UInt16

    /// The balancer's ports: the control port and `passive` (all nodes' passive ports); `nodes` are
    /// the nodes' control ports and `metricsPort` their /healthz port.
    init(contrib name: String, nodes: (UInt16, UInt16), passive: ClosedRange<UInt16>, metricsPort: UInt16) throws {
        controlPort = try FerryProcess.freePort(host: "127.0.0.3")
        let half = passive.lowerBound + UInt16(passive.count / 2)
        var config = try String(contentsOf: ContribTests.unitPath.deletingLastPathComponent().appendingPathComponent("haproxy/\(name)"), encoding: .utf8)
        for (example, local) in [("203.0.113.10:21", "127.0.0.3:\(controlPort)"),
                                 ("203.0.113.10:50000-50999", "127.0.0.3:\(passive.lowerBound)-\(passive.upperBound)"),
                                 ("203.0.113.10:50000-50499", "127.0.0.3:\(passive.lowerBound)-\(half - 1)"),
                                 ("203.0.113.10:50500-50999", "127.0.0.3:\(half)-\(passive.upperBound)"),
                                 ("10.0.0.11:21", "127.0.0.1:\(nodes.0)"), ("10.0.0.12:21", "127.0.0.4:\(nodes.1)"),
                                 ("10.0.0.11", "127.0.0.1"), ("10.0.0.12", "127.0.0.4"), ("port 9121", "port \(metricsPort)"),
                                 // 20 000 connections need more descriptors than a test runner may have.
                                 ("maxconn 20000", "maxconn 2000")] {
            config = config.replacingOccurrences(of: example, with: local)
        }
        let leftover = config.split(separator: "\n").filter { !$0.hasPrefix("#") && ($0.contains("203.0.113.") || $0.contains("10.0.0.")) }
        guard leftover.isEmpty else { throw HarnessError.message("example addresses left in \(name): \(leftover)") }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("haproxy.cfg")
        try Data(config.utf8).write(to: path)
        process.executableURL = URL(fileURLWithPath: try Tool.which("haproxy"))
        process.arguments = ["-db", "-f", path.path]
        let log = folder.appendingPathComponent("haproxy.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        for _ in 0..<100 where !FerryProcess.canConnect(host: "127.0.0.3", port: controlPort) && process.isRunning { usleep(50_000) }
        guard process.isRunning, FerryProcess.canConnect(host: "127.0.0.3", port: controlPort) else {
            throw HarnessError.message("haproxy did not start: \(String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self))")
        }
    }

    /// `count` consecutive ports free on the nodes' and the balancer's addresses, below the kernel's
    /// ephemeral range.
    static func freeRange(count: UInt16) throws -> ClosedRange<UInt16> {
        for _ in 0..<50 {
            let base = UInt16.random(in: 20000...29000)
            let range = base...(base + count - 1)
            if range.allSatisfy({ port in ["127.0.0.1", "127.0.0.3", "127.0.0.4"].allSatisfy { isFree(host: $0, port: port) } }) { return range }
        }
        throw HarnessError.message("no \(count) free consecutive ports")
    }

    static func isFree(host: String, port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    deinit {
        // Processes this test runner starts inherit SIGTERM blocked.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: folder)
    }
}

/// Two Ferry nodes sharing one folder (users file and homes, or users in PostgreSQL), behind HAProxy
/// as contrib/haproxy configures it: the nodes see the real client in every session and transfer, a
/// file uploaded through one node is downloaded through the other, and a node that dies is replaced
/// by the other for new sessions.
struct TwoNodeCluster {
    let nodes: [FerryProcess]
    let balancer: HAProxyProcess
    let xferlogs: [URL]
    /// Both nodes' /healthz port (each on its own address).
    let metricsPort: UInt16
    /// With per-node ranges, node 1's passive ports end here and node 2's begin after.
    let lastPortOfFirstNode: UInt16

    /// With `users` (a `postgresql://` URL) both nodes read their users there; else node 1's users
    /// file serves both. `flags` go to both nodes.
    init(contrib name: String, users: String? = nil, flags extra: [String] = []) throws {
        let passive = try HAProxyProcess.freeRange(count: 16)
        var metrics: UInt16 = 0
        for _ in 0..<50 where metrics == 0 {
            let port = UInt16.random(in: 20000...29000)
            if !passive.contains(port), HAProxyProcess.isFree(host: "127.0.0.1", port: port), HAProxyProcess.isFree(host: "127.0.0.4", port: port) { metrics = port }
        }
        let half = passive.lowerBound + UInt16(passive.count / 2)
        let perNode = name.contains("per-node")
        let logs = (0..<2).map { _ in FileManager.default.temporaryDirectory.appendingPathComponent("ferry-cluster-\(UUID().uuidString).log") }
        func flags(_ host: String, _ ports: ClosedRange<UInt16>, _ xferlog: URL) -> [String] {
            ["--proxy-protocol", "required", "--trusted-proxies", "127.0.0.1", "--proxy-protocol-data", "--passive-address", "127.0.0.3",
             "--passive-ports", "\(ports.lowerBound)-\(ports.upperBound)", "--metrics-listen", "\(host):\(metrics)", "--xferlog", xferlog.path] + extra
        }
        let first = try FerryProcess(flags("127.0.0.1", perNode ? passive.lowerBound...(half - 1) : passive, logs[0]) + (users.map { ["--users", $0] } ?? []),
                                     users: users == nil)
        let second = try FerryProcess(flags("127.0.0.4", perNode ? half...passive.upperBound : passive, logs[1])
                                      + ["--users", users ?? first.scratch.appendingPathComponent("users.txt").path], host: "127.0.0.4")
        nodes = [first, second]
        xferlogs = logs
        metricsPort = metrics
        lastPortOfFirstNode = half - 1
        balancer = try HAProxyProcess(contrib: name, nodes: (first.port, second.port), passive: passive, metricsPort: metrics)
    }

    /// Run an ftplib script as the client at `source`, through the balancer.
    func client(_ source: String, _ script: String, extraEnvironment: [String: String] = [:]) throws -> ProcessResult {
        try Tool.python(FtplibTests.prelude + """
        def through(user="alice", password="secret"):
            f = ftplib.FTP(source_address=("\(source)", 0))
            f.connect(HOST, PORT, timeout=30)
            f.login(user, password)
            return f

        """ + script, server: nodes[0], extra: ["HOST": "127.0.0.3", "PORT": String(balancer.controlPort)].merging(extraEnvironment) { $1 })
    }

    /// How many logins each node has logged for the client at `source`.
    func logins(_ source: String) -> [Int] {
        nodes.map { node in node.log.split(separator: "\n").filter { $0.contains("client=\(source):") && $0.contains("login ok") }.count }
    }

    /// Log in as the client at `source` and say which node served it (nil if the login failed).
    func servingNode(_ source: String) throws -> Int? {
        let before = logins(source)
        guard try client(source, "through().quit()\n").status == 0 else { return nil }
        return zip(logins(source), before).map { $0 - $1 }.firstIndex(of: 1)
    }

    func removeLogs() {
        for log in xferlogs { try? FileManager.default.removeItem(at: log) }
    }
}

@Suite(.serialized) struct HAProxyTests {
    /// contrib/haproxy/haproxy.cfg: `balance source` on control and passive ports, one range for all.
    @Test func balanceSourceServesEachClientFromOneNodeAndSharesTheFiles() throws {
        let cluster = try TwoNodeCluster(contrib: "haproxy.cfg")
        defer { cluster.removeLogs() }
        // Find one client address per node (the source hash decides).
        var byNode: [Int: String] = [:]
        for last in [2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] where byNode.count < 2 {
            let source = "127.0.0.\(last)"
            let node = try #require(try cluster.servingNode(source), "\(cluster.nodes[0].log)\n\(cluster.nodes[1].log)")
            if byNode[node] == nil { byNode[node] = source }
        }
        let (one, two) = (try #require(byNode[0]), try #require(byNode[1]))
        let payload = Disk.pattern(3_000_000)
        try payload.write(to: cluster.nodes[0].scratch.appendingPathComponent("payload.bin"))
        let upload = try cluster.client(one, #"""
f = through()
assert "(127,0,0,3," in f.sendcmd("PASV"), "PASV names the balancer"
f.storbinary("STOR shared.bin", open(os.path.join(os.path.dirname(ROOT), "payload.bin"), "rb"))
f.quit()
"""#)
        #expect(upload.status == 0, "\(upload.stderr)\n\(cluster.nodes[0].log)")
        let download = try cluster.client(two, #"""
f = through()
got = io.BytesIO()
f.retrbinary("RETR shared.bin", got.write)
assert got.getvalue() == open(os.path.join(os.path.dirname(ROOT), "payload.bin"), "rb").read()
f.quit()
"""#)
        #expect(download.status == 0, "\(download.stderr)\n\(cluster.nodes[1].log)")
        #expect(cluster.logins(one) == [2, 0] && cluster.logins(two) == [0, 2], "uploaded through node 1, downloaded through node 2")
        #expect(try Data(contentsOf: cluster.nodes[0].home("alice").appendingPathComponent("shared.bin")) == payload)
        let stored = try String(contentsOf: cluster.xferlogs[0], encoding: .utf8)
        let sent = try String(contentsOf: cluster.xferlogs[1], encoding: .utf8)
        #expect(stored.contains(" \(one) ") && stored.contains(" i r alice ") && sent.contains(" \(two) ") && sent.contains(" o r alice "),
                "each node's xferlog names the real client\n\(stored)\n\(sent)")
        // Node 1 dies: once the balancer's health check sees it, its clients are served by node 2.
        kill(cluster.nodes[0].pid, SIGKILL)
        var moved = false
        for _ in 0..<20 where !moved {
            moved = try cluster.servingNode(one) == 1
            if !moved { usleep(500_000) }
        }
        #expect(moved, "\(cluster.nodes[1].log)")
    }

    /// contrib/haproxy/haproxy-per-node-ranges.cfg: control connections balanced by leastconn, each
    /// node's passive range routed to it. A curl upload and download, each through whichever node.
    @Test func perNodeRangesServeCurlThroughEitherNode() throws {
        let cluster = try TwoNodeCluster(contrib: "haproxy-per-node-ranges.cfg")
        defer { cluster.removeLogs() }
        let payload = cluster.nodes[0].scratch.appendingPathComponent("payload.bin")
        try Disk.pattern(2_000_000).write(to: payload)
        let url = "ftp://127.0.0.3:\(cluster.balancer.controlPort)"
        for round in 0..<4 {
            let upload = try Tool.run("curl", ["-sS", "--max-time", "30", "--interface", "127.0.0.2", "-u", "alice:secret", "-T", payload.path,
                                               "\(url)/up-\(round).bin"])
            #expect(upload.status == 0, "\(upload.stderr)\n\(cluster.nodes[0].log)\n\(cluster.nodes[1].log)")
            let back = cluster.nodes[0].scratch.appendingPathComponent("back-\(round).bin")
            let download = try Tool.run("curl", ["-sS", "--max-time", "30", "--interface", "127.0.0.2", "-u", "alice:secret", "-o", back.path,
                                                 "\(url)/up-\(round).bin"])
            #expect(download.status == 0, "\(download.stderr)")
            #expect(try Data(contentsOf: back) == Disk.pattern(2_000_000))
        }
        let served = cluster.logins("127.0.0.2")
        #expect(served[0] > 0 && served[1] > 0 && served[0] + served[1] == 8, "both nodes served sessions: \(served)")
    }

    /// Draining one node (SIGTERM): its /healthz turns 503, its running download finishes, new
    /// sessions through the balancer reach the other node meanwhile, and the node exits with 0.
    @Test func drainingANodeFinishesItsTransferWhileNewSessionsGoToTheOther() throws {
        let cluster = try TwoNodeCluster(contrib: "haproxy-per-node-ranges.cfg")
        defer { cluster.removeLogs() }
        let big = cluster.nodes[0].home("alice").appendingPathComponent("big.bin")
        try Disk.pattern(48 << 20, seed: 5).write(to: big)
        let result = try Tool.python(FtplibTests.prelude + #"""
import hashlib, re, signal, urllib.request, urllib.error
pids = [int(p) for p in os.environ["NODE_PIDS"].split(",")]
hosts = ["127.0.0.1", "127.0.0.4"]
def through():
    f = ftplib.FTP(source_address=("127.0.0.2", 0)); f.connect(HOST, PORT, timeout=30); f.login("alice", "secret")
    return f
def node_of(f):
    numbers = [int(n) for n in re.findall(r"\d+", f.sendcmd("PASV").split("(")[1])]
    return 0 if numbers[4] * 256 + numbers[5] <= int(os.environ["LAST_OF_FIRST"]) else 1
def health(node):
    try:
        return urllib.request.urlopen(f"http://{hosts[node]}:{os.environ['METRICS']}/healthz", timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code
f = through()
node = node_of(f)
f.sendcmd("TYPE I")
conn = f.transfercmd("RETR big.bin")
digest = hashlib.sha256(conn.recv(1 << 16))
os.kill(pids[node], signal.SIGTERM)
time.sleep(0.5)
assert health(node) == 503, "the draining node's health check fails"
assert health(1 - node) == 200
deadline = time.time() + 15
while True:
    try:
        g = through()
        break
    except ftplib.all_errors as e:
        assert time.time() < deadline, f"no session through the balancer while a node drains: {e}"
        time.sleep(0.5)
assert node_of(g) == 1 - node, "the new session is on the other node"
g.quit()
while True:
    chunk = conn.recv(1 << 20)
    if not chunk:
        break
    digest.update(chunk)
conn.close()
assert f.voidresp().startswith("226")
assert digest.hexdigest() == hashlib.sha256(open(os.environ["FILE"], "rb").read()).hexdigest()
print(f"drained node {node}")
"""#, server: cluster.nodes[0], extra: ["HOST": "127.0.0.3", "PORT": String(cluster.balancer.controlPort), "FILE": big.path,
                                          "NODE_PIDS": cluster.nodes.map { String($0.pid) }.joined(separator: ","),
                                          "METRICS": String(cluster.metricsPort), "LAST_OF_FIRST": String(cluster.lastPortOfFirstNode)])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(cluster.nodes[0].log)\n\(cluster.nodes[1].log)")
        let drained = result.stdout.contains("drained node 0") ? 0 : 1
        #expect(cluster.nodes[drained].waitForExit(seconds: 15) == 0, "the drained node exits by itself, with 0")
    }
}
