//! A pull request's conversation: collaborators' permissions, issue
//! comments and their reactions — what `@seamguard recheck` / `explain`
//! read and write.
//!
//! GitHub's permission answer for someone who is not a collaborator is
//! `read` on a repository they can see; the fake answers the same for any
//! login not given a permission with `RepoHandle::collaborator`.

use chrono::Utc;
use serde_json::json;

use super::super::json::{self as gh, time};
use super::super::world::World;
use super::{Answer, Ctx};

/// The reactions GitHub accepts (`reaction.content` in the OpenAPI
/// description); anything else is a 422.
const REACTIONS: &[&str] = &[
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

/// One comment on an issue or pull request.
#[derive(Debug, Clone)]
pub struct IssueComment {
    pub id: u64,
    pub issue: u64,
    pub user: String,
    /// `User` or `Bot`.
    pub user_type: String,
    pub body: String,
}

/// One reaction on an issue comment.
#[derive(Debug, Clone)]
pub struct Reaction {
    pub comment: u64,
    pub user: String,
    pub content: String,
}

/// The conversation state of one repository.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// login → `admin` | `write` | `read` | `none`.
    pub permissions: std::collections::BTreeMap<String, String>,
    pub comments: Vec<IssueComment>,
    pub reactions: Vec<Reaction>,
}

fn comment_json(world: &World, repo_key: &str, c: &IssueComment) -> serde_json::Value {
    let api = &world.api_url;
    let now = time(Utc::now());
    json!({
        "id": c.id,
        "node_id": format!("IC_{}", c.id),
        "url": format!("{api}/repos/{repo_key}/issues/comments/{}", c.id),
        "html_url": format!("https://github.com/{repo_key}/pull/{}#issuecomment-{}", c.issue, c.id),
        "issue_url": format!("{api}/repos/{repo_key}/issues/{}", c.issue),
        "body": c.body,
        "user": gh::user(api, &c.user, &c.user_type),
        "created_at": now,
        "updated_at": now,
    })
}

/// `GET /repos/{owner}/{repo}/collaborators/{username}/permission`
pub fn permission(world: &mut World, ctx: &Ctx) -> Answer {
    let login = ctx.param("username");
    let repo = ctx.repo(world);
    let role = repo
        .conversation
        .permissions
        .get(login)
        .cloned()
        .unwrap_or_else(|| "read".to_owned());
    // As GitHub answers: `permission` is one of admin, write, read, none
    // (maintain reads as write, triage as read); `role_name` is the role.
    let permission = match role.as_str() {
        "maintain" => "write",
        "triage" => "read",
        other => other,
    };
    Answer::json(
        200,
        json!({ "permission": permission, "role_name": role, "user": null }),
    )
}

/// `POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions`
pub fn react(world: &mut World, ctx: &Ctx) -> Answer {
    let Ok(comment) = ctx.param("comment_id").parse::<u64>() else {
        return Answer::not_found();
    };
    let Some(content) = ctx
        .body
        .as_ref()
        .and_then(|b| b["content"].as_str())
        .map(str::to_owned)
    else {
        return Answer::invalid("content is missing");
    };
    if !REACTIONS.contains(&content.as_str()) {
        return Answer::invalid(&format!("content {content} is not a reaction"));
    }
    let user = format!("{}[bot]", world.app_slug);
    let key = ctx.repo_key();
    let repo = world.repo_mut(&key);
    if !repo.conversation.comments.iter().any(|c| c.id == comment) {
        return Answer::not_found();
    }
    let again = repo
        .conversation
        .reactions
        .iter()
        .any(|r| r.comment == comment && r.user == user && r.content == content);
    if !again {
        repo.conversation.reactions.push(Reaction {
            comment,
            user: user.clone(),
            content: content.clone(),
        });
    }
    let id = gh::id_of("reaction", &format!("{key}/{comment}/{content}"));
    let api = world.api_url.clone();
    Answer::json(
        // GitHub answers 200 when this reaction was already there.
        if again { 200 } else { 201 },
        json!({
            "id": id,
            "node_id": format!("REA_{id}"),
            "user": gh::user(&api, &user, "Bot"),
            "content": content,
            "created_at": time(Utc::now()),
        }),
    )
}

/// `POST /repos/{owner}/{repo}/issues/{issue_number}/comments`
pub fn comment(world: &mut World, ctx: &Ctx) -> Answer {
    let Ok(issue) = ctx.param("issue_number").parse::<u64>() else {
        return Answer::not_found();
    };
    let Some(body) = ctx
        .body
        .as_ref()
        .and_then(|b| b["body"].as_str())
        .map(str::to_owned)
    else {
        return Answer::invalid("body is missing");
    };
    let user = format!("{}[bot]", world.app_slug);
    let id = world.next_id();
    let key = ctx.repo_key();
    let repo = world.repo_mut(&key);
    if !repo.pulls.contains_key(&issue) {
        return Answer::not_found();
    }
    let c = IssueComment {
        id,
        issue,
        user,
        user_type: "Bot".to_owned(),
        body,
    };
    repo.conversation.comments.push(c.clone());
    Answer::json(201, comment_json(world, &key, &c))
}
