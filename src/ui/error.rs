//! `UiError`: what a page answers when it cannot show what was asked — the
//! error page (HTML, as `ApiError` is problem+json), or the way to the
//! sign-in page.

use axum::http::header::{self, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

use crate::api::error::{ApiError, Refused};
use crate::ui::Hx;
use crate::ui::session::SIGN_IN;

/// Why a page was not shown.
#[derive(Debug)]
pub enum UiError {
    /// No live session: to the sign-in page.
    SignIn {
        /// The request came from htmx (answered with `HX-Redirect`).
        htmx: bool,
    },
    /// An error page.
    Page {
        /// HTTP status.
        status: StatusCode,
        /// The stable code.
        code: &'static str,
        /// Plain words (never personal data: IDs, states, codes only).
        detail: String,
        /// Audited in counted batches (a refusal no store operation audited).
        refused: Option<Refused>,
    },
}

impl UiError {
    /// To the sign-in page.
    #[must_use]
    pub fn sign_in(hx: Hx) -> Self {
        Self::SignIn { htmx: hx.partial }
    }

    /// 403 with `code`.
    #[must_use]
    pub fn forbidden(code: &'static str, detail: &str) -> Self {
        Self::Page { status: StatusCode::FORBIDDEN, code, detail: detail.into(), refused: None }
    }

    /// 400: a request no page of ours sends.
    #[must_use]
    pub fn bad_request() -> Self {
        Self::Page {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_input",
            detail: "The request could not be read.".into(),
            refused: None,
        }
    }

    /// 404.
    #[must_use]
    pub fn not_found() -> Self {
        Self::Page {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            detail: "There is no such page.".into(),
            refused: None,
        }
    }

    /// 500.
    #[must_use]
    pub fn internal() -> Self {
        Self::Page {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            detail: "Something went wrong on the server; it is in the service's log.".into(),
            refused: None,
        }
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        let refused = e.refused_actor.map(|actor| Refused { actor, code: e.code });
        Self::Page { status: e.status, code: e.code, detail: e.detail, refused }
    }
}

/// The error page.
#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    code: &'a str,
    detail: &'a str,
}

impl std::fmt::Debug for ErrorPage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorPage").field("code", &self.code).finish_non_exhaustive()
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn { htmx: true } => {
                ([(HeaderName::from_static("hx-redirect"), HeaderValue::from_static(SIGN_IN))]).into_response()
            }
            Self::SignIn { htmx: false } => {
                (StatusCode::SEE_OTHER, [(header::LOCATION, HeaderValue::from_static(SIGN_IN))]).into_response()
            }
            Self::Page { status, code, detail, refused } => {
                let title = status.canonical_reason().unwrap_or("Error");
                let page = ErrorPage { title, code, detail: &detail };
                let body = askama::Template::render(&page).unwrap_or_else(|_| title.to_string());
                let mut res = (status, Html(body)).into_response();
                if let Some(r) = refused {
                    res.extensions_mut().insert(r);
                }
                res
            }
        }
    }
}

use axum::http::HeaderName;

/// The UI's fallback: an HTML 404 page.
pub async fn not_found(_: Uri) -> UiError {
    UiError::not_found()
}
