import FTPCore
import Testing

@Suite struct ControlLineReaderTests {
    @Test func splitsCRLFAndBareLF() {
        var reader = ControlLineReader()
        let out = reader.feed(Array("USER a\r\nPASS b\nNO".utf8))
        #expect(out == [.line(Array("USER a".utf8)), .line(Array("PASS b".utf8))])
        #expect(reader.feed(Array("OP\r\n".utf8)) == [.line(Array("NOOP".utf8))])
    }

    @Test func stripsTelnetInterruptBeforeAbort() {
        var reader = ControlLineReader()
        // IAC IP IAC DM ABOR, as classic clients send it; IAC WILL x negotiation is dropped too.
        let bytes: [UInt8] = [0xFF, 0xF4, 0xFF, 0xF2] + Array("AB".utf8) + [0xFF, 0xFB, 0x01] + Array("OR\r\n".utf8)
        #expect(reader.feed(bytes) == [.line(Array("ABOR".utf8))])
    }

    /// Sloppy urgent-data ABOR: IP and DM without their IAC (or DM as 0xFF, which starts an IAC that
    /// swallows the next byte when it is a command). Before a verb they are noise; inside a line, and
    /// 0xF0-0xF4 that begin a UTF-8 name in an argument, they are kept.
    @Test func strayTelnetBytesBeforeAVerbAreNoise() {
        var reader = ControlLineReader()
        #expect(reader.feed([0xF4, 0xF2] + Array("ABOR\r\n".utf8)) == [.line(Array("ABOR".utf8))])
        #expect(reader.feed([0xF4, 0xFF, 0xF2] + Array("ABOR\r\n".utf8)) == [.line(Array("ABOR".utf8))])
        let name: [UInt8] = Array("STOR ".utf8) + [0xF0, 0x9F, 0x93, 0x81]
        #expect(reader.feed(name + [0x0A]) == [.line(name)])
    }

    @Test func doubledIACIsALiteralByte() {
        var reader = ControlLineReader()
        #expect(reader.feed([0x41, 0xFF, 0xFF, 0x0A]) == [.line([0x41, 0xFF])])
    }

    @Test func overlongLineIsReportedOnceAndDiscarded() {
        var reader = ControlLineReader(maximumLineLength: 16)
        var out = reader.feed([UInt8](repeating: 0x41, count: 40))
        out += reader.feed([UInt8](repeating: 0x41, count: 40) + Array("\r\nNOOP\r\n".utf8))
        #expect(out == [.tooLong, .line(Array("NOOP".utf8))])
        #expect(reader.pendingCount == 0)
    }
}

@Suite struct CommandTests {
    @Test func verbIsCaseInsensitiveAndArgumentKeepsSpaces() throws {
        let command = try Command.parse(Array("stor  a b ".utf8)).get()
        #expect(command.verb == "STOR")
        #expect(command.argument == " a b ")
    }

    @Test func rejectsBadVerbsAndNUL() {
        #expect(Command.parse([]) == .failure(.empty))
        for bad in ["HELLOXSHA1", "1ABC", "AB1C", "XSHA-1", "AB\u{e9}"] {
            #expect(Command.parse(Array(bad.utf8)) == .failure(.invalidVerb), "\(bad)")
        }
        #expect((try? Command.parse(Array("xsha256 a b".utf8)).get())?.verb == "XSHA256")
        #expect(Command.parse(Array("RETR a".utf8) + [0] + Array("b".utf8)) == .failure(.containsNUL(verb: "RETR")))
    }

    @Test func invalidUTF8ArgumentIsNil() throws {
        let command = try Command.parse(Array("MKD ".utf8) + [0xC3, 0x28]).get()
        #expect(command.argument == nil)
    }
}

@Suite struct ReplyTests {
    @Test func singleAndMultiLine() {
        #expect(Reply(.commandOK, "ok").encoded == "200 ok\r\n")
        #expect(Reply(.systemStatus, lines: ["a", "123 b", "End"]).encoded == "211-a\r\n 123 b\r\n211 End\r\n")
    }

    @Test func quotesPathsAndNeutralisesLineBreaks() {
        #expect(Reply.quoted("/a\"b") == "\"/a\"\"b\"")
        #expect(Reply(.fileUnavailable, "x\r\n230 y").encoded == "550 x  230 y\r\n")
    }
}

@Suite struct CodecTests {
    @Test func port() throws {
        let (address, port) = try DataAddressCodec.parsePort("127,0,0,1,4,1").get()
        #expect(address == .v4(127, 0, 0, 1))
        #expect(port == 1025)
        #expect((try? DataAddressCodec.parsePort("127,0,0,1,4").get()) == nil)
        #expect((try? DataAddressCodec.parsePort("127,0,0,256,4,1").get()) == nil)
        #expect(DataAddressCodec.formatPassive(.v4(10, 0, 0, 2), port: 50001) == "10,0,0,2,195,81")
    }

    @Test func extendedPort() throws {
        let (v4, p4) = try DataAddressCodec.parseExtendedPort("|1|127.0.0.1|6275|").get()
        #expect(v4 == .v4(127, 0, 0, 1) && p4 == 6275)
        let (v6, p6) = try DataAddressCodec.parseExtendedPort("!2!::1!5282!").get()
        #expect(v6 == IPAddress("::1") && p6 == 5282)
        #expect((try? DataAddressCodec.parseExtendedPort("|3|x|1|").get()) == nil)
        if case .failure(let failure) = DataAddressCodec.parseExtendedPort("|3|x|1|") { #expect(failure == .unsupportedProtocol) }
        if case .failure(let failure) = DataAddressCodec.parseExtendedPort("|1|::1|1|") { #expect(failure == .malformed) }
        #expect(DataAddressCodec.formatExtendedPassive(port: 6446) == "(|||6446|)")
    }

    @Test func mappedIPv6NormalisesToIPv4() {
        #expect(IPAddress("::ffff:127.0.0.1")?.normalised == .v4(127, 0, 0, 1))
        #expect(IPAddress("::1")?.description == "::1")
    }
}

@Suite struct VirtualPathTests {
    @Test func normalisesLexically() {
        let cwd = VirtualPath.root.resolving("/a/b")
        #expect(cwd.resolving("../c").description == "/a/c")
        #expect(cwd.resolving("/../../..").description == "/")
        #expect(cwd.resolving("./x//y/.").description == "/a/b/x/y")
        #expect(VirtualPath.root.relative == ".")
    }

    /// Found by fuzzing: a combining mark after `/` made one Character of both, so the slash stayed
    /// inside a component and resolving the result again gave another path.
    @Test func splitsAtSlashBytesNotCharacters() {
        let path = VirtualPath.root.resolving("a/\u{301}b/..\u{301}/c")
        #expect(path.components == ["a", "\u{301}b", "..\u{301}", "c"])
        #expect(!path.components.contains { $0.utf8.contains(UInt8(ascii: "/")) })
        #expect(VirtualPath.root.resolving(path.description) == path)
        #expect(VirtualPath.root.resolving("x/\u{301}/../y").description == "/x/y")
    }
}
