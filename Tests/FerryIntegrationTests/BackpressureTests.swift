import Foundation
import Testing

/// Pipelined commands are served, not punished; a client that never reads is held back by
/// backpressure and, once its session ends, is gone within a bounded time with everything it held.
@Suite struct BackpressureTests {
    @Test func aThousandPipelinedCommandsAreAllAnswered() throws {
        let server = try FerryProcess(users: true)
        let result = try Tool.python(FtplibTests.prelude + #"""
f = connect(); f.storbinary("STOR p.txt", io.BytesIO(b"12345"))
s = socket.create_connection((HOST, PORT), timeout=20)
r = s.makefile("rb")
assert r.readline().startswith(b"220")
s.sendall(b"USER alice\r\nPASS secret\r\nTYPE I\r\n" + b"NOOP\r\nSIZE p.txt\r\n" * 500 + b"QUIT\r\n")
codes = []
while True:
    line = r.readline()
    if not line: break
    if line[3:4] == b" ": codes.append(line[:3])
assert codes[:4] == [b"331", b"230", b"200", b"200"], codes[:4]
assert codes.count(b"213") == 500 and codes.count(b"200") == 501, (len(codes), codes[-3:])
assert codes[-1] == b"221", codes[-3:]
print("ok")
"""#, server: server)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log)")
        #expect(!server.log.contains("flood"))
    }

    @Test func clientsThatNeverReadAreGoneWithinTheBoundAndStayCounted() throws {
        let server = try FerryProcess(["--max-sessions-per-ip", "3", "--login-timeout", "3"], users: true)
        let baseline = server.openDescriptors
        let result = try Tool.python(FtplibTests.prelude + #"""
def silent():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((HOST, PORT)); s.settimeout(5)
    try:
        s.sendall(b"HELP\r\n" * 40000)   # far more replies than the kernel buffers hold
    except OSError:
        pass
    return s
held = [silent() for _ in range(3)]
# Past the login timeout (3 s, time enough for the server to fill the kernel's buffers with
# replies), within the 5 s its sessions' sockets then get to deliver their last replies.
time.sleep(4.5)
c = socket.create_connection((HOST, PORT), timeout=10)
first = c.makefile("rb").readline()
assert first.startswith(b"421") and b"from your address" in first, first
c.close()
deadline = time.time() + 15
while time.time() < deadline:
    c = socket.create_connection((HOST, PORT), timeout=10)
    first = c.makefile("rb").readline(); c.close()
    if first.startswith(b"220"): break
    time.sleep(0.5)
assert first.startswith(b"220"), first
print("ok")
"""#, server: server, timeout: 60)
        #expect(result.status == 0, "\(result.stderr)\n\(server.log.suffix(3000))")
        var now = server.openDescriptors
        for _ in 0..<50 where now > baseline {
            usleep(100_000)
            now = server.openDescriptors
        }
        #expect(now <= baseline, "descriptors: \(baseline) at start, \(now) after")
    }
}
