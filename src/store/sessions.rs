//! Web UI sessions (schema 7): a random secret in the browser's cookie,
//! its SHA-256 here with the operator, the role at sign-in, a CSRF secret,
//! an idle limit and an absolute expiry.
//!
//! A session ends when its operator signs out, and — by a trigger on
//! `operators`, whatever path makes the change — when the operator is
//! disabled, changes role or gets a new password; an ended session never
//! comes back. A look-up also refuses a session past its idle limit or its
//! expiry, and (a second guard) one whose operator is disabled or holds
//! another role than at sign-in.

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::domain::{DomainError, Timestamp};
use crate::store::auth::{LoginRefused, Operator, Role};
use crate::store::{Actor, AuditDraft, Store, StoreError};

/// How long a session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Ended after this long without a request, in seconds.
    pub idle_secs: i64,
    /// Ended this long after sign-in whatever happens, in seconds.
    pub max_secs: i64,
}

impl Default for SessionLimits {
    /// 30 minutes idle, 12 hours in all.
    fn default() -> Self {
        Self { idle_secs: 30 * 60, max_secs: 12 * 3600 }
    }
}

/// A session just opened: the cookie's secret (shown once, never stored).
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The operator who signed in.
    pub operator: Operator,
    /// The cookie's value: 32 random bytes, hex.
    pub secret: String,
    /// When it ends at the latest.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is a credential: never printed.
        f.debug_struct("NewSession").field("operator", &self.operator.id).finish_non_exhaustive()
    }
}

/// A live session, as a request finds it.
#[derive(Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// ID.
    pub id: i64,
    /// Its operator, as they are now.
    pub operator: Operator,
    /// The session's CSRF secret.
    pub csrf: [u8; 32],
    /// The last request seen (kept to the minute, or a quarter of the
    /// idle limit when that is shorter).
    pub last_seen_at: Timestamp,
    /// Its idle limit, in seconds.
    pub idle_secs: i64,
}

impl std::fmt::Debug for LiveSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSession").field("id", &self.id).field("operator", &self.operator.id).finish_non_exhaustive()
    }
}

/// A live session as an administrator sees it (never its secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// ID.
    pub id: i64,
    /// Its operator's ID.
    pub operator_id: i64,
    /// Its operator's login name.
    pub operator: String,
    /// The role at sign-in.
    pub role: String,
    /// Signed in.
    pub created_at: Timestamp,
    /// The last request seen (kept to the minute).
    pub last_seen_at: Timestamp,
    /// When it ends at the latest.
    pub expires_at: Timestamp,
}

/// Why a session ended (the stored `ended_why`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Its operator signed out.
    SignOut,
    /// An admin ended it.
    Revoked,
}

impl SessionEnd {
    fn as_str(self) -> &'static str {
        match self {
            Self::SignOut => "sign_out",
            Self::Revoked => "revoked",
        }
    }
}

/// SHA-256 of a session's secret, as stored.
#[must_use]
pub fn session_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn random32() -> Result<[u8; 32], StoreError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| StoreError::Io(format!("no randomness from the OS: {e}")))?;
    Ok(b)
}

impl Store {
    /// Signs operator `name` in with `password` (the same check as
    /// [`Store::login`]) and opens a session, audited `operator.login` with
    /// `via=ui`. A refusal is not audited here: the caller counts it.
    pub fn open_session(
        &self,
        name: &str,
        password: &str,
        limits: SessionLimits,
    ) -> Result<Result<NewSession, LoginRefused>, StoreError> {
        let op = match self.check_password_of(name, password)? {
            Ok(op) => op,
            Err(refused) => return Ok(Err(refused)),
        };
        let (secret, csrf) = (random32()?, random32()?);
        let secret = hex::encode(secret);
        let mut draft = AuditDraft::new("operator.login");
        draft.detail = format!("operator={} via=ui", op.id);
        let actor = Actor::staff(format!("operator:{}", op.id));
        self.write(&actor, draft, |w| {
            let expires_at = Timestamp(w.now.0 + limits.max_secs);
            w.conn
                .prepare_cached(
                    "INSERT INTO sessions (hash, operator_id, role, csrf, created_at, last_seen_at, idle_secs, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
                )?
                .execute(params![
                    &session_hash(&secret)[..],
                    op.id,
                    op.role.as_str(),
                    &csrf[..],
                    w.now.0,
                    limits.idle_secs.max(1),
                    expires_at.0
                ])?;
            Ok(Ok(NewSession { operator: op.clone(), secret: secret.clone(), expires_at }))
        })
    }

    /// The live session whose secret hashes to `hash` at `now`, or `None`:
    /// ended, idle too long, expired, or its operator disabled or in
    /// another role than at sign-in.
    pub fn session_by_hash(&self, hash: &[u8; 32], now: Timestamp) -> Result<Option<LiveSession>, StoreError> {
        self.read(|c| {
            let row = c
                .prepare_cached(
                    "SELECT s.id, s.csrf, s.last_seen_at, o.id, o.name, o.role, o.org_unit, s.idle_secs
                     FROM sessions s JOIN operators o ON o.id = s.operator_id
                     WHERE s.hash = ?1 AND s.ended_at IS NULL AND s.expires_at > ?2
                       AND s.last_seen_at + s.idle_secs > ?2 AND o.disabled_at IS NULL AND o.role = s.role",
                )?
                .query_row(params![&hash[..], now.0], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, i64>(7)?,
                    ))
                })
                .optional()?;
            row.map(|(id, csrf, seen, op, name, role, org_unit, idle_secs)| {
                let role = Role::from_name(&role).map_err(|_| StoreError::Corrupt("role"))?;
                let csrf = <[u8; 32]>::try_from(csrf.as_slice()).map_err(|_| StoreError::Corrupt("session csrf"))?;
                Ok(LiveSession {
                    id,
                    operator: Operator { id: op, name, role, org_unit },
                    csrf,
                    last_seen_at: Timestamp(seen),
                    idle_secs,
                })
            })
            .transpose()
        })
    }

    /// The sessions live at `now` (not ended, idle or expired; operator
    /// enabled, in the role of the sign-in), by ID.
    pub fn live_sessions(&self, now: Timestamp) -> Result<Vec<SessionRecord>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT s.id, o.id, o.name, s.role, s.created_at, s.last_seen_at, s.expires_at
                 FROM sessions s JOIN operators o ON o.id = s.operator_id
                 WHERE s.ended_at IS NULL AND s.expires_at > ?1 AND s.last_seen_at + s.idle_secs > ?1
                   AND o.disabled_at IS NULL AND o.role = s.role
                 ORDER BY s.id",
            )?;
            let rows = stmt.query_map([now.0], |r| {
                Ok(SessionRecord {
                    id: r.get(0)?,
                    operator_id: r.get(1)?,
                    operator: r.get(2)?,
                    role: r.get(3)?,
                    created_at: Timestamp(r.get(4)?),
                    last_seen_at: Timestamp(r.get(5)?),
                    expires_at: Timestamp(r.get(6)?),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Marks session `id` seen at `now` (its idle clock restarts). Not
    /// audited: browsing must not fill the audit trail.
    pub fn touch_session(&self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        let conn = super::lock(&self.writer);
        conn.prepare_cached(
            "UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id = ?1 AND ended_at IS NULL",
        )?
        .execute(params![id, now.0])?;
        Ok(())
    }

    /// Ends session `id` of `operator` (audited `session.end`). An unknown
    /// or already ended session is `not_found`, audited.
    pub fn end_session(&self, actor: &Actor, operator: i64, id: i64, why: SessionEnd) -> Result<(), StoreError> {
        let mut draft = AuditDraft::new("session.end");
        draft.detail = format!("session={id} operator={operator} why={}", why.as_str());
        self.write(actor, draft, |w| {
            let n = w
                .conn
                .prepare_cached(
                    "UPDATE sessions SET ended_at = ?3, ended_why = ?4
                     WHERE id = ?1 AND operator_id = ?2 AND ended_at IS NULL",
                )?
                .execute(params![id, operator, w.now.0, why.as_str()])?;
            if n == 0 {
                return Err(DomainError::NotFound { what: "session", id: id.to_string() }.into());
            }
            Ok(())
        })
    }
}
