//! Whether a pull request is opted in to merging *for the head being
//! evaluated*. Pure: the engine asks GitHub who may write and the store who
//! pushed; this rule only reads the answers.
//!
//! An opt-in (the `merge.label`, or `merge.mode: always`) is not a pull
//! request's forever: it holds for heads that someone with write access
//! stands behind. A maintainer who labels a fork's pull request after
//! reading commit A has not read commit B, which its author pushed
//! afterwards; GitHub's own auto-merge turns itself off on such a push, and
//! so does seamguard. A head is vouched for when
//!
//! - someone with write access (or this App, updating the branch) pushed it;
//! - or someone with write access opted in *while it was the head*: added
//!   the merge label, or commanded `@seamguard recheck`;
//! - or who pushed it was not seen (the delivery was missed) and the pull
//!   request's author has write access — the author's is the only push a
//!   branch of theirs normally sees.
//!
//! Anything else stops merging, and the words say who pushed and how to opt
//! in again.

use crate::config::repo::{AlwaysAuthors, MergeMode};
use crate::ids::CommitSha;

/// What the repository lets a person do, as GitHub answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Write, maintain or admin.
    Write,
    /// Read, triage, none, or not a collaborator.
    NoWrite,
    /// This App itself (its `[bot]` user updating a branch).
    TheApp,
}

impl Access {
    fn trusted(self) -> bool {
        matches!(self, Access::Write | Access::TheApp)
    }
}

/// A person (or bot) and what they may do in the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub login: String,
    pub access: Access,
}

impl Person {
    fn trusted(&self) -> bool {
        self.access.trusted()
    }
}

/// What is known about the head being evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadFacts {
    pub head: CommitSha,
    /// The head branch lives in the base repository (not a fork).
    pub in_base_repository: bool,
    /// The pull request's author.
    pub author: Person,
    /// Who pushed this head (the sender of the delivery that brought it),
    /// when that delivery was seen.
    pub pushed_by: Option<Person>,
    /// Those who opted in while this was the head (added the merge label,
    /// commanded a recheck), with their access.
    pub vouched_by: Vec<Person>,
}

/// The opt-in settings the rule reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptInSettings<'a> {
    pub mode: MergeMode,
    pub label: &'a str,
    pub always_authors: AlwaysAuthors,
}

/// The answer for one head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptIn {
    /// Merge when the gate allows.
    In,
    /// Not opted in; `why` says how to opt in.
    Out { why: String },
    /// Was opted in, but this head was pushed by someone nobody with write
    /// access stands behind: merging stopped for it.
    Stopped { pusher: String, why: String },
}

/// The logins whose access the rule reads for a head, each once (GitHub
/// treats logins without case): the pusher, those who vouched, the author.
/// Usually one: authors push their own branches.
pub fn logins_to_ask<'a>(
    pushed_by: Option<&'a str>,
    vouched_by: &'a [String],
    author: &'a str,
) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    let all = pushed_by
        .into_iter()
        .chain(vouched_by.iter().map(String::as_str))
        .chain(std::iter::once(author));
    for login in all {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(login)) {
            out.push(login);
        }
    }
    out
}

fn short(sha: &CommitSha) -> &str {
    &sha.as_str()[..7.min(sha.as_str().len())]
}

/// Could a pull request with these labels be opted in at all, before
/// anyone is asked who stands behind its head? The settings' half of
/// [`opt_in`], for choosing which pull requests are worth evaluating.
pub fn may_be_in(mode: MergeMode, label: &str, labels: &[String]) -> bool {
    match mode {
        MergeMode::Never => false,
        MergeMode::Always => true,
        MergeMode::Label => labels.iter().any(|l| l == label),
    }
}

/// Decides whether the pull request is opted in for `facts.head`.
pub fn opt_in(settings: &OptInSettings<'_>, labelled: bool, facts: &HeadFacts) -> OptIn {
    let how_again = format!(
        "someone with write access removes and adds the `{}` label again, or comments \
         `@seamguard recheck`",
        settings.label
    );
    match settings.mode {
        MergeMode::Never => {
            return OptIn::Out {
                why: "merging is off for this repository (`merge.mode: never`)".into(),
            };
        }
        MergeMode::Label if !labelled => {
            return OptIn::Out {
                why: format!(
                    "add the `{}` label to have seamguard merge it",
                    settings.label
                ),
            };
        }
        MergeMode::Always if settings.always_authors == AlwaysAuthors::Anyone => {
            // The repository said, explicitly, that anyone's pull request
            // merges: who pushed does not matter.
            return OptIn::In;
        }
        MergeMode::Always if !facts.author.trusted() && !labelled => {
            if facts.vouched_by.iter().any(Person::trusted) {
                return OptIn::In;
            }
            return OptIn::Out {
                why: format!(
                    "@{} opened it without write access, and `merge.mode: always` merges only \
                     pull requests opened by people with write access (`merge.always_authors: \
                     anyone` says otherwise); to merge it, someone with write access adds the \
                     `{}` label or comments `@seamguard recheck`",
                    facts.author.login, settings.label
                ),
            };
        }
        MergeMode::Label | MergeMode::Always => {}
    }
    if facts.in_base_repository || facts.vouched_by.iter().any(Person::trusted) {
        return OptIn::In;
    }
    match &facts.pushed_by {
        Some(p) if p.trusted() => OptIn::In,
        Some(p) => OptIn::Stopped {
            pusher: p.login.clone(),
            why: format!(
                "merging stopped: @{} pushed `{}` and has no write access, and nobody with write \
                 access has opted this head in; to merge it, {how_again}",
                p.login,
                short(&facts.head)
            ),
        },
        None if facts.author.trusted() => OptIn::In,
        None => OptIn::Stopped {
            pusher: facts.author.login.clone(),
            why: format!(
                "merging stopped: who pushed `{}` was not seen, and the author @{} has no write \
                 access; to merge it, {how_again}",
                short(&facts.head),
                facts.author.login
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "2222222222222222222222222222222222222222";

    fn person(login: &str, access: Access) -> Person {
        Person {
            login: login.into(),
            access,
        }
    }

    fn facts(author: Access, pushed: Option<Access>, vouched: &[Access]) -> HeadFacts {
        HeadFacts {
            head: HEAD.parse().unwrap(),
            in_base_repository: false,
            author: person("alice", author),
            pushed_by: pushed.map(|a| person("bob", a)),
            vouched_by: vouched.iter().map(|a| person("maint", *a)).collect(),
        }
    }

    fn settings(mode: MergeMode, always_authors: AlwaysAuthors) -> OptInSettings<'static> {
        OptInSettings {
            mode,
            label: "automerge",
            always_authors,
        }
    }

    use Access::{NoWrite, TheApp, Write};

    #[test]
    fn table() {
        let label = settings(MergeMode::Label, AlwaysAuthors::Writers);
        let always = settings(MergeMode::Always, AlwaysAuthors::Writers);
        let anyone = settings(MergeMode::Always, AlwaysAuthors::Anyone);
        let never = settings(MergeMode::Never, AlwaysAuthors::Writers);
        #[rustfmt::skip]
        let rows: &[(&str, &OptInSettings, bool, HeadFacts, &str)] = &[
            ("no label",                         &label, false, facts(Write, Some(Write), &[]), "out"),
            ("never",                            &never, true,  facts(Write, Some(Write), &[]), "out"),
            ("writer pushed",                    &label, true,  facts(NoWrite, Some(Write), &[]), "in"),
            ("the App updated the branch",       &label, true,  facts(NoWrite, Some(TheApp), &[]), "in"),
            ("fork pushed after the label",      &label, true,  facts(NoWrite, Some(NoWrite), &[]), "stopped"),
            ("labelled at this very head",       &label, true,  facts(NoWrite, Some(NoWrite), &[Write]), "in"),
            ("a non-writer's vouch is nothing",  &label, true,  facts(NoWrite, Some(NoWrite), &[NoWrite]), "stopped"),
            ("push unseen, writer author",       &label, true,  facts(Write, None, &[]), "in"),
            ("push unseen, outside author",      &label, true,  facts(NoWrite, None, &[]), "stopped"),
            ("always: writer's pull request",    &always, false, facts(Write, Some(Write), &[]), "in"),
            ("always: outsider's pull request",  &always, false, facts(NoWrite, Some(NoWrite), &[]), "out"),
            ("always: outsider's, vouched",      &always, false, facts(NoWrite, Some(NoWrite), &[Write]), "in"),
            ("always: outsider pushed to a writer's", &always, false, facts(Write, Some(NoWrite), &[]), "stopped"),
            ("always, anyone",                   &anyone, false, facts(NoWrite, Some(NoWrite), &[]), "in"),
            ("a branch of the base repository",  &label, true,  HeadFacts { in_base_repository: true, ..facts(NoWrite, None, &[]) }, "in"),
            ("always: a reader's pull request from a branch of the base repository",
                                                 &always, false, HeadFacts { in_base_repository: true, ..facts(NoWrite, None, &[]) }, "out"),
        ];
        for (name, s, labelled, f, want) in rows {
            let got = match opt_in(s, *labelled, f) {
                OptIn::In => "in",
                OptIn::Out { .. } => "out",
                OptIn::Stopped { .. } => "stopped",
            };
            assert_eq!(got, *want, "{name}");
        }
    }

    #[test]
    fn a_stop_says_who_pushed_and_how_to_opt_in_again() {
        let s = settings(MergeMode::Label, AlwaysAuthors::Writers);
        let OptIn::Stopped { pusher, why } = opt_in(&s, true, &facts(NoWrite, Some(NoWrite), &[]))
        else {
            panic!("not stopped");
        };
        assert_eq!(pusher, "bob");
        assert!(why.contains("@bob pushed `2222222`"), "{why}");
        assert!(why.contains("no write access"), "{why}");
        assert!(why.contains("`automerge` label again"), "{why}");
        assert!(why.contains("`@seamguard recheck`"), "{why}");
    }

    #[test]
    fn only_the_logins_needed_are_asked() {
        let vouched = vec!["maint".to_owned(), "Bob".to_owned()];
        assert_eq!(
            logins_to_ask(Some("bob"), &vouched, "alice"),
            vec!["bob", "maint", "alice"]
        );
        assert_eq!(logins_to_ask(Some("alice"), &[], "Alice"), vec!["alice"]);
    }
}
