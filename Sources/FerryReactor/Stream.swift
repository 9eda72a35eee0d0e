import CLibevent
import Glibc

/// A buffered byte stream over a connected socket (libevent's bufferevent), used for control
/// connections: incoming bytes go to `onRead`, `write` queues output, `closeAfterFlush` closes once
/// everything queued has reached the kernel. Owns the descriptor.
public final class Stream {
    private var bev: OpaquePointer?
    public let fd: Int32
    private var onRead: (([UInt8]) -> Void)?
    private var onClose: ((String?) -> Void)?
    private var closing = false
    /// Holds the stream alive while `closeAfterFlush` waits for the output to drain, so the owner can
    /// let go of it at once.
    private var keepAlive: Unmanaged<Stream>?
    /// Upper bound of bytes taken per read callback (what the client can make the server hold).
    private let readChunk = 16 * 1024

    /// `onRead` gets each chunk of input; `onClose` is called once when the peer closes or the
    /// connection fails (with a reason), not when `close()` is called.
    public init(loop: EventLoop, fd: Int32, onRead: @escaping ([UInt8]) -> Void, onClose: @escaping (String?) -> Void) {
        self.fd = fd
        self.onRead = onRead
        self.onClose = onClose
        bev = bufferevent_socket_new(loop.base, fd, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue))
        let context = Unmanaged.passUnretained(self).toOpaque()
        bufferevent_setcb(bev, { _, context in
            let stream = Unmanaged<Stream>.fromOpaque(context!).takeUnretainedValue()
            withExtendedLifetime(stream) { stream.readable() }
        }, { _, context in
            let stream = Unmanaged<Stream>.fromOpaque(context!).takeUnretainedValue()
            withExtendedLifetime(stream) { stream.drained() }
        }, { _, what, context in
            let stream = Unmanaged<Stream>.fromOpaque(context!).takeUnretainedValue()
            withExtendedLifetime(stream) { stream.failed(what) }
        }, context)
        bufferevent_enable(bev, Int16(EV_READ | EV_WRITE))
    }

    public func write(_ text: String) {
        guard let bev, !closing else { return }
        var text = text
        text.withUTF8 { _ = bufferevent_write(bev, $0.baseAddress, $0.count) }
    }

    /// Stop or resume reading (a busy session holds input in the kernel).
    public func setReading(_ enabled: Bool) {
        guard let bev else { return }
        if enabled { bufferevent_enable(bev, Int16(EV_READ)) } else { bufferevent_disable(bev, Int16(EV_READ)) }
    }

    /// Bytes queued but not yet handed to the kernel.
    public var pendingOutput: Int {
        guard let bev else { return 0 }
        return evbuffer_get_length(bufferevent_get_output(bev))
    }

    /// Close once every queued byte has been written.
    public func closeAfterFlush() {
        guard bev != nil, !closing else { return }
        closing = true
        // The owner is done with this stream: no more callbacks into it.
        onRead = nil
        onClose = nil
        bufferevent_disable(bev, Int16(EV_READ))
        if pendingOutput == 0 {
            close()
        } else {
            keepAlive = Unmanaged.passRetained(self)
        }
    }

    /// Free the bufferevent (closing the socket) now. Idempotent; does not call `onClose`.
    public func close() {
        if let bev { bufferevent_free(bev) }
        bev = nil
        onRead = nil
        onClose = nil
        let held = keepAlive
        keepAlive = nil
        held?.release()
    }

    private func readable() {
        guard let bev else { return }
        let input = bufferevent_get_input(bev)
        while bev == self.bev, evbuffer_get_length(input) > 0 {
            var chunk = [UInt8](repeating: 0, count: min(readChunk, evbuffer_get_length(input)))
            let n = chunk.withUnsafeMutableBytes { evbuffer_remove(input, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            if n < chunk.count { chunk.removeLast(chunk.count - Int(n)) }
            onRead?(chunk)
        }
    }

    private func drained() {
        if closing { close() }
    }

    private func failed(_ what: Int16) {
        let callback = onClose
        let reason: String? = (Int32(what) & BEV_EVENT_EOF) != 0 ? nil : String(cString: strerror(errno))
        close()
        callback?(reason)
    }

    deinit { close() }
}
