//! The staff API: people, cards, audit and statistics. Handlers parse,
//! check the caller's role and scope, call one store operation, and map
//! the result; the rules live in `domain/` and `store/`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::{Auth, Client, Staff};
use crate::api::dto::{
    AuditEntry, AuditReport, CredentialRecord, CredentialSummary, ExpungePreview, Stats, TokenResponse, UserRecord,
    UserSummary,
};
use crate::api::error::{ApiError, ApiJson, ApiPath, ApiQuery, Problem, query_user_id};
use crate::api::{AppState, audited, blocking, op};
use crate::domain::purge::minor_from_units;
use crate::domain::time::parse_date;
use crate::domain::{CredentialState, DomainError, LifecycleAction, RetireReason, Technology, Timestamp, Uid, UserId};
use crate::ops;
use crate::ops::credentials::{self as cards, CardAction};
use crate::ops::users;
use crate::store::auth::LoginRefused;
use crate::store::{AuditQuery, Role, UserPatch};

/// `Some(None)` for an explicit `null`, `None` when absent.
fn double<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn user_id(s: &str) -> Result<UserId, ApiError> {
    Ok(s.parse::<UserId>()?)
}

/// A new person.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Email.
    pub email: Option<String>,
    /// Employee number.
    pub employee_no: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Organisational unit (forced to the caller's unit for a scoped operator).
    pub org_unit: Option<String>,
    /// Valid from (inclusive), RFC 3339 or YYYY-MM-DD.
    pub valid_from: Option<String>,
    /// Valid to (exclusive), RFC 3339 or YYYY-MM-DD.
    pub valid_to: Option<String>,
    /// Purge date, YYYY-MM-DD.
    pub purge_date: Option<String>,
    /// Legal hold (manager and above).
    #[serde(default)]
    pub legal_hold: bool,
    /// Record type (e.g. `staff`, `contractor`, `visitor`).
    pub record_type: Option<String>,
    /// User group.
    pub group: Option<String>,
    /// Amount owed, in the office's currency (at most two decimals; default 0).
    pub balance: Option<f64>,
    /// Keys, equipment or cards not handed back (default 0).
    pub unreturned_items: Option<u32>,
}

/// A change to a person: absent leaves a field alone, `null` clears it.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUser {
    /// Given name (cannot be cleared).
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub given_name: Option<Option<String>>,
    /// Family name (cannot be cleared).
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub family_name: Option<Option<String>>,
    /// Email.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// Employee number.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub employee_no: Option<Option<String>>,
    /// Phone.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// Notes.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    /// Organisational unit.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub org_unit: Option<Option<String>>,
    /// Valid from.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub valid_from: Option<Option<String>>,
    /// Valid to.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub valid_to: Option<Option<String>>,
    /// Purge date.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub purge_date: Option<Option<String>>,
    /// Legal hold.
    pub legal_hold: Option<bool>,
    /// Record type.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub record_type: Option<Option<String>>,
    /// User group.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub group: Option<Option<String>>,
    /// Amount owed (at most two decimals).
    pub balance: Option<f64>,
    /// Items not handed back.
    pub unreturned_items: Option<u32>,
    /// `null` removes the identity-directory link.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub directory_id: Option<Option<String>>,
}

/// Search parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListUsers {
    /// ID, family-name prefix, email prefix (text with an `@`), employee number, or card UID. Empty lists everyone.
    #[serde(default)]
    pub q: String,
    /// Include deleted and expunged people.
    #[serde(default)]
    pub all: bool,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
}

/// Search people.
#[utoipa::path(get, path = "/api/v1/users", tag = "people", params(ListUsers),
    responses((status = 200, body = Vec<UserSummary>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_users(
    State(s): State<AppState>,
    auth: Staff<{ Role::Viewer as u8 }>,
    ApiQuery(q): ApiQuery<ListUsers>,
) -> Result<Json<Vec<UserSummary>>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let found = op(&s, &auth.acting(), move |st, a| users::search(st, a, &q.q, q.all, limit)).await?;
    Ok(Json(found.into_iter().map(UserSummary::from).collect()))
}

/// Add a person.
#[utoipa::path(post, path = "/api/v1/users", tag = "people", request_body = CreateUser,
    responses((status = 201, body = UserRecord), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_user(
    State(s): State<AppState>,
    auth: Staff<{ Role::Enroller as u8 }>,
    ApiJson(b): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserRecord>), ApiError> {
    let new = users::NewUserForm {
        given_name: b.given_name,
        family_name: b.family_name,
        email: b.email,
        phone: b.phone,
        employee_no: b.employee_no,
        notes: b.notes,
        org_unit: b.org_unit,
        valid_from: b.valid_from,
        valid_to: b.valid_to,
        purge_date: b.purge_date,
        legal_hold: b.legal_hold,
        record_type: b.record_type,
        group: b.group,
        balance: b.balance,
        unreturned_items: b.unreturned_items,
    }
    .parse()?;
    let u = op(&s, &auth.acting(), move |st, a| users::create(st, a, new)).await?;
    Ok((StatusCode::CREATED, Json(u.into())))
}

/// One person (the tombstone once expunged).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "people", params(("id" = String, Path, description = "User ID")),
    responses((status = 200, body = UserRecord), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_user(
    State(s): State<AppState>,
    auth: Staff<{ Role::Viewer as u8 }>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UserRecord>, ApiError> {
    let id = user_id(&id)?;
    Ok(Json(op(&s, &auth.acting(), move |st, a| users::get(st, a, id)).await?.into()))
}

/// Edit a person.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "people", params(("id" = String, Path, description = "User ID")),
    request_body = PatchUser,
    responses((status = 200, body = UserRecord), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn patch_user(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<PatchUser>,
) -> Result<Json<UserRecord>, ApiError> {
    let id = user_id(&id)?;
    let ts2 = |f: &'static str, v: Option<Option<String>>| -> Result<Option<Option<Timestamp>>, DomainError> {
        v.map(|o| Timestamp::parse_opt(f, o.as_deref())).transpose()
    };
    let required = |field: &'static str, v: Option<Option<String>>| match v {
        Some(None) => Err(ApiError::from(DomainError::InvalidInput { field, message: "cannot be cleared".into() })),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    };
    let patch = UserPatch {
        given_name: required("given_name", b.given_name)?,
        family_name: required("family_name", b.family_name)?,
        email: b.email,
        phone: b.phone,
        employee_no: b.employee_no,
        notes: b.notes,
        org_unit: b.org_unit,
        directory_id: b.directory_id,
        valid_from: ts2("valid_from", b.valid_from)?,
        valid_to: ts2("valid_to", b.valid_to)?,
        purge_date: b.purge_date.map(|o| o.map(|d| parse_date("purge_date", &d)).transpose()).transpose()?,
        legal_hold: b.legal_hold,
        record_type: b.record_type,
        group: b.group,
        balance: b.balance.map(|v| minor_from_units("balance", v)).transpose()?,
        unreturned_items: b.unreturned_items,
    };
    Ok(Json(op(&s, &auth.acting(), move |st, a| users::update(st, a, id, patch)).await?.into()))
}

async fn lifecycle(s: AppState, auth: Auth, id: String, action: LifecycleAction) -> Result<Json<UserRecord>, ApiError> {
    let name = action.audit_name();
    let id = audited(&s, &auth, name, id.parse::<UserId>()).await?;
    Ok(Json(op(&s, &auth.acting(), move |st, a| users::lifecycle(st, a, id, action)).await?.into()))
}

/// Suspend a person: their cards stop granting.
#[utoipa::path(post, path = "/api/v1/users/{id}/suspend", tag = "lifecycle", params(("id" = String, Path, description = "User ID")),
    responses((status = 200, body = UserRecord), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn suspend_user(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UserRecord>, ApiError> {
    lifecycle(s, auth.into_auth(), id, LifecycleAction::Suspend).await
}

/// Resume a suspended person.
#[utoipa::path(post, path = "/api/v1/users/{id}/resume", tag = "lifecycle", params(("id" = String, Path, description = "User ID")),
    responses((status = 200, body = UserRecord), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn resume_user(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UserRecord>, ApiError> {
    lifecycle(s, auth.into_auth(), id, LifecycleAction::Resume).await
}

/// Delete a person (restorable); their cards stop granting and stay theirs.
#[utoipa::path(post, path = "/api/v1/users/{id}/delete", tag = "lifecycle", params(("id" = String, Path, description = "User ID")),
    responses((status = 200, body = UserRecord), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete_user(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UserRecord>, ApiError> {
    lifecycle(s, auth.into_auth(), id, LifecycleAction::Delete).await
}

/// Restore a deleted person to the state they had.
#[utoipa::path(post, path = "/api/v1/users/{id}/restore", tag = "lifecycle", params(("id" = String, Path, description = "User ID")),
    responses((status = 200, body = UserRecord), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn restore_user(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UserRecord>, ApiError> {
    lifecycle(s, auth.into_auth(), id, LifecycleAction::Restore).await
}

/// Preview an expunge.
#[utoipa::path(get, path = "/api/v1/users/{id}/expunge-preview", tag = "lifecycle", params(("id" = String, Path, description = "User ID")),
    responses((status = 200, body = ExpungePreview), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn expunge_preview(
    State(s): State<AppState>,
    auth: Staff<{ Role::Eraser as u8 }>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ExpungePreview>, ApiError> {
    let id = user_id(&id)?;
    Ok(Json(op(&s, &auth.acting(), move |st, a| users::expunge_preview(st, a, id)).await?.into()))
}

/// Expunge confirmation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpungeBody {
    /// Must repeat the user ID.
    pub confirm: String,
}

/// Expunge a deleted person: personal data destroyed for good, cards freed.
#[utoipa::path(post, path = "/api/v1/users/{id}/expunge", tag = "lifecycle", params(("id" = String, Path, description = "User ID")),
    request_body = ExpungeBody,
    responses((status = 200, body = UserRecord), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn expunge_user(
    State(s): State<AppState>,
    auth: Staff<{ Role::Eraser as u8 }>,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<ExpungeBody>,
) -> Result<Json<UserRecord>, ApiError> {
    let id = audited(&s, &auth, "user.expunge", id.parse::<UserId>()).await?;
    Ok(Json(op(&s, &auth.acting(), move |st, a| users::expunge(st, a, id, &b.confirm)).await?.into()))
}

/// Enrol (or recycle) a card.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollBody {
    /// The UID in hex (`04A1B2C3`, `04:a1:b2:c3`, `04 A1 B2 C3`).
    pub uid: String,
    /// `iso14443a` (default), `em4100` or `other`.
    pub technology: Option<String>,
    /// The person.
    pub user_id: String,
}

/// Bind a card to a person: a new card, or one in stock (recycling).
#[utoipa::path(post, path = "/api/v1/credentials", tag = "cards", request_body = EnrollBody,
    responses((status = 201, body = CredentialRecord), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_credential(
    State(s): State<AppState>,
    auth: Staff<{ Role::Enroller as u8 }>,
    ApiJson(b): ApiJson<EnrollBody>,
) -> Result<(StatusCode, Json<CredentialRecord>), ApiError> {
    let parsed = Technology::from_name(b.technology.as_deref().unwrap_or("iso14443a"))
        .and_then(|t| Ok((t, Uid::parse_for(t, &b.uid)?, b.user_id.parse::<UserId>()?)));
    let (tech, uid, user) = audited(&s, &auth, "credential.enroll", parsed).await?;
    let c = op(&s, &auth.acting(), move |st, a| cards::enroll(st, a, user, tech, &uid)).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// Card listing parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListCredentials {
    /// Only cards in this state (`in_stock` lists the cards ready to recycle).
    pub state: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// Cards, most recently changed first.
#[utoipa::path(get, path = "/api/v1/credentials", tag = "cards", params(ListCredentials),
    responses((status = 200, body = Vec<CredentialSummary>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_credentials(
    State(s): State<AppState>,
    auth: Staff<{ Role::Viewer as u8 }>,
    ApiQuery(q): ApiQuery<ListCredentials>,
) -> Result<Json<Vec<CredentialSummary>>, ApiError> {
    let state = match q.state.as_deref() {
        Some(st) => Some(CredentialState::from_name(st).ok_or_else(|| {
            ApiError::from(DomainError::InvalidInput {
                field: "state",
                message: "expected in_stock, issued, suspended, lost, stolen or destroyed".into(),
            })
        })?),
        None => None,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let found = op(&s, &auth.acting(), move |st, a| cards::list(st, a, state, limit)).await?;
    Ok(Json(found.into_iter().map(CredentialSummary::from).collect()))
}

/// Card look-up parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TechQuery {
    /// Technology, when the UID exists for several.
    pub technology: Option<String>,
}

fn tech(q: &TechQuery) -> Result<Option<Technology>, ApiError> {
    Ok(Technology::from_name_opt(q.technology.as_deref())?)
}

/// A card with its holder and binding history.
#[utoipa::path(get, path = "/api/v1/credentials/{uid}", tag = "cards", params(("uid" = String, Path, description = "UID in hex"), TechQuery),
    responses((status = 200, body = CredentialRecord), (status = 400, body = Problem), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_credential(
    State(s): State<AppState>,
    auth: Staff<{ Role::Viewer as u8 }>,
    ApiPath(uid): ApiPath<String>,
    ApiQuery(q): ApiQuery<TechQuery>,
) -> Result<Json<CredentialRecord>, ApiError> {
    let (t, uid) = (tech(&q)?, Uid::parse_any(&uid)?);
    Ok(Json(op(&s, &auth.acting(), move |st, a| cards::get(st, a, t, &uid)).await?.into()))
}

/// Why a card is retired.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// `lost`, `stolen` or `destroyed`.
    pub reason: String,
}

async fn card_action(
    s: AppState,
    auth: Auth,
    uid: String,
    q: TechQuery,
    action: CardAction,
) -> Result<Json<CredentialRecord>, ApiError> {
    let t = tech(&q)?;
    let uid = Uid::parse_any(&uid)?;
    Ok(Json(op(&s, &auth.acting(), move |st, a| cards::act(st, a, t, &uid, action)).await?.into()))
}

/// Retire a card for good: lost, stolen or destroyed.
#[utoipa::path(post, path = "/api/v1/credentials/{uid}/revoke", tag = "cards", params(("uid" = String, Path, description = "UID in hex"), TechQuery),
    request_body = RevokeBody,
    responses((status = 200, body = CredentialRecord), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke_credential(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiPath(uid): ApiPath<String>,
    ApiQuery(q): ApiQuery<TechQuery>,
    ApiJson(b): ApiJson<RevokeBody>,
) -> Result<Json<CredentialRecord>, ApiError> {
    let reason = RetireReason::from_name(&b.reason)?;
    card_action(s, auth.into_auth(), uid, q, CardAction::Revoke(reason)).await
}

/// Suspend a card (its holder keeps it).
#[utoipa::path(post, path = "/api/v1/credentials/{uid}/suspend", tag = "cards", params(("uid" = String, Path, description = "UID in hex"), TechQuery),
    responses((status = 200, body = CredentialRecord), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn suspend_credential(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiPath(uid): ApiPath<String>,
    ApiQuery(q): ApiQuery<TechQuery>,
) -> Result<Json<CredentialRecord>, ApiError> {
    card_action(s, auth.into_auth(), uid, q, CardAction::Suspend).await
}

/// Resume a suspended card.
#[utoipa::path(post, path = "/api/v1/credentials/{uid}/resume", tag = "cards", params(("uid" = String, Path, description = "UID in hex"), TechQuery),
    responses((status = 200, body = CredentialRecord), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn resume_credential(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiPath(uid): ApiPath<String>,
    ApiQuery(q): ApiQuery<TechQuery>,
) -> Result<Json<CredentialRecord>, ApiError> {
    card_action(s, auth.into_auth(), uid, q, CardAction::Resume).await
}

/// Audit filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Entries after this sequence number.
    pub since: Option<i64>,
    /// Only this actor (`operator:<id>`, `controller:<id>`, `cli`).
    pub actor: Option<String>,
    /// Only entries about this user.
    pub target: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// The audit trail, oldest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = Vec<AuditEntry>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_audit(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let q = AuditQuery {
        after_seq: p.since,
        actor: p.actor,
        target_user: p.target.as_deref().map(|t| query_user_id("target", t)).transpose()?,
        limit: Some(p.limit.unwrap_or(100).clamp(1, 1000)),
    };
    let entries = op(&s, &auth.acting(), move |st, a| ops::audit::entries(st, a, &q)).await?;
    Ok(Json(entries.into_iter().map(AuditEntry::from).collect()))
}

/// Audit verification parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VerifyParams {
    /// A head recorded earlier, `SEQ:HASH`: 409 `audit_head_missing` if the chain no longer holds it.
    pub expect: Option<String>,
}

/// Verify the audit hash chain; the answer names its head (`SEQ:HASH`) to record elsewhere.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", params(VerifyParams),
    responses((status = 200, body = AuditReport), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn verify_audit(
    State(s): State<AppState>,
    auth: Staff<{ Role::Manager as u8 }>,
    ApiQuery(p): ApiQuery<VerifyParams>,
) -> Result<Json<AuditReport>, ApiError> {
    let expect = p.expect.as_deref().map(crate::store::audit::AuditHead::parse).transpose()?;
    Ok(Json(op(&s, &auth.acting(), move |st, a| ops::audit::verify(st, a, expect.as_ref())).await?.into()))
}

/// Counts per state (expunged included: statistics keep counting erased people).
#[utoipa::path(get, path = "/api/v1/stats", tag = "audit",
    responses((status = 200, body = Stats), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn stats(State(s): State<AppState>, auth: Staff<{ Role::Viewer as u8 }>) -> Result<Json<Stats>, ApiError> {
    Ok(Json(op(&s, &auth.acting(), ops::audit::stats).await?.into()))
}

/// Operator login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// Operator name.
    pub name: String,
    /// Password.
    pub password: String,
}

/// Log in with a password; returns a bearer token valid for 12 hours.
#[utoipa::path(post, path = "/api/v1/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 400, body = Problem),
        (status = 429, body = Problem, description = "too many failed attempts from this address or for this name, or a password check from this address already in flight; retry after `Retry-After` seconds")))]
pub async fn login(
    State(s): State<AppState>,
    client: Client,
    ApiJson(b): ApiJson<LoginBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    const TTL: i64 = 12 * 3600;
    let name = b.name.clone();
    let (op, token) =
        password_login(&s, client, &name, "POST /api/v1/login", move |st| st.login(&b.name, &b.password, TTL)).await?;
    Ok(Json(TokenResponse { token, role: op.role.into(), expires_in: TTL }))
}

/// A password check under the login limits, for `POST /api/v1/login` and
/// the web UI's sign-in alike: refused 429 `too_many_attempts` while the
/// client's address or the name typed is locked, or while this address has
/// a check in flight; 503 `busy` while [`AppState::logins`](super::Shared::logins)
/// has no slot; 401 `invalid_credentials` (counted against both keys and
/// audited in counted batches) when `check` refuses. `route` names the
/// attempt in the audit trail.
pub async fn password_login<T: Send + 'static>(
    s: &AppState,
    client: Client,
    name: &str,
    route: &str,
    check: impl FnOnce(&crate::store::Store) -> Result<Result<T, LoginRefused>, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let now = s.store.now();
    let t = &s.throttle;
    // The name as typed is a key of the per-name limit only: never logged or audited.
    let name: String = name.trim().chars().take(64).collect();
    let what = format!("{route} from {}", client.label());
    let locked =
        [client.0.and_then(|a| t.login_address.locked(&a, None, now)), t.login_name.locked(&name, client.0, now)];
    if let Some(secs) = locked.into_iter().flatten().max() {
        s.audit_failure("anonymous", what, "too_many_attempts");
        return Err(ApiError::too_many_attempts(secs));
    }
    // One password check in flight per address, so one client cannot hold every slot.
    let _slot = match client.0 {
        Some(a) => Some(t.logins_in_flight.enter(a).ok_or_else(|| {
            s.audit_failure("anonymous", what.clone(), "too_many_attempts");
            let mut e = ApiError::too_many_attempts(1);
            e.detail = "a login from this address is in progress; retry in a second".into();
            e
        })?),
        None => None,
    };
    let _permit = s.logins.try_acquire().map_err(|_| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "too many logins in progress; retry in a second")
    })?;
    match blocking(s, check).await? {
        Ok(v) => {
            // The address keeps its failures: one operator's own login must
            // not reset what the address tried against other names (they
            // are forgotten after quiet minutes).
            t.login_name.succeed(name, client.0, now);
            Ok(v)
        }
        Err(refused) => {
            if let Some(a) = client.0 {
                t.login_address.fail(a, now);
            }
            t.login_name.fail(name, now);
            s.audit_failure(refused.actor.id, what, "invalid_credentials");
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "unknown operator or wrong password"))
        }
    }
}

/// Revoke the token this request carries.
#[utoipa::path(post, path = "/api/v1/logout", tag = "auth",
    responses((status = 204), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn logout(State(s): State<AppState>, auth: Staff<{ Role::Viewer as u8 }>) -> Result<StatusCode, ApiError> {
    let hash = auth.1;
    op(&s, &auth.acting(), move |st, a| ops::audit::logout(st, a, &hash)).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Holds a password or a token: never printed.
        f.debug_struct("LoginBody").finish_non_exhaustive()
    }
}

redacted_debug!(CreateUser, PatchUser, ListUsers);
