import FTPCore
import Testing

@Suite struct ListingTests {
    let now: Int64 = 1_764_052_440  // 2025-11-25 06:34 UTC
    let file = FileInfo(name: "a b.txt", kind: .file, size: 1234, modified: 1_764_052_440 - 3600, mode: 0o644, unique: "1g2")

    @Test func longFormIsWhatClientsParse() {
        #expect(ListingFormatter.longLine(file, now: now) == "-rw-r--r-- 1 ftp      ftp              1234 Nov 25 05:34 a b.txt")
        var old = file
        old.modified = 1_600_000_000
        #expect(ListingFormatter.longLine(old, now: now).contains("Sep 13  2020 a b.txt"))
    }

    @Test func machineFactsFollowRFC3659() {
        let facts = MachineFacts(writable: false)
        #expect(ListingFormatter.line(file, style: .machine(facts), now: now)
            == "type=file;size=1234;modify=20251125053400;perm=r;unix.mode=0644;unique=1g2; a b.txt\r\n")
        let dir = FileInfo(name: "d", kind: .directory, size: 4096, modified: 0, mode: 0o755, unique: "u")
        #expect(ListingFormatter.facts(dir, facts: MachineFacts(selected: ["type", "perm"], writable: true)) == "type=dir;perm=flcdmpe;")
    }

    @Test func timestampsRoundTrip() {
        #expect(ListingFormatter.timestamp(0) == "19700101000000")
        #expect(ListingFormatter.parseTimestamp("20251125053400") == 1_764_048_840)
        #expect(ListingFormatter.parseTimestamp("20251325053400") == nil)
        #expect(ListingFormatter.parseTimestamp("2025") == nil)
    }

    @Test func asciiConversionAcrossChunks() {
        var converter = AsciiConverter()
        var out: [UInt8] = []
        Array("a\nb\r".utf8).withUnsafeBytes { converter.toNetwork($0, into: &out) }
        Array("\nc\n".utf8).withUnsafeBytes { converter.toNetwork($0, into: &out) }
        #expect(String(decoding: out, as: UTF8.self) == "a\r\nb\r\nc\r\n")

        var back = AsciiConverter()
        var local: [UInt8] = []
        Array("x\r".utf8).withUnsafeBytes { back.toLocal($0, into: &local) }
        Array("\ny\rz\r".utf8).withUnsafeBytes { back.toLocal($0, into: &local) }
        back.finishLocal(into: &local)
        #expect(String(decoding: local, as: UTF8.self) == "x\ny\rz\r")
    }
}
