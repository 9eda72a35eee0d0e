import COpenSSL

/// The names a TLS peer's verified certificate carries: the subject's common names, then the DNS and
/// e-mail subject alternative names (what a login can be matched against).
enum PeerCertificate {
    /// Nil when the peer sent no certificate or it did not verify; names with an embedded NUL or that
    /// are not UTF-8 are left out (they could pass for a shorter name).
    static func names(of ssl: OpaquePointer) -> [String]? {
        guard let certificate = SSL_get0_peer_certificate(ssl), SSL_get_verify_result(ssl) == X509_V_OK else { return nil }
        return commonNames(certificate) + alternativeNames(certificate)
    }

    private static func commonNames(_ certificate: OpaquePointer) -> [String] {
        guard let subject = X509_get_subject_name(certificate) else { return [] }
        var names: [String] = []
        var position: Int32 = -1
        while true {
            position = X509_NAME_get_index_by_NID(subject, NID_commonName, position)
            guard position >= 0 else { return names }
            guard let entry = X509_NAME_get_entry(subject, position), let data = X509_NAME_ENTRY_get_data(entry) else { continue }
            var utf8: UnsafeMutablePointer<UInt8>?
            let length = ASN1_STRING_to_UTF8(&utf8, data)
            guard length >= 0, let utf8 else { continue }
            if let name = text(UnsafeBufferPointer(start: utf8, count: Int(length))) { names.append(name) }
            CRYPTO_free(utf8, #file, #line)
        }
    }

    private static func alternativeNames(_ certificate: OpaquePointer) -> [String] {
        guard let extensions = X509_get_ext_d2i(certificate, NID_subject_alt_name, nil, nil) else { return [] }
        let stack = OpaquePointer(extensions)
        defer { GENERAL_NAMES_free(stack) }
        var names: [String] = []
        for index in 0..<max(0, OPENSSL_sk_num(stack)) {
            guard let name = OPENSSL_sk_value(stack, index)?.assumingMemoryBound(to: GENERAL_NAME.self).pointee else { continue }
            let value: UnsafeMutablePointer<ASN1_STRING>?
            switch name.type {
            case GEN_DNS: value = name.d.dNSName
            case GEN_EMAIL: value = name.d.rfc822Name
            default: continue
            }
            guard let value, let bytes = ASN1_STRING_get0_data(value) else { continue }
            if let text = text(UnsafeBufferPointer(start: bytes, count: Int(ASN1_STRING_length(value)))) { names.append(text) }
        }
        return names
    }

    private static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard !bytes.isEmpty, !bytes.contains(0) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
