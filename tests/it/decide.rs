//! Must-be-true 7: each deny reason and the validity-window boundaries,
//! through the store and its index; and the index following writes made by
//! another process.

use idms::domain::{Decision, DenyReason as R, RetireReason, Timestamp};
use idms::store::{NewUser, UserPatch};

use crate::common::{Fixture, T0, iso, staff};

#[test]
fn each_deny_reason() {
    let f = Fixture::new();
    let now = || f.store.now();
    let d = |uid: &str| f.store.decide(None, &iso(uid), now());
    assert_eq!(d("04000000"), Decision::Deny(R::UnknownCredential));

    let u = f.person().id;
    f.enroll(u, "04000001").unwrap();
    assert_eq!(d("04000001"), Decision::Grant);
    f.store.suspend_credential(&staff(), None, &iso("04000001")).unwrap();
    assert_eq!(d("04000001"), Decision::Deny(R::CredentialSuspended));
    f.store.resume_credential(&staff(), None, &iso("04000001")).unwrap();
    assert_eq!(d("04000001"), Decision::Grant);

    for (card, reason, want) in [
        ("04000002", RetireReason::Lost, R::CredentialLost),
        ("04000003", RetireReason::Stolen, R::CredentialStolen),
        ("04000004", RetireReason::Destroyed, R::CredentialDestroyed),
    ] {
        f.enroll(u, card).unwrap();
        f.store.revoke(&staff(), None, &iso(card), reason).unwrap();
        assert_eq!(d(card), Decision::Deny(want));
    }

    f.store.suspend(&staff(), u).unwrap();
    assert_eq!(d("04000001"), Decision::Deny(R::HolderSuspended));
    f.store.resume(&staff(), u).unwrap();
    f.store.delete(&staff(), u).unwrap();
    assert_eq!(d("04000001"), Decision::Deny(R::HolderDeleted));
    f.store.restore(&staff(), u).unwrap();
    assert_eq!(d("04000001"), Decision::Grant);
    f.store.delete(&staff(), u).unwrap();
    f.store.expunge(&staff(), u, &u.to_string()).unwrap();
    assert_eq!(d("04000001"), Decision::Deny(R::CredentialInStock));
    // Retired cards stay retired at the door after the expunge.
    assert_eq!(d("04000002"), Decision::Deny(R::CredentialLost));
}

#[test]
fn validity_window_is_from_inclusive_to_exclusive() {
    let f = Fixture::new();
    let from = Timestamp(T0.0 + 100);
    let to = Timestamp(T0.0 + 200);
    let u = f
        .store
        .create_user(
            &staff(),
            NewUser { valid_from: Some(from), valid_to: Some(to), ..crate::common::new_user("Window", "Person") },
        )
        .unwrap()
        .id;
    f.enroll(u, "04000010").unwrap();
    let at = |t: i64| f.store.decide(None, &iso("04000010"), Timestamp(t));
    assert_eq!(at(from.0 - 1), Decision::Deny(R::NotYetValid));
    assert_eq!(at(from.0), Decision::Grant);
    assert_eq!(at(to.0 - 1), Decision::Grant);
    assert_eq!(at(to.0), Decision::Deny(R::Expired));
    // Editing the window reaches the index at once.
    let patch = UserPatch { valid_to: Some(None), ..UserPatch::default() };
    f.store.update_user(&staff(), u, patch).unwrap();
    assert_eq!(at(to.0 + 1_000_000), Decision::Grant);
    // An inverted window is refused and changes nothing.
    let bad = UserPatch { valid_to: Some(Some(Timestamp(from.0 - 1))), ..UserPatch::default() };
    assert_eq!(f.store.update_user(&staff(), u, bad).unwrap_err().code(), "invalid_input");
    assert_eq!(at(to.0 + 1_000_000), Decision::Grant);
}

#[test]
fn index_follows_writes_from_another_process() {
    let f = Fixture::new();
    let u = f.person().id;
    f.enroll(u, "04000020").unwrap();
    assert_eq!(f.store.decide(None, &iso("04000020"), f.store.now()), Decision::Grant);
    // A second store on the same file stands in for the CLI run while the service runs.
    let other = idms::store::Store::open(&f.db_path(), f.clock.clone()).unwrap();
    other.suspend(&staff(), u).unwrap();
    assert_eq!(f.store.decide(None, &iso("04000020"), f.store.now()), Decision::Grant, "not yet tailed");
    assert!(f.store.catch_up().unwrap() >= 1);
    assert_eq!(f.store.decide(None, &iso("04000020"), f.store.now()), Decision::Deny(R::HolderSuspended));
    // A write in this process also applies the other process's earlier entries first.
    other.resume(&staff(), u).unwrap();
    let v = f.person().id;
    f.enroll(v, "04000021").unwrap();
    assert_eq!(
        f.store.decide(None, &iso("04000020"), f.store.now()),
        Decision::Grant,
        "the other process's resume applied"
    );
    let c = rusqlite::Connection::open(f.db_path()).unwrap();
    let head: i64 = c.query_row("SELECT MAX(seq) FROM change_log", [], |r| r.get(0)).unwrap();
    assert_eq!(f.store.index().applied_seq(), head);
}
