import Dispatch
import FTPCore
import FerryReactor

/// Checks logins off the event loops. Unknown users are checked against a dummy hash of the slowest
/// method in the users file, so a wrong name costs at least as long as any wrong password and
/// logins cannot probe for names.
public final class Authenticator: Sendable {
    /// What a login attempt resolved to.
    public enum Outcome: Sendable, Equatable {
        case accepted(Account, home: String, limits: UserLimits)
        /// Why, for the log only: the client hears "Login incorrect" whatever the reason.
        case rejected(reason: String)
        /// A client certificate named the user, who also needs a password.
        case passwordRequired
        /// The user directory cannot answer (its database is down): 421, try again later.
        case unavailable(reason: String)
    }

    private let users: (any UserDirectory)?
    private let anonymousRoot: String
    private let dummyHash: String
    private let queue = DispatchQueue(label: "ferry.auth", attributes: .concurrent)

    /// `samples` are the directory's `sampleHashes()`, asked for by the caller (which reports a
    /// directory that cannot answer).
    public init(users: (any UserDirectory)?, samples: [String], anonymousRoot: String) {
        self.users = users
        self.anonymousRoot = anonymousRoot
        dummyHash = Authenticator.slowestDummy(samples)
    }

    /// Verify `user`/`password` on a worker thread; `completion` runs there too. `certified`: the
    /// client's verified certificate names the user (see `UserLimits.clientCertificate`).
    public func verify(user: String, password: Password, certified: Bool, completion: @escaping @Sendable (Outcome) -> Void) {
        decide(user, completion) { [self] record in
            let ok = PasswordHasher.verify(password.value, hash: record?.hash ?? dummyHash)
            guard ok, let record else { return .rejected(reason: "unknown user or bad password") }
            switch record.limits.clientCertificate {
            case .withPassword? where !certified:
                return .rejected(reason: "the user needs a client certificate naming them (client-cert=with-password)")
            case .withoutPassword?:
                return .rejected(reason: "the user logs in by client certificate only (client-cert=without-password)")
            default:
                return accepted(record)
            }
        }
    }

    /// The client's verified certificate names `user`: accepted if the user logs in by certificate
    /// alone; otherwise (another rule, or no such user) a password is asked for as usual.
    public func verifyCertificate(user: String, completion: @escaping @Sendable (Outcome) -> Void) {
        decide(user, completion) { [self] record in
            guard let record, record.limits.clientCertificate == .withoutPassword else { return .passwordRequired }
            return accepted(record)
        }
    }

    /// On a worker thread: look `user` up and answer with what `rule` makes of the record (nil: no
    /// such user), or `.unavailable` when the directory cannot answer.
    private func decide(_ user: String, _ completion: @escaping @Sendable (Outcome) -> Void,
                        rule: @escaping @Sendable (UserRecord?) -> Outcome) {
        queue.async { [self] in
            do throws(UserDirectoryUnavailable) {
                completion(rule(try users?.record(named: user)))
            } catch {
                completion(.unavailable(reason: error.description))
            }
        }
    }

    private func accepted(_ record: UserRecord) -> Outcome {
        .accepted(Account(name: record.name, readOnly: record.readOnly), home: record.home, limits: record.limits)
    }

    /// The anonymous account: read-only, rooted at the served folder.
    public var anonymous: (Account, home: String) {
        (Account(name: "anonymous", readOnly: true, isAnonymous: true), anonymousRoot)
    }

    /// With `$6$` and yescrypt users in one file, a dummy of the first record's method made unknown
    /// names answer 20 ms sooner or later than some real ones. So: one dummy per method (`$id$`) in
    /// the file, each timed once, and the slowest wins. Runs at start-up and reload, off the loops.
    static func slowestDummy(_ hashes: [String]) -> String {
        var samples: [String: String] = [:]
        for hash in hashes {
            let method = hash.split(separator: "$", omittingEmptySubsequences: false).dropFirst().first.map(String.init) ?? ""
            if samples[method] == nil { samples[method] = hash }
        }
        let dummies = samples.values.map(sameMethodDummy)
        guard dummies.count > 1 else { return dummies.first ?? PasswordHasher.hash("ferry-dummy-password") ?? "*" }
        return dummies.map { ($0, cost($0)) }.max { $0.1 < $1.1 }?.0 ?? "*"
    }

    /// Nanoseconds one verification against `hash` takes.
    private static func cost(_ hash: String) -> UInt64 {
        let start = MonotonicClock.system.nanoseconds
        _ = PasswordHasher.verify("ferry-dummy-password-timing", hash: hash)
        return MonotonicClock.system.nanoseconds - start
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
