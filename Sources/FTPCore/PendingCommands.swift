/// Control lines received but not yet handled, in arrival order. Lines wait here while the session
/// cannot take them (a password being checked, a transfer running, a reply not yet read). During a
/// transfer ABOR overtakes the lines before it, since it is the command that must reach a busy
/// server (RFC 959 §4.1.3), and a QUIT that is next in line is taken too (its 221 comes at once, the
/// connection closes after the transfer). Pipelining is legitimate: the owner stops reading once
/// `isFull`.
public struct PendingCommands: Sendable {
    /// Held lines at which the owner stops reading (ABOR cannot overtake a transfer past this many).
    public static let capacity = 64

    private var reader = ControlLineReader()
    private var held: [ControlLineReader.Output] = []

    public init() {}

    public var isEmpty: Bool { held.isEmpty }
    public var isFull: Bool { held.count >= PendingCommands.capacity }

    /// Split `bytes` into lines and hold them.
    public mutating func feed(_ bytes: [UInt8]) {
        held.append(contentsOf: reader.feed(bytes))
    }

    /// The next line `session` can take now, with its verb (`?` when it does not parse), or nil.
    public mutating func next(for session: Session) -> (line: ControlLineReader.Output, verb: String)? {
        guard !held.isEmpty, !session.closed else { return nil }
        if !session.isBusy || (session.isTransferring && PendingCommands.withVerb(held[0]).verb == "QUIT") {
            return take(at: 0)
        }
        guard session.isTransferring, let index = held.firstIndex(where: { PendingCommands.withVerb($0).verb == "ABOR" }) else { return nil }
        return take(at: index)
    }

    /// The line at `index`, with its verb; the last one taken frees the buffer (an idle session keeps none).
    private mutating func take(at index: Int) -> (line: ControlLineReader.Output, verb: String) {
        let line = held.remove(at: index)
        if held.isEmpty { held = [] }
        return PendingCommands.withVerb(line)
    }

    /// AUTH TLS: what the client sent after the command, in plaintext, is dropped.
    public mutating func discardAll() {
        held.removeAll()
        reader = ControlLineReader()
    }

    /// Server shutdown during a transfer: nothing more is taken but a QUIT once it ends.
    public mutating func replaceAll(with line: String) {
        held = [.line(Array(line.utf8))]
    }

    private static func withVerb(_ line: ControlLineReader.Output) -> (line: ControlLineReader.Output, verb: String) {
        guard case .line(let bytes) = line, case .success(let command) = Command.parse(bytes) else { return (line, "?") }
        return (line, command.verb)
    }
}
