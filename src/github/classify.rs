//! Transient or permanent: the one classifier for every GitHub call.
//!
//! The bias is deliberate. Everything seamguard does is idempotent or guarded
//! (a merge is re-read before it is retried), so a needless retry costs a
//! backoff while a missed one strands a pull request and pages a human
//! (incident 2: "The socket connection was closed unexpectedly" was not on a
//! retry list). When in doubt, transient. Growing [`TRANSIENT_MESSAGES`] is
//! always safe.

/// HTTP statuses that mean "try again": request timeout, rate limiting, and
/// the gateway family, including Cloudflare's 520-524 that sit in front of
/// some GitHub Enterprise installations.
const TRANSIENT_STATUSES: &[u16] = &[408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524];

/// Substrings (matched case-insensitively) of error texts that are
/// transient wherever they appear: in a response body, in a transport error,
/// or in an error chain. Sources are noted per group.
pub const TRANSIENT_MESSAGES: &[&str] = &[
    // Cloudflare / GitHub edge timeouts (seen as HTML or JSON bodies).
    "524",
    "origin_response_timeout",
    "a timeout occurred",
    "bad gateway",
    "gateway timeout",
    "service unavailable",
    "server error",
    // GitHub rate limiting (REST docs, "Rate limits for the REST API").
    "too many requests",
    "secondary rate limit",
    "abuse detection",
    "rate limit exceeded",
    "try again later",
    // Transport failures as hyper / reqwest / Node / Bun word them.
    "connection reset",
    "connection refused",
    "connection closed",
    "connection aborted",
    "broken pipe",
    "socket connection was closed",
    "socket hang up",
    "econnreset",
    "econnrefused",
    "econnaborted",
    "etimedout",
    "epipe",
    "eai_again",
    "fetch failed",
    "network is unreachable",
    "unexpected eof",
    "unexpected end of file",
    "incomplete message",
    "end of file before message length reached",
    "error decoding response body",
    "operation timed out",
    "timed out",
    "dns error",
    "temporary failure in name resolution",
    "tls handshake eof",
    "http2 error",
    "stream error",
    "goaway",
];

/// Does this text (a body, an error message, an error chain) describe a
/// transient condition?
pub fn message_is_transient(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    TRANSIENT_MESSAGES
        .iter()
        .any(|needle| lower.contains(needle))
}

/// The verdict on one HTTP answer from GitHub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Retry with backoff.
    Transient,
    /// The installation token was refused: refresh it once and retry.
    Unauthorized,
    /// Do not retry; the caller decides what the status means.
    Permanent,
}

/// Classifies a non-success HTTP answer by its status and body.
pub fn classify_status(status: u16, body: &str) -> Class {
    if TRANSIENT_STATUSES.contains(&status) {
        return Class::Transient;
    }
    match status {
        401 => Class::Unauthorized,
        // Answers about the request itself: not found, not allowed (the
        // merge code reads 405 wordings itself), conflict, gone, invalid.
        404 | 405 | 409 | 410 | 422 => Class::Permanent,
        // Other 4xx are permanent (a 403 for a missing permission) unless
        // the body says otherwise: GitHub's secondary rate limit and abuse
        // detection come as 403, and proxies word their faults freely.
        400..=499 if message_is_transient(body) => Class::Transient,
        400..=499 => Class::Permanent,
        // Any other status (505, 507, 599, or 1xx/3xx oddities): retry.
        _ => Class::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real error texts, with where they were seen.
    #[test]
    fn transient_texts_from_the_field() {
        let transient = [
            // Incident 2 (Bun's fetch on a blinking gateway).
            "The socket connection was closed unexpectedly. For more information, pass `verbose: true` in the second argument to fetch()",
            // Node's undici.
            "TypeError: fetch failed",
            "Error: socket hang up",
            "read ECONNRESET",
            "connect ECONNREFUSED 140.82.112.6:443",
            // hyper / reqwest.
            "error sending request for url (https://api.github.com/repos/a/b): connection closed before message completed",
            "error decoding response body: unexpected EOF during chunk size line",
            "error sending request: operation timed out",
            "hyper::Error(IncompleteMessage): connection closed before message completed",
            "Connection reset by peer (os error 104)",
            // Cloudflare in front of GitHub Enterprise.
            "error code: 524",
            "<title>api.example.com | 524: A timeout occurred</title>",
            "origin_response_timeout",
            // GitHub's secondary rate limit (REST docs).
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            "You have triggered an abuse detection mechanism. Please wait a few minutes before you try again.",
            "API rate limit exceeded for installation ID 123.",
            "Too Many Requests",
        ];
        for text in transient {
            assert!(message_is_transient(text), "should be transient: {text}");
        }
    }

    #[test]
    fn permanent_texts_stay_permanent() {
        let permanent = [
            "Not Found",
            "Validation Failed",
            "Resource not accessible by integration",
            "Pull Request is not mergeable",
            "Bad credentials",
        ];
        for text in permanent {
            assert!(!message_is_transient(text), "should be permanent: {text}");
        }
    }

    #[test]
    fn statuses() {
        let cases: &[(u16, &str, Class)] = &[
            (408, "", Class::Transient),
            (429, "", Class::Transient),
            (500, "", Class::Transient),
            (502, "<html>Bad Gateway</html>", Class::Transient),
            (503, "", Class::Transient),
            (504, "", Class::Transient),
            (520, "", Class::Transient),
            (524, "origin_response_timeout", Class::Transient),
            (507, "", Class::Transient),
            (401, r#"{"message":"Bad credentials"}"#, Class::Unauthorized),
            (
                403,
                r#"{"message":"You have exceeded a secondary rate limit."}"#,
                Class::Transient,
            ),
            (
                403,
                r#"{"message":"You have triggered an abuse detection mechanism."}"#,
                Class::Transient,
            ),
            (
                403,
                r#"{"message":"Resource not accessible by integration"}"#,
                Class::Permanent,
            ),
            (404, r#"{"message":"Not Found"}"#, Class::Permanent),
            (
                405,
                r#"{"message":"Pull Request is not mergeable"}"#,
                Class::Permanent,
            ),
            (409, "", Class::Permanent),
            (422, r#"{"message":"Validation Failed"}"#, Class::Permanent),
        ];
        for (status, body, want) in cases {
            assert_eq!(classify_status(*status, body), *want, "{status} {body}");
        }
    }
}
