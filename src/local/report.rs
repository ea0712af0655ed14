//! What a local run found, across guards: one report, one exit code.
//!
//! Each guard contributes a [`GuardSection`]; the report prints them as
//! text (`path:line: message`, one per finding, like a compiler) or as one
//! JSON document, and turns them into the exit code: 0 clean, 1 findings.
//! [`run_guards`] is the single place where guards are run for
//! `seamguard scan` and `seamguard pre-push`, so a second guard joins both
//! commands by adding one section there; [`run_staged_guards`] is its
//! counterpart for `seamguard scan --staged`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::config::repo::RepoConfig;
use crate::gate::conflict_markers::IgnoreSet;
use crate::gate::merge_sources::{Finding as SourceFinding, MergeSourceReport};
use crate::ids::CommitSha;
use crate::local::git::Repo;
use crate::local::markers::{MarkerScan, Target, scan_conflict_markers};

/// One guard's part of a report.
pub trait GuardSection {
    /// The guard's name as the config spells it (`conflict_markers`).
    fn guard(&self) -> &'static str;
    fn finding_count(&self) -> usize;
    /// One line per finding, each starting with where it is (`path:line:`).
    fn finding_lines(&self) -> Vec<String>;
    /// One line saying what was checked, for people.
    fn summary(&self) -> String;
    /// The section as JSON: at least `findings`, an array.
    fn to_json(&self) -> Value;
}

impl GuardSection for MarkerScan {
    fn guard(&self) -> &'static str {
        "conflict_markers"
    }

    fn finding_count(&self) -> usize {
        self.findings.len()
    }

    fn finding_lines(&self) -> Vec<String> {
        self.findings.iter().map(ToString::to_string).collect()
    }

    fn summary(&self) -> String {
        let ignored = match self.files_ignored {
            0 => String::new(),
            n => format!(", {n} ignored by config"),
        };
        format!(
            "conflict markers: {} in {} scanned ({}{ignored})",
            self.findings.len(),
            plural(self.files_scanned, "file", "files"),
            plural_u64(self.bytes_scanned, "byte", "bytes"),
        )
    }

    fn to_json(&self) -> Value {
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                json!({
                    "path": f.path,
                    "line": f.line,
                    "kind": f.kind,
                    "marker": f.kind.marker(),
                    "message": f.kind.to_string(),
                })
            })
            .collect();
        json!({
            "findings": findings,
            "files_scanned": self.files_scanned,
            "bytes_scanned": self.bytes_scanned,
            "files_ignored": self.files_ignored,
        })
    }
}

/// `1 file`, `2 files`.
fn plural(n: usize, one: &str, many: &str) -> String {
    plural_u64(n as u64, one, many)
}

fn plural_u64(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// All guards' sections from one run.
#[derive(Default)]
pub struct Report {
    sections: Vec<Box<dyn GuardSection>>,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.sections.iter().map(|s| s.summary()))
            .finish()
    }
}

impl Report {
    pub fn push(&mut self, section: impl GuardSection + 'static) {
        self.sections.push(Box::new(section));
    }

    pub fn sections(&self) -> &[Box<dyn GuardSection>] {
        &self.sections
    }

    pub fn finding_count(&self) -> usize {
        self.sections.iter().map(|s| s.finding_count()).sum()
    }

    pub fn is_clean(&self) -> bool {
        self.finding_count() == 0
    }

    /// 0 when clean, 1 when any guard found something.
    pub fn exit_code(&self) -> ExitCode {
        if self.is_clean() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }

    /// Every finding of every guard, one per line.
    pub fn finding_lines(&self) -> Vec<String> {
        self.sections
            .iter()
            .flat_map(|s| s.finding_lines())
            .collect()
    }

    /// `{"clean": …, "findings": N, "guards": {"conflict_markers": {…}}}`.
    pub fn to_json(&self) -> Value {
        let guards: serde_json::Map<String, Value> = self
            .sections
            .iter()
            .map(|s| (s.guard().to_owned(), s.to_json()))
            .collect();
        json!({
            "clean": self.is_clean(),
            "findings": self.finding_count(),
            "guards": guards,
        })
    }
}

/// What the guards look at in one run.
#[derive(Debug, Clone)]
pub struct GuardRun<'a> {
    pub repo: &'a Repo,
    pub config: &'a RepoConfig,
    /// Which lines the conflict-marker guard reports.
    pub target: Target,
    /// The base branch's commit when there is one (`scan`'s `--base`, the
    /// upstream or `origin/HEAD`; the remote's old tip for `pre-push`).
    pub base: Option<CommitSha>,
    pub head: CommitSha,
}

/// Runs every enabled guard; the one place guards are wired in.
pub fn run_guards(run: &GuardRun<'_>) -> Result<Report> {
    let mut report = Report::default();

    let markers = &run.config.conflict_markers;
    if markers.enabled {
        let ignore = IgnoreSet::new(&markers.ignore)?;
        let scan = scan_conflict_markers(run.repo, &run.target, &ignore)
            .context("conflict-marker guard")?;
        report.push(scan);
    }

    let sources = &run.config.merge_sources;
    if sources.enabled {
        // Locally the pull request's target is not known: judge against the
        // given base (upstream, or the remote's old tip) and also allow the
        // remote's default branch, so "merged main in to update" passes
        // whatever the branch's upstream is.
        let default_branch = remote_default_branch(run.repo.root());
        let base = match (&run.base, &default_branch) {
            // Named when it is the default branch: the fix names it.
            (Some(base), Some((name, tip))) if base.as_str() == tip => {
                Some(format!("origin/{name}"))
            }
            (Some(base), _) => Some(base.to_string()),
            (None, Some((name, _))) => Some(format!("origin/{name}")),
            (None, None) => None,
        };
        if let Some(base) = base {
            // The default branch is where a pull request goes unless told
            // otherwise: merging it in, or rebasing onto it, is never
            // foreign history (pre-push judges against the remote's old tip,
            // which names no branch).
            let mut allowed = sources.allowed.clone();
            if let Some((name, _)) = &default_branch {
                allowed.push(name.clone());
            }
            let policy = crate::gate::merge_sources::MergeSourcePolicy {
                allowed,
                max_commits: sources.max_commits,
                long_lived: sources.long_lived.clone(),
            };
            let checked = crate::local::history::check_merge_sources(
                run.repo.root(),
                &base,
                run.head.as_str(),
                &policy,
            )
            .context("merge-source guard")?;
            report.push(checked);
        }
    }

    Ok(report)
}

/// The guards for what is staged (`seamguard scan --staged`, a pre-commit
/// hook): the conflict-marker guard on the lines the index adds compared
/// with `HEAD`. The merge-source guard has nothing to judge yet: staged
/// changes are no commit, and the merge commits being made are checked on
/// push.
pub fn run_staged_guards(repo: &Repo, config: &RepoConfig) -> Result<Report> {
    let mut report = Report::default();
    let markers = &config.conflict_markers;
    if markers.enabled {
        let ignore = IgnoreSet::new(&markers.ignore)?;
        let base = repo.resolve_commit("HEAD")?;
        let scan = scan_conflict_markers(repo, &Target::Staged { base }, &ignore)
            .context("conflict-marker guard")?;
        report.push(scan);
    }
    Ok(report)
}

/// The remote's default branch (`origin/HEAD` → `main`) and its tip.
fn remote_default_branch(root: &std::path::Path) -> Option<(String, String)> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let full = git(&["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"])?;
    let name = full.strip_prefix("refs/remotes/origin/")?.to_owned();
    let tip = git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        "refs/remotes/origin/HEAD^{commit}",
    ])?;
    Some((name, tip))
}

impl GuardSection for MergeSourceReport {
    fn guard(&self) -> &'static str {
        "merge_sources"
    }

    fn finding_count(&self) -> usize {
        self.findings.len()
    }

    /// `render_text` is: the verdict, one line per finding, then the commit
    /// count and the allowed sources.
    fn finding_lines(&self) -> Vec<String> {
        self.render_text()
            .into_iter()
            .skip(1)
            .take(self.findings.len())
            .collect()
    }

    fn summary(&self) -> String {
        self.render_text().join("; ")
    }

    fn to_json(&self) -> Value {
        let findings: Vec<Value> = self
            .findings
            .iter()
            .zip(self.finding_lines())
            .map(|(f, message)| match f {
                SourceFinding::Disallowed {
                    merge,
                    parent,
                    parent_branches,
                    brings_in,
                } => json!({
                    "kind": "disallowed_merge",
                    "merge": merge.sha.as_str(),
                    "subject": merge.subject,
                    "parent": parent.as_str(),
                    "parent_branches": parent_branches,
                    "brings_in": brings_in,
                    "message": message,
                }),
                SourceFinding::Unverifiable {
                    merge,
                    parent,
                    unknown,
                    ..
                } => json!({
                    "kind": "unverifiable_merge",
                    "merge": merge.sha.as_str(),
                    "parent": parent.as_str(),
                    "unknown": unknown.as_str(),
                    "message": message,
                }),
                SourceFinding::ForeignHistory {
                    branch,
                    fork_point,
                    brings_in,
                    own_commits,
                } => json!({
                    "kind": "foreign_history",
                    "branch": branch,
                    "fork_point": fork_point.as_str(),
                    "brings_in": brings_in,
                    "own_commits": own_commits,
                    "message": message,
                }),
                SourceFinding::TooManyCommits { total, max } => json!({
                    "kind": "too_many_commits",
                    "total": total,
                    "max": max,
                    "message": message,
                }),
            })
            .collect();
        json!({
            "findings": findings,
            "commits": self.commits.total,
            "first_parent_commits": self.commits.first_parent,
            "merges_checked": self.merges_checked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::conflict_markers::{Finding, Marker, MarkerKind};

    struct Other(usize);

    impl GuardSection for Other {
        fn guard(&self) -> &'static str {
            "other"
        }
        fn finding_count(&self) -> usize {
            self.0
        }
        fn finding_lines(&self) -> Vec<String> {
            (0..self.0).map(|i| format!("commit{i}: bad")).collect()
        }
        fn summary(&self) -> String {
            "other".to_owned()
        }
        fn to_json(&self) -> Value {
            json!({ "findings": self.0 })
        }
    }

    fn markers(n: u32) -> MarkerScan {
        MarkerScan {
            findings: (1..=n)
                .map(|line| {
                    Finding::new(
                        "a b.txt",
                        Marker {
                            line,
                            kind: MarkerKind::Ours,
                        },
                    )
                })
                .collect(),
            files_scanned: 2,
            bytes_scanned: 10,
            files_ignored: 1,
        }
    }

    #[test]
    fn a_second_guard_adds_to_output_and_exit_code() {
        let mut report = Report::default();
        report.push(markers(0));
        assert!(report.is_clean());
        assert_eq!(report.exit_code(), ExitCode::SUCCESS);

        report.push(Other(2));
        assert_eq!(report.finding_count(), 2);
        assert_eq!(report.exit_code(), ExitCode::from(1));
        assert_eq!(report.finding_lines(), ["commit0: bad", "commit1: bad"]);
        assert_eq!(report.to_json()["guards"]["other"]["findings"], 2);
        assert_eq!(report.to_json()["clean"], false);
    }

    #[test]
    fn marker_findings_render_as_text_and_json() {
        let scan = markers(1);
        assert_eq!(
            scan.finding_lines(),
            ["a b.txt:1: conflict marker <<<<<<< (start of a conflict, our side)"]
        );
        assert_eq!(
            scan.summary(),
            "conflict markers: 1 in 2 files scanned (10 bytes, 1 ignored by config)"
        );
        let one = MarkerScan {
            files_scanned: 1,
            bytes_scanned: 1,
            ..MarkerScan::default()
        };
        assert_eq!(
            one.summary(),
            "conflict markers: 0 in 1 file scanned (1 byte)"
        );
        insta::assert_snapshot!(serde_json::to_string_pretty(&scan.to_json()).unwrap(), @r#"
        {
          "bytes_scanned": 10,
          "files_ignored": 1,
          "files_scanned": 2,
          "findings": [
            {
              "kind": "ours",
              "line": 1,
              "marker": "<<<<<<<",
              "message": "conflict marker <<<<<<< (start of a conflict, our side)",
              "path": "a b.txt"
            }
          ]
        }
        "#);
    }
}
