//! Act: carries a [`Decision`] out — completes the check run, merges,
//! enqueues or updates the branch, keeps the line, and records the
//! evaluation in the pull request's history. The page's snapshot is built
//! here, in one place ([`Engine::page`]), for every way an evaluation ends.
//!
//! Merging and enqueueing: every request to the merge endpoints (a direct
//! merge, or `merge_action: merge_queue` where the base requires GitHub's
//! merge queue) is counted on its head before its answer is acted on, and
//! none is made once `merge.max_attempts` are spent
//! ([`merge_answer::may_call`]), whatever GitHub answered ([`Engine::ask`]).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::check_run::CheckRunHandle;
use super::merger::{self, Called, Merge, MergeCall, MergerError, Poll};
use super::subject::Subject;
use super::{Engine, EvalError, Outcome};
use crate::config::repo::RepoConfig;
use crate::gate::decision::{self, Conclusion, MergePlan};
use crate::gate::evaluation::{Decision, Snapshot};
use crate::gate::merge_answer::{self, CallResult, MergeStep, clean_message};
use crate::gate::merge_queue::{self, QueueStep};
use crate::gate::summary::{self, MergeNote};
use crate::github::api::{Enqueued, MergeAction};
use crate::github::models::{Annotation, PullRequest};
use crate::github::{GhError, InstallationClient, Priority};
use crate::ids::{CommitSha, PrNumber};
use crate::store::{Evaluation, Work};
use crate::web::snapshot::{self, AsyncRequestView, Attempt, MergeView, PageSnapshot};

/// Merge retries back off exponentially from the configured base up to
/// this, so a slow CI is polled a few times a minute at most.
const MAX_MERGE_BACKOFF: Duration = Duration::from_secs(5 * 60);

/// How a merge that went through is written in the history.
const MERGED: &str = "merged";

/// How long an evaluation follows an asynchronous merge it asked for:
/// three reads 400 ms apart, so a worker is held at most 1.2 s by it. A
/// merge GitHub has not finished by then is read again later (after the
/// merge backoff), or settled first by the `closed` delivery.
const ACT_POLL: Poll = Poll {
    reads: 3,
    interval: Duration::from_millis(400),
};

/// What a merge came to: the job's outcome, what to say in the check run,
/// the attempt this evaluation made (or settled), and the asynchronous
/// request GitHub still holds.
struct Merged {
    outcome: Outcome,
    note: Option<MergeNote>,
    attempt: Option<Attempt>,
    request: Option<AsyncRequestView>,
}

impl Merged {
    /// An outcome and a note, with no attempt made.
    fn said(outcome: Outcome, note: Option<MergeNote>) -> Self {
        Merged {
            outcome,
            note,
            attempt: None,
            request: None,
        }
    }
}

/// A request to merge (or enqueue) one head, as [`Engine::ask`] sends it.
struct Ask<'a> {
    client: &'a InstallationClient,
    work: &'a Work,
    number: PrNumber,
    head: &'a CommitSha,
    config: &'a RepoConfig,
    action: MergeAction,
}

/// What [`Engine::ask`] came to.
enum Requested {
    /// The attempts on this head are spent and GitHub holds no request for
    /// it: nothing was sent.
    Spent { attempts: u32 },
    /// The merger's outcome (or the GitHub error that left it unknown),
    /// whether a request went to GitHub, and the attempt count on the head.
    Called {
        called: Result<Called, GhError>,
        sent: bool,
        attempt: u32,
    },
}

impl Requested {
    /// The merger's outcome, whether a request was sent and the attempt
    /// count; or, the attempts spent, how many there were.
    fn called(self) -> Result<(Result<Called, GhError>, bool, u32), u32> {
        match self {
            Requested::Spent { attempts } => Err(attempts),
            Requested::Called {
                called,
                sent,
                attempt,
            } => Ok((called, sent, attempt)),
        }
    }
}

/// What the check run says when a head's merge attempts are spent.
fn gave_up(attempts: u32) -> Merged {
    let note = MergeNote::GaveUp {
        attempts,
        answer: None,
    };
    Merged::said(Outcome::Done, Some(note))
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

/// How an evaluation ended, as its page shows it.
pub(crate) enum PageBody<'a> {
    Decided {
        decision: &'a Decision,
        note: Option<&'a MergeNote>,
        annotations: &'a [Annotation],
        attempt: Option<Attempt>,
        next_retry: Option<DateTime<Utc>>,
        max_attempts: u32,
        /// The asynchronous merge request GitHub holds, unfinished.
        request: Option<AsyncRequestView>,
    },
    InvalidConfig,
    InternalError {
        conclusion: Conclusion,
        reason: String,
    },
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

/// Logs the decision as fields a log pipeline can filter on: `verdict`
/// (the posted conclusion), `plan` and its `reason`, `shadow_of` in shadow
/// mode, and the guards by verdict (`failed_guards`, `passed_guards`,
/// `skipped_guards`: comma-separated identifiers such as
/// `conflict_markers`).
pub(crate) fn log_decision(
    conclusion: Conclusion,
    plan: &MergePlan,
    shadow_of: Option<Conclusion>,
    guards: &[decision::GuardOutcome],
) {
    let named = |v: decision::GuardVerdict| {
        guards
            .iter()
            .filter(|g| g.verdict == v)
            .map(|g| crate::telemetry::identifier(g.name))
            .collect::<Vec<_>>()
            .join(",")
    };
    tracing::info!(
        verdict = conclusion.as_str(),
        plan = plan.as_str(),
        reason = plan.reason().unwrap_or(""),
        shadow_of = shadow_of.map(Conclusion::as_str),
        failed_guards = named(decision::GuardVerdict::Failed),
        passed_guards = named(decision::GuardVerdict::Passed),
        skipped_guards = named(decision::GuardVerdict::Skipped),
        "decided"
    );
}

impl Engine {
    /// Carries `decision` out on `s`'s head and records it.
    pub(crate) async fn act(
        &self,
        s: &Subject<'_>,
        snapshot: &Snapshot,
        decision: &Decision,
        run: &mut CheckRunHandle<'_>,
        annotations: &[Annotation],
    ) -> Result<Outcome, EvalError> {
        log_decision(
            decision.conclusion,
            &decision.plan,
            decision.shadow_of,
            &decision.guards,
        );
        for g in &decision.guards {
            if g.verdict == decision::GuardVerdict::Failed {
                metrics::counter!("seamguard_guard_failures_total", "guard" => crate::telemetry::identifier(g.name)).increment(1);
            }
        }
        // Marked before the report is written: when GitHub's budget holds
        // the report back, the next evaluation still knows this pull
        // request may act (see `Engine::may_act`).
        // The completion before an act, and the act, finish work: they go
        // at `Priority::Merge`, which only they may spend the reserve at.
        let finishing = matches!(
            decision.plan,
            MergePlan::Merge | MergePlan::Enqueue | MergePlan::UpdateBranch
        );
        // A merge in flight waits too (for GitHub's answer or `closed`).
        self.store
            .set_waiting(s.work, decision.plan.is_waiting() || finishing, Utc::now())
            .await?;
        run.finishing = finishing;
        // The run is created by this completion: a push stored since the
        // evaluation began supersedes the head (its re-run is queued), and
        // nothing is written on the old one.
        if run.id.is_none()
            && let Some(newer) = self.store.superseded(s.work, s.head).await?
        {
            tracing::info!(%newer, "a push superseded this head before its run was written");
            return Ok(Outcome::Done);
        }
        let acting = s.client.at(Priority::Merge);
        // An enqueue is said once, with where GitHub's queue has it.
        if decision.plan != MergePlan::Enqueue {
            run.complete(decision.conclusion, decision.render(None), annotations)
                .await?;
        }
        metrics::histogram!("seamguard_evaluation_seconds")
            .record(s.started.elapsed().as_secs_f64());
        metrics::counter!("seamguard_evaluations_total", "outcome" => decision.conclusion.as_str())
            .increment(1);

        let config = &snapshot.config;
        let mut request = None;
        let (outcome, note, attempt) = match decision.plan {
            MergePlan::Merge => {
                let merged = self
                    .merge(&acting, s.work, s.pr, s.number, s.head, config)
                    .await?;
                if let Some(note) = &merged.note {
                    run.complete(
                        decision.conclusion,
                        decision.render(Some(note)),
                        annotations,
                    )
                    .await?;
                }
                request = merged.request;
                (merged.outcome, merged.note, merged.attempt)
            }
            MergePlan::Enqueue => {
                let queued = self
                    .enqueue(&acting, s.work, s.number, s.pr, s.head, config)
                    .await?;
                run.complete(
                    decision.conclusion,
                    decision.render(queued.note.as_ref()),
                    annotations,
                )
                .await?;
                request = queued.request;
                (queued.outcome, queued.note, queued.attempt)
            }
            MergePlan::UpdateBranch => {
                let (outcome, note) = self
                    .update_branch(&acting, s.work, s.number, s.pr, s.head)
                    .await?;
                if let Some(note) = &note {
                    run.complete(
                        decision.conclusion,
                        decision.render(Some(note)),
                        annotations,
                    )
                    .await?;
                }
                (outcome, note, None)
            }
            // Waiting on what no event announces (GitHub computing
            // mergeability): evaluated again shortly.
            MergePlan::Waiting { .. } if decision.recheck.is_some() => {
                let after = decision.recheck.unwrap_or_default();
                (
                    Outcome::RetryAt(
                        Utc::now() + chrono::Duration::from_std(after).unwrap_or_default(),
                        decision.plan.reason().unwrap_or("recheck").to_owned(),
                    ),
                    None,
                    None,
                )
            }
            _ => (Outcome::Done, None, None),
        };
        let merged = attempt.as_ref().is_some_and(|a| a.answer == MERGED);
        let next_retry = match &outcome {
            Outcome::RetryAt(at, _) if !merged => Some(*at),
            _ => None,
        };
        let page = self.page(
            s,
            PageBody::Decided {
                decision,
                note: note.as_ref(),
                annotations,
                attempt,
                next_retry,
                max_attempts: config.merge.max_attempts,
                request,
            },
        );
        self.record(s, &page).await;
        Ok(outcome)
    }

    /// The config on the base branch is invalid: the run fails naming each
    /// problem, and the guards and merging stay off until it is fixed.
    pub(crate) async fn act_on_invalid_config(
        &self,
        s: &Subject<'_>,
        run: &mut CheckRunHandle<'_>,
        problems: &[String],
    ) -> Result<Outcome, EvalError> {
        self.fail_on_invalid_config(s.work, run, problems).await?;
        let page = self.page(s, PageBody::InvalidConfig);
        self.record(s, &page).await;
        Ok(Outcome::Done)
    }

    /// Completes `run` as a failure naming each config problem; the work
    /// no longer waits on anything (a pull request's or a merge group's).
    pub(crate) async fn fail_on_invalid_config(
        &self,
        work: &Work,
        run: &mut CheckRunHandle<'_>,
        problems: &[String],
    ) -> Result<(), EvalError> {
        tracing::info!(problems = problems.len(), "invalid repository config");
        run.complete(Conclusion::Failure, summary::invalid_config(problems), &[])
            .await?;
        self.store.set_waiting(work, false, Utc::now()).await?;
        metrics::counter!("seamguard_evaluations_total", "outcome" => "invalid_config")
            .increment(1);
        Ok(())
    }

    /// The page's view of this evaluation: the one place it is built.
    pub(crate) fn page(&self, s: &Subject<'_>, body: PageBody<'_>) -> Recorded {
        let pr = s.pr;
        let base = PageSnapshot {
            title: pr.title.clone(),
            repo_url: repo_web_url(pr, self.gh.api_url(), &s.work.repo),
            head: s.head.to_string(),
            base: pr.base.branch.clone(),
            ..PageSnapshot::default()
        };
        match body {
            PageBody::InvalidConfig => Recorded {
                decision: "blocked".into(),
                reason: "the repository config on the base branch is invalid".into(),
                page: PageSnapshot {
                    conclusion: Conclusion::Failure.as_str().to_owned(),
                    headline: "invalid .github/seamguard.yml".to_owned(),
                    unblock: vec![
                        "fix `.github/seamguard.yml` on the base branch (the check run lists each problem)"
                            .into(),
                    ],
                    blockers: vec![snapshot::blocker_other(
                        "invalid_config",
                        "the repository config on the base branch is invalid",
                        "fix `.github/seamguard.yml` on the base branch (the check run lists each problem)",
                    )],
                    ..base
                },
            },
            PageBody::InternalError { conclusion, reason } => Recorded {
                decision: "internal error".into(),
                reason: reason.clone(),
                page: PageSnapshot {
                    conclusion: conclusion.as_str().to_owned(),
                    headline: "seamguard hit an internal error".to_owned(),
                    unblock: vec![
                        "comment `@seamguard recheck` to try again; the check run has the error"
                            .into(),
                    ],
                    blockers: vec![snapshot::blocker_other(
                        "internal_error",
                        &reason,
                        "comment `@seamguard recheck` to try again; the check run has the error",
                    )],
                    ..base
                },
            },
            PageBody::Decided {
                decision: d,
                note,
                annotations,
                attempt,
                next_retry,
                max_attempts,
                request,
            } => {
                let merged = attempt.as_ref().is_some_and(|a| a.answer == MERGED);
                let (word, reason) = snapshot::decision(&d.plan, note, merged);
                let since: Vec<_> = d.gate.entries.iter().map(|e| e.since).collect();
                Recorded {
                    decision: word,
                    reason: reason.clone(),
                    page: PageSnapshot {
                        conclusion: snapshot::conclusion_word(d.conclusion),
                        shadow_of: d.shadow_of.map(snapshot::conclusion_word),
                        headline: d.render(note).title,
                        unblock: if merged {
                            Vec::new()
                        } else {
                            let mut unblock =
                                snapshot::unblock(&d.guards, &d.gate, &d.plan, note);
                            unblock.extend(d.rows.iter().filter(|r| r.blocks()).map(|r| r.sentence()));
                            unblock
                        },
                        guards: snapshot::guard_views(
                            &d.guards,
                            annotations,
                            super::guards::CONFLICT_GUARD,
                        ),
                        blockers: if merged {
                            Vec::new()
                        } else {
                            snapshot::blockers(&snapshot::BlockerFacts {
                                guards: &d.guards,
                                gate: &d.gate,
                                since: &since,
                                rows: &d.rows,
                                rows_since: &d.rows_since,
                                plan: &d.plan,
                                note,
                                mergeable_state: pr.mergeable_state.as_deref(),
                                base: &pr.base.branch,
                                max_attempts,
                            })
                        },
                        gate: snapshot::GateView {
                            rules: snapshot::rule_views(&d.rows, &d.rows_since),
                            ..snapshot::gate_view(&d.gate, &since)
                        },
                        merge: MergeView {
                            plan: reason,
                            attempt,
                            next_retry,
                            max_attempts,
                            request,
                        },
                        stack: d.stack.as_ref().map(snapshot::stack_view),
                        ..base
                    },
                }
            }
        }
    }

    /// Adds this evaluation to the pull request's history. A failure to
    /// write it is logged, never the evaluation's failure: the check run
    /// and the merge are what count.
    pub(crate) async fn record(&self, s: &Subject<'_>, recorded: &Recorded) {
        let snapshot = match serde_json::to_string(&recorded.page) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not encode the page snapshot");
                return;
            }
        };
        let evaluation = Evaluation {
            repo: s.work.repo.clone(),
            pr: s.number,
            at: Utc::now(),
            cause: s.recording.cause.to_owned(),
            head: s.head.clone(),
            decision: recorded.decision.clone(),
            reason: recorded.reason.clone(),
            requests: s.recording.requests(),
            snapshot,
        };
        if let Err(e) = self.store.record_evaluation(&evaluation).await {
            tracing::warn!(error = %e, "could not record the evaluation in the history");
        }
    }

    /// Merges with the head pinned and reads GitHub's answer, through
    /// [`merger::call`] (the asynchronous merge where the API root has it,
    /// `PUT …/merge` where it does not). Returns the job's outcome and what
    /// to say in the check run when there is something to say. Each
    /// request sent is counted on its head, and none is made once
    /// `merge.max_attempts` are spent ([`Engine::ask`]). Reading a request
    /// GitHub already holds is not an attempt.
    async fn merge(
        &self,
        client: &InstallationClient,
        work: &Work,
        pr: &PullRequest,
        number: PrNumber,
        head: &CommitSha,
        config: &RepoConfig,
    ) -> Result<Merged, EvalError> {
        let max = config.merge.max_attempts;
        let client = client.at(Priority::Merge);
        let asked = Ask {
            client: &client,
            work,
            number,
            head,
            config,
            action: MergeAction::DirectMerge,
        };
        let (called, sent, attempt) = match self.ask(&asked).await?.called() {
            Ok(called) => called,
            Err(attempts) => {
                // decide() gives up first; this is the structural backstop.
                tracing::warn!(attempts, "merge attempts spent; not calling");
                return Ok(gave_up(attempts));
            }
        };
        let (result, why) = match called {
            Ok(Called { call, .. }) => match call {
                MergeCall::Merged { sha } => {
                    tracing::info!(sha = sha.as_deref().unwrap_or(""), "merged");
                    (CallResult::Merged, String::new())
                }
                MergeCall::Pending {
                    uuid,
                    since,
                    differs,
                } => {
                    return Ok(self.in_flight(attempt, sent, max, uuid, since, differs));
                }
                MergeCall::Enqueued { message } => {
                    // Asked to merge directly, GitHub queued it: its queue
                    // merges it, as after an enqueue.
                    tracing::info!(%message, "GitHub queued the merge");
                    metrics::counter!("seamguard_merges_total", "outcome" => "enqueued")
                        .increment(1);
                    let note = MergeNote::Queued {
                        base: pr.base.branch.clone(),
                        position: None,
                        state: String::new(),
                    };
                    return Ok(Merged::said(Outcome::Done, Some(note)));
                }
                MergeCall::Unavailable => {
                    // Only an enqueue has no synchronous form.
                    return Err(EvalError::Internal(anyhow::anyhow!(
                        "a direct merge found no merge endpoint"
                    )));
                }
                MergeCall::Lost { uuid } => {
                    tracing::warn!(%uuid, "the asynchronous merge request is gone");
                    (
                        CallResult::Failed,
                        format!("GitHub no longer knows merge request {uuid}"),
                    )
                }
                MergeCall::Refused {
                    status: _,
                    message,
                    answer,
                } => (
                    CallResult::Answered {
                        answer,
                        head_moved: self.head_moved(&client, work, number, head, answer).await?,
                    },
                    message,
                ),
            },
            Err(e) if e.is_transient() => {
                // GitHub may have merged before the answer was lost: read
                // before any retry. A merge is never attempted twice
                // blindly (an asynchronous request asked again is answered
                // 409 with the request GitHub holds).
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
                (
                    CallResult::Answered {
                        answer: class,
                        head_moved: self.head_moved(&client, work, number, head, class).await?,
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
        Ok(Merged {
            outcome,
            note,
            attempt: Some(made),
            request: None,
        })
    }

    /// Sends (or follows) one merge request through [`merger`]: counted on
    /// its head when a request went to GitHub, and never sent once
    /// `merge.max_attempts` are spent (the last request's outcome, when
    /// GitHub still holds it, is read instead). The one place both the
    /// merge and the enqueue ask GitHub for anything.
    async fn ask(&self, a: &Ask<'_>) -> Result<Requested, EvalError> {
        let (repo, number, head) = (&a.work.repo, a.number, a.head);
        let max = a.config.merge.max_attempts;
        let before = self.store.merge_attempts(repo, number, head).await?;
        let held_before = merger::held(&self.store, repo, number, head).await?;
        let merge = Merge {
            client: a.client,
            store: &self.store,
            repo,
            pr: number,
            head,
            method: a.config.merge.method.as_str(),
            action: a.action,
            poll: ACT_POLL,
        };
        let called = if merge_answer::may_call(before, max) {
            merger::call(&merge).await
        } else {
            match merger::follow_held(&merge).await {
                Ok(Some(call)) => Ok(Called { call, sent: false }),
                Ok(None) => return Ok(Requested::Spent { attempts: before }),
                Err(e) => Err(e),
            }
        };
        let called = match called {
            Ok(called) => Ok(called),
            Err(MergerError::Store(e)) => return Err(e.into()),
            Err(MergerError::GitHub(e)) => Err(e),
        };
        if let Err(e) = &called
            && e.is_deferred()
        {
            // Never sent: not an attempt. The work waits in the store.
            tracing::info!(error = %e, "merge waits for GitHub's budget");
            return Err(EvalError::GitHub(e.clone()));
        }
        // Was a merge request sent? An answer says; after an error, a
        // request GitHub held before and still holds was only being read.
        let sent = match &called {
            Ok(c) => c.sent,
            Err(_) => {
                held_before.is_none()
                    || merger::held(&self.store, repo, number, head).await? != held_before
            }
        };
        let label = match &called {
            Ok(c) => match &c.call {
                MergeCall::Merged { .. } => "merged",
                MergeCall::Enqueued { .. } => "enqueued",
                MergeCall::Pending { .. } => "pending",
                MergeCall::Refused { .. } => "refused",
                MergeCall::Lost { .. } | MergeCall::Unavailable => "failed",
            },
            Err(e) if e.is_transient() => "failed",
            Err(_) => "refused",
        };
        let attempt = if sent {
            self.store
                .record_merge_attempt(repo, number, head, label)
                .await?
        } else {
            before
        };
        Ok(Requested::Called {
            called,
            sent,
            attempt,
        })
    }

    /// "Head moved" is only a head move when the pull request shows
    /// another head; otherwise it is an answer like any other.
    async fn head_moved(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        head: &CommitSha,
        answer: merge_answer::MergeAnswer,
    ) -> Result<bool, EvalError> {
        Ok(answer == merge_answer::MergeAnswer::HeadMoved
            && client.pull(&work.repo, number).await?.head.sha != head.as_str())
    }

    /// GitHub holds the merge request and has not finished it: read it
    /// again later (a `closed` delivery may settle it first). A read of a
    /// request already sent is not a new attempt.
    fn in_flight(
        &self,
        attempt: u32,
        sent: bool,
        max: u32,
        uuid: String,
        since: DateTime<Utc>,
        differs: Option<String>,
    ) -> Merged {
        let now = Utc::now();
        let wait = merge_backoff(self.cfg.merge_retry_base, attempt.max(1));
        tracing::info!(%uuid, attempt, sent, wait_ms = wait.as_millis() as u64, "merge request pending; reading it later");
        metrics::counter!("seamguard_merges_total", "outcome" => "in_flight").increment(1);
        let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
        let state = "pending".to_owned();
        Merged {
            outcome: Outcome::RetryAt(
                at,
                format!("merge attempt {attempt} of {max}: merge request {uuid} is {state}"),
            ),
            attempt: sent.then(|| Attempt {
                at: Some(now),
                number: attempt,
                answer: format!("merge request {uuid} accepted, pending"),
            }),
            request: Some(AsyncRequestView {
                uuid: uuid.clone(),
                state: state.clone(),
                since: Some(since),
                read_at: Some(now),
            }),
            note: Some(MergeNote::InFlight {
                uuid,
                state,
                since,
                read_at: now,
                differs,
                wait,
                queue: None,
            }),
        }
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
    /// stands there, and enqueue this head once, pinned — through the
    /// asynchronous merge (`merge_action: merge_queue`) where the API root
    /// has it, through GraphQL `enqueuePullRequest` where it does not.
    /// Never `PUT …/merge`, never `direct_merge`. A request GitHub holds is
    /// read, never sent again; the position is read after GitHub's answer.
    /// A refusal on a head that moved evaluates the new head.
    async fn enqueue(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        pr: &PullRequest,
        head: &CommitSha,
        config: &RepoConfig,
    ) -> Result<Merged, EvalError> {
        let base = pr.base.branch.clone();
        let state = queue_state(client.queue_state(&work.repo, number).await?);
        let held = merger::held(&self.store, &work.repo, number, head).await?;
        let enqueued_key = merger::enqueued_key(&work.repo, number, head);
        let asked = if held.is_some() {
            merge_queue::Asked::Held
        } else if self
            .store
            .meta(&enqueued_key)
            .await?
            .is_some_and(|v| !v.trim().is_empty())
        {
            merge_queue::Asked::Enqueued
        } else {
            merge_queue::Asked::Nothing
        };
        match merge_queue::step(&state, head.as_str(), asked) {
            QueueStep::Queued { position, state } => {
                tracing::info!(?position, %state, "in the merge queue");
                if held.is_some() {
                    // The queue shows what the request came to.
                    merger::settle(&self.store, &work.repo, number, head).await?;
                }
                let note = MergeNote::Queued {
                    base,
                    position,
                    state,
                };
                return Ok(Merged::said(Outcome::Done, Some(note)));
            }
            QueueStep::Removed { reason } => {
                tracing::info!(
                    ?reason,
                    "removed from the merge queue; not enqueuing this head again"
                );
                let note = MergeNote::Dequeued { base, reason };
                return Ok(Merged::said(Outcome::Done, Some(note)));
            }
            QueueStep::HeadMoved => {
                tracing::info!("head moved before enqueuing; evaluating the new head");
                return Ok(Merged::said(
                    Outcome::RetryAt(Utc::now(), "head moved".into()),
                    None,
                ));
            }
            QueueStep::Enqueue | QueueStep::Follow => {}
        }
        if config.merge.max_attempts == 0 {
            let note = MergeNote::EnqueueRefused {
                answer: "merge.max_attempts is 0".into(),
            };
            return Ok(Merged::said(Outcome::Done, Some(note)));
        }
        let client = client.at(Priority::Merge);
        let ask = Ask {
            client: &client,
            work,
            number,
            head,
            config,
            action: MergeAction::MergeQueue,
        };
        let (called, sent, attempt) = match self.ask(&ask).await?.called() {
            Ok(called) => called,
            Err(attempts) => return Ok(gave_up(attempts)),
        };
        let call = match called {
            Ok(Called { call, .. }) => call,
            Err(e) if e.is_transient() => {
                // GitHub may have taken the request before the answer was
                // lost: the next evaluation reads the queue, and asking
                // again is answered 409 with the request GitHub holds.
                tracing::warn!(error = %e, "enqueue failed ambiguously; reading the queue next");
                return Ok(self.enqueue_failed(e.message));
            }
            Err(e) => return Err(e.into()),
        };
        let max = config.merge.max_attempts;
        let made = |answer: String| {
            sent.then(|| Attempt {
                at: Some(Utc::now()),
                number: attempt,
                answer,
            })
        };
        match call {
            MergeCall::Unavailable => {
                self.enqueue_graphql(&client, work, number, pr, head, base)
                    .await
            }
            MergeCall::Enqueued { message } => {
                tracing::info!(%message, "enqueued with the head pinned");
                let mut queued = self.enqueued(&client, work, number, head, base).await?;
                queued.attempt = made(clean_message(&message));
                Ok(queued)
            }
            MergeCall::Pending {
                uuid,
                since,
                differs,
            } => {
                let mut pending = self.in_flight(attempt, sent, max, uuid, since, differs);
                if let Some(MergeNote::InFlight { queue, .. }) = &mut pending.note {
                    *queue = Some(base);
                }
                Ok(pending)
            }
            MergeCall::Merged { sha } => {
                // A request GitHub held (adopted on 409) merged it.
                tracing::info!(sha = sha.as_deref().unwrap_or(""), "merged");
                metrics::counter!("seamguard_merges_total", "outcome" => "merged").increment(1);
                self.store.set_waiting(work, false, Utc::now()).await?;
                Ok(Merged {
                    outcome: Outcome::Done,
                    note: None,
                    attempt: Some(Attempt {
                        at: Some(Utc::now()),
                        number: attempt,
                        answer: MERGED.to_owned(),
                    }),
                    request: None,
                })
            }
            MergeCall::Refused { message, .. } => {
                let mut refused = self
                    .enqueue_refused(&client, work, number, head, message.clone())
                    .await?;
                refused.attempt = made(clean_message(&message));
                Ok(refused)
            }
            MergeCall::Lost { uuid } => {
                let note = MergeNote::EnqueueRefused {
                    answer: format!("GitHub no longer knows merge request {uuid}"),
                };
                Ok(Merged::said(Outcome::Done, Some(note)))
            }
        }
    }

    /// GitHub said the head joined the queue: marked, so it is never
    /// enqueued again, and its position read.
    async fn enqueued(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        head: &CommitSha,
        base: String,
    ) -> Result<Merged, EvalError> {
        self.store
            .set_meta(
                &merger::enqueued_key(&work.repo, number, head),
                &Utc::now().to_rfc3339(),
            )
            .await?;
        metrics::counter!("seamguard_merges_total", "outcome" => "enqueued").increment(1);
        let entry = queue_state(client.queue_state(&work.repo, number).await?).entry;
        let note = MergeNote::Queued {
            base,
            position: entry.as_ref().and_then(|e| e.position),
            state: entry.map(|e| e.state).unwrap_or_default(),
        };
        Ok(Merged::said(Outcome::Done, Some(note)))
    }

    /// GitHub refused to enqueue: on a head that moved, the new head is
    /// evaluated; otherwise the refusal is said, and the next change to the
    /// pull request tries again.
    async fn enqueue_refused(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        head: &CommitSha,
        message: String,
    ) -> Result<Merged, EvalError> {
        let now = client.pull(&work.repo, number).await?;
        if now.head.sha != head.as_str() {
            tracing::info!(%message, "head moved; evaluating the new head");
            return Ok(Merged::said(
                Outcome::RetryAt(Utc::now(), "head moved".into()),
                None,
            ));
        }
        tracing::info!(%message, "GitHub refused to enqueue");
        metrics::counter!("seamguard_merges_total", "outcome" => "enqueue_refused").increment(1);
        let note = MergeNote::EnqueueRefused { answer: message };
        Ok(Merged::said(Outcome::Done, Some(note)))
    }

    /// The enqueue failed ambiguously: read the queue again shortly.
    fn enqueue_failed(&self, message: String) -> Merged {
        let at =
            Utc::now() + chrono::Duration::from_std(self.cfg.merge_retry_base).unwrap_or_default();
        Merged::said(
            Outcome::RetryAt(at, format!("enqueue failed: {message}")),
            Some(MergeNote::EnqueueRefused { answer: message }),
        )
    }

    /// `enqueuePullRequest` with `expectedHeadOid` pinned, on an API root
    /// without the asynchronous merge. Counted on its head once GitHub
    /// says it is queued (a refusal is not an enqueue).
    async fn enqueue_graphql(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        pr: &PullRequest,
        head: &CommitSha,
        base: String,
    ) -> Result<Merged, EvalError> {
        let Some(node_id) = pr.node_id.as_deref() else {
            return Err(EvalError::Internal(anyhow::anyhow!(
                "the pull request has no node_id to enqueue with"
            )));
        };
        let answer = match client.enqueue(node_id, head).await {
            Ok(answer) => answer,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "enqueue failed ambiguously; reading the queue next");
                return Ok(self.enqueue_failed(e.message));
            }
            Err(e) => return Err(e.into()),
        };
        match answer {
            Enqueued::Queued(entry) => {
                self.store
                    .record_merge_attempt(&work.repo, number, head, "enqueued")
                    .await?;
                self.store
                    .set_meta(
                        &merger::enqueued_key(&work.repo, number, head),
                        &Utc::now().to_rfc3339(),
                    )
                    .await?;
                metrics::counter!("seamguard_merges_total", "outcome" => "enqueued").increment(1);
                tracing::info!(position = ?entry.position, "enqueued with the head pinned");
                let note = MergeNote::Queued {
                    base,
                    position: entry.position,
                    state: entry.state,
                };
                Ok(Merged::said(Outcome::Done, Some(note)))
            }
            Enqueued::Refused { kind, message } => {
                tracing::info!(?kind, "GitHub refused the enqueuePullRequest mutation");
                self.enqueue_refused(client, work, number, head, message)
                    .await
            }
        }
    }
}

/// GitHub's queue read, in the rule's own terms.
fn queue_state(read: crate::github::models::QueueState) -> merge_queue::QueueState {
    merge_queue::QueueState {
        head: read.head,
        entry: read.entry.map(|e| merge_queue::Queued {
            position: e.position,
            state: e.state,
        }),
        last_removal: read.last_removal.map(|r| r.reason),
    }
}

/// An evaluation as its history entry holds it: the decision in a word or
/// two, its one-line reason, and the page.
pub(crate) struct Recorded {
    pub decision: String,
    pub reason: String,
    pub page: PageSnapshot,
}
