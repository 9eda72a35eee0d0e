import FerryReactor
import Glibc
import Synchronization

/// The transfer log in the wu-ftpd/vsftpd xferlog format, one line written as each transfer ends,
/// so existing analysers and fail2ban filters work:
/// `Wed Nov 25 07:16:57 2026 1 127.0.0.1 1234 /srv/alice/a.txt b _ o r alice ftp 0 * c`.
/// `reopen()` (on SIGUSR1) starts a new file after logrotate moved the old one.
public final class XferLog: Sendable {
    /// One finished transfer.
    public struct Entry: Sendable {
        public var seconds: Int
        public var remoteHost: String
        public var bytes: UInt64
        public var path: String
        public var ascii: Bool
        public var incoming: Bool
        public var anonymous: Bool
        public var user: String
        public var complete: Bool
    }

    public let path: String
    private let descriptor: Mutex<Descriptor>

    public init(path: String) throws(StartupError) {
        self.path = path
        guard let file = XferLog.open(path) else { throw StartupError("cannot open xferlog \(path): \(String(cString: strerror(errno)))") }
        descriptor = Mutex(file)
    }

    private static func open(_ path: String) -> Descriptor? {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        return fd >= 0 ? Descriptor(taking: fd) : nil
    }

    /// Close and open the file again by name; keeps the old descriptor if that fails.
    public func reopen() {
        var fresh = XferLog.open(path)
        descriptor.withLock { file in
            if let opened = fresh.take() { file = opened }
        }
    }

    public func record(_ entry: Entry) {
        var line = XferLog.format(entry, at: time(nil))
        descriptor.withLock { file in
            // One write per line: O_APPEND keeps lines whole even with several writers.
            _ = line.withUTF8 { write(file.rawValue, $0.baseAddress, $0.count) }
        }
    }

    /// The xferlog line for `entry`, ending in a newline. Whitespace in names becomes `_` so the
    /// fields stay countable.
    public static func format(_ entry: Entry, at now: time_t) -> String {
        var clock = now
        var parts = tm()
        localtime_r(&clock, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%a %b %e %H:%M:%S %Y", &parts)
        let stamp = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let name = String(entry.path.map { $0.isWhitespace ? "_" : $0 })
        let user = String(entry.user.map { $0.isWhitespace ? "_" : $0 })
        return "\(stamp) \(max(entry.seconds, 1)) \(entry.remoteHost) \(entry.bytes) \(name) \(entry.ascii ? "a" : "b") _ "
            + "\(entry.incoming ? "i" : "o") \(entry.anonymous ? "a" : "r") \(user) ftp 0 * \(entry.complete ? "c" : "i")\n"
    }
}
