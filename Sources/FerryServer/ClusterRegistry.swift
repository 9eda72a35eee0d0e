import FTPCore
import Glibc

/// What the nodes of a cluster share through PostgreSQL besides the users: a row per live session, so
/// a user's max-sessions holds across nodes, kept alive by this node's heartbeat; failed logins and
/// the bans they lead to, so an address banned on one node is refused by all within a second
/// (`FerryServer` syncs them); and quota counts (ClusterRegistry+Quota.swift). Every
/// call blocks on the network: worker threads only.
public final class ClusterRegistry: Sendable {
    /// How often a node refreshes its session rows.
    static let heartbeatSeconds = 5
    /// A session row not refreshed for this long belongs to a node that is gone (crashed, killed):
    /// it no longer counts, and is deleted.
    static let expirySeconds = 15

    /// This process, in its session rows: host name and PID, plus a random part (PIDs repeat).
    static let node: String = {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let name = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(name)/\(getpid())/\(UInt32.random(in: 0...UInt32.max))"
    }()

    /// contrib/postgresql/schema.sql's `ferry_claim_session`: the lock, the count and the insert in one round trip.
    private static let claim = PostgresConnection.Statement(name: "ferry_session_claim",
                                                            sql: "SELECT ferry_claim_session($1, $2, $3, $4, $5)::text")
    private static let release = PostgresConnection.Statement(name: "ferry_session_release", sql: "DELETE FROM ferry_sessions WHERE id = $1")
    /// Also forgets, for every node, bans over for an hour and failure counts a day old.
    private static let beat = PostgresConnection.Statement(name: "ferry_session_heartbeat", sql: """
        WITH beat AS (UPDATE ferry_sessions SET heartbeat = now() WHERE node = $1),
             old_bans AS (DELETE FROM ferry_bans WHERE until < now() - interval '1 hour'),
             old_failures AS (DELETE FROM ferry_login_failures WHERE last_failure < now() - interval '1 day')
        DELETE FROM ferry_sessions WHERE heartbeat < now() - interval '\(expirySeconds * 20) seconds'
        """)
    /// contrib/postgresql/schema.sql's `ferry_login_failed`: count, and ban at the limit, in one round trip.
    private static let failure = PostgresConnection.Statement(name: "ferry_login_failed", sql: "SELECT ferry_login_failed($1, $2, $3)::text")
    private static let bans = PostgresConnection.Statement(name: "ferry_bans",
        sql: "SELECT address, ceil(extract(epoch FROM until - now()))::int::text FROM ferry_bans WHERE until > now()")

    /// Shared with the quota ledger (ClusterRegistry+Quota.swift).
    let pool: PostgresPool

    init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Count a new session of `user` from `client` under `id`: false when the user is at their
    /// max-sessions on the cluster. The check and the insert run under a lock on the user, so two
    /// nodes cannot both admit the last session.
    func claim(session id: String, user: String, client: String) throws(PostgresError) -> Bool {
        let rows = try pool.withConnection { connection throws(PostgresError) in
            try connection.run(ClusterRegistry.claim, [id, ClusterRegistry.node, user, client, String(ClusterRegistry.expirySeconds)])
        }
        return rows.first?.first == "true"
    }

    /// The session ended. A row that cannot be deleted now expires with this node's heartbeat.
    func release(session id: String) {
        _ = try? pool.withConnection { connection throws(PostgresError) in try connection.run(ClusterRegistry.release, [id]) }
    }

    /// Keep this node's session rows alive, and delete long-expired rows of nodes that are gone.
    func heartbeat() throws(PostgresError) {
        _ = try pool.withConnection { connection throws(PostgresError) in try connection.run(ClusterRegistry.beat, [ClusterRegistry.node]) }
    }

    /// A login from `address` failed on this node: count it for the cluster (per client prefix, as
    /// `LoginBans` counts). True when it was the `maxFailures`th within `banSeconds` on any nodes,
    /// which bans the address on every node for `banSeconds`.
    func loginFailed(_ address: IPAddress, maxFailures: Int, banSeconds: Int64) throws(PostgresError) -> Bool {
        let rows = try pool.withConnection { connection throws(PostgresError) in
            try connection.run(ClusterRegistry.failure, [address.clientPrefix.description, String(maxFailures), String(banSeconds)])
        }
        return rows.first?.first == "true"
    }

    /// The bans in force on the cluster, with the seconds each has left.
    func activeBans() throws(PostgresError) -> [(IPAddress, Int64)] {
        try pool.withConnection { connection throws(PostgresError) in try connection.run(ClusterRegistry.bans) }.compactMap { row in
            guard let address = row[0].flatMap(IPAddress.init), let seconds = row[1].flatMap({ Int64($0) }) else { return nil }
            return (address, seconds)
        }
    }
}
