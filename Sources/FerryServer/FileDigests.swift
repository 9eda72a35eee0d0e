import CFerrySys
import COpenSSL
import FTPCore
import FerryReactor
import Glibc
import Synchronization

/// Digests of files for HASH and the X* commands, computed on worker threads with OpenSSL's EVP
/// (zlib for CRC32), never on a loop. At most `limit` run at once in the process (a session is busy
/// while its own runs, so it has one at most); more get 450. Results are cached by file identity
/// (device, inode, size, modification time), algorithm and range, so asking again for an unchanged
/// file is instant. A file whose size or modification time changed while it was read gets 451.
public final class FileDigests: Sendable {
    private struct Key: Hashable {
        let device: UInt64
        let inode: UInt64
        let size: Int64
        let modified: Int64
        let modifiedNanoseconds: Int
        let algorithm: HashAlgorithm
        let start: UInt64
        let end: UInt64
    }

    /// Entries kept; past this the cache starts afresh (a bound on memory, not an LRU).
    static let cacheEntries = 4096
    private static let chunkBytes = 1 << 20
    private let limit: Int
    private let running = Mutex(0)
    private let cache = Mutex<[Key: String]>([:])

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Take a place before handing work to a worker; false when `limit` digests are under way.
    func reserve() -> Bool {
        running.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    /// Compute `request` (on a worker thread, after `reserve`); closes its file and gives the place back.
    func compute(_ request: HashRequest) -> Result<HashResult, HashFailure> {
        defer {
            request.file.descriptor.close()
            running.withLock { $0 -= 1 }
        }
        let fd = request.file.descriptor.rawValue
        var before = stat()
        guard fstat(fd, &before) == 0 else { return .failure(.file(FileSystemError(errno))) }
        let size = UInt64(max(before.st_size, 0))
        let start = min(request.start, size)
        let end = min(request.end ?? size, size)
        let key = Key(device: UInt64(before.st_dev), inode: UInt64(before.st_ino), size: Int64(before.st_size),
                      modified: Int64(before.st_mtim.tv_sec), modifiedNanoseconds: before.st_mtim.tv_nsec,
                      algorithm: request.algorithm, start: start, end: end)
        if let hex = cache.withLock({ $0[key] }) { return .success(HashResult(hex: hex, start: start, end: end)) }
        let digest: String
        switch FileDigests.digest(fd, algorithm: request.algorithm, from: start, to: end, unchangedSince: before) {
        case .success(let hex): digest = hex
        case .failure(let failure): return .failure(failure)
        }
        cache.withLock { entries in
            if entries.count >= FileDigests.cacheEntries { entries.removeAll() }
            entries[key] = digest
        }
        return .success(HashResult(hex: digest, start: start, end: end))
    }

    /// Lowercase hex of bytes `start..<end` of `fd`, read in 1 MiB chunks. After each chunk the file
    /// must still be as `before` said (size, modification time), or the digest stops with `.changed`.
    private static func digest(_ fd: Int32, algorithm: HashAlgorithm, from start: UInt64, to end: UInt64,
                               unchangedSince before: stat) -> Result<String, HashFailure> {
        let state = DigestState(algorithm)
        var buffer = [UInt8](repeating: 0, count: chunkBytes)
        var offset = start
        while offset < end {
            let want = Int(min(UInt64(chunkBytes), end - offset))
            let position = off_t(offset)
            let result = buffer.withUnsafeMutableBytes { raw in
                Result { () throws(SystemError) in try syscall("pread", { pread(fd, raw.baseAddress, want, position) }) }
            }
            guard case .success(.processed(let count)) = result else {
                if case .failure(let error) = result { return .failure(.file(FileSystemError(error.code))) }
                return .failure(.file(FileSystemError(EAGAIN)))
            }
            var now = stat()
            guard count > 0, fstat(fd, &now) == 0, now.st_size == before.st_size, now.st_mtim.tv_sec == before.st_mtim.tv_sec,
                  now.st_mtim.tv_nsec == before.st_mtim.tv_nsec else { return .failure(.changed) }
            buffer.withUnsafeBytes { state.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            offset += UInt64(count)
        }
        return .success(state.finish())
    }
}

/// One running digest: OpenSSL's EVP for the SHA family and MD5, zlib for CRC32. Its EVP context
/// is freed with it, also when a digest stops half way.
private final class DigestState {
    private let context: OpaquePointer?
    private var crc: UInt = 0

    init(_ algorithm: HashAlgorithm) {
        let md: OpaquePointer?
        switch algorithm {
        case .sha1: md = EVP_sha1()
        case .sha256: md = EVP_sha256()
        case .sha512: md = EVP_sha512()
        case .md5: md = EVP_md5()
        case .crc32: md = nil
        }
        guard let md, let context = EVP_MD_CTX_new() else {
            context = nil
            return
        }
        EVP_DigestInit_ex(context, md, nil)
        self.context = context
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        if let context {
            EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
        } else {
            crc = ferry_crc32(crc, bytes.baseAddress, bytes.count)
        }
    }

    func finish() -> String {
        guard let context else { return String(repeating: "0", count: 8 - String(crc, radix: 16).count) + String(crc, radix: 16) }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        return out.prefix(Int(length)).map { String(repeating: "0", count: $0 < 16 ? 1 : 0) + String($0, radix: 16) }.joined()
    }

    deinit {
        if let context { EVP_MD_CTX_free(context) }
    }
}
