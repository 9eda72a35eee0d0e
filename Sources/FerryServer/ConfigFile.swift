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
    /// The entries in file order, each with the line it starts on, and every error found.
    public static func parse(_ text: String, source: String) -> (entries: [(key: String, value: SettingValue, line: Int)], errors: [ConfigError]) {
        var entries: [(key: String, value: SettingValue, line: Int)] = []
        var errors: [ConfigError] = []
        var seen: [String: Int] = [:]
        let lines = TextFile.lines(text).map { stripComment(String($0)) }
        var index = 0
        while index < lines.count {
            let number = index + 1
            var line = lines[index].trimmingSpaces
            index += 1
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                errors.append(ConfigError("\(source):\(number): tables are not used by Ferry's configuration; write key = value at the top level"))
                continue
            }
            // An array may go on over the next lines until its brackets close. One that never does is
            // reported here, and the lines after it are read on their own.
            var joined = line
            var end = index
            while openBrackets(joined) > 0 && end < lines.count {
                joined += "\n" + lines[end]
                end += 1
            }
            if openBrackets(joined) > 0 {
                errors.append(ConfigError("\(source):\(number): an array opened here is never closed with ]"))
                continue
            }
            line = joined
            index = end
            var rest = Substring(line)
            let key: String
            switch parseKey(&rest) {
            case .success(let parsed): key = parsed
            case .failure(let error):
                errors.append(ConfigError("\(source):\(number): \(error.description)"))
                continue
            }
            if let first = seen[key] {
                errors.append(ConfigError("\(source):\(number): \(key) is already set on line \(first)"))
                continue
            }
            seen[key] = number
            switch parseValue(String(rest).trimmingSpaces) {
            case .success(let value): entries.append((key, value, number))
            case .failure(let error): errors.append(ConfigError("\(source):\(number): \(key): \(error.description)"))
            }
        }
        return (entries, errors)
    }

    /// A bare key (letters, digits, `-`, `_`) or a quoted one, then `=`; leaves the value.
    static func parseKey(_ text: inout Substring) -> Result<String, ConfigError> {
        text = text.drop { $0 == " " || $0 == "\t" }
        let key: String
        if text.first == "\"" || text.first == "'" {
            switch parseString(&text) {
            case .success(let quoted): key = quoted
            case .failure(let error): return .failure(error)
            }
        } else {
            let bare = text.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
            text = text.dropFirst(bare.count)
            key = String(bare)
        }
        text = text.drop { $0 == " " || $0 == "\t" }
        guard text.first == "=" else {
            return .failure(ConfigError(key.isEmpty && !text.isEmpty ? "bad key \(text.prefix { $0 != "=" }.trimmingSpaces)" : "expected key = value"))
        }
        guard !key.isEmpty else { return .failure(ConfigError("bad key (empty)")) }
        text = text.dropFirst()
        return .success(key)
    }

    /// `[` minus `]` outside strings: above zero, the array goes on over the next line.
    static func openBrackets(_ line: String) -> Int {
        var depth = 0
        var quote: Character?
        var escaped = false
        for character in line {
            if let open = quote {
                if escaped { escaped = false } else if character == "\\" && open == "\"" { escaped = true } else if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "[" {
                depth += 1
            } else if character == "]" {
                depth -= 1
            }
        }
        return depth
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
        if let first = text.first, first.isNumber || first == "+" || first == "-" { return parseInteger(text) }
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else { return .failure(ConfigError("an array must close with ]")) }
            var items: [String] = []
            var rest = Substring(text.dropFirst().dropLast())
            let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" }
            while true {
                rest = rest.drop(while: blank)
                if rest.isEmpty { break }
                switch parseString(&rest) {
                case .failure(let error): return .failure(error)
                case .success(let item): items.append(item)
                }
                rest = rest.drop(while: blank)
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

    /// TOML integers: an optional sign, no leading zeros, `_` only between digits (`1_000`, not
    /// `10_` or `1__0`).
    static func parseInteger(_ text: String) -> Result<SettingValue, ConfigError> {
        let digits = text.first == "+" || text.first == "-" ? text.dropFirst() : Substring(text)
        let groups = digits.split(separator: "_", omittingEmptySubsequences: false)
        guard !digits.isEmpty, groups.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              digits.count == 1 || digits.first != "0",
              let number = Int(text.replacingAll("_", with: "")) else {
            return .failure(ConfigError("\(text) is not a whole number (digits, with _ only between them)"))
        }
        return .success(.integer(number))
    }

    /// Parse one quoted string at the start of `text`, leaving the rest: 'literal', or "basic" with
    /// TOML's escapes (`\"`, `\\`, `\b`, `\t`, `\n`, `\f`, `\r`, and `\u` or `\U` with 4 or 8 hex digits).
    static func parseString(_ text: inout Substring) -> Result<String, ConfigError> {
        guard let open = text.first, open == "\"" || open == "'" else {
            return .failure(ConfigError("expected a quoted string, a number, true, false or an array"))
        }
        text = text.dropFirst()
        var out = ""
        while let character = text.first, character != "\n" {
            text = text.dropFirst()
            if character == open { return .success(out) }
            guard character == "\\" && open == "\"" else {
                out.append(character)
                continue
            }
            guard let next = text.first else { break }
            text = text.dropFirst()
            switch next {
            case "\"": out.append("\"")
            case "\\": out.append("\\")
            case "b": out.append("\u{8}")
            case "t": out.append("\t")
            case "n": out.append("\n")
            case "f": out.append("\u{c}")
            case "r": out.append("\r")
            case "u", "U":
                let length = next == "u" ? 4 : 8
                let hex = text.prefix(length)
                guard hex.count == length, let value = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(value) else {
                    return .failure(ConfigError("\\\(next) needs \(length) hex digits of a Unicode scalar"))
                }
                text = text.dropFirst(length)
                out.unicodeScalars.append(scalar)
            default: return .failure(ConfigError("unknown escape \\\(next)"))
            }
        }
        return .failure(ConfigError("unterminated string"))
    }
}
