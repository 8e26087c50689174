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
mod columns;
mod credentials;
pub mod directory;
pub mod error;
pub mod events;
pub mod feed;
pub mod levels;
pub mod purge;
pub mod records;
pub mod schema;
pub mod scrub;
mod seed;
pub mod sessions;
pub mod tokens;
mod users;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

pub use audit::{AuditDraft, AuditEntry, AuditQuery, AuditReport, BadEntry};
pub use auth::{Controller, Operator, Principal, Role};
pub use credentials::Twin;
pub use error::StoreError;
pub use events::{AccessEvent, EventLog, QueueFull};
pub use feed::{Feed, FeedEntry, FeedKey, FeedKind, FeedLevel, FeedRules, FeedScope};
pub use purge::{EraseReport, JobState, NotErased, PeopleQuery, PurgeJob, PurgeOutcome, PurgePlan, Skipped, Step};
pub use records::{
    BindingRecord, CredentialRecord, CredentialSummary, HeldBinding, HeldCredential, NewUser, Stats, UserPatch,
    UserRecord, UserSummary,
};
pub use seed::SeedReport;
pub use tokens::TokenSet;
pub use users::{Cursor, check_new_user};

use crate::clock::Clock;
use crate::domain::{Change, DomainError, Origin, Timestamp, UserId};
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
    /// The org unit the actor's writes are held to (a scoped operator's):
    /// every write that targets a person checks, inside its own
    /// transaction, that the person is of this unit — else `not_found`,
    /// audited. The rule layer checks first, for its answer; this check
    /// closes the gap between that read and the write (the person may have
    /// moved units in between).
    pub unit: Option<String>,
}

impl Actor {
    /// A staff actor.
    #[must_use]
    pub fn staff(id: impl Into<String>) -> Self {
        Self { id: id.into(), origin: Origin::Staff, unit: None }
    }

    /// The identity directory.
    #[must_use]
    pub fn directory(id: impl Into<String>) -> Self {
        Self { id: id.into(), origin: Origin::Directory, unit: None }
    }

    /// Refused (`forbidden`) when the actor is held to a unit and a bulk
    /// action's `unit` is not that one: the store's own guard behind the
    /// rule layer's, for writes that select people by a query rather than
    /// name one.
    pub(crate) fn check_reach(&self, unit: Option<&str>) -> Result<(), DomainError> {
        match self.unit.as_deref().map(str::trim) {
            None => Ok(()),
            Some(mine) if !mine.is_empty() && unit.map(str::trim) == Some(mine) => Ok(()),
            Some(_) => {
                Err(DomainError::Forbidden { message: "a scoped operator acts on people of their unit only".into() })
            }
        }
    }

    /// The same actor, its writes held to `unit`.
    #[must_use]
    pub fn in_unit(mut self, unit: Option<String>) -> Self {
        self.unit = unit;
        self
    }
}

/// The write in progress: the transaction, its time, and what it will audit.
pub(crate) struct Tx<'c> {
    pub(crate) conn: rusqlite::Transaction<'c>,
    pub(crate) now: Timestamp,
    pub(crate) audit: AuditDraft,
    changes: Vec<(i64, Change)>,
    /// Set by a write that only shows what it would do (a dry run): it is
    /// rolled back, unaudited, and the index sees nothing.
    pub(crate) dry_run: bool,
}

impl Tx<'_> {
    /// Opens a savepoint: what follows can be undone alone
    /// ([`Tx::rollback_to`]), change-log entries included.
    pub(crate) fn savepoint(&mut self) -> Result<usize, StoreError> {
        self.conn.execute_batch("SAVEPOINT part")?;
        Ok(self.changes.len())
    }

    /// Keeps what was written since the savepoint.
    pub(crate) fn release(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("RELEASE part")?;
        Ok(())
    }

    /// Undoes everything since the savepoint `mark` came from.
    pub(crate) fn rollback_to(&mut self, mark: usize) -> Result<(), StoreError> {
        self.conn.execute_batch("ROLLBACK TO part; RELEASE part")?;
        self.changes.truncate(mark);
        Ok(())
    }

    /// Appends a change to the log; the index sees it once the write commits.
    pub(crate) fn change(&mut self, c: Change) -> Result<(), StoreError> {
        changes::append(&self.conn, self.now, &c)?;
        self.changes.push((self.conn.last_insert_rowid(), c));
        Ok(())
    }
}

/// Refused as `not_found` (as if missing, so a scope does not reveal who
/// exists) when `actor` is held to a unit and `user` is not of it.
fn check_unit(conn: &Connection, actor: &Actor, user: Option<UserId>) -> Result<(), StoreError> {
    let (Some(unit), Some(user)) = (actor.unit.as_deref(), user) else { return Ok(()) };
    let theirs: Option<Option<String>> = conn
        .prepare_cached("SELECT org_unit FROM users WHERE id = ?1")?
        .query_row([user.as_i64()], |r| r.get(0))
        .optional()?;
    match theirs {
        Some(Some(u)) if !unit.trim().is_empty() && u.trim() == unit.trim() => Ok(()),
        _ => Err(DomainError::NotFound { what: "user", id: user.to_string() }.into()),
    }
}

/// The store: the database plus the decision index it keeps current.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Built on first use (a CLI command that never decides never pays for it).
    index: OnceLock<Index>,
    /// Live tokens and enabled holders, built on first use like the index.
    tokens: OnceLock<TokenSet>,
    /// Read transactions begun ([`Store::reads`]).
    reads: AtomicU64,
    /// An expunge committed but its WAL checkpoint could not complete yet.
    erasure_pending: AtomicBool,
    clock: Arc<dyn Clock>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Compiled statements kept per connection. The store prepares about 220
/// distinct statements (`prepare_cached`), and rusqlite keeps 16 by
/// default: past that, the least recently used is compiled again on every
/// use — with the triggers of the tables it writes, which is what made a
/// purge job three times slower once schema 9 added its statements to the
/// expunge path.
pub(crate) const STATEMENT_CACHE: usize = 512;

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
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
    /// Creates the database if missing (and its directory, `0700`: it
    /// holds personal data), migrates it, and builds the index. Only
    /// `idms init` and tests create; everything else [`Store::open`]s, so a
    /// mistyped data directory never becomes an empty database.
    pub fn create(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir).map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dir.display())))?;
        }
        Self::open_with(path, clock, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)
    }

    /// Opens an existing database (migrating it if this build is newer);
    /// `not_initialised`, naming the directory, when there is none.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        if !path.exists() {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            return Err(StoreError::NotInitialised(dir.to_path_buf()));
        }
        Self::open_with(path, clock, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    fn open_with(path: &Path, clock: Arc<dyn Clock>, flags: OpenFlags) -> Result<Self, StoreError> {
        let mut writer = connect(path, flags)?;
        restrict_permissions(path)?;
        schema::migrate(&mut writer)?;
        let reader = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(vec![reader]),
            index: OnceLock::new(),
            tokens: OnceLock::new(),
            reads: AtomicU64::new(0),
            erasure_pending: AtomicBool::new(false),
            clock,
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The decision index, built from the tables on first use.
    ///
    /// # Errors
    /// Building reads the whole credential table; a database error then is
    /// returned (and the build is tried again on the next call).
    pub fn try_index(&self) -> Result<&Index, StoreError> {
        if let Some(i) = self.index.get() {
            return Ok(i);
        }
        // Build under the writer lock: no write of this process can commit
        // between the snapshot and the moment writes start applying to it.
        let _w = lock(&self.writer);
        if let Some(i) = self.index.get() {
            return Ok(i);
        }
        let built = {
            let pooled = lock(&self.readers).pop();
            let mut conn = match pooled {
                Some(c) => c,
                None => connect(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE)?,
            };
            let built = build_index(&mut conn);
            lock(&self.readers).push(conn);
            built?
        };
        Ok(self.index.get_or_init(|| built))
    }

    /// The decision index (built now if it was not yet). A store whose
    /// index cannot be built answers every door with `unknown_credential`
    /// until it can; the error is logged.
    #[must_use]
    pub fn index(&self) -> &Index {
        static EMPTY: OnceLock<Index> = OnceLock::new();
        match self.try_index() {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(code = e.code(), "decision index could not be built");
                EMPTY.get_or_init(Index::default)
            }
        }
    }

    /// The token set, built from the tables on first use (under the writer
    /// lock, so no write of this process commits between its snapshot and
    /// the moment writes start catching it up).
    ///
    /// # Errors
    /// A database error while building (tried again on the next call).
    pub fn try_tokens(&self) -> Result<&TokenSet, StoreError> {
        if let Some(t) = self.tokens.get() {
            return Ok(t);
        }
        let _w = lock(&self.writer);
        if let Some(t) = self.tokens.get() {
            return Ok(t);
        }
        let now = self.clock.now();
        let built = self.read(|c| TokenSet::build(c, now))?;
        Ok(self.tokens.get_or_init(|| built))
    }

    /// Who holds the token with this SHA-256 now (live, unexpired, holder
    /// enabled), and when it expires. Answered from memory once the token
    /// set is built: an unknown token costs no SQLite read.
    pub fn token_holder(&self, hash: &[u8; 32], now: Timestamp) -> Result<Option<tokens::Held>, StoreError> {
        Ok(self.try_tokens()?.lookup(hash, now))
    }

    /// How many read transactions this store has begun: a test asserts a
    /// path does not read SQLite by seeing this unchanged.
    #[must_use]
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// The store's clock.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Runs `f` on a reader connection inside one read transaction (a
    /// consistent snapshot).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
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
            let pending = match self.index.get() {
                Some(i) => changes::read_since(&tx, i.applied_seq(), u32::MAX)?,
                None => Vec::new(),
            };
            let mut w = Tx { conn: tx, now, audit: draft, changes: pending, dry_run: false };
            // A target known before the write is checked before it; one the
            // write found (a card's holder) after it, before the commit.
            let known = w.audit.target_user;
            let done =
                check_unit(&w.conn, actor, known).and_then(|()| f(&mut w)).and_then(|v| match w.audit.target_user {
                    found if found != known => check_unit(&w.conn, actor, found).map(|()| v),
                    _ => Ok(v),
                });
            match done {
                // Rolled back as the transaction drops; the pending entries of
                // other processes reach the index with the next catch-up.
                Ok(v) if w.dry_run => Ok(v),
                Ok(v) => {
                    audit::append(&w.conn, now, &actor.id, &w.audit, "ok")?;
                    // The rules as this write leaves them, read before the commit.
                    let rules = match self.index.get() {
                        Some(_) if w.changes.iter().any(|(_, c)| matches!(c, Change::Rules { .. })) => {
                            Some((changes::head(&w.conn)?, levels::load_rules(&w.conn)?))
                        }
                        _ => None,
                    };
                    w.conn.commit()?;
                    if let Some(i) = self.index.get() {
                        i.apply_with(w.changes.iter().map(|(s, c)| (*s, c)), rules);
                    }
                    Ok(v)
                }
                Err(e) => Err((e, w.audit)),
            }
        };
        match outcome {
            Ok(v) => {
                self.catch_up_tokens_on(&mut conn, now);
                Ok(v)
            }
            Err((e, draft)) => {
                if e.is_refusal() {
                    // The refusal is what the caller must hear, even if auditing it fails.
                    let audited = conn
                        .transaction_with_behavior(TransactionBehavior::Immediate)
                        .map_err(StoreError::from)
                        .and_then(|tx| {
                            audit::append(&tx, now, &actor.id, &draft, e.code())?;
                            Ok(tx.commit()?)
                        });
                    if let Err(ae) = audited {
                        tracing::error!(code = ae.code(), refused = e.code(), "a refusal could not be audited");
                    }
                }
                Err(e)
            }
        }
    }

    /// Applies change-log entries written by other processes. The service
    /// calls this periodically; it never blocks door decisions for long.
    pub fn catch_up(&self) -> Result<usize, StoreError> {
        if self.erasure_pending() {
            self.retry_erasure()?;
        }
        let index = self.try_index()?;
        let (entries, rules) = self.read(|c| {
            let entries = changes::read_since(c, index.applied_seq(), 10_000)?;
            let rules = match entries.iter().any(|(_, c)| matches!(c, Change::Rules { .. })) {
                true => Some((changes::head(c)?, levels::load_rules(c)?)),
                false => None,
            };
            Ok((entries, rules))
        })?;
        let n = entries.len();
        index.apply_with(entries.iter().map(|(s, c)| (*s, c)), rules);
        if let Some(t) = self.tokens.get() {
            let now = self.clock.now();
            self.read(|c| t.catch_up(c, now))?;
        }
        Ok(n)
    }

    /// After a write of this process: the token set takes in what it (and
    /// anything committed before it) changed, before the write returns. A
    /// failure is logged; the next catch-up retries.
    fn catch_up_tokens_on(&self, conn: &mut Connection, now: Timestamp) {
        let Some(t) = self.tokens.get() else { return };
        let done = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(StoreError::from)
            .and_then(|tx| t.catch_up(&tx, now));
        if let Err(e) = done {
            tracing::error!(code = e.code(), "the token set could not take in a write");
        }
    }

    /// Moves the WAL's contents into the database file and truncates the
    /// WAL, so overwritten personal data survives in neither. Returns
    /// `false` when a reader of another connection still holds an old
    /// snapshot: the erasure is then pending until [`Store::retry_erasure`]
    /// (the service retries on every change-log tick).
    pub(crate) fn checkpoint(&self) -> Result<bool, StoreError> {
        checkpoint_locked(&lock(&self.writer), &self.erasure_pending)
    }

    /// Whether an expunge since the last [`Store::scrub`] may have left
    /// older copies of erased rows in unused page space.
    pub fn scrub_pending(&self) -> Result<bool, StoreError> {
        self.read(|c| Ok(c.query_row("SELECT pending_since IS NOT NULL FROM scrub WHERE id = 1", [], |r| r.get(0))?))
    }

    /// Whether erased data may still be in the WAL (an expunge's checkpoint
    /// could not complete yet).
    #[must_use]
    pub fn erasure_pending(&self) -> bool {
        self.erasure_pending.load(Ordering::SeqCst)
    }

    /// Tries the pending checkpoint again; `true` once the WAL is clean.
    pub fn retry_erasure(&self) -> Result<bool, StoreError> {
        self.checkpoint()
    }

    /// Audits a refusal that happened before any store operation ran (a
    /// malformed UID or ID at the boundary), so refused attempts are all on
    /// the record.
    pub fn audit_refusal(&self, actor: &Actor, draft: AuditDraft, code: &str) -> Result<(), StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        audit::append(&tx, self.clock.now(), &actor.id, &draft, code)?;
        tx.commit()?;
        Ok(())
    }

    /// Audits several refusals in one transaction (see [`Store::audit_refusal`]).
    pub fn audit_refusals(&self, entries: &[(Actor, AuditDraft, &str)]) -> Result<(), StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = self.clock.now();
        for (actor, draft, code) in entries {
            audit::append(&tx, now, &actor.id, draft, code)?;
        }
        tx.commit()?;
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

    /// Copies the database, consistently, to `dest` (a new file, mode 0600)
    /// while the store stays in use, and audits it. A backup holds the
    /// personal data of its moment: people expunged later are still in it,
    /// so backups need the same care, and an expiry.
    pub fn backup(&self, actor: &Actor, dest: &Path) -> Result<(), StoreError> {
        if dest.exists() {
            return Err(crate::domain::DomainError::InvalidInput {
                field: "to",
                message: "the backup file exists; choose a new name".into(),
            }
            .into());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(dest)
                .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dest.display())))?;
        }
        let copied = (|| -> Result<(), StoreError> {
            let src = connect(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
            let mut dst = Connection::open(dest)?;
            // All pages in one step: one read snapshot, which WAL lets writers go on beside.
            rusqlite::backup::Backup::new(&src, &mut dst)?.run_to_completion(i32::MAX, Duration::ZERO, None)?;
            // A single self-contained file: no WAL beside it.
            let _: String = dst.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
            Ok(())
        })();
        if let Err(e) = copied {
            let _ = std::fs::remove_file(dest);
            return Err(e);
        }
        let mut draft = AuditDraft::new("store.backup");
        draft.detail = "full".into();
        self.write(actor, draft, |_| Ok(()))
    }

    /// Tests: the database file may grow to `pages` pages at most (`None`:
    /// no limit), so a write that needs more fails as on a full disk.
    #[doc(hidden)]
    pub fn inject_full_disk(&self, pages: Option<u64>) -> Result<(), StoreError> {
        let w = lock(&self.writer);
        w.query_row(&format!("PRAGMA max_page_count = {}", pages.unwrap_or(u64::from(u32::MAX - 1))), [], |_| Ok(()))?;
        Ok(())
    }

    /// A cheap liveness check of the database (for `/readyz`).
    pub fn integrity_quick(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(drop)?))
    }

    /// The `PRAGMA synchronous` level of the writer (2 = FULL).
    pub fn synchronous(&self) -> Result<i64, StoreError> {
        Ok(lock(&self.writer).query_row("PRAGMA synchronous", [], |r| r.get(0))?)
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

/// `PRAGMA wal_checkpoint(TRUNCATE)` on the writer; records whether erased
/// data may still be in the WAL.
fn checkpoint_locked(conn: &Connection, pending: &AtomicBool) -> Result<bool, StoreError> {
    conn.busy_timeout(Duration::from_millis(500))?;
    let r = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0));
    conn.busy_timeout(Duration::from_secs(10))?;
    let done = r? == 0;
    pending.store(!done, Ordering::SeqCst);
    if !done {
        tracing::warn!("WAL checkpoint after an expunge could not complete: another connection holds an old snapshot");
    }
    Ok(done)
}

/// The database holds personal data: only its owner may read it. SQLite
/// gives the `-wal` and `-shm` files the database file's permissions.
fn restrict_permissions(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::Io(format!("cannot restrict {}: {e}", path.display())))?;
    }
    Ok(())
}

/// Builds the index from one consistent snapshot of the tables, remembering
/// the change-log position that snapshot reflects.
fn build_index(conn: &mut Connection) -> Result<Index, StoreError> {
    use crate::domain::{Change, UserId, ValidityWindow};
    /// Rows go to the builder's thread in batches of this many.
    const BATCH: usize = 8192;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
    let seq = changes::head(&tx)?;
    let (users, creds): (i64, i64) = tx.query_row(
        // Capacity hints (expunged people included): a count without a filter reads the smallest index.
        "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM credentials)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (users, creds) = (usize::try_from(users).unwrap_or(0), usize::try_from(creds).unwrap_or(0));
    // Two cores' worth: this thread reads the tables while another applies
    // what it read, in the order read (people before their cards and levels).
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<Change>>(16);
    let (read, built) = std::thread::scope(|scope| {
        let builder = scope.spawn(move || {
            let mut b = IndexBuilder::with_capacity(users, creds);
            for batch in receive {
                for change in &batch {
                    b.change(change);
                }
            }
            b
        });
        let read = (|| -> Result<(), StoreError> {
            let mut batch = Vec::with_capacity(BATCH);
            let mut put = |c: Change| {
                batch.push(c);
                if batch.len() == BATCH {
                    // A builder gone (it panicked) is reported at its join.
                    let _ = send.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                }
            };
            {
                let mut stmt =
                    tx.prepare("SELECT id, state, valid_from, valid_to FROM users WHERE state <> 'expunged'")?;
                let mut rows = stmt.query([])?;
                while let Some(r) = rows.next()? {
                    put(Change::User {
                        id: UserId::from_i64(r.get(0)?),
                        state: columns::user_state(r, 1)?,
                        window: ValidityWindow {
                            from: r.get::<_, Option<i64>>(2)?.map(Timestamp),
                            to: r.get::<_, Option<i64>>(3)?.map(Timestamp),
                        },
                    });
                }
            }
            {
                let mut stmt = tx.prepare(
                    "SELECT c.technology, c.uid, c.state, b.user_id FROM credentials c
                     LEFT JOIN bindings b ON b.credential_id = c.id AND b.closed_at IS NULL",
                )?;
                let mut rows = stmt.query([])?;
                while let Some(r) = rows.next()? {
                    put(Change::Credential {
                        technology: columns::technology(r, 0)?,
                        uid: columns::uid(r, 1)?,
                        state: columns::credential_state(r, 2)?,
                        holder: r.get::<_, Option<i64>>(3)?.map(UserId::from_i64),
                    });
                }
            }
            levels::load_holders(&tx, &mut put)?;
            let _ = send.send(batch);
            Ok(())
        })();
        // Whatever happened, the builder ends once the sender is gone.
        drop(send);
        (read, builder.join())
    });
    read?;
    let mut b = built.map_err(|_| StoreError::Io("the index builder thread panicked".into()))?;
    b.rules(levels::load_rules(&tx)?);
    drop(tx);
    Ok(b.finish(seq))
}
