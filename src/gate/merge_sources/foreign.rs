//! Foreign history: the damage of "merged develop into a PR for main"
//! without a merge commit. A branch cut from `develop` (or rebased onto it,
//! or reset to it) and proposed for `main` carries `develop`'s unreleased
//! commits on its own first-parent line; no merge commit is there for the
//! merge rule to judge.
//!
//! For each long-lived branch L (protected, or matching
//! `merge_sources.long_lived`; never the base, an `allowed` branch or the
//! PR's own head) with tip T, the rule asks where L's *first-parent line*
//! meets the head's history:
//!
//! - T is one of the PR's commits (reset to L, cut at its tip): there.
//! - Otherwise the merge base M of head and T. M in the base's history:
//!   L shares nothing with the PR beyond the base — clean (the usual case,
//!   one question).
//! - Otherwise the commits of T not in the head are listed and T's first
//!   parents followed through them: the first commit outside is where L's
//!   line meets the head. A branch *cut from* L meets it at a PR commit,
//!   the fork point F. A branch cut from the base and also merged *into* L
//!   (git-flow's "finish into both") meets it only in the base: L's line
//!   passed beside the PR's commits, a merge brought them in.
//!
//! F must also be on the head's own first-parent line: when it is reached
//! only through a merge commit, the merge rule judges that merge (the
//! incident is reported exactly as before). The finding counts the PR's
//! commits reachable from F (what comes along) and the rest (the PR's own
//! work, `git rebase --onto <base> F`).
//!
//! Cost, per evaluation: nothing when the PR carries at most
//! [`QUIET_MAX_COMMITS`] commits, no merge, all made after the base tip —
//! built on it, which the graph proves and clocks would not (a branch that
//! young has no room for a long-lived branch's backlog); else one
//! branch listing (shared with the allowed branches), and per long-lived
//! branch at most one comparison (`merge_base`, then more of the same
//! comparison's pages only when M is a PR commit), bounded by
//! [`MAX_WALK_COMMITS`]. Past that bound the branch is reported (false
//! positives are cheap).

use std::collections::{HashMap, HashSet};

use super::{BranchPatterns, CommitGraph, Evaluation, Finding, GraphError, PrCommit, optional};
use crate::ids::CommitSha;

/// A PR of at most this many commits without a merge, built on the base's
/// current tip, is not asked about: it has room for at most this many
/// commits it did not write (the incident carried 1,468), and the typical
/// PR — a few commits on a fresh base — costs nothing.
pub const QUIET_MAX_COMMITS: u64 = 5;

/// Commits of a long-lived branch beyond the PR's head that are read to
/// follow its first-parent line (five pages of GitHub's compare): a
/// branch cut from `develop` meets it within the commits `develop` gained
/// since, which are few; past this the branch is reported unverified.
pub const MAX_WALK_COMMITS: u64 = 500;

/// What the foreign-history rule looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForeignCheck {
    /// Not asked: few commits, without a merge, built on the base's tip.
    Quiet { commits: u64 },
    /// The long-lived branches compared with the PR (names, sorted).
    Checked { branches: Vec<String> },
}

impl<G: CommitGraph> Evaluation<'_, G> {
    /// The foreign-history findings (at most one per fork point).
    pub(super) async fn foreign_history(
        &mut self,
        long_lived: &[String],
        allowed: &BranchPatterns,
    ) -> Result<(Vec<Finding>, ForeignCheck), GraphError> {
        if let Some(commits) = quiet(self.pr) {
            return Ok((Vec::new(), ForeignCheck::Quiet { commits }));
        }
        let mut branches = self.graph.long_lived_branches(long_lived).await?;
        branches.retain(|(name, tip)| {
            !is_base(&self.pr.base_ref, name) && !allowed.is_match(name) && *tip != self.pr.head
        });
        branches.sort();
        branches.dedup();
        let mut names: Vec<String> = branches.iter().map(|(n, _)| n.clone()).collect();
        names.dedup();

        let own_line = self.first_parent_line();
        let mut findings: Vec<Finding> = Vec::new();
        for (name, tip) in &branches {
            let Some(fork) = optional(self.meet(tip).await)?.flatten() else {
                continue;
            };
            if self.in_base(&fork).await? {
                continue;
            }
            // Reached only through a merge: the merge rule's to judge.
            if self.list_complete && !own_line.contains(&fork) {
                continue;
            }
            if findings.iter().any(
                |f| matches!(f, Finding::ForeignHistory { fork_point, .. } if *fork_point == fork),
            ) {
                continue;
            }
            let brings_in = match self.list_complete {
                true => reachable_within(&self.pr.commits, &fork),
                false => optional(self.graph.count_new(&self.pr.base_tip, &fork).await)?
                    .unwrap_or_default(),
            };
            findings.push(Finding::ForeignHistory {
                branch: name.clone(),
                fork_point: fork,
                brings_in,
                own_commits: self.pr.total_commits.saturating_sub(brings_in),
            });
        }
        Ok((findings, ForeignCheck::Checked { branches: names }))
    }

    /// Where the first-parent line of `tip` meets the head's history, or
    /// `None` when it never does (unrelated) or it meets only in the base.
    async fn meet(&mut self, tip: &CommitSha) -> Result<Option<CommitSha>, GraphError> {
        if self.listed.contains(tip) {
            return Ok(Some(tip.clone()));
        }
        let head = self.pr.head.clone();
        let Some(merge_base) = self.graph.merge_base(&head, tip).await? else {
            return Ok(None);
        };
        if self.in_base(&merge_base).await? {
            return Ok(None);
        }
        let Some(beyond) = self
            .graph
            .commits_between(&head, tip, MAX_WALK_COMMITS)
            .await?
        else {
            // Too far to follow: report where the histories meet.
            return Ok(Some(merge_base));
        };
        let first_parent: HashMap<&CommitSha, Option<&CommitSha>> =
            beyond.iter().map(|c| (&c.sha, c.parents.first())).collect();
        let mut at = tip;
        // Bounded by the list so a malformed one cannot loop.
        for _ in 0..=beyond.len() {
            match first_parent.get(at) {
                None => return Ok(Some(at.clone())),
                Some(Some(parent)) => at = parent,
                Some(None) => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The head's first-parent line within the PR's commits.
    fn first_parent_line(&self) -> HashSet<CommitSha> {
        let by_sha: HashMap<&CommitSha, &PrCommit> =
            self.pr.commits.iter().map(|c| (&c.sha, c)).collect();
        let mut line = HashSet::new();
        let mut at = by_sha.get(&self.pr.head);
        while let Some(commit) = at {
            if !line.insert(commit.sha.clone()) {
                break;
            }
            at = commit.parents.first().and_then(|p| by_sha.get(p));
        }
        line
    }
}

/// `Some(commits)` when the PR is small and young enough not to be asked
/// about (see [`QUIET_MAX_COMMITS`]): every parent of its commits is one of
/// them or the base tip itself.
fn quiet(pr: &super::PrHistory) -> Option<u64> {
    let listed: HashSet<&CommitSha> = pr.commits.iter().map(|c| &c.sha).collect();
    let young = pr.total_commits <= QUIET_MAX_COMMITS
        && pr.commits.len() as u64 == pr.total_commits
        && pr.commits.iter().all(|c| {
            c.parents.len() == 1
                && c.parents
                    .iter()
                    .all(|p| *p == pr.base_tip || listed.contains(p))
        });
    young.then_some(pr.total_commits)
}

/// Whether the branch `name` is the base `base_ref` (`main`, or locally
/// `origin/main`).
fn is_base(base_ref: &str, name: &str) -> bool {
    base_ref == name
        || base_ref.strip_suffix(name).is_some_and(|remote| {
            remote.ends_with('/') && !remote[..remote.len() - 1].contains('/')
        })
}

/// How many of `commits` are reachable from `from` (itself included).
fn reachable_within(commits: &[PrCommit], from: &CommitSha) -> u64 {
    let by_sha: HashMap<&CommitSha, &PrCommit> = commits.iter().map(|c| (&c.sha, c)).collect();
    let mut seen: HashSet<&CommitSha> = HashSet::new();
    let mut stack = vec![from];
    while let Some(sha) = stack.pop() {
        if let Some(commit) = by_sha.get(sha)
            && seen.insert(&commit.sha)
        {
            stack.extend(commit.parents.iter());
        }
    }
    seen.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_known_by_its_name_or_one_remote_before_it() {
        assert!(is_base("main", "main"));
        assert!(is_base("origin/main", "main"));
        assert!(is_base("origin/release/2.1", "release/2.1"));
        assert!(!is_base("main", "develop"));
        assert!(!is_base("origin/feature/main", "main"));
        assert!(!is_base("xmain", "main"));
    }
}
