import FTPCore
import FerryReactor
import Glibc
import Logging

/// One client session on one loop: the control stream and the `Session` state machine, whose effects
/// it carries out with its helpers: `LoginCoordinator` (logins), `DataChannel` (data connections)
/// and `TransferCoordinator` (each transfer, from its connection to its record).
///
/// Everything happens in `run`, one step at a time (`StepRunner`): the session's effects, and the
/// work of callbacks (timers, workers, the transfer's end). Lines that arrive while the session waits
/// are held (`PendingCommands`). Pipelining is legitimate, so there is no flood rule but
/// backpressure: while too many lines are held or too much output is queued, the socket is not read.
/// Keeps itself alive (through its watchers' handlers) until its socket is closed; its limits and
/// descriptors are released only then.
final class ControlConnection {
    /// Output queued at which commands wait and reading pauses, until the client reads it.
    static let maxPendingOutput = 256 << 10
    /// A closing session's last replies get this long to reach a client that is not reading;
    /// then the socket is reset.
    static let closeDeadlineMilliseconds = 5000

    /// Work for `run`: an effect of the session (with the verb that caused it, for logging its
    /// failure), or a callback's work.
    private enum Step {
        case effect(SessionEffect, verb: String?)
        case event((ControlConnection) -> Void)
    }

    /// The session's loop: the server's `EventLoop`, an `EmbeddedLoop` in unit tests.
    private let loop: any Scheduler
    private let context: ServerContext
    let peerAddress: IPAddress
    private var stream: (any ControlStream)?
    private var session: Session
    private var pending = PendingCommands()
    private let runner = StepRunner<Step>()
    private var idleTimer: (any LoopTimer)?
    private var login: LoginCoordinator!
    /// The control connection's own address, the one a passive listener binds to.
    private let local: SocketAddress
    /// Made by the session's first data command (`transfers`): idle sessions, the many on a busy
    /// server, never pay for a data channel.
    private var openedTransfers: TransferCoordinator?
    /// The logged-in user's home and limits.
    private var grant: LoginGrant?
    private var statusListing: StatusListing?
    private var fileWork: FileWork!
    private var logger: Logger
    private var onEnd: ((ControlConnection) -> Void)?
    /// The control connection is gone but an upload is still draining.
    private var endAfterTransfer = false
    private(set) var ended = false
    let tls: ControlTLS

    /// `local` and `peer` are the control connection's addresses; call `attach`, then `start`.
    init(loop: any Scheduler, context: ServerContext, local: SocketAddress, peer: SocketAddress, implicitTLS: Bool,
         onEnd: @escaping (ControlConnection) -> Void) {
        self.loop = loop
        self.context = context
        self.local = local
        peerAddress = IPAddress(peer.host)?.normalised ?? .v4(0, 0, 0, 0)
        self.onEnd = onEnd
        tls = ControlTLS(context: context, implicit: implicitTLS)
        var logger = context.logger
        logger[metadataKey: "client"] = "\(peer)"
        self.logger = logger
        session = Session(policy: context.policy, peer: peerAddress, controlIsIPv6: local.isIPv6 && !(IPAddress(local.host)?.isIPv4 ?? false),
                          implicitTLS: implicitTLS, clock: { Int64(time(nil)) })
        login = LoginCoordinator(loop: loop, context: context, peerAddress: peerAddress, logger: logger) { [weak self] result in
            self?.run([.event { $0.loggedIn(result) }])
        }
        fileWork = FileWork(loop: loop, context: context, peerAddress: peerAddress) { [weak self] call in
            self?.run([.event { $0.apply(call(&$0.session)) }])
        }
        idleTimer = loop.timer(later { $0.idle() })
    }

    /// The session's transfers and data channel, made on first use.
    private var transfers: TransferCoordinator {
        if let openedTransfers { return openedTransfers }
        let channel = DataChannel(loop: loop, context: context, local: local, peerAddress: peerAddress,
                                  tlsSessionContext: tls.sessionContext, logger: logger)
        let made = TransferCoordinator(loop: loop, context: context, channel: channel,
                                       recorder: TransferRecorder(context: context, peerAddress: peerAddress), logger: logger) { [weak self] outcome in
            self?.run([.event { $0.transferEnded(outcome) }])
        }
        made.grant = grant
        openedTransfers = made
        return made
    }

    /// The stream the session reads and writes; an implicit-TLS stream starts with its handshake.
    func attach(_ stream: any ControlStream) {
        self.stream = stream
        stream.onDrained = later { $0.sendStatusListing() }
    }

    /// Bytes from the client.
    func received(_ bytes: [UInt8]) {
        armIdleTimer()
        pending.feed(bytes)
        run()
    }

    /// The client closed the connection, or it failed (`reason`).
    func streamClosed(_ reason: String?) {
        run([.event { $0.peerClosed(reason) }])
    }

    /// A TLS handshake on the control connection completed.
    func streamSecured() {
        run([.event { $0.secured() }])
    }

    /// A callback that does its work as a step of `run`.
    private func later(_ work: @escaping (ControlConnection) -> Void) -> () -> Void {
        { [weak self] in self?.run([.event(work)]) }
    }

    /// Greet the client, or refuse it with 421 when a limit is reached.
    func start(refusal: String?) {
        if let refusal {
            logger.notice("session refused: \(refusal)")
            send(Reply(.serviceNotAvailable, refusal))
            return run([.event { $0.end() }])
        }
        logger.info("session start")
        armIdleTimer()
        login.startTimeout(seconds: context.configuration.loginTimeout)
        apply(session.greeting())
    }

    /// Server shutdown: close idle sessions now; a session with a running transfer closes after it.
    func shutDown() {
        if session.isTransferring {
            pending.replaceAll(with: "QUIT")
        } else {
            apply(session.shutdown("Server shutting down."))
        }
    }

    // MARK: the steps

    private func apply(_ effects: [SessionEffect], verb: String? = nil) {
        run(effects.map { .effect($0, verb: verb) })
    }

    /// The one place where work happens: the queued steps, then held lines while the session can take
    /// them and the client reads its replies; then read on only if there is room for more.
    private func run(_ more: [Step] = []) {
        guard runner.run(more, perform: perform, next: nextLine) else { return }
        stream?.readingPaused = pending.isFull || !outputHasRoom
    }

    private func nextLine() -> [Step]? {
        guard !ended, outputHasRoom, let (line, verb) = pending.next(for: session) else { return nil }
        return session.handle(line).map { .effect($0, verb: verb) }
    }

    private var outputHasRoom: Bool { (stream?.pendingOutput ?? 0) < ControlConnection.maxPendingOutput }

    private func perform(_ step: Step) {
        switch step {
        case .event(let work): work(self)
        case .effect(let effect, let verb): perform(effect, verb: verb)
        }
    }

    /// Failures (4xx/5xx) of a command are logged with its verb, never with PASS's argument; logins
    /// have lines of their own.
    private func perform(_ effect: SessionEffect, verb: String?) {
        switch effect {
        case .reply(let reply):
            if let verb, reply.code.rawValue >= 400, verb != "USER", verb != "PASS" {
                logger.notice("command failed", metadata: ["command": "\(verb)", "reply": "\(reply.code.rawValue) \(reply.lines[0])"])
            }
            send(reply)
        case .authenticate(let user, let password, let certified):
            login.authenticate(user: user, password: password, certified: certified, failureDelayMilliseconds: session.nextFailureDelayMilliseconds)
        case .authenticateCertificate(let user): login.authenticateByCertificate(user: user)
        case .authenticateAnonymous: login.anonymous()
        case .openPassiveListener:
            switch transfers.channel.openPassive(protected: session.protectsData) {
            case .success(let (address, port)): apply(session.passiveListenerReady(address: address, port: port))
            case .failure(let error): apply(session.passiveListenerFailed(error.reason))
            }
        case .closePassiveListener: openedTransfers?.channel.close()
        case .startTransfer(let request): transfers.start(request)
        case .openDirectory(let path): grant.map { fileWork.openDirectory(path, in: $0.fileSystem) }
        case .sendStatusListing(let handle, let opening, let closing):
            stream?.write(opening.encodedAsOpening)
            statusListing = StatusListing(listing: handle.listing, closing: closing)
            sendStatusListing()
        case .abortTransfer: openedTransfers?.abort()
        case .computeHash(let request): fileWork.computeHash(request)
        case .fileChanged(let change): grant.map { fileWork.fileChanged(change, grant: $0) }
        case .upgradeToTLS:
            // Whatever the client sent after AUTH TLS is dropped.
            pending.discardAll()
            stream.map(tls.upgrade)
        case .close: end()
        }
    }

    private func send(_ reply: Reply) {
        stream?.write(reply.encoded)
    }

    private func armIdleTimer() {
        idleTimer?.schedule(timeoutMilliseconds: context.configuration.idleTimeout * 1000)
    }

    /// A transfer has its own stall timeout and the other waits end by themselves, but a STAT
    /// listing goes on only as the client reads it: one that made no progress for the idle timeout
    /// (each batch sent re-arms it) ends the session like silence does.
    private func idle() {
        if session.isBusy && statusListing == nil { return armIdleTimer() }
        logger.info("idle timeout")
        apply(session.idleTimeout())
    }

    private func loggedIn(_ result: LoginCoordinator.Result) {
        switch result {
        case .loggedIn(let grant):
            self.grant = grant
            logger[metadataKey: "user"] = "\(grant.account.name)"
            login.logger = logger   // one logger per session again, not the old one beside the new
            openedTransfers?.grant = grant
            openedTransfers?.logger = logger
            apply(session.loginSucceeded(grant.account, fileSystem: grant.fileSystem))
        case .failed: apply(session.loginFailed())
        case .passwordRequired: apply(session.passwordRequired())
        case .refused(let reason): apply(session.shutdown(reason))
        case .homeUnavailable: apply(session.loginUnavailable("home folder is not available"))
        case .timedOut:
            logger.info("login timeout")
            apply(session.shutdown("Login timeout: closing control connection."))
        }
    }

    // MARK: STAT listings

    /// Send the next batch of a STAT listing while the client reads what was sent (resumed when the
    /// output drains); the closing line ends it.
    private func sendStatusListing() {
        guard let statusListing, outputHasRoom else { return }
        statusListing.fetchNext(on: loop) { [weak self] lines in self?.run([.event { $0.statusBatch(lines) }]) }
    }

    private func statusBatch(_ lines: String) {
        guard !ended, let listing = statusListing else { return }
        guard !lines.isEmpty else {
            statusListing = nil
            send(listing.closing)
            return apply(session.statusListingSent())
        }
        stream?.write(lines)
        armIdleTimer()
        sendStatusListing()
    }

    private func secured() {
        guard let stream else { return }
        session.clientCertificateNames = tls.secured(stream, logger: logger)
    }

    // MARK: transfers

    /// A transfer ended: settle and record it, then answer the command (after a fresh TLS ticket for
    /// the one its data connection consumed).
    private func transferEnded(_ reported: TransferOutcome) {
        guard let (outcome, resumedTLS) = openedTransfers?.settle(reported, account: session.account) else { return }
        if resumedTLS { stream?.issueSessionTicket() }
        apply(session.transferFinished(outcome))
        guard !ended else { return }
        if endAfterTransfer { return end() }
        armIdleTimer()
    }

    // MARK: the end

    private func peerClosed(_ reason: String?) {
        stream = nil
        tls.closed()
        if let reason { logger.info("control connection lost", metadata: ["reason": "\(reason)"]) }
        // An upload already under way keeps what the client sent: let it run to its end of data
        // (bounded by the stall timeout), then end the session.
        if openedTransfers?.isUploading == true {
            endAfterTransfer = true
            return
        }
        end()
    }

    /// Release what the session holds; the connection's own slot (limits, descriptor budget, loop
    /// count: `onEnd`) goes only once its socket is closed, after its last replies or the deadline.
    /// A running transfer is aborted; its end is the next step, and finds the session ended.
    private func end() {
        guard !ended else { return }
        ended = true
        openedTransfers?.end()
        login.end()
        statusListing = nil
        idleTimer?.cancel()
        logger.info("session end")
        let onEnd = self.onEnd
        self.onEnd = nil
        guard let stream else { return onEnd?(self) ?? () }
        self.stream = nil
        stream.closeAfterFlush(deadlineMilliseconds: ControlConnection.closeDeadlineMilliseconds) { onEnd?(self) }
    }
}
