//! Commands people give seamguard on a pull request: `@seamguard recheck`
//! and `@seamguard explain` in a comment, and the check run's "Re-check"
//! button (the same as `recheck`).
//!
//! A command is its own work item (keyed per comment, so two comments are
//! two commands), but it never evaluates under its own key: `recheck`
//! enqueues the pull request's ordinary work item, so the one-worker-per-PR
//! lease and coalescing hold for commands too. Only people with write
//! access may command: their permission is asked of GitHub and kept for
//! [`PERMISSION_TTL`]; anyone else gets one short reply and nothing else —
//! one per person and pull request per [`REFUSAL_QUIET`]. Every reply spends
//! the installation's content-creating budget, and anyone who can comment
//! can comment a hundred times: the time of the last refusal is kept in the
//! store (every replica sees it), and until the quiet period ends further
//! commands from that person on that pull request are ignored silently.
//!
//! A job can be retried after a transient failure; the reaction is
//! idempotent on GitHub's side, and a reply is posted with
//! `Replay::IfNotSent`, so a retry never posts it twice blindly.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use url::Url;

use super::check_run::find_own;
use super::{Engine, EvalError, Outcome};
use crate::github::InstallationClient;
use crate::ids::{CommitSha, PrNumber, RepoName};
use crate::store::{Command, Work};

/// How long a permission answer is trusted. Short, so a revoked
/// collaborator loses the commands within a minute; long enough that a
/// burst of comments asks GitHub once.
pub const PERMISSION_TTL: Duration = Duration::from_secs(60);

/// Bound on remembered permission answers: a busy installation's active
/// commenters fit; past it the cache is emptied rather than grown.
const MAX_CACHED_PERMISSIONS: usize = 10_000;

/// After a refusal reply, how long the same person's commands on the same
/// pull request get no other: a day says "no" once to a person who tried,
/// and costs a flood of comments nothing.
pub const REFUSAL_QUIET: Duration = Duration::from_secs(24 * 60 * 60);

/// The prefix of the store's keys that remember refusals.
const REFUSAL_KEY_PREFIX: &str = "command-refusal";

/// The reaction that acknowledges an accepted command.
const ACK_REACTION: &str = "+1";

/// Lines of the check run's summary an `explain` reply quotes at most.
const MAX_EXPLAIN_LINES: usize = 12;

/// Write-access answers per (repository, login), kept briefly.
#[derive(Default)]
pub struct PermissionCache {
    entries: Mutex<HashMap<(RepoName, String), (Instant, bool)>>,
    /// Held while a refusal is decided and recorded, so two commands of
    /// one person that run at once in this process reply at most once.
    refusing: tokio::sync::Mutex<()>,
}

impl PermissionCache {
    /// The entries, even after a thread panicked holding them: they are
    /// plain answers with times, never left half-written.
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<(RepoName, String), (Instant, bool)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, repo: &RepoName, login: &str) -> Option<bool> {
        let entries = self.entries();
        entries
            .get(&(repo.clone(), login.to_owned()))
            .filter(|(at, _)| at.elapsed() < PERMISSION_TTL)
            .map(|(_, can)| *can)
    }

    fn put(&self, repo: &RepoName, login: &str, can_write: bool) {
        let mut entries = self.entries();
        if entries.len() >= MAX_CACHED_PERMISSIONS {
            entries.clear();
        }
        entries.insert(
            (repo.clone(), login.to_owned()),
            (Instant::now(), can_write),
        );
    }
}

/// The reply to someone without write access.
pub fn refusal(login: &str) -> String {
    format!(
        "@{login} only people with write access to this repository can give seamguard commands."
    )
}

/// The store key remembering when `login` was last refused on `repo#number`
/// (names lower-cased: GitHub treats them without case).
fn refusal_key(repo: &RepoName, number: PrNumber, login: &str) -> String {
    format!(
        "{REFUSAL_KEY_PREFIX}:{}/{}#{}:{}",
        repo.owner().to_ascii_lowercase(),
        repo.name().to_ascii_lowercase(),
        number.0,
        login.to_ascii_lowercase()
    )
}

/// Whether a refusal recorded as `last` (Unix milliseconds, as stored)
/// still keeps `now` quiet.
fn still_quiet(last: Option<&str>, now: chrono::DateTime<Utc>) -> bool {
    let Some(last) = last.and_then(|v| v.parse::<i64>().ok()) else {
        return false;
    };
    let quiet = i64::try_from(REFUSAL_QUIET.as_millis()).unwrap_or(i64::MAX);
    now.timestamp_millis().saturating_sub(last) < quiet
}

/// The `explain` reply: the check run's title and its merge line (the
/// blockers), then where to read more.
pub fn explanation(
    head: &CommitSha,
    title: Option<&str>,
    summary: Option<&str>,
    link: Option<&str>,
) -> String {
    let mut s = format!(
        "**seamguard on `{}`**",
        &head.as_str()[..7.min(head.as_str().len())]
    );
    match title {
        Some(title) => s.push_str(&format!(": {title}\n")),
        None => {
            s.push_str(": not evaluated yet; comment `@seamguard recheck` to evaluate it now.\n")
        }
    }
    if let Some(summary) = summary {
        let blockers: Vec<&str> = summary
            .lines()
            .filter(|l| {
                l.contains("❌")
                    || l.contains("⏳")
                    || l.contains("⚠️")
                    || l.starts_with("**Merge:**")
            })
            .take(MAX_EXPLAIN_LINES)
            .collect();
        if !blockers.is_empty() {
            s.push('\n');
            for line in blockers {
                let line = line.trim_start_matches("**Merge:**").trim();
                let cells: Vec<&str> = line
                    .trim_matches('|')
                    .split(" | ")
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect();
                s.push_str(&format!("- {}\n", cells.join(" — ")));
            }
        }
    }
    if let Some(link) = link {
        s.push_str(&format!("\nDetails: {link}\n"));
    }
    s
}

/// The pull request's page under `PUBLIC_URL`.
fn page_link(public: &Url, repo: &RepoName, pr: PrNumber) -> String {
    format!(
        "{}/{}/{}/pull/{}",
        public.as_str().trim_end_matches('/'),
        repo.owner(),
        repo.name(),
        pr.0
    )
}

impl Engine {
    /// Runs one command: check the author's write access, acknowledge, act.
    pub(crate) async fn run_command(
        &self,
        work: &Work,
        number: PrNumber,
        command: Command,
        author: &str,
        comment: Option<u64>,
    ) -> Result<Outcome, EvalError> {
        let client = self.gh.installation(work.installation);
        if !self.can_write(&client, &work.repo, author).await? {
            return self.refuse(&client, work, number, command, author).await;
        }
        if let Some(id) = comment {
            client
                .react_to_comment(&work.repo, id, ACK_REACTION)
                .await?;
        }
        metrics::counter!("seamguard_commands_total", "command" => command.as_str(), "outcome" => "accepted").increment(1);
        match command {
            Command::Recheck => self.recheck(&client, work, number).await,
            Command::Explain => self.explain(&client, work, number).await,
        }
    }

    /// Replies to a command from someone without write access, unless that
    /// person was already told on this pull request within
    /// [`REFUSAL_QUIET`]: then nothing at all. The refusal is recorded
    /// before the reply is posted, so a retried job never replies twice.
    async fn refuse(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
        command: Command,
        author: &str,
    ) -> Result<Outcome, EvalError> {
        let key = refusal_key(&work.repo, number, author);
        let _one_at_a_time = self.permissions.refusing.lock().await;
        let now = Utc::now();
        if still_quiet(self.store.meta(&key).await?.as_deref(), now) {
            tracing::info!(%author, command = command.as_str(), "command from a user without write access; already told today, ignored");
            metrics::counter!("seamguard_commands_total", "command" => command.as_str(), "outcome" => "ignored").increment(1);
            return Ok(Outcome::Done);
        }
        self.store
            .set_meta(&key, &now.timestamp_millis().to_string())
            .await?;
        tracing::info!(%author, command = command.as_str(), "command from a user without write access; refused");
        metrics::counter!("seamguard_commands_total", "command" => command.as_str(), "outcome" => "refused").increment(1);
        client
            .comment_on_pull(&work.repo, number, &refusal(author))
            .await?;
        Ok(Outcome::Done)
    }

    pub(super) async fn can_write(
        &self,
        client: &InstallationClient,
        repo: &RepoName,
        login: &str,
    ) -> Result<bool, EvalError> {
        if let Some(can) = self.permissions.get(repo, login) {
            return Ok(can);
        }
        let can = match client.collaborator_permission(repo, login).await {
            Ok(p) => p.can_write(),
            // Not a user GitHub knows as a collaborator: no write access.
            Err(e) if e.is_status(404) => false,
            Err(e) => return Err(e.into()),
        };
        self.permissions.put(repo, login, can);
        Ok(can)
    }

    /// Evaluate now, under the pull request's own work item. Merge attempts
    /// on the current head are forgotten first, so a "gave up" ends (and
    /// so is its enqueue, so a head the merge queue removed is enqueued
    /// again).
    async fn recheck(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
    ) -> Result<Outcome, EvalError> {
        let pr = client.pull(&work.repo, number).await?;
        if let Ok(head) = pr.head.sha.parse::<CommitSha>() {
            self.store
                .forget_merge_attempts(&work.repo, number, &head)
                .await?;
            // And a head GitHub's queue took out again may be enqueued
            // once more.
            self.store
                .set_meta(&super::merger::enqueued_key(&work.repo, number, &head), "")
                .await?;
            // Someone with write access asked for this head: it is opted
            // in again even if someone without pushed it (gate::opt_in).
            if let crate::store::Target::Command { author, .. } = &work.target {
                let vouch = crate::events::PrActivity {
                    repo: work.repo.clone(),
                    pr: number,
                    head,
                    actor: crate::events::Actor {
                        login: author.clone(),
                        bot: false,
                    },
                    what: crate::events::Activity::Rechecked,
                };
                self.store.record_activity(&vouch, Utc::now()).await?;
            }
        }
        let cause = match &work.target {
            crate::store::Target::Command {
                author,
                comment: Some(_),
                ..
            } => format!("@seamguard recheck by @{author}"),
            crate::store::Target::Command { author, .. } => format!("Re-check button by @{author}"),
            _ => "recheck".to_owned(),
        };
        self.store
            .enqueue_because(
                Work::pr(work.installation, work.repo.clone(), number),
                Utc::now(),
                &cause,
            )
            .await?;
        Ok(Outcome::Done)
    }

    /// Reply with the blockers of the head's evaluation and a link: the
    /// pull request's page when `PUBLIC_URL` is set, else the check run.
    async fn explain(
        &self,
        client: &InstallationClient,
        work: &Work,
        number: PrNumber,
    ) -> Result<Outcome, EvalError> {
        let pr = client.pull(&work.repo, number).await?;
        let head: CommitSha = pr
            .head
            .sha
            .parse()
            .map_err(|e| EvalError::Internal(anyhow::anyhow!("pull request head: {e}")))?;
        let runs = client.check_runs(&work.repo, &head).await?;
        let own = find_own(&runs, self.cfg.app_id);
        let output = own.and_then(|r| r.output.as_ref());
        let link = match (&self.links, &self.public_url) {
            (Some(links), _) => Some(links.url(&work.repo, number, Utc::now())),
            (None, Some(public)) => Some(page_link(public, &work.repo, number)),
            (None, None) => own.and_then(|r| r.html_url.clone()),
        };
        let body = explanation(
            &head,
            output.and_then(|o| o.title.as_deref()),
            output.and_then(|o| o.summary.as_deref()),
            link.as_deref(),
        );
        client.comment_on_pull(&work.repo, number, &body).await?;
        Ok(Outcome::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanation_quotes_blockers_and_links() {
        let head: CommitSha = "0123456789abcdef0123456789abcdef01234567".parse().unwrap();
        let summary = "| guard | verdict | |\n|---|---|---|\n\
                       | Conflict markers | ❌ fail | 2 conflict markers |\n\
                       | Merge sources | ✅ pass | 1 commit |\n\n\
                       **Merge:** ⛔ blocked: a guard failed\n";
        let text = explanation(
            &head,
            Some("2 conflict markers"),
            Some(summary),
            Some("https://seamguard.example.com/acme/app/pull/7"),
        );
        insta::assert_snapshot!(text, @r"
        **seamguard on `0123456`**: 2 conflict markers

        - Conflict markers — ❌ fail — 2 conflict markers
        - ⛔ blocked: a guard failed

        Details: https://seamguard.example.com/acme/app/pull/7
        ");
    }

    #[test]
    fn a_refusal_keeps_its_person_and_pull_request_quiet_for_a_day() {
        let repo: RepoName = "Acme/App".parse().unwrap();
        assert_eq!(
            refusal_key(&repo, PrNumber(7), "Mallory"),
            "command-refusal:acme/app#7:mallory"
        );
        assert_ne!(
            refusal_key(&repo, PrNumber(7), "mallory"),
            refusal_key(&repo, PrNumber(8), "mallory")
        );
        let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap();
        let day = REFUSAL_QUIET.as_millis() as i64;
        assert!(!still_quiet(None, at(day)));
        assert!(!still_quiet(Some("not a time"), at(day)));
        assert!(still_quiet(Some("1000"), at(1000 + day - 1)));
        assert!(!still_quiet(Some("1000"), at(1000 + day)));
    }

    #[test]
    fn a_poisoned_permission_cache_still_answers() {
        let cache = std::sync::Arc::new(PermissionCache::default());
        let repo: RepoName = "acme/app".parse().unwrap();
        cache.put(&repo, "alice", true);
        let held = cache.clone();
        let _ = std::thread::spawn(move || {
            let _guard = held.entries.lock().unwrap();
            panic!("a panic while the cache is held");
        })
        .join();
        assert!(cache.entries.is_poisoned());
        assert_eq!(cache.get(&repo, "alice"), Some(true));
        cache.put(&repo, "bob", false);
        assert_eq!(cache.get(&repo, "bob"), Some(false));
    }

    #[test]
    fn refusal_names_the_author() {
        assert_eq!(
            refusal("mallory"),
            "@mallory only people with write access to this repository can give seamguard commands."
        );
    }
}
