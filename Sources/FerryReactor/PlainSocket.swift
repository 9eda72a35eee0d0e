import Glibc

/// A non-blocking socket's reads and queued writes on a loop, for `Stream` while it is plaintext.
/// It does what the bufferevent did there (reads of up to `readChunk` bytes, output queued and
/// written when the socket can take it, a callback once all of it reached the kernel) with one read
/// watcher and no buffer while idle: a bufferevent and its two evbuffers cost about 940 bytes per
/// connection, most of what an idle session cost. Does not own the socket.
final class PlainSocket {
    private let loop: EventLoop
    private let fd: Int32
    private let readChunk: Int
    private var reader: EventWatcher?
    /// Made while output waits for the socket to take it.
    private var writer: EventWatcher?
    private var output: [UInt8] = []
    /// Bytes of `output` already written.
    private var written = 0
    private let onRead: ([UInt8]) -> Void
    private let onDrained: () -> Void
    /// The peer closed (nil) or the connection failed (the reason). Called once; nothing after it.
    private let onEnd: (String?) -> Void

    init(loop: EventLoop, fd: Int32, readChunk: Int, onRead: @escaping ([UInt8]) -> Void, onDrained: @escaping () -> Void,
         onEnd: @escaping (String?) -> Void) {
        self.loop = loop
        self.fd = fd
        self.readChunk = readChunk
        self.onRead = onRead
        self.onDrained = onDrained
        self.onEnd = onEnd
        reader = EventWatcher.descriptor(loop: loop, fd: fd, .read) { [unowned self] _ in self.readable() }
        reader?.schedule()
    }

    /// Bytes queued but not yet handed to the kernel.
    var pendingOutput: Int { output.count - written }

    /// While false, the socket is not read: the peer's sends stall once the kernel's buffers fill.
    var reading = true {
        didSet {
            guard reading != oldValue else { return }
            if reading { reader?.schedule() } else { reader?.pause() }
        }
    }

    /// Queue `bytes`; they go out when the loop finds the socket writable, several writes in one send.
    func write(_ bytes: UnsafeRawBufferPointer) {
        guard reader != nil, !bytes.isEmpty else { return }
        output.append(contentsOf: bytes)
        if writer == nil {
            writer = EventWatcher.descriptor(loop: loop, fd: fd, .write) { [unowned self] _ in self.writable() }
            writer?.schedule()
        }
    }

    /// Stop watching the socket and drop queued output; no callback runs after this. Idempotent.
    func stop() {
        reader?.cancel()
        reader = nil
        writer?.cancel()
        writer = nil
        output = []
        written = 0
    }

    private func readable() {
        let (n, chunk) = withUnsafeTemporaryAllocation(byteCount: readChunk, alignment: 1) { buffer in
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            return (n, n > 0 ? [UInt8](UnsafeRawBufferPointer(rebasing: buffer[..<n])) : [])
        }
        if n > 0 {
            onRead(chunk)
        } else if n == 0 {
            end(nil)
        } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
            end(String(cString: strerror(errno)))
        }
    }

    private func writable() {
        let n = output.withUnsafeBytes { bytes in
            bytes.baseAddress.map { send(fd, $0 + written, bytes.count - written, Int32(MSG_NOSIGNAL)) } ?? 0
        }
        if n < 0 {
            if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { end(String(cString: strerror(errno))) }
            return
        }
        written += n
        guard written == output.count else {
            // A client reading slowly: do not keep moving what it has not read yet to the front
            // on every send, only once half the buffer is behind us.
            if written >= output.count / 2 {
                output.removeFirst(written)
                written = 0
            }
            return
        }
        output = []
        written = 0
        writer?.cancel()
        writer = nil
        onDrained()
    }

    private func end(_ reason: String?) {
        stop()
        onEnd(reason)
    }
}
