import Foundation
import Testing

/// Bandwidth caps, per-user overrides (sessions, file size, umask) measured with real clients.
@Suite struct LimitsTests {
    @Test func sessionDownloadCapHoldsWithinTwentyPercent() throws {
        let server = try FerryProcess(["--download-rate", "2M"], users: true)
        let payload = Disk.pattern(6 << 20, seed: 21)
        try payload.write(to: server.home("alice").appendingPathComponent("capped.bin"))
        let download = try Tool.run("curl", ["-sS", "-u", "alice:secret", "-w", "%{time_total}", "-o", server.scratch.appendingPathComponent("got.bin").path,
                                             "\(server.url)/capped.bin"], timeout: 60)
        #expect(download.status == 0, "\(download.stderr)")
        #expect((try? Data(contentsOf: server.scratch.appendingPathComponent("got.bin"))) == payload)
        // 6 MiB at 2 MiB/s: 3 s, minus the first burst of a tenth of a second.
        let seconds = Double(download.stdout) ?? 0
        #expect(seconds > 2.9 * 0.8 && seconds < 3.0 * 1.2, "took \(seconds) s")
    }

    @Test func perUserCapsSessionsFileSizeAndUmask() throws {
        let server = try FerryProcess(users: true, prepare: { scratch, _ in
            try Disk.makeUsers(scratch)
            try Disk.addUser(scratch, "limited", password: "lim", ["--upload-rate", "1M", "--max-sessions", "1", "--max-file-size", "3M", "--umask", "077"])
        })
        let home = server.scratch.appendingPathComponent("home-limited")
        let listed = try Tool.run(FerryProcess.binary, ["user", "list", "--users", server.scratch.appendingPathComponent("users.txt").path])
        #expect(listed.stdout.contains("limited\trw\t\(home.path)\tupload-rate=1048576,max-sessions=1,max-file-size=3145728,umask=077"), "\(listed.stdout)")
        let result = try Tool.python(FtplibTests.prelude + #"""
f = connect("limited", "lim"); f.sendcmd("TYPE I")
# max-sessions=1: a second session of the same user is refused
g = ftplib.FTP(); g.connect(HOST, PORT, timeout=10)
expect_error("421", g.login, "limited", "lim")
# upload cap 1 MiB/s: 2 MiB take about 2 s
t = time.time(); f.storbinary("STOR two.bin", io.BytesIO(b"u" * (2 << 20))); took = time.time() - t
assert 2.0 * 0.8 < took < 2.0 * 1.2 + 0.5, took
# max-file-size=3M: the upload stops at 3 MiB with 552; what fit stays
f.mkd("folder")
expect_error("552", f.storbinary, "STOR big.bin", io.BytesIO(b"b" * (4 << 20)))
f.quit()
print("ok")
"""#, server: server, timeout: 60)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        let size = try FileManager.default.attributesOfItem(atPath: home.appendingPathComponent("big.bin").path)[.size] as? Int
        #expect(size == 3 << 20)
        // umask=077: private files and folders
        #expect((try FileManager.default.attributesOfItem(atPath: home.appendingPathComponent("two.bin").path)[.posixPermissions] as? Int) == 0o600)
        #expect((try FileManager.default.attributesOfItem(atPath: home.appendingPathComponent("folder").path)[.posixPermissions] as? Int) == 0o700)
    }
}

/// An upload the server stops (here at max-file-size) is answered 552 on the control connection,
/// and a client still sending gets to read it: up to 16 MiB more is read and dropped before the data
/// connection closes; beyond that the connection is reset, and the 552 still waits on the control.
@Suite struct RefusedUploadTests {
    @Test func theClientReadsTheReplyNotAReset() throws {
        let server = try FerryProcess(users: true, prepare: { scratch, _ in
            try Disk.makeUsers(scratch)
            try Disk.addUser(scratch, "small", password: "smallpw", ["--max-file-size", "1M"])
        })
        let result = try Tool.python(FtplibTests.prelude + #"""
f = connect("small", "smallpw"); f.sendcmd("TYPE I")
for _ in range(3):   # 11 MiB beyond the limit: more than the kernel buffers, so a close would reset
    r = expect_error("552", f.storbinary, "STOR over.bin", io.BytesIO(b"o" * (12 << 20)))
    assert f.size("over.bin") == 1 << 20, f.size("over.bin")
f.sendcmd("TYPE A")   # the buffered path (ASCII, as TLS): the limit counts bytes on the wire
expect_error("552", f.storlines, "STOR text.txt", io.BytesIO(b"a line of text\n" * (1 << 20)))
f.sendcmd("TYPE I")
assert 0 < f.size("text.txt") <= 1 << 20, f.size("text.txt")
try:
    f.storbinary("STOR huge.bin", io.BytesIO(b"h" * (48 << 20)))
    raise AssertionError("a 48 MiB upload over a 1 MiB limit was accepted")
except (ConnectionResetError, BrokenPipeError):
    pass
expect_error("552", f.getresp)
assert f.sendcmd("NOOP").startswith("200")
assert f.size("huge.bin") == 1 << 20
f.quit()
print("ok")
"""#, server: server, timeout: 60)
        #expect(result.status == 0 && result.stdout.contains("ok"), "\(result.stderr)\n\(server.log)")
        let home = server.scratch.appendingPathComponent("home-small")
        #expect((try? Data(contentsOf: home.appendingPathComponent("huge.bin")))?.count == 1 << 20)
    }
}

/// --atomic-uploads: readers never see a replacement half-written, failed ones leave the old file.
@Suite struct AtomicUploadTests {
    @Test func replacementsAppearWholeOrNotAtAll() throws {
        let server = try FerryProcess(["--atomic-uploads"], users: true)
        let home = server.home("alice")
        try Disk.write(home.appendingPathComponent("doc.txt"), "old content")
        let result = try Tool.python(FtplibTests.prelude + #"""
writer = connect(); writer.sendcmd("TYPE I")
reader = connect(); reader.sendcmd("TYPE I")
conn = writer.transfercmd("STOR doc.txt")
conn.sendall(b"N" * 500000)
time.sleep(0.3)
got = bytearray(); reader.retrbinary("RETR doc.txt", got.extend)
assert bytes(got) == b"old content", got[:20]          # mid-upload, readers see the old file
conn.sendall(b"N" * 500000); conn.close()
assert writer.voidresp().startswith("226")
got = bytearray(); reader.retrbinary("RETR doc.txt", got.extend)
assert bytes(got) == b"N" * 1000000                     # complete: the new file, whole
# a replacement cut short leaves the file as it was
conn = writer.transfercmd("STOR doc.txt"); conn.sendall(b"X" * 100000)
resp = writer.abort(); conn.close()
if resp.startswith("426"): writer.getresp()
got = bytearray(); reader.retrbinary("RETR doc.txt", got.extend)
assert bytes(got) == b"N" * 1000000, got[:20]
# new files are written in place (and so can be resumed)
conn = writer.transfercmd("STOR fresh.bin"); conn.sendall(b"f" * 1000); conn.close(); writer.voidresp()
assert writer.size("fresh.bin") == 1000
writer.quit(); reader.quit()
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: home.path).filter { $0.contains(".ferry-") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }
}

/// Per-user disk quota: measured at login, charged by uploads, credited by deletes.
@Suite struct QuotaTests {
    @Test func uploadsStopAtTheQuotaAndDeletesFreeSpace() throws {
        let server = try FerryProcess(users: true, prepare: { scratch, _ in
            let home = scratch.appendingPathComponent("home-q")
            try FileManager.default.createDirectory(at: home.appendingPathComponent("sub"), withIntermediateDirectories: true)
            try Data(count: 400_000).write(to: home.appendingPathComponent("sub/existing.bin"))
            try Disk.makeUsers(scratch)
            try Disk.addUser(scratch, "q", password: "qpw", ["--quota", "1000000"])
        })
        let result = try Tool.python(FtplibTests.prelude + #"""
f = connect("q", "qpw"); f.sendcmd("TYPE I")
f.storbinary("STOR a.bin", io.BytesIO(b"a" * 500000))          # 400 000 + 500 000 = 900 000: fits
r = expect_error("552", f.storbinary, "STOR b.bin", io.BytesIO(b"b" * 300000))
f.delete("sub/existing.bin")                                    # frees 400 000
f.storbinary("STOR c.bin", io.BytesIO(b"c" * 300000))           # 500 000 + 300 000 + what b.bin kept: fits
f.storbinary("STOR a.bin", io.BytesIO(b"a" * 100000))           # replacing a.bin frees its 500 000
f.storbinary("STOR d.bin", io.BytesIO(b"d" * 400000))
f.quit()
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        let home = server.scratch.appendingPathComponent("home-q")
        #expect((try? Data(contentsOf: home.appendingPathComponent("d.bin")))?.count == 400_000)
        #expect((try? Data(contentsOf: home.appendingPathComponent("a.bin")))?.count == 100_000)
    }
}
