//! The queue against a reference model: random interleavings of triggers,
//! claims, completions, retries, clock moves and restarts must leave the
//! store and a plain in-memory model of the documented semantics agreeing
//! on every claim, every due time and the queue depth.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use seamguard::ids::{InstallationId, PrNumber};
use seamguard::store::{Claim, Store, StoreOptions, Work};

const LEASE_MS: i64 = 30_000;
const T0_MS: i64 = 1_700_000_000_000;

#[derive(Debug, Clone)]
enum Step {
    /// A trigger for PR `pr`, due `delay_s` from now (negative: in the past).
    Enqueue {
        pr: u64,
        delay_s: i64,
    },
    Claim {
        max: usize,
    },
    /// Complete one of the claims handed out so far (it may be stale).
    Complete {
        which: Index,
    },
    Retry {
        which: Index,
        delay_s: i64,
    },
    Advance {
        secs: i64,
    },
    /// The process dies and restarts: reopen, release every lease.
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..4u64, -5..20i64).prop_map(|(pr, delay_s)| Step::Enqueue { pr, delay_s }),
        3 => (1..4usize).prop_map(|max| Step::Claim { max }),
        3 => any::<Index>().prop_map(|which| Step::Complete { which }),
        1 => (any::<Index>(), 0..40i64).prop_map(|(which, delay_s)| Step::Retry { which, delay_s }),
        2 => (0..45i64).prop_map(|secs| Step::Advance { secs }),
        1 => Just(Step::Restart),
    ]
}

/// The documented semantics, written as plainly as possible.
#[derive(Debug, Default)]
struct Model {
    items: BTreeMap<String, Item>,
    next_lease: u64,
}

#[derive(Debug)]
struct Item {
    due: i64,
    /// (lease id, claimed at, lease until)
    lease: Option<(u64, i64, i64)>,
    rerun: Option<i64>,
    attempts: u32,
}

impl Item {
    fn claimable_at(&self) -> i64 {
        self.lease.map_or(self.due, |(_, _, until)| until)
    }
}

impl Model {
    fn enqueue(&mut self, key: String, at: i64) {
        match self.items.get_mut(&key) {
            None => {
                self.items.insert(
                    key,
                    Item {
                        due: at,
                        lease: None,
                        rerun: None,
                        attempts: 0,
                    },
                );
            }
            Some(item) if item.lease.is_some() => {
                item.rerun = Some(item.rerun.map_or(at, |r| r.min(at)))
            }
            Some(item) => item.due = item.due.min(at),
        }
    }

    fn claim(&mut self, now: i64, max: usize) -> Vec<(String, u32, u64)> {
        let mut due: Vec<(i64, String)> = self
            .items
            .iter()
            .filter(|(_, item)| item.claimable_at() <= now)
            .map(|(key, item)| (item.claimable_at(), key.clone()))
            .collect();
        due.sort();
        due.truncate(max);
        due.into_iter()
            .map(|(_, key)| {
                let lease = self.next_lease;
                self.next_lease += 1;
                let item = self.items.get_mut(&key).unwrap();
                if item.lease.is_some() {
                    item.attempts += 1;
                }
                item.lease = Some((lease, now, now + LEASE_MS));
                item.rerun = None;
                (key, item.attempts, lease)
            })
            .collect()
    }

    fn holder<'a>(&'a mut self, key: &str, lease: u64) -> Option<&'a mut Item> {
        self.items
            .get_mut(key)
            .filter(|item| item.lease.is_some_and(|(id, _, _)| id == lease))
    }

    fn complete(&mut self, key: &str, lease: u64) {
        let Some(item) = self.holder(key, lease) else {
            return;
        };
        match item.rerun.take() {
            Some(rerun) => {
                item.due = rerun;
                item.lease = None;
                item.attempts = 0;
            }
            None => {
                self.items.remove(key);
            }
        }
    }

    fn retry(&mut self, key: &str, lease: u64, not_before: i64) {
        let Some(item) = self.holder(key, lease) else {
            return;
        };
        item.due = item.rerun.take().map_or(not_before, |r| r.min(not_before));
        item.lease = None;
        item.attempts += 1;
    }

    fn restart(&mut self) {
        for item in self.items.values_mut() {
            if let Some((_, claimed_at, _)) = item.lease.take() {
                item.due = item.rerun.take().map_or(claimed_at, |r| r.min(claimed_at));
                item.attempts += 1;
            }
        }
    }

    fn next_due(&self) -> Option<i64> {
        self.items.values().map(Item::claimable_at).min()
    }
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

fn work(pr: u64) -> Work {
    Work::pr(InstallationId(1), "acme/app".parse().unwrap(), PrNumber(pr))
}

fn pick(claims: &[(Claim, u64)], which: Index) -> Option<&(Claim, u64)> {
    (!claims.is_empty()).then(|| &claims[which.index(claims.len())])
}

async fn check(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let mut store = Store::open(&url, StoreOptions::default()).await.unwrap();
    let mut model = Model::default();
    let mut claims: Vec<(Claim, u64)> = Vec::new();
    let mut now = T0_MS;

    for step in steps {
        match step {
            Step::Enqueue { pr, delay_s } => {
                let due = now + delay_s * 1000;
                store.enqueue(work(pr), at(due)).await.unwrap();
                model.enqueue(work(pr).key(), due);
            }
            Step::Claim { max } => {
                let got = store
                    .claim(at(now), max, Duration::from_millis(LEASE_MS as u64))
                    .await
                    .unwrap();
                let expected = model.claim(now, max);
                let got_view: Vec<(&str, u32)> =
                    got.iter().map(|c| (c.key.as_str(), c.attempts)).collect();
                let expected_view: Vec<(&str, u32)> =
                    expected.iter().map(|(k, a, _)| (k.as_str(), *a)).collect();
                prop_assert_eq!(got_view, expected_view);
                for (claim, (_, _, lease)) in got.into_iter().zip(expected) {
                    prop_assert_eq!(claim.lease_until, at(now + LEASE_MS));
                    claims.push((claim, lease));
                }
            }
            Step::Complete { which } => {
                if let Some((claim, lease)) = pick(&claims, which) {
                    store.complete(claim).await.unwrap();
                    model.complete(&claim.key, *lease);
                }
            }
            Step::Retry { which, delay_s } => {
                if let Some((claim, lease)) = pick(&claims, which) {
                    let due = now + delay_s * 1000;
                    store.retry_at(claim, at(due), "model").await.unwrap();
                    model.retry(&claim.key, *lease, due);
                }
            }
            Step::Advance { secs } => now += secs * 1000,
            Step::Restart => {
                drop(store);
                store = Store::open(&url, StoreOptions::default()).await.unwrap();
                store.release_all_leases().await.unwrap();
                model.restart();
            }
        }
        prop_assert_eq!(store.next_due().await.unwrap(), model.next_due().map(at));
        let stats = store.queue_stats(at(now)).await.unwrap();
        prop_assert_eq!(stats.depth, model.items.len() as u64);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_store_behaves_like_the_model(steps in proptest::collection::vec(step(), 1..50)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(check(steps))?;
    }
}
