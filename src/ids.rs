//! Newtypes for the identifiers that flow through seamguard.
//!
//! A function that takes `(RepoName, PrNumber)` cannot be called with its
//! arguments swapped, and every identifier parses and prints the way GitHub
//! spells it (`owner/name`, `#7`, a 40-hex SHA).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an identifier did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {why}")]
pub struct IdError {
    what: &'static str,
    input: String,
    why: &'static str,
}

/// A repository as `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoName {
    owner: String,
    name: String,
}

impl RepoName {
    /// Builds a name from its two parts; neither may be empty or hold a `/`.
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> Result<Self, IdError> {
        let (owner, name) = (owner.into(), name.into());
        let bad = |why| IdError {
            what: "repository",
            input: format!("{owner}/{name}"),
            why,
        };
        if owner.is_empty() || name.is_empty() {
            return Err(bad("owner and name must not be empty"));
        }
        if owner.contains('/') || name.contains('/') {
            return Err(bad("expected exactly one '/'"));
        }
        Ok(Self { owner, name })
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl FromStr for RepoName {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((owner, name)) => Self::new(owner, name),
            None => Err(IdError {
                what: "repository",
                input: s.to_owned(),
                why: "expected owner/name",
            }),
        }
    }
}

impl TryFrom<String> for RepoName {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RepoName> for String {
    fn from(r: RepoName) -> Self {
        r.to_string()
    }
}

/// A commit SHA (hex, 40 characters for SHA-1 repositories, 64 for SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommitSha(String);

impl CommitSha {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first seven characters, as GitHub shows a commit in prose.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(7)]
    }
}

impl fmt::Display for CommitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CommitSha {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok_len = matches!(s.len(), 40 | 64);
        if ok_len && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(IdError {
                what: "commit sha",
                input: s.to_owned(),
                why: "expected 40 or 64 hex digits",
            })
        }
    }
}

impl TryFrom<String> for CommitSha {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<CommitSha> for String {
    fn from(s: CommitSha) -> Self {
        s.0
    }
}

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim_start_matches($prefix).parse::<u64>().map(Self).map_err(|_| IdError {
                    what: $what,
                    input: s.to_owned(),
                    why: "expected a positive integer",
                })
            }
        }
    };
}

numeric_id!(
    /// A pull request number within its repository.
    PrNumber, "pull request number", "#"
);
numeric_id!(
    /// A GitHub App installation id.
    InstallationId, "installation id", ""
);
numeric_id!(
    /// A GitHub App id.
    AppId, "app id", ""
);
numeric_id!(
    /// A check run id.
    CheckRunId, "check run id", ""
);

/// The `X-GitHub-Delivery` GUID of a webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeliveryId(String);

impl DeliveryId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DeliveryId {
    type Err = IdError;

    /// GitHub sends a GUID; anything printable up to 100 characters is
    /// accepted so a proxy that rewrites the format does not lose deliveries.
    /// The id is kept lower-cased: a GUID's case carries nothing, and a
    /// signed body replayed under `ABC…` instead of `abc…` is the same
    /// delivery, stored (and acted on) once.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(IdError {
                what: "delivery id",
                input: s.chars().take(100).collect(),
                why: "expected 1-100 printable ASCII characters",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_ignore_case() {
        let a: DeliveryId = "58474F00-B361-11EB-836D-0E4F3503CCBE".parse().unwrap();
        let b: DeliveryId = "58474f00-b361-11eb-836d-0e4f3503ccbe".parse().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn repo_name_round_trips() {
        let r: RepoName = "acme/app".parse().unwrap();
        assert_eq!((r.owner(), r.name()), ("acme", "app"));
        assert_eq!(r.to_string(), "acme/app");
        assert!("acme".parse::<RepoName>().is_err());
        assert!("acme/app/x".parse::<RepoName>().is_err());
        assert!("/app".parse::<RepoName>().is_err());
    }

    #[test]
    fn sha_is_hex_of_a_known_length() {
        let s: CommitSha = "6DCB09B5B57875F334F61AEBED695E2E4193DB5E".parse().unwrap();
        assert_eq!(s.as_str(), "6dcb09b5b57875f334f61aebed695e2e4193db5e");
        assert_eq!(s.short(), "6dcb09b");
        assert!("6dcb09b".parse::<CommitSha>().is_err());
        assert!("z".repeat(40).parse::<CommitSha>().is_err());
    }

    #[test]
    fn numbers_parse_with_or_without_prefix() {
        assert_eq!("#7".parse::<PrNumber>().unwrap(), PrNumber(7));
        assert_eq!("7".parse::<PrNumber>().unwrap().to_string(), "#7");
        assert!("x".parse::<InstallationId>().is_err());
    }

    #[test]
    fn delivery_ids_are_printable() {
        assert!(
            "72d3162e-cc78-11e3-81ab-4c9367dc0958"
                .parse::<DeliveryId>()
                .is_ok()
        );
        assert!("".parse::<DeliveryId>().is_err());
        assert!("a b".parse::<DeliveryId>().is_err());
    }
}
