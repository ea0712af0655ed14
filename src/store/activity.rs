//! Who pushed each head of a pull request, and who opted it in while it
//! was the head: the facts the opt-in rule (`gate::opt_in`) stands on.
//!
//! Kept as small rows of the store's key/value table, one per (head, what):
//! the rule asks only about the head it evaluates, so a point read answers
//! it and nothing has to be listed. Keys lower-case the repository and the
//! label (GitHub treats both without case). A missing record is safe by
//! construction: an unseen push counts as the author's, and an unseen
//! opt-in counts as none.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::events::{Activity, Actor, PrActivity};
use crate::ids::{CommitSha, PrNumber, RepoName};

/// The prefix of every activity key (retention prunes by it).
pub(crate) const ACTIVITY_KEY_PREFIX: &str = "head";

/// What the store knows about one head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadActivity {
    /// Who pushed it (or opened the pull request at it), if seen.
    pub pushed_by: Option<Actor>,
    /// Who added the merge label or commanded a recheck while it was the
    /// head (their write access is asked when the rule reads it).
    pub vouched_by: Vec<Actor>,
}

#[derive(Serialize, Deserialize)]
struct Row {
    login: String,
    bot: bool,
    /// Unix milliseconds, for retention.
    at: i64,
}

fn head_key(repo: &RepoName, pr: PrNumber, head: &CommitSha) -> String {
    format!(
        "{ACTIVITY_KEY_PREFIX}:{}/{}#{}@{}",
        repo.owner().to_ascii_lowercase(),
        repo.name().to_ascii_lowercase(),
        pr.0,
        head
    )
}

fn key(a: &PrActivity) -> String {
    let head = head_key(&a.repo, a.pr, &a.head);
    match &a.what {
        Activity::Pushed => format!("{head}:pushed"),
        Activity::Labeled { label } => format!("{head}:label:{}", label.to_lowercase()),
        Activity::Rechecked => format!("{head}:recheck"),
    }
}

fn actor(value: Option<String>) -> Option<Actor> {
    let row: Row = serde_json::from_str(&value?).ok()?;
    Some(Actor {
        login: row.login,
        bot: row.bot,
    })
}

/// The key/value row that remembers `a`, seen at `at`.
pub(crate) fn row(a: &PrActivity, at: DateTime<Utc>) -> Result<(String, String), StoreError> {
    let row = Row {
        login: a.actor.login.clone(),
        bot: a.actor.bot,
        at: at.timestamp_millis(),
    };
    let value = serde_json::to_string(&row).map_err(|e| StoreError::Encoding {
        what: "pull request activity".into(),
        source: std::sync::Arc::new(e),
    })?;
    Ok((key(a), value))
}

impl Store {
    /// Remembers `a` (the latest of its kind for its head wins). Deliveries
    /// carry theirs into [`Store::ingest`]; this is for what the engine
    /// learns itself (a recheck by someone with write access).
    pub async fn record_activity(
        &self,
        a: &PrActivity,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (key, value) = row(a, at)?;
        self.set_meta(&key, &value).await
    }

    /// Who pushed `head`, and who added `label` or commanded a recheck
    /// while it was the head.
    pub async fn head_activity(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        head: &CommitSha,
        label: &str,
    ) -> Result<HeadActivity, StoreError> {
        let base = head_key(repo, pr, head);
        let pushed_by = actor(self.meta(&format!("{base}:pushed")).await?);
        let mut vouched_by = Vec::new();
        for k in [
            format!("{base}:label:{}", label.to_lowercase()),
            format!("{base}:recheck"),
        ] {
            if let Some(a) = actor(self.meta(&k).await?) {
                vouched_by.push(a);
            }
        }
        Ok(HeadActivity {
            pushed_by,
            vouched_by,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_where_github_does() {
        let a = PrActivity {
            repo: "Acme/App".parse().unwrap(),
            pr: PrNumber(7),
            head: "1111111111111111111111111111111111111111".parse().unwrap(),
            actor: Actor {
                login: "bob".into(),
                bot: false,
            },
            what: Activity::Labeled {
                label: "AutoMerge".into(),
            },
        };
        assert_eq!(
            key(&a),
            "head:acme/app#7@1111111111111111111111111111111111111111:label:automerge"
        );
    }
}
