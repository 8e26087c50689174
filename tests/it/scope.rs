//! Issue 6/12: scope that cannot widen, the tap stream that is not a
//! tracking feed, legal holds only erasers lift, encodings on the record,
//! and request types that never print personal data.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use idms::domain::{Timestamp, Uid};
use idms::readers::{CardType, ReaderEvent, ReaderEventKind};
use idms::store::{AuditQuery, Role};
use serde_json::{Value, json};

use crate::api::Api;
use crate::common::staff;
use crate::enrol::SseClient;

/// A token for a new operator `name` with `role`, held to `unit`.
fn scoped(api: &Api, name: &str, role: Role, unit: &str) -> String {
    api.store.add_operator(&staff(), name, role, Some(unit), None).unwrap();
    api.store.create_token(&staff(), name, role, None).unwrap().1
}

/// A person of `unit`, deleted, whose purge date is long past: what any
/// purge route would expunge.
async fn purgeable(api: &Api, family: &str, unit: &str) -> String {
    let admin = api.token(Role::Admin);
    let body = json!({"given_name": "P", "family_name": family, "org_unit": unit, "purge_date": "2020-01-01"});
    let (s, v) = api.call(Method::POST, "/api/v1/users", Some(admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (s, v) = api.call(Method::POST, &format!("/api/v1/users/{id}/delete"), Some(admin), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    id
}

async fn state_of(api: &Api, id: &str) -> String {
    let (s, v) = api.call(Method::GET, &format!("/api/v1/users/{id}"), Some(api.token(Role::Admin)), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["state"].as_str().unwrap().to_string()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|x| x.as_str().map_or_else(|| x["id"].to_string(), str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_north_eraser_cannot_expunge_anyone_in_south_by_any_route() {
    let api = Api::new();
    let north = scoped(&api, "eraser-north", Role::Eraser, "north");
    let south_person = purgeable(&api, "Southerly", "south").await;
    let north_person = purgeable(&api, "Northerly", "north").await;

    // One person: invisible, so neither previewed nor expunged.
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/api/v1/users/{south_person}/expunge"),
            Some(&north),
            Some(json!({"confirm": south_person})),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");
    let (s, _) =
        api.call(Method::GET, &format!("/api/v1/users/{south_person}/expunge-preview"), Some(&north), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A purge job asking for south is refused; one asking for nothing is held to north.
    let job = |unit: Value, dry: bool| json!({"criteria": {"grace_days": 0, "org_unit": unit}, "dry_run": dry});
    let (s, v) = api.call(Method::POST, "/api/v1/purge-jobs", Some(&north), Some(job(json!("south"), false))).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{v}");
    let (s, v) = api.call(Method::POST, "/api/v1/purge-jobs", Some(&north), Some(job(json!(" south "), true))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = api.call(Method::POST, "/api/v1/purge-jobs", Some(&north), Some(job(Value::Null, true))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v["plan"]["selected"]), std::slice::from_ref(&north_person), "{v}");

    // The erase flow: the south person is not theirs to find or erase.
    let (s, v) = api.call(Method::GET, "/api/v1/users/deleted?org_unit=south", Some(&north), None).await;
    assert_eq!((s, v.as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{v}");
    let (s, v) =
        api.call(Method::POST, "/api/v1/users/erase", Some(&north), Some(json!({"ids": [south_person]}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["erased"].as_array().map(Vec::len), Some(0), "{v}");
    assert_eq!(v["not_erased"].as_array().map(Vec::len), Some(1), "{v}");

    // Bulk purge dates cannot reach south either.
    let body = json!({"purge_date": "2020-01-01", "query": {"org_unit": "south", "state": "deleted"}});
    let (s, _) = api.call(Method::POST, "/api/v1/users/purge-date", Some(&north), Some(body)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A real job run by the service, held to north, leaves south alone.
    let (s, v) = api.call(Method::POST, "/api/v1/purge-jobs", Some(&north), Some(job(Value::Null, false))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().unwrap();
    let mut done = false;
    for _ in 0..200 {
        let (_, j) = api.call(Method::GET, &format!("/api/v1/purge-jobs/{id}"), Some(&north), None).await;
        if j["state"] == "completed" {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(done, "the job did not complete within 10 s");
    assert_eq!(state_of(&api, &north_person).await, "expunged");
    assert_eq!(state_of(&api, &south_person).await, "deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_whose_unit_is_blank_covers_no_one() {
    let api = Api::new();
    let person = purgeable(&api, "Anywhere", "south").await;
    let unitless = purgeable(&api, "Unitless", "").await;
    // A blank unit written around the checks (an old row, or raw SQL), as
    // an attacker with a careless admin's help would have it.
    api.store.add_operator(&staff(), "eraser-blank", Role::Eraser, Some("north"), None).unwrap();
    let c = rusqlite::Connection::open(api.fx.db_path()).unwrap();
    c.execute("UPDATE operators SET org_unit = ' ' WHERE name = 'eraser-blank'", []).unwrap();
    drop(c);
    let blank = api.store.create_token(&staff(), "eraser-blank", Role::Eraser, None).unwrap().1;

    let job = |dry: bool| json!({"criteria": {"grace_days": 0}, "dry_run": dry});
    for body in [job(true), job(false)] {
        let (s, v) = api.call(Method::POST, "/api/v1/purge-jobs", Some(&blank), Some(body)).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{v}");
    }
    let (s, _) =
        api.call(Method::POST, "/api/v1/users/erase", Some(&blank), Some(json!({"ids": [person, unitless]}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let body = json!({"purge_date": "2020-01-01", "query": {"state": "deleted"}});
    let (s, _) = api.call(Method::POST, "/api/v1/users/purge-date", Some(&blank), Some(body)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.call(Method::GET, "/api/v1/users?all=true", Some(&blank), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.call(Method::GET, "/api/v1/users/deleted", Some(&blank), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for id in [&person, &unitless] {
        let (s, _) = api
            .call(Method::POST, &format!("/api/v1/users/{id}/expunge"), Some(&blank), Some(json!({"confirm": id})))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(state_of(&api, id).await, "deleted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_places_a_legal_hold_and_only_an_eraser_lifts_it() {
    let api = Api::new();
    let id = api.person("Held").await;
    let path = format!("/api/v1/users/{id}");
    let (s, v) =
        api.call(Method::PATCH, &path, Some(api.token(Role::Manager)), Some(json!({"legal_hold": true}))).await;
    assert_eq!((s, v["legal_hold"].as_bool()), (StatusCode::OK, Some(true)), "{v}");
    let (s, v) =
        api.call(Method::PATCH, &path, Some(api.token(Role::Manager)), Some(json!({"legal_hold": false}))).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{v}");
    assert!(v["detail"].as_str().unwrap().contains("eraser"), "{v}");
    let (_, v) = api.call(Method::GET, &path, Some(api.token(Role::Admin)), None).await;
    assert_eq!(v["legal_hold"], true, "the refused lift changed nothing");
    let (s, v) =
        api.call(Method::PATCH, &path, Some(api.token(Role::Eraser)), Some(json!({"legal_hold": false}))).await;
    assert_eq!((s, v["legal_hold"].as_bool()), (StatusCode::OK, Some(false)), "{v}");
}

const DESK: &str = "Desk Scope 00 00";

fn tap(api: &Api, reader: &str, uid: &[u8]) {
    let kind =
        ReaderEventKind::Tap { uid: Uid::from_bytes(uid).unwrap(), card_type: CardType::MifareClassic1k, raw: None };
    api.hub.publish(ReaderEvent::new(reader, Timestamp(0), kind, None));
}

/// Starts a tap-to-enrol as `token` and taps `uid` on the desk reader until it answers.
async fn enrol(api: &Api, token: &str, user: &str, uid: &[u8]) -> (StatusCode, Value) {
    let body = json!({"reader": DESK, "user_id": user, "wait_s": 5});
    let call = api.call(Method::POST, "/api/v1/enrollments", Some(token), Some(body));
    tokio::pin!(call);
    loop {
        tokio::select! {
            r = &mut call => return r,
            () = tokio::time::sleep(Duration::from_millis(10)) => tap(api, DESK, uid),
        }
    }
}

async fn person_in(api: &Api, family: &str, unit: &str) -> String {
    let body = json!({"given_name": "U", "family_name": family, "org_unit": unit});
    let (s, v) = api.call(Method::POST, "/api/v1/users", Some(api.token(Role::Admin)), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_is_confirmed_only_by_its_operator_within_their_unit() {
    let api = Api::new();
    api.hub.publish(ReaderEvent::new(DESK, Timestamp(0), ReaderEventKind::ReaderAdded, None));
    let north = scoped(&api, "enroller-north", Role::Enroller, "north");
    let south = scoped(&api, "enroller-south", Role::Enroller, "south");
    let n = person_in(&api, "Nord", "north").await;

    // South cannot start one for a north person, nor confirm north's.
    let (s, _) = enrol(&api, &south, &n, &[0x04, 0x10, 0x20, 0x30]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = enrol(&api, &north, &n, &[0x04, 0x10, 0x20, 0x30]).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let confirm = format!("/api/v1/enrollments/{}/confirm", v["id"].as_str().unwrap());
    for other in [&south, &api.token(Role::Admin).to_string()] {
        let (s, v) = api.call(Method::POST, &confirm, Some(other), None).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("enrollment_not_found")), "{v}");
    }
    let (s, c) = api.call(Method::POST, &confirm, Some(&north), None).await;
    assert_eq!((s, c["holder"].as_str()), (StatusCode::CREATED, Some(n.as_str())), "{c}");
}

#[test]
fn one_operators_pending_enrolments_never_push_out_anothers() {
    use idms::ops::readers::{Enrollments, Pending};
    let e = Enrollments::<u32>::default();
    let pending = |owner: &str, n: u32| Pending {
        owner: owner.to_owned(),
        created: std::time::Instant::now(),
        user: idms::domain::UserId::from_i64(1),
        uid: Uid::from_bytes(&[4, 1, 2, 3]).unwrap(),
        technology: idms::domain::Technology::Iso14443a,
        view: n,
    };
    e.put("mine".into(), pending("operator:1", 0)).unwrap();
    // A flood from another operator: its own oldest go, then new ones are refused.
    let mut refused = 0;
    for i in 0..2000 {
        if e.put(format!("flood-{i}"), pending("operator:2", i)).is_err() {
            refused += 1;
        }
    }
    assert_eq!(refused, 0, "one operator is held to its own quota, never to the service's");
    let me = idms::ops::Acting::Operator(idms::store::Operator {
        id: 1,
        name: "one".into(),
        role: Role::Enroller,
        org_unit: None,
    });
    assert_eq!(e.get(&me, "mine").map(|p| p.view), Some(0), "the flood pushed out another operator's enrolment");
    let flooder = idms::ops::Acting::Operator(idms::store::Operator {
        id: 2,
        name: "two".into(),
        role: Role::Enroller,
        org_unit: None,
    });
    assert!(e.get(&flooder, "mine").is_none(), "a pending enrolment is only its operator's");
    let kept = (0..2000).filter(|i| e.get(&flooder, &format!("flood-{i}")).is_some()).count();
    assert_eq!(kept, Enrollments::<u32>::PER_OPERATOR);
}

/// Serves the in-process router on a loopback port (for SSE clients).
async fn serve(api: &Api) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = api.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn door_readers_never_reach_the_tap_stream_and_holders_show_only_within_the_unit() {
    let api = Api::new();
    // The service's OSDP door reader, from the same configuration `idms serve` reads.
    let line: idms::readers::osdp::LineConfig = toml::from_str(
        "port = \"/nonexistent/idms-door\"\ndevices = [{address = 1, role = \"door\", door = \"main\", id = \"door-in\"}]",
    )
    .unwrap();
    let doors = Arc::new(idms::api::doors::ReaderDoors::new(api.state.clone(), idms::config::OnLogFailure::Decide));
    let _osdp = idms::readers::osdp::Osdp::start(&[line], &api.hub, doors).unwrap();
    api.hub.publish(ReaderEvent::new(DESK, Timestamp(0), ReaderEventKind::ReaderAdded, None));

    let n = person_in(&api, "Nordling", "north").await;
    let s_ = person_in(&api, "Sudling", "south").await;
    assert_eq!(api.enroll(&n, "04AA0001").await.0, StatusCode::CREATED);
    assert_eq!(api.enroll(&s_, "04AA0002").await.0, StatusCode::CREATED);
    let north = scoped(&api, "viewer-north", Role::Enroller, "north");

    let base = serve(&api).await;
    let (b, t) = (base.clone(), north.clone());
    let sse = tokio::task::spawn_blocking(move || SseClient::open(&b, &t, "")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A door read first, then desk taps: the door read never arrives.
    tap(&api, "door-in", &[0x04, 0xAA, 0x00, 0x01]);
    tap(&api, DESK, &[0x04, 0xAA, 0x00, 0x01]);
    tap(&api, DESK, &[0x04, 0xAA, 0x00, 0x02]);
    let taps = tokio::task::spawn_blocking(move || {
        let first = sse.next("tap", Duration::from_secs(5)).map(|(_, v)| v);
        let second = sse.next("tap", Duration::from_secs(5)).map(|(_, v)| v);
        (first, second)
    })
    .await
    .unwrap();
    let (Some(own), Some(other)) = taps else { panic!("the desk taps did not arrive: {taps:?}") };
    assert_eq!(own["reader"], DESK, "a door reader's read reached the tap stream: {own}");
    assert_eq!(own["credential"]["holder"], n.as_str(), "a holder of the operator's own unit is shown: {own}");
    assert_eq!(other["reader"], DESK, "{other}");
    assert_eq!(other["credential"]["status"], "held", "{other}");
    assert_eq!(other["credential"]["holder"], Value::Null, "another unit's holder is hidden: {other}");
    assert_eq!(other["credential"]["holder_state"], Value::Null, "{other}");

    // Nor is a door reader offered for enrolment.
    let body = json!({"reader": "door-in", "user_id": n, "wait_s": 1});
    let (s, v) = api.call(Method::POST, "/api/v1/enrollments", Some(api.token(Role::Admin)), Some(body)).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoding_is_audited_and_held_to_the_holders_unit() {
    let api = Api::new();
    let n = person_in(&api, "Nordkodare", "north").await;
    let s_ = person_in(&api, "Sydkodare", "south").await;
    assert_eq!(api.enroll(&n, "04BB0001").await.0, StatusCode::CREATED);
    assert_eq!(api.enroll(&s_, "04BB0002").await.0, StatusCode::CREATED);
    let north = scoped(&api, "encoder-north", Role::Enroller, "north");
    let encode = |uid: &str| json!({"uid": uid, "number": 4242});
    // Another unit's card: as if it did not exist, and on the record.
    let (s, v) =
        api.call(Method::POST, "/api/v1/encoders/osdp:bench:3/encode", Some(&north), Some(encode("04BB0002"))).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");
    // Their own: the check passes; no encoder is attached in-process, and that is on the record too.
    let (s, v) =
        api.call(Method::POST, "/api/v1/encoders/osdp:bench:3/encode", Some(&north), Some(encode("04BB0001"))).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("encoder_not_found")), "{v}");

    let entries = api.store.audit_entries(&AuditQuery { limit: Some(1000), ..AuditQuery::default() }).unwrap();
    let enc: Vec<_> = entries.iter().filter(|e| e.action == "credential.encode").collect();
    assert_eq!(enc.len(), 2, "{enc:?}");
    let by_card = |c: &str| enc.iter().find(|e| e.target_credential.as_deref() == Some(c)).copied();
    let refused = by_card("iso14443a:04BB0002").expect("the refused encoding is audited");
    assert_eq!(refused.outcome, "not_found");
    let tried = by_card("iso14443a:04BB0001").expect("the attempted encoding is audited");
    assert_eq!(tried.outcome, "encoder_not_found");
    assert_eq!(tried.detail, "encoder=osdp:bench:3");
    assert_eq!(tried.target_user.map(|u| u.to_string()), Some(n.clone()));
    for e in &enc {
        assert!(e.actor.starts_with("operator:"), "{e:?}");
        let text = format!("{e:?}");
        assert!(!text.contains("Nordkodare") && !text.contains("Sydkodare"), "{text}");
    }
}

#[test]
fn request_types_carrying_personal_data_never_print_it() {
    let create: idms::api::staff::CreateUser = serde_json::from_value(json!({
        "given_name": "Zebulon", "family_name": "Quartermaine", "email": "zq@example.org",
        "employee_no": "E-991", "phone": "+1 555 0199", "notes": "allergic to bees"
    }))
    .unwrap();
    let patch: idms::api::staff::PatchUser =
        serde_json::from_value(json!({"family_name": "Quartermaine", "email": "zq@example.org"})).unwrap();
    let list: idms::api::staff::ListUsers = serde_json::from_value(json!({"q": "Quartermaine"})).unwrap();
    let deleted: idms::api::purge::DeletedParams = serde_json::from_value(json!({"q": "Quartermaine"})).unwrap();
    for text in [format!("{create:?}"), format!("{patch:?}"), format!("{list:?}"), format!("{deleted:?}")] {
        for secret in ["Zebulon", "Quartermaine", "zq@example.org", "E-991", "0199", "bees"] {
            assert!(!text.contains(secret), "{text} shows {secret}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_tap_stream_ends_once_its_operator_is_disabled() {
    let api = Api::new();
    let token = scoped(&api, "watcher", Role::Enroller, "north");
    let base = serve(&api).await;
    let sse = tokio::task::spawn_blocking(move || SseClient::open(&base, &token, "")).await.unwrap();
    api.store.set_operator_enabled(&staff(), "watcher", false).unwrap();
    let started = std::time::Instant::now();
    // Nothing is tapped: the stream can only end because its caller lost access.
    let got = tokio::task::spawn_blocking(move || sse.next("tap", Duration::from_secs(15))).await.unwrap();
    assert!(got.is_none());
    assert!(started.elapsed() < Duration::from_secs(15), "the stream stayed open for a disabled operator");
}

#[test]
fn a_tap_of_bytes_held_under_another_technology_shows_them_held() {
    let f = crate::common::Fixture::new();
    let a = f.person().id;
    f.enroll(a, "04A1B2C3").unwrap();
    let me = idms::ops::Acting::Local(staff());
    let uid = Uid::parse_any("04A1B2C3").unwrap();
    // Read as a Wiegand/serial number (technology `other`) at an OSDP enrolment station.
    let v = idms::ops::readers::card_status(&f.store, &me, idms::domain::Technology::Other, &uid).unwrap();
    assert_eq!((v.status, v.holder, v.action, v.code), ("held", Some(a), "refused", Some("credential_held")));
    let fresh = Uid::parse_any("04A1B2C4").unwrap();
    let v = idms::ops::readers::card_status(&f.store, &me, idms::domain::Technology::Other, &fresh).unwrap();
    assert_eq!((v.status, v.action), ("new", "enroll"));
}

/// The rule layer checks scope before a write; the store checks it again
/// inside the write's own transaction, so a person moved to another unit
/// between the two is out of reach (`not_found`, audited), whatever the
/// write: expunge, edit, lifecycle, a card's state, a card of theirs.
#[test]
fn a_person_moved_out_of_the_unit_between_check_and_write_is_out_of_reach() {
    use idms::domain::{LifecycleAction, Technology};
    use idms::ops::Acting;
    use idms::store::{NewUser, UserPatch};

    let f = crate::common::Fixture::new();
    let s = &f.store;
    s.add_operator(&staff(), "eraser-north", Role::Eraser, Some("north"), None).unwrap();
    let token = s.create_token(&staff(), "eraser-north", Role::Eraser, None).unwrap().1;
    let (principal, _) = s.principal(&token, s.now()).unwrap().unwrap();
    let north = Acting::from(principal);
    let person = |family: &str| {
        let new = NewUser { org_unit: Some("north".into()), ..crate::common::new_user("P", family) };
        s.create_user(&staff(), new).unwrap().id
    };
    let (gone, kept) = (person("Moved"), person("Stays"));
    s.enroll(&staff(), gone, Technology::Iso14443a, &crate::common::iso("04A1B2C3")).unwrap();
    s.delete(&staff(), gone).unwrap();
    s.delete(&staff(), kept).unwrap();
    // The check the rule layer made: both are theirs.
    for id in [gone, kept] {
        idms::ops::load_scoped(s, &north, id).unwrap();
    }
    // Then, before the write, an admin moves one to south.
    let patch = UserPatch { org_unit: Some(Some("south".into())), ..UserPatch::default() };
    s.update_user(&staff(), gone, patch).unwrap();

    let actor = north.actor();
    let refused = |r: Result<idms::store::UserRecord, idms::store::StoreError>| {
        assert_eq!(r.map(|u| u.id).unwrap_err().code(), "not_found");
    };
    refused(s.expunge(&actor, gone, &gone.to_string()));
    refused(s.lifecycle(&actor, gone, LifecycleAction::Restore));
    refused(s.update_user(&actor, gone, UserPatch { notes: Some(Some("x".into())), ..UserPatch::default() }));
    let card = s.revoke(&actor, None, &crate::common::iso("04A1B2C3"), idms::domain::RetireReason::Lost);
    assert_eq!(card.map(|c| c.state).unwrap_err().code(), "not_found");
    let enrol = s.enroll(&actor, gone, Technology::Iso14443a, &crate::common::iso("04A1B2C4"));
    assert_eq!(enrol.map(|c| c.state).unwrap_err().code(), "not_found");
    assert_eq!(s.get_user(gone).unwrap().state, idms::domain::UserState::Deleted);
    assert_eq!(
        s.get_credential(None, &crate::common::iso("04A1B2C3")).unwrap().state,
        idms::domain::CredentialState::Issued
    );

    // Each refusal is on the record; the one still in north is theirs to expunge.
    let q = AuditQuery { actor: Some(actor.id.clone()), target_user: Some(gone), ..AuditQuery::default() };
    let entries = s.audit_entries(&q).unwrap();
    let refusals = entries.iter().filter(|e| e.outcome == "not_found").count();
    assert_eq!(refusals, 5, "{entries:?}");
    assert_eq!(s.expunge(&actor, kept, &kept.to_string()).unwrap().state, idms::domain::UserState::Expunged);
}

/// Behind the rule layer, the store itself holds a scoped actor's bulk
/// writes — purge plans, purge jobs, bulk purge dates — to their unit: a
/// query for every unit (or another one) is `forbidden`, and audited.
#[test]
fn the_store_holds_a_scoped_actors_bulk_writes_to_their_unit() {
    use idms::domain::purge::Criteria;
    use idms::store::{Actor, PeopleQuery};

    let f = crate::common::Fixture::new();
    let s = &f.store;
    let north = Actor::staff("operator:7").in_unit(Some("north".into()));
    let every = Criteria { grace_days: 0, ..Criteria::default() };
    let other = Criteria { org_unit: Some("south".into()), ..every.clone() };
    let own = Criteria { org_unit: Some(" north ".into()), ..every.clone() };
    for c in [&every, &other] {
        assert_eq!(s.purge_plan(&north, c).map(|p| p.selected.len()).unwrap_err().code(), "forbidden");
        assert_eq!(s.create_purge_job(&north, c).map(|j| j.id).unwrap_err().code(), "forbidden");
    }
    let dates = |unit: Option<&str>| PeopleQuery { org_unit: unit.map(str::to_owned), ..PeopleQuery::default() };
    let date = Some(idms::domain::time::parse_date("d", "2030-01-01").unwrap());
    for q in [dates(None), dates(Some("south"))] {
        let r = s.set_purge_dates(&north, &PeopleQuery { group: Some("g".into()), ..q }, date);
        assert_eq!(r.unwrap_err().code(), "forbidden");
    }
    let refused = s.audit_entries(&AuditQuery { actor: Some(north.id.clone()), ..AuditQuery::default() }).unwrap();
    assert_eq!(refused.iter().filter(|e| e.outcome == "forbidden").count(), 6, "{refused:?}");
    // Their own unit is theirs.
    s.purge_plan(&north, &own).unwrap();
    s.create_purge_job(&north, &own).unwrap();
    s.set_purge_dates(&north, &dates(Some("north")), date).unwrap();
}
