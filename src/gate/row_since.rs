//! Since when each rule of the whole gate has stood as it stands: carried
//! from one evaluation to the next. The previous evaluation left each row
//! with its time; a row that stands the same way now keeps that time, and
//! a row that changed (or is new) starts now. Pure: the engine reads the
//! previous evaluation's rows from the store and hands them over.

use chrono::{DateTime, Utc};

use crate::gate::whole_gate::{RowState, RuleRow};

/// What makes two rows "the same rule in the same state": its kind, what it
/// asks (with where from), its state, and why (a review still missing, but
/// now from someone else, is a new state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKey {
    pub kind: String,
    pub asked: String,
    pub state: String,
    pub detail: String,
}

/// A row of the previous evaluation, and since when it stood so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorRow {
    pub key: RowKey,
    pub since: DateTime<Utc>,
}

/// `met`, `unmet`, `unknown` or `not_checked`: the words the page stores.
pub fn state_word(state: &RowState) -> &'static str {
    match state {
        RowState::Met => "met",
        RowState::Unmet { .. } => "unmet",
        RowState::Unknown { .. } => "unknown",
        RowState::NotChecked => "not_checked",
    }
}

impl RuleRow {
    /// What identifies this row's state from one evaluation to the next.
    pub fn key(&self) -> RowKey {
        let detail = match &self.state {
            RowState::Unmet { why, .. } | RowState::Unknown { why } => why.clone(),
            RowState::Met | RowState::NotChecked => String::new(),
        };
        RowKey {
            kind: self.kind().as_str().to_owned(),
            asked: self.asked(),
            state: state_word(&self.state).to_owned(),
            detail,
        }
    }
}

/// Since when each of `rows` stands as it does, in order: the previous
/// evaluation's time for a row it had the same way, else `now`.
pub fn since(rows: &[RuleRow], prior: &[PriorRow], now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    rows.iter()
        .map(|row| {
            let key = row.key();
            prior
                .iter()
                .find(|p| p.key == key)
                .map_or(now, |p| p.since.min(now))
        })
        .collect()
}

/// "since 2026-12-07 14:02 UTC": a check run is read days later too.
pub fn words(since: DateTime<Utc>) -> String {
    format!("since {} UTC", since.format("%Y-%m-%d %H:%M"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::required_checks::Source;
    use crate::gate::whole_gate::Rule;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap()
    }

    fn row(state: RowState) -> RuleRow {
        RuleRow {
            rule: Rule::ConversationResolution,
            source: Source::Protection,
            state,
        }
    }

    fn unmet(why: &str) -> RowState {
        RowState::Unmet {
            why: why.into(),
            who: None,
        }
    }

    #[test]
    fn a_row_standing_the_same_way_keeps_its_time_and_a_changed_one_starts_now() {
        let before = row(unmet("2 conversations unresolved"));
        let prior = vec![PriorRow {
            key: before.key(),
            since: at(9, 30),
        }];
        let now = at(11, 0);
        assert_eq!(
            since(std::slice::from_ref(&before), &prior, now),
            vec![at(9, 30)]
        );
        // One of the two was resolved: a new state, from now.
        let after = row(unmet("1 conversation unresolved"));
        assert_eq!(since(&[after], &prior, now), vec![now]);
        assert_eq!(since(&[row(RowState::Met)], &prior, now), vec![now]);
        // Nothing before: now.
        assert_eq!(since(&[before], &[], now), vec![now]);
    }

    #[test]
    fn a_time_from_a_clock_ahead_is_never_later_than_now() {
        let r = row(RowState::Met);
        let prior = vec![PriorRow {
            key: r.key(),
            since: at(12, 0),
        }];
        assert_eq!(since(&[r], &prior, at(11, 0)), vec![at(11, 0)]);
    }

    #[test]
    fn the_words_name_the_day_and_minute() {
        assert_eq!(words(at(9, 5)), "since 2026-12-07 09:05 UTC");
    }
}
