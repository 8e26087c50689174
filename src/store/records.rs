//! What the store returns and accepts.
//!
//! Records that carry personal data implement `Debug` by hand and print
//! only IDs and states, so a stray `{:?}` in a log or panic leaks nothing.

use std::fmt;

use ::time::Date;

use crate::domain::time::format_date;
use crate::domain::{CredentialState, Technology, Timestamp, Uid, UserId, UserState};

/// Minor units (cents) shown as an amount (`1250` → `12.5`).
fn money_ser<S: serde::Serializer>(m: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(crate::domain::purge::units_from_minor(*m))
}

fn date_ser<S: serde::Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&format_date(*d)),
        None => s.serialize_none(),
    }
}

/// A person as the badge office sees them; a tombstone after expunge.
#[derive(Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UserRecord {
    /// Stable, opaque ID.
    #[schema(value_type = String)]
    pub id: UserId,
    /// Lifecycle state.
    #[schema(value_type = String)]
    pub state: UserState,
    /// Given name (`None` once expunged).
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Employee number.
    pub employee_no: Option<String>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Organisational unit (not personal; kept after expunge for statistics).
    pub org_unit: Option<String>,
    /// Managed by the identity directory.
    pub directory_linked: bool,
    /// Under legal hold (cannot be expunged).
    pub legal_hold: bool,
    /// Inclusive start of validity.
    #[schema(value_type = Option<String>)]
    pub valid_from: Option<Timestamp>,
    /// Exclusive end of validity.
    #[schema(value_type = Option<String>)]
    pub valid_to: Option<Timestamp>,
    /// When the person may be purged.
    #[serde(serialize_with = "date_ser")]
    #[schema(value_type = Option<String>)]
    pub purge_date: Option<Date>,
    /// Record type (e.g. `staff`, `contractor`, `visitor`); kept after expunge.
    pub record_type: Option<String>,
    /// User group; kept after expunge.
    pub group: Option<String>,
    /// Amount owed (in the office's currency; purge jobs skip people owing more than their waive threshold).
    #[serde(serialize_with = "money_ser")]
    #[schema(value_type = f64)]
    pub balance: i64,
    /// Keys, equipment or cards not handed back (purge jobs skip people with any).
    pub unreturned_items: u32,
    /// Created.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
    /// Deleted (soft), while deleted or expunged.
    #[schema(value_type = Option<String>)]
    pub deleted_at: Option<Timestamp>,
    /// Expunged.
    #[schema(value_type = Option<String>)]
    pub expunged_at: Option<Timestamp>,
    /// Who expunged.
    pub expunged_by: Option<String>,
    /// Credentials currently bound to this person.
    pub credentials: Vec<HeldCredential>,
    /// Every card this person has held, newest first (kept after expunge).
    pub history: Vec<HeldBinding>,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord").field("id", &self.id).field("state", &self.state).finish_non_exhaustive()
    }
}

/// A credential as listed under its holder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct HeldCredential {
    /// Technology.
    #[schema(value_type = String)]
    pub technology: Technology,
    /// UID.
    #[schema(value_type = String)]
    pub uid: Uid,
    /// State.
    #[schema(value_type = String)]
    pub state: CredentialState,
}

/// A card a person held, and when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct HeldBinding {
    /// Technology.
    #[schema(value_type = String)]
    pub technology: Technology,
    /// UID.
    #[schema(value_type = String)]
    pub uid: Uid,
    /// From.
    #[schema(value_type = String)]
    pub opened_at: Timestamp,
    /// Until (open if `None`).
    #[schema(value_type = Option<String>)]
    pub closed_at: Option<Timestamp>,
    /// Why it closed.
    pub close_reason: Option<String>,
}

/// A credential in a listing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CredentialSummary {
    /// Technology.
    #[schema(value_type = String)]
    pub technology: Technology,
    /// UID.
    #[schema(value_type = String)]
    pub uid: Uid,
    /// State.
    #[schema(value_type = String)]
    pub state: CredentialState,
    /// Holder, if any.
    #[schema(value_type = Option<String>)]
    pub holder: Option<UserId>,
    /// Last changed.
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
}

/// A line of a search result.
#[derive(Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UserSummary {
    /// ID.
    #[schema(value_type = String)]
    pub id: UserId,
    /// State.
    #[schema(value_type = String)]
    pub state: UserState,
    /// Family name.
    pub family_name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Employee number.
    pub employee_no: Option<String>,
    /// Organisational unit.
    pub org_unit: Option<String>,
    /// When deleted (deleted and expunged people).
    #[schema(value_type = Option<String>)]
    pub deleted_at: Option<Timestamp>,
}

impl fmt::Debug for UserSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSummary").field("id", &self.id).field("state", &self.state).finish_non_exhaustive()
    }
}

/// A new person.
#[derive(Clone, Default)]
pub struct NewUser {
    /// Given name (required).
    pub given_name: String,
    /// Family name (required).
    pub family_name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Employee number.
    pub employee_no: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Organisational unit.
    pub org_unit: Option<String>,
    /// Directory link (external ID in the identity directory).
    pub directory_id: Option<String>,
    /// Inclusive start of validity.
    pub valid_from: Option<Timestamp>,
    /// Exclusive end of validity.
    pub valid_to: Option<Timestamp>,
    /// Purge date.
    pub purge_date: Option<Date>,
    /// Legal hold.
    pub legal_hold: bool,
    /// Record type.
    pub record_type: Option<String>,
    /// User group.
    pub group: Option<String>,
    /// Amount owed, in minor units.
    pub balance: i64,
    /// Items not handed back.
    pub unreturned_items: u32,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser").finish_non_exhaustive()
    }
}

/// A change to a person. `None` leaves a field alone; `Some(None)` clears it.
#[derive(Clone, Default)]
pub struct UserPatch {
    /// Given name (cannot be cleared).
    pub given_name: Option<String>,
    /// Family name (cannot be cleared).
    pub family_name: Option<String>,
    /// Email.
    pub email: Option<Option<String>>,
    /// Phone.
    pub phone: Option<Option<String>>,
    /// Employee number.
    pub employee_no: Option<Option<String>>,
    /// Notes.
    pub notes: Option<Option<String>>,
    /// Organisational unit.
    pub org_unit: Option<Option<String>>,
    /// Directory link (`Some(None)` unlinks).
    pub directory_id: Option<Option<String>>,
    /// Inclusive start of validity.
    pub valid_from: Option<Option<Timestamp>>,
    /// Exclusive end of validity.
    pub valid_to: Option<Option<Timestamp>>,
    /// Purge date.
    pub purge_date: Option<Option<Date>>,
    /// Legal hold.
    pub legal_hold: Option<bool>,
    /// Record type.
    pub record_type: Option<Option<String>>,
    /// User group.
    pub group: Option<Option<String>>,
    /// Amount owed, in minor units.
    pub balance: Option<i64>,
    /// Items not handed back.
    pub unreturned_items: Option<u32>,
}

impl fmt::Debug for UserPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserPatch").finish_non_exhaustive()
    }
}

impl UserPatch {
    /// The names of the fields this patch touches (for the audit trail).
    #[must_use]
    pub fn field_names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut f = |set: bool, name| {
            if set {
                v.push(name);
            }
        };
        f(self.given_name.is_some(), "given_name");
        f(self.family_name.is_some(), "family_name");
        f(self.email.is_some(), "email");
        f(self.phone.is_some(), "phone");
        f(self.employee_no.is_some(), "employee_no");
        f(self.notes.is_some(), "notes");
        f(self.org_unit.is_some(), "org_unit");
        f(self.directory_id.is_some(), "directory_id");
        f(self.valid_from.is_some(), "valid_from");
        f(self.valid_to.is_some(), "valid_to");
        f(self.purge_date.is_some(), "purge_date");
        f(self.legal_hold.is_some(), "legal_hold");
        f(self.record_type.is_some(), "record_type");
        f(self.group.is_some(), "group");
        f(self.balance.is_some(), "balance");
        f(self.unreturned_items.is_some(), "unreturned_items");
        v
    }
}

/// A credential with its holder and binding history.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CredentialRecord {
    /// Technology.
    #[schema(value_type = String)]
    pub technology: Technology,
    /// UID.
    #[schema(value_type = String)]
    pub uid: Uid,
    /// State.
    #[schema(value_type = String)]
    pub state: CredentialState,
    /// The holder of the open binding, if any.
    #[schema(value_type = Option<String>)]
    pub holder: Option<UserId>,
    /// The holder's state.
    #[schema(value_type = Option<String>)]
    pub holder_state: Option<UserState>,
    /// First seen.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
    /// Every binding, newest first.
    pub bindings: Vec<BindingRecord>,
}

/// Who held a credential, from when to when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BindingRecord {
    /// The holder.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// From.
    #[schema(value_type = String)]
    pub opened_at: Timestamp,
    /// By whom.
    pub opened_by: String,
    /// Until (open if `None`).
    #[schema(value_type = Option<String>)]
    pub closed_at: Option<Timestamp>,
    /// Why it closed.
    pub close_reason: Option<String>,
}

/// Counts of users per state (expunged included) and credentials per state.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Users per state.
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub users: std::collections::BTreeMap<&'static str, u64>,
    /// Credentials per state.
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub credentials: std::collections::BTreeMap<&'static str, u64>,
}
