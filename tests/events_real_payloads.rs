//! GitHub's own webhook examples through `events::parse`: every payload
//! GitHub publishes for github.com (`fixtures/github/webhook-examples.json.gz`,
//! 58 events, 329 examples) either parses into the work the event's rules
//! say, or is refused with the one error a payload can expect — an App
//! delivery that causes work must name its installation, and the examples
//! of repository webhooks do not.
//!
//! The expectations below restate the rules from the raw JSON (which
//! actions matter, which pull requests a check names, which branch a push
//! moves), so a change in the parser that real payloads would notice fails
//! here, not in production.

mod support;

use serde_json::{Value, json};

use seamguard::events;
use seamguard::ids::AppId;

const EXAMPLES: &str = "fixtures/github/webhook-examples.json.gz";

/// An App id no example's check belongs to.
const OTHER_APP: u64 = 4242;

/// Pull request actions that ask for an evaluation.
const PR_ACTIONS: &[&str] = &[
    "opened",
    "reopened",
    "synchronize",
    "ready_for_review",
    "labeled",
    "unlabeled",
    "enqueued",
    "dequeued",
    "auto_merge_enabled",
    "closed",
];

/// What a delivery should cause.
#[derive(Debug, PartialEq)]
enum Expect {
    /// These targets (as the store keeps them, JSON), in this repository
    /// and installation.
    Work(Vec<Value>),
    /// Parsed, no work.
    Nothing,
    /// Refused: work without an installation is not an App's delivery.
    NeedsInstallation,
}

fn pr(n: &Value) -> Value {
    json!({ "kind": "pr", "number": n })
}

/// The pull requests a check names, kept to this repository's (a fork's
/// share the head); the head's SHA when it names none.
fn check_targets(check: &Value, repository: &Value) -> Vec<Value> {
    let repo_id = repository["id"].as_u64();
    let prs: Vec<Value> = check["pull_requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| match (p["base"]["repo"]["id"].as_u64(), repo_id) {
            (Some(base), Some(id)) => base == id,
            _ => true,
        })
        .map(|p| pr(&p["number"]))
        .collect();
    if prs.is_empty() {
        vec![json!({ "kind": "commit", "sha": check["head_sha"] })]
    } else {
        prs
    }
}

/// The rules, from the raw payload; `ours` is the App seamguard runs as.
fn expect(event: &str, e: &Value, ours: u64) -> Expect {
    let action = e["action"].as_str().unwrap_or_default();
    let targets: Vec<Value> = match event {
        "pull_request" => {
            let retargeted = action == "edited" && !e["changes"]["base"].is_null();
            if PR_ACTIONS.contains(&action) || retargeted {
                // The pull request's own deliveries carry the head they name.
                let mut target = pr(&e["number"]);
                if let Some(head) = e["pull_request"]["head"]["sha"].as_str() {
                    target["head"] = json!(head);
                }
                vec![target]
            } else {
                vec![]
            }
        }
        "pull_request_review" if matches!(action, "submitted" | "dismissed") => {
            vec![pr(&e["pull_request"]["number"])]
        }
        "pull_request_review_thread" if matches!(action, "resolved" | "unresolved") => {
            vec![pr(&e["pull_request"]["number"])]
        }
        "deployment_status" if action == "created" => {
            vec![json!({ "kind": "commit", "sha": e["deployment"]["sha"] })]
        }
        "check_run" | "check_suite" => {
            let check = &e[event];
            let mine = check["app"]["id"].as_u64() == Some(ours);
            let relevant = match action {
                "completed" => !mine,
                "rerequested" | "requested" => mine,
                // The "Re-check" button: only on seamguard's own run.
                "requested_action" => {
                    assert!(
                        !(mine && e["requested_action"]["identifier"] == "recheck"),
                        "no published example presses seamguard's button"
                    );
                    false
                }
                _ => false,
            };
            if relevant {
                check_targets(check, &e["repository"])
            } else {
                vec![]
            }
        }
        "status" => vec![json!({ "kind": "commit", "sha": e["sha"] })],
        "push" => match e["ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("refs/heads/"))
        {
            Some(branch) if e["deleted"] != json!(true) => {
                vec![json!({ "kind": "base_branch", "name": branch })]
            }
            _ => vec![],
        },
        "merge_group" if action == "checks_requested" => {
            let base = e["merge_group"]["base_ref"].as_str().unwrap_or_default();
            vec![json!({
                "kind": "merge_group",
                "head_sha": e["merge_group"]["head_sha"],
                "base_ref": base.trim_start_matches("refs/heads/"),
            })]
        }
        "issue_comment" => {
            let body = e["comment"]["body"].as_str().unwrap_or_default();
            assert!(
                events::command_in(body).is_none(),
                "no published comment commands seamguard"
            );
            vec![]
        }
        "branch_protection_rule" | "repository_ruleset"
            if matches!(action, "created" | "edited" | "deleted")
                && e["repository"].is_object() =>
        {
            vec![json!({ "kind": "requirements" })]
        }
        "repository" if action == "edited" && !e["changes"]["default_branch"].is_null() => {
            vec![json!({ "kind": "requirements" })]
        }
        _ => vec![],
    };
    match (targets.is_empty(), e["installation"]["id"].is_u64()) {
        (true, _) => Expect::Nothing,
        (false, true) => Expect::Work(targets),
        (false, false) => Expect::NeedsInstallation,
    }
}

/// What the parser made of it, in the same terms.
fn outcome(event: &str, e: &Value, ours: u64) -> Expect {
    let body = serde_json::to_vec(e).expect("an example serializes");
    match events::parse(event, &body, Some(AppId(ours))) {
        Ok(parsed) if parsed.work.is_empty() => Expect::Nothing,
        Ok(parsed) => {
            for work in &parsed.work {
                assert_eq!(
                    work.repo.to_string(),
                    e["repository"]["full_name"].as_str().unwrap_or_default(),
                    "{event}: the work is in the delivery's repository"
                );
                assert_eq!(
                    Some(work.installation.0),
                    e["installation"]["id"].as_u64(),
                    "{event}: the work is the delivery's installation's"
                );
            }
            Expect::Work(
                parsed
                    .work
                    .iter()
                    .map(|w| serde_json::to_value(&w.target).expect("a target serializes"))
                    .collect(),
            )
        }
        Err(e) if e.path == "installation" => Expect::NeedsInstallation,
        Err(e) => panic!("refused for another reason than its installation: {e}"),
    }
}

#[test]
fn every_published_webhook_example_parses_into_the_work_its_rules_say() {
    let catalogue = support::data::gzipped_json(EXAMPLES);
    let events = catalogue.as_array().expect("a list of events");
    let (mut examples, mut with_work, mut refused) = (0, 0, 0);
    let mut failures = Vec::new();
    for event in events {
        let name = event["name"].as_str().expect("an event's name");
        for (i, example) in event["examples"]
            .as_array()
            .expect("examples")
            .iter()
            .enumerate()
        {
            examples += 1;
            // As another App's delivery, and (for a check) as the check's
            // own App: its own completed run must not loop, a re-request
            // of it must evaluate.
            let mut as_apps = vec![OTHER_APP];
            if let Some(id) = example[name]["app"]["id"].as_u64() {
                as_apps.push(id);
            }
            for ours in as_apps {
                let want = expect(name, example, ours);
                let got = outcome(name, example, ours);
                match &got {
                    Expect::Work(_) => with_work += 1,
                    Expect::NeedsInstallation => refused += 1,
                    Expect::Nothing => {}
                }
                if got != want {
                    failures.push(format!(
                        "{name} example {i} ({}) as App {ours}: expected {want:?}, parsed {got:?}",
                        example["action"].as_str().unwrap_or("no action")
                    ));
                }
            }
        }
    }
    eprintln!(
        "{examples} examples: {with_work} cause work, {refused} refused for want of an installation"
    );
    assert!(
        failures.is_empty(),
        "{} of {examples} examples disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The catalogue is the whole of GitHub's, and enough of it matters to
    // seamguard that the rules above were really exercised.
    assert!(examples >= 300, "{examples} examples");
    assert!(with_work >= 25, "{with_work} examples cause work");
    assert!(refused >= 10, "{refused} examples refused");
}

#[test]
fn the_refusal_of_a_delivery_without_its_installation_names_it() {
    let catalogue = support::data::gzipped_json(EXAMPLES);
    let status = catalogue
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == "status")
        .expect("status examples");
    let bare = status["examples"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e.get("installation").is_none())
        .expect("a repository webhook's status example");
    let body = serde_json::to_vec(bare).unwrap();
    let err = events::parse("status", &body, Some(AppId(OTHER_APP))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "status payload does not parse at `installation`: missing: an App delivery names \
         its installation"
    );
}
