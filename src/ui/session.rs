//! The session cookie, the signed-in operator of a request, signing in and
//! out.
//!
//! The cookie holds the session's random secret and nothing else:
//! `__Host-idms_session` with `Secure` when the service serves HTTPS, else
//! `idms_session` (a `__Host-` cookie must be `Secure`); always `HttpOnly`,
//! `SameSite=Strict`, `Path=/`. It has no `Max-Age`: the server enforces the
//! idle and absolute limits, and the cookie ends with the browser.

use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::AppState;
use crate::api::auth::Client;
use crate::api::staff::password_login;
use crate::ops;
use crate::ui::csrf::{Posted, check_origin};
use crate::ui::error::UiError;
use crate::ui::{Hx, html};

pub use crate::ops::sessions::Session;

/// Where the sign-in page is.
pub const SIGN_IN: &str = "/ui/sign-in";

/// The cookie's name.
#[must_use]
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-idms_session" } else { "idms_session" }
}

fn cookie(secure: bool, value: &str, extra: &str) -> HeaderValue {
    let s = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict{}{extra}",
        cookie_name(secure),
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(""))
}

/// `Set-Cookie` for a new session's secret.
#[must_use]
pub fn set_cookie(secure: bool, secret: &str) -> HeaderValue {
    cookie(secure, secret, "")
}

/// `Set-Cookie` that removes the cookie.
#[must_use]
pub fn clear_cookie(secure: bool) -> HeaderValue {
    cookie(secure, "", "; Max-Age=0")
}

/// The session cookie's value, if the request has a plausible one.
fn read_cookie<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The session secret a request's cookie carries, if plausible (for a live
/// stream's rechecks: `ops::sessions::still_live`).
#[must_use]
pub fn secret(s: &AppState, h: &HeaderMap) -> Option<String> {
    read_cookie(h, cookie_name(s.https())).map(str::to_owned)
}

impl Session {
    /// The live session of a request, if it has one.
    pub async fn find(s: &AppState, parts: &Parts) -> Result<Option<Self>, UiError> {
        let Some(secret) = read_cookie(&parts.headers, cookie_name(s.https())).map(str::to_owned) else {
            return Ok(None);
        };
        Ok(crate::api::blocking(s, move |st| ops::sessions::resume(st, &secret).map_err(ops::OpsError::into_store))
            .await?)
    }
}

/// The signed-in operator: an extractor. Without a live session the
/// request goes to the sign-in page (htmx: `HX-Redirect`, since a redirect
/// inside its request would swap the sign-in page into a part of the page).
impl FromRequestParts<AppState> for Session {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, UiError> {
        Self::find(s, parts).await?.ok_or_else(|| UiError::sign_in(Hx::of(&parts.headers)))
    }
}

/// The sign-in page.
#[derive(askama::Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    /// What went wrong, in plain words.
    pub problem: Option<&'static str>,
    /// The name typed (shown again after a refusal).
    pub name: String,
}

impl std::fmt::Debug for SignInPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInPage").field("problem", &self.problem).finish_non_exhaustive()
    }
}

fn sign_in_form(status: StatusCode, problem: Option<&'static str>, name: String) -> Result<Response, UiError> {
    let page = SignInPage { problem, name };
    Ok((status, html(&page)?).into_response())
}

/// `GET /ui/sign-in`.
pub async fn sign_in_page() -> Result<Response, UiError> {
    sign_in_form(StatusCode::OK, None, String::new())
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    /// Operator name.
    #[serde(default)]
    pub name: String,
    /// Password.
    #[serde(default)]
    pub password: String,
}

impl std::fmt::Debug for SignInForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Holds a password: never printed.
        f.debug_struct("SignInForm").finish_non_exhaustive()
    }
}

/// `POST /ui/sign-in`: the same password check and limits as
/// `POST /api/v1/login`; on success a session cookie and the people search.
/// Only the `Origin` is checked (no session yet, so no token): a foreign
/// site cannot sign a browser in to an account of its choosing.
pub async fn sign_in(
    State(s): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Result<Response, UiError> {
    check_origin(&headers, &s)?;
    let (name, password) = (f.name.clone(), f.password);
    let limits = s.session_limits();
    let typed = f.name;
    let outcome = password_login(&s, client, &typed, "POST /ui/sign-in", move |st| {
        ops::sessions::sign_in(st, &name, &password, limits).map_err(ops::OpsError::into_store)
    })
    .await;
    match outcome {
        Ok(new) => Ok((
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, HeaderValue::from_static("/ui/people")),
                (header::SET_COOKIE, set_cookie(s.https(), &new.secret)),
            ],
        )
            .into_response()),
        Err(e) => {
            let (status, words) = match e.code {
                "invalid_credentials" => (StatusCode::UNAUTHORIZED, "Unknown operator or wrong password."),
                "too_many_attempts" => {
                    (StatusCode::TOO_MANY_REQUESTS, "Too many failed attempts. Wait a little, then try again.")
                }
                "busy" => (StatusCode::SERVICE_UNAVAILABLE, "Too many sign-ins in progress. Try again in a second."),
                _ => return Err(e.into()),
            };
            let mut res = sign_in_form(status, Some(words), typed)?;
            if let Some(secs) = e.retry_after {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Ok(res)
        }
    }
}

/// `POST /ui/sign-out` (a form in every page's header; never a GET link):
/// ends the session in the store, then clears the cookie.
pub async fn sign_out(State(s): State<AppState>, p: Posted) -> Result<Response, UiError> {
    let id = p.session.id;
    crate::api::op(&s, &p.session.acting, move |st, a| ops::sessions::sign_out(st, a, id)).await?;
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, HeaderValue::from_static(SIGN_IN)), (header::SET_COOKIE, clear_cookie(s.https()))],
    )
        .into_response())
}
