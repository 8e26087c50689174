//! SQLite persistence: schema, transactions, the change log, the audit
//! chain and the access-event log.
//!
//! **Architecture invariants:**
//! - One writer connection, serialised by a mutex and `BEGIN IMMEDIATE`
//!   (which also serialises writers in other processes); readers use their
//!   own connections under WAL.
//! - Every operation is exactly one transaction: its rows, its change-log
//!   entries and its audit entry commit together or not at all. A refused
//!   operation rolls back and is then audited, alone, with its error code.
//! - Every committed write updates the [`Index`] before it returns: inside
//!   the write transaction the writer reads log entries other processes
//!   committed since the index last caught up, appends its own, and after
//!   the commit applies them all in log order.
//! - Every connection runs with `foreign_keys=ON`, `secure_delete=ON`,
//!   `synchronous=FULL` (an acknowledged write survives power loss).
//! - This layer knows nothing of HTTP.

pub mod audit;
pub mod auth;
pub mod changes;
mod credentials;
pub mod error;
pub mod events;
pub mod feed;
pub mod records;
pub mod schema;
mod seed;
mod users;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use audit::{AuditDraft, AuditEntry, AuditQuery, AuditReport, BadEntry};
pub use auth::{Controller, Operator, Principal, Role};
pub use error::StoreError;
pub use events::{AccessEvent, EventLog, QueueFull};
pub use feed::{Feed, FeedEntry, FeedKind};
pub use records::{
    BindingRecord, CredentialRecord, HeldCredential, NewUser, Stats, UserPatch, UserRecord, UserSummary,
};
pub use seed::SeedReport;

use crate::clock::Clock;
use crate::domain::{Change, Origin, Timestamp};
use crate::index::{Index, IndexBuilder};

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "idms.db";

/// Who performs an action, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// A stable identifier: `cli`, `operator:<id>`, `controller:<id>`, …
    pub id: String,
    /// Staff or directory.
    pub origin: Origin,
}

impl Actor {
    /// A staff actor.
    #[must_use]
    pub fn staff(id: impl Into<String>) -> Self {
        Self { id: id.into(), origin: Origin::Staff }
    }

    /// The identity directory.
    #[must_use]
    pub fn directory(id: impl Into<String>) -> Self {
        Self { id: id.into(), origin: Origin::Directory }
    }
}

/// The write in progress: the transaction, its time, and what it will audit.
pub(crate) struct Tx<'c> {
    pub(crate) conn: rusqlite::Transaction<'c>,
    pub(crate) now: Timestamp,
    pub(crate) audit: AuditDraft,
    changes: Vec<(i64, Change)>,
}

impl Tx<'_> {
    /// Appends a change to the log; the index sees it once the write commits.
    pub(crate) fn change(&mut self, c: Change) -> Result<(), StoreError> {
        changes::append(&self.conn, self.now, &c)?;
        self.changes.push((self.conn.last_insert_rowid(), c));
        Ok(())
    }
}

/// The store: the database plus the decision index it keeps current.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    index: Index,
    clock: Arc<dyn Clock>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::error!(mode, "could not switch the database to WAL");
        return Err(StoreError::Database);
    }
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA synchronous = FULL;
         PRAGMA cache_size = -16384;",
    )?;
    Ok(conn)
}

impl Store {
    /// Creates the database if missing, migrates it, and builds the index.
    pub fn create(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dir.display())))?;
        }
        Self::open_with(path, clock, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)
    }

    /// Opens an existing database (migrating it if this build is newer).
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::NotInitialised(path.to_path_buf()));
        }
        Self::open_with(path, clock, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    fn open_with(path: &Path, clock: Arc<dyn Clock>, flags: OpenFlags) -> Result<Self, StoreError> {
        let mut writer = connect(path, flags)?;
        schema::migrate(&mut writer)?;
        let mut reader = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let index = build_index(&mut reader)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(vec![reader]),
            index,
            clock,
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The decision index.
    #[must_use]
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The store's clock.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Runs `f` on a reader connection inside one read transaction (a
    /// consistent snapshot).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = lock(&self.readers).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => connect(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE)?,
        };
        let out = {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let out = f(&tx);
            // A read transaction has nothing to commit; ending it frees the snapshot.
            drop(tx);
            out
        };
        let mut pool = lock(&self.readers);
        if pool.len() < 8 {
            pool.push(conn);
        }
        out
    }

    /// Runs `f` as one write transaction, audited as `draft` (which `f` may
    /// complete), and brings the index up to date before returning.
    pub(crate) fn write<T>(
        &self,
        actor: &Actor,
        draft: AuditDraft,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.writer);
        let now = self.clock.now();
        let outcome = {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Entries other processes committed since the index last caught up.
            let pending = changes::read_since(&tx, self.index.applied_seq(), u32::MAX)?;
            let mut w = Tx { conn: tx, now, audit: draft, changes: pending };
            match f(&mut w) {
                Ok(v) => {
                    audit::append(&w.conn, now, &actor.id, &w.audit, "ok")?;
                    w.conn.commit()?;
                    self.index.apply(w.changes.iter().map(|(s, c)| (*s, c)));
                    Ok(v)
                }
                Err(e) => Err((e, w.audit)),
            }
        };
        match outcome {
            Ok(v) => Ok(v),
            Err((e, draft)) => {
                if e.is_refusal() {
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    audit::append(&tx, now, &actor.id, &draft, e.code())?;
                    tx.commit()?;
                }
                Err(e)
            }
        }
    }

    /// Applies change-log entries written by other processes. The service
    /// calls this periodically; it never blocks door decisions for long.
    pub fn catch_up(&self) -> Result<usize, StoreError> {
        let entries = self.read(|c| changes::read_since(c, self.index.applied_seq(), 10_000))?;
        let n = entries.len();
        self.index.apply(entries.iter().map(|(s, c)| (*s, c)));
        Ok(n)
    }

    /// Moves the WAL's contents into the database file and truncates the
    /// WAL, so overwritten personal data survives in neither.
    pub(crate) fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = lock(&self.writer);
        let (busy, _log, _done): (i64, i64, i64) =
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        if busy != 0 {
            tracing::warn!("WAL checkpoint could not complete: a reader holds an old snapshot; it will complete later");
        }
        Ok(())
    }

    /// Walks the audit chain.
    pub fn verify_audit(&self) -> Result<AuditReport, StoreError> {
        self.read(audit::verify)
    }

    /// Lists audit entries.
    pub fn audit_entries(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|c| audit::list(c, q))
    }

    /// A cheap liveness check of the database (for `/readyz`).
    pub fn integrity_quick(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(drop)?))
    }

    /// Runs `PRAGMA integrity_check`; `Ok(())` when the database is sound.
    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

/// Builds the index from one consistent snapshot of the tables, remembering
/// the change-log position that snapshot reflects.
fn build_index(conn: &mut Connection) -> Result<Index, StoreError> {
    use crate::domain::{CredentialState, Technology, Uid, UserId, UserState, ValidityWindow};
    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
    let seq = changes::head(&tx)?;
    let (users, creds): (i64, i64) = tx.query_row(
        "SELECT (SELECT COUNT(*) FROM users WHERE state <> 'expunged'), (SELECT COUNT(*) FROM credentials)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut b = IndexBuilder::with_capacity(usize::try_from(users).unwrap_or(0), usize::try_from(creds).unwrap_or(0));
    {
        let mut stmt = tx.prepare("SELECT id, state, valid_from, valid_to FROM users WHERE state <> 'expunged'")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let state = r.get_ref(1)?.as_str().map_err(|_| StoreError::Corrupt("user state"))?;
            b.user(
                UserId::from_i64(r.get(0)?),
                UserState::from_name(state).ok_or(StoreError::Corrupt("user state"))?,
                ValidityWindow {
                    from: r.get::<_, Option<i64>>(2)?.map(Timestamp),
                    to: r.get::<_, Option<i64>>(3)?.map(Timestamp),
                },
            );
        }
    }
    {
        let mut stmt = tx.prepare(
            "SELECT c.technology, c.uid, c.state, b.user_id FROM credentials c
             LEFT JOIN bindings b ON b.credential_id = c.id AND b.closed_at IS NULL",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let tech = r.get_ref(0)?.as_str().map_err(|_| StoreError::Corrupt("technology"))?;
            let uid = r.get_ref(1)?.as_blob().map_err(|_| StoreError::Corrupt("uid"))?;
            let state = r.get_ref(2)?.as_str().map_err(|_| StoreError::Corrupt("credential state"))?;
            b.credential(
                Technology::from_name(tech).map_err(|_| StoreError::Corrupt("technology"))?,
                Uid::from_bytes(uid).map_err(|_| StoreError::Corrupt("uid"))?,
                CredentialState::from_name(state).ok_or(StoreError::Corrupt("credential state"))?,
                r.get::<_, Option<i64>>(3)?.map(UserId::from_i64),
            );
        }
    }
    drop(tx);
    Ok(b.finish(seq))
}
