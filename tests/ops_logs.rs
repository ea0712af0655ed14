//! What `LOG_FORMAT=json` gives a log pipeline: the real binary, two pull
//! requests (one clean and opted in, one with conflict markers), and every
//! line it wrote parsed as JSON. Each line of a job carries the
//! installation id at the top level, and the decision and the merge answer
//! are logged as fields with identifier values, not `Debug` text.

mod support;

use std::time::Duration;

use serde_json::{Map, Value};
use support::FakeGitHub;
use support::binary::{Process, env};
use support::flows::{WAIT, completed_run, feature_pr, merged};

/// Every line of `log`, each parsed as one JSON object.
fn json_lines(log: &str) -> Vec<Map<String, Value>> {
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => map,
            other => panic!("not a JSON object: {other:?}\n  line: {line}"),
        })
        .collect()
}

fn text<'a>(line: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    line.get(field).and_then(Value::as_str)
}

/// The one line with `message` == `msg` whose `pr` is `pr`.
fn line_of<'a>(lines: &'a [Map<String, Value>], msg: &str, pr: u64) -> &'a Map<String, Value> {
    let found: Vec<_> = lines
        .iter()
        .filter(|l| {
            text(l, "message") == Some(msg) && l.get("pr").and_then(Value::as_u64) == Some(pr)
        })
        .collect();
    assert_eq!(found.len(), 1, "one {msg:?} line for #{pr}: {found:#?}");
    found[0]
}

#[tokio::test]
async fn json_logs_carry_the_installation_on_every_job_line_and_decisions_as_fields() {
    let gh = FakeGitHub::start().await;
    let installation = gh.installation_id();
    let repo = gh.repo("acme/app");
    feature_pr(&repo, 7, "feature", &["automerge"]);
    let base = repo.branch_tip("main");
    let marked = repo.commit(
        &[&base],
        "half-resolved",
        &[(
            "src/lib.rs",
            Some("a\n<<<<<<< ours\nb\n=======\nc\n>>>>>>> theirs\n"),
        )],
    );
    repo.branch("marked", &marked);
    repo.pr(8).head("marked").base("main").open();

    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::spawn(&env(&gh, dir.path()));
    for pr in [7, 8] {
        let delivery = repo.pull_request_event("opened", pr);
        assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202);
    }
    gh.wait_for("#7 merged", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    completed_run(&gh, &marked).await;
    app.terminate(Duration::from_secs(15));

    let lines = json_lines(&app.log());
    // The message is at the top level of every line, never nested.
    for line in &lines {
        assert!(
            text(line, "message").is_some(),
            "a top-level message: {line:?}"
        );
        assert!(text(line, "level").is_some(), "a level: {line:?}");
        assert!(
            !line.contains_key("fields"),
            "fields are flattened: {line:?}"
        );
        if let Some(span) = line.get("span") {
            assert!(span.is_string(), "span fields are flattened: {line:?}");
        }
    }

    // Every line logged inside a job or a delivery names the installation.
    let in_job: Vec<_> = lines
        .iter()
        .filter(|l| matches!(text(l, "span"), Some("job" | "evaluation" | "delivery")))
        .collect();
    assert!(
        in_job.len() >= 6,
        "the jobs and deliveries logged: {in_job:#?}"
    );
    for line in &in_job {
        assert_eq!(
            line.get("installation_id").and_then(Value::as_u64),
            Some(installation),
            "the installation id on a job's line: {line:?}"
        );
    }
    // The evaluation's lines carry the job's fields as well as their own.
    let decided = line_of(&lines, "decided", 7);
    assert_eq!(text(decided, "span"), Some("evaluation"));
    assert_eq!(text(decided, "repo"), Some("acme/app"));
    assert!(text(decided, "key").is_some(), "{decided:?}");

    // The decisions, field by field, with identifier values.
    assert_eq!(text(decided, "verdict"), Some("success"));
    assert_eq!(text(decided, "plan"), Some("merge"));
    assert_eq!(
        text(decided, "passed_guards"),
        Some("conflict_markers,merge_sources")
    );
    assert_eq!(text(decided, "failed_guards"), Some(""));
    let answered = line_of(&lines, "merge answered", 7);
    assert_eq!(text(answered, "result"), Some("merged"));
    assert_eq!(text(answered, "step"), Some("merged"));
    assert_eq!(answered.get("attempt").and_then(Value::as_u64), Some(1));

    let blocked = line_of(&lines, "decided", 8);
    assert_eq!(text(blocked, "verdict"), Some("failure"));
    assert_eq!(text(blocked, "failed_guards"), Some("conflict_markers"));
    assert_eq!(text(blocked, "passed_guards"), Some("merge_sources"));
    // Not opted in: the plan says so, and why, in its own field.
    assert_eq!(text(blocked, "plan"), Some("not_opted_in"));
    assert!(
        text(blocked, "reason").is_some_and(|r| !r.is_empty()),
        "{blocked:?}"
    );
    // No decision is logged as Rust `Debug` text.
    for line in [decided, answered, blocked] {
        for (name, value) in line {
            let value = value.to_string();
            assert!(
                !value.contains(" { ") && !value.contains("Answered"),
                "{name} is Debug text: {value}"
            );
        }
    }
}
