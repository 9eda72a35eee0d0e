import COpenSSL

/// Why TLS could not be set up; names the file or setting to fix.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }

    /// The text of OpenSSL's oldest queued error (and clear the queue).
    public static func openSSLReason() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        return text(of: code)
    }

    /// OpenSSL's text for an error code.
    static func text(of code: UInt) -> String {
        guard code != 0 else { return "unknown OpenSSL error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A server TLS configuration (one `SSL_CTX`): certificate chain and key from PEM files, TLS 1.2 or
/// 1.3 at the least, OpenSSL's default ciphers unless tightened. Shared by every loop (OpenSSL's
/// SSL_CTX is thread-safe once configured).
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer

    /// Sessions stay resumable this long: data connections of a long session resume the control
    /// connection's session.
    public static let sessionLifetimeSeconds = 24 * 3600

    /// Whether clients are asked for a certificate (mutual TLS). A certificate a client presents must
    /// chain to the client CA, or its handshake fails; `required` also fails handshakes without one.
    public enum ClientAuthentication: String, Sendable, CaseIterable {
        case off, optional, required
    }

    /// Data connections ask for kernel TLS (see `KernelTLS`): true only where it was wanted and the
    /// kernel has it.
    public let kernelOffload: Bool

    /// `clientCA` (PEM, one or more CA certificates) verifies client certificates; it is needed unless
    /// `clientAuthentication` is `.off`. `kernelOffload` lets data connections use kTLS where the
    /// kernel has it.
    public init(certificateFile: String, keyFile: String, minimumVersion: String = "1.2", ciphers: String? = nil,
                clientCA: String? = nil, clientAuthentication: ClientAuthentication = .off, kernelOffload: Bool = true) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError("SSL_CTX_new: \(TLSError.openSSLReason())") }
        self.context = context
        self.kernelOffload = kernelOffload && KernelTLS.available
        let version: Int32
        switch minimumVersion {
        case "1.2": version = ferry_tls1_2_version()
        case "1.3": version = ferry_tls1_3_version()
        default: throw TLSError("--tls-min-version \(minimumVersion): use 1.2 or 1.3")
        }
        guard ferry_ssl_ctx_set_min_proto_version(context, version) == 1 else {
            throw TLSError("cannot set the minimum TLS version: \(TLSError.openSSLReason())")
        }
        ferry_ssl_ctx_harden(context)
        SSL_CTX_set_timeout(context, Int(TLSContext.sessionLifetimeSeconds))
        guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else {
            throw TLSError("cannot load TLS certificate \(certificateFile): \(TLSError.openSSLReason())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError("cannot load TLS key \(keyFile): \(TLSError.openSSLReason())")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError("TLS key \(keyFile) does not match certificate \(certificateFile)")
        }
        if let ciphers {
            // TLS 1.2 suites and TLS 1.3 suites are set apart; accept either kind in one list.
            let okTLS12 = SSL_CTX_set_cipher_list(context, ciphers) == 1
            ERR_clear_error()
            let okTLS13 = SSL_CTX_set_ciphersuites(context, ciphers) == 1
            ERR_clear_error()
            guard okTLS12 || okTLS13 else { throw TLSError("--tls-ciphers \(ciphers): no cipher in the list is known to OpenSSL") }
        }
        try verifyClients(clientAuthentication, caFile: clientCA)
    }

    private func verifyClients(_ mode: ClientAuthentication, caFile: String?) throws(TLSError) {
        guard mode != .off else { return }
        guard let caFile else { throw TLSError("--tls-client-auth \(mode.rawValue) needs --tls-client-ca FILE: the CA that issues client certificates") }
        guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
            throw TLSError("cannot load the client CA \(caFile): \(TLSError.openSSLReason())")
        }
        // The CA names go in the CertificateRequest: clients with several certificates pick one of them.
        guard let names = SSL_load_client_CA_file(caFile) else {
            throw TLSError("no CA certificate in \(caFile): \(TLSError.openSSLReason())")
        }
        SSL_CTX_set_client_CA_list(context, names)
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | (mode == .required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), nil)
    }

    deinit { SSL_CTX_free(context) }

    /// A new server-side `SSL` whose sessions belong to `sessionContext` (up to 32 bytes): only
    /// connections with the same context can resume them.
    func makeSSL(sessionContext: [UInt8]) -> OpaquePointer? {
        guard let ssl = SSL_new(context) else { return nil }
        _ = sessionContext.withUnsafeBufferPointer { SSL_set_session_id_context(ssl, $0.baseAddress, UInt32($0.count)) }
        return ssl
    }
}
