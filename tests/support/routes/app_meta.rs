//! What the App's owner sees of it, for `seamguard doctor`: the App itself
//! (`GET /app`: its permissions and events), its installations, its webhook
//! configuration, and the repositories an installation reaches.

use serde_json::{Value, json};

use super::{Answer, Ctx};
use crate::support::json::{self as gh};
use crate::support::world::{SeenAuth, World};

/// The App as its settings page has it; tests break one part at a time.
#[derive(Debug, Clone)]
pub struct AppMeta {
    /// `default_permissions` as GitHub reports them (`name` → `read`/`write`).
    pub permissions: Value,
    pub events: Vec<String>,
    /// Installations whose owners have not accepted every permission yet:
    /// the permissions each holds instead.
    pub installation_permissions: std::collections::BTreeMap<u64, Value>,
    pub hook_url: String,
    pub hook_content_type: String,
    pub hook_secret_set: bool,
}

impl Default for AppMeta {
    fn default() -> Self {
        Self {
            permissions: json!({
                "checks": "write", "contents": "write", "pull_requests": "write",
                "issues": "write", "statuses": "read", "administration": "read", "metadata": "read",
                "merge_queues": "read", "deployments": "read"
            }),
            events: [
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
                "repository",
            ]
            .map(str::to_owned)
            .to_vec(),
            installation_permissions: Default::default(),
            hook_url: "https://seamguard.example.org/webhook".to_owned(),
            hook_content_type: "json".to_owned(),
            hook_secret_set: true,
        }
    }
}

/// When the fake App and its installations were made.
const CREATED: &str = "2024-01-01T00:00:00Z";

/// `GET /app`.
pub fn app(world: &mut World, _ctx: &Ctx) -> Answer {
    let mut app = gh::app(world);
    app["permissions"] = world.app_meta.permissions.clone();
    app["events"] = json!(world.app_meta.events);
    app["installations_count"] = json!(world.installations.len());
    Answer::json(200, app)
}

/// `GET /app/installations`.
pub fn installations(world: &mut World, _ctx: &Ctx) -> Answer {
    let list: Vec<Value> = world
        .installations
        .values()
        .map(|i| {
            let permissions = world
                .app_meta
                .installation_permissions
                .get(&i.id)
                .unwrap_or(&world.app_meta.permissions);
            json!({
                "id": i.id,
                // GitHub's description lets `account` be null, and the
                // validator cannot check the nullable `simple-user | enterprise`
                // union it is otherwise: the fake sends the least GitHub
                // promises, and doctor names the installation by its id.
                "account": null,
                "access_tokens_url": format!("{}/app/installations/{}/access_tokens", world.api_url, i.id),
                "repositories_url": format!("{}/installation/repositories", world.api_url),
                "html_url": format!("{}/organizations/{}/settings/installations/{}", gh::WEB, i.account, i.id),
                "app_id": world.app_id, "app_slug": world.app_slug,
                "target_id": 1000 + i.id, "target_type": "Organization",
                "permissions": permissions, "events": world.app_meta.events,
                "created_at": CREATED, "updated_at": CREATED,
                "single_file_name": null, "repository_selection": "selected",
                "suspended_at": null, "suspended_by": null
            })
        })
        .collect();
    Answer::json(200, Value::Array(list))
}

/// `GET /app/hook/config`: GitHub masks a secret that is set.
pub fn hook_config(world: &mut World, _ctx: &Ctx) -> Answer {
    let meta = &world.app_meta;
    let mut config = json!({
        "url": meta.hook_url, "content_type": meta.hook_content_type, "insecure_ssl": "0"
    });
    if meta.hook_secret_set {
        config["secret"] = json!("********");
    }
    Answer::json(200, config)
}

/// `GET /installation/repositories`, with the token's installation.
pub fn installation_repositories(world: &mut World, ctx: &Ctx) -> Answer {
    let SeenAuth::Installation(id) = ctx.auth else {
        return Answer::error(401, "Bad credentials");
    };
    let (per, page) = super::page_params(ctx, 30, 100);
    let reached: Vec<_> = world
        .repos
        .values()
        .filter(|r| r.installation == id)
        .collect();
    let repositories: Vec<Value> = reached
        .iter()
        .skip((page - 1) * per)
        .take(per)
        .map(|r| gh::repo(world, r))
        .collect();
    Answer::json(
        200,
        json!({ "total_count": reached.len(), "repositories": repositories }),
    )
}
