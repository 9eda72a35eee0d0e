import CLibevent

/// A tiny HTTP/1.1 endpoint on libevent's evhttp (for metrics and health checks): every GET goes to
/// `handler` with the request path (query removed) and answers with what it returns.
public final class HTTPEndpoint {
    /// One answer: status code, content type, body.
    public struct Response {
        public let status: Int32
        public let contentType: String
        public let body: String

        public init(status: Int32, contentType: String = "text/plain; charset=utf-8", body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    private var http: OpaquePointer?
    private let handler: (String) -> Response

    public init(loop: EventLoop, host: String, port: UInt16, handler: @escaping (String) -> Response) throws(SystemError) {
        self.handler = handler
        guard let http = evhttp_new(loop.base) else { throw SystemError("evhttp_new", code: 12) }
        self.http = http
        guard evhttp_bind_socket_with_handle(http, host, port) != nil else {
            let error = SystemError("bind \(host):\(port)")
            evhttp_free(http)
            self.http = nil
            throw error
        }
        evhttp_set_allowed_methods(http, UInt16(EVHTTP_REQ_GET.rawValue | EVHTTP_REQ_HEAD.rawValue))
        let context = Unmanaged.passUnretained(self).toOpaque()
        evhttp_set_gencb(http, { request, context in
            let endpoint = Unmanaged<HTTPEndpoint>.fromOpaque(context!).takeUnretainedValue()
            withExtendedLifetime(endpoint) { endpoint.respond(request) }
        }, context)
    }

    private func respond(_ request: OpaquePointer?) {
        guard let request else { return }
        let uri = evhttp_request_get_uri(request).map { String(cString: $0) } ?? "/"
        let path = String(uri.prefix { $0 != "?" })
        let response = handler(path)
        evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", response.contentType)
        let buffer = evbuffer_new()
        var body = response.body
        body.withUTF8 { _ = evbuffer_add(buffer, $0.baseAddress, $0.count) }
        evhttp_send_reply(request, response.status, HTTPEndpoint.reasonPhrase(response.status), buffer)
        evbuffer_free(buffer)
    }

    /// RFC 9110's reason phrase for the codes this endpoint answers with.
    static func reasonPhrase(_ status: Int32) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return status < 400 ? "OK" : "Error"
        }
    }

    /// Stop serving. Idempotent.
    public func close() {
        if let http { evhttp_free(http) }
        http = nil
    }

    deinit { close() }
}
