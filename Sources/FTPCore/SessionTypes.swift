/// Who is logged in, as far as the protocol core cares.
public struct Account: Sendable, Equatable {
    public let name: String
    public let readOnly: Bool
    public let isAnonymous: Bool

    public init(name: String, readOnly: Bool, isAnonymous: Bool = false) {
        self.name = name
        self.readOnly = readOnly
        self.isAnonymous = isAnonymous
    }
}

/// A password on its way to verification; never printed.
public struct Password: Sendable, Equatable, CustomStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
}

/// Operator policy the protocol core enforces.
public struct SessionPolicy: Sendable {
    public var anonymousAllowed: Bool
    /// Failed PASS attempts in one session before 421 and close.
    public var maxLoginFailures: Int
    /// Bad commands (unknown verbs, syntax errors) in one session before 421 and close.
    public var maxBadCommands: Int
    public var banner: String
    /// AUTH TLS is offered (a certificate is configured).
    public var tlsAvailable: Bool
    /// Logins and data connections must be protected by TLS.
    public var requireTLS: Bool

    public init(anonymousAllowed: Bool, maxLoginFailures: Int = 3, maxBadCommands: Int = 50,
                banner: String = "Ferry FTP server ready.", tlsAvailable: Bool = false, requireTLS: Bool = false) {
        self.anonymousAllowed = anonymousAllowed
        self.tlsAvailable = tlsAvailable
        self.requireTLS = requireTLS
        self.maxLoginFailures = maxLoginFailures
        self.maxBadCommands = maxBadCommands
        self.banner = banner
    }

    /// How long to hold a 530 after the n-th failure (1-based): under a second at first, then growing.
    public static func failureDelayMilliseconds(attempt: Int) -> Int {
        min(400 << min(max(attempt - 1, 0), 4), 5000)
    }
}

/// Where the data connection comes from.
public enum DataEndpoint: Sendable, Equatable {
    /// The client connects to the passive listener the server opened.
    case passive
    /// The server connects to the client at this address (PORT/EPRT).
    case active(IPAddress, UInt16)
}

/// What a listing shows: one entry already known (LIST of a file), or an opened directory.
public enum ListingSource: Sendable, Equatable {
    case entries([FileInfo])
    case directory(ListingHandle)
}

/// What a transfer moves.
public enum TransferKind: Sendable, Equatable {
    case retrieve(OpenedFile, offset: UInt64, ascii: Bool)
    case store(OpenedFile, ascii: Bool)
    case listing(ListingSource, ListingStyle)
}

/// One data transfer for the layer below to run; it answers with `Session.transferFinished`.
public struct TransferRequest: Sendable, Equatable {
    public let kind: TransferKind
    public let endpoint: DataEndpoint
    /// The path the transfer concerns (for logs).
    public let path: VirtualPath
    /// PROT P: the data connection is a TLS server endpoint.
    public let protected: Bool
}

/// How a transfer ended, as the layer below observed it.
public enum TransferOutcome: Sendable, Equatable {
    case completed(bytes: UInt64)
    /// The data connection never came up (accept/connect failed or timed out).
    case dataConnectionFailed(String)
    /// The peer closed or reset the data connection before the end, or it made no progress.
    case connectionLost(bytes: UInt64, reason: String)
    /// ABOR stopped it.
    case aborted(bytes: UInt64)
    /// Reading or writing the file failed.
    case fileError(FileSystemError, bytes: UInt64)
    /// The TLS handshake on the data connection failed or did not meet the policy (522).
    case dataConnectionInsecure(String)

    /// Why the transfer did not complete (for the log); nil when it did.
    public var failureReason: String? {
        switch self {
        case .completed: return nil
        case .dataConnectionFailed(let reason), .connectionLost(_, let reason), .dataConnectionInsecure(let reason): return reason
        case .aborted: return "aborted (ABOR, or the session ended)"
        case .fileError(let error, _): return "file: \(error)"
        }
    }
}

/// A change a client made to the file system that the operator's event hooks hear of.
public enum FileChange: Sendable, Equatable {
    case deleted(VirtualPath)
    case renamed(from: VirtualPath, to: VirtualPath)
}

/// What the session asks of the layer below, in order.
public enum SessionEffect: Sendable, Equatable {
    case reply(Reply)
    /// Verify credentials off the loop; answer with `loginSucceeded` or `loginFailed`. `certified`:
    /// the control connection's client certificate names the user.
    case authenticate(user: String, password: Password, certified: Bool)
    /// The client certificate names the user: log in without a password if the user allows it
    /// (`loginSucceeded`), else ask for one (`passwordRequired`).
    case authenticateCertificate(user: String)
    /// Anonymous login was accepted by policy; answer with `loginSucceeded`.
    case authenticateAnonymous
    /// Open a passive listener (closing any previous one); answer with `passiveListenerReady` or `passiveListenerFailed`.
    case openPassiveListener
    /// Close the passive listener, if any.
    case closePassiveListener
    case startTransfer(TransferRequest)
    /// Open this directory for listing off the event loop; answer with `directoryOpened`.
    case openDirectory(VirtualPath)
    /// STAT of a directory: send the listing as the middle lines of a multi-line reply that
    /// `opening` starts and `closing` ends, a batch at a time as the client reads; answer with
    /// `statusListingSent`.
    case sendStatusListing(ListingHandle, opening: Reply, closing: Reply)
    /// Switch the control connection to TLS right after the reply before this one (AUTH TLS);
    /// plaintext the client sent after the command is discarded.
    case upgradeToTLS
    case abortTransfer
    /// Compute a digest off the event loop; answer with `hashComputed`.
    case computeHash(HashRequest)
    /// A client changed the file system (for the event hooks); nothing to answer.
    case fileChanged(FileChange)
    /// Close the control connection once every reply before this has been sent.
    case close
}
