#if canImport(Glibc)
import Glibc
#endif

/// Navigation and file management: CWD, MLST, SIZE, MDTM, MFMT, DELE, MKD, RMD, RNFR/RNTO, SITE.
extension Session {
    mutating func changeDirectory(_ argument: String) -> [SessionEffect] {
        if let missing = requireArgument(argument) { return missing }
        guard let fileSystem else { return [] }
        let path = resolve(argument)
        do {
            guard try fileSystem.info(path).kind == .directory else { return failure(path, .notDirectory) }
        } catch {
            return failure(path, error)
        }
        cwd = path
        return reply(.fileActionOK, "Directory changed to \(path).")
    }

    mutating func machineStatus(_ argument: String) -> [SessionEffect] {
        guard let fileSystem else { return [] }
        let path = resolve(argument)
        do {
            var info = try fileSystem.info(path)
            info.name = path.description
            let facts = ListingFormatter.facts(info, facts: machineFacts)
            return [.reply(Reply(.fileActionOK, lines: ["Listing \(path)", " \(facts) \(path)", "End"]))]
        } catch {
            return failure(path, error)
        }
    }

    mutating func size(_ argument: String) -> [SessionEffect] {
        if let missing = requireArgument(argument) { return missing }
        if ascii {
            return reply(.fileUnavailable, "SIZE is not allowed in ASCII mode (the size would depend on conversion); send TYPE I first.")
        }
        return withRegularFile(argument) { info in reply(.fileStatus, String(info.size)) }
    }

    mutating func modificationTime(_ argument: String) -> [SessionEffect] {
        if let missing = requireArgument(argument) { return missing }
        return withRegularFile(argument) { info in reply(.fileStatus, ListingFormatter.timestamp(info.modified)) }
    }

    private func withRegularFile(_ argument: String, _ body: (FileInfo) -> [SessionEffect]) -> [SessionEffect] {
        guard let fileSystem else { return [] }
        let path = resolve(argument)
        do {
            let info = try fileSystem.info(path)
            guard info.kind == .file else { return failure(path, .notRegularFile) }
            return body(info)
        } catch {
            return failure(path, error)
        }
    }

    mutating func setModificationTime(_ argument: String) -> [SessionEffect] {
        let parts = argument.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2, let seconds = ListingFormatter.parseTimestamp(parts[0]) else {
            return reply(.syntaxErrorInArguments, "Syntax: MFMT YYYYMMDDHHMMSS <path>.")
        }
        if let refused = requireWritable() { return refused }
        return mutate(parts[1]) { fileSystem, path in
            try fileSystem.setModificationTime(path, to: seconds)
            return Reply(.fileStatus, "Modify=\(parts[0]); \(path)")
        }
    }

    mutating func delete(_ argument: String) -> [SessionEffect] {
        mutate(argument, change: { .deleted($0) }) { fileSystem, path in
            try fileSystem.removeFile(path)
            return Reply(.fileActionOK, "\(path) deleted.")
        }
    }

    mutating func makeDirectory(_ argument: String) -> [SessionEffect] {
        mutate(argument) { fileSystem, path in
            try fileSystem.makeDirectory(path)
            return Reply(.pathCreated, "\(Reply.quoted(path.description)) created.")
        }
    }

    mutating func removeDirectory(_ argument: String) -> [SessionEffect] {
        mutate(argument) { fileSystem, path in
            try fileSystem.removeDirectory(path)
            return Reply(.fileActionOK, "\(path) removed.")
        }
    }

    mutating func renameFrom(_ argument: String) -> [SessionEffect] {
        if let missing = requireArgument(argument) { return missing }
        if let refused = requireWritable() { return refused }
        guard let fileSystem else { return [] }
        let path = resolve(argument)
        do {
            _ = try fileSystem.info(path)
        } catch {
            return failure(path, error)
        }
        renameSource = path
        return reply(.pendingFurtherInformation, "\(path) exists; send RNTO with the new name.")
    }

    mutating func renameTo(_ argument: String) -> [SessionEffect] {
        guard let source = renameSource else { return reply(.badSequence, "Send RNFR first.") }
        renameSource = nil
        return mutate(argument, change: { .renamed(from: source, to: $0) }) { fileSystem, path in
            try fileSystem.rename(source, to: path)
            return Reply(.fileActionOK, "Renamed \(source) to \(path).")
        }
    }

    mutating func site(_ argument: String) -> [SessionEffect] {
        let words = argument.split(separator: " ", maxSplits: 2).map(String.init)
        switch words.first?.uppercased() {
        case "HELP":
            return [.reply(Reply(.help, lines: ["SITE commands:", " CHMOD <octal mode> <path>", " HELP", "End"]))]
        case "CHMOD":
            guard words.count == 3, let mode = UInt32(words[1], radix: 8), mode <= 0o7777 else {
                return reply(.syntaxErrorInArguments, "Syntax: SITE CHMOD <octal mode> <path>.")
            }
            return mutate(words[2]) { fileSystem, path in
                try fileSystem.setPermissions(path, to: mode & 0o777)
                return Reply(.commandOK, "SITE CHMOD: mode of \(path) set to \(String(mode & 0o777, radix: 8)).")
            }
        case nil:
            return reply(.syntaxErrorInArguments, "SITE needs a subcommand: SITE HELP.")
        case let other?:
            return reply(.notImplementedForParameter, "SITE \(other) not implemented; see SITE HELP.")
        }
    }

    /// Shared shape of every change to the disk: argument required, account writable, errors as 550.
    /// Run a change to the file system; `change` names it for the event hooks when it succeeded.
    private func mutate(_ argument: String, change: ((VirtualPath) -> FileChange)? = nil,
                        _ body: (any FileSystem, VirtualPath) throws -> Reply) -> [SessionEffect] {
        if let missing = requireArgument(argument) { return missing }
        if let refused = requireWritable() { return refused }
        guard let fileSystem else { return [] }
        let path = resolve(argument)
        // The home itself is the operator's: no client command removes, renames, re-times or chmods it.
        if path.isRoot { return failure(path, .permissionDenied) }
        do {
            let reply = try body(fileSystem, path)
            return [.reply(reply)] + (change.map { [.fileChanged($0(path))] } ?? [])
        } catch let error as FileSystemError {
            return failure(path, error)
        } catch {
            return failure(path, FileSystemError(EIO))
        }
    }
}
