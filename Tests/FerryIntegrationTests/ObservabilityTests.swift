import Foundation
import Testing

/// Logs, xferlog and metrics as an operator reads them.
@Suite struct ObservabilityTests {
    @Test func xferlogMetricsAndJSONLogs() throws {
        let metricsPort = try FerryProcess.freePort(host: "127.0.0.1")
        let xferlog = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-xfer-\(UUID().uuidString).log")
        defer {
            try? FileManager.default.removeItem(at: xferlog)
            try? FileManager.default.removeItem(at: xferlog.appendingPathExtension("1"))
        }
        let server = try FerryProcess(["--metrics-listen", "127.0.0.1:\(metricsPort)", "--xferlog", xferlog.path, "--log-format", "json"],
                                      users: true)
        try Disk.write(server.home("alice").appendingPathComponent("my file.txt"), "0123456789")
        let result = try Tool.python(FtplibTests.prelude + #"""
ftp = connect(); ftp.sendcmd("TYPE I")
got = bytearray(); ftp.retrbinary("RETR my file.txt", got.extend); assert bytes(got) == b"0123456789"
ftp.storbinary("STOR up.bin", io.BytesIO(b"x" * 5000))
ftp.quit()
expect_error("550", connect().delete, "missing.txt")
bad = ftplib.FTP(); bad.connect(HOST, PORT, timeout=30)
expect_error("530", bad.login, "alice", "wrong")
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")

        // xferlog: 18 whitespace-separated fields, standard flags.
        let lines = (Disk.read(xferlog) ?? "").split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(lines.count == 2, "\(Disk.read(xferlog) ?? "")")
        if lines.count == 2 {
            let out = lines[0], inbound = lines[1]
            #expect(out.count == 18 && inbound.count == 18)
            #expect(out[6] == "127.0.0.1" && out[7] == "10" && out[8].hasSuffix("/home-alice/my_file.txt"))
            #expect(Array(out[9...17]) == ["b", "_", "o", "r", "alice", "ftp", "0", "*", "c"])
            #expect(inbound[7] == "5000" && inbound[11] == "i" && inbound[17] == "c")
        }

        // metrics and health
        let metrics = try Tool.run("curl", ["-sS", "http://127.0.0.1:\(metricsPort)/metrics"])
        #expect(metrics.stdout.contains("ferry_transfers_total{direction=\"out\",result=\"complete\"} 1"), "\(metrics.stdout)")
        #expect(metrics.stdout.contains("ferry_transfers_total{direction=\"in\",result=\"complete\"} 1"))
        #expect(metrics.stdout.contains("ferry_transfer_bytes_total{direction=\"in\"} 5000"))
        #expect(metrics.stdout.contains("ferry_transfer_bytes_total{direction=\"out\"} 10"))
        #expect(metrics.stdout.contains("ferry_logins_total{result=\"ok\"} 2"))
        #expect(metrics.stdout.contains("ferry_logins_total{result=\"failed\"} 1"))
        // Four sessions: the harness's readiness probe, the transfers, the failed DELE, the failed login.
        #expect(metrics.stdout.contains("ferry_sessions_total 4"))
        #expect(metrics.stdout.contains("ferry_sessions_open 0"))
        let health = try Tool.run("curl", ["-sS", "-w", "%{http_code}", "http://127.0.0.1:\(metricsPort)/healthz"])
        #expect(health.stdout == "ok\n200")
        let missing = try Tool.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(metricsPort)/nope"])
        #expect(missing.stdout == "404")

        // SIGUSR1 after logrotate moved the file: the next line goes to a new file.
        try FileManager.default.moveItem(at: xferlog, to: xferlog.appendingPathExtension("1"))
        kill(server.pid, SIGUSR1)
        usleep(300_000)
        let again = try Tool.run("curl", ["-sS", "-u", "alice:secret", "\(server.url)/up.bin", "-o", "/dev/null"])
        #expect(again.status == 0)
        #expect((Disk.read(xferlog) ?? "").split(separator: "\n").count == 1)

        // Every line on the log stream is one JSON object, start-up included; no password.
        #expect(server.stop() == 0)
        let logLines = server.log.split(separator: "\n")
        #expect(logLines.count > 5)
        for line in logLines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["message"] != nil, "not JSON: \(line)")
        }
        #expect(server.log.contains("Ferry serving") && !server.log.contains("secret") && !server.log.contains("wrong"))
        #expect(server.log.contains("\"command\":\"DELE\"") && server.log.contains("550 /missing.txt: No such file or directory"))
    }
    /// The harness runs two loops: 17 sessions from one client split 9 and 8 whichever loop's
    /// listener the kernel gave each one to (SO_REUSEPORT's hash alone splits them that evenly about
    /// one time in three), and every one of them is served.
    @Test func sessionsSpreadEvenlyOverTheLoops() throws {
        let metricsPort = try FerryProcess.freePort(host: "127.0.0.1")
        let server = try FerryProcess(["--metrics-listen", "127.0.0.1:\(metricsPort)"], users: true)
        try Disk.write(server.home("alice").appendingPathComponent("a.txt"), "a")
        let result = try Tool.python(FtplibTests.prelude + #"""
import urllib.request
sessions = [connect() for _ in range(17)]
for ftp in sessions:
    assert ftp.nlst() == ["a.txt"]
metrics = urllib.request.urlopen(f"http://127.0.0.1:{os.environ['METRICS']}/metrics", timeout=30).read().decode()
# The harness's readiness probe may not have closed yet: 17 or 18 connections, never more than one apart.
gauges = [int(line.split()[-1]) for line in metrics.splitlines() if line.startswith("ferry_loop_sessions{")]
assert len(gauges) == 2 and sum(gauges) in (17, 18) and max(gauges) - min(gauges) <= 1, metrics
for ftp in sessions:
    ftp.quit()
print("ok")
"""#, server: server, extra: ["METRICS": "\(metricsPort)"])
        #expect(result.status == 0 && result.stdout.contains("ok"), "\(result.stderr)\n\(server.log)")
        #expect(server.stop() == 0)
    }
}
