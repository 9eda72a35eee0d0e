import FTPCore
import FerryReactor
import Logging

/// A data connection that came up, ready for a transfer: the socket, and its TLS endpoint under PROT P.
struct DataConnection: ~Copyable {
    var socket: Descriptor
    let tls: TLSConnection?
}

/// One session's data connection until a transfer takes it: the passive listener (PASV/EPSV) or the
/// active connect (PORT/EPRT), the accept/connect timeout, the TLS wrap under PROT P, and the
/// descriptors `DescriptorBudget` lends for it (held from PASV or the connect until the transfer ends).
final class DataChannel {
    private let loop: any Scheduler
    private let context: ServerContext
    private let local: SocketAddress
    private let peerAddress: IPAddress
    /// The control connection's TLS session context: a data connection may resume only its sessions.
    private let tlsSessionContext: [UInt8]
    private let logger: Logger
    private var passive: PassiveListener?
    private var connector: ActiveConnector?
    private var connectTimer: (any LoopTimer)?
    private var holdsDescriptors = false

    init(loop: any Scheduler, context: ServerContext, local: SocketAddress, peerAddress: IPAddress,
         tlsSessionContext: [UInt8], logger: Logger) {
        self.loop = loop
        self.context = context
        self.local = local
        self.peerAddress = peerAddress
        self.tlsSessionContext = tlsSessionContext
        self.logger = logger
    }

    /// PASV/EPSV: listen on a free passive port; the address and port to announce, or why not. Under
    /// PROT P (`protected`) the connection's TLS handshake starts when it arrives.
    func openPassive(protected: Bool) -> Result<(address: IPAddress, port: UInt16), DataChannelError> {
        stopWaiting()
        guard reserveDescriptors() else {
            logger.warning("passive listener refused: descriptor budget exhausted")
            return .failure(DataChannelError("too many connections in use, try again shortly"))
        }
        do {
            let tls = protected ? context.tls.map { DataTLS(context: $0, sessionContext: tlsSessionContext) } : nil
            let configuration = context.configuration
            let listener = try PassiveListener(loop: loop, local: local, expectedPeer: peerAddress, allocator: context.passivePorts, tls: tls,
                                               proxy: configuration.proxyProtocolData ? configuration.proxyTrust : nil)
            passive = listener
            let announced = context.passiveAddressResolver.announce(context.configuration.passiveAddresses, to: peerAddress)
                ?? IPAddress(local.host) ?? .v4(127, 0, 0, 1)
            return .success((announced, listener.port))
        } catch {
            releaseDescriptors()
            logger.warning("passive listener failed", metadata: ["error": "\(error)"])
            return .failure(DataChannelError(error.reason))
        }
    }

    /// Get the data connection `request` names: take the passive one, or connect out. Exactly one of
    /// the handlers runs, on the loop, unless `close` comes first; a failure is the outcome to report.
    func connect(for request: TransferRequest, onConnected: @escaping (consuming DataConnection) -> Void,
                 onFailed: @escaping (TransferOutcome) -> Void) {
        let seconds = context.configuration.dataConnectionTimeout
        connectTimer = loop.timer { [weak self] in
            self?.stopWaiting()
            onFailed(.dataConnectionFailed("timed out after \(seconds) seconds"))
        }
        connectTimer?.schedule(timeoutMilliseconds: seconds * 1000)
        let arrived: (consuming DataConnection) -> Void = { [weak self] connection in
            guard let self else { return }
            self.stopWaiting()
            switch self.secure(connection, protected: request.protected) {
            case .success(let connection): onConnected(connection)
            case .failure(let outcome): onFailed(outcome)
            }
        }
        switch request.endpoint {
        case .passive:
            guard let passive else { return onFailed(.dataConnectionFailed("no passive listener")) }
            passive.takeConnection(arrived) { [weak self] reason in
                self?.stopWaiting()
                onFailed(.dataConnectionInsecure(reason))
            }
        case .active(let address, let port):
            guard reserveDescriptors() else { return onFailed(.dataConnectionFailed("too many connections in use, try again shortly")) }
            guard let remote = SocketAddress(host: address.description, port: port) else {
                return onFailed(.dataConnectionFailed("bad address \(address)"))
            }
            do {
                connector = try ActiveConnector(loop: loop, to: remote, from: local, onConnected: {
                    arrived(DataConnection(socket: $0, tls: nil))
                }) { [weak self] error in
                    self?.stopWaiting()
                    onFailed(.dataConnectionFailed(error.description))
                }
            } catch {
                onFailed(.dataConnectionFailed(error.description))
            }
        }
    }

    /// Under PROT P the connection is a TLS server endpoint bound to the control connection's
    /// sessions: a passive one may already have started its handshake (see `PassiveListener`).
    private func secure(_ connection: consuming DataConnection, protected: Bool) -> WrapResult {
        let started = connection.tls != nil
        guard protected != started else { return .success(connection) }
        guard protected else {
            return .failure(.dataConnectionFailed("PROT C came after the data connection began TLS; open a new data connection"))
        }
        guard let tlsContext = context.tls else { return .failure(.dataConnectionInsecure("TLS is not configured")) }
        let socket = connection.socket
        do {
            let tls = try TLSConnection(context: tlsContext, fd: socket.rawValue, sessionContext: tlsSessionContext)
            return .success(DataConnection(socket: socket, tls: tls))
        } catch {
            return .failure(.dataConnectionInsecure(error.description))
        }
    }

    /// Drop the listener or connect under way and give back the descriptors: when a transfer ends,
    /// when the client asks for no data connection after all, and at the session's end. Idempotent.
    func close() {
        stopWaiting()
        releaseDescriptors()
    }

    private func stopWaiting() {
        if passive?.heldUnused == true { logger.notice("data connection closed unused: no transfer command came for it") }
        passive?.close()
        passive = nil
        connector?.cancel()
        connector = nil
        connectTimer?.cancel()
        connectTimer = nil
    }

    /// Hold the descriptors a transfer needs (see `DescriptorBudget`), once per transfer.
    private func reserveDescriptors() -> Bool {
        if holdsDescriptors { return true }
        holdsDescriptors = context.descriptors.acquire(DescriptorBudget.perTransfer)
        return holdsDescriptors
    }

    private func releaseDescriptors() {
        guard holdsDescriptors else { return }
        holdsDescriptors = false
        context.descriptors.release(DescriptorBudget.perTransfer)
    }
}

/// Why a passive listener could not be opened (the text goes into the 425 reply).
struct DataChannelError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// A wrapped connection, or the outcome that refused it (noncopyable, so not a `Result`).
private enum WrapResult: ~Copyable {
    case success(DataConnection)
    case failure(TransferOutcome)
}
