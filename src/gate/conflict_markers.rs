//! The conflict-marker scanner: bytes in, markers (line, kind) out.
//!
//! A line is a marker when it begins, at column 0, with `<<<<<<< `,
//! `||||||| ` or `>>>>>>> ` followed by a label, or is exactly `=======` (a
//! `\r` before the newline is allowed). Lines end at `\n` only, as they do
//! for git and for GitHub's line numbers: a lone `\r` is an ordinary byte
//! inside a line. Seven is git's default width; a path whose
//! `.gitattributes` sets `conflict-marker-size=N` gets N-wide markers, so a
//! [`Scanner`] is built for one width and finds markers of exactly that
//! width (git/git sets 32 on files whose text shows 7-wide examples).
//!
//! Complete blocks of any other width count too, whatever the attributes
//! say: an opening line of N `<`, an optional base line of N `|`, a
//! separator of exactly N `=` and a closing line of N `>`, one after the
//! other among the lines of that width, N ≥ 8 (seven is the default width;
//! a seven-wide block where an attribute sets another width is an example
//! in documentation, as git/git's are). `git merge-file --marker-size=10`
//! writes such blocks with no attribute saying so, and an attribute may
//! change after a conflict was committed. A lone line of another width (a
//! Markdown rule of ten `=`) is not a marker. See [`block_width_counts`].
//!
//! Two rules need more than the line itself, and are decided once all
//! candidates of a file are known ([`resolve`]):
//!
//! - A *bare* opening, base or closing marker (nothing after it but
//!   whitespace: `git merge-file -L '' …`, and jj's conflicts) counts only
//!   when it opens or closes a block: a bare opening when the next opening
//!   or closing marker after it closes, a bare closing when the one before
//!   it opens, a bare base when it sits between the two.
//! - The separator. `=======` is also a Markdown rule and a setext heading
//!   underline, so a lone separator counts only *between* an opening
//!   (`<<<<<<<`, or the diff3 `|||||||`) and a closing (`>>>>>>>`) marker,
//!   or on the line *next to* one of them. Whether a separator counts can
//!   depend on a marker that comes after it, so the resolver holds
//!   separators as pending until the next opening or closing marker (or the
//!   end of input) decides them.
//!
//! The same resolution serves the whole-file scan here and the patch scan
//! in [`super::patch`], where only added lines are reported but context
//! lines still count for both rules.
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

pub mod attributes;
mod ignore;
mod summary;

pub use ignore::{IgnoreError, IgnoreSet};
pub use summary::{SUMMARY_MAX_FILES, render_markdown};

/// Git's own binary test looks at the first 8000 bytes; 8 KiB covers git's
/// window and is what GitHub users expect to be "binary"
/// (docs/ARCHITECTURE.md, "The decision's rules").
pub const BINARY_PROBE_LEN: usize = 8 * 1024;

/// git's default `conflict-marker-size`: the width of a marker where no
/// attribute says otherwise.
pub const DEFAULT_MARKER_WIDTH: usize = 7;

/// The widest marker looked for. git takes any size, but a wider setting is
/// not one anybody uses, and it bounds the needle built per width.
pub const MAX_MARKER_WIDTH: usize = 1024;

/// Reads a `conflict-marker-size` attribute value as git does: a positive
/// number is the width; anything else (unset, `0`, not a number) is the
/// default, and so is a width above [`MAX_MARKER_WIDTH`].
pub fn parse_marker_size(value: &str) -> usize {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_MARKER_WIDTH).contains(&n) => n,
        _ => DEFAULT_MARKER_WIDTH,
    }
}

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

/// What one line is, by itself: a marker kind, and whether it is bare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineMarker {
    pub kind: MarkerKind,
    /// An opening, base or closing marker with nothing after it but
    /// whitespace; it counts only when it opens or closes a block.
    pub bare: bool,
}

/// A marker candidate in line order, before the block and separator rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub line: u32,
    pub marker: LineMarker,
    /// Whether it may become a finding (an added line) or only gives
    /// context (an unchanged line of a patch).
    pub report: bool,
}

/// Finds markers of one width.
#[derive(Debug, Clone)]
pub struct Scanner {
    width: usize,
    /// One needle per kind: `width` copies of the marker's character.
    needles: [(Finder<'static>, MarkerKind); 4],
}

/// The scanner at git's default width, built once.
static DEFAULT_SCANNER: LazyLock<Scanner> =
    LazyLock::new(|| Scanner::with_width(DEFAULT_MARKER_WIDTH));

impl Scanner {
    /// A scanner for markers `width` characters wide (clamped to
    /// `1..=MAX_MARKER_WIDTH`).
    pub fn with_width(width: usize) -> Self {
        let width = width.clamp(1, MAX_MARKER_WIDTH);
        let needle = |c: u8| Finder::new(&vec![c; width]).into_owned();
        Self {
            width,
            needles: [
                (needle(b'<'), MarkerKind::Ours),
                (needle(b'|'), MarkerKind::Base),
                (needle(b'='), MarkerKind::Separator),
                (needle(b'>'), MarkerKind::Theirs),
            ],
        }
    }

    /// The scanner at git's default width (seven).
    pub fn default_width() -> &'static Scanner {
        &DEFAULT_SCANNER
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Classifies one line (without its `\n`; a trailing `\r` is allowed).
    ///
    /// This is the per-line rule only: a bare marker or a separator returned
    /// here still has to pass the block and lone-separator rules.
    pub fn classify_line(&self, line: &[u8]) -> Option<LineMarker> {
        let (&first, _) = line.split_first()?;
        let kind = match first {
            b'<' => MarkerKind::Ours,
            b'|' => MarkerKind::Base,
            b'>' => MarkerKind::Theirs,
            b'=' => MarkerKind::Separator,
            _ => return None,
        };
        let run = line.get(..self.width)?;
        if run.iter().any(|&b| b != first) {
            return None;
        }
        let rest = &line[self.width..];
        if kind == MarkerKind::Separator {
            let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
            return rest.is_empty().then_some(LineMarker { kind, bare: false });
        }
        if rest.iter().all(u8::is_ascii_whitespace) {
            return Some(LineMarker { kind, bare: true });
        }
        let label = rest.strip_prefix(b" ")?;
        label
            .iter()
            .any(|b| !b.is_ascii_whitespace())
            .then_some(LineMarker { kind, bare: false })
    }

    /// Scans a whole file: markers of this scanner's width, and complete
    /// blocks of any other width (see [`block_width_counts`]). Binary
    /// content (see [`is_binary`]) yields nothing.
    pub fn scan(&self, content: &[u8]) -> Vec<Marker> {
        if is_binary(content) {
            return Vec::new();
        }
        let mut wide_openings: Vec<usize> = Vec::new();
        let mut markers = self.scan_exact(content, &mut wide_openings);
        if self.width > DEFAULT_MARKER_WIDTH {
            // This width's `<` needle cannot see narrower openings.
            for at in DEFAULT_SCANNER.needles[0].0.find_iter(content) {
                if starts_line(content, at) {
                    note_wide_opening(&content[at..], self.width, &mut wide_openings);
                }
            }
        }
        if wide_openings.is_empty() {
            return markers;
        }
        wide_openings.sort_unstable();
        wide_openings.dedup();
        for n in wide_openings {
            let other = Scanner::with_width(n);
            let candidates = other.candidates(content, &mut Vec::new());
            markers.extend(complete_blocks(&candidates));
        }
        markers.sort_unstable();
        markers.dedup();
        markers
    }

    /// Markers of exactly this width, by the block and separator rules;
    /// notes in `wide_openings` the width of each opening line of another
    /// width that may start an any-width block.
    fn scan_exact(&self, content: &[u8], wide_openings: &mut Vec<usize>) -> Vec<Marker> {
        let candidates = self.candidates(content, wide_openings);
        if candidates.is_empty() {
            return Vec::new();
        }
        resolve(candidates)
    }

    /// Every line of this width's marker shape, in line order.
    fn candidates(&self, content: &[u8], wide_openings: &mut Vec<usize>) -> Vec<Candidate> {
        // Candidates are rare, so this vector almost never allocates.
        let mut hits: Vec<(usize, LineMarker)> = Vec::new();
        for (finder, kind) in self.needles.iter() {
            for at in finder.find_iter(content) {
                if !starts_line(content, at) {
                    continue;
                }
                if *kind == MarkerKind::Ours && self.width <= DEFAULT_MARKER_WIDTH {
                    note_wide_opening(&content[at..], self.width, wide_openings);
                }
                let line = match memchr::memchr(b'\n', &content[at..]) {
                    Some(end) => &content[at..at + end],
                    None => &content[at..],
                };
                if let Some(marker) = self.classify_line(line) {
                    hits.push((at, marker));
                }
            }
        }
        if hits.is_empty() {
            return Vec::new();
        }
        hits.sort_unstable_by_key(|&(at, _)| at);

        let (mut line, mut counted_to) = (1usize, 0usize);
        hits.into_iter()
            .map(|(at, marker)| {
                line += memchr::memchr_iter(b'\n', &content[counted_to..at]).count();
                counted_to = at;
                Candidate {
                    line: saturating_line(line),
                    marker,
                    report: true,
                }
            })
            .collect()
    }
}

/// Whether a complete block of markers `n` wide is a conflict in a file
/// whose attributes say `width`: any block wider than git's default is
/// (`git merge-file --marker-size=10` writes one with no attribute saying
/// so, and an attribute may have changed since), except at the file's own
/// width, where every marker counts anyway. A seven-wide block in a file
/// whose attribute widens its markers is what git/git's documentation shows
/// as an example, and stays text.
pub fn block_width_counts(n: usize, width: usize) -> bool {
    n > DEFAULT_MARKER_WIDTH && n != width && n <= MAX_MARKER_WIDTH
}

/// The width of the run of `<` that `line` starts with, noted when an
/// any-width block of that width could start there.
fn note_wide_opening(line: &[u8], width: usize, wide_openings: &mut Vec<usize>) {
    let limit = line.len().min(MAX_MARKER_WIDTH + 1);
    let n = line[..limit].iter().take_while(|&&b| b == b'<').count();
    if block_width_counts(n, width) && !wide_openings.contains(&n) {
        wide_openings.push(n);
    }
}

/// The width of an opening line (`<` repeated, then a space and a label,
/// or nothing), if an any-width block of that width could start there.
pub(crate) fn wide_opening_width(line: &[u8], width: usize) -> Option<usize> {
    let mut found = Vec::new();
    note_wide_opening(line, width, &mut found);
    found.pop()
}

/// The markers of complete blocks among `candidates` (all of one width, in
/// line order): an opening, an optional base, a separator and a closing,
/// one right after the other among the markers of that width. Only
/// reported candidates become markers; the others (context lines of a
/// patch) still complete a block.
pub(crate) fn complete_blocks(candidates: &[Candidate]) -> Vec<Marker> {
    use MarkerKind::*;
    let kind = |i: usize| candidates.get(i).map(|c| c.marker.kind);
    let mut out = Vec::new();
    let mut i = 0;
    while i < candidates.len() {
        if kind(i) != Some(Ours) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        if kind(j) == Some(Base) {
            j += 1;
        }
        if kind(j) == Some(Separator) && kind(j + 1) == Some(Theirs) {
            out.extend(
                candidates[i..=j + 1]
                    .iter()
                    .filter(|c| c.report)
                    .map(|c| Marker {
                        line: c.line,
                        kind: c.marker.kind,
                    }),
            );
            i = j + 2;
        } else {
            i += 1;
        }
    }
    out
}

/// Classifies one line at the default width; see [`Scanner::classify_line`].
pub fn classify_line(line: &[u8]) -> Option<LineMarker> {
    DEFAULT_SCANNER.classify_line(line)
}

/// Scans a whole file at the default width; see [`Scanner::scan`].
pub fn scan(content: &[u8]) -> Vec<Marker> {
    DEFAULT_SCANNER.scan(content)
}

/// Applies the block rule to bare markers, then the separator rule, to
/// candidates in line order; returns the findings (reported ones only).
pub(crate) fn resolve(mut candidates: Vec<Candidate>) -> Vec<Marker> {
    if candidates.iter().any(|c| c.marker.bare) {
        keep_bare_markers_that_open_or_close(&mut candidates);
    }
    let mut resolver = Resolver::default();
    for c in candidates {
        resolver.feed(c.line, c.marker.kind, c.report);
    }
    resolver.finish()
}

/// Drops bare markers that neither open nor close a block. Only openings and
/// closings decide it (a base sits inside a block, a separator anywhere), so
/// each candidate is compared with the nearest of those on either side.
fn keep_bare_markers_that_open_or_close(candidates: &mut Vec<Candidate>) {
    let structural = |c: &Candidate| matches!(c.marker.kind, MarkerKind::Ours | MarkerKind::Theirs);
    let mut before = Vec::with_capacity(candidates.len());
    let mut last = None;
    for c in candidates.iter() {
        before.push(last);
        if structural(c) {
            last = Some(c.marker.kind);
        }
    }
    let mut after = vec![None; candidates.len()];
    let mut next = None;
    for (i, c) in candidates.iter().enumerate().rev() {
        after[i] = next;
        if structural(c) {
            next = Some(c.marker.kind);
        }
    }
    let mut i = 0;
    candidates.retain(|c| {
        let (prev, next) = (before[i], after[i]);
        i += 1;
        if !c.marker.bare {
            return true;
        }
        let opened = prev == Some(MarkerKind::Ours);
        let closed = next == Some(MarkerKind::Theirs);
        match c.marker.kind {
            MarkerKind::Ours => closed,
            MarkerKind::Theirs => opened,
            MarkerKind::Base => opened && closed,
            MarkerKind::Separator => true,
        }
    });
}

/// Decides which separators are findings, fed in line order.
///
/// Opening and closing markers that reach it are findings. A separator is
/// one when the line before or after it is an opening or closing marker, or
/// when the nearest such marker before it opens a conflict and the nearest
/// after it closes one. Each candidate carries `report`: whether it may
/// become a finding (an added line) or only gives context (an unchanged line).
#[derive(Debug, Default)]
struct Resolver {
    out: Vec<Marker>,
    /// The last opening or closing marker seen: its line and kind.
    last_strong: Option<(u32, MarkerKind)>,
    /// Separators not yet decided, with their `report` flag. While no
    /// conflict is open only the last one can still count (by adjacency),
    /// so the list holds at most one entry then.
    pending: Vec<(u32, bool)>,
}

impl Resolver {
    /// Feeds the next candidate; lines must be strictly increasing.
    fn feed(&mut self, line: u32, kind: MarkerKind, report: bool) {
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
    fn finish(self) -> Vec<Marker> {
        self.out
    }
}

fn starts_line(content: &[u8], at: usize) -> bool {
    at == 0 || content[at - 1] == b'\n'
}

/// The narrowest marker width looked up in `.gitattributes`: a one-wide
/// "marker" would make every line starting with `<` or `>` a conflict, and
/// no repository sets it.
pub const MIN_LOOKED_UP_WIDTH: usize = 2;

/// Whether `line` could be an opening, base or closing marker at some width
/// of at least [`MIN_LOOKED_UP_WIDTH`]: it begins with `<<`, `||` or `>>`.
pub fn could_be_marker_at_some_width(line: &[u8]) -> bool {
    match line {
        [c, rest @ ..] if b"<|>".contains(c) => {
            rest.len() + 1 >= MIN_LOOKED_UP_WIDTH
                && rest[..MIN_LOOKED_UP_WIDTH - 1].iter().all(|b| b == c)
        }
        _ => false,
    }
}

/// Whether some line of `content` passes [`could_be_marker_at_some_width`].
/// When none does, no width finds a marker in it (a separator counts only
/// with an opening or closing marker), so its `conflict-marker-size` need
/// not be read, and it need not be scanned at all.
pub fn could_hold_markers_at_some_width(content: &[u8]) -> bool {
    if is_binary(content) {
        return false;
    }
    let starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', content).map(|i| i + 1));
    starts
        .filter(|&at| at < content.len() && b"<|>".contains(&content[at]))
        .any(|at| could_be_marker_at_some_width(&content[at..]))
}

/// Line numbers are `u32` (what GitHub annotations take); beyond that, saturate.
pub(crate) fn saturating_line(line: usize) -> u32 {
    u32::try_from(line).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
