/// The digests HASH computes (draft-bryan-ftpext-hash-02), named as the IANA "Hash Function Textual
/// Names" registry and FEAT write them.
public enum HashAlgorithm: String, CaseIterable, Sendable {
    case sha1 = "SHA-1"
    case sha256 = "SHA-256"
    case sha512 = "SHA-512"
    case md5 = "MD5"
    case crc32 = "CRC32"

    /// A name as a client sends it, in any case.
    public init?(name: String) {
        guard let found = HashAlgorithm(rawValue: name.uppercased()) else { return nil }
        self = found
    }

    /// The legacy command that computes this digest (FileZilla, ProFTPD's mod_digest).
    public static func legacy(_ verb: String) -> HashAlgorithm? {
        ["XCRC": .crc32, "XMD5": .md5, "XSHA1": .sha1, "XSHA256": .sha256, "XSHA512": .sha512][verb]
    }
}

/// A digest of a file or a byte range of it, to compute off the loop; answer with `Session.hashComputed`.
public struct HashRequest: Sendable, Equatable {
    public let file: OpenedFile
    public let path: VirtualPath
    public let algorithm: HashAlgorithm
    /// First byte, and the byte after the last (nil: the end of the file).
    public let start: UInt64
    public let end: UInt64?
}

/// A computed digest of bytes `start..<end` of a file.
public struct HashResult: Sendable, Equatable {
    public let hex: String
    public let start: UInt64
    public let end: UInt64

    public init(hex: String, start: UInt64, end: UInt64) {
        self.hex = hex
        self.start = start
        self.end = end
    }
}

/// Why a digest was not computed.
public enum HashFailure: Error, Sendable, Equatable {
    /// Too many digests are being computed now (450: try again).
    case busy
    /// The file changed while it was read (451).
    case changed
    case file(FileSystemError)
}
