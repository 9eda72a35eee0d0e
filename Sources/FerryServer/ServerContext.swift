import FTPCore
import FerryReactor
import Logging

/// What every loop shares: configuration, logins, passive ports, session counts and the log.
public final class ServerContext: Sendable {
    public let configuration: ServerConfiguration
    public let authenticator: Authenticator
    public let passivePorts: PassivePortAllocator
    public let limiter: SessionLimiter
    public let logger: Logger
    public let policy: SessionPolicy
    /// Set when a certificate is configured.
    public let tls: TLSContext?
    public let metrics: Metrics
    public let bans: LoginBans
    public let xferlog: XferLog?

    public init(configuration: ServerConfiguration, users: UsersFile?, tls: TLSContext?, xferlog: XferLog?, maxSessions: Int,
                logger: Logger) {
        self.tls = tls
        self.xferlog = xferlog
        metrics = Metrics(loops: max(1, configuration.workers))
        bans = LoginBans(maxFailures: configuration.maxFailedLoginsPerIP, banSeconds: configuration.banSeconds)
        self.configuration = configuration
        authenticator = Authenticator(users: users, anonymousRoot: configuration.root)
        passivePorts = PassivePortAllocator(range: configuration.passivePorts)
        limiter = SessionLimiter(maxTotal: maxSessions, maxPerAddress: configuration.maxSessionsPerIP)
        self.logger = logger
        policy = SessionPolicy(anonymousAllowed: configuration.anonymous, maxLoginFailures: configuration.maxLoginFailures,
                               tlsAvailable: tls != nil, requireTLS: configuration.requireTLS)
    }
}
