//! The door-controller API: online decisions, the credential feed, and
//! upload of decisions made offline. Controller tokens reach only these
//! routes, and only for their own doors.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::Auth;
use crate::api::dto::{DecideResponse, Feed, UploadResult};
use crate::api::error::{ApiError, ApiJson, ApiPath, ApiQuery, Problem};
use crate::api::{AppState, op};
use crate::domain::{Decision, DenyReason, Technology, Uid};
use crate::ops;

/// How long a request waits for its events to become durable before it
/// answers 503 (the writer keeps retrying; the disk is in trouble).
const EVENT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A door asks about a card.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// The UID read, in hex.
    pub uid: String,
    /// The door: one of the controller's doors, exactly as registered
    /// (case-sensitive: `Main` is not `main`); another is 403, naming the
    /// controller's doors.
    pub door: String,
    /// Technology, when the reader knows it.
    pub technology: Option<String>,
}

/// Is this card valid at this door now? Answered from memory; returns once
/// the decision's access event is durably logged. Door names match
/// exactly, case included; a door not the controller's is 403, and its
/// `detail` names the controller's doors.
#[utoipa::path(post, path = "/api/v1/access/decide", tag = "doors", request_body = DecideRequest,
    responses((status = 200, body = DecideResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 503, body = Problem, description = "event queue full; retry after the Retry-After seconds")),
    security(("bearer" = [])))]
pub async fn decide(
    State(s): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<DecideRequest>,
) -> Result<Json<DecideResponse>, ApiError> {
    let started = Instant::now();
    let acting = auth.as_acting();
    let event = ops::doors::decide(&s.store, acting, req.door, req.technology.as_deref(), &req.uid)
        .map_err(|e| auth.refused(e))?;
    let (decision, user_id) = (event.decision, event.user_id);
    let ticket = s.events.submit(event).map_err(|_| ApiError::queue_full())?;
    let done = match s.durable.wait(ticket) {
        None => true,
        Some(rx) => matches!(tokio::time::timeout(EVENT_WAIT, rx).await, Ok(Ok(()))),
    };
    if !done {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "event_log_unavailable",
            "the decision could not be logged; retry",
        ));
    }
    s.metrics.decision(decision, started.elapsed());
    Ok(Json(DecideResponse {
        decision: decision.as_str(),
        reason: decision.reason().map(DenyReason::code),
        user_id: user_id.map(|u| u.to_string()),
    }))
}

/// Feed parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedParams {
    /// The cursor of the previous response; omit for a snapshot.
    pub since: Option<String>,
    /// At most this many entries per page (default 10000, at most 100000).
    pub limit: Option<usize>,
}

/// The credential list for offline decisions: a snapshot, or the delta
/// since `since`. Entries carry no personal data. `id` is the calling
/// controller's own ID (any other is 404); `GET
/// /api/v1/controllers/me/credentials` is the same without knowing it.
#[utoipa::path(get, path = "/api/v1/controllers/{id}/credentials", tag = "doors",
    params(("id" = i64, Path, description = "The calling controller's own ID"), FeedParams),
    responses((status = 200, body = Feed), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "`not_found`: not the calling controller's ID")),
    security(("bearer" = [])))]
pub async fn feed(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(p): ApiQuery<FeedParams>,
) -> Result<Json<Feed>, ApiError> {
    feed_page(&s, &auth, Some(id), p).await
}

/// The calling controller's credential feed, as
/// `GET /api/v1/controllers/{id}/credentials` with its own ID.
#[utoipa::path(get, path = "/api/v1/controllers/me/credentials", tag = "doors",
    params(FeedParams),
    responses((status = 200, body = Feed), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn my_feed(
    State(s): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<FeedParams>,
) -> Result<Json<Feed>, ApiError> {
    feed_page(&s, &auth, None, p).await
}

async fn feed_page(s: &AppState, auth: &Auth, id: Option<String>, p: FeedParams) -> Result<Json<Feed>, ApiError> {
    let page =
        op(s, auth.as_acting(), move |st, a| ops::doors::feed(st, a, id.as_deref(), p.since.as_deref(), p.limit))
            .await?;
    Ok(Json(page.into()))
}

/// A decision a controller made offline.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineEvent {
    /// The controller's own unique ID for this event (idempotency key).
    pub event_id: String,
    /// When it happened (RFC 3339).
    pub at: String,
    /// The door: one of the controller's doors, exactly as registered
    /// (case-sensitive).
    pub door: String,
    /// The UID read.
    pub uid: String,
    /// Technology, if known.
    pub technology: Option<String>,
    /// `grant` or `deny`.
    pub decision: String,
    /// The deny reason code.
    pub reason: Option<String>,
    /// The holder, if the controller knew it.
    pub user_id: Option<String>,
}

/// A batch of offline decisions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// At most 1000 events.
    pub events: Vec<OfflineEvent>,
}

/// Upload decisions made offline; idempotent on `(controller, event_id)`.
#[utoipa::path(post, path = "/api/v1/access/events", tag = "doors", request_body = EventBatch,
    responses((status = 200, body = UploadResult), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn upload_events(
    State(s): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<EventBatch>,
) -> Result<Json<UploadResult>, ApiError> {
    let acting = auth.as_acting();
    let decisions = b
        .events
        .into_iter()
        .map(|e| ops::doors::OfflineDecision {
            event_id: e.event_id,
            at: e.at,
            door: e.door,
            uid: e.uid,
            technology: e.technology,
            decision: e.decision,
            reason: e.reason,
            user_id: e.user_id,
        })
        .collect();
    let events = ops::doors::offline_events(&s.store, acting, decisions).map_err(|e| auth.refused(e))?;
    let total = events.len();
    let (tx, rx) = tokio::sync::oneshot::channel();
    s.events
        .submit_batch(
            events,
            Box::new(move |n| {
                let _ = tx.send(n);
            }),
        )
        .map_err(|_| ApiError::queue_full())?;
    match tokio::time::timeout(EVENT_WAIT, rx).await {
        Ok(Ok(n)) => Ok(Json(UploadResult { accepted: n, duplicates: total - n })),
        _ => Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "event_log_unavailable",
            "the events could not be stored; retry",
        )),
    }
}

/// Door decisions for the service's own OSDP door readers: decided from
/// the index like `POST /access/decide`, logged as online access events
/// without a controller. The reader's LED does not wait for the event's
/// fsync; the queued event is written by the log's writer, which never
/// drops one. A full queue denies (the decision could not be logged).
#[derive(Debug, Clone)]
pub struct ReaderDoors(pub AppState);

impl crate::readers::osdp::Doors for ReaderDoors {
    fn decide(&self, door: &str, technology: Option<Technology>, uid: &Uid) -> bool {
        let started = Instant::now();
        let s = &self.0;
        let event = ops::doors::door_event(&s.store, None, door.to_owned(), technology, uid);
        let decision = event.decision;
        if s.events.submit(event).is_err() {
            tracing::warn!(door, "access-event queue full: OSDP read denied");
            return false;
        }
        s.metrics.decision(decision, started.elapsed());
        decision == Decision::Grant
    }
}
