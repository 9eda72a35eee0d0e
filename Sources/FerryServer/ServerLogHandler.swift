import Glibc
import Logging

/// The swift-log handler for the server log on standard error, one line per event, in one of two
/// formats. Each line goes out in one write(2), so lines from different threads never interleave,
/// and nothing a client sent (a CR, LF or ESC in a user name or path) can forge a line or drive a
/// terminal: control characters are escaped in both formats.
public struct ServerLogHandler: LogHandler {
    /// `text`: swift-log's `StreamLogHandler` layout
    /// (`2026-12-02T00:26:53+0000 info ferry: client=... user=alice [FerryServer] login ok`).
    /// `json`: one object a line
    /// (`{"time":"2026-11-25T07:16:57.123Z","level":"info","message":"login ok","user":"alice",...}`).
    public enum Format: Sendable {
        case text, json
    }

    /// What every line of this handler shares, in one reference: with it the handler fits in a
    /// Logger's inline existential buffer, so a session's logger costs no extra box.
    private final class Settings: Sendable {
        let label: String
        let format: Format
        init(label: String, format: Format) {
            self.label = label
            self.format = format
        }
    }

    /// The handler's metadata as the text it is logged as, sorted by key. A session's logger holds
    /// two or three entries, and an array of exactly that many costs a fraction of the Dictionary
    /// `Logger.Metadata` would (idle sessions are counted in hundreds of thousands).
    private var fields: [(key: String, value: String)] = []
    public var logLevel: Logger.Level = .info
    private let settings: Settings

    public init(label: String, format: Format) {
        settings = Settings(label: label, format: format)
    }

    public var metadata: Logger.Metadata {
        get { Dictionary(fields.map { ($0.key, .string($0.value)) }, uniquingKeysWith: { $1 }) }
        set { fields = newValue.sorted { $0.key < $1.key }.map { ($0.key, $0.value.description) } }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { fields.first { $0.key == key }.map { .string($0.value) } }
        set {
            let index = fields.firstIndex { $0.key >= key } ?? fields.endIndex
            let present = index < fields.endIndex && fields[index].key == key
            switch (newValue, present) {
            case (let value?, true): fields[index].value = value.description
            case (let value?, false):
                var grown: [(key: String, value: String)] = []
                grown.reserveCapacity(fields.count + 1)   // exactly one more: insert would double the capacity
                grown += fields[..<index]
                grown.append((key, value.description))
                grown += fields[index...]
                fields = grown
            case (nil, true): fields.remove(at: index)
            case (nil, false): break
            }
        }
    }

    public func log(event: LogEvent) {
        var fields = self.fields.map { ($0.key, $0.value) }
        if let extra = event.metadata {
            fields = fields.filter { extra[$0.0] == nil } + extra.map { ($0.key, $0.value.description) }
            fields.sort { $0.0 < $1.0 }
        }
        if let error = event.error { fields.append(("error", "\(error)")) }
        var line: String
        switch settings.format {
        case .text:
            let metadataText = fields.map { " \(ServerLogHandler.escaped($0.0))=\(ServerLogHandler.escaped($0.1))" }.joined()
            line = "\(ServerLogHandler.localTimestamp()) \(event.level) \(settings.label):\(metadataText) [\(event.source)] "
                + ServerLogHandler.escaped(event.message.description) + "\n"
        case .json:
            fields.insert(contentsOf: [("time", ServerLogHandler.utcTimestamp()), ("level", event.level.rawValue), ("logger", settings.label),
                                       ("message", event.message.description)], at: 0)
            line = "{" + fields.map { "\(ServerLogHandler.quote($0.0)):\(ServerLogHandler.quote($0.1))" }.joined(separator: ",") + "}\n"
        }
        _ = line.withUTF8 { write(2, $0.baseAddress, $0.count) }
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// For the text format: `\r`, `\n`, `\t` and `\\` as such, other control characters (C0, DEL,
    /// C1) as `\u{..}`.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0) || $0 == "\\" }) else { return text }
        return escape(text, json: false)
    }

    /// A JSON string literal (RFC 8259 escaping).
    static func quote(_ text: String) -> String {
        "\"" + escape(text, json: true) + "\""
    }

    /// The two formats escape the same characters, but JSON also escapes `"` and writes other
    /// control characters as `\u00XX`.
    private static func escape(_ text: String, json: Bool) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\r": out += "\\r"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            case "\"" where json: out += "\\\""
            case _ where isControl(scalar):
                let hex = String(scalar.value, radix: 16)
                out += json ? "\\u" + String(repeating: "0", count: 4 - hex.count) + hex : "\\u{" + hex + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Local time with its offset, as StreamLogHandler writes it.
    private static func localTimestamp() -> String {
        var seconds = time(nil)
        var parts = tm()
        localtime_r(&seconds, &parts)
        return format(parts, "%Y-%m-%dT%H:%M:%S%z")
    }

    /// UTC, milliseconds, RFC 3339.
    static func utcTimestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = now.tv_nsec / 1_000_000
        return format(parts, "%Y-%m-%dT%H:%M:%S") + "." + (millis < 10 ? "00" : millis < 100 ? "0" : "") + "\(millis)Z"
    }

    private static func format(_ parts: tm, _ pattern: String) -> String {
        var parts = parts
        var buffer = [CChar](repeating: 0, count: 40)
        let length = strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
