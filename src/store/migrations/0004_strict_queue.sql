-- The one-at-a-time queue of a strict base branch (branches must be up to
-- date, no merge queue): the opted-in pull requests whose guards pass and
-- whose required checks pass or are running, per (repository, base). The
-- line is priority first, then the oldest entry; only the first in line is
-- updated and merged. `updating_head` is the head seamguard asked GitHub to
-- update, so the same head is never updated twice.
CREATE TABLE strict_queue (
    repo          TEXT    NOT NULL,
    pr            INTEGER NOT NULL,
    base          TEXT    NOT NULL,
    priority      INTEGER NOT NULL,
    entered_at    INTEGER NOT NULL,
    updating_head TEXT,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (repo, pr)
) WITHOUT ROWID;
CREATE INDEX strict_queue_line ON strict_queue (repo, base, priority DESC, entered_at, pr);
