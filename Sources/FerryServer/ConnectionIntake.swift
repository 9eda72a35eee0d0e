import CFerrySys
import FTPCore
import FerryReactor
import Glibc

/// A connection from the moment a loop accepted it to its session: the PROXY header when a trusted
/// load balancer sends one, the limits (a 421 when one is reached), then a `ControlConnection` on a
/// `Stream`, counted in its loop's `WorkerState` until it ends.
enum ConnectionIntake {
    /// A new connection on the loop that serves it: read its PROXY header first when
    /// `--proxy-protocol` expects one from this peer (the client it names is then the peer), refuse
    /// it when only trusted proxies may connect, else serve it as it is.
    static func arrived(socket: consuming Descriptor, peer: SocketAddress, implicitTLS: Bool, loop: (EventLoop, index: Int), state: FerryServer.WorkerState,
                        context: ServerContext, balancer: LoopBalancer) {
        let configuration = context.configuration
        let fromProxy = configuration.proxyProtocol != .off && configuration.proxyTrust.trusts(peer)
        guard fromProxy || configuration.proxyProtocol == .required else {
            return accept(socket: socket, peer: peer, implicitTLS: implicitTLS, loop: loop, state: state, context: context, balancer: balancer)
        }
        guard fromProxy else {
            context.logger.warning("connection refused: not from a trusted proxy (--proxy-protocol required; see --trusted-proxies)",
                                   metadata: ["peer": "\(peer)"])
            return balancer.release(loop.index)
        }
        _ = ProxyHeaderReader(socket: socket, loop: loop.0, timeoutSeconds: configuration.proxyProtocolTimeout) { reader, outcome in
            guard let socket = reader.takeSocket() else { return }
            switch outcome {
            case .header(let header):
                let client = header.source.flatMap { SocketAddress(host: "\($0.address)", port: $0.port) } ?? peer
                accept(socket: socket, peer: client, implicitTLS: implicitTLS, loop: loop, state: state, context: context, balancer: balancer)
            case .refused(let reason):
                context.logger.warning("connection refused: bad PROXY header", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
                balancer.release(loop.index)
            case .closedEmpty:
                context.logger.debug("connection from a trusted proxy closed before its PROXY header", metadata: ["peer": "\(peer)"])
                balancer.release(loop.index)
            }
        }
    }

    /// Serve a new connection on `loop` (its thread), or refuse it with 421.
    private static func accept(socket: consuming Descriptor, peer: SocketAddress, implicitTLS: Bool, loop: (EventLoop, index: Int), state: FerryServer.WorkerState,
                               context: ServerContext, balancer: LoopBalancer) {
        Sockets.setNoDelay(socket.rawValue)
        let address = IPAddress(peer.host)?.normalised ?? .v4(0, 0, 0, 0)
        var refusal: String?
        if state.draining {
            refusal = "Server is shutting down; try again shortly."
        } else if let remaining = context.bans.remainingBan(address, now: context.clock.seconds) {
            refusal = "Too many failed logins from your address: try again in \(remaining) seconds."
        } else if !context.descriptors.acquire(DescriptorBudget.perSession) {
            refusal = "Server is at its connection limit; try again later."
        } else {
            refusal = context.limiter.admit(address)
            if refusal != nil { context.descriptors.release(DescriptorBudget.perSession) }
        }
        let local = SocketAddress.local(of: socket.rawValue) ?? peer
        let connection = ControlConnection(loop: loop.0, context: context, local: local, peer: peer,
                                           implicitTLS: implicitTLS) { [unowned state] connection in
            state.sessions[ObjectIdentifier(connection)] = nil
            balancer.release(loop.index)
            if refusal == nil {
                context.limiter.release(connection.peerAddress)
                context.descriptors.release(DescriptorBudget.perSession)
            }
        }
        _ = ferry_set_oobinline(socket.rawValue)
        connection.attach(Stream(loop: loop.0, socket: socket, tls: connection.tls.initial, handshakeTimeoutMilliseconds: context.configuration.dataConnectionTimeout * 1000,
                                 onRead: { [weak connection] in connection?.received($0) },
                                 onClose: { [weak connection] in connection?.streamClosed($0) },
                                 onSecured: { [weak connection] in connection?.streamSecured() }))
        if refusal == nil {
            state.sessions[ObjectIdentifier(connection)] = connection
            context.metrics.sessionStarted()
        } else {
            context.metrics.sessionRefused()
        }
        connection.start(refusal: refusal)
    }
}
