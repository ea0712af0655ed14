//! Branch globs (`merge_sources.allowed`), with one meaning on every side:
//! `*` and `?` stay within one path segment (`release/*` matches
//! `release/1.2` but not `release/1.2/fix`), `**` crosses segments, `{a,b}`
//! and `[...]` work as in gitignore globs, and a name without glob characters
//! matches only itself. That is how GitHub's branch rules read `fnmatch`
//! patterns, so a pattern means the same here as in the repository settings.

use globset::{GlobBuilder, GlobMatcher};

use super::PatternMatch;

/// A configured glob that does not parse; it matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPattern {
    pub pattern: String,
    pub reason: String,
}

/// Compiled branch globs.
#[derive(Debug, Clone, Default)]
pub struct BranchPatterns {
    globs: Vec<String>,
    matchers: Vec<GlobMatcher>,
}

impl BranchPatterns {
    /// Compiles the globs; those that do not parse are returned apart and left out.
    pub fn new(patterns: &[String]) -> (Self, Vec<InvalidPattern>) {
        let mut compiled = Self::default();
        let mut invalid = Vec::new();
        for pattern in patterns {
            let built = GlobBuilder::new(pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build();
            match built {
                Ok(glob) => {
                    compiled.globs.push(pattern.clone());
                    compiled.matchers.push(glob.compile_matcher());
                }
                Err(err) => invalid.push(InvalidPattern {
                    pattern: pattern.clone(),
                    reason: err.kind().to_string(),
                }),
            }
        }
        (compiled, invalid)
    }

    /// The globs that compiled, in configured order.
    pub fn globs(&self) -> &[String] {
        &self.globs
    }

    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }

    /// Whether any glob matches the branch name.
    pub fn is_match(&self, branch: &str) -> bool {
        self.matchers.iter().any(|m| m.is_match(branch))
    }

    /// For each glob, the names it matches (sorted, deduplicated).
    pub fn group<'n>(&self, names: impl IntoIterator<Item = &'n str>) -> Vec<PatternMatch> {
        let names: Vec<&str> = names.into_iter().collect();
        self.globs
            .iter()
            .zip(&self.matchers)
            .map(|(glob, matcher)| {
                let mut branches: Vec<String> = names
                    .iter()
                    .filter(|name| matcher.is_match(name))
                    .map(|name| (*name).to_owned())
                    .collect();
                branches.sort();
                branches.dedup();
                PatternMatch {
                    pattern: glob.clone(),
                    branches,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(globs: &[&str]) -> (BranchPatterns, Vec<InvalidPattern>) {
        BranchPatterns::new(&globs.iter().map(|g| g.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn globs_stay_within_a_segment_unless_doubled() {
        let cases = [
            ("release/*", "release/1.2", true),
            ("release/*", "release/1.2/hotfix", false),
            ("release/*", "release", false),
            ("release/*", "prerelease/1.2", false),
            ("release/**", "release/1.2/hotfix", true),
            ("develop", "develop", true),
            ("develop", "develop2", false),
            ("develop", "feature/develop", false),
            ("{main,stable}", "stable", true),
            ("v[0-9]*", "v2", true),
            ("v[0-9]*", "vx", false),
            ("hotfix-?", "hotfix-a", true),
        ];
        for (glob, name, expected) in cases {
            let (p, invalid) = patterns(&[glob]);
            assert!(invalid.is_empty(), "{glob}");
            assert_eq!(p.is_match(name), expected, "{glob} vs {name}");
        }
    }

    #[test]
    fn invalid_globs_are_reported_and_match_nothing() {
        let (p, invalid) = patterns(&["release/[", "develop"]);
        assert_eq!(p.globs(), ["develop"]);
        assert_eq!(invalid.len(), 1);
        assert_eq!(invalid[0].pattern, "release/[");
        assert!(!invalid[0].reason.is_empty());
        assert!(!p.is_match("release/["));
    }

    #[test]
    fn group_says_what_each_glob_matched() {
        let (p, _) = patterns(&["release/*", "hotfix/*"]);
        let groups = p.group(["release/2", "release/1", "develop", "release/1"]);
        assert_eq!(groups[0].pattern, "release/*");
        assert_eq!(groups[0].branches, ["release/1", "release/2"]);
        assert_eq!(groups[1].pattern, "hotfix/*");
        assert!(groups[1].branches.is_empty());
    }

    #[test]
    fn no_globs_match_nothing() {
        let (p, _) = patterns(&[]);
        assert!(p.is_empty());
        assert!(!p.is_match("main"));
    }
}
