//! The `seamguard` check run of one head SHA: found or created once,
//! completed once per evaluation, never duplicated, never left open.
//!
//! Creating a check run is not idempotent: two POSTs leave two runs. The
//! run is therefore looked up first (in the head's check-run list, which the
//! gate reads anyway), created only when absent, and after an ambiguous
//! failure of the POST (a 502, a dropped connection) looked up again by name
//! before another POST. Every run seamguard opens is recorded in the store,
//! so the watchdog can complete one that an evaluation never finished.
//!
//! Annotations go in batches of at most [`ANNOTATION_BATCH`] per call
//! (GitHub's limit); GitHub appends each batch to the run. A batch GitHub
//! will not take is said in the summary; it never fails the completion,
//! because the conclusion was already written with the first call.
//!
//! A verdict is never weakened: GitHub counts `neutral` as passing for a
//! required check, so a run that said `failure` and was re-completed
//! `neutral` would let a pull request with conflict markers merge. The
//! handle keeps the strictest conclusion this evaluation decided or wrote
//! (its *floor*) and never completes below it; the fail-safe completion
//! also honours a `failure` the run already showed from an earlier
//! evaluation of the same head.
//!
//! GitHub's budget: a head's run is created with its result, by the
//! evaluation's completion — one content-creating request per head, not an
//! `in_progress` run and then its completion. Only an evaluation that waits
//! without a result (GitHub does not show the pull request yet) opens an
//! `in_progress` run, at [`Priority::Low`], impatient, and not at all when
//! that is not affordable at once. (Waiting for `Low`'s share of the hour
//! once held a ready pull request back for 40 simulated minutes in the
//! replay.)
//! Completions go at [`Priority::High`] — the one written just before an
//! act at [`Priority::Merge`] (see `finishing`) — except one that only shows
//! progress over what the run already shows (the same conclusion, title
//! and annotations; one more required check passed): that goes at
//! [`Priority::Low`], impatient, and is left for a later evaluation when
//! the budget has no room for it at once. An evaluation deferred for the
//! budget says so in its open run, when there is one and a write is
//! affordable.

use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::gate::decision::Conclusion;
use crate::gate::summary::{self, CHECK_NAME};
use crate::github::models::{Annotation, CheckOutput, CheckRun};
use crate::github::{GhError, InstallationClient, Priority};
use crate::ids::{AppId, CheckRunId, CommitSha, InstallationId, RepoName};
use crate::store::Store;

/// GitHub accepts at most 50 annotations per create or update call.
pub const ANNOTATION_BATCH: usize = 50;

/// The "Re-check" button every completed run offers. GitHub caps an
/// action's label at 20 characters, its description at 40 and its
/// identifier at 20; pressing it sends `check_run` `requested_action` with
/// the identifier, which runs the same as `@seamguard recheck`.
fn actions() -> serde_json::Value {
    json!([{
        "label": "Re-check",
        "description": "Evaluate this pull request again",
        "identifier": crate::events::RECHECK_ACTION,
    }])
}

/// The `external_id` seamguard gives its runs: the head it judged.
fn external_id(head: &CommitSha) -> String {
    format!("seamguard:{head}")
}

/// seamguard's own run among a head's check runs (the newest, if a past
/// bug or a race left more than one).
pub fn find_own(runs: &[CheckRun], app_id: AppId) -> Option<&CheckRun> {
    runs.iter()
        .filter(|r| r.name == CHECK_NAME && r.app.as_ref().is_some_and(|a| a.id == app_id.0))
        .max_by_key(|r| r.id)
}

/// A digest of what a completion writes: `ann:<hex>|out:<hex>|key:<hex>`,
/// so a re-evaluation can skip an identical update and never re-sends the
/// same annotations (GitHub appends them; sending twice would show each
/// twice). `key` covers what a glance at the checks list shows — the
/// conclusion and the title: an update that keeps both (and the
/// annotations) only shows progress, such as one more check passed.
fn digest(
    conclusion: Conclusion,
    output: &CheckOutput,
    annotations: &[Annotation],
    details_url: Option<&str>,
) -> String {
    let hash = |parts: &[&[u8]]| {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        hex::encode(h.finalize())
    };
    let ann = serde_json::to_vec(annotations).unwrap_or_default();
    let out = serde_json::to_vec(output).unwrap_or_default();
    format!(
        "ann:{}|out:{}|key:{}",
        hash(&[&ann]),
        hash(&[
            conclusion.as_str().as_bytes(),
            &out,
            details_url.unwrap_or_default().as_bytes()
        ]),
        hash(&[
            conclusion.as_str().as_bytes(),
            b"\0",
            output.title.as_bytes()
        ])
    )
}

/// Whether a completion with digest `next` only shows progress over the one
/// written (`previous`): the same annotations, conclusion and title. Digests
/// written before the key was part of them never match.
fn only_progress(previous: &str, next: &str) -> bool {
    let key = |d: &str| {
        d.split('|')
            .find(|p| p.starts_with("key:"))
            .map(str::to_owned)
    };
    annotations_part(previous) == annotations_part(next)
        && key(previous).is_some()
        && key(previous) == key(next)
}

/// Orders conclusions by strictness: `failure` blocks, `neutral` and
/// `success` both pass.
fn strictness(c: Conclusion) -> u8 {
    match c {
        Conclusion::Success | Conclusion::Neutral => 0,
        Conclusion::Failure => 1,
    }
}

/// The stricter of two conclusions (`a` when they are as strict).
pub fn stricter(a: Conclusion, b: Option<Conclusion>) -> Conclusion {
    match b {
        Some(b) if strictness(b) > strictness(a) => b,
        _ => a,
    }
}

fn annotations_part(digest: &str) -> &str {
    digest.split('|').next().unwrap_or_default()
}

/// The check run for one (repository, head SHA).
pub struct CheckRunHandle<'a> {
    pub client: &'a InstallationClient,
    pub store: &'a Store,
    pub repo: &'a RepoName,
    pub installation: InstallationId,
    pub head: CommitSha,
    pub app_id: AppId,
    /// The run, once found or created.
    pub id: Option<CheckRunId>,
    /// The strictest conclusion this evaluation decided or wrote.
    floor: Option<Conclusion>,
    /// The run already showed `failure` when this evaluation found it.
    shown_failure: bool,
    /// This evaluation wrote a completion.
    completed: bool,
    /// The completion comes just before an act (a merge, an enqueue, an
    /// update of the branch): it is written at [`Priority::Merge`], which
    /// may spend the merge reserve, since the act may need it on GitHub.
    pub finishing: bool,
    /// This completion is sent only if the budget has room at once.
    impatient: bool,
    /// The pull request's page (signed), sent as the run's `details_url`
    /// on create and on every completion, when `PUBLIC_URL` is set.
    pub details_url: Option<String>,
}

impl<'a> CheckRunHandle<'a> {
    /// The handle for `head` of the work's repository; nothing is read or
    /// written until [`open`](Self::open).
    pub fn new(
        client: &'a InstallationClient,
        store: &'a Store,
        work: &'a crate::store::Work,
        head: CommitSha,
        app_id: AppId,
    ) -> Self {
        Self {
            client,
            store,
            repo: &work.repo,
            installation: work.installation,
            head,
            app_id,
            id: None,
            floor: None,
            shown_failure: false,
            completed: false,
            finishing: false,
            impatient: false,
            details_url: None,
        }
    }

    /// Notes a conclusion the evaluation has decided, before writing it:
    /// whatever fails later, the run is never completed below it.
    pub fn hold(&mut self, conclusion: Conclusion) {
        self.floor = Some(stricter(conclusion, self.floor));
    }

    /// Completes the run fail-safe after an internal error: the
    /// repository's `policy` conclusion, unless this evaluation's guards or
    /// the run as found already said `failure`.
    pub async fn complete_fail_safe(
        &mut self,
        policy: Conclusion,
        error: &str,
    ) -> Result<Conclusion, GhError> {
        let earlier = self.shown_failure.then_some(Conclusion::Failure);
        let conclusion = stricter(stricter(policy, self.floor), earlier);
        let held = conclusion != policy;
        self.complete(
            conclusion,
            summary::internal_error(error, conclusion, held),
            &[],
        )
        .await?;
        Ok(conclusion)
    }

    /// Finds the head's run in `existing` (the head's check-run list, which
    /// the caller read anyway). Creates nothing: when there is none, the
    /// completion creates the run with its result — one content-creating
    /// request per head instead of an `in_progress` run and its update.
    /// (An evaluation lasts seconds; the `in_progress` run only showed
    /// that, and cost a write of GitHub's hourly 500 per head.)
    pub fn open(&mut self, existing: &[CheckRun]) {
        if self.id.is_some() {
            return;
        }
        if let Some(run) = find_own(existing, self.app_id) {
            self.id = Some(CheckRunId(run.id));
            self.shown_failure = run.conclusion.as_deref() == Some("failure");
        }
    }

    /// Makes sure the run exists and shows `in_progress` with `title` and
    /// `summary` — for an evaluation that waits without a result (GitHub
    /// does not show the pull request yet) — or, when GitHub's budget is
    /// short, leaves it to the completion to create.
    pub async fn open_saying(
        &mut self,
        existing: Option<&[CheckRun]>,
        title: &str,
        summary: &str,
    ) -> Result<(), GhError> {
        if self.id.is_some() {
            return Ok(());
        }
        if let Some(run) = existing.and_then(|runs| find_own(runs, self.app_id)) {
            self.id = Some(CheckRunId(run.id));
            self.shown_failure = run.conclusion.as_deref() == Some("failure");
            return Ok(());
        }
        if existing.is_some() && !self.client.affordable(Priority::Low) {
            tracing::info!(
                "GitHub's budget is short; the check run will be created with its result"
            );
            return Ok(());
        }
        let body = json!({
            "name": CHECK_NAME,
            "head_sha": self.head.as_str(),
            "status": "in_progress",
            "external_id": external_id(&self.head),
            "started_at": Utc::now().to_rfc3339(),
            "output": { "title": title, "summary": summary },
        });
        match self.create(body, Priority::Low).await {
            Ok(_) => Ok(()),
            // Sent only if the budget has room at once: otherwise the
            // completion creates the run with its result, and the
            // evaluation goes on rather than wait for a sign of progress.
            Err(e) if e.is_deferred() => {
                tracing::info!(error = %e, "no budget for the in_progress run now; it will be created with its result");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Creates the run with `body` (looking for it after an ambiguous
    /// failure, so it is never created twice) and records it for the
    /// watchdog.
    async fn create(
        &mut self,
        mut body: serde_json::Value,
        priority: Priority,
    ) -> Result<CheckRunId, GhError> {
        if let Some(url) = &self.details_url {
            body["details_url"] = json!(url);
        }
        let client = self.client.at(priority);
        // A `Low` creation (the `in_progress` run) is worth making only now,
        // and so is a first report while reports are held back; a deferral
        // means nothing was sent.
        let first = if priority == Priority::Low || self.impatient {
            client.impatient()
        } else {
            client.clone()
        };
        let run = match first.create_check_run(self.repo, body.clone()).await {
            Ok(run) => run,
            Err(e) if e.is_transient() && !e.is_deferred() => {
                // The POST may have created the run: look before creating.
                tracing::warn!(error = %e, "creating the check run failed ambiguously; looking for it");
                let runs = client.check_runs(self.repo, &self.head).await?;
                match find_own(&runs, self.app_id) {
                    Some(run) => run.clone(),
                    None => client.create_check_run(self.repo, body).await?,
                }
            }
            Err(e) => return Err(e),
        };
        let id = CheckRunId(run.id);
        self.id = Some(id);
        if let Err(e) = self
            .store
            .check_run_opened(self.repo, self.installation, &self.head, id, Utc::now())
            .await
        {
            tracing::warn!(error = %e, "could not record the open check run for the watchdog");
        }
        Ok(id)
    }

    /// Writes a completion: an update of the run, or its creation when the
    /// `in_progress` run was skipped or never made.
    async fn write_completion(
        &mut self,
        mut body: serde_json::Value,
    ) -> Result<CheckRunId, GhError> {
        let priority = self.completion_priority();
        match self.id {
            Some(id) => {
                self.client
                    .at(priority)
                    .update_check_run(self.repo, id, body)
                    .await?;
                Ok(id)
            }
            None => {
                body["name"] = json!(CHECK_NAME);
                body["head_sha"] = json!(self.head.as_str());
                body["external_id"] = json!(external_id(&self.head));
                self.create(body, priority).await
            }
        }
    }

    /// What a completion is written at: a report at [`Priority::High`],
    /// the one before an act at [`Priority::Merge`].
    fn completion_priority(&self) -> Priority {
        if self.finishing {
            Priority::Merge
        } else {
            Priority::High
        }
    }

    /// Says in the open run that this evaluation waits for GitHub's rate
    /// limits (`why`: which, until when). Only an `in_progress` run this
    /// evaluation did not complete, and only when a write is affordable
    /// now: the note must not spend what the work itself waits for.
    pub async fn note_budget_wait(&mut self, why: &str) {
        let Some(id) = self.id.filter(|_| !self.completed && !self.shown_failure) else {
            return;
        };
        if !self.client.affordable(Priority::Low) {
            return;
        }
        let body = json!({
            "output": {
                "title": "Waiting for GitHub's rate limit",
                "summary": summary::budget_wait(why),
            },
        });
        if let Err(e) = self
            .client
            .at(Priority::Low)
            .impatient()
            .update_check_run(self.repo, id, body)
            .await
        {
            tracing::debug!(error = %e, "could not say that the evaluation waits for GitHub's budget");
        }
    }

    /// Completes the run with `conclusion` (never below the floor) and
    /// `output`, sending annotations in batches. Skips the calls when the
    /// same completion was already written (a re-evaluation that changed
    /// nothing). Fails only when the conclusion could not be written;
    /// annotations GitHub refuses are said in the summary instead.
    pub async fn complete(
        &mut self,
        conclusion: Conclusion,
        rendered: summary::Rendered,
        annotations: &[Annotation],
    ) -> Result<(), GhError> {
        let mut output = CheckOutput {
            title: rendered.title,
            summary: rendered.summary,
            text: rendered.text,
            annotations: Vec::new(),
        };
        let conclusion = stricter(conclusion, self.floor);
        // The link is part of what is written: a fresh one (a new day's
        // expiry) is sent even when the rest is unchanged.
        let digest = digest(
            conclusion,
            &output,
            annotations,
            self.details_url.as_deref(),
        );
        let previous = match self.id {
            Some(id) => self.store.check_run_digest(id).await.ok().flatten(),
            None => None,
        };
        if previous.as_deref() == Some(digest.as_str()) {
            tracing::debug!("check run already shows this result");
            self.floor = Some(conclusion);
            return Ok(());
        }
        // Progress only (one more check passed, the same verdict and title)
        // is written when GitHub's budget has room now, never waited for:
        // the next evaluation, or the page, shows it.
        let progress = previous
            .as_deref()
            .is_some_and(|p| only_progress(p, &digest));
        // While GitHub's budget holds reports back (other pull requests'
        // reports spent the window; what is left is the merges'), a report
        // on a run that exists is left for a later evaluation, as progress
        // is — never a `failure`, which is written whatever it waits — and
        // a first report is sent only if it goes at once: a worker never
        // sits waiting on a report while a merge waits for a worker.
        let held = !self.finishing
            && conclusion != Conclusion::Failure
            && self.client.writes_held(Priority::High);
        if held && self.id.is_some() {
            tracing::info!("GitHub's budget holds reports back; this one is left for later");
            metrics::counter!("seamguard_check_run_updates_skipped_total").increment(1);
            self.floor = Some(conclusion);
            self.completed = true;
            return Ok(());
        }
        self.impatient = held;
        let annotations = match &previous {
            Some(p) if annotations_part(p) == annotations_part(&digest) => &[][..],
            _ => annotations,
        };
        let total = annotations.len();
        let mut batches = annotations.chunks(ANNOTATION_BATCH);
        let first = batches.next().unwrap_or_default();
        let details_url = self.details_url.clone();
        let completion = |output: &CheckOutput, batch: &[Annotation]| {
            let mut body_output = output.clone();
            body_output.annotations = batch.to_vec();
            let mut body = json!({
                "status": "completed",
                "conclusion": conclusion.as_str(),
                "completed_at": Utc::now().to_rfc3339(),
                "output": body_output,
                "actions": actions(),
            });
            if let Some(url) = &details_url {
                body["details_url"] = json!(url);
            }
            body
        };
        let mut refused: Option<(usize, GhError)> = None;
        let written = match self.id.filter(|_| progress) {
            Some(id) => self
                .client
                .at(Priority::Low)
                .impatient()
                .update_check_run(self.repo, id, completion(&output, first))
                .await
                .map(|_| id),
            None => self.write_completion(completion(&output, first)).await,
        };
        let id = match written {
            Ok(id) => id,
            Err(e) if progress && e.is_deferred() => {
                tracing::info!(
                    "GitHub's budget is short; this update only shows progress and is left for later"
                );
                metrics::counter!("seamguard_check_run_updates_skipped_total").increment(1);
                self.floor = Some(conclusion);
                self.completed = true;
                return Ok(());
            }
            // GitHub would not take the annotations: write the conclusion
            // without them, and say so.
            Err(e) if !first.is_empty() && !e.is_transient() => {
                tracing::warn!(error = %e, "GitHub refused the first batch of annotations");
                output
                    .summary
                    .push_str(&summary::annotations_not_sent(0, total, &e.message));
                let id = self.write_completion(completion(&output, &[])).await?;
                refused = Some((0, e));
                id
            }
            Err(e) => return Err(e),
        };
        self.floor = Some(conclusion);
        self.completed = true;
        let high = self.client.at(self.completion_priority());
        if refused.is_none() {
            let mut sent = first.len();
            for batch in batches {
                let mut more = output.clone();
                more.annotations = batch.to_vec();
                match high
                    .update_check_run(self.repo, id, json!({ "output": more }))
                    .await
                {
                    Ok(_) => sent += batch.len(),
                    Err(e) => {
                        tracing::warn!(error = %e, sent, total, "GitHub refused a batch of annotations; saying so in the summary");
                        refused = Some((sent, e));
                        break;
                    }
                }
            }
            if let Some((sent, e)) = &refused {
                output
                    .summary
                    .push_str(&summary::annotations_not_sent(*sent, total, &e.message));
                if let Err(e) = high
                    .update_check_run(self.repo, id, json!({ "output": output }))
                    .await
                {
                    // The conclusion stands; only the note is missing.
                    tracing::warn!(error = %e, "could not say that annotations are missing");
                }
            }
        }
        if let Err(e) = self.store.check_run_completed(id, &digest).await {
            tracing::warn!(error = %e, "could not record the completed check run");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(title: &str, summary: &str) -> CheckOutput {
        CheckOutput {
            title: title.to_owned(),
            summary: summary.to_owned(),
            text: None,
            annotations: Vec::new(),
        }
    }

    #[test]
    fn progress_is_the_same_verdict_title_and_annotations_with_other_words() {
        let waiting = "All guards pass · waiting for the merge gate";
        let before = digest(
            Conclusion::Success,
            &output(waiting, "test: pending"),
            &[],
            None,
        );
        let after = digest(
            Conclusion::Success,
            &output(waiting, "test: success"),
            &[],
            None,
        );
        assert_ne!(before, after, "the update is not skipped as identical");
        assert!(only_progress(&before, &after));

        let merged = digest(
            Conclusion::Success,
            &output("All guards pass · merging", "test: success"),
            &[],
            None,
        );
        assert!(!only_progress(&before, &merged), "a new title is news");
        let failed = digest(Conclusion::Failure, &output(waiting, "x"), &[], None);
        assert!(!only_progress(&before, &failed), "a new conclusion is news");
        // A digest written before keys were part of it is never "progress".
        let old = before.rsplit_once("|key:").unwrap().0;
        assert!(!only_progress(old, &after));
    }
}
