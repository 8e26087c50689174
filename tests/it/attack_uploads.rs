//! Issue 9/12 (15), review of per-event uploads as an intruder (a
//! compromised or buggy controller) and a careless admin would try them.
//! Each test names a defect found in review and fails without its fix.

use axum::http::{Method, StatusCode};
use idms::store::events;
use serde_json::{Value, json};

use crate::api::Api;
use crate::common::T0;

/// An offline decision at `door`, `secs` after T0.
fn event(id: &str, door: &str, secs: i64) -> Value {
    json!({"event_id": id, "at": idms::domain::Timestamp(T0.0 + secs).to_rfc3339(), "door": door,
        "uid": "04A1B2C3", "technology": "iso14443a", "decision": "deny", "reason": "unknown_credential"})
}

async fn upload(api: &Api, token: &str, body: Value) -> Value {
    let (s, v) = api.call(Method::POST, "/api/v1/access/events", Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// The quarantine is bounded in rows, so each row must be bounded in
/// bytes: an event ID too long to accept was kept whole, so one controller
/// could store ~1 MiB per row (10,000 rows: ~10 GB) through a "bounded"
/// quarantine, and staff pages carried it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_event_id_is_cut_in_the_quarantine_like_the_event_text() {
    let api = Api::new();
    api.fx.clock.set(T0);
    let long = "x".repeat(600_000);
    let v = upload(&api, &api.door.1.clone(), json!({"events": [event(&long, "main", -10)]})).await;
    assert_eq!(
        v["results"][0],
        json!({"status": "rejected", "code": "invalid_input", "field": "event_id", "quarantined": true})
    );
    let q = events::quarantined(api.fx.dir.path(), None, 0, 10).unwrap();
    assert_eq!(q.len(), 1);
    assert!(q[0].event.len() <= events::RAW_MAX, "{}", q[0].event.len());
    let kept = q[0].event_id.as_deref().map_or(0, str::len);
    assert!(kept <= 128 * 4, "the quarantine kept a {kept}-byte event ID");
    // Staff still see which event it was (its start).
    assert!(
        q[0].event_id.as_deref().is_some_and(|id| id.starts_with("xxxx")),
        "{:?}",
        q[0].event_id.as_ref().map(String::len)
    );
}
