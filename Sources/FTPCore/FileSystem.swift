#if canImport(Glibc)
import Glibc
#endif

/// The kind of a directory entry.
public enum FileKind: Sendable, Equatable {
    case file, directory, other
}

/// What listings and status replies need to know about one file.
public struct FileInfo: Sendable, Equatable {
    public var name: String
    public var kind: FileKind
    public var size: UInt64
    /// Seconds since the Unix epoch.
    public var modified: Int64
    /// Permission bits (`0o755`).
    public var mode: UInt32
    /// Stable identity for MLSx `unique` (device and inode).
    public var unique: String

    public init(name: String, kind: FileKind, size: UInt64, modified: Int64, mode: UInt32, unique: String) {
        self.name = name
        self.kind = kind
        self.size = size
        self.modified = modified
        self.mode = mode
        self.unique = unique
    }
}

/// A file-system failure: the errno the system gave, so replies can name the system's reason.
public struct FileSystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: Int32
    /// Ferry's own reason where no errno says it; nil for the system's text.
    private let reason: String?

    public init(_ code: Int32) {
        self.code = code
        reason = nil
    }

    private init(_ code: Int32, reason: String) {
        self.code = code
        self.reason = reason
    }

    public static let notFound = FileSystemError(ENOENT)
    public static let notDirectory = FileSystemError(ENOTDIR)
    public static let isDirectory = FileSystemError(EISDIR)
    public static let exists = FileSystemError(EEXIST)
    public static let permissionDenied = FileSystemError(EACCES)
    public static let notEmpty = FileSystemError(ENOTEMPTY)
    /// A FIFO, socket or device where a regular file is needed (distinct from a real EINVAL).
    public static let notRegularFile = FileSystemError(EINVAL, reason: "Not a regular file")
    /// A cluster's shared quota count (in PostgreSQL) did not answer: the upload cannot be admitted.
    public static let quotaUnavailable = FileSystemError(EAGAIN, reason: "the quota count of the cluster cannot be reached; try again later")

    /// The system's text for the error (`No such file or directory`).
    public var description: String {
        reason ?? String(cString: strerror(code))
    }

    /// True when the disk or the user's quota is full (452/552 rather than 451).
    public var isOutOfSpace: Bool { code == ENOSPC }
    public var isOverQuota: Bool { code == EDQUOT || code == EFBIG }
}

/// An open file handed to the transfer layer. Its `descriptor` closes itself once, whichever way
/// the transfer ends (or does not start).
public struct OpenedFile: Sendable, Equatable {
    public let descriptor: FileDescriptor
    /// The size when opened (for reads) or the offset writing starts at (for writes).
    public let size: UInt64
    /// An atomic replacement: the data goes to `temporary`, renamed over `target` only once the
    /// upload is complete (and removed if it is not).
    public let replacing: (temporary: VirtualPath, target: VirtualPath)?

    public init(descriptor: FileDescriptor, size: UInt64, replacing: (temporary: VirtualPath, target: VirtualPath)? = nil) {
        self.descriptor = descriptor
        self.size = size
        self.replacing = replacing
    }

    public static func == (a: OpenedFile, b: OpenedFile) -> Bool {
        a.descriptor === b.descriptor && a.size == b.size && a.replacing?.temporary == b.replacing?.temporary
            && a.replacing?.target == b.replacing?.target
    }
}

/// How STOR/APPE/STOU open their target.
public enum WriteMode: Sendable, Equatable {
    /// Create or truncate (STOR).
    case truncate
    /// Create or keep, and write from this offset (STOR after REST).
    case at(UInt64)
    /// Create or keep, and write at the end (APPE).
    case append
    /// Create a new file; fail if it exists (STOU).
    case exclusive
}

/// A directory opened for listing, read a batch at a time so a huge one never sits in memory as
/// one listing. Opening and reading touch the disk once per entry: the server does both off its
/// event loops, one thread at a time.
public protocol DirectoryListing: AnyObject, Sendable {
    /// Up to `count` more entries, in name order; empty at the end.
    func next(_ count: Int) -> [FileInfo]
}

/// A `DirectoryListing` as effects and transfer kinds carry it (equal when it is the same listing).
public struct ListingHandle: Sendable, Equatable {
    public let listing: any DirectoryListing

    public init(_ listing: any DirectoryListing) { self.listing = listing }

    public static func == (a: ListingHandle, b: ListingHandle) -> Bool { a.listing === b.listing }
}

/// A user's view of the disk: every path is a `VirtualPath` inside their home. The session reaches
/// the disk only through this, so tests run it against an in-memory tree.
public protocol FileSystem: AnyObject {
    func info(_ path: VirtualPath) throws(FileSystemError) -> FileInfo
    /// Open a directory for listing (reads its names: call it off the event loops).
    func openDirectory(_ path: VirtualPath) throws(FileSystemError) -> any DirectoryListing
    func openForReading(_ path: VirtualPath) throws(FileSystemError) -> OpenedFile
    func openForWriting(_ path: VirtualPath, mode: WriteMode) throws(FileSystemError) -> OpenedFile
    func makeDirectory(_ path: VirtualPath) throws(FileSystemError)
    func removeDirectory(_ path: VirtualPath) throws(FileSystemError)
    func removeFile(_ path: VirtualPath) throws(FileSystemError)
    func rename(_ source: VirtualPath, to target: VirtualPath) throws(FileSystemError)
    func setModificationTime(_ path: VirtualPath, to seconds: Int64) throws(FileSystemError)
    func setPermissions(_ path: VirtualPath, to mode: UInt32) throws(FileSystemError)
}
