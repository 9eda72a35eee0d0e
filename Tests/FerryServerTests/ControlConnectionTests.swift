@testable import FerryServer
import FTPCore
import FerryReactor
import Foundation
import Logging
import Testing

/// The control stream of a unit test: it keeps what the session wrote, and the test plays the client
/// (reading or not) and the socket's end.
final class ScriptedStream: ControlStream {
    private(set) var written = ""
    var pendingOutput = 0
    var readingPaused = false
    var onDrained: (() -> Void)?
    /// `closeAfterFlush` was called; calling this closes the "socket".
    private(set) var closeSocket: (() -> Void)?
    let peerCertificateNames: [String]? = nil

    func write(_ text: String) { written += text }
    func startTLS(_ context: TLSContext, sessionContext: [UInt8]) {}
    func issueSessionTicket() {}
    func closeAfterFlush(deadlineMilliseconds: Int, onClosed: @escaping () -> Void) { closeSocket = onClosed }

    /// The reply codes written so far (of each reply's last line).
    var codes: [Int] {
        written.split(separator: "\r\n").compactMap { line in line.dropFirst(3).first == " " ? Int(line.prefix(3)) : nil }
    }

    /// The client caught up with its output.
    func drain() {
        pendingOutput = 0
        onDrained?()
    }
}

/// `ControlConnection` without a socket or a thread: scripted bytes in, replies out, timers on a
/// clock the test moves (`EmbeddedLoop`); the password check and the home are real.
final class ControlFixture {
    let loop = EmbeddedLoop()
    let stream = ScriptedStream()
    let context: ServerContext
    let connection: ControlConnection
    private(set) var ended = false
    private let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-control-\(UUID().uuidString)")

    init(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("home"), withIntermediateDirectories: true)
        let hash = try #require(PasswordHasher.hash("secret", setting: "$6$rounds=1000$salt"))
        let users = folder.appendingPathComponent("users.txt").path
        try UsersFile(records: [UserRecord(name: "alice", hash: hash, home: folder.appendingPathComponent("home").path, readOnly: false)]).save(to: users)
        var configuration = ServerConfiguration()
        configuration.root = folder.path
        configuration.usersFile = users
        configuration.anonymous = false
        configure(&configuration)
        context = try ServerContext(configuration: configuration, descriptorBudget: 1000,
                                    logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, previous: nil)
        var end: (ControlConnection) -> Void = { _ in }
        connection = ControlConnection(loop: loop, context: context,
                                       local: SocketAddress(host: "127.0.0.1", port: 21)!, peer: SocketAddress(host: "127.0.0.1", port: 40000)!,
                                       implicitTLS: false) { end($0) }
        end = { [unowned self] _ in self.ended = true }
        connection.attach(stream)
        connection.start(refusal: nil)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    func send(_ text: String) { connection.received(Array(text.utf8)) }

    /// A file in alice's home.
    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: folder.appendingPathComponent("home").appendingPathComponent(name))
    }

    /// A file in alice's home, as it is now.
    func read(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent("home").appendingPathComponent(name)))
    }

    /// Send PASV and connect to the port its 227 names, from `source`; the client's end.
    func openPassive(from source: String = "127.0.0.1") throws -> ClientEnd {
        send("PASV\r\n")
        return try connectPassive(from: source)
    }

    /// Connect (again) to the port the last 227 named.
    func connectPassive(from source: String = "127.0.0.1") throws -> ClientEnd {
        let line = try #require(stream.written.split(separator: "\r\n").last { $0.hasPrefix("227 ") })
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        let port = try #require(UInt16(exactly: numbers[numbers.count - 2] * 256 + numbers[numbers.count - 1]))
        let socket = try Sockets.connect(to: try #require(SocketAddress(host: "127.0.0.1", port: port)), from: SocketAddress(host: source, port: 0))
        return ClientEnd(socket.release())
    }

    /// Log alice in and wait (on the worker's answer) for the 230.
    func logIn() throws {
        send("USER alice\r\nPASS secret\r\n")
        try #require(loop.run { self.stream.codes.last == 230 })
    }
}

@Suite struct ControlConnectionTests {
    @Test func pipelinedCommandsWaitForTheLoginAndAreAnsweredInOrder() throws {
        let f = try ControlFixture()
        f.send("USER alice\r\nPASS secret\r\nPWD\r\nSYST\r\nNOOP\r\n")
        #expect(f.stream.codes == [220, 331], "PWD waits while the password is checked")
        #expect(f.loop.run { f.stream.codes.count == 6 })
        #expect(f.stream.codes == [220, 331, 230, 257, 215, 200])
    }

    @Test func aWrongPasswordIsAnsweredAfterTheDelayOnTheLoopsClock() throws {
        let f = try ControlFixture()
        let armed = f.loop.armedTimers
        f.send("USER alice\r\nPASS wrong\r\nNOOP\r\n")
        #expect(f.loop.run { f.loop.armedTimers > armed }, "the failure delay is armed once the hash is checked")
        let delay = SessionPolicy.failureDelayMilliseconds(attempt: 1)
        f.loop.advance(milliseconds: delay - 1)
        #expect(f.stream.codes == [220, 331])
        f.loop.advance(milliseconds: 1)
        #expect(f.stream.codes == [220, 331, 530, 200])
    }

    @Test func aSessionThatNeverLogsInEndsAtTheLoginTimeoutButKeepsItsSlotUntilTheSocketCloses() throws {
        let f = try ControlFixture { $0.loginTimeout = 60 }
        f.loop.advance(milliseconds: 59_999)
        #expect(f.stream.codes == [220])
        f.loop.advance(milliseconds: 1)
        #expect(f.stream.codes == [220, 421])
        #expect(f.connection.ended && !f.ended, "limits and descriptors stay counted while the last reply goes out")
        let closeSocket = try #require(f.stream.closeSocket)
        closeSocket()
        #expect(f.ended)
    }

    @Test func aSilentSessionEndsAtTheIdleTimeout() throws {
        let f = try ControlFixture { $0.idleTimeout = 300 }
        try f.logIn()
        f.loop.advance(milliseconds: 299_999)
        f.send("NOOP\r\n")
        f.loop.advance(milliseconds: 299_999)
        #expect(f.stream.codes == [220, 331, 230, 200], "a command restarts the idle clock")
        f.loop.advance(milliseconds: 1)
        #expect(f.stream.codes.last == 421 && f.stream.closeSocket != nil)
    }

    @Test func aClientThatDoesNotReadIsNotReadEither() throws {
        let f = try ControlFixture()
        try f.logIn()
        f.stream.pendingOutput = ControlConnection.maxPendingOutput
        f.send("NOOP\r\nNOOP\r\nNOOP\r\n")
        #expect(f.stream.codes == [220, 331, 230], "no reply while its output is unread")
        #expect(f.stream.readingPaused)
        f.stream.drain()
        #expect(f.stream.codes == [220, 331, 230, 200, 200, 200])
        #expect(!f.stream.readingPaused)
    }

    @Test func commandsHeldWhenTheClientLeavesAreDropped() throws {
        let f = try ControlFixture()
        f.send("USER alice\r\nPASS secret\r\nDELE a\r\nQUIT\r\n")
        f.connection.streamClosed("Connection reset by peer")
        #expect(f.connection.ended && f.ended, "nothing to flush: the slot goes at once")
        #expect(f.loop.armedTimers == 0, "no timer outlives the session")
        // The password check (a millisecond of SHA-512 crypt) answers meanwhile, into a session that has ended.
        _ = f.loop.run(until: { false }, seconds: 0.5)
        #expect(f.stream.codes == [220, 331], "the login's answer and the held commands go nowhere")
    }

    /// PASV opens a real listener, but no client comes: the transfer fails at the data timeout, on
    /// the loop's clock, and the session goes on.
    @Test func aDataConnectionThatNeverComesFailsAtTheDataTimeout() throws {
        let f = try ControlFixture { $0.dataConnectionTimeout = 30 }
        try f.write("a.txt", "hello")
        try f.logIn()
        f.send("PASV\r\nRETR a.txt\r\nNOOP\r\n")
        #expect(f.stream.codes == [220, 331, 230, 227, 150], "RETR waits for its data connection; NOOP waits for RETR")
        f.loop.advance(milliseconds: 29_999)
        #expect(f.stream.codes.last == 150)
        f.loop.advance(milliseconds: 1)
        #expect(Array(f.stream.codes.suffix(2)) == [425, 200], "\(f.stream.written)")
        #expect(f.stream.written.contains("timed out after 30 seconds"))
    }

    /// ABOR overtakes the commands held behind a transfer (here still waiting for its connection):
    /// the transfer's 426, ABOR's 226, then the held command; the connect timer is gone with it.
    @Test func aborOvertakesHeldCommandsAndEndsTheWaitingTransfer() throws {
        let f = try ControlFixture()
        try f.write("a.txt", "hello")
        try f.logIn()
        let armed = f.loop.armedTimers
        f.send("PASV\r\nRETR a.txt\r\nSYST\r\nABOR\r\n")
        #expect(Array(f.stream.codes.suffix(5)) == [227, 150, 426, 226, 215], "\(f.stream.written)")
        #expect(f.loop.armedTimers == armed, "no connect timeout left behind")
    }

    /// A whole passive download and upload through the connection, its data socket real.
    @Test func aPassiveDownloadAndUploadRunThroughTheConnection() throws {
        let f = try ControlFixture()
        try f.write("a.txt", "hello, world")
        try f.logIn()
        let download = try f.openPassive()
        defer { close(download.fd) }
        f.send("RETR a.txt\r\n")
        #expect(f.loop.run { download.drain(); return download.sawEnd && f.stream.codes.last == 226 }, "\(f.stream.written)")
        #expect(String(decoding: download.received, as: UTF8.self) == "hello, world")
        let upload = try f.openPassive()
        defer { close(upload.fd) }
        f.send("STOR b.bin\r\n")
        let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(upload.send(data, loop: f.loop))
        shutdown(upload.fd, Int32(SHUT_WR))
        #expect(f.loop.run { f.stream.codes.last == 226 }, "\(f.stream.written)")
        #expect(try f.read("b.bin") == data)
        #expect(Array(f.stream.codes.suffix(6)) == [227, 150, 226, 227, 150, 226])
    }

    /// The passive port takes only the control connection's peer: a connection from another
    /// address is closed and the listener waits on for the right one.
    @Test func aPassivePortRefusesAnotherAddressAndWaitsForThePeer() throws {
        let f = try ControlFixture()
        try f.write("a.txt", "mine")
        try f.logIn()
        let stranger = try f.openPassive(from: "127.0.0.2")
        defer { close(stranger.fd) }
        #expect(f.loop.run { stranger.drain(); return stranger.sawEnd || stranger.readError != nil })
        #expect(stranger.received.isEmpty)
        let peer = try f.connectPassive()
        defer { close(peer.fd) }
        f.send("RETR a.txt\r\n")
        #expect(f.loop.run { peer.drain(); return peer.sawEnd && f.stream.codes.last == 226 }, "\(f.stream.written)")
        #expect(String(decoding: peer.received, as: UTF8.self) == "mine")
    }

    /// PORT: the server connects out to the client's listener; a port nobody listens on is a 425.
    @Test func anActiveDownloadConnectsOutAndARefusedConnectIs425() throws {
        let f = try ControlFixture()
        try f.write("a.txt", "active")
        try f.logIn()
        let listener = try Sockets.listen(on: try #require(SocketAddress(host: "127.0.0.1", port: 0)), reusePort: false, backlog: 1)
        let port = try #require(SocketAddress.local(of: listener.rawValue)).port
        f.send("PORT 127,0,0,1,\(port >> 8),\(port & 255)\r\nRETR a.txt\r\n")
        var accepted: ClientEnd?
        #expect(f.loop.run {
            if accepted == nil, let connection = try? Sockets.accept(listener.rawValue) { accepted = ClientEnd(connection.takeSocket().release()) }
            accepted?.drain()
            return accepted?.sawEnd == true && f.stream.codes.last == 226
        }, "\(f.stream.written)")
        defer { if let accepted { close(accepted.fd) } }
        #expect(String(decoding: accepted?.received ?? [], as: UTF8.self) == "active")
        listener.close()
        f.send("PORT 127,0,0,1,\(port >> 8),\(port & 255)\r\nRETR a.txt\r\n")
        #expect(f.loop.run { f.stream.codes.last == 425 }, "\(f.stream.written)")
        #expect(f.stream.written.contains("Connection refused"))
    }

    /// ABOR during a download: the transfer's 426 then ABOR's 226, the data connection reset, and
    /// the session goes on.
    @Test func aborMidDownloadResetsTheDataConnection() throws {
        let f = try ControlFixture()
        try f.write("big.bin", String(repeating: "x", count: 32 << 20))
        try f.logIn()
        let client = try f.openPassive()
        defer { close(client.fd) }
        f.send("RETR big.bin\r\n")
        #expect(f.loop.run { client.drain(); return client.received.count > 1 << 20 })
        f.send("ABOR\r\nNOOP\r\n")
        #expect(Array(f.stream.codes.suffix(4)) == [150, 426, 226, 200], "\(f.stream.written)")
        #expect(f.loop.run { client.drain(); return client.readError != nil || client.sawEnd })
        #expect(client.readError == ECONNRESET && client.received.count < 32 << 20)
    }

    @Test func aRefusedClientGets421AndItsSocketClosesAfterIt() throws {
        let f = try ControlFixture()
        let refused = ControlConnection(loop: f.loop, context: f.context,
                                        local: SocketAddress(host: "127.0.0.1", port: 21)!, peer: SocketAddress(host: "127.0.0.1", port: 40001)!,
                                        implicitTLS: false) { _ in }
        let stream = ScriptedStream()
        refused.attach(stream)
        refused.start(refusal: "Too many sessions from your address (3); try again later.")
        #expect(stream.written == "421 Too many sessions from your address (3); try again later.\r\n")
        #expect(refused.ended && stream.closeSocket != nil)
        refused.received(Array("USER alice\r\n".utf8))
        #expect(stream.codes == [421], "nothing is read after the refusal")
    }
}
