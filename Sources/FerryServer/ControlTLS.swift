import FerryReactor
import Logging

/// TLS on one control connection: implicit TLS from the first byte or AUTH TLS's upgrade, the
/// handshake's metric and log line, and the session context that binds data connections to it.
final class ControlTLS {
    /// Binds this session's TLS sessions to it: a data connection can resume only these (see
    /// `TLSContext.makeSSL`), so a client behind the same NAT cannot take over a passive port.
    /// Made when TLS first needs it: most sessions on a plain server never do.
    private(set) lazy var sessionContext: [UInt8] = (0..<32).map { _ in UInt8.random(in: 0...255) }
    private let context: ServerContext
    /// A handshake is under way (a failure then counts as one).
    private var handshaking: Bool

    init(context: ServerContext, implicit: Bool) {
        self.context = context
        handshaking = implicit && context.tls != nil
    }

    /// What the stream starts with: under implicit TLS, a handshake at once.
    var initial: (TLSContext, sessionContext: [UInt8])? {
        handshaking ? context.tls.map { ($0, sessionContext: sessionContext) } : nil
    }

    /// AUTH TLS: the handshake starts once the 234 is out.
    func upgrade(_ stream: any ControlStream) {
        guard let tls = context.tls else { return }
        stream.startTLS(tls, sessionContext: sessionContext)
        handshaking = true
    }

    /// The handshake completed: counted and logged; the names of the client's certificate (none
    /// without one) are the session's to check at login.
    func secured(_ stream: any ControlStream, logger: Logger) -> [String] {
        handshaking = false
        context.metrics.tlsHandshake(succeeded: true)
        let names = stream.peerCertificateNames ?? []
        if names.isEmpty {
            logger.info("control connection secured with TLS")
        } else {
            logger.info("control connection secured with TLS", metadata: ["clientCertificate": "\(names.joined(separator: ", "))"])
        }
        return names
    }

    /// The connection closed: a handshake under way failed.
    func closed() {
        if handshaking { context.metrics.tlsHandshake(succeeded: false) }
        handshaking = false
    }
}
