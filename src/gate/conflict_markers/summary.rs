//! The conflict-marker section of the check run summary (user-facing text).
//!
//! Findings are grouped by file in the order they come, counted, and shown
//! as a table capped at [`SUMMARY_MAX_FILES`] rows with an "and N more" row;
//! every single finding still reaches the reader as an annotation. Paths are
//! printed as code spans made safe for a GitHub table cell (pipes escaped,
//! backticks fenced, line breaks shown as `\n`).

use std::fmt::Write as _;

use super::Finding;

/// Rows in the summary table: a summary is read at a glance, and the
/// annotations (one per finding) carry the rest.
pub const SUMMARY_MAX_FILES: usize = 20;

/// Line numbers listed per file before "…": enough to find a small conflict.
const LINES_PER_FILE: usize = 5;

/// Renders the Markdown section for `findings` (empty: a one-line all clear).
pub fn render_markdown(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "**Conflict markers:** none added.\n".to_owned();
    }
    let mut files: Vec<(&str, Vec<u32>)> = Vec::new();
    for f in findings {
        match files.iter_mut().find(|(path, _)| *path == f.path) {
            Some((_, lines)) => lines.push(f.line),
            None => files.push((&f.path, vec![f.line])),
        }
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "**Conflict markers:** {} added in {}.\n",
        plural(findings.len(), "marker"),
        plural(files.len(), "file"),
    );
    out.push_str("| file | markers | lines |\n|---|---:|---|\n");
    for (path, lines) in files.iter().take(SUMMARY_MAX_FILES) {
        let mut shown: Vec<String> = lines
            .iter()
            .take(LINES_PER_FILE)
            .map(u32::to_string)
            .collect();
        if lines.len() > LINES_PER_FILE {
            shown.push("…".to_owned());
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            code_cell(path),
            lines.len(),
            shown.join(", ")
        );
    }
    if files.len() > SUMMARY_MAX_FILES {
        let rest = &files[SUMMARY_MAX_FILES..];
        let markers: usize = rest.iter().map(|(_, l)| l.len()).sum();
        let noun = if rest.len() == 1 { "file" } else { "files" };
        let _ = writeln!(out, "| … and {} more {noun} | {markers} | |", rest.len());
    }
    out
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A path as a code span that survives a GFM table cell.
fn code_cell(path: &str) -> String {
    let path = path
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .replace('|', "\\|");
    let longest_run = path.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    let pad = if path.starts_with('`') || path.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{path}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::conflict_markers::MarkerKind;

    fn finding(path: &str, line: u32) -> Finding {
        Finding {
            path: path.to_owned(),
            line,
            kind: MarkerKind::Ours,
        }
    }

    #[test]
    fn clean_is_one_line() {
        insta::assert_snapshot!(render_markdown(&[]), @"**Conflict markers:** none added.");
    }

    #[test]
    fn files_and_counts_in_order_of_appearance() {
        let findings = [
            finding("src/lib.rs", 10),
            finding("src/lib.rs", 12),
            finding("src/lib.rs", 15),
            finding("docs/guide.md", 4),
        ];
        insta::assert_snapshot!(render_markdown(&findings), @r"
        **Conflict markers:** 4 markers added in 2 files.

        | file | markers | lines |
        |---|---:|---|
        | `src/lib.rs` | 3 | 10, 12, 15 |
        | `docs/guide.md` | 1 | 4 |
        ");
    }

    #[test]
    fn one_marker_is_singular_and_long_line_lists_are_cut() {
        insta::assert_snapshot!(render_markdown(&[finding("a", 1)]), @r"
        **Conflict markers:** 1 marker added in 1 file.

        | file | markers | lines |
        |---|---:|---|
        | `a` | 1 | 1 |
        ");
        let many: Vec<Finding> = (1..=7).map(|l| finding("big.txt", l)).collect();
        assert!(render_markdown(&many).contains("| `big.txt` | 7 | 1, 2, 3, 4, 5, … |"));
    }

    #[test]
    fn capped_with_and_n_more() {
        let findings: Vec<Finding> = (0..SUMMARY_MAX_FILES + 3)
            .flat_map(|i| {
                [
                    finding(&format!("f{i:02}.txt"), 1),
                    finding(&format!("f{i:02}.txt"), 9),
                ]
            })
            .collect();
        let md = render_markdown(&findings);
        assert_eq!(md.matches("\n| `f").count(), SUMMARY_MAX_FILES, "{md}");
        assert!(
            md.contains("`f19.txt`") && !md.contains("`f20.txt`"),
            "{md}"
        );
        assert!(md.ends_with("| … and 3 more files | 6 | |\n"), "{md}");
        assert!(md.starts_with("**Conflict markers:** 46 markers added in 23 files."));
    }

    #[test]
    fn awkward_paths_stay_inside_their_cell() {
        let md = render_markdown(&[
            finding("a|b`c.md", 1),
            finding("`tick", 2),
            finding("new\nline", 3),
        ]);
        assert!(md.contains("| ``a\\|b`c.md`` | 1 | 1 |"), "{md}");
        assert!(md.contains("| `` `tick `` | 1 | 2 |"), "{md}");
        assert!(md.contains("| `new\\nline` | 1 | 3 |"), "{md}");
    }
}
