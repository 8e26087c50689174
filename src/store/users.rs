//! People: create, read, search, edit, lifecycle and expunge.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::domain::time::format_date;
use crate::domain::user::check_expunge_confirmation;
use crate::domain::{
    Change, CredentialState, DomainError, Holds, LifecycleAction, Technology, Timestamp, Transition, Uid, UserFacts,
    UserId, UserState, ValidityWindow, transition,
};
use crate::store::records::{DirectoryLink, DirectorySource};
use crate::store::{
    Actor, AuditDraft, HeldBinding, HeldCredential, NewUser, Stats, Store, StoreError, Tx, UserPatch, UserRecord,
    UserSummary, columns,
};

/// Case folding for search (`MÜLLER` finds `Müller`; SQLite's own
/// `NOCASE` folds ASCII only): lower case, plus the folds lower-casing
/// misses — final sigma, sharp s, dotted capital I.
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase().replace('ς', "σ").replace('ß', "ss").replace("i\u{307}", "i")
}

/// Longest accepted text field, in characters.
pub(crate) const MAX_FIELD: usize = 200;
/// Longest accepted record type or group, in characters.
pub(crate) const MAX_CODE: usize = 64;
/// Longest accepted notes, in characters.
const MAX_NOTES: usize = 4000;

fn not_found(id: UserId) -> StoreError {
    DomainError::NotFound { what: "user", id: id.to_string() }.into()
}

fn corrupt(what: &'static str) -> impl Fn() -> StoreError {
    move || StoreError::Corrupt(what)
}

/// Trims; empty becomes `None`; refuses over-long values without echoing them.
pub(crate) fn clean(field: &'static str, v: Option<String>, max: usize) -> Result<Option<String>, DomainError> {
    let Some(v) = v else { return Ok(None) };
    let t = v.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().count() > max || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DomainError::InvalidInput {
            field,
            message: format!("must be at most {max} characters, without control characters"),
        });
    }
    Ok(Some(t.to_string()))
}

fn required(field: &'static str, v: String) -> Result<String, DomainError> {
    clean(field, Some(v), MAX_FIELD)?.ok_or(DomainError::InvalidInput { field, message: "is required".into() })
}

fn clean_email(v: Option<String>) -> Result<Option<String>, DomainError> {
    let v = clean("email", v, MAX_FIELD)?;
    if let Some(e) = &v {
        let ok = e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !e.contains(' '));
        if !ok {
            return Err(DomainError::InvalidInput { field: "email", message: "is not an email address".into() });
        }
    }
    Ok(v)
}

const USER_COLUMNS: &str = "id, state, given_name, family_name, email, phone, employee_no, notes, org_unit,
    (directory_source IS NOT NULL AND directory_gone_at IS NULL), legal_hold, valid_from, valid_to, purge_date,
    created_at, updated_at, deleted_at, expunged_at, expunged_by, record_type, user_group, balance, unreturned_items,
    suspended_by_staff, suspended_by_directory, directory_id, directory_source, directory_gone_at,
    directory_vanished_at, user_name, revision";

fn user_from_row(r: &Row<'_>) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: UserId::from_i64(r.get(0)?),
        state: columns::user_state(r, 1)?,
        given_name: r.get(2)?,
        family_name: r.get(3)?,
        email: r.get(4)?,
        phone: r.get(5)?,
        employee_no: r.get(6)?,
        notes: r.get(7)?,
        org_unit: r.get(8)?,
        directory_linked: r.get(9)?,
        legal_hold: r.get(10)?,
        valid_from: r.get::<_, Option<i64>>(11)?.map(Timestamp),
        valid_to: r.get::<_, Option<i64>>(12)?.map(Timestamp),
        purge_date: columns::opt_date(r, 13)?,
        created_at: Timestamp(r.get(14)?),
        updated_at: Timestamp(r.get(15)?),
        deleted_at: r.get::<_, Option<i64>>(16)?.map(Timestamp),
        expunged_at: r.get::<_, Option<i64>>(17)?.map(Timestamp),
        expunged_by: r.get(18)?,
        record_type: r.get(19)?,
        group: r.get(20)?,
        balance: r.get(21)?,
        unreturned_items: r.get(22)?,
        credentials: Vec::new(),
        history: Vec::new(),
        holds: Holds { staff: r.get(23)?, directory: r.get(24)? },
        directory: match r.get::<_, Option<String>>(26)? {
            Some(source) => Some(DirectoryLink {
                external_id: r.get(25)?,
                source: DirectorySource::from_name(&source).ok_or(StoreError::Corrupt("directory source"))?,
                gone_at: r.get::<_, Option<i64>>(27)?.map(Timestamp),
                vanished_at: r.get::<_, Option<i64>>(28)?.map(Timestamp),
            }),
            None => None,
        },
        user_name: r.get(29)?,
        revision: r.get(30)?,
        directory_groups: Vec::new(),
    })
}

/// Reads one user with the credentials they hold.
pub(crate) fn load_user(conn: &Connection, id: UserId) -> Result<UserRecord, StoreError> {
    let mut user = {
        let mut stmt = conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?;
        let mut rows = stmt.query([id.as_i64()])?;
        let Some(r) = rows.next()? else { return Err(not_found(id)) };
        user_from_row(r)?
    };
    let mut stmt = conn.prepare_cached(
        "SELECT c.technology, c.uid, c.state FROM bindings b JOIN credentials c ON c.id = b.credential_id
         WHERE b.user_id = ?1 AND b.closed_at IS NULL ORDER BY b.opened_at, b.id",
    )?;
    let mut rows = stmt.query([id.as_i64()])?;
    while let Some(r) = rows.next()? {
        user.credentials.push(HeldCredential {
            technology: columns::technology(r, 0)?,
            uid: columns::uid(r, 1)?,
            state: columns::credential_state(r, 2)?,
        });
    }
    let mut stmt = conn.prepare_cached(
        "SELECT c.technology, c.uid, b.opened_at, b.closed_at, b.close_reason FROM bindings b
         JOIN credentials c ON c.id = b.credential_id WHERE b.user_id = ?1 ORDER BY b.opened_at DESC, b.id DESC",
    )?;
    let mut rows = stmt.query([id.as_i64()])?;
    while let Some(r) = rows.next()? {
        user.history.push(HeldBinding {
            technology: columns::technology(r, 0)?,
            uid: columns::uid(r, 1)?,
            opened_at: Timestamp(r.get(2)?),
            closed_at: r.get::<_, Option<i64>>(3)?.map(Timestamp),
            close_reason: r.get(4)?,
        });
    }
    let mut stmt = conn.prepare_cached(
        "SELECT g.display_name FROM directory_group_members m JOIN directory_groups g ON g.id = m.group_id
         WHERE m.user_id = ?1 ORDER BY g.display_name COLLATE NOCASE",
    )?;
    let mut rows = stmt.query([id.as_i64()])?;
    while let Some(r) = rows.next()? {
        user.directory_groups.push(r.get(0)?);
    }
    Ok(user)
}

/// The facts the lifecycle rules need.
pub(crate) fn load_facts(conn: &Connection, id: UserId) -> Result<(UserFacts, ValidityWindow), StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT state, state_before_delete, directory_source IS NOT NULL AND directory_gone_at IS NULL, legal_hold,
                valid_from, valid_to, suspended_by_staff, suspended_by_directory
             FROM users WHERE id = ?1",
        )?
        .query_row([id.as_i64()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<i64>>(5)?,
                Holds { staff: r.get(6)?, directory: r.get(7)? },
            ))
        })
        .optional()?;
    let Some((state, before, linked, hold, from, to, holds)) = row else { return Err(not_found(id)) };
    let facts = UserFacts {
        id,
        state: UserState::from_name(&state).ok_or_else(corrupt("user state"))?,
        state_before_delete: before.as_deref().and_then(UserState::from_name),
        directory_linked: linked,
        legal_hold: hold,
        holds,
    };
    Ok((facts, ValidityWindow { from: from.map(Timestamp), to: to.map(Timestamp) }))
}

/// Refuses a directory link that another person already has.
fn check_directory_id(conn: &Connection, link: Option<&str>, except: Option<UserId>) -> Result<(), StoreError> {
    let Some(link) = link else { return Ok(()) };
    let taken: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE directory_id = ?1 AND id IS NOT ?2)")?
        .query_row(params![link, except.map(UserId::as_i64)], |r| r.get(0))?;
    if taken { Err(DomainError::DirectoryIdTaken.into()) } else { Ok(()) }
}

/// Inserts a user row and its change-log entry.
pub(crate) fn insert_user(w: &mut Tx<'_>, id: UserId, u: &NewUser) -> Result<(), StoreError> {
    let window = ValidityWindow::new(u.valid_from, u.valid_to)?;
    check_directory_id(&w.conn, u.directory_id.as_deref(), None)?;
    w.conn
        .prepare_cached(
            "INSERT INTO users (id, state, given_name, family_name, email, phone, employee_no, notes, org_unit,
                directory_id, legal_hold, valid_from, valid_to, purge_date, created_at, updated_at, family_fold,
                record_type, user_group, balance, unreturned_items, directory_source)
             VALUES (?1, 'active', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15, ?16, ?17, ?18, ?19,
                CASE WHEN ?9 IS NOT NULL THEN 'staff' END)",
        )?
        .execute(params![
            id.as_i64(),
            u.given_name,
            u.family_name,
            u.email,
            u.phone,
            u.employee_no,
            u.notes,
            u.org_unit,
            u.directory_id,
            u.legal_hold,
            window.from.map(|t| t.0),
            window.to.map(|t| t.0),
            u.purge_date.map(format_date),
            w.now.0,
            fold(&u.family_name),
            u.record_type,
            u.group,
            u.balance,
            u.unreturned_items,
        ])?;
    w.change(Change::User { id, state: UserState::Active, window })?;
    super::levels::on_new_user(w, id, u.group.as_deref())
}

/// A group name as stored (trimmed, at most [`MAX_CODE`] characters).
pub(crate) fn clean_group(g: &str) -> Result<String, DomainError> {
    clean("group", Some(g.to_owned()), MAX_CODE)?
        .ok_or_else(|| DomainError::InvalidInput { field: "group", message: "a group name is not blank".into() })
}

/// Draws a fresh random user ID that no row (live or tombstone) has.
pub(crate) fn fresh_user_id(conn: &Connection) -> Result<UserId, StoreError> {
    loop {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|e| StoreError::Io(format!("no randomness from the OS: {e}")))?;
        let id = UserId::from_random_bits(u64::from_le_bytes(b));
        let taken: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)")?
            .query_row([id.as_i64()], |r| r.get(0))?;
        if !taken {
            return Ok(id);
        }
    }
}

/// A new person's fields as the store would keep them (trimmed), or the
/// first refused; nothing is stored.
pub fn check_new_user(u: NewUser) -> Result<NewUser, DomainError> {
    validate_new(u)
}

fn validate_new(u: NewUser) -> Result<NewUser, DomainError> {
    Ok(NewUser {
        given_name: required("given_name", u.given_name)?,
        family_name: required("family_name", u.family_name)?,
        email: clean_email(u.email)?,
        phone: clean("phone", u.phone, MAX_FIELD)?,
        employee_no: clean("employee_no", u.employee_no, MAX_FIELD)?,
        notes: clean("notes", u.notes, MAX_NOTES)?,
        org_unit: clean("org_unit", u.org_unit, MAX_FIELD)?,
        directory_id: clean("directory_id", u.directory_id, MAX_FIELD)?,
        record_type: clean("record_type", u.record_type, MAX_CODE)?,
        group: clean("group", u.group, MAX_CODE)?,
        ..u
    })
}

/// The search: each alternative can use an index (rowid, the folded
/// family name, email, employee number, the credential UID), so SQLite
/// answers it from index look-ups, not a table scan. The name and email
/// alternatives are each cut to the page in the search's order before they
/// are merged: the name one walks the folded-name index in order and stops
/// after a page (a prefix matching most of a million people costs what a
/// narrow one does); the email one sorts its matches, so it is asked only
/// when the text holds an `@` (`email`): a bare letter would otherwise sort
/// every address starting with it (2.3 s for `s` at a million people),
/// where `ann@` or a whole address matches few.
fn search_sql(states: &str, back: bool, email: bool) -> String {
    let (cmp, dir) = order(back);
    let common = format!(
        "state IN {states} AND (?6 IS NULL OR org_unit = ?6)
         AND (?9 IS NULL OR deleted_at >= ?9) AND (?10 IS NULL OR deleted_at < ?10)
         AND (?11 IS NULL OR (COALESCE(family_fold, ''), COALESCE(given_name, ''), id) {cmp} (?11, ?12, ?13))"
    );
    let by_email = if email {
        format!(
            "SELECT id FROM (SELECT id FROM users WHERE email LIKE ?3 ESCAPE '\\' AND {common}
                             ORDER BY {dir} LIMIT ?5)
             UNION ALL"
        )
    } else {
        String::new()
    };
    format!(
        "SELECT id, state, family_name, given_name, email, employee_no, org_unit, deleted_at FROM users
         WHERE id IN (
            SELECT id FROM (SELECT id FROM users WHERE family_fold >= ?7 AND family_fold < ?8 AND {common}
                            ORDER BY {dir} LIMIT ?5)
            UNION ALL
            {by_email}
            SELECT id FROM users WHERE (id = ?2 OR employee_no = ?1
                OR id IN (SELECT b.user_id FROM bindings b JOIN credentials c ON c.id = b.credential_id
                          WHERE c.technology IN ('iso14443a','em4100','other') AND c.uid = ?4))
                AND {common})
         ORDER BY {dir} LIMIT ?5"
    )
}

/// The search's order, forwards or (for the page before a cursor) backwards:
/// the cursor's comparison and the `ORDER BY` terms.
fn order(back: bool) -> (&'static str, &'static str) {
    if back { ("<", "family_fold DESC, given_name DESC, id DESC") } else { (">", "family_fold, given_name, id") }
}

/// Where a page of a search starts: after one person, or (the page
/// before) before them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The people after this one.
    After(UserId),
    /// The people before this one.
    Before(UserId),
}

/// A cursor's key in the search's order (folded family name, given name,
/// ID) — keyset paging, so a later page costs what the first does.
fn cursor(conn: &Connection, at: Option<Cursor>) -> Result<Option<(String, String, i64)>, StoreError> {
    let Some(Cursor::After(id) | Cursor::Before(id)) = at else { return Ok(None) };
    let key = conn
        .prepare_cached("SELECT COALESCE(family_fold, ''), COALESCE(given_name, '') FROM users WHERE id = ?1")?
        .query_row(params![id.as_i64()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .optional()?;
    // A cursor on no one (a forged link) is past everyone, or before everyone.
    let nowhere = match at {
        Some(Cursor::Before(_)) => (String::new(), String::new(), i64::MIN),
        _ => (char::MAX.to_string(), String::new(), i64::MAX),
    };
    Ok(Some(key.map_or(nowhere, |(f, g)| (f, g, id.as_i64()))))
}

/// Which users a search may return.
#[derive(Clone, Copy)]
enum Scope {
    Live,
    All,
    /// Deleted (not yet expunged), deleted in `[from, to)` where given.
    Deleted {
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    },
}

fn search(
    conn: &Connection,
    query: &str,
    scope: Scope,
    org_unit: Option<&str>,
    at: Option<Cursor>,
    limit: u32,
) -> Result<Vec<UserSummary>, StoreError> {
    let q = query.trim();
    let back = matches!(at, Some(Cursor::Before(_)));
    let (cmp, dir) = order(back);
    let after = cursor(conn, at)?;
    let (after_fold, after_given, after_id) = match &after {
        Some((f, g, i)) => (Some(f.as_str()), Some(g.as_str()), Some(*i)),
        None => (None, None, None),
    };
    let id = q.parse::<UserId>().ok().map(UserId::as_i64);
    let uid = Uid::parse_any(q).ok().map(|u| u.as_bytes().to_vec());
    let escaped: String =
        q.chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
    let prefix = format!("{escaped}%");
    let (states, from, to) = match scope {
        Scope::Live => ("('active','suspended')", None, None),
        Scope::All => ("('active','suspended','deleted','expunged')", None, None),
        Scope::Deleted { from, to } => ("('deleted')", from.map(|t| t.0), to.map(|t| t.0)),
    };
    let mut stmt;
    let mut rows = if q.is_empty() {
        // Everyone, in name order, straight off the folded-name index.
        stmt = conn.prepare_cached(&format!(
            "SELECT id, state, family_name, given_name, email, employee_no, org_unit, deleted_at FROM users
             WHERE state IN {states} AND (?1 IS NULL OR org_unit = ?1)
             AND (?3 IS NULL OR deleted_at >= ?3) AND (?4 IS NULL OR deleted_at < ?4)
             AND (?5 IS NULL OR (COALESCE(family_fold, ''), COALESCE(given_name, ''), id) {cmp} (?5, ?6, ?7))
             ORDER BY {dir} LIMIT ?2"
        ))?;
        stmt.query(params![org_unit, limit, from, to, after_fold, after_given, after_id])?
    } else {
        stmt = conn.prepare_cached(&search_sql(states, back, q.contains('@')))?;
        // A prefix range on the folded column uses its index.
        let folded = fold(q);
        let mut folded_end = format!("{folded}{}", char::MAX);
        // A cursor narrows the name range: it starts (or, backwards, ends) there.
        let mut start = folded;
        match after_fold {
            Some(f) if back => {
                let upto = format!("{f}{}", char::MAX);
                if upto < folded_end {
                    folded_end = upto;
                }
            }
            Some(f) if f > start.as_str() => start = f.to_owned(),
            _ => {}
        }
        stmt.query(params![
            q,
            id,
            prefix,
            uid,
            limit,
            org_unit,
            start,
            folded_end,
            from,
            to,
            after_fold,
            after_given,
            after_id
        ])?
    };
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(UserSummary {
            id: UserId::from_i64(r.get(0)?),
            state: columns::user_state(r, 1)?,
            family_name: r.get(2)?,
            given_name: r.get(3)?,
            email: r.get(4)?,
            employee_no: r.get(5)?,
            org_unit: r.get(6)?,
            deleted_at: r.get::<_, Option<i64>>(7)?.map(Timestamp),
        });
    }
    if back {
        // Read backwards from the cursor: shown in the search's order.
        out.reverse();
    }
    Ok(out)
}

impl Store {
    /// Creates a person, `active`, with a fresh ID.
    pub fn create_user(&self, actor: &Actor, new: NewUser) -> Result<UserRecord, StoreError> {
        self.write(actor, AuditDraft::new("user.create"), |w| {
            let new = validate_new(new)?;
            let id = fresh_user_id(&w.conn)?;
            w.audit.target_user = Some(id);
            insert_user(w, id, &new)?;
            load_user(&w.conn, id)
        })
    }

    /// One person (the tombstone if expunged).
    pub fn get_user(&self, id: UserId) -> Result<UserRecord, StoreError> {
        self.read(|c| load_user(c, id))
    }

    /// Searches active and suspended people by user ID, family-name or
    /// email prefix (only when the text holds an `@`), employee number, or
    /// credential UID.
    pub fn search_users(&self, query: &str, limit: u32) -> Result<Vec<UserSummary>, StoreError> {
        self.read(|c| search(c, query, Scope::Live, None, None, limit))
    }

    /// The same search over everyone, deleted and expunged included.
    pub fn search_all_users(&self, query: &str, limit: u32) -> Result<Vec<UserSummary>, StoreError> {
        self.read(|c| search(c, query, Scope::All, None, None, limit))
    }

    /// The same searches, restricted to one organisational unit (for a
    /// scoped operator: the unit filter is applied before the limit).
    pub fn search_users_in_unit(
        &self,
        query: &str,
        org_unit: &str,
        include_deleted: bool,
        limit: u32,
    ) -> Result<Vec<UserSummary>, StoreError> {
        let scope = if include_deleted { Scope::All } else { Scope::Live };
        self.read(|c| search(c, query, scope, Some(org_unit), None, limit))
    }

    /// A page of [`Store::search_users`] (with `all`, of
    /// [`Store::search_all_users`]; with `org_unit`, within it): the first
    /// `limit` people after the cursor in the search's order, or the last
    /// `limit` before it (in the search's order too), found through the same
    /// indexes (keyset paging, no offset).
    pub fn search_users_page(
        &self,
        query: &str,
        all: bool,
        org_unit: Option<&str>,
        at: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<UserSummary>, StoreError> {
        let scope = if all { Scope::All } else { Scope::Live };
        self.read(|c| search(c, query, scope, org_unit, at, limit))
    }

    /// Deleted people (not yet expunged) matching `query` (as for
    /// [`Store::search_users`]; empty: all), deleted in `[from, to)`, in
    /// `org_unit` if given: what the erase flow chooses from.
    pub fn search_deleted(
        &self,
        query: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        org_unit: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserSummary>, StoreError> {
        self.read(|c| search(c, query, Scope::Deleted { from, to }, org_unit, None, limit))
    }

    /// Edits a person. Refused for an expunged user.
    pub fn update_user(&self, actor: &Actor, id: UserId, patch: UserPatch) -> Result<UserRecord, StoreError> {
        let mut draft = AuditDraft::new("user.update").user(id);
        draft.detail = format!("fields={}", patch.field_names().join(","));
        self.write(actor, draft, |w| {
            let (facts, window) = load_facts(&w.conn, id)?;
            if facts.state == UserState::Expunged {
                return Err(DomainError::AlreadyExpunged { user: id }.into());
            }
            let cur = load_user(&w.conn, id)?;
            let old_group = cur.group.clone();
            let pick = |new: Option<Option<String>>, old: Option<String>| new.unwrap_or(old);
            let window =
                ValidityWindow::new(patch.valid_from.unwrap_or(window.from), patch.valid_to.unwrap_or(window.to))?;
            let u = validate_new(NewUser {
                given_name: patch.given_name.unwrap_or(cur.given_name.unwrap_or_default()),
                family_name: patch.family_name.unwrap_or(cur.family_name.unwrap_or_default()),
                email: pick(patch.email, cur.email),
                phone: pick(patch.phone, cur.phone),
                employee_no: pick(patch.employee_no, cur.employee_no),
                notes: pick(patch.notes, cur.notes),
                org_unit: pick(patch.org_unit, cur.org_unit),
                directory_id: None,
                valid_from: window.from,
                valid_to: window.to,
                purge_date: patch.purge_date.unwrap_or(cur.purge_date),
                legal_hold: patch.legal_hold.unwrap_or(cur.legal_hold),
                record_type: pick(patch.record_type, cur.record_type),
                group: pick(patch.group, cur.group),
                balance: patch.balance.unwrap_or(cur.balance),
                unreturned_items: patch.unreturned_items.unwrap_or(cur.unreturned_items),
            })?;
            w.conn
                .prepare_cached(
                    "UPDATE users SET given_name = ?2, family_name = ?3, email = ?4, phone = ?5, employee_no = ?6,
                        notes = ?7, org_unit = ?8, legal_hold = ?9, valid_from = ?10, valid_to = ?11,
                        purge_date = ?12, updated_at = ?13, family_fold = ?14, record_type = ?15, user_group = ?16,
                        balance = ?17, unreturned_items = ?18 WHERE id = ?1",
                )?
                .execute(params![
                    id.as_i64(),
                    u.given_name,
                    u.family_name,
                    u.email,
                    u.phone,
                    u.employee_no,
                    u.notes,
                    u.org_unit,
                    u.legal_hold,
                    window.from.map(|t| t.0),
                    window.to.map(|t| t.0),
                    u.purge_date.map(format_date),
                    w.now.0,
                    fold(&u.family_name),
                    u.record_type,
                    u.group,
                    u.balance,
                    u.unreturned_items,
                ])?;
            match patch.directory_id.map(|l| clean("directory_id", l, MAX_FIELD)).transpose()? {
                Some(Some(link)) => {
                    check_directory_id(&w.conn, Some(&link), Some(id))?;
                    w.conn
                        .prepare_cached(
                            "UPDATE users SET directory_id = ?2, directory_source = COALESCE(directory_source, 'staff'),
                                directory_gone_at = NULL
                             WHERE id = ?1",
                        )?
                        .execute(params![id.as_i64(), link])?;
                }
                // Unlinked: the directory no longer manages them (as when it deletes them): the link stays so the
                // directory does not create them again, until they are expunged; its suspension becomes staff's.
                Some(None) => {
                    w.conn
                        .prepare_cached(
                            "UPDATE users SET directory_gone_at = COALESCE(directory_gone_at, ?2),
                                suspended_by_staff = MAX(suspended_by_staff, suspended_by_directory),
                                suspended_by_directory = 0
                             WHERE id = ?1 AND directory_source IS NOT NULL",
                        )?
                        .execute(params![id.as_i64(), w.now.0])?;
                    super::directory::leave_all_in(w, id)?;
                }
                None => {}
            }
            if patch.valid_from.is_some() || patch.valid_to.is_some() {
                w.change(Change::User { id, state: facts.state, window })?;
            }
            if u.group != old_group {
                super::levels::on_group_change(w, id, u.group.as_deref())?;
            }
            load_user(&w.conn, id)
        })
    }

    /// Suspend, resume, delete or restore (expunge has its own call).
    pub fn lifecycle(&self, actor: &Actor, id: UserId, action: LifecycleAction) -> Result<UserRecord, StoreError> {
        let name = action.audit_name();
        self.write(actor, AuditDraft::new(name).user(id), |w| {
            if action == LifecycleAction::Expunge {
                return Err(DomainError::ExpungeNotConfirmed { user: id }.into());
            }
            lifecycle_in(w, id, action, actor.origin)?;
            load_user(&w.conn, id)
        })
    }

    /// Suspends a person.
    pub fn suspend(&self, actor: &Actor, id: UserId) -> Result<UserRecord, StoreError> {
        self.lifecycle(actor, id, LifecycleAction::Suspend)
    }

    /// Resumes a suspended person.
    pub fn resume(&self, actor: &Actor, id: UserId) -> Result<UserRecord, StoreError> {
        self.lifecycle(actor, id, LifecycleAction::Resume)
    }

    /// Soft-deletes a person: their cards stop granting, and stay theirs.
    pub fn delete(&self, actor: &Actor, id: UserId) -> Result<UserRecord, StoreError> {
        self.lifecycle(actor, id, LifecycleAction::Delete)
    }

    /// Restores a deleted person to the state they had.
    pub fn restore(&self, actor: &Actor, id: UserId) -> Result<UserRecord, StoreError> {
        self.lifecycle(actor, id, LifecycleAction::Restore)
    }

    /// Expunges a deleted person: destroys their personal data, keeps a
    /// tombstone, closes their bindings (`holder_expunged`) and returns
    /// their non-retired credentials to stock. `confirm` must repeat the ID.
    /// The WAL is checkpointed afterwards so the data survives nowhere.
    pub fn expunge(&self, actor: &Actor, id: UserId, confirm: &str) -> Result<UserRecord, StoreError> {
        let out = self.write(actor, AuditDraft::new("user.expunge").user(id), |w| {
            check_expunge_confirmation(id, confirm)?;
            let released = expunge_in(w, id, &actor.id)?;
            w.audit.detail = format!("credentials_released={released}");
            load_user(&w.conn, id)
        })?;
        self.checkpoint()?;
        Ok(out)
    }

    /// Counts per state, expunged users included.
    pub fn stats(&self) -> Result<Stats, StoreError> {
        self.read(|c| {
            let mut s = Stats::default();
            for st in [UserState::Active, UserState::Suspended, UserState::Deleted, UserState::Expunged] {
                s.users.insert(st.as_str(), 0);
            }
            let mut stmt = c.prepare("SELECT state, COUNT(*) FROM users GROUP BY state")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let st = columns::user_state(r, 0)?;
                s.users.insert(st.as_str(), r.get::<_, i64>(1)?.unsigned_abs());
            }
            let mut stmt = c.prepare("SELECT state, COUNT(*) FROM credentials GROUP BY state")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let st = columns::credential_state(r, 0)?;
                s.credentials.insert(st.as_str(), r.get::<_, i64>(1)?.unsigned_abs());
            }
            Ok(s)
        })
    }
}

/// Suspend, resume, delete or restore inside the caller's transaction.
pub(crate) fn lifecycle_in(
    w: &mut Tx<'_>,
    id: UserId,
    action: LifecycleAction,
    origin: crate::domain::Origin,
) -> Result<Transition, StoreError> {
    let (facts, window) = load_facts(&w.conn, id)?;
    let t = transition(&facts, action, origin)?;
    let deleted_at = match action {
        LifecycleAction::Delete => Some(w.now.0),
        _ => None,
    };
    // Deleted keeps the holders of the suspension it came from: restore brings them back.
    let holds = if t.to == UserState::Deleted && t.state_before_delete != Some(UserState::Suspended) {
        Holds::default()
    } else {
        t.holds
    };
    w.conn
        .prepare_cached(
            "UPDATE users SET state = ?2,
                state_before_delete = CASE WHEN ?2 = 'deleted' THEN ?3 ELSE NULL END,
                deleted_at = CASE WHEN ?2 = 'deleted' THEN ?4 ELSE NULL END,
                updated_at = ?5, suspended_by_staff = ?6, suspended_by_directory = ?7
             WHERE id = ?1",
        )?
        .execute(params![
            id.as_i64(),
            t.to.as_str(),
            t.state_before_delete.map(UserState::as_str),
            deleted_at,
            w.now.0,
            holds.staff,
            holds.directory,
        ])?;
    if t.to != facts.state {
        w.change(Change::User { id, state: t.to, window })?;
    }
    Ok(t)
}

/// The expunge itself, inside the caller's transaction. Returns how many
/// credentials went back to stock.
pub(crate) fn expunge_in(w: &mut Tx<'_>, id: UserId, actor: &str) -> Result<usize, StoreError> {
    let (facts, _) = load_facts(&w.conn, id)?;
    transition(&facts, LifecycleAction::Expunge, crate::domain::Origin::Staff)?;
    w.conn
        .prepare_cached(
            "UPDATE users SET state = 'expunged', state_before_delete = NULL, given_name = NULL, family_name = NULL,
                family_fold = NULL,
                email = NULL, phone = NULL, employee_no = NULL, notes = NULL, photo = NULL, directory_id = NULL,
                directory_source = NULL, directory_gone_at = NULL, directory_vanished_at = NULL, user_name = NULL,
                suspended_by_staff = 0, suspended_by_directory = 0,
                expunged_at = ?2, expunged_by = ?3, updated_at = ?2
             WHERE id = ?1",
        )?
        .execute(params![id.as_i64(), w.now.0, actor])?;
    w.change(Change::User { id, state: UserState::Expunged, window: ValidityWindow::default() })?;
    // Directory groups say where they worked: gone with them, from the change log's history too.
    super::directory::forget_groups_in(w, id)?;
    // Their access levels go with them: a tombstone holds none, and a level
    // they held is no longer in use on their account.
    super::levels::drop_assignments(w, id)?;
    // Older copies of the row may linger in unused page space until the file is rebuilt.
    w.conn
        .prepare_cached("UPDATE scrub SET pending_since = COALESCE(pending_since, ?1) WHERE id = 1")?
        .execute([w.now.0])?;
    // Close every open binding and return what is not retired to stock.
    let held: Vec<(i64, Technology, Uid, CredentialState)> = {
        let mut stmt = w.conn.prepare_cached(
            "SELECT c.id, c.technology, c.uid, c.state FROM bindings b JOIN credentials c ON c.id = b.credential_id
             WHERE b.user_id = ?1 AND b.closed_at IS NULL",
        )?;
        let mut rows = stmt.query([id.as_i64()])?;
        let mut held = Vec::new();
        while let Some(r) = rows.next()? {
            held.push((r.get(0)?, columns::technology(r, 1)?, columns::uid(r, 2)?, columns::credential_state(r, 3)?));
        }
        held
    };
    w.conn
        .prepare_cached(
            "UPDATE bindings SET closed_at = ?2, closed_by = ?3, close_reason = 'holder_expunged'
             WHERE user_id = ?1 AND closed_at IS NULL",
        )?
        .execute(params![id.as_i64(), w.now.0, actor])?;
    let mut released = 0;
    for (cred_id, technology, uid, state) in held {
        let new_state = if state.is_retired() { state } else { CredentialState::InStock };
        if new_state == CredentialState::InStock {
            released += 1;
            w.conn
                .prepare_cached("UPDATE credentials SET state = 'in_stock', updated_at = ?2 WHERE id = ?1")?
                .execute(params![cred_id, w.now.0])?;
        }
        w.change(Change::Credential { technology, uid, state: new_state, holder: None })?;
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_covers_what_lowercasing_misses() {
        assert_eq!(fold("MÜLLER"), "müller");
        assert_eq!(fold("Straße"), fold("STRASSE"));
        assert_eq!(fold("ΠΑΠΑΣ"), fold("παπας"));
        assert_eq!(fold("İnce"), "ince");
    }

    #[test]
    fn expunge_finds_a_persons_membership_entries_by_index_not_by_scanning_the_log() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut c).unwrap();
        let sql = format!("EXPLAIN QUERY PLAN {}", super::super::directory::FORGET_GROUPS);
        let plan: Vec<String> =
            c.prepare(&sql).unwrap().query_map([7], |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect();
        let plan = plan.join(" | ");
        assert!(plan.contains("change_log_memberships") && !plan.contains("SCAN"), "{plan}");
    }

    #[test]
    fn the_search_is_answered_from_indexes() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut c).unwrap();
        for email in [false, true] {
            let plan = plan_of(&c, &search_sql("('active','suspended')", false, email));
            assert!(!plan.contains("SCAN users"), "{plan}");
            assert!(plan.contains("users_family_fold"), "{plan}");
            assert_eq!(plan.contains("users_email"), email, "the email index only for an @: {plan}");
        }
    }

    fn plan_of(c: &Connection, sql: &str) -> String {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = stmt
            .query_map(
                params![1, 2, "x%", vec![1u8], 10, None::<String>, "x", "y", None::<i64>, None::<i64>, "x", "a", 7],
                |r| r.get::<_, String>(3),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        plan.join("\n")
    }
}
