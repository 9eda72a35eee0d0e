@testable import FerryServer
import FTPCore
import FerryReactor
import Dispatch
import Glibc
import Synchronization
import Testing

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let now = Atomic<UInt64>(1_000_000_000)
    var clock: MonotonicClock { MonotonicClock { self.now.load(ordering: .relaxed) } }
    func advance(milliseconds: UInt64) { now.add(milliseconds * 1_000_000, ordering: .relaxed) }
}

@Suite struct TokenBucketTests {
    @Test func aBucketHoldsATenthOfASecondAndRefillsAtItsRate() {
        let time = ManualClock()
        let bucket = TokenBucket(bytesPerSecond: 1_000_000, clock: time.clock)
        #expect(bucket.available() == 100_000)
        bucket.consume(100_000)
        #expect(bucket.available() == 0)
        #expect(bucket.millisecondsUntilReady() == 17, "16 KiB at 1 MB/s")
        time.advance(milliseconds: 50)
        #expect(bucket.available() == 50_000)
        time.advance(milliseconds: 10_000)
        #expect(bucket.available() == 100_000, "never more than the burst")
        #expect(bucket.millisecondsUntilReady() == 0)
    }

    @Test func aSlowRateStillAllowsSixteenKiBBursts() {
        let time = ManualClock()
        let bucket = TokenBucket(bytesPerSecond: 1024, clock: time.clock)
        #expect(bucket.available() == 16 * 1024)
        bucket.consume(20_000)
        #expect(bucket.available() < 0)
        time.advance(milliseconds: 1000)
        #expect(bucket.available() == 16 * 1024 - 20_000 + 1024)
    }
}

@Suite struct LoginBansTests {
    private let address = IPAddress("192.0.2.7")!

    @Test func theNthFailureBansForTheBanTimeThenItEnds() {
        let bans = LoginBans(maxFailures: 3, banSeconds: 60)
        #expect(bans.failed(address, now: 100) == nil)
        #expect(bans.failed(address, now: 101) == nil)
        #expect(bans.remainingBan(address, now: 101) == nil)
        #expect(bans.failed(address, now: 102) == 60)
        #expect(bans.remainingBan(address, now: 102) == 60)
        #expect(bans.remainingBan(address, now: 161) == 1)
        #expect(bans.remainingBan(address, now: 162) == nil)
    }

    @Test func oldFailuresAreForgottenAndIPv6CountsPerSlash64() {
        let bans = LoginBans(maxFailures: 2, banSeconds: 10)
        #expect(bans.failed(address, now: 0) == nil)
        #expect(bans.failed(address, now: 11) == nil, "the first failure is older than the ban time")
        #expect(bans.failed(IPAddress("2001:db8::1")!, now: 0) == nil)
        #expect(bans.failed(IPAddress("2001:db8::ffff:2")!, now: 1) == 10, "same /64")
        #expect(bans.remainingBan(IPAddress("2001:db8::9")!, now: 2) == 9)
        #expect(bans.remainingBan(IPAddress("2001:db8:0:1::9")!, now: 2) == nil)
    }
}

@Suite struct PassivePortAllocatorTests {
    @Test func aRangeOfTwoHandsOutBothThenSaysExhausted() throws {
        let local = try #require(SocketAddress(host: "127.0.0.1", port: 0))
        // Two free neighbouring ports, found by binding and releasing.
        var ports: [UInt16] = []
        for _ in 0..<50 where ports.count < 2 {
            let probe = try Sockets.listen(on: local, reusePort: false, backlog: 1)
            let port = try #require(SocketAddress.local(of: probe.rawValue)?.port)
            probe.close()
            if port < UInt16.max, let next = SocketAddress(host: "127.0.0.1", port: port + 1),
               let second = try? Sockets.listen(on: next, reusePort: false, backlog: 1) {
                second.close()
                ports = [port, port + 1]
            }
        }
        try #require(ports.count == 2)
        let allocator = PassivePortAllocator(range: ports[0]...ports[1])
        let first = try allocator.open(on: local)
        let second = try allocator.open(on: local)
        let got = Set([SocketAddress.local(of: first.rawValue)?.port, SocketAddress.local(of: second.rawValue)?.port].compactMap { $0 })
        #expect(got == Set(ports))
        #expect(throws: SystemError.self) { _ = try allocator.open(on: local) }
        let freed = try #require(SocketAddress.local(of: first.rawValue)?.port)
        first.close()
        allocator.release(freed)
        let again = try allocator.open(on: local)
        #expect(SocketAddress.local(of: again.rawValue)?.port == freed)
    }
}

@Suite struct UsersFileTests {
    private let hash = "$6$salt$abcdefghijklmnopqrstuvwxyz"

    @Test func aUsersFileRoundTripsWithLimits() throws {
        let text = "# comment\nalice:\(hash):/srv/alice:rw:download-rate=1M,quota=50G,umask=027,client-cert=with-password\nbob:\(hash):/srv/bob:ro\r\n"
        let file = try UsersFile.parse(text, source: "users")
        #expect(file.records.map(\.name) == ["alice", "bob"])
        let alice = try #require(file.record(named: "alice"))
        #expect(alice.limits.downloadRate == 1 << 20 && alice.limits.quota == 50 << 30 && alice.limits.umask == 0o027)
        #expect(alice.limits.clientCertificate == .withPassword)
        #expect(file.record(named: "bob")?.readOnly == true)
        #expect(try UsersFile.parse(file.serialized, source: "again").records == file.records)
    }

    @Test(arguments: [
        ("alice:\(String(repeating: "x", count: 5)):/srv:rw", "users:1: the hash for alice is not a crypt(3) hash"),
        ("alice:$6$x$y:srv:rw", "users:1: home srv must be an absolute path"),
        ("alice:$6$x$y:/srv:rx", "users:1: permissions must be rw or ro, found rx"),
        ("a b:$6$x$y:/srv:rw", "users:1: user name a b may not contain"),
        ("alice:$6$x$y:/srv:rw\nalice:$6$x$y:/srv:rw", "users:2: user alice appears twice"),
        ("alice:$6$x$y:/srv:rw:quota=lots", "users:1: quota=lots: use a size, like 50G"),
        ("alice:$6$x$y:/srv:rw:speed=1", "users:1: unknown limit speed"),
        ("alice:$6$x$y:/srv:rw:client-cert=yes", "users:1: client-cert=yes: use with-password or without-password"),
        ("alice:$6$x$y:/srv", "users:1: expected name:hash:home:rw|ro[:limits], found 3 fields"),
    ])
    func everyMistakeNamesItsLine(text: String, message: String) {
        do {
            _ = try UsersFile.parse(text, source: "users")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
    }

    @Test func sizesTakeBinarySuffixesAndNeverOverflow() {
        #expect(ByteSize.parse("512") == 512)
        #expect(ByteSize.parse("64k") == 65_536)
        #expect(ByteSize.parse("10M") == 10 << 20)
        #expect(ByteSize.parse("1T") == 1 << 40)
        #expect(ByteSize.parse("16777216T") == nil, "2^64 bytes")
        #expect(ByteSize.parse("-1") == nil)
        #expect(ByteSize.parse("1.5G") == nil)
        #expect(ByteSize.parse("") == nil)
        #expect(ByteSize.parse("K") == nil)
    }
}

/// What a login needs under each `client-cert` rule, with and without a certificate naming the user.
@Suite struct AuthenticatorTests {
    private static let authenticator: Authenticator = {
        let hash = PasswordHasher.hash("pw", setting: "$6$rounds=1000$salt") ?? ""
        let records = [("plain", nil), ("both", ClientCertificateRule.withPassword), ("certonly", .withoutPassword)].map { name, rule in
            UserRecord(name: name, hash: hash, home: "/srv/" + name, readOnly: false, limits: UserLimits(clientCertificate: rule))
        }
        let file = UsersFile(records: records)
        return Authenticator(users: file, samples: file.sampleHashes(), anonymousRoot: "/srv")
    }()

    private func password(_ user: String, _ password: String, certified: Bool) -> Authenticator.Outcome {
        let outcome = Mutex<Authenticator.Outcome?>(nil)
        let done = DispatchSemaphore(value: 0)
        Self.authenticator.verify(user: user, password: Password(password), certified: certified) { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return outcome.withLock { $0 }!
    }

    private func certificate(_ user: String) -> Authenticator.Outcome {
        let outcome = Mutex<Authenticator.Outcome?>(nil)
        let done = DispatchSemaphore(value: 0)
        Self.authenticator.verifyCertificate(user: user) { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return outcome.withLock { $0 }!
    }

    private func accepted(_ outcome: Authenticator.Outcome) -> Bool {
        if case .accepted = outcome { return true }
        return false
    }

    @Test func eachRuleAsksForWhatItSays() {
        #expect(accepted(password("plain", "pw", certified: false)))
        #expect(!accepted(password("plain", "wrong", certified: true)))
        #expect(certificate("plain") == .passwordRequired, "a certificate alone is not enough without client-cert")
        #expect(accepted(password("both", "pw", certified: true)))
        #expect(!accepted(password("both", "pw", certified: false)), "the password alone is not enough")
        #expect(!accepted(password("both", "wrong", certified: true)))
        #expect(certificate("both") == .passwordRequired)
        #expect(accepted(certificate("certonly")))
        #expect(!accepted(password("certonly", "pw", certified: true)), "the password is never accepted for a certificate-only user")
        #expect(certificate("nobody") == .passwordRequired, "unknown names look like users that need a password")
    }
}

@Suite struct RecordsTests {
    @Test func anXferlogLineHasTheFieldsToolsExpect() {
        let line = XferLog.format(XferLog.Entry(seconds: 0, remoteHost: "192.0.2.1", bytes: 1234, path: "/srv/my file.txt", ascii: false,
                                                incoming: true, anonymous: false, user: "alice", complete: true), at: 0)
        let fields = line.dropLast().split(separator: " ", omittingEmptySubsequences: true)
        // Wed Dec 31 or Thu Jan 1 (local time), then 13 fields after the 5-part date.
        #expect(line.hasSuffix("\n"))
        #expect(Array(fields.suffix(13)) == ["1", "192.0.2.1", "1234", "/srv/my_file.txt", "b", "_", "i", "r", "alice", "ftp", "0", "*", "c"])
    }

    @Test func metricsRenderAsPrometheusText() {
        let metrics = Metrics()
        metrics.sessionStarted()
        metrics.login(succeeded: false)
        metrics.transfer(direction: "out", result: .complete, bytes: 42)
        let text = metrics.render(openSessions: 3, loopConnections: [2, 1])
        #expect(text.contains("# TYPE ferry_sessions_open gauge\nferry_sessions_open 3\n"))
        #expect(text.contains("ferry_sessions_total 1\n"))
        #expect(text.contains("ferry_logins_total{result=\"failed\"} 1\n"))
        #expect(text.contains("ferry_transfer_bytes_total{direction=\"out\"} 42\n"))
        #expect(text.contains("ferry_loop_sessions{loop=\"1\"} 1\n"))
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.split(separator: " ").count == 2, "\(line)")
        }
    }
}

@Suite struct LineEndingTests {
    /// A file saved on Windows: CRLF is one Swift Character, and splitting on "\n" used to leave
    /// the whole users file one line ("expected name:hash:home:rw|ro[:limits], found 7 fields").
    @Test func usersAndConfigFilesWithCRLFLineEndingsLoad() throws {
        let users = try UsersFile.parse("alice:$6$x$y:/srv/a:rw\r\nbob:$6$x$y:/srv/b:ro\r\n", source: "users")
        #expect(users.records.map(\.name) == ["alice", "bob"])
        #expect(TextFile.lines("a\r\nb\n\r\nc") == ["a", "b", "", "c"])
        let (entries, errors) = ConfigFile.parse("port = 2121\r\n# note\r\nanonymous = true\r\nbad\r\n", source: "f.toml")
        #expect(entries.map(\.key) == ["port", "anonymous"] && entries.map(\.line) == [1, 3])
        #expect(errors.map { $0.description.prefix(9) } == ["f.toml:4:"])
    }
}

@Suite struct PassiveAddressRulesTests {
    @Test func theFirstMatchingNetworkWinsThenTheDefault() throws {
        let rules = try PassiveAddressRules.parse(["10.0.0.0/8=10.0.0.5", "10.1.0.0/16=10.1.0.9", "fd00::/8=192.168.1.1", "203.0.113.10"])
        #expect(rules.target(for: IPAddress("10.1.2.3")!) == .address(IPAddress("10.0.0.5")!))
        #expect(rules.target(for: IPAddress("::ffff:10.9.9.9")!) == .address(IPAddress("10.0.0.5")!))
        #expect(rules.target(for: IPAddress("fd12::1")!) == .address(IPAddress("192.168.1.1")!))
        #expect(rules.target(for: IPAddress("198.51.100.7")!) == .address(IPAddress("203.0.113.10")!))
        #expect(try PassiveAddressRules.parse(["127.0.0.2/32=ftp.Example.com"]).target(for: IPAddress("127.0.0.3")!) == nil)
        #expect(try PassiveAddressRules.parse(["0.0.0.0/0=ftp.Example.com"]).hostNames == ["ftp.example.com"])
    }

    @Test(arguments: [
        (["10.0.0.0/33=1.2.3.4"], "10.0.0.0/33 is not a network"),
        (["10.0.0.0/8=::1"], "::1 is not an IPv4 address"),
        (["1.2.3.4", "5.6.7.8"], "5.6.7.8: only one default address"),
        (["10/8=1.2.3.4"], "10/8 is not a network"),
        (["10.0.0.0/8=under_score"], "under_score is neither an IPv4 address nor a host name"),
        (["10.0.0.0/8="], " is neither"),
    ])
    func mistakesSayWhatToWrite(entries: [String], message: String) {
        #expect(throws: ConfigError.self) { try PassiveAddressRules.parse(entries) }
        do {
            _ = try PassiveAddressRules.parse(entries)
        } catch {
            #expect(error.description.hasPrefix(message) || error.description.contains(message), "\(error.description)")
        }
    }

    /// Only localhost (from /etc/hosts): a test must not send a DNS query off the machine.
    @Test func hostNamesResolveWhenRefreshed() throws {
        let rules = try PassiveAddressRules.parse(["127.0.0.0/8=localhost"])
        let resolver = PassiveAddressResolver(names: rules.hostNames)
        #expect(resolver.announce(rules, to: IPAddress("127.0.0.9")!) == nil, "not looked up yet")
        #expect(resolver.refresh().isEmpty)
        #expect(resolver.announce(rules, to: IPAddress("127.0.0.9")!) == IPAddress("127.0.0.1"))
    }
}
