import Foundation
import Testing

/// `ferry serve --config`, `ferry config check` and `ferry config example` as an operator uses them.
@Suite struct ConfigTests {
    @Test func exampleChecksAndBadFilesReportEveryLine() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let example = try Tool.run(FerryProcess.binary, ["config", "example"])
        #expect(example.status == 0 && example.stdout.contains("max-sessions-per-ip = 64"))
        let good = scratch.appendingPathComponent("good.toml")
        try Data(example.stdout.utf8).write(to: good)
        let check = try Tool.run(FerryProcess.binary, ["config", "check", good.path])
        #expect(check.status == 0, "\(check.stderr)")

        let bad = scratch.appendingPathComponent("bad.toml")
        try Disk.write(bad, "root = \".\"\nmax-sesions = 3\nworkers = \"two\"\nidle-timeout = 0\nlisten = [\"localhost:21\"]\n")
        let refused = try Tool.run(FerryProcess.binary, ["config", "check", bad.path])
        #expect(refused.status != 0)
        let lines = refused.stderr.split(separator: "\n")
        #expect(lines.count == 4, "\(refused.stderr)")
        for expected in ["bad.toml:2: unknown key max-sesions", "bad.toml:3: workers", "bad.toml:4: idle-timeout", "bad.toml:5: listen"] {
            #expect(refused.stderr.contains(expected), "\(expected) in \(refused.stderr)")
        }
        let serve = try Tool.run(FerryProcess.binary, ["serve", "--config", bad.path])
        #expect(serve.status != 0 && serve.stderr.contains("unknown key max-sesions"))
    }

    @Test func fileThenFlagsThenEnvironment() throws {
        let ignoredPort = try FerryProcess.freePort(host: "127.0.0.1")
        let server = try FerryProcess(prepare: { scratch, root in
            try Disk.write(scratch.appendingPathComponent("ferry.toml"), """
            root = "\(root.path)"
            listen = ["127.0.0.1:\(ignoredPort)"]
            max-sessions-per-ip = 5
            idle-timeout = 1
            """)
        }, configFile: "ferry.toml", environment: ["FERRY_MAX_SESSIONS_PER_IP": "1"])
        // The flag's --listen won over the file's; the environment's per-IP limit over the file's.
        #expect(!FerryProcess.canConnect(host: "127.0.0.1", port: ignoredPort))
        let result = try Tool.python(FtplibTests.prelude + #"""
a = ftplib.FTP(); a.connect(HOST, PORT, timeout=10)
expect_error("421", ftplib.FTP().connect, HOST, PORT, 10)
time.sleep(1.5); expect_error("421", a.login)   # the file's idle-timeout = 1 closed a
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
    }
}
