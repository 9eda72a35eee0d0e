import FTPCore
import FerryReactor
import Logging

/// What a logged-in user's session works with: their home and the limits their transfers obey.
struct LoginGrant {
    let account: Account
    /// Where the home is on disk (for the xferlog).
    let home: String
    let fileSystem: JailedFileSystem
    let maxFileSize: UInt64?
    let quota: (any Quota)?
    /// Bandwidth caps: the server's own, and the user's shared ones.
    let downloadCaps: [TokenBucket]
    let uploadCaps: [TokenBucket]

    /// Where `path` of this home is on disk (for the xferlog and the event hooks).
    func onDisk(_ path: VirtualPath) -> String {
        home == "/" ? path.description : home + path.description
    }
}

/// The login pipeline of one session: bans (checked at every PASS), password hashing on the worker
/// pool, the growing delay before a failure's reply, the per-user session limit, the first quota walk
/// (off the loop) and opening the home. Each attempt reports one `Result` on the loop. Holds the
/// user's place in `context.users` until `end`.
final class LoginCoordinator {
    enum Result {
        case loggedIn(LoginGrant)
        /// Wrong user or password; reported after the failure delay.
        case failed
        /// The client certificate named the user, who also needs a password.
        case passwordRequired
        /// Close the session with this reason (address banned, user at max-sessions).
        case refused(String)
        /// The password matched but the home cannot be opened.
        case homeUnavailable
        /// No login within the login timeout.
        case timedOut
    }

    /// The 421 a login gets while the database behind users, sessions or quotas does not answer.
    static let directoryUnavailable = "Service not available, try again later (the user directory cannot be reached)."

    private let loop: any Scheduler
    private let context: ServerContext
    private let peerAddress: IPAddress
    /// The session's logger (given again once it names the user).
    var logger: Logger
    private let report: (Result) -> Void
    private var delayTimer: (any LoopTimer)?
    private var timeoutTimer: (any LoopTimer)?
    /// The user counted in `context.users`.
    private var registeredUser: String?
    /// This session's row in the cluster's session table (users in PostgreSQL).
    private var clusterSession: String?
    private var ended = false

    init(loop: any Scheduler, context: ServerContext, peerAddress: IPAddress, logger: Logger, report: @escaping (Result) -> Void) {
        self.loop = loop
        self.context = context
        self.peerAddress = peerAddress
        self.logger = logger
        self.report = report
    }

    /// Report `.timedOut` unless a login succeeds within `seconds`.
    func startTimeout(seconds: Int) {
        timeoutTimer = loop.timer { [weak self] in self?.report(.timedOut) }
        timeoutTimer?.schedule(timeoutMilliseconds: seconds * 1000)
    }

    /// USER/PASS. `failureDelayMilliseconds` holds back a rejection: growing delays make password
    /// guessing slow.
    func authenticate(user: String, password: Password, certified: Bool, failureDelayMilliseconds: Int) {
        guard !refusedForBan() else { return }
        logger.info("login attempt", metadata: ["user": "\(user)"])
        let bound = LoopBound(self, loop: loop)
        context.authenticator.verify(user: user, password: password, certified: certified) { outcome in
            bound.loop.execute { bound.value.verified(user: user, outcome, failureDelayMilliseconds: failureDelayMilliseconds) }
        }
    }

    /// USER from a client whose certificate names the user.
    func authenticateByCertificate(user: String) {
        guard !refusedForBan() else { return }
        logger.info("login attempt by client certificate", metadata: ["user": "\(user)"])
        let bound = LoopBound(self, loop: loop)
        context.authenticator.verifyCertificate(user: user) { outcome in
            bound.loop.execute { bound.value.verified(user: user, outcome, failureDelayMilliseconds: 0) }
        }
    }

    func anonymous() {
        guard !refusedForBan() else { return }
        let (account, home) = context.authenticator.anonymous
        enterHome(account, home: home, limits: UserLimits())
    }

    /// Forget pending work and give back the user's place.
    func end() {
        ended = true
        delayTimer?.cancel()
        delayTimer = nil
        timeoutTimer?.cancel()
        releaseClusterSession()
        if let registeredUser { context.users.leave(registeredUser) }
        registeredUser = nil
    }

    /// A session opened before its address was banned must not go on guessing: the ban is checked at
    /// every PASS, not only when the connection is accepted.
    private func refusedForBan() -> Bool {
        guard let remaining = context.bans.remainingBan(peerAddress, now: context.clock.seconds) else { return false }
        logger.notice("login refused: address banned", metadata: ["seconds": "\(remaining)"])
        report(.refused("Too many failed logins from your address: try again in \(remaining) seconds."))
        return true
    }

    private func verified(user: String, _ outcome: Authenticator.Outcome, failureDelayMilliseconds: Int) {
        guard !ended else { return }
        switch outcome {
        case .accepted(let account, let home, let limits):
            guard let cluster = context.cluster else { return admitted(account, home: home, limits: limits) }
            // Max-sessions across the cluster: claim a session row first (off the loop).
            let id = (0..<4).map { _ in String(UInt32.random(in: 0...UInt32.max), radix: 16) }.joined(separator: "-")
            let client = peerAddress.description
            loop.offload({ () -> Swift.Result<Bool, PostgresError> in
                do throws(PostgresError) {
                    return .success(try cluster.claim(session: id, user: account.name, client: client))
                } catch {
                    return .failure(error)
                }
            }) { [weak self, loop] result in
                // A session gone meanwhile gives its row back, off the loop like every database call.
                guard let self else { return loop.offload({ cluster.release(session: id) }) { _ in } }
                switch result {
                case .success(true):
                    self.clusterSession = id
                    if self.ended { return self.releaseClusterSession() }
                    self.admitted(account, home: home, limits: limits)
                case .success(false):
                    self.logger.notice("login refused: user at max-sessions on the cluster", metadata: ["user": "\(account.name)"])
                    self.report(.refused("Too many sessions for \(account.name) (\(limits.maxSessions ?? 0)); try again later."))
                case .failure(let error):
                    self.logger.error("login refused: the cluster's session table cannot be reached", metadata: ["user": "\(account.name)", "reason": "\(error)"])
                    self.report(.refused(LoginCoordinator.directoryUnavailable))
                }
            }
        case .passwordRequired:
            report(.passwordRequired)
        case .unavailable(let reason):
            logger.error("login refused: the user directory cannot answer", metadata: ["user": "\(user)", "reason": "\(reason)"])
            report(.refused(LoginCoordinator.directoryUnavailable))
        case .rejected(let reason):
            context.metrics.login(succeeded: false)
            logger.notice("login failed", metadata: ["user": "\(user)", "reason": "\(reason)"])
            let bannedHere = context.bans.failed(peerAddress, now: context.clock.seconds)
            if let seconds = bannedHere {
                logger.warning("address banned after repeated failed logins", metadata: ["seconds": "\(seconds)"])
            }
            if let cluster = context.cluster {
                // The cluster counts this node's failures with the others'; a ban started here is
                // the cluster's at once (limit 1), whatever its count says.
                let (address, bans, clock, logger) = (peerAddress, context.bans, context.clock, logger)
                let banSeconds = Int64(context.configuration.banSeconds)
                let maxFailures = bannedHere == nil ? context.configuration.maxFailedLoginsPerIP : 1
                loop.offload({ try? cluster.loginFailed(address, maxFailures: maxFailures, banSeconds: banSeconds) }) { banned in
                    guard banned == true, bannedHere == nil else { return }
                    bans.impose(address, seconds: banSeconds, now: clock.seconds)
                    logger.warning("address banned after repeated failed logins on the cluster", metadata: ["seconds": "\(banSeconds)"])
                }
            }
            delayTimer = loop.timer { [weak self] in
                guard let self else { return }
                self.delayTimer = nil
                self.report(.failed)
            }
            delayTimer?.schedule(timeoutMilliseconds: failureDelayMilliseconds)
        }
    }

    /// The user is who they say and may have another session: open their quota first if this is
    /// their first session here (off the loop: a walk of the home, and with a cluster the shared
    /// count), then open the home.
    private func admitted(_ account: Account, home: String, limits: UserLimits) {
        guard !ended else { return }
        guard let limit = limits.quota, context.users.quota(for: account.name, limit: limit) == nil else {
            return enterHome(account, home: home, limits: limits)
        }
        guard let cluster = context.cluster else {
            loop.offload({ DiskQuota(limit: limit, used: DiskQuota.measure(home)) }) { [weak self] quota in
                self?.enterHome(account, home: home, limits: limits, measured: quota)
            }
            return
        }
        let user = account.name
        loop.offload({ () -> Swift.Result<SharedQuota, PostgresError> in
            do throws(PostgresError) {
                return .success(try cluster.openQuota(user: user, limit: limit) { DiskQuota.measure(home) })
            } catch {
                return .failure(error)
            }
        }) { [weak self] opened in
            guard let self else { return }
            switch opened {
            case .success(let quota):
                self.enterHome(account, home: home, limits: limits, measured: quota)
            case .failure(let error):
                self.releaseClusterSession()
                self.logger.error("login refused: the cluster's quota count cannot be reached", metadata: ["user": "\(user)", "reason": "\(error)"])
                self.report(.refused(LoginCoordinator.directoryUnavailable))
            }
        }
    }

    /// Give the cluster's session row back (off the loop): the session ended, or its login did.
    private func releaseClusterSession() {
        guard let id = clusterSession, let cluster = context.cluster else { return }
        clusterSession = nil
        loop.offload({ cluster.release(session: id) }) { _ in }
    }

    private func enterHome(_ account: Account, home: String, limits: UserLimits, measured: (any Quota)? = nil) {
        guard !ended else { return }
        guard let admission = context.users.enter(account.name, limits: limits, measured: measured) else {
            logger.notice("login refused: user at max-sessions", metadata: ["user": "\(account.name)"])
            releaseClusterSession()
            return report(.refused("Too many sessions for \(account.name) (\(limits.maxSessions ?? 0)); try again later."))
        }
        let configuration = context.configuration
        do {
            let fileSystem = JailedFileSystem(home: try context.homes.handle(for: home), umask: limits.umask ?? configuration.umask,
                                              atomicUploads: configuration.atomicUploads, quota: admission.quota)
            registeredUser = account.name
            logger.info("login ok", metadata: ["user": "\(account.name)", "home": "\(home)", "readOnly": "\(account.readOnly)"])
            context.metrics.login(succeeded: true)
            context.hooks.fire(EventHooks.Facts(event: .login, user: account.name, client: peerAddress.description, path: home, virtualPath: "/"))
            timeoutTimer?.cancel()
            report(.loggedIn(LoginGrant(
                account: account, home: home, fileSystem: fileSystem, maxFileSize: limits.maxFileSize, quota: admission.quota,
                downloadCaps: [configuration.downloadRate.map { TokenBucket(bytesPerSecond: $0, clock: context.clock) }, admission.download].compactMap { $0 },
                uploadCaps: [configuration.uploadRate.map { TokenBucket(bytesPerSecond: $0, clock: context.clock) }, admission.upload].compactMap { $0 })))
        } catch {
            context.users.leave(account.name)
            releaseClusterSession()
            logger.error("login refused: cannot open home", metadata: ["user": "\(account.name)", "home": "\(home)", "error": "\(error)"])
            report(.homeUnavailable)
        }
    }
}
