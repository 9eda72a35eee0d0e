/// The cluster's quota counts (`ferry_quota_usage`): the ledger `SharedQuota` takes room from.
extension ClusterRegistry: QuotaLedger {
    /// Locks the user's row, then adds what fits under the limit and says how much that was.
    private static let reserve = PostgresConnection.Statement(name: "ferry_quota_reserve", sql: """
        WITH old AS (SELECT used FROM ferry_quota_usage WHERE user_name = $1 FOR UPDATE),
             grant_ AS (SELECT least($2::bigint, greatest($3::bigint - used, 0)) AS bytes FROM old)
        UPDATE ferry_quota_usage SET used = used + grant_.bytes FROM grant_ WHERE user_name = $1
        RETURNING grant_.bytes::text
        """)
    private static let adjust = PostgresConnection.Statement(name: "ferry_quota_adjust", sql: """
        UPDATE ferry_quota_usage SET used = least(greatest(used::numeric + $2::bigint, 0), 9223372036854775807)::bigint
        WHERE user_name = $1
        """)
    /// Whether the usage must be measured: no count yet, or no other live session that could hold room.
    private static let unmeasured = PostgresConnection.Statement(name: "ferry_quota_unmeasured", sql: """
        SELECT (NOT EXISTS (SELECT 1 FROM ferry_quota_usage WHERE user_name = $1)
                OR (SELECT count(*) FROM ferry_sessions WHERE user_name = $1 AND heartbeat > now() - $2::int * interval '1 second') <= 1)::text
        """)
    private static let record = PostgresConnection.Statement(name: "ferry_quota_record", sql: """
        INSERT INTO ferry_quota_usage (user_name, used) VALUES ($1, $2)
        ON CONFLICT (user_name) DO UPDATE SET used = EXCLUDED.used, measured = now()
        """)

    func reserve(user: String, count: UInt64, limit: UInt64) throws(PostgresError) -> UInt64 {
        let rows = try pool.withConnection { connection throws(PostgresError) in
            try connection.run(ClusterRegistry.reserve, [user, String(Int64(clamping: count)), String(Int64(clamping: limit))])
        }
        return (rows.first?.first ?? nil).flatMap { UInt64($0) } ?? 0
    }

    func adjust(user: String, by delta: Int64) throws(PostgresError) {
        _ = try pool.withConnection { connection throws(PostgresError) in try connection.run(ClusterRegistry.adjust, [user, String(delta)]) }
    }

    /// The quota a login of `user` (whose session row is claimed) works with. The first live session
    /// of the user on the cluster measures `home` with `measure` and records it, so a count that
    /// drifted (files changed outside Ferry, a node that died holding room) is set right.
    func openQuota(user: String, limit: UInt64, measure: () -> UInt64) throws(PostgresError) -> SharedQuota {
        let needed = try pool.withConnection { connection throws(PostgresError) in
            try connection.run(ClusterRegistry.unmeasured, [user, String(ClusterRegistry.expirySeconds)])
        }
        if needed.first?.first == "true" {
            let used = measure()
            _ = try pool.withConnection { connection throws(PostgresError) in
                try connection.run(ClusterRegistry.record, [user, String(Int64(clamping: used))])
            }
        }
        return SharedQuota(user: user, limit: limit, ledger: self)
    }
}
