import FTPCore
import Testing

/// The PROXY protocol parser: every family and length of both versions, every truncation, and the
/// broken headers a careless or hostile peer sends.
@Suite struct ProxyHeaderTests {
    private typealias Endpoint = ProxyHeader.Endpoint

    /// A v2 header: signature, version 2 with `command`, `family`, the address block and `extra` bytes (TLVs).
    private func v2(command: UInt8 = 1, family: UInt8, addresses: [UInt8], extra: [UInt8] = []) -> [UInt8] {
        let body = addresses + extra
        return [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20 | command, family,
                UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    private let ipv4Block: [UInt8] = [203, 0, 113, 7, 10, 0, 0, 5, 0xC3, 0x50, 0x00, 0x15]
    private var ipv6Block: [UInt8] {
        [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1] + [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2]
            + [0x04, 0xD2, 0x00, 0x15]
    }

    /// Each proper prefix of `header` asks for more; the whole is `expected`, and bytes after it are
    /// left alone.
    private func check(_ header: [UInt8], is expected: ProxyHeader) {
        for cut in 0..<header.count {
            #expect(ProxyHeader.parse(header[0..<cut]) == .incomplete, "cut at \(cut) of \(header.count)")
        }
        #expect(ProxyHeader.parse(header) == .header(expected))
        #expect(ProxyHeader.parse(header + Array("\u{16}\u{03}\u{01}USER".utf8)) == .header(expected), "the client's own bytes follow")
    }

    @Test func version1TCP4TCP6AndUnknown() {
        let tcp4 = Array("PROXY TCP4 203.0.113.7 10.0.0.5 50000 21\r\n".utf8)
        check(tcp4, is: ProxyHeader(source: Endpoint(.v4(203, 0, 113, 7), 50000), destination: Endpoint(.v4(10, 0, 0, 5), 21), length: tcp4.count))
        let tcp6 = Array("PROXY TCP6 2001:db8::1 2001:db8::2 1234 21\r\n".utf8)
        check(tcp6, is: ProxyHeader(source: Endpoint(IPAddress("2001:db8::1")!, 1234), destination: Endpoint(IPAddress("2001:db8::2")!, 21),
                                    length: tcp6.count))
        let unknown = Array("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n".utf8)
        check(unknown, is: ProxyHeader(source: nil, destination: nil, length: unknown.count))
        let longest = Array("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n".utf8)
        check(longest, is: ProxyHeader(source: Endpoint(IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")!, 65535),
                                       destination: Endpoint(IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")!, 65535), length: 104))
        // The specification's worst case: UNKNOWN followed by the longest addresses, 107 bytes.
        let unknownLongest = Array("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n".utf8)
        #expect(unknownLongest.count == ProxyHeader.maximumV1Length)
        check(unknownLongest, is: ProxyHeader(source: nil, destination: nil, length: 107))
    }

    @Test func version2EveryFamilyWithAndWithoutTLVs() {
        let tlvs: [UInt8] = [0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x00]
        for extra in [[], tlvs] {
            let tcp4 = v2(family: 0x11, addresses: ipv4Block, extra: extra)
            check(tcp4, is: ProxyHeader(source: Endpoint(.v4(203, 0, 113, 7), 50000), destination: Endpoint(.v4(10, 0, 0, 5), 21), length: tcp4.count))
            let tcp6 = v2(family: 0x21, addresses: ipv6Block, extra: extra)
            check(tcp6, is: ProxyHeader(source: Endpoint(IPAddress("2001:db8::1")!, 1234), destination: Endpoint(IPAddress("2001:db8::2")!, 21),
                                        length: tcp6.count))
            let local = v2(command: 0, family: 0x11, addresses: ipv4Block, extra: extra)
            check(local, is: ProxyHeader(source: nil, destination: nil, length: local.count))
            let unspecified = v2(family: 0x00, addresses: [], extra: extra)
            check(unspecified, is: ProxyHeader(source: nil, destination: nil, length: unspecified.count))
        }
    }

    @Test func version2AddressBlocksTooShortForTheirFamily() {
        for length in 0..<12 {
            #expect(ProxyHeader.parse(v2(family: 0x11, addresses: Array(ipv4Block.prefix(length)))) ==
                    .invalid("PROXY v2 TCP over IPv4 needs 12 address bytes, has \(length)"))
        }
        for length in 0..<36 {
            #expect(ProxyHeader.parse(v2(family: 0x21, addresses: Array(ipv6Block.prefix(length)))) ==
                    .invalid("PROXY v2 TCP over IPv6 needs 36 address bytes, has \(length)"))
        }
    }

    @Test(arguments: [
        ("USER anonymous\r\n", "not a PROXY protocol header"),
        ("PROXY TCP4 203.0.113.7 10.0.0.5 50000 21\n", "PROXY v1 line does not end with CRLF"),
        ("PROXY TCP4 203.0.113.7 10.0.0.5 50000\r\n", "PROXY v1 line needs 6 fields, has 5"),
        ("PROXY TCP4 203.0.113.7  10.0.0.5 50000 21\r\n", "PROXY v1 line needs 6 fields, has 7"),
        ("PROXY TCP4 2001:db8::1 10.0.0.5 50000 21\r\n", "PROXY v1 addresses are not TCP4 addresses"),
        ("PROXY TCP6 203.0.113.7 2001:db8::2 50000 21\r\n", "PROXY v1 addresses are not TCP6 addresses"),
        ("PROXY TCP4 203.0.113.999 10.0.0.5 50000 21\r\n", "PROXY v1 addresses are not TCP4 addresses"),
        ("PROXY TCP4 203.0.113.7 10.0.0.5 65536 21\r\n", "PROXY v1 ports must be decimal 0-65535 without leading zeros"),
        ("PROXY TCP4 203.0.113.7 10.0.0.5 050000 21\r\n", "PROXY v1 ports must be decimal 0-65535 without leading zeros"),
        ("PROXY TCP4 203.0.113.7 10.0.0.5 -1 21\r\n", "PROXY v1 ports must be decimal 0-65535 without leading zeros"),
        ("PROXY TCP4 203.0.113.7 10.0.0.5 99999999999999999999 21\r\n", "PROXY v1 ports must be decimal 0-65535 without leading zeros"),
        ("PROXY UDP4 203.0.113.7 10.0.0.5 50000 21\r\n", "PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN"),
        ("PROXY \r\n", "PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN"),
    ])
    func brokenVersion1Lines(text: String, reason: String) {
        #expect(ProxyHeader.parse(Array(text.utf8)) == .invalid(reason))
    }

    @Test func aVersion1LineWithoutItsEndWithin107BytesIsRefused() {
        let endless = Array(("PROXY TCP4 " + String(repeating: "1", count: 200)).utf8)
        #expect(ProxyHeader.parse(endless.prefix(106)) == .incomplete)
        #expect(ProxyHeader.parse(endless.prefix(107)) == .invalid("PROXY v1 line longer than 107 bytes"))
        #expect(ProxyHeader.parse(endless) == .invalid("PROXY v1 line longer than 107 bytes"))
    }

    @Test func brokenVersion2Headers() {
        var wrongVersion = v2(family: 0x11, addresses: ipv4Block)
        wrongVersion[12] = 0x11
        #expect(ProxyHeader.parse(wrongVersion) == .invalid("PROXY v2 version must be 2"))
        #expect(ProxyHeader.parse(v2(command: 2, family: 0x11, addresses: ipv4Block)) == .invalid("PROXY v2 command must be LOCAL or PROXY"))
        #expect(ProxyHeader.parse(v2(family: 0x12, addresses: ipv4Block)) == .invalid("PROXY v2 family and transport 0x12: only TCP over IPv4 or IPv6"))
        #expect(ProxyHeader.parse(v2(family: 0x22, addresses: ipv6Block)) == .invalid("PROXY v2 family and transport 0x22: only TCP over IPv4 or IPv6"))
        let huge = Array(v2(family: 0x11, addresses: ipv4Block).prefix(14)) + [0xFF, 0xFF]
        #expect(ProxyHeader.parse(huge) == .invalid("PROXY v2 header longer than 4096 bytes"), "refused before its bytes arrive")
        var mangled = v2(family: 0x11, addresses: ipv4Block)
        mangled[5] = 0x00
        #expect(ProxyHeader.parse(mangled) == .invalid("not a PROXY protocol header"))
    }
}
