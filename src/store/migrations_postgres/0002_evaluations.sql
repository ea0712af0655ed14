-- Each pull request's evaluation history (see the SQLite migration 0003):
-- one row per evaluation, a bounded number per pull request, older ones
-- removed with the delivery retention.
CREATE TABLE evaluations (
    id        BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo      TEXT    NOT NULL,
    pr        BIGINT  NOT NULL,
    at        BIGINT  NOT NULL,
    cause     TEXT    NOT NULL,
    head      TEXT    NOT NULL,
    decision  TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    requests  BIGINT  NOT NULL,
    snapshot  TEXT    NOT NULL
);
CREATE INDEX evaluations_by_pr ON evaluations (repo, pr, id);
CREATE INDEX evaluations_by_age ON evaluations (at);
