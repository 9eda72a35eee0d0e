import Foundation
import Testing

/// The fail2ban filter in contrib/ matches Ferry's failed-login lines, in both log formats.
@Suite struct Fail2banTests {
    @Test func filterMatchesFailedLoginsInTextAndJSON() throws {
        let filter = ContribTests.unitPath.deletingLastPathComponent().appendingPathComponent("fail2ban/ferry.conf")
        let text = try String(contentsOf: filter, encoding: .utf8)
        // failregex = first line, then indented continuation lines.
        var patterns: [String] = []
        var inFailregex = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("failregex =") {
                inFailregex = true
                patterns.append(String(line.dropFirst("failregex =".count)).trimmingCharacters(in: .whitespaces))
            } else if inFailregex && line.hasPrefix(" ") {
                patterns.append(line.trimmingCharacters(in: .whitespaces))
            } else {
                inFailregex = false
            }
        }
        #expect(patterns.count == 2)
        for format in ["text", "json"] {
            let server = try FerryProcess(["--log-format", format], users: true)
            let login = try Tool.python(FtplibTests.prelude + #"""
f = ftplib.FTP(); f.connect(HOST, PORT, timeout=10); expect_error("530", f.login, "alice", "wrong")
g = connect(); g.quit()
"""#, server: server)
            #expect(login.status == 0, "\(login.stderr)")
            server.stop()
            // fail2ban's <HOST> matches an address; Python's re stands in for fail2ban-regex here.
            let check = try Tool.run("python3", ["-c", #"""
import json, re, sys
patterns = [re.compile(p.replace("<HOST>", r"(?P<host>[0-9a-fA-F:.]+)")) for p in json.loads(sys.argv[1])]
hosts = [m.group("host") for line in sys.stdin.read().splitlines() for p in patterns for m in [p.match(line)] if m]
print(hosts)
assert hosts == ["127.0.0.1"], hosts
"""#, String(decoding: try JSONSerialization.data(withJSONObject: patterns), as: UTF8.self)], input: Data(server.log.utf8))
            #expect(check.status == 0, "\(format): \(check.stdout)\(check.stderr)\n\(server.log)")
        }
    }
}
