//! `conflict_markers.ignore`: globs of repository paths allowed to hold markers.
//!
//! Paths are repository-relative with `/` separators, as git and GitHub
//! print them. `*` and `?` stay within one path segment and `**` crosses
//! segments (the convention of GitHub's CODEOWNERS and workflow path
//! filters), so `tests/fixtures/**` covers a whole folder while `*.md` means
//! Markdown files at the top only. Two conveniences: a trailing `/` means
//! the folder's whole content (`vendor/` = `vendor/**`), and a leading `/`
//! is dropped (paths are always anchored at the repository root).

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// A compiled set of ignore globs.
#[derive(Debug, Clone)]
pub struct IgnoreSet {
    set: GlobSet,
}

/// A glob that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid glob {pattern:?} in conflict_markers.ignore: {reason}")]
pub struct IgnoreError {
    pub pattern: String,
    pub reason: String,
}

impl IgnoreSet {
    /// Compiles the globs; the first one that does not compile is the error.
    pub fn new(patterns: &[String]) -> Result<Self, IgnoreError> {
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            let normalized = normalize(pattern);
            let glob = GlobBuilder::new(&normalized)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| IgnoreError {
                    pattern: pattern.clone(),
                    reason: e.kind().to_string(),
                })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| IgnoreError {
            pattern: patterns.join(", "),
            reason: e.kind().to_string(),
        })?;
        Ok(Self { set })
    }

    /// An empty set: nothing is ignored.
    pub fn none() -> Self {
        Self {
            set: GlobSet::empty(),
        }
    }

    /// Whether `path` (repository-relative) matches one of the globs.
    pub fn is_ignored(&self, path: &str) -> bool {
        !self.set.is_empty() && self.set.is_match(path)
    }
}

impl Default for IgnoreSet {
    fn default() -> Self {
        Self::none()
    }
}

fn normalize(pattern: &str) -> String {
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
    if pattern.ends_with('/') {
        format!("{pattern}**")
    } else {
        pattern.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[&str]) -> IgnoreSet {
        let owned: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        IgnoreSet::new(&owned).unwrap()
    }

    #[test]
    fn globs_match_like_codeowners() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&[], "anything", false),
            (&["tests/fixtures/**"], "tests/fixtures/a.txt", true),
            (&["tests/fixtures/**"], "tests/fixtures/deep/er/b.rs", true),
            (&["tests/fixtures/**"], "tests/fixture.rs", false),
            (&["tests/fixtures/**"], "src/tests/fixtures/a", false),
            (&["*.md"], "README.md", true),
            (&["*.md"], "docs/guide.md", false),
            (&["**/*.md"], "docs/guide.md", true),
            (&["**/*.md"], "README.md", true),
            (&["docs/*.orig"], "docs/a b.orig", true),
            (&["vendor/"], "vendor/lib/x.c", true),
            (&["vendor/"], "vendored.c", false),
            (&["/top.txt"], "top.txt", true),
            (&["données/**"], "données/été.txt", true),
            (&["a/{b,c}/*"], "a/c/x", true),
            (&["x/?.txt"], "x/1.txt", true),
            (&["x/?.txt"], "x/12.txt", false),
            (&["a/*", "b/*"], "b/z", true),
        ];
        for (patterns, path, expected) in cases {
            assert_eq!(
                set(patterns).is_ignored(path),
                *expected,
                "{patterns:?} vs {path:?}"
            );
        }
    }

    #[test]
    fn a_bad_glob_is_named_in_the_error() {
        let err = IgnoreSet::new(&["ok/**".to_owned(), "bad/[".to_owned()]).unwrap_err();
        assert_eq!(err.pattern, "bad/[");
        assert!(err.to_string().contains("\"bad/[\""), "{err}");
    }

    #[test]
    fn none_ignores_nothing() {
        assert!(!IgnoreSet::none().is_ignored(""));
        assert!(!IgnoreSet::default().is_ignored("a"));
    }
}
