//! Routes the App calls as itself: installation tokens, webhook deliveries,
//! and the manifest conversion of setup mode.

use serde_json::{Value, json};

use super::{Answer, Ctx};
use crate::support::json::{self as gh, time};
use crate::support::world::World;

/// GitHub lists deliveries 30 to a page unless asked, 100 at most.
const DELIVERIES_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

/// `POST /app/installations/{installation_id}/access_tokens` → 201.
pub fn access_token(world: &mut World, ctx: &Ctx) -> Answer {
    let Ok(id) = ctx.param("installation_id").parse::<u64>() else {
        return Answer::not_found();
    };
    if !world.installations.contains_key(&id) {
        return Answer::not_found();
    }
    let (secret, token) = world.mint_token(id);
    Answer::json(
        201,
        json!({
            "token": secret,
            "expires_at": time(token.expires_at),
            "permissions": {
                "checks": "write", "contents": "write", "pull_requests": "write",
                "statuses": "read", "administration": "read", "metadata": "read"
            },
            "repository_selection": "selected"
        }),
    )
}

/// `GET /app/hook/deliveries`: newest first, cursor pagination.
pub fn hook_deliveries(world: &mut World, ctx: &Ctx) -> Answer {
    let per = ctx
        .q("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DELIVERIES_PER_PAGE)
        .min(MAX_PER_PAGE);
    // The cursor is opaque to clients; here it is the id to continue below.
    let below = ctx
        .q("cursor")
        .and_then(|c| c.strip_prefix("v1_"))
        .and_then(|c| c.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    let mut newest_first: Vec<_> = world
        .hook_deliveries
        .iter()
        .filter(|d| d.id < below)
        .collect();
    newest_first.sort_by_key(|d| std::cmp::Reverse(d.id));
    let page: Vec<Value> = newest_first
        .iter()
        .take(per)
        .map(|d| {
            json!({
                "id": d.id,
                "guid": d.guid,
                "delivered_at": time(d.delivered_at),
                "redelivery": d.redelivery,
                "duration": 0.12,
                "status": if (200..300).contains(&d.status_code) { "OK".to_owned() } else { format!("Invalid HTTP Response: {}", d.status_code) },
                "status_code": d.status_code,
                "event": d.event,
                "action": d.action,
                "installation_id": d.installation_id,
                "repository_id": d.repository_id,
                "throttled_at": null
            })
        })
        .collect();
    let answer = Answer::json(200, Value::Array(page.clone()));
    if newest_first.len() > per {
        let last = newest_first[per - 1].id;
        let link = format!(
            "<{}/app/hook/deliveries?per_page={per}&cursor=v1_{last}>; rel=\"next\"",
            ctx.link_base
        );
        answer.header("link", link)
    } else {
        answer
    }
}

/// `POST /app/hook/deliveries/{delivery_id}/attempts` → 202, recorded.
pub fn redeliver(world: &mut World, ctx: &Ctx) -> Answer {
    let Ok(id) = ctx.param("delivery_id").parse::<u64>() else {
        return Answer::not_found();
    };
    if !world.hook_deliveries.iter().any(|d| d.id == id) {
        return Answer::not_found();
    }
    world.redeliveries.push(id);
    Answer::json(202, json!({}))
}

/// `POST /app-manifests/{code}/conversions`: a code works once.
pub fn manifest_conversion(world: &mut World, ctx: &Ctx) -> Answer {
    let code = ctx.param("code").to_owned();
    let Some(app) = world.manifest_codes.get_mut(&code).filter(|a| !a.used) else {
        return Answer::not_found();
    };
    app.used = true;
    let app = app.clone();
    let mut body = gh::app_with(world, app.id, &app.slug);
    body["client_id"] = json!(app.client_id);
    body["client_secret"] = json!(app.client_secret);
    body["webhook_secret"] = json!(app.webhook_secret);
    body["pem"] = json!(app.pem);
    Answer::json(201, body)
}
