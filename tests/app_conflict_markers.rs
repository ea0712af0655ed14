//! The conflict-marker guard in the App: a pull request whose head adds
//! git conflict markers fails, with an annotation at each file and head
//! line; Markdown rules and setext headings do not.

mod support;

use support::flows::evaluate_once;
use support::{FakeGitHub, ready};

fn lines(n: usize, prefix: &str) -> String {
    (1..=n).map(|i| format!("{prefix} {i}\n")).collect()
}

#[tokio::test]
async fn added_markers_fail_with_annotations_at_head_lines() {
    let original = lines(40, "line");
    // The head edits line 20 into a half-resolved conflict: the markers sit
    // at head lines 20, 22 and 24, well inside the file.
    let mut edited: Vec<String> = original.lines().map(str::to_owned).collect();
    edited.splice(
        19..20,
        [
            "<<<<<<< HEAD".to_owned(),
            "ours".to_owned(),
            "=======".to_owned(),
            "theirs".to_owned(),
            ">>>>>>> develop".to_owned(),
        ],
    );
    let edited = edited.join("\n") + "\n";
    let s = ready()
        .base_file("src/lib.rs", &original)
        .file("src/lib.rs", &edited)
        .file("docs/guide.md", "# Guide\n\ntext\n")
        .open()
        .await;

    let run = evaluate_once(&s, &s.repo, 7, "opened").await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let at: Vec<(String, u64, u64, String)> = run
        .annotations
        .iter()
        .map(|a| {
            (
                a.path.clone(),
                a.start_line,
                a.end_line,
                a.annotation_level.clone(),
            )
        })
        .collect();
    assert_eq!(
        at,
        vec![
            ("src/lib.rs".into(), 20, 20, "failure".into()),
            ("src/lib.rs".into(), 22, 22, "failure".into()),
            ("src/lib.rs".into(), 24, 24, "failure".into()),
        ]
    );
    assert!(run.annotations[0].message.contains("<<<<<<<"));
    assert!(run.annotations[1].message.contains("======="));
    assert!(run.annotations[2].message.contains(">>>>>>>"));
    let title = run.output.as_ref().unwrap().title.clone();
    assert_eq!(title, "3 conflict markers in 1 file");
}

#[tokio::test]
async fn markdown_rules_and_setext_headings_pass() {
    let doc = "Title\n=======\n\nSome text.\n\n=======\n\nMore text.\n";
    let s = ready().file("README.md", doc).open().await;

    let run = evaluate_once(&s, &s.repo, 7, "opened").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{}",
        run.summary()
    );
    assert!(run.annotations.is_empty());
}

#[tokio::test]
async fn markers_only_in_context_lines_are_not_the_pull_requests() {
    // main already carries a fixture with markers; the PR edits next to it.
    let fixture = "a\n<<<<<<< ours\nb\n=======\nc\n>>>>>>> theirs\nd\n";
    let edited = fixture.replace("d\n", "d\ne\n");
    let s = ready()
        .base_file("tests/fixture.txt", fixture)
        .file("tests/fixture.txt", &edited)
        .open()
        .await;

    let run = evaluate_once(&s, &s.repo, 7, "opened").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{}",
        run.summary()
    );
}

#[tokio::test]
async fn a_hundred_and_twenty_findings_go_out_in_three_batches() {
    let block = "<<<<<<< HEAD\nx\n=======\ny\n>>>>>>> b\n";
    // 40 conflict blocks in one file: 120 marker lines.
    let s = ready().file("big.txt", &block.repeat(40)).open().await;
    let gh = &s.gh;

    let run = evaluate_once(gh, &s.repo, 7, "opened").await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(run.annotations.len(), 120);
    let patches: Vec<usize> = gh
        .requests()
        .iter()
        .filter(|r| matches!(r.method.as_str(), "POST" | "PATCH") && r.path.contains("/check-runs"))
        .map(|r| {
            r.body
                .as_ref()
                .and_then(|b| b["output"]["annotations"].as_array().map(|a| a.len()))
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(patches, vec![50, 50, 20], "annotation batches");
    // Head line numbers: the first block's markers are lines 1, 3, 5.
    let first: Vec<u64> = run
        .annotations
        .iter()
        .take(3)
        .map(|a| a.start_line)
        .collect();
    assert_eq!(first, vec![1, 3, 5]);
}

#[tokio::test]
async fn a_file_without_a_patch_is_read_whole_and_ignored_paths_are_skipped() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.push(
        "main",
        "config",
        &[(
            ".github/seamguard.yml",
            Some("conflict_markers:\n  ignore: [\"fixtures/**\"]\n"),
        )],
    );
    let conflict = "top\n<<<<<<< a\n1\n=======\n2\n>>>>>>> b\n";
    let head = repo.commit(
        &[&base],
        "large and fixtures",
        &[
            ("generated/huge.txt", Some(conflict)),
            ("fixtures/conflict.txt", Some(conflict)),
        ],
    );
    repo.mark_large("generated/huge.txt");
    repo.branch("feature", &head);
    repo.pr(8).head("feature").base("main").open();

    let run = evaluate_once(&gh, &repo, 8, "opened").await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let paths: Vec<(&str, u64)> = run
        .annotations
        .iter()
        .map(|a| (a.path.as_str(), a.start_line))
        .collect();
    assert_eq!(
        paths,
        vec![
            ("generated/huge.txt", 2),
            ("generated/huge.txt", 4),
            ("generated/huge.txt", 6)
        ]
    );
    // Two blobs: the large file's, read whole, and the config file's (the
    // config is read as a blob once `.github/` is listed).
    assert_eq!(
        gh.count("GET", "/repos/acme/app/git/blobs/*"),
        2,
        "the large file's blob was read"
    );
}

#[tokio::test]
async fn more_files_than_compare_lists_are_read_from_the_pull_request() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.branch_tip("main");
    let mut files: Vec<(String, String)> = (0..320)
        .map(|i| (format!("gen/file{i:03}.txt"), format!("content {i}\n")))
        .collect();
    // The marker is in the last file, past compare's 300.
    files.push((
        "zz/last.txt".into(),
        "<<<<<<< HEAD\na\n=======\nb\n>>>>>>> x\n".into(),
    ));
    let changes: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), Some(c.as_str())))
        .collect();
    let head = repo.commit(&[&base], "many files", &changes);
    repo.branch("feature", &head);
    repo.pr(9).head("feature").base("main").open();

    let run = evaluate_once(&gh, &repo, 9, "opened").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("failure"),
        "{}",
        run.summary()
    );
    assert!(run.annotations.iter().all(|a| a.path == "zz/last.txt"));
    assert!(gh.count("GET", "/repos/acme/app/pulls/9/files") >= 1);
}

#[tokio::test]
async fn past_githubs_three_thousand_files_the_trees_are_compared() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.branch_tip("main");
    let mut files: Vec<(String, String)> = (0..3_004)
        .map(|i| (format!("gen/f{i:05}.txt"), format!("content {i}\n")))
        .collect();
    // Sorted last: past the 3,000 files GitHub lists.
    files.push((
        "zz/conflict.txt".into(),
        "<<<<<<< HEAD\na\n=======\nb\n>>>>>>> x\n".into(),
    ));
    let changes: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), Some(c.as_str())))
        .collect();
    let head = repo.commit(&[&base], "huge", &changes);
    repo.branch("feature", &head);
    repo.pr(10).head("feature").base("main").open();

    let run = evaluate_once(&gh, &repo, 10, "opened").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("failure"),
        "{}",
        run.summary()
    );
    let at: Vec<(&str, u64)> = run
        .annotations
        .iter()
        .map(|a| (a.path.as_str(), a.start_line))
        .collect();
    assert_eq!(
        at,
        vec![
            ("zz/conflict.txt", 1),
            ("zz/conflict.txt", 3),
            ("zz/conflict.txt", 5)
        ]
    );
    let text = run
        .output
        .as_ref()
        .unwrap()
        .text
        .clone()
        .unwrap_or_default();
    assert!(text.contains("found by comparing trees"), "{text}");
    assert_eq!(gh.count("GET", "/repos/acme/app/git/trees/*"), 2);
}

/// The conflicts `git merge-file` writes for one changed line, with `args`
/// (`--marker-size=N`, `--diff3`, `-L` labels).
fn git_merge_file(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("ours", "a\nours\nc\n"),
        ("base", "a\nbase\nc\n"),
        ("theirs", "a\ntheirs\nc\n"),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = std::process::Command::new("git")
        .args(["merge-file", "-p"])
        .args(args)
        .args(["ours", "base", "theirs"])
        .current_dir(dir.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    // One conflict: merge-file exits 1.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn annotated(run: &support::world::CheckRun) -> Vec<(String, u64)> {
    run.annotations
        .iter()
        .map(|a| (a.path.clone(), a.start_line))
        .collect()
}

#[tokio::test]
async fn markers_are_found_at_the_width_gitattributes_sets_at_the_base() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.push(
        "main",
        "attributes",
        &[
            (
                ".gitattributes",
                Some("* text=auto\n*.adoc conflict-marker-size=32\n"),
            ),
            (
                "docs/.gitattributes",
                Some("notes/*.txt conflict-marker-size=12\n"),
            ),
        ],
    );
    let wide = git_merge_file(&["--marker-size=32"]);
    let twelve = git_merge_file(&["--marker-size=12", "--diff3"]);
    let seven = git_merge_file(&[]);
    let head = repo.commit(
        &[&base],
        "merged docs",
        &[
            ("guide.adoc", Some(&wide)),
            // Seven-wide examples in a 32-wide file are documentation.
            ("example.adoc", Some(&seven)),
            ("docs/notes/a.txt", Some(&twelve)),
            // The same bytes where no attribute widens the markers: still
            // a complete block, so a conflict at any width.
            ("docs/other/a.txt", Some(&twelve)),
        ],
    );
    repo.branch("docs", &head);
    repo.pr(11).head("docs").base("main").open();

    let run = evaluate_once(&gh, &repo, 11, "opened").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("failure"),
        "{}",
        run.summary()
    );
    let expected: Vec<(String, u64)> = [
        ("docs/notes/a.txt", 2),
        ("docs/notes/a.txt", 4),
        ("docs/notes/a.txt", 6),
        ("docs/notes/a.txt", 8),
        ("docs/other/a.txt", 2),
        ("docs/other/a.txt", 4),
        ("docs/other/a.txt", 6),
        ("docs/other/a.txt", 8),
        ("guide.adoc", 2),
        ("guide.adoc", 4),
        ("guide.adoc", 6),
    ]
    .iter()
    .map(|(p, l)| (p.to_string(), *l))
    .collect();
    let mut got = annotated(&run);
    got.sort();
    assert_eq!(got, expected);
    // The root, then the directories above the files that could hold
    // markers: docs, docs/notes, docs/other — each once.
    assert_eq!(
        gh.count("GET", "/repos/acme/app/contents/.gitattributes"),
        1
    );
    assert_eq!(
        gh.count("GET", "/repos/acme/app/contents/docs/.gitattributes"),
        1
    );
    assert_eq!(
        gh.count("GET", "/repos/acme/app/contents/docs/*/.gitattributes"),
        2
    );
}

/// A repository whose root `.gitattributes` exists (and sets nothing wide).
async fn repo_with_root_attributes() -> (
    FakeGitHub,
    support::scenario::RepoHandle,
    support::world::Sha,
) {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.push(
        "main",
        "attributes",
        &[(".gitattributes", Some("*.txt conflict-marker-size=7\n"))],
    );
    (gh, repo, base)
}

#[tokio::test]
async fn a_pull_request_without_marker_like_lines_reads_no_attributes() {
    let (gh, repo, base) = repo_with_root_attributes().await;
    let clean = repo.commit(
        &[&base],
        "docs",
        &[(
            "README.md",
            Some("Title\n=======\n\n> quoted\n<p>html</p>\n"),
        )],
    );
    repo.branch("clean", &clean);
    repo.pr(12).head("clean").base("main").open();
    let run = evaluate_once(&gh, &repo, 12, "opened").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{}",
        run.summary()
    );
    assert_eq!(
        gh.count("GET", "/repos/acme/app/contents/.gitattributes"),
        0
    );
}

#[tokio::test]
async fn bare_markers_from_empty_labels_fail() {
    let (gh, repo, base) = repo_with_root_attributes().await;
    let bare = git_merge_file(&["-L", "", "-L", "", "-L", ""]);
    let head = repo.commit(&[&base], "merged", &[("src/merged.txt", Some(&bare))]);
    repo.branch("merged", &head);
    repo.pr(13).head("merged").base("main").open();
    let run = evaluate_once(&gh, &repo, 13, "opened").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("failure"),
        "{}",
        run.summary()
    );
    assert_eq!(
        annotated(&run),
        [
            ("src/merged.txt".to_owned(), 2),
            ("src/merged.txt".to_owned(), 4),
            ("src/merged.txt".to_owned(), 6)
        ]
    );
    // The root file exists: it and `src/.gitattributes` (absent) were read.
    assert_eq!(
        gh.count("GET", "/repos/acme/app/contents/.gitattributes"),
        1
    );
    assert_eq!(
        gh.count("GET", "/repos/acme/app/contents/src/.gitattributes"),
        1
    );
}

#[tokio::test]
async fn a_block_of_any_width_is_a_conflict_without_an_attribute() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.push("main", "readme", &[("README.md", Some("# App\n"))]);
    // What `git merge-file --marker-size=10` writes, with no attribute
    // saying so; and a Markdown rule of ten `=` that is not a conflict.
    let ten = git_merge_file(&["--marker-size=10"]);
    assert!(ten.contains(&format!("\n{}\n", "=".repeat(10))), "{ten}");
    let head = repo.commit(
        &[&base],
        "merged",
        &[
            ("src/merged.txt", Some(&ten)),
            ("docs/rule.md", Some("Title\n==========\n\ntext\n")),
        ],
    );
    repo.branch("merged", &head);
    repo.pr(14).head("merged").base("main").open();
    let run = evaluate_once(&gh, &repo, 14, "opened").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("failure"),
        "{}",
        run.summary()
    );
    assert_eq!(
        annotated(&run),
        [
            ("src/merged.txt".to_owned(), 2),
            ("src/merged.txt".to_owned(), 4),
            ("src/merged.txt".to_owned(), 6)
        ]
    );
    assert!(run.annotations[0].message.contains("<<<<<<<"));
}

#[tokio::test]
async fn a_pull_request_cannot_widen_its_own_markers_away() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.push(
        "main",
        "attributes",
        &[(".gitattributes", Some("*.md text\n"))],
    );
    let seven = git_merge_file(&[]);
    // The head sets every marker 40 wide, which would hide its 7-wide ones.
    let head = repo.commit(
        &[&base],
        "hide",
        &[
            (".gitattributes", Some("* conflict-marker-size=40\n")),
            ("src/merged.txt", Some(&seven)),
        ],
    );
    repo.branch("hide", &head);
    repo.pr(15).head("hide").base("main").open();
    let run = evaluate_once(&gh, &repo, 15, "opened").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("failure"),
        "{}",
        run.summary()
    );
    assert_eq!(
        annotated(&run),
        [
            ("src/merged.txt".to_owned(), 2),
            ("src/merged.txt".to_owned(), 4),
            ("src/merged.txt".to_owned(), 6)
        ]
    );
    // Both the base's and the head's attributes were read.
    assert_eq!(
        gh.count("GET", "/repos/acme/app/contents/.gitattributes"),
        2
    );
}

#[tokio::test]
async fn markers_at_the_heads_new_width_are_found_too() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.push("main", "readme", &[("README.md", Some("# App\n"))]);
    let twelve = git_merge_file(&["--marker-size=12", "--diff3"]);
    // Lone 12-wide opening lines (no block) count only at the head's width.
    let lone = format!("a\n{} x\nb\n{} y\n", "<".repeat(12), ">".repeat(12));
    let head = repo.commit(
        &[&base],
        "widen",
        &[
            (".gitattributes", Some("*.txt conflict-marker-size=12\n")),
            ("notes/a.txt", Some(&twelve)),
            ("notes/lone.txt", Some(&lone)),
        ],
    );
    repo.branch("widen", &head);
    repo.pr(16).head("widen").base("main").open();
    let run = evaluate_once(&gh, &repo, 16, "opened").await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let got = annotated(&run);
    assert!(got.contains(&("notes/lone.txt".to_owned(), 2)), "{got:?}");
    assert!(got.contains(&("notes/a.txt".to_owned(), 8)), "{got:?}");
}

#[tokio::test]
async fn a_file_too_large_to_scan_is_named_and_the_others_are_scanned() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.push("main", "readme", &[("README.md", Some("# App\n"))]);
    // Larger than the scan reads (16 MiB), with a conflict in it.
    let mut huge = "<<<<<<< a\n1\n=======\n2\n>>>>>>> b\n".to_owned();
    huge.push_str(&format!("{}\n", "x".repeat(1023)).repeat(17 * 1024));
    let conflict = "top\n<<<<<<< a\n1\n=======\n2\n>>>>>>> b\n";
    let head = repo.commit(
        &[&base],
        "big",
        &[
            ("data/huge.txt", Some(&huge)),
            ("src/other.txt", Some(conflict)),
        ],
    );
    repo.mark_large("data/huge.txt");
    repo.branch("big", &head);
    repo.pr(17).head("big").base("main").open();
    let run = evaluate_once(&gh, &repo, 17, "opened").await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        annotated(&run),
        [
            ("src/other.txt".to_owned(), 2),
            ("src/other.txt".to_owned(), 4),
            ("src/other.txt".to_owned(), 6)
        ]
    );
    let summary = run.summary();
    assert!(
        summary.contains("3 conflict markers in 1 file; not scanned, over 16 MiB: `data/huge.txt`"),
        "{summary}"
    );
    let text = run
        .output
        .as_ref()
        .unwrap()
        .text
        .clone()
        .unwrap_or_default();
    assert!(
        text.contains("**Not scanned for conflict markers** (larger than 16 MiB"),
        "{text}"
    );
    assert!(text.contains("- `data/huge.txt`"), "{text}");
}

#[tokio::test]
async fn a_clean_pull_request_with_a_file_too_large_says_so_when_it_passes() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.push("main", "readme", &[("README.md", Some("# App\n"))]);
    let huge = format!("{}\n", "y".repeat(1023)).repeat(17 * 1024);
    let head = repo.commit(&[&base], "big", &[("data/huge.txt", Some(&huge))]);
    repo.mark_large("data/huge.txt");
    repo.branch("big", &head);
    repo.pr(18).head("big").base("main").open();
    let run = evaluate_once(&gh, &repo, 18, "opened").await;
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    let summary = run.summary();
    assert!(
        summary.contains("none added (1 file scanned; not scanned, over 16 MiB: `data/huge.txt`)"),
        "{summary}"
    );
}
