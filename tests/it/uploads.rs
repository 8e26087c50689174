//! Issue 9/12 (15), must-be-true 2: uploads never lose an access event.
//! Each event gets its own result; one bad event never blocks the others
//! and is kept in a quarantine staff can read; a known event ID with other
//! content is a conflict; an event stamped ahead of the service's clock is
//! stored and flagged; the controller's skew and last contact are visible.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use idms::store::Role;
use idms::store::events;
use serde_json::{Value, json};

use crate::api::Api;
use crate::common::{T0, staff};

/// An offline decision at door `main`, `secs` after T0.
fn event(id: &str, secs: i64) -> Value {
    json!({"event_id": id, "at": idms::domain::Timestamp(T0.0 + secs).to_rfc3339(), "door": "main",
        "uid": "04A1B2C3", "technology": "iso14443a", "decision": "deny", "reason": "unknown_credential"})
}

async fn upload(api: &Api, body: Value) -> Value {
    let (s, v) = api.call(Method::POST, "/api/v1/access/events", Some(&api.door.1), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// Every uploaded event in the log, by event ID (how many times each).
fn stored(api: &Api) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in events::read_all(api.fx.dir.path()).unwrap() {
        if let Some(id) = e.event_id {
            *out.entry(id).or_default() += 1;
        }
    }
    out
}

fn statuses(v: &Value) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in v["results"].as_array().unwrap() {
        *out.entry(r["status"].as_str().unwrap().to_string()).or_default() += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_event_in_a_thousand_is_reported_by_index_and_the_rest_are_stored_once() {
    let api = Api::new();
    api.fx.clock.set(T0);
    let mut batch: Vec<Value> = (0..1000).map(|i| event(&format!("e-{i}"), -3600 + i)).collect();
    // Event 637 names a UID of odd length: refused on its own.
    batch[637]["uid"] = json!("04A1B2C");
    let v = upload(&api, json!({"events": batch})).await;
    assert_eq!((v["accepted"].as_u64(), v["rejected"].as_u64()), (Some(999), Some(1)), "{}", v["rejected"]);
    assert_eq!(v["results"].as_array().unwrap().len(), 1000);
    assert_eq!(
        v["results"][637],
        json!({"status": "rejected", "code": "uid_odd_digits", "field": "uid", "quarantined": true})
    );
    assert_eq!(v["results"][636], json!({"status": "accepted"}));
    let s = stored(&api);
    assert_eq!(s.len(), 999);
    assert!(s.values().all(|n| *n == 1) && !s.contains_key("e-637"));

    // The 999 again (a batch whose answer was lost): 999 duplicates, nothing new.
    let good: Vec<Value> = batch.iter().enumerate().filter(|(i, _)| *i != 637).map(|(_, e)| e.clone()).collect();
    let v = upload(&api, json!({"events": good})).await;
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64(), v["conflicts"].as_u64(), v["rejected"].as_u64()),
        (Some(0), Some(999), Some(0), Some(0))
    );
    assert_eq!(statuses(&v), BTreeMap::from([("duplicate".to_string(), 999)]));
    assert_eq!(stored(&api).len(), 999);

    // The bad one is in the quarantine, as sent, with its index and code.
    let (s, q) = api.call(Method::GET, "/api/v1/access/quarantine", Some(api.token(Role::Manager)), None).await;
    assert_eq!(s, StatusCode::OK, "{q}");
    let e = &q["entries"][0];
    assert_eq!(
        (e["index"].as_i64(), e["code"].as_str(), e["field"].as_str()),
        (Some(637), Some("uid_odd_digits"), Some("uid"))
    );
    assert_eq!(
        (e["status"].as_str(), e["event_id"].as_str(), e["controller"].as_i64()),
        (Some("rejected"), Some("e-637"), Some(api.door.0))
    );
    let sent: Value = serde_json::from_str(e["event"].as_str().unwrap()).unwrap();
    assert_eq!(sent, batch[637]);
    assert_eq!(q["entries"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_event_under_a_known_id_is_a_conflict_and_the_stored_one_stands() {
    let api = Api::new();
    api.fx.clock.set(T0);
    let first = event("x-1", -60);
    assert_eq!(upload(&api, json!({"events": [first.clone()]})).await["accepted"], 1);
    let mut changed = first.clone();
    changed["decision"] = json!("grant");
    changed["reason"] = Value::Null;
    let mut later = first.clone();
    later["at"] = json!(idms::domain::Timestamp(T0.0 - 59).to_rfc3339());
    let v = upload(&api, json!({"events": [changed, first.clone(), later, event("x-2", -30)]})).await;
    let results: Vec<&str> = v["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(results, ["conflict", "duplicate", "conflict", "accepted"], "{v}");
    assert_eq!(
        v["results"][0],
        json!({"status": "conflict", "code": "conflict", "field": "event_id", "quarantined": true})
    );
    assert_eq!(v["conflicts"], 2);
    // The first version stands; both others are in the quarantine.
    let all = events::read_all(api.fx.dir.path()).unwrap();
    let x1: Vec<_> = all.iter().filter(|e| e.event_id.as_deref() == Some("x-1")).collect();
    assert_eq!(x1.len(), 1);
    assert_eq!(x1[0].decision.as_str(), "deny");
    let q = events::quarantined(api.fx.dir.path(), None, 0, 10).unwrap();
    assert_eq!(
        q.iter().map(|e| (e.position, e.status.as_str())).collect::<Vec<_>>(),
        [(0, "conflict"), (2, "conflict")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_two_hours_ahead_is_stored_at_its_arrival_and_flagged_with_the_skew() {
    let api = Api::new();
    api.fx.clock.set(T0);
    let ahead = event("fast-1", 7200);
    let v = upload(&api, json!({"events": [ahead, event("fast-2", 300)]})).await;
    assert_eq!(v["results"][0], json!({"status": "accepted", "clock_ahead_secs": 7200}));
    // Ahead by less than the 600 s allowance: stored as stamped, not flagged.
    assert_eq!(v["results"][1], json!({"status": "accepted"}));
    assert_eq!(v["skew_secs"], Value::Null);
    let all = events::read_all(api.fx.dir.path()).unwrap();
    let e = all.iter().find(|e| e.event_id.as_deref() == Some("fast-1")).unwrap();
    assert_eq!((e.at, e.received_at, e.claimed_at), (T0, Some(T0), Some(idms::domain::Timestamp(T0.0 + 7200))));
    // With the skew measured (`sent_at`), an event is put where it happened
    // by the service's clock: stamped 7,140 s ahead by a clock 7,205 s fast.
    let v = upload(
        &api,
        json!({"sent_at": idms::domain::Timestamp(T0.0 + 7205).to_rfc3339(), "events": [event("fast-3", 7140)]}),
    )
    .await;
    assert_eq!(
        (v["skew_secs"].as_i64(), v["results"][0].clone()),
        (Some(7205), json!({"status": "accepted", "clock_ahead_secs": 7205}))
    );
    let all = events::read_all(api.fx.dir.path()).unwrap();
    let e = all.iter().find(|e| e.event_id.as_deref() == Some("fast-3")).unwrap();
    assert_eq!((e.at, e.claimed_at), (idms::domain::Timestamp(T0.0 - 65), Some(idms::domain::Timestamp(T0.0 + 7140))));
    // The history shows it at its arrival, with the time it claimed.
    let (s, h) =
        api.call(Method::GET, "/api/v1/access/events?decision=deny", Some(api.token(Role::Manager)), None).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    let fast = h["events"].as_array().unwrap().iter().find(|e| e["event_id"] == "fast-1").unwrap();
    assert_eq!(fast["at"], T0.to_rfc3339());
    assert_eq!(fast["claimed_at"], idms::domain::Timestamp(T0.0 + 7200).to_rfc3339());
    assert_eq!(fast["received_at"], T0.to_rfc3339());
    // Re-sent later, when it is no longer ahead: the same event, a duplicate.
    api.fx.clock.set(idms::domain::Timestamp(T0.0 + 8000));
    let v = upload(&api, json!({"events": [event("fast-1", 7200)]})).await;
    assert_eq!(v["results"][0]["status"], "duplicate", "{v}");

    // Staff see the controller's skew and last contact.
    let (s, cs) = api.call(Method::GET, "/api/v1/controllers", Some(api.token(Role::Admin)), None).await;
    assert_eq!(s, StatusCode::OK, "{cs}");
    let main = cs.as_array().unwrap().iter().find(|c| c["id"] == api.door.0).unwrap();
    assert_eq!(main["skew_secs"], 7205, "{main}");
    assert_eq!(main["skew_measured_at"], T0.to_rfc3339());
    assert_eq!(main["last_upload"], idms::domain::Timestamp(T0.0 + 8000).to_rfc3339());
    assert_eq!(main["last_contact"], idms::domain::Timestamp(T0.0 + 8000).to_rfc3339());
    let side = cs.as_array().unwrap().iter().find(|c| c["id"] == api.other_door.0).unwrap();
    assert_eq!((side["last_contact"].clone(), side["skew_secs"].clone()), (Value::Null, Value::Null), "{side}");
    // An online decision is contact too.
    api.fx.clock.set(idms::domain::Timestamp(T0.0 + 9000));
    let (s, _) = api
        .call(
            Method::POST,
            "/api/v1/access/decide",
            Some(&api.other_door.1),
            Some(json!({"uid": "04A1B2C3", "door": "side"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, cs) = api.call(Method::GET, "/api/v1/controllers", Some(api.token(Role::Admin)), None).await;
    let side = cs.as_array().unwrap().iter().find(|c| c["id"] == api.other_door.0).unwrap();
    assert_eq!(side["last_contact"], idms::domain::Timestamp(T0.0 + 9000).to_rfc3339(), "{side}");
}

/// A controller whose clock reset after a power loss: its events are put
/// where they happened by the service's clock, not decades back (where no
/// time query finds them and retention would not apply as meant).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_far_behind_is_corrected_by_its_measured_skew_and_flagged() {
    let api = Api::new();
    api.fx.clock.set(T0);
    let boot = idms::domain::Timestamp(86_400);
    let stamped = |secs: i64| idms::domain::Timestamp(boot.0 + secs).to_rfc3339();
    let mut e = event("slow-1", 0);
    e["at"] = json!(stamped(-90));
    let v = upload(&api, json!({"sent_at": stamped(0), "events": [e]})).await;
    assert_eq!(v["skew_secs"].as_i64(), Some(boot.0 - T0.0));
    assert_eq!(v["results"][0], json!({"status": "accepted", "clock_behind_secs": T0.0 - boot.0}));
    let (_, h) =
        api.call(Method::GET, "/api/v1/access/events?decision=deny", Some(api.token(Role::Manager)), None).await;
    let slow = h["events"].as_array().unwrap().iter().find(|e| e["event_id"] == "slow-1").unwrap();
    assert_eq!(slow["at"], idms::domain::Timestamp(T0.0 - 90).to_rfc3339(), "{slow}");
    assert_eq!(slow["claimed_at"], stamped(-90));
    // A time query for the last hour finds it.
    let from = idms::domain::Timestamp(T0.0 - 3600).to_rfc3339();
    let (_, h) = api
        .call(Method::GET, &format!("/api/v1/access/events?from={from}"), Some(api.token(Role::Manager)), None)
        .await;
    assert_eq!(h["events"].as_array().unwrap().len(), 1, "{h}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_bad_event_is_refused_alone_naming_its_field() {
    let api = Api::new();
    api.fx.clock.set(T0);
    let mut cases = vec![
        ("door", "forbidden", json!("side")),
        ("uid", "uid_wrong_length", json!("04A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6E7F8A9")),
        ("reason", "invalid_input", json!("made_up_reason")),
        ("at", "invalid_input", json!("yesterday")),
        ("event_id", "invalid_input", json!("")),
        ("technology", "invalid_input", json!("barcode")),
        ("user_id", "invalid_input", json!("Jane Doe")),
        ("at", "invalid_body", json!(17)),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (field, code, value))| {
        let mut e = event(&format!("b-{i}"), -10);
        e[field] = value;
        (e, field, code)
    })
    .collect::<Vec<_>>();
    let mut missing = event("b-missing", -10);
    missing.as_object_mut().unwrap().remove("door");
    cases.push((missing, "door", "invalid_body"));
    let mut unknown = event("b-unknown", -10);
    unknown["name"] = json!("Ada Lovelace");
    cases.push((unknown, "", "invalid_body"));
    let mut body: Vec<Value> = cases.iter().map(|(e, ..)| e.clone()).collect();
    body.push(event("good", -5));
    let v = upload(&api, json!({"events": body})).await;
    for (i, (_, field, code)) in cases.iter().enumerate() {
        let r = &v["results"][i];
        assert_eq!((r["status"].as_str(), r["code"].as_str()), (Some("rejected"), Some(*code)), "case {i}: {r}");
        assert_eq!(r["field"].as_str().unwrap_or(""), *field, "case {i}: {r}");
    }
    assert_eq!(v["results"][cases.len()], json!({"status": "accepted"}));
    assert_eq!(stored(&api).keys().collect::<Vec<_>>(), ["good"]);
    assert_eq!(events::quarantined(api.fx.dir.path(), None, 0, 100).unwrap().len(), cases.len());
    // Whole-request refusals stay whole: too many events, a bad sent_at.
    let many: Vec<Value> = (0..1001).map(|i| event(&format!("m-{i}"), 0)).collect();
    let (s, p) =
        api.call(Method::POST, "/api/v1/access/events", Some(&api.door.1), Some(json!({"events": many}))).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")), "{p}");
    let (s, p) = api
        .call(Method::POST, "/api/v1/access/events", Some(&api.door.1), Some(json!({"sent_at": "noon", "events": []})))
        .await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")), "{p}");
    assert_eq!(stored(&api).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_quarantine_says_so_and_the_controller_keeps_the_event() {
    let api = Api::new();
    api.fx.clock.set(T0);
    let per = 1000;
    let batches = usize::try_from(events::QUARANTINE_MAX).unwrap() / per;
    for b in 0..batches {
        let bad: Vec<Value> = (0..per)
            .map(|i| {
                let mut e = event(&format!("q-{b}-{i}"), 0);
                e["uid"] = json!("zz");
                e
            })
            .collect();
        let v = upload(&api, json!({"events": bad})).await;
        assert_eq!(v["rejected"].as_u64(), Some(per as u64));
        assert_eq!(v["results"][per - 1]["quarantined"], true);
    }
    let mut over = event("q-over", 0);
    over["uid"] = json!("zz");
    let v = upload(&api, json!({"events": [over, event("fine", 0)]})).await;
    assert_eq!(
        v["results"][0],
        json!({"status": "rejected", "code": "invalid_uid", "field": "uid", "quarantined": false})
    );
    assert_eq!(v["results"][1], json!({"status": "accepted"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quarantine_is_for_unscoped_managers_and_every_read_is_audited() {
    let api = Api::new();
    let mut bad = event("s-1", 0);
    bad["door"] = json!("side");
    upload(&api, json!({"events": [bad]})).await;
    for (token, want) in [
        (api.token(Role::Viewer).to_string(), StatusCode::FORBIDDEN),
        (api.token(Role::Enroller).to_string(), StatusCode::FORBIDDEN),
        (api.door.1.clone(), StatusCode::FORBIDDEN),
        (api.token(Role::Eraser).to_string(), StatusCode::OK),
    ] {
        let (s, v) = api.call(Method::GET, "/api/v1/access/quarantine", Some(&token), None).await;
        assert_eq!(s, want, "{v}");
    }
    api.store.add_operator(&staff(), "mgr-lab", Role::Manager, Some("lab"), None).unwrap();
    let (_, scoped) = api.store.create_token(&staff(), "mgr-lab", Role::Manager, None).unwrap();
    let (s, v) = api.call(Method::GET, "/api/v1/access/quarantine", Some(&scoped), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // Paging and filters.
    let (s, v) = api.call(Method::GET, "/api/v1/access/quarantine?limit=0", Some(api.token(Role::Admin)), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")), "{v}");
    let other = api.door.0 + api.other_door.0;
    let (_, v) = api
        .call(Method::GET, &format!("/api/v1/access/quarantine?controller={other}"), Some(api.token(Role::Admin)), None)
        .await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 0, "{v}");
    let audit =
        api.store.audit_entries(&idms::store::AuditQuery { limit: Some(10_000), ..Default::default() }).unwrap();
    let reads = audit.iter().filter(|e| e.action == "access_events.read" && e.detail.starts_with("quarantine")).count();
    assert_eq!(reads, 2, "each successful read is audited");
}
