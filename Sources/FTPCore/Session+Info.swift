/// FEAT, OPTS, HELP, STAT and the transfer parameters TYPE/MODE/STRU.
extension Session {
    mutating func feat() -> [SessionEffect] {
        let features = (CommandCatalog.features(tls: policy.tlsAvailable) + [hashFeature]).sorted()
        return [.reply(Reply(.systemStatus, lines: ["Extensions supported:"] + features.map { " " + $0 } + ["End"]))]
    }

    mutating func opts(_ argument: String) -> [SessionEffect] {
        let words = argument.split(separator: " ", maxSplits: 1).map(String.init)
        guard let option = words.first?.uppercased() else {
            return reply(.syntaxErrorInArguments, "OPTS needs an option: OPTS UTF8 ON, OPTS MLST <facts> or OPTS HASH [<algorithm>].")
        }
        switch option {
        case "UTF8":
            let value = words.count > 1 ? words[1].uppercased() : ""
            if value == "ON" || value.isEmpty { return reply(.commandOK, "UTF8 mode is always on.") }
            return reply(.notImplementedForParameter, "UTF8 cannot be turned off: paths are always UTF-8.")
        case "MLST":
            let requested = (words.count > 1 ? words[1] : "").lowercased().split(separator: ";").map(String.init)
            let selected = MachineFacts.all.filter { requested.contains($0) }
            machineFacts.selected = selected
            return reply(.commandOK, "MLST OPTS " + selected.map { $0 + ";" }.joined())
        case "HASH":
            return optsHash(words.count > 1 ? words[1].trimmingSpaces : "")
        default:
            return reply(.syntaxErrorInArguments, "Unknown option \(option).")
        }
    }

    mutating func help(_ argument: String) -> [SessionEffect] {
        if argument.isEmpty {
            return [.reply(Reply(.help, lines: ["The following commands are recognized:"] + CommandCatalog.helpLines(tls: policy.tlsAvailable) + ["Help OK."]))]
        }
        guard let spec = CommandCatalog.spec(for: argument.uppercased(), tls: policy.tlsAvailable) else {
            return reply(.notImplemented, "Unknown command \(argument).")
        }
        return reply(.help, "Syntax: \(spec.syntax)")
    }

    mutating func stat(_ argument: String) -> [SessionEffect] {
        if argument.isEmpty {
            var lines = ["Ferry FTP server status:", "Connected from \(peer)"]
            if let account { lines.append("Logged in as \(account.name)\(account.readOnly ? " (read-only)" : "")") }
            lines.append("TYPE: \(ascii ? "ASCII" : "BINARY"); STRUcture: File; transfer MODE: Stream")
            if policy.tlsAvailable {
                lines.append("Control connection: \(tlsActive ? "TLS" : "plaintext"); data connections: \(dataProtected ? "TLS" : "plaintext")")
            }
            lines.append(transferRunning ? "A data transfer is in progress" : "No data connection")
            lines.append("End of status")
            return [.reply(Reply(.systemStatus, lines: lines))]
        }
        return startListing(resolve(stripListFlags(argument)), .status)
    }

    mutating func type(_ argument: String) -> [SessionEffect] {
        let words = argument.uppercased().split(separator: " ").map(String.init)
        switch words {
        case ["A"], ["A", "N"]:
            ascii = true
            // A REST offset counts binary bytes; it does not carry over into ASCII transfers.
            restartOffset = 0
            return reply(.commandOK, "Type set to A.")
        case ["I"], ["L", "8"]:
            ascii = false
            return reply(.commandOK, "Type set to I.")
        case ["E"], ["E", "N"], ["A", "T"], ["A", "C"]:
            return reply(.notImplementedForParameter, "Type \(argument) not supported; use A or I.")
        case let words where words.count == 2 && words[0] == "L":
            return reply(.notImplementedForParameter, "Type \(argument) not supported; use A or I.")
        default:
            return reply(.syntaxErrorInArguments, "Unrecognised TYPE \(argument).")
        }
    }

    /// MODE and STRU: one letter, one of which is supported.
    func single(_ argument: String, accepted: String, known: String, what: String) -> [SessionEffect] {
        let value = argument.uppercased()
        if value == accepted { return reply(.commandOK, "\(what) set to \(accepted).") }
        if value.count == 1 && known.contains(value) {
            return reply(.notImplementedForParameter, "\(what) \(value) not supported; use \(accepted).")
        }
        return reply(.syntaxErrorInArguments, "Unrecognised \(what.lowercased()) \(argument).")
    }
}
