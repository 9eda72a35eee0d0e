import FTPCore
import Testing

/// Drives a Session the way the server does, without sockets.
struct Harness {
    var session: Session
    let fs = InMemoryFileSystem()

    init(anonymous: Bool = false, ipv6: Bool = false) {
        session = Session(policy: SessionPolicy(anonymousAllowed: anonymous), peer: ipv6 ? IPAddress("::1")! : .v4(127, 0, 0, 1),
                          controlIsIPv6: ipv6, clock: { 1_764_052_440 })
        fs.addFile("/a.txt", "hello\n")
        fs.addDirectory("/docs")
        fs.addFile("/docs/b.txt", "b")
    }

    mutating func send(_ line: String) -> [SessionEffect] {
        session.handle(.line(Array(line.utf8)))
    }

    /// Open the directory a listing asked for, as the server does off its loop.
    mutating func openDirectory(_ effects: [SessionEffect]) -> [SessionEffect] {
        guard case .openDirectory(let path) = effects.last else { return effects }
        return session.directoryOpened(Result { () throws(FileSystemError) -> any DirectoryListing in try fs.openDirectory(path) })
    }

    /// The reply codes among the effects.
    mutating func codes(_ line: String) -> [Int] {
        send(line).compactMap { if case .reply(let r) = $0 { return r.code.rawValue } else { return nil } }
    }

    /// PASV answered by a listener below, then `command` (a transfer) sent.
    mutating func transfer(_ command: String) -> [SessionEffect] {
        _ = send("PASV")
        _ = session.passiveListenerReady(address: .v4(127, 0, 0, 1), port: 5000)
        return send(command)
    }

    mutating func login(readOnly: Bool = false) {
        _ = send("USER alice")
        _ = send("PASS secret")
        _ = session.loginSucceeded(Account(name: "alice", readOnly: readOnly), fileSystem: fs)
    }
}

extension [SessionEffect] {
    var replies: [Reply] { compactMap { if case .reply(let r) = $0 { return r } else { return nil } } }
    var text: String { replies.map(\.encoded).joined() }
}

@Suite struct SessionLoginTests {
    @Test func greetingAndLogin() {
        var h = Harness()
        #expect(h.session.greeting().text == "220 Ferry FTP server ready.\r\n")
        #expect(h.codes("USER alice") == [331])
        let effects = h.send("PASS secret")
        #expect(effects == [.authenticate(user: "alice", password: Password("secret"), certified: false)])
        #expect(h.session.isBusy)
        #expect(h.session.loginSucceeded(Account(name: "alice", readOnly: false), fileSystem: h.fs).replies.map(\.code) == [.loggedIn])
        #expect(!h.session.isBusy)
        #expect(h.codes("PWD") == [257])
    }

    @Test func passwordNeverPrints() {
        #expect("\(Password("hunter2"))" == "<redacted>")
        #expect(!"\(SessionEffect.authenticate(user: "u", password: Password("hunter2"), certified: false))".contains("hunter2"))
    }

    @Test func commandsBeforeLoginGet530ButUnknownGet502() {
        var h = Harness()
        #expect(h.codes("RETR a.txt") == [530])
        #expect(h.codes("LIST") == [530])
        #expect(h.codes("FOO") == [502])
        #expect(h.codes("SYST") == [215])
        #expect(h.codes("FEAT") == [211])
        #expect(h.codes("PASS x") == [503])
    }

    @Test func failuresThenClose() {
        var h = Harness()
        for attempt in 1...3 {
            _ = h.send("USER alice")
            _ = h.send("PASS wrong")
            let effects = h.session.loginFailed()
            if attempt < 3 {
                #expect(effects.replies.map(\.code) == [.notLoggedIn])
            } else {
                #expect(effects.replies.map(\.code) == [.serviceNotAvailable])
                #expect(effects.last == .close)
            }
        }
        #expect(SessionPolicy.failureDelayMilliseconds(attempt: 1) < 1000)
        #expect(SessionPolicy.failureDelayMilliseconds(attempt: 3) > SessionPolicy.failureDelayMilliseconds(attempt: 1))
    }

    @Test func anonymousOnlyWhenAllowed() {
        var h = Harness(anonymous: true)
        _ = h.send("USER anonymous")
        #expect(h.send("PASS me@example.org") == [.authenticateAnonymous])
        var closed = Harness(anonymous: false)
        _ = closed.send("USER anonymous")
        #expect(closed.send("PASS x") == [.authenticate(user: "anonymous", password: Password("x"), certified: false)])
    }

    @Test func quitCloses() {
        var h = Harness()
        let effects = h.send("QUIT")
        #expect(effects.replies.map(\.code) == [.closingControl])
        #expect(effects.last == .close)
    }
}

@Suite struct SessionCommandTests {
    @Test func navigation() {
        var h = Harness()
        h.login()
        #expect(h.codes("CWD docs") == [250])
        #expect(h.send("PWD").text == "257 \"/docs\" is the current directory.\r\n")
        #expect(h.codes("CDUP") == [250])
        #expect(h.send("CWD /../../docs/..").text.hasPrefix("250"))
        #expect(h.send("PWD").text.hasPrefix("257 \"/\""))
        #expect(h.send("CWD nope").text == "550 /nope: No such file or directory\r\n")
        #expect(h.send("CWD a.txt").text == "550 /a.txt: Not a directory\r\n")
    }

    @Test func typeModeStru() {
        var h = Harness()
        h.login()
        #expect(h.codes("TYPE A") == [200])
        #expect(h.codes("TYPE L 8") == [200])
        #expect(h.codes("TYPE E") == [504])
        #expect(h.codes("TYPE Z") == [501])
        #expect(h.codes("MODE S") == [200])
        #expect(h.codes("MODE B") == [504])
        #expect(h.codes("STRU F") == [200])
        #expect(h.codes("STRU R") == [504])
        #expect(h.codes("ALLO 100") == [202])
    }

    @Test func sizeAndTimes() {
        var h = Harness()
        h.login()
        #expect(h.send("SIZE a.txt").text == "213 6\r\n")
        #expect(h.send("SIZE docs").text.hasPrefix("550 /docs: Not a regular file"))
        #expect(h.send("MDTM a.txt").text == "213 20231114221320\r\n")
        #expect(h.codes("MFMT 20200101000000 a.txt") == [213])
        #expect(h.send("MDTM a.txt").text == "213 20200101000000\r\n")
        #expect(h.codes("MFMT 2020 a.txt") == [501])
        _ = h.send("TYPE A")
        #expect(h.codes("SIZE a.txt") == [550])
    }

    @Test func fileManagement() {
        var h = Harness()
        h.login()
        #expect(h.send("MKD new \"dir\"").text == "257 \"/new \"\"dir\"\"\" created.\r\n")
        #expect(h.codes("MKD docs") == [550])
        #expect(h.codes("RMD docs") == [550])
        #expect(h.codes("DELE docs/b.txt") == [250])
        #expect(h.codes("RMD docs") == [250])
        #expect(h.codes("RNTO x") == [503])
        #expect(h.codes("RNFR a.txt") == [350])
        #expect(h.codes("RNTO b.txt") == [250])
        #expect(h.fs.nodes[VirtualPath.root.resolving("/b.txt")] != nil)
        #expect(h.codes("RNFR b.txt") == [350])
        #expect(h.codes("NOOP") == [200])
        #expect(h.codes("RNTO c.txt") == [503])
        #expect(h.codes("SITE CHMOD 600 b.txt") == [200])
        #expect(h.codes("SITE CHMOD 9x b.txt") == [501])
        #expect(h.codes("SITE HELP") == [214])
        #expect(h.codes("SITE EXEC ls") == [504])
    }

    /// The home itself belongs to the operator: no command changes, moves or removes it.
    @Test func theHomeItselfCannotBeChanged() {
        var h = Harness()
        h.login()
        for command in ["SITE CHMOD 777 /", "SITE CHMOD 000 .", "MFMT 20200101000000 /", "RMD /", "DELE /", "RNFR a.txt", "RNTO /"] {
            let expected = command.hasPrefix("RNFR") ? 350 : 550
            #expect(h.codes(command) == [expected], "\(command)")
        }
        #expect(h.send("SITE CHMOD 777 /").text == "550 /: Permission denied\r\n")
    }

    @Test func restIsBoundedAndBinaryOnly() {
        var h = Harness()
        h.login()
        #expect(h.codes("REST 9223372036854775807") == [350])
        #expect(h.codes("REST 9223372036854775808") == [501])
        #expect(h.codes("REST 18446744073709551616") == [501])
        #expect(h.codes("REST -5") == [501])
        _ = h.send("TYPE A")
        #expect(h.codes("REST 5") == [504])
    }

    @Test func readOnlyRefusesChanges() {
        var h = Harness()
        h.login(readOnly: true)
        for line in ["STOR x", "APPE x", "STOU", "DELE a.txt", "MKD d", "RMD docs", "RNFR a.txt", "MFMT 20200101000000 a.txt", "SITE CHMOD 600 a.txt"] {
            #expect(h.codes(line) == [550], "\(line)")
        }
        #expect(h.fs.nodes[VirtualPath.root.resolving("/a.txt")] != nil)
    }

    @Test func badNamesGet553OrA501() {
        var h = Harness()
        h.login()
        #expect(h.session.handle(.line(Array("MKD ".utf8) + [0xFF, 0xFE])).replies.map(\.code) == [.fileNameNotAllowed])
        #expect(h.session.handle(.line(Array("CWD ".utf8) + [0xC3])).replies.map(\.code) == [.syntaxErrorInArguments])
        #expect(h.session.handle(.line(Array("DELE a".utf8) + [0] + Array("b".utf8))).replies.map(\.code) == [.syntaxErrorInArguments])
        #expect(h.session.handle(.tooLong).replies.map(\.code) == [.syntaxError])
    }

    @Test func helpFeatOpts() {
        var h = Harness()
        let feat = h.send("FEAT").text
        #expect(feat.hasPrefix("211-") && feat.contains(" MLST type*;size*;") && feat.contains(" UTF8\r\n") && feat.hasSuffix("211 End\r\n"))
        #expect(!feat.contains("AUTH"))
        let help = h.send("HELP").text
        #expect(help.contains("RETR") && !help.contains("AUTH"))
        #expect(h.codes("HELP RETR") == [214])
        #expect(h.codes("HELP XYZ") == [502])
        #expect(h.codes("OPTS UTF8 ON") == [200])
        #expect(h.codes("OPTS UTF8 OFF") == [504])
        #expect(h.send("OPTS MLST type;size;bogus;").text == "200 MLST OPTS type;size;\r\n")
    }

    @Test func statusOverControl() {
        var h = Harness()
        h.login()
        #expect(h.send("STAT").text.hasPrefix("211-"))
        let asked = h.send("STAT docs")
        #expect(asked == [.openDirectory(VirtualPath.root.resolving("/docs"))])
        #expect(h.session.isBusy)
        guard case .sendStatusListing(let handle, let opening, let closing) = h.openDirectory(asked).last else {
            Issue.record("no status listing")
            return
        }
        #expect(opening.encodedAsOpening == "213-Status of /docs:\r\n" && closing.encoded == "213 End of status\r\n")
        #expect(handle.listing.next(10).map(\.name) == ["b.txt"])
        #expect(h.session.isBusy)
        _ = h.session.statusListingSent()
        #expect(!h.session.isBusy)
        #expect(h.send("STAT a.txt").text.hasPrefix("213-Status of /a.txt:\r\n-rw"))
        #expect(h.codes("STAT nope") == [550])
        #expect(h.send("MLST a.txt").text.contains(" type=file;size=6;"))
        #expect(h.codes("MLST nope") == [550])
    }

    @Test func floodOfBadCommandsCloses() {
        var h = Harness()
        var last: [SessionEffect] = []
        for _ in 0..<50 { last = h.send("XYZZY") }
        #expect(last.replies.map(\.code) == [.serviceNotAvailable])
        #expect(h.session.closed)
    }
}

@Suite struct SessionTransferTests {
    @Test func passiveRetrieveCompletes() {
        var h = Harness()
        h.login()
        #expect(h.send("PASV") == [.openPassiveListener])
        #expect(h.session.isBusy)
        #expect(h.session.passiveListenerReady(address: .v4(127, 0, 0, 1), port: 50001).text == "227 Entering Passive Mode (127,0,0,1,195,81).\r\n")
        #expect(h.codes("REST 2") == [350])
        let effects = h.send("RETR a.txt")
        #expect(effects.replies.map(\.code) == [.fileStatusOK])
        guard case .startTransfer(let request) = effects.last, case .retrieve(_, let offset, let ascii) = request.kind else {
            Issue.record("no transfer")
            return
        }
        #expect(offset == 2 && !ascii && request.endpoint == .passive)
        #expect(h.session.isTransferring)
        #expect(h.session.transferFinished(.completed(bytes: 4)).text == "226 Transfer complete (4 bytes).\r\n")
        // No data connection: refused before the file is even opened.
        let opened = h.fs.nextDescriptor
        #expect(h.codes("RETR a.txt") == [425])
        #expect(h.fs.nextDescriptor == opened)
    }

    @Test func restPastEndIsRefused() {
        var h = Harness()
        h.login()
        _ = h.send("EPSV")
        _ = h.session.passiveListenerReady(address: .v4(127, 0, 0, 1), port: 6000)
        _ = h.send("REST 100")
        #expect(h.codes("RETR a.txt") == [554])
        #expect(h.fs.closed.count == 1)
    }

    @Test func extendedPassiveAndAll() {
        var h = Harness()
        h.login()
        _ = h.send("EPSV")
        #expect(h.session.passiveListenerReady(address: .v4(127, 0, 0, 1), port: 6446).text == "229 Entering Extended Passive Mode (|||6446|)\r\n")
        #expect(h.codes("EPSV 2") == [522])
        #expect(h.codes("EPSV ALL") == [200])
        #expect(h.codes("PASV") == [503])
        #expect(h.codes("PORT 127,0,0,1,4,1") == [503])
    }

    @Test func pasvOnIPv6IsRefused() {
        var h = Harness(ipv6: true)
        h.login()
        #expect(h.codes("PASV") == [425])
        #expect(h.send("EPSV 2") == [.openPassiveListener])
    }

    @Test func activeOnlyToThePeer() {
        var h = Harness()
        h.login()
        #expect(h.codes("PORT 127,0,0,1,4,1") == [200])
        #expect(h.send("PORT 10,0,0,9,4,1").text.hasPrefix("501 PORT refused"))
        #expect(h.codes("PORT 127,0,0,1,0,21") == [501])
        #expect(h.codes("EPRT |1|127.0.0.1|2000|") == [200])
        #expect(h.codes("EPRT |2|::2|2000|") == [501])
        #expect(h.codes("EPRT |7|x|1|") == [522])
        #expect(h.codes("PORT garbage") == [501])
        let effects = h.openDirectory(h.send("LIST"))
        guard case .startTransfer(let request) = effects.last else {
            Issue.record("no transfer")
            return
        }
        #expect(request.endpoint == .active(.v4(127, 0, 0, 1), 2000))
    }

    @Test func storeModes() {
        var h = Harness()
        h.login()
        _ = h.send("PORT 127,0,0,1,4,1")
        #expect(h.codes("STOR up.bin") == [150])
        _ = h.session.transferFinished(.completed(bytes: 0))
        _ = h.send("PORT 127,0,0,1,4,1")
        let unique = h.send("STOU a.txt")
        #expect(unique.text.contains("FILE: a.txt.1"))
        _ = h.session.transferFinished(.completed(bytes: 0))
        #expect(h.codes("STOR x") == [425])
        _ = h.send("PORT 127,0,0,1,4,1")
        #expect(h.codes("STOR missing/dir/x") == [550])
    }

    @Test func listingsAndErrors() {
        var h = Harness()
        h.login()
        _ = h.send("PASV")
        _ = h.session.passiveListenerReady(address: .v4(127, 0, 0, 1), port: 6000)
        #expect(h.codes("LIST nope") == [550])
        #expect(h.codes("MLSD a.txt") == [501])
        let effects = h.openDirectory(h.send("LIST -la docs"))
        guard case .startTransfer(let request) = effects.last, case .listing(.directory(let handle), .long) = request.kind else {
            Issue.record("no listing")
            return
        }
        #expect(handle.listing.next(10).map(\.name) == ["b.txt"])
    }

    /// A directory is opened off the loop: meanwhile the session is busy, and a failure to open it
    /// is a 550 before any 150.
    @Test func directoryListingsWaitForTheirDirectory() {
        var h = Harness()
        h.login()
        _ = h.send("PASV")
        _ = h.session.passiveListenerReady(address: .v4(127, 0, 0, 1), port: 6000)
        #expect(h.send("NLST docs") == [.openDirectory(VirtualPath.root.resolving("/docs"))])
        #expect(h.session.isBusy)
        #expect(h.session.directoryOpened(.failure(.permissionDenied)).text == "550 /docs: Permission denied\r\n")
        #expect(!h.session.isBusy)
        let effects = h.send("LIST a.txt")
        guard case .startTransfer(let request) = effects.last, case .listing(.entries(let entries), .long) = request.kind else {
            Issue.record("a file is listed at once")
            return
        }
        #expect(entries.map(\.name) == ["a.txt"])
    }

    @Test func abortDuringAndWithoutTransfer() {
        var h = Harness()
        h.login()
        #expect(h.codes("ABOR") == [226])
        _ = h.send("PASV")
        _ = h.session.passiveListenerReady(address: .v4(127, 0, 0, 1), port: 6000)
        #expect(h.send("ABOR") == [.closePassiveListener, .reply(Reply(.noTransferToAbort, "No transfer to abort; data connection closed."))])
        _ = h.send("PASV")
        _ = h.session.passiveListenerReady(address: .v4(127, 0, 0, 1), port: 6000)
        _ = h.send("RETR a.txt")
        #expect(h.send("ABOR") == [.abortTransfer])
        #expect(h.session.transferFinished(.aborted(bytes: 3)).replies.map(\.code) == [.connectionClosedTransferAborted, .transferComplete])
    }

    @Test func failuresMapToTheirCodes() {
        var h = Harness()
        h.login()
        func run(_ outcome: TransferOutcome) -> [ReplyCode] {
            _ = h.send("PORT 127,0,0,1,4,1")
            _ = h.send("STOR f")
            return h.session.transferFinished(outcome).replies.map(\.code)
        }
        #expect(run(.dataConnectionFailed("refused")) == [.cannotOpenDataConnection])
        #expect(run(.connectionLost(bytes: 1, reason: "reset")) == [.connectionClosedTransferAborted])
        #expect(run(.fileError(FileSystemError(28), bytes: 1)) == [.insufficientStorage])  // ENOSPC
        #expect(run(.fileError(FileSystemError(122), bytes: 1)) == [.exceededStorageAllocation])  // EDQUOT
        #expect(run(.fileError(FileSystemError(5), bytes: 1)) == [.actionAbortedLocalError])  // EIO
    }
}
