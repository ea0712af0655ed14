//! The conflict-marker guard on a local repository's committed tree.
//!
//! Three targets. [`Target::All`] scans every regular file at a commit,
//! whole. [`Target::Added`] reports only markers on lines the head adds
//! compared with its bases, numbered as in the head file: the rule of a
//! pull request. [`Target::Staged`] is the same rule for what is staged
//! (the index against the current commit), for a pre-commit hook. Several bases (criss-cross merge bases, or the boundary of
//! a pushed range) mean "added compared with every one of them"; no base at
//! all (unrelated history, a root commit) means every line is added.
//!
//! Marker width follows `conflict-marker-size`: one `git check-attr` call
//! at the scanned commit gives every candidate path's width, and each blob
//! is scanned at the width(s) of the paths that hold it.
//!
//! Cost is kept where the markers are: the head blobs of changed files are
//! streamed and scanned whole (so the lone-separator rule sees the full
//! file, not three lines of context), and only for the rare file that holds
//! markers does git compute which of its lines are added. Symlinks and
//! submodules carry no editable text and are skipped; binary files are
//! skipped by the scanner; `conflict_markers.ignore` paths are never read.

use anyhow::Result;

use std::collections::HashMap;

use crate::gate::conflict_markers::{DEFAULT_MARKER_WIDTH, Finding, IgnoreSet, Marker, Scanner};
use crate::ids::CommitSha;
use crate::local::git::{AttrSource, FileMode, MAX_BLOB_WORKERS, ObjectId, Repo, group_by_blob};

/// What to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every file at this commit, whole.
    All(CommitSha),
    /// Lines of `head` added compared with each of `bases`.
    Added {
        bases: Vec<CommitSha>,
        head: CommitSha,
    },
    /// Lines the index (what is staged) adds compared with `base`, the
    /// current commit; `None` before the first commit. Numbered as in the
    /// staged file.
    Staged { base: Option<CommitSha> },
}

/// The guard's result, with enough numbers to say what was looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkerScan {
    /// Sorted by path, then line.
    pub findings: Vec<Finding>,
    /// Files whose content was scanned (binary ones included).
    pub files_scanned: usize,
    pub bytes_scanned: u64,
    /// Files skipped because `conflict_markers.ignore` matched them.
    pub files_ignored: usize,
}

/// Runs the conflict-marker guard on `target`.
pub fn scan_conflict_markers(
    repo: &Repo,
    target: &Target,
    ignore: &IgnoreSet,
) -> Result<MarkerScan> {
    match target {
        Target::All(rev) => scan_all(repo, rev, ignore),
        Target::Added { bases, head } if bases.is_empty() => scan_all(repo, head, ignore),
        Target::Added { bases, head } => scan_added(repo, bases, head, ignore),
        Target::Staged { base } => scan_staged(repo, base.as_ref(), ignore),
    }
}

/// One file to scan: its path and, per base, the blob it is compared with.
#[derive(Debug)]
struct Candidate {
    path: String,
    blob: ObjectId,
    /// The path's `conflict-marker-size`.
    width: usize,
    /// `Some(old)` per base where the file existed; `None` where it is new.
    old_blobs: Vec<Option<ObjectId>>,
}

fn scan_all(repo: &Repo, rev: &CommitSha, ignore: &IgnoreSet) -> Result<MarkerScan> {
    let mut result = MarkerScan::default();
    let mut candidates = Vec::new();
    for file in repo.ls_tree(rev)? {
        if file.mode != FileMode::Regular {
            continue;
        }
        if ignore.is_ignored(&file.path) {
            result.files_ignored += 1;
            continue;
        }
        candidates.push(Candidate {
            path: file.path,
            blob: file.blob,
            width: DEFAULT_MARKER_WIDTH,
            old_blobs: Vec::new(),
        });
    }
    set_widths(repo, AttrSource::Commit(rev), &mut candidates)?;
    let with_markers = scan_blobs(repo, candidates, &mut result)?;
    for (candidate, markers) in with_markers {
        push_findings(&mut result, &candidate.path, markers);
    }
    result.findings.sort();
    Ok(result)
}

fn scan_added(
    repo: &Repo,
    bases: &[CommitSha],
    head: &CommitSha,
    ignore: &IgnoreSet,
) -> Result<MarkerScan> {
    let mut result = MarkerScan::default();
    // A file is a candidate only if it changed compared with every base.
    let mut candidates: Vec<Candidate> = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        let changes = repo.diff_tree(base, head)?;
        if i == 0 {
            for change in changes {
                if change.new_mode != FileMode::Regular {
                    continue;
                }
                if ignore.is_ignored(&change.path) {
                    result.files_ignored += 1;
                    continue;
                }
                candidates.push(Candidate {
                    path: change.path,
                    blob: change.new_blob,
                    width: DEFAULT_MARKER_WIDTH,
                    old_blobs: vec![change.old_blob],
                });
            }
        } else {
            let mut by_path: std::collections::HashMap<String, Option<ObjectId>> =
                changes.into_iter().map(|c| (c.path, c.old_blob)).collect();
            candidates.retain_mut(|c| match by_path.remove(&c.path) {
                Some(old) => {
                    c.old_blobs.push(old);
                    true
                }
                None => false,
            });
        }
    }

    set_widths(repo, AttrSource::Commit(head), &mut candidates)?;
    let with_markers = scan_blobs(repo, candidates, &mut result)?;
    keep_added(repo, with_markers, &mut result)?;
    Ok(result)
}

/// The index against `base`: one comparison, widths from the staged
/// `.gitattributes`, then the same path as a commit's added lines.
fn scan_staged(repo: &Repo, base: Option<&CommitSha>, ignore: &IgnoreSet) -> Result<MarkerScan> {
    let mut result = MarkerScan::default();
    let mut candidates = Vec::new();
    for change in repo.diff_staged(base)? {
        if change.new_mode != FileMode::Regular {
            continue;
        }
        if ignore.is_ignored(&change.path) {
            result.files_ignored += 1;
            continue;
        }
        candidates.push(Candidate {
            path: change.path,
            blob: change.new_blob,
            width: DEFAULT_MARKER_WIDTH,
            old_blobs: vec![change.old_blob],
        });
    }
    set_widths(repo, AttrSource::Index, &mut candidates)?;
    let with_markers = scan_blobs(repo, candidates, &mut result)?;
    keep_added(repo, with_markers, &mut result)?;
    Ok(result)
}

/// Keeps, of each candidate's markers, those on lines added compared with
/// every one of its old blobs (a new file: all of them), as findings.
fn keep_added(
    repo: &Repo,
    with_markers: Vec<(Candidate, Vec<Marker>)>,
    result: &mut MarkerScan,
) -> Result<()> {
    for (candidate, markers) in with_markers {
        let mut markers = markers;
        for old in &candidate.old_blobs {
            let Some(old) = old else { continue };
            let added = if *old == candidate.blob {
                Vec::new()
            } else {
                repo.added_lines(old, &candidate.blob)?
            };
            markers.retain(|m| added.binary_search(&m.line).is_ok());
            if markers.is_empty() {
                break;
            }
        }
        push_findings(result, &candidate.path, markers);
    }
    result.findings.sort();
    Ok(())
}

/// Sets each candidate's marker width from the attributes at `source`.
fn set_widths(repo: &Repo, source: AttrSource<'_>, candidates: &mut [Candidate]) -> Result<()> {
    let paths: Vec<&str> = candidates.iter().map(|c| c.path.as_str()).collect();
    let widths = repo.marker_widths(source, &paths)?;
    for (candidate, width) in candidates.iter_mut().zip(widths) {
        candidate.width = width;
    }
    Ok(())
}

/// Reads each distinct blob once and returns the candidates that hold
/// markers. A blob is scanned once per distinct width among its paths
/// (almost always one).
fn scan_blobs(
    repo: &Repo,
    candidates: Vec<Candidate>,
    result: &mut MarkerScan,
) -> Result<Vec<(Candidate, Vec<Marker>)>> {
    let (blobs, groups) = group_by_blob(candidates, |c| &c.blob);
    let mut scanners: HashMap<usize, Scanner> = HashMap::new();
    let widths_per_blob: Vec<Vec<usize>> = groups
        .iter()
        .map(|group| {
            let mut widths: Vec<usize> = group.iter().map(|c| c.width).collect();
            widths.sort_unstable();
            widths.dedup();
            for &w in &widths {
                scanners.entry(w).or_insert_with(|| Scanner::with_width(w));
            }
            widths
        })
        .collect();
    let index: HashMap<&ObjectId, usize> = blobs.iter().enumerate().map(|(i, b)| (b, i)).collect();
    let scanned = repo.read_blobs(&blobs, MAX_BLOB_WORKERS, |oid, content| {
        let widths = &widths_per_blob[index[oid]];
        let markers: Vec<(usize, Vec<Marker>)> = widths
            .iter()
            .map(|w| (*w, scanners[w].scan(content)))
            .filter(|(_, m)| !m.is_empty())
            .collect();
        (content.len(), markers)
    })?;
    let mut with_markers = Vec::new();
    for (group, (len, markers)) in groups.into_iter().zip(scanned) {
        result.files_scanned += group.len();
        result.bytes_scanned += (len * group.len()) as u64;
        if markers.is_empty() {
            continue;
        }
        for candidate in group {
            if let Some((_, m)) = markers.iter().find(|(w, _)| *w == candidate.width) {
                with_markers.push((candidate, m.clone()));
            }
        }
    }
    Ok(with_markers)
}

fn push_findings(result: &mut MarkerScan, path: &str, markers: Vec<Marker>) {
    result
        .findings
        .extend(markers.into_iter().map(|m| Finding::new(path, m)));
}
