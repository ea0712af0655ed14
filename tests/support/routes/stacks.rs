//! Stacks of pull requests: `GET /repos/{owner}/{repo}/stacks/{stack_number}`.
//!
//! Tests build stacks with [`crate::support::scenario::RepoHandle::stack`]
//! (what `POST …/stacks` does: pull requests bottom first, each based on
//! the head branch of the one below). Merging one is `merge-async` on
//! pull request *k*, which merges 1…*k* ([`super::pulls`]).

use serde_json::{Value, json};

use super::{Answer, Ctx};
use crate::support::json as gh;
use crate::support::world::{PullState, Repo, World};

/// One pull request as a stack lists it (`pull-request-stack-pull-request`).
fn member(world: &World, repo: &Repo, number: u64) -> Value {
    let pr = &repo.pulls[&number];
    let api = &world.api_url;
    let full = repo.full_name();
    let side = |git_ref: &str, sha: &str| {
        json!({
            "ref": git_ref,
            "sha": sha,
            "repo": { "id": repo.id, "url": format!("{api}/repos/{full}"), "name": repo.name }
        })
    };
    let base_sha = repo.tip(&pr.base_ref).cloned().unwrap_or_default();
    json!({
        "id": pr.id,
        "number": pr.number,
        "url": format!("{api}/repos/{full}/pulls/{}", pr.number),
        "head": side(&pr.head_ref, &pr.head_sha),
        "base": side(&pr.base_ref, &base_sha),
        "node_id": format!("PR_kwDO{:08X}", pr.id),
        "title": pr.title,
        "state": match pr.state { PullState::Open => "open", PullState::Closed => "closed" },
        "merged_at": gh::opt_time(pr.merged_at),
        "draft": pr.draft,
        "html_url": format!("{}/{full}/pull/{}", gh::WEB, pr.number),
        "user": gh::user(api, &pr.user, gh::account_type(&pr.user)),
    })
}

/// `GET /repos/{owner}/{repo}/stacks/{stack_number}`: the stack, its
/// pull requests bottom first (merged and closed ones too).
pub fn get(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let Some(stack) = ctx
        .param("stack_number")
        .parse::<u64>()
        .ok()
        .and_then(|n| repo.stacks.iter().find(|s| s.number == n))
    else {
        return Answer::not_found();
    };
    let open = stack.pulls.iter().any(|n| repo.pulls[n].is_open());
    let pulls: Vec<Value> = stack
        .pulls
        .iter()
        .map(|n| member(world, repo, *n))
        .collect();
    Answer::json(
        200,
        json!({
            "id": stack.id,
            "number": stack.number,
            "node_id": format!("S_kwDO{:08X}", stack.id),
            "url": format!("{}/repos/{}/stacks/{}", world.api_url, repo.full_name(), stack.number),
            "base": { "ref": stack.base_ref },
            "open": open,
            "created_at": gh::time(stack.created_at),
            "pull_requests": pulls,
        }),
    )
}
