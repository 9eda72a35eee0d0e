import Foundation
import Testing

/// Python's ftplib against the real server: every command, checked against what is on disk.
@Suite struct FtplibTests {
    static let prelude = #"""
import ftplib, io, os, socket, sys, time
HOST, PORT, ROOT = os.environ["HOST"], int(os.environ["PORT"]), os.environ["ROOT"]
def connect(user="alice", password="secret"):
    ftp = ftplib.FTP()
    ftp.connect(HOST, PORT, timeout=30)
    ftp.login(user, password)
    return ftp
def read_all(conn):
    got = bytearray()
    while True:
        chunk = conn.recv(1 << 20)
        if not chunk:
            return bytes(got)
        got += chunk
def expect_error(code, fn, *args):
    try:
        fn(*args)
    except ftplib.all_errors as e:
        assert str(e).startswith(code), f"expected {code}, got {e}"
        return str(e)
    raise AssertionError(f"expected {code}, got success")

"""#

    @Test func everyCommandAsAReadWriteUser() throws {
        let server = try FerryProcess(users: true)
        let home = server.home("alice")
        let payload = Disk.pattern(300_000)
        try payload.write(to: server.scratch.appendingPathComponent("payload.bin"))
        let result = try Tool.python(FtplibTests.prelude + #"""
payload = open(os.path.join(os.path.dirname(ROOT), "payload.bin"), "rb").read()
ftp = connect()
expect_error("425", ftp.sendcmd, "RETR data.bin")
assert ftp.sendcmd("SYST") == "215 UNIX Type: L8"
assert ftp.sendcmd("NOOP").startswith("200")
feat = ftp.sendcmd("FEAT")
for f in ["MLST", "SIZE", "MDTM", "REST STREAM", "EPSV", "EPRT", "UTF8", "MFMT"]:
    assert f in feat, feat
assert "AUTH" not in feat
assert ftp.sendcmd("OPTS UTF8 ON").startswith("200")
assert ftp.sendcmd("HELP").startswith("214")
assert ftp.sendcmd("HELP STOR").startswith("214")
expect_error("502", ftp.sendcmd, "XYZZ")
expect_error("502", ftp.sendcmd, "SMNT /")
assert ftp.pwd() == "/"
ftp.sendcmd("TYPE I")
# upload, list, download
ftp.storbinary("STOR data.bin", io.BytesIO(payload))
assert ftp.size("data.bin") == len(payload)
got = bytearray(); ftp.retrbinary("RETR data.bin", got.extend)
assert bytes(got) == payload
# resume a download from an offset
got = bytearray(); ftp.retrbinary("RETR data.bin", got.extend, rest=123457)
assert bytes(got) == payload[123457:]
# resume an upload: send the first part, then REST + STOR the rest
ftp.storbinary("STOR part.bin", io.BytesIO(payload[:100000]))
ftp.storbinary("STOR part.bin", io.BytesIO(payload[100000:]), rest=100000)
# append
ftp.storbinary("STOR app.bin", io.BytesIO(b"abc"))
ftp.storbinary("APPE app.bin", io.BytesIO(b"def"))
# STOU picks a fresh name
resp = ftp.storbinary("STOU", io.BytesIO(b"unique"))
# directories
assert ftp.mkd("sub dir") == "/sub dir"
ftp.cwd("sub dir"); assert ftp.pwd() == "/sub dir"
ftp.storbinary("STOR ünï €.txt", io.BytesIO(b"utf8"))
ftp.cwd("..")
ftp.sendcmd("CDUP"); assert ftp.pwd() == "/"
ftp.sendcmd("XCWD /sub dir"); assert ftp.sendcmd("XPWD").startswith('257 "/sub dir"')
ftp.sendcmd("XCUP")
assert sorted(ftp.nlst()) == sorted(["app.bin", "data.bin", "part.bin", "sub dir"] + [n for n in ftp.nlst() if n.startswith("ferry.upload")])
assert "ünï €.txt" in ftp.nlst("sub dir")
lines = []; ftp.retrlines("LIST -la", lines.append)
assert any(l.startswith("d") and l.endswith(" sub dir") for l in lines), lines
lines = []; ftp.retrlines("LIST data.bin", lines.append)
assert len(lines) == 1 and lines[0].endswith(" data.bin") and f" {len(payload)} " in lines[0], lines
facts = dict(ftp.mlsd("/"))
assert facts["data.bin"]["type"] == "file" and int(facts["data.bin"]["size"]) == len(payload), facts
assert facts["sub dir"]["type"] == "dir"
assert "unix.mode" in facts["data.bin"] and "unique" in facts["data.bin"] and "perm" in facts["data.bin"]
mlst = ftp.sendcmd("MLST data.bin")
assert mlst.startswith("250-") and "type=file;" in mlst and " /data.bin" in mlst, mlst
expect_error("550", ftp.sendcmd, "MLST missing.txt")
expect_error("550", lambda: ftp.retrlines("LIST missing", print))
expect_error("550", lambda: list(ftp.mlsd("missing")))
# times
assert ftp.sendcmd("MFMT 20200102030405 data.bin").startswith("213")
assert ftp.sendcmd("MDTM data.bin") == "213 20200102030405"
# SITE
assert ftp.sendcmd("SITE CHMOD 600 data.bin").startswith("200")
assert ftp.sendcmd("SITE HELP").startswith("214")
# STAT
assert ftp.sendcmd("STAT").startswith("211")
stat = ftp.sendcmd("STAT /")
assert stat.startswith("213-") and "data.bin" in stat
# rename and delete
ftp.rename("app.bin", "renamed.bin")
expect_error("550", ftp.rename, "nope", "x")
expect_error("503", ftp.sendcmd, "RNTO x")
ftp.delete("part.bin")
expect_error("550", ftp.delete, "part.bin")
expect_error("550", ftp.rmd, "sub dir")
ftp.delete("sub dir/ünï €.txt")
ftp.rmd("sub dir")
ftp.sendcmd("XMKD x"); ftp.sendcmd("XRMD x")
# parameters
assert ftp.sendcmd("MODE S").startswith("200") and ftp.sendcmd("STRU F").startswith("200")
expect_error("504", ftp.sendcmd, "MODE B")
assert ftp.sendcmd("ALLO 1000").startswith("202")
expect_error("501", ftp.sendcmd, "REST abc")
assert ftp.sendcmd("ABOR").startswith("22")
# ASCII mode converts line ends both ways
ftp.storlines("STOR text.txt", io.BytesIO(b"one\ntwo\n"))
got = []; ftp.retrlines("RETR text.txt", got.append)
assert got == ["one", "two"], got
ftp.sendcmd("TYPE A")
conn = ftp.transfercmd("RETR text.txt"); raw = b""
while True:
    chunk = conn.recv(65536)
    if not chunk: break
    raw += chunk
conn.close(); ftp.voidresp()
assert raw == b"one\r\ntwo\r\n", raw
ftp.sendcmd("TYPE I")
print("QUIT:", ftp.quit())
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect(result.stdout.contains("QUIT: 221"))
        // On disk: what the client was told.
        #expect((try? Data(contentsOf: home.appendingPathComponent("data.bin"))) == payload)
        #expect(Disk.read(home.appendingPathComponent("renamed.bin")) == "abcdef")
        #expect(Disk.read(home.appendingPathComponent("text.txt")) == "one\ntwo\n")
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("part.bin").path))
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("sub dir").path))
        let unique = try FileManager.default.contentsOfDirectory(atPath: home.path).filter { $0.hasPrefix("ferry.upload") }
        #expect(unique.count == 1)
        let attributes = try FileManager.default.attributesOfItem(atPath: home.appendingPathComponent("data.bin").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 == 1_577_934_245)
        #expect(!server.log.contains("secret"))
    }

    /// Many pipefuls through the splice path (STOR, then REST + STOR at an odd offset) and the
    /// buffered path appends take (APPE: splice refuses O_APPEND files), byte-exact in the file.
    @Test func resumedUploadIsByteExact() throws {
        let server = try FerryProcess(users: true)
        let payload = Disk.pattern(24 << 20 + 12_345, seed: 7)
        try payload.write(to: server.scratch.appendingPathComponent("payload.bin"))
        let result = try Tool.python(FtplibTests.prelude + #"""
payload = open(os.path.join(os.path.dirname(ROOT), "payload.bin"), "rb").read()
ftp = connect()
ftp.sendcmd("TYPE I")
ftp.storbinary("STOR r.bin", io.BytesIO(payload[:9777777]))
ftp.storbinary("STOR r.bin", io.BytesIO(payload[9777777:-3000000]), rest=9777777)
ftp.storbinary("APPE r.bin", io.BytesIO(payload[-3000000:]))
ftp.quit()
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)")
        #expect((try? Data(contentsOf: server.home("alice").appendingPathComponent("r.bin"))) == payload)
    }

    @Test func readOnlyUserAndWrongPasswords() throws {
        let server = try FerryProcess(users: true)
        try Disk.write(server.home("bob").appendingPathComponent("keep.txt"), "keep")
        let result = try Tool.python(FtplibTests.prelude + #"""
ftp = connect("bob", "bobpw")
expect_error("550", ftp.storbinary, "STOR x", io.BytesIO(b"x"))
expect_error("550", ftp.delete, "keep.txt")
expect_error("550", ftp.mkd, "d")
got = bytearray(); ftp.retrbinary("RETR keep.txt", got.extend); assert bytes(got) == b"keep"
ftp.quit()
# wrong password, then an unknown user: both 530, after a delay
ftp = ftplib.FTP(); ftp.connect(HOST, PORT, timeout=30)
t = time.time(); expect_error("530", ftp.login, "alice", "wrong"); d1 = time.time() - t
t = time.time(); expect_error("530", ftp.login, "nobody", "wrong"); d2 = time.time() - t
assert 0.2 < d1 < 1.5 and 0.2 < d2 < 3, (d1, d2)
# third failure closes the session with 421
expect_error("421", ftp.login, "alice", "wrong")
# anonymous is off when a users file is given
ftp = ftplib.FTP(); ftp.connect(HOST, PORT, timeout=30)
expect_error("530", ftp.login, "anonymous", "x@y")
# commands before login
ftp = ftplib.FTP(); ftp.connect(HOST, PORT, timeout=30)
expect_error("530", ftp.sendcmd, "PWD")
expect_error("503", ftp.sendcmd, "PASS x")
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect(Disk.read(server.home("bob").appendingPathComponent("keep.txt")) == "keep")
        #expect(!server.log.contains("wrong"))
    }

    @Test func activeModeAndIPv6() throws {
        let server = try FerryProcess(users: true)
        try Disk.write(server.home("alice").appendingPathComponent("a.txt"), "active")
        let result = try Tool.python(FtplibTests.prelude + #"""
ftp = connect()
ftp.set_pasv(False)
got = bytearray(); ftp.retrbinary("RETR a.txt", got.extend); assert bytes(got) == b"active"
ftp.storbinary("STOR up.txt", io.BytesIO(b"up-active"))
names = ftp.nlst(); assert "up.txt" in names, names
# a PORT naming another host is refused at once (RFC 2577)
expect_error("501", ftp.sendcmd, "PORT 10,9,8,7,4,1")
expect_error("501", ftp.sendcmd, "EPRT |1|10.9.8.7|2000|")
expect_error("501", ftp.sendcmd, "PORT 127,0,0,1,0,80")
ftp.quit()
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect(Disk.read(server.home("alice").appendingPathComponent("up.txt")) == "up-active")

        let v6 = try FerryProcess(host: "::1", users: true)
        try Disk.write(v6.home("alice").appendingPathComponent("six.txt"), "over ipv6")
        let six = try Tool.python(FtplibTests.prelude + #"""
for passive in (True, False):
    ftp = connect()
    ftp.set_pasv(passive)
    got = bytearray(); ftp.retrbinary("RETR six.txt", got.extend); assert bytes(got) == b"over ipv6"
    ftp.storbinary("STOR back-%s.txt" % passive, io.BytesIO(b"six"))
    expect_error("425", ftp.sendcmd, "PASV")
    ftp.quit()
"""#, server: v6)
        #expect(six.status == 0, "\(six.stderr)\n\(v6.log)")
        #expect(Disk.read(v6.home("alice").appendingPathComponent("back-True.txt")) == "six")
        #expect(Disk.read(v6.home("alice").appendingPathComponent("back-False.txt")) == "six")
    }
}
