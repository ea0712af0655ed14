//! `seamguard pre-push` and `seamguard install-hook` through the real binary,
//! and a real `git push` running the installed hook.

mod local_support;

use std::path::Path;

use local_support::{CONFLICT, SEAMGUARD, TestRepo};

const ZERO: &str = "0000000000000000000000000000000000000000";

/// A repository whose `main` is already on a bare `origin`.
fn pushed_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.add_bare_origin();
    repo.write("README.md", "Title\n=======\n");
    repo.commit("init");
    repo.git(&["push", "-q", "-u", "origin", "main"]);
    repo
}

fn line(local_ref: &str, local: &str, remote_ref: &str, remote: &str) -> String {
    format!("{local_ref} {local} {remote_ref} {remote}\n")
}

#[test]
fn an_existing_branch_is_checked_from_its_remote_tip() {
    let repo = pushed_repo();
    let old = repo.git(&["rev-parse", "HEAD"]);
    repo.write("src/a.rs", format!("fn a() {{}}\n{CONFLICT}"));
    let new = repo.commit("oops");

    let stdin = line("refs/heads/main", &new, "refs/heads/main", &old);
    let run = repo.seamguard(&["pre-push", "origin", "/somewhere"], &stdin);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("push blocked"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("refs/heads/main:\n  src/a.rs:2: conflict marker <<<<<<<"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("src/a.rs:6: conflict marker >>>>>>>"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--no-verify"), "{}", run.stderr);

    // Resolved in a later commit: the range as a whole adds no markers.
    repo.write("src/a.rs", "fn a() {}\nours\n");
    let fixed = repo.commit("resolve");
    let stdin = line("refs/heads/main", &fixed, "refs/heads/main", &old);
    let run = repo.seamguard(&["pre-push", "origin", "/somewhere"], &stdin);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn a_new_branch_is_checked_for_commits_the_remote_does_not_have() {
    let repo = pushed_repo();
    // Markers already on the remote's main are not this push's doing.
    repo.write("old.txt", CONFLICT);
    repo.commit("markers, pushed long ago");
    repo.git(&["push", "-q", "origin", "main"]);
    repo.git(&["checkout", "-q", "-b", "topic"]);
    repo.write("new.txt", format!("x\n{CONFLICT}"));
    let head = repo.commit("topic work");

    let stdin = line("refs/heads/topic", &head, "refs/heads/topic", ZERO);
    let run = repo.seamguard(&["pre-push", "origin", "/somewhere"], &stdin);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("new.txt:2:"), "{}", run.stderr);
    assert!(!run.stderr.contains("old.txt"), "{}", run.stderr);

    // A new branch that points at commits the remote already has: nothing new.
    let pushed_tip = repo.git(&["rev-parse", "main"]);
    let stdin = line("refs/heads/alias", &pushed_tip, "refs/heads/alias", ZERO);
    assert_eq!(
        repo.seamguard(&["pre-push", "origin", "/somewhere"], &stdin)
            .code,
        0
    );
}

#[test]
fn a_first_push_of_a_new_history_checks_every_line() {
    let repo = TestRepo::new();
    repo.add_bare_origin();
    repo.write("a.txt", CONFLICT);
    let head = repo.commit("root");
    let stdin = line("refs/heads/main", &head, "refs/heads/main", ZERO);
    let run = repo.seamguard(&["pre-push", "origin", "/somewhere"], &stdin);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("a.txt:1:"), "{}", run.stderr);
}

#[test]
fn deletions_and_empty_input_pass() {
    let repo = pushed_repo();
    let tip = repo.git(&["rev-parse", "HEAD"]);
    let stdin = line("(delete)", ZERO, "refs/heads/gone", &tip);
    let run = repo.seamguard(&["pre-push", "origin", "/somewhere"], &stdin);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        repo.seamguard(&["pre-push", "origin", "/somewhere"], "")
            .code,
        0
    );
}

#[test]
fn the_guard_fails_open() {
    let repo = pushed_repo();
    let tip = repo.git(&["rev-parse", "HEAD"]);
    let stdin = line("refs/heads/main", &tip, "refs/heads/main", ZERO);

    // Not a git repository.
    let elsewhere = tempfile::tempdir().unwrap();
    let run = repo.seamguard_in(elsewhere.path(), &["pre-push", "origin", "x"], &stdin);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("letting the push through"),
        "{}",
        run.stderr
    );

    // git itself missing.
    let mut cmd = std::process::Command::new(SEAMGUARD);
    cmd.args(["pre-push", "origin", "x"]).current_dir(&repo.dir);
    repo.env(&mut cmd);
    cmd.env("PATH", elsewhere.path());
    let run = local_support::run(cmd, &stdin);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("could not run git"), "{}", run.stderr);

    // Garbage on stdin.
    let run = repo.seamguard(&["pre-push"], "this is not what git sends\n");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("warning"), "{}", run.stderr);

    // A pushed object this repository does not have.
    let ghost = "1234567890123456789012345678901234567890";
    let run = repo.seamguard(
        &["pre-push", "origin", "x"],
        &line("refs/heads/main", ghost, "refs/heads/main", ZERO),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("letting the push through"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_corrupted_object_lets_the_push_through_with_a_warning() {
    let repo = pushed_repo();
    repo.write("doomed.txt", "some unique content 8d1f\n");
    let head = repo.commit("to be corrupted");
    let blob = repo.git(&["rev-parse", "HEAD:doomed.txt"]);
    let object = repo.path(&format!(".git/objects/{}/{}", &blob[..2], &blob[2..]));
    std::fs::remove_file(object).unwrap();

    let old = repo.git(&["rev-parse", "origin/main"]);
    let run = repo.seamguard(
        &["pre-push", "origin", "x"],
        &line("refs/heads/main", &head, "refs/heads/main", &old),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("could not check refs/heads/main"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("letting the push through"),
        "{}",
        run.stderr
    );
}

fn hook_path(repo: &TestRepo) -> std::path::PathBuf {
    repo.path(".git/hooks/pre-push")
}

#[test]
fn install_hook_writes_an_executable_hook_once() {
    let repo = pushed_repo();
    let run = repo.seamguard(&["install-hook"], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("installed the pre-push hook"),
        "{}",
        run.stdout
    );
    let script = std::fs::read_to_string(hook_path(&repo)).unwrap();
    assert!(
        script.contains("\nseamguard pre-push \"$@\"\nstatus=$?\n"),
        "{script}"
    );
    assert_executable(&hook_path(&repo));

    let again = repo.seamguard(&["install-hook"], "");
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stdout.contains("already installed"),
        "{}",
        again.stdout
    );
    assert_eq!(std::fs::read_to_string(hook_path(&repo)).unwrap(), script);
}

#[test]
fn install_hook_refuses_someone_elses_hook_unless_forced() {
    let repo = pushed_repo();
    let theirs = "#!/bin/sh\necho their hook\n";
    repo.write(".git/hooks/pre-push", theirs);

    let run = repo.seamguard(&["install-hook"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(hook_path(&repo)).unwrap(), theirs);

    let forced = repo.seamguard(&["install-hook", "--force"], "");
    assert_eq!(forced.code, 0, "{forced:?}");
    assert!(
        std::fs::read_to_string(hook_path(&repo))
            .unwrap()
            .contains("seamguard pre-push")
    );
    let backup = repo.path(".git/hooks/pre-push.seamguard-backup");
    assert_eq!(std::fs::read_to_string(backup).unwrap(), theirs);
}

#[test]
fn install_hook_follows_core_hooks_path_and_worktrees() {
    let repo = pushed_repo();
    repo.git(&["config", "core.hooksPath", "my hooks"]);
    let run = repo.seamguard(&["install-hook", repo.dir.to_str().unwrap()], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(repo.path("my hooks/pre-push").is_file());
    assert!(!hook_path(&repo).exists());
    repo.git(&["config", "--unset", "core.hooksPath"]);

    // A linked worktree shares the main repository's hooks.
    let wt = repo.dir.with_file_name("linked");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        wt.to_str().unwrap(),
        "-b",
        "wt-branch",
    ]);
    let run = repo.seamguard_in(&wt, &["install-hook"], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(hook_path(&repo).is_file(), "{run:?}");
}

#[test]
fn a_real_push_is_blocked_by_the_installed_hook() {
    let repo = pushed_repo();
    assert_eq!(repo.seamguard(&["install-hook"], "").code, 0);
    let bin_dir = Path::new(SEAMGUARD).parent().unwrap();

    repo.write("clean.txt", "fine\n");
    repo.commit("clean");
    let ok = repo.git_output(&["push", "-q", "origin", "main"], Some(bin_dir));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    repo.write("clean.txt", format!("fine\n{CONFLICT}"));
    repo.commit("markers");
    let blocked = repo.git_output(&["push", "-q", "origin", "main"], Some(bin_dir));
    let stderr = String::from_utf8_lossy(&blocked.stderr);
    assert!(!blocked.status.success(), "{stderr}");
    assert!(
        stderr.contains("clean.txt:2: conflict marker <<<<<<<"),
        "{stderr}"
    );
    assert_ne!(
        repo.git(&["rev-parse", "origin/main"]),
        repo.git(&["rev-parse", "HEAD"])
    );

    // A new branch with the same commits is blocked too.
    let blocked = repo.git_output(
        &["push", "-q", "origin", "main:refs/heads/other"],
        Some(bin_dir),
    );
    assert!(!blocked.status.success());
}

#[test]
fn the_hook_lets_the_push_through_when_seamguard_is_not_installed() {
    let repo = pushed_repo();
    assert_eq!(repo.seamguard(&["install-hook"], "").code, 0);
    repo.write("x.txt", CONFLICT);
    repo.commit("markers");
    // The inherited PATH, less any folder that holds a seamguard.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let without: Vec<_> = std::env::split_paths(&path)
        .filter(|d| !d.join("seamguard").exists())
        .collect();
    let out = {
        let mut cmd = std::process::Command::new("git");
        cmd.args(["push", "-q", "origin", "main"])
            .current_dir(&repo.dir);
        repo.env(&mut cmd);
        cmd.env("PATH", std::env::join_paths(without).unwrap());
        cmd.output().unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("not found on PATH"), "{stderr}");
}

#[cfg(unix)]
fn assert_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "{mode:o}");
}

#[cfg(not(unix))]
fn assert_executable(_path: &Path) {}

/// A folder holding an executable `seamguard` with `content`, to stand in
/// for a broken installation.
fn fake_seamguard(content: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("seamguard");
    std::fs::write(&bin, content).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

#[test]
fn the_hook_lets_the_push_through_whenever_the_guard_itself_fails() {
    let repo = pushed_repo();
    assert_eq!(repo.seamguard(&["install-hook"], "").code, 0);
    let real = std::fs::read(SEAMGUARD).unwrap();
    let broken: [(&str, Vec<u8>); 3] = [
        ("segfaults", b"#!/bin/sh\nkill -SEGV $$\n".to_vec()),
        ("exits 2", b"#!/bin/sh\nexit 2\n".to_vec()),
        ("truncated", real[..real.len().min(64 * 1024)].to_vec()),
    ];
    for (i, (what, content)) in broken.iter().enumerate() {
        // Markers the real guard would block: only the guard's failure lets them through.
        repo.write(&format!("x{i}.txt"), CONFLICT);
        let head = repo.commit(what);
        let bin = fake_seamguard(content);
        let out = repo.git_output(&["push", "-q", "origin", "main"], Some(bin.path()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what}: {stderr}");
        assert!(
            stderr.contains("seamguard: warning: the guard itself failed"),
            "{what}: {stderr}"
        );
        assert_eq!(repo.git(&["rev-parse", "origin/main"]), head, "{what}");
    }

    // Findings (exit 1) still block, through the same hook.
    repo.write("y.txt", CONFLICT);
    let head = repo.commit("findings");
    let bin = fake_seamguard(b"#!/bin/sh\necho 'y.txt:1: conflict marker' >&2\nexit 1\n");
    let out = repo.git_output(&["push", "-q", "origin", "main"], Some(bin.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("guard itself failed"), "{stderr}");
    assert_ne!(repo.git(&["rev-parse", "origin/main"]), head);
}

/// `pushed_repo` whose `main` (on origin) holds marker fixtures, with the
/// hook installed; `origin/HEAD` is set when `with_origin_head`.
fn repo_with_fixtures_on_main(with_origin_head: bool) -> TestRepo {
    let repo = pushed_repo();
    repo.write("fixtures/conflict.txt", CONFLICT);
    repo.commit("marker fixtures for the parser's tests");
    repo.git(&["push", "-q", "origin", "main"]);
    if with_origin_head {
        repo.git(&["remote", "set-head", "origin", "main"]);
    }
    assert_eq!(repo.seamguard(&["install-hook"], "").code, 0);
    repo
}

/// A new bare repository next to the test repository.
fn bare_repo(repo: &TestRepo, name: &str) -> String {
    let parent = repo.dir.parent().unwrap();
    repo.git_in(parent, &["init", "-q", "--bare", name]);
    parent.join(name).to_str().unwrap().to_owned()
}

#[test]
fn a_clean_branch_pushed_to_a_url_or_a_new_fork_remote_is_not_blamed_for_main() {
    let repo = repo_with_fixtures_on_main(true);
    let bin_dir = Path::new(SEAMGUARD).parent().unwrap();
    repo.git(&["checkout", "-q", "-b", "topic"]);
    repo.write("src/clean.rs", "fn clean() {}\n");
    let clean = repo.commit("clean work");

    // To a URL no remote is configured with.
    let url = bare_repo(&repo, "fork-by-url.git");
    let out = repo.git_output(&["push", "-q", &url, "topic"], Some(bin_dir));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        repo.git(&["ls-remote", &url, "refs/heads/topic"]),
        format!("{clean}\trefs/heads/topic")
    );

    // To a fork remote that has no remote-tracking refs yet.
    let fork = bare_repo(&repo, "fork.git");
    repo.git(&["remote", "add", "fork", &fork]);
    let out = repo.git_output(&["push", "-q", "fork", "topic"], Some(bin_dir));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same kind of push with markers of its own is still blocked, and
    // only for them.
    repo.git(&["checkout", "-q", "-b", "dirty", "main"]);
    repo.write("src/dirty.rs", format!("fn d() {{}}\n{CONFLICT}"));
    repo.commit("dirty work");
    let url = bare_repo(&repo, "fork-by-url-2.git");
    let out = repo.git_output(&["push", "-q", &url, "dirty"], Some(bin_dir));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("src/dirty.rs:2: conflict marker"),
        "{stderr}"
    );
    assert!(!stderr.contains("fixtures/conflict.txt"), "{stderr}");
}

#[test]
fn a_push_to_a_configured_remotes_url_excludes_what_that_remote_has() {
    // No origin/HEAD: only the remote-tracking refs can exclude main.
    let repo = repo_with_fixtures_on_main(false);
    let bin_dir = Path::new(SEAMGUARD).parent().unwrap();
    repo.git(&["checkout", "-q", "-b", "topic"]);
    repo.write("src/clean.rs", "fn clean() {}\n");
    repo.commit("clean work");
    let origin_url = repo.git(&["remote", "get-url", "origin"]);
    let out = repo.git_output(&["push", "-q", &origin_url, "topic"], Some(bin_dir));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_remote_shas_of_every_pushed_ref_are_excluded() {
    let repo = repo_with_fixtures_on_main(false);
    let main_before = repo.git(&["rev-parse", "main"]);
    repo.write("README.md", "Title\n=======\n\nMore.\n");
    let main_now = repo.commit("docs");
    repo.git(&["checkout", "-q", "-b", "topic"]);
    repo.write("src/clean.rs", "fn clean() {}\n");
    let topic = repo.commit("clean work");
    let url = bare_repo(&repo, "mirror.git");

    // The remote has main's old tip (git says so on main's line): the fixtures
    // behind it are not this push's.
    let stdin = format!(
        "{}{}",
        line(
            "refs/heads/main",
            &main_now,
            "refs/heads/main",
            &main_before
        ),
        line("refs/heads/topic", &topic, "refs/heads/topic", ZERO)
    );
    let run = repo.seamguard(&["pre-push", &url, &url], &stdin);
    assert_eq!(run.code, 0, "{run:?}");

    // Told nothing about the remote, and no upstream default branch known:
    // the whole tree is checked, fixtures and all.
    let stdin = line("refs/heads/topic", &topic, "refs/heads/topic", ZERO);
    let run = repo.seamguard(&["pre-push", &url, &url], &stdin);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("fixtures/conflict.txt:1:"), "{run:?}");

    // With the upstream's default branch known, only lines that differ from it.
    repo.git(&["remote", "set-head", "origin", "main"]);
    let run = repo.seamguard(&["pre-push", &url, &url], &stdin);
    assert_eq!(run.code, 0, "{run:?}");
}
