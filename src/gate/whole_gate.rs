//! The whole gate: every rule of the base besides its required checks, and
//! where the pull request stands against each one.
//!
//! [`WholeGateRules`] is what the base asks (from classic protection and
//! from every ruleset, each with its [`Source`]); [`PrGateState`] is what
//! GitHub knows about the pull request. [`rows`] puts them side by side,
//! one [`RuleRow`] per rule, worded for people. GitHub's own verdict
//! (`reviewDecision`) is preferred over recomputing it where it gives one:
//! it already counts code owners, dismissals and last-push approval.
//!
//! Pure: nothing here does I/O or knows GitHub's wire format.

use std::fmt;

use crate::gate::required_checks::Source;

/// One thing the base asks of a pull request besides its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// At least `count` approving reviews.
    ApprovingReviews { count: u32 },
    /// An approving review from a code owner of the changed files.
    CodeOwnerReview,
    /// The last push approved by someone other than who pushed it.
    LastPushApproval,
    /// Approvals are dismissed when new commits are pushed (GitHub does it).
    DismissStaleReviews,
    /// Every review conversation resolved.
    ConversationResolution,
    /// Every commit signed and verified.
    SignedCommits,
    /// No merge commits on the base.
    LinearHistory,
    /// A successful deployment to `environment` before merging.
    Deployment { environment: String },
    /// Only these merge methods (lowercase: `merge`, `squash`, `rebase`).
    MergeMethods { allowed: Vec<String> },
    /// The branch is read-only: nothing merges.
    LockBranch,
    /// A rule seamguard does not model (its GitHub name, e.g.
    /// `max_file_size`, or `push restrictions` for classic protection).
    NotModelled { name: String },
}

/// A rule and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedRule {
    pub rule: Rule,
    pub source: Source,
}

/// Everything the base asks besides its required checks, in reading order
/// (classic protection first, then rulesets as GitHub lists them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WholeGateRules {
    pub rules: Vec<AskedRule>,
}

impl WholeGateRules {
    /// The highest approving-review count any source asks (0: none).
    pub fn approvals_required(&self) -> u32 {
        self.rules
            .iter()
            .filter_map(|r| match r.rule {
                Rule::ApprovingReviews { count } => Some(count),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// The environments that must have a successful deployment.
    pub fn environments(&self) -> Vec<String> {
        let mut envs: Vec<String> = self
            .rules
            .iter()
            .filter_map(|r| match &r.rule {
                Rule::Deployment { environment } => Some(environment.clone()),
                _ => None,
            })
            .collect();
        envs.sort();
        envs.dedup();
        envs
    }
}

/// GitHub's `reviewDecision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    Approved,
    ChangesRequested,
    ReviewRequired,
}

/// GitHub's `mergeable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mergeable {
    Mergeable,
    Conflicting,
    /// Still computing (as right after every push): read again, never
    /// treat as clean or dirty.
    #[default]
    Unknown,
}

/// A reviewer's latest opinion that still counts (not dismissed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewSeen {
    pub login: String,
    pub approved: bool,
    /// The commit the review was given on.
    pub commit: Option<String>,
}

/// How the latest deployment to one environment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentState {
    Succeeded,
    InProgress,
    Failed,
    /// No deployment of the head to that environment.
    None,
}

/// What GitHub knows about the pull request against those rules. `None`
/// in a field means seamguard could not read it (then the rows that need it
/// say so, [`RowState::Unknown`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrGateState {
    pub head: Option<String>,
    pub review_decision: Option<ReviewDecision>,
    /// Latest opinionated review per reviewer, dismissed ones left out.
    pub reviews: Vec<ReviewSeen>,
    /// Code owners (users or `org/team`) asked for a review who have not
    /// given one yet.
    pub code_owners_pending: Option<Vec<String>>,
    pub unresolved_threads: Option<u32>,
    /// Short SHAs of the commits that are not verified-signed.
    pub unsigned_commits: Option<Vec<String>>,
    /// Short SHAs of merge commits in the branch.
    pub merge_commits: Option<Vec<String>>,
    /// The latest deployment of the head per environment asked for.
    pub deployments: Option<Vec<(String, DeploymentState)>>,
    pub mergeable: Mergeable,
    /// GitHub's `mergeStateStatus` (`CLEAN`, `BLOCKED`, `BEHIND`, `DIRTY`, …).
    pub merge_state: Option<String>,
    /// The method seamguard will merge with (`merge`, `squash`, `rebase`),
    /// from its configuration; `None` when not known.
    pub merge_method: Option<String>,
    /// The App permissions GitHub said are missing for parts of the read
    /// (`deployments: read`); the rows that need them say so.
    pub missing_permissions: Vec<String>,
}

impl PrGateState {
    fn approvers(&self) -> Vec<&str> {
        self.reviews
            .iter()
            .filter(|r| r.approved)
            .map(|r| r.login.as_str())
            .collect()
    }

    fn changes_requested_by(&self) -> Vec<&str> {
        self.reviews
            .iter()
            .filter(|r| !r.approved)
            .map(|r| r.login.as_str())
            .collect()
    }
}

/// Where one rule stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowState {
    Met,
    /// Blocks the merge: why, and who can clear it.
    Unmet {
        why: String,
        who: Option<String>,
    },
    /// seamguard could not tell (a read that failed or was not allowed).
    Unknown {
        why: String,
    },
    /// A rule seamguard does not model; GitHub still enforces it.
    NotChecked,
}

/// What a row is about, for a machine reading the blockers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Review,
    CodeOwner,
    Conversation,
    Signature,
    History,
    Deployment,
    MergeMethod,
    Lock,
    Other,
}

impl RowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Review => "review",
            RowKind::CodeOwner => "code_owner",
            RowKind::Conversation => "conversation",
            RowKind::Signature => "signature",
            RowKind::History => "history",
            RowKind::Deployment => "deployment",
            RowKind::MergeMethod => "merge_method",
            RowKind::Lock => "lock",
            RowKind::Other => "other",
        }
    }
}

/// One rule of the gate, side by side with the pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    pub rule: Rule,
    pub source: Source,
    pub state: RowState,
}

impl RuleRow {
    pub fn kind(&self) -> RowKind {
        match self.rule {
            Rule::ApprovingReviews { .. } | Rule::LastPushApproval | Rule::DismissStaleReviews => {
                RowKind::Review
            }
            Rule::CodeOwnerReview => RowKind::CodeOwner,
            Rule::ConversationResolution => RowKind::Conversation,
            Rule::SignedCommits => RowKind::Signature,
            Rule::LinearHistory => RowKind::History,
            Rule::Deployment { .. } => RowKind::Deployment,
            Rule::MergeMethods { .. } => RowKind::MergeMethod,
            Rule::LockBranch => RowKind::Lock,
            Rule::NotModelled { .. } => RowKind::Other,
        }
    }

    /// What the rule asks, with where from: "1 approving review required by
    /// ruleset 7".
    pub fn asked(&self) -> String {
        let src = &self.source;
        match &self.rule {
            Rule::ApprovingReviews { count } => format!(
                "{count} approving {} required by {src}",
                plural(*count as usize, "review", "reviews")
            ),
            Rule::CodeOwnerReview => format!("code owner review required by {src}"),
            Rule::LastPushApproval => {
                format!("approval of the last push required by {src}")
            }
            Rule::DismissStaleReviews => {
                format!("approvals dismissed on new pushes, by {src}")
            }
            Rule::ConversationResolution => {
                format!("conversations resolved before merging, required by {src}")
            }
            Rule::SignedCommits => format!("signed commits required by {src}"),
            Rule::LinearHistory => format!("linear history required by {src}"),
            Rule::Deployment { environment } => {
                format!("deployment to `{environment}` required by {src}")
            }
            Rule::MergeMethods { allowed } => format!(
                "merge methods limited to {} by {src}",
                words(allowed.iter().map(|m| format!("`{m}`")).collect())
            ),
            Rule::LockBranch => format!("branch locked by {src}"),
            Rule::NotModelled { name } => format!("{src}: `{name}`"),
        }
    }

    /// The row as one sentence: what is asked, where from, and its state.
    pub fn sentence(&self) -> String {
        let asked = self.asked();
        match &self.state {
            RowState::Met => format!("{asked} — met"),
            RowState::Unmet { why, who } => match who {
                Some(who) => format!("{asked} — {why}; {who}"),
                None => format!("{asked} — {why}"),
            },
            RowState::Unknown { why } => format!("{asked} — unknown: {why}"),
            RowState::NotChecked => format!("{asked} — not checked by seamguard"),
        }
    }

    pub fn blocks(&self) -> bool {
        matches!(self.state, RowState::Unmet { .. })
    }
}

impl fmt::Display for RuleRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence())
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// "a", "a and b", "a, b and c".
fn words(items: Vec<String>) -> String {
    joined(items, "and")
}

fn joined(items: Vec<String>, last: &str) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} {last} {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

fn logins(names: &[&str]) -> String {
    words(names.iter().map(|n| format!("@{n}")).collect())
}

fn unmet(why: impl Into<String>, who: Option<String>) -> RowState {
    RowState::Unmet {
        why: why.into(),
        who,
    }
}

/// When GitHub asks for changes: who asked.
fn changes_requested(state: &PrGateState) -> RowState {
    let by = state.changes_requested_by();
    if by.is_empty() {
        unmet("changes requested", None)
    } else {
        unmet(
            format!("changes requested by {}", logins(&by)),
            Some(format!(
                "{} can approve, or a maintainer can dismiss the review",
                logins(&by)
            )),
        )
    }
}

fn approving_reviews(count: u32, state: &PrGateState) -> RowState {
    let approvers = state.approvers();
    let have = approvers.len();
    match state.review_decision {
        Some(ReviewDecision::Approved) => return RowState::Met,
        Some(ReviewDecision::ChangesRequested) => return changes_requested(state),
        // GitHub says a review is still missing: never call it met.
        Some(ReviewDecision::ReviewRequired) => {}
        None if have >= count as usize => return RowState::Met,
        None => {}
    }
    let why = if have == 0 {
        "none yet".to_owned()
    } else if have >= count as usize {
        format!(
            "{have} so far ({}), but GitHub still requires a review",
            logins(&approvers)
        )
    } else {
        format!("{have} so far ({})", logins(&approvers))
    };
    unmet(why, Some("anyone with write access can approve".to_owned()))
}

fn code_owner_review(rules: &WholeGateRules, state: &PrGateState) -> RowState {
    match state.review_decision {
        Some(ReviewDecision::Approved) => return RowState::Met,
        Some(ReviewDecision::ChangesRequested) => return changes_requested(state),
        _ => {}
    }
    let pending = state.code_owners_pending.as_deref().unwrap_or_default();
    if !pending.is_empty() {
        let names: Vec<&str> = pending.iter().map(String::as_str).collect();
        return unmet(
            format!(
                "{} {} not approved",
                logins(&names),
                plural(names.len(), "has", "have")
            ),
            Some(format!("{} can approve", logins(&names))),
        );
    }
    let enough = state.approvers().len() >= rules.approvals_required().max(1) as usize;
    match state.review_decision {
        // Enough approvals, yet GitHub still asks for a review: the code
        // owner's is the one missing.
        Some(ReviewDecision::ReviewRequired) if enough => unmet(
            "no code owner has approved",
            Some("a code owner of the changed files can approve".to_owned()),
        ),
        Some(ReviewDecision::ReviewRequired) => RowState::Unknown {
            why: "GitHub still requires a review; seamguard cannot tell whether a code \
                  owner's is among those missing"
                .to_owned(),
        },
        _ if state.code_owners_pending.is_none() => RowState::Unknown {
            why: "the code owners' review requests could not be read".to_owned(),
        },
        _ if enough => RowState::Met,
        _ => unmet(
            "no code owner has approved",
            Some("a code owner of the changed files can approve".to_owned()),
        ),
    }
}

fn last_push_approval(state: &PrGateState) -> RowState {
    match state.review_decision {
        Some(ReviewDecision::Approved) => return RowState::Met,
        Some(ReviewDecision::ChangesRequested) => return changes_requested(state),
        _ => {}
    }
    let on_head = state
        .reviews
        .iter()
        .any(|r| r.approved && r.commit.is_some() && r.commit == state.head);
    let approvers = state.approvers();
    match (state.review_decision, on_head) {
        (None, true) => RowState::Met,
        (_, _) if approvers.is_empty() => unmet(
            "none yet",
            Some("someone other than who pushed last can approve".to_owned()),
        ),
        (_, false) => unmet(
            format!("{} approved before the last push", logins(&approvers)),
            Some("someone other than who pushed last can approve the latest push".to_owned()),
        ),
        // Approved on the head, and GitHub still requires a review: the
        // approval is likely the pusher's own.
        (_, true) => unmet(
            format!(
                "{} approved the last push, but GitHub still requires a review (an approval \
                 by whoever pushed last does not count)",
                logins(&approvers)
            ),
            Some("someone other than who pushed last can approve".to_owned()),
        ),
    }
}

fn conversation_resolution(state: &PrGateState) -> RowState {
    match state.unresolved_threads {
        Some(0) => RowState::Met,
        Some(n) => unmet(
            format!(
                "{n} {} unresolved",
                plural(n as usize, "conversation", "conversations")
            ),
            Some("the pull request's author or a reviewer can resolve them".to_owned()),
        ),
        None => RowState::Unknown {
            why: "the review threads could not be read".to_owned(),
        },
    }
}

fn short_list(what_one: &str, what_many: &str, shas: &[String], tail: &str) -> String {
    const SHOWN: usize = 5;
    let mut named: Vec<String> = shas.iter().take(SHOWN).cloned().collect();
    if shas.len() > SHOWN {
        named.push(format!("{} more", shas.len() - SHOWN));
    }
    let what = plural(shas.len(), what_one, what_many);
    let verb = plural(shas.len(), "is", "are");
    format!("{what} {} {verb} {tail}", words(named))
}

fn signed_commits(state: &PrGateState) -> RowState {
    match state.unsigned_commits.as_deref() {
        Some([]) => RowState::Met,
        Some(shas) => unmet(
            short_list("commit", "commits", shas, "not signed"),
            Some("the author can sign them and force-push".to_owned()),
        ),
        None => RowState::Unknown {
            why: "the commits' signatures could not be read".to_owned(),
        },
    }
}

fn linear_history(state: &PrGateState) -> RowState {
    if state.merge_method.as_deref() == Some("merge") {
        return unmet(
            "seamguard is set to merge with a merge commit",
            Some("set `merge.method` to `squash` or `rebase`".to_owned()),
        );
    }
    match state.merge_commits.as_deref() {
        Some([]) => RowState::Met,
        Some(_) if state.merge_method.as_deref() == Some("squash") => RowState::Met,
        Some(shas) => unmet(
            short_list("merge commit", "merge commits", shas, "in the branch"),
            Some("rebase the branch onto its base, or merge with `squash`".to_owned()),
        ),
        None => RowState::Unknown {
            why: "the branch's commits could not be read".to_owned(),
        },
    }
}

fn deployment(environment: &str, state: &PrGateState) -> RowState {
    let Some(deployments) = &state.deployments else {
        const PERMISSION: &str = "deployments: read";
        let why = if state.missing_permissions.iter().any(|p| p == PERMISSION) {
            format!(
                "the deployments could not be read: the installation has not granted `{PERMISSION}`"
            )
        } else {
            "the deployments could not be read".to_owned()
        };
        return RowState::Unknown { why };
    };
    let seen = deployments
        .iter()
        .find(|(env, _)| env == environment)
        .map_or(DeploymentState::None, |(_, s)| *s);
    let who = Some(format!(
        "a deployment of the head to `{environment}` that succeeds clears it"
    ));
    match seen {
        DeploymentState::Succeeded => RowState::Met,
        DeploymentState::InProgress => unmet(
            format!("deployment to `{environment}` has not succeeded yet (in progress)"),
            who,
        ),
        DeploymentState::Failed => unmet(format!("deployment to `{environment}` failed"), who),
        DeploymentState::None => unmet(
            format!("deployment to `{environment}` has not succeeded (none of the head yet)"),
            who,
        ),
    }
}

fn merge_methods(allowed: &[String], state: &PrGateState) -> RowState {
    match &state.merge_method {
        Some(m) if allowed.iter().any(|a| a.eq_ignore_ascii_case(m)) => RowState::Met,
        Some(m) => unmet(
            format!("seamguard is set to `{m}`"),
            Some(format!(
                "set `merge.method` to {}",
                joined(allowed.iter().map(|a| format!("`{a}`")).collect(), "or")
            )),
        ),
        None => RowState::Unknown {
            why: "seamguard's merge method is not known here".to_owned(),
        },
    }
}

/// Each rule beside the pull request's state, in the rules' order.
pub fn rows(rules: &WholeGateRules, state: &PrGateState) -> Vec<RuleRow> {
    rules
        .rules
        .iter()
        .map(|asked| {
            let state = match &asked.rule {
                Rule::ApprovingReviews { count } => approving_reviews(*count, state),
                Rule::CodeOwnerReview => code_owner_review(rules, state),
                Rule::LastPushApproval => last_push_approval(state),
                // GitHub applies it itself on each push; the dismissed
                // reviews are already left out of the state.
                Rule::DismissStaleReviews => RowState::Met,
                Rule::ConversationResolution => conversation_resolution(state),
                Rule::SignedCommits => signed_commits(state),
                Rule::LinearHistory => linear_history(state),
                Rule::Deployment { environment } => deployment(environment, state),
                Rule::MergeMethods { allowed } => merge_methods(allowed, state),
                Rule::LockBranch => unmet(
                    "nothing can merge into a locked branch",
                    Some("a repository admin can unlock it".to_owned()),
                ),
                Rule::NotModelled { .. } => RowState::NotChecked,
            };
            RuleRow {
                rule: asked.rule.clone(),
                source: asked.source.clone(),
                state,
            }
        })
        .collect()
}

/// The rows as a markdown list for the check run's summary; empty when
/// there are none.
pub fn render_rows(rows: &[RuleRow]) -> String {
    render_rows_since(rows, &[])
}

/// The rows as the check run lists them, each unmet or unknown one with
/// since when it stands so (`since` in the same order, when known; a met
/// row says nothing of time).
pub fn render_rows_since(rows: &[RuleRow], since: &[chrono::DateTime<chrono::Utc>]) -> String {
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let mark = match row.state {
            RowState::Met => "✅",
            RowState::Unmet { .. } => "⏳",
            RowState::Unknown { .. } => "❔",
            RowState::NotChecked => "➖",
        };
        out.push_str(&format!("- {mark} {}", row.sentence()));
        if let Some(at) = since.get(i)
            && matches!(row.state, RowState::Unmet { .. } | RowState::Unknown { .. })
        {
            out.push_str(&format!(" ({})", crate::gate::row_since::words(*at)));
        }
        out.push('\n');
    }
    out
}

/// What the plan waits for, in one sentence ("waiting for 1 approving
/// review and 2 conversations to be resolved"); `None` when no row blocks.
pub fn waiting_for(rows: &[RuleRow]) -> Option<String> {
    // Several sources asking for approvals wait for the most any asks.
    let most = rows
        .iter()
        .filter(|r| r.blocks())
        .filter_map(|r| match r.rule {
            Rule::ApprovingReviews { count } => Some(count),
            _ => None,
        })
        .max();
    let mut parts: Vec<String> = Vec::new();
    for row in rows.iter().filter(|r| r.blocks()) {
        let part = match (&row.rule, &row.state) {
            (Rule::ApprovingReviews { count }, _) if Some(*count) != most => continue,
            (Rule::ApprovingReviews { count }, _) => format!(
                "{count} approving {}",
                plural(*count as usize, "review", "reviews")
            ),
            (Rule::CodeOwnerReview, _) => "a code owner's approval".to_owned(),
            (Rule::LastPushApproval, _) => "an approval of the last push".to_owned(),
            (Rule::ConversationResolution, RowState::Unmet { why, .. }) => {
                format!("{} to be resolved", why.trim_end_matches(" unresolved"))
            }
            (Rule::SignedCommits, _) => "signed commits".to_owned(),
            (Rule::LinearHistory, _) => "a linear history".to_owned(),
            (Rule::Deployment { environment }, _) => {
                format!("a successful deployment to `{environment}`")
            }
            (Rule::MergeMethods { .. }, _) => "an allowed merge method".to_owned(),
            (Rule::LockBranch, _) => "the branch to be unlocked".to_owned(),
            _ => continue,
        };
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    (!parts.is_empty()).then(|| format!("waiting for {}", words(parts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ruleset(id: u64) -> Source {
        Source::Ruleset {
            id: Some(id),
            source: None,
        }
    }

    fn gate(rules: Vec<(Rule, Source)>) -> WholeGateRules {
        WholeGateRules {
            rules: rules
                .into_iter()
                .map(|(rule, source)| AskedRule { rule, source })
                .collect(),
        }
    }

    fn approval(login: &str, commit: &str) -> ReviewSeen {
        ReviewSeen {
            login: login.into(),
            approved: true,
            commit: Some(commit.into()),
        }
    }

    fn state() -> PrGateState {
        PrGateState {
            head: Some("h".into()),
            code_owners_pending: Some(vec![]),
            unresolved_threads: Some(0),
            unsigned_commits: Some(vec![]),
            merge_commits: Some(vec![]),
            deployments: Some(vec![]),
            mergeable: Mergeable::Mergeable,
            ..PrGateState::default()
        }
    }

    fn one(rule: Rule, source: Source, state: &PrGateState) -> RuleRow {
        rows(&gate(vec![(rule, source)]), state).remove(0)
    }

    #[test]
    fn a_missing_review_reads_as_people_say_it() {
        let waiting = PrGateState {
            review_decision: Some(ReviewDecision::ReviewRequired),
            ..state()
        };
        let row = one(Rule::ApprovingReviews { count: 1 }, ruleset(7), &waiting);
        assert_eq!(
            row.sentence(),
            "1 approving review required by ruleset 7 — none yet; anyone with write access \
             can approve"
        );
        assert_eq!(
            waiting_for(std::slice::from_ref(&row)).as_deref(),
            Some("waiting for 1 approving review")
        );
        let two = PrGateState {
            reviews: vec![approval("alice", "h")],
            ..waiting
        };
        let row = one(
            Rule::ApprovingReviews { count: 2 },
            Source::Protection,
            &two,
        );
        let both = rows(
            &gate(vec![
                (Rule::ApprovingReviews { count: 1 }, ruleset(7)),
                (Rule::ApprovingReviews { count: 2 }, Source::Protection),
            ]),
            &two,
        );
        assert_eq!(
            waiting_for(&both).as_deref(),
            Some("waiting for 2 approving reviews"),
            "the most any source asks, once"
        );
        assert_eq!(
            row.sentence(),
            "2 approving reviews required by branch protection — 1 so far (@alice); anyone \
             with write access can approve"
        );
    }

    #[test]
    fn githubs_verdict_wins_over_counting() {
        let rule = Rule::ApprovingReviews { count: 2 };
        // GitHub says approved although seamguard sees one approval only.
        let approved = PrGateState {
            review_decision: Some(ReviewDecision::Approved),
            reviews: vec![approval("alice", "h")],
            ..state()
        };
        assert_eq!(
            one(rule.clone(), ruleset(1), &approved).state,
            RowState::Met
        );
        // Two approvals seen, but GitHub still requires one: not met.
        let required = PrGateState {
            review_decision: Some(ReviewDecision::ReviewRequired),
            reviews: vec![approval("alice", "h"), approval("bob", "h")],
            ..state()
        };
        assert!(one(rule.clone(), ruleset(1), &required).blocks());
        // No verdict (reviews not required in GitHub's eyes): count.
        let counted = PrGateState {
            review_decision: None,
            ..required.clone()
        };
        assert_eq!(one(rule.clone(), ruleset(1), &counted).state, RowState::Met);
        let changes = PrGateState {
            review_decision: Some(ReviewDecision::ChangesRequested),
            reviews: vec![
                approval("alice", "h"),
                ReviewSeen {
                    login: "carol".into(),
                    approved: false,
                    commit: None,
                },
            ],
            ..state()
        };
        assert_eq!(
            one(rule, ruleset(1), &changes).sentence(),
            "2 approving reviews required by ruleset 1 — changes requested by @carol; @carol \
             can approve, or a maintainer can dismiss the review"
        );
    }

    #[test]
    fn code_owners_who_have_not_approved_are_named() {
        let waiting = PrGateState {
            review_decision: Some(ReviewDecision::ReviewRequired),
            code_owners_pending: Some(vec!["acme/db".into()]),
            ..state()
        };
        assert_eq!(
            one(Rule::CodeOwnerReview, ruleset(7), &waiting).sentence(),
            "code owner review required by ruleset 7 — @acme/db has not approved; @acme/db \
             can approve"
        );
        // Enough approvals yet a review still required: the code owner's.
        let enough = PrGateState {
            code_owners_pending: Some(vec![]),
            reviews: vec![approval("alice", "h")],
            ..waiting.clone()
        };
        let rules = gate(vec![
            (Rule::ApprovingReviews { count: 1 }, ruleset(7)),
            (Rule::CodeOwnerReview, ruleset(7)),
        ]);
        let got = rows(&rules, &enough);
        assert!(got[1].blocks(), "{:?}", got[1]);
        // Not enough approvals and no named owner: cannot tell.
        let unsure = PrGateState {
            reviews: vec![],
            ..enough
        };
        assert!(matches!(
            rows(&rules, &unsure)[1].state,
            RowState::Unknown { .. }
        ));
    }

    #[test]
    fn an_approval_before_the_last_push_does_not_clear_last_push_approval() {
        let stale = PrGateState {
            review_decision: Some(ReviewDecision::ReviewRequired),
            reviews: vec![approval("alice", "old")],
            ..state()
        };
        assert_eq!(
            one(Rule::LastPushApproval, Source::Protection, &stale).sentence(),
            "approval of the last push required by branch protection — @alice approved before \
             the last push; someone other than who pushed last can approve the latest push"
        );
        let fresh = PrGateState {
            review_decision: Some(ReviewDecision::Approved),
            reviews: vec![approval("alice", "h")],
            ..state()
        };
        assert_eq!(
            one(Rule::LastPushApproval, Source::Protection, &fresh).state,
            RowState::Met
        );
    }

    #[test]
    fn conversations_signatures_history_and_deployments() {
        let s = PrGateState {
            unresolved_threads: Some(2),
            unsigned_commits: Some(vec!["3e4f1a2".into()]),
            merge_commits: Some(vec!["9a8b7c6".into()]),
            deployments: Some(vec![
                ("staging".into(), DeploymentState::Failed),
                ("qa".into(), DeploymentState::Succeeded),
            ]),
            ..state()
        };
        let rules = gate(vec![
            (Rule::ConversationResolution, Source::Protection),
            (Rule::SignedCommits, ruleset(3)),
            (Rule::LinearHistory, ruleset(3)),
            (
                Rule::Deployment {
                    environment: "staging".into(),
                },
                ruleset(4),
            ),
            (
                Rule::Deployment {
                    environment: "qa".into(),
                },
                ruleset(4),
            ),
            (
                Rule::Deployment {
                    environment: "prod".into(),
                },
                ruleset(4),
            ),
        ]);
        let got: Vec<String> = rows(&rules, &s).iter().map(RuleRow::sentence).collect();
        assert_eq!(
            got,
            vec![
                "conversations resolved before merging, required by branch protection — 2 \
                 conversations unresolved; the pull request's author or a reviewer can resolve \
                 them",
                "signed commits required by ruleset 3 — commit 3e4f1a2 is not signed; the \
                 author can sign them and force-push",
                "linear history required by ruleset 3 — merge commit 9a8b7c6 is in the branch; \
                 rebase the branch onto its base, or merge with `squash`",
                "deployment to `staging` required by ruleset 4 — deployment to `staging` \
                 failed; a deployment of the head to `staging` that succeeds clears it",
                "deployment to `qa` required by ruleset 4 — met",
                "deployment to `prod` required by ruleset 4 — deployment to `prod` has not \
                 succeeded (none of the head yet); a deployment of the head to `prod` that \
                 succeeds clears it",
            ]
        );
        assert_eq!(
            waiting_for(&rows(&rules, &s)).as_deref(),
            Some(
                "waiting for 2 conversations to be resolved, signed commits, a linear history, \
                 a successful deployment to `staging` and a successful deployment to `prod`"
            )
        );
        // A squash merge keeps the history linear whatever the branch holds.
        let squash = PrGateState {
            merge_method: Some("squash".into()),
            ..s
        };
        assert_eq!(
            one(Rule::LinearHistory, ruleset(3), &squash).state,
            RowState::Met
        );
    }

    #[test]
    fn what_could_not_be_read_is_unknown_never_met() {
        let blind = PrGateState::default();
        for rule in [
            Rule::ConversationResolution,
            Rule::SignedCommits,
            Rule::LinearHistory,
            Rule::Deployment {
                environment: "staging".into(),
            },
            Rule::MergeMethods {
                allowed: vec!["squash".into()],
            },
        ] {
            let row = one(rule.clone(), ruleset(1), &blind);
            assert!(
                matches!(row.state, RowState::Unknown { .. }),
                "{rule:?}: {row:?}"
            );
            assert!(!row.blocks());
        }
    }

    #[test]
    fn deployments_without_their_permission_say_which_is_missing() {
        let blind = PrGateState {
            deployments: None,
            missing_permissions: vec!["deployments: read".into()],
            ..state()
        };
        let row = one(
            Rule::Deployment {
                environment: "staging".into(),
            },
            ruleset(4),
            &blind,
        );
        assert_eq!(
            row.sentence(),
            "deployment to `staging` required by ruleset 4 — unknown: the deployments could \
             not be read: the installation has not granted `deployments: read`"
        );
    }

    #[test]
    fn unmodelled_rules_are_listed_never_dropped() {
        let rules = gate(vec![
            (
                Rule::NotModelled {
                    name: "max_file_size".into(),
                },
                ruleset(12),
            ),
            (Rule::DismissStaleReviews, Source::Protection),
        ]);
        let got = rows(&rules, &state());
        assert_eq!(
            got[0].sentence(),
            "ruleset 12: `max_file_size` — not checked by seamguard"
        );
        assert_eq!(got.len(), 2);
        assert_eq!(waiting_for(&got), None);
        assert_eq!(
            render_rows(&got),
            "- ➖ ruleset 12: `max_file_size` — not checked by seamguard\n\
             - ✅ approvals dismissed on new pushes, by branch protection — met\n"
        );
    }

    #[test]
    fn a_forbidden_merge_method_names_the_allowed_ones() {
        let s = PrGateState {
            merge_method: Some("merge".into()),
            ..state()
        };
        let row = one(
            Rule::MergeMethods {
                allowed: vec!["squash".into(), "rebase".into()],
            },
            ruleset(5),
            &s,
        );
        assert_eq!(
            row.sentence(),
            "merge methods limited to `squash` and `rebase` by ruleset 5 — seamguard is set \
             to `merge`; set `merge.method` to `squash` or `rebase`"
        );
    }

    #[test]
    fn rows_keep_one_per_rule_in_order_and_every_unmet_row_is_waited_for() {
        // Property over every combination of a small state space: one row
        // per rule, in order; `waiting_for` is None exactly when none blocks.
        let all = vec![
            (Rule::ApprovingReviews { count: 1 }, ruleset(1)),
            (Rule::CodeOwnerReview, ruleset(1)),
            (Rule::LastPushApproval, Source::Protection),
            (Rule::ConversationResolution, Source::Protection),
            (Rule::SignedCommits, ruleset(2)),
            (Rule::LinearHistory, ruleset(2)),
            (
                Rule::Deployment {
                    environment: "staging".into(),
                },
                ruleset(3),
            ),
        ];
        let rules = gate(all.clone());
        for decision in [
            None,
            Some(ReviewDecision::Approved),
            Some(ReviewDecision::ReviewRequired),
            Some(ReviewDecision::ChangesRequested),
        ] {
            for threads in [None, Some(0), Some(3)] {
                for unsigned in [None, Some(vec![]), Some(vec!["abc1234".to_owned()])] {
                    for deployed in [DeploymentState::Succeeded, DeploymentState::None] {
                        let s = PrGateState {
                            review_decision: decision,
                            unresolved_threads: threads,
                            unsigned_commits: unsigned.clone(),
                            deployments: Some(vec![("staging".into(), deployed)]),
                            ..state()
                        };
                        let got = rows(&rules, &s);
                        assert_eq!(got.len(), all.len());
                        for (row, (rule, source)) in got.iter().zip(&all) {
                            assert_eq!((&row.rule, &row.source), (rule, source));
                        }
                        assert_eq!(
                            waiting_for(&got).is_some(),
                            got.iter().any(RuleRow::blocks),
                            "{s:?}"
                        );
                        if decision == Some(ReviewDecision::Approved) {
                            assert!(got[..3].iter().all(|r| r.state == RowState::Met));
                        }
                    }
                }
            }
        }
    }
}
