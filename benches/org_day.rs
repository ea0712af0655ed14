//! An organization's day, replayed (issue 18): the real `seamguard` binary
//! against the tests' fake GitHub, which enforces GitHub's primary and
//! secondary rate limits per installation on a clock running the scale's
//! `speed` times faster than real time (seamguard is told the same speed with
//! `GITHUB_RATE_LIMITS=speed=…`, so budgets refill as they would).
//!
//! `cargo bench --bench org_day` (`-- --quick` for a small day; `-- --fits`
//! for a day that fits GitHub's hourly write budget, governor on only, to
//! measure the time from the last check to the merge when the budget
//! allows it; `-- --org` for an organization's working day, 200
//! repositories and 2,000 pull requests on an installation allowed 12,500
//! requests an hour, where GitHub's 500 writes an hour bind). `--baseline
//! PATH` runs the same day first with another build of `seamguard` (today's
//! policy, say), side by side in one invocation. Never part of `cargo
//! test`.
//!
//! The day, generated from a fixed seed: `repos` repositories of one
//! installation, each requiring 3–8 checks by a ruleset; 30 % of them opt
//! in to merging (config on the base, label on the pull requests). Pull
//! requests arrive in bursts (an agent opening 25 within a simulated
//! minute) and one by one in between. Every check of a pull request
//! registers late (30 s–3 min after the push) and completes minutes later
//! (1–10 min); a fifth of the pull requests get a second push, whose checks
//! run again. Each change is a signed delivery to seamguard, as GitHub
//! sends it: `pull_request` `opened` / `synchronize`, `check_run` `created`
//! / `completed`.
//!
//! The same day runs twice in one invocation, governor on and off, each on
//! a fresh fake and a fresh store, and the bench prints for each:
//! deliveries, evaluations, merges; GitHub requests in total, per
//! evaluation and per merged pull request (p50, p99); secondary-limit
//! answers; the primary budget's peak use as a share of the window's limit;
//! the time from the last required check's delivery to the merge call
//! (p50, p99, in replay time); seamguard's CPU time and peak RSS; the store
//! size at the end.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::binary::{self, Process};
use support::limits::RateLimits;
use support::{FakeGitHub, SeenAuth, Sha};

/// An agent's burst: this many pull requests within a simulated minute.
const BURST: usize = 25;

/// Share of pull requests opened in bursts (the rest one by one).
const BURST_SHARE: f64 = 0.6;

/// Share of repositories opted in to merging.
const OPTED_IN: f64 = 0.3;

/// Share of pull requests that get a second push.
const PUSHED: f64 = 0.2;

/// After the last event, how long (real time) the run may take to settle.
const SETTLE: Duration = Duration::from_secs(90);

struct Scale {
    repos: usize,
    prs: usize,
    /// The simulated span over which pull requests open.
    minutes: u64,
    /// The replay's clock against real time (60: a simulated minute is a
    /// second).
    speed: f64,
    /// Which runs: governor on, off.
    governors: &'static [bool],
    /// The installation's primary limit, requests an hour (GitHub gives an
    /// installation 5,000, and 50 more per repository past 20, up to
    /// 12,500).
    primary: u64,
}

const FULL: Scale = Scale {
    repos: 50,
    prs: 400,
    minutes: 120,
    speed: 60.0,
    governors: &[true, false],
    primary: 5000,
};

const QUICK: Scale = Scale {
    repos: 10,
    prs: 60,
    minutes: 20,
    speed: 60.0,
    governors: &[true, false],
    primary: 5000,
};

/// A day GitHub's budget allows: about 35 pull requests an hour, so some
/// 300 content-creating requests in the busiest hour against 500, on a
/// slower clock so that a second of replay time is measurable.
const FITS: Scale = Scale {
    repos: 30,
    prs: 140,
    minutes: 240,
    speed: 30.0,
    governors: &[true],
    primary: 5000,
};

/// An organization's working day: 200 repositories, 2,000 pull requests
/// over ten hours (about 500 content-creating requests an hour are needed
/// in the busy ones: GitHub's hourly 500 binds), on an installation of
/// 12,500 requests an hour, at 120x.
const ORG: Scale = Scale {
    repos: 200,
    prs: 2000,
    minutes: 600,
    speed: 120.0,
    governors: &[true],
    primary: 12_500,
};

/// A small deterministic generator (xorshift64*): the same day every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

#[derive(Clone)]
struct RepoPlan {
    name: String,
    checks: usize,
    opted: bool,
}

#[derive(Clone)]
struct PrPlan {
    repo: usize,
    number: u64,
}

#[derive(Clone, Copy, Debug)]
enum Act {
    Open,
    /// The second push.
    Push,
    /// Check `check` of head generation `generation` registers.
    Register {
        generation: usize,
        check: usize,
    },
    Complete {
        generation: usize,
        check: usize,
    },
}

#[derive(Clone, Copy)]
struct Event {
    /// Simulated milliseconds from the start.
    at: u64,
    pr: usize,
    act: Act,
}

struct Day {
    repos: Vec<RepoPlan>,
    prs: Vec<PrPlan>,
    events: Vec<Event>,
}

fn plan(scale: &Scale) -> Day {
    let mut rng = Rng(0x5EA9_0A7D_u64);
    let repos: Vec<RepoPlan> = (0..scale.repos)
        .map(|i| RepoPlan {
            name: format!("acme/r{i:03}"),
            checks: rng.range(3, 8) as usize,
            opted: rng.unit() < OPTED_IN,
        })
        .collect();
    let span = scale.minutes * 60_000;
    let mut numbers = vec![0u64; repos.len()];
    let mut prs = Vec::new();
    let mut events = Vec::new();
    let bursts = ((scale.prs as f64 * BURST_SHARE) as usize).div_ceil(BURST);
    let mut burst_starts: Vec<u64> = (0..bursts).map(|_| rng.range(0, span * 3 / 4)).collect();
    burst_starts.sort_unstable();
    for i in 0..scale.prs {
        let opened = if i < bursts * BURST && i / BURST < burst_starts.len() {
            burst_starts[i / BURST] + rng.range(0, 60_000)
        } else {
            rng.range(0, span)
        };
        let repo = (rng.next() % repos.len() as u64) as usize;
        numbers[repo] += 1;
        let pr = prs.len();
        prs.push(PrPlan {
            repo,
            number: numbers[repo],
        });
        events.push(Event {
            at: opened,
            pr,
            act: Act::Open,
        });
        let mut heads = vec![opened];
        if rng.unit() < PUSHED {
            let pushed = opened + rng.range(120_000, 1_200_000);
            events.push(Event {
                at: pushed,
                pr,
                act: Act::Push,
            });
            heads.push(pushed);
        }
        for (generation, pushed) in heads.iter().enumerate() {
            let next = heads.get(generation + 1).copied().unwrap_or(u64::MAX);
            for check in 0..repos[repo].checks {
                let registered = pushed + rng.range(30_000, 180_000);
                let completed = registered + rng.range(60_000, 600_000);
                // Checks of a head that was replaced are cut short.
                if registered < next {
                    events.push(Event {
                        at: registered,
                        pr,
                        act: Act::Register { generation, check },
                    });
                }
                if completed < next {
                    events.push(Event {
                        at: completed,
                        pr,
                        act: Act::Complete { generation, check },
                    });
                }
            }
        }
    }
    events.sort_by_key(|e| e.at);
    Day { repos, prs, events }
}

/// One run's figures.
#[derive(Default)]
struct Report {
    deliveries: usize,
    evaluations: f64,
    merges: usize,
    opted_ready: usize,
    requests: usize,
    per_merged: Vec<usize>,
    secondary: u64,
    primary_share: f64,
    last_check_to_merge: Vec<Duration>,
    /// From the last check's delivery to the first merge request GitHub
    /// took.
    last_check_to_call: Vec<Duration>,
    cpu: Duration,
    peak_rss_kib: u64,
    store_bytes: u64,
    deferred: f64,
    skipped_updates: f64,
    /// Content-creating requests in the busiest simulated hour.
    peak_writes_hour: usize,
    prs: usize,
    /// Head commits the day pushed (a pull request's first, and its second
    /// push's).
    heads: usize,
    /// Content-creating requests attributed to a pull request.
    writes_attributed: usize,
    replay: Duration,
}

fn check_name(i: usize) -> String {
    format!("ci-{i}")
}

fn proc_cpu_and_rss(pid: u32) -> (Duration, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (in parentheses): utime is 14th, stime 15th.
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Linux reports in clock ticks of 1/100 s (USER_HZ).
    let cpu = Duration::from_millis((ticks(11) + ticks(12)) * 10);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (cpu, rss)
}

fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn percentile<T: Copy + Ord>(v: &[T], p: f64) -> Option<T> {
    let mut v = v.to_vec();
    v.sort_unstable();
    if v.is_empty() {
        return None;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    Some(v[i])
}

/// One way to run the day: which build of `seamguard`, governor on or off.
struct Policy {
    name: String,
    governor: bool,
    /// Another build of `seamguard` (`--baseline`); this one's when `None`.
    program: Option<std::path::PathBuf>,
}

async fn run(day: &Day, policy: &Policy, scale: &Scale) -> anyhow::Result<Report> {
    let (governor, speed) = (policy.governor, scale.speed);
    let gh = FakeGitHub::start().await;
    let mut repos = Vec::new();
    for plan in &day.repos {
        let repo = gh.repo(&plan.name);
        if plan.opted {
            repo.push(
                "main",
                "config",
                &[(
                    ".github/seamguard.yml",
                    Some("merge:\n  mode: label\n  method: squash\n"),
                )],
            );
        }
        let checks: Vec<String> = (0..plan.checks).map(check_name).collect();
        let checks: Vec<&str> = checks.iter().map(String::as_str).collect();
        repo.ruleset(1).on("~DEFAULT_BRANCH").requires(&checks);
        repos.push(repo);
    }
    gh.enforce_rate_limits(RateLimits {
        speed,
        primary: scale.primary,
        ..RateLimits::default()
    });
    let dir = tempfile::tempdir()?;
    let mut env = binary::env(&gh, dir.path());
    let scaled =
        |real: Duration| format!("{}ms", (real.as_secs_f64() * 1000.0 / speed).ceil() as u64);
    for (k, v) in &mut env {
        match k.as_str() {
            "RUST_LOG" => *v = "info".to_owned(),
            "GITHUB_RETRY_BASE" => *v = scaled(Duration::from_secs(1)),
            "MERGE_RETRY_BASE" => *v = scaled(Duration::from_secs(15)),
            _ => {}
        }
    }
    env.push(("GITHUB_RATE_LIMITS".into(), format!("speed={speed}")));
    env.push((
        "GITHUB_GOVERNOR".into(),
        if governor { "on" } else { "off" }.into(),
    ));
    let process = match &policy.program {
        Some(program) => Process::spawn_program(program, &env, |_| {}),
        None => Process::spawn(&env),
    };
    let url = process.webhook();
    let http = reqwest::Client::new();

    let mut report = Report::default();
    let mut heads: HashMap<usize, Vec<Sha>> = HashMap::new();
    let mut runs: HashMap<(usize, usize, usize), u64> = HashMap::new();
    let mut last_check: HashMap<usize, Instant> = HashMap::new();
    let mut last_check_at: HashMap<usize, chrono::DateTime<chrono::Utc>> = HashMap::new();
    let started = Instant::now();
    for event in &day.events {
        let due = started + Duration::from_secs_f64(event.at as f64 / 1000.0 / speed);
        tokio::time::sleep_until(due.into()).await;
        let pr = &day.prs[event.pr];
        let plan = &day.repos[pr.repo];
        let repo = &repos[pr.repo];
        let branch = format!("pr-{}", pr.number);
        let delivery = match event.act {
            Act::Open => {
                let base = repo.branch_tip("main");
                let head = repo.commit(&[&base], "work", &[(branch.as_str(), Some("x\n"))]);
                repo.branch(&branch, &head);
                let mut builder = repo.pr(pr.number).head(&branch).base("main");
                if plan.opted {
                    builder = builder.label("automerge");
                }
                builder.open();
                heads.entry(event.pr).or_default().push(head);
                repo.pull_request_event("opened", pr.number)
            }
            Act::Push => {
                let old = heads[&event.pr].last().cloned().expect("opened first");
                let head = repo.commit(&[&old], "more work", &[(branch.as_str(), Some("y\n"))]);
                repo.branch(&branch, &head);
                heads.entry(event.pr).or_default().push(head);
                repo.pull_request_event("synchronize", pr.number)
            }
            Act::Register { generation, check } => {
                let head = heads[&event.pr][generation].clone();
                let run = repo.check_run(&head, &check_name(check)).in_progress();
                let id = run.id().0;
                runs.insert((event.pr, generation, check), id);
                repo.check_run_event("created", id)
            }
            Act::Complete { generation, check } => {
                let Some(&id) = runs.get(&(event.pr, generation, check)) else {
                    continue;
                };
                let name = plan.name.clone();
                gh.with_world(|w| {
                    if let Some(run) = w.repo_mut(&name).check_runs.iter_mut().find(|r| r.id == id)
                    {
                        run.status = "completed".to_owned();
                        run.conclusion = Some("success".to_owned());
                        run.completed_at = Some(chrono::Utc::now());
                    }
                });
                repo.check_run_event("completed", id)
            }
        };
        let status = delivery.send(&url, support::WEBHOOK_SECRET).await.status();
        anyhow::ensure!(status.as_u16() == 202, "delivery answered {status}");
        report.deliveries += 1;
        if let Act::Complete { generation, .. } = event.act
            && generation + 1 == heads[&event.pr].len()
        {
            last_check.insert(event.pr, Instant::now());
            last_check_at.insert(event.pr, chrono::Utc::now());
        }
    }
    report.replay = started.elapsed();

    // Settle: every opted-in pull request whose checks all completed on its
    // last head is merged, and the queue is empty — or time runs out.
    let ready: Vec<usize> = (0..day.prs.len())
        .filter(|&i| {
            let pr = &day.prs[i];
            let plan = &day.repos[pr.repo];
            let generation = heads.get(&i).map_or(0, |h| h.len()) - 1;
            plan.opted
                && (0..plan.checks).all(|c| {
                    day.events.iter().any(|e| {
                        e.pr == i
                            && matches!(e.act, Act::Complete { generation: g, check } if g == generation && check == c)
                    })
                })
        })
        .collect();
    report.opted_ready = ready.len();
    let deadline = Instant::now() + SETTLE;
    loop {
        let metrics = http
            .get(process.url("/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let depth = metric_sum(&metrics, "seamguard_queue_depth");
        let merged = gh.with_world(|w| {
            ready
                .iter()
                .filter(|&&i| {
                    let pr = &day.prs[i];
                    support::flows::merged(w, &day.repos[pr.repo].name, pr.number)
                })
                .count()
        });
        if (depth == 0.0 && merged == ready.len()) || Instant::now() > deadline {
            report.evaluations = metric_sum(&metrics, "seamguard_evaluations_total");
            report.deferred = metric_sum(&metrics, "seamguard_github_requests_deferred_total");
            report.skipped_updates =
                metric_sum(&metrics, "seamguard_check_run_updates_skipped_total");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (cpu, rss) = proc_cpu_and_rss(process.child.id());
    report.cpu = cpu;
    report.peak_rss_kib = rss;

    // Attribute requests to pull requests: by number in the path, by a head
    // SHA in the path or body, by the check run they write.
    let world = gh.world();
    let mut sha_owner: HashMap<String, usize> = HashMap::new();
    for (i, hs) in &heads {
        for h in hs {
            sha_owner.insert(h.to_string(), *i);
        }
    }
    let mut run_owner: HashMap<u64, usize> = HashMap::new();
    for run in world.check_runs_named("seamguard") {
        if let Some(&i) = sha_owner.get(&run.head_sha.to_string()) {
            run_owner.insert(run.id, i);
        }
    }
    let by_path: HashMap<(String, u64), usize> = day
        .prs
        .iter()
        .enumerate()
        .map(|(i, p)| ((day.repos[p.repo].name.clone(), p.number), i))
        .collect();
    let mut per_pr: HashMap<usize, usize> = HashMap::new();
    let mut writes_per_pr: HashMap<usize, usize> = HashMap::new();
    // The first merge request GitHub took for each pull request.
    let mut merge_called: HashMap<usize, Instant> = HashMap::new();
    // When GitHub (the fake) says each pull request merged, however it was
    // asked (`merge-async` or `PUT …/merge`).
    let merge_at: HashMap<usize, chrono::DateTime<chrono::Utc>> = (0..day.prs.len())
        .filter_map(|i| {
            let pr = &day.prs[i];
            let at = world
                .repo(&day.repos[pr.repo].name)
                .pulls
                .get(&pr.number)?
                .merged_at?;
            Some((i, at))
        })
        .collect();
    for r in world
        .requests
        .iter()
        .filter(|r| matches!(r.auth, SeenAuth::Installation(_)))
    {
        report.requests += 1;
        let parts: Vec<&str> = r.path.split('/').collect();
        let repo = (parts.len() > 3).then(|| format!("{}/{}", parts[2], parts[3]));
        let mut owner = None;
        if let (Some(repo), Some(pos)) = (&repo, parts.iter().position(|p| *p == "pulls"))
            && let Some(n) = parts.get(pos + 1).and_then(|n| n.parse::<u64>().ok())
        {
            owner = by_path.get(&(repo.clone(), n)).copied();
        }
        if owner.is_none() {
            owner = parts
                .iter()
                .flat_map(|p| p.split("..."))
                .find_map(|p| sha_owner.get(p).copied());
        }
        if owner.is_none()
            && let Some(body) = &r.body
        {
            owner = body["head_sha"]
                .as_str()
                .and_then(|s| sha_owner.get(s).copied());
        }
        if owner.is_none()
            && let Some(pos) = parts.iter().position(|p| *p == "check-runs")
        {
            owner = parts
                .get(pos + 1)
                .and_then(|id| id.parse::<u64>().ok())
                .and_then(|id| run_owner.get(&id).copied());
        }
        if let Some(i) = owner
            && r.method == "PUT"
            && (r.path.ends_with("/merge") || r.path.ends_with("/merge-async"))
            && r.status < 300
        {
            merge_called.entry(i).or_insert(r.at);
        }
        if let Some(i) = owner {
            *per_pr.entry(i).or_default() += 1;
            if matches!(r.method.as_str(), "POST" | "PATCH" | "PUT" | "DELETE") {
                *writes_per_pr.entry(i).or_default() += 1;
            }
        }
    }
    let mut writes: Vec<Instant> = world
        .requests
        .iter()
        .filter(|r| matches!(r.auth, SeenAuth::Installation(_)))
        .filter(|r| matches!(r.method.as_str(), "POST" | "PATCH" | "PUT" | "DELETE"))
        .filter(|r| r.path != "/graphql")
        .map(|r| r.at)
        .collect();
    writes.sort_unstable();
    let hour = Duration::from_secs_f64(3600.0 / speed);
    let mut first = 0;
    for (i, at) in writes.iter().enumerate() {
        while at.saturating_duration_since(writes[first]) >= hour {
            first += 1;
        }
        report.peak_writes_hour = report.peak_writes_hour.max(i + 1 - first);
    }
    report.merges = merge_at.len();
    report.prs = day.prs.len();
    report.heads = heads.values().map(Vec::len).sum();
    report.writes_attributed = writes_per_pr.values().sum();
    let since_last_check = |i: &usize, at: &chrono::DateTime<chrono::Utc>| {
        (*at - *last_check_at.get(i)?).to_std().ok()
    };
    let slowest = merge_at
        .iter()
        .filter_map(|(i, at)| Some((since_last_check(i, at)?, *i)))
        .max();
    if let Some((wait, i)) = slowest {
        let pr = &day.prs[i];
        eprintln!(
            "  slowest merge: {}#{} {:.0} s of replay time after its last check; its requests:",
            day.repos[pr.repo].name,
            pr.number,
            wait.as_secs_f64() * speed
        );
        let last = last_check[&i];
        for r in world
            .requests
            .iter()
            .filter(|r| {
                r.path.contains(&format!("/{}/", day.repos[pr.repo].name))
                    && r.at + Duration::from_secs(1) >= last
            })
            .take(30)
        {
            eprintln!(
                "    +{:>8.1} s {} {} -> {}",
                r.at.saturating_duration_since(last).as_secs_f64() * speed,
                r.method,
                r.path,
                r.status
            );
        }
    }
    for (i, at) in &merge_called {
        if let Some(last) = last_check.get(i) {
            report
                .last_check_to_call
                .push(at.saturating_duration_since(*last));
        }
    }
    for (i, at) in &merge_at {
        report.per_merged.push(per_pr.get(i).copied().unwrap_or(0));
        if let Some(wait) = since_last_check(i, at) {
            report.last_check_to_merge.push(wait);
        }
    }
    if let Some(limits) = &world.limits {
        report.secondary = limits.secondary_answers;
        report.primary_share = limits.peak_used as f64 / limits.limits.primary as f64;
    }
    drop(world);
    report.store_bytes = std::fs::read_dir(dir.path())?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("seamguard.db"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    // What went wrong, if anything: the commonest warnings and errors.
    let log = process.log();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut deferrals: HashMap<String, usize> = HashMap::new();
    for line in log.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if matches!(v["level"].as_str(), Some("WARN" | "ERROR")) {
            let message = v["message"].as_str().unwrap_or_default().to_owned();
            *seen.entry(message).or_default() += 1;
        }
        if v["message"].as_str() == Some("GitHub budget spent; deferring") {
            let why = format!(
                "{} at {}",
                v["limit"].as_str().unwrap_or("?"),
                v["priority"].as_str().unwrap_or("?")
            );
            *deferrals.entry(why).or_default() += 1;
        }
    }
    let mut deferrals: Vec<_> = deferrals.into_iter().collect();
    deferrals.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    for (why, n) in &deferrals {
        eprintln!("  deferred: {n} × {why}");
    }
    let mut seen: Vec<_> = seen.into_iter().collect();
    seen.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    for (message, n) in seen.iter().take(6) {
        eprintln!("  {}: {n} × {message}", policy.name);
    }
    drop(process);
    Ok(report)
}

fn main() -> anyhow::Result<()> {
    let flag = |name: &str| std::env::args().any(|a| a == name);
    let scale = if flag("--org") {
        &ORG
    } else if flag("--fits") {
        &FITS
    } else if flag("--quick") {
        &QUICK
    } else {
        &FULL
    };
    let speed = scale.speed;
    let day = plan(scale);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "org_day: {} repositories, {} pull requests, {} events over {} simulated minutes at {speed}x",
        scale.repos,
        scale.prs,
        day.events.len(),
        scale.minutes
    );
    let args: Vec<String> = std::env::args().collect();
    let baseline = args
        .iter()
        .position(|a| a == "--baseline")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from);
    let mut policies: Vec<Policy> = Vec::new();
    if let Some(program) = baseline {
        anyhow::ensure!(
            program.exists(),
            "--baseline {}: no such file",
            program.display()
        );
        policies.push(Policy {
            name: format!("baseline ({})", program.display()),
            governor: true,
            program: Some(program),
        });
    }
    for &governor in scale.governors {
        policies.push(Policy {
            name: if governor {
                "governor on"
            } else {
                "governor off"
            }
            .to_owned(),
            governor,
            program: None,
        });
    }
    let mut reports = Vec::new();
    for policy in &policies {
        eprintln!("running: {}", policy.name);
        let report = rt.block_on(run(&day, policy, scale))?;
        reports.push((policy.name.as_str(), report));
    }
    let replay = |d: Duration| format!("{:.2} s", d.as_secs_f64() * speed);
    println!();
    let names: Vec<&str> = reports.iter().map(|(name, _)| *name).collect();
    println!("| | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    let row = |name: &str, f: &dyn Fn(&Report) -> String| {
        let cells: Vec<String> = reports.iter().map(|(_, r)| f(r)).collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    row("deliveries", &|r| r.deliveries.to_string());
    row("evaluations", &|r| format!("{:.0}", r.evaluations));
    row("evaluations per pull request / per head", &|r| {
        format!(
            "{:.2} / {:.2}",
            r.evaluations / r.prs.max(1) as f64,
            r.evaluations / r.heads.max(1) as f64
        )
    });
    row("content-creating requests per pull request", &|r| {
        format!("{:.2}", r.writes_attributed as f64 / r.prs.max(1) as f64)
    });
    row("merges (opted-in PRs ready)", &|r| {
        format!("{} ({})", r.merges, r.opted_ready)
    });
    row("GitHub requests (installation)", &|r| {
        r.requests.to_string()
    });
    row("requests per evaluation", &|r| {
        format!("{:.1}", r.requests as f64 / r.evaluations.max(1.0))
    });
    row("requests per merged PR p50 / p99", &|r| {
        format!(
            "{} / {}",
            percentile(&r.per_merged, 0.5).unwrap_or(0),
            percentile(&r.per_merged, 0.99).unwrap_or(0)
        )
    });
    row("secondary-limit answers", &|r| r.secondary.to_string());
    row("work deferred by the governor", &|r| {
        format!("{:.0}", r.deferred)
    });
    row("content-creating requests, busiest simulated hour", &|r| {
        r.peak_writes_hour.to_string()
    });
    row("progress-only check-run updates left for later", &|r| {
        format!("{:.0}", r.skipped_updates)
    });
    row("primary budget, peak share of a window", &|r| {
        format!("{:.1} %", r.primary_share * 100.0)
    });
    row(
        "last check → merge call p50 / p99 / max (replay time)",
        &|r| match (
            percentile(&r.last_check_to_call, 0.5),
            percentile(&r.last_check_to_call, 0.99),
            percentile(&r.last_check_to_call, 1.0),
        ) {
            (Some(a), Some(b), Some(c)) => {
                format!("{} / {} / {}", replay(a), replay(b), replay(c))
            }
            _ => "–".to_owned(),
        },
    );
    row(
        "last check → merged p50 / p99 / max (replay time)",
        &|r| match (
            percentile(&r.last_check_to_merge, 0.5),
            percentile(&r.last_check_to_merge, 0.99),
            percentile(&r.last_check_to_merge, 1.0),
        ) {
            (Some(a), Some(b), Some(c)) => format!("{} / {} / {}", replay(a), replay(b), replay(c)),
            _ => "–".to_owned(),
        },
    );
    row("seamguard CPU time", &|r| {
        format!("{:.1} s", r.cpu.as_secs_f64())
    });
    row("seamguard peak RSS", &|r| {
        format!("{:.1} MiB", r.peak_rss_kib as f64 / 1024.0)
    });
    row("store size at the end", &|r| {
        format!("{:.1} MiB", r.store_bytes as f64 / 1_048_576.0)
    });
    row("replay wall time", &|r| {
        format!("{:.1} s", r.replay.as_secs_f64())
    });
    Ok(())
}
