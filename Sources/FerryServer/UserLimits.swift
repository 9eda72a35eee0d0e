/// How a user's login depends on a TLS client certificate whose common name or a DNS/e-mail subject
/// alternative name is the user name (verified against `--tls-client-ca`).
public enum ClientCertificateRule: String, Sendable, CaseIterable {
    /// The certificate and the password (two factors).
    case withPassword = "with-password"
    /// The certificate alone: USER gets 232 (RFC 2228) and the password is never accepted.
    case withoutPassword = "without-password"
}

/// Per-user overrides from the users file's optional fifth field, comma-separated `key=value`:
/// `download-rate=10M,upload-rate=1M,max-sessions=2,max-file-size=4G,umask=027,quota=50G,client-cert=with-password`.
/// Rates are bytes per second, sizes bytes; both take K, M, G, T suffixes (powers of 1024).
public struct UserLimits: Sendable, Equatable {
    public var downloadRate: Int?
    public var uploadRate: Int?
    public var maxSessions: Int?
    public var maxFileSize: UInt64?
    public var umask: UInt32?
    /// Bytes the user's home may hold.
    public var quota: UInt64?
    /// Nil: certificates play no part in this user's login.
    public var clientCertificate: ClientCertificateRule?

    public init(downloadRate: Int? = nil, uploadRate: Int? = nil, maxSessions: Int? = nil, maxFileSize: UInt64? = nil, umask: UInt32? = nil,
                quota: UInt64? = nil, clientCertificate: ClientCertificateRule? = nil) {
        self.quota = quota
        self.clientCertificate = clientCertificate
        self.downloadRate = downloadRate
        self.uploadRate = uploadRate
        self.maxSessions = maxSessions
        self.maxFileSize = maxFileSize
        self.umask = umask
    }

    public static let keys = ["download-rate", "upload-rate", "max-sessions", "max-file-size", "umask", "quota", "client-cert"]

    /// Parse the field; the error text says which item is wrong.
    public static func parse(_ field: String) -> Result<UserLimits, UsersFileError> {
        var limits = UserLimits()
        for item in field.split(separator: ",") where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return .failure(UsersFileError("\(item): expected key=value")) }
            if let problem = limits.set(parts[0], parts[1]) { return .failure(UsersFileError(problem)) }
        }
        return .success(limits)
    }

    /// Set one limit from text; returns what is wrong, or nil.
    public mutating func set(_ key: String, _ value: String) -> String? {
        switch key {
        case "download-rate", "upload-rate":
            guard let rate = ByteSize.parse(value), rate > 0, rate <= UInt64(Int.max) else { return "\(key)=\(value): use bytes per second, like 512K or 10M" }
            if key == "download-rate" { downloadRate = Int(rate) } else { uploadRate = Int(rate) }
        case "max-sessions":
            guard let count = Int(value), count > 0 else { return "max-sessions=\(value): use a whole number above 0" }
            maxSessions = count
        case "max-file-size":
            guard let size = ByteSize.parse(value), size > 0 else { return "max-file-size=\(value): use a size, like 4G" }
            maxFileSize = size
        case "quota":
            guard let size = ByteSize.parse(value), size > 0 else { return "quota=\(value): use a size, like 50G" }
            quota = size
        case "umask":
            guard let mask = UInt32(value, radix: 8), mask <= 0o777 else { return "umask=\(value): use octal, like 022" }
            umask = mask
        case "client-cert":
            guard let rule = ClientCertificateRule(rawValue: value) else {
                return "client-cert=\(value): use \(ClientCertificateRule.allCases.map(\.rawValue).joined(separator: " or "))"
            }
            clientCertificate = rule
        default:
            return "unknown limit \(key) (known: \(UserLimits.keys.joined(separator: ", ")))"
        }
        return nil
    }

    /// The users-file field ("" when no limit is set).
    public var serialized: String {
        var items: [String] = []
        if let downloadRate { items.append("download-rate=\(downloadRate)") }
        if let uploadRate { items.append("upload-rate=\(uploadRate)") }
        if let maxSessions { items.append("max-sessions=\(maxSessions)") }
        if let maxFileSize { items.append("max-file-size=\(maxFileSize)") }
        if let umask { items.append("umask=0" + String(umask, radix: 8)) }
        if let quota { items.append("quota=\(quota)") }
        if let clientCertificate { items.append("client-cert=\(clientCertificate.rawValue)") }
        return items.joined(separator: ",")
    }
}

/// Byte counts with binary suffixes: `512`, `64K`, `10M`, `4G`, `1T`.
public enum ByteSize {
    public static func parse(_ text: String) -> UInt64? {
        let upper = text.uppercased()
        let multipliers: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        if let last = upper.last, let multiplier = multipliers[last] {
            guard let number = UInt64(upper.dropLast()) else { return nil }
            let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
            return overflow ? nil : product
        }
        return UInt64(upper)
    }
}
