//! People: search, add, edit, lifecycle, expunge — who may, and over whom.
//!
//! Roles: viewers search and read; enrollers add people; managers edit,
//! suspend, delete and restore, and place legal holds and purge dates;
//! erasers expunge and lift legal holds (the hold protects what erasers
//! would destroy, so only they may take it away). A scoped operator acts
//! only on people of their unit, adds people only to it, and cannot move
//! anyone between units.

use crate::domain::{LifecycleAction, UserId};
use crate::ops::{Acting, OpsError, forbidden, load_scoped};
use crate::store::{NewUser, Role, Store, UserPatch, UserRecord, UserSummary};

/// Search people the caller may see (`all` includes deleted and expunged).
pub fn search(store: &Store, acting: &Acting, q: &str, all: bool, limit: u32) -> Result<Vec<UserSummary>, OpsError> {
    acting.require(Role::Viewer)?;
    Ok(match acting.scope()? {
        Some(u) => store.search_users_in_unit(q, u, all, limit)?,
        None if all => store.search_all_users(q, limit)?,
        None => store.search_users(q, limit)?,
    })
}

/// A page of [`search`]: the people after (or before) a cursor in the
/// search's order (keyset paging: as fast on the hundredth page as on the
/// first).
pub fn search_page(
    store: &Store,
    acting: &Acting,
    q: &str,
    all: bool,
    at: Option<crate::store::Cursor>,
    limit: u32,
) -> Result<Vec<UserSummary>, OpsError> {
    acting.require(Role::Viewer)?;
    Ok(store.search_users_page(q, all, acting.scope()?, at, limit)?)
}

/// What the caller may do to people's records, for forms and buttons:
/// each as the operations below decide it (they check again whatever is
/// posted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::struct_excessive_bools)]
pub struct Rights {
    /// Add people ([`create`]).
    pub add: bool,
    /// Edit people ([`update`]).
    pub edit: bool,
    /// Place a legal hold or set a purge date.
    pub hold_and_purge_date: bool,
    /// Lift a legal hold.
    pub lift_hold: bool,
    /// Choose or change a person's org unit (a scoped operator's people stay in their unit).
    pub choose_unit: bool,
}

/// Refused unless the caller may add people (enroller and above).
pub fn may_add(acting: &Acting) -> Result<(), OpsError> {
    acting.require(Role::Enroller)
}

/// Refused unless the caller may edit people (manager and above).
pub fn may_edit(acting: &Acting) -> Result<(), OpsError> {
    acting.require(Role::Manager)
}

/// Placing a legal hold or setting a purge date needs a manager.
fn may_hold_or_date(acting: &Acting) -> Result<(), OpsError> {
    acting.require(Role::Manager).map_err(|_| forbidden("setting a legal hold or a purge date needs the manager role"))
}

/// Lifting a legal hold needs an eraser.
fn may_lift_hold(acting: &Acting) -> Result<(), OpsError> {
    acting.require(Role::Eraser).map_err(|_| {
        forbidden("lifting a legal hold needs the eraser role: the hold protects what erasers would destroy")
    })
}

/// The caller's [`Rights`].
#[must_use]
pub fn rights(acting: &Acting) -> Rights {
    Rights {
        add: may_add(acting).is_ok(),
        edit: may_edit(acting).is_ok(),
        hold_and_purge_date: may_hold_or_date(acting).is_ok(),
        lift_hold: may_lift_hold(acting).is_ok(),
        choose_unit: acting.unit().is_none(),
    }
}

/// One person (their tombstone once expunged).
pub fn get(store: &Store, acting: &Acting, id: UserId) -> Result<UserRecord, OpsError> {
    acting.require(Role::Viewer)?;
    load_scoped(store, acting, id)
}

/// Adds a person. A legal hold or a purge date needs a manager; a scoped
/// operator's people join their unit.
pub fn create(store: &Store, acting: &Acting, mut new: NewUser) -> Result<UserRecord, OpsError> {
    may_add(acting)?;
    if new.legal_hold || new.purge_date.is_some() {
        may_hold_or_date(acting)?;
    }
    if let Some(mine) = acting.scope()? {
        match new.org_unit.as_deref().map(str::trim) {
            Some(asked) if !asked.is_empty() && asked != mine => {
                return Err(forbidden(format!("you can add people to unit {mine} only")));
            }
            _ => new.org_unit = Some(mine.to_owned()),
        }
    }
    Ok(store.create_user(&acting.actor(), new)?)
}

/// Edits a person (manager). A scoped operator cannot move people between
/// units; lifting a legal hold needs an eraser; only the directory links,
/// and only an admin unlinks.
pub fn update(store: &Store, acting: &Acting, id: UserId, patch: UserPatch) -> Result<UserRecord, OpsError> {
    may_edit(acting)?;
    let current = load_scoped(store, acting, id)?;
    if patch.directory_id == Some(None) && current.directory.is_some() {
        acting.require(Role::Admin)?;
    }
    if acting.unit().is_some() && patch.org_unit.is_some() {
        return Err(forbidden("a scoped operator cannot move people between units"));
    }
    if patch.legal_hold == Some(false) {
        may_lift_hold(acting)?;
    }
    if matches!(patch.directory_id, Some(Some(_))) {
        return Err(crate::domain::DomainError::InvalidInput {
            field: "directory_id",
            message: "only the directory links people; send null to unlink".into(),
        }
        .into());
    }
    Ok(store.update_user(&acting.actor(), id, patch)?)
}

/// Suspends, resumes, deletes or restores a person (manager).
pub fn lifecycle(store: &Store, acting: &Acting, id: UserId, action: LifecycleAction) -> Result<UserRecord, OpsError> {
    if action == LifecycleAction::Expunge {
        return Err(forbidden("expunge needs its confirmation; use the expunge operation"));
    }
    acting.require(Role::Manager)?;
    load_scoped(store, acting, id)?;
    Ok(store.lifecycle(&acting.actor(), id, action)?)
}

/// Expunges a deleted person (eraser), with the confirmation naming their ID.
pub fn expunge(store: &Store, acting: &Acting, id: UserId, confirm: &str) -> Result<UserRecord, OpsError> {
    acting.require(Role::Eraser)?;
    load_scoped(store, acting, id)?;
    Ok(store.expunge(&acting.actor(), id, confirm)?)
}

/// The least role each lifecycle action needs.
fn role_for(action: LifecycleAction) -> Role {
    match action {
        LifecycleAction::Expunge => Role::Eraser,
        _ => Role::Manager,
    }
}

/// What refuses `action` on `u` now (staff asking), if anything.
fn refusal(u: &UserRecord, action: LifecycleAction) -> Option<crate::domain::DomainError> {
    let facts = crate::domain::UserFacts {
        id: u.id,
        state: u.state,
        state_before_delete: None,
        directory_linked: u.directory_linked,
        legal_hold: u.legal_hold,
        holds: u.holds,
    };
    crate::domain::transition(&facts, action, crate::domain::Origin::Staff).err()
}

/// A lifecycle action the caller's role allows on a person, and what
/// refuses it now (`None`: it may proceed). For menus: nothing changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// The action.
    pub action: LifecycleAction,
    /// What refuses it now (its code and its words hold IDs and states only).
    pub refused: Option<crate::domain::DomainError>,
}

/// The lifecycle actions the caller may take on a person (viewer, person
/// in scope), in [`LifecycleAction::ALL`] order, each with what refuses it
/// in the person's present state. Expunge is offered to erasers only.
pub fn offered(store: &Store, acting: &Acting, id: UserId) -> Result<Vec<Offered>, OpsError> {
    acting.require(Role::Viewer)?;
    let u = load_scoped(store, acting, id)?;
    Ok(LifecycleAction::ALL
        .into_iter()
        .filter(|a| acting.require(role_for(*a)).is_ok())
        .map(|action| Offered { action, refused: refusal(&u, action) })
        .collect())
}

/// One lifecycle action as [`offered`] sees it, refused (`forbidden`) when
/// the caller's role does not allow it at all.
pub fn offered_one(store: &Store, acting: &Acting, id: UserId, action: LifecycleAction) -> Result<Offered, OpsError> {
    acting.require(role_for(action))?;
    let u = load_scoped(store, acting, id)?;
    Ok(Offered { action, refused: refusal(&u, action) })
}

/// What expunging a person would destroy and release, and what refuses it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpungePreview {
    /// The person.
    pub id: UserId,
    /// Their state.
    pub state: crate::domain::UserState,
    /// Personal fields that hold data and would be destroyed (names only).
    pub destroys: Vec<&'static str>,
    /// Cards that would return to stock.
    pub releases: Vec<crate::domain::Uid>,
    /// Retired cards that stay retired.
    pub keeps_retired: Vec<crate::domain::Uid>,
    /// Codes that would refuse the expunge now (empty: it may proceed).
    pub blocked_by: Vec<&'static str>,
}

/// Previews an expunge (eraser, person in scope); nothing changes.
pub fn expunge_preview(store: &Store, acting: &Acting, id: UserId) -> Result<ExpungePreview, OpsError> {
    acting.require(Role::Eraser)?;
    let u = load_scoped(store, acting, id)?;
    let destroys = [
        ("given_name", u.given_name.is_some()),
        ("family_name", u.family_name.is_some()),
        ("email", u.email.is_some()),
        ("phone", u.phone.is_some()),
        ("employee_no", u.employee_no.is_some()),
        ("notes", u.notes.is_some()),
        ("directory_link", u.directory_linked),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    let (retired, live): (Vec<_>, Vec<_>) = u.credentials.iter().partition(|c| c.state.is_retired());
    let blocked_by = refusal(&u, LifecycleAction::Expunge).map(|e| e.code()).into_iter().collect();
    Ok(ExpungePreview {
        id: u.id,
        state: u.state,
        destroys,
        releases: live.iter().map(|c| c.uid).collect(),
        keeps_retired: retired.iter().map(|c| c.uid).collect(),
        blocked_by,
    })
}

/// A new person as a front end received it, before parsing: dates and
/// times as text (RFC 3339 or `YYYY-MM-DD`), the balance in the office's
/// currency. [`NewUserForm::parse`] is the one place these become a
/// [`NewUser`], for the CLI, the API and the web UI alike.
#[derive(Default, Clone)]
pub struct NewUserForm {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Employee number.
    pub employee_no: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Organisational unit (a scoped caller's own is forced by [`create`]).
    pub org_unit: Option<String>,
    /// Valid from (inclusive).
    pub valid_from: Option<String>,
    /// Valid to (exclusive).
    pub valid_to: Option<String>,
    /// Purge date, `YYYY-MM-DD`.
    pub purge_date: Option<String>,
    /// Legal hold.
    pub legal_hold: bool,
    /// Record type.
    pub record_type: Option<String>,
    /// User group.
    pub group: Option<String>,
    /// Amount owed (at most two decimals).
    pub balance: Option<f64>,
    /// Items not handed back.
    pub unreturned_items: Option<u32>,
}

impl std::fmt::Debug for NewUserForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUserForm").finish_non_exhaustive()
    }
}

impl NewUserForm {
    /// Parses the form; a bad field is named, its value never echoed.
    pub fn parse(self) -> Result<NewUser, crate::domain::DomainError> {
        let ts = |field: &'static str, v: Option<String>| crate::domain::Timestamp::parse_opt(field, v.as_deref());
        Ok(NewUser {
            given_name: self.given_name,
            family_name: self.family_name,
            email: self.email,
            phone: self.phone,
            employee_no: self.employee_no,
            notes: self.notes,
            org_unit: self.org_unit,
            directory_id: None,
            valid_from: ts("valid_from", self.valid_from)?,
            valid_to: ts("valid_to", self.valid_to)?,
            purge_date: self.purge_date.map(|d| crate::domain::time::parse_date("purge_date", &d)).transpose()?,
            legal_hold: self.legal_hold,
            record_type: self.record_type,
            group: self.group,
            balance: self
                .balance
                .map(|v| crate::domain::purge::minor_from_units("balance", v))
                .transpose()?
                .unwrap_or(0),
            unreturned_items: self.unreturned_items.unwrap_or(0),
        })
    }
}

/// Every field of `form` that would be refused, each with why (a form
/// shows each next to its field; [`create`] and [`update`] refuse only the
/// first). Nothing is stored.
#[must_use]
pub fn form_errors(form: &NewUserForm) -> Vec<crate::domain::DomainError> {
    let mut form = form.clone();
    let mut errors: Vec<crate::domain::DomainError> = Vec::new();
    for _ in 0..16 {
        let checked = form.clone().parse().and_then(|new| {
            crate::domain::ValidityWindow::new(new.valid_from, new.valid_to)?;
            crate::store::check_new_user(new)
        });
        let Err(e) = checked else { break };
        let crate::domain::DomainError::InvalidInput { field, .. } = &e else {
            errors.push(e);
            break;
        };
        // Set the field aside and look again for the next one.
        match *field {
            "given_name" => form.given_name = "-".into(),
            "family_name" => form.family_name = "-".into(),
            "email" => form.email = None,
            "phone" => form.phone = None,
            "employee_no" => form.employee_no = None,
            "notes" => form.notes = None,
            "org_unit" => form.org_unit = None,
            "valid_from" => form.valid_from = None,
            "valid_to" => form.valid_to = None,
            "purge_date" => form.purge_date = None,
            "record_type" => form.record_type = None,
            "group" => form.group = None,
            "balance" => form.balance = None,
            _ => {
                errors.push(e);
                break;
            }
        }
        errors.push(e);
    }
    errors
}

/// Where now falls in a person's validity window: before Valid from (not
/// yet valid), inside, or after Valid to (deactivated: their cards open
/// no door, procedure 001).
#[must_use]
pub fn validity(store: &Store, u: &UserRecord) -> crate::domain::time::WindowPosition {
    crate::domain::ValidityWindow { from: u.valid_from, to: u.valid_to }.position(store.now())
}
