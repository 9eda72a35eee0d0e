import ArgumentParser

/// The `ferry` command: `serve` and `user`.
@main
struct Ferry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "A high-performance FTP server.",
        subcommands: [Serve.self, User.self],
        defaultSubcommand: Serve.self
    )
}
