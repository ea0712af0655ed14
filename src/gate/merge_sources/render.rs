//! What people read: the check-run summary section (Markdown) and the CLI
//! lines. Wording lives only here, and tests pin it with snapshots.
//!
//! Everything that came from a repository (subjects, branch names) is
//! escaped: a subject may hold `|` or `<`, and a branch name may hold a
//! backtick, and neither may break the table or inject markup.

use std::fmt::Write as _;

use super::{AllowedBy, AllowedSources, CommitCount, Finding, MergeCommit, MergeSourceReport};
use crate::ids::CommitSha;

/// Table rows shown in the summary; beyond this the rest are counted. A
/// check-run summary is capped at 65,535 characters and is read on one screen.
pub const MAX_TABLE_ROWS: usize = 20;

/// Subjects are cut here: a table cell wider than a commit subject's usual
/// 72 columns pushes the verdict off the screen.
pub const SUBJECT_MAX_CHARS: usize = 72;

/// Branch names listed per allowed pattern before the rest are counted.
pub const MAX_BRANCHES_PER_PATTERN: usize = 5;

impl MergeSourceReport {
    /// The check-run summary section: verdict, a short table of findings,
    /// the commit count (and drift), and the allowed sources.
    pub fn render_markdown(&self) -> String {
        let mut out = String::new();
        let verdict = if self.passed() { "passed" } else { "failed" };
        let _ = writeln!(out, "#### Merge sources: {verdict}\n");

        let merge_findings: Vec<&Finding> = self
            .findings
            .iter()
            .filter(|f| f.is_about_a_merge())
            .collect();
        for finding in &self.findings {
            if let Finding::ForeignHistory {
                branch,
                fork_point,
                brings_in,
                own_commits,
            } = finding
            {
                let base = &self.sources.base_ref;
                let _ = writeln!(
                    out,
                    "**Foreign history:** this branch was cut from {} at {}: it brings {} of {} onto {}. Rebase your {} onto {} ({}), or retarget the pull request to {}.\n",
                    code(branch),
                    code(fork_point.short()),
                    commits_n(*brings_in),
                    code(branch),
                    code(base),
                    commits_n(*own_commits),
                    code(base),
                    code(&rebase_command(base, fork_point)),
                    code(branch),
                );
            }
        }
        if !merge_findings.is_empty() {
            out.push_str("| merge | parent | from | brings in | why it fails |\n");
            out.push_str("| --- | --- | --- | --- | --- |\n");
            for finding in merge_findings.iter().take(MAX_TABLE_ROWS) {
                out.push_str(&self.table_row(finding));
            }
            if merge_findings.len() > MAX_TABLE_ROWS {
                let more = merge_findings.len() - MAX_TABLE_ROWS;
                let _ = writeln!(out, "\n…and {more} more.");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "{}\n", self.merges_sentence_markdown());

        for finding in &self.findings {
            if let Finding::TooManyCommits { total, max } = finding {
                let _ = writeln!(
                    out,
                    "**Too many commits:** this PR carries {}, above `merge_sources.max_commits` ({}).\n",
                    thousands(*total),
                    thousands(*max),
                );
            }
        }
        let _ = writeln!(out, "{}\n", commits_sentence_markdown(&self.commits));
        let _ = writeln!(out, "Allowed sources: {}.", sources_markdown(&self.sources));
        out
    }

    /// The CLI form: one self-contained line per finding, then the commit
    /// count and the allowed sources. Lines carry no prefix or colour.
    pub fn render_text(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let merges = plural(self.merges_checked, "merge commit", "merge commits");
        if self.passed() {
            lines.push(format!("merge sources: passed ({merges} checked)"));
        } else {
            let problems = plural(self.findings.len() as u64, "problem", "problems");
            lines.push(format!(
                "merge sources: failed: {problems} ({merges} checked)"
            ));
        }
        let base = &self.sources.base_ref;
        for finding in &self.findings {
            lines.push(match finding {
                Finding::Disallowed {
                    merge,
                    parent,
                    parent_branches,
                    brings_in,
                } => {
                    let from = if parent_branches.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", parent_branches.join(", "))
                    };
                    let brings = match brings_in {
                        Some(n) => format!("; it brings in {}", plural(*n, "commit", "commits")),
                        None => String::new(),
                    };
                    format!(
                        "disallowed merge {}: parent {}{from} is not in the history of {base} or an allowed branch{brings}",
                        merge_text(merge),
                        parent.short(),
                    )
                }
                Finding::Unverifiable {
                    merge,
                    parent,
                    unknown,
                    unknown_is_base,
                } => {
                    let why = if *unknown_is_base {
                        format!(
                            "the base tip {} of {base} is unknown (was {base} deleted or force-pushed?)",
                            unknown.short()
                        )
                    } else {
                        format!("commit {} is unknown to the repository", unknown.short())
                    };
                    format!(
                        "unverifiable merge {}: parent {} cannot be checked: {why}",
                        merge_text(merge),
                        parent.short(),
                    )
                }
                Finding::ForeignHistory {
                    branch,
                    fork_point,
                    brings_in,
                    own_commits,
                } => format!(
                    "foreign history: this branch was cut from {branch} at {} and brings {} of {branch} onto {base}: rebase your {} onto {base} ({}), or retarget the pull request to {branch}",
                    fork_point.short(),
                    plural(*brings_in, "commit", "commits"),
                    plural(*own_commits, "commit", "commits"),
                    rebase_command(base, fork_point),
                ),
                Finding::TooManyCommits { total, max } => {
                    format!("too many commits: {total}, above merge_sources.max_commits ({max})")
                }
            });
        }
        let count = &self.commits;
        let mut commits = format!(
            "{} in this branch, {} on its own first-parent line",
            plural(count.total, "commit", "commits"),
            count.first_parent
        );
        if count.drifted() {
            let _ = write!(
                commits,
                "; drift: {} came in from other lines",
                count.foreign()
            );
        }
        lines.push(commits);
        lines.push(format!("allowed sources: {}", sources_text(&self.sources)));
        lines
    }

    fn table_row(&self, finding: &Finding) -> String {
        let base = code(&self.sources.base_ref);
        let (merge, parent, from, brings, why) = match finding {
            Finding::Disallowed {
                merge,
                parent,
                parent_branches,
                brings_in,
            } => (
                merge,
                parent,
                branch_list(parent_branches),
                brings_in.map_or_else(|| "unknown".to_owned(), commits_n),
                format!("not in the history of {base} or an allowed branch"),
            ),
            Finding::Unverifiable {
                merge,
                parent,
                unknown,
                unknown_is_base,
            } => (
                merge,
                parent,
                "?".to_owned(),
                "?".to_owned(),
                if *unknown_is_base {
                    format!(
                        "cannot be verified: the base tip {} is unknown (was {base} deleted or force-pushed?)",
                        code(unknown.short())
                    )
                } else {
                    format!(
                        "cannot be verified: commit {} is unknown",
                        code(unknown.short())
                    )
                },
            ),
            Finding::ForeignHistory { .. } | Finding::TooManyCommits { .. } => {
                return String::new();
            }
        };
        let cells = [
            format!(
                "{} {}",
                code(merge.sha.short()),
                escape_text(&subject(merge))
            ),
            code(parent.short()),
            from,
            brings,
            why,
        ];
        let mut row = String::from("|");
        for cell in cells {
            let _ = write!(row, " {} |", cell.replace('|', "\\|"));
        }
        row.push('\n');
        row
    }

    fn merges_sentence_markdown(&self) -> String {
        if self.merges_checked == 0 {
            return "No merge commits in this PR.".to_owned();
        }
        let (mut base, mut own, mut allowed) = (0u64, 0u64, 0u64);
        for merge in &self.allowed_merges {
            match merge.by {
                AllowedBy::Base => base += 1,
                AllowedBy::OwnLine => own += 1,
                AllowedBy::AllowedBranch(_) => allowed += 1,
            }
        }
        let mut parts = Vec::new();
        if base > 0 {
            parts.push(format!("{base} from the base"));
        }
        if own > 0 {
            parts.push(format!("{own} from the PR's own line"));
        }
        if allowed > 0 {
            parts.push(format!("{allowed} from allowed branches"));
        }
        let checked = format!(
            "Checked {}",
            plural(self.merges_checked, "merge commit", "merge commits")
        );
        if parts.is_empty() {
            format!("{checked}.")
        } else {
            format!("{checked}; parents allowed: {}.", parts.join(", "))
        }
    }
}

impl Finding {
    /// Whether the finding is about one merge commit (a row of the table).
    fn is_about_a_merge(&self) -> bool {
        matches!(
            self,
            Finding::Disallowed { .. } | Finding::Unverifiable { .. }
        )
    }
}

/// The command that moves the PR's own commits (those after `fork_point`) onto the base.
fn rebase_command(base: &str, fork_point: &CommitSha) -> String {
    format!("git rebase --onto {base} {}", fork_point.short())
}

fn commits_sentence_markdown(count: &CommitCount) -> String {
    let mut s = format!(
        "This PR carries {}, {} on its own first-parent line.",
        commits_n(count.total),
        thousands(count.first_parent)
    );
    if count.drifted() {
        let _ = write!(
            s,
            " **Drift:** {} came in from other lines.",
            thousands(count.foreign())
        );
    }
    s
}

fn sources_markdown(sources: &AllowedSources) -> String {
    let mut parts = vec![format!("{} (the base)", code(&sources.base_ref))];
    match &sources.resolved {
        None => parts.extend(
            sources
                .patterns
                .iter()
                .filter(|p| !sources.invalid.iter().any(|i| &i.pattern == *p))
                .map(|p| format!("{} (not needed)", code(p))),
        ),
        Some(groups) => parts.extend(groups.iter().map(|g| {
            if g.branches.is_empty() {
                format!("{} matched no branch", code(&g.pattern))
            } else {
                format!("{}: {}", code(&g.pattern), branch_list(&g.branches))
            }
        })),
    }
    parts.extend(sources.invalid.iter().map(|i| {
        format!(
            "{} is not a valid glob ({})",
            code(&i.pattern),
            escape_text(&i.reason)
        )
    }));
    parts.join("; ")
}

fn sources_text(sources: &AllowedSources) -> String {
    let mut parts = vec![format!("{} (the base)", sources.base_ref)];
    match &sources.resolved {
        None => parts.extend(
            sources
                .patterns
                .iter()
                .filter(|p| !sources.invalid.iter().any(|i| &i.pattern == *p))
                .map(|p| format!("{p} (not needed)")),
        ),
        Some(groups) => parts.extend(groups.iter().map(|g| {
            if g.branches.is_empty() {
                format!("{} matched no branch", g.pattern)
            } else {
                format!("{} -> {}", g.pattern, g.branches.join(", "))
            }
        })),
    }
    parts.extend(
        sources
            .invalid
            .iter()
            .map(|i| format!("{} is not a valid glob ({})", i.pattern, i.reason)),
    );
    parts.join("; ")
}

fn merge_text(merge: &MergeCommit) -> String {
    format!("{} {:?}", merge.sha.short(), subject(merge))
}

/// The subject's first line, cut to [`SUBJECT_MAX_CHARS`].
fn subject(merge: &MergeCommit) -> String {
    let line = merge.subject.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= SUBJECT_MAX_CHARS {
        line.to_owned()
    } else {
        let mut cut: String = line.chars().take(SUBJECT_MAX_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

fn branch_list(branches: &[String]) -> String {
    if branches.is_empty() {
        return "—".to_owned();
    }
    let mut shown: Vec<String> = branches
        .iter()
        .take(MAX_BRANCHES_PER_PATTERN)
        .map(|b| code(b))
        .collect();
    if branches.len() > MAX_BRANCHES_PER_PATTERN {
        shown.push(format!(
            "+{} more",
            branches.len() - MAX_BRANCHES_PER_PATTERN
        ));
    }
    shown.join(", ")
}

/// A Markdown code span that survives backticks in `s`.
fn code(s: &str) -> String {
    let longest_run = s
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    let fence = "`".repeat(longest_run + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// Plain text with Markdown's active characters escaped. `|` is left to the
/// table-cell step, which escapes it everywhere in a cell (code spans too).
fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~' | '#' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn commits_n(n: u64) -> String {
    format!(
        "{} {}",
        thousands(n),
        if n == 1 { "commit" } else { "commits" }
    )
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `1468` → `1,468`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (1_468, "1,468"),
            (1_234_567, "1,234,567"),
        ];
        for (n, s) in cases {
            assert_eq!(thousands(n), s);
        }
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("main"), "`main`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
    }

    #[test]
    fn text_escapes_markup() {
        assert_eq!(
            escape_text("Merge <b>x</b> *now*"),
            r"Merge \<b\>x\</b\> \*now\*"
        );
    }

    #[test]
    fn subjects_are_one_line_and_cut() {
        let merge = |subject: &str| MergeCommit {
            sha: "a".repeat(40).parse().unwrap(),
            subject: subject.to_owned(),
        };
        assert_eq!(subject(&merge("first\nsecond")), "first");
        let long = "x".repeat(100);
        let cut = subject(&merge(&long));
        assert_eq!(cut.chars().count(), SUBJECT_MAX_CHARS);
        assert!(cut.ends_with('…'));
    }
}
