/// libFuzzer target: the Session state machine driven by a fuzzed control stream against the
/// in-memory file system, with the layer below answering every effect as the server would (the
/// outcome of logins and transfers chosen by the input). Checks the rules the server relies on:
/// lines are handled only while the session is not busy (ABOR aside), every reply is well formed,
/// and a closed session does nothing more.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSession(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let flags = bytes[0]
    var choices = FuzzChoices(bytes)
    let fs = InMemoryFileSystem()
    fs.addFile("/a.txt", "hello\n")
    fs.addDirectory("/docs")
    fs.addFile("/docs/b.txt", "b")
    let policy = SessionPolicy(anonymousAllowed: flags & 1 != 0, maxLoginFailures: 3, tlsAvailable: flags & 2 != 0,
                               requireTLS: flags & 4 != 0)
    var session = Session(policy: policy, peer: flags & 8 != 0 ? IPAddress("::1")! : .v4(127, 0, 0, 1),
                          controlIsIPv6: flags & 8 != 0, implicitTLS: flags & 16 != 0, clock: { 1_764_052_440 })
    var reader = ControlLineReader()
    check(session.greeting())
    for line in reader.feed(bytes[1...]) {
        if session.closed { break }
        if session.isBusy {
            // The server holds everything but ABOR during a transfer; answer what is pending first.
            if !(session.isTransferring && isAbort(line)) { settle(&session, fs: fs, &choices) }
        }
        var pending = session.handle(line)
        while !pending.isEmpty {
            check(pending)
            pending = respond(to: pending, &session, fs: fs, &choices)
        }
    }
    settle(&session, fs: fs, &choices)
    precondition(session.closed || !session.isBusy, "the session stayed busy with nothing pending")
    return 0
}

/// Bytes of the input read from its end, to pick outcomes.
struct FuzzChoices {
    private let bytes: [UInt8]
    private var index: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        index = bytes.count
    }

    mutating func next(_ range: Int) -> Int {
        index = index > 1 ? index - 1 : bytes.count - 1
        return Int(bytes[index]) % range
    }
}

private var outstandingTransfer = false

private func isAbort(_ line: ControlLineReader.Output) -> Bool {
    guard case .line(let bytes) = line, case .success(let command) = Command.parse(bytes) else { return false }
    return command.verb == "ABOR"
}

private func check(_ effects: [SessionEffect]) {
    for case .reply(let reply) in effects {
        let code = reply.code.rawValue
        precondition((100...599).contains(code), "reply code \(code)")
        let wire = Array(reply.encoded.utf8)
        precondition(wire.suffix(2) == [13, 10], "reply not CRLF-terminated")
        let lines = wire.split(separator: 10)
        precondition(lines.count == reply.lines.count, "a reply line broke in two: \(reply.encoded)")
        precondition(lines.last!.starts(with: Array("\(code) ".utf8)), "last line is not the final one")
    }
}

/// Answer the effects as the server would; returns the effects those answers produced.
private func respond(to effects: [SessionEffect], _ session: inout Session, fs: InMemoryFileSystem,
                     _ choices: inout FuzzChoices) -> [SessionEffect] {
    var produced: [SessionEffect] = []
    for effect in effects {
        switch effect {
        case .authenticate(let user, _, _):
            produced += choices.next(3) == 0 ? session.loginFailed()
                : session.loginSucceeded(Account(name: user, readOnly: choices.next(2) == 0), fileSystem: fs)
        case .authenticateCertificate(let user):
            produced += choices.next(2) == 0 ? session.passwordRequired()
                : session.loginSucceeded(Account(name: user, readOnly: choices.next(2) == 0), fileSystem: fs)
        case .authenticateAnonymous:
            produced += session.loginSucceeded(Account(name: "anonymous", readOnly: true, isAnonymous: true), fileSystem: fs)
        case .openPassiveListener:
            produced += choices.next(4) == 0 ? session.passiveListenerFailed("no port")
                : session.passiveListenerReady(address: .v4(127, 0, 0, 1), port: UInt16(1024 + choices.next(60000)))
        case .openDirectory(let path):
            produced += session.directoryOpened(Result { () throws(FileSystemError) -> any DirectoryListing in try fs.openDirectory(path) })
        case .sendStatusListing(let handle, _, _):
            while !handle.listing.next(2).isEmpty {}
            produced += session.statusListingSent()
        case .computeHash(let request):
            let start = request.start + UInt64(choices.next(3))
            let outcomes: [Result<HashResult, HashFailure>] = [.success(HashResult(hex: "00", start: start, end: start + UInt64(choices.next(9)))),
                                                              .failure(.busy), .failure(.changed), .failure(.file(.notFound))]
            produced += session.hashComputed(outcomes[choices.next(outcomes.count)])
        case .startTransfer:
            outstandingTransfer = true
        case .abortTransfer:
            if outstandingTransfer {
                outstandingTransfer = false
                produced += session.transferFinished(.aborted(bytes: UInt64(choices.next(1000))))
            }
        case .reply, .closePassiveListener, .upgradeToTLS, .close, .fileChanged:
            break
        }
    }
    return produced
}

/// Finish whatever the session waits for (a running transfer) with an outcome the input picks.
private func settle(_ session: inout Session, fs: InMemoryFileSystem, _ choices: inout FuzzChoices) {
    guard outstandingTransfer else { return }
    outstandingTransfer = false
    let bytes = UInt64(choices.next(100_000))
    let outcomes: [TransferOutcome] = [.completed(bytes: bytes), .aborted(bytes: bytes), .connectionLost(bytes: bytes, reason: "reset"),
                                       .fileError(FileSystemError(28), bytes: bytes), .dataConnectionFailed("timeout"),
                                       .dataConnectionInsecure("no resumption")]
    var pending = session.transferFinished(outcomes[choices.next(outcomes.count)])
    while !pending.isEmpty {
        check(pending)
        pending = respond(to: pending, &session, fs: fs, &choices)
    }
}
