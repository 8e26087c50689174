//! Schema version 5 (issue 6/12): a version-4 database with real rows —
//! twins included, as an older build let them in — opens with the new
//! code; and the database itself refuses a retired card changing state and
//! an expunged person becoming anything else.

use std::path::PathBuf;
use std::sync::Arc;

use idms::clock::ManualClock;
use idms::domain::{CredentialState, RetireReason, Technology, Uid, UserId, UserState};
use idms::store::schema::{MIGRATIONS, latest};
use idms::store::{DB_FILE, Store};
use rusqlite::{Connection, params};
use tempfile::TempDir;

use crate::common::{Fixture, T0, iso, staff};

/// The twin's bytes: ISO 14443-A for A, `other` for B.
pub const TWIN: &str = "04A1B2C3";
/// Names only an old database's rows hold (never to be seen in a log).
pub const NAMES: [&str; 2] = ["Adelheid", "Bartholomew"];

/// A database at schema version 4, as an older build left it.
pub struct Old {
    pub dir: TempDir,
    pub path: PathBuf,
    /// Holds `TWIN` as ISO 14443-A, and a lost EM4100 card.
    pub a: UserId,
    /// Holds `TWIN` as `other`, and `0A0B0C` as `other`.
    pub b: UserId,
    /// Expunged; their card went back to stock.
    pub gone: UserId,
}

fn user(c: &Connection, id: UserId, state: &str, given: Option<&str>) {
    c.execute(
        "INSERT INTO users (id, state, given_name, family_name, family_fold, email, created_at, updated_at, deleted_at,
             expunged_at, expunged_by, org_unit, user_group)
         VALUES (?1, ?2, ?3, ?3, lower(?3), ?4, ?5, ?5, ?6, ?6, ?7, 'north', 'staff')",
        params![
            id.as_i64(),
            state,
            given,
            given.map(|g| format!("{}@example.test", g.to_lowercase())),
            T0.0,
            (state == "expunged").then_some(T0.0 + 5),
            (state == "expunged").then_some("cli:old"),
        ],
    )
    .unwrap();
    c.execute(
        "INSERT INTO change_log (at, kind, user_id, user_state) VALUES (?1, 'user', ?2, ?3)",
        params![T0.0, id.as_i64(), state],
    )
    .unwrap();
}

fn card(c: &Connection, id: i64, tech: &str, uid: &[u8], state: &str, holder: Option<(UserId, Option<&str>)>) {
    c.execute(
        "INSERT INTO credentials (id, technology, uid, state, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![id, tech, uid, state, T0.0],
    )
    .unwrap();
    if let Some((h, closed)) = holder {
        c.execute(
            "INSERT INTO bindings (credential_id, user_id, opened_at, opened_by, closed_at, closed_by, close_reason)
             VALUES (?1, ?2, ?3, 'cli:old', ?4, ?5, ?6)",
            params![id, h.as_i64(), T0.0, closed.map(|_| T0.0 + 5), closed.map(|_| "cli:old"), closed],
        )
        .unwrap();
    }
    let open_holder = holder.filter(|(_, closed)| closed.is_none()).map_or(0, |(h, _)| h.as_i64());
    c.execute(
        "INSERT INTO change_log (at, kind, user_id, technology, uid, credential_state)
         VALUES (?1, 'credential', ?2, ?3, ?4, ?5)",
        params![T0.0, open_holder, tech, uid, state],
    )
    .unwrap();
}

/// Runs only migrations 1–4 and fills in people, cards and bindings —
/// including a twin, which version 4 did not refuse.
pub fn v4_with_twin() -> Old {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let mut c = Connection::open(&path).unwrap();
    c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;").unwrap();
    let tx = c.transaction().unwrap();
    for sql in &MIGRATIONS[..4] {
        tx.execute_batch(sql).unwrap();
    }
    tx.execute_batch("PRAGMA user_version = 4").unwrap();
    let (a, b, gone) = (UserId::from_i64(0x0A1B_2C3D_4E5F), UserId::from_i64(0x0B2C_3D4E_5F60), UserId::from_i64(77));
    user(&tx, a, "active", Some(NAMES[0]));
    user(&tx, b, "active", Some(NAMES[1]));
    user(&tx, gone, "expunged", None);
    let twin = Uid::parse_any(TWIN).unwrap();
    card(&tx, 1, "iso14443a", twin.as_bytes(), "issued", Some((a, None)));
    card(&tx, 2, "other", twin.as_bytes(), "issued", Some((b, None)));
    card(&tx, 3, "em4100", &[1, 2, 3, 4, 5], "lost", Some((a, None)));
    card(&tx, 4, "iso14443a", &[4, 0xD1, 0xE2, 0xF3], "in_stock", Some((gone, Some("holder_expunged"))));
    card(&tx, 5, "other", &[0x0A, 0x0B, 0x0C], "issued", Some((b, None)));
    tx.commit().unwrap();
    drop(c);
    Old { dir, path, a, b, gone }
}

#[test]
fn a_version_4_database_with_real_rows_opens_and_keeps_them() {
    let old = v4_with_twin();
    let s = Store::open(&old.path, Arc::new(ManualClock::new(T0))).unwrap();
    let c = Connection::open(&old.path).unwrap();
    let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, latest());
    // People, cards and every binding (open and closed) are as they were.
    let a = s.get_user(old.a).unwrap();
    assert_eq!((a.given_name.as_deref(), a.state), (Some(NAMES[0]), UserState::Active));
    assert_eq!(s.get_user(old.gone).unwrap().state, UserState::Expunged);
    let n: i64 = c.query_row("SELECT COUNT(*) FROM bindings", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 5);
    let back = s.get_credential(Some(Technology::Iso14443a), &iso("04D1E2F3")).unwrap();
    assert_eq!((back.state, back.holder), (CredentialState::InStock, None));
    assert_eq!(back.bindings.len(), 1);
    assert_eq!(
        (back.bindings[0].user_id, back.bindings[0].close_reason.as_deref()),
        (old.gone, Some("holder_expunged"))
    );
    let lost = s.get_credential(Some(Technology::Em4100), &Uid::parse_any("0102030405").unwrap()).unwrap();
    assert_eq!((lost.state, lost.holder), (CredentialState::Lost, Some(old.a)));
    let bs = s.get_credential(Some(Technology::Other), &Uid::parse_any("0A0B0C").unwrap()).unwrap();
    assert_eq!((bs.state, bs.holder), (CredentialState::Issued, Some(old.b)));
    // The twin is still there, listed for an admin to resolve.
    let twins = s.twins().unwrap();
    let listed: Vec<_> = twins.iter().map(|t| (t.technology, t.holder)).collect();
    assert_eq!(listed, vec![(Technology::Iso14443a, old.a), (Technology::Other, old.b)]);
    // The card in stock is recycled as before; the index answers from the migrated rows.
    let newcomer = s.create_user(&staff(), crate::common::new_user("New", "Holder")).unwrap();
    s.enroll(&staff(), newcomer.id, Technology::Iso14443a, &iso("04D1E2F3")).unwrap();
    assert_eq!(s.decide(None, &iso("04D1E2F3"), T0), idms::domain::Decision::Grant);
    assert!(s.verify_audit().unwrap().first_bad.is_none());
}

fn raw(f: &Fixture) -> Connection {
    Connection::open(f.db_path()).unwrap()
}

fn refused_by_trigger(c: &Connection, sql: &str, why: &str) {
    let e = c.execute(sql, []).expect_err(sql).to_string();
    assert!(e.contains(why), "{sql}: {e}");
}

#[test]
fn the_database_keeps_a_retired_card_retired() {
    let f = Fixture::new();
    let a = f.person().id;
    for (uid, reason) in
        [("04000001", RetireReason::Lost), ("04000002", RetireReason::Stolen), ("04000003", RetireReason::Destroyed)]
    {
        f.enroll(a, uid).unwrap();
        f.store.revoke(&staff(), None, &iso(uid), reason).unwrap();
    }
    let c = raw(&f);
    for to in ["in_stock", "issued", "suspended", "lost", "stolen", "destroyed"] {
        for from in ["lost", "stolen", "destroyed"] {
            if from == to {
                continue;
            }
            let sql = format!("UPDATE credentials SET state = '{to}' WHERE state = '{from}'");
            refused_by_trigger(&c, &sql, "a retired credential never changes state");
        }
    }
    // The same statement's no-op and other columns are untouched by the rule.
    assert_eq!(c.execute("UPDATE credentials SET updated_at = updated_at + 1 WHERE state = 'lost'", []).unwrap(), 1);
    let states: Vec<String> = c
        .prepare("SELECT state FROM credentials ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(states, ["lost", "stolen", "destroyed"]);
}

#[test]
fn the_database_keeps_an_expunged_person_a_tombstone() {
    let f = Fixture::new();
    let u = f.person().id;
    f.store.delete(&staff(), u).unwrap();
    f.store.expunge(&staff(), u, &u.to_string()).unwrap();
    let c = raw(&f);
    let id = u.as_i64();
    for sql in [
        format!("UPDATE users SET state = 'active' WHERE id = {id}"),
        format!("UPDATE users SET state = 'deleted', state_before_delete = 'active' WHERE id = {id}"),
        format!("UPDATE users SET state = 'suspended', given_name = 'Back', family_name = 'Again' WHERE id = {id}"),
        format!("UPDATE users SET email = 'back@example.test' WHERE id = {id}"),
        format!("UPDATE users SET expunged_at = NULL, expunged_by = NULL WHERE id = {id}"),
        format!("UPDATE users SET id = id + 1 WHERE id = {id}"),
    ] {
        refused_by_trigger(&c, &sql, "an expunged user stays a tombstone");
    }
    assert_eq!(f.store.get_user(u).unwrap().state, UserState::Expunged);
    // Other people's lifecycle is untouched by the rule.
    let v = f.person().id;
    let suspend = format!("UPDATE users SET state = 'suspended', suspended_by_staff = 1 WHERE id = {}", v.as_i64());
    assert_eq!(c.execute(&suspend, []).unwrap(), 1);
}

#[test]
fn the_database_never_replaces_a_guarded_row() {
    let f = Fixture::new();
    let a = f.person().id;
    let b = f.person().id;
    f.enroll(a, "04A1B2C3").unwrap();
    f.enroll(b, "04D5E6F7").unwrap();
    f.store.revoke(&staff(), None, &iso("04D5E6F7"), RetireReason::Lost).unwrap();
    f.store.delete(&staff(), a).unwrap();
    f.store.expunge(&staff(), a, &a.to_string()).unwrap();
    let c = raw(&f);
    let (lost, a_id) = (
        c.query_row("SELECT id FROM credentials WHERE state = 'lost'", [], |r| r.get::<_, i64>(0)).unwrap(),
        a.as_i64(),
    );
    // REPLACE would delete the old row and insert anew, past every UPDATE trigger.
    for sql in [
        // B's open binding would move to bytes someone else holds as iso14443a.
        format!(
            "INSERT OR REPLACE INTO credentials (id, technology, uid, state, created_at, updated_at) VALUES ({lost}, 'other', x'04A1B2C3', 'issued', 0, 0)"
        ),
        // A lost card back in stock.
        format!(
            "REPLACE INTO credentials (id, technology, uid, state, created_at, updated_at) VALUES ({lost}, 'iso14443a', x'04D5E6F7', 'in_stock', 0, 0)"
        ),
        // A tombstone brought back to life.
        format!(
            "REPLACE INTO users (id, state, given_name, family_name, created_at, updated_at) VALUES ({a_id}, 'active', 'Back', 'Again', 0, 0)"
        ),
        // History rewritten in place.
        "REPLACE INTO audit SELECT * FROM audit WHERE seq = 1".to_string(),
    ] {
        refused_by_trigger(&c, &sql, "a row is never replaced");
    }
    assert_eq!(f.store.get_user(a).unwrap().state, UserState::Expunged);
    // Plain inserts are untouched by the rule.
    assert!(f.enroll(b, "04010203").is_ok());
}
