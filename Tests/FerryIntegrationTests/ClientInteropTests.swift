import Foundation
import Testing

/// The clients people use, each doing what it can of: a 3 MB upload, its download compared byte for
/// byte, rename, delete, mkdir, a resumed download, plain and over TLS where the client speaks it.
/// What each left on disk is checked, not only its exit status.
@Suite struct ClientInteropTests {
    /// 3 MB that is not all one byte, so a shifted or resumed-wrong file does not compare equal.
    static let payload = Disk.pattern(3_000_000, seed: 42)

    /// The Python with aioftp and ftputil that .ci/install-deps puts in .build/interop-venv.
    static var venvPython: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/interop-venv/bin/python").path
    }

    /// A server with alice, `payload` as big.bin in her home and a local copy for uploads.
    private func serve(_ arguments: [String] = [], tls: Bool = false) throws -> (FerryProcess, local: URL) {
        let server = try FerryProcess(arguments, users: true, tls: tls)
        try ClientInteropTests.payload.write(to: server.home("alice").appendingPathComponent("big.bin"))
        let local = server.scratch.appendingPathComponent("local")
        try FileManager.default.createDirectory(at: local, withIntermediateDirectories: true)
        try ClientInteropTests.payload.write(to: local.appendingPathComponent("up.bin"))
        return (server, local)
    }

    private func file(_ url: URL) -> Data? { try? Data(contentsOf: url) }

    /// A download to resume: the first megabyte is already there.
    private func partial(_ url: URL) throws {
        try ClientInteropTests.payload.prefix(1_000_000).write(to: url)
    }

    @Test(arguments: [false, true])
    func wget(tls: Bool) throws {
        let (server, local) = try serve(tls: tls)
        let scheme = tls ? "ftps" : "ftp"
        let url = "\(scheme)://alice:secret@\(server.host):\(server.port)/big.bin"
        let tlsFlags = tls ? ["--no-check-certificate"] : []
        let down = try Tool.run("wget", tlsFlags + ["-q", "-O", local.appendingPathComponent("got.bin").path, url], timeout: 60)
        #expect(down.status == 0, "\(down.stderr)\n\(server.log)")
        #expect(file(local.appendingPathComponent("got.bin")) == ClientInteropTests.payload)
        let resumeDir = local.appendingPathComponent("resume")
        try FileManager.default.createDirectory(at: resumeDir, withIntermediateDirectories: true)
        try partial(resumeDir.appendingPathComponent("big.bin"))
        let resumed = try Tool.run("wget", tlsFlags + ["-q", "-c", "-P", resumeDir.path, url], timeout: 60)
        #expect(resumed.status == 0, "\(resumed.stderr)\n\(server.log)")
        #expect(file(resumeDir.appendingPathComponent("big.bin")) == ClientInteropTests.payload)
        #expect(server.log.contains("bytes=2000000"), "the download resumed at 1 MB")
    }

    @Test func ncftp() throws {
        let (server, local) = try serve()
        let login = ["-u", "alice", "-p", "secret", "-P", String(server.port), server.host]
        let put = try Tool.run("ncftpput", login + ["/", local.appendingPathComponent("up.bin").path], timeout: 60)
        #expect(put.status == 0, "\(put.stdout)\(put.stderr)\n\(server.log)")
        #expect(file(server.home("alice").appendingPathComponent("up.bin")) == ClientInteropTests.payload)
        let getDir = local.appendingPathComponent("get")
        try FileManager.default.createDirectory(at: getDir, withIntermediateDirectories: true)
        let get = try Tool.run("ncftpget", login + [getDir.path, "/big.bin"], timeout: 60)
        #expect(get.status == 0, "\(get.stdout)\(get.stderr)\n\(server.log)")
        #expect(file(getDir.appendingPathComponent("big.bin")) == ClientInteropTests.payload)
        let resumeDir = local.appendingPathComponent("resume")
        try FileManager.default.createDirectory(at: resumeDir, withIntermediateDirectories: true)
        try partial(resumeDir.appendingPathComponent("big.bin"))
        let resumed = try Tool.run("ncftpget", ["-z"] + login + [resumeDir.path, "/big.bin"], timeout: 60)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)\n\(server.log)")
        #expect(file(resumeDir.appendingPathComponent("big.bin")) == ClientInteropTests.payload)
        let listing = try Tool.run("ncftpls", ["-u", "alice", "-p", "secret", "-P", String(server.port), "-l", "ftp://\(server.host)/"], timeout: 30)
        #expect(listing.status == 0 && listing.stdout.contains("big.bin") && listing.stdout.contains("up.bin"), "\(listing.stdout)\(listing.stderr)")
    }

    @Test func tnftp() throws {
        let (server, local) = try serve()
        let base = "ftp://alice:secret@\(server.host):\(server.port)"
        let put = try Tool.run("tnftp", ["-n", "-u", "\(base)/up.bin", local.appendingPathComponent("up.bin").path], timeout: 60)
        #expect(put.status == 0, "\(put.stdout)\(put.stderr)\n\(server.log)")
        #expect(file(server.home("alice").appendingPathComponent("up.bin")) == ClientInteropTests.payload)
        let got = local.appendingPathComponent("got.bin")
        let get = try Tool.run("tnftp", ["-n", "-o", got.path, "\(base)/big.bin"], timeout: 60)
        #expect(get.status == 0, "\(get.stdout)\(get.stderr)\n\(server.log)")
        #expect(file(got) == ClientInteropTests.payload)
        let resumedFile = local.appendingPathComponent("resumed.bin")
        try partial(resumedFile)
        let resumed = try Tool.run("tnftp", ["-n", "-R", "-o", resumedFile.path, "\(base)/big.bin"], timeout: 60)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)\n\(server.log)")
        #expect(file(resumedFile) == ClientInteropTests.payload)
    }

    /// rclone's FTP backend is Go's jlaffaye/ftp: over TLS 1.3 it handshakes on the data connection
    /// before the transfer command and closes uploads without reading a ticket.
    @Test(arguments: [false, true])
    func rclone(tls: Bool) throws {
        let (server, local) = try serve(tls: tls)
        let obscured = try Tool.run("rclone", ["obscure", "secret"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let remote = ":ftp,host=\(server.host),port=\(server.port),user=alice,pass=\(obscured)"
            + (tls ? ",explicit_tls=true,no_check_certificate=true" : "") + ":"
        func rclone(_ arguments: [String]) throws -> ProcessResult {
            try Tool.run("rclone", ["--config", "/dev/null", "--low-level-retries", "1", "--retries", "1"] + arguments, timeout: 90)
        }
        let up = try rclone(["copyto", local.appendingPathComponent("up.bin").path, remote + "up.bin"])
        #expect(up.status == 0, "\(up.stderr)\n\(server.log)")
        #expect(file(server.home("alice").appendingPathComponent("up.bin")) == ClientInteropTests.payload)
        let down = try rclone(["copyto", remote + "big.bin", local.appendingPathComponent("got.bin").path])
        #expect(down.status == 0, "\(down.stderr)\n\(server.log)")
        #expect(file(local.appendingPathComponent("got.bin")) == ClientInteropTests.payload)
        #expect(try rclone(["mkdir", remote + "made"]).status == 0)
        let moved = try rclone(["moveto", remote + "up.bin", remote + "made/moved.bin"])
        #expect(moved.status == 0, "\(moved.stderr)\n\(server.log)")
        #expect(file(server.home("alice").appendingPathComponent("made/moved.bin")) == ClientInteropTests.payload)
        #expect(try rclone(["deletefile", remote + "made/moved.bin"]).status == 0)
        let listing = try rclone(["lsf", "-R", remote])
        #expect(listing.stdout.split(separator: "\n").sorted() == ["big.bin", "made/"], "\(listing.stdout)\(listing.stderr)")
    }

    @Test func ftputil() throws {
        let (server, local) = try serve()
        let script = #"""
import ftputil, ftputil.session, os, sys
host, port, local = os.environ["HOST"], int(os.environ["PORT"]), os.environ["LOCAL"]
factory = ftputil.session.session_factory(port=port, encoding="utf-8")
with ftputil.FTPHost(host, "alice", "secret", session_factory=factory) as ftp:
    ftp.upload(os.path.join(local, "up.bin"), "up.bin")
    ftp.download("big.bin", os.path.join(local, "got.bin"))
    ftp.makedirs("a/b")
    ftp.rename("up.bin", "a/b/moved.bin")
    assert ftp.path.getsize("a/b/moved.bin") == 3000000
    ftp.remove("big.bin")
    assert sorted(ftp.listdir("/")) == ["a"], ftp.listdir("/")
print("ok")
"""#
        let result = try Tool.run(ClientInteropTests.venvPython, ["-W", "ignore", "-c", script],
                                  environment: ["HOST": server.host, "PORT": String(server.port), "LOCAL": local.path], timeout: 60)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect(file(local.appendingPathComponent("got.bin")) == ClientInteropTests.payload)
        #expect(file(server.home("alice").appendingPathComponent("a/b/moved.bin")) == ClientInteropTests.payload)
        #expect(!FileManager.default.fileExists(atPath: server.home("alice").appendingPathComponent("big.bin").path))
    }

    /// aioftp over TLS wraps the data connection before it sends the transfer command, and does not
    /// resume the control session (hence `--tls-session-reuse optional`).
    @Test(arguments: [false, true])
    func aioftp(tls: Bool) throws {
        let (server, local) = try serve(tls ? ["--tls-session-reuse", "optional"] : [], tls: tls)
        let script = #"""
import aioftp, asyncio, os, pathlib, ssl
host, port, local = os.environ["HOST"], int(os.environ["PORT"]), pathlib.Path(os.environ["LOCAL"])
async def main():
    client = aioftp.Client(socket_timeout=20, connection_timeout=20)
    await client.connect(host, port)
    if os.environ["TLS"] == "1":
        context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
        await client.upgrade_to_tls(context)
    await client.login("alice", "secret")
    await client.upload(local / "up.bin", "up.bin", write_into=True)
    await client.download("big.bin", local / "got.bin", write_into=True)
    await client.make_directory("dir")
    await client.rename("up.bin", "dir/moved.bin")
    stream = await client.download_stream("big.bin", offset=1000000)
    rest = await stream.read()
    while True:
        more = await stream.read()
        if not more:
            break
        rest += more
    await stream.finish()
    (local / "resumed.bin").write_bytes((local / "got.bin").read_bytes()[:1000000] + rest)
    await client.remove("big.bin")
    names = sorted(str(path) for path, info in await client.list("/"))
    assert names == ["/dir"], names
    await client.quit()
asyncio.run(main())
print("ok")
"""#
        let result = try Tool.run(ClientInteropTests.venvPython, ["-c", script],
                                  environment: ["HOST": server.host, "PORT": String(server.port), "LOCAL": local.path, "TLS": tls ? "1" : "0"],
                                  timeout: 60)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(server.log)")
        #expect(file(local.appendingPathComponent("got.bin")) == ClientInteropTests.payload)
        #expect(file(local.appendingPathComponent("resumed.bin")) == ClientInteropTests.payload)
        #expect(file(server.home("alice").appendingPathComponent("dir/moved.bin")) == ClientInteropTests.payload)
    }
}
