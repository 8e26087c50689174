//! Must-be-true 3 (property): random operation sequences never produce two
//! open bindings for a credential, never grant for a holder who is not
//! active and inside their window, never reuse a user ID — and the index
//! always agrees with one rebuilt from the tables.

use std::collections::HashSet;

use idms::domain::{CredentialState, Decision, RetireReason, Technology, Timestamp, Uid, UserState, ValidityWindow};
use idms::store::{NewUser, Store};
use proptest::prelude::*;

use crate::common::{Fixture, T0, double_bindings, staff};

const CARDS: usize = 6;

#[derive(Debug, Clone)]
pub enum Op {
    Create { from: Option<i64>, to: Option<i64> },
    Suspend(usize),
    Resume(usize),
    Delete(usize),
    Restore(usize),
    Expunge(usize),
    Enroll(usize, usize),
    Revoke(usize, u8),
    SuspendCard(usize),
    ResumeCard(usize),
    Tick(i64),
}

pub fn op() -> impl Strategy<Value = Op> {
    let idx = 0usize..8;
    let card = 0usize..CARDS;
    prop_oneof![
        2 => (prop::option::of(-500i64..500), prop::option::of(-500i64..1500))
            .prop_map(|(from, to)| Op::Create { from, to }),
        1 => idx.clone().prop_map(Op::Suspend),
        1 => idx.clone().prop_map(Op::Resume),
        1 => idx.clone().prop_map(Op::Delete),
        1 => idx.clone().prop_map(Op::Restore),
        1 => idx.clone().prop_map(Op::Expunge),
        4 => (idx.clone(), card.clone()).prop_map(|(u, c)| Op::Enroll(u, c)),
        1 => (card.clone(), 0u8..3).prop_map(|(c, r)| Op::Revoke(c, r)),
        1 => card.clone().prop_map(Op::SuspendCard),
        1 => card.prop_map(Op::ResumeCard),
        1 => (1i64..400).prop_map(Op::Tick),
    ]
}

pub fn card(i: usize) -> Uid {
    Uid::from_bytes(&[0x04, 0xAA, 0xBB, i as u8]).unwrap()
}

/// Applies one operation (refusals are expected and ignored); returns the
/// ID of a person it created.
pub fn apply(f: &Fixture, users: &[idms::domain::UserId], op: Op) -> Option<idms::domain::UserId> {
    let s = &f.store;
    let pick = |i: usize| if users.is_empty() { None } else { Some(users[i % users.len()]) };
    match op {
        Op::Create { from, to } => {
            let window = (from.map(|x| Timestamp(T0.0 + x)), to.map(|x| Timestamp(T0.0 + x)));
            let n = NewUser { valid_from: window.0, valid_to: window.1, ..crate::common::new_user("P", "Q") };
            return s.create_user(&staff(), n).ok().map(|u| u.id);
        }
        Op::Suspend(i) => {
            if let Some(u) = pick(i) {
                let _ = s.suspend(&staff(), u);
            }
        }
        Op::Resume(i) => {
            if let Some(u) = pick(i) {
                let _ = s.resume(&staff(), u);
            }
        }
        Op::Delete(i) => {
            if let Some(u) = pick(i) {
                let _ = s.delete(&staff(), u);
            }
        }
        Op::Restore(i) => {
            if let Some(u) = pick(i) {
                let _ = s.restore(&staff(), u);
            }
        }
        Op::Expunge(i) => {
            if let Some(u) = pick(i) {
                let _ = s.expunge(&staff(), u, &u.to_string());
            }
        }
        Op::Enroll(i, c) => {
            if let Some(u) = pick(i) {
                let _ = s.enroll(&staff(), u, Technology::Iso14443a, &card(c));
            }
        }
        Op::Revoke(c, r) => {
            let reason = [RetireReason::Lost, RetireReason::Stolen, RetireReason::Destroyed][usize::from(r)];
            let _ = s.revoke(&staff(), None, &card(c), reason);
        }
        Op::SuspendCard(c) => {
            let _ = s.suspend_credential(&staff(), None, &card(c));
        }
        Op::ResumeCard(c) => {
            let _ = s.resume_credential(&staff(), None, &card(c));
        }
        Op::Tick(secs) => f.clock.advance(secs),
    }
    None
}

/// The invariants, checked against the tables (not the index).
fn check(f: &Fixture, store: &Store, users: &[idms::domain::UserId]) {
    assert_eq!(double_bindings(&f.db_path()), 0, "two open bindings for one credential");
    let now = store.now();
    for i in 0..CARDS {
        let d = store.decide(None, &card(i), now);
        if d != Decision::Grant {
            continue;
        }
        let c = store.get_credential(None, &card(i)).unwrap();
        assert_eq!(c.state, CredentialState::Issued, "granted a card that is {}", c.state);
        let holder = store.get_user(c.holder.unwrap()).unwrap();
        assert_eq!(holder.state, UserState::Active, "granted for a {} holder", holder.state);
        let w = ValidityWindow { from: holder.valid_from, to: holder.valid_to };
        assert_eq!(w.position(now), idms::domain::time::WindowPosition::Inside, "granted outside the window");
        assert!(users.contains(&holder.id));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_invariants(ops in prop::collection::vec(op(), 1..40)) {
        let f = Fixture::new();
        let s = &f.store;
        let mut users = Vec::new();
        let mut seen = HashSet::new();
        for op in ops {
            if let Some(id) = apply(&f, &users, op) {
                // Never a reused ID.
                prop_assert!(seen.insert(id));
                users.push(id);
            }
            check(&f, s, &users);
        }
        // The index built incrementally equals one rebuilt from the tables.
        let rebuilt = Store::open(&f.db_path(), f.clock.clone()).unwrap();
        for i in 0..CARDS {
            prop_assert_eq!(s.decide(None, &card(i), s.now()), rebuilt.decide(None, &card(i), s.now()));
        }
        prop_assert!(s.verify_audit().unwrap().first_bad.is_none());
    }
}
