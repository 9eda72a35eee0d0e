import FTPCore
import Testing

@Suite struct SessionSecurityTests {
    func harness(requireTLS: Bool = false, implicit: Bool = false) -> Harness {
        var h = Harness()
        h.session = Session(policy: SessionPolicy(anonymousAllowed: false, tlsAvailable: true, requireTLS: requireTLS),
                            peer: .v4(127, 0, 0, 1), controlIsIPv6: false, implicitTLS: implicit, clock: { 0 })
        return h
    }

    @Test func authUpgradesAndIsOfferedOnlyWithTLS() {
        var h = harness()
        let feat = h.send("FEAT").text
        #expect(feat.contains(" AUTH TLS\r\n") && feat.contains(" PBSZ\r\n") && feat.contains(" PROT\r\n"))
        #expect(h.send("HELP").text.contains("AUTH"))
        #expect(h.codes("PBSZ 0") == [503])
        #expect(h.codes("AUTH GSSAPI") == [504])
        let effects = h.send("AUTH TLS")
        #expect(effects.replies.map(\.code) == [.authOK])
        #expect(effects.last == .upgradeToTLS)
        #expect(h.codes("AUTH TLS") == [503])
        #expect(h.codes("PROT P") == [503])
        #expect(h.send("PBSZ 0").text == "200 PBSZ=0\r\n")
        #expect(h.codes("PBSZ x") == [501])
        #expect(h.codes("PROT S") == [536])
        #expect(h.codes("PROT Q") == [504])
        #expect(h.codes("PROT P") == [200])
        #expect(h.codes("CCC") == [534])
        h.login()
        _ = h.send("PORT 127,0,0,1,4,1")
        guard case .startTransfer(let request) = h.send("RETR a.txt").last else {
            Issue.record("no transfer")
            return
        }
        #expect(request.protected)
        #expect(h.session.transferFinished(.dataConnectionInsecure("not resumed")).replies.map(\.code) == [.protocolNotSupported])
    }

    /// A client certificate naming the user: USER asks below whether it is enough (232 if so, 331
    /// if the user also needs a password); PASS says whether the certificate names the user.
    @Test func aClientCertificateNamingTheUser() {
        var h = harness(implicit: true)
        h.session.clientCertificateNames = ["Alice Example", "alice"]
        #expect(h.send("USER alice") == [.authenticateCertificate(user: "alice")])
        #expect(h.session.isBusy, "commands wait while the certificate is checked")
        let granted = h.session.loginSucceeded(Account(name: "alice", readOnly: false), fileSystem: h.fs)
        #expect(granted.replies.map(\.code) == [.loggedInBySecurityExchange])
        #expect(h.session.account?.name == "alice")

        var twoFactor = harness(implicit: true)
        twoFactor.session.clientCertificateNames = ["bob"]
        _ = twoFactor.send("USER bob")
        #expect(twoFactor.session.passwordRequired().replies.map(\.code) == [.needPassword])
        #expect(twoFactor.send("PASS pw") == [.authenticate(user: "bob", password: Password("pw"), certified: true)])
        #expect(twoFactor.session.loginSucceeded(Account(name: "bob", readOnly: false), fileSystem: twoFactor.fs).replies.map(\.code) == [.loggedIn])

        var other = harness(implicit: true)
        other.session.clientCertificateNames = ["alice"]
        #expect(other.codes("USER bob") == [331], "a certificate for someone else is not tried")
        #expect(other.send("PASS pw") == [.authenticate(user: "bob", password: Password("pw"), certified: false)])
        #expect(other.session.passwordRequired().isEmpty, "only a certificate attempt can ask for a password")
    }

    @Test func withoutTLSTheCommandsDoNotExist() {
        var h = Harness()
        #expect(h.codes("AUTH TLS") == [502])
        #expect(h.codes("PROT P") == [502])
        #expect(h.codes("CCC") == [502])
    }

    @Test func requireTLSRefusesPlaintext() {
        var h = harness(requireTLS: true)
        #expect(h.send("USER alice").text.hasPrefix("530 TLS is required"))
        #expect(h.codes("PASS x") == [530])
        _ = h.send("AUTH TLS")
        #expect(h.codes("USER alice") == [331])
        _ = h.send("PASS secret")
        _ = h.session.loginSucceeded(Account(name: "alice", readOnly: false), fileSystem: h.fs)
        _ = h.send("PBSZ 0")
        #expect(h.codes("PROT C") == [534])
        _ = h.send("PASV")
        #expect(h.codes("LIST") == [521])
        #expect(h.codes("PROT P") == [200])
    }

    @Test func implicitTLSProtectsDataByDefault() {
        var h = harness(implicit: true)
        #expect(h.codes("AUTH TLS") == [503])
        h.login()
        _ = h.send("PORT 127,0,0,1,4,1")
        guard case .startTransfer(let request) = h.openDirectory(h.send("NLST")).last else {
            Issue.record("no transfer")
            return
        }
        #expect(request.protected)
    }
}
