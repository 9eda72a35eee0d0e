import FTPCore

/// Every problem found in a configuration, one a line.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public let errors: [ConfigError]
    public init(errors: [ConfigError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// A value from the configuration: what TOML gave (or a flag or environment variable spelled).
public enum SettingValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case list([String])
}

/// One problem in a configuration, with where it is (`ferry.toml:12: ...`).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Reads the TOML that Ferry's configuration uses: `key = value` lines with strings ("basic" and
/// 'literal'), integers, booleans and arrays of strings, comments and blank lines. Ferry's settings
/// are flat (one key per command-line flag), so tables are refused rather than half-understood.
/// Every error names its line; all errors are collected, not just the first.
public enum ConfigFile {
    /// The entries in file order, each with its line number, and every error found.
    public static func parse(_ text: String, source: String) -> (entries: [(key: String, value: SettingValue, line: Int)], errors: [ConfigError]) {
        var entries: [(key: String, value: SettingValue, line: Int)] = []
        var errors: [ConfigError] = []
        var seen: [String: Int] = [:]
        for (index, raw) in TextFile.lines(text).enumerated() {
            let number = index + 1
            let line = stripComment(String(raw)).trimmingSpaces
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                errors.append(ConfigError("\(source):\(number): tables are not used by Ferry's configuration; write key = value at the top level"))
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                errors.append(ConfigError("\(source):\(number): expected key = value"))
                continue
            }
            let key = String(line[..<equals]).trimmingSpaces
            let valueText = String(line[line.index(after: equals)...]).trimmingSpaces
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                errors.append(ConfigError("\(source):\(number): bad key \(key.isEmpty ? "(empty)" : key)"))
                continue
            }
            if let first = seen[key] {
                errors.append(ConfigError("\(source):\(number): \(key) is already set on line \(first)"))
                continue
            }
            seen[key] = number
            switch parseValue(valueText) {
            case .success(let value): entries.append((key, value, number))
            case .failure(let error): errors.append(ConfigError("\(source):\(number): \(key): \(error.description)"))
            }
        }
        return (entries, errors)
    }

    /// Drop a `#` comment that is not inside a string.
    static func stripComment(_ line: String) -> String {
        var quote: Character?
        var escaped = false
        for index in line.indices {
            let character = line[index]
            if let open = quote {
                if escaped { escaped = false } else if character == "\\" && open == "\"" { escaped = true } else if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#" {
                return String(line[..<index])
            }
        }
        return line
    }

    static func parseValue(_ text: String) -> Result<SettingValue, ConfigError> {
        if text == "true" { return .success(.boolean(true)) }
        if text == "false" { return .success(.boolean(false)) }
        if let number = Int(text.replacingAll("_", with: "")), text.first != "_" { return .success(.integer(number)) }
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else { return .failure(ConfigError("an array must close with ] on the same line")) }
            var items: [String] = []
            var rest = Substring(text.dropFirst().dropLast())
            while true {
                rest = rest.drop { $0 == " " || $0 == "\t" }
                if rest.isEmpty { break }
                switch parseString(&rest) {
                case .failure(let error): return .failure(error)
                case .success(let item): items.append(item)
                }
                rest = rest.drop { $0 == " " || $0 == "\t" }
                if rest.isEmpty { break }
                guard rest.first == "," else { return .failure(ConfigError("expected , between array items")) }
                rest = rest.dropFirst()
            }
            return .success(.list(items))
        }
        var rest = Substring(text)
        switch parseString(&rest) {
        case .failure(let error): return .failure(error)
        case .success(let string):
            guard rest.allSatisfy({ $0 == " " || $0 == "\t" }) else { return .failure(ConfigError("unexpected text after the string")) }
            return .success(.string(string))
        }
    }

    /// Parse one quoted string at the start of `text`, leaving the rest.
    static func parseString(_ text: inout Substring) -> Result<String, ConfigError> {
        guard let open = text.first, open == "\"" || open == "'" else {
            return .failure(ConfigError("expected a quoted string, a number, true, false or an array"))
        }
        text = text.dropFirst()
        var out = ""
        while let character = text.first {
            text = text.dropFirst()
            if character == open { return .success(out) }
            if character == "\\" && open == "\"" {
                guard let next = text.first else { break }
                text = text.dropFirst()
                switch next {
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: return .failure(ConfigError("unknown escape \\\(next)"))
                }
            } else {
                out.append(character)
            }
        }
        return .failure(ConfigError("unterminated string"))
    }
}
