import FTPCore
import FerryReactor
import Glibc

/// Reads the PROXY protocol header a trusted load balancer sends before a connection's own bytes,
/// on the loop and without blocking it. It takes only the header's bytes: each turn peeks at what
/// arrived and consumes no more than the header can still hold, so an implicit-TLS ClientHello that
/// follows stays in the socket for the TLS layer. A header that is broken, or not complete within
/// the timeout (a slow or silent peer), ends the connection. Keeps itself alive through its
/// watchers' handlers until it reports, once.
final class ProxyHeaderReader {
    enum Outcome {
        case header(ProxyHeader)
        /// Why the connection was not served (for the log).
        case refused(String)
        /// Closed before sending a byte: a TCP health check or a port probe, not worth a warning.
        case closedEmpty
    }

    private var socket: Descriptor?
    private var received: [UInt8] = []
    private var watcher: (any ReadinessWatcher)?
    private var timer: (any LoopTimer)?
    private var report: ((ProxyHeaderReader, Outcome) -> Void)?

    /// `report` gets the outcome once, with the reader to take the socket from.
    init(socket: consuming Descriptor, loop: any Scheduler, timeoutSeconds: Int, report: @escaping (ProxyHeaderReader, Outcome) -> Void) {
        let fd = socket.rawValue
        self.socket = consume socket
        self.report = report
        watcher = loop.watch(fd, .read) { _ in self.readable() }
        timer = loop.timer { self.finish(.refused("no complete PROXY header within \(timeoutSeconds) seconds")) }
        watcher?.schedule(timeoutMilliseconds: nil)
        timer?.schedule(timeoutMilliseconds: timeoutSeconds * 1000)
    }

    /// The connection, for whoever serves it (nil once taken).
    func takeSocket() -> Descriptor? {
        socket.take()
    }

    private func readable() {
        guard let fd = socket?.rawValue else { return }
        var peeked = [UInt8](repeating: 0, count: ProxyHeader.maximumV2Length - received.count)
        let count: Int
        do {
            switch try syscall("recv", { peeked.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK)) } }) {
            case .wouldBlock: return
            case .processed(0): return finish(received.isEmpty ? .closedEmpty : .refused("the connection closed before its PROXY header was complete"))
            case .processed(let n): count = n
            }
        } catch {
            return finish(.refused(error.description))
        }
        let parse = ProxyHeader.parse(received + peeked[0..<count])
        let take: Int
        switch parse {
        case .header(let header): take = header.length - received.count
        case .incomplete: take = count
        case .invalid(let reason): return finish(.refused(reason))
        }
        // These bytes were just peeked, so they are there to read: take exactly them, nothing after.
        do {
            guard case .processed(take) = try syscall("recv", { peeked.withUnsafeMutableBytes { recv(fd, $0.baseAddress, take, 0) } }) else {
                return finish(.refused("the PROXY header could not be read whole"))
            }
        } catch {
            return finish(.refused(error.description))
        }
        received += peeked[0..<take]
        if case .header(let header) = parse { finish(.header(header)) }
    }

    private func finish(_ outcome: Outcome) {
        watcher?.cancel()
        timer?.cancel()
        guard let report else { return }
        self.report = nil
        report(self, outcome)
    }
}

/// The load balancers whose PROXY headers are believed (`--trusted-proxies`) and how long a header
/// may take (`--proxy-protocol-timeout`).
struct ProxyTrust: Sendable {
    let networks: [IPNetwork]
    let timeoutSeconds: Int

    func trusts(_ peer: SocketAddress) -> Bool {
        IPAddress(peer.host).map { address in networks.contains { $0.contains(address) } } ?? false
    }
}

extension ServerConfiguration {
    var proxyTrust: ProxyTrust { ProxyTrust(networks: trustedProxies, timeoutSeconds: proxyProtocolTimeout) }
}
