//! The changed files between two trees, in the shape GitHub gives them in a
//! comparison and in a pull request's file list.
//!
//! A `patch` is a real unified diff with three lines of context, hunks only
//! (GitHub leaves out the `---`/`+++` header), with git's `\ No newline at
//! end of file` marker. Like GitHub, there is no patch for binary content (a
//! NUL byte in the first 8000 bytes), for a pure rename, or for files the
//! scenario marks "large". Renames are found when a removed file's content
//! reappears, unchanged, under a new path.

use std::collections::BTreeSet;

use similar::{ChangeTag, TextDiff};

use super::world::{Blob, Tree, is_binary};

/// GitHub's unified diffs carry three lines of context.
const CONTEXT_LINES: usize = 3;

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub filename: String,
    /// `added`, `removed`, `modified` or `renamed`.
    pub status: &'static str,
    pub previous_filename: Option<String>,
    /// The blob at the head (at the base, for a removed file).
    pub sha: String,
    pub additions: u64,
    pub deletions: u64,
    pub patch: Option<String>,
}

/// A unified diff of `old` → `new` (hunks only), with its added and
/// removed line counts.
pub fn unified_patch(old: &[u8], new: &[u8]) -> (String, u64, u64) {
    let (old, new) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
    let diff = TextDiff::from_lines(old.as_ref(), new.as_ref());
    let mut patch = String::new();
    let (mut adds, mut dels) = (0, 0);
    let mut udiff = diff.unified_diff();
    udiff
        .context_radius(CONTEXT_LINES)
        .missing_newline_hint(true);
    for hunk in udiff.iter_hunks() {
        for change in hunk.iter_changes() {
            match change.tag() {
                ChangeTag::Insert => adds += 1,
                ChangeTag::Delete => dels += 1,
                ChangeTag::Equal => {}
            }
        }
        patch.push_str(&hunk.to_string());
    }
    if patch.ends_with('\n') {
        patch.pop();
    }
    (patch, adds, dels)
}

fn change(
    path: &str,
    status: &'static str,
    old: Option<&Blob>,
    new: Option<&Blob>,
    large: bool,
) -> FileChange {
    let empty: &[u8] = &[];
    let (old_bytes, new_bytes) = (
        old.map(|b| &b.bytes[..]).unwrap_or(empty),
        new.map(|b| &b.bytes[..]).unwrap_or(empty),
    );
    let sha = new.or(old).map(|b| b.sha.clone()).unwrap_or_default();
    let binary = is_binary(old_bytes) || is_binary(new_bytes);
    let (patch, additions, deletions) = if binary || old_bytes == new_bytes {
        (None, 0, 0)
    } else {
        let (p, a, d) = unified_patch(old_bytes, new_bytes);
        (if large { None } else { Some(p) }, a, d)
    };
    FileChange {
        filename: path.to_owned(),
        status,
        previous_filename: None,
        sha,
        additions,
        deletions,
        patch,
    }
}

/// The files that differ between `base` and `head`, sorted by path.
/// `large` names paths whose patch is withheld.
pub fn diff_trees(base: &Tree, head: &Tree, large: &BTreeSet<String>) -> Vec<FileChange> {
    let mut out = Vec::new();
    let removed: Vec<&String> = base.keys().filter(|p| !head.contains_key(*p)).collect();
    let mut renamed_from: BTreeSet<&String> = BTreeSet::new();
    for (path, blob) in head {
        match base.get(path) {
            Some(old) if old == blob => {}
            Some(old) => out.push(change(
                path,
                "modified",
                Some(old),
                Some(blob),
                large.contains(path),
            )),
            None => {
                let source = removed
                    .iter()
                    .find(|r| !renamed_from.contains(**r) && base[**r].sha == blob.sha);
                match source {
                    Some(from) => {
                        renamed_from.insert(from);
                        let mut c = change(path, "renamed", Some(&base[*from]), Some(blob), false);
                        c.previous_filename = Some((*from).clone());
                        out.push(c);
                    }
                    None => out.push(change(
                        path,
                        "added",
                        None,
                        Some(blob),
                        large.contains(path),
                    )),
                }
            }
        }
    }
    for path in removed {
        if !renamed_from.contains(path) {
            out.push(change(
                path,
                "removed",
                base.get(path),
                None,
                large.contains(path),
            ));
        }
    }
    out.sort_by(|a, b| a.filename.cmp(&b.filename));
    out
}
