import Glibc

/// Reading a small configuration file (users file, config) whole, as UTF-8 text.
enum TextFile {
    /// Why the file could not be read.
    enum Failure: Error {
        case unreadable(String)
        case notUTF8
    }

    static func read(_ path: String) -> Result<String, Failure> {
        guard let file = fopen(path, "r") else { return .failure(.unreadable(String(cString: strerror(errno)))) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        if ferror(file) != 0 { return .failure(.unreadable(String(cString: strerror(errno)))) }
        guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(.notUTF8) }
        return .success(text)
    }

    /// The lines of `text`, ended by LF or CRLF (a file edited on Windows). In Swift, CRLF is one
    /// Character, so splitting on "\n" alone would leave such a file one long line.
    static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    }
}
