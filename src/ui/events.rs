//! **Access events**: the door decisions (online and uploaded), filtered by
//! door, person (user ID), time range and decision (grant / deny), a page
//! at a time (the log's own cursor, `next_after`) — through
//! `ops::events::list`, which holds who may read them (managers and above;
//! a scoped operator sees only their unit's people) and audits every read.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::error::{ApiError, Refused};
use crate::api::{AppState, op};
use crate::ops;
use crate::ops::events::EventFilter;
use crate::ui::deleted::day;
use crate::ui::error::UiError;
use crate::ui::session::Session;
use crate::ui::{Hx, Nav, html};

/// Where the page lives.
pub const HERE: &str = "/ui/events";

/// Events per page.
pub const PAGE_EVENTS: usize = 50;

/// The page's query string.
#[derive(Deserialize, Default)]
pub struct EventsParams {
    /// Only this door.
    #[serde(default)]
    pub door: String,
    /// Only this person (user ID).
    #[serde(default)]
    pub user_id: String,
    /// On or after this day (`YYYY-MM-DD`).
    #[serde(default)]
    pub from: String,
    /// On or before this day (the whole day).
    #[serde(default)]
    pub to: String,
    /// `grant`, `deny`, or empty for both.
    #[serde(default)]
    pub decision: String,
    /// The cursor: the previous page's `next_after`.
    #[serde(default)]
    pub after: String,
}

redacted_debug!(EventsParams);

/// An event as shown.
pub struct EventLine {
    /// When (UTC).
    pub at: crate::ui::time::Shown,
    /// An upload the controller stamped ahead of the service's clock
    /// (`clock_ahead`; `at` is then its arrival): how far, in words, and
    /// the time it claimed.
    pub ahead: Option<(String, crate::ui::time::Shown)>,
    /// The door.
    pub door: String,
    /// The card's UID.
    pub uid: String,
    /// `grant` or `deny`.
    pub decision: &'static str,
    /// Why denied (a stable code), if so.
    pub reason: &'static str,
    /// The holder (user ID), if known.
    pub user: String,
    /// Decided by the service or offline by the controller.
    pub online: bool,
}

redacted_debug!(EventLine);

/// The Access events page (for htmx, only the events).
#[derive(askama::Template)]
#[template(path = "events.html", blocks = ["events"])]
pub struct EventsPage {
    /// The header.
    pub nav: Nav,
    /// The door as typed.
    pub door: String,
    /// The person as typed.
    pub user_id: String,
    /// From (date).
    pub from: String,
    /// To (date).
    pub to: String,
    /// The decision chosen.
    pub decision: String,
    /// The events of this page.
    pub rows: Vec<EventLine>,
    /// Not the first page.
    pub paged: bool,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
    /// Why the filters were refused (the parameter named, its value never echoed).
    pub problem: Option<String>,
    /// The caller may read Quarantined uploads (linked from here).
    pub quarantine: bool,
}

redacted_debug!(EventsPage);

/// A filter as typed, `None` when blank.
pub fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// `GET /ui/events?door=…&user_id=…&from=…&to=…&decision=…&after=…`.
pub async fn page(
    State(s): State<AppState>,
    session: Session,
    hx: Hx,
    Query(p): Query<EventsParams>,
) -> Result<Response, UiError> {
    // The day boxes: from its midnight to the end of the `to` day (UTC).
    let (from, to) = (day("from", &p.from, false)?, day("to", &p.to, true)?);
    let f = EventFilter {
        door: some(&p.door),
        user_id: some(&p.user_id),
        from: from.map(|t| t.to_string()),
        to: to.map(|t| t.to_string()),
        decision: some(&p.decision),
        after: some(&p.after),
        limit: Some(PAGE_EVENTS.to_string()),
        unknown: 0,
    };
    let path = s.events.path().to_path_buf();
    let (list, problem, refused) =
        filtered(op(&s, &session.acting, move |st, a| ops::events::list(st, &path, a, &f)).await)?;
    let rows =
        list.events
            .into_iter()
            .map(|e| EventLine {
                at: crate::ui::time::Shown(e.at),
                ahead: e.claimed_at.zip(e.clock_ahead_secs()).map(|(claimed, secs)| {
                    (crate::ui::time::span(secs.unsigned_abs()), crate::ui::time::Shown(claimed))
                }),
                door: e.door,
                uid: e.uid.to_string(),
                decision: e.decision.as_str(),
                reason: e.decision.reason().map(|r| r.code()).unwrap_or_default(),
                user: e.user_id.map(|u| u.to_string()).unwrap_or_default(),
                online: e.online,
            })
            .collect();
    let page = EventsPage {
        nav: Nav::new(&session, HERE),
        quarantine: ops::events::require_quarantine_reader(&session.acting).is_ok(),
        paged: some(&p.after).is_some(),
        door: p.door,
        user_id: p.user_id,
        from: p.from,
        to: p.to,
        decision: p.decision,
        rows,
        next: list.next_after,
        problem,
    };
    let problem = page.problem.is_some();
    let body = if hx.partial { html(&page.as_events())? } else { html(&page)? };
    Ok(answer(body, problem, refused))
}

/// A listing's outcome: a filter `ops` refuses (`400`) is shown next to the
/// filters, not as an error page — an empty listing, the refusal's words,
/// and the refusal to audit (as the API's would be). Other errors are the
/// error page.
pub fn filtered<T: Default>(r: Result<T, ApiError>) -> Result<(T, Option<String>, Option<Refused>), UiError> {
    match r {
        Ok(list) => Ok((list, None, None)),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let refused = e.refused_actor.map(|actor| Refused { actor, code: e.code });
            Ok((T::default(), Some(e.detail), refused))
        }
        Err(e) => Err(e.into()),
    }
}

/// A listing page's response: `422` when its filters were refused (the
/// refusal then audited), varying on `HX-Request` (a partial for htmx).
pub fn answer(body: axum::response::Html<String>, problem: bool, refused: Option<Refused>) -> Response {
    let status = if problem { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let mut res = (status, body).into_response();
    if let Some(r) = refused {
        res.extensions_mut().insert(r);
    }
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    res
}
