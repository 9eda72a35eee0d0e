import Foundation
import Testing

/// TLS client certificates (mutual TLS) with curl and ftplib, against a CA the test makes with openssl.
@Suite struct ClientCertificateTests {
    /// A CA, certificates it issued for carol, dan and (by a DNS subject alternative name only) erin,
    /// and a self-signed certificate that claims to be carol.
    final class PKI {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-pki-\(UUID().uuidString)")

        init() throws {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                         "-keyout", path("ca.key"), "-out", path("ca.pem"), "-subj", "/CN=Ferry Test CA"])
            try issue("carol", subject: "/CN=carol")
            try issue("dan", subject: "/CN=dan")
            try Disk.write(folder.appendingPathComponent("erin.ext"), "subjectAltName=DNS:erin,email:erin@example.org\n")
            try issue("erin", subject: "/CN=Erin Example", extensions: path("erin.ext"))
            try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                         "-keyout", path("rogue.key"), "-out", path("rogue.pem"), "-subj", "/CN=carol"])
        }

        deinit { try? FileManager.default.removeItem(at: folder) }

        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

        /// curl's options to present `name`'s certificate.
        func curl(_ name: String) -> [String] { ["--cert", path("\(name).pem"), "--key", path("\(name).key")] }

        private func issue(_ name: String, subject: String, extensions: String? = nil) throws {
            try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", subject])
            try openssl(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
                         "-days", "2", "-out", path("\(name).pem")] + (extensions.map { ["-extfile", $0] } ?? []))
        }

        private func openssl(_ arguments: [String]) throws {
            let result = try Tool.run("openssl", arguments)
            guard result.status == 0 else { throw HarnessError.message("openssl \(arguments.joined(separator: " ")): \(result.stderr)") }
        }
    }

    /// carol and erin log in by certificate alone, dan with his certificate and password, alice (from
    /// `Disk.makeUsers`) with her password as before.
    static func server(_ pki: PKI, auth: String) throws -> FerryProcess {
        try FerryProcess(["--tls-client-ca", pki.path("ca.pem"), "--tls-client-auth", auth], users: true, tls: true, prepare: { scratch, _ in
            try Disk.addUser(scratch, "carol", password: "carol-pw", ["--client-cert", "without-password"])
            try Disk.addUser(scratch, "dan", password: "dan-pw", ["--client-cert", "with-password"])
            try Disk.addUser(scratch, "erin", password: "erin-pw", ["--client-cert", "without-password"])
        })
    }

    static let curlTLS = ["-sS", "--ssl-reqd", "-k", "--max-time", "20"]

    @Test func optionalClientCertificatesDecideWhoLogsInHow() throws {
        let pki = try PKI()
        let server = try Self.server(pki, auth: "optional")
        try Disk.write(server.home("carol").appendingPathComponent("a.txt"), "carol's file")

        let byCertificate = try Tool.run("curl", Self.curlTLS + pki.curl("carol") + ["\(server.url)/a.txt", "--user", "carol:"])
        #expect(byCertificate.status == 0 && byCertificate.stdout == "carol's file", "\(byCertificate.stderr)\n\(server.log)")

        let upload = try Tool.run("curl", Self.curlTLS + pki.curl("dan") + ["-T", "-", "\(server.url)/up.txt", "--user", "dan:dan-pw"],
                                  input: Data("two factors".utf8))
        #expect(upload.status == 0, "\(upload.stderr)\n\(server.log)")
        #expect(Disk.read(server.home("dan").appendingPathComponent("up.txt")) == "two factors")

        let mismatch = try Tool.run("curl", Self.curlTLS + pki.curl("carol") + ["\(server.url)/", "--user", "dan:dan-pw"])
        #expect(mismatch.status == 67 && mismatch.stderr.contains("530"), "CN carol cannot log in as dan: \(mismatch.stderr)")
        let noCertificate = try Tool.run("curl", Self.curlTLS + ["\(server.url)/", "--user", "dan:dan-pw"])
        #expect(noCertificate.status == 67, "dan's password alone: \(noCertificate.stderr)")
        let passwordForCertificateUser = try Tool.run("curl", Self.curlTLS + ["\(server.url)/", "--user", "carol:carol-pw"])
        #expect(passwordForCertificateUser.status == 67, "carol logs in by certificate only: \(passwordForCertificateUser.stderr)")

        let subjectAlternativeName = try Tool.run("curl", Self.curlTLS + pki.curl("erin") + ["\(server.url)/", "--user", "erin:"])
        #expect(subjectAlternativeName.status == 0, "erin is named by a DNS SAN: \(subjectAlternativeName.stderr)")
        let passwordUser = try Tool.run("curl", Self.curlTLS + ["\(server.url)/", "--user", "alice:secret"])
        #expect(passwordUser.status == 0, "optional: no certificate is fine for a password user: \(passwordUser.stderr)")
        let rogue = try Tool.run("curl", Self.curlTLS + pki.curl("rogue") + ["\(server.url)/a.txt", "--user", "carol:"])
        #expect(rogue.status != 0 && rogue.stdout.isEmpty, "a certificate from another CA is refused")

        // ftplib sees the RFC 2228 reply: logged in by the security exchange, no PASS asked for.
        let result = try Tool.python(FtplibTests.prelude + #"""
import ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(os.environ["CERT"], os.environ["KEY"])
f = ftplib.FTP_TLS(context=ctx); f.connect(HOST, PORT, timeout=30); f.auth()
print(f.sendcmd("USER carol"))
print(f.sendcmd("PWD"))
f.quit()
"""#, server: server, extra: ["CERT": pki.path("carol.pem"), "KEY": pki.path("carol.key")])
        #expect(result.status == 0 && result.stdout.hasPrefix("232 "), "\(result.stdout)\(result.stderr)")

        let log = server.log
        #expect(log.contains("clientCertificate=carol"), "\(log)")
        #expect(log.contains("reason=the user needs a client certificate naming them (client-cert=with-password) user=dan"), "\(log)")
        #expect(log.contains("reason=the user logs in by client certificate only (client-cert=without-password) user=carol"), "\(log)")
        #expect(log.contains("certificate verify failed (client certificate: self-signed certificate)"), "\(log)")
    }

    @Test func requiredClientCertificatesRefuseHandshakesWithoutOne() throws {
        let pki = try PKI()
        let server = try Self.server(pki, auth: "required")
        let missing = try Tool.run("curl", Self.curlTLS + ["\(server.url)/", "--user", "alice:secret"])
        #expect(missing.status != 0 && missing.stdout.isEmpty, "no certificate, no session: \(missing.stderr)")
        let withOne = try Tool.run("curl", Self.curlTLS + pki.curl("dan") + ["\(server.url)/", "--user", "dan:dan-pw"])
        #expect(withOne.status == 0, "\(withOne.stderr)\n\(server.log)")
        #expect(server.log.contains("peer did not return a certificate"), "\(server.log)")
    }

    @Test func aMisconfigurationSaysWhatToSet() throws {
        let pki = try PKI()
        for (flags, message) in [(["--tls-client-auth", "required"], "--tls-client-auth required needs --tls-client-ca FILE"),
                                 (["--tls-client-ca", pki.path("ca.pem")], "--tls-client-ca is set but --tls-client-auth is off"),
                                 (["--tls-client-ca", pki.path("missing.pem"), "--tls-client-auth", "optional"], "cannot load the client CA")] {
            let port = try FerryProcess.freePort(host: "127.0.0.1")
            let result = try Tool.run(FerryProcess.binary, ["serve", "--listen", "127.0.0.1:\(port)", "--tls-cert", pki.path("carol.pem"),
                                                            "--tls-key", pki.path("carol.key")] + flags, timeout: 20)
            #expect(result.status != 0 && result.stderr.contains(message), "\(flags): \(result.stderr)")
        }
    }
}
