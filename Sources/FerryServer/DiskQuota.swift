import Glibc
import Synchronization

/// A user's disk quota: bytes in their home, counted once at their first login (a walk of the
/// home, off the event loops) and kept up to date as they upload and delete. Uploads that would pass
/// the limit stop with EDQUOT (552). Overwrites in place (REST, APPE) count as growth, so the count
/// errs on the safe side.
public final class DiskQuota: Sendable {
    public let limit: UInt64
    private let used: Mutex<UInt64>

    public init(limit: UInt64, used: UInt64) {
        self.limit = limit
        self.used = Mutex(used)
    }

    public var usage: UInt64 { used.withLock { $0 } }

    /// Take `count` bytes; false (and nothing taken) when that would pass the limit.
    public func charge(_ count: UInt64) -> Bool {
        used.withLock { used in
            guard used + count <= limit else { return false }
            used += count
            return true
        }
    }

    public func release(_ count: UInt64) {
        used.withLock { $0 -= min($0, count) }
    }

    /// Bytes of regular files under `path` (symlinks not followed, other file systems included).
    public static func measure(_ path: String) -> UInt64 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        return measure(directory: fd)
    }

    /// Sum a directory (takes ownership of `fd`).
    private static func measure(directory fd: Int32) -> UInt64 {
        guard let dir = fdopendir(fd) else {
            close(fd)
            return 0
        }
        defer { closedir(dir) }
        var total: UInt64 = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            var st = stat()
            guard fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                total += UInt64(max(st.st_size, 0))
            case S_IFDIR:
                let child = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
                if child >= 0 { total += measure(directory: child) }
            default:
                continue
            }
        }
        return total
    }
}
