import COpenSSL
import FerryReactor
import Foundation
import Glibc
import Testing

/// Kernel TLS (kTLS) for data connections: the probe, and a TLS server connection that asks for it
/// over real TCP (kTLS needs TCP). The machines this was written on have no CONFIG_TLS, so there the
/// tests check the fallback; where the kernel has it they send a file by SSL_sendfile.
@Suite struct KernelTLSTests {
    /// The probe agrees with the kernel's list of upper-layer protocols (which the probe fills when
    /// tls is a module it could load).
    @Test func theProbeAgreesWithTheKernelsListOfUpperLayers() throws {
        let available = KernelTLS.available
        let list = try String(contentsOfFile: "/proc/sys/net/ipv4/tcp_available_ulp", encoding: .utf8)
        #expect(available == list.split(whereSeparator: \.isWhitespace).contains("tls"), "tcp_available_ulp: \(list)")
    }

    /// A context asks for kernel TLS only when wanted and the kernel has it, and a connection hands
    /// its sending to the kernel exactly then (TLS 1.2 with AES-128-GCM, which every kTLS kernel
    /// takes). Then a file goes out by SSL_sendfile; otherwise SSL_sendfile fails cleanly and
    /// OpenSSL's writes carry it. Either way the client reads the whole file and a close_notify.
    @Test(arguments: [true, false]) func aDataConnectionUsesKernelTLSExactlyWhereTheKernelHasIt(wanted: Bool) throws {
        let context = try makeTestTLSContext(kernelOffload: wanted)
        #expect(context.kernelOffload == (wanted && KernelTLS.available))
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-ktls-\(UUID().uuidString)")
        try Data(payload).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let (listener, port) = try listenOnLoopback()
        defer { close(listener) }
        let client = TLSTestClient(port: port)
        let clientDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            client.run()
            clientDone.signal()
        }
        let fd = accept(listener, nil, nil)
        try #require(fd >= 0, "accept: \(String(cString: strerror(errno)))")
        defer { close(fd) }
        setTimeouts(fd)
        let tls = try TLSConnection(context: context, fd: fd, sessionContext: [1])
        #expect(tls.handshake() == .done(0))
        #expect(tls.kernelSends == context.kernelOffload)

        let fileFD = open(file.path, O_RDONLY | O_CLOEXEC)
        try #require(fileFD >= 0)
        defer { close(fileFD) }
        var sent = 0
        if tls.kernelSends {
            for _ in 0..<10_000 where sent < payload.count {
                guard case .done(let n) = tls.sendFile(fileFD, offset: Int64(sent), count: payload.count - sent), n > 0 else { break }
                sent += n
            }
        } else {
            if case .done = tls.sendFile(fileFD, offset: 0, count: payload.count) { Issue.record("SSL_sendfile without kernel TLS") }
            for _ in 0..<10_000 where sent < payload.count {
                let status = payload[sent...].withUnsafeBytes { tls.write($0) }
                guard case .done(let n) = status, n > 0 else { break }
                sent += n
            }
        }
        #expect(sent == payload.count)
        tls.shutdown()
        #expect(clientDone.wait(timeout: .now() + 10) == .success)
        #expect(client.result == .closeNotify(payload.count))
        #expect(client.received == payload)
    }

    private func listenOnLoopback() throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound && listen(fd, 1) == 0)
        setTimeouts(fd)
        return (fd, UInt16(bigEndian: address.sin_port))
    }
}

/// Blocking calls give up after 5 seconds, so a broken test fails instead of hanging.
private func setTimeouts(_ fd: Int32) {
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
}

/// A blocking OpenSSL client on its own thread: TLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256, reads
/// until the server's close_notify.
private final class TLSTestClient: @unchecked Sendable {
    enum Result: Equatable {
        case pending
        case failed(String)
        case closeNotify(Int)
    }

    private let port: UInt16
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private var ending = Result.pending

    init(port: UInt16) { self.port = port }

    var result: Result { lock.withLock { ending } }
    var received: [UInt8] { lock.withLock { bytes } }

    func run() {
        let outcome = connectAndRead()
        lock.withLock { ending = outcome }
    }

    private func connectAndRead() -> Result {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failed("socket") }
        defer { close(fd) }
        setTimeouts(fd)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { return .failed("connect") }
        guard let context = SSL_CTX_new(TLS_client_method()) else { return .failed("SSL_CTX_new") }
        defer { SSL_CTX_free(context) }
        SSL_CTX_ctrl(context, SSL_CTRL_SET_MAX_PROTO_VERSION, Int(ferry_tls1_2_version()), nil)
        SSL_CTX_set_cipher_list(context, "ECDHE-ECDSA-AES128-GCM-SHA256")
        guard let ssl = SSL_new(context) else { return .failed("SSL_new") }
        defer { SSL_free(ssl) }
        SSL_set_fd(ssl, fd)
        guard SSL_connect(ssl) == 1 else { return .failed("handshake: \(TLSError.openSSLReason())") }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var total: [UInt8] = []
        for _ in 0..<100_000 {
            let n = SSL_read(ssl, &chunk, Int32(chunk.count))
            if n > 0 {
                total += chunk[0..<Int(n)]
                continue
            }
            lock.withLock { bytes = total }
            return SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN ? .closeNotify(total.count) : .failed("read: \(SSL_get_error(ssl, n))")
        }
        return .failed("too many reads")
    }
}
