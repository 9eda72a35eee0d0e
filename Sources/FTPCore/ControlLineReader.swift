/// Splits the control stream into command lines (RFC 959 §4.1.3, RFC 854).
///
/// Strips Telnet IAC sequences (IP, DM, WILL/WONT/DO/DONT negotiation) so classic clients that send
/// `IAC IP IAC DM ABOR` are understood, and Telnet command bytes (0xF0-0xFE) that sloppy clients
/// send before a line without their IAC (`IP DM ABOR`): no verb starts with one. Accepts CRLF or a
/// bare LF; refuses to buffer a line longer than `maximumLineLength` (the rest of that line is
/// discarded and `.tooLong` reported once).
public struct ControlLineReader: Sendable {
    /// One unit of output: a complete line (without its terminator) or the notice that one was too long.
    public enum Output: Equatable, Sendable {
        case line([UInt8])
        case tooLong
    }

    private enum TelnetState: Sendable { case data, iac, option }

    public let maximumLineLength: Int
    private var current: [UInt8] = []
    private var telnet: TelnetState = .data
    private var discarding = false

    public init(maximumLineLength: Int = 4096) {
        self.maximumLineLength = maximumLineLength
    }

    /// Feed raw bytes; returns the lines they completed, in order.
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> [Output] where Bytes.Element == UInt8 {
        var out: [Output] = []
        for byte in bytes {
            switch telnet {
            case .iac:
                switch byte {
                case 0xFF: append(0xFF, to: &out)  // IAC IAC is a literal 0xFF
                case 0xFB...0xFE: telnet = .option; continue  // WILL/WONT/DO/DONT take one option byte
                default: break  // IP, DM, AO, AYT, ... are dropped
                }
                telnet = .data
            case .option:
                telnet = .data
            case .data:
                if byte == 0xFF { telnet = .iac; continue }
                if current.isEmpty && !discarding && (0xF0...0xFE).contains(byte) { continue }
                if byte == UInt8(ascii: "\n") {
                    if discarding {
                        discarding = false
                    } else {
                        if current.last == UInt8(ascii: "\r") { current.removeLast() }
                        out.append(.line(current))
                    }
                    current = []   // the line just sent out has the old buffer; an idle session keeps none
                } else {
                    append(byte, to: &out)
                }
            }
        }
        return out
    }

    /// Bytes held for an unfinished line (to bound what a client can make the server buffer).
    public var pendingCount: Int { current.count }

    private mutating func append(_ byte: UInt8, to out: inout [Output]) {
        guard !discarding else { return }
        if current.count >= maximumLineLength {
            discarding = true
            current.removeAll(keepingCapacity: false)
            out.append(.tooLong)
            return
        }
        current.append(byte)
    }
}
