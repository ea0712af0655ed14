use proptest::prelude::*;

use super::*;

/// Markers as `(line, short kind)` for compact tables.
fn found(content: &[u8]) -> Vec<(u32, char)> {
    scan(content)
        .into_iter()
        .map(|m| (m.line, short(m.kind)))
        .collect()
}

fn short(kind: MarkerKind) -> char {
    match kind {
        MarkerKind::Ours => 'O',
        MarkerKind::Base => 'B',
        MarkerKind::Separator => 'S',
        MarkerKind::Theirs => 'T',
    }
}

/// A table row: name, content, expected `(line, kind)`s.
type Case<'a> = (&'a str, &'a [u8], &'a [(u32, char)]);

#[track_caller]
fn check_table(cases: &[Case<'_>]) {
    for (name, content, expected) in cases {
        assert_eq!(
            found(content),
            *expected,
            "case {name:?}: {:?}",
            String::from_utf8_lossy(content)
        );
    }
}

#[test]
fn a_whole_conflict_is_found() {
    check_table(&[
        (
            "merge style",
            b"a\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> feature\nb\n",
            &[(2, 'O'), (4, 'S'), (6, 'T')],
        ),
        (
            "diff3 style",
            b"<<<<<<< HEAD\nours\n||||||| merged common ancestors\nbase\n=======\ntheirs\n>>>>>>> 1a2b3c4\n",
            &[(1, 'O'), (3, 'B'), (5, 'S'), (7, 'T')],
        ),
        (
            "zdiff3 with empty sides",
            b"<<<<<<< ours\n||||||| base\n=======\n>>>>>>> theirs\n",
            &[(1, 'O'), (2, 'B'), (3, 'S'), (4, 'T')],
        ),
        (
            "two conflicts",
            b"<<<<<<< a\n1\n=======\n2\n>>>>>>> b\nmid\n<<<<<<< a\n3\n=======\n4\n>>>>>>> b\n",
            &[(1, 'O'), (3, 'S'), (5, 'T'), (7, 'O'), (9, 'S'), (11, 'T')],
        ),
    ]);
}

#[test]
fn opening_and_closing_markers_need_column_zero_a_space_and_a_label() {
    check_table(&[
        ("bare opening", b"<<<<<<<\n", &[]),
        ("space but no label", b"<<<<<<< \n", &[]),
        ("space then CR only", b"<<<<<<< \r\n", &[]),
        ("space at end of input", b"<<<<<<< ", &[]),
        ("space, CR at end of input", b"<<<<<<< \r", &[]),
        ("no space", b"<<<<<<<HEAD\n", &[]),
        ("tab instead of space", b"<<<<<<<\tHEAD\n", &[]),
        ("eight wide", b"<<<<<<<< HEAD\n", &[]),
        ("six wide", b"<<<<<< HEAD\n", &[]),
        ("indented", b" <<<<<<< HEAD\n", &[]),
        ("tab indented", b"\t>>>>>>> b\n", &[]),
        ("mid line", b"x <<<<<<< HEAD\n", &[]),
        ("heredoc-like shift", b"echo <<<<<<< x\n", &[]),
        ("bare base", b"|||||||\n", &[]),
        ("bare closing", b">>>>>>>\n", &[]),
        ("label", b"<<<<<<< HEAD\n", &[(1, 'O')]),
        ("only spaces after it is bare", b"<<<<<<<  \n", &[]),
        (
            "label with spaces and colon",
            b"<<<<<<< HEAD:src/a b.rs\n",
            &[(1, 'O')],
        ),
        (
            "unicode label",
            ">>>>>>> été (ブランチ)\n".as_bytes(),
            &[(1, 'T')],
        ),
        ("base label", b"||||||| base\n", &[(1, 'B')]),
        ("label at end of input", b"x\n>>>>>>> b", &[(2, 'T')]),
        ("CRLF label", b"<<<<<<< HEAD\r\n", &[(1, 'O')]),
    ]);
}

#[test]
fn a_separator_is_exactly_seven_equals() {
    check_table(&[
        ("exact", b"<<<<<<< a\n=======\n", &[(1, 'O'), (2, 'S')]),
        (
            "CR before newline",
            b"<<<<<<< a\n=======\r\n",
            &[(1, 'O'), (2, 'S')],
        ),
        (
            "at end of input",
            b"<<<<<<< a\n=======",
            &[(1, 'O'), (2, 'S')],
        ),
        (
            "CR at end of input",
            b"<<<<<<< a\n=======\r",
            &[(1, 'O'), (2, 'S')],
        ),
        ("eight", b"<<<<<<< a\n========\n", &[(1, 'O')]),
        ("six", b"<<<<<<< a\n======\n", &[(1, 'O')]),
        ("trailing space", b"<<<<<<< a\n======= \n", &[(1, 'O')]),
        ("two CRs", b"<<<<<<< a\n=======\r\r\n", &[(1, 'O')]),
        ("indented", b"<<<<<<< a\n =======\n", &[(1, 'O')]),
        ("with text", b"<<<<<<< a\n======= x\n", &[(1, 'O')]),
    ]);
}

#[test]
fn a_lone_separator_counts_only_inside_or_next_to_a_conflict() {
    check_table(&[
        ("setext heading", b"Title\n=======\n\nText.\n", &[]),
        ("markdown rule", b"a\n\n=======\n\nb\n", &[]),
        ("only a separator", b"=======\n", &[]),
        ("many separators", b"=======\n=======\n=======\n", &[]),
        (
            "right after an opening",
            b"<<<<<<< a\n=======\n",
            &[(1, 'O'), (2, 'S')],
        ),
        (
            "right before a closing",
            b"=======\n>>>>>>> b\n",
            &[(1, 'S'), (2, 'T')],
        ),
        (
            "right after a closing",
            b">>>>>>> b\n=======\n",
            &[(1, 'T'), (2, 'S')],
        ),
        (
            "right before an opening",
            b"Title\n=======\n<<<<<<< a\n",
            &[(2, 'S'), (3, 'O')],
        ),
        (
            "right after a base",
            b"||||||| base\n=======\n",
            &[(1, 'B'), (2, 'S')],
        ),
        (
            "between, far from both",
            b"<<<<<<< a\nx\n\ny\n=======\nz\n\nw\n>>>>>>> b\n",
            &[(1, 'O'), (5, 'S'), (9, 'T')],
        ),
        (
            "between base and closing",
            b"||||||| base\nx\n=======\ny\n>>>>>>> b\n",
            &[(1, 'B'), (3, 'S'), (5, 'T')],
        ),
        (
            "several separators in one conflict",
            b"<<<<<<< a\n=======\nx\n=======\ny\n=======\n>>>>>>> b\n",
            &[(1, 'O'), (2, 'S'), (4, 'S'), (6, 'S'), (7, 'T')],
        ),
        (
            "after an opening that never closes",
            b"<<<<<<< a\nx\n=======\ny\n",
            &[(1, 'O')],
        ),
        (
            "before an opening, not next to it",
            b"=======\nx\n<<<<<<< a\n",
            &[(3, 'O')],
        ),
        (
            "after a closing, not next to it",
            b">>>>>>> b\nx\n=======\n",
            &[(1, 'T')],
        ),
        (
            "between two conflicts, not inside either",
            b"<<<<<<< a\n=======\n>>>>>>> b\nTitle\n=======\ntext\n<<<<<<< a\n=======\n>>>>>>> b\n",
            &[(1, 'O'), (2, 'S'), (3, 'T'), (7, 'O'), (8, 'S'), (9, 'T')],
        ),
        (
            "opening then another opening",
            b"<<<<<<< a\nx\n=======\ny\n<<<<<<< c\n",
            &[(1, 'O'), (5, 'O')],
        ),
        (
            "a base marker does not close a conflict",
            b"<<<<<<< a\nx\n=======\ny\n||||||| base\n",
            &[(1, 'O'), (5, 'B')],
        ),
        (
            "separator next to a second opening inside an open conflict",
            b"<<<<<<< a\nx\n=======\n<<<<<<< c\n",
            &[(1, 'O'), (3, 'S'), (4, 'O')],
        ),
    ]);
}

#[test]
fn lines_end_at_newline_only() {
    check_table(&[
        (
            "CRLF conflict",
            b"<<<<<<< HEAD\r\nx\r\n=======\r\ny\r\n>>>>>>> b\r\n",
            &[(1, 'O'), (3, 'S'), (5, 'T')],
        ),
        // A lone CR does not end a line: this is one line, an opening with a long label.
        ("lone CR", b"<<<<<<< a\r=======\r>>>>>>> b\n", &[(1, 'O')]),
        ("lone CR before a marker", b"x\r<<<<<<< a\n", &[]),
        (
            "lone CR in an earlier line",
            b"a\rb\rc\n<<<<<<< x\n",
            &[(2, 'O')],
        ),
        ("no trailing newline", b"a\nb\n<<<<<<< x", &[(3, 'O')]),
        ("empty", b"", &[]),
        ("only newlines", b"\n\n\n", &[]),
        ("marker on the first line", b">>>>>>> b\n", &[(1, 'T')]),
    ]);
}

#[test]
fn non_utf8_content_is_scanned_as_bytes() {
    check_table(&[
        (
            "invalid utf-8 around",
            b"\xff\xfe\n<<<<<<< \xc3\x28\n\x80\n>>>>>>> b\n",
            &[(2, 'O'), (4, 'T')],
        ),
        ("latin-1 label", b"<<<<<<< caf\xe9\n", &[(1, 'O')]),
    ]);
}

#[test]
fn binary_files_are_skipped() {
    let mut content = b"<<<<<<< a\n".to_vec();
    assert!(!is_binary(&content));
    content.push(0);
    assert!(is_binary(&content));
    assert_eq!(found(&content), []);

    // The probe is the first 8 KiB exactly.
    let mut late_nul = vec![b'x'; BINARY_PROBE_LEN];
    late_nul.extend_from_slice(b"\0\n<<<<<<< a\n");
    assert!(!is_binary(&late_nul));
    assert_eq!(found(&late_nul), [(2, 'O')]);
    let mut edge_nul = vec![b'x'; BINARY_PROBE_LEN - 1];
    edge_nul.extend_from_slice(b"\0\n<<<<<<< a\n");
    assert!(is_binary(&edge_nul));
    assert_eq!(found(&edge_nul), []);
}

#[test]
fn huge_files_keep_exact_line_numbers() {
    // ~48 MiB of source-like text, markers at the very start and end.
    let line = b"    let value = compute(a, b) >> 2 | mask; // <=> and == are noise\n";
    let lines = 48 * 1024 * 1024 / line.len();
    let mut content = Vec::with_capacity((lines + 8) * line.len());
    content.extend_from_slice(b"<<<<<<< HEAD\n");
    for _ in 0..lines {
        content.extend_from_slice(line);
    }
    content.extend_from_slice(b"=======\n>>>>>>> other");
    let total = lines as u32 + 3;
    assert_eq!(found(&content), [(1, 'O'), (total - 1, 'S'), (total, 'T')]);
}

#[test]
fn line_numbers_saturate_instead_of_wrapping() {
    assert_eq!(saturating_line(7), 7);
    assert_eq!(saturating_line(u32::MAX as usize + 10), u32::MAX);
}

#[test]
fn kinds_say_what_they_are() {
    let marks: Vec<&str> = MarkerKind::ALL.iter().map(|k| k.marker()).collect();
    assert_eq!(marks, ["<<<<<<<", "|||||||", "=======", ">>>>>>>"]);
    assert_eq!(
        MarkerKind::Separator.to_string(),
        "conflict marker ======= (separator between the two sides of a conflict)"
    );
    let f = Finding::new(
        "src/a b.rs",
        Marker {
            line: 3,
            kind: MarkerKind::Ours,
        },
    );
    assert_eq!(
        f.to_string(),
        "src/a b.rs:3: conflict marker <<<<<<< (start of a conflict, our side)"
    );
    assert_eq!(serde_json::to_value(MarkerKind::Theirs).unwrap(), "theirs");
}

#[test]
fn classify_line_is_the_per_line_rule() {
    let m = |kind, bare| Some(LineMarker { kind, bare });
    let cases: &[(&[u8], Option<LineMarker>)] = &[
        (b"<<<<<<< x", m(MarkerKind::Ours, false)),
        (b"||||||| x", m(MarkerKind::Base, false)),
        (b"=======", m(MarkerKind::Separator, false)),
        (b"=======\r", m(MarkerKind::Separator, false)),
        (b">>>>>>> x\r", m(MarkerKind::Theirs, false)),
        (b">>>>>>> \r", m(MarkerKind::Theirs, true)),
        (b"<<<<<<<", m(MarkerKind::Ours, true)),
        (b"|||||||\t", m(MarkerKind::Base, true)),
        (b"<<<<<<<<", None),
        (b"<<<<<<<x", None),
        (b"", None),
        (b"<", None),
        (b"=", None),
    ];
    for (line, expected) in cases {
        assert_eq!(
            classify_line(line),
            *expected,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn bare_markers_count_when_they_open_or_close_a_block() {
    check_table(&[
        (
            "git merge-file with empty labels",
            b"a\n<<<<<<<\nours\n=======\ntheirs\n>>>>>>>\nb\n",
            &[(2, 'O'), (4, 'S'), (6, 'T')],
        ),
        (
            "diff3 with empty labels",
            b"<<<<<<<\nours\n|||||||\nbase\n=======\ntheirs\n>>>>>>>\n",
            &[(1, 'O'), (3, 'B'), (5, 'S'), (7, 'T')],
        ),
        (
            "jj style sections",
            b"<<<<<<<\n%%%%%%%\n-a\n+b\n+++++++\nc\n>>>>>>>\n",
            &[(1, 'O'), (7, 'T')],
        ),
        (
            "trailing whitespace and CRLF",
            b"<<<<<<< \t\r\nx\r\n>>>>>>>\r\n",
            &[(1, 'O'), (3, 'T')],
        ),
        (
            "bare opening, labelled closing",
            b"<<<<<<<\nx\n=======\n>>>>>>> b\n",
            &[(1, 'O'), (3, 'S'), (4, 'T')],
        ),
        ("a lone bare opening", b"<<<<<<<\ntext\n", &[]),
        ("a lone bare closing", b"text\n>>>>>>>\n", &[]),
        ("closing before opening", b">>>>>>>\nx\n<<<<<<<\n", &[]),
        (
            "a bare closing after a closed block",
            b"<<<<<<< a\n=======\n>>>>>>> b\n>>>>>>>\n",
            &[(1, 'O'), (2, 'S'), (3, 'T')],
        ),
        (
            "the second of two bare openings opens",
            b"<<<<<<<\n<<<<<<<\nx\n>>>>>>>\n",
            &[(2, 'O'), (4, 'T')],
        ),
        ("a bare base outside a block", b"|||||||\n=======\n", &[]),
        (
            "a separator next to a bare opening that opens nothing",
            b"<<<<<<<\n=======\ntext\n",
            &[],
        ),
        (
            "markdown is still clean",
            b"Title\n=======\n\n<<<<<<<\n\n=======\n",
            &[],
        ),
    ]);
}

#[test]
fn a_scanner_finds_markers_of_exactly_its_width() {
    let wide = format!(
        "a\n{} ours\nx\n{}\ny\n{} theirs\n",
        "<".repeat(32),
        "=".repeat(32),
        ">".repeat(32)
    );
    let scanner = Scanner::with_width(32);
    assert_eq!(scanner.width(), 32);
    let kinds: Vec<(u32, MarkerKind)> = scanner
        .scan(wide.as_bytes())
        .into_iter()
        .map(|m| (m.line, m.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (2, MarkerKind::Ours),
            (4, MarkerKind::Separator),
            (6, MarkerKind::Theirs)
        ]
    );
    // Seven-wide examples in a 32-wide file are text; a complete 32-wide
    // block is a conflict at any width (see the any-width block rule).
    let example = b"<<<<<<< HEAD\n=======\n>>>>>>> b\n";
    assert_eq!(scanner.scan(example), vec![]);
    assert_eq!(scan(wide.as_bytes()), scanner.scan(wide.as_bytes()));
    // Lone 32-wide lines are not a block, so text at the default width.
    let lone = format!("{} ours\nx\n{}\n", "<".repeat(32), "=".repeat(32));
    assert_eq!(scan(lone.as_bytes()), vec![]);
    // Narrow widths work too, with the same exactness.
    let narrow = Scanner::with_width(3);
    assert_eq!(narrow.scan(b"<<< a\n===\n>>> b\n").len(), 3);
    assert_eq!(narrow.scan(b"<<<< a\n>>>> b\n"), vec![]);
}

#[test]
fn only_text_with_marker_like_lines_needs_a_width() {
    assert!(!could_hold_markers_at_some_width(
        b"Title\n=======\n\n> quote\n<p>\n| a |\n"
    ));
    assert!(could_hold_markers_at_some_width(b"x\n<<<<<<<<<<<< HEAD\n"));
    assert!(could_hold_markers_at_some_width(b">> x"));
    assert!(could_hold_markers_at_some_width(b"a\n||\n"));
    assert!(!could_hold_markers_at_some_width(b"\0<<<<<<< a\n"));
    assert!(!could_hold_markers_at_some_width(b""));
}

#[test]
fn marker_sizes_parse_like_git() {
    assert_eq!(parse_marker_size("32"), 32);
    assert_eq!(parse_marker_size(" 9 "), 9);
    assert_eq!(parse_marker_size("0"), DEFAULT_MARKER_WIDTH);
    assert_eq!(parse_marker_size("-3"), DEFAULT_MARKER_WIDTH);
    assert_eq!(parse_marker_size("set"), DEFAULT_MARKER_WIDTH);
    assert_eq!(parse_marker_size("unspecified"), DEFAULT_MARKER_WIDTH);
    assert_eq!(parse_marker_size("100000"), DEFAULT_MARKER_WIDTH);
    assert_eq!(Scanner::with_width(0).width(), 1);
}

// ---------------------------------------------------------------------------
// Property tests.

/// The rule written the slow, obvious way: split into lines, classify each,
/// look at neighbours and at the nearest markers either side.
fn reference_scan(content: &[u8]) -> Vec<Marker> {
    if content.iter().take(BINARY_PROBE_LEN).any(|&b| b == 0) {
        return Vec::new();
    }
    let mut kinds: Vec<Option<(MarkerKind, bool)>> = content
        .split(|&b| b == b'\n')
        .map(reference_classify)
        .collect();
    // Bare markers: kept when the nearest opening/closing on the needed
    // side(s) makes a block.
    let structural = |k: &Option<(MarkerKind, bool)>| {
        k.map(|(k, _)| k)
            .filter(|k| matches!(k, MarkerKind::Ours | MarkerKind::Theirs))
    };
    let decided: Vec<Option<(MarkerKind, bool)>> = (0..kinds.len())
        .map(|i| {
            let (kind, bare) = kinds[i]?;
            if !bare {
                return Some((kind, bare));
            }
            let before = kinds[..i].iter().rev().find_map(structural);
            let after = kinds[i + 1..].iter().find_map(structural);
            let opened = before == Some(MarkerKind::Ours);
            let closed = after == Some(MarkerKind::Theirs);
            let keep = match kind {
                MarkerKind::Ours => closed,
                MarkerKind::Theirs => opened,
                MarkerKind::Base => opened && closed,
                MarkerKind::Separator => true,
            };
            keep.then_some((kind, bare))
        })
        .collect();
    kinds = decided;
    let strong = |i: usize| {
        kinds
            .get(i)
            .copied()
            .flatten()
            .map(|(k, _)| k)
            .filter(|k| *k != MarkerKind::Separator)
    };
    let mut out = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let Some((kind, _)) = *kind else { continue };
        let counts = if kind != MarkerKind::Separator {
            true
        } else {
            let next_to = (i > 0 && strong(i - 1).is_some()) || strong(i + 1).is_some();
            let before = (0..i).rev().find_map(strong);
            let after = (i + 1..kinds.len()).find_map(strong);
            let between = matches!(before, Some(MarkerKind::Ours | MarkerKind::Base))
                && after == Some(MarkerKind::Theirs);
            next_to || between
        };
        if counts {
            out.push(Marker {
                line: i as u32 + 1,
                kind,
            });
        }
    }
    out
}

/// The per-line rule: `Some((kind, bare))`.
fn reference_classify(line: &[u8]) -> Option<(MarkerKind, bool)> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line == b"=======" {
        return Some((MarkerKind::Separator, false));
    }
    let prefixes: [(&[u8], MarkerKind); 3] = [
        (b"<<<<<<<", MarkerKind::Ours),
        (b"|||||||", MarkerKind::Base),
        (b">>>>>>>", MarkerKind::Theirs),
    ];
    let (rest, kind) = prefixes
        .into_iter()
        .find_map(|(prefix, kind)| line.strip_prefix(prefix).map(|rest| (rest, kind)))?;
    // `line` has lost one trailing CR; any other whitespace is still there.
    if rest.iter().all(|b| b" \t\r\x0c".contains(b)) {
        return Some((kind, true));
    }
    let label = rest.strip_prefix(b" ")?;
    label
        .iter()
        .any(|b| !b" \t\r\x0c".contains(b))
        .then_some((kind, false))
}

/// Widens every line-leading run of seven or more marker characters by
/// `extra`: text whose markers are `7 + extra` wide.
fn widen(content: &[u8], extra: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len());
    for (i, line) in content.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        let run = match line.first() {
            Some(&c) if b"<|=>".contains(&c) => line.iter().take_while(|&&b| b == c).count(),
            _ => 0,
        };
        if run >= 7 {
            out.extend(std::iter::repeat_n(line[0], extra));
        }
        out.extend_from_slice(line);
    }
    out
}

/// Lines built to sit near the rules' edges: real markers, near misses,
/// Markdown, CR bytes and ordinary text.
fn edgy_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(prop_oneof![Just(b'<'), Just(b'='), Just(b'>'), Just(b'|'), Just(b' '), Just(b'\r'), Just(b'a'), any::<u8>().prop_filter("no NUL or LF", |b| *b != 0 && *b != b'\n')], 0..12),
        1 => Just(b"<<<<<<< HEAD".to_vec()),
        1 => Just(b"||||||| base".to_vec()),
        1 => Just(b"=======".to_vec()),
        1 => Just(b"=======\r".to_vec()),
        1 => Just(b">>>>>>> feature".to_vec()),
        1 => Just(b"<<<<<<< ".to_vec()),
        1 => Just(b"<<<<<<<".to_vec()),
        1 => Just(b">>>>>>>".to_vec()),
        1 => Just(b"||||||| \t".to_vec()),
        1 => Just(b"========".to_vec()),
        1 => Just(b" =======".to_vec()),
        1 => Just(b">>>>>>>> x".to_vec()),
        1 => Just(b"Title".to_vec()),
        1 => Just(Vec::new()),
    ]
}

fn join(lines: &[Vec<u8>], crlf: bool, trailing_newline: bool) -> Vec<u8> {
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        out.extend_from_slice(line);
        if i + 1 < lines.len() || trailing_newline {
            out.extend_from_slice(eol);
        }
    }
    out
}

/// A line that is never a marker, whatever surrounds it.
fn noise_line() -> impl Strategy<Value = Vec<u8>> {
    edgy_line().prop_filter("not a marker", |l| reference_classify(l).is_none())
}

/// A conflict block: its lines and, for each, the marker kind it is.
fn conflict_block() -> impl Strategy<Value = Vec<(Vec<u8>, Option<MarkerKind>)>> {
    let side = || proptest::collection::vec(noise_line(), 0..4);
    (
        side(),
        proptest::option::of(side()),
        side(),
        "[ -~]{1,20}",
        "[ -~]{1,20}",
    )
        .prop_map(|(ours, base, theirs, label_a, label_b)| {
            let mut block = vec![(
                format!("<<<<<<< {label_a}").into_bytes(),
                Some(MarkerKind::Ours),
            )];
            block.extend(ours.into_iter().map(|l| (l, None)));
            if let Some(base) = base {
                block.push((b"||||||| base".to_vec(), Some(MarkerKind::Base)));
                block.extend(base.into_iter().map(|l| (l, None)));
            }
            block.push((b"=======".to_vec(), Some(MarkerKind::Separator)));
            block.extend(theirs.into_iter().map(|l| (l, None)));
            block.push((
                format!(">>>>>>> {label_b}").into_bytes(),
                Some(MarkerKind::Theirs),
            ));
            block
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The fast scanner agrees with the obvious one on arbitrary edgy text.
    #[test]
    fn scan_matches_the_reference(lines in proptest::collection::vec(edgy_line(), 0..40), crlf: bool, trailing: bool) {
        let content = join(&lines, crlf, trailing);
        prop_assert_eq!(scan(&content), reference_scan(&content));
    }

    /// Text the width probe rules out has no markers at any width.
    #[test]
    fn the_width_probe_never_misses_a_marker(lines in proptest::collection::vec(edgy_line(), 0..30), extra in 0usize..20) {
        let content = widen(&join(&lines, false, true), extra);
        if !could_hold_markers_at_some_width(&content) {
            for width in MIN_LOOKED_UP_WIDTH..40 {
                prop_assert_eq!(Scanner::with_width(width).scan(&content), vec![]);
            }
        }
    }

    /// Markers N wide are found by the N-wide scanner exactly where the
    /// seven-wide ones are found at the default width, and are invisible to it.
    #[test]
    fn wider_markers_are_found_at_their_width_only(lines in proptest::collection::vec(edgy_line(), 0..40), extra in 1usize..40, crlf: bool) {
        let content = join(&lines, crlf, true);
        let wide = widen(&content, extra);
        let at_width = Scanner::with_width(7 + extra).scan(&wide);
        prop_assert_eq!(&at_width, &scan(&content));
        // At the default width only complete blocks of them count: never a
        // marker the wide scanner does not find itself.
        for m in scan(&wide) {
            prop_assert!(at_width.contains(&m), "{:?} not in {:?}", m, at_width);
        }
    }

    /// A complete block of any width from 8 up is found at the default
    /// width, exactly where the scanner of its width finds it; any line of
    /// it alone is not.
    #[test]
    fn complete_blocks_of_any_width_are_found(
        noise in proptest::collection::vec(noise_line(), 0..20),
        at in any::<prop::sample::Index>(),
        n in 8usize..64,
        diff3: bool,
        crlf: bool,
    ) {
        let mut block = vec![format!("{} ours", "<".repeat(n)).into_bytes(), b"x".to_vec()];
        if diff3 {
            block.push(format!("{} base", "|".repeat(n)).into_bytes());
            block.push(b"y".to_vec());
        }
        block.push("=".repeat(n).into_bytes());
        block.push(b"z".to_vec());
        block.push(format!("{} theirs", ">".repeat(n)).into_bytes());
        let at = at.index(noise.len() + 1);
        let mut lines = noise.clone();
        lines.splice(at..at, block.clone());
        let content = join(&lines, crlf, true);
        let found = scan(&content);
        let offsets: &[usize] = if diff3 { &[0, 2, 4, 6] } else { &[0, 2, 4] };
        let lines: Vec<usize> = found.iter().map(|m| m.line as usize).collect();
        let expected: Vec<usize> = offsets.iter().map(|o| at + 1 + o).collect();
        prop_assert_eq!(lines, expected);
        // Each is what the scanner of its width finds there too.
        let at_n = Scanner::with_width(n).scan(&content);
        for m in &found {
            prop_assert!(at_n.contains(m), "{:?} not in {:?}", m, at_n);
        }
        // Without its closing line the block is incomplete: nothing (when
        // no noise line could stand in for it).
        if noise.iter().any(|l| l.first().is_some_and(|c| b"<|=>".contains(c))) {
            return Ok(());
        }
        let mut cut = noise.clone();
        cut.splice(at..at, block[..block.len() - 1].iter().cloned());
        prop_assert_eq!(scan(&join(&cut, crlf, true)), vec![]);
    }

    /// Noise never holds a marker, and injected conflicts are found exactly.
    #[test]
    fn injected_markers_are_found_and_none_invented(
        noise in proptest::collection::vec(noise_line(), 0..60),
        blocks in proptest::collection::vec((any::<prop::sample::Index>(), conflict_block()), 0..4),
        crlf: bool,
        trailing: bool,
    ) {
        prop_assert_eq!(scan(&join(&noise, crlf, trailing)), vec![]);

        // Blocks go between noise lines, never inside one another.
        let mut blocks: Vec<(usize, _)> = blocks.into_iter().map(|(at, b)| (at.index(noise.len() + 1), b)).collect();
        blocks.sort_by_key(|(at, _)| *at);
        let mut lines: Vec<(Vec<u8>, Option<MarkerKind>)> = Vec::new();
        let mut blocks = blocks.into_iter().peekable();
        for i in 0..=noise.len() {
            while let Some((_, block)) = blocks.next_if(|(at, _)| *at == i) {
                lines.extend(block);
            }
            if let Some(line) = noise.get(i) {
                lines.push((line.clone(), None));
            }
        }
        let expected: Vec<Marker> = lines
            .iter()
            .enumerate()
            .filter_map(|(i, (_, kind))| kind.map(|kind| Marker { line: i as u32 + 1, kind }))
            .collect();
        let text: Vec<Vec<u8>> = lines.into_iter().map(|(l, _)| l).collect();
        prop_assert_eq!(scan(&join(&text, crlf, trailing)), expected);
    }

    /// Markdown full of rules and setext headings, without a single opening
    /// or closing marker, is never flagged.
    #[test]
    fn markdown_without_markers_is_clean(
        parts in proptest::collection::vec(prop_oneof![Just("======="), Just("Title"), Just(""), Just("-------"), Just("text ==="), Just("=======\r")], 0..50),
    ) {
        let content = parts.join("\n");
        prop_assert_eq!(scan(content.as_bytes()), vec![]);
    }
}

#[test]
fn complete_blocks_of_another_width_are_conflicts() {
    let ten = |c: &str| c.repeat(10);
    let block = format!(
        "a\n{} ours\nx\n{} base\ny\n{}\nz\n{} theirs\nb\n",
        ten("<"),
        ten("|"),
        ten("="),
        ten(">")
    );
    let kinds = |markers: Vec<Marker>| -> Vec<(u32, char)> {
        markers
            .into_iter()
            .map(|m| (m.line, short(m.kind)))
            .collect()
    };
    let expected = [(2, 'O'), (4, 'B'), (6, 'S'), (8, 'T')];
    assert_eq!(kinds(scan(block.as_bytes())), expected);
    // At an attribute's width too (a block ten wide in a 32-wide file).
    assert_eq!(
        kinds(Scanner::with_width(32).scan(block.as_bytes())),
        expected
    );
    assert_eq!(
        kinds(Scanner::with_width(3).scan(block.as_bytes())),
        expected
    );
    // Bare markers of the same width form a block as well.
    let bare = format!("{}\n{}\n{}\n", ten("<"), ten("="), ten(">"));
    assert_eq!(kinds(scan(bare.as_bytes())), [(1, 'O'), (2, 'S'), (3, 'T')]);
    check_table(&[
        (
            "a Markdown rule of ten",
            b"Title\n==========\n\ntext\n",
            &[],
        ),
        (
            "widths that differ",
            b"<<<<<<<<<< a\nx\n=========\ny\n>>>>>>>>>> b\n",
            &[],
        ),
        (
            "out of order",
            b">>>>>>>>>> a\nx\n==========\ny\n<<<<<<<<<< b\n",
            &[],
        ),
        ("no separator", b"<<<<<<<<<< a\nx\n>>>>>>>>>> b\n", &[]),
        (
            "a separator with text after it",
            b"<<<<<<<<<< a\n========== x\n>>>>>>>>>> b\n",
            &[],
        ),
        (
            "eight wide, CRLF",
            b"<<<<<<<< a\r\n1\r\n========\r\n2\r\n>>>>>>>> b\r\n",
            &[(1, 'O'), (3, 'S'), (5, 'T')],
        ),
    ]);
    // Seven wide in a file whose attribute widens its markers stays text
    // (git/git's documentation shows such examples).
    assert_eq!(
        Scanner::with_width(32).scan(b"<<<<<<< a\n=======\n>>>>>>> b\n"),
        vec![]
    );
    assert!(!block_width_counts(7, 32));
    assert!(block_width_counts(10, 7));
    assert!(!block_width_counts(32, 32));
}
