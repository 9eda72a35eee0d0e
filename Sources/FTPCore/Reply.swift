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
        if lines.count == 1 { return "\(code.rawValue) \(Reply.singleLine(lines[0]))\r\n" }
        var out = encodedAsOpening
        for line in lines.dropFirst().dropLast() { out += Reply.middleLine(line) }
        out += "\(code.rawValue) \(Reply.singleLine(lines[lines.count - 1]))\r\n"
        return out
    }

    /// The first line only, as a multi-line reply opens (`213-text`): for a reply whose middle
    /// lines are streamed with `middleLine` and that another reply of the same code closes.
    public var encodedAsOpening: String {
        "\(code.rawValue)-\(Reply.singleLine(lines[0]))\r\n"
    }

    /// One middle line of a multi-line reply, CRLF-terminated.
    public static func middleLine(_ text: String) -> String {
        let line = singleLine(text)
        // A middle line that starts with digits could be mistaken for the end; indent it.
        return (line.first?.isNumber == true ? " " + line : line) + "\r\n"
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
