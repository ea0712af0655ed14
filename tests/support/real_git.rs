//! A real git repository, copied into the fake: every commit with its real
//! SHA, parents, subject, author date and whole tree, and every local branch.
//! The fake then answers compare, branches and contents from the same graph
//! the local twin (`seamguard scan`) reads with git.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{TimeZone, Utc};

use super::scenario::RepoHandle;
use super::world::{Blob, Commit, Tree};

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Reads every blob in `ids` with one `git cat-file --batch`.
fn blobs(dir: &Path, ids: &[String]) -> HashMap<String, Vec<u8>> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("git cat-file runs");
    let mut stdin = child.stdin.take().unwrap();
    let input: String = ids.iter().map(|id| format!("{id}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    writer.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success());
    let mut found = HashMap::new();
    let mut at = 0;
    for id in ids {
        let end = at + out[at..].iter().position(|&b| b == b'\n').unwrap();
        let header = String::from_utf8_lossy(&out[at..end]).into_owned();
        let size: usize = header.rsplit(' ').next().unwrap().parse().unwrap();
        found.insert(id.clone(), out[end + 1..end + 1 + size].to_vec());
        at = end + 1 + size + 1;
    }
    found
}

impl RepoHandle {
    /// Copies the repository at `dir` into this fake repository: its commits
    /// (real SHAs) and its local branches, which replace the fake's.
    pub fn import_git(&self, dir: &Path) {
        // One line per commit, parents first, then its changes against its
        // first parent (the root's against nothing).
        let log = git(
            dir,
            &[
                "log",
                "--all",
                "--topo-order",
                "--reverse",
                "--format=>%H %P%x00%at%x00%s",
                "--raw",
                "--no-abbrev",
                "--no-renames",
                "--diff-merges=first-parent",
            ],
        );
        let text = String::from_utf8_lossy(&log).into_owned();
        struct Raw {
            sha: String,
            parents: Vec<String>,
            at: i64,
            subject: String,
            changes: Vec<(String, Option<String>)>,
        }
        let mut raws: Vec<Raw> = Vec::new();
        for line in text.lines() {
            if let Some(head) = line.strip_prefix('>') {
                let (ids, rest) = head.split_once('\0').unwrap();
                let (at, subject) = rest.split_once('\0').unwrap();
                let mut ids = ids.split_whitespace().map(str::to_owned);
                raws.push(Raw {
                    sha: ids.next().unwrap(),
                    parents: ids.collect(),
                    at: at.parse().unwrap(),
                    subject: subject.to_owned(),
                    changes: Vec::new(),
                });
            } else if let Some(raw) = line.strip_prefix(':') {
                let (meta, path) = raw.split_once('\t').unwrap();
                let fields: Vec<&str> = meta.split(' ').collect();
                let blob = (fields[4] != "D").then(|| fields[3].to_owned());
                raws.last_mut()
                    .unwrap()
                    .changes
                    .push((path.to_owned(), blob));
            }
        }
        let mut ids: Vec<String> = raws
            .iter()
            .flat_map(|r| r.changes.iter().filter_map(|(_, b)| b.clone()))
            .collect();
        ids.sort();
        ids.dedup();
        let contents = blobs(dir, &ids);
        let branches = String::from_utf8_lossy(&git(
            dir,
            &[
                "for-each-ref",
                "--format=%(refname:short) %(objectname)",
                "refs/heads",
            ],
        ))
        .into_owned();
        self.edit(|repo| {
            let mut trees: HashMap<String, Tree> = HashMap::new();
            for raw in &raws {
                let mut tree = raw
                    .parents
                    .first()
                    .map(|p| trees[p].clone())
                    .unwrap_or_default();
                for (path, blob) in &raw.changes {
                    match blob {
                        Some(id) => {
                            let b = Blob::new(&contents[id]);
                            repo.blobs
                                .entry(b.sha.clone())
                                .or_insert_with(|| b.bytes.clone());
                            tree.insert(path.clone(), b);
                        }
                        None => {
                            tree.remove(path);
                        }
                    }
                }
                trees.insert(raw.sha.clone(), tree.clone());
                repo.commits.insert(
                    raw.sha.clone(),
                    Commit {
                        sha: raw.sha.clone(),
                        parents: raw.parents.clone(),
                        message: raw.subject.clone(),
                        author: "octocat".to_owned(),
                        committer: "octocat".to_owned(),
                        date: Utc.timestamp_opt(raw.at, 0).single().unwrap(),
                        tree,
                    },
                );
            }
            repo.branches.clear();
            for line in branches.lines() {
                let (name, sha) = line.split_once(' ').unwrap();
                repo.set_branch(name, sha);
            }
        });
    }
}
