//! One evaluation of one pull request: gather a snapshot, decide, act.
//!
//! The order of GitHub reads is chosen for economy and for what users see:
//! the pull request; the head's check runs (they hold seamguard's own run,
//! so it is reused rather than duplicated, and the states the gate needs);
//! the `in_progress` run when there is none yet; the comparison with the
//! base (commits for the merge-source guard, files with patches for the
//! marker guard, and the base tip the config is read at); the config; the
//! requirements (protection and rulesets, read now — never remembered from
//! an earlier evaluation); commit statuses only when a required context has
//! no check run. Then the pure decision, then the writes.
//!
//! Once the head SHA is known, every evaluation ends with a completed
//! `seamguard` run on it, or hands back a transient error for the job to
//! retry: any permanent error or panic — before the run existed too (an
//! unreadable check-run list) — completes it `neutral` (or `failure` under
//! `on_internal_error: failure`) with the error in its summary. A guard's
//! bug never blocks every pull request, no run is left `in_progress`, and
//! no required `seamguard` check waits forever for a run that never comes.
//! The fail-safe never weakens a `failure` the guards already found (see
//! [`CheckRunHandle`]).
//!
//! Merging: every call of the merge endpoint is counted on its head before
//! its answer is acted on, and no call is made once `merge.max_attempts`
//! are spent ([`merge_answer::may_call`]), whatever GitHub answered.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use tracing::Instrument;

use super::check_run::CheckRunHandle;
use super::gate_facts;
use super::guards;
use super::requirements_cache;
use super::{Engine, EvalError, Outcome};
use crate::config::repo::{OnInternalError, RepoConfig};
use crate::gate::decision::{self, AllowedMethods, Conclusion, MergePlan, PrFacts};
use crate::gate::merge_answer::{self, CallResult, MergeStep, clean_message};
use crate::gate::merge_queue::{self, QueueStep};
use crate::gate::never_comes;
use crate::gate::opt_in::HeadFacts;
use crate::gate::required_checks::{
    self, GateReport, GateStatus, Requirements, RunSeen, Unreadable,
};
use crate::gate::strict_line::{self, Place};
use crate::gate::summary::{self, CHECK_NAME, MergeNote};
use crate::github::api::Enqueued;
use crate::github::models::{CheckRun, CommitStatus, Comparison, PullRequest};
use crate::github::{GhError, InstallationClient, Priority};
use crate::ids::{CommitSha, PrNumber};
use crate::store::{Evaluation, Target, Work};
use crate::web::snapshot::{self, Attempt, MergeView, PageSnapshot};

/// Merge retries back off exponentially from the configured base up to
/// this, so a slow CI is polled a few times a minute at most.
const MAX_MERGE_BACKOFF: Duration = Duration::from_secs(5 * 60);

/// Base histories kept (one per repository and base SHA in play); the
/// cache starts over past this.
const MAX_BASE_HISTORIES: usize = 1_024;

/// Internal-error messages in a check run stay readable.
const MAX_ERROR_CHARS: usize = 2_000;

/// What an evaluation's history entry needs besides what it decides: what
/// caused it, and the count of its GitHub requests so far.
pub(crate) struct Recording<'a> {
    pub cause: &'a str,
    pub requests: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl Recording<'_> {
    fn requests(&self) -> u32 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The repository's web address from the pull request's (`…/pull/N`),
/// else from the API root (`api.github.com` → `github.com`; GitHub
/// Enterprise's `HOST/api/v3` → `HOST`).
fn repo_web_url(pr: &PullRequest, api: &url::Url, repo: &crate::ids::RepoName) -> Option<String> {
    if let Some(html) = &pr.html_url
        && let Some((base, _)) = html.rsplit_once("/pull/")
    {
        return Some(base.to_owned());
    }
    let host = api.host_str()?;
    let web = match host {
        "api.github.com" => "github.com".to_owned(),
        h => h.to_owned(),
    };
    let port = api.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("{}://{web}{port}/{repo}", api.scheme()))
}

fn pr_facts(pr: &PullRequest, vouch: HeadFacts) -> PrFacts {
    PrFacts {
        vouch,
        open: pr.is_open(),
        merged: pr.is_merged(),
        draft: pr.is_draft(),
        labels: pr.label_names(),
        mergeable_state: pr.mergeable_state.clone(),
        allowed: pr
            .base
            .repo
            .as_ref()
            .map(|r| AllowedMethods {
                merge: r.allow_merge_commit,
                squash: r.allow_squash_merge,
                rebase: r.allow_rebase_merge,
            })
            .unwrap_or_default(),
    }
}

/// Exponential backoff with full jitter for the `attempt`-th merge retry.
pub fn merge_backoff(base: Duration, attempt: u32) -> Duration {
    let step = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_MERGE_BACKOFF);
    // Never less than the base: a retry inside the same second would meet
    // the same pending answer.
    base + step.mul_f64(rand::random::<f64>())
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic (no message)".to_owned()
    }
}

/// Logs the decision as fields a log pipeline can filter on: `verdict`
/// (the posted conclusion), `plan` and its `reason`, `shadow_of` in shadow
/// mode, and the guards by verdict (`failed_guards`, `passed_guards`,
/// `skipped_guards`: comma-separated identifiers such as
/// `conflict_markers`).
fn log_decision(verdict: &decision::Verdict, guards: &[decision::GuardOutcome]) {
    let named = |v: decision::GuardVerdict| {
        guards
            .iter()
            .filter(|g| g.verdict == v)
            .map(|g| crate::telemetry::identifier(g.name))
            .collect::<Vec<_>>()
            .join(",")
    };
    tracing::info!(
        verdict = verdict.conclusion.as_str(),
        plan = verdict.plan.as_str(),
        reason = verdict.plan.reason().unwrap_or(""),
        shadow_of = verdict.shadow_of.map(Conclusion::as_str),
        failed_guards = named(decision::GuardVerdict::Failed),
        passed_guards = named(decision::GuardVerdict::Passed),
        skipped_guards = named(decision::GuardVerdict::Skipped),
        "decided"
    );
}

/// The conclusion an internal error gets under the repository's policy.
fn failsafe_conclusion(config: Option<&RepoConfig>) -> Conclusion {
    match config.map(|c| c.on_internal_error) {
        Some(OnInternalError::Failure) => Conclusion::Failure,
        _ => Conclusion::Neutral,
    }
}

/// Ends an evaluation that ran under `catch_unwind`: its outcome when it
/// had one; a transient error handed back for the job to retry (the run
/// stays in progress) unless this was the last try; otherwise — a
/// permanent error, a panic, or GitHub down through every try — the check
/// run completes fail-safe (`neutral`, or `failure` where the repository
/// fails closed) with the error in its summary.
async fn fail_safe(
    result: std::thread::Result<Result<Outcome, EvalError>>,
    last_attempt: bool,
    run: &mut CheckRunHandle<'_>,
    config: Option<&RepoConfig>,
) -> Result<(Outcome, Option<String>), EvalError> {
    let error = match result {
        Ok(Ok(outcome)) => return Ok((outcome, None)),
        // Waiting for GitHub's budget is not a failure, however often: the
        // work goes back to the store for then, and the open run says why.
        Ok(Err(EvalError::GitHub(e))) if e.is_deferred() => {
            run.note_budget_wait(&e.message).await;
            return Err(EvalError::GitHub(e));
        }
        Ok(Err(e)) if e.is_transient() && !last_attempt => return Err(e),
        Ok(Err(e)) => e.to_string(),
        Err(panic) => panic_message(panic.as_ref()),
    };
    let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
    tracing::error!(%error, "evaluation failed; completing the check run fail-safe");
    metrics::counter!("seamguard_evaluations_total", "outcome" => "internal_error").increment(1);
    let conclusion = run
        .complete_fail_safe(failsafe_conclusion(config), &error)
        .await?;
    tracing::info!(
        conclusion = conclusion.as_str(),
        "check run completed fail-safe"
    );
    Ok((Outcome::Done, Some(error)))
}

impl Engine {
    /// Evaluates pull request `number` of `work.repo`, in an `evaluation`
    /// span carrying the repository, the number and the head SHA.
    pub(crate) async fn evaluate_pr(
        &self,
        work: &Work,
        number: PrNumber,
        last_attempt: bool,
        cause: &str,
    ) -> Result<Outcome, EvalError> {
        let span = tracing::info_span!(
            "evaluation",
            repo = %work.repo,
            pr = number.0,
            head = tracing::field::Empty
        );
        let recording = Recording {
            cause,
            requests: Default::default(),
        };
        let counter = recording.requests.clone();
        crate::github::counting_requests(
            counter,
            self.evaluate_pr_in(work, number, last_attempt, &span, &recording)
                .instrument(span.clone()),
        )
        .await
    }

    async fn evaluate_pr_in(
        &self,
        work: &Work,
        number: PrNumber,
        last_attempt: bool,
        span: &tracing::Span,
        recording: &Recording<'_>,
    ) -> Result<Outcome, EvalError> {
        // No reads spent on an evaluation whose writes GitHub's budget
        // would refuse now: the work waits whole, and runs once.
        if let Some(e) = self.gh.writes_deferred(work.installation) {
            return Err(EvalError::GitHub(e));
        }
        let client = self.gh.installation(work.installation);
        let pr = client.pull(&work.repo, number).await?;
        let head: CommitSha = pr
            .head
            .sha
            .parse()
            .map_err(|e| EvalError::Internal(anyhow::anyhow!("pull request head: {e}")))?;
        span.record("head", tracing::field::display(&head));
        if !pr.is_open() {
            tracing::info!(
                merged = pr.is_merged(),
                "pull request is closed; nothing to do"
            );
            self.store.set_waiting(work, false, Utc::now()).await?;
            self.leave_line(work, number).await?;
            return Ok(Outcome::Done);
        }
        // From here the head is known: whatever fails, the run on it ends
        // completed (fail-safe) or the job retries.
        let mut run =
            CheckRunHandle::new(&client, &self.store, work, head.clone(), self.cfg.app_id);
        run.details_url = self
            .links
            .as_ref()
            .map(|l| l.url(&work.repo, number, Utc::now()));
        let mut config_seen: Option<RepoConfig> = None;
        let result = AssertUnwindSafe(async {
            let runs = client.check_runs(&work.repo, &head).await?;
            run.open(Some(&runs)).await?;
            self.evaluate_head(
                &client,
                work,
                number,
                &pr,
                &head,
                &runs,
                &mut run,
                &mut config_seen,
                recording,
            )
            .await
        })
        .catch_unwind()
        .await;
        let (outcome, error) =
            fail_safe(result, last_attempt, &mut run, config_seen.as_ref()).await?;
        if let Some(error) = error {
            // The history says what went wrong, as the check run does.
            let page = PageSnapshot {
                title: pr.title.clone(),
                repo_url: repo_web_url(&pr, self.gh.api_url(), &work.repo),
                head: head.to_string(),
                base: pr.base.branch.clone(),
                conclusion: failsafe_conclusion(config_seen.as_ref())
                    .as_str()
                    .to_owned(),
                headline: "seamguard hit an internal error".to_owned(),
                unblock: vec![
                    "comment `@seamguard recheck` to try again; the check run has the error".into(),
                ],
                ..PageSnapshot::default()
            };
            let reason: String = error.chars().take(200).collect();
            self.record(
                work,
                number,
                &head,
                recording,
                "internal error".to_owned(),
                reason,
                &page,
            )
            .await;
        }
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    async fn evaluate_head(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        pr: &PullRequest,
        head: &CommitSha,
        runs: &[CheckRun],
        run: &mut CheckRunHandle<'_>,
        config_seen: &mut Option<RepoConfig>,
        recording: &Recording<'_>,
    ) -> Result<Outcome, EvalError> {
        let started = std::time::Instant::now();
        let base_ref = pr.base.branch.clone();
        let comparison = client
            .compare_all(&work.repo, &base_ref, head.as_str())
            .await?;
        let Some((base_tip, config)) = self.config_at_base(client, work, &comparison, run).await?
        else {
            let page = PageSnapshot {
                title: pr.title.clone(),
                repo_url: repo_web_url(pr, self.gh.api_url(), &work.repo),
                head: head.to_string(),
                base: base_ref.clone(),
                conclusion: Conclusion::Failure.as_str().to_owned(),
                headline: "invalid .github/seamguard.yml".to_owned(),
                unblock: vec![
                    "fix `.github/seamguard.yml` on the base branch (the check run lists each problem)"
                        .into(),
                ],
                ..PageSnapshot::default()
            };
            let reason = "the repository config on the base branch is invalid".to_owned();
            self.record(
                work,
                number,
                head,
                recording,
                "blocked".into(),
                reason,
                &page,
            )
            .await;
            return Ok(Outcome::Done);
        };
        *config_seen = Some(config.clone());

        let conflicts =
            guards::conflict_markers(client, &work.repo, Some(number), head, &comparison, &config)
                .await?;
        let sources = guards::merge_sources(
            client,
            &work.repo,
            &base_ref,
            &base_tip,
            head,
            &comparison,
            &config,
        )
        .await?;
        let guards = vec![conflicts.outcome, sources];
        let annotations = conflicts.annotations;
        let guards_conclusion = decision::conclusion(&guards);
        // The floor is what this evaluation will post: in shadow mode that
        // is always `neutral`, whatever the guards found.
        run.hold(match config.mode {
            crate::config::repo::Mode::Enforce => guards_conclusion,
            crate::config::repo::Mode::Shadow => Conclusion::Neutral,
        });
        let vouch = self
            .vouch(client, &work.repo, number, pr, head, &config)
            .await?;
        let facts = &pr_facts(pr, vouch);
        let attempts = self.store.merge_attempts(&work.repo, number, head).await?;
        let mut fresh = false;
        // A second look at the gate (requirements read afresh before
        // acting) asks GitHub for nothing else again.
        let mut statuses_read = None;
        let (gate, since, verdict) = loop {
            let (gate, since, read_now) = self
                .read_gate(
                    client,
                    work,
                    &base_ref,
                    &base_tip,
                    head,
                    runs,
                    guards_conclusion,
                    &config,
                    fresh,
                    &mut statuses_read,
                )
                .await?;
            let verdict =
                decision::decide(facts, &config, &guards, &gate, attempts).under(config.mode, head);
            // Acting on GitHub takes the gate GitHub holds now, never one
            // read a while ago.
            // A source that could not be read blocks acting: it is read
            // afresh too, so a permission granted since counts at once.
            if read_now || (!verdict.plan.acts() && gate.unreadable.is_empty()) {
                break (gate, since, verdict);
            }
            fresh = true;
        };
        let mut verdict = verdict;
        if in_strict_line(&gate, &config) {
            verdict.plan = self
                .take_place(
                    work,
                    number,
                    &base_ref,
                    facts,
                    &gate,
                    head,
                    &config,
                    verdict.plan,
                )
                .await?;
        }
        log_decision(&verdict, &guards);
        for g in &guards {
            if g.verdict == decision::GuardVerdict::Failed {
                metrics::counter!("seamguard_guard_failures_total", "guard" => crate::telemetry::identifier(g.name)).increment(1);
            }
        }

        let report = |note: Option<&MergeNote>| {
            let out = summary::render(&summary::Report {
                guards: &guards,
                gate: &gate,
                conclusion: verdict.conclusion,
                shadow_of: verdict.shadow_of,
                plan: &verdict.plan,
                merge: note,
                register_timeout: config.required_checks.register_timeout,
            });
            summary::with_notes(out, &config.notes)
        };
        // An enqueue is said once, with where GitHub's queue has it.
        if verdict.plan != MergePlan::Enqueue {
            run.complete(verdict.conclusion, report(None), &annotations)
                .await?;
        }
        metrics::histogram!("seamguard_evaluation_seconds").record(started.elapsed().as_secs_f64());
        metrics::counter!("seamguard_evaluations_total", "outcome" => verdict.conclusion.as_str())
            .increment(1);
        self.store
            .set_waiting(work, verdict.plan.is_waiting(), Utc::now())
            .await?;

        let (outcome, note, attempt) = match verdict.plan {
            MergePlan::Merge => {
                let (outcome, note, attempt) =
                    self.merge(client, work, number, head, &config).await?;
                if let Some(note) = &note {
                    run.complete(verdict.conclusion, report(Some(note)), &annotations)
                        .await?;
                }
                (outcome, note, attempt)
            }
            MergePlan::Enqueue => {
                let (outcome, note) = self
                    .enqueue(client, work, number, pr, head, &config)
                    .await?;
                run.complete(verdict.conclusion, report(note.as_ref()), &annotations)
                    .await?;
                (outcome, note, None)
            }
            MergePlan::UpdateBranch => {
                let (outcome, note) = self.update_branch(client, work, number, pr, head).await?;
                if let Some(note) = &note {
                    run.complete(verdict.conclusion, report(Some(note)), &annotations)
                        .await?;
                }
                (outcome, note, None)
            }
            _ => (Outcome::Done, None, None),
        };

        // The history entry: what the page shows of this evaluation.
        let merged = attempt.as_ref().is_some_and(|a| a.answer == MERGED);
        let (decision, reason) = snapshot::decision(&verdict.plan, note.as_ref(), merged);
        let page = PageSnapshot {
            title: pr.title.clone(),
            repo_url: repo_web_url(pr, self.gh.api_url(), &work.repo),
            head: head.to_string(),
            base: base_ref.clone(),
            conclusion: snapshot::conclusion_word(verdict.conclusion),
            shadow_of: verdict.shadow_of.map(snapshot::conclusion_word),
            headline: report(note.as_ref()).title,
            unblock: if merged {
                Vec::new()
            } else {
                snapshot::unblock(&guards, &gate, &verdict.plan, note.as_ref())
            },
            guards: snapshot::guard_views(&guards, &annotations, guards::CONFLICT_GUARD),
            gate: snapshot::gate_view(&gate, &since),
            merge: MergeView {
                plan: reason.clone(),
                attempt,
                next_retry: match &outcome {
                    Outcome::RetryAt(at, _) if !merged => Some(*at),
                    _ => None,
                },
                max_attempts: config.merge.max_attempts,
            },
        };
        self.record(work, number, head, recording, decision, reason, &page)
            .await;
        Ok(outcome)
    }

    /// Adds this evaluation to the pull request's history. A failure to
    /// write it is logged, never the evaluation's failure: the check run
    /// and the merge are what count.
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        work: &Work,
        number: PrNumber,
        head: &CommitSha,
        recording: &Recording<'_>,
        decision: String,
        reason: String,
        page: &PageSnapshot,
    ) {
        let snapshot = match serde_json::to_string(page) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not encode the page snapshot");
                return;
            }
        };
        let evaluation = Evaluation {
            repo: work.repo.clone(),
            pr: number,
            at: Utc::now(),
            cause: recording.cause.to_owned(),
            head: head.clone(),
            decision,
            reason,
            requests: recording.requests(),
            snapshot,
        };
        if let Err(e) = self.store.record_evaluation(&evaluation).await {
            tracing::warn!(error = %e, "could not record the evaluation in the history");
        }
    }

    /// The base tip `comparison` was made against, and the repository config
    /// read there. An invalid config completes `run` as a failure naming
    /// each problem and answers `None`: the guards and merging stay off until
    /// it is fixed.
    async fn config_at_base(
        &self,
        client: &InstallationClient,
        work: &Work,
        comparison: &Comparison,
        run: &mut CheckRunHandle<'_>,
    ) -> Result<Option<(CommitSha, RepoConfig)>, EvalError> {
        let base_tip: CommitSha = comparison
            .base_commit
            .sha
            .parse()
            .map_err(|e| EvalError::Internal(anyhow::anyhow!("compare base: {e}")))?;
        match self.configs.load(client, &work.repo, &base_tip).await? {
            Ok(config) => Ok(Some((base_tip, config))),
            Err(problems) => {
                tracing::info!(problems = problems.len(), "invalid repository config");
                run.complete(Conclusion::Failure, summary::invalid_config(&problems), &[])
                    .await?;
                self.store.set_waiting(work, false, Utc::now()).await?;
                metrics::counter!("seamguard_evaluations_total", "outcome" => "invalid_config")
                    .increment(1);
                Ok(None)
            }
        }
    }

    /// What `base_ref` requires (protection and rulesets): read from
    /// GitHub when `fresh` or when this replica holds no read that still
    /// stands (see [`requirements_cache`](super::requirements_cache)). The
    /// flag says whether it was read now.
    async fn requirements_of(
        &self,
        client: &InstallationClient,
        work: &Work,
        base_ref: &str,
        fresh: bool,
    ) -> Result<(requirements_cache::Read, bool), EvalError> {
        let generation = self
            .store
            .meta(&requirements_cache::generation_key(&work.repo))
            .await?;
        if !fresh
            && let Some(read) = self
                .requirements
                .get(&work.repo, base_ref, generation.as_deref())
        {
            return Ok((read, false));
        }
        let mut unreadable = Vec::new();
        let protection = requires_nothing_if_forbidden(
            client.protection_checks(&work.repo, base_ref).await,
            "classic branch protection",
            &mut unreadable,
        )?
        .flatten();
        let rules = requires_nothing_if_forbidden(
            client.branch_rules(&work.repo, base_ref).await,
            "repository rulesets",
            &mut unreadable,
        )?
        .unwrap_or_default();
        let read = requirements_cache::Read {
            protection,
            rules,
            unreadable,
        };
        self.requirements
            .put(&work.repo, base_ref, generation, read.clone());
        Ok((read, true))
    }

    /// Reads the gate: protection ∪ rulesets ∪ extra (from GitHub when
    /// `fresh`, else perhaps as read shortly before), and the states on the
    /// head. seamguard's own run is judged by this evaluation's guards. The
    /// flag says whether the requirements were read now.
    #[allow(clippy::too_many_arguments)]
    async fn read_gate(
        &self,
        client: &InstallationClient,
        work: &Work,
        base_ref: &str,
        base_tip: &CommitSha,
        head: &CommitSha,
        runs: &[CheckRun],
        guards: Conclusion,
        config: &RepoConfig,
        fresh: bool,
        statuses_read: &mut Option<Vec<CommitStatus>>,
    ) -> Result<(GateReport, Vec<Option<DateTime<Utc>>>, bool), EvalError> {
        let (read, read_now) = self.requirements_of(client, work, base_ref, fresh).await?;
        let classic = read.protection.as_ref().map(gate_facts::classic_checks);
        let rules: Vec<_> = read.rules.iter().map(gate_facts::ruleset_rule).collect();
        let mut req: Requirements =
            required_checks::requirements(classic.as_ref(), &rules, &config.required_checks.extra);
        req.unreadable = read.unreadable;

        // seamguard's own run: the result this evaluation is writing.
        let mut runs: Vec<RunSeen> = runs
            .iter()
            .filter(|r| {
                !(r.name == CHECK_NAME && r.app.as_ref().is_some_and(|a| a.id == self.cfg.app_id.0))
            })
            .map(gate_facts::run_seen)
            .collect();
        runs.push(own_result(self.cfg.app_id.0, guards));

        // Commit statuses only when some required context has no check run.
        let needs_statuses = req
            .checks
            .iter()
            .any(|c| c.app_id.is_none() && !runs.iter().any(|r| r.name == c.context));
        let statuses = match (needs_statuses, &*statuses_read) {
            (false, _) => Vec::new(),
            // Read by this evaluation's first look at the gate.
            (true, Some(read)) => read.clone(),
            (true, None) => {
                let read = client.statuses(&work.repo, head).await?;
                *statuses_read = Some(read.clone());
                read
            }
        };
        let first_seen: DateTime<Utc> = self.store.first_seen(&work.repo, head, Utc::now()).await?;
        let overdue = Utc::now() - first_seen
            > chrono::Duration::from_std(config.required_checks.register_timeout)
                .unwrap_or_default();
        let statuses: Vec<_> = statuses.iter().map(gate_facts::status_seen).collect();
        let mut gate = required_checks::gate(&req, &runs, &statuses, overdue, Some(first_seen));
        if !gate.missing().is_empty() {
            gate.evidence = self
                .never_comes(client, work, base_ref, base_tip, &gate)
                .await;
        }
        let since = gate.entries.iter().map(|e| e.since).collect();
        Ok((gate, since, read_now))
    }

    /// Evidence from the base's recent history about each required check
    /// missing on the head: one GraphQL read per base SHA, cached. A failed
    /// read is no evidence (logged), never a failed evaluation.
    async fn never_comes(
        &self,
        client: &InstallationClient,
        work: &Work,
        base_ref: &str,
        base_tip: &CommitSha,
        gate: &GateReport,
    ) -> Vec<never_comes::CheckEvidence> {
        let key = (work.repo.clone(), base_tip.clone());
        let cached = self
            .base_histories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let history = match cached {
            Some(h) => h,
            None => match client
                .base_history(&work.repo, base_tip, never_comes::HISTORY_DEPTH)
                .await
            {
                Ok(commits) => {
                    let history = never_comes::BaseHistory {
                        commits: commits
                            .into_iter()
                            .map(|c| {
                                c.into_iter()
                                    .map(|(context, app_id)| never_comes::Seen { context, app_id })
                                    .collect()
                            })
                            .collect(),
                    };
                    let mut cache = self
                        .base_histories
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    if cache.len() >= MAX_BASE_HISTORIES {
                        cache.clear();
                    }
                    cache.insert(key, history.clone());
                    history
                }
                Err(e) => {
                    tracing::info!(error = %e, "base history unreadable; no evidence about missing checks");
                    return Vec::new();
                }
            },
        };
        gate.entries
            .iter()
            .filter(|e| matches!(e.state, required_checks::CheckState::Missing { .. }))
            .filter_map(|e| {
                never_comes::evidence(&e.check, &history, gate.merge_queue.is_some()).map(
                    |evidence| never_comes::CheckEvidence {
                        context: e.check.context.clone(),
                        app_id: e.check.app_id,
                        base: base_ref.to_owned(),
                        evidence,
                    },
                )
            })
            .collect()
    }

    /// Merges with the head pinned and reads GitHub's answer. Returns the
    /// job's outcome and what to say in the check run when there is
    /// something to say. The only caller of the merge endpoint: each call is
    /// counted on its head, and none is made once `merge.max_attempts` are
    /// spent.
    async fn merge(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        head: &CommitSha,
        config: &RepoConfig,
    ) -> Result<(Outcome, Option<MergeNote>, Option<Attempt>), EvalError> {
        let max = config.merge.max_attempts;
        let before = self.store.merge_attempts(&work.repo, number, head).await?;
        if !merge_answer::may_call(before, max) {
            // decide() gives up first; this is the structural backstop.
            tracing::warn!(attempts = before, "merge attempts spent; not calling");
            let note = MergeNote::GaveUp {
                attempts: before,
                answer: None,
            };
            return Ok((Outcome::Done, Some(note), None));
        }
        let method = config.merge.method.as_str();
        let answer = client
            .at(Priority::High)
            .merge(&work.repo, number, head, method)
            .await;
        if let Err(e) = &answer
            && e.is_deferred()
        {
            // Never sent: not an attempt. The work waits in the store.
            tracing::info!(error = %e, "merge waits for GitHub's budget");
            return Err(EvalError::GitHub(e.clone()));
        }
        let label = match &answer {
            Ok(_) => "merged",
            Err(e) if e.is_transient() => "failed",
            Err(_) => "refused",
        };
        let attempt = self
            .store
            .record_merge_attempt(&work.repo, number, head, label)
            .await?;
        let (result, why) = match answer {
            Ok(result) => {
                tracing::info!(sha = result.sha.as_deref().unwrap_or(""), "merged");
                (CallResult::Merged, String::new())
            }
            Err(e) if e.is_transient() => {
                // GitHub may have merged before the answer was lost: read
                // before any retry. A merge is never attempted twice blindly.
                tracing::warn!(error = %e, "merge call failed ambiguously; reading the pull request");
                let after = client.pull(&work.repo, number).await?;
                if after.is_merged() {
                    tracing::info!("the pull request did merge");
                    (CallResult::Merged, String::new())
                } else {
                    (CallResult::Failed, format!("GitHub failed: {}", e.message))
                }
            }
            Err(e) => {
                let class = e.status.map_or(merge_answer::MergeAnswer::Refused, |s| {
                    merge_answer::classify(s, &e.message)
                });
                // "Head moved" is only a head move when the pull request
                // shows another head; otherwise it is an attempt like any
                // other.
                let head_moved = class == merge_answer::MergeAnswer::HeadMoved
                    && client.pull(&work.repo, number).await?.head.sha != head.as_str();
                (
                    CallResult::Answered {
                        answer: class,
                        head_moved,
                    },
                    e.message,
                )
            }
        };
        let step = merge_answer::next_step(result, attempt, max);
        tracing::info!(
            attempt,
            max,
            result = result.as_str(),
            step = step.as_str(),
            "merge answered"
        );
        let made = Attempt {
            at: Some(Utc::now()),
            number: attempt,
            answer: match step {
                MergeStep::Merged => MERGED.to_owned(),
                _ => crate::gate::merge_answer::clean_message(&why),
            },
        };
        let (outcome, note) = match step {
            MergeStep::Merged => {
                metrics::counter!("seamguard_merges_total", "outcome" => "merged").increment(1);
                self.store.set_waiting(work, false, Utc::now()).await?;
                self.leave_line(work, number).await?;
                (Outcome::Done, None)
            }
            MergeStep::Reevaluate => {
                tracing::info!("head moved during the merge; evaluating the new head");
                metrics::counter!("seamguard_merges_total", "outcome" => "head_moved").increment(1);
                (Outcome::RetryAt(Utc::now(), "head moved".into()), None)
            }
            MergeStep::RetryLater => {
                metrics::counter!("seamguard_merges_total", "outcome" => "pending").increment(1);
                let wait = merge_backoff(self.cfg.merge_retry_base, attempt);
                tracing::info!(attempt, wait_ms = wait.as_millis() as u64, %why, "merge not done; retrying later");
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                (
                    Outcome::RetryAt(at, format!("merge attempt {attempt} of {max}: {why}")),
                    Some(MergeNote::Retrying {
                        attempt,
                        max,
                        answer: why,
                        wait,
                    }),
                )
            }
            MergeStep::Refused => {
                tracing::info!(%why, "GitHub refused the merge");
                metrics::counter!("seamguard_merges_total", "outcome" => "refused").increment(1);
                self.leave_line(work, number).await?;
                (Outcome::Done, Some(MergeNote::Refused { answer: why }))
            }
            MergeStep::GaveUp => {
                tracing::warn!(attempt, %why, "merge attempts exhausted");
                metrics::counter!("seamguard_merges_total", "outcome" => "gave_up").increment(1);
                self.leave_line(work, number).await?;
                (
                    Outcome::Done,
                    Some(MergeNote::GaveUp {
                        attempts: attempt,
                        answer: Some(why),
                    }),
                )
            }
        };
        Ok((outcome, note, Some(made)))
    }

    /// A strict base's line: join it (or keep the place), or leave it when
    /// the pull request is no longer ready; only the first in line keeps a
    /// merge or an update as its plan — the others wait, told where they
    /// stand.
    #[allow(clippy::too_many_arguments)]
    async fn take_place(
        &self,
        work: &Work,
        number: PrNumber,
        base: &str,
        facts: &PrFacts,
        gate: &GateReport,
        head: &CommitSha,
        config: &RepoConfig,
        plan: MergePlan,
    ) -> Result<MergePlan, EvalError> {
        let ready = match &plan {
            MergePlan::Merge | MergePlan::UpdateBranch => true,
            // Its required checks are running (or not registered yet).
            MergePlan::Waiting { .. } => !facts.draft && gate.status() == GateStatus::Waiting,
            _ => false,
        };
        if !ready {
            self.leave_line(work, number).await?;
            return Ok(plan);
        }
        let priority = config
            .merge
            .priority_label
            .as_ref()
            .is_some_and(|l| facts.labels.contains(l));
        let now = Utc::now();
        let line = self
            .store
            .line_join(&work.repo, base, number, priority, now)
            .await?;
        Ok(match strict_line::place(&line, number, now) {
            Place::First => {
                let updating = line
                    .iter()
                    .find(|e| e.pr == number)
                    .and_then(|e| e.updating_head.as_deref())
                    == Some(head.as_str());
                match plan {
                    MergePlan::UpdateBranch if updating => MergePlan::Waiting {
                        why: format!(
                            "1st in line for `{base}`; the branch is being updated with its base"
                        ),
                    },
                    MergePlan::Waiting { why } => MergePlan::Waiting {
                        why: format!("1st in line for `{base}`; {why}"),
                    },
                    plan => plan,
                }
            }
            Place::Behind {
                place,
                lead,
                lead_updating,
                lead_stale,
            } => {
                if lead_stale {
                    tracing::info!(lead = lead.0, "first in line looks stuck; evaluating it");
                    self.enqueue_pr(work, lead, "the first in line looks stuck")
                        .await?;
                }
                let mut text = strict_line::behind_text(place, base, lead, lead_updating);
                if let MergePlan::Waiting { why } = &plan {
                    text.push_str(&format!(" (this one is also {why})"));
                }
                MergePlan::InLine { text }
            }
        })
    }

    /// Takes the pull request out of its base's line, and has the new first
    /// in line evaluated (it may be updated or merged now).
    pub(crate) async fn leave_line(&self, work: &Work, number: PrNumber) -> Result<(), EvalError> {
        if let Some(base) = self.store.line_leave(&work.repo, number).await? {
            tracing::info!(%base, "left the line");
            if let Some(next) = self.store.line(&work.repo, &base).await?.first() {
                self.enqueue_pr(work, next.pr, "the next in line").await?;
            }
        }
        Ok(())
    }

    /// Brings the first in line up to date: `update-branch` with the head
    /// pinned, or — where GitHub refuses it to the App — the base merged
    /// into the head branch. Says so when neither is possible (a fork), and
    /// then steps out of the line so the next one goes.
    async fn update_branch(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        pr: &PullRequest,
        head: &CommitSha,
    ) -> Result<(Outcome, Option<MergeNote>), EvalError> {
        let refused = match client.update_branch(&work.repo, number, head).await {
            Ok(()) => {
                tracing::info!("asked GitHub to update the branch");
                self.store
                    .line_updating(&work.repo, number, Some(head), Utc::now())
                    .await?;
                metrics::counter!("seamguard_branch_updates_total", "how" => "update_branch")
                    .increment(1);
                return Ok((Outcome::Done, None));
            }
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => e,
        };
        if refused.is_status(422) && refused.message.contains("expected head sha") {
            tracing::info!("head moved before the update; evaluating the new head");
            return Ok((Outcome::RetryAt(Utc::now(), "head moved".into()), None));
        }
        let answer = clean_message(&refused.message);
        let same_repo = pr
            .head
            .repo
            .as_ref()
            .is_some_and(|r| r.full_name.eq_ignore_ascii_case(&work.repo.to_string()));
        if !same_repo {
            self.leave_line(work, number).await?;
            let why = format!(
                "GitHub refused `update-branch` (“{answer}”), and the head branch is in a fork, \
                 where seamguard cannot merge the base in"
            );
            return Ok((Outcome::Done, Some(MergeNote::CannotUpdate { why })));
        }
        tracing::info!(%answer, "update-branch refused; merging the base into the head branch");
        match client
            .merge_into_branch(&work.repo, &pr.head.branch, &pr.base.branch)
            .await
        {
            Ok(_) => {
                self.store
                    .line_updating(&work.repo, number, Some(head), Utc::now())
                    .await?;
                metrics::counter!("seamguard_branch_updates_total", "how" => "merge_base_in")
                    .increment(1);
                Ok((Outcome::Done, None))
            }
            Err(e) if e.is_transient() => Err(e.into()),
            Err(e) => {
                self.leave_line(work, number).await?;
                let why = format!(
                    "GitHub refused `update-branch` (“{answer}”) and merging `{}` into `{}` (“{}”)",
                    pr.base.branch,
                    pr.head.branch,
                    clean_message(&e.message)
                );
                Ok((Outcome::Done, Some(MergeNote::CannotUpdate { why })))
            }
        }
    }

    /// The base requires GitHub's merge queue: read where the pull request
    /// stands there, and enqueue this head once, pinned. Never `PUT
    /// …/merge`. A refusal on a head that moved evaluates the new head.
    async fn enqueue(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        pr: &PullRequest,
        head: &CommitSha,
        config: &RepoConfig,
    ) -> Result<(Outcome, Option<MergeNote>), EvalError> {
        let base = pr.base.branch.clone();
        let read = client.queue_state(&work.repo, number).await?;
        // GitHub's answer in the rule's own terms.
        let state = merge_queue::QueueState {
            head: read.head,
            entry: read.entry.map(|e| merge_queue::Queued {
                position: e.position,
                state: e.state,
            }),
            last_removal: read.last_removal.map(|r| r.reason),
        };
        let enqueued_before = self.store.merge_attempts(&work.repo, number, head).await? > 0;
        match merge_queue::step(&state, head.as_str(), enqueued_before) {
            QueueStep::Queued { position, state } => {
                tracing::info!(?position, %state, "in the merge queue");
                return Ok((
                    Outcome::Done,
                    Some(MergeNote::Queued {
                        base,
                        position,
                        state,
                    }),
                ));
            }
            QueueStep::Removed { reason } => {
                tracing::info!(
                    ?reason,
                    "removed from the merge queue; not enqueuing this head again"
                );
                return Ok((Outcome::Done, Some(MergeNote::Dequeued { base, reason })));
            }
            QueueStep::HeadMoved => {
                tracing::info!("head moved before enqueuing; evaluating the new head");
                return Ok((Outcome::RetryAt(Utc::now(), "head moved".into()), None));
            }
            QueueStep::Enqueue => {}
        }
        if !merge_answer::may_call(0, config.merge.max_attempts) {
            return Ok((
                Outcome::Done,
                Some(MergeNote::EnqueueRefused {
                    answer: "merge.max_attempts is 0".into(),
                }),
            ));
        }
        let Some(node_id) = pr.node_id.as_deref() else {
            return Err(EvalError::Internal(anyhow::anyhow!(
                "the pull request has no node_id to enqueue with"
            )));
        };
        let answer = match client.enqueue(node_id, head).await {
            Ok(answer) => answer,
            Err(e) if e.is_transient() => {
                // GitHub may have enqueued before the answer was lost: the
                // next evaluation reads the queue before enqueuing again.
                tracing::warn!(error = %e, "enqueue failed ambiguously; reading the queue next");
                let at = Utc::now()
                    + chrono::Duration::from_std(self.cfg.merge_retry_base).unwrap_or_default();
                return Ok((
                    Outcome::RetryAt(at, format!("enqueue failed: {}", e.message)),
                    Some(MergeNote::EnqueueRefused { answer: e.message }),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        match answer {
            Enqueued::Queued(entry) => {
                self.store
                    .record_merge_attempt(&work.repo, number, head, "enqueued")
                    .await?;
                metrics::counter!("seamguard_merges_total", "outcome" => "enqueued").increment(1);
                tracing::info!(position = ?entry.position, "enqueued with the head pinned");
                Ok((
                    Outcome::Done,
                    Some(MergeNote::Queued {
                        base,
                        position: entry.position,
                        state: entry.state,
                    }),
                ))
            }
            Enqueued::Refused { kind, message } => {
                let now = client.pull(&work.repo, number).await?;
                if now.head.sha != head.as_str() {
                    tracing::info!(?kind, %message, "head moved; evaluating the new head");
                    return Ok((Outcome::RetryAt(Utc::now(), "head moved".into()), None));
                }
                tracing::info!(?kind, %message, "GitHub refused to enqueue");
                metrics::counter!("seamguard_merges_total", "outcome" => "enqueue_refused")
                    .increment(1);
                Ok((
                    Outcome::Done,
                    Some(MergeNote::EnqueueRefused { answer: message }),
                ))
            }
        }
    }

    /// A merge group: post the guards' check run on its head so a merge
    /// queue that requires `seamguard` never stalls. The merge-source guard
    /// is skipped: the group's merge commits are GitHub's own, and each pull
    /// request in it passed seamguard on its own head.
    pub(crate) async fn evaluate_merge_group(
        &self,
        work: &Work,
        head: &CommitSha,
        base_ref: &str,
        last_attempt: bool,
    ) -> Result<Outcome, EvalError> {
        let client = self.gh.installation(work.installation);
        let mut run =
            CheckRunHandle::new(&client, &self.store, work, head.clone(), self.cfg.app_id);
        let mut config_seen: Option<RepoConfig> = None;
        let result = AssertUnwindSafe(async {
            let runs = client.check_runs(&work.repo, head).await?;
            run.open(Some(&runs)).await?;
            self.merge_group_guards(&client, work, head, base_ref, &mut run, &mut config_seen)
                .await
        })
        .catch_unwind()
        .await;
        fail_safe(result, last_attempt, &mut run, config_seen.as_ref())
            .await
            .map(|(outcome, _)| outcome)
    }

    async fn merge_group_guards(
        &self,
        client: &InstallationClient,
        work: &Work,
        head: &CommitSha,
        base_ref: &str,
        run: &mut CheckRunHandle<'_>,
        config_seen: &mut Option<RepoConfig>,
    ) -> Result<Outcome, EvalError> {
        // Its commits are GitHub's own: the first page (the files) is enough.
        let comparison = client
            .compare(&work.repo, base_ref, head.as_str(), 1)
            .await?;
        let Some((_, config)) = self.config_at_base(client, work, &comparison, run).await? else {
            return Ok(Outcome::Done);
        };
        *config_seen = Some(config.clone());
        let conflicts =
            guards::conflict_markers(client, &work.repo, None, head, &comparison, &config).await?;
        let guards = vec![conflicts.outcome, guards::skipped_for_merge_group()];
        let gate = GateReport::default();
        let plan = MergePlan::NotOptedIn {
            why: "this is a merge queue group; GitHub's queue merges it".into(),
        };
        let verdict = decision::Verdict {
            conclusion: decision::conclusion(&guards),
            plan,
            shadow_of: None,
        }
        .under(config.mode, head);
        log_decision(&verdict, &guards);
        let conclusion = verdict.conclusion;
        run.hold(conclusion);
        let output = summary::render(&summary::Report {
            guards: &guards,
            gate: &gate,
            conclusion,
            shadow_of: verdict.shadow_of,
            plan: &verdict.plan,
            merge: None,
            register_timeout: config.required_checks.register_timeout,
        });
        let output = summary::with_notes(output, &config.notes);
        run.complete(conclusion, output, &conflicts.annotations)
            .await?;
        Ok(Outcome::Done)
    }

    /// A status or a fork's check names only a SHA: find its open pull
    /// requests and evaluate each.
    pub(crate) async fn fan_out_commit(
        &self,
        work: &Work,
        sha: &CommitSha,
        cause: &str,
    ) -> Result<Outcome, EvalError> {
        let client = self.gh.installation(work.installation);
        let prs = client.pulls_for_commit(&work.repo, sha).await?;
        for pr in prs
            .iter()
            .filter(|p| p.head.sha == sha.as_str() && p.closed_at.is_none())
        {
            self.enqueue_pr(work, PrNumber(pr.number), cause).await?;
        }
        Ok(Outcome::Done)
    }

    /// A push to a branch: the open, opted-in pull requests based on it may
    /// now merge (or need updating).
    pub(crate) async fn fan_out_base(
        &self,
        work: &Work,
        branch: &str,
        cause: &str,
    ) -> Result<Outcome, EvalError> {
        self.configs.pushed(&work.repo);
        self.fan_out(work, Some(branch), cause).await
    }

    /// What the repository's branches require changed (announced by a
    /// `branch_protection_rule`, `repository_ruleset` or `repository`
    /// delivery): every replica reads them again from now on (a new
    /// generation in the store), and the opted-in pull requests are
    /// evaluated against them — a check no longer required may have been
    /// all that held one back.
    pub(crate) async fn requirements_changed(
        &self,
        work: &Work,
        cause: &str,
    ) -> Result<Outcome, EvalError> {
        self.store
            .set_meta(
                &requirements_cache::generation_key(&work.repo),
                &requirements_cache::new_generation(),
            )
            .await?;
        self.requirements.forget(&work.repo);
        tracing::info!("the repository's requirements changed; reading them again");
        self.fan_out(work, None, cause).await
    }

    /// Evaluates the open, opted-in pull requests based on `branch` (on
    /// any branch when `None`).
    async fn fan_out(
        &self,
        work: &Work,
        branch: Option<&str>,
        cause: &str,
    ) -> Result<Outcome, EvalError> {
        let client = self.gh.installation(work.installation);
        let prs = client.open_pulls_on(&work.repo, branch).await?;
        if prs.is_empty() {
            return Ok(Outcome::Done);
        }
        let config = match self.configs.read_file(&client, &work.repo, branch).await? {
            Some(file) => RepoConfig::parse(&file.text).unwrap_or_default(),
            None => RepoConfig::default(),
        };
        for pr in &prs {
            // Who stands behind each head is the evaluation's to ask; here
            // only the settings choose what to look at.
            let opted_in = match config.merge.mode {
                crate::config::repo::MergeMode::Never => false,
                crate::config::repo::MergeMode::Always => true,
                crate::config::repo::MergeMode::Label => {
                    pr.label_names().contains(&config.merge.label)
                }
            };
            if opted_in && !pr.is_draft() {
                self.enqueue_pr(work, PrNumber(pr.number), cause).await?;
            }
        }
        Ok(Outcome::Done)
    }

    async fn enqueue_pr(
        &self,
        work: &Work,
        number: PrNumber,
        cause: &str,
    ) -> Result<(), EvalError> {
        let pr_work = Work {
            installation: work.installation,
            repo: work.repo.clone(),
            target: Target::Pr { number },
        };
        self.store
            .enqueue_because(pr_work, Utc::now(), &format!("{cause}, via {}", work.key()))
            .await?;
        Ok(())
    }
}

/// One at a time on a strict base: branches must be up to date, there is
/// no merge queue (GitHub's queue does this itself), seamguard may update
/// branches (`merge.update_branch`), and it acts (not shadow mode).
fn in_strict_line(gate: &GateReport, config: &RepoConfig) -> bool {
    gate.strict
        && gate.merge_queue.is_none()
        && config.merge.update_branch
        && config.mode == crate::config::repo::Mode::Enforce
}

/// How a merge that went through is written in the history.
const MERGED: &str = "merged";

/// A 403 from one requirement source is reported, never a failed
/// evaluation: the source is recorded as unreadable, the summary says so,
/// and the decision makes no acting plan on it (what it requires is
/// unknown, not nothing).
fn requires_nothing_if_forbidden<T>(
    read: Result<T, GhError>,
    source: &'static str,
    unreadable: &mut Vec<Unreadable>,
) -> Result<Option<T>, EvalError> {
    match read {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_status(403) => {
            tracing::warn!(error = %e, source, "requirement source unreadable; nothing will be merged on it");
            unreadable.push(Unreadable {
                source,
                reason: format!("HTTP 403: {}", e.message),
            });
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// seamguard's own run as the gate reads it: the conclusion this
/// evaluation is about to write (a repository may require `seamguard`).
fn own_result(app_id: u64, conclusion: Conclusion) -> RunSeen {
    RunSeen {
        id: u64::MAX,
        name: CHECK_NAME.to_owned(),
        app_id: Some(app_id),
        status: "completed".to_owned(),
        conclusion: Some(conclusion.as_str().to_owned()),
        started_at: Some(Utc::now()),
        completed_at: Some(Utc::now()),
    }
}

impl From<GhError> for EvalError {
    fn from(e: GhError) -> Self {
        EvalError::GitHub(e)
    }
}
