//! A merge queue group's head: the guards' check run, so a merge queue that
//! requires `seamguard` never stalls.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use super::act::log_decision;
use super::check_run::CheckRunHandle;
use super::evaluate::fail_safe;
use super::guards;
use super::{Engine, EvalError, Outcome};
use crate::config::repo::RepoConfig;
use crate::gate::decision::{self, MergePlan};
use crate::gate::required_checks::GateReport;
use crate::gate::summary;
use crate::github::InstallationClient;
use crate::ids::CommitSha;
use crate::store::Work;

impl Engine {
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
            run.open(&runs);
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
        let base_tip: CommitSha = comparison
            .base_commit
            .sha
            .parse()
            .map_err(|e| EvalError::Internal(anyhow::anyhow!("compare base: {e}")))?;
        let config = match self.configs.load(client, &work.repo, &base_tip).await? {
            Ok(config) => config,
            Err(problems) => {
                self.fail_on_invalid_config(work, run, &problems).await?;
                return Ok(Outcome::Done);
            }
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
        log_decision(
            verdict.conclusion,
            &verdict.plan,
            verdict.shadow_of,
            &guards,
        );
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
}
