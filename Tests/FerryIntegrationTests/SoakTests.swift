import Foundation
import Testing

/// A short network soak (Tests/Soak/soak.py) against the real binary: hostile and careless clients
/// for 45 s while a well-behaved one must be served every time; then the server is alive and back
/// to its descriptors. `Tests/Soak/run-asan` runs the long one under AddressSanitizer.
@Suite struct SoakTests {
    /// Tests/Soak: the soak and the Python helpers other tests import (`descriptors`).
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Soak").path

    @Test func hostileClientsForAWhileLeaveNothingBehind() throws {
        let server = try FerryProcess(["--max-sessions-per-ip", "1000", "--login-timeout", "5", "--data-timeout", "5",
                                       "--transfer-timeout", "5"], users: true, tls: true)
        try Disk.pattern(4 << 20).write(to: server.home("alice").appendingPathComponent("big.bin"))
        let script = SoakTests.scripts + "/soak.py"
        let result = try Tool.run("python3", [script, server.host, String(server.port), String(server.pid), "45", "12"], timeout: 150)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(server.log.suffix(3000))")
        print(result.stdout)
    }
}
