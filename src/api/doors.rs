//! The door-controller API: online decisions, the credential feed, and
//! upload of decisions made offline. Controller tokens reach only these
//! routes, and only for their own doors.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::Auth;
use crate::api::dto::{DecideResponse, Feed, UploadResult};
use crate::api::error::{ApiError, ApiJson, ApiPath, ApiQuery, Problem};
use crate::api::{AppState, Shared, op};
use crate::config::OnLogFailure;
use crate::domain::{Decision, DenyReason, Technology, Uid};
use crate::ops;
use crate::store::events::Refusal;

/// The door-controller contract's version (`docs/controllers.md`,
/// "Versions and compatibility"): `MAJOR.MINOR`.
pub const CONTRACT_VERSION: &str = "2.0";

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
    // Once the log's commits have failed, a door is told at once, not after a wait: it falls back on
    // what it decides itself (a controller offline) and retries.
    const UNLOGGED: &str = "the decision could not be logged (the event log's disk is failing); retry";
    if s.events.failing() {
        return Err(ApiError::event_log_unavailable(UNLOGGED));
    }
    // A door that waited and was refused suffered too: background writers read it (`door_watch`).
    let refused = |e: ApiError| {
        s.door_watch.record(started.elapsed());
        e
    };
    let ticket = s.events.submit(event).map_err(|_| refused(ApiError::queue_full()))?;
    let done = match s.durable.wait(ticket) {
        crate::api::Wait::Done => true,
        crate::api::Wait::Failing => false,
        crate::api::Wait::Until(rx) => {
            let wait = std::time::Duration::from_millis(s.event_wait_ms.load(std::sync::atomic::Ordering::Relaxed));
            matches!(tokio::time::timeout(wait, rx).await, Ok(Ok(())))
        }
    };
    if !done {
        return Err(refused(ApiError::event_log_unavailable(UNLOGGED)));
    }
    s.metrics.decision(decision, started.elapsed());
    s.door_watch.record(started.elapsed());
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
    pub events: SentEvents,
}

/// The events of an upload, each read shallowly (see `Shallow`), and no
/// more than one past [`ops::doors::MAX_UPLOAD`] kept (the rest are read
/// over, never built): the rule layer refuses the upload by its count. So
/// reading an upload costs about its own size in memory, whatever its
/// shape — a typed parser stopped at the first odd field; a generic one
/// would build every nested array of a hostile body.
#[derive(Debug, Default)]
pub struct SentEvents(pub Vec<serde_json::Value>);

impl<'de> Deserialize<'de> for SentEvents {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Events;
        impl<'de> serde::de::Visitor<'de> for Events {
            type Value = SentEvents;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<SentEvents, A::Error> {
                let mut out = Vec::new();
                while out.len() <= ops::doors::MAX_UPLOAD {
                    match seq.next_element_seed(Shallow { top: true })? {
                        Some(v) => out.push(v),
                        None => return Ok(SentEvents(out)),
                    }
                }
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(SentEvents(out))
            }
        }
        d.deserialize_seq(Events)
    }
}

/// Reads one JSON value shallowly: a scalar as itself; at the top, an
/// object's fields each read one level down; any deeper object or array
/// read over without building it, and kept as an empty one of its kind
/// (which no field of an event accepts, so it is refused by name).
#[derive(Debug, Clone, Copy)]
struct Shallow {
    top: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for Shallow {
    type Value = serde_json::Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<serde_json::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Shallow {
    type Value = serde_json::Value;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<serde_json::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<serde_json::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<serde_json::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(serde_json::Value::Array(Vec::new()))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<serde_json::Value, A::Error> {
        let mut out = serde_json::Map::new();
        if !self.top {
            while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
            return Ok(serde_json::Value::Object(out));
        }
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Shallow { top: false })?;
            out.insert(key, value);
        }
        Ok(serde_json::Value::Object(out))
    }
}

/// What the quarantine keeps in place of a value it does not keep.
const NOT_KEPT: &str = "(not kept)";

/// An event's text as the quarantine keeps it: the field names, and the
/// values of the contract's fields; not an unknown field's value, an
/// object or array where the contract has a scalar, a `user_id` that is no
/// user ID, nor anything that is not an object. A controller may put a
/// holder's name anywhere; personal data lives only in `users` rows.
fn kept_text(v: &serde_json::Value) -> String {
    use serde_json::Value;
    let Value::Object(fields) = v else {
        return Value::String(NOT_KEPT.into()).to_string();
    };
    let kept = fields
        .iter()
        .map(|(name, value)| {
            let known = EVENT_FIELDS.contains(&name.as_str()) && !value.is_object() && !value.is_array();
            let no_user =
                name == "user_id" && value.as_str().is_some_and(|u| u.parse::<crate::domain::UserId>().is_err());
            let value = if known && !no_user { value.clone() } else { Value::String(NOT_KEPT.into()) };
            (name.clone(), value)
        })
        .collect();
    Value::Object(kept).to_string()
}

/// One event as sent, read on its own.
fn sent_event(v: serde_json::Value) -> ops::doors::SentEvent {
    let raw = kept_text(&v);
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
    let sent = b.events.0.into_iter().map(sent_event).collect();
    let upload = ops::doors::upload(&s.store, acting, b.sent_at.as_deref(), sent).map_err(|e| auth.refused(e))?;
    s.events.touch(upload.controller, upload.received_at);
    // An event for a door that is not the caller's was a whole-request 403,
    // audited as `api.refused`; refused on its own it stays on the record
    // (once per upload: the auditor counts them), even when the quarantine
    // has no room for it. Other refusals are the controller's bugs, kept in
    // the quarantine.
    if upload.items.iter().any(|i| i.checked.as_ref().is_err_and(|r| r.code == "forbidden")) {
        s.audit_failure(acting.actor().id, "POST /api/v1/access/events".to_string(), "forbidden");
    }
    if s.events.failing() {
        return Err(ApiError::event_log_unavailable(
            "the events could not be stored (the event log's disk is failing); keep them and retry",
        ));
    }
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
    // Told once the log's commits fail (looked at every 100 ms), not only after the whole wait.
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(s.event_wait_ms.load(std::sync::atomic::Ordering::Relaxed));
    tokio::pin!(rx);
    loop {
        match tokio::time::timeout(std::time::Duration::from_millis(100), &mut rx).await {
            Ok(Ok(outcomes)) => return Ok(Json(UploadResult::new(&upload, &outcomes))),
            Ok(Err(_)) => break,
            Err(_) if s.events.failing() || tokio::time::Instant::now() >= deadline => break,
            Err(_) => {}
        }
    }
    Err(ApiError::event_log_unavailable("the events could not be stored (the event log's disk is failing); retry"))
}

/// Door decisions for the service's own OSDP door readers: decided from
/// the index like `POST /access/decide`, logged as online access events
/// without a controller. The reader's LED does not wait for the event's
/// fsync: the event is queued, and the log's writer never drops a queued
/// one — while its commits fail it keeps them and retries. What a reader
/// does while the log fails is `osdp_on_log_failure`: with `decide` a read
/// the queue has no room for is still decided, its event lost, counted and
/// audited; with `deny` every read is denied, counted and audited. A queue
/// full while the log is healthy (a backlog) denies the read either way.
#[derive(Debug, Clone)]
pub struct ReaderDoors {
    state: AppState,
    on_log_failure: OnLogFailure,
}

impl ReaderDoors {
    /// The readers' doors of `state`, doing `on_log_failure` while events cannot be logged.
    #[must_use]
    pub fn new(state: AppState, on_log_failure: OnLogFailure) -> Self {
        Self { state, on_log_failure }
    }
}

impl crate::readers::osdp::Doors for ReaderDoors {
    fn decide(&self, door: &str, technology: Option<Technology>, uid: &Uid) -> bool {
        let started = Instant::now();
        let s = &self.state;
        let deny = self.on_log_failure == OnLogFailure::Deny;
        if deny && s.events.failing() {
            s.osdp_losses.refused(s);
            return false;
        }
        let event = ops::doors::door_event(&s.store, None, door.to_owned(), technology, uid);
        let decision = event.decision;
        if s.events.submit(event).is_err() {
            // Decided without its event only while the log fails (the stated exception); a queue
            // full of a healthy log's backlog denies, as a full queue always did.
            if !s.events.failing() {
                tracing::warn!(door, "access-event queue full: OSDP read denied");
                return false;
            }
            if deny {
                s.osdp_losses.refused(s);
                return false;
            }
            s.osdp_losses.lost(s);
        }
        s.metrics.decision(decision, started.elapsed());
        decision == Decision::Grant
    }
}

/// OSDP door reads whose events could not be logged, not yet audited: an
/// auditor task (`OsdpLosses::audit_when_recovered`) writes them as
/// `osdp.events_lost` and `osdp.reads_refused` entries with their counts
/// once the event log commits again (the disk may be full meanwhile).
#[derive(Debug, Default)]
pub struct OsdpLosses {
    lost: AtomicU64,
    refused: AtomicU64,
    wake: Arc<tokio::sync::Notify>,
}

impl OsdpLosses {
    fn lost(&self, s: &Shared) {
        s.metrics.osdp_event_lost();
        // Logged once per outage (the auditor reports the count when it is over).
        if self.lost.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::error!(
                "access-event queue full: OSDP reads are decided without their events (osdp_on_log_failure = \"decide\")"
            );
        }
        self.wake.notify_one();
    }

    fn refused(&self, s: &Shared) {
        s.metrics.osdp_read_refused();
        if self.refused.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::error!("access events cannot be logged: OSDP reads are denied (osdp_on_log_failure = \"deny\")");
        }
        self.wake.notify_one();
    }

    /// The counts gathered so far, taken off.
    fn take(&self) -> (u64, u64) {
        (self.lost.swap(0, Ordering::Relaxed), self.refused.swap(0, Ordering::Relaxed))
    }

    /// Audits what is gathered now, failing or not (the service is
    /// stopping: the counts would go with the process).
    pub fn flush(&self, store: &crate::store::Store) {
        let counts = self.take();
        if counts == (0, 0) {
            return;
        }
        if let Err(e) = audit_losses(store, counts) {
            tracing::error!(
                code = e.code(),
                events_lost = counts.0,
                reads_refused = counts.1,
                "OSDP reads while the access-event log failed could not be audited"
            );
        }
    }

    /// Counts that could not be audited go back.
    fn restore(&self, (lost, refused): (u64, u64)) {
        self.lost.fetch_add(lost, Ordering::Relaxed);
        self.refused.fetch_add(refused, Ordering::Relaxed);
    }

    /// Starts the task that audits the counts: woken by the first loss, it
    /// waits until the event log commits again, then writes one entry per
    /// kind with its count in one transaction, as `system:osdp` (a failed
    /// write puts the counts back and is retried a second later). Ends
    /// with the service's state.
    pub(crate) fn audit_when_recovered(state: std::sync::Weak<Shared>) {
        let Some(wake) = state.upgrade().map(|s| s.osdp_losses.wake.clone()) else { return };
        tokio::spawn(async move {
            loop {
                wake.notified().await;
                loop {
                    // A second's worth together; and nothing is audited while the log still fails.
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    let Some(s) = state.upgrade() else { return };
                    if s.events.failing() {
                        continue;
                    }
                    let counts = s.osdp_losses.take();
                    if counts == (0, 0) {
                        break;
                    }
                    let store = s.store.clone();
                    let written = tokio::task::spawn_blocking(move || audit_losses(&store, counts)).await;
                    match written {
                        Ok(Ok(())) => tracing::warn!(
                            events_lost = counts.0,
                            reads_refused = counts.1,
                            "OSDP reads while the access-event log failed, audited"
                        ),
                        Ok(Err(e)) => {
                            s.osdp_losses.restore(counts);
                            tracing::error!(code = e.code(), "OSDP losses not audited yet; retrying");
                        }
                        Err(e) => {
                            s.osdp_losses.restore(counts);
                            tracing::error!(error = %e, "OSDP losses not audited yet; retrying");
                        }
                    }
                }
            }
        });
    }
}

/// One `osdp.events_lost` and one `osdp.reads_refused` entry (each only
/// when counted), by `system:osdp`, in one transaction.
fn audit_losses(store: &crate::store::Store, (lost, refused): (u64, u64)) -> Result<(), crate::store::StoreError> {
    let actor = crate::store::Actor::staff("system:osdp");
    let entries: Vec<_> = [("osdp.events_lost", lost), ("osdp.reads_refused", refused)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(action, n)| {
            let mut draft = crate::store::AuditDraft::new(action);
            draft.detail = format!("count={n}");
            (actor.clone(), draft, "event_log_failing")
        })
        .collect();
    store.audit_refusals(&entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_is_read_shallowly_and_never_past_one_more_than_the_limit() {
        let body = r#"{"events": [{"uid": "04A1B2C3", "x": [1, [2, [3]], {"a": "Ada"}], "door": {"name": "main"}}, 7, [1, 2]]}"#;
        let b: EventBatch = serde_json::from_str(body).unwrap();
        assert_eq!(
            b.events.0,
            vec![
                serde_json::json!({"uid": "04A1B2C3", "x": [], "door": {}}),
                serde_json::json!(7),
                serde_json::json!([]),
            ]
        );
        let many = format!(r#"{{"events": [{}]}}"#, vec!["{}"; 5000].join(","));
        let b: EventBatch = serde_json::from_str(&many).unwrap();
        assert_eq!(b.events.0.len(), ops::doors::MAX_UPLOAD + 1);
        // Still a list where a list is due.
        assert!(serde_json::from_str::<EventBatch>(r#"{"events": {"a": 1}}"#).is_err());
    }
}
