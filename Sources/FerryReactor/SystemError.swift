import Glibc

/// A failed system call: which call and the errno it left, printed as `bind: Address already in use`.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public let call: String
    public let code: Int32

    public init(_ call: String, code: Int32 = errno) {
        self.call = call
        self.code = code
    }

    public var reason: String { String(cString: strerror(code)) }
    public var description: String { "\(call): \(reason)" }
}
