//! The pull request's page, end to end: the real binary against the fake
//! GitHub runs a pull request through blocked → waiting → merged; at each
//! step the check run's `details_url` is opened — over HTTP, and in
//! headless Chromium (a screenshot of each step is saved
//! in the test's temporary directory) — and what the page shows is
//! asserted. A forged or expired signature answers the same 404 as an
//! unknown path. `/` is public; `/status` answers only its bearer token.
//!
//! Chromium is Debian's `chromium` (`.ci/run` installs it). Without it the
//! browser half is skipped with one line locally, and fails in CI
//! (`SEAMGUARD_REQUIRE_CHROMIUM=1`). `SEAMGUARD_PAGE_SCREENSHOTS=DIR` also
//! copies the three screenshots to `DIR/page-{blocked,waiting,merged}.png`,
//! and the page of a pull request waiting for a review and a conversation
//! to `DIR/page-review.png` (how the README's are made).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use seamguard::ids::{PrNumber, RepoName};
use seamguard::web::NOT_FOUND;
use seamguard::web::link::PageSigner;
use support::binary::{Process, env};
use support::flows::{WAIT, completed_run, merged};
use support::{FakeGitHub, Seamguard, Sha, WEBHOOK_SECRET};

const PUBLIC_URL: &str = "https://seamguard.example.test";
const STATUS_TOKEN: &str = "a-status-token-for-the-tests";

/// A half-resolved conflict at lines 2 to 6 of the head's file.
const WITH_MARKERS: &str =
    "fn parse() {}\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> develop\nfn rest() {}\n";
const RESOLVED: &str = "fn parse() {}\nours\nfn rest() {}\n";

/// Chromium, when it is installed; in CI its absence fails the test.
fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("SEAMGUARD_REQUIRE_CHROMIUM").is_none(),
            "SEAMGUARD_REQUIRE_CHROMIUM is set but chromium is not installed (apt-get install chromium)"
        );
        eprintln!("skipping the browser half: chromium is not installed");
    }
    found
}

/// The page at `url` as headless Chromium renders it: its
/// DOM, and a screenshot saved at `png`.
async fn in_browser(chromium: &Path, url: &str, png: &Path, profile: &Path) -> String {
    let run = |extra: Vec<String>| {
        let mut cmd = tokio::process::Command::new(chromium);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .kill_on_drop(true);
        async move {
            tokio::time::timeout(Duration::from_secs(90), cmd.output())
                .await
                .expect("chromium finished within 90 s")
                .expect("chromium ran")
        }
    };
    // (Headless Chromium's --dump-dom and --screenshot run on scripts
    // themselves, so scripts stay on here; that the page needs none is
    // shown by its having none, asserted on its HTML.)
    let dom = run(vec!["--dump-dom".into()]).await;
    assert!(
        dom.status.success(),
        "chromium --dump-dom: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let shot = run(vec![
        format!("--screenshot={}", png.display()),
        "--window-size=1100,1500".into(),
    ])
    .await;
    assert!(
        shot.status.success() && png.exists(),
        "chromium --screenshot: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

/// `details_url` on this server instead of `PUBLIC_URL` (the signature
/// covers the pull request and the expiry, not the host).
fn on(app_base: &str, details_url: &str) -> String {
    assert!(
        details_url.starts_with(&format!("{PUBLIC_URL}/acme/app/pull/7?exp=")),
        "{details_url}"
    );
    details_url.replacen(PUBLIC_URL, app_base, 1)
}

/// Fetches `url` until its page shows `decision` for `head` (the history
/// is written as the evaluation ends, just after the check run).
async fn page_showing(url: &str, decision: &str, head: &Sha) -> String {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    let word = format!("<div class=\"word\">{decision}</div>");
    let short = &head.as_str()[..7];
    loop {
        let answer = client.get(url).send().await.expect("page answers");
        assert_eq!(answer.status(), 200, "{url}");
        let body = answer.text().await.unwrap();
        if body.contains(&word) && body.contains(&format!("head <code>{short}</code>")) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed {decision} on {short}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn seamguard_run(gh: &FakeGitHub, head: &Sha) -> support::CheckRun {
    gh.world()
        .check_runs_named("seamguard")
        .find(|r| &r.head_sha == head)
        .cloned()
        .expect("seamguard's run on the head")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_page_through_blocked_waiting_merged_in_a_browser() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.protection("main").requires(&["test"]);
    let base = repo.branch_tip("main");
    let blocked_head = repo.commit(
        &[&base],
        "half-resolved merge",
        &[("src/parse.rs", Some(WITH_MARKERS))],
    );
    repo.branch("feature", &blocked_head);
    repo.pr(7)
        .head("feature")
        .base("main")
        .title("Parse the new format")
        .label("automerge")
        .open();
    let dir = tempfile::tempdir().unwrap();
    let mut vars = env(&gh, dir.path());
    vars.push(("PUBLIC_URL".into(), PUBLIC_URL.into()));
    vars.push(("STATUS_TOKEN".into(), STATUS_TOKEN.into()));
    let app = Process::spawn(&vars);
    let base_url = format!("http://{}", app.addr);
    let browser = chromium();
    let shots = dir.path().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let dom_of = |step: &'static str, url: String| {
        let browser = browser.clone();
        let png = shots.join(format!("page-{step}.png"));
        let profile = profile.path().to_owned();
        async move {
            match browser {
                Some(chromium) => Some(in_browser(&chromium, &url, &png, &profile).await),
                None => None,
            }
        }
    };

    // 1. Blocked: conflict markers, and the required `test` never reported.
    assert_eq!(
        gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
            .await,
        202
    );
    let run = completed_run(&gh, &blocked_head).await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let details = run
        .details_url
        .clone()
        .expect("the run carries details_url");
    let url = on(&base_url, &details);
    let page = page_showing(&url, "blocked", &blocked_head).await;
    assert!(
        !page.to_ascii_lowercase().contains("<script"),
        "the page reads with scripts off: it has none"
    );
    let file_link = format!(
        "https://github.com/acme/app/blob/{}/src/parse.rs#L2",
        blocked_head.as_str()
    );
    for shown in [
        "Parse the new format",
        "What would unblock it",
        "Conflict markers",
        &file_link,
        "src/parse.rs:2",
        "<code>test</code>",
        "branch protection",
        "never reported on this head",
        "No merge attempts on this head.",
        "delivery ",
        "(pull_request.opened)",
    ] {
        assert!(
            page.contains(shown),
            "blocked page lacks {shown:?}:\n{page}"
        );
    }
    if let Some(dom) = dom_of("blocked", url.clone()).await {
        for shown in ["blocked", "Conflict markers", &file_link, "never reported"] {
            assert!(dom.contains(shown), "browser DOM lacks {shown:?}:\n{dom}");
        }
    }

    // 2. Waiting: the markers resolved, `test` running.
    let waiting_head = repo.push("feature", "resolve", &[("src/parse.rs", Some(RESOLVED))]);
    let test = repo.check_run(&waiting_head, "test").in_progress();
    gh.deliver(&repo.pull_request_event("synchronize", 7), &app.webhook())
        .await;
    completed_run(&gh, &waiting_head).await;
    let details = seamguard_run(&gh, &waiting_head)
        .details_url
        .expect("details_url on the new head's run");
    let url = on(&base_url, &details);
    let page = page_showing(&url, "waiting", &waiting_head).await;
    for shown in [
        "`test` must finish and pass",
        "<span class=\"badge pending\">pending</span> in progress",
        "(pull_request.synchronize)",
    ] {
        assert!(
            page.contains(shown),
            "waiting page lacks {shown:?}:\n{page}"
        );
    }
    assert!(
        !page.contains("fix the Conflict markers finding"),
        "the guards pass now:\n{page}"
    );
    if let Some(dom) = dom_of("waiting", url.clone()).await {
        assert!(
            dom.contains("waiting") && dom.contains("must finish and pass"),
            "{dom}"
        );
    }

    // 3. Merged: `test` passes, seamguard merges with the head pinned.
    let test = test.completed("success");
    gh.deliver(
        &repo.check_run_event("completed", test.id().0),
        &app.webhook(),
    )
    .await;
    gh.wait_for("the merge", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    let page = page_showing(&url, "merged", &waiting_head).await;
    for shown in [
        "merged with the head SHA pinned",
        "<td>1 of 6</td>",
        "<td>merged</td>",
        "check_run.completed",
        "<span class=\"badge passed\">passed</span> success",
    ] {
        assert!(page.contains(shown), "merged page lacks {shown:?}:\n{page}");
    }
    // The history lists every evaluation, newest first, each with its cost.
    let history = page
        .split("id=\"history\"")
        .nth(1)
        .expect("history section");
    assert!(history.matches("<tr><td>").count() >= 3, "{history}");
    if let Some(dom) = dom_of("merged", url.clone()).await {
        assert!(dom.contains("merged with the head SHA pinned"), "{dom}");
        if let Some(out) = std::env::var_os("SEAMGUARD_PAGE_SCREENSHOTS") {
            for step in ["blocked", "waiting", "merged"] {
                let name = format!("page-{step}.png");
                std::fs::copy(shots.join(&name), Path::new(&out).join(&name)).unwrap();
            }
        }
    }

    // Forged, expired, misplaced: the same 404 as a path that does not exist.
    let client = reqwest::Client::new();
    let unknown = client
        .get(format!("{base_url}/no/such/path"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.text().await.unwrap(), NOT_FOUND);
    let signer = PageSigner::from_webhook_secret(WEBHOOK_SECRET.as_bytes());
    let repo_name: RepoName = "acme/app".parse().unwrap();
    let past = chrono::Utc::now().timestamp() - 60;
    let expired = format!(
        "{base_url}/acme/app/pull/7?exp={past}&sig={}",
        signer.sign(&repo_name, PrNumber(7), past)
    );
    let mut forged = url.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let other_pr = url.replacen("/pull/7?", "/pull/8?", 1);
    let unsigned = format!("{base_url}/acme/app/pull/7");
    for refused in [&expired, &forged, &other_pr, &unsigned] {
        let answer = client.get(refused).send().await.unwrap();
        assert_eq!(answer.status(), 404, "{refused}");
        assert_eq!(answer.text().await.unwrap(), NOT_FOUND, "{refused}");
    }
    if let Some(chromium) = &browser {
        let dom = in_browser(chromium, &forged, &shots.join("forged.png"), profile.path()).await;
        assert!(
            !dom.contains("acme") && !dom.contains("Parse the new format"),
            "{dom}"
        );
    }

    // `/` is public and says nothing private; `/status` wants its token.
    let landing = client.get(format!("{base_url}/")).send().await.unwrap();
    assert_eq!(landing.status(), 200);
    let landing = landing.text().await.unwrap();
    assert!(landing.contains(env!("CARGO_PKG_VERSION")));
    assert!(
        landing.contains("<span class=\"badge pass\">ok</span>"),
        "{landing}"
    );
    assert!(!landing.contains("acme"), "{landing}");
    let status = client
        .get(format!("{base_url}/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 401);
    let status = client
        .get(format!("{base_url}/status"))
        .bearer_auth("not-the-token-at-all-no")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 401);
    let status = client
        .get(format!("{base_url}/status"))
        .bearer_auth(STATUS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    let status = status.text().await.unwrap();
    for shown in [
        "Recent evaluations",
        "acme/app#7",
        "Queue",
        "Rate-limit budgets",
        "installation ",
        "Failed jobs",
    ] {
        assert!(status.contains(shown), "/status lacks {shown:?}:\n{status}");
    }
    drop(app);
}

/// A pull request that waits for an approving review and a resolved
/// conversation: the page lists both rules of the base with their state,
/// who can clear them and since when (`page-review.png`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_waiting_for_a_review_and_a_conversation_in_a_browser() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = support::flows::feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.require_approvals("main", 1)
        .classic_gate("main", |g| g.conversation_resolution = true);
    repo.thread(7);
    repo.edit(|r| {
        if let Some(pr) = r.pulls.get_mut(&7) {
            pr.title = "Parse the new format".into();
        }
    });
    let app = Seamguard::start_with(&gh, &["--public-url", PUBLIC_URL]).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    let url = on(
        &app.url(""),
        &run.details_url.clone().expect("details_url on the run"),
    );
    let page = page_showing(&url, "waiting", &head).await;
    for shown in [
        "waiting for 1 approving review and 1 conversation to be resolved",
        "1 approving review required by branch protection",
        "conversations resolved before merging, required by branch protection",
        "<span class=\"badge unmet\">unmet</span> none yet",
        "anyone with write access can approve",
        "<span class=\"badge unmet\">unmet</span> 1 conversation unresolved",
    ] {
        assert!(page.contains(shown), "the page lacks {shown:?}:\n{page}");
    }
    assert_eq!(support::ready::merge_requests(&gh, 7).len(), 0);
    if let Some(chromium) = chromium() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("page-review.png");
        let profile = tempfile::tempdir().unwrap();
        let dom = in_browser(&chromium, &url, &png, profile.path()).await;
        for shown in ["1 approving review required", "1 conversation unresolved"] {
            assert!(dom.contains(shown), "browser DOM lacks {shown:?}:\n{dom}");
        }
        if let Some(out) = std::env::var_os("SEAMGUARD_PAGE_SCREENSHOTS") {
            std::fs::copy(&png, Path::new(&out).join("page-review.png")).unwrap();
        }
    }
    gh.wait_idle().await;
    app.stop().await;
}

#[tokio::test]
async fn without_a_status_token_there_is_no_status_page() {
    let gh = FakeGitHub::start().await;
    let app = Seamguard::start(&gh).await;
    let client = reqwest::Client::new();
    let status = client
        .get(app.url("/status"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 404);
    assert_eq!(status.text().await.unwrap(), NOT_FOUND);
    let landing = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(landing.status(), 200);
    app.stop().await;
}
