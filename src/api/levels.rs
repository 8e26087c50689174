//! Who may open which door, when: sites, doors, areas, holiday calendars,
//! schedules, access levels and their assignments; a person's access, who
//! can open a door, and an explained decision. The rules are in
//! `ops::levels` (viewer reads; managers edit, site-wide things unscoped).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::Staff;
use crate::api::dto::{Access, Area, Assignment, Calendar, Door, Explained, Level, Schedule, Site, WhoCan};
use crate::api::error::{ApiError, ApiJson, ApiPath, ApiQuery, Problem};
use crate::api::{AppState, op};
use crate::domain::{DomainError, Technology, Timestamp, Uid, UserId, ValidityWindow};
use crate::ops::levels::{self as levels, ScheduleInput};
use crate::store::Role;
use crate::store::levels::{GrantTarget, Holder};

const VIEWER: u8 = Role::Viewer as u8;
const MANAGER: u8 = Role::Manager as u8;

fn time(field: &'static str, s: Option<&str>) -> Result<Option<Timestamp>, DomainError> {
    Timestamp::parse_opt(field, s)
}

/// A new site.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    /// Name.
    pub name: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub tz: String,
}

/// Every site (viewer).
#[utoipa::path(get, path = "/api/v1/sites", tag = "access levels",
    responses((status = 200, body = Vec<Site>)), security(("bearer" = [])))]
pub async fn list_sites(State(s): State<AppState>, auth: Staff<VIEWER>) -> Result<Json<Vec<Site>>, ApiError> {
    let v = op(&s, &auth.acting(), levels::sites).await?;
    Ok(Json(v.into_iter().map(Site::from).collect()))
}

/// Add a site (manager without an org unit).
#[utoipa::path(post, path = "/api/v1/sites", tag = "access levels", request_body = NewSite,
    responses((status = 201, body = Site), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn create_site(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiJson(b): ApiJson<NewSite>,
) -> Result<(StatusCode, Json<Site>), ApiError> {
    let v = op(&s, &auth.acting(), move |st, a| levels::add_site(st, a, &b.name, &b.tz)).await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// Delete a site no door or schedule is in (manager without an org unit):
/// 409 `in_use` names what is still in it.
#[utoipa::path(delete, path = "/api/v1/sites/{name}", tag = "access levels",
    params(("name" = String, Path, description = "Site name")),
    responses((status = 204), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn delete_site(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    op(&s, &auth.acting(), move |st, a| levels::delete_site(st, a, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new door.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDoor {
    /// Name, exactly as controllers and readers send it (letters, digits, `-_.@:`).
    pub name: String,
    /// Its site (default: the default site).
    pub site: Option<String>,
}

/// Every door (viewer).
#[utoipa::path(get, path = "/api/v1/doors", tag = "access levels",
    responses((status = 200, body = Vec<Door>)), security(("bearer" = [])))]
pub async fn list_doors(State(s): State<AppState>, auth: Staff<VIEWER>) -> Result<Json<Vec<Door>>, ApiError> {
    let v = op(&s, &auth.acting(), levels::doors).await?;
    Ok(Json(v.into_iter().map(Door::from).collect()))
}

/// Add a door (manager without an org unit).
#[utoipa::path(post, path = "/api/v1/doors", tag = "access levels", request_body = NewDoor,
    responses((status = 201, body = Door), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_door(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiJson(b): ApiJson<NewDoor>,
) -> Result<(StatusCode, Json<Door>), ApiError> {
    let v = op(&s, &auth.acting(), move |st, a| levels::add_door(st, a, &b.name, b.site.as_deref())).await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// Delete a door no controller, area or level uses (manager without an
/// org unit): 409 `in_use` names what uses it.
#[utoipa::path(delete, path = "/api/v1/doors/{name}", tag = "access levels",
    params(("name" = String, Path, description = "Door name")),
    responses((status = 204), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn delete_door(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    op(&s, &auth.acting(), move |st, a| levels::delete_door(st, a, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A time to ask about.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AtQuery {
    /// RFC 3339 (default: now).
    pub at: Option<String>,
}

/// Who can open a door at a time: the people whose cards would open it
/// then (viewer; a scoped operator sees their unit's).
#[utoipa::path(get, path = "/api/v1/doors/{name}/who-can", tag = "access levels",
    params(("name" = String, Path, description = "Door name"), AtQuery),
    responses((status = 200, body = WhoCan), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn who_can(
    State(s): State<AppState>,
    auth: Staff<VIEWER>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<AtQuery>,
) -> Result<Json<WhoCan>, ApiError> {
    let now = s.store.now();
    let v = op(&s, &auth.acting(), move |st, a| {
        let at = time("at", q.at.as_deref())?.unwrap_or(now);
        levels::who_can(st, a, &name, at).map(|(ids, more)| WhoCan { door: name, at, user_ids: ids, more })
    })
    .await?;
    Ok(Json(v))
}

/// A new area.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewArea {
    /// Name.
    pub name: String,
    /// Its doors (at least one).
    pub doors: Vec<String>,
}

/// Every area (viewer).
#[utoipa::path(get, path = "/api/v1/areas", tag = "access levels",
    responses((status = 200, body = Vec<Area>)), security(("bearer" = [])))]
pub async fn list_areas(State(s): State<AppState>, auth: Staff<VIEWER>) -> Result<Json<Vec<Area>>, ApiError> {
    let v = op(&s, &auth.acting(), levels::areas).await?;
    Ok(Json(v.into_iter().map(Area::from).collect()))
}

/// Add an area (manager without an org unit).
#[utoipa::path(post, path = "/api/v1/areas", tag = "access levels", request_body = NewArea,
    responses((status = 201, body = Area), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_area(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiJson(b): ApiJson<NewArea>,
) -> Result<(StatusCode, Json<Area>), ApiError> {
    let v = op(&s, &auth.acting(), move |st, a| levels::add_area(st, a, &b.name, &b.doors)).await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// Delete an area no level uses (manager without an org unit).
#[utoipa::path(delete, path = "/api/v1/areas/{name}", tag = "access levels",
    params(("name" = String, Path, description = "Area name")),
    responses((status = 204), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn delete_area(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    op(&s, &auth.acting(), move |st, a| levels::delete_area(st, a, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every holiday calendar with its holidays (viewer).
#[utoipa::path(get, path = "/api/v1/holiday-calendars", tag = "access levels",
    responses((status = 200, body = Vec<Calendar>)), security(("bearer" = [])))]
pub async fn list_calendars(State(s): State<AppState>, auth: Staff<VIEWER>) -> Result<Json<Vec<Calendar>>, ApiError> {
    let v = op(&s, &auth.acting(), levels::calendars).await?;
    Ok(Json(v.into_iter().map(Calendar::from).collect()))
}

/// A new holiday.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHoliday {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Its type (1-32 of a-z, 0-9, `_`, `-`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Recurs every year on the same month and day.
    #[serde(default)]
    pub yearly: bool,
}

/// Add a holiday to a calendar, created when new (manager without an org unit).
#[utoipa::path(post, path = "/api/v1/holiday-calendars/{name}/holidays", tag = "access levels",
    params(("name" = String, Path, description = "Calendar name")), request_body = NewHoliday,
    responses((status = 201, body = Calendar)), security(("bearer" = [])))]
pub async fn add_holiday(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiPath(name): ApiPath<String>,
    ApiJson(b): ApiJson<NewHoliday>,
) -> Result<(StatusCode, Json<Calendar>), ApiError> {
    let v = op(&s, &auth.acting(), move |st, a| levels::add_holiday(st, a, &name, &b.date, &b.kind, b.yearly)).await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// Delete a calendar no schedule uses (manager without an org unit).
#[utoipa::path(delete, path = "/api/v1/holiday-calendars/{name}", tag = "access levels",
    params(("name" = String, Path, description = "Calendar name")),
    responses((status = 204), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn delete_calendar(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    op(&s, &auth.acting(), move |st, a| levels::delete_calendar(st, a, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A schedule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// Its site (the intervals are in its local time).
    pub site: String,
    /// `DAYS HH:MM-HH:MM`, e.g. `mon-fri 08:00-18:00`, `sat,sun 22:00-06:00`.
    pub intervals: Vec<String>,
    /// Its holiday calendar.
    pub calendar: Option<String>,
    /// Holiday type → `closed` or `HH:MM-HH:MM[,…]`.
    #[serde(default)]
    pub on_holiday: std::collections::BTreeMap<String, String>,
}

impl ScheduleBody {
    fn input(self) -> Result<ScheduleInput, DomainError> {
        let intervals = self
            .intervals
            .iter()
            .map(|i| {
                i.trim().split_once(' ').map(|(d, r)| (d.to_owned(), r.trim().to_owned())).ok_or_else(|| {
                    DomainError::InvalidInput { field: "intervals", message: "each is DAYS HH:MM-HH:MM".into() }
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ScheduleInput {
            site: self.site,
            intervals,
            calendar: self.calendar,
            on: self.on_holiday.into_iter().collect(),
        })
    }
}

/// A new schedule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSchedule {
    /// Name.
    pub name: String,
    /// Its site (the intervals are in its local time).
    pub site: String,
    /// `DAYS HH:MM-HH:MM`, e.g. `mon-fri 08:00-18:00`, `sat,sun 22:00-06:00`.
    pub intervals: Vec<String>,
    /// Its holiday calendar.
    pub calendar: Option<String>,
    /// Holiday type → `closed` or `HH:MM-HH:MM[,…]`.
    #[serde(default)]
    pub on_holiday: std::collections::BTreeMap<String, String>,
}

/// Every schedule (viewer).
#[utoipa::path(get, path = "/api/v1/schedules", tag = "access levels",
    responses((status = 200, body = Vec<Schedule>)), security(("bearer" = [])))]
pub async fn list_schedules(State(s): State<AppState>, auth: Staff<VIEWER>) -> Result<Json<Vec<Schedule>>, ApiError> {
    let v = op(&s, &auth.acting(), levels::schedules).await?;
    Ok(Json(v.into_iter().map(Schedule::from).collect()))
}

/// Add a schedule (manager without an org unit).
#[utoipa::path(post, path = "/api/v1/schedules", tag = "access levels", request_body = NewSchedule,
    responses((status = 201, body = Schedule), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn create_schedule(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiJson(b): ApiJson<NewSchedule>,
) -> Result<(StatusCode, Json<Schedule>), ApiError> {
    let v = op(&s, &auth.acting(), move |st, a| {
        let body =
            ScheduleBody { site: b.site, intervals: b.intervals, calendar: b.calendar, on_holiday: b.on_holiday };
        levels::put_schedule(st, a, &b.name, &body.input()?, false)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// Replace a schedule's intervals and holiday rules (manager without an
/// org unit); the levels using it follow at once.
#[utoipa::path(put, path = "/api/v1/schedules/{name}", tag = "access levels",
    params(("name" = String, Path, description = "Schedule name")), request_body = ScheduleBody,
    responses((status = 200, body = Schedule), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn edit_schedule(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiPath(name): ApiPath<String>,
    ApiJson(b): ApiJson<ScheduleBody>,
) -> Result<Json<Schedule>, ApiError> {
    let v = op(&s, &auth.acting(), move |st, a| {
        let input = b.input()?;
        levels::put_schedule(st, a, &name, &input, true)
    })
    .await?;
    Ok(Json(v.into()))
}

/// Delete a schedule no level uses (manager without an org unit).
#[utoipa::path(delete, path = "/api/v1/schedules/{name}", tag = "access levels",
    params(("name" = String, Path, description = "Schedule name")),
    responses((status = 204), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn delete_schedule(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    op(&s, &auth.acting(), move |st, a| levels::delete_schedule(st, a, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One grant of a new level: exactly one of `door`, `area`, `all_doors`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    /// A door.
    pub door: Option<String>,
    /// An area.
    pub area: Option<String>,
    /// Every door.
    #[serde(default)]
    pub all_doors: bool,
    /// The schedule.
    pub schedule: String,
}

/// A new access level.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLevel {
    /// Name.
    pub name: String,
    /// The org unit owning it (a scoped manager's own unit by default).
    pub org_unit: Option<String>,
    /// Its grants, in order (at least one).
    pub grants: Vec<NewGrant>,
}

/// Every access level (viewer).
#[utoipa::path(get, path = "/api/v1/levels", tag = "access levels",
    responses((status = 200, body = Vec<Level>)), security(("bearer" = [])))]
pub async fn list_levels(State(s): State<AppState>, auth: Staff<VIEWER>) -> Result<Json<Vec<Level>>, ApiError> {
    let v = op(&s, &auth.acting(), levels::levels).await?;
    Ok(Json(v.into_iter().map(Level::from).collect()))
}

/// Add an access level (manager; a scoped manager's is owned by their unit).
#[utoipa::path(post, path = "/api/v1/levels", tag = "access levels", request_body = NewLevel,
    responses((status = 201, body = Level), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_level(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiJson(b): ApiJson<NewLevel>,
) -> Result<(StatusCode, Json<Level>), ApiError> {
    let v = op(&s, &auth.acting(), move |st, a| {
        let grants = b
            .grants
            .into_iter()
            .map(|g| {
                let target = match (g.door, g.area, g.all_doors) {
                    (Some(d), None, false) => GrantTarget::Door(d),
                    (None, Some(x), false) => GrantTarget::Area(x),
                    (None, None, true) => GrantTarget::AllDoors,
                    _ => {
                        return Err(DomainError::InvalidInput {
                            field: "grants",
                            message: "each grant names exactly one of door, area, all_doors".into(),
                        });
                    }
                };
                Ok((target, g.schedule))
            })
            .collect::<Result<Vec<_>, _>>()?;
        levels::add_level(st, a, &b.name, b.org_unit, &grants)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// Delete a level nobody holds and that is not a default level (manager):
/// 409 `in_use` names who still holds it.
#[utoipa::path(delete, path = "/api/v1/levels/{name}", tag = "access levels",
    params(("name" = String, Path, description = "Level name")),
    responses((status = 204), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn delete_level(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    op(&s, &auth.acting(), move |st, a| levels::delete_level(st, a, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether a level is a default level.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultFlag {
    /// Every new person gets it.
    pub default: bool,
}

/// Put a level in the default levels or take it out (manager without an org unit).
#[utoipa::path(put, path = "/api/v1/levels/{name}/default", tag = "access levels",
    params(("name" = String, Path, description = "Level name")), request_body = DefaultFlag,
    responses((status = 200, body = Level), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn set_default(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiPath(name): ApiPath<String>,
    ApiJson(b): ApiJson<DefaultFlag>,
) -> Result<Json<Level>, ApiError> {
    let v = op(&s, &auth.acting(), move |st, a| levels::set_default_level(st, a, &name, b.default)).await?;
    Ok(Json(v.into()))
}

/// Who holds a level (viewer; a scoped operator sees their unit's people).
#[utoipa::path(get, path = "/api/v1/levels/{name}/assignments", tag = "access levels",
    params(("name" = String, Path, description = "Level name")),
    responses((status = 200, body = Vec<Assignment>), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn list_assignments(
    State(s): State<AppState>,
    auth: Staff<VIEWER>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Vec<Assignment>>, ApiError> {
    let v = op(&s, &auth.acting(), move |st, a| levels::assignments_of_level(st, a, &name)).await?;
    Ok(Json(v.into_iter().map(Assignment::from).collect()))
}

/// A person, a group or a directory group, and a window.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAssignment {
    /// The person (exactly one of `user_id`, `group`, `directory_group`).
    pub user_id: Option<String>,
    /// The group (the people's `group` field).
    pub group: Option<String>,
    /// The directory group (from SCIM, LDAP or a CSV), by display name.
    pub directory_group: Option<String>,
    /// From (RFC 3339, inclusive).
    pub valid_from: Option<String>,
    /// To (RFC 3339, exclusive).
    pub valid_to: Option<String>,
}

/// Assign a level to a person (of the caller's unit), a group or a
/// directory group (unscoped managers), or change the assignment's window
/// (manager).
#[utoipa::path(post, path = "/api/v1/levels/{name}/assignments", tag = "access levels",
    params(("name" = String, Path, description = "Level name")), request_body = NewAssignment,
    responses((status = 201, body = Assignment), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "already_expunged: the person was expunged")),
    security(("bearer" = [])))]
pub async fn assign(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiPath(name): ApiPath<String>,
    ApiJson(b): ApiJson<NewAssignment>,
) -> Result<(StatusCode, Json<Assignment>), ApiError> {
    let v = op(&s, &auth.acting(), move |st, a| {
        let holder = Holder::named(b.user_id.as_deref(), b.group.as_deref(), b.directory_group.as_deref())?;
        let window = ValidityWindow::new(
            time("valid_from", b.valid_from.as_deref())?,
            time("valid_to", b.valid_to.as_deref())?,
        )?;
        levels::assign(st, a, &name, &holder, window)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// Whose assignment to take away.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HolderQuery {
    /// The person (exactly one of `user_id`, `group`, `directory_group`).
    pub user_id: Option<String>,
    /// The group.
    pub group: Option<String>,
    /// The directory group.
    pub directory_group: Option<String>,
}

/// Take a level away from a person, a group or a directory group (manager).
#[utoipa::path(delete, path = "/api/v1/levels/{name}/assignments", tag = "access levels",
    params(("name" = String, Path, description = "Level name"), HolderQuery),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn unassign(
    State(s): State<AppState>,
    auth: Staff<MANAGER>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<HolderQuery>,
) -> Result<StatusCode, ApiError> {
    op(&s, &auth.acting(), move |st, a| {
        let holder = Holder::named(q.user_id.as_deref(), q.group.as_deref(), q.directory_group.as_deref())?;
        levels::unassign(st, a, &name, &holder)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A person's levels and the doors they cover (viewer; scoped to the caller's unit).
#[utoipa::path(get, path = "/api/v1/users/{id}/access", tag = "access levels",
    params(("id" = String, Path, description = "User ID"), AtQuery),
    responses((status = 200, body = Access), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn person_access(
    State(s): State<AppState>,
    auth: Staff<VIEWER>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<AtQuery>,
) -> Result<Json<Access>, ApiError> {
    let now = s.store.now();
    let v = op(&s, &auth.acting(), move |st, a| {
        let at = time("at", q.at.as_deref())?.unwrap_or(now);
        levels::access_of(st, a, id.parse::<UserId>()?, at)
    })
    .await?;
    Ok(Json(v.into()))
}

/// A question about a door decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// The card's UID in hex.
    pub uid: String,
    /// The door (exact name).
    pub door: String,
    /// Technology, when the UID exists for several.
    pub technology: Option<String>,
    /// RFC 3339 (default: now).
    pub at: Option<String>,
}

/// What a door would answer for a card, and why: on a grant the level,
/// schedule and interval (viewer; a question, nothing is logged).
#[utoipa::path(post, path = "/api/v1/access/explain", tag = "access levels", request_body = ExplainRequest,
    responses((status = 200, body = Explained), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn explain(
    State(s): State<AppState>,
    auth: Staff<VIEWER>,
    ApiJson(b): ApiJson<ExplainRequest>,
) -> Result<Json<Explained>, ApiError> {
    let now = s.store.now();
    let v = op(&s, &auth.acting(), move |st, a| {
        let at = time("at", b.at.as_deref())?.unwrap_or(now);
        let technology = Technology::from_name_opt(b.technology.as_deref())?;
        let uid = Uid::parse_any(&b.uid)?;
        levels::explain(st, a, technology, &uid, &b.door, at).map(|e| Explained::new(e, b.door.clone(), at))
    })
    .await?;
    Ok(Json(v))
}
