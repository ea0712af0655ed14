//! The scenario API: set up the world the way a test tells its story.
//!
//! ```ignore
//! let repo = gh.repo("acme/app");
//! let base = repo.branch_tip("main");
//! let head = repo.commit(&[&base], "add feature", &[("src/a.rs", Some("fn a() {}\n"))]);
//! repo.branch("feature", &head);
//! let pr = repo.pr(7).head("feature").base("main").label("automerge").open();
//! repo.ruleset(42).on("~DEFAULT_BRANCH").requires(&["lint", "test"]);
//! repo.check_run(&head, "lint").app(15368).completed("success");
//! ```
//!
//! Builders that end in a verb (`open()`) create their object then; the
//! others (`ruleset`, `protection`, `check_run`) create it at once and
//! change it with each call, so a line with no final verb still counts.
//! Every change wakes the fake's waiters.

use std::sync::Arc;

use chrono::Utc;
use seamguard::ids::{CheckRunId, PrNumber, RepoName};

use super::fake_github::Shared;
use super::world::{
    CheckRun, Output, OwnerType, Protection, Pull, PullState, RequiredCheck, Ruleset,
    RulesetSource, Sha, Status, World,
};

/// GitHub Actions' App id: the usual author of other checks.
pub const GITHUB_ACTIONS_APP_ID: u64 = 15368;

/// A repository of the fake.
#[derive(Clone)]
pub struct RepoHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) name: String,
}

impl RepoHandle {
    pub(crate) fn new(shared: Arc<Shared>, name: &str) -> Self {
        Self {
            shared,
            name: name.to_owned(),
        }
    }

    pub(crate) fn edit<R>(&self, f: impl FnOnce(&mut super::world::Repo) -> R) -> R {
        let name = self.name.clone();
        self.shared.edit(|w| f(w.repo_mut(&name)))
    }

    pub(crate) fn read<R>(&self, f: impl FnOnce(&World, &super::world::Repo) -> R) -> R {
        let world = self.shared.lock();
        f(&world, world.repo(&self.name))
    }

    /// `owner/name` as seamguard's identifier.
    pub fn name(&self) -> RepoName {
        self.name.parse().expect("owner/name")
    }

    pub fn id(&self) -> u64 {
        self.read(|_, r| r.id)
    }

    pub fn installation(&self) -> u64 {
        self.read(|_, r| r.installation)
    }

    /// Moves the repository to another installation of the App.
    pub fn installed_on(&self, installation: u64) -> &Self {
        self.edit(|r| r.installation = installation);
        self
    }

    pub fn owned_by_user(&self) -> &Self {
        self.edit(|r| r.owner_type = OwnerType::User);
        self
    }

    pub fn default_branch(&self) -> String {
        self.read(|_, r| r.default_branch.clone())
    }

    /// Makes `branch` (which must exist) the default branch.
    pub fn set_default_branch(&self, branch: &str) -> &Self {
        self.edit(|r| {
            assert!(r.branches.contains_key(branch), "no branch {branch}");
            r.default_branch = branch.to_owned();
        });
        self
    }

    /// The commit `branch` points at.
    pub fn branch_tip(&self, branch: &str) -> Sha {
        self.read(|_, r| {
            r.tip(branch)
                .unwrap_or_else(|| panic!("fake GitHub: no branch {branch} in {}", r.full_name()))
                .clone()
        })
    }

    /// A commit with `parents` (the first parent's tree, changed by
    /// `changes`: `Some(text)` writes a file, `None` deletes it).
    pub fn commit(&self, parents: &[&Sha], message: &str, changes: &[(&str, Option<&str>)]) -> Sha {
        let changes: Vec<(&str, Option<&[u8]>)> = changes
            .iter()
            .map(|(p, c)| (*p, c.map(str::as_bytes)))
            .collect();
        self.commit_bytes(parents, message, &changes)
    }

    /// Like [`Self::commit`], with raw bytes (binary files).
    pub fn commit_bytes(
        &self,
        parents: &[&Sha],
        message: &str,
        changes: &[(&str, Option<&[u8]>)],
    ) -> Sha {
        let parents: Vec<Sha> = parents.iter().map(|s| (*s).clone()).collect();
        self.edit(|r| r.commit_changes(&parents, message, changes))
    }

    /// A commit on top of `branch` that then moves the branch (a push).
    pub fn push(&self, branch: &str, message: &str, changes: &[(&str, Option<&str>)]) -> Sha {
        let tip = self.branch_tip(branch);
        let sha = self.commit(&[&tip], message, changes);
        self.branch(branch, &sha);
        sha
    }

    /// A chain of `n` commits on top of `from`, each adding one file under
    /// `dir`; returns the last. For "hundreds of commits" scenarios.
    pub fn chain(&self, from: &Sha, n: usize, dir: &str) -> Sha {
        self.edit(|r| {
            let mut tip = from.clone();
            for i in 0..n {
                let path = format!("{dir}/{i:05}.txt");
                let content = format!("commit {i} of {dir}\n");
                tip = r.commit_changes(
                    std::slice::from_ref(&tip),
                    &format!("{dir}: step {i}"),
                    &[(path.as_str(), Some(content.as_bytes()))],
                );
            }
            tip
        })
    }

    /// Creates or moves `branch` to `sha`; open pull requests on it follow.
    pub fn branch(&self, name: &str, sha: &Sha) -> &Self {
        self.edit(|r| r.set_branch(name, sha));
        self
    }

    pub fn delete_branch(&self, name: &str) -> &Self {
        self.edit(|r| r.branches.remove(name));
        self
    }

    /// Commits `.github/seamguard.yml` on `branch` with `yaml`.
    pub fn config_on(&self, branch: &str, yaml: &str) -> Sha {
        self.push(
            branch,
            "Configure seamguard",
            &[(".github/seamguard.yml", Some(yaml))],
        )
    }

    /// GitHub withholds the patch of `path` as too large to show.
    pub fn mark_large(&self, path: &str) -> &Self {
        self.edit(|r| r.large_files.insert(path.to_owned()));
        self
    }

    /// Starts a pull request; finish with [`PrBuilder::open`].
    pub fn pr(&self, number: u64) -> PrBuilder {
        PrBuilder {
            repo: self.clone(),
            number,
            head: None,
            base: None,
            title: format!("Pull request #{number}"),
            labels: Vec::new(),
            draft: false,
            fork: None,
            mergeable_state: None,
            user: "octocat".to_owned(),
        }
    }

    /// A snapshot of pull request `number`.
    pub fn pull(&self, number: u64) -> Pull {
        self.read(|_, r| {
            r.pulls
                .get(&number)
                .unwrap_or_else(|| panic!("fake GitHub: no pull request #{number}"))
                .clone()
        })
    }

    /// GitHub has computed #`number`'s mergeability for its current head
    /// and base (someone looked at the pull request since the last push),
    /// so the next read is not `unknown`.
    pub fn settle_mergeability(&self, number: u64) -> &Self {
        self.edit(|r| {
            let pr = r.pulls.get(&number).expect("pull request exists");
            let key = r.mergeability_key(pr);
            r.pulls
                .get_mut(&number)
                .expect("pull request exists")
                .mergeability
                .computed_for = Some(key);
        });
        self
    }

    pub fn add_label(&self, number: u64, label: &str) -> &Self {
        self.edit(|r| {
            let pr = r.pulls.get_mut(&number).expect("pull request exists");
            if !pr.labels.iter().any(|l| l == label) {
                pr.labels.push(label.to_owned());
            }
        });
        self
    }

    pub fn remove_label(&self, number: u64, label: &str) -> &Self {
        self.edit(|r| {
            let pr = r.pulls.get_mut(&number).expect("pull request exists");
            pr.labels.retain(|l| l != label);
        });
        self
    }

    /// `PUT …/update-branch` answers 403 `Resource not accessible by
    /// integration` (GitHub's description does not enable it for Apps).
    pub fn refuse_update_branch(&self) -> &Self {
        self.edit(|r| r.update_branch_forbidden = true);
        self
    }

    /// Turns a merge method off in the repository's settings (`merge`,
    /// `squash` or `rebase`), as a repository admin can.
    pub fn disallow_merge_method(&self, method: &str) -> &Self {
        self.edit(|r| {
            r.methods_off.insert(method.to_owned());
        });
        self
    }

    /// The open pull requests the fake saw behind their base right after a
    /// merge moved it.
    pub fn read_behind_seen(&self) -> Vec<u64> {
        self.read(|_, r| r.behind_seen.iter().copied().collect())
    }

    /// The merge queue of the repository: numbers in order.
    pub fn queued(&self) -> Vec<u64> {
        self.read(|_, r| r.queue.iter().map(|e| e.number).collect())
    }

    /// GitHub takes #`number` out of the merge queue for `reason`
    /// (`CI_FAILURE`, `MANUAL`, …).
    pub fn dequeue(&self, number: u64, reason: &str) -> &Self {
        self.edit(|r| r.dequeue(number, reason));
        self
    }

    pub fn close_pr(&self, number: u64) -> &Self {
        self.edit(|r| {
            let pr = r.pulls.get_mut(&number).expect("pull request exists");
            pr.state = PullState::Closed;
            pr.closed_at = Some(Utc::now());
        });
        self
    }

    /// Stacks pull requests `numbers`, bottom first, as `POST …/stacks`
    /// does: each one's base must be the head branch of the one below; the
    /// bottom one's base is where the stack lands. The stack's number.
    pub fn stack(&self, numbers: &[u64]) -> u64 {
        let id = self.shared.edit(|w| w.next_id());
        self.edit(|r| {
            for pair in numbers.windows(2) {
                let (below, above) = (&r.pulls[&pair[0]], &r.pulls[&pair[1]]);
                assert_eq!(
                    above.base_ref, below.head_ref,
                    "fake GitHub: #{}'s base must be #{}'s head branch to stack it",
                    above.number, below.number
                );
            }
            let base_ref = r.pulls[&numbers[0]].base_ref.clone();
            let number = r.stacks.len() as u64 + 1;
            r.stacks.push(super::world::Stack {
                id,
                number,
                base_ref,
                pulls: numbers.to_vec(),
                created_at: Utc::now(),
            });
            number
        })
    }

    /// A ruleset, created now (targeting nothing until [`RulesetBuilder::on`]).
    pub fn ruleset(&self, id: u64) -> RulesetBuilder {
        self.edit(|r| {
            r.rulesets.retain(|s| s.id != id);
            r.rulesets.push(Ruleset {
                id,
                name: format!("ruleset {id}"),
                source: RulesetSource::Repository,
                enforcement: "active".to_owned(),
                include: Vec::new(),
                exclude: Vec::new(),
                required: Vec::new(),
                strict: false,
                merge_queue: false,
                rules: Vec::new(),
            });
        });
        RulesetBuilder {
            repo: self.clone(),
            id,
        }
    }

    /// Classic protection of `branch` with required checks, created now.
    pub fn protection(&self, branch: &str) -> ProtectionBuilder {
        self.edit(|r| {
            r.protection.insert(
                branch.to_owned(),
                Protection::Checks {
                    contexts: Vec::new(),
                    checks: Vec::new(),
                    strict: false,
                },
            )
        });
        ProtectionBuilder {
            repo: self.clone(),
            branch: branch.to_owned(),
        }
    }

    /// The App cannot read `branch`'s protection: 403.
    pub fn protection_forbidden(&self, branch: &str) -> &Self {
        self.edit(|r| {
            r.protection
                .insert(branch.to_owned(), Protection::Forbidden)
        });
        self
    }

    /// `branch` is protected but requires no status checks.
    pub fn protected_without_checks(&self, branch: &str) -> &Self {
        self.edit(|r| r.protection.insert(branch.to_owned(), Protection::NoChecks));
        self
    }

    /// A check run by another App (GitHub Actions unless `.app(..)`),
    /// `queued` until told otherwise.
    pub fn check_run(&self, sha: &Sha, name: &str) -> CheckRunHandle {
        let name = name.to_owned();
        let sha = sha.clone();
        let repo = self.name.clone();
        let id = self.shared.edit(|w| {
            let id = w.next_id();
            let suite = w.next_id();
            let r = w.repo_mut(&repo);
            assert!(r.commits.contains_key(&sha), "fake GitHub: no commit {sha}");
            r.check_runs.push(CheckRun {
                id,
                name,
                head_sha: sha,
                status: "queued".to_owned(),
                conclusion: None,
                app_id: GITHUB_ACTIONS_APP_ID,
                app_slug: "github-actions".to_owned(),
                external_id: None,
                details_url: None,
                output: None,
                annotations: Vec::new(),
                started_at: Some(Utc::now()),
                completed_at: None,
                check_suite_id: suite,
                updates: 0,
            });
            id
        });
        CheckRunHandle {
            repo: self.clone(),
            id,
        }
    }

    /// A commit status of `context` on `sha` (`pending`, `success`,
    /// `failure`, `error`).
    pub fn status(&self, sha: &Sha, context: &str, state: &str) -> &Self {
        assert!(
            matches!(state, "pending" | "success" | "failure" | "error"),
            "not a commit status state: {state}"
        );
        let repo = self.name.clone();
        self.shared.edit(|w| {
            let id = w.next_id();
            w.repo_mut(&repo).statuses.push(Status {
                id,
                sha: sha.clone(),
                context: context.to_owned(),
                state: state.to_owned(),
                description: None,
                target_url: None,
                created_at: Utc::now(),
            });
        });
        self
    }

    /// Every check run on `sha`, oldest first.
    pub fn check_runs_on(&self, sha: &Sha) -> Vec<CheckRun> {
        self.read(|_, r| {
            r.check_runs
                .iter()
                .filter(|c| &c.head_sha == sha)
                .cloned()
                .collect()
        })
    }

    /// The file `path` at `git_ref`, as text.
    pub fn file_at(&self, git_ref: &str, path: &str) -> Option<String> {
        self.read(|_, r| {
            let sha = r.resolve(git_ref)?;
            r.commit(&sha).tree.get(path).map(|b| b.text())
        })
    }
}

/// A pull request about to open.
pub struct PrBuilder {
    repo: RepoHandle,
    number: u64,
    head: Option<String>,
    base: Option<String>,
    title: String,
    labels: Vec<String>,
    draft: bool,
    fork: Option<String>,
    mergeable_state: Option<String>,
    user: String,
}

impl PrBuilder {
    /// The head: a branch name, or a commit SHA (then a branch
    /// `pr-<number>` is created for it).
    pub fn head(mut self, branch_or_sha: &str) -> Self {
        self.head = Some(branch_or_sha.to_owned());
        self
    }

    /// The base branch (the default branch if not given).
    pub fn base(mut self, branch: &str) -> Self {
        self.base = Some(branch.to_owned());
        self
    }

    pub fn title(mut self, title: &str) -> Self {
        self.title = title.to_owned();
        self
    }

    pub fn label(mut self, label: &str) -> Self {
        self.labels.push(label.to_owned());
        self
    }

    pub fn draft(mut self) -> Self {
        self.draft = true;
        self
    }

    pub fn author(mut self, login: &str) -> Self {
        self.user = login.to_owned();
        self
    }

    /// The head lives in a fork (`owner/name`): check payloads list no pull
    /// requests for it, as on GitHub.
    pub fn head_in_fork(mut self, fork: &str) -> Self {
        self.fork = Some(fork.to_owned());
        self
    }

    /// Forces `mergeable_state` (`dirty` and `blocked` also refuse merges).
    pub fn mergeable_state(mut self, state: &str) -> Self {
        self.mergeable_state = Some(state.to_owned());
        self
    }

    /// Opens the pull request.
    pub fn open(self) -> PrNumber {
        let number = self.number;
        let id_seed = self.repo.shared.edit(|w| w.next_id());
        self.repo.edit(|r| {
            let base = self.base.unwrap_or_else(|| r.default_branch.clone());
            assert!(
                r.branches.contains_key(&base),
                "fake GitHub: no base branch {base}"
            );
            let head = self
                .head
                .expect("a pull request needs .head(branch or sha)");
            let (head_ref, head_sha) = match r.tip(&head) {
                Some(sha) => (head.clone(), sha.clone()),
                None => {
                    let sha = r.resolve(&head).unwrap_or_else(|| {
                        panic!("fake GitHub: head {head} is neither a branch nor a commit")
                    });
                    let branch = format!("pr-{number}");
                    if self.fork.is_none() {
                        r.set_branch(&branch, &sha);
                    }
                    (branch, sha)
                }
            };
            let now = Utc::now();
            r.pulls.insert(
                number,
                Pull {
                    number,
                    id: 500_000_000 + id_seed,
                    title: self.title,
                    body: Some("Opened by a test.".to_owned()),
                    user: self.user,
                    head_ref,
                    head_sha,
                    head_repo: self.fork,
                    base_ref: base,
                    state: PullState::Open,
                    draft: self.draft,
                    labels: self.labels,
                    merged: false,
                    merge_commit_sha: None,
                    merged_at: None,
                    closed_at: None,
                    created_at: now,
                    updated_at: now,
                    mergeable_state: self.mergeable_state,
                    mergeability: Default::default(),
                },
            );
        });
        PrNumber(number)
    }
}

fn full_ref(pattern: &str) -> String {
    if pattern.starts_with('~') || pattern.starts_with("refs/") {
        pattern.to_owned()
    } else {
        format!("refs/heads/{pattern}")
    }
}

/// A ruleset being described; each call changes it at once.
pub struct RulesetBuilder {
    repo: RepoHandle,
    id: u64,
}

impl RulesetBuilder {
    fn edit(self, f: impl FnOnce(&mut Ruleset)) -> Self {
        let id = self.id;
        self.repo.edit(|r| {
            f(r.rulesets
                .iter_mut()
                .find(|s| s.id == id)
                .expect("ruleset exists"));
        });
        self
    }

    /// Targets branches matching `pattern`: `~DEFAULT_BRANCH`, `~ALL`,
    /// `refs/heads/release/*` (a bare `main` means `refs/heads/main`).
    pub fn on(self, pattern: &str) -> Self {
        let p = full_ref(pattern);
        self.edit(|s| s.include.push(p))
    }

    pub fn except(self, pattern: &str) -> Self {
        let p = full_ref(pattern);
        self.edit(|s| s.exclude.push(p))
    }

    /// Requires these contexts (from any App).
    pub fn requires(self, contexts: &[&str]) -> Self {
        let checks: Vec<RequiredCheck> = contexts
            .iter()
            .map(|c| RequiredCheck {
                context: (*c).to_owned(),
                app_id: None,
            })
            .collect();
        self.edit(|s| s.required.extend(checks))
    }

    /// Requires `context` reported by the App `integration_id`.
    pub fn requires_from(self, context: &str, integration_id: i64) -> Self {
        let c = RequiredCheck {
            context: context.to_owned(),
            app_id: Some(integration_id),
        };
        self.edit(|s| s.required.push(c))
    }

    pub fn strict(self) -> Self {
        self.edit(|s| s.strict = true)
    }

    /// Adds a `merge_queue` rule: merges only through the merge queue.
    pub fn merge_queue(self) -> Self {
        self.edit(|s| s.merge_queue = true)
    }

    /// Adds a rule of another type (`pull_request`, `required_deployments`,
    /// `required_signatures`, …) with GitHub's `parameters` (`null`: none).
    pub fn rule(self, kind: &str, parameters: serde_json::Value) -> Self {
        let kind = kind.to_owned();
        self.edit(|s| s.rules.push((kind, parameters)))
    }

    /// The ruleset belongs to the organization, not the repository.
    pub fn org_wide(self) -> Self {
        self.edit(|s| s.source = RulesetSource::Organization)
    }

    /// `evaluate` (or `disabled`): listed nowhere, enforced nowhere.
    pub fn enforcement(self, mode: &str) -> Self {
        let mode = mode.to_owned();
        self.edit(|s| s.enforcement = mode)
    }
}

/// Classic protection being described; each call changes it at once.
pub struct ProtectionBuilder {
    repo: RepoHandle,
    branch: String,
}

impl ProtectionBuilder {
    fn edit(self, f: impl FnOnce(&mut Vec<String>, &mut Vec<RequiredCheck>, &mut bool)) -> Self {
        let branch = self.branch.clone();
        self.repo.edit(|r| {
            if let Some(Protection::Checks {
                contexts,
                checks,
                strict,
            }) = r.protection.get_mut(&branch)
            {
                f(contexts, checks, strict);
            }
        });
        self
    }

    /// Requires these contexts (any source), as the legacy `contexts` list.
    pub fn requires(self, contexts: &[&str]) -> Self {
        let list: Vec<String> = contexts.iter().map(|c| (*c).to_owned()).collect();
        self.edit(|c, _, _| c.extend(list))
    }

    /// Requires `context` from the App `app_id` (the `checks` list).
    pub fn requires_from(self, context: &str, app_id: i64) -> Self {
        let c = RequiredCheck {
            context: context.to_owned(),
            app_id: Some(app_id),
        };
        self.edit(|_, checks, _| checks.push(c))
    }

    pub fn strict(self) -> Self {
        self.edit(|_, _, s| *s = true)
    }

    /// The App may not read this protection (`administration: read` not
    /// granted): GitHub answers it 403, and still enforces it at merge.
    pub fn unreadable(self) -> Self {
        let branch = self.branch.clone();
        self.repo.edit(|r| r.unreadable_protection.insert(branch));
        self
    }
}

/// A check run of another App; each call changes it at once.
pub struct CheckRunHandle {
    repo: RepoHandle,
    id: u64,
}

impl CheckRunHandle {
    fn edit(self, f: impl FnOnce(&mut CheckRun)) -> Self {
        let id = self.id;
        self.repo.edit(|r| {
            f(r.check_runs
                .iter_mut()
                .find(|c| c.id == id)
                .expect("check run exists"));
        });
        self
    }

    pub fn id(&self) -> CheckRunId {
        CheckRunId(self.id)
    }

    /// Reported by the App `app_id` instead of GitHub Actions.
    pub fn app(self, app_id: u64) -> Self {
        self.edit(|c| {
            c.app_id = app_id;
            c.app_slug = format!("app-{app_id}");
        })
    }

    pub fn in_progress(self) -> Self {
        self.edit(|c| c.status = "in_progress".to_owned())
    }

    /// Completes the run with `conclusion` (`success`, `failure`, ...).
    pub fn completed(self, conclusion: &str) -> Self {
        let id = self.id;
        self.repo.edit(|r| r.complete_check_run(id, conclusion));
        self
    }

    pub fn output(self, title: &str, summary: &str) -> Self {
        let output = Output {
            title: title.to_owned(),
            summary: summary.to_owned(),
            text: None,
        };
        self.edit(|c| c.output = Some(output))
    }
}
