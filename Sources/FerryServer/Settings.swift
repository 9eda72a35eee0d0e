import CFerrySys
import FTPCore
import FerryReactor
import Glibc

/// One setting of `ferry serve`, declared once: its config key (also the flag's name and, in capitals,
/// the `FERRY_*` variable's), type, default, help and validation. The config file, the environment and
/// `ferry config example` read the table; `ferry serve`'s flags are generated from it
/// (Sources/ferry/ServeSettings.swift, checked by ServeSettingsTests); the README's table is checked.
public struct SettingSpec: Sendable {
    public enum Kind: Sendable { case string, integer, boolean, list }
    public let key: String
    public let kind: Kind
    /// The default as the example file writes it (nil: unset by default).
    public let example: String?
    /// For a setting unset by default: a value the example file shows, commented out.
    public let sample: String?
    public let help: String
    /// Validate a value and set it (the error says what is wrong, without where: the caller adds that).
    public typealias Apply = @Sendable (SettingValue, inout ServerConfiguration) throws(ConfigError) -> Void
    let apply: Apply

    /// `FERRY_MAX_SESSIONS` for `max-sessions`.
    public var environmentName: String { "FERRY_" + key.uppercased().replacingAll("-", with: "_") }
}

public enum Settings {
    public static let specs: [SettingSpec] = [
        spec("root", .string, "\".\"", "Folder served to anonymous users.") { value, config throws(ConfigError) in
            config.root = absolute(try string(value))
        },
        spec("listen", .list, "[\"127.0.0.1:2121\"]", "Control listener, HOST:PORT or [IPv6]:PORT; repeatable.") { value, config throws(ConfigError) in
            config.listen = try list(value).map { text throws(ConfigError) in try parseListen(text) }
        },
        spec("users", .string, nil, "Users file (see `ferry user`), or a postgresql:// URL. Without it, anonymous read-only access is on.",
             sample: "\"/etc/ferry/users.txt\"") { value, config throws(ConfigError) in
            config.usersFile = try string(value)
        },
        spec("anonymous", .boolean, nil, "Allow anonymous read-only login (users anonymous and ftp); default: on without a users file, off with one.", sample: "true") { value, config throws(ConfigError) in
            config.anonymous = try boolean(value)
        },
        spec("max-sessions", .integer, nil, "Sessions in total, 421 when full (default: what the descriptor limit allows).", sample: "1000") { value, config throws(ConfigError) in
            config.maxSessions = try integer(value, atLeast: 1)
        },
        spec("max-sessions-per-ip", .integer, "64", "Sessions from one client address (IPv6: per /64), 421 when full.") { value, config throws(ConfigError) in
            config.maxSessionsPerIP = try integer(value, atLeast: 1)
        },
        spec("passive-ports", .string, nil, "Passive data port range, \"LO-HI\" (default: the kernel's ephemeral ports).", sample: "\"50000-50100\"") { value, config throws(ConfigError) in
            config.passivePorts = try parsePortRange(try string(value))
        },
        spec("passive-address", .list, nil,
             "IPv4 address or host name announced in PASV replies (NAT, load balancer); CIDR=ADDRESS for the clients of one network, first match wins; repeatable.",
             sample: "[\"10.0.0.0/8=10.0.0.5\", \"ftp.example.com\"]") { value, config throws(ConfigError) in
            config.passiveAddresses = try PassiveAddressRules.parse(try list(value))
        },
        spec("proxy-protocol", .string, "\"off\"",
             "PROXY protocol header (v1 or v2, HAProxy's send-proxy) before the greeting: off; optional (connections from trusted-proxies must send one, others are served as they are); required (only trusted-proxies may connect).") {
            value, config throws(ConfigError) in
            config.proxyProtocol = ProxyProtocolMode(rawValue: try choice(value, ProxyProtocolMode.allCases.map(\.rawValue))) ?? .off
        },
        spec("trusted-proxies", .list, "[]", "Networks (CIDR, or one address) whose PROXY headers are believed: the load balancer's addresses; repeatable.") {
            value, config throws(ConfigError) in
            config.trustedProxies = try list(value).map { text throws(ConfigError) in
                guard let network = IPNetwork(text) else { throw ConfigError("\(text) is not a network: use CIDR, like 10.0.0.0/24, or an address") }
                return network
            }
        },
        spec("proxy-protocol-data", .boolean, "false",
             "Passive data connections from trusted-proxies start with a PROXY header too (the load balancer in front of the passive ports); the client it names must be the session's.") {
            value, config throws(ConfigError) in
            config.proxyProtocolData = try boolean(value)
        },
        spec("proxy-protocol-timeout", .integer, "5", "Seconds a connection from a trusted proxy has to send its PROXY header.") { value, config throws(ConfigError) in
            config.proxyProtocolTimeout = try integer(value, atLeast: 1, atMost: 3600)
        },
        spec("workers", .integer, nil, "Event loops (default: the cores this process may run on).", sample: "2") { value, config throws(ConfigError) in
            config.workers = try integer(value, atLeast: 1, atMost: 256)
        },
        spec("max-login-failures", .integer, "3", "Failed logins in one session before it is closed.") { value, config throws(ConfigError) in
            config.maxLoginFailures = try integer(value, atLeast: 1)
        },
        spec("max-failed-logins-per-ip", .integer, "10", "Failed logins from one address before it is banned for ban-time.") { value, config throws(ConfigError) in
            config.maxFailedLoginsPerIP = try integer(value, atLeast: 1)
        },
        spec("ban-time", .integer, "600", "Seconds an address stays banned after too many failed logins.") { value, config throws(ConfigError) in
            config.banSeconds = try integer(value, atLeast: 1, atMost: 366 * 86_400)
        },
        seconds("login-timeout", "60", "Seconds a new session has to log in.", \.loginTimeout),
        spec("download-rate", .string, nil, "Download cap per session, bytes per second (K, M, G suffixes).", sample: "10M") { value, config throws(ConfigError) in
            config.downloadRate = try rate(value)
        },
        spec("upload-rate", .string, nil, "Upload cap per session, bytes per second (K, M, G suffixes).", sample: "2M") { value, config throws(ConfigError) in
            config.uploadRate = try rate(value)
        },
        spec("atomic-uploads", .boolean, "false", "STOR over an existing file replaces it only when the upload is complete (readers never see it torn).") { value, config throws(ConfigError) in
            config.atomicUploads = try boolean(value)
        },
        spec("fsync-uploads", .boolean, "false", "Answer 226 only once the uploaded file and its folder are on stable storage (fsync): for shared homes on network file systems that acknowledge writes before they are durable.") { value, config throws(ConfigError) in
            config.fsyncUploads = try boolean(value)
        },
        spec("umask", .string, "\"022\"", "umask for files and folders clients create, octal (a user's own umask wins).") { value, config throws(ConfigError) in
            let text = try string(value)
            guard let mask = UInt32(text, radix: 8), mask <= 0o777 else { throw ConfigError("\(text): use octal, like 022") }
            config.umask = mask
        },
        seconds("idle-timeout", "300", "Seconds a control connection may stay silent.", \.idleTimeout),
        seconds("data-timeout", "30", "Seconds to wait for a data connection or a TLS handshake.", \.dataConnectionTimeout),
        seconds("transfer-timeout", "60", "Seconds a transfer may make no progress.", \.transferStallTimeout),
        seconds("shutdown-grace", "10", "Seconds SIGTERM waits for running transfers.", atLeast: 0, \.shutdownGrace),
        spec("tls-cert", .string, nil, "PEM certificate (chain): enables AUTH TLS.", sample: "\"/etc/ferry/cert.pem\"") { value, config throws(ConfigError) in
            config.tlsCertificate = try string(value)
        },
        spec("tls-key", .string, nil, "PEM private key for tls-cert.", sample: "\"/etc/ferry/key.pem\"") { value, config throws(ConfigError) in
            config.tlsKey = try string(value)
        },
        spec("implicit-tls-listen", .list, "[]", "Implicit FTPS listener, HOST:PORT (990 by convention); repeatable.") { value, config throws(ConfigError) in
            config.implicitTLSListen = try list(value).map { text throws(ConfigError) in try parseListen(text) }
        },
        spec("require-tls", .boolean, "false", "Refuse logins and data connections without TLS.") { value, config throws(ConfigError) in
            config.requireTLS = try boolean(value)
        },
        spec("tls-session-reuse", .string, "\"required\"", "required: TLS data connections must resume the control connection's session; optional: they may not.") { value, config throws(ConfigError) in
            config.tlsSessionReuseRequired = try choice(value, ["required", "optional"]) == "required"
        },
        spec("tls-close-notify", .string, "\"required\"", "required: a TLS upload that ends without the client's close_notify gets 426; optional: it is complete.") { value, config throws(ConfigError) in
            config.tlsCloseNotifyRequired = try choice(value, ["required", "optional"]) == "required"
        },
        spec("tls-min-version", .string, "\"1.2\"", "Lowest TLS version: 1.2 or 1.3.") { value, config throws(ConfigError) in
            config.tlsMinimumVersion = try choice(value, ["1.2", "1.3"])
        },
        spec("tls-ciphers", .string, nil, "OpenSSL cipher list (TLS 1.2) or ciphersuites (TLS 1.3).", sample: "\"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256\"") { value, config throws(ConfigError) in
            config.tlsCiphers = try string(value)
        },
        spec("tls-client-ca", .string, nil, "PEM CA certificate(s) that issue client certificates (for tls-client-auth).", sample: "\"/etc/ferry/client-ca.pem\"") { value, config throws(ConfigError) in
            config.tlsClientCA = try string(value)
        },
        spec("tls-client-auth", .string, "\"off\"", "Ask TLS clients for a certificate: off, optional (one that is sent must verify) or required.") { value, config throws(ConfigError) in
            config.tlsClientAuthentication = TLSContext.ClientAuthentication(rawValue: try choice(value, TLSContext.ClientAuthentication.allCases.map(\.rawValue))) ?? .off
        },
        spec("tls-kernel-offload", .string, "\"auto\"", "auto: TLS data connections hand encryption to the kernel (kTLS) where it has the tls module, so downloads go by sendfile; off: OpenSSL encrypts in user space.") { value, config throws(ConfigError) in
            config.tlsKernelOffload = try choice(value, ["auto", "off"]) == "auto"
        },
        spec("metrics-listen", .string, nil, "Serve Prometheus /metrics and /healthz at HOST:PORT.", sample: "\"127.0.0.1:9121\"") { value, config throws(ConfigError) in
            config.metricsListen = try parseListen(try string(value))
        },
        spec("xferlog", .string, nil, "Append a wu-ftpd/vsftpd-format xferlog line per transfer to this file (SIGUSR1 reopens it).", sample: "\"/var/log/ferry/xferlog\"") { value, config throws(ConfigError) in
            config.xferlogPath = try string(value)
        },
        spec("on-upload", .string, nil, "Run this program (no shell) after each upload, complete or not, with FERRY_* variables.",
             sample: "\"/usr/local/bin/ferry-hook\"") { value, config throws(ConfigError) in
            config.hooks[.upload] = try executable(value)
        },
        spec("on-download", .string, nil, "Run this program after each download, complete or not.", sample: "\"/usr/local/bin/ferry-hook\"") {
            value, config throws(ConfigError) in
            config.hooks[.download] = try executable(value)
        },
        spec("on-delete", .string, nil, "Run this program after each DELE.", sample: "\"/usr/local/bin/ferry-hook\"") { value, config throws(ConfigError) in
            config.hooks[.delete] = try executable(value)
        },
        spec("on-rename", .string, nil, "Run this program after each rename (RNFR/RNTO).", sample: "\"/usr/local/bin/ferry-hook\"") {
            value, config throws(ConfigError) in
            config.hooks[.rename] = try executable(value)
        },
        spec("on-login", .string, nil, "Run this program after each successful login.", sample: "\"/usr/local/bin/ferry-hook\"") {
            value, config throws(ConfigError) in
            config.hooks[.login] = try executable(value)
        },
        spec("event-url", .string, nil, "POST every event as JSON to this http:// URL (retried after 1, 2 and 4 s).",
             sample: "\"http://127.0.0.1:8080/ferry-events\"") { value, config throws(ConfigError) in
            let text = try string(value)
            guard let target = HTTPPoster.Target(text) else { throw ConfigError("\(text): use http://HOST[:PORT]/PATH") }
            config.eventURL = target
        },
        spec("hook-timeout", .integer, "30", "Seconds an event hook may run before it is killed.") { value, config throws(ConfigError) in
            config.hookTimeout = try integer(value, atLeast: 1, atMost: 3600)
        },
        spec("max-hooks", .integer, "8", "Event hooks running at once; an event past that is logged and dropped.") { value, config throws(ConfigError) in
            config.maxHooks = try integer(value, atLeast: 1, atMost: 1000)
        },
        spec("run-as", .string, nil, "Drop from root to this user once the ports are bound.", sample: "ferry") { value, config throws(ConfigError) in
            config.runAs = try string(value)
        },
        spec("log-format", .string, "\"text\"", "Server log on standard error: text or json (one object a line).") { value, config throws(ConfigError) in
            config.logFormat = try choice(value, ["text", "json"])
        },
        spec("log-level", .string, "\"info\"", "trace, debug, info, notice, warning, error or critical.") { value, config throws(ConfigError) in
            config.logLevel = try choice(value, ["trace", "debug", "info", "notice", "warning", "error", "critical"])
        },
    ]

    /// A duration in whole seconds, from `low` to a week, stored in `field`.
    private static func seconds(_ key: String, _ example: String, _ help: String, atLeast low: Int = 1,
                                _ field: WritableKeyPath<ServerConfiguration, Int> & Sendable) -> SettingSpec {
        spec(key, .integer, example, help) { value, config throws(ConfigError) in
            config[keyPath: field] = try integer(value, atLeast: low, atMost: maxSeconds)
        }
    }

    private static func spec(_ key: String, _ kind: SettingSpec.Kind, _ example: String?, _ help: String, sample: String? = nil,
                             apply: @escaping SettingSpec.Apply) -> SettingSpec {
        SettingSpec(key: key, kind: kind, example: example, sample: sample, help: help, apply: apply)
    }

    /// One setting and where it came from (`ferry.toml:3`, `--workers`, `FERRY_WORKERS`).
    public struct Source: Sendable {
        public let origin: String
        public let value: SettingValue
        public init(origin: String, value: SettingValue) {
            self.origin = origin
            self.value = value
        }
    }

    /// Read a config file: its settings and every error (syntax, unknown keys, wrong types, bad values).
    public static func load(file path: String) -> (settings: [String: Source], errors: [ConfigError]) {
        let text: String
        switch TextFile.read(path) {
        case .success(let contents): text = contents
        case .failure(.unreadable(let reason)): return ([:], [ConfigError("cannot read config file \(path): \(reason)")])
        case .failure(.notUTF8): return ([:], [ConfigError("config file \(path) is not valid UTF-8")])
        }
        let (entries, parseErrors) = ConfigFile.parse(text, source: path)
        var errors = parseErrors
        var settings: [String: Source] = [:]
        for entry in entries {
            guard specs.contains(where: { $0.key == entry.key }) else {
                errors.append(ConfigError("\(path):\(entry.line): unknown key \(entry.key) (`ferry config example` lists them all)"))
                continue
            }
            settings[entry.key] = Source(origin: "\(path):\(entry.line): \(entry.key)", value: entry.value)
        }
        return (settings, errors)
    }

    /// The `FERRY_*` variables that name a setting (lists are comma-separated).
    public static func fromEnvironment(_ environment: [String: String]) -> [String: Source] {
        var settings: [String: Source] = [:]
        for spec in specs {
            guard let text = environment[spec.environmentName] else { continue }
            let value: SettingValue
            switch spec.kind {
            case .list: value = .list(text.split(separator: ",").map { String($0).trimmingSpaces })
            case .integer: value = Int(text).map(SettingValue.integer) ?? .string(text)
            case .boolean: value = ["1", "true", "yes", "on"].contains(text.lowercased()) ? .boolean(true)
                : (["0", "false", "no", "off"].contains(text.lowercased()) ? .boolean(false) : .string(text))
            case .string: value = .string(text)
            }
            settings[spec.key] = Source(origin: spec.environmentName, value: value)
        }
        return settings
    }

    /// Layer the sources (later ones win: file, then flags, then environment), validate every
    /// setting, and build the configuration, or return every error.
    public static func build(_ layers: [[String: Source]]) throws(ConfigErrors) -> ServerConfiguration {
        var merged: [String: Source] = [:]
        for layer in layers { merged.merge(layer) { $1 } }
        var config = ServerConfiguration()
        // One loop per core the process may use: under taskset or a container's cpuset, more loops
        // than cores only take turns on them.
        config.workers = Int(ferry_usable_cpus())
        var errors: [ConfigError] = []
        for spec in specs {
            guard let source = merged[spec.key] else { continue }
            do {
                try spec.apply(source.value, &config)
            } catch {
                errors.append(ConfigError("\(source.origin): \(error.description)"))
            }
        }
        if merged["anonymous"] == nil { config.anonymous = config.usersFile == nil }
        guard errors.isEmpty else { throw ConfigErrors(errors: errors) }
        return config
    }

    /// A commented file with every key at its default; `ferry config check` accepts it.
    public static var example: String {
        var out = "# Ferry configuration (TOML). Every key is also a `ferry serve --KEY` flag and a FERRY_KEY\n"
            + "# environment variable; flags override this file and the environment overrides both.\n"
        for spec in specs {
            out += "\n# \(spec.help)\n"
            out += spec.example.map { "\(spec.key) = \($0)\n" } ?? "# \(spec.key) = \(spec.sample ?? "\"\"")\n"
        }
        return out
    }
}
