/// HASH, OPTS HASH and RANG (draft-bryan-ftpext-hash-02, draft-bryan-ftp-range-08), and the legacy
/// XCRC, XMD5, XSHA1, XSHA256 and XSHA512 of FileZilla and ProFTPD's mod_digest: the digest of a
/// file, or of a byte range of it, computed below, off the loop (`computeHash`, `hashComputed`).
extension Session {
    /// FEAT's line: every algorithm, the selected one starred.
    var hashFeature: String {
        "HASH " + HashAlgorithm.allCases.map { $0.rawValue + ($0 == hashAlgorithm ? "*" : "") }.joined(separator: ";")
    }

    mutating func optsHash(_ value: String) -> [SessionEffect] {
        if value.isEmpty { return reply(.commandOK, hashAlgorithm.rawValue) }
        guard let algorithm = HashAlgorithm(name: value) else {
            let known = HashAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")
            return reply(.notImplementedForParameter, "Unknown algorithm \(value), current selection not changed (known: \(known)).")
        }
        hashAlgorithm = algorithm
        return reply(.commandOK, algorithm.rawValue)
    }

    /// RANG <start> <end>: the bytes (end included) the next HASH digests; `RANG 1 0` resets. Only HASH
    /// takes a range here: a transfer after RANG is refused rather than sent whole.
    mutating func range(_ argument: String) -> [SessionEffect] {
        let parts = argument.split(separator: " ")
        guard parts.count == 2, let start = UInt64(parts[0]), let end = UInt64(parts[1]), end < UInt64(Int64.max) else {
            return reply(.syntaxErrorInArguments, "RANG needs a start and an end byte, 0 to \(Int64.max - 1).")
        }
        hashRange = nil
        if start == 1 && end == 0 { return reply(.pendingFurtherInformation, "Range reset: HASH digests whole files.") }
        guard start <= end else { return reply(.syntaxErrorInArguments, "RANG start is past its end; the range is reset.") }
        hashRange = (start, end)
        return reply(.pendingFurtherInformation, "Restarting at \(start). End byte range at \(end). Send HASH.")
    }

    mutating func hash(_ argument: String) -> [SessionEffect] {
        let range = hashRange
        hashRange = nil
        return digest(argument, algorithm: hashAlgorithm, start: range?.start ?? 0, end: range.map { $0.end + 1 }, legacy: false)
    }

    /// `XMD5 <path> [<start> [<end>]]` and the like, `end` not included; a path with spaces may be
    /// quoted, as FileZilla sends it.
    mutating func legacyDigest(_ verb: String, _ argument: String) -> [SessionEffect] {
        guard let algorithm = HashAlgorithm.legacy(verb) else { return [] }
        var path = argument
        var numbers: [UInt64] = []
        if argument.hasPrefix("\""), let close = argument.dropFirst().firstIndex(of: "\"") {
            path = String(argument[argument.index(after: argument.startIndex)..<close])
            let rest = argument[argument.index(after: close)...].split(separator: " ")
            for word in rest {
                guard let number = UInt64(word), number <= UInt64(Int64.max) else {
                    return reply(.syntaxErrorInArguments, "\(verb) <path> [<start> [<end>]]: \(word) is not a byte offset.")
                }
                numbers.append(number)
            }
        } else {
            var words = argument.split(separator: " ", omittingEmptySubsequences: false)
            while numbers.count < 2, words.count > 1, let last = words.last, let number = UInt64(last), number <= UInt64(Int64.max) {
                numbers.insert(number, at: 0)
                words.removeLast()
            }
            path = words.joined(separator: " ")
        }
        guard numbers.count <= 2 else { return reply(.syntaxErrorInArguments, "\(verb) <path> [<start> [<end>]].") }
        let start = numbers.first ?? 0
        let end = numbers.count == 2 ? numbers[1] : nil
        if let end, end < start { return reply(.syntaxErrorInArguments, "\(verb): the end \(end) is before the start \(start).") }
        return digest(path, algorithm: algorithm, start: start, end: end, legacy: true)
    }

    private mutating func digest(_ argument: String, algorithm: HashAlgorithm, start: UInt64, end: UInt64?, legacy: Bool) -> [SessionEffect] {
        if let missing = requireArgument(argument) { return missing }
        guard let fileSystem else { return [] }
        let path = resolve(argument)
        let file: OpenedFile
        do {
            file = try fileSystem.openForReading(path)
        } catch {
            return failure(path, error)
        }
        pendingHash = PendingHash(path: path, algorithm: algorithm, legacy: legacy)
        return [.computeHash(HashRequest(file: file, path: path, algorithm: algorithm, start: start, end: end))]
    }

    /// The digest asked for with `computeHash`, or why there is none.
    public mutating func hashComputed(_ result: Result<HashResult, HashFailure>) -> [SessionEffect] {
        guard let pending = pendingHash, !closed else { return [] }
        pendingHash = nil
        switch result {
        case .success(let digest) where pending.legacy:
            return reply(.fileActionOK, digest.hex.uppercased())
        case .success(let digest):
            let last = digest.end > digest.start ? digest.end - 1 : digest.start
            return reply(.fileStatus, "\(pending.algorithm.rawValue) \(digest.start)-\(last) \(digest.hex) \(pending.path)")
        case .failure(.busy):
            return reply(.fileActionNotTaken, "The server is computing other digests now: try again shortly.")
        case .failure(.changed):
            return reply(.actionAbortedLocalError, "\(pending.path) changed while its digest was computed: try again.")
        case .failure(.file(let error)):
            return failure(pending.path, error)
        }
    }
}

/// A HASH (or XMD5...) waiting for its digest.
struct PendingHash: Sendable {
    let path: VirtualPath
    let algorithm: HashAlgorithm
    let legacy: Bool
}
