//! Card routes on the rule layer (`ops::credentials`): listing and resolving
//! twins. Handlers authenticate, parse, call and render; the role and
//! scope checks are the rule layer's.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::auth::Staff;
use crate::api::dto::{CredentialRecord, Twin};
use crate::api::error::{ApiError, ApiPath, ApiQuery, Problem};
use crate::api::{AppState, audited, op};
use crate::domain::{DomainError, Technology, Uid};
use crate::ops;
use crate::store::Role;

/// Twins: credentials whose UID bytes are bound to different people under
/// different technologies (left by databases from before that was
/// refused). Doors deny them `credential_ambiguous` until one is unbound.
/// Admins without an org unit only.
#[utoipa::path(get, path = "/api/v1/credentials/twins", tag = "cards",
    responses((status = 200, body = Vec<Twin>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_twins(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
) -> Result<Json<Vec<Twin>>, ApiError> {
    let twins = op(&s, &auth.acting(), ops::credentials::twins).await?;
    Ok(Json(twins.into_iter().map(Twin::from).collect()))
}

/// Which credential of the twin to unbind.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UnbindQuery {
    /// The technology of the credential to unbind (required: a twin has several).
    pub technology: Option<String>,
}

/// Resolve a twin: unbind this credential from its holder and retire it as
/// `destroyed` (it never grants, is never recycled). Only for twins (409
/// `not_a_twin` otherwise); audited. Admins without an org unit only.
#[utoipa::path(post, path = "/api/v1/credentials/{uid}/unbind", tag = "cards",
    params(("uid" = String, Path, description = "UID in hex"), UnbindQuery),
    responses((status = 200, body = CredentialRecord), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn unbind(
    State(s): State<AppState>,
    auth: Staff<{ Role::Admin as u8 }>,
    ApiPath(uid): ApiPath<String>,
    ApiQuery(q): ApiQuery<UnbindQuery>,
) -> Result<Json<CredentialRecord>, ApiError> {
    let parsed = match q.technology.as_deref() {
        Some(t) => Technology::from_name(t),
        None => Err(DomainError::InvalidInput {
            field: "technology",
            message: "name the technology of the credential to unbind (a twin has several)".into(),
        }),
    }
    .and_then(|t| Ok((t, Uid::parse_for(t, &uid)?)));
    let (technology, uid) = audited(&s, &auth, "credential.unbind", parsed).await?;
    Ok(Json(op(&s, &auth.acting(), move |st, a| ops::credentials::unbind(st, a, technology, &uid)).await?.into()))
}
