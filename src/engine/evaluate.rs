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
//! Any internal error or panic after the check run exists completes it
//! `neutral` (or `failure` under `on_internal_error: failure`) with the
//! error in its summary: a guard's bug never blocks every pull request, and
//! no run is left `in_progress`.

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
use crate::gate::merge_answer::{self, MergeAnswer};
use crate::gate::required_checks::{self, GateReport, Requirements, Unreadable};
use crate::gate::summary::{self, CHECK_NAME};
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
    let state = pr
        .state
        .as_ref()
        .map(|s| format!("{s:?}").to_ascii_lowercase());
    PrFacts {
        open: state.as_deref() != Some("closed") && pr.closed_at.is_none(),
        merged: pr.merged_at.is_some() || pr.merged == Some(true),
        draft: pr.draft.unwrap_or(false),
        labels: pr
            .labels
            .as_ref()
            .map(|ls| ls.iter().map(|l| l.name.clone()).collect())
            .unwrap_or_default(),
        mergeable_state: pr
            .mergeable_state
            .as_ref()
            .map(|s| format!("{s:?}").to_ascii_lowercase()),
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
    let conclusion = failsafe_conclusion(config);
    run.complete(conclusion, summary::internal_error(&error, conclusion), &[])
        .await?;
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
        let runs = client.check_runs(&work.repo, &head).await?;
        let mut run =
            CheckRunHandle::new(&client, &self.inbox, work, head.clone(), self.cfg.app_id);
        run.open(Some(&runs)).await?;

        let mut config_seen: Option<RepoConfig> = None;
        let result = AssertUnwindSafe(self.evaluate_head(
            &client,
            work,
            number,
            &pr,
            &facts,
            &head,
            &runs,
            &mut run,
            &mut config_seen,
        ))
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
        let base_ref = pr.base.ref_field.clone();
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
        tracing::info!(conclusion = verdict.conclusion.as_str(), plan = ?verdict.plan, "decided");
        for g in &guards {
            if g.verdict == decision::GuardVerdict::Failed {
                metrics::counter!("seamguard_guard_failures_total", "guard" => g.name).increment(1);
            }
        }

        let report = |note: Option<&str>| {
            summary::render(&summary::Report {
                guards: &guards,
                gate: &gate,
                conclusion: verdict.conclusion,
                shadow_of: verdict.shadow_of,
                plan: &verdict.plan,
                merge_note: note,
                register_timeout: config.required_checks.register_timeout,
            })
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
                        let note = format!("Updating the branch failed: {}", e.message);
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
    /// job's outcome and a note for the check run when something is worth
    /// saying.
    async fn merge(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        head: &CommitSha,
        config: &RepoConfig,
    ) -> Result<(Outcome, Option<String>), EvalError> {
        let method = config.merge.method.as_str();
        match client.merge(&work.repo, number, head, method).await {
            Ok(result) => {
                tracing::info!(sha = ?result.sha, "merged");
                metrics::counter!("seamguard_merges_total", "outcome" => "merged").increment(1);
                self.inbox
                    .record_merge_attempt(&work.repo, number, head, "merged")
                    .await?;
                self.inbox.set_waiting(work, false, Utc::now()).await?;
                Ok((Outcome::Done, None))
            }
            Err(e) if e.is_transient() => {
                // GitHub may have merged before the answer was lost: read
                // before any retry. A merge is never attempted twice blindly.
                tracing::warn!(error = %e, "merge call failed ambiguously; reading the pull request");
                let after = client.pull(&work.repo, number).await?;
                if pr_facts(&after).merged {
                    tracing::info!("the pull request did merge");
                    metrics::counter!("seamguard_merges_total", "outcome" => "merged").increment(1);
                    self.inbox
                        .record_merge_attempt(&work.repo, number, head, "merged")
                        .await?;
                    return Ok((Outcome::Done, None));
                }
                self.retry_merge(
                    work,
                    number,
                    head,
                    config,
                    &format!("GitHub failed: {}", e.message),
                )
                .await
            }
            Err(e) => match e.status.map(|s| merge_answer::classify(s, &e.message)) {
                Some(MergeAnswer::Pending) => {
                    self.retry_merge(work, number, head, config, &e.message)
                        .await
                }
                Some(MergeAnswer::HeadMoved) => {
                    tracing::info!("head moved during the merge; evaluating again");
                    metrics::counter!("seamguard_merges_total", "outcome" => "head_moved")
                        .increment(1);
                    Ok((Outcome::RetryAt(Utc::now(), "head moved".into()), None))
                }
                Some(MergeAnswer::Refused) | None => {
                    tracing::info!(error = %e, "GitHub refused the merge");
                    metrics::counter!("seamguard_merges_total", "outcome" => "refused")
                        .increment(1);
                    Ok((
                        Outcome::Done,
                        Some(format!(
                            "GitHub refused the merge: {}. seamguard will try again on the next change to this pull request.",
                            e.message.trim_end_matches('.')
                        )),
                    ))
                }
            },
        }
    }

    async fn retry_merge(
        &self,
        work: &Work,
        number: PrNumber,
        head: &CommitSha,
        config: &RepoConfig,
        why: &str,
    ) -> Result<(Outcome, Option<String>), EvalError> {
        let attempts = self
            .inbox
            .record_merge_attempt(&work.repo, number, head, "pending")
            .await?;
        metrics::counter!("seamguard_merges_total", "outcome" => "pending").increment(1);
        if attempts >= config.merge.max_attempts {
            tracing::warn!(attempts, "merge attempts exhausted");
            return Ok((
                Outcome::Done,
                Some(format!(
                    "Merge attempt {attempts} of {} answered: {why}. seamguard stopped trying for this head.",
                    config.merge.max_attempts
                )),
            ));
        }
        let wait = merge_backoff(self.cfg.merge_retry_base, attempts);
        tracing::info!(attempts, wait_ms = wait.as_millis() as u64, %why, "merge pending; retrying later");
        let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
        Ok((
            Outcome::RetryAt(at, format!("merge pending: {why}")),
            Some(format!(
                "Merge attempt {attempts} of {} answered: {why}. Trying again in about {}s.",
                config.merge.max_attempts,
                wait.as_secs().max(1)
            )),
        ))
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
        let runs = client.check_runs(&work.repo, head).await?;
        let mut run =
            CheckRunHandle::new(&client, &self.inbox, work, head.clone(), self.cfg.app_id);
        run.open(Some(&runs)).await?;
        let mut config_seen: Option<RepoConfig> = None;
        let result = AssertUnwindSafe(self.merge_group_guards(
            &client,
            work,
            head,
            base_ref,
            &mut run,
            &mut config_seen,
        ))
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
        let conclusion = verdict.conclusion;
        let output = summary::render(&summary::Report {
            guards: &guards,
            gate: &gate,
            conclusion,
            shadow_of: verdict.shadow_of,
            plan: &verdict.plan,
            merge_note: None,
            register_timeout: config.required_checks.register_timeout,
        });
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
        let config = match client
            .file(&work.repo, crate::config::repo::CONFIG_PATH, Some(branch))
            .await?
        {
            Some(bytes) => RepoConfig::parse(&String::from_utf8_lossy(&bytes)).unwrap_or_default(),
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
