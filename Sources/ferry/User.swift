import ArgumentParser
import FerryServer
@preconcurrency import Glibc

/// `ferry user add|passwd|del|list`: manage the users file (written atomically).
struct User: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the users file.",
        subcommands: [Add.self, Passwd.self, Del.self, List.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user (or replace one).")
        @Argument var name: String
        @Option(help: "Users file.") var users: String
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
            var file = try loadOrEmpty(users)
            let hash = try hashPassword(fromStdin: passwordStdin)
            file.upsert(UserRecord(name: name, hash: hash, home: home, readOnly: readOnly, limits: limits))
            try file.save(to: users)
            print("user \(name) saved in \(users) (home \(home), \(readOnly ? "read-only" : "read-write"))")
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user's password.")
        @Argument var name: String
        @Option(help: "Users file.") var users: String
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input.") var passwordStdin = false

        func run() throws {
            var file = try UsersFile.load(path: users)
            guard var record = file.record(named: name) else { throw ValidationError("no user \(name) in \(users)") }
            record.hash = try hashPassword(fromStdin: passwordStdin)
            file.upsert(record)
            try file.save(to: users)
            print("password of \(name) changed")
        }
    }

    struct Del: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user.")
        @Argument var name: String
        @Option(help: "Users file.") var users: String

        func run() throws {
            var file = try UsersFile.load(path: users)
            guard file.remove(named: name) else { throw ValidationError("no user \(name) in \(users)") }
            try file.save(to: users)
            print("user \(name) removed")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users: name, permissions, home, limits.")
        @Option(help: "Users file.") var users: String

        func run() throws {
            for record in try UsersFile.load(path: users).records {
                let limits = record.limits.serialized
                print("\(record.name)\t\(record.readOnly ? "ro" : "rw")\t\(record.home)" + (limits.isEmpty ? "" : "\t" + limits))
            }
        }
    }
}

private func loadOrEmpty(_ path: String) throws -> UsersFile {
    if access(path, F_OK) != 0 && errno == ENOENT { return UsersFile() }
    return try UsersFile.load(path: path)
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
