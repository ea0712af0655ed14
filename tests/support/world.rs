//! The state of the fake GitHub: one [`World`] behind one mutex.
//!
//! The world holds what GitHub would hold for seamguard's App: the App,
//! its installations and their tokens, repositories (commits with whole
//! file trees, branches, pull requests, check runs, commit statuses, classic
//! protection, rulesets), webhook deliveries, manifest codes, the primary
//! rate-limit window, and the log of every request the fake received.
//!
//! Invariants the routes rely on:
//! - A commit is immutable and its SHA is a hash of everything in it
//!   (parents, message, date, tree), so the same scenario always produces
//!   the same SHAs, and two different commits never share one.
//! - An open pull request follows its head branch: moving the branch moves
//!   the pull request's head, as on GitHub.
//! - Check-run ids, status ids and delivery ids grow monotonically, so
//!   "latest" means "highest id" everywhere.
//!
//! Tests read the world through [`crate::support::FakeGitHub::world`] and in
//! `wait_for` predicates; they change it through the scenario API
//! ([`crate::support::scenario`]) or directly with `with_world`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::faults::Faults;

/// A commit or blob id: 40 lowercase hex digits.
pub type Sha = String;

/// Where commit dates start: a fixed instant keeps SHAs reproducible.
const EPOCH_SECS: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

/// Each new commit is this much younger than the previous one, so "newest"
/// is well defined and dates read naturally in a dump.
const COMMIT_SPACING_SECS: i64 = 60;

/// GitHub's primary rate limit for an installation (REST docs, "Rate limits
/// for the REST API").
pub const DEFAULT_RATE_LIMIT: u64 = 5_000;

/// GitHub stops sniffing for binary content after this many bytes; git's own
/// heuristic (a NUL in the first 8000 bytes) is what GitHub's diff uses.
pub const BINARY_SNIFF: usize = 8_000;

/// A 40-hex id derived from `parts` (SHA-256, shortened to git's length).
pub fn hash_id(kind: &str, parts: &[&[u8]]) -> Sha {
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())[..40].to_owned()
}

/// The blob id of some file content.
pub fn blob_sha(bytes: &[u8]) -> Sha {
    hash_id("blob", &[bytes])
}

/// Is this content binary by git's rule (a NUL byte near the start)?
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0)
}

/// File content, shared between the commits that hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub sha: Sha,
    pub bytes: Arc<[u8]>,
}

impl Blob {
    pub fn new(bytes: &[u8]) -> Self {
        Self {
            sha: blob_sha(bytes),
            bytes: bytes.into(),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// A whole file tree: path → content.
pub type Tree = BTreeMap<String, Blob>;

#[derive(Debug, Clone)]
pub struct Commit {
    pub sha: Sha,
    pub parents: Vec<Sha>,
    pub message: String,
    /// The author's login (a GitHub App's bot with `[bot]`).
    pub author: String,
    /// The committer's login (usually the author).
    pub committer: String,
    pub date: DateTime<Utc>,
    pub tree: Tree,
}

impl Commit {
    /// The id of the commit's tree (for the `tree.sha` field of answers).
    pub fn tree_sha(&self) -> Sha {
        let mut parts: Vec<&[u8]> = Vec::new();
        for (path, blob) in &self.tree {
            parts.push(path.as_bytes());
            parts.push(blob.sha.as_bytes());
        }
        hash_id("tree", &parts)
    }
}

/// Who owns a repository: it changes the `owner.type` of every answer and
/// where organization rulesets come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerType {
    User,
    Organization,
}

impl OwnerType {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerType::User => "User",
            OwnerType::Organization => "Organization",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullState {
    Open,
    Closed,
}

#[derive(Debug, Clone)]
pub struct Pull {
    pub number: u64,
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub head_ref: String,
    pub head_sha: Sha,
    /// `owner/name` of the repository the head lives in, when it is a fork.
    pub head_repo: Option<String>,
    pub base_ref: String,
    pub state: PullState,
    pub draft: bool,
    pub labels: Vec<String>,
    pub merged: bool,
    pub merge_commit_sha: Option<Sha>,
    pub merged_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A forced `mergeable_state` (`dirty`, `blocked`, `unstable`...);
    /// otherwise it is computed from the repository.
    pub mergeable_state: Option<String>,
    /// Whether GitHub has computed mergeability for the current head and
    /// base (see [`Mergeability`]).
    pub mergeability: Mergeability,
}

/// GitHub computes a pull request's mergeability in the background after
/// every push to its head or its base: until then `mergeable` is `null` and
/// `mergeable_state` is `unknown`. The fake does the same, deterministically:
/// the first [`World::unknown_reads_after_push`] reads of the pull request
/// after its head or its base's tip moved answer unknown; later reads are
/// computed.
#[derive(Debug, Clone, Default)]
pub struct Mergeability {
    /// The (head, base tip) whose mergeability is computed.
    pub computed_for: Option<(Sha, Sha)>,
    /// Reads answered unknown for this (head, base tip) so far.
    pub unknown_reads: Option<((Sha, Sha), u32)>,
}

impl Pull {
    pub fn is_open(&self) -> bool {
        self.state == PullState::Open
    }
}

/// One check-run annotation as GitHub keeps it.
#[derive(Debug, Clone)]
pub struct Annotation {
    pub path: String,
    pub start_line: u64,
    pub end_line: u64,
    pub annotation_level: String,
    pub title: Option<String>,
    pub message: String,
    /// The annotation object exactly as it was sent.
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub title: String,
    pub summary: String,
    pub text: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: Sha,
    pub status: String,
    pub conclusion: Option<String>,
    pub app_id: u64,
    pub app_slug: String,
    pub external_id: Option<String>,
    pub details_url: Option<String>,
    pub output: Option<Output>,
    /// Every annotation ever sent, in order: GitHub appends across updates.
    pub annotations: Vec<Annotation>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub check_suite_id: u64,
    /// How many times it was updated (PATCH).
    pub updates: u32,
}

impl CheckRun {
    pub fn is_completed(&self) -> bool {
        self.status == "completed"
    }

    pub fn summary(&self) -> &str {
        self.output
            .as_ref()
            .map(|o| o.summary.as_str())
            .unwrap_or("")
    }
}

#[derive(Debug, Clone)]
pub struct Status {
    pub id: u64,
    pub sha: Sha,
    pub context: String,
    pub state: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A required check: a context and, optionally, the App that must report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredCheck {
    pub context: String,
    pub app_id: Option<i64>,
}

/// Classic branch protection of one branch, as seamguard can see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// Protected, with required status checks.
    Checks {
        contexts: Vec<String>,
        checks: Vec<RequiredCheck>,
        strict: bool,
    },
    /// Protected, but status checks are not required.
    NoChecks,
    /// The App lacks `administration: read`: GitHub answers 403.
    Forbidden,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesetSource {
    Repository,
    Organization,
}

#[derive(Debug, Clone)]
pub struct Ruleset {
    pub id: u64,
    pub name: String,
    pub source: RulesetSource,
    /// `active`, `evaluate` or `disabled`; only active rules apply.
    pub enforcement: String,
    /// `ref_name.include` patterns: `~DEFAULT_BRANCH`, `~ALL`,
    /// `refs/heads/main`, `refs/heads/release/*`.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub required: Vec<RequiredCheck>,
    pub strict: bool,
    /// A `merge_queue` rule: merges go through the queue only.
    pub merge_queue: bool,
    /// Other rules, as GitHub lists them: `(type, parameters)` such as
    /// `("pull_request", {...})` or `("required_signatures", null)`.
    pub rules: Vec<(String, serde_json::Value)>,
}

impl Ruleset {
    /// Does this ruleset target `branch` of a repository whose default
    /// branch is `default_branch`? fnmatch semantics: `*` stays within one
    /// path segment, `**` crosses them.
    pub fn applies_to(&self, branch: &str, default_branch: &str) -> bool {
        let full = format!("refs/heads/{branch}");
        let matches = |pattern: &String| match pattern.as_str() {
            "~ALL" => true,
            "~DEFAULT_BRANCH" => branch == default_branch,
            p => globset::GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map(|g| g.compile_matcher().is_match(&full))
                .unwrap_or(false),
        };
        self.include.iter().any(matches) && !self.exclude.iter().any(matches)
    }
}

/// A stack of pull requests, bottom first: each one's base is the head
/// branch of the one below, and the bottom one's base is where the whole
/// stack lands (`base_ref`).
///
/// Pull requests stay in `pulls` once merged or closed (as `GET …/stacks/{n}`
/// lists them, closed with their `merged_at`); a pull request's position is
/// its place in this list, and does not change when those below merge.
#[derive(Debug, Clone)]
pub struct Stack {
    pub id: u64,
    pub number: u64,
    pub base_ref: String,
    pub pulls: Vec<u64>,
    pub created_at: DateTime<Utc>,
}

/// One pull request in the fake's merge queue.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    pub number: u64,
    pub head_sha: Sha,
    pub enqueued_at: DateTime<Utc>,
}

/// A pull request taken out of the merge queue (GitHub's
/// `RemovedFromMergeQueueEvent`).
#[derive(Debug, Clone)]
pub struct QueueRemoval {
    pub number: u64,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub owner_type: OwnerType,
    pub installation: u64,
    pub default_branch: String,
    pub private: bool,
    pub commits: HashMap<Sha, Commit>,
    pub blobs: HashMap<Sha, Arc<[u8]>>,
    pub branches: BTreeMap<String, Sha>,
    pub pulls: BTreeMap<u64, Pull>,
    pub check_runs: Vec<CheckRun>,
    pub statuses: Vec<Status>,
    pub protection: BTreeMap<String, Protection>,
    pub rulesets: Vec<Ruleset>,
    /// The merge queue: pull request numbers in order, each with the head
    /// it was enqueued at.
    pub queue: Vec<QueueEntry>,
    /// Pull requests that left the queue without merging, oldest first.
    pub queue_removals: Vec<QueueRemoval>,
    /// `update-branch` answers 403, as for an App GitHub has not enabled
    /// that operation for.
    pub update_branch_forbidden: bool,
    /// Merge methods the repository's settings turn off (`merge`,
    /// `squash`, `rebase`): `allow_*_merge: false`, and merges refused.
    pub methods_off: BTreeSet<String>,
    /// Every open pull request that was behind its base right after the
    /// base moved (a merge), counted by the fake.
    pub behind_seen: BTreeSet<u64>,
    /// Paths whose diff GitHub deems too large: no `patch` field.
    pub large_files: BTreeSet<String>,
    /// Branches whose classic protection the App may not read (403) while
    /// GitHub still enforces it at merge.
    pub unreadable_protection: BTreeSet<String>,
    /// Permissions, comments and reactions (`routes::issues`).
    pub conversation: super::routes::issues::Conversation,
    /// Reviews, threads, signatures and deployments (`routes::reviews`).
    pub whole_gate: super::routes::reviews::WholeGate,
    /// Stacks of pull requests (`routes::stacks`).
    pub stacks: Vec<Stack>,
    commit_count: i64,
}

impl Repo {
    pub fn new(id: u64, owner: &str, name: &str, owner_type: OwnerType, installation: u64) -> Self {
        Self {
            id,
            owner: owner.to_owned(),
            name: name.to_owned(),
            owner_type,
            installation,
            default_branch: "main".to_owned(),
            private: true,
            commits: HashMap::new(),
            blobs: HashMap::new(),
            branches: BTreeMap::new(),
            pulls: BTreeMap::new(),
            check_runs: Vec::new(),
            statuses: Vec::new(),
            protection: BTreeMap::new(),
            rulesets: Vec::new(),
            queue: Vec::new(),
            queue_removals: Vec::new(),
            update_branch_forbidden: false,
            methods_off: BTreeSet::new(),
            behind_seen: BTreeSet::new(),
            large_files: BTreeSet::new(),
            unreadable_protection: BTreeSet::new(),
            // The repository's owner administers it, and `octocat` (who
            // opens, pushes and labels the scenarios' pull requests)
            // maintains it; anyone else reads, as GitHub answers for a
            // public repository's visitor.
            conversation: super::routes::issues::Conversation {
                permissions: [
                    (owner.to_owned(), "admin".to_owned()),
                    ("octocat".to_owned(), "write".to_owned()),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
            whole_gate: Default::default(),
            stacks: Vec::new(),
            commit_count: 0,
        }
    }

    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Adds a commit whose tree is `tree` (a whole tree, not a change).
    pub fn add_commit(&mut self, parents: &[Sha], message: &str, tree: Tree) -> Sha {
        for p in parents {
            assert!(
                self.commits.contains_key(p),
                "fake GitHub: parent {p} of {message:?} is not a commit of {}",
                self.full_name()
            );
        }
        self.commit_count += 1;
        let date = Utc
            .timestamp_opt(EPOCH_SECS + self.commit_count * COMMIT_SPACING_SECS, 0)
            .single()
            .expect("valid date");
        let stamp = date.timestamp().to_be_bytes();
        let mut parts: Vec<&[u8]> = vec![message.as_bytes(), &stamp];
        for p in parents {
            parts.push(p.as_bytes());
        }
        for (path, blob) in &tree {
            parts.push(path.as_bytes());
            parts.push(blob.sha.as_bytes());
        }
        let sha = hash_id("commit", &parts);
        for blob in tree.values() {
            self.blobs
                .entry(blob.sha.clone())
                .or_insert_with(|| blob.bytes.clone());
        }
        self.commits.insert(
            sha.clone(),
            Commit {
                sha: sha.clone(),
                parents: parents.to_vec(),
                message: message.to_owned(),
                author: "octocat".to_owned(),
                committer: "octocat".to_owned(),
                date,
                tree,
            },
        );
        sha
    }

    /// A commit on top of `parents`: the first parent's tree with `changes`
    /// applied (`None` deletes the path).
    pub fn commit_changes(
        &mut self,
        parents: &[Sha],
        message: &str,
        changes: &[(&str, Option<&[u8]>)],
    ) -> Sha {
        let mut tree = parents
            .first()
            .map(|p| self.commit(p).tree.clone())
            .unwrap_or_default();
        for (path, content) in changes {
            match content {
                Some(bytes) => {
                    tree.insert((*path).to_owned(), Blob::new(bytes));
                }
                None => {
                    tree.remove(*path);
                }
            }
        }
        self.add_commit(parents, message, tree)
    }

    pub fn commit(&self, sha: &str) -> &Commit {
        self.commits
            .get(sha)
            .unwrap_or_else(|| panic!("fake GitHub: no commit {sha} in {}", self.full_name()))
    }

    /// Points `branch` at `sha` and moves every open pull request whose head
    /// is that branch, as a push does on GitHub.
    pub fn set_branch(&mut self, branch: &str, sha: &str) {
        assert!(
            self.commits.contains_key(sha),
            "fake GitHub: branch {branch} cannot point at unknown commit {sha}"
        );
        self.branches.insert(branch.to_owned(), sha.to_owned());
        let now = Utc::now();
        let mut moved = Vec::new();
        for pr in self.pulls.values_mut() {
            if pr.is_open() && pr.head_repo.is_none() && pr.head_ref == branch {
                pr.head_sha = sha.to_owned();
                pr.updated_at = now;
                moved.push(pr.number);
            }
        }
        // GitHub takes a pull request out of the queue when its head moves.
        for n in moved {
            self.dequeue(n, "UNKNOWN_REMOVAL_REASON");
        }
    }

    /// Completes the check run `id` with `conclusion` (another App's run,
    /// from inside a scripted change).
    pub fn complete_check_run(&mut self, id: u64, conclusion: &str) {
        let run = self
            .check_runs
            .iter_mut()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("fake GitHub: no check run {id}"));
        run.status = "completed".to_owned();
        run.conclusion = Some(conclusion.to_owned());
        run.completed_at = Some(Utc::now());
    }

    /// The stack pull request `number` is in, with its one-based position
    /// (1 is the bottom).
    pub fn stack_of(&self, number: u64) -> Option<(&Stack, usize)> {
        self.stacks.iter().find_map(|s| {
            s.pulls
                .iter()
                .position(|n| *n == number)
                .map(|i| (s, i + 1))
        })
    }

    /// Is a merge queue required on `branch` (an active ruleset's rule)?
    pub fn merge_queue_required(&self, branch: &str) -> bool {
        self.rulesets_for(branch).iter().any(|r| r.merge_queue)
    }

    /// Takes #`number` out of the merge queue for `reason` (nothing when
    /// it is not queued).
    pub fn dequeue(&mut self, number: u64, reason: &str) {
        let before = self.queue.len();
        self.queue.retain(|e| e.number != number);
        if self.queue.len() != before {
            self.queue_removals.push(QueueRemoval {
                number,
                reason: reason.to_owned(),
                at: Utc::now(),
            });
        }
    }

    pub fn tip(&self, branch: &str) -> Option<&Sha> {
        self.branches.get(branch)
    }

    /// A branch name, `refs/heads/<branch>`, a full SHA or an unambiguous
    /// SHA prefix (at least 7 digits), as GitHub resolves `{ref}`.
    pub fn resolve(&self, git_ref: &str) -> Option<Sha> {
        let name = git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref);
        if let Some(sha) = self.branches.get(name) {
            return Some(sha.clone());
        }
        let lower = git_ref.to_ascii_lowercase();
        if lower.len() == 40 && self.commits.contains_key(&lower) {
            return Some(lower);
        }
        if lower.len() >= 7 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut found = self.commits.keys().filter(|k| k.starts_with(&lower));
            if let (Some(one), None) = (found.next(), found.next()) {
                return Some(one.clone());
            }
        }
        None
    }

    /// Every commit reachable from `sha`, itself included.
    pub fn ancestors(&self, sha: &str) -> HashSet<Sha> {
        let mut seen = HashSet::new();
        let mut stack = vec![sha.to_owned()];
        while let Some(s) = stack.pop() {
            if seen.insert(s.clone()) {
                stack.extend(self.commit(&s).parents.iter().cloned());
            }
        }
        seen
    }

    pub fn is_ancestor(&self, ancestor: &str, of: &str) -> bool {
        self.ancestors(of).contains(ancestor)
    }

    /// The best common ancestor of `a` and `b` (the newest when there are
    /// several, as after criss-cross merges).
    pub fn merge_base(&self, a: &str, b: &str) -> Option<Sha> {
        let ours = self.ancestors(a);
        let common: HashSet<Sha> = self
            .ancestors(b)
            .into_iter()
            .filter(|c| ours.contains(c))
            .collect();
        // A common ancestor that is a proper ancestor of another one is not
        // "best". Mark those by walking down from each candidate.
        let mut marked: HashSet<Sha> = HashSet::new();
        for c in &common {
            let mut stack: Vec<Sha> = self.commit(c).parents.clone();
            while let Some(s) = stack.pop() {
                if marked.insert(s.clone()) {
                    stack.extend(self.commit(&s).parents.iter().cloned());
                }
            }
        }
        common
            .into_iter()
            .filter(|c| !marked.contains(c))
            .max_by(|x, y| {
                (self.commit(x).date, x.as_str()).cmp(&(self.commit(y).date, y.as_str()))
            })
    }

    /// Commits reachable from `head` and not in `exclude`, parents before
    /// children (a post-order walk, first parents first).
    pub fn range(&self, head: &str, exclude: &HashSet<Sha>) -> Vec<Sha> {
        let mut out = Vec::new();
        let mut done: HashSet<Sha> = HashSet::new();
        // (commit, index of the next parent to visit)
        let mut stack: Vec<(Sha, usize)> = Vec::new();
        if !exclude.contains(head) {
            stack.push((head.to_owned(), 0));
        }
        while let Some((sha, next)) = stack.pop() {
            let parents = &self.commit(&sha).parents;
            if next < parents.len() {
                stack.push((sha.clone(), next + 1));
                let p = &parents[next];
                // The stack holds one path of a DAG: a parent is never on it.
                if !exclude.contains(p) && !done.contains(p) {
                    stack.push((p.clone(), 0));
                }
            } else if done.insert(sha.clone()) {
                out.push(sha);
            }
        }
        out
    }

    /// A three-way, file-level merge of `theirs` into `ours`: a path changed
    /// on one side only takes that side; changed on both sides differently is
    /// a conflict (`Err` with the paths).
    pub fn merge_trees(&self, ours: &str, theirs: &str) -> Result<Tree, Vec<String>> {
        let base = self
            .merge_base(ours, theirs)
            .map(|b| self.commit(&b).tree.clone())
            .unwrap_or_default();
        let (o, t) = (&self.commit(ours).tree, &self.commit(theirs).tree);
        let paths: BTreeSet<&String> = base.keys().chain(o.keys()).chain(t.keys()).collect();
        let mut out = Tree::new();
        let mut conflicts = Vec::new();
        for path in paths {
            let (b, ov, tv) = (base.get(path), o.get(path), t.get(path));
            let pick = if ov == tv || tv == b {
                ov
            } else if ov == b {
                tv
            } else {
                conflicts.push(path.clone());
                continue;
            };
            if let Some(blob) = pick {
                out.insert(path.clone(), blob.clone());
            }
        }
        if conflicts.is_empty() {
            Ok(out)
        } else {
            Err(conflicts)
        }
    }

    /// The latest check run per (name, app) on `sha`, newest first.
    pub fn latest_check_runs(&self, sha: &str) -> Vec<&CheckRun> {
        let mut seen = HashSet::new();
        self.check_runs
            .iter()
            .rev()
            .filter(|r| r.head_sha == sha)
            .filter(|r| seen.insert((r.name.clone(), r.app_id)))
            .collect()
    }

    /// The latest status per context on `sha`, newest first.
    pub fn latest_statuses(&self, sha: &str) -> Vec<&Status> {
        let mut seen = HashSet::new();
        self.statuses
            .iter()
            .rev()
            .filter(|s| s.sha == sha)
            .filter(|s| seen.insert(s.context.clone()))
            .collect()
    }

    /// Every ruleset that applies to `branch`, active ones only.
    pub fn rulesets_for(&self, branch: &str) -> Vec<&Ruleset> {
        self.rulesets
            .iter()
            .filter(|r| r.enforcement == "active" && r.applies_to(branch, &self.default_branch))
            .collect()
    }

    /// The union of what classic protection and active rulesets require on
    /// `branch` (a forbidden protection counts as nothing, as it would for
    /// an App without `administration: read`... GitHub itself still
    /// enforces it, so it is read here regardless).
    pub fn required_checks(&self, branch: &str) -> (Vec<RequiredCheck>, bool) {
        let mut out: Vec<RequiredCheck> = Vec::new();
        let mut strict = false;
        if let Some(Protection::Checks {
            contexts,
            checks,
            strict: s,
        }) = self.protection.get(branch)
        {
            strict |= *s;
            for c in contexts {
                out.push(RequiredCheck {
                    context: c.clone(),
                    app_id: None,
                });
            }
            out.extend(checks.iter().cloned());
        }
        for r in self.rulesets_for(branch) {
            strict |= r.strict;
            out.extend(r.required.iter().cloned());
        }
        let mut seen = HashSet::new();
        out.retain(|c| seen.insert((c.context.clone(), c.app_id)));
        (out, strict)
    }

    /// The state of one required check on `sha`: `"success"`, `"failure"`
    /// or `"pending"` (which includes "not there yet").
    pub fn check_state(&self, sha: &str, required: &RequiredCheck) -> &'static str {
        let run = self.latest_check_runs(sha).into_iter().find(|r| {
            r.name == required.context
                && required
                    .app_id
                    .is_none_or(|id| id < 0 || r.app_id == id as u64)
        });
        if let Some(run) = run {
            return match (run.status.as_str(), run.conclusion.as_deref()) {
                ("completed", Some("success" | "neutral" | "skipped")) => "success",
                ("completed", _) => "failure",
                _ => "pending",
            };
        }
        match self
            .latest_statuses(sha)
            .into_iter()
            .find(|s| s.context == required.context)
            .map(|s| s.state.as_str())
        {
            Some("success") => "success",
            Some("failure" | "error") => "failure",
            _ => "pending",
        }
    }

    /// The (head, base tip) pair GitHub's mergeability is about.
    pub fn mergeability_key(&self, pr: &Pull) -> (Sha, Sha) {
        let base = self.tip(&pr.base_ref).cloned().unwrap_or_default();
        (pr.head_sha.clone(), base)
    }

    /// Has GitHub computed the mergeability of `pr` as it is now (or was
    /// its state forced)?
    pub fn mergeability_known(&self, pr: &Pull) -> bool {
        pr.mergeable_state.is_some()
            || pr.mergeability.computed_for.as_ref() == Some(&self.mergeability_key(pr))
    }

    /// Counts one read of pull request `number` (`GET /pulls/{n}`): the
    /// read that GitHub's background job answers before it is done.
    pub fn read_mergeability(&mut self, number: u64, unknown_reads: u32) {
        let Some(pr) = self.pulls.get(&number) else {
            return;
        };
        if self.mergeability_known(pr) {
            return;
        }
        let key = self.mergeability_key(pr);
        let pr = self.pulls.get_mut(&number).expect("just read");
        let reads = match &pr.mergeability.unknown_reads {
            Some((k, n)) if *k == key => n + 1,
            _ => 1,
        };
        pr.mergeability.unknown_reads = Some((key.clone(), reads));
        if reads >= unknown_reads {
            pr.mergeability.computed_for = Some(key);
        }
    }

    /// `mergeable_state` as GitHub would compute it, unless forced; `unknown`
    /// until GitHub has computed it after a push.
    pub fn mergeable_state(&self, pr: &Pull) -> String {
        if let Some(forced) = &pr.mergeable_state {
            return forced.clone();
        }
        if !pr.is_open() || !self.mergeability_known(pr) {
            return "unknown".to_owned();
        }
        if pr.draft {
            return "draft".to_owned();
        }
        let Some(base_tip) = self.tip(&pr.base_ref) else {
            return "unknown".to_owned();
        };
        if self.merge_trees(base_tip, &pr.head_sha).is_err() {
            return "dirty".to_owned();
        }
        let (required, strict) = self.required_checks(&pr.base_ref);
        if required
            .iter()
            .any(|c| self.check_state(&pr.head_sha, c) != "success")
        {
            return "blocked".to_owned();
        }
        if strict && !self.is_ancestor(base_tip, &pr.head_sha) {
            return "behind".to_owned();
        }
        "clean".to_owned()
    }
}

/// An installation access token the fake handed out.
#[derive(Debug, Clone)]
pub struct Token {
    pub installation: u64,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

/// How the fake mints installation tokens.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// Life of a new token (GitHub: one hour).
    pub lifetime: Duration,
    /// Total length of a token, `ghs_` prefix included (GitHub: 40 today,
    /// longer stateless tokens are rolling out).
    pub length: usize,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            lifetime: Duration::hours(1),
            length: 40,
        }
    }
}

/// The primary rate-limit window every answer reports.
#[derive(Debug, Clone)]
pub struct RateLimit {
    pub limit: u64,
    pub remaining: u64,
    pub reset: DateTime<Utc>,
}

/// Who a request authenticated as, as the fake judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeenAuth {
    None,
    /// A valid App JWT.
    App,
    /// A live installation token of this installation.
    Installation(u64),
    /// Credentials were sent and refused (the reason is in the string).
    Refused(String),
}

/// One request the fake received (at the mock server, after the proxy).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub seq: u64,
    pub method: String,
    /// The path as sent (percent-encoded), without the API prefix.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The route template that served it (`None`: no such route, a 404 —
    /// a route the fake may need to grow).
    pub route: Option<&'static str>,
    pub auth: SeenAuth,
    pub accept: Option<String>,
    pub body: Option<Value>,
    /// The status the fake answered.
    pub status: u16,
    /// The `message` of an error answer (a 405's wording).
    pub message: Option<String>,
    /// When the fake answered it (benchmarks time merges by it).
    pub at: std::time::Instant,
}

impl Recorded {
    /// A request to merge a pull request: `PUT …/pulls/N/merge-async` (but
    /// its 404, the probe of an API root without it) or `PUT …/pulls/N/merge`.
    pub fn is_a_merge_request(&self) -> bool {
        let last = self.path.rsplit('/').next().unwrap_or_default();
        self.method == "PUT"
            && self.path.contains("/pulls/")
            && (last == "merge" || (last == "merge-async" && self.status != 404))
    }

    /// A request to merge #`n` (see [`is_a_merge_request`](Self::is_a_merge_request)).
    pub fn is_merge_request(&self, n: u64) -> bool {
        self.method == "PUT"
            && (self.path.ends_with(&format!("/pulls/{n}/merge"))
                || (self.path.ends_with(&format!("/pulls/{n}/merge-async")) && self.status != 404))
    }

    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One request as the front proxy saw it (before any transport fault).
#[derive(Debug, Clone)]
pub struct Attempt {
    pub method: String,
    pub path: String,
    /// The transport fault applied, if any.
    pub fault: Option<String>,
}

/// One webhook delivery as `GET /app/hook/deliveries` lists it.
#[derive(Debug, Clone)]
pub struct HookDelivery {
    pub id: u64,
    pub guid: String,
    pub delivered_at: DateTime<Utc>,
    pub redelivery: bool,
    pub status_code: u16,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<u64>,
    pub repository_id: Option<u64>,
    /// What was delivered, so a redelivery can send it again.
    pub body: Vec<u8>,
}

/// What `POST /app-manifests/{code}/conversions` hands out for one code.
#[derive(Debug, Clone)]
pub struct ManifestApp {
    pub id: u64,
    pub slug: String,
    pub pem: String,
    pub webhook_secret: String,
    pub client_id: String,
    pub client_secret: String,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub struct Installation {
    pub id: u64,
    pub account: String,
}

/// One asynchronous merge request, as GitHub holds it.
#[derive(Debug, Clone)]
pub struct AsyncMerge {
    pub uuid: String,
    pub repo: String,
    pub number: u64,
    pub merge_method: String,
    pub merge_action: String,
    pub expected_head_sha: String,
    /// `pending`, `merged`, `enqueued` or `failed`.
    pub status: String,
    pub message: String,
    /// The merge commit once merged.
    pub sha: Option<String>,
    /// Reads answered since the request was made.
    pub reads: u32,
    /// The `seq` of the read of its result that ran the merge (none when
    /// it ran on its own).
    pub ran_at: Option<u64>,
    /// When it runs on its own ([`World::async_merge_runs_after`]).
    pub runs_at: Option<DateTime<Utc>>,
    /// Kept for 24 hours after this.
    pub updated_at: DateTime<Utc>,
}

/// Everything the fake GitHub knows.
pub struct World {
    pub app_id: u64,
    pub app_slug: String,
    /// The API root clients use (the proxy), without a trailing slash.
    pub api_url: String,
    pub installations: BTreeMap<u64, Installation>,
    /// The App's permissions, events and webhook configuration.
    pub app_meta: super::routes::app_meta::AppMeta,
    pub repos: BTreeMap<String, Repo>,
    pub tokens: HashMap<String, Token>,
    pub token_policy: TokenPolicy,
    pub rate: RateLimit,
    /// GitHub's primary and secondary limits per installation, when the
    /// scenario asks for them (`FakeGitHub::enforce_rate_limits`); `rate`
    /// is then unused.
    pub limits: Option<super::limits::Enforcer>,
    pub requests: Vec<Recorded>,
    pub attempts: Vec<Attempt>,
    pub hook_deliveries: Vec<HookDelivery>,
    /// Delivery ids seamguard asked GitHub to redeliver, in order.
    pub redeliveries: Vec<u64>,
    /// How many of `redeliveries` the fake has already sent.
    pub redeliveries_sent: usize,
    pub manifest_codes: BTreeMap<String, ManifestApp>,
    /// Whether a merge is refused (405) while required checks are not green,
    /// with GitHub's exact wording. On, as on GitHub: a test that wants a
    /// pending wording makes a check required and pending (perhaps where
    /// seamguard cannot read it, [`Repo::unreadable_protection`]).
    pub enforce_required_checks: bool,
    /// Reads of a pull request answered with unknown mergeability after
    /// each push to its head or base ([`Mergeability`]); 1 by default.
    pub unknown_reads_after_push: u32,
    /// Conditional GETs answered `304 Not Modified`.
    pub not_modified: u64,
    /// The asynchronous merge requests GitHub holds, by uuid.
    pub async_merges: BTreeMap<String, AsyncMerge>,
    /// Reads of an asynchronous merge's result answered `pending` before
    /// the merge runs (1 by default: the first read sees it queued).
    pub async_merge_reads: u32,
    /// This API root has no `merge-async` (as GitHub Enterprise Server):
    /// both its routes answer 404.
    pub merge_async_missing: bool,
    /// Set: an asynchronous merge runs on its own this long after it was
    /// accepted, as GitHub runs it, and reads of its result only read it
    /// (`async_merge_reads` is unused). Unset (the default): it runs on a
    /// read of its result, so a test decides when.
    pub async_merge_runs_after: Option<std::time::Duration>,
    /// What the OpenAPI conformance layer checked, and what broke it.
    pub conformance: super::openapi::Ledger,
    pub(crate) faults: Faults,
    next_id: u64,
    token_counter: u64,
}

impl World {
    pub fn new(app_id: u64, api_url: String) -> Self {
        Self {
            app_id,
            app_slug: "seamguard".to_owned(),
            api_url,
            installations: BTreeMap::new(),
            app_meta: Default::default(),
            repos: BTreeMap::new(),
            tokens: HashMap::new(),
            token_policy: TokenPolicy::default(),
            rate: RateLimit {
                limit: DEFAULT_RATE_LIMIT,
                remaining: DEFAULT_RATE_LIMIT,
                reset: Utc::now() + Duration::hours(1),
            },
            limits: None,
            requests: Vec::new(),
            attempts: Vec::new(),
            hook_deliveries: Vec::new(),
            redeliveries: Vec::new(),
            redeliveries_sent: 0,
            manifest_codes: BTreeMap::new(),
            enforce_required_checks: true,
            unknown_reads_after_push: 1,
            not_modified: 0,
            async_merges: BTreeMap::new(),
            async_merge_reads: 1,
            merge_async_missing: false,
            async_merge_runs_after: None,
            conformance: Default::default(),
            faults: Faults::default(),
            next_id: 1000,
            token_counter: 0,
        }
    }

    /// A fresh id for anything GitHub numbers (check runs, statuses,
    /// deliveries, pull request ids): unique and increasing.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn repo(&self, full_name: &str) -> &Repo {
        self.repos
            .get(&full_name.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("fake GitHub: no repository {full_name}"))
    }

    pub fn repo_mut(&mut self, full_name: &str) -> &mut Repo {
        self.repos
            .get_mut(&full_name.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("fake GitHub: no repository {full_name}"))
    }

    pub fn find_repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos
            .get(&format!("{owner}/{name}").to_ascii_lowercase())
    }

    /// Mints a token for `installation` under the current policy.
    pub fn mint_token(&mut self, installation: u64) -> (String, Token) {
        self.token_counter += 1;
        let seed = hash_id(
            "token",
            &[
                &installation.to_be_bytes(),
                &self.token_counter.to_be_bytes(),
            ],
        );
        let mut secret = String::from("ghs_");
        while secret.len() < self.token_policy.length {
            let need = self.token_policy.length - secret.len();
            secret.push_str(&seed[..need.min(seed.len())]);
        }
        secret.truncate(self.token_policy.length.max(4));
        let token = Token {
            installation,
            expires_at: Utc::now() + self.token_policy.lifetime,
            revoked: false,
        };
        self.tokens.insert(secret.clone(), token.clone());
        (secret, token)
    }

    /// Every check run named `name`, in every repository, oldest first.
    pub fn check_runs_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a CheckRun> {
        self.repos
            .values()
            .flat_map(|r| r.check_runs.iter())
            .filter(move |r| r.name == name)
    }

    /// How many recorded requests match `method` and the path `route` (see
    /// [`super::faults::RouteFilter`] for the matching rule).
    pub fn count(&self, method: &str, path: &str) -> usize {
        let filter = super::faults::RouteFilter::new(method, path);
        self.requests
            .iter()
            .filter(|r| filter.matches(&r.method, &r.path))
            .count()
    }

    /// How many requests the proxy saw for this route (faulted ones too).
    pub fn attempts(&self, method: &str, path: &str) -> usize {
        let filter = super::faults::RouteFilter::new(method, path);
        self.attempts
            .iter()
            .filter(|a| filter.matches(&a.method, &a.path))
            .count()
    }

    /// A readable account of the world and the last requests, for failure
    /// messages.
    pub fn dump(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        for repo in self.repos.values() {
            let _ = writeln!(s, "repository {} (id {}):", repo.full_name(), repo.id);
            for (b, sha) in &repo.branches {
                let _ = writeln!(s, "  branch {b} -> {}", &sha[..7]);
            }
            for pr in repo.pulls.values() {
                let _ = writeln!(
                    s,
                    "  pull #{} {} <- {} ({}) {:?}{} labels={:?}",
                    pr.number,
                    pr.base_ref,
                    pr.head_ref,
                    &pr.head_sha[..7],
                    pr.state,
                    if pr.merged { " merged" } else { "" },
                    pr.labels
                );
            }
            for r in &repo.check_runs {
                let _ = writeln!(
                    s,
                    "  check run {} {:?} on {} app={} {}/{} annotations={} title={:?}",
                    r.id,
                    r.name,
                    &r.head_sha[..7],
                    r.app_id,
                    r.status,
                    r.conclusion.as_deref().unwrap_or("-"),
                    r.annotations.len(),
                    r.output.as_ref().map(|o| o.title.as_str()).unwrap_or("")
                );
            }
            for st in &repo.statuses {
                let _ = writeln!(
                    s,
                    "  status {:?} on {} = {}",
                    st.context,
                    &st.sha[..7],
                    st.state
                );
            }
        }
        let skip = self.requests.len().saturating_sub(40);
        let _ = writeln!(
            s,
            "requests ({} in all, last {}):",
            self.requests.len(),
            self.requests.len() - skip
        );
        for r in &self.requests[skip..] {
            let q = if r.query.is_empty() {
                String::new()
            } else {
                format!(
                    "?{}",
                    r.query
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("&")
                )
            };
            let _ = writeln!(
                s,
                "  #{} {} {}{q} [{:?}] -> {}{}",
                r.seq,
                r.method,
                r.path,
                r.auth,
                r.status,
                if r.route.is_none() {
                    " (no such route in the fake)"
                } else {
                    ""
                }
            );
        }
        let faulted: Vec<&Attempt> = self.attempts.iter().filter(|a| a.fault.is_some()).collect();
        if !faulted.is_empty() {
            let _ = writeln!(s, "transport faults:");
            for a in faulted {
                let _ = writeln!(
                    s,
                    "  {} {} -> {}",
                    a.method,
                    a.path,
                    a.fault.as_deref().unwrap_or("")
                );
            }
        }
        s
    }
}
