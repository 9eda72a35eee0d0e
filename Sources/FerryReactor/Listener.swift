import CLibevent
import Glibc

/// Accepts connections on a listening socket (libevent's evconnlistener) and hands each new
/// connection's descriptor and peer address to `handler` on the loop. Owns and closes the socket.
public final class Listener {
    private var listener: OpaquePointer?
    private var handler: ((consuming Descriptor, SocketAddress) -> Void)?
    private var resumeTimer: EventWatcher?
    private var onAcceptError: ((SystemError) -> Void)?
    public let address: SocketAddress

    /// Listen on `socket` (from `Sockets.listen`). `onAcceptError` hears of accept failures (EMFILE
    /// and the like), after which accepting pauses for 100 ms.
    public init(loop: EventLoop, socket: consuming Descriptor, onAcceptError: ((SystemError) -> Void)? = nil,
                handler: @escaping (consuming Descriptor, SocketAddress) -> Void) {
        self.handler = handler
        self.onAcceptError = onAcceptError
        self.address = SocketAddress.local(of: socket.rawValue) ?? SocketAddress(storage: sockaddr_storage())
        let context = Unmanaged.passUnretained(self).toOpaque()
        listener = evconnlistener_new(loop.base, { _, fd, address, length, context in
            let listener = Unmanaged<Listener>.fromOpaque(context!).takeUnretainedValue()
            withExtendedLifetime(listener) {
                let connection = Descriptor(taking: fd)
                guard let address, let handler = listener.handler else { return }
                handler(connection, SocketAddress(copying: address, length: Int(length)))
            }
        }, context, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, socket.release())
        evconnlistener_set_error_cb(listener) { _, context in
            let listener = Unmanaged<Listener>.fromOpaque(context!).takeUnretainedValue()
            withExtendedLifetime(listener) { listener.pauseAfterAcceptError() }
        }
        resumeTimer = EventWatcher.timer(loop: loop) { [unowned self] in
            if let listener = self.listener { evconnlistener_enable(listener) }
        }
    }

    /// accept failed (EMFILE, ENFILE, ENOBUFS): stop accepting for a moment instead of spinning on
    /// the error; waiting connections stay in the backlog.
    private func pauseAfterAcceptError() {
        let error = SystemError("accept", code: errno)
        guard let listener else { return }
        onAcceptError?(error)
        evconnlistener_disable(listener)
        resumeTimer?.schedule(timeoutMilliseconds: 100)
    }

    /// Stop accepting and close the socket. Idempotent.
    public func close() {
        if let listener { evconnlistener_free(listener) }
        listener = nil
        handler = nil
        onAcceptError = nil
        resumeTimer?.cancel()
        resumeTimer = nil
    }

    deinit { close() }
}
