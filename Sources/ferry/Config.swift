import ArgumentParser
import FerryServer

/// `ferry config check FILE` and `ferry config example`.
struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check or write a config file.", subcommands: [Check.self, Example.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a config file; report every error with its line.")
        @Argument(help: "The TOML file.") var file: String

        func run() throws {
            let (settings, errors) = Settings.load(file: file)
            var all = errors
            do {
                _ = try Settings.build([settings])
            } catch {
                all += error.errors
            }
            guard all.isEmpty else { throw ConfigErrors(errors: all) }
            print("\(file): ok (\(settings.count) settings)")
        }
    }

    struct Example: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a commented config file with every key and its default.")
        func run() { print(Settings.example, terminator: "") }
    }
}
