import FerryServer
import Testing

@Suite struct ConfigFileTests {
    @Test func parsesTheTOMLFerryUses() {
        let text = """
        # comment
        root = "/srv/ftp"   # trailing comment
        listen = ["127.0.0.1:21", '[::1]:21']
        max-sessions = 1_000
        require-tls = true
        tls-ciphers = "A#B"
        """
        let (entries, errors) = ConfigFile.parse(text, source: "f.toml")
        #expect(errors.isEmpty)
        #expect(entries.map(\.key) == ["root", "listen", "max-sessions", "require-tls", "tls-ciphers"])
        #expect(entries[1].value == .list(["127.0.0.1:21", "[::1]:21"]))
        #expect(entries[2].value == .integer(1000) && entries[2].line == 4)
        #expect(entries[4].value == .string("A#B"))
    }

    @Test func multiLineArraysQuotedKeysAndUnicodeEscapes() {
        let text = """
        listen = [
            "127.0.0.1:21",   # the main one
            '[::1]:21',
        ]
        "max-sessions" = +1_000
        'log-level' = "info"
        root = "/srv/caf\\u00e9/\\U0001F4C1"
        workers = 0
        """
        let (entries, errors) = ConfigFile.parse(text, source: "f.toml")
        #expect(errors.isEmpty, "\(errors)")
        #expect(entries.map(\.key) == ["listen", "max-sessions", "log-level", "root", "workers"])
        #expect(entries.map(\.line) == [1, 5, 6, 7, 8])
        #expect(entries[0].value == .list(["127.0.0.1:21", "[::1]:21"]))
        #expect(entries[1].value == .integer(1000))
        #expect(entries[3].value == .string("/srv/café/📁"))
    }

    @Test(arguments: ["10_", "1__0", "_1", "010", "1_000_", "+", "1e3", "0x10", "１２"])
    func integersFollowTOML(text: String) {
        let errors = ConfigFile.parse("workers = \(text)", source: "f.toml").errors.map(\.description)
        #expect(errors.count == 1 && errors[0].hasPrefix("f.toml:1: workers:"), "\(text): \(errors)")
    }

    @Test func badEscapesAndUnclosedArraysSayWhere() {
        let text = """
        root = "\\uD800"
        listen = [
          "a",
        workers = 2
        tls-ciphers = "\\q"
        """
        let errors = ConfigFile.parse(text, source: "f.toml").errors.map(\.description)
        #expect(errors.count == 4, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("f.toml:1: root: \\u needs 4 hex digits") })
        #expect(errors.contains { $0.hasPrefix("f.toml:2: an array opened here is never closed") })
        #expect(errors.contains { $0.hasPrefix("f.toml:3: expected key = value") })
        #expect(!errors.contains { $0.hasPrefix("f.toml:4") }, "workers = 2 is read on its own")
        #expect(errors.contains { $0.hasPrefix("f.toml:5: tls-ciphers: unknown escape \\q") })
    }

    @Test func reportsEveryErrorWithItsLine() {
        let text = """
        root = /srv
        [users]
        workers = 2
        workers = 3
        listen = ["a",
        name = "unterminated
        """
        let errors = ConfigFile.parse(text, source: "f.toml").errors.map(\.description)
        #expect(errors.count == 5, "\(errors)")
        #expect(errors.first?.hasPrefix("f.toml:1: root:") == true)
        #expect(errors.contains { $0.hasPrefix("f.toml:2: tables") })
        #expect(errors.contains { $0.hasPrefix("f.toml:4: workers is already set on line 3") })
    }
}

@Suite struct SettingsTests {
    func source(_ value: SettingValue, _ origin: String = "test") -> Settings.Source { .init(origin: origin, value: value) }

    @Test func laterLayersWin() throws {
        let file = ["workers": source(.integer(1)), "idle-timeout": source(.integer(10))]
        let flags = ["workers": source(.integer(2))]
        let environment = Settings.fromEnvironment(["FERRY_IDLE_TIMEOUT": "20", "FERRY_REQUIRE_TLS": "yes", "HOME": "/root"])
        let config = try Settings.build([file, flags, environment])
        #expect(config.workers == 2 && config.idleTimeout == 20 && config.requireTLS)
    }

    @Test func anonymousFollowsTheUsersFileUnlessSet() throws {
        #expect(try Settings.build([[:]]).anonymous)
        #expect(!(try Settings.build([["users": source(.string("/x"))]]).anonymous))
        #expect(try Settings.build([["users": source(.string("/x")), "anonymous": source(.boolean(true))]]).anonymous)
    }

    @Test func badValuesNameTheirOrigin() {
        let layer = [
            "workers": source(.string("two"), "f.toml:3: workers"),
            "passive-ports": source(.string("9-1"), "--passive-ports"),
            "log-format": source(.string("xml"), "FERRY_LOG_FORMAT"),
            "listen": source(.list(["nowhere"]), "f.toml:1: listen"),
        ]
        do {
            _ = try Settings.build([layer])
            Issue.record("accepted bad settings")
        } catch {
            let lines = error.errors.map(\.description)
            #expect(lines.count == 4, "\(lines)")
            #expect(lines.contains("f.toml:3: workers: expected a whole number"))
            #expect(lines.contains { $0.hasPrefix("--passive-ports: 9-1") })
            #expect(lines.contains("FERRY_LOG_FORMAT: must be one of text, json"))
        }
    }

    /// Seconds are bounded where they are parsed, so turning them into milliseconds cannot overflow.
    @Test func timeoutsHaveAnUpperBound() throws {
        for key in ["idle-timeout", "login-timeout", "data-timeout", "transfer-timeout", "shutdown-grace", "ban-time"] {
            #expect(throws: ConfigErrors.self, "\(key)") { try Settings.build([[key: source(.integer(Int.max))]]) }
        }
        #expect(try Settings.build([["idle-timeout": source(.integer(7 * 86_400))]]).idleTimeout == 7 * 86_400)
        #expect(try Settings.build([["tls-close-notify": source(.string("optional"))]]).tlsCloseNotifyRequired == false)
        #expect(try Settings.build([[:]]).tlsCloseNotifyRequired)
    }

    /// Kernel TLS is on unless turned off; only its two words are accepted.
    @Test func kernelTLSOffloadIsAutoOrOff() throws {
        #expect(try Settings.build([[:]]).tlsKernelOffload)
        #expect(try Settings.build([["tls-kernel-offload": source(.string("off"))]]).tlsKernelOffload == false)
        #expect(throws: ConfigErrors.self) { try Settings.build([["tls-kernel-offload": source(.string("on"))]]) }
    }

    @Test func everySettingHasAnExampleLine() {
        let example = Settings.example
        for spec in Settings.specs {
            #expect(example.contains("\n\(spec.key) = ") || example.contains("\n# \(spec.key) = "), "\(spec.key)")
        }
    }
}
