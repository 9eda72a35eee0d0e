/// An IPv4 or IPv6 network, `192.168.0.0/16` (a bare address is its own /32 or /128). IPv4-mapped
/// IPv6 addresses count as IPv4, as everywhere in Ferry.
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    let bytes: [UInt8]
    let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let address = IPAddress(parts[0]) else { return nil }
        bytes = IPNetwork.bytes(address)
        let bits = bytes.count * 8
        guard let prefix = parts.count == 2 ? Int(parts[1]) : bits, (0...bits).contains(prefix) else { return nil }
        self.prefix = prefix
    }

    public func contains(_ address: IPAddress) -> Bool {
        let other = IPNetwork.bytes(address)
        guard other.count == bytes.count else { return false }
        for bit in 0..<prefix where (bytes[bit / 8] ^ other[bit / 8]) & (0x80 >> UInt8(bit % 8)) != 0 { return false }
        return true
    }

    public var description: String {
        let address: IPAddress = bytes.count == 4 ? .v4(bytes[0], bytes[1], bytes[2], bytes[3]) : .v6(bytes)
        return "\(address)/\(prefix)"
    }

    private static func bytes(_ address: IPAddress) -> [UInt8] {
        switch address.normalised {
        case let .v4(a, b, c, d): return [a, b, c, d]
        case .v6(let bytes): return bytes
        }
    }
}
