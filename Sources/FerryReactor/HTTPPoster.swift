import CLibevent
import Glibc

/// POSTs to one http:// URL from a loop, with libevent's evhttp client over one kept-alive
/// connection. Each post reports the status code, or nil when no answer came in time.
public final class HTTPPoster {
    /// Where to post: `http://HOST[:PORT]/PATH`.
    public struct Target: Sendable, Equatable {
        public let host: String
        public let port: UInt16
        public let path: String

        /// Nil unless `url` is a plain http:// URL with a host.
        public init?(_ url: String) {
            guard url.hasPrefix("http://") else { return nil }
            let rest = url.dropFirst("http://".count)
            let authority = rest.prefix { $0 != "/" }
            path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
            var hostPart = Substring(authority)
            var port: UInt16 = 80
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]") else { return nil }
                hostPart = authority[authority.index(after: authority.startIndex)..<close]
                let after = authority[authority.index(after: close)...]
                if after.hasPrefix(":") {
                    guard let number = UInt16(after.dropFirst()), number > 0 else { return nil }
                    port = number
                } else if !after.isEmpty {
                    return nil
                }
            } else if let colon = authority.lastIndex(of: ":") {
                guard let number = UInt16(authority[authority.index(after: colon)...]), number > 0 else { return nil }
                hostPart = authority[..<colon]
                port = number
            }
            guard !hostPart.isEmpty, !hostPart.contains("@") else { return nil }
            host = String(hostPart)
            self.port = port
        }
    }

    private let loop: EventLoop
    private let target: Target
    private var connection: OpaquePointer?

    public init(loop: EventLoop, target: Target, timeoutSeconds: Int32) {
        self.loop = loop
        self.target = target
        connection = evhttp_connection_base_new(loop.base, nil, target.host, target.port)
        if let connection { evhttp_connection_set_timeout(connection, timeoutSeconds) }
    }

    deinit {
        if let connection { evhttp_connection_free(connection) }
    }

    /// POST `body`; `completion` runs on the loop, once, with the status code, or nil without an answer.
    public func post(_ body: [UInt8], contentType: String, completion: @escaping (Int32?) -> Void) {
        let box = CompletionBox(completion)
        let context = Unmanaged.passRetained(box).toOpaque()
        guard let connection, let request = evhttp_request_new({ request, context in
            let box = Unmanaged<CompletionBox>.fromOpaque(context!).takeRetainedValue()
            let code = request.map { evhttp_request_get_response_code($0) } ?? 0
            box.finish(code > 0 ? code : nil)
        }, context) else {
            Unmanaged<CompletionBox>.fromOpaque(context).release()
            return completion(nil)
        }
        let headers = evhttp_request_get_output_headers(request)
        evhttp_add_header(headers, "Host", target.host)
        evhttp_add_header(headers, "Content-Type", contentType)
        body.withUnsafeBytes { _ = evbuffer_add(evhttp_request_get_output_buffer(request), $0.baseAddress, $0.count) }
        // A request that could not even start has been freed by evhttp, which may or may not have
        // called back: the box says which.
        if evhttp_make_request(connection, request, EVHTTP_REQ_POST, target.path) != 0 && !box.finished {
            Unmanaged<CompletionBox>.fromOpaque(context).release()
            box.finish(nil)
        }
    }
}

/// A post's completion, run once.
private final class CompletionBox {
    private var completion: ((Int32?) -> Void)?
    init(_ completion: @escaping (Int32?) -> Void) { self.completion = completion }

    var finished: Bool { completion == nil }

    func finish(_ code: Int32?) {
        let completion = self.completion
        self.completion = nil
        completion?(code)
    }
}
