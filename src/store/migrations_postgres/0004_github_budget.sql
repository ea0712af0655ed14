-- GitHub's rate budget per installation, shared by every replica
-- (src/github/budget.rs): units leased per counted limit and bucket, and
-- the pause a secondary-rate-limit answer imposes on all of them. The
-- embedded store keeps the same in memory (one process).

CREATE TABLE github_budget (
    installation BIGINT  NOT NULL,
    budget_limit TEXT    NOT NULL,
    bucket       BIGINT  NOT NULL,
    spent        INTEGER NOT NULL,
    PRIMARY KEY (installation, budget_limit, bucket)
);

CREATE TABLE github_pauses (
    installation BIGINT PRIMARY KEY,
    until_ms     BIGINT NOT NULL
);
