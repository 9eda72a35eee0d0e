import FerryReactor
import Glibc

/// One account in the users file.
public struct UserRecord: Sendable, Equatable {
    public var name: String
    /// A crypt(3) hash libxcrypt verifies (`$y$`, `$6$`, `$2b$`, ...).
    public var hash: String
    public var home: String
    public var readOnly: Bool
    public var limits: UserLimits

    public init(name: String, hash: String, home: String, readOnly: Bool, limits: UserLimits = UserLimits()) {
        self.name = name
        self.hash = hash
        self.home = home
        self.readOnly = readOnly
        self.limits = limits
    }
}

/// Why a users file could not be read or written; the text names the file and line.
public struct UsersFileError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The users file: one user a line, `name:hash:home:rw|ro[:limits]` (see `UserLimits`); blank lines
/// and `#` comments are skipped. Written atomically (temporary file, fsync, rename).
public struct UsersFile: Sendable {
    public private(set) var records: [UserRecord]

    public init(records: [UserRecord] = []) { self.records = records }

    public static func parse(_ text: String, source: String) throws(UsersFileError) -> UsersFile {
        var records: [UserRecord] = []
        var seen = Set<String>()
        for (index, line) in TextFile.lines(text).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let at = "\(source):\(index + 1)"
            guard fields.count == 4 || fields.count == 5 else {
                throw UsersFileError("\(at): expected name:hash:home:rw|ro[:limits], found \(fields.count) fields")
            }
            if let problem = validate(name: fields[0]) { throw UsersFileError("\(at): \(problem)") }
            guard fields[1].hasPrefix("$") || fields[1].count == 13 else {
                throw UsersFileError("\(at): the hash for \(fields[0]) is not a crypt(3) hash (make one with `ferry user passwd` or `openssl passwd -6`)")
            }
            guard fields[2].hasPrefix("/") else { throw UsersFileError("\(at): home \(fields[2]) must be an absolute path") }
            guard fields[3] == "rw" || fields[3] == "ro" else {
                throw UsersFileError("\(at): permissions must be rw or ro, found \(fields[3])")
            }
            guard seen.insert(fields[0]).inserted else { throw UsersFileError("\(at): user \(fields[0]) appears twice") }
            var limits = UserLimits()
            if fields.count == 5 {
                switch UserLimits.parse(fields[4]) {
                case .success(let parsed): limits = parsed
                case .failure(let error): throw UsersFileError("\(at): \(error.description)")
                }
            }
            records.append(UserRecord(name: fields[0], hash: fields[1], home: fields[2], readOnly: fields[3] == "ro", limits: limits))
        }
        return UsersFile(records: records)
    }

    /// Nil when `name` can be a user name, else why not.
    public static func validate(name: String) -> String? {
        if name.isEmpty { return "a user name cannot be empty" }
        if name.utf8.count > 64 { return "user name \(name) is longer than 64 bytes" }
        if name.contains(where: { $0 == ":" || $0.isWhitespace || $0 == "#" }) || name.unicodeScalars.contains(where: { $0.value < 32 }) {
            return "user name \(name) may not contain ':', '#', spaces or control characters"
        }
        return nil
    }

    public static func load(path: String) throws(UsersFileError) -> UsersFile {
        switch TextFile.read(path) {
        case .success(let text): return try parse(text, source: path)
        case .failure(.unreadable(let reason)): throw UsersFileError("cannot read users file \(path): \(reason)")
        case .failure(.notUTF8): throw UsersFileError("users file \(path) is not valid UTF-8")
        }
    }

    public func record(named name: String) -> UserRecord? {
        records.first { $0.name == name }
    }

    public mutating func upsert(_ record: UserRecord) {
        if let index = records.firstIndex(where: { $0.name == record.name }) {
            records[index] = record
        } else {
            records.append(record)
        }
    }

    @discardableResult
    public mutating func remove(named name: String) -> Bool {
        let before = records.count
        records.removeAll { $0.name == name }
        return records.count != before
    }

    public var serialized: String {
        records.map { record in
            let limits = record.limits.serialized
            return "\(record.name):\(record.hash):\(record.home):\(record.readOnly ? "ro" : "rw")" + (limits.isEmpty ? "" : ":" + limits) + "\n"
        }.joined()
    }

    /// Write to `path` atomically: a reader sees the old file or the new one, never half of either.
    /// A new file gets mode 0600; a replaced one keeps its mode, owner and group (so a service user
    /// that was given read access keeps it).
    public func save(to path: String) throws(UsersFileError) {
        let temporary = path + ".tmp-\(getpid())"
        let opened = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard opened >= 0 else { throw UsersFileError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let file = Descriptor(taking: opened)
        let fd = file.rawValue
        var existing = stat()
        if stat(path, &existing) == 0 {
            _ = fchown(fd, existing.st_uid, existing.st_gid)
            _ = fchmod(fd, existing.st_mode & 0o7777)
        }
        var text = serialized
        var failure = text.withUTF8 { bytes -> SystemError? in
            do throws(SystemError) {
                try writeAll(fd, UnsafeRawBufferPointer(bytes))
                return fsync(fd) == 0 ? nil : SystemError("fsync")
            } catch {
                return error
            }
        }
        let closeError = file.close()
        failure = failure ?? closeError
        if failure == nil && rename(temporary, path) != 0 { failure = SystemError("rename") }
        if let failure {
            unlink(temporary)
            throw UsersFileError("cannot write users file \(path): \(failure.reason)")
        }
    }
}
