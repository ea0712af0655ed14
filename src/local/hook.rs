//! The git pre-push hook: what a push sends, and installing the hook.
//!
//! git feeds the hook one line per ref, `<local ref> <local sha> <remote ref>
//! <remote sha>`. A deletion (local sha all zeros) pushes no commits. When
//! the remote already has the branch and we have its old tip, the new
//! commits are `remote_sha..local_sha` and the lines they add are the diff
//! between the two.
//!
//! Otherwise (a new branch, or an old tip never fetched) a push checks the
//! commits that are new *to that remote*: everything reachable from what
//! the remote is known to have is excluded — the remote SHAs git hands the
//! hook for every pushed ref, and, when the remote is a configured one
//! (named, or found by its URL), its remote-tracking refs, its default
//! branch (`refs/remotes/<remote>/HEAD`) among them. The lines checked are
//! those added compared with every boundary commit the new ones build on,
//! and with no boundary at all (a first push of a new history) every line
//! is new. Only when nothing at all can be excluded (a URL or a fork remote
//! with no remote-tracking refs yet) is the whole tree checked, and then
//! only the lines that differ from the upstream's default branch when one
//! is known (`refs/remotes/<upstream>/HEAD`): a fork starts as a copy of it,
//! so what `main` already holds is not this push's doing.
//!
//! The installed hook is a short `sh` script that runs `seamguard pre-push`
//! and blocks only on its "findings" exit (1); seamguard missing from PATH,
//! crashing, killed by a signal, unexecutable or exiting 2 lets the push
//! through with a warning: a guard that cannot run must not lock people out
//! of pushing.
//!
//! `install-hook` never loses someone's hook. It replaces only a hook that
//! is, byte for byte, a script seamguard wrote (the SHA-256 of every
//! version is kept in [`KNOWN_HOOK_DIGESTS`]); a hook that merely mentions
//! seamguard — say ours with a `run-my-scanner || exit 1` line added — is
//! someone's, refused without `--force` and kept as a backup with it. It
//! never writes through a symbolic link (it says where the link points):
//! the new script goes to a fresh file created exclusively beside the hook
//! and renamed over it, so a link is replaced, never followed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::ids::CommitSha;
use crate::local::git::{ObjectId, Repo};
use crate::local::markers::Target;

/// One line of the pre-push hook's standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRef {
    pub local_ref: String,
    pub local_sha: ObjectId,
    pub remote_ref: String,
    pub remote_sha: ObjectId,
}

/// Parses the hook's standard input; blank lines are skipped.
pub fn parse_pre_push_input(input: &str) -> Result<Vec<PushedRef>> {
    input
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let bad = || anyhow!("unexpected pre-push input line {line:?}");
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [local_ref, local_sha, remote_ref, remote_sha] = fields[..] else {
                return Err(bad());
            };
            Ok(PushedRef {
                local_ref: local_ref.to_owned(),
                local_sha: ObjectId::parse(local_sha.as_bytes()).ok_or_else(bad)?,
                remote_ref: remote_ref.to_owned(),
                remote_sha: ObjectId::parse(remote_sha.as_bytes()).ok_or_else(bad)?,
            })
        })
        .collect()
}

/// What a pushed ref asks the guards to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushCheck {
    /// Nothing to check: a deletion, a tag of a non-commit, or no new commits.
    Skip(&'static str),
    /// Check `target`; `base` is the remote's old tip when there is one.
    Check {
        target: Target,
        base: Option<CommitSha>,
        head: CommitSha,
    },
}

/// What is known about the remote of one push, shared by its refs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteKnowledge {
    /// The configured remote pushed to, when there is one.
    pub remote: Option<String>,
    /// Commits the remote has: the remote SHAs of the pushed refs that
    /// exist here, and the remote's tracking-ref tips.
    pub has: Vec<CommitSha>,
    /// The upstream's default branch tip, for the whole-tree fallback.
    pub upstream_default: Option<CommitSha>,
}

impl RemoteKnowledge {
    /// Gathers what the repository knows about `remote` (git's first hook
    /// argument: a remote name, or a URL) at `url`. `None` (run by hand,
    /// without arguments) means any remote.
    pub fn gather(
        repo: &Repo,
        remote: Option<&str>,
        url: Option<&str>,
        pushed: &[PushedRef],
    ) -> Result<Self> {
        let remote = remote.filter(|r| !r.is_empty());
        let name = match remote {
            Some(r) if repo.is_remote(r) => Some(r.to_owned()),
            Some(r) => match repo.remote_named_by_url(r)? {
                Some(name) => Some(name),
                None => match url.filter(|u| *u != r) {
                    Some(u) => repo.remote_named_by_url(u)?,
                    None => None,
                },
            },
            None => None,
        };
        let mut has: Vec<CommitSha> = Vec::new();
        for r in pushed.iter().filter(|r| !r.remote_sha.is_null()) {
            if let Some(sha) = repo.resolve_commit(r.remote_sha.as_str())? {
                has.push(sha);
            }
        }
        match (&name, remote) {
            (Some(name), _) => has.extend(repo.ref_tips(&format!("refs/remotes/{name}/"))?),
            // Run by hand: whatever any remote has.
            (None, None) => has.extend(repo.ref_tips("refs/remotes/")?),
            (None, Some(_)) => {}
        }
        has.sort();
        has.dedup();
        let upstream = repo
            .upstream_remote()
            .unwrap_or_else(|| "origin".to_owned());
        let upstream_default = repo.resolve_commit(&format!("refs/remotes/{upstream}/HEAD"))?;
        Ok(Self {
            remote: name,
            has,
            upstream_default,
        })
    }
}

/// Decides what to check for one pushed ref, given what the remote has.
pub fn push_check(repo: &Repo, remote: &RemoteKnowledge, pushed: &PushedRef) -> Result<PushCheck> {
    if pushed.local_sha.is_null() {
        return Ok(PushCheck::Skip("deletion"));
    }
    let Some(head) = repo.resolve_commit(pushed.local_sha.as_str())? else {
        // A tag of a tree or blob: no commits, nothing that adds lines.
        if repo
            .run(["cat-file", "-e", pushed.local_sha.as_str()])
            .is_err()
        {
            bail!(
                "pushed object {} is missing from this repository",
                pushed.local_sha.as_str()
            );
        }
        return Ok(PushCheck::Skip("not a commit"));
    };
    let old_tip = if pushed.remote_sha.is_null() {
        None
    } else {
        repo.resolve_commit(pushed.remote_sha.as_str())?
    };
    if let Some(old_tip) = old_tip {
        return Ok(PushCheck::Check {
            target: Target::Added {
                bases: vec![old_tip.clone()],
                head: head.clone(),
            },
            base: Some(old_tip),
            head,
        });
    }
    if remote.has.is_empty() {
        // Nothing to exclude: the whole tree, less what the upstream's
        // default branch already holds.
        let target = match &remote.upstream_default {
            Some(upstream) => Target::Added {
                bases: vec![upstream.clone()],
                head: head.clone(),
            },
            None => Target::All(head.clone()),
        };
        return Ok(PushCheck::Check {
            target,
            base: remote.upstream_default.clone(),
            head,
        });
    }
    let (new_commits, boundary) = repo.new_commits(&head, &remote.has)?;
    if new_commits.is_empty() {
        return Ok(PushCheck::Skip("no new commits"));
    }
    Ok(PushCheck::Check {
        target: Target::Added {
            bases: boundary,
            head: head.clone(),
        },
        base: None,
        head,
    })
}

/// The first lines of a hook we wrote; how we recognise our own hook.
pub const HOOK_SIGNATURE: &str = "# seamguard-managed pre-push hook";

/// The hook script `install-hook` writes.
///
/// It runs seamguard rather than `exec`ing it so that it sees how seamguard
/// ended: exit 1 ("findings") blocks the push, exit 0 lets it through, and
/// every other outcome — a crash or a signal (128 + N from the shell), a
/// binary that cannot be executed (126), an internal error (2) — is the
/// guard failing, not the code, and lets the push through with one warning.
/// The hook's stdin (git's list of pushed refs) is inherited by seamguard.
pub fn hook_script() -> String {
    format!(
        "#!/bin/sh\n\
         {HOOK_SIGNATURE}: written by `seamguard install-hook`.\n\
         # Blocks pushes whose commits add git conflict markers. Only seamguard's\n\
         # \"findings\" exit (1) blocks: when seamguard is missing, crashes or fails,\n\
         # the push goes ahead with a warning (the guard fails open).\n\
         if ! command -v seamguard >/dev/null 2>&1; then\n    \
             echo \"seamguard: not found on PATH; this push was not checked for conflict markers\" >&2\n    \
             exit 0\n\
         fi\n\
         seamguard pre-push \"$@\"\n\
         status=$?\n\
         if [ \"$status\" -eq 1 ]; then\n    \
             exit 1\n\
         fi\n\
         if [ \"$status\" -ne 0 ]; then\n    \
             echo \"seamguard: warning: the guard itself failed (exit status $status); this push was not checked\" >&2\n\
         fi\n\
         exit 0\n"
    )
}

/// The SHA-256 of every hook script seamguard has written, oldest first;
/// the last is [`hook_script`]'s. A hook with one of these digests is ours
/// and is updated in place; any other hook is someone's.
pub const KNOWN_HOOK_DIGESTS: &[&str] = &[
    // `exec seamguard pre-push`: any failure of seamguard blocked the push.
    "507d9a1aa1df995dc13fe86f9ad41958b11b21608b8a31706aaff718a611dae5",
    // Blocks only on the "findings" exit; fails open otherwise.
    "a0058b19d739697b71d8f56db6b189aca563b865ffb10575db8779f3a73792d0",
];

fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// What `install-hook` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// No hook was there; ours is now.
    New(PathBuf),
    /// Ours was there already, byte for byte.
    Unchanged(PathBuf),
    /// An older version of ours, byte for byte, was there; rewritten.
    Updated(PathBuf),
    /// Someone else's hook (or a symbolic link) was there; moved to
    /// `backup` (`--force`).
    Replaced { path: PathBuf, backup: PathBuf },
}

/// Why `install-hook` did not install.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{} already exists and is not a hook seamguard wrote (or was edited since); rerun with --force to replace it (it will be kept as a backup)", .0.display())]
    Refused(PathBuf),
    #[error("{} is a symbolic link to {}; seamguard does not write through it. Rerun with --force to replace the link itself (it will be kept as a backup)", .path.display(), .target.display())]
    RefusedLink { path: PathBuf, target: PathBuf },
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Installs the pre-push hook into the repository holding `path`, where git
/// looks for hooks (`core.hooksPath`, shared by all worktrees).
pub fn install_hook(path: &Path, force: bool) -> Result<Installed, InstallError> {
    let repo = Repo::discover(path)?;
    let hooks_dir = hooks_dir(&repo)?;
    let hook = hooks_dir.join("pre-push");
    let script = hook_script();

    let found = match fs::symlink_metadata(&hook) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(anyhow!(e)
                .context(format!("reading {}", hook.display()))
                .into());
        }
    };
    let outcome = match found {
        None => Installed::New(hook.clone()),
        Some(meta) if meta.file_type().is_symlink() => {
            if !force {
                let target = fs::read_link(&hook)
                    .with_context(|| format!("reading the link {}", hook.display()))?;
                return Err(InstallError::RefusedLink { path: hook, target });
            }
            set_aside(&hook)?
        }
        Some(meta) if meta.is_file() => {
            let bytes = fs::read(&hook).with_context(|| format!("reading {}", hook.display()))?;
            if bytes == script.as_bytes() {
                make_executable(&hook)?;
                return Ok(Installed::Unchanged(hook));
            }
            if KNOWN_HOOK_DIGESTS.contains(&digest(&bytes).as_str()) {
                Installed::Updated(hook.clone())
            } else if force {
                set_aside(&hook)?
            } else {
                return Err(InstallError::Refused(hook));
            }
        }
        // A directory or a device where the hook goes: someone's.
        Some(_) if force => set_aside(&hook)?,
        Some(_) => return Err(InstallError::Refused(hook)),
    };
    fs::create_dir_all(&hooks_dir).with_context(|| format!("creating {}", hooks_dir.display()))?;
    write_beside(&hook, script.as_bytes())?;
    Ok(outcome)
}

/// Moves whatever is at `hook` (a link is moved, not followed) to a free
/// backup name beside it.
fn set_aside(hook: &Path) -> Result<Installed, InstallError> {
    let backup = free_backup_path(hook);
    fs::rename(hook, &backup)
        .with_context(|| format!("moving {} to {}", hook.display(), backup.display()))?;
    Ok(Installed::Replaced {
        path: hook.to_owned(),
        backup,
    })
}

/// Writes `bytes` as the executable file `path`: into a fresh file created
/// exclusively beside it (no existing file or link is ever opened), then
/// renamed over `path`, which replaces a link rather than writing through it.
fn write_beside(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".pre-push.seamguard-{}.tmp",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let written = (|| -> io::Result<()> {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o755);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    let renamed = written.and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = renamed {
        let _ = fs::remove_file(&tmp);
        return Err(anyhow!(e).context(format!("writing {}", path.display())));
    }
    make_executable(path)
}

/// `git rev-parse --git-path hooks`, run at the top level so that a relative
/// `core.hooksPath` means what it means to git when it runs hooks.
fn hooks_dir(repo: &Repo) -> Result<PathBuf> {
    let out = repo.run(["rev-parse", "--git-path", "hooks"])?;
    let text = String::from_utf8(out).context("hooks path is not UTF-8")?;
    let dir = PathBuf::from(text.trim_end_matches(['\n', '\r']));
    Ok(if dir.is_absolute() {
        dir
    } else {
        repo.root().join(dir)
    })
}

/// The first backup name nothing (not even a dangling link) holds.
fn free_backup_path(hook: &Path) -> PathBuf {
    let free = |p: &PathBuf| fs::symlink_metadata(p).is_err();
    let first = hook.with_file_name("pre-push.seamguard-backup");
    if free(&first) {
        return first;
    }
    (1..)
        .map(|n| hook.with_file_name(format!("pre-push.seamguard-backup.{n}")))
        .find(free)
        .unwrap_or(first)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = fs::metadata(path)?.permissions();
    perms.set_mode(perms.mode() | 0o755);
    fs::set_permissions(path, perms)
        .with_context(|| format!("making {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_push_lines_parse() {
        let zero = "0".repeat(40);
        let a = "a".repeat(40);
        let input =
            format!("refs/heads/x {a} refs/heads/x {zero}\n\n(delete) {zero} refs/heads/y {a}\n");
        let refs = parse_pre_push_input(&input).unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].local_ref, "refs/heads/x");
        assert!(refs[0].remote_sha.is_null() && !refs[0].local_sha.is_null());
        assert!(refs[1].local_sha.is_null());
        assert!(parse_pre_push_input("refs/heads/x abc").is_err());
        assert!(parse_pre_push_input("").unwrap().is_empty());
    }

    #[test]
    fn the_current_script_is_the_last_known_version() {
        assert_eq!(
            KNOWN_HOOK_DIGESTS.last().copied(),
            Some(digest(hook_script().as_bytes()).as_str()),
            "a changed hook script needs its digest added to KNOWN_HOOK_DIGESTS"
        );
    }

    #[test]
    fn the_script_runs_seamguard_and_fails_open() {
        let script = hook_script();
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(script.contains(HOOK_SIGNATURE));
        assert!(script.contains("\nseamguard pre-push \"$@\"\n"));
        assert!(
            !script.contains("exec "),
            "the hook must see how seamguard ended"
        );
        assert!(script.ends_with("exit 0\n"));
    }
}
