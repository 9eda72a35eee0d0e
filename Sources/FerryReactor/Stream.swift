import CLibevent
import COpenSSL
import Glibc

/// A buffered byte stream over a connected socket, used for control connections: incoming bytes go
/// to `onRead`, `write` queues output, `onDrained` says the output has all reached the kernel,
/// `readingPaused` applies backpressure, and `closeAfterFlush` closes once everything queued has
/// reached the kernel or a deadline passed, whichever comes first. It can start as TLS (implicit
/// FTPS) or switch to TLS in place (`startTLS`, for AUTH TLS). Plaintext moves through a
/// `PlainSocket` (no buffers while idle), TLS through libevent's OpenSSL bufferevent. Owns the
/// socket: as a `Descriptor` while plaintext, then through the TLS bufferevent, which closes it
/// when freed.
public final class Stream {
    /// While plaintext.
    private var plain: PlainSocket?
    /// Once TLS is on.
    private var bev: OpaquePointer?
    private var descriptor: Descriptor?
    /// The socket's number, valid until `close`.
    private let fd: Int32
    private var onRead: (([UInt8]) -> Void)?
    private var onClose: ((String?) -> Void)?
    /// Everything written so far has reached the kernel.
    public var onDrained: (() -> Void)?
    private var closing = false
    /// Runs once the socket is closed after `closeAfterFlush`.
    private var onClosed: (() -> Void)?
    private var closeDeadline: EventWatcher?
    /// Holds the stream alive while `closeAfterFlush` waits for the output to drain, so the owner can
    /// let go of it at once.
    private var keepAlive: Unmanaged<Stream>?
    /// Upper bound of bytes taken per read callback (what the client can make the server hold).
    private let readChunk = 16 * 1024
    private let loop: EventLoop
    /// The TLS connection once TLS is on (its `SSL` is owned and freed by the bufferevent).
    private var ssl: OpaquePointer?
    /// AUTH TLS is waiting for the reply before it to drain.
    private var pendingTLS: (TLSContext, [UInt8])?
    private var onSecured: (() -> Void)?
    /// A peer that stops mid-handshake is dropped after this long (reported through `onClose`).
    private let handshakeTimeoutMilliseconds: Int
    private var handshakeDeadline: EventWatcher?

    /// `onRead` gets each chunk of input; `onClose` is called once when the peer closes or the
    /// connection fails (with a reason), not when `close()` is called. With `tls`, the stream starts
    /// with a TLS handshake (implicit FTPS).
    /// `onSecured` runs after each completed TLS handshake; one that takes longer than
    /// `handshakeTimeoutMilliseconds` ends the stream with the reason "TLS handshake timed out".
    public init(loop: EventLoop, socket: consuming Descriptor, tls: (TLSContext, sessionContext: [UInt8])? = nil,
                handshakeTimeoutMilliseconds: Int = 30_000,
                onRead: @escaping ([UInt8]) -> Void, onClose: @escaping (String?) -> Void, onSecured: @escaping () -> Void = {}) {
        fd = socket.rawValue
        descriptor = consume socket
        self.handshakeTimeoutMilliseconds = handshakeTimeoutMilliseconds
        self.loop = loop
        self.onRead = onRead
        self.onClose = onClose
        self.onSecured = onSecured
        if let tls {
            attachTLS(tls.0, sessionContext: tls.sessionContext)
        } else {
            plain = PlainSocket(loop: loop, fd: fd, readChunk: readChunk, onRead: { [unowned self] in self.onRead?($0) },
                                onDrained: { [unowned self] in self.drained() }, onEnd: { [unowned self] in self.end(reason: $0) })
        }
    }

    private func setCallbacks() {
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
        bufferevent_enable(bev, Int16(readingPaused ? EV_WRITE : EV_READ | EV_WRITE))
    }

    /// Replace the plaintext bufferevent by a TLS one on the same socket (server side, accepting).
    private func attachTLS(_ context: TLSContext, sessionContext: [UInt8]) {
        guard let ssl = context.makeSSL(sessionContext: sessionContext) else {
            bev = nil
            return
        }
        self.ssl = ssl
        bev = bufferevent_openssl_socket_new(loop.base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue))
        if bev == nil {
            SSL_free(ssl)
            self.ssl = nil
            return
        }
        // The TLS bufferevent closes the socket when it is freed (CLOSE_ON_FREE also frees the SSL).
        _ = descriptor.take()?.release()
        // Many clients drop the control connection without close_notify: that is an end, not an error.
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1)
        setCallbacks()
        handshakeDeadline = EventWatcher.timer(loop: loop) { [unowned self] in self.end(reason: "TLS handshake timed out") }
        handshakeDeadline?.schedule(timeoutMilliseconds: handshakeTimeoutMilliseconds)
    }

    /// The names in the client's verified certificate (see `PeerCertificate`); nil without TLS, or
    /// when the client sent no certificate.
    public var peerCertificateNames: [String]? {
        ssl.flatMap(PeerCertificate.names)
    }

    /// TLS 1.3: send the peer a fresh session ticket with the next write. Clients that use each ticket
    /// once (Java's TLS) resume data connections with them; replacing each one a data connection
    /// consumed lets them keep resuming.
    public func issueSessionTicket() {
        if let ssl, SSL_version(ssl) >= TLS1_3_VERSION { SSL_new_session_ticket(ssl) }
    }

    /// Switch to TLS once everything written so far (the 234 reply) has reached the kernel. Reading
    /// stops at once: the ClientHello stays in the kernel until the TLS bufferevent reads it (what
    /// the client sent after the command and was read with it is the owner's to drop: no command
    /// injection before TLS).
    public func startTLS(_ context: TLSContext, sessionContext: [UInt8]) {
        guard let plain, !closing else { return }
        plain.reading = false
        pendingTLS = (context, sessionContext)
        if pendingOutput == 0 { upgradeNow() }
    }

    private func upgradeNow() {
        guard let (context, sessionContext) = pendingTLS, let plain else { return }
        pendingTLS = nil
        plain.stop()
        self.plain = nil
        attachTLS(context, sessionContext: sessionContext)
        if bev == nil {
            let code = ERR_get_error()
            end(reason: code == 0 ? "TLS could not be set up" : "TLS: " + TLSError.text(of: code))
        }
    }

    public func write(_ text: String) {
        guard !closing else { return }
        var text = text
        if let plain {
            text.withUTF8 { plain.write(UnsafeRawBufferPointer($0)) }
        } else if let bev {
            text.withUTF8 { _ = bufferevent_write(bev, $0.baseAddress, $0.count) }
        }
    }

    /// Bytes queued but not yet handed to the kernel.
    public var pendingOutput: Int {
        if let plain { return plain.pendingOutput }
        guard let bev else { return 0 }
        return evbuffer_get_length(bufferevent_get_output(bev))
    }

    /// While true, the socket is not read and input already buffered waits: the peer's kernel
    /// buffers fill and its sends stall (backpressure).
    public var readingPaused = false {
        didSet {
            guard !closing, readingPaused != oldValue, pendingTLS == nil else { return }
            if let plain {
                plain.reading = !readingPaused
                return
            }
            guard let bev else { return }
            if readingPaused {
                bufferevent_disable(bev, Int16(EV_READ))
            } else {
                bufferevent_enable(bev, Int16(EV_READ))
                // Input read before the pause is not announced again by libevent.
                readable()
            }
        }
    }

    /// Close once every queued byte has been written, or after `deadlineMilliseconds` with a reset
    /// if the peer has not read it by then (a client that never reads cannot keep the socket, its
    /// output or its descriptor). `onClosed` runs once the socket is closed, either way.
    public func closeAfterFlush(deadlineMilliseconds: Int, onClosed: @escaping () -> Void = {}) {
        guard plain != nil || bev != nil, !closing else { return onClosed() }
        closing = true
        // The owner is done with this stream: no more callbacks into it.
        onRead = nil
        onClose = nil
        onSecured = nil
        onDrained = nil
        self.onClosed = onClosed
        plain?.reading = false
        if let bev { bufferevent_disable(bev, Int16(EV_READ)) }
        if pendingOutput == 0 {
            close()
        } else {
            keepAlive = Unmanaged.passRetained(self)
            closeDeadline = EventWatcher.timer(loop: loop) { [unowned self] in
                Sockets.setResetOnClose(self.fd)
                self.close()
            }
            closeDeadline?.schedule(timeoutMilliseconds: deadlineMilliseconds)
        }
    }

    /// Stop, free the bufferevent and close the socket now (after a TLS close_notify, best effort).
    /// Idempotent; does not call `onClose`.
    public func close() {
        plain?.stop()
        plain = nil
        if let bev {
            if let ssl {
                SSL_shutdown(ssl)
                ERR_clear_error()
            }
            bufferevent_free(bev)
        }
        descriptor = nil
        bev = nil
        onRead = nil
        onClose = nil
        onSecured = nil
        onDrained = nil
        closeDeadline?.cancel()
        closeDeadline = nil
        handshakeDeadline?.cancel()
        handshakeDeadline = nil
        let closed = onClosed
        onClosed = nil
        let held = keepAlive
        keepAlive = nil
        closed?()
        held?.release()
    }

    private func readable() {
        guard let bev else { return }
        let input = bufferevent_get_input(bev)
        while bev == self.bev, !readingPaused, evbuffer_get_length(input) > 0 {
            var chunk = [UInt8](repeating: 0, count: min(readChunk, evbuffer_get_length(input)))
            let n = chunk.withUnsafeMutableBytes { evbuffer_remove(input, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            if n < chunk.count { chunk.removeLast(chunk.count - Int(n)) }
            onRead?(chunk)
        }
    }

    private func drained() {
        if pendingTLS != nil { return upgradeNow() }
        if closing { return close() }
        onDrained?()
    }

    private func failed(_ what: Int16) {
        if Int32(what) & BEV_EVENT_CONNECTED != 0 {
            // TLS handshake done.
            handshakeDeadline?.cancel()
            handshakeDeadline = nil
            onSecured?()
            return
        }
        var reason: String?
        if Int32(what) & BEV_EVENT_EOF == 0 {
            let tlsError = bev.map { bufferevent_get_openssl_error($0) } ?? 0
            if tlsError != 0 {
                reason = "TLS: " + TLSError.text(of: tlsError) + certificateProblem
            } else {
                reason = errno == 0 ? "connection error" : String(cString: strerror(errno))
            }
        }
        end(reason: reason)
    }

    /// Why the client's certificate failed verification, to append to a handshake failure ("" if it did not).
    private var certificateProblem: String {
        guard let ssl, case let verdict = SSL_get_verify_result(ssl), verdict != X509_V_OK else { return "" }
        return " (client certificate: \(String(cString: X509_verify_cert_error_string(verdict))))"
    }

    /// Close and tell the owner, once.
    private func end(reason: String?) {
        let callback = onClose
        close()
        callback?(reason)
    }

    deinit { close() }
}
