import ArgumentParser
import FerryServer
@preconcurrency import Glibc

/// `ferry user add|passwd|del|list|init`: manage the users file (written atomically) or the users
/// table of a PostgreSQL database (`--users postgresql://...`).
struct User: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the users file, or the users in PostgreSQL.",
        subcommands: [Add.self, Passwd.self, Del.self, List.self, Init.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user (or replace one).")
        @Argument var name: String
        @Option(help: "Users file, or a postgresql:// URL.") var users: String
        @Option(help: "The user's home folder (absolute).") var home: String
        @Flag(name: .customLong("read-only"), help: "The user may only download and list.") var readOnly = false
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input.") var passwordStdin = false
        @Option(name: .customLong("download-rate"), help: "Cap on all this user's downloads, bytes per second (K, M, G).") var downloadRate: String?
        @Option(name: .customLong("upload-rate"), help: "Cap on all this user's uploads, bytes per second (K, M, G).") var uploadRate: String?
        @Option(name: .customLong("max-sessions"), help: "Sessions this user may have open at once.") var maxSessions: String?
        @Option(name: .customLong("max-file-size"), help: "Largest file this user may upload (552 beyond).") var maxFileSize: String?
        @Option(help: "umask for this user's new files and folders (octal).") var umask: String?
        @Option(help: "Bytes this user's home may hold, like 50G (552 beyond).") var quota: String?
        @Option(name: .customLong("client-cert"),
                help: "Log in with a TLS client certificate naming the user (CN or SAN): with-password or without-password.") var clientCert: String?

        func run() throws {
            if let problem = UsersFile.validate(name: name) { throw ValidationError(problem) }
            guard home.hasPrefix("/"), !home.contains(":") else { throw ValidationError("--home must be an absolute path without ':'") }
            var limits = UserLimits()
            for (key, value) in [("download-rate", downloadRate), ("upload-rate", uploadRate), ("max-sessions", maxSessions),
                                 ("max-file-size", maxFileSize), ("umask", umask), ("quota", quota), ("client-cert", clientCert)] {
                if let value, let problem = limits.set(key, value) { throw ValidationError("--\(problem)") }
            }
            let store = try UserStore(users)
            let hash = try hashPassword(fromStdin: passwordStdin)
            try store.save(UserRecord(name: name, hash: hash, home: home, readOnly: readOnly, limits: limits))
            print("user \(name) saved in \(store) (home \(home), \(readOnly ? "read-only" : "read-write"))")
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user's password.")
        @Argument var name: String
        @Option(help: "Users file, or a postgresql:// URL.") var users: String
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input.") var passwordStdin = false

        func run() throws {
            let store = try UserStore(users)
            guard var record = try store.record(named: name) else { throw ValidationError("no user \(name) in \(store)") }
            record.hash = try hashPassword(fromStdin: passwordStdin)
            try store.save(record)
            print("password of \(name) changed")
        }
    }

    struct Del: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user.")
        @Argument var name: String
        @Option(help: "Users file, or a postgresql:// URL.") var users: String

        func run() throws {
            let store = try UserStore(users)
            guard try store.remove(named: name) else { throw ValidationError("no user \(name) in \(store)") }
            print("user \(name) removed")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users: name, permissions, home, limits.")
        @Option(help: "Users file, or a postgresql:// URL.") var users: String

        func run() throws {
            for record in try UserStore(users).all() {
                let limits = record.limits.serialized
                print("\(record.name)\t\(record.readOnly ? "ro" : "rw")\t\(record.home)" + (limits.isEmpty ? "" : "\t" + limits))
            }
        }
    }
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or upgrade Ferry's tables in a PostgreSQL database (contrib/postgresql/schema.sql; safe to run again).")
        @Option(help: "A postgresql:// URL.") var users: String

        func run() throws {
            guard case .database(let database) = try UserStore(users) else {
                throw ValidationError("--users must be a postgresql:// URL: a users file needs no set-up (`ferry user add` creates it)")
            }
            let (before, after) = try database.initialize()
            print(before == after ? "schema of \(database.displayName) is up to date (version \(after))"
                                  : "schema of \(database.displayName) upgraded from version \(before) to \(after)")
        }
    }
}

/// Where `ferry user` keeps users: a users file, or the PostgreSQL database a URL names.
private enum UserStore: CustomStringConvertible {
    case file(String)
    case database(PostgresUsers)

    init(_ location: String) throws {
        self = PostgresUsers.isURL(location) ? .database(try PostgresUsers(url: location)) : .file(location)
    }

    var description: String {
        switch self {
        case .file(let path): return path
        case .database(let database): return database.displayName
        }
    }

    func record(named name: String) throws -> UserRecord? {
        switch self {
        case .file(let path): return try UsersFile.load(path: path).record(named: name)
        case .database(let database): return try database.lookUp(name)
        }
    }

    func all() throws -> [UserRecord] {
        switch self {
        case .file(let path): return try UsersFile.load(path: path).records
        case .database(let database): return try database.all()
        }
    }

    /// Add or replace; a users file that does not exist yet is created.
    func save(_ record: UserRecord) throws {
        switch self {
        case .file(let path):
            var file = access(path, F_OK) != 0 && errno == ENOENT ? UsersFile() : try UsersFile.load(path: path)
            file.upsert(record)
            try file.save(to: path)
        case .database(let database):
            try database.save(record)
        }
    }

    func remove(named name: String) throws -> Bool {
        switch self {
        case .file(let path):
            var file = try UsersFile.load(path: path)
            guard file.remove(named: name) else { return false }
            try file.save(to: path)
            return true
        case .database(let database):
            return try database.remove(named: name)
        }
    }
}

/// Read one line (its newline is not part of the password) and hash it.
private func hashPassword(fromStdin: Bool) throws -> String {
    guard fromStdin else { throw ValidationError("pass --password-stdin and the password on standard input") }
    guard var line = readLine(strippingNewline: true) else { throw ValidationError("no password on standard input") }
    if line.hasSuffix("\r") { line.removeLast() }
    guard !line.isEmpty else { throw ValidationError("the password is empty") }
    guard let hash = PasswordHasher.hash(line) else { throw ValidationError("crypt(3) could not hash the password") }
    return hash
}
