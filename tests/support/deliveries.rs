//! Signed webhook deliveries, built from the fake's state or loaded from
//! `fixtures/webhooks/`.
//!
//! A [`Delivery`] is an event name, a GUID and a JSON body. Bodies built by
//! the repository's `*_event` methods use the same JSON builders as the REST
//! routes, so the pull request in a `pull_request.opened` delivery is the
//! one `GET /pulls/7` returns. [`Delivery::send`] signs the exact bytes it
//! sends (`X-Hub-Signature-256`, HMAC-SHA256), as GitHub does, and
//! [`super::FakeGitHub::deliver`] also records the delivery in the App's
//! delivery log (`GET /app/hook/deliveries`) with the status it got.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::fake_github::FakeGitHub;
use super::json::{self as gh, time};
use super::scenario::RepoHandle;
use super::world::{HookDelivery, Repo, Sha, World};

/// The webhook secret [`FakeGitHub::env`] gives seamguard.
pub const WEBHOOK_SECRET: &str = "fake-github-webhook-secret";

static GUIDS: AtomicU64 = AtomicU64::new(1);

/// A GUID in GitHub's format, unique within the test binary.
pub fn new_guid() -> String {
    let n = GUIDS.fetch_add(1, Ordering::Relaxed);
    let h = super::world::hash_id("guid", &[&n.to_be_bytes()]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `sha256=<hex>` of `body` under `secret`: GitHub's `X-Hub-Signature-256`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One webhook delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: String,
    pub guid: String,
    pub body: Value,
}

impl Delivery {
    pub fn new(event: &str, body: Value) -> Self {
        Self {
            event: event.to_owned(),
            guid: new_guid(),
            body,
        }
    }

    /// Loads `fixtures/webhooks/<file>`; the event is the file name up to
    /// the first dot (`pull_request.opened.json` is a `pull_request`).
    pub fn fixture(file: &str) -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/webhooks")
            .join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let event = file.split('.').next().unwrap_or(file);
        Self::new(event, body)
    }

    /// Replaces the value at a JSON pointer (`/pull_request/head/sha`).
    pub fn set(mut self, pointer: &str, value: impl Into<Value>) -> Self {
        let slot = self
            .body
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("delivery has no {pointer}"));
        *slot = value.into();
        self
    }

    pub fn action(&self) -> Option<&str> {
        self.body["action"].as_str()
    }

    pub fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body).expect("JSON serializes")
    }

    /// The headers GitHub sends with this delivery, signed with `secret`.
    pub fn headers(&self, secret: &str) -> Vec<(&'static str, String)> {
        vec![
            ("content-type", "application/json".to_owned()),
            ("user-agent", "GitHub-Hookshot/fake".to_owned()),
            ("x-github-event", self.event.clone()),
            ("x-github-delivery", self.guid.clone()),
            ("x-github-hook-id", "1".to_owned()),
            (
                "x-github-hook-installation-target-type",
                "integration".to_owned(),
            ),
            (
                "x-hub-signature-256",
                sign(secret.as_bytes(), &self.bytes()),
            ),
        ]
    }

    /// POSTs the delivery to `url`, signed with `secret`.
    pub async fn send(&self, url: &str, secret: &str) -> reqwest::Response {
        let mut request = reqwest::Client::new().post(url).body(self.bytes());
        for (k, v) in self.headers(secret) {
            request = request.header(k, v);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("deliver {} to {url}: {e}", self.event))
    }
}

impl FakeGitHub {
    /// Delivers to seamguard's webhook `url` with [`WEBHOOK_SECRET`], as
    /// GitHub would, and logs it in the App's delivery list. The status.
    pub async fn deliver(&self, delivery: &Delivery, url: &str) -> u16 {
        let status = delivery.send(url, WEBHOOK_SECRET).await.status().as_u16();
        self.log_delivery(delivery, status);
        status
    }

    /// Logs a delivery in `GET /app/hook/deliveries` without sending it
    /// (a delivery GitHub says it made, e.g. while seamguard was down).
    pub fn log_delivery(&self, delivery: &Delivery, status_code: u16) -> u64 {
        self.with_world(|w| {
            let id = w.next_id();
            w.hook_deliveries.push(HookDelivery {
                id,
                guid: delivery.guid.clone(),
                delivered_at: Utc::now(),
                redelivery: false,
                status_code,
                event: delivery.event.clone(),
                action: delivery.action().map(str::to_owned),
                installation_id: delivery.body["installation"]["id"].as_u64(),
                repository_id: delivery.body["repository"]["id"].as_u64(),
                body: delivery.bytes(),
            });
            id
        })
    }

    /// Does what GitHub does after `POST .../attempts`: sends each
    /// requested delivery again to `url` (same GUID, same body) and logs it
    /// as a redelivery. Returns the statuses seamguard answered.
    pub async fn perform_redeliveries(&self, url: &str) -> Vec<u16> {
        let due: Vec<HookDelivery> = self.with_world(|w| {
            let ids = w.redeliveries[w.redeliveries_sent..].to_vec();
            w.redeliveries_sent = w.redeliveries.len();
            ids.iter()
                .filter_map(|id| w.hook_deliveries.iter().find(|d| d.id == *id).cloned())
                .collect()
        });
        let mut statuses = Vec::new();
        for original in due {
            let body: Value = serde_json::from_slice(&original.body).unwrap_or(Value::Null);
            let mut delivery = Delivery::new(&original.event, body);
            delivery.guid = original.guid.clone();
            let status = delivery.send(url, WEBHOOK_SECRET).await.status().as_u16();
            let id = self.log_delivery(&delivery, status);
            self.with_world(|w| {
                if let Some(d) = w.hook_deliveries.iter_mut().find(|d| d.id == id) {
                    d.redelivery = true;
                }
            });
            statuses.push(status);
        }
        statuses
    }
}

/// The fields every App delivery about a repository carries.
pub(crate) fn envelope(world: &World, repo: &Repo, action: Option<&str>) -> Value {
    let mut v = json!({
        "repository": gh::repo(world, repo),
        "sender": gh::user(&world.api_url, "octocat", "User"),
        "installation": gh::installation_ref(repo.installation)
    });
    if repo.owner_type == super::world::OwnerType::Organization {
        v["organization"] = json!({
            "login": repo.owner,
            "id": gh::id_of("user", &repo.owner),
            "node_id": format!("O_{}", repo.owner),
            "url": format!("{}/orgs/{}", world.api_url, repo.owner),
            "repos_url": format!("{}/orgs/{}/repos", world.api_url, repo.owner),
            "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4",
            "description": null
        });
    }
    if let Some(a) = action {
        v["action"] = json!(a);
    }
    v
}

pub(crate) fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

fn simple_commit(repo: &Repo, sha: &str) -> Value {
    let c = repo.commit(sha);
    json!({
        "id": c.sha,
        "tree_id": c.tree_sha(),
        "distinct": true,
        "message": c.message,
        "timestamp": time(c.date),
        "url": format!("{}/{}/commit/{}", gh::WEB, repo.full_name(), c.sha),
        "author": { "name": c.author, "email": format!("{}@users.noreply.github.com", c.author), "username": c.author },
        "committer": { "name": c.committer, "email": format!("{}@users.noreply.github.com", c.committer), "username": c.committer },
        "added": [], "removed": [], "modified": []
    })
}

fn check_suite(world: &World, repo: &Repo, id: u64, sha: &str, app_id: u64, slug: &str) -> Value {
    let runs: Vec<_> = repo
        .latest_check_runs(sha)
        .into_iter()
        .filter(|r| r.app_id == app_id)
        .collect();
    let all_done = !runs.is_empty() && runs.iter().all(|r| r.is_completed());
    let conclusion = if !all_done {
        Value::Null
    } else if runs.iter().all(|r| {
        matches!(
            r.conclusion.as_deref(),
            Some("success" | "neutral" | "skipped")
        )
    }) {
        json!("success")
    } else {
        json!("failure")
    };
    let head_branch = repo
        .branches
        .iter()
        .find(|(_, s)| s.as_str() == sha)
        .map(|(b, _)| b.clone());
    json!({
        "id": id,
        "node_id": format!("CS_{id}"),
        "head_branch": head_branch,
        "head_sha": sha,
        "status": if all_done { "completed" } else { "in_progress" },
        "conclusion": conclusion,
        "url": format!("{}/repos/{}/check-suites/{id}", world.api_url, repo.full_name()),
        "before": repo.commit(sha).parents.first(),
        "after": sha,
        "pull_requests": gh::pr_refs(world, repo, sha),
        "app": gh::app_with(world, app_id, slug),
        "created_at": time(Utc::now()),
        "updated_at": time(Utc::now()),
        "rerequestable": true,
        "runs_rerequestable": false,
        "latest_check_runs_count": runs.len(),
        "check_runs_url": format!("{}/repos/{}/check-suites/{id}/check-runs", world.api_url, repo.full_name()),
        "head_commit": {
            "id": sha,
            "tree_id": repo.commit(sha).tree_sha(),
            "message": repo.commit(sha).message,
            "timestamp": time(repo.commit(sha).date),
            "author": { "name": "octocat", "email": "octocat@users.noreply.github.com" },
            "committer": { "name": "octocat", "email": "octocat@users.noreply.github.com" }
        }
    })
}

impl RepoHandle {
    /// A `pull_request` delivery (`opened`, `synchronize`, `labeled`...)
    /// for pull request `number` as it is now. `labeled`/`unlabeled` carry
    /// the last label; `synchronize` carries `before`/`after`.
    pub fn pull_request_event(&self, action: &str, number: u64) -> Delivery {
        self.read(|world, repo| {
            let pr = repo
                .pulls
                .get(&number)
                .unwrap_or_else(|| panic!("no pull request #{number}"));
            let mut extra = json!({
                "number": number,
                "pull_request": gh::pull(world, repo, pr)
            });
            if matches!(action, "labeled" | "unlabeled") {
                let name = pr
                    .labels
                    .last()
                    .cloned()
                    .unwrap_or_else(|| "automerge".to_owned());
                extra["label"] = gh::label(world, repo, &name);
            }
            if action == "dequeued" {
                let reason = repo
                    .queue_removals
                    .iter()
                    .rev()
                    .find(|r| r.number == number)
                    .map_or("UNKNOWN_REMOVAL_REASON", |r| r.reason.as_str());
                extra["reason"] = json!(reason);
            }
            if action == "synchronize" {
                let before = repo.commit(&pr.head_sha).parents.first().cloned();
                extra["before"] = json!(before);
                extra["after"] = json!(pr.head_sha);
            }
            Delivery::new(
                "pull_request",
                merge(envelope(world, repo, Some(action)), extra),
            )
        })
    }

    /// A `pull_request` `stacked` delivery for pull request `number`, which
    /// is in a stack: the pull request, and the stack at top level.
    pub fn stacked_event(&self, number: u64) -> Delivery {
        let mut delivery = self.pull_request_event("stacked", number);
        let stack = self.read(|_, repo| gh::pull_stack(repo, number));
        assert!(!stack.is_null(), "#{number} is in no stack");
        delivery.body["stack"] = stack;
        delivery
    }

    /// A `check_run` delivery for run `id` as it is now.
    pub fn check_run_event(&self, action: &str, id: u64) -> Delivery {
        self.read(|world, repo| {
            let run = repo
                .check_runs
                .iter()
                .find(|r| r.id == id)
                .unwrap_or_else(|| panic!("no check run {id}"));
            let mut check = gh::check_run(world, repo, run);
            check["check_suite"] = check_suite(
                world,
                repo,
                run.check_suite_id,
                &run.head_sha,
                run.app_id,
                &run.app_slug,
            );
            Delivery::new(
                "check_run",
                merge(
                    envelope(world, repo, Some(action)),
                    json!({ "check_run": check }),
                ),
            )
        })
    }

    /// A `check_suite` delivery for the suite of `app_id` on `sha`.
    pub fn check_suite_event(&self, action: &str, sha: &Sha, app_id: u64) -> Delivery {
        self.read(|world, repo| {
            let run = repo
                .check_runs
                .iter()
                .find(|r| &r.head_sha == sha && r.app_id == app_id);
            let id = run
                .map(|r| r.check_suite_id)
                .unwrap_or_else(|| gh::id_of("suite", sha));
            let slug = run
                .map(|r| r.app_slug.clone())
                .unwrap_or_else(|| format!("app-{app_id}"));
            let suite = check_suite(world, repo, id, sha, app_id, &slug);
            Delivery::new(
                "check_suite",
                merge(
                    envelope(world, repo, Some(action)),
                    json!({ "check_suite": suite }),
                ),
            )
        })
    }

    /// A `status` delivery for the latest status of `context` on `sha`.
    pub fn status_event(&self, sha: &Sha, context: &str) -> Delivery {
        self.read(|world, repo| {
            let status = repo
                .latest_statuses(sha)
                .into_iter()
                .find(|s| s.context == context)
                .unwrap_or_else(|| panic!("no status {context} on {sha}"));
            let branches: Vec<Value> = repo
                .branches
                .iter()
                .filter(|(_, s)| *s == sha)
                .map(|(b, s)| {
                    json!({
                        "name": b,
                        "commit": { "sha": s, "url": format!("{}/repos/{}/commits/{s}", world.api_url, repo.full_name()) },
                        "protected": repo.protection.contains_key(b)
                    })
                })
                .collect();
            let extra = json!({
                "id": status.id,
                "sha": sha,
                "name": repo.full_name(),
                "target_url": status.target_url,
                "avatar_url": null,
                "context": context,
                "description": status.description,
                "state": status.state,
                "commit": gh::commit(world, repo, repo.commit(sha)),
                "branches": branches,
                "created_at": time(status.created_at),
                "updated_at": time(status.created_at)
            });
            Delivery::new("status", merge(envelope(world, repo, None), extra))
        })
    }

    /// A `repository_ruleset` delivery (`created`, `edited`, `deleted`) for
    /// ruleset `id` as it is now (a deleted one by its id alone).
    pub fn ruleset_event(&self, action: &str, id: u64) -> Delivery {
        self.read(|world, repo| {
            let ruleset = repo.rulesets.iter().find(|s| s.id == id);
            let include: Vec<&str> = ruleset
                .map(|s| s.include.iter().map(String::as_str).collect())
                .unwrap_or_default();
            let extra = json!({
                "repository_ruleset": {
                    "id": id,
                    "name": ruleset.map_or_else(|| format!("ruleset {id}"), |s| s.name.clone()),
                    "target": "branch",
                    "source_type": "Repository",
                    "source": repo.full_name(),
                    "enforcement": ruleset.map_or("active", |s| s.enforcement.as_str()),
                    "conditions": { "ref_name": { "include": include, "exclude": [] } },
                    "node_id": format!("RRS_{id}"),
                    "created_at": time(Utc::now()),
                    "updated_at": time(Utc::now())
                }
            });
            Delivery::new(
                "repository_ruleset",
                merge(envelope(world, repo, Some(action)), extra),
            )
        })
    }

    /// A `push` delivery: `branch` moved from `before` to its current tip.
    pub fn push_event(&self, branch: &str, before: &Sha) -> Delivery {
        self.read(|world, repo| {
            let after = repo.tip(branch).cloned().unwrap_or_else(|| "0".repeat(40));
            let commits: Vec<Value> = if repo.commits.contains_key(before) && repo.commits.contains_key(&after) {
                repo.range(&after, &repo.ancestors(before))
                    .iter()
                    .map(|c| simple_commit(repo, c))
                    .collect()
            } else {
                Vec::new()
            };
            let head_commit = repo
                .commits
                .contains_key(&after)
                .then(|| simple_commit(repo, &after));
            let extra = json!({
                "ref": format!("refs/heads/{branch}"),
                "before": before,
                "after": after,
                "created": before.chars().all(|c| c == '0'),
                "deleted": !repo.branches.contains_key(branch),
                "forced": false,
                "base_ref": null,
                "compare": format!("{}/{}/compare/{}...{}", gh::WEB, repo.full_name(), &before[..12.min(before.len())], &after[..12]),
                "commits": commits,
                "head_commit": head_commit,
                "pusher": { "name": "octocat", "email": "octocat@users.noreply.github.com" }
            });
            Delivery::new("push", merge(envelope(world, repo, None), extra))
        })
    }

    /// A `pull_request_review` delivery (`submitted`, `dismissed`) for
    /// `login`'s latest review of pull request #`number`.
    pub fn review_event(&self, action: &str, number: u64, login: &str) -> Delivery {
        self.read(|world, repo| {
            let pr = &repo.pulls[&number];
            let review = repo
                .whole_gate
                .reviews
                .iter()
                .rev()
                .find(|r| r.number == number && r.login == login)
                .unwrap_or_else(|| panic!("no review of #{number} by {login}"));
            let html = format!("{}/{}/pull/{number}", gh::WEB, repo.full_name());
            let extra = json!({
                "review": {
                    "id": gh::id_of("review", &format!("{number}/{login}")),
                    "node_id": format!("PRR_{number}_{login}"),
                    "user": gh::user(&world.api_url, login, "User"),
                    "body": null,
                    "commit_id": review.commit,
                    "submitted_at": time(Utc::now()),
                    "state": review.state.to_ascii_lowercase(),
                    "html_url": format!("{html}#pullrequestreview"),
                    "pull_request_url": format!("{}/repos/{}/pulls/{number}", world.api_url, repo.full_name()),
                    "author_association": "MEMBER",
                    "_links": { "html": { "href": html }, "pull_request": { "href": format!("{}/repos/{}/pulls/{number}", world.api_url, repo.full_name()) } }
                },
                "pull_request": gh::pull(world, repo, pr)
            });
            Delivery::new(
                "pull_request_review",
                merge(envelope(world, repo, Some(action)), extra),
            )
        })
    }

    /// A `pull_request_review_thread` delivery (`resolved`, `unresolved`)
    /// for a thread of pull request #`number`.
    pub fn thread_event(&self, action: &str, number: u64) -> Delivery {
        self.read(|world, repo| {
            let pr = &repo.pulls[&number];
            let extra = json!({
                "thread": { "node_id": format!("PRRT_{number}"), "comments": [] },
                "pull_request": gh::pull(world, repo, pr)
            });
            Delivery::new(
                "pull_request_review_thread",
                merge(envelope(world, repo, Some(action)), extra),
            )
        })
    }

    /// A `deployment_status` delivery (`created`): the latest status of
    /// the latest deployment of `sha` to `environment`.
    pub fn deployment_status_event(&self, sha: &Sha, environment: &str) -> Delivery {
        self.read(|world, repo| {
            let d = repo
                .whole_gate
                .deployments
                .iter()
                .rev()
                .find(|d| &d.sha == sha && d.environment == environment)
                .unwrap_or_else(|| panic!("no deployment of {sha} to {environment}"));
            let full = repo.full_name();
            let id = gh::id_of("deployment", &format!("{sha}/{environment}"));
            let url = format!("{}/repos/{full}/deployments/{id}", world.api_url);
            let extra = json!({
                "deployment_status": {
                    "id": id,
                    "node_id": format!("DES_{id}"),
                    "state": d.status.to_ascii_lowercase(),
                    "environment": environment,
                    "description": "",
                    "target_url": "",
                    "url": format!("{url}/statuses/1"),
                    "deployment_url": url,
                    "repository_url": format!("{}/repos/{full}", world.api_url),
                    "creator": gh::user(&world.api_url, "octocat", "User"),
                    "created_at": time(Utc::now()),
                    "updated_at": time(Utc::now())
                },
                "deployment": {
                    "id": id,
                    "node_id": format!("DE_{id}"),
                    "sha": sha,
                    "ref": sha,
                    "task": "deploy",
                    "environment": environment,
                    "url": url,
                    "payload": {},
                    "description": null,
                    "creator": gh::user(&world.api_url, "octocat", "User"),
                    "statuses_url": format!("{url}/statuses"),
                    "repository_url": format!("{}/repos/{full}", world.api_url),
                    "created_at": time(Utc::now()),
                    "updated_at": time(Utc::now())
                }
            });
            Delivery::new(
                "deployment_status",
                merge(envelope(world, repo, Some("created")), extra),
            )
        })
    }

    /// A `merge_group` delivery (`checks_requested`) for a queue entry
    /// whose merge commit is `head_sha`, targeting `base`.
    pub fn merge_group_event(&self, action: &str, head_sha: &Sha, base: &str) -> Delivery {
        self.read(|world, repo| {
            let base_sha = repo.tip(base).cloned().unwrap_or_default();
            let group = json!({
                "head_sha": head_sha,
                "head_ref": format!("refs/heads/gh-readonly-queue/{base}/pr-1-{base_sha}"),
                "base_sha": base_sha,
                "base_ref": format!("refs/heads/{base}"),
                "head_commit": simple_commit(repo, head_sha)
            });
            Delivery::new(
                "merge_group",
                merge(
                    envelope(world, repo, Some(action)),
                    json!({ "merge_group": group }),
                ),
            )
        })
    }
}
