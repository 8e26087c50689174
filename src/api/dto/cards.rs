//! Cards: a credential with its bindings, listings, twins.

use utoipa::ToSchema;

use super::all;
use crate::domain::{CredentialState, Technology, Timestamp, Uid, UserId, UserState};
use crate::store::records as rec;

/// A credential with its holder and binding history.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct CredentialRecord {
    /// Card technology: `iso14443a`, `em4100` or `other`.
    #[schema(value_type = String)]
    pub technology: Technology,
    /// UID, uppercase hex.
    #[schema(value_type = String)]
    pub uid: Uid,
    /// State: `in_stock`, `issued`, `suspended`, `lost`, `stolen` or `destroyed`.
    #[schema(value_type = String)]
    pub state: CredentialState,
    /// The holder of the open binding; `null` when nobody holds it.
    #[schema(value_type = Option<String>)]
    pub holder: Option<UserId>,
    /// The holder's lifecycle state; `null` when nobody holds it.
    #[schema(value_type = Option<String>)]
    pub holder_state: Option<UserState>,
    /// First seen (RFC 3339, UTC).
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Last changed (RFC 3339, UTC).
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
    /// Every binding, newest first.
    pub bindings: Vec<BindingRecord>,
}

impl From<rec::CredentialRecord> for CredentialRecord {
    fn from(c: rec::CredentialRecord) -> Self {
        Self {
            technology: c.technology,
            uid: c.uid,
            state: c.state,
            holder: c.holder,
            holder_state: c.holder_state,
            created_at: c.created_at,
            updated_at: c.updated_at,
            bindings: all(c.bindings),
        }
    }
}

/// Who held a credential, from when to when.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct BindingRecord {
    /// The holder.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// Bound from (RFC 3339, UTC).
    #[schema(value_type = String)]
    pub opened_at: Timestamp,
    /// Who bound it (`operator:<id>`, `cli`, …).
    pub opened_by: String,
    /// Bound until (RFC 3339, UTC); `null` while open.
    #[schema(value_type = Option<String>)]
    pub closed_at: Option<Timestamp>,
    /// Why it closed (`lost`, `stolen`, `destroyed`, `expunged`, …); `null` while open.
    pub close_reason: Option<String>,
}

impl From<rec::BindingRecord> for BindingRecord {
    fn from(b: rec::BindingRecord) -> Self {
        Self {
            user_id: b.user_id,
            opened_at: b.opened_at,
            opened_by: b.opened_by,
            closed_at: b.closed_at,
            close_reason: b.close_reason,
        }
    }
}

/// A credential in a listing.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct CredentialSummary {
    /// Card technology: `iso14443a`, `em4100` or `other`.
    #[schema(value_type = String)]
    pub technology: Technology,
    /// UID, uppercase hex.
    #[schema(value_type = String)]
    pub uid: Uid,
    /// State: `in_stock`, `issued`, `suspended`, `lost`, `stolen` or `destroyed`.
    #[schema(value_type = String)]
    pub state: CredentialState,
    /// Holder of the open binding; `null` when nobody holds it.
    #[schema(value_type = Option<String>)]
    pub holder: Option<UserId>,
    /// Last changed (RFC 3339, UTC).
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
}

impl From<rec::CredentialSummary> for CredentialSummary {
    fn from(c: rec::CredentialSummary) -> Self {
        Self { technology: c.technology, uid: c.uid, state: c.state, holder: c.holder, updated_at: c.updated_at }
    }
}

/// One credential of a twin: the same UID bytes held by different people
/// under different technologies. IDs, states and UIDs only.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct Twin {
    /// Card technology: `iso14443a`, `em4100` or `other` (name it to unbind this one).
    #[schema(value_type = String)]
    pub technology: Technology,
    /// UID, uppercase hex (the same bytes as its twin's).
    #[schema(value_type = String)]
    pub uid: Uid,
    /// Credential state.
    #[schema(value_type = String)]
    pub state: CredentialState,
    /// The holder of its open binding.
    #[schema(value_type = String)]
    pub holder: UserId,
    /// The holder's lifecycle state.
    #[schema(value_type = String)]
    pub holder_state: UserState,
}

impl From<crate::store::Twin> for Twin {
    fn from(t: crate::store::Twin) -> Self {
        Self { technology: t.technology, uid: t.uid, state: t.state, holder: t.holder, holder_state: t.holder_state }
    }
}
