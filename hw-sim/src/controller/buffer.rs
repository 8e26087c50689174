//! The durable event buffer: every access event the service has not logged
//! yet, on disk before the door is told anything.
//!
//! One append-only file of JSON lines: `{"event": {...}}` adds an event,
//! `{"settled": [ids]}` records events the service has taken. Each append
//! is fsynced before [`Buffer::record`] or [`Buffer::settle`] returns. On
//! opening, a torn last line (a crash mid-append) is cut off and nothing
//! before it is lost. When settled lines outweigh pending events the file
//! is compacted: the pending events are written to a temporary file,
//! fsynced and renamed over it.
//!
//! Event IDs are `<boot>-<n>`: a random 64-bit prefix drawn at each start
//! and a counter, so they are unique per controller and never reused
//! across restarts (even if the data directory is lost).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::feed::sync_dir;
use super::wire::Event;

/// The buffer's file.
pub const BUFFER_FILE: &str = "events.jsonl";

/// Dead lines (settled events and settle records) before compaction is considered.
#[cfg(not(test))]
const COMPACT_AT: usize = 1024;
#[cfg(test)]
const COMPACT_AT: usize = 16;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Line {
    Event(Event),
    Settled(Vec<String>),
}

/// An event before it has an ID.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// When, unix seconds.
    pub at: i64,
    /// The door.
    pub door: String,
    /// The UID, uppercase hex.
    pub uid: String,
    /// The technology, if known.
    pub technology: Option<String>,
    /// Granted?
    pub grant: bool,
    /// The deny reason.
    pub reason: Option<String>,
    /// The holder.
    pub user_id: Option<String>,
}

/// The buffer.
#[derive(Debug)]
pub struct Buffer {
    path: PathBuf,
    file: File,
    pending: Vec<Event>,
    /// Lines in the file that are not a pending event.
    dead_lines: usize,
    boot: String,
    next: u64,
}

impl Buffer {
    /// Opens (or creates) the buffer in `dir`.
    ///
    /// # Errors
    /// The file cannot be read, repaired or created.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(BUFFER_FILE);
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        let mut pending: Vec<Event> = Vec::new();
        let mut dead_lines = 0;
        let mut good_len = 0u64;
        {
            let mut r = BufReader::new(&file);
            let mut line = String::new();
            loop {
                line.clear();
                let n = r.read_line(&mut line)?;
                if n == 0 || !line.ends_with('\n') {
                    break;
                }
                match serde_json::from_str::<Line>(&line) {
                    Ok(Line::Event(e)) => pending.push(e),
                    Ok(Line::Settled(ids)) => {
                        let ids: HashSet<String> = ids.into_iter().collect();
                        let before = pending.len();
                        pending.retain(|e| !ids.contains(&e.event_id));
                        dead_lines += 1 + before - pending.len();
                    }
                    // A torn line can only be the last: stop there.
                    Err(_) => break,
                }
                good_len += n as u64;
            }
        }
        if file.metadata()?.len() != good_len {
            file.set_len(good_len)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::End(0))?;
        let boot = format!("{:016x}", random_u64());
        let mut b = Self { path, file, pending, dead_lines, boot, next: 0 };
        b.maybe_compact()?;
        Ok(b)
    }

    /// Events not yet settled, oldest first.
    #[must_use]
    pub fn pending(&self) -> &[Event] {
        &self.pending
    }

    /// How many events are pending.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Nothing pending.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Gives the event an ID and makes it durable; returns it.
    ///
    /// # Errors
    /// It could not be written and fsynced (then it is not pending).
    pub fn record(&mut self, e: NewEvent) -> std::io::Result<Event> {
        self.next += 1;
        let event = Event {
            event_id: format!("{}-{}", self.boot, self.next),
            at: super::wire::format_rfc3339(e.at),
            door: e.door,
            uid: e.uid,
            technology: e.technology,
            decision: if e.grant { "grant" } else { "deny" }.into(),
            reason: e.reason,
            user_id: e.user_id,
        };
        self.append(&Line::Event(event.clone()))?;
        self.pending.push(event.clone());
        Ok(event)
    }

    /// Records that the service has these events: durable, then dropped
    /// from the pending list.
    ///
    /// # Errors
    /// The record could not be written (they stay pending and are sent
    /// again; the service answers `duplicate`).
    pub fn settle(&mut self, ids: &[String]) -> std::io::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.append(&Line::Settled(ids.to_vec()))?;
        let ids: HashSet<&String> = ids.iter().collect();
        let before = self.pending.len();
        self.pending.retain(|e| !ids.contains(&e.event_id));
        self.dead_lines += 1 + before - self.pending.len();
        self.maybe_compact()
    }

    fn append(&mut self, line: &Line) -> std::io::Result<()> {
        let mut b = serde_json::to_vec(line)?;
        b.push(b'\n');
        self.file.write_all(&b)?;
        self.file.sync_data()
    }

    /// Rewrites the file with only the pending events once most of it is dead.
    fn maybe_compact(&mut self) -> std::io::Result<()> {
        if self.dead_lines < COMPACT_AT || self.dead_lines < self.pending.len() {
            return Ok(());
        }
        let tmp = self.path.with_extension("tmp");
        let mut out = Vec::new();
        for e in &self.pending {
            serde_json::to_writer(&mut out, &Line::Event(e.clone()))?;
            out.push(b'\n');
        }
        let mut f = File::create(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &self.path)?;
        sync_dir(&self.path)?;
        self.file = OpenOptions::new().read(true).append(true).open(&self.path)?;
        self.dead_lines = 0;
        Ok(())
    }
}

/// 64 random bits: the standard library's hasher, keyed from the
/// operating system's randomness, over the process ID.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: i64) -> NewEvent {
        NewEvent {
            at: 1_767_225_600 + n,
            door: "main".into(),
            uid: "04A1B2C3".into(),
            technology: None,
            grant: n % 2 == 0,
            reason: (n % 2 != 0).then(|| "unknown_credential".into()),
            user_id: None,
        }
    }

    #[test]
    fn events_survive_a_restart_until_settled_and_ids_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path()).unwrap();
        let ids: Vec<String> = (0..5).map(|n| b.record(ev(n)).unwrap().event_id).collect();
        b.settle(&ids[1..3]).unwrap();
        drop(b);
        let mut b = Buffer::open(dir.path()).unwrap();
        let left: Vec<&str> = b.pending().iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(left, [&ids[0], &ids[3], &ids[4]]);
        assert_eq!(b.pending()[0].at, "2026-01-01T00:00:00Z");
        let fresh = b.record(ev(9)).unwrap().event_id;
        assert!(!ids.contains(&fresh), "{fresh} reused");
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_nothing_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path()).unwrap();
        let first = b.record(ev(1)).unwrap();
        b.record(ev(2)).unwrap();
        drop(b);
        let path = dir.path().join(BUFFER_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        // A crash mid-append: the second event's line is half written.
        std::fs::write(&path, &text[..text.len() - 20]).unwrap();
        let mut b = Buffer::open(dir.path()).unwrap();
        assert_eq!(b.pending(), std::slice::from_ref(&first));
        // Appending after the repair gives whole lines.
        let third = b.record(ev(3)).unwrap();
        drop(b);
        assert_eq!(Buffer::open(dir.path()).unwrap().pending(), [first, third]);
    }

    #[test]
    fn settled_events_are_compacted_away() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path()).unwrap();
        let ids: Vec<String> = (0..110).map(|n| b.record(ev(n)).unwrap().event_id).collect();
        for chunk in ids[..109].chunks(10) {
            b.settle(chunk).unwrap();
        }
        let lines = std::fs::read_to_string(dir.path().join(BUFFER_FILE)).unwrap().lines().count();
        assert!(lines < 12, "{lines} lines after compaction");
        drop(b);
        let b = Buffer::open(dir.path()).unwrap();
        assert_eq!(b.pending().iter().map(|e| &e.event_id).collect::<Vec<_>>(), [&ids[109]]);
    }
}
