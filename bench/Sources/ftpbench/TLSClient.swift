import COpenSSL
import Glibc

/// Client-side TLS for the FTPS workload. Every server gets the same offer: TLS 1.2 or 1.3 with
/// AES-128-GCM only, so the bulk cipher (what a 1 GiB transfer costs) is the same whichever version
/// a server picks. Certificates are not verified: the servers use a throwaway self-signed one.
final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer

    init() throws {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw BenchError("SSL_CTX_new failed") }
        self.context = context
        SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        ferry_ssl_ctx_ignore_unexpected_eof(context)
        guard SSL_CTX_set_ciphersuites(context, "TLS_AES_128_GCM_SHA256") == 1,
              SSL_CTX_set_cipher_list(context, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256") == 1
        else { throw BenchError("no AES-128-GCM cipher in this OpenSSL") }
    }

    deinit { SSL_CTX_free(context) }
}

/// One blocking TLS connection over a connected socket it does not own.
final class TLSChannel {
    private let ssl: OpaquePointer

    /// Handshake on `fd`; `resuming` offers the control connection's session, which servers that
    /// require data connections to resume it (vsftpd, Ferry, ProFTPD by default) insist on.
    init(context: TLSClientContext, fd: Int32, resuming session: TLSChannel? = nil) throws {
        guard let ssl = SSL_new(context.context) else { throw BenchError("SSL_new failed") }
        self.ssl = ssl
        SSL_set_fd(ssl, fd)
        if let session, let saved = SSL_get1_session(session.ssl) {
            SSL_set_session(ssl, saved)
            SSL_SESSION_free(saved)
        }
        guard SSL_connect(ssl) == 1 else { throw BenchError("TLS handshake: \(TLSChannel.lastError())") }
        // Data connections read ahead into the large buffer: one recv brings many records, not two
        // per record.
        if session != nil { SSL_ctrl(ssl, SSL_CTRL_SET_READ_AHEAD, 1, nil) }
    }

    deinit { SSL_free(ssl) }

    func send(_ bytes: UnsafeRawBufferPointer) throws {
        var written = 0
        guard SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &written) == 1 else {
            throw BenchError("TLS write: \(TLSChannel.lastError())")
        }
    }

    /// Bytes read into `buffer`; 0 at the end of the stream (close_notify or a bare close).
    func receive(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var count = 0
        if SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count) == 1 { return count }
        switch SSL_get_error(ssl, 0) {
        case SSL_ERROR_ZERO_RETURN: return 0
        default: throw BenchError("TLS read: \(TLSChannel.lastError())")
        }
    }

    /// Sends close_notify without waiting for the server's.
    func close() { SSL_shutdown(ssl) }

    private static func lastError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return String(cString: strerror(errno)) }
        return ERR_reason_error_string(code).map { String(cString: $0) } ?? "OpenSSL error \(code)"
    }
}
