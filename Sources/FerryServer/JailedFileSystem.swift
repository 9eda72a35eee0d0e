import CFerrySys
import FTPCore
import FerryReactor
import Glibc

/// A user's home as a `FileSystem`. Every path is opened with openat2(RESOLVE_IN_ROOT |
/// RESOLVE_NO_MAGICLINKS) beneath a directory descriptor of the home, so `..`, absolute paths and
/// symlinks (even one pointing at /etc) resolve inside it, with no check-then-use race.
/// Changes use the `*at` calls on the resolved parent's descriptor.
public final class JailedFileSystem: FileSystem, Sendable {
    private let handle: HomeHandle
    private var home: Int32 { handle.descriptor }
    /// Applied to new files (0666) and folders (0777); the process umask is 0 while serving.
    private let umask: UInt32
    /// STOR over an existing file writes beside it and renames on completion.
    private let atomicUploads: Bool
    /// The user's quota: bytes freed by deletes, truncation and replacement go back to it.
    private let quota: (any Quota)?

    /// A jail rooted at `home` (shared with the user's other sessions).
    init(home: HomeHandle, umask: UInt32 = 0o022, atomicUploads: Bool = false, quota: (any Quota)? = nil) {
        self.quota = quota
        self.umask = umask
        self.atomicUploads = atomicUploads
        handle = home
    }

    /// Fails with ENOSYS when the kernel has no openat2: Ferry refuses to serve rather than fall back
    /// to an unconfined open.
    public func checkKernelSupport() throws(SystemError) {
        let fd = ferry_openat_in_root(home, ".", ferry_O_PATH | ferry_O_CLOEXEC, 0)
        guard fd >= 0 else { throw SystemError("openat2 (needs Linux 5.6 or later)") }
        Descriptor(taking: fd).close()
    }

    private func openInJail(_ path: String, _ flags: Int32, mode: UInt32 = 0) throws(FileSystemError) -> Descriptor {
        let fd = ferry_openat_in_root(home, path, flags | ferry_O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileSystemError(errno) }
        return Descriptor(taking: fd)
    }

    /// An open file's owner travels inside the session's effects (see `FileDescriptor`).
    private func openFile(_ path: String, _ flags: Int32, mode: UInt32 = 0) throws(FileSystemError) -> FileDescriptor {
        FileDescriptor(try openInJail(path, flags, mode: mode).release())
    }

    private func status(_ fd: Int32) throws(FileSystemError) -> stat {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileSystemError(errno) }
        return st
    }

    static func info(name: String, _ st: stat) -> FileInfo {
        let type = st.st_mode & S_IFMT
        let kind: FileKind = type == S_IFDIR ? .directory : (type == S_IFREG ? .file : .other)
        return FileInfo(name: name, kind: kind, size: UInt64(max(st.st_size, 0)), modified: Int64(st.st_mtim.tv_sec),
                        mode: UInt32(st.st_mode & 0o7777),
                        unique: String(st.st_dev, radix: 16) + "g" + String(st.st_ino, radix: 16))
    }

    public func info(_ path: VirtualPath) throws(FileSystemError) -> FileInfo {
        let file = try openInJail(path.relative, ferry_O_PATH)
        return JailedFileSystem.info(name: path.name, try status(file.rawValue))
    }

    public func openDirectory(_ path: VirtualPath) throws(FileSystemError) -> any DirectoryListing {
        let directory = try openInJail(path.relative, O_RDONLY | ferry_O_DIRECTORY | ferry_O_NONBLOCK)
        return try JailedDirectoryListing(jail: self, path: path, directory: directory)
    }

    public func openForReading(_ path: VirtualPath) throws(FileSystemError) -> OpenedFile {
        // O_NONBLOCK: a FIFO planted in a home must not stall the loop; it is refused below anyway.
        // Owned from here: a refusal below drops (and so closes) it.
        let file = try openFile(path.relative, O_RDONLY | ferry_O_NONBLOCK)
        let st = try status(file.rawValue)
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw st.st_mode & S_IFMT == S_IFDIR ? FileSystemError.isDirectory : FileSystemError.notRegularFile
        }
        return OpenedFile(descriptor: file, size: UInt64(st.st_size))
    }

    public func openForWriting(_ path: VirtualPath, mode: WriteMode) throws(FileSystemError) -> OpenedFile {
        guard !path.isRoot else { throw FileSystemError.isDirectory }
        let existing = try? info(path)
        if atomicUploads, mode == .truncate, let existing, existing.kind == .file {
            return try openReplacement(of: path, mode: existing.mode)
        }
        let freedByTruncation = mode == .truncate ? spaceFreedByRemoving(path) : 0
        var flags = O_WRONLY | O_CREAT | ferry_O_NONBLOCK
        switch mode {
        case .truncate: flags |= O_TRUNC
        case .append: flags |= O_APPEND
        case .exclusive: flags |= O_EXCL
        case .at: break
        }
        let file = try openFile(path.relative, flags, mode: 0o666 & ~umask)
        let st = try status(file.rawValue)
        guard st.st_mode & S_IFMT == S_IFREG else { throw FileSystemError.notRegularFile }
        var start: UInt64 = 0
        switch mode {
        case .at(let offset):
            // Past the file system's largest file, lseek says EINVAL: the file would be too large.
            guard let position = off_t(exactly: offset) else { throw FileSystemError(EFBIG) }
            guard lseek(file.rawValue, position, SEEK_SET) >= 0 else { throw FileSystemError(errno == EINVAL ? EFBIG : errno) }
            start = offset
        case .append:
            start = UInt64(st.st_size)
        case .truncate:
            quota?.release(freedByTruncation)
        case .exclusive:
            break
        }
        return OpenedFile(descriptor: file, size: start)
    }

    /// A hidden temporary file beside `target` with its permissions, for an atomic replacement.
    private func openReplacement(of target: VirtualPath, mode: UInt32) throws(FileSystemError) -> OpenedFile {
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let temporary = target.parent.appending(".\(target.name).ferry-\(suffix)")
        let file = try openFile(temporary.relative, O_WRONLY | O_CREAT | O_EXCL | ferry_O_NONBLOCK, mode: mode & 0o777)
        return OpenedFile(descriptor: file, size: 0, replacing: (temporary, target))
    }

    /// Resolve the parent of `path` inside the jail and run `body` with its descriptor and the name.
    private func inParent<R>(_ path: VirtualPath, _ body: (Int32, String) -> R) throws(FileSystemError) -> R {
        guard !path.isRoot else { throw FileSystemError.permissionDenied }
        let parent = try openInJail(path.parent.relative, ferry_O_PATH | ferry_O_DIRECTORY)
        return body(parent.rawValue, path.name)
    }

    private func check(_ result: Int32) throws(FileSystemError) {
        if result != 0 { throw FileSystemError(errno) }
    }

    public func makeDirectory(_ path: VirtualPath) throws(FileSystemError) {
        try check(try inParent(path) { mkdirat($0, $1, mode_t(0o777 & ~umask)) })
    }

    public func removeDirectory(_ path: VirtualPath) throws(FileSystemError) {
        try check(try inParent(path) { unlinkat($0, $1, AT_REMOVEDIR) })
    }

    public func removeFile(_ path: VirtualPath) throws(FileSystemError) {
        let freed = spaceFreedByRemoving(path)
        try check(try inParent(path) { unlinkat($0, $1, 0) })
        quota?.release(freed)
    }

    /// The disk space removing `path` gives back to the quota (see `DiskQuota.freedByRemoving`; a
    /// final symlink is not followed); 0 without a quota.
    private func spaceFreedByRemoving(_ path: VirtualPath) -> UInt64 {
        guard quota != nil, let freed = try? inParent(path, { dir, name -> UInt64 in
            var st = stat()
            guard fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return 0 }
            return DiskQuota.freedByRemoving(st)
        }) else { return 0 }
        return freed
    }

    public func rename(_ source: VirtualPath, to target: VirtualPath) throws(FileSystemError) {
        let replaced = source == target ? 0 : spaceFreedByRemoving(target)
        let result = try inParent(source) { sourceDir, sourceName -> Result<Int32, FileSystemError> in
            do throws(FileSystemError) {
                return .success(try inParent(target) { renameat(sourceDir, sourceName, $0, $1) })
            } catch {
                return .failure(error)
            }
        }
        try check(try result.get())
        quota?.release(replaced)
    }

    /// fsync the folder `path` is in, so a new or renamed entry there is on stable storage.
    func syncFolder(of path: VirtualPath) throws(FileSystemError) {
        let folder = try openInJail(path.parent.relative, O_RDONLY | O_DIRECTORY)
        guard fsync(folder.rawValue) == 0 else { throw FileSystemError(errno) }
    }

    /// Acts on an opened descriptor, not a path: utimensat/fchmodat would follow a symlink out of the jail.
    private func withOpened(_ path: VirtualPath, _ body: (Int32) -> Int32) throws(FileSystemError) {
        let file = try openInJail(path.relative, O_RDONLY | ferry_O_NONBLOCK)
        try check(body(file.rawValue))
    }

    public func setModificationTime(_ path: VirtualPath, to seconds: Int64) throws(FileSystemError) {
        try withOpened(path) { fd in
            var times = [timespec(tv_sec: 0, tv_nsec: Int(ferry_UTIME_OMIT)), timespec(tv_sec: Int(seconds), tv_nsec: 0)]
            return futimens(fd, &times)
        }
    }

    public func setPermissions(_ path: VirtualPath, to mode: UInt32) throws(FileSystemError) {
        try withOpened(path) { fchmod($0, mode_t(mode)) }
    }
}
