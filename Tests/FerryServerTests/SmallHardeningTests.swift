@testable import FerryReactor
@testable import FerryServer
import FTPCore
import Foundation
import Testing

@Suite struct SmallHardeningTests {
    @Test func theTextLogEscapesControlCharacters() {
        #expect(ServerLogHandler.escaped("alice") == "alice")
        #expect(ServerLogHandler.escaped("a\r2026-12-02T00:00:00+0000 notice ferry: forged\nb") == "a\\r2026-12-02T00:00:00+0000 notice ferry: forged\\nb")
        #expect(ServerLogHandler.escaped("\u{1b}[2J\u{7f}\u{9b}x\\") == "\\u{1b}[2J\\u{7f}\\u{9b}x\\\\")
        #expect(ServerLogHandler.quote("a\"b\\c\n\u{1}\u{9b}é") == "\"a\\\"b\\\\c\\n\\u0001\\u009bé\"")
    }

    @Test func httpRepliesCarryTheirOwnReasonPhrase() {
        #expect(HTTPEndpoint.reasonPhrase(200) == "OK")
        #expect(HTTPEndpoint.reasonPhrase(404) == "Not Found")
        #expect(HTTPEndpoint.reasonPhrase(503) == "Service Unavailable")
    }

    /// close() and then deinit used to release the port twice: the second release freed it from
    /// under the session that had been given it in between.
    @Test func aPassivePortIsReleasedOnce() throws {
        EventLoop.prepareProcess()
        let loop = EmbeddedLoop()
        let probe = try Sockets.listen(on: try #require(SocketAddress(host: "127.0.0.1", port: 0)), reusePort: false, backlog: 1)
        let port = try #require(SocketAddress.local(of: probe.rawValue)?.port)
        probe.close()
        let allocator = PassivePortAllocator(range: port...port)
        let local = try #require(SocketAddress(host: "127.0.0.1", port: 0))
        var first: PassiveListener? = try PassiveListener(loop: loop, local: local, expectedPeer: .v4(127, 0, 0, 1), allocator: allocator, tls: nil, proxy: nil)
        first?.close()
        let second = try PassiveListener(loop: loop, local: local, expectedPeer: .v4(127, 0, 0, 1), allocator: allocator, tls: nil, proxy: nil)
        #expect(second.port == port)
        first = nil
        #expect(throws: SystemError.self) { try PassiveListener(loop: loop, local: local, expectedPeer: .v4(127, 0, 0, 1), allocator: allocator, tls: nil, proxy: nil) }
        second.close()
    }

    /// With fast SHA-512 and slow yescrypt users in one file, unknown names are checked against
    /// yescrypt, whichever comes first in the file.
    @Test func unknownUsersCostTheSlowestMethod() throws {
        let sha = try #require(PasswordHasher.hash("pw", setting: "$6$rounds=1000$abcdefgh"))
        let yescrypt = try #require(PasswordHasher.hash("pw"))
        #expect(yescrypt.hasPrefix("$y$"))
        #expect(Authenticator.slowestDummy([sha, yescrypt]).hasPrefix("$y$"))
        #expect(Authenticator.slowestDummy([yescrypt, sha]).hasPrefix("$y$"))
        #expect(Authenticator.slowestDummy([sha]).hasPrefix("$6$"))
    }

    @Test func selfSignedKeyIsPrivateEvenOverALooseFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-cert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = folder.appendingPathComponent("key.pem").path
        #expect(FileManager.default.createFile(atPath: key, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644]))
        _ = try SelfSignedCertificate.write(to: folder.path, name: "localhost")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
    }
}
