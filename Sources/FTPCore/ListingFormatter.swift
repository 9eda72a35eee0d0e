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

public enum ListingFormatter {
    /// One listing line for `info`, CRLF-terminated. `now` decides between `HH:MM` and the year in LIST.
    public static func line(_ info: FileInfo, style: ListingStyle, now: Int64) -> String {
        switch style {
        case .long: return longLine(info, now: now) + "\r\n"
        case .names: return info.name + "\r\n"
        case .machine(let facts): return self.facts(info, facts: facts) + " " + info.name + "\r\n"
        }
    }

    /// `drwxr-xr-x 1 ftp ftp 4096 Nov 25 06:34 name`. Owner and group are not revealed.
    public static func longLine(_ info: FileInfo, now: Int64) -> String {
        let type: Character = info.kind == .directory ? "d" : (info.kind == .file ? "-" : "?")
        var perms = String(type)
        let bits: [(UInt32, Character)] = [
            (0o400, "r"), (0o200, "w"), (0o100, "x"), (0o040, "r"), (0o020, "w"), (0o010, "x"),
            (0o004, "r"), (0o002, "w"), (0o001, "x"),
        ]
        for (bit, letter) in bits { perms.append(info.mode & bit != 0 ? letter : "-") }
        let size = String(info.size)
        let padded = String(repeating: " ", count: max(0, 12 - size.count)) + size
        return "\(perms) 1 ftp      ftp      \(padded) \(lsDate(info.modified, now: now)) \(info.name)"
    }

    /// The facts part of an MLSD/MLST line: `type=file;size=3;modify=20261125063400;...;`.
    public static func facts(_ info: FileInfo, facts: MachineFacts) -> String {
        var out = ""
        for fact in facts.selected {
            switch fact {
            case "type":
                out += "type=" + (info.kind == .directory ? "dir" : (info.kind == .file ? "file" : "OS.unix=other")) + ";"
            case "size":
                out += "size=\(info.size);"
            case "modify":
                out += "modify=\(timestamp(info.modified));"
            case "perm":
                out += "perm=\(permissionFact(info, writable: facts.writable));"
            case "unix.mode":
                out += "unix.mode=0" + String(info.mode & 0o7777, radix: 8) + ";"
            case "unique":
                out += "unique=\(info.unique);"
            default:
                continue
            }
        }
        return out
    }

    /// RFC 3659 §7.5.5 perm letters for what this user may do.
    static func permissionFact(_ info: FileInfo, writable: Bool) -> String {
        if info.kind == .directory { return writable ? "flcdmpe" : "el" }
        return writable ? "radfw" : "r"
    }

    /// `YYYYMMDDHHMMSS` in UTC (RFC 3659 time-val, used by MDTM and MLSx).
    public static func timestamp(_ seconds: Int64) -> String {
        let t = brokenDown(seconds)
        return fourDigits(t.year) + two(t.month) + two(t.day) + two(t.hour) + two(t.minute) + two(t.second)
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

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `ls -l` date: `Nov 25 06:34` within six months of now, else `Nov 25  2025`.
    static func lsDate(_ seconds: Int64, now: Int64) -> String {
        let t = brokenDown(seconds)
        let day = t.day < 10 ? " \(t.day)" : "\(t.day)"
        let sixMonths: Int64 = 182 * 24 * 3600
        if seconds > now - sixMonths && seconds <= now + 3600 {
            return "\(months[t.month - 1]) \(day) \(two(t.hour)):\(two(t.minute))"
        }
        return "\(months[t.month - 1]) \(day)  \(t.year)"
    }

    private static func brokenDown(_ seconds: Int64) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        var time = time_t(seconds)
        var t = tm()
        gmtime_r(&time, &t)
        return (Int(t.tm_year) + 1900, Int(t.tm_mon) + 1, Int(t.tm_mday), Int(t.tm_hour), Int(t.tm_min), Int(t.tm_sec))
    }

    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    private static func fourDigits(_ n: Int) -> String {
        let digits = "\(n)"
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
