//! The SCIM error response (RFC 7644 §3.12): `schemas` holds the Error
//! message URN, `status` is the HTTP status as a *string*, `scimType` one of
//! the RFC's keywords for a 400 (and 409, 413), `detail` a sentence.
//!
//! Details are written by this crate, never copied from the request: they
//! name attribute paths and positions, not values (a value is usually a
//! person's name or address).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The `scimType` keywords of RFC 7644 Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    /// The filter syntax was invalid or the filter names an operator that
    /// does not apply to the attribute.
    InvalidFilter,
    /// The filter yields more results than the server will return.
    TooMany,
    /// A value is already held where it must be unique.
    Uniqueness,
    /// The modification is not compatible with the attribute's mutability.
    Mutability,
    /// The request body is not a valid SCIM message.
    InvalidSyntax,
    /// The `path` is malformed or names no attribute of the schema.
    InvalidPath,
    /// The `path` matched nothing (a value filter selected no value).
    NoTarget,
    /// A value is missing or of the wrong type.
    InvalidValue,
    /// The requested protocol version is not supported.
    InvalidVers,
    /// The request would put sensitive data in a URI.
    Sensitive,
}

impl ScimType {
    /// The keyword as the RFC spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
            Self::Sensitive => "sensitive",
        }
    }
}

/// A SCIM error: the status, the optional `scimType`, a detail sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    /// HTTP status.
    pub status: StatusCode,
    /// The RFC keyword, for the 400s (and 409 `uniqueness`, 413 `tooMany`).
    pub scim_type: Option<ScimType>,
    /// What went wrong, with no value from the request in it.
    pub detail: String,
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.scim_type {
            Some(t) => write!(f, "{} {}: {}", self.status.as_u16(), t.as_str(), self.detail),
            None => write!(f, "{}: {}", self.status.as_u16(), self.detail),
        }
    }
}

impl std::error::Error for ScimError {}

impl ScimError {
    /// An error with this status, keyword and detail.
    pub fn new(status: StatusCode, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self { status, scim_type, detail: detail.into() }
    }

    /// 400 with a keyword.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    /// 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }

    /// 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }

    /// 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::NoTarget, detail)
    }

    /// 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }

    /// 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }

    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }

    /// 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some(ScimType::Uniqueness), detail)
    }

    /// 400 `tooMany` (RFC 7644 §3.4.2.4 puts it under 400).
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::TooMany, detail)
    }

    /// 401: no usable bearer token.
    #[must_use]
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, None, "send a valid bearer token in the Authorization header")
    }

    /// 403: the token's role may not use SCIM.
    #[must_use]
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, None, "this token's role may not use the SCIM service")
    }

    /// 404: no such resource.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    /// 405: the endpoint does not take this method.
    #[must_use]
    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, None, "this endpoint does not take this method")
    }

    /// 412: `If-Match` names another version.
    #[must_use]
    pub fn precondition_failed() -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, None, "the resource has changed since the version named in If-Match")
    }

    /// 413: the body is larger than `maxPayloadSize`.
    #[must_use]
    pub fn payload_too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, None, "the request body is larger than maxPayloadSize")
    }

    /// 501: a feature the ServiceProviderConfig says is not supported.
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, None, detail)
    }

    /// 500: logged by the caller; the body says nothing more.
    #[must_use]
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error")
    }

    /// A stable code for the audit trail and the logs: the `scimType` in
    /// snake case (`invalid_filter`, `uniqueness`, …), else one for the
    /// status (`not_found`, `precondition_failed`, …).
    #[must_use]
    pub fn code(&self) -> &'static str {
        if let Some(t) = self.scim_type {
            return match t {
                ScimType::InvalidFilter => "invalid_filter",
                ScimType::TooMany => "too_many",
                ScimType::Uniqueness => "uniqueness",
                ScimType::Mutability => "mutability",
                ScimType::InvalidSyntax => "invalid_syntax",
                ScimType::InvalidPath => "invalid_path",
                ScimType::NoTarget => "no_target",
                ScimType::InvalidValue => "invalid_value",
                ScimType::InvalidVers => "invalid_vers",
                ScimType::Sensitive => "sensitive",
            };
        }
        match self.status.as_u16() {
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            409 => "conflict",
            412 => "precondition_failed",
            413 => "payload_too_large",
            501 => "not_implemented",
            s if s >= 500 => "internal",
            _ => "bad_request",
        }
    }

    /// The body of RFC 7644 §3.12.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [super::ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), Value::String(t.as_str().into()));
        }
        body
    }
}

/// A JSON body answered as `application/scim+json`.
#[derive(Debug, Clone)]
pub struct ScimJson(pub StatusCode, pub Value);

impl IntoResponse for ScimJson {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.1).unwrap_or_default();
        let mut res = (self.0, body).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(super::CONTENT_TYPE));
        res
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut res = ScimJson(self.status, self.to_json()).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_status_as_string_and_scim_type() {
        let body = ScimError::invalid_filter("unexpected end at 7").to_json();
        assert_eq!(body["schemas"], json!([crate::scim::ERROR_SCHEMA]));
        assert_eq!(body["status"], json!("400"));
        assert_eq!(body["scimType"], json!("invalidFilter"));
        assert_eq!(body["detail"], json!("unexpected end at 7"));
    }

    #[test]
    fn body_without_scim_type_leaves_it_out() {
        let body = ScimError::not_found("no such User").to_json();
        assert_eq!(body["status"], json!("404"));
        assert!(body.get("scimType").is_none());
        assert_eq!(ScimError::uniqueness("x").status, StatusCode::CONFLICT);
        assert_eq!(ScimError::precondition_failed().status.as_u16(), 412);
        assert_eq!(ScimError::precondition_failed().code(), "precondition_failed");
        assert_eq!(ScimError::invalid_filter("x").code(), "invalid_filter");
        assert_eq!(ScimError::uniqueness("x").code(), "uniqueness");
        assert_eq!(ScimError::not_found("x").code(), "not_found");
        assert_eq!(ScimError::internal().code(), "internal");
    }

    #[tokio::test]
    async fn response_is_scim_json_with_the_status() {
        use http_body_util::BodyExt;
        let res = ScimError::mutability("id is readOnly").into_response();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/scim+json");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["scimType"], "mutability");
        assert_eq!(v["status"], "400");
        let res = ScimError::unauthorized().into_response();
        assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
