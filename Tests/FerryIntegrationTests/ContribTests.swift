import Foundation
import Testing

/// The systemd unit the README tells operators to install.
@Suite struct ContribTests {
    static var unitPath: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("contrib/ferry.service")
    }

    @Test func unitIsLockedDownAndValid() throws {
        let unit = try String(contentsOf: ContribTests.unitPath, encoding: .utf8)
        for line in ["User=ferry", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "ExecReload=/bin/kill -HUP $MAINPID", "KillSignal=SIGTERM", "ExecStart=/usr/local/bin/ferry serve --config /etc/ferry/ferry.toml"] {
            #expect(unit.contains("\n\(line)\n"), "\(line)")
        }
        // systemd's own checker, with ExecStart pointing at the binary under test.
        guard let analyze = try? Tool.which("systemd-analyze") else { return }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let copy = scratch.appendingPathComponent("ferry.service")
        try Data(unit.replacingOccurrences(of: "/usr/local/bin/ferry", with: FerryProcess.binary).utf8).write(to: copy)
        let verify = try Tool.run(analyze, ["verify", copy.path])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }
}
