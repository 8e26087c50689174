//! Who may open which door, when (issue 10/12): sites, doors, areas,
//! holiday calendars, schedules, access levels and their assignments.
//!
//! Every write is one transaction with its audit entry and its change-log
//! entries: [`Change::Rules`] for the rules (the index reloads them whole,
//! they are small; `reach` when who reaches which door may have changed —
//! doors, areas, levels' grants, group assignments — so that controllers'
//! feeds are recomputed), [`Change::Assignment`] for a level assigned to one
//! person, [`Change::Group`] for a person's group. Deleting anything still
//! referred to is refused `in_use`, naming what refers to it.

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::access::{
    AccessLevel, AreaId, Assignment, CalendarId, DoorId, DoorRules, GroupId, Holiday, HolidayCalendar, LevelId,
    RuleSet, Schedule, ScheduleId, Site, SiteId, Target,
};
use crate::domain::{Change, DomainError, Timestamp, UserId, ValidityWindow};
use crate::store::{Actor, AuditDraft, Store, StoreError, Tx};

/// Longest name of a site, door, area, calendar, schedule or level.
pub const MAX_NAME: usize = 64;

/// A name as staff write it: trimmed, 1 to 64 characters, no control
/// characters.
pub fn clean_label(field: &'static str, s: &str) -> Result<String, DomainError> {
    let t = s.trim();
    // Format characters (bidirectional overrides, zero-width ones) would make
    // two names look alike or turn a listing's line around.
    let invisible = |c: char| matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}');
    if t.is_empty() || t.chars().count() > MAX_NAME || t.chars().any(|c| c.is_control() || invisible(c)) {
        return Err(DomainError::InvalidInput {
            field,
            message: format!("1 to {MAX_NAME} characters, no control or invisible formatting characters"),
        });
    }
    Ok(t.to_owned())
}

/// A site as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRecord {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub tz: String,
    /// The default site (new doors of controllers land here).
    pub is_default: bool,
}

/// A door as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorRecord {
    /// ID.
    pub id: i64,
    /// Name (exact; controllers and readers name it so).
    pub name: String,
    /// Its site's name.
    pub site: String,
    /// Names of the areas it belongs to.
    pub areas: Vec<String>,
    /// Names of the controllers serving it.
    pub controllers: Vec<String>,
}

/// An area as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaRecord {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Its doors' names.
    pub doors: Vec<String>,
}

/// A holiday as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolidayRecord {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Recurs every year.
    pub yearly: bool,
    /// Type.
    pub kind: String,
}

/// A holiday calendar as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarRecord {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Its holidays by date.
    pub holidays: Vec<HolidayRecord>,
}

/// A schedule as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRecord {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Its site's name.
    pub site: String,
    /// Its holiday calendar's name.
    pub calendar: Option<String>,
    /// The schedule.
    pub schedule: Schedule,
}

/// What a level's grant opens, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantTarget {
    /// A door.
    Door(String),
    /// An area.
    Area(String),
    /// Every door.
    AllDoors,
}

/// An access level as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelRecord {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The org unit that owns it (`None`: the whole office).
    pub org_unit: Option<String>,
    /// In the list of default levels (every new person gets it).
    pub is_default: bool,
    /// Its grants: what, on which schedule (by name).
    pub grants: Vec<(GrantTarget, String)>,
    /// How many people hold it directly.
    pub people: u64,
    /// Groups holding it.
    pub groups: Vec<String>,
    /// Directory groups holding it.
    pub directory_groups: Vec<String>,
}

/// Who an assignment is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// One person.
    User(UserId),
    /// Everyone in a group (the `group` field).
    Group(String),
    /// Everyone in a directory group (from SCIM `Groups`, LDAP `memberOf`
    /// or a CSV's `groups`), by its display name.
    DirectoryGroup(String),
}

impl Holder {
    /// The holder named by exactly one of a user ID, a group and a
    /// directory group, as the API, the CLI and the web UI's forms give
    /// them (blank counts as absent).
    pub fn named(user: Option<&str>, group: Option<&str>, directory_group: Option<&str>) -> Result<Self, DomainError> {
        let given = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        match (given(user), given(group), given(directory_group)) {
            (Some(u), None, None) => Ok(Self::User(u.parse()?)),
            (None, Some(g), None) => Ok(Self::Group(g)),
            (None, None, Some(d)) => Ok(Self::DirectoryGroup(d)),
            _ => Err(DomainError::InvalidInput {
                field: "holder",
                message: "exactly one of a user ID, a group and a directory group".into(),
            }),
        }
    }

    /// A group of either kind (not one person).
    #[must_use]
    pub fn is_group(&self) -> bool {
        !matches!(self, Self::User(_))
    }

    /// The holder in words: `person ID`, `group G`, `directory group G`.
    #[must_use]
    pub fn words(&self) -> String {
        match self {
            Self::User(u) => format!("person {u}"),
            Self::Group(g) => format!("group {g}"),
            Self::DirectoryGroup(g) => format!("directory group {g}"),
        }
    }
}

/// An assignment as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentRecord {
    /// The level's ID.
    pub level_id: i64,
    /// The level's name.
    pub level: String,
    /// The person or group.
    pub holder: Holder,
    /// Inclusive start.
    pub valid_from: Option<Timestamp>,
    /// Exclusive end.
    pub valid_to: Option<Timestamp>,
}

fn taken(e: StoreError, what: &'static str, name: &str) -> StoreError {
    match e {
        StoreError::Database => StoreError::Domain(DomainError::NameTaken { what, name: name.to_owned() }),
        other => other,
    }
}

fn id_of(conn: &Connection, table: &'static str, what: &'static str, name: &str) -> Result<i64, StoreError> {
    // `table` is one of ours, never input.
    conn.prepare_cached(&format!("SELECT id FROM {table} WHERE name = ?1"))?
        .query_row([name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| DomainError::NotFound { what, id: name.to_owned() }.into())
}

fn exists(conn: &Connection, table: &'static str, name: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE name = ?1)"))?
        .query_row([name], |r| r.get(0))?)
}

fn refuse_taken(conn: &Connection, table: &'static str, what: &'static str, name: &str) -> Result<(), StoreError> {
    if exists(conn, table, name)? {
        return Err(DomainError::NameTaken { what, name: name.to_owned() }.into());
    }
    Ok(())
}

fn names(conn: &Connection, sql: &str, id: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([id], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The first of `sql`'s names (what refers to the thing), as `in_use`.
fn refuse_in_use(
    conn: &Connection,
    what: &'static str,
    name: &str,
    checks: &[(&str, &str)],
    id: i64,
) -> Result<(), StoreError> {
    for (kind, sql) in checks {
        if let Some(first) = names(conn, sql, id)?.into_iter().next() {
            return Err(DomainError::InUse { what, name: name.to_owned(), used_by: format!("{kind} {first}") }.into());
        }
    }
    Ok(())
}

/// The interned ID of a group name (created when new).
pub(crate) fn group_id(conn: &Connection, group: Option<&str>) -> Result<Option<GroupId>, StoreError> {
    let Some(g) = group else { return Ok(None) };
    conn.prepare_cached("INSERT OR IGNORE INTO user_groups (name) VALUES (?1)")?.execute([g])?;
    Ok(Some(GroupId(conn.prepare_cached("SELECT id FROM user_groups WHERE name = ?1")?.query_row([g], |r| r.get(0))?)))
}

/// A new person: their group, and every default level.
pub(crate) fn on_new_user(w: &mut Tx<'_>, id: UserId, group: Option<&str>) -> Result<(), StoreError> {
    if let Some(g) = group_id(&w.conn, group)? {
        w.change(Change::Group { id, group: Some(g) })?;
    }
    let defaults: Vec<i64> = {
        let mut stmt = w.conn.prepare_cached("SELECT id FROM access_levels WHERE is_default = 1 ORDER BY id")?;
        stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    for level in defaults {
        w.conn
            .prepare_cached("INSERT INTO level_assignments (level_id, user_id, created_at) VALUES (?1, ?2, ?3)")?
            .execute(params![level, id.as_i64(), w.now.0])?;
        w.change(Change::Assignment { user: id, level: LevelId(level), window: Some(ValidityWindow::default()) })?;
    }
    Ok(())
}

/// Takes every level assigned directly to a person away (at expunge).
pub(crate) fn drop_assignments(w: &mut Tx<'_>, id: UserId) -> Result<(), StoreError> {
    let levels: Vec<i64> = {
        let mut stmt = w.conn.prepare_cached("SELECT level_id FROM level_assignments WHERE user_id = ?1")?;
        stmt.query_map([id.as_i64()], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    w.conn.prepare_cached("DELETE FROM level_assignments WHERE user_id = ?1")?.execute([id.as_i64()])?;
    for level in levels {
        w.change(Change::Assignment { user: id, level: LevelId(level), window: None })?;
    }
    Ok(())
}

/// A person's group changed.
pub(crate) fn on_group_change(w: &mut Tx<'_>, id: UserId, group: Option<&str>) -> Result<(), StoreError> {
    let g = group_id(&w.conn, group)?;
    w.change(Change::Group { id, group: g })
}

fn window_of(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ValidityWindow> {
    Ok(ValidityWindow {
        from: r.get::<_, Option<i64>>(at)?.map(Timestamp),
        to: r.get::<_, Option<i64>>(at + 1)?.map(Timestamp),
    })
}

/// The access rules as the tables hold them. A stored schedule or time
/// zone this build cannot read is left out and logged (its grants then
/// open nothing: fail closed), so one bad row never stops every door.
pub fn load_rules(conn: &Connection) -> Result<RuleSet, StoreError> {
    let mut rules = RuleSet::default();
    {
        let mut stmt = conn.prepare_cached("SELECT id, tz FROM sites")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (id, tz): (i64, String) = (r.get(0)?, r.get(1)?);
            match Site::new(&tz) {
                Ok(site) => rules.set_site(SiteId(id), site),
                Err(_) => tracing::error!(
                    site = id,
                    "a site's time zone is not in the tz database; its schedules open nothing"
                ),
            }
        }
    }
    {
        let mut cals: std::collections::BTreeMap<i64, Vec<Holiday>> = std::collections::BTreeMap::new();
        let mut bad = std::collections::BTreeSet::new();
        let mut stmt = conn.prepare_cached("SELECT id FROM holiday_calendars")?;
        for id in stmt.query_map([], |r| r.get::<_, i64>(0))? {
            cals.insert(id?, Vec::new());
        }
        let mut stmt = conn.prepare_cached("SELECT calendar_id, date, type, yearly FROM holidays")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (cal, date, kind, yearly): (i64, String, String, bool) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            match Holiday::parse(&date, &kind, yearly) {
                Ok(h) => cals.entry(cal).or_default().push(h),
                Err(_) => {
                    // Left out, a closed holiday would open as a normal day: the
                    // whole calendar goes, and the schedules using it open nothing.
                    tracing::error!(
                        calendar = cal,
                        "a stored holiday cannot be read; its calendar's schedules open nothing"
                    );
                    bad.insert(cal);
                }
            }
        }
        for (id, hs) in cals.into_iter().filter(|(id, _)| !bad.contains(id)) {
            match HolidayCalendar::new(hs) {
                Ok(c) => rules.set_calendar(CalendarId(id), c),
                Err(_) => tracing::error!(calendar = id, "a stored holiday calendar cannot be read; it is left out"),
            }
        }
    }
    {
        let mut stmt =
            conn.prepare_cached("SELECT id, site_id, calendar_id, intervals, holiday_rules FROM schedules")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (id, site, cal, iv, hr): (i64, i64, Option<i64>, String, String) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            let ok = Schedule::from_text(&iv, &hr)
                .and_then(|s| rules.set_schedule(ScheduleId(id), SiteId(site), cal.map(CalendarId), s));
            if ok.is_err() {
                tracing::error!(schedule = id, "a stored schedule cannot be read; it opens nothing");
            }
        }
    }
    {
        let mut levels: std::collections::BTreeMap<i64, AccessLevel> = std::collections::BTreeMap::new();
        let mut stmt = conn.prepare_cached("SELECT id FROM access_levels")?;
        for id in stmt.query_map([], |r| r.get::<_, i64>(0))? {
            levels.insert(id?, AccessLevel::default());
        }
        let mut stmt = conn.prepare_cached(
            "SELECT level_id, door_id, area_id, schedule_id FROM level_grants ORDER BY level_id, position",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (level, door, area, schedule): (i64, Option<i64>, Option<i64>, i64) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let target = match (door, area) {
                (Some(d), _) => Target::Door(DoorId(d)),
                (None, Some(a)) => Target::Area(AreaId(a)),
                (None, None) => Target::AllDoors,
            };
            levels.entry(level).or_default().grants.push((target, ScheduleId(schedule)));
        }
        for (id, l) in levels {
            rules.set_level(LevelId(id), l);
        }
    }
    {
        let mut areas: std::collections::HashMap<i64, Vec<AreaId>> = std::collections::HashMap::new();
        let mut stmt = conn.prepare_cached("SELECT door_id, area_id FROM area_doors ORDER BY area_id")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            areas.entry(r.get(0)?).or_default().push(AreaId(r.get(1)?));
        }
        let mut stmt = conn.prepare_cached("SELECT id, name, site_id FROM doors")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (id, name, site): (i64, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            rules.set_door(
                DoorId(id),
                &name,
                DoorRules { site: SiteId(site), areas: areas.remove(&id).unwrap_or_default() },
            );
        }
    }
    {
        // A group's, then a directory group's (`GroupId::directory`), each in assignment order.
        let mut stmt = conn.prepare_cached(
            "SELECT group_id, directory_group_id, level_id, valid_from, valid_to FROM level_assignments
             WHERE user_id IS NULL ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let group = match (r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?) {
                (Some(g), _) => GroupId(g),
                (None, Some(d)) => GroupId::directory(d),
                (None, None) => return Err(StoreError::Corrupt("an assignment without a holder")),
            };
            rules.add_group_assignment(group, Assignment { level: LevelId(r.get(2)?), window: window_of(r, 3)? });
        }
    }
    Ok(rules)
}

/// Every person's group, directory groups and directly assigned levels, for the index at open.
pub(crate) fn load_holders(conn: &Connection, mut put: impl FnMut(Change)) -> Result<(), StoreError> {
    let mut stmt = conn.prepare(
        "SELECT u.id, g.id FROM users u JOIN user_groups g ON g.name = u.user_group WHERE u.state <> 'expunged'",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        put(Change::Group { id: UserId::from_i64(r.get(0)?), group: Some(GroupId(r.get(1)?)) });
    }
    let mut stmt = conn.prepare("SELECT user_id, group_id FROM directory_group_members ORDER BY user_id, group_id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (id, group) = (UserId::from_i64(r.get(0)?), GroupId::directory(r.get(1)?));
        put(Change::Membership { id, group, member: true });
    }
    let mut stmt = conn.prepare(
        "SELECT user_id, level_id, valid_from, valid_to FROM level_assignments WHERE user_id IS NOT NULL ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        put(Change::Assignment {
            user: UserId::from_i64(r.get(0)?),
            level: LevelId(r.get(1)?),
            window: Some(window_of(r, 2)?),
        });
    }
    Ok(())
}

fn parse_site(tz: &str) -> Result<String, DomainError> {
    Ok(Site::new(tz)?.tz_name().to_owned())
}

impl Store {
    /// Deletes the row called `name` of `table` unless a `checks` query
    /// finds something using it (`in_use`, naming it); `also` first deletes
    /// its own dependent rows (`?1` is its ID).
    #[allow(clippy::too_many_arguments)]
    fn delete_named(
        &self,
        actor: &Actor,
        action: &'static str,
        (table, what): (&'static str, &'static str),
        name: &str,
        checks: &[(&str, &str)],
        also: &[&str],
        reach: bool,
    ) -> Result<(), StoreError> {
        self.write(actor, AuditDraft::new(action), |w| {
            let id = id_of(&w.conn, table, what, name)?;
            refuse_in_use(&w.conn, what, name, checks, id)?;
            for sql in also {
                w.conn.prepare_cached(sql)?.execute([id])?;
            }
            w.conn.prepare_cached(&format!("DELETE FROM {table} WHERE id = ?1"))?.execute([id])?;
            w.audit.detail = format!("{}={id}", action.split('.').next().unwrap_or(what));
            w.change(Change::Rules { reach })
        })
    }

    /// Adds a site in an IANA time zone.
    pub fn add_site(&self, actor: &Actor, name: &str, tz: &str) -> Result<SiteRecord, StoreError> {
        let checked = clean_label("name", name).and_then(|n| Ok((n, parse_site(tz)?)));
        self.write(actor, AuditDraft::new("site.add"), |w| {
            let (name, tz) = checked?;
            refuse_taken(&w.conn, "sites", "site", &name)?;
            w.conn
                .prepare_cached("INSERT INTO sites (name, tz, created_at) VALUES (?1, ?2, ?3)")?
                .execute(params![name, tz, w.now.0])?;
            let id = w.conn.last_insert_rowid();
            w.audit.detail = format!("site={id} tz={tz}");
            w.change(Change::Rules { reach: false })?;
            load_site(&w.conn, id)
        })
    }

    /// Changes a site's time zone (`idms serve` sets the default site's
    /// from `default_tz` this way).
    pub fn set_site_tz(&self, actor: &Actor, name: &str, tz: &str) -> Result<SiteRecord, StoreError> {
        let checked = parse_site(tz);
        self.write(actor, AuditDraft::new("site.edit"), |w| {
            let tz = checked?;
            let id = id_of(&w.conn, "sites", "site", name)?;
            w.conn.prepare_cached("UPDATE sites SET tz = ?2 WHERE id = ?1")?.execute(params![id, tz])?;
            w.audit.detail = format!("site={id} tz={tz}");
            w.change(Change::Rules { reach: false })?;
            load_site(&w.conn, id)
        })
    }

    /// Deletes a site no door or schedule is in.
    pub fn delete_site(&self, actor: &Actor, name: &str) -> Result<(), StoreError> {
        self.write(actor, AuditDraft::new("site.delete"), |w| {
            let id = id_of(&w.conn, "sites", "site", name)?;
            refuse_in_use(
                &w.conn,
                "site",
                name,
                &[
                    ("door", "SELECT name FROM doors WHERE site_id = ?1 ORDER BY name"),
                    ("schedule", "SELECT name FROM schedules WHERE site_id = ?1 ORDER BY name"),
                ],
                id,
            )?;
            let default: bool = w.conn.query_row("SELECT is_default FROM sites WHERE id = ?1", [id], |r| r.get(0))?;
            if default {
                return Err(DomainError::InUse {
                    what: "site",
                    name: name.to_owned(),
                    used_by: "the default site setting (new doors land here)".into(),
                }
                .into());
            }
            w.conn.prepare_cached("DELETE FROM sites WHERE id = ?1")?.execute([id])?;
            w.audit.detail = format!("site={id}");
            w.change(Change::Rules { reach: false })
        })
    }

    /// What the configuration says at start: the default site's time zone
    /// (when given and different) and a door record, in the default site,
    /// for each door an OSDP door reader guards that has none. Writes (and
    /// audits) only what changes.
    pub fn reconcile_config(
        &self,
        actor: &Actor,
        default_tz: Option<&str>,
        doors: &[String],
    ) -> Result<(), StoreError> {
        // A door reader's name is matched exactly (no trimming): 1 to 64
        // characters without control characters, else the start is refused.
        for d in doors {
            if d.is_empty() || d.chars().count() > MAX_NAME || d.chars().any(char::is_control) {
                return Err(DomainError::InvalidInput {
                    field: "door",
                    message: format!(
                        "an [[osdp]] door reader's door must be 1 to {MAX_NAME} characters without control characters"
                    ),
                }
                .into());
            }
        }
        let tz = default_tz.map(parse_site).transpose()?;
        let (current_tz, known) = self.read(|c| {
            let tz: String = c.query_row("SELECT tz FROM sites WHERE is_default = 1", [], |r| r.get(0))?;
            let known: std::collections::BTreeSet<String> =
                names(c, "SELECT name FROM doors WHERE ?1 = ?1", 0)?.into_iter().collect();
            Ok((tz, known))
        })?;
        let new_tz = tz.filter(|t| *t != current_tz);
        let new_doors: Vec<&String> = doors.iter().filter(|d| !known.contains(d.as_str())).collect();
        if new_tz.is_none() && new_doors.is_empty() {
            return Ok(());
        }
        self.write(actor, AuditDraft::new("config.reconcile"), |w| {
            if let Some(tz) = &new_tz {
                w.conn.prepare_cached("UPDATE sites SET tz = ?1 WHERE is_default = 1")?.execute([tz])?;
            }
            for d in &new_doors {
                w.conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO doors (name, site_id, created_at)
                         VALUES (?1, (SELECT id FROM sites WHERE is_default = 1), ?2)",
                    )?
                    .execute(params![d, w.now.0])?;
            }
            w.audit.detail = format!("default_tz={} doors={}", new_tz.as_deref().unwrap_or("-"), new_doors.len());
            w.change(Change::Rules { reach: !new_doors.is_empty() })
        })
    }

    /// The IDs of the people of an org unit (not expunged).
    pub fn ids_in_unit(&self, unit: &str) -> Result<std::collections::HashSet<UserId>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id FROM users WHERE org_unit = ?1 AND state <> 'expunged'")?;
            let rows = stmt.query_map([unit], |r| r.get::<_, i64>(0))?;
            rows.map(|r| r.map(UserId::from_i64).map_err(StoreError::from)).collect()
        })
    }

    /// Every site.
    pub fn sites(&self) -> Result<Vec<SiteRecord>, StoreError> {
        self.read(|c| list(c, "sites", load_site))
    }

    /// Adds a door to a site (the default site when `site` is `None`).
    pub fn add_door(&self, actor: &Actor, name: &str, site: Option<&str>) -> Result<DoorRecord, StoreError> {
        let checked = crate::store::auth::clean_door(name);
        self.write(actor, AuditDraft::new("door.add"), |w| {
            let name = checked?;
            refuse_taken(&w.conn, "doors", "door", &name)?;
            let site = match site {
                Some(s) => id_of(&w.conn, "sites", "site", s)?,
                None => w.conn.query_row("SELECT id FROM sites WHERE is_default = 1", [], |r| r.get(0))?,
            };
            w.conn
                .prepare_cached("INSERT INTO doors (name, site_id, created_at) VALUES (?1, ?2, ?3)")?
                .execute(params![name, site, w.now.0])?;
            let id = w.conn.last_insert_rowid();
            w.audit.detail = format!("door={id} site={site}");
            w.change(Change::Rules { reach: true })?;
            load_door(&w.conn, id)
        })
    }

    /// Deletes a door no controller, area or level refers to.
    pub fn delete_door(&self, actor: &Actor, name: &str) -> Result<(), StoreError> {
        let controllers = "SELECT c.name FROM controller_doors cd JOIN controllers c ON c.id = cd.controller_id
             JOIN doors d ON d.name = cd.door WHERE d.id = ?1 ORDER BY c.name";
        let checks = [
            ("controller", controllers),
            (
                "area",
                "SELECT a.name FROM area_doors ad JOIN areas a ON a.id = ad.area_id WHERE ad.door_id = ?1 ORDER BY a.name",
            ),
            (
                "access level",
                "SELECT l.name FROM level_grants g JOIN access_levels l ON l.id = g.level_id WHERE g.door_id = ?1 ORDER BY l.name",
            ),
        ];
        self.delete_named(actor, "door.delete", ("doors", "door"), name, &checks, &[], true)
    }

    /// Every door.
    pub fn doors(&self) -> Result<Vec<DoorRecord>, StoreError> {
        self.read(|c| list(c, "doors", load_door))
    }

    /// Adds an area of doors.
    pub fn add_area(&self, actor: &Actor, name: &str, doors: &[String]) -> Result<AreaRecord, StoreError> {
        let checked = clean_label("name", name);
        self.write(actor, AuditDraft::new("area.add"), |w| {
            let name = checked?;
            if doors.is_empty() {
                return Err(DomainError::InvalidInput {
                    field: "door",
                    message: "an area needs at least one door".into(),
                }
                .into());
            }
            refuse_taken(&w.conn, "areas", "area", &name)?;
            w.conn
                .prepare_cached("INSERT INTO areas (name, created_at) VALUES (?1, ?2)")?
                .execute(params![name, w.now.0])?;
            let id = w.conn.last_insert_rowid();
            for d in doors {
                let door = id_of(&w.conn, "doors", "door", d)?;
                w.conn
                    .prepare_cached("INSERT OR IGNORE INTO area_doors (area_id, door_id) VALUES (?1, ?2)")?
                    .execute(params![id, door])?;
            }
            w.audit.detail = format!("area={id} doors={}", doors.len());
            w.change(Change::Rules { reach: true })?;
            load_area(&w.conn, id)
        })
    }

    /// Deletes an area no level refers to.
    pub fn delete_area(&self, actor: &Actor, name: &str) -> Result<(), StoreError> {
        let checks = [(
            "access level",
            "SELECT l.name FROM level_grants g JOIN access_levels l ON l.id = g.level_id WHERE g.area_id = ?1 ORDER BY l.name",
        )];
        let also = ["DELETE FROM area_doors WHERE area_id = ?1"];
        self.delete_named(actor, "area.delete", ("areas", "area"), name, &checks, &also, true)
    }

    /// Every area.
    pub fn areas(&self) -> Result<Vec<AreaRecord>, StoreError> {
        self.read(|c| list(c, "areas", load_area))
    }

    /// Adds a holiday to a calendar (created when new).
    pub fn add_holiday(&self, actor: &Actor, calendar: &str, holiday: &Holiday) -> Result<CalendarRecord, StoreError> {
        let checked = clean_label("calendar", calendar);
        self.write(actor, AuditDraft::new("holiday.add"), |w| {
            let calendar = checked?;
            if !exists(&w.conn, "holiday_calendars", &calendar)? {
                w.conn
                    .prepare_cached("INSERT INTO holiday_calendars (name, created_at) VALUES (?1, ?2)")?
                    .execute(params![calendar, w.now.0])?;
            }
            let id = id_of(&w.conn, "holiday_calendars", "holiday calendar", &calendar)?;
            // The whole calendar must still make sense (one holiday per date).
            let mut all = load_holidays(&w.conn, id)?
                .into_iter()
                .filter_map(|h| Holiday::parse(&h.date, &h.kind, h.yearly).ok())
                .collect::<Vec<_>>();
            all.push(holiday.clone());
            HolidayCalendar::new(all)?;
            w.conn
                .prepare_cached("INSERT INTO holidays (calendar_id, date, yearly, type) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![id, holiday.date.to_string(), holiday.yearly, holiday.kind.as_str()])?;
            w.audit.detail = format!("calendar={id} date={} yearly={}", holiday.date, holiday.yearly);
            w.change(Change::Rules { reach: false })?;
            load_calendar(&w.conn, id)
        })
    }

    /// Removes a holiday from a calendar.
    pub fn remove_holiday(
        &self,
        actor: &Actor,
        calendar: &str,
        date: &str,
        yearly: bool,
    ) -> Result<CalendarRecord, StoreError> {
        self.write(actor, AuditDraft::new("holiday.remove"), |w| {
            let id = id_of(&w.conn, "holiday_calendars", "holiday calendar", calendar)?;
            let n = w
                .conn
                .prepare_cached("DELETE FROM holidays WHERE calendar_id = ?1 AND date = ?2 AND yearly = ?3")?
                .execute(params![id, date.trim(), yearly])?;
            if n == 0 {
                return Err(DomainError::NotFound { what: "holiday", id: date.trim().to_owned() }.into());
            }
            w.audit.detail = format!("calendar={id} date={} yearly={yearly}", date.trim());
            w.change(Change::Rules { reach: false })?;
            load_calendar(&w.conn, id)
        })
    }

    /// Deletes a holiday calendar no schedule uses.
    pub fn delete_calendar(&self, actor: &Actor, name: &str) -> Result<(), StoreError> {
        let checks = [("schedule", "SELECT name FROM schedules WHERE calendar_id = ?1 ORDER BY name")];
        let also = ["DELETE FROM holidays WHERE calendar_id = ?1"];
        self.delete_named(
            actor,
            "calendar.delete",
            ("holiday_calendars", "holiday calendar"),
            name,
            &checks,
            &also,
            false,
        )
    }

    /// Every holiday calendar.
    pub fn calendars(&self) -> Result<Vec<CalendarRecord>, StoreError> {
        self.read(|c| list(c, "holiday_calendars", load_calendar))
    }

    /// Adds a schedule (`replace`: changes the one of that name instead,
    /// keeping its ID, so levels using it follow).
    pub fn put_schedule(
        &self,
        actor: &Actor,
        name: &str,
        site: &str,
        calendar: Option<&str>,
        schedule: &Schedule,
        replace: bool,
    ) -> Result<ScheduleRecord, StoreError> {
        let checked = clean_label("name", name).and_then(|n| {
            if schedule.intervals.is_empty() && schedule.on_holiday.is_empty() {
                return Err(DomainError::InvalidInput {
                    field: "interval",
                    message: "a schedule needs at least one interval".into(),
                });
            }
            if !schedule.on_holiday.is_empty() && calendar.is_none() {
                return Err(DomainError::InvalidInput {
                    field: "calendar",
                    message: "holiday rules (--on) need a holiday calendar (--calendar)".into(),
                });
            }
            Ok(n)
        });
        self.write(actor, AuditDraft::new(if replace { "schedule.edit" } else { "schedule.add" }), |w| {
            let name = checked?;
            let site = id_of(&w.conn, "sites", "site", site)?;
            let cal = calendar.map(|c| id_of(&w.conn, "holiday_calendars", "holiday calendar", c)).transpose()?;
            let id = if replace {
                let id = id_of(&w.conn, "schedules", "schedule", &name)?;
                w.conn
                    .prepare_cached("UPDATE schedules SET site_id = ?2, calendar_id = ?3, intervals = ?4, holiday_rules = ?5 WHERE id = ?1")?
                    .execute(params![id, site, cal, schedule.intervals_text(), schedule.holiday_rules_text()])?;
                id
            } else {
                refuse_taken(&w.conn, "schedules", "schedule", &name)?;
                w.conn
                    .prepare_cached(
                        "INSERT INTO schedules (name, site_id, calendar_id, intervals, holiday_rules, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![name, site, cal, schedule.intervals_text(), schedule.holiday_rules_text(), w.now.0])?;
                w.conn.last_insert_rowid()
            };
            w.audit.detail = format!("schedule={id} intervals={}", schedule.intervals.len());
            w.change(Change::Rules { reach: false })?;
            load_schedule(&w.conn, id)
        })
    }

    /// Deletes a schedule no level uses.
    pub fn delete_schedule(&self, actor: &Actor, name: &str) -> Result<(), StoreError> {
        let checks = [(
            "access level",
            "SELECT DISTINCT l.name FROM level_grants g JOIN access_levels l ON l.id = g.level_id WHERE g.schedule_id = ?1 ORDER BY l.name",
        )];
        self.delete_named(actor, "schedule.delete", ("schedules", "schedule"), name, &checks, &[], false)
    }

    /// Every schedule.
    pub fn schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.read(|c| list(c, "schedules", load_schedule))
    }

    /// Adds an access level owned by `org_unit` with its grants.
    pub fn add_level(
        &self,
        actor: &Actor,
        name: &str,
        org_unit: Option<&str>,
        grants: &[(GrantTarget, String)],
    ) -> Result<LevelRecord, StoreError> {
        let checked = clean_label("name", name).and_then(|n| {
            if grants.is_empty() {
                return Err(DomainError::InvalidInput {
                    field: "door",
                    message: "a level needs at least one (--area | --door) --schedule pair".into(),
                });
            }
            Ok(n)
        });
        self.write(actor, AuditDraft::new("level.add"), |w| {
            let name = checked?;
            actor.check_reach(org_unit)?;
            refuse_taken(&w.conn, "access_levels", "access level", &name)?;
            w.conn
                .prepare_cached("INSERT INTO access_levels (name, org_unit, created_at) VALUES (?1, ?2, ?3)")?
                .execute(params![name, org_unit, w.now.0])
                .map_err(|e| taken(e.into(), "access level", &name))?;
            let id = w.conn.last_insert_rowid();
            for (i, (target, schedule)) in grants.iter().enumerate() {
                let (door, area) = match target {
                    GrantTarget::Door(d) => (Some(id_of(&w.conn, "doors", "door", d)?), None),
                    GrantTarget::Area(a) => (None, Some(id_of(&w.conn, "areas", "area", a)?)),
                    GrantTarget::AllDoors => (None, None),
                };
                let schedule = id_of(&w.conn, "schedules", "schedule", schedule)?;
                w.conn
                    .prepare_cached(
                        "INSERT INTO level_grants (level_id, position, door_id, area_id, schedule_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![id, i64::try_from(i).unwrap_or(i64::MAX), door, area, schedule])?;
            }
            w.audit.detail = format!("level={id} grants={}", grants.len());
            w.change(Change::Rules { reach: true })?;
            load_level(&w.conn, id)
        })
    }

    /// Deletes a level nobody holds and that is not a default level.
    pub fn delete_level(&self, actor: &Actor, name: &str) -> Result<(), StoreError> {
        self.write(actor, AuditDraft::new("level.delete"), |w| {
            let (id, unit) = level_of(&w.conn, name)?;
            actor.check_reach(unit.as_deref())?;
            refuse_in_use(
                &w.conn,
                "access level",
                name,
                &[
                    ("the default levels", "SELECT 'list' FROM access_levels WHERE id = ?1 AND is_default = 1"),
                    ("person", "SELECT CAST(user_id AS TEXT) FROM level_assignments WHERE level_id = ?1 AND user_id IS NOT NULL ORDER BY user_id"),
                    (
                        "group",
                        "SELECT g.name FROM level_assignments a JOIN user_groups g ON g.id = a.group_id WHERE a.level_id = ?1 ORDER BY g.name",
                    ),
                    (
                        "directory group",
                        "SELECT g.display_name FROM level_assignments a JOIN directory_groups g ON g.id = a.directory_group_id
                         WHERE a.level_id = ?1 ORDER BY g.display_name",
                    ),
                ],
                id,
            )
            .map_err(|e| match e {
                // A scoped actor is not told who, in whatever unit, holds it.
                StoreError::Domain(DomainError::InUse { what, name, used_by })
                    if used_by.starts_with("person ") && actor.unit.is_some() =>
                {
                    StoreError::Domain(DomainError::InUse { what, name, used_by: "people who hold it".into() })
                }
                // A person is named by ID.
                StoreError::Domain(DomainError::InUse { what, name, used_by }) if used_by.starts_with("person ") => {
                    let id = used_by.trim_start_matches("person ").parse::<i64>().map(UserId::from_i64);
                    StoreError::Domain(DomainError::InUse {
                        what,
                        name,
                        used_by: id.map_or(used_by, |u| format!("person {u}")),
                    })
                }
                other => other,
            })?;
            w.conn.prepare_cached("DELETE FROM level_grants WHERE level_id = ?1")?.execute([id])?;
            w.conn.prepare_cached("DELETE FROM access_levels WHERE id = ?1")?.execute([id])?;
            w.audit.detail = format!("level={id}");
            w.change(Change::Rules { reach: true })
        })
    }

    /// Puts a level in the list of default levels, or takes it out.
    pub fn set_default_level(&self, actor: &Actor, name: &str, default: bool) -> Result<LevelRecord, StoreError> {
        self.write(actor, AuditDraft::new(if default { "level.default_add" } else { "level.default_remove" }), |w| {
            let (id, _) = level_of(&w.conn, name)?;
            w.conn
                .prepare_cached("UPDATE access_levels SET is_default = ?2 WHERE id = ?1")?
                .execute(params![id, default])?;
            w.audit.detail = format!("level={id}");
            w.change(Change::Rules { reach: false })?;
            load_level(&w.conn, id)
        })
    }

    /// Every level.
    pub fn levels(&self) -> Result<Vec<LevelRecord>, StoreError> {
        self.read(|c| list(c, "access_levels", load_level))
    }

    /// Assigns a level to a person or a group, or changes the assignment's
    /// window. A scoped actor assigns only their unit's levels, to people
    /// of their unit.
    pub fn assign_level(
        &self,
        actor: &Actor,
        level: &str,
        holder: &Holder,
        window: ValidityWindow,
    ) -> Result<AssignmentRecord, StoreError> {
        let mut draft = AuditDraft::new("level.assign");
        if let Holder::User(u) = holder {
            draft = draft.user(*u);
        }
        self.write(actor, draft, |w| {
            let (id, unit) = level_of(&w.conn, level)?;
            if actor.unit.is_some() && unit != actor.unit {
                return Err(DomainError::NotFound { what: "access level", id: level.to_owned() }.into());
            }
            group_needs_whole_office(actor, holder)?;
            let mut shown = holder.clone();
            match holder {
                Holder::User(u) => {
                    let state: Option<String> = w
                        .conn
                        .query_row("SELECT state FROM users WHERE id = ?1", [u.as_i64()], |r| r.get(0))
                        .optional()?;
                    match state.as_deref() {
                        None => return Err(DomainError::NotFound { what: "user", id: u.to_string() }.into()),
                        Some("expunged") => return Err(DomainError::AlreadyExpunged { user: *u }.into()),
                        Some(_) => {}
                    }
                    upsert_assignment(w, "user_id", id, u.as_i64(), window)?;
                    w.change(Change::Assignment { user: *u, level: LevelId(id), window: Some(window) })?;
                }
                Holder::Group(g) => {
                    let g = crate::store::users::clean_group(g)?;
                    let gid = group_id(&w.conn, Some(&g))?.map_or(0, |g| g.0);
                    upsert_assignment(w, "group_id", id, gid, window)?;
                    w.change(Change::Rules { reach: true })?;
                }
                Holder::DirectoryGroup(g) => {
                    let (gid, stored) = directory_group_of(&w.conn, g)?;
                    shown = Holder::DirectoryGroup(stored);
                    upsert_assignment(w, "directory_group_id", id, gid, window)?;
                    w.change(Change::Rules { reach: true })?;
                }
            }
            w.audit.detail = audit_detail(id, holder);
            Ok(AssignmentRecord {
                level_id: id,
                level: level.to_owned(),
                holder: shown,
                valid_from: window.from,
                valid_to: window.to,
            })
        })
    }

    /// Takes a level away from a person or a group.
    pub fn unassign_level(&self, actor: &Actor, level: &str, holder: &Holder) -> Result<(), StoreError> {
        let mut draft = AuditDraft::new("level.unassign");
        if let Holder::User(u) = holder {
            draft = draft.user(*u);
        }
        self.write(actor, draft, |w| {
            let (id, unit) = level_of(&w.conn, level)?;
            if actor.unit.is_some() && unit != actor.unit {
                return Err(DomainError::NotFound { what: "access level", id: level.to_owned() }.into());
            }
            group_needs_whole_office(actor, holder)?;
            let n = match holder {
                Holder::User(u) => {
                    let n = w
                        .conn
                        .prepare_cached("DELETE FROM level_assignments WHERE level_id = ?1 AND user_id = ?2")?
                        .execute(params![id, u.as_i64()])?;
                    if n > 0 {
                        w.change(Change::Assignment { user: *u, level: LevelId(id), window: None })?;
                    }
                    n
                }
                Holder::Group(g) => {
                    let n = w
                        .conn
                        .prepare_cached(
                            "DELETE FROM level_assignments WHERE level_id = ?1
                             AND group_id = (SELECT id FROM user_groups WHERE name = ?2)",
                        )?
                        .execute(params![id, g.trim()])?;
                    if n > 0 {
                        w.change(Change::Rules { reach: true })?;
                    }
                    n
                }
                Holder::DirectoryGroup(g) => {
                    let (gid, _) = directory_group_of(&w.conn, g)?;
                    let n = w
                        .conn
                        .prepare_cached(
                            "DELETE FROM level_assignments WHERE level_id = ?1 AND directory_group_id = ?2",
                        )?
                        .execute(params![id, gid])?;
                    if n > 0 {
                        w.change(Change::Rules { reach: true })?;
                    }
                    n
                }
            };
            if n == 0 {
                return Err(DomainError::NotFound { what: "assignment of this level", id: level.to_owned() }.into());
            }
            w.audit.detail = audit_detail(id, holder);
            Ok(())
        })
    }

    /// The levels a person holds: directly, through their group, and
    /// through their directory groups.
    pub fn assignments_of(&self, user: UserId) -> Result<Vec<AssignmentRecord>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT a.level_id, l.name, a.user_id, g.name, a.valid_from, a.valid_to, dg.display_name
                 FROM level_assignments a JOIN access_levels l ON l.id = a.level_id
                 LEFT JOIN user_groups g ON g.id = a.group_id
                 LEFT JOIN directory_groups dg ON dg.id = a.directory_group_id
                 WHERE a.user_id = ?1 OR a.group_id = (SELECT gg.id FROM users u JOIN user_groups gg ON gg.name = u.user_group WHERE u.id = ?1)
                    OR a.directory_group_id IN (SELECT m.group_id FROM directory_group_members m WHERE m.user_id = ?1)
                 ORDER BY a.user_id IS NULL, a.directory_group_id IS NOT NULL, l.name, dg.display_name",
            )?;
            let rows = stmt.query_map([user.as_i64()], assignment_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Everyone a level is assigned to (people and groups).
    pub fn assignments_of_level(&self, level: &str) -> Result<Vec<AssignmentRecord>, StoreError> {
        self.read(|c| {
            let (id, _) = level_of(c, level)?;
            let mut stmt = c.prepare_cached(
                "SELECT a.level_id, l.name, a.user_id, g.name, a.valid_from, a.valid_to, dg.display_name
                 FROM level_assignments a JOIN access_levels l ON l.id = a.level_id
                 LEFT JOIN user_groups g ON g.id = a.group_id
                 LEFT JOIN directory_groups dg ON dg.id = a.directory_group_id
                 WHERE a.level_id = ?1
                 ORDER BY a.user_id IS NULL, a.directory_group_id IS NOT NULL, a.user_id, g.name, dg.display_name",
            )?;
            let rows = stmt.query_map([id], assignment_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

/// A directory group by display name (any case), with its name as stored:
/// `not_found` when there is none.
fn directory_group_of(conn: &Connection, name: &str) -> Result<(i64, String), StoreError> {
    conn.prepare_cached("SELECT id, display_name FROM directory_groups WHERE display_name = ?1 COLLATE NOCASE")?
        .query_row([name.trim()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| DomainError::NotFound { what: "directory group", id: name.trim().to_owned() }.into())
}

/// Assigns level `level` to the holder in `column` (`user_id`, `group_id`,
/// `directory_group_id`), or changes the assignment's window.
fn upsert_assignment(
    w: &Tx<'_>,
    column: &'static str,
    level: i64,
    holder: i64,
    window: ValidityWindow,
) -> Result<(), StoreError> {
    w.conn
        .prepare_cached(&format!(
            "INSERT INTO level_assignments (level_id, {column}, valid_from, valid_to, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT ({column}, level_id) WHERE {column} IS NOT NULL
             DO UPDATE SET valid_from = excluded.valid_from, valid_to = excluded.valid_to"
        ))?
        .execute(params![level, holder, window.from.map(|t| t.0), window.to.map(|t| t.0), w.now.0])?;
    Ok(())
}

/// A group of either kind spans org units: its levels are changed by an
/// operator without one.
fn group_needs_whole_office(actor: &Actor, holder: &Holder) -> Result<(), StoreError> {
    if holder.is_group() && actor.unit.is_some() {
        return Err(DomainError::Forbidden {
            message: "a group's levels are changed by an operator without an org unit".into(),
        }
        .into());
    }
    Ok(())
}

/// An assignment's audit detail: the level and the kind of holder (never a name).
fn audit_detail(level: i64, holder: &Holder) -> String {
    let kind = match holder {
        Holder::User(_) => "person",
        Holder::Group(_) => "group",
        Holder::DirectoryGroup(_) => "directory_group",
    };
    format!("level={level} holder={kind}")
}

fn assignment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssignmentRecord> {
    let user: Option<i64> = r.get(2)?;
    let group: Option<String> = r.get(3)?;
    let directory_group: Option<String> = r.get(6)?;
    Ok(AssignmentRecord {
        level_id: r.get(0)?,
        level: r.get(1)?,
        holder: match (user, group) {
            (Some(u), _) => Holder::User(UserId::from_i64(u)),
            (None, Some(g)) => Holder::Group(g),
            (None, None) => Holder::DirectoryGroup(directory_group.unwrap_or_default()),
        },
        valid_from: r.get::<_, Option<i64>>(4)?.map(Timestamp),
        valid_to: r.get::<_, Option<i64>>(5)?.map(Timestamp),
    })
}

/// Every record of `table` (one of this module's, named by the caller),
/// by name, each read by `load`.
fn list<T>(
    c: &Connection,
    table: &'static str,
    load: impl Fn(&Connection, i64) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let ids: Vec<i64> = {
        let mut stmt = c.prepare_cached(&format!("SELECT id FROM {table} ORDER BY name"))?;
        stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    ids.into_iter().map(|id| load(c, id)).collect()
}

fn level_of(c: &Connection, name: &str) -> Result<(i64, Option<String>), StoreError> {
    c.prepare_cached("SELECT id, org_unit FROM access_levels WHERE name = ?1")?
        .query_row([name.trim()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| DomainError::NotFound { what: "access level", id: name.trim().to_owned() }.into())
}

fn load_site(c: &Connection, id: i64) -> Result<SiteRecord, StoreError> {
    Ok(c.prepare_cached("SELECT id, name, tz, is_default FROM sites WHERE id = ?1")?
        .query_row([id], |r| Ok(SiteRecord { id: r.get(0)?, name: r.get(1)?, tz: r.get(2)?, is_default: r.get(3)? }))?)
}

fn load_door(c: &Connection, id: i64) -> Result<DoorRecord, StoreError> {
    let (name, site): (String, String) = c
        .prepare_cached("SELECT d.name, s.name FROM doors d JOIN sites s ON s.id = d.site_id WHERE d.id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(DoorRecord {
        id,
        areas: names(
            c,
            "SELECT a.name FROM area_doors ad JOIN areas a ON a.id = ad.area_id WHERE ad.door_id = ?1 ORDER BY a.name",
            id,
        )?,
        controllers: names(
            c,
            "SELECT c.name FROM controller_doors cd JOIN controllers c ON c.id = cd.controller_id
             WHERE cd.door = (SELECT name FROM doors WHERE id = ?1) ORDER BY c.name",
            id,
        )?,
        name,
        site,
    })
}

fn load_area(c: &Connection, id: i64) -> Result<AreaRecord, StoreError> {
    let name: String = c.prepare_cached("SELECT name FROM areas WHERE id = ?1")?.query_row([id], |r| r.get(0))?;
    Ok(AreaRecord {
        id,
        name,
        doors: names(
            c,
            "SELECT d.name FROM area_doors ad JOIN doors d ON d.id = ad.door_id WHERE ad.area_id = ?1 ORDER BY d.name",
            id,
        )?,
    })
}

fn load_holidays(c: &Connection, id: i64) -> Result<Vec<HolidayRecord>, StoreError> {
    let mut stmt =
        c.prepare_cached("SELECT date, yearly, type FROM holidays WHERE calendar_id = ?1 ORDER BY date, yearly")?;
    let rows = stmt.query_map([id], |r| Ok(HolidayRecord { date: r.get(0)?, yearly: r.get(1)?, kind: r.get(2)? }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn load_calendar(c: &Connection, id: i64) -> Result<CalendarRecord, StoreError> {
    let name: String =
        c.prepare_cached("SELECT name FROM holiday_calendars WHERE id = ?1")?.query_row([id], |r| r.get(0))?;
    Ok(CalendarRecord { id, name, holidays: load_holidays(c, id)? })
}

fn load_schedule(c: &Connection, id: i64) -> Result<ScheduleRecord, StoreError> {
    let (name, site, calendar, iv, hr): (String, String, Option<String>, String, String) = c
        .prepare_cached(
            "SELECT s.name, t.name, h.name, s.intervals, s.holiday_rules FROM schedules s JOIN sites t ON t.id = s.site_id
             LEFT JOIN holiday_calendars h ON h.id = s.calendar_id WHERE s.id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
    let schedule = Schedule::from_text(&iv, &hr).map_err(|_| StoreError::Corrupt("schedule"))?;
    Ok(ScheduleRecord { id, name, site, calendar, schedule })
}

fn load_level(c: &Connection, id: i64) -> Result<LevelRecord, StoreError> {
    let (name, org_unit, is_default): (String, Option<String>, bool) = c
        .prepare_cached("SELECT name, org_unit, is_default FROM access_levels WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let mut stmt = c.prepare_cached(
        "SELECT d.name, a.name, s.name FROM level_grants g JOIN schedules s ON s.id = g.schedule_id
         LEFT JOIN doors d ON d.id = g.door_id LEFT JOIN areas a ON a.id = g.area_id
         WHERE g.level_id = ?1 ORDER BY g.position",
    )?;
    let grants = stmt
        .query_map([id], |r| {
            let (door, area, schedule): (Option<String>, Option<String>, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let target = match (door, area) {
                (Some(d), _) => GrantTarget::Door(d),
                (None, Some(a)) => GrantTarget::Area(a),
                (None, None) => GrantTarget::AllDoors,
            };
            Ok((target, schedule))
        })?
        .collect::<Result<_, _>>()?;
    let people: i64 = c
        .prepare_cached("SELECT COUNT(*) FROM level_assignments WHERE level_id = ?1 AND user_id IS NOT NULL")?
        .query_row([id], |r| r.get(0))?;
    let people = u64::try_from(people).unwrap_or(0);
    let groups = names(
        c,
        "SELECT g.name FROM level_assignments a JOIN user_groups g ON g.id = a.group_id WHERE a.level_id = ?1 ORDER BY g.name",
        id,
    )?;
    let directory_groups = names(
        c,
        "SELECT g.display_name FROM level_assignments a JOIN directory_groups g ON g.id = a.directory_group_id
         WHERE a.level_id = ?1 ORDER BY g.display_name",
        id,
    )?;
    Ok(LevelRecord { id, name, org_unit, is_default, grants, people, groups, directory_groups })
}
