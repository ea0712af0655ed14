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
use super::guards;
use super::{Engine, EvalError, Outcome};
use crate::config::repo::{OnInternalError, RepoConfig};
use crate::gate::decision::{self, Conclusion, MergePlan, PrFacts};
use crate::gate::merge_answer::{self, CallResult, MergeStep};
use crate::gate::required_checks::{self, GateReport, Requirements, Unreadable};
use crate::gate::summary::{self, CHECK_NAME, MergeNote};
use crate::github::models::{CheckRun, Comparison, PullRequest};
use crate::github::{GhError, InstallationClient};
use crate::ids::{CommitSha, PrNumber};
use crate::inbox::{Target, Work};

/// Merge retries back off exponentially from the configured base up to
/// this, so a slow CI is polled a few times a minute at most.
const MAX_MERGE_BACKOFF: Duration = Duration::from_secs(5 * 60);

/// Internal-error messages in a check run stay readable.
const MAX_ERROR_CHARS: usize = 2_000;

fn pr_facts(pr: &PullRequest) -> PrFacts {
    PrFacts {
        open: pr.is_open(),
        merged: pr.is_merged(),
        draft: pr.is_draft(),
        labels: pr.label_names(),
        mergeable_state: pr.mergeable_state.clone(),
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
) -> Result<Outcome, EvalError> {
    let error = match result {
        Ok(Ok(outcome)) => return Ok(outcome),
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
    Ok(Outcome::Done)
}

impl Engine {
    /// Evaluates pull request `number` of `work.repo`, in an `evaluation`
    /// span carrying the repository, the number and the head SHA.
    pub(crate) async fn evaluate_pr(
        &self,
        work: &Work,
        number: PrNumber,
        last_attempt: bool,
    ) -> Result<Outcome, EvalError> {
        let span = tracing::info_span!(
            "evaluation",
            repo = %work.repo,
            pr = number.0,
            head = tracing::field::Empty
        );
        self.evaluate_pr_in(work, number, last_attempt, &span)
            .instrument(span.clone())
            .await
    }

    async fn evaluate_pr_in(
        &self,
        work: &Work,
        number: PrNumber,
        last_attempt: bool,
        span: &tracing::Span,
    ) -> Result<Outcome, EvalError> {
        let client = self.gh.installation(work.installation);
        let pr = client.pull(&work.repo, number).await?;
        let head: CommitSha = pr
            .head
            .sha
            .parse()
            .map_err(|e| EvalError::Internal(anyhow::anyhow!("pull request head: {e}")))?;
        let facts = pr_facts(&pr);
        span.record("head", tracing::field::display(&head));
        if !facts.open {
            tracing::info!(
                merged = facts.merged,
                "pull request is closed; nothing to do"
            );
            self.inbox.set_waiting(work, false, Utc::now()).await?;
            return Ok(Outcome::Done);
        }
        // From here the head is known: whatever fails, the run on it ends
        // completed (fail-safe) or the job retries.
        let mut run =
            CheckRunHandle::new(&client, &self.inbox, work, head.clone(), self.cfg.app_id);
        let mut config_seen: Option<RepoConfig> = None;
        let result = AssertUnwindSafe(async {
            let runs = client.check_runs(&work.repo, &head).await?;
            run.open(Some(&runs)).await?;
            self.evaluate_head(
                &client,
                work,
                number,
                &pr,
                &facts,
                &head,
                &runs,
                &mut run,
                &mut config_seen,
            )
            .await
        })
        .catch_unwind()
        .await;
        fail_safe(result, last_attempt, &mut run, config_seen.as_ref()).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn evaluate_head(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        pr: &PullRequest,
        facts: &PrFacts,
        head: &CommitSha,
        runs: &[CheckRun],
        run: &mut CheckRunHandle<'_>,
        config_seen: &mut Option<RepoConfig>,
    ) -> Result<Outcome, EvalError> {
        let started = std::time::Instant::now();
        let base_ref = pr.base.branch.clone();
        let comparison = client
            .compare_all(&work.repo, &base_ref, head.as_str())
            .await?;
        let Some((base_tip, config)) = self.config_at_base(client, work, &comparison, run).await?
        else {
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
        let gate = self
            .read_gate(
                client,
                work,
                &base_ref,
                head,
                runs,
                guards_conclusion,
                &config,
            )
            .await?;
        let attempts = self.inbox.merge_attempts(&work.repo, number, head).await?;
        let verdict =
            decision::decide(facts, &config, &guards, &gate, attempts).under(config.mode, head);
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
        run.complete(verdict.conclusion, report(None), &annotations)
            .await?;
        metrics::histogram!("seamguard_evaluation_seconds").record(started.elapsed().as_secs_f64());
        metrics::counter!("seamguard_evaluations_total", "outcome" => verdict.conclusion.as_str())
            .increment(1);
        self.inbox
            .set_waiting(work, verdict.plan.is_waiting(), Utc::now())
            .await?;

        match verdict.plan {
            MergePlan::Merge => {
                let (outcome, note) = self.merge(client, work, number, head, &config).await?;
                if let Some(note) = note {
                    run.complete(verdict.conclusion, report(Some(&note)), &annotations)
                        .await?;
                }
                Ok(outcome)
            }
            MergePlan::UpdateBranch => {
                match client.update_branch(&work.repo, number, head).await {
                    Ok(()) => tracing::info!("asked GitHub to update the branch"),
                    Err(e) => {
                        let note = MergeNote::UpdateFailed { answer: e.message };
                        run.complete(verdict.conclusion, report(Some(&note)), &annotations)
                            .await?;
                    }
                }
                Ok(Outcome::Done)
            }
            _ => Ok(Outcome::Done),
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
                self.inbox.set_waiting(work, false, Utc::now()).await?;
                metrics::counter!("seamguard_evaluations_total", "outcome" => "invalid_config")
                    .increment(1);
                Ok(None)
            }
        }
    }

    /// Reads the gate now: protection ∪ rulesets ∪ extra, and the states on
    /// the head. seamguard's own run is judged by this evaluation's guards.
    #[allow(clippy::too_many_arguments)]
    async fn read_gate(
        &self,
        client: &InstallationClient,
        work: &Work,
        base_ref: &str,
        head: &CommitSha,
        runs: &[CheckRun],
        guards: Conclusion,
        config: &RepoConfig,
    ) -> Result<GateReport, EvalError> {
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
        let mut req: Requirements = required_checks::requirements(
            protection.as_ref(),
            &rules,
            &config.required_checks.extra,
        );
        req.unreadable = unreadable;

        // seamguard's own run: the result this evaluation is writing.
        let mut runs: Vec<CheckRun> = runs
            .iter()
            .filter(|r| {
                !(r.name == CHECK_NAME && r.app.as_ref().is_some_and(|a| a.id == self.cfg.app_id.0))
            })
            .cloned()
            .collect();
        runs.push(own_result(head, self.cfg.app_id.0, guards));

        // Commit statuses only when some required context has no check run.
        let needs_statuses = req
            .checks
            .iter()
            .any(|c| c.app_id.is_none() && !runs.iter().any(|r| r.name == c.context));
        let statuses = if needs_statuses {
            client.statuses(&work.repo, head).await?
        } else {
            Vec::new()
        };
        let first_seen: DateTime<Utc> = self.inbox.first_seen(&work.repo, head, Utc::now()).await?;
        let overdue = Utc::now() - first_seen
            > chrono::Duration::from_std(config.required_checks.register_timeout)
                .unwrap_or_default();
        Ok(required_checks::gate(&req, &runs, &statuses, overdue))
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
    ) -> Result<(Outcome, Option<MergeNote>), EvalError> {
        let max = config.merge.max_attempts;
        let before = self.inbox.merge_attempts(&work.repo, number, head).await?;
        if !merge_answer::may_call(before, max) {
            // decide() gives up first; this is the structural backstop.
            tracing::warn!(attempts = before, "merge attempts spent; not calling");
            let note = MergeNote::GaveUp {
                attempts: before,
                answer: None,
            };
            return Ok((Outcome::Done, Some(note)));
        }
        let method = config.merge.method.as_str();
        let answer = client.merge(&work.repo, number, head, method).await;
        let label = match &answer {
            Ok(_) => "merged",
            Err(e) if e.is_transient() => "failed",
            Err(_) => "refused",
        };
        let attempt = self
            .inbox
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
                if pr_facts(&after).merged {
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
        match step {
            MergeStep::Merged => {
                metrics::counter!("seamguard_merges_total", "outcome" => "merged").increment(1);
                self.inbox.set_waiting(work, false, Utc::now()).await?;
                Ok((Outcome::Done, None))
            }
            MergeStep::Reevaluate => {
                tracing::info!("head moved during the merge; evaluating the new head");
                metrics::counter!("seamguard_merges_total", "outcome" => "head_moved").increment(1);
                Ok((Outcome::RetryAt(Utc::now(), "head moved".into()), None))
            }
            MergeStep::RetryLater => {
                metrics::counter!("seamguard_merges_total", "outcome" => "pending").increment(1);
                let wait = merge_backoff(self.cfg.merge_retry_base, attempt);
                tracing::info!(attempt, wait_ms = wait.as_millis() as u64, %why, "merge not done; retrying later");
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                Ok((
                    Outcome::RetryAt(at, format!("merge attempt {attempt} of {max}: {why}")),
                    Some(MergeNote::Retrying {
                        attempt,
                        max,
                        answer: why,
                        wait,
                    }),
                ))
            }
            MergeStep::Refused => {
                tracing::info!(%why, "GitHub refused the merge");
                metrics::counter!("seamguard_merges_total", "outcome" => "refused").increment(1);
                Ok((Outcome::Done, Some(MergeNote::Refused { answer: why })))
            }
            MergeStep::GaveUp => {
                tracing::warn!(attempt, %why, "merge attempts exhausted");
                metrics::counter!("seamguard_merges_total", "outcome" => "gave_up").increment(1);
                Ok((
                    Outcome::Done,
                    Some(MergeNote::GaveUp {
                        attempts: attempt,
                        answer: Some(why),
                    }),
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
            CheckRunHandle::new(&client, &self.inbox, work, head.clone(), self.cfg.app_id);
        let mut config_seen: Option<RepoConfig> = None;
        let result = AssertUnwindSafe(async {
            let runs = client.check_runs(&work.repo, head).await?;
            run.open(Some(&runs)).await?;
            self.merge_group_guards(&client, work, head, base_ref, &mut run, &mut config_seen)
                .await
        })
        .catch_unwind()
        .await;
        fail_safe(result, last_attempt, &mut run, config_seen.as_ref()).await
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
    ) -> Result<Outcome, EvalError> {
        let client = self.gh.installation(work.installation);
        let prs = client.pulls_for_commit(&work.repo, sha).await?;
        for pr in prs
            .iter()
            .filter(|p| p.head.sha == sha.as_str() && p.closed_at.is_none())
        {
            self.enqueue_pr(work, PrNumber(pr.number)).await?;
        }
        Ok(Outcome::Done)
    }

    /// A push to a branch: the open, opted-in pull requests based on it may
    /// now merge (or need updating).
    pub(crate) async fn fan_out_base(
        &self,
        work: &Work,
        branch: &str,
    ) -> Result<Outcome, EvalError> {
        self.configs.pushed(&work.repo);
        let client = self.gh.installation(work.installation);
        let prs = client.open_pulls_on(&work.repo, branch).await?;
        if prs.is_empty() {
            return Ok(Outcome::Done);
        }
        let config = match self
            .configs
            .read_file(&client, &work.repo, Some(branch))
            .await?
        {
            Some(file) => RepoConfig::parse(&file.text).unwrap_or_default(),
            None => RepoConfig::default(),
        };
        for pr in &prs {
            let facts = pr_facts(pr);
            let opted_in = match config.merge.mode {
                crate::config::repo::MergeMode::Never => false,
                crate::config::repo::MergeMode::Always => true,
                crate::config::repo::MergeMode::Label => facts.labels.contains(&config.merge.label),
            };
            if opted_in && !facts.draft {
                self.enqueue_pr(work, PrNumber(pr.number)).await?;
            }
        }
        Ok(Outcome::Done)
    }

    async fn enqueue_pr(&self, work: &Work, number: PrNumber) -> Result<(), EvalError> {
        let pr_work = Work {
            installation: work.installation,
            repo: work.repo.clone(),
            target: Target::Pr { number },
        };
        self.inbox.enqueue(pr_work, Utc::now()).await?;
        Ok(())
    }
}

/// DESIGN: a 403 from one requirement source means "this source requires
/// nothing" (logged, and said in the summary), never a failed evaluation.
fn requires_nothing_if_forbidden<T>(
    read: Result<T, GhError>,
    source: &'static str,
    unreadable: &mut Vec<Unreadable>,
) -> Result<Option<T>, EvalError> {
    match read {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_status(403) => {
            tracing::info!(error = %e, source, "requirement source unreadable; it requires nothing");
            unreadable.push(Unreadable {
                source,
                reason: format!("HTTP 403: {}", e.message),
            });
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// A completed stand-in for seamguard's own run, carrying the conclusion
/// this evaluation is about to write (a repository may require `seamguard`).
fn own_result(head: &CommitSha, app_id: u64, conclusion: Conclusion) -> CheckRun {
    CheckRun {
        id: u64::MAX,
        name: CHECK_NAME.to_owned(),
        head_sha: head.to_string(),
        status: "completed".to_owned(),
        conclusion: Some(conclusion.as_str().to_owned()),
        external_id: None,
        started_at: Some(Utc::now()),
        completed_at: Some(Utc::now()),
        app: Some(crate::github::models::AppRef {
            id: app_id,
            slug: None,
        }),
        html_url: None,
        output: None,
    }
}

impl From<GhError> for EvalError {
    fn from(e: GhError) -> Self {
        EvalError::GitHub(e)
    }
}
