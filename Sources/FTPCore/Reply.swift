/// One FTP reply: a code and one or more text lines, encoded per RFC 959 §4.2
/// (`123 text` for one line; `123-first`, indented middle lines, `123 last` for several).
public struct Reply: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: ReplyCode
    public let lines: [String]

    public init(_ code: ReplyCode, _ text: String) {
        self.code = code
        self.lines = [text]
    }

    public init(_ code: ReplyCode, lines: [String]) {
        precondition(!lines.isEmpty, "a reply has at least one line")
        self.code = code
        self.lines = lines
    }

    /// The reply as it goes on the wire, CRLF-terminated. Line breaks inside a text line are
    /// replaced so a file name can never forge a reply of its own.
    public var encoded: String {
        let code = String(self.code.rawValue)
        let clean = lines.map(Reply.singleLine)
        if clean.count == 1 { return "\(code) \(clean[0])\r\n" }
        var out = "\(code)-\(clean[0])\r\n"
        for line in clean.dropFirst().dropLast() {
            // A middle line that starts with digits could be mistaken for the end; indent it.
            out += (line.first?.isNumber == true ? " " + line : line) + "\r\n"
        }
        out += "\(code) \(clean[clean.count - 1])\r\n"
        return out
    }

    public var description: String { encoded }

    /// A path quoted for a 257 reply: wrapped in `"`, with every `"` inside doubled (RFC 959 Appendix II).
    public static func quoted(_ path: String) -> String {
        "\"" + path.replacingAll("\"", with: "\"\"") + "\""
    }

    static func singleLine(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            scalars.append(scalar == "\r" || scalar == "\n" ? " " : scalar)
        }
        return String(scalars)
    }
}
