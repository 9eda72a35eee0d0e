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
