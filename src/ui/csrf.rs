//! CSRF: every state-changing request must come from this origin and carry
//! the session's token.
//!
//! - `Origin` must be the service's own (`http[s]://` + the request's
//!   `Host`); without `Origin`, `Sec-Fetch-Site` must say `same-origin`;
//!   with neither the request is refused.
//! - The token is the session's 32-byte CSRF secret in hex: the `csrf`
//!   field of a form (plain posts) or the `X-CSRF-Token` header (htmx sends
//!   it from `hx-headers` on `<body>`), compared in constant time.
//!
//! Both checks run before any rule-layer call, so a forged post changes
//! nothing. Refusals are 403 pages, audited in counted batches as
//! `api.refused` (`csrf_origin`, `csrf_token`).

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::header;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::AppState;
use crate::ui::error::UiError;
use crate::ui::session::Session;

/// Refused unless the request comes from this service's own origin.
pub fn check_origin(h: &HeaderMap, s: &AppState) -> Result<(), UiError> {
    let scheme = if s.https() { "https" } else { "http" };
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    let ok = match (h.get(header::ORIGIN).and_then(|v| v.to_str().ok()), host) {
        (Some(origin), Some(host)) => origin == format!("{scheme}://{host}"),
        (Some(_), None) => false,
        (None, _) => h.get("sec-fetch-site").is_some_and(|v| v == "same-origin"),
    };
    if ok {
        Ok(())
    } else {
        s.audit_failure("anonymous", "POST /ui (cross-origin)".into(), "csrf_origin");
        Err(UiError::forbidden("csrf_origin", "This request did not come from this site, so it was not carried out."))
    }
}

/// A state-changing request's form, accepted only with a live session, a
/// same-origin `Origin` and the session's CSRF token.
pub struct Posted {
    /// The signed-in operator.
    pub session: Session,
    /// The form's fields, in order (repeated keys kept).
    pub form: Vec<(String, String)>,
}

impl std::fmt::Debug for Posted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The form may hold personal data: never printed.
        f.debug_struct("Posted").field("session", &self.session.id).finish_non_exhaustive()
    }
}

impl FromRequest<AppState> for Posted {
    type Rejection = UiError;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, UiError> {
        let (mut parts, body) = req.into_parts();
        check_origin(&parts.headers, s)?;
        let session = Session::from_request_parts(&mut parts, s).await?;
        let header = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let Form(form) = Form::<Vec<(String, String)>>::from_request(Request::from_parts(parts, body), s)
            .await
            .map_err(|_| UiError::bad_request())?;
        let sent =
            header.or_else(|| form.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.clone())).unwrap_or_default();
        let want = hex::encode(session.csrf);
        if sent.len() != want.len() || !bool::from(sent.as_bytes().ct_eq(want.as_bytes())) {
            s.audit_failure(session.acting.actor().id, "POST /ui (no valid CSRF token)".into(), "csrf_token");
            return Err(UiError::forbidden(
                "csrf_token",
                "This form had expired or did not come from this site, so it was not carried out. Reload the page and try again.",
            ));
        }
        Ok(Self { session, form })
    }
}

/// A tag binding a notice's facts to the session whose post produced them.
/// A notice the store cannot bear out afterwards — how many people a bulk
/// update changed, which cards an expunge released, who an erase refused
/// and why — travels in the redirect's query with its seal, and is shown
/// only when the seal matches: a forged link (another session's, or made
/// up) cannot make a page say what did not happen.
#[must_use]
pub fn seal(session: &Session, facts: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"idms ui notice\0");
    h.update(session.csrf);
    h.update(facts.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Whether `tag` is the [`seal`] of `facts` for this session (compared in
/// constant time).
#[must_use]
pub fn sealed(session: &Session, facts: &str, tag: &str) -> bool {
    let want = seal(session, facts);
    tag.len() == want.len() && bool::from(tag.as_bytes().ct_eq(want.as_bytes()))
}
