//! Unified-diff hunks → conflict markers on the lines a change adds.
//!
//! Input is the `patch` field GitHub gives for each file of a pull request
//! (hunks only, no file headers), or the output of `git diff` for one file.
//! Only *added* lines are findings, and line numbers are the head file's:
//! each `@@ -a,b +c,d @@` header says the hunk's first head line is `c`, then
//! context (` `) and added (`+`) lines advance the head line while removed
//! (`-`) lines do not. Context lines still take part in the lone-separator
//! rule, so an added `=======` next to an unchanged `<<<<<<<` is found.
//!
//! Robustness: a hunk ends when its header's counts are used up, so file
//! headers between hunks of a multi-file diff (`+++ b/x`, `diff --git`) are
//! never taken for added lines; `\ No newline at end of file` is skipped; an
//! empty line inside a hunk is a blank context line (what `git diff` prints
//! under `diff.suppressBlankEmpty`); a `\r` before a newline belongs to the
//! line (CRLF files), a lone `\r` is an ordinary byte. A header that does not
//! parse ends the current hunk and is otherwise ignored.

use super::conflict_markers::{
    Candidate, Marker, Scanner, complete_blocks, could_be_marker_at_some_width, resolve,
    saturating_line, wide_opening_width,
};

/// The numbers of a hunk header `@@ -old_start,old_len +new_start,new_len @@`.
/// An omitted length is 1, as in the unified format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HunkHeader {
    pub old_start: u32,
    pub old_len: u32,
    pub new_start: u32,
    pub new_len: u32,
}

/// Parses a hunk header line (with or without the section text after `@@`).
pub fn parse_hunk_header(line: &[u8]) -> Option<HunkHeader> {
    let rest = line.strip_prefix(b"@@ -")?;
    let (old_start, old_len, rest) = parse_range(rest)?;
    let rest = rest.strip_prefix(b" +")?;
    let (new_start, new_len, rest) = parse_range(rest)?;
    // The closing `@@`, then an optional section heading.
    if !rest.starts_with(b" @@") {
        return None;
    }
    Some(HunkHeader {
        old_start,
        old_len,
        new_start,
        new_len,
    })
}

/// `start[,len]` followed by anything; returns the rest.
fn parse_range(s: &[u8]) -> Option<(u32, u32, &[u8])> {
    let (start, rest) = parse_u32(s)?;
    match rest.strip_prefix(b",") {
        Some(rest) => {
            let (len, rest) = parse_u32(rest)?;
            Some((start, len, rest))
        }
        None => Some((start, 1, rest)),
    }
}

fn parse_u32(s: &[u8]) -> Option<(u32, &[u8])> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = std::str::from_utf8(&s[..digits]).ok()?.parse().ok()?;
    Some((n, &s[digits..]))
}

/// What a line of a hunk does to the head file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineChange {
    /// Unchanged: present in base and head.
    Context,
    /// Added: present in head only.
    Added,
}

/// One head-side line of a patch: context or added, with its head line number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLine<'a> {
    pub line: u32,
    pub change: LineChange,
    /// The line's content without the diff prefix and without its `\n`.
    pub text: &'a [u8],
}

/// Iterates over the head-side lines of a patch (removed lines are skipped).
pub fn head_lines(patch: &[u8]) -> HeadLines<'_> {
    HeadLines {
        rest: patch,
        hunk: None,
    }
}

/// See [`head_lines`].
#[derive(Debug, Clone)]
pub struct HeadLines<'a> {
    rest: &'a [u8],
    hunk: Option<HunkState>,
}

#[derive(Debug, Clone, Copy)]
struct HunkState {
    /// The head line number of the next context or added line.
    next_line: usize,
    old_left: u32,
    new_left: u32,
}

impl HunkState {
    /// The state after a header line; `None` when `line` is not one, or
    /// when the hunk is empty (`@@ -1,0 +1,0 @@`) and so ends at once.
    fn start(line: &[u8]) -> Option<Self> {
        parse_hunk_header(line)
            .filter(|h| h.old_len > 0 || h.new_len > 0)
            .map(|h| HunkState {
                next_line: h.new_start as usize,
                old_left: h.old_len,
                new_left: h.new_len,
            })
    }
}

impl<'a> Iterator for HeadLines<'a> {
    type Item = HeadLine<'a>;

    fn next(&mut self) -> Option<HeadLine<'a>> {
        while !self.rest.is_empty() {
            let (line, rest) = match memchr::memchr(b'\n', self.rest) {
                Some(end) => (&self.rest[..end], &self.rest[end + 1..]),
                None => (self.rest, &b""[..]),
            };
            self.rest = rest;

            let Some(hunk) = self.hunk.as_mut() else {
                self.hunk = HunkState::start(line);
                continue;
            };
            let change = match line.first() {
                Some(b'+') => Some(LineChange::Added),
                Some(b' ') | None => Some(LineChange::Context),
                Some(b'-') => None,
                // `\ No newline at end of file` qualifies the line before it.
                Some(b'\\') => continue,
                Some(_) => {
                    // Not a hunk line: a new header, or the end of the hunk.
                    self.hunk = HunkState::start(line);
                    continue;
                }
            };
            let text = line.get(1..).unwrap_or_default();
            let out = change.map(|change| HeadLine {
                line: saturating_line(hunk.next_line),
                change,
                text,
            });
            match change {
                Some(LineChange::Added) => hunk.new_left = hunk.new_left.saturating_sub(1),
                Some(LineChange::Context) => {
                    hunk.new_left = hunk.new_left.saturating_sub(1);
                    hunk.old_left = hunk.old_left.saturating_sub(1);
                }
                None => hunk.old_left = hunk.old_left.saturating_sub(1),
            }
            if change.is_some() {
                hunk.next_line += 1;
            }
            if hunk.old_left == 0 && hunk.new_left == 0 {
                self.hunk = None;
            }
            if out.is_some() {
                return out;
            }
        }
        None
    }
}

/// Markers on the lines a patch adds, numbered as in the head file, at
/// git's default marker width.
pub fn scan_patch(patch: &[u8]) -> Vec<Marker> {
    scan_patch_with(Scanner::default_width(), patch)
}

/// [`scan_patch`] with markers of the scanner's width (the path's
/// `conflict-marker-size`).
///
/// Complete blocks of another width count too, as in
/// [`Scanner::scan`]: their lines are found among the patch's head-side
/// lines (context lines complete a block; only added ones are reported).
pub fn scan_patch_with(scanner: &Scanner, patch: &[u8]) -> Vec<Marker> {
    let mut wide_openings: Vec<usize> = Vec::new();
    let candidates: Vec<Candidate> = head_lines(patch)
        .filter_map(|head| {
            if head.text.first() == Some(&b'<')
                && let Some(n) = wide_opening_width(head.text, scanner.width())
                && !wide_openings.contains(&n)
            {
                wide_openings.push(n);
            }
            scanner.classify_line(head.text).map(|marker| Candidate {
                line: head.line,
                marker,
                report: head.change == LineChange::Added,
            })
        })
        .collect();
    let mut markers = if candidates.is_empty() {
        Vec::new()
    } else {
        resolve(candidates)
    };
    if wide_openings.is_empty() {
        return markers;
    }
    for n in wide_openings {
        let other = Scanner::with_width(n);
        let candidates: Vec<Candidate> = head_lines(patch)
            .filter_map(|head| {
                other.classify_line(head.text).map(|marker| Candidate {
                    line: head.line,
                    marker,
                    report: head.change == LineChange::Added,
                })
            })
            .collect();
        markers.extend(complete_blocks(&candidates));
    }
    markers.sort_unstable();
    markers.dedup();
    markers
}

/// Whether a head-side line of the patch could be a marker at some width
/// (see [`could_be_marker_at_some_width`]); when none can, the path's
/// `conflict-marker-size` cannot change what [`scan_patch_with`] finds.
pub fn patch_could_hold_markers_at_some_width(patch: &[u8]) -> bool {
    head_lines(patch).any(|l| could_be_marker_at_some_width(l.text))
}

/// The head line numbers a patch adds, in increasing order: for `git diff
/// -U0` output this is exactly the set of added lines of the file.
pub fn added_lines(patch: &[u8]) -> Vec<u32> {
    head_lines(patch)
        .filter(|l| l.change == LineChange::Added)
        .map(|l| l.line)
        .collect()
}

#[cfg(test)]
mod tests;
