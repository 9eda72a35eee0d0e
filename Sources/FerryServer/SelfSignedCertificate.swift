import COpenSSL
import FTPCore
import Glibc

/// A self-signed certificate for a quick FTPS start, made with OpenSSL's API: an ECDSA P-256 key and
/// a one-year certificate for `name` (as DNS name or IP address in subjectAltName).
public enum SelfSignedCertificate {
    /// Write `cert.pem` and `key.pem` (mode 0600) into `directory`; returns their paths.
    public static func write(to directory: String, name: String) throws(StartupError) -> (certificate: String, key: String) {
        guard let key = ferry_generate_p256_key() else { throw StartupError("cannot generate a key: \(openSSLReason())") }
        defer { EVP_PKEY_free(key) }
        guard let x509 = X509_new() else { throw StartupError("X509_new failed") }
        defer { X509_free(x509) }
        X509_set_version(x509, 2)
        ASN1_INTEGER_set(X509_get_serialNumber(x509), Int.random(in: 1...Int(Int32.max)))
        X509_gmtime_adj(X509_getm_notBefore(x509), 0)
        X509_gmtime_adj(X509_getm_notAfter(x509), 365 * 24 * 3600)
        X509_set_pubkey(x509, key)
        let subject = X509_get_subject_name(x509)
        X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, name, -1, -1, 0)
        X509_set_issuer_name(x509, subject)
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, x509, x509, nil, nil, 0)
        let alternativeName = (IPAddress(name) != nil ? "IP:" : "DNS:") + name
        guard let extensionValue = X509V3_EXT_conf_nid(nil, &context, NID_subject_alt_name, alternativeName) else {
            throw StartupError("cannot use \(name) as a certificate name: \(openSSLReason())")
        }
        X509_add_ext(x509, extensionValue, -1)
        X509_EXTENSION_free(extensionValue)
        guard X509_sign(x509, key, EVP_sha256()) > 0 else { throw StartupError("cannot sign the certificate: \(openSSLReason())") }

        let keyPath = directory + "/key.pem"
        let certificatePath = directory + "/cert.pem"
        try writePEM(keyPath, mode: 0o600) { PEM_write_PrivateKey($0, key, nil, nil, 0, nil, nil) }
        try writePEM(certificatePath, mode: 0o644) { PEM_write_X509($0, x509) }
        return (certificatePath, keyPath)
    }

    private static func writePEM(_ path: String, mode: mode_t, _ body: (UnsafeMutablePointer<FILE>) -> Int32) throws(StartupError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        // open's mode applies only to a new file: an existing key.pem must not keep a looser one.
        guard fd >= 0, fchmod(fd, mode) == 0, let file = fdopen(fd, "w") else {
            throw StartupError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let ok = body(file) == 1
        guard fclose(file) == 0, ok else { throw StartupError("cannot write \(path): \(openSSLReason())") }
    }

    private static func openSSLReason() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return String(cString: strerror(errno)) }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
