/// Where the server looks users up: the users file (read at start and reload, answered from memory)
/// or PostgreSQL (asked at each login). Calls may block, so the `Authenticator` makes them on its
/// worker threads.
public protocol UserDirectory: Sendable {
    /// The user called `name`, or nil; throws when the directory cannot answer now.
    func record(named name: String) throws(UserDirectoryUnavailable) -> UserRecord?
    /// One password hash of each method in use, to time the check of unknown names like real ones.
    func sampleHashes() throws(UserDirectoryUnavailable) -> [String]
}

/// The user directory cannot answer (the database is down): new logins get 421 meanwhile.
public struct UserDirectoryUnavailable: Error, Sendable, CustomStringConvertible {
    public let description: String
}

extension UsersFile: UserDirectory {
    public func sampleHashes() -> [String] { records.map(\.hash) }
}

extension PostgresUsers: UserDirectory {
    public func record(named name: String) throws(UserDirectoryUnavailable) -> UserRecord? {
        do {
            return try lookUp(name)
        } catch {
            throw UserDirectoryUnavailable(description: error.description)
        }
    }

    public func sampleHashes() throws(UserDirectoryUnavailable) -> [String] {
        do {
            return try hashSamples()
        } catch {
            throw UserDirectoryUnavailable(description: error.description)
        }
    }
}
