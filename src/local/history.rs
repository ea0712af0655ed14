//! The merge-source guard on a local repository: [`LocalGraph`] answers the
//! rule's questions with the `git` binary, and [`check_merge_sources`] runs
//! the rule over `base..head`.
//!
//! Cost is bounded by merges, not commits: the PR's commits come from one
//! `git rev-list` call (parents and subjects together), branches from one
//! `git for-each-ref` call, and each remaining question is one short git
//! process, asked only when the rule needs it.
//!
//! Branches are the local ones and the remote-tracking ones, named without
//! their remote (`origin/release/1.2` is `release/1.2`) so `allowed` globs
//! read the same as on GitHub. `repo_root` names the repository: a `GIT_DIR`
//! inherited from a hook that ran us must not send git to another one, so the
//! variables that override discovery are removed from git's environment.
//!
//! Foreign history needs long-lived branches; locally protection is
//! unknown, so they are the branches matching the `long_lived` globs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::Context as _;

use crate::gate::merge_sources::{
    self, BranchPatterns, CommitGraph, GraphError, MergeSourcePolicy, MergeSourceReport, PrCommit,
    PrHistory,
};
use crate::ids::CommitSha;

/// Variables that would make git look somewhere other than `repo_root`.
const DISCOVERY_OVERRIDES: [&str; 4] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
];

/// Runs the merge-source rule on `base_rev..head_rev` of the repository at
/// `repo_root`. `base_rev` is also how the base is named in the report.
pub fn check_merge_sources(
    repo_root: &Path,
    base_rev: &str,
    head_rev: &str,
    policy: &MergeSourcePolicy,
) -> anyhow::Result<MergeSourceReport> {
    let mut graph = LocalGraph::open(repo_root);
    let base_tip = graph.resolve(base_rev).context("resolving the base")?;
    let head = graph.resolve(head_rev).context("resolving the head")?;
    let history = graph.pr_history(base_rev, &base_tip, &head)?;
    // Every answer of LocalGraph is ready at once (git runs synchronously),
    // so a plain executor drives the rule, inside or outside a tokio runtime.
    futures::executor::block_on(merge_sources::check(&history, policy, &mut graph))
        .with_context(|| format!("checking merge sources of {base_rev}..{head_rev}"))
}

/// A branch as the rule sees it.
#[derive(Debug, Clone)]
struct LocalBranch {
    /// Without `refs/heads/` or `refs/remotes/<remote>/`.
    name: String,
    tip: CommitSha,
}

/// The [`CommitGraph`] of a local repository, answered by `git`.
#[derive(Debug)]
pub struct LocalGraph {
    root: PathBuf,
    branches: Option<Vec<LocalBranch>>,
    git_runs: u64,
}

impl LocalGraph {
    /// A graph over the repository containing `repo_root`; nothing runs yet.
    pub fn open(repo_root: &Path) -> Self {
        Self {
            root: repo_root.to_owned(),
            branches: None,
            git_runs: 0,
        }
    }

    /// How many git processes this graph has run (to keep the cost visible).
    pub fn git_runs(&self) -> u64 {
        self.git_runs
    }

    /// The commit `rev` names (a branch, `origin/main`, `HEAD~2`, a SHA).
    pub fn resolve(&mut self, rev: &str) -> anyhow::Result<CommitSha> {
        let spec = format!("{rev}^{{commit}}");
        let out = self.git(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ])?;
        if !out.status.success() {
            anyhow::bail!(
                "{rev:?} does not name a commit in {} (deleted, or not fetched?)",
                self.root.display()
            );
        }
        parse_sha(&out.stdout).with_context(|| format!("git rev-parse {rev:?} printed no commit"))
    }

    /// The PR's commits, `base_tip..head`, oldest first, from one `git rev-list`.
    pub fn pr_history(
        &mut self,
        base_ref: &str,
        base_tip: &CommitSha,
        head: &CommitSha,
    ) -> anyhow::Result<PrHistory> {
        // Without --no-commit-header (git 2.33+) rev-list prints a
        // `commit <sha>` line before each formatted one; skipping every other
        // line works with old and new git alike.
        let not_base = format!("^{base_tip}");
        let out = self.git(&[
            "rev-list",
            "--topo-order",
            "--reverse",
            "--format=%H %P%x00%s",
            head.as_str(),
            &not_base,
        ])?;
        if !out.status.success() {
            anyhow::bail!("git rev-list {base_tip}..{head} failed: {}", stderr(&out));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let commits = parse_rev_list(&text)?;
        Ok(PrHistory {
            base_ref: base_ref.to_owned(),
            base_tip: base_tip.clone(),
            head: head.clone(),
            total_commits: commits.len() as u64,
            commits,
        })
    }

    fn git(&mut self, args: &[&str]) -> Result<Output, GraphError> {
        self.git_runs += 1;
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.root).args(args);
        for var in DISCOVERY_OVERRIDES {
            cmd.env_remove(var);
        }
        cmd.output()
            .map_err(|err| GraphError::Other(format!("could not run git: {err}")))
    }

    /// Why a question about `shas` failed: the first of them git does not
    /// have, or else git's own message.
    fn failure(&mut self, shas: &[&CommitSha], out: &Output) -> GraphError {
        for sha in shas {
            let spec = format!("{sha}^{{commit}}");
            match self.git(&["cat-file", "-e", &spec]) {
                Ok(probe) if !probe.status.success() => {
                    return GraphError::UnknownCommit((*sha).clone());
                }
                Ok(_) => {}
                Err(err) => return err,
            }
        }
        GraphError::Other(format!("git failed: {}", stderr(out)))
    }

    fn branches(&mut self) -> Result<&[LocalBranch], GraphError> {
        if self.branches.is_none() {
            let remotes = self.git(&["remote"])?;
            let remotes: Vec<String> = String::from_utf8_lossy(&remotes.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            let out = self.git(&[
                "for-each-ref",
                "--format=%(objectname)%00%(symref)%00%(refname)",
                "refs/heads",
                "refs/remotes",
            ])?;
            if !out.status.success() {
                return Err(GraphError::Other(format!(
                    "git for-each-ref failed: {}",
                    stderr(&out)
                )));
            }
            let listing = String::from_utf8_lossy(&out.stdout);
            self.branches = Some(parse_refs(&listing, &remotes));
        }
        Ok(self.branches.as_deref().unwrap_or_default())
    }
}

impl CommitGraph for LocalGraph {
    async fn merge_base(
        &mut self,
        a: &CommitSha,
        b: &CommitSha,
    ) -> Result<Option<CommitSha>, GraphError> {
        let out = self.git(&["merge-base", a.as_str(), b.as_str()])?;
        match out.status.code() {
            Some(0) => parse_sha(&out.stdout)
                .map(Some)
                .map_err(|err| GraphError::Other(format!("git merge-base: {err}"))),
            // Exit 1 with nothing printed: the histories share no commit.
            Some(1) if out.stdout.is_empty() => Ok(None),
            _ => Err(self.failure(&[a, b], &out)),
        }
    }

    async fn is_ancestor(
        &mut self,
        ancestor: &CommitSha,
        descendant: &CommitSha,
    ) -> Result<bool, GraphError> {
        let out = self.git(&[
            "merge-base",
            "--is-ancestor",
            ancestor.as_str(),
            descendant.as_str(),
        ])?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(self.failure(&[ancestor, descendant], &out)),
        }
    }

    async fn count_new(&mut self, exclude: &CommitSha, tip: &CommitSha) -> Result<u64, GraphError> {
        let not_exclude = format!("^{exclude}");
        let out = self.git(&["rev-list", "--count", tip.as_str(), &not_exclude])?;
        if !out.status.success() {
            return Err(self.failure(&[tip, exclude], &out));
        }
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|err| GraphError::Other(format!("git rev-list --count: {err}")))
    }

    async fn branches_matching(
        &mut self,
        globs: &[String],
    ) -> Result<Vec<(String, CommitSha)>, GraphError> {
        let (patterns, _invalid) = BranchPatterns::new(globs);
        let mut matching: Vec<(String, CommitSha)> = self
            .branches()?
            .iter()
            .filter(|b| patterns.is_match(&b.name))
            .map(|b| (b.name.clone(), b.tip.clone()))
            .collect();
        matching.sort();
        matching.dedup();
        Ok(matching)
    }

    async fn branches_at(&mut self, sha: &CommitSha) -> Result<Vec<String>, GraphError> {
        let mut names: Vec<String> = self
            .branches()?
            .iter()
            .filter(|b| b.tip == *sha)
            .map(|b| b.name.clone())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn commits_between(
        &mut self,
        exclude: &CommitSha,
        tip: &CommitSha,
        limit: u64,
    ) -> Result<Option<Vec<PrCommit>>, GraphError> {
        let not_exclude = format!("^{exclude}");
        let max = format!("--max-count={}", limit.saturating_add(1));
        let out = self.git(&[
            "rev-list",
            &max,
            "--format=%H %P%x00",
            tip.as_str(),
            &not_exclude,
        ])?;
        if !out.status.success() {
            return Err(self.failure(&[tip, exclude], &out));
        }
        let commits = parse_rev_list(&String::from_utf8_lossy(&out.stdout))
            .map_err(|err| GraphError::Other(format!("git rev-list: {err:#}")))?;
        Ok((commits.len() as u64 <= limit).then_some(commits))
    }
}

/// Parses `rev-list --format=%H %P%x00%s` output: a `commit <sha>` header
/// line, then `<sha> <parents…>\0<subject>`, per commit.
fn parse_rev_list(text: &str) -> anyhow::Result<Vec<PrCommit>> {
    let mut commits = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with("commit ")) {
        let (ids, subject) = line
            .split_once('\0')
            .with_context(|| format!("unexpected git rev-list line {line:?}"))?;
        let mut ids = ids.split_ascii_whitespace().map(str::parse::<CommitSha>);
        let sha = ids
            .next()
            .with_context(|| format!("no commit in git rev-list line {line:?}"))??;
        let parents = ids.collect::<Result<Vec<_>, _>>()?;
        commits.push(PrCommit {
            sha,
            parents,
            subject: subject.to_owned(),
        });
    }
    Ok(commits)
}

/// Parses `for-each-ref --format=%(objectname)%00%(symref)%00%(refname)`;
/// symbolic refs (`origin/HEAD`) are skipped, remote names are stripped.
fn parse_refs(listing: &str, remotes: &[String]) -> Vec<LocalBranch> {
    let mut branches = Vec::new();
    for line in listing.lines() {
        let mut fields = line.split('\0');
        let (Some(sha), Some(symref), Some(refname)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(tip) = sha.parse::<CommitSha>() else {
            continue;
        };
        if !symref.is_empty() {
            continue;
        }
        let name = if let Some(local) = refname.strip_prefix("refs/heads/") {
            local
        } else if let Some(remote_ref) = refname.strip_prefix("refs/remotes/") {
            // The longest remote whose name prefixes the ref (remote names
            // may hold '/'); a stale ref of a removed remote loses its first segment.
            let by_remote = remotes
                .iter()
                .filter_map(|r| remote_ref.strip_prefix(r.as_str())?.strip_prefix('/'))
                .min_by_key(|rest| rest.len());
            match by_remote.or_else(|| remote_ref.split_once('/').map(|(_, rest)| rest)) {
                Some(name) => name,
                None => continue,
            }
        } else {
            continue;
        };
        branches.push(LocalBranch {
            name: name.to_owned(),
            tip,
        });
    }
    branches
}

fn parse_sha(stdout: &[u8]) -> anyhow::Result<CommitSha> {
    Ok(String::from_utf8_lossy(stdout).trim().parse()?)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(c: char) -> String {
        c.to_string().repeat(40)
    }

    #[test]
    fn rev_list_output_parses_with_headers_parents_and_odd_subjects() {
        let text = format!(
            "commit {a}\n{a} {b}\0Fix: a | b\ncommit {c}\n{c} {a} {b}\0\ncommit {b}\n{b}\0root\n",
            a = sha('a'),
            b = sha('b'),
            c = sha('c'),
        );
        let commits = parse_rev_list(&text).unwrap();
        assert_eq!(commits.len(), 3);
        assert_eq!(commits[0].subject, "Fix: a | b");
        assert_eq!(commits[1].parents.len(), 2);
        assert_eq!(commits[1].subject, "");
        assert!(commits[2].parents.is_empty());
    }

    #[test]
    fn rev_list_garbage_is_an_error() {
        assert!(parse_rev_list("not a commit line\n").is_err());
    }

    #[test]
    fn refs_lose_their_remote_and_symbolic_refs_are_skipped() {
        let listing = [
            format!("{}\0\0refs/heads/main", sha('a')),
            format!("{}\0\0refs/remotes/origin/release/1.2", sha('b')),
            format!(
                "{}\0refs/remotes/origin/main\0refs/remotes/origin/HEAD",
                sha('a')
            ),
            format!("{}\0\0refs/remotes/team/fork/develop", sha('c')),
            format!("{}\0\0refs/remotes/gone/hotfix/x", sha('d')),
        ]
        .join("\n");
        let remotes = [
            "origin".to_owned(),
            "team".to_owned(),
            "team/fork".to_owned(),
        ];
        let names: Vec<(String, char)> = parse_refs(&listing, &remotes)
            .into_iter()
            .map(|b| (b.name, b.tip.as_str().chars().next().unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                ("main".to_owned(), 'a'),
                ("release/1.2".to_owned(), 'b'),
                ("develop".to_owned(), 'c'),
                ("hotfix/x".to_owned(), 'd'),
            ]
        );
    }
}
