import CFerrySys
import Glibc

/// The raw socket calls the server makes outside libevent: listening sockets with the options the
/// design needs, non-blocking connects, and small option setters. Every failure is a `SystemError`;
/// every new socket comes back as a `Descriptor`, closed if the call fails half-way.
public enum Sockets {
    /// A non-blocking, close-on-exec listening TCP socket bound to `address`.
    /// `reusePort` lets one listener per loop share the port (the kernel spreads connections).
    public static func listen(on address: SocketAddress, reusePort: Bool, backlog: Int32) throws(SystemError) -> Descriptor {
        let socket = try newSocket(address.family, nonBlocking: true)
        let fd = socket.rawValue
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) }
        if address.isIPv6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0 else { throw SystemError("bind \(address)") }
        guard Glibc.listen(fd, backlog) == 0 else { throw SystemError("listen \(address)") }
        return socket
    }

    private static func newSocket(_ family: Int32, nonBlocking: Bool) throws(SystemError) -> Descriptor {
        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        let fd = Glibc.socket(family, flags, 0)
        guard fd >= 0 else { throw SystemError("socket") }
        return Descriptor(taking: fd)
    }

    /// Fail with EADDRINUSE when another socket holds `address`, even one with SO_REUSEPORT (which
    /// would otherwise let a second server silently share the port with the first).
    public static func checkAvailable(_ address: SocketAddress) throws(SystemError) {
        let socket = try newSocket(address.family, nonBlocking: false)
        let fd = socket.rawValue
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if address.isIPv6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0 else { throw SystemError("bind \(address)") }
    }

    /// Start a non-blocking connect from `local`'s address (any port) to `remote`; the socket becomes
    /// writable when the connect finishes (check `pendingError`).
    public static func connect(to remote: SocketAddress, from local: SocketAddress?) throws(SystemError) -> Descriptor {
        let socket = try newSocket(remote.family, nonBlocking: true)
        let fd = socket.rawValue
        if var local, local.family == remote.family {
            local.port = 0
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            _ = local.withSockaddr { bind(fd, $0, $1) }
        }
        let result = remote.withSockaddr { Glibc.connect(fd, $0, $1) }
        if result != 0 && errno != EINPROGRESS { throw SystemError("connect \(remote)") }
        return socket
    }

    /// Accept one waiting connection on a listening socket, non-blocking and close-on-exec; nil when
    /// none is waiting (or it went away before it was taken: ECONNABORTED).
    public static func accept(_ fd: Int32) throws(SystemError) -> AcceptedConnection? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result: IOResult<Int32>
        do {
            result = try syscall("accept4") {
                withUnsafeMutablePointer(to: &storage) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { ferry_accept_nonblocking(fd, $0, &length) }
                }
            }
        } catch where error.code == ECONNABORTED {
            return nil
        }
        guard case .processed(let connection) = result else { return nil }
        return AcceptedConnection(socket: Descriptor(taking: connection), peer: SocketAddress(storage: storage))
    }

    /// The error a finished non-blocking connect left (0 when it succeeded).
    public static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length)
        return value
    }

    /// Make `close` send RST instead of FIN: an aborted transfer must not look complete to the client.
    public static func setResetOnClose(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
    }

    /// TCP_NODELAY, for control connections: each reply is written whole, and Nagle would hold a
    /// second one (226 right after 150) until the client's delayed ACK, 40 ms on Linux, per transfer.
    public static func setNoDelay(_ fd: Int32) {
        var value: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// TCP_CORK: hold partial segments until they fill, so a stream of writes leaves as full segments
    /// (fewer packets and receiver wakeups); turning it off sends what is held.
    public static func setCorked(_ fd: Int32, _ corked: Bool) {
        var value: Int32 = corked ? 1 : 0
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_CORK, &value, socklen_t(MemoryLayout<Int32>.size))
    }
}

/// A connection `Sockets.accept` took, with the address it came from.
public struct AcceptedConnection: ~Copyable {
    public var socket: Descriptor
    public let peer: SocketAddress

    /// The socket, for its new owner.
    public consuming func takeSocket() -> Descriptor { socket }
}
