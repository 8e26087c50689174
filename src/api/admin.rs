//! The admin API: operators, door controllers and their tokens — giving
//! access and taking it away. Admin only (`Staff<Admin>` refuses other
//! roles before the body is read); the rules are in `ops::access`.
//!
//! A disable, a revocation, a rotation with `now` or a password change
//! reaches the store's token set before it is answered, so what it ends is
//! refused from the next request.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::{Auth, Staff};
use crate::api::dto::{
    ControllerCreated, ControllerView, Operator, OperatorView, PasswordSet, Revoked, Rotated, TokenView,
};
use crate::api::error::{ApiError, ApiJson, ApiPath, ApiQuery, Problem};
use crate::api::{AppState, op};
use crate::ops::access::{self, RevokeTarget};
use crate::store::Role;
use crate::store::auth::TokenFilter;

/// A new operator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOperator {
    /// Login name (letters, digits, `-_.@:`).
    pub name: String,
    /// `viewer`, `enroller`, `manager`, `eraser` or `admin`.
    pub role: String,
    /// Restrict to people of this unit (trimmed; blank is refused).
    pub org_unit: Option<String>,
    /// At least 10 characters.
    pub password: String,
}

/// Add an operator who logs in with a password (admin).
#[utoipa::path(post, path = "/api/v1/operators", tag = "admin", request_body = NewOperator,
    responses((status = 201, body = Operator), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_operator(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiJson(b): ApiJson<NewOperator>,
) -> Result<(StatusCode, Json<Operator>), ApiError> {
    let op = op(&s, &auth.acting(), move |st, a| {
        access::add_operator(st, a, &b.name, &b.role, b.org_unit.as_deref(), &b.password)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(op.into())))
}

/// A new door controller.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewController {
    /// Name.
    pub name: String,
    /// The doors it controls (at least one).
    pub doors: Vec<String>,
}

/// Add a door controller (admin).
#[utoipa::path(post, path = "/api/v1/controllers", tag = "admin", request_body = NewController,
    responses((status = 201, body = ControllerCreated), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_controller(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiJson(b): ApiJson<NewController>,
) -> Result<(StatusCode, Json<ControllerCreated>), ApiError> {
    let (c, token) = op(&s, &auth.acting(), move |st, a| access::add_controller(st, a, &b.name, &b.doors)).await?;
    Ok((StatusCode::CREATED, Json(ControllerCreated::from((c, token)))))
}

/// Every operator, enabled or disabled (admin).
#[utoipa::path(get, path = "/api/v1/operators", tag = "admin",
    responses((status = 200, body = Vec<OperatorView>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_operators(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
) -> Result<Json<Vec<OperatorView>>, ApiError> {
    let ops = op(&s, &auth.acting(), access::list_operators).await?;
    Ok(Json(ops.into_iter().map(OperatorView::from).collect()))
}

/// Disable an operator: all their tokens are refused and they cannot log
/// in until enabled; nothing is revoked (admin). The last enabled admin
/// without an org unit cannot be disabled: 409 `last_admin`.
#[utoipa::path(post, path = "/api/v1/operators/{name}/disable", tag = "admin",
    params(("name" = String, Path, description = "Login name")),
    responses((status = 200, body = OperatorView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn disable_operator(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<OperatorView>, ApiError> {
    let op = op(&s, &auth.acting(), move |st, a| access::disable_operator(st, a, &name)).await?;
    Ok(Json(op.into()))
}

/// Enable an operator: their unrevoked, unexpired tokens work again (admin).
#[utoipa::path(post, path = "/api/v1/operators/{name}/enable", tag = "admin",
    params(("name" = String, Path, description = "Login name")),
    responses((status = 200, body = OperatorView), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn enable_operator(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<OperatorView>, ApiError> {
    let op = op(&s, &auth.acting(), move |st, a| access::enable_operator(st, a, &name)).await?;
    Ok(Json(op.into()))
}

/// A new password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// At least 10 characters.
    pub password: String,
}

impl std::fmt::Debug for PasswordBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Holds a password: never printed.
        f.debug_struct("PasswordBody").finish_non_exhaustive()
    }
}

/// Set an operator's password; their password sessions end (tokens from
/// `token create` stay) (admin).
#[utoipa::path(put, path = "/api/v1/operators/{name}/password", tag = "admin",
    params(("name" = String, Path, description = "Login name")), request_body = PasswordBody,
    responses((status = 200, body = PasswordSet), (status = 400, body = Problem), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn set_password(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiPath(name): ApiPath<String>,
    ApiJson(b): ApiJson<PasswordBody>,
) -> Result<Json<PasswordSet>, ApiError> {
    let (op, ended) = op(&s, &auth.acting(), move |st, a| access::set_password(st, a, &name, &b.password)).await?;
    Ok(Json(PasswordSet { operator: op.into(), sessions_ended: ended }))
}

/// Revoke every unrevoked token of an operator, sessions included (admin).
#[utoipa::path(post, path = "/api/v1/operators/{name}/tokens/revoke", tag = "admin",
    params(("name" = String, Path, description = "Login name")),
    responses((status = 200, body = Revoked), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke_operator_tokens(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Revoked>, ApiError> {
    revoke(s, auth.into_auth(), RevokeTarget::Operator(name)).await
}

async fn revoke(s: AppState, auth: Auth, target: RevokeTarget) -> Result<Json<Revoked>, ApiError> {
    let n = op(&s, &auth.acting(), move |st, a| access::revoke_tokens(st, a, &target)).await?;
    Ok(Json(Revoked { revoked: n }))
}

/// Every door controller, enabled or disabled, with its last contact and
/// measured clock skew (admin).
#[utoipa::path(get, path = "/api/v1/controllers", tag = "admin",
    responses((status = 200, body = Vec<ControllerView>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_controllers(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
) -> Result<Json<Vec<ControllerView>>, ApiError> {
    let state = s.clone();
    let cs = op(&s, &auth.acting(), move |st, a| access::list_controllers_with_contact(st, a, &state.events)).await?;
    Ok(Json(cs.into_iter().map(|(c, contact)| ControllerView::from(c).with_contact(contact.as_ref())).collect()))
}

/// Disable a controller: all its tokens are refused until enabled (admin).
#[utoipa::path(post, path = "/api/v1/controllers/{id}/disable", tag = "admin",
    params(("id" = i64, Path, description = "Controller ID")),
    responses((status = 200, body = ControllerView), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn disable_controller(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ControllerView>, ApiError> {
    let c = op(&s, &auth.acting(), move |st, a| access::disable_controller(st, a, id)).await?;
    Ok(Json(c.into()))
}

/// Enable a controller: its unrevoked, unexpired tokens work again (admin).
#[utoipa::path(post, path = "/api/v1/controllers/{id}/enable", tag = "admin",
    params(("id" = i64, Path, description = "Controller ID")),
    responses((status = 200, body = ControllerView), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn enable_controller(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ControllerView>, ApiError> {
    let c = op(&s, &auth.acting(), move |st, a| access::enable_controller(st, a, id)).await?;
    Ok(Json(c.into()))
}

/// How long the old token keeps working.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// Seconds the old tokens keep working (default 86400, at most 30 days).
    pub overlap_seconds: Option<i64>,
    /// `true`: revoke the old tokens now (a compromised token).
    #[serde(default)]
    pub now: bool,
}

/// Issue a controller a new token (shown once). The old ones keep working
/// for `overlap_seconds` (default 24 h) so it can be re-provisioned without
/// going dark, or are revoked at once with `"now": true` (admin).
#[utoipa::path(post, path = "/api/v1/controllers/{id}/rotate-token", tag = "admin",
    params(("id" = i64, Path, description = "Controller ID")), request_body = RotateBody,
    responses((status = 200, body = Rotated), (status = 400, body = Problem), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn rotate_controller_token(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<RotateBody>,
) -> Result<Json<Rotated>, ApiError> {
    let r = op(&s, &auth.acting(), move |st, a| access::rotate_controller_token(st, a, id, b.now, b.overlap_seconds))
        .await?;
    Ok(Json(Rotated::from(r)))
}

/// Revoke every unrevoked token of a controller (admin).
#[utoipa::path(post, path = "/api/v1/controllers/{id}/tokens/revoke", tag = "admin",
    params(("id" = i64, Path, description = "Controller ID")),
    responses((status = 200, body = Revoked), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke_controller_tokens(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Revoked>, ApiError> {
    revoke(s, auth.into_auth(), RevokeTarget::Controller(id)).await
}

/// Which tokens to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TokenParams {
    /// Only this operator's (login name).
    pub operator: Option<String>,
    /// Only this controller's.
    pub controller: Option<i64>,
    /// `true`: hide revoked and expired tokens.
    pub active: Option<bool>,
    /// Only tokens with a larger ID (paging).
    pub after: Option<i64>,
    /// At most this many (default 1000, at most 10000).
    pub limit: Option<u32>,
}

/// Tokens by ID, oldest first (admin).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "admin", params(TokenParams),
    responses((status = 200, body = Vec<TokenView>), (status = 400, body = Problem), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_tokens(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiQuery(q): ApiQuery<TokenParams>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let filter = TokenFilter {
        operator: q.operator,
        controller: q.controller,
        active: q.active.unwrap_or(false),
        after: q.after,
        limit: q.limit.unwrap_or(1000).clamp(1, 10_000),
    };
    let ts = op(&s, &auth.acting(), move |st, a| access::list_tokens(st, a, &filter)).await?;
    Ok(Json(ts.into_iter().map(TokenView::from).collect()))
}

/// Revoke one token by its ID, no secret needed (admin).
#[utoipa::path(post, path = "/api/v1/tokens/{id}/revoke", tag = "admin",
    params(("id" = i64, Path, description = "Token ID")),
    responses((status = 200, body = Revoked), (status = 404, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke_token(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Revoked>, ApiError> {
    revoke(s, auth.into_auth(), RevokeTarget::Id(id)).await
}

impl std::fmt::Debug for NewOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Holds a password or a token: never printed.
        f.debug_struct("NewOperator").finish_non_exhaustive()
    }
}
