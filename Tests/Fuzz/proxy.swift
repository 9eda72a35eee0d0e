/// libFuzzer target: the PROXY protocol parser. It never traps; a header lies within the bytes and
/// parses the same from its own bytes alone; "incomplete" stays within the longest header allowed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProxyHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch ProxyHeader.parse(bytes) {
    case .header(let header):
        precondition(header.length > 0 && header.length <= bytes.count, "header length \(header.length) of \(bytes.count) bytes")
        precondition(ProxyHeader.parse(bytes.prefix(header.length)) == .header(header), "the header's own bytes parse differently")
        precondition((header.source == nil) == (header.destination == nil), "one endpoint without the other")
    case .incomplete:
        precondition(bytes.count < ProxyHeader.maximumV2Length, "incomplete after \(bytes.count) bytes")
    case .invalid(let reason):
        precondition(!reason.isEmpty, "a refusal without a reason")
    }
    return 0
}
