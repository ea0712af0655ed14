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

use super::yaml;

/// The App manifest as written, checked in at the crate root.
const MANIFEST_YAML: &str = include_str!("../../app-manifest.yml");

/// The URL every manifest URL starts with until a public URL replaces it.
pub const PLACEHOLDER_URL: &str = "https://seamguard.example.com";

/// The environment variable `seamguard manifest` (and setup mode) reads the
/// server's public URL from.
pub const PUBLIC_URL_ENV: &str = "PUBLIC_URL";

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
            if let Some(rest) = s.strip_prefix(PLACEHOLDER_URL) {
                if rest.is_empty() || rest.starts_with('/') {
                    *s = format!("{base}{rest}");
                }
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
                "statuses": "read",
                "administration": "read",
                "metadata": "read",
            })
        );
        assert_eq!(
            manifest["default_events"],
            json!([
                "check_run",
                "check_suite",
                "pull_request",
                "pull_request_review",
                "push",
                "status",
                "merge_group",
                "issue_comment"
            ])
        );
        assert_eq!(manifest["hook_attributes"]["active"], true);
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
