//! People from the directory, for staff: Refresh Org Info, CSV imports and
//! the directory runs' reports. (SCIM, for the directory itself, is
//! `/scim/v2`.)

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::auth::Staff;
use crate::api::dto::{DirectoryRun, UserRecord};
use crate::api::error::{ApiError, ApiJson, ApiPath, ApiQuery, Problem};
use crate::api::{AppState, audited, op};
use crate::domain::UserId;
use crate::ops::directory as ops;
use crate::store::Role;

/// Refresh Org Info: pull this person's entry from the LDAP directory now and apply it (an entry that is gone
/// suspends them, as a sync would).
#[utoipa::path(post, path = "/api/v1/users/{id}/refresh", tag = "directory", params(("id" = String, Path, description = "User ID")),
    responses((status = 200, body = UserRecord), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 503, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn refresh_user(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UserRecord>, ApiError> {
    let auth = auth.into_auth();
    let id = audited(&s, &auth, "user.refresh", id.parse::<UserId>()).await?;
    let puller = s.directory.get().cloned();
    let (u, _) = op(&s, &auth.acting(), move |st, a| ops::refresh(st, a, id, puller.as_deref())).await?;
    Ok(Json(u.into()))
}

/// A CSV file of people to import.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// The file's text (UTF-8, a header row; see `idms import csv --help` for the columns).
    pub csv: String,
    /// Show what would happen; change nothing, record nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Apply the valid rows even when some are refused (else one refused row applies none).
    #[serde(default)]
    pub partial: bool,
}

/// Import people from a CSV file (a manager without an org unit): each row created, updated, unchanged, skipped or
/// refused with line, column and code; one transaction, one audit entry.
#[utoipa::path(post, path = "/api/v1/directory/imports", tag = "directory", request_body = ImportBody,
    responses((status = 200, body = DirectoryRun), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem)),
    security(("bearer" = [])))]
pub async fn import_csv(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiJson(b): ApiJson<ImportBody>,
) -> Result<Json<DirectoryRun>, ApiError> {
    let r = op(&s, &auth.acting(), move |st, a| ops::import_csv(st, a, b.csv.as_bytes(), b.dry_run, b.partial, "api"))
        .await?;
    Ok(Json(r.into()))
}

/// How many runs.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListRuns {
    /// At most this many, newest first (default 50, at most 1000).
    pub limit: Option<u32>,
}

/// Directory runs (LDAP syncs and CSV imports), newest first, without their items. Kept a year.
#[utoipa::path(get, path = "/api/v1/directory/runs", tag = "directory", params(ListRuns),
    responses((status = 200, body = Vec<DirectoryRun>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_runs(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiQuery(q): ApiQuery<ListRuns>,
) -> Result<Json<Vec<DirectoryRun>>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let runs = op(&s, &auth.acting(), move |st, a| ops::runs(st, a, limit)).await?;
    Ok(Json(runs.into_iter().map(DirectoryRun::from).collect()))
}

/// One run's report: every person it created, changed, suspended, resumed, deleted, skipped or refused, with codes.
#[utoipa::path(get, path = "/api/v1/directory/runs/{id}", tag = "directory", params(("id" = i64, Path, description = "Run ID")),
    responses((status = 200, body = DirectoryRun), (status = 404, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_run(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DirectoryRun>, ApiError> {
    Ok(Json(op(&s, &auth.acting(), move |st, a| ops::run(st, a, id)).await?.into()))
}
