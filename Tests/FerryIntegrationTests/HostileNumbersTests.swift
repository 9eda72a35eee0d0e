import Foundation
import Testing

/// Numbers a client chooses (REST offsets, sparse files) can neither crash the server nor get past
/// a quota.
@Suite struct HostileNumbersTests {
    @Test func restOffsetsPastOffTAreRefusedAndTheServerLives() throws {
        let server = try FerryProcess(users: true)
        let result = try Tool.python(FtplibTests.prelude + #"""
f = connect(); f.sendcmd("TYPE I")
for offset in ["9223372036854775808", "18446744073709551615", "99999999999999999999999", "-1", "1e9"]:
    expect_error("501", f.sendcmd, "REST " + offset)
# A 501 leaves no offset behind: this STOR writes from 0.
f.storbinary("STOR after-bad-rest", io.BytesIO(b"abc"))
assert f.size("after-bad-rest") == 3
# The largest off_t is accepted by REST, but no file system takes a file that large.
f.sendcmd("REST 9223372036854775807")
r = expect_error("5", f.storbinary, "STOR huge", io.BytesIO(b"x"))
assert "File too large" in r, r
assert "Not a regular file" not in r, r
# REST in ASCII mode is refused; switching to ASCII drops an offset already given.
f.sendcmd("TYPE A")
expect_error("504", f.sendcmd, "REST 10")
f.sendcmd("TYPE I"); f.sendcmd("REST 2"); f.sendcmd("TYPE A"); f.sendcmd("TYPE I")
f.storbinary("STOR after-type", io.BytesIO(b"xyz"))
assert f.size("after-type") == 3
f.quit()
g = connect(); g.quit()
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect(kill(server.pid, 0) == 0, "the server died: \(server.log)")
    }

    /// A sparse file costs the blocks it takes, on upload and on delete alike: before, an upload
    /// charged the 1 byte written and DELE credited the 1 TiB apparent size.
    @Test func sparseFilesDoNotOpenAHoleInTheQuota() throws {
        let server = try FerryProcess(users: true, prepare: { scratch, _ in
            try Disk.makeUsers(scratch)
            try Disk.addUser(scratch, "q", password: "qpw", ["--quota", "5M"])
        })
        let result = try Tool.python(FtplibTests.prelude + #"""
f = connect("q", "qpw"); f.sendcmd("TYPE I")
f.storbinary("STOR one.bin", io.BytesIO(os.urandom(4_000_000)))
for i in range(3):
    f.sendcmd("REST 1099511627776")
    f.storbinary("STOR sparse.bin", io.BytesIO(b"s"))
    f.delete("sparse.bin")
expect_error("552", f.storbinary, "STOR two.bin", io.BytesIO(os.urandom(4_000_000)))
f.quit()
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        let home = server.scratch.appendingPathComponent("home-q")
        let stored = ((try? FileManager.default.contentsOfDirectory(atPath: home.path)) ?? []).reduce(0) { total, name in
            total + (((try? FileManager.default.attributesOfItem(atPath: home.appendingPathComponent(name).path))?[.size] as? Int) ?? 0)
        }
        #expect(stored <= 5 * 1024 * 1024, "\(stored) bytes stored under a 5 MiB quota")
    }
}
