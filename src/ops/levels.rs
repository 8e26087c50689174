//! Who may open which door, when: the rule layer over `store::levels`.
//!
//! Reading the rules needs the viewer role. Sites, doors, areas, holiday
//! calendars, schedules and the list of default levels cover every unit:
//! a manager without an org unit edits them. A manager held to a unit adds
//! and deletes only levels their unit owns, and assigns only their unit's
//! levels to people of their unit (never a group, which spans units); the
//! store checks the person's unit inside the write.

use crate::domain::access::{Holiday, Schedule};
use crate::domain::{Technology, Timestamp, Uid, UserId, ValidityWindow};
use crate::index::DoorDecision;
use crate::ops::{Acting, OpsError, load_scoped};
use crate::store::levels::{
    AreaRecord, AssignmentRecord, CalendarRecord, DoorRecord, GrantTarget, Holder, LevelRecord, ScheduleRecord,
    SiteRecord,
};
use crate::store::{Role, Store};

fn read(acting: &Acting) -> Result<(), OpsError> {
    acting.require(Role::Viewer)
}

fn edit_site_wide(acting: &Acting) -> Result<(), OpsError> {
    acting.require(Role::Manager)?;
    acting.require_unscoped()
}

/// Every site.
pub fn sites(store: &Store, acting: &Acting) -> Result<Vec<SiteRecord>, OpsError> {
    read(acting)?;
    Ok(store.sites()?)
}

/// Adds a site.
pub fn add_site(store: &Store, acting: &Acting, name: &str, tz: &str) -> Result<SiteRecord, OpsError> {
    edit_site_wide(acting)?;
    Ok(store.add_site(&acting.actor(), name, tz)?)
}

/// Changes a site's time zone.
pub fn set_site_tz(store: &Store, acting: &Acting, name: &str, tz: &str) -> Result<SiteRecord, OpsError> {
    edit_site_wide(acting)?;
    Ok(store.set_site_tz(&acting.actor(), name, tz)?)
}

/// Deletes a site nothing is in.
pub fn delete_site(store: &Store, acting: &Acting, name: &str) -> Result<(), OpsError> {
    edit_site_wide(acting)?;
    Ok(store.delete_site(&acting.actor(), name)?)
}

/// Every door.
pub fn doors(store: &Store, acting: &Acting) -> Result<Vec<DoorRecord>, OpsError> {
    read(acting)?;
    Ok(store.doors()?)
}

/// Adds a door.
pub fn add_door(store: &Store, acting: &Acting, name: &str, site: Option<&str>) -> Result<DoorRecord, OpsError> {
    edit_site_wide(acting)?;
    Ok(store.add_door(&acting.actor(), name, site)?)
}

/// Deletes a door nothing refers to.
pub fn delete_door(store: &Store, acting: &Acting, name: &str) -> Result<(), OpsError> {
    edit_site_wide(acting)?;
    Ok(store.delete_door(&acting.actor(), name)?)
}

/// Every area.
pub fn areas(store: &Store, acting: &Acting) -> Result<Vec<AreaRecord>, OpsError> {
    read(acting)?;
    Ok(store.areas()?)
}

/// Adds an area.
pub fn add_area(store: &Store, acting: &Acting, name: &str, doors: &[String]) -> Result<AreaRecord, OpsError> {
    edit_site_wide(acting)?;
    Ok(store.add_area(&acting.actor(), name, doors)?)
}

/// Deletes an area no level uses.
pub fn delete_area(store: &Store, acting: &Acting, name: &str) -> Result<(), OpsError> {
    edit_site_wide(acting)?;
    Ok(store.delete_area(&acting.actor(), name)?)
}

/// Every holiday calendar.
pub fn calendars(store: &Store, acting: &Acting) -> Result<Vec<CalendarRecord>, OpsError> {
    read(acting)?;
    Ok(store.calendars()?)
}

/// Adds a holiday (`date`, `kind`, `yearly` as the CLI takes them).
pub fn add_holiday(
    store: &Store,
    acting: &Acting,
    calendar: &str,
    date: &str,
    kind: &str,
    yearly: bool,
) -> Result<CalendarRecord, OpsError> {
    edit_site_wide(acting)?;
    // Refused before any write: the front end audits it (like a role refusal).
    let h = Holiday::parse(date, kind, yearly).map_err(OpsError::Refused)?;
    Ok(store.add_holiday(&acting.actor(), calendar, &h)?)
}

/// Removes a holiday.
pub fn remove_holiday(
    store: &Store,
    acting: &Acting,
    calendar: &str,
    date: &str,
    yearly: bool,
) -> Result<CalendarRecord, OpsError> {
    edit_site_wide(acting)?;
    Ok(store.remove_holiday(&acting.actor(), calendar, date, yearly)?)
}

/// Deletes a calendar no schedule uses.
pub fn delete_calendar(store: &Store, acting: &Acting, name: &str) -> Result<(), OpsError> {
    edit_site_wide(acting)?;
    Ok(store.delete_calendar(&acting.actor(), name)?)
}

/// A schedule as the CLI and the API take it.
#[derive(Debug, Clone, Default)]
pub struct ScheduleInput {
    /// Its site.
    pub site: String,
    /// `(DAYS, HH:MM-HH:MM)` pairs.
    pub intervals: Vec<(String, String)>,
    /// Its holiday calendar.
    pub calendar: Option<String>,
    /// `(TYPE, closed|HH:MM-HH:MM[,…])` pairs.
    pub on: Vec<(String, String)>,
}

impl ScheduleInput {
    /// The schedule, or the first field that does not parse.
    pub fn schedule(&self) -> Result<Schedule, crate::domain::DomainError> {
        use crate::domain::access::{HolidayRule, HolidayType, Interval};
        let mut s = Schedule::default();
        for (days, range) in &self.intervals {
            s.intervals.push(Interval::parse(days, range)?);
        }
        for (kind, rule) in &self.on {
            s.on_holiday.insert(HolidayType::parse(kind)?, HolidayRule::parse(rule)?);
        }
        Ok(s)
    }
}

/// Every schedule.
pub fn schedules(store: &Store, acting: &Acting) -> Result<Vec<ScheduleRecord>, OpsError> {
    read(acting)?;
    Ok(store.schedules()?)
}

/// Adds a schedule, or (`replace`) changes the one of that name.
pub fn put_schedule(
    store: &Store,
    acting: &Acting,
    name: &str,
    input: &ScheduleInput,
    replace: bool,
) -> Result<ScheduleRecord, OpsError> {
    edit_site_wide(acting)?;
    let s = input.schedule().map_err(OpsError::Refused)?;
    Ok(store.put_schedule(&acting.actor(), name, &input.site, input.calendar.as_deref(), &s, replace)?)
}

/// Deletes a schedule no level uses.
pub fn delete_schedule(store: &Store, acting: &Acting, name: &str) -> Result<(), OpsError> {
    edit_site_wide(acting)?;
    Ok(store.delete_schedule(&acting.actor(), name)?)
}

/// Every access level.
pub fn levels(store: &Store, acting: &Acting) -> Result<Vec<LevelRecord>, OpsError> {
    read(acting)?;
    Ok(store.levels()?)
}

/// Adds a level; a scoped manager's level is owned by their unit.
pub fn add_level(
    store: &Store,
    acting: &Acting,
    name: &str,
    org_unit: Option<String>,
    grants: &[(GrantTarget, String)],
) -> Result<LevelRecord, OpsError> {
    acting.require(Role::Manager)?;
    let unit = acting.unit_for(org_unit.map(|u| u.trim().to_owned()))?;
    if grants.iter().any(|(t, _)| matches!(t, GrantTarget::AllDoors)) {
        acting.require_unscoped()?;
    }
    Ok(store.add_level(&acting.actor(), name, unit.as_deref(), grants)?)
}

/// Deletes a level nobody holds.
pub fn delete_level(store: &Store, acting: &Acting, name: &str) -> Result<(), OpsError> {
    acting.require(Role::Manager)?;
    Ok(store.delete_level(&acting.actor(), name)?)
}

/// Puts a level in the default levels or takes it out.
pub fn set_default_level(store: &Store, acting: &Acting, name: &str, default: bool) -> Result<LevelRecord, OpsError> {
    edit_site_wide(acting)?;
    Ok(store.set_default_level(&acting.actor(), name, default)?)
}

/// Assigns a level to a person (of the caller's unit) or a group or
/// directory group (unscoped only).
pub fn assign(
    store: &Store,
    acting: &Acting,
    level: &str,
    holder: &Holder,
    window: ValidityWindow,
) -> Result<AssignmentRecord, OpsError> {
    acting.require(Role::Manager)?;
    holder_reached(store, acting, holder)?;
    Ok(store.assign_level(&acting.actor(), level, holder, window)?)
}

/// A person of the caller's unit, or a group of either kind for an unscoped caller.
fn holder_reached(store: &Store, acting: &Acting, holder: &Holder) -> Result<(), OpsError> {
    match holder {
        Holder::User(u) => load_scoped(store, acting, *u).map(drop),
        Holder::Group(_) | Holder::DirectoryGroup(_) => acting.require_unscoped(),
    }
}

/// Takes a level away.
pub fn unassign(store: &Store, acting: &Acting, level: &str, holder: &Holder) -> Result<(), OpsError> {
    acting.require(Role::Manager)?;
    holder_reached(store, acting, holder)?;
    Ok(store.unassign_level(&acting.actor(), level, holder)?)
}

/// Everyone a level is assigned to; a scoped caller sees only their unit's people.
pub fn assignments_of_level(store: &Store, acting: &Acting, level: &str) -> Result<Vec<AssignmentRecord>, OpsError> {
    read(acting)?;
    let all = store.assignments_of_level(level)?;
    match acting.scope()? {
        None => Ok(all),
        Some(_) => Ok(all
            .into_iter()
            .filter(|a| match &a.holder {
                Holder::User(u) => load_scoped(store, acting, *u).is_ok(),
                Holder::Group(_) | Holder::DirectoryGroup(_) => true,
            })
            .collect()),
    }
}

/// What a person may open: their assignments, and each door their levels
/// cover now with the (level, schedule) names that cover it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonAccess {
    /// The person.
    pub user: UserId,
    /// Their assignments (direct first, then through their group, then
    /// through their directory groups).
    pub assignments: Vec<AssignmentRecord>,
    /// Door name → (level name, schedule name) pairs.
    pub doors: Vec<(String, Vec<(String, String)>)>,
}

/// `idms access --user ID`.
pub fn access_of(store: &Store, acting: &Acting, user: UserId, at: Timestamp) -> Result<PersonAccess, OpsError> {
    read(acting)?;
    load_scoped(store, acting, user)?;
    let assignments = store.assignments_of(user)?;
    let (levels, schedules) = (store.levels()?, store.schedules()?);
    let level_name = |id: i64| levels.iter().find(|l| l.id == id).map_or_else(|| id.to_string(), |l| l.name.clone());
    let schedule_name =
        |id: i64| schedules.iter().find(|s| s.id == id).map_or_else(|| id.to_string(), |s| s.name.clone());
    let doors = store
        .index()
        .doors_of(user, at)
        .into_iter()
        .map(|(door, grants)| {
            let named = grants.into_iter().map(|(l, _, s)| (level_name(l.0), schedule_name(s.0))).collect();
            (door, named)
        })
        .collect();
    Ok(PersonAccess { user, assignments, doors })
}

/// Most people `who_can` lists.
pub const WHO_CAN_MAX: usize = 10_000;

/// `idms who-can --door D --at T`: the people whose cards would open the
/// door then (state and validity included), in ID order, at most
/// [`WHO_CAN_MAX`] (`more` says there were others); a scoped caller sees
/// their unit's people only.
pub fn who_can(store: &Store, acting: &Acting, door: &str, at: Timestamp) -> Result<(Vec<UserId>, bool), OpsError> {
    read(acting)?;
    if store.index().rules().door_named(door).is_none() {
        return Err(crate::domain::DomainError::UnknownDoor { name: door.to_owned() }.into());
    }
    let mut ids = store.index().who_can(door, at);
    if let Some(unit) = acting.scope()? {
        let mine = store.ids_in_unit(unit)?;
        ids.retain(|u| mine.contains(u));
    }
    ids.sort_unstable();
    let more = ids.len() > WHO_CAN_MAX;
    ids.truncate(WHO_CAN_MAX);
    Ok((ids, more))
}

/// A decision at a door with the names of the level and schedule that granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The decision.
    pub decision: DoorDecision,
    /// On a grant: the level's name.
    pub level: Option<String>,
    /// On a grant: the schedule's name.
    pub schedule: Option<String>,
}

/// The decision at a door with its explanation (`idms decide --door`,
/// `POST /access/explain`): a question, nothing logged.
pub fn explain(
    store: &Store,
    acting: &Acting,
    technology: Option<Technology>,
    uid: &Uid,
    door: &str,
    at: Timestamp,
) -> Result<Explanation, OpsError> {
    read(acting)?;
    if store.index().rules().door_named(door).is_none() {
        return Err(crate::domain::DomainError::UnknownDoor { name: door.to_owned() }.into());
    }
    let decision = store.index().decide_at_door(technology, uid, door, at);
    // A scoped caller asks only about their unit's people's cards.
    if let (Some(_), Some(holder)) = (acting.scope()?, decision.holder) {
        load_scoped(store, acting, holder)?;
    }
    let (level, schedule) = match decision.granted {
        Some(g) => (
            store.levels()?.into_iter().find(|l| l.id == g.level.0).map(|l| l.name),
            store.schedules()?.into_iter().find(|x| x.id == g.schedule.0).map(|x| x.name),
        ),
        None => (None, None),
    };
    Ok(Explanation { decision, level, schedule })
}
