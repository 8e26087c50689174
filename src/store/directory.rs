//! People from the identity directory: the writes SCIM, the LDAP import and
//! CSV imports make, through the same lifecycle rules as staff's
//! ([`crate::domain::user`]), and the runs of imports with their reports.
//!
//! - A person is found by their directory link (`directory_id`, SCIM's
//!   `externalId`, LDAP's `objectGUID`/`entryUUID`). A link survives a
//!   delete (so the directory does not create them again: `deleted_in_idms`,
//!   or SCIM's uniqueness error) and is erased on expunge, after which the
//!   same entry creates a new person.
//! - `active: false` is the directory's suspension; `active: true` lifts
//!   only that one ([`crate::domain::Holds`]).
//! - A delete by the directory keeps the link but lets them go
//!   (`directory_gone_at`): they are no longer `directory_linked`, so staff
//!   and purge jobs may erase them.
//! - A write that changes nothing writes nothing (an import run over an
//!   unchanged directory changes no person).

use std::collections::HashSet;
use std::fmt;

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::access::GroupId;
use crate::domain::{Change, DomainError, LifecycleAction, Origin, Timestamp, UserId, UserState};
use crate::store::records::DirectorySource;
use crate::store::users::{MAX_FIELD, clean, insert_user, lifecycle_in, load_user};
use crate::store::{Actor, AuditDraft, NewUser, Store, StoreError, Tx, UserRecord};

/// A person as a directory describes them: every field the directory owns.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DirPerson {
    /// The entry's ID in the directory (the link). SCIM may omit it.
    pub external_id: Option<String>,
    /// SCIM `userName`.
    pub user_name: Option<String>,
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
    /// Org unit (already mapped from the directory's department).
    pub org_unit: Option<String>,
    /// Directory groups by name; `None` leaves the person's alone.
    pub groups: Option<Vec<String>>,
    /// `false`: the directory suspends them.
    pub active: bool,
}

impl fmt::Debug for DirPerson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirPerson").field("active", &self.active).finish_non_exhaustive()
    }
}

/// What a directory write did to one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirAction {
    /// A new person.
    Created,
    /// Fields changed.
    Updated,
    /// The directory suspended them.
    Suspended,
    /// The directory lifted its suspension.
    Resumed,
    /// The directory deleted them.
    Deleted,
    /// Nothing to change.
    Unchanged,
    /// Left alone, with a code (`deleted_in_idms`, …).
    Skipped,
    /// Refused, with a code (`invalid_input`, `duplicate_employee_no`, …).
    Refused,
}

impl DirAction {
    /// The stored and displayed name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Suspended => "suspended",
            Self::Resumed => "resumed",
            Self::Deleted => "deleted",
            Self::Unchanged => "unchanged",
            Self::Skipped => "skipped",
            Self::Refused => "refused",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        [
            Self::Created,
            Self::Updated,
            Self::Suspended,
            Self::Resumed,
            Self::Deleted,
            Self::Unchanged,
            Self::Skipped,
            Self::Refused,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// A person a directory link finds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Linked {
    pub(crate) id: UserId,
    pub(crate) state: UserState,
    pub(crate) gone: bool,
    pub(crate) source: Option<DirectorySource>,
}

/// The person linked to `external_id`, whatever their state.
pub(crate) fn find_linked(conn: &Connection, external_id: &str) -> Result<Option<Linked>, StoreError> {
    conn.prepare_cached(
        "SELECT id, state, directory_gone_at IS NOT NULL, directory_source FROM users WHERE directory_id = ?1",
    )?
    .query_row([external_id], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?, r.get::<_, Option<String>>(3)?))
    })
    .optional()?
    .map(|(id, state, gone, source)| {
        Ok(Linked {
            id: UserId::from_i64(id),
            state: UserState::from_name(&state).ok_or(StoreError::Corrupt("user state"))?,
            gone,
            source: source.as_deref().and_then(DirectorySource::from_name),
        })
    })
    .transpose()
}

/// Checks and trims a directory person's fields (as staff's are), refusing
/// what is taken by someone else: the link, the user name, the employee
/// number (among people not expunged).
fn checked(conn: &Connection, p: DirPerson, except: Option<UserId>) -> Result<DirPerson, StoreError> {
    let u = crate::store::users::check_new_user(NewUser {
        given_name: p.given_name,
        family_name: p.family_name,
        email: p.email,
        phone: p.phone,
        employee_no: p.employee_no,
        org_unit: p.org_unit,
        directory_id: p.external_id,
        ..NewUser::default()
    })?;
    let user_name = clean("user_name", p.user_name, MAX_FIELD)?;
    let groups = p
        .groups
        .map(|gs| {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for g in gs {
                if let Some(g) = clean("groups", Some(g), MAX_FIELD)?.map(|g| one_line("groups", g)).transpose()?
                    && seen.insert(g.to_lowercase())
                {
                    out.push(g);
                }
            }
            Ok::<_, DomainError>(out)
        })
        .transpose()?;
    let except = except.map(UserId::as_i64);
    let taken = |sql: &str, v: &Option<String>| -> Result<bool, StoreError> {
        let Some(v) = v else { return Ok(false) };
        Ok(conn.prepare_cached(sql)?.query_row(params![v, except], |r| r.get(0))?)
    };
    if taken("SELECT EXISTS (SELECT 1 FROM users WHERE directory_id = ?1 AND id IS NOT ?2)", &u.directory_id)? {
        return Err(DomainError::DirectoryIdTaken.into());
    }
    if taken("SELECT EXISTS (SELECT 1 FROM users WHERE user_name = ?1 COLLATE NOCASE AND id IS NOT ?2)", &user_name)? {
        return Err(DomainError::UserNameTaken.into());
    }
    if taken(
        "SELECT EXISTS (SELECT 1 FROM users WHERE employee_no = ?1 AND state <> 'expunged' AND id IS NOT ?2)",
        &u.employee_no,
    )? {
        return Err(DomainError::EmployeeNoTaken.into());
    }
    Ok(DirPerson {
        external_id: u.directory_id,
        user_name,
        given_name: u.given_name,
        family_name: u.family_name,
        email: u.email,
        phone: u.phone,
        employee_no: u.employee_no,
        org_unit: u.org_unit,
        groups,
        active: p.active,
    })
}

/// Creates a person from a directory entry, linked to it; suspended by the
/// directory when it says inactive.
pub(crate) fn create_in(w: &mut Tx<'_>, p: DirPerson, source: DirectorySource) -> Result<UserId, StoreError> {
    let p = checked(&w.conn, p, None)?;
    let id = crate::store::users::fresh_user_id(&w.conn)?;
    let new = NewUser {
        given_name: p.given_name,
        family_name: p.family_name,
        email: p.email,
        phone: p.phone,
        employee_no: p.employee_no,
        org_unit: p.org_unit,
        directory_id: p.external_id,
        ..NewUser::default()
    };
    insert_user(w, id, &new)?;
    w.conn.prepare_cached("UPDATE users SET directory_source = ?2, user_name = ?3 WHERE id = ?1")?.execute(params![
        id.as_i64(),
        source.as_str(),
        p.user_name
    ])?;
    if let Some(groups) = &p.groups {
        set_groups_in(w, id, groups, source)?;
    }
    if !p.active {
        lifecycle_in(w, id, LifecycleAction::Suspend, Origin::Directory)?;
    }
    Ok(id)
}

/// Brings a linked person's directory-owned fields to `p`; writes nothing
/// when nothing differs. Returns what it did: `Updated`, `Suspended`,
/// `Resumed` or `Unchanged` (the state change wins over a field change).
pub(crate) fn update_in(
    w: &mut Tx<'_>,
    id: UserId,
    p: DirPerson,
    source: DirectorySource,
) -> Result<DirAction, StoreError> {
    let cur = load_user(&w.conn, id)?;
    if matches!(cur.state, UserState::Deleted | UserState::Expunged) {
        return Err(DomainError::InvalidTransition {
            user: id,
            state: cur.state,
            action: LifecycleAction::Resume,
            hint: "the person was deleted in IDMS; staff restore them first",
        }
        .into());
    }
    // An import row without an external ID keeps the link it has (clearing a link is an admin's unlink). SCIM's
    // `externalId` is the client's own attribute: it may clear it (RFC 7643, readWrite).
    let mut p = p;
    if p.external_id.is_none() && source != DirectorySource::Scim {
        p.external_id = cur.directory.as_ref().and_then(|d| d.external_id.clone());
    }
    let p = checked(&w.conn, p, Some(id))?;
    let fields_differ = cur.given_name.as_deref() != Some(p.given_name.as_str())
        || cur.family_name.as_deref() != Some(p.family_name.as_str())
        || cur.email != p.email
        || cur.phone != p.phone
        || cur.employee_no != p.employee_no
        || cur.org_unit != p.org_unit
        || cur.user_name != p.user_name
        || cur.directory.as_ref().and_then(|d| d.external_id.clone()) != p.external_id
        || cur.directory.as_ref().map(|d| d.source) != Some(source)
        || cur.directory.as_ref().is_some_and(|d| d.vanished_at.is_some());
    let mut action = DirAction::Unchanged;
    if fields_differ {
        w.conn
            .prepare_cached(
                "UPDATE users SET given_name = ?2, family_name = ?3, family_fold = ?4, email = ?5, phone = ?6,
                    employee_no = ?7, org_unit = ?8, user_name = ?9, directory_id = ?10, directory_source = ?11,
                    directory_vanished_at = NULL, updated_at = ?12
                 WHERE id = ?1",
            )?
            .execute(params![
                id.as_i64(),
                p.given_name,
                p.family_name,
                crate::store::users::fold(&p.family_name),
                p.email,
                p.phone,
                p.employee_no,
                p.org_unit,
                p.user_name,
                p.external_id,
                source.as_str(),
                w.now.0,
            ])?;
        action = DirAction::Updated;
    }
    if let Some(groups) = &p.groups
        && set_groups_in(w, id, groups, source)?
    {
        action = DirAction::Updated;
    }
    if let Some(a) = set_active_in(w, id, p.active)? {
        action = a;
    }
    Ok(action)
}

/// The directory's `active`: suspends (its own hold) or lifts its own hold.
/// `None` when it already says so (or the suspension is staff's alone).
pub(crate) fn set_active_in(w: &mut Tx<'_>, id: UserId, active: bool) -> Result<Option<DirAction>, StoreError> {
    let (facts, _) = crate::store::users::load_facts(&w.conn, id)?;
    let held = facts.state == UserState::Suspended && facts.holds.directory;
    match (active, facts.state, held) {
        (false, UserState::Active, _) | (false, UserState::Suspended, false) => {
            lifecycle_in(w, id, LifecycleAction::Suspend, Origin::Directory)?;
            Ok(Some(DirAction::Suspended))
        }
        (true, UserState::Suspended, true) => {
            lifecycle_in(w, id, LifecycleAction::Resume, Origin::Directory)?;
            Ok(Some(DirAction::Resumed))
        }
        _ => Ok(None),
    }
}

/// The directory deletes them: deleted (restorable by staff), the link kept
/// and marked gone, so they are not created again and no longer managed.
pub(crate) fn delete_in(w: &mut Tx<'_>, id: UserId) -> Result<(), StoreError> {
    lifecycle_in(w, id, LifecycleAction::Delete, Origin::Directory)?;
    w.conn
        .prepare_cached("UPDATE users SET directory_gone_at = ?2 WHERE id = ?1")?
        .execute(params![id.as_i64(), w.now.0])?;
    // The directory has let them go: no level reaches them through its groups any more (a restore by staff
    // brings back the person, not where they worked).
    leave_all_in(w, id)
}

/// A directory group's ID by name, made when missing; `None` when the name
/// is another source's group (an LDAP sync never joins people to a SCIM
/// group, nor a CSV file to an LDAP one: each source manages its own
/// groups, and a level assigned to one is not widened by another).
fn group_by_name(w: &Tx<'_>, name: &str, source: DirectorySource) -> Result<Option<i64>, StoreError> {
    let found: Option<(i64, String)> = w
        .conn
        .prepare_cached("SELECT id, source FROM directory_groups WHERE display_name = ?1 COLLATE NOCASE")?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((id, of)) = found {
        return Ok((of == group_source(source)).then_some(id));
    }
    w.conn
        .prepare_cached(
            "INSERT INTO directory_groups (display_name, source, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
        )?
        .execute(params![name, group_source(source), w.now.0])?;
    Ok(Some(w.conn.last_insert_rowid()))
}

/// Groups come from SCIM, LDAP or CSV; staff-typed links have none of their own.
fn group_source(source: DirectorySource) -> &'static str {
    match source {
        DirectorySource::Ldap => "ldap",
        DirectorySource::Csv => "csv",
        DirectorySource::Scim | DirectorySource::Staff => "scim",
    }
}

/// Sets a person's directory groups to `names`; true when that changed them.
pub(crate) fn set_groups_in(
    w: &mut Tx<'_>,
    id: UserId,
    names: &[String],
    source: DirectorySource,
) -> Result<bool, StoreError> {
    let mut want = HashSet::new();
    for n in names {
        want.extend(group_by_name(w, n, source)?);
    }
    let have = groups_of(&w.conn, id)?;
    if want == have {
        return Ok(false);
    }
    for g in have.difference(&want) {
        member_out(w, *g, id)?;
    }
    for g in want.difference(&have) {
        member_in(w, *g, id)?;
    }
    touch_user(w, id)?;
    Ok(true)
}

/// Puts `user` in directory group `group`; true when they were not in it.
/// The doors hear of it (the group's levels are theirs now).
fn member_in(w: &mut Tx<'_>, group: i64, user: UserId) -> Result<bool, StoreError> {
    if !(1..GroupId::DIRECTORY).contains(&group) {
        return Err(StoreError::Corrupt("a directory group's ID beyond what the index can tell apart"));
    }
    let n = w
        .conn
        .prepare_cached("INSERT OR IGNORE INTO directory_group_members (group_id, user_id) VALUES (?1, ?2)")?
        .execute(params![group, user.as_i64()])?;
    if n > 0 {
        touch_group(w, group)?;
        w.change(Change::Membership { id: user, group: GroupId::directory(group), member: true })?;
    }
    Ok(n > 0)
}

/// Takes `user` out of directory group `group`; true when they were in it.
fn member_out(w: &mut Tx<'_>, group: i64, user: UserId) -> Result<bool, StoreError> {
    let n = w
        .conn
        .prepare_cached("DELETE FROM directory_group_members WHERE group_id = ?1 AND user_id = ?2")?
        .execute(params![group, user.as_i64()])?;
    if n > 0 {
        touch_group(w, group)?;
        w.change(Change::Membership { id: user, group: GroupId::directory(group), member: false })?;
    }
    Ok(n > 0)
}

/// A person's directory groups.
fn groups_of(conn: &Connection, user: UserId) -> Result<HashSet<i64>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT group_id FROM directory_group_members WHERE user_id = ?1")?;
    Ok(stmt.query_map([user.as_i64()], |r| r.get(0))?.collect::<Result<_, _>>()?)
}

/// Expunge: `user`'s memberships go, and so does which groups the change
/// log's earlier membership entries name (the entries stay, naming none:
/// the index's tombstone holds no groups, see `Change::User`).
pub(crate) fn forget_groups_in(w: &mut Tx<'_>, user: UserId) -> Result<(), StoreError> {
    for g in groups_of(&w.conn, user)? {
        w.conn
            .prepare_cached("DELETE FROM directory_group_members WHERE group_id = ?1 AND user_id = ?2")?
            .execute(params![g, user.as_i64()])?;
        touch_group(w, g)?;
    }
    w.conn.prepare_cached(FORGET_GROUPS)?.execute([user.as_i64()])?;
    Ok(())
}

/// Blanks the groups a person's membership entries name (through the
/// `change_log_memberships` index: expunge is on the purge job's path).
pub(crate) const FORGET_GROUPS: &str =
    "UPDATE change_log SET group_id = NULL WHERE user_id = ?1 AND kind IN ('member_in', 'member_out')";

/// Takes `user` out of every directory group (the directory let them go).
pub(crate) fn leave_all_in(w: &mut Tx<'_>, user: UserId) -> Result<(), StoreError> {
    for g in groups_of(&w.conn, user)? {
        member_out(w, g, user)?;
    }
    Ok(())
}

fn touch_group(w: &Tx<'_>, group: i64) -> Result<(), StoreError> {
    w.conn
        .prepare_cached("UPDATE directory_groups SET updated_at = ?2, revision = revision + 1 WHERE id = ?1")?
        .execute(params![group, w.now.0])?;
    Ok(())
}

/// A person's groups changed: their row's revision (the ETag) moves too.
fn touch_user(w: &Tx<'_>, id: UserId) -> Result<(), StoreError> {
    w.conn.prepare_cached("UPDATE users SET updated_at = ?2 WHERE id = ?1")?.execute(params![id.as_i64(), w.now.0])?;
    Ok(())
}

/// Whether SCIM sees this person: linked by SCIM, not let go by the
/// directory, not deleted. (People staff linked by hand, or the LDAP import
/// or a CSV file linked, are not the SCIM client's to list, edit or delete.)
const SCIM_VISIBLE: &str = "directory_source = 'scim' AND directory_gone_at IS NULL
    AND state IN ('active','suspended')";

/// How a SCIM list is narrowed before its filter (an index look-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimLookup {
    /// Everyone SCIM sees.
    All,
    /// `userName eq` (case-insensitive).
    UserName(String),
    /// `externalId eq`.
    ExternalId(String),
    /// `id eq`.
    Id(UserId),
}

/// A directory group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// ID (SCIM's `id`).
    pub id: i64,
    /// Name (unique, case-insensitive).
    pub display_name: String,
    /// The directory's ID for it.
    pub external_id: Option<String>,
    /// Members, by user ID (people SCIM sees and others alike).
    pub members: Vec<UserId>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Bumped by every change (SCIM's ETag).
    pub revision: i64,
}

/// A SCIM group (one the LDAP import or a CSV file made is not SCIM's), its members those SCIM sees.
fn load_group(conn: &Connection, id: i64) -> Result<GroupRecord, StoreError> {
    let mut g = conn
        .prepare_cached(
            "SELECT id, display_name, external_id, created_at, updated_at, revision FROM directory_groups
             WHERE id = ?1 AND source = 'scim'",
        )?
        .query_row([id], |r| {
            Ok(GroupRecord {
                id: r.get(0)?,
                display_name: r.get(1)?,
                external_id: r.get(2)?,
                members: Vec::new(),
                created_at: Timestamp(r.get(3)?),
                updated_at: Timestamp(r.get(4)?),
                revision: r.get(5)?,
            })
        })
        .optional()?
        .ok_or_else(|| DomainError::NotFound { what: "group", id: id.to_string() })?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT m.user_id FROM directory_group_members m JOIN users ON users.id = m.user_id
         WHERE m.group_id = ?1 AND {SCIM_VISIBLE} ORDER BY m.user_id"
    ))?;
    g.members = stmt.query_map([id], |r| r.get::<_, i64>(0).map(UserId::from_i64))?.collect::<Result<_, _>>()?;
    Ok(g)
}

fn check_version(what: &'static str, current: i64, expected: Option<i64>) -> Result<(), StoreError> {
    match expected {
        Some(e) if e != current => Err(DomainError::VersionMismatch { what }.into()),
        _ => Ok(()),
    }
}

/// A SCIM-visible person, or `not_found`.
fn scim_user_in(conn: &Connection, id: UserId) -> Result<UserRecord, StoreError> {
    let visible: bool = conn
        .prepare_cached(&format!("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND {SCIM_VISIBLE})"))?
        .query_row([id.as_i64()], |r| r.get(0))?;
    if !visible {
        return Err(DomainError::NotFound { what: "user", id: id.to_string() }.into());
    }
    load_user(conn, id)
}

/// The members a SCIM group write names, each a person SCIM sees.
fn check_members(conn: &Connection, members: &[UserId]) -> Result<Vec<UserId>, StoreError> {
    let mut out: Vec<UserId> = members.to_vec();
    out.sort_unstable();
    out.dedup();
    for m in &out {
        let ok: bool = conn
            .prepare_cached(&format!("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND {SCIM_VISIBLE})"))?
            .query_row([m.as_i64()], |r| r.get(0))?;
        if !ok {
            return Err(DomainError::InvalidInput { field: "members", message: format!("no person {m}") }.into());
        }
    }
    Ok(out)
}

fn clean_group_name(name: String) -> Result<String, DomainError> {
    let name = clean("displayName", Some(name), MAX_FIELD)?
        .ok_or(DomainError::InvalidInput { field: "displayName", message: "is required".into() })?;
    one_line("displayName", name)
}

/// A group's name is one line: it is typed back into forms and printed in lists.
fn one_line(field: &'static str, name: String) -> Result<String, DomainError> {
    if name.contains('\n') {
        return Err(DomainError::InvalidInput { field, message: "a group name is one line".into() });
    }
    Ok(name)
}

impl Store {
    /// SCIM `POST /Users`: a new person linked to the directory. A link or
    /// user name held by anyone — a deleted person too — is refused.
    pub fn scim_create_user(&self, actor: &Actor, p: DirPerson) -> Result<UserRecord, StoreError> {
        self.write(actor, AuditDraft::new("scim.user.create"), |w| {
            let id = create_in(w, p, DirectorySource::Scim)?;
            w.audit.target_user = Some(id);
            load_user(&w.conn, id)
        })
    }

    /// SCIM `GET /Users/{id}`: a person SCIM sees.
    pub fn scim_user(&self, id: UserId) -> Result<UserRecord, StoreError> {
        self.read(|c| scim_user_in(c, id))
    }

    /// The people SCIM sees, narrowed by `lookup`, in ID order.
    pub fn scim_users(&self, lookup: &ScimLookup) -> Result<Vec<UserRecord>, StoreError> {
        self.read(|c| {
            let ids: Vec<i64> = match lookup {
                ScimLookup::All => {
                    let mut stmt =
                        c.prepare_cached(&format!("SELECT id FROM users WHERE {SCIM_VISIBLE} ORDER BY id"))?;
                    stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
                }
                ScimLookup::UserName(n) => {
                    let mut stmt = c.prepare_cached(&format!(
                        "SELECT id FROM users WHERE user_name = ?1 COLLATE NOCASE AND {SCIM_VISIBLE}"
                    ))?;
                    stmt.query_map([n], |r| r.get(0))?.collect::<Result<_, _>>()?
                }
                ScimLookup::ExternalId(e) => {
                    let mut stmt =
                        c.prepare_cached(&format!("SELECT id FROM users WHERE directory_id = ?1 AND {SCIM_VISIBLE}"))?;
                    stmt.query_map([e], |r| r.get(0))?.collect::<Result<_, _>>()?
                }
                ScimLookup::Id(id) => {
                    let mut stmt =
                        c.prepare_cached(&format!("SELECT id FROM users WHERE id = ?1 AND {SCIM_VISIBLE}"))?;
                    stmt.query_map([id.as_i64()], |r| r.get(0))?.collect::<Result<_, _>>()?
                }
            };
            ids.into_iter().map(|id| load_user(c, UserId::from_i64(id))).collect()
        })
    }

    /// SCIM `PUT` (and `PATCH`, once applied): the person's directory fields
    /// and `active` become `p`'s. `if_revision`: refused unless current.
    pub fn scim_replace_user(
        &self,
        actor: &Actor,
        id: UserId,
        p: DirPerson,
        if_revision: Option<i64>,
    ) -> Result<UserRecord, StoreError> {
        self.write(actor, AuditDraft::new("scim.user.replace").user(id), |w| {
            let cur = scim_user_in(&w.conn, id)?;
            check_version("user", cur.revision, if_revision)?;
            let action = update_in(w, id, p, DirectorySource::Scim)?;
            w.audit.detail = format!("action={}", action.as_str());
            load_user(&w.conn, id)
        })
    }

    /// SCIM `DELETE /Users/{id}`: deleted (restorable by staff, not
    /// expunged), the link kept so the same `externalId` is refused while
    /// they are deleted.
    pub fn scim_delete_user(&self, actor: &Actor, id: UserId, if_revision: Option<i64>) -> Result<(), StoreError> {
        self.write(actor, AuditDraft::new("scim.user.delete").user(id), |w| {
            let cur = scim_user_in(&w.conn, id)?;
            check_version("user", cur.revision, if_revision)?;
            delete_in(w, id)
        })
    }

    /// SCIM `POST /Groups`.
    pub fn scim_create_group(
        &self,
        actor: &Actor,
        display_name: String,
        external_id: Option<String>,
        members: &[UserId],
    ) -> Result<GroupRecord, StoreError> {
        self.write(actor, AuditDraft::new("scim.group.create"), |w| {
            let name = clean_group_name(display_name)?;
            let external_id = clean("externalId", external_id, MAX_FIELD)?;
            let members = check_members(&w.conn, members)?;
            let taken: bool = w
                .conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM directory_groups WHERE display_name = ?1 COLLATE NOCASE)",
                )?
                .query_row([&name], |r| r.get(0))?;
            if taken {
                return Err(DomainError::NameTaken { what: "group", name }.into());
            }
            w.conn
                .prepare_cached(
                    "INSERT INTO directory_groups (display_name, external_id, source, created_at, updated_at)
                     VALUES (?1, ?2, 'scim', ?3, ?3)",
                )?
                .execute(params![name, external_id, w.now.0])?;
            let gid = w.conn.last_insert_rowid();
            w.audit.detail = format!("group={gid} members={}", members.len());
            for m in &members {
                member_in(w, gid, *m)?;
                touch_user(w, *m)?;
            }
            load_group(&w.conn, gid)
        })
    }

    /// One directory group.
    pub fn group(&self, id: i64) -> Result<GroupRecord, StoreError> {
        self.read(|c| load_group(c, id))
    }

    /// Every directory group, by ID; `name`: the one with that name.
    pub fn groups(&self, name: Option<&str>) -> Result<Vec<GroupRecord>, StoreError> {
        self.read(|c| {
            let ids: Vec<i64> = match name {
                None => {
                    let mut stmt =
                        c.prepare_cached("SELECT id FROM directory_groups WHERE source = 'scim' ORDER BY id")?;
                    stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
                }
                Some(n) => {
                    let mut stmt = c.prepare_cached(
                        "SELECT id FROM directory_groups WHERE display_name = ?1 COLLATE NOCASE AND source = 'scim'",
                    )?;
                    stmt.query_map([n], |r| r.get(0))?.collect::<Result<_, _>>()?
                }
            };
            ids.into_iter().map(|id| load_group(c, id)).collect()
        })
    }

    /// SCIM `PUT`/`PATCH /Groups/{id}`: name, external ID and members
    /// become these (`members: None` leaves them; `add`/`remove` change
    /// them by difference, for large groups).
    #[allow(clippy::too_many_arguments)]
    pub fn scim_update_group(
        &self,
        actor: &Actor,
        id: i64,
        display_name: Option<String>,
        external_id: Option<Option<String>>,
        members: Option<&[UserId]>,
        add: &[UserId],
        remove: &[UserId],
        if_revision: Option<i64>,
    ) -> Result<GroupRecord, StoreError> {
        self.write(actor, AuditDraft::new("scim.group.update"), |w| {
            let cur = load_group(&w.conn, id)?;
            check_version("group", cur.revision, if_revision)?;
            let mut changed = false;
            if let Some(name) = display_name {
                let name = clean_group_name(name)?;
                if name != cur.display_name {
                    let taken: bool = w
                        .conn
                        .prepare_cached(
                            "SELECT EXISTS (SELECT 1 FROM directory_groups WHERE display_name = ?1 COLLATE NOCASE
                             AND id <> ?2)",
                        )?
                        .query_row(params![name, id], |r| r.get(0))?;
                    if taken {
                        return Err(DomainError::NameTaken { what: "group", name }.into());
                    }
                    w.conn
                        .prepare_cached("UPDATE directory_groups SET display_name = ?2 WHERE id = ?1")?
                        .execute(params![id, name])?;
                    changed = true;
                }
            }
            if let Some(e) = external_id {
                let e = clean("externalId", e, MAX_FIELD)?;
                if e != cur.external_id {
                    w.conn
                        .prepare_cached("UPDATE directory_groups SET external_id = ?2 WHERE id = ?1")?
                        .execute(params![id, e])?;
                    changed = true;
                }
            }
            let have: HashSet<UserId> = cur.members.iter().copied().collect();
            let (mut ins, mut outs): (Vec<UserId>, Vec<UserId>) = (Vec::new(), Vec::new());
            if let Some(m) = members {
                let want: HashSet<UserId> = check_members(&w.conn, m)?.into_iter().collect();
                ins.extend(want.difference(&have));
                outs.extend(have.difference(&want));
            }
            ins.extend(check_members(&w.conn, add)?.into_iter().filter(|m| !have.contains(m)));
            outs.extend(remove.iter().filter(|m| have.contains(m)));
            for m in &outs {
                changed |= member_out(w, id, *m)?;
                touch_user(w, *m)?;
            }
            for m in &ins {
                changed |= member_in(w, id, *m)?;
                touch_user(w, *m)?;
            }
            if changed {
                touch_group(w, id)?;
            }
            w.audit.detail = format!("group={id} added={} removed={}", ins.len(), outs.len());
            load_group(&w.conn, id)
        })
    }

    /// SCIM `DELETE /Groups/{id}`: the group and its memberships; levels
    /// assigned to it go with it (the directory has dissolved the group,
    /// and its members no longer hold them through it).
    pub fn scim_delete_group(&self, actor: &Actor, id: i64, if_revision: Option<i64>) -> Result<(), StoreError> {
        self.write(actor, AuditDraft::new("scim.group.delete"), |w| {
            let cur = load_group(&w.conn, id)?;
            check_version("group", cur.revision, if_revision)?;
            // Every member, those SCIM does not see too (the rows reference the group).
            let all: Vec<UserId> = {
                let mut stmt =
                    w.conn.prepare_cached("SELECT user_id FROM directory_group_members WHERE group_id = ?1")?;
                stmt.query_map([id], |r| r.get(0).map(UserId::from_i64))?.collect::<Result<_, _>>()?
            };
            for m in all {
                member_out(w, id, m)?;
                touch_user(w, m)?;
            }
            let levels =
                w.conn.prepare_cached("DELETE FROM level_assignments WHERE directory_group_id = ?1")?.execute([id])?;
            if levels > 0 {
                w.change(Change::Rules { reach: true })?;
            }
            w.conn.prepare_cached("DELETE FROM directory_groups WHERE id = ?1")?.execute([id])?;
            w.audit.detail = format!("group={id} members={} levels={levels}", cur.members.len());
            Ok(())
        })
    }
}

/// What happens to an LDAP-linked person whose entry is no longer in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnVanish {
    /// Suspended by the directory (lifted if the entry comes back).
    Suspend,
    /// Suspended, then deleted by the directory once gone this many days.
    DeleteAfterDays(u32),
}

/// One entry an import brings: an LDAP entry or a CSV row, read or refused.
#[derive(Debug, Clone)]
pub struct ImportItem {
    /// The CSV line or the entry's position (1-based).
    pub line: u32,
    /// The person it describes, or why it could not be read (column, code, message).
    pub person: Result<DirPerson, ItemError>,
}

/// Why an entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// The column or attribute.
    pub column: Option<String>,
    /// Stable code.
    pub code: &'static str,
}

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// `Ldap` or `Csv`.
    pub source: DirectorySource,
    /// What started it: `cli`, `schedule`, `upload`, `refresh`.
    pub trigger: &'static str,
    /// Show what would happen; change nothing, record nothing.
    pub dry_run: bool,
    /// Apply the valid entries when some are refused (else none is applied).
    pub partial: bool,
    /// Every entry ID the directory holds now, for vanished entries; `None`: not looked for.
    pub present: Option<HashSet<String>>,
    /// What a vanished entry does.
    pub on_vanish: OnVanish,
    /// The directory's change marker after this run (incremental syncs start from it).
    pub marker: Option<String>,
    /// Apply vanishes above [`MASS_VANISH`] (else the run is refused `mass_vanish`).
    pub allow_mass_vanish: bool,
}

/// More than this share (and more than [`MASS_VANISH_MIN`] people) of the
/// LDAP-linked people vanishing in one run looks like a changed base DN,
/// filter or lost read right, not people leaving: the run is refused.
pub const MASS_VANISH: f64 = 0.10;
/// Below this many vanishing people the share is not looked at.
pub const MASS_VANISH_MIN: usize = 10;

/// What an import did to one person or entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunItem {
    /// The person, when there is one.
    pub user: Option<UserId>,
    /// The CSV line or entry position.
    pub line: Option<u32>,
    /// The column or attribute a refusal names.
    pub column: Option<String>,
    /// What happened.
    pub action: DirAction,
    /// Why (skips and refusals; `vanished`).
    pub code: Option<String>,
}

/// A directory run: its counts and what it did to whom (IDs and codes only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Its ID once recorded (`None`: a dry run).
    pub id: Option<i64>,
    /// `ldap` or `csv`.
    pub source: String,
    /// What started it.
    pub trigger: String,
    /// A dry run.
    pub dry_run: bool,
    /// When it ran.
    pub started_at: Timestamp,
    /// `ok`, `refused` (nothing applied: some entries refused), or an error code.
    pub outcome: String,
    /// How many of each action.
    pub counts: RunCounts,
    /// Every person it created, changed, suspended, resumed, deleted, skipped or refused (not the unchanged).
    pub items: Vec<RunItem>,
    /// The directory's change marker after it.
    pub marker: Option<String>,
}

/// A run's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// New people.
    pub created: u32,
    /// Changed fields.
    pub updated: u32,
    /// Suspended by the directory.
    pub suspended: u32,
    /// Directory suspension lifted.
    pub resumed: u32,
    /// Deleted by the directory.
    pub deleted: u32,
    /// Left alone, with a code.
    pub skipped: u32,
    /// Refused, with a code.
    pub refused: u32,
    /// Nothing to change.
    pub unchanged: u32,
}

impl RunCounts {
    fn add(&mut self, a: DirAction) {
        let c = match a {
            DirAction::Created => &mut self.created,
            DirAction::Updated => &mut self.updated,
            DirAction::Suspended => &mut self.suspended,
            DirAction::Resumed => &mut self.resumed,
            DirAction::Deleted => &mut self.deleted,
            DirAction::Skipped => &mut self.skipped,
            DirAction::Refused => &mut self.refused,
            DirAction::Unchanged => &mut self.unchanged,
        };
        *c += 1;
    }

    /// The audit entry's detail: counts only.
    #[must_use]
    pub fn detail(&self) -> String {
        format!(
            "created={} updated={} suspended={} resumed={} deleted={} skipped={} refused={} unchanged={}",
            self.created,
            self.updated,
            self.suspended,
            self.resumed,
            self.deleted,
            self.skipped,
            self.refused,
            self.unchanged
        )
    }
}

/// A year of run reports is kept.
const RUN_RETENTION_SECS: i64 = 365 * 86_400;

/// The person an entry names: by its link, else (CSV) by employee number.
fn match_entry(conn: &Connection, p: &DirPerson, source: DirectorySource) -> Result<Option<Linked>, StoreError> {
    if let Some(e) = p.external_id.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        return find_linked(conn, e);
    }
    if source != DirectorySource::Csv {
        return Ok(None);
    }
    let Some(no) = p.employee_no.as_deref().map(str::trim).filter(|e| !e.is_empty()) else { return Ok(None) };
    let found: Option<i64> = conn
        .prepare_cached("SELECT id FROM users WHERE employee_no = ?1 AND state <> 'expunged' ORDER BY id LIMIT 1")?
        .query_row([no], |r| r.get(0))
        .optional()?;
    found.map(|id| load_linked(conn, UserId::from_i64(id))).transpose()
}

fn load_linked(conn: &Connection, id: UserId) -> Result<Linked, StoreError> {
    let (state, gone, source) = conn
        .prepare_cached("SELECT state, directory_gone_at IS NOT NULL, directory_source FROM users WHERE id = ?1")?
        .query_row([id.as_i64()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, Option<String>>(2)?))
        })?;
    Ok(Linked {
        id,
        state: UserState::from_name(&state).ok_or(StoreError::Corrupt("user state"))?,
        gone,
        source: source.as_deref().and_then(DirectorySource::from_name),
    })
}

/// One entry, inside the run's transaction: what it did, or why it was left.
fn apply_one(
    w: &mut Tx<'_>,
    p: DirPerson,
    source: DirectorySource,
) -> Result<(Option<UserId>, DirAction, Option<&'static str>), StoreError> {
    let unlinked = source == DirectorySource::Csv && p.external_id.is_none();
    if unlinked && !p.active {
        // `active` is the directory's suspension: only for people a directory entry is linked to.
        return Err(DomainError::InvalidInput {
            field: "active",
            message: "only a row with an external_id (a directory link) may set active; staff suspend the others"
                .into(),
        }
        .into());
    }
    let Some(found) = match_entry(&w.conn, &p, source)? else {
        // A CSV row without a directory ID makes an unlinked person.
        let id = create_in(w, p, source)?;
        if unlinked {
            w.conn.prepare_cached("UPDATE users SET directory_source = NULL WHERE id = ?1")?.execute([id.as_i64()])?;
        }
        return Ok((Some(id), DirAction::Created, None));
    };
    if found.state == UserState::Deleted {
        // Deleted here: not created or changed again (until expunged, which erases the link).
        return Ok((Some(found.id), DirAction::Skipped, Some("deleted_in_idms")));
    }
    if found.gone {
        // Unlinked by an admin (or deleted by the directory and restored by staff): no longer the directory's.
        return Ok((Some(found.id), DirAction::Skipped, Some("unlinked")));
    }
    let ours = match (source, found.source) {
        (_, None) => source == DirectorySource::Csv,
        (DirectorySource::Csv, Some(DirectorySource::Csv | DirectorySource::Staff)) => true,
        (s, Some(f)) => s == f || f == DirectorySource::Staff,
    };
    if !ours {
        return Ok((Some(found.id), DirAction::Skipped, Some("linked_elsewhere")));
    }
    // A CSV update of an unlinked person keeps them unlinked.
    let keep_unlinked = found.source.is_none();
    let action = update_in(w, found.id, p, source)?;
    if keep_unlinked {
        w.conn
            .prepare_cached("UPDATE users SET directory_source = NULL WHERE id = ?1 AND directory_id IS NULL")?
            .execute([found.id.as_i64()])?;
    }
    Ok((Some(found.id), action, None))
}

/// LDAP-linked people whose entry is gone from the directory: suspended
/// (marked vanished), then deleted after the configured days.
fn vanish(
    w: &mut Tx<'_>,
    present: &HashSet<String>,
    on: OnVanish,
    allow_mass: bool,
) -> Result<Vec<RunItem>, StoreError> {
    let linked: Vec<(i64, String, Option<i64>)> = {
        let mut stmt = w.conn.prepare_cached(
            "SELECT id, directory_id, directory_vanished_at FROM users WHERE directory_source = 'ldap'
             AND directory_gone_at IS NULL AND directory_id IS NOT NULL AND state IN ('active','suspended')",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?
    };
    let newly = linked.iter().filter(|(_, ext, since)| since.is_none() && !present.contains(ext)).count();
    #[allow(clippy::cast_precision_loss)]
    let share = newly as f64 / linked.len().max(1) as f64;
    if !allow_mass && newly > MASS_VANISH_MIN && share > MASS_VANISH {
        return Err(DomainError::MassVanish { count: newly, of: linked.len() }.into());
    }
    let mut out = Vec::new();
    for (id, ext, since) in linked {
        if present.contains(&ext) {
            continue;
        }
        let id = UserId::from_i64(id);
        let action = match (since, on) {
            (None, _) => {
                w.conn
                    .prepare_cached("UPDATE users SET directory_vanished_at = ?2 WHERE id = ?1")?
                    .execute(params![id.as_i64(), w.now.0])?;
                set_active_in(w, id, false)?;
                DirAction::Suspended
            }
            (Some(t), OnVanish::DeleteAfterDays(d)) if w.now.0 - t >= i64::from(d) * 86_400 => {
                delete_in(w, id)?;
                DirAction::Deleted
            }
            (Some(_), _) => continue,
        };
        out.push(RunItem { user: Some(id), line: None, column: None, action, code: Some("vanished".into()) });
    }
    Ok(out)
}

fn record_run(w: &Tx<'_>, r: &RunReport) -> Result<i64, StoreError> {
    let c = &r.counts;
    w.conn
        .prepare_cached(
            "INSERT INTO directory_runs (source, trigger, dry_run, started_at, finished_at, outcome, created, updated,
                suspended, deleted, resumed, skipped, refused, unchanged, marker)
             VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?
        .execute(params![
            r.source,
            r.trigger,
            r.started_at.0,
            w.now.0,
            r.outcome,
            c.created,
            c.updated,
            c.suspended,
            c.deleted,
            c.resumed,
            c.skipped,
            c.refused,
            c.unchanged,
            r.marker
        ])?;
    let run = w.conn.last_insert_rowid();
    let mut stmt = w.conn.prepare_cached(
        "INSERT INTO directory_run_items (run_id, pos, user_id, line, col, action, code) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (pos, i) in (0i64..).zip(&r.items) {
        stmt.execute(params![run, pos, i.user.map(UserId::as_i64), i.line, i.column, i.action.as_str(), i.code])?;
    }
    // A year of reports is kept.
    let cutoff = w.now.0 - RUN_RETENTION_SECS;
    w.conn
        .prepare_cached(
            "DELETE FROM directory_run_items WHERE run_id IN (SELECT id FROM directory_runs WHERE started_at < ?1)",
        )?
        .execute([cutoff])?;
    w.conn.prepare_cached("DELETE FROM directory_runs WHERE started_at < ?1")?.execute([cutoff])?;
    Ok(run)
}

fn load_run(conn: &Connection, id: i64, with_items: bool) -> Result<RunReport, StoreError> {
    let mut r = conn
        .prepare_cached(
            "SELECT source, trigger, started_at, outcome, created, updated, suspended, deleted, resumed, skipped,
                refused, unchanged, marker FROM directory_runs WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(RunReport {
                id: Some(id),
                source: r.get(0)?,
                trigger: r.get(1)?,
                dry_run: false,
                started_at: Timestamp(r.get(2)?),
                outcome: r.get(3)?,
                counts: RunCounts {
                    created: r.get(4)?,
                    updated: r.get(5)?,
                    suspended: r.get(6)?,
                    deleted: r.get(7)?,
                    resumed: r.get(8)?,
                    skipped: r.get(9)?,
                    refused: r.get(10)?,
                    unchanged: r.get(11)?,
                },
                items: Vec::new(),
                marker: r.get(12)?,
            })
        })
        .optional()?
        .ok_or_else(|| DomainError::NotFound { what: "directory run", id: id.to_string() })?;
    if with_items {
        let mut stmt = conn.prepare_cached(
            "SELECT user_id, line, col, action, code FROM directory_run_items WHERE run_id = ?1 ORDER BY pos",
        )?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            let action: String = row.get(3)?;
            r.items.push(RunItem {
                user: row.get::<_, Option<i64>>(0)?.map(UserId::from_i64),
                line: row.get(1)?,
                column: row.get(2)?,
                action: DirAction::from_name(&action).ok_or(StoreError::Corrupt("directory run action"))?,
                code: row.get(4)?,
            });
        }
    }
    Ok(r)
}

impl Store {
    /// Applies an import (an LDAP sync or a CSV file) in one transaction,
    /// audited as one entry with its counts and recorded as a run with its
    /// report. Each entry goes through the directory's rules: a deleted
    /// person is skipped (`deleted_in_idms`), an entry naming another
    /// person's employee number or link is refused, an entry in the run
    /// twice is refused the second time. Unless `partial`, one refused entry
    /// applies none (the run is recorded as `refused`). A dry run records
    /// nothing.
    pub fn import(&self, actor: &Actor, items: Vec<ImportItem>, opts: &ImportOptions) -> Result<RunReport, StoreError> {
        let action = match opts.source {
            DirectorySource::Csv => "directory.import_csv",
            _ => "directory.sync",
        };
        self.write(actor, AuditDraft::new(action), |w| {
            let mut report = RunReport {
                id: None,
                source: opts.source.as_str().to_owned(),
                trigger: opts.trigger.to_owned(),
                dry_run: opts.dry_run,
                started_at: w.now,
                outcome: "ok".into(),
                counts: RunCounts::default(),
                items: Vec::new(),
                marker: opts.marker.clone(),
            };
            let all = w.savepoint()?;
            let mut seen_ids: HashSet<String> = HashSet::new();
            let mut seen_nos: HashSet<String> = HashSet::new();
            for item in items {
                let refuse = |column: Option<String>, code: &str| RunItem {
                    user: None,
                    line: Some(item.line),
                    column,
                    action: DirAction::Refused,
                    code: Some(code.to_owned()),
                };
                let p = match item.person {
                    Ok(p) => p,
                    Err(e) => {
                        report.items.push(refuse(e.column, e.code));
                        continue;
                    }
                };
                if let Some(e) = &p.external_id
                    && !seen_ids.insert(e.clone())
                {
                    report.items.push(refuse(Some("external_id".into()), "duplicate_external_id"));
                    continue;
                }
                if let Some(n) = &p.employee_no
                    && !seen_nos.insert(n.trim().to_owned())
                {
                    report.items.push(refuse(Some("employee_no".into()), "duplicate_employee_no"));
                    continue;
                }
                let mark = w.savepoint()?;
                match apply_one(w, p, opts.source) {
                    Ok((user, action, code)) => {
                        w.release()?;
                        if action != DirAction::Unchanged {
                            report.items.push(RunItem {
                                user,
                                line: Some(item.line),
                                column: None,
                                action,
                                code: code.map(str::to_owned),
                            });
                        }
                        report.counts.add(action);
                    }
                    Err(e) if e.is_refusal() => {
                        w.rollback_to(mark)?;
                        let column = match e.code() {
                            "duplicate_employee_no" => Some("employee_no".to_owned()),
                            "user_name_taken" => Some("user_name".to_owned()),
                            "directory_id_taken" => Some("external_id".to_owned()),
                            _ => refused_field(&e),
                        };
                        report.items.push(refuse(column, e.code()));
                    }
                    Err(e) => return Err(e),
                }
            }
            if let Some(present) = &opts.present {
                for i in vanish(w, present, opts.on_vanish, opts.allow_mass_vanish)? {
                    report.counts.add(i.action);
                    report.items.push(i);
                }
            }
            report.counts.refused =
                report.items.iter().filter(|i| i.action == DirAction::Refused).count().try_into().unwrap_or(u32::MAX);
            if report.counts.refused > 0 && !opts.partial {
                // All or nothing: nothing of it stays, but the run and its refusals are recorded.
                w.rollback_to(all)?;
                report.outcome = "refused".into();
                report.items.retain(|i| i.action == DirAction::Refused);
                report.counts = RunCounts { refused: report.counts.refused, ..RunCounts::default() };
            } else {
                w.release()?;
            }
            if opts.dry_run {
                w.dry_run = true;
                return Ok(report);
            }
            let run = record_run(w, &report)?;
            report.id = Some(run);
            w.audit.detail =
                format!("run={run} source={} outcome={} {}", report.source, report.outcome, report.counts.detail());
            Ok(report)
        })
    }

    /// The most recent directory runs, newest first (without their items).
    pub fn directory_runs(&self, limit: u32) -> Result<Vec<RunReport>, StoreError> {
        self.read(|c| {
            let ids: Vec<i64> = {
                let mut stmt = c.prepare_cached("SELECT id FROM directory_runs ORDER BY id DESC LIMIT ?1")?;
                stmt.query_map([limit], |r| r.get(0))?.collect::<Result<_, _>>()?
            };
            ids.into_iter().map(|id| load_run(c, id, false)).collect()
        })
    }

    /// One run with its report.
    pub fn directory_run(&self, id: i64) -> Result<RunReport, StoreError> {
        self.read(|c| load_run(c, id, true))
    }

    /// Every directory ID linked to a person from `source`, whatever their state.
    pub fn directory_ids(&self, source: DirectorySource) -> Result<HashSet<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT directory_id FROM users WHERE directory_source = ?1 AND directory_id IS NOT NULL",
            )?;
            stmt.query_map([source.as_str()], |r| r.get(0))?.collect::<Result<_, _>>().map_err(Into::into)
        })
    }

    /// The LDAP directory IDs of people whose entry vanished (suspended by it).
    pub fn vanished_directory_ids(&self) -> Result<HashSet<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT directory_id FROM users WHERE directory_source = 'ldap' AND directory_vanished_at IS NOT NULL
                 AND directory_id IS NOT NULL AND directory_gone_at IS NULL",
            )?;
            stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>().map_err(Into::into)
        })
    }

    /// The marker the last recorded LDAP run left (incremental syncs start from it).
    pub fn directory_marker(&self) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT marker FROM directory_runs WHERE source = 'ldap' AND outcome = 'ok' ORDER BY id DESC LIMIT 1",
            )?
            .query_row([], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
        })
    }

    /// Refresh Org Info: one person's directory entry applied now (audited as
    /// `user.refresh`). `entry`: what the directory holds for them (`None`:
    /// their entry is gone, which suspends them as a vanished entry does).
    pub fn refresh_from_directory(
        &self,
        actor: &Actor,
        id: UserId,
        entry: Option<DirPerson>,
    ) -> Result<(UserRecord, DirAction), StoreError> {
        self.write(actor, AuditDraft::new("user.refresh").user(id), |w| {
            let linked = load_linked(&w.conn, id)?;
            if linked.state == UserState::Deleted || linked.gone {
                return Err(DomainError::InvalidTransition {
                    user: id,
                    state: linked.state,
                    action: LifecycleAction::Restore,
                    hint: "the person was deleted; restore them first",
                }
                .into());
            }
            let action = match entry {
                Some(p) => update_in(w, id, p, DirectorySource::Ldap)?,
                None => {
                    w.conn
                        .prepare_cached(
                            "UPDATE users SET directory_vanished_at = COALESCE(directory_vanished_at, ?2) WHERE id = ?1",
                        )?
                        .execute(params![id.as_i64(), w.now.0])?;
                    set_active_in(w, id, false)?.unwrap_or(DirAction::Unchanged)
                }
            };
            w.audit.detail = format!("action={}", action.as_str());
            Ok((load_user(&w.conn, id)?, action))
        })
    }
}

/// The field a refusal names, when it names one.
fn refused_field(e: &StoreError) -> Option<String> {
    match e {
        StoreError::Domain(DomainError::InvalidInput { field, .. }) => Some((*field).to_owned()),
        _ => None,
    }
}
