//! The audit trail, its verification, and statistics.

use std::collections::BTreeMap;

use utoipa::ToSchema;

use crate::domain::{Timestamp, UserId};
use crate::store::{audit, records};

/// One entry of the hash-chained audit trail.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct AuditEntry {
    /// Position in the chain (1, 2, …); pass the last one seen as `since` for the next page.
    pub seq: i64,
    /// When (RFC 3339, UTC).
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// Who: `operator:<id>`, `controller:<id>` or `cli`.
    pub actor: String,
    /// What, as a dotted action name (`user.create`, `credential.enroll`, `api.refused`, …).
    pub action: String,
    /// The user acted on; `null` when none.
    #[schema(value_type = Option<String>)]
    pub target_user: Option<UserId>,
    /// The credential acted on (UID in hex); `null` when none.
    pub target_credential: Option<String>,
    /// `ok`, or the refusal's error code.
    pub outcome: String,
    /// Extra facts as `key=value` pairs (never personal data).
    pub detail: String,
}

impl From<audit::AuditEntry> for AuditEntry {
    fn from(e: audit::AuditEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            target_user: e.target_user,
            target_credential: e.target_credential,
            outcome: e.outcome,
            detail: e.detail,
        }
    }
}

/// The result of walking the chain.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: u64,
    /// The first entry that breaks the chain; `null` when it is intact.
    pub first_bad: Option<BadEntry>,
    /// The newest entry of an intact chain: record it outside IDMS, and
    /// later check the chain still holds it (`expect=SEQ:HASH`), which
    /// catches a truncated or rewritten chain that verifies on its own.
    pub head: Option<AuditHead>,
}

impl From<audit::AuditReport> for AuditReport {
    fn from(r: audit::AuditReport) -> Self {
        Self { entries: r.entries, first_bad: r.first_bad.map(BadEntry::from), head: r.head.map(AuditHead::from) }
    }
}

/// An entry's position and hash: `SEQ:HASH` (the hash in lowercase hex).
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct AuditHead {
    /// The entry's sequence number.
    pub seq: i64,
    /// Its SHA-256 chain hash, 64 lowercase hex digits.
    pub hash: String,
}

impl From<audit::AuditHead> for AuditHead {
    fn from(h: audit::AuditHead) -> Self {
        Self { seq: h.seq, hash: h.hash }
    }
}

/// Where and how the chain breaks.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct BadEntry {
    /// The entry's `seq` (as stored).
    pub seq: i64,
    /// What does not hold (a stable code).
    pub problem: &'static str,
}

impl From<audit::BadEntry> for BadEntry {
    fn from(b: audit::BadEntry) -> Self {
        Self { seq: b.seq, problem: b.problem }
    }
}

/// Counts of users per state (expunged included) and credentials per state.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct Stats {
    /// Users per lifecycle state: `active`, `suspended`, `deleted` and `expunged`, each always present.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub users: BTreeMap<&'static str, u64>,
    /// Credentials per state (`in_stock`, `issued`, `suspended`, `lost`, `stolen`, `destroyed`); a state no credential is in is absent.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub credentials: BTreeMap<&'static str, u64>,
}

impl From<records::Stats> for Stats {
    fn from(s: records::Stats) -> Self {
        Self { users: s.users, credentials: s.credentials }
    }
}
