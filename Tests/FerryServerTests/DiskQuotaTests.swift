@testable import FerryServer
import Foundation
import Testing

@Suite struct DiskQuotaTests {
    /// Usage is observed through `charge`: a quota at `used` accepts exactly `limit - used` more.
    @Test func chargesNeverOverflowAndSettleSaturates() {
        let quota = DiskQuota(limit: .max, used: .max - 10)
        #expect(quota.charge(10))
        #expect(!quota.charge(1))
        quota.settle(charged: 0, grown: .max)
        #expect(!quota.charge(1))
        quota.release(.max)
        #expect(quota.charge(.max))
        let small = DiskQuota(limit: 10_000, used: 90)
        #expect(!small.charge(.max))
        #expect(small.charge(9910) && !small.charge(1))
        small.release(9910)
        small.settle(charged: 50, grown: 4096)
        #expect(small.charge(10_000 - 90 - 4046) && !small.charge(1))
        small.release(10_000)
        #expect(small.charge(5000))
        small.settle(charged: 10_000, grown: 0)
        #expect(small.charge(10_000))
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
