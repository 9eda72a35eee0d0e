import FTPCore
import Logging

/// What a finished transfer leaves behind: one log line, one xferlog line and the metrics for a
/// file transfer (who, direction, path, bytes, seconds, complete or incomplete), and a notice when
/// a TLS data connection was refused. Listings are not file transfers and leave no record.
struct TransferRecorder {
    let context: ServerContext
    let peerAddress: IPAddress

    /// `grant` is the user's home and limits; `account` is nil before login. A file transfer also
    /// fires the upload or download event hook.
    func record(_ request: TransferRequest, _ outcome: TransferOutcome, seconds: Int, account: Account?, grant: LoginGrant?, logger: Logger) {
        if case .dataConnectionInsecure(let reason) = outcome {
            let hint = context.configuration.tlsSessionReuseRequired ? "--tls-session-reuse optional accepts clients that do not resume" : "-"
            logger.notice("TLS data connection refused", metadata: ["reason": "\(reason)", "hint": "\(hint)"])
        }
        let ascii: Bool
        let incoming: Bool
        switch request.kind {
        case .retrieve(_, _, let isASCII): (incoming, ascii) = (false, isASCII)
        case .store(_, let isASCII): (incoming, ascii) = (true, isASCII)
        case .listing: return
        }
        let bytes: UInt64
        let result: Metrics.TransferResult
        switch outcome {
        case .completed(let n): (bytes, result) = (n, .complete)
        case .aborted(let n): (bytes, result) = (n, .aborted)
        case .connectionLost(let n, _), .fileError(_, let n): (bytes, result) = (n, .failed)
        case .dataConnectionFailed, .dataConnectionInsecure: (bytes, result) = (0, .failed)
        }
        let direction = incoming ? "in" : "out"
        let status = result == .complete ? "complete" : "incomplete"
        var metadata: Logger.Metadata = [
            "direction": "\(direction)", "path": "\(request.path)", "bytes": "\(bytes)", "seconds": "\(seconds)", "status": "\(status)",
        ]
        if let reason = outcome.failureReason { metadata["reason"] = "\(reason)" }
        logger.info("transfer", metadata: metadata)
        context.metrics.transfer(direction: direction, result: result, bytes: bytes)
        let onDisk = grant?.onDisk(request.path) ?? request.path.description
        context.hooks.fire(EventHooks.Facts(event: incoming ? .upload : .download, user: account?.name ?? "-", client: peerAddress.description,
                                            path: onDisk, virtualPath: request.path.description, bytes: bytes,
                                            complete: result == .complete, seconds: seconds))
        context.xferlog?.record(XferLog.Entry(
            seconds: seconds, remoteHost: peerAddress.description, bytes: bytes,
            path: onDisk,
            ascii: ascii, incoming: incoming, anonymous: account?.isAnonymous ?? false, user: account?.name ?? "-",
            complete: result == .complete))
    }
}
