//! Card readers: one [`ReaderEvent`] stream for every reader source (PC/SC
//! desk readers; OSDP readers and encoders), and the card-level protocol
//! pieces every PC/SC driver needs: naming the card from its ATR, and
//! reading the UID with the PC/SC "GET DATA" pseudo-APDU.
//!
//! Reader sources publish into one [`Hub`]; the HTTP layer subscribes to
//! it (Server-Sent Events, tap-to-enrol) and the CLI prints from it.
//!
//! **Architecture invariant:** `readers/` knows cards and readers, never
//! users or HTTP; what a tap means for a person is decided above it.

pub mod atr;
pub mod debounce;
pub mod get_data;
pub mod osdp;
pub mod pcsc;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::domain::{Timestamp, Uid};

pub use atr::CardType;
pub use get_data::{GET_UID, UidRead, interpret_get_data};

/// What happened at a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEventKind {
    /// The reader appeared (plugged in, or its daemon came back).
    ReaderAdded,
    /// The reader went away.
    ReaderRemoved,
    /// A card was read.
    Tap {
        /// Its UID.
        uid: Uid,
        /// What kind of card, from its ATR (`other` for OSDP reads).
        card_type: CardType,
        /// For an OSDP read: the bits as read, and the Wiegand fields.
        raw: Option<Box<osdp::RawRead>>,
    },
    /// A card was seen but its UID could not be used.
    Unreadable {
        /// A stable code: `random_uid`, `uid_unavailable`, `card_removed`,
        /// `card_mute`, `reader_error`.
        code: &'static str,
        /// What kind of card, when known.
        card_type: Option<CardType>,
    },
    /// The card left the reader.
    CardRemoved,
    /// The reader source lost its connection to the readers (pcscd gone);
    /// it reconnects on its own and reports each reader added again.
    SourceDown,
}

/// One event from one reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderEvent {
    /// The reader's stable ID (its name as the source reports it).
    pub reader: String,
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub kind: ReaderEventKind,
    /// When the source learned of it (for latency figures), if it knows.
    pub detected: Option<Instant>,
}

impl ReaderEvent {
    /// An event at `reader` now, as the source detected it at `detected`.
    #[must_use]
    pub fn new(reader: impl Into<String>, at: Timestamp, kind: ReaderEventKind, detected: Option<Instant>) -> Self {
        Self { reader: reader.into(), at, kind, detected }
    }
}

/// What kind of reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderKind {
    /// A PC/SC desk reader (USB, through pcscd).
    Pcsc,
    /// An OSDP device on a serial line.
    Osdp,
}

/// A reader's state as the hub knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderStatus {
    /// Connected, no card.
    Ready,
    /// A card is on it.
    CardPresent,
    /// Its source lost the connection (pcscd down); it may come back.
    Unavailable,
}

/// One reader, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The reader's ID: its name as the source reports it.
    pub id: String,
    /// A display name (the same as the ID for PC/SC readers).
    pub name: String,
    /// What kind.
    pub kind: ReaderKind,
    /// Its state.
    pub status: ReaderStatus,
}

/// An event with its place in the hub's sequence.
#[derive(Debug, Clone)]
pub struct Published {
    /// 1, 2, 3, … in publication order.
    pub seq: u64,
    /// The event.
    pub event: ReaderEvent,
}

/// Where every reader source publishes and every consumer subscribes.
/// Subscribers that fall more than [`Hub::CAPACITY`] events behind lose
/// the oldest (and are told so by the channel).
#[derive(Debug)]
pub struct Hub {
    tx: tokio::sync::broadcast::Sender<Arc<Published>>,
    readers: Mutex<BTreeMap<String, ReaderInfo>>,
    seq: AtomicU64,
    stop: AtomicBool,
    doors: Mutex<std::collections::BTreeSet<String>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            tx: tokio::sync::broadcast::channel(Self::CAPACITY).0,
            readers: Mutex::default(),
            seq: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            doors: Mutex::default(),
        }
    }
}

impl Hub {
    /// Events a slow subscriber may lag behind before losing some.
    pub const CAPACITY: usize = 1024;

    /// Records the event in the reader table and hands it to every subscriber.
    pub fn publish(&self, event: ReaderEvent) {
        {
            let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
            let status = match &event.kind {
                ReaderEventKind::ReaderAdded | ReaderEventKind::CardRemoved => Some(ReaderStatus::Ready),
                ReaderEventKind::Tap { .. } | ReaderEventKind::Unreadable { .. } => Some(ReaderStatus::CardPresent),
                ReaderEventKind::SourceDown => Some(ReaderStatus::Unavailable),
                ReaderEventKind::ReaderRemoved => None,
            };
            match status {
                // An OSDP read is a moment, not a card lying on the reader.
                Some(ReaderStatus::CardPresent)
                    if readers.get(&event.reader).is_some_and(|r| r.kind == ReaderKind::Osdp) => {}
                Some(status) => {
                    readers.entry(event.reader.clone()).and_modify(|r| r.status = status).or_insert_with(|| {
                        ReaderInfo {
                            id: event.reader.clone(),
                            name: event.reader.clone(),
                            kind: ReaderKind::Pcsc,
                            status,
                        }
                    });
                }
                None => {
                    readers.remove(&event.reader);
                }
            }
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = self.tx.send(Arc::new(Published { seq, event }));
    }

    /// Adds a reader the source knows before it is seen (OSDP devices
    /// from the configuration), keeping its kind.
    pub fn register(&self, info: ReaderInfo) {
        self.readers.lock().unwrap_or_else(PoisonError::into_inner).insert(info.id.clone(), info);
    }

    /// Marks `id` as a door reader (an OSDP reader with `role = "door"`),
    /// before its source starts: its reads are door decisions, which
    /// consumers for staff leave out.
    pub fn mark_door(&self, id: &str) {
        self.doors.lock().unwrap_or_else(PoisonError::into_inner).insert(id.to_owned());
    }

    /// Whether `id` is a door reader.
    #[must_use]
    pub fn is_door(&self, id: &str) -> bool {
        self.doors.lock().unwrap_or_else(PoisonError::into_inner).contains(id)
    }

    /// Marks every reader of a source unavailable (its daemon went away).
    pub fn source_down(&self, readers: &[String], at: Timestamp) {
        for r in readers {
            self.publish(ReaderEvent::new(r.clone(), at, ReaderEventKind::SourceDown, None));
        }
    }

    /// A receiver of every event published from now on.
    #[must_use]
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }

    /// The readers known now, by ID.
    #[must_use]
    pub fn readers(&self) -> Vec<ReaderInfo> {
        self.readers.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect()
    }

    /// Whether a reader with this ID is known.
    #[must_use]
    pub fn has_reader(&self, id: &str) -> bool {
        self.readers.lock().unwrap_or_else(PoisonError::into_inner).contains_key(id)
    }

    /// Asks every source to stop (they check at least once a second).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether sources should stop.
    #[must_use]
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(r: &str, kind: ReaderEventKind) -> ReaderEvent {
        ReaderEvent::new(r, Timestamp(0), kind, None)
    }

    #[test]
    fn the_reader_table_follows_the_events() {
        let hub = Hub::default();
        let mut rx = hub.subscribe();
        hub.publish(ev("R1", ReaderEventKind::ReaderAdded));
        hub.publish(ev("R2", ReaderEventKind::ReaderAdded));
        let uid = Uid::from_bytes(&[4, 1, 2, 3]).unwrap();
        hub.publish(ev("R1", ReaderEventKind::Tap { uid, card_type: CardType::MifareClassic1k, raw: None }));
        let status = |h: &Hub| h.readers().into_iter().map(|r| (r.id, r.status)).collect::<Vec<_>>();
        assert_eq!(status(&hub), [("R1".into(), ReaderStatus::CardPresent), ("R2".into(), ReaderStatus::Ready)]);
        hub.source_down(&["R1".into(), "R2".into()], Timestamp(1));
        assert!(status(&hub).iter().all(|(_, s)| *s == ReaderStatus::Unavailable));
        hub.publish(ev("R2", ReaderEventKind::ReaderRemoved));
        assert!(!hub.has_reader("R2"));
        assert!(hub.has_reader("R1"));
        let seqs: Vec<u64> = std::iter::from_fn(|| rx.try_recv().ok()).map(|p| p.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    }
}
