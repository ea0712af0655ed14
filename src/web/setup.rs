//! The pages of setup mode (see `server::setup`): maud templates in the
//! same frame as the other pages, every value escaped by the engine, and
//! the backticks of messages written for Markdown shown as code.
//!
//! Only the page behind the console's one-time link shows anything that
//! registers an App; every other answer says where that link is.

use maud::{Markup, html};

use super::views::layout;

/// Where the console's link is, for pages reached without it.
const WHERE_THE_LINK_IS: &str = "seamguard printed a one-time setup link when it started \
     (a line with `?setup=` in its output: the terminal, or `journalctl -u seamguard`). \
     Only that link can register the GitHub App.";

/// `text` with each pair of backticks shown as code, as the Markdown the
/// message was written for would show it.
pub fn with_code(text: &str) -> Markup {
    html! {
        @for (i, part) in text.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

fn page(title: &str, body: Markup) -> Markup {
    layout(&format!("{title} · seamguard"), "setup", body)
}

/// Why GitHub would refuse the App, with the fix, shown above the buttons.
pub struct Reachability<'a> {
    /// The webhook URL the manifest would name.
    pub hook: &'a str,
    /// Why GitHub refuses it (Markdown backticks allowed).
    pub why: &'a str,
    /// `PUBLIC_URL` is set (to this unusable address).
    pub public_url_set: bool,
    /// `WEBHOOK_PROXY_URL` is set (to this unusable address).
    pub proxy_set: bool,
    /// This server's port, for the tunnel commands.
    pub port: u16,
}

fn reachability(warning: Option<&Reachability<'_>>) -> Markup {
    let Some(w) = warning else {
        return html! {};
    };
    html! {
        section.card.alert role="alert" {
            p { strong { "GitHub will refuse this App." } " Its webhook URL would be " code { (w.hook) } "; " (with_code(w.why)) "." }
            @if w.proxy_set {
                p {
                    code { "WEBHOOK_PROXY_URL" } " is set to this address: set it to a channel GitHub can reach, such as a new one from "
                    a href="https://smee.io/new" { "smee.io/new" } ", and restart."
                }
            } @else {
            p {
                "Quickest, with no public address and no tunnel: a webhook proxy. Create a channel at "
                a href="https://smee.io/new" { "smee.io/new" } ", start seamguard again with "
                code { "WEBHOOK_PROXY_URL" } " set to its URL (for instance "
                code { "WEBHOOK_PROXY_URL=https://smee.io/AbC123 seamguard serve" } "), and open the new setup link it prints. "
                "GitHub then sends deliveries to the channel and seamguard reads them from it."
            }
            p {
                "For a server: "
                @if w.public_url_set {
                    code { "PUBLIC_URL" } " is set to this address: set it to this server's public https URL"
                } @else {
                    "set " code { "PUBLIC_URL" } " to this server's public https URL and restart"
                }
                " (for instance " code { "PUBLIC_URL=https://seamguard.example.org" } "). "
                "Or start a tunnel to this machine, such as "
                code { "cloudflared tunnel --url http://localhost:" (w.port) }
                " or " code { "ngrok http " (w.port) } ", set " code { "PUBLIC_URL" }
                " to the https URL it prints, and open the setup link again. Behind a TLS proxy, have it send "
                code { "X-Forwarded-Proto" } " and " code { "X-Forwarded-Host" } "."
            }
            }
        }
    }
}

/// What the registration page shows.
pub struct Register<'a> {
    /// The manifest's webhook URL.
    pub hook: &'a str,
    /// Where the credentials will be written.
    pub file: &'a str,
    /// GitHub's form for a personal account, with the manifest `state`.
    pub personal_action: &'a str,
    /// The manifest JSON.
    pub manifest: &'a str,
    /// This server's public base URL.
    pub base: &'a str,
    /// The console's secret, carried on to the organization step.
    pub setup: &'a str,
    /// The webhook URL is `WEBHOOK_PROXY_URL`'s channel.
    pub proxy: bool,
    pub warning: Option<Reachability<'a>>,
}

/// `/?setup=…`: what will happen, and the buttons.
pub fn register(r: &Register<'_>) -> Markup {
    page(
        "Register seamguard on GitHub",
        html! {
            section.card {
                h1 { "Register seamguard on GitHub" }
                p { "seamguard has no GitHub App credentials yet. This page registers a new, private GitHub App for it from its manifest, in three steps:" }
                ol {
                    li { "You press a button below; your browser posts seamguard's App manifest to GitHub (name, webhook URL " code { (r.hook) } ", and the permissions it needs: checks, contents and pull requests write; statuses, administration and metadata read)." }
                    li { "GitHub asks you to confirm and create the App, then sends you back here." }
                    li { "seamguard exchanges the one-time code for the App's id, private key and webhook secret, saves them to " code { (r.file) } " (readable only by this user), and starts serving. Install the App on your repositories from the link it shows." }
                }
            }
            @if r.proxy && r.warning.is_none() {
                section.card {
                    p { "Deliveries come through the webhook proxy " code { (r.hook) } " (" code { "WEBHOOK_PROXY_URL" } "): it is the App's webhook URL, and seamguard connects out to it once the App is registered. No public address or tunnel is needed." }
                }
            }
            (reachability(r.warning.as_ref()))
            section.card {
                form action=(r.personal_action) method="post" {
                    input type="hidden" name="manifest" value=(r.manifest);
                    button type="submit" { "Create the App on my personal account" }
                }
                form method="get" action="/org" {
                    input type="hidden" name="setup" value=(r.setup);
                    label {
                        "Or for an organization: "
                        input type="text" name="org" required pattern="[A-Za-z0-9][A-Za-z0-9-]*" placeholder="my-org";
                    }
                    " "
                    button type="submit" { "Continue" }
                }
                p.muted { "This server's public URL is " code { (r.base) } "; set " code { "PUBLIC_URL" } " if GitHub must reach it at another address." }
            }
        },
    )
}

/// `/org?org=…&setup=…`: the form aimed at one organization.
pub fn register_org(
    org: &str,
    action: &str,
    manifest: &str,
    warning: Option<Reachability<'_>>,
    setup: &str,
) -> Markup {
    page(
        "Register seamguard for an organization",
        html! {
            section.card {
                h1 { "Register seamguard for " (org) }
                p { "Register seamguard as a GitHub App owned by the organization " strong { (org) } " (you must be one of its owners)." }
            }
            (reachability(warning.as_ref()))
            section.card {
                form action=(action) method="post" {
                    input type="hidden" name="manifest" value=(manifest);
                    button type="submit" { "Create the App for " (org) }
                }
                p { a href={ "/?setup=" (setup) } { "Back" } }
            }
        },
    )
}

/// Any setup page reached without the console's link.
pub fn locked() -> Markup {
    page(
        "Setup needs its link",
        html! {
            section.card {
                h1 { "Setup needs its link" }
                p { "This seamguard has no GitHub App yet, and only the person at its console may register one." }
                p { (with_code(WHERE_THE_LINK_IS)) }
            }
        },
    )
}

/// A setup step that did not finish; `message` may hold backticks.
pub fn failed(title: &str, message: &str) -> Markup {
    page(
        title,
        html! {
            section.card.alert {
                h1 { (title) }
                p { (with_code(message)) }
            }
        },
    )
}

/// The App exists and its credentials are saved.
pub fn registered(slug: &str, id: u64, file: &str, install: Option<&str>) -> Markup {
    page(
        "seamguard is registered",
        html! {
            section.card {
                h1 { "seamguard is registered" }
                p { "The GitHub App " strong { (slug) } " (id " (id) ") is registered. Its id, private key and webhook secret are saved in " code { (file) } " with mode 0600." }
                @if let Some(install) = install {
                    p { "Next, " a href=(install) { "install the App" } " on the repositories it should guard." }
                }
                p { "This server is switching to serving the App now. To start it again later, run:" }
                pre { "seamguard serve" }
                p { "in this directory (it reads " code { (file) } "), or set " code { "APP_ID" } ", " code { "PRIVATE_KEY_PATH" } " and " code { "WEBHOOK_SECRET" } "." }
            }
        },
    )
}

/// Where GitHub sends the browser after someone installs the App.
pub fn installed() -> Markup {
    page(
        "seamguard is installed",
        html! {
            section.card {
                h1 { "seamguard is installed" }
                p { "seamguard now guards the repositories you selected. Each pull request gets a " code { "seamguard" } " check: conflict markers, merge sources, and the merge gate." }
                p { "Configure it per repository in " code { ".github/seamguard.yml" } " (org-wide defaults go in the same path of your organization's " code { ".github" } " repository). To have seamguard merge a pull request, add the " code { "automerge" } " label, or set " code { "merge.mode: always" } "." }
            }
        },
    )
}

/// `/setup/callback` once the App exists.
pub fn already_registered() -> Markup {
    failed(
        "Already registered",
        "This server already has its GitHub App and is serving it. A setup code can be used \
         only once; nothing was changed.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticks_are_code_and_everything_is_escaped() {
        let html = with_code("`127.0.0.1` is <b>loopback</b> & `x`").into_string();
        assert_eq!(
            html,
            "<code>127.0.0.1</code> is &lt;b&gt;loopback&lt;/b&gt; &amp; <code>x</code>"
        );
        let page = locked().into_string();
        assert!(page.contains("<code>?setup=</code>"), "{page}");
        assert!(!page.contains("manifest"), "{page}");
    }
}
