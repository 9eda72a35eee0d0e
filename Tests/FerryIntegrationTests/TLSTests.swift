import Foundation
import Testing

/// FTPS (RFC 4217) with real clients: ftplib's FTP_TLS, curl, lftp and openssl s_client.
@Suite struct TLSTests {
    /// ftplib helpers: an unverified TLS context (self-signed test certificate) and a client that
    /// resumes the control connection's TLS session on data connections, as FileZilla and curl do.
    static let prelude = FtplibTests.prelude + #"""
import ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
class Reusing(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size
def tls_connect(cls=ftplib.FTP_TLS, user="alice", password="secret"):
    f = cls(context=ctx); f.connect(HOST, PORT, timeout=30); f.login(user, password); f.prot_p()
    return f

"""#

    @Test func ftplibOverTLSWithOptionalReuse() throws {
        let server = try FerryProcess(["--tls-session-reuse", "optional"], users: true, tls: true)
        let payload = Disk.pattern(1_500_000, seed: 5)
        try payload.write(to: server.scratch.appendingPathComponent("payload.bin"))
        let result = try Tool.python(TLSTests.prelude + #"""
payload = open(os.path.join(os.path.dirname(ROOT), "payload.bin"), "rb").read()
f = tls_connect()
feat = f.sendcmd("FEAT")
assert " AUTH TLS" in feat and " PBSZ" in feat and " PROT" in feat, feat
f.storbinary("STOR tls.bin", io.BytesIO(payload))
got = bytearray(); f.retrbinary("RETR tls.bin", got.extend); assert bytes(got) == payload
got = bytearray(); f.retrbinary("RETR tls.bin", got.extend, rest=1000000); assert bytes(got) == payload[1000000:]
assert "tls.bin" in f.nlst()
lines = []; f.retrlines("LIST", lines.append); assert any(l.endswith(" tls.bin") for l in lines), lines
assert dict(f.mlsd())["tls.bin"]["size"] == str(len(payload))
f.storlines("STOR text.txt", io.BytesIO(b"a\nb\n"))
assert f.sendcmd("STAT").startswith("211")
print(f.quit())
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect((try? Data(contentsOf: server.home("alice").appendingPathComponent("tls.bin"))) == payload)
        #expect(Disk.read(server.home("alice").appendingPathComponent("text.txt")) == "a\nb\n")
    }

    @Test func sessionReuseRequiredByDefault() throws {
        let server = try FerryProcess(users: true, tls: true)
        try Disk.write(server.home("alice").appendingPathComponent("r.txt"), "resumed")
        let result = try Tool.python(TLSTests.prelude + #"""
f = tls_connect(Reusing)
got = bytearray(); f.retrbinary("RETR r.txt", got.extend); assert bytes(got) == b"resumed"
f.storbinary("STOR back.txt", io.BytesIO(b"reused upload"))
assert "back.txt" in f.nlst()
f.quit()
# a client that does not resume the control session: 522 saying what to do, then the session goes on
f = tls_connect()
try:
    f.retrbinary("RETR r.txt", print)
except (ssl.SSLError, OSError, EOFError):
    pass
r = expect_error("522", f.getresp)
assert "turn on session reuse in the client" in r, r
assert f.sendcmd("NOOP").startswith("200")
f.quit()
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect(Disk.read(server.home("alice").appendingPathComponent("back.txt")) == "reused upload")
        #expect(server.log.contains("--tls-session-reuse optional accepts clients that do not resume"), "\(server.log)")
    }

    /// aioftp and Go's jlaffaye/ftp connect to the passive port and finish the TLS handshake before
    /// they send the transfer command. The handshake used to wait for the command, and the command for
    /// the handshake, until the client timed out.
    @Test func aDataHandshakeBeforeTheTransferCommand() throws {
        let server = try FerryProcess(users: true, tls: true)
        try Disk.write(server.home("alice").appendingPathComponent("early.txt"), "handshake first")
        let result = try Tool.python(TLSTests.prelude + #"""
def early(f, command):
    host, port = ftplib.parse229(f.sendcmd("EPSV"), f.sock.getpeername())
    raw = socket.create_connection((host, port), timeout=5)
    conn = ctx.wrap_socket(raw, server_hostname=HOST, session=f.sock.session)
    f.putcmd(command)
    r = f.getresp()
    assert r.startswith("150"), r
    return conn
f = tls_connect()
f.voidcmd("TYPE I")
conn = early(f, "RETR early.txt")
got = read_all(conn)
conn.close()
assert got == b"handshake first", got
assert f.getresp().startswith("226")
conn = early(f, "STOR back.txt")
conn.sendall(b"uploaded after an early handshake")
conn.unwrap().close()
assert f.getresp().startswith("226")
conn = early(f, "LIST")
listing = read_all(conn)
conn.close()
assert b"early.txt" in listing, listing
assert f.getresp().startswith("226")
# a data connection that never gets its command is closed when the next PASV replaces it, and logged
host, port = ftplib.parse229(f.sendcmd("EPSV"), f.sock.getpeername())
idle = ctx.wrap_socket(socket.create_connection((host, port), timeout=5), server_hostname=HOST, session=f.sock.session)
f.sendcmd("EPSV")
assert f.sendcmd("NOOP").startswith("200")
f.quit()
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect(Disk.read(server.home("alice").appendingPathComponent("back.txt")) == "uploaded after an early handshake")
        #expect(server.log.contains("data connection closed unused"), "\(server.log)")
    }

    /// Java's TLS uses each session ticket once (commons-net with the usual session-reuse hook got 522
    /// on a session's third data connection): each ticket a data connection consumes is replaced by a
    /// fresh one on the control connection, sent with the transfer's reply.
    @Test func clientsThatUseEachTicketOnceKeepResuming() throws {
        let server = try FerryProcess(users: true, tls: true)
        try Disk.write(server.home("alice").appendingPathComponent("t.txt"), "ticket")
        let result = try Tool.python(TLSTests.prelude + #"""
class OnceEach(ftplib.FTP_TLS):
    used = set()
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        session = self.sock.session
        assert session.id not in OnceEach.used, f"transfer {len(OnceEach.used) + 1}: no unused ticket left"
        OnceEach.used.add(session.id)
        conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        assert conn.session_reused
        return conn, size
f = tls_connect(OnceEach)
assert f.sock.version() == "TLSv1.3", f.sock.version()
for i in range(6):
    got = bytearray(); f.retrbinary("RETR t.txt", got.extend); assert bytes(got) == b"ticket"
f.quit()
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
    }

    @Test func curlLftpAndImplicitTLS() throws {
        let server = try FerryProcess(users: true, implicitTLS: true)
        let home = server.home("alice")
        let payload = Disk.pattern(3_000_000, seed: 9)
        try payload.write(to: home.appendingPathComponent("c.bin"))
        try payload.write(to: server.scratch.appendingPathComponent("up.bin"))
        let down = try Tool.run("curl", ["-sS", "--ssl-reqd", "-k", "-u", "alice:secret", "\(server.url)/c.bin"])
        #expect(down.status == 0 && down.stdoutData == payload, "\(down.stderr)\n\(server.log)")
        let up = try Tool.run("curl", ["-sS", "--ssl-reqd", "-k", "-u", "alice:secret", "-T", server.scratch.appendingPathComponent("up.bin").path, "\(server.url)/curl-up.bin"])
        #expect(up.status == 0, "\(up.stderr)")
        #expect((try? Data(contentsOf: home.appendingPathComponent("curl-up.bin"))) == payload)
        let implicit = try Tool.run("curl", ["-sS", "-k", "-u", "alice:secret", "ftps://\(server.host):\(server.implicitPort)/c.bin"])
        #expect(implicit.status == 0 && implicit.stdoutData == payload, "\(implicit.stderr)\n\(server.log)")
        let implicitList = try Tool.run("curl", ["-sS", "-k", "-u", "alice:secret", "ftps://\(server.host):\(server.implicitPort)/"])
        #expect(implicitList.stdout.contains(" c.bin"), "\(implicitList.stderr)")

        let local = server.scratch.appendingPathComponent("lftp-c.bin")
        let settings = "set ssl:verify-certificate no; set ftp:ssl-force true; set ftp:ssl-protect-data true; set net:max-retries 1; set cmd:fail-exit true"
        let lftp = try Tool.run("lftp", ["-c", "\(settings); open -u alice,secret -p \(server.port) \(server.host); get c.bin -o \(local.path); put \(server.scratch.appendingPathComponent("up.bin").path) -o lftp-up.bin; cls"])
        #expect(lftp.status == 0, "\(lftp.stderr)\n\(server.log)")
        #expect((try? Data(contentsOf: local)) == payload)
        #expect((try? Data(contentsOf: home.appendingPathComponent("lftp-up.bin"))) == payload)
    }

    /// The banner says who encrypts TLS downloads (the kernel where it has the tls module), and
    /// curl's downloads, whole and from an offset, arrive byte-exact either way.
    @Test(arguments: ["auto", "off"]) func kernelTLSIsReportedAndDownloadsArriveEitherWay(offload: String) throws {
        let server = try FerryProcess(["--tls-kernel-offload", offload], users: true, tls: true)
        let payload = Disk.pattern(3_000_000, seed: 11)
        try payload.write(to: server.home("alice").appendingPathComponent("k.bin"))
        let whole = try Tool.run("curl", ["-sS", "--ssl-reqd", "-k", "-u", "alice:secret", "\(server.url)/k.bin"])
        #expect(whole.status == 0 && whole.stdoutData == payload, "\(whole.stderr)\n\(server.log)")
        let tail = try Tool.run("curl", ["-sS", "--ssl-reqd", "-k", "-u", "alice:secret", "-C", "1000001", "\(server.url)/k.bin"])
        #expect(tail.status == 0 && tail.stdoutData == payload.dropFirst(1_000_001), "\(tail.stderr)")
        let kernelHasTLS = try String(contentsOfFile: "/proc/sys/net/ipv4/tcp_available_ulp", encoding: .utf8)
            .split(whereSeparator: \.isWhitespace).contains("tls")
        let expected = offload == "off" ? "kernel TLS off (--tls-kernel-offload off)"
            : kernelHasTLS ? "kernel TLS for data connections" : "no kernel TLS here (the kernel has no tls module)"
        #expect(server.log.contains(expected), "\(server.log)")
    }

    @Test func requireTLSRefusesPlaintext() throws {
        let server = try FerryProcess(["--require-tls"], users: true, tls: true)
        let result = try Tool.python(TLSTests.prelude + #"""
f = ftplib.FTP(); f.connect(HOST, PORT, timeout=30)
r = expect_error("530", f.login, "alice", "secret"); assert "AUTH TLS" in r, r
f = ftplib.FTP_TLS(context=ctx); f.connect(HOST, PORT, timeout=30)
expect_error("503", f.sendcmd, "PBSZ 0")
expect_error("504", f.sendcmd, "AUTH KERBEROS")
f.auth()
expect_error("503", f.sendcmd, "AUTH TLS")
expect_error("503", f.sendcmd, "PROT P")
f.login("alice", "secret")
assert f.sendcmd("PBSZ 0") == "200 PBSZ=0"
expect_error("534", f.sendcmd, "PROT C")
expect_error("536", f.sendcmd, "PROT S")
expect_error("504", f.sendcmd, "PROT Z")
expect_error("534", f.sendcmd, "CCC")
# data before PROT P: 521
expect_error("521", f.nlst)
f.prot_p()
f.quit()
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
    }

    @Test func withoutTLSConfiguredAuthIsNotImplemented() throws {
        let server = try FerryProcess(users: true)
        let result = try Tool.python(TLSTests.prelude + #"""
f = ftplib.FTP(); f.connect(HOST, PORT, timeout=30)
expect_error("502", f.sendcmd, "AUTH TLS")
expect_error("502", f.sendcmd, "PBSZ 0")
assert "AUTH" not in f.sendcmd("FEAT") and "AUTH" not in f.sendcmd("HELP")
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
    }

    @Test func plaintextAfterAuthIsDiscardedAndGarbageHandshakesAreContained() throws {
        let server = try FerryProcess(["--data-timeout", "2"], users: true, tls: true)
        let result = try Tool.python(TLSTests.prelude + #"""
# command injection: USER sent in the same packet as AUTH must not be executed
s = socket.create_connection((HOST, PORT), timeout=10)
assert s.recv(200).startswith(b"220")
s.sendall(b"AUTH TLS\r\nUSER alice\r\n")
r = b""
while not r.endswith(b"\r\n"): r += s.recv(200)
assert r.startswith(b"234"), r
t = ctx.wrap_socket(s, server_hostname=HOST)
t.sendall(b"PASS secret\r\n")
r = t.recv(200); assert r.startswith(b"503"), r   # no USER was accepted
t.sendall(b"NOOP\r\n"); assert t.recv(200).startswith(b"200")
t.close()
# garbage instead of a ClientHello: that session ends, others go on
g = socket.create_connection((HOST, PORT), timeout=10); g.recv(200)
g.sendall(b"AUTH TLS\r\n"); g.recv(200)
g.sendall(b"\x00garbage, not TLS at all\r\n" * 20)
g.settimeout(10)   # the server must close it (a socket.timeout here fails the test)
try:
    while g.recv(200): pass
except ConnectionResetError:
    pass
# a client that stops mid-handshake does not block anyone
h = socket.create_connection((HOST, PORT), timeout=10); h.recv(200)
h.sendall(b"AUTH TLS\r\n"); h.recv(200); h.sendall(b"\x16\x03\x01\x00")
f = tls_connect(Reusing); assert f.sendcmd("NOOP").startswith("200"); f.quit()
# ...and is disconnected when the handshake times out (--data-timeout 2)
h.settimeout(10); t = time.time()
try:
    while h.recv(200): pass
except ConnectionResetError:
    pass
assert time.time() - t < 8
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect(server.log.contains("TLS"), "\(server.log)")
    }

    @Test func oldTLSIsRefusedAndModernTLSAccepted() throws {
        let server = try FerryProcess(users: true, implicitTLS: true)
        let address = "\(server.host):\(server.implicitPort)"
        // -ign_eof: keep reading after our QUIT until the server closes, so its 220 is seen.
        let modern = try Tool.run("openssl", ["s_client", "-ign_eof", "-connect", address, "-tls1_2"], input: Data("QUIT\r\n".utf8), timeout: 30)
        #expect(modern.status == 0 && modern.stdout.contains("220"), "\(modern.stdout)\(modern.stderr)")
        let old = try Tool.run("openssl", ["s_client", "-ign_eof", "-connect", address, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
                               input: Data("QUIT\r\n".utf8), timeout: 30)
        #expect(old.status != 0 && !old.stdout.contains("220 Ferry"), "\(old.stdout)\(old.stderr)")
    }

    @Test func badCertificateFailsStartup() throws {
        let port = try FerryProcess.freePort(host: "127.0.0.1")
        let missing = try Tool.run(FerryProcess.binary, ["serve", "--listen", "127.0.0.1:\(port)", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/nonexistent/cert.pem") && missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
        let lonely = try Tool.run(FerryProcess.binary, ["serve", "--listen", "127.0.0.1:\(port)", "--require-tls"])
        #expect(lonely.status != 0 && lonely.stderr.contains("--tls-cert"), "\(lonely.stderr)")
    }
}
