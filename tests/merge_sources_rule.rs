//! The merge-source rule on hand-built commit graphs: the cases from the
//! incident and the issue's bad inputs, the questions each case costs, the
//! rendered summary, and properties over random graphs.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures::executor::block_on;
use proptest::prelude::*;
use seamguard::gate::merge_sources::{
    AllowedBy, CommitGraph, Finding, ForeignCheck, GraphError, MergeSourcePolicy,
    MergeSourceReport, PatternMatch, PrCommit, PrHistory, check,
};
use seamguard::ids::CommitSha;
use sha2::{Digest, Sha256};

/// A SHA derived from a readable name, so tests speak in names.
fn sha(name: &str) -> CommitSha {
    hex::encode(Sha256::digest(name.as_bytes()))[..40]
        .parse()
        .unwrap()
}

/// A commit graph in memory, built by name.
#[derive(Debug, Clone, Default)]
struct Repo {
    /// In creation order, so parents always come first.
    order: Vec<String>,
    parents: HashMap<String, Vec<String>>,
    subjects: HashMap<String, String>,
    branches: Vec<(String, String)>,
}

impl Repo {
    fn commit(&mut self, name: &str, parents: &[&str]) -> &mut Self {
        let subject = if parents.len() > 1 {
            format!("Merge {} into {}", parents[1..].join(", "), parents[0])
        } else {
            format!("Work {name}")
        };
        self.commit_with(name, parents, &subject)
    }

    fn commit_with(&mut self, name: &str, parents: &[&str], subject: &str) -> &mut Self {
        for p in parents {
            assert!(
                self.parents.contains_key(*p),
                "parent {p} of {name} is not built yet"
            );
        }
        self.order.push(name.to_owned());
        self.parents.insert(
            name.to_owned(),
            parents.iter().map(|p| p.to_string()).collect(),
        );
        self.subjects.insert(name.to_owned(), subject.to_owned());
        self
    }

    /// A line of `n` commits `prefix1..prefixN` on top of `from`.
    fn line(&mut self, prefix: &str, from: &str, n: usize) -> String {
        let mut at = from.to_owned();
        for i in 1..=n {
            let name = format!("{prefix}{i}");
            self.commit(&name, &[&at]);
            at = name;
        }
        at
    }

    fn branch(&mut self, branch: &str, at: &str) -> &mut Self {
        self.branches.push((branch.to_owned(), at.to_owned()));
        self
    }

    fn ancestors(&self, of: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut stack = vec![of.to_owned()];
        while let Some(c) = stack.pop() {
            if seen.insert(c.clone()) {
                stack.extend(self.parents[&c].iter().cloned());
            }
        }
        seen
    }

    /// The PR `base..head`, as both implementations build it: everything
    /// reachable from head and not from base, oldest first.
    fn pr(&self, base: &str, head: &str) -> PrHistory {
        let (in_base, in_head) = (self.ancestors(base), self.ancestors(head));
        let commits: Vec<PrCommit> = self
            .order
            .iter()
            .filter(|c| in_head.contains(*c) && !in_base.contains(*c))
            .map(|c| PrCommit {
                sha: sha(c),
                parents: self.parents[c].iter().map(|p| sha(p)).collect(),
                subject: self.subjects[c].clone(),
            })
            .collect();
        PrHistory {
            base_ref: "main".to_owned(),
            base_tip: sha(base),
            head: sha(head),
            total_commits: commits.len() as u64,
            commits,
        }
    }

    fn graph(&self) -> MemGraph {
        MemGraph {
            repo: self.clone(),
            names: self.order.iter().map(|n| (sha(n), n.clone())).collect(),
            unknown: HashSet::new(),
            transport_error: false,
            asked: Vec::new(),
        }
    }
}

/// The in-memory [`CommitGraph`]: answers from a [`Repo`], logs each
/// question by name, and can play an unknown commit or a broken transport.
struct MemGraph {
    repo: Repo,
    names: HashMap<CommitSha, String>,
    unknown: HashSet<CommitSha>,
    transport_error: bool,
    asked: Vec<String>,
}

impl MemGraph {
    fn name(&self, sha: &CommitSha) -> Result<String, GraphError> {
        if self.transport_error {
            return Err(GraphError::Other("socket connection was closed".into()));
        }
        match self.names.get(sha) {
            Some(name) if !self.unknown.contains(sha) => Ok(name.clone()),
            _ => Err(GraphError::UnknownCommit(sha.clone())),
        }
    }

    fn forget(&mut self, name: &str) {
        self.unknown.insert(sha(name));
    }

    /// A best common ancestor; the smallest name among several, so answers are stable.
    fn best_common(&self, a: &str, b: &str) -> Option<String> {
        let common: BTreeSet<String> = self
            .repo
            .ancestors(a)
            .intersection(&self.repo.ancestors(b))
            .cloned()
            .collect();
        common
            .iter()
            .find(|c| {
                !common
                    .iter()
                    .any(|d| d != *c && self.repo.ancestors(d).contains(*c))
            })
            .cloned()
    }
}

impl CommitGraph for MemGraph {
    async fn merge_base(
        &mut self,
        a: &CommitSha,
        b: &CommitSha,
    ) -> Result<Option<CommitSha>, GraphError> {
        let (a, b) = (self.name(a)?, self.name(b)?);
        self.asked.push(format!("merge_base {a} {b}"));
        Ok(self.best_common(&a, &b).map(|c| sha(&c)))
    }

    async fn is_ancestor(
        &mut self,
        ancestor: &CommitSha,
        descendant: &CommitSha,
    ) -> Result<bool, GraphError> {
        let (a, d) = (self.name(ancestor)?, self.name(descendant)?);
        self.asked.push(format!("is_ancestor {a} {d}"));
        Ok(self.repo.ancestors(&d).contains(&a))
    }

    async fn count_new(&mut self, exclude: &CommitSha, tip: &CommitSha) -> Result<u64, GraphError> {
        let (e, t) = (self.name(exclude)?, self.name(tip)?);
        self.asked.push(format!("count_new {e} {t}"));
        let excluded = self.repo.ancestors(&e);
        Ok(self.repo.ancestors(&t).difference(&excluded).count() as u64)
    }

    async fn branches_matching(
        &mut self,
        globs: &[String],
    ) -> Result<Vec<(String, CommitSha)>, GraphError> {
        if self.transport_error {
            return Err(GraphError::Other("socket connection was closed".into()));
        }
        self.asked
            .push(format!("branches_matching {}", globs.join(",")));
        let (patterns, _) = seamguard::gate::merge_sources::BranchPatterns::new(globs);
        Ok(self
            .repo
            .branches
            .iter()
            .filter(|(b, _)| patterns.is_match(b))
            .map(|(b, at)| (b.clone(), sha(at)))
            .collect())
    }

    async fn commits_between(
        &mut self,
        exclude: &CommitSha,
        tip: &CommitSha,
        limit: u64,
    ) -> Result<Option<Vec<PrCommit>>, GraphError> {
        let (e, t) = (self.name(exclude)?, self.name(tip)?);
        self.asked.push(format!("commits_between {e} {t}"));
        let excluded = self.repo.ancestors(&e);
        let beyond: Vec<PrCommit> = self
            .repo
            .ancestors(&t)
            .difference(&excluded)
            .map(|c| PrCommit {
                sha: sha(c),
                parents: self.repo.parents[c].iter().map(|p| sha(p)).collect(),
                subject: self.repo.subjects[c].clone(),
            })
            .collect();
        Ok((beyond.len() as u64 <= limit).then_some(beyond))
    }

    async fn branches_at(&mut self, at: &CommitSha) -> Result<Vec<String>, GraphError> {
        let name = self.name(at)?;
        self.asked.push(format!("branches_at {name}"));
        Ok(self
            .repo
            .branches
            .iter()
            .filter(|(_, tip)| *tip == name)
            .map(|(b, _)| b.clone())
            .collect())
    }
}

fn policy(allowed: &[&str], max_commits: Option<u64>) -> MergeSourcePolicy {
    MergeSourcePolicy {
        allowed: allowed.iter().map(|s| s.to_string()).collect(),
        max_commits,
        ..MergeSourcePolicy::default()
    }
}

fn run(pr: &PrHistory, policy: &MergeSourcePolicy, graph: &mut MemGraph) -> MergeSourceReport {
    block_on(check(pr, policy, graph)).expect("the in-memory graph has no transport")
}

/// A finding in names: (kind, merge, parent, detail).
fn findings(repo: &Repo, report: &MergeSourceReport) -> Vec<String> {
    let name = |s: &CommitSha| {
        repo.order
            .iter()
            .find(|n| sha(n) == *s)
            .cloned()
            .unwrap_or_else(|| s.short().to_owned())
    };
    report
        .findings
        .iter()
        .map(|f| match f {
            Finding::Disallowed {
                merge,
                parent,
                parent_branches,
                brings_in,
            } => format!(
                "disallowed {} {} from [{}] brings {}",
                name(&merge.sha),
                name(parent),
                parent_branches.join(","),
                brings_in.map_or("?".to_owned(), |n| n.to_string()),
            ),
            Finding::Unverifiable {
                merge,
                parent,
                unknown,
                unknown_is_base,
            } => format!(
                "unverifiable {} {} unknown {}{}",
                name(&merge.sha),
                name(parent),
                name(unknown),
                if *unknown_is_base { " (base)" } else { "" }
            ),
            Finding::ForeignHistory {
                branch,
                fork_point,
                brings_in,
                own_commits,
            } => format!(
                "foreign from {branch} at {} brings {brings_in} own {own_commits}",
                name(fork_point)
            ),
            Finding::TooManyCommits { total, max } => format!("too many {total} > {max}"),
        })
        .collect()
}

fn allowed_by(report: &MergeSourceReport) -> Vec<AllowedBy> {
    report.allowed_merges.iter().map(|m| m.by.clone()).collect()
}

/// main: B0 - B1 - B2 (tip); develop: D1..D5 from B0, tagged `develop`;
/// release/1.2: R1 - R2 from B1. Features are built on top per case.
fn world() -> Repo {
    let mut repo = Repo::default();
    repo.commit("B0", &[])
        .commit("B1", &["B0"])
        .commit("B2", &["B1"]);
    let d = repo.line("D", "B0", 5);
    let r = repo.line("R", "B1", 2);
    repo.branch("main", "B2")
        .branch("develop", &d)
        .branch("release/1.2", &r);
    repo
}

struct Case {
    name: &'static str,
    build: fn(&mut Repo) -> &'static str,
    allowed: &'static [&'static str],
    findings: &'static [&'static str],
    allowed_by: Vec<AllowedBy>,
    questions: &'static [&'static str],
}

#[test]
fn the_rule_on_hand_built_graphs() {
    let cases = [
        Case {
            name: "merging develop into a PR for main is blocked",
            build: |r| {
                r.commit("F1", &["B1"]).commit_with(
                    "M",
                    &["F1", "D5"],
                    "Merge branch 'develop' into feature",
                );
                "M"
            },
            allowed: &[],
            findings: &["disallowed M D5 from [develop] brings 5"],
            allowed_by: vec![],
            // D5 is listed, so ask; the fork point B0 is not listed, so it
            // is in the base for free; no allowed patterns, so no listing.
            questions: &[
                "is_ancestor D5 B2",
                "merge_base F1 D5",
                "branches_at D5",
                "count_new F1 D5",
            ],
        },
        Case {
            name: "merging main in to update is allowed without a question",
            build: |r| {
                r.commit("F1", &["B1"])
                    .commit("M", &["F1", "B1"])
                    .commit("F2", &["M"]);
                "F2"
            },
            allowed: &[],
            findings: &[],
            allowed_by: vec![AllowedBy::Base],
            questions: &[],
        },
        Case {
            name: "a git pull of the same branch is the PR's own line",
            build: |r| {
                r.commit("F1", &["B1"])
                    .commit("L1", &["F1"])
                    .commit("U1", &["F1"])
                    .commit_with(
                        "M",
                        &["L1", "U1"],
                        "Merge branch 'feature' of origin into feature",
                    );
                "M"
            },
            allowed: &[],
            findings: &[],
            allowed_by: vec![AllowedBy::OwnLine],
            questions: &["is_ancestor U1 B2", "merge_base L1 U1", "is_ancestor F1 B2"],
        },
        Case {
            name: "merging the tip of an allowed release branch is allowed",
            build: |r| {
                r.commit("F1", &["B1"]).commit("M", &["F1", "R2"]);
                "M"
            },
            allowed: &["release/*"],
            findings: &[],
            allowed_by: vec![AllowedBy::AllowedBranch("release/1.2".into())],
            // The tip is the parent itself: no ancestry question for it.
            questions: &[
                "is_ancestor R2 B2",
                "merge_base F1 R2",
                "branches_matching release/*",
            ],
        },
        Case {
            name: "an older commit of an allowed branch is allowed",
            build: |r| {
                r.commit("F1", &["B1"]).commit("M", &["F1", "R1"]);
                "M"
            },
            allowed: &["hotfix/*", "release/*"],
            findings: &[],
            allowed_by: vec![AllowedBy::AllowedBranch("release/1.2".into())],
            questions: &[
                "is_ancestor R1 B2",
                "merge_base F1 R1",
                "branches_matching hotfix/*,release/*",
                "is_ancestor R1 R2",
            ],
        },
        Case {
            name: "an octopus with one bad parent is blocked for that parent only",
            build: |r| {
                r.commit("F1", &["B1"])
                    .commit("M", &["F1", "B2", "D3", "R2"]);
                "M"
            },
            allowed: &["release/*"],
            findings: &["disallowed M D3 from [] brings 3"],
            allowed_by: vec![
                AllowedBy::Base,
                AllowedBy::AllowedBranch("release/1.2".into()),
            ],
            questions: &[
                "is_ancestor D3 B2",
                "merge_base F1 D3",
                "branches_matching release/*",
                "is_ancestor D3 R2",
                "branches_at D3",
                "count_new F1 D3",
                "is_ancestor R2 B2",
                "merge_base F1 R2",
            ],
        },
        Case {
            name: "a merge whose parent is the base tip costs nothing",
            build: |r| {
                r.commit("F1", &["B0"]).commit("M", &["F1", "B2"]);
                "M"
            },
            allowed: &[],
            findings: &[],
            allowed_by: vec![AllowedBy::Base],
            questions: &[],
        },
        Case {
            name: "allowed patterns that match nothing do not allow anything",
            build: |r| {
                r.commit("F1", &["B1"]).commit("M", &["F1", "D5"]);
                "M"
            },
            allowed: &["hotfix/*"],
            findings: &["disallowed M D5 from [develop] brings 5"],
            allowed_by: vec![],
            questions: &[
                "is_ancestor D5 B2",
                "merge_base F1 D5",
                "branches_matching hotfix/*",
                "branches_at D5",
                "count_new F1 D5",
            ],
        },
        Case {
            name: "the same foreign parent merged twice is asked about once",
            build: |r| {
                r.commit("F1", &["B1"])
                    .commit("M1", &["F1", "D5"])
                    .commit("F2", &["F1"])
                    .commit("M2", &["F2", "D5"])
                    .commit("H", &["M2", "M1"]);
                "H"
            },
            allowed: &[],
            findings: &[
                "disallowed M1 D5 from [develop] brings 5",
                "disallowed M2 D5 from [develop] brings 5",
            ],
            allowed_by: vec![AllowedBy::OwnLine],
            questions: &[
                "is_ancestor D5 B2",
                "merge_base F1 D5",
                "branches_at D5",
                "count_new F1 D5",
                "merge_base F2 D5",
                "branches_at D5",
                "count_new F2 D5",
                // H merges the PR's two lines: M1 is not in the base, and
                // their fork point D5 is already known not to be.
                "is_ancestor M1 B2",
                "merge_base M2 M1",
            ],
        },
        Case {
            name: "a merge of unrelated history is not the PR's own line",
            build: |r| {
                r.commit("X1", &[]).commit("F1", &["B1"]).commit_with(
                    "M",
                    &["F1", "X1"],
                    "Merge other project",
                );
                "M"
            },
            allowed: &[],
            findings: &["disallowed M X1 from [] brings 1"],
            allowed_by: vec![],
            questions: &[
                "is_ancestor X1 B2",
                "merge_base F1 X1",
                "branches_at X1",
                "count_new F1 X1",
            ],
        },
        Case {
            name: "the PR's own branch never vouches for what it merged",
            build: |r| {
                r.commit("F1", &["B1"])
                    .commit("M", &["F1", "D5"])
                    .branch("feature/x", "M");
                "M"
            },
            allowed: &["feature/*"],
            findings: &["disallowed M D5 from [develop] brings 5"],
            allowed_by: vec![],
            questions: &[
                "is_ancestor D5 B2",
                "merge_base F1 D5",
                "branches_matching feature/*",
                "branches_at D5",
                "count_new F1 D5",
            ],
        },
        Case {
            name: "a PR without merges asks nothing",
            build: |r| r.line("F", "B2", 3).leak(),
            allowed: &["release/*"],
            findings: &[],
            allowed_by: vec![],
            questions: &[],
        },
    ];

    for case in cases {
        let mut repo = world();
        let head = (case.build)(&mut repo);
        let pr = repo.pr("B2", head);
        let mut graph = repo.graph();
        let report = run(&pr, &policy(case.allowed, None), &mut graph);
        assert_eq!(
            findings(&repo, &report),
            case.findings,
            "{}: findings",
            case.name
        );
        assert_eq!(report.passed(), case.findings.is_empty(), "{}", case.name);
        assert_eq!(
            allowed_by(&report),
            case.allowed_by,
            "{}: allowed merges",
            case.name
        );
        assert_eq!(graph.asked, case.questions, "{}: questions", case.name);
    }
}

#[test]
fn allowed_sources_are_reported_only_when_consulted() {
    let mut repo = world();
    repo.commit("F1", &["B1"]).commit("M", &["F1", "B2"]);
    let report = run(
        &repo.pr("B2", "M"),
        &policy(&["release/*"], None),
        &mut repo.graph(),
    );
    assert_eq!(
        report.sources.resolved, None,
        "a base merge needs no allowed branch"
    );
    assert_eq!(report.sources.patterns, ["release/*"]);

    let mut repo = world();
    repo.commit("F1", &["B1"]).commit("M", &["F1", "D5"]);
    let report = run(
        &repo.pr("B2", "M"),
        &policy(&["release/*", "hotfix/*", "release/["], None),
        &mut repo.graph(),
    );
    assert_eq!(
        report.sources.resolved,
        Some(vec![
            PatternMatch {
                pattern: "release/*".into(),
                branches: vec!["release/1.2".into()]
            },
            PatternMatch {
                pattern: "hotfix/*".into(),
                branches: vec![]
            },
        ])
    );
    assert_eq!(report.sources.invalid.len(), 1);
    assert_eq!(report.sources.invalid[0].pattern, "release/[");
}

#[test]
fn a_base_that_moved_on_keeps_an_earlier_update_merge_clean() {
    // The PR merged main at B1; main then moved on to B2 and B3.
    let mut repo = world();
    repo.commit("B3", &["B2"])
        .commit("F1", &["B0"])
        .commit("M", &["F1", "B1"]);
    let pr = repo.pr("B3", "M");
    let mut graph = repo.graph();
    let report = run(&pr, &policy(&[], None), &mut graph);
    assert!(report.passed());
    assert_eq!(allowed_by(&report), [AllowedBy::Base]);
    assert!(graph.asked.is_empty());
}

#[test]
fn a_force_pushed_pr_is_judged_by_its_new_history_only() {
    // Before: F1 + a develop merge on B1. After the force-push: rebased onto
    // the new base tip B3, the develop merge dropped, main merged in again.
    let mut repo = world();
    repo.commit("F1", &["B1"]).commit("M", &["F1", "D5"]);
    assert!(!run(&repo.pr("B2", "M"), &policy(&[], None), &mut repo.graph()).passed());

    repo.commit("B3", &["B2"])
        .commit("F1'", &["B2"])
        .commit("M'", &["F1'", "B3"]);
    let report = run(&repo.pr("B3", "M'"), &policy(&[], None), &mut repo.graph());
    assert!(report.passed(), "{:?}", report.findings);
    assert_eq!(report.commits.total, 2);
}

#[test]
fn a_base_force_pushed_back_past_a_merged_tip_reports_that_merge() {
    // The PR merged main at B1; main was then force-pushed back to B0. B1
    // is no longer main's history: merging the PR would bring it back.
    let mut repo = world();
    repo.commit("F1", &["B0"]).commit("M", &["F1", "B1"]);
    let pr = repo.pr("B0", "M");
    let report = run(&pr, &policy(&[], None), &mut repo.graph());
    assert_eq!(
        findings(&repo, &report),
        ["disallowed M B1 from [] brings 1"]
    );
}

#[test]
fn a_deleted_base_makes_foreign_merges_unverifiable_and_the_rest_still_pass() {
    let mut repo = world();
    repo.commit("F1", &["B1"]).commit("M", &["F1", "D5"]);
    let mut graph = repo.graph();
    graph.forget("B2");
    let report = run(&repo.pr("B2", "M"), &policy(&[], None), &mut graph);
    assert_eq!(
        findings(&repo, &report),
        ["unverifiable M D5 unknown B2 (base)"]
    );
    assert!(!report.passed());
    assert!(
        report
            .render_text()
            .iter()
            .any(|l| l.contains("was main deleted or force-pushed?")),
        "{:?}",
        report.render_text()
    );

    // An update merge and a PR without merges need no question about the base.
    let mut repo = world();
    repo.commit("F1", &["B1"]).commit("M", &["F1", "B2"]);
    let mut graph = repo.graph();
    graph.forget("B2");
    assert!(run(&repo.pr("B2", "M"), &policy(&[], None), &mut graph).passed());
}

#[test]
fn an_unknown_parent_is_unverifiable_and_fails() {
    let mut repo = world();
    repo.commit("F1", &["B1"]).commit("M", &["F1", "D5"]);
    let mut graph = repo.graph();
    graph.forget("D5");
    let report = run(&repo.pr("B2", "M"), &policy(&[], None), &mut graph);
    assert_eq!(findings(&repo, &report), ["unverifiable M D5 unknown D5"]);
    let text = report.render_text();
    assert!(text[1].starts_with("unverifiable merge "), "{text:?}");
    assert!(
        text[1].contains(&format!("commit {} is unknown", sha("D5").short())),
        "{text:?}"
    );
}

#[test]
fn a_transport_error_is_an_error_not_a_verdict() {
    let mut repo = world();
    repo.commit("F1", &["B1"]).commit("M", &["F1", "D5"]);
    let mut graph = repo.graph();
    graph.transport_error = true;
    let result = block_on(check(&repo.pr("B2", "M"), &policy(&[], None), &mut graph));
    assert_eq!(
        result,
        Err(GraphError::Other("socket connection was closed".into()))
    );
}

#[test]
fn an_incomplete_commit_list_is_not_trusted_to_say_what_is_in_the_base() {
    let mut repo = world();
    repo.commit("F1", &["B0"])
        .commit("M1", &["F1", "B1"])
        .commit("M2", &["M1", "B2"]);
    let mut pr = repo.pr("B2", "M2");
    pr.total_commits += 500; // the list was cut short
    let mut graph = repo.graph();
    let report = run(&pr, &policy(&[], None), &mut graph);
    assert!(report.passed());
    // The base tip is still known for free; B1 must be asked.
    assert_eq!(graph.asked, ["is_ancestor B1 B2"]);
}

#[test]
fn max_commits_turns_the_count_into_a_finding_above_the_limit() {
    let mut repo = world();
    let head = repo.line("F", "B2", 12);
    let pr = repo.pr("B2", &head);
    for (max, expected) in [
        (None, vec![]),
        (Some(12), vec![]),
        (Some(11), vec!["too many 12 > 11".to_owned()]),
    ] {
        let report = run(&pr, &policy(&[], max), &mut repo.graph());
        assert_eq!(findings(&repo, &report), expected, "max {max:?}");
        assert_eq!(report.commits.total, 12);
        assert_eq!(report.commits.first_parent, 12);
    }
}

#[test]
fn drift_is_noted_when_a_merge_brings_far_more_than_the_own_line() {
    let mut repo = world();
    let dev = repo.line("E", "B0", 80);
    repo.commit("F1", &["B1"])
        .commit("F2", &["F1"])
        .commit("M", &["F2", &dev]);
    let report = run(&repo.pr("B2", "M"), &policy(&[], None), &mut repo.graph());
    assert_eq!((report.commits.total, report.commits.first_parent), (83, 3));
    assert!(report.commits.drifted());
    assert!(
        report
            .render_text()
            .iter()
            .any(|l| l.contains("drift: 80 came in from other lines"))
    );

    let mut repo = world();
    repo.commit("F1", &["B1"])
        .commit("L1", &["F1"])
        .commit("U1", &["F1"])
        .commit("M", &["L1", "U1"]);
    let report = run(&repo.pr("B2", "M"), &policy(&[], None), &mut repo.graph());
    assert!(!report.commits.drifted());
    assert!(!report.render_text().iter().any(|l| l.contains("drift")));
}

#[test]
fn markdown_summary_of_a_blocked_pr() {
    let mut repo = world();
    let dev = repo.line("E", "D5", 1_463);
    repo.commit_with("F1", &["B1"], "Add the | pipe <operator>")
        .commit("F2", &["F1"])
        .commit_with(
            "M",
            &["F2", &dev],
            "Merge branch 'develop' into feature/pipe",
        )
        .commit("F3", &["M"]);
    repo.branches.retain(|(b, _)| b != "develop");
    repo.branch("develop", &dev);
    let report = run(
        &repo.pr("B2", "F3"),
        &policy(&["release/*", "hotfix/*"], Some(1_000)),
        &mut repo.graph(),
    );
    insta::assert_snapshot!(report.render_markdown(), @r"
    #### Merge sources: failed

    | merge | parent | from | brings in | why it fails |
    | --- | --- | --- | --- | --- |
    | `08f2718` Merge branch 'develop' into feature/pipe | `fc348a5` | `develop` | 1,468 commits | not in the history of `main` or an allowed branch |

    Checked 1 merge commit.

    **Too many commits:** this PR carries 1,472, above `merge_sources.max_commits` (1,000).

    This PR carries 1,472 commits, 4 on its own first-parent line. **Drift:** 1,468 came in from other lines.

    Allowed sources: `main` (the base); `release/*`: `release/1.2`; `hotfix/*` matched no branch.
    ");
    insta::assert_debug_snapshot!(report.render_text(), @r#"
    [
        "merge sources: failed: 2 problems (1 merge commit checked)",
        "disallowed merge 08f2718 \"Merge branch 'develop' into feature/pipe\": parent fc348a5 (develop) is not in the history of main or an allowed branch; it brings in 1468 commits",
        "too many commits: 1472, above merge_sources.max_commits (1000)",
        "1472 commits in this branch, 4 on its own first-parent line; drift: 1468 came in from other lines",
        "allowed sources: main (the base); release/* -> release/1.2; hotfix/* matched no branch",
    ]
    "#);
}

#[test]
fn markdown_summary_of_a_clean_pr() {
    let mut repo = world();
    repo.commit("F1", &["B1"])
        .commit("L1", &["F1"])
        .commit("U1", &["F1"])
        .commit("M1", &["L1", "U1"])
        .commit("M2", &["M1", "B2"])
        .commit("F2", &["M2"]);
    let report = run(
        &repo.pr("B2", "F2"),
        &policy(&["release/*"], None),
        &mut repo.graph(),
    );
    insta::assert_snapshot!(report.render_markdown(), @r"
    #### Merge sources: passed

    Checked 2 merge commits; parents allowed: 1 from the base, 1 from the PR's own line.

    This PR carries 6 commits, 5 on its own first-parent line.

    Allowed sources: `main` (the base); `release/*` (not needed).
    ");
}

#[test]
fn markdown_escapes_what_the_repository_wrote() {
    let mut repo = world();
    repo.commit("F1", &["B1"])
        .commit_with("M", &["F1", "D5"], "Merge `x|y` into <main> *now*");
    repo.branch("we|rd`name", "D5");
    let report = run(&repo.pr("B2", "M"), &policy(&[], None), &mut repo.graph());
    let md = report.render_markdown();
    let row = md.lines().find(|l| l.starts_with("| `")).unwrap();
    assert!(
        row.contains(r"Merge \`x\|y\` into \<main\> \*now\*"),
        "{row}"
    );
    assert!(row.contains(r"``we\|rd`name``"), "{row}");
    // Five cells: six unescaped pipes.
    let unescaped = row
        .match_indices('|')
        .filter(|(i, _)| !row[..*i].ends_with('\\'))
        .count();
    assert_eq!(unescaped, 6, "{row}");
}

/// A random commit graph: commit i has 1-3 parents among earlier commits
/// (commit 0 is the root, and a few more roots make unrelated histories).
fn arb_repo() -> impl Strategy<Value = (Repo, String, String)> {
    (3usize..28)
        .prop_flat_map(|n| {
            let parents = proptest::collection::vec(
                proptest::collection::vec(any::<prop::sample::Index>(), 0..=3),
                n,
            );
            (
                parents,
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
            )
        })
        .prop_map(|(parents, base, head)| {
            let mut repo = Repo::default();
            let n = parents.len();
            for (i, picks) in parents.iter().enumerate() {
                let name = format!("C{i}");
                let mut ps: Vec<String> = Vec::new();
                if i > 0 {
                    // Mostly one line with merges; a root now and then.
                    let count = if picks.is_empty() && i % 7 != 3 {
                        1
                    } else {
                        picks.len()
                    };
                    for k in 0..count {
                        let at = picks.get(k).map_or(i - 1, |p| p.index(i));
                        let p = format!("C{at}");
                        if !ps.contains(&p) {
                            ps.push(p);
                        }
                    }
                }
                let refs: Vec<&str> = ps.iter().map(String::as_str).collect();
                repo.commit(&name, &refs);
            }
            for i in (0..n).step_by(4) {
                repo.branch(&format!("release/{i}"), &format!("C{i}"));
            }
            let (base, head) = (format!("C{}", base.index(n)), format!("C{}", head.index(n)));
            (repo, base, head)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The free answers are only shortcuts: asking the graph everything
    /// (a list marked incomplete) gives the same verdicts, never fewer questions.
    #[test]
    fn shortcuts_never_change_a_verdict((repo, base, head) in arb_repo(), with_allowed in any::<bool>()) {
        let policy = policy(if with_allowed { &["release/*"] } else { &[] }, None);
        let pr = repo.pr(&base, &head);
        let mut fast = repo.graph();
        let quick = run(&pr, &policy, &mut fast);

        let mut slow_pr = pr.clone();
        slow_pr.total_commits += 1;
        let mut slow = repo.graph();
        let thorough = run(&slow_pr, &policy, &mut slow);

        prop_assert_eq!(&quick.findings, &thorough.findings);
        prop_assert_eq!(&quick.allowed_merges, &thorough.allowed_merges);
        prop_assert!(fast.asked.len() <= slow.asked.len());
    }

    /// A merge whose parent is in the base's history is never a finding,
    /// and every merge parent of the PR gets exactly one verdict.
    #[test]
    fn base_history_is_always_allowed((repo, base, head) in arb_repo()) {
        let pr = repo.pr(&base, &head);
        let report = run(&pr, &policy(&[], None), &mut repo.graph());
        let in_base = repo.ancestors(&base);
        for finding in &report.findings {
            if let Finding::Disallowed { parent, .. } = finding {
                prop_assert!(!in_base.iter().any(|c| sha(c) == *parent));
            }
        }
        let parents: usize = pr.commits.iter().map(|c| c.parents.len().saturating_sub(1)).sum();
        prop_assert_eq!(report.findings.len() + report.allowed_merges.len(), parents);
    }

    /// A superset list (GitHub's three-dot compare in a criss-cross history
    /// lists some base commits too) does not change the verdicts on the
    /// PR's own merges.
    #[test]
    fn a_superset_commit_list_keeps_the_verdicts((repo, base, head) in arb_repo(), extra in any::<prop::sample::Index>()) {
        let pr = repo.pr(&base, &head);
        let mut wider = pr.clone();
        let shared: Vec<String> = repo
            .order
            .iter()
            .filter(|c| repo.ancestors(&base).contains(*c) && repo.ancestors(&head).contains(*c))
            .filter(|c| repo.parents[*c].len() < 2) // merges of the base are the base's business
            .cloned()
            .collect();
        if !shared.is_empty() {
            let c = &shared[extra.index(shared.len())];
            wider.commits.push(PrCommit { sha: sha(c), parents: repo.parents[c].iter().map(|p| sha(p)).collect(), subject: String::new()});
            wider.total_commits += 1;
        }
        let exact = run(&pr, &policy(&[], None), &mut repo.graph());
        let loose = run(&wider, &policy(&[], None), &mut repo.graph());
        prop_assert_eq!(exact.findings, loose.findings);
        prop_assert_eq!(exact.allowed_merges, loose.allowed_merges);
    }
}

/// Foreign history on hand-built graphs, with the questions each costs.
fn foreign_policy(allowed: &[&str]) -> MergeSourcePolicy {
    MergeSourcePolicy {
        allowed: allowed.iter().map(|s| s.to_string()).collect(),
        long_lived: vec!["develop".into(), "release/*".into()],
        ..MergeSourcePolicy::default()
    }
}

/// main: m0; d1..d50 on m0 (each test points `develop` where it is).
fn git_flow() -> Repo {
    let mut repo = Repo::default();
    repo.commit("m0", &[]);
    repo.line("d", "m0", 50);
    repo.branch("main", "m0");
    repo
}

#[test]
fn foreign_history_is_found_where_developments_line_meets_the_pr() {
    // Cut from develop at d50, which then moved on to d52.
    let mut repo = git_flow();
    let head = repo.line("f", "d50", 3);
    let tip = repo.line("later", "d50", 2);
    repo.branch("develop", &tip).branch("feature", &head);
    let mut graph = repo.graph();
    let report = run(&repo.pr("m0", &head), &foreign_policy(&[]), &mut graph);
    assert_eq!(
        findings(&repo, &report),
        ["foreign from develop at d50 brings 50 own 3"]
    );
    assert_eq!(
        graph.asked,
        [
            "branches_matching develop,release/*",
            "merge_base f3 later2",
            "is_ancestor d50 m0",
            "commits_between f3 later2",
        ]
    );
    let text = report.render_text();
    assert!(text[1].contains("git rebase --onto main "), "{}", text[1]);

    // Reset to develop's tip: found without following its line.
    let mut repo = git_flow();
    let head = repo.line("f", "d50", 2);
    repo.branch("feature", &head).branch("develop", "d50");
    let mut graph = repo.graph();
    let report = run(&repo.pr("m0", &head), &foreign_policy(&[]), &mut graph);
    assert_eq!(
        findings(&repo, &report),
        ["foreign from develop at d50 brings 50 own 2"]
    );
    assert_eq!(
        graph.asked,
        ["branches_matching develop,release/*", "is_ancestor d50 m0"]
    );

    // An allowed branch is not foreign.
    let mut repo = git_flow();
    let release = repo.line("r", "m0", 10);
    let head = repo.line("f", &release, 2);
    repo.branch("release/2.1", &release)
        .branch("develop", "d50");
    let report = run(
        &repo.pr("m0", &head),
        &foreign_policy(&["release/*"]),
        &mut repo.graph(),
    );
    assert!(report.passed(), "{:?}", findings(&repo, &report));
    let report = run(
        &repo.pr("m0", &head),
        &foreign_policy(&[]),
        &mut repo.graph(),
    );
    assert_eq!(
        findings(&repo, &report),
        ["foreign from release/2.1 at r10 brings 10 own 2"]
    );
}

#[test]
fn a_branch_merged_into_develop_is_not_foreign_and_a_young_pr_costs_nothing() {
    // Cut from main (6 commits), also merged into develop with a merge commit.
    let mut repo = git_flow();
    let head = repo.line("f", "m0", 6);
    repo.commit("D", &["d50", &head]).branch("develop", "D");
    let mut graph = repo.graph();
    let report = run(&repo.pr("m0", &head), &foreign_policy(&[]), &mut graph);
    assert!(report.passed(), "{:?}", findings(&repo, &report));
    assert_eq!(
        report.foreign,
        ForeignCheck::Checked {
            branches: vec!["develop".into()]
        }
    );
    assert_eq!(
        graph.asked,
        [
            "branches_matching develop,release/*",
            "merge_base f6 D",
            "is_ancestor f6 m0",
            "commits_between f6 D",
        ]
    );

    // Three commits on the base's tip: nothing is asked.
    let mut repo = git_flow();
    let head = repo.line("f", "m0", 3);
    let mut graph = repo.graph();
    let report = run(&repo.pr("m0", &head), &foreign_policy(&[]), &mut graph);
    assert!(report.passed());
    assert_eq!(report.foreign, ForeignCheck::Quiet { commits: 3 });
    assert!(graph.asked.is_empty(), "{:?}", graph.asked);
}
