import FTPCore
import Logging

/// What every loop shares: configuration, logins, passive ports, session counts and the log.
public final class ServerContext: Sendable {
    public let configuration: ServerConfiguration
    public let authenticator: Authenticator
    public let passivePorts: PassivePortAllocator
    public let limiter: SessionLimiter
    public let logger: Logger
    public let policy: SessionPolicy

    public init(configuration: ServerConfiguration, users: UsersFile?, maxSessions: Int, logger: Logger) {
        self.configuration = configuration
        authenticator = Authenticator(users: users, anonymousRoot: configuration.root)
        passivePorts = PassivePortAllocator(range: configuration.passivePorts)
        limiter = SessionLimiter(maxTotal: maxSessions, maxPerAddress: configuration.maxSessionsPerIP)
        self.logger = logger
        policy = SessionPolicy(anonymousAllowed: configuration.anonymous, maxLoginFailures: configuration.maxLoginFailures)
    }
}
