//! The audit trail: one hash-chained entry per staff or directory action,
//! refused attempts included.
//!
//! Each entry stores the SHA-256 of the previous entry's hash and its own
//! fields, so changing, removing or reordering any entry breaks the chain
//! from there on; [`verify`] names the first entry that does not hold.
//! **Entries hold IDs, codes and counts only — never personal data**, so an
//! expunge never has to rewrite history.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::domain::{DomainError, Timestamp, UserId};
use crate::store::{Store, StoreError};

/// The `prev_hash` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// What an action records, filled in as the action learns its targets.
#[derive(Debug, Clone, Default)]
pub struct AuditDraft {
    /// Dotted action name, e.g. `user.expunge`.
    pub action: &'static str,
    /// The user acted on.
    pub target_user: Option<UserId>,
    /// The credential acted on, `technology:UID`.
    pub target_credential: Option<String>,
    /// Extra facts without personal data: field names, counts, codes.
    pub detail: String,
}

impl AuditDraft {
    /// A draft for `action`.
    #[must_use]
    pub fn new(action: &'static str) -> Self {
        Self { action, ..Self::default() }
    }

    /// Sets the target user.
    #[must_use]
    pub fn user(mut self, id: UserId) -> Self {
        self.target_user = Some(id);
        self
    }
}

/// One entry as stored.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Position in the chain (1, 2, …).
    pub seq: i64,
    /// When.
    pub at: Timestamp,
    /// Who (operator, controller or `cli`).
    pub actor: String,
    /// What.
    pub action: String,
    /// The user acted on.
    pub target_user: Option<UserId>,
    /// The credential acted on.
    pub target_credential: Option<String>,
    /// `ok`, or the refusal's error code.
    pub outcome: String,
    /// Extra facts (no personal data).
    pub detail: String,
}

#[allow(clippy::too_many_arguments)]
fn entry_hash(
    prev: &[u8],
    seq: i64,
    at: i64,
    actor: &[u8],
    action: &[u8],
    target_user: Option<i64>,
    target_credential: Option<&[u8]>,
    outcome: &[u8],
    detail: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"idms-audit-v1");
    h.update(prev);
    h.update(seq.to_le_bytes());
    h.update(at.to_le_bytes());
    let mut field = |b: Option<&[u8]>| match b {
        None => h.update([0u8]),
        Some(b) => {
            h.update([1u8]);
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        }
    };
    field(Some(actor));
    field(Some(action));
    field(target_user.map(i64::to_le_bytes).as_ref().map(|b| &b[..]));
    field(target_credential);
    field(Some(outcome));
    field(Some(detail));
    h.finalize().into()
}

/// Appends an entry inside the caller's transaction (which must hold the
/// write lock, so the chain's head cannot move underneath).
pub fn append(
    conn: &Connection,
    at: Timestamp,
    actor: &str,
    draft: &AuditDraft,
    outcome: &str,
) -> Result<(), StoreError> {
    let head: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev) = match head {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_vec()),
    };
    let cred = draft.target_credential.as_deref();
    let hash = entry_hash(
        &prev,
        seq,
        at.0,
        actor.as_bytes(),
        draft.action.as_bytes(),
        draft.target_user.map(UserId::as_i64),
        cred.map(str::as_bytes),
        outcome.as_bytes(),
        draft.detail.as_bytes(),
    );
    conn.prepare_cached(
        "INSERT INTO audit (seq, at, actor, action, target_user, target_credential, outcome, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        seq,
        at.0,
        actor,
        draft.action,
        draft.target_user.map(UserId::as_i64),
        cred,
        outcome,
        draft.detail,
        prev,
        &hash[..]
    ])?;
    Ok(())
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: u64,
    /// The first entry that breaks the chain, if any.
    pub first_bad: Option<BadEntry>,
    /// The newest entry of an intact chain: record it outside IDMS, and
    /// later check the chain still holds it (`--expect SEQ:HASH`), which
    /// catches a truncated or rewritten chain that verifies on its own.
    pub head: Option<AuditHead>,
}

/// An entry's position and hash: `SEQ:HASH` (the hash in lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    /// The entry's sequence number.
    pub seq: i64,
    /// Its SHA-256 chain hash, 64 lowercase hex digits.
    pub hash: String,
}

impl AuditHead {
    /// Parses `SEQ:HASH` as `idms audit verify` prints it.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::InvalidInput {
            field: "expect",
            message: "expected SEQ:HASH as `idms audit verify` prints it: a sequence number, a colon and 64 hex digits"
                .into(),
        };
        let (seq, hash) = s.trim().split_once(':').ok_or_else(bad)?;
        let seq = seq.parse::<i64>().ok().filter(|s| *s >= 1).ok_or_else(bad)?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Self { seq, hash: hash.to_ascii_lowercase() })
    }
}

impl std::fmt::Display for AuditHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

/// Where and how the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry {
    /// The entry's `seq` (as stored).
    pub seq: i64,
    /// What does not hold.
    pub problem: &'static str,
}

fn text(v: ValueRef<'_>) -> Option<&[u8]> {
    match v {
        ValueRef::Text(b) => Some(b),
        _ => None,
    }
}

/// Walks the whole chain in order and reports the first broken entry (or
/// the head of an intact chain).
pub fn verify(conn: &Connection) -> Result<AuditReport, StoreError> {
    verify_holding(conn, None).map(|(r, _)| r)
}

/// [`verify`], also returning the hash (hex) of entry `seq` if the chain
/// reached it intact.
fn verify_holding(
    conn: &Connection,
    seq_of_interest: Option<i64>,
) -> Result<(AuditReport, Option<String>), StoreError> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, action, target_user, target_credential, outcome, detail, prev_hash, hash
         FROM audit ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut expected_prev = GENESIS.to_vec();
    let mut expected_seq = 1i64;
    let mut entries = 0u64;
    let mut of_interest = None;
    while let Some(r) = rows.next()? {
        entries += 1;
        let seq = match r.get_ref(0)? {
            ValueRef::Integer(s) => s,
            _ => expected_seq,
        };
        let bad = |problem| Ok((AuditReport { entries, first_bad: Some(BadEntry { seq, problem }), head: None }, None));
        if seq != expected_seq {
            return bad("an entry is missing before this one, or its sequence number was changed");
        }
        let ValueRef::Integer(at) = r.get_ref(1)? else { return bad("the time is not an integer") };
        let (Some(actor), Some(action), Some(outcome), Some(detail)) =
            (text(r.get_ref(2)?), text(r.get_ref(3)?), text(r.get_ref(6)?), text(r.get_ref(7)?))
        else {
            return bad("a text field holds a value of another type");
        };
        let target_user = match r.get_ref(4)? {
            ValueRef::Null => None,
            ValueRef::Integer(u) => Some(u),
            _ => return bad("target_user holds a value of another type"),
        };
        let target_credential = match r.get_ref(5)? {
            ValueRef::Null => None,
            ValueRef::Text(t) => Some(t),
            _ => return bad("target_credential holds a value of another type"),
        };
        let (ValueRef::Blob(prev), ValueRef::Blob(hash)) = (r.get_ref(8)?, r.get_ref(9)?) else {
            return bad("a hash field holds a value of another type");
        };
        if prev != expected_prev.as_slice() {
            return bad("prev_hash does not match the previous entry's hash");
        }
        let want = entry_hash(prev, seq, at, actor, action, target_user, target_credential, outcome, detail);
        if hash != want.as_slice() {
            return bad("the entry's contents do not match its hash");
        }
        if seq_of_interest == Some(seq) {
            of_interest = Some(hex::encode(hash));
        }
        expected_prev = hash.to_vec();
        expected_seq += 1;
    }
    let head = (entries > 0).then(|| AuditHead { seq: expected_seq - 1, hash: hex::encode(&expected_prev) });
    Ok((AuditReport { entries, first_bad: None, head }, of_interest))
}

impl Store {
    /// Walks the audit chain and, given a head recorded earlier, checks
    /// that the chain still holds that entry with that hash: a chain cut
    /// short or rewritten from some entry on (by someone who recomputed the
    /// hashes) verifies on its own, but no longer holds the recorded head —
    /// `audit_head_missing`. A broken chain is reported as such first.
    pub fn verify_audit_expecting(&self, expect: Option<&AuditHead>) -> Result<AuditReport, StoreError> {
        self.read(|c| {
            let (report, found) = verify_holding(c, expect.map(|e| e.seq))?;
            if let (Some(e), None) = (expect, &report.first_bad)
                && found.as_deref() != Some(e.hash.as_str())
            {
                return Err(DomainError::AuditHeadMissing { seq: e.seq }.into());
            }
            Ok(report)
        })
    }
}

/// Filters for listing entries.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries with `seq` greater than this.
    pub after_seq: Option<i64>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only entries about this user.
    pub target_user: Option<UserId>,
    /// At most this many (default 100).
    pub limit: Option<u32>,
}

/// Lists entries, oldest first.
pub fn list(conn: &Connection, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, actor, action, target_user, target_credential, outcome, detail FROM audit
         WHERE seq > ?1 AND (?2 IS NULL OR actor = ?2) AND (?3 IS NULL OR target_user = ?3)
         ORDER BY seq LIMIT ?4",
    )?;
    let rows = stmt.query_map(
        params![q.after_seq.unwrap_or(0), q.actor, q.target_user.map(UserId::as_i64), q.limit.unwrap_or(100)],
        |r| {
            Ok(AuditEntry {
                seq: r.get(0)?,
                at: Timestamp(r.get(1)?),
                actor: r.get(2)?,
                action: r.get(3)?,
                target_user: r.get::<_, Option<i64>>(4)?.map(UserId::from_i64),
                target_credential: r.get(5)?,
                outcome: r.get(6)?,
                detail: r.get(7)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}
