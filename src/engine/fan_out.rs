//! Work that names no single pull request: a commit (a status or a fork's
//! check), a base branch that moved, requirements that changed. Each finds
//! the pull requests concerned and enqueues their evaluations.

use chrono::Utc;

use super::requirements_cache;
use super::{Engine, EvalError, Outcome};
use crate::config::repo::RepoConfig;
use crate::gate::evaluation::StackReport;
use crate::gate::stack::StackFacts;
use crate::ids::{CommitSha, PrNumber};
use crate::store::{Target, Work};

impl Engine {
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
            let opted_in = crate::gate::opt_in::may_be_in(
                config.merge.mode,
                &config.merge.label,
                &pr.label_names(),
            );
            if opted_in && !pr.is_draft() {
                self.enqueue_pr(work, PrNumber(pr.number), cause).await?;
            }
        }
        Ok(Outcome::Done)
    }

    /// After a stacked pull request's evaluation (recorded): when its own
    /// readiness changed, the stack's other open pull requests are
    /// evaluated again (one above may now merge, or must wait; one below
    /// may have been waiting for it); otherwise those with no verdict on
    /// their head yet, which this one's plan may wait on. Each evaluation
    /// that changes nothing enqueues nothing, so this ends.
    pub(crate) async fn stack_evaluated(
        &self,
        work: &Work,
        facts: &StackFacts,
        report: &StackReport,
    ) -> Result<(), EvalError> {
        let (cause, numbers) = if facts.before.as_ref() != Some(&report.own) {
            ("a pull request of its stack changed", facts.others())
        } else {
            ("its stack waits on its verdict", facts.unjudged())
        };
        for number in numbers {
            self.enqueue_pr(work, number, cause).await?;
        }
        Ok(())
    }

    /// A stack changed (`pull_request` `stacked`, or a pull request of it
    /// merged or closed): its open pull requests above position `above`
    /// are evaluated again.
    pub(crate) async fn stack_changed(
        &self,
        work: &Work,
        number: u64,
        above: u32,
        cause: &str,
    ) -> Result<Outcome, EvalError> {
        let client = self.gh.installation(work.installation);
        let stack = client.stack(&work.repo, number).await?;
        for pr in stack
            .pull_requests
            .iter()
            .skip(above as usize)
            .filter(|p| p.state != "closed" && p.merged_at.is_none())
        {
            self.enqueue_pr(work, PrNumber(pr.number), cause).await?;
        }
        Ok(Outcome::Done)
    }

    /// Evaluates pull request `number` soon, saying why.
    pub(crate) async fn enqueue_pr(
        &self,
        work: &Work,
        number: PrNumber,
        cause: &str,
    ) -> Result<(), EvalError> {
        let pr_work = Work {
            installation: work.installation,
            repo: work.repo.clone(),
            target: Target::Pr { number, head: None },
        };
        self.store
            .enqueue_because(pr_work, Utc::now(), &format!("{cause}, via {}", work.key()))
            .await?;
        Ok(())
    }
}
