//! Reading the access-event log: `GET /api/v1/access/events`.
//!
//! The handler authenticates, reads the query string, calls
//! [`crate::ops::events::list`] (which holds the role, scope and filter
//! rules and audits the read) and renders the page.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::api::AppState;
use crate::api::auth::Auth;
use crate::api::error::{ApiError, ApiQuery, Problem};
use crate::api::op;
use crate::ops::events::EventFilter;
use crate::store::AccessEvent;

/// Filters, all optional. Times are half-open (`from` inclusive, `to`
/// exclusive), RFC 3339 or a date (its midnight UTC). This documents the
/// query; `filter` reads it, refusing unknown or repeated parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Only this door (exact).
    pub door: Option<String>,
    /// Only this holder's events.
    pub user_id: Option<String>,
    /// At or after this time.
    pub from: Option<String>,
    /// Before this time.
    pub to: Option<String>,
    /// `grant`, `deny`, or a deny reason (e.g. `expired`).
    pub decision: Option<String>,
    /// The `next_after` of the previous page (same filters).
    pub after: Option<String>,
    /// Events per page: 1 to 1000 (default 100).
    pub limit: Option<String>,
}

/// One access decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// When it was decided (RFC 3339, UTC).
    pub at: String,
    /// The door.
    pub door: String,
    /// `grant` or `deny`.
    pub decision: &'static str,
    /// The deny reason (`null` on grant).
    pub reason: Option<&'static str>,
    /// The card's holder then (`null`: unknown or ambiguous card).
    pub user_id: Option<String>,
    /// The UID presented, hex.
    pub uid: String,
    /// The technology, when the reader knew it.
    pub technology: Option<&'static str>,
    /// The controller that asked or decided (`null`: the service's own reader).
    pub controller: Option<i64>,
    /// `online` (decided by the service) or `offline` (by the controller, uploaded).
    pub source: &'static str,
    /// The controller's own ID of an offline event.
    pub event_id: Option<String>,
}

impl From<AccessEvent> for EventView {
    fn from(e: AccessEvent) -> Self {
        Self {
            at: e.at.to_rfc3339(),
            door: e.door,
            decision: e.decision.as_str(),
            reason: e.decision.reason().map(crate::domain::DenyReason::code),
            user_id: e.user_id.map(|u| u.to_string()),
            uid: e.uid.to_string(),
            technology: e.technology.map(crate::domain::Technology::as_str),
            controller: e.controller,
            source: if e.online { "online" } else { "offline" },
            event_id: e.event_id,
        }
    }
}

/// A page of access events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Oldest first (online and offline events merged by time).
    pub events: Vec<EventView>,
    /// Pass as `after`, with the same filters, for the next page; absent
    /// when nothing more matches now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

/// Maps the query string's pairs to filters; a parameter that is not one
/// of them, or is given twice, is counted (the rule layer refuses it after
/// the role check) and never echoed.
fn filter(pairs: Vec<(String, String)>) -> EventFilter {
    let mut f = EventFilter::default();
    for (k, v) in pairs {
        let slot = match k.as_str() {
            "door" => &mut f.door,
            "user_id" => &mut f.user_id,
            "from" => &mut f.from,
            "to" => &mut f.to,
            "decision" => &mut f.decision,
            "after" => &mut f.after,
            "limit" => &mut f.limit,
            _ => {
                f.unknown += 1;
                continue;
            }
        };
        if slot.is_some() {
            f.unknown += 1;
        }
        *slot = Some(v);
    }
    f
}

/// Access decisions (online and uploaded), oldest first, paged. Managers
/// and above; an operator of an org unit sees only the events of people in
/// it. Every query is audited with its filters.
#[utoipa::path(get, path = "/api/v1/access/events", tag = "audit", params(EventParams),
    responses((status = 200, body = EventPage), (status = 400, body = Problem, description = "`invalid_query`, naming the parameter"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem, description = "the user is outside the caller's unit")),
    security(("bearer" = [])))]
pub async fn list_events(
    State(s): State<AppState>,
    auth: Auth,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<EventPage>, ApiError> {
    let f = filter(pairs);
    let path = s.events.path().to_path_buf();
    let page = op(&s, &auth.acting(), move |st, a| crate::ops::events::list(st, &path, a, &f)).await?;
    Ok(Json(EventPage { events: page.events.into_iter().map(EventView::from).collect(), next_after: page.next_after }))
}
