/// PASV, EPSV, PORT and EPRT (RFC 959, RFC 2428), with the RFC 2577 bounce defence:
/// active connections go only to the control connection's own peer, on a port ≥ 1024.
extension Session {
    mutating func passive(extended: Bool, _ argument: String) -> [SessionEffect] {
        if extended {
            switch argument.uppercased() {
            case "ALL":
                extendedPassiveOnly = true
                return reply(.commandOK, "EPSV ALL ok: only EPSV will be accepted from now on.")
            case "":
                break
            case "1", "2":
                if (argument == "2") != controlIsIPv6 {
                    return reply(.protocolNotSupported, "Network protocol not supported, use (\(controlIsIPv6 ? 2 : 1)).")
                }
            default:
                return reply(.syntaxErrorInArguments, "EPSV takes 1, 2 or ALL.")
            }
        } else {
            if extendedPassiveOnly { return reply(.badSequence, "PASV refused after EPSV ALL; use EPSV.") }
            if controlIsIPv6 && !peer.isIPv4 {
                return reply(.cannotOpenDataConnection, "PASV cannot express an IPv6 address; use EPSV.")
            }
        }
        pendingPassiveExtended = extended
        dataSetup = .openingPassive
        return [.openPassiveListener]
    }

    /// The passive listener is up; `address` is what PASV announces.
    public mutating func passiveListenerReady(address: IPAddress, port: UInt16) -> [SessionEffect] {
        guard dataSetup == .openingPassive else { return [.closePassiveListener] }
        dataSetup = .passive
        if pendingPassiveExtended {
            return reply(.enteringExtendedPassive, "Entering Extended Passive Mode \(DataAddressCodec.formatExtendedPassive(port: port))")
        }
        guard let text = DataAddressCodec.formatPassive(address, port: port) else {
            dataSetup = .none
            return [.closePassiveListener, .reply(Reply(.cannotOpenDataConnection, "PASV cannot express an IPv6 address; use EPSV."))]
        }
        return reply(.enteringPassive, "Entering Passive Mode (\(text)).")
    }

    public mutating func passiveListenerFailed(_ reason: String) -> [SessionEffect] {
        guard dataSetup == .openingPassive else { return [] }
        dataSetup = .none
        return reply(.cannotOpenDataConnection, "Cannot open passive connection: \(reason).")
    }

    mutating func port(_ argument: String) -> [SessionEffect] {
        if extendedPassiveOnly { return reply(.badSequence, "PORT refused after EPSV ALL; use EPSV.") }
        switch DataAddressCodec.parsePort(argument) {
        case .failure: return reply(.syntaxErrorInArguments, "Syntax: PORT h1,h2,h3,h4,p1,p2.")
        case .success(let (address, port)): return setActive(address, port, verb: "PORT")
        }
    }

    mutating func extendedPort(_ argument: String) -> [SessionEffect] {
        if extendedPassiveOnly { return reply(.badSequence, "EPRT refused after EPSV ALL; use EPSV.") }
        switch DataAddressCodec.parseExtendedPort(argument) {
        case .failure(.unsupportedProtocol): return reply(.protocolNotSupported, "Network protocol not supported, use (1,2).")
        case .failure: return reply(.syntaxErrorInArguments, "Syntax: EPRT |1|a.b.c.d|port| or |2|ipv6|port|.")
        case .success(let (address, port)): return setActive(address, port, verb: "EPRT")
        }
    }

    private mutating func setActive(_ address: IPAddress, _ port: UInt16, verb: String) -> [SessionEffect] {
        guard address.normalised == peer else {
            return reply(.syntaxErrorInArguments, "\(verb) refused: data connections go only to your own address (\(peer)).")
        }
        guard port >= 1024 else {
            return reply(.syntaxErrorInArguments, "\(verb) refused: port \(port) is privileged.")
        }
        var effects: [SessionEffect] = dataSetup == .passive ? [.closePassiveListener] : []
        dataSetup = .active(address.normalised, port)
        effects.append(.reply(Reply(.commandOK, "\(verb) command successful.")))
        return effects
    }

    /// 425 before a transfer command that no PASV/EPSV/PORT/EPRT prepared (checked before anything
    /// else, so the client learns the real problem first).
    func requireDataConnection() -> [SessionEffect]? {
        if let refusal = requireDataProtection() { return refusal }
        switch dataSetup {
        case .passive, .active: return nil
        case .none, .openingPassive: return reply(.cannotOpenDataConnection, "Use PASV, EPSV, PORT or EPRT first.")
        }
    }

    /// The endpoint for the next transfer, or the 425 reply when none was set up.
    mutating func takeEndpoint() -> Result<DataEndpoint, Reply> {
        switch dataSetup {
        case .passive:
            dataSetup = .none
            return .success(.passive)
        case .active(let address, let port):
            dataSetup = .none
            return .success(.active(address, port))
        case .none, .openingPassive:
            return .failure(Reply(.cannotOpenDataConnection, "Use PASV, EPSV, PORT or EPRT first."))
        }
    }
}
