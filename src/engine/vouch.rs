//! Gathers who stands behind a head, for the opt-in rule
//! ([`crate::gate::opt_in`]): the store says who pushed it and who opted
//! it in while it was the head; GitHub says what each may do in the
//! repository (the collaborator permission, kept briefly — never guessed
//! from `author_association`).

use super::{Engine, EvalError};
use crate::config::repo::{AlwaysAuthors, MergeMode, RepoConfig};
use crate::events::Actor;
use crate::gate::opt_in::{self, Access, HeadFacts, Person};
use crate::github::InstallationClient;
use crate::github::models::PullRequest;
use crate::ids::{CommitSha, PrNumber, RepoName};

impl Engine {
    /// The facts the opt-in rule reads for `head`. GitHub is asked only
    /// when the rule will read the answers: a pull request that is not
    /// opted in at all (no label, `mode: never`, `always_authors: anyone`)
    /// costs no request.
    pub(crate) async fn vouch(
        &self,
        client: &InstallationClient,
        repo: &RepoName,
        number: PrNumber,
        pr: &PullRequest,
        head: &CommitSha,
        config: &RepoConfig,
    ) -> Result<HeadFacts, EvalError> {
        let author = pr
            .user
            .as_ref()
            .map(|u| u.login.clone())
            .unwrap_or_default();
        let labelled = pr.label_names().iter().any(|l| l == &config.merge.label);
        // A fork's deleted repository is no longer the base's: a fork.
        let in_base_repository = match (&pr.head.repo, &pr.base.repo) {
            (Some(h), Some(b)) => h.full_name.eq_ignore_ascii_case(&b.full_name),
            _ => false,
        };
        let read = match config.merge.mode {
            MergeMode::Never => false,
            // A branch of the base repository was pushed by someone with
            // write access (pushing it takes that): nothing to ask.
            MergeMode::Label => labelled && !in_base_repository,
            MergeMode::Always => config.merge.always_authors == AlwaysAuthors::Writers,
        };
        let unasked = |author: String| HeadFacts {
            head: head.clone(),
            in_base_repository,
            author: Person {
                login: author,
                access: Access::NoWrite,
            },
            pushed_by: None,
            vouched_by: Vec::new(),
        };
        if !read {
            // The rule answers from the settings and the branch's home
            // alone; nobody is asked, nobody taken to have write access.
            return Ok(unasked(author));
        }
        if in_base_repository {
            // `always` for writers: only the author's access matters.
            let access = self.access_of(client, repo, &author, false).await?;
            let mut facts = unasked(author);
            facts.author.access = access;
            return Ok(facts);
        }
        let seen = self
            .store
            .head_activity(repo, number, head, &config.merge.label)
            .await?;
        let vouchers: Vec<String> = seen.vouched_by.iter().map(|a| a.login.clone()).collect();
        let mut access: Vec<(String, Access)> = Vec::new();
        for login in opt_in::logins_to_ask(
            seen.pushed_by.as_ref().map(|a| a.login.as_str()),
            &vouchers,
            &author,
        ) {
            let bot = seen
                .pushed_by
                .iter()
                .chain(&seen.vouched_by)
                .any(|a: &Actor| a.bot && a.login.eq_ignore_ascii_case(login));
            let a = self.access_of(client, repo, login, bot).await?;
            access.push((login.to_owned(), a));
        }
        let person = |login: &str| Person {
            login: login.to_owned(),
            access: access
                .iter()
                .find(|(l, _)| l.eq_ignore_ascii_case(login))
                .map_or(Access::NoWrite, |(_, a)| *a),
        };
        Ok(HeadFacts {
            head: head.clone(),
            in_base_repository,
            author: person(&author),
            pushed_by: seen.pushed_by.as_ref().map(|a| person(&a.login)),
            vouched_by: vouchers.iter().map(|l| person(l)).collect(),
        })
    }

    /// What `login` may do in `repo`. A bot is trusted only when it is this
    /// App's own `[bot]` user (updating a branch); other bots are asked like
    /// anyone (GitHub answers 404 for most: no write access).
    async fn access_of(
        &self,
        client: &InstallationClient,
        repo: &RepoName,
        login: &str,
        bot: bool,
    ) -> Result<Access, EvalError> {
        if login.is_empty() {
            return Ok(Access::NoWrite);
        }
        if bot && self.own_bot_login().await?.eq_ignore_ascii_case(login) {
            return Ok(Access::TheApp);
        }
        Ok(if self.can_write(client, repo, login).await? {
            Access::Write
        } else {
            Access::NoWrite
        })
    }

    /// This App's `[bot]` login (`<slug>[bot]`), asked of GitHub once.
    async fn own_bot_login(&self) -> Result<String, EvalError> {
        let slug = self
            .own_slug
            .get_or_try_init(|| async {
                let info = self.gh.app_info().await?;
                Ok::<_, EvalError>(info.slug.unwrap_or_default())
            })
            .await?;
        Ok(format!("{slug}[bot]"))
    }
}
