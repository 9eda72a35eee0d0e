import CLibpq

/// Users and their limits in PostgreSQL (`--users postgresql://...`): the user store of a cluster of
/// Ferry nodes, each reading the same rows. Every call blocks on the network, so the server makes
/// them on worker threads (as it hashes passwords), never on a loop; `ferry user` makes them directly.
public final class PostgresUsers: Sendable {
    /// contrib/postgresql/schema.sql, which `initialize` applies (a test keeps the two the same).
    static let schema = """
    -- Ferry's tables in PostgreSQL. `ferry user init --users postgresql://...` applies this script; it is
    -- idempotent and versioned: each numbered step runs once, in order, inside one transaction that holds
    -- an advisory lock, so nodes starting together cannot apply a step twice. New steps are appended.
    BEGIN;
    SELECT pg_advisory_xact_lock(726001);
    CREATE TABLE IF NOT EXISTS ferry_schema (
        version    integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
    );
    DO $step$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM ferry_schema WHERE version = 1) THEN
            -- Users and their limits: the users file's fields, one column each (NULL: no limit).
            CREATE TABLE ferry_users (
                name          text PRIMARY KEY CHECK (name <> '' AND length(name) <= 64 AND name !~ '[:#[:space:][:cntrl:]]'),
                hash          text NOT NULL CHECK (hash LIKE '$%' OR length(hash) = 13),
                home          text NOT NULL CHECK (home LIKE '/%'),
                read_only     boolean NOT NULL DEFAULT false,
                download_rate bigint CHECK (download_rate > 0),
                upload_rate   bigint CHECK (upload_rate > 0),
                max_sessions  integer CHECK (max_sessions > 0),
                max_file_size bigint CHECK (max_file_size > 0),
                umask         text CHECK (umask ~ '^0?[0-7]{1,3}$'),
                quota         bigint CHECK (quota > 0),
                client_cert   text CHECK (client_cert IN ('with-password', 'without-password'))
            );
            INSERT INTO ferry_schema (version) VALUES (1);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM ferry_schema WHERE version = 2) THEN
            -- A row per live session on any node: max-sessions counts them. A node refreshes its rows'
            -- heartbeat every few seconds; rows of a node that stopped beating (crashed) no longer count.
            CREATE TABLE ferry_sessions (
                id        text PRIMARY KEY,
                node      text NOT NULL,
                user_name text NOT NULL,
                client    text NOT NULL,
                started   timestamptz NOT NULL DEFAULT now(),
                heartbeat timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX ferry_sessions_user ON ferry_sessions (user_name, heartbeat);
            CREATE INDEX ferry_sessions_node ON ferry_sessions (node);
            -- Addresses banned after repeated failed logins, on whichever node: every node refuses them.
            CREATE TABLE ferry_bans (
                address text PRIMARY KEY,
                until   timestamptz NOT NULL
            );
            INSERT INTO ferry_schema (version) VALUES (2);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM ferry_schema WHERE version = 3) THEN
            -- A login's session row in one round trip: under a lock on the user (two nodes cannot both
            -- admit the last session), inserted only while the user's live sessions are under their
            -- max_sessions. Each statement of a volatile function sees what committed before it, so the
            -- count after the lock includes the session that held it.
            CREATE FUNCTION ferry_claim_session(p_id text, p_node text, p_user text, p_client text, p_expiry_seconds integer)
            RETURNS boolean LANGUAGE plpgsql VOLATILE AS $claim$
            BEGIN
                PERFORM pg_advisory_xact_lock(hashtext(p_user));
                INSERT INTO ferry_sessions (id, node, user_name, client)
                SELECT p_id, p_node, p_user, p_client
                WHERE (SELECT max_sessions FROM ferry_users WHERE name = p_user) IS NULL
                   OR (SELECT count(*) FROM ferry_sessions WHERE user_name = p_user AND heartbeat > now() - p_expiry_seconds * interval '1 second')
                      < (SELECT max_sessions FROM ferry_users WHERE name = p_user);
                RETURN FOUND;
            END
            $claim$;
            INSERT INTO ferry_schema (version) VALUES (3);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM ferry_schema WHERE version = 4) THEN
            -- Each user's quota usage in bytes of disk, shared by the nodes: measured from the home by the
            -- login that finds no other live session of the user, then moved by atomic UPDATEs as nodes take
            -- room for uploads and give back what deletes free.
            CREATE TABLE ferry_quota_usage (
                user_name text PRIMARY KEY REFERENCES ferry_users (name) ON DELETE CASCADE ON UPDATE CASCADE,
                used      bigint NOT NULL CHECK (used >= 0),
                measured  timestamptz NOT NULL DEFAULT now()
            );
            -- Failed logins per client address on any node, so a balancer spreading one client's guesses
            -- over the nodes does not multiply its attempts: the failure that reaches the limit bans the
            -- address on every node. A count older than the ban time starts again.
            CREATE TABLE ferry_login_failures (
                address      text PRIMARY KEY,
                failures     integer NOT NULL,
                last_failure timestamptz NOT NULL DEFAULT now()
            );
            CREATE FUNCTION ferry_login_failed(p_address text, p_max_failures integer, p_ban_seconds integer)
            RETURNS boolean LANGUAGE plpgsql VOLATILE AS $failed$
            DECLARE
                counted integer;
            BEGIN
                INSERT INTO ferry_login_failures AS f (address, failures) VALUES (p_address, 1)
                ON CONFLICT (address) DO UPDATE
                    SET failures = CASE WHEN f.last_failure < now() - p_ban_seconds * interval '1 second' THEN 1 ELSE f.failures + 1 END,
                        last_failure = now()
                RETURNING failures INTO counted;
                IF counted < p_max_failures THEN
                    RETURN false;
                END IF;
                DELETE FROM ferry_login_failures WHERE address = p_address;
                INSERT INTO ferry_bans (address, until) VALUES (p_address, now() + p_ban_seconds * interval '1 second')
                ON CONFLICT (address) DO UPDATE SET until = greatest(ferry_bans.until, EXCLUDED.until);
                RETURN true;
            END
            $failed$;
            INSERT INTO ferry_schema (version) VALUES (4);
        END IF;
    END
    $step$;
    COMMIT;

    """

    /// The users file's limits, one column each, in `UserLimits.keys` order.
    private static let limitColumns = UserLimits.keys.map { $0.replacingAll("-", with: "_") }
    private static let columns = (["name", "hash", "home", "read_only"] + limitColumns.map { "\($0)::text" }).joined(separator: ", ")
    private static let select = PostgresConnection.Statement(name: "ferry_user", sql: "SELECT \(columns) FROM ferry_users WHERE name = $1")
    private static let selectAll = PostgresConnection.Statement(name: "ferry_users", sql: "SELECT \(columns) FROM ferry_users ORDER BY name")
    private static let upsert: PostgresConnection.Statement = {
        let names = ["name", "hash", "home", "read_only"] + limitColumns
        let values = names.indices.map { "$\($0 + 1)" }
        let updates = names.dropFirst().map { "\($0) = EXCLUDED.\($0)" }
        return PostgresConnection.Statement(name: "ferry_user_save", sql: """
            INSERT INTO ferry_users (\(names.joined(separator: ", "))) VALUES (\(values.joined(separator: ", ")))
            ON CONFLICT (name) DO UPDATE SET \(updates.joined(separator: ", "))
            """)
    }()
    private static let delete = PostgresConnection.Statement(name: "ferry_user_delete", sql: "DELETE FROM ferry_users WHERE name = $1")
    /// One hash of each method in use (the part between the first two `$`), for timing unknown names.
    private static let samples = PostgresConnection.Statement(
        name: "ferry_user_samples", sql: "SELECT DISTINCT ON (split_part(hash, '$', 2)) hash FROM ferry_users ORDER BY split_part(hash, '$', 2), name")
    private static let version = PostgresConnection.Statement(name: "ferry_schema_version", sql: "SELECT coalesce(max(version), 0)::text FROM ferry_schema")

    /// The schema version this Ferry needs (the last step of `schema`).
    static let schemaVersion = 4

    private let pool: PostgresPool
    /// The connection string without its password, for messages.
    public let displayName: String
    /// Sessions and bans shared with the other nodes, through the same connections.
    let cluster: ClusterRegistry

    /// `url`: a `postgresql://` URI (or `postgres://`), checked by libpq's parser; no connection yet.
    /// Without a `connect_timeout` in it, connecting gives up after 5 s.
    public init(url: String) throws(PostgresError) {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &error) else {
            let reason = error.map { String(cString: $0).trimmingSuffix("\n") } ?? "not a connection string"
            PQfreemem(error)
            throw PostgresError("\(PostgresUsers.redacted(url)): \(reason)")
        }
        PQconninfoFree(options)
        // A login must not wait minutes for a database host that does not answer.
        let bounded = url.contains("connect_timeout=") ? url : url + (url.contains("?") ? "&" : "?") + "connect_timeout=5"
        pool = PostgresPool(conninfo: bounded)
        displayName = PostgresUsers.redacted(url)
        cluster = ClusterRegistry(pool: pool)
    }

    /// Whether `--users` names a database rather than a users file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// `url` with its password (if any) replaced by `***`.
    public static func redacted(_ url: String) -> String {
        let parts = url.split(separator: "@", maxSplits: 1)
        guard parts.count == 2, let slash = parts[0].firstIndex(of: "/"), parts[0][slash...].hasPrefix("//") else { return url }
        let credentials = parts[0][parts[0].index(slash, offsetBy: 2)...]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(parts[0][...colon]) + "***@" + parts[1]
    }

    /// The user called `name`; nil if there is none. Throws when the database cannot answer.
    public func lookUp(_ name: String) throws(PostgresError) -> UserRecord? {
        try pool.withConnection { connection throws(PostgresError) in try connection.run(PostgresUsers.select, [name]) }.first.map(PostgresUsers.record)
    }

    public func all() throws(PostgresError) -> [UserRecord] {
        try pool.withConnection { connection throws(PostgresError) in try connection.run(PostgresUsers.selectAll) }.map(PostgresUsers.record)
    }

    /// Add `record`, or replace the user of that name.
    public func save(_ record: UserRecord) throws(PostgresError) {
        var limits: [String: String] = [:]
        for item in record.limits.serialized.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { limits[parts[0]] = parts[1] }
        }
        let values: [String?] = [record.name, record.hash, record.home, record.readOnly ? "true" : "false"] + UserLimits.keys.map { limits[$0] }
        _ = try pool.withConnection { connection throws(PostgresError) in try connection.run(PostgresUsers.upsert, values) }
    }

    /// Remove the user called `name`; false if there was none.
    public func remove(named name: String) throws(PostgresError) -> Bool {
        let existed = try lookUp(name) != nil
        _ = try pool.withConnection { connection throws(PostgresError) in try connection.run(PostgresUsers.delete, [name]) }
        return existed
    }

    /// One password hash of each method in use.
    public func hashSamples() throws(PostgresError) -> [String] {
        try pool.withConnection { connection throws(PostgresError) in try connection.run(PostgresUsers.samples) }.compactMap { $0.first ?? nil }
    }

    /// The schema version the database has (0: none).
    func schemaInstalled() throws(PostgresError) -> Int {
        try pool.withConnection { connection throws(PostgresError) in
            do throws(PostgresError) {
                return PostgresUsers.number(try connection.run(PostgresUsers.version))
            } catch where error.sqlState == "42P01" {
                return 0
            }
        }
    }

    /// Apply the schema (idempotent); the schema version before and after.
    public func initialize() throws(PostgresError) -> (before: Int, after: Int) {
        try pool.withConnection { connection throws(PostgresError) in
            let before: Int
            do throws(PostgresError) {
                before = PostgresUsers.number(try connection.run(PostgresUsers.version))
            } catch where error.sqlState == "42P01" {
                // undefined_table: a database Ferry has not used yet.
                before = 0
            }
            try connection.execute(PostgresUsers.schema)
            return (before, PostgresUsers.number(try connection.run(PostgresUsers.version)))
        }
    }

    /// The one number a query returned (0 if none).
    private static func number(_ rows: [[String?]]) -> Int {
        rows.first?.first.flatMap { $0.flatMap { Int($0) } } ?? 0
    }

    /// A row of `columns` (text) as a record; a limit the row holds but this version cannot read is
    /// left unset (the database's CHECKs make that rare).
    private static func record(_ row: [String?]) -> UserRecord {
        var limits = UserLimits()
        for (key, value) in zip(UserLimits.keys, row.dropFirst(4)) {
            if let value { _ = limits.set(key, value) }
        }
        return UserRecord(name: row[0] ?? "", hash: row[1] ?? "*", home: row[2] ?? "/nonexistent", readOnly: row[3] == "t", limits: limits)
    }
}
