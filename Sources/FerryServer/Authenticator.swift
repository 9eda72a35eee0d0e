import Dispatch
import FTPCore

/// Checks logins off the event loops. Unknown users are checked against a dummy hash of the same
/// method, so a wrong name costs as long as a wrong password and logins cannot probe for names.
public final class Authenticator: Sendable {
    /// What a login attempt resolved to.
    public enum Outcome: Sendable {
        case accepted(Account, home: String, limits: UserLimits)
        case rejected
    }

    private let users: UsersFile?
    private let anonymousRoot: String
    private let dummyHash: String
    private let queue = DispatchQueue(label: "ferry.auth", attributes: .concurrent)

    public init(users: UsersFile?, anonymousRoot: String) {
        self.users = users
        self.anonymousRoot = anonymousRoot
        // Use the method of the users' own hashes where there are some, so the timing matches.
        let sample = users?.records.first?.hash
        dummyHash = sample.map(Authenticator.sameMethodDummy) ?? PasswordHasher.hash("ferry-dummy-password") ?? "*"
    }

    /// Verify `user`/`password` on a worker thread; `completion` runs there too.
    public func verify(user: String, password: Password, completion: @escaping @Sendable (Outcome) -> Void) {
        queue.async { [self] in
            let record = users?.record(named: user)
            let ok = PasswordHasher.verify(password.value, hash: record?.hash ?? dummyHash)
            guard ok, let record else { return completion(.rejected) }
            completion(.accepted(Account(name: record.name, readOnly: record.readOnly), home: record.home, limits: record.limits))
        }
    }

    /// The anonymous account: read-only, rooted at the served folder.
    public var anonymous: (Account, home: String) {
        (Account(name: "anonymous", readOnly: true, isAnonymous: true), anonymousRoot)
    }

    /// A hash of a throwaway password with the same method and cost prefix as `sample`.
    private static func sameMethodDummy(_ sample: String) -> String {
        // `$id$params$salt$hash`: keep everything up to the last `$` (the setting), crypt a dummy with it.
        guard let last = sample.lastIndex(of: "$"), sample.hasPrefix("$") else {
            return PasswordHasher.hash("ferry-dummy-password") ?? "*"
        }
        let setting = String(sample[..<last])
        return PasswordHasher.hash("ferry-dummy-password", setting: setting) ?? PasswordHasher.hash("ferry-dummy-password") ?? "*"
    }
}
