//! The door controllers' credential feed: a snapshot, or the delta since a
//! cursor, projected from the change log.
//!
//! A cursor is `SEQ-TAG`: a change-log position and a tag derived from the
//! log entry at that position, so a cursor from another history (a restored
//! backup that has since moved past it, another installation) is recognised
//! and answered with a snapshot instead of a delta that would miss changes.
//!
//! Only credentials with a holder (an open binding) are in the feed — and
//! those whose UID bytes are held under another technology, so that a
//! reader that cannot tell the technology denies offline as online (a
//! twin an admin unbound stays, `destroyed`, while the other is held): a
//! snapshot lists those, so the list a controller holds does not grow with
//! every card ever made. A delta looks at every credential that a change
//! after the cursor touched (its own entries, those of users holding it,
//! and every credential with the same bytes): one that is listed now comes
//! as its *current* entry, one that is not as a `removed` key (it lost its
//! holder, or changed while it had none). Applying deltas in order to a snapshot — upserting entries and
//! deleting removed keys by `(technology, uid)` — reproduces the current
//! snapshot exactly. Entries carry UIDs, states, validity windows and user
//! IDs: no personal data. An entry is `ambiguous` when its UID bytes are
//! bound to different people under different technologies; a controller
//! denies those `credential_ambiguous`, as the online decision does.

use rusqlite::{Connection, params};

use crate::domain::{CredentialState, Technology, Timestamp, Uid, UserId, UserState};
use crate::store::{Store, StoreError, changes, columns};

/// Bytes per entry of a plain-JSON snapshot that the feed stays at or
/// under at 10,000 credentials (measured 121.2 when set), held by
/// `tests/it/feed_size.rs` over a realistic site: 7- and 4-byte ISO
/// 14443-A UIDs, most holders active, some with validity windows, some
/// suspended; one page of 10,000. The figure `docs/controllers.md` quotes.
pub const ENTRY_BYTES_PLAIN: usize = 122;

/// The same answered with `Content-Encoding: gzip`, at the fastest gzip
/// level the service uses for the feed (measured 24.0 when set; the
/// default level gives 20.1 but costs the service twice the CPU time, and
/// a controller syncing 1,000,000 credentials end to end 6.7 s instead of
/// 4.8). At 1,000,000 credentials: `make bench-doors`.
pub const ENTRY_BYTES_GZIP: usize = 25;

/// One credential as a controller needs it to decide offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// Technology.
    pub technology: Technology,
    /// UID.
    pub uid: Uid,
    /// Credential state.
    pub state: CredentialState,
    /// The holder (in the feed, always set: only held credentials are
    /// listed; kept optional as the contract lets a controller read an
    /// absent one as "nobody": deny).
    pub user_id: Option<UserId>,
    /// The holder's state.
    pub holder_state: Option<UserState>,
    /// The holder's validity window start (inclusive).
    pub valid_from: Option<Timestamp>,
    /// The holder's validity window end (exclusive).
    pub valid_to: Option<Timestamp>,
    /// These UID bytes are bound to different people under different
    /// technologies (a twin, until an admin unbinds one): deny every read
    /// of them `credential_ambiguous`, with or without a technology, and
    /// log no holder.
    pub ambiguous: bool,
}

/// A credential's key in the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedKey {
    /// Technology.
    pub technology: Technology,
    /// UID.
    pub uid: Uid,
}

/// Snapshot or delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// Every held credential: replace what you hold.
    Snapshot,
    /// Only what changed: upsert the entries, delete the removed keys.
    Delta,
}

/// A page of the feed.
#[derive(Debug, Clone)]
pub struct Feed {
    /// Snapshot or delta.
    pub kind: FeedKind,
    /// 0 for the first page. A snapshot's page 0 replaces what the
    /// controller holds; every other page (and every delta) is upserted.
    pub page: u32,
    /// More pages follow: ask again with `cursor` as `since`.
    pub more: bool,
    /// Pass this as `since` next time (opaque).
    pub cursor: String,
    /// The entries.
    pub entries: Vec<FeedEntry>,
    /// Delta only: credentials that have no holder now (they lost it, or
    /// changed while they had none); delete them. `entries` and `removed`
    /// together hold at most `limit` credentials.
    pub removed: Vec<FeedKey>,
}

/// Whether the bytes of credential `c` are held under technology `t` (by
/// someone other than `u` when `other_holder`), probed only when `c` is of
/// another technology — `(technology, uid)` is unique — and the site has
/// cards of `t` at all (an uncorrelated `EXISTS`, computed once per
/// statement), behind a `CASE`: SQLite computes both sides of an `AND`, but
/// only the chosen branch of a `CASE`. A probe of the card's own
/// technology, a random leaf of the index for every row, was the feed's
/// largest cost at 1,000,000 credentials (`make bench-doors`); a site with
/// one technology now probes nothing.
fn held_as(t: &str, other_holder: bool) -> String {
    let who = if other_holder { " AND b3.user_id <> u.id" } else { "" };
    format!(
        "(CASE WHEN c.technology <> '{t}' AND EXISTS (SELECT 1 FROM credentials WHERE technology = '{t}')
            THEN EXISTS (SELECT 1 FROM credentials c3
                JOIN bindings b3 ON b3.credential_id = c3.id AND b3.closed_at IS NULL
                WHERE c3.technology = '{t}' AND c3.uid = c.uid{who})
            ELSE 0 END)"
    )
}

/// The bytes of `c` are held under another technology (by someone other
/// than its own holder when `other_holder`).
fn held_elsewhere(other_holder: bool) -> String {
    Technology::ALL.iter().map(|t| held_as(t.as_str(), other_holder)).collect::<Vec<_>>().join(" OR ")
}

/// A credential is in the feed when it has a holder, or when its bytes are
/// held under another technology: a reader that cannot tell the
/// technology then denies the bytes if any of their credentials denies
/// (a twin an admin unbound stays, `destroyed`, while the other is held),
/// offline as online.
fn listed() -> String {
    format!("(CASE WHEN u.id IS NOT NULL THEN 1 ELSE {} END)", held_elsewhere(false))
}

/// The page query: a credential, its holder (none: the columns are NULL),
/// whether its bytes are ambiguous (held, and the same bytes bound to
/// someone else under another technology) and whether it is listed; rows
/// matching `filter` after credential `?2`, at most `?3`.
fn page_sql(filter: &str) -> String {
    format!(
        "SELECT c.technology, c.uid, c.state, u.id, u.state, u.valid_from, u.valid_to, c.id,
            CASE WHEN u.id IS NULL THEN 0 ELSE {ambiguous} END,
            {listed}
         FROM credentials c
         LEFT JOIN bindings b ON b.credential_id = c.id AND b.closed_at IS NULL
         LEFT JOIN users u ON u.id = b.user_id
         WHERE {filter} AND c.id > ?2 ORDER BY c.id LIMIT ?3",
        ambiguous = held_elsewhere(true),
        listed = listed(),
    )
}

/// Credentials touched by a change after `?1`: a credential change touches
/// every credential with the same bytes (whether they are ambiguous may
/// have changed with it).
const DELTA_FILTER: &str = "c.id IN (
    SELECT c2.id FROM change_log l JOIN credentials c2
        ON l.kind = 'credential' AND c2.technology IN ('iso14443a','em4100','other') AND c2.uid = l.uid
    WHERE l.seq > ?1
    UNION
    SELECT b2.credential_id FROM change_log l JOIN bindings b2
        ON l.kind = 'user' AND b2.user_id = l.user_id AND b2.closed_at IS NULL
    WHERE l.seq > ?1)";

/// One credential of a page: listed (an entry) or not (a removed key).
enum Row {
    Entry(FeedEntry),
    Removed(FeedKey),
}

/// Up to `limit` credentials after credential `after`, in credential order,
/// each with its credential ID; `since` selects a delta (listed and
/// unlisted credentials that changed), none a snapshot (every listed one).
fn entries(conn: &Connection, since: Option<i64>, after: i64, limit: usize) -> Result<Vec<(Row, i64)>, StoreError> {
    let sql = if since.is_some() { page_sql(DELTA_FILTER) } else { page_sql(&format!("?1 IS NULL AND {}", listed())) };
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![since, after, i64::try_from(limit).unwrap_or(i64::MAX)])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let technology = columns::technology(r, 0)?;
        let uid = columns::uid(r, 1)?;
        let row = if r.get(9)? {
            Row::Entry(FeedEntry {
                technology,
                uid,
                state: columns::credential_state(r, 2)?,
                user_id: r.get::<_, Option<i64>>(3)?.map(UserId::from_i64),
                holder_state: columns::opt_user_state(r, 4)?,
                valid_from: r.get::<_, Option<i64>>(5)?.map(Timestamp),
                valid_to: r.get::<_, Option<i64>>(6)?.map(Timestamp),
                ambiguous: r.get(8)?,
            })
        } else {
            Row::Removed(FeedKey { technology, uid })
        };
        out.push((row, r.get(7)?));
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
    // Every column of the entry, so the same action replayed in another
    // history (a restored backup) in the same second still differs.
    let row: Option<Vec<u8>> = c
        .prepare_cached(
            "SELECT CAST(at AS TEXT) || '|' || kind || '|' || user_id || '|' || COALESCE(user_state, '') || '|'
                || COALESCE(valid_from, '') || '|' || COALESCE(valid_to, '') || '|' || COALESCE(technology, '') || '|'
                || COALESCE(hex(uid), '') || '|' || COALESCE(credential_state, '')
             FROM change_log WHERE seq = ?1",
        )?
        .query_row([seq], |r| r.get::<_, String>(0).map(String::into_bytes))
        .optional()?;
    let Some(row) = row else { return Ok(format!("{seq}-gone")) };
    let mut h = Sha256::new();
    h.update(seq.to_le_bytes());
    h.update(&row);
    Ok(format!("{seq}-{}", hex::encode(&h.finalize()[..6])))
}

/// Checks a `SEQ-TAG` cursor against this history; the position if valid.
fn known(c: &Connection, cursor: &str, head: i64) -> Result<Option<i64>, StoreError> {
    let Some((seq, tag)) = cursor.split_once('-') else { return Ok(None) };
    match seq.parse::<i64>() {
        Ok(seq) if (0..=head).contains(&seq) && cursor_at(c, seq)?.ends_with(&format!("-{tag}")) => Ok(Some(seq)),
        _ => Ok(None),
    }
}

/// Where a paged answer goes on: `p.<page>.<since or x>.<head cursor>.<after>`.
struct Continuation {
    page: u32,
    since: Option<i64>,
    head: String,
    after: i64,
}

impl Continuation {
    fn parse(c: &Connection, token: &str, head: i64) -> Result<Option<Self>, StoreError> {
        let mut parts = token.strip_prefix("p.").map(|t| t.split('.')).into_iter().flatten();
        let (Some(page), Some(since), Some(start), Some(after), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let (Ok(page), Ok(after)) = (page.parse::<u32>(), after.parse::<i64>()) else { return Ok(None) };
        // Only the service makes these tokens, and never for page 0.
        if page == 0 || page == u32::MAX || after < 0 {
            return Ok(None);
        }
        let since = match since {
            "x" => None,
            s => match s.parse::<i64>() {
                Ok(s) => Some(s),
                Err(_) => return Ok(None),
            },
        };
        // The page sequence's own cursors must still belong to this history.
        if known(c, start, head)?.is_none() || since.is_some_and(|s| s > head) {
            return Ok(None);
        }
        Ok(Some(Self { page, since, head: start.to_string(), after }))
    }
}

impl Store {
    /// The feed since `since`, at most `limit` entries and removed keys together: a delta when the
    /// cursor is one this history issued, otherwise (no cursor, or a
    /// foreign one) a snapshot. When `more` is set, pass the returned
    /// cursor to get the next page; the last page's cursor is the log
    /// position the sequence started at, so changes made while paging come
    /// in the next delta.
    pub fn credential_feed(&self, since: Option<&str>, limit: usize) -> Result<Feed, StoreError> {
        let limit = limit.clamp(1, 100_000);
        self.read(|c| {
            let head = changes::head(c)?;
            let go_on = match since {
                Some(t) => Continuation::parse(c, t, head)?,
                None => None,
            };
            let go_on = match go_on {
                Some(g) => g,
                None => {
                    let from = match since {
                        Some(s) => known(c, s, head)?,
                        None => None,
                    };
                    Continuation { page: 0, since: from, head: cursor_at(c, head)?, after: 0 }
                }
            };
            let mut rows = entries(c, go_on.since, go_on.after, limit + 1)?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let cursor = match rows.last() {
                Some((_, last)) if more => {
                    let since = go_on.since.map_or_else(|| "x".to_string(), |s| s.to_string());
                    format!("p.{}.{since}.{}.{last}", go_on.page.saturating_add(1), go_on.head)
                }
                _ => go_on.head.clone(),
            };
            let (mut entries, mut removed) = (Vec::with_capacity(rows.len()), Vec::new());
            for (row, _) in rows {
                match row {
                    Row::Entry(e) => entries.push(e),
                    Row::Removed(k) => removed.push(k),
                }
            }
            Ok(Feed {
                kind: if go_on.since.is_some() { FeedKind::Delta } else { FeedKind::Snapshot },
                page: go_on.page,
                more,
                cursor,
                entries,
                removed,
            })
        })
    }
}
