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
use crate::store::events::Refusal;

/// The door-controller contract's version (`docs/controllers.md`,
/// "Versions and compatibility"): `MAJOR.MINOR`.
pub const CONTRACT_VERSION: &str = "1.0";

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
    if let Some(c) = event.controller {
        s.events.touch(c, event.at);
    }
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
    if let Ok(c) = auth.as_acting().controller() {
        s.events.touch(c.id, s.store.now());
    }
    Ok(Json(page.into()))
}

/// A decision a controller made offline.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineEvent {
    /// The controller's own unique ID for this event (idempotency key):
    /// 1 to 128 characters, no control characters, never reused.
    pub event_id: String,
    /// When it happened (RFC 3339), by the controller's clock.
    pub at: String,
    /// The door: one of the controller's doors, exactly as registered
    /// (case-sensitive).
    pub door: String,
    /// The UID read, in hex.
    pub uid: String,
    /// Technology, if known.
    pub technology: Option<String>,
    /// `grant` or `deny`.
    pub decision: String,
    /// The deny reason code (with `deny` only).
    #[schema(value_type = Option<crate::api::dto::DenyCode>)]
    pub reason: Option<String>,
    /// The holder, if the controller knew it.
    pub user_id: Option<String>,
}

/// The fields of [`OfflineEvent`], for naming the one that did not parse.
const EVENT_FIELDS: [&str; 8] = ["event_id", "at", "door", "uid", "technology", "decision", "reason", "user_id"];

/// A batch of offline decisions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// The controller's clock when it sent this (RFC 3339): the service
    /// measures the controller's clock skew from it (`GET /api/v1/controllers`).
    pub sent_at: Option<String>,
    /// At most 1000 events. Each is checked on its own: one that does not
    /// fit is `rejected` in the results, the others are stored.
    #[schema(value_type = Vec<OfflineEvent>)]
    pub events: Vec<serde_json::Value>,
}

/// One event as sent, read on its own.
fn sent_event(v: serde_json::Value) -> ops::doors::SentEvent {
    let raw = v.to_string();
    let event_id = v.get("event_id").and_then(serde_json::Value::as_str).map(str::to_string);
    let parsed = serde_path_to_error::deserialize::<_, OfflineEvent>(v)
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
        .map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            let missing = inner.strip_prefix("missing field `").and_then(|r| r.split('`').next());
            let name = missing.unwrap_or(&path);
            Refusal { code: "invalid_body", field: EVENT_FIELDS.iter().find(|f| **f == name).copied() }
        });
    ops::doors::SentEvent { raw, event_id, parsed }
}

/// Upload decisions made offline. Each event gets its own result
/// (`results[i]` for `events[i]`): `accepted`, `duplicate` (same
/// controller, event ID and content), `conflict` (a known event ID with
/// different content; quarantined), or `rejected` with a code and field
/// (quarantined). One bad event never refuses the others. An event stamped
/// more than 600 s ahead of the service's clock is accepted and flagged
/// (`clock_ahead_secs`).
#[utoipa::path(post, path = "/api/v1/access/events", tag = "doors", request_body = EventBatch,
    responses((status = 200, body = UploadResult), (status = 400, body = Problem, description = "more than 1000 events, a `sent_at` that is not a time, or a body that is not a batch"),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "not a controller's token"),
        (status = 503, body = Problem, description = "the events could not be stored now; nothing was stored: retry the same batch")),
    security(("bearer" = [])))]
pub async fn upload_events(
    State(s): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<EventBatch>,
) -> Result<Json<UploadResult>, ApiError> {
    let acting = auth.as_acting();
    let sent = b.events.into_iter().map(sent_event).collect();
    let upload = ops::doors::upload(&s.store, acting, b.sent_at.as_deref(), sent).map_err(|e| auth.refused(e))?;
    s.events.touch(upload.controller, upload.received_at);
    let upload = std::sync::Arc::new(upload);
    let (tx, rx) = tokio::sync::oneshot::channel();
    s.events
        .submit_batch(
            upload.clone(),
            Box::new(move |outcomes| {
                let _ = tx.send(outcomes);
            }),
        )
        .map_err(|_| ApiError::queue_full())?;
    match tokio::time::timeout(EVENT_WAIT, rx).await {
        Ok(Ok(outcomes)) => Ok(Json(UploadResult::new(&upload, &outcomes))),
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
