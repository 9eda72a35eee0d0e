import Foundation
import Glibc

/// Why a benchmark session failed; `code` is the server's reply code when a reply was the reason.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    let code: Int?
    init(_ description: String, code: Int? = nil) {
        self.description = description
        self.code = code
    }
}

/// A minimal blocking FTP client built to be cheap: downloads are counted and discarded in the
/// kernel (recv with MSG_TRUNC, no copy), uploads go out with sendfile from a file, so the server,
/// not the client, is what a run measures. After `secure` (AUTH TLS, PROT P) control and data go
/// through TLS, where decrypting into one reused buffer is the least a client can do.
final class FTPClient {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var tls: (context: TLSClientContext, control: TLSChannel)?
    let host: String

    /// `source`: the local IPv4 address to connect from (nil: the kernel's choice).
    init(host: String, port: UInt16, timeoutSeconds: Int = 60, source: String? = nil) throws {
        self.host = host
        fd = try FTPClient.connect(host: host, port: port, timeoutSeconds: timeoutSeconds, source: source)
        let greeting = try readReply()
        guard greeting.code == 220 else { close(fd); throw BenchError("greeting: \(greeting.text)") }
    }

    deinit { close(fd) }

    static func connect(host: String, port: UInt16, timeoutSeconds: Int, source: String? = nil) throws -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw BenchError("\(host) is not an IPv4 address") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
        if let source {
            do { try bind(fd, to: source) } catch { close(fd); throw error }
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw BenchError("connect \(host):\(port): \(reason)")
        }
        return fd
    }

    /// Binds `fd` to `source` with port 0, leaving the port to connect (IP_BIND_ADDRESS_NO_PORT), so
    /// each source address offers the whole ephemeral range toward the server.
    private static func bind(_ fd: Int32, to source: String) throws {
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        guard inet_pton(AF_INET, source, &local.sin_addr) == 1 else { throw BenchError("\(source) is not an IPv4 address") }
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_IP), IP_BIND_ADDRESS_NO_PORT, &on, socklen_t(MemoryLayout<Int32>.size))
        let result = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard result == 0 else { throw BenchError("bind \(source): \(String(cString: strerror(errno)))") }
    }

    struct Reply {
        let code: Int
        let text: String
    }

    func readReply() throws -> Reply {
        var first: String?
        while true {
            let line = try readLine()
            if first == nil { first = line }
            let bytes = Array(line.utf8)
            if bytes.count >= 4, let code = Int(String(line.prefix(3))), bytes[3] == UInt8(ascii: " "),
               line.prefix(3) == first!.prefix(3) {
                return Reply(code: code, text: first == line ? line : first! + " ... " + line)
            }
        }
    }

    private func readLine() throws -> String {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = buffer[..<newline]
                buffer.removeSubrange(...newline)
                return String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = try chunk.withUnsafeMutableBytes { bytes in
                try tls.map { try $0.control.receive(bytes) } ?? recv(fd, bytes.baseAddress, bytes.count, 0)
            }
            guard n > 0 else { throw BenchError("control connection closed") }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    @discardableResult
    func command(_ text: String, expect codes: ClosedRange<Int> = 200...399) throws -> Reply {
        var line = text + "\r\n"
        if let tls {
            try line.withUTF8 { try tls.control.send(UnsafeRawBufferPointer($0)) }
        } else {
            let sent = line.withUTF8 { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw BenchError("send \(text.prefix(4)): \(String(cString: strerror(errno)))") }
        }
        let reply = try readReply()
        guard codes.contains(reply.code) else {
            throw BenchError("\(text.hasPrefix("PASS") ? "PASS" : text): \(reply.text)", code: reply.code)
        }
        return reply
    }

    func login(user: String, password: String) throws {
        try command("USER \(user)", expect: 230...331)
        try command("PASS \(password)", expect: 230...230)
        try command("TYPE I")
    }

    /// AUTH TLS, then protected data (PBSZ 0, PROT P): RFC 4217's order.
    func secure(with context: TLSClientContext) throws {
        try command("AUTH TLS", expect: 234...234)
        tls = (context, try TLSChannel(context: context, fd: fd))
        try command("PBSZ 0")
        try command("PROT P")
    }

    /// PASV, then connect to the announced port on the control host.
    private func openData() throws -> Int32 {
        let reply = try command("PASV", expect: 227...227)
        guard let open = reply.text.firstIndex(of: "("), let close = reply.text.firstIndex(of: ")") else {
            throw BenchError("PASV reply: \(reply.text)")
        }
        let numbers = reply.text[reply.text.index(after: open)..<close].split(separator: ",").compactMap { Int($0) }
        guard numbers.count == 6 else { throw BenchError("PASV reply: \(reply.text)") }
        let data = try FTPClient.connect(host: host, port: UInt16(numbers[4] * 256 + numbers[5]), timeoutSeconds: 60)
        var size: Int32 = 4 << 20
        setsockopt(data, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        return data
    }

    /// Download and discard; returns the bytes received. The data connection closes at its end,
    /// before the final reply is read, as curl and ftplib do (ProFTPD holds 226 until it sees that).
    func retrieve(_ path: String) throws -> UInt64 {
        try receive("RETR \(path)", path)
    }

    /// LIST or MLSD; returns the listing's size in bytes.
    func list(_ verb: String, _ path: String) throws -> UInt64 {
        try receive("\(verb) \(path)", path)
    }

    private func receive(_ command: String, _ path: String) throws -> UInt64 {
        let data = try openData()
        var total: UInt64 = 0
        do {
            try self.command(command, expect: 125...150)
            total = try tls.map { try FTPClient.drain(data, through: $0) } ?? FTPClient.drain(data)
            close(data)
        } catch {
            close(data)
            throw BenchError("\(path): \(error)", code: (error as? BenchError)?.code)
        }
        try readFinal(path)
        return total
    }

    /// No wakeup until 256 KiB are waiting (or the stream ends): the client then reads in a few large
    /// gulps whatever way a server paces its sends. Plaintext only: a TLS handshake's small messages
    /// would wait for the server's stall timeout, and vsftpd's TLS stream crawled at 16 MiB/s with it.
    private static func readInGulps(_ data: Int32) {
        var lowWater: Int32 = 256 << 10
        setsockopt(data, SOL_SOCKET, SO_RCVLOWAT, &lowWater, socklen_t(MemoryLayout<Int32>.size))
    }

    /// MSG_TRUNC on TCP: the kernel drops the bytes and reports how many (no copy).
    private static func drain(_ data: Int32) throws -> UInt64 {
        readInGulps(data)
        var total: UInt64 = 0
        var scratch = [UInt8](repeating: 0, count: 1)
        while true {
            let n = recv(data, &scratch, 1 << 30, Int32(MSG_TRUNC))
            if n == 0 { return total }
            guard n > 0 else { throw BenchError(String(cString: strerror(errno))) }
            total += UInt64(n)
        }
    }

    private static func drain(_ data: Int32, through tls: (context: TLSClientContext, control: TLSChannel)) throws -> UInt64 {
        let channel = try TLSChannel(context: tls.context, fd: data, resuming: tls.control)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { scratch.deallocate() }
        var total: UInt64 = 0
        while case let n = try channel.receive(scratch), n > 0 { total += UInt64(n) }
        channel.close()
        return total
    }

    /// Upload `count` bytes of `file` with sendfile (over a secured session: read in 256 KiB blocks
    /// and written through TLS, ending with close_notify); returns the bytes sent.
    func store(_ path: String, from file: Int32, count: UInt64) throws -> UInt64 {
        let data = try openData()
        try command("STOR \(path)", expect: 125...150)
        var offset: off_t = 0
        do {
            if let tls {
                offset = try FTPClient.upload(file, count: count, through: TLSChannel(context: tls.context, fd: data, resuming: tls.control))
                FTPClient.drainAfterSending(data)
            } else {
                while UInt64(offset) < count {
                    guard sendfile(data, file, &offset, Int(min(count - UInt64(offset), 1 << 30))) > 0 else {
                        throw BenchError(String(cString: strerror(errno)))
                    }
                }
            }
        } catch {
            close(data)
            throw BenchError("STOR \(path): \(error)")
        }
        close(data)
        try readFinal(path)
        return UInt64(offset)
    }

    private static func upload(_ file: Int32, count: UInt64, through channel: TLSChannel) throws -> off_t {
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { block.deallocate() }
        var offset: off_t = 0
        while UInt64(offset) < count {
            let n = pread(file, block.baseAddress, Int(min(count - UInt64(offset), UInt64(block.count))), offset)
            guard n > 0 else { throw BenchError(n == 0 ? "the file ended early" : String(cString: strerror(errno))) }
            try channel.send(UnsafeRawBufferPointer(rebasing: block[0..<n]))
            offset += off_t(n)
        }
        channel.close()
        return offset
    }

    /// After the last record and close_notify: half-close, then read what the server still sends
    /// (its close_notify, TLS 1.3 tickets) until it closes, as curl does. Closing with those bytes
    /// unread resets the connection, which vsftpd reports as a failed upload (426).
    private static func drainAfterSending(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_WR))
        var sink = [UInt8](repeating: 0, count: 16 << 10)
        for _ in 0..<1000 {
            guard recv(fd, &sink, sink.count, 0) > 0 else { return }
        }
    }

    private func readFinal(_ path: String) throws {
        let reply = try readReply()
        guard reply.code == 226 || reply.code == 250 else { throw BenchError("\(path): \(reply.text)") }
    }

    func quit() {
        _ = try? command("QUIT", expect: 200...299)
    }
}
