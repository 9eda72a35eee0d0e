import FTPCore
import FerryReactor
import Glibc

/// The TLS a protected data connection gets: the server context and the control connection's
/// session context (a data connection may resume only the control connection's sessions).
struct DataTLS {
    let context: TLSContext
    let sessionContext: [UInt8]
}

/// A passive data listener for one session: accepts a single connection, and only from the control
/// connection's peer (a connection from anyone else is closed and the listener keeps waiting).
/// Behind a load balancer (`--proxy-protocol-data`), a connection from a trusted proxy must start
/// with a PROXY header naming that peer.
///
/// Under PROT P the TLS handshake starts as soon as the connection arrives: some clients (aioftp, Go's
/// jlaffaye/ftp) send their ClientHello before the transfer command and wait for the handshake, so
/// waiting for the command would leave both sides waiting. The transfer takes the connection with
/// its handshake done or under way.
final class PassiveListener {
    let port: UInt16
    private let loop: any Scheduler
    private let allocator: PassivePortAllocator
    private let tls: DataTLS?
    private let expectedPeer: IPAddress
    private let proxy: ProxyTrust?
    private var socket: Descriptor?
    private var acceptWatcher: (any ReadinessWatcher)?
    /// After an accept error (EMFILE and the like), accepting waits this long instead of spinning.
    private var retryTimer: (any LoopTimer)?
    private var accepted: Descriptor?
    private var early: TLSConnection?
    private var handshakeWatcher: (any ReadinessWatcher)?
    /// Why the early handshake failed; the transfer command then gets 522.
    private var failure: String?
    private var waiter: ((consuming DataConnection) -> Void)?
    private var failedWaiter: ((String) -> Void)?
    /// The port is still ours: released once, on the first `close` (a second release could free
    /// it from under the session that was given it next).
    private var holdsPort = true

    init(loop: any Scheduler, local: SocketAddress, expectedPeer: IPAddress, allocator: PassivePortAllocator, tls: DataTLS?,
         proxy: ProxyTrust?) throws(SystemError) {
        let socket = try allocator.open(on: local)
        let fd = socket.rawValue
        port = SocketAddress.local(of: fd)?.port ?? 0
        self.loop = loop
        self.allocator = allocator
        self.tls = tls
        self.expectedPeer = expectedPeer
        self.proxy = proxy
        self.socket = consume socket
        acceptWatcher = loop.watch(fd, .read) { [unowned self] _ in self.acceptWaiting() }
        acceptWatcher?.schedule(timeoutMilliseconds: nil)
    }

    /// Take the connections waiting: the first from the control connection's peer is the data
    /// connection and ends listening; any other is closed at once.
    private func acceptWaiting() {
        guard let fd = socket?.rawValue else { return }
        while true {
            let connection: AcceptedConnection?
            do {
                connection = try Sockets.accept(fd)
            } catch {
                acceptWatcher?.pause()
                if retryTimer == nil {
                    retryTimer = loop.timer { [unowned self] in self.acceptWatcher?.schedule(timeoutMilliseconds: nil) }
                }
                retryTimer?.schedule(timeoutMilliseconds: 100)
                return
            }
            guard let connection else { return }
            if let proxy, proxy.trusts(connection.peer) {
                readHeader(connection.takeSocket(), timeoutSeconds: proxy.timeoutSeconds)
                continue
            }
            guard IPAddress(connection.peer.host)?.normalised == expectedPeer else { continue }
            stopListening()
            return arrived(connection.takeSocket())
        }
    }

    /// A connection through the load balancer is the data connection if its header names the peer
    /// and the listener is still waiting; otherwise it is closed.
    private func readHeader(_ connection: consuming Descriptor, timeoutSeconds: Int) {
        _ = ProxyHeaderReader(socket: connection, loop: loop, timeoutSeconds: timeoutSeconds) { [weak self] reader, outcome in
            guard let self, self.socket != nil, case .header(let header) = outcome, header.source?.address.normalised == self.expectedPeer,
                  let socket = reader.takeSocket() else { return }
            self.stopListening()
            self.arrived(socket)
        }
    }

    private func stopListening() {
        acceptWatcher?.cancel()
        acceptWatcher = nil
        retryTimer?.cancel()
        retryTimer = nil
        socket = nil
    }

    private func arrived(_ connection: consuming Descriptor) {
        if let tls {
            do {
                early = try TLSConnection(context: tls.context, fd: connection.rawValue, sessionContext: tls.sessionContext)
            } catch {
                return fail(error.description)
            }
        }
        accepted = consume connection
        if waiter != nil { return handOver() }
        if early != nil { handshake() }
    }

    /// Drive the early handshake while no transfer has taken the connection.
    private func handshake() {
        guard let early, let fd = accepted?.rawValue else { return }
        let readiness: EventWatcher.Readiness
        switch early.handshake() {
        case .done:
            handshakeWatcher?.cancel()
            handshakeWatcher = nil
            return
        case .wantRead: readiness = .read
        case .wantWrite: readiness = .write
        case .closed, .truncated: return fail("TLS handshake on the data connection failed: connection closed")
        case .failed(let reason): return fail("TLS handshake on the data connection failed: \(reason)")
        }
        handshakeWatcher?.cancel()
        handshakeWatcher = loop.watch(fd, readiness) { [weak self] _ in self?.handshake() }
        handshakeWatcher?.schedule(timeoutMilliseconds: nil)
    }

    private func fail(_ reason: String) {
        handshakeWatcher?.cancel()
        handshakeWatcher = nil
        early = nil
        accepted = nil
        failure = reason
        if let failedWaiter {
            waiter = nil
            self.failedWaiter = nil
            failedWaiter(reason)
        }
    }

    /// Hand over the data connection now if it is there, or as soon as it arrives; `onFailed` hears
    /// why an early TLS handshake failed.
    func takeConnection(_ handler: @escaping (consuming DataConnection) -> Void, onFailed: @escaping (String) -> Void) {
        if let failure { return onFailed(failure) }
        waiter = handler
        failedWaiter = onFailed
        if accepted != nil { handOver() }
    }

    private func handOver() {
        handshakeWatcher?.cancel()
        handshakeWatcher = nil
        guard let waiter, let socket = accepted.take() else { return }
        self.waiter = nil
        failedWaiter = nil
        let tls = early
        early = nil
        waiter(DataConnection(socket: socket, tls: tls))
    }

    /// A client connected but no transfer took the connection (for the log).
    var heldUnused: Bool { accepted != nil }

    /// Stop listening and close a connection nobody took. Idempotent.
    func close() {
        stopListening()
        handshakeWatcher?.cancel()
        handshakeWatcher = nil
        waiter = nil
        failedWaiter = nil
        early = nil
        accepted = nil
        if holdsPort { allocator.release(port) }
        holdsPort = false
    }

    deinit { close() }
}

/// An outgoing data connection (PORT/EPRT): a non-blocking connect from the control connection's
/// local address, reported once when it completes or fails.
final class ActiveConnector {
    private var socket: Descriptor?
    private var watcher: (any ReadinessWatcher)?
    private var onConnected: ((consuming Descriptor) -> Void)?
    private var onFailed: ((SystemError) -> Void)?

    init(loop: any Scheduler, to remote: SocketAddress, from local: SocketAddress, onConnected: @escaping (consuming Descriptor) -> Void,
         onFailed: @escaping (SystemError) -> Void) throws(SystemError) {
        let socket = try Sockets.connect(to: remote, from: local)
        let fd = socket.rawValue
        self.socket = consume socket
        self.onConnected = onConnected
        self.onFailed = onFailed
        watcher = loop.watch(fd, .write) { [weak self] _ in
            guard let self, let socket = self.socket.take() else { return }
            let error = Sockets.pendingError(fd)
            let (connected, failed) = (self.onConnected, self.onFailed)
            self.cancel()
            if error != 0 {
                failed?(SystemError("connect \(remote)", code: error))
            } else if let connected {
                connected(socket)
            }
        }
        watcher?.schedule(timeoutMilliseconds: nil)
    }

    /// Give up (timeout, ABOR, session end) without reporting. Idempotent.
    func cancel() {
        watcher?.cancel()
        watcher = nil
        onConnected = nil
        onFailed = nil
        socket = nil
    }

    deinit { cancel() }
}
