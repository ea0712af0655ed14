use proptest::prelude::*;

use super::*;
use crate::gate::conflict_markers::{MarkerKind, Scanner, scan};

fn found(patch: &[u8]) -> Vec<(u32, MarkerKind)> {
    scan_patch(patch)
        .into_iter()
        .map(|m| (m.line, m.kind))
        .collect()
}

use MarkerKind::{Base, Ours, Separator as Sep, Theirs};

#[test]
fn hunk_headers_parse_with_and_without_counts() {
    let h = |old_start, old_len, new_start, new_len| {
        Some(HunkHeader {
            old_start,
            old_len,
            new_start,
            new_len,
        })
    };
    let cases: &[(&[u8], Option<HunkHeader>)] = &[
        (b"@@ -1,3 +1,4 @@", h(1, 3, 1, 4)),
        (b"@@ -132,7 +132,7 @@ module Test", h(132, 7, 132, 7)),
        (b"@@ -1 +1 @@", h(1, 1, 1, 1)),
        (b"@@ -10,2 +12 @@ fn main() {", h(10, 2, 12, 1)),
        (b"@@ -0,0 +1,5 @@", h(0, 0, 1, 5)),
        (b"@@ -1,5 +0,0 @@", h(1, 5, 0, 0)),
        (b"@@ -1,2 +1,3 @@\r", h(1, 2, 1, 3)),
        (b"@@ -a +1 @@", None),
        (b"@@ -1,2 +1,3", None),
        (b"@@@ -1,2 -1,2 +1,3 @@@", None),
        (b"@@ -1,2 +1,99999999999 @@", None),
        (b" @@ -1 +1 @@", None),
        (b"", None),
    ];
    for (line, expected) in cases {
        assert_eq!(
            parse_hunk_header(line),
            *expected,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn only_added_lines_are_findings_at_head_line_numbers() {
    type Case<'a> = (&'a str, &'a [u8], &'a [(u32, MarkerKind)]);
    let cases: &[Case<'_>] = &[
        ("empty patch", b"", &[]),
        (
            "new file",
            b"@@ -0,0 +1,5 @@\n+a\n+<<<<<<< HEAD\n+x\n+=======\n+>>>>>>> b",
            &[(2, Ours), (4, Sep), (5, Theirs)],
        ),
        (
            "context markers are not findings",
            b"@@ -10,3 +10,4 @@\n <<<<<<< HEAD\n x\n+y\n >>>>>>> b",
            &[],
        ),
        (
            "removed lines neither count nor advance",
            b"@@ -5,4 +5,3 @@ fn f() {\n a\n-<<<<<<< HEAD\n-old\n+>>>>>>> b\n c",
            &[(6, Theirs)],
        ),
        (
            "omitted counts",
            b"@@ -3 +3 @@\n-x\n+<<<<<<< mine",
            &[(3, Ours)],
        ),
        (
            "two hunks keep their own numbering",
            b"@@ -1,2 +1,3 @@\n a\n+<<<<<<< HEAD\n b\n@@ -40,2 +41,3 @@ section\n c\n+>>>>>>> theirs\n d",
            &[(2, Ours), (42, Theirs)],
        ),
        (
            "no newline at end of file",
            b"@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+>>>>>>> b\n\\ No newline at end of file",
            &[(2, Theirs)],
        ),
        (
            "CRLF file",
            b"@@ -1,1 +1,4 @@\n a\r\n+<<<<<<< HEAD\r\n+=======\r\n+>>>>>>> b\r\n",
            &[(2, Ours), (3, Sep), (4, Theirs)],
        ),
        (
            "added separator next to a context opening",
            b"@@ -7,2 +7,3 @@\n <<<<<<< HEAD\n+=======\n x",
            &[(8, Sep)],
        ),
        (
            "added separator between context markers, far from both",
            b"@@ -1,6 +1,7 @@\n <<<<<<< a\n 1\n 2\n+=======\n 3\n 4\n >>>>>>> b",
            &[(4, Sep)],
        ),
        (
            "added setext heading is not a finding",
            b"@@ -1,1 +1,3 @@\n intro\n+Title\n+=======",
            &[],
        ),
        (
            "context separator next to an added closing",
            b"@@ -1,2 +1,3 @@\n x\n =======\n+>>>>>>> b",
            &[(3, Theirs)],
        ),
        (
            "diff3 base marker",
            b"@@ -0,0 +1,2 @@\n+||||||| base\n+=======",
            &[(1, Base), (2, Sep)],
        ),
        (
            "deleted file",
            b"@@ -1,3 +0,0 @@\n-<<<<<<< HEAD\n-=======\n->>>>>>> b",
            &[],
        ),
        (
            "blank context line printed empty",
            b"@@ -1,3 +1,4 @@\n a\n\n+<<<<<<< HEAD\n b",
            &[(3, Ours)],
        ),
        (
            "lone CR is not a line break",
            b"@@ -0,0 +1,1 @@\n+x\r<<<<<<< HEAD",
            &[],
        ),
        (
            "non-UTF-8 added lines",
            b"@@ -0,0 +1,2 @@\n+\xff\xfe\n+<<<<<<< \xe9t\xe9",
            &[(2, Ours)],
        ),
    ];
    for (name, patch, expected) in cases {
        assert_eq!(found(patch), *expected, "case {name:?}");
    }
}

#[test]
fn file_headers_between_hunks_are_not_added_lines() {
    let diff = [
        "diff --git a/a.txt b/a.txt",
        "index 1111111..2222222 100644",
        "--- a/a.txt",
        "+++ b/a.txt",
        "@@ -1,2 +1,3 @@",
        " x",
        "+<<<<<<< ours",
        " y",
        "diff --git a/b b.txt b/b b.txt",
        "new file mode 100644",
        "--- /dev/null",
        "+++ b/b b.txt",
        "@@ -0,0 +1 @@",
        "+>>>>>>> theirs",
        "",
    ]
    .join("\n");
    let diff = diff.as_bytes();
    let heads: Vec<(u32, LineChange, &[u8])> = head_lines(diff)
        .map(|l| (l.line, l.change, l.text))
        .collect();
    assert_eq!(
        heads,
        [
            (1, LineChange::Context, &b"x"[..]),
            (2, LineChange::Added, b"<<<<<<< ours"),
            (3, LineChange::Context, b"y"),
            (1, LineChange::Added, b">>>>>>> theirs"),
        ]
    );
}

#[test]
fn truncated_or_garbled_patches_do_not_panic() {
    for patch in [
        &b"@@ -1,5 +1,5 @@\n a"[..],
        b"@@ -1,5 +1,5 @@\n+<<<<<<< a\n",
        b"+<<<<<<< no header\n",
        b"@@ -1,1 +1,1 @@\nGARBAGE\n+<<<<<<< after garbage",
        b"@@ -4294967295,1 +4294967295,3 @@\n+a\n+b\n+<<<<<<< c",
        b"\n\n\n",
    ] {
        let _ = scan_patch(patch);
    }
    assert_eq!(found(b"@@ -1,5 +1,5 @@\n+<<<<<<< a\n"), [(1, Ours)]);
    assert_eq!(found(b"+<<<<<<< no header\n"), []);
    assert_eq!(
        found(b"@@ -1,1 +1,1 @@\nGARBAGE\n+<<<<<<< after garbage"),
        []
    );
    assert_eq!(
        found(b"@@ -4294967295,1 +4294967295,3 @@\n+a\n+b\n+<<<<<<< c"),
        [(u32::MAX, Ours)]
    );
}

#[test]
fn added_lines_from_a_zero_context_diff() {
    let diff = b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -2,0 +3,2 @@\n+a\n+b\n@@ -9 +10,0 @@\n-gone\n@@ -20 +20 @@\n-old\n+new\n";
    assert_eq!(added_lines(diff), [3, 4, 20]);
    assert_eq!(added_lines(b""), Vec::<u32>::new());
}

/// A change to one line of a file, for building patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Keep,
    Add,
    Remove,
}

fn patch_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(prop_oneof![Just(b'<'), Just(b'='), Just(b'>'), Just(b'|'), Just(b' '), Just(b'\r'), Just(b'x')], 0..10),
        1 => Just(b"<<<<<<< HEAD".to_vec()),
        1 => Just(b"||||||| base".to_vec()),
        1 => Just(b"=======".to_vec()),
        1 => Just(b"=======\r".to_vec()),
        1 => Just(b">>>>>>> b".to_vec()),
        1 => Just(b"<<<<<<<".to_vec()),
        1 => Just(b">>>>>>>\r".to_vec()),
    ]
}

#[test]
fn a_patch_is_scanned_at_the_paths_width() {
    let wide = |c: &str| c.repeat(32);
    let patch = format!(
        "@@ -1,2 +1,6 @@\n a\n+{} HEAD\n+x\n+{}\n+{} b\n b\n",
        wide("<"),
        wide("="),
        wide(">")
    );
    let at_32: Vec<(u32, MarkerKind)> = scan_patch_with(&Scanner::with_width(32), patch.as_bytes())
        .into_iter()
        .map(|m| (m.line, m.kind))
        .collect();
    assert_eq!(at_32, [(2, Ours), (4, Sep), (5, Theirs)]);
    // A complete block of any width is a conflict at the default width too.
    assert_eq!(found(patch.as_bytes()), [(2, Ours), (4, Sep), (5, Theirs)]);
    // A lone wide line is not.
    let lone = format!("@@ -1,1 +1,2 @@\n a\n+{} HEAD\n", wide("<"));
    assert_eq!(found(lone.as_bytes()), []);
}

#[test]
fn a_wide_block_completed_by_context_lines_reports_the_added_ones() {
    let ten = |c: &str| c.repeat(10);
    let patch = format!(
        "@@ -1,3 +1,4 @@\n {} a\n x\n+{}\n {} b\n",
        ten("<"),
        ten("="),
        ten(">")
    );
    assert_eq!(found(patch.as_bytes()), [(3, Sep)]);
}

#[test]
fn bare_markers_in_a_patch_use_context_lines_for_the_block_rule() {
    // The closing marker was already there; the added bare opening opens it.
    let patch = b"@@ -1,2 +1,3 @@\n+<<<<<<<\n x\n >>>>>>>\n";
    assert_eq!(found(patch), [(1, Ours)]);
    let lone = b"@@ -1,1 +1,2 @@\n+<<<<<<<\n x\n";
    assert_eq!(found(lone), []);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// One hunk spanning the whole file: the patch scan equals the file scan
    /// of the head, restricted to the added lines.
    #[test]
    fn patch_scan_is_file_scan_on_added_lines(
        lines in proptest::collection::vec((patch_line(), prop_oneof![Just(Op::Keep), Just(Op::Add), Just(Op::Remove)]), 1..40),
    ) {
        let old_len = lines.iter().filter(|(_, op)| *op != Op::Add).count();
        let new_len = lines.iter().filter(|(_, op)| *op != Op::Remove).count();
        let mut patch = format!("@@ -1,{old_len} +1,{new_len} @@\n").into_bytes();
        let mut head = Vec::new();
        let mut added = Vec::new();
        for (text, op) in &lines {
            patch.push(match op { Op::Keep => b' ', Op::Add => b'+', Op::Remove => b'-' });
            patch.extend_from_slice(text);
            patch.push(b'\n');
            if *op != Op::Remove {
                head.extend_from_slice(text);
                head.push(b'\n');
                if *op == Op::Add {
                    added.push(head.iter().filter(|&&b| b == b'\n').count() as u32);
                }
            }
        }
        let expected: Vec<_> = scan(&head).into_iter().filter(|m| added.contains(&m.line)).collect();
        prop_assert_eq!(scan_patch(&patch), expected);
        prop_assert_eq!(added_lines(&patch), added);
    }
}
