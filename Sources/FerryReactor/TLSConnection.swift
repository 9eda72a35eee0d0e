import COpenSSL
import Glibc

/// Server-side TLS over a non-blocking socket that its owner drives from readiness events (used for
/// data connections, where the owner wants large reads and writes, not a bufferevent). Every call
/// says whether it finished or what readiness it waits for. Does not own the descriptor.
public final class TLSConnection {
    /// How a TLS call ended.
    public enum Status: Equatable {
        /// Done; for reads and writes, this many bytes.
        case done(Int)
        case wantRead
        case wantWrite
        /// The peer closed the TLS session with close_notify.
        case closed
        /// The peer closed the TCP connection without close_notify: what came before may be cut short.
        case truncated
        case failed(String)
    }

    private let ssl: OpaquePointer

    /// Read-ahead buffer: without read-ahead OpenSSL reads each record's 5-byte header and its body
    /// in two read(2)s, about 2 per 16 KiB on an FTPS upload; with it, one read takes what the socket
    /// holds, up to this much.
    static let readAheadBytes = 64 * 1024

    /// `sessionContext` must be the control connection's: only its sessions can be resumed here.
    public init(context: TLSContext, fd: Int32, sessionContext: [UInt8]) throws(TLSError) {
        guard let ssl = context.makeSSL(sessionContext: sessionContext) else { throw TLSError("SSL_new: \(TLSError.openSSLReason())") }
        self.ssl = ssl
        // A data connection resumes the control connection's session and never needs a ticket of its
        // own. Clients do not read one on an upload, and closing with it unread made their kernel
        // reset the connection, which threw away the end of the upload still in our receive buffer
        // (curl: 8 of 8 uploads of 250 000 bytes cut at 114 688 under TLS 1.3).
        SSL_set_num_tickets(ssl, 0)
        ferry_ssl_expect_close_notify(ssl)
        if context.kernelOffload { ferry_ssl_enable_ktls(ssl) }
        SSL_set_read_ahead(ssl, 1)
        SSL_set_default_read_buffer_len(ssl, TLSConnection.readAheadBytes)
        SSL_set_fd(ssl, fd)
        SSL_set_accept_state(ssl)
    }

    deinit { SSL_free(ssl) }

    public func handshake() -> Status {
        status(SSL_do_handshake(ssl), ok: 0)
    }

    /// True when the handshake resumed an earlier session (with this connection's session context).
    public var sessionReused: Bool { SSL_session_reused(ssl) == 1 }

    public func read(_ buffer: UnsafeMutableRawBufferPointer) -> Status {
        var count = 0
        let result = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count)
        return result == 1 ? .done(count) : status(result, ok: count)
    }

    /// OpenSSL holds input that `read` has not returned (read ahead): whole records, which the socket
    /// may never announce again, or only part of one, which needs more from the socket.
    public var hasBufferedInput: Bool { SSL_has_pending(ssl) == 1 }

    public func write(_ buffer: UnsafeRawBufferPointer) -> Status {
        var count = 0
        let result = SSL_write_ex(ssl, buffer.baseAddress, buffer.count, &count)
        return result == 1 ? .done(count) : status(result, ok: count)
    }

    /// True once the handshake has handed this connection's sending to kernel TLS (the context asked
    /// for it, and the kernel took the negotiated cipher): `sendFile` works.
    public var kernelSends: Bool { ferry_ssl_kernel_sends(ssl) != 0 }

    /// Send up to `count` bytes of the file `fd` from `offset` with SSL_sendfile: the kernel reads,
    /// encrypts and sends them, never through user space. Only when `kernelSends`.
    public func sendFile(_ fd: Int32, offset: Int64, count: Int) -> Status {
        let result = SSL_sendfile(ssl, fd, off_t(offset), count, 0)
        return result >= 0 ? .done(result) : status(Int32(truncatingIfNeeded: result), ok: 0)
    }

    /// Send close_notify (best effort, once): clients such as ftplib treat a TLS data connection
    /// closed without it as truncated.
    public func shutdown() {
        if SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN == 0 {
            SSL_shutdown(ssl)
        }
        ERR_clear_error()
    }

    private func status(_ result: Int32, ok: Int) -> Status {
        if result > 0 { return .done(ok) }
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            let code = errno
            ERR_clear_error()
            return code == 0 ? .truncated : .failed(String(cString: strerror(code)))
        case SSL_ERROR_SSL where ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING:
            ERR_clear_error()
            return .truncated
        default:
            return .failed(TLSError.openSSLReason())
        }
    }
}
