//! The audit trail and the office's statistics: who may read them.
//!
//! The trail spans every unit, so it is for managers and above without an
//! org unit; statistics are counts only, for any staff.

use crate::ops::{Acting, OpsError};
use crate::store::audit::AuditHead;
use crate::store::{AuditEntry, AuditQuery, AuditReport, Role, Stats, Store};

/// Entries of the trail, oldest first.
pub fn entries(store: &Store, acting: &Acting, q: &AuditQuery) -> Result<Vec<AuditEntry>, OpsError> {
    acting.require(Role::Manager)?;
    acting.require_unscoped()?;
    Ok(store.audit_entries(q)?)
}

/// Verifies the hash chain; with `expect`, also that the head recorded
/// earlier is still in it (`audit_head_missing` otherwise).
pub fn verify(store: &Store, acting: &Acting, expect: Option<&AuditHead>) -> Result<AuditReport, OpsError> {
    acting.require(Role::Manager)?;
    acting.require_unscoped()?;
    Ok(store.verify_audit_expecting(expect)?)
}

/// "1 entry verified", "2 entries verified": what a verification says,
/// for every front end.
#[must_use]
pub fn entries_verified(n: u64) -> String {
    if n == 1 { "1 entry verified".into() } else { format!("{n} entries verified") }
}

/// Counts per state, expunged included.
pub fn stats(store: &Store, acting: &Acting) -> Result<Stats, OpsError> {
    acting.require(Role::Viewer)?;
    Ok(store.stats()?)
}

/// Copies the database to `dest` (admin without an org unit: it holds
/// every unit's personal data).
pub fn backup(store: &Store, acting: &Acting, dest: &std::path::Path) -> Result<(), OpsError> {
    acting.require(Role::Admin)?;
    acting.require_unscoped()?;
    Ok(store.backup(&acting.actor(), dest)?)
}

/// Ends the session whose token hash is `hash` (the caller's own).
pub fn logout(store: &Store, acting: &Acting, hash: &[u8; 32]) -> Result<(), OpsError> {
    acting.require(Role::Viewer)?;
    Ok(store.revoke_token_hash(&acting.actor(), hash)?)
}
