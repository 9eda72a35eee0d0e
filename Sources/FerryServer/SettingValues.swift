import FTPCore
import FerryReactor
import Glibc

/// Reading and checking setting values: each error says what is wrong and what to write instead;
/// the caller adds where the value came from.
extension Settings {
    static func string(_ value: SettingValue) throws(ConfigError) -> String {
        guard case .string(let text) = value, !text.isEmpty else { throw ConfigError("expected a non-empty string") }
        return text
    }

    static func list(_ value: SettingValue) throws(ConfigError) -> [String] {
        switch value {
        case .list(let items): return items
        case .string(let text): return [text]
        default: throw ConfigError("expected an array of strings")
        }
    }

    static func rate(_ value: SettingValue) throws(ConfigError) -> Int {
        let text: String
        switch value {
        case .integer(let number): text = String(number)
        default: text = try string(value)
        }
        guard let bytes = ByteSize.parse(text), bytes > 0, bytes <= UInt64(Int.max) else {
            throw ConfigError("\(text): use bytes per second, like 512K or 10M")
        }
        return Int(bytes)
    }

    static func boolean(_ value: SettingValue) throws(ConfigError) -> Bool {
        guard case .boolean(let flag) = value else { throw ConfigError("expected true or false") }
        return flag
    }

    /// The longest timeout (a week): a bound keeps every conversion to milliseconds far from overflow.
    static let maxSeconds = 7 * 86_400

    static func integer(_ value: SettingValue, atLeast low: Int, atMost high: Int = Int.max) throws(ConfigError) -> Int {
        guard case .integer(let number) = value else { throw ConfigError("expected a whole number") }
        guard number >= low && number <= high else {
            throw ConfigError(high == Int.max ? "must be at least \(low)" : "must be between \(low) and \(high)")
        }
        return number
    }

    static func choice(_ value: SettingValue, _ allowed: [String]) throws(ConfigError) -> String {
        let text = try string(value)
        guard allowed.contains(text) else { throw ConfigError("must be one of \(allowed.joined(separator: ", "))") }
        return text
    }

    /// `HOST:PORT` or `[IPv6]:PORT` with an IP literal and a port from 1 to 65535.
    static func parseListen(_ text: String) throws(ConfigError) -> SocketAddress {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ConfigError("\(text): use [IPv6]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ConfigError("\(text): use HOST:PORT") }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard let number = UInt16(port), number > 0 else { throw ConfigError("\(text): port must be 1-65535") }
        guard let address = SocketAddress(host: String(host), port: number) else {
            throw ConfigError("\(text): \(host) is not an IP address")
        }
        return address
    }

    static func parsePortRange(_ text: String) throws(ConfigError) -> ClosedRange<UInt16> {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let low = UInt16(parts[0]), let high = UInt16(parts[1]), low >= 1024, low <= high else {
            throw ConfigError("\(text): use LO-HI with 1024 <= LO <= HI <= 65535")
        }
        return low...high
    }

    /// An event hook: an absolute path to a program this process may run.
    static func executable(_ value: SettingValue) throws(ConfigError) -> String {
        let path = try string(value)
        guard path.hasPrefix("/") else { throw ConfigError("\(path): give the program's absolute path (it runs without a shell)") }
        guard access(path, X_OK) == 0 else { throw ConfigError("\(path) is not an executable file: \(String(cString: strerror(errno)))") }
        return path
    }

    static func absolute(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
