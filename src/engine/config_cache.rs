//! Repository config, read from GitHub and cached.
//!
//! The repository's `.github/seamguard.yml` is read at the base branch's
//! tip and cached per (repository, base SHA): a push that changes the file
//! moves the tip, so the next evaluation reads the new file, and an
//! unchanged base costs no request. The owner's org-wide defaults (the same
//! path in its `.github` repository) have no SHA at hand; they are cached
//! per owner for [`ORG_TTL`] and dropped early when a push to that
//! repository arrives.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::repo::{CONFIG_PATH, RepoConfig};
use crate::github::{GhError, InstallationClient};
use crate::ids::{CommitSha, RepoName};

/// Org defaults change rarely; a minute of staleness is the price of not
/// reading them on every evaluation (a push to the `.github` repository
/// clears the entry at once).
pub const ORG_TTL: Duration = Duration::from_secs(60);

/// Entries kept before the cache is cleared (a cheap bound on memory for a
/// server that sees many repositories).
const MAX_ENTRIES: usize = 4_096;

/// The org-defaults repository GitHub uses for community files.
pub const ORG_CONFIG_REPO: &str = ".github";

/// A config as read: valid, or its problems as `source:line:col: message`.
pub type Loaded = Result<RepoConfig, Vec<String>>;

#[derive(Default)]
pub struct ConfigCache {
    repo: Mutex<HashMap<(RepoName, CommitSha), Loaded>>,
    org: Mutex<HashMap<String, (Instant, Option<String>)>>,
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

impl ConfigCache {
    /// The effective config of `repo` at `base` (org defaults layered
    /// under the repository's file).
    pub async fn load(
        &self,
        client: &InstallationClient,
        repo: &RepoName,
        base: &CommitSha,
    ) -> Result<Loaded, GhError> {
        let key = (repo.clone(), base.clone());
        if let Some(hit) = self
            .repo
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(hit.clone());
        }
        let repo_text = client
            .file(repo, CONFIG_PATH, Some(base.as_str()))
            .await?
            .map(text);
        let org_text = self.org_defaults(client, repo).await?;
        let loaded = RepoConfig::layered(org_text.as_deref(), repo_text.as_deref())
            .map_err(|problems| problems.iter().map(|p| p.to_string()).collect::<Vec<_>>());
        let mut cache = self.repo.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(key, loaded.clone());
        Ok(loaded)
    }

    async fn org_defaults(
        &self,
        client: &InstallationClient,
        repo: &RepoName,
    ) -> Result<Option<String>, GhError> {
        let owner = repo.owner().to_owned();
        if repo.name() == ORG_CONFIG_REPO {
            // The `.github` repository's own file is its repository config.
            return Ok(None);
        }
        if let Some((at, text)) = self
            .org
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&owner)
            && at.elapsed() < ORG_TTL
        {
            return Ok(text.clone());
        }
        let org_repo =
            RepoName::new(owner.clone(), ORG_CONFIG_REPO).expect("valid repository name");
        // A missing repository, file or access (the App is not installed
        // on `.github`) all mean "no org defaults".
        let found = match client.file(&org_repo, CONFIG_PATH, None).await {
            Ok(found) => found.map(text),
            Err(e) if e.is_status(403) => None,
            Err(e) => return Err(e),
        };
        let mut org = self.org.lock().unwrap_or_else(|p| p.into_inner());
        if org.len() >= MAX_ENTRIES {
            org.clear();
        }
        org.insert(owner, (Instant::now(), found.clone()));
        Ok(found)
    }

    /// A push to `repo`: if it is an owner's `.github` repository, its
    /// defaults are read again on next use.
    pub fn pushed(&self, repo: &RepoName) {
        if repo.name() == ORG_CONFIG_REPO {
            self.org
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(repo.owner());
        }
    }
}
