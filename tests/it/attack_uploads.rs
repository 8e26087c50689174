//! Issue 9/12 (15), review of per-event uploads as an intruder (a
//! compromised or buggy controller) and a careless admin would try them.
//! Each test names a defect found in review and fails without its fix.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use idms::store::events;
use idms::store::{AuditQuery, Role};
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

/// A controller naming a door that is not its own used to get a 403 that
/// went on the audit trail (`api.refused`, `forbidden`). As a per-event
/// rejection it left no audit entry at all (and nothing anywhere once the
/// quarantine was full): a compromised controller could probe other doors
/// unseen. The refusal stays on the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_for_another_controllers_door_is_on_the_audit_trail() {
    let api = Api::new();
    api.fx.clock.set(T0);
    let side = api.other_door.1.clone();
    let v = upload(&api, &side, json!({"events": [event("s-1", "main", -5), event("s-2", "side", -5)]})).await;
    assert_eq!(
        v["results"][0],
        json!({"status": "rejected", "code": "forbidden", "field": "door", "quarantined": true})
    );
    assert_eq!(v["results"][1], json!({"status": "accepted"}));
    // Other refusals (a bad field) are the controller's bug, not a probe:
    // the quarantine has them, the audit trail need not.
    let mut bad = event("s-3", "side", -5);
    bad["uid"] = json!("zz");
    upload(&api, &side, json!({"events": [bad]})).await;
    assert!(api.state.flush_refusals(Duration::from_secs(10)).await);
    let refused: Vec<_> = api
        .store
        .audit_entries(&AuditQuery { limit: Some(10_000), ..AuditQuery::default() })
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "api.refused" && e.detail.starts_with("POST /api/v1/access/events"))
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].outcome, "forbidden");
    assert_eq!(refused[0].actor, format!("controller:{}", api.other_door.0));
    assert!(api.store.verify_audit().unwrap().first_bad.is_none());
    // The staff-facing quarantine read is unaffected.
    let (s, _) = api.call(Method::GET, "/api/v1/access/quarantine", Some(api.token(Role::Manager)), None).await;
    assert_eq!(s, StatusCode::OK);
}

/// Personal data lives only in `users` columns (ARCHITECTURE, "Personal
/// data"), where expunge destroys it. The quarantine kept each refused
/// event as sent, so a controller that put the holder's name in a field
/// of its own (or in `user_id`, or sent a bare string) left it in
/// events.db, shown to managers and out of expunge's reach until
/// retention. The quarantine keeps what the contract defines: field names,
/// and the values of its own fields, not an unknown field's value, a
/// `user_id` that is no user ID, or what is not an event object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quarantine_keeps_no_value_the_contract_does_not_define() {
    let api = Api::new();
    api.fx.clock.set(T0);
    let mut named = event("p-1", "main", -10);
    named["name"] = json!("Ada Lovelace");
    named["holder"] = json!({"email": "ada@example.org"});
    let mut in_user = event("p-2", "main", -10);
    in_user["user_id"] = json!("Ada Lovelace");
    let mut nested = event("p-3", "main", -10);
    nested["at"] = json!({"who": "Ada Lovelace"});
    let mut bad_uid = event("p-4", "main", -10);
    bad_uid["uid"] = json!("zz");
    let body = json!({"events": [named, in_user, nested, "Ada Lovelace", bad_uid]});
    let v = upload(&api, &api.door.1.clone(), body).await;
    assert_eq!(v["rejected"], 5, "{v}");
    let q = events::quarantined(api.fx.dir.path(), None, 0, 10).unwrap();
    assert_eq!(q.len(), 5);
    for e in &q {
        for secret in ["Ada", "Lovelace", "ada@example"] {
            assert!(!e.event.contains(secret), "quarantine {}: {}", e.position, e.event);
        }
    }
    // Still enough for staff to see what went wrong: the field names, and
    // the contract's fields as sent.
    let first: Value = serde_json::from_str(&q[0].event).unwrap();
    assert!(first.get("name").is_some() && first.get("holder").is_some(), "{first}");
    assert_eq!(first["event_id"], "p-1");
    assert_eq!(first["door"], "main");
    let last: Value = serde_json::from_str(&q[4].event).unwrap();
    assert_eq!(last["uid"], "zz");
}

/// Retention covers the quarantine: a prune run removes every quarantined
/// event received before the cutoff. Its step deleted at most one batch
/// (500) of them but asked for another step only when access events filled
/// the batch, so past 500 quarantined events (a controller's share is
/// 10,000) the rest outlived retention by a prune period per 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_removes_every_quarantined_event_past_retention() {
    let api = Api::new();
    api.fx.clock.set(T0);
    let main = api.door.1.clone();
    let n = events::PRUNE_BATCH * 3 + 7;
    let bad: Vec<Value> = (0..n)
        .map(|i| {
            let mut e = event(&format!("old-{i}"), "main", -10);
            e["uid"] = json!("zz");
            e
        })
        .collect();
    for chunk in bad.chunks(1000) {
        let v = upload(&api, &main, json!({"events": chunk})).await;
        assert_eq!(v["rejected"].as_u64(), Some(chunk.len() as u64));
    }
    assert_eq!(events::quarantined(api.fx.dir.path(), None, 0, 10_000).unwrap().len(), n);
    // One access event, received later, inside retention.
    api.fx.clock.set(idms::domain::Timestamp(T0.0 + 100));
    assert_eq!(upload(&api, &main, json!({"events": [event("kept", "main", 90)]})).await["accepted"], 1);
    let before = idms::domain::Timestamp(T0.0 + 50);
    let state = api.state.clone();
    let store = api.store.clone();
    tokio::task::spawn_blocking(move || events::prune(&store, &state.events, before).unwrap()).await.unwrap();
    let left = events::quarantined(api.fx.dir.path(), None, 0, 10_000).unwrap();
    assert_eq!(left.len(), 0, "quarantined events older than the cutoff survived the prune");
    assert_eq!(events::read_all(api.fx.dir.path()).unwrap().len(), 1);
}

/// The per-controller quarantine bound is counted in the doors' writer on
/// every group with a refused event, and staff page the quarantine by
/// controller: both must use an index, never read the whole quarantine
/// (up to 10,000 rows of ~2.5 KB per controller) while doors wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quarantine_is_counted_and_paged_by_controller_through_an_index() {
    let api = Api::new();
    let c = rusqlite::Connection::open(api.fx.dir.path().join(events::EVENTS_FILE)).unwrap();
    for sql in [
        "SELECT COUNT(*) FROM quarantine WHERE controller = 1",
        "SELECT id FROM quarantine WHERE controller = 1 AND id > 0 ORDER BY id LIMIT 100",
    ] {
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(plan.iter().any(|p| p.contains("INDEX quarantine_controller")), "{sql}: {plan:?}");
    }
}

/// RFC 3339 allows an offset that carries a year-0000 or year-9999 time
/// outside those years in UTC. Such an `at` was stored, and the history
/// then answered `at` (or `claimed_at`) as a bare number of seconds,
/// which no client reads as a time. A time the service cannot write
/// back in RFC 3339 is not a time: the event is refused on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_at_outside_the_years_rfc_3339_can_write_is_refused_not_stored_unreadable() {
    let api = Api::new();
    api.fx.clock.set(T0);
    let mut before_year_0 = event("y-0", "main", 0);
    before_year_0["at"] = json!("0000-01-01T00:00:00+01:00");
    let mut after_9999 = event("y-9999", "main", 0);
    after_9999["at"] = json!("9999-12-31T23:59:59-01:00");
    let mut edge = event("y-edge", "main", 0);
    edge["at"] = json!("0000-01-01T00:00:00Z");
    let v = upload(&api, &api.door.1.clone(), json!({"events": [before_year_0, after_9999, edge]})).await;
    let (s, h) = api.call(Method::GET, "/api/v1/access/events", Some(api.token(Role::Manager)), None).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    for e in h["events"].as_array().unwrap() {
        for field in ["at", "claimed_at", "received_at"] {
            if let Some(t) = e[field].as_str() {
                assert!(idms::domain::Timestamp::parse(field, t).is_ok(), "{field} {t} in {e}");
            }
        }
    }
    for i in [0, 1] {
        assert_eq!(
            v["results"][i],
            json!({"status": "rejected", "code": "invalid_input", "field": "at", "quarantined": true}),
            "{v}"
        );
    }
    assert_eq!(v["results"][2], json!({"status": "accepted"}));
}

/// A quarantined event is a movement (a card, a door, a time, maybe a
/// holder), like a history entry, whose `Debug` prints no fields: a
/// `{:?}` in a log line or a panic must not carry it.
#[test]
fn a_quarantined_event_prints_no_fields_with_debug() {
    let q = idms::api::dto::QuarantinedView {
        id: 1,
        received_at: T0.to_rfc3339(),
        controller: 1,
        index: 0,
        status: "rejected".into(),
        code: "invalid_uid".into(),
        field: Some("uid".into()),
        event_id: Some("e-secret".into()),
        event: r#"{"uid":"04A1B2C3","user_id":"00000000001Z","door":"vault"}"#.into(),
    };
    let page = idms::api::dto::QuarantinePage { entries: vec![], next_after: None };
    let shown = format!("{q:?} {page:?}");
    for secret in ["04A1B2C3", "00000000001Z", "vault", "e-secret"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    let page = idms::api::dto::QuarantinePage { entries: vec![q], next_after: None };
    let shown = format!("{page:?}");
    for secret in ["04A1B2C3", "00000000001Z", "vault", "e-secret"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}
