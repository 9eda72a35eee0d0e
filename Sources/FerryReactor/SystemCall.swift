import Glibc

/// What a non-blocking system call did: moved this much, or would have had to wait.
public enum IOResult<T> {
    case processed(T)
    case wouldBlock
}

/// Runs one system call (a `body` that returns -1 and sets errno on failure), retrying it on EINTR.
/// EAGAIN becomes `.wouldBlock`; any other failure is a `SystemError` naming `call`. EBADF and EFAULT
/// mean Ferry passed a descriptor or buffer it does not own, a bug that must not be reported to a
/// client as a network error, so they stop the process (SwiftNIO's `syscall(blocking:where:)` rule).
@inline(__always)
public func syscall<T: FixedWidthInteger>(_ call: StaticString, _ body: () -> T) throws(SystemError) -> IOResult<T> {
    while true {
        let result = body()
        if result >= 0 { return .processed(result) }
        let code = errno
        switch code {
        case EINTR: continue
        case EAGAIN: return .wouldBlock
        case EBADF, EFAULT: preconditionFailure("\(call): \(String(cString: strerror(code))) (a descriptor or buffer Ferry does not own)")
        default: throw SystemError("\(call)", code: code)
        }
    }
}

/// Write all of `bytes` to a file (regular files never say EAGAIN, so `.wouldBlock` just retries).
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(SystemError) {
    var offset = 0
    while offset < bytes.count {
        if case .processed(let n) = try syscall("write", { Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }) {
            offset += n
        }
    }
}
