//! **Quarantined uploads**: the events door controllers uploaded that were
//! refused or conflicted with a stored one, each as the controller sent it
//! (shown as text: a controller can send anything), with why, oldest
//! first, a page at a time (`next_after`), of one controller or all —
//! through `ops::events::quarantine`, which holds who may read it
//! (managers and above without an org unit) and audits every read.

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::api::{AppState, op};
use crate::ops;
use crate::ui::error::UiError;
use crate::ui::events::{answer, filtered, some};
use crate::ui::session::Session;
use crate::ui::time::Shown;
use crate::ui::{Hx, Nav, html};

/// Where the page lives.
pub const HERE: &str = "/ui/events/quarantine";

/// Entries per page.
pub const PAGE_ENTRIES: usize = 50;

/// The page's query string.
#[derive(Debug, Deserialize, Default)]
pub struct QuarantineParams {
    /// Only this controller (its ID).
    #[serde(default)]
    pub controller: String,
    /// The cursor: the previous page's `next_after`.
    #[serde(default)]
    pub after: String,
}

/// A quarantined event as shown. It holds what a controller sent — which
/// may name a person's card — so it is never printed by `Debug`.
pub struct QuarantineLine {
    /// When its upload arrived.
    pub received: Shown,
    /// The controller that sent it.
    pub controller: i64,
    /// Its index in that upload.
    pub index: i64,
    /// `rejected` or `conflict`.
    pub status: String,
    /// Why (a stable code).
    pub code: String,
    /// The field at fault ("" when none).
    pub field: String,
    /// Its event ID ("" when it had no readable one).
    pub event_id: String,
    /// The event as sent (compact JSON).
    pub event: String,
}

redacted_debug!(QuarantineLine);

/// The Quarantined uploads page (for htmx, only the entries).
#[derive(askama::Template)]
#[template(path = "quarantine.html", blocks = ["entries"])]
pub struct QuarantinePage {
    /// The header.
    pub nav: Nav,
    /// The controller as typed.
    pub controller: String,
    /// The entries of this page.
    pub rows: Vec<QuarantineLine>,
    /// Not the first page.
    pub paged: bool,
    /// The cursor of the next page, when there is one.
    pub next: Option<i64>,
    /// Why the filter was refused (the parameter named, its value never echoed).
    pub problem: Option<String>,
}

redacted_debug!(QuarantinePage);

/// `GET /ui/events/quarantine?controller=…&after=…`.
pub async fn page(
    State(s): State<AppState>,
    session: Session,
    hx: Hx,
    Query(p): Query<QuarantineParams>,
) -> Result<Response, UiError> {
    let path = s.events.path().to_path_buf();
    let (controller, after) = (some(&p.controller), some(&p.after));
    let limit = PAGE_ENTRIES.to_string();
    let (list, problem, refused) = filtered(
        op(&s, &session.acting, move |st, a| {
            ops::events::quarantine(st, &path, a, controller.as_deref(), after.as_deref(), Some(&limit))
        })
        .await,
    )?;
    let rows = list
        .entries
        .into_iter()
        .map(|q| QuarantineLine {
            received: Shown(q.received_at),
            controller: q.controller,
            index: q.position,
            status: q.status,
            code: q.code,
            field: q.field.unwrap_or_default(),
            event_id: q.event_id.unwrap_or_default(),
            event: q.event,
        })
        .collect();
    let page = QuarantinePage {
        nav: Nav::new(&session, crate::ui::events::HERE),
        paged: some(&p.after).is_some(),
        controller: p.controller,
        rows,
        next: list.next_after,
        problem,
    };
    let problem = page.problem.is_some();
    let body = if hx.partial { html(&page.as_entries())? } else { html(&page)? };
    Ok(answer(body, problem, refused))
}
