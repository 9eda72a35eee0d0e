/// The control-connection state machine (sans I/O): given parsed commands and events from below, it
/// returns replies and effects. It owns login state, current directory, TYPE, REST, RNFR, the data
/// connection set-up and the rules of what may follow what.
public struct Session {
    enum LoginState {
        case awaitingUser
        case awaitingPassword(String)
        /// Credentials are being checked; `certificateFor` names the user a client certificate is
        /// trying to log in without a password (answered 232, or 331 if the user needs one).
        case authenticating(certificateFor: String?)
        case loggedIn(Account)
    }

    /// Where a directory listing goes once `directoryOpened` has it.
    enum ListingPurpose: Equatable {
        case transfer(ListingStyle)
        case status
    }

    enum DataSetup: Equatable {
        case none
        case openingPassive
        case passive
        case active(IPAddress, UInt16)
    }

    public let policy: SessionPolicy
    /// The control connection's peer (normalised), for the PORT/EPRT bounce check.
    public let peer: IPAddress
    /// Whether the control connection is IPv6 (PASV cannot express that address).
    public let controlIsIPv6: Bool
    let clock: @Sendable () -> Int64

    var login: LoginState = .awaitingUser
    var fileSystem: (any FileSystem)?
    var cwd = VirtualPath.root
    var ascii = false
    var restartOffset: UInt64 = 0
    var renameSource: VirtualPath?
    var dataSetup: DataSetup = .none
    var extendedPassiveOnly = false
    var pendingPassiveExtended = false
    var transferRunning = false
    var abortRequested = false
    /// QUIT came during a transfer: only ABOR is taken until it ends, then the connection closes.
    var quitAfterTransfer = false
    /// HASH: the selected algorithm, the range RANG set for the next HASH, and a digest under way.
    var hashAlgorithm = HashAlgorithm.sha256
    var hashRange: (start: UInt64, end: UInt64)?
    var pendingHash: PendingHash?
    /// A directory being opened off the loop for LIST/NLST/MLSD/STAT.
    var pendingListing: (path: VirtualPath, purpose: ListingPurpose)?
    /// A STAT listing is being sent on the control connection.
    var statusListingRunning = false
    var loginFailures = 0
    var badCommands = 0
    var machineFacts = MachineFacts(writable: false)
    var tlsActive: Bool
    /// The names in the client certificate the control connection's TLS handshake verified (empty
    /// without one): USER and PASS say whether it names the user.
    public var clientCertificateNames: [String] = []
    var protectionBufferSet = false
    var dataProtected: Bool
    public internal(set) var closed = false

    /// With `implicitTLS`, the control connection is TLS from the start and data connections are
    /// protected by default (the convention of implicit FTPS).
    public init(policy: SessionPolicy, peer: IPAddress, controlIsIPv6: Bool, implicitTLS: Bool = false,
                clock: @escaping @Sendable () -> Int64) {
        self.policy = policy
        tlsActive = implicitTLS
        dataProtected = implicitTLS
        protectionBufferSet = implicitTLS
        self.peer = peer.normalised
        self.controlIsIPv6 = controlIsIPv6
        self.clock = clock
    }

    /// True while the session waits for an answer from below; the caller holds further commands
    /// (except ABOR during a transfer) so that replies stay in order.
    public var isBusy: Bool {
        if case .authenticating = login { return true }
        return dataSetup == .openingPassive || transferRunning || pendingListing != nil || statusListingRunning || pendingHash != nil
    }

    public var isTransferring: Bool { transferRunning }

    /// PROT P is in effect: data connections are TLS.
    public var protectsData: Bool { dataProtected }

    /// The logged-in account, if any.
    public var account: Account? {
        if case .loggedIn(let account) = login { return account }
        return nil
    }

    public func greeting() -> [SessionEffect] {
        [.reply(Reply(.serviceReady, policy.banner))]
    }

    /// Handle one control line from `ControlLineReader`.
    public mutating func handle(_ input: ControlLineReader.Output) -> [SessionEffect] {
        guard !closed else { return [] }
        switch input {
        case .tooLong:
            return badCommand(Reply(.syntaxError, "Command line too long (limit 4096 bytes)."))
        case .line(let bytes):
            switch Command.parse(bytes) {
            case .success(let command): return handle(command)
            case .failure(let error): return badCommand(error.reply)
            }
        }
    }

    /// Handle one parsed command.
    public mutating func handle(_ command: Command) -> [SessionEffect] {
        guard !closed, !quitAfterTransfer || command.verb == "ABOR" else { return [] }
        guard let spec = CommandCatalog.spec(for: command.verb, tls: policy.tlsAvailable) else {
            return badCommand(Reply(.notImplemented, "\(command.verb): command not implemented."))
        }
        if account == nil && !spec.beforeLogin {
            return [.reply(Reply(.notLoggedIn, "Please log in with USER and PASS first."))]
        }
        if policy.requireTLS && !tlsActive && (command.verb == "USER" || command.verb == "PASS") {
            return [.reply(Reply(.notLoggedIn, "TLS is required on this server: send AUTH TLS first."))]
        }
        guard let argument = command.argument else {
            let code: ReplyCode = spec.createsName ? .fileNameNotAllowed : .syntaxErrorInArguments
            return [.reply(Reply(code, "Argument is not valid UTF-8 (RFC 2640)."))]
        }
        if hashRange != nil && ["RETR", "STOR", "APPE", "STOU"].contains(command.verb) {
            hashRange = nil
            return reply(.notImplementedForParameter, "RANG applies only to HASH here; the range is reset: send the transfer again (REST for an offset).")
        }
        if command.verb != "RNTO" {
            // RNFR must be followed directly by RNTO. (REST instead lasts until a transfer uses it:
            // clients send PASV or TYPE between REST and RETR.)
            renameSource = nil
        }
        return dispatch(command.verb, argument)
    }

    private mutating func dispatch(_ verb: String, _ argument: String) -> [SessionEffect] {
        switch verb {
        case "USER": return user(argument)
        case "PASS": return pass(argument)
        case "QUIT": return quit()
        case "NOOP": return reply(.commandOK, "NOOP ok.")
        case "SYST": return reply(.systemType, "UNIX Type: L8")
        case "FEAT": return feat()
        case "OPTS": return opts(argument)
        case "HELP": return help(argument)
        case "STAT": return stat(argument)
        case "PWD", "XPWD": return reply(.pathCreated, "\(Reply.quoted(cwd.description)) is the current directory.")
        case "CWD", "XCWD": return changeDirectory(argument)
        case "CDUP", "XCUP": return changeDirectory("..")
        case "TYPE": return type(argument)
        case "MODE": return single(argument, accepted: "S", known: "SBC", what: "Mode")
        case "STRU": return single(argument, accepted: "F", known: "FRP", what: "Structure")
        case "ALLO": return reply(.superfluous, "ALLO not needed: storage is allocated as the file grows.")
        case "PASV": return passive(extended: false, argument)
        case "EPSV": return passive(extended: true, argument)
        case "PORT": return port(argument)
        case "EPRT": return extendedPort(argument)
        case "RETR": return retrieve(argument)
        case "STOR": return store(argument, append: false)
        case "APPE": return store(argument, append: true)
        case "STOU": return storeUnique(argument)
        case "REST": return restart(argument)
        case "HASH": return hash(argument)
        case "RANG": return range(argument)
        case "XCRC", "XMD5", "XSHA1", "XSHA256", "XSHA512": return legacyDigest(verb, argument)
        case "ABOR": return abort()
        case "LIST": return listing(argument, style: .long)
        case "NLST": return listing(argument, style: .names)
        case "MLSD": return machineListing(argument)
        case "MLST": return machineStatus(argument)
        case "SIZE": return size(argument)
        case "MDTM": return modificationTime(argument)
        case "MFMT": return setModificationTime(argument)
        case "DELE": return delete(argument)
        case "MKD", "XMKD": return makeDirectory(argument)
        case "RMD", "XRMD": return removeDirectory(argument)
        case "RNFR": return renameFrom(argument)
        case "RNTO": return renameTo(argument)
        case "SITE": return site(argument)
        case "AUTH": return auth(argument)
        case "PBSZ": return protectionBufferSize(argument)
        case "PROT": return protection(argument)
        case "CCC": return reply(.policyDenied, "CCC refused: the control connection stays encrypted.")
        default: return badCommand(Reply(.notImplemented, "\(verb): command not implemented."))
        }
    }

    /// The control connection went idle for too long.
    public mutating func idleTimeout() -> [SessionEffect] {
        closeWith(Reply(.serviceNotAvailable, "Idle timeout: closing control connection."))
    }

    /// The server is shutting down or refusing the session.
    public mutating func shutdown(_ reason: String) -> [SessionEffect] {
        closeWith(Reply(.serviceNotAvailable, reason))
    }

    // MARK: helpers shared by the command files

    func reply(_ code: ReplyCode, _ text: String) -> [SessionEffect] {
        [.reply(Reply(code, text))]
    }

    mutating func closeWith(_ reply: Reply) -> [SessionEffect] {
        closed = true
        var effects: [SessionEffect] = [.reply(reply)]
        if transferRunning { effects.insert(.abortTransfer, at: 0) }
        if dataSetup != .none { effects.insert(.closePassiveListener, at: 0) }
        effects.append(.close)
        return effects
    }

    mutating func badCommand(_ reply: Reply) -> [SessionEffect] {
        badCommands += 1
        if badCommands >= policy.maxBadCommands {
            return closeWith(Reply(.serviceNotAvailable, "Too many bad commands: closing control connection."))
        }
        return [.reply(reply)]
    }

    func requireArgument(_ argument: String) -> [SessionEffect]? {
        argument.isEmpty ? reply(.syntaxErrorInArguments, "Syntax error: argument required.") : nil
    }

    /// 550 when the account may not change anything.
    func requireWritable() -> [SessionEffect]? {
        account?.readOnly == true ? reply(.fileUnavailable, "Permission denied: this account is read-only.") : nil
    }

    func failure(_ path: VirtualPath, _ error: FileSystemError) -> [SessionEffect] {
        reply(.fileUnavailable, "\(path): \(error)")
    }

    func resolve(_ argument: String) -> VirtualPath {
        cwd.resolving(argument)
    }
}
