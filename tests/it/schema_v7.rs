//! Schema version 7 (issue 8/12): web UI sessions. A version-6 database
//! with real operators (argon2 passwords), tokens, people and cards opens
//! with the new code, its rows as they were; sessions then open on it, and
//! end for good — by the trigger, whatever path changed the operator — on
//! a disable, a new password or a role change; and are refused once idle,
//! past their lifetime or signed out.

use std::sync::Arc;

use argon2::password_hash::PasswordHasher;
use idms::clock::{Clock, ManualClock};
use idms::domain::UserId;
use idms::store::auth::token_hash;
use idms::store::schema::{MIGRATIONS, latest};
use idms::store::sessions::{SessionEnd, SessionLimits, session_hash};
use idms::store::{Actor, DB_FILE, Principal, Store};
use rusqlite::{Connection, params};

use crate::common::{T0, staff};

const PASSWORD: &str = "correct horse battery";
const PERSON: i64 = 0x0012_3456_789A_BCDE;

fn hash(p: &str) -> String {
    argon2::Argon2::default().hash_password_with_salt(p.as_bytes(), &[7u8; 16]).unwrap().to_string()
}

/// Why session `id` ended, as stored.
fn ended_why(path: &std::path::Path, secret: &str) -> Option<String> {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT ended_why FROM sessions WHERE hash = ?1", [&session_hash(secret)[..]], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_version_6_database_opens_and_its_operators_sessions_end_on_disable_password_and_role_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    {
        let mut c = Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;").unwrap();
        let tx = c.transaction().unwrap();
        for sql in &MIGRATIONS[..6] {
            tx.execute_batch(sql).unwrap();
        }
        tx.execute_batch("PRAGMA user_version = 6").unwrap();
        let pw = hash(PASSWORD);
        tx.execute(
            "INSERT INTO operators (id, name, role, org_unit, password_hash, created_at, disabled_at) VALUES
             (1, 'alice', 'admin', NULL, ?2, ?1, NULL), (2, 'bob', 'viewer', 'north', ?2, ?1, ?1),
             (3, 'carol', 'manager', NULL, ?2, ?1, NULL), (4, 'dave', 'admin', NULL, NULL, ?1, NULL)",
            params![T0.0 - 100, pw],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO tokens (hash, operator_id, label, created_at, expires_at) VALUES (?1, 1, 'cli', ?2, NULL)",
            params![&token_hash("alice-cli")[..], T0.0 - 100],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO users (id, state, given_name, family_name, family_fold, created_at, updated_at, org_unit)
             VALUES (?1, 'active', 'Ottilie', 'Quast', 'quast', ?2, ?2, 'north')",
            params![PERSON, T0.0],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO credentials (id, technology, uid, state, created_at, updated_at)
             VALUES (1, 'iso14443a', X'04A1B2C3', 'issued', ?1, ?1)",
            [T0.0],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO bindings (credential_id, user_id, opened_at, opened_by) VALUES (1, ?1, ?2, 'cli:old')",
            params![PERSON, T0.0],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let clock = Arc::new(ManualClock::new(T0));
    let s = Store::open(&path, clock.clone()).unwrap();
    let v: i64 = Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, latest());

    // The old rows are as they were.
    match s.token_holder(&token_hash("alice-cli"), T0).unwrap().map(|(p, _)| (*p).clone()) {
        Some(Principal::Operator(o)) => assert_eq!(o.name, "alice"),
        other => panic!("alice's token: {other:?}"),
    }
    let u = s.get_user(UserId::from_i64(PERSON)).unwrap();
    assert_eq!((u.family_name.as_deref(), u.credentials.len()), (Some("Quast"), 1));
    assert!(s.operators().unwrap().iter().any(|o| o.name == "bob" && o.disabled_at.is_some()));

    let limits = SessionLimits::default();
    let open = |name: &str| s.open_session(name, PASSWORD, limits).unwrap().unwrap().secret;
    let live = |secret: &str| s.session_by_hash(&session_hash(secret), clock.now()).unwrap();

    // The old password hash opens a session; a wrong password, a disabled
    // operator and one without a password do not.
    let a1 = open("alice");
    assert_eq!(live(&a1).unwrap().operator.name, "alice");
    assert!(s.open_session("alice", "wrong password!", limits).unwrap().is_err());
    assert!(s.open_session("bob", PASSWORD, limits).unwrap().is_err());
    assert!(s.open_session("dave", PASSWORD, limits).unwrap().is_err());

    // A new password ends it.
    s.set_operator_password(&staff(), "alice", "another password").unwrap();
    assert!(live(&a1).is_none());
    assert_eq!(ended_why(&path, &a1).as_deref(), Some("password_changed"));
    s.set_operator_password(&staff(), "alice", PASSWORD).unwrap();
    assert!(live(&a1).is_none(), "setting the old password back does not revive it");

    // Disabling ends it for good: enabling does not bring it back.
    let a2 = open("alice");
    s.set_operator_enabled(&staff(), "alice", false).unwrap();
    assert!(live(&a2).is_none());
    assert_eq!(ended_why(&path, &a2).as_deref(), Some("operator_disabled"));
    s.set_operator_enabled(&staff(), "alice", true).unwrap();
    assert!(live(&a2).is_none(), "enabling the operator does not revive the session");

    // A role change by hand (no code path of this build) ends it too.
    let c1 = open("carol");
    Connection::open(&path).unwrap().execute("UPDATE operators SET role = 'viewer' WHERE name = 'carol'", []).unwrap();
    assert!(live(&c1).is_none());
    assert_eq!(ended_why(&path, &c1).as_deref(), Some("role_changed"));

    // Idle too long; past the absolute lifetime although in use; signed out.
    let short = SessionLimits { idle_secs: 100, max_secs: 150 };
    let idle = s.open_session("alice", PASSWORD, short).unwrap().unwrap().secret;
    let busy = s.open_session("alice", PASSWORD, short).unwrap().unwrap();
    clock.advance(90);
    let b = live(&busy.secret).unwrap();
    s.touch_session(b.id, clock.now()).unwrap();
    clock.advance(15);
    assert!(live(&idle).is_none(), "idle for 105 s of 100");
    assert!(live(&busy.secret).is_some(), "seen 15 s ago");
    clock.advance(50);
    assert!(live(&busy.secret).is_none(), "155 s after sign-in, of 150");
    let a3 = open("alice");
    let id = live(&a3).unwrap().id;
    let alice = Actor::staff("operator:1");
    s.end_session(&alice, 1, id, SessionEnd::SignOut).unwrap();
    assert!(live(&a3).is_none());
    assert_eq!(ended_why(&path, &a3).as_deref(), Some("sign_out"));
    let again = s.end_session(&alice, 1, id, SessionEnd::SignOut).unwrap_err();
    assert_eq!(again.code(), "not_found");
    assert!(s.verify_audit().unwrap().first_bad.is_none());
}
