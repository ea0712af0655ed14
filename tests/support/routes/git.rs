//! Git data: file contents, blobs, comparisons and branches.
//!
//! `compare/{base}...{head}` follows GitHub: the commits reachable from the
//! head and not from the base, parents before children; `ahead_by`,
//! `behind_by` and the status from the two reachable sets; the files are the
//! diff from the merge base to the head (three dots), on the first page
//! only and at most 300 of them. Without `page`/`per_page` the answer holds
//! the first 250 commits, as GitHub's does.

use serde_json::{Value, json};

use super::{Answer, Ctx, link_header, page_params, paged, paginate};
use crate::support::diff::diff_trees;
use crate::support::json::{self as gh, url_segment};
use crate::support::world::World;

/// GitHub's default and largest page sizes for list endpoints.
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

/// An unpaginated comparison lists at most 250 commits.
const UNPAGED_COMMITS: usize = 250;

/// A comparison lists at most 300 files.
pub const MAX_COMPARE_FILES: usize = 300;

/// Standard base64 with padding, as GitHub's `content` fields (wrapped at
/// 60 columns like GitHub's).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    let mut wrapped = String::with_capacity(out.len() + out.len() / 60 + 1);
    for (i, c) in out.chars().enumerate() {
        if i > 0 && i % 60 == 0 {
            wrapped.push('\n');
        }
        wrapped.push(c);
    }
    wrapped.push('\n');
    wrapped
}

/// `GET /repos/{owner}/{repo}/contents/{path}?ref=`: raw bytes with the raw
/// media type, else GitHub's JSON (a file, or a directory listing).
pub fn contents(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let git_ref = ctx.q("ref").unwrap_or(&repo.default_branch).to_owned();
    let Some(sha) = repo.resolve(&git_ref) else {
        return Answer::error(404, &format!("No commit found for the ref {git_ref}"));
    };
    let tree = &repo.commit(&sha).tree;
    let path = ctx.param("path").trim_end_matches('/');
    let api = &world.api_url;
    let full = repo.full_name();
    let encoded: String = path
        .split('/')
        .map(url_segment)
        .collect::<Vec<_>>()
        .join("/");
    if let Some(blob) = tree.get(path) {
        if ctx.wants_raw() {
            return Answer::raw(&blob.bytes);
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        let u = format!(
            "{api}/repos/{full}/contents/{encoded}?ref={}",
            url_segment(&git_ref)
        );
        let git = format!("{api}/repos/{full}/git/blobs/{}", blob.sha);
        let html = format!("{}/{full}/blob/{git_ref}/{encoded}", gh::WEB);
        return Answer::json(
            200,
            json!({
                "type": "file", "encoding": "base64", "size": blob.bytes.len(),
                "name": name, "path": path, "content": base64(&blob.bytes), "sha": blob.sha,
                "url": u, "git_url": git, "html_url": html,
                "download_url": format!("https://raw.githubusercontent.com/{full}/{sha}/{encoded}"),
                "_links": { "self": u, "git": git, "html": html }
            }),
        );
    }
    let prefix = format!("{path}/");
    let mut entries: Vec<(String, &'static str)> = Vec::new();
    for p in tree.keys().filter(|p| p.starts_with(&prefix)) {
        let rest = &p[prefix.len()..];
        let (name, kind) = match rest.split_once('/') {
            Some((dir, _)) => (dir.to_owned(), "dir"),
            None => (rest.to_owned(), "file"),
        };
        if !entries.iter().any(|(n, _)| *n == name) {
            entries.push((name, kind));
        }
    }
    if entries.is_empty() {
        return Answer::not_found();
    }
    let listing: Vec<Value> = entries
        .into_iter()
        .map(|(name, kind)| {
            let p = format!("{prefix}{name}");
            let blob = tree.get(&p);
            let sha = blob.map(|b| b.sha.clone()).unwrap_or_default();
            let encoded = p.split('/').map(url_segment).collect::<Vec<_>>().join("/");
            let u = format!("{api}/repos/{full}/contents/{encoded}");
            let (git, html, download) = if kind == "file" {
                (
                    format!("{api}/repos/{full}/git/blobs/{sha}"),
                    format!("{}/{full}/blob/{git_ref}/{encoded}", gh::WEB),
                    Value::String(format!(
                        "https://raw.githubusercontent.com/{full}/{git_ref}/{encoded}"
                    )),
                )
            } else {
                (
                    format!("{api}/repos/{full}/git/trees/{sha}"),
                    format!("{}/{full}/tree/{git_ref}/{encoded}", gh::WEB),
                    Value::Null,
                )
            };
            json!({
                "type": kind, "name": name, "path": p, "sha": sha,
                "size": blob.map(|b| b.bytes.len()).unwrap_or(0),
                "url": u, "git_url": git, "html_url": html, "download_url": download,
                "_links": { "self": u, "git": git, "html": html }
            })
        })
        .collect();
    Answer::json(200, Value::Array(listing))
}

/// `GET /repos/{owner}/{repo}/git/blobs/{sha}`.
pub fn blob(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let sha = ctx.param("sha").to_ascii_lowercase();
    let Some(bytes) = repo.blobs.get(&sha) else {
        return Answer::not_found();
    };
    if ctx.wants_raw() {
        return Answer::raw(bytes);
    }
    Answer::json(
        200,
        json!({
            "sha": sha, "node_id": format!("B_{}", &sha[..12]), "size": bytes.len(),
            "url": format!("{}/repos/{}/git/blobs/{sha}", world.api_url, repo.full_name()),
            "content": base64(bytes), "encoding": "base64"
        }),
    )
}

/// `GET /repos/{owner}/{repo}/git/trees/{tree_sha}`: a commit SHA (or
/// ref) names its tree; `recursive=1` lists every file, with the folders
/// that hold them, as GitHub does.
pub fn tree(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let Some(sha) = repo.resolve(ctx.param("sha")) else {
        return Answer::not_found();
    };
    let commit = repo.commit(&sha);
    let recursive = ctx
        .q("recursive")
        .is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    let mut entries: Vec<Value> = Vec::new();
    let mut dirs = std::collections::BTreeSet::new();
    for (path, blob) in &commit.tree {
        let mut parent = path.as_str();
        while let Some((dir, _)) = parent.rsplit_once('/') {
            dirs.insert(dir.to_owned());
            parent = dir;
        }
        if recursive || !path.contains('/') {
            entries.push(json!({
                "path": path, "mode": "100644", "type": "blob", "sha": blob.sha,
                "size": blob.bytes.len(),
                "url": format!("{}/repos/{}/git/blobs/{}", world.api_url, repo.full_name(), blob.sha),
            }));
        }
    }
    for dir in dirs.iter().filter(|d| recursive || !d.contains('/')) {
        entries.push(json!({
            "path": dir, "mode": "040000", "type": "tree",
            "sha": super::super::world::hash_id("tree", &[dir.as_bytes(), sha.as_bytes()]),
        }));
    }
    entries.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    let tree_sha = commit.tree_sha();
    Answer::json(
        200,
        json!({
            "sha": tree_sha,
            "url": format!("{}/repos/{}/git/trees/{tree_sha}", world.api_url, repo.full_name()),
            "tree": entries,
            "truncated": false
        }),
    )
}

/// `GET /repos/{owner}/{repo}/compare/{base}...{head}`.
pub fn compare(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let basehead = ctx.param("basehead");
    let Some((base_ref, head_ref)) = basehead.split_once("...") else {
        return Answer::not_found();
    };
    // `owner:branch` names a branch of this repository (or a fork's).
    let local = |r: &str| -> String {
        match r.split_once(':') {
            Some((_, branch)) => branch.to_owned(),
            None => r.to_owned(),
        }
    };
    let (Some(base), Some(head)) = (
        repo.resolve(&local(base_ref)),
        repo.resolve(&local(head_ref)),
    ) else {
        return Answer::not_found();
    };
    let Some(merge_base) = repo.merge_base(&base, &head) else {
        return Answer::error(
            404,
            &format!("No common ancestor between {base_ref} and {head_ref}."),
        );
    };
    let base_set = repo.ancestors(&base);
    let head_set = repo.ancestors(&head);
    let ahead = repo.range(&head, &base_set);
    let behind_by = base_set.iter().filter(|c| !head_set.contains(*c)).count();
    let status = match (ahead.len(), behind_by) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let paged_request = ctx.q("page").is_some() || ctx.q("per_page").is_some();
    let (commits, link, first_page): (Vec<&String>, Option<String>, bool) = if paged_request {
        let (per, page) = page_params(ctx, DEFAULT_PER_PAGE, MAX_PER_PAGE);
        let pages = ahead.len().div_ceil(per).max(1);
        let slice = ahead
            .iter()
            .skip((page - 1).saturating_mul(per))
            .take(per)
            .collect();
        (slice, link_header(ctx, page, pages), page == 1)
    } else {
        (ahead.iter().take(UNPAGED_COMMITS).collect(), None, true)
    };
    let full = repo.full_name();
    let api = &world.api_url;
    let mut body = json!({
        "url": format!("{api}/repos/{full}/compare/{basehead}"),
        "html_url": format!("{}/{full}/compare/{basehead}", gh::WEB),
        "permalink_url": format!("{}/{full}/compare/{}...{}", gh::WEB, &base[..7], &head[..7]),
        "diff_url": format!("{}/{full}/compare/{basehead}.diff", gh::WEB),
        "patch_url": format!("{}/{full}/compare/{basehead}.patch", gh::WEB),
        "base_commit": gh::commit(world, repo, repo.commit(&base)),
        "merge_base_commit": gh::commit(world, repo, repo.commit(&merge_base)),
        "status": status,
        "ahead_by": ahead.len(),
        "behind_by": behind_by,
        "total_commits": ahead.len(),
        "commits": commits.iter().map(|c| gh::commit(world, repo, repo.commit(c))).collect::<Vec<_>>()
    });
    if first_page {
        let mut changes = diff_trees(
            &repo.commit(&merge_base).tree,
            &repo.commit(&head).tree,
            &repo.large_files,
        );
        changes.truncate(MAX_COMPARE_FILES);
        body["files"] = Value::Array(
            changes
                .iter()
                .map(|f| gh::file(world, repo, &head, f))
                .collect(),
        );
    }
    paged(200, body, link)
}

/// `GET /repos/{owner}/{repo}/branches`, by name, paginated.
pub fn branches(world: &mut World, ctx: &Ctx) -> Answer {
    let repo = ctx.repo(world);
    let want_protected = ctx.q("protected").map(|v| v == "true");
    let full = repo.full_name();
    let list: Vec<Value> = repo
        .branches
        .iter()
        .map(|(name, sha)| (name, sha, repo.protection.contains_key(name)))
        .filter(|(_, _, p)| want_protected.is_none_or(|w| w == *p))
        .map(|(name, sha, protected)| {
            json!({
                "name": name,
                "commit": { "sha": sha, "url": format!("{}/repos/{full}/commits/{sha}", world.api_url) },
                "protected": protected
            })
        })
        .collect();
    let (page, link) = paginate(ctx, &list, DEFAULT_PER_PAGE, MAX_PER_PAGE);
    paged(200, Value::Array(page), link)
}
