//! Bulk lifecycle over HTTP: purge jobs (plan, dry run, progress, history,
//! the refused cancel), the deleted-users erase flow, and bulk purge dates.
//! Jobs run in the service's job runner (`jobs::Runner`); a handler only
//! records the job and wakes the runner.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::Staff;
use crate::api::dto::{Count, DryRun, EraseReport, JobDetail, PurgeJob, PurgeOutcome, UserSummary};
use crate::api::error::{ApiError, ApiJson, ApiPath, ApiQuery, Problem, query_user_id};
use crate::api::{AppState, op};
use crate::domain::purge::{Criteria, minor_from_units};
use crate::domain::time::parse_date;
use crate::domain::{DomainError, Timestamp, UserId, UserState};
use crate::ops::purge as ops;
use crate::store::{PeopleQuery, Role};

/// What a purge job selects.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CriteriaBody {
    /// Days the purge date must lie in the past (0: today or earlier). People without a purge date are never selected.
    pub grace_days: u32,
    /// Only this record type.
    pub record_type: Option<String>,
    /// Only this group.
    pub group: Option<String>,
    /// Only this organisational unit (a scoped operator's jobs are held to their unit).
    pub org_unit: Option<String>,
    /// Skip anyone owing more than this amount (default 0: any debt skips).
    pub waive_threshold: Option<f64>,
    /// Only people already deleted (others are skipped as `not_deleted`); otherwise people still active or suspended are deleted and expunged.
    #[serde(default)]
    pub only_deleted: bool,
}

/// A purge job request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// Who is selected.
    pub criteria: CriteriaBody,
    /// Return the plan without recording or changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// The criteria as sent; the rule layer holds them to the caller's unit.
/// (The web UI's Add Job form reads its fields through this too.)
pub fn criteria_of(b: CriteriaBody) -> Result<Criteria, ApiError> {
    Ok(Criteria {
        grace_days: b.grace_days,
        record_type: b.record_type,
        group: b.group,
        org_unit: b.org_unit,
        waive_threshold: b
            .waive_threshold
            .map(|v| minor_from_units("criteria.waive_threshold", v))
            .transpose()?
            .unwrap_or(0),
        only_deleted: b.only_deleted,
    })
}

/// Plan a purge job, or dry-run it.
///
/// Records the job with its whole plan (everyone considered: selected, or
/// skipped with reasons) before anyone is expunged, then the service runs
/// it to completion — it cannot be aborted, and resumes after a crash.
#[utoipa::path(post, path = "/api/v1/purge-jobs", tag = "purge", request_body = CreateJob,
    responses((status = 202, description = "Job recorded and started", body = PurgeJob),
        (status = 200, description = "Dry run: the plan, nothing changed", body = DryRun),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_job(
    State(s): State<AppState>,
    auth: Staff<{ Role::Eraser as u8 }>,
    ApiJson(b): ApiJson<CreateJob>,
) -> Result<Response, ApiError> {
    let acting = auth.acting();
    let criteria = criteria_of(b.criteria)?;
    if b.dry_run {
        let plan = op(&s, &acting, move |st, a| ops::dry_run(st, a, criteria)).await?;
        return Ok(Json(DryRun::from(plan)).into_response());
    }
    let job = op(&s, &acting, move |st, a| ops::create_job(st, a, criteria)).await?;
    s.wake_jobs();
    let location = HeaderValue::from_str(&format!("/api/v1/purge-jobs/{}", job.id));
    let mut r = (StatusCode::ACCEPTED, Json(PurgeJob::from(job))).into_response();
    if let Ok(v) = location {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// History parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListJobs {
    /// At most this many, newest first (default 50, at most 500).
    pub limit: Option<u32>,
}

/// Purge-job history, newest first (records are kept one year after completion).
#[utoipa::path(get, path = "/api/v1/purge-jobs", tag = "purge", params(ListJobs),
    responses((status = 200, body = Vec<PurgeJob>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_jobs(
    State(s): State<AppState>,
    auth: Staff<{ Role::Eraser as u8 }>,
    ApiQuery(q): ApiQuery<ListJobs>,
) -> Result<Json<Vec<PurgeJob>>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let jobs = op(&s, &auth.acting(), move |st, a| ops::jobs(st, a, limit)).await?;
    Ok(Json(jobs.into_iter().map(PurgeJob::from).collect()))
}

/// Outcome page parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobParams {
    /// Outcomes after this user ID (from `next_after`).
    pub after: Option<String>,
    /// Outcomes per page (default 1000, at most 10000).
    pub limit: Option<u32>,
}

/// A purge job: state, progress, and per-person outcomes.
#[utoipa::path(get, path = "/api/v1/purge-jobs/{id}", tag = "purge", params(("id" = i64, Path, description = "Job number"), JobParams),
    responses((status = 200, body = JobDetail), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_job(
    State(s): State<AppState>,
    auth: Staff<{ Role::Eraser as u8 }>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<JobParams>,
) -> Result<Json<JobDetail>, ApiError> {
    let after = q.after.as_deref().map(|v| query_user_id("after", v)).transpose()?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let (job, outcomes) = op(&s, &auth.acting(), move |st, a| ops::job_outcomes(st, a, id, after, limit)).await?;
    let next_after = match outcomes.last() {
        Some(o) if outcomes.len() == limit as usize => Some(o.user_id.to_string()),
        _ => None,
    };
    Ok(Json(JobDetail {
        job: job.into(),
        outcomes: outcomes.into_iter().map(PurgeOutcome::from).collect(),
        next_after,
    }))
}

/// Refused: a purge job cannot be aborted.
#[utoipa::path(post, path = "/api/v1/purge-jobs/{id}/cancel", tag = "purge", params(("id" = i64, Path, description = "Job number")),
    responses((status = 409, description = "Always: purge jobs run to completion", body = Problem),
        (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn cancel_job(
    State(s): State<AppState>,
    auth: Staff<{ Role::Eraser as u8 }>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    op(&s, &auth.acting(), move |st, a| ops::cancel(st, a, id)).await?;
    Err(ApiError::internal())
}

/// Deleted-people search parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeletedParams {
    /// ID, family-name prefix, email prefix (text with an `@`), employee number, or card UID (empty: everyone deleted).
    #[serde(default)]
    pub q: String,
    /// Deleted at or after (RFC 3339 or YYYY-MM-DD).
    pub deleted_from: Option<String>,
    /// Deleted before (RFC 3339 or YYYY-MM-DD).
    pub deleted_to: Option<String>,
    /// Organisational unit (a scoped operator sees only theirs).
    pub org_unit: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// Deleted people (restorable, not yet expunged): what the erase flow chooses from.
#[utoipa::path(get, path = "/api/v1/users/deleted", tag = "purge", params(DeletedParams),
    responses((status = 200, body = Vec<UserSummary>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_deleted(
    State(s): State<AppState>,
    auth: Staff<{ Role::Eraser as u8 }>,
    ApiQuery(q): ApiQuery<DeletedParams>,
) -> Result<Json<Vec<UserSummary>>, ApiError> {
    let from = Timestamp::parse_opt("deleted_from", q.deleted_from.as_deref())?;
    let to = Timestamp::parse_opt("deleted_to", q.deleted_to.as_deref())?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let found = op(&s, &auth.acting(), move |st, a| ops::deleted(st, a, &q.q, from, to, q.org_unit, limit)).await?;
    Ok(Json(found.into_iter().map(UserSummary::from).collect()))
}

/// The people to erase.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    /// User IDs (1 to 1000): naming them is the confirmation.
    pub ids: Vec<String>,
}

/// Erase (expunge) chosen deleted people, each on its own: the answer lists who was erased and who was not, with reasons.
#[utoipa::path(post, path = "/api/v1/users/erase", tag = "purge", request_body = EraseBody,
    responses((status = 200, body = EraseReport), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn erase_users(
    State(s): State<AppState>,
    auth: Staff<{ Role::Eraser as u8 }>,
    ApiJson(b): ApiJson<EraseBody>,
) -> Result<Json<EraseReport>, ApiError> {
    if b.ids.is_empty() || b.ids.len() > 1000 {
        return Err(
            DomainError::InvalidInput { field: "ids", message: "name between 1 and 1000 user IDs".into() }.into()
        );
    }
    // Every ID must parse before anything is erased; a bad one is named by position, never echoed.
    let mut ids = Vec::with_capacity(b.ids.len());
    for (i, raw) in b.ids.iter().enumerate() {
        let id = raw.parse::<UserId>().map_err(|_| {
            ApiError::from(DomainError::InvalidInput { field: "ids", message: format!("entry {i} is not a user ID") })
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let report = op(&s, &auth.acting(), move |st, a| ops::erase(st, a, &ids)).await?;
    if !report.erased.is_empty() {
        s.jobs.scrub_soon();
    }
    Ok(Json(report.into()))
}

/// Which people a bulk purge-date change applies to.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeopleQueryBody {
    /// Group.
    pub group: Option<String>,
    /// Record type.
    pub record_type: Option<String>,
    /// `active`, `suspended` or `deleted`.
    pub state: Option<String>,
    /// Deleted before this time (RFC 3339 or YYYY-MM-DD).
    pub deleted_before: Option<String>,
    /// Organisational unit (forced for a scoped operator).
    pub org_unit: Option<String>,
}

/// A bulk purge-date change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeDateBody {
    /// The new purge date (YYYY-MM-DD), or `null` to clear it.
    pub purge_date: Option<String>,
    /// Whom it applies to (at least one filter).
    pub query: PeopleQueryBody,
}

/// Set or clear the purge date of everyone matching a query (never the expunged), audited as one action with the count.
#[utoipa::path(post, path = "/api/v1/users/purge-date", tag = "purge", request_body = PurgeDateBody,
    responses((status = 200, body = Count), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn set_purge_dates(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiJson(b): ApiJson<PurgeDateBody>,
) -> Result<Json<Count>, ApiError> {
    let date = b.purge_date.as_deref().map(|d| parse_date("purge_date", d)).transpose()?;
    let query = people_query(b.query)?;
    let count = op(&s, &auth.acting(), move |st, a| ops::set_purge_dates(st, a, query, date)).await?;
    Ok(Json(Count { count }))
}

/// Whom a bulk purge-date change applies to, as sent (the web UI's
/// "Update users in bulk" form reads its filters through this too).
pub fn people_query(q: PeopleQueryBody) -> Result<PeopleQuery, ApiError> {
    let state = q
        .state
        .as_deref()
        .map(|v| {
            UserState::from_name(v).ok_or(DomainError::InvalidInput {
                field: "query.state",
                message: "must be active, suspended or deleted".into(),
            })
        })
        .transpose()?;
    Ok(PeopleQuery {
        group: q.group,
        record_type: q.record_type,
        state,
        deleted_before: Timestamp::parse_opt("query.deleted_before", q.deleted_before.as_deref())?,
        org_unit: q.org_unit,
    })
}

redacted_debug!(DeletedParams);
