//! One at a time on a strict base: with several opted-in pull requests
//! ready at once on a base whose branches must be up to date (and no
//! merge queue), seamguard updates only the first in line, waits for its
//! checks, merges it, then takes the next. Nothing else is updated
//! meanwhile, and each pull request's check run says where it stands.
//!
//! CI is modelled by the test: every new head of an open pull request gets
//! a `test` run, which passes a little later (and GitHub's `check_run`
//! delivery follows); every move of `main` is delivered as a `push`, as
//! GitHub does. The figures printed are counted by the fake.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::flows::feature_pr;
use support::scenario::CheckRunHandle;
use support::{FakeGitHub, RepoHandle, Seamguard, Sha, World};

/// How long the modelled CI takes on a new head.
const CI_TIME: Duration = Duration::from_millis(150);

/// How often the CI model looks at the world.
const CI_POLL: Duration = Duration::from_millis(10);

/// Far above what five or twenty merges take.
const DEADLINE: Duration = Duration::from_secs(120);

/// `acme/app` whose `main` requires `test` and up-to-date branches, with
/// `merge.update_branch: true`, and `n` opted-in pull requests (#1..#n),
/// each green on its first head.
fn strict_repo(gh: &FakeGitHub, n: u64, config: &str) -> RepoHandle {
    let repo = gh.repo("acme/app");
    repo.push("main", "config", &[(".github/seamguard.yml", Some(config))]);
    repo.protection("main").requires(&["test"]).strict();
    for i in 1..=n {
        let head = feature_pr(&repo, i, &format!("f{i}"), &["automerge"]);
        repo.check_run(&head, "test").completed("success");
    }
    repo
}

/// What the fake saw, in order: who was being updated when, and merges.
struct Figures {
    /// `update-branch` calls (any answer).
    update_calls: usize,
    /// Base-into-head merges (`POST /merges`).
    merges_in: usize,
    /// Pull requests merged, in order.
    merged: Vec<u64>,
    /// Two branches updated at once (an update of another pull request
    /// before the one being updated merged or left).
    overlaps: Vec<String>,
}

fn figures(w: &World) -> Figures {
    let mut current: Option<u64> = None;
    let mut overlaps = Vec::new();
    let mut merged = Vec::new();
    let mut update_calls = 0;
    let mut merges_in = 0;
    for r in &w.requests {
        let parts: Vec<&str> = r.path.split('/').collect();
        let updated = if r.method == "PUT" && r.path.ends_with("/update-branch") {
            update_calls += 1;
            parts.get(5).and_then(|n| n.parse::<u64>().ok())
        } else if r.method == "POST" && r.path.ends_with("/merges") {
            merges_in += 1;
            r.body
                .as_ref()
                .and_then(|b| b["base"].as_str())
                .and_then(|b| b.strip_prefix('f'))
                .and_then(|n| n.parse().ok())
        } else {
            None
        };
        if let Some(n) = updated {
            if let Some(m) = current.filter(|m| *m != n) {
                overlaps.push(format!("#{n} updated while #{m} was (request {})", r.seq));
            }
            current = Some(n);
        }
        // A synchronous merge answered 200, or the read of an asynchronous
        // merge's result that ran it.
        let sync_merged = r.method == "PUT" && r.path.ends_with("/merge") && r.status == 200;
        let async_merged = w
            .async_merges
            .values()
            .any(|m| m.status == "merged" && m.ran_at == Some(r.seq));
        if sync_merged || async_merged {
            let n: u64 = parts[5].parse().expect("number");
            merged.push(n);
            if current == Some(n) {
                current = None;
            }
        }
    }
    Figures {
        update_calls,
        merges_in,
        merged,
        overlaps,
    }
}

/// Runs the CI model until every pull request in `1..=n` merged; returns
/// the CI runs it started (one per new head seamguard caused) and the pull
/// requests that were behind `main` at some moment.
async fn run_ci_until_merged(
    gh: &FakeGitHub,
    repo: &RepoHandle,
    app: &Seamguard,
    n: u64,
) -> (usize, BTreeSet<u64>) {
    let started = Instant::now();
    let mut running: Vec<(Sha, Instant, CheckRunHandle)> = Vec::new();
    let mut ci_runs = 0;
    let mut main = repo.branch_tip("main");
    let mut behind = BTreeSet::new();
    loop {
        let (all_merged, heads, tip, now_behind) = gh.with_world(|w| {
            let r = w.repo("acme/app");
            let tip = r.tip("main").cloned().expect("main");
            let open: Vec<_> = r.pulls.values().filter(|p| p.is_open()).collect();
            let heads: Vec<Sha> = open
                .iter()
                .filter(|p| {
                    !r.check_runs
                        .iter()
                        .any(|c| c.head_sha == p.head_sha && c.name == "test")
                })
                .map(|p| p.head_sha.clone())
                .collect();
            let now_behind: Vec<u64> = open
                .iter()
                .filter(|p| !r.is_ancestor(&tip, &p.head_sha))
                .map(|p| p.number)
                .collect();
            let all = (1..=n).all(|i| r.pulls[&i].merged);
            (all, heads, tip, now_behind)
        });
        behind.extend(now_behind);
        if all_merged {
            // What the fake counted at each merge, besides what was seen here.
            behind.extend(repo.read_behind_seen());
            return (ci_runs, behind);
        }
        assert!(
            started.elapsed() < DEADLINE,
            "not all merged in time:\n{}",
            gh.with_world(|w| w.dump())
        );
        for head in heads {
            ci_runs += 1;
            let run = repo.check_run(&head, "test").in_progress();
            running.push((head, Instant::now(), run));
        }
        let (done, still): (Vec<_>, Vec<_>) = running
            .into_iter()
            .partition(|(_, at, _)| at.elapsed() >= CI_TIME);
        running = still;
        for (_, _, run) in done {
            let run = run.completed("success");
            gh.deliver(
                &repo.check_run_event("completed", run.id().0),
                &app.webhook(),
            )
            .await;
        }
        if tip != main {
            gh.deliver(&repo.push_event("main", &main), &app.webhook())
                .await;
            main = tip;
        }
        tokio::time::sleep(CI_POLL).await;
    }
}

async fn label_in_order(gh: &FakeGitHub, repo: &RepoHandle, app: &Seamguard, n: u64) {
    for i in 1..=n {
        let head = repo.pull(i).head_sha;
        gh.deliver(&repo.pull_request_event("labeled", i), &app.webhook())
            .await;
        // Each joins the line before the next is labeled: the line's order
        // is the order they became ready.
        gh.wait_for(
            "the labeled pull request to be evaluated",
            move |w| {
                let pr = &w.repo("acme/app").pulls[&i];
                w.check_runs_named("seamguard")
                    .filter(|r| r.is_completed() && r.head_sha == head)
                    .any(|r| {
                        // The evaluation's own merge or update is done too.
                        let title = r.output.as_ref().map_or("", |o| o.title.as_str());
                        if title.ends_with("· merging") {
                            pr.merged
                        } else if title.ends_with("· updating branch") {
                            pr.head_sha != head
                        } else {
                            true
                        }
                    })
            },
            support::flows::WAIT,
        )
        .await;
    }
}

#[tokio::test]
async fn five_ready_pull_requests_merge_in_order_one_update_at_a_time() {
    let gh = FakeGitHub::start().await;
    let repo = strict_repo(&gh, 5, "merge:\n  update_branch: true\n");
    let app = Seamguard::start(&gh).await;
    label_in_order(&gh, &repo, &app, 5).await;

    // While #2 goes first, the others say where they stand. (Whether #2 is
    // merging or updating at that moment depends on whether GitHub had
    // computed that it is behind when seamguard read it: `unknown` on the
    // first read after #1 moved the base.)
    let h3 = repo.pull(3).head_sha;
    gh.wait_for(
        "#3 to say it is 2nd in line behind #2",
        move |w| {
            w.check_runs_named("seamguard").any(|r| {
                r.head_sha == h3
                    && ["updating #2 now", "#2 goes first"].iter().any(|now| {
                        r.summary()
                            .contains(&format!("2nd in line for `main`; {now}"))
                    })
            })
        },
        support::flows::WAIT,
    )
    .await;

    let (ci_runs, behind) = run_ci_until_merged(&gh, &repo, &app, 5).await;
    app.stop().await;
    let f = gh.with_world(|w| figures(w));
    println!(
        "strict base, 5 ready pull requests: merged {:?}; update-branch calls {}, base merged in {}; \
         pull requests actually behind {} ({behind:?}); CI runs seamguard caused {ci_runs}",
        f.merged,
        f.update_calls,
        f.merges_in,
        behind.len()
    );
    assert_eq!(f.merged, vec![1, 2, 3, 4, 5], "all five, in order");
    assert!(
        f.overlaps.is_empty(),
        "two branches updated at once: {:?}",
        f.overlaps
    );
    assert!(
        f.update_calls <= behind.len(),
        "{} update-branch calls for {} behind",
        f.update_calls,
        behind.len()
    );
    assert_eq!(f.merges_in, 0, "update-branch worked: no fallback");
    assert_eq!(ci_runs, f.update_calls, "one CI run per update");
}

#[tokio::test]
async fn a_refused_update_branch_falls_back_to_merging_the_base_into_the_head() {
    let gh = FakeGitHub::start().await;
    let repo = strict_repo(&gh, 2, "merge:\n  update_branch: true\n");
    repo.refuse_update_branch();
    let app = Seamguard::start(&gh).await;
    label_in_order(&gh, &repo, &app, 2).await;
    run_ci_until_merged(&gh, &repo, &app, 2).await;
    app.stop().await;
    let f = gh.with_world(|w| figures(w));
    println!(
        "update-branch calls {}, base merged in {}",
        f.update_calls, f.merges_in
    );
    assert_eq!(f.merged, vec![1, 2]);
    assert_eq!((f.update_calls, f.merges_in), (1, 1));
}

#[tokio::test]
async fn a_fork_that_cannot_be_updated_says_so_and_steps_out_of_line() {
    let gh = FakeGitHub::start().await;
    let repo = strict_repo(&gh, 1, "merge:\n  update_branch: true\n");
    repo.refuse_update_branch();
    // #2 comes from a fork, opened from main's tip before #1 merges.
    let base = repo.branch_tip("main");
    let fork_head = repo.commit(&[&base], "fork work", &[("fork", Some("x\n"))]);
    repo.pr(2)
        .head(&fork_head)
        .head_in_fork("someone/app")
        .base("main")
        .label("automerge")
        .open();
    repo.check_run(&fork_head, "test").completed("success");
    let app = Seamguard::start(&gh).await;
    label_in_order(&gh, &repo, &app, 1).await;
    gh.wait_for(
        "#1 merged",
        |w| w.repo("acme/app").pulls[&1].merged,
        support::flows::WAIT,
    )
    .await;
    gh.deliver(&repo.pull_request_event("labeled", 2), &app.webhook())
        .await;
    let h = fork_head.clone();
    gh.wait_for(
        "#2 to say it cannot be updated",
        move |w| {
            w.check_runs_named("seamguard")
                .any(|r| r.head_sha == h && r.summary().contains("cannot update it"))
        },
        support::flows::WAIT,
    )
    .await;
    gh.wait_idle().await;
    app.stop().await;
    let summary = gh.with_world(|w| {
        w.check_runs_named("seamguard")
            .filter(|r| r.head_sha == fork_head)
            .last()
            .map(|r| r.summary().to_owned())
            .unwrap_or_default()
    });
    assert!(
        summary.contains("the head branch is in a fork"),
        "{summary}"
    );
    assert_eq!(gh.with_world(|w| figures(w).merges_in), 0);
}

#[tokio::test]
async fn the_line_survives_a_restart() {
    let gh = FakeGitHub::start().await;
    let repo = strict_repo(&gh, 3, "merge:\n  update_branch: true\n");
    let app = Seamguard::start(&gh).await;
    label_in_order(&gh, &repo, &app, 3).await;
    let dir = app.stop().await;
    let app = Seamguard::start_in(&gh, dir, &[]).await;
    run_ci_until_merged(&gh, &repo, &app, 3).await;
    app.stop().await;
    let f = gh.with_world(|w| figures(w));
    assert_eq!(f.merged, vec![1, 2, 3]);
    assert!(f.overlaps.is_empty(), "{:?}", f.overlaps);
}

/// The figure for BENCHMARKS.md: CI runs caused on a strict base by N
/// ready pull requests, one at a time (seamguard, measured end to end)
/// against updating every behind branch after each merge (driven here
/// through the same fake, with the same client).
#[tokio::test]
async fn ci_runs_one_at_a_time_against_all_at_once() {
    for n in [5u64, 20] {
        let gh = FakeGitHub::start().await;
        let repo = strict_repo(&gh, n, "merge:\n  update_branch: true\n");
        // What is counted here is CI runs, not GitHub's rate limits: twenty
        // pull requests' writes in a minute would (rightly) have the budget
        // governor spread them over minutes, past this test's deadline.
        let app = Seamguard::start_with(&gh, &["--github-governor", "off"]).await;
        label_in_order(&gh, &repo, &app, n).await;
        let (one_at_a_time, _) = run_ci_until_merged(&gh, &repo, &app, n).await;
        app.stop().await;
        let f = gh.with_world(|w| figures(w));
        assert_eq!(f.merged, (1..=n).collect::<Vec<_>>());

        let all_at_once = all_at_once(n).await;
        println!(
            "strict base, N = {n}: CI runs one at a time {one_at_a_time}, all at once {all_at_once}"
        );
        assert!(one_at_a_time < all_at_once || n < 3);
    }
}

/// Updating every behind branch after each merge, then merging the first
/// that is green and up to date: the CI runs that costs.
async fn all_at_once(n: u64) -> usize {
    use seamguard::ids::{CommitSha, InstallationId, PrNumber};
    let gh = FakeGitHub::start().await;
    let repo = strict_repo(&gh, n, "merge:\n  update_branch: true\n");
    // The naive model's 190 updates for N = 20 count CI runs, not GitHub's
    // limits: its client is ungoverned.
    let ungoverned = seamguard::github::budget::Limits {
        enabled: false,
        ..Default::default()
    };
    let client = gh
        .client()
        .with_budget(
            std::sync::Arc::new(seamguard::github::budget::MemoryLedger::default()),
            ungoverned,
        )
        .installation(InstallationId(gh.installation_id()));
    let name = repo.name();
    let mut ci_runs = 0;
    for next in 1..=n {
        let pr = repo.pull(next);
        let head: CommitSha = pr.head_sha.parse().expect("sha");
        client
            .merge(&name, PrNumber(next), &head, "squash")
            .await
            .expect("up to date and green: merges");
        // Every other open pull request is behind now: update them all.
        for other in next + 1..=n {
            let head: CommitSha = repo.pull(other).head_sha.parse().expect("sha");
            client
                .update_branch(&name, PrNumber(other), &head)
                .await
                .expect("behind: updates");
            ci_runs += 1;
            let new_head = repo.pull(other).head_sha;
            repo.check_run(&new_head, "test").completed("success");
        }
    }
    ci_runs
}

/// The first in line loses its label (then another closes): it leaves the
/// line, and the next one is updated at once — no event needed from it.
#[tokio::test]
async fn leaving_the_line_lets_the_next_go_first() {
    let gh = FakeGitHub::start().await;
    let repo = strict_repo(&gh, 4, "merge:\n  update_branch: true\n");
    let app = Seamguard::start(&gh).await;
    label_in_order(&gh, &repo, &app, 4).await;
    // #1 merged; #2 is being updated; #3 and #4 wait.
    let h3 = repo.pull(3).head_sha;
    repo.remove_label(2, "automerge");
    gh.deliver(&repo.pull_request_event("unlabeled", 2), &app.webhook())
        .await;
    gh.wait_for(
        "#3 to be updated once #2 left",
        move |w| w.repo("acme/app").pulls[&3].head_sha != h3,
        support::flows::WAIT,
    )
    .await;
    let h4 = repo.pull(4).head_sha;
    repo.close_pr(3);
    gh.deliver(&repo.pull_request_event("closed", 3), &app.webhook())
        .await;
    gh.wait_for(
        "#4 to be updated once #3 closed",
        move |w| w.repo("acme/app").pulls[&4].head_sha != h4,
        support::flows::WAIT,
    )
    .await;
    app.stop().await;
    let f = gh.with_world(|w| figures(w));
    println!(
        "merged {:?}, update-branch calls {}",
        f.merged, f.update_calls
    );
    assert_eq!(f.merged, vec![1]);
    assert_eq!(f.update_calls, 3, "#2, then #3, then #4: one each");
}
