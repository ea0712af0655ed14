//! The merge-source rule: does a merge commit in the PR bring in history from
//! a branch that is neither the base, an allowed branch, nor the PR's own line?
//!
//! For each merge commit M in the PR and each non-first parent P of M:
//!
//! 1. P in the base's history → allowed (the author merged the base in to update).
//! 2. The merge base of M^1 and P is *not* in the base's history → allowed:
//!    P's line forked from the PR's own work (a `git pull` of the same branch).
//!    No merge base at all (unrelated histories) is not "own work".
//! 3. P in the history of a branch matching `allowed` → allowed.
//! 4. Otherwise the merge is disallowed; the finding names M, P, the branch P
//!    is the tip of (if any) and how many commits P brings in.
//!
//! The hard part is cost, not logic: every question to the [`CommitGraph`]
//! may be a GitHub request, and the incident PR carried 1,468 commits. So the
//! rule asks nothing per commit, and per parent only what it still needs:
//!
//! - `P == base tip` is answered for free.
//! - When [`PrHistory::commits`] is complete, a parent that is *not* in it
//!   must be reachable from the base (it is reachable from the head, and the
//!   list is everything reachable from the head but not from the base), so
//!   "merged main in" costs no question. The converse is deliberately not
//!   used: GitHub's three-dot compare lists commits after *one* merge base,
//!   which in a criss-cross history includes commits the base already has;
//!   treating "listed" as "not in base" could turn such a commit into a
//!   false "own line" and let a foreign merge through.
//! - Answers to "is X in the base's history" are memoised for the
//!   evaluation; allowed branches are listed once, and only when a parent
//!   reaches step 3; `branches_at` and `count_new` are asked only for findings.
//!
//! The same damage without a merge commit — a branch cut from, rebased
//! onto or reset to a long-lived branch such as `develop` — is *foreign
//! history*, judged in [`foreign`] over the same graph and memo.
//!
//! A question answered with [`GraphError::UnknownCommit`] makes that parent
//! *unverifiable*, which is a finding (false negatives are expensive); any
//! other graph error ends the evaluation as `Err` so the caller can report an
//! internal error instead of a verdict.
//!
//! The base is judged at the tip given in [`PrHistory::base_tip`], i.e. as
//! it is now. A PR that merged an older base tip stays clean when the base
//! moves on. If the base was force-pushed *back* past a tip the PR had merged,
//! that parent is no longer in the base's history and is reported: the merge
//! would re-introduce commits the base dropped.

mod foreign;
mod patterns;
mod render;

use std::collections::{HashMap, HashSet};

pub use foreign::{ForeignCheck, MAX_WALK_COMMITS, QUIET_MAX_COMMITS};
pub use patterns::{BranchPatterns, InvalidPattern};

use crate::ids::CommitSha;

/// A PR carries "far more than its own line" when at least this many of its
/// commits are off its first-parent line. A `git pull` of teammates' work
/// or a small allowed branch stays well below it; the incident brought 1,468.
pub const DRIFT_MIN_FOREIGN_COMMITS: u64 = 50;

/// ... and when the PR carries at least this many times as many commits as
/// its first-parent line: at that ratio three quarters of what lands was
/// never part of the change a reviewer reads commit by commit.
pub const DRIFT_RATIO: u64 = 4;

/// Answers about the commit graph, implemented by the local repository (git)
/// and by GitHub (compare API, memoised).
#[allow(async_fn_in_trait)]
pub trait CommitGraph {
    /// A best common ancestor of `a` and `b`, or `None` when the histories are unrelated.
    async fn merge_base(
        &mut self,
        a: &CommitSha,
        b: &CommitSha,
    ) -> Result<Option<CommitSha>, GraphError>;
    /// Whether `ancestor` is reachable from `descendant` (a commit is its own ancestor).
    async fn is_ancestor(
        &mut self,
        ancestor: &CommitSha,
        descendant: &CommitSha,
    ) -> Result<bool, GraphError>;
    /// How many commits are reachable from `tip` and not from `exclude` (what a merge parent brings in).
    async fn count_new(&mut self, exclude: &CommitSha, tip: &CommitSha) -> Result<u64, GraphError>;
    /// Branches whose names match any of the globs, with their tips (called only when a merge needs them).
    /// Implementations match names with [`BranchPatterns`] so every side agrees on glob semantics.
    async fn branches_matching(
        &mut self,
        globs: &[String],
    ) -> Result<Vec<(String, CommitSha)>, GraphError>;
    /// Branch names whose tip is exactly `sha` (to say where a disallowed parent appears to come from; called only for findings).
    async fn branches_at(&mut self, sha: &CommitSha) -> Result<Vec<String>, GraphError>;
    /// Long-lived branches with their tips: those matching `globs`, plus
    /// those the graph knows to be long-lived by other means (protected on
    /// GitHub; the remote's default branch locally).
    async fn long_lived_branches(
        &mut self,
        globs: &[String],
    ) -> Result<Vec<(String, CommitSha)>, GraphError> {
        if globs.is_empty() {
            return Ok(Vec::new());
        }
        self.branches_matching(globs).await
    }
    /// The commits reachable from `tip` and not from `exclude`, each with its
    /// parents (any order), when there are at most `limit` of them; `None`
    /// when there are more.
    async fn commits_between(
        &mut self,
        exclude: &CommitSha,
        tip: &CommitSha,
        limit: u64,
    ) -> Result<Option<Vec<PrCommit>>, GraphError>;
}

/// Why a [`CommitGraph`] could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// The graph does not know this commit (GitHub answered 404; git has no such object).
    #[error("commit {0} is unknown to the repository")]
    UnknownCommit(CommitSha),
    /// Anything else: transport, permissions, a git that would not run.
    #[error("{0}")]
    Other(String),
}

/// One commit of the PR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrCommit {
    pub sha: CommitSha,
    /// In order: the first parent is the line the commit was made on.
    pub parents: Vec<CommitSha>,
    /// The first line of the message.
    pub subject: String,
}

/// What the rule needs to know about a PR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrHistory {
    /// The base branch's name, as shown to people (`main`, or `origin/main` locally).
    pub base_ref: String,
    /// The base branch's tip now.
    pub base_tip: CommitSha,
    pub head: CommitSha,
    /// Everything reachable from head and not from base (a superset such as a
    /// three-dot compare list is fine); any order.
    pub commits: Vec<PrCommit>,
    /// How many commits the PR carries; more than `commits.len()` when the
    /// list was cut short (then the list is not trusted to answer "in base").
    pub total_commits: u64,
}

/// The repository's `merge_sources` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeSourcePolicy {
    /// Globs of branches whose history may be merged in, besides the base.
    pub allowed: Vec<String>,
    /// Above this many commits in the PR, the drift note becomes a finding.
    pub max_commits: Option<u64>,
    /// Globs of long-lived branches whose history must not arrive without a
    /// merge commit (protected branches count too, where the graph knows them).
    pub long_lived: Vec<String>,
}

/// A merge commit, as findings name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeCommit {
    pub sha: CommitSha,
    pub subject: String,
}

/// Why a merge parent was allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedBy {
    /// The parent is in the base's history.
    Base,
    /// The parent's line forked from the PR's own work (a `git pull`).
    OwnLine,
    /// The parent is in the history of this allowed branch.
    AllowedBranch(String),
}

/// A merge parent that passed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedMerge {
    pub merge: MergeCommit,
    pub parent: CommitSha,
    pub by: AllowedBy,
}

/// Something that fails the guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A merge brings in history from outside the base, the allowed branches and the PR's own line.
    Disallowed {
        merge: MergeCommit,
        parent: CommitSha,
        /// Branches whose tip is the parent: where it appears to come from.
        parent_branches: Vec<String>,
        /// Commits reachable from the parent and not from the merge's first
        /// parent; `None` when the graph could not count them.
        brings_in: Option<u64>,
    },
    /// A merge parent whose source could not be verified because a commit is unknown.
    Unverifiable {
        merge: MergeCommit,
        parent: CommitSha,
        unknown: CommitSha,
        /// The unknown commit is the base tip: the base branch was deleted or force-pushed.
        unknown_is_base: bool,
    },
    /// The PR brings a long-lived branch's commits onto the base without a
    /// merge commit: it was cut from, rebased onto or reset to that branch.
    ForeignHistory {
        /// The long-lived branch.
        branch: String,
        /// Where the PR's own work starts: its last commit from `branch`.
        fork_point: CommitSha,
        /// The PR's commits that come from `branch` (reachable from the fork point).
        brings_in: u64,
        /// The PR's other commits: its own work, to rebase.
        own_commits: u64,
    },
    /// The PR carries more commits than `merge_sources.max_commits`.
    TooManyCommits { total: u64, max: u64 },
}

/// What one allowed pattern matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternMatch {
    pub pattern: String,
    /// Matching branch names (sorted, without duplicates); empty when it matched nothing.
    pub branches: Vec<String>,
}

/// The sources a merge parent may come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedSources {
    /// The base branch (always allowed).
    pub base_ref: String,
    /// The configured globs, in order.
    pub patterns: Vec<String>,
    /// Globs that do not parse; they match nothing.
    pub invalid: Vec<InvalidPattern>,
    /// What each valid glob matched, or `None` when no merge needed the
    /// allowed branches (they were not asked for).
    pub resolved: Option<Vec<PatternMatch>>,
}

/// How many commits the PR carries, against its own first-parent line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitCount {
    /// All commits in the PR.
    pub total: u64,
    /// Commits on the head's first-parent line, down to the base.
    pub first_parent: u64,
}

impl CommitCount {
    /// Commits that came from other lines through merges.
    pub fn foreign(&self) -> u64 {
        self.total.saturating_sub(self.first_parent)
    }

    /// Whether the PR carries far more than its own line (see [`DRIFT_RATIO`]).
    pub fn drifted(&self) -> bool {
        self.foreign() >= DRIFT_MIN_FOREIGN_COMMITS
            && self.total >= DRIFT_RATIO.saturating_mul(self.first_parent.max(1))
    }
}

/// The guard's result for one PR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeSourceReport {
    pub findings: Vec<Finding>,
    /// Merge parents that passed, in the order they were checked.
    pub allowed_merges: Vec<AllowedMerge>,
    /// Merge commits examined.
    pub merges_checked: u64,
    pub sources: AllowedSources,
    pub commits: CommitCount,
    pub max_commits: Option<u64>,
    /// What the foreign-history rule looked at.
    pub foreign: ForeignCheck,
}

impl MergeSourceReport {
    /// Whether the guard passes: no disallowed or unverifiable merge, not too many commits.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Applies the rule to every merge commit of the PR (see the module docs).
pub async fn check<G: CommitGraph>(
    pr: &PrHistory,
    policy: &MergeSourcePolicy,
    graph: &mut G,
) -> Result<MergeSourceReport, GraphError> {
    let (patterns, invalid) = BranchPatterns::new(&policy.allowed);
    let foreign_excused = patterns.clone();
    let mut eval = Evaluation {
        pr,
        graph,
        patterns,
        listed: pr.commits.iter().map(|c| &c.sha).collect(),
        list_complete: pr.commits.len() as u64 >= pr.total_commits,
        in_base: HashMap::new(),
        allowed_branches: None,
    };

    let mut findings = Vec::new();
    let mut allowed_merges = Vec::new();
    let mut merges_checked = 0;
    for commit in pr.commits.iter().filter(|c| c.parents.len() > 1) {
        merges_checked += 1;
        let merge = MergeCommit {
            sha: commit.sha.clone(),
            subject: commit.subject.clone(),
        };
        let first = &commit.parents[0];
        for parent in &commit.parents[1..] {
            match eval.judge(first, parent).await {
                Ok(Some(by)) => allowed_merges.push(AllowedMerge {
                    merge: merge.clone(),
                    parent: parent.clone(),
                    by,
                }),
                Ok(None) => findings.push(eval.disallowed(&merge, first, parent).await?),
                Err(GraphError::UnknownCommit(unknown)) => findings.push(Finding::Unverifiable {
                    merge: merge.clone(),
                    parent: parent.clone(),
                    unknown_is_base: unknown == pr.base_tip,
                    unknown,
                }),
                Err(other) => return Err(other),
            }
        }
    }

    let (foreign_findings, foreign) = eval
        .foreign_history(&policy.long_lived, &foreign_excused)
        .await?;
    findings.extend(foreign_findings);

    if let Some(max) = policy.max_commits.filter(|&max| pr.total_commits > max) {
        findings.push(Finding::TooManyCommits {
            total: pr.total_commits,
            max,
        });
    }

    let resolved = eval.allowed_branches.as_ref().map(|branches| {
        eval.patterns
            .group(branches.iter().map(|(name, _)| name.as_str()))
    });

    Ok(MergeSourceReport {
        findings,
        allowed_merges,
        merges_checked,
        sources: AllowedSources {
            base_ref: pr.base_ref.clone(),
            patterns: policy.allowed.clone(),
            invalid,
            resolved,
        },
        commits: CommitCount {
            total: pr.total_commits,
            first_parent: first_parent_len(pr),
        },
        max_commits: policy.max_commits,
        foreign,
    })
}

/// One evaluation's state: the memo of "in base" answers and the allowed
/// branches, listed at most once.
struct Evaluation<'a, G> {
    pr: &'a PrHistory,
    graph: &'a mut G,
    patterns: BranchPatterns,
    listed: HashSet<&'a CommitSha>,
    list_complete: bool,
    in_base: HashMap<CommitSha, bool>,
    allowed_branches: Option<Vec<(String, CommitSha)>>,
}

impl<G: CommitGraph> Evaluation<'_, G> {
    /// `Some(why)` when `parent` may be merged onto `first`, `None` when not.
    async fn judge(
        &mut self,
        first: &CommitSha,
        parent: &CommitSha,
    ) -> Result<Option<AllowedBy>, GraphError> {
        if self.in_base(parent).await? {
            return Ok(Some(AllowedBy::Base));
        }
        if let Some(fork) = self.graph.merge_base(first, parent).await?
            && !self.in_base(&fork).await?
        {
            return Ok(Some(AllowedBy::OwnLine));
        }
        if self.patterns.is_empty() {
            return Ok(None);
        }
        if self.allowed_branches.is_none() {
            let mut branches = self.graph.branches_matching(self.patterns.globs()).await?;
            // The PR's own branch would vouch for everything it contains,
            // the bad merge included, so it never counts as an allowed source.
            branches.retain(|(_, tip)| *tip != self.pr.head);
            self.allowed_branches = Some(branches);
        }
        let branches = self.allowed_branches.as_deref().unwrap_or_default();
        for (name, tip) in branches {
            if tip == parent || self.graph.is_ancestor(parent, tip).await? {
                return Ok(Some(AllowedBy::AllowedBranch(name.clone())));
            }
        }
        Ok(None)
    }

    /// Whether `sha` is in the base's history, asking the graph only when
    /// neither the base tip nor a complete commit list answers it.
    async fn in_base(&mut self, sha: &CommitSha) -> Result<bool, GraphError> {
        if *sha == self.pr.base_tip || (self.list_complete && !self.listed.contains(sha)) {
            return Ok(true);
        }
        if let Some(&known) = self.in_base.get(sha) {
            return Ok(known);
        }
        let answer = self.graph.is_ancestor(sha, &self.pr.base_tip).await?;
        self.in_base.insert(sha.clone(), answer);
        Ok(answer)
    }

    /// The finding for a disallowed parent, with what the graph can say
    /// about where it comes from. An unknown commit here only loses detail.
    async fn disallowed(
        &mut self,
        merge: &MergeCommit,
        first: &CommitSha,
        parent: &CommitSha,
    ) -> Result<Finding, GraphError> {
        let mut parent_branches =
            optional(self.graph.branches_at(parent).await)?.unwrap_or_default();
        parent_branches.sort();
        parent_branches.dedup();
        let brings_in = optional(self.graph.count_new(first, parent).await)?;
        Ok(Finding::Disallowed {
            merge: merge.clone(),
            parent: parent.clone(),
            parent_branches,
            brings_in,
        })
    }
}

/// `UnknownCommit` becomes `None`; other errors stay errors.
fn optional<T>(answer: Result<T, GraphError>) -> Result<Option<T>, GraphError> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(GraphError::UnknownCommit(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Length of the head's first-parent line within the PR's commits.
fn first_parent_len(pr: &PrHistory) -> u64 {
    let by_sha: HashMap<&CommitSha, &PrCommit> = pr.commits.iter().map(|c| (&c.sha, c)).collect();
    let mut len = 0;
    let mut at = by_sha.get(&pr.head);
    // Bounded by the list's length so a malformed (cyclic) list cannot loop.
    while let Some(commit) = at.filter(|_| len < pr.commits.len() as u64) {
        len += 1;
        at = commit.parents.first().and_then(|p| by_sha.get(p));
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(n: u8) -> CommitSha {
        format!("{n:040x}").parse().unwrap()
    }

    fn commit(n: u8, parents: &[u8]) -> PrCommit {
        PrCommit {
            sha: sha(n),
            parents: parents.iter().map(|&p| sha(p)).collect(),
            subject: format!("commit {n}"),
        }
    }

    fn history(head: u8, commits: Vec<PrCommit>) -> PrHistory {
        PrHistory {
            base_ref: "main".into(),
            base_tip: sha(0),
            head: sha(head),
            total_commits: commits.len() as u64,
            commits,
        }
    }

    #[test]
    fn first_parent_line_stops_at_the_base_and_ignores_merged_lines() {
        // 1 <- 2 <- 4(merge of 3) <- 5; 3 off the line.
        let pr = history(
            5,
            vec![
                commit(1, &[0]),
                commit(2, &[1]),
                commit(3, &[0]),
                commit(4, &[2, 3]),
                commit(5, &[4]),
            ],
        );
        assert_eq!(first_parent_len(&pr), 4);
    }

    #[test]
    fn first_parent_line_survives_a_cycle_and_a_missing_head() {
        let pr = history(1, vec![commit(1, &[2]), commit(2, &[1])]);
        assert_eq!(first_parent_len(&pr), 2);
        assert_eq!(first_parent_len(&history(9, vec![commit(1, &[0])])), 0);
    }

    #[test]
    fn drift_needs_both_many_foreign_commits_and_a_high_ratio() {
        let cases = [
            // (total, first_parent, drifted)
            (3, 3, false),
            (1_470, 2, true),
            (49 + 1, 1, false),
            (50 + 1, 1, true),
            (400, 100, true),
            (399, 100, false),
            (60, 0, true),
        ];
        for (total, first_parent, drifted) in cases {
            let count = CommitCount {
                total,
                first_parent,
            };
            assert_eq!(count.drifted(), drifted, "{count:?}");
        }
    }
}
