//! `seamguard scan` on real temporary repositories, through the real binary.

mod local_support;

use local_support::{CONFLICT, TestRepo};
use seamguard::gate::conflict_markers::{IgnoreSet, MarkerKind};
use seamguard::local::git::Repo;
use seamguard::local::markers::{Target, scan_conflict_markers};

/// `main` with one commit, then branch `feature` checked out.
fn repo_with_feature_branch(base_files: &[(&str, &str)]) -> TestRepo {
    let repo = TestRepo::new();
    repo.write("README.md", "Project\n=======\n\nSome text.\n");
    for (path, content) in base_files {
        repo.write(path, content);
    }
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo
}

#[test]
fn added_markers_fail_with_path_and_line() {
    let repo = repo_with_feature_branch(&[("src/lib.rs", "fn a() {}\nfn b() {}\n")]);
    repo.write(
        "src/lib.rs",
        format!("fn a() {{}}\n{CONFLICT}fn b() {{}}\n"),
    );
    repo.commit("half-resolved merge");

    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.locations(),
        ["src/lib.rs:2", "src/lib.rs:4", "src/lib.rs:6"]
    );
    assert!(
        run.stdout
            .starts_with("src/lib.rs:2: conflict marker <<<<<<<"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("conflict markers: 3 in 1 file scanned"),
        "{}",
        run.stderr
    );
}

#[test]
fn clean_changes_pass() {
    let repo = repo_with_feature_branch(&[]);
    repo.write(
        "docs/guide.md",
        "Guide\n=======\n\nText\n\n=======\n\nMore\n",
    );
    repo.write("src/main.rs", "fn main() { let x = a << 2 >> 1; }\n");
    repo.commit("docs");
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "");
}

#[test]
fn only_lines_the_branch_adds_are_findings_at_head_line_numbers() {
    // The base already holds markers (say, a test fixture); the branch adds
    // lines above them and one new conflict below.
    let repo = repo_with_feature_branch(&[("notes.txt", &format!("top\n{CONFLICT}bottom\n"))]);
    repo.write(
        "notes.txt",
        format!("new 1\nnew 2\ntop\n{CONFLICT}bottom\n>>>>>>> stray\n"),
    );
    repo.commit("edit");
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.locations(), ["notes.txt:10"]);

    // --all reports every marker in the tree, old ones included.
    let all = repo.seamguard(&["scan", "--all"], "");
    assert_eq!(all.code, 1, "{all:?}");
    assert_eq!(
        all.locations(),
        ["notes.txt:4", "notes.txt:6", "notes.txt:8", "notes.txt:10"]
    );
}

#[test]
fn merge_base_not_base_tip_decides_what_is_added() {
    // main moves on after the branch forks and gains markers of its own:
    // they are not the branch's doing and must not be reported.
    let repo = repo_with_feature_branch(&[("a.txt", "a\n")]);
    repo.write("b.txt", "b\n");
    repo.commit("feature work");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("main-only.txt", CONFLICT);
    repo.commit("main gets markers");
    repo.git(&["checkout", "-q", "feature"]);
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn json_output() {
    let repo = repo_with_feature_branch(&[]);
    repo.write("dir with space/été.txt", "x\n>>>>>>> other\n");
    repo.commit("add");
    let run = repo.seamguard(&["scan", "--base", "main", "--format", "json"], "");
    assert_eq!(run.code, 1, "{run:?}");
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["clean"], false);
    assert_eq!(doc["findings"], 1);
    let finding = &doc["guards"]["conflict_markers"]["findings"][0];
    assert_eq!(finding["path"], "dir with space/été.txt");
    assert_eq!(finding["line"], 2);
    assert_eq!(finding["kind"], "theirs");
    assert_eq!(finding["marker"], ">>>>>>>");

    let clean = repo.seamguard(&["scan", "--base", "HEAD", "--format", "json"], "");
    assert_eq!(clean.code, 0, "{clean:?}");
    let doc: serde_json::Value = serde_json::from_str(&clean.stdout).unwrap();
    assert_eq!(doc["clean"], true);
    assert_eq!(
        doc["guards"]["conflict_markers"]["findings"],
        serde_json::json!([])
    );
}

#[test]
fn the_default_base_is_the_upstream() {
    let repo = repo_with_feature_branch(&[]);
    repo.write("x.txt", CONFLICT);
    repo.commit("markers");
    // No upstream, no origin/HEAD: a clear usage error.
    let run = repo.seamguard(&["scan"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("no base to compare with"),
        "{}",
        run.stderr
    );

    repo.git(&["branch", "--set-upstream-to", "main"]);
    let run = repo.seamguard(&["scan"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.locations(), ["x.txt:1", "x.txt:3", "x.txt:5"]);
}

#[test]
fn the_committed_tree_is_scanned_not_the_working_tree() {
    let repo = repo_with_feature_branch(&[]);
    repo.write("wip.txt", CONFLICT); // not committed
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 0, "{run:?}");
    // --rev picks another commit.
    repo.commit("now committed");
    repo.write("wip.txt", "resolved\n");
    repo.commit("resolved");
    assert_eq!(repo.seamguard(&["scan", "--base", "main"], "").code, 0);
    let earlier = repo.seamguard(&["scan", "--base", "main", "--rev", "HEAD~1"], "");
    assert_eq!(earlier.code, 1, "{earlier:?}");
}

#[test]
fn scan_from_a_subfolder_and_with_a_path_argument() {
    let repo = repo_with_feature_branch(&[]);
    repo.write("top.txt", CONFLICT)
        .write("sub/inner.txt", "x\n");
    repo.commit("markers at top");
    let from_sub = repo.seamguard_in(&repo.path("sub"), &["scan", "--base", "main"], "");
    assert_eq!(
        from_sub.locations(),
        ["top.txt:1", "top.txt:3", "top.txt:5"]
    );
    let elsewhere = repo.seamguard_in(
        std::env::temp_dir().as_path(),
        &["scan", "--all", repo.dir.to_str().unwrap()],
        "",
    );
    assert_eq!(elsewhere.code, 1, "{elsewhere:?}");
}

#[test]
fn errors_exit_2() {
    let repo = repo_with_feature_branch(&[]);
    let bad_rev = repo.seamguard(&["scan", "--base", "main", "--rev", "no-such-rev"], "");
    assert_eq!(bad_rev.code, 2);
    assert!(bad_rev.stderr.contains("no-such-rev"), "{}", bad_rev.stderr);
    let bad_base = repo.seamguard(&["scan", "--base", "no-such-base"], "");
    assert_eq!(bad_base.code, 2);
    let not_a_repo = tempfile::tempdir().unwrap();
    let run = repo.seamguard_in(not_a_repo.path(), &["scan", "--all"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("not in a git repository"),
        "{}",
        run.stderr
    );
    let usage = repo.seamguard(&["scan", "--format", "yaml"], "");
    assert_eq!(usage.code, 2);
}

#[test]
fn bad_input_is_handled() {
    let repo = repo_with_feature_branch(&[
        ("deleted.txt", CONFLICT),
        ("renamed-before.txt", &format!("keep\n{CONFLICT}")),
        (
            "moved-and-edited-before.txt",
            "one\ntwo\nthree\nfour\nfive\n",
        ),
    ]);
    repo.write(
        "crlf.txt",
        "a\r\n<<<<<<< HEAD\r\nx\r\n=======\r\ny\r\n>>>>>>> b\r\n",
    );
    repo.write("lone-cr.txt", "a\r<<<<<<< HEAD\rb\r=======\r\n");
    repo.write("latin1.txt", b"caf\xe9\n>>>>>>> br\xe9nche\n");
    repo.write("no-newline.txt", "x\n<<<<<<< HEAD");
    repo.write("binary.bin", b"\0\x01<<<<<<< HEAD\n=======\n>>>>>>> b\n");
    repo.write("ünïcødé dir/fïle ñame.txt", "=======\n>>>>>>> b\n");
    repo.write("setext.md", "Heading\n=======\n");
    std::fs::remove_file(repo.path("deleted.txt")).unwrap();
    std::fs::rename(
        repo.path("renamed-before.txt"),
        repo.path("renamed-after.txt"),
    )
    .unwrap();
    std::fs::remove_file(repo.path("moved-and-edited-before.txt")).unwrap();
    repo.write(
        "moved-and-edited-after.txt",
        "one\ntwo\n<<<<<<< HEAD\nfour\nfive\n",
    );
    repo.commit("everything awkward");

    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.locations(),
        [
            "crlf.txt:2",
            "crlf.txt:4",
            "crlf.txt:6",
            "latin1.txt:2",
            "moved-and-edited-after.txt:3",
            "no-newline.txt:2",
            "ünïcødé dir/fïle ñame.txt:1",
            "ünïcødé dir/fïle ñame.txt:2",
        ]
    );
}

#[test]
fn an_empty_range_is_clean() {
    let repo = repo_with_feature_branch(&[("x.txt", CONFLICT)]);
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("0 in 0 files scanned"),
        "{}",
        run.stderr
    );
}

#[test]
fn unrelated_history_counts_every_line_as_added() {
    let repo = repo_with_feature_branch(&[]);
    repo.git(&["checkout", "-q", "--orphan", "other"]);
    repo.git(&["rm", "-rq", "--cached", "."]);
    std::fs::remove_file(repo.path("README.md")).unwrap();
    repo.write("fresh.txt", CONFLICT);
    repo.commit("unrelated root");
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(
        run.locations(),
        ["fresh.txt:1", "fresh.txt:3", "fresh.txt:5"]
    );
}

#[test]
fn the_working_tree_config_is_read_and_an_invalid_one_is_an_error() {
    let repo = repo_with_feature_branch(&[]);
    repo.write(
        ".github/seamguard.yml",
        "conflict_markers:\n  ignore: [\"docs/**\"]\n",
    );
    repo.write("docs/merging.md", CONFLICT);
    repo.write("x.txt", CONFLICT);
    repo.commit("with config");
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.locations(), ["x.txt:1", "x.txt:3", "x.txt:5"]);

    repo.write(
        ".github/seamguard.yml",
        "conflict_markers:\n  enabled: yes\n",
    );
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(".github/seamguard.yml:2:12:"),
        "{}",
        run.stderr
    );
}

#[test]
fn ignore_globs_skip_paths_and_duplicate_blobs_are_reported_at_each_path() {
    let repo = repo_with_feature_branch(&[]);
    repo.write("tests/fixtures/conflict.txt", CONFLICT);
    repo.write("src/copy one.txt", CONFLICT);
    repo.write("src/copy two.txt", CONFLICT);
    let head = repo.commit("fixtures");
    let local = Repo::discover(&repo.dir).unwrap();
    let ignore = IgnoreSet::new(&["tests/fixtures/**".to_owned()]).unwrap();
    let scan = scan_conflict_markers(&local, &Target::All(head.parse().unwrap()), &ignore).unwrap();
    let paths: Vec<(&str, u32, MarkerKind)> = scan
        .findings
        .iter()
        .map(|f| (f.path.as_str(), f.line, f.kind))
        .collect();
    assert_eq!(
        paths,
        [
            ("src/copy one.txt", 1, MarkerKind::Ours),
            ("src/copy one.txt", 3, MarkerKind::Separator),
            ("src/copy one.txt", 5, MarkerKind::Theirs),
            ("src/copy two.txt", 1, MarkerKind::Ours),
            ("src/copy two.txt", 3, MarkerKind::Separator),
            ("src/copy two.txt", 5, MarkerKind::Theirs),
        ]
    );
    assert_eq!(scan.files_ignored, 1);
    assert_eq!(scan.files_scanned, 3); // README.md and the two copies
}

#[test]
fn many_files_across_both_readers_come_back_complete_and_sorted() {
    let repo = repo_with_feature_branch(&[]);
    for i in 0..300 {
        let body = if i % 7 == 0 {
            format!("file {i}\n{CONFLICT}")
        } else {
            format!("file {i}\nclean\n")
        };
        repo.write(&format!("many/f{i:03}.txt"), body);
    }
    repo.commit("many");
    let run = repo.seamguard(&["scan", "--all"], "");
    assert_eq!(run.code, 1);
    let expected: Vec<String> = (0..300)
        .filter(|i| i % 7 == 0)
        .flat_map(|i| [2, 4, 6].map(|l| format!("many/f{i:03}.txt:{l}")))
        .collect();
    assert_eq!(run.locations(), expected);
    assert!(
        run.stderr.contains("in 301 files scanned"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_large_file_is_read_whole_with_exact_line_numbers() {
    let repo = repo_with_feature_branch(&[]);
    let line = "let value = compute(a, b) >> 2 | mask; // <=> == noise\n";
    let lines = 16 * 1024 * 1024 / line.len();
    let mut big = line.repeat(lines);
    big.push_str("=======\n>>>>>>> late");
    repo.write("big.txt", &big);
    repo.commit("big");
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.locations(),
        [
            format!("big.txt:{}", lines + 1),
            format!("big.txt:{}", lines + 2)
        ]
    );
}

#[test]
fn with_several_bases_a_line_is_added_only_if_added_against_each() {
    let repo = repo_with_feature_branch(&[]);
    let first = repo.git(&["rev-parse", "HEAD"]);
    repo.write("shared.txt", format!("top\n{CONFLICT}"));
    let second = repo.commit("markers already in one base");
    repo.write("shared.txt", format!("top\n{CONFLICT}>>>>>>> new\n"));
    repo.write("fresh.txt", ">>>>>>> fresh\n");
    let head = repo.commit("head");

    let local = Repo::discover(&repo.dir).unwrap();
    let target = Target::Added {
        bases: vec![first.parse().unwrap(), second.parse().unwrap()],
        head: head.parse().unwrap(),
    };
    let scan = scan_conflict_markers(&local, &target, &IgnoreSet::none()).unwrap();
    let found: Vec<(&str, u32)> = scan
        .findings
        .iter()
        .map(|f| (f.path.as_str(), f.line))
        .collect();
    assert_eq!(found, [("fresh.txt", 1), ("shared.txt", 7)]);
}

#[test]
fn scan_blocks_a_merge_of_develop_and_passes_after_reset() {
    // The incident, locally: develop merged into a feature for main.
    let repo = repo_with_feature_branch(&[]);
    repo.git(&["checkout", "-q", "-b", "develop", "main"]);
    for i in 0..60 {
        repo.write(&format!("develop/{i}.txt"), format!("{i}\n"));
        repo.commit(&format!("develop {i}"));
    }
    repo.git(&["checkout", "-q", "feature"]);
    repo.write("src/feature.rs", "fn feature() {}\n");
    repo.commit("feature work");
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge branch 'develop' into feature",
        "develop",
    ]);
    let merge = repo.git(&["rev-parse", "--short=7", "HEAD"]);

    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("disallowed merge"), "{}", run.stdout);
    assert!(
        run.stdout.contains(merge.trim()),
        "names the merge: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("develop"),
        "names where it came from: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("60 commits"),
        "says what it brings in: {}",
        run.stdout
    );

    let json = repo.seamguard(&["scan", "--base", "main", "--format", "json"], "");
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        doc["guards"]["merge_sources"]["findings"][0]["kind"],
        "disallowed_merge"
    );

    // Undo the merge: clean.
    repo.git(&["reset", "-q", "--hard", "HEAD~1"]);
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 0, "{run:?}");

    // Merging main in to update is fine.
    repo.git(&["checkout", "-q", "main"]);
    repo.write("main.txt", "moved on\n");
    repo.commit("main moves");
    repo.git(&["checkout", "-q", "feature"]);
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge branch 'main' into feature",
        "main",
    ]);
    let run = repo.seamguard(&["scan", "--base", "main"], "");
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn staged_markers_fail_at_the_staged_line_numbers_and_unstaged_ones_do_not_count() {
    // The base holds a fixture with markers; the index adds one conflict
    // above it; the working tree has another conflict that is not staged.
    let repo = repo_with_feature_branch(&[("notes.txt", &format!("top\n{CONFLICT}bottom\n"))]);
    repo.write(
        "src/lib.rs",
        format!("fn a() {{}}\n{CONFLICT}fn b() {{}}\n"),
    );
    repo.write("notes.txt", format!("new\ntop\n{CONFLICT}bottom\n"));
    repo.git(&["add", "src/lib.rs", "notes.txt"]);
    repo.write("unstaged.rs", CONFLICT);
    repo.write("src/lib.rs", "fn a() {}\nfn b() {}\n");

    let run = repo.seamguard(&["scan", "--staged"], "");
    assert_eq!(run.code, 1, "{run:?}");
    // The staged src/lib.rs, not the resolved working copy; of notes.txt
    // only what the index adds (its line 1), not the fixture's markers.
    assert_eq!(
        run.locations(),
        ["src/lib.rs:2", "src/lib.rs:4", "src/lib.rs:6"]
    );

    // Once the resolution is staged, the index is clean.
    repo.git(&["add", "src/lib.rs"]);
    let run = repo.seamguard(&["scan", "--staged"], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("conflict markers: 0 in 2 files scanned"),
        "{}",
        run.stderr
    );
}

#[test]
fn staged_scan_works_before_the_first_commit_and_reads_staged_attributes() {
    let repo = TestRepo::new();
    // Markers of width 9 for *.txt, as staged: a 7-wide block is text there.
    repo.write(".gitattributes", "*.txt conflict-marker-size=9\n");
    repo.write("a.txt", CONFLICT);
    repo.write("b.rs", CONFLICT);
    repo.git(&["add", "."]);
    let run = repo.seamguard(&["scan", "--staged"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.locations(), ["b.rs:1", "b.rs:3", "b.rs:5"]);
    // --staged judges the index alone: no revision or base with it.
    let run = repo.seamguard(&["scan", "--staged", "--base", "main"], "");
    assert_eq!(run.code, 2, "{run:?}");
}
