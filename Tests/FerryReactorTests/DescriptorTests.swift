import FerryReactor
import Glibc
import Testing

/// Descriptors are checked through the other end of a pipe: the number itself may be reused by
/// another test the moment it is closed.
@Suite struct DescriptorTests {
    private func pipePair() throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0)
        _ = fcntl(ends[0], F_SETFL, O_NONBLOCK)
        return (ends[0], ends[1])
    }

    @Test func droppingTheOwnerClosesTheDescriptor() throws {
        let (reader, writer) = try pipePair()
        defer { close(reader) }
        do {
            let owner = Descriptor(taking: writer)
            #expect(write(owner.rawValue, "x", 1) == 1)
        }
        var byte: UInt8 = 0
        #expect(read(reader, &byte, 1) == 1)
        #expect(read(reader, &byte, 1) == 0, "end of file: the write end is closed")
    }

    @Test func closeReportsNothingWhenItWorks() throws {
        let (reader, writer) = try pipePair()
        defer { close(reader) }
        #expect(Descriptor(taking: writer).close() == nil)
        var byte: UInt8 = 0
        #expect(read(reader, &byte, 1) == 0)
    }

    @Test func releaseHandsTheNumberOverOpen() throws {
        let (reader, writer) = try pipePair()
        defer { close(reader) }
        let number = Descriptor(taking: writer).release()
        #expect(number == writer)
        #expect(write(number, "y", 1) == 1, "still open after release")
        close(number)
    }

    @Test func syscallRetriesEINTRAndSaysWouldBlock() throws {
        var calls = 0
        let result = try syscall("fake") { () -> Int in
            calls += 1
            if calls < 3 {
                errno = EINTR
                return -1
            }
            return 5
        }
        guard case .processed(5) = result else { Issue.record("\(result)"); return }
        #expect(calls == 3)
        let (reader, writer) = try pipePair()
        defer { close(reader); close(writer) }
        var byte: UInt8 = 0
        guard case .wouldBlock = try syscall("read", { read(reader, &byte, 1) }) else { Issue.record("an empty pipe would block"); return }
    }

    @Test func syscallErrorsNameTheCall() throws {
        let directory = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(directory >= 0)
        defer { close(directory) }
        var byte: UInt8 = 0
        do {
            _ = try syscall("read", { read(directory, &byte, 1) })
            Issue.record("reading a directory succeeded")
        } catch {
            #expect(error == SystemError("read", code: EISDIR))
        }
        #expect(SystemError("read", code: EISDIR).description == "read: Is a directory")
    }

    @Test func writeAllWritesEverything() throws {
        let (reader, writer) = try pipePair()
        defer { close(reader); close(writer) }
        let bytes = [UInt8](repeating: 7, count: 10_000)
        try bytes.withUnsafeBytes { try writeAll(writer, $0) }
        var back = [UInt8](repeating: 0, count: 20_000)
        #expect(read(reader, &back, back.count) == 10_000)
    }
}
