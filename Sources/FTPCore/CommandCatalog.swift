/// The commands Ferry implements, one entry each: the single source for dispatch, the pre-login
/// rule, the 553-vs-501 rule for bad names, and HELP. A verb not listed here gets 502.
public struct CommandSpec: Sendable {
    public let verb: String
    public let syntax: String
    /// Accepted before login (RFC 959 lets these through; everything else gets 530).
    public let beforeLogin: Bool
    /// Creates a name on disk: an argument that is not valid UTF-8 gets 553 instead of 501.
    public let createsName: Bool
    /// Exists only when TLS is configured (otherwise 502, and absent from FEAT and HELP).
    public let needsTLS: Bool
}

public enum CommandCatalog {
    public static let specs: [CommandSpec] = [
        spec("USER", "USER <name>", beforeLogin: true),
        spec("PASS", "PASS <password>", beforeLogin: true),
        spec("QUIT", "QUIT", beforeLogin: true),
        spec("NOOP", "NOOP", beforeLogin: true),
        spec("SYST", "SYST", beforeLogin: true),
        spec("FEAT", "FEAT", beforeLogin: true),
        spec("OPTS", "OPTS UTF8 ON | OPTS MLST <facts> | OPTS HASH [<algorithm>]", beforeLogin: true),
        spec("HELP", "HELP [<command>]", beforeLogin: true),
        spec("STAT", "STAT [<path>]"),
        spec("PWD", "PWD"), spec("XPWD", "XPWD"),
        spec("CWD", "CWD <path>"), spec("XCWD", "XCWD <path>"),
        spec("CDUP", "CDUP"), spec("XCUP", "XCUP"),
        spec("TYPE", "TYPE A | I | L 8"),
        spec("MODE", "MODE S"),
        spec("STRU", "STRU F"),
        spec("ALLO", "ALLO <bytes>"),
        spec("PASV", "PASV"),
        spec("EPSV", "EPSV [1 | 2 | ALL]"),
        spec("PORT", "PORT h1,h2,h3,h4,p1,p2"),
        spec("EPRT", "EPRT |proto|address|port|"),
        spec("RETR", "RETR <path>"),
        spec("STOR", "STOR <path>", createsName: true),
        spec("STOU", "STOU [<name>]", createsName: true),
        spec("APPE", "APPE <path>", createsName: true),
        spec("REST", "REST <offset>"),
        spec("HASH", "HASH <path> (OPTS HASH <algorithm> selects one)"),
        spec("RANG", "RANG <start> <end> (for the next HASH; RANG 1 0 resets)"),
        spec("XCRC", "XCRC <path> [<start> [<end>]]"),
        spec("XMD5", "XMD5 <path> [<start> [<end>]]"),
        spec("XSHA1", "XSHA1 <path> [<start> [<end>]]"),
        spec("XSHA256", "XSHA256 <path> [<start> [<end>]]"),
        spec("XSHA512", "XSHA512 <path> [<start> [<end>]]"),
        spec("ABOR", "ABOR"),
        spec("LIST", "LIST [-flags] [<path>]"),
        spec("NLST", "NLST [-flags] [<path>]"),
        spec("MLSD", "MLSD [<path>]"),
        spec("MLST", "MLST [<path>]"),
        spec("SIZE", "SIZE <path>"),
        spec("MDTM", "MDTM <path>"),
        spec("MFMT", "MFMT YYYYMMDDHHMMSS <path>"),
        spec("DELE", "DELE <path>"),
        spec("MKD", "MKD <path>", createsName: true), spec("XMKD", "XMKD <path>", createsName: true),
        spec("RMD", "RMD <path>"), spec("XRMD", "XRMD <path>"),
        spec("RNFR", "RNFR <path>"),
        spec("RNTO", "RNTO <path>", createsName: true),
        spec("SITE", "SITE CHMOD <mode> <path> | SITE HELP"),
        spec("AUTH", "AUTH TLS", beforeLogin: true, needsTLS: true),
        spec("PBSZ", "PBSZ 0", beforeLogin: true, needsTLS: true),
        spec("PROT", "PROT P | C", beforeLogin: true, needsTLS: true),
        spec("CCC", "CCC", beforeLogin: true, needsTLS: true),
    ]

    private static let byVerb: [String: CommandSpec] = Dictionary(uniqueKeysWithValues: specs.map { ($0.verb, $0) })

    /// The spec for `verb`, if this server (with or without TLS) implements it.
    public static func spec(for verb: String, tls: Bool) -> CommandSpec? {
        guard let spec = byVerb[verb], tls || !spec.needsTLS else { return nil }
        return spec
    }

    private static func spec(_ verb: String, _ syntax: String, beforeLogin: Bool = false, createsName: Bool = false,
                             needsTLS: Bool = false) -> CommandSpec {
        CommandSpec(verb: verb, syntax: syntax, beforeLogin: beforeLogin, createsName: createsName, needsTLS: needsTLS)
    }

    /// HELP's body: the verbs, eight to a line.
    public static func helpLines(tls: Bool) -> [String] {
        let verbs = specs.filter { tls || !$0.needsTLS }.map { $0.verb.padding(to: 5) }
        return stride(from: 0, to: verbs.count, by: 8).map { " " + verbs[$0..<min($0 + 8, verbs.count)].joined(separator: " ") }
    }

    /// FEAT's body (RFC 2389, RFC 4217 §6): extensions only, each line starting with a space.
    public static func features(tls: Bool) -> [String] {
        (tls ? ["AUTH TLS", "PBSZ", "PROT"] : []) + [
            "EPRT", "EPSV", "MDTM", "MFMT", "MLST type*;size*;modify*;perm*;unix.mode*;unique*;",
            "REST STREAM", "SIZE", "TVFS", "UTF8",
        ]
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
