/// RETR, STOR, APPE, STOU, REST, ABOR, LIST, NLST, MLSD and the end of a transfer (RFC 959 §4.1.3,
/// RFC 3659 §5 and §7).
extension Session {
    mutating func retrieve(_ argument: String) -> [SessionEffect] {
        if let missing = requireArgument(argument) { return missing }
        if let refusal = requireDataConnection() { return refusal }
        guard let fileSystem else { return [] }
        let path = resolve(argument)
        let offset = restartOffset
        restartOffset = 0
        let file: OpenedFile
        do {
            file = try fileSystem.openForReading(path)
        } catch {
            return failure(path, error)
        }
        if offset > file.size {
            file.descriptor.close()
            return reply(.requestedActionNotTaken, "REST offset \(offset) is past the end of \(path) (\(file.size) bytes).")
        }
        return begin(.retrieve(file, offset: offset, ascii: ascii), path: path, onRefusal: { file.descriptor.close() },
                     opening: "\(path) (\(file.size - offset) bytes)")
    }

    mutating func store(_ argument: String, append: Bool) -> [SessionEffect] {
        if let missing = requireArgument(argument) { return missing }
        if let refused = requireWritable() { return refused }
        let offset = restartOffset
        restartOffset = 0
        let mode: WriteMode = append ? .append : (offset > 0 ? .at(offset) : .truncate)
        return openAndStore(resolve(argument), mode: mode, opening: nil)
    }

    mutating func storeUnique(_ argument: String) -> [SessionEffect] {
        if let refused = requireWritable() { return refused }
        guard let fileSystem else { return [] }
        restartOffset = 0
        let base = argument.isEmpty ? "ferry.upload" : argument
        let first = resolve(base)
        if (try? fileSystem.info(first)) == nil {
            return openAndStore(first, mode: .exclusive, opening: "FILE: \(first.name)")
        }
        for n in 1...999 {
            let candidate = first.parent.appending("\(first.name).\(n)")
            if (try? fileSystem.info(candidate)) == nil {
                return openAndStore(candidate, mode: .exclusive, opening: "FILE: \(candidate.name)")
            }
        }
        return reply(.fileNameNotAllowed, "\(first): no unique name is free.")
    }

    private mutating func openAndStore(_ path: VirtualPath, mode: WriteMode, opening: String?) -> [SessionEffect] {
        guard let fileSystem else { return [] }
        if let refusal = requireDataConnection() { return refusal }
        let file: OpenedFile
        do {
            file = try fileSystem.openForWriting(path, mode: mode)
        } catch {
            return failure(path, error)
        }
        return begin(.store(file, ascii: ascii), path: path, onRefusal: { file.descriptor.close() },
                     opening: opening ?? "\(path)")
    }

    /// The offset becomes an `off_t` below, so it is bounded by `Int64.max` here: a larger one would
    /// trap at the conversion and take every session of the process with it.
    mutating func restart(_ argument: String) -> [SessionEffect] {
        guard let offset = UInt64(argument), offset <= UInt64(Int64.max) else {
            return reply(.syntaxErrorInArguments, "REST needs a byte offset from 0 to \(Int64.max).")
        }
        if ascii {
            return reply(.notImplementedForParameter, "REST is not supported in ASCII mode (offsets would count converted bytes); send TYPE I first.")
        }
        restartOffset = offset
        return reply(.pendingFurtherInformation, "Restarting at \(offset). Send STOR or RETR to initiate transfer.")
    }

    mutating func abort() -> [SessionEffect] {
        if transferRunning {
            abortRequested = true
            return [.abortTransfer]
        }
        if dataSetup != .none {
            dataSetup = .none
            return [.closePassiveListener, .reply(Reply(.noTransferToAbort, "No transfer to abort; data connection closed."))]
        }
        return reply(.transferComplete, "No transfer to abort.")
    }

    mutating func listing(_ argument: String, style: ListingStyle) -> [SessionEffect] {
        if let refusal = requireDataConnection() { return refusal }
        return startListing(resolve(stripListFlags(argument)), .transfer(style))
    }

    mutating func machineListing(_ argument: String) -> [SessionEffect] {
        if let refusal = requireDataConnection() { return refusal }
        return startListing(resolve(argument), .transfer(.machine(machineFacts)))
    }

    /// LIST, NLST, MLSD and STAT of a path: a file is listed at once; a directory is first opened
    /// off the loop (its walk can take long), and `directoryOpened` goes on from there.
    mutating func startListing(_ path: VirtualPath, _ purpose: ListingPurpose) -> [SessionEffect] {
        guard let fileSystem else { return [] }
        let info: FileInfo
        do {
            info = try fileSystem.info(path)
        } catch {
            return failure(path, error)
        }
        guard info.kind == .directory else {
            if case .transfer(.machine) = purpose {
                return reply(.syntaxErrorInArguments, "\(path): Not a directory (MLSD lists directories; use MLST).")
            }
            return list(.entries([info]), path: path, purpose)
        }
        pendingListing = (path, purpose)
        return [.openDirectory(path)]
    }

    /// The directory asked for with `openDirectory` is open (or could not be).
    public mutating func directoryOpened(_ result: Result<any DirectoryListing, FileSystemError>) -> [SessionEffect] {
        guard let (path, purpose) = pendingListing, !closed else { return [] }
        pendingListing = nil
        switch result {
        case .success(let listing): return list(.directory(ListingHandle(listing)), path: path, purpose)
        case .failure(let error): return failure(path, error)
        }
    }

    /// The STAT listing asked for with `sendStatusListing` has been sent.
    public mutating func statusListingSent() -> [SessionEffect] {
        statusListingRunning = false
        return []
    }

    private mutating func list(_ source: ListingSource, path: VirtualPath, _ purpose: ListingPurpose) -> [SessionEffect] {
        let opening = Reply(.fileStatus, "Status of \(path):")
        let closing = Reply(.fileStatus, "End of status")
        switch (purpose, source) {
        case (.transfer(let style), _):
            let what: String
            if case .machine = style { what = "MLSD listing for \(path)" } else { what = "directory listing for \(path)" }
            return begin(.listing(source, style), path: path, onRefusal: {}, opening: what)
        case (.status, .entries(let entries)):
            let lines = entries.map { ListingFormatter.longLine($0, now: clock()) }
            return [.reply(Reply(.fileStatus, lines: opening.lines + lines + closing.lines))]
        case (.status, .directory(let handle)):
            statusListingRunning = true
            return [.sendStatusListing(handle, opening: opening, closing: closing)]
        }
    }

    /// Common start of a transfer: take the endpoint, send 150, hand the request down.
    private mutating func begin(_ kind: TransferKind, path: VirtualPath, onRefusal: () -> Void, opening: String) -> [SessionEffect] {
        switch takeEndpoint() {
        case .failure(let refusal):
            onRefusal()
            return [.reply(refusal)]
        case .success(let endpoint):
            transferRunning = true
            abortRequested = false
            let mode = ascii ? "ASCII" : "BINARY"
            return [
                .reply(Reply(.fileStatusOK, "Opening \(mode) mode data connection for \(opening).")),
                .startTransfer(TransferRequest(kind: kind, endpoint: endpoint, path: path, protected: dataProtected)),
            ]
        }
    }

    /// The transfer below has ended; answer the transfer command (and a pending ABOR).
    public mutating func transferFinished(_ outcome: TransferOutcome) -> [SessionEffect] {
        guard transferRunning else { return [] }
        transferRunning = false
        let aborted = abortRequested
        abortRequested = false
        var replies: [Reply]
        switch outcome {
        case .completed(let bytes):
            replies = [Reply(.transferComplete, "Transfer complete (\(bytes) bytes).")]
            if aborted { replies.append(Reply(.transferComplete, "ABOR: the transfer had already completed.")) }
        case .aborted(let bytes):
            replies = [Reply(.connectionClosedTransferAborted, "Connection closed; transfer aborted after \(bytes) bytes."),
                       Reply(.transferComplete, "ABOR command successful.")]
        case .dataConnectionFailed(let reason):
            replies = [Reply(.cannotOpenDataConnection, "Cannot open data connection: \(reason).")]
            if aborted { replies.append(Reply(.transferComplete, "ABOR command successful.")) }
        case .connectionLost(let bytes, let reason):
            replies = [Reply(.connectionClosedTransferAborted, "Data connection lost after \(bytes) bytes: \(reason).")]
            if aborted { replies.append(Reply(.transferComplete, "ABOR command successful.")) }
        case .dataConnectionInsecure(let reason):
            replies = [Reply(.protocolNotSupported, reason)]
            if aborted { replies.append(Reply(.transferComplete, "ABOR command successful.")) }
        case .fileError(let error, let bytes):
            let code: ReplyCode = error.isOutOfSpace ? .insufficientStorage : (error.isOverQuota ? .exceededStorageAllocation : .actionAbortedLocalError)
            replies = [Reply(code, "Transfer failed after \(bytes) bytes: \(error).")]
            if aborted { replies.append(Reply(.transferComplete, "ABOR command successful.")) }
        }
        if quitAfterTransfer {
            closed = true
            return replies.map { .reply($0) } + [.close]
        }
        return replies.map { .reply($0) }
    }

    /// LIST/NLST take `ls` flags (`-a`, `-la`) that clients send; drop them, keep the path.
    func stripListFlags(_ argument: String) -> String {
        var words = argument.split(separator: " ", omittingEmptySubsequences: false)[...]
        while let first = words.first, first.hasPrefix("-"), first.count > 1 { words.removeFirst() }
        while let first = words.first, first.isEmpty, words.count > 1 { words.removeFirst() }
        return words.joined(separator: " ")
    }
}
