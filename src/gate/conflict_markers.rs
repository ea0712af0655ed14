//! The conflict-marker scanner: bytes in, markers (line, kind) out.
//!
//! A line is a marker when it begins, at column 0, with `<<<<<<< `,
//! `||||||| ` or `>>>>>>> ` followed by a non-empty label, or is exactly
//! `=======` (a `\r` before the newline is allowed). Lines end at `\n` only,
//! as they do for git and for GitHub's line numbers: a lone `\r` is an
//! ordinary byte inside a line.
//!
//! The hard part is the separator. `=======` is also a Markdown rule and a
//! setext heading underline, so a lone separator counts only *between* an
//! opening (`<<<<<<<`, or the diff3 `|||||||`) and a closing (`>>>>>>>`)
//! marker, or on the line *next to* one of them. Whether a separator counts
//! can depend on a marker that comes after it, so [`Resolver`] holds
//! separators as pending until the next opening or closing marker (or the
//! end of input) decides them. The same resolver serves the whole-file scan
//! here and the patch scan in [`super::patch`], where only added lines are
//! reported but context lines still count for the separator rule.
//!
//! Speed: text is searched like ripgrep does it, never line by line. Each of
//! the four marker needles is found with a SIMD substring search
//! (`memchr::memmem`); a hit is kept only when it starts a line, and line
//! numbers are computed only for kept hits, by counting newlines (vectorised)
//! since the previous hit. A file without markers costs four substring passes
//! over bytes that are already in cache, and no allocation.

use std::fmt;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::Serialize;

mod ignore;
mod summary;

pub use ignore::{IgnoreError, IgnoreSet};
pub use summary::{SUMMARY_MAX_FILES, render_markdown};

/// Git's own binary test looks at the first 8000 bytes; DESIGN fixes 8 KiB,
/// which covers git's window and is what GitHub users expect to be "binary".
pub const BINARY_PROBE_LEN: usize = 8 * 1024;

/// The width of every git conflict marker (git's default `conflict-marker-size`).
const MARKER_WIDTH: usize = 7;

/// Which conflict marker a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MarkerKind {
    /// `<<<<<<< label`: opens a conflict, our side follows.
    Ours,
    /// `||||||| label`: the common ancestor's side follows (diff3 style).
    Base,
    /// `=======`: their side follows.
    Separator,
    /// `>>>>>>> label`: closes a conflict.
    Theirs,
}

impl MarkerKind {
    /// All kinds, in the order they appear in a conflict.
    pub const ALL: [MarkerKind; 4] = [
        MarkerKind::Ours,
        MarkerKind::Base,
        MarkerKind::Separator,
        MarkerKind::Theirs,
    ];

    /// The marker as it appears in a file, without its label.
    pub fn marker(self) -> &'static str {
        match self {
            MarkerKind::Ours => "<<<<<<<",
            MarkerKind::Base => "|||||||",
            MarkerKind::Separator => "=======",
            MarkerKind::Theirs => ">>>>>>>",
        }
    }

    /// A short machine-readable name (`ours`, `base`, `separator`, `theirs`).
    pub fn as_str(self) -> &'static str {
        match self {
            MarkerKind::Ours => "ours",
            MarkerKind::Base => "base",
            MarkerKind::Separator => "separator",
            MarkerKind::Theirs => "theirs",
        }
    }

    /// Whether this marker opens a section that a separator may follow.
    fn opens(self) -> bool {
        matches!(self, MarkerKind::Ours | MarkerKind::Base)
    }
}

impl fmt::Display for MarkerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            MarkerKind::Ours => "start of a conflict, our side",
            MarkerKind::Base => "common ancestor's side of a conflict",
            MarkerKind::Separator => "separator between the two sides of a conflict",
            MarkerKind::Theirs => "end of a conflict, their side",
        };
        write!(f, "conflict marker {} ({what})", self.marker())
    }
}

/// A marker found in a file or patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Marker {
    /// 1-based line number (in the head file, for a patch). Saturates at
    /// `u32::MAX` for files of more than four billion lines.
    pub line: u32,
    pub kind: MarkerKind,
}

/// A marker in a named file: what the guards report.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub path: String,
    pub line: u32,
    pub kind: MarkerKind,
}

impl Finding {
    pub fn new(path: impl Into<String>, marker: Marker) -> Self {
        Self {
            path: path.into(),
            line: marker.line,
            kind: marker.kind,
        }
    }
}

impl fmt::Display for Finding {
    /// `path:line: conflict marker …`, the format of compilers and grep.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.kind)
    }
}

/// Whether `content` is binary: a NUL byte in its first [`BINARY_PROBE_LEN`] bytes.
pub fn is_binary(content: &[u8]) -> bool {
    let probe = &content[..content.len().min(BINARY_PROBE_LEN)];
    memchr::memchr(0, probe).is_some()
}

/// Classifies one line (without its `\n`; a trailing `\r` is allowed).
///
/// This is the per-line rule only: a [`MarkerKind::Separator`] returned here
/// still has to pass the lone-separator rule (see [`Resolver`]).
pub fn classify_line(line: &[u8]) -> Option<MarkerKind> {
    let kind = match line.first()? {
        b'<' => MarkerKind::Ours,
        b'|' => MarkerKind::Base,
        b'>' => MarkerKind::Theirs,
        b'=' => {
            let body = line.strip_suffix(b"\r").unwrap_or(line);
            return (body == b"=======").then_some(MarkerKind::Separator);
        }
        _ => return None,
    };
    let rest = line
        .strip_prefix(kind.marker().as_bytes())?
        .strip_prefix(b" ")?;
    let label = rest.strip_suffix(b"\r").unwrap_or(rest);
    (!label.is_empty()).then_some(kind)
}

/// Decides which candidate markers are findings, fed in line order.
///
/// Opening and closing markers are always findings. A separator is one when
/// the line before or after it is an opening or closing marker, or when the
/// nearest such marker before it opens a conflict and the nearest after it
/// closes one. Each candidate carries `report`: whether it may become a
/// finding (an added line) or only gives context (an unchanged line).
#[derive(Debug, Default)]
pub struct Resolver {
    out: Vec<Marker>,
    /// The last opening or closing marker seen: its line and kind.
    last_strong: Option<(u32, MarkerKind)>,
    /// Separators not yet decided, with their `report` flag. While no
    /// conflict is open only the last one can still count (by adjacency),
    /// so the list holds at most one entry then.
    pending: Vec<(u32, bool)>,
}

impl Resolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next candidate; lines must be strictly increasing.
    pub fn feed(&mut self, line: u32, kind: MarkerKind, report: bool) {
        if kind == MarkerKind::Separator {
            self.feed_separator(line, report);
        } else {
            self.feed_strong(line, kind, report);
        }
    }

    fn feed_separator(&mut self, line: u32, report: bool) {
        match self.last_strong {
            // Next to the marker before it: decided now.
            Some((strong, _)) if strong.checked_add(1) == Some(line) => {
                if report {
                    self.out.push(Marker {
                        line,
                        kind: MarkerKind::Separator,
                    });
                }
            }
            // Inside an open conflict: decided by the next marker.
            Some((_, kind)) if kind.opens() => self.pending.push((line, report)),
            _ => {
                // No open conflict: only adjacency to the next marker can
                // make this separator count, so only the latest one matters.
                self.pending.clear();
                self.pending.push((line, report));
            }
        }
    }

    fn feed_strong(&mut self, line: u32, kind: MarkerKind, report: bool) {
        let closes_open =
            kind == MarkerKind::Theirs && self.last_strong.is_some_and(|(_, k)| k.opens());
        for &(sep, sep_report) in &self.pending {
            let next_to_this = sep.checked_add(1) == Some(line);
            if sep_report && (closes_open || next_to_this) {
                self.out.push(Marker {
                    line: sep,
                    kind: MarkerKind::Separator,
                });
            }
        }
        self.pending.clear();
        self.last_strong = Some((line, kind));
        if report {
            self.out.push(Marker { line, kind });
        }
    }

    /// Ends the input: separators still pending met no closing marker and
    /// stand next to none, so they are not findings.
    pub fn finish(self) -> Vec<Marker> {
        self.out
    }
}

/// The four needles. Opening and closing needles include the space that must
/// follow the marker, so `<<<<<<<<` (eight) never even becomes a candidate.
static NEEDLES: LazyLock<[(Finder<'static>, MarkerKind); 4]> = LazyLock::new(|| {
    [
        (Finder::new(b"<<<<<<< "), MarkerKind::Ours),
        (Finder::new(b"||||||| "), MarkerKind::Base),
        (Finder::new(b"======="), MarkerKind::Separator),
        (Finder::new(b">>>>>>> "), MarkerKind::Theirs),
    ]
});

/// Scans a whole file. Binary content (see [`is_binary`]) yields nothing.
pub fn scan(content: &[u8]) -> Vec<Marker> {
    if is_binary(content) {
        return Vec::new();
    }
    // Candidates are rare, so this vector almost never allocates.
    let mut candidates: Vec<(usize, MarkerKind)> = Vec::new();
    for (finder, kind) in NEEDLES.iter() {
        for at in finder.find_iter(content) {
            if starts_line(content, at) && is_marker_at(content, at, *kind) {
                candidates.push((at, *kind));
            }
        }
    }
    if candidates.is_empty() {
        return Vec::new();
    }
    candidates.sort_unstable_by_key(|&(at, _)| at);

    let mut resolver = Resolver::new();
    let (mut line, mut counted_to) = (1usize, 0usize);
    for (at, kind) in candidates {
        line += memchr::memchr_iter(b'\n', &content[counted_to..at]).count();
        counted_to = at;
        resolver.feed(saturating_line(line), kind, true);
    }
    resolver.finish()
}

fn starts_line(content: &[u8], at: usize) -> bool {
    at == 0 || content[at - 1] == b'\n'
}

/// Checks what follows a needle hit at a line start, without finding the
/// line's end: a separator must end its line (after an optional `\r`), a
/// labelled marker needs at least one label byte before the line ends.
fn is_marker_at(content: &[u8], at: usize, kind: MarkerKind) -> bool {
    let after = &content[at + MARKER_WIDTH..];
    if kind == MarkerKind::Separator {
        let after = after.strip_prefix(b"\r").unwrap_or(after);
        return after.is_empty() || after[0] == b'\n';
    }
    // Skip the space the needle already matched.
    !matches!(&after[1..], [] | [b'\n', ..] | [b'\r'] | [b'\r', b'\n', ..])
}

/// Line numbers are `u32` (what GitHub annotations take); beyond that, saturate.
pub(crate) fn saturating_line(line: usize) -> u32 {
    u32::try_from(line).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
