//! The GitHub App manifest: `app-manifest.yml` at the crate root, embedded at
//! build time, served as JSON with its URLs rooted at this server.
//!
//! The file is the single source of the App's permissions, events and URLs;
//! `seamguard manifest` prints it and setup mode posts it to GitHub. Its URLs
//! all start with [`PLACEHOLDER_URL`]; [`manifest_json`] swaps that prefix for
//! the server's public URL, keeping any path the public URL has (a server
//! behind a reverse proxy at `https://host/seamguard/` gets
//! `https://host/seamguard/webhook`).

use anyhow::{Context, bail};
use serde_json::Value;

use super::yaml;

/// The App manifest as written, checked in at the crate root.
const MANIFEST_YAML: &str = include_str!("../../app-manifest.yml");

/// The URL every manifest URL starts with until a public URL replaces it.
pub const PLACEHOLDER_URL: &str = "https://seamguard.example.com";

/// The environment variable `seamguard manifest` (and setup mode) reads the
/// server's public URL from.
pub const PUBLIC_URL_ENV: &str = "PUBLIC_URL";

/// A GitHub App permission level; `Write` includes `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    /// The level as GitHub writes it (`read`, `write`; `admin` counts as write).
    pub fn parse(text: &str) -> Option<Access> {
        match text {
            "read" => Some(Access::Read),
            "write" | "admin" => Some(Access::Write),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// The permission GitHub requires of an App before it sends each event
/// (GitHub's "Webhook events and payloads": "a GitHub App must have at least
/// read-level access for the … permission").
pub const EVENT_PERMISSIONS: &[(&str, &str, Access)] = &[
    ("branch_protection_rule", "administration", Access::Read),
    ("check_run", "checks", Access::Read),
    ("check_suite", "checks", Access::Read),
    ("deployment_status", "deployments", Access::Read),
    ("issue_comment", "issues", Access::Read),
    ("merge_group", "merge_queues", Access::Read),
    ("pull_request", "pull_requests", Access::Read),
    ("pull_request_review", "pull_requests", Access::Read),
    ("pull_request_review_thread", "pull_requests", Access::Read),
    ("push", "contents", Access::Read),
    ("repository", "metadata", Access::Read),
    ("repository_ruleset", "administration", Access::Read),
    ("status", "statuses", Access::Read),
];

/// Every REST route seamguard calls and the installation permissions it
/// needs (GitHub's "Permissions required for GitHub Apps"). Routes called
/// with the App's JWT, or with no authentication, need none.
pub const ROUTE_PERMISSIONS: &[(&str, &[(&str, Access)])] = &[
    (
        "GET /repos/{owner}/{repo}/pulls/{pull_number}",
        &[("pull_requests", Access::Read)],
    ),
    (
        "GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls",
        &[("pull_requests", Access::Read)],
    ),
    (
        "GET /repos/{owner}/{repo}/pulls",
        &[("pull_requests", Access::Read)],
    ),
    (
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/files",
        &[("pull_requests", Access::Read)],
    ),
    (
        "GET /repos/{owner}/{repo}/contents/{path}",
        &[("contents", Access::Read)],
    ),
    (
        "GET /repos/{owner}/{repo}/git/blobs/{file_sha}",
        &[("contents", Access::Read)],
    ),
    (
        "GET /repos/{owner}/{repo}/git/trees/{tree_sha}",
        &[("contents", Access::Read)],
    ),
    (
        "GET /repos/{owner}/{repo}/compare/{basehead}",
        &[("contents", Access::Read)],
    ),
    (
        "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
        &[("checks", Access::Read)],
    ),
    (
        "POST /repos/{owner}/{repo}/check-runs",
        &[("checks", Access::Write)],
    ),
    (
        "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
        &[("checks", Access::Write)],
    ),
    (
        "GET /repos/{owner}/{repo}/commits/{ref}/status",
        &[("statuses", Access::Read)],
    ),
    (
        "GET /repos/{owner}/{repo}/branches/{branch}/protection",
        &[("administration", Access::Read)],
    ),
    (
        "GET /repos/{owner}/{repo}/rules/branches/{branch}",
        &[("metadata", Access::Read)],
    ),
    (
        "GET /repos/{owner}/{repo}/branches",
        &[("metadata", Access::Read)],
    ),
    (
        "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
        &[("contents", Access::Write)],
    ),
    // The asynchronous merge: GitHub's description names no permission for
    // it; it merges as `PUT …/merge` does, so it asks what that asks, and
    // its result is the pull request's to read.
    (
        "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge-async",
        &[("contents", Access::Write)],
    ),
    (
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/merge-async/{uuid}",
        &[("pull_requests", Access::Read)],
    ),
    // A stack of pull requests: GitHub's description files it under
    // `pulls` (subcategory `stacks`) and names no permission; it is the
    // pull requests' to read.
    (
        "GET /repos/{owner}/{repo}/stacks/{stack_number}",
        &[("pull_requests", Access::Read)],
    ),
    (
        // Merging the base into the head branch (when update-branch is
        // refused): a commit on the head branch.
        "POST /repos/{owner}/{repo}/merges",
        &[("contents", Access::Write)],
    ),
    (
        "PUT /repos/{owner}/{repo}/pulls/{pull_number}/update-branch",
        // GitHub: "you must also have permissions to write the contents of
        // the head repository".
        &[
            ("pull_requests", Access::Write),
            ("contents", Access::Write),
        ],
    ),
    (
        "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
        &[("metadata", Access::Read)],
    ),
    (
        "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
        &[("issues", Access::Write)],
    ),
    (
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
        &[("issues", Access::Write)],
    ),
    ("GET /installation/repositories", &[]),
    ("GET /app", &[]),
    ("GET /app/installations", &[]),
    ("GET /app/hook/config", &[]),
    ("GET /app/hook/deliveries", &[]),
    ("POST /app/hook/deliveries/{delivery_id}/attempts", &[]),
    (
        "POST /app/installations/{installation_id}/access_tokens",
        &[],
    ),
    ("POST /app-manifests/{code}/conversions", &[]),
];

/// What seamguard needs of an App: every permission at its highest level
/// (the manifest's `default_permissions`) and every event (its
/// `default_events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    pub permissions: Vec<(String, Access)>,
    pub events: Vec<String>,
}

/// The permissions and events the manifest asks for.
pub fn needs() -> anyhow::Result<Needs> {
    let manifest = manifest_json(None)?;
    let permissions = match &manifest["default_permissions"] {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let level = v.as_str().and_then(Access::parse);
                level
                    .map(|l| (k.clone(), l))
                    .with_context(|| format!("app-manifest.yml: `{k}: {v}` is not read or write"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        _ => bail!("app-manifest.yml has no default_permissions"),
    };
    let mut permissions = permissions;
    permissions.sort();
    let events = manifest["default_events"]
        .as_array()
        .context("app-manifest.yml has no default_events")?
        .iter()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    Ok(Needs {
        permissions,
        events,
    })
}

/// What `granted` (a permissions object as GitHub sends it for an App or an
/// installation) lacks of `needs`: `name: level` for each, in manifest order.
pub fn missing_permissions(needs: &Needs, granted: &Value) -> Vec<String> {
    needs
        .permissions
        .iter()
        .filter(|(name, level)| {
            granted[name.as_str()]
                .as_str()
                .and_then(Access::parse)
                .is_none_or(|have| have < *level)
        })
        .map(|(name, level)| format!("{name}: {}", level.as_str()))
        .collect()
}

/// The GitHub App manifest (app-manifest.yml, embedded at build time with
/// include_str!) as JSON, with its URLs rooted at `public_url` when given.
pub fn manifest_json(public_url: Option<&url::Url>) -> anyhow::Result<serde_json::Value> {
    let root = yaml::load_strict(MANIFEST_YAML)
        .map_err(|problems| {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("{}", lines.join("; "))
        })
        .context("app-manifest.yml is not valid YAML")?
        .context("app-manifest.yml is empty")?;
    let mut json = yaml::to_json(&root).context("app-manifest.yml has no JSON form")?;
    if let Some(public_url) = public_url {
        let base = public_base(public_url)?;
        rebase(&mut json, &base);
    }
    Ok(json)
}

/// Why GitHub would refuse `url` as the App's webhook URL ("isn't reachable
/// over the public Internet"), if it would: a loopback, private, link-local
/// or unspecified address, `localhost`, or a name public DNS cannot hold.
pub fn not_public(url: &url::Url) -> Option<String> {
    use std::net::IpAddr;
    let ip_problem = |ip: IpAddr| -> Option<&'static str> {
        match ip {
            IpAddr::V4(v4) => {
                let [a, b, ..] = v4.octets();
                if v4.is_loopback() {
                    Some("a loopback address")
                } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                    Some("a private address")
                } else if v4.is_link_local() {
                    Some("a link-local address")
                } else if v4.is_unspecified() || v4.is_broadcast() || v4.is_documentation() {
                    Some("not a routable address")
                } else {
                    None
                }
            }
            IpAddr::V6(v6) => {
                let first = v6.segments()[0];
                if v6.is_loopback() {
                    Some("a loopback address")
                } else if first & 0xfe00 == 0xfc00 {
                    Some("a private address")
                } else if first & 0xffc0 == 0xfe80 {
                    Some("a link-local address")
                } else if v6.is_unspecified() {
                    Some("not a routable address")
                } else {
                    v6.to_ipv4_mapped().and_then(|v4| {
                        (v4.is_loopback() || v4.is_private()).then_some("a private address")
                    })
                }
            }
        }
    };
    let why = match url.host()? {
        url::Host::Ipv4(ip) => ip_problem(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => ip_problem(IpAddr::V6(ip)),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                Some("a loopback name")
            } else if [".local", ".internal", ".lan", ".home.arpa"]
                .iter()
                .any(|s| name.ends_with(s))
            {
                Some("a name only a local network resolves")
            } else if !name.contains('.') {
                Some("a name without a domain, which public DNS cannot resolve")
            } else {
                None
            }
        }
    }?;
    Some(format!(
        "`{}` is {why}: GitHub refuses a webhook URL that isn't reachable over the public Internet",
        url.host_str().unwrap_or_default()
    ))
}

/// The public URL as a prefix to put paths under, without a trailing `/`.
fn public_base(url: &url::Url) -> anyhow::Result<String> {
    if !matches!(url.scheme(), "https" | "http") {
        bail!(
            "the public URL must be http or https, not `{}:`",
            url.scheme()
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("the public URL must not have a query or a fragment: {url}");
    }
    if !url.username().is_empty() || url.password().is_some() {
        bail!("the public URL must not hold credentials");
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Replaces the placeholder prefix in every string of `value`.
fn rebase(value: &mut serde_json::Value, base: &str) {
    match value {
        serde_json::Value::String(s) => {
            if let Some(rest) = s.strip_prefix(PLACEHOLDER_URL)
                && (rest.is_empty() || rest.starts_with('/'))
            {
                *s = format!("{base}{rest}");
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| rebase(v, base)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| rebase(v, base)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).unwrap()
    }

    #[test]
    fn manifest_asks_for_exactly_the_permissions_and_events_seamguard_uses() {
        let manifest = manifest_json(None).unwrap();
        assert_eq!(manifest["name"], "seamguard");
        assert_eq!(manifest["public"], false);
        assert_eq!(
            manifest["default_permissions"],
            json!({
                "checks": "write",
                "contents": "write",
                "pull_requests": "write",
                "issues": "write",
                "statuses": "read",
                "administration": "read",
                "metadata": "read",
                "merge_queues": "read",
                "deployments": "read",
            })
        );
        assert_eq!(
            manifest["default_events"],
            json!([
                "check_run",
                "check_suite",
                "pull_request",
                "pull_request_review",
                "pull_request_review_thread",
                "deployment_status",
                "push",
                "status",
                "merge_group",
                "issue_comment",
                "branch_protection_rule",
                "repository_ruleset",
                "repository"
            ])
        );
        assert_eq!(manifest["hook_attributes"]["active"], true);
    }

    fn granted(needs: &Needs, name: &str) -> Option<Access> {
        needs
            .permissions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, level)| *level)
    }

    #[test]
    fn every_subscribed_event_has_the_permission_github_requires_for_it() {
        let needs = needs().unwrap();
        for event in &needs.events {
            let (_, permission, level) = EVENT_PERMISSIONS
                .iter()
                .find(|(e, _, _)| e == event)
                .unwrap_or_else(|| {
                    panic!("`{event}`: add GitHub's permission for it to EVENT_PERMISSIONS")
                });
            assert!(
                granted(&needs, permission) >= Some(*level),
                "`{event}` is only delivered to Apps with `{permission}: {}`",
                level.as_str()
            );
        }
    }

    /// The routes named in `src/github/`: every string literal that starts
    /// with an HTTP method and a `/`.
    fn routes_called() -> Vec<String> {
        let sources = [
            include_str!("../github/api.rs"),
            include_str!("../github/auth.rs"),
            include_str!("../github/client.rs"),
        ];
        let mut routes = Vec::new();
        for source in sources {
            for piece in source.split('"').skip(1).step_by(2) {
                let is_route = ["GET /", "POST /", "PUT /", "PATCH /", "DELETE /"]
                    .iter()
                    .any(|m| piece.starts_with(m));
                if is_route && piece.matches(char::is_whitespace).count() == 1 {
                    routes.push(piece.to_owned());
                }
            }
        }
        routes.sort();
        routes.dedup();
        routes
    }

    #[test]
    fn every_api_call_has_the_permission_github_requires_for_it() {
        let needs = needs().unwrap();
        let routes = routes_called();
        assert!(routes.len() >= 15, "found the routes: {routes:?}");
        for route in &routes {
            let (_, required) = ROUTE_PERMISSIONS
                .iter()
                .find(|(r, _)| r == route)
                .unwrap_or_else(|| {
                    panic!("`{route}`: add GitHub's permission for it to ROUTE_PERMISSIONS")
                });
            for (permission, level) in *required {
                assert!(
                    granted(&needs, permission) >= Some(*level),
                    "`{route}` needs `{permission}: {}`",
                    level.as_str()
                );
            }
        }
    }

    #[test]
    fn a_missing_or_weaker_permission_is_named() {
        let needs = needs().unwrap();
        let app = json!({
            "checks": "write", "contents": "write", "pull_requests": "read", "issues": "write",
            "statuses": "read", "administration": "read", "metadata": "read",
            "deployments": "read"
        });
        assert_eq!(
            missing_permissions(&needs, &app),
            ["merge_queues: read", "pull_requests: write"]
        );
    }

    #[test]
    fn only_public_hosts_can_receive_webhooks() {
        for private in [
            "http://localhost:3000",
            "http://app.localhost",
            "http://127.0.0.1:3000",
            "http://10.1.2.3",
            "http://172.20.0.5",
            "http://192.168.1.10:8080",
            "http://100.100.1.1",
            "http://169.254.1.1",
            "http://0.0.0.0:3000",
            "http://[::1]:3000",
            "http://[fd00::1]",
            "http://[fe80::1]",
            "http://myhost:3000",
            "http://nas.local",
        ] {
            assert!(not_public(&url(private)).is_some(), "{private}");
        }
        for public in [
            "https://guard.acme.dev",
            "https://8.8.8.8",
            "https://[2001:4860::1]",
            "https://abc.ngrok-free.app",
        ] {
            assert_eq!(not_public(&url(public)), None, "{public}");
        }
        assert_eq!(
            not_public(&url("http://localhost:3000/webhook")).unwrap(),
            "`localhost` is a loopback name: GitHub refuses a webhook URL that isn't reachable \
             over the public Internet"
        );
    }

    #[test]
    fn without_a_public_url_the_placeholder_stays() {
        let manifest = manifest_json(None).unwrap();
        assert_eq!(manifest["url"], PLACEHOLDER_URL);
        assert_eq!(
            manifest["hook_attributes"]["url"],
            "https://seamguard.example.com/webhook"
        );
    }

    #[test]
    fn urls_are_rooted_at_the_public_url_path_included() {
        let cases = [
            ("https://guard.acme.dev", "https://guard.acme.dev"),
            ("https://guard.acme.dev/", "https://guard.acme.dev"),
            (
                "https://acme.dev/tools/seamguard/",
                "https://acme.dev/tools/seamguard",
            ),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ];
        for (public, base) in cases {
            let manifest = manifest_json(Some(&url(public))).unwrap();
            assert_eq!(manifest["url"], base, "{public}");
            assert_eq!(
                manifest["hook_attributes"]["url"],
                format!("{base}/webhook")
            );
            assert_eq!(manifest["redirect_url"], format!("{base}/setup/callback"));
            assert_eq!(manifest["setup_url"], format!("{base}/setup/installed"));
            assert!(
                !manifest.to_string().contains(PLACEHOLDER_URL),
                "{public}: a URL kept the placeholder"
            );
        }
    }

    #[test]
    fn public_urls_that_cannot_root_paths_are_refused() {
        for bad in [
            "ftp://acme.dev",
            "https://acme.dev/?x=1",
            "https://acme.dev/#top",
            "https://user:pw@acme.dev",
        ] {
            assert!(manifest_json(Some(&url(bad))).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_the_whole_placeholder_host_is_replaced() {
        let mut value = json!({
            "a": "https://seamguard.example.com/x",
            "b": "https://seamguard.example.community/x",
            "c": ["https://seamguard.example.com"],
        });
        rebase(&mut value, "https://h");
        assert_eq!(
            value,
            json!({"a": "https://h/x", "b": "https://seamguard.example.community/x", "c": ["https://h"]})
        );
    }
}
