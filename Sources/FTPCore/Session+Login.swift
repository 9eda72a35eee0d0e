/// USER, PASS, QUIT and the answers to authentication (RFC 959 §4.1.1).
extension Session {
    static let anonymousNames: Set<String> = ["anonymous", "ftp"]

    mutating func user(_ name: String) -> [SessionEffect] {
        if let missing = requireArgument(name) { return missing }
        switch login {
        case .loggedIn: return reply(.badSequence, "Already logged in; reconnect to log in as someone else.")
        case .authenticating: return reply(.badSequence, "Login in progress.")
        case .awaitingUser, .awaitingPassword: break
        }
        login = .awaitingPassword(name)
        if policy.anonymousAllowed && Session.anonymousNames.contains(name.lowercased()) {
            return reply(.needPassword, "Anonymous login ok, send your e-mail address as password.")
        }
        if clientCertificateNames.contains(name) {
            login = .authenticating(certificateFor: name)
            return [.authenticateCertificate(user: name)]
        }
        return reply(.needPassword, "Password required for \(name).")
    }

    /// The client certificate names the user, who still needs a password.
    public mutating func passwordRequired() -> [SessionEffect] {
        guard case .authenticating(let name?) = login, !closed else { return [] }
        login = .awaitingPassword(name)
        return reply(.needPassword, "Password required for \(name).")
    }

    mutating func pass(_ password: String) -> [SessionEffect] {
        guard case .awaitingPassword(let name) = login else {
            if account != nil { return reply(.badSequence, "Already logged in.") }
            return reply(.badSequence, "Send USER first.")
        }
        login = .authenticating(certificateFor: nil)
        if policy.anonymousAllowed && Session.anonymousNames.contains(name.lowercased()) {
            return [.authenticateAnonymous]
        }
        return [.authenticate(user: name, password: Password(password), certified: clientCertificateNames.contains(name))]
    }

    /// Credentials checked out: enter the home.
    public mutating func loginSucceeded(_ account: Account, fileSystem: any FileSystem) -> [SessionEffect] {
        guard case .authenticating(let certificateFor) = login, !closed else { return [] }
        login = .loggedIn(account)
        self.fileSystem = fileSystem
        machineFacts = MachineFacts(selected: machineFacts.selected, writable: !account.readOnly)
        if account.isAnonymous {
            return reply(.loggedIn, "Anonymous access granted: read-only.")
        }
        if certificateFor != nil {
            return reply(.loggedInBySecurityExchange, "User \(account.name) logged in by client certificate\(account.readOnly ? " (read-only)" : "").")
        }
        return reply(.loggedIn, "User \(account.name) logged in\(account.readOnly ? " (read-only)" : "").")
    }

    /// Wrong user or password (the caller has already held it back for `failureDelayMilliseconds`).
    public mutating func loginFailed() -> [SessionEffect] {
        guard case .authenticating = login, !closed else { return [] }
        login = .awaitingUser
        loginFailures += 1
        if loginFailures >= policy.maxLoginFailures {
            return closeWith(Reply(.serviceNotAvailable, "Too many failed logins: closing control connection."))
        }
        return reply(.notLoggedIn, "Login incorrect.")
    }

    /// The home could not be opened after the password matched (missing folder, permissions).
    public mutating func loginUnavailable(_ reason: String) -> [SessionEffect] {
        guard case .authenticating = login, !closed else { return [] }
        login = .awaitingUser
        return reply(.notLoggedIn, "Login failed: \(reason).")
    }

    /// How long the caller should hold the next failure's reply.
    public var nextFailureDelayMilliseconds: Int {
        SessionPolicy.failureDelayMilliseconds(attempt: loginFailures + 1)
    }

    /// During a transfer the connection stays open for the transfer's result, then closes (RFC 959
    /// §4.1.1). The 221 goes out at once: a client may wait for it before it finishes an upload, and
    /// holding it until the transfer ended would leave both sides waiting.
    mutating func quit() -> [SessionEffect] {
        guard transferRunning else { return closeWith(Reply(.closingControl, "Goodbye.")) }
        quitAfterTransfer = true
        return reply(.closingControl, "Goodbye: the transfer's result follows, then the connection closes.")
    }
}
