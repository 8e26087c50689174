//! Credentials: enrolment (and recycling), retirement, card suspension,
//! look-up with binding history, twins (the same UID bytes held by
//! different people under different technologies, from databases older
//! than the rule against them) and their resolution, and door decisions.

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::credential::{
    BytesHolder, check_can_receive, check_one_holder, check_unbindable, credential_transition, unbound_state,
};
use crate::domain::{
    Change, CredentialState, Decision, DomainError, RetireReason, Technology, Timestamp, Uid, UserId, UserState,
    check_bindable,
};
use crate::store::users::load_facts;
use crate::store::{
    Actor, AuditDraft, BindingRecord, CredentialRecord, CredentialSummary, Store, StoreError, Tx, columns,
};

struct Row {
    id: i64,
    technology: Technology,
    state: CredentialState,
    created_at: i64,
    updated_at: i64,
}

fn target(technology: Technology, uid: &Uid) -> String {
    format!("{technology}:{uid}")
}

/// Finds a credential by UID: with a technology, exactly; without, the one
/// credential with these bytes (several is `uid_ambiguous`).
fn find(conn: &Connection, technology: Option<Technology>, uid: &Uid) -> Result<Option<Row>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, technology, state, created_at, updated_at FROM credentials
         WHERE technology IN ('iso14443a','em4100','other') AND uid = ?1 AND (?2 IS NULL OR technology = ?2)
         LIMIT 2",
    )?;
    let mut rows = stmt.query(params![uid.as_bytes(), technology.map(Technology::as_str)])?;
    let mut found = None;
    while let Some(r) = rows.next()? {
        if found.is_some() {
            return Err(DomainError::UidAmbiguous { uid: uid.to_string() }.into());
        }
        found = Some(Row {
            id: r.get(0)?,
            technology: columns::technology(r, 1)?,
            state: columns::credential_state(r, 2)?,
            created_at: r.get(3)?,
            updated_at: r.get(4)?,
        });
    }
    Ok(found)
}

fn not_found(uid: &Uid) -> StoreError {
    DomainError::NotFound { what: "credential", id: uid.to_string() }.into()
}

/// The holder of the credential's open binding, with their state.
fn holder(conn: &Connection, credential_id: i64) -> Result<Option<(UserId, UserState)>, StoreError> {
    let row: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT b.user_id, u.state FROM bindings b JOIN users u ON u.id = b.user_id
             WHERE b.credential_id = ?1 AND b.closed_at IS NULL",
        )?
        .query_row([credential_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(id, st)| Ok((UserId::from_i64(id), UserState::from_name(&st).ok_or(StoreError::Corrupt("user state"))?)))
        .transpose()
}

/// Every open binding of `uid`'s bytes, in every technology.
fn held_bytes(conn: &Connection, uid: &Uid) -> Result<Vec<BytesHolder>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.technology, b.user_id, u.state FROM credentials c
         JOIN bindings b ON b.credential_id = c.id AND b.closed_at IS NULL
         JOIN users u ON u.id = b.user_id
         WHERE c.technology IN ('iso14443a','em4100','other') AND c.uid = ?1",
    )?;
    let mut rows = stmt.query([uid.as_bytes()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(BytesHolder {
            technology: columns::technology(r, 0)?,
            holder: UserId::from_i64(r.get(1)?),
            holder_state: columns::user_state(r, 2)?,
        });
    }
    Ok(out)
}

/// One credential of a twin: the same UID bytes held by different people
/// under different technologies. IDs, states and UIDs only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Twin {
    /// Technology.
    pub technology: Technology,
    /// UID, uppercase hex.
    pub uid: Uid,
    /// Credential state.
    pub state: CredentialState,
    /// The holder of its open binding.
    pub holder: UserId,
    /// The holder's state.
    pub holder_state: UserState,
}

/// Every twin credential, grouped by UID bytes, then by technology.
pub(crate) fn twins_in(conn: &Connection) -> Result<Vec<Twin>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.technology, c.uid, c.state, b.user_id, u.state FROM credentials c
         JOIN bindings b ON b.credential_id = c.id AND b.closed_at IS NULL
         JOIN users u ON u.id = b.user_id
         WHERE c.uid IN (
             SELECT c2.uid FROM credentials c2 JOIN bindings b2 ON b2.credential_id = c2.id AND b2.closed_at IS NULL
             GROUP BY c2.uid HAVING COUNT(DISTINCT b2.user_id) > 1)
         ORDER BY c.uid, c.technology",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(Twin {
            technology: columns::technology(r, 0)?,
            uid: columns::uid(r, 1)?,
            state: columns::credential_state(r, 2)?,
            holder: UserId::from_i64(r.get(3)?),
            holder_state: columns::user_state(r, 4)?,
        });
    }
    Ok(out)
}

fn load(conn: &Connection, technology: Option<Technology>, uid: &Uid) -> Result<CredentialRecord, StoreError> {
    let row = find(conn, technology, uid)?.ok_or_else(|| not_found(uid))?;
    let held = holder(conn, row.id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, opened_at, opened_by, closed_at, close_reason FROM bindings
         WHERE credential_id = ?1 ORDER BY opened_at DESC, id DESC",
    )?;
    let bindings = stmt
        .query_map([row.id], |r| {
            Ok(BindingRecord {
                user_id: UserId::from_i64(r.get(0)?),
                opened_at: Timestamp(r.get(1)?),
                opened_by: r.get(2)?,
                closed_at: r.get::<_, Option<i64>>(3)?.map(Timestamp),
                close_reason: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CredentialRecord {
        technology: row.technology,
        uid: *uid,
        state: row.state,
        holder: held.map(|h| h.0),
        holder_state: held.map(|h| h.1),
        created_at: Timestamp(row.created_at),
        updated_at: Timestamp(row.updated_at),
        bindings,
    })
}

/// Binds `uid` to `user` inside the caller's transaction: a new credential,
/// or one in stock (recycling). Returns whether it was recycled.
pub(crate) fn bind(
    w: &mut Tx<'_>,
    actor: &str,
    user: UserId,
    technology: Technology,
    uid: &Uid,
) -> Result<bool, StoreError> {
    uid.check_for(technology)?;
    let (facts, _) = load_facts(&w.conn, user)?;
    check_can_receive(user, facts.state)?;
    // One holder per UID bytes, whatever the technology (a database trigger backs this up).
    let held = held_bytes(&w.conn, uid)?;
    check_one_holder(uid, technology, user, &held)?;
    let (cred_id, recycled) = match find(&w.conn, Some(technology), uid)? {
        Some(row) => {
            let own = held.iter().find(|h| h.technology == technology).map(|h| (h.holder, h.holder_state));
            check_bindable(uid, row.state, own)?;
            w.conn
                .prepare_cached("UPDATE credentials SET state = 'issued', updated_at = ?2 WHERE id = ?1")?
                .execute(params![row.id, w.now.0])?;
            (row.id, true)
        }
        None => {
            w.conn
                .prepare_cached(
                    "INSERT INTO credentials (technology, uid, state, created_at, updated_at)
                     VALUES (?1, ?2, 'issued', ?3, ?3)",
                )?
                .execute(params![technology.as_str(), uid.as_bytes(), w.now.0])?;
            (w.conn.last_insert_rowid(), false)
        }
    };
    let inserted = w
        .conn
        .prepare_cached("INSERT INTO bindings (credential_id, user_id, opened_at, opened_by) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![cred_id, user.as_i64(), w.now.0, actor]);
    if let Err(rusqlite::Error::SqliteFailure(f, _)) = &inserted
        && f.code == rusqlite::ErrorCode::ConstraintViolation
    {
        // The unique partial index caught a second open binding (the
        // checks above ran in this transaction, so only a path around them).
        if let Some((h, hs)) = holder(&w.conn, cred_id)? {
            return Err(DomainError::CredentialHeld { uid: uid.to_string(), holder: h, holder_state: hs }.into());
        }
    }
    inserted?;
    w.change(Change::Credential { technology, uid: *uid, state: CredentialState::Issued, holder: Some(user) })?;
    Ok(recycled)
}

impl Store {
    /// Credentials, optionally only those in `state` and (for a scoped
    /// operator) only those in stock or held by people of `org_unit`;
    /// newest change first, at most `limit`.
    pub fn list_credentials(
        &self,
        state: Option<CredentialState>,
        org_unit: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CredentialSummary>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT c.technology, c.uid, c.state, b.user_id, c.updated_at FROM credentials c
                 LEFT JOIN bindings b ON b.credential_id = c.id AND b.closed_at IS NULL
                 LEFT JOIN users u ON u.id = b.user_id
                 WHERE (?1 IS NULL OR c.state = ?1) AND (?2 IS NULL OR b.user_id IS NULL OR u.org_unit = ?2)
                 ORDER BY c.updated_at DESC, c.id DESC LIMIT ?3",
            )?;
            let mut rows = stmt.query(params![state.map(CredentialState::as_str), org_unit, limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(CredentialSummary {
                    technology: columns::technology(r, 0)?,
                    uid: columns::uid(r, 1)?,
                    state: columns::credential_state(r, 2)?,
                    holder: r.get::<_, Option<i64>>(3)?.map(UserId::from_i64),
                    updated_at: Timestamp(r.get(4)?),
                });
            }
            Ok(out)
        })
    }

    /// Enrols a card for a person. A new UID becomes a credential; a UID in
    /// stock (released by its holder's expunge) is recycled. Anything else
    /// is `credential_held` or `credential_retired`.
    pub fn enroll(
        &self,
        actor: &Actor,
        user: UserId,
        technology: Technology,
        uid: &Uid,
    ) -> Result<CredentialRecord, StoreError> {
        let mut draft = AuditDraft::new("credential.enroll").user(user);
        draft.target_credential = Some(target(technology, uid));
        self.write(actor, draft, |w| {
            let recycled = bind(w, &actor.id, user, technology, uid)?;
            if recycled {
                w.audit.detail = "recycled=true".into();
            }
            load(&w.conn, Some(technology), uid)
        })
    }

    /// Every twin: credentials whose UID bytes are bound to different
    /// people under different technologies (possible only in databases
    /// from before the rule against it). Doors deny them
    /// `credential_ambiguous` until [`Store::unbind_twin`] resolves them.
    pub fn twins(&self) -> Result<Vec<Twin>, StoreError> {
        self.read(twins_in)
    }

    /// Resolves a twin: closes the open binding of (`technology`, `uid`)
    /// (close reason `twin_unbound`) and retires the credential as
    /// `destroyed` (a retired one keeps its state), so it never grants,
    /// never goes back to stock and cannot be bound again. Refused with
    /// `not_a_twin` unless another person holds the same bytes under
    /// another technology: this is no way around the recycle rule. Doors
    /// that cannot tell the technology keep denying these bytes
    /// (`credential_destroyed`): the unbound card may still be in its former
    /// holder's pocket.
    pub fn unbind_twin(
        &self,
        actor: &Actor,
        technology: Technology,
        uid: &Uid,
    ) -> Result<CredentialRecord, StoreError> {
        let mut draft = AuditDraft::new("credential.unbind");
        draft.target_credential = Some(target(technology, uid));
        self.write(actor, draft, |w| {
            let row = find(&w.conn, Some(technology), uid)?.ok_or_else(|| not_found(uid))?;
            let held = held_bytes(&w.conn, uid)?;
            w.audit.target_user = held.iter().find(|h| h.technology == technology).map(|h| h.holder);
            let holder = check_unbindable(uid, technology, &held)?;
            let new = unbound_state(row.state);
            w.conn
                .prepare_cached(
                    "UPDATE bindings SET closed_at = ?2, closed_by = ?3, close_reason = 'twin_unbound'
                     WHERE credential_id = ?1 AND closed_at IS NULL",
                )?
                .execute(params![row.id, w.now.0, actor.id])?;
            if new != row.state {
                w.conn
                    .prepare_cached("UPDATE credentials SET state = ?2, updated_at = ?3 WHERE id = ?1")?
                    .execute(params![row.id, new.as_str(), w.now.0])?;
            }
            let others: Vec<String> =
                held.iter().filter(|h| h.holder != holder).map(|h| format!("{}:{}", h.technology, h.holder)).collect();
            w.audit.detail = format!("state={new} twin_of={}", others.join(","));
            w.change(Change::Credential { technology, uid: *uid, state: new, holder: None })?;
            load(&w.conn, Some(technology), uid)
        })
    }

    /// A credential with its holder and binding history.
    pub fn get_credential(&self, technology: Option<Technology>, uid: &Uid) -> Result<CredentialRecord, StoreError> {
        self.read(|c| load(c, technology, uid))
    }

    /// Retires a credential (lost, stolen, destroyed): it never grants and
    /// is never issued again. Its binding stays, so history keeps who lost it.
    pub fn revoke(
        &self,
        actor: &Actor,
        technology: Option<Technology>,
        uid: &Uid,
        reason: RetireReason,
    ) -> Result<CredentialRecord, StoreError> {
        self.set_credential_state(actor, "credential.revoke", technology, uid, reason.state())
    }

    /// Suspends an issued credential (the holder keeps it).
    pub fn suspend_credential(
        &self,
        actor: &Actor,
        technology: Option<Technology>,
        uid: &Uid,
    ) -> Result<CredentialRecord, StoreError> {
        self.set_credential_state(actor, "credential.suspend", technology, uid, CredentialState::Suspended)
    }

    /// Resumes a suspended credential.
    pub fn resume_credential(
        &self,
        actor: &Actor,
        technology: Option<Technology>,
        uid: &Uid,
    ) -> Result<CredentialRecord, StoreError> {
        self.set_credential_state(actor, "credential.resume", technology, uid, CredentialState::Issued)
    }

    fn set_credential_state(
        &self,
        actor: &Actor,
        action: &'static str,
        technology: Option<Technology>,
        uid: &Uid,
        to: CredentialState,
    ) -> Result<CredentialRecord, StoreError> {
        let mut draft = AuditDraft::new(action);
        draft.target_credential = Some(match technology {
            Some(t) => target(t, uid),
            None => uid.to_string(),
        });
        self.write(actor, draft, |w| {
            let row = find(&w.conn, technology, uid)?.ok_or_else(|| not_found(uid))?;
            w.audit.target_credential = Some(target(row.technology, uid));
            let new = credential_transition(uid, row.state, to)?;
            let held = holder(&w.conn, row.id)?;
            if held.is_none() && actor.unit.is_some() {
                // Stock is the office's, not a unit's.
                return Err(not_found(uid));
            }
            w.audit.target_user = held.map(|h| h.0);
            w.audit.detail = format!("state={new}");
            w.conn
                .prepare_cached("UPDATE credentials SET state = ?2, updated_at = ?3 WHERE id = ?1")?
                .execute(params![row.id, new.as_str(), w.now.0])?;
            w.change(Change::Credential {
                technology: row.technology,
                uid: *uid,
                state: new,
                holder: held.map(|h| h.0),
            })?;
            load(&w.conn, Some(row.technology), uid)
        })
    }

    /// Is this credential valid now? Answered from the in-memory index.
    #[must_use]
    pub fn decide(&self, technology: Option<Technology>, uid: &Uid, now: Timestamp) -> Decision {
        self.index().decide(technology, uid, now)
    }
}
