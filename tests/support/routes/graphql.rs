//! `POST /graphql`: the parts of GitHub's GraphQL API seamguard uses, as
//! strict as GitHub is.
//!
//! Every document is parsed and validated by `apollo-compiler` against
//! GitHub's published schema (`fixtures/github/schema.graphql.gz`, read
//! once per test process): fields, arguments and their types, fragments,
//! variables declared, used and of input types; then the request's
//! variables are coerced to their declared types, as GitHub does before it
//! executes anything. A document or variables GitHub would refuse answer as
//! GitHub does (HTTP 200, `errors` with a message and its location, no
//! `data`) and are also a conformance violation, so the test that sent them
//! fails.
//!
//! A valid document is executed against the world: the answer holds exactly
//! the selected fields under their response keys, as GraphQL answers do. The
//! fake resolves the objects seamguard reads (a repository's pull request,
//! its merge-queue entry and removals, a commit's history and status
//! rollup) and the `enqueuePullRequest` mutation; a non-null field the fake
//! does not model would be answered `null`, which GitHub never does, so
//! that is a violation too (the fake must grow, not guess). A failed
//! mutation answers `errors` with GitHub's `type` (`NOT_FOUND`,
//! `UNPROCESSABLE`) and a `data` whose field is null.

use std::sync::OnceLock;

use apollo_compiler::ast::{OperationType, Value as Literal};
use apollo_compiler::executable::{Field, Operation, Selection, SelectionSet};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::reviews::{Deployment, Review};
use super::{Answer, Ctx};
use crate::support::json as gh;
use crate::support::world::{QueueEntry, QueueRemoval, SeenAuth, World};

/// GitHub's schema, carried in the repository.
const SCHEMA_FILE: &str = "fixtures/github/schema.graphql.gz";

/// What apollo-compiler says when it builds GitHub's schema as published:
/// `EnterpriseOwnerInfo` defines two fields twice (a strict SDL validator
/// refuses the file; GitHub's own tooling does not). Anything else is news.
const KNOWN_SCHEMA_ERRORS: &[&str] = &[
    "duplicate definitions for the `repositoryDeployKeySetting` field of object type `EnterpriseOwnerInfo`",
    "duplicate definitions for the `repositoryDeployKeySettingOrganizations` field of object type `EnterpriseOwnerInfo`",
];

/// GitHub's published schema, built once per test process. The SDL itself
/// is not validated (see [`KNOWN_SCHEMA_ERRORS`]); documents are.
pub fn schema() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let sdl = crate::support::data::gzipped_text(SCHEMA_FILE);
        let schema = match Schema::parse(sdl, "schema.graphql") {
            Ok(schema) => schema,
            Err(with_errors) => {
                let unexpected: Vec<String> = with_errors
                    .errors
                    .iter()
                    .map(|d| d.error.to_string())
                    .filter(|m| !KNOWN_SCHEMA_ERRORS.contains(&m.as_str()))
                    .collect();
                assert!(
                    unexpected.is_empty(),
                    "GitHub's schema ({SCHEMA_FILE}) does not build: {unexpected:#?}"
                );
                with_errors.partial
            }
        };
        Valid::assume_valid(schema)
    })
}

/// A document GitHub would accept: parsed, validated, with its one
/// operation's variables coerced. `Err` holds GitHub-shaped error entries.
struct Request {
    document: Valid<ExecutableDocument>,
    operation: Node<Operation>,
    variables: Map<String, Value>,
}

fn prepare(
    query: &str,
    operation_name: Option<&str>,
    variables: &Map<String, Value>,
) -> Result<Request, Vec<Value>> {
    let schema = schema();
    let document = ExecutableDocument::parse_and_validate(schema, query, "query.graphql").map_err(
        |with_errors| {
            with_errors
                .errors
                .iter()
                .map(|d| serde_json::to_value(d.to_json()).expect("an error serializes"))
                .collect::<Vec<_>>()
        },
    )?;
    let operation = document
        .operations
        .get(operation_name)
        .map_err(|e| vec![error(None, "", &e.message().to_string())])?;
    let given: apollo_compiler::response::JsonMap = variables
        .iter()
        .map(|(k, v)| (k.as_str().into(), v.clone().into()))
        .collect();
    let coerced = apollo_compiler::request::coerce_variable_values(schema, operation, &given)
        .map_err(|e| vec![error(None, "", &e.message().to_string())])?;
    let variables = serde_json::to_value(coerced.into_inner())
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let operation = operation.clone();
    Ok(Request {
        document,
        operation,
        variables,
    })
}

// ---------------------------------------------------------------- execution

/// A resolved object of the world.
#[derive(Clone)]
enum Obj {
    Repo(String),
    Pull(String, u64),
    Entry {
        position: usize,
        entry: QueueEntry,
    },
    Removal(QueueRemoval),
    Timeline(Vec<QueueRemoval>),
    Payload(Option<Box<Obj>>),
    Commit(String, String),
    History(String, Vec<String>),
    Rollup(String, String),
    Contexts(Vec<Obj>),
    CheckRunNode {
        name: String,
        app: u64,
    },
    StatusNode {
        context: String,
        state: String,
    },
    Suite(u64),
    App(u64),
    Reviews(Vec<Review>),
    ReviewNode(Review),
    Actor(String),
    Requests(Vec<String>),
    RequestNode(String),
    Threads(Vec<bool>),
    ThreadNode(bool),
    PullCommits(String, Vec<String>),
    PullCommitNode(String, String),
    Parents(usize),
    Signature,
    Deployments(Vec<Deployment>),
    DeploymentNode(Deployment),
    DeploymentStatus(String),
    /// A commit's author or committer (a login).
    GitActor(String),
    Users(Vec<String>),
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
            Obj::Reviews(_) => "PullRequestReviewConnection",
            Obj::ReviewNode(_) => "PullRequestReview",
            // A team is named `org/team`, an App's bot ends in `[bot]`;
            // anyone else is a user.
            Obj::Actor(name) if name.contains('/') => "Team",
            Obj::Actor(name) if name.ends_with("[bot]") => "Bot",
            Obj::Actor(_) => "User",
            Obj::Requests(_) => "ReviewRequestConnection",
            Obj::RequestNode(_) => "ReviewRequest",
            Obj::Threads(_) => "PullRequestReviewThreadConnection",
            Obj::ThreadNode(_) => "PullRequestReviewThread",
            Obj::PullCommits(..) => "PullRequestCommitConnection",
            Obj::PullCommitNode(..) => "PullRequestCommit",
            Obj::Parents(_) => "CommitConnection",
            Obj::Signature => "GpgSignature",
            Obj::Deployments(_) => "DeploymentConnection",
            Obj::DeploymentNode(_) => "Deployment",
            Obj::DeploymentStatus(_) => "DeploymentStatus",
            Obj::GitActor(_) => "GitActor",
            Obj::Users(_) => "UserConnection",
        }
    }
}

enum Out {
    Leaf(Value),
    One(Option<Obj>),
    Many(Vec<Obj>),
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

fn field_of(world: &World, obj: &Obj, name: &str, args: &Map<String, Value>) -> Out {
    let a = |n: &str| args.get(n).cloned().filter(|v| !v.is_null());
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
        (o, f) => whole_gate_field(world, o, f, args),
    }
}

/// `first`/`last` of a connection's arguments applied to its items.
fn window<T>(mut items: Vec<T>, args: &Map<String, Value>) -> Vec<T> {
    let n = |k: &str| args.get(k).and_then(Value::as_u64).map(|n| n as usize);
    if let Some(last) = n("last") {
        let skip = items.len().saturating_sub(last);
        items.drain(..skip);
    }
    if let Some(first) = n("first") {
        items.truncate(first);
    }
    items
}

/// The fields of the whole-gate query: reviews, review requests, threads,
/// the pull request's commits with their signatures and parents,
/// deployments, mergeability (`routes::reviews` holds the facts).
fn whole_gate_field(world: &World, obj: &Obj, name: &str, args: &Map<String, Value>) -> Out {
    match (obj, name) {
        (Obj::Pull(key, n), "reviewDecision") => {
            let r = world.repo(key);
            let base = &r.pulls[n].base_ref;
            Out::Leaf(json!(
                r.whole_gate.review_decision(*n, r.required_reviews(base))
            ))
        }
        (Obj::Pull(key, n), "mergeable") => {
            let r = world.repo(key);
            let pr = &r.pulls[n];
            Out::Leaf(json!(if !r.mergeability_known(pr) {
                "UNKNOWN"
            } else if r.mergeable_state(pr) == "dirty" {
                "CONFLICTING"
            } else {
                "MERGEABLE"
            }))
        }
        (Obj::Pull(key, n), "mergeStateStatus") => {
            let r = world.repo(key);
            let pr = &r.pulls[n];
            let state = r.mergeable_state(pr).to_ascii_uppercase();
            let reviewed = r
                .whole_gate
                .review_decision(*n, r.required_reviews(&pr.base_ref))
                .is_none_or(|d| d == "APPROVED");
            Out::Leaf(json!(if state == "CLEAN" && !reviewed {
                "BLOCKED".to_owned()
            } else {
                state
            }))
        }
        (Obj::Pull(key, n), "latestOpinionatedReviews") => Out::One(Some(Obj::Reviews(window(
            world.repo(key).whole_gate.latest_opinionated(*n),
            args,
        )))),
        (Obj::Pull(key, n), "reviewRequests") => {
            let owners = world
                .repo(key)
                .whole_gate
                .code_owner_requests
                .get(n)
                .cloned()
                .unwrap_or_default();
            Out::One(Some(Obj::Requests(window(owners, args))))
        }
        (Obj::Pull(key, n), "reviewThreads") => {
            let threads: Vec<bool> = world
                .repo(key)
                .whole_gate
                .threads
                .iter()
                .filter(|t| t.number == *n)
                .map(|t| t.resolved)
                .collect();
            Out::One(Some(Obj::Threads(threads)))
        }
        (Obj::Pull(key, n), "commits") => {
            // The pull request's commits, oldest first: the head's history
            // back to the merge base with its base.
            let r = world.repo(key);
            let pr = &r.pulls[n];
            let exclude = r
                .tip(&pr.base_ref)
                .map(|t| r.ancestors(t))
                .unwrap_or_default();
            let shas = r.range(&pr.head_sha, &exclude);
            Out::One(Some(Obj::PullCommits(key.clone(), shas)))
        }
        (Obj::Reviews(items), "nodes") => {
            Out::Many(items.iter().cloned().map(Obj::ReviewNode).collect())
        }
        (Obj::Reviews(items), "totalCount") => Out::Leaf(json!(items.len())),
        (Obj::ReviewNode(r), "state") => Out::Leaf(json!(r.state)),
        (Obj::ReviewNode(r), "author") => Out::One(Some(Obj::Actor(r.login.clone()))),
        (Obj::ReviewNode(r), "commit") => {
            Out::One(Some(Obj::Commit(String::new(), r.commit.clone())))
        }
        // GraphQL spells a bot's login without its `[bot]`.
        (Obj::Actor(login), "login") => {
            Out::Leaf(json!(login.strip_suffix("[bot]").unwrap_or(login)))
        }
        (Obj::Pull(key, n), "author") => {
            Out::One(Some(Obj::Actor(world.repo(key).pulls[n].user.clone())))
        }
        (Obj::Pull(key, n), "assignees") => {
            let logins = world
                .repo(key)
                .whole_gate
                .assignees
                .get(n)
                .cloned()
                .unwrap_or_default();
            Out::One(Some(Obj::Users(window(logins, args))))
        }
        (Obj::Users(items), "nodes") => Out::Many(items.iter().cloned().map(Obj::Actor).collect()),
        (Obj::Users(items), "totalCount") => Out::Leaf(json!(items.len())),
        (Obj::Commit(key, sha), "message") => Out::Leaf(json!(world.repo(key).commit(sha).message)),
        (Obj::Commit(key, sha), "author") => Out::One(Some(Obj::GitActor(
            world.repo(key).commit(sha).author.clone(),
        ))),
        (Obj::Commit(key, sha), "committer") => Out::One(Some(Obj::GitActor(
            world.repo(key).commit(sha).committer.clone(),
        ))),
        (Obj::GitActor(login), "name") => Out::Leaf(json!(login)),
        (Obj::GitActor(login), "email") => Out::Leaf(json!(gh::git_email(login))),
        // `user` is a User: a bot's commits have none.
        (Obj::GitActor(login), "user") => {
            Out::One((!login.ends_with("[bot]")).then(|| Obj::Actor(login.clone())))
        }
        (Obj::Actor(slug), "combinedSlug") => Out::Leaf(json!(slug)),
        (Obj::Requests(items), "nodes") => {
            Out::Many(items.iter().cloned().map(Obj::RequestNode).collect())
        }
        (Obj::Requests(items), "totalCount") => Out::Leaf(json!(items.len())),
        (Obj::RequestNode(_), "asCodeOwner") => Out::Leaf(json!(true)),
        (Obj::RequestNode(who), "requestedReviewer") => Out::One(Some(Obj::Actor(who.clone()))),
        (Obj::Threads(items), "nodes") => Out::Many(
            window(items.clone(), args)
                .into_iter()
                .map(Obj::ThreadNode)
                .collect(),
        ),
        (Obj::Threads(items), "totalCount") => Out::Leaf(json!(items.len())),
        (Obj::ThreadNode(resolved), "isResolved") => Out::Leaf(json!(resolved)),
        (Obj::PullCommits(key, shas), "nodes") => Out::Many(
            window(shas.clone(), args)
                .into_iter()
                .map(|s| Obj::PullCommitNode(key.clone(), s))
                .collect(),
        ),
        (Obj::PullCommits(_, shas), "totalCount") => Out::Leaf(json!(shas.len())),
        (Obj::PullCommitNode(key, sha), "commit") => {
            Out::One(Some(Obj::Commit(key.clone(), sha.clone())))
        }
        (Obj::Commit(_, sha), "abbreviatedOid") => Out::Leaf(json!(sha[..7.min(sha.len())])),
        (Obj::Commit(key, sha), "parents") => Out::One(Some(Obj::Parents(
            world.repo(key).commit(sha).parents.len(),
        ))),
        (Obj::Parents(n), "totalCount") => Out::Leaf(json!(n)),
        (Obj::Commit(key, sha), "signature") => {
            Out::One((!world.repo(key).whole_gate.unsigned.contains(sha)).then_some(Obj::Signature))
        }
        (Obj::Signature, "isValid") => Out::Leaf(json!(true)),
        (Obj::Signature, "state") => Out::Leaf(json!("VALID")),
        (Obj::Commit(key, sha), "deployments") => {
            let envs: Option<Vec<String>> = args.get("environments").and_then(|e| {
                e.as_array().map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
            });
            let items: Vec<Deployment> = world
                .repo(key)
                .whole_gate
                .deployments
                .iter()
                .filter(|d| &d.sha == sha)
                .filter(|d| envs.as_ref().is_none_or(|e| e.contains(&d.environment)))
                .cloned()
                .collect();
            Out::One(Some(Obj::Deployments(window(items, args))))
        }
        (Obj::Deployments(items), "nodes") => {
            Out::Many(items.iter().cloned().map(Obj::DeploymentNode).collect())
        }
        (Obj::Deployments(items), "totalCount") => Out::Leaf(json!(items.len())),
        (Obj::DeploymentNode(d), "environment") => Out::Leaf(json!(d.environment)),
        (Obj::DeploymentNode(d), "state") => Out::Leaf(json!(d.state)),
        (Obj::DeploymentNode(d), "commitOid") => Out::Leaf(json!(d.sha)),
        (Obj::DeploymentNode(d), "latestStatus") => {
            Out::One(Some(Obj::DeploymentStatus(d.status.clone())))
        }
        (Obj::DeploymentStatus(state), "state") => Out::Leaf(json!(state)),
        _ => Out::Leaf(Value::Null),
    }
}

/// What executing a document noticed that GitHub would never answer.
#[derive(Default)]
struct Noticed {
    violations: Vec<String>,
    /// Field errors GitHub answers beside partial data (`FORBIDDEN` for a
    /// field the installation's permissions do not reach).
    errors: Vec<Value>,
}

/// An argument's value with variables substituted, as JSON.
fn literal(value: &Literal, vars: &Map<String, Value>) -> Value {
    match value {
        Literal::Null => Value::Null,
        Literal::Variable(name) => vars.get(name.as_str()).cloned().unwrap_or(Value::Null),
        Literal::Enum(name) => json!(name.as_str()),
        Literal::String(s) => json!(s),
        Literal::Boolean(b) => json!(b),
        Literal::Int(i) => i.as_str().parse::<i64>().map_or(Value::Null, Value::from),
        Literal::Float(f) => f.try_to_f64().map_or(Value::Null, Value::from),
        Literal::List(items) => Value::Array(items.iter().map(|i| literal(i, vars)).collect()),
        Literal::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), literal(v, vars)))
                .collect(),
        ),
    }
}

/// A field's arguments, resolved.
fn arguments(field: &Field, vars: &Map<String, Value>) -> Map<String, Value> {
    field
        .arguments
        .iter()
        .map(|a| (a.name.to_string(), literal(&a.value, vars)))
        .collect()
}

/// The selected fields of `obj`, and only those, under their response keys.
fn project(
    world: &World,
    doc: &ExecutableDocument,
    obj: &Obj,
    set: &SelectionSet,
    vars: &Map<String, Value>,
    noticed: &mut Noticed,
) -> Value {
    let mut out = Map::new();
    project_into(world, doc, obj, set, vars, noticed, &mut out);
    Value::Object(out)
}

/// `@include(if:)` and `@skip(if:)`: a selection they leave out is not
/// answered at all, as GitHub answers.
fn included(
    directives: &apollo_compiler::executable::DirectiveList,
    vars: &Map<String, Value>,
) -> bool {
    let flag = |name: &str| {
        directives
            .get(name)
            .and_then(|d| d.specified_argument_by_name("if"))
            .map(|v| literal(v, vars) == json!(true))
    };
    flag("include").unwrap_or(true) && !flag("skip").unwrap_or(false)
}

fn project_into(
    world: &World,
    doc: &ExecutableDocument,
    obj: &Obj,
    set: &SelectionSet,
    vars: &Map<String, Value>,
    noticed: &mut Noticed,
    out: &mut Map<String, Value>,
) {
    for selection in &set.selections {
        if !included(selection.directives(), vars) {
            continue;
        }
        match selection {
            Selection::InlineFragment(f) => {
                let applies = f
                    .type_condition
                    .as_ref()
                    .is_none_or(|t| t.as_str() == obj.type_name());
                if applies {
                    project_into(world, doc, obj, &f.selection_set, vars, noticed, out);
                }
            }
            Selection::FragmentSpread(spread) => {
                let fragment = &doc.fragments[&spread.fragment_name];
                if fragment.selection_set.ty.as_str() == obj.type_name() {
                    project_into(world, doc, obj, &fragment.selection_set, vars, noticed, out);
                }
            }
            Selection::Field(field) => {
                let key = field.response_key().to_string();
                let value = resolve_field(world, doc, obj, field, vars, noticed);
                if value.is_null() && field.definition.ty.is_non_null() {
                    noticed.violations.push(format!(
                        "the fake answered null for the non-null field `{}.{}`: it does not \
                         model it yet",
                        obj.type_name(),
                        field.name
                    ));
                }
                out.insert(key, value);
            }
        }
    }
}

fn resolve_field(
    world: &World,
    doc: &ExecutableDocument,
    obj: &Obj,
    field: &Node<Field>,
    vars: &Map<String, Value>,
    noticed: &mut Noticed,
) -> Value {
    let args = arguments(field, vars);
    // Without `deployments: read`, GitHub answers the rest and nulls the
    // deployments with a FORBIDDEN error.
    if let Obj::Commit(key, _) = obj
        && field.name == "deployments"
        && world
            .repos
            .get(&key.to_ascii_lowercase())
            .is_some_and(|r| r.whole_gate.deployments_forbidden)
    {
        noticed.errors.push(error(
            Some("FORBIDDEN"),
            "deployments",
            "Resource not accessible by integration",
        ));
        return Value::Null;
    }
    match field_of(world, obj, field.name.as_str(), &args) {
        Out::Leaf(v) => v,
        Out::One(o) => o.map_or(Value::Null, |o| {
            project(world, doc, &o, &field.selection_set, vars, noticed)
        }),
        Out::Many(items) => Value::Array(
            items
                .iter()
                .map(|o| project(world, doc, o, &field.selection_set, vars, noticed))
                .collect(),
        ),
    }
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

/// Executes a request for `installation`: the answer, or request errors
/// (no `data`), each also a violation to report.
fn answer(
    world: &mut World,
    installation: u64,
    body: &Value,
    noticed: &mut Noticed,
) -> Result<Value, Vec<Value>> {
    let fail = |m: &str| vec![error(None, "", m)];
    let Some(query) = body["query"].as_str() else {
        return Err(fail(
            "A query attribute must be specified and must be a string.",
        ));
    };
    let given = match &body["variables"] {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => return Err(fail("Variables must be an object")),
    };
    let request = prepare(query, body["operationName"].as_str(), &given)?;
    let doc = &request.document;
    let vars = &request.variables;
    let operation = &request.operation;
    let root = match operation.operation_type {
        OperationType::Mutation => "Mutation",
        _ => "Query",
    };
    let mut data = Map::new();
    let mut field_errors = Vec::new();
    for selection in &operation.selection_set.selections {
        let Selection::Field(field) = selection else {
            return Err(fail("the fake answers fields at the root, not fragments"));
        };
        let key = field.response_key().to_string();
        let args = arguments(field, vars);
        let value = match field.name.as_str() {
            "repository" => {
                let full = format!(
                    "{}/{}",
                    args["owner"].as_str().unwrap_or_default(),
                    args["name"].as_str().unwrap_or_default()
                );
                let visible = world
                    .repos
                    .get(&full.to_ascii_lowercase())
                    .is_some_and(|r| r.installation == installation);
                if visible {
                    let value = project(
                        world,
                        doc,
                        &Obj::Repo(full.clone()),
                        &field.selection_set,
                        vars,
                        noticed,
                    );
                    // A read of `mergeable` counts as a read of the pull
                    // request: GitHub computes it in the background after a
                    // push, answering `UNKNOWN` meanwhile ([`Mergeability`]).
                    if let Some(n) = vars.get("number").and_then(Value::as_u64)
                        && query.contains("mergeable")
                    {
                        let reads = world.unknown_reads_after_push;
                        world
                            .repo_mut(&full.to_ascii_lowercase())
                            .read_mergeability(n, reads);
                    }
                    value
                } else {
                    field_errors.push(error(
                        Some("NOT_FOUND"),
                        &key,
                        &format!("Could not resolve to a Repository with the name '{full}'."),
                    ));
                    Value::Null
                }
            }
            "enqueuePullRequest" => match enqueue(world, installation, &args["input"]) {
                Ok(entry) => project(
                    world,
                    doc,
                    &Obj::Payload(Some(Box::new(entry))),
                    &field.selection_set,
                    vars,
                    noticed,
                ),
                Err((kind, message)) => {
                    field_errors.push(error(Some(&kind), &key, &message));
                    Value::Null
                }
            },
            "__typename" => json!(root),
            other => {
                noticed
                    .violations
                    .push(format!("the fake does not answer `{root}.{other}` yet"));
                Value::Null
            }
        };
        data.insert(key, value);
    }
    field_errors.append(&mut noticed.errors);
    let mut out = json!({ "data": data });
    if !field_errors.is_empty() {
        out["errors"] = Value::Array(field_errors);
    }
    Ok(out)
}

/// `POST /graphql`. Request errors, and answers GitHub would never give,
/// are also conformance violations.
pub fn graphql(world: &mut World, ctx: &Ctx) -> Answer {
    let SeenAuth::Installation(installation) = ctx.auth else {
        return Answer::error(401, "Bad credentials");
    };
    let body = ctx.body.clone().unwrap_or(Value::Null);
    let mut noticed = Noticed::default();
    let answer = match answer(world, installation, &body, &mut noticed) {
        Ok(v) => Answer::json(200, v),
        Err(errors) => {
            for e in &errors {
                noticed
                    .violations
                    .push(e["message"].as_str().unwrap_or_default().to_owned());
            }
            Answer::json(200, json!({ "errors": errors }))
        }
    };
    world.conformance.violations.extend(
        noticed
            .violations
            .into_iter()
            .map(|v| format!("POST /graphql: {v}")),
    );
    answer
}

/// The validation errors of a document against GitHub's schema (empty:
/// GitHub would accept it), for tests of the fake itself.
pub fn validate(query: &str) -> Vec<String> {
    match ExecutableDocument::parse_and_validate(schema(), query, "query.graphql") {
        Ok(_) => Vec::new(),
        Err(with_errors) => with_errors
            .errors
            .iter()
            .map(|d| d.error.to_string())
            .collect(),
    }
}

/// As [`validate`], then the variables coerced to their declared types.
pub fn validate_request(query: &str, variables: &Value) -> Vec<String> {
    let given = variables.as_object().cloned().unwrap_or_default();
    match prepare(query, None, &given) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .iter()
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .collect(),
    }
}
