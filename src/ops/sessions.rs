//! Web UI sessions: signing in, finding the signed-in operator of a
//! request, signing out.
//!
//! Signing in is the same password check as `POST /api/v1/login`; the
//! front end runs it under the same login limits (`api::staff::password_login`).
//! A session is refused once it has ended, been idle too long, passed its
//! absolute lifetime, or its operator was disabled, demoted or given a new
//! password (the store's trigger ends it for good; see `store::sessions`).

use crate::domain::DomainError;
use crate::ops::{Acting, OpsError};
use crate::store::auth::LoginRefused;
use crate::store::sessions::{NewSession, SessionEnd, SessionLimits, SessionRecord, session_hash};
use crate::store::{Role, Store};

/// A request's session, once found.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's ID.
    pub id: i64,
    /// The operator acting through it.
    pub acting: Acting,
    /// Its CSRF secret: every state-changing request carries it.
    pub csrf: [u8; 32],
}

/// Restart the idle clock at most this often (a write per minute, not per
/// request), or every quarter of the idle limit when that is shorter, so a
/// request within the limit always keeps the session.
pub const TOUCH_EVERY_SECS: i64 = 60;

/// Signs operator `name` in (no caller yet: this is how one becomes one).
pub fn sign_in(
    store: &Store,
    name: &str,
    password: &str,
    limits: SessionLimits,
) -> Result<Result<NewSession, LoginRefused>, OpsError> {
    Ok(store.open_session(name, password, limits)?)
}

/// The live session a cookie's `secret` opens, if any; restarts its idle clock.
pub fn resume(store: &Store, secret: &str) -> Result<Option<Session>, OpsError> {
    let now = store.now();
    let Some(live) = store.session_by_hash(&session_hash(secret), now)? else {
        return Ok(None);
    };
    // An identity directory's account never uses the web UI.
    if !live.operator.role.is_staff() {
        return Ok(None);
    }
    if now.0 - live.last_seen_at.0 >= TOUCH_EVERY_SECS.min(live.idle_secs / 4) {
        store.touch_session(live.id, now)?;
    }
    Ok(Some(Session { id: live.id, acting: Acting::Operator(live.operator), csrf: live.csrf }))
}

/// Whether the session a cookie's `secret` opens is still live for the
/// same operator, with the same role and unit, as `acting` — for a live
/// stream, which rechecks it now and then. Read only: an open stream does
/// not keep an idle session alive.
pub fn still_live(store: &Store, secret: &str, acting: &Acting) -> bool {
    match store.session_by_hash(&session_hash(secret), store.now()) {
        Ok(Some(live)) => Acting::Operator(live.operator) == *acting,
        _ => false,
    }
}

/// Ends the caller's own session `id`.
pub fn sign_out(store: &Store, acting: &Acting, id: i64) -> Result<(), OpsError> {
    acting.require(Role::Viewer)?;
    let Some(op) = acting.operator() else {
        return Err(crate::ops::forbidden("only an operator's session can be signed out"));
    };
    Ok(store.end_session(&acting.actor(), op.id, id, SessionEnd::SignOut)?)
}

/// Every live session (admins without an org unit: they span every unit).
pub fn list(store: &Store, acting: &Acting) -> Result<Vec<SessionRecord>, OpsError> {
    acting.require(Role::Admin)?;
    acting.require_unscoped()?;
    Ok(store.live_sessions(store.now())?)
}

/// Ends live session `id`, whoever's it is (admins without an org unit);
/// audited as `session.end` with `why=revoked`. An unknown or ended
/// session is `not_found`.
pub fn revoke(store: &Store, acting: &Acting, id: i64) -> Result<(), OpsError> {
    acting.require(Role::Admin)?;
    acting.require_unscoped()?;
    let operator = store.live_sessions(store.now())?.into_iter().find(|s| s.id == id).map(|s| s.operator_id);
    match operator {
        Some(op) => Ok(store.end_session(&acting.actor(), op, id, SessionEnd::Revoked)?),
        None => Err(OpsError::Refused(DomainError::NotFound { what: "session", id: id.to_string() })),
    }
}
