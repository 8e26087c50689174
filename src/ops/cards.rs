//! Cards: twins — the same UID bytes bound to different people under
//! different technologies, left by databases from before the rule against
//! them — listed and resolved by an admin.
//!
//! Both span every org unit (a twin's holders may be in different units),
//! so they need the `admin` role and an operator without an org unit.

use crate::domain::{DomainError, Technology, Uid};
use crate::ops::{Acting, OpsError};
use crate::store::{CredentialRecord, Role, Store, Twin};

/// Twins reach across units: refused to an operator held to one.
fn unscoped(acting: &Acting) -> Result<(), OpsError> {
    match acting.unit() {
        Some(_) => Err(OpsError::Refused(DomainError::Forbidden {
            message: "twins span every org unit; ask an admin without an org unit".into(),
        })),
        None => Ok(()),
    }
}

/// Every twin credential (IDs, states and UIDs only).
pub fn twins(store: &Store, acting: &Acting) -> Result<Vec<Twin>, OpsError> {
    acting.require(Role::Admin)?;
    unscoped(acting)?;
    Ok(store.twins()?)
}

/// Resolves a twin: unbinds (`technology`, `uid`) from its holder and
/// retires it as `destroyed` (audited as `credential.unbind`). Only a twin
/// can be unbound (`not_a_twin`), so this is no way around the recycle rule.
pub fn unbind(store: &Store, acting: &Acting, technology: Technology, uid: &Uid) -> Result<CredentialRecord, OpsError> {
    acting.require(Role::Admin)?;
    unscoped(acting)?;
    Ok(store.unbind_twin(&acting.actor(), technology, uid)?)
}
