import FTPCore
import Testing

@Suite struct PendingCommandsTests {
    private func verbs(_ pending: inout PendingCommands, _ session: Session) -> [String] {
        var out: [String] = []
        while let (_, verb) = pending.next(for: session), out.count < 100 { out.append(verb) }
        return out
    }

    @Test func linesWaitWhileTheSessionIsBusyAndAborOvertakesOnlyATransfer() {
        var h = Harness()
        h.login()
        var pending = PendingCommands()
        pending.feed(Array("PWD\r\nNOOP\r\nABOR\r\nfoo bar\r\n".utf8))
        _ = h.transfer("RETR a.txt")
        #expect(h.session.isTransferring)
        #expect(verbs(&pending, h.session) == ["ABOR"])
        _ = h.session.transferFinished(.completed(bytes: 6))
        #expect(verbs(&pending, h.session) == ["PWD", "NOOP", "FOO"])
        #expect(pending.isEmpty)
    }

    @Test func aLoginBeingCheckedHoldsEverythingEvenAbor() {
        var h = Harness()
        _ = h.send("USER alice")
        _ = h.send("PASS secret")
        #expect(h.session.isBusy && !h.session.isTransferring)
        var pending = PendingCommands()
        pending.feed(Array("ABOR\r\nPWD\r\n".utf8))
        #expect(pending.next(for: h.session) == nil)
        _ = h.session.loginFailed()
        #expect(verbs(&pending, h.session) == ["ABOR", "PWD"])
    }

    @Test func unparsableLinesKeepTheirPlaceWithAQuestionMark() {
        let h = Harness()
        var pending = PendingCommands()
        pending.feed([0xC3, 0x28, 0x0D, 0x0A] + Array(String(repeating: "x", count: 5000).utf8) + [0x0A] + Array("NOOP\r\n".utf8))
        #expect(verbs(&pending, h.session) == ["?", "?", "NOOP"])
    }

    @Test func fullAtCapacityAndDiscardDropsHalfLinesToo() {
        let h = Harness()
        var pending = PendingCommands()
        pending.feed(Array(String(repeating: "NOOP\r\n", count: PendingCommands.capacity - 1).utf8))
        #expect(!pending.isFull)
        pending.feed(Array("NOOP\r\nPW".utf8))
        #expect(pending.isFull)
        pending.discardAll()
        #expect(pending.isEmpty && !pending.isFull)
        pending.feed(Array("D\r\n".utf8))
        #expect(verbs(&pending, h.session) == ["D"])
        pending.feed(Array("NOOP\r\nPWD\r\n".utf8))
        pending.replaceAll(with: "QUIT")
        #expect(verbs(&pending, h.session) == ["QUIT"])
    }
}

@Suite struct QuitDuringTransferTests {
    /// RFC 959: the connection stays open for the transfer's result, then closes. The 221 comes at
    /// once so a client that waits for it before finishing its upload does not deadlock.
    @Test func quitDuringATransferAnswersAtOnceAndClosesAfterTheResult() throws {
        var h = Harness()
        h.login()
        _ = h.transfer("STOR up.bin")
        var pending = PendingCommands()
        pending.feed(Array("QUIT\r\nNOOP\r\n".utf8))
        let next = pending.next(for: h.session)
        let (quit, verb) = try #require(next)
        #expect(verb == "QUIT")
        let answer = h.session.handle(quit)
        #expect(answer.replies.map(\.code) == [.closingControl])
        #expect(!answer.contains(.close) && !answer.contains(.abortTransfer))
        #expect(h.send("NOOP").isEmpty, "nothing but ABOR is taken after QUIT")
        let end = h.session.transferFinished(.completed(bytes: 10))
        #expect(end.replies.map(\.code) == [.transferComplete])
        #expect(end.last == .close)
        #expect(h.session.closed)
    }

    @Test func aQuitBehindOtherLinesWaitsItsTurn() {
        var h = Harness()
        h.login()
        _ = h.transfer("RETR a.txt")
        var pending = PendingCommands()
        pending.feed(Array("NOOP\r\nQUIT\r\n".utf8))
        let next = pending.next(for: h.session)
        #expect(next == nil)
    }
}
