@testable import FerryServer
import FTPCore
import FerryReactor
import Glibc
import Testing

/// The sendfile pump's cork: off while it is the only plain download in the process, on beside
/// others (see `SendfilePump`), counted apart from the downloads other tests run meanwhile.
@Suite struct SendfilePumpTests {
    private func corkOption(_ fd: Int32) -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, Int32(IPPROTO_TCP), TCP_CORK, &value, &length)
        return value
    }

    private func emptyFile() -> OpenedFile {
        OpenedFile(descriptor: FileDescriptor(open("/dev/null", O_RDONLY | O_CLOEXEC)), size: 0)
    }

    @Test func aLoneDownloadIsUncorkedAndOneBesideOthersIsCorked() throws {
        let listener = try Sockets.listen(on: try #require(SocketAddress(host: "127.0.0.1", port: 0)), reusePort: false, backlog: 4)
        let address = try #require(SocketAddress.local(of: listener.rawValue))
        let socket = DataSocket(try Sockets.connect(to: address, from: nil), loop: EmbeddedLoop(), clock: .system, tls: nil,
                                policy: DataTLSPolicy(requireResumption: false, requireCloseNotify: false), caps: [], sends: true)
        socket.corked = true
        #expect(corkOption(socket.rawValue) == 1)
        let downloads = DownloadCount()
        let alone = SendfilePump(file: emptyFile(), offset: 0, running: downloads)
        _ = alone.pump(socket)
        #expect(corkOption(socket.rawValue) == 0, "the only download goes uncorked")
        var other: SendfilePump? = SendfilePump(file: emptyFile(), offset: 0, running: downloads)
        _ = alone.pump(socket)
        #expect(corkOption(socket.rawValue) == 1, "beside another download, full segments save CPU")
        other = nil
        _ = alone.pump(socket)
        #expect(corkOption(socket.rawValue) == 0 && other == nil, "alone again")
        socket.close(completed: false)
        withExtendedLifetime(listener) {}
    }
}
