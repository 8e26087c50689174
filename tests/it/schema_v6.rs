//! Schema version 6 (issue 7/12): the auth log. A version-5 database with
//! real operators, controllers and tokens opens with the new code, and the
//! token set built from it accepts exactly the tokens that worked before.

use std::sync::Arc;

use idms::clock::ManualClock;
use idms::store::auth::token_hash;
use idms::store::schema::{MIGRATIONS, latest};
use idms::store::{DB_FILE, Principal, Store};
use rusqlite::{Connection, params};

use crate::common::{T0, staff};

fn token(
    c: &Connection,
    secret: &str,
    operator: Option<i64>,
    controller: Option<i64>,
    expires: Option<i64>,
    revoked: Option<i64>,
) {
    c.execute(
        "INSERT INTO tokens (hash, operator_id, controller_id, label, created_at, expires_at, revoked_at)
         VALUES (?1, ?2, ?3, 'cli', ?4, ?5, ?6)",
        params![&token_hash(secret)[..], operator, controller, T0.0 - 100, expires, revoked],
    )
    .unwrap();
}

#[test]
fn a_version_5_database_with_operators_and_tokens_opens_and_its_tokens_still_decide() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    {
        let mut c = Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;").unwrap();
        let tx = c.transaction().unwrap();
        for sql in &MIGRATIONS[..5] {
            tx.execute_batch(sql).unwrap();
        }
        tx.execute_batch("PRAGMA user_version = 5").unwrap();
        tx.execute(
            "INSERT INTO operators (id, name, role, org_unit, created_at, disabled_at) VALUES
             (1, 'alice', 'admin', NULL, ?1, NULL), (2, 'bob', 'viewer', 'north', ?1, ?1)",
            [T0.0 - 100],
        )
        .unwrap();
        tx.execute("INSERT INTO controllers (id, name, created_at) VALUES (7, 'ctl', ?1)", [T0.0 - 100]).unwrap();
        tx.execute("INSERT INTO controller_doors (controller_id, door) VALUES (7, 'main'), (7, 'side')", []).unwrap();
        token(&tx, "alice-live", Some(1), None, Some(T0.0 + 3600), None);
        token(&tx, "alice-revoked", Some(1), None, None, Some(T0.0 - 1));
        token(&tx, "alice-expired", Some(1), None, Some(T0.0), None);
        token(&tx, "bob-live", Some(2), None, None, None);
        token(&tx, "ctl-live", None, Some(7), None, None);
        tx.commit().unwrap();
    }
    let s = Store::open(&path, Arc::new(ManualClock::new(T0))).unwrap();
    let v: i64 = Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, latest());
    let holder = |secret: &str| s.token_holder(&token_hash(secret), T0).unwrap().map(|(p, e)| ((*p).clone(), e));
    match holder("alice-live") {
        Some((Principal::Operator(o), Some(e))) => assert_eq!((o.id, o.name.as_str(), e.0), (1, "alice", T0.0 + 3600)),
        other => panic!("alice's live token: {other:?}"),
    }
    for refused in ["alice-revoked", "alice-expired", "bob-live", "never-issued"] {
        assert!(holder(refused).is_none(), "{refused}");
        assert!(s.principal(refused, T0).unwrap().is_none(), "the store agrees on {refused}");
    }
    match holder("ctl-live") {
        Some((Principal::Controller(c), None)) => assert_eq!((c.id, c.doors), (7, vec!["main".into(), "side".into()])),
        other => panic!("the controller's token: {other:?}"),
    }
    // The migrated database logs changes: enabling bob (a write of this
    // store) brings his token back at once, a revocation ends alice's.
    s.set_operator_enabled(&staff(), "bob", true).unwrap();
    match holder("bob-live") {
        Some((Principal::Operator(o), None)) => assert_eq!(o.org_unit.as_deref(), Some("north")),
        other => panic!("bob's token once enabled: {other:?}"),
    }
    s.revoke_token(&staff(), "alice-live").unwrap();
    assert!(holder("alice-live").is_none());
    assert!(s.verify_audit().unwrap().first_bad.is_none());
}
