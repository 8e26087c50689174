//! People from the identity directory: what a SCIM client (a `provisioner`
//! token) may do, and staff's view of directory runs.
//!
//! Every SCIM operation needs a provisioner token and acts as the
//! directory ([`crate::store::Actor::directory`]): it may delete people it
//! links, its `active: false` is its own suspension, and `active: true`
//! lifts only that one. The lifecycle rules themselves are the store's and
//! the domain's.

use crate::domain::UserId;
use crate::ops::{Acting, OpsError};
use crate::store::directory::{DirPerson, GroupRecord, ScimLookup};
use crate::store::{Store, UserRecord};

/// SCIM `POST /Users`.
pub fn scim_create_user(store: &Store, acting: &Acting, p: DirPerson) -> Result<UserRecord, OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_create_user(&acting.actor(), p)?)
}

/// SCIM `GET /Users/{id}`: a person the directory sees (linked through SCIM or by staff, not deleted).
pub fn scim_user(store: &Store, acting: &Acting, id: UserId) -> Result<UserRecord, OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_user(id)?)
}

/// SCIM `GET /Users`: the people the directory sees, narrowed by an index look-up (the caller filters further).
pub fn scim_users(store: &Store, acting: &Acting, lookup: &ScimLookup) -> Result<Vec<UserRecord>, OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_users(lookup)?)
}

/// SCIM `PUT /Users/{id}`, and `PATCH` once applied to the current resource: the directory's fields and `active`.
pub fn scim_replace_user(
    store: &Store,
    acting: &Acting,
    id: UserId,
    p: DirPerson,
    if_revision: Option<i64>,
) -> Result<UserRecord, OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_replace_user(&acting.actor(), id, p, if_revision)?)
}

/// SCIM `DELETE /Users/{id}`: deleted, not expunged; the same `externalId` is refused while they are deleted.
pub fn scim_delete_user(store: &Store, acting: &Acting, id: UserId, if_revision: Option<i64>) -> Result<(), OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_delete_user(&acting.actor(), id, if_revision)?)
}

/// SCIM `POST /Groups`.
pub fn scim_create_group(
    store: &Store,
    acting: &Acting,
    display_name: String,
    external_id: Option<String>,
    members: &[UserId],
) -> Result<GroupRecord, OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_create_group(&acting.actor(), display_name, external_id, members)?)
}

/// SCIM `GET /Groups/{id}`.
pub fn scim_group(store: &Store, acting: &Acting, id: i64) -> Result<GroupRecord, OpsError> {
    acting.require_provisioner()?;
    Ok(store.group(id)?)
}

/// SCIM `GET /Groups`: every group, or the one named `display_name`.
pub fn scim_groups(store: &Store, acting: &Acting, display_name: Option<&str>) -> Result<Vec<GroupRecord>, OpsError> {
    acting.require_provisioner()?;
    Ok(store.groups(display_name)?)
}

/// What a SCIM group write changes (`None`: left alone).
#[derive(Debug, Clone, Default)]
pub struct GroupChange {
    /// New name.
    pub display_name: Option<String>,
    /// New external ID (`Some(None)` clears it).
    pub external_id: Option<Option<String>>,
    /// The whole member list (PUT, or PATCH replace of `members`).
    pub members: Option<Vec<UserId>>,
    /// Members added (PATCH add).
    pub add: Vec<UserId>,
    /// Members removed (PATCH remove).
    pub remove: Vec<UserId>,
}

/// SCIM `PUT`/`PATCH /Groups/{id}`.
pub fn scim_update_group(
    store: &Store,
    acting: &Acting,
    id: i64,
    change: GroupChange,
    if_revision: Option<i64>,
) -> Result<GroupRecord, OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_update_group(
        &acting.actor(),
        id,
        change.display_name,
        change.external_id,
        change.members.as_deref(),
        &change.add,
        &change.remove,
        if_revision,
    )?)
}

/// SCIM `DELETE /Groups/{id}`.
pub fn scim_delete_group(store: &Store, acting: &Acting, id: i64, if_revision: Option<i64>) -> Result<(), OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_delete_group(&acting.actor(), id, if_revision)?)
}
