//! One evaluation of one pull request, in three steps: gather a
//! [`Snapshot`](crate::gate::evaluation::Snapshot) (`gather`), decide
//! ([`evaluation::decide`], pure), act (`act`). This module only
//! orchestrates them and keeps the promise below.
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

use std::panic::AssertUnwindSafe;

use chrono::Utc;
use futures::FutureExt;
use tracing::Instrument;

use super::act::PageBody;
use super::check_run::CheckRunHandle;
use super::gather::Gathered;
use super::subject::{Recording, Subject};
use super::{Engine, EvalError, Outcome};
use crate::config::repo::{OnInternalError, RepoConfig};
use crate::gate::decision::Conclusion;
use crate::gate::evaluation::{self, LineStep};
use crate::github::models::CheckRun;
use crate::github::{GhError, InstallationClient, Priority};
use crate::ids::{CommitSha, PrNumber};
use crate::store::{Target, Work};

/// Internal-error messages in a check run stay readable.
const MAX_ERROR_CHARS: usize = 2_000;

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic (no message)".to_owned()
    }
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
pub(crate) async fn fail_safe(
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
        if let Some(e) = self.budget_holds(work).await? {
            return Err(EvalError::GitHub(e));
        }
        let started = std::time::Instant::now();
        let client = self.gh.installation(work.installation);
        let pr = match client.pull(&work.repo, number).await {
            Ok(pr) => pr,
            Err(e) if e.is_status(404) => {
                let Target::Pr {
                    head: Some(head), ..
                } = &work.target
                else {
                    return Err(e.into());
                };
                return self
                    .not_shown_yet(&client, work, number, head, last_attempt, e)
                    .await;
            }
            Err(e) => return Err(e.into()),
        };
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
        let subject = Subject {
            client: &client,
            work,
            number,
            pr: &pr,
            head: &head,
            recording,
            started,
        };
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
            // A push stored since this evaluation read the pull request
            // supersedes its head: the work runs again for the new one, and
            // nothing is written on this one.
            if let Some(newer) = self.store.superseded(work, &head).await? {
                tracing::info!(%newer, "a push superseded this head before its run was written");
                return Ok(Outcome::Done);
            }
            run.open(&runs);
            self.evaluate_head(&subject, &runs, &mut run, &mut config_seen)
                .await
        })
        .catch_unwind()
        .await;
        let (outcome, error) =
            fail_safe(result, last_attempt, &mut run, config_seen.as_ref()).await?;
        if let Some(error) = error {
            // The history says what went wrong, as the check run does.
            let body = PageBody::InternalError {
                conclusion: failsafe_conclusion(config_seen.as_ref()),
                reason: error.chars().take(200).collect(),
            };
            let recorded = self.page(&subject, body);
            self.record(&subject, &recorded).await;
        }
        Ok(outcome)
    }

    /// Whether GitHub's write budget holds this evaluation back before its
    /// first read, and the deferral to hand back if so. When even the merge
    /// reserve is spent, every evaluation waits. When only reports are
    /// refused (the rest of the window went to other pull requests'
    /// reports), an evaluation that may act still goes — its merge, and the
    /// completion just before it, spend the reserve — and one that could
    /// only report waits whole, so its reads are spent once, when it runs.
    async fn budget_holds(&self, work: &Work) -> Result<Option<GhError>, EvalError> {
        if let Some(e) = self.gh.writes_deferred(work.installation, Priority::Merge) {
            return Ok(Some(e));
        }
        let Some(e) = self.gh.writes_deferred(work.installation, Priority::High) else {
            return Ok(None);
        };
        if self.may_act(work).await? {
            tracing::debug!("reports wait for GitHub's budget; this evaluation may act and goes");
            return Ok(None);
        }
        Ok(Some(e))
    }

    /// Whether an evaluation of `work` may end in an act, as far as the
    /// store knows without asking GitHub: a pull request whose last
    /// evaluation waited to merge (marked waiting), or one never evaluated
    /// (its first evaluation finds out, and marks it). Work that is not a
    /// pull request's (a person's command) always may.
    async fn may_act(&self, work: &Work) -> Result<bool, EvalError> {
        let Target::Pr { number, .. } = &work.target else {
            return Ok(true);
        };
        if self.store.is_waiting(work).await? {
            return Ok(true);
        }
        Ok(self
            .store
            .evaluations(&work.repo, *number, 1)
            .await?
            .is_empty())
    }

    /// GitHub answers 404 for a pull request a delivery named, with its
    /// head (it does so for a moment after one is opened, and for good when
    /// access is lost). A required `seamguard` check must not show
    /// "Expected" with no word of why: the run goes on the delivery's head
    /// at once, saying it waits, the job retries with backoff, and after the
    /// last retry the run completes fail-safe, naming the 404.
    async fn not_shown_yet(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        head: &CommitSha,
        last_attempt: bool,
        error: GhError,
    ) -> Result<Outcome, EvalError> {
        tracing::info!(head = %head, "GitHub does not show the pull request yet (404)");
        let mut run = CheckRunHandle::new(client, &self.store, work, head.clone(), self.cfg.app_id);
        run.details_url = self
            .links
            .as_ref()
            .map(|l| l.url(&work.repo, number, Utc::now()));
        let runs = client.check_runs(&work.repo, head).await?;
        run.open_saying(
            Some(&runs),
            "Waiting for GitHub to show this pull request",
            &format!(
                "GitHub answers 404 for pull request #{} (it does for a moment after one is \
                 opened). seamguard asks again with backoff.",
                number.0
            ),
        )
        .await?;
        if !last_attempt {
            return Err(EvalError::NotShownYet(error));
        }
        let why = format!(
            "GitHub answered 404 for pull request #{} through every retry: {}. \
             Check that the App can still read this repository, then comment \
             `@seamguard recheck`.",
            number.0, error.message
        );
        let conclusion = run
            .complete_fail_safe(failsafe_conclusion(None), &why)
            .await?;
        tracing::warn!(
            conclusion = conclusion.as_str(),
            "pull request never shown; check run completed fail-safe"
        );
        Ok(Outcome::Done)
    }

    /// Gather, decide, act.
    async fn evaluate_head(
        &self,
        s: &Subject<'_>,
        runs: &[CheckRun],
        run: &mut CheckRunHandle<'_>,
        config_seen: &mut Option<RepoConfig>,
    ) -> Result<Outcome, EvalError> {
        let (mut snapshot, annotations, read_now) =
            match self.gather(s, runs, run, config_seen).await? {
                Gathered::Snapshot {
                    snapshot,
                    annotations,
                    read_now,
                } => (snapshot, annotations, read_now),
                Gathered::InvalidConfig { problems } => {
                    return self.act_on_invalid_config(s, run, &problems).await;
                }
            };
        let mut decision = evaluation::decide(&snapshot);
        // Acting on GitHub takes the gate GitHub holds now, never one read
        // a while ago. A source that could not be read blocks acting: it is
        // read afresh too, so a permission granted since counts at once.
        if !read_now && (decision.plan.acts() || !decision.gate.unreadable.is_empty()) {
            self.read_again(s, &mut snapshot).await?;
            decision = evaluation::decide(&snapshot);
        }
        match decision.line_step() {
            LineStep::None => {}
            LineStep::Leave => self.leave_line(s.work, s.number).await?,
            LineStep::Join { priority } => {
                let now = Utc::now();
                let line = self
                    .store
                    .line_join(&s.work.repo, &snapshot.base, s.number, priority, now)
                    .await?;
                let (placed, stuck) = decision.placed(&line, s.number, s.head, &snapshot.base, now);
                decision = placed;
                if let Some(lead) = stuck {
                    tracing::info!(lead = lead.0, "first in line looks stuck; evaluating it");
                    self.enqueue_pr(s.work, lead, "the first in line looks stuck")
                        .await?;
                }
            }
        }
        let outcome = self.act(s, &snapshot, &decision, run, &annotations).await?;
        if let (Some(facts), Some(report)) = (&snapshot.stack, &decision.stack) {
            self.stack_evaluated(s.work, facts, report).await?;
        }
        Ok(outcome)
    }
}

impl From<GhError> for EvalError {
    fn from(e: GhError) -> Self {
        EvalError::GitHub(e)
    }
}
