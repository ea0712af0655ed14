//! GitHub's JSON shapes, built from the world.
//!
//! Each builder emits the fields GitHub documents for the object (the
//! examples of GitHub's OpenAPI description were the reference). REST answers
//! are then checked against GitHub's OpenAPI description and thinned to its
//! `required` properties before they are served ([`super::openapi`]), so
//! seamguard is tested against the least GitHub promises; webhook payloads
//! share these builders whole, so a pull request looks the same in
//! `GET /pulls/7` and in a `pull_request` delivery.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::diff::FileChange;
use super::world::{CheckRun, Commit, Installation, Pull, PullState, Repo, Status, World, hash_id};

/// Where GitHub's web pages live (only ever printed, never fetched).
pub const WEB: &str = "https://github.com";

pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map(|t| Value::String(time(t))).unwrap_or(Value::Null)
}

/// A stable numeric id for a name (users, labels).
pub fn id_of(kind: &str, name: &str) -> u64 {
    let h = hash_id(kind, &[name.as_bytes()]);
    u64::from_str_radix(&h[..8], 16).unwrap_or(1) % 100_000_000 + 1
}

fn node_id(kind: &str, id: u64) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = write!(s, "{kind}_kwDO{id:08X}");
    s
}

/// A user or organization (`simple-user`).
pub fn user(api: &str, login: &str, kind: &str) -> Value {
    let id = id_of("user", login);
    // A Bot's login (`seamguard[bot]`) is percent-encoded in its URLs, as
    // GitHub does: `[` and `]` are not allowed in a URI's path.
    let path = login.replace('[', "%5B").replace(']', "%5D");
    let u = format!("{api}/users/{path}");
    json!({
        "login": login,
        "id": id,
        "node_id": node_id("U", id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": u,
        "html_url": format!("{WEB}/{path}"),
        "followers_url": format!("{u}/followers"),
        "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"),
        "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"),
        "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"),
        "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false
    })
}

/// The App as it appears on check runs and suites.
pub fn app(world: &World) -> Value {
    app_with(world, world.app_id, &world.app_slug)
}

pub fn app_with(world: &World, id: u64, slug: &str) -> Value {
    json!({
        "id": id,
        "slug": slug,
        "node_id": node_id("A", id),
        "client_id": format!("Iv1.{}", &hash_id("client", &[&id.to_be_bytes()])[..16]),
        "owner": user(&world.api_url, "acme", "Organization"),
        "name": slug,
        "description": "",
        "external_url": format!("https://{slug}.example.com"),
        "html_url": format!("{WEB}/apps/{slug}"),
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "permissions": {
            "checks": "write", "contents": "write", "pull_requests": "write",
            "statuses": "read", "administration": "read", "metadata": "read"
        },
        "events": ["check_run", "check_suite", "pull_request", "pull_request_review", "push", "status", "merge_group"]
    })
}

pub fn installation(world: &World, inst: &Installation) -> Value {
    json!({
        "id": inst.id,
        "node_id": node_id("I", inst.id),
        "account": user(&world.api_url, &inst.account, "Organization"),
        "app_id": world.app_id,
        "app_slug": world.app_slug,
        "target_type": "Organization",
        "repository_selection": "selected"
    })
}

/// The short `installation` object of webhook payloads.
pub fn installation_ref(inst: u64) -> Value {
    json!({ "id": inst, "node_id": node_id("I", inst) })
}

/// The `*_url` templates of a repository object, relative to its API URL.
const REPO_URLS: &[(&str, &str)] = &[
    ("archive_url", "/{archive_format}{/ref}"),
    ("assignees_url", "/assignees{/user}"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("branches_url", "/branches{/branch}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("comments_url", "/comments{/number}"),
    ("commits_url", "/commits{/sha}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("contents_url", "/contents/{+path}"),
    ("contributors_url", "/contributors"),
    ("deployments_url", "/deployments"),
    ("downloads_url", "/downloads"),
    ("events_url", "/events"),
    ("forks_url", "/forks"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("issue_events_url", "/issues/events{/number}"),
    ("issues_url", "/issues{/number}"),
    ("keys_url", "/keys{/key_id}"),
    ("labels_url", "/labels{/name}"),
    ("languages_url", "/languages"),
    ("merges_url", "/merges"),
    ("milestones_url", "/milestones{/number}"),
    (
        "notifications_url",
        "/notifications{?since,all,participating}",
    ),
    ("pulls_url", "/pulls{/number}"),
    ("releases_url", "/releases{/id}"),
    ("stargazers_url", "/stargazers"),
    ("statuses_url", "/statuses/{sha}"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("tags_url", "/tags"),
    ("teams_url", "/teams"),
    ("trees_url", "/git/trees{/sha}"),
    ("hooks_url", "/hooks"),
];

/// A full repository object.
pub fn repo(world: &World, repo: &Repo) -> Value {
    let full = repo.full_name();
    let u = format!("{}/repos/{full}", world.api_url);
    let created = "2024-01-01T00:00:00Z";
    let open = repo.pulls.values().filter(|p| p.is_open()).count();
    let mut v = json!({
        "id": repo.id,
        "node_id": node_id("R", repo.id),
        "name": repo.name,
        "full_name": full,
        "private": repo.private,
        "owner": user(&world.api_url, &repo.owner, repo.owner_type.as_str()),
        "html_url": format!("{WEB}/{full}"),
        "description": null,
        "fork": false,
        "url": u,
        "git_url": format!("git://github.com/{full}.git"),
        "ssh_url": format!("git@github.com:{full}.git"),
        "clone_url": format!("{WEB}/{full}.git"),
        "svn_url": format!("{WEB}/{full}"),
        "mirror_url": null,
        "homepage": null,
        "license": null,
        "default_branch": repo.default_branch,
        "open_issues_count": open,
        "open_issues": open,
        "visibility": if repo.private { "private" } else { "public" },
        "pushed_at": created,
        "created_at": created,
        "updated_at": created,
        "allow_merge_commit": !repo.methods_off.contains("merge"),
        "allow_squash_merge": !repo.methods_off.contains("squash"),
        "allow_rebase_merge": !repo.methods_off.contains("rebase")
    });
    let constant = json!({
        "language": "Rust", "forks_count": 0, "stargazers_count": 0, "watchers_count": 0,
        "size": 1, "is_template": false, "topics": [], "has_issues": true,
        "has_projects": true, "has_wiki": false, "has_pages": false, "has_downloads": true,
        "has_discussions": false, "archived": false, "disabled": false, "allow_forking": true,
        "web_commit_signoff_required": false, "forks": 0, "watchers": 0
    });
    if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), constant) {
        obj.extend(extra);
    }
    for (key, suffix) in REPO_URLS {
        v[*key] = json!(format!("{u}{suffix}"));
    }
    v
}

pub fn label(world: &World, repo: &Repo, name: &str) -> Value {
    let id = id_of("label", name);
    json!({
        "id": id,
        "node_id": node_id("LA", id),
        "url": format!("{}/repos/{}/labels/{}", world.api_url, repo.full_name(), url_segment(name)),
        "name": name,
        // `pull-request-simple` (the lists) does not allow `null` here.
        "description": "",
        "color": "ededed",
        "default": false
    })
}

/// Percent-encodes a path segment for the URLs the fake prints.
pub fn url_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn pr_side(world: &World, repo: &Repo, git_ref: &str, sha: &str, fork: Option<&str>) -> Value {
    let owner = fork
        .and_then(|f| f.split('/').next())
        .unwrap_or(&repo.owner)
        .to_owned();
    let mut repo_json = self::repo(world, repo);
    if let Some(fork) = fork {
        let (fork_owner, fork_name) = fork.split_once('/').unwrap_or((fork, &repo.name));
        repo_json["full_name"] = json!(fork);
        repo_json["name"] = json!(fork_name);
        repo_json["fork"] = json!(true);
        repo_json["owner"] = user(&world.api_url, fork_owner, "User");
        repo_json["id"] = json!(id_of("fork", fork));
        repo_json["url"] = json!(format!("{}/repos/{fork}", world.api_url));
    }
    json!({
        "label": format!("{owner}:{git_ref}"),
        "ref": git_ref,
        "sha": sha,
        "user": user(&world.api_url, &owner, repo.owner_type.as_str()),
        "repo": repo_json
    })
}

/// The `stack` of a pull request (`pull-request-stack`): where the whole
/// stack lands, its size, this pull request's position (1 is the bottom);
/// `null` for a pull request in no stack.
pub fn pull_stack(repo: &Repo, number: u64) -> Value {
    let Some((stack, position)) = repo.stack_of(number) else {
        return Value::Null;
    };
    json!({
        "base": {
            "ref": stack.base_ref,
            "sha": repo.tip(&stack.base_ref).cloned().unwrap_or_default()
        },
        "size": stack.pulls.len(),
        "position": position,
        "id": stack.id,
        "number": stack.number
    })
}

/// A full pull request (`GET /pulls/{n}` and webhook payloads).
pub fn pull(world: &World, repo: &Repo, pr: &Pull) -> Value {
    let full = repo.full_name();
    let api = &world.api_url;
    let u = format!("{api}/repos/{full}/pulls/{}", pr.number);
    let issue = format!("{api}/repos/{full}/issues/{}", pr.number);
    let html = format!("{WEB}/{full}/pull/{}", pr.number);
    let statuses = format!("{api}/repos/{full}/statuses/{}", pr.head_sha);
    let base_sha = repo.tip(&pr.base_ref).cloned().unwrap_or_default();
    let state = repo.mergeable_state(pr);
    let commits = repo
        .merge_base(&base_sha, &pr.head_sha)
        .map(|mb| repo.range(&pr.head_sha, &repo.ancestors(&mb)).len())
        .unwrap_or(0);
    let labels: Vec<Value> = pr.labels.iter().map(|l| label(world, repo, l)).collect();
    let author = user(api, &pr.user, account_type(&pr.user));
    let links = json!({
        "self": { "href": u },
        "html": { "href": html },
        "issue": { "href": issue },
        "comments": { "href": format!("{issue}/comments") },
        "review_comments": { "href": format!("{u}/comments") },
        "review_comment": { "href": format!("{api}/repos/{full}/pulls/comments{{/number}}") },
        "commits": { "href": format!("{u}/commits") },
        "statuses": { "href": statuses }
    });
    let mut v = json!({
        "url": u,
        "id": pr.id,
        "node_id": node_id("PR", pr.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue,
        "commits_url": format!("{u}/commits"),
        "review_comments_url": format!("{u}/comments"),
        "review_comment_url": format!("{api}/repos/{full}/pulls/comments{{/number}}"),
        "comments_url": format!("{issue}/comments"),
        "statuses_url": statuses,
        "number": pr.number,
        "state": match pr.state { PullState::Open => "open", PullState::Closed => "closed" },
        "title": pr.title,
        "user": author,
        "body": pr.body,
        "labels": labels,
        "created_at": time(pr.created_at),
        "updated_at": time(pr.updated_at),
        "closed_at": opt_time(pr.closed_at),
        "merged_at": opt_time(pr.merged_at),
        "merge_commit_sha": pr.merge_commit_sha,
        "head": pr_side(world, repo, &pr.head_ref, &pr.head_sha, pr.head_repo.as_deref()),
        "base": pr_side(world, repo, &pr.base_ref, &base_sha, None),
        "stack": pull_stack(repo, pr.number),
        "_links": links
    });
    let rest = json!({
        "locked": false,
        "milestone": null,
        "active_lock_reason": null,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "author_association": "MEMBER",
        "auto_merge": null,
        "draft": pr.draft,
        "merged": pr.merged,
        "mergeable": if pr.is_open() && state != "unknown" { json!(state != "dirty") } else { Value::Null },
        "rebaseable": if pr.is_open() && state != "unknown" { json!(state != "dirty") } else { Value::Null },
        "mergeable_state": state,
        "merged_by": if pr.merged { user(api, "octocat", "User") } else { Value::Null },
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": false,
        "commits": commits,
        "additions": 0,
        "deletions": 0,
        "changed_files": 0
    });
    if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), rest) {
        obj.extend(extra);
    }
    v
}

/// The e-mail GitHub gives `login`'s web commits: a bot's names its id
/// (`ID+name[bot]@users.noreply.github.com`), a user's here the older form.
pub fn git_email(login: &str) -> String {
    if login.ends_with("[bot]") {
        format!("{}+{login}@users.noreply.github.com", id_of("user", login))
    } else {
        format!("{login}@users.noreply.github.com")
    }
}

/// A GitHub account's type by its login: an App's bot ends in `[bot]`.
pub fn account_type(login: &str) -> &'static str {
    if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    }
}

fn person(login: &str, commit: &Commit) -> Value {
    json!({
        "name": login,
        "email": git_email(login),
        "date": time(commit.date)
    })
}

/// A commit as comparisons and commit lists show it.
pub fn commit(world: &World, repo: &Repo, c: &Commit) -> Value {
    let full = repo.full_name();
    let api = &world.api_url;
    let parents: Vec<Value> = c
        .parents
        .iter()
        .map(|p| {
            json!({
                "sha": p,
                "url": format!("{api}/repos/{full}/commits/{p}"),
                "html_url": format!("{WEB}/{full}/commit/{p}")
            })
        })
        .collect();
    json!({
        "sha": c.sha,
        "node_id": node_id("C", id_of("commit", &c.sha)),
        "commit": {
            "author": person(&c.author, c),
            "committer": person(&c.committer, c),
            "message": c.message,
            "tree": { "sha": c.tree_sha(), "url": format!("{api}/repos/{full}/git/trees/{}", c.tree_sha()) },
            "url": format!("{api}/repos/{full}/git/commits/{}", c.sha),
            "comment_count": 0,
            "verification": { "verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null }
        },
        "url": format!("{api}/repos/{full}/commits/{}", c.sha),
        "html_url": format!("{WEB}/{full}/commit/{}", c.sha),
        "comments_url": format!("{api}/repos/{full}/commits/{}/comments", c.sha),
        "author": user(api, &c.author, account_type(&c.author)),
        "committer": user(api, &c.committer, account_type(&c.committer)),
        "parents": parents
    })
}

/// One changed file (`diff-entry`).
pub fn file(world: &World, repo: &Repo, head_sha: &str, f: &FileChange) -> Value {
    let full = repo.full_name();
    let path = f
        .filename
        .split('/')
        .map(url_segment)
        .collect::<Vec<_>>()
        .join("/");
    let mut v = json!({
        "sha": f.sha,
        "filename": f.filename,
        "status": f.status,
        "additions": f.additions,
        "deletions": f.deletions,
        "changes": f.additions + f.deletions,
        "blob_url": format!("{WEB}/{full}/blob/{head_sha}/{path}"),
        "raw_url": format!("{WEB}/{full}/raw/{head_sha}/{path}"),
        "contents_url": format!("{}/repos/{full}/contents/{path}?ref={head_sha}", world.api_url)
    });
    if let Some(p) = &f.patch {
        v["patch"] = json!(p);
    }
    if let Some(prev) = &f.previous_filename {
        v["previous_filename"] = json!(prev);
    }
    v
}

/// Pull requests whose head is `sha`, in the short form check payloads use.
pub fn pr_refs(world: &World, repo: &Repo, sha: &str) -> Vec<Value> {
    let api = &world.api_url;
    let full = repo.full_name();
    repo.pulls
        .values()
        .filter(|p| p.is_open() && p.head_sha == sha && p.head_repo.is_none())
        .map(|p| {
            let side = |r: &str, s: &str| {
                json!({
                    "ref": r,
                    "sha": s,
                    "repo": { "id": repo.id, "url": format!("{api}/repos/{full}"), "name": repo.name }
                })
            };
            json!({
                "url": format!("{api}/repos/{full}/pulls/{}", p.number),
                "id": p.id,
                "number": p.number,
                "head": side(&p.head_ref, &p.head_sha),
                "base": side(&p.base_ref, repo.tip(&p.base_ref).map(String::as_str).unwrap_or(""))
            })
        })
        .collect()
}

/// A check run (`GET`, `POST`, `PATCH` answers and `check_run` payloads).
pub fn check_run(world: &World, repo: &Repo, run: &CheckRun) -> Value {
    let full = repo.full_name();
    let api = &world.api_url;
    let (title, summary, text) = match &run.output {
        Some(o) => (json!(o.title), json!(o.summary), json!(o.text)),
        None => (Value::Null, Value::Null, Value::Null),
    };
    json!({
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": node_id("CR", run.id),
        "external_id": run.external_id.clone().unwrap_or_default(),
        "url": format!("{api}/repos/{full}/check-runs/{}", run.id),
        "html_url": format!("{WEB}/{full}/runs/{}", run.id),
        "details_url": run.details_url.clone().unwrap_or_else(|| format!("{WEB}/{full}/runs/{}", run.id)),
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": opt_time(run.started_at),
        "completed_at": opt_time(run.completed_at),
        "output": {
            "title": title,
            "summary": summary,
            "text": text,
            "annotations_count": run.annotations.len(),
            "annotations_url": format!("{api}/repos/{full}/check-runs/{}/annotations", run.id)
        },
        "name": run.name,
        "check_suite": { "id": run.check_suite_id },
        "app": app_with(world, run.app_id, &run.app_slug),
        "pull_requests": pr_refs(world, repo, &run.head_sha)
    })
}

/// A commit status (`GET /commits/{ref}/status` entries, `status` payloads).
pub fn status(world: &World, repo: &Repo, s: &Status) -> Value {
    json!({
        "url": format!("{}/repos/{}/statuses/{}", world.api_url, repo.full_name(), s.sha),
        "avatar_url": "https://avatars.githubusercontent.com/u/9919?v=4",
        "id": s.id,
        "node_id": node_id("SC", s.id),
        "state": s.state,
        "description": s.description,
        "target_url": s.target_url,
        "context": s.context,
        "created_at": time(s.created_at),
        "updated_at": time(s.created_at)
    })
}
