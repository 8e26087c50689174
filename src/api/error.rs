//! Errors as RFC 9457 `application/problem+json` with a stable `code`.
//!
//! Every 4xx and 5xx the API sends goes through [`ApiError`]: refusals of
//! the domain, malformed bodies, unknown routes, oversize bodies. Bodies
//! never carry internal detail; that is logged instead.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::domain::DomainError;
use crate::ops::OpsError;
use crate::store::StoreError;

/// A problem to report to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// A sentence a person can act on.
    pub detail: String,
    /// Set when an authenticated caller was refused before any store
    /// operation could audit it (role, door or org-unit checks): who.
    pub refused_actor: Option<String>,
    /// Seconds for `Retry-After` (a 503 without it says 1).
    pub retry_after: Option<u64>,
}

/// Carried on a refusal's response so the HTTP layer audits it.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The audit actor.
    pub actor: String,
    /// The refusal's code.
    pub code: &'static str,
}

pub use super::dto::Problem;

impl ApiError {
    /// A problem with this status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), refused_actor: None, retry_after: None }
    }

    /// 401: no usable token.
    #[must_use]
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a valid, unexpired bearer token in the Authorization header",
        )
    }

    /// 429: too many failed attempts from this client or for this name;
    /// `secs` until the next one is heard.
    #[must_use]
    pub fn too_many_attempts(secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!("too many failed attempts; retry in {secs} s"),
        );
        e.retry_after = Some(secs.max(1));
        e
    }

    /// Marks this refusal for the audit trail, as refused to `actor`.
    #[must_use]
    pub fn refused_to(mut self, actor: &crate::store::Actor) -> Self {
        self.refused_actor = Some(actor.id.clone());
        self
    }

    /// 503 `event_log_unavailable`: the decision's access event could not
    /// be written (the event log's disk is failing); retry in a second.
    #[must_use]
    pub fn event_log_unavailable(detail: &'static str) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "event_log_unavailable", detail);
        e.retry_after = Some(1);
        e
    }

    /// 503: the access-event queue is full.
    #[must_use]
    pub fn queue_full() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "queue_full", "too many decisions in flight; retry in a second")
    }

    /// 500, details logged by the caller.
    #[must_use]
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the service log")
    }
}

/// The status of a domain refusal: one arm per variant, so a new refusal
/// does not compile until it has its status.
fn domain_status(e: &DomainError) -> StatusCode {
    match e {
        DomainError::NotFound { .. }
        | DomainError::InvalidUserId
        | DomainError::UnknownOperator
        | DomainError::UnknownDoor { .. } => StatusCode::NOT_FOUND,
        DomainError::CredentialHeld { .. }
        | DomainError::CredentialHeldElsewhere { .. }
        | DomainError::CredentialRetired { .. }
        | DomainError::CredentialNotIssued { .. }
        | DomainError::HolderNotDeleted { .. }
        | DomainError::AlreadyExpunged { .. }
        | DomainError::InvalidTransition { .. }
        | DomainError::CannotReceive { .. }
        | DomainError::LegalHold { .. }
        | DomainError::DirectoryLinked { .. }
        | DomainError::DirectorySuspended { .. }
        | DomainError::NotDirectoryLinked { .. }
        | DomainError::DirectoryPullUnavailable { .. }
        | DomainError::EmployeeNoTaken
        | DomainError::MassVanish { .. }
        | DomainError::UserNameTaken
        | DomainError::DirectoryIdTaken
        | DomainError::JobNotAbortable { .. }
        | DomainError::LastAdmin { .. }
        | DomainError::Disabled { .. }
        | DomainError::NotATwin { .. }
        | DomainError::AuditHeadMissing { .. }
        | DomainError::InUse { .. }
        | DomainError::NameTaken { .. } => StatusCode::CONFLICT,
        DomainError::Forbidden { .. } => StatusCode::FORBIDDEN,
        DomainError::VersionMismatch { .. } => StatusCode::PRECONDITION_FAILED,
        DomainError::ExpungeNotConfirmed { .. }
        | DomainError::NotConfirmed { .. }
        | DomainError::InvalidUid { .. }
        | DomainError::UidOddDigits { .. }
        | DomainError::UidWrongLength { .. }
        | DomainError::RandomUid { .. }
        | DomainError::UidAmbiguous { .. }
        | DomainError::InvalidInput { .. }
        | DomainError::InvalidQuery { .. } => StatusCode::BAD_REQUEST,
    }
}

/// The status of a store error, by variant (see [`domain_status`]).
fn store_status(e: &StoreError) -> StatusCode {
    match e {
        StoreError::Domain(d) => domain_status(d),
        StoreError::Busy | StoreError::ErasurePending | StoreError::Device { .. } => StatusCode::SERVICE_UNAVAILABLE,
        StoreError::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        StoreError::Database
        | StoreError::NotInitialised(_)
        | StoreError::SchemaTooNew { .. }
        | StoreError::Corrupt(_)
        | StoreError::AuditBroken { .. }
        | StoreError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// A rule-layer error: a refusal no store operation audited is marked
    /// for the refusal auditor as refused to `actor`.
    #[must_use]
    pub fn from_ops(e: OpsError, actor: &crate::store::Actor) -> Self {
        match e {
            OpsError::Refused(d) => Self::from(d).refused_to(actor),
            OpsError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = e.code();
        let status = store_status(&e);
        if status.is_server_error() {
            tracing::error!(code, "request failed: {e}");
            let detail = match e {
                StoreError::Busy | StoreError::ErasurePending | StoreError::Device { .. } | StoreError::StorageFull => {
                    e.to_string()
                }
                _ => Self::internal().detail,
            };
            return Self::new(status, code, detail);
        }
        Self::new(status, code, e.to_string())
    }
}

impl From<crate::domain::DomainError> for ApiError {
    fn from(e: crate::domain::DomainError) -> Self {
        StoreError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let refused = self.refused_actor.map(|actor| Refused { actor, code: self.code });
        let title = self.status.canonical_reason().unwrap_or("Error").to_string();
        let body = Problem {
            kind: format!("urn:idms:problem:{}", self.code),
            title,
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_string(),
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §11.6.1: a 401 names the scheme that would do.
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(r) = refused {
            res.extensions_mut().insert(r);
        }
        res
    }
}

/// `Json<T>` for a JSON object, whose rejections are problems.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json") || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        // `Bytes` honours the body limit; parsing the slice directly is
        // cheaper than axum's path-tracking `Json` on the door path.
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the body is larger than this route accepts ({} bytes; {} for offline-event uploads)",
                    super::MAX_BODY,
                    super::MAX_UPLOAD_BODY
                ),
            )
        })?;
        let malformed = || ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", "the body is not valid JSON");
        // Every body is a JSON object; serde would also fill a struct from
        // an array (`[1]` as `{"overlap_seconds": 1}`).
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                Ok(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", "the body is not a JSON object"),
                Err(_) => malformed(),
            });
        }
        serde_json::from_slice(&bytes).map(Self).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => data_error::<T>(&bytes),
            _ => malformed(),
        })
    }
}

/// Names the field that does not fit, without repeating its value (serde's
/// own message quotes it, and it may be a name). Parsing again with path
/// tracking costs only on this error path.
fn data_error<T: DeserializeOwned>(bytes: &[u8]) -> ApiError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let (path, what) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(_) => (String::new(), "does not fit".to_string()),
        Err(e) => {
            let msg = e.inner().to_string();
            let mut path = e.path().to_string();
            let what = if let Some(rest) = msg.strip_prefix("missing field `") {
                // The path names the enclosing object; the missing name is one of our own fields.
                let name = rest.split('`').next().unwrap_or_default();
                path = if path.is_empty() || path == "." { name.to_string() } else { format!("{path}.{name}") };
                "is missing".to_string()
            } else if msg.starts_with("unknown field") {
                "is not a known field".to_string()
            } else {
                format!("has the wrong type or an invalid value: expected {}", expects(&msg))
            };
            (path, what)
        }
    };
    let path = if path.is_empty() || path == "." { "the body".to_string() } else { format!("field `{path}`") };
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", format!("{path} {what}"))
}

/// What a deserializer's message says the value should have been, in
/// words a client can act on — never the value itself (serde quotes it,
/// and it may be a name) nor serde's own wording.
fn expects(msg: &str) -> String {
    // serde_json appends the position; it says nothing about the field.
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    if ["invalid digit", "number too large", "number too small", "cannot parse integer"].iter().any(|m| msg.contains(m))
    {
        return "a whole number".into();
    }
    if msg.contains("invalid float literal") {
        return "a number".into();
    }
    if msg.contains("`true` or `false`") {
        return "`true` or `false`".into();
    }
    let Some((_, want)) = msg.rsplit_once("expected ") else { return "a value of another type".into() };
    match want.trim() {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "a list".into(),
        "a map" => "an object".into(),
        w if w.starts_with("struct ") => "an object".into(),
        w => w.to_string(),
    }
}

/// A query string that does not fit its parameters, as axum reports it
/// (`Failed to deserialize query string: PATH: MESSAGE`), told as the
/// parameter and what it expects.
fn query_problem(text: &str) -> String {
    let inner = text.split_once(": ").map_or("", |(_, rest)| rest);
    // serde_path_to_error puts the parameter first, unless it is unknown.
    let (field, msg) = match inner.split_once(": ") {
        Some((f, m)) if !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c)) => {
            (Some(f), m)
        }
        _ => (None, inner),
    };
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return format!("query parameter `{name}` is missing");
    }
    if msg.starts_with("unknown field") {
        let known = msg.rsplit_once("expected ").map_or_else(String::new, |(_, k)| format!("; expected {k}"));
        return format!("a query parameter is not one this route knows{known}");
    }
    match field {
        Some(f) => format!("query parameter `{f}`: expected {}", expects(msg)),
        None => format!("the query string does not fit: expected {}", expects(msg)),
    }
}

/// A user ID given as a query parameter (a filter, a page position): a
/// malformed one is 400 `invalid_query` naming the parameter — not the
/// 404 of an ID in the path, which names a resource.
pub fn query_user_id(field: &'static str, v: &str) -> Result<crate::domain::UserId, ApiError> {
    v.parse().map_err(|_| {
        DomainError::InvalidQuery { field, message: "not a user ID (12 characters of 0-9 and A-Z)" }.into()
    })
}

/// `Query<T>` whose rejections are problems.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| Self(q.0)).map_err(
            |e: QueryRejection| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", query_problem(&e.body_text())),
        )
    }
}

/// `Path<T>` whose rejections are problems.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|p| Self(p.0)).map_err(
            |e: PathRejection| {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no such resource: {}", e.body_text()))
            },
        )
    }
}
