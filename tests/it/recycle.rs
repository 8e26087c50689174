//! Must-be-true 2: the recycle rule.

use idms::domain::{CredentialState, Decision, DenyReason, RetireReason, Technology, UserState};

use crate::common::{Fixture, iso, staff};

#[test]
fn refused_while_the_holder_is_active_suspended_or_deleted_allowed_after_expunge() {
    let f = Fixture::new();
    let holder = f.person().id;
    let next = f.person().id;
    f.enroll(holder, "04A1B2C3").unwrap();
    // Enrolling again for the same holder is also refused: one open binding.
    assert_eq!(f.enroll(holder, "04A1B2C3").unwrap_err().code(), "credential_held");
    for (step, state) in
        [(None, UserState::Active), (Some("suspend"), UserState::Suspended), (Some("delete"), UserState::Deleted)]
    {
        match step {
            Some("suspend") => drop(f.store.suspend(&staff(), holder).unwrap()),
            Some(_) => drop(f.store.delete(&staff(), holder).unwrap()),
            None => {}
        }
        let e = f.enroll(next, "04A1B2C3").unwrap_err();
        assert_eq!(e.code(), "credential_held", "holder {state}");
        let msg = e.to_string();
        assert!(msg.contains(&holder.to_string()), "names the holder: {msg}");
        assert!(msg.contains(state.as_str()), "names the holder's state: {msg}");
        assert!(msg.contains("expunged"), "says what must happen first: {msg}");
    }

    f.store.expunge(&staff(), holder, &holder.to_string()).unwrap();
    let card = f.store.get_credential(None, &iso("04A1B2C3")).unwrap();
    assert_eq!(card.state, CredentialState::InStock);
    assert_eq!(card.holder, None);
    assert_eq!(f.store.decide(None, &iso("04A1B2C3"), f.store.now()), Decision::Deny(DenyReason::CredentialInStock));

    let recycled = f.enroll(next, "04:a1:b2:c3").unwrap();
    assert_eq!(recycled.holder, Some(next));
    assert_eq!(recycled.state, CredentialState::Issued);
    // History keeps both holders, the old binding closed by the expunge.
    assert_eq!(recycled.bindings.len(), 2);
    assert_eq!(recycled.bindings[1].user_id, holder);
    assert_eq!(recycled.bindings[1].close_reason.as_deref(), Some("holder_expunged"));
    assert_eq!(recycled.bindings[0].closed_at, None);
    assert_eq!(f.store.decide(None, &iso("04A1B2C3"), f.store.now()), Decision::Grant);
}

#[test]
fn retired_cards_are_never_recycled_even_after_expunge() {
    for reason in [RetireReason::Lost, RetireReason::Stolen, RetireReason::Destroyed] {
        let f = Fixture::new();
        let holder = f.person().id;
        let next = f.person().id;
        f.enroll(holder, "04A1B2C3D4E5F6").unwrap();
        let r = f.store.revoke(&staff(), None, &iso("04A1B2C3D4E5F6"), reason).unwrap();
        assert_eq!(r.state, reason.state());
        assert_eq!(f.enroll(next, "04A1B2C3D4E5F6").unwrap_err().code(), "credential_retired");
        f.store.delete(&staff(), holder).unwrap();
        let u = f.store.expunge(&staff(), holder, &holder.to_string()).unwrap();
        assert!(u.credentials.is_empty());
        let card = f.store.get_credential(Some(Technology::Iso14443a), &iso("04A1B2C3D4E5F6")).unwrap();
        assert_eq!(card.state, reason.state(), "stays retired");
        assert_eq!(f.enroll(next, "04A1B2C3D4E5F6").unwrap_err().code(), "credential_retired");
        // A retired card cannot come back through the card commands either.
        assert_eq!(
            f.store.resume_credential(&staff(), None, &iso("04A1B2C3D4E5F6")).unwrap_err().code(),
            "credential_retired"
        );
    }
}

#[test]
fn enrolling_for_deleted_or_expunged_users_is_refused() {
    let f = Fixture::new();
    let u = f.person().id;
    f.store.delete(&staff(), u).unwrap();
    assert_eq!(f.enroll(u, "04000001").unwrap_err().code(), "invalid_transition");
    f.store.expunge(&staff(), u, &u.to_string()).unwrap();
    assert_eq!(f.enroll(u, "04000001").unwrap_err().code(), "already_expunged");
    // Nothing half-done: the refused enrolment left no credential behind.
    assert_eq!(f.store.get_credential(None, &iso("04000001")).unwrap_err().code(), "not_found");
}

#[test]
fn a_person_may_hold_several_cards_and_expunge_frees_them_all() {
    let f = Fixture::new();
    let u = f.person().id;
    for c in ["04000001", "04000002", "04000003"] {
        f.enroll(u, c).unwrap();
    }
    f.store.revoke(&staff(), None, &iso("04000003"), RetireReason::Lost).unwrap();
    assert_eq!(f.store.get_user(u).unwrap().credentials.len(), 3);
    f.store.delete(&staff(), u).unwrap();
    f.store.expunge(&staff(), u, &u.to_string()).unwrap();
    let states: Vec<_> = ["04000001", "04000002", "04000003"]
        .iter()
        .map(|c| f.store.get_credential(None, &iso(c)).unwrap().state)
        .collect();
    assert_eq!(states, [CredentialState::InStock, CredentialState::InStock, CredentialState::Lost]);
}
