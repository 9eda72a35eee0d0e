import FTPCore
import Glibc
import Synchronization

/// What PASV announces to which client (`--passive-address`, repeatable): `CIDR=ADDRESS` rules, the
/// first that matches the client wins, then a plain `ADDRESS` as the default; without one, the
/// control connection's own address. NAT, Docker and LAN-and-WAN set-ups give different clients
/// different addresses. An ADDRESS may be a host name (dynamic DNS): `PassiveAddressResolver` looks it
/// up off the loops. EPSV carries no address and is unaffected.
public struct PassiveAddressRules: Sendable, Equatable {
    /// The address to announce: an IPv4 literal, or a host name to resolve.
    public enum Target: Sendable, Equatable {
        case address(IPAddress)
        case host(String)
    }

    public struct Rule: Sendable, Equatable {
        let network: IPNetwork
        let target: Target
    }

    public private(set) var rules: [Rule] = []
    public private(set) var fallback: Target?

    public init() {}

    /// Read `CIDR=ADDRESS` rules and at most one plain `ADDRESS`.
    public static func parse(_ entries: [String]) throws(ConfigError) -> PassiveAddressRules {
        var parsed = PassiveAddressRules()
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1).map { String($0).trimmingSpaces }
            let target = try self.target(parts.last ?? "")
            if parts.count == 1 {
                guard parsed.fallback == nil else { throw ConfigError("\(entry): only one default address (without CIDR=) may be given") }
                parsed.fallback = target
            } else {
                guard let network = IPNetwork(parts[0]) else { throw ConfigError("\(parts[0]) is not a network: use CIDR=ADDRESS, like 10.0.0.0/8=10.0.0.5") }
                parsed.rules.append(Rule(network: network, target: target))
            }
        }
        return parsed
    }

    private static func target(_ text: String) throws(ConfigError) -> Target {
        if let address = IPAddress(text) {
            guard address.isIPv4 else { throw ConfigError("\(text) is not an IPv4 address (PASV can only announce IPv4)") }
            return .address(address.normalised)
        }
        let hostCharacters = text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
        guard !text.isEmpty, hostCharacters, text.contains(where: \.isLetter) else {
            throw ConfigError("\(text) is neither an IPv4 address nor a host name")
        }
        return .host(text.lowercased())
    }

    /// What to announce to `client`, nil for the control connection's own address.
    public func target(for client: IPAddress) -> Target? {
        rules.first { $0.network.contains(client) }?.target ?? fallback
    }

    /// The host names the rules use, for the resolver.
    public var hostNames: [String] {
        (rules.map(\.target) + [fallback].compactMap { $0 }).compactMap { if case .host(let name) = $0 { return name } else { return nil } }
    }
}

/// The IPv4 addresses of the host names in `PassiveAddressRules`, looked up with getaddrinfo (which
/// blocks, so never on a loop): at start, then again every `refreshSeconds`, keeping the last address
/// a name had when a lookup fails.
public final class PassiveAddressResolver: Sendable {
    public static let refreshSeconds = 60
    private let names: [String]
    private let addresses = Mutex<[String: IPAddress]>([:])

    public init(names: [String]) {
        self.names = Array(Set(names)).sorted()
    }

    /// Look every name up again; the names that did not resolve.
    @discardableResult
    public func refresh() -> [String] {
        var failed: [String] = []
        for name in names {
            if let address = PassiveAddressResolver.lookUp(name) {
                addresses.withLock { $0[name] = address }
            } else {
                failed.append(name)
            }
        }
        return failed
    }

    /// The address PASV announces to `client`, nil for the control connection's own.
    public func announce(_ rules: PassiveAddressRules, to client: IPAddress) -> IPAddress? {
        switch rules.target(for: client) {
        case .address(let address): return address
        case .host(let name): return addresses.withLock { $0[name] }
        case nil: return nil
        }
    }

    private static func lookUp(_ name: String) -> IPAddress? {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        guard let address = first.pointee.ai_addr else { return nil }
        return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { IPAddress(ipv4NetworkOrder: $0.pointee.sin_addr.s_addr) }
    }
}
