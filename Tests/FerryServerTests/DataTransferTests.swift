@testable import FerryServer
import FTPCore
import FerryReactor
import Foundation
import Glibc
import Testing

/// Two ends of a TCP connection on loopback: the server's, for the code under test, and the
/// client's, which the test reads and writes (both non-blocking).
struct LoopbackPair: ~Copyable {
    var server: Descriptor
    var client: Descriptor

    init(from source: String = "127.0.0.1") throws {
        let listener = try Sockets.listen(on: try #require(SocketAddress(host: "127.0.0.1", port: 0)), reusePort: false, backlog: 4)
        let address = try #require(SocketAddress.local(of: listener.rawValue))
        let client = try Sockets.connect(to: address, from: SocketAddress(host: source, port: 0))
        var ready = pollfd(fd: listener.rawValue, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, 5000) == 1, let accepted = try Sockets.accept(listener.rawValue) else {
            throw SystemError("accept", code: ETIMEDOUT)
        }
        self.client = client
        server = accepted.takeSocket()
    }
}

/// What the client end of a data connection has seen.
final class ClientEnd {
    let fd: Int32
    private(set) var received: [UInt8] = []
    private(set) var sawEnd = false
    /// The errno a read failed with (ECONNRESET after an RST).
    private(set) var readError: Int32?

    init(_ fd: Int32) { self.fd = fd }

    /// Read what is there now, without waiting.
    func drain() {
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        while !sawEnd && readError == nil {
            let n = read(fd, &chunk, chunk.count)
            if n > 0 {
                received += chunk[0..<n]
            } else if n == 0 {
                sawEnd = true
            } else {
                if errno != EAGAIN { readError = errno }
                return
            }
        }
    }

    /// Write all of `bytes`, waiting for room (bounded).
    func send(_ bytes: [UInt8], loop: EmbeddedLoop) -> Bool {
        var offset = 0
        return loop.run {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { offset += n }
            return offset == bytes.count
        }
    }
}

/// A transfer's world in one test: its loop (made on the test's thread, which runs it), a folder
/// for its files, and the transfer once started.
final class TransferFixture {
    let loop = EmbeddedLoop()
    private let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-transfer-\(UUID().uuidString)")
    private let plain = DataTLSPolicy(requireResumption: false, requireCloseNotify: false)
    private(set) var transfer: DataTransfer?
    private(set) var client = ClientEnd(-1)
    /// How the transfer ended, once it has.
    private(set) var outcome: TransferOutcome?
    /// An upload's file, which `TransferFiles.finishUpload` would close.
    private var uploaded: OpenedFile?

    init() throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit {
        if client.fd >= 0 { close(client.fd) }
        uploaded?.descriptor.close()
        try? FileManager.default.removeItem(at: folder)
    }

    func file(_ name: String, _ bytes: [UInt8]) throws -> OpenedFile {
        let path = folder.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return OpenedFile(descriptor: FileDescriptor(open(path, O_RDONLY | O_CLOEXEC)), size: UInt64(bytes.count))
    }

    /// A file of `size` bytes that are all zero, without writing them (a hole).
    func sparseFile(_ name: String, size: Int) throws -> OpenedFile {
        let fd = open(folder.appendingPathComponent(name).path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0 && ftruncate(fd, off_t(size)) == 0)
        return OpenedFile(descriptor: FileDescriptor(fd), size: UInt64(size))
    }

    func uploadTarget(_ name: String) -> OpenedFile {
        OpenedFile(descriptor: FileDescriptor(open(folder.appendingPathComponent(name).path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)), size: 0)
    }

    func contents(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
    }

    /// Start `kind` on a fresh loopback connection; the test plays the client on `client`.
    func start(_ kind: TransferKind, stallSeconds: Int = 30, caps: [TokenBucket] = [], maxFileSize: UInt64? = nil, quota: (any Quota)? = nil) throws {
        if case .store(let file, _) = kind { uploaded = file }
        let pair = try LoopbackPair()
        client = ClientEnd(pair.client.release())
        transfer = DataTransfer(kind: kind, socket: pair.server, loop: loop, clock: loop.clock, stallSeconds: stallSeconds, tls: nil,
                                tlsPolicy: plain, caps: caps, maxFileSize: maxFileSize, quota: quota) { [unowned self] in self.outcome = $0 }
        transfer?.start()
    }
}

private func random(_ count: Int) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255) }
}

/// `DataTransfer` and its pumps without a process: a real loopback connection and a real file, the
/// readiness polled and the clock moved by the test (`EmbeddedLoop`), so caps and the stall timer
/// are checked without waiting.
@Suite struct DataTransferTests {

    @Test func aDownloadSendsTheFileFromItsOffsetThenEnds() throws {
        let f = try TransferFixture()
        let data = random(3 << 20)
        try f.start(.retrieve(try f.file("a.bin", data), offset: 1000, ascii: false))
        #expect(f.loop.run { f.client.drain(); return f.client.sawEnd })
        #expect(f.outcome == .completed(bytes: UInt64(data.count - 1000)))
        #expect(f.client.received == Array(data[1000...]))
    }

    @Test func anASCIIDownloadEndsEachLineWithCRLF() throws {
        let f = try TransferFixture()
        try f.start(.retrieve(try f.file("a.txt", Array("one\ntwo\r\nthree\n".utf8)), offset: 0, ascii: true))
        #expect(f.loop.run { f.client.drain(); return f.client.sawEnd })
        #expect(String(decoding: f.client.received, as: UTF8.self) == "one\r\ntwo\r\nthree\r\n")
        #expect(f.outcome == .completed(bytes: 17))
    }

    @Test func anUploadLandsInTheFileWhenTheClientCloses() throws {
        let f = try TransferFixture()
        let data = random(2 << 20)
        try f.start(.store(f.uploadTarget("up.bin"), ascii: false))
        #expect(f.client.send(data, loop: f.loop))
        shutdown(f.client.fd, Int32(SHUT_WR))
        #expect(f.loop.run { f.outcome != nil })
        #expect(f.outcome == .completed(bytes: UInt64(data.count)))
        #expect(try f.contents("up.bin") == data)
    }

    @Test func anUploadPastTheMaximumFileSizeIsRefusedAndTheFileKeepsOnlyWhatFits() throws {
        let f = try TransferFixture()
        try f.start(.store(f.uploadTarget("big.bin"), ascii: false), maxFileSize: 1000)
        _ = f.client.send(random(5000), loop: f.loop)
        shutdown(f.client.fd, Int32(SHUT_WR))
        #expect(f.loop.run { f.outcome != nil })
        guard case .fileError(let error, let bytes) = f.outcome else {
            Issue.record("expected a file error, got \(String(describing: f.outcome))")
            return
        }
        #expect(error.code == EFBIG && bytes <= 1000)
        #expect(try f.contents("big.bin").count <= 1000)
    }

    /// An upload the size of the quota's room completes (the end of data is seen although no room
    /// is left); one byte more is refused, with what fitted kept.
    @Test func anUploadThatFillsTheQuotaExactlyCompletesAndOneByteMoreIsRefused() throws {
        for (size, fits) in [(100_000, true), (100_001, false)] {
            let f = try TransferFixture()
            try f.start(.store(f.uploadTarget("q.bin"), ascii: false), quota: DiskQuota(limit: 100_000, used: 0))
            #expect(f.client.send([UInt8](repeating: 7, count: size), loop: f.loop))
            shutdown(f.client.fd, Int32(SHUT_WR))
            #expect(f.loop.run { f.outcome != nil })
            if fits {
                #expect(f.outcome == .completed(bytes: 100_000))
            } else {
                #expect(f.outcome == .fileError(FileSystemError(EDQUOT), bytes: 100_000))
            }
            #expect(try f.contents("q.bin").count == 100_000)
        }
    }

    /// A cluster's quota of 20 MiB: the upload reads only the room it holds, waits (socket paused)
    /// while a worker takes the next block from the ledger, and stops at exactly the limit when the
    /// ledger has no more.
    @Test func anUploadUnderASharedQuotaWaitsForEachBlockAndStopsAtTheLimit() throws {
        let f = try TransferFixture()
        let ledger = MemoryLedger(used: 0)
        try f.start(.store(f.uploadTarget("shared.bin"), ascii: false), quota: SharedQuota(user: "alice", limit: 20 << 20, ledger: ledger))
        _ = f.client.send([UInt8](repeating: 0x5a, count: 24 << 20), loop: f.loop)
        shutdown(f.client.fd, Int32(SHUT_WR))
        #expect(f.loop.run { f.outcome != nil })
        guard case .fileError(let error, let bytes) = f.outcome else {
            Issue.record("expected the quota to stop it, got \(String(describing: f.outcome))")
            return
        }
        #expect(error.code == EDQUOT && bytes == 20 << 20)
        #expect(try f.contents("shared.bin").count == 20 << 20)
        #expect(ledger.reservations == [16 << 20, 4 << 20, 0], "a block, what was left, then nothing")
        #expect(ledger.used == 20 << 20)
    }

    @Test func aCappedDownloadMovesOnlyAsTheClockAllows() throws {
        let f = try TransferFixture()
        let bucket = TokenBucket(bytesPerSecond: 100_000, clock: f.loop.clock)
        try f.start(.retrieve(try f.sparseFile("capped.bin", size: 1 << 20), offset: 0, ascii: false), caps: [bucket])
        #expect(f.loop.run { f.client.drain(); return f.client.received.count == 16384 }, "the first burst: the bucket's 16 KiB")
        #expect(!f.loop.pollOnce(), "then the socket is not watched until the bucket refills")
        f.loop.advance(milliseconds: 1000)
        _ = f.loop.run { f.client.drain(); return !f.loop.pollOnce() }
        f.client.drain()
        #expect((100_000...140_000).contains(f.client.received.count), "a second's worth more, got \(f.client.received.count)")
        #expect(f.outcome == nil)
    }

    @Test func aDownloadTheClientStopsReadingEndsAfterTheStallTimeoutWithAReset() throws {
        let f = try TransferFixture()
        try f.start(.retrieve(try f.sparseFile("stall.bin", size: 64 << 20), offset: 0, ascii: false), stallSeconds: 5)
        _ = f.loop.run { !f.loop.pollOnce() }
        f.loop.advance(milliseconds: 4000)
        #expect(f.outcome == nil, "still inside the stall timeout")
        f.loop.advance(milliseconds: 2000)
        guard case .connectionLost(let bytes, let reason) = f.outcome else {
            Issue.record("expected the stall to end it, got \(String(describing: f.outcome))")
            return
        }
        #expect(bytes > 0 && bytes < 64 << 20)
        #expect(reason == "transfer made no progress for 5 seconds")
        #expect(f.loop.run { f.client.drain(); return f.client.readError != nil || f.client.sawEnd })
        #expect(f.client.readError == ECONNRESET, "an RST, so the client cannot take the part for the whole")
    }

    @Test func anAbortedDownloadReportsWhatWasSentAndResets() throws {
        let f = try TransferFixture()
        try f.start(.retrieve(try f.sparseFile("abort.bin", size: 64 << 20), offset: 0, ascii: false))
        #expect(f.loop.run { f.client.drain(); return f.client.received.count > 1 << 20 })
        f.transfer?.abort()
        guard case .aborted(let bytes) = f.outcome else {
            Issue.record("expected aborted, got \(String(describing: f.outcome))")
            return
        }
        #expect(bytes >= UInt64(f.client.received.count) && bytes < 64 << 20)
        #expect(f.loop.run { f.client.drain(); return f.client.readError != nil || f.client.sawEnd })
        #expect(f.client.readError == ECONNRESET)
        #expect(f.loop.armedWatchers == 0 && f.loop.armedTimers == 0, "nothing left watching")
    }
}
