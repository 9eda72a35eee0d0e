import ArgumentParser
import FTPCore
import FerryReactor
import FerryServer
@preconcurrency import Glibc
import Logging

/// `ferry serve`: parse the command-line contract into a `ServerConfiguration` and run.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve files over FTP.")

    @Option(help: "Folder served to anonymous users.")
    var root: String = "."
    @Option(help: "Address to listen on, HOST:PORT or [IPv6]:PORT; repeatable.")
    var listen: [String] = []
    @Flag(help: "Allow anonymous read-only login (users anonymous and ftp) alongside --users.")
    var anonymous = false
    @Option(help: "Users file (see `ferry user`). Without it, anonymous read-only access is on.")
    var users: String?
    @Option(name: .customLong("max-sessions"), help: "Sessions in total (421 when full).")
    var maxSessions: Int?
    @Option(name: .customLong("max-sessions-per-ip"), help: "Sessions from one client address (421 when full).")
    var maxSessionsPerIP: Int = 64
    @Option(name: .customLong("passive-ports"), help: "Passive data port range, LO-HI.")
    var passivePorts: String?
    @Option(name: .customLong("passive-address"), help: "IPv4 address announced in PASV replies (NAT, load balancer).")
    var passiveAddress: String?
    @Option(help: "Event loops (default: number of cores).")
    var workers: Int?
    @Option(name: .customLong("max-login-failures"), help: "Failed logins in one session before it is closed.")
    var maxLoginFailures: Int = 3
    @Option(name: .customLong("idle-timeout"), help: "Seconds a control connection may stay silent.")
    var idleTimeout: Int = 300
    @Option(name: .customLong("data-timeout"), help: "Seconds to wait for a data connection.")
    var dataTimeout: Int = 30
    @Option(name: .customLong("transfer-timeout"), help: "Seconds a transfer may make no progress.")
    var transferTimeout: Int = 60
    @Option(name: .customLong("shutdown-grace"), help: "Seconds SIGTERM waits for running transfers.")
    var shutdownGrace: Int = 10
    @Option(name: .customLong("tls-cert"), help: "PEM certificate (chain) file: enables AUTH TLS.")
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key file for --tls-cert.")
    var tlsKey: String?
    @Option(name: .customLong("implicit-tls-listen"), help: "Also serve implicit FTPS at HOST:PORT (990 by convention); repeatable.")
    var implicitTLSListen: [String] = []
    @Flag(name: .customLong("require-tls"), help: "Refuse logins and data connections without TLS.")
    var requireTLS = false
    @Option(name: .customLong("tls-session-reuse"), help: "required: TLS data connections must resume the control connection's session; optional: they may not.")
    var tlsSessionReuse: String = "required"
    @Option(name: .customLong("tls-min-version"), help: "Lowest TLS version accepted: 1.2 or 1.3.")
    var tlsMinVersion: String = "1.2"
    @Option(name: .customLong("tls-ciphers"), help: "OpenSSL cipher list (TLS 1.2) or ciphersuites (TLS 1.3) to allow.")
    var tlsCiphers: String?
    @Option(name: .customLong("metrics-listen"), help: "Serve Prometheus /metrics and /healthz at HOST:PORT.")
    var metricsListen: String?
    @Option(help: "Append a wu-ftpd/vsftpd-format xferlog line per transfer to FILE (SIGUSR1 reopens it).")
    var xferlog: String?
    @Option(name: .customLong("log-format"), help: "Server log on standard error: text or json (one object a line).")
    var logFormat: String = "text"
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        for (name, value) in [("--idle-timeout", idleTimeout), ("--data-timeout", dataTimeout),
                              ("--transfer-timeout", transferTimeout), ("--max-sessions-per-ip", maxSessionsPerIP),
                              ("--max-login-failures", maxLoginFailures)] where value < 1 {
            throw ValidationError("\(name) must be at least 1")
        }
        if let maxSessions, maxSessions < 1 { throw ValidationError("--max-sessions must be at least 1") }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers must be between 1 and 256") }
        if shutdownGrace < 0 { throw ValidationError("--shutdown-grace cannot be negative") }
        guard tlsSessionReuse == "required" || tlsSessionReuse == "optional" else {
            throw ValidationError("--tls-session-reuse must be required or optional")
        }
        guard tlsMinVersion == "1.2" || tlsMinVersion == "1.3" else { throw ValidationError("--tls-min-version must be 1.2 or 1.3") }
        guard logFormat == "text" || logFormat == "json" else { throw ValidationError("--log-format must be text or json") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() throws {
        var config = ServerConfiguration()
        config.root = absolute(root)
        if !listen.isEmpty { config.listen = try listen.map(parseListen) }
        config.usersFile = users
        config.anonymous = users == nil || anonymous
        config.maxSessions = maxSessions
        config.maxSessionsPerIP = maxSessionsPerIP
        config.passivePorts = try passivePorts.map(parsePortRange)
        if let passiveAddress {
            guard let address = IPAddress(passiveAddress), address.isIPv4 else {
                throw ValidationError("--passive-address \(passiveAddress) is not an IPv4 address (PASV can only announce IPv4)")
            }
            config.passiveAddress = address.description
        }
        config.workers = workers ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        config.maxLoginFailures = maxLoginFailures
        config.idleTimeout = idleTimeout
        config.dataConnectionTimeout = dataTimeout
        config.transferStallTimeout = transferTimeout
        config.shutdownGrace = shutdownGrace
        config.tlsCertificate = tlsCert
        config.tlsKey = tlsKey
        config.implicitTLSListen = try implicitTLSListen.map(parseListen)
        config.requireTLS = requireTLS
        config.tlsSessionReuseRequired = tlsSessionReuse == "required"
        config.tlsMinimumVersion = tlsMinVersion
        config.tlsCiphers = tlsCiphers
        config.metricsListen = try metricsListen.map(parseListen)
        config.xferlogPath = xferlog.map(absolute)

        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ferry")
        let server = try FerryServer(configuration: config, logger: logger)
        let who = users == nil ? "read-only to anonymous users" : (config.anonymous ? "to the users in \(users!) and anonymous users (read-only)" : "to the users in \(users!)")
        let urls = (config.listen.map { "ftp://\($0)/" } + config.implicitTLSListen.map { "ftps://\($0)/" }).joined(separator: " ")
        let security = tlsCert == nil ? "" : (requireTLS ? ", TLS required" : ", AUTH TLS offered")
        let banner = "Ferry serving \(config.root) \(who) at \(urls) (\(config.workers) workers, up to \(server.maxSessions) sessions\(security))"
        if json {
            logger.notice("\(banner)")
        } else {
            print(banner)
            fflush(stdout)
        }
        server.run()
    }

    private func absolute(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private func parseListen(_ text: String) throws -> SocketAddress {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ValidationError("--listen \(text): use [IPv6]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ValidationError("--listen \(text): use HOST:PORT") }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard let number = UInt16(port), number > 0 else { throw ValidationError("--listen \(text): port must be 1-65535") }
        guard let address = SocketAddress(host: String(host), port: number) else {
            throw ValidationError("--listen \(text): \(host) is not an IP address")
        }
        return address
    }

    private func parsePortRange(_ text: String) throws -> ClosedRange<UInt16> {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let low = UInt16(parts[0]), let high = UInt16(parts[1]), low >= 1024, low <= high else {
            throw ValidationError("--passive-ports \(text): use LO-HI with 1024 <= LO <= HI <= 65535")
        }
        return low...high
    }
}
