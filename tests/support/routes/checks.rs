//! Checks, statuses and what the branch requires of them.
//!
//! Check runs are validated the way GitHub validates them (a name and a
//! known head SHA, known status and conclusion values, `output.title` and
//! `output.summary` whenever there is an output, at most 50 annotations in
//! one request) and annotations *append* across updates, so a test can see
//! every annotation seamguard ever sent, in order. The run belongs to the
//! App that holds the token. `filter=latest` keeps the newest run per name
//! and App.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Answer, Ctx, paged, paginate};
use crate::support::json as gh;
use crate::support::world::{Annotation, CheckRun, Output, Protection, Repo, RulesetSource, World};

const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

/// GitHub accepts at most 50 annotations per create or update request.
pub const MAX_ANNOTATIONS_PER_REQUEST: usize = 50;

const STATUSES: &[&str] = &[
    "queued",
    "in_progress",
    "completed",
    "waiting",
    "requested",
    "pending",
];
const CONCLUSIONS: &[&str] = &[
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
];
const LEVELS: &[&str] = &["notice", "warning", "failure"];

fn invalid_request(why: &str) -> Answer {
    Answer::error(422, &format!("Invalid request.\n\n{why}"))
}

fn time_field(body: &Value, key: &str) -> Result<Option<DateTime<Utc>>, Answer> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| invalid_request(&format!("{key} is not a valid ISO 8601 timestamp."))),
        Some(_) => Err(invalid_request(&format!(
            "For '{key}', the value is not a string."
        ))),
    }
}

/// The parts of a create or update body, validated.
struct RunPatch {
    name: Option<String>,
    status: Option<String>,
    conclusion: Option<String>,
    output: Option<Output>,
    annotations: Vec<Annotation>,
    external_id: Option<String>,
    details_url: Option<String>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

/// GitHub's limits on a check run's `actions`: at most 3, each with a
/// label of at most 20 characters, a description of at most 40 and an
/// identifier of at most 20.
fn check_actions(body: &Value) -> Result<(), Answer> {
    let Some(actions) = body.get("actions") else {
        return Ok(());
    };
    let Some(actions) = actions.as_array() else {
        return Err(invalid_request("For 'actions', the value is not an array."));
    };
    if actions.len() > 3 {
        return Err(invalid_request("Only 3 actions are allowed per request."));
    }
    for a in actions {
        for (key, max) in [("label", 20), ("description", 40), ("identifier", 20)] {
            let Some(v) = a.get(key).and_then(Value::as_str) else {
                return Err(invalid_request(&format!(
                    "\"{key}\" is required in \"actions\"."
                )));
            };
            if v.chars().count() > max {
                return Err(invalid_request(&format!(
                    "For 'actions/{key}', {v:?} is longer than {max} characters."
                )));
            }
        }
    }
    Ok(())
}

fn read_patch(body: &Value) -> Result<RunPatch, Answer> {
    let text = |key: &str| -> Result<Option<String>, Answer> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid_request(&format!(
                "For '{key}', the value is not a string."
            ))),
        }
    };
    let status = text("status")?;
    if let Some(s) = &status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(invalid_request(&format!(
            "For 'status', {s:?} is not a valid value."
        )));
    }
    check_actions(body)?;
    let conclusion = text("conclusion")?;
    if let Some(c) = &conclusion
        && !CONCLUSIONS.contains(&c.as_str())
    {
        return Err(invalid_request(&format!(
            "For 'conclusion', {c:?} is not a valid value."
        )));
    }
    let mut output = None;
    let mut annotations = Vec::new();
    match body.get("output") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            let title = o.get("title").and_then(Value::as_str);
            let summary = o.get("summary").and_then(Value::as_str);
            let (Some(title), Some(summary)) = (title, summary) else {
                return Err(invalid_request(
                    "\"title\" and \"summary\" are required in \"output\".",
                ));
            };
            output = Some(Output {
                title: title.to_owned(),
                summary: summary.to_owned(),
                text: o.get("text").and_then(Value::as_str).map(str::to_owned),
            });
            if let Some(list) = o.get("annotations") {
                let Some(list) = list.as_array() else {
                    return Err(invalid_request(
                        "For 'annotations', the value is not an array.",
                    ));
                };
                if list.len() > MAX_ANNOTATIONS_PER_REQUEST {
                    return Err(invalid_request(&format!(
                        "Only {MAX_ANNOTATIONS_PER_REQUEST} annotations are allowed per request, got {}.",
                        list.len()
                    )));
                }
                for a in list {
                    annotations.push(read_annotation(a)?);
                }
            }
        }
        Some(_) => return Err(invalid_request("For 'output', the value is not an object.")),
    }
    Ok(RunPatch {
        name: text("name")?,
        status,
        conclusion,
        output,
        annotations,
        external_id: text("external_id")?,
        details_url: text("details_url")?,
        started_at: time_field(body, "started_at")?,
        completed_at: time_field(body, "completed_at")?,
    })
}

fn read_annotation(a: &Value) -> Result<Annotation, Answer> {
    let s = |k: &str| a.get(k).and_then(Value::as_str);
    let n = |k: &str| a.get(k).and_then(Value::as_u64);
    let (Some(path), Some(start), Some(end), Some(level), Some(message)) = (
        s("path"),
        n("start_line"),
        n("end_line"),
        s("annotation_level"),
        s("message"),
    ) else {
        return Err(invalid_request(
            "Each annotation needs path, start_line, end_line, annotation_level and message.",
        ));
    };
    if !LEVELS.contains(&level) {
        return Err(invalid_request(&format!(
            "For 'annotation_level', {level:?} is not a valid value."
        )));
    }
    if start == 0 || end < start {
        return Err(invalid_request(
            "start_line must be at least 1 and at most end_line.",
        ));
    }
    Ok(Annotation {
        path: path.to_owned(),
        start_line: start,
        end_line: end,
        annotation_level: level.to_owned(),
        title: s("title").map(str::to_owned),
        message: message.to_owned(),
        raw: a.clone(),
    })
}

/// The check suite a run of `app` on `sha` belongs to (one per pair).
fn suite_id(world: &mut World, key: &str, sha: &str, app: u64) -> u64 {
    let existing = world
        .repo(key)
        .check_runs
        .iter()
        .find(|r| r.head_sha == sha && r.app_id == app)
        .map(|r| r.check_suite_id);
    existing.unwrap_or_else(|| world.next_id())
}

/// Applies a validated patch to a run (conclusion implies `completed`).
fn apply(run: &mut CheckRun, patch: RunPatch) {
    let now = Utc::now();
    if let Some(name) = patch.name {
        run.name = name;
    }
    if let Some(status) = patch.status {
        run.status = status;
    }
    if patch.conclusion.is_some() {
        run.conclusion = patch.conclusion;
        run.status = "completed".to_owned();
    }
    if let Some(output) = patch.output {
        run.output = Some(output);
    }
    run.annotations.extend(patch.annotations);
    if patch.external_id.is_some() {
        run.external_id = patch.external_id;
    }
    if patch.details_url.is_some() {
        run.details_url = patch.details_url;
    }
    if let Some(t) = patch.started_at {
        run.started_at = Some(t);
    }
    if run.status == "completed" {
        run.completed_at = patch.completed_at.or(run.completed_at).or(Some(now));
    }
}

/// `POST /repos/{owner}/{repo}/check-runs` → 201.
pub fn create_run(world: &mut World, ctx: &Ctx) -> Answer {
    let body = ctx.body.clone().unwrap_or(Value::Null);
    let patch = match read_patch(&body) {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let Some(name) = patch.name.clone().filter(|n| !n.is_empty()) else {
        return invalid_request("\"name\" wasn't supplied.");
    };
    let Some(head_sha) = body.get("head_sha").and_then(Value::as_str) else {
        return invalid_request("\"head_sha\" wasn't supplied.");
    };
    let key = ctx.repo_key();
    let lower = head_sha.to_ascii_lowercase();
    if !world.repo(&key).commits.contains_key(&lower) {
        return Answer::error(422, &format!("No commit found for SHA: {head_sha}"));
    }
    let head_sha = lower;
    if patch.status.as_deref() == Some("completed") && patch.conclusion.is_none() {
        return invalid_request("\"conclusion\" is required when \"status\" is \"completed\".");
    }
    let app = world.app_id;
    let slug = world.app_slug.clone();
    let check_suite_id = suite_id(world, &key, &head_sha, app);
    let id = world.next_id();
    let mut run = CheckRun {
        id,
        name,
        head_sha,
        status: "queued".to_owned(),
        conclusion: None,
        app_id: app,
        app_slug: slug,
        external_id: None,
        details_url: None,
        output: None,
        annotations: Vec::new(),
        started_at: Some(Utc::now()),
        completed_at: None,
        check_suite_id,
        updates: 0,
    };
    apply(&mut run, patch);
    let repo = world.repo_mut(&key);
    repo.check_runs.push(run);
    let repo = world.repo(&key);
    let run = repo.check_runs.last().expect("just pushed");
    Answer::json(201, gh::check_run(world, repo, run))
}

fn run_id(ctx: &Ctx) -> Option<u64> {
    ctx.param("id").parse().ok()
}

/// `GET /repos/{owner}/{repo}/check-runs/{id}`.
pub fn get_run(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    match run_id(ctx).and_then(|id| repo.check_runs.iter().find(|r| r.id == id)) {
        Some(run) => Answer::json(200, gh::check_run(world, repo, run)),
        None => Answer::not_found(),
    }
}

/// `PATCH /repos/{owner}/{repo}/check-runs/{id}`: annotations append.
pub fn update_run(world: &mut World, ctx: &Ctx) -> Answer {
    let key = ctx.repo_key();
    let Some(id) = run_id(ctx) else {
        return Answer::not_found();
    };
    let body = ctx.body.clone().unwrap_or(Value::Null);
    let patch = match read_patch(&body) {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    if patch.status.as_deref() == Some("completed") && patch.conclusion.is_none() {
        let current = world.repo(&key).check_runs.iter().find(|r| r.id == id);
        if current.is_some_and(|r| r.conclusion.is_none()) {
            return invalid_request("\"conclusion\" is required when \"status\" is \"completed\".");
        }
    }
    let app = world.app_id;
    let repo = world.repo_mut(&key);
    let Some(run) = repo.check_runs.iter_mut().find(|r| r.id == id) else {
        return Answer::not_found();
    };
    if run.app_id != app {
        return Answer::error(
            403,
            &format!(
                "Invalid app_id `{app}` - check run can only be modified by the GitHub App that created it."
            ),
        );
    }
    apply(run, patch);
    run.updates += 1;
    let repo = world.repo(&key);
    let run = repo.check_runs.iter().find(|r| r.id == id).expect("exists");
    Answer::json(200, gh::check_run(world, repo, run))
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/check-runs`.
pub fn list_runs(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let Some(sha) = repo.resolve(ctx.param("ref")) else {
        return Answer::error(
            422,
            &format!("No commit found for SHA: {}", ctx.param("ref")),
        );
    };
    let runs: Vec<&CheckRun> = match ctx.q("filter").unwrap_or("latest") {
        "all" => repo
            .check_runs
            .iter()
            .rev()
            .filter(|r| r.head_sha == sha)
            .collect(),
        _ => repo.latest_check_runs(&sha),
    };
    let runs: Vec<Value> = runs
        .into_iter()
        .filter(|r| ctx.q("check_name").is_none_or(|n| r.name == n))
        .filter(|r| ctx.q("status").is_none_or(|s| r.status == s))
        .filter(|r| ctx.q("app_id").is_none_or(|a| r.app_id.to_string() == a))
        .map(|r| gh::check_run(world, repo, r))
        .collect();
    let total = runs.len();
    let (page, link) = paginate(ctx, &runs, DEFAULT_PER_PAGE, MAX_PER_PAGE);
    paged(
        200,
        json!({ "total_count": total, "check_runs": page }),
        link,
    )
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/status`: the latest status per
/// context and their combined state.
pub fn combined_status(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let Some(sha) = repo.resolve(ctx.param("ref")) else {
        return Answer::error(
            422,
            &format!("No commit found for SHA: {}", ctx.param("ref")),
        );
    };
    let latest = repo.latest_statuses(&sha);
    let state = if latest
        .iter()
        .any(|s| matches!(s.state.as_str(), "failure" | "error"))
    {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let statuses: Vec<Value> = latest.iter().map(|s| gh::status(world, repo, s)).collect();
    let total = statuses.len();
    let (page, link) = paginate(ctx, &statuses, DEFAULT_PER_PAGE, MAX_PER_PAGE);
    let full = repo.full_name();
    paged(
        200,
        json!({
            "state": state,
            "statuses": page,
            "sha": sha,
            "total_count": total,
            "repository": gh::repo(world, repo),
            "commit_url": format!("{}/repos/{full}/commits/{sha}", world.api_url),
            "url": format!("{}/repos/{full}/commits/{sha}/status", world.api_url)
        }),
        link,
    )
}

/// `GET /repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks`.
pub fn protection_checks(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let branch = ctx.param("branch");
    if !repo.branches.contains_key(branch) {
        return Answer::error(404, "Branch not found");
    }
    let u = format!(
        "{}/repos/{}/branches/{}/protection/required_status_checks",
        world.api_url,
        repo.full_name(),
        gh::url_segment(branch)
    );
    if repo.unreadable_protection.contains(branch) {
        return Answer::error(403, "Resource not accessible by integration");
    }
    match repo.protection.get(branch) {
        None => Answer::error(404, "Branch not protected"),
        Some(Protection::Forbidden) => Answer::error(403, "Resource not accessible by integration"),
        Some(Protection::NoChecks) => Answer::error(404, "Required status checks not enabled"),
        Some(Protection::Checks {
            contexts,
            checks,
            strict,
        }) => {
            let mut all_contexts = contexts.clone();
            let mut all_checks: Vec<Value> = contexts
                .iter()
                .map(|c| json!({ "context": c, "app_id": null }))
                .collect();
            for c in checks {
                if !all_contexts.contains(&c.context) {
                    all_contexts.push(c.context.clone());
                }
                all_checks.push(json!({ "context": c.context, "app_id": c.app_id }));
            }
            Answer::json(
                200,
                json!({
                    "url": u,
                    "strict": strict,
                    "contexts": all_contexts,
                    "contexts_url": format!("{u}/contexts"),
                    "checks": all_checks
                }),
            )
        }
    }
}

fn rule_source(repo: &Repo, source: RulesetSource) -> (&'static str, String) {
    match source {
        RulesetSource::Repository => ("Repository", repo.full_name()),
        RulesetSource::Organization => ("Organization", repo.owner.clone()),
    }
}

/// `GET /repos/{owner}/{repo}/rules/branches/{branch}`: the rules of every
/// active ruleset targeting the branch. Each ruleset also contributes a
/// `deletion` rule, as real rulesets carry rules of other types.
pub fn branch_rules(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let branch = ctx.param("branch");
    let mut rules = Vec::new();
    for set in repo.rulesets_for(branch) {
        let (source_type, source) = rule_source(repo, set.source);
        rules.push(json!({
            "type": "deletion",
            "ruleset_source_type": source_type,
            "ruleset_source": source,
            "ruleset_id": set.id
        }));
        if !set.required.is_empty() {
            let checks: Vec<Value> = set
                .required
                .iter()
                .map(|c| match c.app_id {
                    Some(id) => json!({ "context": c.context, "integration_id": id }),
                    None => json!({ "context": c.context }),
                })
                .collect();
            rules.push(json!({
                "type": "required_status_checks",
                "ruleset_source_type": source_type,
                "ruleset_source": source,
                "ruleset_id": set.id,
                "parameters": {
                    "do_not_enforce_on_create": false,
                    "required_status_checks": checks,
                    "strict_required_status_checks_policy": set.strict
                }
            }));
        }
        if set.merge_queue {
            rules.push(json!({
                "type": "merge_queue",
                "ruleset_source_type": source_type,
                "ruleset_source": source,
                "ruleset_id": set.id,
                "parameters": {
                    "check_response_timeout_minutes": 60,
                    "grouping_strategy": "ALLGREEN",
                    "max_entries_to_build": 5,
                    "max_entries_to_merge": 5,
                    "merge_method": "SQUASH",
                    "min_entries_to_merge": 1,
                    "min_entries_to_merge_wait_minutes": 5
                }
            }));
        }
        for (kind, parameters) in &set.rules {
            let mut rule = json!({
                "type": kind,
                "ruleset_source_type": source_type,
                "ruleset_source": source,
                "ruleset_id": set.id
            });
            if !parameters.is_null() {
                rule["parameters"] = parameters.clone();
            }
            rules.push(rule);
        }
    }
    let (page, link) = paginate(ctx, &rules, DEFAULT_PER_PAGE, MAX_PER_PAGE);
    paged(200, Value::Array(page), link)
}
