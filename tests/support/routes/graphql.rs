//! `POST /graphql`: the slice of GitHub's GraphQL API seamguard uses, as
//! strict as GitHub is.
//!
//! The document is lexed and parsed (one operation, variable definitions,
//! fields with arguments, aliases, inline fragments), then validated against
//! a small copy of the types of GitHub's public schema that it may touch:
//! every field must exist on its type, every argument must be known and its
//! variable declared with the argument's type, required arguments must be
//! there, leaves take no selection and objects need one, every declared
//! variable must be used and given a value of its type. A document that
//! fails answers as GitHub does (HTTP 200, `errors` with a message, no
//! `data`) and is also a conformance violation, so the test that sent it
//! fails. A valid one is executed against the world, and the answer holds
//! exactly the selected fields, as GraphQL answers do; a failed mutation
//! answers `errors` with GitHub's `type` (`NOT_FOUND`, `UNPROCESSABLE`) and
//! a `data` whose field is null.

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::{Answer, Ctx};
use crate::support::json as gh;
use crate::support::world::{QueueEntry, QueueRemoval, SeenAuth, World};

// ---------------------------------------------------------------- lexing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Var(String),
    Punct(char),
    Spread,
    Str(String),
    Int(i64),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i] as char;
        match c {
            ' ' | '\t' | '\n' | '\r' | ',' => i += 1,
            '#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            '{' | '}' | '(' | ')' | ':' | '!' | '[' | ']' | '=' | '@' => {
                out.push(Tok::Punct(c));
                i += 1;
            }
            '.' if src[i..].starts_with("...") => {
                out.push(Tok::Spread);
                i += 3;
            }
            '"' => {
                let start = i + 1;
                let end = src[start..]
                    .find('"')
                    .ok_or("Parse error: unterminated string")?;
                out.push(Tok::Str(src[start..start + end].to_owned()));
                i = start + end + 1;
            }
            '$' | 'a'..='z' | 'A'..='Z' | '_' => {
                let start = if c == '$' { i + 1 } else { i };
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                let name = src[start..j].to_owned();
                out.push(if c == '$' {
                    Tok::Var(name)
                } else {
                    Tok::Name(name)
                });
                i = j;
            }
            '-' | '0'..='9' => {
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                let n = src[i..j]
                    .parse()
                    .map_err(|_| format!("Parse error on {:?}", &src[i..j]))?;
                out.push(Tok::Int(n));
                i = j;
            }
            other => return Err(format!("Parse error on \"{other}\" (error) at offset {i}")),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- parsing

#[derive(Debug, Clone)]
enum Val {
    Var(String),
    Int(i64),
    Str(String),
    Enum(String),
    List(Vec<Val>),
    Object(Vec<(String, Val)>),
}

#[derive(Debug, Clone)]
enum Selection {
    Field {
        alias: Option<String>,
        name: String,
        args: Vec<(String, Val)>,
        selection: Option<Vec<Selection>>,
    },
    Fragment {
        on: String,
        selection: Vec<Selection>,
    },
}

#[derive(Debug)]
struct Operation {
    kind: String,
    variables: Vec<(String, String)>,
    selection: Vec<Selection>,
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Result<Tok, String> {
        let t = self
            .toks
            .get(self.at)
            .cloned()
            .ok_or("Parse error on end of document")?;
        self.at += 1;
        Ok(t)
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next()? {
            Tok::Punct(p) if p == c => Ok(()),
            t => Err(format!("Parse error on {t:?}: expected {c:?}")),
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next()? {
            Tok::Name(n) => Ok(n),
            t => Err(format!("Parse error on {t:?}: expected a name")),
        }
    }

    fn operation(&mut self) -> Result<Operation, String> {
        let kind = self.name()?;
        if kind != "query" && kind != "mutation" {
            return Err(format!(
                "Parse error on \"{kind}\": expected query or mutation"
            ));
        }
        if matches!(self.peek(), Some(Tok::Name(_))) {
            self.name()?;
        }
        let mut variables = Vec::new();
        if self.eat('(') {
            while !self.eat(')') {
                let Tok::Var(v) = self.next()? else {
                    return Err("Parse error: expected a variable definition".into());
                };
                self.expect(':')?;
                variables.push((v, self.type_ref()?));
            }
        }
        let selection = self.selection_set()?;
        if self.at != self.toks.len() {
            return Err("Parse error: one operation per document".into());
        }
        Ok(Operation {
            kind,
            variables,
            selection,
        })
    }

    fn type_ref(&mut self) -> Result<String, String> {
        let mut t = if self.eat('[') {
            let inner = self.type_ref()?;
            self.expect(']')?;
            format!("[{inner}]")
        } else {
            self.name()?
        };
        if self.eat('!') {
            t.push('!');
        }
        Ok(t)
    }

    fn selection_set(&mut self) -> Result<Vec<Selection>, String> {
        self.expect('{')?;
        let mut out = Vec::new();
        while !self.eat('}') {
            if self.peek() == Some(&Tok::Spread) {
                self.at += 1;
                if self.name()? != "on" {
                    return Err("Parse error: only inline fragments are supported".into());
                }
                let on = self.name()?;
                out.push(Selection::Fragment {
                    on,
                    selection: self.selection_set()?,
                });
                continue;
            }
            let mut name = self.name()?;
            let mut alias = None;
            if self.eat(':') {
                alias = Some(name);
                name = self.name()?;
            }
            let mut args = Vec::new();
            if self.eat('(') {
                while !self.eat(')') {
                    let arg = self.name()?;
                    self.expect(':')?;
                    args.push((arg, self.value()?));
                }
            }
            let selection = if self.peek() == Some(&Tok::Punct('{')) {
                Some(self.selection_set()?)
            } else {
                None
            };
            out.push(Selection::Field {
                alias,
                name,
                args,
                selection,
            });
        }
        if out.is_empty() {
            return Err("Parse error: an empty selection".into());
        }
        Ok(out)
    }

    fn value(&mut self) -> Result<Val, String> {
        Ok(match self.next()? {
            Tok::Var(v) => Val::Var(v),
            Tok::Int(n) => Val::Int(n),
            Tok::Str(s) => Val::Str(s),
            Tok::Name(n) => Val::Enum(n),
            Tok::Punct('[') => {
                let mut items = Vec::new();
                while !self.eat(']') {
                    items.push(self.value()?);
                }
                Val::List(items)
            }
            Tok::Punct('{') => {
                let mut fields = Vec::new();
                while !self.eat('}') {
                    let k = self.name()?;
                    self.expect(':')?;
                    fields.push((k, self.value()?));
                }
                Val::Object(fields)
            }
            t => return Err(format!("Parse error on {t:?}: expected a value")),
        })
    }
}

// ---------------------------------------------------------------- schema

/// A field of the schema slice: its type and its arguments with theirs.
struct FieldDef {
    ty: &'static str,
    args: &'static [(&'static str, &'static str)],
}

/// The fields of GitHub's types that the fake knows (GitHub's public
/// schema, `schema.docs.graphql`, trimmed to what seamguard may ask).
fn field(parent: &str, name: &str) -> Option<FieldDef> {
    let f = |ty: &'static str, args: &'static [(&'static str, &'static str)]| {
        Some(FieldDef { ty, args })
    };
    match (parent, name) {
        (_, "__typename") => f("String!", &[]),
        ("Query", "repository") => f(
            "Repository",
            &[
                ("owner", "String!"),
                ("name", "String!"),
                ("followRenames", "Boolean"),
            ],
        ),
        ("Mutation", "enqueuePullRequest") => f(
            "EnqueuePullRequestPayload",
            &[("input", "EnqueuePullRequestInput!")],
        ),
        ("EnqueuePullRequestPayload", "clientMutationId") => f("String", &[]),
        ("EnqueuePullRequestPayload", "mergeQueueEntry") => f("MergeQueueEntry", &[]),
        ("Repository", "id") => f("ID!", &[]),
        ("Repository", "nameWithOwner") => f("String!", &[]),
        ("Repository", "pullRequest") => f("PullRequest", &[("number", "Int!")]),
        ("PullRequest", "id") => f("ID!", &[]),
        ("PullRequest", "number") => f("Int!", &[]),
        ("PullRequest", "headRefOid") => f("GitObjectID!", &[]),
        ("PullRequest", "mergeQueueEntry") => f("MergeQueueEntry", &[]),
        ("PullRequest", "timelineItems") => f(
            "PullRequestTimelineItemsConnection!",
            &[
                ("after", "String"),
                ("before", "String"),
                ("first", "Int"),
                ("last", "Int"),
                ("itemTypes", "[PullRequestTimelineItemsItemType!]"),
                ("since", "DateTime"),
                ("skip", "Int"),
            ],
        ),
        ("PullRequestTimelineItemsConnection", "nodes") => f("[PullRequestTimelineItems]", &[]),
        ("PullRequestTimelineItemsConnection", "totalCount") => f("Int!", &[]),
        ("MergeQueueEntry", "id") => f("ID!", &[]),
        ("MergeQueueEntry", "position") => f("Int!", &[]),
        ("MergeQueueEntry", "state") => f("MergeQueueEntryState!", &[]),
        ("MergeQueueEntry", "enqueuedAt") => f("DateTime!", &[]),
        ("Repository", "object") => f(
            "GitObject",
            &[("oid", "GitObjectID"), ("expression", "String")],
        ),
        ("Commit", "oid") => f("GitObjectID!", &[]),
        ("Commit", "history") => f(
            "CommitHistoryConnection!",
            &[
                ("after", "String"),
                ("before", "String"),
                ("first", "Int"),
                ("last", "Int"),
                ("path", "String"),
                ("since", "GitTimestamp"),
                ("until", "GitTimestamp"),
            ],
        ),
        ("Commit", "statusCheckRollup") => f("StatusCheckRollup", &[]),
        ("CommitHistoryConnection", "nodes") => f("[Commit]", &[]),
        ("CommitHistoryConnection", "totalCount") => f("Int!", &[]),
        ("StatusCheckRollup", "state") => f("StatusState!", &[]),
        ("StatusCheckRollup", "contexts") => f(
            "StatusCheckRollupContextConnection!",
            &[
                ("after", "String"),
                ("before", "String"),
                ("first", "Int"),
                ("last", "Int"),
            ],
        ),
        ("StatusCheckRollupContextConnection", "nodes") => f("[StatusCheckRollupContext]", &[]),
        ("StatusCheckRollupContextConnection", "totalCount") => f("Int!", &[]),
        ("CheckRun", "name") => f("String!", &[]),
        ("CheckRun", "checkSuite") => f("CheckSuite!", &[]),
        ("CheckSuite", "app") => f("App", &[]),
        ("App", "databaseId") => f("Int", &[]),
        ("App", "slug") => f("String!", &[]),
        ("StatusContext", "context") => f("String!", &[]),
        ("StatusContext", "state") => f("StatusState!", &[]),
        ("RemovedFromMergeQueueEvent", "id") => f("ID!", &[]),
        ("RemovedFromMergeQueueEvent", "reason") => f("String", &[]),
        ("RemovedFromMergeQueueEvent", "createdAt") => f("DateTime!", &[]),
        _ => None,
    }
}

/// Input object fields.
fn input_fields(ty: &str) -> Option<&'static [(&'static str, &'static str)]> {
    match ty {
        "EnqueuePullRequestInput" => Some(&[
            ("clientMutationId", "String"),
            ("expectedHeadOid", "GitObjectID"),
            ("jump", "Boolean"),
            ("pullRequestId", "ID!"),
        ]),
        _ => None,
    }
}

/// Scalars and enums: leaves, which take no selection.
fn is_leaf(ty: &str) -> bool {
    matches!(
        ty,
        "String"
            | "Int"
            | "Boolean"
            | "ID"
            | "GitObjectID"
            | "GitTimestamp"
            | "DateTime"
            | "MergeQueueEntryState"
            | "StatusState"
    )
}

/// Which types an inline fragment on `on` may spread into `parent`.
fn fragment_allowed(parent: &str, on: &str) -> bool {
    parent == on
        || matches!(
            (parent, on),
            ("PullRequestTimelineItems", "RemovedFromMergeQueueEvent")
                | ("GitObject", "Commit")
                | ("StatusCheckRollupContext", "CheckRun" | "StatusContext")
        )
}

fn named(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

/// A variable of declared type `declared` may stand where `wanted` is
/// expected: the same type, or the non-null form of a nullable one.
fn fits(declared: &str, wanted: &str) -> bool {
    declared == wanted || declared.strip_suffix('!') == Some(wanted)
}

fn enum_ok(ty: &str, v: &str) -> bool {
    match ty {
        "PullRequestTimelineItemsItemType" => v.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
        _ => false,
    }
}

struct Checker<'a> {
    vars: &'a [(String, String)],
    used: Vec<String>,
    errors: Vec<String>,
}

impl Checker<'_> {
    fn value(&mut self, v: &Val, ty: &str, at: &str) {
        match v {
            Val::Var(name) => {
                self.used.push(name.clone());
                match self.vars.iter().find(|(n, _)| n == name) {
                    None => self
                        .errors
                        .push(format!("Variable ${name} is used by {at} but not declared")),
                    Some((_, declared)) if !fits(declared, ty) => self.errors.push(format!(
                        "Type mismatch on variable ${name} and argument {at} ({declared} / {ty})"
                    )),
                    Some(_) => {}
                }
            }
            Val::Object(fields) => {
                let Some(def) = input_fields(named(ty)) else {
                    self.errors
                        .push(format!("Argument {at} is not an input object"));
                    return;
                };
                for (k, v) in fields {
                    match def.iter().find(|(n, _)| n == k) {
                        Some((_, t)) => self.value(v, t, &format!("{at}.{k}")),
                        None => self.errors.push(format!(
                            "InputObject '{}' doesn't accept argument '{k}'",
                            named(ty)
                        )),
                    }
                }
                for (k, t) in def.iter().filter(|(_, t)| t.ends_with('!')) {
                    if !fields.iter().any(|(n, _)| n == k) {
                        self.errors.push(format!(
                            "Argument '{k}' on InputObject '{}' is required. Expected type {t}",
                            named(ty)
                        ));
                    }
                }
            }
            Val::List(items) => {
                if !ty.starts_with('[') {
                    self.errors.push(format!("Argument {at} is not a list"));
                }
                let inner = ty.trim_end_matches('!');
                let inner = inner
                    .strip_prefix('[')
                    .and_then(|s| s.strip_suffix(']'))
                    .unwrap_or(inner);
                for item in items {
                    self.value(item, inner, at);
                }
            }
            Val::Enum(e) => {
                if !enum_ok(named(ty), e) {
                    self.errors
                        .push(format!("Argument {at} has an invalid value ({e})"));
                }
            }
            Val::Int(_) if named(ty) != "Int" => self
                .errors
                .push(format!("Argument {at} has an invalid value")),
            Val::Str(_) if named(ty) == "Int" || named(ty) == "Boolean" => self
                .errors
                .push(format!("Argument {at} has an invalid value")),
            Val::Int(_) | Val::Str(_) => {}
        }
    }

    fn selection(&mut self, parent: &str, sel: &[Selection]) {
        for s in sel {
            match s {
                Selection::Fragment { on, selection } => {
                    if fragment_allowed(parent, on) {
                        self.selection(on, selection);
                    } else {
                        self.errors
                            .push(format!("Fragment on {on} can't be spread inside {parent}"));
                    }
                }
                Selection::Field {
                    name,
                    args,
                    selection,
                    ..
                } => {
                    let Some(def) = field(parent, name) else {
                        self.errors
                            .push(format!("Field '{name}' doesn't exist on type '{parent}'"));
                        continue;
                    };
                    for (arg, v) in args {
                        match def.args.iter().find(|(n, _)| n == arg) {
                            Some((_, t)) => self.value(v, t, &format!("'{arg}' on '{name}'")),
                            None => self
                                .errors
                                .push(format!("Field '{name}' doesn't accept argument '{arg}'")),
                        }
                    }
                    for (arg, t) in def.args.iter().filter(|(_, t)| t.ends_with('!')) {
                        if !args.iter().any(|(n, _)| n == arg) {
                            self.errors.push(format!(
                                "Field '{name}' is missing required arguments: {arg} ({t})"
                            ));
                        }
                    }
                    let ty = named(def.ty);
                    match (is_leaf(ty), selection) {
                        (true, Some(_)) => self.errors.push(format!(
                            "Selections can't be made on scalars (field '{name}' returns {ty})"
                        )),
                        (false, None) => self.errors.push(format!(
                            "Field must have selections (field '{name}' returns {ty} but has no selections)"
                        )),
                        (false, Some(sel)) => self.selection(ty, sel),
                        (true, None) => {}
                    }
                }
            }
        }
    }
}

/// Checks the request's variables against their declarations.
fn check_variables(vars: &[(String, String)], given: &Map<String, Value>) -> Vec<String> {
    let mut errors = Vec::new();
    for (name, ty) in vars {
        let v = given.get(name).unwrap_or(&Value::Null);
        let ok = match (named(ty), v) {
            (_, Value::Null) => !ty.ends_with('!'),
            ("Int", v) => v.is_i64() || v.is_u64(),
            ("Boolean", v) => v.is_boolean(),
            ("GitObjectID", Value::String(s)) => {
                s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
            }
            ("String" | "ID" | "DateTime", v) => v.is_string(),
            _ => false,
        };
        if !ok {
            errors.push(format!(
                "Variable ${name} of type {ty} was provided invalid value {v}"
            ));
        }
    }
    for k in given.keys() {
        if !vars.iter().any(|(n, _)| n == k) {
            errors.push(format!("Variable ${k} was provided but not declared"));
        }
    }
    errors
}

// ---------------------------------------------------------------- execution

/// A resolved object of the world.
#[derive(Clone)]
enum Obj {
    Repo(String),
    Pull(String, u64),
    Entry { position: usize, entry: QueueEntry },
    Removal(QueueRemoval),
    Timeline(Vec<QueueRemoval>),
    Payload(Option<Box<Obj>>),
    Commit(String, String),
    History(String, Vec<String>),
    Rollup(String, String),
    Contexts(Vec<Obj>),
    CheckRunNode { name: String, app: u64 },
    StatusNode { context: String, state: String },
    Suite(u64),
    App(u64),
}

impl Obj {
    fn type_name(&self) -> &'static str {
        match self {
            Obj::Repo(_) => "Repository",
            Obj::Pull(..) => "PullRequest",
            Obj::Entry { .. } => "MergeQueueEntry",
            Obj::Removal(_) => "RemovedFromMergeQueueEvent",
            Obj::Timeline(_) => "PullRequestTimelineItemsConnection",
            Obj::Payload(_) => "EnqueuePullRequestPayload",
            Obj::Commit(..) => "Commit",
            Obj::History(..) => "CommitHistoryConnection",
            Obj::Rollup(..) => "StatusCheckRollup",
            Obj::Contexts(_) => "StatusCheckRollupContextConnection",
            Obj::CheckRunNode { .. } => "CheckRun",
            Obj::StatusNode { .. } => "StatusContext",
            Obj::Suite(_) => "CheckSuite",
            Obj::App(_) => "App",
        }
    }
}

enum Out {
    Leaf(Value),
    One(Option<Obj>),
    Many(Vec<Obj>),
}

fn arg<'a>(args: &'a [(String, Val)], name: &str) -> Option<&'a Val> {
    args.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// An argument's value with variables substituted, as JSON.
fn resolve(v: &Val, vars: &Map<String, Value>) -> Value {
    match v {
        Val::Var(n) => vars.get(n).cloned().unwrap_or(Value::Null),
        Val::Int(n) => json!(n),
        Val::Str(s) | Val::Enum(s) => json!(s),
        Val::List(items) => Value::Array(items.iter().map(|i| resolve(i, vars)).collect()),
        Val::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), resolve(v, vars)))
                .collect(),
        ),
    }
}

/// The GraphQL node id of a pull request (the REST answer's `node_id`).
fn pull_node_id(world: &World, repo: &str, number: u64) -> String {
    let r = world.repo(repo);
    let pr = &r.pulls[&number];
    gh::pull(world, r, pr)["node_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn entry_of(world: &World, repo: &str, number: u64) -> Option<Obj> {
    let r = world.repo(repo);
    r.queue
        .iter()
        .position(|e| e.number == number)
        .map(|i| Obj::Entry {
            position: i + 1,
            entry: r.queue[i].clone(),
        })
}

fn field_of(
    world: &World,
    obj: &Obj,
    name: &str,
    args: &[(String, Val)],
    vars: &Map<String, Value>,
) -> Out {
    let a = |n: &str| arg(args, n).map(|v| resolve(v, vars));
    match (obj, name) {
        (o, "__typename") => Out::Leaf(json!(o.type_name())),
        (Obj::Repo(key), "pullRequest") => {
            let n = a("number").and_then(|v| v.as_u64()).unwrap_or(0);
            Out::One(
                world
                    .repo(key)
                    .pulls
                    .contains_key(&n)
                    .then(|| Obj::Pull(key.clone(), n)),
            )
        }
        (Obj::Repo(key), "nameWithOwner") => Out::Leaf(json!(key)),
        (Obj::Repo(key), "id") => Out::Leaf(json!(format!("R_{key}"))),
        (Obj::Pull(key, n), "id") => Out::Leaf(json!(pull_node_id(world, key, *n))),
        (Obj::Pull(_, n), "number") => Out::Leaf(json!(n)),
        (Obj::Pull(key, n), "headRefOid") => Out::Leaf(json!(world.repo(key).pulls[n].head_sha)),
        (Obj::Pull(key, n), "mergeQueueEntry") => Out::One(entry_of(world, key, *n)),
        (Obj::Pull(key, n), "timelineItems") => {
            let types = a("itemTypes").unwrap_or(Value::Null);
            let wants_removals = types.as_array().is_none_or(|t| {
                t.iter()
                    .any(|v| v.as_str() == Some("REMOVED_FROM_MERGE_QUEUE_EVENT"))
            });
            let mut items: Vec<QueueRemoval> = if wants_removals {
                world
                    .repo(key)
                    .queue_removals
                    .iter()
                    .filter(|r| r.number == *n)
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            if let Some(last) = a("last").and_then(|v| v.as_u64()) {
                let skip = items.len().saturating_sub(last as usize);
                items.drain(..skip);
            }
            if let Some(first) = a("first").and_then(|v| v.as_u64()) {
                items.truncate(first as usize);
            }
            Out::One(Some(Obj::Timeline(items)))
        }
        (Obj::Timeline(items), "nodes") => {
            Out::Many(items.iter().cloned().map(Obj::Removal).collect())
        }
        (Obj::Timeline(items), "totalCount") => Out::Leaf(json!(items.len())),
        (Obj::Entry { position, .. }, "position") => Out::Leaf(json!(position)),
        (Obj::Entry { position, .. }, "state") => Out::Leaf(json!(if *position == 1 {
            "AWAITING_CHECKS"
        } else {
            "QUEUED"
        })),
        (Obj::Entry { entry, .. }, "enqueuedAt") => Out::Leaf(json!(gh::time(entry.enqueued_at))),
        (Obj::Entry { entry, .. }, "id") => Out::Leaf(json!(format!("MQE_{}", entry.number))),
        (Obj::Removal(r), "reason") => Out::Leaf(json!(r.reason)),
        (Obj::Removal(r), "createdAt") => Out::Leaf(json!(gh::time(r.at))),
        (Obj::Removal(r), "id") => Out::Leaf(json!(format!("RFMQE_{}", r.number))),
        (Obj::Payload(entry), "mergeQueueEntry") => Out::One(entry.as_deref().cloned()),
        (Obj::Repo(key), "object") => {
            let oid = a("oid").and_then(|v| v.as_str().map(str::to_owned));
            Out::One(
                oid.filter(|o| world.repo(key).commits.contains_key(o))
                    .map(|o| Obj::Commit(key.clone(), o)),
            )
        }
        (Obj::Commit(_, sha), "oid") => Out::Leaf(json!(sha)),
        (Obj::Commit(key, sha), "history") => {
            // First-parent order from the commit (the fake's history).
            let first = a("first").and_then(|v| v.as_u64()).unwrap_or(100) as usize;
            let r = world.repo(key);
            let mut shas = Vec::new();
            let mut at = Some(sha.clone());
            while let Some(c) = at.filter(|_| shas.len() < first) {
                at = r.commit(&c).parents.first().cloned();
                shas.push(c);
            }
            Out::One(Some(Obj::History(key.clone(), shas)))
        }
        (Obj::History(key, shas), "nodes") => Out::Many(
            shas.iter()
                .map(|s| Obj::Commit(key.clone(), s.clone()))
                .collect(),
        ),
        (Obj::History(_, shas), "totalCount") => Out::Leaf(json!(shas.len())),
        (Obj::Commit(key, sha), "statusCheckRollup") => {
            let r = world.repo(key);
            let any = !r.latest_check_runs(sha).is_empty() || !r.latest_statuses(sha).is_empty();
            Out::One(any.then(|| Obj::Rollup(key.clone(), sha.clone())))
        }
        (Obj::Rollup(key, sha), "contexts") => {
            let r = world.repo(key);
            let mut nodes: Vec<Obj> = r
                .latest_check_runs(sha)
                .into_iter()
                .map(|c| Obj::CheckRunNode {
                    name: c.name.clone(),
                    app: c.app_id,
                })
                .collect();
            nodes.extend(r.latest_statuses(sha).into_iter().map(|s| Obj::StatusNode {
                context: s.context.clone(),
                state: s.state.to_ascii_uppercase(),
            }));
            if let Some(first) = a("first").and_then(|v| v.as_u64()) {
                nodes.truncate(first as usize);
            }
            Out::One(Some(Obj::Contexts(nodes)))
        }
        (Obj::Rollup(..), "state") => Out::Leaf(json!("PENDING")),
        (Obj::Contexts(nodes), "nodes") => Out::Many(nodes.clone()),
        (Obj::Contexts(nodes), "totalCount") => Out::Leaf(json!(nodes.len())),
        (Obj::CheckRunNode { name, .. }, "name") => Out::Leaf(json!(name)),
        (Obj::CheckRunNode { app, .. }, "checkSuite") => Out::One(Some(Obj::Suite(*app))),
        (Obj::Suite(id), "app") => Out::One(Some(Obj::App(*id))),
        (Obj::App(id), "databaseId") => Out::Leaf(json!(id)),
        (Obj::App(id), "slug") => Out::Leaf(json!(format!("app-{id}"))),
        (Obj::StatusNode { context, .. }, "context") => Out::Leaf(json!(context)),
        (Obj::StatusNode { state, .. }, "state") => Out::Leaf(json!(state)),
        (Obj::Payload(_), "clientMutationId") => Out::Leaf(Value::Null),
        _ => Out::Leaf(Value::Null),
    }
}

/// The selected fields of `obj`, and only those.
fn project(world: &World, obj: &Obj, sel: &[Selection], vars: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for s in sel {
        match s {
            Selection::Fragment { on, selection } => {
                if on == obj.type_name()
                    && let Value::Object(m) = project(world, obj, selection, vars)
                {
                    out.extend(m);
                }
            }
            Selection::Field {
                alias,
                name,
                args,
                selection,
            } => {
                let key = alias.clone().unwrap_or_else(|| name.clone());
                let sel = selection.as_deref().unwrap_or(&[]);
                let v = match field_of(world, obj, name, args, vars) {
                    Out::Leaf(v) => v,
                    Out::One(o) => o.map_or(Value::Null, |o| project(world, &o, sel, vars)),
                    Out::Many(items) => {
                        Value::Array(items.iter().map(|o| project(world, o, sel, vars)).collect())
                    }
                };
                out.insert(key, v);
            }
        }
    }
    Value::Object(out)
}

/// GitHub's GraphQL error entry.
fn error(kind: Option<&str>, path: &str, message: &str) -> Value {
    let mut e = json!({ "message": message, "locations": [{ "line": 1, "column": 1 }] });
    if !path.is_empty() {
        e["path"] = json!([path]);
    }
    if let Some(kind) = kind {
        e["type"] = json!(kind);
    }
    e
}

/// `enqueuePullRequest`: adds the pull request to its base's queue when
/// it is open, its base requires the queue, and its head is
/// `expectedHeadOid`.
fn enqueue(world: &mut World, installation: u64, input: &Value) -> Result<Obj, (String, String)> {
    let id = input["pullRequestId"].as_str().unwrap_or_default();
    let not_found = || {
        (
            "NOT_FOUND".to_owned(),
            format!("Could not resolve to a node with the global id of '{id}'"),
        )
    };
    let mut found = None;
    for (key, repo) in &world.repos {
        for n in repo.pulls.keys() {
            if pull_node_id(world, key, *n) == id {
                found = Some((key.clone(), *n));
            }
        }
    }
    let (key, number) = found.ok_or_else(not_found)?;
    let repo = world.repo_mut(&key);
    if repo.installation != installation {
        return Err(not_found());
    }
    let pr = repo.pulls[&number].clone();
    let unprocessable = |m: &str| ("UNPROCESSABLE".to_owned(), m.to_owned());
    if !pr.is_open() {
        return Err(unprocessable("Pull request is closed."));
    }
    if !repo.merge_queue_required(&pr.base_ref) {
        return Err(unprocessable(
            "Merge queue is not enabled for the base branch of this pull request.",
        ));
    }
    if let Some(expected) = input["expectedHeadOid"].as_str()
        && expected != pr.head_sha
    {
        return Err(unprocessable(
            "The expected head OID does not match the head of the pull request.",
        ));
    }
    if repo.queue.iter().any(|e| e.number == number) {
        return Err(unprocessable("Pull request is already in the merge queue."));
    }
    repo.queue.push(QueueEntry {
        number,
        head_sha: pr.head_sha.clone(),
        enqueued_at: Utc::now(),
    });
    Ok(entry_of(world, &key, number).expect("just queued"))
}

fn answer(world: &mut World, installation: u64, body: &Value) -> Result<Value, Vec<Value>> {
    let fail = |m: String| vec![error(None, "", &m)];
    let Some(query) = body["query"].as_str() else {
        return Err(fail(
            "A query attribute must be specified and must be a string.".into(),
        ));
    };
    let vars = match &body["variables"] {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => return Err(fail("Variables must be an object".into())),
    };
    let toks = lex(query).map_err(fail)?;
    let op = Parser { toks, at: 0 }.operation().map_err(fail)?;
    let root = if op.kind == "mutation" {
        "Mutation"
    } else {
        "Query"
    };
    let mut checker = Checker {
        vars: &op.variables,
        used: Vec::new(),
        errors: Vec::new(),
    };
    checker.selection(root, &op.selection);
    let mut errors = checker.errors;
    for (v, _) in &op.variables {
        if !checker.used.contains(v) {
            errors.push(format!(
                "Variable ${v} is declared by the operation but not used"
            ));
        }
    }
    errors.extend(check_variables(&op.variables, &vars));
    if !errors.is_empty() {
        return Err(errors.into_iter().map(|m| error(None, "", &m)).collect());
    }
    let mut data = Map::new();
    let mut field_errors = Vec::new();
    for s in &op.selection {
        let Selection::Field {
            alias,
            name,
            args,
            selection,
        } = s
        else {
            return Err(fail("fragments at the root are not supported".into()));
        };
        let key = alias.clone().unwrap_or_else(|| name.clone());
        let sel = selection.as_deref().unwrap_or(&[]);
        let value = match name.as_str() {
            "repository" => {
                let owner = arg(args, "owner").map(|v| resolve(v, &vars));
                let repo_name = arg(args, "name").map(|v| resolve(v, &vars));
                let full = format!(
                    "{}/{}",
                    owner.as_ref().and_then(|v| v.as_str()).unwrap_or_default(),
                    repo_name
                        .as_ref()
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                );
                let visible = world
                    .repos
                    .get(&full)
                    .is_some_and(|r| r.installation == installation);
                if visible {
                    project(world, &Obj::Repo(full), sel, &vars)
                } else {
                    field_errors.push(error(
                        Some("NOT_FOUND"),
                        &key,
                        &format!("Could not resolve to a Repository with the name '{full}'."),
                    ));
                    Value::Null
                }
            }
            "enqueuePullRequest" => {
                let input = arg(args, "input")
                    .map(|v| resolve(v, &vars))
                    .unwrap_or(Value::Null);
                match enqueue(world, installation, &input) {
                    Ok(entry) => project(world, &Obj::Payload(Some(Box::new(entry))), sel, &vars),
                    Err((kind, message)) => {
                        field_errors.push(error(Some(&kind), &key, &message));
                        Value::Null
                    }
                }
            }
            "__typename" => json!(root),
            _ => Value::Null,
        };
        data.insert(key, value);
    }
    let mut out = json!({ "data": data });
    if !field_errors.is_empty() {
        out["errors"] = Value::Array(field_errors);
    }
    Ok(out)
}

/// `POST /graphql`. Validation failures are also conformance violations.
pub fn graphql(world: &mut World, ctx: &Ctx) -> Answer {
    let SeenAuth::Installation(installation) = ctx.auth else {
        return Answer::error(401, "Bad credentials");
    };
    let body = ctx.body.clone().unwrap_or(Value::Null);
    match answer(world, installation, &body) {
        Ok(v) => Answer::json(200, v),
        Err(errors) => {
            for e in &errors {
                world.conformance.violations.push(format!(
                    "POST /graphql: {}",
                    e["message"].as_str().unwrap_or_default()
                ));
            }
            Answer::json(200, json!({ "errors": errors }))
        }
    }
}

/// The validation errors of a document (empty: GitHub would accept it),
/// for tests of the fake itself.
pub fn validate(query: &str) -> Vec<String> {
    let op = match lex(query).and_then(|toks| Parser { toks, at: 0 }.operation()) {
        Ok(op) => op,
        Err(e) => return vec![e],
    };
    let root = if op.kind == "mutation" {
        "Mutation"
    } else {
        "Query"
    };
    let mut c = Checker {
        vars: &op.variables,
        used: Vec::new(),
        errors: Vec::new(),
    };
    c.selection(root, &op.selection);
    for (v, _) in &op.variables {
        if !c.used.contains(v) {
            c.errors.push(format!(
                "Variable ${v} is declared by the operation but not used"
            ));
        }
    }
    c.errors
}
