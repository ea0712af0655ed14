//! The two guards, fed from GitHub: the I/O around the pure rules.
//!
//! - Conflict markers: the comparison's files carry unified-diff patches;
//!   only added lines are scanned, with head-file line numbers, at each
//!   path's `conflict-marker-size` (read from `.gitattributes` at the merge
//!   base, and at the head too when the pull request edits one; only for
//!   files that have a line that could be a marker at some width: see
//!   [`MarkerWidths`] for the cost). Where GitHub omits a patch (large or
//!   binary diffs) the head blob is read, up to [`MAX_SCANNED_BLOB_BYTES`],
//!   scanned whole and dropped; a larger one is named in the summary as not
//!   scanned. Where the comparison's file list may be cut (it holds at most
//!   300 files) the pull request's file listing (up to 3,000) is read.
//! - Merge sources: the comparison's commits (all pages) give the merge
//!   commits; ancestry and merge bases come from the compare API, each
//!   distinct question asked once per evaluation ([`GitHubGraph`]). The
//!   long-lived branches of the foreign-history rule are the protected ones
//!   and those matching `merge_sources.long_lived`, from the one branch
//!   listing the allowed branches use too.

use std::collections::HashMap;

use crate::config::repo::RepoConfig;
use crate::gate::conflict_markers::attributes::{
    ATTRIBUTES_FILE, AttributesFile, MAX_ATTRIBUTES_BYTES, MAX_RULES_PER_FILE, attribute_dirs,
    marker_width,
};
use crate::gate::conflict_markers::{self, Finding, IgnoreSet, Scanner};
use crate::gate::decision::{GuardOutcome, GuardVerdict};

use crate::gate::merge_sources::{
    self, BranchPatterns, CommitGraph, GraphError, MergeSourcePolicy, MergeSourceReport, PrCommit,
    PrHistory,
};
use crate::gate::patch;
use crate::gate::summary::plural;
use crate::github::models::{Annotation, Branch, CompareCommit, Comparison, DiffFile};
use crate::github::{GhError, InstallationClient};
use crate::ids::{CommitSha, PrNumber, RepoName};

/// The compare API lists at most 300 files; a list that long may be cut.
const COMPARE_FILES_CAP: usize = 300;

/// GitHub's pull-request file listing stops at 3,000 files.
const PULL_FILES_CAP: usize = 3_000;

/// Past the listing, changed files are found by comparing trees and read
/// blob by blob; a pull request that large is rare, and this bounds what
/// one evaluation may ask (each blob is a request).
const MAX_TREE_FALLBACK_BLOBS: usize = 2_000;

pub(super) const CONFLICT_GUARD: &str = "Conflict markers";
pub(super) const SOURCES_GUARD: &str = "Merge sources";

/// The marker guard's outcome and its annotations.
pub(super) struct ConflictResult {
    pub outcome: GuardOutcome,
    pub annotations: Vec<Annotation>,
}

fn annotation(f: &Finding) -> Annotation {
    Annotation {
        path: f.path.clone(),
        start_line: f.line,
        end_line: f.line,
        annotation_level: "failure",
        title: "Conflict marker".to_owned(),
        message: format!(
            "This line is a git conflict marker ({}): the merge was not fully resolved.",
            f.kind.marker()
        ),
    }
}

/// Runs the conflict-marker guard on a comparison (and, for a pull
/// request, its full file listing when the comparison may be cut).
pub(super) async fn conflict_markers(
    client: &InstallationClient,
    repo: &RepoName,
    pr: Option<PrNumber>,
    head: &CommitSha,
    comparison: &Comparison,
    config: &RepoConfig,
) -> Result<ConflictResult, GhError> {
    if !config.conflict_markers.enabled {
        return Ok(ConflictResult {
            outcome: GuardOutcome {
                name: CONFLICT_GUARD,
                verdict: GuardVerdict::Skipped,
                headline: "off (`conflict_markers.enabled: false`)".to_owned(),
                details: String::new(),
            },
            annotations: Vec::new(),
        });
    }
    let ignore = match IgnoreSet::new(&config.conflict_markers.ignore) {
        Ok(set) => set,
        // Validated with the config; a failure here is a bug, reported.
        Err(e) => {
            return Ok(ConflictResult {
                outcome: GuardOutcome {
                    name: CONFLICT_GUARD,
                    verdict: GuardVerdict::Failed,
                    headline: format!("invalid `conflict_markers.ignore`: {e}"),
                    details: String::new(),
                },
                annotations: Vec::new(),
            });
        }
    };
    crate::failpoint::hit("guard.conflict_markers");
    let compare_files = comparison.files.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let mut beyond_listing: Vec<(String, String)> = Vec::new();
    let files: Vec<DiffFile> = match pr {
        Some(pr) if compare_files.len() >= COMPARE_FILES_CAP => {
            let files = client.pull_files(repo, pr).await?;
            if files.len() >= PULL_FILES_CAP {
                let (rest, note) =
                    changed_beyond_listing(client, repo, comparison, head, &files).await?;
                beyond_listing = rest;
                notes.extend(note);
            }
            files
        }
        _ => compare_files,
    };
    // Widths come from the base; from the head too when the pull request
    // edits a `.gitattributes` (a marker at either width is a finding).
    let edits_attributes = files.iter().any(|f| is_attributes_file(&f.filename))
        || beyond_listing
            .iter()
            .any(|(path, _)| is_attributes_file(path));
    let mut sources = vec![comparison.merge_base_commit.sha.clone()];
    if edits_attributes {
        sources.push(head.as_str().to_owned());
    }
    let mut widths = MarkerWidths::new(client, repo, sources, edits_attributes);
    let mut scanners: HashMap<usize, Scanner> = HashMap::new();
    let mut findings: Vec<Finding> = Vec::new();
    let mut too_large: Vec<&str> = Vec::new();
    let mut scanned = 0usize;
    // Each file is scanned as soon as it is read, then dropped: at most
    // one blob (of at most `MAX_SCANNED_BLOB_BYTES`) is held at a time.
    let mut blobs: Vec<(&str, &str)> = Vec::new();
    for file in &files {
        if file.status == "removed" || ignore.is_ignored(&file.filename) {
            continue;
        }
        scanned += 1;
        match &file.patch {
            // Only text that could hold a marker at some width is scanned:
            // the rest has no findings whatever its `conflict-marker-size`.
            Some(p) if patch::patch_could_hold_markers_at_some_width(p.as_bytes()) => {
                let mut markers = Vec::new();
                for width in widths.of(&file.filename).await? {
                    let scanner = scanners
                        .entry(width)
                        .or_insert_with(|| Scanner::with_width(width));
                    markers.extend(patch::scan_patch_with(scanner, p.as_bytes()));
                }
                push_findings(&mut findings, &file.filename, markers);
            }
            Some(_) => {}
            // No patch: binary or too large. Read the head blob whole.
            None => blobs.extend(file.sha.as_deref().map(|b| (file.filename.as_str(), b))),
        }
    }
    // Files past GitHub's listing: no patch to read, so the head blob is
    // scanned whole (as for a file whose patch GitHub omitted).
    for (path, blob) in &beyond_listing {
        if ignore.is_ignored(path) {
            continue;
        }
        scanned += 1;
        blobs.push((path.as_str(), blob.as_str()));
    }
    for (path, blob) in blobs {
        let Some(bytes) = client
            .blob_capped(repo, blob, MAX_SCANNED_BLOB_BYTES)
            .await?
        else {
            too_large.push(path);
            continue;
        };
        if !conflict_markers::could_hold_markers_at_some_width(&bytes) {
            continue;
        }
        let mut markers = Vec::new();
        for width in widths.of(path).await? {
            let scanner = scanners
                .entry(width)
                .or_insert_with(|| Scanner::with_width(width));
            markers.extend(scanner.scan(&bytes));
        }
        drop(bytes);
        push_findings(&mut findings, path, markers);
    }
    notes.extend(widths.notes);
    for f in &findings {
        metrics::counter!("seamguard_findings_total", "kind" => f.kind.as_str()).increment(1);
    }
    let files_hit = {
        let mut paths: Vec<&str> = findings.iter().map(|f| f.path.as_str()).collect();
        paths.dedup();
        paths.len()
    };
    // Named in the summary's table itself: a file not scanned is never
    // passed in silence.
    let skipped = if too_large.is_empty() {
        String::new()
    } else {
        let mut names: Vec<String> = too_large
            .iter()
            .take(TOO_LARGE_IN_HEADLINE)
            .map(|p| format!("`{p}`"))
            .collect();
        if too_large.len() > TOO_LARGE_IN_HEADLINE {
            names.push(format!("{} more", too_large.len() - TOO_LARGE_IN_HEADLINE));
        }
        format!(
            "; not scanned, over {} MiB: {}",
            MAX_SCANNED_BLOB_BYTES / (1024 * 1024),
            names.join(", ")
        )
    };
    let (verdict, headline) = if findings.is_empty() {
        (
            GuardVerdict::Passed,
            format!("none added ({} scanned{skipped})", plural(scanned, "file")),
        )
    } else {
        (
            GuardVerdict::Failed,
            format!(
                "{} conflict marker{} in {} file{}{skipped}",
                findings.len(),
                if findings.len() == 1 { "" } else { "s" },
                files_hit,
                if files_hit == 1 { "" } else { "s" }
            ),
        )
    };
    let mut details = if findings.is_empty() {
        String::new()
    } else {
        conflict_markers::render_markdown(&findings)
    };
    if !too_large.is_empty() {
        details.push_str(&too_large_note(&too_large));
    }
    for note in notes {
        details.push_str(&format!("\n\n> {note}\n"));
    }
    Ok(ConflictResult {
        annotations: findings.iter().map(annotation).collect(),
        outcome: GuardOutcome {
            name: CONFLICT_GUARD,
            verdict,
            headline,
            details,
        },
    })
}

/// The most bytes of one blob read for the marker scan (a file GitHub
/// gave no patch for). A larger file is not scanned, and the summary names
/// it: never passed in silence.
pub const MAX_SCANNED_BLOB_BYTES: usize = 16 * 1024 * 1024;

/// The files named in the summary's table as too large to scan; past it,
/// a count (the details list more).
const TOO_LARGE_IN_HEADLINE: usize = 3;

/// The files listed in the details as too large to scan; past it, a count.
const TOO_LARGE_LISTED: usize = 20;

/// The summary's paragraph naming the files too large to scan.
fn too_large_note(paths: &[&str]) -> String {
    let mut text = format!(
        "\n\n**Not scanned for conflict markers** (larger than {} MiB, GitHub gave no diff):\n",
        MAX_SCANNED_BLOB_BYTES / (1024 * 1024)
    );
    for path in paths.iter().take(TOO_LARGE_LISTED) {
        text.push_str(&format!("- `{path}`\n"));
    }
    if paths.len() > TOO_LARGE_LISTED {
        text.push_str(&format!(
            "- and {} more\n",
            plural(paths.len() - TOO_LARGE_LISTED, "file")
        ));
    }
    text
}

/// One file's markers (at each of its widths) as findings, in line order.
fn push_findings(
    findings: &mut Vec<Finding>,
    path: &str,
    mut markers: Vec<conflict_markers::Marker>,
) {
    markers.sort_unstable();
    markers.dedup();
    findings.extend(markers.into_iter().map(|m| Finding {
        path: path.to_owned(),
        line: m.line,
        kind: m.kind,
    }));
}

/// Whether `path` is a `.gitattributes` file.
fn is_attributes_file(path: &str) -> bool {
    path == ATTRIBUTES_FILE || path.ends_with(&format!("/{ATTRIBUTES_FILE}"))
}

/// The `.gitattributes` files one evaluation may read for marker widths,
/// per commit they are read at: the root's and those of the directories
/// above the files that could hold markers. Markers in more directories
/// than this are rare; deeper ones past it use what the files read say.
const MAX_ATTRIBUTE_READS: usize = 16;

/// The `conflict-marker-size` of paths, read lazily from `.gitattributes`
/// at the base (the merge base: what the pull request's diff is against,
/// which the pull request cannot change) and, when the pull request edits
/// a `.gitattributes`, at the head too.
///
/// Cost: nothing until a file has a line that could be a marker at some
/// width — the usual pull request. Then, per commit read, one read of the
/// root `.gitattributes`, and only when it exists or the pull request
/// touches a `.gitattributes` somewhere, one read per distinct directory
/// above such files (bounded by [`MAX_ATTRIBUTE_READS`]). Reads go through
/// the contents API with ETags, so a re-evaluation is answered 304 and
/// costs no rate limit. Each read is capped at [`MAX_ATTRIBUTES_BYTES`].
struct MarkerWidths<'a> {
    client: &'a InstallationClient,
    repo: &'a RepoName,
    sources: Vec<AttributeSource>,
    /// Look below the root even where it has no `.gitattributes`.
    look_deeper: bool,
    /// What the summary should say about attributes that were not read.
    notes: Vec<String>,
}

/// The `.gitattributes` files read at one commit.
struct AttributeSource {
    commit: String,
    /// `None` until the root's was asked for.
    root: Option<Option<AttributesFile>>,
    /// Each directory asked for, and its file if it has one.
    dirs: HashMap<String, Option<AttributesFile>>,
}

impl<'a> MarkerWidths<'a> {
    fn new(
        client: &'a InstallationClient,
        repo: &'a RepoName,
        commits: Vec<String>,
        look_deeper: bool,
    ) -> Self {
        Self {
            client,
            repo,
            sources: commits
                .into_iter()
                .map(|commit| AttributeSource {
                    commit,
                    root: None,
                    dirs: HashMap::new(),
                })
                .collect(),
            look_deeper,
            notes: Vec::new(),
        }
    }

    /// Reads one `.gitattributes` at `commit`, within the cap.
    async fn read(&mut self, commit: &str, dir: &str) -> Result<Option<AttributesFile>, GhError> {
        let path = if dir.is_empty() {
            ATTRIBUTES_FILE.to_owned()
        } else {
            format!("{dir}/{ATTRIBUTES_FILE}")
        };
        match self
            .client
            .file_capped(self.repo, &path, Some(commit), MAX_ATTRIBUTES_BYTES)
            .await
        {
            Ok(bytes) => Ok(bytes.map(|b| {
                let file = AttributesFile::parse(dir, &b);
                if file.truncated() {
                    self.notes.push(format!(
                        "`{path}` sets `conflict-marker-size` on more than {MAX_RULES_PER_FILE} patterns; only the first {MAX_RULES_PER_FILE} were read."
                    ));
                }
                file
            })),
            Err(e) if e.is_too_large() => {
                self.notes.push(format!(
                    "`{path}` is larger than {} KiB and was not read for marker widths.",
                    MAX_ATTRIBUTES_BYTES / 1024
                ));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The distinct widths of `path`, one per commit read (usually one).
    async fn of(&mut self, path: &str) -> Result<Vec<usize>, GhError> {
        let mut widths = Vec::new();
        for i in 0..self.sources.len() {
            let commit = self.sources[i].commit.clone();
            if self.sources[i].root.is_none() {
                let root = self.read(&commit, "").await?;
                self.sources[i].root = Some(root);
            }
            let has_root = matches!(self.sources[i].root, Some(Some(_)));
            if has_root || self.look_deeper {
                for dir in attribute_dirs(path).into_iter().filter(|d| !d.is_empty()) {
                    let source = &self.sources[i];
                    if source.dirs.contains_key(dir) || source.dirs.len() + 1 >= MAX_ATTRIBUTE_READS
                    {
                        continue;
                    }
                    let file = self.read(&commit, dir).await?;
                    self.sources[i].dirs.insert(dir.to_owned(), file);
                }
            }
            let source = &self.sources[i];
            let files: Vec<AttributesFile> = source
                .root
                .iter()
                .flatten()
                .chain(source.dirs.values().flatten())
                .cloned()
                .collect();
            let width = marker_width(path, &files);
            if !widths.contains(&width) {
                widths.push(width);
            }
        }
        Ok(widths)
    }
}

/// Files changed between the merge base and the head that GitHub's
/// 3,000-file listing left out, from the two commits' trees: `(path, blob)`
/// of each added or modified file, bounded by [`MAX_TREE_FALLBACK_BLOBS`].
async fn changed_beyond_listing(
    client: &InstallationClient,
    repo: &RepoName,
    comparison: &Comparison,
    head: &CommitSha,
    listed: &[DiffFile],
) -> Result<(Vec<(String, String)>, Option<String>), GhError> {
    let base = client.tree(repo, &comparison.merge_base_commit.sha).await?;
    let head = client.tree(repo, head.as_str()).await?;
    let base_blobs: HashMap<&str, &str> = base
        .tree
        .iter()
        .filter(|e| e.kind == "blob")
        .map(|e| (e.path.as_str(), e.sha.as_str()))
        .collect();
    let listed: std::collections::HashSet<&str> =
        listed.iter().map(|f| f.filename.as_str()).collect();
    let mut changed: Vec<(String, String)> = head
        .tree
        .iter()
        .filter(|e| e.kind == "blob" && e.mode.as_deref() != Some("120000"))
        .filter(|e| !listed.contains(e.path.as_str()))
        .filter(|e| base_blobs.get(e.path.as_str()) != Some(&e.sha.as_str()))
        .map(|e| (e.path.clone(), e.sha.clone()))
        .collect();
    let mut note = format!(
        "GitHub lists at most {PULL_FILES_CAP} files of a pull request; {} more were found by comparing trees and scanned whole.",
        plural(changed.len(), "changed file")
    );
    if changed.len() > MAX_TREE_FALLBACK_BLOBS {
        note = format!(
            "GitHub lists at most {PULL_FILES_CAP} files of a pull request; of {} more, the first {MAX_TREE_FALLBACK_BLOBS} were scanned.",
            plural(changed.len(), "changed file")
        );
        changed.truncate(MAX_TREE_FALLBACK_BLOBS);
    }
    if base.truncated || head.truncated {
        note.push_str(
            " GitHub cut the tree listing short, so some files may not have been scanned.",
        );
    }
    Ok((changed, Some(note)))
}

/// The merge-source guard does not apply to a merge queue's group.
pub(super) fn skipped_for_merge_group() -> GuardOutcome {
    GuardOutcome {
        name: SOURCES_GUARD,
        verdict: GuardVerdict::Skipped,
        headline: "not applicable to a merge queue group (each pull request in it was checked)"
            .to_owned(),
        details: String::new(),
    }
}

fn sha(s: &str) -> Result<CommitSha, GhError> {
    s.parse().map_err(|e: crate::ids::IdError| GhError {
        route: "compare",
        kind: crate::github::ErrorKind::Decode,
        status: None,
        message: e.to_string(),
        retry_after: None,
    })
}

/// The bases a pull request's history is judged against.
pub(super) struct Bases<'a> {
    /// Its own base, which its commits are counted from.
    pub own: &'a str,
    pub own_tip: &'a CommitSha,
    /// For a stacked pull request, where the whole stack lands: its
    /// history may be merged in (as the base's may), and it is never
    /// foreign history.
    pub landing: Option<&'a str>,
}

/// `name` as a glob that matches exactly that branch name (git refuses
/// `*`, `?`, `[` and a backslash in one; `{` and `}` it allows).
fn literal_glob(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '*' | '?' | '[' | '{' | '}' => format!("[{c}]"),
            c => c.to_string(),
        })
        .collect()
}

/// Runs the merge-source guard over the comparison's commits.
pub(super) async fn merge_sources(
    client: &InstallationClient,
    repo: &RepoName,
    bases: &Bases<'_>,
    head: &CommitSha,
    comparison: &Comparison,
    config: &RepoConfig,
) -> Result<GuardOutcome, GhError> {
    let (base_ref, base_tip) = (bases.own, bases.own_tip);
    if !config.merge_sources.enabled {
        return Ok(GuardOutcome {
            name: SOURCES_GUARD,
            verdict: GuardVerdict::Skipped,
            headline: "off (`merge_sources.enabled: false`)".to_owned(),
            details: String::new(),
        });
    }
    let mut commits = Vec::with_capacity(comparison.commits.len());
    for c in &comparison.commits {
        commits.push(pr_commit(c)?);
    }
    let history = PrHistory {
        base_ref: base_ref.to_owned(),
        base_tip: base_tip.clone(),
        head: head.clone(),
        commits,
        total_commits: comparison.total_commits,
    };
    let mut allowed = config.merge_sources.allowed.clone();
    allowed.extend(bases.landing.map(literal_glob));
    let policy = MergeSourcePolicy {
        allowed,
        max_commits: config.merge_sources.max_commits,
        long_lived: config.merge_sources.long_lived.clone(),
    };
    let mut graph = GitHubGraph::new(client, repo);
    let report = match merge_sources::check(&history, &policy, &mut graph).await {
        Ok(r) => r,
        Err(GraphError::Other(message)) => {
            // A GitHub failure while asking: surface the original error so
            // the job retries it (or the check run reports it fail-safe).
            return Err(graph.last_error.take().unwrap_or(GhError {
                route: "merge-source guard",
                kind: crate::github::ErrorKind::Permanent,
                status: None,
                message,
                retry_after: None,
            }));
        }
        Err(e) => {
            return Err(GhError {
                route: "merge-source guard",
                kind: crate::github::ErrorKind::Permanent,
                status: None,
                message: e.to_string(),
                retry_after: None,
            });
        }
    };
    Ok(GuardOutcome {
        name: SOURCES_GUARD,
        verdict: if report.passed() {
            GuardVerdict::Passed
        } else {
            GuardVerdict::Failed
        },
        headline: sources_headline(&report),
        details: report.render_markdown(),
    })
}

/// A commit of a comparison as the rule reads it.
fn pr_commit(c: &CompareCommit) -> Result<PrCommit, GhError> {
    Ok(PrCommit {
        sha: sha(&c.sha)?,
        parents: c
            .parents
            .iter()
            .map(|p| sha(&p.sha))
            .collect::<Result<_, _>>()?,
        subject: c
            .commit
            .message
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
    })
}

/// One line for the summary table.
fn sources_headline(report: &MergeSourceReport) -> String {
    use merge_sources::Finding;
    let total = report.commits.total;
    let commits = format!("{total} commit{}", if total == 1 { "" } else { "s" });
    if report.passed() {
        return match report.merges_checked {
            0 => format!("{commits}, no merge commits"),
            n => format!(
                "{commits}, {n} merge{} from allowed sources",
                if n == 1 { "" } else { "s" }
            ),
        };
    }
    let mut parts = Vec::new();
    for f in &report.findings {
        if let Finding::ForeignHistory {
            branch, brings_in, ..
        } = f
        {
            parts.push(format!(
                "foreign history from `{branch}` ({brings_in} commit{})",
                if *brings_in == 1 { "" } else { "s" }
            ));
        }
    }
    let bad: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| matches!(f, Finding::Disallowed { .. } | Finding::Unverifiable { .. }))
        .collect();
    if !bad.is_empty() {
        let from: Vec<String> = bad
            .iter()
            .filter_map(|f| match f {
                Finding::Disallowed {
                    parent_branches, ..
                } => parent_branches.first().cloned(),
                _ => None,
            })
            .collect();
        let mut text = format!(
            "{} disallowed merge{}",
            bad.len(),
            if bad.len() == 1 { "" } else { "s" }
        );
        if let Some(branch) = from.first() {
            text.push_str(&format!(" (from `{branch}`)"));
        }
        parts.push(text);
    }
    for f in &report.findings {
        if let Finding::TooManyCommits { total, max } = f {
            parts.push(format!("{total} commits, above the limit of {max}"));
        }
    }
    parts.join("; ")
}

/// The commit graph as the compare API answers it, memoised: each distinct
/// (base, head) pair is asked once per evaluation.
pub(super) struct GitHubGraph<'a> {
    client: &'a InstallationClient,
    repo: &'a RepoName,
    compares: HashMap<(CommitSha, CommitSha), CompareFacts>,
    branches: Option<Vec<Branch>>,
    /// The GitHub error behind the last `GraphError::Other`.
    pub last_error: Option<GhError>,
}

#[derive(Clone)]
struct CompareFacts {
    status: String,
    ahead_by: u64,
    merge_base: Option<CommitSha>,
    /// The commits of the pages read so far (the first, and more only when
    /// [`CommitGraph::commits_between`] asked).
    commits: Vec<PrCommit>,
    pages: u32,
}

impl<'a> GitHubGraph<'a> {
    pub fn new(client: &'a InstallationClient, repo: &'a RepoName) -> Self {
        Self {
            client,
            repo,
            compares: HashMap::new(),
            branches: None,
            last_error: None,
        }
    }

    fn fail(&mut self, e: GhError, unknown: &CommitSha) -> GraphError {
        if e.is_status(404) {
            GraphError::UnknownCommit(unknown.clone())
        } else {
            let message = e.to_string();
            self.last_error = Some(e);
            GraphError::Other(message)
        }
    }

    async fn compare(
        &mut self,
        base: &CommitSha,
        head: &CommitSha,
    ) -> Result<CompareFacts, GraphError> {
        let key = (base.clone(), head.clone());
        if let Some(hit) = self.compares.get(&key) {
            return Ok(hit.clone());
        }
        metrics::counter!("seamguard_graph_questions_total").increment(1);
        let c = match self
            .client
            .compare(self.repo, base.as_str(), head.as_str(), 1)
            .await
        {
            Ok(c) => c,
            Err(e) => return Err(self.fail(e, head)),
        };
        let facts = CompareFacts {
            commits: c.commits.iter().filter_map(|c| pr_commit(c).ok()).collect(),
            status: c.status,
            ahead_by: c.ahead_by,
            merge_base: c.merge_base_commit.sha.parse().ok(),
            pages: 1,
        };
        self.compares.insert(key, facts.clone());
        Ok(facts)
    }

    async fn all_branches(&mut self) -> Result<Vec<Branch>, GraphError> {
        if let Some(b) = &self.branches {
            return Ok(b.clone());
        }
        match self.client.branches(self.repo).await {
            Ok(b) => {
                self.branches = Some(b.clone());
                Ok(b)
            }
            Err(e) => {
                let message = e.to_string();
                self.last_error = Some(e);
                Err(GraphError::Other(message))
            }
        }
    }
}

impl CommitGraph for GitHubGraph<'_> {
    async fn merge_base(
        &mut self,
        a: &CommitSha,
        b: &CommitSha,
    ) -> Result<Option<CommitSha>, GraphError> {
        Ok(self.compare(a, b).await?.merge_base)
    }

    async fn is_ancestor(
        &mut self,
        ancestor: &CommitSha,
        descendant: &CommitSha,
    ) -> Result<bool, GraphError> {
        if ancestor == descendant {
            return Ok(true);
        }
        // compare(descendant...ancestor): "behind" or "identical" means the
        // ancestor's history is wholly inside the descendant's.
        let facts = self.compare(descendant, ancestor).await?;
        Ok(matches!(facts.status.as_str(), "behind" | "identical"))
    }

    async fn count_new(&mut self, exclude: &CommitSha, tip: &CommitSha) -> Result<u64, GraphError> {
        Ok(self.compare(exclude, tip).await?.ahead_by)
    }

    async fn branches_matching(
        &mut self,
        globs: &[String],
    ) -> Result<Vec<(String, CommitSha)>, GraphError> {
        // One meaning for a branch glob everywhere (`*` within a segment).
        let (patterns, _invalid) = BranchPatterns::new(globs);
        Ok(self
            .all_branches()
            .await?
            .into_iter()
            .filter(|b| patterns.is_match(&b.name))
            .filter_map(|b| b.commit.sha.parse().ok().map(|s| (b.name, s)))
            .collect())
    }

    async fn branches_at(&mut self, sha: &CommitSha) -> Result<Vec<String>, GraphError> {
        Ok(self
            .all_branches()
            .await?
            .into_iter()
            .filter(|b| b.commit.sha == sha.as_str())
            .map(|b| b.name)
            .collect())
    }

    /// The protected branches and those matching `globs`, from the same
    /// listing as the allowed branches (it says which are protected).
    async fn long_lived_branches(
        &mut self,
        globs: &[String],
    ) -> Result<Vec<(String, CommitSha)>, GraphError> {
        let (patterns, _invalid) = BranchPatterns::new(globs);
        Ok(self
            .all_branches()
            .await?
            .into_iter()
            .filter(|b| b.protected || patterns.is_match(&b.name))
            .filter_map(|b| b.commit.sha.parse().ok().map(|s| (b.name, s)))
            .collect())
    }

    /// More pages of the same comparison as `merge_base(exclude, tip)`: one
    /// compare question, read as far as `limit` commits and no further.
    async fn commits_between(
        &mut self,
        exclude: &CommitSha,
        tip: &CommitSha,
        limit: u64,
    ) -> Result<Option<Vec<PrCommit>>, GraphError> {
        let mut facts = self.compare(exclude, tip).await?;
        if facts.ahead_by > limit {
            return Ok(None);
        }
        while (facts.commits.len() as u64) < facts.ahead_by {
            let page = facts.pages + 1;
            let next = match self
                .client
                .compare(self.repo, exclude.as_str(), tip.as_str(), page)
                .await
            {
                Ok(c) => c,
                Err(e) => return Err(self.fail(e, tip)),
            };
            facts.pages = page;
            if next.commits.is_empty() {
                break;
            }
            for c in &next.commits {
                facts
                    .commits
                    .push(pr_commit(c).map_err(|e| GraphError::Other(e.to_string()))?);
            }
        }
        let commits = facts.commits.clone();
        self.compares.insert((exclude.clone(), tip.clone()), facts);
        Ok(Some(commits))
    }
}
