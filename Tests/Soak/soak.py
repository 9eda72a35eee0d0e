#!/usr/bin/env python3
"""Network soak of a running Ferry: hostile and careless clients for a while, then checks.

Usage: soak.py HOST PORT SERVER_PID SECONDS [CLIENTS]
The server must serve user alice/secret (read-write) with TLS offered, and a file big.bin of at
least 4 MiB in alice's home. While CLIENTS threads run random misbehaviour (valid sessions,
truncated, oversized and pipelined commands, random bytes, data connections that connect late,
never, close early or never read, TLS handshakes cut at random points, clients that never read), one
well-behaved client logs in, downloads and uploads in a loop and must be served every time. At the
end the server must be alive and, once every client is gone, back to its descriptors at the start
and near its memory. Exits non-zero with the reason otherwise; the seed is printed for a replay.
"""
import ftplib, io, os, random, socket, ssl, sys, threading, time
from descriptors import server_descriptors

HOST, PORT, PID, SECONDS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
CLIENTS = int(sys.argv[5]) if len(sys.argv) > 5 else 16
SEED = int(os.environ.get("SOAK_SEED", random.randrange(1 << 30)))
print("soak seed", SEED, flush=True)
CTX = ssl.create_default_context(); CTX.check_hostname = False; CTX.verify_mode = ssl.CERT_NONE


def fds():
    return server_descriptors(PID)


def rss_mib():
    with open("/proc/%d/status" % PID) as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) // 1024


def alive():
    return os.path.exists("/proc/%d" % PID)


def raw(timeout=5):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    return s


def drain(s, timeout):
    s.settimeout(timeout)
    try:
        while s.recv(65536): pass
    except OSError:
        pass


def login(s):
    s.sendall(b"USER alice\r\nPASS secret\r\n")


def pasv_port(s):
    s.sendall(b"EPSV\r\n")
    data = b""
    deadline = time.time() + 5
    while b"229 " not in data and time.time() < deadline:
        chunk = s.recv(4096)
        if not chunk:
            return None
        data += chunk
    if b"(|||" not in data:
        return None
    return int(data.split(b"(|||")[1].split(b"|")[0])


def scenario_valid(rng):
    f = ftplib.FTP(); f.connect(HOST, PORT, timeout=10); f.login("alice", "secret")
    # A name of this thread's own: two clients writing one file would fail each other's comparison.
    name = "soak-%d-%d.bin" % (threading.get_ident(), rng.randrange(1000))
    payload = os.urandom(rng.randrange(1, 300000))
    f.storbinary("STOR " + name, io.BytesIO(payload))
    got = bytearray(); f.retrbinary("RETR " + name, got.extend)
    assert bytes(got) == payload, "round trip of %s" % name
    f.nlst(); f.delete(name); f.quit()


def scenario_garbage(rng):
    s = raw()
    kind = rng.randrange(5)
    if kind == 0:
        s.sendall(os.urandom(rng.randrange(1, 5000)))
    elif kind == 1:
        s.sendall(b"USER " + b"A" * rng.randrange(4000, 20000) + b"\r\n")
    elif kind == 2:
        login(s); s.sendall(b"NOOP\r\nPWD\r\nSTAT\r\nSIZE big.bin\r\nMDTM big.bin\r\n" * rng.randrange(1, 300))
    elif kind == 3:
        s.sendall(b"USER alice\r\nPASS secr")  # truncated
    else:
        login(s); s.sendall(b"REST 99999999999999999999\r\nREST 9223372036854775807\r\nTYPE A\r\nREST 1\r\nSITE CHMOD 777 /\r\nMFMT 2020 /\r\n")
    time.sleep(rng.random() * 0.5)
    if rng.random() < 0.5:
        drain(s, 1)
    s.close()


def scenario_data(rng):
    s = raw(); login(s)
    port = pasv_port(s)
    if port is None:
        s.close(); return
    kind = rng.randrange(5)
    if kind == 0:
        pass  # PASV, never connect
    elif kind == 1:
        s.sendall(b"RETR big.bin\r\n")
        d = socket.create_connection((HOST, port), timeout=5)
        d.recv(rng.randrange(1, 100000)); d.close()  # close early
    elif kind == 2:
        s.sendall(b"RETR big.bin\r\n")
        d = socket.create_connection((HOST, port), timeout=5)
        time.sleep(rng.random() * 2)  # never read
        d.close()
    elif kind == 3:
        s.sendall(b"STOR soak-cut-%d\r\n" % rng.randrange(100))
        d = socket.create_connection((HOST, port), timeout=5)
        d.sendall(os.urandom(rng.randrange(1, 200000)))
        if rng.random() < 0.5:
            d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        d.close()
    else:
        time.sleep(rng.random())
        d = socket.create_connection((HOST, port), timeout=5)  # connect late, then LIST
        s.sendall(b"LIST\r\n")
        drain(d, 5)
        d.close()
    if rng.random() < 0.5:
        s.sendall(b"ABOR\r\nQUIT\r\n")
    s.close()


def scenario_tls(rng):
    s = raw(); s.sendall(b"AUTH TLS\r\n")
    s.settimeout(5)
    if not s.recv(200).startswith(b"234"):
        s.close(); return
    if rng.random() < 0.5:
        # A handshake cut after a random number of bytes of a real ClientHello.
        inner = socket.socketpair()
        try:
            tls = CTX.wrap_socket(inner[0], do_handshake_on_connect=False)
            inner[0].setblocking(False)
            try:
                tls.do_handshake()
            except ssl.SSLWantReadError:
                pass
            hello = inner[1].recv(65536)
            s.sendall(hello[:rng.randrange(1, len(hello))])
        finally:
            inner[0].close(); inner[1].close()
    else:
        s.sendall(os.urandom(rng.randrange(1, 600)))
    time.sleep(rng.random() * 0.5)
    s.close()


def scenario_nonreader(rng):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(3); s.connect((HOST, PORT)); login(s)
    try:
        s.sendall(b"HELP\r\nSTAT .\r\n" * rng.randrange(100, 3000))
    except OSError:
        pass
    time.sleep(rng.random() * 2)
    s.close()


SCENARIOS = [scenario_valid, scenario_garbage, scenario_data, scenario_tls, scenario_nonreader]
failures = []
stop = time.time() + SECONDS


def worker(index):
    rng = random.Random(SEED + index)
    while time.time() < stop:
        try:
            rng.choice(SCENARIOS)(rng)
        except AssertionError as e:
            failures.append("client %d: %s" % (index, e))
        except (OSError, EOFError, ftplib.Error):
            pass  # hostile clients get refused, reset and timed out: that is the point


def probe():
    served = 0
    payload = os.urandom(100000)
    while time.time() < stop:
        try:
            f = ftplib.FTP(); f.connect(HOST, PORT, timeout=15); f.login("alice", "secret")
            f.storbinary("STOR probe.bin", io.BytesIO(payload))
            got = bytearray(); f.retrbinary("RETR probe.bin", got.extend)
            if bytes(got) != payload:
                failures.append("probe: download differs")
            f.quit(); served += 1
        except Exception as e:
            failures.append("probe: %r" % (e,))
        time.sleep(0.2)
    return served


# Warm up first: the first listing starts libdispatch's worker machinery (an epoll, an eventfd and a
# timerfd, once per process), which is not a leak.
warm = ftplib.FTP(); warm.connect(HOST, PORT, timeout=10); warm.login("alice", "secret")
warm.nlst(); warm.sendcmd("STAT ."); warm.quit()
time.sleep(0.5)
start_fds, start_rss = fds(), rss_mib()
threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(CLIENTS)]
for t in threads: t.start()
served = probe()
for t in threads: t.join(30)
if not alive():
    sys.exit("the server died (seed %d)" % SEED)
settled = fds()
for _ in range(150):
    if settled <= start_fds: break
    time.sleep(0.2); settled = fds()
end_rss = rss_mib()
print("probe sessions served %d; descriptors %d at start, %d at the end; RSS %d -> %d MiB" % (served, start_fds, settled, start_rss, end_rss), flush=True)
if settled > start_fds:
    failures.append("descriptors: %d at start, %d after every client left" % (start_fds, settled))
slack = int(os.environ.get("RSS_SLACK_MIB", "64"))
if end_rss > start_rss + slack:
    failures.append("RSS grew from %d to %d MiB" % (start_rss, end_rss))
if served == 0:
    failures.append("the probe was never served")
if failures:
    sys.exit("soak failed (seed %d):\n" % SEED + "\n".join(failures[:20]))
print("soak ok")
