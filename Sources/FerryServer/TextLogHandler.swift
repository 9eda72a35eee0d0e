import Glibc
import Logging

/// A swift-log handler for the text log on standard error, in swift-log's `StreamLogHandler` layout
/// (`2026-12-02T00:26:53+0000 info ferry: client=... user=alice [FerryServer] login ok`) with every
/// control character escaped: a user name or path sent with a CR, LF or ESC in it cannot forge a
/// log line or drive a terminal. Each line goes out in one write(2).
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        var fields = merged.sorted { $0.key < $1.key }.map { "\(TextLogHandler.escaped($0.key))=\(TextLogHandler.escaped($0.value.description))" }
        if let error = event.error { fields.append("error=\(TextLogHandler.escaped("\(error)"))") }
        let metadataText = fields.isEmpty ? "" : " " + fields.joined(separator: " ")
        var line = "\(TextLogHandler.timestamp()) \(event.level) \(label):\(metadataText) [\(event.source)] \(TextLogHandler.escaped(event.message.description))\n"
        _ = line.withUTF8 { write(2, $0.baseAddress, $0.count) }
    }

    /// `\r`, `\n`, `\t` and `\\` as such, other control characters (C0, DEL, C1) as `\u{..}`.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0 == "\\" }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\r": out += "\\r"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value):
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Local time with its offset, as StreamLogHandler writes it.
    private static func timestamp() -> String {
        var seconds = time(nil)
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 40)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
