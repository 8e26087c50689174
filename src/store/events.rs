//! The access-event log: every door decision, durably, without making the
//! door wait on its own fsync.
//!
//! Events live in their own database file (`events.db` beside `idms.db`),
//! so door traffic never contends with staff writes for the main database's
//! write lock. One writer thread owns the connection and commits in groups:
//! it takes every event queued while the previous commit was in flight and
//! writes them in one `synchronous=FULL` transaction, so concurrent
//! decisions share one fsync. A submitter is told only after its event is
//! durable. The queue is bounded; when it is full, [`EventLog::submit`]
//! refuses at once rather than dropping or blocking.
//!
//! Events hold the UID, door, decision and user ID — never personal data.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

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
CREATE INDEX IF NOT EXISTS access_events_at ON access_events(at);
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

/// Called once the events are durable (with how many were new), or failed.
pub type Done = Box<dyn FnOnce(Result<usize, StoreError>) + Send>;

struct Job {
    events: Vec<AccessEvent>,
    done: Done,
}

/// The queue was full: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the access-event queue is full; retry shortly")]
pub struct QueueFull;

/// The group-commit writer of the access-event log.
#[derive(Debug)]
pub struct EventLog {
    tx: Option<SyncSender<Job>>,
    depth: Arc<AtomicUsize>,
    handle: Option<JoinHandle<()>>,
    path: PathBuf,
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

const MAX_GROUP: usize = 4096;

fn write_group(conn: &mut Connection, jobs: &[Job]) -> Result<Vec<usize>, StoreError> {
    let tx = conn.transaction()?;
    let mut counts = Vec::with_capacity(jobs.len());
    {
        let mut stmt = tx.prepare_cached(
            "INSERT OR IGNORE INTO access_events (at, controller, event_id, door, technology, uid, decision, reason, user_id, online)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for job in jobs {
            let mut n = 0;
            for e in &job.events {
                n += stmt.execute(params![
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
                ])?;
            }
            counts.push(n);
        }
    }
    tx.commit()?;
    Ok(counts)
}

fn run(mut conn: Connection, rx: &Receiver<Job>, depth: &AtomicUsize) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        depth.fetch_sub(jobs.len(), Ordering::Relaxed);
        match write_group(&mut conn, &jobs) {
            Ok(counts) => {
                for (job, n) in jobs.into_iter().zip(counts) {
                    (job.done)(Ok(n));
                }
            }
            Err(e) => {
                tracing::error!(code = e.code(), events = jobs.len(), "access events not written");
                for job in jobs {
                    (job.done)(Err(StoreError::Database));
                }
            }
        }
    }
}

impl EventLog {
    /// Opens (creating) the events database in `dir` and starts the writer
    /// with room for `capacity` queued submissions.
    pub fn open(dir: &Path, capacity: usize) -> Result<Self, StoreError> {
        let path = dir.join(EVENTS_FILE);
        let conn = connect(&path)?;
        let (tx, rx) = sync_channel::<Job>(capacity);
        let depth = Arc::new(AtomicUsize::new(0));
        let d = depth.clone();
        let handle = std::thread::Builder::new()
            .name("idms-events".into())
            .spawn(move || run(conn, &rx, &d))
            .map_err(|e| StoreError::Io(format!("cannot start the event writer: {e}")))?;
        Ok(Self { tx: Some(tx), depth, handle: Some(handle), path })
    }

    /// Queues events; `done` runs once they are durable.
    pub fn submit(&self, events: Vec<AccessEvent>, done: Done) -> Result<(), QueueFull> {
        let Some(tx) = &self.tx else { return Err(QueueFull) };
        self.depth.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(Job { events, done }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                Err(QueueFull)
            }
        }
    }

    /// Submissions waiting for the writer.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// The events database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting events, writes what is queued, and waits for the writer.
    pub fn close(&mut self) {
        self.tx = None;
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
