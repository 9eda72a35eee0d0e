/// libFuzzer target: PORT/EPRT arguments, MFMT timestamps, OPTS-style fact lists, path resolution and
/// reply encoding. What parses must format back to something that parses to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCodecs(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if case .success(let (address, port)) = DataAddressCodec.parsePort(text) {
        let formatted = DataAddressCodec.formatPassive(address, port: port)!
        guard case .success(let again) = DataAddressCodec.parsePort(formatted), again.0 == address, again.1 == port else {
            preconditionFailure("PORT round trip failed for \(text)")
        }
    }
    if case .success(let (address, port)) = DataAddressCodec.parseExtendedPort(text) {
        let proto = address.isIPv4 ? "1" : "2"
        guard case .success(let again) = DataAddressCodec.parseExtendedPort("|\(proto)|\(address)|\(port)|"), again.0 == address, again.1 == port else {
            preconditionFailure("EPRT round trip failed for \(text)")
        }
    }
    if let seconds = ListingFormatter.parseTimestamp(text) {
        precondition(ListingFormatter.parseTimestamp(ListingFormatter.timestamp(seconds)) == seconds, "MFMT round trip failed for \(text)")
    }
    let path = VirtualPath.root.resolving(text)
    precondition(!path.components.contains("..") && !path.components.contains("."), "path escaped: \(path)")
    precondition(VirtualPath.root.resolving(path.description) == path, "resolution not idempotent for \(text)")
    let reply = Reply(.fileStatus, lines: [text, text, "end"]).encoded
    precondition(reply.utf8.split(separator: UInt8(ascii: "\n")).count == 3 || text.isEmpty, "reply line count for \(text)")
    precondition(!Array(Reply.middleLine(text).utf8).dropLast(2).contains { $0 == 13 || $0 == 10 }, "line break in a reply line")
    return 0
}
