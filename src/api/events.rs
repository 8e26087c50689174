//! Reading the access-event log: `GET /api/v1/access/events`.
//!
//! The handler authenticates, reads the query string, calls
//! [`crate::ops::events::list`] (which holds the role, scope and filter
//! rules and audits the read) and renders the page.

use axum::Json;
use axum::extract::State;
use utoipa::IntoParams;

use crate::api::AppState;
use crate::api::auth::Auth;
use crate::api::dto::{EventPage, EventView, QuarantinePage};
use crate::api::error::{ApiError, ApiQuery, Problem};
use crate::api::op;
use crate::ops::events::EventFilter;

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

/// The quarantine's filters, all optional.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QuarantineParams {
    /// Only this controller's events.
    pub controller: Option<String>,
    /// The `next_after` of the previous page.
    pub after: Option<String>,
    /// Entries per page: 1 to 1000 (default 100).
    pub limit: Option<String>,
}

/// Events controllers uploaded that were refused or conflicted with a
/// stored event, oldest first, paged: each as sent, with why. Managers and
/// above without an org unit; every read is audited.
#[utoipa::path(get, path = "/api/v1/access/quarantine", tag = "audit", params(QuarantineParams),
    responses((status = 200, body = QuarantinePage), (status = 400, body = Problem, description = "`invalid_query`, naming the parameter"),
        (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_quarantine(
    State(s): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<QuarantineParams>,
) -> Result<Json<QuarantinePage>, ApiError> {
    let path = s.events.path().to_path_buf();
    let page = op(&s, &auth.acting(), move |st, a| {
        crate::ops::events::quarantine(st, &path, a, p.controller.as_deref(), p.after.as_deref(), p.limit.as_deref())
    })
    .await?;
    Ok(Json(page.into()))
}
