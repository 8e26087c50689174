//! The access-event log: every door decision, durably, without making the
//! door wait on its own fsync.
//!
//! Events live in their own database file (`events.db` beside `idms.db`),
//! so door traffic never contends with staff writes for the main database's
//! write lock. One writer thread owns the connection and commits in groups:
//! it takes every event queued while the previous commit was in flight and
//! writes them in one `synchronous=FULL` transaction, so concurrent
//! decisions share one fsync. A submitter gets a ticket and is answered
//! only once the writer reports that ticket durable; one report serves the
//! whole group (no per-event callback, allocation or wake-up from the
//! writer). The queue is bounded; when it is full, [`EventLog::submit`]
//! refuses at once rather than dropping or blocking. Rows carry their
//! `rowid` in time order, so the table needs no index on time.
//!
//! Events hold the UID, door, decision and user ID — never personal data.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};

use crate::domain::{Decision, Technology, Timestamp, Uid, UserId};
use crate::store::StoreError;

/// The events database's file name.
pub const EVENTS_FILE: &str = "events.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS access_events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    controller  INTEGER,
    event_id    TEXT,
    door        TEXT NOT NULL,
    technology  TEXT,
    uid         BLOB NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('grant','deny')),
    reason      TEXT,
    user_id     INTEGER,
    online      INTEGER NOT NULL CHECK (online IN (0, 1))
);
CREATE UNIQUE INDEX IF NOT EXISTS access_events_upload ON access_events(controller, event_id) WHERE event_id IS NOT NULL;
";

/// One decision, made online by the service or offline by a controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEvent {
    /// When it was decided.
    pub at: Timestamp,
    /// The controller that asked (or decided offline).
    pub controller: Option<i64>,
    /// The controller's own event ID (uploads; idempotency key).
    pub event_id: Option<String>,
    /// The door.
    pub door: String,
    /// Technology, when known.
    pub technology: Option<Technology>,
    /// The UID presented.
    pub uid: Uid,
    /// The answer.
    pub decision: Decision,
    /// The holder, when the credential had one.
    pub user_id: Option<UserId>,
    /// Decided by the service (`true`) or offline by the controller.
    pub online: bool,
}

/// Called once a batch is durable, with how many of its events were new.
pub type Done = Box<dyn FnOnce(usize) + Send>;

/// Called by the writer after each group commit with the highest ticket
/// that is now durable (every lower ticket is durable too).
pub type OnDurable = Box<dyn Fn(u64) + Send + Sync>;

/// The queue was full (or the log is closing): try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the access-event queue is full; retry shortly")]
pub struct QueueFull;

enum Item {
    Online(AccessEvent),
    Batch(Vec<AccessEvent>, Done),
}

#[derive(Default)]
struct Queue {
    items: Vec<Item>,
    next_ticket: u64,
    closed: bool,
    writer_waiting: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    capacity: usize,
}

/// The group-commit writer of the access-event log.
///
/// [`EventLog::submit`] queues one online decision and returns its ticket;
/// the writer drains the whole queue, writes it in one transaction, and
/// reports the highest durable ticket through the `on_durable` hook. A
/// failed commit is retried (with back-off) with the same events, so an
/// event is never dropped; while the disk refuses, the queue fills and
/// submitters are refused.
pub struct EventLog {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog").field("path", &self.path).field("depth", &self.depth()).finish()
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    let _: String = c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    c.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    c.execute_batch(SCHEMA)?;
    Ok(c)
}

fn insert(stmt: &mut rusqlite::CachedStatement<'_>, e: &AccessEvent) -> Result<usize, StoreError> {
    Ok(stmt.execute(params![
        e.at.0,
        e.controller,
        e.event_id,
        e.door,
        e.technology.map(Technology::as_str),
        e.uid.as_bytes(),
        e.decision.as_str(),
        e.decision.reason().map(|r| r.code()),
        e.user_id.map(UserId::as_i64),
        e.online,
    ])?)
}

/// Writes a group in one transaction; returns the new-event count of each batch.
fn write_group(conn: &mut Connection, items: &[Item]) -> Result<Vec<usize>, StoreError> {
    let tx = conn.transaction()?;
    let mut counts = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "INSERT OR IGNORE INTO access_events (at, controller, event_id, door, technology, uid, decision, reason, user_id, online)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for item in items {
            match item {
                Item::Online(e) => drop(insert(&mut stmt, e)?),
                Item::Batch(events, _) => {
                    let mut n = 0;
                    for e in events {
                        n += insert(&mut stmt, e)?;
                    }
                    counts.push(n);
                }
            }
        }
    }
    tx.commit()?;
    Ok(counts)
}

fn run(mut conn: Connection, shared: &Shared, on_durable: &OnDurable) {
    let mut items = Vec::new();
    loop {
        let upto = {
            let mut q = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            while q.items.is_empty() && !q.closed {
                q.writer_waiting = true;
                q = shared.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
            }
            q.writer_waiting = false;
            if q.items.is_empty() {
                return; // closed and drained
            }
            std::mem::swap(&mut q.items, &mut items);
            q.next_ticket
        };
        let mut backoff = Duration::from_millis(10);
        let counts = loop {
            match write_group(&mut conn, &items) {
                Ok(c) => break c,
                Err(e) => {
                    tracing::error!(code = e.code(), events = items.len(), "access events not written yet; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        };
        on_durable(upto);
        let mut counts = counts.into_iter();
        for item in items.drain(..) {
            if let Item::Batch(_, done) = item {
                done(counts.next().unwrap_or(0));
            }
        }
    }
}

impl EventLog {
    /// Opens (creating) the events database in `dir` and starts the writer,
    /// with room for `capacity` queued items.
    pub fn open(dir: &Path, capacity: usize, on_durable: OnDurable) -> Result<Self, StoreError> {
        let path = dir.join(EVENTS_FILE);
        let conn = connect(&path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| StoreError::Io(format!("cannot restrict {}: {e}", path.display())))?;
        }
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), wake: Condvar::new(), capacity });
        let s = shared.clone();
        let handle = std::thread::Builder::new()
            .name("idms-events".into())
            .spawn(move || run(conn, &s, &on_durable))
            .map_err(|e| StoreError::Io(format!("cannot start the event writer: {e}")))?;
        Ok(Self { shared, handle: Some(handle), path })
    }

    fn push(&self, item: Item) -> Result<u64, QueueFull> {
        let mut q = self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if q.closed || q.items.len() >= self.shared.capacity {
            return Err(QueueFull);
        }
        if matches!(item, Item::Online(_)) {
            q.next_ticket += 1;
        }
        let ticket = q.next_ticket;
        q.items.push(item);
        let wake = q.writer_waiting;
        drop(q);
        if wake {
            self.shared.wake.notify_one();
        }
        Ok(ticket)
    }

    /// Queues one online decision; it is durable once the `on_durable` hook
    /// reports a ticket at or above the one returned.
    pub fn submit(&self, event: AccessEvent) -> Result<u64, QueueFull> {
        self.push(Item::Online(event))
    }

    /// Queues uploaded events; `done` runs once they are durable.
    pub fn submit_batch(&self, events: Vec<AccessEvent>, done: Done) -> Result<(), QueueFull> {
        self.push(Item::Batch(events, done)).map(drop)
    }

    /// Items waiting for the writer.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner).items.len()
    }

    /// The events database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting events, writes what is queued, and waits for the writer.
    pub fn close(&mut self) {
        self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        self.shared.wake.notify_one();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// How many events the log holds (for tests and tools).
pub fn count(dir: &Path) -> Result<i64, StoreError> {
    let c = connect(&dir.join(EVENTS_FILE))?;
    Ok(c.query_row("SELECT COUNT(*) FROM access_events", [], |r| r.get(0))?)
}
