//! Gather: the only place an evaluation reads GitHub and the store, and
//! where GitHub's answers become the rules' types
//! ([`Snapshot`](crate::gate::evaluation::Snapshot)).
//!
//! The order of reads is chosen for economy and for what users see: the
//! pull request and the head's check runs are read by the caller (they hold
//! seamguard's own run, so it is reused rather than duplicated); then the
//! comparison with the base (commits for the merge-source guard, files with
//! patches for the marker guard, and the base tip the config is read at);
//! the config; the guards; who stands behind the head; the requirements
//! (protection and rulesets; see [`requirements_cache`]); commit statuses
//! only when a required context has no check run; the base's history only
//! when a required check never reported on the head.
//!
//! Acting takes requirements read in the same evaluation, never ones read a
//! while ago: [`Engine::read_again`] reads them afresh when a decision made
//! on remembered ones would act.

use chrono::Utc;

use super::check_run::CheckRunHandle;
use super::gate_facts;
use super::guards;
use super::requirements_cache;
use super::subject::Subject;
use super::{Engine, EvalError};
use crate::config::repo::RepoConfig;
use crate::gate::decision::{AllowedMethods, PrFacts};
use crate::gate::evaluation::{self, Snapshot};
use crate::gate::never_comes;
use crate::gate::opt_in::HeadFacts;
use crate::gate::required_checks::{self, GateStatus, Requirements, Unreadable};
use crate::gate::row_since::{PriorRow, RowKey};
use crate::gate::stack::{Member, Readiness, StackFacts, Verdict};
use crate::gate::whole_gate::{self, Mergeable, WholeGateRules};
use crate::github::GhError;
use crate::github::models::{Annotation, CheckRun, PullRequest, PullStack};
use crate::ids::{CommitSha, PrNumber};
use crate::web::snapshot::PageSnapshot;

/// The waits before each re-read of a pull request whose mergeability
/// GitHub is still computing (1.4 s in all); past them the decision waits
/// and evaluates again ([`evaluation::MERGEABILITY_RECHECK`]).
const MERGEABILITY_REREADS: [std::time::Duration; 3] = [
    std::time::Duration::from_millis(200),
    std::time::Duration::from_millis(400),
    std::time::Duration::from_millis(800),
];

/// What the whole gate's query reads, as a source that could not be read.
const PULL_GATE_SOURCE: &str = "the pull request's reviews, conversations, signatures and \
                                mergeability";

/// Base histories kept (one per repository and base SHA in play); the
/// cache starts over past this.
const MAX_BASE_HISTORIES: usize = 1_024;

/// What gathering found.
pub(crate) enum Gathered {
    /// Everything the decision needs, with the marker guard's annotations
    /// (written with the run, not decided on).
    Snapshot {
        snapshot: Box<Snapshot>,
        annotations: Vec<Annotation>,
        /// The requirements were read from GitHub in this evaluation.
        read_now: bool,
    },
    /// The config on the base branch is invalid: nothing else is read.
    InvalidConfig { problems: Vec<String> },
}

fn pr_facts(pr: &PullRequest, vouch: HeadFacts) -> PrFacts {
    PrFacts {
        vouch,
        open: pr.is_open(),
        merged: pr.is_merged(),
        draft: pr.is_draft(),
        labels: pr.label_names(),
        mergeable_state: pr.mergeable_state.clone(),
        allowed: pr
            .base
            .repo
            .as_ref()
            .map(|r| AllowedMethods {
                merge: r.allow_merge_commit,
                squash: r.allow_squash_merge,
                rebase: r.allow_rebase_merge,
            })
            .unwrap_or_default(),
    }
}

impl Engine {
    /// Reads everything the decision about `s.head` needs. `run` is held at
    /// the guards' conclusion as soon as they are known, so a read that
    /// fails after them never weakens what they found; `config_seen` keeps
    /// the config for the fail-safe's policy.
    pub(crate) async fn gather(
        &self,
        s: &Subject<'_>,
        runs: &[CheckRun],
        run: &mut CheckRunHandle<'_>,
        config_seen: &mut Option<RepoConfig>,
    ) -> Result<Gathered, EvalError> {
        // The pull request's own commits are those of its base...head; for a
        // stacked one that base is its parent's branch (its own line), while
        // the config, the requirements and the history that counts as the
        // base's are those of where the whole stack lands.
        let base = s.pr.base.branch.clone();
        let comparison = s
            .client
            .compare_all(&s.work.repo, &base, s.head.as_str())
            .await?;
        let base_tip: CommitSha = comparison
            .base_commit
            .sha
            .parse()
            .map_err(|e| EvalError::Internal(anyhow::anyhow!("compare base: {e}")))?;
        let (landing, landing_tip) = self.landing(s, &base, &base_tip).await?;
        let config = match self
            .configs
            .load(s.client, &s.work.repo, &landing_tip)
            .await?
        {
            Ok(config) => config,
            Err(problems) => return Ok(Gathered::InvalidConfig { problems }),
        };
        *config_seen = Some(config.clone());

        let conflicts = guards::conflict_markers(
            s.client,
            &s.work.repo,
            Some(s.number),
            s.head,
            &comparison,
            &config,
        )
        .await?;
        let sources = guards::merge_sources(
            s.client,
            &s.work.repo,
            &guards::Bases {
                own: &base,
                own_tip: &base_tip,
                landing: (landing != base).then_some(landing.as_str()),
            },
            s.head,
            &comparison,
            &config,
        )
        .await?;
        let guards = vec![conflicts.outcome, sources];
        run.hold(evaluation::floor(&guards, config.mode));

        let vouch = self
            .vouch(s.client, &s.work.repo, s.number, s.pr, s.head, &config)
            .await?;
        let merge_attempts = self
            .store
            .merge_attempts(&s.work.repo, s.number, s.head)
            .await?;
        // An attempt whose request GitHub still holds (an asynchronous
        // merge, pending) is not spent until its outcome is read: the
        // evaluation goes on to read it (act sends nothing more once the
        // attempts are spent).
        let held = self
            .store
            .meta(&super::merger::pending_key(&s.work.repo, s.number, s.head))
            .await?
            .is_some_and(|v| !v.trim().is_empty());
        let merge_attempts = if held {
            merge_attempts.saturating_sub(1)
        } else {
            merge_attempts
        };
        let first_seen = self
            .store
            .first_seen(&s.work.repo, s.head, Utc::now())
            .await?;
        let (requirements, rules, read_now) =
            self.requirements(s, &landing, &config, false).await?;
        let stack = match &s.pr.stack {
            Some(stack) => Some(self.stack_facts(s, stack).await?),
            None => None,
        };
        let mut snapshot = Snapshot {
            number: s.number,
            head: s.head.clone(),
            base: landing,
            base_tip: landing_tip,
            pr: pr_facts(s.pr, vouch),
            config,
            guards,
            requirements,
            rules,
            pr_gate: None,
            authorship: None,
            runs: runs.iter().map(gate_facts::run_seen).collect(),
            app_id: self.cfg.app_id.0,
            statuses: None,
            first_seen,
            now: Utc::now(),
            merge_attempts,
            base_history: None,
            prior_rows: Vec::new(),
            stack,
        };
        self.complete_reads(s, &mut snapshot).await?;
        Ok(Gathered::Snapshot {
            snapshot: Box::new(snapshot),
            annotations: conflicts.annotations,
            read_now,
        })
    }

    /// Where the pull request lands, and that branch's tip: its base, or
    /// for a stacked pull request the stack's base (its tip as the pull
    /// request said it, else read with a one-page comparison).
    async fn landing(
        &self,
        s: &Subject<'_>,
        base: &str,
        base_tip: &CommitSha,
    ) -> Result<(String, CommitSha), EvalError> {
        let Some(landing) = s.pr.stack.as_ref().and_then(|st| st.base.as_ref()) else {
            return Ok((base.to_owned(), base_tip.clone()));
        };
        if landing.branch == base {
            return Ok((base.to_owned(), base_tip.clone()));
        }
        let tip = match landing.sha.as_deref().and_then(|t| t.parse().ok()) {
            Some(tip) => tip,
            None => s
                .client
                .compare(&s.work.repo, &landing.branch, s.head.as_str(), 1)
                .await?
                .base_commit
                .sha
                .parse()
                .map_err(|e| EvalError::Internal(anyhow::anyhow!("stack base: {e}")))?,
        };
        Ok((landing.branch.clone(), tip))
    }

    /// The stack a pull request is in: its members bottom first, each with
    /// seamguard's verdict on its current head. The verdicts come from the
    /// store (each pull request's last evaluation keeps its own readiness),
    /// not from the check runs on GitHub: a check run's conclusion reports
    /// the guards only, while a stack waits on the gate too, and the store
    /// answers without spending GitHub's budget. A verdict recorded on
    /// another head than the one GitHub lists is no verdict.
    async fn stack_facts(
        &self,
        s: &Subject<'_>,
        stack: &PullStack,
    ) -> Result<StackFacts, EvalError> {
        // Kept on another head, it is no verdict on this one: the others
        // (which read verdicts per head) must hear of this one again.
        let before = self
            .store
            .evaluations(&s.work.repo, s.number, 1)
            .await?
            .first()
            .filter(|e| &e.head == s.head)
            .and_then(|e| own_readiness(&e.snapshot));
        let Some(number) = stack.number else {
            return Ok(StackFacts {
                position: None,
                members: Vec::new(),
                before,
            });
        };
        let answer = s.client.stack(&s.work.repo, number).await?;
        let mut members = Vec::with_capacity(answer.pull_requests.len());
        for m in &answer.pull_requests {
            let open = m.state != "closed" && m.merged_at.is_none();
            let verdict = if m.number == s.number.0 {
                Verdict::This
            } else if !open {
                Verdict::Unknown
            } else {
                let last = self
                    .store
                    .evaluations(&s.work.repo, PrNumber(m.number), 1)
                    .await?;
                match last.first() {
                    Some(e) if e.head.as_str() == m.head.sha => {
                        Verdict::Judged(own_readiness(&e.snapshot).unwrap_or(Readiness {
                            ready: false,
                            opted_in: false,
                            why: e.reason.clone(),
                        }))
                    }
                    _ => Verdict::Unknown,
                }
            };
            members.push(Member {
                number: PrNumber(m.number),
                title: m.title.clone(),
                open,
                merged: m.merged_at.is_some(),
                verdict,
            });
        }
        // Its place in the list GitHub answered (bottom first).
        let position = members
            .iter()
            .position(|m| m.verdict == Verdict::This)
            .map(|i| i + 1);
        Ok(StackFacts {
            position,
            members,
            before,
        })
    }

    /// The requirements read again from GitHub, with what they make worth
    /// reading (statuses, the base's history) read if it was not yet.
    pub(crate) async fn read_again(
        &self,
        s: &Subject<'_>,
        snapshot: &mut Snapshot,
    ) -> Result<(), EvalError> {
        let (requirements, rules, _) = self
            .requirements(s, &snapshot.base.clone(), &snapshot.config, true)
            .await?;
        snapshot.requirements = requirements;
        snapshot.rules = rules;
        // What the pull request stands at is read again too: acting rests
        // on it as read now, and what of it could not be read is said again.
        snapshot.pr_gate = None;
        snapshot.now = Utc::now();
        self.complete_reads(s, snapshot).await
    }

    /// Statuses when some required context has no check run, and the
    /// base's history when some required check never reported; each read
    /// at most once per evaluation.
    async fn complete_reads(
        &self,
        s: &Subject<'_>,
        snapshot: &mut Snapshot,
    ) -> Result<(), EvalError> {
        if snapshot.statuses.is_none() && snapshot.needs_statuses() {
            let statuses = s.client.statuses(&s.work.repo, s.head).await?;
            snapshot.statuses = Some(statuses.iter().map(gate_facts::status_seen).collect());
        }
        let with_authors = snapshot.needs_authorship();
        if snapshot.pr_gate.is_none() && (!snapshot.rules.rules.is_empty() || with_authors) {
            self.read_pull_gate(s, snapshot, with_authors).await?;
        }
        if !snapshot.rules.rules.is_empty() && snapshot.prior_rows.is_empty() {
            snapshot.prior_rows = self.prior_rows(s).await?;
        }
        if snapshot.base_history.is_none() && snapshot.needs_base_history() {
            snapshot.base_history = self.base_history(s, &snapshot.base_tip).await;
        }
        Ok(())
    }

    /// The pull request against the whole gate: one GraphQL request for
    /// reviews, threads, signatures, deployments and mergeability, sent
    /// only when some rule asks about them. GitHub still computing
    /// mergeability (`UNKNOWN`, as right after a push) is read again with a
    /// short bounded backoff when nothing else holds the merge back. A
    /// query GitHub refuses, or a part of it the installation may not read,
    /// is a source that could not be read: no acting plan rests on it.
    async fn read_pull_gate(
        &self,
        s: &Subject<'_>,
        snapshot: &mut Snapshot,
        with_authors: bool,
    ) -> Result<(), EvalError> {
        let environments = snapshot.rules.environments();
        // The pull request's own answer may already know (`clean`, `dirty`).
        let rest_known = snapshot
            .pr
            .mergeable_state
            .as_deref()
            .is_some_and(|m| m != "unknown");
        let mut rereads = MERGEABILITY_REREADS.iter();
        let (state, read) = loop {
            let read = match s
                .client
                .pull_gate(&s.work.repo, s.number, &environments, with_authors)
                .await
            {
                Ok(read) => read,
                Err(e) if e.is_transient() || e.is_deferred() => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "whole gate unreadable; nothing will be merged on it");
                    let reason = match e.status {
                        Some(403) => format!("HTTP 403: {}", e.message),
                        _ => format!("GraphQL: {}", e.message),
                    };
                    snapshot.requirements.unreadable.push(Unreadable {
                        source: PULL_GATE_SOURCE,
                        reason,
                    });
                    return Ok(());
                }
            };
            let mut state = gate_facts::pr_gate_state(&read);
            state.merge_method = Some(snapshot.config.merge.method.as_str().to_owned());
            for part in &read.forbidden {
                let source = match part.as_str() {
                    "deployments" => "deployments",
                    _ => PULL_GATE_SOURCE,
                };
                if !snapshot
                    .requirements
                    .unreadable
                    .iter()
                    .any(|u| u.source == source)
                {
                    snapshot.requirements.unreadable.push(Unreadable {
                        source,
                        reason: format!(
                            "FORBIDDEN: GitHub answers `{part}` only with a permission the \
                             installation has not granted"
                        ),
                    });
                }
            }
            let computing = !rest_known
                && state.mergeable == Mergeable::Unknown
                && whole_gate::waiting_for(&whole_gate::rows(&snapshot.rules, &state)).is_none()
                && snapshot.gate().status() == GateStatus::Open;
            match rereads.next() {
                Some(wait) if computing => {
                    tracing::info!(
                        wait_ms = wait.as_millis() as u64,
                        "GitHub still computes mergeability; reading it again"
                    );
                    tokio::time::sleep(*wait).await;
                }
                _ => break (state, read),
            }
        };
        // Who wrote the pull request and who asked for it: in the same
        // answer, only when the independent-review guard is on.
        if with_authors {
            snapshot.authorship = Some(gate_facts::authorship(&read));
        }
        // GitHub's merge state from the same answer stands in for the pull
        // request's when that was read before GitHub had computed it.
        if !rest_known {
            match (state.mergeable, state.merge_state.as_deref()) {
                (Mergeable::Conflicting, _) => {
                    snapshot.pr.mergeable_state = Some("dirty".to_owned());
                }
                (Mergeable::Mergeable, Some(m)) if !m.eq_ignore_ascii_case("unknown") => {
                    snapshot.pr.mergeable_state = Some(m.to_ascii_lowercase());
                }
                _ => {}
            }
        }
        snapshot.pr_gate = Some(state);
        Ok(())
    }

    /// The rows of the whole gate the previous evaluation of this pull
    /// request left on its page, each with since when it stood so (its
    /// own time when that page did not say), for the rows' "since".
    async fn prior_rows(&self, s: &Subject<'_>) -> Result<Vec<PriorRow>, EvalError> {
        let last = self.store.evaluations(&s.work.repo, s.number, 1).await?;
        let Some(e) = last.first() else {
            return Ok(Vec::new());
        };
        // A page that no longer reads (an older shape) only loses the times.
        let page = serde_json::from_str::<PageSnapshot>(&e.snapshot).unwrap_or_default();
        Ok(page
            .gate
            .rules
            .into_iter()
            .map(|r| PriorRow {
                since: r.since.unwrap_or(e.at),
                key: RowKey {
                    kind: r.kind,
                    asked: r.asked,
                    state: r.state,
                    detail: r.detail,
                },
            })
            .collect())
    }

    /// What `base` requires (protection ∪ rulesets ∪ the config's extra
    /// checks): read from GitHub when `fresh` or when this replica holds no
    /// read that still stands (see [`requirements_cache`]). The flag says
    /// whether it was read now.
    async fn requirements(
        &self,
        s: &Subject<'_>,
        base: &str,
        config: &RepoConfig,
        fresh: bool,
    ) -> Result<(Requirements, WholeGateRules, bool), EvalError> {
        let (read, read_now) = self.requirements_read(s, base, fresh).await?;
        let classic = read
            .protection
            .as_ref()
            .and_then(|p| p.required_status_checks.as_ref())
            .map(gate_facts::classic_checks);
        let rules: Vec<_> = read.rules.iter().map(gate_facts::ruleset_rule).collect();
        let mut req =
            required_checks::requirements(classic.as_ref(), &rules, &config.required_checks.extra);
        req.unreadable.extend(read.unreadable);
        let rules = gate_facts::whole_gate_rules(read.protection.as_ref(), &read.rules);
        Ok((req, rules, read_now))
    }

    async fn requirements_read(
        &self,
        s: &Subject<'_>,
        base: &str,
        fresh: bool,
    ) -> Result<(requirements_cache::Read, bool), EvalError> {
        let repo = &s.work.repo;
        let generation = self
            .store
            .meta(&requirements_cache::generation_key(repo))
            .await?;
        if !fresh && let Some(read) = self.requirements.get(repo, base, generation.as_deref()) {
            return Ok((read, false));
        }
        let mut unreadable = Vec::new();
        let protection = unreadable_if_forbidden(
            s.client.branch_protection(repo, base).await,
            "classic branch protection",
            &mut unreadable,
        )?
        .flatten();
        let rules = unreadable_if_forbidden(
            s.client.branch_rules(repo, base).await,
            "repository rulesets",
            &mut unreadable,
        )?
        .unwrap_or_default();
        let read = requirements_cache::Read {
            protection,
            rules,
            unreadable,
        };
        self.requirements.put(repo, base, generation, read.clone());
        Ok((read, true))
    }

    /// The base's recent history of checks: one GraphQL read per base SHA,
    /// cached. A failed read is no history (logged), never a failed
    /// evaluation.
    async fn base_history(
        &self,
        s: &Subject<'_>,
        base_tip: &CommitSha,
    ) -> Option<never_comes::BaseHistory> {
        let key = (s.work.repo.clone(), base_tip.clone());
        let cached = self
            .base_histories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if cached.is_some() {
            return cached;
        }
        match s
            .client
            .base_history(&s.work.repo, base_tip, never_comes::HISTORY_DEPTH)
            .await
        {
            Ok(commits) => {
                let history = never_comes::BaseHistory {
                    commits: commits
                        .into_iter()
                        .map(|c| {
                            c.into_iter()
                                .map(|(context, app_id)| never_comes::Seen { context, app_id })
                                .collect()
                        })
                        .collect(),
                };
                let mut cache = self
                    .base_histories
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if cache.len() >= MAX_BASE_HISTORIES {
                    cache.clear();
                }
                cache.insert(key, history.clone());
                Some(history)
            }
            Err(e) => {
                tracing::info!(error = %e, "base history unreadable; no evidence about missing checks");
                None
            }
        }
    }
}

/// The own readiness a stored page snapshot kept, if it kept one.
fn own_readiness(page: &str) -> Option<Readiness> {
    serde_json::from_str::<PageSnapshot>(page)
        .ok()?
        .stack
        .map(|s| s.own)
}

/// A 403 from one requirement source is reported, never a failed
/// evaluation: the source is recorded as unreadable, the summary says so,
/// and the decision makes no acting plan on it (what it requires is
/// unknown, not nothing).
fn unreadable_if_forbidden<T>(
    read: Result<T, GhError>,
    source: &'static str,
    unreadable: &mut Vec<Unreadable>,
) -> Result<Option<T>, EvalError> {
    match read {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_status(403) => {
            tracing::warn!(error = %e, source, "requirement source unreadable; nothing will be merged on it");
            unreadable.push(Unreadable {
                source,
                reason: format!("HTTP 403: {}", e.message),
            });
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
