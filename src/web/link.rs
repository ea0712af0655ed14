//! Signed links to a pull request's page.
//!
//! A repository's details are private, so the page answers only a link
//! seamguard made: `{PUBLIC_URL}/{owner}/{repo}/pull/{number}?exp=…&sig=…`,
//! where `sig` is HMAC-SHA256 over the owner, the repository, the number and
//! the expiry (Unix seconds), under a key only this server has. The key
//! needs no setting of its own: it is derived from the (first) webhook
//! secret with HKDF-SHA256, so every replica derives the same key, and
//! rotating the webhook secret also retires the old links (the check runs
//! get fresh ones at their next evaluation).
//!
//! Verification recomputes the tag and compares in constant time
//! (`hmac`'s `verify_slice`); an expired, forged, truncated or misplaced
//! link is refused alike, and the caller answers the same 404 as for an
//! unknown path.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;

use crate::ids::{PrNumber, RepoName};

/// How long a link lives. Each evaluation writes a fresh one into the
/// check run, so a link on a live pull request is never older than its
/// last evaluation; a month covers the slowest review.
pub const LINK_LIFETIME: chrono::Duration = chrono::Duration::days(30);

/// Expiries are rounded up to a whole day, so re-evaluations on the same
/// day write the same link (and an unchanged check run stays unchanged).
const EXPIRY_STEP_SECS: i64 = 24 * 60 * 60;

/// HKDF's `info`: names what the derived key is for, so the same webhook
/// secret never yields this key for anything else.
const KEY_INFO: &[u8] = b"seamguard pull request page links v1";

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks page links. Cheap to clone.
#[derive(Clone)]
pub struct PageSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for PageSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageSigner(<key>)")
    }
}

impl PageSigner {
    /// The signer whose key is HKDF-SHA256 of the webhook secret.
    pub fn from_webhook_secret(secret: &[u8]) -> Self {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(&b"seamguard"[..]), secret);
        let mut key = [0u8; 32];
        hk.expand(KEY_INFO, &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        Self { key }
    }

    fn mac(&self, repo: &RepoName, pr: PrNumber, exp: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        // Newline-separated: no owner or repository name holds one, so
        // no two tuples sign the same bytes.
        mac.update(
            format!(
                "{}\n{}\n{}\n{exp}",
                repo.owner().to_ascii_lowercase(),
                repo.name().to_ascii_lowercase(),
                pr.0
            )
            .as_bytes(),
        );
        mac
    }

    /// The hex signature of (repo, pr, exp).
    pub fn sign(&self, repo: &RepoName, pr: PrNumber, exp: i64) -> String {
        hex::encode(self.mac(repo, pr, exp).finalize().into_bytes())
    }

    /// Whether `sig` signs (repo, pr, exp) and `exp` is still ahead of
    /// `now`. The comparison is constant-time.
    pub fn verify(
        &self,
        repo: &RepoName,
        pr: PrNumber,
        exp: i64,
        sig: &str,
        now: DateTime<Utc>,
    ) -> bool {
        if exp <= now.timestamp() {
            return false;
        }
        let Ok(sig) = hex::decode(sig) else {
            return false;
        };
        self.mac(repo, pr, exp).verify_slice(&sig).is_ok()
    }

    /// The expiry of a link made at `now`.
    pub fn expiry(now: DateTime<Utc>) -> i64 {
        let exp = (now + LINK_LIFETIME).timestamp();
        exp.div_euclid(EXPIRY_STEP_SECS) * EXPIRY_STEP_SECS + EXPIRY_STEP_SECS
    }
}

/// Where the pages are (`PUBLIC_URL`) and how their links are signed.
#[derive(Debug, Clone)]
pub struct PageLinks {
    pub public_url: Url,
    pub signer: PageSigner,
}

impl PageLinks {
    /// The signed link to pull request `pr`'s page, valid for
    /// [`LINK_LIFETIME`] from `now`.
    pub fn url(&self, repo: &RepoName, pr: PrNumber, now: DateTime<Utc>) -> String {
        let exp = PageSigner::expiry(now);
        format!(
            "{}/{}/{}/pull/{}?exp={exp}&sig={}",
            self.public_url.as_str().trim_end_matches('/'),
            repo.owner(),
            repo.name(),
            pr.0,
            self.signer.sign(repo, pr, exp)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(s: &str) -> RepoName {
        s.parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let signer = PageSigner::from_webhook_secret(b"It's a Secret to Everybody");
        let exp = PageSigner::expiry(now());
        let sig = signer.sign(&repo("acme/app"), PrNumber(7), exp);
        assert!(signer.verify(&repo("acme/app"), PrNumber(7), exp, &sig, now()));
        // GitHub's names are case-insensitive; so is the link.
        assert!(signer.verify(&repo("Acme/App"), PrNumber(7), exp, &sig, now()));
        let at_expiry = DateTime::from_timestamp(exp, 0).unwrap();
        assert!(!signer.verify(&repo("acme/app"), PrNumber(7), exp, &sig, at_expiry));
        assert!(exp - now().timestamp() >= LINK_LIFETIME.num_seconds());
    }

    #[test]
    fn a_link_for_another_repo_number_or_expiry_is_refused() {
        let signer = PageSigner::from_webhook_secret(b"secret");
        let exp = PageSigner::expiry(now());
        let sig = signer.sign(&repo("acme/app"), PrNumber(7), exp);
        assert!(!signer.verify(&repo("acme/app"), PrNumber(8), exp, &sig, now()));
        assert!(!signer.verify(&repo("acme/other"), PrNumber(7), exp, &sig, now()));
        assert!(!signer.verify(&repo("evil/app"), PrNumber(7), exp, &sig, now()));
        assert!(!signer.verify(&repo("acme/app"), PrNumber(7), exp + 86_400, &sig, now()));
    }

    #[test]
    fn forged_truncated_or_foreign_signatures_are_refused() {
        let signer = PageSigner::from_webhook_secret(b"secret");
        let other = PageSigner::from_webhook_secret(b"another secret");
        let exp = PageSigner::expiry(now());
        let r = repo("acme/app");
        let sig = signer.sign(&r, PrNumber(7), exp);
        let mut flipped = sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        for forged in [
            String::from_utf8(flipped).unwrap(),
            sig[..32].to_owned(),
            String::new(),
            "zz".repeat(32),
            other.sign(&r, PrNumber(7), exp),
        ] {
            assert!(
                !signer.verify(&r, PrNumber(7), exp, &forged, now()),
                "{forged}"
            );
        }
    }

    #[test]
    fn links_made_the_same_day_are_the_same() {
        let links = PageLinks {
            public_url: "https://seamguard.example.com/".parse().unwrap(),
            signer: PageSigner::from_webhook_secret(b"secret"),
        };
        let a = links.url(&repo("acme/app"), PrNumber(7), now());
        let b = links.url(
            &repo("acme/app"),
            PrNumber(7),
            now() + chrono::Duration::minutes(5),
        );
        assert_eq!(a, b);
        assert!(
            a.starts_with("https://seamguard.example.com/acme/app/pull/7?exp="),
            "{a}"
        );
    }
}
