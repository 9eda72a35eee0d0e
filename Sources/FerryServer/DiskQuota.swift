import FerryReactor
import Glibc
import Synchronization

/// A user's disk quota on one node: bytes of disk their home takes, counted once at their first
/// login (a walk of the home, off the event loops) and kept up to date as they upload and delete.
///
/// Every figure is allocated space (`st_blocks` × 512), the measure a disk quota means: a sparse file
/// with a size of 1 TiB and one written byte costs one block, not 1 TiB, and deleting it gives back
/// that block, not 1 TiB. An upload takes room as it goes (so it stops in time with EDQUOT, 552),
/// and when it ends `settle` replaces that estimate with what the file really grew by. Every sum
/// saturates: no file size can make the count overflow.
public final class DiskQuota: Quota {
    public let limit: UInt64
    private let used: Mutex<UInt64>

    public init(limit: UInt64, used: UInt64) {
        self.limit = limit
        self.used = Mutex(used)
    }

    func take(_ wanted: Int) -> QuotaRoom {
        used.withLock { used in
            let taken = min(UInt64(max(wanted, 0)), limit - min(used, limit))
            guard taken > 0 else { return .full }
            used += taken
            return .bytes(Int(taken))
        }
    }

    /// Everything is counted here: there is never more to fetch.
    func refill(_ wanted: Int) -> QuotaRefill { .full }

    public func release(_ count: UInt64) {
        used.withLock { $0 -= min($0, count) }
    }

    public func settle(charged: UInt64, grown: UInt64) {
        used.withLock { used in
            if grown >= charged {
                used = used.saturatingAdd(grown - charged)
            } else {
                used -= min(used, charged - grown)
            }
        }
    }

    /// Disk space a file takes, from its `stat`.
    public static func allocated(_ st: stat) -> UInt64 {
        let (bytes, overflow) = UInt64(max(st.st_blocks, 0)).multipliedReportingOverflow(by: 512)
        return overflow ? .max : bytes
    }

    /// Space a deletion gives back: a regular file's allocation, unless another hard link keeps it.
    public static func freedByRemoving(_ st: stat) -> UInt64 {
        st.st_mode & S_IFMT == S_IFREG && st.st_nlink <= 1 ? allocated(st) : 0
    }

    /// Space taken by regular files under `path` (symlinks not followed, other file systems included).
    public static func measure(_ path: String) -> UInt64 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        return measure(directory: Descriptor(taking: fd))
    }

    /// Sum a directory.
    private static func measure(directory: consuming Descriptor) -> UInt64 {
        // The DIR stream owns the descriptor from here; closedir closes it.
        let fd = directory.release()
        guard let dir = fdopendir(fd) else {
            Descriptor(taking: fd).close()
            return 0
        }
        defer { closedir(dir) }
        var total: UInt64 = 0
        func add(_ count: UInt64) { total = total.saturatingAdd(count) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            var st = stat()
            guard fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                add(allocated(st))
            case S_IFDIR:
                let child = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
                if child >= 0 { add(measure(directory: Descriptor(taking: child))) }
            default:
                continue
            }
        }
        return total
    }
}

extension UInt64 {
    /// The sum, or `.max` where it would overflow.
    func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
