//! The door controllers' credential feed: a snapshot, or the delta since a
//! cursor, projected from the change log.
//!
//! A cursor is `SEQ-TAG`: a change-log position and a tag derived from the
//! log entry at that position, so a cursor from another history (a restored
//! backup that has since moved past it, another installation) is recognised
//! and answered with a snapshot instead of a delta that would miss changes.
//!
//! Only credentials with a holder (an open binding) are in the feed — and
//! those whose UID bytes are held under another technology, so that a
//! reader that cannot tell the technology denies offline as online (a
//! twin an admin unbound stays, `destroyed`, while the other is held): a
//! snapshot lists those, so the list a controller holds does not grow with
//! every card ever made. A delta looks at every credential that a change
//! after the cursor touched (its own entries, those of users holding it,
//! and every credential with the same bytes): one that is listed now comes
//! as its *current* entry, one that is not as a `removed` key (it lost its
//! holder, or changed while it had none). Applying deltas in order to a snapshot — upserting entries and
//! deleting removed keys by `(technology, uid)` — reproduces the current
//! snapshot exactly. Entries carry UIDs, states, validity windows and user
//! IDs: no personal data. An entry is `ambiguous` when its UID bytes are
//! bound to different people under different technologies; a controller
//! denies those `credential_ambiguous`, as the online decision does.
//!
//! # Per controller (access levels, issue 16)
//!
//! A controller's feed lists a held credential only when its holder holds
//! an access level — directly, or through their group — with a grant
//! covering one of the controller's doors (a door grant, an area holding
//! one, or an all-doors grant), whatever the assignment's window; each
//! entry carries those assignments (`levels`). Page 0 of a snapshot, and of
//! a delta when the rules changed after the cursor, carries the rules the
//! controller needs for its own doors ([`FeedRules`]): the doors, their
//! sites' UTC-offset spans, the holiday calendars, schedules and levels
//! that touch them, flattened to door names. A rules change that may change
//! who reaches which door (`reach` in the change log) answers a snapshot;
//! a person's group or direct assignment changes bring their credentials
//! into the delta, as current entries or `removed` keys.
//!
//! # Where pages come from
//!
//! A snapshot is read from the decision index ([`crate::index::Index::snapshot_page`]),
//! in (technology, uid) order: at a million credentials, a 50-door
//! controller's snapshot joined every credential in SQLite to list a tenth
//! of them, 18 s (`make bench-doors`). Its cursor is the index's position
//! (or the log's head, if earlier): the index may lag a CLI write until it
//! catches up, and that write then comes in the next delta. A delta, a few
//! credentials a change touched, is read from SQLite by credential ID.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rusqlite::{Connection, params};

use crate::domain::access::{Holiday, LevelId, Schedule, Site};
use crate::domain::{CredentialState, Technology, Timestamp, Uid, UserId, UserState};
use crate::store::{Store, StoreError, changes, columns};

/// The feed's format: part of every cursor's tag, so that a cursor issued
/// by a build with another format (before access levels: format 1) is not
/// recognised and the controller gets a snapshot in this one.
pub const FEED_FORMAT: u32 = 2;

/// Bytes per entry of a plain-JSON snapshot that the feed stays at or
/// under at 10,000 credentials (measured 145.0 when set with access levels;
/// 121.2 before), held by `tests/it/feed_size.rs` over a realistic site:
/// 7- and 4-byte ISO 14443-A UIDs, most holders active, some with validity
/// windows, some suspended, each holding the default level and one in four
/// a second (some with an end); one page of 10,000. The figure
/// `docs/controllers.md` quotes.
pub const ENTRY_BYTES_PLAIN: usize = 146;

/// The same answered with `Content-Encoding: gzip`, at the fastest gzip
/// level the service uses for the feed (measured 26.3 with access levels,
/// 24.0 before; the
/// default level gives 20.1 but costs the service twice the CPU time, and
/// a controller syncing 1,000,000 credentials end to end 6.7 s instead of
/// 4.8). At 1,000,000 credentials: `make bench-doors`.
pub const ENTRY_BYTES_GZIP: usize = 27;

/// One credential as a controller needs it to decide offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// Technology.
    pub technology: Technology,
    /// UID.
    pub uid: Uid,
    /// Credential state.
    pub state: CredentialState,
    /// The holder (in the feed, always set: only held credentials are
    /// listed; kept optional as the contract lets a controller read an
    /// absent one as "nobody": deny).
    pub user_id: Option<UserId>,
    /// The holder's state.
    pub holder_state: Option<UserState>,
    /// The holder's validity window start (inclusive).
    pub valid_from: Option<Timestamp>,
    /// The holder's validity window end (exclusive).
    pub valid_to: Option<Timestamp>,
    /// These UID bytes are bound to different people under different
    /// technologies (a twin, until an admin unbinds one): deny every read
    /// of them `credential_ambiguous`, with or without a technology, and
    /// log no holder.
    pub ambiguous: bool,
    /// The holder's access levels that touch the controller's doors:
    /// their own by level ID, then their group's (empty without a holder).
    pub levels: Vec<FeedLevel>,
}

/// An access level a credential's holder holds (directly or through their
/// group), from `from` inclusive to `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FeedLevel {
    /// The level's ID (in the rules' `levels`).
    pub id: i64,
    /// Held from (inclusive).
    pub from: Option<Timestamp>,
    /// Held until (exclusive).
    pub to: Option<Timestamp>,
}

/// A door of the controller, and its site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesDoor {
    /// The door's name, as the controller says it.
    pub name: String,
    /// Its site's ID.
    pub site: i64,
}

/// A site: its IANA zone's name and UTC-offset spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesSite {
    /// The site's ID.
    pub id: i64,
    /// The IANA time zone (informative: `offsets` is what decides).
    pub tz: String,
    /// `(from, unix seconds; UTC offset, seconds east)` in order: the offset
    /// from each instant until the next one's.
    pub offsets: Vec<(i64, i32)>,
}

/// A holiday of a calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesHoliday {
    /// `YYYY-MM-DD` (for a yearly holiday, its month and day recur).
    pub date: String,
    /// Its type.
    pub kind: String,
    /// Recurs every year on the same month and day.
    pub yearly: bool,
}

/// A holiday calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesCalendar {
    /// The calendar's ID.
    pub id: i64,
    /// Its holidays.
    pub holidays: Vec<RulesHoliday>,
}

/// A schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesSchedule {
    /// The schedule's ID.
    pub id: i64,
    /// The site whose local time it is written in.
    pub site: i64,
    /// Its holiday calendar, if any.
    pub calendar: Option<i64>,
    /// Weekly intervals, `DAYS HH:MM-HH:MM`.
    pub intervals: Vec<String>,
    /// By holiday type: `closed`, or `HH:MM-HH:MM` ranges joined by `,`.
    pub on_holiday: BTreeMap<String, String>,
}

/// A grant of a level, flattened to the controller's doors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesGrant {
    /// The controller's doors it covers.
    pub doors: Vec<String>,
    /// Its schedule's ID (one missing from `schedules` is never open).
    pub schedule: i64,
}

/// An access level, with only its grants that cover the controller's doors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesLevel {
    /// The level's ID.
    pub id: i64,
    /// Its grants, in order.
    pub grants: Vec<RulesGrant>,
}

/// The rules a controller needs to decide offline at its own doors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedRules {
    /// Its doors.
    pub doors: Vec<RulesDoor>,
    /// Their sites and the sites of the schedules listed.
    pub sites: Vec<RulesSite>,
    /// The calendars the schedules listed use.
    pub calendars: Vec<RulesCalendar>,
    /// The schedules of the grants listed.
    pub schedules: Vec<RulesSchedule>,
    /// The levels with a grant covering one of its doors.
    pub levels: Vec<RulesLevel>,
}

/// A credential's key in the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedKey {
    /// Technology.
    pub technology: Technology,
    /// UID.
    pub uid: Uid,
}

/// Snapshot or delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// Every held credential: replace what you hold.
    Snapshot,
    /// Only what changed: upsert the entries, delete the removed keys.
    Delta,
}

/// A page of the feed.
#[derive(Debug, Clone)]
pub struct Feed {
    /// Snapshot or delta.
    pub kind: FeedKind,
    /// 0 for the first page. A snapshot's page 0 replaces what the
    /// controller holds; every other page (and every delta) is upserted.
    pub page: u32,
    /// More pages follow: ask again with `cursor` as `since`.
    pub more: bool,
    /// Pass this as `since` next time (opaque).
    pub cursor: String,
    /// The entries.
    pub entries: Vec<FeedEntry>,
    /// Delta only: credentials that have no holder now (they lost it, or
    /// changed while they had none); delete them. `entries` and `removed`
    /// together hold at most `limit` credentials.
    pub removed: Vec<FeedKey>,
    /// Page 0 of a snapshot, and of a delta when the rules changed after
    /// the cursor: the rules in force (replace those held). `None`: keep
    /// the rules held.
    pub rules: Option<FeedRules>,
}

/// Whose feed: a controller's, or (tests, benchmarks) that of a
/// controller serving every door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedScope {
    /// The controller's doors.
    Controller(i64),
    /// Every door (an all-doors grant covers even when no door exists yet).
    AllDoors,
}

/// Whether the bytes of credential `c` are held under technology `t` (by
/// someone other than `u` when `other_holder`), probed only when `c` is of
/// another technology — `(technology, uid)` is unique — and the site has
/// cards of `t` at all (an uncorrelated `EXISTS`, computed once per
/// statement), behind a `CASE`: SQLite computes both sides of an `AND`, but
/// only the chosen branch of a `CASE`. A probe of the card's own
/// technology, a random leaf of the index for every row, was the feed's
/// largest cost at 1,000,000 credentials (`make bench-doors`); a site with
/// one technology now probes nothing.
fn held_as(t: &str, other_holder: bool) -> String {
    let who = if other_holder { " AND b3.user_id <> u.id" } else { "" };
    format!(
        "(CASE WHEN c.technology <> '{t}' AND EXISTS (SELECT 1 FROM credentials WHERE technology = '{t}')
            THEN EXISTS (SELECT 1 FROM credentials c3
                JOIN bindings b3 ON b3.credential_id = c3.id AND b3.closed_at IS NULL
                WHERE c3.technology = '{t}' AND c3.uid = c.uid{who})
            ELSE 0 END)"
    )
}

/// The bytes of `c` are held under another technology (by someone other
/// than its own holder when `other_holder`).
fn held_elsewhere(other_holder: bool) -> String {
    Technology::ALL.iter().map(|t| held_as(t.as_str(), other_holder)).collect::<Vec<_>>().join(" OR ")
}

/// A credential is in the feed when it has a holder, or when its bytes are
/// held under another technology: a reader that cannot tell the
/// technology then denies the bytes if any of their credentials denies
/// (a twin an admin unbound stays, `destroyed`, while the other is held),
/// offline as online.
fn listed() -> String {
    format!("(CASE WHEN u.id IS NOT NULL THEN 1 ELSE {} END)", held_elsewhere(false))
}

/// The page query: a credential, its holder (none: the columns are NULL),
/// whether its bytes are ambiguous (held, and the same bytes bound to
/// someone else under another technology), whether it may be listed (held,
/// or its bytes held under another technology), the holder's group, and one
/// row per level the holder holds directly (NULL columns: none); rows
/// matching `filter` after credential `?2`, a credential's rows together.
/// No `LIMIT`: whether a held credential is listed depends on its levels,
/// decided by the reader, which stops stepping once a page is full.
fn page_sql(filter: &str) -> String {
    format!(
        "SELECT c.technology, c.uid, c.state, u.id, u.state, u.valid_from, u.valid_to, c.id,
            CASE WHEN u.id IS NULL THEN 0 ELSE {ambiguous} END,
            {listed},
            u.user_group, a.level_id, a.valid_from, a.valid_to,
            (SELECT group_concat(m.group_id) FROM directory_group_members m WHERE m.user_id = u.id)
         FROM credentials c
         LEFT JOIN bindings b ON b.credential_id = c.id AND b.closed_at IS NULL
         LEFT JOIN users u ON u.id = b.user_id
         LEFT JOIN level_assignments a ON a.user_id = u.id
         WHERE {filter} AND c.id > ?2 ORDER BY c.id",
        ambiguous = held_elsewhere(true),
        listed = listed(),
    )
}

/// Credentials touched by a change after `?1`: a credential change touches
/// every credential with the same bytes (whether they are ambiguous may
/// have changed with it); a change to a person (their state, window, group,
/// directory groups or direct levels) touches the credentials they hold.
const DELTA_FILTER: &str = "c.id IN (
    SELECT c2.id FROM change_log l JOIN credentials c2
        ON l.kind = 'credential' AND c2.technology IN ('iso14443a','em4100','other') AND c2.uid = l.uid
    WHERE l.seq > ?1
    UNION
    SELECT b2.credential_id FROM change_log l JOIN bindings b2
        ON l.kind IN ('user','group','member_in','member_out','assignment','unassignment') AND b2.user_id = l.user_id AND b2.closed_at IS NULL
    WHERE l.seq > ?1)";

/// One credential of a page: listed (an entry) or not (a removed key).
enum Row {
    Entry(FeedEntry),
    Removed(FeedKey),
}

/// Which levels reach a feed's doors, and the groups holding them: what
/// decides whether a held credential is listed, and its `levels`.
struct Reach {
    /// Levels with a grant covering one of the doors.
    levels: HashSet<i64>,
    /// Per group name, its assignments of those levels.
    groups: HashMap<String, Vec<FeedLevel>>,
    /// Per directory group ID, its assignments of those levels.
    directory_groups: HashMap<i64, Vec<FeedLevel>>,
    /// The rules section for these doors.
    rules: FeedRules,
}

fn ts(v: Option<i64>) -> Option<Timestamp> {
    v.map(Timestamp)
}

impl Reach {
    /// Reads the doors of `scope`, the grants covering them, and the rules.
    /// Stored rules this build cannot read are left out as the index leaves
    /// them out (`store::levels::load_rules`): a grant whose schedule is
    /// missing is never open.
    fn load(c: &Connection, scope: FeedScope) -> Result<Self, StoreError> {
        // The doors: (id, name, site).
        let doors: Vec<(i64, String, i64)> = match scope {
            FeedScope::Controller(id) => {
                let mut st = c.prepare_cached(
                    "SELECT d.id, d.name, d.site_id FROM controller_doors cd JOIN doors d ON d.name = cd.door
                     WHERE cd.controller_id = ?1 ORDER BY d.name",
                )?;
                st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?
            }
            FeedScope::AllDoors => {
                let mut st = c.prepare_cached("SELECT id, name, site_id FROM doors ORDER BY name")?;
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?
            }
        };
        let name_of: HashMap<i64, &str> = doors.iter().map(|(id, n, _)| (*id, n.as_str())).collect();
        let mut area_doors: HashMap<i64, Vec<String>> = HashMap::new();
        {
            let mut st = c.prepare_cached("SELECT area_id, door_id FROM area_doors")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                if let Some(n) = name_of.get(&r.get::<_, i64>(1)?) {
                    area_doors.entry(r.get(0)?).or_default().push((*n).to_string());
                }
            }
        }
        let all: Vec<String> = doors.iter().map(|(_, n, _)| n.clone()).collect();
        let mut levels: Vec<RulesLevel> = Vec::new();
        {
            let mut st = c.prepare_cached(
                "SELECT level_id, door_id, area_id, schedule_id FROM level_grants ORDER BY level_id, position",
            )?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let (level, door, area, schedule): (i64, Option<i64>, Option<i64>, i64) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                let mut covered = match (door, area) {
                    (Some(d), _) => name_of.get(&d).map(|n| vec![(*n).to_string()]).unwrap_or_default(),
                    (None, Some(a)) => area_doors.get(&a).cloned().unwrap_or_default(),
                    (None, None) => all.clone(),
                };
                covered.sort();
                let everywhere = door.is_none() && area.is_none() && scope == FeedScope::AllDoors;
                if covered.is_empty() && !everywhere {
                    continue;
                }
                let grant = RulesGrant { doors: covered, schedule };
                match levels.last_mut() {
                    Some(l) if l.id == level => l.grants.push(grant),
                    _ => levels.push(RulesLevel { id: level, grants: vec![grant] }),
                }
            }
        }
        let level_ids: HashSet<i64> = levels.iter().map(|l| l.id).collect();
        // Through the group index: every page reads these, and a scan of the assignments (a million
        // people's) cost 0.3 s a page at 1M.
        let groups = held_by(
            c,
            "SELECT g.name, a.level_id, a.valid_from, a.valid_to
             FROM level_assignments a INDEXED BY level_assignments_group
             JOIN user_groups g ON g.id = a.group_id
             WHERE a.group_id IS NOT NULL ORDER BY a.group_id, a.id",
            &level_ids,
        )?;
        let directory_groups = held_by(
            c,
            "SELECT directory_group_id, level_id, valid_from, valid_to FROM level_assignments
             WHERE directory_group_id IS NOT NULL ORDER BY directory_group_id, id",
            &level_ids,
        )?;
        let rules = rules(c, &doors, levels)?;
        Ok(Self { levels: level_ids, groups, directory_groups, rules })
    }
}

/// Per group (the query's first column), its assignments of `levels`, in
/// the query's order: (group, level, from, to) rows.
fn held_by<K: rusqlite::types::FromSql + Eq + std::hash::Hash>(
    c: &Connection,
    sql: &str,
    levels: &HashSet<i64>,
) -> Result<HashMap<K, Vec<FeedLevel>>, StoreError> {
    let mut out: HashMap<K, Vec<FeedLevel>> = HashMap::new();
    let mut st = c.prepare_cached(sql)?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(1)?;
        if levels.contains(&id) {
            out.entry(r.get(0)?).or_default().push(FeedLevel { id, from: ts(r.get(2)?), to: ts(r.get(3)?) });
        }
    }
    Ok(out)
}

/// The rules section: the doors, the schedules of `levels`' grants, their
/// calendars, and the sites of both.
fn rules(c: &Connection, doors: &[(i64, String, i64)], levels: Vec<RulesLevel>) -> Result<FeedRules, StoreError> {
    let wanted: BTreeSet<i64> = levels.iter().flat_map(|l| l.grants.iter().map(|g| g.schedule)).collect();
    let mut site_ids: BTreeSet<i64> = doors.iter().map(|d| d.2).collect();
    let mut schedules = Vec::new();
    let mut cal_ids = BTreeSet::new();
    {
        let mut st =
            c.prepare_cached("SELECT id, site_id, calendar_id, intervals, holiday_rules FROM schedules ORDER BY id")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            if !wanted.contains(&id) {
                continue;
            }
            let (site, calendar, iv, hr): (i64, Option<i64>, String, String) =
                (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            let Ok(parsed) = Schedule::from_text(&iv, &hr) else { continue };
            site_ids.insert(site);
            cal_ids.extend(calendar);
            schedules.push(RulesSchedule {
                id,
                site,
                calendar,
                intervals: parsed.intervals.iter().map(ToString::to_string).collect(),
                on_holiday: parsed
                    .on_holiday
                    .iter()
                    .map(|(t, rule)| {
                        let text = match rule {
                            crate::domain::access::HolidayRule::Closed => "closed".to_string(),
                            crate::domain::access::HolidayRule::Intervals(v) => {
                                v.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
                            }
                        };
                        (t.to_string(), text)
                    })
                    .collect(),
            });
        }
    }
    let mut sites = Vec::new();
    {
        let mut st = c.prepare_cached("SELECT id, tz FROM sites ORDER BY id")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            if !site_ids.contains(&id) {
                continue;
            }
            if let Ok(site) = Site::new(&r.get::<_, String>(1)?) {
                sites.push(RulesSite { id, tz: site.tz_name().to_string(), offsets: site.offsets().to_vec() });
            }
        }
    }
    // A schedule whose site or calendar cannot be read opens nothing (as in the index).
    let readable: HashSet<i64> = sites.iter().map(|s| s.id).collect();
    let mut calendars: Vec<RulesCalendar> = Vec::new();
    {
        let mut known = BTreeSet::new();
        let mut st = c.prepare_cached("SELECT id FROM holiday_calendars ORDER BY id")?;
        for id in st.query_map([], |r| r.get::<_, i64>(0))? {
            let id = id?;
            if cal_ids.contains(&id) {
                known.insert(id);
                calendars.push(RulesCalendar { id, holidays: Vec::new() });
            }
        }
        let mut st = c.prepare_cached(
            "SELECT calendar_id, date, type, yearly FROM holidays ORDER BY calendar_id, date, yearly",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let cal: i64 = r.get(0)?;
            let Some(slot) = calendars.iter_mut().find(|x| x.id == cal) else { continue };
            let (date, kind, yearly): (String, String, bool) = (r.get(1)?, r.get(2)?, r.get(3)?);
            if let Ok(h) = Holiday::parse(&date, &kind, yearly) {
                slot.holidays.push(RulesHoliday { date: h.date.to_string(), kind: h.kind.to_string(), yearly });
            }
        }
        schedules.retain(|s| readable.contains(&s.site) && s.calendar.is_none_or(|c| known.contains(&c)));
    }
    Ok(FeedRules {
        doors: doors.iter().map(|(_, name, site)| RulesDoor { name: name.clone(), site: *site }).collect(),
        sites,
        calendars,
        schedules,
        levels,
    })
}

/// A credential being read (its rows come together, one per direct level).
struct Pending {
    entry: FeedEntry,
    id: i64,
    held: bool,
    listed: bool,
    group: Option<String>,
    /// The holder's directory groups, by ID.
    directory_groups: Vec<i64>,
}

impl Pending {
    /// Its row: an entry when listed for these doors, else a removed key.
    fn finish(mut self, reach: &Reach) -> (Row, i64) {
        // Their own by level ID, then their group's, then each directory group's by group ID: as the
        // index lists them.
        self.entry.levels.sort_by_key(|l| l.id);
        if let Some(g) = self.group.as_deref().and_then(|g| reach.groups.get(g)) {
            self.entry.levels.extend_from_slice(g);
        }
        self.directory_groups.sort_unstable();
        for g in self.directory_groups.iter().filter_map(|g| reach.directory_groups.get(g)) {
            self.entry.levels.extend_from_slice(g);
        }
        let listed = if self.held { !self.entry.levels.is_empty() } else { self.listed };
        let row = if listed {
            Row::Entry(self.entry)
        } else {
            Row::Removed(FeedKey { technology: self.entry.technology, uid: self.entry.uid })
        };
        (row, self.id)
    }
}

/// A snapshot row from the index's listing.
fn listed_row(l: crate::index::Listed) -> (Row, After) {
    let after = After::Key(l.technology, l.uid);
    let (user_id, view, levels) = match l.holder {
        Some((id, view, levels)) => (Some(id), Some(view), levels),
        None => (None, None, Vec::new()),
    };
    let entry = FeedEntry {
        technology: l.technology,
        uid: l.uid,
        state: l.state,
        user_id,
        holder_state: view.map(|v| v.state),
        valid_from: view.and_then(|v| v.window.from),
        valid_to: view.and_then(|v| v.window.to),
        ambiguous: l.ambiguous,
        levels: levels.iter().map(|a| FeedLevel { id: a.level.0, from: a.window.from, to: a.window.to }).collect(),
    };
    (Row::Entry(entry), after)
}

/// Up to `limit` credentials after credential `after`, in credential order,
/// each with its credential ID; `since` selects a delta (listed and
/// unlisted credentials that changed), none a snapshot (every listed one).
fn entries(
    conn: &Connection,
    reach: &Reach,
    since: i64,
    after: i64,
    limit: usize,
) -> Result<Vec<(Row, After)>, StoreError> {
    let mut stmt = conn.prepare_cached(&page_sql(DELTA_FILTER))?;
    let mut rows = stmt.query(params![since, after])?;
    let mut out = Vec::new();
    let mut cur: Option<Pending> = None;
    let push = |p: Pending, out: &mut Vec<(Row, After)>| {
        let (row, id) = p.finish(reach);
        out.push((row, After::Id(id)));
    };
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(7)?;
        if cur.as_ref().is_none_or(|p| p.id != id) {
            if let Some(p) = cur.take() {
                push(p, &mut out);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            let user_id = r.get::<_, Option<i64>>(3)?;
            cur = Some(Pending {
                entry: FeedEntry {
                    technology: columns::technology(r, 0)?,
                    uid: columns::uid(r, 1)?,
                    state: columns::credential_state(r, 2)?,
                    user_id: user_id.map(UserId::from_i64),
                    holder_state: columns::opt_user_state(r, 4)?,
                    valid_from: ts(r.get(5)?),
                    valid_to: ts(r.get(6)?),
                    ambiguous: r.get(8)?,
                    levels: Vec::new(),
                },
                id,
                held: user_id.is_some(),
                listed: r.get(9)?,
                group: r.get(10)?,
                directory_groups: r
                    .get::<_, Option<String>>(14)?
                    .map(|v| v.split(',').filter_map(|g| g.parse().ok()).collect())
                    .unwrap_or_default(),
            });
        }
        if let (Some(p), Some(level)) = (cur.as_mut(), r.get::<_, Option<i64>>(11)?)
            && reach.levels.contains(&level)
        {
            p.entry.levels.push(FeedLevel { id: level, from: ts(r.get(12)?), to: ts(r.get(13)?) });
        }
    }
    if let Some(p) = cur.take() {
        push(p, &mut out);
    }
    Ok(out)
}

/// Whether a 'rules' entry (one that may change who reaches which door,
/// when `reach`) lies after `seq`.
fn rules_after(c: &Connection, seq: i64, reach: bool) -> Result<bool, StoreError> {
    let sql = if reach {
        "SELECT EXISTS (SELECT 1 FROM change_log WHERE seq > ?1 AND kind = 'rules' AND user_state = 'reach')"
    } else {
        "SELECT EXISTS (SELECT 1 FROM change_log WHERE seq > ?1 AND kind = 'rules')"
    };
    Ok(c.prepare_cached(sql)?.query_row([seq], |r| r.get(0))?)
}

/// The cursor for log position `seq`: `SEQ-TAG`, the tag a hash of the
/// feed's format ([`FEED_FORMAT`]) and the entry at `seq` (its time and
/// contents), `0-0` for the empty log.
fn cursor_at(c: &Connection, seq: i64) -> Result<String, StoreError> {
    use rusqlite::OptionalExtension;
    use sha2::{Digest, Sha256};
    if seq == 0 {
        return Ok("0-0".into());
    }
    // Every column of the entry, so the same action replayed in another
    // history (a restored backup) in the same second still differs.
    let row: Option<Vec<u8>> = c
        .prepare_cached(
            "SELECT CAST(at AS TEXT) || '|' || kind || '|' || user_id || '|' || COALESCE(user_state, '') || '|'
                || COALESCE(valid_from, '') || '|' || COALESCE(valid_to, '') || '|' || COALESCE(technology, '') || '|'
                || COALESCE(hex(uid), '') || '|' || COALESCE(credential_state, '')
             FROM change_log WHERE seq = ?1",
        )?
        .query_row([seq], |r| r.get::<_, String>(0).map(String::into_bytes))
        .optional()?;
    let Some(row) = row else { return Ok(format!("{seq}-gone")) };
    let mut h = Sha256::new();
    h.update(FEED_FORMAT.to_le_bytes());
    h.update(seq.to_le_bytes());
    h.update(&row);
    Ok(format!("{seq}-{}", hex::encode(&h.finalize()[..6])))
}

/// Checks a `SEQ-TAG` cursor against this history; the position if valid.
fn known(c: &Connection, cursor: &str, head: i64) -> Result<Option<i64>, StoreError> {
    let Some((seq, tag)) = cursor.split_once('-') else { return Ok(None) };
    match seq.parse::<i64>() {
        Ok(seq) if (0..=head).contains(&seq) && cursor_at(c, seq)?.ends_with(&format!("-{tag}")) => Ok(Some(seq)),
        _ => Ok(None),
    }
}

/// Where a paged answer goes on: `p.<page>.<since or x>.<head cursor>.<after>`,
/// `after` the last credential sent: a snapshot's `TECHNOLOGY-UID` (its
/// pages follow the index's key order), a delta's credential ID.
struct Continuation {
    page: u32,
    since: Option<i64>,
    head: String,
    after: After,
}

/// The last credential of the page before.
#[derive(Clone, Copy)]
enum After {
    Start,
    Key(Technology, Uid),
    Id(i64),
}

impl After {
    fn token(self) -> String {
        match self {
            Self::Start => "0".into(),
            Self::Key(t, u) => format!("{}-{u}", t.as_str()),
            Self::Id(id) => id.to_string(),
        }
    }

    fn parse(s: &str, snapshot: bool) -> Option<Self> {
        if snapshot {
            // The bytes as stored, whatever the enrolment rules say now: a
            // stored UID they would refuse must not stop the paging.
            let (t, u) = s.split_once('-')?;
            let t = Technology::from_name(t).ok()?;
            Some(Self::Key(t, Uid::from_bytes(&hex::decode(u).ok()?).ok()?))
        } else {
            s.parse::<i64>().ok().filter(|id| *id >= 0).map(Self::Id)
        }
    }
}

impl Continuation {
    fn parse(c: &Connection, token: &str, head: i64) -> Result<Option<Self>, StoreError> {
        let mut parts = token.strip_prefix("p.").map(|t| t.split('.')).into_iter().flatten();
        let (Some(page), Some(since), Some(start), Some(after), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let (Ok(page), Some(after)) = (page.parse::<u32>(), After::parse(after, since == "x")) else {
            return Ok(None);
        };
        // Only the service makes these tokens, and never for page 0.
        if page == 0 || page == u32::MAX {
            return Ok(None);
        }
        let since = match since {
            "x" => None,
            s => match s.parse::<i64>() {
                Ok(s) => Some(s),
                Err(_) => return Ok(None),
            },
        };
        // The page sequence's own cursors must still belong to this history.
        if known(c, start, head)?.is_none() || since.is_some_and(|s| s > head) {
            return Ok(None);
        }
        Ok(Some(Self { page, since, head: start.to_string(), after }))
    }
}

impl Store {
    /// The feed of a controller serving every door (tests, benchmarks): see
    /// [`Store::controller_feed`].
    pub fn credential_feed(&self, since: Option<&str>, limit: usize) -> Result<Feed, StoreError> {
        self.controller_feed(FeedScope::AllDoors, since, limit)
    }

    /// A controller's feed since `since`, at most `limit` entries and removed keys together: a delta when the
    /// cursor is one this history issued and no change to who reaches
    /// which door came after it, otherwise (no cursor, a foreign one, or
    /// one from before such a change) a snapshot. When `more` is set, pass the returned
    /// cursor to get the next page; the last page's cursor is the log
    /// position the sequence started at, so changes made while paging come
    /// in the next delta.
    pub fn controller_feed(&self, scope: FeedScope, since: Option<&str>, limit: usize) -> Result<Feed, StoreError> {
        let limit = limit.clamp(1, 100_000);
        let index = self.try_index()?;
        self.read(|c| {
            let head = changes::head(c)?;
            let go_on = match since {
                Some(t) => Continuation::parse(c, t, head)?,
                None => None,
            };
            let (go_on, with_rules) = match go_on {
                Some(g) => (g, false),
                None => {
                    let from = match since {
                        Some(s) => known(c, s, head)?,
                        None => None,
                    };
                    // Who reaches which door may have changed: every list anew.
                    let from = match from {
                        Some(f) if rules_after(c, f, true)? => None,
                        f => f,
                    };
                    let with_rules = match from {
                        None => true,
                        Some(f) => rules_after(c, f, false)?,
                    };
                    (Continuation { page: 0, since: from, head: cursor_at(c, head)?, after: After::Start }, with_rules)
                }
            };
            let reach = Reach::load(c, scope)?;
            let (mut rows, head) = match (go_on.since, go_on.after) {
                // A snapshot from the index, in key order: a million
                // credentials' joins per page cost seconds in SQLite.
                (None, after) => {
                    let after = match after {
                        After::Key(t, u) => Some((t, u)),
                        _ => None,
                    };
                    let levels: Vec<LevelId> = reach.levels.iter().map(|l| LevelId(*l)).collect();
                    let (applied, listed) = index.snapshot_page(&levels, after, limit + 1);
                    let rows: Vec<(Row, After)> = listed.into_iter().map(listed_row).collect();
                    // Page 0's cursor: a position the entries reflect at least.
                    let head = if go_on.page == 0 { cursor_at(c, applied.min(head))? } else { go_on.head.clone() };
                    (rows, head)
                }
                (Some(since), after) => {
                    let after = match after {
                        After::Id(id) => id,
                        _ => 0,
                    };
                    (entries(c, &reach, since, after, limit + 1)?, go_on.head.clone())
                }
            };
            let more = rows.len() > limit;
            rows.truncate(limit);
            let cursor = match rows.last() {
                Some((_, last)) if more => {
                    let since = go_on.since.map_or_else(|| "x".to_string(), |s| s.to_string());
                    format!("p.{}.{since}.{head}.{}", go_on.page.saturating_add(1), last.token())
                }
                _ => head,
            };
            let (mut entries, mut removed) = (Vec::with_capacity(rows.len()), Vec::new());
            for (row, _) in rows {
                match row {
                    Row::Entry(e) => entries.push(e),
                    Row::Removed(k) => removed.push(k),
                }
            }
            Ok(Feed {
                kind: if go_on.since.is_some() { FeedKind::Delta } else { FeedKind::Snapshot },
                page: go_on.page,
                more,
                cursor,
                entries,
                removed,
                rules: with_rules.then_some(reach.rules),
            })
        })
    }
}
