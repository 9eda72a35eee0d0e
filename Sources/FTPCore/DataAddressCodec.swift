/// The wire forms of data-connection addresses: PORT/PASV `h1,h2,h3,h4,p1,p2` (RFC 959),
/// EPRT `|proto|addr|port|` and EPSV `(|||port|)` (RFC 2428).
public enum DataAddressCodec {
    /// Why an address argument was refused.
    public enum Failure: Error, Equatable, Sendable {
        case malformed
        /// EPRT named a network protocol other than 1 (IPv4) or 2 (IPv6).
        case unsupportedProtocol
    }

    /// Parse a PORT argument.
    public static func parsePort(_ text: String) -> Result<(IPAddress, UInt16), Failure> {
        let parts = text.trimmingSpaces.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return .failure(.malformed) }
        var numbers: [UInt8] = []
        for part in parts {
            guard let n = UInt8(part.trimmingSpaces) else { return .failure(.malformed) }
            numbers.append(n)
        }
        let port = UInt16(numbers[4]) << 8 | UInt16(numbers[5])
        return .success((.v4(numbers[0], numbers[1], numbers[2], numbers[3]), port))
    }

    /// Format a 227 reply's address: `h1,h2,h3,h4,p1,p2`. Only IPv4 can be expressed.
    public static func formatPassive(_ address: IPAddress, port: UInt16) -> String? {
        guard case let .v4(a, b, c, d) = address.normalised else { return nil }
        return "\(a),\(b),\(c),\(d),\(port >> 8),\(port & 0xFF)"
    }

    /// Parse an EPRT argument; the first character is the delimiter (RFC 2428 §2).
    public static func parseExtendedPort(_ text: String) -> Result<(IPAddress, UInt16), Failure> {
        let scalars = Array(text.trimmingSpaces.unicodeScalars)
        guard let delimiter = scalars.first, (33...126).contains(delimiter.value) else { return .failure(.malformed) }
        let fields = String(String.UnicodeScalarView(scalars)).split(separator: Character(delimiter), omittingEmptySubsequences: false)
        // "|1|addr|port|" splits into "", "1", "addr", "port", "".
        guard fields.count == 5, fields[0].isEmpty, fields[4].isEmpty else { return .failure(.malformed) }
        guard let port = UInt16(fields[3]), port > 0 else { return .failure(.malformed) }
        switch fields[1] {
        case "1":
            guard let address = IPAddress(String(fields[2])), case .v4 = address, !fields[2].contains(":") else {
                return .failure(.malformed)
            }
            return .success((address, port))
        case "2":
            guard fields[2].contains(":"), let address = IPAddress(String(fields[2])) else { return .failure(.malformed) }
            return .success((address, port))
        default:
            return .failure(.unsupportedProtocol)
        }
    }

    /// Format a 229 reply's argument.
    public static func formatExtendedPassive(port: UInt16) -> String {
        "(|||\(port)|)"
    }
}
