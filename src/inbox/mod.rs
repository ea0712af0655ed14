//! The durable inbox (placeholder types until the store lands).

use serde::{Deserialize, Serialize};

use crate::ids::{CommitSha, DeliveryId, InstallationId, PrNumber, RepoName};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Work {
    pub installation: InstallationId,
    pub repo: RepoName,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    Pr { number: PrNumber },
    Commit { sha: CommitSha },
    BaseBranch { name: String },
    MergeGroup { head_sha: CommitSha, base_ref: String },
}

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: DeliveryId,
    pub event: String,
    pub action: Option<String>,
    pub installation: Option<InstallationId>,
    pub work: Vec<Work>,
}
