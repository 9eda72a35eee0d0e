/// AUTH, PBSZ and PROT (RFC 2228, RFC 4217): TLS on the control connection and the protection
/// level of data connections.
extension Session {
    mutating func auth(_ argument: String) -> [SessionEffect] {
        switch argument.uppercased() {
        case "TLS", "TLS-C", "SSL", "TLS-P":
            if tlsActive { return reply(.badSequence, "TLS is already active.") }
            if account != nil { return reply(.badSequence, "AUTH must come before login.") }
            tlsActive = true
            login = .awaitingUser
            return [.reply(Reply(.authOK, "AUTH \(argument.uppercased()) ok: start the TLS handshake.")), .upgradeToTLS]
        case "":
            return reply(.syntaxErrorInArguments, "Syntax: AUTH TLS.")
        default:
            return reply(.notImplementedForParameter, "AUTH \(argument) not supported; use AUTH TLS.")
        }
    }

    mutating func protectionBufferSize(_ argument: String) -> [SessionEffect] {
        guard tlsActive else { return reply(.badSequence, "PBSZ needs AUTH TLS first.") }
        guard UInt32(argument) != nil else { return reply(.syntaxErrorInArguments, "Syntax: PBSZ 0.") }
        protectionBufferSet = true
        return reply(.commandOK, "PBSZ=0")
    }

    mutating func protection(_ argument: String) -> [SessionEffect] {
        guard tlsActive, protectionBufferSet else { return reply(.badSequence, "PROT needs AUTH TLS and PBSZ first.") }
        switch argument.uppercased() {
        case "P":
            dataProtected = true
            return reply(.commandOK, "Data connections will be protected (TLS).")
        case "C":
            if policy.requireTLS { return reply(.policyDenied, "PROT C refused: this server requires TLS on data connections.") }
            dataProtected = false
            return reply(.commandOK, "Data connections will be in clear text.")
        case "S", "E":
            return reply(.protectionLevelNotSupported, "PROT \(argument.uppercased()) not supported; use PROT P.")
        default:
            return reply(.notImplementedForParameter, "Unknown protection level \(argument); use PROT P or C.")
        }
    }

    /// 521 before a transfer over a clear-text data connection when policy requires TLS.
    func requireDataProtection() -> [SessionEffect]? {
        guard policy.requireTLS && !dataProtected else { return nil }
        return reply(.dataProtectionRequired, "Data connections must be protected: send PBSZ 0 and PROT P first.")
    }
}
