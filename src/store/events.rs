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
//! refuses at once rather than dropping or blocking.
//!
//! Reading ([`query`]) walks two streams and merges them by time: online
//! groups in write order — `(group id, index in group)` —, and uploads in
//! `(at, id)` order. A group's `high` (the latest event time of it and of
//! every group before it) only grows, so the first group that can hold an
//! event at or after a time is one index probe away; a group whose first
//! event is earlier than some group before it (the clock stepped back) is
//! marked `back`, and only marked groups can hold events older than the
//! groups around them — so the end of a time range is found in the index
//! too. The paging cursor is a position in both streams, stable across
//! groups and across writes.
//!
//! Pruning ([`prune`]) deletes whole groups and uploads older than a cutoff
//! in bounded batches that the writer runs inside its own group commits
//! (no second writer contends with the doors). Each batch adds its count to
//! a ledger row in the same transaction; the caller audits the ledger's
//! total in `idms.db`, then settles it, so a crash between the two is
//! audited at the next prune instead of lost.
//!
//! Events hold the UID, door, decision and user ID — never personal data.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::domain::{Decision, DenyReason, Technology, Timestamp, Uid, UserId};
use crate::store::{Actor, AuditDraft, Store, StoreError};

/// The events database's file name.
pub const EVENTS_FILE: &str = "events.db";

const V1: &str = "
-- Online decisions, packed: one row per group commit, holding its events
-- in the record format of `encode` (one row per event cost more CPU than
-- all the rest of a door request).
CREATE TABLE IF NOT EXISTS access_event_groups (
    id       INTEGER PRIMARY KEY,
    first_at INTEGER NOT NULL,
    last_at  INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    records  BLOB NOT NULL
);
-- Decisions controllers made offline and uploaded: one row each, unique
-- per (controller, event_id) so a re-upload is idempotent.
CREATE TABLE IF NOT EXISTS access_events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    controller  INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    door        TEXT NOT NULL,
    technology  TEXT,
    uid         BLOB NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('grant','deny')),
    reason      TEXT,
    user_id     INTEGER,
    UNIQUE (controller, event_id)
);
";

/// Version 2: reading and pruning by time (see the module documentation).
/// Existing groups get `high` and `back` from their order.
const V2: &str = "
ALTER TABLE access_event_groups ADD COLUMN high INTEGER NOT NULL DEFAULT 0;
ALTER TABLE access_event_groups ADD COLUMN back INTEGER NOT NULL DEFAULT 0;
UPDATE access_event_groups SET high = r.high, back = r.back
  FROM (SELECT id,
               MAX(last_at) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) AS high,
               COALESCE(first_at < MAX(last_at) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS back
          FROM access_event_groups) AS r
 WHERE r.id = access_event_groups.id;
CREATE INDEX access_event_groups_high ON access_event_groups (high);
CREATE INDEX access_event_groups_back ON access_event_groups (first_at) WHERE back;
CREATE INDEX access_events_at ON access_events (at);
-- Events pruned but not yet audited in idms.db (at most one row).
CREATE TABLE prune_ledger (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    before INTEGER NOT NULL,
    count  INTEGER NOT NULL
);
";

/// Version 3: uploads that never lose an event. Each upload records when
/// it was received (`received_at`; rows from before get their own time)
/// and, when the controller stamped it ahead of the service's clock, the
/// time it claimed (`claimed_at`, while `at` holds the time it was
/// received). Rejected and conflicting events are kept in a bounded
/// quarantine; each controller's last upload and measured clock skew.
const V3: &str = "
ALTER TABLE access_events ADD COLUMN received_at INTEGER;
ALTER TABLE access_events ADD COLUMN claimed_at INTEGER;
UPDATE access_events SET received_at = at;
CREATE INDEX access_events_received ON access_events (received_at);
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    controller  INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('rejected','conflict')),
    code        TEXT NOT NULL,
    field       TEXT,
    event_id    TEXT,
    event       TEXT NOT NULL
);
CREATE INDEX quarantine_received ON quarantine (received_at);
CREATE TABLE controller_contact (
    controller  INTEGER PRIMARY KEY,
    last_upload INTEGER NOT NULL,
    skew_secs   INTEGER,
    skew_at     INTEGER
);
";

/// Version 4: the quarantine by controller. Its bound is per controller,
/// counted in the doors' writer on every group with a refused event, and
/// staff page it by controller: neither may read the whole quarantine.
const V4: &str = "
CREATE INDEX quarantine_controller ON quarantine (controller, id);
";

/// The events database's migrations, in order; `PRAGMA user_version` is
/// how many have run. Files from before versioning are at 0 with the
/// version-1 tables already there (`IF NOT EXISTS`).
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Runs the migrations `conn`'s file has not had yet, in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version = |c: &Connection| c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0));
    if version(conn)? == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found = version(&tx)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found, known: SCHEMA_VERSION });
    }
    for m in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
        tx.execute_batch(m)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

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
    /// When the service received it (uploads; `None` for online decisions,
    /// received when they were made).
    pub received_at: Option<Timestamp>,
    /// The time the controller stamped, when its clock was not trusted
    /// (more than 600 s ahead of the service's, or skewed either way by
    /// more than that): `at` is then the time it is stored at.
    pub claimed_at: Option<Timestamp>,
}

impl AccessEvent {
    /// How far ahead of the time it is stored at the controller stamped it
    /// (its clock ran ahead).
    #[must_use]
    pub fn clock_ahead_secs(&self) -> Option<i64> {
        self.claimed_at.map(|c| c.0 - self.at.0).filter(|s| *s > 0)
    }

    /// How far behind the time it is stored at the controller stamped it
    /// (its clock ran behind).
    #[must_use]
    pub fn clock_behind_secs(&self) -> Option<i64> {
        self.claimed_at.map(|c| self.at.0 - c.0).filter(|s| *s > 0)
    }
}

/// Why one event of an upload was refused (its stable code, and the field
/// at fault when one is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The stable code (`invalid_input`, `uid_wrong_length`, `forbidden`, …).
    pub code: &'static str,
    /// The field at fault.
    pub field: Option<&'static str>,
}

/// One event of an upload as the rule layer checked it.
#[derive(Debug, Clone)]
pub struct UploadItem {
    /// The event as the controller sent it (compact JSON, at most
    /// [`RAW_MAX`] bytes), kept if it is quarantined.
    pub raw: String,
    /// Its event ID, if it had a readable one.
    pub event_id: Option<String>,
    /// The event to store, or why it is refused.
    pub checked: Result<AccessEvent, Refusal>,
}

/// The most of an event's text the quarantine keeps.
pub const RAW_MAX: usize = 2048;

/// The most events the quarantine holds for one controller; beyond it
/// that controller's event is reported not quarantined, and it keeps the
/// event and sends it again later. Per controller, so one controller
/// (compromised, or a firmware bug) never takes the others' room; the whole
/// quarantine is bounded by this times the controllers an admin registered.
pub const QUARANTINE_MAX: i64 = 10_000;

/// An upload of offline decisions from one controller.
#[derive(Debug)]
pub struct Upload {
    /// The controller.
    pub controller: i64,
    /// When the service received it.
    pub received_at: Timestamp,
    /// The controller's clock minus the service's, when the controller
    /// said what its clock read (`sent_at`).
    pub skew_secs: Option<i64>,
    /// The events, in the order sent.
    pub items: Vec<UploadItem>,
}

impl Upload {
    /// An upload of events already checked (tools, tests and imports): each
    /// received at its own `received_at`, else at `received_at`.
    #[must_use]
    pub fn of_events(controller: i64, received_at: Timestamp, events: Vec<AccessEvent>) -> Self {
        let items = events
            .into_iter()
            .map(|e| UploadItem { raw: String::new(), event_id: e.event_id.clone(), checked: Ok(e) })
            .collect();
        Self { controller, received_at, skew_secs: None, items }
    }
}

/// What became of one uploaded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored now.
    Accepted,
    /// Already stored, the same (a re-sent batch).
    Duplicate,
    /// Its event ID is stored with different content: the stored one
    /// stands, this one is quarantined (unless the quarantine is full).
    Conflict {
        /// Kept in the quarantine.
        quarantined: bool,
    },
    /// Refused; quarantined unless the quarantine is full.
    Rejected {
        /// Kept in the quarantine.
        quarantined: bool,
    },
}

/// Called once an upload is durable, with each event's outcome, in order.
pub type Done = Box<dyn FnOnce(Vec<Outcome>) + Send>;

/// Called by the writer after each group commit with the highest ticket
/// that is now durable (every lower ticket is durable too).
pub type OnDurable = Box<dyn Fn(u64) + Send + Sync>;

/// The queue was full (or the log is closing): try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the access-event queue is full; retry shortly")]
pub struct QueueFull;

/// Maintenance the writer runs after its next group commit, in a
/// transaction of its own: a door's event never waits inside a prune's
/// commit, and a failed step is reported to its caller, never retried in
/// front of the doors.
#[derive(Debug, Clone, Copy)]
enum Maint {
    /// Delete up to `rows` rows (groups and uploads) whose every event is
    /// older than `before`, adding the count to the ledger.
    Prune { before: i64, rows: usize },
    /// `count` pruned events are audited: take them off the ledger.
    Settle { count: u64 },
}

/// Called once a maintenance step is durable (with the ledger after it) or failed.
type MaintDone = Box<dyn FnOnce(Result<Ledger, StoreError>) + Send>;

/// Pruned events not yet settled, after a maintenance step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Ledger {
    /// The latest cutoff pruned with.
    before: i64,
    /// Events pruned and not yet settled.
    count: u64,
    /// Whether the step's batch was full (more may be left to prune).
    more: bool,
}

enum Item {
    Online(AccessEvent),
    Batch(Arc<Upload>, Done),
    Maint(Maint, MaintDone),
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
    commit_delay: Duration,
    /// Set while a commit keeps failing (disk full, read-only, corrupt).
    failing: std::sync::atomic::AtomicBool,
    /// Called when commits start failing (the service refuses its waiting doors at once).
    on_failing: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Tests: every commit fails as on a full disk while set.
    fault: std::sync::atomic::AtomicBool,
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
    /// Each controller's last request, by controller ID (in memory: a
    /// door's request never waits on a write for it).
    contacts: Mutex<std::collections::HashMap<i64, Timestamp>>,
    handle: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog").field("path", &self.path).field("depth", &self.depth()).finish()
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    connect_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)
}

fn connect_with(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let mut c = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    c.set_prepared_statement_cache_capacity(super::STATEMENT_CACHE);
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    let _: String = c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    // Pruned movement history is zeroed on disk, not left in free pages.
    c.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;")?;
    migrate(&mut c)?;
    Ok(c)
}

/// A connection for reading: read-only when the file is at this build's
/// version (no pragma, no migration on the read path), upgraded first
/// only when it is older; a newer file is refused.
fn reader(path: &Path) -> Result<Connection, StoreError> {
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    c.set_prepared_statement_cache_capacity(super::STATEMENT_CACHE);
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    match c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? {
        v if v == SCHEMA_VERSION => Ok(c),
        v if v > SCHEMA_VERSION => Err(StoreError::SchemaTooNew { found: v, known: SCHEMA_VERSION }),
        _ => {
            drop(c);
            connect_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        }
    }
}

/// Record format version of [`encode`].
const RECORD_V1: u8 = 1;

/// Appends one online event to a group's packed records:
/// `1 | at i64 | controller i64 (0: none) | user i64 (0: none) |
/// decision u8 (0 grant, n: the n-th of DenyReason::ALL) |
/// technology u8 (0 none, 1 iso14443a, 2 em4100, 3 other) |
/// uid len u8 | uid | door len u8 | door`, integers little-endian.
pub fn encode(out: &mut Vec<u8>, e: &AccessEvent) {
    out.push(RECORD_V1);
    out.extend_from_slice(&e.at.0.to_le_bytes());
    out.extend_from_slice(&e.controller.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&e.user_id.map_or(0, UserId::as_i64).to_le_bytes());
    out.push(match e.decision {
        Decision::Grant => 0,
        Decision::Deny(r) => DenyReason::ALL.iter().position(|x| *x == r).map_or(0, |i| i as u8 + 1),
    });
    out.push(match e.technology {
        None => 0,
        Some(Technology::Iso14443a) => 1,
        Some(Technology::Em4100) => 2,
        Some(Technology::Other) => 3,
    });
    out.push(e.uid.len() as u8);
    out.extend_from_slice(e.uid.as_bytes());
    let door = &e.door.as_bytes()[..e.door.len().min(255)];
    out.push(door.len() as u8);
    out.extend_from_slice(door);
}

/// Reads back the records of one group.
pub fn decode(mut b: &[u8]) -> Result<Vec<AccessEvent>, StoreError> {
    let bad = || StoreError::Corrupt("access-event record");
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (h, t) = (b.get(..n)?, b.get(n..)?);
        *b = t;
        Some(h)
    }
    let i64_of = |s: &[u8]| s.try_into().map(i64::from_le_bytes).map_err(|_| bad());
    let mut out = Vec::new();
    while !b.is_empty() {
        let head = take(&mut b, 27).ok_or_else(bad)?;
        if head[0] != RECORD_V1 {
            return Err(bad());
        }
        let at = i64_of(&head[1..9])?;
        let controller = i64_of(&head[9..17])?;
        let user = i64_of(&head[17..25])?;
        let decision = match head[25] {
            0 => Decision::Grant,
            n => Decision::Deny(*DenyReason::ALL.get(usize::from(n) - 1).ok_or_else(bad)?),
        };
        let technology = match head[26] {
            0 => None,
            1 => Some(Technology::Iso14443a),
            2 => Some(Technology::Em4100),
            3 => Some(Technology::Other),
            _ => return Err(bad()),
        };
        let n = usize::from(*take(&mut b, 1).ok_or_else(bad)?.first().ok_or_else(bad)?);
        let uid = Uid::from_bytes(take(&mut b, n).ok_or_else(bad)?).map_err(|_| bad())?;
        let n = usize::from(*take(&mut b, 1).ok_or_else(bad)?.first().ok_or_else(bad)?);
        let door = String::from_utf8(take(&mut b, n).ok_or_else(bad)?.to_vec()).map_err(|_| bad())?;
        out.push(AccessEvent {
            at: Timestamp(at),
            controller: (controller != 0).then_some(controller),
            event_id: None,
            door,
            technology,
            uid,
            decision,
            user_id: (user != 0).then(|| UserId::from_i64(user)),
            online: true,
            received_at: None,
            claimed_at: None,
        });
    }
    Ok(out)
}

/// What the writer knows of the groups table: the latest event time of
/// every group so far (the next group's `high` starts from it).
#[derive(Debug, Clone, Copy, Default)]
struct Tail {
    high: Option<i64>,
}

impl Tail {
    fn load(conn: &Connection) -> Result<Self, StoreError> {
        Ok(Self { high: conn.query_row("SELECT MAX(high) FROM access_event_groups", [], |r| r.get(0))? })
    }
}

/// Writes a group in one transaction: the online events as one packed
/// row, each uploaded event as its own row (maintenance steps are not
/// written here). Returns each upload's outcomes, in order, and the new
/// tail.
fn write_group(
    conn: &mut Connection,
    items: &[Item],
    buf: &mut Vec<u8>,
    tail: Tail,
) -> Result<(Vec<Vec<Outcome>>, Tail), StoreError> {
    let tx = conn.transaction()?;
    let mut outcomes = Vec::new();
    let mut tail = tail;
    buf.clear();
    let (mut n, mut first, mut last) = (0i64, i64::MAX, i64::MIN);
    for item in items {
        if let Item::Online(e) = item {
            encode(buf, e);
            n += 1;
            first = first.min(e.at.0);
            last = last.max(e.at.0);
        }
    }
    if n > 0 {
        let high = tail.high.map_or(last, |h| h.max(last));
        let back = tail.high.is_some_and(|h| first < h);
        tx.prepare_cached(
            "INSERT INTO access_event_groups (first_at, last_at, count, records, high, back)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![first, last, n, &buf[..], high, back])?;
        tail.high = Some(high);
    }
    let mut quarantined = std::collections::HashMap::new();
    for item in items {
        if let Item::Batch(upload, _) = item {
            outcomes.push(write_upload(&tx, upload, &mut quarantined)?);
        }
    }
    tx.commit()?;
    Ok((outcomes, tail))
}

/// Writes one upload inside the group's transaction: each event stored,
/// found the same (duplicate) or found different (conflict) under its
/// `(controller, event_id)`, each refused or conflicting one quarantined
/// while the controller's share has room, and the controller's contact and
/// skew. `held` counts each controller's quarantined events, read once per
/// group.
fn write_upload(
    tx: &Connection,
    u: &Upload,
    held: &mut std::collections::HashMap<i64, i64>,
) -> Result<Vec<Outcome>, StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO access_events
            (at, controller, event_id, door, technology, uid, decision, reason, user_id, received_at, claimed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (controller, event_id) DO NOTHING",
    )?;
    let mut same = tx.prepare_cached(
        "SELECT COALESCE(claimed_at, at) = ?3 AND door = ?4 AND technology IS ?5 AND uid = ?6
                AND decision = ?7 AND reason IS ?8 AND user_id IS ?9
           FROM access_events WHERE controller = ?1 AND event_id = ?2",
    )?;
    let mut out = Vec::with_capacity(u.items.len());
    for (position, item) in u.items.iter().enumerate() {
        let refusal = match &item.checked {
            Ok(e) => {
                let claimed = e.claimed_at.unwrap_or(e.at);
                let (technology, reason) =
                    (e.technology.map(Technology::as_str), e.decision.reason().map(|r| r.code()));
                let user = e.user_id.map(UserId::as_i64);
                let stored = insert.execute(params![
                    e.at.0,
                    u.controller,
                    e.event_id,
                    e.door,
                    technology,
                    e.uid.as_bytes(),
                    e.decision.as_str(),
                    reason,
                    user,
                    e.received_at.unwrap_or(u.received_at).0,
                    e.claimed_at.map(|t| t.0),
                ])?;
                if stored == 1 {
                    out.push(Outcome::Accepted);
                    continue;
                }
                let unchanged: bool = same.query_row(
                    params![
                        u.controller,
                        e.event_id,
                        claimed.0,
                        e.door,
                        technology,
                        e.uid.as_bytes(),
                        e.decision.as_str(),
                        reason,
                        user
                    ],
                    |r| r.get(0),
                )?;
                if unchanged {
                    out.push(Outcome::Duplicate);
                    continue;
                }
                Refusal { code: "conflict", field: Some("event_id") }
            }
            Err(r) => r.clone(),
        };
        let count = match held.get(&u.controller) {
            Some(n) => *n,
            None => {
                tx.query_row("SELECT COUNT(*) FROM quarantine WHERE controller = ?1", [u.controller], |r| r.get(0))?
            }
        };
        let kept = count < QUARANTINE_MAX;
        let conflict = refusal.code == "conflict";
        if kept {
            tx.prepare_cached(
                "INSERT INTO quarantine (received_at, controller, position, status, code, field, event_id, event)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                u.received_at.0,
                u.controller,
                i64::try_from(position).unwrap_or(i64::MAX),
                if conflict { "conflict" } else { "rejected" },
                refusal.code,
                refusal.field,
                item.event_id,
                item.raw,
            ])?;
        }
        held.insert(u.controller, count + i64::from(kept));
        out.push(if conflict {
            Outcome::Conflict { quarantined: kept }
        } else {
            Outcome::Rejected { quarantined: kept }
        });
    }
    tx.prepare_cached(
        "INSERT INTO controller_contact (controller, last_upload, skew_secs, skew_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (controller) DO UPDATE SET last_upload = MAX(last_upload, excluded.last_upload),
             skew_secs = COALESCE(excluded.skew_secs, skew_secs), skew_at = COALESCE(excluded.skew_at, skew_at)",
    )?
    .execute(params![u.controller, u.received_at.0, u.skew_secs, u.skew_secs.map(|_| u.received_at.0)])?;
    Ok(out)
}

/// One maintenance step in its own transaction.
fn maintain(conn: &mut Connection, m: Maint) -> Result<Ledger, StoreError> {
    let tx = conn.transaction()?;
    let ledger = maintain_in(&tx, m)?;
    tx.commit()?;
    Ok(ledger)
}

fn maintain_in(tx: &Connection, m: Maint) -> Result<Ledger, StoreError> {
    let mut more = false;
    match m {
        Maint::Prune { before, rows } => {
            let limit = i64::try_from(rows).unwrap_or(i64::MAX);
            // Whole groups older than the cutoff: the prefix by `high`,
            // then groups written after a clock step back.
            let mut events = 0i64;
            let mut deleted = 0i64;
            for sql in [
                "DELETE FROM access_event_groups WHERE id IN
                   (SELECT id FROM access_event_groups WHERE high < ?1 ORDER BY high LIMIT ?2) RETURNING count",
                "DELETE FROM access_event_groups WHERE id IN
                   (SELECT id FROM access_event_groups WHERE back AND last_at < ?1 LIMIT ?2) RETURNING count",
                // Uploads by when they arrived: a controller's clock may lag.
                "DELETE FROM access_events WHERE id IN
                   (SELECT id FROM access_events WHERE received_at < ?1 ORDER BY received_at LIMIT ?2) RETURNING 1",
            ] {
                let mut stmt = tx.prepare_cached(sql)?;
                let mut r = stmt.query(params![before, limit - deleted])?;
                while let Some(row) = r.next()? {
                    events += row.get::<_, i64>(0)?;
                    deleted += 1;
                }
                if deleted >= limit {
                    more = true;
                    break;
                }
            }
            // Quarantined events go with the uploads of their time (not
            // access events: not counted), in batches too: a full one asks
            // for another step, or the rest would outlive retention.
            let quarantined = tx
                .prepare_cached(
                    "DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine WHERE received_at < ?1 LIMIT ?2)",
                )?
                .execute(params![before, limit])?;
            if i64::try_from(quarantined).unwrap_or(i64::MAX) >= limit {
                more = true;
            }
            if events > 0 {
                tx.prepare_cached(
                    "INSERT INTO prune_ledger (id, before, count) VALUES (1, ?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET count = count + excluded.count, before = MAX(before, excluded.before)",
                )?
                .execute(params![before, events])?;
            }
        }
        Maint::Settle { count } => {
            tx.prepare_cached("UPDATE prune_ledger SET count = MAX(count - ?1, 0)")?
                .execute([i64::try_from(count).unwrap_or(i64::MAX)])?;
            tx.prepare_cached("DELETE FROM prune_ledger WHERE count = 0")?.execute([])?;
        }
    }
    let (before, count) = tx
        .prepare_cached("SELECT before, count FROM prune_ledger WHERE id = 1")?
        .query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .optional()?
        .unwrap_or((0, 0));
    Ok(Ledger { before, count: u64::try_from(count).unwrap_or(0), more })
}

/// A group this large is committed at once.
const GROUP_TARGET: usize = 32;

fn run(mut conn: Connection, mut tail: Tail, shared: &Shared, on_durable: &OnDurable) {
    let mut items = Vec::new();
    let mut buf = Vec::new();
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
            // A small group under load: give the group a moment to fill, so
            // one commit serves more decisions (fsync is fast here; the
            // commit's CPU is what costs).
            if !shared.commit_delay.is_zero() && q.items.len() < GROUP_TARGET && !q.closed {
                drop(q);
                std::thread::sleep(shared.commit_delay);
                q = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            }
            std::mem::swap(&mut q.items, &mut items);
            q.next_ticket
        };
        let mut backoff = Duration::from_millis(10);
        let outcomes = loop {
            let written = if shared.fault.load(std::sync::atomic::Ordering::Relaxed) {
                Err(StoreError::StorageFull)
            } else {
                write_group(&mut conn, &items, &mut buf, tail)
            };
            match written {
                Ok((o, t)) => {
                    tail = t;
                    break o;
                }
                Err(e) => {
                    if !shared.failing.swap(true, std::sync::atomic::Ordering::Relaxed)
                        && let Some(hook) = shared.on_failing.get()
                    {
                        hook();
                    }
                    tracing::error!(code = e.code(), events = items.len(), "access events not written yet; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        };
        shared.failing.store(false, std::sync::atomic::Ordering::Relaxed);
        on_durable(upto);
        let mut outcomes = outcomes.into_iter();
        for item in items.drain(..) {
            // Counts come in the order of the upload batches.
            match item {
                Item::Online(_) => {}
                Item::Batch(_, done) => done(outcomes.next().unwrap_or_default()),
                // After the doors' commit, each in its own transaction.
                Item::Maint(m, done) => done(maintain(&mut conn, m)),
            }
        }
    }
}

impl EventLog {
    /// Opens (creating) the events database in `dir` and starts the writer,
    /// with room for `capacity` queued items. A group smaller than 32 waits
    /// up to `commit_delay` for company before it is committed (zero: never).
    pub fn open(
        dir: &Path,
        capacity: usize,
        commit_delay: Duration,
        on_durable: OnDurable,
    ) -> Result<Self, StoreError> {
        let path = dir.join(EVENTS_FILE);
        // Owner-only before SQLite writes anything: its -wal and -shm files
        // take the database file's mode when they are created.
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .and_then(|_| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)))
                .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", path.display())))?;
        }
        let conn = connect(&path)?;
        let tail = Tail::load(&conn)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            capacity,
            commit_delay,
            failing: std::sync::atomic::AtomicBool::new(false),
            on_failing: std::sync::OnceLock::new(),
            fault: std::sync::atomic::AtomicBool::new(false),
        });
        let s = shared.clone();
        let handle = std::thread::Builder::new()
            .name("idms-events".into())
            .spawn(move || run(conn, tail, &s, &on_durable))
            .map_err(|e| StoreError::Io(format!("cannot start the event writer: {e}")))?;
        Ok(Self { shared, contacts: Mutex::default(), handle: Mutex::new(Some(handle)), path })
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

    /// Notes that `controller` was in contact at `at`.
    pub fn touch(&self, controller: i64, at: Timestamp) {
        let mut c = self.contacts.lock().unwrap_or_else(PoisonError::into_inner);
        let last = c.entry(controller).or_insert(at);
        *last = (*last).max(at);
    }

    /// Each controller's last contact since this process started, and
    /// its last upload and measured skew from the log, by controller ID.
    pub fn contacts(&self) -> Result<std::collections::HashMap<i64, Contact>, StoreError> {
        let mut out: std::collections::HashMap<i64, Contact> =
            upload_contacts(self.path.parent().unwrap_or(Path::new(".")))?
                .into_iter()
                .map(|(id, u)| (id, Contact { last_contact: Some(u.last_upload), upload: Some(u) }))
                .collect();
        for (id, at) in self.contacts.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            let c = out.entry(*id).or_insert(Contact { last_contact: None, upload: None });
            c.last_contact = c.last_contact.max(Some(*at));
        }
        Ok(out)
    }

    /// Queues one online decision; it is durable once the `on_durable` hook
    /// reports a ticket at or above the one returned.
    pub fn submit(&self, event: AccessEvent) -> Result<u64, QueueFull> {
        self.push(Item::Online(event))
    }

    /// Queues an upload; `done` runs once it is durable, with each event's
    /// outcome.
    pub fn submit_batch(&self, upload: Arc<Upload>, done: Done) -> Result<(), QueueFull> {
        self.push(Item::Batch(upload, done)).map(drop)
    }

    /// Runs one maintenance step in the writer's next group commit and
    /// waits (at most a minute) until it is durable.
    fn maint(&self, m: Maint) -> Result<Ledger, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.push(Item::Maint(
            m,
            Box::new(move |l| {
                let _ = tx.send(l);
            }),
        ))
        .map_err(|_| StoreError::Busy)?;
        rx.recv_timeout(Duration::from_secs(60)).map_err(|_| StoreError::Busy)?
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

    /// Whether commits are failing right now (the writer keeps retrying).
    #[must_use]
    pub fn failing(&self) -> bool {
        self.shared.failing.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets what runs (on the writer's thread) when commits start failing;
    /// the first call wins.
    pub fn on_failing(&self, hook: Box<dyn Fn() + Send + Sync>) {
        let _ = self.shared.on_failing.set(hook);
    }

    /// Tests: while `on`, every commit fails as on a full disk (the writer
    /// keeps the events and retries, as it does for a real one).
    #[doc(hidden)]
    pub fn inject_full_disk(&self, on: bool) {
        self.shared.fault.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stops accepting events, writes what is queued, and waits for the
    /// writer — at most 30 s; a writer still failing then is left behind
    /// (its events were never acknowledged) and `false` is returned.
    /// Callable through a shared reference, so the service can flush at
    /// its stop whoever still holds the log.
    pub fn close(&self) -> bool {
        self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        self.shared.wake.notify_one();
        let Some(h) = self.handle.lock().unwrap_or_else(PoisonError::into_inner).take() else { return true };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !h.is_finished() {
            if std::time::Instant::now() > deadline {
                tracing::error!("access-event writer did not finish; queued events were not acknowledged");
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        h.join().is_ok()
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Every event in the log (online ones unpacked), online first, each in
/// write order. For tests, tools and investigations.
pub fn read_all(dir: &Path) -> Result<Vec<AccessEvent>, StoreError> {
    let c = connect(&dir.join(EVENTS_FILE))?;
    let mut out = Vec::new();
    let mut stmt = c.prepare("SELECT records FROM access_event_groups ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        out.extend(decode(r.get_ref(0)?.as_blob().map_err(|_| StoreError::Corrupt("access-event group"))?)?);
    }
    let mut stmt = c.prepare(&format!("SELECT {UPLOAD_COLUMNS} FROM access_events ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        out.push(upload(r)?);
    }
    Ok(out)
}

/// The columns [`upload`] reads, in order.
const UPLOAD_COLUMNS: &str =
    "at, controller, event_id, door, technology, uid, decision, reason, user_id, received_at, claimed_at";

/// An uploaded event from a row of [`UPLOAD_COLUMNS`].
fn upload(r: &rusqlite::Row<'_>) -> Result<AccessEvent, StoreError> {
    let reason: Option<String> = r.get(7)?;
    Ok(AccessEvent {
        at: Timestamp(r.get(0)?),
        controller: r.get(1)?,
        event_id: r.get(2)?,
        door: r.get(3)?,
        technology: crate::store::columns::opt_technology(r, 4)?,
        uid: crate::store::columns::uid(r, 5)?,
        decision: match reason.as_deref() {
            None => Decision::Grant,
            Some(code) => Decision::Deny(DenyReason::from_code(code).ok_or(StoreError::Corrupt("reason"))?),
        },
        user_id: r.get::<_, Option<i64>>(8)?.map(UserId::from_i64),
        online: false,
        received_at: r.get::<_, Option<i64>>(9)?.map(Timestamp),
        claimed_at: r.get::<_, Option<i64>>(10)?.map(Timestamp),
    })
}

/// One quarantined event: refused, or conflicting with a stored one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Its position in the quarantine (for paging).
    pub id: i64,
    /// When its upload arrived.
    pub received_at: Timestamp,
    /// The controller that sent it.
    pub controller: i64,
    /// Its index in that upload.
    pub position: i64,
    /// `rejected` or `conflict`.
    pub status: String,
    /// Why (a stable code).
    pub code: String,
    /// The field at fault.
    pub field: Option<String>,
    /// Its event ID, when it had a readable one.
    pub event_id: Option<String>,
    /// The event as sent (compact JSON, at most [`RAW_MAX`] bytes).
    pub event: String,
}

/// Up to `limit` quarantined events after position `after`, oldest first,
/// of one controller or all.
pub fn quarantined(
    dir: &Path,
    controller: Option<i64>,
    after: i64,
    limit: usize,
) -> Result<Vec<Quarantined>, StoreError> {
    let c = reader(&dir.join(EVENTS_FILE))?;
    // One statement per case, so a controller's page reads its index.
    let mut stmt = c.prepare_cached(if controller.is_some() {
        "SELECT id, received_at, controller, position, status, code, field, event_id, event FROM quarantine
          WHERE controller = ?2 AND id > ?1 ORDER BY id LIMIT ?3"
    } else {
        "SELECT id, received_at, controller, position, status, code, field, event_id, event FROM quarantine
          WHERE id > ?1 AND ?2 IS NULL ORDER BY id LIMIT ?3"
    })?;
    let rows = stmt.query_map(params![after, controller, i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
        Ok(Quarantined {
            id: r.get(0)?,
            received_at: Timestamp(r.get(1)?),
            controller: r.get(2)?,
            position: r.get(3)?,
            status: r.get(4)?,
            code: r.get(5)?,
            field: r.get(6)?,
            event_id: r.get(7)?,
            event: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A controller's last upload and its clock skew as last measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadContact {
    /// When its last upload arrived.
    pub last_upload: Timestamp,
    /// Its clock minus the service's, in seconds, as last measured.
    pub skew_secs: Option<i64>,
    /// When the skew was measured.
    pub skew_at: Option<Timestamp>,
}

/// What the service knows of a controller's contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contact {
    /// Its last request (any door route).
    pub last_contact: Option<Timestamp>,
    /// Its last upload and measured skew.
    pub upload: Option<UploadContact>,
}

/// Every controller's [`UploadContact`], by controller ID.
pub fn upload_contacts(dir: &Path) -> Result<std::collections::HashMap<i64, UploadContact>, StoreError> {
    let c = reader(&dir.join(EVENTS_FILE))?;
    let mut stmt = c.prepare_cached("SELECT controller, last_upload, skew_secs, skew_at FROM controller_contact")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            UploadContact {
                last_upload: Timestamp(r.get(1)?),
                skew_secs: r.get(2)?,
                skew_at: r.get::<_, Option<i64>>(3)?.map(Timestamp),
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many events the log holds (online and uploaded).
pub fn count(dir: &Path) -> Result<i64, StoreError> {
    let c = connect(&dir.join(EVENTS_FILE))?;
    Ok(c.query_row(
        "SELECT (SELECT COALESCE(SUM(count), 0) FROM access_event_groups) + (SELECT COUNT(*) FROM access_events)",
        [],
        |r| r.get(0),
    )?)
}

/// The audit trail's name for the service's own pruning.
pub const PRUNE_ACTOR: &str = "system:access-events";

/// At most this many rows (groups and uploads) are deleted per commit, so
/// a prune never holds the writer (and the doors' events) for long.
pub const PRUNE_BATCH: usize = 500;

/// Deletes every online group and upload whose events are all older than
/// `before`, in batches of at most [`PRUNE_BATCH`] rows run by the log's
/// writer inside its own group commits, then audits the count in
/// `store` as one `access_events.prune` entry (`count=N before=…`; nothing
/// when nothing was pruned). Events pruned by an earlier run that stopped
/// before its audit are counted in this one. Returns the events audited.
pub fn prune(store: &Store, log: &EventLog, before: Timestamp) -> Result<u64, StoreError> {
    let mut ledger = log.maint(Maint::Prune { before: before.0, rows: PRUNE_BATCH })?;
    while ledger.more {
        // Rest as long as the batch took: the disk is the doors' half the time
        // (as purge jobs do, `jobs::run`).
        let started = std::time::Instant::now();
        ledger = log.maint(Maint::Prune { before: before.0, rows: PRUNE_BATCH })?;
        std::thread::sleep(started.elapsed());
    }
    if ledger.count == 0 {
        return Ok(0);
    }
    let mut draft = AuditDraft::new("access_events.prune");
    draft.detail = format!("count={} before={}", ledger.count, Timestamp(ledger.before));
    store.write(&Actor::staff(PRUNE_ACTOR), draft, |_| Ok(()))?;
    // Audited: off the ledger. A crash just before this audits them twice, never not at all.
    log.maint(Maint::Settle { count: ledger.count })?;
    Ok(ledger.count)
}

/// [`prune`] with the cutoff `retention_days` before the store's clock.
pub fn prune_retained(store: &Store, log: &EventLog, retention_days: u32) -> Result<u64, StoreError> {
    prune(store, log, Timestamp(store.now().0 - i64::from(retention_days) * 86_400))
}

/// Which decisions to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionFilter {
    /// Grants.
    Grant,
    /// Denials, whatever the reason.
    Deny,
    /// Denials for this reason.
    Reason(DenyReason),
}

impl DecisionFilter {
    fn matches(self, d: Decision) -> bool {
        match self {
            Self::Grant => d == Decision::Grant,
            Self::Deny => d != Decision::Grant,
            Self::Reason(r) => d == Decision::Deny(r),
        }
    }

    /// `grant`, `deny`, or the reason's code.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Deny => "deny",
            Self::Reason(r) => r.code(),
        }
    }
}

/// A position in the log: how far both streams have been read. Shown to
/// callers as an opaque string ([`Cursor::parse`] reads it back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Every group before this ID is read…
    group: i64,
    /// …and this many events of that group.
    in_group: u32,
    /// The last upload read, by `(at, id)`.
    upload: (i64, i64),
}

impl Default for Cursor {
    fn default() -> Self {
        Self { group: 0, in_group: 0, upload: (i64::MIN, 0) }
    }
}

impl Cursor {
    /// Reads a cursor written by [`Cursor`]'s `Display`; `None` if it is not one.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('.');
        let group = parts.next()?.parse::<i64>().ok().filter(|g| *g >= 0)?;
        let in_group = parts.next()?.parse().ok()?;
        let at = parts.next()?.parse().ok()?;
        let id = parts.next()?.parse::<i64>().ok().filter(|i| *i >= 0)?;
        if parts.next().is_some() {
            return None;
        }
        Some(Self { group, in_group, upload: (at, id) })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}.{}", self.group, self.in_group, self.upload.0, self.upload.1)
    }
}

/// A query of the log. Times are half-open: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only this door.
    pub door: Option<String>,
    /// Only this holder.
    pub user: Option<UserId>,
    /// Only events of these holders (an org-unit scope): events without a
    /// holder are left out too.
    pub holders: Option<HashSet<UserId>>,
    /// At or after.
    pub from: Option<Timestamp>,
    /// Before.
    pub to: Option<Timestamp>,
    /// Only these decisions.
    pub decision: Option<DecisionFilter>,
    /// Continue after this position.
    pub after: Cursor,
    /// At most this many.
    pub limit: usize,
}

impl EventQuery {
    fn matches(&self, e: &AccessEvent) -> bool {
        self.from.is_none_or(|f| e.at >= f)
            && self.to.is_none_or(|t| e.at < t)
            && self.door.as_ref().is_none_or(|d| *d == e.door)
            && self.user.is_none_or(|u| e.user_id == Some(u))
            && self.decision.is_none_or(|d| d.matches(e.decision))
            && self.holders.as_ref().is_none_or(|h| e.user_id.is_some_and(|u| h.contains(&u)))
    }
}

/// One page of events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPage {
    /// The events, merged by time.
    pub events: Vec<AccessEvent>,
    /// Where the next page starts, when more events match now.
    pub next: Option<Cursor>,
}

/// Groups (or uploads) fetched per statement while walking.
const WALK_BATCH: i64 = 64;

/// The online stream: groups in ID order, events in record order.
struct Groups<'q> {
    q: &'q EventQuery,
    /// Groups before this ID cannot hold an event at or after `from`.
    start: i64,
    /// Groups after this ID that are not marked `back` cannot hold an
    /// event before `to`.
    end: i64,
    /// Read up to here (the cursor's meaning).
    pos: (i64, u32),
    /// Past `end`: only marked groups are left.
    marked_only: bool,
    done: bool,
    /// Matching events not yet taken, with their positions.
    buf: std::collections::VecDeque<((i64, u32), AccessEvent)>,
}

impl Groups<'_> {
    fn fill(&mut self, c: &Connection) -> Result<(), StoreError> {
        let (from, to) = (self.q.from.map_or(i64::MIN, |t| t.0), self.q.to.map_or(i64::MAX, |t| t.0));
        while self.buf.is_empty() && !self.done {
            let sql = if self.marked_only {
                "SELECT id, records FROM access_event_groups
                  WHERE id >= ?1 AND id > ?2 AND back AND first_at < ?4 AND last_at >= ?3 ORDER BY id LIMIT ?5"
            } else {
                "SELECT id, records FROM access_event_groups
                  WHERE id >= ?1 AND id <= ?2 AND first_at < ?4 AND last_at >= ?3 ORDER BY id LIMIT ?5"
            };
            let mut stmt = c.prepare_cached(sql)?;
            let mut rows = stmt.query(params![self.pos.0.max(self.start), self.end, from, to, WALK_BATCH])?;
            let mut n = 0;
            while let Some(r) = rows.next()? {
                n += 1;
                let id: i64 = r.get(0)?;
                let events = decode(r.get_ref(1)?.as_blob().map_err(|_| StoreError::Corrupt("access-event group"))?)?;
                let skip = if id == self.pos.0 { self.pos.1 as usize } else { 0 };
                for (i, e) in events.into_iter().enumerate().skip(skip) {
                    if self.q.matches(&e) {
                        self.buf.push_back(((id, i as u32), e));
                    }
                }
                self.pos = (id.saturating_add(1), 0);
            }
            if n < WALK_BATCH {
                if self.marked_only || self.end == i64::MAX {
                    self.done = true;
                } else {
                    self.marked_only = true;
                }
            }
        }
        Ok(())
    }

    fn head_at(&mut self, c: &Connection) -> Result<Option<Timestamp>, StoreError> {
        self.fill(c)?;
        Ok(self.buf.front().map(|(_, e)| e.at))
    }

    /// Where a later read resumes: at the first event not taken.
    fn resume(&self) -> (i64, u32) {
        self.buf.front().map_or(self.pos, |(p, _)| *p)
    }
}

/// The upload stream, in `(at, id)` order.
struct Uploads<'q> {
    q: &'q EventQuery,
    pos: (i64, i64),
    done: bool,
    /// Matching events not yet taken, each with the position before it.
    buf: std::collections::VecDeque<((i64, i64), AccessEvent)>,
}

impl Uploads<'_> {
    fn fill(&mut self, c: &Connection) -> Result<(), StoreError> {
        let (from, to) = (self.q.from.map_or(i64::MIN, |t| t.0), self.q.to.map_or(i64::MAX, |t| t.0));
        let (decision, reason) = match self.q.decision {
            None => (None, None),
            Some(DecisionFilter::Grant) => (Some("grant"), None),
            Some(DecisionFilter::Deny) => (Some("deny"), None),
            Some(DecisionFilter::Reason(r)) => (Some("deny"), Some(r.code())),
        };
        while self.buf.is_empty() && !self.done {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {UPLOAD_COLUMNS}, id FROM access_events
                  WHERE (at, id) > (?1, ?2) AND at >= ?3 AND at < ?4
                    AND (?5 IS NULL OR door = ?5) AND (?6 IS NULL OR user_id = ?6)
                    AND (?7 IS NULL OR decision = ?7) AND (?8 IS NULL OR reason = ?8)
                  ORDER BY at, id LIMIT ?9"
            ))?;
            let mut rows = stmt.query(params![
                self.pos.0,
                self.pos.1,
                from,
                to,
                self.q.door,
                self.q.user.map(UserId::as_i64),
                decision,
                reason,
                WALK_BATCH
            ])?;
            let mut n = 0;
            while let Some(r) = rows.next()? {
                n += 1;
                let e = upload(r)?;
                let here = (e.at.0, r.get::<_, i64>(11)?);
                if self.q.matches(&e) {
                    self.buf.push_back((self.pos, e));
                }
                self.pos = here;
            }
            self.done = n < WALK_BATCH;
        }
        Ok(())
    }

    fn head_at(&mut self, c: &Connection) -> Result<Option<Timestamp>, StoreError> {
        self.fill(c)?;
        Ok(self.buf.front().map(|(_, e)| e.at))
    }

    fn resume(&self) -> (i64, i64) {
        self.buf.front().map_or(self.pos, |(p, _)| *p)
    }
}

/// The first group whose `high` is at or after `t` (`i64::MAX`: none).
fn first_reaching(c: &Connection, t: i64) -> Result<i64, StoreError> {
    Ok(c.prepare_cached("SELECT id FROM access_event_groups WHERE high >= ?1 ORDER BY high, id LIMIT 1")?
        .query_row([t], |r| r.get(0))
        .optional()?
        .unwrap_or(i64::MAX))
}

/// Reads a page of events from the log at `path` (`events.db`): online
/// and uploaded events that match `q`, after `q.after`, oldest first —
/// online events in the order they were logged, uploads by time, the two
/// merged by time (online first on a tie). A missing file is an empty log.
pub fn query(path: &Path, q: &EventQuery) -> Result<EventPage, StoreError> {
    if !path.exists() {
        return Ok(EventPage::default());
    }
    let mut c = reader(path)?;
    // One snapshot for both streams.
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
    let start = q.from.map_or(Ok(0), |f| first_reaching(&tx, f.0))?;
    let end = q.to.map_or(Ok(i64::MAX), |t| first_reaching(&tx, t.0))?;
    let mut groups = Groups {
        q,
        start,
        end,
        pos: (q.after.group, q.after.in_group),
        marked_only: false,
        done: false,
        buf: std::collections::VecDeque::new(),
    };
    let mut uploads = Uploads { q, pos: q.after.upload, done: false, buf: std::collections::VecDeque::new() };
    let mut page = EventPage::default();
    loop {
        let take_group = match (groups.head_at(&tx)?, uploads.head_at(&tx)?) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(g), Some(u)) => g <= u,
        };
        if page.events.len() >= q.limit {
            page.next =
                Some(Cursor { group: groups.resume().0, in_group: groups.resume().1, upload: uploads.resume() });
            break;
        }
        let next =
            if take_group { groups.buf.pop_front().map(|(_, e)| e) } else { uploads.buf.pop_front().map(|(_, e)| e) };
        page.events.extend(next);
    }
    Ok(page)
}

impl Store {
    /// The IDs of everyone whose org unit is `unit` (expunged people keep
    /// theirs only if the tombstone does).
    pub fn user_ids_in_unit(&self, unit: &str) -> Result<HashSet<UserId>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id FROM users WHERE org_unit = ?1")?;
            let ids = stmt.query_map([unit], |r| r.get::<_, i64>(0))?;
            ids.map(|r| r.map(UserId::from_i64).map_err(StoreError::from)).collect()
        })
    }

    /// Audits a read of the access-event log, as one `access_events.read`
    /// entry with its filters (`detail`: IDs, doors, dates, counts).
    pub fn audit_event_read(&self, actor: &Actor, user: Option<UserId>, detail: String) -> Result<(), StoreError> {
        let mut draft = AuditDraft::new("access_events.read");
        draft.target_user = user;
        draft.detail = detail;
        self.write(actor, draft, |_| Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_fsynced_on_every_commit() {
        let d = tempfile::tempdir().unwrap();
        let c = connect(&d.path().join(EVENTS_FILE)).unwrap();
        let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "FULL");
        let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn records_round_trip() {
        let events = vec![
            AccessEvent {
                at: Timestamp(1_800_000_000),
                controller: Some(7),
                event_id: None,
                door: "main".into(),
                technology: Some(Technology::Em4100),
                uid: Uid::from_bytes(&[1, 2, 3, 4, 5]).unwrap(),
                decision: Decision::Deny(DenyReason::Expired),
                user_id: Some(UserId::from_i64(99)),
                online: true,
                received_at: None,
                claimed_at: None,
            },
            AccessEvent {
                at: Timestamp(-1),
                controller: None,
                event_id: None,
                door: String::new(),
                technology: None,
                uid: Uid::from_bytes(&[0xFF; 16]).unwrap(),
                decision: Decision::Grant,
                user_id: None,
                online: true,
                received_at: None,
                claimed_at: None,
            },
        ];
        let mut buf = Vec::new();
        for e in &events {
            encode(&mut buf, e);
        }
        assert_eq!(decode(&buf).unwrap(), events);
        // A truncated or altered group is refused, never misread.
        assert!(decode(&buf[..buf.len() - 1]).is_err());
        let mut bad = buf.clone();
        bad[0] = 9;
        assert!(decode(&bad).is_err());
    }

    fn ev(at: i64, door: &str, user: Option<i64>, decision: Decision) -> AccessEvent {
        AccessEvent {
            at: Timestamp(at),
            controller: Some(1),
            event_id: None,
            door: door.into(),
            technology: None,
            uid: Uid::from_bytes(&[4, 0xA1, 0xB2, at as u8]).unwrap(),
            decision,
            user_id: user.map(UserId::from_i64),
            online: true,
            received_at: None,
            claimed_at: None,
        }
    }

    fn upload_ev(id: &str, at: i64, door: &str, user: Option<i64>, decision: Decision) -> AccessEvent {
        AccessEvent {
            event_id: Some(id.into()),
            online: false,
            received_at: Some(Timestamp(at)),
            ..ev(at, door, user, decision)
        }
    }

    /// A log whose groups and uploads are written exactly as given.
    struct Log {
        _dir: tempfile::TempDir,
        path: PathBuf,
        conn: Connection,
        tail: Tail,
    }

    impl Log {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(EVENTS_FILE);
            let conn = connect(&path).unwrap();
            Self { _dir: dir, path, conn, tail: Tail::default() }
        }

        fn group(&mut self, events: &[AccessEvent]) {
            let items: Vec<_> = events.iter().cloned().map(Item::Online).collect();
            self.tail = write_group(&mut self.conn, &items, &mut Vec::new(), self.tail).unwrap().1;
        }

        fn uploads(&mut self, events: Vec<AccessEvent>) {
            let upload = Upload::of_events(1, Timestamp(0), events);
            let items = [Item::Batch(Arc::new(upload), Box::new(|_| {}))];
            self.tail = write_group(&mut self.conn, &items, &mut Vec::new(), self.tail).unwrap().1;
        }

        fn maint(&mut self, m: Maint) -> Ledger {
            maintain(&mut self.conn, m).unwrap()
        }

        /// Every page of `q`, `limit` at a time: the events' times, and the page sizes.
        fn pages(&self, q: &EventQuery) -> (Vec<i64>, Vec<usize>) {
            let mut q = q.clone();
            let (mut all, mut sizes) = (Vec::new(), Vec::new());
            loop {
                let p = query(&self.path, &q).unwrap();
                sizes.push(p.events.len());
                all.extend(p.events.iter().map(|e| e.at.0));
                match p.next {
                    Some(c) => q.after = Cursor::parse(&c.to_string()).unwrap(),
                    None => return (all, sizes),
                }
                assert!(sizes.len() < 100, "paging does not end");
            }
        }
    }

    fn q(limit: usize) -> EventQuery {
        EventQuery { limit, ..EventQuery::default() }
    }

    #[test]
    fn paging_merges_groups_and_uploads_by_time_and_returns_each_event_once() {
        let mut log = Log::new();
        log.group(&[ev(100, "a", Some(1), Decision::Grant), ev(101, "a", None, Decision::Grant)]);
        log.uploads(vec![
            upload_ev("u1", 103, "a", Some(1), Decision::Grant),
            upload_ev("u0", 99, "b", None, Decision::Grant),
        ]);
        log.group(&[
            ev(102, "b", Some(2), Decision::Grant),
            ev(105, "a", Some(2), Decision::Grant),
            ev(106, "a", None, Decision::Grant),
        ]);
        log.uploads(vec![upload_ev("u2", 200, "a", Some(1), Decision::Grant)]);
        let every = vec![99, 100, 101, 102, 103, 105, 106, 200];
        for limit in 1..=9 {
            let (all, sizes) = log.pages(&q(limit));
            assert_eq!(all, every, "limit {limit}");
            assert!(sizes.iter().all(|n| *n <= limit) && sizes.iter().rev().skip(1).all(|n| *n == limit), "{sizes:?}");
        }
        // A cursor stays valid while the log grows: what is new comes after it.
        let first = query(&log.path, &q(3)).unwrap();
        log.group(&[ev(300, "a", None, Decision::Grant)]);
        let (rest, _) = log.pages(&EventQuery { after: first.next.unwrap(), ..q(2) });
        assert_eq!(rest, vec![102, 103, 105, 106, 200, 300]);
    }

    #[test]
    fn filters_pick_doors_holders_decisions_and_scopes() {
        let mut log = Log::new();
        let expired = Decision::Deny(DenyReason::Expired);
        let unknown = Decision::Deny(DenyReason::UnknownCredential);
        log.group(&[ev(1, "a", Some(1), Decision::Grant), ev(2, "b", Some(2), expired), ev(3, "a", None, unknown)]);
        log.uploads(vec![upload_ev("x", 4, "a", Some(2), expired), upload_ev("y", 5, "b", None, unknown)]);
        let times = |q: EventQuery| log.pages(&EventQuery { limit: 10, ..q }).0;
        assert_eq!(times(EventQuery { door: Some("a".into()), ..q(10) }), vec![1, 3, 4]);
        assert_eq!(times(EventQuery { user: Some(UserId::from_i64(2)), ..q(10) }), vec![2, 4]);
        assert_eq!(times(EventQuery { decision: Some(DecisionFilter::Grant), ..q(10) }), vec![1]);
        assert_eq!(times(EventQuery { decision: Some(DecisionFilter::Deny), ..q(10) }), vec![2, 3, 4, 5]);
        assert_eq!(
            times(EventQuery { decision: Some(DecisionFilter::Reason(DenyReason::Expired)), ..q(10) }),
            vec![2, 4]
        );
        // A scope sees its holders' events only; events without a holder are nobody's.
        let holders = Some([UserId::from_i64(2)].into_iter().collect());
        assert_eq!(times(EventQuery { holders, ..q(10) }), vec![2, 4]);
        assert_eq!(times(EventQuery { holders: Some(HashSet::new()), ..q(10) }), Vec::<i64>::new());
        // A missing log is empty, and is not created by reading.
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join(EVENTS_FILE);
        assert_eq!(query(&missing, &q(10)).unwrap(), EventPage::default());
        assert!(!missing.exists());
    }

    #[test]
    fn time_ranges_are_half_open_and_exact_when_the_clock_stepped_back() {
        let mut log = Log::new();
        for at in [[100, 110], [300, 310], [150, 160], [400, 410], [405, 406]] {
            log.group(&[ev(at[0], "a", None, Decision::Grant), ev(at[1], "a", None, Decision::Grant)]);
        }
        log.uploads(vec![upload_ev("late", 155, "a", None, Decision::Grant)]);
        let marks: Vec<(i64, bool)> = log
            .conn
            .prepare("SELECT high, back FROM access_event_groups ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(marks, vec![(110, false), (310, false), (310, true), (410, false), (410, true)]);
        let range = |from: i64, to: Option<i64>| {
            log.pages(&EventQuery { from: Some(Timestamp(from)), to: to.map(Timestamp), ..q(2) }).0
        };
        assert_eq!(range(140, Some(200)), vec![150, 155, 160]);
        assert_eq!(range(110, Some(150)), vec![110]);
        assert_eq!(range(0, Some(101)), vec![100]);
        // Online events come in the order they were logged.
        assert_eq!(range(306, None), vec![310, 400, 410, 405, 406]);
        assert_eq!(range(406, Some(407)), vec![406]);
        assert_eq!(range(500, None), Vec::<i64>::new());
    }

    #[test]
    fn pruning_takes_bounded_batches_and_keeps_a_ledger_until_settled() {
        let mut log = Log::new();
        log.group(&[ev(10, "a", None, Decision::Grant), ev(20, "a", None, Decision::Grant)]);
        log.group(&[ev(30, "a", None, Decision::Grant)]);
        log.group(&[ev(900, "a", None, Decision::Grant)]);
        log.group(&[ev(40, "a", None, Decision::Grant)]); // the clock stepped back
        log.group(&[ev(99, "a", None, Decision::Grant), ev(101, "a", None, Decision::Grant)]); // spans the cutoff
        log.uploads(vec![
            upload_ev("old", 5, "a", None, Decision::Grant),
            upload_ev("new", 950, "a", None, Decision::Grant),
        ]);
        let l = log.maint(Maint::Prune { before: 100, rows: 2 });
        assert_eq!(l, Ledger { before: 100, count: 3, more: true });
        // A full batch may leave more; the next one finds none.
        let l = log.maint(Maint::Prune { before: 100, rows: 2 });
        assert_eq!(l, Ledger { before: 100, count: 5, more: true });
        let l = log.maint(Maint::Prune { before: 100, rows: 2 });
        assert_eq!(l, Ledger { before: 100, count: 5, more: false });
        let left: Vec<i64> = log.pages(&q(100)).0;
        assert_eq!(left, vec![900, 99, 101, 950]);
        assert_eq!(log.maint(Maint::Settle { count: 5 }), Ledger::default());
    }

    #[test]
    fn a_version_2_log_is_upgraded_with_its_uploads_received_when_they_happened() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(EVENTS_FILE);
        {
            // As the previous build left it: version 2, an online group and two uploads.
            let c = Connection::open(&path).unwrap();
            c.execute_batch(V1).unwrap();
            c.execute_batch(V2).unwrap();
            c.pragma_update(None, "user_version", 2).unwrap();
            let mut buf = Vec::new();
            encode(&mut buf, &ev(100, "a", Some(7), Decision::Grant));
            c.execute(
                "INSERT INTO access_event_groups (first_at, last_at, count, records, high, back) VALUES (100, 100, 1, ?1, 100, 0)",
                [buf],
            )
            .unwrap();
            for (at, id) in [(95, "e1"), (200, "e2")] {
                c.execute(
                    "INSERT INTO access_events (at, controller, event_id, door, technology, uid, decision, reason, user_id)
                     VALUES (?1, 1, ?2, 'a', NULL, ?3, 'deny', 'expired', 7)",
                    params![at, id, [4u8, 0xA1, 0xB2, at as u8]],
                )
                .unwrap();
            }
        }
        let mut log = Log { path: path.clone(), conn: connect(&path).unwrap(), tail: Tail::default(), _dir: d };
        log.tail = Tail::load(&log.conn).unwrap();
        let v: i64 = log.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let all = read_all(log.path.parent().unwrap()).unwrap();
        assert_eq!(all.len(), 3);
        let received: Vec<_> =
            all.iter().filter(|e| !e.online).map(|e| (e.at.0, e.received_at, e.claimed_at)).collect();
        assert_eq!(received, [(95, Some(Timestamp(95)), None), (200, Some(Timestamp(200)), None)]);
        // The old upload sent again is a duplicate; changed, a conflict, quarantined.
        let again = upload_ev("e1", 95, "a", Some(7), Decision::Deny(DenyReason::Expired));
        let changed = upload_ev("e2", 200, "a", Some(7), Decision::Grant);
        let upload = Arc::new(Upload::of_events(1, Timestamp(300), vec![again, changed]));
        let (outcomes, _) =
            write_group(&mut log.conn, &[Item::Batch(upload, Box::new(|_| {}))], &mut Vec::new(), log.tail).unwrap();
        assert_eq!(outcomes, vec![vec![Outcome::Duplicate, Outcome::Conflict { quarantined: true }]]);
        assert_eq!(quarantined(log.path.parent().unwrap(), Some(1), 0, 10).unwrap().len(), 1);
        // Uploads are pruned by when they arrived; the quarantine with them.
        assert_eq!(log.maint(Maint::Prune { before: 150, rows: 10 }).count, 2);
        assert_eq!(quarantined(log.path.parent().unwrap(), None, 0, 10).unwrap().len(), 1);
        assert_eq!(read_all(log.path.parent().unwrap()).unwrap().iter().filter(|e| !e.online).count(), 1);
        assert_eq!(log.maint(Maint::Prune { before: 301, rows: 10 }).count, 3);
        assert!(quarantined(log.path.parent().unwrap(), None, 0, 10).unwrap().is_empty());
    }

    #[test]
    fn a_log_from_before_versioning_is_upgraded_with_its_events() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(EVENTS_FILE);
        {
            // As the previous build left it: version-1 tables, user_version 0, real rows.
            let c = Connection::open(&path).unwrap();
            c.execute_batch(V1).unwrap();
            for group in [
                vec![ev(100, "a", Some(7), Decision::Grant), ev(120, "b", None, Decision::Grant)],
                vec![ev(90, "a", Some(7), Decision::Grant)],
                vec![ev(130, "a", None, Decision::Grant)],
            ] {
                let mut buf = Vec::new();
                for e in &group {
                    encode(&mut buf, e);
                }
                let (first, last) =
                    (group.iter().map(|e| e.at.0).min().unwrap(), group.iter().map(|e| e.at.0).max().unwrap());
                c.execute(
                    "INSERT INTO access_event_groups (first_at, last_at, count, records) VALUES (?1, ?2, ?3, ?4)",
                    params![first, last, group.len() as i64, buf],
                )
                .unwrap();
            }
            c.execute(
                "INSERT INTO access_events (at, controller, event_id, door, technology, uid, decision, reason, user_id)
                 VALUES (95, 1, 'e1', 'a', NULL, X'04A1B2C3', 'deny', 'expired', 7)",
                [],
            )
            .unwrap();
        }
        let before = read_all(d.path()).unwrap();
        assert_eq!(before.len(), 5);
        let c = connect(&path).unwrap();
        let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let marks: Vec<(i64, bool)> = c
            .prepare("SELECT high, back FROM access_event_groups ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(marks, vec![(120, false), (120, true), (130, false)]);
        let q7 = EventQuery { user: Some(UserId::from_i64(7)), from: Some(Timestamp(91)), ..q(10) };
        let got: Vec<i64> = query(&path, &q7).unwrap().events.iter().map(|e| e.at.0).collect();
        assert_eq!(got, vec![95, 100]);
        // The writer continues the groups' order where the upgrade left it.
        drop(c);
        let mut log = Log { path: path.clone(), conn: connect(&path).unwrap(), tail: Tail::default(), _dir: d };
        log.tail = Tail::load(&log.conn).unwrap();
        log.group(&[ev(125, "a", None, Decision::Grant)]);
        let last: (i64, bool) = log
            .conn
            .query_row("SELECT high, back FROM access_event_groups ORDER BY id DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(last, (130, true));
        assert_eq!(read_all(log.path.parent().unwrap()).unwrap().len(), 6);
    }

    #[test]
    fn a_log_from_a_newer_build_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(EVENTS_FILE);
        Connection::open(&path).unwrap().pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        assert_eq!(connect(&path).unwrap_err().code(), "schema_too_new");
    }
}
