import COpenSSL
import FerryReactor
import Foundation
import Glibc
import Testing

/// The reactor without a server: each test runs a loop on its own thread-of-test, drives both ends
/// from the loop's callbacks, and is stopped by a safety timer if it never finishes.
@Suite struct ReactorTests {
    init() { EventLoop.prepareProcess() }

    /// Run `loop` until `stop` is called, or `limitMilliseconds` passed (then it reports a failure).
    private func run(_ loop: EventLoop, limitMilliseconds: Int = 5000, _ setUp: (_ stop: @escaping () -> Void) -> Void) {
        var finished = false
        let safety = EventWatcher.timer(loop: loop) {
            Issue.record("the test did not finish within \(limitMilliseconds) ms")
            loop.stop()
        }
        safety.schedule(timeoutMilliseconds: limitMilliseconds)
        setUp {
            finished = true
            loop.stop()
        }
        loop.run()
        safety.cancel()
        #expect(finished)
    }

    /// A connected pair: the first end for the stream, the second (closed by the test) for its peer.
    private func socketPair() throws -> (Int32, Int32) {
        var ends: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0)
        return (ends[0], ends[1])
    }

    @Test func timersFireOnceRepeatOrNotAtAll() {
        let loop = EventLoop(name: "timers")
        var once = 0
        var repeated = 0
        var cancelled = 0
        var watchers: [EventWatcher] = []
        run(loop) { stop in
            let single = EventWatcher.timer(loop: loop) { once += 1 }
            single.schedule(timeoutMilliseconds: 10)
            let repeating = EventWatcher.timer(loop: loop, repeating: true) { repeated += 1 }
            repeating.schedule(timeoutMilliseconds: 10)
            let never = EventWatcher.timer(loop: loop) { cancelled += 1 }
            never.schedule(timeoutMilliseconds: 10)
            never.cancel()
            let end = EventWatcher.timer(loop: loop) { stop() }
            end.schedule(timeoutMilliseconds: 200)
            watchers = [single, repeating, never, end]
        }
        #expect(once == 1)
        #expect(repeated >= 3)
        #expect(cancelled == 0)
        watchers.forEach { $0.cancel() }
    }

    @Test func aStreamReadsWritesPausesAndClosesAfterItsOutputIsRead() throws {
        let loop = EventLoop(name: "stream")
        let (local, peer) = try socketPair()
        defer { close(peer) }
        var received: [UInt8] = []
        var closedAfterFlush = false
        var keep: [AnyObject] = []
        let stream = FerryReactor.Stream(loop: loop, socket: Descriptor(taking: local), onRead: { received += $0 }, onClose: { _ in })
        run(loop) { stop in
            stream.readingPaused = true
            _ = write(peer, "held", 4)
            stream.write("world")
            let resume = EventWatcher.timer(loop: loop) {
                #expect(received.isEmpty, "nothing is read while reading is paused")
                stream.readingPaused = false
            }
            resume.schedule(timeoutMilliseconds: 50)
            let finish = EventWatcher.timer(loop: loop) {
                #expect(received == Array("held".utf8), "input that waited is read once reading resumes")
                var buffer = [UInt8](repeating: 0, count: 16)
                #expect(read(peer, &buffer, 16) == 5)
                stream.closeAfterFlush(deadlineMilliseconds: 1000) {
                    closedAfterFlush = true
                    stop()
                }
            }
            finish.schedule(timeoutMilliseconds: 150)
            keep = [resume, finish]
        }
        #expect(closedAfterFlush)
        var byte: UInt8 = 0
        #expect(read(peer, &byte, 1) == 0, "the peer sees the end of the stream")
        _ = keep
    }

    /// Output larger than the socket's buffers leaves whole and in order as a slow peer reads it,
    /// `onDrained` comes once, when the last byte is in the kernel, and the peer's close is an end
    /// without a reason.
    @Test func aPlainStreamSendsLargeOutputInOrderAndReportsThePeersClose() throws {
        let loop = EventLoop(name: "plain")
        let (local, peer) = try socketPair()
        let text = String(repeating: "0123456789abcdefghijklmnopqrstuvwxyz", count: 10_000)
        var pendingAtStart = 0
        var drained = 0
        var received: [UInt8] = []
        var ends: [String?] = []
        var keep: [AnyObject] = []
        run(loop) { stop in
            let stream = FerryReactor.Stream(loop: loop, socket: Descriptor(taking: local), onRead: { _ in },
                                             onClose: { ends.append($0); stop() })
            stream.onDrained = { drained += 1 }
            stream.write(String(text.prefix(200_000)))
            stream.write(String(text.dropFirst(200_000)))
            pendingAtStart = stream.pendingOutput
            var reader: EventWatcher?
            reader = EventWatcher.descriptor(loop: loop, fd: peer, .read) { _ in
                var buffer = [UInt8](repeating: 0, count: 7000)
                let n = read(peer, &buffer, buffer.count)
                if n > 0 { received += buffer[..<n] }
                if received.count >= text.utf8.count || n == 0 {
                    reader?.cancel()
                    close(peer)
                }
            }
            reader?.schedule()
            keep = [stream]
        }
        #expect(pendingAtStart == text.utf8.count)
        #expect(received == Array(text.utf8))
        #expect(drained == 1)
        #expect(ends == [nil])
        _ = keep
    }

    /// A peer that never reads cannot hold the socket: after the deadline it is closed anyway.
    @Test func closeAfterFlushGivesUpAtItsDeadline() throws {
        let loop = EventLoop(name: "deadline")
        let (local, peer) = try socketPair()
        defer { close(peer) }
        var closedAt: Date?
        let stream = FerryReactor.Stream(loop: loop, socket: Descriptor(taking: local), onRead: { _ in }, onClose: { _ in })
        let start = Date()
        run(loop) { stop in
            stream.write(String(repeating: "x", count: 8 << 20))
            stream.closeAfterFlush(deadlineMilliseconds: 200) {
                closedAt = Date()
                stop()
            }
        }
        let elapsed = try #require(closedAt).timeIntervalSince(start)
        #expect(elapsed >= 0.15 && elapsed < 3, "\(elapsed) s")
    }

    /// AUTH TLS as a control connection does it: a plaintext reply, then the same stream turns into
    /// a TLS server; the peer (an OpenSSL client on its own thread, blocking) handshakes over the
    /// socketpair and both directions then carry plaintext through TLS.
    @Test func aPlainStreamUpgradesToTLSAfterItsReply() throws {
        let context = try makeTestTLSContext()
        let loop = EventLoop(name: "upgrade")
        let (local, peer) = try socketPair()
        defer { close(peer) }
        _ = fcntl(peer, F_SETFL, fcntl(peer, F_GETFL) & ~O_NONBLOCK)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var stream: FerryReactor.Stream?
        let peerSaw = LockedText()
        run(loop) { stop in
            stream = FerryReactor.Stream(loop: loop, socket: Descriptor(taking: local), onRead: { bytes in
                received += bytes
                if received == Array("AUTH TLS\r\n".utf8) {
                    stream?.write("234 go ahead\r\n")
                    stream?.startTLS(context, sessionContext: [1, 2, 3])
                } else if received == Array("AUTH TLS\r\nhello".utf8) {
                    stream?.write("world")
                }
            }, onClose: { _ in })
            // Called back on the loop's thread only.
            nonisolated(unsafe) let stopOnLoop = stop
            Thread.detachNewThread {
                peerSaw.value = Self.tlsClient(on: peer)
                loop.execute { stopOnLoop() }
            }
        }
        #expect(peerSaw.value == "234 go ahead\r\n|world")
        #expect(String(decoding: received, as: UTF8.self) == "AUTH TLS\r\nhello")
        #expect(stream?.peerCertificateNames == nil, "TLS without a client certificate")
    }

    /// The client side of `aPlainStreamUpgradesToTLSAfterItsReply`: what it read in plaintext, then
    /// through TLS.
    private static func tlsClient(on fd: Int32) -> String {
        _ = "AUTH TLS\r\n".withCString { write(fd, $0, 10) }
        var reply = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &reply, reply.count)
        guard n > 0 else { return "no reply" }
        guard let clientContext = SSL_CTX_new(TLS_client_method()), let ssl = SSL_new(clientContext) else { return "no client" }
        defer {
            SSL_free(ssl)
            SSL_CTX_free(clientContext)
        }
        SSL_set_fd(ssl, fd)
        guard SSL_connect(ssl) == 1 else { return "handshake failed" }
        _ = "hello".withCString { SSL_write(ssl, $0, 5) }
        var answer = [UInt8](repeating: 0, count: 16)
        let m = SSL_read(ssl, &answer, Int32(answer.count))
        guard m > 0 else { return "no answer" }
        return String(decoding: reply[0..<n], as: UTF8.self) + "|" + String(decoding: answer[0..<Int(m)], as: UTF8.self)
    }

    @Test func aTLSHandshakeThatNeverStartsTimesOut() throws {
        let context = try makeTestTLSContext()
        let loop = EventLoop(name: "tls")
        let (local, peer) = try socketPair()
        defer { close(peer) }
        var reason: String?
        var stopLoop: () -> Void = {}
        let stream = FerryReactor.Stream(loop: loop, socket: Descriptor(taking: local), tls: (context, sessionContext: [1, 2, 3]),
                                         handshakeTimeoutMilliseconds: 100, onRead: { _ in }, onClose: {
                                             reason = $0
                                             stopLoop()
                                         })
        run(loop) { stopLoop = $0 }
        #expect(reason == "TLS handshake timed out")
        _ = stream
    }

    @Test func aListenerHandsOverEachConnectionWithItsPeer() throws {
        let loop = EventLoop(name: "listener")
        let socket = try Sockets.listen(on: try #require(SocketAddress(host: "127.0.0.1", port: 0)), reusePort: false, backlog: 8)
        let address = try #require(SocketAddress.local(of: socket.rawValue))
        var peerHost: String?
        var stopLoop: () -> Void = {}
        let listener = Listener(loop: loop, socket: socket) { connection, peer in
            peerHost = peer.host
            #expect(connection.rawValue >= 0)
            stopLoop()
        }
        let client = try Sockets.connect(to: address, from: nil)
        run(loop) { stopLoop = $0 }
        #expect(peerHost == "127.0.0.1")
        listener.close()
        client.close()
    }
}

/// Text one thread writes and another reads after it is done.
final class LockedText: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    var value: String {
        get { lock.withLock { text } }
        set { lock.withLock { text = newValue } }
    }
}
