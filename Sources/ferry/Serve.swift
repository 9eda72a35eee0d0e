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
    @OptionGroup(title: "Settings")
    var settings: ServeSettings

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
        let flags = settings.given
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
        if let location = config.usersFile {
            let users = PostgresUsers.isURL(location) ? PostgresUsers.redacted(location) : location
            who = config.anonymous ? "to the users in \(users) and anonymous users (read-only)" : "to the users in \(users)"
        } else {
            who = "read-only to anonymous users"
        }
        let urls = (config.listen.map { "ftp://\($0)/" } + config.implicitTLSListen.map { "ftps://\($0)/" }).joined(separator: " ")
        let security = config.tlsCertificate == nil ? "" : (config.requireTLS ? ", TLS required" : ", AUTH TLS offered") + tlsEncryption(config, server: server)
        let banner = "Ferry serving \(config.root) \(who) at \(urls) (\(config.workers) \(config.workers == 1 ? "worker" : "workers"), up to \(server.maxSessions) sessions\(security))"
        if json {
            logger.notice("\(banner)")
        } else {
            print(banner)
            fflush(stdout)
        }
    }

    /// Who encrypts TLS downloads, so an operator sees whether kTLS is in use and why not.
    private func tlsEncryption(_ config: ServerConfiguration, server: FerryServer) -> String {
        if server.tlsKernelOffload { return "; kernel TLS for data connections" }
        if !config.tlsKernelOffload { return "; kernel TLS off (--tls-kernel-offload off)" }
        return "; no kernel TLS here (the kernel has no tls module), OpenSSL encrypts"
    }
}
