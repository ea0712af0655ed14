//! What one evaluation is about — the head of a pull request, and how to
//! reach GitHub for it — shared by gathering, acting and recording, so none
//! of the three steps imports another for it.

use crate::github::InstallationClient;
use crate::github::models::PullRequest;
use crate::ids::{CommitSha, PrNumber};
use crate::store::Work;

/// What an evaluation's history entry needs besides what it decides: what
/// caused it, and the count of its GitHub requests so far.
pub(crate) struct Recording<'a> {
    pub cause: &'a str,
    pub requests: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl Recording<'_> {
    pub(crate) fn requests(&self) -> u32 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The head of the pull request one evaluation is about, and how to reach
/// GitHub for it: what gathering, acting and recording share.
pub(crate) struct Subject<'a> {
    pub client: &'a InstallationClient,
    pub work: &'a Work,
    pub number: PrNumber,
    pub pr: &'a PullRequest,
    pub head: &'a CommitSha,
    pub recording: &'a Recording<'a>,
    pub started: std::time::Instant,
}
