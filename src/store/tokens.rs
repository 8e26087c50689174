//! The token set: every live bearer token's SHA-256 with its holder, and
//! every enabled operator and controller, in memory — so a request with an
//! unknown token is answered without touching SQLite, and a known one too.
//!
//! Rules it keeps:
//! - Built from one snapshot of `tokens`, `operators`, `controllers` and
//!   `controller_doors`, together with the `auth_log` position that
//!   snapshot reflects (the log is written by triggers, so every path that
//!   changes those tables — this process, the CLI, a hand edit — logs it).
//! - Kept current in log order: a write of this process catches the set up
//!   before it returns (a revocation, a disable or a logout is in force at
//!   once); [`crate::store::Store::catch_up`] (the service's tailer) brings in other
//!   processes' changes. Each catch-up reads the log and the rows it names
//!   from one snapshot taken after the previous catch-up finished, so the
//!   set never goes back to an older state.
//! - A token is accepted only while it is unrevoked, unexpired (checked on
//!   every look-up against the caller's clock) and its holder enabled.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::Timestamp;
use crate::store::StoreError;
use crate::store::auth::{Controller, Operator, Principal, Role};

/// Whose token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Holder {
    Operator(i64),
    Controller(i64),
}

impl Holder {
    fn of(operator: Option<i64>, controller: Option<i64>) -> Result<Self, StoreError> {
        match (operator, controller) {
            (Some(o), None) => Ok(Self::Operator(o)),
            (None, Some(c)) => Ok(Self::Controller(c)),
            _ => Err(StoreError::Corrupt("token holder")),
        }
    }
}

/// A token's holder as a principal, and when the token expires.
pub type Held = (Arc<Principal>, Option<Timestamp>);

/// A token row: its SHA-256 and what the set keeps of it.
type Row = ([u8; 32], Live);

/// A live token: its ID, holder and expiry.
#[derive(Debug, Clone, Copy)]
struct Live {
    id: i64,
    holder: Holder,
    expires: Option<Timestamp>,
}

#[derive(Default)]
struct Known {
    /// The `auth_log` position this reflects.
    applied: i64,
    by_hash: HashMap<[u8; 32], Live>,
    /// Token ID → hash, to drop a token the log names.
    hash_of: HashMap<i64, [u8; 32]>,
    /// Enabled holders only: a disabled or unknown one is absent.
    holders: HashMap<Holder, Arc<Principal>>,
    /// When expired tokens were last dropped (seconds).
    pruned: i64,
}

impl Known {
    fn put_token(&mut self, hash: [u8; 32], live: Live) {
        if let Some(old) = self.hash_of.insert(live.id, hash) {
            self.by_hash.remove(&old);
        }
        self.by_hash.insert(hash, live);
    }

    fn drop_token(&mut self, id: i64) {
        if let Some(h) = self.hash_of.remove(&id) {
            self.by_hash.remove(&h);
        }
    }

    fn prune(&mut self, now: Timestamp) {
        if now.0 - self.pruned < 60 {
            return;
        }
        self.pruned = now.0;
        let by_hash = &mut self.by_hash;
        self.hash_of.retain(|_, h| {
            let keep = by_hash.get(h).is_some_and(|l| l.expires.is_none_or(|e| e > now));
            if !keep {
                by_hash.remove(h);
            }
            keep
        });
    }
}

/// The live tokens and enabled holders (see the module documentation).
#[derive(Default)]
pub struct TokenSet {
    known: RwLock<Known>,
    /// Held across a catch-up's reads and its update, so catch-ups apply
    /// snapshots in the order they were taken.
    sync: Mutex<()>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Counts only: token hashes are not for logs.
        let k = self.known.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("TokenSet")
            .field("applied", &k.applied)
            .field("tokens", &k.by_hash.len())
            .field("holders", &k.holders.len())
            .finish()
    }
}

/// At most this many log entries per read.
const BATCH: u32 = 10_000;

impl TokenSet {
    /// Builds the set from one snapshot (`conn` is inside a read transaction).
    pub(crate) fn build(conn: &Connection, now: Timestamp) -> Result<Self, StoreError> {
        let mut k = Known { applied: head(conn)?, pruned: now.0, ..Known::default() };
        let mut stmt = conn.prepare(
            "SELECT id, hash, operator_id, controller_id, expires_at FROM tokens
             WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)",
        )?;
        let mut rows = stmt.query([now.0])?;
        while let Some(r) = rows.next()? {
            let (hash, live) = live_token(r)?;
            k.put_token(hash, live);
        }
        let mut stmt = conn.prepare("SELECT id, name, role, org_unit FROM operators WHERE disabled_at IS NULL")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let op = operator(r)?;
            k.holders.insert(Holder::Operator(op.id), Arc::new(Principal::Operator(op)));
        }
        let ids: Vec<i64> = conn
            .prepare("SELECT id FROM controllers WHERE disabled_at IS NULL")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for id in ids {
            if let Some(p) = load_holder(conn, Holder::Controller(id))? {
                k.holders.insert(Holder::Controller(id), Arc::new(p));
            }
        }
        Ok(Self { known: RwLock::new(k), sync: Mutex::new(()) })
    }

    /// Who holds the token with this SHA-256, and when it expires — if it
    /// is live, unexpired at `now` and its holder enabled. Never touches
    /// SQLite.
    #[must_use]
    pub fn lookup(&self, hash: &[u8; 32], now: Timestamp) -> Option<Held> {
        let k = self.known.read().unwrap_or_else(PoisonError::into_inner);
        let live = k.by_hash.get(hash).filter(|l| l.expires.is_none_or(|e| e > now))?;
        k.holders.get(&live.holder).map(|p| (p.clone(), live.expires))
    }

    /// How many live tokens the set holds (expired ones until pruned).
    #[must_use]
    pub fn len(&self) -> usize {
        self.known.read().unwrap_or_else(PoisonError::into_inner).by_hash.len()
    }

    /// Whether the set holds no token.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies the auth log after the set's position. `conn` is inside a
    /// deferred read transaction whose snapshot has not started yet (its
    /// first read happens here, after the sync lock is held). Answers how
    /// many log entries were applied.
    pub(crate) fn catch_up(&self, conn: &Connection, now: Timestamp) -> Result<usize, StoreError> {
        let _sync = self.sync.lock().unwrap_or_else(PoisonError::into_inner);
        let mut total = 0;
        loop {
            let from = self.known.read().unwrap_or_else(PoisonError::into_inner).applied;
            let n = self.apply_batch(conn, from, now)?;
            total += n;
            if n < BATCH as usize {
                return Ok(total);
            }
        }
    }

    fn apply_batch(&self, conn: &Connection, from: i64, now: Timestamp) -> Result<usize, StoreError> {
        let mut stmt = conn.prepare_cached(
            "SELECT seq, token_id, operator_id, controller_id FROM auth_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let entries = stmt
            .query_map(params![from, BATCH], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let Some(last) = entries.last().map(|e| e.0) else { return Ok(0) };
        let mut tokens = HashSet::new();
        let mut holders = HashSet::new();
        for (_, token, operator, controller) in &entries {
            if let Some(t) = token {
                tokens.insert(*t);
            }
            if let Some(o) = operator {
                holders.insert(Holder::Operator(*o));
            }
            if let Some(c) = controller {
                holders.insert(Holder::Controller(*c));
            }
        }
        let tokens: Vec<(i64, Option<Row>)> =
            tokens.into_iter().map(|id| Ok((id, load_token(conn, id, now)?))).collect::<Result<_, StoreError>>()?;
        let holders: Vec<(Holder, Option<Principal>)> =
            holders.into_iter().map(|h| Ok((h, load_holder(conn, h)?))).collect::<Result<_, StoreError>>()?;
        let mut k = self.known.write().unwrap_or_else(PoisonError::into_inner);
        for (id, found) in tokens {
            match found {
                Some((hash, live)) => k.put_token(hash, live),
                None => k.drop_token(id),
            }
        }
        for (h, found) in holders {
            match found {
                Some(p) => k.holders.insert(h, Arc::new(p)),
                None => k.holders.remove(&h),
            };
        }
        k.applied = last;
        k.prune(now);
        Ok(entries.len())
    }
}

/// The newest `auth_log` position, or 0.
fn head(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM auth_log", [], |r| r.get(0))?)
}

fn live_token(r: &rusqlite::Row<'_>) -> Result<Row, StoreError> {
    let hash: Vec<u8> = r.get(1)?;
    let hash: [u8; 32] = hash.try_into().map_err(|_| StoreError::Corrupt("token hash"))?;
    let live = Live {
        id: r.get(0)?,
        holder: Holder::of(r.get(2)?, r.get(3)?)?,
        expires: r.get::<_, Option<i64>>(4)?.map(Timestamp),
    };
    Ok((hash, live))
}

/// Token `id` if it is live (unrevoked, unexpired at `now`).
fn load_token(conn: &Connection, id: i64, now: Timestamp) -> Result<Option<Row>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, hash, operator_id, controller_id, expires_at FROM tokens
         WHERE id = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)",
    )?;
    let mut rows = stmt.query(params![id, now.0])?;
    rows.next()?.map(live_token).transpose()
}

fn operator(r: &rusqlite::Row<'_>) -> Result<Operator, StoreError> {
    let role: String = r.get(2)?;
    let role = Role::from_name(&role).map_err(|_| StoreError::Corrupt("role"))?;
    Ok(Operator { id: r.get(0)?, name: r.get(1)?, role, org_unit: r.get(3)? })
}

/// An enabled holder as a principal; `None` when disabled or gone.
fn load_holder(conn: &Connection, h: Holder) -> Result<Option<Principal>, StoreError> {
    match h {
        Holder::Operator(id) => {
            let mut stmt = conn.prepare_cached(
                "SELECT id, name, role, org_unit FROM operators WHERE id = ?1 AND disabled_at IS NULL",
            )?;
            let mut rows = stmt.query([id])?;
            rows.next()?.map(|r| operator(r).map(Principal::Operator)).transpose()
        }
        Holder::Controller(id) => {
            let name: Option<String> = conn
                .prepare_cached("SELECT name FROM controllers WHERE id = ?1 AND disabled_at IS NULL")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let Some(name) = name else { return Ok(None) };
            let doors = conn
                .prepare_cached("SELECT door FROM controller_doors WHERE controller_id = ?1 ORDER BY door")?
                .query_map([id], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(Some(Principal::Controller(Controller { id, name, doors })))
        }
    }
}
