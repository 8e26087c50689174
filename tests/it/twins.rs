//! Issue 6/12, must-be-true 1: one holder per card, whatever the
//! technology. The same UID bytes cannot be bound to a second person under
//! another technology by any path (store, CLI, `POST /credentials`,
//! tap-to-enrol from a desk reader or an OSDP enrolment station), nor by
//! SQL written around the code; twins an older database holds deny
//! `credential_ambiguous` (online, at OSDP doors and in the controller
//! feed) until an admin unbinds one.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use idms::clock::ManualClock;
use idms::domain::{Decision, DenyReason, Technology, Timestamp, Uid, UserId};
use idms::readers::osdp::{Doors, RawRead};
use idms::readers::{CardType, ReaderEvent, ReaderEventKind};
use idms::store::{AuditQuery, DB_FILE, Role, Store};
use rusqlite::{Connection, params};
use serde_json::{Value, json};

use crate::api::Api;
use crate::common::{Fixture, T0, iso, staff};
use crate::schema_v5::{NAMES, TWIN, v4_with_twin};

fn other(uid: &str) -> Uid {
    Uid::parse_for(Technology::Other, uid).unwrap()
}

/// Binds `uid` as `other` to `user` behind the code's back, as an older
/// build could: the trigger is dropped for the insert and put back.
pub fn force_twin(db: &Path, uid: &Uid, user: UserId) {
    let mut c = Connection::open(db).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
    let trigger: String = tx
        .query_row("SELECT sql FROM sqlite_master WHERE name = 'bindings_one_holder_per_uid'", [], |r| r.get(0))
        .unwrap();
    tx.execute_batch("DROP TRIGGER bindings_one_holder_per_uid").unwrap();
    tx.execute(
        "INSERT INTO credentials (technology, uid, state, created_at, updated_at) VALUES ('other', ?1, 'issued', 0, 0)",
        [uid.as_bytes()],
    )
    .unwrap();
    tx.execute(
        "INSERT INTO bindings (credential_id, user_id, opened_at, opened_by) VALUES (last_insert_rowid(), ?1, 0, 'old')",
        [user.as_i64()],
    )
    .unwrap();
    tx.execute_batch(&trigger).unwrap();
    tx.commit().unwrap();
}

#[test]
fn a_second_holder_under_another_technology_is_refused_and_audited() {
    let f = Fixture::new();
    let (a, b) = (f.person().id, f.person().id);
    f.enroll(a, TWIN).unwrap();
    let e = f.store.enroll(&staff(), b, Technology::Other, &other(TWIN)).unwrap_err();
    assert_eq!(e.code(), "credential_held");
    let msg = e.to_string();
    assert!(msg.contains(&a.to_string()) && msg.contains("(active)") && msg.contains("iso14443a"), "{msg}");
    // Whatever the holder's state until they are expunged.
    f.store.delete(&staff(), a).unwrap();
    let msg = f.store.enroll(&staff(), b, Technology::Other, &other(TWIN)).unwrap_err().to_string();
    assert!(msg.contains(&a.to_string()) && msg.contains("(deleted)"), "{msg}");
    let refused = f
        .store
        .audit_entries(&AuditQuery::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "credential.enroll" && e.outcome == "credential_held")
        .count();
    assert_eq!(refused, 2);
    // Nothing was bound; the door still sees A's card only.
    assert!(f.store.get_credential(Some(Technology::Other), &other(TWIN)).is_err());
    f.store.restore(&staff(), a).unwrap();
    assert_eq!(f.store.index().decide_with_holder(None, &iso(TWIN), T0), (Decision::Grant, Some(a)));
    // The same person may hold the bytes under another technology.
    f.store.enroll(&staff(), a, Technology::Other, &other(TWIN)).unwrap();
    assert_eq!(f.store.index().decide_with_holder(None, &iso(TWIN), T0), (Decision::Grant, Some(a)));
    // Once A is expunged both go back to stock, and B may have the bytes.
    f.store.delete(&staff(), a).unwrap();
    f.store.expunge(&staff(), a, &a.to_string()).unwrap();
    f.store.enroll(&staff(), b, Technology::Other, &other(TWIN)).unwrap();
    assert_eq!(
        f.store.index().decide_with_holder(Some(Technology::Other), &other(TWIN), T0),
        (Decision::Grant, Some(b))
    );
}

#[test]
fn the_database_refuses_a_twin_written_around_the_code() {
    let f = Fixture::new();
    let (a, b) = (f.person().id, f.person().id);
    f.enroll(a, TWIN).unwrap();
    let c = Connection::open(f.db_path()).unwrap();
    c.execute(
        "INSERT INTO credentials (technology, uid, state, created_at, updated_at) VALUES ('other', ?1, 'issued', 0, 0)",
        [iso(TWIN).as_bytes()],
    )
    .unwrap();
    let cred = c.last_insert_rowid();
    let open = "INSERT INTO bindings (credential_id, user_id, opened_at, opened_by) VALUES (?1, ?2, 0, 'sql')";
    let e = c.execute(open, params![cred, b.as_i64()]).unwrap_err().to_string();
    assert!(e.contains("credential_held"), "{e}");
    // Nor by reopening a closed binding, or moving one to another person.
    c.execute(
        "INSERT INTO bindings (credential_id, user_id, opened_at, opened_by, closed_at, closed_by, close_reason)
         VALUES (?1, ?2, 0, 'sql', 1, 'sql', 'holder_expunged')",
        params![cred, b.as_i64()],
    )
    .unwrap();
    let closed = c.last_insert_rowid();
    let e = c
        .execute("UPDATE bindings SET closed_at = NULL, closed_by = NULL, close_reason = NULL WHERE id = ?1", [closed])
        .unwrap_err()
        .to_string();
    assert!(e.contains("credential_held"), "{e}");
    // An open binding of the same bytes held by A, under the other technology, moved to B.
    c.execute(open, params![cred, a.as_i64()]).unwrap();
    let e = c
        .execute(
            "UPDATE bindings SET user_id = ?1 WHERE credential_id = ?2 AND closed_at IS NULL",
            params![b.as_i64(), cred],
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("credential_held"), "{e}");
    c.execute("UPDATE bindings SET closed_at = 2, closed_by = 'sql', close_reason = 'holder_expunged' WHERE credential_id = ?1 AND closed_at IS NULL", [cred]).unwrap();
    // Nor by changing a credential's bytes.
    c.execute(
        "INSERT INTO credentials (technology, uid, state, created_at, updated_at) VALUES ('other', x'0A0B0C0D', 'issued', 0, 0)",
        [],
    )
    .unwrap();
    let e = c
        .execute("UPDATE credentials SET uid = ?1 WHERE uid = x'0A0B0C0D'", [iso(TWIN).as_bytes()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("never change"), "{e}");
    // The holder themself may hold the bytes under another technology.
    c.execute(open, params![cred, a.as_i64()]).unwrap();
}

fn idms(dir: &Path, args: &[&str]) -> Output {
    crate::common::idms_cmd(dir, args).env("IDMS_LOG", "warn").output().unwrap()
}

fn code_of(out: &Output) -> (Option<i32>, String, String) {
    let e: Value = serde_json::from_slice(&out.stderr).unwrap_or(Value::Null);
    (
        out.status.code(),
        e["code"].as_str().unwrap_or_default().to_string(),
        e["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn the_cli_refuses_the_second_holder() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    assert!(idms(dir, &["init"]).status.success());
    let add = |family: &str| {
        let out = idms(dir, &["user", "add", "--given", "Casey", "--family", family, "--json"]);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["id"].as_str().unwrap().to_string()
    };
    let (a, b) = (add("Alpha"), add("Beta"));
    assert!(idms(dir, &["card", "enroll", "--user", &a, "--uid", TWIN]).status.success());
    let out = idms(dir, &["card", "enroll", "--user", &b, "--uid", TWIN, "--tech", "other", "--json"]);
    let (status, code, message) = code_of(&out);
    assert_eq!((status, code.as_str()), (Some(1), "credential_held"), "{message}");
    assert!(message.contains(&a), "{message}");
    let out = idms(dir, &["decide", "--uid", TWIN, "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["decision"], "grant");
}

/// Starts `POST /enrollments` for `user` and keeps presenting `kind` on `reader`.
async fn enrol_with(api: &Api, reader: &str, user: &str, kind: ReaderEventKind) -> (StatusCode, Value) {
    let body = json!({"reader": reader, "user_id": user, "wait_s": 5});
    let call = api.call(Method::POST, "/api/v1/enrollments", Some(api.token(Role::Enroller)), Some(body));
    tokio::pin!(call);
    loop {
        tokio::select! {
            r = &mut call => return r,
            () = tokio::time::sleep(Duration::from_millis(10)) => {
                api.hub.publish(ReaderEvent::new(reader, Timestamp(0), kind.clone(), None));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_path_refuses_the_second_holder() {
    let api = Api::new();
    let (a, b) = (api.person("Alpha").await, api.person("Beta").await);
    let a_id: UserId = a.parse().unwrap();
    // A holds the bytes as `other` (a Wiegand-less OSDP read would be looked up as ISO 14443-A).
    api.store.enroll(&staff(), a_id, Technology::Other, &other(TWIN)).unwrap();

    let body = json!({"uid": TWIN, "technology": "iso14443a", "user_id": b});
    let (s, e) = api.call(Method::POST, "/api/v1/credentials", Some(api.token(Role::Enroller)), Some(body)).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("credential_held")), "{e}");
    assert!(e["detail"].as_str().unwrap().contains(&a), "{e}");

    // Tap-to-enrol: a desk reader (PC/SC) and an OSDP enrolment station reading the card serial number.
    let osdp = RawRead { format: "raw", bits: 32, data: TWIN.into(), facility: None, card: None };
    for (reader, raw) in [("Desk 00 00", None), ("osdp:/dev/ttyS9:3", Some(Box::new(osdp)))] {
        api.hub.publish(ReaderEvent::new(reader, Timestamp(0), ReaderEventKind::ReaderAdded, None));
        let tap = ReaderEventKind::Tap { uid: iso(TWIN), card_type: CardType::Other, raw };
        let (s, v) = enrol_with(&api, reader, &b, tap).await;
        assert_eq!((s, v["technology"].as_str()), (StatusCode::CREATED, Some("iso14443a")), "{v}");
        let confirm = format!("/api/v1/enrollments/{}/confirm", v["id"].as_str().unwrap());
        let (s, e) = api.call(Method::POST, &confirm, Some(api.token(Role::Enroller)), None).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("credential_held")), "{reader}: {e}");
    }
    // The door hears A's card as A's.
    let v = api.decide(TWIN).await;
    assert_eq!((v["decision"].as_str(), v["user_id"].as_str()), (Some("grant"), Some(a.as_str())), "{v}");
}

/// An old database with a twin, served.
fn served_old() -> (Api, UserId, UserId) {
    let old = v4_with_twin();
    let clock = Arc::new(ManualClock::new(T0));
    let store = Store::open(&old.path, clock.clone()).unwrap();
    let (a, b) = (old.a, old.b);
    (Api::over(Fixture { dir: old.dir, store, clock }), a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twins_from_an_old_database_deny_ambiguous_until_an_admin_unbinds_one() {
    let (api, a, b) = served_old();
    let admin = api.token(Role::Admin).to_string();
    let ctl = api.door.1.clone();
    let twin = iso(TWIN);

    // The service's own OSDP door readers deny (their event is queued, not waited for)…
    assert!(
        !idms::api::doors::ReaderDoors::new(api.state.clone(), idms::config::OnLogFailure::Decide)
            .decide("front", None, &twin)
    );
    // …and so does the online decision, with and without a technology, naming nobody.
    for tech in [None, Some("iso14443a"), Some("other")] {
        let body = json!({"uid": TWIN, "door": "main", "technology": tech});
        let (s, v) = api.call(Method::POST, "/api/v1/access/decide", Some(&ctl), Some(body)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v, json!({"decision": "deny", "reason": "credential_ambiguous", "user_id": null}), "{tech:?}");
    }
    // Every event (durable once the last online answer came) logs no holder.
    let events = idms::store::events::read_all(api.fx.dir.path()).unwrap();
    assert_eq!(events.len(), 4);
    for e in &events {
        assert_eq!((e.decision, e.user_id), (Decision::Deny(DenyReason::CredentialAmbiguous), None), "{e:?}");
    }
    // The controllers' feed marks both credentials ambiguous.
    let (s, feed) =
        api.call(Method::GET, &format!("/api/v1/controllers/{}/credentials", api.door.0), Some(&ctl), None).await;
    assert_eq!(s, StatusCode::OK, "{feed}");
    let marked = |feed: &Value| -> Vec<(String, bool)> {
        feed["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["uid"] == TWIN)
            // `ambiguous` is left out when false.
            .map(|e| (e["technology"].as_str().unwrap().to_string(), e.get("ambiguous").is_some_and(|a| a == true)))
            .collect()
    };
    assert_eq!(marked(&feed), [("iso14443a".into(), true), ("other".into(), true)]);
    assert!(
        feed["entries"].as_array().unwrap().iter().filter(|e| e["uid"] != TWIN).all(|e| e.get("ambiguous").is_none())
    );
    let cursor = feed["cursor"].as_str().unwrap().to_string();

    // Admins (without an org unit) list and resolve twins; nobody else does.
    let (s, list) = api.call(Method::GET, "/api/v1/credentials/twins", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(
        (list[1]["technology"].as_str(), list[1]["holder"].as_str()),
        (Some("other"), Some(b.to_string().as_str()))
    );
    let unbind = |uid: &str, tech: &str| format!("/api/v1/credentials/{uid}/unbind?technology={tech}");
    let (s, e) = api.call(Method::POST, &unbind(TWIN, "other"), Some(api.token(Role::Manager)), None).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    api.store.add_operator(&staff(), "north-admin", Role::Admin, Some("north"), None).unwrap();
    let (_, scoped_admin) = api.store.create_token(&staff(), "north-admin", Role::Admin, None).unwrap();
    let (s, e) = api.call(Method::POST, &unbind(TWIN, "other"), Some(&scoped_admin), None).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{e}");
    let (s, _) = api.call(Method::GET, "/api/v1/credentials/twins", Some(&scoped_admin), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Only a twin can be unbound: not a card with one holder, not a missing technology.
    let (s, e) = api.call(Method::POST, &unbind("0A0B0C", "other"), Some(&admin), None).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("not_a_twin")), "{e}");
    let (s, e) = api.call(Method::POST, &format!("/api/v1/credentials/{TWIN}/unbind"), Some(&admin), None).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")), "{e}");

    let (s, c) = api.call(Method::POST, &unbind(TWIN, "other"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!((c["state"].as_str(), &c["holder"]), (Some("destroyed"), &Value::Null), "{c}");
    assert_eq!(c["bindings"][0]["close_reason"], "twin_unbound");
    assert_eq!(c["bindings"][0]["user_id"], b.to_string());

    // A's card is A's again where the reader names the technology; a reader
    // that cannot tell may be reading the unbound card, and keeps denying.
    assert_eq!(
        api.store.index().decide_with_holder(Some(Technology::Iso14443a), &twin, T0),
        (Decision::Grant, Some(a))
    );
    assert_eq!(api.decide(TWIN).await["reason"], "credential_destroyed");
    let (_, delta) = api
        .call(Method::GET, &format!("/api/v1/controllers/{}/credentials?since={cursor}", api.door.0), Some(&ctl), None)
        .await;
    assert_eq!(delta["kind"], "delta");
    // A's card stays, no longer ambiguous; the unbound one has no holder but
    // stays too, destroyed, while its bytes are held under another technology
    // (a reader that cannot tell the technology denies them offline as online).
    assert_eq!(marked(&delta), [("iso14443a".into(), false), ("other".into(), false)]);
    let unbound = delta["entries"].as_array().unwrap().iter().find(|e| e["technology"] == "other").unwrap();
    assert_eq!(unbound, &json!({"technology": "other", "uid": TWIN, "state": "destroyed"}), "{delta}");
    assert!(delta.get("removed").is_none(), "{delta}");
    let (_, list) = api.call(Method::GET, "/api/v1/credentials/twins", Some(&admin), None).await;
    assert_eq!(list, json!([]));

    // The unbound card is retired for good: not bound again, to anyone.
    for (who, code) in [(b, "credential_held"), (a, "credential_retired")] {
        let e = api.store.enroll(&staff(), who, Technology::Other, &other(TWIN)).unwrap_err();
        assert_eq!(e.code(), code, "{e}");
    }
    let audit = api.store.audit_entries(&AuditQuery { limit: Some(1000), ..AuditQuery::default() }).unwrap();
    let unbinds: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "credential.unbind")
        .map(|e| (e.outcome.as_str(), e.target_credential.as_deref(), e.target_user))
        .collect();
    assert_eq!(
        unbinds,
        [
            ("not_a_twin", Some("other:0A0B0C"), Some(b)),
            ("invalid_input", None, None),
            ("ok", Some("other:04A1B2C3"), Some(b)),
        ]
    );
    assert!(audit.iter().all(|e| !NAMES.iter().any(|n| e.detail.contains(n))));
}

#[test]
fn the_migration_lists_twins_without_names_and_the_cli_resolves_them() {
    let old = v4_with_twin();
    let dir = old.dir.path();
    // The first command on the old database migrates it and logs the twins.
    let out = idms(dir, &["card", "twins", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = String::from_utf8_lossy(&out.stderr);
    for (tech, holder) in [("iso14443a", old.a), ("other", old.b)] {
        let line = log.lines().find(|l| l.contains(&format!("{tech}:{TWIN}"))).unwrap_or_else(|| panic!("{log}"));
        assert!(line.contains(&holder.to_string()) && line.contains("issued") && line.contains("active"), "{line}");
    }
    assert!(!NAMES.iter().any(|n| log.contains(n) || log.contains(&n.to_lowercase())), "{log}");
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    // Opened again: migrated already, nothing more to say.
    let out = idms(dir, &["card", "twins"]);
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&old.b.to_string()));

    let decide = |args: &[&str]| -> Value {
        let mut a = vec!["decide", "--uid", TWIN, "--json"];
        a.extend_from_slice(args);
        serde_json::from_slice(&idms(dir, &a).stdout).unwrap()
    };
    assert_eq!(decide(&[])["reason"], "credential_ambiguous");
    assert_eq!(decide(&["--tech", "iso14443a"])["reason"], "credential_ambiguous");
    let out = idms(dir, &["card", "unbind", TWIN, "--tech", "other", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((c["state"].as_str(), &c["holder"]), (Some("destroyed"), &Value::Null));
    assert_eq!(decide(&["--tech", "iso14443a"])["decision"], "grant");
    // No twin left: unbinding is refused, and audited.
    let out = idms(dir, &["card", "unbind", TWIN, "--tech", "iso14443a", "--json"]);
    let (status, code, message) = code_of(&out);
    assert_eq!((status, code.as_str()), (Some(1), "not_a_twin"), "{message}");
    let s = Store::open(&dir.join(DB_FILE), Arc::new(ManualClock::new(T0))).unwrap();
    let outcomes: Vec<_> = s
        .audit_entries(&AuditQuery::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "credential.unbind")
        .map(|e| e.outcome)
        .collect();
    assert_eq!(outcomes, ["ok", "not_a_twin"]);
}
