//! Temporary git repositories and the real `seamguard` binary, for the
//! local CLI tests. Git runs hermetically: no system or global config, a
//! private HOME, fixed identities.

#![allow(dead_code)] // each test crate uses a different part

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const SEAMGUARD: &str = env!("CARGO_BIN_EXE_seamguard");

pub struct TestRepo {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    home: PathBuf,
}

impl TestRepo {
    /// A new repository with branch `main` checked out and no commits.
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let repo = Self {
            _tmp: tmp,
            dir,
            home,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A bare repository next to this one, added as remote `origin`.
    pub fn add_bare_origin(&self) -> PathBuf {
        let bare = self.dir.with_file_name("origin.git");
        self.git_in(
            self.dir.parent().unwrap(),
            &["init", "-q", "--bare", "-b", "main", "origin.git"],
        );
        self.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
        bare
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Applies hermetic environment to a command that runs git.
    pub fn env(&self, cmd: &mut Command) {
        cmd.env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE");
    }

    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.dir, args)
    }

    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        cmd.args(args).current_dir(dir);
        self.env(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    /// Runs git and returns its whole output, success or not.
    pub fn git_output(&self, args: &[&str], path_prefix: Option<&Path>) -> Output {
        let mut cmd = Command::new("git");
        cmd.args(args).current_dir(&self.dir);
        self.env(&mut cmd);
        if let Some(prefix) = path_prefix {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![prefix.to_path_buf()];
            dirs.extend(std::env::split_paths(&path));
            cmd.env("PATH", std::env::join_paths(dirs).unwrap());
        }
        cmd.output().unwrap()
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> &Self {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Runs `seamguard ARGS` in the repository with `stdin`.
    pub fn seamguard(&self, args: &[&str], stdin: &str) -> Run {
        self.seamguard_in(&self.dir, args, stdin)
    }

    pub fn seamguard_in(&self, dir: &Path, args: &[&str], stdin: &str) -> Run {
        let mut cmd = Command::new(SEAMGUARD);
        cmd.args(args).current_dir(dir);
        self.env(&mut cmd);
        run(cmd, stdin)
    }
}

/// Runs `cmd` with `stdin` and collects the result.
pub fn run(mut cmd: Command, stdin: &str) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The `path:line` of each finding printed on stdout.
    pub fn locations(&self) -> Vec<String> {
        self.stdout
            .lines()
            .map(|l| {
                let (loc, _) = l.rsplit_once(": conflict marker").unwrap_or((l, ""));
                loc.to_owned()
            })
            .collect()
    }
}

/// A complete conflict as git writes it.
pub const CONFLICT: &str = "<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> feature\n";
