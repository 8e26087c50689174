//! `idms site|door|area|holiday|schedule|level …`, `idms who-can`,
//! `idms access`: who may open which door, when, through the rule layer
//! (`ops::levels`) as the local CLI (every role).

use clap::{ArgGroup, Subcommand};
use idms::api::dto;
use idms::clock::{Clock, SystemClock};
use idms::domain::{DomainError, Timestamp, UserId, ValidityWindow};
use idms::ops::levels::{self as ops, ScheduleInput};
use idms::ops::{Acting, OpsError};
use idms::store::levels::{GrantTarget, Holder};
use idms::store::{Store, StoreError};

use super::output::{self, Table, opt};
use super::{Cli, actor, ops_audited, ts};

#[derive(Subcommand)]
pub(super) enum SiteCmd {
    /// Add a site: where doors are, with the IANA time zone its schedules are written in.
    Add {
        name: String,
        /// IANA time zone, e.g. Europe/Berlin, America/New_York, UTC.
        #[arg(long)]
        tz: String,
    },
    /// Change a site's time zone.
    Tz { name: String, tz: String },
    /// List sites.
    List,
    /// Delete a site no door or schedule is in.
    Delete { name: String },
}

#[derive(Subcommand)]
pub(super) enum DoorCmd {
    /// Add a door (its name exactly as controllers and readers send it).
    Add {
        name: String,
        /// Its site (default: the default site).
        #[arg(long)]
        site: Option<String>,
    },
    /// List doors with their site, areas and controllers.
    List,
    /// Delete a door no controller, area or level refers to.
    Delete { name: String },
}

#[derive(Subcommand)]
pub(super) enum AreaCmd {
    /// Add an area: a named group of doors.
    Add {
        name: String,
        /// A door of the area (repeat for more).
        #[arg(long = "door", required = true)]
        doors: Vec<String>,
    },
    /// List areas.
    List,
    /// Delete an area no level uses.
    Delete { name: String },
}

#[derive(Subcommand)]
pub(super) enum HolidayCmd {
    /// Add a holiday to a calendar (the calendar is created when new).
    Add {
        #[arg(long)]
        calendar: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// The holiday's type, which schedules name (`--on TYPE …`).
        #[arg(long = "type")]
        kind: String,
        /// Recurs every year on the same month and day.
        #[arg(long)]
        yearly: bool,
    },
    /// Remove a holiday.
    Remove {
        #[arg(long)]
        calendar: String,
        #[arg(long)]
        date: String,
        #[arg(long)]
        yearly: bool,
    },
    /// List calendars and their holidays.
    List,
    /// Delete a calendar no schedule uses.
    Delete { calendar: String },
}

/// A schedule's fields, for `add` and `edit`.
#[derive(clap::Args)]
pub(super) struct ScheduleArgs {
    name: String,
    /// Its site (its time zone is the schedule's).
    #[arg(long)]
    site: String,
    /// DAYS HH:MM-HH:MM, e.g. `mon-fri 08:00-18:00` or `sat,sun 22:00-06:00` (repeat for more).
    #[arg(long = "interval", num_args = 2, value_names = ["DAYS", "HH:MM-HH:MM"])]
    intervals: Vec<String>,
    /// Its holiday calendar.
    #[arg(long)]
    calendar: Option<String>,
    /// TYPE closed|HH:MM-HH:MM[,…]: what the schedule does on holidays of TYPE.
    #[arg(long = "on", num_args = 2, value_names = ["TYPE", "RULE"], requires = "calendar")]
    on: Vec<String>,
}

impl ScheduleArgs {
    fn input(&self) -> ScheduleInput {
        let pairs = |v: &[String]| v.chunks(2).map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default())).collect();
        ScheduleInput {
            site: self.site.clone(),
            intervals: pairs(&self.intervals),
            calendar: self.calendar.clone(),
            on: pairs(&self.on),
        }
    }
}

#[derive(Subcommand)]
pub(super) enum ScheduleCmd {
    /// Add a schedule: weekly intervals in its site's local time.
    Add(ScheduleArgs),
    /// Replace a schedule's intervals and holiday rules (levels using it follow).
    Edit(ScheduleArgs),
    /// List schedules.
    List,
    /// Delete a schedule no level uses.
    Delete { name: String },
}

#[derive(Subcommand)]
pub(super) enum DefaultCmd {
    /// Every new person gets this level.
    Add { level: String },
    /// New people no longer get it (who holds it keeps it).
    Remove { level: String },
}

#[derive(Subcommand)]
pub(super) enum LevelCmd {
    /// Add a level: (--area A | --door D | --all-doors) --schedule S pairs, in order.
    Add {
        name: String,
        /// The org unit owning it (whose managers may assign it).
        #[arg(long)]
        org_unit: Option<String>,
        /// `--door D --schedule S`, `--area A --schedule S`, `--all-doors --schedule S`, repeated.
        #[arg(num_args = 1.., allow_hyphen_values = true, trailing_var_arg = true, value_name = "GRANTS")]
        grants: Vec<String>,
    },
    /// Assign a level to a person, a group or a directory group (again: changes its window).
    #[command(group(ArgGroup::new("who").args(["user", "group", "directory_group"]).required(true)))]
    Assign {
        level: String,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        group: Option<String>,
        /// A directory group (from SCIM, LDAP or a CSV) by its display name.
        #[arg(long)]
        directory_group: Option<String>,
        /// From (RFC 3339, inclusive).
        #[arg(long)]
        from: Option<String>,
        /// To (RFC 3339, exclusive).
        #[arg(long)]
        to: Option<String>,
    },
    /// Take a level away from a person, a group or a directory group.
    #[command(group(ArgGroup::new("who").args(["user", "group", "directory_group"]).required(true)))]
    Unassign {
        level: String,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        group: Option<String>,
        /// A directory group by its display name.
        #[arg(long)]
        directory_group: Option<String>,
    },
    /// The default levels (every new person gets them).
    Default {
        #[command(subcommand)]
        cmd: DefaultCmd,
    },
    /// List levels.
    List,
    /// Who holds a level.
    Show { level: String },
    /// Delete a level nobody holds and that is not a default level.
    Delete { name: String },
}

fn me(cli: &Cli) -> (idms::store::Actor, Acting) {
    let a = actor(cli);
    (a.clone(), Acting::Local(a))
}

fn done<T>(s: &Store, cli: &Cli, action: &'static str, r: Result<T, OpsError>) -> Result<T, StoreError> {
    ops_audited(s, &actor(cli), action, r)
}

pub(super) fn site(cli: &Cli, s: &Store, cmd: &SiteCmd) -> Result<(), StoreError> {
    let (_, a) = me(cli);
    let one = |r: idms::store::levels::SiteRecord| {
        if cli.json {
            output::json(&dto::Site::from(r));
        } else {
            println!("site {} ({})", r.name, r.tz);
        }
    };
    match cmd {
        SiteCmd::Add { name, tz } => one(done(s, cli, "site.add", ops::add_site(s, &a, name, tz))?),
        SiteCmd::Tz { name, tz } => one(done(s, cli, "site.edit", ops::set_site_tz(s, &a, name, tz))?),
        SiteCmd::Delete { name } => {
            done(s, cli, "site.delete", ops::delete_site(s, &a, name))?;
            deleted(cli, "site", name);
        }
        SiteCmd::List => {
            let all = done(s, cli, "site.list", ops::sites(s, &a))?;
            if cli.json {
                {
                    output::json_as::<dto::Site, _>(&all);
                    return Ok(());
                }
            }
            let mut t = Table::new(&["NAME", "TZ", "DEFAULT"]);
            for r in all {
                t.row(vec![r.name, r.tz, if r.is_default { "yes".into() } else { String::new() }]);
            }
            t.print();
        }
    }
    Ok(())
}

fn deleted(cli: &Cli, what: &str, name: &str) {
    if cli.json {
        output::json(&serde_json::json!({ "deleted": what, "name": name }));
    } else {
        println!("{what} {name} deleted");
    }
}

pub(super) fn door(cli: &Cli, s: &Store, cmd: &DoorCmd) -> Result<(), StoreError> {
    let (_, a) = me(cli);
    match cmd {
        DoorCmd::Add { name, site } => {
            let r = done(s, cli, "door.add", ops::add_door(s, &a, name, site.as_deref()))?;
            if cli.json {
                output::json(&dto::Door::from(r));
            } else {
                println!("door {} in site {}", r.name, r.site);
            }
        }
        DoorCmd::Delete { name } => {
            done(s, cli, "door.delete", ops::delete_door(s, &a, name))?;
            deleted(cli, "door", name);
        }
        DoorCmd::List => {
            let all = done(s, cli, "door.list", ops::doors(s, &a))?;
            if cli.json {
                {
                    output::json_as::<dto::Door, _>(&all);
                    return Ok(());
                }
            }
            let mut t = Table::new(&["NAME", "SITE", "AREAS", "CONTROLLERS"]);
            for r in all {
                t.row(vec![r.name, r.site, r.areas.join(","), r.controllers.join(",")]);
            }
            t.print();
        }
    }
    Ok(())
}

pub(super) fn area(cli: &Cli, s: &Store, cmd: &AreaCmd) -> Result<(), StoreError> {
    let (_, a) = me(cli);
    match cmd {
        AreaCmd::Add { name, doors } => {
            let r = done(s, cli, "area.add", ops::add_area(s, &a, name, doors))?;
            if cli.json {
                output::json(&dto::Area::from(r));
            } else {
                println!("area {}: {}", r.name, r.doors.join(", "));
            }
        }
        AreaCmd::Delete { name } => {
            done(s, cli, "area.delete", ops::delete_area(s, &a, name))?;
            deleted(cli, "area", name);
        }
        AreaCmd::List => {
            let all = done(s, cli, "area.list", ops::areas(s, &a))?;
            if cli.json {
                {
                    output::json_as::<dto::Area, _>(&all);
                    return Ok(());
                }
            }
            let mut t = Table::new(&["NAME", "DOORS"]);
            for r in all {
                t.row(vec![r.name, r.doors.join(",")]);
            }
            t.print();
        }
    }
    Ok(())
}

pub(super) fn holiday(cli: &Cli, s: &Store, cmd: &HolidayCmd) -> Result<(), StoreError> {
    let (_, a) = me(cli);
    let one = |r: idms::store::levels::CalendarRecord| {
        if cli.json {
            output::json(&dto::Calendar::from(r));
        } else {
            println!("calendar {}: {} holidays", r.name, r.holidays.len());
        }
    };
    match cmd {
        HolidayCmd::Add { calendar, date, kind, yearly } => {
            one(done(s, cli, "holiday.add", ops::add_holiday(s, &a, calendar, date, kind, *yearly))?);
        }
        HolidayCmd::Remove { calendar, date, yearly } => {
            one(done(s, cli, "holiday.remove", ops::remove_holiday(s, &a, calendar, date, *yearly))?);
        }
        HolidayCmd::Delete { calendar } => {
            done(s, cli, "calendar.delete", ops::delete_calendar(s, &a, calendar))?;
            deleted(cli, "holiday calendar", calendar);
        }
        HolidayCmd::List => {
            let all = done(s, cli, "calendar.list", ops::calendars(s, &a))?;
            if cli.json {
                {
                    output::json_as::<dto::Calendar, _>(&all);
                    return Ok(());
                }
            }
            let mut t = Table::new(&["CALENDAR", "DATE", "YEARLY", "TYPE"]);
            for c in all {
                for h in c.holidays {
                    t.row(vec![c.name.clone(), h.date, if h.yearly { "yes".into() } else { String::new() }, h.kind]);
                }
            }
            t.print();
        }
    }
    Ok(())
}

pub(super) fn schedule(cli: &Cli, s: &Store, cmd: &ScheduleCmd) -> Result<(), StoreError> {
    let (_, a) = me(cli);
    let one = |r: idms::store::levels::ScheduleRecord| {
        if cli.json {
            output::json(&dto::Schedule::from(r));
        } else {
            println!("schedule {} (site {}): {}", r.name, r.site, r.schedule.intervals_text());
        }
    };
    match cmd {
        ScheduleCmd::Add(x) => one(done(s, cli, "schedule.add", ops::put_schedule(s, &a, &x.name, &x.input(), false))?),
        ScheduleCmd::Edit(x) => {
            one(done(s, cli, "schedule.edit", ops::put_schedule(s, &a, &x.name, &x.input(), true))?)
        }
        ScheduleCmd::Delete { name } => {
            done(s, cli, "schedule.delete", ops::delete_schedule(s, &a, name))?;
            deleted(cli, "schedule", name);
        }
        ScheduleCmd::List => {
            let all = done(s, cli, "schedule.list", ops::schedules(s, &a))?;
            if cli.json {
                {
                    output::json_as::<dto::Schedule, _>(&all);
                    return Ok(());
                }
            }
            let mut t = Table::new(&["NAME", "SITE", "INTERVALS", "CALENDAR", "HOLIDAYS"]);
            for r in all {
                t.row(vec![
                    r.name,
                    r.site,
                    r.schedule.intervals_text(),
                    opt(r.calendar.as_deref()),
                    r.schedule.holiday_rules_text(),
                ]);
            }
            t.print();
        }
    }
    Ok(())
}

/// `--door D --schedule S`, `--area A --schedule S`, `--all-doors --schedule S`, in order.
fn grants(raw: &[String]) -> Result<Vec<(GrantTarget, String)>, DomainError> {
    let bad = || DomainError::InvalidInput {
        field: "grants",
        message: "expected (--door D | --area A | --all-doors) --schedule S, repeated".into(),
    };
    let mut out = Vec::new();
    let mut it = raw.iter().map(String::as_str);
    while let Some(flag) = it.next() {
        let target = match flag {
            "--door" => GrantTarget::Door(it.next().ok_or_else(bad)?.to_owned()),
            "--area" => GrantTarget::Area(it.next().ok_or_else(bad)?.to_owned()),
            "--all-doors" => GrantTarget::AllDoors,
            _ => return Err(bad()),
        };
        match (it.next(), it.next()) {
            (Some("--schedule"), Some(s)) => out.push((target, s.to_owned())),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

pub(super) fn level(cli: &Cli, s: &Store, cmd: &LevelCmd) -> Result<(), StoreError> {
    let (_, a) = me(cli);
    let one = |r: idms::store::levels::LevelRecord| {
        if cli.json {
            output::json(&dto::Level::from(r));
        } else {
            println!("level {} ({} grants{})", r.name, r.grants.len(), if r.is_default { ", default" } else { "" });
        }
    };
    match cmd {
        LevelCmd::Add { name, org_unit, grants: raw } => {
            let g = grants(raw).map_err(OpsError::Refused);
            let r = g.and_then(|g| ops::add_level(s, &a, name, org_unit.clone(), &g));
            one(done(s, cli, "level.add", r)?);
        }
        LevelCmd::Assign { level, user, group, directory_group, from, to } => {
            let r = Holder::named(user.as_deref(), group.as_deref(), directory_group.as_deref())
                .and_then(|h| {
                    let w = ValidityWindow::new(ts("from", from.as_deref())?, ts("to", to.as_deref())?)?;
                    Ok((h, w))
                })
                .map_err(OpsError::Refused)
                .and_then(|(h, w)| ops::assign(s, &a, level, &h, w));
            let r = done(s, cli, "level.assign", r)?;
            if cli.json {
                output::json(&dto::Assignment::from(r));
            } else {
                println!("level {} assigned", r.level);
            }
        }
        LevelCmd::Unassign { level, user, group, directory_group } => {
            let r = Holder::named(user.as_deref(), group.as_deref(), directory_group.as_deref())
                .map_err(OpsError::Refused)
                .and_then(|h| ops::unassign(s, &a, level, &h));
            done(s, cli, "level.unassign", r)?;
            if cli.json {
                output::json(&serde_json::json!({ "unassigned": level }));
            } else {
                println!("level {level} unassigned");
            }
        }
        LevelCmd::Default { cmd } => {
            let (level, on) = match cmd {
                DefaultCmd::Add { level } => (level, true),
                DefaultCmd::Remove { level } => (level, false),
            };
            one(done(s, cli, "level.default", ops::set_default_level(s, &a, level, on))?);
        }
        LevelCmd::Delete { name } => {
            done(s, cli, "level.delete", ops::delete_level(s, &a, name))?;
            deleted(cli, "access level", name);
        }
        LevelCmd::Show { level } => {
            let all = done(s, cli, "level.show", ops::assignments_of_level(s, &a, level))?;
            if cli.json {
                {
                    output::json_as::<dto::Assignment, _>(&all);
                    return Ok(());
                }
            }
            let mut t = Table::new(&["HOLDER", "FROM", "TO"]);
            for r in all {
                let who = match r.holder {
                    Holder::User(u) => u.to_string(),
                    other => other.words(),
                };
                t.row(vec![
                    who,
                    opt(r.valid_from.map(|t| t.to_string()).as_deref()),
                    opt(r.valid_to.map(|t| t.to_string()).as_deref()),
                ]);
            }
            t.print();
        }
        LevelCmd::List => {
            let all = done(s, cli, "level.list", ops::levels(s, &a))?;
            if cli.json {
                {
                    output::json_as::<dto::Level, _>(&all);
                    return Ok(());
                }
            }
            let mut t = Table::new(&["NAME", "UNIT", "DEFAULT", "GRANTS", "PEOPLE", "GROUPS"]);
            for r in all {
                let grants = r
                    .grants
                    .iter()
                    .map(|(g, s)| match g {
                        GrantTarget::Door(d) => format!("door {d} @ {s}"),
                        GrantTarget::Area(x) => format!("area {x} @ {s}"),
                        GrantTarget::AllDoors => format!("all doors @ {s}"),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                t.row(vec![
                    r.name,
                    opt(r.org_unit.as_deref()),
                    if r.is_default { "yes".into() } else { String::new() },
                    grants,
                    r.people.to_string(),
                    r.groups
                        .iter()
                        .cloned()
                        .chain(r.directory_groups.iter().map(|g| format!("directory:{g}")))
                        .collect::<Vec<_>>()
                        .join(","),
                ]);
            }
            t.print();
        }
    }
    Ok(())
}

fn at_or_now(at: Option<&str>) -> Result<Timestamp, StoreError> {
    Ok(ts("at", at)?.unwrap_or_else(|| SystemClock.now()))
}

pub(super) fn who_can(cli: &Cli, s: &Store, door: &str, at: Option<&str>) -> Result<(), StoreError> {
    let (_, a) = me(cli);
    let at = at_or_now(at)?;
    let (ids, more) = done(s, cli, "access.who_can", ops::who_can(s, &a, door, at))?;
    if cli.json {
        output::json(&dto::WhoCan { door: door.to_owned(), at, user_ids: ids, more });
    } else {
        for id in ids {
            println!("{id}");
        }
        if more {
            println!("… and more (the first {} are listed)", ops::WHO_CAN_MAX);
        }
    }
    Ok(())
}

pub(super) fn access(cli: &Cli, s: &Store, user: &str, at: Option<&str>) -> Result<(), StoreError> {
    let (_, a) = me(cli);
    let at = at_or_now(at)?;
    let r = user.parse::<UserId>().map_err(OpsError::Refused).and_then(|u| ops::access_of(s, &a, u, at));
    let p = done(s, cli, "access.person", r)?;
    if cli.json {
        output::json(&dto::Access::from(p));
        return Ok(());
    }
    let mut t = Table::new(&["LEVEL", "THROUGH", "FROM", "TO"]);
    for r in &p.assignments {
        let through = match &r.holder {
            Holder::User(_) => "direct".to_owned(),
            other => other.words(),
        };
        t.row(vec![
            r.level.clone(),
            through,
            opt(r.valid_from.map(|t| t.to_string()).as_deref()),
            opt(r.valid_to.map(|t| t.to_string()).as_deref()),
        ]);
    }
    t.print();
    println!();
    let mut t = Table::new(&["DOOR", "BY"]);
    for (door, by) in p.doors {
        t.row(vec![door, by.iter().map(|(l, s)| format!("{l} @ {s}")).collect::<Vec<_>>().join("; ")]);
    }
    t.print();
    Ok(())
}

/// `idms decide --door D`: the decision with its explanation.
pub(super) fn explain(
    cli: &Cli,
    s: &Store,
    me: &Acting,
    technology: Option<idms::domain::Technology>,
    uid: &idms::domain::Uid,
    door: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    let x = done(s, cli, "decide", ops::explain(s, me, technology, uid, door, at))?;
    let e = dto::Explained::new(x, door.to_owned(), at);
    if cli.json {
        output::json(&e);
    } else {
        match (&e.level, &e.schedule, &e.interval) {
            (Some(l), Some(sc), Some(iv)) => println!("grant  level {l}, schedule {sc}, interval {iv}"),
            _ => println!("{}  {}", e.decision, e.reason.unwrap_or("")),
        }
    }
    Ok(())
}
