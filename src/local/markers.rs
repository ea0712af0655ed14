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
//! Marker width follows `conflict-marker-size`, read from where the
//! change cannot weaken it: for [`Target::Added`] the first base's
//! attributes, for [`Target::Staged`] the current commit's. When the change
//! itself edits a `.gitattributes`, its own attributes (the head's, or the
//! index's) are read as well and a file is scanned at both widths: a
//! marker at either is a finding. [`Target::All`] reads the scanned
//! commit's. Complete blocks of any other width count whatever the width
//! (see [`Scanner::scan`]).
//!
//! Widths are asked of git (`git check-attr`, one call per attribute
//! source) only for files that have a line that could be a marker at some
//! width, after every blob was scanned at the default width; only those
//! whose width turns out not to be the default are read again. When
//! nothing can set an attribute (no `.gitattributes` in the scanned tree,
//! no `info/attributes`, no user or system attributes file) git is not
//! asked at all: the usual `scan --all` spawns `ls-tree` and the blob
//! readers, nothing else.
//!
//! Cost is kept where the markers are: the head blobs of changed files are
//! streamed and scanned whole (so the lone-separator rule sees the full
//! file, not three lines of context), and only for the rare file that holds
//! markers does git compute which of its lines are added. Symlinks and
//! submodules carry no editable text and are skipped; binary files are
//! skipped by the scanner; `conflict_markers.ignore` paths are never read.

use anyhow::Result;

use std::collections::HashMap;

use crate::gate::conflict_markers::attributes::ATTRIBUTES_FILE;
use crate::gate::conflict_markers::{
    DEFAULT_MARKER_WIDTH, Finding, IgnoreSet, Marker, Scanner, could_hold_markers_at_some_width,
};
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
    /// `Some(old)` per base where the file existed; `None` where it is new.
    old_blobs: Vec<Option<ObjectId>>,
}

/// Where widths are read from, and whether anything could set one.
struct WidthSources<'a> {
    /// One or two sources: the trusted one first, then the change's own
    /// when it edits a `.gitattributes`.
    sources: Vec<AttrSource<'a>>,
    /// `false` when no attributes file exists anywhere git would read one:
    /// every width is the default, and git need not be asked.
    any: bool,
}

/// Whether `path` is a `.gitattributes` file.
fn is_attributes_file(path: &str) -> bool {
    path == ATTRIBUTES_FILE || path.ends_with(&format!("/{ATTRIBUTES_FILE}"))
}

fn scan_all(repo: &Repo, rev: &CommitSha, ignore: &IgnoreSet) -> Result<MarkerScan> {
    let mut result = MarkerScan::default();
    let mut candidates = Vec::new();
    let mut tree_has_attributes = false;
    for file in repo.ls_tree(rev)? {
        tree_has_attributes |= is_attributes_file(&file.path);
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
            old_blobs: Vec::new(),
        });
    }
    let widths = WidthSources {
        sources: vec![AttrSource::Commit(rev)],
        any: tree_has_attributes || repo.has_attributes_outside_trees()?,
    };
    let with_markers = scan_blobs(repo, candidates, &widths, &mut result)?;
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
    let mut edits_attributes = false;
    // A file is a candidate only if it changed compared with every base.
    let mut candidates: Vec<Candidate> = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        let changes = repo.diff_tree(base, head)?;
        if i == 0 {
            for change in changes {
                edits_attributes |= is_attributes_file(&change.path);
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
                    old_blobs: vec![change.old_blob],
                });
            }
        } else {
            let mut by_path: HashMap<String, Option<ObjectId>> =
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
    let mut sources = vec![AttrSource::Commit(&bases[0])];
    if edits_attributes {
        sources.push(AttrSource::Commit(head));
    }
    let widths = WidthSources { sources, any: true };
    let with_markers = scan_blobs(repo, candidates, &widths, &mut result)?;
    keep_added(repo, with_markers, &mut result)?;
    Ok(result)
}

/// The index against `base`: one comparison, widths from the current
/// commit's attributes (and the index's too when a `.gitattributes` is
/// staged), then the same path as a commit's added lines.
fn scan_staged(repo: &Repo, base: Option<&CommitSha>, ignore: &IgnoreSet) -> Result<MarkerScan> {
    let mut result = MarkerScan::default();
    let mut candidates = Vec::new();
    let mut edits_attributes = false;
    for change in repo.diff_staged(base)? {
        edits_attributes |= is_attributes_file(&change.path);
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
            old_blobs: vec![change.old_blob],
        });
    }
    let sources = match base {
        // Before the first commit the index is all there is.
        None => vec![AttrSource::Index],
        Some(base) if edits_attributes => {
            vec![AttrSource::Commit(base), AttrSource::Index]
        }
        Some(base) => vec![AttrSource::Commit(base)],
    };
    let widths = WidthSources { sources, any: true };
    let with_markers = scan_blobs(repo, candidates, &widths, &mut result)?;
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

/// What the first read of a blob learned.
struct FirstRead {
    len: usize,
    /// Markers at the default width (complete blocks of any width included).
    markers: Vec<Marker>,
    /// Whether some line could be a marker at another width, so the width
    /// the attributes give matters.
    width_matters: bool,
}

/// Reads each distinct blob once, scanning it at the default width, and
/// returns the candidates that hold markers. Paths whose blob could hold
/// markers at some width then get their widths from `widths`; the few
/// blobs with a width other than the default are read again and scanned at
/// each of their widths (the union is kept).
fn scan_blobs(
    repo: &Repo,
    candidates: Vec<Candidate>,
    widths: &WidthSources<'_>,
    result: &mut MarkerScan,
) -> Result<Vec<(Candidate, Vec<Marker>)>> {
    let (blobs, groups) = group_by_blob(candidates, |c| &c.blob);
    let probe = widths.any;
    let first = repo.read_blobs(&blobs, MAX_BLOB_WORKERS, |_, content| FirstRead {
        len: content.len(),
        markers: Scanner::default_width().scan(content),
        width_matters: probe && could_hold_markers_at_some_width(content),
    })?;

    // The paths whose width matters, and the width(s) of each.
    let mut path_widths: HashMap<String, Vec<usize>> = HashMap::new();
    let asked: Vec<&str> = groups
        .iter()
        .zip(&first)
        .filter(|(_, read)| read.width_matters)
        .flat_map(|(group, _)| group.iter().map(|c| c.path.as_str()))
        .collect();
    if !asked.is_empty() {
        for source in &widths.sources {
            let found = repo.marker_widths(*source, &asked)?;
            for (path, width) in asked.iter().zip(found) {
                let entry = path_widths.entry((*path).to_owned()).or_default();
                if !entry.contains(&width) {
                    entry.push(width);
                }
            }
        }
    }
    drop(asked);
    let widths_of = |path: &str| -> Vec<usize> {
        path_widths
            .get(path)
            .cloned()
            .unwrap_or_else(|| vec![DEFAULT_MARKER_WIDTH])
    };

    // Blobs to read again: those with a path at another width.
    let mut again: Vec<ObjectId> = Vec::new();
    let mut again_widths: Vec<Vec<usize>> = Vec::new();
    for (blob, group) in blobs.iter().zip(&groups) {
        let mut ws: Vec<usize> = group
            .iter()
            .flat_map(|c| widths_of(&c.path))
            .filter(|&w| w != DEFAULT_MARKER_WIDTH)
            .collect();
        if !ws.is_empty() {
            ws.sort_unstable();
            ws.dedup();
            again.push(blob.clone());
            again_widths.push(ws);
        }
    }
    let index: HashMap<&ObjectId, usize> = again.iter().enumerate().map(|(i, b)| (b, i)).collect();
    let rescanned = repo.read_blobs(&again, MAX_BLOB_WORKERS, |oid, content| {
        again_widths[index[oid]]
            .iter()
            .map(|&w| (w, Scanner::with_width(w).scan(content)))
            .collect::<Vec<(usize, Vec<Marker>)>>()
    })?;
    let rescanned: HashMap<&ObjectId, Vec<(usize, Vec<Marker>)>> =
        again.iter().zip(rescanned).collect();

    let mut with_markers = Vec::new();
    for ((blob, group), read) in blobs.iter().zip(groups).zip(first) {
        result.files_scanned += group.len();
        result.bytes_scanned += (read.len * group.len()) as u64;
        let at_other = rescanned.get(blob);
        for candidate in group {
            let mut markers: Vec<Marker> = Vec::new();
            for w in widths_of(&candidate.path) {
                if w == DEFAULT_MARKER_WIDTH {
                    markers.extend(&read.markers);
                } else if let Some((_, m)) =
                    at_other.and_then(|r| r.iter().find(|(width, _)| *width == w))
                {
                    markers.extend(m);
                }
            }
            if markers.is_empty() {
                continue;
            }
            markers.sort_unstable();
            markers.dedup();
            with_markers.push((candidate, markers));
        }
    }
    Ok(with_markers)
}

fn push_findings(result: &mut MarkerScan, path: &str, markers: Vec<Marker>) {
    result
        .findings
        .extend(markers.into_iter().map(|m| Finding::new(path, m)));
}
