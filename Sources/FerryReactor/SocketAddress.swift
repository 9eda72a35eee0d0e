import Glibc

/// An IPv4 or IPv6 socket address (`sockaddr_storage`), with the conversions the server needs.
public struct SocketAddress: Sendable, CustomStringConvertible {
    public private(set) var storage = sockaddr_storage()

    public init(storage: sockaddr_storage) { self.storage = storage }

    public init(copying pointer: UnsafePointer<sockaddr>, length: Int) {
        withUnsafeMutableBytes(of: &storage) { raw in
            raw.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: min(length, raw.count)))
        }
    }

    /// Parse `host` (IPv4 or IPv6 literal) and `port`.
    public init?(host: String, port: UInt16) {
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: v4) { raw.copyMemory(from: $0) } }
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: v6) { raw.copyMemory(from: $0) } }
        } else {
            return nil
        }
        self.port = port
    }

    public var family: Int32 { Int32(storage.ss_family) }
    public var isIPv6: Bool { family == AF_INET6 }

    public var length: socklen_t {
        socklen_t(isIPv6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
    }

    public var port: UInt16 {
        get {
            withUnsafeBytes(of: storage) { raw in
                isIPv6 ? UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
                       : UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
            }
        }
        set {
            let isIPv6 = self.isIPv6
            withUnsafeMutableBytes(of: &storage) { raw in
                if isIPv6 {
                    var v6 = raw.load(as: sockaddr_in6.self)
                    v6.sin6_port = newValue.bigEndian
                    withUnsafeBytes(of: v6) { raw.copyMemory(from: $0) }
                } else {
                    var v4 = raw.load(as: sockaddr_in.self)
                    v4.sin_port = newValue.bigEndian
                    withUnsafeBytes(of: v4) { raw.copyMemory(from: $0) }
                }
            }
        }
    }

    /// The address without the port, as text (`127.0.0.1`, `::1`).
    public var host: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        withUnsafeBytes(of: storage) { raw in
            if isIPv6 {
                var addr = raw.load(as: sockaddr_in6.self).sin6_addr
                _ = inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
            } else {
                var addr = raw.load(as: sockaddr_in.self).sin_addr
                _ = inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
            }
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `127.0.0.1:21` or `[::1]:21`.
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: storage) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    /// The local address of a connected or bound socket.
    public static func local(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutableBytes(of: &storage) { raw in
            getsockname(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        return result == 0 ? SocketAddress(storage: storage) : nil
    }
}
