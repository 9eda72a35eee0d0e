import FTPCore
import FerryReactor

/// Every setting of a running server, typed. `Settings.specs` declares each setting (name, default,
/// validation, help) and fills this in; a test checks that these initial values are its defaults.
public struct ServerConfiguration: Sendable {
    /// Folder served to anonymous users.
    public var root: String = "."
    /// Control listeners.
    public var listen: [SocketAddress] = [SocketAddress(host: "127.0.0.1", port: 2121)!]
    public var anonymous: Bool = true
    public var usersFile: String?
    /// Sessions in total; nil means what the descriptor budget allows.
    public var maxSessions: Int?
    public var maxSessionsPerIP: Int = 64
    public var passivePorts: ClosedRange<UInt16>?
    /// Addresses announced in PASV replies, per client network, instead of the control connection's
    /// local address.
    public var passiveAddresses = PassiveAddressRules()
    /// Whether connections start with a PROXY protocol header naming the real client, from which
    /// networks one is believed, and how long it may take to arrive.
    public var proxyProtocol = ProxyProtocolMode.off
    public var trustedProxies: [IPNetwork] = []
    /// Passive data connections from trusted proxies start with a header too.
    public var proxyProtocolData = false
    public var proxyProtocolTimeout = 5
    public var workers: Int = 1
    public var maxLoginFailures: Int = 3
    /// Failed logins from one address (in any sessions) before it is banned for `banSeconds`.
    public var maxFailedLoginsPerIP: Int = 10
    public var banSeconds: Int = 600
    /// Seconds a new session has to log in.
    public var loginTimeout: Int = 60
    /// Seconds a logged-in control connection may stay silent (not counting running transfers).
    public var idleTimeout: Int = 300
    /// Seconds to wait for a data connection to be accepted or to connect.
    public var dataConnectionTimeout: Int = 30
    /// Seconds a transfer may make no progress before it is dropped (426).
    public var transferStallTimeout: Int = 60
    /// Seconds SIGTERM/SIGINT waits for running transfers before exiting.
    public var shutdownGrace: Int = 10
    /// PEM certificate chain and key: set both to offer AUTH TLS.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Listeners that speak TLS from the first byte (implicit FTPS, port 990 by convention).
    public var implicitTLSListen: [SocketAddress] = []
    /// Refuse logins and data connections without TLS.
    public var requireTLS = false
    /// Data connections must resume their control connection's TLS session.
    public var tlsSessionReuseRequired = true
    /// A TLS upload must end with the client's close_notify (426 without it).
    public var tlsCloseNotifyRequired = true
    public var tlsMinimumVersion = "1.2"
    public var tlsCiphers: String?
    /// Client certificates (mutual TLS): the CA that issues them and whether one is asked for.
    public var tlsClientCA: String?
    public var tlsClientAuthentication = TLSContext.ClientAuthentication.off
    /// TLS data connections use kernel TLS where the kernel has it (`KernelTLS`).
    public var tlsKernelOffload = true
    /// Serve Prometheus metrics at /metrics and a health check at /healthz here.
    public var metricsListen: SocketAddress?
    /// Write an xferlog line per transfer to this file.
    public var xferlogPath: String?
    /// Bandwidth caps per session, bytes per second (nil: none).
    public var downloadRate: Int?
    public var uploadRate: Int?
    /// umask for files and folders that clients create (a user's own umask wins).
    public var umask: UInt32 = 0o022
    /// STOR over an existing file writes a temporary file and renames it over the target when complete.
    public var atomicUploads = false
    /// An upload's 226 waits for fsync of the file and its folder.
    public var fsyncUploads = false
    /// Commands run for server events (see `EventHooks`), their time limit and how many may run at once.
    public var hooks: [EventHooks.Event: String] = [:]
    public var hookTimeout = 30
    /// Every event is also posted as JSON here.
    public var eventURL: HTTPPoster.Target?
    public var maxHooks = 8
    /// Drop to this user once the ports are bound (when started as root).
    public var runAs: String?
    /// Server log: "text" or "json"; and the lowest level written.
    public var logFormat = "text"
    public var logLevel = "info"

    public init() {}
}

/// `--proxy-protocol`: see `ProxyHeaderReader`.
public enum ProxyProtocolMode: String, Sendable, CaseIterable {
    case off
    /// Connections from a trusted proxy must send a header; others are served as they are.
    case optional
    /// Only trusted proxies may connect, each connection with a header.
    case required
}
