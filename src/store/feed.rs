//! The door controllers' credential feed: a snapshot, or the delta since a
//! cursor, projected from the change log.
//!
//! A cursor is `SEQ-TAG`: a change-log position and a tag derived from the
//! log entry at that position, so a cursor from another history (a restored
//! backup that has since moved past it, another installation) is recognised
//! and answered with a snapshot instead of a delta that would miss changes.
//! A delta holds the *current* entry of
//! every credential that a change after the cursor touched (its own
//! entries, and those of users holding it), so applying deltas in order to
//! a snapshot — upserting by `(technology, uid)` — reproduces the current
//! snapshot exactly. Entries carry UIDs, states, validity windows and user
//! IDs: no personal data.

use rusqlite::{Connection, params};

use crate::domain::{CredentialState, Technology, Timestamp, Uid, UserId, UserState};
use crate::store::{Store, StoreError, changes};

/// One credential as a controller needs it to decide offline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FeedEntry {
    /// Technology.
    #[schema(value_type = String)]
    pub technology: Technology,
    /// UID.
    #[schema(value_type = String)]
    pub uid: Uid,
    /// Credential state.
    #[schema(value_type = String)]
    pub state: CredentialState,
    /// The holder, if any.
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
    /// The holder's state.
    #[schema(value_type = Option<String>)]
    pub holder_state: Option<UserState>,
    /// The holder's validity window start (inclusive).
    #[schema(value_type = Option<String>)]
    pub valid_from: Option<Timestamp>,
    /// The holder's validity window end (exclusive).
    #[schema(value_type = Option<String>)]
    pub valid_to: Option<Timestamp>,
}

/// Snapshot or delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// Every credential: replace what you hold.
    Snapshot,
    /// Only what changed: upsert by `(technology, uid)`.
    Delta,
}

/// A page of the feed.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Feed {
    /// Snapshot or delta.
    pub kind: FeedKind,
    /// Pass this as `since` next time (opaque).
    pub cursor: String,
    /// The entries.
    pub entries: Vec<FeedEntry>,
}

const ENTRY_SQL: &str = "SELECT c.technology, c.uid, c.state, u.id, u.state, u.valid_from, u.valid_to
    FROM credentials c
    LEFT JOIN bindings b ON b.credential_id = c.id AND b.closed_at IS NULL
    LEFT JOIN users u ON u.id = b.user_id";

fn entries(conn: &Connection, filter: &str, since: Option<i64>) -> Result<Vec<FeedEntry>, StoreError> {
    let sql = format!("{ENTRY_SQL} {filter} ORDER BY c.id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = match since {
        Some(s) => stmt.query(params![s])?,
        None => stmt.query([])?,
    };
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let tech: String = r.get(0)?;
        let uid: Vec<u8> = r.get(1)?;
        let state: String = r.get(2)?;
        let hs: Option<String> = r.get(4)?;
        out.push(FeedEntry {
            technology: Technology::from_name(&tech).map_err(|_| StoreError::Corrupt("technology"))?,
            uid: Uid::from_bytes(&uid).map_err(|_| StoreError::Corrupt("uid"))?,
            state: CredentialState::from_name(&state).ok_or(StoreError::Corrupt("credential state"))?,
            user_id: r.get::<_, Option<i64>>(3)?.map(UserId::from_i64),
            holder_state: hs
                .as_deref()
                .map(|s| UserState::from_name(s).ok_or(StoreError::Corrupt("user state")))
                .transpose()?,
            valid_from: r.get::<_, Option<i64>>(5)?.map(Timestamp),
            valid_to: r.get::<_, Option<i64>>(6)?.map(Timestamp),
        });
    }
    Ok(out)
}

/// The cursor for log position `seq`: `SEQ-TAG`, the tag a hash of the
/// entry at `seq` (its time and contents), `0-0` for the empty log.
fn cursor_at(c: &Connection, seq: i64) -> Result<String, StoreError> {
    use rusqlite::OptionalExtension;
    use sha2::{Digest, Sha256};
    if seq == 0 {
        return Ok("0-0".into());
    }
    let row: Option<(i64, String, i64, Option<Vec<u8>>)> = c
        .prepare_cached("SELECT at, kind, user_id, uid FROM change_log WHERE seq = ?1")?
        .query_row([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((at, kind, user, uid)) = row else { return Ok(format!("{seq}-gone")) };
    let mut h = Sha256::new();
    h.update(seq.to_le_bytes());
    h.update(at.to_le_bytes());
    h.update(kind.as_bytes());
    h.update(user.to_le_bytes());
    h.update(uid.unwrap_or_default());
    Ok(format!("{seq}-{}", hex::encode(&h.finalize()[..6])))
}

impl Store {
    /// The feed since `since`: a delta when the cursor is one this history
    /// issued, otherwise (no cursor, or a foreign one) a snapshot.
    pub fn credential_feed(&self, since: Option<&str>) -> Result<Feed, StoreError> {
        self.read(|c| {
            let head = changes::head(c)?;
            let cursor = cursor_at(c, head)?;
            let known = match since.and_then(|s| s.split_once('-')) {
                Some((seq, tag)) => match seq.parse::<i64>() {
                    Ok(seq) if (0..=head).contains(&seq) && cursor_at(c, seq)?.ends_with(&format!("-{tag}")) => {
                        Some(seq)
                    }
                    _ => None,
                },
                None => None,
            };
            match known {
                Some(s) => {
                    let filter = "WHERE c.id IN (
                        SELECT c2.id FROM change_log l JOIN credentials c2
                            ON l.kind = 'credential' AND c2.technology = l.technology AND c2.uid = l.uid
                        WHERE l.seq > ?1
                        UNION
                        SELECT b2.credential_id FROM change_log l JOIN bindings b2
                            ON l.kind = 'user' AND b2.user_id = l.user_id AND b2.closed_at IS NULL
                        WHERE l.seq > ?1)";
                    Ok(Feed { kind: FeedKind::Delta, cursor, entries: entries(c, filter, Some(s))? })
                }
                None => Ok(Feed { kind: FeedKind::Snapshot, cursor, entries: entries(c, "", None)? }),
            }
        })
    }
}
