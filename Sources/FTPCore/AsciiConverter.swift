/// TYPE A conversion (RFC 959 §3.1.1.1): the network form ends lines with CRLF, the local form
/// with LF. Stateful so a CR at the end of one chunk pairs with an LF at the start of the next.
public struct AsciiConverter: Sendable {
    private var pendingCR = false

    public init() {}

    /// Local → network (RETR): every LF not already preceded by CR becomes CRLF.
    public mutating func toNetwork(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        for byte in input {
            if byte == 0x0A && !pendingCR { output.append(0x0D) }
            output.append(byte)
            pendingCR = byte == 0x0D
        }
    }

    /// Network → local (STOR): CRLF becomes LF; a lone CR is kept.
    public mutating func toLocal(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        for byte in input {
            if pendingCR {
                pendingCR = false
                if byte == 0x0A { output.append(0x0A); continue }
                output.append(0x0D)
            }
            if byte == 0x0D { pendingCR = true } else { output.append(byte) }
        }
    }

    /// Flush a CR held back at the end of an upload.
    public mutating func finishLocal(into output: inout [UInt8]) {
        if pendingCR { output.append(0x0D); pendingCR = false }
    }
}
