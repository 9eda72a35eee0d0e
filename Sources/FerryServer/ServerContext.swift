import FTPCore
import FerryReactor
import Glibc
import Logging
import Synchronization

/// What every loop shares for the sessions it starts: configuration, logins, TLS, passive ports,
/// session counts, bans, metrics and logs. A reload (SIGHUP) builds a new one for new sessions;
/// running sessions keep theirs, so their TLS sessions stay resumable with the old certificate.
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
    public let descriptors: DescriptorBudget
    public let homes: HomeDirectories
    public let users: UserRegistry
    /// Sessions and bans shared with the other nodes, when the users are in PostgreSQL.
    let cluster: ClusterRegistry?
    public let xferlog: XferLog?
    /// The operator's commands for server events.
    public let hooks: EventHooks
    /// HASH and X* digests: the process-wide bound and the cache.
    public let digests: FileDigests
    /// The addresses of the host names in `configuration.passiveAddresses`.
    public let passiveAddressResolver: PassiveAddressResolver
    /// Timeouts, durations, rates and bans all read this clock.
    public let clock: MonotonicClock

    /// Load what `configuration` names (users file, certificate, xferlog). With `previous`, the
    /// counters that must survive a reload (sessions, bans, metrics) carry over with the new limits.
    public init(configuration: ServerConfiguration, descriptorBudget: Int, logger: Logger, previous: ServerContext?,
                clock: MonotonicClock = .system) throws(StartupError) {
        self.clock = previous?.clock ?? clock
        var root = stat()
        guard stat(configuration.root, &root) == 0, root.st_mode & S_IFMT == S_IFDIR else {
            throw StartupError("root folder \(configuration.root) is not a readable directory: \(String(cString: strerror(errno == 0 ? ENOTDIR : errno)))")
        }
        do {
            try JailedFileSystem(home: HomeHandle(path: configuration.root)).checkKernelSupport()
        } catch {
            throw StartupError("cannot confine file access to \(configuration.root): \(error)")
        }
        digests = previous?.digests ?? FileDigests(limit: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let webhook = configuration.eventURL.map { target in
            previous?.hooks.webhook.flatMap { $0.target == target ? $0 : nil } ?? Webhook(target: target, logger: logger)
        }
        hooks = EventHooks(commands: configuration.hooks, webhook: webhook, timeoutSeconds: configuration.hookTimeout,
                           maxRunning: configuration.maxHooks, logger: logger)
        passiveAddressResolver = PassiveAddressResolver(names: configuration.passiveAddresses.hostNames)
        if let unresolved = passiveAddressResolver.refresh().first {
            throw StartupError("cannot resolve \(unresolved) (--passive-address) to an IPv4 address")
        }
        let users: (any UserDirectory)?
        var samples: [String] = []
        var cluster: ClusterRegistry?
        if let location = configuration.usersFile, PostgresUsers.isURL(location) {
            let database: PostgresUsers
            do {
                database = try PostgresUsers(url: location)
            } catch {
                throw StartupError("--users: \(error)")
            }
            users = database
            cluster = database.cluster
            var version: Int?
            do {
                version = try database.schemaInstalled()
                samples = try database.hashSamples()
            } catch {
                logger.warning("the users database does not answer: logins get 421 until it does", metadata: ["error": "\(error)"])
            }
            if let version, version < PostgresUsers.schemaVersion {
                throw StartupError("the database \(database.displayName) has Ferry's schema version \(version), this Ferry needs "
                                   + "\(PostgresUsers.schemaVersion): run `ferry user init --users URL`")
            }
        } else {
            do {
                let file = try configuration.usersFile.map { path throws(UsersFileError) in try UsersFile.load(path: path) }
                users = file
                samples = file?.sampleHashes() ?? []
            } catch {
                throw StartupError(error.description)
            }
        }
        if configuration.proxyProtocol != .off && configuration.trustedProxies.isEmpty {
            throw StartupError("--proxy-protocol \(configuration.proxyProtocol.rawValue) needs --trusted-proxies CIDR: the load balancer's addresses")
        }
        if configuration.proxyProtocol == .off && configuration.proxyProtocolData {
            throw StartupError("--proxy-protocol-data needs --proxy-protocol optional or required (and --trusted-proxies)")
        }
        if configuration.proxyProtocol == .off && !configuration.trustedProxies.isEmpty {
            throw StartupError("--trusted-proxies is set but --proxy-protocol is off: set it to optional or required")
        }
        if configuration.tlsClientCA != nil && configuration.tlsClientAuthentication == .off {
            throw StartupError("--tls-client-ca is set but --tls-client-auth is off: set it to optional or required")
        }
        switch (configuration.tlsCertificate, configuration.tlsKey) {
        case let (certificate?, key?):
            do {
                tls = try TLSContext(certificateFile: certificate, keyFile: key, minimumVersion: configuration.tlsMinimumVersion,
                                     ciphers: configuration.tlsCiphers, clientCA: configuration.tlsClientCA,
                                     clientAuthentication: configuration.tlsClientAuthentication,
                                     kernelOffload: configuration.tlsKernelOffload)
            } catch {
                throw StartupError(error.description)
            }
        case (nil, nil):
            if configuration.requireTLS || !configuration.implicitTLSListen.isEmpty || configuration.tlsClientAuthentication != .off {
                throw StartupError("--require-tls, --implicit-tls-listen and --tls-client-auth need --tls-cert and --tls-key")
            }
            tls = nil
        default:
            throw StartupError("--tls-cert and --tls-key go together: give both")
        }
        if let old = previous?.xferlog, old.path == configuration.xferlogPath {
            xferlog = old
        } else {
            xferlog = try configuration.xferlogPath.map { path throws(StartupError) in try XferLog(path: path) }
        }
        descriptors = previous?.descriptors ?? DescriptorBudget(limit: descriptorBudget)
        homes = previous?.homes ?? HomeDirectories(budget: descriptors)
        let fromBudget = descriptors.capacity / DescriptorBudget.perSession
        let maxSessions = min(configuration.maxSessions ?? fromBudget, fromBudget)
        if let previous {
            limiter = previous.limiter
            limiter.setLimits(maxTotal: maxSessions, maxPerAddress: configuration.maxSessionsPerIP)
            bans = previous.bans
            bans.setLimits(maxFailures: configuration.maxFailedLoginsPerIP, banSeconds: configuration.banSeconds)
            metrics = previous.metrics
            self.users = previous.users
        } else {
            self.users = UserRegistry(clock: self.clock)
            limiter = SessionLimiter(maxTotal: maxSessions, maxPerAddress: configuration.maxSessionsPerIP)
            bans = LoginBans(maxFailures: configuration.maxFailedLoginsPerIP, banSeconds: configuration.banSeconds)
            metrics = Metrics()
        }
        passivePorts = previous.flatMap { $0.configuration.passivePorts == configuration.passivePorts ? $0.passivePorts : nil }
            ?? PassivePortAllocator(range: configuration.passivePorts)
        self.configuration = configuration
        authenticator = Authenticator(users: users, samples: samples, anonymousRoot: configuration.root)
        self.cluster = cluster
        self.logger = logger
        policy = SessionPolicy(anonymousAllowed: configuration.anonymous, maxLoginFailures: configuration.maxLoginFailures,
                               tlsAvailable: tls != nil, requireTLS: configuration.requireTLS)
    }
}

/// The context new sessions get; swapped whole by a reload.
final class CurrentContext: Sendable {
    private let context: Mutex<ServerContext>

    init(_ context: ServerContext) { self.context = Mutex(context) }

    var value: ServerContext {
        get { context.withLock { $0 } }
        set { context.withLock { $0 = newValue } }
    }
}
