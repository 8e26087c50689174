//! What the store returns and accepts.
//!
//! Records that carry personal data implement `Debug` by hand and print
//! only IDs and states, so a stray `{:?}` in a log or panic leaks nothing.
//! They are not the API's JSON: `api::dto` converts them at the edge.

use std::fmt;

use ::time::Date;

use crate::domain::{CredentialState, Holds, Technology, Timestamp, Uid, UserId, UserState};

/// A person as the badge office sees them; a tombstone after expunge.
#[derive(Clone)]
pub struct UserRecord {
    /// Stable, opaque ID.
    pub id: UserId,
    /// Lifecycle state.
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
    pub valid_from: Option<Timestamp>,
    /// Exclusive end of validity.
    pub valid_to: Option<Timestamp>,
    /// When the person may be purged.
    pub purge_date: Option<Date>,
    /// Record type (e.g. `staff`, `contractor`, `visitor`); kept after expunge.
    pub record_type: Option<String>,
    /// User group; kept after expunge.
    pub group: Option<String>,
    /// Amount owed (in the office's currency; purge jobs skip people owing more than their waive threshold).
    pub balance: i64,
    /// Keys, equipment or cards not handed back (purge jobs skip people with any).
    pub unreturned_items: u32,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Deleted (soft), while deleted or expunged.
    pub deleted_at: Option<Timestamp>,
    /// Expunged.
    pub expunged_at: Option<Timestamp>,
    /// Who expunged.
    pub expunged_by: Option<String>,
    /// Credentials currently bound to this person.
    pub credentials: Vec<HeldCredential>,
    /// Every card this person has held, newest first (kept after expunge).
    pub history: Vec<HeldBinding>,
    /// Who holds their suspension (while suspended, or deleted from a suspension).
    pub holds: Holds,
    /// Their directory link, if any (kept after the directory deleted them, so they are not created again).
    pub directory: Option<DirectoryLink>,
    /// Their directory user name (SCIM `userName`).
    pub user_name: Option<String>,
    /// Bumped by every change to the row (SCIM's ETag).
    pub revision: i64,
    /// Their directory groups, by name.
    pub directory_groups: Vec<String>,
}

/// Where a person's directory link came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectorySource {
    /// Typed by staff.
    Staff,
    /// Pushed by a SCIM client.
    Scim,
    /// The scheduled LDAP / Active Directory import.
    Ldap,
    /// A CSV import.
    Csv,
}

impl DirectorySource {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Scim => "scim",
            Self::Ldap => "ldap",
            Self::Csv => "csv",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "staff" => Self::Staff,
            "scim" => Self::Scim,
            "ldap" => Self::Ldap,
            "csv" => Self::Csv,
            _ => return None,
        })
    }
}

/// A person's link to a directory entry.
#[derive(Clone, PartialEq, Eq)]
pub struct DirectoryLink {
    /// The entry's ID in the directory (SCIM `externalId`, LDAP `objectGUID`/`entryUUID`); a SCIM client may
    /// give none.
    pub external_id: Option<String>,
    /// Where the link came from.
    pub source: DirectorySource,
    /// When the directory deleted them: the link is kept so they are not created again, but the directory no
    /// longer manages them.
    pub gone_at: Option<Timestamp>,
    /// When their LDAP entry vanished (they are suspended, and deleted after the configured days).
    pub vanished_at: Option<Timestamp>,
}

impl fmt::Debug for DirectoryLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectoryLink").field("source", &self.source).finish_non_exhaustive()
    }
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord").field("id", &self.id).field("state", &self.state).finish_non_exhaustive()
    }
}

/// A credential as listed under its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldCredential {
    /// Technology.
    pub technology: Technology,
    /// UID.
    pub uid: Uid,
    /// State.
    pub state: CredentialState,
}

/// A card a person held, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBinding {
    /// Technology.
    pub technology: Technology,
    /// UID.
    pub uid: Uid,
    /// From.
    pub opened_at: Timestamp,
    /// Until (open if `None`).
    pub closed_at: Option<Timestamp>,
    /// Why it closed.
    pub close_reason: Option<String>,
}

/// A credential in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSummary {
    /// Technology.
    pub technology: Technology,
    /// UID.
    pub uid: Uid,
    /// State.
    pub state: CredentialState,
    /// Holder, if any.
    pub holder: Option<UserId>,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// A line of a search result.
#[derive(Clone)]
pub struct UserSummary {
    /// ID.
    pub id: UserId,
    /// State.
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
    pub deleted_at: Option<Timestamp>,
}

impl From<UserRecord> for UserSummary {
    /// The record's search-result line.
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            state: u.state,
            family_name: u.family_name,
            given_name: u.given_name,
            email: u.email,
            employee_no: u.employee_no,
            org_unit: u.org_unit,
            deleted_at: u.deleted_at,
        }
    }
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
#[derive(Debug, Clone)]
pub struct CredentialRecord {
    /// Technology.
    pub technology: Technology,
    /// UID.
    pub uid: Uid,
    /// State.
    pub state: CredentialState,
    /// The holder of the open binding, if any.
    pub holder: Option<UserId>,
    /// The holder's state.
    pub holder_state: Option<UserState>,
    /// First seen.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Every binding, newest first.
    pub bindings: Vec<BindingRecord>,
}

/// Who held a credential, from when to when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRecord {
    /// The holder.
    pub user_id: UserId,
    /// From.
    pub opened_at: Timestamp,
    /// By whom.
    pub opened_by: String,
    /// Until (open if `None`).
    pub closed_at: Option<Timestamp>,
    /// Why it closed.
    pub close_reason: Option<String>,
}

/// Counts of users per state (expunged included) and credentials per state.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Users per state.
    pub users: std::collections::BTreeMap<&'static str, u64>,
    /// Credentials per state.
    pub credentials: std::collections::BTreeMap<&'static str, u64>,
}
