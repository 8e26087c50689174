//! Must-be-true 5: the audit chain verifies after a scripted session, and
//! changing any field of any entry breaks it at that entry. Refused
//! attempts are audited.

use idms::domain::RetireReason;
use idms::store::{AuditQuery, DB_FILE, Store};
use rusqlite::Connection;

use crate::common::{Fixture, iso, staff};

/// A session with successes and refusals; returns how many entries it wrote.
fn scripted(f: &Fixture) -> i64 {
    let a = f.person().id;
    let b = f.person().id;
    f.enroll(a, "04A1B2C3").unwrap();
    assert!(f.enroll(b, "04A1B2C3").is_err()); // credential_held
    f.store.suspend(&staff(), a).unwrap();
    assert!(f.store.suspend(&staff(), a).is_err()); // invalid_transition
    assert!(f.store.expunge(&staff(), a, &a.to_string()).is_err()); // holder_not_deleted
    f.store.delete(&staff(), a).unwrap();
    f.store.expunge(&staff(), a, &a.to_string()).unwrap();
    f.enroll(b, "04A1B2C3").unwrap();
    f.store.revoke(&staff(), None, &iso("04A1B2C3"), RetireReason::Stolen).unwrap();
    11
}

#[test]
fn chain_verifies_and_records_refusals() {
    let f = Fixture::new();
    let n = scripted(&f);
    let report = f.store.verify_audit().unwrap();
    assert_eq!(report.entries, n as u64);
    assert_eq!(report.first_bad, None);
    let entries = f.store.audit_entries(&AuditQuery::default()).unwrap();
    let outcomes: Vec<_> = entries.iter().map(|e| (e.action.as_str(), e.outcome.as_str())).collect();
    assert!(outcomes.contains(&("credential.enroll", "credential_held")), "{outcomes:?}");
    assert!(outcomes.contains(&("user.suspend", "invalid_transition")), "{outcomes:?}");
    assert!(outcomes.contains(&("user.expunge", "holder_not_deleted")), "{outcomes:?}");
    assert!(outcomes.contains(&("user.expunge", "ok")), "{outcomes:?}");
    assert!(entries.iter().all(|e| e.actor == "test-operator"));
}

/// Tampers with one column of one row in a copy of the database and
/// returns the entry `verify` names as the first bad one.
fn first_bad_after(f: &Fixture, seq: i64, column: &str, sql_value: &str) -> Option<i64> {
    let (_copy, path) =
        crate::common::tampered_copy(f, &format!("UPDATE audit SET {column} = {sql_value} WHERE seq = {seq}"));
    let changed: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM audit WHERE seq = ?1", [seq], |r| r.get(0))
        .unwrap();
    assert_eq!(changed, 1);
    let s = Store::open(&path, f.clock.clone()).unwrap();
    s.verify_audit().unwrap().first_bad.map(|b| b.seq)
}

#[test]
fn audit_rows_cannot_be_changed_or_removed_through_sql() {
    let f = Fixture::new();
    scripted(&f);
    let c = Connection::open(f.db_path()).unwrap();
    let e = c.execute("UPDATE audit SET outcome = 'ok' WHERE seq = 2", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = c.execute("DELETE FROM audit WHERE seq = 11", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = c.execute("DELETE FROM users", []).unwrap_err();
    assert!(e.to_string().contains("never deleted"), "{e}");
}

#[test]
fn any_one_byte_change_is_caught_at_its_entry() {
    let f = Fixture::new();
    let n = scripted(&f);
    // One byte changed in each column (text: last character; integers: low
    // byte; blobs: first byte flipped).
    let edits = [
        ("at", "at + 1"),
        ("actor", "substr(actor, 1, length(actor) - 1) || 'X'"),
        ("action", "substr(action, 1, length(action) - 1) || 'X'"),
        ("target_user", "COALESCE(target_user + 1, 1)"),
        ("target_credential", "COALESCE(substr(target_credential, 1, length(target_credential) - 1) || 'X', 'X')"),
        ("outcome", "substr(outcome, 1, length(outcome) - 1) || 'X'"),
        ("detail", "detail || 'X'"),
        ("prev_hash", "CASE WHEN substr(prev_hash, 1, 1) = X'00' THEN X'01' ELSE X'00' END || substr(prev_hash, 2)"),
        ("hash", "CASE WHEN substr(hash, 1, 1) = X'00' THEN X'01' ELSE X'00' END || substr(hash, 2)"),
    ];
    for seq in [1, n / 2, n] {
        for (col, val) in edits {
            let bad = first_bad_after(&f, seq, col, val);
            assert_eq!(bad, Some(seq), "changing {col} of entry {seq}");
        }
    }
    // Removing an entry is caught at the entry after the gap.
    let copy = tempfile::tempdir().unwrap();
    let path = copy.path().join(DB_FILE);
    Connection::open(f.db_path()).unwrap().execute("VACUUM INTO ?1", [path.to_str().unwrap()]).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 3;")
        .unwrap();
    let s = Store::open(&path, f.clock.clone()).unwrap();
    assert_eq!(s.verify_audit().unwrap().first_bad.map(|b| b.seq), Some(4));
}
