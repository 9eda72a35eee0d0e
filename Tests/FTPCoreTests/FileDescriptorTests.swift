import FTPCore
import Glibc
import Testing

@Suite struct FileDescriptorTests {
    @Test func closesExactlyOnceWhoeverAsks() {
        let log = CloseLog()
        let record: @Sendable (Int32) -> Int32 = { fd in
            log.closed.withLock { $0.append(fd) }
            return 0
        }
        do {
            let file = FileDescriptor(7, close: record)
            #expect(file.close() == nil)
            #expect(file.close() == nil)
        }
        #expect(log.closed.withLock { $0 } == [7])
        // One nobody closed is closed when its last reference goes.
        do { _ = FileDescriptor(8, close: record) }
        #expect(log.closed.withLock { $0 } == [7, 8])
    }

    @Test func aFailedCloseSaysWhy() {
        let failing = FileDescriptor(9) { _ in
            errno = EIO
            return -1
        }
        #expect(failing.close() == FileSystemError(EIO))
        #expect(failing.close() == nil)
    }

    /// The write end of a pipe, owned by a FileDescriptor: closing it is the reader's end of file
    /// (checking the number itself would race with other tests reusing it).
    @Test func aRealDescriptorIsClosed() {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { Glibc.close(ends[0]) }
        let writer = FileDescriptor(ends[1])
        #expect(write(writer.rawValue, "x", 1) == 1)
        #expect(writer.close() == nil)
        var byte: UInt8 = 0
        #expect(read(ends[0], &byte, 1) == 1)
        #expect(read(ends[0], &byte, 1) == 0)
    }
}
