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
        _ = h.send("PASV")
        _ = h.session.passiveListenerReady(address: .v4(127, 0, 0, 1), port: 5000)
        _ = h.send("RETR a.txt")
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
