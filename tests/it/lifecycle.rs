//! Must-be-true 1: every cell of the lifecycle table through the store,
//! success and refusal, with its error code — and each refusal audited.

use idms::domain::{LifecycleAction as A, UserId, UserState as S};
use idms::store::{AuditQuery, Store, StoreError, UserRecord};

use crate::common::{Fixture, staff};

fn act(store: &Store, id: UserId, a: A) -> Result<UserRecord, StoreError> {
    match a {
        A::Expunge => store.expunge(&staff(), id, &id.to_string()),
        other => store.lifecycle(&staff(), id, other),
    }
}

/// A fresh user brought to `state` through the public operations.
fn user_in(f: &Fixture, state: S) -> UserId {
    let id = f.person().id;
    let steps: &[A] = match state {
        S::Active => &[],
        S::Suspended => &[A::Suspend],
        S::Deleted => &[A::Delete],
        S::Expunged => &[A::Delete, A::Expunge],
    };
    for &s in steps {
        act(&f.store, id, s).unwrap();
    }
    assert_eq!(f.store.get_user(id).unwrap().state, state);
    id
}

#[test]
fn every_cell_with_codes_and_audit() {
    // The table of DESIGN.md, as the domain publishes it for tests.
    let table = idms::domain::user::EXPECTED_LIFECYCLE;
    let f = Fixture::new();
    for (from, row) in table {
        for (action, want) in A::ALL.into_iter().zip(row) {
            let id = user_in(&f, from);
            let got = act(&f.store, id, action).map(|u| u.state).map_err(|e| e.code());
            assert_eq!(got, want, "{from} --{action}-->");
            // The stored state matches the answer.
            let stored = f.store.get_user(id).unwrap().state;
            assert_eq!(stored, got.unwrap_or(from), "{from} --{action}--> stored");
            // The attempt is the newest audit entry about this user, with its outcome.
            let entries = f
                .store
                .audit_entries(&AuditQuery { target_user: Some(id), limit: Some(1000), ..AuditQuery::default() })
                .unwrap();
            let last = entries.last().unwrap();
            assert_eq!(last.action, format!("user.{action}"));
            assert_eq!(last.outcome, want.map_or_else(|c| c.to_string(), |_| "ok".to_string()));
        }
    }
    assert!(f.store.verify_audit().unwrap().first_bad.is_none());
}

#[test]
fn restore_returns_a_suspended_user_to_suspended() {
    let f = Fixture::new();
    let id = user_in(&f, S::Suspended);
    act(&f.store, id, A::Delete).unwrap();
    assert_eq!(act(&f.store, id, A::Restore).unwrap().state, S::Suspended);
}

#[test]
fn refusals_for_links_holds_and_confirmation() {
    let f = Fixture::new();
    let mut n = crate::common::new_user("Dir", "Linked");
    n.directory_id = Some("entra-123".into());
    let linked = f.store.create_user(&staff(), n).unwrap();
    assert!(linked.directory_linked);
    assert_eq!(act(&f.store, linked.id, A::Delete).unwrap_err().code(), "directory_linked");
    // The directory itself may deprovision.
    let dir = idms::store::Actor::directory("scim");
    assert_eq!(f.store.delete(&dir, linked.id).unwrap().state, S::Deleted);

    let mut n = crate::common::new_user("Held", "Legally");
    n.legal_hold = true;
    let held = f.store.create_user(&staff(), n).unwrap();
    act(&f.store, held.id, A::Delete).unwrap();
    assert_eq!(act(&f.store, held.id, A::Expunge).unwrap_err().code(), "legal_hold");
    let patch = idms::store::UserPatch { legal_hold: Some(false), ..Default::default() };
    f.store.update_user(&staff(), held.id, patch).unwrap();
    let other = f.person().id;
    assert_eq!(f.store.expunge(&staff(), held.id, &other.to_string()).unwrap_err().code(), "expunge_not_confirmed");
    assert_eq!(act(&f.store, held.id, A::Expunge).unwrap().state, S::Expunged);
}

#[test]
fn unknown_user_is_not_found() {
    let f = Fixture::new();
    let ghost = UserId::from_i64(12345);
    for a in A::ALL {
        assert_eq!(act(&f.store, ghost, a).unwrap_err().code(), "not_found");
    }
}

#[test]
fn a_refusal_after_a_partial_write_leaves_nothing_behind() {
    let f = Fixture::new();
    let id = f.person().id;
    let before = f.store.get_user(id).unwrap();
    let audit_before = f.store.verify_audit().unwrap().entries;
    // The main UPDATE runs first, then the over-long directory link is refused.
    let patch = idms::store::UserPatch {
        family_name: Some("Changed".into()),
        directory_id: Some(Some("x".repeat(500))),
        ..Default::default()
    };
    assert_eq!(f.store.update_user(&staff(), id, patch).unwrap_err().code(), "invalid_input");
    let after = f.store.get_user(id).unwrap();
    assert_eq!(after.family_name, before.family_name);
    assert_eq!(after.updated_at, before.updated_at);
    // Only the refusal itself was added to the audit trail.
    assert_eq!(f.store.verify_audit().unwrap().entries, audit_before + 1);
}

#[test]
fn a_directory_link_belongs_to_one_person() {
    let f = Fixture::new();
    let mut n = crate::common::new_user("A", "Linked");
    n.directory_id = Some("entra-1".into());
    f.store.create_user(&staff(), n.clone()).unwrap();
    assert_eq!(f.store.create_user(&staff(), n).unwrap_err().code(), "directory_id_taken");
    let other = f.person().id;
    let patch = idms::store::UserPatch { directory_id: Some(Some("entra-1".into())), ..Default::default() };
    assert_eq!(f.store.update_user(&staff(), other, patch).unwrap_err().code(), "directory_id_taken");
}

#[test]
fn search_folds_case_beyond_ascii() {
    let f = Fixture::new();
    let u = f.store.create_user(&staff(), crate::common::new_user("Jürgen", "Müller")).unwrap();
    f.store.create_user(&staff(), crate::common::new_user("Ann", "Mueller")).unwrap();
    for q in ["MÜLLER", "müll", "Mü"] {
        let found = f.store.search_users(q, 10).unwrap();
        assert_eq!(found.iter().map(|s| s.id).collect::<Vec<_>>(), vec![u.id], "{q}");
    }
    assert_eq!(f.store.search_users("mu", 10).unwrap().len(), 1, "Mueller only");
    // Wildcards are plain characters.
    assert!(f.store.search_users("%", 10).unwrap().is_empty());
}

#[test]
fn an_email_is_found_by_a_prefix_holding_its_at_sign() {
    let f = Fixture::new();
    let n =
        idms::store::NewUser { email: Some("Ann.Smith@Example.org".into()), ..crate::common::new_user("Ann", "Jones") };
    let ann = f.store.create_user(&staff(), n).unwrap().id;
    for q in ["ann.smith@", "ANN.SMITH@EXAMPLE.ORG", "Ann.Smith@ex"] {
        let found: Vec<_> = f.store.search_users(q, 10).unwrap().into_iter().map(|s| s.id).collect();
        assert_eq!(found, vec![ann], "{q}");
    }
    // Without an @ the text is a name (and the email is not searched: a
    // bare letter would sort every address starting with it).
    assert!(f.store.search_users("ann.smith", 10).unwrap().is_empty());
    assert_eq!(f.store.search_users("jon", 10).unwrap().len(), 1, "the family name");
}
