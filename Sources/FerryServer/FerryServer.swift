import FTPCore
import FerryReactor
import Glibc
import Logging
import Synchronization

/// Why the server could not start; the text says what to fix.
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The running server: one event loop per worker thread, each with its own SO_REUSEPORT listener on
/// every address; a connection is served by the loop with the fewest open (`LoopBalancer`), handed
/// over if another loop accepted it. The main thread handles signals (SIGTERM/SIGINT drain, SIGHUP
/// reload, SIGUSR1 reopen logs) and the metrics endpoint.
public final class FerryServer {
    private let current: CurrentContext
    private var context: ServerContext { current.value }
    private let reload: (@Sendable () throws -> ServerConfiguration)?
    private let descriptorBudget: Int
    private let loops: [EventLoop]
    private let mainLoop = EventLoop(name: "main")
    private var workers: [LoopBound<WorkerState>] = []
    private var signalWatchers: [EventWatcher] = []
    private var drainTimer: EventWatcher?
    /// Looks the passive-address host names up again (dynamic DNS), off the loops.
    private var resolveTimer: EventWatcher?
    /// Each second: the cluster's bans into ours, and (every few seconds) this node's heartbeat.
    private var clusterTimer: EventWatcher?
    private var clusterTicks = 0
    private var clusterSyncing = false
    private var drainDeadline: Int64 = 0
    private var metricsEndpoint: HTTPEndpoint?
    private let health: HealthState

    /// Per-loop state: its listeners and open sessions; `draining` once shutdown began (a connection
    /// another loop handed over after that is refused).
    final class WorkerState {
        var listeners: [Listener] = []
        var sessions: [ObjectIdentifier: ControlConnection] = [:]
        var draining = false
    }

    /// Validate the configuration and bind every listener (so a busy port fails before start-up ends).
    /// `reload` rebuilds the configuration from its sources for SIGHUP.
    public init(configuration: ServerConfiguration, logger: Logger, reload: (@Sendable () throws -> ServerConfiguration)? = nil) throws {
        EventLoop.prepareProcess()
        // Client-created files get the configured (or the user's) umask exactly.
        Glibc.umask(0)
        self.reload = reload
        descriptorBudget = FerryServer.raiseDescriptorLimit()
        let current = CurrentContext(try ServerContext(configuration: configuration, descriptorBudget: descriptorBudget, logger: logger,
                                                       previous: nil))
        self.current = current
        let listeners = configuration.listen.map { ($0, false) } + configuration.implicitTLSListen.map { ($0, true) }
        for (address, _) in listeners {
            do {
                try Sockets.checkAvailable(address)
            } catch {
                throw StartupError("cannot listen on \(address): \(error.reason)")
            }
        }
        let loops = (0..<max(1, configuration.workers)).map { EventLoop(name: "worker-\($0)") }
        self.loops = loops
        let balancer = LoopBalancer(loops: loops.count)
        let health = HealthState()
        self.health = health
        if let address = configuration.metricsListen {
            do {
                metricsEndpoint = try HTTPEndpoint(loop: mainLoop, host: address.host, port: address.port) { path in
                    switch path {
                    case "/metrics":
                        let context = current.value
                        return .init(status: 200, contentType: "text/plain; version=0.0.4", body: context.metrics.render(openSessions: context.limiter.open, loopConnections: balancer.connections))
                    case "/healthz":
                        return health.draining.load(ordering: .relaxed) ? .init(status: 503, body: "draining\n") : .init(status: 200, body: "ok\n")
                    default:
                        return .init(status: 404, body: "not found: try /metrics or /healthz\n")
                    }
                }
            } catch {
                throw StartupError("cannot serve metrics on \(address): \(error.reason)")
            }
        }
        let states = loops.map { _ in WorkerState() }
        let workers = zip(states, loops).map { LoopBound($0, loop: $1) }
        for (index, loop) in loops.enumerated() {
            for (address, implicitTLS) in listeners {
                let socket: Descriptor
                do {
                    socket = try Sockets.listen(on: address, reusePort: true, backlog: 511)
                } catch {
                    throw StartupError("cannot listen on \(address): \(error.reason)")
                }
                let onAcceptError: (SystemError) -> Void = { error in
                    current.value.logger.warning("accept failed, pausing new connections for 100 ms", metadata: ["error": "\(error)"])
                }
                states[index].listeners.append(Listener(loop: loop, socket: socket, onAcceptError: onAcceptError) { connection, peer in
                    let target = balancer.assign(accepting: index)
                    let (worker, targetLoop) = (workers[target], loops[target])
                    // Crosses to the serving loop as a number, owned again there.
                    let fd = connection.release()
                    let serve: @Sendable () -> Void = {
                        ConnectionIntake.arrived(socket: Descriptor(taking: fd), peer: peer, implicitTLS: implicitTLS, loop: (targetLoop, target),
                                            state: worker.value, context: current.value, balancer: balancer)
                    }
                    if target == index { serve() } else { worker.loop.execute(serve) }
                })
            }
        }
        self.workers = workers
        // Everything privileged (ports, log files, certificate) is open: drop root before any thread starts.
        if let user = configuration.runAs {
            try Privileges.drop(to: user)
            logger.notice("running as \(user)", metadata: ["uid": "\(getuid())"])
        }
    }

    public var maxSessions: Int { context.limiter.maxTotal }

    /// TLS data connections ask for kernel TLS (wanted, and the kernel has it).
    public var tlsKernelOffload: Bool { context.tls?.kernelOffload ?? false }

    /// Raise RLIMIT_NOFILE as far as allowed: to the kernel's nr_open when privileged
    /// (CAP_SYS_RESOURCE), else to the hard limit. Returns the descriptors available.
    private static func raiseDescriptorLimit() -> Int {
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return 1024 }
        var ceiling: rlim_t = 1 << 20
        if case .success(let text) = TextFile.read("/proc/sys/fs/nr_open"), let value = rlim_t(text.trimmingSpaces.filter(\.isNumber)) {
            ceiling = min(ceiling, value)
        }
        var raised = rlimit(rlim_cur: max(ceiling, limit.rlim_max), rlim_max: max(ceiling, limit.rlim_max))
        if setrlimit(resource, &raised) != 0 {
            raised = rlimit(rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max)
            if setrlimit(resource, &raised) != 0 { _ = getrlimit(resource, &raised) }
        }
        return Int(min(raised.rlim_cur, 1 << 20))
    }

    /// Serve until SIGINT or SIGTERM, then drain: stop accepting, let transfers finish within the
    /// grace period, exit.
    public func run() {
        for loop in loops { loop.startThread() }
        for number in [SIGINT, SIGTERM] {
            signalWatchers.append(EventWatcher.signal(loop: mainLoop, number) { [unowned self] in self.beginShutdown() })
        }
        signalWatchers.append(EventWatcher.signal(loop: mainLoop, SIGUSR1) { [current] in
            current.value.xferlog?.reopen()
            current.value.logger.notice("SIGUSR1: log files reopened")
        })
        signalWatchers.append(EventWatcher.signal(loop: mainLoop, SIGHUP) { [unowned self] in self.reloadConfiguration() })
        resolveTimer = EventWatcher.timer(loop: mainLoop, repeating: true) { [mainLoop, current] in
            let resolver = current.value.passiveAddressResolver
            mainLoop.offload({ resolver.refresh() }) { failed in
                for name in failed {
                    current.value.logger.warning("passive address host did not resolve; keeping its last address", metadata: ["host": "\(name)"])
                }
            }
        }
        resolveTimer?.schedule(timeoutMilliseconds: PassiveAddressResolver.refreshSeconds * 1000)
        clusterTimer = EventWatcher.timer(loop: mainLoop, repeating: true) { [unowned self] in self.syncCluster() }
        clusterTimer?.schedule(timeoutMilliseconds: 1000)
        mainLoop.run()
        resolveTimer?.cancel()
        clusterTimer?.cancel()
        for loop in loops {
            loop.stop()
            loop.join()
        }
        // Quota room this node still holds goes back before it exits.
        if context.cluster != nil { try? context.users.squareSharedQuotas(finally: true) }
    }

    /// SIGHUP: read the configuration, users file and certificate again; new sessions get them,
    /// running ones keep theirs. A configuration that does not load is refused and logged, and the
    /// old one keeps serving. Listeners, workers and logging need a restart to change.
    private func reloadConfiguration() {
        let old = context
        guard let reload else { return old.logger.notice("SIGHUP: nothing to reload") }
        do {
            let configuration = try reload()
            let fresh = try ServerContext(configuration: configuration, descriptorBudget: descriptorBudget, logger: old.logger, previous: old)
            current.value = fresh
            let before = old.configuration
            for (setting, changed) in [("listen", before.listen.map(\.description) != configuration.listen.map(\.description)),
                                       ("implicit-tls-listen", before.implicitTLSListen.map(\.description) != configuration.implicitTLSListen.map(\.description)),
                                       ("workers", before.workers != configuration.workers),
                                       ("metrics-listen", before.metricsListen?.description != configuration.metricsListen?.description),
                                       ("log-format", before.logFormat != configuration.logFormat),
                                       ("log-level", before.logLevel != configuration.logLevel)] where changed {
                old.logger.warning("SIGHUP: \(setting) changed; restart Ferry to apply it")
            }
            old.logger.notice("SIGHUP: configuration reloaded; new sessions use it")
        } catch {
            old.logger.error("SIGHUP: configuration refused, the previous one stays in force: \(error)")
        }
    }

    /// With users in PostgreSQL: take the bans other nodes started (so an address banned anywhere is
    /// refused here within a second), keep this node's session rows alive and square the users'
    /// shared quotas (so space freed here is free on every node within a second). Off the main loop;
    /// a slow database skips ticks rather than piling them up.
    private func syncCluster() {
        guard let cluster = context.cluster, !clusterSyncing else { return }
        clusterSyncing = true
        clusterTicks += 1
        let (bans, clock, logger, users) = (context.bans, context.clock, context.logger, context.users)
        let beat = clusterTicks % ClusterRegistry.heartbeatSeconds == 1
        mainLoop.offload({ () -> String? in
            do throws(PostgresError) {
                if beat { try cluster.heartbeat() }
                for (address, seconds) in try cluster.activeBans() { bans.impose(address, seconds: seconds, now: clock.seconds) }
                try users.squareSharedQuotas()
                return nil
            } catch {
                return error.description
            }
        }) { [unowned self] failure in
            self.clusterSyncing = false
            if let failure, beat { logger.warning("cluster sync failed: bans, session heartbeats and quota counts wait for the database", metadata: ["error": "\(failure)"]) }
        }
    }

    private func beginShutdown() {
        guard drainTimer == nil else { return }
        health.draining.store(true, ordering: .relaxed)
        context.logger.notice("shutting down: no new sessions, waiting up to \(context.configuration.shutdownGrace) s for transfers")
        for worker in workers {
            worker.loop.execute {
                let state = worker.value
                state.draining = true
                for listener in state.listeners { listener.close() }
                state.listeners.removeAll()
                for session in Array(state.sessions.values) { session.shutDown() }
            }
        }
        drainDeadline = context.clock.seconds + Int64(context.configuration.shutdownGrace)
        drainTimer = EventWatcher.timer(loop: mainLoop, repeating: true) { [unowned self] in
            if self.context.limiter.open == 0 || context.clock.seconds >= self.drainDeadline {
                self.context.logger.notice("stopped", metadata: ["sessionsLeft": "\(self.context.limiter.open)"])
                self.drainTimer?.cancel()
                self.mainLoop.stop()
            }
        }
        drainTimer?.schedule(timeoutMilliseconds: 100)
    }
}

/// What /healthz reports: ok, or 503 once shutdown began, so a load balancer sends new clients to
/// the other nodes while this one finishes its transfers.
private final class HealthState: Sendable {
    let draining = Atomic(false)
}
