//! Reading a local repository through the `git` binary.
//!
//! Why the binary and not an in-process library (gix): it is the reference
//! implementation, so every repository git can read works here too (packs,
//! alternates, partial clones, SHA-256, worktrees, `core.hooksPath`), it
//! adds no dependency (gix would add over a hundred crates and minutes of
//! build on a 2-core machine), and it is fast where it matters. Listing is
//! one `ls-tree`/`diff-tree` call; blob contents stream through long-lived
//! `git cat-file --batch` processes, one per worker, so inflating objects
//! (the real cost of `scan --all`) runs on every core while this process
//! scans what arrives. Only the rare file that holds markers costs one more
//! process, a `git diff -U0` of two blobs, to learn which lines were added.
//!
//! Robustness: every machine-read output uses `-z` or a fixed format, so
//! paths with spaces, quotes, newlines or non-UTF-8 bytes pass unharmed;
//! porcelain `git diff` gets explicit flags that override user config
//! (`--no-color`, `--no-ext-diff`, `--no-textconv`); a missing object, a
//! failed command or a short read is an error naming the command, never a
//! silent "clean".

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail, ensure};

use crate::gate::conflict_markers::parse_marker_size;
use crate::gate::patch::added_lines;
use crate::ids::CommitSha;

/// Blob readers run in parallel: two covers a 2-core machine, where one
/// `git cat-file` inflating per core is what keeps pace with `git grep`.
pub const MAX_BLOB_WORKERS: usize = 2;

/// Pipe buffer for `cat-file` output: large enough that a typical source
/// file arrives in one read.
const BLOB_READ_BUFFER: usize = 256 * 1024;

/// A git object id (blob, tree or commit) in hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(String);

impl ObjectId {
    /// Accepts 40 (SHA-1) or 64 (SHA-256) hex digits.
    pub fn parse(hex: &[u8]) -> Option<Self> {
        let ok = matches!(hex.len(), 40 | 64) && hex.iter().all(u8::is_ascii_hexdigit);
        ok.then(|| Self(String::from_utf8_lossy(hex).to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The all-zero id git uses for "no object" (deleted, not yet existing).
    pub fn is_null(&self) -> bool {
        self.0.bytes().all(|b| b == b'0')
    }
}

impl From<CommitSha> for ObjectId {
    fn from(sha: CommitSha) -> Self {
        Self(sha.as_str().to_owned())
    }
}

/// The git file modes that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// `100644` or `100755`: a file whose content is scanned.
    Regular,
    /// `120000`: its content is a link target, not text anyone edits.
    Symlink,
    /// `160000`: a submodule commit, not content of this repository.
    Submodule,
    /// `040000`, `000000` (absent) and anything else.
    Other,
}

impl FileMode {
    fn parse(octal: &[u8]) -> Self {
        match octal {
            b"100644" | b"100755" | b"100664" => FileMode::Regular,
            b"120000" => FileMode::Symlink,
            b"160000" => FileMode::Submodule,
            _ => FileMode::Other,
        }
    }
}

/// A file in a tree (`git ls-tree -r`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    pub mode: FileMode,
    pub blob: ObjectId,
    /// Repository-relative, `/`-separated; non-UTF-8 bytes replaced.
    pub path: String,
}

/// A file that differs between two trees (`git diff-tree -r -M`), seen
/// from the new side. Deleted files are not listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    pub path: String,
    pub new_mode: FileMode,
    pub new_blob: ObjectId,
    /// The blob it was compared with (the old side of a rename included);
    /// `None` when the file is new.
    pub old_blob: Option<ObjectId>,
}

/// Where `.gitattributes` is read from.
#[derive(Debug, Clone, Copy)]
pub enum AttrSource<'a> {
    /// The tree of a commit.
    Commit(&'a CommitSha),
    /// The index: what is staged.
    Index,
}

/// A local repository, addressed by its top-level folder (or, when bare, its git dir).
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
    worktree: Option<PathBuf>,
}

impl Repo {
    /// Finds the repository that holds `path` (any folder inside it).
    pub fn discover(path: &Path) -> Result<Self> {
        let toplevel = Command::new("git")
            .arg("-C")
            .arg(path)
            .args(["rev-parse", "--show-toplevel"])
            .stderr(Stdio::piped())
            .output()
            .context("could not run git (is it installed and on PATH?)")?;
        if toplevel.status.success() {
            let root = PathBuf::from(trim_line(&String::from_utf8_lossy(&toplevel.stdout)));
            return Ok(Self {
                root: root.clone(),
                worktree: Some(root),
            });
        }
        // A bare repository has no top level, but a git dir we can read.
        let git_dir = Command::new("git")
            .arg("-C")
            .arg(path)
            .args(["rev-parse", "--absolute-git-dir"])
            .output()
            .context("could not run git (is it installed and on PATH?)")?;
        if git_dir.status.success() {
            let root = PathBuf::from(trim_line(&String::from_utf8_lossy(&git_dir.stdout)));
            return Ok(Self {
                root,
                worktree: None,
            });
        }
        bail!(
            "{} is not in a git repository: {}",
            path.display(),
            trim_line(&String::from_utf8_lossy(&toplevel.stderr))
        )
    }

    /// The working tree's top folder, if the repository has one.
    pub fn worktree(&self) -> Option<&Path> {
        self.worktree.as_deref()
    }

    /// The folder git commands run in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A `git` command in this repository.
    fn git(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.root);
        cmd
    }

    /// Runs git with `args` and returns its standard output.
    pub fn run<I, S>(&self, args: I) -> Result<Vec<u8>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.git();
        cmd.args(args);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("could not run {}", describe(&cmd)))?;
        ensure!(
            out.status.success(),
            "{} failed ({}): {}",
            describe(&cmd),
            out.status,
            trim_line(&String::from_utf8_lossy(&out.stderr))
        );
        Ok(out.stdout)
    }

    /// Resolves `rev` to a commit; `None` when it names no commit.
    pub fn resolve_commit(&self, rev: &str) -> Result<Option<CommitSha>> {
        let mut cmd = self.git();
        cmd.args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{rev}^{{commit}}"));
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("could not run {}", describe(&cmd)))?;
        if !out.status.success() {
            return Ok(None);
        }
        let hex = trim_line(&String::from_utf8_lossy(&out.stdout)).to_owned();
        hex.parse()
            .map(Some)
            .map_err(|e| anyhow!("git rev-parse printed {hex:?}: {e}"))
    }

    /// Resolves `rev` to a commit or says clearly that it does not exist.
    pub fn commit(&self, rev: &str) -> Result<CommitSha> {
        self.resolve_commit(rev)?
            .ok_or_else(|| anyhow!("{rev:?} does not name a commit in {}", self.root.display()))
    }

    /// The upstream of the current branch, if it has one.
    pub fn upstream(&self) -> Result<Option<CommitSha>> {
        self.resolve_commit("@{upstream}")
    }

    /// All merge bases of `a` and `b` (several after criss-cross merges;
    /// none for unrelated histories).
    pub fn merge_bases(&self, a: &CommitSha, b: &CommitSha) -> Result<Vec<CommitSha>> {
        let mut cmd = self.git();
        cmd.args(["merge-base", "--all", a.as_str(), b.as_str()]);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("could not run {}", describe(&cmd)))?;
        match out.status.code() {
            Some(0) => parse_shas(&out.stdout),
            // Exit 1 with no output: no common ancestor.
            Some(1) if out.stdout.is_empty() && out.stderr.is_empty() => Ok(Vec::new()),
            _ => bail!(
                "{} failed ({}): {}",
                describe(&cmd),
                out.status,
                trim_line(&String::from_utf8_lossy(&out.stderr))
            ),
        }
    }

    /// Commits reachable from `head` and from none of `exclude`, and the
    /// boundary: the commits just outside that set which it builds on.
    pub fn new_commits(
        &self,
        head: &CommitSha,
        exclude: &[CommitSha],
    ) -> Result<(Vec<CommitSha>, Vec<CommitSha>)> {
        let mut args = vec![
            "rev-list".to_owned(),
            "--boundary".to_owned(),
            head.as_str().to_owned(),
        ];
        args.extend(exclude.iter().map(|sha| format!("^{}", sha.as_str())));
        let out = self.run(&args)?;
        let (mut inside, mut boundary) = (Vec::new(), Vec::new());
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            match line.strip_prefix(b"-") {
                Some(sha) => boundary.push(parse_sha(sha)?),
                None => inside.push(parse_sha(line)?),
            }
        }
        Ok((inside, boundary))
    }

    /// The commits at the tips of the refs under `prefix` (`refs/remotes/origin/`).
    pub fn ref_tips(&self, prefix: &str) -> Result<Vec<CommitSha>> {
        let out = self.run([
            "for-each-ref",
            "--format=%(objectname) %(objecttype) %(*objectname)",
            prefix,
        ])?;
        let mut tips = Vec::new();
        for line in String::from_utf8_lossy(&out).lines() {
            let mut fields = line.split(' ');
            let (oid, kind, peeled) = (fields.next(), fields.next(), fields.next());
            // An annotated tag points at its commit through the peeled id.
            let commit = match (kind, peeled) {
                (Some("commit"), _) => oid,
                (Some("tag"), Some(p)) if !p.is_empty() => Some(p),
                _ => None,
            };
            if let Some(sha) = commit.and_then(|c| c.parse().ok()) {
                tips.push(sha);
            }
        }
        tips.sort();
        tips.dedup();
        Ok(tips)
    }

    /// The configured remote whose fetch or push URL is `url`, if any.
    pub fn remote_named_by_url(&self, url: &str) -> Result<Option<String>> {
        let out = self
            .git()
            .args(["config", "--get-regexp", r"^remote\..*\.(push)?url$"])
            .stdin(Stdio::null())
            .output()
            .context("could not run git config")?;
        // Exit 1: no remote has a URL at all.
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.lines().find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            let name = key.strip_prefix("remote.")?;
            let name = name
                .strip_suffix(".pushurl")
                .or_else(|| name.strip_suffix(".url"))?;
            (value == url).then(|| name.to_owned())
        }))
    }

    /// Whether `name` is a configured remote (it has a URL or a push URL).
    pub fn is_remote(&self, name: &str) -> bool {
        ["url", "pushurl"].iter().any(|key| {
            self.run(["config", "--get", &format!("remote.{name}.{key}")])
                .is_ok_and(|out| !out.is_empty())
        })
    }

    /// The current branch's upstream remote (`branch.<name>.remote`), if any.
    pub fn upstream_remote(&self) -> Option<String> {
        let branch = self
            .run(["symbolic-ref", "--quiet", "--short", "HEAD"])
            .ok()?;
        let branch = trim_line(&String::from_utf8_lossy(&branch)).to_owned();
        let out = self
            .run(["config", "--get", &format!("branch.{branch}.remote")])
            .ok()?;
        let remote = trim_line(&String::from_utf8_lossy(&out)).to_owned();
        // `.` means a local branch, not a remote.
        (!remote.is_empty() && remote != ".").then_some(remote)
    }

    /// Every file in the tree of `rev`.
    pub fn ls_tree(&self, rev: &CommitSha) -> Result<Vec<TreeFile>> {
        let out = self.run(["ls-tree", "-r", "-z", "--full-tree", rev.as_str()])?;
        out.split(|&b| b == 0)
            .filter(|entry| !entry.is_empty())
            .map(parse_ls_tree_entry)
            .collect()
    }

    /// Files added or modified from `base` to `head` (renames followed).
    pub fn diff_tree(&self, base: &CommitSha, head: &CommitSha) -> Result<Vec<ChangedFile>> {
        let out = self.run([
            "diff-tree",
            "-r",
            "-z",
            "--find-renames",
            "--no-commit-id",
            base.as_str(),
            head.as_str(),
        ])?;
        parse_diff_tree(&out)
    }

    /// Files the index (what `git commit` would record) adds or modifies
    /// compared with `base`, renames followed; with no `base` (a repository
    /// with no commit yet) every staged file is new. The index's blobs are
    /// in the object store already: `git add` wrote them.
    pub fn diff_staged(&self, base: Option<&CommitSha>) -> Result<Vec<ChangedFile>> {
        let empty_tree;
        let base = match base {
            Some(base) => base.as_str(),
            None => {
                // The empty tree's id in this repository's hash (not written).
                let out = self.run(["hash-object", "-t", "tree", "/dev/null"])?;
                empty_tree = trim_line(&String::from_utf8_lossy(&out)).to_owned();
                empty_tree.as_str()
            }
        };
        let out = self.run([
            "diff-index",
            "--cached",
            "-z",
            "--find-renames",
            "--no-ext-diff",
            base,
        ])?;
        parse_diff_tree(&out)
    }

    /// The line numbers of `new` that are not in `old` (git's own line diff).
    pub fn added_lines(&self, old: &ObjectId, new: &ObjectId) -> Result<Vec<u32>> {
        let out = self.run([
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--text",
            "--unified=0",
            old.as_str(),
            new.as_str(),
        ])?;
        Ok(added_lines(&out))
    }

    /// The conflict-marker width of each path at `rev`, in `paths` order:
    /// `conflict-marker-size` as `git check-attr` reads it from the
    /// `.gitattributes` files of that commit's tree (plus the repository's
    /// `info/attributes` and the user's attributes file, as git does).
    pub fn marker_widths(&self, source: AttrSource<'_>, paths: &[&str]) -> Result<Vec<usize>> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = self.git();
        cmd.args(["check-attr", "-z", "--stdin"]);
        match source {
            AttrSource::Commit(rev) => cmd.arg(format!("--source={}", rev.as_str())),
            AttrSource::Index => cmd.arg("--cached"),
        };
        cmd.arg("conflict-marker-size");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not run {}", describe(&cmd)))?;
        let stdin = child.stdin.take().context("check-attr stdin")?;
        // Paths go in from a thread: git answers while we still write.
        let writer = std::thread::spawn({
            let mut input = Vec::with_capacity(paths.iter().map(|p| p.len() + 1).sum());
            for path in paths {
                input.extend_from_slice(path.as_bytes());
                input.push(0);
            }
            move || -> std::io::Result<()> {
                let mut w = BufWriter::new(stdin);
                w.write_all(&input)?;
                w.flush()
            }
        });
        let out = child
            .wait_with_output()
            .with_context(|| format!("waiting for {}", describe(&cmd)))?;
        let wrote = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("writer panicked")));
        ensure!(
            out.status.success(),
            "{} failed ({}): {}",
            describe(&cmd),
            out.status,
            trim_line(&String::from_utf8_lossy(&out.stderr))
        );
        wrote.with_context(|| describe(&cmd))?;
        parse_check_attr(&out.stdout, paths.len())
    }

    /// Whether an attributes file outside the repository's trees exists:
    /// `info/attributes` in the git dir, the user's (`core.attributesFile`,
    /// else `$XDG_CONFIG_HOME/git/attributes` or
    /// `~/.config/git/attributes`) or the system's (`/etc/gitattributes`,
    /// `/usr/local/etc/gitattributes`, unless `GIT_ATTR_NOSYSTEM`). With
    /// none, and no `.gitattributes` in a tree, every width is the default.
    /// Two small git calls.
    pub fn has_attributes_outside_trees(&self) -> Result<bool> {
        let out = self.run(["rev-parse", "--git-path", "info/attributes"])?;
        let info = PathBuf::from(trim_line(&String::from_utf8_lossy(&out)));
        let info = if info.is_absolute() {
            info
        } else {
            self.root.join(info)
        };
        let mut files = vec![info];
        let mut cmd = self.git();
        cmd.args(["config", "--path", "--get", "core.attributesFile"]);
        let configured = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("could not run {}", describe(&cmd)))?;
        let configured = trim_line(&String::from_utf8_lossy(&configured.stdout)).to_owned();
        if !configured.is_empty() {
            files.push(PathBuf::from(configured));
        } else if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            files.push(PathBuf::from(xdg).join("git/attributes"));
        } else if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            files.push(PathBuf::from(home).join(".config/git/attributes"));
        }
        let no_system = std::env::var("GIT_ATTR_NOSYSTEM")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
        if !no_system {
            files.push(PathBuf::from("/etc/gitattributes"));
            files.push(PathBuf::from("/usr/local/etc/gitattributes"));
        }
        Ok(files.iter().any(|f| f.exists()))
    }

    /// Reads each blob and hands it to `visit`, from up to `workers` parallel
    /// `git cat-file --batch` processes. Results come back in `blobs` order.
    pub fn read_blobs<R, F>(&self, blobs: &[ObjectId], workers: usize, visit: F) -> Result<Vec<R>>
    where
        R: Send,
        F: Fn(&ObjectId, &[u8]) -> R + Sync,
    {
        if blobs.is_empty() {
            return Ok(Vec::new());
        }
        let workers = workers.clamp(1, MAX_BLOB_WORKERS).min(blobs.len());
        let mut results: Vec<Option<R>> =
            std::iter::repeat_with(|| None).take(blobs.len()).collect();
        let per_worker: Vec<Result<Vec<(usize, R)>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let share: Vec<usize> = (w..blobs.len()).step_by(workers).collect();
                    let visit = &visit;
                    s.spawn(move || self.cat_file_worker(blobs, &share, visit))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("a blob reader panicked")))
                })
                .collect()
        });
        for worker in per_worker {
            for (i, r) in worker? {
                results[i] = Some(r);
            }
        }
        results
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.ok_or_else(|| anyhow!("blob {} was never read", blobs[i].as_str())))
            .collect()
    }

    fn cat_file_worker<R, F>(
        &self,
        blobs: &[ObjectId],
        share: &[usize],
        visit: &F,
    ) -> Result<Vec<(usize, R)>>
    where
        F: Fn(&ObjectId, &[u8]) -> R,
    {
        let mut cmd = self.git();
        cmd.args(["cat-file", "--batch", "--buffer"]);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not run {}", describe(&cmd)))?;
        let stdin = child.stdin.take().context("cat-file stdin")?;
        let stdout = child.stdout.take().context("cat-file stdout")?;
        let mut stderr = child.stderr.take().context("cat-file stderr")?;

        let outcome = std::thread::scope(|s| {
            // Requests go in from a thread of their own: git answers while we
            // still write, and neither side may block the other.
            let writer = s.spawn(move || -> std::io::Result<()> {
                let mut w = BufWriter::new(stdin);
                for &i in share {
                    w.write_all(blobs[i].as_str().as_bytes())?;
                    w.write_all(b"\n")?;
                }
                w.flush()
            });
            let errors = s.spawn(move || {
                let mut text = String::new();
                let _ = stderr.read_to_string(&mut text);
                text
            });
            let read = read_batch(
                BufReader::with_capacity(BLOB_READ_BUFFER, stdout),
                blobs,
                share,
                visit,
            );
            let wrote = writer
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("writer panicked")));
            let errors = errors.join().unwrap_or_default();
            (read, wrote, errors)
        });
        let status = child.wait().context("waiting for git cat-file")?;
        let (read, wrote, errors) = outcome;
        let context = || format!("{} ({status}): {}", describe(&cmd), trim_line(&errors));
        let results = read.with_context(context)?;
        wrote.with_context(context)?;
        ensure!(status.success(), "{}", context());
        Ok(results)
    }
}

/// Reads `cat-file --batch` answers for `share`, in order, into `visit`.
fn read_batch<R, F>(
    mut out: impl BufRead,
    blobs: &[ObjectId],
    share: &[usize],
    visit: &F,
) -> Result<Vec<(usize, R)>>
where
    F: Fn(&ObjectId, &[u8]) -> R,
{
    let mut header = Vec::with_capacity(128);
    let mut content = Vec::new();
    let mut results = Vec::with_capacity(share.len());
    for &i in share {
        let oid = &blobs[i];
        header.clear();
        out.read_until(b'\n', &mut header)?;
        let line = header
            .strip_suffix(b"\n")
            .context("git cat-file ended early")?;
        let mut fields = line.split(|&b| b == b' ');
        let (name, kind, size) = (fields.next(), fields.next(), fields.next());
        ensure!(
            name == Some(oid.as_str().as_bytes()),
            "git cat-file answered {:?} for {}",
            String::from_utf8_lossy(line),
            oid.as_str()
        );
        ensure!(
            kind == Some(b"blob"),
            "object {} is {} (missing or corrupt repository?)",
            oid.as_str(),
            String::from_utf8_lossy(kind.unwrap_or(b"missing"))
        );
        let size: usize = std::str::from_utf8(size.unwrap_or_default())
            .ok()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad size in {:?}", String::from_utf8_lossy(line)))?;
        content.clear();
        content.resize(size, 0);
        out.read_exact(&mut content)
            .with_context(|| format!("short read of blob {}", oid.as_str()))?;
        let mut newline = [0u8; 1];
        out.read_exact(&mut newline)?;
        ensure!(
            newline == *b"\n",
            "git cat-file output out of step after {}",
            oid.as_str()
        );
        results.push((i, visit(oid, &content)));
    }
    Ok(results)
}

/// `<mode> SP <type> SP <oid> TAB <path>`
fn parse_ls_tree_entry(entry: &[u8]) -> Result<TreeFile> {
    let bad = || {
        anyhow!(
            "unexpected git ls-tree entry {:?}",
            String::from_utf8_lossy(entry)
        )
    };
    let tab = memchr::memchr(b'\t', entry).ok_or_else(bad)?;
    let mut meta = entry[..tab].split(|&b| b == b' ');
    let (mode, _kind, oid) = (
        meta.next().ok_or_else(bad)?,
        meta.next().ok_or_else(bad)?,
        meta.next().ok_or_else(bad)?,
    );
    Ok(TreeFile {
        mode: FileMode::parse(mode),
        blob: ObjectId::parse(oid).ok_or_else(bad)?,
        path: String::from_utf8_lossy(&entry[tab + 1..]).into_owned(),
    })
}

/// `:<old mode> <new mode> <old oid> <new oid> <status>\0<path>\0`, with a
/// second path for renames and copies.
fn parse_diff_tree(out: &[u8]) -> Result<Vec<ChangedFile>> {
    let mut fields = out.split(|&b| b == 0);
    let mut changes = Vec::new();
    while let Some(meta) = fields.next() {
        if meta.is_empty() {
            continue;
        }
        let bad = || {
            anyhow!(
                "unexpected git diff-tree entry {:?}",
                String::from_utf8_lossy(meta)
            )
        };
        let meta_body = meta.strip_prefix(b":").ok_or_else(bad)?;
        let parts: Vec<&[u8]> = meta_body.split(|&b| b == b' ').collect();
        let [_old_mode, new_mode, old_oid, new_oid, status] = parts[..] else {
            return Err(bad());
        };
        let mut path = fields.next().ok_or_else(bad)?;
        let status = *status.first().ok_or_else(bad)?;
        if matches!(status, b'R' | b'C') {
            path = fields.next().ok_or_else(bad)?;
        }
        if status == b'D' {
            continue;
        }
        let old = ObjectId::parse(old_oid).ok_or_else(bad)?;
        changes.push(ChangedFile {
            path: String::from_utf8_lossy(path).into_owned(),
            new_mode: FileMode::parse(new_mode),
            new_blob: ObjectId::parse(new_oid).ok_or_else(bad)?,
            old_blob: (!old.is_null()).then_some(old),
        });
    }
    Ok(changes)
}

/// `<path> NUL <attribute> NUL <value> NUL`, one triple per path asked, in
/// order; the value `unspecified`, `unset` or `set` means the default width.
fn parse_check_attr(out: &[u8], expected: usize) -> Result<Vec<usize>> {
    let fields: Vec<&[u8]> = out.split(|&b| b == 0).collect();
    // A trailing NUL leaves one empty field at the end.
    let triples = fields.len() / 3;
    ensure!(
        triples == expected,
        "git check-attr answered for {triples} paths, {expected} were asked"
    );
    Ok(fields
        .chunks_exact(3)
        .map(|t| parse_marker_size(&String::from_utf8_lossy(t[2])))
        .collect())
}

fn parse_sha(hex: &[u8]) -> Result<CommitSha> {
    let text = String::from_utf8_lossy(hex);
    text.parse()
        .map_err(|e| anyhow!("git printed {text:?}: {e}"))
}

fn parse_shas(out: &[u8]) -> Result<Vec<CommitSha>> {
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(parse_sha)
        .collect()
}

fn trim_line(s: &str) -> &str {
    s.trim_end_matches(['\n', '\r'])
}

fn describe(cmd: &Command) -> String {
    let args: Vec<String> = cmd
        .get_args()
        .skip(2) // -C <root>
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    format!("git {}", args.join(" "))
}

/// Groups items by a key, keeping first-seen order of keys: used to read each
/// distinct blob once however many paths share it.
pub fn group_by_blob<T>(
    items: Vec<T>,
    blob: impl Fn(&T) -> &ObjectId,
) -> (Vec<ObjectId>, Vec<Vec<T>>) {
    let mut index: HashMap<ObjectId, usize> = HashMap::with_capacity(items.len());
    let (mut keys, mut groups): (Vec<ObjectId>, Vec<Vec<T>>) = (Vec::new(), Vec::new());
    for item in items {
        let key = blob(&item);
        match index.get(key) {
            Some(&g) => groups[g].push(item),
            None => {
                index.insert(key.clone(), keys.len());
                keys.push(key.clone());
                groups.push(vec![item]);
            }
        }
    }
    (keys, groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_tree_entries_keep_awkward_paths() {
        let e = parse_ls_tree_entry(
            b"100644 blob 0123456789abcdef0123456789abcdef01234567\tdir/a b\tc\n\xff.txt",
        )
        .unwrap();
        assert_eq!(e.mode, FileMode::Regular);
        assert_eq!(e.path, "dir/a b\tc\n\u{fffd}.txt");
        let link =
            parse_ls_tree_entry(b"120000 blob 0123456789abcdef0123456789abcdef01234567\tlink")
                .unwrap();
        assert_eq!(link.mode, FileMode::Symlink);
        let sub = parse_ls_tree_entry(
            b"160000 commit 0123456789abcdef0123456789abcdef01234567\tvendor/x",
        )
        .unwrap();
        assert_eq!(sub.mode, FileMode::Submodule);
        assert!(parse_ls_tree_entry(b"garbage").is_err());
    }

    #[test]
    fn diff_tree_follows_renames_and_drops_deletions() {
        let (a, b, z) = ("a".repeat(40), "b".repeat(40), "0".repeat(40));
        let out = format!(
            ":100644 100644 {a} {b} M\0mod.txt\0\
             :000000 100644 {z} {b} A\0new file.txt\0\
             :100644 000000 {a} {z} D\0gone.txt\0\
             :100644 100644 {a} {b} R087\0old name\0new name\0\
             :100644 120000 {a} {b} T\0now-a-link\0"
        );
        let changes = parse_diff_tree(out.as_bytes()).unwrap();
        let summary: Vec<(&str, bool, FileMode)> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.old_blob.is_some(), c.new_mode))
            .collect();
        assert_eq!(
            summary,
            [
                ("mod.txt", true, FileMode::Regular),
                ("new file.txt", false, FileMode::Regular),
                ("new name", true, FileMode::Regular),
                ("now-a-link", true, FileMode::Symlink),
            ]
        );
        assert!(parse_diff_tree(b":100644 100644 x").is_err());
    }

    #[test]
    fn batch_output_is_read_in_step() {
        let (a, b) = (ObjectId("a".repeat(40)), ObjectId("b".repeat(40)));
        let out = format!("{} blob 3\nabc\n{} blob 0\n\n", a.as_str(), b.as_str());
        let blobs = [a.clone(), b.clone()];
        let got = read_batch(out.as_bytes(), &blobs, &[0, 1], &|_, c: &[u8]| c.to_vec()).unwrap();
        assert_eq!(got, [(0, b"abc".to_vec()), (1, Vec::new())]);

        let missing = format!("{} missing\n", a.as_str());
        let err = read_batch(missing.as_bytes(), &blobs, &[0], &|_, c: &[u8]| c.len()).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        let short = format!("{} blob 10\nabc", a.as_str());
        assert!(read_batch(short.as_bytes(), &blobs, &[0], &|_, c: &[u8]| c.len()).is_err());
    }

    #[test]
    fn check_attr_output_gives_widths_in_order() {
        let out = b"a.txt\0conflict-marker-size\x0032\0b c\0conflict-marker-size\0unspecified\0";
        assert_eq!(parse_check_attr(out, 2).unwrap(), [32, 7]);
        assert!(parse_check_attr(out, 3).is_err());
        assert_eq!(parse_check_attr(b"", 0).unwrap(), Vec::<usize>::new());
    }

    #[test]
    fn blobs_are_grouped_once() {
        let (a, b) = (ObjectId("a".repeat(40)), ObjectId("b".repeat(40)));
        let items = vec![(a.clone(), "x"), (b.clone(), "y"), (a.clone(), "z")];
        let (keys, groups) = group_by_blob(items, |(oid, _)| oid);
        assert_eq!(keys, [a.clone(), b.clone()]);
        assert_eq!(groups, [vec![(a.clone(), "x"), (a, "z")], vec![(b, "y")]]);
    }
}
