//! What the fake knows about a pull request beyond its checks, as GitHub
//! keeps it: reviews (every one submitted, in order), code owners asked
//! for a review, review threads, commits that are not signed, deployments,
//! and the approvals each base requires (what GitHub's `reviewDecision`
//! answers against). `routes::graphql` answers the whole-gate query from
//! it; scenario steps add to it ([`RepoHandle::review`] and the others).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{Answer, Ctx};
use crate::support::json as gh;
use crate::support::scenario::RepoHandle;
use crate::support::world::{Protection, Repo, Sha, World};

#[derive(Debug, Clone, Default)]
pub struct WholeGate {
    pub reviews: Vec<Review>,
    /// Per pull request: code owners (logins or `org/team`) asked for a
    /// review who have not given one.
    pub code_owner_requests: BTreeMap<u64, Vec<String>>,
    pub threads: Vec<Thread>,
    /// Commits with no signature (every other commit is verified-signed).
    pub unsigned: BTreeSet<Sha>,
    pub deployments: Vec<Deployment>,
    /// Approving reviews required on a base branch by classic protection
    /// (GitHub's rule behind `reviewDecision`).
    pub required_approvals: BTreeMap<String, u32>,
    /// Classic protection's other settings, per branch.
    pub classic: BTreeMap<String, ClassicGate>,
    /// Per pull request: its assignees' logins.
    pub assignees: BTreeMap<u64, Vec<String>>,
    /// The installation has not granted `deployments: read`: GraphQL
    /// answers a commit's deployments `null` with a `FORBIDDEN` error.
    pub deployments_forbidden: bool,
}

/// Classic protection's settings besides checks and the approval count.
#[derive(Debug, Clone, Default)]
pub struct ClassicGate {
    pub code_owner_reviews: bool,
    pub last_push_approval: bool,
    pub dismiss_stale_reviews: bool,
    pub signatures: bool,
    pub linear_history: bool,
    pub conversation_resolution: bool,
    pub lock_branch: bool,
}

#[derive(Debug, Clone)]
pub struct Review {
    pub number: u64,
    pub login: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`.
    pub state: String,
    pub commit: Sha,
}

#[derive(Debug, Clone)]
pub struct Thread {
    pub number: u64,
    pub resolved: bool,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub sha: Sha,
    pub environment: String,
    /// The deployment's state (`ACTIVE`, `FAILURE`, `IN_PROGRESS`, …).
    pub state: String,
    /// Its latest status (`SUCCESS`, `FAILURE`, `IN_PROGRESS`, …).
    pub status: String,
}

impl WholeGate {
    /// The latest approving, change-requesting or dismissed review of each
    /// reviewer, in the order first seen (GitHub's
    /// `latestOpinionatedReviews`).
    pub fn latest_opinionated(&self, number: u64) -> Vec<Review> {
        let mut latest: Vec<Review> = Vec::new();
        for r in self.reviews.iter().filter(|r| {
            r.number == number
                && matches!(
                    r.state.as_str(),
                    "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED"
                )
        }) {
            match latest.iter_mut().find(|l| l.login == r.login) {
                Some(l) => *l = r.clone(),
                None => latest.push(r.clone()),
            }
        }
        latest
    }

    /// GitHub's `reviewDecision` against `required` approvals (`None`:
    /// the base requires no review, and GitHub answers `null`).
    pub fn review_decision(&self, number: u64, required: Option<u32>) -> Option<&'static str> {
        let required = required?;
        let latest = self.latest_opinionated(number);
        if latest.iter().any(|r| r.state == "CHANGES_REQUESTED") {
            return Some("CHANGES_REQUESTED");
        }
        let approvals = latest.iter().filter(|r| r.state == "APPROVED").count() as u32;
        let owners_pending = self
            .code_owner_requests
            .get(&number)
            .is_some_and(|o| !o.is_empty());
        Some(if approvals >= required && !owners_pending {
            "APPROVED"
        } else {
            "REVIEW_REQUIRED"
        })
    }
}

/// `GET /repos/{owner}/{repo}/branches/{branch}/protection`: classic
/// protection as a whole, from the required checks (`Repo::protection`)
/// and the settings above. 404 where the branch is not protected, 403
/// where the App may not read it.
pub fn protection(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let branch = ctx.param("branch");
    if !repo.branches.contains_key(branch) {
        return Answer::error(404, "Branch not found");
    }
    let checks = repo.protection.get(branch);
    let gate = &repo.whole_gate;
    let approvals = gate.required_approvals.get(branch);
    let classic = gate.classic.get(branch);
    if repo.unreadable_protection.contains(branch) || checks == Some(&Protection::Forbidden) {
        return Answer::error(403, "Resource not accessible by integration");
    }
    if checks.is_none() && approvals.is_none() && classic.is_none() {
        return Answer::error(404, "Branch not protected");
    }
    let u = format!(
        "{}/repos/{}/branches/{}/protection",
        world.api_url,
        repo.full_name(),
        gh::url_segment(branch)
    );
    let settings = classic.cloned().unwrap_or_default();
    let toggle = |on: bool| json!({ "enabled": on });
    let mut body = json!({
        "url": u,
        "enforce_admins": { "url": format!("{u}/enforce_admins"), "enabled": false },
        "required_signatures": { "url": format!("{u}/required_signatures"), "enabled": settings.signatures },
        "required_linear_history": toggle(settings.linear_history),
        "required_conversation_resolution": toggle(settings.conversation_resolution),
        "lock_branch": toggle(settings.lock_branch),
        "allow_force_pushes": toggle(false),
        "allow_deletions": toggle(false),
    });
    if let Some(Protection::Checks {
        contexts,
        checks,
        strict,
    }) = checks
    {
        let mut all_contexts = contexts.clone();
        let mut all_checks: Vec<Value> = contexts
            .iter()
            .map(|c| json!({ "context": c, "app_id": null }))
            .collect();
        for c in checks {
            if !all_contexts.contains(&c.context) {
                all_contexts.push(c.context.clone());
            }
            all_checks.push(json!({ "context": c.context, "app_id": c.app_id }));
        }
        body["required_status_checks"] = json!({
            "url": format!("{u}/required_status_checks"),
            "strict": strict,
            "contexts": all_contexts,
            "contexts_url": format!("{u}/required_status_checks/contexts"),
            "checks": all_checks,
        });
    }
    if approvals.is_some() || classic.is_some() {
        body["required_pull_request_reviews"] = json!({
            "url": format!("{u}/required_pull_request_reviews"),
            "dismiss_stale_reviews": settings.dismiss_stale_reviews,
            "require_code_owner_reviews": settings.code_owner_reviews,
            "required_approving_review_count": approvals.copied().unwrap_or(0),
            "require_last_push_approval": settings.last_push_approval,
        });
    }
    Answer::json(200, body)
}

/// What GitHub answers a merge of `pr` with `method` that the base's other
/// rules forbid (405, as GitHub words it), or `None`: reviews, code
/// owners, conversations, signatures, linear history, deployments, a
/// locked branch and a ruleset's allowed merge methods.
pub fn whole_gate_refusal(
    repo: &Repo,
    pr: &crate::support::world::Pull,
    method: &str,
) -> Option<String> {
    let base = pr.base_ref.as_str();
    let gate = &repo.whole_gate;
    let classic = gate.classic.get(base).cloned().unwrap_or_default();
    let rules: Vec<&(String, Value)> = repo
        .rulesets_for(base)
        .into_iter()
        .flat_map(|s| s.rules.iter())
        .collect();
    let ruled = |kind: &str| rules.iter().any(|(k, _)| k == kind);
    let pull_rule = |key: &str| {
        rules
            .iter()
            .any(|(k, p)| k == "pull_request" && p[key].as_bool() == Some(true))
    };
    if classic.lock_branch {
        return Some("Branch is locked and cannot be merged into.".to_owned());
    }
    for (kind, params) in &rules {
        if kind != "pull_request" {
            continue;
        }
        if let Some(allowed) = params["allowed_merge_methods"].as_array()
            && !allowed.iter().any(|m| m.as_str() == Some(method))
        {
            return Some(format!(
                "Repository rule violations found\n\nMerge method {method} is not allowed.\n\n"
            ));
        }
    }
    if let Some(decision) = gate.review_decision(pr.number, repo.required_reviews(base))
        && decision != "APPROVED"
    {
        return Some(if decision == "CHANGES_REQUESTED" {
            "Changes were requested by a reviewer with write access.".to_owned()
        } else if gate
            .code_owner_requests
            .get(&pr.number)
            .is_some_and(|o| !o.is_empty())
        {
            "Waiting on code owner review from the owners of the changed files.".to_owned()
        } else {
            "At least 1 approving review is required by reviewers with write access.".to_owned()
        });
    }
    let unresolved = gate
        .threads
        .iter()
        .any(|t| t.number == pr.number && !t.resolved);
    if unresolved
        && (classic.conversation_resolution || pull_rule("required_review_thread_resolution"))
    {
        return Some("All comments must be resolved.".to_owned());
    }
    let exclude = repo
        .tip(base)
        .map(|t| repo.ancestors(t))
        .unwrap_or_default();
    let commits = repo.range(&pr.head_sha, &exclude);
    if (classic.signatures || ruled("required_signatures"))
        && commits.iter().any(|c| gate.unsigned.contains(c))
    {
        return Some("Commits must have verified signatures.".to_owned());
    }
    if (classic.linear_history || ruled("required_linear_history"))
        && (method == "merge" || commits.iter().any(|c| repo.commit(c).parents.len() > 1))
    {
        return Some("This branch must not contain merge commits.".to_owned());
    }
    for (kind, params) in &rules {
        if kind != "required_deployments" {
            continue;
        }
        for env in params["required_deployment_environments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let latest = gate
                .deployments
                .iter()
                .rev()
                .find(|d| d.sha == pr.head_sha && d.environment == env);
            if latest.is_none_or(|d| d.status != "SUCCESS") {
                return Some(format!(
                    "Repository rule violations found\n\nChanges must be deployed to {env} before merging.\n\n"
                ));
            }
        }
    }
    None
}

impl Repo {
    /// The approving reviews `base` requires: the most classic protection
    /// or any active ruleset's `pull_request` rule asks (`None`: no rule
    /// asks for reviews).
    pub fn required_reviews(&self, base: &str) -> Option<u32> {
        let classic = self.whole_gate.required_approvals.get(base).copied();
        let rulesets = self
            .rulesets_for(base)
            .into_iter()
            .flat_map(|s| s.rules.iter())
            .filter(|(kind, _)| kind == "pull_request")
            .map(|(_, p)| p["required_approving_review_count"].as_u64().unwrap_or(0) as u32);
        classic.into_iter().chain(rulesets).max()
    }
}

impl RepoHandle {
    /// Sets classic protection's other settings on `branch`.
    pub fn classic_gate(&self, branch: &str, set: impl FnOnce(&mut ClassicGate)) -> &Self {
        self.edit(|r| set(r.whole_gate.classic.entry(branch.to_owned()).or_default()));
        self
    }

    /// Requires `count` approving reviews on `branch` (classic protection's
    /// `required_pull_request_reviews`, as `reviewDecision` answers it).
    pub fn require_approvals(&self, branch: &str, count: u32) -> &Self {
        self.edit(|r| {
            r.whole_gate
                .required_approvals
                .insert(branch.to_owned(), count);
        });
        self
    }

    /// `login` submits a review (`APPROVED`, `CHANGES_REQUESTED`,
    /// `COMMENTED`) on pull request #`pr`'s current head. A code owner's
    /// review answers their review request.
    pub fn review(&self, pr: u64, login: &str, state: &str) -> &Self {
        self.edit(|r: &mut Repo| {
            let commit = r.pulls[&pr].head_sha.clone();
            if let Some(owners) = r.whole_gate.code_owner_requests.get_mut(&pr) {
                owners.retain(|o| o != login);
            }
            r.whole_gate.reviews.push(Review {
                number: pr,
                login: login.to_owned(),
                state: state.to_owned(),
                commit,
            });
        });
        self
    }

    /// Assigns `login` to pull request #`pr`.
    pub fn assign(&self, pr: u64, login: &str) -> &Self {
        self.edit(|r| {
            r.whole_gate
                .assignees
                .entry(pr)
                .or_default()
                .push(login.to_owned());
        });
        self
    }

    /// A commit on top of `branch` written by `author` and committed by
    /// `committer` (logins; an App's bot with `[bot]`), which then moves
    /// the branch (a push). Trailers go in `message`.
    pub fn push_by(
        &self,
        branch: &str,
        author: &str,
        committer: &str,
        message: &str,
        changes: &[(&str, Option<&str>)],
    ) -> Sha {
        let sha = self.push(branch, message, changes);
        self.edit(|r| {
            let c = r.commits.get_mut(&sha).expect("the commit just made");
            c.author = author.to_owned();
            c.committer = committer.to_owned();
        });
        sha
    }

    /// Asks `owner` (a login or `org/team`) for a review as a code owner.
    pub fn request_code_owner(&self, pr: u64, owner: &str) -> &Self {
        self.edit(|r| {
            r.whole_gate
                .code_owner_requests
                .entry(pr)
                .or_default()
                .push(owner.to_owned());
        });
        self
    }

    /// Opens a review thread on pull request #`pr`; returns its index.
    pub fn thread(&self, pr: u64) -> usize {
        self.edit(|r| {
            r.whole_gate.threads.push(Thread {
                number: pr,
                resolved: false,
            });
            r.whole_gate.threads.len() - 1
        })
    }

    /// Resolves the thread [`RepoHandle::thread`] returned.
    pub fn resolve_thread(&self, index: usize) -> &Self {
        self.edit(|r| r.whole_gate.threads[index].resolved = true);
        self
    }

    /// Marks `sha` as a commit with no signature.
    pub fn unsigned_commit(&self, sha: &str) -> &Self {
        self.edit(|r| {
            r.whole_gate.unsigned.insert(sha.to_owned());
        });
        self
    }

    /// A deployment of `sha` to `environment` whose latest status is
    /// `status` (`success`, `failure`, `in_progress`, …).
    pub fn deployment(&self, sha: &str, environment: &str, status: &str) -> &Self {
        let status = status.to_ascii_uppercase();
        let state = match status.as_str() {
            "SUCCESS" => "ACTIVE",
            "FAILURE" => "FAILURE",
            "ERROR" => "ERROR",
            "INACTIVE" => "INACTIVE",
            "QUEUED" => "QUEUED",
            "PENDING" => "PENDING",
            _ => "IN_PROGRESS",
        };
        self.edit(|r| {
            r.whole_gate.deployments.push(Deployment {
                sha: sha.to_owned(),
                environment: environment.to_owned(),
                state: state.to_owned(),
                status,
            });
        });
        self
    }
}
