//! Scenario steps and deliveries for a pull request's conversation: who may
//! command seamguard, `issue_comment` deliveries holding commands, and the
//! check run's "Re-check" button (`check_run` `requested_action`).
//!
//! The bodies are shaped like GitHub's: an `issue_comment` names the issue
//! (with a `pull_request` object when the issue is a pull request) and the
//! comment with its author; a `requested_action` carries the check run, the
//! action's `identifier` and the `sender` who pressed it.

use chrono::Utc;
use serde_json::json;

use super::deliveries::{Delivery, envelope, merge};
use super::json::{self as gh, time};
use super::routes::issues::IssueComment;
use super::scenario::RepoHandle;

impl RepoHandle {
    /// Gives `login` this repository permission (`admin`, `write`, `read`,
    /// `none`); logins not given one read as `read`.
    pub fn collaborator(&self, login: &str, permission: &str) -> &Self {
        self.edit(|r| {
            r.conversation
                .permissions
                .insert(login.to_owned(), permission.to_owned());
        });
        self
    }

    /// `login` (a `User`, or a `Bot`) comments `body` on pull request #`pr`;
    /// returns the `issue_comment` `created` delivery.
    pub fn comment_on(&self, pr: u64, login: &str, user_type: &str, body: &str) -> Delivery {
        let id = self.shared.edit(|w| w.next_id());
        self.edit(|r| {
            r.conversation.comments.push(IssueComment {
                id,
                issue: pr,
                user: login.to_owned(),
                user_type: user_type.to_owned(),
                body: body.to_owned(),
            });
        });
        self.read(|world, repo| {
            let key = repo.full_name();
            let api = &world.api_url;
            let pull = repo.pulls.get(&pr).expect("pull request exists");
            let issue = json!({
                "url": format!("{api}/repos/{key}/issues/{pr}"),
                "html_url": format!("{}/{key}/pull/{pr}", gh::WEB),
                "id": gh::id_of("issue", &format!("{key}#{pr}")),
                "number": pr,
                "title": pull.title,
                "user": gh::user(api, &pull.user, "User"),
                "state": "open",
                "locked": false,
                "comments": 1,
                "labels": [],
                "pull_request": {
                    "url": format!("{api}/repos/{key}/pulls/{pr}"),
                    "html_url": format!("{}/{key}/pull/{pr}", gh::WEB),
                    "diff_url": format!("{}/{key}/pull/{pr}.diff", gh::WEB),
                    "patch_url": format!("{}/{key}/pull/{pr}.patch", gh::WEB),
                    "merged_at": null
                }
            });
            let now = time(Utc::now());
            let comment = json!({
                "id": id,
                "node_id": format!("IC_{id}"),
                "url": format!("{api}/repos/{key}/issues/comments/{id}"),
                "html_url": format!("{}/{key}/pull/{pr}#issuecomment-{id}", gh::WEB),
                "issue_url": format!("{api}/repos/{key}/issues/{pr}"),
                "body": body,
                "user": gh::user(api, login, user_type),
                "author_association": "CONTRIBUTOR",
                "created_at": now,
                "updated_at": now,
                "performed_via_github_app": null
            });
            let mut d = merge(
                envelope(world, repo, Some("created")),
                json!({ "issue": issue, "comment": comment }),
            );
            d["sender"] = gh::user(api, login, user_type);
            Delivery::new("issue_comment", d)
        })
    }

    /// `login` presses the action `identifier` on check run `id`.
    pub fn requested_action_event(&self, id: u64, identifier: &str, login: &str) -> Delivery {
        let mut d = self.check_run_event("requested_action", id);
        let api = self.read(|world, _| world.api_url.clone());
        d.body["requested_action"] = json!({ "identifier": identifier });
        d.body["sender"] = gh::user(&api, login, "User");
        d
    }

    /// The comments on pull request #`pr`, oldest first.
    pub fn comments_on(&self, pr: u64) -> Vec<IssueComment> {
        self.read(|_, r| {
            r.conversation
                .comments
                .iter()
                .filter(|c| c.issue == pr)
                .cloned()
                .collect()
        })
    }

    /// The reactions on comment `id`: (user, content).
    pub fn reactions_on(&self, id: u64) -> Vec<(String, String)> {
        self.read(|_, r| {
            r.conversation
                .reactions
                .iter()
                .filter(|x| x.comment == id)
                .map(|x| (x.user.clone(), x.content.clone()))
                .collect()
        })
    }
}
