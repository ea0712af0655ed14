//! A small YAML tree that remembers where every node came from.
//!
//! The hard part of validating `.github/seamguard.yml` is not the rules but
//! the positions: every problem must name its line and column, and the file
//! must be reported whole, not up to its first mistake. serde-based loaders
//! stop at the first error and forget positions once a value is built, so we
//! build our own tree from `saphyr-parser`'s event stream (a full YAML 1.2
//! parser that gives a span per event) and keep, on every node:
//!
//! - its position (1-based line and column, columns counted in characters, as
//!   editors show them);
//! - for scalars, whether the text was plain or quoted, so that `true` and
//!   `"true"` stay different (YAML 1.2 core schema: only plain scalars are
//!   resolved to null, booleans and numbers);
//! - for mappings, every entry in order, duplicates included, so the reader
//!   can report a duplicate key instead of silently keeping one of them.
//!
//! What a file may cost is bounded before and while it is loaded: a text
//! over [`MAX_TEXT_BYTES`] is refused unread, at the line where it passes
//! the bound. Aliases are expanded by copying the anchored node, and each
//! anchor remembers how many values and bytes of text it holds, so a copy
//! is charged at once: past [`MAX_NODES`] values or [`MAX_EXPANDED_BYTES`]
//! of text ("billion laughs", or one long string aliased ten thousand
//! times) loading stops with "too many aliases" at the alias that crossed
//! it. Nesting is bounded by [`MAX_DEPTH`] so dropping or walking the tree
//! cannot overflow the stack. Syntax errors are fatal in the parser, so
//! they end loading with one problem at the place the parser gave up.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

/// A repository config has about thirty nodes; this leaves room for long
/// glob lists while stopping alias bombs (each alias copies its target).
pub(crate) const MAX_NODES: usize = 10_000;

/// The largest text loaded. Real configs are a few KiB (the reference
/// with every key and comments is under 2 KiB); 64 KiB leaves room for
/// hundreds of globs and keeps a hostile file's parse in the milliseconds.
pub(crate) const MAX_TEXT_BYTES: usize = 64 * 1024;

/// The most text (scalar bytes) a document may hold once its aliases are
/// expanded: four times the largest file, so aliases can still share a
/// long list, while one long string aliased thousands of times (which took
/// gigabytes and a minute) stops at once.
pub(crate) const MAX_EXPANDED_BYTES: usize = 4 * MAX_TEXT_BYTES;

/// The config schema is three levels deep; anything past this is a mistake or
/// an attack, and the bound keeps recursive walks and drops off the stack edge.
pub(crate) const MAX_DEPTH: usize = 64;

/// The handle saphyr-parser reports for the `!!` (core schema) tags.
const CORE_TAG_HANDLE: &str = "tag:yaml.org,2002:";

/// Where a node starts: 1-based line and column (characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(span: &Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// A node of the tree with its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Entries in file order, duplicates kept; keys may be any node.
    Map(Vec<(Node, Node)>),
}

/// A scalar's text, and whether YAML's type resolution applies to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    pub text: String,
    /// Plain (unquoted, untagged) scalars resolve to null, bool, int or
    /// float when they look like one; quoted, block and `!!str` ones are
    /// always strings.
    pub plain: bool,
}

/// What a scalar means under the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    /// An integer; `None` when it does not fit in an `i128`.
    Int(Option<i128>),
    Float(f64),
    Str(&'a str),
}

impl Scalar {
    /// Resolves the scalar with the YAML 1.2 core schema (so `yes` and `on`
    /// are strings, as in YAML 1.2, not booleans as in YAML 1.1).
    pub fn value(&self) -> Value<'_> {
        if !self.plain {
            return Value::Str(&self.text);
        }
        resolve_plain(&self.text)
    }
}

fn resolve_plain(text: &str) -> Value<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(int) = resolve_int(text) {
        return int;
    }
    resolve_float(text).unwrap_or(Value::Str(text))
}

fn resolve_int(text: &str) -> Option<Value<'static>> {
    let (radix, digits, negative) = if let Some(hex) = text.strip_prefix("0x") {
        (16, hex, false)
    } else if let Some(oct) = text.strip_prefix("0o") {
        (8, oct, false)
    } else if let Some(rest) = text.strip_prefix('-') {
        (10, rest, true)
    } else {
        (10, text.strip_prefix('+').unwrap_or(text), false)
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok();
    Some(Value::Int(magnitude.map(|m| if negative { -m } else { m })))
}

fn resolve_float(text: &str) -> Option<Value<'static>> {
    let unsigned = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        let inf = if text.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        return Some(Value::Float(inf));
    }
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let b = unsigned.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = digits(0);
    let int_digits = i;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        frac_digits = digits(i + 1);
        i += 1 + frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(i + 1), Some(b'-' | b'+')));
        let exp_digits = digits(i + 1 + sign);
        if exp_digits == 0 {
            return None;
        }
        i += 1 + sign + exp_digits;
    }
    if i != b.len() {
        return None;
    }
    text.parse::<f64>().ok().map(Value::Float)
}

impl Node {
    /// How a problem message names what was found here, e.g. "the string `yes`".
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Seq(_) => "a list".to_owned(),
            Kind::Map(_) => "a mapping".to_owned(),
            Kind::Scalar(s) => match s.value() {
                Value::Null => "nothing (null)".to_owned(),
                Value::Bool(_) => format!("the boolean `{}`", s.text),
                Value::Int(_) | Value::Float(_) => format!("the number `{}`", s.text),
                Value::Str(text) => format!("the string `{}`", ellipsize(text)),
            },
        }
    }

    /// The scalar, if this node is one.
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// True for a null scalar (`~`, `null`, or nothing at all).
    pub fn is_null(&self) -> bool {
        self.scalar().is_some_and(|s| s.value() == Value::Null)
    }
}

/// Keeps quoted user text short in messages: one line, at most 60 characters.
pub(crate) fn ellipsize(text: &str) -> String {
    const MAX_SHOWN_CHARS: usize = 60;
    let line = text.lines().next().unwrap_or("");
    let mut shown: String = line.chars().take(MAX_SHOWN_CHARS).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// A reason the text could not be loaded as a tree, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadProblem {
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.pos.line, self.pos.column, self.message)
    }
}

impl std::error::Error for LoadProblem {}

/// A loaded document and the problems that did not stop loading (such as an
/// unsupported tag), in file order.
#[derive(Debug, PartialEq)]
pub(crate) struct Loaded {
    /// `None` when the text holds no document (empty, or only comments).
    pub root: Option<Node>,
    pub problems: Vec<LoadProblem>,
}

/// The problem of a text of `bytes` bytes, over [`MAX_TEXT_BYTES`], at
/// `line` (where it passes the bound, when the text was read).
pub(crate) fn too_large(bytes: u64, line: usize) -> LoadProblem {
    LoadProblem {
        pos: Pos { line, column: 1 },
        message: format!(
            "too large: the file is {} KiB and seamguard reads at most {} KiB \
             (a config is a few KiB); it passes the limit on this line",
            bytes.div_ceil(1024),
            MAX_TEXT_BYTES / 1024
        ),
    }
}

/// Loads one YAML document. A syntax error, a second document or a size
/// bound ends loading: `Err` then holds every problem found up to there.
pub(crate) fn load(text: &str) -> Result<Loaded, Vec<LoadProblem>> {
    if text.len() > MAX_TEXT_BYTES {
        let line = memchr::memchr_iter(b'\n', &text.as_bytes()[..MAX_TEXT_BYTES]).count() + 1;
        return Err(vec![too_large(text.len() as u64, line)]);
    }
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = match event {
            Ok(ok) => ok,
            Err(err) => {
                let pos = Pos {
                    line: err.marker().line(),
                    column: err.marker().col() + 1,
                };
                builder.problems.push(LoadProblem {
                    pos: within(text, pos),
                    message: format!("not valid YAML: {}", err.info()),
                });
                return Err(builder.problems);
            }
        };
        if let Err(fatal) = builder.event(event, span) {
            builder.problems.push(fatal);
            return Err(builder.problems);
        }
    }
    Ok(Loaded {
        root: builder.root,
        problems: builder.problems,
    })
}

/// The parser may place an error at end of input one line past the text;
/// such a position is moved to the end of the last line, so it can be shown.
fn within(text: &str, pos: Pos) -> Pos {
    let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
    if pos.line <= lines {
        return pos;
    }
    let last = text.rsplit('\n').next().unwrap_or("");
    Pos {
        line: lines,
        column: last.chars().count() + 1,
    }
}

/// Loads a document that must be free of problems (the embedded manifest).
pub(crate) fn load_strict(text: &str) -> Result<Option<Node>, Vec<LoadProblem>> {
    let loaded = load(text)?;
    if loaded.problems.is_empty() {
        Ok(loaded.root)
    } else {
        Err(loaded.problems)
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// An anchored node and what a copy of it costs.
struct Anchored {
    node: Node,
    /// Values in it (itself included).
    nodes: usize,
    /// Bytes of scalar text in it.
    bytes: usize,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    anchors: HashMap<usize, Anchored>,
    nodes: usize,
    /// Bytes of scalar text so far, aliases expanded.
    bytes: usize,
    problems: Vec<LoadProblem>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), LoadProblem> {
        let pos = Pos::of(&span);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(LoadProblem {
                        pos,
                        message: "a second YAML document starts here; the file must hold one"
                            .to_owned(),
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let mut plain = style == ScalarStyle::Plain;
                if let Some(tag) = tag {
                    plain &= self.check_tag(&tag, pos);
                }
                let bytes = text.len();
                let node = Node {
                    pos,
                    kind: Kind::Scalar(Scalar {
                        text: text.into_owned(),
                        plain,
                    }),
                };
                self.count(1, bytes, pos)?;
                self.finish(node, anchor);
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(LoadProblem {
                        pos,
                        message: "alias to an unknown anchor".to_owned(),
                    });
                };
                // Charged before the copy is made: a bomb stops here.
                let (nodes, bytes) = (target.nodes, target.bytes);
                self.alias(nodes, bytes, pos)?;
                let mut copy = self.anchors[&id].node.clone();
                copy.pos = pos;
                self.finish(copy, 0);
            }
            Event::SequenceStart(anchor, tag) => {
                if let Some(tag) = tag {
                    self.check_tag(&tag, pos);
                }
                self.open(
                    Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    },
                    pos,
                )?;
            }
            Event::MappingStart(anchor, tag) => {
                if let Some(tag) = tag {
                    self.check_tag(&tag, pos);
                }
                self.open(
                    Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    },
                    pos,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { pos, anchor, items }) => (
                        Node {
                            pos,
                            kind: Kind::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        pos,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            pos,
                            kind: Kind::Map(entries),
                        },
                        anchor,
                    ),
                    None => return Ok(()),
                };
                self.count(1, 0, pos)?;
                self.finish(node, anchor);
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), LoadProblem> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(LoadProblem {
                pos,
                message: format!("nested more than {MAX_DEPTH} levels deep"),
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Charges one value of `bytes` bytes of text written in the file.
    fn count(&mut self, nodes: usize, bytes: usize, pos: Pos) -> Result<(), LoadProblem> {
        self.nodes = self.nodes.saturating_add(nodes);
        self.bytes = self.bytes.saturating_add(bytes);
        if self.nodes > MAX_NODES {
            return Err(LoadProblem {
                pos,
                message: format!("more than {MAX_NODES} values"),
            });
        }
        Ok(())
    }

    /// Charges the copy an alias makes, or says there are too many.
    fn alias(&mut self, nodes: usize, bytes: usize, pos: Pos) -> Result<(), LoadProblem> {
        self.nodes = self.nodes.saturating_add(nodes);
        self.bytes = self.bytes.saturating_add(bytes);
        if self.nodes > MAX_NODES || self.bytes > MAX_EXPANDED_BYTES {
            return Err(LoadProblem {
                pos,
                message: format!(
                    "too many aliases: expanded, they make more than {MAX_NODES} values or \
                     {} KiB of text",
                    MAX_EXPANDED_BYTES / 1024
                ),
            });
        }
        Ok(())
    }

    /// Places a completed node in its parent (or as the root).
    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            let (nodes, bytes) = weight(&node);
            self.anchors.insert(
                anchor,
                Anchored {
                    node: node.clone(),
                    nodes,
                    bytes,
                },
            );
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }

    /// Core tags are allowed (`!!str` makes a scalar a string); any other tag
    /// is a problem. Returns whether the node keeps type resolution.
    fn check_tag(&mut self, tag: &Tag, pos: Pos) -> bool {
        if tag.handle == CORE_TAG_HANDLE {
            return tag.suffix != "str";
        }
        self.problems.push(LoadProblem {
            pos,
            message: format!(
                "unsupported YAML tag `{}{}`; remove it",
                tag.handle, tag.suffix
            ),
        });
        true
    }
}

/// The values in `node` (itself included) and the bytes of scalar text.
/// Walked once per anchor, over a tree already within the bounds.
fn weight(node: &Node) -> (usize, usize) {
    match &node.kind {
        Kind::Scalar(s) => (1, s.text.len()),
        Kind::Seq(items) => items.iter().map(weight).fold((1, 0), add),
        Kind::Map(entries) => entries
            .iter()
            .flat_map(|(k, v)| [weight(k), weight(v)])
            .fold((1, 0), add),
    }
}

fn add(a: (usize, usize), b: (usize, usize)) -> (usize, usize) {
    (a.0 + b.0, a.1 + b.1)
}

/// Converts a loaded tree to JSON (for the App manifest): mapping keys must
/// be strings and unique, numbers must fit JSON.
pub(crate) fn to_json(node: &Node) -> Result<serde_json::Value, LoadProblem> {
    let problem = |pos: Pos, message: String| LoadProblem { pos, message };
    Ok(match &node.kind {
        Kind::Scalar(s) => match s.value() {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Int(i) => {
                let n = i
                    .and_then(|i| i64::try_from(i).ok())
                    .ok_or_else(|| problem(node.pos, format!("`{}` is too large", s.text)))?;
                serde_json::Value::from(n)
            }
            Value::Float(f) => serde_json::Number::from_f64(f)
                .map(serde_json::Value::Number)
                .ok_or_else(|| problem(node.pos, format!("`{}` has no JSON form", s.text)))?,
            Value::Str(text) => serde_json::Value::String(text.to_owned()),
        },
        Kind::Seq(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Kind::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (key, value) in entries {
                let name = match key.scalar().map(Scalar::value) {
                    Some(Value::Str(name)) => name,
                    _ => {
                        return Err(problem(
                            key.pos,
                            format!("a key must be a string, found {}", key.describe()),
                        ));
                    }
                };
                if map.insert(name.to_owned(), to_json(value)?).is_some() {
                    return Err(problem(key.pos, format!("duplicate key `{name}`")));
                }
            }
            serde_json::Value::Object(map)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        load_strict(text).expect("loads").expect("has a document")
    }

    fn problems(text: &str) -> Vec<String> {
        load_strict(text)
            .expect_err("should not load")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn plain_scalars_resolve_with_the_core_schema() {
        let cases: &[(&str, Value<'_>)] = &[
            ("", Value::Null),
            ("~", Value::Null),
            ("null", Value::Null),
            ("NULL", Value::Null),
            ("true", Value::Bool(true)),
            ("False", Value::Bool(false)),
            ("yes", Value::Str("yes")),
            ("on", Value::Str("on")),
            ("0", Value::Int(Some(0))),
            ("-12", Value::Int(Some(-12))),
            ("+7", Value::Int(Some(7))),
            ("0x1F", Value::Int(Some(31))),
            ("0o17", Value::Int(Some(15))),
            ("0x", Value::Str("0x")),
            ("1_000", Value::Str("1_000")),
            ("6.0", Value::Float(6.0)),
            (".5", Value::Float(0.5)),
            ("1e3", Value::Float(1000.0)),
            ("1e", Value::Str("1e")),
            ("-.inf", Value::Float(f64::NEG_INFINITY)),
            ("30m", Value::Str("30m")),
            (".", Value::Str(".")),
            ("1.2.3", Value::Str("1.2.3")),
        ];
        for &(text, expected) in cases {
            let scalar = Scalar {
                text: text.to_owned(),
                plain: true,
            };
            assert_eq!(scalar.value(), expected, "plain scalar {text:?}");
        }
        assert_eq!(
            resolve_plain("99999999999999999999999999999999999999999"),
            Value::Int(None)
        );
    }

    #[test]
    fn quoted_and_str_tagged_scalars_stay_strings() {
        let node = root("a: \"true\"\nb: '5'\nc: !!str 5\nd: |\n  6\n");
        let Kind::Map(entries) = &node.kind else {
            panic!("mapping expected")
        };
        let values: Vec<_> = entries
            .iter()
            .map(|(_, v)| v.scalar().unwrap().value())
            .collect();
        assert_eq!(
            values,
            [
                Value::Str("true"),
                Value::Str("5"),
                Value::Str("5"),
                Value::Str("6\n")
            ]
        );
    }

    #[test]
    fn nodes_carry_one_based_positions() {
        let node = root("# comment\nmerge:\n  label: \"ship it\"\n  list: [a, b]\n");
        let Kind::Map(top) = &node.kind else {
            panic!("mapping expected")
        };
        let (key, merge) = &top[0];
        assert_eq!(key.pos, Pos { line: 2, column: 1 });
        let Kind::Map(inner) = &merge.kind else {
            panic!("mapping expected")
        };
        assert_eq!(inner[0].0.pos, Pos { line: 3, column: 3 });
        assert_eq!(
            inner[0].1.pos,
            Pos {
                line: 3,
                column: 10
            }
        );
        let Kind::Seq(items) = &inner[1].1.kind else {
            panic!("list expected")
        };
        assert_eq!(
            items[1].pos,
            Pos {
                line: 4,
                column: 13
            }
        );
    }

    #[test]
    fn duplicate_keys_are_kept_for_the_reader() {
        let node = root("a: 1\na: 2\n");
        let Kind::Map(entries) = &node.kind else {
            panic!("mapping expected")
        };
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn empty_and_comment_only_texts_hold_no_document() {
        assert_eq!(load_strict(""), Ok(None));
        assert_eq!(load_strict("# nothing here\n\n# at all\n"), Ok(None));
        assert!(root("---\n").is_null());
    }

    #[test]
    fn aliases_copy_their_anchor() {
        let node = root("a: &x [1, 2]\nb: *x\n");
        let Kind::Map(entries) = &node.kind else {
            panic!("mapping expected")
        };
        assert_eq!(entries[0].1.kind, entries[1].1.kind);
        assert_eq!(entries[1].1.pos, Pos { line: 2, column: 4 });
    }

    #[test]
    fn load_problems_name_their_position() {
        assert_eq!(
            problems("a: [1\n"),
            ["2:1: not valid YAML: while parsing a flow sequence, expected ',' or ']'"]
        );
        assert_eq!(
            problems("a: 1\n---\nb: 2\n"),
            ["2:1: a second YAML document starts here; the file must hold one"]
        );
        assert_eq!(
            problems("a: !thing 1\nb: !other [x]\n"),
            [
                "1:4: unsupported YAML tag `!thing`; remove it",
                "2:4: unsupported YAML tag `!other`; remove it"
            ]
        );
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_bounded() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let found = problems(&bomb);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("too many aliases"), "{found:?}");

        // One long string, aliased thousands of times: few values, but
        // gigabytes of text once expanded. Refused at the alias that
        // crosses the bound, with its line.
        let long = "x".repeat(40 * 1024);
        let mut bomb = format!("a: &a \"{long}\"\nlist:\n");
        for _ in 0..2_000 {
            bomb.push_str("  - *a\n");
        }
        assert!(bomb.len() < MAX_TEXT_BYTES);
        let found = problems(&bomb);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("8:5: too many aliases: expanded, they make more than"),
            "{found:?}"
        );
        // Aliases within the bound still work.
        let node = root(&format!("a: &a \"{long}\"\nb: [*a, *a]\n"));
        assert!(matches!(&node.kind, Kind::Map(e) if e.len() == 2));

        // A file over the size bound is refused unread, at the line where
        // it passes the bound.
        let line = format!("# {}\n", "y".repeat(1021));
        let big = line.repeat(100);
        assert_eq!(
            problems(&big),
            [
                "65:1: too large: the file is 100 KiB and seamguard reads at most 64 KiB \
              (a config is a few KiB); it passes the limit on this line"
            ]
        );

        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let found = problems(&deep);
        assert_eq!(found, ["1:65: nested more than 64 levels deep"]);
    }

    #[test]
    fn converts_to_json() {
        let node = root("name: x\nn: 3\nf: 1.5\nok: true\nnone: ~\nlist: [a, 'b']\n");
        assert_eq!(
            to_json(&node).unwrap(),
            serde_json::json!({"name": "x", "n": 3, "f": 1.5, "ok": true, "none": null, "list": ["a", "b"]})
        );
        let err = to_json(&root("a: 1\na: 2\n")).unwrap_err();
        assert_eq!(err.to_string(), "2:1: duplicate key `a`");
    }
}
