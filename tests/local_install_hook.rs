//! `seamguard install-hook` never loses someone's hook (issue 23), through
//! the real binary: only a hook that is byte for byte a version seamguard
//! wrote is replaced; anything else is refused without `--force` and kept
//! as a backup with it; a symbolic link is never written through.

mod local_support;

use std::path::PathBuf;

use local_support::TestRepo;

/// The first hook seamguard wrote (`exec seamguard pre-push`), byte for byte.
const FIRST_VERSION: &str = "#!/bin/sh\n\
# seamguard-managed pre-push hook: written by `seamguard install-hook`.\n\
# Blocks pushes whose commits add git conflict markers. When seamguard\n\
# cannot be found the push goes ahead with a warning (the guard fails open).\n\
if command -v seamguard >/dev/null 2>&1; then\n    \
exec seamguard pre-push \"$@\"\n\
fi\n\
echo \"seamguard: not found on PATH; this push was not checked for conflict markers\" >&2\n\
exit 0\n";

fn hook(repo: &TestRepo) -> PathBuf {
    repo.path(".git/hooks/pre-push")
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// A repository with seamguard's current hook installed.
fn installed() -> (TestRepo, String) {
    let repo = TestRepo::new();
    let run = repo.seamguard(&["install-hook"], "");
    assert_eq!(run.code, 0, "{run:?}");
    let script = read(&hook(&repo));
    (repo, script)
}

#[test]
fn a_hook_of_ours_with_a_line_added_is_someones_and_kept() {
    let (repo, ours) = installed();
    // The user added their own scanner to seamguard's hook.
    let theirs = ours.replacen(
        "seamguard pre-push \"$@\"\n",
        "run-my-scanner || exit 1\nseamguard pre-push \"$@\"\n",
        1,
    );
    std::fs::write(hook(&repo), &theirs).unwrap();

    let run = repo.seamguard(&["install-hook"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("not a hook seamguard wrote"), "{run:?}");
    assert!(run.stderr.contains("--force"), "{run:?}");
    assert_eq!(read(&hook(&repo)), theirs, "left as it was");

    let run = repo.seamguard(&["install-hook", "--force"], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(read(&hook(&repo)), ours);
    let backup = repo.path(".git/hooks/pre-push.seamguard-backup");
    assert_eq!(read(&backup), theirs, "the user's line survives");
    assert!(run.stdout.contains("pre-push.seamguard-backup"), "{run:?}");
}

#[test]
fn an_older_version_byte_for_byte_is_updated_in_place() {
    let (repo, ours) = installed();
    std::fs::write(hook(&repo), FIRST_VERSION).unwrap();
    let run = repo.seamguard(&["install-hook"], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("updated"), "{run:?}");
    assert_eq!(read(&hook(&repo)), ours);
    assert!(!repo.path(".git/hooks/pre-push.seamguard-backup").exists());
}

#[cfg(unix)]
#[test]
fn a_symlinked_hook_is_never_written_through() {
    let repo = TestRepo::new();
    // The hook is a link to a shared script that happens to be seamguard's
    // first version: still not a file of this repository's to rewrite.
    let shared = repo.dir.with_file_name("shared-hook.sh");
    std::fs::write(&shared, FIRST_VERSION).unwrap();
    std::fs::create_dir_all(repo.path(".git/hooks")).unwrap();
    std::os::unix::fs::symlink(&shared, hook(&repo)).unwrap();

    let run = repo.seamguard(&["install-hook"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("symbolic link"), "{run:?}");
    assert!(
        run.stderr.contains(shared.to_str().unwrap()),
        "says where it points: {run:?}"
    );
    assert_eq!(read(&shared), FIRST_VERSION, "the target is untouched");

    let run = repo.seamguard(&["install-hook", "--force"], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(read(&shared), FIRST_VERSION, "the target is untouched");
    let meta = std::fs::symlink_metadata(hook(&repo)).unwrap();
    assert!(meta.is_file(), "the link was replaced by a file of its own");
    assert!(read(&hook(&repo)).contains("seamguard pre-push"));
    let backup = repo.path(".git/hooks/pre-push.seamguard-backup");
    assert_eq!(
        std::fs::read_link(&backup).unwrap(),
        shared,
        "the link kept"
    );
}
