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

/// The bound was global: one controller (compromised, or a firmware bug)
/// sending 10 batches of refused events filled it for the whole retention
/// period, and every other controller's refused events were then answered
/// `quarantined: false` — not kept, retried for ever. A controller may
/// fill only its own share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_controller_filling_the_quarantine_leaves_room_for_the_others() {
    let api = Api::new();
    api.fx.clock.set(T0);
    let main = api.door.1.clone();
    let per = 1000;
    let batches = usize::try_from(events::QUARANTINE_MAX).unwrap() / per;
    for b in 0..=batches {
        let bad: Vec<Value> = (0..per)
            .map(|i| {
                let mut e = event(&format!("q-{b}-{i}"), "main", 0);
                e["uid"] = json!("zz");
                e
            })
            .collect();
        let v = upload(&api, &main, json!({"events": bad})).await;
        assert_eq!(v["rejected"].as_u64(), Some(per as u64));
    }
    // The flooding controller is told its share is full...
    let mut over = event("q-over", "main", 0);
    over["uid"] = json!("zz");
    let v = upload(&api, &main, json!({"events": [over]})).await;
    assert_eq!(v["results"][0]["quarantined"], false, "{v}");
    // ...and another controller's refused event is still kept for staff.
    let mut theirs = event("side-bad", "side", 0);
    theirs["uid"] = json!("zz");
    let side = api.other_door.1.clone();
    let v = upload(&api, &side, json!({"events": [theirs]})).await;
    assert_eq!(
        v["results"][0],
        json!({"status": "rejected", "code": "invalid_uid", "field": "uid", "quarantined": true}),
        "one controller's flood denied another's quarantine"
    );
    let q = events::quarantined(api.fx.dir.path(), Some(api.other_door.0), 0, 10).unwrap();
    assert_eq!(q.len(), 1);
}
