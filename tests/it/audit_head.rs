//! Issue 6/12, item 6: `audit verify` names the chain's head so an
//! operator can record it elsewhere, and `--expect SEQ:HASH` fails once
//! the chain no longer holds it — a chain cut short, or rewritten from
//! some entry on, verifies on its own.

use axum::http::{Method, StatusCode};
use idms::store::audit::AuditHead;
use idms::store::{Role, Store};
use rusqlite::Connection;
use serde_json::Value;

use crate::api::Api;
use crate::common::{Fixture, idms, staff, tampered_copy};

fn some_work(s: &Store) {
    let u = s.create_user(&staff(), crate::common::new_user("Chain", "Work")).unwrap().id;
    s.suspend(&staff(), u).unwrap();
    assert!(s.suspend(&staff(), u).is_err());
}

#[test]
fn a_recorded_head_is_checked_and_a_cut_or_rewritten_chain_fails() {
    let f = Fixture::new();
    some_work(&f.store);
    let r = f.store.verify_audit().unwrap();
    let head = r.head.clone().unwrap();
    assert_eq!((head.seq, r.entries), (3, 3));
    assert_eq!(head.hash.len(), 64);
    assert_eq!(AuditHead::parse(&head.to_string()).unwrap(), head);
    // The chain grows; it still holds the recorded head.
    some_work(&f.store);
    let r = f.store.verify_audit_expecting(Some(&head)).unwrap();
    assert_eq!((r.entries, r.head.as_ref().map(|h| h.seq)), (6, Some(6)));

    // Cut short: everything from entry 2 removed. The rest verifies…
    let (_d, cut) = tampered_copy(&f, "DELETE FROM audit WHERE seq >= 2");
    let s = Store::open(&cut, f.clock.clone()).unwrap();
    assert_eq!(s.verify_audit().unwrap().first_bad, None);
    // …but no longer holds the head.
    let e = s.verify_audit_expecting(Some(&head)).unwrap_err();
    assert_eq!(e.code(), "audit_head_missing");
    assert!(e.to_string().contains("entry 3"), "{e}");
    // Rewritten: entries from 2 on removed and others appended in their place, hashes and all.
    let (_d, rewritten) = tampered_copy(&f, "DELETE FROM audit WHERE seq >= 2");
    let s = Store::open(&rewritten, f.clock.clone()).unwrap();
    some_work(&s);
    some_work(&s);
    let r = s.verify_audit().unwrap();
    assert_eq!((r.first_bad, r.entries), (None, 7));
    assert_eq!(s.verify_audit_expecting(Some(&head)).unwrap_err().code(), "audit_head_missing");
    // What came before the rewrite still holds: a head recorded back then still verifies.
    let hash: String = Connection::open(f.db_path())
        .unwrap()
        .query_row("SELECT lower(hex(hash)) FROM audit WHERE seq = 1", [], |r| r.get(0))
        .unwrap();
    assert!(s.verify_audit_expecting(Some(&AuditHead { seq: 1, hash })).is_ok());
    for bad in ["3", "x:00", "0:", &format!("3:{}", "g".repeat(64)), &format!("3:{}", "a".repeat(63))] {
        assert_eq!(AuditHead::parse(bad).unwrap_err().code(), "invalid_input", "{bad}");
    }
}

#[test]
fn the_cli_prints_the_head_and_checks_it() {
    let f = Fixture::new();
    some_work(&f.store);
    let dir = f.dir.path();
    let out = idms(dir, &["audit", "verify"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let head = f.store.verify_audit().unwrap().head.unwrap().to_string();
    assert!(text.contains(&format!("head {head}")), "{text}");
    let out = idms(dir, &["audit", "verify", "--expect", &head, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["head"]["seq"], 3);

    let (copy, _) = tampered_copy(&f, "DELETE FROM audit WHERE seq = 3");
    let out = idms(copy.path(), &["audit", "verify", "--expect", &head, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let e: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(e["code"], "audit_head_missing");
    let out = idms(copy.path(), &["audit", "verify", "--expect", "3:nothex", "--json"]);
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_returns_the_head_and_checks_an_expected_one() {
    let api = Api::new();
    let t = api.token(Role::Manager).to_string();
    let (s, v) = api.call(Method::GET, "/api/v1/audit/verify", Some(&t), None).await;
    assert_eq!(s, StatusCode::OK);
    let head = format!("{}:{}", v["head"]["seq"], v["head"]["hash"].as_str().unwrap());
    some_work(&api.store);
    let (s, v) = api.call(Method::GET, &format!("/api/v1/audit/verify?expect={head}"), Some(&t), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let wrong = format!("{}:{}", v["head"]["seq"].as_i64().unwrap() + 1, "0".repeat(64));
    let (s, v) = api.call(Method::GET, &format!("/api/v1/audit/verify?expect={wrong}"), Some(&t), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("audit_head_missing")), "{v}");
    let (s, v) = api.call(Method::GET, "/api/v1/audit/verify?expect=12", Some(&t), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")), "{v}");
}
