import Foundation
import Testing

/// The operator's event hooks, run by the real server for real transfers.
@Suite struct EventHookTests {
    @Test func hooksHearOfUploadsDownloadsDeletesRenamesAndLogins() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-hooks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let events = scratch.appendingPathComponent("events.log")
        let hook = scratch.appendingPathComponent("hook.sh")
        try Disk.write(hook, """
        #!/bin/sh
        echo "$FERRY_EVENT|$FERRY_USER|$FERRY_CLIENT|$FERRY_PATH|$FERRY_VIRTUAL_PATH|$FERRY_BYTES|$FERRY_STATUS|$FERRY_TARGET_VIRTUAL_PATH" >> \(events.path)
        if [ "$FERRY_EVENT" = upload ] && [ "$FERRY_STATUS" = complete ]; then sleep 2; echo slow-done >> \(events.path); fi
        if [ "$FERRY_EVENT" = delete ]; then echo "cannot archive $FERRY_VIRTUAL_PATH"; exit 3; fi
        """)
        chmod(hook.path, 0o755)
        let flags = ["upload", "download", "delete", "rename", "login"].flatMap { ["--on-\($0)", hook.path] }
        let server = try FerryProcess(flags + ["--hook-timeout", "20"], users: true)
        let home = server.home("alice")
        try Disk.write(home.appendingPathComponent("down.txt"), "download me")
        let result = try Tool.python(FtplibTests.prelude + #"""
events = os.environ["EVENTS"]
def logged():
    return open(events).read() if os.path.exists(events) else ""
ftp = connect()
ftp.storbinary("STOR up.bin", io.BytesIO(b"u" * 5000))
assert "slow-done" not in logged(), "the 226 waited for the hook"
got = bytearray(); ftp.retrbinary("RETR down.txt", got.extend); assert bytes(got) == b"download me"
ftp.sendcmd("TYPE I")
conn = ftp.transfercmd("STOR partial.bin")
conn.sendall(b"p" * 3000)
time.sleep(0.3)
try:
    ftp.abort()
    ftp.getresp()
except ftplib.all_errors:
    pass
conn.close()
ftp.rename("up.bin", "moved.bin")
ftp.delete("down.txt")
ftp.quit()
for _ in range(200):
    text = logged()
    if "slow-done" in text and text.count("\n") >= 7:
        break
    time.sleep(0.1)
print(logged())
"""#, server: server, extra: ["EVENTS": events.path])
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        let lines = (Disk.read(events) ?? "").split(separator: "\n").map(String.init)
        let client = "127.0.0.1"
        #expect(lines.contains("login|alice|\(client)|\(home.path)|/|0|complete|"), "\(lines)")
        #expect(lines.contains("upload|alice|\(client)|\(home.path)/up.bin|/up.bin|5000|complete|"), "\(lines)")
        #expect(lines.contains("download|alice|\(client)|\(home.path)/down.txt|/down.txt|11|complete|"), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("upload|alice|\(client)|\(home.path)/partial.bin|/partial.bin|") && $0.hasSuffix("|incomplete|") }, "\(lines)")
        #expect(lines.contains("rename|alice|\(client)|\(home.path)/up.bin|/up.bin|0|complete|/moved.bin"), "\(lines)")
        #expect(lines.contains("delete|alice|\(client)|\(home.path)/down.txt|/down.txt|0|complete|"), "\(lines)")
        #expect(lines.contains("slow-done"))
        let log = server.log
        #expect(log.contains("event hook failed") && log.contains("status=exit 3") && log.contains("cannot archive /down.txt"), "\(log)")
        #expect(log.contains("event hook ran"))
    }

    /// A receiver that refuses the first post with 503: the event arrives on the retry, as JSON.
    @Test func eventsArePostedAsJSONAndRetried() throws {
        let port = try FerryProcess.freePort(host: "127.0.0.1")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-webhook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let received = scratch.appendingPathComponent("received.jsonl")
        let receiver = Process()
        receiver.executableURL = URL(fileURLWithPath: try Tool.which("python3"))
        receiver.arguments = ["-c", #"""
import http.server, sys
out, calls = sys.argv[2], [0]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        calls[0] += 1
        if calls[0] == 1:
            self.send_response(503); self.end_headers(); return
        with open(out, "ab") as f:
            f.write(self.path.encode() + b" " + self.headers["Content-Type"].encode() + b" " + body + b"\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""#, String(port), received.path]
        try receiver.run()
        defer {
            kill(receiver.processIdentifier, SIGKILL)
            receiver.waitUntilExit()
        }
        for _ in 0..<100 where !FerryProcess.canConnect(host: "127.0.0.1", port: port) { usleep(50_000) }
        let server = try FerryProcess(["--event-url", "http://127.0.0.1:\(port)/events"], users: true)
        let curl = try Tool.run("curl", ["-sS", "-T", "-", "ftp://alice:secret@\(server.host):\(server.port)/hooked.txt"],
                                input: Data("twelve bytes".utf8))
        #expect(curl.status == 0, "\(curl.stderr)")
        var lines: [String] = []
        for _ in 0..<150 {
            lines = (Disk.read(received) ?? "").split(separator: "\n").map(String.init)
            if lines.contains(where: { $0.contains("\"event\":\"upload\"") }) && lines.contains(where: { $0.contains("\"event\":\"login\"") }) { break }
            usleep(100_000)
        }
        let upload = try #require(lines.first { $0.contains("\"event\":\"upload\"") }, "\(lines)\n\(server.log)")
        #expect(upload.hasPrefix("/events application/json {"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(upload.split(separator: " ", maxSplits: 2)[2].utf8)) as? [String: Any])
        #expect(json["user"] as? String == "alice" && json["virtual_path"] as? String == "/hooked.txt")
        #expect(json["bytes"] as? Int == 12 && json["status"] as? String == "complete")
        #expect(json["path"] as? String == server.home("alice").appendingPathComponent("hooked.txt").path)
        #expect(lines.contains { $0.contains("\"event\":\"login\"") }, "the first post (login) came again after its 503: \(lines)")
    }

    @Test func aHookThatIsNotAnExecutableStopsStartUp() throws {
        let result = try Tool.run(FerryProcess.binary, ["serve", "--listen", "127.0.0.1:0", "--on-upload", "relative/hook.sh"])
        #expect(result.status != 0 && result.stderr.contains("absolute path"), "\(result.stderr)")
        let missing = try Tool.run(FerryProcess.binary, ["serve", "--listen", "127.0.0.1:0", "--on-login", "/nonexistent/hook"])
        #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/hook is not an executable file"), "\(missing.stderr)")
    }
}
