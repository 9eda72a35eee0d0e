/// libFuzzer target: the control-line reader and the command parser. The input is split into
/// chunks at bytes chosen by its first byte, as a socket may deliver it; the lines must come out the
/// same whatever the chunking, and every line must parse or map to a 500/501 reply.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLines(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let step = Int(bytes[0] % 17) + 1
    var whole = ControlLineReader(maximumLineLength: 64)
    let expected = whole.feed(bytes[1...])
    var chunked = ControlLineReader(maximumLineLength: 64)
    var got: [ControlLineReader.Output] = []
    var index = 1
    while index < bytes.count {
        let end = min(index + step, bytes.count)
        got += chunked.feed(bytes[index..<end])
        index = end
    }
    precondition(got == expected, "chunking changed the lines")
    precondition(chunked.pendingCount <= 64, "a line grew past its limit")
    for case .line(let line) in got {
        switch Command.parse(line) {
        case .success(let command):
            precondition(!command.verb.isEmpty && command.verb == command.verb.uppercased(), "bad verb \(command.verb)")
            _ = command.argument
        case .failure(let error):
            let code = error.reply.code.rawValue
            precondition(code == 500 || code == 501, "parse error reply \(code)")
        }
    }
    return 0
}
