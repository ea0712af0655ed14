//! `/metrics` as Prometheus reads it: parsed by a real text-format parser,
//! every family with HELP, the build and process series there from the
//! start, label values that are identifiers, and every series the Grafana
//! dashboard and the alert rules query present.

mod support;

use std::collections::{BTreeSet, HashMap};

use support::Seamguard;
use support::flows::completed_run;

/// The metric names a PromQL expression reads (ours and the process's).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut word = String::new();
    for c in expr.chars().chain([' ']) {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            if word.starts_with("seamguard_") || word.starts_with("process_") {
                names.push(std::mem::take(&mut word));
            }
            word.clear();
        }
    }
    names
}

/// The family a sample name belongs to (`x_bucket` → `x` for a histogram).
fn family<'a>(name: &'a str, families: &BTreeSet<String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && families.contains(base)
        {
            return base;
        }
    }
    name
}

struct Scraped {
    families: BTreeSet<String>,
    help: HashMap<String, String>,
    samples: Vec<prometheus_parse::Sample>,
    text: String,
}

async fn scrape(app: &Seamguard) -> Scraped {
    let answer = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let mut families: BTreeSet<String> = scrape.samples.iter().map(|s| s.metric.clone()).collect();
    families.extend(scrape.docs.keys().cloned());
    Scraped {
        families,
        help: scrape.docs,
        samples: scrape.samples,
        text,
    }
}

#[tokio::test]
async fn metrics_are_described_labelled_by_identifiers_and_cover_the_dashboard_and_alerts() {
    let s = support::ready()
        .file("notes.txt", "<<<<<<< HEAD\na\n=======\nb\n>>>>>>> x\n")
        .open()
        .await;
    let (gh, repo, head) = (&s.gh, &s.repo, s.head.clone());
    let app = s.start().await;

    // From the start: build info, process series, zero-valued counters.
    let fresh = scrape(&app).await;
    let build = fresh
        .samples
        .iter()
        .find(|s| s.metric == "seamguard_build_info")
        .expect("seamguard_build_info");
    assert_eq!(build.labels.get("version"), Some(env!("CARGO_PKG_VERSION")));
    assert!(build.labels.get("git_sha").is_some_and(|s| !s.is_empty()));
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "seamguard_watchdog_completions_total",
        "seamguard_queue_oldest_due_age_seconds",
    ] {
        assert!(
            fresh.families.contains(name),
            "{name} from the start:\n{}",
            fresh.text
        );
    }
    assert!(
        fresh
            .samples
            .iter()
            .any(|s| s.metric == "seamguard_evaluations_total"
                && s.labels.get("outcome") == Some("internal_error"))
    );

    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(gh, &head).await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    // The evaluation's own series are written just after its check run
    // completes: wait for them to show.
    let after = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let now = scrape(&app).await;
            if now.families.contains("seamguard_evaluation_seconds") {
                break now;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the evaluation's metrics");

    for name in &after.families {
        let family = family(name, &after.families);
        let help = after.help.get(family).map(String::as_str).unwrap_or("");
        assert!(
            !help.trim().is_empty(),
            "{family} has no HELP:\n{}",
            after.text
        );
    }
    for name in after
        .families
        .iter()
        .filter(|f| f.starts_with("seamguard_"))
    {
        let family = family(name, &after.families);
        assert!(
            after.text.contains(&format!("# TYPE {family} ")),
            "{family} has no TYPE"
        );
    }
    // Identifiers, not prose or marker text.
    let identifier = |v: &str| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    for s in after
        .samples
        .iter()
        .filter(|s| s.metric.starts_with("seamguard_"))
    {
        for key in ["kind", "guard", "outcome", "event"] {
            if let Some(v) = s.labels.get(key) {
                assert!(identifier(v), "{}{{{key}={v:?}}}", s.metric);
            }
        }
    }
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "seamguard_findings_total"
                && s.labels.get("kind") == Some("ours")
                && matches!(s.value, prometheus_parse::Value::Counter(v) if v >= 1.0))
    );
    // prometheus-parse skips samples whose label values hold `{` (route
    // templates such as `GET /repos/{owner}/{repo}`), which the text format
    // allows; the route-labelled series are read from the text itself.
    assert!(
        after
            .text
            .contains("seamguard_github_request_seconds_bucket{route=\"GET /repos/{owner}/{repo}/pulls/{pull_number}\""),
        "GitHub latency by route:\n{}",
        after.text
    );

    // The dashboard and the alerts query nothing that does not exist.
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../deploy/grafana/seamguard.json")).unwrap();
    let mut queried = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            queried.extend(metric_names(target["expr"].as_str().unwrap()));
        }
    }
    let alerts = include_str!("../deploy/prometheus/alerts.yml");
    for line in alerts.lines().filter(|l| !l.trim_start().starts_with('#')) {
        queried.extend(metric_names(line));
    }
    assert!(queried.len() > 20, "{queried:?}");
    for name in &queried {
        assert!(
            after.families.contains(family(name, &after.families)),
            "queried but not in /metrics: {name}"
        );
    }
    app.stop().await;
}
