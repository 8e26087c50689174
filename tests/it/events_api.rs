//! Issue 6/12, must-be-true 5: access events are read through a proper API
//! (`GET /api/v1/access/events`, `idms events list`) — managers and above,
//! scoped to the caller's unit, paged, each query audited with its filters —
//! and kept for `events_retention_days`, pruned by the service and audited
//! as one counted entry.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use idms::domain::{Decision, DenyReason, Timestamp, Uid, UserId};
use idms::store::events::{self, EVENTS_FILE, Outcome, PRUNE_BATCH, Upload};
use idms::store::{AccessEvent, AuditEntry, AuditQuery, EventLog, Role, Store};
use serde_json::{Value, json};

use crate::api::Api;
use crate::common::{Fixture, T0, staff};

const DAY: i64 = 86_400;

fn audit(store: &Store) -> Vec<AuditEntry> {
    store.audit_entries(&AuditQuery { limit: Some(10_000), ..Default::default() }).unwrap()
}

fn reads(store: &Store) -> Vec<AuditEntry> {
    audit(store).into_iter().filter(|e| e.action == "access_events.read").collect()
}

/// `GET /api/v1/access/events?…` as `token`.
async fn list(api: &Api, token: &str, query: &str) -> (StatusCode, Value) {
    api.call(Method::GET, &format!("/api/v1/access/events{query}"), Some(token), None).await
}

/// A person of `unit` (or none) with a card `uid`; returns the ID.
async fn holder(api: &Api, family: &str, unit: Option<&str>, uid: &str) -> String {
    let mut body = json!({"given_name": "Ev", "family_name": family});
    if let Some(u) = unit {
        body["org_unit"] = json!(u);
    }
    let (s, v) = api.call(Method::POST, "/api/v1/users", Some(api.token(Role::Admin)), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (s, v) = api.enroll(&id, uid).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    id
}

async fn upload(api: &Api, events: Value) {
    let (s, v) =
        api.call(Method::POST, "/api/v1/access/events", Some(&api.door.1), Some(json!({ "events": events }))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// A manager's token for an operator held to `unit`.
fn scoped_manager(api: &Api, unit: &str) -> String {
    let name = format!("mgr-{unit}");
    api.store.add_operator(&staff(), &name, Role::Manager, Some(unit), None).unwrap();
    let (op, token) = api.store.create_token(&staff(), &name, Role::Manager, None).unwrap();
    assert_eq!(op.org_unit.as_deref(), Some(unit));
    token
}

fn times(v: &Value) -> Vec<String> {
    v["events"].as_array().unwrap().iter().map(|e| e["at"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_page_through_online_and_uploaded_events_with_filters() {
    let api = Api::new();
    let a = holder(&api, "Alpha", None, "04A1B2C3").await;
    api.fx.clock.set(Timestamp(T0.0 + 10));
    api.decide("04A1B2C3").await;
    api.fx.clock.set(Timestamp(T0.0 + 20));
    api.decide("04FFFFFF").await; // nobody's card
    api.fx.clock.set(Timestamp(T0.0 + DAY));
    api.decide("04A1B2C3").await;
    upload(
        &api,
        json!([
            {"event_id": "off-1", "at": "2026-01-01T00:00:15Z", "door": "main", "uid": "04A1B2C3",
             "decision": "grant", "user_id": a},
            {"event_id": "off-2", "at": "2026-01-01T00:00:05Z", "door": "main", "uid": "04EEEEEE",
             "decision": "deny", "reason": "unknown_credential"},
        ]),
    )
    .await;
    let manager = api.token(Role::Manager).to_string();

    // Every event once, oldest first, two at a time.
    let (mut all, mut pages, mut query) = (Vec::new(), 0, "?limit=2".to_string());
    loop {
        let (s, v) = list(&api, &manager, &query).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(v["events"].as_array().unwrap().len() <= 2);
        all.extend(v["events"].as_array().unwrap().iter().cloned());
        pages += 1;
        match v["next_after"].as_str() {
            Some(next) => query = format!("?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let at: Vec<_> = all.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert_eq!(
        at,
        [
            "2026-01-01T00:00:05Z",
            "2026-01-01T00:00:10Z",
            "2026-01-01T00:00:15Z",
            "2026-01-01T00:00:20Z",
            "2026-01-02T00:00:00Z"
        ]
    );
    assert_eq!(all[1]["source"], "online");
    assert_eq!(all[1]["user_id"].as_str(), Some(a.as_str()));
    assert_eq!(all[1]["uid"], "04A1B2C3");
    assert_eq!(all[1]["controller"], api.door.0);
    assert_eq!(all[2]["source"], "offline");
    assert_eq!(all[2]["event_id"], "off-1");
    assert_eq!((&all[3]["decision"], &all[3]["reason"]), (&json!("deny"), &json!("unknown_credential")));
    assert!(all[3]["user_id"].is_null());

    // Filters: holder, decision, half-open dates, door.
    let (_, v) = list(&api, &manager, &format!("?user_id={a}")).await;
    assert_eq!(times(&v), ["2026-01-01T00:00:10Z", "2026-01-01T00:00:15Z", "2026-01-02T00:00:00Z"]);
    let (_, v) = list(&api, &manager, "?decision=deny").await;
    assert_eq!(times(&v), ["2026-01-01T00:00:05Z", "2026-01-01T00:00:20Z"]);
    let (_, v) = list(&api, &manager, "?decision=unknown_credential&from=2026-01-01T00:00:06Z").await;
    assert_eq!(times(&v), ["2026-01-01T00:00:20Z"]);
    let (_, v) = list(&api, &manager, "?from=2026-01-01&to=2026-01-02").await;
    assert_eq!(v["events"].as_array().unwrap().len(), 4);
    assert!(v.get("next_after").is_none(), "{v}");
    let (_, v) = list(&api, &manager, "?door=side").await;
    assert_eq!(v["events"], json!([]));
    // The default page is 100; an admin reads too.
    let (s, v) = list(&api, api.token(Role::Admin), "").await;
    assert_eq!((s, v["events"].as_array().unwrap().len()), (StatusCode::OK, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_managers_and_above_read_events_and_bad_filters_name_their_field() {
    let api = Api::new();
    for (token, who) in [
        (api.token(Role::Viewer), "viewer"),
        (api.token(Role::Enroller), "enroller"),
        (api.door.1.as_str(), "controller"),
        (api.other_door.1.as_str(), "other controller"),
    ] {
        // Refused for the role before anything in the query is looked at.
        for q in ["", "?limit=0", "?nope=1"] {
            let (s, v) = list(&api, token, q).await;
            assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{who} {q}: {v}");
        }
    }
    let (s, _) = api.call(Method::GET, "/api/v1/access/events", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let manager = api.token(Role::Manager).to_string();
    for (q, field) in [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=lots", "limit"),
        ("?user_id=Jane%20Doe", "user_id"),
        ("?from=last%20Tuesday", "from"),
        ("?from=2026-02-01&to=2026-01-01", "to"),
        ("?decision=open", "decision"),
        ("?after=Jane", "after"),
        ("?door=", "door"),
        ("?uid=04A1B2C3", "query"),
        ("?limit=5&limit=6", "query"),
    ] {
        let (s, v) = list(&api, &manager, q).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")), "{q}: {v}");
        let detail = v["detail"].as_str().unwrap();
        assert!(detail.starts_with(&format!("query parameter {field}:")), "{q}: {detail}");
        for echoed in ["Jane", "Tuesday", "lots", "open", "04A1B2C3"] {
            assert!(!detail.contains(echoed), "{q}: {detail}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_manager_sees_only_the_events_of_people_in_their_unit() {
    let api = Api::new();
    let north = holder(&api, "North", Some("north"), "04000001").await;
    let south = holder(&api, "South", Some("south"), "04000002").await;
    let nowhere = holder(&api, "Nowhere", None, "04000003").await;
    for uid in ["04000001", "04000002", "04000003", "04000004"] {
        api.fx.clock.advance(1);
        api.decide(uid).await;
    }
    upload(
        &api,
        json!([{"event_id": "s", "at": "2026-01-01T00:00:00Z", "door": "main", "uid": "04000002",
                "decision": "grant", "user_id": south}]),
    )
    .await;
    let t = scoped_manager(&api, "north");
    let (s, v) = list(&api, &t, "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let holders: Vec<_> = v["events"].as_array().unwrap().iter().map(|e| e["user_id"].clone()).collect();
    assert_eq!(holders, vec![json!(north)]);
    // Someone of another unit (or of none) is not found, as everywhere else.
    for other in [&south, &nowhere] {
        let (s, v) = list(&api, &t, &format!("?user_id={other}")).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");
    }
    let (s, v) = list(&api, &t, &format!("?user_id={north}&decision=grant")).await;
    assert_eq!((s, v["events"].as_array().unwrap().len()), (StatusCode::OK, 1));
    // Unscoped, the same query sees all five.
    let (_, v) = list(&api, api.token(Role::Manager), "").await;
    assert_eq!(v["events"].as_array().unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_is_audited_once_with_its_filters_and_refusals_too() {
    let api = Api::new();
    let a = holder(&api, "Audited-Person", Some("north"), "04A1B2C3").await;
    api.decide("04A1B2C3").await;
    let manager = api.token(Role::Manager).to_string();
    let (s, _) = list(&api, &manager, &format!("?door=main&user_id={a}&from=2026-01-01&decision=grant&limit=7")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = list(&api, &manager, "").await;
    assert_eq!(s, StatusCode::OK);
    let scoped = scoped_manager(&api, "north");
    let (s, _) = list(&api, &scoped, "?door=main").await;
    assert_eq!(s, StatusCode::OK);
    let r = reads(&api.store);
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(r[0].actor.starts_with("operator:") && r[0].outcome == "ok");
    assert_eq!(r[0].target_user.map(|u| u.to_string()).as_deref(), Some(a.as_str()));
    assert_eq!(
        r[0].detail,
        format!("door=\"main\" user={a} from=2026-01-01T00:00:00Z decision=grant limit=7 returned=1")
    );
    assert_eq!(r[1].detail, "limit=100 returned=1");
    assert_eq!(r[2].detail, "door=\"main\" limit=100 scope=unit returned=1");
    assert!(audit(&api.store).iter().all(|e| !e.detail.contains("Audited-Person")));
    // Refused queries are on the record as well (counted, off the request path).
    let viewer = api.token(Role::Viewer).to_string();
    assert_eq!(list(&api, &viewer, "").await.0, StatusCode::FORBIDDEN);
    assert_eq!(list(&api, &manager, "?limit=0").await.0, StatusCode::BAD_REQUEST);
    let mut refused = Vec::new();
    for _ in 0..250 {
        refused = audit(&api.store)
            .into_iter()
            .filter(|e| e.action == "api.refused" && e.detail.starts_with("GET /api/v1/access/events"))
            .map(|e| e.outcome)
            .collect::<Vec<_>>();
        if refused.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    refused.sort();
    assert_eq!(refused, ["forbidden", "invalid_query"]);
    assert_eq!(reads(&api.store).len(), 3, "a refused query is not a read");
    assert!(api.store.verify_audit().unwrap().first_bad.is_none());
}

/// An event log in `dir` whose writes the test can wait for.
struct Log {
    log: EventLog,
    durable: mpsc::Receiver<u64>,
    last: u64,
}

impl Log {
    fn open(dir: &Path) -> Self {
        let (tx, durable) = mpsc::channel();
        let log = EventLog::open(
            dir,
            100_000,
            Duration::ZERO,
            Box::new(move |t| {
                let _ = tx.send(t);
            }),
        )
        .unwrap();
        Self { log, durable, last: 0 }
    }

    fn online(&mut self, at: i64, user: Option<UserId>) {
        self.last = self.log.submit(event(at, user, None)).unwrap();
    }

    fn uploads(&self, events: Vec<AccessEvent>) {
        let (tx, rx) = mpsc::channel();
        self.log
            .submit_batch(
                std::sync::Arc::new(Upload::of_events(1, Timestamp(0), events)),
                Box::new(move |n| {
                    let _ = tx.send(n);
                }),
            )
            .unwrap();
        rx.recv().unwrap();
    }

    fn sync(&self) {
        if self.last == 0 {
            return;
        }
        while self.durable.recv().unwrap() < self.last {}
    }
}

fn event(at: i64, user: Option<UserId>, event_id: Option<String>) -> AccessEvent {
    let event_id_given = event_id.is_some();
    AccessEvent {
        at: Timestamp(at),
        controller: Some(1),
        online: event_id.is_none(),
        event_id,
        door: "main".into(),
        technology: None,
        uid: Uid::from_bytes(&[4, 1, 2, 3]).unwrap(),
        decision: Decision::Deny(DenyReason::UnknownCredential),
        user_id: user,
        received_at: event_id_given.then_some(Timestamp(at)),
        claimed_at: None,
    }
}

fn prunes(store: &Store) -> Vec<AuditEntry> {
    audit(store).into_iter().filter(|e| e.action == "access_events.prune").collect()
}

#[test]
fn events_past_retention_are_pruned_in_batches_and_audited_once_with_the_count() {
    let fx = Fixture::new();
    let mut log = Log::open(fx.dir.path());
    let now = T0.0 + 400 * DAY;
    fx.clock.set(Timestamp(now));
    // Online groups old and new, and more old uploads than one batch takes.
    log.online(now - 390 * DAY, None);
    log.sync();
    log.online(now - 366 * DAY, Some(UserId::from_i64(5)));
    log.sync();
    log.online(now - 364 * DAY, None);
    log.sync();
    let old: Vec<_> =
        (0..PRUNE_BATCH + 20).map(|i| event(now - 380 * DAY + i as i64, None, Some(format!("o{i}")))).collect();
    log.uploads(old);
    log.uploads(vec![event(now - DAY, None, Some("recent".into()))]);
    let path = fx.dir.path().join(EVENTS_FILE);
    assert_eq!(events::count(fx.dir.path()).unwrap(), (PRUNE_BATCH + 20 + 4) as i64);

    let n = events::prune_retained(&fx.store, &log.log, 365).unwrap();
    assert_eq!(n, (PRUNE_BATCH + 20 + 2) as u64);
    let left: Vec<i64> = events::query(&path, &events::EventQuery { limit: 1000, ..Default::default() })
        .unwrap()
        .events
        .iter()
        .map(|e| e.at.0)
        .collect();
    assert_eq!(left, vec![now - 364 * DAY, now - DAY]);
    let p = prunes(&fx.store);
    assert_eq!(p.len(), 1, "one entry per prune, however many batches");
    assert_eq!(p[0].detail, format!("count={n} before={}", Timestamp(now - 365 * DAY)));
    assert_eq!((p[0].actor.as_str(), p[0].outcome.as_str()), (events::PRUNE_ACTOR, "ok"));

    // Nothing more to prune: nothing more audited. A day later, one more event goes.
    assert_eq!(events::prune_retained(&fx.store, &log.log, 365).unwrap(), 0);
    assert_eq!(prunes(&fx.store).len(), 1);
    fx.clock.advance(DAY + 1);
    assert_eq!(events::prune_retained(&fx.store, &log.log, 365).unwrap(), 1);
    assert_eq!(prunes(&fx.store).len(), 2);
    assert_eq!(events::count(fx.dir.path()).unwrap(), 1);
    assert!(fx.store.verify_audit().unwrap().first_bad.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_prunes_once_at_start() {
    let api = Api::new();
    let now = T0.0 + 30 * DAY;
    api.fx.clock.set(Timestamp(now));
    let (tx, rx) = mpsc::channel();
    api.state
        .events
        .submit_batch(
            std::sync::Arc::new(Upload::of_events(
                1,
                Timestamp(now),
                vec![event(now - 20 * DAY, None, Some("old".into())), event(now - 5 * DAY, None, Some("new".into()))],
            )),
            Box::new(move |n| {
                let _ = tx.send(n);
            }),
        )
        .unwrap();
    assert_eq!(tokio::task::spawn_blocking(move || rx.recv().unwrap()).await.unwrap(), vec![Outcome::Accepted; 2]);
    let pruning = idms::service::spawn_event_pruning(api.state.clone(), 10);
    let mut p = Vec::new();
    for _ in 0..250 {
        p = prunes(&api.store);
        if !p.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pruning.abort();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].detail, format!("count=1 before={}", Timestamp(now - 10 * DAY)));
    let (_, v) = list(&api, api.token(Role::Manager), "").await;
    assert_eq!(v["events"].as_array().unwrap().len(), 1);
    assert_eq!(v["events"][0]["event_id"], "new");
}

fn idms(dir: &Path, args: &[&str]) -> std::process::Output {
    crate::common::idms_cmd(dir, args).env("IDMS_ACTOR", "cli:events-test").output().unwrap()
}

#[test]
fn the_cli_lists_pages_of_events_and_audits_reads_and_refusals() {
    let fx = Fixture::new();
    {
        let mut log = Log::open(fx.dir.path());
        log.online(T0.0 + 1, Some(UserId::from_i64(9)));
        log.sync();
        log.online(T0.0 + 2, None);
        log.sync();
    }
    let dir = fx.dir.path();
    let out = idms(dir, &["events", "list", "--limit", "1", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["events"].as_array().unwrap().len(), 1);
    assert_eq!(v["events"][0]["user_id"], UserId::from_i64(9).to_string());
    let next = v["next_after"].as_str().unwrap().to_string();
    let out = idms(dir, &["events", "list", "--after", &next, "--decision", "deny", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["events"][0]["at"], "2026-01-01T00:00:02Z");
    assert!(v.get("next_after").is_none());
    // A table for people.
    let out = idms(dir, &["events", "list", "--door", "main"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("AT") && text.lines().count() == 3, "{text}");
    // A bad filter: exit 1, the code, nothing echoed, and audited.
    let out = idms(dir, &["events", "list", "--user", "Jane Doe", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let e: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(e["code"], "invalid_query");
    assert!(!e["message"].as_str().unwrap().contains("Jane"));
    let r = reads(&fx.store);
    let outcomes: Vec<_> = r.iter().map(|e| (e.actor.as_str(), e.outcome.as_str())).collect();
    assert_eq!(
        outcomes,
        [
            ("cli:events-test", "ok"),
            ("cli:events-test", "ok"),
            ("cli:events-test", "ok"),
            ("cli:events-test", "invalid_query")
        ]
    );
    assert_eq!(r[1].detail, format!("decision=deny after={next} limit=100 returned=1"));
}

/// A controller back from a long outage uploads its 1,000 offline
/// decisions in one request: with every field at its longest (128-character
/// event IDs of two-byte characters, a 64-character door, a 16-byte UID
/// with colons, nanosecond times) the batch fits the upload's body limit;
/// a 1,001st event is refused by name, and a body past the limit is 413.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_upload_of_the_longest_events_fits_and_more_is_refused() {
    let api = Api::new();
    let door = "d".repeat(64);
    let (_, token) = api.store.add_controller(&staff(), "ctl-long", std::slice::from_ref(&door)).unwrap();
    let who = api.store.create_user(&staff(), crate::common::new_user("Up", "Loader")).unwrap().id.to_string();
    let event = |i: usize| {
        json!({
            "event_id": format!("{i:0>4}{}", "é".repeat(124)),
            "at": "2025-12-31T23:59:59.999999999+14:00",
            "door": door,
            "uid": "04:A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F",
            "technology": "other",
            "decision": "deny",
            "reason": "credential_ambiguous",
            "user_id": who,
        })
    };
    let batch = |n: usize| json!({ "events": (0..n).map(event).collect::<Vec<_>>() });
    let body = batch(1000).to_string().into_bytes();
    assert!(body.len() > idms::api::MAX_BODY, "the batch is larger than other routes accept: {}", body.len());
    let (s, v) =
        api.call_raw(Method::POST, "/api/v1/access/events", Some(&token), Some(body), "application/json").await;
    assert_eq!((s, v["accepted"].as_u64()), (StatusCode::OK, Some(1000)), "{v}");

    let (s, v) = api.call(Method::POST, "/api/v1/access/events", Some(&token), Some(batch(1001))).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")), "{v}");
    assert!(v["detail"].as_str().unwrap().contains("1000"), "{v}");

    let huge = vec![b' '; idms::api::MAX_UPLOAD_BODY + 1];
    let (s, v) =
        api.call_raw(Method::POST, "/api/v1/access/events", Some(&token), Some(huge), "application/json").await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large")), "{v}");
    // Other routes keep the smaller limit.
    let big = vec![b' '; idms::api::MAX_BODY + 1];
    let (s, _) = api.call_raw(Method::POST, "/api/v1/access/decide", Some(&token), Some(big), "application/json").await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
}

/// docs/controllers.md states the contract a controller is written
/// against: every deny reason, the upload limits, the door routes. It
/// cannot drift from the code.
#[test]
fn the_controller_contract_names_every_deny_reason_and_the_limits() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/controllers.md")).unwrap();
    let table = &doc[doc.find("### Deny reasons, and which one wins").unwrap()..];
    let table = &table[..table.find("\n## ").unwrap()];
    let reasons: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("| ") && l.split('|').nth(1).is_some_and(|c| c.trim().parse::<u32>().is_ok()))
        .filter_map(|l| l.split('`').nth(1))
        .collect();
    let mut want: Vec<&str> = DenyReason::ALL.iter().map(|r| r.code()).collect();
    let mut got = reasons.clone();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "the deny-reason table and DenyReason::ALL differ");
    assert_eq!(reasons.first(), Some(&"credential_ambiguous"), "ambiguity wins over every other reason");
    assert!(doc.contains(&format!("at most **{} events**", idms::ops::doors::MAX_UPLOAD).replace("1000", "1,000")));
    assert!(doc.contains(&format!("up to **{} MiB**", idms::api::MAX_UPLOAD_BODY / (1024 * 1024))));
    assert!(doc.contains(&format!("other routes: {} KiB", idms::api::MAX_BODY / 1024)));
    assert!(doc.contains(&format!("more than **{} s ahead**", idms::ops::doors::MAX_CLOCK_AHEAD_SECS)));
    assert!(doc.contains(
        &format!("quarantine is full ({} events)", idms::store::events::QUARANTINE_MAX).replace("10000", "10,000")
    ));
    for route in [
        "POST /api/v1/access/decide",
        "GET /api/v1/controllers/{id}/credentials",
        "GET /api/v1/controllers/me/credentials",
        "POST /api/v1/access/events",
    ] {
        assert!(doc.contains(&format!("`{route}`")), "{route} missing");
    }
}
