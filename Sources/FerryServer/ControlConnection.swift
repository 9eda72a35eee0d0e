import CFerrySys
import FTPCore
import FerryReactor
import Glibc
import Logging

/// One client session on one loop: feeds control lines to the `Session` state machine and carries
/// out its effects (replies, logins off the loop, passive listeners, active connects, transfers).
/// Lines that arrive while the session waits are held and answered in order; ABOR jumps the queue
/// during a transfer. Pipelining is legitimate, so there is no flood rule: backpressure instead.
/// While too many lines are held or too much output is queued, the socket is not read (and held
/// commands wait while the output is over its bound). Keeps itself alive (through its watchers'
/// handlers) until its socket is closed; its limits and descriptors are released only then.
final class ControlConnection {
    /// Held lines at which reading pauses (ABOR cannot overtake a transfer past this many).
    static let maxHeldLines = 64
    /// Output queued at which commands wait and reading pauses, until the client reads it.
    static let maxPendingOutput = 256 << 10
    /// A closing session's last replies get this long to reach a client that is not reading;
    /// then the socket is reset.
    static let closeDeadlineMilliseconds = 5000

    private let loop: EventLoop
    private let context: ServerContext
    private let peer: SocketAddress
    private let local: SocketAddress
    let peerAddress: IPAddress
    private var stream: Stream?
    private var session: Session
    private var reader = ControlLineReader()
    private var held: [ControlLineReader.Output] = []
    private var idleTimer: EventWatcher?
    private var delayTimer: EventWatcher?
    private var handshakeTimer: EventWatcher?
    private var loginTimer: EventWatcher?
    private var passive: PassiveListener?
    private var connector: ActiveConnector?
    private var connectTimer: EventWatcher?
    private var transfer: DataTransfer?
    private var transferStart: Int64 = 0
    private var currentRequest: TransferRequest?
    private var logger: Logger
    private var onEnd: ((ControlConnection) -> Void)?
    /// The control connection is gone but an upload is still draining.
    private var endAfterTransfer = false
    /// The verb being handled (for logging its failure).
    private var currentVerb: String?
    /// This session holds `DescriptorBudget.perTransfer` descriptors for a data connection.
    private var holdsTransferDescriptors = false
    /// Where the logged-in user's home is on disk (for the xferlog).
    private var homePath = ""
    /// The user counted in `context.users` (released at the end).
    private var registeredUser: String?
    /// Bandwidth caps this session's transfers obey: its own, and its user's shared ones.
    private var downloadCaps: [TokenBucket] = []
    private var uploadCaps: [TokenBucket] = []
    private var maxFileSize: UInt64?
    private var quota: DiskQuota?
    /// The home, for committing or discarding atomic replacements.
    private var fileSystem: JailedFileSystem?
    /// STAT of a directory under way: its listing, the reply line that ends it, and whether a batch
    /// is being read off the loop.
    private var statusListing: (listing: any DirectoryListing, closing: Reply, fetching: Bool)?
    /// A TLS handshake on the control connection is under way (a failure then counts as one).
    private var handshaking = false
    private(set) var ended = false

    /// Binds this session's TLS sessions to it: a data connection can resume only these (see
    /// `TLSContext.makeSSL`), so a client behind the same NAT cannot take over a passive port.
    private let tlsSessionContext: [UInt8] = (0..<32).map { _ in UInt8.random(in: 0...255) }

    init(loop: EventLoop, context: ServerContext, fd: Int32, peer: SocketAddress, implicitTLS: Bool,
         onEnd: @escaping (ControlConnection) -> Void) {
        self.loop = loop
        self.context = context
        self.peer = peer
        self.local = SocketAddress.local(of: fd) ?? peer
        self.peerAddress = IPAddress(peer.host)?.normalised ?? .v4(0, 0, 0, 0)
        self.onEnd = onEnd
        var logger = context.logger
        logger[metadataKey: "client"] = "\(peer)"
        self.logger = logger
        session = Session(policy: context.policy, peer: peerAddress, controlIsIPv6: local.isIPv6 && !(IPAddress(local.host)?.isIPv4 ?? false),
                          implicitTLS: implicitTLS, clock: { Int64(time(nil)) })
        _ = ferry_set_oobinline(fd)
        let tls = implicitTLS ? context.tls.map { ($0, sessionContext: tlsSessionContext) } : nil
        stream = Stream(loop: loop, fd: fd, tls: tls, onRead: { [weak self] in self?.received($0) },
                        onClose: { [weak self] reason in self?.peerClosed(reason) },
                        onSecured: { [weak self] in self?.secured() })
        stream?.onDrained = { [weak self] in
            self?.sendStatusListing()
            self?.processHeld()
        }
        idleTimer = EventWatcher.timer(loop: loop) { [weak self] in self?.idle() }
        if tls != nil { armHandshakeTimer() }
    }

    /// Greet the client, or refuse it with 421 when a limit is reached.
    func start(refusal: String?) {
        if let refusal {
            logger.notice("session refused: \(refusal)")
            send(Reply(.serviceNotAvailable, refusal))
            end()
            return
        }
        logger.info("session start")
        apply(session.greeting())
        armIdleTimer()
        loginTimer = EventWatcher.timer(loop: loop) { [weak self] in
            guard let self, self.session.account == nil else { return }
            self.logger.info("login timeout")
            self.apply(self.session.shutdown("Login timeout: closing control connection."))
        }
        loginTimer?.schedule(timeoutMilliseconds: context.configuration.loginTimeout * 1000)
    }

    // MARK: input

    private func received(_ bytes: [UInt8]) {
        armIdleTimer()
        held.append(contentsOf: reader.feed(bytes))
        processHeld()
    }

    /// Handle held lines while the session can take them and the client reads its replies; then
    /// read on only if there is room for more.
    private func processHeld() {
        while !held.isEmpty && !session.closed && outputHasRoom {
            if session.isBusy {
                guard session.isTransferring, let index = held.firstIndex(where: ControlConnection.isAbort) else { break }
                handle(held.remove(at: index))
                continue
            }
            handle(held.removeFirst())
        }
        stream?.readingPaused = held.count >= ControlConnection.maxHeldLines || !outputHasRoom
    }

    private var outputHasRoom: Bool { (stream?.pendingOutput ?? 0) < ControlConnection.maxPendingOutput }

    /// Run one command; its failures (4xx/5xx, logins aside: they have their own lines) are logged
    /// with the verb, never the argument of PASS.
    private func handle(_ line: ControlLineReader.Output) {
        if case .line(let bytes) = line, case .success(let command) = Command.parse(bytes) {
            currentVerb = command.verb
        } else {
            currentVerb = "?"
        }
        apply(session.handle(line))
        currentVerb = nil
    }

    private static func isAbort(_ output: ControlLineReader.Output) -> Bool {
        guard case .line(let bytes) = output, case .success(let command) = Command.parse(bytes) else { return false }
        return command.verb == "ABOR"
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

    // MARK: effects

    private func apply(_ effects: [SessionEffect]) {
        for effect in effects {
            switch effect {
            case .reply(let reply):
                if let verb = currentVerb, reply.code.rawValue >= 400, verb != "USER", verb != "PASS" {
                    logger.notice("command failed", metadata: ["command": "\(verb)", "reply": "\(reply.code.rawValue) \(reply.lines[0])"])
                }
                send(reply)
            case .authenticate(let user, let password):
                if !refuseBanned() { authenticate(user: user, password: password) }
            case .authenticateAnonymous:
                guard !refuseBanned() else { break }
                let (account, home) = context.authenticator.anonymous
                enterHome(account, home: home, limits: UserLimits())
            case .openPassiveListener: openPassive()
            case .closePassiveListener:
                closeData()
                releaseTransferDescriptors()
            case .startTransfer(let request): startTransfer(request)
            case .openDirectory(let path): openDirectory(path)
            case .sendStatusListing(let handle, let opening, let closing):
                stream?.write(opening.encodedAsOpening)
                statusListing = (handle.listing, closing, false)
                sendStatusListing()
            case .abortTransfer: abortTransfer()
            case .upgradeToTLS: upgradeToTLS()
            case .close: end()
            }
        }
    }

    private func send(_ reply: Reply) {
        stream?.write(reply.encoded)
    }

    /// LIST, NLST, MLSD and STAT of a directory: reading its names can take long, so it happens on
    /// a worker thread.
    private func openDirectory(_ path: VirtualPath) {
        guard let fileSystem else { return }
        loop.offload({
            Result { () throws(FileSystemError) -> any DirectoryListing in try fileSystem.openDirectory(path) }
        }) { [weak self] result in
            guard let self, !self.ended else { return }
            self.apply(self.session.directoryOpened(result))
            self.processHeld()
        }
    }

    /// Send the next batch of a STAT listing, rendered off the loop, while the client reads what
    /// was sent (resumed by `onDrained`); the closing line ends it.
    private func sendStatusListing() {
        guard let (listing, closing, fetching) = statusListing, !fetching, outputHasRoom else { return }
        statusListing?.fetching = true
        let now = Int64(time(nil))
        loop.offload({
            listing.next(256).map { Reply.middleLine(ListingFormatter.longLine($0, now: now)) }.joined()
        }) { [weak self] lines in
            guard let self, !self.ended, self.statusListing != nil else { return }
            guard !lines.isEmpty else {
                self.statusListing = nil
                self.send(closing)
                self.apply(self.session.statusListingSent())
                return self.processHeld()
            }
            self.stream?.write(lines)
            self.armIdleTimer()
            self.statusListing?.fetching = false
            self.sendStatusListing()
        }
    }

    /// AUTH TLS: whatever the client sent after the command is dropped, then the handshake starts
    /// once the 234 is out.
    private func upgradeToTLS() {
        guard let tls = context.tls else { return }
        held.removeAll()
        reader = ControlLineReader()
        stream?.startTLS(tls, sessionContext: tlsSessionContext)
        armHandshakeTimer()
    }

    /// A client that stops mid-handshake is dropped after the data-connection timeout.
    private func armHandshakeTimer() {
        handshaking = true
        handshakeTimer = EventWatcher.timer(loop: loop) { [weak self] in
            guard let self else { return }
            self.logger.notice("TLS handshake timed out")
            self.end()
        }
        handshakeTimer?.schedule(timeoutMilliseconds: context.configuration.dataConnectionTimeout * 1000)
    }

    private func secured() {
        handshaking = false
        context.metrics.tlsHandshake(succeeded: true)
        handshakeTimer?.cancel()
        handshakeTimer = nil
        logger.info("control connection secured with TLS")
    }

    /// A session opened before its address was banned must not go on guessing: the ban is checked
    /// at every PASS, not only when the connection is accepted. Closes the session when banned.
    private func refuseBanned() -> Bool {
        guard let remaining = context.bans.remainingBan(peerAddress, now: MonotonicClock.seconds()) else { return false }
        logger.notice("login refused: address banned", metadata: ["seconds": "\(remaining)"])
        apply(session.shutdown("Too many failed logins from your address: try again in \(remaining) seconds."))
        return true
    }

    private func authenticate(user: String, password: Password) {
        logger.info("login attempt", metadata: ["user": "\(user)"])
        let bound = LoopBound(self, loop: loop)
        context.authenticator.verify(user: user, password: password) { outcome in
            bound.loop.execute { bound.value.authenticated(user: user, outcome) }
        }
    }

    private func authenticated(user: String, _ outcome: Authenticator.Outcome) {
        guard !ended else { return }
        switch outcome {
        case .accepted(let account, let home, let limits):
            if let limit = limits.quota, context.users.quota(for: account.name, limit: limit) == nil {
                // First session of a user with a quota: measure the home off the loop.
                loop.offload({ DiskQuota(limit: limit, used: DiskQuota.measure(home)) }) { [weak self] quota in
                    self?.enterHome(account, home: home, limits: limits, measured: quota)
                }
                return
            }
            enterHome(account, home: home, limits: limits)
        case .rejected:
            context.metrics.login(succeeded: false)
            logger.notice("login failed", metadata: ["user": "\(user)"])
            if let seconds = context.bans.failed(peerAddress, now: MonotonicClock.seconds()) {
                logger.warning("address banned after repeated failed logins", metadata: ["seconds": "\(seconds)"])
            }
            // Hold the 530 back: growing delays make password guessing slow.
            delayTimer = EventWatcher.timer(loop: loop) { [weak self] in
                guard let self else { return }
                self.delayTimer?.cancel()
                self.delayTimer = nil
                self.apply(self.session.loginFailed())
                self.processHeld()
            }
            delayTimer?.schedule(timeoutMilliseconds: session.nextFailureDelayMilliseconds)
        }
    }

    private func enterHome(_ account: Account, home: String, limits: UserLimits, measured: DiskQuota? = nil) {
        guard !ended else { return }
        guard let admission = context.users.enter(account.name, limits: limits, measured: measured) else {
            logger.notice("login refused: user at max-sessions", metadata: ["user": "\(account.name)"])
            apply(session.shutdown("Too many sessions for \(account.name) (\(limits.maxSessions ?? 0)); try again later."))
            return
        }
        registeredUser = account.name
        maxFileSize = limits.maxFileSize
        quota = admission.quota
        downloadCaps = [context.configuration.downloadRate.map(TokenBucket.init), admission.download].compactMap { $0 }
        uploadCaps = [context.configuration.uploadRate.map(TokenBucket.init), admission.upload].compactMap { $0 }
        do {
            let fileSystem = JailedFileSystem(home: try context.homes.handle(for: home), umask: limits.umask ?? context.configuration.umask,
                                              atomicUploads: context.configuration.atomicUploads, quota: admission.quota)
            self.fileSystem = fileSystem
            logger[metadataKey: "user"] = "\(account.name)"
            logger.info("login ok", metadata: ["home": "\(home)", "readOnly": "\(account.readOnly)"])
            context.metrics.login(succeeded: true)
            loginTimer?.cancel()
            loginTimer = nil
            homePath = home
            apply(session.loginSucceeded(account, fileSystem: fileSystem))
        } catch {
            context.users.leave(account.name)
            registeredUser = nil
            logger.error("login refused: cannot open home", metadata: ["home": "\(home)", "error": "\(error)"])
            apply(session.loginUnavailable("home folder is not available"))
        }
        processHeld()
    }

    private func openPassive() {
        closeData()
        guard reserveTransferDescriptors() else {
            logger.warning("passive listener refused: descriptor budget exhausted")
            return apply(session.passiveListenerFailed("too many connections in use, try again shortly"))
        }
        do {
            let listener = try PassiveListener(loop: loop, local: local, expectedPeer: peerAddress, allocator: context.passivePorts)
            passive = listener
            let announced = context.configuration.passiveAddress.flatMap(IPAddress.init) ?? IPAddress(local.host) ?? .v4(127, 0, 0, 1)
            apply(session.passiveListenerReady(address: announced, port: listener.port))
        } catch {
            releaseTransferDescriptors()
            logger.warning("passive listener failed", metadata: ["error": "\(error)"])
            apply(session.passiveListenerFailed(error.reason))
        }
    }

    /// Hold the descriptors a transfer needs (see `DescriptorBudget`), once per transfer.
    private func reserveTransferDescriptors() -> Bool {
        if holdsTransferDescriptors { return true }
        holdsTransferDescriptors = context.descriptors.acquire(DescriptorBudget.perTransfer)
        return holdsTransferDescriptors
    }

    private func releaseTransferDescriptors() {
        guard holdsTransferDescriptors else { return }
        holdsTransferDescriptors = false
        context.descriptors.release(DescriptorBudget.perTransfer)
    }

    private func closeData() {
        passive?.close()
        passive = nil
        connector?.cancel()
        connector = nil
        connectTimer?.cancel()
        connectTimer = nil
    }

    // MARK: transfers

    private func startTransfer(_ request: TransferRequest) {
        currentRequest = request
        transferStart = MonotonicClock.seconds()
        connectTimer = EventWatcher.timer(loop: loop) { [weak self] in
            guard let self else { return }
            self.closeData()
            self.transferEnded(.dataConnectionFailed("timed out after \(self.context.configuration.dataConnectionTimeout) seconds"))
        }
        connectTimer?.schedule(timeoutMilliseconds: context.configuration.dataConnectionTimeout * 1000)
        switch request.endpoint {
        case .passive:
            guard let passive else { return transferEnded(.dataConnectionFailed("no passive listener")) }
            passive.takeConnection { [weak self] fd in
                guard let self else { return Sockets.close(fd) }
                self.connected(fd)
            }
        case .active(let address, let port):
            guard reserveTransferDescriptors() else {
                return transferEnded(.dataConnectionFailed("too many connections in use, try again shortly"))
            }
            guard let remote = SocketAddress(host: address.description, port: port) else {
                return transferEnded(.dataConnectionFailed("bad address \(address)"))
            }
            do {
                connector = try ActiveConnector(loop: loop, to: remote, from: local) { [weak self] result in
                    guard let self else {
                        if case .success(let fd) = result { Sockets.close(fd) }
                        return
                    }
                    switch result {
                    case .success(let fd): self.connected(fd)
                    case .failure(let error):
                        self.closeData()
                        self.transferEnded(.dataConnectionFailed(error.description))
                    }
                }
            } catch {
                transferEnded(.dataConnectionFailed(error.description))
            }
        }
    }

    private func connected(_ fd: Int32) {
        let socket = Descriptor(taking: fd)
        closeData()
        guard let request = currentRequest else { return }
        var tls: TLSConnection?
        if request.protected, let tlsContext = context.tls {
            do {
                tls = try TLSConnection(context: tlsContext, fd: socket.rawValue, sessionContext: tlsSessionContext)
            } catch {
                closeUnstartedFile(request)
                return transferEnded(.dataConnectionInsecure(error.description))
            }
        }
        let isUpload: Bool
        if case .store = request.kind { isUpload = true } else { isUpload = false }
        let transfer = DataTransfer(kind: request.kind, socket: socket, loop: loop, stallSeconds: context.configuration.transferStallTimeout,
                                    tls: tls,
                                    tlsPolicy: DataTLSPolicy(requireResumption: context.configuration.tlsSessionReuseRequired,
                                                             requireCloseNotify: context.configuration.tlsCloseNotifyRequired),
                                    caps: isUpload ? uploadCaps : downloadCaps, maxFileSize: isUpload ? maxFileSize : nil,
                                    quota: isUpload ? quota : nil) { [weak self] outcome in
            guard let self else { return }
            self.transfer = nil
            self.transferEnded(outcome)
        }
        self.transfer = transfer
        transfer.start()
    }

    private func abortTransfer() {
        if let transfer {
            transfer.abort()
        } else if let request = currentRequest {
            closeData()
            closeUnstartedFile(request)
            transferEnded(.aborted(bytes: 0))
        }
    }

    private func transferEnded(_ reported: TransferOutcome) {
        guard let request = currentRequest else { return }
        currentRequest = nil
        let outcome = settleReplacement(request, reported)
        connectTimer?.cancel()
        connectTimer = nil
        logTransfer(request, outcome)
        if case .dataConnectionInsecure(let reason) = outcome {
            logger.notice("TLS data connection refused", metadata: [
                "reason": "\(reason)",
                "hint": "\(context.configuration.tlsSessionReuseRequired ? "--tls-session-reuse optional accepts clients that do not resume" : "-")",
            ])
        }
        // A transfer that never started still holds its file: close it.
        if case .dataConnectionFailed = outcome { closeUnstartedFile(request) }
        releaseTransferDescriptors()
        apply(session.transferFinished(outcome))
        if endAfterTransfer { return end() }
        armIdleTimer()
        processHeld()
    }

    /// An atomic replacement becomes the file only after a complete upload; otherwise the
    /// temporary file goes and the old file stays as it was.
    private func settleReplacement(_ request: TransferRequest, _ outcome: TransferOutcome) -> TransferOutcome {
        guard case .store(let file, _) = request.kind, let (temporary, target) = file.replacing, let fileSystem else { return outcome }
        if case .completed(let bytes) = outcome {
            do {
                try fileSystem.rename(temporary, to: target)
                return outcome
            } catch {
                try? fileSystem.removeFile(temporary)
                return .fileError(error, bytes: bytes)
            }
        }
        try? fileSystem.removeFile(temporary)
        return outcome
    }

    private func closeUnstartedFile(_ request: TransferRequest) {
        switch request.kind {
        case .retrieve(let file, _, _):
            file.descriptor.close()
        case .store(let file, _):
            file.descriptor.close()
            if let (temporary, _) = file.replacing { try? fileSystem?.removeFile(temporary) }
        case .listing:
            break
        }
    }

    /// One log line, one xferlog line and the metrics for a finished file transfer: who, direction,
    /// path, bytes, seconds, complete or incomplete. Listings are not file transfers.
    private func logTransfer(_ request: TransferRequest, _ outcome: TransferOutcome) {
        let ascii: Bool
        let incoming: Bool
        switch request.kind {
        case .retrieve(_, _, let isASCII): (incoming, ascii) = (false, isASCII)
        case .store(_, let isASCII): (incoming, ascii) = (true, isASCII)
        case .listing: return
        }
        let bytes: UInt64
        let result: Metrics.TransferResult
        switch outcome {
        case .completed(let n): (bytes, result) = (n, .complete)
        case .aborted(let n): (bytes, result) = (n, .aborted)
        case .connectionLost(let n, _), .fileError(_, let n): (bytes, result) = (n, .failed)
        case .dataConnectionFailed, .dataConnectionInsecure: (bytes, result) = (0, .failed)
        }
        let seconds = Int(MonotonicClock.seconds() - transferStart)
        let direction = incoming ? "in" : "out"
        let status = result == .complete ? "complete" : "incomplete"
        var metadata: Logger.Metadata = [
            "direction": "\(direction)", "path": "\(request.path)", "bytes": "\(bytes)", "seconds": "\(seconds)", "status": "\(status)",
        ]
        if let reason = outcome.failureReason { metadata["reason"] = "\(reason)" }
        logger.info("transfer", metadata: metadata)
        context.metrics.transfer(direction: direction, result: result, bytes: bytes)
        context.xferlog?.record(XferLog.Entry(
            seconds: seconds, remoteHost: peerAddress.description, bytes: bytes,
            path: homePath == "/" ? request.path.description : homePath + request.path.description,
            ascii: ascii, incoming: incoming, anonymous: session.account?.isAnonymous ?? false, user: session.account?.name ?? "-",
            complete: result == .complete))
    }

    // MARK: the end

    private func peerClosed(_ reason: String?) {
        stream = nil
        if handshaking { context.metrics.tlsHandshake(succeeded: false) }
        if let reason { logger.info("control connection lost", metadata: ["reason": "\(reason)"]) }
        // An upload already under way keeps what the client sent: let it run to its end of data
        // (bounded by the stall timeout), then end the session.
        if transfer != nil, case .store = currentRequest?.kind {
            endAfterTransfer = true
            return
        }
        end()
    }

    /// Server shutdown: close idle sessions now; a session with a running transfer closes after it.
    func shutDown() {
        if session.isTransferring {
            held.removeAll()
            held.append(.line(Array("QUIT".utf8)))
        } else {
            apply(session.shutdown("Server shutting down."))
        }
    }

    /// Release what the session holds; the connection's own slot (limits, descriptor budget, loop
    /// count: `onEnd`) goes only once its socket is closed, after its last replies or the deadline.
    private func end() {
        guard !ended else { return }
        ended = true
        if let transfer { transfer.abort() }
        transfer = nil
        if let request = currentRequest {
            closeUnstartedFile(request)
            currentRequest = nil
        }
        closeData()
        releaseTransferDescriptors()
        statusListing = nil
        idleTimer?.cancel()
        delayTimer?.cancel()
        handshakeTimer?.cancel()
        loginTimer?.cancel()
        if let registeredUser { context.users.leave(registeredUser) }
        registeredUser = nil
        logger.info("session end")
        let onEnd = self.onEnd
        self.onEnd = nil
        guard let stream else { return onEnd?(self) ?? () }
        self.stream = nil
        stream.closeAfterFlush(deadlineMilliseconds: ControlConnection.closeDeadlineMilliseconds) { onEnd?(self) }
    }
}
