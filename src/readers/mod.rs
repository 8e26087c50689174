//! Card readers: one [`ReaderEvent`] stream for every reader source (PC/SC
//! desk readers; OSDP readers and encoders), and the card-level protocol
//! pieces every PC/SC driver needs: naming the card from its ATR, and
//! reading the UID with the PC/SC "GET DATA" pseudo-APDU.
//!
//! **Architecture invariant:** `readers/` knows cards and readers, never
//! users or HTTP; what a tap means for a person is decided above it.
//! (Issue 3/5 adds the PC/SC driver thread on top of these pieces.)

pub mod atr;
pub mod get_data;

use crate::domain::{Timestamp, Uid};

pub use atr::CardType;
pub use get_data::{GET_UID, UidRead, interpret_get_data};

/// What happened at a reader.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReaderEventKind {
    /// The reader appeared (plugged in, or its daemon came back).
    ReaderAdded,
    /// The reader went away.
    ReaderRemoved,
    /// A card was read.
    Tap {
        /// Its UID.
        #[serde(serialize_with = "ser_uid")]
        uid: Uid,
        /// What kind of card, from its ATR.
        card_type: CardType,
    },
    /// A card was seen but its UID could not be used.
    Unreadable {
        /// A stable code: `random_uid`, `uid_unavailable`, `card_removed`, `reader_error`.
        code: &'static str,
        /// What kind of card, when known.
        card_type: Option<CardType>,
    },
    /// The card left the reader.
    CardRemoved,
}

fn ser_uid<S: serde::Serializer>(u: &Uid, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(u)
}

/// One event from one reader.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReaderEvent {
    /// The reader's stable ID (its name as the source reports it).
    pub reader: String,
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    #[serde(flatten)]
    pub kind: ReaderEventKind,
}
