@testable import FerryServer
import FerryReactor
import Foundation
import Synchronization
import Testing

@Suite struct DiskQuotaTests {
    /// Usage is observed through `take`: a quota at `used` gives exactly `limit - used` more.
    @Test func roomNeverOverflowsAndSettleSaturates() {
        let quota = DiskQuota(limit: .max, used: .max - 10)
        #expect(quota.take(10) == .bytes(10))
        #expect(quota.take(1) == .full)
        quota.settle(charged: 0, grown: .max)
        #expect(quota.take(1) == .full)
        quota.release(.max)
        #expect(quota.take(.max) == .bytes(.max))
        let small = DiskQuota(limit: 10_000, used: 90)
        #expect(small.take(.max) == .bytes(9910))
        #expect(small.take(1) == .full && small.take(-5) == .full)
        #expect(small.refill(1) == .full, "one node's count has nothing more to fetch")
        small.release(9910)
        small.settle(charged: 50, grown: 4096)
        #expect(small.take(20_000) == .bytes(10_000 - 90 - 4046))
        small.release(10_000)
        #expect(small.take(5000) == .bytes(5000))
        small.settle(charged: 10_000, grown: 0)
        #expect(small.take(20_000) == .bytes(10_000))
    }

    /// A cluster's quota: room comes from the ledger a block at a time (never past the limit, however
    /// the nodes interleave), deletes and unused room go back to the node's reserve, and a flush
    /// returns the reserve and pays what settled uploads owe.
    @Test func sharedQuotaTakesBlocksFromTheLedgerAndSquaresUp() throws {
        let ledger = MemoryLedger(used: 0)
        let a = SharedQuota(user: "alice", limit: 40 << 20, ledger: ledger)
        let b = SharedQuota(user: "alice", limit: 40 << 20, ledger: ledger)
        #expect(a.take(1 << 20) == .refill, "nothing is held before the first refill")
        #expect(a.refill(1 << 20) == .granted && ledger.used == SharedQuota.block)
        #expect(a.take(1 << 20) == .bytes(1 << 20))
        #expect(b.refill(64 << 20) == .granted && ledger.used == 40 << 20, "a refill asks for what the read wants, capped by the limit")
        #expect(b.take(.max) == .bytes(40 << 20 - Int(SharedQuota.block)))
        #expect(b.take(1) == .refill && b.refill(1) == .full, "two nodes together never pass the limit")
        b.settle(charged: 24 << 20, grown: 20 << 20)
        b.release(1 << 20)
        try b.flush(keepNothing: true)
        #expect(ledger.used == 35 << 20, "b gave back what its file did not grow by and what was deleted")
        a.settle(charged: 1 << 20, grown: (1 << 20) + 4096)
        try a.flush()
        #expect(ledger.used == 35 << 20 + 4096, "a keeps one block while it uploads, and pays the 4 KiB its file grew past the charge")
        try a.flush()
        #expect(ledger.used == 20 << 20 + 4096, "an idle node gives its whole reserve back")
        ledger.failing = true
        #expect(a.refill(1) == .unavailable("down"))
        b.release(1 << 20)
        #expect(throws: PostgresError.self) { try b.flush() }
        ledger.failing = false
        try b.flush()
        #expect(ledger.used == 19 << 20 + 4096, "a failed flush loses nothing")
    }
    /// A user at the limit cannot make every STOR a database round trip: the ledger's "full" stands
    /// for a second, then it is asked again.
    @Test func aFullSharedQuotaAsksTheLedgerAtMostOnceASecond() {
        let ledger = MemoryLedger(used: 10 << 20)
        let now = Mutex<UInt64>(5_000_000_000)
        let quota = SharedQuota(user: "alice", limit: 10 << 20, ledger: ledger, clock: MonotonicClock { now.withLock { $0 } })
        for _ in 0..<100 { #expect(quota.refill(1 << 20) == .full) }
        #expect(ledger.reservations == [0], "one question for a hundred refills")
        now.withLock { $0 += 999_000_000 }
        #expect(quota.refill(1 << 20) == .full && ledger.reservations.count == 1)
        ledger.used = 0
        now.withLock { $0 += 1_000_000 }
        #expect(quota.refill(1 << 20) == .granted, "a second later the ledger is asked, and has room again")
        #expect(ledger.reservations == [0, 10 << 20])
    }

    /// A 1 TiB sparse file costs its blocks: the walk sums allocation, not apparent sizes (whose sum
    /// overflowed with a few files of 2^63 - 1 bytes).
    @Test func measureCountsAllocatedBlocks() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-quota-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("sub"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(count: 100_000).write(to: folder.appendingPathComponent("sub/dense.bin"))
        let sparsePath = folder.appendingPathComponent("sparse.bin").path
        #expect(FileManager.default.createFile(atPath: sparsePath, contents: nil))
        let sparse = try #require(FileHandle(forWritingAtPath: sparsePath))
        try sparse.seek(toOffset: 1 << 40)
        try sparse.write(contentsOf: Data([1]))
        try sparse.close()
        let used = DiskQuota.measure(folder.path)
        #expect(used >= 100_000 && used < 1 << 20, "\(used)")
    }
}

/// A ledger in memory, like `ferry_quota_usage`'s row for one user (used from one thread at a time).
final class MemoryLedger: QuotaLedger, @unchecked Sendable {
    var used: UInt64
    var failing = false
    /// What each `reserve` granted.
    private(set) var reservations: [UInt64] = []

    init(used: UInt64) {
        self.used = used
    }

    func reserve(user: String, count: UInt64, limit: UInt64) throws(PostgresError) -> UInt64 {
        if failing { throw PostgresError("down", connectionLost: true) }
        let granted = min(count, limit - min(used, limit))
        used += granted
        reservations.append(granted)
        return granted
    }

    func adjust(user: String, by delta: Int64) throws(PostgresError) {
        if failing { throw PostgresError("down", connectionLost: true) }
        used = delta >= 0 ? used + UInt64(delta) : used - min(used, delta.magnitude)
    }
}
