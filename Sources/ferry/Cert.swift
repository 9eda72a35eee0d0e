import ArgumentParser
import FerryServer
@preconcurrency import Glibc

/// `ferry cert self-signed`: a certificate and key for a quick FTPS start.
struct Cert: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Make TLS certificates.", subcommands: [SelfSigned.self])

    struct SelfSigned: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "self-signed",
                                                        abstract: "Write cert.pem and key.pem (self-signed, one year) into a folder.")
        @Option(help: "Folder to write into (created if missing).") var out: String
        @Option(help: "Host name or IP address the certificate names.") var name: String = "localhost"

        func run() throws {
            if mkdir(out, 0o755) != 0 && errno != EEXIST {
                throw ValidationError("cannot create \(out): \(String(cString: strerror(errno)))")
            }
            let (certificate, key) = try SelfSignedCertificate.write(to: out, name: name)
            print("wrote \(certificate) and \(key) for \(name); start with: ferry serve --tls-cert \(certificate) --tls-key \(key)")
        }
    }
}
