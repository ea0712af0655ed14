//! What a base branch requires, as last read from GitHub, kept briefly.
//!
//! Classic protection and the rulesets that apply to a branch change
//! rarely, and reading them is two requests of every evaluation. An
//! evaluation that only *reports* (the check run, the page: waiting on a
//! check, blocked by a guard) may use what was read for the same
//! repository and branch within [`TTL`], unless a change was announced
//! since. An evaluation that *acts* on GitHub (merge, enqueue, update the
//! branch) always reads them fresh first (see
//! [`MergePlan::acts`](crate::gate::decision::MergePlan::acts)): the gate
//! that lets a pull request through is the one GitHub holds now.
//!
//! A change is announced by `branch_protection_rule`, `repository_ruleset`
//! and `repository` (default branch) deliveries. Their work bumps the
//! repository's *generation* in the store ([`generation_key`]), which every
//! replica reads before using its cache, so an announcement on one replica
//! is seen by all of them. An organization's rulesets change without a
//! repository in the delivery; for those the [`TTL`] bounds what is shown,
//! and acting still reads fresh.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::gate::required_checks::Unreadable;
use crate::github::models::{BranchProtection, BranchRule};
use crate::ids::RepoName;

/// How long a read stands for an evaluation that only reports.
pub const TTL: Duration = Duration::from_secs(5 * 60);

/// Entries kept before the cache starts over (a bound on memory).
const MAX_ENTRIES: usize = 4_096;

/// The store's `meta` key holding `repo`'s generation of requirements.
pub fn generation_key(repo: &RepoName) -> String {
    format!("requirements:{repo}")
}

/// A fresh generation: unique, so replicas compare it for equality only.
pub fn new_generation() -> String {
    format!(
        "{}-{:08x}",
        chrono::Utc::now().timestamp_micros(),
        rand::random::<u32>()
    )
}

/// What one read of a branch's requirements gave.
#[derive(Debug, Clone, Default)]
pub struct Read {
    /// Classic protection as read whole (its required checks and every
    /// other rule), `None` when the branch is not protected.
    pub protection: Option<BranchProtection>,
    pub rules: Vec<BranchRule>,
    pub unreadable: Vec<Unreadable>,
}

struct Entry {
    at: Instant,
    generation: Option<String>,
    read: Read,
}

#[derive(Default)]
pub struct RequirementsCache {
    entries: Mutex<HashMap<(RepoName, String), Entry>>,
}

impl RequirementsCache {
    /// The read for `repo`'s `branch`, when it is younger than [`TTL`] and
    /// was made at the repository's current `generation`.
    pub fn get(&self, repo: &RepoName, branch: &str, generation: Option<&str>) -> Option<Read> {
        self.get_at(repo, branch, generation, Instant::now())
    }

    fn get_at(
        &self,
        repo: &RepoName,
        branch: &str,
        generation: Option<&str>,
        now: Instant,
    ) -> Option<Read> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(&(repo.clone(), branch.to_owned()))?;
        (now.saturating_duration_since(entry.at) < TTL && entry.generation.as_deref() == generation)
            .then(|| entry.read.clone())
    }

    /// Keeps `read`, made at `generation`.
    pub fn put(&self, repo: &RepoName, branch: &str, generation: Option<String>, read: Read) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            (repo.clone(), branch.to_owned()),
            Entry {
                at: Instant::now(),
                generation,
                read,
            },
        );
    }

    /// Drops every branch of `repo` (this replica's share of an
    /// announcement; the others see the new generation).
    pub fn forget(&self, repo: &RepoName) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(r, _), _| r != repo);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str) -> RepoName {
        name.parse().unwrap()
    }

    fn read(context: &str) -> Read {
        Read {
            protection: Some(BranchProtection {
                required_status_checks: Some(crate::github::models::ProtectionChecks {
                    strict: false,
                    contexts: vec![context.to_owned()],
                    checks: Vec::new(),
                }),
                ..BranchProtection::default()
            }),
            ..Read::default()
        }
    }

    fn context(r: &Read) -> &str {
        &r.protection
            .as_ref()
            .unwrap()
            .required_status_checks
            .as_ref()
            .unwrap()
            .contexts[0]
    }

    #[test]
    fn a_read_stands_for_its_branch_and_generation_within_the_ttl() {
        let cache = RequirementsCache::default();
        let app = repo("acme/app");
        cache.put(&app, "main", Some("g1".into()), read("test"));
        assert_eq!(
            context(&cache.get(&app, "main", Some("g1")).unwrap()),
            "test"
        );
        assert!(
            cache.get(&app, "release", Some("g1")).is_none(),
            "another branch"
        );
        assert!(cache.get(&repo("acme/other"), "main", Some("g1")).is_none());
        assert!(
            cache.get(&app, "main", Some("g2")).is_none(),
            "a change was announced since"
        );
        assert!(cache.get(&app, "main", None).is_none());
        let later = Instant::now() + TTL;
        assert!(
            cache.get_at(&app, "main", Some("g1"), later).is_none(),
            "too old"
        );
    }

    #[test]
    fn forgetting_a_repository_drops_its_branches_only() {
        let cache = RequirementsCache::default();
        let (app, other) = (repo("acme/app"), repo("acme/other"));
        cache.put(&app, "main", None, read("a"));
        cache.put(&app, "release", None, read("b"));
        cache.put(&other, "main", None, read("c"));
        cache.forget(&app);
        assert!(cache.get(&app, "main", None).is_none());
        assert!(cache.get(&app, "release", None).is_none());
        assert_eq!(context(&cache.get(&other, "main", None).unwrap()), "c");
    }

    #[test]
    fn generations_are_unique() {
        let a = new_generation();
        let b = new_generation();
        assert_ne!(a, b);
    }
}
