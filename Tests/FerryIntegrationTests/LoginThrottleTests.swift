import Foundation
import Testing

/// The per-address login ban cannot be sidestepped: not by sessions opened before it, not by
/// successful logins between guesses.
@Suite struct LoginThrottleTests {
    @Test func sessionsOpenedBeforeTheBanStopGuessing() throws {
        let server = try FerryProcess(["--max-failed-logins-per-ip", "4", "--max-login-failures", "50", "--ban-time", "60"], users: true)
        let result = try Tool.python(FtplibTests.prelude + #"""
sessions = []
for i in range(8):
    f = ftplib.FTP(); f.connect(HOST, PORT, timeout=20); sessions.append(f)
answers = []
for f in sessions:
    try:
        f.login("alice", "wrong")
        answers.append("230")
    except ftplib.all_errors as e:
        answers.append(str(e)[:3])
assert answers[:4] == ["530"] * 4, answers
assert answers[4:] == ["421"] * 4, answers
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect(server.log.contains("login refused: address banned"), "\(server.log)")
    }

    @Test func aSuccessfulLoginDoesNotClearTheAddressRecord() throws {
        let server = try FerryProcess(["--anonymous", "--max-failed-logins-per-ip", "4", "--ban-time", "60"], users: true)
        let result = try Tool.python(FtplibTests.prelude + #"""
for guess in range(4):
    f = ftplib.FTP(); f.connect(HOST, PORT, timeout=20)
    expect_error("530", f.login, "alice", "wrong%d" % guess)
    f.close()
    if guess < 3:
        a = ftplib.FTP(); a.connect(HOST, PORT, timeout=20); a.login(); a.quit()
r = expect_error("421", ftplib.FTP().connect, HOST, PORT, 20)
assert "try again in" in r, r
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
    }
}
