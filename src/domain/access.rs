//! Who may open which door, when: sites, schedules, holiday calendars,
//! access levels and their assignments (issue 16), as pure rules.
//!
//! # The rule
//!
//! [`RuleSet::access`] looks at the access levels a person holds *now* (an
//! [`Assignment`] counts from `valid_from` inclusive to `valid_to`
//! exclusive, as a [`ValidityWindow`]). A level **covers** a door when one of
//! its grants names the door, or an area the door belongs to. No held level
//! covers the door → [`Refusal::NoAccessToDoor`]; some cover it but none of
//! the covering grants' schedules is open now → [`Refusal::OutsideSchedule`];
//! else the first open grant (assignments in the order given, grants in the
//! level's order) is the [`Grant`] that explains the decision. A grant whose
//! schedule is unknown to the rules is never open (fails closed); a held level
//! unknown to the rules covers nothing.
//!
//! # Local time
//!
//! A schedule is written in the wall-clock time of its [`Site`] (an IANA time
//! zone, looked up in the tz database built into the binary by `jiff`, so the
//! host's zoneinfo plays no part). Membership is decided on **local wall-clock
//! time**: the instant is converted to the site's civil time (its UTC offset
//! at that instant), and the weekday and second of the day are checked
//! against the intervals. Consequences, all tested:
//! - at a spring-forward gap, wall times inside the gap never occur: an
//!   interval lying wholly inside it (02:00-03:00 in Berlin or New York on
//!   the March night) is not open at all that night, and 22:00-06:00 lasts
//!   seven real hours;
//! - at a fall-back overlap, both occurrences of a wall time are inside an
//!   interval that contains it: 02:00-03:00 in Berlin (01:00-02:00 in New
//!   York) is open for two real hours on the October/November night, and
//!   22:00-06:00 lasts nine.
//!
//! # Intervals, midnight and holidays
//!
//! An [`Interval`] is a set of weekdays and a [`TimeRange`] `start-end` in
//! minutes of the day, `start` inclusive and `end` exclusive. `end <= start`
//! means the range crosses midnight: `22:00-06:00` on Monday covers Monday
//! 22:00 → Tuesday 06:00, and `00:00-00:00` is the whole day (`24:00` is
//! accepted as an end and means the same as `00:00`).
//!
//! An interval **belongs to the day it starts**. Whether it runs is decided by
//! that day alone: its weekday, and its holiday status in the schedule's
//! [`HolidayCalendar`]. When that day is a holiday whose type the schedule has
//! a rule for ([`HolidayRule`]), the day's weekly intervals are replaced by the
//! rule: `closed` (no interval starts that day) or the rule's own time ranges
//! (which may cross midnight too). A holiday type the schedule has no rule for
//! leaves the day's weekly intervals as they are. So a `closed` holiday on a
//! Monday closes Monday 22:00 → Tuesday 06:00, and a holiday on Tuesday does
//! not close Tuesday 00:00-06:00 of Monday's interval.
//!
//! A holiday is one date, or recurs yearly on the same month and day (a yearly
//! 29 February occurs in leap years only). When a one-off date and a yearly
//! date fall on the same day, the one-off date's type wins.
//!
//! # The door path
//!
//! [`RuleSet::access`] does not allocate. It looks at a table, made once
//! per rule set ([`RuleSet::prepare`]), of the grants covering each door,
//! sorted by level: each held level is a binary search in the door's
//! covers, so the cost does not grow with the number of levels or areas.
//! It converts the instant to local time once per site per decision,
//! through [`Site::offset_at`], which answers from a table of the zone's
//! UTC-offset spans precomputed for 2000-2100 (a binary search) and asks
//! `jiff` only outside it (`make bench-levels`).

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::OnceLock;

use jiff::tz::TimeZone;

use crate::domain::{DomainError, Timestamp, ValidityWindow, time::WindowPosition};

fn invalid(field: &'static str, message: impl Into<String>) -> DomainError {
    DomainError::InvalidInput { field, message: message.into() }
}

const SECS_PER_DAY: i64 = 86_400;
const MINUTES_PER_DAY: u16 = 1440;

// ---------------------------------------------------------------- civil days

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Month (1-12) and day (1-31) of a day since 1970-01-01 (H. Hinnant's
/// `civil_from_days`, without the year, which yearly holidays do not need).
fn month_day_from_days(z: i64) -> (i8, i8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    // Both are in range by construction (1-31, 1-12).
    (i8::try_from(m).unwrap_or(1), i8::try_from(d).unwrap_or(1))
}

// ---------------------------------------------------------------- sites

/// The wall-clock time at a site: a day (days since 1970-01-01 in local
/// time), the second of that day, and its weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Local days since 1970-01-01.
    pub day: i64,
    /// Second of the local day, `0..86400`.
    pub second: u32,
}

impl LocalTime {
    /// The local wall-clock time of `at` at a fixed UTC offset (seconds east).
    #[must_use]
    pub fn at_offset(at: Timestamp, offset_secs: i32) -> Self {
        let local = at.0.saturating_add(i64::from(offset_secs));
        let second = u32::try_from(local.rem_euclid(SECS_PER_DAY)).unwrap_or(0);
        Self { day: local.div_euclid(SECS_PER_DAY), second }
    }

    /// The weekday (1970-01-01 was a Thursday).
    #[must_use]
    pub fn weekday(self) -> Weekday {
        Weekday::from_days(self.day)
    }
}

/// First instant of the precomputed offset table: 2000-01-01T00:00:00Z.
const SPANS_FROM: i64 = 946_684_800;
/// End of the precomputed offset table: 2100-01-01T00:00:00Z.
const SPANS_TO: i64 = 4_102_444_800;

/// A site: where doors are, and the IANA time zone its schedules are written in.
#[derive(Clone)]
pub struct Site {
    name: String,
    tz: TimeZone,
    /// `(first instant, UTC offset in seconds)` of each offset span between
    /// [`SPANS_FROM`] and [`SPANS_TO`], in order; the first starts at `SPANS_FROM`.
    spans: Box<[(i64, i32)]>,
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Site").field("tz", &self.name).field("spans", &self.spans.len()).finish()
    }
}

impl Site {
    /// A site in the IANA time zone `tz` (e.g. `Europe/Berlin`, `UTC`),
    /// looked up in the built-in tz database (case-insensitive; the
    /// database's spelling is kept). Refuses names the database lacks.
    pub fn new(tz: &str) -> Result<Self, DomainError> {
        let name = tz.trim();
        if name.is_empty() {
            return Err(invalid("tz", "expected an IANA time zone name such as Europe/Berlin or UTC"));
        }
        let zone = TimeZone::get(name).map_err(|_| {
            invalid(
                "tz",
                "not a time zone of the IANA tz database; write a name such as Europe/Berlin, America/New_York or UTC",
            )
        })?;
        let name = zone.iana_name().unwrap_or(name).to_owned();
        let mut spans = Vec::new();
        if let Ok(from) = jiff::Timestamp::from_second(SPANS_FROM) {
            spans.push((SPANS_FROM, zone.to_offset(from).seconds()));
            for t in zone.following(from) {
                let start = t.timestamp().as_second();
                if start >= SPANS_TO {
                    break;
                }
                spans.push((start, t.offset().seconds()));
            }
        }
        Ok(Self { name, tz: zone, spans: spans.into_boxed_slice() })
    }

    /// The time zone's IANA name.
    #[must_use]
    pub fn tz_name(&self) -> &str {
        &self.name
    }

    /// The zone's UTC-offset spans from 2000-01-01 to 2100-01-01:
    /// `(first instant, unix seconds; UTC offset, seconds east)` in order,
    /// the first starting at 2000-01-01T00:00:00Z. What the controller feed
    /// sends so that a controller needs no tz database.
    #[must_use]
    pub fn offsets(&self) -> &[(i64, i32)] {
        &self.spans
    }

    /// The `jiff` time zone.
    #[must_use]
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The site's UTC offset at `at`, in seconds east of UTC: from the
    /// precomputed spans within 2000-2100, from the tz database outside.
    #[must_use]
    pub fn offset_at(&self, at: Timestamp) -> i32 {
        if (SPANS_FROM..SPANS_TO).contains(&at.0) {
            let i = self.spans.partition_point(|&(start, _)| start <= at.0);
            if let Some(&(_, offset)) = i.checked_sub(1).and_then(|i| self.spans.get(i)) {
                return offset;
            }
        }
        self.offset_from_tzdb(at)
    }

    /// The UTC offset as the tz database gives it (no table), for instants
    /// clamped to the years `jiff` knows (-9999..=9999).
    #[must_use]
    pub fn offset_from_tzdb(&self, at: Timestamp) -> i32 {
        let s = at.0.clamp(jiff::Timestamp::MIN.as_second(), jiff::Timestamp::MAX.as_second());
        jiff::Timestamp::from_second(s).map_or(0, |t| self.tz.to_offset(t).seconds())
    }

    /// The site's wall-clock time at `at`.
    #[must_use]
    pub fn local(&self, at: Timestamp) -> LocalTime {
        LocalTime::at_offset(at, self.offset_at(at))
    }
}

// ---------------------------------------------------------------- weekdays

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// Monday first.
    pub const ALL: [Self; 7] = [Self::Mon, Self::Tue, Self::Wed, Self::Thu, Self::Fri, Self::Sat, Self::Sun];
    const NAMES: [&'static str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    /// The weekday of a day counted from 1970-01-01 (a Thursday).
    #[must_use]
    pub fn from_days(day: i64) -> Self {
        Self::from_index(usize::try_from((day + 3).rem_euclid(7)).unwrap_or(0))
    }

    fn from_index(i: usize) -> Self {
        Self::ALL.get(i).copied().unwrap_or(Self::Mon)
    }

    /// Monday = 0 … Sunday = 6.
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }

    /// `mon`, `tue`, …
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::NAMES[self.index()]
    }

    fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        Self::NAMES.iter().position(|n| *n == s).map(Self::from_index)
    }
}

/// A set of weekdays, written `mon`, `mon-fri`, `sat,sun`, `mon-wed,fri`
/// (a range may wrap: `fri-mon` is Friday to Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Weekdays(u8);

impl Weekdays {
    /// Every day.
    pub const ALL: Self = Self(0x7F);

    /// The set holding exactly these days.
    #[must_use]
    pub fn of(days: &[Weekday]) -> Self {
        Self(days.iter().fold(0, |m, d| m | 1 << d.index()))
    }

    /// Whether `day` is in the set.
    #[must_use]
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.index()) != 0
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses `mon`, `mon-fri`, `sat,sun`, `mon-wed,fri` (case-insensitive).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let bad = || {
            invalid(
                "days",
                "expected weekdays such as mon, mon-fri or sat,sun (mon tue wed thu fri sat sun; a range a-b may wrap, e.g. fri-mon)",
            )
        };
        let mut set = 0u8;
        for part in s.split(',') {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (Weekday::parse(a).ok_or_else(bad)?, Weekday::parse(b).ok_or_else(bad)?),
                None => {
                    let d = Weekday::parse(part).ok_or_else(bad)?;
                    (d, d)
                }
            };
            let mut i = a.index();
            loop {
                set |= 1 << i;
                if i == b.index() {
                    break;
                }
                i = (i + 1) % 7;
            }
        }
        Ok(Self(set))
    }
}

impl fmt::Display for Weekdays {
    /// Runs of consecutive days as ranges, Monday first: `mon-fri`, `sat,sun`
    /// (two days are written as a list), `mon,wed-fri`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut i = 0;
        while i < 7 {
            if self.0 & (1 << i) == 0 {
                i += 1;
                continue;
            }
            let mut j = i;
            while j + 1 < 7 && self.0 & (1 << (j + 1)) != 0 {
                j += 1;
            }
            let (a, b) = (Weekday::from_index(i).name(), Weekday::from_index(j).name());
            let sep = if first { "" } else { "," };
            match j - i {
                0 => write!(f, "{sep}{a}")?,
                1 => write!(f, "{sep}{a},{b}")?,
                _ => write!(f, "{sep}{a}-{b}")?,
            }
            first = false;
            i = j + 1;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- time ranges

/// `start-end` in minutes of the local day (`0..1440`), `start` inclusive,
/// `end` exclusive; `end <= start` crosses midnight (`00:00-00:00` is the
/// whole day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    start: u16,
    end: u16,
}

impl TimeRange {
    /// A range from minutes of the day; `end` may be 1440 (`24:00`, the same as 0).
    pub fn new(start: u16, end: u16) -> Result<Self, DomainError> {
        if start >= MINUTES_PER_DAY || end > MINUTES_PER_DAY {
            return Err(invalid("interval", "a time of day is 00:00 to 23:59 (24:00 only as an end)"));
        }
        Ok(Self { start, end: end % MINUTES_PER_DAY })
    }

    /// Parses `HH:MM-HH:MM`, e.g. `08:00-17:30` or `22:00-06:00`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let bad = || invalid("interval", "expected HH:MM-HH:MM such as 08:00-17:30, or 22:00-06:00 across midnight");
        let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
        let minutes = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            if h.is_empty() || h.len() > 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|c| c.is_ascii_digit())
            {
                return None;
            }
            let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
        };
        let (start, end) = (minutes(a).ok_or_else(bad)?, minutes(b).ok_or_else(bad)?);
        if start == MINUTES_PER_DAY {
            return Err(invalid("interval", "24:00 is only an end; a range starting at midnight starts at 00:00"));
        }
        Self::new(start, end)
    }

    /// Start, minutes of the day.
    #[must_use]
    pub fn start(self) -> u16 {
        self.start
    }

    /// End, minutes of the day (`0..1440`).
    #[must_use]
    pub fn end(self) -> u16 {
        self.end
    }

    /// Whether the range runs past midnight into the next day (`end <= start`).
    #[must_use]
    pub fn crosses_midnight(self) -> bool {
        self.end <= self.start
    }

    /// Whether a range starting on the local day holds `second` of that day.
    fn holds_same_day(self, second: u32) -> bool {
        let (s, e) = (u32::from(self.start) * 60, u32::from(self.end) * 60);
        second >= s && (self.crosses_midnight() || second < e)
    }

    /// Whether a range that started the day before holds `second` of today.
    fn holds_next_day(self, second: u32) -> bool {
        self.crosses_midnight() && second < u32::from(self.end) * 60
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The whole day reads 00:00-24:00.
        let end = if self.start == 0 && self.end == 0 { MINUTES_PER_DAY } else { self.end };
        write!(f, "{:02}:{:02}-{:02}:{:02}", self.start / 60, self.start % 60, end / 60, end % 60)
    }
}

/// Weekdays and a time range: the range starts on each of the days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interval {
    /// The days the range starts on.
    pub days: Weekdays,
    /// The wall-clock range.
    pub range: TimeRange,
}

impl Interval {
    /// Parses the CLI's `--interval DAYS HH:MM-HH:MM`.
    pub fn parse(days: &str, range: &str) -> Result<Self, DomainError> {
        Ok(Self { days: Weekdays::parse(days)?, range: TimeRange::parse(range)? })
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.days, self.range)
    }
}

// ---------------------------------------------------------------- holidays

/// A holiday type (`public`, `closure`, …): 1-32 of `a-z 0-9 _ -`,
/// written lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HolidayType(String);

impl HolidayType {
    /// Parses a type name (case-insensitive; kept lowercase).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let s = s.trim().to_ascii_lowercase();
        if s.is_empty() || s.len() > 32 || !s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') {
            return Err(invalid("type", "a holiday type is 1 to 32 of a-z, 0-9, _ and -, e.g. public or closure"));
        }
        Ok(Self(s))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for HolidayType {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HolidayType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One entry of a holiday calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    /// The date (for a yearly holiday, its month and day recur).
    pub date: jiff::civil::Date,
    /// Its type.
    pub kind: HolidayType,
    /// Recurs every year on the same month and day.
    pub yearly: bool,
}

impl Holiday {
    /// Parses the CLI's `--date 2027-12-25 --type TYPE [--yearly]`.
    pub fn parse(date: &str, kind: &str, yearly: bool) -> Result<Self, DomainError> {
        let date = date
            .trim()
            .parse::<jiff::civil::Date>()
            .map_err(|_| invalid("date", "expected a date such as 2027-12-25"))?;
        Ok(Self { date, kind: HolidayType::parse(kind)?, yearly })
    }

    fn epoch_day(&self) -> i64 {
        days_from_civil(i64::from(self.date.year()), i64::from(self.date.month()), i64::from(self.date.day()))
    }
}

/// Dated holidays, each with a type; some recur yearly.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HolidayCalendar {
    /// One-off holidays by local day since 1970-01-01.
    once: BTreeMap<i64, HolidayType>,
    /// Yearly holidays by (month, day).
    yearly: BTreeMap<(i8, i8), HolidayType>,
}

/// The calendar with no holidays (for a schedule that names none).
pub static NO_HOLIDAYS: HolidayCalendar = HolidayCalendar { once: BTreeMap::new(), yearly: BTreeMap::new() };

impl HolidayCalendar {
    /// A calendar of these holidays; refuses two one-off holidays on the same
    /// date, or two yearly ones on the same month and day.
    pub fn new(holidays: impl IntoIterator<Item = Holiday>) -> Result<Self, DomainError> {
        let mut cal = Self::default();
        for h in holidays {
            let taken = if h.yearly {
                cal.yearly.insert((h.date.month(), h.date.day()), h.kind).is_some()
            } else {
                cal.once.insert(h.epoch_day(), h.kind).is_some()
            };
            if taken {
                return Err(invalid(
                    "date",
                    format!(
                        "the calendar already has a {}holiday on {}",
                        if h.yearly { "yearly " } else { "" },
                        h.date
                    ),
                ));
            }
        }
        Ok(cal)
    }

    /// Whether the calendar has no holidays.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.once.is_empty() && self.yearly.is_empty()
    }

    /// The holiday type of a local day (days since 1970-01-01), if any: a
    /// one-off date first, then a yearly month and day.
    #[must_use]
    pub fn holiday_on(&self, day: i64) -> Option<&HolidayType> {
        if self.is_empty() {
            return None;
        }
        self.once
            .get(&day)
            .or_else(|| if self.yearly.is_empty() { None } else { self.yearly.get(&month_day_from_days(day)) })
    }
}

// ---------------------------------------------------------------- schedules

/// What a schedule does on a holiday of some type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolidayRule {
    /// No interval starts that day.
    Closed,
    /// These ranges replace the day's weekly intervals.
    Intervals(Vec<TimeRange>),
}

impl HolidayRule {
    /// Parses the CLI's `--on TYPE closed|HH:MM-HH:MM[,HH:MM-HH:MM…]`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        if s.trim().eq_ignore_ascii_case("closed") {
            return Ok(Self::Closed);
        }
        s.split(',').map(TimeRange::parse).collect::<Result<Vec<_>, _>>().map(Self::Intervals).map_err(|_| {
            invalid("on", "expected closed, or HH:MM-HH:MM ranges separated by commas, such as 10:00-14:00")
        })
    }
}

/// Weekly intervals in a site's local time, and what happens on holidays.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    /// The weekly intervals.
    pub intervals: Vec<Interval>,
    /// The rule for each holiday type the schedule names.
    pub on_holiday: BTreeMap<HolidayType, HolidayRule>,
}

/// Which interval made a schedule open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenInterval<'a> {
    /// The wall-clock range.
    pub range: TimeRange,
    /// The weekly interval's days, or `None` for a holiday rule's range.
    pub days: Option<Weekdays>,
    /// The holiday type whose rule gave the range, if it was one.
    pub holiday: Option<&'a HolidayType>,
    /// The range started the local day before (its after-midnight part).
    pub started_day_before: bool,
}

impl Schedule {
    /// The ranges that start on a local day, each with its weekly days, or
    /// `None` and the holiday type for a holiday rule's range.
    fn ranges_on<'a>(
        &'a self,
        calendar: &'a HolidayCalendar,
        day: i64,
    ) -> impl Iterator<Item = (TimeRange, Option<Weekdays>, Option<&'a HolidayType>)> + 'a {
        let rule = calendar.holiday_on(day).and_then(|t| self.on_holiday.get_key_value(t.as_str()));
        let weekday = Weekday::from_days(day);
        let weekly: &[Interval] = match rule {
            None => &self.intervals[..],
            Some(_) => &[],
        };
        let holiday: &[TimeRange] = match rule {
            Some((_, HolidayRule::Intervals(v))) => v,
            _ => &[],
        };
        let kind = rule.map(|(t, _)| t);
        weekly
            .iter()
            .filter(move |i| i.days.contains(weekday))
            .map(|i| (i.range, Some(i.days), None))
            .chain(holiday.iter().map(move |r| (*r, None, kind)))
    }

    /// Whether the schedule is open at a local wall-clock time, and which
    /// interval opens it: one starting that day, else the after-midnight part
    /// of one that started the day before.
    #[must_use]
    pub fn open_at<'a>(&'a self, calendar: &'a HolidayCalendar, local: LocalTime) -> Option<OpenInterval<'a>> {
        let today = self.ranges_on(calendar, local.day).find(|(r, ..)| r.holds_same_day(local.second));
        if let Some((range, days, holiday)) = today {
            return Some(OpenInterval { range, days, holiday, started_day_before: false });
        }
        self.ranges_on(calendar, local.day - 1)
            .find(|(r, ..)| r.holds_next_day(local.second))
            .map(|(range, days, holiday)| OpenInterval { range, days, holiday, started_day_before: true })
    }
}

impl Schedule {
    /// The stored form: intervals as `DAYS HH:MM-HH:MM` joined by `;`.
    #[must_use]
    pub fn intervals_text(&self) -> String {
        self.intervals.iter().map(ToString::to_string).collect::<Vec<_>>().join(";")
    }

    /// The stored form of the holiday rules: `TYPE closed` or
    /// `TYPE HH:MM-HH:MM,…`, joined by `;`.
    #[must_use]
    pub fn holiday_rules_text(&self) -> String {
        self.on_holiday
            .iter()
            .map(|(t, r)| match r {
                HolidayRule::Closed => format!("{t} closed"),
                HolidayRule::Intervals(v) => {
                    format!("{t} {}", v.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
                }
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Reads the stored form ([`Schedule::intervals_text`],
    /// [`Schedule::holiday_rules_text`]).
    pub fn from_text(intervals: &str, holiday_rules: &str) -> Result<Self, DomainError> {
        let mut s = Self::default();
        for part in intervals.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (days, range) = part.split_once(' ').ok_or_else(|| invalid("interval", "expected DAYS HH:MM-HH:MM"))?;
            s.intervals.push(Interval::parse(days, range)?);
        }
        for part in holiday_rules.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, rule) = part.split_once(' ').ok_or_else(|| invalid("on", "expected TYPE closed|HH:MM-HH:MM"))?;
            s.on_holiday.insert(HolidayType::parse(kind)?, HolidayRule::parse(rule)?);
        }
        Ok(s)
    }
}

/// Whether `schedule` (with its calendar, in `site`'s time zone) is open at
/// `at`, and which interval opens it.
#[must_use]
pub fn schedule_open<'a>(
    schedule: &'a Schedule,
    calendar: &'a HolidayCalendar,
    site: &Site,
    at: Timestamp,
) -> Option<OpenInterval<'a>> {
    schedule.open_at(calendar, site.local(at))
}

// ---------------------------------------------------------------- levels

/// A site's ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteId(pub i64);
/// A door's ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DoorId(pub i64);
/// An area's ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AreaId(pub i64);
/// A schedule's ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScheduleId(pub i64);
/// A holiday calendar's ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CalendarId(pub i64);
/// An access level's ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LevelId(pub i64);

/// What a grant opens: one door, every door of an area, or every door
/// there is (the default level "All doors, always").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// One door.
    Door(DoorId),
    /// Every door of the area.
    Area(AreaId),
    /// Every door, including doors added later.
    AllDoors,
}

impl Target {
    /// Whether the target names `door` or one of its areas.
    #[must_use]
    pub fn covers(self, door: DoorId, areas_of_door: &[AreaId]) -> bool {
        match self {
            Self::Door(d) => d == door,
            Self::Area(a) => areas_of_door.contains(&a),
            Self::AllDoors => true,
        }
    }
}

/// A group's ID: the interned `group` field of a person, or (made by
/// [`GroupId::directory`]) a directory group. The two never meet, and a
/// person's groups sort with their `group` first, then their directory
/// groups by ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub i64);

impl GroupId {
    /// Directory groups' IDs lie at and above this.
    pub const DIRECTORY: i64 = 1 << 40;

    /// The ID of directory group `id` (a `directory_groups` row).
    #[must_use]
    pub const fn directory(id: i64) -> Self {
        Self(Self::DIRECTORY | id)
    }

    /// The directory group's row ID, when this is one.
    #[must_use]
    pub const fn directory_row(self) -> Option<i64> {
        if self.0 >= Self::DIRECTORY { Some(self.0 & (Self::DIRECTORY - 1)) } else { None }
    }
}

/// A set of (door or area, schedule) pairs: the unit staff assign.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessLevel {
    /// The grants, in order.
    pub grants: Vec<(Target, ScheduleId)>,
}

/// A level held by a person (directly or through a group), from `valid_from`
/// inclusive to `valid_to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    /// The level.
    pub level: LevelId,
    /// When it counts.
    pub window: ValidityWindow,
}

impl Assignment {
    /// Refuses an empty or inverted window (`valid_to` must be later than `valid_from`).
    pub fn new(
        level: LevelId,
        valid_from: Option<Timestamp>,
        valid_to: Option<Timestamp>,
    ) -> Result<Self, DomainError> {
        Ok(Self { level, window: ValidityWindow::new(valid_from, valid_to)? })
    }

    /// Whether the assignment counts at `at`.
    #[must_use]
    pub fn holds_at(&self, at: Timestamp) -> bool {
        self.window.position(at) == WindowPosition::Inside
    }
}

/// A schedule with what it is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleRef<'a> {
    /// The schedule.
    pub schedule: &'a Schedule,
    /// Its holiday calendar ([`NO_HOLIDAYS`] when it names none).
    pub calendar: &'a HolidayCalendar,
    /// The site whose local time it is written in.
    pub site_id: SiteId,
    /// That site.
    pub site: &'a Site,
}

/// Why a valid card may not open this door now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// No level the person holds now covers the door.
    NoAccessToDoor,
    /// A held level covers the door, but none of its schedules is open now.
    OutsideSchedule,
}

impl Refusal {
    /// The stable code (`no_access_to_door`, `outside_schedule`).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::NoAccessToDoor => "no_access_to_door",
            Self::OutsideSchedule => "outside_schedule",
        }
    }
}

/// What opened the door: the level, the grant's target and schedule, and the interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant<'a> {
    /// The level.
    pub level: LevelId,
    /// The grant's target (the door, or an area holding it).
    pub target: Target,
    /// The grant's schedule.
    pub schedule: ScheduleId,
    /// The interval open now.
    pub interval: OpenInterval<'a>,
}

/// A door as the rules see it: its site and the areas it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorRules {
    /// The site.
    pub site: SiteId,
    /// The areas holding the door.
    pub areas: Vec<AreaId>,
}

/// The access rules in memory: sites, calendars, schedules, levels, doors
/// (by ID and by name) and the levels each group holds. The index holds one
/// behind an `Arc` and replaces it whole when the rules change.
#[derive(Debug, Default)]
pub struct RuleSet {
    sites: FastMap<SiteId, Site>,
    calendars: FastMap<CalendarId, HolidayCalendar>,
    schedules: FastMap<ScheduleId, (Schedule, SiteId, Option<CalendarId>)>,
    levels: FastMap<LevelId, AccessLevel>,
    doors: FastMap<DoorId, DoorRules>,
    door_names: FastMap<Box<str>, DoorId>,
    groups: FastMap<GroupId, Vec<Assignment>>,
    /// Per door, the grants covering it: made once on first use after a
    /// change (the index makes it before the rules come into force).
    covers: OnceLock<FastMap<DoorId, Box<[Cover]>>>,
}

/// Hash maps of the door path: `foldhash` (randomly seeded per map) is
/// several times faster than SipHash on these small keys; the keys are
/// IDs and door names staff create, never a reader's bytes.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A grant covering a door: its level, what it names, its schedule. A
/// door's covers are sorted by level, each level's in grant order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cover {
    level: LevelId,
    target: Target,
    schedule: ScheduleId,
}

impl RuleSet {
    /// Adds or replaces a door (its name as controllers and readers say it, exactly).
    pub fn set_door(&mut self, id: DoorId, name: &str, door: DoorRules) {
        self.covers = OnceLock::new();
        self.door_names.insert(name.into(), id);
        self.doors.insert(id, door);
    }

    /// The door called `name` (exact match).
    #[must_use]
    pub fn door_named(&self, name: &str) -> Option<DoorId> {
        self.door_names.get(name).copied()
    }

    /// Adds a level held by every member of a group.
    pub fn add_group_assignment(&mut self, group: GroupId, assignment: Assignment) {
        self.groups.entry(group).or_default().push(assignment);
    }

    /// The levels a group holds.
    #[must_use]
    pub fn group_assignments(&self, group: GroupId) -> &[Assignment] {
        self.groups.get(&group).map_or(&[], Vec::as_slice)
    }

    /// Every group holding levels, with its assignments, in no order.
    pub fn group_list(&self) -> impl Iterator<Item = (GroupId, &[Assignment])> {
        self.groups.iter().map(|(g, v)| (*g, v.as_slice()))
    }

    /// Every door: name and ID, in no order.
    pub fn door_list(&self) -> impl Iterator<Item = (&str, DoorId)> {
        self.door_names.iter().map(|(n, id)| (&**n, *id))
    }

    /// The (level, target, schedule) grants covering `door` among the
    /// levels a person holds at `at` (directly or through their `groups`),
    /// whatever the time of day: what `idms access` shows.
    #[must_use]
    pub fn covering(
        &self,
        direct: &[Assignment],
        groups: &[GroupId],
        door: DoorId,
        at: Timestamp,
    ) -> Vec<(LevelId, Target, ScheduleId)> {
        let Some(d) = self.doors.get(&door) else { return Vec::new() };
        let by_groups = groups.iter().flat_map(|g| self.group_assignments(*g));
        let mut out = Vec::new();
        for a in direct.iter().chain(by_groups).filter(|a| a.holds_at(at)) {
            if let Some(level) = self.levels.get(&a.level) {
                for &(t, s) in level.grants.iter().filter(|(t, _)| t.covers(door, &d.areas)) {
                    out.push((a.level, t, s));
                }
            }
        }
        out
    }

    /// How many doors the rules know.
    #[must_use]
    pub fn door_count(&self) -> usize {
        self.doors.len()
    }

    /// May a person holding `direct` levels and belonging to `groups` open
    /// `door` at `at`? Their own assignments are looked at first, then each
    /// group's in order; the first open grant opens it, and a door some
    /// level covers but no schedule opens now is `outside_schedule`. A door
    /// the rules do not know is covered by no level. Does not allocate.
    pub fn access(
        &self,
        direct: &[Assignment],
        groups: &[GroupId],
        door: DoorId,
        at: Timestamp,
    ) -> Result<Grant<'_>, Refusal> {
        let covers = self.covers_of(door);
        if covers.is_empty() {
            return Err(Refusal::NoAccessToDoor);
        }
        let mut refusal = match self.held_access(direct, covers, at) {
            Ok(g) => return Ok(g),
            Err(r) => r,
        };
        for g in groups {
            match self.held_access(self.group_assignments(*g), covers, at) {
                Ok(g) => return Ok(g),
                Err(Refusal::OutsideSchedule) => refusal = Refusal::OutsideSchedule,
                Err(Refusal::NoAccessToDoor) => {}
            }
        }
        Err(refusal)
    }

    /// Makes the per-door table of covering grants now (else the first
    /// decision after a change does): the index calls it before the rules
    /// come into force.
    pub fn prepare(&self) {
        self.covers_of(DoorId(0));
    }

    /// The grants covering `door`, sorted by level.
    fn covers_of(&self, door: DoorId) -> &[Cover] {
        let table = self.covers.get_or_init(|| {
            let mut by_area: FastMap<AreaId, Vec<DoorId>> = FastMap::default();
            for (&id, d) in &self.doors {
                for &a in &d.areas {
                    by_area.entry(a).or_default().push(id);
                }
            }
            let mut table: FastMap<DoorId, Vec<Cover>> = FastMap::default();
            for (&level, l) in &self.levels {
                for &(target, schedule) in &l.grants {
                    let cover = Cover { level, target, schedule };
                    match target {
                        Target::Door(d) if self.doors.contains_key(&d) => table.entry(d).or_default().push(cover),
                        Target::Door(_) => {}
                        Target::Area(a) => {
                            for &d in by_area.get(&a).map_or(&[][..], Vec::as_slice) {
                                table.entry(d).or_default().push(cover);
                            }
                        }
                        Target::AllDoors => {
                            for &d in self.doors.keys() {
                                table.entry(d).or_default().push(cover);
                            }
                        }
                    }
                }
            }
            table
                .into_iter()
                .map(|(d, mut v)| {
                    // Stable: a level's grants stay in their order.
                    v.sort_by_key(|c| c.level);
                    (d, v.into_boxed_slice())
                })
                .collect()
        });
        table.get(&door).map_or(&[], |v| v)
    }

    /// The first grant among `covers` of a level in `held` (in `held`'s
    /// order, then the level's grant order) whose schedule is open at `at`.
    fn held_access<'r>(&'r self, held: &[Assignment], covers: &[Cover], at: Timestamp) -> Result<Grant<'r>, Refusal> {
        let mut covered = false;
        let mut local: Option<(SiteId, LocalTime)> = None;
        for a in held.iter().filter(|a| a.holds_at(at)) {
            let from = covers.partition_point(|c| c.level < a.level);
            for c in covers.get(from..).unwrap_or_default().iter().take_while(|c| c.level == a.level) {
                covered = true;
                let Some(s) = self.schedule_ref(c.schedule) else { continue };
                let now = match local {
                    Some((site, now)) if site == s.site_id => now,
                    _ => {
                        let now = s.site.local(at);
                        local = Some((s.site_id, now));
                        now
                    }
                };
                if let Some(interval) = s.schedule.open_at(s.calendar, now) {
                    return Ok(Grant { level: a.level, target: c.target, schedule: c.schedule, interval });
                }
            }
        }
        Err(if covered { Refusal::OutsideSchedule } else { Refusal::NoAccessToDoor })
    }

    /// Adds or replaces a site.
    pub fn set_site(&mut self, id: SiteId, site: Site) {
        self.sites.insert(id, site);
    }

    /// Adds or replaces a holiday calendar.
    pub fn set_calendar(&mut self, id: CalendarId, calendar: HolidayCalendar) {
        self.calendars.insert(id, calendar);
    }

    /// Adds or replaces a schedule of a site, with an optional calendar;
    /// refuses a site or calendar the set does not hold.
    pub fn set_schedule(
        &mut self,
        id: ScheduleId,
        site: SiteId,
        calendar: Option<CalendarId>,
        schedule: Schedule,
    ) -> Result<(), DomainError> {
        if !self.sites.contains_key(&site) {
            return Err(DomainError::NotFound { what: "site", id: site.0.to_string() });
        }
        if let Some(c) = calendar.filter(|c| !self.calendars.contains_key(c)) {
            return Err(DomainError::NotFound { what: "holiday calendar", id: c.0.to_string() });
        }
        self.schedules.insert(id, (schedule, site, calendar));
        Ok(())
    }

    /// Adds or replaces a level.
    pub fn set_level(&mut self, id: LevelId, level: AccessLevel) {
        self.covers = OnceLock::new();
        self.levels.insert(id, level);
    }
}

impl RuleSet {
    /// A schedule by ID, with its calendar and site.
    fn schedule_ref(&self, id: ScheduleId) -> Option<ScheduleRef<'_>> {
        let (schedule, site_id, calendar) = self.schedules.get(&id)?;
        let calendar = match calendar {
            Some(c) => self.calendars.get(c)?,
            None => &NO_HOLIDAYS,
        };
        Some(ScheduleRef { schedule, calendar, site_id: *site_id, site: self.sites.get(site_id)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp(s.parse::<jiff::Timestamp>().unwrap().as_second())
    }

    /// A rule set: one site, one door in one area, one schedule, one level
    /// granting the area on it.
    fn rules(tz: &str, intervals: &str, holidays: &[(&str, &str, bool)], on: &str) -> RuleSet {
        let mut r = RuleSet::default();
        r.set_site(SiteId(1), Site::new(tz).unwrap());
        let cal = HolidayCalendar::new(holidays.iter().map(|(d, t, y)| Holiday::parse(d, t, *y).unwrap())).unwrap();
        r.set_calendar(CalendarId(1), cal);
        r.set_schedule(ScheduleId(1), SiteId(1), Some(CalendarId(1)), Schedule::from_text(intervals, on).unwrap())
            .unwrap();
        r.set_level(LevelId(1), AccessLevel { grants: vec![(Target::Area(AreaId(1)), ScheduleId(1))] });
        r.set_door(DoorId(1), "lab", DoorRules { site: SiteId(1), areas: vec![AreaId(1)] });
        r.set_door(DoorId(2), "gate", DoorRules { site: SiteId(1), areas: vec![] });
        r
    }

    fn held() -> Vec<Assignment> {
        vec![Assignment::new(LevelId(1), None, None).unwrap()]
    }

    fn open(r: &RuleSet, when: &str) -> bool {
        r.access(&held(), &[], DoorId(1), at(when)).is_ok()
    }

    /// (instant, open?) pairs, checked in one go so a failure names the instant.
    fn check(r: &RuleSet, cases: &[(&str, bool)]) {
        for (when, want) in cases {
            assert_eq!(open(r, when), *want, "{when}");
        }
    }

    #[test]
    fn an_interval_across_midnight_lasts_seven_hours_on_the_spring_night_and_nine_on_the_autumn_night_in_berlin() {
        let r = rules("Europe/Berlin", "mon-sun 22:00-06:00", &[], "");
        // 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z): Sat 22:00 CET = 21:00Z to Sun 06:00 CEST = 04:00Z.
        check(
            &r,
            &[
                ("2026-03-28T20:59:59Z", false),
                ("2026-03-28T21:00:00Z", true),
                ("2026-03-29T00:59:59Z", true),
                ("2026-03-29T01:00:00Z", true),
                ("2026-03-29T03:59:59Z", true),
                ("2026-03-29T04:00:00Z", false),
            ],
        );
        // 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z): Sat 22:00 CEST = 20:00Z to Sun 06:00 CET = 05:00Z.
        check(
            &r,
            &[
                ("2026-10-24T19:59:59Z", false),
                ("2026-10-24T20:00:00Z", true),
                ("2026-10-25T04:59:59Z", true),
                ("2026-10-25T05:00:00Z", false),
            ],
        );
    }

    #[test]
    fn an_interval_across_midnight_lasts_seven_and_nine_hours_on_new_yorks_dst_nights() {
        let r = rules("America/New_York", "mon-sun 22:00-06:00", &[], "");
        // 2026-03-08 02:00 EST -> 03:00 EDT: Sat 22:00 EST = 03:00Z to Sun 06:00 EDT = 10:00Z.
        check(
            &r,
            &[
                ("2026-03-08T02:59:59Z", false),
                ("2026-03-08T03:00:00Z", true),
                ("2026-03-08T09:59:59Z", true),
                ("2026-03-08T10:00:00Z", false),
            ],
        );
        // 2026-11-01 02:00 EDT -> 01:00 EST: Sat 22:00 EDT = 02:00Z to Sun 06:00 EST = 11:00Z.
        check(
            &r,
            &[
                ("2026-11-01T01:59:59Z", false),
                ("2026-11-01T02:00:00Z", true),
                ("2026-11-01T10:59:59Z", true),
                ("2026-11-01T11:00:00Z", false),
            ],
        );
    }

    #[test]
    fn wall_times_in_a_gap_never_occur_and_times_in_an_overlap_occur_twice() {
        // Berlin: 02:00-03:00 does not exist on 2026-03-29, and exists twice on 2026-10-25.
        let r = rules("Europe/Berlin", "sun 02:00-03:00", &[], "");
        check(
            &r,
            &[
                ("2026-03-29T00:59:59Z", false), // 01:59:59 CET
                ("2026-03-29T01:00:00Z", false), // 03:00:00 CEST
                ("2026-10-24T23:59:59Z", false), // 01:59:59 CEST
                ("2026-10-25T00:00:00Z", true),  // 02:00 CEST
                ("2026-10-25T00:59:59Z", true),  // 02:59:59 CEST
                ("2026-10-25T01:00:00Z", true),  // 02:00 CET, the second time
                ("2026-10-25T01:59:59Z", true),  // 02:59:59 CET
                ("2026-10-25T02:00:00Z", false), // 03:00 CET
            ],
        );
        // New York: 01:00-02:00 happens twice on 2026-11-01; 02:00-03:00 never on 2026-03-08.
        let r = rules("America/New_York", "sun 01:00-02:00", &[], "");
        check(
            &r,
            &[
                ("2026-11-01T05:00:00Z", true),  // 01:00 EDT
                ("2026-11-01T06:30:00Z", true),  // 01:30 EST, the second time
                ("2026-11-01T07:00:00Z", false), // 02:00 EST
            ],
        );
        let r = rules("America/New_York", "sun 02:00-03:00", &[], "");
        check(&r, &[("2026-03-08T06:59:59Z", false), ("2026-03-08T07:00:00Z", false)]);
    }

    #[test]
    fn an_interval_belongs_to_the_day_it_starts_and_a_closed_holiday_closes_it_past_midnight() {
        // Mon-Fri night shift; 2026-12-24 (Thursday) is a public holiday, closed.
        let r = rules("UTC", "mon-fri 22:00-06:00", &[("2026-12-24", "public", false)], "public closed");
        check(
            &r,
            &[
                ("2026-12-23T23:00:00Z", true), // Wednesday night
                ("2026-12-24T05:59:59Z", true), // Wednesday's interval, after midnight, on the holiday
                ("2026-12-24T06:00:00Z", false),
                ("2026-12-24T23:00:00Z", false), // the holiday's own night: closed
                ("2026-12-25T01:00:00Z", false), // its part after midnight: still closed
                ("2026-12-25T23:00:00Z", true),  // Friday night
                ("2026-12-26T05:00:00Z", true),  // Friday's interval on Saturday morning
                ("2026-12-26T23:00:00Z", false), // Saturday: no interval
                ("2026-12-28T03:00:00Z", false), // Sunday's (none) after midnight
            ],
        );
    }

    #[test]
    fn a_holiday_rule_with_its_own_ranges_replaces_the_days_intervals_and_yearly_holidays_recur() {
        let r = rules(
            "Europe/Berlin",
            "mon-fri 08:00-18:00",
            &[("2020-12-25", "public", true), ("2027-01-04", "half", false)],
            "public closed;half 10:00-12:00",
        );
        check(
            &r,
            &[
                ("2026-12-24T09:00:00Z", true),  // Thursday 10:00 CET
                ("2026-12-25T09:00:00Z", false), // yearly Christmas, a Friday
                ("2031-12-25T09:00:00Z", false), // and again years later
                ("2027-01-04T08:00:00Z", false), // half day: 09:00 CET is before 10:00
                ("2027-01-04T09:30:00Z", true),  // 10:30 CET
                ("2027-01-04T11:00:00Z", false), // 12:00 CET
                ("2027-01-05T11:00:00Z", true),  // the next day is a normal day
            ],
        );
        // A holiday type the schedule has no rule for leaves the day as it is.
        let r = rules("UTC", "mon-fri 08:00-18:00", &[("2026-12-24", "school", false)], "public closed");
        check(&r, &[("2026-12-24T09:00:00Z", true)]);
    }

    #[test]
    fn a_yearly_29_february_occurs_in_leap_years_only() {
        let r = rules("UTC", "mon-sun 00:00-24:00", &[("2024-02-29", "leap", true)], "leap closed");
        check(&r, &[("2028-02-29T12:00:00Z", false), ("2027-02-28T12:00:00Z", true), ("2027-03-01T12:00:00Z", true)]);
    }

    #[test]
    fn reasons_no_level_covers_the_door_then_outside_schedule_and_the_first_open_grant_explains() {
        let r = rules("UTC", "mon-fri 08:00-18:00", &[], "");
        // 2026-12-01 is a Tuesday.
        assert_eq!(r.access(&[], &[], DoorId(1), at("2026-12-01T09:00:00Z")).unwrap_err(), Refusal::NoAccessToDoor);
        assert_eq!(r.access(&held(), &[], DoorId(2), at("2026-12-01T09:00:00Z")).unwrap_err(), Refusal::NoAccessToDoor);
        assert_eq!(r.access(&held(), &[], DoorId(9), at("2026-12-01T09:00:00Z")).unwrap_err(), Refusal::NoAccessToDoor);
        assert_eq!(
            r.access(&held(), &[], DoorId(1), at("2026-12-01T19:00:00Z")).unwrap_err(),
            Refusal::OutsideSchedule
        );
        let g = r.access(&held(), &[], DoorId(1), at("2026-12-01T09:00:00Z")).unwrap();
        assert_eq!((g.level, g.target, g.schedule), (LevelId(1), Target::Area(AreaId(1)), ScheduleId(1)));
        assert_eq!(g.interval.range.to_string(), "08:00-18:00");
        assert!(!g.interval.started_day_before);
    }

    #[test]
    fn an_assignment_counts_from_valid_from_to_just_before_valid_to() {
        let r = rules("UTC", "mon-sun 00:00-24:00", &[], "");
        let (from, to) = (at("2026-12-01T00:00:00Z"), at("2026-12-02T00:00:00Z"));
        let a = [Assignment::new(LevelId(1), Some(from), Some(to)).unwrap()];
        assert_eq!(r.access(&a, &[], DoorId(1), Timestamp(from.0 - 1)).unwrap_err(), Refusal::NoAccessToDoor);
        assert!(r.access(&a, &[], DoorId(1), from).is_ok());
        assert!(r.access(&a, &[], DoorId(1), Timestamp(to.0 - 1)).is_ok());
        assert_eq!(r.access(&a, &[], DoorId(1), to).unwrap_err(), Refusal::NoAccessToDoor);
        assert!(Assignment::new(LevelId(1), Some(to), Some(from)).is_err());
        assert!(Assignment::new(LevelId(1), Some(to), Some(to)).is_err());
    }

    #[test]
    fn a_groups_levels_count_like_ones_own_and_the_better_answer_wins() {
        let mut r = rules("UTC", "mon-fri 08:00-18:00", &[], "");
        r.set_schedule(ScheduleId(2), SiteId(1), None, Schedule::from_text("mon-sun 00:00-24:00", "").unwrap())
            .unwrap();
        r.set_level(LevelId(2), AccessLevel { grants: vec![(Target::Door(DoorId(1)), ScheduleId(2))] });
        r.add_group_assignment(GroupId(7), Assignment::new(LevelId(2), None, None).unwrap());
        let night = at("2026-12-01T23:00:00Z");
        // Own level: outside its schedule; the group's: open.
        assert_eq!(r.access(&held(), &[], DoorId(1), night).unwrap_err(), Refusal::OutsideSchedule);
        assert_eq!(r.access(&held(), &[GroupId(7)], DoorId(1), night).unwrap().level, LevelId(2));
        // Through the group alone; another group holds nothing.
        assert!(r.access(&[], &[GroupId(7)], DoorId(1), night).is_ok());
        assert_eq!(r.access(&[], &[GroupId(8)], DoorId(1), night).unwrap_err(), Refusal::NoAccessToDoor);
        // Own level covers, the group's does not cover door 2: outside_schedule beats no_access.
        r.set_level(LevelId(3), AccessLevel { grants: vec![(Target::Door(DoorId(2)), ScheduleId(1))] });
        let own = [Assignment::new(LevelId(3), None, None).unwrap()];
        assert_eq!(r.access(&own, &[GroupId(7)], DoorId(2), night).unwrap_err(), Refusal::OutsideSchedule);
        // Several groups (a person's `group`, then their directory groups): each in turn, the first open
        // grant wins, and a group covering the door outside its schedule makes the refusal outside_schedule
        // wherever it stands.
        let dg = GroupId::directory(7);
        assert_ne!(dg, GroupId(7));
        assert!(GroupId(7) < dg);
        assert_eq!((dg.directory_row(), GroupId(7).directory_row()), (Some(7), None));
        r.add_group_assignment(GroupId(9), Assignment::new(LevelId(3), None, None).unwrap());
        r.add_group_assignment(dg, Assignment::new(LevelId(2), None, None).unwrap());
        assert_eq!(r.access(&[], &[GroupId(9), dg], DoorId(1), night).unwrap().level, LevelId(2));
        assert_eq!(r.access(&[], &[GroupId(9)], DoorId(1), night).unwrap_err(), Refusal::NoAccessToDoor);
        assert_eq!(r.access(&[], &[GroupId(8), GroupId(9)], DoorId(2), night).unwrap_err(), Refusal::OutsideSchedule);
        assert_eq!(r.access(&[], &[GroupId(9), GroupId(8)], DoorId(2), night).unwrap_err(), Refusal::OutsideSchedule);
        assert_eq!(r.covering(&[], &[GroupId(9), dg], DoorId(1), night).len(), 1);
    }

    #[test]
    fn all_doors_covers_every_door_and_an_unknown_schedule_opens_nothing() {
        let mut r = rules("UTC", "mon-fri 08:00-18:00", &[], "");
        r.set_level(LevelId(5), AccessLevel { grants: vec![(Target::AllDoors, ScheduleId(99))] });
        let a = [Assignment::new(LevelId(5), None, None).unwrap()];
        assert_eq!(r.access(&a, &[], DoorId(2), at("2026-12-01T09:00:00Z")).unwrap_err(), Refusal::OutsideSchedule);
        r.set_level(LevelId(5), AccessLevel { grants: vec![(Target::AllDoors, ScheduleId(1))] });
        assert!(r.access(&a, &[], DoorId(2), at("2026-12-01T09:00:00Z")).is_ok());
    }

    #[test]
    fn the_offset_table_agrees_with_the_tz_database() {
        for tz in ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"] {
            let site = Site::new(tz).unwrap();
            // Every 37 minutes and 11 seconds over 2000-2100, plus both sides of the ends.
            let mut t = SPANS_FROM - 3600;
            while t < SPANS_TO + 3600 {
                assert_eq!(site.offset_at(Timestamp(t)), site.offset_from_tzdb(Timestamp(t)), "{tz} at {t}");
                t += 2231;
            }
        }
    }

    #[test]
    fn names_and_texts_parse_and_print_back() {
        assert!(Site::new("europe/berlin").is_ok());
        assert!(Site::new("Mars/Olympus").is_err() && Site::new("").is_err());
        for (days, shown) in
            [("mon-fri", "mon-fri"), ("sat,sun", "sat,sun"), ("fri-mon", "mon,fri-sun"), ("MON", "mon")]
        {
            assert_eq!(Weekdays::parse(days).unwrap().to_string(), shown, "{days}");
        }
        assert!(Weekdays::parse("funday").is_err() && Weekdays::parse("").is_err());
        for bad in ["8-17", "08:00", "25:00-01:00", "24:00-01:00", "08:60-09:00", "08:00-24:01"] {
            assert!(TimeRange::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(TimeRange::parse("00:00-24:00").unwrap().to_string(), "00:00-24:00");
        let s = Schedule::from_text(
            "mon-fri 08:00-18:00;sat,sun 22:00-06:00",
            "public closed;half 10:00-12:00,13:00-14:00",
        )
        .unwrap();
        assert_eq!(Schedule::from_text(&s.intervals_text(), &s.holiday_rules_text()).unwrap(), s);
        assert!(HolidayType::parse("Public Holiday").is_err());
        assert!(
            HolidayCalendar::new([
                Holiday::parse("2026-12-25", "public", false).unwrap(),
                Holiday::parse("2026-12-25", "other", false).unwrap()
            ])
            .is_err()
        );
    }

    #[test]
    fn the_door_table_follows_a_change_made_after_it_was_used() {
        let mut r = rules("UTC", "mon-sun 00:00-24:00", &[], "");
        let nine = at("2026-12-01T09:00:00Z");
        assert_eq!(r.access(&held(), &[], DoorId(2), nine).unwrap_err(), Refusal::NoAccessToDoor);
        // The level now also names the gate; then a new door joins the area.
        r.set_level(
            LevelId(1),
            AccessLevel {
                grants: vec![(Target::Area(AreaId(1)), ScheduleId(1)), (Target::Door(DoorId(2)), ScheduleId(1))],
            },
        );
        assert_eq!(r.access(&held(), &[], DoorId(2), nine).unwrap().target, Target::Door(DoorId(2)));
        assert_eq!(r.access(&held(), &[], DoorId(3), nine).unwrap_err(), Refusal::NoAccessToDoor);
        r.set_door(DoorId(3), "annex", DoorRules { site: SiteId(1), areas: vec![AreaId(1)] });
        assert_eq!(r.access(&held(), &[], DoorId(3), nine).unwrap().target, Target::Area(AreaId(1)));
    }

    #[test]
    fn held_levels_are_tried_in_their_order_and_each_levels_grants_in_theirs() {
        let mut r = rules("UTC", "mon-sun 00:00-24:00", &[], "");
        // Level 2 (held first) covers the door twice: by the door, then by its area.
        r.set_level(
            LevelId(2),
            AccessLevel {
                grants: vec![(Target::Door(DoorId(1)), ScheduleId(1)), (Target::Area(AreaId(1)), ScheduleId(1))],
            },
        );
        let held = [Assignment::new(LevelId(2), None, None).unwrap(), Assignment::new(LevelId(1), None, None).unwrap()];
        let g = r.access(&held, &[], DoorId(1), at("2026-12-01T09:00:00Z")).unwrap();
        assert_eq!((g.level, g.target), (LevelId(2), Target::Door(DoorId(1))));
        let g = r.access(&held[1..], &[], DoorId(1), at("2026-12-01T09:00:00Z")).unwrap();
        assert_eq!((g.level, g.target), (LevelId(1), Target::Area(AreaId(1))));
    }
}
