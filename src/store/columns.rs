//! Reading the domain's types out of result rows. States, technologies
//! and UIDs are stored as text and blobs; a value this build cannot read
//! is `StoreError::Corrupt`, naming the column kind (never the value).

use rusqlite::Row;
use rusqlite::types::ValueRef;

use crate::domain::{CredentialState, Technology, Uid, UserState};
use crate::store::StoreError;

fn text<'r>(r: &'r Row<'_>, i: usize, what: &'static str) -> Result<Option<&'r str>, StoreError> {
    match r.get_ref(i)? {
        ValueRef::Null => Ok(None),
        v => v.as_str().map(Some).map_err(|_| StoreError::Corrupt(what)),
    }
}

fn required<T>(v: Option<T>, what: &'static str) -> Result<T, StoreError> {
    v.ok_or(StoreError::Corrupt(what))
}

/// A `YYYY-MM-DD` date column that may be NULL (purge dates).
pub(crate) fn opt_date(r: &Row<'_>, i: usize) -> Result<Option<::time::Date>, StoreError> {
    text(r, i, "date")?
        .map(|d| crate::domain::time::parse_date("date", d).map_err(|_| StoreError::Corrupt("date")))
        .transpose()
}

/// A technology column that may be NULL.
pub(crate) fn opt_technology(r: &Row<'_>, i: usize) -> Result<Option<Technology>, StoreError> {
    text(r, i, "technology")?
        .map(|t| Technology::from_name(t).map_err(|_| StoreError::Corrupt("technology")))
        .transpose()
}

/// A technology column.
pub(crate) fn technology(r: &Row<'_>, i: usize) -> Result<Technology, StoreError> {
    required(opt_technology(r, i)?, "technology")
}

/// A UID column.
pub(crate) fn uid(r: &Row<'_>, i: usize) -> Result<Uid, StoreError> {
    let b = r.get_ref(i)?.as_blob().map_err(|_| StoreError::Corrupt("uid"))?;
    Uid::from_bytes(b).map_err(|_| StoreError::Corrupt("uid"))
}

/// A credential-state column.
pub(crate) fn credential_state(r: &Row<'_>, i: usize) -> Result<CredentialState, StoreError> {
    let s = required(text(r, i, "credential state")?, "credential state")?;
    CredentialState::from_name(s).ok_or(StoreError::Corrupt("credential state"))
}

/// A user-state column that may be NULL (no holder).
pub(crate) fn opt_user_state(r: &Row<'_>, i: usize) -> Result<Option<UserState>, StoreError> {
    text(r, i, "user state")?.map(|s| UserState::from_name(s).ok_or(StoreError::Corrupt("user state"))).transpose()
}

/// A user-state column.
pub(crate) fn user_state(r: &Row<'_>, i: usize) -> Result<UserState, StoreError> {
    required(opt_user_state(r, i)?, "user state")
}
