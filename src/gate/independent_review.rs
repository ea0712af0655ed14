//! Independent review for agent-written changes (`agents.independent_approvals`).
//!
//! GitHub refuses the initiator's approval only for its own Copilot agent:
//! for any other coding agent, the person who asked for a change can approve
//! it themselves, and an agent-written pull request merges with no second
//! human having read it. This rule says whether a pull request is
//! agent-written and, if so, which approvals come from people who neither
//! wrote it nor asked for it.
//!
//! - **Agent-written**: its author, or any commit's author or committer, is
//!   a coding-agent account ([`KNOWN_AGENTS`] and `agents.accounts`), or a
//!   commit's `Co-authored-by` trailer names one.
//! - **Independent**: an approval counts only from someone who is none of
//!   the pull request's author, its assignees (these agents assign the
//!   person they work for), any commit's author or committer, anyone named
//!   in a `Co-authored-by` trailer, or an agent. Only each reviewer's latest
//!   review counts; an approval given on an older commit does not count
//!   when the base requires approval of the last push.
//!
//! Pure: the engine reads the facts (one GraphQL query, only when the guard
//! is on) and converts them in `engine::gate_facts`.

use crate::gate::decision::{GuardOutcome, GuardVerdict};
use crate::gate::whole_gate::ReviewSeen;

/// The guard's name in the check run's table.
pub const GUARD_NAME: &str = "Independent review";

/// A coding agent seamguard knows, with the accounts it writes as.
#[derive(Debug, Clone, Copy)]
pub struct KnownAgent {
    pub product: &'static str,
    /// Logins as GitHub's REST API spells them (an App's bot with `[bot]`).
    pub logins: &'static [&'static str],
    /// Commit e-mail addresses the agent writes (outside GitHub's noreply
    /// domain, which names a login and is matched by it).
    pub emails: &'static [&'static str],
    /// Where the names come from.
    pub source: &'static str,
}

/// The built-in list of coding-agent accounts. `agents.accounts` adds to it.
pub const KNOWN_AGENTS: &[KnownAgent] = &[
    KnownAgent {
        product: "GitHub Copilot coding agent",
        logins: &["Copilot", "copilot-swe-agent[bot]"],
        emails: &[],
        // GitHub's docs ("Reviewing a pull request created by Copilot"):
        // the pull request is opened by `Copilot`; its commits are written
        // by the `copilot-swe-agent` App (`ID+Copilot@users.noreply…`).
        source: "GitHub's Copilot coding agent docs: pull requests by `Copilot`, commits by the \
                 `copilot-swe-agent` App",
    },
    KnownAgent {
        product: "Claude (Anthropic)",
        logins: &["claude[bot]"],
        emails: &["noreply@anthropic.com"],
        // The `claude` GitHub App of anthropics/claude-code-action, and the
        // `Co-Authored-By: Claude <noreply@anthropic.com>` trailer Claude
        // Code writes (anthropics/claude-code-action#173).
        source: "Anthropic's `claude` GitHub App (claude-code-action) and Claude Code's \
                 `Co-Authored-By: Claude <noreply@anthropic.com>` trailer",
    },
    KnownAgent {
        product: "OpenAI Codex",
        logins: &["chatgpt-codex-connector[bot]"],
        emails: &[],
        source: "the ChatGPT Codex connector App's slug, as documented by the vendor",
    },
    KnownAgent {
        product: "Devin",
        logins: &["devin-ai-integration[bot]"],
        emails: &[],
        source: "Devin's GitHub App slug, as documented by the vendor",
    },
    KnownAgent {
        product: "Cursor",
        logins: &["cursor[bot]", "cursoragent"],
        emails: &["cursoragent@cursor.com"],
        // Cursor's background agents add `Co-authored-by: Cursor Agent
        // <cursoragent@cursor.com>`, as public repositories show.
        source: "Cursor's App and its background agents' `Cursor Agent <cursoragent@cursor.com>` \
                 trailer, as documented by the vendor",
    },
    KnownAgent {
        product: "Jules (Google)",
        logins: &["google-labs-jules[bot]"],
        emails: &[],
        source: "the Jules GitHub App's slug, as documented by the vendor",
    },
];

/// Someone as git records them on a commit: name and e-mail, and the
/// GitHub login GitHub matched the e-mail to (if any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitPerson {
    pub name: Option<String>,
    pub email: Option<String>,
    pub login: Option<String>,
}

/// One commit of the pull request, as the rule reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitSeen {
    pub short: String,
    pub author: Option<GitPerson>,
    pub committer: Option<GitPerson>,
    pub message: String,
}

/// Who wrote the pull request and who asked for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorship {
    /// The pull request's author (a bot with `[bot]`).
    pub author: Option<String>,
    pub assignees: Vec<String>,
    /// Its commits, oldest first (at most the last 100).
    pub commits: Vec<CommitSeen>,
    /// Every commit was read (false: more than GitHub answers at once).
    pub complete: bool,
}

/// What the configuration and the base ask.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// `agents.independent_approvals` (0: the guard is off).
    pub required: u32,
    /// `agents.accounts`.
    pub accounts: &'a [String],
    /// The base requires approval of the most recent push.
    pub last_push_approval: bool,
}

/// How a pull request shows it is agent-written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sign {
    /// The agent opened it.
    Author,
    CommitAuthor {
        commit: String,
    },
    Committer {
        commit: String,
    },
    /// A `Co-authored-by` trailer names the agent.
    Trailer {
        commit: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSign {
    pub account: String,
    pub sign: Sign,
}

/// Why one approval does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// The reviewer is a coding agent.
    Agent,
    /// They opened the pull request.
    Author,
    /// They are assigned to it.
    Assignee,
    /// They wrote, committed or co-authored `commits` of its commits;
    /// `with` names the agents in those same commits.
    CoAuthor { commits: usize, with: Vec<String> },
    /// Given on `commit`, before the last push, where the base requires
    /// approval of the last push.
    Stale { commit: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotCounted {
    pub login: String,
    pub why: Vec<Why>,
}

/// The rule's verdict on one head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// How the pull request is agent-written; empty: written by people.
    pub agents: Vec<AgentSign>,
    /// Approvals that count, by login.
    pub counted: Vec<String>,
    pub not_counted: Vec<NotCounted>,
    pub required: u32,
    /// Not every commit could be read: who wrote the others is unknown.
    pub incomplete: bool,
}

/// A login as identities are compared: GitHub logins are case-insensitive.
fn key(login: &str) -> String {
    login.to_ascii_lowercase()
}

/// `*` matches any run of characters, `?` one; everything else (brackets
/// included: `claude[bot]`) is literal; case-insensitive.
pub fn account_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The login a GitHub noreply address names: `ID+login@users.noreply.github.com`
/// or the older `login@users.noreply.github.com`.
pub fn noreply_login(email: &str) -> Option<String> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case("users.noreply.github.com") {
        return None;
    }
    let login = match local.split_once('+') {
        Some((id, login)) if id.chars().all(|c| c.is_ascii_digit()) => login,
        _ => local,
    };
    (!login.is_empty()).then(|| login.to_owned())
}

/// `Co-authored-by: Name <email>` trailers of a commit message (the key is
/// case-insensitive, as git's and GitHub's are).
pub fn co_authors(message: &str) -> Vec<GitPerson> {
    message
        .lines()
        .filter_map(|line| {
            let (k, v) = line.trim().split_once(':')?;
            if !k.trim().eq_ignore_ascii_case("co-authored-by") {
                return None;
            }
            let v = v.trim();
            let (name, email) = match (v.find('<'), v.rfind('>')) {
                (Some(open), Some(close)) if open < close => {
                    (v[..open].trim(), Some(v[open + 1..close].trim()))
                }
                _ => (v, None),
            };
            let email = email.filter(|e| !e.is_empty()).map(str::to_owned);
            Some(GitPerson {
                name: (!name.is_empty()).then(|| name.to_owned()),
                login: email.as_deref().and_then(noreply_login),
                email,
            })
        })
        .collect()
}

/// Is `login` a coding-agent account? A bot's login is also tried without
/// its `[bot]` (GitHub's Copilot opens pull requests as `Copilot`).
fn agent_login(login: &str, accounts: &[String]) -> bool {
    let bare = login.strip_suffix("[bot]").filter(|b| !b.is_empty());
    let builtin = KNOWN_AGENTS.iter().flat_map(|a| a.logins.iter().copied());
    let extra = accounts
        .iter()
        .map(String::as_str)
        .filter(|a| !a.contains('@'));
    builtin.chain(extra).any(|pattern| {
        account_matches(pattern, login) || bare.is_some_and(|b| account_matches(pattern, b))
    })
}

fn agent_email(email: &str, accounts: &[String]) -> bool {
    let builtin = KNOWN_AGENTS.iter().flat_map(|a| a.emails.iter().copied());
    let extra = accounts
        .iter()
        .map(String::as_str)
        .filter(|a| a.contains('@'));
    builtin
        .chain(extra)
        .any(|pattern| account_matches(pattern, email))
}

/// The agent account `person` is, if any: by login (GitHub's, or the one
/// a noreply address names), else by e-mail.
fn agent_of(person: &GitPerson, accounts: &[String]) -> Option<String> {
    let login = person
        .login
        .clone()
        .or_else(|| person.email.as_deref().and_then(noreply_login));
    if let Some(login) = login.filter(|l| agent_login(l, accounts)) {
        return Some(login);
    }
    let email = person.email.as_deref()?;
    agent_email(email, accounts).then(|| {
        person
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .map_or_else(|| email.to_owned(), |n| format!("{n} <{email}>"))
    })
}

/// The login `person` is, as far as approvals can be compared to it: the
/// one GitHub matched, the one a noreply address names, or the login seen
/// elsewhere in the pull request with the same e-mail.
fn login_of(person: &GitPerson, emails: &[(String, String)]) -> Option<String> {
    person
        .login
        .clone()
        .or_else(|| person.email.as_deref().and_then(noreply_login))
        .or_else(|| {
            let email = person.email.as_deref()?.to_ascii_lowercase();
            emails
                .iter()
                .find(|(e, _)| *e == email)
                .map(|(_, l)| l.clone())
        })
}

/// One commit's people: author, committer and co-authors.
fn people(c: &CommitSeen) -> Vec<(GitPerson, Role)> {
    let mut out = Vec::new();
    if let Some(a) = &c.author {
        out.push((a.clone(), Role::Author));
    }
    if let Some(a) = &c.committer {
        out.push((a.clone(), Role::Committer));
    }
    out.extend(
        co_authors(&c.message)
            .into_iter()
            .map(|p| (p, Role::CoAuthor)),
    );
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Author,
    Committer,
    CoAuthor,
}

/// Judges the approvals of an agent-written pull request. `None` when the
/// guard is off (`required` 0).
pub fn judge(
    facts: &Authorship,
    reviews: &[ReviewSeen],
    head: &str,
    policy: &Policy<'_>,
) -> Option<Outcome> {
    if policy.required == 0 {
        return None;
    }
    let accounts = policy.accounts;
    // E-mails GitHub matched to a login, to name a co-author who used the
    // same address on another commit.
    let emails: Vec<(String, String)> = facts
        .commits
        .iter()
        .flat_map(|c| [&c.author, &c.committer])
        .flatten()
        .filter_map(|p| Some((p.email.as_deref()?.to_ascii_lowercase(), p.login.clone()?)))
        .collect();

    let mut agents: Vec<AgentSign> = Vec::new();
    if let Some(author) = &facts.author
        && agent_login(author, accounts)
    {
        agents.push(AgentSign {
            account: author.clone(),
            sign: Sign::Author,
        });
    }
    // Per commit: the logins in it, and the agents in it.
    let mut per_commit: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for c in &facts.commits {
        let mut logins = Vec::new();
        let mut in_commit = Vec::new();
        for (person, role) in people(c) {
            if let Some(agent) = agent_of(&person, accounts) {
                let commit = c.short.clone();
                let sign = match role {
                    Role::Author => Sign::CommitAuthor { commit },
                    Role::Committer => Sign::Committer { commit },
                    Role::CoAuthor => Sign::Trailer { commit },
                };
                if !in_commit.contains(&agent) {
                    in_commit.push(agent.clone());
                }
                agents.push(AgentSign {
                    account: agent,
                    sign,
                });
            }
            if let Some(login) = login_of(&person, &emails) {
                let login = key(&login);
                if !logins.contains(&login) {
                    logins.push(login);
                }
            }
        }
        per_commit.push((logins, in_commit));
    }

    let mut counted = Vec::new();
    let mut not_counted = Vec::new();
    for review in reviews.iter().filter(|r| r.approved) {
        let me = key(&review.login);
        let mut why = Vec::new();
        if agent_login(&review.login, accounts) {
            why.push(Why::Agent);
        }
        if facts.author.as_deref().map(key).as_ref() == Some(&me) {
            why.push(Why::Author);
        }
        if facts.assignees.iter().any(|a| key(a) == me) {
            why.push(Why::Assignee);
        }
        let mine: Vec<&(Vec<String>, Vec<String>)> =
            per_commit.iter().filter(|(l, _)| l.contains(&me)).collect();
        if !mine.is_empty() {
            let mut with: Vec<String> = Vec::new();
            for (_, in_commit) in &mine {
                for a in in_commit {
                    if key(a) != me && !with.contains(a) {
                        with.push(a.clone());
                    }
                }
            }
            why.push(Why::CoAuthor {
                commits: mine.len(),
                with,
            });
        }
        if policy.last_push_approval
            && let Some(commit) = review.commit.as_deref().filter(|c| *c != head)
        {
            why.push(Why::Stale {
                commit: commit.chars().take(7).collect(),
            });
        }
        if why.is_empty() {
            counted.push(review.login.clone());
        } else {
            not_counted.push(NotCounted {
                login: review.login.clone(),
                why,
            });
        }
    }
    Some(Outcome {
        agents,
        counted,
        not_counted,
        required: policy.required,
        incomplete: !facts.complete,
    })
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

impl Why {
    fn text(&self) -> String {
        match self {
            Why::Agent => "is a coding agent".to_owned(),
            Why::Author => "opened the pull request".to_owned(),
            Why::Assignee => "is assigned to it (the person an agent works for)".to_owned(),
            Why::CoAuthor { commits, with } if with.is_empty() => {
                format!("is an author of {commits} of its commits")
            }
            Why::CoAuthor { commits, with } => format!(
                "is co-author of {} with {}",
                plural(*commits, "commit", "commits"),
                and_list(with)
            ),
            Why::Stale { commit } => format!(
                "on {commit}, before the last push (the base requires approval of the last push)"
            ),
        }
    }
}

impl NotCounted {
    /// "@alice approved, but is co-author of 3 commits with claude[bot]".
    pub fn sentence(&self) -> String {
        let whys: Vec<String> = self.why.iter().map(Why::text).collect();
        format!("@{} approved, but {}", self.login, and_list(&whys))
    }
}

impl Sign {
    fn text(&self, account: &str) -> String {
        match self {
            Sign::Author => format!("{account} opened it"),
            Sign::CommitAuthor { commit } => format!("{account} wrote commit {commit}"),
            Sign::Committer { commit } => format!("{account} committed {commit}"),
            Sign::Trailer { commit } => {
                format!("{commit} names {account} in a `Co-authored-by` trailer")
            }
        }
    }
}

impl Outcome {
    pub fn agent_written(&self) -> bool {
        !self.agents.is_empty()
    }

    /// Enough independent approvals (or not agent-written). A pull request
    /// whose commits could not all be read is never taken as met: an
    /// approver may have written one that was not read.
    pub fn met(&self) -> bool {
        !self.agent_written() || (!self.incomplete && self.counted.len() as u32 >= self.required)
    }

    /// How many more approvals it needs.
    pub fn missing(&self) -> u32 {
        self.required.saturating_sub(self.counted.len() as u32)
    }

    /// The agent accounts, each once, in the order found.
    pub fn agent_accounts(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in &self.agents {
            if !out.iter().any(|o| key(o) == key(&a.account)) {
                out.push(a.account.clone());
            }
        }
        out
    }

    /// The guard's row: its verdict, a headline naming whose approvals did
    /// not count and why, and its section.
    pub fn guard(&self) -> GuardOutcome {
        let config = format!("`agents.independent_approvals: {}`", self.required);
        if !self.agent_written() {
            return GuardOutcome {
                name: GUARD_NAME,
                verdict: GuardVerdict::Passed,
                headline: "written by people: no independent approval asked".to_owned(),
                details: String::new(),
            };
        }
        let agents = and_list(&self.agent_accounts());
        let needs = if self.incomplete {
            "seamguard read only the last 100 commits, so it cannot tell who wrote the others: \
             no approval can be shown to be independent"
                .to_owned()
        } else {
            format!(
                "needs {} from someone else",
                plural(self.missing() as usize, "approval", "approvals")
            )
        };
        let headline = if self.met() {
            format!(
                "agent-written ({agents}); {} independent approval{}: {}",
                self.counted.len(),
                if self.counted.len() == 1 { "" } else { "s" },
                self.counted
                    .iter()
                    .map(|l| format!("@{l}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            let mut parts: Vec<String> = vec![format!("agent-written ({agents})")];
            parts.extend(self.not_counted.iter().map(NotCounted::sentence));
            if !self.counted.is_empty() {
                parts.push(format!(
                    "{} counted",
                    self.counted
                        .iter()
                        .map(|l| format!("@{l}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            parts.push(needs.clone());
            parts.join("; ")
        };
        let mut details = format!("### {GUARD_NAME}\n\nThis pull request is agent-written:\n\n");
        let mut signs: Vec<String> = self
            .agents
            .iter()
            .map(|a| a.sign.text(&a.account))
            .collect();
        signs.dedup();
        const SHOWN: usize = 10;
        for s in signs.iter().take(SHOWN) {
            details.push_str(&format!("- {s}\n"));
        }
        if signs.len() > SHOWN {
            details.push_str(&format!("- … and {} more\n", signs.len() - SHOWN));
        }
        details.push_str(&format!(
            "\n{config}: approvals count only from people who did not write or ask for it \
             (not its author, an assignee, a commit's author or committer, or a co-author).\n\n"
        ));
        if self.counted.is_empty() {
            details.push_str("Approvals that count: none.\n");
        } else {
            details.push_str(&format!(
                "Approvals that count: {}.\n",
                self.counted
                    .iter()
                    .map(|l| format!("@{l}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for n in &self.not_counted {
            details.push_str(&format!("- {}\n", n.sentence()));
        }
        if !self.met() {
            details.push_str(&format!(
                "\nseamguard will not merge it: it {needs}. A review from someone else clears it.\n"
            ));
        }
        GuardOutcome {
            name: GUARD_NAME,
            verdict: if self.met() {
                GuardVerdict::Passed
            } else {
                GuardVerdict::Failed
            },
            headline,
            details,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "h000000000";

    fn person(login: Option<&str>, email: &str) -> GitPerson {
        GitPerson {
            name: login.map(str::to_owned),
            email: Some(email.to_owned()),
            login: login.map(str::to_owned),
        }
    }

    fn human(login: &str) -> GitPerson {
        person(Some(login), &format!("{login}@example.com"))
    }

    /// A bot as GitHub records it on a commit: no user, a noreply address.
    fn bot(login: &str, id: u64) -> GitPerson {
        GitPerson {
            name: Some(login.to_owned()),
            email: Some(format!("{id}+{login}@users.noreply.github.com")),
            login: None,
        }
    }

    fn commit(short: &str, author: GitPerson, message: &str) -> CommitSeen {
        CommitSeen {
            short: short.to_owned(),
            committer: Some(author.clone()),
            author: Some(author),
            message: message.to_owned(),
        }
    }

    fn approved(login: &str, commit: &str) -> ReviewSeen {
        ReviewSeen {
            login: login.to_owned(),
            approved: true,
            commit: Some(commit.to_owned()),
        }
    }

    fn policy(required: u32) -> Policy<'static> {
        Policy {
            required,
            accounts: &[],
            last_push_approval: false,
        }
    }

    fn facts(author: &str, commits: Vec<CommitSeen>) -> Authorship {
        Authorship {
            author: Some(author.to_owned()),
            assignees: Vec::new(),
            commits,
            complete: true,
        }
    }

    #[test]
    fn globs_are_literal_but_for_star_and_question_mark() {
        assert!(account_matches("claude[bot]", "Claude[bot]"));
        assert!(!account_matches("claude[bot]", "claudeb"));
        assert!(account_matches("*-agent[bot]", "acme-agent[bot]"));
        assert!(!account_matches("*-agent[bot]", "acme-agent"));
        assert!(account_matches("a?c", "abc"));
        assert!(!account_matches("a?c", "ac"));
        assert!(account_matches(
            "*@agents.acme.dev",
            "bot-7@agents.acme.dev"
        ));
        assert!(account_matches("*", ""));
        assert!(!account_matches("", "x"));
    }

    #[test]
    fn noreply_addresses_name_their_login() {
        assert_eq!(
            noreply_login("209825114+claude[bot]@users.noreply.github.com").as_deref(),
            Some("claude[bot]")
        );
        assert_eq!(
            noreply_login("alice@users.noreply.github.com").as_deref(),
            Some("alice")
        );
        assert_eq!(
            noreply_login("12+Alice@Users.Noreply.GitHub.com").as_deref(),
            Some("Alice")
        );
        assert_eq!(noreply_login("alice@example.com"), None);
        assert_eq!(noreply_login("@users.noreply.github.com"), None);
    }

    #[test]
    fn co_authored_by_trailers_are_read_in_any_case() {
        let message = "Fix the parser\n\nBody text: not a trailer.\n\n\
                       Co-authored-by: Alice <1+alice@users.noreply.github.com>\n\
                       co-Authored-BY: Claude <noreply@anthropic.com>\n\
                       Signed-off-by: Bob <bob@example.com>\n\
                       Co-authored-by: nobody-without-mail\n";
        let people = co_authors(message);
        assert_eq!(people.len(), 3);
        assert_eq!(people[0].login.as_deref(), Some("alice"));
        assert_eq!(people[1].email.as_deref(), Some("noreply@anthropic.com"));
        assert_eq!(people[1].login, None);
        assert_eq!(people[2].name.as_deref(), Some("nobody-without-mail"));
        assert_eq!(people[2].email, None);
    }

    #[test]
    fn off_is_none() {
        let f = facts("claude[bot]", Vec::new());
        assert_eq!(judge(&f, &[], HEAD, &policy(0)), None);
    }

    #[test]
    fn a_human_written_pull_request_passes_untouched() {
        let f = facts(
            "alice",
            vec![commit(
                "a1",
                human("alice"),
                "Plain work\n\nCo-authored-by: Bob <bob@example.com>",
            )],
        );
        let out = judge(&f, &[], HEAD, &policy(1)).unwrap();
        assert!(!out.agent_written());
        assert!(out.met());
        let g = out.guard();
        assert_eq!(g.verdict, GuardVerdict::Passed);
        assert!(g.headline.contains("written by people"), "{}", g.headline);
    }

    #[test]
    fn agent_written_by_author_needs_someone_else() {
        // Copilot opens as `Copilot`; the person it works for is assigned.
        let mut f = facts(
            "Copilot",
            vec![commit(
                "c1",
                bot("Copilot", 198982749),
                "Initial plan\n\nCo-authored-by: alice <7+alice@users.noreply.github.com>",
            )],
        );
        f.assignees = vec!["alice".into()];
        let out = judge(&f, &[approved("alice", HEAD)], HEAD, &policy(1)).unwrap();
        assert!(out.agent_written());
        assert_eq!(out.agents[0].sign, Sign::Author);
        assert!(!out.met());
        assert_eq!(out.counted, Vec::<String>::new());
        assert_eq!(
            out.not_counted[0].why,
            vec![
                Why::Assignee,
                Why::CoAuthor {
                    commits: 1,
                    with: vec!["Copilot".into()]
                }
            ]
        );
        let g = out.guard();
        assert_eq!(g.verdict, GuardVerdict::Failed);
        assert!(
            g.headline.contains(
                "@alice approved, but is assigned to it (the person an agent works for) and is \
                 co-author of 1 commit with Copilot"
            ),
            "{}",
            g.headline
        );
        assert!(g.headline.contains("needs 1 approval from someone else"));

        let out = judge(
            &f,
            &[approved("alice", HEAD), approved("carol", HEAD)],
            HEAD,
            &policy(1),
        )
        .unwrap();
        assert_eq!(out.counted, vec!["carol".to_owned()]);
        assert!(out.met());
        let g = out.guard();
        assert_eq!(g.verdict, GuardVerdict::Passed);
        assert!(
            g.headline.contains("1 independent approval: @carol"),
            "{}",
            g.headline
        );
    }

    #[test]
    fn agent_written_by_a_commit_author_or_committer() {
        let by_author = facts(
            "alice",
            vec![
                commit("a1", human("alice"), "Start"),
                commit("d1", bot("devin-ai-integration[bot]", 158243242), "More"),
            ],
        );
        let out = judge(&by_author, &[], HEAD, &policy(1)).unwrap();
        assert_eq!(
            out.agents,
            vec![
                AgentSign {
                    account: "devin-ai-integration[bot]".into(),
                    sign: Sign::CommitAuthor {
                        commit: "d1".into()
                    }
                },
                AgentSign {
                    account: "devin-ai-integration[bot]".into(),
                    sign: Sign::Committer {
                        commit: "d1".into()
                    }
                }
            ]
        );
        assert_eq!(out.agent_accounts(), vec!["devin-ai-integration[bot]"]);

        let mut c = commit("b1", human("bob"), "Rebased");
        c.committer = Some(bot("google-labs-jules[bot]", 161369871));
        let by_committer = facts("bob", vec![c]);
        let out = judge(&by_committer, &[approved("bob", HEAD)], HEAD, &policy(1)).unwrap();
        assert_eq!(
            out.agents,
            vec![AgentSign {
                account: "google-labs-jules[bot]".into(),
                sign: Sign::Committer {
                    commit: "b1".into()
                }
            }]
        );
        assert_eq!(
            out.not_counted[0].sentence(),
            "@bob approved, but opened the pull request and is co-author of 1 commit with \
             google-labs-jules[bot]"
        );
    }

    #[test]
    fn agent_written_by_a_trailer_and_the_co_author_does_not_count() {
        let trailer = "Co-Authored-By: Claude <noreply@anthropic.com>";
        let f = facts(
            "alice",
            vec![
                commit("a1", human("alice"), &format!("One\n\n{trailer}")),
                commit("a2", human("alice"), &format!("Two\n\n{trailer}")),
                commit("a3", human("alice"), &format!("Three\n\n{trailer}")),
            ],
        );
        let reviews = [approved("Alice", HEAD), approved("dave", HEAD)];
        let out = judge(&f, &reviews, HEAD, &policy(2)).unwrap();
        assert_eq!(out.agent_accounts(), vec!["Claude <noreply@anthropic.com>"]);
        assert_eq!(out.counted, vec!["dave".to_owned()]);
        assert_eq!(
            out.not_counted[0].sentence(),
            "@Alice approved, but opened the pull request and is co-author of 3 commits with \
             Claude <noreply@anthropic.com>"
        );
        assert!(!out.met(), "two asked, one counted");
        assert_eq!(out.missing(), 1);
        let g = out.guard();
        assert!(g.headline.contains("@dave counted"), "{}", g.headline);
        assert!(
            g.details
                .contains("- a1 names Claude <noreply@anthropic.com> in a")
        );
    }

    #[test]
    fn a_human_co_author_is_known_by_an_email_seen_elsewhere() {
        // Erin wrote one commit as herself (GitHub matched her e-mail) and
        // is named with the same address in the agent's commit.
        let erin = person(Some("erin"), "erin@corp.example");
        let f = facts(
            "claude[bot]",
            vec![
                commit("e1", erin, "Hand fix"),
                commit(
                    "c1",
                    bot("claude[bot]", 209825114),
                    "Agent work\n\nCo-authored-by: Erin <ERIN@corp.example>",
                ),
            ],
        );
        let out = judge(&f, &[approved("erin", HEAD)], HEAD, &policy(1)).unwrap();
        assert_eq!(
            out.not_counted[0].why,
            vec![Why::CoAuthor {
                commits: 2,
                with: vec!["claude[bot]".into()]
            }]
        );
    }

    #[test]
    fn a_commit_author_without_an_agent_in_it_is_still_an_author() {
        let f = facts(
            "cursor[bot]",
            vec![
                commit("k1", bot("cursor[bot]", 206951365), "Agent"),
                commit("f1", human("frank"), "Follow-up"),
            ],
        );
        let out = judge(&f, &[approved("frank", HEAD)], HEAD, &policy(1)).unwrap();
        assert_eq!(
            out.not_counted[0].sentence(),
            "@frank approved, but is an author of 1 of its commits"
        );
    }

    #[test]
    fn a_bot_login_is_matched_with_or_without_its_bot_suffix() {
        // GraphQL names Copilot's bot `Copilot`; seamguard spells a Bot's
        // login as REST does, with `[bot]`.
        for login in [
            "Copilot",
            "Copilot[bot]",
            "copilot-swe-agent[bot]",
            "CLAUDE[bot]",
        ] {
            let f = facts(login, Vec::new());
            assert!(
                judge(&f, &[], HEAD, &policy(1)).unwrap().agent_written(),
                "{login}"
            );
        }
        let f = facts("[bot]", Vec::new());
        assert!(!judge(&f, &[], HEAD, &policy(1)).unwrap().agent_written());
    }

    #[test]
    fn an_agents_own_approval_never_counts() {
        let f = facts("chatgpt-codex-connector[bot]", Vec::new());
        let out = judge(
            &f,
            &[approved("copilot-swe-agent[bot]", HEAD)],
            HEAD,
            &policy(1),
        )
        .unwrap();
        assert_eq!(out.not_counted[0].why, vec![Why::Agent]);
    }

    #[test]
    fn configured_accounts_add_to_the_list() {
        let accounts = vec!["acme-*[bot]".to_owned(), "*@agents.acme.dev".to_owned()];
        let p = Policy {
            required: 1,
            accounts: &accounts,
            last_push_approval: false,
        };
        let by_login = facts("acme-coder[bot]", Vec::new());
        assert!(judge(&by_login, &[], HEAD, &p).unwrap().agent_written());
        assert!(
            !judge(&by_login, &[], HEAD, &policy(1))
                .unwrap()
                .agent_written()
        );
        let by_email = facts(
            "gina",
            vec![commit("g1", person(None, "run-42@agents.acme.dev"), "x")],
        );
        assert!(judge(&by_email, &[], HEAD, &p).unwrap().agent_written());
        // A person named like an agent but without `[bot]` is not the bot.
        let namesake = facts("claude", Vec::new());
        assert!(
            !judge(&namesake, &[], HEAD, &policy(1))
                .unwrap()
                .agent_written()
        );
    }

    #[test]
    fn a_push_after_an_approval_makes_it_stale_only_where_the_base_says_so() {
        let f = facts("claude[bot]", Vec::new());
        let reviews = [approved("harry", "0ld0000000")];
        let lenient = judge(&f, &reviews, HEAD, &policy(1)).unwrap();
        assert_eq!(lenient.counted, vec!["harry".to_owned()]);
        let strict = Policy {
            last_push_approval: true,
            ..policy(1)
        };
        let out = judge(&f, &reviews, HEAD, &strict).unwrap();
        assert_eq!(
            out.not_counted[0].why,
            vec![Why::Stale {
                commit: "0ld0000".into()
            }]
        );
        assert!(
            out.not_counted[0]
                .sentence()
                .contains("on 0ld0000, before the last push")
        );
        assert!(!out.met());
    }

    #[test]
    fn changes_requested_are_not_approvals() {
        let f = facts("claude[bot]", Vec::new());
        let reviews = [ReviewSeen {
            login: "ivy".into(),
            approved: false,
            commit: Some(HEAD.into()),
        }];
        let out = judge(&f, &reviews, HEAD, &policy(1)).unwrap();
        assert!(out.counted.is_empty() && out.not_counted.is_empty());
        assert!(!out.met());
    }

    #[test]
    fn commits_not_all_read_are_never_met() {
        let mut f = facts("claude[bot]", Vec::new());
        f.complete = false;
        let out = judge(&f, &[approved("judy", HEAD)], HEAD, &policy(1)).unwrap();
        assert_eq!(out.counted, vec!["judy".to_owned()]);
        assert!(!out.met());
        assert!(out.guard().headline.contains("only the last 100 commits"));
        // Written by people as far as read: nothing to hold.
        let mut human_only = facts("kim", Vec::new());
        human_only.complete = false;
        assert!(judge(&human_only, &[], HEAD, &policy(1)).unwrap().met());
    }
}
