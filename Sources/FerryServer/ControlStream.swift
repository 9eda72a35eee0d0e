import FerryReactor

/// The control connection's byte stream as `ControlConnection` uses it: a `Stream` (libevent's
/// bufferevent, plain or TLS) in the server, a scripted one in unit tests. Input and the stream's end
/// reach the connection through its `received`, `streamClosed` and `streamSecured`.
protocol ControlStream: AnyObject {
    func write(_ text: String)
    /// Bytes queued but not yet handed to the kernel.
    var pendingOutput: Int { get }
    /// While true, the socket is not read (backpressure).
    var readingPaused: Bool { get set }
    /// Everything written so far has reached the kernel.
    var onDrained: (() -> Void)? { get set }
    /// AUTH TLS: switch to TLS once what was written so far is out.
    func startTLS(_ context: TLSContext, sessionContext: [UInt8])
    func issueSessionTicket()
    /// The names in the client's verified certificate, if it sent one.
    var peerCertificateNames: [String]? { get }
    /// Close once the output is out, or after the deadline; `onClosed` runs when the socket is closed.
    func closeAfterFlush(deadlineMilliseconds: Int, onClosed: @escaping () -> Void)
}

extension Stream: ControlStream {}
