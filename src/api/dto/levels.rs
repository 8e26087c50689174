//! Sites, doors, areas, holiday calendars, schedules, access levels and
//! their assignments; a person's access; an explained decision.

use std::collections::BTreeMap;

use utoipa::ToSchema;

use crate::domain::access::HolidayRule;
use crate::domain::{Timestamp, UserId};
use crate::ops::levels::{Explanation, PersonAccess};
use crate::store::levels::{self as store, GrantTarget, Holder};

/// A site: where doors are, and the time zone its schedules are written in.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Site {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub tz: String,
    /// The default site: doors that controllers name land here when new.
    pub default: bool,
}

impl From<store::SiteRecord> for Site {
    fn from(s: store::SiteRecord) -> Self {
        Self { id: s.id, name: s.name, tz: s.tz, default: s.is_default }
    }
}

/// A door.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Door {
    /// ID.
    pub id: i64,
    /// Name, as controllers and readers send it (exact, case-sensitive).
    pub name: String,
    /// Its site.
    pub site: String,
    /// The areas it belongs to.
    pub areas: Vec<String>,
    /// The controllers serving it.
    pub controllers: Vec<String>,
}

impl From<store::DoorRecord> for Door {
    fn from(d: store::DoorRecord) -> Self {
        Self { id: d.id, name: d.name, site: d.site, areas: d.areas, controllers: d.controllers }
    }
}

/// A named group of doors.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Area {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Its doors.
    pub doors: Vec<String>,
}

impl From<store::AreaRecord> for Area {
    fn from(a: store::AreaRecord) -> Self {
        Self { id: a.id, name: a.name, doors: a.doors }
    }
}

/// A holiday.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Holiday {
    /// `YYYY-MM-DD` (a yearly holiday recurs on its month and day).
    pub date: String,
    /// Recurs every year.
    pub yearly: bool,
    /// Its type (what schedules name in their holiday rules).
    #[serde(rename = "type")]
    pub kind: String,
}

/// A holiday calendar.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Calendar {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Its holidays.
    pub holidays: Vec<Holiday>,
}

impl From<store::CalendarRecord> for Calendar {
    fn from(c: store::CalendarRecord) -> Self {
        Self {
            id: c.id,
            name: c.name,
            holidays: c
                .holidays
                .into_iter()
                .map(|h| Holiday { date: h.date, yearly: h.yearly, kind: h.kind })
                .collect(),
        }
    }
}

/// Weekly intervals in the site's local time, and holiday rules.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Schedule {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Its site (whose time zone the intervals are in).
    pub site: String,
    /// Its holiday calendar, if any.
    pub calendar: Option<String>,
    /// `DAYS HH:MM-HH:MM`, e.g. `mon-fri 08:00-18:00`; an end at or before
    /// the start crosses midnight (`22:00-06:00`); `00:00-00:00` is the whole day.
    pub intervals: Vec<String>,
    /// Holiday type → `closed`, or the day's own ranges (`10:00-14:00,…`).
    pub on_holiday: BTreeMap<String, String>,
}

impl From<store::ScheduleRecord> for Schedule {
    fn from(s: store::ScheduleRecord) -> Self {
        Self {
            id: s.id,
            name: s.name,
            site: s.site,
            calendar: s.calendar,
            intervals: s.schedule.intervals.iter().map(ToString::to_string).collect(),
            on_holiday: s
                .schedule
                .on_holiday
                .iter()
                .map(|(t, r)| {
                    let rule = match r {
                        HolidayRule::Closed => "closed".to_owned(),
                        HolidayRule::Intervals(v) => v.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
                    };
                    (t.to_string(), rule)
                })
                .collect(),
        }
    }
}

/// One (door or area, schedule) pair of a level.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct LevelGrant {
    /// The door, when the grant names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub door: Option<String>,
    /// The area, when the grant names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// Every door (the default level "All doors, always").
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub all_doors: bool,
    /// The schedule.
    pub schedule: String,
}

/// An access level: the unit staff assign.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Level {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The org unit owning it (`null`: the whole office).
    pub org_unit: Option<String>,
    /// In the list of default levels: every new person gets it.
    pub default: bool,
    /// Its grants, in order.
    pub grants: Vec<LevelGrant>,
    /// How many people hold it directly.
    pub people: u64,
    /// Groups holding it.
    pub groups: Vec<String>,
    /// Directory groups holding it.
    pub directory_groups: Vec<String>,
}

impl From<store::LevelRecord> for Level {
    fn from(l: store::LevelRecord) -> Self {
        Self {
            id: l.id,
            name: l.name,
            org_unit: l.org_unit,
            default: l.is_default,
            grants: l
                .grants
                .into_iter()
                .map(|(t, schedule)| match t {
                    GrantTarget::Door(d) => LevelGrant { door: Some(d), area: None, all_doors: false, schedule },
                    GrantTarget::Area(a) => LevelGrant { door: None, area: Some(a), all_doors: false, schedule },
                    GrantTarget::AllDoors => LevelGrant { door: None, area: None, all_doors: true, schedule },
                })
                .collect(),
            people: l.people,
            groups: l.groups,
            directory_groups: l.directory_groups,
        }
    }
}

/// A level held by a person, a group or a directory group.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Assignment {
    /// The level.
    pub level: String,
    /// The person, when assigned to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
    /// The group, when assigned to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The directory group, when assigned to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory_group: Option<String>,
    /// From (inclusive, RFC 3339).
    #[schema(value_type = Option<String>)]
    pub valid_from: Option<Timestamp>,
    /// To (exclusive, RFC 3339).
    #[schema(value_type = Option<String>)]
    pub valid_to: Option<Timestamp>,
}

impl From<store::AssignmentRecord> for Assignment {
    fn from(a: store::AssignmentRecord) -> Self {
        let (user_id, group, directory_group) = match a.holder {
            Holder::User(u) => (Some(u), None, None),
            Holder::Group(g) => (None, Some(g), None),
            Holder::DirectoryGroup(g) => (None, None, Some(g)),
        };
        Self { level: a.level, user_id, group, directory_group, valid_from: a.valid_from, valid_to: a.valid_to }
    }
}

/// A door a person's levels cover, and through what.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct DoorAccess {
    /// The door.
    pub door: String,
    /// `(level, schedule)` pairs covering it.
    pub by: Vec<LevelSchedule>,
}

/// A level and the schedule it opens a door on.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct LevelSchedule {
    /// The level.
    pub level: String,
    /// The schedule.
    pub schedule: String,
}

/// What a person may open.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Access {
    /// The person.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// Their levels, directly, through their group and through their directory groups.
    pub assignments: Vec<Assignment>,
    /// The doors those levels cover now (whatever the time of day).
    pub doors: Vec<DoorAccess>,
}

impl From<PersonAccess> for Access {
    fn from(p: PersonAccess) -> Self {
        Self {
            user_id: p.user,
            assignments: p.assignments.into_iter().map(Assignment::from).collect(),
            doors: p
                .doors
                .into_iter()
                .map(|(door, by)| DoorAccess {
                    door,
                    by: by.into_iter().map(|(level, schedule)| LevelSchedule { level, schedule }).collect(),
                })
                .collect(),
        }
    }
}

/// Who can open a door at a time.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct WhoCan {
    /// The door.
    pub door: String,
    /// The time asked about (RFC 3339).
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// The people whose cards would open it then (IDs, in order; at most 10,000).
    #[schema(value_type = Vec<String>)]
    pub user_ids: Vec<UserId>,
    /// More people than listed could open it.
    pub more: bool,
}

/// A decision at a door, explained.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Explained {
    /// `grant` or `deny`.
    pub decision: &'static str,
    /// The deny reason's code.
    pub reason: Option<&'static str>,
    /// The door.
    pub door: String,
    /// The time decided at (RFC 3339).
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// The card's holder, if any.
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
    /// On a grant: the level that granted.
    pub level: Option<String>,
    /// On a grant: the schedule.
    pub schedule: Option<String>,
    /// On a grant: the interval open then (`HH:MM-HH:MM`, local time).
    pub interval: Option<String>,
}

impl Explained {
    /// From an explanation, for the door and time asked about.
    #[must_use]
    pub fn new(e: Explanation, door: String, at: Timestamp) -> Self {
        let (d, level, schedule) = (e.decision, e.level, e.schedule);
        Self {
            decision: d.decision.as_str(),
            reason: d.decision.reason().map(|r| r.code()),
            door,
            at,
            user_id: d.holder,
            level,
            schedule,
            interval: d.granted.map(|g| g.range.to_string()),
        }
    }
}
