import FTPCore
import FerryReactor
import Glibc

/// A passive data listener for one session: accepts a single connection, and only from the control
/// connection's peer (a connection from anyone else is closed and the listener keeps waiting).
final class PassiveListener {
    let port: UInt16
    private let allocator: PassivePortAllocator
    private var listener: Listener?
    private var accepted: Descriptor?
    private var waiter: ((consuming Descriptor) -> Void)?
    /// The port is still ours: released once, on the first `close` (a second release could free
    /// it from under the session that was given it next).
    private var holdsPort = true

    init(loop: EventLoop, local: SocketAddress, expectedPeer: IPAddress, allocator: PassivePortAllocator) throws(SystemError) {
        let socket = try allocator.open(on: local)
        port = SocketAddress.local(of: socket.rawValue)?.port ?? 0
        self.allocator = allocator
        listener = Listener(loop: loop, socket: socket) { [weak self] connection, peer in
            guard let self, IPAddress(peer.host)?.normalised == expectedPeer, self.accepted == nil else { return }
            self.listener?.close()
            self.listener = nil
            if let waiter = self.waiter {
                self.waiter = nil
                waiter(connection)
            } else {
                self.accepted = consume connection
            }
        }
    }

    /// Hand over the data connection now if it is there, or as soon as it arrives.
    func takeConnection(_ handler: @escaping (consuming Descriptor) -> Void) {
        if let connection = accepted.take() {
            handler(connection)
        } else {
            waiter = handler
        }
    }

    /// Stop listening and close a connection nobody took. Idempotent.
    func close() {
        listener?.close()
        listener = nil
        waiter = nil
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
    private var watcher: EventWatcher?
    private var onConnected: ((consuming Descriptor) -> Void)?
    private var onFailed: ((SystemError) -> Void)?

    init(loop: EventLoop, to remote: SocketAddress, from local: SocketAddress, onConnected: @escaping (consuming Descriptor) -> Void,
         onFailed: @escaping (SystemError) -> Void) throws(SystemError) {
        let socket = try Sockets.connect(to: remote, from: local)
        let fd = socket.rawValue
        self.socket = consume socket
        self.onConnected = onConnected
        self.onFailed = onFailed
        watcher = EventWatcher.descriptor(loop: loop, fd: fd, .write) { [weak self] _ in
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
        watcher?.schedule()
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
