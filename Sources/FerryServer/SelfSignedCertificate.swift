import COpenSSL
import FTPCore
import FerryReactor
import Glibc

/// A self-signed certificate for a quick FTPS start, made with OpenSSL's API: an ECDSA P-256 key and
/// a one-year certificate for `name` (as DNS name or IP address in subjectAltName).
public enum SelfSignedCertificate {
    /// Write `cert.pem` and `key.pem` (mode 0600) into `directory`; returns their paths.
    public static func write(to directory: String, name: String) throws(StartupError) -> (certificate: String, key: String) {
        guard let key = ferry_generate_p256_key() else { throw StartupError("cannot generate a key: \(TLSError.openSSLReason())") }
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
            throw StartupError("cannot use \(name) as a certificate name: \(TLSError.openSSLReason())")
        }
        X509_add_ext(x509, extensionValue, -1)
        X509_EXTENSION_free(extensionValue)
        guard X509_sign(x509, key, EVP_sha256()) > 0 else { throw StartupError("cannot sign the certificate: \(TLSError.openSSLReason())") }

        let keyPath = directory + "/key.pem"
        let certificatePath = directory + "/cert.pem"
        try writePEM(keyPath, mode: 0o600) { PEM_write_PrivateKey($0, key, nil, nil, 0, nil, nil) }
        try writePEM(certificatePath, mode: 0o644) { PEM_write_X509($0, x509) }
        return (certificatePath, keyPath)
    }

    private static func writePEM(_ path: String, mode: mode_t, _ body: (UnsafeMutablePointer<FILE>) -> Int32) throws(StartupError) {
        let opened = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard opened >= 0 else { throw StartupError("cannot write \(path): \(SystemError("open").reason)") }
        let descriptor = Descriptor(taking: opened)
        // open's mode applies only to a new file: an existing key.pem must not keep a looser one.
        guard fchmod(descriptor.rawValue, mode) == 0 else { throw StartupError("cannot write \(path): \(SystemError("fchmod").reason)") }
        // The FILE stream owns the descriptor from here; fclose closes it.
        let fd = descriptor.release()
        guard let file = fdopen(fd, "w") else {
            let error = SystemError("fdopen")
            Descriptor(taking: fd).close()
            throw StartupError("cannot write \(path): \(error.reason)")
        }
        let failure = body(file) == 1 ? nil : TLSError.openSSLReason()
        guard fclose(file) == 0 else { throw StartupError("cannot write \(path): \(SystemError("fclose").reason)") }
        if let failure { throw StartupError("cannot write \(path): \(failure)") }
    }
}
