import FTPCore
import FerryReactor
import Glibc

/// A passive data listener for one session: accepts a single connection, and only from the control
/// connection's peer (a connection from anyone else is closed and the listener keeps waiting).
final class PassiveListener {
    let port: UInt16
    private let allocator: PassivePortAllocator
    private var listener: Listener?
    private var accepted: Int32?
    private var waiter: ((Int32) -> Void)?
    /// The port is still ours: released once, on the first `close` (a second release could free
    /// it from under the session that was given it next).
    private var holdsPort = true

    init(loop: EventLoop, local: SocketAddress, expectedPeer: IPAddress, allocator: PassivePortAllocator) throws(SystemError) {
        let (fd, port) = try allocator.open(on: local)
        self.port = port
        self.allocator = allocator
        listener = Listener(loop: loop, fd: fd) { [weak self] fd, peer in
            guard let self else { return Sockets.close(fd) }
            guard IPAddress(peer.host)?.normalised == expectedPeer, self.accepted == nil else {
                Sockets.close(fd)
                return
            }
            self.listener?.close()
            self.listener = nil
            if let waiter = self.waiter {
                self.waiter = nil
                waiter(fd)
            } else {
                self.accepted = fd
            }
        }
    }

    /// Hand over the data connection now if it is there, or as soon as it arrives.
    func takeConnection(_ handler: @escaping (Int32) -> Void) {
        if let fd = accepted {
            accepted = nil
            handler(fd)
        } else {
            waiter = handler
        }
    }

    /// Stop listening and close a connection nobody took. Idempotent.
    func close() {
        listener?.close()
        listener = nil
        waiter = nil
        if let fd = accepted { Sockets.close(fd) }
        accepted = nil
        if holdsPort { allocator.release(port) }
        holdsPort = false
    }

    deinit { close() }
}

/// An outgoing data connection (PORT/EPRT): a non-blocking connect from the control connection's
/// local address, reported once when it completes or fails.
final class ActiveConnector {
    private var fd: Int32
    private var watcher: EventWatcher?
    private var handler: ((Result<Int32, SystemError>) -> Void)?

    init(loop: EventLoop, to remote: SocketAddress, from local: SocketAddress, handler: @escaping (Result<Int32, SystemError>) -> Void) throws(SystemError) {
        fd = try Sockets.connect(to: remote, from: local)
        self.handler = handler
        watcher = EventWatcher.descriptor(loop: loop, fd: fd, .write) { [weak self] _ in
            guard let self else { return }
            let error = Sockets.pendingError(self.fd)
            self.complete(error == 0 ? .success(self.fd) : .failure(SystemError("connect \(remote)", code: error)))
        }
        watcher?.schedule()
    }

    private func complete(_ result: Result<Int32, SystemError>) {
        watcher?.cancel()
        watcher = nil
        let handler = self.handler
        self.handler = nil
        if case .failure = result { Sockets.close(fd) }
        fd = -1
        handler?(result)
    }

    /// Give up (timeout, ABOR, session end) without reporting. Idempotent.
    func cancel() {
        watcher?.cancel()
        watcher = nil
        handler = nil
        if fd >= 0 { Sockets.close(fd) }
        fd = -1
    }

    deinit { cancel() }
}
