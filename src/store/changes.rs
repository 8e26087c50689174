//! The change log: every write's effect on what doors see, in commit order.
//!
//! `seq` is assigned inside the writer's `BEGIN IMMEDIATE` transaction, so
//! log order is commit order across processes, and a reader that has
//! applied up to `seq` N has missed nothing below N.

use rusqlite::{Connection, params};

use crate::domain::access::{GroupId, LevelId};
use crate::domain::{Change, CredentialState, Technology, Timestamp, Uid, UserId, UserState, ValidityWindow};
use crate::store::StoreError;

/// Appends `change` inside the caller's transaction.
pub fn append(conn: &Connection, at: Timestamp, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::User { id, state, window } => {
            conn.prepare_cached(
                "INSERT INTO change_log (at, kind, user_id, user_state, valid_from, valid_to)
                 VALUES (?1, 'user', ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                at.0,
                id.as_i64(),
                state.as_str(),
                window.from.map(|t| t.0),
                window.to.map(|t| t.0)
            ])?;
        }
        Change::Credential { technology, uid, state, holder } => {
            conn.prepare_cached(
                "INSERT INTO change_log (at, kind, user_id, technology, uid, credential_state)
                 VALUES (?1, 'credential', ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                at.0,
                holder.map_or(0, UserId::as_i64),
                technology.as_str(),
                uid.as_bytes(),
                state.as_str()
            ])?;
        }
        Change::Group { id, group } => {
            conn.prepare_cached("INSERT INTO change_log (at, kind, user_id, group_id) VALUES (?1, 'group', ?2, ?3)")?
                .execute(params![at.0, id.as_i64(), group.map(|g| g.0)])?;
        }
        Change::Membership { id, group, member } => {
            conn.prepare_cached("INSERT INTO change_log (at, kind, user_id, group_id) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![
                    at.0,
                    if *member { "member_in" } else { "member_out" },
                    id.as_i64(),
                    group.directory_row().ok_or(StoreError::Corrupt("a membership names a directory group"))?
                ])?;
        }
        Change::Assignment { user, level, window } => {
            conn.prepare_cached(
                "INSERT INTO change_log (at, kind, user_id, level_id, valid_from, valid_to) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                at.0,
                if window.is_some() { "assignment" } else { "unassignment" },
                user.as_i64(),
                level.0,
                window.and_then(|w| w.from).map(|t| t.0),
                window.and_then(|w| w.to).map(|t| t.0)
            ])?;
        }
        Change::Rules { reach } => {
            conn.prepare_cached("INSERT INTO change_log (at, kind, user_id, user_state) VALUES (?1, 'rules', 0, ?2)")?
                .execute(params![at.0, reach.then_some("reach")])?;
        }
    }
    Ok(())
}

/// The log entries after `seq`, in order, at most `limit`.
pub fn read_since(conn: &Connection, seq: i64, limit: u32) -> Result<Vec<(i64, Change)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, kind, user_id, user_state, valid_from, valid_to, technology, uid, credential_state, level_id,
            group_id
         FROM change_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![seq, limit])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let kind: String = r.get(1)?;
        let user: i64 = r.get(2)?;
        let window = |r: &rusqlite::Row<'_>| -> rusqlite::Result<ValidityWindow> {
            Ok(ValidityWindow {
                from: r.get::<_, Option<i64>>(4)?.map(Timestamp),
                to: r.get::<_, Option<i64>>(5)?.map(Timestamp),
            })
        };
        let change = if kind == "rules" {
            Change::Rules { reach: r.get::<_, Option<String>>(3)?.as_deref() == Some("reach") }
        } else if kind == "group" {
            Change::Group { id: UserId::from_i64(user), group: r.get::<_, Option<i64>>(10)?.map(GroupId) }
        } else if kind == "member_in" || kind == "member_out" {
            // An expunged person's entries name no group any more: leaving none changes nothing.
            let group: Option<i64> = r.get(10)?;
            Change::Membership {
                id: UserId::from_i64(user),
                group: GroupId::directory(group.unwrap_or(0)),
                member: kind == "member_in" && group.is_some(),
            }
        } else if kind == "assignment" || kind == "unassignment" {
            let level: Option<i64> = r.get(9)?;
            Change::Assignment {
                user: UserId::from_i64(user),
                level: LevelId(level.ok_or(StoreError::Corrupt("level in change log"))?),
                window: if kind == "assignment" { Some(window(r)?) } else { None },
            }
        } else if kind == "user" {
            let state: String = r.get(3)?;
            Change::User {
                id: UserId::from_i64(user),
                state: UserState::from_name(&state).ok_or(StoreError::Corrupt("user state in change log"))?,
                window: ValidityWindow {
                    from: r.get::<_, Option<i64>>(4)?.map(Timestamp),
                    to: r.get::<_, Option<i64>>(5)?.map(Timestamp),
                },
            }
        } else {
            let tech: String = r.get(6)?;
            let uid: Vec<u8> = r.get(7)?;
            let state: String = r.get(8)?;
            Change::Credential {
                technology: Technology::from_name(&tech)
                    .map_err(|_| StoreError::Corrupt("technology in change log"))?,
                uid: Uid::from_bytes(&uid).map_err(|_| StoreError::Corrupt("uid in change log"))?,
                state: CredentialState::from_name(&state)
                    .ok_or(StoreError::Corrupt("credential state in change log"))?,
                holder: (user != 0).then(|| UserId::from_i64(user)),
            }
        };
        out.push((seq, change));
    }
    Ok(out)
}

/// The newest `seq`, or 0 for an empty log.
pub fn head(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM change_log", [], |r| r.get(0))?)
}
