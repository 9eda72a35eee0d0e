import ArgumentParser
@preconcurrency import Glibc

/// The `ferry` command: `serve` and `user`.
@main
struct Ferry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "A high-performance FTP server.",
        subcommands: [Serve.self, User.self, Cert.self, Config.self],
        defaultSubcommand: Serve.self
    )

    /// Errors are one line each (`ferry: error: ...`) that operators and scripts can read; help and
    /// version requests print as usual.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            // One line per problem (a config file can have several).
            for line in message(for: error).split(separator: "\n") { fputs("ferry: error: \(line)\n", stderr) }
            Glibc.exit(code.rawValue)
        }
    }
}
