#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address as plain bytes, so the protocol core can compare and format addresses
/// without sockets. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) normalise to IPv4.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt8, UInt8, UInt8, UInt8)
    case v6([UInt8])

    /// Parse dotted-quad IPv4 or textual IPv6 (inet_pton's grammar).
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = IPAddress(ipv4NetworkOrder: v4.s_addr)
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            self = IPAddress.v6(bytes).normalised
            return
        }
        return nil
    }

    /// From `in_addr.s_addr` (network byte order in memory).
    public init(ipv4NetworkOrder value: UInt32) {
        let b = withUnsafeBytes(of: value) { Array($0) }
        self = .v4(b[0], b[1], b[2], b[3])
    }

    /// `::ffff:a.b.c.d` becomes `a.b.c.d`; everything else is unchanged.
    public var normalised: IPAddress {
        if case .v6(let b) = self, b.count == 16, b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xFF, b[11] == 0xFF {
            return .v4(b[12], b[13], b[14], b[15])
        }
        return self
    }

    /// The part of the address that names one client, for per-client limits and bans: the whole of
    /// an IPv4 address, the /64 prefix of an IPv6 one (a single host is routinely given a whole /64,
    /// so counting its addresses one by one would give it 2^64 tries).
    public var clientPrefix: IPAddress {
        switch normalised {
        case .v4: return normalised
        case .v6(let bytes): return .v6(Array(bytes.prefix(8)) + Array(repeating: 0, count: 8))
        }
    }

    public var isIPv4: Bool { if case .v4 = normalised { return true } else { return false } }

    public var description: String {
        switch self {
        case let .v4(a, b, c, d):
            return "\(a).\(b).\(c).\(d)"
        case .v6(var bytes):
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let ok = bytes.withUnsafeMutableBytes { raw in
                inet_ntop(AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
            }
            return ok ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "::"
        }
    }
}
