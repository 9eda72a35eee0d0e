/// The header a TCP proxy (HAProxy's `send-proxy`, `send-proxy-v2`) puts before a connection's own
/// bytes to say whom it is from: the PROXY protocol, versions 1 (one text line) and 2 (binary), as
/// HAProxy's proxy-protocol.txt defines them. Parsed from the bytes received so far, so a reader can
/// take them a piece at a time and never reads past the header.
public struct ProxyHeader: Equatable, Sendable {
    /// One end of the proxied connection.
    public struct Endpoint: Equatable, Sendable, CustomStringConvertible {
        public let address: IPAddress
        public let port: UInt16

        public init(_ address: IPAddress, _ port: UInt16) {
            self.address = address
            self.port = port
        }

        public var description: String {
            if case .v6 = address { return "[\(address)]:\(port)" }
            return "\(address):\(port)"
        }
    }

    /// The client and the address it reached the proxy on; nil when the proxy speaks for itself
    /// (v2 LOCAL, a health check; v1 UNKNOWN; v2 UNSPEC or UNIX): the connection is then served as
    /// the proxy's own.
    public let source: Endpoint?
    public let destination: Endpoint?
    /// Bytes the header took (the connection's own bytes follow).
    public let length: Int

    public init(source: Endpoint?, destination: Endpoint?, length: Int) {
        self.source = source
        self.destination = destination
        self.length = length
    }

    /// What the bytes received so far are.
    public enum Parse: Equatable, Sendable {
        /// A header, all of it within the bytes given.
        case header(ProxyHeader)
        /// The start of a header: every byte given belongs to it, and more must come.
        case incomplete
        /// Not a header, or a broken one (for the log).
        case invalid(String)
    }

    /// A v1 line is at most 107 bytes, CRLF included.
    public static let maximumV1Length = 107
    /// A v2 header longer than this is refused: addresses take at most 216 bytes, and what HAProxy adds
    /// (TLVs: ALPN, authority, TLS details, a unique id) fits many times over.
    public static let maximumV2Length = 4096
    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    static let v1Prefix = Array("PROXY ".utf8)

    public static func parse(_ bytes: some Collection<UInt8>) -> Parse {
        let bytes = Array(bytes)
        if bytes.isEmpty { return .incomplete }
        if bytes.starts(with: v2Signature.prefix(bytes.count)) { return parseV2(bytes) }
        if bytes.starts(with: v1Prefix.prefix(bytes.count)) { return parseV1(bytes) }
        return .invalid("not a PROXY protocol header")
    }

    // MARK: version 1

    private static func parseV1(_ bytes: [UInt8]) -> Parse {
        guard let end = bytes.firstIndex(of: 0x0A) else {
            return bytes.count >= maximumV1Length ? .invalid("PROXY v1 line longer than 107 bytes") : .incomplete
        }
        guard end < maximumV1Length else { return .invalid("PROXY v1 line longer than 107 bytes") }
        guard end > 0, bytes[end - 1] == 0x0D else { return .invalid("PROXY v1 line does not end with CRLF") }
        let fields = bytes[0..<(end - 1)].split(separator: 0x20, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        let length = end + 1
        switch fields.count > 1 ? fields[1] : "" {
        case "UNKNOWN":
            return .header(ProxyHeader(source: nil, destination: nil, length: length))
        case "TCP4", "TCP6":
            guard fields.count == 6 else { return .invalid("PROXY v1 line needs 6 fields, has \(fields.count)") }
            let v4 = fields[1] == "TCP4"
            guard let source = IPAddress(fields[2]), let destination = IPAddress(fields[3]),
                  isV4(fields[2]) == v4, isV4(fields[3]) == v4 else {
                return .invalid("PROXY v1 addresses are not \(fields[1]) addresses")
            }
            guard let sourcePort = port(fields[4]), let destinationPort = port(fields[5]) else {
                return .invalid("PROXY v1 ports must be decimal 0-65535 without leading zeros")
            }
            return .header(ProxyHeader(source: Endpoint(source, sourcePort), destination: Endpoint(destination, destinationPort), length: length))
        default:
            return .invalid("PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN")
        }
    }

    /// A dotted quad, as TCP4 requires (TCP6 takes IPv6 text, even an IPv4-mapped one).
    private static func isV4(_ text: String) -> Bool { !text.contains(":") }

    private static func port(_ text: String) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              text == "0" || !text.hasPrefix("0") else { return nil }
        return UInt16(text)
    }

    // MARK: version 2

    private static func parseV2(_ bytes: [UInt8]) -> Parse {
        guard bytes.count >= 16 else { return .incomplete }
        guard bytes[12] >> 4 == 2 else { return .invalid("PROXY v2 version must be 2") }
        let command = bytes[12] & 0x0F
        guard command <= 1 else { return .invalid("PROXY v2 command must be LOCAL or PROXY") }
        let addressLength = Int(bytes[14]) << 8 | Int(bytes[15])
        let length = 16 + addressLength
        guard length <= maximumV2Length else { return .invalid("PROXY v2 header longer than \(maximumV2Length) bytes") }
        guard bytes.count >= length else { return .incomplete }
        // LOCAL: the proxy's own connection; whatever addresses follow are ignored.
        guard command == 1 else { return .header(ProxyHeader(source: nil, destination: nil, length: length)) }
        let body = bytes[16..<length]
        switch bytes[13] {
        case 0x11:
            guard addressLength >= 12 else { return .invalid("PROXY v2 TCP over IPv4 needs 12 address bytes, has \(addressLength)") }
            let at = body.startIndex
            let source = IPAddress.v4(body[at], body[at + 1], body[at + 2], body[at + 3])
            let destination = IPAddress.v4(body[at + 4], body[at + 5], body[at + 6], body[at + 7])
            return .header(ProxyHeader(source: Endpoint(source, port(body, at + 8)), destination: Endpoint(destination, port(body, at + 10)),
                                       length: length))
        case 0x21:
            guard addressLength >= 36 else { return .invalid("PROXY v2 TCP over IPv6 needs 36 address bytes, has \(addressLength)") }
            let at = body.startIndex
            let source = IPAddress.v6(Array(body[at..<(at + 16)])).normalised
            let destination = IPAddress.v6(Array(body[(at + 16)..<(at + 32)])).normalised
            return .header(ProxyHeader(source: Endpoint(source, port(body, at + 32)), destination: Endpoint(destination, port(body, at + 34)),
                                       length: length))
        case 0x00, 0x31:
            // UNSPEC, or a UNIX socket: no address to give, so the connection is served as the proxy's.
            return .header(ProxyHeader(source: nil, destination: nil, length: length))
        default:
            return .invalid("PROXY v2 family and transport 0x\(String(bytes[13], radix: 16)): only TCP over IPv4 or IPv6")
        }
    }

    private static func port(_ body: ArraySlice<UInt8>, _ at: Int) -> UInt16 {
        UInt16(body[at]) << 8 | UInt16(body[at + 1])
    }
}
