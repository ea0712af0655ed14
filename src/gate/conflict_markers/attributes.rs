//! `conflict-marker-size` from `.gitattributes` files, the way git reads it.
//!
//! For the App, which sees files through GitHub rather than a checkout: the
//! caller reads the `.gitattributes` of the root and of each directory on a
//! path's way down, and [`marker_width`] applies them as git does. A
//! pattern without a `/` matches the file name at any depth below its
//! file's directory; one with a `/` is relative to that directory (a
//! leading `/` only anchors it). `*` stays within a path segment, `**`
//! crosses segments. Deeper files override shallower ones and, within a
//! file, later lines override earlier ones. A pattern ending in `/` names
//! directories, which never match a file in git's attributes, and negated
//! patterns are not allowed there: both are skipped. `-attr`, `!attr` and a
//! bare `attr` (set, without a value) mean the default width. Macro
//! definitions (`[attr]name …`) are skipped; locally, `git check-attr`
//! knows them.

use globset::{GlobBuilder, GlobMatcher};

use super::{DEFAULT_MARKER_WIDTH, parse_marker_size};

/// The attribute read here.
const ATTRIBUTE: &str = "conflict-marker-size";

/// The file git reads attributes from, in each directory.
pub const ATTRIBUTES_FILE: &str = ".gitattributes";

/// The most `conflict-marker-size` rules compiled from one file: real
/// files set it on a handful of patterns (git/git: three). Rules past it
/// are not compiled (each is a glob matched against every path asked).
pub const MAX_RULES_PER_FILE: usize = 256;

/// The longest pattern compiled; a longer one is skipped, as a line git
/// would not match against any real path.
pub const MAX_PATTERN_LEN: usize = 1024;

/// The largest `.gitattributes` read through GitHub (real ones are a few
/// KiB; git/git's is under 2 KiB).
pub const MAX_ATTRIBUTES_BYTES: usize = 256 * 1024;

/// One `.gitattributes` file: the directory it sits in (`""` for the root,
/// `docs/api` for `docs/api/.gitattributes`) and the rules in it that touch
/// `conflict-marker-size`, in file order.
#[derive(Debug, Clone)]
pub struct AttributesFile {
    dir: String,
    rules: Vec<(GlobMatcher, usize)>,
    /// Whether rules past [`MAX_RULES_PER_FILE`] were left out.
    truncated: bool,
}

impl AttributesFile {
    /// Parses a `.gitattributes` found in `dir`; lines that do not parse are
    /// skipped, as git skips them.
    pub fn parse(dir: &str, content: &[u8]) -> Self {
        let dir = dir.trim_matches('/').to_owned();
        let text = String::from_utf8_lossy(content);
        let mut rules = Vec::new();
        let mut truncated = false;
        for line in text.lines() {
            if rules.len() == MAX_RULES_PER_FILE {
                truncated = touches_attribute(line);
                if truncated {
                    break;
                }
                continue;
            }
            rules.extend(rule(&dir, line));
        }
        Self {
            dir,
            rules,
            truncated,
        }
    }

    /// Whether some rules were left out (more than [`MAX_RULES_PER_FILE`]).
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The directory this file applies to.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// The width the last matching rule of this file sets for `path`.
    fn width_for(&self, path: &str) -> Option<usize> {
        self.rules
            .iter()
            .rev()
            .find(|(glob, _)| glob.is_match(path))
            .map(|(_, width)| *width)
    }
}

/// One line: `pattern attr…`; `Some` when it sets or unsets the attribute.
fn rule(dir: &str, line: &str) -> Option<(GlobMatcher, usize)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with("[attr]") {
        return None;
    }
    let mut tokens = line.split_ascii_whitespace();
    let pattern = tokens.next()?;
    let width = tokens.filter_map(attribute_width).next_back()?;
    if pattern.starts_with('!') || pattern.ends_with('/') || pattern.len() > MAX_PATTERN_LEN {
        return None;
    }
    let relative = match pattern.strip_prefix('/') {
        Some(anchored) => anchored.to_owned(),
        None if pattern.contains('/') => pattern.to_owned(),
        None => format!("**/{pattern}"),
    };
    let glob = if dir.is_empty() {
        relative
    } else {
        format!("{}/{relative}", globset::escape(dir))
    };
    let matcher = GlobBuilder::new(&glob)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .ok()?
        .compile_matcher();
    Some((matcher, width))
}

/// Whether a line mentions the attribute at all (cheap: no glob built).
fn touches_attribute(line: &str) -> bool {
    line.contains(ATTRIBUTE)
}

/// `conflict-marker-size=N` → N; `-…`, `!…` or a bare name → the default.
fn attribute_width(token: &str) -> Option<usize> {
    let name = token.trim_start_matches(['-', '!']);
    if name != token {
        return (name == ATTRIBUTE).then_some(DEFAULT_MARKER_WIDTH);
    }
    match token.split_once('=') {
        Some((ATTRIBUTE, value)) => Some(parse_marker_size(value)),
        None if token == ATTRIBUTE => Some(DEFAULT_MARKER_WIDTH),
        _ => None,
    }
}

/// The directories whose `.gitattributes` can apply to `path`, from the
/// root down: `a/b/c.txt` → `["", "a", "a/b"]`.
pub fn attribute_dirs(path: &str) -> Vec<&str> {
    let mut dirs = vec![""];
    dirs.extend(path.match_indices('/').map(|(i, _)| &path[..i]));
    dirs
}

/// The marker width of `path` under `files` (in any order; each applies
/// only below its own directory, deeper ones winning).
pub fn marker_width(path: &str, files: &[AttributesFile]) -> usize {
    let mut applicable: Vec<&AttributesFile> = files
        .iter()
        .filter(|f| f.dir.is_empty() || path.starts_with(&format!("{}/", f.dir)))
        .collect();
    applicable.sort_by_key(|f| f.dir.matches('/').count() + usize::from(!f.dir.is_empty()));
    applicable
        .iter()
        .rev()
        .find_map(|f| f.width_for(path))
        .unwrap_or(DEFAULT_MARKER_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn width(path: &str, files: &[(&str, &str)]) -> usize {
        let files: Vec<AttributesFile> = files
            .iter()
            .map(|(dir, text)| AttributesFile::parse(dir, text.as_bytes()))
            .collect();
        marker_width(path, &files)
    }

    #[test]
    fn patterns_match_like_git() {
        let root = "# git/git style\n\
                    *.adoc conflict-marker-size=32\n\
                    /Documentation/git-merge.txt conflict-marker-size=20\n\
                    tests/*.txt conflict-marker-size=12\n\
                    vendor/ conflict-marker-size=40\n\
                    !neg conflict-marker-size=40\n\
                    [attr]wide conflict-marker-size=50\n\
                    plain.txt text eol=lf\n";
        let cases: &[(&str, usize)] = &[
            ("a.adoc", 32),
            ("Documentation/deep/b.adoc", 32),
            ("Documentation/git-merge.txt", 20),
            ("sub/Documentation/git-merge.txt", 7),
            ("tests/x.txt", 12),
            ("tests/deep/x.txt", 7),
            ("src/tests/x.txt", 7),
            ("vendor/x.c", 7),
            ("neg", 7),
            ("plain.txt", 7),
            ("a.adoc.bak", 7),
        ];
        for (path, expected) in cases {
            assert_eq!(width(path, &[("", root)]), *expected, "{path}");
        }
    }

    #[test]
    fn deeper_files_and_later_lines_win_and_unset_means_default() {
        let root = "*.txt conflict-marker-size=32\n*.txt conflict-marker-size=16\n";
        let docs = "*.txt -conflict-marker-size\nkeep.txt conflict-marker-size=9\n";
        let files = [("", root), ("docs", docs)];
        assert_eq!(width("a.txt", &files), 16);
        assert_eq!(width("docs/a.txt", &files), 7);
        assert_eq!(width("docs/sub/keep.txt", &files), 9);
        // A directory's file does not reach its siblings.
        assert_eq!(width("docsy/a.txt", &files), 16);
        assert_eq!(width("a.txt", &[("", "*.txt conflict-marker-size\n")]), 7);
        assert_eq!(width("a.txt", &[("", "*.txt !conflict-marker-size\n")]), 7);
        assert_eq!(
            width("a.txt", &[("", "*.txt conflict-marker-size=junk\n")]),
            7
        );
        assert_eq!(width("a.txt", &[]), 7);
    }

    #[test]
    fn a_nested_file_is_relative_to_its_directory() {
        let files = [(
            "docs/api",
            "/only-here.md conflict-marker-size=11\nx/*.md conflict-marker-size=13\n",
        )];
        assert_eq!(width("docs/api/only-here.md", &files), 11);
        assert_eq!(width("docs/api/sub/only-here.md", &files), 7);
        assert_eq!(width("docs/api/x/a.md", &files), 13);
        assert_eq!(width("x/a.md", &files), 7);
    }

    #[test]
    fn rules_are_capped_per_file_and_long_patterns_skipped() {
        let many: String = (0..10_000)
            .map(|i| format!("f{i}.txt conflict-marker-size=9\n"))
            .collect();
        let file = AttributesFile::parse("", many.as_bytes());
        assert_eq!(file.rules.len(), MAX_RULES_PER_FILE);
        assert!(file.truncated());
        assert_eq!(marker_width("f0.txt", std::slice::from_ref(&file)), 9);
        assert_eq!(marker_width("f9999.txt", &[file]), 7);
        let long = format!("{}* conflict-marker-size=9\n", "a".repeat(MAX_PATTERN_LEN));
        let file = AttributesFile::parse("", long.as_bytes());
        assert!(file.rules.is_empty() && !file.truncated());
        let fine = AttributesFile::parse("", b"*.txt conflict-marker-size=9\n");
        assert!(!fine.truncated());
    }

    #[test]
    fn attribute_dirs_go_from_the_root_down() {
        assert_eq!(attribute_dirs("a/b/c.txt"), ["", "a", "a/b"]);
        assert_eq!(attribute_dirs("top.txt"), [""]);
    }
}
