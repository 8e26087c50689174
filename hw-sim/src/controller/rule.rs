//! The offline decision rule: what a door controller answers from its
//! credential list when the service cannot be asked. Pure and free of
//! dependencies, exactly as `docs/controllers.md` ("Deny reasons") states it,
//! so firmware can copy it line by line; access levels and schedules (10/12)
//! extend [`decide`] with the door's rules ([`Rules`], from the feed's
//! `rules` section) after the card's checks.
//!
//! Written from the contract alone: this crate does not depend on the
//! service's (the contract must be enough for firmware), so the calendar
//! arithmetic here is its own.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// One credential of the feed, as the controller keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `iso14443a`, `em4100`, `other` (or a technology a newer service adds).
    pub technology: Cow<'static, str>,
    /// The UID's bytes.
    pub uid: Vec<u8>,
    /// Credential state: `issued`, `in_stock`, `suspended`, `lost`, `stolen`, `destroyed`.
    pub state: Cow<'static, str>,
    /// The holder.
    pub user_id: Option<String>,
    /// The holder's state: `active`, `suspended`, `deleted`, `expunged`.
    pub holder_state: Option<Cow<'static, str>>,
    /// Start of the holder's validity window, unix seconds (inclusive).
    pub valid_from: Option<i64>,
    /// End of the holder's validity window, unix seconds (exclusive).
    pub valid_to: Option<i64>,
    /// These bytes are bound to different people under different technologies.
    pub ambiguous: bool,
    /// The holder's access levels that touch this controller's doors.
    pub levels: Vec<Held>,
}

/// An access level held: `(level ID, from unix seconds inclusive, to exclusive)`.
pub type Held = (i64, Option<i64>, Option<i64>);

/// A known value as a static string (no allocation per entry), anything
/// else as its own.
#[must_use]
pub fn intern(s: &str) -> Cow<'static, str> {
    const KNOWN: [&str; 13] = [
        "iso14443a",
        "em4100",
        "other",
        "issued",
        "in_stock",
        "suspended",
        "lost",
        "stolen",
        "destroyed",
        "active",
        "deleted",
        "expunged",
        "archived",
    ];
    KNOWN.iter().find(|k| **k == s).map_or_else(|| Cow::Owned(s.to_string()), |k| Cow::Borrowed(*k))
}

/// The entries with one UID's bytes: almost always one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    One(Entry),
    Many(Vec<Entry>),
}

impl Slot {
    fn as_slice(&self) -> &[Entry] {
        match self {
            Self::One(e) => std::slice::from_ref(e),
            Self::Many(v) => v,
        }
    }
}

/// The credential list, keyed by `(technology, uid bytes)` and findable by
/// bytes alone (for readers that cannot tell the technology).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List {
    by_uid: HashMap<Vec<u8>, Slot>,
    len: usize,
    rules: Option<Rules>,
}

impl List {
    /// An empty list.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// No entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts or replaces the entry for `(technology, uid)`.
    pub fn upsert(&mut self, e: Entry) {
        use std::collections::hash_map::Entry as Vacancy;
        let slot = match self.by_uid.entry(e.uid.clone()) {
            Vacancy::Vacant(v) => {
                v.insert(Slot::One(e));
                self.len += 1;
                return;
            }
            Vacancy::Occupied(o) => o.into_mut(),
        };
        let mut same = match std::mem::replace(slot, Slot::Many(Vec::new())) {
            Slot::One(x) => vec![x],
            Slot::Many(v) => v,
        };
        match same.iter_mut().find(|x| x.technology == e.technology) {
            Some(old) => *old = e,
            None => {
                same.push(e);
                same.sort_by(|a, b| tech_rank(&a.technology).cmp(&tech_rank(&b.technology)));
                self.len += 1;
            }
        }
        *slot = if same.len() == 1 { Slot::One(same.remove(0)) } else { Slot::Many(same) };
    }

    /// Removes the entry for `(technology, uid)`; whether there was one.
    pub fn remove(&mut self, technology: &str, uid: &[u8]) -> bool {
        let Some(slot) = self.by_uid.get_mut(uid) else { return false };
        let mut same = match std::mem::replace(slot, Slot::Many(Vec::new())) {
            Slot::One(x) => vec![x],
            Slot::Many(v) => v,
        };
        let before = same.len();
        same.retain(|x| x.technology != technology);
        let removed = same.len() < before;
        match same.len() {
            0 => {
                self.by_uid.remove(uid);
            }
            1 => *slot = Slot::One(same.remove(0)),
            _ => *slot = Slot::Many(same),
        }
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// The entry for `(technology, uid)`.
    #[must_use]
    pub fn get(&self, technology: &str, uid: &[u8]) -> Option<&Entry> {
        self.with_uid(uid).iter().find(|x| x.technology == technology)
    }

    /// Every entry with these bytes, in technology order (`iso14443a`,
    /// `em4100`, `other`, then any other by name).
    #[must_use]
    pub fn with_uid(&self, uid: &[u8]) -> &[Entry] {
        self.by_uid.get(uid).map_or(&[], Slot::as_slice)
    }

    /// Every entry (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.by_uid.values().flat_map(Slot::as_slice)
    }

    /// The door rules held (`None`: none received yet: no door opens).
    #[must_use]
    pub fn rules(&self) -> Option<&Rules> {
        self.rules.as_ref()
    }

    /// Replaces the door rules.
    pub fn set_rules(&mut self, rules: Option<Rules>) {
        self.rules = rules;
    }
}

impl FromIterator<Entry> for List {
    fn from_iter<I: IntoIterator<Item = Entry>>(it: I) -> Self {
        let it = it.into_iter();
        let mut l = Self { by_uid: HashMap::with_capacity(it.size_hint().0), len: 0, rules: None };
        for e in it {
            l.upsert(e);
        }
        l
    }
}

fn tech_rank(t: &str) -> (u8, &str) {
    match t {
        "iso14443a" => (0, ""),
        "em4100" => (1, ""),
        "other" => (2, ""),
        t => (3, t),
    }
}

/// A decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Open the door.
    pub grant: bool,
    /// The deny reason's code (`None` on grant).
    pub reason: Option<&'static str>,
    /// The holder to log (`None` for an unknown or ambiguous card).
    pub user_id: Option<String>,
}

impl Decision {
    fn deny(reason: &'static str, user_id: Option<String>) -> Self {
        Self { grant: false, reason: Some(reason), user_id }
    }
}

/// The one entry's verdict: `Err(code)` for the first check that fails,
/// in the contract's order (after the ambiguity and lookup, which
/// [`decide`] does).
fn check(e: &Entry, now: i64) -> Result<(), &'static str> {
    match &*e.state {
        "issued" => {}
        "lost" => return Err("credential_lost"),
        "stolen" => return Err("credential_stolen"),
        "destroyed" => return Err("credential_destroyed"),
        "in_stock" => return Err("credential_in_stock"),
        "suspended" => return Err("credential_suspended"),
        // A state this controller does not know never grants.
        _ => return Err("unknown_credential"),
    }
    match e.holder_state.as_deref() {
        Some("active") => {}
        Some("deleted" | "expunged") => return Err("holder_deleted"),
        Some("suspended") => return Err("holder_suspended"),
        // Issued to nobody: treat as in stock.
        None => return Err("credential_in_stock"),
        // A holder state this controller does not know never grants.
        Some(_) => return Err("holder_suspended"),
    }
    if e.valid_from.is_some_and(|from| now < from) {
        return Err("not_yet_valid");
    }
    if e.valid_to.is_some_and(|to| now >= to) {
        return Err("expired");
    }
    Ok(())
}

/// Decides offline whether `uid` (read at `door`, by a reader that knows
/// its `technology` or not) opens now (`now`, unix seconds).
///
/// 1. Find the entry for `(technology, uid)`; without a technology, every
///    entry with these bytes. None: deny `unknown_credential`.
/// 2. An `ambiguous` entry: deny `credential_ambiguous`, no holder logged.
/// 3. `state` `lost`/`stolen`/`destroyed`: `credential_<state>`; 4.
///    `in_stock`: `credential_in_stock`; 5. `suspended`: `credential_suspended`.
/// 6. `holder_state` `deleted`/`expunged`: `holder_deleted`; `suspended`:
///    `holder_suspended`.
/// 7. `now < valid_from`: `not_yet_valid`; `now >= valid_to`: `expired`.
/// 8. The door's rules ([`Rules::access`]) with the entry's `levels`:
///    `no_access_to_door` or `outside_schedule`.
/// 9. Otherwise grant.
///
/// Without a technology and several entries with the bytes (one holder's
/// cards under several technologies): grant only if every one grants;
/// otherwise the first deny in technology order (`iso14443a`, `em4100`,
/// `other`); the door's rules are then the holder's (the first entry's
/// levels).
#[must_use]
pub fn decide(list: &List, door: &str, technology: Option<&str>, uid: &[u8], now: i64) -> Decision {
    let found: &[Entry] = match technology {
        Some(t) => list.get(t, uid).map_or(&[], std::slice::from_ref),
        None => list.with_uid(uid),
    };
    let Some(first) = found.first() else { return Decision::deny("unknown_credential", None) };
    if found.iter().any(|e| e.ambiguous) {
        return Decision::deny("credential_ambiguous", None);
    }
    for e in found {
        if let Err(code) = check(e, now) {
            return Decision::deny(code, e.user_id.clone());
        }
    }
    let door_rule = list.rules.as_ref().map_or(Err("no_access_to_door"), |r| r.access(&first.levels, door, now));
    match door_rule {
        Ok(()) => Decision { grant: true, reason: None, user_id: first.user_id.clone() },
        Err(code) => Decision::deny(code, first.user_id.clone()),
    }
}

// ---------------------------------------------------------------- door rules

/// The feed's `rules` section as it arrives (and as it is saved).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRules {
    /// The controller's doors.
    #[serde(default)]
    pub doors: Vec<WireDoor>,
    /// Sites: UTC-offset spans.
    #[serde(default)]
    pub sites: Vec<WireSite>,
    /// Holiday calendars.
    #[serde(default)]
    pub calendars: Vec<WireCalendar>,
    /// Schedules.
    #[serde(default)]
    pub schedules: Vec<WireSchedule>,
    /// Levels, flattened to door names.
    #[serde(default)]
    pub levels: Vec<WireLevel>,
}

/// A door and its site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireDoor {
    /// Name.
    pub name: String,
    /// Site ID.
    pub site: i64,
}

/// A site's offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireSite {
    /// ID.
    pub id: i64,
    /// `[from, offset seconds]`, in order.
    #[serde(default)]
    pub offsets: Vec<(i64, i64)>,
}

/// A holiday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireHoliday {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Yearly.
    #[serde(default)]
    pub yearly: bool,
}

/// A calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireCalendar {
    /// ID.
    pub id: i64,
    /// Holidays.
    #[serde(default)]
    pub holidays: Vec<WireHoliday>,
}

/// A schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireSchedule {
    /// ID.
    pub id: i64,
    /// Site ID.
    pub site: i64,
    /// Calendar ID.
    #[serde(default)]
    pub calendar: Option<i64>,
    /// `DAYS HH:MM-HH:MM`.
    #[serde(default)]
    pub intervals: Vec<String>,
    /// Holiday type → `closed` or ranges.
    #[serde(default)]
    pub on_holiday: std::collections::BTreeMap<String, String>,
}

/// A grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireGrant {
    /// Door names.
    pub doors: Vec<String>,
    /// Schedule ID.
    pub schedule: i64,
}

/// A level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireLevel {
    /// ID.
    pub id: i64,
    /// Grants.
    #[serde(default)]
    pub grants: Vec<WireGrant>,
}

/// A time range in minutes of the day: `end <= start` crosses midnight.
type Range = (u32, u32);

/// A schedule, read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sched {
    site: i64,
    calendar: Option<i64>,
    /// (weekday bits, Monday = bit 0; range).
    weekly: Vec<(u8, Range)>,
    /// By holiday type: `None` closed, else its ranges.
    on_holiday: HashMap<String, Option<Vec<Range>>>,
}

/// A calendar, read: one-off days (since 1970-01-01) and yearly (month, day).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Cal {
    once: HashMap<i64, String>,
    yearly: HashMap<(i64, i64), String>,
}

/// The door rules, read from [`WireRules`]. A schedule, holiday or
/// interval that cannot be read is left out (its grants never open: fail
/// closed), as is a schedule whose site or calendar is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    wire: WireRules,
    sites: HashMap<i64, Vec<(i64, i64)>>,
    cals: HashMap<i64, Cal>,
    scheds: HashMap<i64, Sched>,
    levels: HashMap<i64, Vec<(Vec<String>, i64)>>,
}

impl Rules {
    /// Reads the wire form.
    #[must_use]
    pub fn new(wire: WireRules) -> Self {
        let sites: HashMap<i64, Vec<(i64, i64)>> = wire.sites.iter().map(|s| (s.id, s.offsets.clone())).collect();
        let mut cals = HashMap::new();
        for c in &wire.calendars {
            let mut cal = Cal::default();
            for h in &c.holidays {
                let Some((y, m, d)) = parse_date(&h.date) else { continue };
                if h.yearly {
                    cal.yearly.insert((m, d), h.kind.clone());
                } else {
                    cal.once.insert(days_from_civil(y, m, d), h.kind.clone());
                }
            }
            cals.insert(c.id, cal);
        }
        let mut scheds = HashMap::new();
        for s in &wire.schedules {
            let weekly: Option<Vec<(u8, Range)>> = s
                .intervals
                .iter()
                .map(|i| {
                    let (days, range) = i.trim().split_once(' ')?;
                    Some((parse_days(days)?, parse_range(range)?))
                })
                .collect();
            let on_holiday: Option<HashMap<String, Option<Vec<Range>>>> = s
                .on_holiday
                .iter()
                .map(|(t, rule)| {
                    if rule.trim() == "closed" {
                        return Some((t.clone(), None));
                    }
                    let ranges: Option<Vec<Range>> = rule.split(',').map(parse_range).collect();
                    Some((t.clone(), Some(ranges?)))
                })
                .collect();
            let usable = sites.contains_key(&s.site) && s.calendar.is_none_or(|c| cals.contains_key(&c));
            if let (Some(weekly), Some(on_holiday), true) = (weekly, on_holiday, usable) {
                scheds.insert(s.id, Sched { site: s.site, calendar: s.calendar, weekly, on_holiday });
            }
        }
        let levels = wire
            .levels
            .iter()
            .map(|l| (l.id, l.grants.iter().map(|g| (g.doors.clone(), g.schedule)).collect()))
            .collect();
        Self { wire, sites, cals, scheds, levels }
    }

    /// The wire form (to save).
    #[must_use]
    pub fn wire(&self) -> &WireRules {
        &self.wire
    }

    /// The door's rule for a card whose checks passed, holding `held`:
    /// `no_access_to_door` when no level held now (`from <= now < to`) has a
    /// grant naming `door`; `outside_schedule` when some do but none of
    /// their schedules is open now; else `Ok`.
    ///
    /// # Errors
    /// The deny reason's code.
    pub fn access(&self, held: &[Held], door: &str, now: i64) -> Result<(), &'static str> {
        let mut covered = false;
        for &(level, from, to) in held {
            if from.is_some_and(|f| now < f) || to.is_some_and(|t| now >= t) {
                continue;
            }
            let Some(grants) = self.levels.get(&level) else { continue };
            for (_, schedule) in grants.iter().filter(|(d, _)| d.iter().any(|x| x == door)) {
                covered = true;
                if self.scheds.get(schedule).is_some_and(|s| self.open(s, now)) {
                    return Ok(());
                }
            }
        }
        Err(if covered { "outside_schedule" } else { "no_access_to_door" })
    }

    /// The site's UTC offset at `now`: the last span starting at or before
    /// it (the first span's before the first).
    fn offset(&self, site: i64, now: i64) -> i64 {
        let Some(spans) = self.sites.get(&site) else { return 0 };
        let i = spans.partition_point(|&(from, _)| from <= now);
        spans.get(i.saturating_sub(1)).map_or(0, |&(_, o)| o)
    }

    /// Whether `s` is open at `now`: an interval starting on today's local
    /// date holds the local second, or one that started yesterday crosses
    /// midnight and holds it.
    fn open(&self, s: &Sched, now: i64) -> bool {
        let local = now + self.offset(s.site, now);
        let (day, second) = (local.div_euclid(86_400), u32::try_from(local.rem_euclid(86_400)).unwrap_or(0));
        let today = self.ranges_on(s, day).into_iter().any(|(a, b)| {
            let (a, b) = (a * 60, b * 60);
            second >= a && (b <= a || second < b)
        });
        today
            || self.ranges_on(s, day - 1).into_iter().any(|(a, b)| {
                let (a, b) = (a * 60, b * 60);
                b <= a && second < b
            })
    }

    /// The ranges starting on a local day: the holiday rule's when the day
    /// is a holiday (one-off first, then yearly) of a type the schedule
    /// names, else the weekly intervals of its weekday.
    fn ranges_on(&self, s: &Sched, day: i64) -> Vec<Range> {
        let cal = s.calendar.and_then(|c| self.cals.get(&c));
        let kind = cal.and_then(|c| c.once.get(&day).or_else(|| c.yearly.get(&month_day(day))));
        if let Some(rule) = kind.and_then(|k| s.on_holiday.get(k)) {
            return rule.clone().unwrap_or_default();
        }
        let weekday = (day + 3).rem_euclid(7); // 1970-01-01 was a Thursday; Monday = 0.
        s.weekly.iter().filter(|(days, _)| days & (1 << weekday) != 0).map(|(_, r)| *r).collect()
    }
}

/// `mon`, `mon-fri`, `sat,sun`, `fri-mon` as bits (Monday = bit 0).
fn parse_days(s: &str) -> Option<u8> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let day = |d: &str| NAMES.iter().position(|n| *n == d.trim().to_ascii_lowercase());
    let mut bits = 0u8;
    for part in s.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (day(a)?, day(b)?),
            None => (day(part)?, day(part)?),
        };
        let mut i = a;
        loop {
            bits |= 1 << i;
            if i == b {
                break;
            }
            i = (i + 1) % 7;
        }
    }
    Some(bits)
}

/// `HH:MM-HH:MM` in minutes (`24:00` as an end is midnight, 0).
fn parse_range(s: &str) -> Option<Range> {
    let (a, b) = s.trim().split_once('-')?;
    let min = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (start, end) = (min(a)?, min(b)?);
    (start < 1440).then_some((start, end % 1440))
}

/// `YYYY-MM-DD`.
fn parse_date(s: &str) -> Option<(i64, i64, i64)> {
    let mut it = s.trim().split('-');
    let (y, m, d) = (it.next()?.parse().ok()?, it.next()?.parse().ok()?, it.next()?.parse().ok()?);
    (it.next().is_none() && (1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y, m, d))
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant).
#[must_use]
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(month, day)` of a day since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn month_day(z: i64) -> (i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    (if mp < 10 { mp + 3 } else { mp - 9 }, doy - (153 * mp + 2) / 5 + 1)
}

/// Parses a UID in hex: any case, colons, spaces or dashes between bytes;
/// 1 to 64 bytes.
#[must_use]
pub fn parse_uid(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|c| !matches!(c, b':' | b' ' | b'-')).collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) || digits.len() > 128 {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| {
            let hi = char::from(p[0]).to_digit(16)?;
            let lo = char::from(p[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

/// Bytes as uppercase hex.
#[must_use]
pub fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    b.iter().fold(String::with_capacity(b.len() * 2), |mut s, x| {
        let _ = write!(s, "{x:02X}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600;

    fn entry(uid: &[u8]) -> Entry {
        Entry {
            technology: "iso14443a".into(),
            uid: uid.to_vec(),
            state: "issued".into(),
            user_id: Some("u1".into()),
            holder_state: Some("active".into()),
            valid_from: None,
            valid_to: None,
            ambiguous: false,
            levels: vec![(1, None, None)],
        }
    }

    /// Door `main` (site 1, UTC) open always to level 1.
    fn always() -> Rules {
        rules_of(serde_json::json!({
            "doors": [{"name": "main", "site": 1}],
            "sites": [{"id": 1, "tz": "UTC", "offsets": [[946_684_800, 0]]}],
            "schedules": [{"id": 1, "site": 1, "intervals": ["mon-sun 00:00-24:00"], "on_holiday": {}}],
            "levels": [{"id": 1, "grants": [{"doors": ["main"], "schedule": 1}]}]
        }))
    }

    fn rules_of(v: serde_json::Value) -> Rules {
        Rules::new(serde_json::from_value(v).unwrap())
    }

    fn one(e: Entry) -> List {
        let mut l: List = std::iter::once(e).collect();
        l.set_rules(Some(always()));
        l
    }

    fn reason(l: &List, tech: Option<&str>, uid: &[u8], now: i64) -> Option<&'static str> {
        decide(l, "main", tech, uid, now).reason
    }

    const U: &[u8] = &[4, 0xA1, 0xB2, 0xC3];

    #[test]
    fn an_active_holders_issued_card_grants_with_its_holder() {
        let d = decide(&one(entry(U)), "main", Some("iso14443a"), U, NOW);
        assert_eq!(d, Decision { grant: true, reason: None, user_id: Some("u1".into()) });
    }

    #[test]
    fn every_credential_state_denies_with_its_own_reason() {
        for (state, code) in [
            ("lost", "credential_lost"),
            ("stolen", "credential_stolen"),
            ("destroyed", "credential_destroyed"),
            ("in_stock", "credential_in_stock"),
            ("suspended", "credential_suspended"),
            ("melted", "unknown_credential"),
        ] {
            // The credential's state wins over the holder's.
            let e = Entry { state: state.into(), holder_state: Some("deleted".into()), ..entry(U) };
            let d = decide(&one(e), "main", Some("iso14443a"), U, NOW);
            assert_eq!((d.grant, d.reason, d.user_id.as_deref()), (false, Some(code), Some("u1")), "{state}");
        }
    }

    #[test]
    fn every_holder_state_denies_with_its_own_reason() {
        for (state, code) in [
            (Some("deleted"), "holder_deleted"),
            (Some("expunged"), "holder_deleted"),
            (Some("suspended"), "holder_suspended"),
            (Some("archived"), "holder_suspended"),
            (None, "credential_in_stock"),
        ] {
            // The holder's state wins over the window.
            let e = Entry { holder_state: state.map(Into::into), valid_to: Some(NOW - 1), ..entry(U) };
            assert_eq!(reason(&one(e), Some("iso14443a"), U, NOW), Some(code), "{state:?}");
        }
    }

    #[test]
    fn the_window_includes_its_start_and_excludes_its_end() {
        let l = one(Entry { valid_from: Some(NOW), valid_to: Some(NOW + 10), ..entry(U) });
        assert_eq!(reason(&l, None, U, NOW - 1), Some("not_yet_valid"));
        assert_eq!(reason(&l, None, U, NOW), None);
        assert_eq!(reason(&l, None, U, NOW + 9), None);
        assert_eq!(reason(&l, None, U, NOW + 10), Some("expired"));
        // Before the start and after the end at once cannot be; before wins.
        let odd = one(Entry { valid_from: Some(NOW + 5), valid_to: Some(NOW), ..entry(U) });
        assert_eq!(reason(&odd, None, U, NOW + 1), Some("not_yet_valid"));
    }

    #[test]
    fn an_ambiguous_uid_denies_before_anything_else_and_names_no_holder() {
        let l = one(Entry { ambiguous: true, state: "lost".into(), ..entry(U) });
        for tech in [Some("iso14443a"), None] {
            let d = decide(&l, "main", tech, U, NOW);
            assert_eq!((d.grant, d.reason, d.user_id), (false, Some("credential_ambiguous"), None));
        }
    }

    #[test]
    fn an_unknown_uid_or_technology_is_unknown_credential() {
        let l = one(entry(U));
        assert_eq!(decide(&l, "main", None, &[1, 2, 3, 4], NOW).reason, Some("unknown_credential"));
        assert_eq!(decide(&l, "main", None, &[1, 2, 3, 4], NOW).user_id, None);
        assert_eq!(reason(&l, Some("em4100"), U, NOW), Some("unknown_credential"));
        assert_eq!(reason(&List::new(), None, U, NOW), Some("unknown_credential"));
    }

    #[test]
    fn without_a_technology_the_bytes_are_looked_up_across_technologies() {
        let other = Entry { technology: "other".into(), state: "lost".into(), ..entry(U) };
        let mut l = one(other.clone());
        // Only an `other` entry: found by bytes, not by another technology.
        assert_eq!(reason(&l, None, U, NOW), Some("credential_lost"));
        assert_eq!(reason(&l, Some("iso14443a"), U, NOW), Some("unknown_credential"));
        // Both: grant only if both grant; the first deny in technology order wins.
        l.upsert(entry(U));
        assert_eq!(reason(&l, Some("iso14443a"), U, NOW), None);
        assert_eq!(reason(&l, None, U, NOW), Some("credential_lost"));
        l.upsert(Entry { state: "suspended".into(), ..entry(U) });
        assert_eq!(reason(&l, None, U, NOW), Some("credential_suspended"));
        l.upsert(Entry { state: "issued".into(), ..other });
        l.upsert(entry(U));
        assert_eq!(reason(&l, None, U, NOW), None);
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn the_list_upserts_and_removes_by_technology_and_bytes() {
        let mut l = List::new();
        l.upsert(entry(U));
        l.upsert(Entry { state: "lost".into(), ..entry(U) });
        assert_eq!((l.len(), l.get("iso14443a", U).map(|e| &*e.state)), (1, Some("lost")));
        assert!(!l.remove("em4100", U));
        assert!(l.remove("iso14443a", U));
        assert!(!l.remove("iso14443a", U));
        assert!(l.is_empty() && l.with_uid(U).is_empty());
    }

    /// Door `lab` in Berlin's 2026 offsets; level 1: 22:00-06:00 every day,
    /// closed on `public` holidays (2026-03-30, a Monday; 25 December yearly);
    /// level 2 covers only door `gate`.
    fn berlin() -> Rules {
        rules_of(serde_json::json!({
            "doors": [{"name": "lab", "site": 1}, {"name": "gate", "site": 1}],
            "sites": [{"id": 1, "tz": "Europe/Berlin",
                "offsets": [[946_684_800, 3600], [1_774_746_000, 7200], [1_792_890_000, 3600]]}],
            "calendars": [{"id": 4, "holidays": [{"date": "2026-03-30", "type": "public"},
                {"date": "2000-12-25", "type": "public", "yearly": true}]}],
            "schedules": [{"id": 3, "site": 1, "calendar": 4, "intervals": ["mon-sun 22:00-06:00"],
                "on_holiday": {"public": "closed"}}],
            "levels": [{"id": 1, "grants": [{"doors": ["lab"], "schedule": 3}]},
                       {"id": 2, "grants": [{"doors": ["gate"], "schedule": 3}]}]
        }))
    }

    fn at(s: &str) -> i64 {
        crate::controller::wire::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn door_rules_follow_local_time_across_dst_midnight_and_holidays() {
        let r = berlin();
        let held = [(1, None, None)];
        let ok = |t: &str| r.access(&held, "lab", at(t));
        // Spring forward (2026-03-29 01:00Z): Sat 22:00 CET = 21:00Z to Sun 06:00 CEST = 04:00Z, seven hours.
        assert_eq!(ok("2026-03-28T20:59:59Z"), Err("outside_schedule"));
        assert_eq!(ok("2026-03-28T21:00:00Z"), Ok(()));
        assert_eq!(ok("2026-03-29T03:59:59Z"), Ok(()));
        assert_eq!(ok("2026-03-29T04:00:00Z"), Err("outside_schedule"));
        // Fall back (2026-10-25 01:00Z): Sat 22:00 CEST = 20:00Z to Sun 06:00 CET = 05:00Z, nine hours.
        assert_eq!(ok("2026-10-24T20:00:00Z"), Ok(()));
        assert_eq!(ok("2026-10-25T04:59:59Z"), Ok(()));
        assert_eq!(ok("2026-10-25T05:00:00Z"), Err("outside_schedule"));
        // Monday 2026-03-30 is a closed holiday: its 22:00 never starts, so
        // Tuesday 00:00-06:00 is shut too; Monday 00:00-06:00 (Sunday's) is open.
        assert_eq!(ok("2026-03-30T03:00:00Z"), Ok(()));
        assert_eq!(ok("2026-03-30T20:30:00Z"), Err("outside_schedule"));
        assert_eq!(ok("2026-03-31T02:00:00Z"), Err("outside_schedule"));
        // A yearly holiday recurs.
        assert_eq!(ok("2027-12-25T22:30:00Z"), Err("outside_schedule"));
        assert_eq!(ok("2027-12-24T22:30:00Z"), Ok(()));
    }

    #[test]
    fn a_level_counts_inside_its_window_and_only_at_the_doors_it_names() {
        let r = berlin();
        let night = at("2026-01-05T23:00:00Z");
        assert_eq!(r.access(&[(2, None, None)], "lab", night), Err("no_access_to_door"));
        assert_eq!(r.access(&[(2, None, None)], "gate", night), Ok(()));
        assert_eq!(r.access(&[], "lab", night), Err("no_access_to_door"));
        assert_eq!(r.access(&[(9, None, None)], "lab", night), Err("no_access_to_door"));
        // [from, to): held from its start, not at its end.
        assert_eq!(r.access(&[(1, Some(night), None)], "lab", night), Ok(()));
        assert_eq!(r.access(&[(1, Some(night + 1), None)], "lab", night), Err("no_access_to_door"));
        assert_eq!(r.access(&[(1, None, Some(night))], "lab", night), Err("no_access_to_door"));
        // Covered at one level, open at another: open.
        assert_eq!(
            r.access(&[(1, None, None), (2, None, None)], "gate", at("2026-01-05T12:00:00Z")),
            Err("outside_schedule")
        );
        // A card whose checks pass is then decided by the door's rules; with none held, no door opens.
        let mut l: List = std::iter::once(entry(U)).collect();
        assert_eq!(decide(&l, "main", None, U, NOW).reason, Some("no_access_to_door"));
        l.set_rules(Some(r));
        assert_eq!(decide(&l, "main", None, U, NOW).reason, Some("no_access_to_door"));
        // The card's own checks come first.
        l.upsert(Entry { state: "lost".into(), ..entry(U) });
        assert_eq!(decide(&l, "main", None, U, NOW).reason, Some("credential_lost"));
    }

    #[test]
    fn unreadable_schedules_never_open_and_days_parse_like_the_service() {
        assert_eq!(parse_days("mon-fri"), Some(0b001_1111));
        assert_eq!(parse_days("fri-mon"), Some(0b111_0001));
        assert_eq!(parse_days("sat,sun"), Some(0b110_0000));
        assert_eq!(parse_days("funday"), None);
        assert_eq!(parse_range("00:00-24:00"), Some((0, 0)));
        assert_eq!(parse_range("24:00-01:00"), None);
        let r = rules_of(serde_json::json!({
            "doors": [{"name": "main", "site": 1}],
            "sites": [{"id": 1, "offsets": [[0, 0]]}],
            "schedules": [{"id": 1, "site": 1, "intervals": ["someday 00:00-24:00"]},
                          {"id": 2, "site": 7, "intervals": ["mon-sun 00:00-24:00"]}],
            "levels": [{"id": 1, "grants": [{"doors": ["main"], "schedule": 1}, {"doors": ["main"], "schedule": 2},
                {"doors": ["main"], "schedule": 5}]}]
        }));
        assert_eq!(r.access(&[(1, None, None)], "main", NOW), Err("outside_schedule"));
        // Whole days, any weekday.
        for d in 0..7 {
            assert_eq!(always().access(&[(1, None, None)], "main", NOW + d * 86_400 + 3), Ok(()));
        }
    }

    #[test]
    fn uids_parse_in_any_case_with_separators() {
        assert_eq!(parse_uid("04:a1:B2 c3"), Some(U.to_vec()));
        assert_eq!(parse_uid("04-A1-B2-C3"), Some(U.to_vec()));
        assert_eq!(parse_uid("04A"), None);
        assert_eq!(parse_uid("zz"), None);
        assert_eq!(parse_uid(""), None);
        assert_eq!(hex(U), "04A1B2C3");
    }
}
