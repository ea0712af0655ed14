//! The merge-source guard on real git repositories in a temporary directory:
//! the incident (develop merged into a feature for main), the merges that
//! must pass (main merged in, a `git pull` of the feature's own remote line,
//! an allowed release branch), and what a check costs in git processes.

use std::cell::Cell;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use futures::executor::block_on;
use seamguard::gate::merge_sources::{
    AllowedBy, CommitGraph, Finding, GraphError, MergeSourcePolicy, MergeSourceReport,
    PatternMatch, check,
};
use seamguard::ids::CommitSha;
use seamguard::local::history::{LocalGraph, check_merge_sources};

/// The incident's drift: develop was 1,468 commits ahead.
const DEVELOP_COMMITS: usize = 1_468;

/// 2026-01-01T00:00:00Z; each commit is one second later, so history is
/// the same on every run.
const EPOCH: u64 = 1_767_225_600;

/// A git working directory with a deterministic git: no system or global
/// config, fixed identity and dates, no signing.
struct Repo {
    dir: PathBuf,
    home: PathBuf,
    clock: Cell<u64>,
}

impl Repo {
    fn init(tmp: &Path, name: &str) -> Repo {
        let repo = Repo::at(tmp, name);
        std::fs::create_dir_all(&repo.dir).unwrap();
        repo.git(&["init", "--quiet"]);
        repo
    }

    fn at(tmp: &Path, name: &str) -> Repo {
        Repo {
            dir: tmp.join(name),
            home: tmp.to_owned(),
            clock: Cell::new(EPOCH),
        }
    }

    fn command(&self) -> Command {
        let date = format!("{} +0000", self.clock.get());
        self.clock.set(self.clock.get() + 1);
        let mut cmd = Command::new("git");
        cmd.current_dir(&self.dir)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Ada")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
                "-c",
                "pull.rebase=false",
                "-c",
                "core.autocrlf=false",
                "-c",
                "advice.detachedHead=false",
            ]);
        cmd
    }

    /// Runs git, fails the test if it fails, returns stdout trimmed.
    fn git(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn sha(&self, rev: &str) -> CommitSha {
        self.git(&["rev-parse", "--verify", rev]).parse().unwrap()
    }

    /// Writes a file and commits it; returns the new commit.
    fn commit(&self, file: &str, content: &str, message: &str) -> CommitSha {
        std::fs::write(self.dir.join(file), content).unwrap();
        self.git(&["add", file]);
        self.git(&["commit", "--quiet", "-m", message]);
        self.sha("HEAD")
    }

    /// Adds `n` commits to `branch` (created at `from`) in one `git
    /// fast-import`, each rewriting `file`; returns the new tip.
    fn fast_line(&self, branch: &str, from: &CommitSha, file: &str, n: usize) -> CommitSha {
        let mut stream = String::new();
        for i in 1..=n {
            let message = format!("{branch} work {i}\n");
            let content = format!("{branch} {i}\n");
            let when = self.clock.get() + i as u64;
            stream.push_str(&format!(
                "commit refs/heads/{branch}\ncommitter Dev <dev@example.com> {when} +0000\ndata {}\n{message}",
                message.len()
            ));
            if i == 1 {
                stream.push_str(&format!("from {from}\n"));
            }
            stream.push_str(&format!(
                "M 644 inline {file}\ndata {}\n{content}\n",
                content.len()
            ));
        }
        self.clock.set(self.clock.get() + n as u64 + 1);
        let mut child = self
            .command()
            .args(["fast-import", "--quiet"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stream.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "git fast-import failed");
        self.sha(branch)
    }

    fn check(&self, base: &str, allowed: &[&str]) -> MergeSourceReport {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        let policy = MergeSourcePolicy {
            allowed,
            ..MergeSourcePolicy::default()
        };
        check_merge_sources(&self.dir, base, "HEAD", &policy).expect("the check runs")
    }
}

/// main: A - B; develop: 1,468 commits on B; feature: F1 on B.
fn incident(tmp: &Path) -> (Repo, CommitSha, CommitSha) {
    let repo = Repo::init(tmp, "work");
    repo.commit("README.md", "seamguard demo\n", "Start");
    let b = repo.commit("README.md", "seamguard demo\nv2\n", "Describe v2");
    let develop = repo.fast_line("develop", &b, "develop.txt", DEVELOP_COMMITS);
    repo.git(&["checkout", "--quiet", "-b", "feature", "main"]);
    let f1 = repo.commit("feature.txt", "feature\n", "Add the feature");
    (repo, develop, f1)
}

fn allowed_by(report: &MergeSourceReport) -> Vec<AllowedBy> {
    report.allowed_merges.iter().map(|m| m.by.clone()).collect()
}

#[test]
fn the_incident_is_blocked_and_naming_the_merge_and_what_it_brings() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, develop, f1) = incident(tmp.path());
    repo.git(&["merge", "--quiet", "--no-edit", "develop"]);
    let merge = repo.sha("HEAD");

    let report = repo.check("main", &[]);
    assert!(!report.passed());
    assert_eq!(report.merges_checked, 1);
    match report.findings.as_slice() {
        [
            Finding::Disallowed {
                merge: m,
                parent,
                parent_branches,
                brings_in,
            },
        ] => {
            assert_eq!(m.sha, merge);
            assert_eq!(m.subject, "Merge branch 'develop' into feature");
            assert_eq!(*parent, develop);
            assert_eq!(parent_branches, &["develop"]);
            assert_eq!(*brings_in, Some(DEVELOP_COMMITS as u64));
        }
        other => panic!("expected one disallowed merge, got {other:?}"),
    }
    assert_eq!(report.commits.total, DEVELOP_COMMITS as u64 + 2);
    assert_eq!(report.commits.first_parent, 2);
    assert!(report.commits.drifted());

    let text = report.render_text();
    println!("{}", text.join("\n"));
    let line = &text[1];
    assert!(line.contains(merge.short()), "{line}");
    assert!(
        line.contains("Merge branch 'develop' into feature"),
        "{line}"
    );
    assert!(
        line.contains(&format!("parent {} (develop)", develop.short())),
        "{line}"
    );
    assert!(line.contains("brings in 1468 commits"), "{line}");

    // Undo the merge: the branch is clean again.
    repo.git(&["reset", "--quiet", "--hard", f1.as_str()]);
    let report = repo.check("main", &[]);
    assert!(report.passed(), "{:?}", report.render_text());
    assert_eq!(report.merges_checked, 0);
    assert_eq!(report.commits.total, 1);
}

#[test]
fn merging_main_in_to_update_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, _) = incident(tmp.path());
    repo.git(&["checkout", "--quiet", "main"]);
    repo.commit("README.md", "seamguard demo\nv3\n", "Describe v3");
    repo.git(&["checkout", "--quiet", "feature"]);
    repo.git(&["merge", "--quiet", "--no-edit", "main"]);

    let report = repo.check("main", &[]);
    assert!(report.passed(), "{:?}", report.render_text());
    assert_eq!(allowed_by(&report), [AllowedBy::Base]);
    assert!(!report.commits.drifted());
}

#[test]
fn pulling_the_features_own_remote_line_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, _) = incident(tmp.path());
    let origin = Repo::at(tmp.path(), "origin.git");
    origin.git_bare_init();
    repo.git(&["remote", "add", "origin", origin.dir.to_str().unwrap()]);
    repo.git(&["push", "--quiet", "origin", "main", "feature"]);

    // A teammate pushes to the feature meanwhile.
    let mate = Repo::at(tmp.path(), "mate");
    Repo::at(tmp.path(), ".").git(&[
        "clone",
        "--quiet",
        "--branch",
        "feature",
        "origin.git",
        "mate",
    ]);
    mate.commit("mate.txt", "from a teammate\n", "Teammate's part");
    mate.git(&["push", "--quiet", "origin", "feature"]);

    repo.commit("feature.txt", "feature\nmore\n", "More of the feature");
    repo.git(&["pull", "--quiet", "--no-edit", "origin", "feature"]);
    assert_eq!(
        repo.git(&["rev-list", "--count", "--merges", "main..HEAD"]),
        "1"
    );

    let report = repo.check("origin/main", &[]);
    assert!(report.passed(), "{:?}", report.render_text());
    assert_eq!(allowed_by(&report), [AllowedBy::OwnLine]);
    assert_eq!(report.sources.base_ref, "origin/main");
}

#[test]
fn an_allowed_release_branch_passes_even_as_a_remote_tracking_branch() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, _) = incident(tmp.path());
    let origin = Repo::at(tmp.path(), "origin.git");
    origin.git_bare_init();
    repo.git(&["remote", "add", "origin", origin.dir.to_str().unwrap()]);
    repo.git(&["checkout", "--quiet", "-b", "release/1.2", "main~1"]);
    repo.commit("CHANGELOG.md", "1.2.1\n", "Release 1.2.1");
    repo.git(&["push", "--quiet", "origin", "main", "release/1.2"]);
    repo.git(&["checkout", "--quiet", "feature"]);
    repo.git(&["branch", "--quiet", "-D", "release/1.2"]);
    repo.git(&["merge", "--quiet", "--no-edit", "origin/release/1.2"]);

    let report = repo.check("main", &["release/*"]);
    assert!(report.passed(), "{:?}", report.render_text());
    assert_eq!(
        allowed_by(&report),
        [AllowedBy::AllowedBranch("release/1.2".into())]
    );

    // A pattern that matches nothing allows nothing, and says so.
    let report = repo.check("main", &["hotfix/*"]);
    assert!(!report.passed());
    assert_eq!(
        report.sources.resolved,
        Some(vec![PatternMatch {
            pattern: "hotfix/*".into(),
            branches: vec![]
        }])
    );
    match report.findings.as_slice() {
        [
            Finding::Disallowed {
                parent_branches,
                brings_in,
                ..
            },
        ] => {
            assert_eq!(parent_branches, &["release/1.2"]);
            assert_eq!(*brings_in, Some(1));
        }
        other => panic!("expected one disallowed merge, got {other:?}"),
    }
    assert!(
        report
            .render_text()
            .iter()
            .any(|l| l.contains("hotfix/* matched no branch"))
    );
}

#[test]
fn a_base_that_does_not_exist_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, _) = incident(tmp.path());
    let err =
        check_merge_sources(&repo.dir, "origin/gone", "HEAD", &Default::default()).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("\"origin/gone\" does not name a commit"),
        "{message}"
    );
}

#[test]
fn max_commits_applies_locally() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, _) = incident(tmp.path());
    repo.git(&["merge", "--quiet", "--no-edit", "develop"]);
    let policy = MergeSourcePolicy {
        max_commits: Some(500),
        ..MergeSourcePolicy::default()
    };
    let report = check_merge_sources(&repo.dir, "main", "HEAD", &policy).unwrap();
    assert!(report.findings.contains(&Finding::TooManyCommits {
        total: DEVELOP_COMMITS as u64 + 2,
        max: 500
    }));
}

#[test]
fn a_two_thousand_commit_range_costs_a_handful_of_git_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path(), "work");
    let root = repo.commit("README.md", "x\n", "Start");
    let develop = repo.fast_line("develop", &root, "develop.txt", 1_990);
    repo.git(&["checkout", "--quiet", "-b", "feature"]);
    let own = repo.fast_line("feature", &root, "feature.txt", 8);
    repo.git(&["reset", "--quiet", "--hard", own.as_str()]);
    repo.git(&["merge", "--quiet", "--no-edit", "develop"]);
    repo.git(&["checkout", "--quiet", "main"]);
    repo.commit("README.md", "y\n", "Move main on");
    repo.git(&["checkout", "--quiet", "feature"]);
    repo.git(&["merge", "--quiet", "--no-edit", "main"]);

    let started = std::time::Instant::now();
    let mut graph = LocalGraph::open(&repo.dir);
    let base = graph.resolve("main").unwrap();
    let head = graph.resolve("HEAD").unwrap();
    let before = graph.git_runs();
    let pr = graph.pr_history("main", &base, &head).unwrap();
    assert_eq!(
        graph.git_runs() - before,
        1,
        "one rev-list for the whole range"
    );
    assert_eq!(pr.total_commits, 1_990 + 8 + 2);

    let report = futures::executor::block_on(check(&pr, &Default::default(), &mut graph)).unwrap();
    assert_eq!(report.merges_checked, 2);
    assert_eq!(report.findings.len(), 1);
    assert!(
        matches!(&report.findings[0], Finding::Disallowed { parent, .. } if *parent == develop)
    );
    println!(
        "2,000-commit range: {} git processes, {:?}",
        graph.git_runs(),
        started.elapsed()
    );
    assert!(graph.git_runs() <= 10, "{} git processes", graph.git_runs());
}

#[test]
fn the_local_graph_answers_and_names_unknown_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, develop, f1) = incident(tmp.path());
    let b = repo.sha("main");
    repo.git(&["checkout", "--quiet", "--orphan", "other"]);
    let orphan = repo.commit("other.txt", "unrelated\n", "Another project");
    let ghost: CommitSha = "1".repeat(40).parse().unwrap();
    let mut graph = LocalGraph::open(&repo.dir);

    assert_eq!(block_on(graph.is_ancestor(&b, &develop)), Ok(true));
    assert_eq!(block_on(graph.is_ancestor(&develop, &b)), Ok(false));
    assert_eq!(
        block_on(graph.merge_base(&f1, &develop)),
        Ok(Some(b.clone()))
    );
    assert_eq!(block_on(graph.merge_base(&f1, &orphan)), Ok(None));
    assert_eq!(
        block_on(graph.count_new(&f1, &develop)),
        Ok(DEVELOP_COMMITS as u64)
    );
    assert_eq!(
        block_on(graph.branches_at(&develop)),
        Ok(vec!["develop".to_owned()])
    );
    assert_eq!(
        block_on(graph.branches_matching(&["dev*".to_owned(), "feat*".to_owned()])),
        Ok(vec![
            ("develop".to_owned(), develop.clone()),
            ("feature".to_owned(), f1.clone())
        ])
    );

    let unknown = GraphError::UnknownCommit(ghost.clone());
    assert_eq!(
        block_on(graph.is_ancestor(&ghost, &develop)),
        Err(unknown.clone())
    );
    assert_eq!(
        block_on(graph.merge_base(&develop, &ghost)),
        Err(unknown.clone())
    );
    assert_eq!(block_on(graph.count_new(&develop, &ghost)), Err(unknown));
}

impl Repo {
    fn git_bare_init(&self) {
        std::fs::create_dir_all(&self.dir).unwrap();
        self.git(&["init", "--quiet", "--bare"]);
    }
}
