-- Each pull request's evaluation history, for its page and /status: one row
-- per evaluation (newest kept, a bounded number per pull request; older
-- ones go with the delivery retention). `snapshot` is the JSON of what the
-- page shows (`web::snapshot::PageSnapshot`); the other columns are what
-- the history table and /status list without decoding it.
CREATE TABLE evaluations (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    repo      TEXT    NOT NULL,
    pr        INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    cause     TEXT    NOT NULL,
    head      TEXT    NOT NULL,
    decision  TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    requests  INTEGER NOT NULL,
    snapshot  TEXT    NOT NULL
);
CREATE INDEX evaluations_by_pr ON evaluations (repo, pr, id);
CREATE INDEX evaluations_by_age ON evaluations (at);
