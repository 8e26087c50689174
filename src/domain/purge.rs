//! Purge criteria: which people a purge job expunges, and why the others
//! it considered are skipped. Pure: the job (issue 5/5) reads the people,
//! asks [`judge`] about each, records the plan, then expunges.
//!
//! A person is *in scope* when they are not yet expunged, have a purge date
//! that is at least `grace_days` days before today (0: today or earlier;
//! without a purge date, never), and match the record type and group when
//! the criteria name them. In scope, they are *selected* unless an
//! exclusion applies; every exclusion that applies is reported, in the
//! fixed order of [`SkipReason`].

use ::time::{Date, Duration};

use super::{DomainError, UserState};

/// An amount of money in minor units (cents).
pub type Minor = i64;

/// The largest amount accepted, in major units (well inside `f64`'s exact integers).
const MAX_UNITS: f64 = 1e12;

/// An amount given in major units (`12.5`) as minor units (`1250`).
/// Refuses more than two decimals, non-finite and absurd values.
pub fn minor_from_units(field: &'static str, units: f64) -> Result<Minor, DomainError> {
    let cents = units * 100.0;
    if !units.is_finite() || units.abs() > MAX_UNITS || (cents - cents.round()).abs() > 1e-6 {
        return Err(DomainError::InvalidInput {
            field,
            message: "must be an amount with at most two decimals, below 10^12".into(),
        });
    }
    // In range and integral: the cast is exact.
    #[allow(clippy::cast_possible_truncation)]
    Ok(cents.round() as Minor)
}

/// Minor units as an amount in major units.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn units_from_minor(m: Minor) -> f64 {
    m as f64 / 100.0
}

/// What a purge job selects.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Criteria {
    /// Days the purge date must lie in the past (0: today or earlier).
    pub grace_days: u32,
    /// Only this record type, if given.
    pub record_type: Option<String>,
    /// Only this group, if given.
    pub group: Option<String>,
    /// Only this organisational unit, if given (a scoped operator's jobs are held to their unit).
    pub org_unit: Option<String>,
    /// Skip anyone who owes more than this (minor units; default 0).
    pub waive_threshold: Minor,
    /// Only people already deleted (others in scope are skipped `not_deleted`).
    pub only_deleted: bool,
}

/// The facts about one person the criteria look at (no personal data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// Lifecycle state.
    pub state: UserState,
    /// When the person may be purged.
    pub purge_date: Option<Date>,
    /// Record type (e.g. `staff`, `contractor`).
    pub record_type: Option<&'a str>,
    /// Group.
    pub group: Option<&'a str>,
    /// Organisational unit.
    pub org_unit: Option<&'a str>,
    /// Outstanding balance (minor units).
    pub balance: Minor,
    /// Items (keys, equipment) not handed back.
    pub unreturned_items: u32,
    /// Under legal hold.
    pub legal_hold: bool,
    /// Linked to an identity directory (the directory owns the lifecycle).
    pub directory_linked: bool,
}

/// Why a person in scope is not expunged (stable codes, in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    /// The job is restricted to deleted people and this one is not.
    NotDeleted,
    /// Under legal hold.
    LegalHold,
    /// Linked to an identity directory.
    DirectoryLinked,
    /// Items not handed back.
    UnreturnedItems,
    /// Owes more than the waive threshold.
    BalanceOverThreshold,
}

impl SkipReason {
    /// The stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::NotDeleted => "not_deleted",
            Self::LegalHold => "legal_hold",
            Self::DirectoryLinked => "directory_linked",
            Self::UnreturnedItems => "unreturned_items",
            Self::BalanceOverThreshold => "balance_over_threshold",
        }
    }
}

/// What the criteria say about one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not in scope: not part of the plan at all.
    OutOfScope,
    /// In scope and to be expunged.
    Select,
    /// In scope but kept, for these reasons (at least one).
    Skip(Vec<SkipReason>),
}

/// Judges one person on `today` (the job's date, in UTC).
#[must_use]
pub fn judge(c: &Criteria, p: &Candidate<'_>, today: Date) -> Verdict {
    let Some(purge) = p.purge_date else { return Verdict::OutOfScope };
    let due = today.checked_sub(Duration::days(i64::from(c.grace_days))).is_some_and(|last| purge <= last);
    let matches = |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
    if p.state == UserState::Expunged
        || !due
        || !matches(&c.record_type, p.record_type)
        || !matches(&c.group, p.group)
        || !matches(&c.org_unit, p.org_unit)
    {
        return Verdict::OutOfScope;
    }
    let reasons: Vec<SkipReason> = [
        (c.only_deleted && p.state != UserState::Deleted, SkipReason::NotDeleted),
        (p.legal_hold, SkipReason::LegalHold),
        (p.directory_linked, SkipReason::DirectoryLinked),
        (p.unreturned_items > 0, SkipReason::UnreturnedItems),
        (p.balance > c.waive_threshold, SkipReason::BalanceOverThreshold),
    ]
    .into_iter()
    .filter_map(|(applies, r)| applies.then_some(r))
    .collect();
    if reasons.is_empty() { Verdict::Select } else { Verdict::Skip(reasons) }
}

#[cfg(test)]
mod tests {
    use ::time::macros::date;

    use super::*;

    const TODAY: Date = date!(2026 - 12 - 20);

    fn person() -> Candidate<'static> {
        Candidate {
            state: UserState::Deleted,
            purge_date: Some(date!(2026 - 12 - 01)),
            record_type: Some("staff"),
            group: Some("library"),
            org_unit: Some("north"),
            balance: 0,
            unreturned_items: 0,
            legal_hold: false,
            directory_linked: false,
        }
    }

    fn skip(r: &[SkipReason]) -> Verdict {
        Verdict::Skip(r.to_vec())
    }

    #[test]
    fn the_selection_table() {
        use SkipReason::*;
        use Verdict::{OutOfScope, Select};
        let base = Criteria { grace_days: 10, ..Criteria::default() };
        let with = |f: fn(&mut Criteria)| {
            let mut c = base.clone();
            f(&mut c);
            c
        };
        let p = person();
        #[rustfmt::skip]
        let table: Vec<(&str, Criteria, Candidate<'_>, Verdict)> = vec![
            ("no purge date: never", base.clone(), Candidate { purge_date: None, ..p }, OutOfScope),
            ("purge date 19 days ago, grace 10", base.clone(), p, Select),
            ("exactly at the end of the grace period", base.clone(), Candidate { purge_date: Some(date!(2026 - 12 - 10)), ..p }, Select),
            ("one day inside the grace period", base.clone(), Candidate { purge_date: Some(date!(2026 - 12 - 11)), ..p }, OutOfScope),
            ("grace 0: today is due", with(|c| c.grace_days = 0), Candidate { purge_date: Some(TODAY), ..p }, Select),
            ("grace 0: tomorrow is not", with(|c| c.grace_days = 0), Candidate { purge_date: Some(date!(2026 - 12 - 21)), ..p }, OutOfScope),
            ("already expunged", base.clone(), Candidate { state: UserState::Expunged, ..p }, OutOfScope),
            ("record type matches", with(|c| c.record_type = Some("staff".into())), p, Select),
            ("record type differs", with(|c| c.record_type = Some("patron".into())), p, OutOfScope),
            ("record type asked, none recorded", with(|c| c.record_type = Some("staff".into())), Candidate { record_type: None, ..p }, OutOfScope),
            ("group matches", with(|c| c.group = Some("library".into())), p, Select),
            ("group differs", with(|c| c.group = Some("lab".into())), p, OutOfScope),
            ("org unit matches", with(|c| c.org_unit = Some("north".into())), p, Select),
            ("org unit differs", with(|c| c.org_unit = Some("south".into())), p, OutOfScope),
            ("active person, any state allowed", base.clone(), Candidate { state: UserState::Active, ..p }, Select),
            ("active person, only deleted", with(|c| c.only_deleted = true), Candidate { state: UserState::Active, ..p }, skip(&[NotDeleted])),
            ("suspended person, only deleted", with(|c| c.only_deleted = true), Candidate { state: UserState::Suspended, ..p }, skip(&[NotDeleted])),
            ("deleted person, only deleted", with(|c| c.only_deleted = true), p, Select),
            ("legal hold", base.clone(), Candidate { legal_hold: true, ..p }, skip(&[LegalHold])),
            ("directory linked", base.clone(), Candidate { directory_linked: true, ..p }, skip(&[DirectoryLinked])),
            ("unreturned items", base.clone(), Candidate { unreturned_items: 2, ..p }, skip(&[UnreturnedItems])),
            ("balance below the threshold", with(|c| c.waive_threshold = 500), Candidate { balance: 499, ..p }, Select),
            ("balance exactly at the threshold", with(|c| c.waive_threshold = 500), Candidate { balance: 500, ..p }, Select),
            ("balance above the threshold", with(|c| c.waive_threshold = 500), Candidate { balance: 501, ..p }, skip(&[BalanceOverThreshold])),
            ("threshold 0 by default: any debt skips", base.clone(), Candidate { balance: 1, ..p }, skip(&[BalanceOverThreshold])),
            ("a credit is no debt", base.clone(), Candidate { balance: -300, ..p }, Select),
            ("every reason, in order", with(|c| c.only_deleted = true),
                Candidate { state: UserState::Active, legal_hold: true, directory_linked: true, unreturned_items: 1, balance: 9, ..p },
                skip(&[NotDeleted, LegalHold, DirectoryLinked, UnreturnedItems, BalanceOverThreshold])),
        ];
        for (what, c, p, want) in &table {
            assert_eq!(&judge(c, p, TODAY), want, "{what}");
        }
        let codes: Vec<&str> = [NotDeleted, LegalHold, DirectoryLinked, UnreturnedItems, BalanceOverThreshold]
            .map(SkipReason::code)
            .to_vec();
        assert_eq!(
            codes,
            ["not_deleted", "legal_hold", "directory_linked", "unreturned_items", "balance_over_threshold"]
        );
    }

    #[test]
    fn amounts_convert_exactly_or_are_refused() {
        assert_eq!(minor_from_units("x", 12.5), Ok(1250));
        assert_eq!(minor_from_units("x", 0.1 + 0.2), Ok(30));
        assert_eq!(minor_from_units("x", -3.0), Ok(-300));
        assert_eq!(units_from_minor(1250), 12.5);
        for bad in [0.001, f64::NAN, f64::INFINITY, 2e12] {
            assert!(minor_from_units("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_grace_period_longer_than_the_calendar_selects_nobody() {
        let c = Criteria { grace_days: u32::MAX, ..Criteria::default() };
        assert_eq!(judge(&c, &person(), TODAY), Verdict::OutOfScope);
    }
}
