import FerryServer
import Foundation
import Testing

/// `ferry serve`'s flags are generated from `Settings.specs`, the one place a setting is declared:
/// this test renders Sources/ferry/ServeSettings.swift from the table and fails when the file
/// differs. `FERRY_REGENERATE=1 swift test --filter ServeSettingsTests` rewrites it.
@Suite struct ServeSettingsTests {
    @Test func theServeFlagsAreGeneratedFromTheSettingsTable() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/ferry/ServeSettings.swift")
        let expected = ServeSettingsTests.render(Settings.specs)
        if ProcessInfo.processInfo.environment["FERRY_REGENERATE"] == "1" {
            try expected.write(to: file, atomically: true, encoding: .utf8)
        }
        let actual = try String(contentsOf: file, encoding: .utf8)
        #expect(actual == expected, "Sources/ferry/ServeSettings.swift is stale: FERRY_REGENERATE=1 swift test --filter ServeSettingsTests")
    }

    /// What ServerConfiguration() starts with agrees with every default the table declares.
    @Test func theConfigurationsDefaultsAreTheTables() throws {
        var fromTable: [String: Settings.Source] = [:]
        for spec in Settings.specs {
            guard let example = spec.example else { continue }
            let (entries, errors) = ConfigFile.parse("\(spec.key) = \(example)", source: "default")
            #expect(errors.isEmpty)
            fromTable[spec.key] = Settings.Source(origin: "default", value: try #require(entries.first?.value))
        }
        var defaults = try Settings.build([])
        let declared = try Settings.build([fromTable])
        // The table's "." is resolved to an absolute path when applied.
        defaults.root = declared.root
        #expect("\(declared)" == "\(defaults)")
    }

    static func render(_ specs: [SettingSpec]) -> String {
        var out = """
        // Generated from Settings.specs (Sources/FerryServer/Settings.swift) by
        // `FERRY_REGENERATE=1 swift test --filter ServeSettingsTests`: edit the table, not this file.
        import ArgumentParser
        import FerryServer

        /// The settings of `Settings.specs` as `ferry serve` flags.
        struct ServeSettings: ParsableArguments {

        """
        for spec in specs {
            let help = quoted(withDefault(spec))
            let name = property(spec.key)
            switch spec.kind {
            case .boolean: out += "    @Flag(name: .customLong(\"\(spec.key)\"), help: \(help))\n    var \(name) = false\n"
            case .list: out += "    @Option(name: .customLong(\"\(spec.key)\"), help: \(help))\n    var \(name): [String] = []\n"
            case .integer: out += "    @Option(name: .customLong(\"\(spec.key)\"), help: \(help))\n    var \(name): Int?\n"
            case .string: out += "    @Option(name: .customLong(\"\(spec.key)\"), help: \(help))\n    var \(name): String?\n"
            }
        }
        out += """

            /// The flags that were given, as settings.
            var given: [String: Settings.Source] {
                var values: [String: SettingValue] = [:]

        """
        for spec in specs {
            let name = property(spec.key)
            let value: String
            switch spec.kind {
            case .boolean: value = "\(name) ? .boolean(true) : nil"
            case .list: value = "\(name).isEmpty ? nil : .list(\(name))"
            case .integer: value = "\(name).map(SettingValue.integer)"
            case .string: value = "\(name).map(SettingValue.string)"
            }
            out += "        values[\"\(spec.key)\"] = \(value)\n"
        }
        out += """
                return values.reduce(into: [:]) { $0[$1.key] = Settings.Source(origin: "--\\($1.key)", value: $1.value) }
            }
        }

        """
        return out
    }

    /// The help, ending `(default: 64).` for a setting with a default worth saying.
    private static func withDefault(_ spec: SettingSpec) -> String {
        guard let example = spec.example, example != "[]", example != "false" else { return spec.help }
        let shown = example.filter { !"\"[]".contains($0) }
        return (spec.help.hasSuffix(".") ? String(spec.help.dropLast()) : spec.help) + " (default: \(shown))."
    }

    /// `maxSessionsPerIp` for `max-sessions-per-ip`.
    private static func property(_ key: String) -> String {
        let words = key.split(separator: "-")
        return String(words[0]) + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
