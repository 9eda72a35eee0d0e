import Glibc
import Logging

/// A swift-log handler that writes one JSON object per line to standard error:
/// `{"time":"2026-11-25T07:16:57.123Z","level":"info","message":"login ok","user":"alice",...}`.
/// Each line goes out in one write(2), so lines from different threads never interleave.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(String, String)] = [("time", JSONLogHandler.timestamp()), ("level", event.level.rawValue),
                                          ("logger", label), ("message", event.message.description)]
        if let error = event.error { fields.append(("error", "\(error)")) }
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) { fields.append((key, value.description)) }
        var text = "{" + fields.map { "\(JSONLogHandler.quote($0.0)):\(JSONLogHandler.quote($0.1))" }.joined(separator: ",") + "}\n"
        _ = text.withUTF8 { write(2, $0.baseAddress, $0.count) }
    }

    /// A JSON string literal (RFC 8259 escaping).
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// UTC, milliseconds, RFC 3339.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let base = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let millis = now.tv_nsec / 1_000_000
        return base + "." + (millis < 10 ? "00" : millis < 100 ? "0" : "") + "\(millis)Z"
    }
}
