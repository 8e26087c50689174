//! The web UI: server-rendered HTML for the badge office, a third front end
//! on the rule layer (`ops/`), beside the CLI and the JSON API.
//!
//! Pages authenticate (a session cookie, [`session`]), parse, call `ops`
//! with the acting operator and render an askama template (escaped by
//! default; no `|safe` on data). A request with `HX-Request` gets only the
//! part of the page htmx swaps; every page also works as a plain form
//! without htmx. State-changing requests carry the session's CSRF token and
//! a same-origin `Origin` ([`csrf`]). Every response carries the security
//! headers (the [`CSP`], `nosniff`, `Referrer-Policy: same-origin`, …).
//!
//! **Architecture invariant:** like `api/`, `ui/` decides no one's rights:
//! what the menu shows is asked of `ops` (`Acting::require`), and whatever
//! is posted, `ops` refuses what the role or scope does not allow.

pub mod admin;
pub mod assets;
pub mod audit;
pub mod cards;
pub mod csrf;
pub mod deleted;
pub mod directory;
pub mod enrol;
pub mod error;
pub mod events;
pub mod forms;
pub mod levels;
pub mod manage;
pub mod overview;
pub mod pages;
pub mod purge;
pub mod quarantine;
pub mod readers;
pub mod session;
pub mod time;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::api::AppState;
use crate::ops::Acting;
use crate::store::Role;
use error::UiError;

/// The Content-Security-Policy of every UI response: scripts, styles and
/// everything else from this origin only — no inline script or style, no
/// `eval` (htmx runs with `allowEval: false`), no framing, no `<base>`,
/// forms post only here.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; \
                       object-src 'none'";

/// The UI's routes as `/metrics` names them (keep in step with [`router`]).
pub const PATHS: &[&str] = &[
    "/",
    "/ui/sign-in",
    "/ui/sign-out",
    "/ui/people",
    "/ui/people/new",
    "/ui/people/{id}",
    "/ui/people/{id}/edit",
    "/ui/people/{id}/{action}",
    "/ui/people/{id}/access",
    "/ui/access/{kind}",
    "/ui/access/{kind}/{name}",
    "/ui/access/{kind}/{name}/{action}",
    "/ui/explain",
    "/ui/deleted",
    "/ui/deleted/erase",
    "/ui/overview",
    "/ui/audit",
    "/ui/admin",
    "/ui/admin/operators",
    "/ui/admin/controllers",
    "/ui/admin/{kind}/{id}/{action}",
    "/ui/events",
    "/ui/events/quarantine",
    "/ui/enrol",
    "/ui/cards",
    "/ui/cards/{uid}/{action}",
    "/ui/readers",
    "/ui/readers/events",
    "/ui/purge",
    "/ui/purge/add",
    "/ui/purge/jobs",
    "/ui/purge/jobs/{id}",
    "/ui/purge/jobs/{id}/progress",
    "/ui/purge/dates",
    "/ui/directory",
    "/ui/directory/import",
    "/ui/directory/runs/{id}",
    "/ui/assets/{file}",
];

/// The UI's routes, mounted under `/ui` by `api::router`.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/sign-out", post(session::sign_out))
        .route("/people", get(pages::people))
        .route("/people/new", get(forms::add_page).post(forms::add))
        .route("/people/{id}", get(pages::person))
        .route("/people/{id}/edit", get(forms::edit_page).post(forms::edit))
        .route("/people/{id}/{action}", get(manage::confirm_page).post(manage::act))
        .route("/people/{id}/access", post(levels::person_access))
        .route("/access/{kind}", get(levels::list).post(levels::add))
        .route("/access/{kind}/{name}", get(levels::item))
        .route("/access/{kind}/{name}/{action}", post(levels::act))
        .route("/explain", get(levels::explain))
        .route("/deleted", get(deleted::page))
        .route("/deleted/erase", get(deleted::confirm).post(deleted::erase))
        .route("/overview", get(overview::page))
        .route("/audit", get(audit::page))
        .route("/admin", get(admin::page))
        .route("/admin/operators", post(admin::add_operator))
        .route("/admin/controllers", post(admin::add_controller))
        .route("/admin/{kind}/{id}/{action}", get(admin::confirm).post(admin::act))
        .route("/events", get(events::page))
        .route("/events/quarantine", get(quarantine::page))
        .route("/enrol", get(enrol::page).post(enrol::confirm))
        .route("/cards", get(cards::page))
        .route("/cards/{uid}/{action}", get(cards::confirm_page).post(cards::act))
        .route("/readers", get(readers::page))
        .route("/readers/events", get(readers::events))
        .route("/purge", get(purge::page))
        .route("/purge/add", get(purge::add_page).post(purge::add))
        .route("/purge/jobs", post(purge::create))
        .route("/purge/jobs/{id}", get(purge::job))
        .route("/purge/jobs/{id}/progress", get(purge::progress))
        .route("/purge/dates", get(purge::dates_page).post(purge::set_dates))
        .route("/directory", get(directory::page))
        .route("/directory/import", post(directory::import))
        .route("/directory/runs/{id}", get(directory::run))
        .route("/assets/{file}", get(assets::serve))
        .fallback(error::not_found)
        .layer(middleware::from_fn_with_state(state, security_headers))
}

/// `/`: the people search when signed in, else the sign-in page.
pub async fn root(State(s): State<AppState>, parts: Parts) -> Response {
    let to = match session::Session::find(&s, &parts).await {
        Ok(Some(_)) => "/ui/people",
        _ => "/ui/sign-in",
    };
    let mut res = Redirect::to(to).into_response();
    add_security_headers(&s, &mut res);
    res
}

/// Adds the security headers to every UI response; pages and fragments
/// (which hold personal data) are never stored by caches — assets set
/// their own long-lived `Cache-Control`.
async fn security_headers(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    add_security_headers(&s, &mut res);
    res
}

fn add_security_headers(s: &AppState, res: &mut Response) {
    let h = res.headers_mut();
    let fixed: [(HeaderName, &str); 6] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=(), usb=(), serial=()"),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if s.https() {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
}

/// Renders a template, or the error page when it cannot be (logged without
/// the data).
pub fn html<T: askama::Template>(t: &T) -> Result<Html<String>, UiError> {
    t.render().map(Html).map_err(|e| {
        tracing::error!(error = %e, "template render failed");
        UiError::internal()
    })
}

/// Whether a request came from htmx and wants only the part it swaps (a
/// history restore or a boosted link wants the whole page).
#[derive(Debug, Clone, Copy)]
pub struct Hx {
    /// Answer the partial.
    pub partial: bool,
}

impl Hx {
    /// Of a request's headers.
    #[must_use]
    pub fn of(h: &axum::http::HeaderMap) -> Self {
        let yes = |n: &str| h.get(n).is_some_and(|v| v == "true");
        Self { partial: yes("hx-request") && !yes("hx-history-restore-request") && !yes("hx-boosted") }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Hx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.headers))
    }
}

/// A menu item.
#[derive(Debug, Clone)]
pub struct MenuItem {
    /// What staff see.
    pub label: &'static str,
    /// Where it goes.
    pub href: &'static str,
    /// The page being shown.
    pub current: bool,
}

/// The menu: each item with the least role its page needs. The UI asks
/// `ops` whether the caller has it; the page's own operations are refused
/// by `ops` anyway.
/// Deleted Users needs what `ops::purge::deleted` needs; Purge User
/// Records what `ops::purge::jobs` needs; Cards and Readers what
/// `ops::credentials::list` and `ops::readers::list` need; Overview what
/// `ops::audit::stats` needs; Audit what `ops::audit::entries` needs;
/// Access control what `ops::levels::doors` needs;
/// Access events what `ops::events::list` needs; Directory what
/// `ops::directory::runs` needs; Administration what
/// `ops::access` needs.
const MENU: &[(&str, &str, Role)] = &[
    ("People", "/ui/people", Role::Viewer),
    ("Cards", cards::HERE, Role::Viewer),
    ("Readers", readers::HERE, Role::Viewer),
    ("Deleted Users", deleted::HERE, Role::Eraser),
    ("Purge User Records", purge::HERE, Role::Eraser),
    ("Access control", levels::HERE, Role::Viewer),
    ("Overview", overview::HERE, Role::Viewer),
    ("Access events", events::HERE, Role::Manager),
    ("Audit", audit::HERE, Role::Manager),
    ("Directory", directory::HERE, Role::Manager),
    ("Administration", admin::HERE, Role::Admin),
];

/// Pages whose `ops` also refuse an operator held to an org unit (they
/// span every unit): `ops::audit::entries` and `ops::access`.
const UNSCOPED_ONLY: &[&str] = &[audit::HERE, admin::HERE];

/// The header of every signed-in page: who, the menu their role allows,
/// and the CSRF token for the Sign out form and htmx requests.
#[derive(Clone)]
pub struct Nav {
    /// The operator's name.
    pub name: String,
    /// The operator's role.
    pub role: &'static str,
    /// The menu.
    pub menu: Vec<MenuItem>,
    /// The session's CSRF token (hex).
    pub csrf: String,
}

impl std::fmt::Debug for Nav {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nav").field("role", &self.role).finish_non_exhaustive()
    }
}

impl Nav {
    /// The header for `session`, on the page at `here`.
    #[must_use]
    pub fn new(session: &session::Session, here: &str) -> Self {
        let (name, role) = match &session.acting {
            Acting::Operator(o) => (o.name.clone(), o.role.as_str()),
            _ => (String::new(), ""),
        };
        let unscoped = session.acting.require_unscoped().is_ok();
        let menu = MENU
            .iter()
            .filter(|(_, _, min)| session.acting.require(*min).is_ok())
            .filter(|(_, href, _)| unscoped || !UNSCOPED_ONLY.contains(href))
            .map(|(label, href, _)| MenuItem { label, href, current: *href == here })
            .collect();
        Self { name, role, menu, csrf: hex::encode(session.csrf) }
    }
}
