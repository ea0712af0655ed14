//! Foreign history, on real git repositories, through both twins: the local
//! one (`seamguard scan`, the binary) and the App (the fake GitHub holding
//! the same repository, commit for commit). A branch cut from `develop`,
//! rebased onto it or reset to it and proposed for `main` is blocked with
//! one finding naming `develop` and the rebase; a branch cut from `main`
//! and also merged into `develop`, a `develop` that merged `main` many
//! times, a pull request for `develop` and an allowed release branch pass;
//! the incident (a `develop` merge) is reported as before; a protected
//! branch is long-lived in the App; `pre-push` and `check-config` know the
//! rule. The economy of the App's evaluation is counted.

mod local_support;
mod support;

use std::cell::Cell;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use local_support::SEAMGUARD;
use seamguard::gate::merge_sources::{Finding, ForeignCheck, MergeSourcePolicy};
use seamguard::local::history::check_merge_sources;
use support::flows::evaluate_once;
use support::{CheckRun, FakeGitHub};

/// `develop`'s unreleased work in most cases: enough to be "many commits
/// ahead", few enough to keep the tests quick.
const DEVELOP_COMMITS: usize = 40;

/// The figure the issue asks for: a branch cut from a `develop` this far ahead.
const ECONOMY_FOREIGN: usize = 1_500;

/// 2026-01-01T00:00:00Z; each git command is one second later, so SHAs are
/// the same on every run.
const EPOCH: u64 = 1_767_225_600;

/// A working repository with an `origin` whose default branch is `main`.
struct Git {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    home: PathBuf,
    clock: Cell<u64>,
}

impl Git {
    /// main: Start - Describe v2 (with `config` as the seamguard config when
    /// given); develop: `develop_commits` on top; pushed to origin.
    fn new(develop_commits: usize, config: Option<&str>) -> Git {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("work");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let git = Git {
            _tmp: tmp,
            dir,
            home,
            clock: Cell::new(EPOCH),
        };
        git.run(&["init", "--quiet", "-b", "main"]);
        git.commit("README.md", "seamguard demo\n", "Start");
        if let Some(yaml) = config {
            git.commit(".github/seamguard.yml", yaml, "Configure seamguard");
        }
        git.commit("README.md", "seamguard demo\nv2\n", "Describe v2");
        let main = git.sha("main");
        git.fast_line("develop", &main, "develop.txt", develop_commits);
        let origin = git.dir.with_file_name("origin.git");
        git.run(&[
            "init",
            "--quiet",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ]);
        git.run(&["remote", "add", "origin", origin.to_str().unwrap()]);
        git.push(&["main", "develop"]);
        git.run(&["remote", "set-head", "origin", "main"]);
        git
    }

    fn command(&self, program: &str) -> Command {
        let date = format!("{} +0000", self.clock.get());
        self.clock.set(self.clock.get() + 1);
        let mut cmd = Command::new(program);
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
            .env("GIT_COMMITTER_DATE", &date);
        cmd
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self
            .command("git")
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "advice.detachedHead=false",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn sha(&self, rev: &str) -> String {
        self.run(&["rev-parse", "--verify", rev])
    }

    fn commit(&self, file: &str, content: &str, message: &str) -> String {
        let path = self.dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self.run(&["add", file]);
        self.run(&["commit", "--quiet", "-m", message]);
        self.sha("HEAD")
    }

    /// `n` commits of one's own on the current branch, each its own file.
    fn own(&self, who: &str, n: usize) -> String {
        for i in 1..=n {
            self.commit(
                &format!("{who}-{i}.txt"),
                "work\n",
                &format!("{who}: part {i}"),
            );
        }
        self.sha("HEAD")
    }

    fn push(&self, refs: &[&str]) {
        let mut args = vec!["push", "--quiet", "--force", "origin"];
        args.extend(refs);
        self.run(&args);
    }

    /// `n` commits on `branch` (created at `from`) in one `git fast-import`.
    fn fast_line(&self, branch: &str, from: &str, file: &str, n: usize) -> String {
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
            .command("git")
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

    /// `seamguard scan --base BASE` of HEAD: (exit code, stdout lines).
    fn scan(&self, base: &str) -> (i32, Vec<String>) {
        let out = self
            .command(SEAMGUARD)
            .args(["scan", "--base", base])
            .output()
            .unwrap();
        let lines = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        (out.status.code().unwrap_or(-1), lines)
    }

    /// The library's report for HEAD against `base`, with the config's keys.
    fn report(
        &self,
        base: &str,
        allowed: &[&str],
    ) -> seamguard::gate::merge_sources::MergeSourceReport {
        let config = seamguard::config::repo::RepoConfig::default().merge_sources;
        let mut allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        // As the local twin does: the remote's default branch is allowed.
        allowed.push("main".to_owned());
        let policy = MergeSourcePolicy {
            allowed,
            max_commits: None,
            long_lived: config.long_lived,
        };
        check_merge_sources(&self.dir, base, "HEAD", &policy).unwrap()
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

/// The App's run on a pull request from `head` to `base`, with the fake
/// holding `git`'s repository; and the GitHub requests it cost.
async fn app_run(git: &Git, head: &str, base: &str) -> (CheckRun, usize) {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.import_git(git.path());
    repo.pr(12).head(head).base(base).open();
    let run = evaluate_once(&gh, &repo, 12, "synchronize").await;
    (run, gh.requests().len())
}

fn text(run: &CheckRun) -> String {
    run.output
        .as_ref()
        .and_then(|o| o.text.clone())
        .unwrap_or_default()
}

/// The one foreign-history finding of a report, as (branch, fork, brings, own).
fn foreign(
    report: &seamguard::gate::merge_sources::MergeSourceReport,
) -> Vec<(String, String, u64, u64)> {
    report
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::ForeignHistory {
                branch,
                fork_point,
                brings_in,
                own_commits,
            } => Some((
                branch.clone(),
                fork_point.as_str().to_owned(),
                *brings_in,
                *own_commits,
            )),
            _ => None,
        })
        .collect()
}

/// Asserts both twins block with one finding naming `develop` at `fork`.
async fn both_block(git: &Git, fork: &str, brings_in: u64, own: u64) -> (Vec<String>, String) {
    let report = git.report("origin/main", &[]);
    assert_eq!(
        foreign(&report),
        [("develop".to_owned(), fork.to_owned(), brings_in, own)],
        "{:?}",
        report.render_text()
    );
    let (code, lines) = git.scan("origin/main");
    assert_eq!(code, 1, "{lines:?}");
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    assert!(lines[0].contains("develop"), "{}", lines[0]);
    assert!(
        lines[0].contains(&format!("git rebase --onto origin/main {}", &fork[..7])),
        "{}",
        lines[0]
    );

    let (run, _) = app_run(git, "feature", "main").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("failure"),
        "{}",
        run.summary()
    );
    assert!(
        run.annotations.is_empty(),
        "no annotation: {:?}",
        run.annotations
    );
    assert!(
        run.summary().contains("foreign history from `develop`"),
        "{}",
        run.summary()
    );
    let text = text(&run);
    let paragraph = text
        .lines()
        .find(|l| l.starts_with("**Foreign history:**"))
        .unwrap_or_else(|| panic!("a foreign-history paragraph: {text}"))
        .to_owned();
    assert!(
        paragraph.contains(&format!("`git rebase --onto main {}`", &fork[..7])),
        "{paragraph}"
    );
    (lines, paragraph)
}

/// Asserts both twins pass `feature` against `base`.
async fn both_pass(git: &Git, base: &str, allowed: &[&str]) {
    let report = git.report(&format!("origin/{base}"), allowed);
    assert!(report.passed(), "{:?}", report.render_text());
    let (code, lines) = git.scan(&format!("origin/{base}"));
    assert_eq!(code, 0, "{lines:?}");
    let (run, _) = app_run(git, "feature", base).await;
    assert_eq!(run.conclusion.as_deref(), Some("success"), "{}", text(&run));
}

#[tokio::test]
async fn a_branch_cut_from_develop_is_blocked_by_both_twins() {
    let git = Git::new(DEVELOP_COMMITS, None);
    let cut = git.sha("develop");
    git.run(&["checkout", "--quiet", "-b", "feature", "develop"]);
    git.own("feature", 3);
    // develop moves on after the cut: its tip is not in the pull request.
    git.run(&["checkout", "--quiet", "develop"]);
    git.own("develop-later", 4);
    git.push(&["develop"]);
    git.run(&["checkout", "--quiet", "feature"]);

    let (lines, paragraph) = both_block(&git, &cut, DEVELOP_COMMITS as u64, 3).await;
    insta::assert_snapshot!("cut_from_develop_local", lines[0]);
    insta::assert_snapshot!("cut_from_develop_app", paragraph);
}

#[tokio::test]
async fn the_same_branch_rebased_onto_develop_after_more_work_is_blocked() {
    let git = Git::new(DEVELOP_COMMITS, None);
    git.run(&["checkout", "--quiet", "-b", "feature", "develop"]);
    git.own("feature", 3);
    git.run(&["checkout", "--quiet", "develop"]);
    let later = git.own("develop-later", 4);
    git.push(&["develop"]);
    git.run(&["checkout", "--quiet", "feature"]);
    git.run(&["rebase", "--quiet", "develop"]);

    both_block(&git, &later, DEVELOP_COMMITS as u64 + 4, 3).await;
}

#[tokio::test]
async fn a_branch_reset_to_develop_is_blocked() {
    let git = Git::new(DEVELOP_COMMITS, None);
    git.run(&["checkout", "--quiet", "-b", "feature", "main"]);
    git.own("first-try", 1);
    git.run(&["reset", "--quiet", "--hard", "origin/develop"]);
    git.own("feature", 2);

    both_block(&git, &git.sha("develop"), DEVELOP_COMMITS as u64, 2).await;
}

#[tokio::test]
async fn a_branch_cut_from_main_and_also_merged_into_develop_passes() {
    let git = Git::new(DEVELOP_COMMITS, None);
    git.run(&["checkout", "--quiet", "-b", "feature", "main"]);
    // More than a quiet pull request, so the rule is really asked.
    git.own("feature", 6);
    git.run(&["checkout", "--quiet", "develop"]);
    git.run(&["merge", "--quiet", "--no-ff", "--no-edit", "feature"]);
    git.push(&["develop"]);
    git.run(&["checkout", "--quiet", "feature"]);

    let report = git.report("origin/main", &[]);
    assert_eq!(
        report.foreign,
        ForeignCheck::Checked {
            branches: vec!["develop".to_owned()]
        }
    );
    both_pass(&git, "main", &[]).await;
}

#[tokio::test]
async fn a_branch_cut_from_main_while_develop_merged_main_many_times_passes() {
    let git = Git::new(DEVELOP_COMMITS, None);
    for round in 1..=3 {
        git.run(&["checkout", "--quiet", "main"]);
        git.own(&format!("hotfix-{round}"), 2);
        git.run(&["checkout", "--quiet", "develop"]);
        git.run(&["merge", "--quiet", "--no-edit", "main"]);
        git.own(&format!("develop-{round}"), 2);
    }
    git.push(&["main", "develop"]);
    git.run(&["checkout", "--quiet", "-b", "feature", "main"]);
    git.own("feature", 6);

    both_pass(&git, "main", &[]).await;
}

#[tokio::test]
async fn a_pull_request_for_develop_itself_passes() {
    let git = Git::new(DEVELOP_COMMITS, None);
    git.run(&["checkout", "--quiet", "-b", "feature", "develop"]);
    git.own("feature", 6);

    both_pass(&git, "develop", &[]).await;
}

#[tokio::test]
async fn a_branch_cut_from_an_allowed_release_branch_passes() {
    let git = Git::new(
        DEVELOP_COMMITS,
        Some("merge_sources:\n  allowed: [\"release/*\"]\n"),
    );
    let main = git.sha("main");
    git.fast_line("release/2.1", &main, "release.txt", 30);
    git.push(&["release/2.1"]);
    git.run(&["checkout", "--quiet", "-b", "feature", "release/2.1"]);
    git.own("feature", 2);

    // Without the allowance it is foreign history from release/2.1.
    let report = git.report("origin/main", &[]);
    assert_eq!(foreign(&report).len(), 1, "{:?}", report.render_text());
    assert_eq!(foreign(&report)[0].0, "release/2.1");

    both_pass(&git, "main", &["release/*"]).await;
}

#[tokio::test]
async fn the_incident_is_reported_as_a_merge_as_before() {
    let git = Git::new(DEVELOP_COMMITS, None);
    git.run(&["checkout", "--quiet", "-b", "feature", "main"]);
    git.own("feature", 1);
    git.run(&["merge", "--quiet", "--no-edit", "develop"]);

    let report = git.report("origin/main", &[]);
    assert!(foreign(&report).is_empty(), "{:?}", report.render_text());
    let (code, lines) = git.scan("origin/main");
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("disallowed merge "), "{}", lines[0]);

    let (run, _) = app_run(&git, "feature", "main").await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert!(
        run.summary()
            .contains("1 disallowed merge (from `develop`)"),
        "{}",
        run.summary()
    );
    assert!(!text(&run).contains("Foreign history"), "{}", text(&run));
}

#[tokio::test]
async fn requests_per_evaluation_foreign_and_clean() {
    let git = Git::new(ECONOMY_FOREIGN, None);
    git.run(&["checkout", "--quiet", "-b", "feature", "develop"]);
    git.own("feature", 3);
    git.run(&["checkout", "--quiet", "-b", "clean", "main"]);
    git.own("clean", 3);
    let main = git.sha("main");
    git.run(&["checkout", "--quiet", "-b", "older", &format!("{main}~1")]);
    git.own("older", 6);

    let (foreign_run, foreign_requests) = app_run(&git, "feature", "main").await;
    assert_eq!(foreign_run.conclusion.as_deref(), Some("failure"));
    let (clean_run, clean_requests) = app_run(&git, "clean", "main").await;
    assert_eq!(clean_run.conclusion.as_deref(), Some("success"));
    let (older_run, older_requests) = app_run(&git, "older", "main").await;
    assert_eq!(older_run.conclusion.as_deref(), Some("success"));
    eprintln!(
        "GitHub requests per evaluation: cut from develop with {ECONOMY_FOREIGN} foreign commits {foreign_requests}; \
         clean (3 commits on main's tip) {clean_requests}; clean but not quiet (6 commits on main~1) {older_requests}"
    );
    // A quiet PR costs the rule nothing: the typical evaluation's 9
    // (the token included, no merge: the PR is not opted in; the run is
    // created with its result).
    assert_eq!(clean_requests, 9);
    // Cut from develop: the PR's own comparison takes 16 pages of 100 (15
    // more than usual, for the merge rule as before); the foreign rule adds
    // the branch listing and one compare (is develop's tip, which the PR
    // lists, in main's history?).
    assert_eq!(foreign_requests, clean_requests + 15 + 2);
    // Asked but clean: the listing and one compare for develop.
    assert_eq!(older_requests, clean_requests + 2, "{older_requests}");
}

#[test]
fn check_config_knows_long_lived() {
    let dir = tempfile::tempdir().unwrap();
    let check = |yaml: &str| {
        let file = dir.path().join("seamguard.yml");
        std::fs::write(&file, yaml).unwrap();
        let out = Command::new(SEAMGUARD)
            .args(["check-config", file.to_str().unwrap()])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).replace(file.to_str().unwrap(), "FILE"),
        )
    };
    assert_eq!(
        check("merge_sources:\n  long_lived: [develop, \"release/**\", trunk]\n"),
        (Some(0), "FILE: ok\n".to_owned())
    );
    let (code, out) = check("merge_sources:\n  long_lived: [\"release/{1,2\"]\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with(
            "FILE:2:16: `merge_sources.long_lived`: `release/{1,2` is not a valid glob"
        ),
        "{out}"
    );
    let (code, out) = check("merge_sources:\n  long_lived: develop\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("`merge_sources.long_lived`"), "{out}");
}

#[test]
fn pre_push_blocks_a_branch_reset_to_develop() {
    let git = Git::new(DEVELOP_COMMITS, None);
    git.run(&["checkout", "--quiet", "-b", "feature", "main"]);
    let old = git.own("feature", 1);
    git.push(&["feature"]);
    git.run(&["reset", "--quiet", "--hard", "origin/develop"]);
    let new = git.own("feature", 2);

    let pre_push = |stdin: String| {
        let mut cmd = git.command(SEAMGUARD);
        cmd.args(["pre-push", "origin"]);
        let out = local_support::run(cmd, &stdin);
        (Some(out.code), out.stderr)
    };
    // Onto the branch the remote has: judged against its old tip.
    let (code, stderr) = pre_push(format!(
        "refs/heads/feature {new} refs/heads/feature {old}\n"
    ));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("foreign history: this branch was cut from develop at"),
        "{stderr}"
    );
    // Rebased onto main instead: main is where pull requests go.
    git.run(&[
        "rebase",
        "--quiet",
        "--onto",
        "origin/main",
        "origin/develop",
    ]);
    let rebased = git.sha("HEAD");
    let (code, stderr) = pre_push(format!(
        "refs/heads/feature {rebased} refs/heads/feature {old}\n"
    ));
    assert_eq!(code, Some(0), "{stderr}");
    // A new branch: judged against the remote's default branch.
    git.run(&["reset", "--quiet", "--hard", &new]);
    let zero = "0".repeat(40);
    let (code, stderr) = pre_push(format!(
        "refs/heads/feature {new} refs/heads/other {zero}\n"
    ));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("git rebase --onto origin/main"), "{stderr}");
}

#[tokio::test]
async fn a_protected_branch_is_long_lived_in_the_app() {
    let git = Git::new(DEVELOP_COMMITS, None);
    let main = git.sha("main");
    let next = git.fast_line("next", &main, "next.txt", 30);
    git.run(&["checkout", "--quiet", "-b", "feature", "next"]);
    git.own("feature", 2);

    // Locally protection is unknown and `next` matches no glob.
    assert!(git.report("origin/main", &[]).passed());

    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.import_git(git.path());
    repo.protected_without_checks("next");
    repo.pr(12).head("feature").base("main").open();
    let run = evaluate_once(&gh, &repo, 12, "synchronize").await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"), "{}", text(&run));
    assert!(
        text(&run).contains(&format!(
            "this branch was cut from `next` at `{}`: it brings 30 commits",
            &next[..7]
        )),
        "{}",
        text(&run)
    );
}
