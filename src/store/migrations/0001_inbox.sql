-- The durable inbox. Times are Unix milliseconds; ids are GitHub's numbers.

-- Every delivery stored before it was acknowledged: the deduplication record
-- for X-GitHub-Delivery (GitHub's redeliveries reuse the id). The raw body is
-- not kept; the work items carry what the engine needs.
CREATE TABLE deliveries (
    id           TEXT    PRIMARY KEY NOT NULL,
    event        TEXT    NOT NULL,
    action       TEXT,
    installation INTEGER,
    received_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX deliveries_by_age ON deliveries (received_at);

-- One row per work key (coalescing). An idle item is claimable once
-- due_at <= now. A claimed item holds lease_token, and due_at is moved to the
-- lease expiry, so one index serves both "due" and "lease expired".
-- rerun_at records a trigger that arrived while the item was leased.
CREATE TABLE work_items (
    key         TEXT    PRIMARY KEY NOT NULL,
    payload     TEXT    NOT NULL,
    due_at      INTEGER NOT NULL,
    lease_token INTEGER,
    claimed_at  INTEGER,
    rerun_at    INTEGER,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
) WITHOUT ROWID;
CREATE INDEX work_items_by_due ON work_items (due_at, key);

-- Merge calls made per pull request head, to bound retries across runs.
CREATE TABLE merge_attempts (
    repo         TEXT    NOT NULL,
    pr           INTEGER NOT NULL,
    head         TEXT    NOT NULL,
    attempts     INTEGER NOT NULL,
    last_outcome TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (repo, pr, head)
) WITHOUT ROWID;
CREATE INDEX merge_attempts_by_age ON merge_attempts (updated_at);

-- When seamguard first saw a head SHA (the clock for "a required check never
-- registered").
CREATE TABLE first_seen (
    repo    TEXT    NOT NULL,
    head    TEXT    NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (repo, head)
) WITHOUT ROWID;
CREATE INDEX first_seen_by_age ON first_seen (seen_at);

-- The check runs seamguard opened: the watchdog finds those left in progress,
-- and digest lets an identical update be skipped.
CREATE TABLE check_runs (
    id           INTEGER PRIMARY KEY NOT NULL,
    repo         TEXT    NOT NULL,
    installation INTEGER NOT NULL,
    head         TEXT    NOT NULL,
    opened_at    INTEGER NOT NULL,
    completed_at INTEGER,
    digest       TEXT
);
CREATE INDEX check_runs_open ON check_runs (opened_at) WHERE completed_at IS NULL;
CREATE INDEX check_runs_by_completion ON check_runs (completed_at);

-- Work waiting on checks, for the reconciler: a lost check_run event must
-- never strand a pull request.
CREATE TABLE waiting (
    key        TEXT    PRIMARY KEY NOT NULL,
    payload    TEXT    NOT NULL,
    since      INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX waiting_by_update ON waiting (updated_at);

-- Small key/value state, e.g. the hook-deliveries cursor.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;
