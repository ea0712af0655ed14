//! One at a time on a strict base: where a pull request stands in its base
//! branch's line, and the words for it. Pure.
//!
//! A strict base (branches must be up to date) without a merge queue makes
//! every merge put every other ready pull request behind. Updating them all
//! after each merge restarts every CI run each time — on the order of N²
//! runs for N pull requests — and they race. The line avoids both: only the
//! first in line is updated and merged; the others wait, and are told where
//! they stand. The line lives in the store (`Store::line_*`), ordered by
//! `merge.priority_label` first, then by when each pull request joined it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ids::PrNumber;

/// One pull request in the line of a strict base branch (the store keeps
/// the line: `Store::line_join`, `Store::line`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEntry {
    pub pr: PrNumber,
    /// Carries `merge.priority_label`: ahead of every entry without it.
    pub priority: bool,
    pub entered_at: DateTime<Utc>,
    /// The head seamguard asked GitHub to update, while that is under way.
    pub updating_head: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A first-in-line entry not refreshed for this long may be stuck (an
/// event missed while it closed): a pull request behind it asks for its
/// evaluation. An evaluation refreshes the entry, so a live lead waiting
/// for a long CI run is asked about at most this often.
pub const STALE_LEAD: Duration = Duration::from_secs(10 * 60);

/// Where one pull request stands in its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// First in line: it may be updated and merged.
    First,
    /// Behind `lead`; `place` counts from 1 (2 is "2nd in line").
    Behind {
        place: usize,
        lead: PrNumber,
        lead_updating: bool,
        /// The lead was not refreshed for [`STALE_LEAD`]: evaluate it.
        lead_stale: bool,
    },
}

/// Where `pr` stands in `line` (it must be in it; `First` otherwise).
pub fn place(line: &[LineEntry], pr: PrNumber, now: DateTime<Utc>) -> Place {
    let Some(lead) = line.first() else {
        return Place::First;
    };
    match line.iter().position(|e| e.pr == pr) {
        Some(0) | None => Place::First,
        Some(i) => Place::Behind {
            place: i + 1,
            lead: lead.pr,
            lead_updating: lead.updating_head.is_some(),
            lead_stale: (now - lead.updated_at)
                .to_std()
                .is_ok_and(|age| age > STALE_LEAD),
        },
    }
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`, …
pub fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// "2nd in line for `main`; updating #41 now".
pub fn behind_text(place: usize, base: &str, lead: PrNumber, lead_updating: bool) -> String {
    let doing = if lead_updating {
        format!("updating #{} now", lead.0)
    } else {
        format!("#{} goes first", lead.0)
    };
    format!("{} in line for `{base}`; {doing}", ordinal(place))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pr: u64, updating: bool, age_secs: i64, now: DateTime<Utc>) -> LineEntry {
        LineEntry {
            pr: PrNumber(pr),
            priority: false,
            entered_at: now,
            updating_head: updating.then(|| "a".repeat(40)),
            updated_at: now - chrono::Duration::seconds(age_secs),
        }
    }

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .iter()
            .map(|n| ordinal(*n))
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }

    #[test]
    fn places_in_a_line() {
        let now = Utc::now();
        let line = [
            entry(41, true, 5, now),
            entry(7, false, 0, now),
            entry(9, false, 0, now),
        ];
        assert_eq!(place(&line, PrNumber(41), now), Place::First);
        assert_eq!(
            place(&line, PrNumber(9), now),
            Place::Behind {
                place: 3,
                lead: PrNumber(41),
                lead_updating: true,
                lead_stale: false
            }
        );
        assert_eq!(
            behind_text(2, "main", PrNumber(41), true),
            "2nd in line for `main`; updating #41 now"
        );
        assert_eq!(
            behind_text(3, "main", PrNumber(41), false),
            "3rd in line for `main`; #41 goes first"
        );
        let stale = [entry(41, false, 3600, now), entry(7, false, 0, now)];
        assert!(matches!(
            place(&stale, PrNumber(7), now),
            Place::Behind {
                lead_stale: true,
                ..
            }
        ));
    }
}
