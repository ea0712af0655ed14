//! Webhook payloads → the work they cause.
//!
//! Each event seamguard listens to is parsed into a small owned type holding
//! only the fields it reads, with `serde_path_to_error` so a strange payload
//! is a one-line diagnosis naming the JSON path. [`parse`] is pure: no
//! GitHub call happens here (the request handler must answer within
//! GitHub's 10 seconds); where an event names only a SHA (a `status`, or a
//! check from a fork, whose `pull_requests` list GitHub leaves empty), the
//! work item says so and the worker finds the pull requests later.

use serde::Deserialize;

use crate::github::models::null_as_default;
use crate::ids::{AppId, CommitSha, InstallationId, PrNumber, RepoName};
use crate::store::{Command, Target, Work};

/// The events seamguard subscribes to and parses. Others are acknowledged,
/// counted and ignored.
pub const KNOWN_EVENTS: &[&str] = &[
    "ping",
    "pull_request",
    "pull_request_review",
    "pull_request_review_thread",
    "deployment_status",
    "check_run",
    "check_suite",
    "status",
    "push",
    "merge_group",
    "issue_comment",
    "installation",
    "installation_repositories",
    "branch_protection_rule",
    "repository_ruleset",
    "repository",
];

/// Longest `X-GitHub-Event` accepted. GitHub's longest names are about 30
/// characters (`personal_access_token_request`); 64 leaves room for new ones
/// while keeping an arbitrary header out of the logs.
const MAX_EVENT_NAME: usize = 64;

/// Whether `name` can be a GitHub event name: `[a-z0-9_]+` (digits occur,
/// as in `projects_v2_item`), at most [`MAX_EVENT_NAME`] bytes. Whether
/// seamguard reads the event is [`KNOWN_EVENTS`]' business, not this one's.
pub fn valid_event_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_EVENT_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A parsed delivery: what it is and the work it causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub action: Option<String>,
    pub installation: Option<InstallationId>,
    pub work: Vec<Work>,
    /// Who pushed or opted in a pull request's head, for the opt-in rule
    /// (`pull_request` `opened`, `reopened`, `synchronize`, `labeled`).
    pub activity: Option<PrActivity>,
    /// Its work may wait for the rest of a burst ([`settles`]).
    pub settles: bool,
}

/// Whether the work of a delivery of `event` with `action` may wait a
/// moment for the rest of its burst (`CHECK_SETTLE`): the results of other
/// apps' checks, commit statuses and deployments, which a CI run reports
/// several at once. Everything a person or a push causes runs at once:
/// commands and the "Re-check" button, `opened` and `synchronize`, labels,
/// reviews, seamguard's own suite requests, branch and ruleset changes.
pub fn settles(event: &str, action: Option<&str>) -> bool {
    match event {
        "check_run" | "check_suite" => action == Some("completed"),
        "status" | "deployment_status" => true,
        _ => false,
    }
}

/// Who did something on a pull request, as a delivery's `sender` said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Actor {
    pub login: String,
    /// GitHub said the sender is a `Bot` (an App's `[bot]` user).
    pub bot: bool,
}

/// What an [`Actor`] did to a pull request's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// Opened the pull request at this head, or pushed it.
    Pushed,
    /// Added a label while this was the head.
    Labeled { label: String },
    /// Commanded `@seamguard recheck` (or pressed Re-check) while this was
    /// the head; recorded by the engine once write access is confirmed.
    Rechecked,
}

/// One thing done to one head of one pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrActivity {
    pub repo: RepoName,
    pub pr: PrNumber,
    pub head: CommitSha,
    pub actor: Actor,
    pub what: Activity,
}

/// Why a body is not the JSON of its event.
#[derive(Debug, thiserror::Error)]
#[error("{event} payload does not parse at `{path}`: {message}")]
pub struct PayloadError {
    pub event: String,
    pub path: String,
    pub message: String,
}

/// Declares an event's payload type: the fields every event shares (the
/// envelope) and the event's own, in one struct, so a delivery is parsed in
/// one pass and a failure still names its JSON path (`#[serde(flatten)]`
/// would buffer the body and lose the path).
macro_rules! event_payload {
    ($(#[$meta:meta])* struct $name:ident { $($fields:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Deserialize)]
        struct $name {
            #[serde(default)]
            action: Option<String>,
            #[serde(default)]
            installation: Option<InstallationRef>,
            #[serde(default)]
            repository: Option<RepositoryRef>,
            $($fields)*
        }
    };
}

#[derive(Debug, Deserialize)]
struct InstallationRef {
    id: u64,
}

#[derive(Debug, Deserialize)]
struct RepositoryRef {
    /// Only tells a fork's pull requests apart; absent, none are dropped.
    #[serde(default)]
    id: Option<u64>,
    full_name: String,
}

event_payload! {
    struct PullRequestEvent {
        number: u64,
        #[serde(default)]
        changes: Option<PullRequestChanges>,
        #[serde(default)]
        pull_request: Option<PullRequestHead>,
        #[serde(default)]
        sender: Option<UserRef>,
        #[serde(default)]
        label: Option<LabelRef>,
        /// `stacked` carries the stack at the top level too.
        #[serde(default)]
        stack: Option<serde_json::Value>,
    }
}

#[derive(Debug, Deserialize)]
struct PullRequestHead {
    #[serde(default)]
    head: Option<HeadRef>,
    /// Read loosely: a stack whose number or position is missing names no
    /// pull requests above.
    #[serde(default)]
    stack: Option<serde_json::Value>,
}

/// The stack's number and the pull request's position in it, when a
/// `stack` object says both.
fn stack_place(stack: Option<&serde_json::Value>) -> Option<(u64, u32)> {
    let stack = stack?;
    let number = stack.get("number")?.as_u64()?;
    let position = stack.get("position")?.as_u64()?;
    Some((number, u32::try_from(position).ok()?))
}

#[derive(Debug, Deserialize)]
struct HeadRef {
    #[serde(default, deserialize_with = "null_as_default")]
    sha: String,
}

#[derive(Debug, Deserialize)]
struct LabelRef {
    name: String,
}

#[derive(Debug, Deserialize)]
struct PullRequestChanges {
    #[serde(default)]
    base: Option<serde_json::Value>,
}

event_payload! {
    struct RepositoryEvent {
        #[serde(default)]
        changes: Option<RepositoryChanges>,
    }
}

#[derive(Debug, Deserialize)]
struct RepositoryChanges {
    #[serde(default)]
    default_branch: Option<serde_json::Value>,
}

event_payload! {
    struct ReviewEvent {
        pull_request: PrRef,
    }
}

event_payload! {
    struct DeploymentStatusEvent {
        deployment: DeploymentRef,
    }
}

#[derive(Debug, Deserialize)]
struct DeploymentRef {
    sha: String,
}

#[derive(Debug, Deserialize)]
struct PrRef {
    number: u64,
    #[serde(default)]
    base: Option<PrBase>,
}

#[derive(Debug, Deserialize)]
struct PrBase {
    #[serde(default)]
    repo: Option<RepoIdRef>,
}

#[derive(Debug, Deserialize)]
struct RepoIdRef {
    #[serde(default)]
    id: Option<u64>,
}

event_payload! {
    struct CheckRunEvent {
        check_run: CheckPayload,
        #[serde(default)]
        requested_action: Option<RequestedAction>,
        #[serde(default)]
        sender: Option<UserRef>,
    }
}

#[derive(Debug, Deserialize)]
struct RequestedAction {
    identifier: String,
}

/// The check run action ("button") that asks for a re-check; the same
/// string is sent in the check run's `actions` (at most 20 characters).
pub const RECHECK_ACTION: &str = "recheck";

#[derive(Debug, Deserialize)]
struct UserRef {
    login: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

event_payload! {
    struct IssueCommentEvent {
        issue: IssueRef,
        comment: CommentRef,
    }
}

#[derive(Debug, Deserialize)]
struct IssueRef {
    number: u64,
    /// Present only when the issue is a pull request.
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct CommentRef {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    user: UserRef,
}

/// The command in a comment: a line whose first word is `@seamguard`, and
/// whose second is `recheck` or `explain` (case-insensitive). A mention
/// elsewhere in a sentence is not a command.
pub fn command_in(body: &str) -> Option<Command> {
    body.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if !words.next()?.eq_ignore_ascii_case("@seamguard") {
            return None;
        }
        match words.next()?.to_ascii_lowercase().as_str() {
            "recheck" => Some(Command::Recheck),
            "explain" => Some(Command::Explain),
            _ => None,
        }
    })
}

event_payload! {
    struct CheckSuiteEvent {
        check_suite: CheckPayload,
    }
}

/// The fields a check run and a check suite share.
#[derive(Debug, Deserialize)]
struct CheckPayload {
    head_sha: String,
    #[serde(default)]
    app: Option<AppRef>,
    /// Empty, absent or `null` for pull requests from forks.
    #[serde(default, deserialize_with = "null_as_default")]
    pull_requests: Vec<PrRef>,
}

#[derive(Debug, Deserialize)]
struct AppRef {
    #[serde(default)]
    id: Option<u64>,
}

event_payload! {
    struct StatusEvent {
        sha: String,
    }
}

event_payload! {
    struct PushEvent {
        #[serde(rename = "ref")]
        git_ref: String,
        #[serde(default, deserialize_with = "null_as_default")]
        deleted: bool,
    }
}

event_payload! {
    struct MergeGroupEvent {
        merge_group: MergeGroup,
    }
}

#[derive(Debug, Deserialize)]
struct MergeGroup {
    head_sha: String,
    base_ref: String,
}

event_payload! {
    /// Events with no work to do, parsed only to reject bodies that are not
    /// what their header claims.
    struct PingEvent {
        #[allow(dead_code)]
        zen: Option<String>,
        #[allow(dead_code)]
        hook_id: Option<u64>,
    }
}

event_payload! {
    /// An event seamguard does not read: only its envelope, to check the
    /// body is JSON.
    struct OtherEvent {}
}

fn decode<T: for<'de> Deserialize<'de>>(event: &str, body: &[u8]) -> Result<T, PayloadError> {
    // The plain decoder is the fast path (a quarter faster on a 20 KB pull
    // request, BENCHMARKS.md); the path-tracking one runs only to name the
    // JSON path of a payload that did not parse.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    // Here the body either does not parse or parses with bytes after its
    // one JSON value (`from_slice` refuses both): the body must be exactly
    // one value, so trailing text, a NUL or a second document is refused
    // too, not accepted because its first value happens to fit.
    let de = &mut serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| PayloadError {
        event: event.to_owned(),
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })?;
    de.end().map_err(|e| PayloadError {
        event: event.to_owned(),
        path: ".".to_owned(),
        message: format!("bytes after the JSON value: {e}"),
    })?;
    Ok(value)
}

fn sha(event: &str, path: &str, s: &str) -> Result<CommitSha, PayloadError> {
    s.parse().map_err(|e: crate::ids::IdError| PayloadError {
        event: event.to_owned(),
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Parses a delivery of `event` and derives its work. `app_id` is this
/// App's id: its own check runs and suites complete because seamguard
/// completed them, and must not trigger another evaluation (a loop).
pub fn parse(event: &str, body: &[u8], app_id: Option<AppId>) -> Result<Parsed, PayloadError> {
    let ours =
        |app: &Option<AppRef>| matches!((app, app_id), (Some(a), Some(id)) if a.id == Some(id.0));
    macro_rules! envelope {
        ($t:ty) => {
            decode::<$t>(event, body)?
        };
    }
    // Who pushed or labelled which head: kept beside the work, never part
    // of it (work says what to evaluate, not why).
    let mut pending_activity: Option<(PrNumber, CommitSha, Actor, Activity)> = None;
    let (action, installation, repository, targets): (_, _, _, Vec<Target>) = match event {
        "pull_request" => {
            let e = envelope!(PullRequestEvent);
            let what = match (e.action.as_deref(), &e.label) {
                (Some("opened" | "reopened" | "synchronize"), _) => Some(Activity::Pushed),
                (Some("labeled"), Some(l)) => Some(Activity::Labeled {
                    label: l.name.clone(),
                }),
                _ => None,
            };
            let head_sha = e
                .pull_request
                .as_ref()
                .and_then(|p| p.head.as_ref())
                .map(|h| h.sha.as_str())
                .filter(|s| !s.is_empty());
            if let (Some(what), Some(head_sha), Some(sender)) = (what, head_sha, &e.sender) {
                let head = sha(event, "pull_request.head.sha", head_sha)?;
                let actor = Actor {
                    login: sender.login.clone(),
                    bot: sender.kind.as_deref() == Some("Bot"),
                };
                pending_activity = Some((PrNumber(e.number), head, actor, what));
            }
            let relevant = match e.action.as_deref() {
                Some(
                    "opened" | "reopened" | "synchronize" | "ready_for_review" | "labeled"
                    | "unlabeled" | "enqueued" | "dequeued" | "auto_merge_enabled" | "stacked",
                ) => true,
                // A closed pull request leaves its strict base's line, and
                // the next in line goes.
                Some("closed") => true,
                // An edit matters only when it retargets the base branch.
                Some("edited") => e.changes.as_ref().is_some_and(|c| c.base.is_some()),
                _ => false,
            };
            let mut targets = if relevant {
                // The head the delivery names: a run can go on it even
                // while GitHub does not show the pull request yet.
                let head = e
                    .pull_request
                    .as_ref()
                    .and_then(|p| p.head.as_ref())
                    .and_then(|h| h.sha.parse().ok());
                vec![Target::Pr {
                    number: PrNumber(e.number),
                    head,
                }]
            } else {
                vec![]
            };
            // A pull request stacked, merged or closed changes the stack
            // for every pull request above it.
            if matches!(e.action.as_deref(), Some("stacked" | "closed")) {
                let stack = e
                    .stack
                    .as_ref()
                    .or(e.pull_request.as_ref().and_then(|p| p.stack.as_ref()));
                if let Some((number, above)) = stack_place(stack) {
                    targets.push(Target::Stack { number, above });
                }
            }
            (e.action, e.installation, e.repository, targets)
        }
        "pull_request_review" => {
            let e = envelope!(ReviewEvent);
            let targets = match e.action.as_deref() {
                Some("submitted" | "dismissed") => vec![Target::Pr {
                    number: PrNumber(e.pull_request.number),
                    head: None,
                }],
                _ => vec![],
            };
            (e.action, e.installation, e.repository, targets)
        }
        // A conversation resolved (or reopened): the gate may have opened
        // (or closed) for a base that requires resolved conversations.
        "pull_request_review_thread" => {
            let e = envelope!(ReviewEvent);
            let targets = match e.action.as_deref() {
                Some("resolved" | "unresolved") => vec![Target::Pr {
                    number: PrNumber(e.pull_request.number),
                    head: None,
                }],
                _ => vec![],
            };
            (e.action, e.installation, e.repository, targets)
        }
        // A deployment finished (or moved): a base may require it to have
        // succeeded. It names a commit; the worker finds its pull requests.
        "deployment_status" => {
            let e = envelope!(DeploymentStatusEvent);
            let head = sha(event, "deployment.sha", &e.deployment.sha)?;
            let targets = match e.action.as_deref() {
                Some("created") => vec![Target::Commit { sha: head }],
                _ => vec![],
            };
            (e.action, e.installation, e.repository, targets)
        }
        "check_run" | "check_suite" => 'check: {
            let (action, installation, repository, check) = if event == "check_run" {
                let e = envelope!(CheckRunEvent);
                // The "Re-check" button on seamguard's own run: the same as
                // `@seamguard recheck` from whoever pressed it.
                if e.action.as_deref() == Some("requested_action") {
                    let targets = match (&e.requested_action, &e.sender, ours(&e.check_run.app)) {
                        (Some(a), Some(sender), true) if a.identifier == RECHECK_ACTION => e
                            .check_run
                            .pull_requests
                            .iter()
                            .map(|pr| Target::Command {
                                number: PrNumber(pr.number),
                                command: Command::Recheck,
                                author: sender.login.clone(),
                                comment: None,
                            })
                            .collect(),
                        _ => vec![],
                    };
                    break 'check (e.action, e.installation, e.repository, targets);
                }
                (e.action, e.installation, e.repository, e.check_run)
            } else {
                let e = envelope!(CheckSuiteEvent);
                (e.action, e.installation, e.repository, e.check_suite)
            };
            let mine = ours(&check.app);
            let relevant = match action.as_deref() {
                // Another app's check finished: the gate may have opened.
                Some("completed") => !mine,
                // A person asked to re-run seamguard's own check.
                Some("rerequested") => mine,
                // GitHub asks this App for a suite on a new head.
                Some("requested") => mine,
                _ => false,
            };
            let path = format!("{event}.head_sha");
            let head = sha(event, &path, &check.head_sha)?;
            let repo_id = repository.as_ref().and_then(|r| r.id);
            let targets = if !relevant {
                vec![]
            } else {
                let prs: Vec<Target> = check
                    .pull_requests
                    .iter()
                    // The list can name pull requests of other repositories
                    // that share the head (forks); keep this repository's.
                    .filter(|pr| {
                        let base_repo = pr.base.as_ref().and_then(|b| b.repo.as_ref());
                        match (base_repo.and_then(|b| b.id), repo_id) {
                            (Some(b), Some(id)) => b == id,
                            _ => true,
                        }
                    })
                    .map(|pr| Target::Pr {
                        number: PrNumber(pr.number),
                        head: None,
                    })
                    .collect();
                if prs.is_empty() {
                    vec![Target::Commit { sha: head }]
                } else {
                    prs
                }
            };
            (action, installation, repository, targets)
        }
        "status" => {
            let e = envelope!(StatusEvent);
            let head = sha(event, "sha", &e.sha)?;
            (
                e.action,
                e.installation,
                e.repository,
                vec![Target::Commit { sha: head }],
            )
        }
        "push" => {
            let e = envelope!(PushEvent);
            let targets = match e.git_ref.strip_prefix("refs/heads/") {
                Some(branch) if !e.deleted => vec![Target::BaseBranch {
                    name: branch.to_owned(),
                }],
                _ => vec![],
            };
            (e.action, e.installation, e.repository, targets)
        }
        "merge_group" => {
            let e = envelope!(MergeGroupEvent);
            let targets = match e.action.as_deref() {
                Some("checks_requested") => vec![Target::MergeGroup {
                    head_sha: sha(event, "merge_group.head_sha", &e.merge_group.head_sha)?,
                    base_ref: e
                        .merge_group
                        .base_ref
                        .trim_start_matches("refs/heads/")
                        .to_owned(),
                }],
                _ => vec![],
            };
            (e.action, e.installation, e.repository, targets)
        }
        "issue_comment" => {
            let e = envelope!(IssueCommentEvent);
            // Bots never command: seamguard's own replies (its login is the
            // App's slug + `[bot]`) must not loop, and a bot is never a
            // collaborator whose write access could be checked.
            let by_bot = e.comment.user.kind.as_deref() == Some("Bot")
                || e.comment.user.login.ends_with("[bot]");
            let command = e.comment.body.as_deref().and_then(command_in);
            let targets = match (e.action.as_deref(), &e.issue.pull_request, command) {
                (Some("created"), Some(_), Some(command)) if !by_bot => vec![Target::Command {
                    number: PrNumber(e.issue.number),
                    command,
                    author: e.comment.user.login.clone(),
                    comment: Some(e.comment.id),
                }],
                _ => vec![],
            };
            (e.action, e.installation, e.repository, targets)
        }
        "branch_protection_rule" | "repository_ruleset" => {
            // Any change to what a repository's branches require. An
            // organization's ruleset arrives without a repository: nothing
            // to re-read for one repository (the cache's TTL bounds it).
            let e = envelope!(OtherEvent);
            let targets = match (e.action.as_deref(), &e.repository) {
                (Some("created" | "edited" | "deleted"), Some(_)) => vec![Target::Requirements],
                _ => vec![],
            };
            (e.action, e.installation, e.repository, targets)
        }
        "repository" => {
            // A new default branch moves rulesets that target
            // `~DEFAULT_BRANCH`; other edits change no requirement.
            let e = envelope!(RepositoryEvent);
            let moved = e.action.as_deref() == Some("edited")
                && e.changes
                    .as_ref()
                    .is_some_and(|c| c.default_branch.is_some());
            let targets = if moved {
                vec![Target::Requirements]
            } else {
                vec![]
            };
            (e.action, e.installation, e.repository, targets)
        }
        "ping" => {
            let e = envelope!(PingEvent);
            (e.action, e.installation, e.repository, vec![])
        }
        "installation" | "installation_repositories" => {
            // Both name the installation they are about.
            let e = envelope!(OtherEvent);
            if e.installation.is_none() {
                return Err(PayloadError {
                    event: event.to_owned(),
                    path: "installation".to_owned(),
                    message: "missing field `installation`".to_owned(),
                });
            }
            (e.action, e.installation, e.repository, vec![])
        }
        _ => {
            // Not ours to read: acknowledged and counted by the caller. The
            // body must still be JSON.
            let e = envelope!(OtherEvent);
            (e.action, e.installation, e.repository, vec![])
        }
    };
    let installation = installation.map(|i| InstallationId(i.id));
    let work = match (installation, repository, targets.is_empty()) {
        (_, _, true) => vec![],
        (Some(installation), Some(repository), false) => {
            let repo: RepoName =
                repository
                    .full_name
                    .parse()
                    .map_err(|e: crate::ids::IdError| PayloadError {
                        event: event.to_owned(),
                        path: "repository.full_name".to_owned(),
                        message: e.to_string(),
                    })?;
            targets
                .into_iter()
                .map(|target| Work {
                    installation,
                    repo: repo.clone(),
                    target,
                })
                .collect()
        }
        // Work without an installation or a repository cannot be done: an
        // App's deliveries always carry both, so this is a body that is not
        // what it claims.
        (None, _, false) => {
            return Err(PayloadError {
                event: event.to_owned(),
                path: "installation".to_owned(),
                message: "missing: an App delivery names its installation".to_owned(),
            });
        }
        (_, None, false) => {
            return Err(PayloadError {
                event: event.to_owned(),
                path: "repository".to_owned(),
                message: "missing".to_owned(),
            });
        }
    };
    let activity = match (pending_activity, work.first()) {
        (Some((pr, head, actor, what)), Some(w)) => Some(PrActivity {
            repo: w.repo.clone(),
            pr,
            head,
            actor,
            what,
        }),
        _ => None,
    };
    Ok(Parsed {
        settles: settles(event, action.as_deref()),
        action,
        installation,
        work,
        activity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SHA: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";

    fn repo() -> serde_json::Value {
        json!({ "id": 42, "full_name": "acme/app", "name": "app", "owner": { "login": "acme" } })
    }

    fn run(event: &str, body: serde_json::Value) -> Result<Parsed, PayloadError> {
        parse(event, body.to_string().as_bytes(), Some(AppId(99)))
    }

    /// The targets, without the heads they carry (asserted on their own).
    fn targets(p: &Parsed) -> Vec<Target> {
        p.work
            .iter()
            .map(|w| match &w.target {
                Target::Pr { number, .. } => Target::Pr {
                    number: *number,
                    head: None,
                },
                t => t.clone(),
            })
            .collect()
    }

    fn pr(n: u64) -> Target {
        Target::Pr {
            number: PrNumber(n),
            head: None,
        }
    }

    #[test]
    fn a_pull_request_delivery_carries_the_head_it_names() {
        let body = json!({ "action": "opened", "number": 7, "installation": { "id": 5 },
                           "repository": repo(), "pull_request": { "number": 7, "head": { "sha": SHA } } });
        let parsed = run("pull_request", body).unwrap();
        match &parsed.work[0].target {
            Target::Pr { number, head } => {
                assert_eq!(number.0, 7);
                assert_eq!(head.as_ref().map(|h| h.as_str()), Some(SHA));
            }
            t => panic!("{t:?}"),
        }
        // Stored and read back as it was; an item stored before heads were
        // carried still reads.
        let json = serde_json::to_string(&parsed.work[0].target).unwrap();
        assert!(json.contains(SHA), "{json}");
        let old: Target = serde_json::from_str(r#"{"kind":"pr","number":7}"#).unwrap();
        assert_eq!(old, pr(7));
    }

    #[test]
    fn a_stacked_pull_request_evaluates_itself_and_the_pull_requests_above_it() {
        let stack = json!({ "base": { "ref": "main", "sha": SHA }, "size": 3, "position": 2,
                            "id": 9, "number": 4 });
        let body = json!({ "action": "stacked", "number": 8, "installation": { "id": 5 },
                           "repository": repo(), "stack": stack,
                           "pull_request": { "number": 8, "head": { "sha": SHA }, "stack": stack } });
        let parsed = run("pull_request", body).unwrap();
        assert_eq!(
            targets(&parsed),
            vec![
                pr(8),
                Target::Stack {
                    number: 4,
                    above: 2
                }
            ]
        );
        // Merged or closed: only those above (the pull request is done).
        let body = json!({ "action": "closed", "number": 8, "installation": { "id": 5 },
                           "repository": repo(),
                           "pull_request": { "number": 8, "head": { "sha": SHA }, "stack": stack } });
        let parsed = run("pull_request", body).unwrap();
        assert_eq!(
            targets(&parsed),
            vec![
                pr(8),
                Target::Stack {
                    number: 4,
                    above: 2
                }
            ]
        );
        // A stack that does not say where names nothing above.
        let body = json!({ "action": "closed", "number": 8, "installation": { "id": 5 },
                           "repository": repo(),
                           "pull_request": { "number": 8, "head": { "sha": SHA },
                                             "stack": { "base": { "ref": "main" } } } });
        assert_eq!(targets(&run("pull_request", body).unwrap()), vec![pr(8)]);
    }

    #[test]
    fn who_pushed_or_labelled_which_head_is_read_beside_the_work() {
        let head = json!({ "sha": SHA });
        let body = |action: &str| {
            json!({ "action": action, "number": 7, "installation": { "id": 5 },
                    "repository": repo(), "pull_request": { "number": 7, "head": head },
                    "sender": { "login": "mallory", "type": "User" },
                    "label": { "name": "automerge" } })
        };
        let pushed = run("pull_request", body("synchronize"))
            .unwrap()
            .activity
            .unwrap();
        assert_eq!(pushed.what, Activity::Pushed);
        assert_eq!(pushed.actor.login, "mallory");
        assert!(!pushed.actor.bot);
        assert_eq!(pushed.head.as_str(), SHA);
        assert_eq!(pushed.repo.to_string(), "acme/app");
        let labelled = run("pull_request", body("labeled"))
            .unwrap()
            .activity
            .unwrap();
        assert_eq!(
            labelled.what,
            Activity::Labeled {
                label: "automerge".into()
            }
        );
        assert_eq!(run("pull_request", body("closed")).unwrap().activity, None);
    }

    #[test]
    fn pull_request_actions_that_matter() {
        for (action, changes, want) in [
            ("opened", json!(null), true),
            ("synchronize", json!(null), true),
            ("reopened", json!(null), true),
            ("ready_for_review", json!(null), true),
            ("labeled", json!(null), true),
            ("unlabeled", json!(null), true),
            ("enqueued", json!(null), true),
            ("dequeued", json!(null), true),
            ("edited", json!({ "title": { "from": "x" } }), false),
            (
                "edited",
                json!({ "base": { "ref": { "from": "develop" } } }),
                true,
            ),
            ("closed", json!(null), true),
            ("assigned", json!(null), false),
        ] {
            let p = run(
                "pull_request",
                json!({ "action": action, "number": 7, "changes": changes,
                        "installation": { "id": 5 }, "repository": repo(),
                        "pull_request": { "number": 7 } }),
            )
            .unwrap();
            let want = if want { vec![pr(7)] } else { vec![] };
            assert_eq!(targets(&p), want, "{action}");
        }
    }

    #[test]
    fn changes_to_what_branches_require_read_them_again() {
        let requirements = vec![Target::Requirements];
        for (event, body, want) in [
            (
                "branch_protection_rule",
                json!({ "action": "edited", "rule": { "name": "main" } }),
                requirements.clone(),
            ),
            (
                "branch_protection_rule",
                json!({ "action": "deleted", "rule": { "name": "main" } }),
                requirements.clone(),
            ),
            (
                "repository_ruleset",
                json!({ "action": "created", "repository_ruleset": { "id": 9 } }),
                requirements.clone(),
            ),
            (
                "repository",
                json!({ "action": "edited",
                        "changes": { "default_branch": { "from": "master" } } }),
                requirements.clone(),
            ),
            (
                "repository",
                json!({ "action": "edited", "changes": { "description": { "from": "" } } }),
                vec![],
            ),
            ("repository", json!({ "action": "archived" }), vec![]),
        ] {
            let mut body = body;
            body["installation"] = json!({ "id": 5 });
            body["repository"] = repo();
            let p = run(event, body.clone()).unwrap();
            assert_eq!(targets(&p), want, "{event} {body}");
        }
        // An organization's ruleset names no repository: nothing to do,
        // and not a malformed delivery.
        let org = run(
            "repository_ruleset",
            json!({ "action": "edited", "installation": { "id": 5 },
                    "organization": { "login": "acme" }, "repository_ruleset": { "id": 3 } }),
        )
        .unwrap();
        assert!(org.work.is_empty());
    }

    #[test]
    fn check_runs_name_their_prs_or_their_sha() {
        let with_prs = run(
            "check_run",
            json!({ "action": "completed", "installation": { "id": 5 }, "repository": repo(),
                    "check_run": { "head_sha": SHA, "app": { "id": 1 },
                                   "pull_requests": [
                                       { "number": 3, "base": { "repo": { "id": 42 } } },
                                       { "number": 9, "base": { "repo": { "id": 77 } } } ] } }),
        )
        .unwrap();
        assert_eq!(targets(&with_prs), vec![pr(3)]);
        assert_eq!(with_prs.work[0].repo.to_string(), "acme/app");
        assert_eq!(with_prs.work[0].installation, InstallationId(5));

        // A fork's PR: GitHub leaves the list empty.
        let fork = run(
            "check_suite",
            json!({ "action": "completed", "installation": { "id": 5 }, "repository": repo(),
                    "check_suite": { "head_sha": SHA, "app": { "id": 1 }, "pull_requests": [] } }),
        )
        .unwrap();
        assert_eq!(
            targets(&fork),
            vec![Target::Commit {
                sha: SHA.parse().unwrap()
            }]
        );
    }

    #[test]
    fn finished_checks_settle_and_what_people_do_does_not() {
        for (event, action) in [
            ("check_run", Some("completed")),
            ("check_suite", Some("completed")),
            ("status", None),
            ("deployment_status", Some("created")),
        ] {
            assert!(settles(event, action), "{event}.{action:?}");
        }
        for (event, action) in [
            ("check_run", Some("rerequested")),
            ("check_run", Some("requested_action")),
            ("check_suite", Some("requested")),
            ("pull_request", Some("opened")),
            ("pull_request", Some("synchronize")),
            ("pull_request", Some("labeled")),
            ("issue_comment", Some("created")),
            ("pull_request_review", Some("submitted")),
            ("push", None),
        ] {
            assert!(!settles(event, action), "{event}.{action:?}");
        }
        let parsed = run(
            "check_run",
            json!({ "action": "completed", "installation": { "id": 1 }, "repository": repo(),
                    "check_run": { "head_sha": SHA, "app": { "id": 1 }, "pull_requests": [] } }),
        )
        .unwrap();
        assert!(parsed.settles);
    }

    #[test]
    fn our_own_completed_check_does_not_loop() {
        let ours = run(
            "check_run",
            json!({ "action": "completed", "installation": { "id": 5 }, "repository": repo(),
                    "check_run": { "head_sha": SHA, "app": { "id": 99 }, "pull_requests": [] } }),
        )
        .unwrap();
        assert!(ours.work.is_empty());
        let rerun = run(
            "check_run",
            json!({ "action": "rerequested", "installation": { "id": 5 }, "repository": repo(),
                    "check_run": { "head_sha": SHA, "app": { "id": 99 },
                                   "pull_requests": [{ "number": 4 }] } }),
        )
        .unwrap();
        assert_eq!(targets(&rerun), vec![pr(4)]);
    }

    #[test]
    fn status_push_and_merge_group() {
        let status = run(
            "status",
            json!({ "sha": SHA, "state": "success", "installation": { "id": 5 }, "repository": repo() }),
        )
        .unwrap();
        assert_eq!(
            targets(&status),
            vec![Target::Commit {
                sha: SHA.parse().unwrap()
            }]
        );
        let push = run(
            "push",
            json!({ "ref": "refs/heads/release/1.0", "deleted": false,
                    "installation": { "id": 5 }, "repository": repo() }),
        )
        .unwrap();
        assert_eq!(
            targets(&push),
            vec![Target::BaseBranch {
                name: "release/1.0".into()
            }]
        );
        let tag = run(
            "push",
            json!({ "ref": "refs/tags/v1", "installation": { "id": 5 }, "repository": repo() }),
        )
        .unwrap();
        assert!(tag.work.is_empty());
        let mg = run(
            "merge_group",
            json!({ "action": "checks_requested", "installation": { "id": 5 }, "repository": repo(),
                    "merge_group": { "head_sha": SHA, "base_ref": "refs/heads/main" } }),
        )
        .unwrap();
        assert_eq!(
            targets(&mg),
            vec![Target::MergeGroup {
                head_sha: SHA.parse().unwrap(),
                base_ref: "main".into()
            }]
        );
    }

    #[test]
    fn malformed_bodies_name_the_path() {
        let err = run(
            "check_run",
            json!({ "action": "completed", "installation": { "id": 5 }, "repository": repo(),
                    "check_run": { "head_sha": 12 } }),
        )
        .unwrap_err();
        assert_eq!(err.path, "check_run.head_sha");
        let err = parse("pull_request", b"{not json", None).unwrap_err();
        assert!(err.message.contains("key must be a string"), "{err}");
        let err = run(
            "status",
            json!({ "sha": "zzz", "state": "success", "installation": { "id": 5 }, "repository": repo() }),
        )
        .unwrap_err();
        assert_eq!(err.path, "sha");
        // An envelope field of the wrong shape is named too, in one pass.
        let err = run(
            "pull_request",
            json!({ "action": "opened", "number": 7, "installation": { "id": "five" },
                    "repository": repo() }),
        )
        .unwrap_err();
        assert_eq!(err.path, "installation.id");
        let err = run("installation", json!({ "action": "created" })).unwrap_err();
        assert_eq!(err.path, "installation");
        assert!(
            run(
                "installation",
                json!({ "action": "created", "installation": { "id": 5 } })
            )
            .is_ok()
        );
    }

    #[test]
    fn a_body_is_exactly_one_json_value() {
        let star = br#"{"action":"created"}"#.to_vec();
        let pr = json!({ "action": "opened", "number": 7, "installation": { "id": 5 },
                         "repository": repo() })
        .to_string()
        .into_bytes();
        for (event, one) in [("star", &star), ("pull_request", &pr)] {
            assert!(parse(event, one, None).is_ok(), "{event}");
            // JSON allows whitespace around the value.
            let spaced = [b" ".as_slice(), one, b"\r\n"].concat();
            assert!(parse(event, &spaced, None).is_ok(), "{event}");
            for trailing in [&b"garbage"[..], b"\0", one, b" 1"] {
                let body = [one.as_slice(), trailing].concat();
                let err = parse(event, &body, None).unwrap_err();
                assert!(
                    err.message.contains("bytes after the JSON value"),
                    "{event} + {trailing:?}: {err}"
                );
            }
        }
    }

    #[test]
    fn event_names_are_lower_case_letters_digits_and_underscores() {
        for name in ["pull_request", "projects_v2_item", "projects_v2", "ping"] {
            assert!(valid_event_name(name), "{name}");
        }
        for name in [
            "",
            "Pull-Request",
            "pull request",
            "pull_request\n",
            "événement",
        ] {
            assert!(!valid_event_name(name), "{name:?}");
        }
        assert!(valid_event_name(&"a".repeat(MAX_EVENT_NAME)));
        assert!(!valid_event_name(&"a".repeat(MAX_EVENT_NAME + 1)));
    }

    #[test]
    fn unknown_events_are_parsed_as_json_only() {
        let p = run("star", json!({ "action": "created", "repository": repo() })).unwrap();
        assert!(p.work.is_empty());
        assert!(parse("star", b"[1,", None).is_err());
    }

    /// Only what seamguard reads, as an Enterprise Server version or a
    /// trimmed redelivery may send it.
    fn minimal(event: &str) -> serde_json::Value {
        let envelope =
            json!({ "installation": { "id": 5 }, "repository": { "full_name": "acme/app" } });
        let mut body = match event {
            "pull_request" => json!({ "action": "opened", "number": 7 }),
            "pull_request_review" => {
                json!({ "action": "submitted", "pull_request": { "number": 7 } })
            }
            "pull_request_review_thread" => {
                json!({ "action": "resolved", "pull_request": { "number": 7 } })
            }
            "deployment_status" => json!({ "action": "created", "deployment": { "sha": SHA } }),
            "check_run" => json!({ "action": "completed", "check_run": { "head_sha": SHA } }),
            "check_suite" => json!({ "action": "completed", "check_suite": { "head_sha": SHA } }),
            "status" => json!({ "sha": SHA }),
            "push" => json!({ "ref": "refs/heads/main" }),
            "merge_group" => json!({ "action": "checks_requested",
                                     "merge_group": { "head_sha": SHA, "base_ref": "refs/heads/main" } }),
            _ => unreachable!("{event}"),
        };
        body.as_object_mut()
            .unwrap()
            .extend(envelope.as_object().unwrap().clone());
        body
    }

    /// Shaped like GitHub's deliveries (`fixtures/github/`'s examples),
    /// with `null` wherever GitHub may leave a value out and fields
    /// seamguard has never seen.
    fn null_laden(event: &str) -> serde_json::Value {
        let repository = json!({ "id": null, "full_name": "acme/app", "node_id": null, "owner": null,
                                 "html_url": "", "default_branch": null, "custom_properties": {} });
        let installation = json!({ "id": 5, "node_id": null, "account": null });
        let pull = json!({ "number": 7, "url": "", "base": { "ref": "main", "repo": null },
                           "head": { "ref": "feature", "repo": null }, "user": null, "body": null,
                           "milestone": null, "auto_merge": null, "labels": null });
        let check = json!({ "id": null, "head_sha": SHA, "app": null, "pull_requests": null,
                            "conclusion": null, "check_suite": null, "output": null,
                            "details_url": "", "started_at": null });
        let mut body = match event {
            "pull_request" => {
                json!({ "action": "opened", "number": 7, "changes": null, "pull_request": pull })
            }
            "pull_request_review" => {
                json!({ "action": "submitted", "review": null, "pull_request": pull })
            }
            "pull_request_review_thread" => {
                json!({ "action": "resolved", "thread": null, "pull_request": pull })
            }
            "deployment_status" => json!({ "action": "created",
                                           "deployment_status": { "state": "success", "environment": null },
                                           "deployment": { "sha": SHA, "environment": null, "ref": null },
                                           "check_run": null, "workflow_run": null }),
            "check_run" => {
                json!({ "action": "completed", "check_run": check, "requested_action": null })
            }
            "check_suite" => json!({ "action": "completed", "check_suite": check }),
            "status" => json!({ "sha": SHA, "state": null, "description": null, "target_url": null,
                                "commit": { "author": null, "committer": null }, "branches": null }),
            "push" => {
                json!({ "ref": "refs/heads/main", "deleted": null, "before": null, "after": null,
                              "commits": null, "head_commit": null, "pusher": null, "base_ref": null })
            }
            "merge_group" => json!({ "action": "checks_requested",
                                     "merge_group": { "head_sha": SHA, "base_ref": "refs/heads/main",
                                                      "head_commit": null, "base_sha": null } }),
            _ => unreachable!("{event}"),
        };
        let extra = json!({ "installation": installation, "repository": repository,
                            "sender": null, "organization": null, "enterprise": null,
                            "a_field_from_the_future": [1, { "x": null }] });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    }

    #[test]
    fn minimal_and_null_laden_deliveries_cause_the_same_work() {
        let commit = Target::Commit {
            sha: SHA.parse().unwrap(),
        };
        for (event, want) in [
            ("pull_request", vec![pr(7)]),
            ("pull_request_review", vec![pr(7)]),
            ("pull_request_review_thread", vec![pr(7)]),
            ("deployment_status", vec![commit.clone()]),
            ("check_run", vec![commit.clone()]),
            ("check_suite", vec![commit.clone()]),
            ("status", vec![commit.clone()]),
            (
                "push",
                vec![Target::BaseBranch {
                    name: "main".into(),
                }],
            ),
            (
                "merge_group",
                vec![Target::MergeGroup {
                    head_sha: SHA.parse().unwrap(),
                    base_ref: "main".into(),
                }],
            ),
        ] {
            for body in [minimal(event), null_laden(event)] {
                let parsed = run(event, body.clone()).unwrap_or_else(|e| panic!("{e}\n{body:#}"));
                assert_eq!(targets(&parsed), want, "{event}: {body:#}");
                assert_eq!(parsed.installation, Some(InstallationId(5)), "{event}");
                assert!(parsed.work.iter().all(|w| w.repo.to_string() == "acme/app"));
            }
        }
    }

    #[test]
    fn a_check_from_an_app_without_an_id_is_not_taken_for_ours() {
        let body = json!({ "action": "completed", "installation": { "id": 5 }, "repository": repo(),
                           "check_run": { "head_sha": SHA, "app": { "id": null, "slug": null },
                                          "pull_requests": [{ "number": 3, "base": { "repo": { "id": null } } }] } });
        let parsed = run("check_run", body).unwrap();
        assert_eq!(targets(&parsed), vec![pr(3)]);
    }

    #[test]
    fn a_delivery_missing_what_seamguard_needs_names_it() {
        let mut body = minimal("check_run");
        body["check_run"]
            .as_object_mut()
            .unwrap()
            .remove("head_sha");
        let err = run("check_run", body).unwrap_err();
        assert_eq!(err.path, "check_run");
        assert!(err.message.contains("head_sha"), "{err}");
    }

    #[test]
    fn commands_are_the_first_words_of_a_line() {
        assert_eq!(command_in("@seamguard recheck"), Some(Command::Recheck));
        assert_eq!(
            command_in("thanks\n  @SeamGuard Explain please"),
            Some(Command::Explain)
        );
        assert_eq!(command_in("ask @seamguard recheck"), None);
        assert_eq!(command_in("@seamguard merge"), None);
        assert_eq!(command_in("@seamguardian recheck"), None);
    }

    #[test]
    fn issue_comments_become_commands_unless_from_a_bot_or_on_an_issue() {
        let body = |login: &str, kind: &str, pr: bool| {
            let mut issue = json!({ "number": 7 });
            if pr {
                issue["pull_request"] =
                    json!({ "url": "https://api.github.com/repos/acme/app/pulls/7" });
            }
            json!({
                "action": "created",
                "installation": { "id": 1 },
                "repository": repo(),
                "issue": issue,
                "comment": { "id": 55, "body": "@seamguard recheck", "user": { "login": login, "type": kind } }
            })
        };
        let p = run("issue_comment", body("alice", "User", true)).unwrap();
        assert_eq!(
            targets(&p),
            vec![Target::Command {
                number: PrNumber(7),
                command: Command::Recheck,
                author: "alice".into(),
                comment: Some(55),
            }]
        );
        assert!(
            run("issue_comment", body("seamguard[bot]", "Bot", true))
                .unwrap()
                .work
                .is_empty()
        );
        assert!(
            run("issue_comment", body("alice", "User", false))
                .unwrap()
                .work
                .is_empty()
        );
    }
}
