/// One parsed control line: an upper-cased verb and its argument (RFC 959 §5.3).
public struct Command: Equatable, Sendable {
    public let verb: String
    /// The argument's raw bytes (everything after the first space), exactly as sent.
    public let argumentBytes: [UInt8]

    public init(verb: String, argumentBytes: [UInt8] = []) {
        self.verb = verb
        self.argumentBytes = argumentBytes
    }

    public init(verb: String, argument: String) {
        self.init(verb: verb, argumentBytes: Array(argument.utf8))
    }

    /// The argument as UTF-8 text (RFC 2640), or nil when its bytes are not valid UTF-8.
    public var argument: String? {
        String(validating: argumentBytes, as: UTF8.self)
    }


    /// Why a line could not become a command.
    public enum ParseError: Error, Equatable, Sendable {
        case empty
        case invalidVerb
        case containsNUL(verb: String)

        public var reply: Reply {
            switch self {
            case .empty: return Reply(.syntaxError, "Empty command line.")
            case .invalidVerb: return Reply(.syntaxError, "Syntax error, command unrecognized.")
            case .containsNUL: return Reply(.syntaxErrorInArguments, "NUL byte in argument.")
            }
        }
    }

    /// Parse one line (without CRLF). The verb is ASCII letters (RFC 959's are 3 or 4), then digits
    /// for the legacy digest commands (XSHA256), at most 8 characters, case-insensitive; the argument
    /// keeps its spaces (file names may begin or end with one).
    public static func parse(_ line: [UInt8]) -> Result<Command, ParseError> {
        guard !line.isEmpty else { return .failure(.empty) }
        let space = line.firstIndex(of: UInt8(ascii: " ")) ?? line.endIndex
        let verbBytes = line[..<space]
        let isLetter: (UInt8) -> Bool = { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }
        let letters = verbBytes.prefix(while: isLetter)
        guard (1...8).contains(verbBytes.count), !letters.isEmpty,
              verbBytes.dropFirst(letters.count).allSatisfy({ $0 >= 48 && $0 <= 57 })
        else { return .failure(.invalidVerb) }
        let verb = String(decoding: verbBytes, as: UTF8.self).uppercased()
        let argument = space < line.endIndex ? Array(line[(space + 1)...]) : []
        if argument.contains(0) { return .failure(.containsNUL(verb: verb)) }
        return .success(Command(verb: verb, argumentBytes: argument))
    }
}
