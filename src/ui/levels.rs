//! **Access control**: doors, sites, areas, schedules, holiday calendars
//! and access levels — who may open which door, when — over
//! `ops::levels`, which holds who may (viewers read; managers without an
//! org unit edit what spans the site; a scoped manager adds their unit's
//! levels and assigns them to their unit's people).
//!
//! `GET /ui/access/{kind}` lists one kind with its add form, `POST` the
//! same path adds; `GET /ui/access/{kind}/{name}` is one thing's page (a
//! door's with "who can open it at T", a schedule's edit form, a
//! calendar's holidays, a level's holders with assign/unassign) and `POST
//! /ui/access/{kind}/{name}/{action}` changes it (`delete`, `tz`, `edit`,
//! `holiday`, `unholiday`, `default`, `assign`, `unassign`). Every change
//! answers `303` (PRG) with a notice sealed to the session; a refusal
//! (`invalid_input` naming the field, `name_taken`, `in_use` naming what
//! refers to it, `not_found`) shows the page again with the refusal next
//! to the form, a role or scope refusal the 403 page.
//!
//! `GET /ui/explain` answers "would this card open this door at T?" with
//! the reason in words and, on a grant, the level, schedule and interval;
//! the person record's **Access** tab is [`person_tab`], its assign and
//! unassign post to `POST /ui/people/{id}/access` ([`person_access`]).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::api::dto;
use crate::api::error::{ApiError, Refused};
use crate::api::{AppState, op};
use crate::domain::{Timestamp, UserId, ValidityWindow};
use crate::ops::levels::{self as rules, ScheduleInput};
use crate::ops::{Acting, OpsError};
use crate::store::levels::{
    AreaRecord, AssignmentRecord, CalendarRecord, DoorRecord, GrantTarget, Holder, LevelRecord, ScheduleRecord,
    SiteRecord,
};
use crate::store::{Role, Store};
use crate::ui::csrf::{Posted, seal, sealed};
use crate::ui::error::UiError;
use crate::ui::manage::redirect;
use crate::ui::session::Session;
use crate::ui::time::{Shown, ShownOr};
use crate::ui::{Hx, Nav, html};

/// Where the menu's **Access control** goes.
pub const HERE: &str = "/ui/access/doors";

/// The decision explainer.
pub const EXPLAIN: &str = "/ui/explain";

/// How many (door | area | all doors, schedule) rows the add-level form offers.
pub const GRANT_ROWS: usize = 4;

/// A kind of thing on the Access control pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Doors.
    Doors,
    /// Sites.
    Sites,
    /// Areas.
    Areas,
    /// Schedules.
    Schedules,
    /// Holiday calendars.
    Calendars,
    /// Access levels.
    Levels,
}

impl Kind {
    /// In the order of the sub-menu.
    pub const ALL: [Self; 6] = [Self::Doors, Self::Sites, Self::Areas, Self::Schedules, Self::Calendars, Self::Levels];

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == s)
    }

    /// The path segment.
    #[must_use]
    pub fn slug(self) -> &'static str {
        match self {
            Self::Doors => "doors",
            Self::Sites => "sites",
            Self::Areas => "areas",
            Self::Schedules => "schedules",
            Self::Calendars => "calendars",
            Self::Levels => "levels",
        }
    }

    /// The page's heading.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Doors => "Doors",
            Self::Sites => "Sites",
            Self::Areas => "Areas",
            Self::Schedules => "Schedules",
            Self::Calendars => "Holiday calendars",
            Self::Levels => "Access levels",
        }
    }

    /// One of them, in a sentence.
    #[must_use]
    pub fn one(self) -> &'static str {
        match self {
            Self::Doors => "Door",
            Self::Sites => "Site",
            Self::Areas => "Area",
            Self::Schedules => "Schedule",
            Self::Calendars => "Holiday calendar",
            Self::Levels => "Access level",
        }
    }
}

/// A name as a path segment (every byte but unreserved ones percent-encoded).
#[must_use]
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An entry of the Access control sub-menu.
#[derive(Debug, Clone)]
pub struct Tab {
    /// What staff see.
    pub label: &'static str,
    /// Where it goes.
    pub href: String,
    /// The page shown.
    pub current: bool,
}

fn tabs(current: Option<Kind>) -> Vec<Tab> {
    let mut t: Vec<Tab> = Kind::ALL
        .into_iter()
        .map(|k| Tab { label: k.title(), href: format!("/ui/access/{}", k.slug()), current: current == Some(k) })
        .collect();
    t.push(Tab { label: "Explain a decision", href: EXPLAIN.into(), current: current.is_none() });
    t
}

/// A site as listed.
#[derive(Debug)]
pub struct SiteLine {
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub tz: String,
    /// The default site.
    pub default: bool,
}

/// A door as listed.
#[derive(Debug)]
pub struct DoorLine {
    /// Name.
    pub name: String,
    /// Its site.
    pub site: String,
    /// Areas it is in, comma-separated.
    pub areas: String,
    /// Controllers serving it, comma-separated.
    pub controllers: String,
}

/// An area as listed.
#[derive(Debug)]
pub struct AreaLine {
    /// Name.
    pub name: String,
    /// Its doors, comma-separated.
    pub doors: String,
}

/// A schedule as listed.
#[derive(Debug)]
pub struct ScheduleLine {
    /// Name.
    pub name: String,
    /// Its site.
    pub site: String,
    /// Its holiday calendar ("" for none).
    pub calendar: String,
    /// `DAYS HH:MM-HH:MM`.
    pub intervals: Vec<String>,
    /// `TYPE: closed|ranges`.
    pub holidays: Vec<String>,
}

/// A holiday as listed.
#[derive(Debug)]
pub struct HolidayLine {
    /// `YYYY-MM-DD` (or `MM-DD` yearly).
    pub date: String,
    /// Its type.
    pub kind: String,
    /// Every year.
    pub yearly: bool,
}

/// A holiday calendar as listed.
#[derive(Debug)]
pub struct CalendarLine {
    /// Name.
    pub name: String,
    /// Its holidays.
    pub holidays: Vec<HolidayLine>,
}

/// An access level as listed.
#[derive(Debug)]
pub struct LevelLine {
    /// Name.
    pub name: String,
    /// The org unit that owns it ("" for the whole office).
    pub unit: String,
    /// In the default levels.
    pub default: bool,
    /// `what on schedule`.
    pub grants: Vec<String>,
    /// People holding it directly.
    pub people: u64,
    /// Groups holding it, comma-separated.
    pub groups: String,
    /// Directory groups holding it, comma-separated.
    pub directory_groups: String,
}

impl From<SiteRecord> for SiteLine {
    fn from(s: SiteRecord) -> Self {
        Self { name: s.name, tz: s.tz, default: s.is_default }
    }
}

impl From<DoorRecord> for DoorLine {
    fn from(d: DoorRecord) -> Self {
        Self { name: d.name, site: d.site, areas: d.areas.join(", "), controllers: d.controllers.join(", ") }
    }
}

impl From<AreaRecord> for AreaLine {
    fn from(a: AreaRecord) -> Self {
        Self { name: a.name, doors: a.doors.join(", ") }
    }
}

impl From<ScheduleRecord> for ScheduleLine {
    fn from(s: ScheduleRecord) -> Self {
        let d = dto::Schedule::from(s);
        Self {
            name: d.name,
            site: d.site,
            calendar: d.calendar.unwrap_or_default(),
            intervals: d.intervals,
            holidays: d.on_holiday.into_iter().map(|(t, r)| format!("{t} {r}")).collect(),
        }
    }
}

impl From<CalendarRecord> for CalendarLine {
    fn from(c: CalendarRecord) -> Self {
        Self {
            name: c.name,
            holidays: c
                .holidays
                .into_iter()
                .map(|h| HolidayLine { date: h.date, kind: h.kind, yearly: h.yearly })
                .collect(),
        }
    }
}

/// A grant in words.
fn grant_words(target: &GrantTarget, schedule: &str) -> String {
    match target {
        GrantTarget::Door(d) => format!("door {d} on {schedule}"),
        GrantTarget::Area(a) => format!("area {a} on {schedule}"),
        GrantTarget::AllDoors => format!("all doors on {schedule}"),
    }
}

impl From<LevelRecord> for LevelLine {
    fn from(l: LevelRecord) -> Self {
        Self {
            grants: l.grants.iter().map(|(t, s)| grant_words(t, s)).collect(),
            name: l.name,
            unit: l.org_unit.unwrap_or_default(),
            default: l.is_default,
            people: l.people,
            groups: l.groups.join(", "),
            directory_groups: l.directory_groups.join(", "),
        }
    }
}

/// Someone holding a level.
#[derive(Debug)]
pub struct HolderLine {
    /// The person's user ID ("" for a group).
    pub user: String,
    /// The holder in words (`group G`, `directory group G`, `person ID`).
    pub words: String,
    /// The unassign form's field naming the holder (`user`, `group`, `directory_group`).
    pub field: &'static str,
    /// Its value.
    pub value: String,
    /// Valid from.
    pub from: ShownOr,
    /// Valid to.
    pub to: ShownOr,
}

impl From<AssignmentRecord> for HolderLine {
    fn from(a: AssignmentRecord) -> Self {
        let words = a.holder.words();
        let (user, field, value) = match a.holder {
            Holder::User(u) => (u.to_string(), "user", u.to_string()),
            Holder::Group(g) => (String::new(), "group", g),
            Holder::DirectoryGroup(g) => (String::new(), "directory_group", g),
        };
        Self {
            user,
            words,
            field,
            value,
            from: ShownOr::new(a.valid_from, "always"),
            to: ShownOr::new(a.valid_to, "open-ended"),
        }
    }
}

/// What was typed into a form (shown again after a refusal).
#[derive(Debug, Default, Clone)]
pub struct Typed(pub Vec<(String, String)>);

impl Typed {
    /// A field as typed, trimmed ("" when absent).
    #[must_use]
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
    }

    /// Whether a select's option `value` was chosen for `name`.
    #[must_use]
    pub fn is(&self, name: &str, value: &str) -> bool {
        self.get(name) == value
    }

    fn opt(&self, name: &str) -> Option<String> {
        let v = self.get(name);
        (!v.is_empty()).then(|| v.to_owned())
    }

    /// The lines of a textarea, trimmed, blank ones left out.
    fn lines(&self, name: &str) -> Vec<String> {
        self.get(name).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
    }
}

/// Everything the Access control pages list.
#[derive(Debug, Default)]
struct Listed {
    sites: Vec<SiteRecord>,
    doors: Vec<DoorRecord>,
    areas: Vec<AreaRecord>,
    schedules: Vec<ScheduleRecord>,
    calendars: Vec<CalendarRecord>,
    levels: Vec<LevelRecord>,
}

fn listed_in(st: &Store, a: &Acting) -> Result<Listed, OpsError> {
    Ok(Listed {
        sites: rules::sites(st, a)?,
        doors: rules::doors(st, a)?,
        areas: rules::areas(st, a)?,
        schedules: rules::schedules(st, a)?,
        calendars: rules::calendars(st, a)?,
        levels: rules::levels(st, a)?,
    })
}

/// The names offered by the forms' selects.
#[derive(Debug, Default)]
pub struct Choices {
    /// Sites.
    pub sites: Vec<String>,
    /// Doors.
    pub doors: Vec<String>,
    /// Areas.
    pub areas: Vec<String>,
    /// Schedules.
    pub schedules: Vec<String>,
    /// Holiday calendars.
    pub calendars: Vec<String>,
}

impl Choices {
    fn of(l: &Listed) -> Self {
        fn names<T>(v: &[T], name: fn(&T) -> &str) -> Vec<String> {
            v.iter().map(|x| name(x).to_owned()).collect()
        }
        Self {
            sites: names(&l.sites, |s| &s.name),
            doors: names(&l.doors, |d| &d.name),
            areas: names(&l.areas, |a| &a.name),
            schedules: names(&l.schedules, |s| &s.name),
            calendars: names(&l.calendars, |c| &c.name),
        }
    }
}

/// A listing page: one kind with its add form.
#[derive(askama::Template)]
#[template(path = "access.html")]
pub struct ListPage {
    /// The header.
    pub nav: Nav,
    /// The sub-menu.
    pub tabs: Vec<Tab>,
    /// The kind's slug.
    pub kind: &'static str,
    /// The heading.
    pub title: &'static str,
    /// The add form's heading and button.
    pub add: String,
    /// The notice after a change.
    pub notice: Option<String>,
    /// Why the add form was refused.
    pub problem: Option<String>,
    /// The add form as typed.
    pub typed: Typed,
    /// The add form is offered (the role may edit).
    pub edit: bool,
    /// Sites.
    pub sites: Vec<SiteLine>,
    /// Doors.
    pub doors: Vec<DoorLine>,
    /// Areas.
    pub areas: Vec<AreaLine>,
    /// Schedules.
    pub schedules: Vec<ScheduleLine>,
    /// Holiday calendars.
    pub calendars: Vec<CalendarLine>,
    /// Access levels.
    pub levels: Vec<LevelLine>,
    /// The selects' options.
    pub choices: Choices,
    /// The add-level form's grant rows (1-based).
    pub rows: Vec<usize>,
}

impl std::fmt::Debug for ListPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListPage").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// One thing's page.
#[derive(askama::Template)]
#[template(path = "access_item.html")]
pub struct ItemPage {
    /// The header.
    pub nav: Nav,
    /// The sub-menu.
    pub tabs: Vec<Tab>,
    /// The kind's slug.
    pub kind: &'static str,
    /// "Door", "Access level", …
    pub one: &'static str,
    /// Its name.
    pub name: String,
    /// Its name as a path segment.
    pub path: String,
    /// The notice after a change.
    pub notice: Option<String>,
    /// Why a form was refused.
    pub problem: Option<String>,
    /// The refused form as typed.
    pub typed: Typed,
    /// Edit forms are offered (the role may edit).
    pub edit: bool,
    /// A site.
    pub site: Option<SiteLine>,
    /// A door.
    pub door: Option<DoorLine>,
    /// An area.
    pub area: Option<AreaLine>,
    /// A schedule.
    pub schedule: Option<ScheduleLine>,
    /// A calendar.
    pub calendar: Option<CalendarLine>,
    /// A level.
    pub level: Option<LevelLine>,
    /// A door: the time asked about, as typed.
    pub at: String,
    /// A door: when "who can" was answered for.
    pub who_at: Option<Shown>,
    /// A door: the people whose cards open it then.
    pub who: Vec<String>,
    /// A level: who holds it.
    pub holders: Vec<HolderLine>,
    /// The selects' options.
    pub choices: Choices,
}

impl std::fmt::Debug for ItemPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemPage").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// The query string of the Access control pages.
#[derive(Deserialize, Default, Debug)]
pub struct AccessQuery {
    /// What was done.
    pub done: Option<String>,
    /// To what.
    #[serde(default)]
    pub what: String,
    /// The notice's seal (`ui::csrf::seal`).
    #[serde(default)]
    pub seal: String,
    /// A door's page: "who can open it" at this time (RFC 3339; empty: now).
    #[serde(default)]
    pub at: String,
}

fn facts(kind: Kind, done: &str, what: &str) -> String {
    format!("access:{}:{done}:{what}", kind.slug())
}

/// The notice for `done`, if its seal fits this session.
fn notice(session: &Session, kind: Kind, q: &AccessQuery) -> Option<String> {
    let done = q.done.as_deref()?;
    if !sealed(session, &facts(kind, done, &q.what), &q.seal) {
        return None;
    }
    let (one, what) = (kind.one(), &q.what);
    Some(match done {
        "added" => format!("{one} {what} was added."),
        "deleted" => format!("{one} {what} was deleted."),
        "saved" => format!("{one} {what} was saved."),
        "holiday" => format!("The holiday {what} was added."),
        "unholiday" => format!("The holiday {what} was removed."),
        "default-on" => format!("{one} {what} is now a default level: every new person gets it."),
        "default-off" => format!("{one} {what} is no longer a default level."),
        "assign" => format!("The level was assigned to {what}."),
        "unassign" => format!("The level was taken from {what}."),
        _ => return None,
    })
}

/// Where a change sends the browser, with its sealed notice.
fn done_to(session: &Session, base: &str, kind: Kind, done: &str, what: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}done={done}&what={}&seal={}", enc(what), seal(session, &facts(kind, done, what)))
}

/// Whether the caller's role edits (the forms to offer). `ops` refuses
/// whatever the role or scope does not allow.
fn may_edit(session: &Session) -> bool {
    session.acting.require(Role::Manager).is_ok()
}

/// A refusal shown next to the form, with the page's status: 422 for a
/// refused field, 409 for a conflict, 404 for a name that does not exist.
/// Anything else (a role or scope refusal, an outage) is the error page.
/// A refusal no store operation audited (marked by `api::op`, or by
/// [`parsed`] for a form that does not parse) travels with the page for the
/// HTTP layer's refusal auditor.
fn shown_refusal(e: ApiError) -> Result<Shown4xx, UiError> {
    let status = match e.status {
        StatusCode::BAD_REQUEST => StatusCode::UNPROCESSABLE_ENTITY,
        StatusCode::CONFLICT | StatusCode::NOT_FOUND => e.status,
        _ => return Err(e.into()),
    };
    let refused = e.refused_actor.clone().map(|actor| Refused { actor, code: e.code });
    Ok(Shown4xx { status, words: refusal_words(e.code, &e.detail), refused })
}

/// A refusal to show next to its form.
struct Shown4xx {
    status: StatusCode,
    words: String,
    refused: Option<Refused>,
}

impl Shown4xx {
    /// The page shown again, carrying the refusal for the auditor.
    fn answer(self, page: Html<String>) -> Response {
        let mut res = (self.status, page).into_response();
        if let Some(r) = self.refused {
            res.extensions_mut().insert(r);
        }
        res
    }
}

/// A form field that does not parse, refused before any operation: marked
/// for the audit trail as refused to the caller.
fn parsed<T>(acting: &Acting, r: Result<T, ApiError>) -> Result<T, ApiError> {
    r.map_err(|e| e.refused_to(&acting.actor()))
}

/// A refusal in words: the store's sentence names the field or what refers to it.
fn refusal_words(code: &str, detail: &str) -> String {
    let lead = match code {
        "in_use" => "Still in use",
        "name_taken" => "That name is taken",
        "not_found" => "Not found",
        "invalid_input" => "Check this field",
        _ => "Refused",
    };
    format!("{lead} ({code}): {detail}")
}

fn list_page(
    session: &Session,
    kind: Kind,
    l: Listed,
    q: &AccessQuery,
    problem: Option<String>,
    typed: Typed,
) -> ListPage {
    let choices = Choices::of(&l);
    ListPage {
        nav: Nav::new(session, HERE),
        tabs: tabs(Some(kind)),
        kind: kind.slug(),
        title: kind.title(),
        add: if kind == Kind::Calendars { "Add holiday".into() } else { format!("Add {}", kind.one().to_lowercase()) },
        notice: notice(session, kind, q),
        problem,
        typed,
        edit: may_edit(session),
        sites: l.sites.into_iter().map(SiteLine::from).collect(),
        doors: l.doors.into_iter().map(DoorLine::from).collect(),
        areas: l.areas.into_iter().map(AreaLine::from).collect(),
        schedules: l.schedules.into_iter().map(ScheduleLine::from).collect(),
        calendars: l.calendars.into_iter().map(CalendarLine::from).collect(),
        levels: l.levels.into_iter().map(LevelLine::from).collect(),
        choices,
        rows: (1..=GRANT_ROWS).collect(),
    }
}

/// `GET /ui/access/{kind}`.
pub async fn list(
    State(s): State<AppState>,
    session: Session,
    Path(kind): Path<String>,
    Query(q): Query<AccessQuery>,
) -> Result<Response, UiError> {
    let kind = Kind::parse(&kind).ok_or_else(UiError::not_found)?;
    let l = op(&s, &session.acting, listed_in).await?;
    Ok(html(&list_page(&session, kind, l, &q, None, Typed::default()))?.into_response())
}

/// A schedule form's fields as `ops` takes them.
fn schedule_input(t: &Typed) -> Result<ScheduleInput, ApiError> {
    let invalid = |field: &'static str, message: &str| -> ApiError {
        ApiError::from(crate::domain::DomainError::InvalidInput { field, message: message.into() })
    };
    let mut input = ScheduleInput { site: t.get("site").to_owned(), calendar: t.opt("calendar"), ..Default::default() };
    for line in t.lines("intervals") {
        let (days, range) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid("intervals", "each line is DAYS HH:MM-HH:MM, e.g. mon-fri 08:00-18:00"))?;
        input.intervals.push((days.trim().to_owned(), range.trim().to_owned()));
    }
    for line in t.lines("holiday_rules") {
        let (kind, rule) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid("holiday_rules", "each line is TYPE closed or TYPE HH:MM-HH:MM"))?;
        input.on.push((kind.trim().to_owned(), rule.trim().to_owned()));
    }
    // Parsed here too, so a refused field is audited as refused before any
    // operation (`ops::levels::put_schedule` parses it again).
    input.schedule()?;
    Ok(input)
}

/// A holiday as the forms give it, checked before any operation (so its
/// refusal is audited; `ops::levels::add_holiday` parses it again).
fn holiday_of(t: &Typed) -> Result<(), ApiError> {
    crate::domain::access::Holiday::parse(t.get("date"), t.get("type"), t.opt("yearly").is_some())?;
    Ok(())
}

/// The add-level form's grant rows: `grant_N` is `door:NAME`, `area:NAME`
/// or `all`, `schedule_N` a schedule; a row left blank is skipped.
fn grants_of(t: &Typed) -> Result<Vec<(GrantTarget, String)>, ApiError> {
    let mut out = Vec::new();
    for n in 1..=GRANT_ROWS {
        let (what, schedule) = (t.get(&format!("grant_{n}")), t.get(&format!("schedule_{n}")));
        if what.is_empty() && schedule.is_empty() {
            continue;
        }
        let target = match what.split_once(':') {
            Some(("door", d)) => GrantTarget::Door(d.to_owned()),
            Some(("area", a)) => GrantTarget::Area(a.to_owned()),
            _ if what == "all" => GrantTarget::AllDoors,
            _ => {
                return Err(ApiError::from(crate::domain::DomainError::InvalidInput {
                    field: "grants",
                    message: format!("row {n}: choose a door, an area or all doors"),
                }));
            }
        };
        out.push((target, schedule.to_owned()));
    }
    Ok(out)
}

/// `POST /ui/access/{kind}`: adds one.
pub async fn add(State(s): State<AppState>, hx: Hx, Path(kind): Path<String>, p: Posted) -> Result<Response, UiError> {
    let kind = Kind::parse(&kind).ok_or_else(UiError::not_found)?;
    let t = Typed(p.form.clone());
    let outcome: Result<String, ApiError> = async {
        let t2 = t.clone();
        match kind {
            Kind::Sites => op(&s, &p.session.acting, move |st, a| rules::add_site(st, a, t2.get("name"), t2.get("tz")))
                .await
                .map(|r| r.name),
            Kind::Doors => op(&s, &p.session.acting, move |st, a| {
                rules::add_door(st, a, t2.get("name"), t2.opt("site").as_deref())
            })
            .await
            .map(|r| r.name),
            Kind::Areas => {
                let doors: Vec<String> = t
                    .get("doors")
                    .split([',', '\n'])
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(str::to_owned)
                    .collect();
                op(&s, &p.session.acting, move |st, a| rules::add_area(st, a, t2.get("name"), &doors))
                    .await
                    .map(|r| r.name)
            }
            Kind::Schedules => {
                let input = parsed(&p.session.acting, schedule_input(&t))?;
                op(&s, &p.session.acting, move |st, a| rules::put_schedule(st, a, t2.get("name"), &input, false))
                    .await
                    .map(|r| r.name)
            }
            Kind::Calendars => {
                parsed(&p.session.acting, holiday_of(&t))?;
                op(&s, &p.session.acting, move |st, a| {
                    rules::add_holiday(
                        st,
                        a,
                        t2.get("name"),
                        t2.get("date"),
                        t2.get("type"),
                        t2.opt("yearly").is_some(),
                    )
                })
                .await
                .map(|r| r.name)
            }
            Kind::Levels => {
                let grants = parsed(&p.session.acting, grants_of(&t))?;
                op(&s, &p.session.acting, move |st, a| {
                    rules::add_level(st, a, t2.get("name"), t2.opt("org_unit"), &grants)
                })
                .await
                .map(|r| r.name)
            }
        }
    }
    .await;
    match outcome {
        Ok(added) => {
            let to = format!("/ui/access/{}/{}", kind.slug(), enc(&added));
            Ok(redirect(hx, &done_to(&p.session, &to, kind, "added", &added)))
        }
        Err(e) => {
            let shown = shown_refusal(e)?;
            let l = op(&s, &p.session.acting, listed_in).await?;
            let page = list_page(&p.session, kind, l, &AccessQuery::default(), Some(shown.words.clone()), t);
            Ok(shown.answer(html(&page)?))
        }
    }
}

/// What one thing's page shows besides the lists.
#[derive(Debug, Default)]
struct Extra {
    who: Option<(Timestamp, Vec<UserId>)>,
    holders: Vec<AssignmentRecord>,
}

async fn item_page(
    s: &AppState,
    session: &Session,
    kind: Kind,
    name: String,
    q: &AccessQuery,
    problem: Option<String>,
    typed: Typed,
) -> Result<ItemPage, UiError> {
    let at = q.at.trim().to_owned();
    let mut problem = problem;
    let asked = match Timestamp::parse_opt("at", Some(at.as_str()).filter(|a| !a.is_empty())) {
        Ok(t) => t,
        Err(e) => {
            problem = Some(refusal_words("invalid_input", &e.to_string()));
            None
        }
    };
    let n = name.clone();
    let (l, extra) = op(s, &session.acting, move |st, a| {
        let l = listed_in(st, a)?;
        let mut extra = Extra::default();
        match kind {
            Kind::Doors => {
                let t = asked.unwrap_or_else(|| st.now());
                extra.who = Some((t, rules::who_can(st, a, &n, t)?.0));
            }
            Kind::Levels => extra.holders = rules::assignments_of_level(st, a, &n)?,
            _ => {}
        }
        Ok((l, extra))
    })
    .await?;
    let choices = Choices::of(&l);
    let Listed { sites, doors, areas, schedules, calendars, levels } = l;
    let mut page = ItemPage {
        nav: Nav::new(session, HERE),
        tabs: tabs(Some(kind)),
        kind: kind.slug(),
        one: kind.one(),
        path: enc(&name),
        notice: notice(session, kind, q),
        problem,
        typed,
        edit: may_edit(session),
        site: sites.into_iter().find(|x| x.name == name).map(SiteLine::from),
        door: doors.into_iter().find(|x| x.name == name).map(DoorLine::from),
        area: areas.into_iter().find(|x| x.name == name).map(AreaLine::from),
        schedule: schedules.into_iter().find(|x| x.name == name).map(ScheduleLine::from),
        calendar: calendars.into_iter().find(|x| x.name == name).map(CalendarLine::from),
        level: levels.into_iter().find(|x| x.name == name).map(LevelLine::from),
        at,
        who_at: extra.who.as_ref().map(|(t, _)| Shown(*t)),
        who: extra.who.map(|(_, ids)| ids.iter().map(ToString::to_string).collect()).unwrap_or_default(),
        holders: extra.holders.into_iter().map(HolderLine::from).collect(),
        choices,
        name,
    };
    let found = match kind {
        Kind::Sites => page.site.is_some(),
        Kind::Doors => page.door.is_some(),
        Kind::Areas => page.area.is_some(),
        Kind::Schedules => page.schedule.is_some(),
        Kind::Calendars => page.calendar.is_some(),
        Kind::Levels => page.level.is_some(),
    };
    if !found {
        return Err(UiError::not_found());
    }
    // The schedule's edit form starts from what it is.
    if let Some(sc) = &page.schedule
        && page.typed.0.is_empty()
    {
        page.typed = Typed(vec![
            ("site".into(), sc.site.clone()),
            ("calendar".into(), sc.calendar.clone()),
            ("intervals".into(), sc.intervals.join("\n")),
            ("holiday_rules".into(), sc.holidays.join("\n")),
        ]);
    }
    if let Some(si) = &page.site
        && page.typed.0.is_empty()
    {
        page.typed = Typed(vec![("tz".into(), si.tz.clone())]);
    }
    Ok(page)
}

/// `GET /ui/access/{kind}/{name}` (a door's: `?at=` for "who can").
pub async fn item(
    State(s): State<AppState>,
    session: Session,
    Path((kind, name)): Path<(String, String)>,
    Query(q): Query<AccessQuery>,
) -> Result<Response, UiError> {
    let kind = Kind::parse(&kind).ok_or_else(UiError::not_found)?;
    let page = item_page(&s, &session, kind, name, &q, None, Typed::default()).await?;
    // A time that does not parse is said next to its form.
    let status = if page.problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, html(&page)?).into_response())
}

/// A holder as the assign and unassign forms give it: `user` (an ID), `group` or `directory_group`.
fn holder_of(t: &Typed) -> Result<Holder, ApiError> {
    Holder::named(t.opt("user").as_deref(), t.opt("group").as_deref(), t.opt("directory_group").as_deref()).map_err(
        |e| match e {
            crate::domain::DomainError::InvalidUserId => ApiError::from(crate::domain::DomainError::InvalidInput {
                field: "user",
                message: "a user ID such as 01HZX3K8M4QW".into(),
            }),
            other => ApiError::from(other),
        },
    )
}

/// A validity window from the `from` and `to` fields (RFC 3339 or a date).
fn window_of(t: &Typed) -> Result<ValidityWindow, ApiError> {
    let from = Timestamp::parse_opt("from", t.opt("from").as_deref())?;
    let to = Timestamp::parse_opt("to", t.opt("to").as_deref())?;
    Ok(ValidityWindow::new(from, to)?)
}

/// `POST /ui/access/{kind}/{name}/{action}`.
pub async fn act(
    State(s): State<AppState>,
    hx: Hx,
    Path((kind, name, action)): Path<(String, String, String)>,
    p: Posted,
) -> Result<Response, UiError> {
    let kind = Kind::parse(&kind).ok_or_else(UiError::not_found)?;
    let known = matches!(
        (kind, action.as_str()),
        (_, "delete")
            | (Kind::Sites, "tz")
            | (Kind::Schedules, "edit")
            | (Kind::Calendars, "holiday" | "unholiday")
            | (Kind::Levels, "default" | "assign" | "unassign")
    );
    if !known {
        return Err(UiError::not_found());
    }
    let t = Typed(p.form.clone());
    let here = format!("/ui/access/{}/{}", kind.slug(), enc(&name));
    let n = name.clone();
    let acting = &p.session.acting;
    // (done, what the notice names, where to go)
    let outcome: Result<(&'static str, String, String), ApiError> = async {
        match (kind, action.as_str()) {
            (_, "delete") => {
                let n2 = n.clone();
                op(&s, acting, move |st, a| match kind {
                    Kind::Sites => rules::delete_site(st, a, &n2),
                    Kind::Doors => rules::delete_door(st, a, &n2),
                    Kind::Areas => rules::delete_area(st, a, &n2),
                    Kind::Schedules => rules::delete_schedule(st, a, &n2),
                    Kind::Calendars => rules::delete_calendar(st, a, &n2),
                    Kind::Levels => rules::delete_level(st, a, &n2),
                })
                .await?;
                Ok(("deleted", n, format!("/ui/access/{}", kind.slug())))
            }
            (Kind::Sites, "tz") => {
                let tz = t.get("tz").to_owned();
                op(&s, acting, move |st, a| rules::set_site_tz(st, a, &n, &tz)).await?;
                Ok(("saved", name.clone(), here.clone()))
            }
            (Kind::Schedules, "edit") => {
                let input = parsed(acting, schedule_input(&t))?;
                op(&s, acting, move |st, a| rules::put_schedule(st, a, &n, &input, true)).await?;
                Ok(("saved", name.clone(), here.clone()))
            }
            (Kind::Calendars, "holiday") => {
                parsed(acting, holiday_of(&t))?;
                let (date, kind_, yearly) =
                    (t.get("date").to_owned(), t.get("type").to_owned(), t.opt("yearly").is_some());
                let what = date.clone();
                op(&s, acting, move |st, a| rules::add_holiday(st, a, &n, &date, &kind_, yearly)).await?;
                Ok(("holiday", what, here.clone()))
            }
            (Kind::Calendars, "unholiday") => {
                let (date, yearly) = (t.get("date").to_owned(), t.get("yearly") == "true");
                let what = date.clone();
                op(&s, acting, move |st, a| rules::remove_holiday(st, a, &n, &date, yearly)).await?;
                Ok(("unholiday", what, here.clone()))
            }
            (Kind::Levels, "default") => {
                let on = t.get("default") == "on";
                op(&s, acting, move |st, a| rules::set_default_level(st, a, &n, on)).await?;
                Ok((if on { "default-on" } else { "default-off" }, name.clone(), here.clone()))
            }
            (Kind::Levels, "assign") => {
                let (holder, window) = (parsed(acting, holder_of(&t))?, parsed(acting, window_of(&t))?);
                let what = Holder::words(&holder);
                op(&s, acting, move |st, a| rules::assign(st, a, &n, &holder, window)).await?;
                Ok(("assign", what, here.clone()))
            }
            (Kind::Levels, "unassign") => {
                let holder = parsed(acting, holder_of(&t))?;
                let what = Holder::words(&holder);
                op(&s, acting, move |st, a| rules::unassign(st, a, &n, &holder)).await?;
                Ok(("unassign", what, here.clone()))
            }
            _ => Err(ApiError::from(crate::domain::DomainError::InvalidInput {
                field: "action",
                message: "no such action".into(),
            })),
        }
    }
    .await;
    match outcome {
        Ok((done, what, to)) => Ok(redirect(hx, &done_to(&p.session, &to, kind, done, &what))),
        Err(e) => {
            let shown = shown_refusal(e)?;
            let page =
                item_page(&s, &p.session, kind, name, &AccessQuery::default(), Some(shown.words.clone()), t).await?;
            Ok(shown.answer(html(&page)?))
        }
    }
}

/// The explainer's form.
#[derive(Deserialize, Default)]
pub struct ExplainQuery {
    /// The card's UID (hex).
    #[serde(default)]
    pub uid: String,
    /// Its technology ("" for any).
    #[serde(default)]
    pub technology: String,
    /// The door.
    #[serde(default)]
    pub door: String,
    /// When (RFC 3339; "" for now).
    #[serde(default)]
    pub at: String,
}

redacted_debug!(ExplainQuery);

/// The answer to "would this card open this door then?".
#[derive(Debug)]
pub struct Answer {
    /// Granted.
    pub granted: bool,
    /// The reason's code (deny).
    pub code: &'static str,
    /// In words.
    pub words: String,
    /// The holder (user ID), if any.
    pub user: String,
    /// On a grant: the level.
    pub level: String,
    /// On a grant: the schedule.
    pub schedule: String,
    /// On a grant: the interval open then (local time of the door's site).
    pub interval: String,
    /// When it was decided for.
    pub at: Shown,
}

/// The Explain a decision page.
#[derive(askama::Template)]
#[template(path = "explain.html")]
pub struct ExplainPage {
    /// The header.
    pub nav: Nav,
    /// The sub-menu.
    pub tabs: Vec<Tab>,
    /// The form as typed.
    pub q: ExplainQuery,
    /// The doors to choose from.
    pub doors: Vec<String>,
    /// The answer.
    pub answer: Option<Answer>,
    /// Why the question was refused.
    pub problem: Option<String>,
}

redacted_debug!(ExplainPage);

/// A deny reason in words.
#[must_use]
pub fn reason_words(code: &str) -> &'static str {
    match code {
        "unknown_credential" => "No card has this UID.",
        "credential_in_stock" => "The card is in stock: no one holds it.",
        "credential_suspended" => "The card is suspended.",
        "credential_lost" => "The card was reported lost.",
        "credential_stolen" => "The card was reported stolen.",
        "credential_destroyed" => "The card was destroyed.",
        "holder_suspended" => "Its holder is suspended.",
        "holder_deleted" => "Its holder is deleted.",
        "not_yet_valid" => "Its holder's Valid from is still ahead.",
        "expired" => "Its holder's Valid to has passed.",
        "no_access_to_door" => "None of the holder's access levels covers this door.",
        "outside_schedule" => "A level of the holder covers this door, but none of its schedules is open then.",
        "credential_ambiguous" => "These UID bytes are bound to different people: whose card it is cannot be told.",
        _ => "Denied.",
    }
}

/// `GET /ui/explain[?uid=…&door=…&at=…]`: a question, nothing logged.
pub async fn explain(
    State(s): State<AppState>,
    session: Session,
    Query(q): Query<ExplainQuery>,
) -> Result<Response, UiError> {
    let doors = op(&s, &session.acting, rules::doors).await?.into_iter().map(|d| d.name).collect();
    let mut page =
        ExplainPage { nav: Nav::new(&session, HERE), tabs: tabs(None), q, doors, answer: None, problem: None };
    if page.q.uid.trim().is_empty() || page.q.door.trim().is_empty() {
        return Ok(html(&page)?.into_response());
    }
    let asked = (|| -> Result<_, ApiError> {
        let (tech, uid) = super::cards::parse_card(&page.q.uid, &page.q.technology)?;
        let at = Timestamp::parse_opt("at", Some(page.q.at.as_str()).filter(|a| !a.trim().is_empty()))?;
        Ok((tech, uid, at))
    })();
    let answered = match asked {
        Ok((tech, uid, at)) => {
            let door = page.q.door.trim().to_owned();
            op(&s, &session.acting, move |st, a| {
                let at = at.unwrap_or_else(|| st.now());
                Ok((rules::explain(st, a, tech, &uid, &door, at)?, at))
            })
            .await
        }
        Err(e) => Err(e),
    };
    match answered {
        Ok((e, at)) => {
            let d = dto::Explained::new(e, page.q.door.clone(), at);
            let granted = d.decision == "grant";
            let code = d.reason.unwrap_or("");
            page.answer = Some(Answer {
                granted,
                code,
                words: if granted { "The door opens.".into() } else { reason_words(code).into() },
                user: d.user_id.map(|u| u.to_string()).unwrap_or_default(),
                level: d.level.unwrap_or_default(),
                schedule: d.schedule.unwrap_or_default(),
                interval: d.interval.unwrap_or_default(),
                at: Shown(at),
            });
            Ok(html(&page)?.into_response())
        }
        Err(e) => {
            let shown = shown_refusal(e)?;
            page.problem = Some(shown.words.clone());
            Ok(shown.answer(html(&page)?))
        }
    }
}

/// A level a person holds, as the Access tab lists it.
#[derive(Debug)]
pub struct HeldLevel {
    /// The level.
    pub level: String,
    /// "" when held directly, else the group it comes through (`group G`, `directory group G`).
    pub through: String,
    /// Valid from.
    pub from: ShownOr,
    /// Valid to.
    pub to: ShownOr,
}

/// A door the person can open, and by which (level, schedule) pairs.
#[derive(Debug)]
pub struct DoorOpen {
    /// The door.
    pub door: String,
    /// `level on schedule`, comma-separated.
    pub by: String,
}

/// The person record's **Access** tab.
#[derive(Debug, Default)]
pub struct AccessTab {
    /// Their levels, direct first.
    pub held: Vec<HeldLevel>,
    /// The doors their levels cover now.
    pub doors: Vec<DoorOpen>,
    /// The levels that can be offered to assign.
    pub levels: Vec<String>,
    /// Assign and unassign are offered (the role may).
    pub edit: bool,
    /// Why an assign or unassign was refused.
    pub problem: Option<String>,
    /// The refused form as typed.
    pub typed: Typed,
}

/// The Access tab of `user` (inside the record's `op`).
pub fn person_tab(st: &Store, a: &Acting, user: UserId) -> Result<AccessTab, OpsError> {
    let access = rules::access_of(st, a, user, st.now())?;
    let levels = rules::levels(st, a)?.into_iter().map(|l| l.name).collect();
    let held = access
        .assignments
        .into_iter()
        .map(|x| HeldLevel {
            through: match &x.holder {
                Holder::User(_) => String::new(),
                other => other.words(),
            },
            level: x.level,
            from: ShownOr::new(x.valid_from, "always"),
            to: ShownOr::new(x.valid_to, "open-ended"),
        })
        .collect();
    let doors = access
        .doors
        .into_iter()
        .map(|(door, by)| DoorOpen {
            door,
            by: by.into_iter().map(|(l, s)| format!("{l} on {s}")).collect::<Vec<_>>().join(", "),
        })
        .collect();
    Ok(AccessTab {
        held,
        doors,
        levels,
        edit: a.require(Role::Manager).is_ok(),
        problem: None,
        typed: Typed::default(),
    })
}

/// `POST /ui/people/{id}/access`: assigns (`op=assign`, `level`, `from`,
/// `to`) or unassigns (`op=unassign`, `level`) a level to the person;
/// `ops::levels` holds the person's and the level's unit to the caller's.
pub async fn person_access(
    State(s): State<AppState>,
    hx: Hx,
    Path(id): Path<String>,
    p: Posted,
) -> Result<Response, UiError> {
    let Ok(user) = id.parse::<UserId>() else {
        return Err(UiError::not_found());
    };
    let t = Typed(p.form.clone());
    let level = t.get("level").to_owned();
    let outcome: Result<&'static str, ApiError> = async {
        match t.get("op") {
            "assign" => {
                let window = parsed(&p.session.acting, window_of(&t))?;
                op(&s, &p.session.acting, move |st, a| rules::assign(st, a, &level, &Holder::User(user), window))
                    .await
                    .map(|_| "assign")
            }
            "unassign" => op(&s, &p.session.acting, move |st, a| rules::unassign(st, a, &level, &Holder::User(user)))
                .await
                .map(|()| "unassign"),
            _ => Err(ApiError::from(crate::domain::DomainError::InvalidInput {
                field: "op",
                message: "assign or unassign".into(),
            })
            .refused_to(&p.session.acting.actor())),
        }
    }
    .await;
    let base = format!("/ui/people/{user}?tab=access");
    match outcome {
        Ok(done) => {
            Ok(redirect(hx, &format!("{}#tab-h", done_to(&p.session, &base, Kind::Levels, done, t.get("level")))))
        }
        Err(e) => {
            let shown = shown_refusal(e)?;
            let refused = shown.refused.clone();
            let mut res = crate::ui::pages::record(&s, &p.session, user, (shown.words, t), shown.status).await?;
            if let Some(r) = refused {
                res.extensions_mut().insert(r);
            }
            Ok(res)
        }
    }
}

/// The Access tab's notice after an assign or unassign, if sealed.
#[must_use]
pub fn person_notice(session: &Session, done: Option<&str>, what: &str, tag: &str) -> Option<String> {
    let done = done?;
    if !sealed(session, &facts(Kind::Levels, done, what), tag) {
        return None;
    }
    match done {
        "assign" => Some(format!("Access level {what} was assigned.")),
        "unassign" => Some(format!("Access level {what} was taken away.")),
        _ => None,
    }
}
