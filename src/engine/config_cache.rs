//! Repository config, read from GitHub and cached.
//!
//! The repository's `.github/seamguard.yml` (or `.github/seamguard.yaml`
//! when that is the only one) is read at the base branch's tip and cached
//! per (repository, base SHA): a push that changes the file moves the tip,
//! so the next evaluation reads the new file, and an unchanged base costs no
//! request. The owner's org-wide defaults (the same path in its `.github`
//! repository) have no SHA at hand; they are cached per owner for
//! [`ORG_TTL`] and dropped early when a push to that repository arrives.
//!
//! A file is found by listing `.github` once: the listing names both
//! spellings (so the one ignored can be said) and gives each file's blob
//! SHA. Blobs are content-addressed, so their text is cached by SHA: a new
//! base tip with an unchanged config costs the listing only, as many
//! requests as reading the file by path did.
//!
//! What a config may cost is bounded: a file the listing says is over
//! [`yaml::MAX_TEXT_BYTES`] is not fetched (its problem is "too large"),
//! and the parse — whose alias expansion is bounded too — runs on the
//! blocking pool, never on the async workers that answer webhooks.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::repo::{
    CONFIG_DIR, ConfigProblem, ConfigSource, RepoConfig, choose_config_file,
};
use crate::config::yaml;
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
    org: Mutex<HashMap<String, (Instant, Option<ConfigFile>)>>,
    /// Config texts by blob SHA (content-addressed, never stale).
    blobs: Mutex<HashMap<String, String>>,
}

/// A config file as found: its path, its text, and the loader's note when
/// the other spelling is there too and was ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: String,
    pub text: String,
    pub note: Option<String>,
    /// `Some(bytes)`: the file is over the size read, and was not fetched
    /// (`text` is empty).
    pub too_large: Option<u64>,
}

/// The "too large" problem of a file that was not fetched.
fn too_large(source: ConfigSource, bytes: u64) -> ConfigProblem {
    let problem = yaml::too_large(bytes, 1);
    ConfigProblem {
        source,
        line: problem.pos.line,
        column: problem.pos.column,
        message: problem.message,
    }
}

/// Reads the repository's file over the org's defaults, off the async
/// workers: a hostile file costs a blocking thread, bounded, not a worker.
async fn parse(org: Option<ConfigFile>, repo: Option<ConfigFile>) -> Loaded {
    let unread: Vec<ConfigProblem> = [(ConfigSource::Repo, &repo), (ConfigSource::Org, &org)]
        .into_iter()
        .filter_map(|(source, file)| Some(too_large(source, file.as_ref()?.too_large?)))
        .collect();
    if !unread.is_empty() {
        return Err(unread.iter().map(ToString::to_string).collect());
    }
    let parsed = tokio::task::spawn_blocking(move || {
        RepoConfig::layered(
            org.as_ref().map(|f| f.text.as_str()),
            repo.as_ref().map(|f| f.text.as_str()),
        )
        .map(|mut config| {
            config.notes.extend(repo.and_then(|f| f.note));
            config.notes.extend(
                org.and_then(|f| f.note)
                    .map(|n| format!("Organization defaults: {n}")),
            );
            config
        })
        .map_err(|problems| problems.iter().map(|p| p.to_string()).collect::<Vec<_>>())
    })
    .await;
    match parsed {
        Ok(loaded) => loaded,
        // A panic in the parser is the evaluation's, as if it ran inline.
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => Err(vec![format!("1:1: the config was not read: {e}")]),
        },
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Puts `value` under `key`, clearing `map` first when it is full.
fn bounded_insert<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, V>>, key: K, value: V) {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
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
        let repo_file = self.read_file(client, repo, Some(base.as_str())).await?;
        let org_file = self.org_defaults(client, repo).await?;
        let loaded = parse(org_file, repo_file).await;
        bounded_insert(&self.repo, key, loaded.clone());
        Ok(loaded)
    }

    /// The config file of `repo` at `git_ref` (the default branch when
    /// `None`): `.github` listed once, the winning spelling's blob read
    /// unless its text is already cached. `None`: neither file exists.
    pub async fn read_file(
        &self,
        client: &InstallationClient,
        repo: &RepoName,
        git_ref: Option<&str>,
    ) -> Result<Option<ConfigFile>, GhError> {
        let Some(entries) = client.dir(repo, CONFIG_DIR, git_ref).await? else {
            return Ok(None);
        };
        let files = entries.iter().filter(|e| e.kind == "file");
        let (Some(path), note) = choose_config_file(files.map(|e| e.name.as_str())) else {
            return Ok(None);
        };
        let name = path.rsplit('/').next().unwrap_or(&path);
        let Some(entry) = entries.iter().find(|e| e.name == name) else {
            return Ok(None);
        };
        if let Some(size) = entry.size.filter(|s| *s > yaml::MAX_TEXT_BYTES as u64) {
            return Ok(Some(ConfigFile {
                path,
                text: String::new(),
                note,
                too_large: Some(size),
            }));
        }
        let cached = self
            .blobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&entry.sha)
            .cloned();
        let text = match cached {
            Some(text) => text,
            None => {
                let text = text(client.blob(repo, &entry.sha).await?);
                bounded_insert(&self.blobs, entry.sha.clone(), text.clone());
                text
            }
        };
        Ok(Some(ConfigFile {
            path,
            text,
            note,
            too_large: None,
        }))
    }

    async fn org_defaults(
        &self,
        client: &InstallationClient,
        repo: &RepoName,
    ) -> Result<Option<ConfigFile>, GhError> {
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
        let found = match self.read_file(client, &org_repo, None).await {
            Ok(found) => found,
            Err(e) if e.is_status(403) => None,
            Err(e) => return Err(e),
        };
        bounded_insert(&self.org, owner, (Instant::now(), found.clone()));
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
