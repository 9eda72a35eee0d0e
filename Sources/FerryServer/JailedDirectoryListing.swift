import CFerrySys
import FTPCore
import FerryReactor
import Glibc

/// A directory of a `JailedFileSystem` opened for listing: its names are read and sorted when it
/// opens, and each `next` stats one batch of them. Both touch the disk once per entry, so the server
/// runs them on worker threads; they are handed from one thread to the next, never shared, hence
/// `@unchecked Sendable`. Owns the directory's descriptor.
final class JailedDirectoryListing: DirectoryListing, @unchecked Sendable {
    private let jail: JailedFileSystem
    private let path: VirtualPath
    private let directory: Descriptor
    private let names: [String]
    private var index = 0

    /// Read the names of `directory` (a descriptor of `path`). Names that are not UTF-8 cannot be
    /// named on the wire (RFC 2640) and are left out.
    init(jail: JailedFileSystem, path: VirtualPath, directory: consuming Descriptor) throws(FileSystemError) {
        self.jail = jail
        self.path = path
        // fdopendir takes a duplicate (closedir closes it); the original stays ours for fstatat.
        let duplicate = dup(directory.rawValue)
        guard duplicate >= 0 else { throw FileSystemError(errno) }
        guard let dir = fdopendir(duplicate) else {
            let error = FileSystemError(errno)
            Descriptor(taking: duplicate).close()
            throw error
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name: String? = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                String(validatingCString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            guard let name, name != ".", name != ".." else { continue }
            names.append(name)
        }
        names.sort()
        self.names = names
        self.directory = directory
    }

    func next(_ count: Int) -> [FileInfo] {
        var entries: [FileInfo] = []
        while entries.count < count && index < names.count {
            let name = names[index]
            index += 1
            var st = stat()
            guard fstatat(directory.rawValue, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            if st.st_mode & S_IFMT == S_IFLNK {
                // Show what the link reaches inside the jail; a link that leads nowhere inside is left
                // out, so a listing never reveals a target outside the home.
                guard var target = try? jail.info(path.appending(name)) else { continue }
                target.name = name
                entries.append(target)
                continue
            }
            entries.append(JailedFileSystem.info(name: name, st))
        }
        return entries
    }
}
