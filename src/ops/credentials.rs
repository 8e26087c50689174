//! Cards: enrol, read, list, retire, suspend, resume, encode — who may,
//! and over whose cards.
//!
//! Enrollers enrol and encode; managers retire, suspend and resume. A
//! scoped operator sees and touches only cards held by people of their unit
//! (others are "not found"), and when a card they tap is held elsewhere they
//! learn that it is held, not by whom.

use crate::domain::{CredentialState, DomainError, RetireReason, Technology, Uid, UserId};
use crate::ops::{Acting, OpsError, load_scoped};
use crate::store::{AuditDraft, CredentialRecord, CredentialSummary, Role, Store, Twin};

/// Binds a card to a person: the recycle rule and every path's refusals are
/// the store's; the caller must be an enroller who may act on the person.
pub fn enroll(
    store: &Store,
    acting: &Acting,
    user: UserId,
    technology: Technology,
    uid: &Uid,
) -> Result<CredentialRecord, OpsError> {
    acting.require(Role::Enroller)?;
    load_scoped(store, acting, user)?;
    store.enroll(&acting.actor(), user, technology, uid).map_err(|e| match e {
        // A scoped operator learns that the card is held, not by whom (the
        // holder may belong to another unit).
        crate::store::StoreError::Domain(DomainError::CredentialHeld { uid, holder, .. })
            if acting.unit().is_some() && !holder_in_scope(store, acting, holder) =>
        {
            DomainError::CredentialHeldElsewhere { uid }.into()
        }
        e => e.into(),
    })
}

fn holder_in_scope(store: &Store, acting: &Acting, holder: UserId) -> bool {
    store.get_user(holder).is_ok_and(|u| acting.may_see(&u))
}

/// A card and its history, if the caller may see its holder.
pub fn get(
    store: &Store,
    acting: &Acting,
    technology: Option<Technology>,
    uid: &Uid,
) -> Result<CredentialRecord, OpsError> {
    acting.require(Role::Viewer)?;
    scoped(store, acting, technology, uid)
}

fn scoped(
    store: &Store,
    acting: &Acting,
    technology: Option<Technology>,
    uid: &Uid,
) -> Result<CredentialRecord, OpsError> {
    let mut c = store.get_credential(technology, uid)?;
    if acting.unit().is_some() {
        let visible = match c.holder {
            Some(h) => holder_in_scope(store, acting, h),
            // Stock is the office's, not a unit's: only unscoped staff see it.
            None => false,
        };
        if !visible {
            return Err(OpsError::Refused(DomainError::NotFound { what: "credential", id: c.uid.to_string() }));
        }
        // A recycled card's earlier holders may be of other units: a scoped
        // caller learns neither who they were nor what became of them.
        c.bindings.retain(|b| holder_in_scope(store, acting, b.user_id));
    }
    Ok(c)
}

/// Cards, optionally in one state; a scoped caller's are those of their unit.
pub fn list(
    store: &Store,
    acting: &Acting,
    state: Option<CredentialState>,
    limit: u32,
) -> Result<Vec<CredentialSummary>, OpsError> {
    acting.require(Role::Viewer)?;
    let unit = acting.scope()?;
    Ok(store.list_credentials(state, unit, limit)?)
}

/// What a manager may do to a card.
#[derive(Debug, Clone, Copy)]
pub enum CardAction {
    /// Retire it (lost, stolen, destroyed).
    Revoke(RetireReason),
    /// Stop it granting for now.
    Suspend,
    /// Let it grant again.
    Resume,
}

/// The card, when the caller may retire, suspend or resume it (what
/// [`act`] checks first): for the UI's confirmation before the act.
pub fn may_act(
    store: &Store,
    acting: &Acting,
    technology: Option<Technology>,
    uid: &Uid,
) -> Result<CredentialRecord, OpsError> {
    acting.require(Role::Manager)?;
    scoped(store, acting, technology, uid)
}

/// Retires, suspends or resumes a card (manager, holder in scope).
pub fn act(
    store: &Store,
    acting: &Acting,
    technology: Option<Technology>,
    uid: &Uid,
    action: CardAction,
) -> Result<CredentialRecord, OpsError> {
    may_act(store, acting, technology, uid)?;
    let actor = acting.actor();
    Ok(match action {
        CardAction::Revoke(r) => store.revoke(&actor, technology, uid, r)?,
        CardAction::Suspend => store.suspend_credential(&actor, technology, uid)?,
        CardAction::Resume => store.resume_credential(&actor, technology, uid)?,
    })
}

/// Checks that a card may be encoded by the caller: an enroller, a card
/// issued to someone (bound, not retired) whose holder is in the caller's
/// scope. A refusal is audited here as `credential.encode`.
pub fn may_encode(
    store: &Store,
    acting: &Acting,
    technology: Technology,
    uid: &Uid,
    encoder: &str,
) -> Result<CredentialRecord, OpsError> {
    acting.require(Role::Enroller)?;
    let checked = scoped(store, acting, Some(technology), uid).and_then(|c| {
        if c.holder.is_none() || c.state.is_retired() {
            Err(DomainError::CredentialNotIssued { uid: c.uid.to_string() }.into())
        } else {
            Ok(c)
        }
    });
    if let Err(e) = &checked {
        store.audit_refusal(&acting.actor(), encode_draft(technology, uid, encoder), e.code())?;
        if let Err(OpsError::Refused(e)) = checked {
            // Audited just now; hand it on as the store's refusal.
            return Err(OpsError::Store(e.into()));
        }
    }
    checked
}

fn encode_draft(technology: Technology, uid: &Uid, encoder: &str) -> AuditDraft {
    let mut d = AuditDraft::new("credential.encode");
    d.target_credential = Some(format!("{technology}:{uid}"));
    // Reader IDs come from the configuration, never from a person.
    d.detail = format!("encoder={encoder}");
    d
}

/// Records how an encoding ended: who, which card, which encoder, and the
/// outcome's code (`ok`, or the device's refusal) — no personal data.
pub fn record_encode(
    store: &Store,
    acting: &Acting,
    technology: Technology,
    uid: &Uid,
    encoder: &str,
    outcome: Result<(), &'static str>,
) -> Result<(), OpsError> {
    let mut draft = encode_draft(technology, uid, encoder);
    if let Some(holder) = store.get_credential(Some(technology), uid).ok().and_then(|c| c.holder) {
        draft = draft.user(holder);
    }
    match outcome {
        // The card is encoded: the record says so even if its holder left
        // the caller's unit meanwhile, so this entry skips the store's
        // unit check (it changes nothing but the trail).
        Ok(()) => store.write(&acting.actor().in_unit(None), draft, |_| Ok(()))?,
        Err(code) => store.audit_refusal(&acting.actor(), draft, code)?,
    }
    Ok(())
}

// Twins — the same UID bytes bound to different people under different
// technologies, left by databases from before the rule against them. Both
// operations span every org unit (a twin's holders may be in different
// units), so they need an admin without an org unit.

/// Every twin credential (IDs, states and UIDs only).
pub fn twins(store: &Store, acting: &Acting) -> Result<Vec<Twin>, OpsError> {
    acting.require(Role::Admin)?;
    acting.require_unscoped()?;
    Ok(store.twins()?)
}

/// Resolves a twin: unbinds (`technology`, `uid`) from its holder and
/// retires it as `destroyed` (audited as `credential.unbind`). Only a twin
/// can be unbound (`not_a_twin`), so this is no way around the recycle rule.
pub fn unbind(store: &Store, acting: &Acting, technology: Technology, uid: &Uid) -> Result<CredentialRecord, OpsError> {
    acting.require(Role::Admin)?;
    acting.require_unscoped()?;
    Ok(store.unbind_twin(&acting.actor(), technology, uid)?)
}
