-- The one-at-a-time queue of a strict base branch: see the SQLite migration
-- 0004_strict_queue.sql for what each column means.
CREATE TABLE strict_queue (
    repo          TEXT    NOT NULL,
    pr            BIGINT  NOT NULL,
    base          TEXT    NOT NULL,
    priority      BOOLEAN NOT NULL,
    entered_at    BIGINT  NOT NULL,
    updating_head TEXT,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (repo, pr)
);
CREATE INDEX strict_queue_line ON strict_queue (repo, base, priority DESC, entered_at, pr);
