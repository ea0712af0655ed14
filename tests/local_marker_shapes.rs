//! Conflicts as git really writes them — wider markers under
//! `conflict-marker-size`, bare markers from empty labels — produced by
//! `git merge` and `git merge-file`, then found by `seamguard scan`.

mod local_support;

use std::path::PathBuf;

use local_support::{CONFLICT, TestRepo};

/// `git merge-file -p` of three versions written next to the repository;
/// returns the merged text with its conflicts.
fn merge_file(repo: &TestRepo, extra: &[&str]) -> String {
    let dir: PathBuf = repo.dir.parent().unwrap().join("merge-file");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [
        ("ours", "a\nours\nc\n"),
        ("base", "a\nbase\nc\n"),
        ("theirs", "a\ntheirs\nc\n"),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let mut args = vec!["merge-file", "-p"];
    args.extend_from_slice(extra);
    let files: Vec<String> = ["ours", "base", "theirs"]
        .iter()
        .map(|n| dir.join(n).to_str().unwrap().to_owned())
        .collect();
    args.extend(files.iter().map(String::as_str));
    let out = repo.git_output(&args, None);
    // merge-file exits with the number of conflicts: one here.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// `main` with `.gitattributes` and a README, then branch `feature`.
fn repo_with_attributes(attributes: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.write(".gitattributes", attributes);
    repo.write("README.md", "Project\n=======\n");
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo
}

#[test]
fn a_real_merge_under_conflict_marker_size_is_found_at_that_width() {
    let repo = TestRepo::new();
    repo.write(".gitattributes", "*.adoc conflict-marker-size=32\n");
    repo.write("doc.adoc", "a\nb\nc\n");
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("doc.adoc", "a\nours\nc\n");
    repo.commit("ours");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("doc.adoc", "a\ntheirs\nc\n");
    repo.commit("theirs");
    repo.git(&["checkout", "-q", "feature"]);
    // Updating the branch from main: the merge source is fine, the result is not.
    let merge = repo.git_output(&["merge", "-q", "main"], None);
    assert!(!merge.status.success(), "the merge must conflict");
    let merged = std::fs::read_to_string(repo.path("doc.adoc")).unwrap();
    assert!(
        merged.contains(&format!("{} HEAD\n", "<".repeat(32))),
        "{merged}"
    );
    // Documentation that shows seven-wide examples is text at width 32.
    repo.write("guide.adoc", format!("How a conflict looks:\n\n{CONFLICT}"));
    repo.commit("merge, committed with its conflict");

    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.locations(),
        ["doc.adoc:2", "doc.adoc:4", "doc.adoc:6"],
        "{run:?}"
    );
    assert!(run.stderr.contains("conflict markers: 3 in"), "{run:?}");
}

#[test]
fn merge_file_with_a_marker_size_is_found_when_the_attribute_says_so() {
    let repo = repo_with_attributes("/notes/*.txt conflict-marker-size=12\n");
    let merged = merge_file(&repo, &["--marker-size=12", "--diff3"]);
    assert!(
        merged.starts_with(&format!("a\n{} ", "<".repeat(12))),
        "{merged}"
    );
    repo.write("notes/a.txt", &merged);
    // Lone 12-wide lines where the attribute does not reach: text.
    let lone = format!("{} x\n{} y\n", "<".repeat(12), ">".repeat(12));
    repo.write("other/lone.txt", &lone);
    // A complete 12-wide block there is a conflict all the same.
    repo.write("other/a.txt", &merged);
    repo.write("notes/lone.txt", &lone);
    repo.commit("merged notes");

    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 1, "{run:?}");
    let expected = [
        "notes/a.txt:2",
        "notes/a.txt:4",
        "notes/a.txt:6",
        "notes/a.txt:8",
        "notes/lone.txt:1",
        "notes/lone.txt:2",
        "other/a.txt:2",
        "other/a.txt:4",
        "other/a.txt:6",
        "other/a.txt:8",
    ];
    assert_eq!(run.locations(), expected, "{run:?}");

    // The width is the committed one, not the working tree's.
    repo.write(".gitattributes", "");
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.locations(), expected, "{run:?}");
    let run = repo.seamguard(&["scan", "--all"], "");
    assert_eq!(run.locations(), expected, "{run:?}");
}

#[test]
fn merge_file_with_a_marker_size_and_no_attribute_is_found_as_a_block() {
    let repo = repo_with_attributes("");
    let merged = merge_file(&repo, &["--marker-size=10"]);
    assert!(
        merged.starts_with(&format!("a\n{} ", "<".repeat(10))),
        "{merged}"
    );
    repo.write("merged.txt", &merged);
    // A Markdown rule of ten `=` is not a conflict.
    repo.write("rule.md", "Title\n==========\n\ntext\n");
    repo.commit("merged");
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.locations(),
        ["merged.txt:2", "merged.txt:4", "merged.txt:6"],
        "{run:?}"
    );
    let run = repo.seamguard(&["scan", "--all"], "");
    assert_eq!(run.locations().len(), 3, "{run:?}");
}

#[test]
fn a_branch_cannot_widen_its_own_markers_away() {
    let repo = repo_with_attributes("*.md text\n");
    let merged = merge_file(&repo, &[]);
    // The branch sets every marker 40 wide, which would hide its 7-wide ones.
    repo.write(".gitattributes", "* conflict-marker-size=40\n");
    repo.write("merged.txt", &merged);
    repo.commit("hide the markers");
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.locations(),
        ["merged.txt:2", "merged.txt:4", "merged.txt:6"],
        "{run:?}"
    );
    // Staged the same way, before a commit: the current commit's widths.
    repo.git(&["reset", "-q", "--soft", "HEAD~1"]);
    let run = repo.seamguard(&["scan", "--staged"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.locations().len(), 3, "{run:?}");
}

#[test]
fn markers_at_the_branchs_new_width_are_found_too() {
    let repo = repo_with_attributes("");
    let merged = merge_file(&repo, &["--marker-size=12", "--diff3"]);
    repo.write(".gitattributes", "*.txt conflict-marker-size=12\n");
    let lone = format!("a\n{} x\nb\n{} y\n", "<".repeat(12), ">".repeat(12));
    repo.write("notes/lone.txt", &lone);
    repo.write("notes/a.txt", &merged);
    repo.commit("widen");
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.locations(),
        [
            "notes/a.txt:2",
            "notes/a.txt:4",
            "notes/a.txt:6",
            "notes/a.txt:8",
            "notes/lone.txt:2",
            "notes/lone.txt:4"
        ],
        "{run:?}"
    );
}

#[test]
fn bare_markers_from_empty_labels_are_found() {
    let repo = repo_with_attributes("");
    let merged = merge_file(&repo, &["-L", "", "-L", "", "-L", ""]);
    // git writes the marker and the (empty) label's space: nothing else.
    assert_eq!(merged, "a\n<<<<<<< \nours\n=======\ntheirs\n>>>>>>> \nc\n");
    repo.write("merged.txt", &merged);
    let diff3 = merge_file(&repo, &["--diff3", "-L", "", "-L", "", "-L", ""]);
    assert!(diff3.contains("\n||||||| \n"), "{diff3}");
    repo.write("diff3.txt", &diff3);
    // jj's conflict style: bare markers around diff and snapshot sections.
    repo.write(
        "jj.txt",
        "a\n<<<<<<<\n%%%%%%%\n-base\n+ours\n+++++++\ntheirs\n>>>>>>>\nc\n",
    );
    // Markdown with a bare marker-like line and rules stays clean.
    repo.write("notes.md", "Title\n=======\n\n<<<<<<<\n\n=======\n");
    repo.commit("merged with empty labels");

    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.locations(),
        [
            "diff3.txt:2",
            "diff3.txt:4",
            "diff3.txt:6",
            "diff3.txt:8",
            "jj.txt:2",
            "jj.txt:8",
            "merged.txt:2",
            "merged.txt:4",
            "merged.txt:6",
        ],
        "{run:?}"
    );
}

#[test]
fn widths_come_from_the_remotes_base_for_scan_and_pre_push() {
    let repo = TestRepo::new();
    repo.add_bare_origin();
    repo.write(".gitattributes", "*.md text\n");
    repo.commit("base");
    repo.git(&["push", "-q", "-u", "origin", "main"]);
    repo.git(&["remote", "set-head", "origin", "main"]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let merged = merge_file(&repo, &[]);
    // The branch widens every marker to 40, which would hide its own.
    repo.write(".gitattributes", "* conflict-marker-size=40\n");
    repo.write("merged.txt", &merged);
    let head = repo.commit("hide the markers");

    // The default base: the remote's default branch (its merge base).
    let run = repo.seamguard(&["scan"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.locations(),
        ["merged.txt:2", "merged.txt:4", "merged.txt:6"],
        "{run:?}"
    );
    // The push of the new branch is blocked for the same markers.
    let zero = "0".repeat(head.len());
    let stdin = format!("refs/heads/feature {head} refs/heads/feature {zero}\n");
    let remote = repo.git(&["remote", "get-url", "origin"]);
    let run = repo.seamguard(&["pre-push", "origin", remote.trim()], &stdin);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("merged.txt:2:"), "{}", run.stderr);
}
