//! GitHub's published OpenAPI description as the fake's contract.
//!
//! Every request the fake receives is matched to an operation of
//! `api.github.com.json` (method and path template); its query parameters
//! are checked against the operation's (names, types, enums), its JSON body
//! validated against the request schema (enums, required fields, the 65,535
//! characters of `output.summary`, 50 annotations a call), and every JSON
//! answer the fake serves against the schema of its status (a 2xx the
//! operation does not document is a violation too). Violations are kept in
//! the world and fail the test when its [`super::FakeGitHub`] is dropped.
//!
//! 2xx answers are also *thinned* before they are served: every object keeps
//! only the properties its schema lists as `required` (recursively), plus
//! the few optional ones whose absence GitHub uses to say something
//! ([`MEANINGFUL_OPTIONAL`]), so the whole suite runs against the least
//! GitHub promises — what GitHub Enterprise Server, or a future
//! api.github.com, may send. Error bodies are checked but kept whole:
//! seamguard reads their `message`.
//!
//! The description is ~13 MB (0.9 MB gzipped, in `fixtures/github/`): it
//! is read and indexed once per test process;
//! a validator is compiled the first time its operation is used, from the
//! operation's schema and the components it reaches (OpenAPI 3.0's
//! `nullable` rewritten as JSON Schema's `null` type), so a test binary pays
//! only for the operations it touches.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value, json};

/// GitHub's description, carried in the repository (see
/// `fixtures/github/README.md` for its source, version and licence).
const SPEC_FILE: &str = "fixtures/github/api.github.com.json.gz";

/// Path parameters that may span several segments (a file path in
/// `contents/{path}`); every other parameter is one segment.
const MULTI_SEGMENT_PARAMS: &[&str] = &["path"];

/// Properties the description marks optional that GitHub leaves out only
/// to *say* something, and sends whenever it has them: kept when the fake's
/// world has them, left out exactly where GitHub would (the world models a
/// diff too large or binary for a `patch`, a file that was not renamed, a
/// rule without parameters). Everything else optional is thinned away.
const MEANINGFUL_OPTIONAL: &[&str] = &[
    // repository: the merge methods its settings allow (absent: unknown).
    "allow_merge_commit",
    "allow_squash_merge",
    "allow_rebase_merge",
    // diff-entry: absent for binary files and diffs over GitHub's limit.
    "patch",
    // diff-entry: present only for a renamed file.
    "previous_filename",
    // commit-comparison: the changed files, on the first page.
    "files",
    // repository-rule-*: a rule's settings (the required checks).
    "parameters",
    // a rule's required check: only from this App (absent: from any).
    "integration_id",
    // repository-rule-pull-request: the merge methods it allows (absent:
    // every method).
    "allowed_merge_methods",
    // integration (`GET /app`): what the App may do and hears; absent
    // means none, which `seamguard doctor` reports.
    "permissions",
    "events",
    // integration: the slug names the App's `[bot]` user (absent: seamguard
    // cannot tell its own branch updates apart, and asks like anyone's).
    "slug",
    // webhook-config (`GET /app/hook/config`): absent means unset, which
    // `seamguard doctor` reports.
    "content_type",
    "secret",
    "url",
    // branch-protection: each setting is left out when it is not enabled,
    // and sent with its values when it is.
    "required_status_checks",
    "required_pull_request_reviews",
    "required_signatures",
    "required_linear_history",
    "required_conversation_resolution",
    "lock_branch",
    "restrictions",
    "strict",
    "enabled",
    "required_approving_review_count",
    "require_last_push_approval",
    // pull-request: present for a pull request in a stack (`null` or absent
    // otherwise); served whole (below), as its position and number are
    // what place the pull request in its stack.
    "stack",
];

/// Objects served whole, not thinned: an App's and an installation's
/// `permissions` (every key is optional in the description, yet the answer
/// is the permissions themselves), and a pull request's `stack` (only its
/// `base` is required, yet its `number` and `position` are what GitHub
/// sends to say which stack and where; seamguard still reads it without
/// them, and then waits).
const KEEP_WHOLE: &[&str] = &["permissions", "stack"];

/// A schema error quotes the value it is about; past this many characters
/// (51 annotations) the quote says no more.
const MAX_ERROR_CHARS: usize = 300;

/// A violation names at most this many schema errors: the first few say
/// what is wrong, the rest repeat it.
const MAX_ERRORS_PER_VIOLATION: usize = 5;

/// The contract: the operations of GitHub's description.
pub struct Contract {
    doc: Value,
    operations: Vec<Operation>,
}

/// One operation (method and path template) of the description.
pub struct Operation {
    pub method: String,
    pub template: String,
    pub id: String,
    segments: Vec<Segment>,
    /// Compiled on first use: `None` when the operation takes no JSON body.
    request: OnceLock<Option<Checker>>,
    responses: Mutex<HashMap<String, Option<Arc<Checker>>>>,
}

enum Segment {
    Literal(String),
    Param(String),
}

/// A compiled validator and the (raw, OpenAPI) schema it came from.
struct Checker {
    validator: jsonschema::Validator,
    schema: Value,
    required_body: bool,
}

/// What the conformance layer saw during one fake's life.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// Requests checked per operation (`GET /repos/{owner}/{repo}/pulls`).
    pub checked: BTreeMap<String, u64>,
    pub violations: Vec<String>,
}

impl Ledger {
    pub fn requests(&self) -> u64 {
        self.checked.values().sum()
    }
}

/// The contract of this test process, loaded on first use.
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract::new(super::data::gzipped_json(SPEC_FILE)))
}

impl Contract {
    pub fn new(doc: Value) -> Self {
        let mut operations = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (template, item) in paths {
                let Some(item) = item.as_object() else {
                    continue;
                };
                for (method, op) in item {
                    if !matches!(
                        method.as_str(),
                        "get" | "put" | "post" | "patch" | "delete" | "head"
                    ) {
                        continue;
                    }
                    operations.push(Operation {
                        method: method.to_ascii_uppercase(),
                        template: template.clone(),
                        id: op["operationId"].as_str().unwrap_or_default().to_owned(),
                        segments: template
                            .split('/')
                            .filter(|s| !s.is_empty())
                            .map(
                                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                                    Some(name) => Segment::Param(name.to_owned()),
                                    None => Segment::Literal(s.to_owned()),
                                },
                            )
                            .collect(),
                        request: OnceLock::new(),
                        responses: Mutex::new(HashMap::new()),
                    });
                }
            }
        }
        Self { doc, operations }
    }

    /// The operation `method path` is, preferring the template with the
    /// most literal segments (`commits/{ref}/status` over a bare `{ref}`).
    pub fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        let got: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method) && op.matches(&got))
            .max_by_key(|op| {
                op.segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count()
            })
    }

    /// Checks a request's body against its operation; the violations.
    pub fn check_request(&self, op: &Operation, body: Option<&Value>) -> Vec<String> {
        let checker = op.request.get_or_init(|| self.request_checker(op));
        let name = op.name();
        match (checker, body) {
            (None, None) => Vec::new(),
            // An empty object says nothing; GitHub ignores it.
            (None, Some(b)) if b.as_object().is_some_and(Map::is_empty) => Vec::new(),
            (None, Some(b)) => vec![format!(
                "{name}: sent a JSON body ({}) to an operation that takes none",
                short(&b.to_string(), MAX_ERROR_CHARS)
            )],
            (Some(c), None) if c.required_body => {
                vec![format!(
                    "{name}: the operation requires a JSON body; none was sent"
                )]
            }
            (Some(_), None) => Vec::new(),
            (Some(c), Some(b)) => c
                .errors(b)
                .into_iter()
                .map(|e| format!("{name}: request body: {e}"))
                .collect(),
        }
    }

    /// Checks a request's query against the operation's query parameters:
    /// each name declared, each value of its type, enum and bounds
    /// (`per_page` at most 100, `filter` one of `latest`/`all`).
    pub fn check_query(&self, op: &Operation, query: &[(String, String)]) -> Vec<String> {
        let name = op.name();
        let declared: Vec<&Value> = self.operation_value(op)["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| self.resolve(p))
            .filter(|p| p["in"] == "query")
            .collect();
        let mut violations = Vec::new();
        for (key, value) in query {
            let Some(parameter) = declared.iter().find(|p| p["name"] == key.as_str()) else {
                violations.push(format!(
                    "{name}: query parameter {key:?} is not in the operation"
                ));
                continue;
            };
            let schema = self.resolve(&parameter["schema"]);
            let typed = match schema["type"].as_str() {
                Some("integer") => value.parse::<i64>().ok().map(Value::from),
                Some("boolean") => value.parse::<bool>().ok().map(Value::from),
                _ => Some(Value::from(value.as_str())),
            };
            let Some(typed) = typed else {
                violations.push(format!(
                    "{name}: query {key}={value:?} is not a {}",
                    schema["type"]
                ));
                continue;
            };
            let in_enum = schema["enum"].as_array().is_none_or(|e| e.contains(&typed));
            let n = typed.as_i64();
            let in_bounds = n.is_none_or(|n| {
                schema["maximum"].as_i64().is_none_or(|max| n <= max)
                    && schema["minimum"].as_i64().is_none_or(|min| n >= min)
            });
            if !in_enum || !in_bounds {
                violations.push(format!(
                    "{name}: query {key}={value:?} is outside {}",
                    short(&schema.to_string(), MAX_ERROR_CHARS)
                ));
            }
        }
        violations
    }

    /// Checks an answer the fake serves (`body` is `None` when it is not
    /// JSON), then thins it to what GitHub requires. The violations.
    pub fn check_response(
        &self,
        op: &Operation,
        status: u16,
        body: Option<&mut Value>,
    ) -> Vec<String> {
        let name = op.name();
        let Some(documented) = self.response_checker(op, status) else {
            if (200..300).contains(&status) {
                return vec![format!(
                    "{name}: answered {status}, which the operation does not document"
                )];
            }
            // GitHub answers errors (401, 404, 422, 5xx) on operations that
            // do not list them; their shape is GitHub's error body.
            return Vec::new();
        };
        let (Some(checker), Some(body)) = (documented, body) else {
            return Vec::new();
        };
        let errors: Vec<String> = checker
            .errors(body)
            .into_iter()
            .map(|e| format!("{name}: {status} answer: {e}"))
            .collect();
        // Error bodies are checked, not thinned: seamguard reads their
        // `message` (a 405's wording), which GitHub always sends though its
        // `basic-error` schema requires nothing.
        if errors.is_empty() && (200..300).contains(&status) {
            *body = self.minimal(body, &checker.schema);
        }
        errors
    }

    /// `value` with only what `schema` requires: every object keeps its
    /// `required` properties (thinned in turn), free-form maps keep all.
    pub fn minimal(&self, value: &Value, schema: &Value) -> Value {
        let schema = self.resolve(schema);
        if value.is_null() {
            return Value::Null;
        }
        // A composition: the branch this value is (oneOf/anyOf), or every
        // branch at once (allOf).
        if let Some(branches) = schema["allOf"].as_array() {
            let merged = self.merge_all_of(branches);
            return self.minimal(value, &merged);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema[key].as_array() {
                return match branches.iter().find(|b| self.fits(value, b)) {
                    Some(branch) => self.minimal(value, branch),
                    None => value.clone(),
                };
            }
        }
        match value {
            Value::Object(object) => {
                let properties = schema["properties"].as_object();
                let required: BTreeSet<&str> = schema["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                if properties.is_none() && required.is_empty() {
                    // A map (`additionalProperties`) or a free-form object.
                    return match additional {
                        Some(a) => Value::Object(
                            object
                                .iter()
                                .map(|(k, v)| (k.clone(), self.minimal(v, a)))
                                .collect(),
                        ),
                        None => value.clone(),
                    };
                }
                let mut out = Map::new();
                for (key, v) in object {
                    if !required.contains(key.as_str())
                        && !MEANINGFUL_OPTIONAL.contains(&key.as_str())
                    {
                        continue;
                    }
                    if KEEP_WHOLE.contains(&key.as_str()) {
                        out.insert(key.clone(), v.clone());
                        continue;
                    }
                    let sub = properties.and_then(|p| p.get(key)).or(additional);
                    out.insert(
                        key.clone(),
                        match sub {
                            Some(s) => self.minimal(v, s),
                            None => v.clone(),
                        },
                    );
                }
                Value::Object(out)
            }
            Value::Array(items) => match schema.get("items") {
                Some(item) => Value::Array(items.iter().map(|v| self.minimal(v, item)).collect()),
                None => value.clone(),
            },
            _ => value.clone(),
        }
    }

    /// Does `value` look like an instance of `schema` (its type, its
    /// required keys, its constant-like enums)? Enough to pick the branch
    /// of a `oneOf` for thinning; validation proper is jsonschema's.
    fn fits(&self, value: &Value, schema: &Value) -> bool {
        let schema = self.resolve(schema);
        if value.is_null() {
            return schema["nullable"] == json!(true);
        }
        if let Some(branches) = schema["allOf"].as_array() {
            return branches.iter().all(|b| self.fits(value, b));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema[key].as_array() {
                return branches.iter().any(|b| self.fits(value, b));
            }
        }
        let type_ok = match schema["type"].as_str() {
            None => true,
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some(_) => true,
        };
        if !type_ok {
            return false;
        }
        if let Some(values) = schema["enum"].as_array()
            && !values.contains(value)
        {
            return false;
        }
        let Some(object) = value.as_object() else {
            return true;
        };
        let required_present = schema["required"].as_array().is_none_or(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .all(|k| object.contains_key(k))
        });
        let enums_agree = schema["properties"].as_object().is_none_or(|props| {
            props.iter().all(|(k, s)| {
                let s = self.resolve(s);
                match (object.get(k), s["enum"].as_array()) {
                    (Some(v), Some(values)) => values.contains(v),
                    _ => true,
                }
            })
        });
        // A closed object (`additionalProperties: false`) is not the branch
        // of a value with keys it does not list: `{message, sha}` is the
        // merge-async result's "merged" details, not its message-only ones.
        let closed_fits = schema["additionalProperties"] != json!(false)
            || schema["properties"]
                .as_object()
                .is_some_and(|props| object.keys().all(|k| props.contains_key(k)));
        required_present && enums_agree && closed_fits
    }

    /// One object schema from the branches of an `allOf`.
    fn merge_all_of(&self, branches: &[Value]) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for branch in branches {
            let branch = self.resolve(branch);
            let branch = match branch["allOf"].as_array() {
                Some(inner) => self.merge_all_of(inner),
                None => branch.clone(),
            };
            if let Some(p) = branch["properties"].as_object() {
                properties.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            if let Some(r) = branch["required"].as_array() {
                required.extend(r.iter().cloned());
            }
        }
        json!({ "type": "object", "properties": properties, "required": required })
    }

    /// Follows `$ref`s to the schema they name.
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match schema["$ref"].as_str() {
                Some(r) => schema = self.pointer(r),
                None => return schema,
            }
        }
        panic!("a $ref chain in GitHub's description does not end")
    }

    fn pointer(&self, reference: &str) -> &Value {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {reference} in GitHub's description"));
        self.doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {reference} in GitHub's description"))
    }

    fn operation_value(&self, op: &Operation) -> &Value {
        &self.doc["paths"][&op.template][op.method.to_ascii_lowercase()]
    }

    fn request_checker(&self, op: &Operation) -> Option<Checker> {
        let body = self.resolve(&self.operation_value(op)["requestBody"]);
        let schema = body["content"]["application/json"]["schema"].clone();
        if schema.is_null() {
            return None;
        }
        let mut checker = self.compile(op, &schema);
        checker.required_body = body["required"] == json!(true);
        Some(checker)
    }

    /// The checker for `status`: `None` when the status is undocumented,
    /// `Some(None)` when it is documented without a JSON body.
    fn response_checker(&self, op: &Operation, status: u16) -> Option<Option<Arc<Checker>>> {
        let responses = &self.operation_value(op)["responses"];
        let key = if responses.get(status.to_string()).is_some() {
            status.to_string()
        } else if responses.get("default").is_some() {
            "default".to_owned()
        } else {
            return None;
        };
        let mut cache = op.responses.lock().unwrap_or_else(|p| p.into_inner());
        let checker = cache.entry(key.clone()).or_insert_with(|| {
            let response = self.resolve(&responses[&key]);
            let schema = &response["content"]["application/json"]["schema"];
            (!schema.is_null()).then(|| Arc::new(self.compile(op, schema)))
        });
        Some(checker.clone())
    }

    /// A validator for `schema` and every component it reaches, as one
    /// self-contained JSON Schema (draft 4, which OpenAPI 3.0 extends).
    fn compile(&self, op: &Operation, schema: &Value) -> Checker {
        let mut document = json!({ "allOf": [jsonschema_of(schema)] });
        let mut seen = BTreeSet::new();
        let mut todo = Vec::new();
        collect_refs(schema, &mut todo);
        while let Some(reference) = todo.pop() {
            if !seen.insert(reference.clone()) {
                continue;
            }
            let target = self.pointer(&reference);
            collect_refs(target, &mut todo);
            insert_at(&mut document, &reference, jsonschema_of(target));
        }
        let validator = jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&document)
            .unwrap_or_else(|e| panic!("{}: its schema does not compile: {e}", op.name()));
        Checker {
            validator,
            schema: schema.clone(),
            required_body: false,
        }
    }
}

impl Operation {
    fn matches(&self, got: &[&str]) -> bool {
        for (i, segment) in self.segments.iter().enumerate() {
            let Some(g) = got.get(i) else {
                return false;
            };
            match segment {
                Segment::Literal(l) if l != g => return false,
                Segment::Literal(_) => {}
                Segment::Param(name) if i + 1 == self.segments.len() => {
                    return got.len() == self.segments.len()
                        || MULTI_SEGMENT_PARAMS.contains(&name.as_str());
                }
                Segment::Param(_) => {}
            }
        }
        got.len() == self.segments.len()
    }

    /// `GET /repos/{owner}/{repo}/pulls`.
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

impl Checker {
    fn errors(&self, value: &Value) -> Vec<String> {
        self.validator
            .iter_errors(value)
            .take(MAX_ERRORS_PER_VIOLATION)
            .map(|e| {
                let at = e.instance_path().to_string();
                let what = short(&e.to_string(), MAX_ERROR_CHARS);
                format!("at {}: {what}", if at.is_empty() { "/" } else { &at })
            })
            .collect()
    }
}

/// OpenAPI 3.0's schema dialect rewritten as draft 4: `nullable: true`
/// becomes a `null` type (or an `anyOf` with one, around a `$ref` or a
/// composition, and `null` joins an `enum`).
fn jsonschema_of(schema: &Value) -> Value {
    match schema {
        Value::Array(items) => Value::Array(items.iter().map(jsonschema_of).collect()),
        Value::Object(object) => {
            let nullable = object.get("nullable") == Some(&Value::Bool(true));
            let mut out: Map<String, Value> = object
                .iter()
                // A property *named* `nullable` holds a schema, not `true`.
                .filter(|(k, v)| !(k.as_str() == "nullable" && v.is_boolean()))
                .map(|(k, v)| (k.clone(), jsonschema_of(v)))
                .collect();
            if !nullable {
                return Value::Object(out);
            }
            if let Some(Value::Array(values)) = out.get_mut("enum") {
                values.push(Value::Null);
            }
            match out.get("type").cloned() {
                Some(Value::String(t)) => {
                    out.insert("type".into(), json!([t, "null"]));
                    Value::Object(out)
                }
                _ => json!({ "anyOf": [{ "type": "null" }, Value::Object(out)] }),
            }
        }
        other => other.clone(),
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (k, v) in object {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Puts `value` at the JSON pointer `#/a/b/c` of `document`.
fn insert_at(document: &mut Value, reference: &str, value: Value) {
    let tokens: Vec<String> = reference
        .trim_start_matches("#/")
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut at = document;
    for token in &tokens[..tokens.len() - 1] {
        at = at
            .as_object_mut()
            .expect("pointer walks objects")
            .entry(token.clone())
            .or_insert_with(|| json!({}));
    }
    at.as_object_mut()
        .expect("pointer walks objects")
        .insert(tokens[tokens.len() - 1].clone(), value);
}

/// `text` cut in the middle to about `max` characters: a schema error's
/// quote of the value is the middle, what is wrong is its end.
fn short(text: &str, max: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= max {
        return text.to_owned();
    }
    let head: String = chars[..max / 2].iter().collect();
    let tail: String = chars[chars.len() - max / 2..].iter().collect();
    format!("{head}…{tail}")
}

// ---- the suite's ledger --------------------------------------------------

/// The folder beside the test binaries where each one writes what its fakes
/// checked (`target/debug/openapi-conformance/`).
pub fn ledger_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in target/<profile>/deps");
    profile.join("openapi-conformance")
}

/// Adds one fake's counts to this test binary's ledger file (truncated the
/// first time this process writes, so a file holds one run).
pub fn record(ledger: &Ledger) {
    static FILE: OnceLock<Mutex<Option<std::fs::File>>> = OnceLock::new();
    let file = FILE.get_or_init(|| {
        let dir = ledger_dir();
        let exe = std::env::current_exe().expect("the test binary has a path");
        let stem = exe
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let opened = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::File::create(dir.join(format!("{stem}.ledger"))));
        Mutex::new(opened.ok())
    });
    let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(f) = file.as_mut() {
        let mut text = String::new();
        for (operation, n) in &ledger.checked {
            text.push_str(&format!("{n}\t{operation}\n"));
        }
        // One write per fake: lines of concurrent tests do not interleave.
        let _ = f.write_all(text.as_bytes());
    }
}
