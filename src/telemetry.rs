//! Logs and metrics.
//!
//! Logs are `tracing` events, pretty or JSON (`LOG_FORMAT`), filtered by
//! `RUST_LOG`. Metrics go through the `metrics` facade into one Prometheus
//! recorder per process, rendered by `GET /metrics`. Secrets never reach
//! either: tokens, keys and webhook secrets have redacting `Debug`
//! implementations and are never fields of a span or an event.

use std::fmt;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::settings::LogFormat;

/// Evaluation latency buckets, in seconds: most evaluations take a few
/// hundred milliseconds of GitHub round trips; the tail is retries.
const EVALUATION_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// GitHub request latency buckets, in seconds: most REST answers take tens
/// to hundreds of milliseconds; the top buckets catch a gateway timing out.
const GITHUB_REQUEST_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The commit this binary was built from (`unknown` outside git).
pub const GIT_SHA: &str = env!("SEAMGUARD_GIT_SHA");

/// A label value from a display name: `Conflict markers` → `conflict_markers`.
pub fn identifier(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Every series seamguard writes: its type, name, help and, for the
/// labelled ones, the label values that exist from the start at zero (`*`:
/// labels whose values come from traffic, so nothing to create up front).
/// `/metrics` lists these even before anything happened, so dashboards
/// and alerts have a series to read (a rate over nothing is 0, not absent).
pub const COUNTERS: &[(&str, &str, &str, &[&str])] = &[
    (
        "seamguard_deliveries_total",
        "Webhook deliveries received, by event and outcome.",
        "*",
        &[],
    ),
    (
        "seamguard_evaluations_total",
        "Pull request evaluations finished, by outcome (internal_error: completed fail-safe).",
        "outcome",
        &[
            "success",
            "failure",
            "neutral",
            "invalid_config",
            "internal_error",
        ],
    ),
    (
        "seamguard_findings_total",
        "Conflict-marker findings, by marker kind.",
        "kind",
        &["ours", "base", "separator", "theirs"],
    ),
    (
        "seamguard_guard_failures_total",
        "Guard verdicts that failed a pull request, by guard.",
        "guard",
        &["conflict_markers", "merge_sources"],
    ),
    (
        "seamguard_merges_total",
        "Merge calls, by outcome.",
        "outcome",
        &["merged", "pending", "head_moved", "refused"],
    ),
    (
        "seamguard_jobs_failed_total",
        "Jobs that failed and were scheduled again or parked.",
        "",
        &[],
    ),
    (
        "seamguard_watchdog_completions_total",
        "Check runs the watchdog completed neutral after their evaluation vanished.",
        "",
        &[],
    ),
    (
        "seamguard_redeliveries_requested_total",
        "Failed deliveries seamguard asked GitHub to send again.",
        "",
        &[],
    ),
    (
        "seamguard_token_refreshes_total",
        "Installation tokens minted.",
        "",
        &[],
    ),
    (
        "seamguard_connections_shed_total",
        "Idle HTTP connections closed to make room when the server was crowded.",
        "",
        &[],
    ),
    (
        "seamguard_store_probes_total",
        "Store health probes (a write each) made for /readyz and /: at most one a second.",
        "",
        &[],
    ),
    (
        "seamguard_graph_questions_total",
        "Commit-graph questions the merge-source guard asked GitHub.",
        "",
        &[],
    ),
    (
        "seamguard_github_requests_total",
        "GitHub REST requests answered, by route and status.",
        "*",
        &[],
    ),
    (
        "seamguard_github_retries_total",
        "GitHub calls retried, by reason (status code or transport).",
        "reason",
        &["transport", "408", "429", "500", "502", "503", "504"],
    ),
    (
        "seamguard_github_budget_spent_total",
        "GitHub budget spent by this process, by limit: requests (primary), points (rest_points, graphql_points) or content-creating requests (content_minute, content_hour).",
        "limit",
        &[
            "primary",
            "rest_points",
            "graphql_points",
            "content_minute",
            "content_hour",
        ],
    ),
    (
        "seamguard_check_run_updates_skipped_total",
        "Check-run updates that only showed progress (same conclusion and title) and were left for a later evaluation because GitHub's budget had no room for them now.",
        "",
        &[],
    ),
    (
        "seamguard_github_budget_waits_total",
        "GitHub requests the budget governor held for a moment before sending, by the limit that was full.",
        "limit",
        BUDGET_LIMITS,
    ),
    (
        "seamguard_github_requests_deferred_total",
        "GitHub work the budget governor put back in the store for later, by the limit that was full (sweep: a reconciler round skipped for an installation short of budget).",
        "limit",
        &[
            "primary",
            "concurrency",
            "rest_points",
            "graphql_points",
            "content_minute",
            "content_hour",
            "secondary_pause",
            "sweep",
        ],
    ),
    (
        "seamguard_github_secondary_limits_total",
        "Secondary-rate-limit answers from GitHub (403 or 429); each pauses the installation for every replica.",
        "",
        &[],
    ),
];

/// The limits the governor counts (`github::budget::Limit`).
pub const BUDGET_LIMITS: &[&str] = &[
    "primary",
    "concurrency",
    "rest_points",
    "graphql_points",
    "content_minute",
    "content_hour",
    "secondary_pause",
];

/// Gauges: name and help.
pub const GAUGES: &[(&str, &str)] = &[
    (
        "seamguard_build_info",
        "The running build: always 1, with version and git_sha labels.",
    ),
    (
        "seamguard_queue_depth",
        "Work items in the store, due or scheduled.",
    ),
    (
        "seamguard_webhook_body_bytes_in_flight",
        "Bytes of webhook bodies being read now, against the in-flight body budget.",
    ),
    (
        "seamguard_connections_open",
        "HTTP connections held now, against the bound the descriptor limit sets.",
    ),
    ("seamguard_queue_due", "Work items due now."),
    (
        "seamguard_queue_oldest_due_age_seconds",
        "Age of the oldest due work item, in seconds.",
    ),
    (
        "seamguard_github_rate_limit_remaining",
        "Requests left in the installation's GitHub rate-limit window.",
    ),
    (
        "seamguard_github_budget_remaining",
        "GitHub budget left per installation and limit: requests in the primary window (from GitHub's headers), and what this process sees left under seamguard's cap of each counted limit.",
    ),
];

/// Histograms: name and help.
pub const HISTOGRAMS: &[(&str, &str)] = &[
    (
        "seamguard_evaluation_seconds",
        "Time to evaluate a pull request, in seconds.",
    ),
    (
        "seamguard_github_request_seconds",
        "GitHub REST request latency, by route, in seconds.",
    ),
];

/// Describes every series and creates each at zero (once per process).
fn register_series() {
    for (name, help, label, values) in COUNTERS {
        metrics::describe_counter!(*name, *help);
        if label.is_empty() {
            metrics::counter!(*name).absolute(0);
        }
        for value in *values {
            metrics::counter!(*name, *label => *value).absolute(0);
        }
    }
    // Each event seamguard acts on, accepted: the series the "no
    // deliveries" alert and the dashboard read exist before traffic does.
    for event in crate::events::KNOWN_EVENTS {
        metrics::counter!("seamguard_deliveries_total", "event" => *event, "outcome" => "accepted")
            .absolute(0);
    }
    for (name, help) in GAUGES {
        metrics::describe_gauge!(*name, *help);
    }
    for (name, help) in HISTOGRAMS {
        metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help);
    }
    metrics::gauge!(
        "seamguard_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "git_sha" => GIT_SHA
    )
    .set(1.0);
    for name in [
        "seamguard_queue_depth",
        "seamguard_queue_due",
        "seamguard_queue_oldest_due_age_seconds",
    ] {
        metrics::gauge!(name).set(0.0);
    }
    process_collector().describe();
}

/// CPU, resident memory, open files and start time as `process_*` series.
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// The Prometheus text for `GET /metrics`, process metrics read now.
pub fn render_metrics() -> String {
    let handle = metrics_handle();
    process_collector().collect();
    handle.render()
}

/// Installs the tracing subscriber (once; later calls are no-ops, as in
/// tests that start several servers in one process).
pub fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour is for people at a terminal; in a file or a journal the
    // escape codes are noise (and `NO_COLOR` asks for none anywhere).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .try_init(),
        LogFormat::Pretty => builder.with_target(false).try_init(),
    };
}

/// `LOG_FORMAT=json`: one JSON object per line with `timestamp`, `level`,
/// `target`, `message`, the event's fields, and the fields of every span
/// the event is in — all at the top level, so each line of a job carries
/// its `installation_id`, `repo` and `pr` where log pipelines filter on
/// them. Inner spans win over outer ones and the event over its spans when
/// a name repeats; `span` names the innermost span.
///
/// tracing-subscriber's own JSON format nests span fields under `span`
/// (one level) or `spans` (a list); neither can be filtered on as a field.
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        if let Some(scope) = ctx.event_scope() {
            let mut innermost = None;
            for span in scope.from_root() {
                let extensions = span.extensions();
                // The span's fields as the JSON field formatter stored them.
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields)
                {
                    line.extend(fields);
                }
                innermost = Some(span.name());
            }
            if let Some(name) = innermost {
                line.insert("span".into(), name.into());
            }
        }
        event.record(&mut JsonVisitor(&mut line));
        line.insert("target".into(), meta.target().into());
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Records an event's fields into a JSON object: numbers and booleans as
/// themselves, everything else as its text.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        // `log` records bridged into tracing carry their metadata as
        // `log.*` fields, already on the line as target and level.
        if name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.0.insert(name.into(), format!("{value:?}").into());
    }
}

/// The process's Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("seamguard_evaluation_seconds".to_owned()),
                    EVALUATION_BUCKETS,
                )
                .expect("bucket list is non-empty")
                .set_buckets_for_metric(
                    Matcher::Full("seamguard_github_request_seconds".to_owned()),
                    GITHUB_REQUEST_BUCKETS,
                )
                .expect("bucket list is non-empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding
            // program); then this handle renders only what it records.
            if metrics::set_global_recorder(recorder).is_ok() {
                register_series();
            }
            handle
        })
        .clone()
}
