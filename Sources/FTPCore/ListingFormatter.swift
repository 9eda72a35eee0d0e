#if canImport(Glibc)
import Glibc
#endif

/// Renders directory entries in the three listing styles, one CRLF-terminated line per entry, so the
/// transfer layer can stream a listing of any length without building it whole.
public enum ListingStyle: Sendable, Equatable {
    /// LIST: `ls -l` form (what curl, lftp and FileZilla parse).
    case long
    /// NLST: names only.
    case names
    /// MLSD: RFC 3659 facts.
    case machine(MachineFacts)
}

/// Which MLSx facts to send (OPTS MLST selects them) and whether the user may write.
public struct MachineFacts: Sendable, Equatable {
    public static let all = ["type", "size", "modify", "perm", "unix.mode", "unique"]
    public var selected: [String]
    public var writable: Bool

    public init(selected: [String] = MachineFacts.all, writable: Bool) {
        self.selected = selected
        self.writable = writable
    }
}

/// Lines are rendered straight into bytes: a 10 000-entry listing is built in one reused buffer
/// without a String per field (what a listing's cost was mostly made of).
public enum ListingFormatter {
    /// One listing line for `info`, CRLF-terminated. `now` decides between `HH:MM` and the year in LIST.
    public static func line(_ info: FileInfo, style: ListingStyle, now: Int64) -> String {
        var out: [UInt8] = []
        append(info, style: style, now: now, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `line` appended to `out`.
    public static func append(_ info: FileInfo, style: ListingStyle, now: Int64, to out: inout [UInt8]) {
        switch style {
        case .long: appendLong(info, now: now, to: &out)
        case .names: out.append(contentsOf: info.name.utf8)
        case .machine(let facts):
            appendFacts(info, facts: facts, to: &out)
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: info.name.utf8)
        }
        out.append(contentsOf: [0x0D, 0x0A])
    }

    /// `drwxr-xr-x 1 ftp ftp 4096 Nov 25 06:34 name`. Owner and group are not revealed.
    public static func longLine(_ info: FileInfo, now: Int64) -> String {
        var out: [UInt8] = []
        appendLong(info, now: now, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static let permissionLetters: [(UInt32, UInt8)] = [
        (0o400, UInt8(ascii: "r")), (0o200, UInt8(ascii: "w")), (0o100, UInt8(ascii: "x")),
        (0o040, UInt8(ascii: "r")), (0o020, UInt8(ascii: "w")), (0o010, UInt8(ascii: "x")),
        (0o004, UInt8(ascii: "r")), (0o002, UInt8(ascii: "w")), (0o001, UInt8(ascii: "x")),
    ]

    private static func appendLong(_ info: FileInfo, now: Int64, to out: inout [UInt8]) {
        out.append(info.kind == .directory ? UInt8(ascii: "d") : (info.kind == .file ? UInt8(ascii: "-") : UInt8(ascii: "?")))
        for (bit, letter) in permissionLetters { out.append(info.mode & bit != 0 ? letter : UInt8(ascii: "-")) }
        out.append(contentsOf: " 1 ftp      ftp      ".utf8)
        appendDecimal(info.size, width: 12, pad: UInt8(ascii: " "), to: &out)
        out.append(UInt8(ascii: " "))
        appendLsDate(info.modified, now: now, to: &out)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: info.name.utf8)
    }

    /// The facts part of an MLSD/MLST line: `type=file;size=3;modify=20261125063400;...;`.
    public static func facts(_ info: FileInfo, facts: MachineFacts) -> String {
        var out: [UInt8] = []
        appendFacts(info, facts: facts, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendFacts(_ info: FileInfo, facts: MachineFacts, to out: inout [UInt8]) {
        for fact in facts.selected {
            switch fact {
            case "type":
                out.append(contentsOf: "type=".utf8)
                out.append(contentsOf: (info.kind == .directory ? "dir" : (info.kind == .file ? "file" : "OS.unix=other")).utf8)
            case "size":
                out.append(contentsOf: "size=".utf8)
                appendDecimal(info.size, to: &out)
            case "modify":
                out.append(contentsOf: "modify=".utf8)
                appendTimestamp(info.modified, to: &out)
            case "perm":
                out.append(contentsOf: "perm=".utf8)
                out.append(contentsOf: permissionFact(info, writable: facts.writable).utf8)
            case "unix.mode":
                out.append(contentsOf: "unix.mode=0".utf8)
                appendOctal(info.mode & 0o7777, to: &out)
            case "unique":
                out.append(contentsOf: "unique=".utf8)
                out.append(contentsOf: info.unique.utf8)
            default:
                continue
            }
            out.append(UInt8(ascii: ";"))
        }
    }

    /// RFC 3659 §7.5.5 perm letters for what this user may do.
    static func permissionFact(_ info: FileInfo, writable: Bool) -> String {
        if info.kind == .directory { return writable ? "flcdmpe" : "el" }
        return writable ? "radfw" : "r"
    }

    /// `YYYYMMDDHHMMSS` in UTC (RFC 3659 time-val, used by MDTM and MLSx).
    public static func timestamp(_ seconds: Int64) -> String {
        var out: [UInt8] = []
        appendTimestamp(seconds, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendTimestamp(_ seconds: Int64, to out: inout [UInt8]) {
        let t = brokenDown(seconds)
        appendDecimal(UInt64(max(0, t.year)), width: 4, pad: UInt8(ascii: "0"), to: &out)
        appendTwo(t.month, to: &out)
        appendTwo(t.day, to: &out)
        appendTwo(t.hour, to: &out)
        appendTwo(t.minute, to: &out)
        appendTwo(t.second, to: &out)
    }

    /// Parse an RFC 3659 time-val (fractions ignored) into seconds since the epoch, UTC.
    public static func parseTimestamp(_ text: String) -> Int64? {
        let digits = text.prefix { $0 != "." }
        guard digits.count == 14, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let d = Array(digits)
        func number(_ from: Int, _ count: Int) -> Int32 { Int32(String(d[from..<from + count]))! }
        var t = tm()
        t.tm_year = number(0, 4) - 1900
        t.tm_mon = number(4, 2) - 1
        t.tm_mday = number(6, 2)
        t.tm_hour = number(8, 2)
        t.tm_min = number(10, 2)
        t.tm_sec = number(12, 2)
        guard (0...11).contains(t.tm_mon), (1...31).contains(t.tm_mday), (0...23).contains(t.tm_hour),
              (0...59).contains(t.tm_min), (0...60).contains(t.tm_sec) else { return nil }
        return Int64(timegm(&t))
    }

    private static let months: [[UInt8]] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .map { Array($0.utf8) }

    /// `ls -l` date: `Nov 25 06:34` within six months of now, else `Nov 25  2025`.
    private static func appendLsDate(_ seconds: Int64, now: Int64, to out: inout [UInt8]) {
        let t = brokenDown(seconds)
        out.append(contentsOf: months[t.month - 1])
        out.append(UInt8(ascii: " "))
        appendDecimal(UInt64(t.day), width: 2, pad: UInt8(ascii: " "), to: &out)
        let sixMonths: Int64 = 182 * 24 * 3600
        if seconds > now - sixMonths && seconds <= now + 3600 {
            out.append(UInt8(ascii: " "))
            appendTwo(t.hour, to: &out)
            out.append(UInt8(ascii: ":"))
            appendTwo(t.minute, to: &out)
        } else {
            out.append(contentsOf: "  ".utf8)
            appendDecimal(UInt64(max(0, t.year)), to: &out)
        }
    }

    private static func brokenDown(_ seconds: Int64) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        var time = time_t(seconds)
        var t = tm()
        gmtime_r(&time, &t)
        return (Int(t.tm_year) + 1900, Int(t.tm_mon) + 1, Int(t.tm_mday), Int(t.tm_hour), Int(t.tm_min), Int(t.tm_sec))
    }

    private static func appendTwo(_ n: Int, to out: inout [UInt8]) {
        appendDecimal(UInt64(max(0, n)), width: 2, pad: UInt8(ascii: "0"), to: &out)
    }

    /// `value` in decimal, left-padded with `pad` to `width` characters.
    private static func appendDecimal(_ value: UInt64, width: Int = 0, pad: UInt8 = UInt8(ascii: " "), to out: inout [UInt8]) {
        var divisor: UInt64 = 1
        var count = 1
        while value / divisor >= 10 {
            divisor *= 10
            count += 1
        }
        if width > count { out.append(contentsOf: repeatElement(pad, count: width - count)) }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    private static func appendOctal(_ value: UInt32, to out: inout [UInt8]) {
        var shift = 30
        while shift > 0 && value >> UInt32(shift) == 0 { shift -= 3 }
        while shift >= 0 {
            out.append(UInt8(ascii: "0") + UInt8((value >> UInt32(shift)) & 7))
            shift -= 3
        }
    }
}
