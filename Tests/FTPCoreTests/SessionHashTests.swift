import FTPCore
import Testing

@Suite struct SessionHashTests {
    private func request(_ effects: [SessionEffect]) -> HashRequest? {
        if case .computeHash(let request) = effects.last { return request }
        return nil
    }

    @Test func featStarsTheSelectedAlgorithmAndOptsHashChangesIt() {
        var h = Harness()
        h.login()
        #expect(h.send("FEAT").text.contains(" HASH SHA-1;SHA-256*;SHA-512;MD5;CRC32\r\n"))
        #expect(h.send("OPTS HASH").text == "200 SHA-256\r\n")
        #expect(h.send("OPTS HASH md5").text == "200 MD5\r\n")
        #expect(h.send("FEAT").text.contains(" HASH SHA-1;SHA-256;SHA-512;MD5*;CRC32\r\n"))
        #expect(h.codes("OPTS HASH CRC-37") == [504])
        #expect(h.send("OPTS HASH").text == "200 MD5\r\n", "a bad name leaves the selection")
        #expect(h.send("HELP HASH").text.hasPrefix("214 Syntax: HASH <path>"))
    }

    @Test func hashAsksBelowAndAnswers213WithTheRange() throws {
        var h = Harness()
        h.login()
        let effects = h.send("HASH a.txt")
        let asked = try #require(request(effects))
        #expect(asked.algorithm == .sha256 && asked.start == 0 && asked.end == nil && asked.path.description == "/a.txt")
        #expect(h.session.isBusy, "commands wait while the digest is computed")
        let answer = h.session.hashComputed(.success(HashResult(hex: "ab12", start: 0, end: 6)))
        #expect(answer.text == "213 SHA-256 0-5 ab12 /a.txt\r\n")
        #expect(!h.session.isBusy)
    }

    @Test func rangAppliesToTheNextHashOnly() throws {
        var h = Harness()
        h.login()
        #expect(h.codes("RANG 2 4") == [350])
        let ranged = try #require(request(h.send("HASH a.txt")))
        #expect(ranged.start == 2 && ranged.end == 5, "RANG's end is included")
        _ = h.session.hashComputed(.success(HashResult(hex: "00", start: 2, end: 5)))
        let whole = try #require(request(h.send("HASH a.txt")))
        #expect(whole.start == 0 && whole.end == nil)
        _ = h.session.hashComputed(.success(HashResult(hex: "00", start: 0, end: 6)))
        #expect(h.codes("RANG 1 0") == [350])
        #expect(h.codes("RANG 5 2") == [501])
        #expect(h.codes("RANG 0 9223372036854775807") == [501])
        #expect(h.codes("RANG x 2") == [501])
        #expect(h.codes("RANG 0 3") == [350])
        #expect(h.codes("RETR a.txt") == [504], "a transfer is not silently sent whole after RANG")
        #expect(h.codes("RETR a.txt") == [425], "the range was reset")
    }

    @Test func failuresGetTheirCodes() {
        var h = Harness()
        h.login()
        #expect(h.codes("HASH nothing.txt") == [550])
        #expect(h.codes("HASH docs") == [550])
        #expect(h.codes("HASH") == [501])
        _ = h.send("HASH a.txt")
        #expect(h.session.hashComputed(.failure(.busy)).replies.map(\.code.rawValue) == [450])
        _ = h.send("HASH a.txt")
        #expect(h.session.hashComputed(.failure(.changed)).replies.map(\.code.rawValue) == [451])
        #expect(h.codes("HASH a.txt").isEmpty)
        #expect(h.session.hashComputed(.failure(.file(.notFound))).replies.map(\.code.rawValue) == [550])
    }

    @Test func legacyCommandsTakeOptionalOffsetsAndQuotedPaths() throws {
        var h = Harness()
        h.login()
        let crc = try #require(request(h.send("XCRC a.txt")))
        #expect(crc.algorithm == .crc32 && crc.start == 0 && crc.end == nil)
        #expect(h.session.hashComputed(.success(HashResult(hex: "0a1b2c3d", start: 0, end: 6))).text == "250 0A1B2C3D\r\n")
        let md5 = try #require(request(h.send("XMD5 a.txt 1 4")))
        #expect(md5.algorithm == .md5 && md5.start == 1 && md5.end == 4)
        _ = h.session.hashComputed(.success(HashResult(hex: "00", start: 1, end: 4)))
        let sha = try #require(request(h.send("XSHA256 \"docs/b.txt\" 0")))
        #expect(sha.algorithm == .sha256 && sha.path.description == "/docs/b.txt" && sha.start == 0 && sha.end == nil)
        _ = h.session.hashComputed(.success(HashResult(hex: "00", start: 0, end: 1)))
        #expect(h.codes("XSHA1 a.txt 4 1") == [501])
        #expect(h.codes("XSHA512 \"a.txt\" x") == [501])
    }
}
