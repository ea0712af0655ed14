//! GitHub's rate budget, end to end: the fake enforces GitHub's secondary
//! limits per installation (shrunk, on a clock ten times faster), and
//! seamguard — told the same numbers — stays inside them: a burst of pull
//! requests is evaluated with zero secondary-limit answers, where the same
//! burst with the governor off runs into them. With PostgreSQL
//! (`SEAMGUARD_TEST_POSTGRES`), two replicas on one database share one
//! budget, and a secondary-limit pause one of them is told of holds the
//! other too.

mod store_backends;
mod support;

use std::time::Duration;

use store_backends::{Backend, TestDb};
use support::flows::feature_pr;
use support::limits::RateLimits;
use support::{FakeGitHub, Seamguard, SeenAuth};

/// Bursts are paced over several (compressed) minutes: allow for it.
const SETTLE: Duration = Duration::from_secs(120);

/// Pull requests in the burst.
const BURST: u64 = 10;

/// The fake's clock runs this much faster: a minute lasts six seconds.
const SPEED: f64 = 10.0;

/// GitHub's limits, shrunk so a burst of ten pull requests passes them:
/// each evaluation costs about 8 reads and 2–3 writes (25 points, 2–3
/// content-creating requests).
fn small_limits() -> RateLimits {
    RateLimits {
        points_per_minute: 90,
        content_per_minute: 8,
        content_per_hour: 500,
        block_secs: 60,
        speed: SPEED,
        ..RateLimits::default()
    }
}

/// The same numbers, as seamguard is told them (`GITHUB_RATE_LIMITS`).
fn limits_flag(replicas: u32) -> String {
    format!("rest_points=90,content_minute=8,content_hour=500,speed={SPEED},replicas={replicas}")
}

/// `BURST` pull requests on `acme/app`, every other one opted in to
/// merging. Returns their heads.
fn burst(gh: &FakeGitHub) -> Vec<support::Sha> {
    let repo = gh.repo("acme/app");
    (1..=BURST)
        .map(|n| {
            let labels: &[&str] = if n % 2 == 0 { &["automerge"] } else { &[] };
            feature_pr(&repo, n, &format!("feature-{n}"), labels)
        })
        .collect()
}

fn all_completed(w: &support::World, heads: &[support::Sha]) -> bool {
    heads.iter().all(|h| {
        w.check_runs_named("seamguard")
            .any(|r| &r.head_sha == h && r.is_completed())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_stays_inside_the_secondary_limits() {
    let gh = FakeGitHub::start().await;
    let heads = burst(&gh);
    gh.enforce_rate_limits(small_limits());
    let flag = limits_flag(1);
    let app = Seamguard::start_with(&gh, &["--github-rate-limits", &flag]).await;
    let repo = gh.repo("acme/app");
    for n in 1..=BURST {
        assert_eq!(
            gh.deliver(&repo.pull_request_event("opened", n), &app.webhook())
                .await,
            202
        );
    }
    let h = heads.clone();
    gh.wait_for(
        "every pull request of the burst evaluated",
        move |w| all_completed(w, &h),
        SETTLE,
    )
    .await;
    let merged = gh.wait_for(
        "every opted-in pull request merged",
        |w| {
            (1..=BURST)
                .filter(|n| n % 2 == 0)
                .all(|n| support::flows::merged(w, "acme/app", n))
        },
        SETTLE,
    );
    merged.await;
    assert_eq!(gh.secondary_answers(), 0, "no secondary-limit answer");
    // Exactly one run per head: nothing was created twice while waiting.
    for head in &heads {
        let runs = gh
            .world()
            .check_runs_named("seamguard")
            .filter(|r| &r.head_sha == head)
            .count();
        assert_eq!(runs, 1, "one run on {head}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_burst_without_the_governor_runs_into_them() {
    let gh = FakeGitHub::start().await;
    burst(&gh);
    gh.enforce_rate_limits(small_limits());
    let flag = limits_flag(1);
    let app = Seamguard::start_with(
        &gh,
        &["--github-rate-limits", &flag, "--github-governor", "off"],
    )
    .await;
    let repo = gh.repo("acme/app");
    for n in 1..=BURST {
        gh.deliver(&repo.pull_request_event("opened", n), &app.webhook())
            .await;
    }
    gh.wait_for(
        "a secondary-limit answer",
        |w| w.limits.as_ref().is_some_and(|l| l.secondary_answers > 0),
        SETTLE,
    )
    .await;
    app.stop().await;
}

/// Two seamguards on one PostgreSQL database, each against the same fake.
async fn two_replicas(gh: &FakeGitHub, db: &TestDb) -> (Seamguard, Seamguard) {
    let flag = limits_flag(2);
    let flags = [
        "--database-url",
        db.url.as_str(),
        "--github-rate-limits",
        flag.as_str(),
    ];
    let a = Seamguard::start_with(gh, &flags).await;
    let b = Seamguard::start_with(gh, &flags).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_together_spend_what_one_would() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let gh = FakeGitHub::start().await;
    let heads = burst(&gh);
    gh.enforce_rate_limits(small_limits());
    let (a, b) = two_replicas(&gh, &db).await;
    let repo = gh.repo("acme/app");
    for n in 1..=BURST {
        let to = if n % 2 == 0 { &a } else { &b };
        assert_eq!(
            gh.deliver(&repo.pull_request_event("opened", n), &to.webhook())
                .await,
            202
        );
    }
    let h = heads.clone();
    gh.wait_for(
        "every pull request of the burst evaluated by one replica or the other",
        move |w| all_completed(w, &h),
        SETTLE,
    )
    .await;
    assert_eq!(
        gh.secondary_answers(),
        0,
        "the replicas leased one budget: no secondary-limit answer"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_seen_by_one_replica_holds_for_the_other() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    feature_pr(&repo, 7, "seven", &[]);
    let eight = feature_pr(&repo, 8, "eight", &[]);
    let (a, b) = two_replicas(&gh, &db).await;
    // Replica A's first read of #7 is answered with a secondary limit:
    // come back in four seconds.
    gh.fail_next(
        "GET /pulls/7",
        403,
        r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#,
    )
    .header("retry-after", "4");
    assert_eq!(
        gh.deliver(&repo.pull_request_event("opened", 7), &a.webhook())
            .await,
        202
    );
    gh.wait_for(
        "the secondary-limit answer",
        |w| w.requests.iter().any(|r| r.status == 403),
        SETTLE,
    )
    .await;
    // When GitHub answered: the pause runs four seconds from then (seamguard
    // reads the answer later still).
    let paused_until = gh
        .requests()
        .iter()
        .find(|r| r.status == 403)
        .map(|r| r.at + Duration::from_secs(4))
        .expect("the secondary-limit answer");
    // Past the time a replica trusts its last reading of the shared pause
    // (time passing, not an assertion).
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let before = gh.requests().len();
    assert_eq!(
        gh.deliver(&repo.pull_request_event("opened", 8), &b.webhook())
            .await,
        202
    );
    let h = [eight];
    gh.wait_for(
        "#8 evaluated after the pause",
        move |w| all_completed(w, &h),
        SETTLE,
    )
    .await;
    // Replica B had work, and GitHub said to wait: it waited too. Not one
    // request for the installation went out before the pause ended.
    let early: Vec<_> = gh.requests()[before..]
        .iter()
        .filter(|r| matches!(r.auth, SeenAuth::Installation(_)) && r.at < paused_until)
        .cloned()
        .collect();
    assert!(
        early.is_empty(),
        "requests for the installation while the pause held: {early:#?}"
    );
    a.stop().await;
    b.stop().await;
}

/// The bearer `/status` asks for in [`the_page_and_status_say_a_pull_request_waits_for_the_write_budget`].
const STATUS_TOKEN: &str = "a-status-token-for-the-budget-tests";

/// The path of the link to `number`'s page in `html`, unescaped.
fn page_link(html: &str, number: u64) -> Option<String> {
    let start = html.find(&format!("/acme/app/pull/{number}?"))?;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&"))
}

/// The page at `link`, as JSON.
async fn page_json(client: &reqwest::Client, link: &str) -> serde_json::Value {
    client
        .get(link)
        .header("Accept", "application/json")
        .send()
        .await
        .expect("the page answers")
        .json()
        .await
        .expect("JSON")
}

/// `/status`'s section on work waiting for GitHub's budget.
fn waiting_section(status: &str) -> &str {
    let start = status.find("id=\"waiting\"").expect("a waiting section");
    let end = start + status[start..].find("</section>").expect("its end");
    &status[start..end]
}

/// Pull requests opened at once in [`the_page_and_status_say_a_pull_request_waits_for_the_write_budget`].
const OPENED: u64 = 10;

/// GitHub's content-creating budget is nine requests a minute (seamguard
/// keeps to eight, and to six for anything but a merge), and ten pull
/// requests open at once, each costing one write (its run, created with
/// its result): those whose
/// evaluation is deferred say so on their page (HTML and JSON) and on
/// `/status`, with the time it ends; those evaluated say nothing of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_status_say_a_pull_request_waits_for_the_write_budget() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    for n in 1..=OPENED {
        feature_pr(&repo, n, &format!("feature-{n}"), &[]);
    }
    let limits = RateLimits {
        content_per_minute: 9,
        ..RateLimits::default()
    };
    gh.enforce_rate_limits(limits);
    let app = Seamguard::start_with(
        &gh,
        &[
            "--github-rate-limits",
            "content_minute=9",
            "--status-token",
            STATUS_TOKEN,
        ],
    )
    .await;
    for n in 1..=OPENED {
        assert_eq!(
            gh.deliver(&repo.pull_request_event("opened", n), &app.webhook())
                .await,
            202
        );
    }
    // The deferred evaluations are due a minute from now: past the horizon.
    gh.wait_idle().await;
    let client = reqwest::Client::new();
    let status = client
        .get(app.url("/status"))
        .bearer_auth(STATUS_TOKEN)
        .send()
        .await
        .expect("/status answers")
        .text()
        .await
        .expect("a page");
    let section = waiting_section(&status);
    let waiting: Vec<u64> = (1..=OPENED)
        .filter(|&n| page_link(section, n).is_some())
        .collect();
    assert!(!waiting.is_empty(), "a pull request waits: {status}");
    assert!(
        section.contains("waiting for GitHub's write budget until "),
        "{section}"
    );
    assert_eq!(gh.secondary_answers(), 0, "the budget was kept");

    let n = waiting[0];
    let link = app.url(&page_link(section, n).expect("a link"));
    let page = page_json(&client, &link).await;
    let wait = &page["budget_wait"];
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(wait["until"].clone()).expect("until is a time");
    let line = format!(
        "waiting for GitHub's write budget until {}",
        until.format("%H:%M:%S UTC")
    );
    assert_eq!(wait["message"], line.as_str(), "{page:#}");
    assert!(until > chrono::Utc::now(), "it still waits: {page:#}");
    assert!(
        wait["reason"]
            .as_str()
            .is_some_and(|r| r.contains("content-creating requests")),
        "{page:#}"
    );
    assert!(section.contains(&line), "/status says the same: {section}");
    let html = client
        .get(&link)
        .send()
        .await
        .expect("the page answers")
        .text()
        .await
        .expect("HTML");
    assert!(html.contains(&line), "{html}");

    // A pull request evaluated in full waits for nothing.
    let done = (1..=OPENED)
        .find(|n| !waiting.contains(n))
        .unwrap_or_else(|| panic!("one evaluated: {status}"));
    let link = page_link(&status, done)
        .unwrap_or_else(|| panic!("#{done}'s latest evaluation links its page: {status}"));
    let page = page_json(&client, &app.url(&link)).await;
    assert!(page["budget_wait"].is_null(), "{page:#}");
    app.stop().await;
}
