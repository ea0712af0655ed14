//! Periodic sweeps: what makes "nothing lost" true when GitHub or seamguard
//! drops something.
//!
//! - **Missed webhooks.** GitHub never redelivers a failed delivery by
//!   itself. At start and every `REDELIVERY_INTERVAL`, the App's delivery
//!   log (`GET /app/hook/deliveries`, newest first) is read back to the last
//!   delivery already seen; each failed delivery whose GUID the store does
//!   not hold, and that no later attempt delivered, is redelivered — at
//!   most [`MAX_REDELIVERIES_PER_SWEEP`] per sweep. Behind a webhook proxy
//!   (`WEBHOOK_PROXY_URL`) GitHub's log shows the proxy's answer, a 200
//!   whether or not seamguard got the delivery: there every delivery the
//!   store does not hold is missed, once it is [`PROXY_SETTLE`] old (the
//!   stream may still be carrying it).
//! - **Reconciler.** Pull requests waiting on checks are evaluated again
//!   every `RECONCILE_INTERVAL`, so a lost `check_run` event never strands
//!   one.
//! - **Watchdog.** A check run left `in_progress` past
//!   [`WATCHDOG_AFTER`] (its evaluation died with the process, or GitHub
//!   refused every completion) is completed `neutral` with an explanation.
//! - **Retention.** Old deliveries are pruned so the store stays bounded.
//!
//! With several replicas on one store, each sweep runs only on the replica
//! that holds the store's sweep lock ([`Store::sweep_leader`], asked at
//! every tick): one replica at a time, and another as soon as that one's
//! session ends.
//!
//! [`Store::sweep_leader`]: crate::store::Store::sweep_leader

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Engine;
use crate::gate::decision::Conclusion;
use crate::ids::DeliveryId;
use crate::store::Store;

/// Redeliveries asked for in one sweep: GitHub rate-limits the App's own
/// calls too, and a backlog drains over a few sweeps.
pub const MAX_REDELIVERIES_PER_SWEEP: usize = 50;

/// Pages of the delivery log read per sweep (100 each).
const MAX_DELIVERY_PAGES: usize = 10;

/// On the very first sweep (nothing seen yet), look back this far.
const FIRST_SWEEP_WINDOW: chrono::Duration = chrono::Duration::hours(6);

/// Pull requests re-evaluated per reconciler pass.
const RECONCILE_BATCH: usize = 200;

/// An evaluation takes seconds; a run still `in_progress` after this lost
/// its evaluation.
pub const WATCHDOG_AFTER: Duration = Duration::from_secs(15 * 60);

/// How often the watchdog and retention look.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(60);

/// The store key of the newest delivery id already swept.
const CURSOR_KEY: &str = "hook_deliveries.newest_seen";

pub(super) fn start(engine: Engine, shutdown: CancellationToken, tracker: &TaskTracker) {
    if let Some(every) = engine.cfg.redelivery_interval {
        let (e, s) = (engine.clone(), shutdown.clone());
        tracker.spawn(every_until(
            engine.store.clone(),
            s,
            every,
            true,
            move || {
                let e = e.clone();
                async move {
                    if let Err(err) = e.sweep_deliveries().await {
                        tracing::warn!(error = %err, "missed-webhook sweep failed");
                    }
                }
            },
        ));
    }
    if let Some(every) = engine.cfg.reconcile_interval {
        let (e, s) = (engine.clone(), shutdown.clone());
        tracker.spawn(every_until(
            engine.store.clone(),
            s,
            every,
            false,
            move || {
                let e = e.clone();
                async move {
                    if let Err(err) = e.reconcile().await {
                        tracing::warn!(error = %err, "reconciler failed");
                    }
                }
            },
        ));
    }
    let e = engine.clone();
    tracker.spawn(every_until(
        engine.store.clone(),
        shutdown,
        HOUSEKEEPING_INTERVAL,
        true,
        move || {
            let e = e.clone();
            async move {
                if let Err(err) = e.watchdog().await {
                    tracing::warn!(error = %err, "check-run watchdog failed");
                }
                match e.store.prune(Utc::now(), e.cfg.delivery_retention).await {
                    Ok(n) if n > 0 => tracing::info!(pruned = n, "pruned old deliveries"),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "retention failed"),
                }
            }
        },
    ));
}

async fn every_until<F, Fut>(
    store: Store,
    shutdown: CancellationToken,
    every: Duration,
    at_start: bool,
    mut f: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    if !at_start {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
    }
    loop {
        let lead = async {
            match store.sweep_leader().await {
                Ok(lead) => lead,
                Err(e) => {
                    tracing::warn!(error = %e, "could not ask the store who runs the sweeps");
                    false
                }
            }
        };
        tokio::select! {
            lead = lead => if lead {
                tokio::select! {
                    _ = f() => {}
                    _ = shutdown.cancelled() => return,
                }
            },
            _ = shutdown.cancelled() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Behind a webhook proxy, a delivery younger than this may still be on
/// its way through the proxy's stream: it is not taken for missed yet.
pub const PROXY_SETTLE: Duration = Duration::from_secs(60);

impl Engine {
    /// One missed-webhook sweep. Returns how many redeliveries it asked for.
    pub async fn sweep_deliveries(&self) -> anyhow::Result<usize> {
        let newest_seen: Option<u64> = self
            .store
            .meta(CURSOR_KEY)
            .await?
            .and_then(|v| v.parse().ok());
        let since = Utc::now() - FIRST_SWEEP_WINDOW;
        let mut cursor: Option<String> = None;
        let mut newest: Option<u64> = None;
        let mut delivered_ok: HashSet<String> = HashSet::new();
        let mut failed = Vec::new();
        'pages: for _ in 0..MAX_DELIVERY_PAGES {
            let (page, next) = self.gh.hook_deliveries(cursor.as_deref()).await?;
            for d in page {
                // Behind a proxy, a delivery still settling is looked at
                // again by the next sweep: the cursor stays before it.
                let settled = !self.via_proxy
                    || d.delivered_at.is_none_or(|t| {
                        Utc::now() - t
                            >= chrono::Duration::from_std(PROXY_SETTLE).unwrap_or_default()
                    });
                if settled {
                    newest = Some(newest.map_or(d.id, |n| n.max(d.id)));
                }
                let reached_seen = newest_seen.is_some_and(|seen| d.id <= seen);
                let too_old = newest_seen.is_none() && d.delivered_at.is_some_and(|t| t < since);
                if reached_seen || too_old {
                    break 'pages;
                }
                let ok = d.status_code.is_some_and(|c| (200..300).contains(&c));
                if self.via_proxy {
                    // The proxy's 2xx says nothing about seamguard: the
                    // store decides below.
                    if settled {
                        failed.push(d);
                    }
                } else if ok {
                    delivered_ok.insert(d.guid.clone());
                } else {
                    failed.push(d);
                }
            }
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut asked = 0;
        let mut seen_guids = HashSet::new();
        for d in failed {
            if asked >= MAX_REDELIVERIES_PER_SWEEP {
                break;
            }
            // Newest first: a later successful attempt, or one already
            // asked for in this sweep, covers the older failures.
            if delivered_ok.contains(&d.guid) || !seen_guids.insert(d.guid.clone()) {
                continue;
            }
            let stored = match d.guid.parse::<DeliveryId>() {
                Ok(id) => self.store.has_delivery(&id).await?,
                Err(_) => false,
            };
            if stored {
                continue;
            }
            match self.gh.redeliver(d.id).await {
                Ok(()) => {
                    asked += 1;
                    metrics::counter!("seamguard_redeliveries_requested_total").increment(1);
                    tracing::info!(delivery = d.id, guid = %d.guid, event = ?d.event, "asked GitHub to redeliver a missed delivery");
                }
                Err(e) => tracing::warn!(delivery = d.id, error = %e, "redelivery request failed"),
            }
        }
        if let Some(newest) = newest
            && newest_seen.is_none_or(|seen| newest > seen)
        {
            self.store.set_meta(CURSOR_KEY, &newest.to_string()).await?;
        }
        Ok(asked)
    }

    /// Re-evaluates pull requests that were waiting on checks.
    pub async fn reconcile(&self) -> anyhow::Result<usize> {
        let waiting = self.store.waiting(RECONCILE_BATCH).await?;
        let mut n = 0;
        for work in waiting {
            // Re-evaluations that events asked for come first: while an
            // installation's budget is short, its sweep waits for the next
            // round (the work stays marked waiting; nothing is dropped).
            if !self
                .gh
                .affordable(work.installation, crate::github::Priority::Background)
            {
                metrics::counter!("seamguard_github_requests_deferred_total", "limit" => "sweep")
                    .increment(1);
                continue;
            }
            self.store
                .enqueue_because(work, Utc::now(), "reconciler sweep")
                .await?;
            n += 1;
        }
        if n > 0 {
            tracing::info!(
                pull_requests = n,
                "reconciler re-queued waiting pull requests"
            );
        }
        Ok(n)
    }

    /// Completes check runs whose evaluation never finished.
    pub async fn watchdog(&self) -> anyhow::Result<usize> {
        let before = Utc::now() - chrono::Duration::from_std(WATCHDOG_AFTER)?;
        let stale = self.store.stale_check_runs(before).await?;
        let n = stale.len();
        for run in stale {
            let client = self
                .gh
                .installation(run.installation)
                .at(crate::github::Priority::Background);
            // A run GitHub already shows completed (its completion was
            // written but not recorded) keeps its conclusion: re-completing
            // a `failure` as `neutral` would let the pull request merge.
            match client.check_runs(&run.repo, &run.head).await {
                Ok(runs)
                    if runs
                        .iter()
                        .any(|r| r.id == run.id.0 && r.status == "completed") =>
                {
                    self.store.check_run_completed(run.id, "watchdog").await?;
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(repo = %run.repo, check_run = %run.id, error = %e, "watchdog could not read the check run; trying later");
                    continue;
                }
            }
            let summary = "seamguard started checking this commit but its evaluation did not finish \
                           (the process stopped, or GitHub kept failing). Re-run this check, or push, \
                           to evaluate it again.";
            let body = json!({
                "status": "completed",
                "conclusion": Conclusion::Neutral.as_str(),
                "completed_at": Utc::now().to_rfc3339(),
                "output": { "title": "seamguard could not finish its checks", "summary": summary },
            });
            match client.update_check_run(&run.repo, run.id, body).await {
                Ok(_) => {
                    self.store.check_run_completed(run.id, "watchdog").await?;
                    metrics::counter!("seamguard_watchdog_completions_total").increment(1);
                    tracing::warn!(repo = %run.repo, check_run = %run.id, "watchdog completed a stale check run");
                }
                Err(e) => {
                    tracing::warn!(repo = %run.repo, check_run = %run.id, error = %e, "watchdog could not complete a check run")
                }
            }
        }
        Ok(n)
    }
}
