-- The shared inbox on PostgreSQL: the same tables as the embedded store
-- (src/inbox/migrations), so one set of column rules (`inbox::columns`)
-- serves both. Times are Unix milliseconds; ids are GitHub's numbers.
-- Delivery ids are stored time-first from the start (`delivery_key`).

CREATE TABLE deliveries (
    id           TEXT   PRIMARY KEY,
    event        TEXT   NOT NULL,
    action       TEXT,
    installation BIGINT,
    received_at  BIGINT NOT NULL
);
CREATE INDEX deliveries_by_age ON deliveries (received_at);

-- While leased, due_at holds the lease expiry (see inbox::queue).
CREATE TABLE work_items (
    key         TEXT    PRIMARY KEY,
    payload     TEXT    NOT NULL,
    due_at      BIGINT  NOT NULL,
    lease_token BIGINT,
    claimed_at  BIGINT,
    rerun_at    BIGINT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
);
CREATE INDEX work_items_by_due ON work_items (due_at, key);

CREATE TABLE merge_attempts (
    repo         TEXT    NOT NULL,
    pr           BIGINT  NOT NULL,
    head         TEXT    NOT NULL,
    attempts     INTEGER NOT NULL,
    last_outcome TEXT    NOT NULL,
    updated_at   BIGINT  NOT NULL,
    PRIMARY KEY (repo, pr, head)
);
CREATE INDEX merge_attempts_by_age ON merge_attempts (updated_at);

CREATE TABLE first_seen (
    repo    TEXT   NOT NULL,
    head    TEXT   NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (repo, head)
);
CREATE INDEX first_seen_by_age ON first_seen (seen_at);

CREATE TABLE check_runs (
    id           BIGINT PRIMARY KEY,
    repo         TEXT   NOT NULL,
    installation BIGINT NOT NULL,
    head         TEXT   NOT NULL,
    opened_at    BIGINT NOT NULL,
    completed_at BIGINT,
    digest       TEXT
);
CREATE INDEX check_runs_open ON check_runs (opened_at) WHERE completed_at IS NULL;
CREATE INDEX check_runs_by_completion ON check_runs (completed_at);

CREATE TABLE waiting (
    key        TEXT   PRIMARY KEY,
    payload    TEXT   NOT NULL,
    since      BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX waiting_by_update ON waiting (updated_at);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
