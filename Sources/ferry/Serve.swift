import ArgumentParser
import FTPCore
import FerryServer
@preconcurrency import Glibc
import Logging

/// `ferry serve`: gather settings from the config file, the flags and `FERRY_*` variables (in that
/// order of precedence, lowest first), build a `ServerConfiguration` and run.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve files over FTP.",
        discussion: "Every option is also a config-file key (--config) and a FERRY_* environment variable; flags override the file, the environment overrides both."
    )

    @Option(help: "TOML config file (see `ferry config example`).")
    var config: String?
    @Option(help: "Folder served to anonymous users (default: .).")
    var root: String?
    @Option(help: "Address to listen on, HOST:PORT or [IPv6]:PORT; repeatable (default: 127.0.0.1:2121).")
    var listen: [String] = []
    @Flag(help: "Allow anonymous read-only login (users anonymous and ftp) alongside --users.")
    var anonymous = false
    @Option(help: "Users file (see `ferry user`). Without it, anonymous read-only access is on.")
    var users: String?
    @Option(name: .customLong("max-sessions"), help: "Sessions in total, 421 when full (default: what the descriptor limit allows).")
    var maxSessions: Int?
    @Option(name: .customLong("max-sessions-per-ip"), help: "Sessions from one client address, 421 when full (default: 64).")
    var maxSessionsPerIP: Int?
    @Option(name: .customLong("passive-ports"), help: "Passive data port range, LO-HI.")
    var passivePorts: String?
    @Option(name: .customLong("passive-address"), help: "IPv4 address announced in PASV replies (NAT, load balancer).")
    var passiveAddress: String?
    @Option(help: "Event loops (default: number of cores).")
    var workers: Int?
    @Option(name: .customLong("max-login-failures"), help: "Failed logins in one session before it is closed (default: 3).")
    var maxLoginFailures: Int?
    @Option(name: .customLong("max-failed-logins-per-ip"), help: "Failed logins from one address before it is banned (default: 10).")
    var maxFailedLoginsPerIP: Int?
    @Option(name: .customLong("ban-time"), help: "Seconds an address stays banned after too many failed logins (default: 600).")
    var banTime: Int?
    @Option(name: .customLong("login-timeout"), help: "Seconds a new session has to log in (default: 60).")
    var loginTimeout: Int?
    @Option(name: .customLong("download-rate"), help: "Download cap per session, bytes per second (K, M, G suffixes).")
    var downloadRate: String?
    @Option(name: .customLong("upload-rate"), help: "Upload cap per session, bytes per second (K, M, G suffixes).")
    var uploadRate: String?
    @Flag(name: .customLong("atomic-uploads"), help: "STOR over an existing file replaces it only when the upload is complete (readers never see it torn).")
    var atomicUploads = false
    @Option(help: "umask for files and folders clients create, octal (default: 022; a user's own umask wins).")
    var umask: String?
    @Option(name: .customLong("idle-timeout"), help: "Seconds a control connection may stay silent (default: 300).")
    var idleTimeout: Int?
    @Option(name: .customLong("data-timeout"), help: "Seconds to wait for a data connection or TLS handshake (default: 30).")
    var dataTimeout: Int?
    @Option(name: .customLong("transfer-timeout"), help: "Seconds a transfer may make no progress (default: 60).")
    var transferTimeout: Int?
    @Option(name: .customLong("shutdown-grace"), help: "Seconds SIGTERM waits for running transfers (default: 10).")
    var shutdownGrace: Int?
    @Option(name: .customLong("tls-cert"), help: "PEM certificate (chain) file: enables AUTH TLS.")
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key file for --tls-cert.")
    var tlsKey: String?
    @Option(name: .customLong("implicit-tls-listen"), help: "Also serve implicit FTPS at HOST:PORT (990 by convention); repeatable.")
    var implicitTLSListen: [String] = []
    @Flag(name: .customLong("require-tls"), help: "Refuse logins and data connections without TLS.")
    var requireTLS = false
    @Option(name: .customLong("tls-session-reuse"), help: "required (default): TLS data connections must resume the control connection's session; optional: they may not.")
    var tlsSessionReuse: String?
    @Option(name: .customLong("tls-close-notify"), help: "required (default): a TLS upload that ends without the client's close_notify gets 426; optional: it is complete.")
    var tlsCloseNotify: String?
    @Option(name: .customLong("tls-min-version"), help: "Lowest TLS version accepted: 1.2 (default) or 1.3.")
    var tlsMinVersion: String?
    @Option(name: .customLong("tls-ciphers"), help: "OpenSSL cipher list (TLS 1.2) or ciphersuites (TLS 1.3) to allow.")
    var tlsCiphers: String?
    @Option(name: .customLong("metrics-listen"), help: "Serve Prometheus /metrics and /healthz at HOST:PORT.")
    var metricsListen: String?
    @Option(help: "Append a wu-ftpd/vsftpd-format xferlog line per transfer to FILE (SIGUSR1 reopens it).")
    var xferlog: String?
    @Option(name: .customLong("run-as"), help: "Drop from root to this user once the ports are bound.")
    var runAs: String?
    @Option(name: .customLong("log-format"), help: "Server log on standard error: text (default) or json (one object a line).")
    var logFormat: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info (default), notice, warning, error or critical.")
    var logLevel: String?

    /// The flags that were given, as settings.
    private var flagSettings: [String: Settings.Source] {
        var given: [String: SettingValue] = [:]
        func put(_ key: String, _ value: SettingValue?) { if let value { given[key] = value } }
        put("root", root.map(SettingValue.string))
        put("listen", listen.isEmpty ? nil : .list(listen))
        put("anonymous", anonymous ? .boolean(true) : nil)
        put("users", users.map(SettingValue.string))
        put("max-sessions", maxSessions.map(SettingValue.integer))
        put("max-sessions-per-ip", maxSessionsPerIP.map(SettingValue.integer))
        put("passive-ports", passivePorts.map(SettingValue.string))
        put("passive-address", passiveAddress.map(SettingValue.string))
        put("workers", workers.map(SettingValue.integer))
        put("max-login-failures", maxLoginFailures.map(SettingValue.integer))
        put("max-failed-logins-per-ip", maxFailedLoginsPerIP.map(SettingValue.integer))
        put("ban-time", banTime.map(SettingValue.integer))
        put("login-timeout", loginTimeout.map(SettingValue.integer))
        put("download-rate", downloadRate.map(SettingValue.string))
        put("upload-rate", uploadRate.map(SettingValue.string))
        put("umask", umask.map(SettingValue.string))
        put("atomic-uploads", atomicUploads ? .boolean(true) : nil)
        put("idle-timeout", idleTimeout.map(SettingValue.integer))
        put("data-timeout", dataTimeout.map(SettingValue.integer))
        put("transfer-timeout", transferTimeout.map(SettingValue.integer))
        put("shutdown-grace", shutdownGrace.map(SettingValue.integer))
        put("tls-cert", tlsCert.map(SettingValue.string))
        put("tls-key", tlsKey.map(SettingValue.string))
        put("implicit-tls-listen", implicitTLSListen.isEmpty ? nil : .list(implicitTLSListen))
        put("require-tls", requireTLS ? .boolean(true) : nil)
        put("tls-session-reuse", tlsSessionReuse.map(SettingValue.string))
        put("tls-close-notify", tlsCloseNotify.map(SettingValue.string))
        put("tls-min-version", tlsMinVersion.map(SettingValue.string))
        put("tls-ciphers", tlsCiphers.map(SettingValue.string))
        put("metrics-listen", metricsListen.map(SettingValue.string))
        put("xferlog", xferlog.map(SettingValue.string))
        put("run-as", runAs.map(SettingValue.string))
        put("log-format", logFormat.map(SettingValue.string))
        put("log-level", logLevel.map(SettingValue.string))
        return given.reduce(into: [:]) { $0[$1.key] = Settings.Source(origin: "--\($1.key)", value: $1.value) }
    }

    /// The configuration from the file (if any), then the flags, then the environment. SIGHUP runs
    /// this again: the file and the environment are read anew, the flags stay as given.
    private static func resolve(file: String?, flags: [String: Settings.Source]) throws -> ServerConfiguration {
        var layers: [[String: Settings.Source]] = []
        if let file {
            let (settings, errors) = Settings.load(file: file)
            if !errors.isEmpty { throw ConfigErrors(errors: errors) }
            layers.append(settings)
        }
        layers.append(flags)
        var environment: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") { environment[String(text[..<equals])] = String(text[text.index(after: equals)...]) }
            entry += 1
        }
        layers.append(Settings.fromEnvironment(environment))
        return try Settings.build(layers)
    }

    func run() throws {
        let file = config
        let flags = flagSettings
        let configuration = try Serve.resolve(file: file, flags: flags)

        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        let json = configuration.logFormat == "json"
        LoggingSystem.bootstrap { label in
            var handler = ServerLogHandler(label: label, format: json ? .json : .text)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ferry")
        let server: FerryServer
        do {
            server = try FerryServer(configuration: configuration, logger: logger) { try Serve.resolve(file: file, flags: flags) }
        } catch {
            // With a JSON log, the start-up error is a JSON line too.
            guard json else { throw error }
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        logBanner(configuration, server: server, logger: logger, json: json)
        server.run()
    }

    /// What is served, to whom, where: printed (text) or logged (json) once the listeners are up.
    private func logBanner(_ config: ServerConfiguration, server: FerryServer, logger: Logger, json: Bool) {
        let who: String
        if let users = config.usersFile {
            who = config.anonymous ? "to the users in \(users) and anonymous users (read-only)" : "to the users in \(users)"
        } else {
            who = "read-only to anonymous users"
        }
        let urls = (config.listen.map { "ftp://\($0)/" } + config.implicitTLSListen.map { "ftps://\($0)/" }).joined(separator: " ")
        let security = config.tlsCertificate == nil ? "" : (config.requireTLS ? ", TLS required" : ", AUTH TLS offered")
        let banner = "Ferry serving \(config.root) \(who) at \(urls) (\(config.workers) workers, up to \(server.maxSessions) sessions\(security))"
        if json {
            logger.notice("\(banner)")
        } else {
            print(banner)
            fflush(stdout)
        }
    }
}
