//! Card readers: the reader list, the tap stream, tap-to-enrol, encoders,
//! and the reader events `idms readers --watch --json` prints.

use utoipa::ToSchema;

use crate::domain::{Timestamp, Uid};
use crate::ops::readers::CardVerdict;
use crate::readers::{self as hw, osdp};

/// What kind of reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReaderKind {
    /// A PC/SC desk reader (USB, through pcscd).
    Pcsc,
    /// An OSDP device on a serial line.
    Osdp,
}

impl From<hw::ReaderKind> for ReaderKind {
    fn from(k: hw::ReaderKind) -> Self {
        match k {
            hw::ReaderKind::Pcsc => Self::Pcsc,
            hw::ReaderKind::Osdp => Self::Osdp,
        }
    }
}

/// A reader's state as the service knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReaderStatus {
    /// Connected, no card.
    Ready,
    /// A card is on it.
    CardPresent,
    /// Its source lost the connection (pcscd down); it may come back.
    Unavailable,
}

impl From<hw::ReaderStatus> for ReaderStatus {
    fn from(s: hw::ReaderStatus) -> Self {
        match s {
            hw::ReaderStatus::Ready => Self::Ready,
            hw::ReaderStatus::CardPresent => Self::CardPresent,
            hw::ReaderStatus::Unavailable => Self::Unavailable,
        }
    }
}

/// One reader, for listings.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct ReaderInfo {
    /// The reader's ID: its name as the source reports it (`reader` in
    /// enrolments and the tap stream).
    pub id: String,
    /// A display name (the same as the ID for PC/SC readers).
    pub name: String,
    /// What kind.
    pub kind: ReaderKind,
    /// Its state.
    pub status: ReaderStatus,
}

impl From<hw::ReaderInfo> for ReaderInfo {
    fn from(r: hw::ReaderInfo) -> Self {
        Self { id: r.id, name: r.name, kind: r.kind.into(), status: r.status.into() }
    }
}

/// The kind of card, as far as the reader tells (snake case: `mifare_classic1k`, `desfire`, `other`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardType {
    /// MIFARE Classic 1K.
    MifareClassic1k,
    /// MIFARE Classic 4K.
    MifareClassic4k,
    /// MIFARE Ultralight (and NTAG, which readers report the same way).
    MifareUltralight,
    /// MIFARE Mini.
    MifareMini,
    /// DESFire.
    Desfire,
    /// Another ISO 14443-4 card.
    Iso14443_4,
    /// Anything else (and every OSDP read).
    Other,
}

impl From<hw::CardType> for CardType {
    fn from(c: hw::CardType) -> Self {
        match c {
            hw::CardType::MifareClassic1k => Self::MifareClassic1k,
            hw::CardType::MifareClassic4k => Self::MifareClassic4k,
            hw::CardType::MifareUltralight => Self::MifareUltralight,
            hw::CardType::MifareMini => Self::MifareMini,
            hw::CardType::Desfire => Self::Desfire,
            hw::CardType::Iso14443_4 => Self::Iso14443_4,
            hw::CardType::Other => Self::Other,
        }
    }
}

/// What a tapped card is to the badge office.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct CardStatus {
    /// `new` (never seen), `in_stock` (ready to issue or recycle), `held`,
    /// or `retired` (lost, stolen, destroyed: never issued again).
    pub status: &'static str,
    /// The holder, when held (left out for operators limited to an org unit).
    pub holder: Option<String>,
    /// The holder's state, when held.
    pub holder_state: Option<String>,
    /// What binding it to someone would do: `enroll` (a new card),
    /// `recycle` (a card from stock), or `refused`.
    pub action: &'static str,
    /// Why it would be refused (`credential_held`, `credential_retired`).
    pub code: Option<&'static str>,
}

impl From<CardVerdict> for CardStatus {
    fn from(v: CardVerdict) -> Self {
        Self {
            status: v.status,
            holder: v.holder.map(|h| h.to_string()),
            holder_state: v.holder_state.map(|h| h.as_str().to_owned()),
            action: v.action,
            code: v.code,
        }
    }
}

/// One reader event as staff see it.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct TapNotice {
    /// The event's number in this service's reader stream.
    pub seq: u64,
    /// The reader's ID.
    pub reader: String,
    /// When it happened.
    pub at: String,
    /// `tap`, `unreadable`, `card_removed`, `reader_added`,
    /// `reader_removed` or `source_down` (pcscd went away; each reader is
    /// reported added again when it is back).
    pub kind: &'static str,
    /// The UID in hex, for a tap.
    pub uid: Option<String>,
    /// The card type from its ATR.
    #[schema(value_type = Option<String>)]
    pub card_type: Option<CardType>,
    /// For an unreadable card: `random_uid`, `uid_unavailable`,
    /// `card_removed`, `card_mute` or `reader_error`.
    pub code: Option<&'static str>,
    /// For a tap: what the card is and what enrolling it would do.
    pub credential: Option<CardStatus>,
}

/// A card read for a person, waiting for confirmation.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct Enrollment {
    /// Confirm with `POST /enrollments/{id}/confirm` within ten minutes.
    pub id: String,
    /// The reader it was read on.
    pub reader: String,
    /// The person.
    pub user_id: String,
    /// The UID read, in hex.
    pub uid: String,
    /// `iso14443a` for desk readers and card serial numbers; `other` for a
    /// Wiegand number from an OSDP reader.
    pub technology: String,
    /// The card type from its ATR.
    #[schema(value_type = String)]
    pub card_type: CardType,
    /// What the card is, and what confirming would do.
    pub credential: CardStatus,
}

/// The encoded card.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Encoded {
    /// The encoder.
    pub encoder: String,
    /// The card's UID.
    pub uid: String,
    /// The number written.
    pub number: u32,
    /// Read back from the card after writing, and equal.
    pub verified: bool,
}

/// An OSDP card read as it came off the wire.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RawRead {
    /// `wiegand` or `raw`.
    pub format: &'static str,
    /// Bit count.
    pub bits: u16,
    /// The bits as read, hex, MSB first.
    pub data: String,
    /// H10301 facility code; absent for other formats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facility: Option<u8>,
    /// H10301 card number; absent for other formats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<u16>,
}

impl From<osdp::RawRead> for RawRead {
    fn from(r: osdp::RawRead) -> Self {
        Self { format: r.format, bits: r.bits, data: r.data, facility: r.facility, card: r.card }
    }
}

/// What happened at a reader (the `kind` of a [`ReaderEvent`]).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReaderEventKind {
    /// The reader appeared.
    ReaderAdded,
    /// The reader went away.
    ReaderRemoved,
    /// A card was read.
    Tap {
        /// Its UID, uppercase hex.
        #[serde(serialize_with = "ser_uid")]
        uid: Uid,
        /// What kind of card, from its ATR (`other` for OSDP reads).
        card_type: CardType,
        /// For an OSDP read: the bits as read, and the Wiegand fields.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawRead>,
    },
    /// A card was seen but its UID could not be used.
    Unreadable {
        /// `random_uid`, `uid_unavailable`, `card_removed`, `card_mute`, `reader_error`.
        code: &'static str,
        /// What kind of card, when known.
        card_type: Option<CardType>,
    },
    /// The card left the reader.
    CardRemoved,
    /// The reader source lost its connection to the readers.
    SourceDown,
}

fn ser_uid<S: serde::Serializer>(u: &Uid, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(u)
}

impl From<hw::ReaderEventKind> for ReaderEventKind {
    fn from(k: hw::ReaderEventKind) -> Self {
        match k {
            hw::ReaderEventKind::ReaderAdded => Self::ReaderAdded,
            hw::ReaderEventKind::ReaderRemoved => Self::ReaderRemoved,
            hw::ReaderEventKind::Tap { uid, card_type, raw } => {
                Self::Tap { uid, card_type: card_type.into(), raw: raw.map(|r| RawRead::from(*r)) }
            }
            hw::ReaderEventKind::Unreadable { code, card_type } => {
                Self::Unreadable { code, card_type: card_type.map(CardType::from) }
            }
            hw::ReaderEventKind::CardRemoved => Self::CardRemoved,
            hw::ReaderEventKind::SourceDown => Self::SourceDown,
        }
    }
}

/// One event from one reader: a line of `idms readers --watch --json`
/// (which adds `credential`, what the card is, when it knows).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReaderEvent {
    /// The reader's ID.
    pub reader: String,
    /// When it happened (RFC 3339, UTC).
    pub at: Timestamp,
    /// What happened: `kind` and its fields.
    #[serde(flatten)]
    pub kind: ReaderEventKind,
}

impl From<hw::ReaderEvent> for ReaderEvent {
    fn from(e: hw::ReaderEvent) -> Self {
        Self { reader: e.reader, at: e.at, kind: e.kind.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: hw::ReaderEventKind) -> ReaderEvent {
        hw::ReaderEvent::new("R1", Timestamp(0), kind, None).into()
    }

    #[test]
    fn events_serialise_with_their_kind_flattened() {
        let uid = Uid::from_bytes(&[4, 0xA1, 0xB2, 0xC3]).unwrap();
        let e = ev(hw::ReaderEventKind::Tap { uid, card_type: hw::CardType::Desfire, raw: None });
        let j = serde_json::to_value(&e).unwrap();
        assert_eq!(j["kind"], "tap");
        assert_eq!(j["uid"], "04A1B2C3");
        assert_eq!(j["card_type"], "desfire");
        assert_eq!(j["reader"], "R1");
        let u = ev(hw::ReaderEventKind::Unreadable { code: "random_uid", card_type: None });
        assert_eq!(serde_json::to_value(&u).unwrap()["code"], "random_uid");
    }
}
