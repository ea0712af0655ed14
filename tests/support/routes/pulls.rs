//! Pull requests: read, list, files, merge (synchronous and asynchronous)
//! and update-branch.
//!
//! The merge is real: a new commit lands on the base branch (a merge
//! commit, a squash, or the pull request's commits replayed for a rebase)
//! and the pull request closes as merged. The refusals are GitHub's, with
//! GitHub's words: 409 when the pinned `sha` is not the head, 405 when the
//! pull request is closed, conflicting or a draft, and 405 for required
//! checks that are not green yet, singular and plural wording alike (as
//! GitHub enforces them, whether seamguard could read them or not).
//!
//! The asynchronous merge (`merge-async`) keeps GitHub's split: basic state
//! checks when asked (400 `failed`), the merge itself — and so every rule —
//! when it runs, which is on a later read of its result (`failed` then
//! carries the same words as the synchronous refusal). Its `merge_action`
//! is GitHub's: `merge_queue` adds the pull request to its base's merge
//! queue when it runs (`enqueued`; 200 `enqueued` at once when it is
//! already queued), `direct_merge` is refused (400) on a base whose rules
//! require the merge queue, and `default` picks the queue where the base
//! has one.

use chrono::Utc;
use serde_json::{Value, json};

use super::{Answer, Ctx, paged, paginate};
use crate::support::diff::diff_trees;
use crate::support::json as gh;
use crate::support::world::{AsyncMerge, PullState, QueueEntry, Repo, World};

/// GitHub's default and largest page sizes for list endpoints.
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

/// GitHub lists at most 3,000 files of a pull request.
pub const MAX_PULL_FILES: usize = 3_000;

fn number(ctx: &Ctx) -> Option<u64> {
    ctx.param("number").parse().ok()
}

/// `GET /repos/{owner}/{repo}/pulls/{number}`: the read that, after a
/// push, answers unknown mergeability until GitHub has computed it.
pub fn get(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let Some(pr) = number(ctx).and_then(|n| repo.pulls.get(&n)) else {
        return Answer::not_found();
    };
    let answer = Answer::json(200, gh::pull(world, repo, pr));
    let (n, reads) = (pr.number, world.unknown_reads_after_push);
    world.repo_mut(&ctx.repo_key()).read_mergeability(n, reads);
    answer
}

/// `GET /repos/{owner}/{repo}/pulls?state=&base=&head=`, newest first.
pub fn list(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let state = ctx.q("state").unwrap_or("open");
    let head = ctx.q("head");
    let prs: Vec<Value> = repo
        .pulls
        .values()
        .rev()
        .filter(|p| match state {
            "open" => p.is_open(),
            "closed" => !p.is_open(),
            _ => true,
        })
        .filter(|p| ctx.q("base").is_none_or(|b| p.base_ref == b))
        .filter(|p| {
            head.is_none_or(|h| {
                let owner = p
                    .head_repo
                    .as_deref()
                    .and_then(|f| f.split('/').next())
                    .unwrap_or(&repo.owner);
                h == format!("{owner}:{}", p.head_ref)
            })
        })
        .map(|p| gh::pull(world, repo, p))
        .collect();
    let (page, link) = paginate(ctx, &prs, DEFAULT_PER_PAGE, MAX_PER_PAGE);
    paged(200, Value::Array(page), link)
}

/// `GET /repos/{owner}/{repo}/pulls/{number}/files`: the diff from the
/// merge base to the head, paginated, at most 3,000 files.
pub fn files(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let Some(pr) = number(ctx).and_then(|n| repo.pulls.get(&n)) else {
        return Answer::not_found();
    };
    let base = repo.tip(&pr.base_ref).cloned().unwrap_or_default();
    let base_tree = repo
        .merge_base(&base, &pr.head_sha)
        .map(|mb| repo.commit(&mb).tree.clone())
        .unwrap_or_default();
    let mut changes = diff_trees(
        &base_tree,
        &repo.commit(&pr.head_sha).tree,
        &repo.large_files,
    );
    changes.truncate(MAX_PULL_FILES);
    let files: Vec<Value> = changes
        .iter()
        .map(|f| gh::file(world, repo, &pr.head_sha, f))
        .collect();
    let (page, link) = paginate(ctx, &files, DEFAULT_PER_PAGE, MAX_PER_PAGE);
    paged(200, Value::Array(page), link)
}

/// `GET /repos/{owner}/{repo}/commits/{sha}/pulls`: on the default branch,
/// the merged pull requests that brought the commit in; elsewhere, the
/// pull requests (open or not) whose head it is.
pub fn for_commit(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let Some(sha) = repo.resolve(ctx.param("sha")) else {
        return Answer::error(
            422,
            &format!("No commit found for SHA: {}", ctx.param("sha")),
        );
    };
    let on_default = repo
        .tip(&repo.default_branch)
        .is_some_and(|tip| repo.is_ancestor(&sha, tip));
    let prs: Vec<Value> = repo
        .pulls
        .values()
        .rev()
        .filter(|p| {
            if on_default {
                p.merged
                    && (p.merge_commit_sha.as_deref() == Some(sha.as_str()) || p.head_sha == sha)
            } else {
                p.head_sha == sha
            }
        })
        .map(|p| gh::pull(world, repo, p))
        .collect();
    let (page, link) = paginate(ctx, &prs, DEFAULT_PER_PAGE, MAX_PER_PAGE);
    paged(200, Value::Array(page), link)
}

/// Why a merge is refused while required checks are not green, in
/// GitHub's words (`None` when they all passed).
fn required_checks_refusal(repo: &Repo, base: &str, head: &str) -> Option<String> {
    let (required, _) = repo.required_checks(base);
    let states: Vec<(&str, &str)> = required
        .iter()
        .map(|c| (c.context.as_str(), repo.check_state(head, c)))
        .collect();
    let failing: Vec<&str> = states
        .iter()
        .filter(|(_, s)| *s == "failure")
        .map(|(c, _)| *c)
        .collect();
    if let [one] = failing[..] {
        return Some(format!("Required status check \"{one}\" is failing."));
    }
    if failing.len() > 1 {
        return Some(format!(
            "{} of {} required status checks are failing.",
            failing.len(),
            required.len()
        ));
    }
    let expected: Vec<&str> = states
        .iter()
        .filter(|(_, s)| *s == "pending")
        .map(|(c, _)| *c)
        .collect();
    match expected[..] {
        [] => None,
        [one] => Some(format!("Required status check \"{one}\" is expected.")),
        _ => Some(format!(
            "{} of {} required status checks are expected.",
            expected.len(),
            required.len()
        )),
    }
}

/// The fake's words for `PUT …/merge` on a pull request in a stack, which
/// GitHub merges only through `merge-async` (its description: "the
/// required method for merging stacked PRs"). GitHub's exact wording is
/// not published; the status is the synchronous merge's refusal, 405.
pub const STACKED_MERGE_REFUSAL: &str =
    "This pull request is part of a stack; merge it with the asynchronous merge API (merge-async).";

/// `PUT /repos/{owner}/{repo}/pulls/{number}/merge`: refused (405) for an
/// open pull request in a stack.
pub fn merge(world: &mut World, ctx: &Ctx) -> Answer {
    let key = ctx.repo_key();
    let Some(n) = number(ctx) else {
        return Answer::not_found();
    };
    let repo = world.repo(&key);
    if repo.pulls.get(&n).is_some_and(|p| p.is_open()) && repo.stack_of(n).is_some() {
        return Answer::error(405, STACKED_MERGE_REFUSAL);
    }
    let body = ctx.body.clone().unwrap_or(Value::Null);
    merge_pull(world, &key, n, &body)
}

/// Merges pull request `n` of `key` as `PUT …/merge` does, with `body`'s
/// `sha` and `merge_method`: every refusal GitHub makes, in its words.
fn merge_pull(world: &mut World, key: &str, n: u64, body: &Value) -> Answer {
    let enforce = world.enforce_required_checks;
    let repo = world.repo_mut(key);
    let Some(pr) = repo.pulls.get(&n).cloned() else {
        return Answer::not_found();
    };
    let method = body["merge_method"].as_str().unwrap_or("merge");
    if !matches!(method, "merge" | "squash" | "rebase") {
        return Answer::invalid(&format!(
            "merge_method must be one of merge, squash, rebase; got {method:?}"
        ));
    }
    if !pr.is_open() {
        return Answer::error(405, "Pull Request is not mergeable");
    }
    if repo.methods_off.contains(method) {
        let what = match method {
            "merge" => "Merge commits",
            "squash" => "Squash merges",
            _ => "Rebase merges",
        };
        return Answer::error(405, &format!("{what} are not allowed on this repository."));
    }
    if repo.merge_queue_required(&pr.base_ref) {
        return Answer::error(
            405,
            "Repository rule violations found\n\nChanges must be made through the merge queue\n\n",
        );
    }
    if let Some(sha) = body["sha"].as_str()
        && sha != pr.head_sha
    {
        return Answer::error(
            409,
            "Head branch was modified. Review and try the merge again.",
        );
    }
    if pr.draft {
        return Answer::error(405, "Pull Request is still a draft");
    }
    if matches!(pr.mergeable_state.as_deref(), Some("dirty" | "blocked")) {
        return Answer::error(405, "Pull Request is not mergeable");
    }
    let Some(base_tip) = repo.tip(&pr.base_ref).cloned() else {
        return Answer::error(405, "Pull Request is not mergeable");
    };
    if enforce && let Some(why) = required_checks_refusal(repo, &pr.base_ref, &pr.head_sha) {
        return Answer::error(405, &why);
    }
    if let Some(why) = super::reviews::whole_gate_refusal(repo, &pr, method) {
        return Answer::error(405, &why);
    }
    // A strict base refuses a head that does not contain its tip.
    if repo.required_checks(&pr.base_ref).1 && !repo.is_ancestor(&base_tip, &pr.head_sha) {
        return Answer::error(405, "Head branch is out of date");
    }
    let Ok(tree) = repo.merge_trees(&base_tip, &pr.head_sha) else {
        return Answer::error(405, "Pull Request is not mergeable");
    };
    let title = body["commit_title"].as_str();
    let extra = body["commit_message"].as_str();
    let sha = match method {
        "merge" => {
            let head_label = format!("{}/{}", repo.owner, pr.head_ref);
            let mut message = title
                .map(str::to_owned)
                .unwrap_or_else(|| format!("Merge pull request #{} from {head_label}", pr.number));
            message.push_str("\n\n");
            message.push_str(extra.unwrap_or(&pr.title));
            repo.add_commit(&[base_tip.clone(), pr.head_sha.clone()], &message, tree)
        }
        "squash" => {
            let mut message = title
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{} (#{})", pr.title, pr.number));
            if let Some(extra) = extra {
                message.push_str("\n\n");
                message.push_str(extra);
            }
            repo.add_commit(std::slice::from_ref(&base_tip), &message, tree)
        }
        _ => {
            let commits = repo.range(&pr.head_sha, &repo.ancestors(&base_tip));
            if commits.iter().any(|c| repo.commit(c).parents.len() > 1) {
                return Answer::error(405, "This branch can't be rebased");
            }
            let mut tip = base_tip.clone();
            for c in commits {
                let commit = repo.commit(&c).clone();
                let parent_tree = commit
                    .parents
                    .first()
                    .map(|p| repo.commit(p).tree.clone())
                    .unwrap_or_default();
                let mut next = repo.commit(&tip).tree.clone();
                for (path, blob) in &commit.tree {
                    if parent_tree.get(path) != Some(blob) {
                        next.insert(path.clone(), blob.clone());
                    }
                }
                for path in parent_tree.keys() {
                    if !commit.tree.contains_key(path) {
                        next.remove(path);
                    }
                }
                tip = repo.add_commit(&[tip], &commit.message, next);
            }
            tip
        }
    };
    repo.set_branch(&pr.base_ref, &sha);
    let behind: Vec<u64> = repo
        .pulls
        .values()
        .filter(|p| p.is_open() && p.number != pr.number && p.base_ref == pr.base_ref)
        .filter(|p| !repo.is_ancestor(&sha, &p.head_sha))
        .map(|p| p.number)
        .collect();
    repo.behind_seen.extend(behind);
    let now = Utc::now();
    let stored = repo.pulls.get_mut(&pr.number).expect("pull exists");
    stored.state = PullState::Closed;
    stored.merged = true;
    stored.merge_commit_sha = Some(sha.clone());
    stored.merged_at = Some(now);
    stored.closed_at = Some(now);
    stored.updated_at = now;
    Answer::json(
        200,
        json!({ "sha": sha, "merged": true, "message": "Pull Request successfully merged" }),
    )
}

/// `PUT /repos/{owner}/{repo}/pulls/{number}/update-branch`: merges the
/// base into the head (202), if the head is still `expected_head_sha`.
pub fn update_branch(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = world.repo_mut(&ctx.repo_key());
    let Some(pr) = number(ctx).and_then(|n| repo.pulls.get(&n)).cloned() else {
        return Answer::not_found();
    };
    if repo.update_branch_forbidden {
        return Answer::error(403, "Resource not accessible by integration");
    }
    let body = ctx.body.clone().unwrap_or(Value::Null);
    if let Some(expected) = body["expected_head_sha"].as_str()
        && expected != pr.head_sha
    {
        return Answer::error(422, "expected head sha didn't match current head ref.");
    }
    if !pr.is_open() {
        return Answer::error(422, "Cannot update a closed pull request.");
    }
    let Some(base_tip) = repo.tip(&pr.base_ref).cloned() else {
        return Answer::not_found();
    };
    if repo.is_ancestor(&base_tip, &pr.head_sha) {
        return Answer::error(422, "There are no new commits on the base branch.");
    }
    let Ok(tree) = repo.merge_trees(&pr.head_sha, &base_tip) else {
        return Answer::error(422, "merge conflict between base and head");
    };
    let message = format!("Merge branch '{}' into {}", pr.base_ref, pr.head_ref);
    let sha = repo.add_commit(&[pr.head_sha.clone(), base_tip], &message, tree);
    if pr.head_repo.is_some() {
        let stored = repo.pulls.get_mut(&pr.number).expect("pull exists");
        stored.head_sha = sha;
        stored.updated_at = Utc::now();
    } else {
        repo.set_branch(&pr.head_ref, &sha);
    }
    let html = format!("{}/{}/pull/{}", gh::WEB, repo.full_name(), pr.number);
    Answer::json(
        202,
        json!({ "message": "Updating pull request branch.", "url": html }),
    )
}

/// `POST /repos/{owner}/{repo}/merges`: merges `head` (a branch or a SHA)
/// into the branch `base`: 201 with the merge commit, 204 when `base`
/// already contains `head`, 409 on a conflict, 404 when either is missing.
pub fn merges(world: &mut World, ctx: &Ctx) -> Answer {
    let body = ctx.body.clone().unwrap_or(Value::Null);
    let (Some(base), Some(head)) = (body["base"].as_str(), body["head"].as_str()) else {
        return Answer::invalid("base and head are required");
    };
    let key = ctx.repo_key();
    let repo = world.repo_mut(&key);
    let Some(base_tip) = repo.tip(base).cloned() else {
        return Answer::error(404, "Base does not exist");
    };
    let Some(head_sha) = repo.resolve(head) else {
        return Answer::error(404, "Head does not exist");
    };
    if repo.is_ancestor(&head_sha, &base_tip) {
        return Answer {
            status: 204,
            body: Vec::new(),
            content_type: "application/json; charset=utf-8",
            headers: Vec::new(),
        };
    }
    let Ok(tree) = repo.merge_trees(&base_tip, &head_sha) else {
        return Answer::error(409, "Merge conflict");
    };
    let message = body["commit_message"]
        .as_str()
        .map_or_else(|| format!("Merge {head} into {base}"), str::to_owned);
    let sha = repo.add_commit(&[base_tip, head_sha], &message, tree);
    repo.set_branch(base, &sha);
    let repo = world.repo(&key);
    Answer::json(201, gh::commit(world, repo, repo.commit(&sha)))
}

/// Merges pull request `number` as an asynchronous merge runs: alone, or,
/// for pull request *k* of a stack, every open pull request 1…*k*, bottom
/// first, each onto the stack's base (its base retargeted there, as GitHub
/// does), with *k*'s head pinned — atomically: one refusal and none is
/// merged (the refusal is the answer). The open pull request above *k*
/// that was based on *k*'s branch is then based on the stack's base.
fn merge_stack(world: &mut World, key: &str, number: u64, body: &Value) -> Answer {
    let Some((stack, position)) = world
        .repo(key)
        .stack_of(number)
        .map(|(s, p)| (s.clone(), p))
    else {
        return merge_pull(world, key, number, body);
    };
    let before = world.repo(key).clone();
    let mut answer = Answer::error(405, "Pull Request is not mergeable");
    for n in &stack.pulls[..position] {
        let repo = world.repo_mut(key);
        let Some(pr) = repo.pulls.get_mut(n).filter(|p| p.is_open()) else {
            continue;
        };
        pr.base_ref = stack.base_ref.clone();
        let pinned = if *n == number {
            body.clone()
        } else {
            json!({ "merge_method": body["merge_method"] })
        };
        answer = merge_pull(world, key, *n, &pinned);
        if answer.status != 200 {
            *world.repo_mut(key) = before;
            return answer;
        }
    }
    let repo = world.repo_mut(key);
    let merged: Vec<String> = stack.pulls[..position]
        .iter()
        .map(|n| repo.pulls[n].head_ref.clone())
        .collect();
    for n in &stack.pulls[position..] {
        if let Some(pr) = repo
            .pulls
            .get_mut(n)
            .filter(|p| p.is_open() && merged.contains(&p.base_ref))
        {
            pr.base_ref = stack.base_ref.clone();
        }
    }
    answer
}

/// GitHub's refusal of a merge that skips the merge queue a ruleset
/// requires.
const QUEUE_REQUIRED: &str =
    "Repository rule violations found\n\nChanges must be made through the merge queue\n\n";

/// GitHub's refusal to enqueue where the base has no merge queue.
const NO_QUEUE: &str = "Merge queue is not enabled for the base branch of this pull request.";

/// What a request's `merge_action` comes to on this pull request's base:
/// `default` is the merge queue where the base requires one.
fn action(repo: &Repo, pr: &crate::support::world::Pull, requested: &str) -> &'static str {
    match requested {
        "merge_queue" => "merge_queue",
        "direct_merge" => "direct_merge",
        _ if repo.merge_queue_required(&pr.base_ref) => "merge_queue",
        _ => "direct_merge",
    }
}

/// Runs a held `merge_queue` request: the pull request joins its base's
/// queue if it is still open at the pinned head; GitHub's words otherwise.
fn join_queue(repo: &mut Repo, m: &AsyncMerge) -> Result<&'static str, String> {
    let Some(pr) = repo.pulls.get(&m.number) else {
        return Err("Pull request not found.".to_owned());
    };
    if !pr.is_open() {
        return Err("Pull request is closed.".to_owned());
    }
    if pr.head_sha != m.expected_head_sha {
        return Err("Head branch was modified. Review and try the merge again.".to_owned());
    }
    if !repo.merge_queue_required(&pr.base_ref) {
        return Err(NO_QUEUE.to_owned());
    }
    if repo.queue.iter().any(|e| e.number == m.number) {
        return Ok("Pull request is already in the merge queue.");
    }
    let head_sha = pr.head_sha.clone();
    repo.queue.push(QueueEntry {
        number: m.number,
        head_sha,
        enqueued_at: Utc::now(),
    });
    Ok("Pull request was added to the merge queue.")
}

/// How long GitHub keeps an asynchronous merge's result after its last
/// update.
pub const ASYNC_MERGE_TTL_HOURS: i64 = 24;

/// The `pull-request-merge-async-result` of a request GitHub holds.
fn async_result(m: &AsyncMerge) -> Value {
    let details = match m.status.as_str() {
        "pending" => json!({
            "message": m.message,
            "uuid": m.uuid,
            "merge_method": m.merge_method,
            "merge_action": m.merge_action,
            "expected_head_sha": m.expected_head_sha,
        }),
        "merged" => json!({ "message": m.message, "sha": m.sha.clone().unwrap_or_default() }),
        _ => json!({ "message": m.message }),
    };
    json!({ "status": m.status, "details": details })
}

fn expired(m: &AsyncMerge) -> bool {
    Utc::now() - m.updated_at > chrono::Duration::hours(ASYNC_MERGE_TTL_HOURS)
}

/// `PUT /repos/{owner}/{repo}/pulls/{number}/merge-async`: GitHub's basic
/// state checks at once (400 `failed` for a closed pull request, a draft,
/// a `sha` that is not the head), 200 when already merged, 409 with the
/// request already held, 202 `pending` with a new uuid otherwise. The
/// rules (required checks, reviews, method) are evaluated when the merge
/// runs, which the fake does on a later read of the result.
pub fn merge_async(world: &mut World, ctx: &Ctx) -> Answer {
    if world.merge_async_missing {
        return Answer::not_found();
    }
    let key = ctx.repo_key();
    let Some(pr) = number(ctx)
        .and_then(|n| world.repo(&key).pulls.get(&n))
        .cloned()
    else {
        return Answer::not_found();
    };
    let body = ctx.body.clone().unwrap_or(Value::Null);
    if pr.merged {
        return Answer::json(
            200,
            json!({ "status": "merged", "details": {
                "message": "Pull request is already merged.",
                "sha": pr.merge_commit_sha.clone().unwrap_or_default() } }),
        );
    }
    let held = world
        .async_merges
        .values()
        .find(|m| m.repo == key && m.number == pr.number && m.status == "pending" && !expired(m));
    if let Some(m) = held {
        let mut answer = async_result(m);
        answer["details"]["message"] =
            json!("A merge request already exists for this pull request.");
        return Answer::json(409, answer);
    }
    let failed = |message: &str| {
        Answer::json(
            400,
            json!({ "status": "failed", "details": { "message": message } }),
        )
    };
    if !pr.is_open() {
        return failed("Pull request is closed.");
    }
    if pr.draft {
        return failed("Pull request is still a draft.");
    }
    let expected = body["sha"].as_str().unwrap_or(&pr.head_sha).to_owned();
    if expected != pr.head_sha {
        return failed("Head branch was modified. Review and try the merge again.");
    }
    let repo = world.repo(&key);
    let requested = body["merge_action"].as_str().unwrap_or("default");
    match (
        action(repo, &pr, requested),
        repo.merge_queue_required(&pr.base_ref),
    ) {
        ("direct_merge", true) => return failed(QUEUE_REQUIRED),
        ("merge_queue", false) => return failed(NO_QUEUE),
        ("merge_queue", true) if repo.queue.iter().any(|e| e.number == pr.number) => {
            return Answer::json(
                200,
                json!({ "status": "enqueued", "details": {
                    "message": "Pull request is already in the merge queue." } }),
            );
        }
        _ => {}
    }
    let uuid = format!("00000000-0000-4000-8000-{:012x}", world.next_id());
    let m = AsyncMerge {
        uuid: uuid.clone(),
        repo: key,
        number: pr.number,
        merge_method: body["merge_method"].as_str().unwrap_or("merge").to_owned(),
        merge_action: body["merge_action"]
            .as_str()
            .unwrap_or("default")
            .to_owned(),
        expected_head_sha: expected,
        status: "pending".to_owned(),
        message: "Merge request enqueued.".to_owned(),
        sha: None,
        reads: 0,
        ran_at: None,
        runs_at: world
            .async_merge_runs_after
            .map(|after| Utc::now() + chrono::Duration::from_std(after).unwrap_or_default()),
        updated_at: Utc::now(),
    };
    let answer = async_result(&m);
    world.async_merges.insert(uuid, m);
    Answer::json(202, answer)
}

/// `GET /repos/{owner}/{repo}/pulls/{number}/merge-async/{uuid}`: pending
/// for the first `async_merge_reads` reads, then the request runs: a merge
/// as `PUT …/merge` would run it, with the request's method and pinned
/// head (`merged`, or `failed` with GitHub's refusal: `Required status
/// check "test" is expected.`); a `merge_queue` action adds the pull
/// request to its base's queue (`enqueued`). 404 for an unknown uuid or one
/// past its 24 hours.
pub fn merge_async_result(world: &mut World, ctx: &Ctx) -> Answer {
    if world.merge_async_missing {
        return Answer::not_found();
    }
    let uuid = ctx.param("uuid").to_owned();
    let key = ctx.repo_key();
    let Some(m) = world.async_merges.get(&uuid).cloned() else {
        return Answer::not_found();
    };
    if m.repo != key || Some(m.number) != number(ctx) || expired(&m) {
        return Answer::not_found();
    }
    let runs_on_read = world.async_merge_runs_after.is_none();
    if m.status == "pending" && runs_on_read && m.reads >= world.async_merge_reads {
        // This read is recorded once answered, as the next request.
        let seq = world.requests.len() as u64 + 1;
        run_held(world, &uuid, Some(seq));
    } else if let Some(stored) = world.async_merges.get_mut(&uuid) {
        stored.reads += 1;
        if stored.status == "pending" {
            stored.message = "Merge request is in progress.".to_owned();
        }
    }
    Answer::json(200, async_result(&world.async_merges[&uuid]))
}

/// Runs the held request `uuid`: a merge as `PUT …/merge` would run it,
/// with the request's method and pinned head (`merged`, or `failed` with
/// GitHub's refusal); a `merge_queue` action adds the pull request to its
/// base's queue (`enqueued`, or `failed`). `seq`: the read that ran it.
pub fn run_held(world: &mut World, uuid: &str, seq: Option<u64>) {
    let Some(m) = world.async_merges.get(uuid).cloned() else {
        return;
    };
    let repo = world.repo(&m.repo);
    let queue = m.merge_action == "merge_queue"
        || (m.merge_action == "default"
            && repo
                .pulls
                .get(&m.number)
                .is_some_and(|pr| repo.merge_queue_required(&pr.base_ref)));
    let (status, message, sha) = if queue {
        match join_queue(world.repo_mut(&m.repo), &m) {
            Ok(said) => ("enqueued", said.to_owned(), None),
            Err(why) => ("failed", why, None),
        }
    } else {
        let body = json!({ "sha": m.expected_head_sha, "merge_method": m.merge_method });
        let ran = merge_stack(world, &m.repo, m.number, &body);
        let said: Value = serde_json::from_slice(&ran.body).unwrap_or(Value::Null);
        if ran.status == 200 {
            (
                "merged",
                "Pull request was merged.".to_owned(),
                said["sha"].as_str().map(str::to_owned),
            )
        } else {
            let why = said["message"].as_str().unwrap_or("Merge failed.");
            ("failed", why.to_owned(), None)
        }
    };
    let stored = world.async_merges.get_mut(uuid).expect("held");
    stored.ran_at = seq;
    stored.status = status.to_owned();
    stored.message = message;
    stored.sha = sha;
    stored.updated_at = Utc::now();
}

/// Runs every held request whose time has come ([`World::async_merge_runs_after`]):
/// whether one ran, and the next time one is due, if any.
pub fn run_due(world: &mut World) -> (bool, Option<chrono::DateTime<Utc>>) {
    let now = Utc::now();
    let due: Vec<String> = world
        .async_merges
        .values()
        .filter(|m| m.status == "pending" && m.runs_at.is_some_and(|at| at <= now))
        .map(|m| m.uuid.clone())
        .collect();
    let ran = !due.is_empty();
    for uuid in due {
        run_held(world, &uuid, None);
    }
    let next = world
        .async_merges
        .values()
        .filter(|m| m.status == "pending")
        .filter_map(|m| m.runs_at)
        .min();
    (ran, next)
}
