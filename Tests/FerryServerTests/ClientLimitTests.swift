import FTPCore
@testable import FerryServer
import Testing

/// Bans and per-address limits count an IPv6 client by its /64, an IPv4 client by its address.
@Suite struct ClientLimitTests {
    @Test func bansCoverTheWholeIPv6Slash64() throws {
        let bans = LoginBans(maxFailures: 2, banSeconds: 60)
        #expect(bans.failed(try #require(IPAddress("2001:db8:1:2::1")), now: 100) == nil)
        #expect(bans.failed(try #require(IPAddress("2001:db8:1:2:ffff::9")), now: 100) == 60)
        #expect(bans.remainingBan(try #require(IPAddress("2001:db8:1:2:abcd::1")), now: 110) == 50)
        #expect(bans.remainingBan(try #require(IPAddress("2001:db8:1:3::1")), now: 110) == nil)
        #expect(bans.remainingBan(.v4(192, 0, 2, 1), now: 110) == nil)
    }

    @Test func perAddressLimitCountsTheSlash64() throws {
        let limiter = SessionLimiter(maxTotal: 100, maxPerAddress: 2)
        let first = try #require(IPAddress("2001:db8::1"))
        #expect(limiter.admit(first) == nil)
        #expect(limiter.admit(try #require(IPAddress("2001:db8::2"))) == nil)
        #expect(limiter.admit(try #require(IPAddress("2001:db8::3"))) != nil)
        #expect(limiter.admit(try #require(IPAddress("2001:db8:0:1::3"))) == nil)
        limiter.release(first)
        #expect(limiter.admit(try #require(IPAddress("2001:db8::4"))) == nil)
        #expect(limiter.admit(.v4(192, 0, 2, 1)) == nil)
        #expect(limiter.admit(.v4(192, 0, 2, 2)) == nil)
        #expect(limiter.open == 5)
    }
}
