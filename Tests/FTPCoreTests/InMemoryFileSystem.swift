import FTPCore
import Glibc
import Synchronization

/// A tree of files in memory, so the Session can be tested without a disk. Descriptors are fake
/// numbers; the test checks which ones were handed out and closed.
final class InMemoryFileSystem: FileSystem {
    enum Node {
        case file([UInt8], mode: UInt32, modified: Int64)
        case directory(mode: UInt32, modified: Int64)
    }

    var nodes: [VirtualPath: Node] = [.root: .directory(mode: 0o755, modified: 0)]
    var nextDescriptor: Int32 = 100
    private let closeLog = CloseLog()
    /// The fake descriptors closed so far, in order.
    var closed: [Int32] { closeLog.closed.withLock { $0 } }

    func addFile(_ path: String, _ text: String, modified: Int64 = 1_700_000_000) {
        nodes[VirtualPath.root.resolving(path)] = .file(Array(text.utf8), mode: 0o644, modified: modified)
    }

    func addDirectory(_ path: String) {
        nodes[VirtualPath.root.resolving(path)] = .directory(mode: 0o755, modified: 1_700_000_000)
    }

    private func info(_ path: VirtualPath, _ node: Node) -> FileInfo {
        switch node {
        case let .file(bytes, mode, modified):
            return FileInfo(name: path.name, kind: .file, size: UInt64(bytes.count), modified: modified, mode: mode, unique: "\(path)")
        case let .directory(mode, modified):
            return FileInfo(name: path.name, kind: .directory, size: 4096, modified: modified, mode: mode, unique: "\(path)")
        }
    }

    func info(_ path: VirtualPath) throws(FileSystemError) -> FileInfo {
        guard let node = nodes[path] else { throw .notFound }
        return info(path, node)
    }

    func openDirectory(_ path: VirtualPath) throws(FileSystemError) -> any DirectoryListing {
        guard case .directory = nodes[path] else { throw nodes[path] == nil ? .notFound : .notDirectory }
        return InMemoryListing(nodes.filter { $0.key.parent == path && !$0.key.isRoot }.map { info($0.key, $0.value) }.sorted { $0.name < $1.name })
    }

    func openForReading(_ path: VirtualPath) throws(FileSystemError) -> OpenedFile {
        guard let node = nodes[path] else { throw .notFound }
        guard case .file(let bytes, _, _) = node else { throw .isDirectory }
        return OpenedFile(descriptor: newDescriptor(), size: UInt64(bytes.count))
    }

    func openForWriting(_ path: VirtualPath, mode: WriteMode) throws(FileSystemError) -> OpenedFile {
        guard case .directory = nodes[path.parent] else { throw .notFound }
        if case .directory = nodes[path] { throw .isDirectory }
        if mode == .exclusive, nodes[path] != nil { throw .exists }
        if nodes[path] == nil || mode == .truncate { nodes[path] = .file([], mode: 0o644, modified: 0) }
        return OpenedFile(descriptor: newDescriptor(), size: 0)
    }

    func makeDirectory(_ path: VirtualPath) throws(FileSystemError) {
        guard nodes[path] == nil else { throw .exists }
        guard case .directory = nodes[path.parent] else { throw .notFound }
        nodes[path] = .directory(mode: 0o755, modified: 0)
    }

    func removeDirectory(_ path: VirtualPath) throws(FileSystemError) {
        guard case .directory = nodes[path] else { throw nodes[path] == nil ? .notFound : .notDirectory }
        guard !nodes.keys.contains(where: { $0.parent == path && !$0.isRoot }) else { throw .notEmpty }
        nodes[path] = nil
    }

    func removeFile(_ path: VirtualPath) throws(FileSystemError) {
        guard let node = nodes[path] else { throw .notFound }
        if case .directory = node { throw .isDirectory }
        nodes[path] = nil
    }

    func rename(_ source: VirtualPath, to target: VirtualPath) throws(FileSystemError) {
        guard let node = nodes[source] else { throw .notFound }
        nodes[source] = nil
        nodes[target] = node
    }

    func setModificationTime(_ path: VirtualPath, to seconds: Int64) throws(FileSystemError) {
        guard case .file(let bytes, let mode, _) = nodes[path] else { throw .notFound }
        nodes[path] = .file(bytes, mode: mode, modified: seconds)
    }

    func setPermissions(_ path: VirtualPath, to mode: UInt32) throws(FileSystemError) {
        guard case .file(let bytes, _, let modified) = nodes[path] else { throw .notFound }
        nodes[path] = .file(bytes, mode: mode, modified: modified)
    }

    /// A fake descriptor whose closing is recorded, never passed to close(2).
    private func newDescriptor() -> FileDescriptor {
        nextDescriptor += 1
        let log = closeLog
        return FileDescriptor(nextDescriptor) { fd in
            log.closed.withLock { $0.append(fd) }
            return 0
        }
    }
}

/// A listing of entries read up front, handed out in batches like the server's.
final class InMemoryListing: DirectoryListing, @unchecked Sendable {
    private var entries: ArraySlice<FileInfo>

    init(_ entries: [FileInfo]) { self.entries = entries[...] }

    func next(_ count: Int) -> [FileInfo] {
        let batch = Array(entries.prefix(count))
        entries = entries.dropFirst(batch.count)
        return batch
    }
}

/// Where the in-memory file system's fake descriptors record their closing.
final class CloseLog: Sendable {
    let closed = Mutex<[Int32]>([])
}
