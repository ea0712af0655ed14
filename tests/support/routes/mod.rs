//! The REST routes of the fake: one table, matched by method and path.
//!
//! A route is a method, a path template (`{name}` captures one segment,
//! percent-decoded, so `release%2F1.0` arrives as `release/1.0`; `{+name}`
//! captures the rest of the path), who may call it, and a handler that
//! reads and changes the [`World`]. Adding a route is one line in [`ROUTES`]
//! and one function.
//!
//! Access is checked here, once, as GitHub does: App routes need a valid
//! App JWT; repository routes need a live installation token of the
//! installation that holds the repository (401 `Bad credentials`
//! otherwise, 404 for a token of another installation), and count against
//! the primary rate limit (403 when it is spent).

pub mod app;
pub mod app_meta;
pub mod checks;
pub mod git;
pub mod graphql;
pub mod issues;
pub mod pulls;
pub mod reviews;
pub mod stacks;

use serde_json::{Value, json};

use super::world::{Repo, SeenAuth, World};

/// GitHub's documentation link in error bodies.
pub const DOCS: &str = "https://docs.github.com/rest";

/// The request, as a handler sees it.
pub struct Ctx {
    pub method: String,
    /// The path as sent (still percent-encoded), without the API prefix.
    pub path: String,
    pub params: Params,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    pub accept: Option<String>,
    pub auth: SeenAuth,
    /// `scheme://host[:port][/prefix]` as the client addressed the fake:
    /// pagination links start here so they stay under the client's root.
    pub link_base: String,
}

impl Ctx {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("route has no parameter {name}"))
    }

    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Does the client ask for the raw media type?
    pub fn wants_raw(&self) -> bool {
        self.accept.as_deref().is_some_and(|a| a.contains("raw"))
    }

    pub fn repo<'w>(&self, world: &'w World) -> &'w Repo {
        world
            .find_repo(self.param("owner"), self.param("repo"))
            .expect("dispatch checked the repository")
    }

    pub fn repo_key(&self) -> String {
        format!("{}/{}", self.param("owner"), self.param("repo"))
    }
}

/// What the fake answers.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: serde_json::to_vec(&body).expect("JSON serializes"),
            content_type: "application/json; charset=utf-8",
            headers: Vec::new(),
        }
    }

    pub fn raw(bytes: &[u8]) -> Self {
        Self {
            status: 200,
            body: bytes.to_vec(),
            content_type: "application/vnd.github.raw",
            headers: Vec::new(),
        }
    }

    /// GitHub's error body: `message`, `documentation_url`, `status`.
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(
            status,
            json!({ "message": message, "documentation_url": DOCS, "status": status.to_string() }),
        )
    }

    /// 422 with GitHub's `Validation Failed` shape.
    pub fn invalid(message: &str) -> Self {
        Self::json(
            422,
            json!({
                "message": "Validation Failed",
                "errors": [{ "resource": "Request", "code": "custom", "message": message }],
                "documentation_url": DOCS,
                "status": "422"
            }),
        )
    }

    pub fn not_found() -> Self {
        Self::error(404, "Not Found")
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials needed (manifest conversion).
    Anyone,
    /// An App JWT.
    App,
    /// An installation token for `{owner}/{repo}`.
    Repo,
    /// Any live installation token (the handler reads whose).
    Installation,
}

pub type Handler = fn(&mut World, &Ctx) -> Answer;

/// A route's captured path parameters, decoded.
pub type Params = Vec<(&'static str, String)>;

pub struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    pub access: Access,
    pub handler: Handler,
}

macro_rules! route {
    ($m:literal $p:literal, $a:ident, $h:path) => {
        Route {
            method: $m,
            pattern: $p,
            access: Access::$a,
            handler: $h,
        }
    };
}

/// Every route the fake serves.
pub const ROUTES: &[Route] = &[
    route!("POST" "/app/installations/{installation_id}/access_tokens", App, app::access_token),
    route!("GET" "/app/hook/deliveries", App, app::hook_deliveries),
    route!("GET" "/app", App, app_meta::app),
    route!("GET" "/app/installations", App, app_meta::installations),
    route!("GET" "/app/hook/config", App, app_meta::hook_config),
    route!("GET" "/installation/repositories", Installation, app_meta::installation_repositories),
    route!("POST" "/app/hook/deliveries/{delivery_id}/attempts", App, app::redeliver),
    route!("POST" "/app-manifests/{code}/conversions", Anyone, app::manifest_conversion),
    route!("GET" "/repos/{owner}/{repo}/pulls", Repo, pulls::list),
    route!("GET" "/repos/{owner}/{repo}/pulls/{number}", Repo, pulls::get),
    route!("GET" "/repos/{owner}/{repo}/pulls/{number}/files", Repo, pulls::files),
    route!("PUT" "/repos/{owner}/{repo}/pulls/{number}/merge", Repo, pulls::merge),
    route!("PUT" "/repos/{owner}/{repo}/pulls/{number}/merge-async", Repo, pulls::merge_async),
    route!("GET" "/repos/{owner}/{repo}/pulls/{number}/merge-async/{uuid}", Repo, pulls::merge_async_result),
    route!("PUT" "/repos/{owner}/{repo}/pulls/{number}/update-branch", Repo, pulls::update_branch),
    route!("GET" "/repos/{owner}/{repo}/stacks/{stack_number}", Repo, stacks::get),
    route!("GET" "/repos/{owner}/{repo}/commits/{sha}/pulls", Repo, pulls::for_commit),
    route!("GET" "/repos/{owner}/{repo}/contents/{+path}", Repo, git::contents),
    route!("GET" "/repos/{owner}/{repo}/git/blobs/{sha}", Repo, git::blob),
    route!("GET" "/repos/{owner}/{repo}/git/trees/{sha}", Repo, git::tree),
    route!("GET" "/repos/{owner}/{repo}/compare/{basehead}", Repo, git::compare),
    route!("GET" "/repos/{owner}/{repo}/branches", Repo, git::branches),
    route!("GET" "/repos/{owner}/{repo}/commits/{ref}/check-runs", Repo, checks::list_runs),
    route!("POST" "/repos/{owner}/{repo}/check-runs", Repo, checks::create_run),
    route!("GET" "/repos/{owner}/{repo}/check-runs/{id}", Repo, checks::get_run),
    route!("PATCH" "/repos/{owner}/{repo}/check-runs/{id}", Repo, checks::update_run),
    route!("GET" "/repos/{owner}/{repo}/commits/{ref}/status", Repo, checks::combined_status),
    route!("GET" "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks", Repo, checks::protection_checks),
    route!("GET" "/repos/{owner}/{repo}/branches/{branch}/protection", Repo, reviews::protection),
    route!("GET" "/repos/{owner}/{repo}/rules/branches/{branch}", Repo, checks::branch_rules),
    route!("GET" "/repos/{owner}/{repo}/collaborators/{username}/permission", Repo, issues::permission),
    route!("POST" "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", Repo, issues::react),
    route!("POST" "/repos/{owner}/{repo}/issues/{issue_number}/comments", Repo, issues::comment),
    route!("POST" "/repos/{owner}/{repo}/merges", Repo, pulls::merges),
    route!("POST" "/graphql", Installation, graphql::graphql),
];

/// Matches `path` against a template; the captured parameters, decoded.
fn capture(pattern: &'static str, path: &str) -> Option<Params> {
    let want: Vec<&'static str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let got: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut params = Vec::new();
    for (i, w) in want.iter().enumerate() {
        if let Some(name) = w.strip_prefix("{+").and_then(|n| n.strip_suffix('}')) {
            if i >= got.len() {
                return None;
            }
            let rest: Vec<String> = got[i..]
                .iter()
                .map(|s| super::faults::percent_decode(s))
                .collect();
            params.push((name, rest.join("/")));
            return Some(params);
        }
        let g = got.get(i)?;
        if let Some(name) = w.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            params.push((name, super::faults::percent_decode(g)));
        } else if w != g {
            return None;
        }
    }
    (want.len() == got.len()).then_some(params)
}

/// Finds the route for a request: `Ok` with its parameters, `Err(405)` when
/// the path exists under another method, `Err(404)` otherwise.
pub fn find(method: &str, path: &str) -> Result<(&'static Route, Params), u16> {
    let mut path_exists = false;
    for route in ROUTES {
        if let Some(params) = capture(route.pattern, path) {
            if route.method.eq_ignore_ascii_case(method) {
                return Ok((route, params));
            }
            path_exists = true;
        }
    }
    Err(if path_exists { 405 } else { 404 })
}

/// Runs the route for `ctx`, access checks included.
pub fn dispatch(world: &mut World, route: &Route, ctx: &Ctx) -> Answer {
    match route.access {
        Access::Anyone => {}
        Access::Installation => {
            if !matches!(ctx.auth, SeenAuth::Installation(_)) {
                return Answer::error(401, "Bad credentials");
            }
        }
        Access::App => {
            if ctx.auth != SeenAuth::App {
                let why = match &ctx.auth {
                    SeenAuth::Refused(why) => why.clone(),
                    _ => "A JSON web token could not be decoded".to_owned(),
                };
                return Answer::error(401, &why);
            }
        }
        Access::Repo => {
            let Some(repo) = world.find_repo(ctx.param("owner"), ctx.param("repo")) else {
                return Answer::not_found();
            };
            let inst = repo.installation;
            match &ctx.auth {
                SeenAuth::Installation(id) if *id == inst => {}
                SeenAuth::Installation(_) => return Answer::not_found(),
                _ => return Answer::error(401, "Bad credentials"),
            }
            if let Some(limits) = world.limits.as_mut() {
                match limits.admit(inst, &ctx.method, chrono::Utc::now()) {
                    Some(refusal) => return refusal,
                    None => return (route.handler)(world, ctx),
                }
            }
            // A new window once the reset time has passed, as GitHub does.
            let now = chrono::Utc::now();
            if now >= world.rate.reset {
                world.rate.remaining = world.rate.limit;
                world.rate.reset = now + chrono::Duration::hours(1);
            }
            if world.rate.remaining == 0 {
                return Answer::error(
                    403,
                    &format!("API rate limit exceeded for installation ID {inst}."),
                );
            }
            world.rate.remaining -= 1;
        }
    }
    (route.handler)(world, ctx)
}

/// `per_page` and `page` of the request, GitHub's way: `per_page` is capped
/// at `max`, pages count from 1.
pub fn page_params(ctx: &Ctx, default_per_page: usize, max: usize) -> (usize, usize) {
    let per = ctx
        .q("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default_per_page)
        .min(max);
    let page = ctx
        .q("page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    (per, page)
}

/// The URL of another page of this request (same path and query).
pub fn page_url(ctx: &Ctx, page: usize) -> String {
    let mut query: Vec<(String, String)> = ctx
        .query
        .iter()
        .filter(|(k, _)| k != "page")
        .cloned()
        .collect();
    query.push(("page".to_owned(), page.to_string()));
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    format!("{}{}?{q}", ctx.link_base, ctx.path)
}

/// GitHub's `Link` header for page `page` of `pages`.
pub fn link_header(ctx: &Ctx, page: usize, pages: usize) -> Option<String> {
    let mut parts = Vec::new();
    if page > 1 {
        parts.push(format!("<{}>; rel=\"prev\"", page_url(ctx, page - 1)));
    }
    if page < pages {
        parts.push(format!("<{}>; rel=\"next\"", page_url(ctx, page + 1)));
        parts.push(format!("<{}>; rel=\"last\"", page_url(ctx, pages)));
    }
    if page > 1 {
        parts.push(format!("<{}>; rel=\"first\"", page_url(ctx, 1)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// One page of `items` and the `Link` header that goes with it.
pub fn paginate<T: Clone>(
    ctx: &Ctx,
    items: &[T],
    default_per_page: usize,
    max: usize,
) -> (Vec<T>, Option<String>) {
    let (per, page) = page_params(ctx, default_per_page, max);
    let pages = items.len().div_ceil(per).max(1);
    let slice = items
        .iter()
        .skip((page - 1).saturating_mul(per))
        .take(per)
        .cloned()
        .collect();
    (slice, link_header(ctx, page, pages))
}

/// A JSON answer carrying the `Link` header when there is one.
pub fn paged(status: u16, body: Value, link: Option<String>) -> Answer {
    let answer = Answer::json(status, body);
    match link {
        Some(l) => answer.header("link", l),
        None => answer,
    }
}
