//! Instants and validity windows.
//!
//! A [`Timestamp`] is whole seconds since the Unix epoch, UTC. A
//! [`ValidityWindow`] is **half-open**: `valid_from` is inclusive and
//! `valid_to` is exclusive, so a person valid to `2027-01-01T00:00:00Z` is
//! refused from that second on, and back-to-back windows never overlap.

use std::fmt;

use ::time::format_description::well_known::Rfc3339;
use ::time::{Date, OffsetDateTime, PrimitiveDateTime, Time, macros::format_description};

use crate::domain::DomainError;

/// Seconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// [`Timestamp::parse`] of an optional input (absent stays `None`):
    /// the one way every front end reads a time.
    pub fn parse_opt(field: &'static str, s: Option<&str>) -> Result<Option<Self>, DomainError> {
        s.map(|s| Self::parse(field, s)).transpose()
    }

    /// Parses RFC 3339 (`2026-11-22T09:30:00Z`, any offset) or a bare date
    /// (`2026-11-22`, meaning midnight UTC). `field` names the input in the error.
    /// An offset may carry a year-0000 or year-9999 time outside those years
    /// in UTC: refused, as the service could not write it back in RFC 3339.
    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        let s = s.trim();
        let writable = |t: i64| {
            OffsetDateTime::from_unix_timestamp(t).is_ok_and(|u| (0..=9999).contains(&u.year())).then_some(Self(t))
        };
        let t = if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
            writable(t.unix_timestamp())
        } else {
            Date::parse(s, format_description!("[year]-[month]-[day]"))
                .ok()
                .and_then(|d| writable(PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc().unix_timestamp()))
        };
        t.ok_or_else(|| DomainError::InvalidInput {
            field,
            message: "expected an RFC 3339 time such as 2026-11-22T09:30:00Z, or a date such as 2026-11-22".into(),
        })
    }

    /// RFC 3339 in UTC, e.g. `2026-11-22T09:30:00Z`.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| self.0.to_string())
    }

    /// The calendar date (UTC) of this instant.
    #[must_use]
    pub fn date(self) -> Option<Date> {
        OffsetDateTime::from_unix_timestamp(self.0).ok().map(OffsetDateTime::date)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

/// Parses a purge date `YYYY-MM-DD`.
pub fn parse_date(field: &'static str, s: &str) -> Result<Date, DomainError> {
    Date::parse(s.trim(), format_description!("[year]-[month]-[day]"))
        .map_err(|_| DomainError::InvalidInput { field, message: "expected a date such as 2027-06-30".into() })
}

/// Formats a date as `YYYY-MM-DD`.
#[must_use]
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// When a person's credentials may grant: `[from, to)`, either end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidityWindow {
    /// Inclusive start; `None` means "since always".
    pub from: Option<Timestamp>,
    /// Exclusive end; `None` means "until further notice".
    pub to: Option<Timestamp>,
}

/// Where `now` falls relative to a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPosition {
    /// `now < from`.
    Before,
    /// `from <= now < to`.
    Inside,
    /// `now >= to`.
    After,
}

impl ValidityWindow {
    /// Checks that the window is not empty or inverted.
    pub fn new(from: Option<Timestamp>, to: Option<Timestamp>) -> Result<Self, DomainError> {
        if let (Some(f), Some(t)) = (from, to)
            && t <= f
        {
            return Err(DomainError::InvalidInput {
                field: "valid_to",
                message: "valid_to must be later than valid_from (the window is [valid_from, valid_to))".into(),
            });
        }
        Ok(Self { from, to })
    }

    /// Where `now` falls: `from` inclusive, `to` exclusive.
    #[must_use]
    pub fn position(&self, now: Timestamp) -> WindowPosition {
        if self.from.is_some_and(|f| now < f) {
            WindowPosition::Before
        } else if self.to.is_some_and(|t| now >= t) {
            WindowPosition::After
        } else {
            WindowPosition::Inside
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_and_dates() {
        assert_eq!(Timestamp::parse("t", "1970-01-01T00:01:00Z").unwrap(), Timestamp(60));
        assert_eq!(Timestamp::parse("t", "1970-01-01T01:00:00+01:00").unwrap(), Timestamp(0));
        assert_eq!(Timestamp::parse("t", "1970-01-02").unwrap(), Timestamp(86_400));
        let e = Timestamp::parse("valid_from", "yesterday").unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        assert_eq!(Timestamp(86_400).to_rfc3339(), "1970-01-02T00:00:00Z");
    }

    #[test]
    fn window_is_half_open() {
        let w = ValidityWindow::new(Some(Timestamp(100)), Some(Timestamp(200))).unwrap();
        assert_eq!(w.position(Timestamp(99)), WindowPosition::Before);
        assert_eq!(w.position(Timestamp(100)), WindowPosition::Inside);
        assert_eq!(w.position(Timestamp(199)), WindowPosition::Inside);
        assert_eq!(w.position(Timestamp(200)), WindowPosition::After);
        let open = ValidityWindow::default();
        assert_eq!(open.position(Timestamp(i64::MIN)), WindowPosition::Inside);
        assert_eq!(open.position(Timestamp(i64::MAX)), WindowPosition::Inside);
    }

    #[test]
    fn refuses_empty_or_inverted_window() {
        assert!(ValidityWindow::new(Some(Timestamp(5)), Some(Timestamp(5))).is_err());
        assert!(ValidityWindow::new(Some(Timestamp(6)), Some(Timestamp(5))).is_err());
        assert!(ValidityWindow::new(None, Some(Timestamp(5))).is_ok());
    }

    #[test]
    fn dates_round_trip() {
        let d = parse_date("purge_date", "2027-06-30").unwrap();
        assert_eq!(format_date(d), "2027-06-30");
        assert!(parse_date("purge_date", "2027-13-01").is_err());
    }
}
