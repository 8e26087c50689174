//! People: the full record, search lines, the expunge preview.

use ::time::Date;
use utoipa::ToSchema;

use super::{all, opt_date_ser};
use crate::domain::{CredentialState, Technology, Timestamp, Uid, UserId, UserState};
use crate::store::records as rec;

/// Minor units (cents) shown as an amount (`1250` → `12.5`).
fn money_ser<S: serde::Serializer>(m: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(crate::domain::purge::units_from_minor(*m))
}

/// A person as the badge office sees them; a tombstone after expunge.
#[derive(Clone, serde::Serialize, ToSchema)]
pub struct UserRecord {
    /// Stable, opaque ID: 12 characters of Crockford base 32.
    #[schema(value_type = String)]
    pub id: UserId,
    /// Lifecycle state: `active`, `suspended`, `deleted` or `expunged`.
    #[schema(value_type = String)]
    pub state: UserState,
    /// Given name (`null` once expunged).
    pub given_name: Option<String>,
    /// Family name (`null` once expunged).
    pub family_name: Option<String>,
    /// Email (`null` when not given or once expunged).
    pub email: Option<String>,
    /// Phone (`null` when not given or once expunged).
    pub phone: Option<String>,
    /// Employee number (`null` when not given or once expunged).
    pub employee_no: Option<String>,
    /// Free-text notes (`null` when not given or once expunged).
    pub notes: Option<String>,
    /// Organisational unit (not personal; kept after expunge for statistics).
    pub org_unit: Option<String>,
    /// Managed by the identity directory (edits may be overwritten by it).
    pub directory_linked: bool,
    /// Under legal hold: cannot be expunged, and purge jobs skip them.
    pub legal_hold: bool,
    /// Inclusive start of validity (RFC 3339, UTC); `null`: no start.
    #[schema(value_type = Option<String>)]
    pub valid_from: Option<Timestamp>,
    /// Exclusive end of validity (RFC 3339, UTC); `null`: no end.
    #[schema(value_type = Option<String>)]
    pub valid_to: Option<Timestamp>,
    /// When the person may be purged (`YYYY-MM-DD`); `null`: never selected by a purge job.
    #[serde(serialize_with = "opt_date_ser")]
    #[schema(value_type = Option<String>)]
    pub purge_date: Option<Date>,
    /// Record type (e.g. `staff`, `contractor`, `visitor`); kept after expunge.
    pub record_type: Option<String>,
    /// User group; kept after expunge.
    pub group: Option<String>,
    /// Amount owed, in the office's currency as a decimal number (purge jobs skip people owing more than their waive threshold).
    #[serde(serialize_with = "money_ser")]
    #[schema(value_type = f64)]
    pub balance: i64,
    /// Keys, equipment or cards not handed back (purge jobs skip people with any).
    pub unreturned_items: u32,
    /// Created (RFC 3339, UTC).
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Last changed (RFC 3339, UTC).
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
    /// When deleted (RFC 3339, UTC), while deleted or expunged; `null` otherwise.
    #[schema(value_type = Option<String>)]
    pub deleted_at: Option<Timestamp>,
    /// When expunged (RFC 3339, UTC); `null` unless a tombstone.
    #[schema(value_type = Option<String>)]
    pub expunged_at: Option<Timestamp>,
    /// Who expunged (`operator:<id>`, `cli`, …); `null` unless a tombstone.
    pub expunged_by: Option<String>,
    /// Credentials currently bound to this person.
    pub credentials: Vec<HeldCredential>,
    /// Every card this person has held, newest first (kept after expunge).
    pub history: Vec<HeldBinding>,
    /// Who holds their suspension: `staff`, `directory`, or both (empty unless suspended, or deleted from a
    /// suspension). Staff cannot resume a suspension the directory alone holds.
    pub suspended_by: Vec<&'static str>,
    /// Their link to a directory entry; `null`: none.
    pub directory: Option<DirectoryLink>,
    /// Their directory user name (SCIM `userName`); `null`: none.
    pub user_name: Option<String>,
    /// Their directory groups (from SCIM Groups or the directory's `memberOf`), by name.
    pub directory_groups: Vec<String>,
}

/// A person's link to a directory entry.
#[derive(Clone, serde::Serialize, ToSchema)]
pub struct DirectoryLink {
    /// The entry's ID in the directory (SCIM `externalId`, LDAP `objectGUID`/`entryUUID`); `null` when a SCIM
    /// client gave none.
    pub external_id: Option<String>,
    /// Where the link came from: `staff`, `scim`, `ldap` or `csv`.
    pub source: &'static str,
    /// When the directory deleted them (RFC 3339, UTC): the link is kept so they are not created again, and they
    /// are no longer `directory_linked`.
    #[schema(value_type = Option<String>)]
    pub gone_at: Option<Timestamp>,
    /// When their LDAP entry vanished (RFC 3339, UTC).
    #[schema(value_type = Option<String>)]
    pub vanished_at: Option<Timestamp>,
}

impl std::fmt::Debug for DirectoryLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryLink").field("source", &self.source).finish_non_exhaustive()
    }
}

impl From<rec::DirectoryLink> for DirectoryLink {
    fn from(d: rec::DirectoryLink) -> Self {
        Self { external_id: d.external_id, source: d.source.as_str(), gone_at: d.gone_at, vanished_at: d.vanished_at }
    }
}

impl From<rec::UserRecord> for UserRecord {
    fn from(u: rec::UserRecord) -> Self {
        Self {
            id: u.id,
            state: u.state,
            given_name: u.given_name,
            family_name: u.family_name,
            email: u.email,
            phone: u.phone,
            employee_no: u.employee_no,
            notes: u.notes,
            org_unit: u.org_unit,
            directory_linked: u.directory_linked,
            legal_hold: u.legal_hold,
            valid_from: u.valid_from,
            valid_to: u.valid_to,
            purge_date: u.purge_date,
            record_type: u.record_type,
            group: u.group,
            balance: u.balance,
            unreturned_items: u.unreturned_items,
            created_at: u.created_at,
            updated_at: u.updated_at,
            deleted_at: u.deleted_at,
            expunged_at: u.expunged_at,
            expunged_by: u.expunged_by,
            credentials: all(u.credentials),
            history: all(u.history),
            suspended_by: [(u.holds.staff, "staff"), (u.holds.directory, "directory")]
                .into_iter()
                .filter_map(|(on, who)| on.then_some(who))
                .collect(),
            directory: u.directory.map(Into::into),
            user_name: u.user_name,
            directory_groups: u.directory_groups,
        }
    }
}

/// A credential as listed under its holder.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct HeldCredential {
    /// Card technology: `iso14443a`, `em4100` or `other`.
    #[schema(value_type = String)]
    pub technology: Technology,
    /// UID, uppercase hex.
    #[schema(value_type = String)]
    pub uid: Uid,
    /// Credential state: `issued` or `suspended` while held.
    #[schema(value_type = String)]
    pub state: CredentialState,
}

impl From<rec::HeldCredential> for HeldCredential {
    fn from(c: rec::HeldCredential) -> Self {
        Self { technology: c.technology, uid: c.uid, state: c.state }
    }
}

/// A card a person held, and when.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct HeldBinding {
    /// Card technology: `iso14443a`, `em4100` or `other`.
    #[schema(value_type = String)]
    pub technology: Technology,
    /// UID, uppercase hex.
    #[schema(value_type = String)]
    pub uid: Uid,
    /// Bound from (RFC 3339, UTC).
    #[schema(value_type = String)]
    pub opened_at: Timestamp,
    /// Bound until (RFC 3339, UTC); `null` while still held.
    #[schema(value_type = Option<String>)]
    pub closed_at: Option<Timestamp>,
    /// Why it closed (`lost`, `stolen`, `destroyed`, `expunged`, …); `null` while held.
    pub close_reason: Option<String>,
}

impl From<rec::HeldBinding> for HeldBinding {
    fn from(b: rec::HeldBinding) -> Self {
        Self {
            technology: b.technology,
            uid: b.uid,
            opened_at: b.opened_at,
            closed_at: b.closed_at,
            close_reason: b.close_reason,
        }
    }
}

/// A line of a search result.
#[derive(Clone, serde::Serialize, ToSchema)]
pub struct UserSummary {
    /// Stable, opaque ID (fetch the whole record at `/api/v1/users/{id}`).
    #[schema(value_type = String)]
    pub id: UserId,
    /// Lifecycle state: `active`, `suspended`, `deleted` or `expunged`.
    #[schema(value_type = String)]
    pub state: UserState,
    /// Family name (`null` once expunged).
    pub family_name: Option<String>,
    /// Given name (`null` once expunged).
    pub given_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Employee number.
    pub employee_no: Option<String>,
    /// Organisational unit.
    pub org_unit: Option<String>,
    /// When deleted (RFC 3339, UTC), for deleted and expunged people; `null` otherwise.
    #[schema(value_type = Option<String>)]
    pub deleted_at: Option<Timestamp>,
}

impl From<rec::UserSummary> for UserSummary {
    fn from(u: rec::UserSummary) -> Self {
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

redacted_debug!(UserRecord, UserSummary);

/// What an expunge would destroy and what blocks it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ExpungePreview {
    /// The person.
    pub id: String,
    /// Their state.
    pub state: String,
    /// Personal fields that hold data and would be destroyed.
    pub destroys: Vec<&'static str>,
    /// Cards that would return to stock.
    pub releases: Vec<String>,
    /// Retired cards that stay retired.
    pub keeps_retired: Vec<String>,
    /// Error codes that would refuse the expunge now (empty: it may proceed).
    pub blocked_by: Vec<&'static str>,
}

impl From<crate::ops::users::ExpungePreview> for ExpungePreview {
    fn from(p: crate::ops::users::ExpungePreview) -> Self {
        Self {
            id: p.id.to_string(),
            state: p.state.to_string(),
            destroys: p.destroys,
            releases: p.releases.iter().map(ToString::to_string).collect(),
            keeps_retired: p.keeps_retired.iter().map(ToString::to_string).collect(),
            blocked_by: p.blocked_by,
        }
    }
}
