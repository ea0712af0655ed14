//! Logs and metrics.
//!
//! Logs are `tracing` events, pretty or JSON (`LOG_FORMAT`), filtered by
//! `RUST_LOG`. Metrics go through the `metrics` facade into one Prometheus
//! recorder per process, rendered by `GET /metrics`. Secrets never reach
//! either: tokens, keys and webhook secrets have redacting `Debug`
//! implementations and are never fields of a span or an event.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::config::settings::LogFormat;

/// Evaluation latency buckets, in seconds: most evaluations take a few
/// hundred milliseconds of GitHub round trips; the tail is retries.
const EVALUATION_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

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
            .json()
            // `message` and the event's fields at the top level of each
            // line, where log pipelines look for them.
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.with_target(false).try_init(),
    };
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
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding
            // program); then this handle renders only what it records.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
