//! The IDMS badge-encoder extension, carried in OSDP's manufacturer-
//! specific `MFG` command and `MFGREP` reply (specified in `PROTOCOL.md`):
//! *encode* an issued credential number onto the card in the encoder's
//! field, *read back* what the card holds, and ask the encoder's *status*.

use crate::codes::{PayloadError, byte_enum, code_of};

/// The organisation ID that marks this extension's `MFG` payloads.
pub const OUI: [u8; 3] = [0x1D, 0x4D, 0x53];
/// The longest UID the extension carries.
pub const MAX_UID: usize = 10;

const OP_ENCODE: u8 = 0x01;
const OP_READ_BACK: u8 = 0x02;
const OP_STATUS: u8 = 0x03;
const REPLY_BIT: u8 = 0x80;

/// A request to the encoder (`MFG` data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderCommand<'a> {
    /// Write `number` to the card whose UID is `uid` (the encoder refuses
    /// another card).
    Encode {
        /// Echoed in the reply.
        request: u16,
        /// The card expected in the field.
        uid: &'a [u8],
        /// The issued credential number.
        number: u32,
    },
    /// Read back what the card in the field holds.
    ReadBack {
        /// Echoed in the reply.
        request: u16,
    },
    /// Report the encoder's state.
    Status {
        /// Echoed in the reply.
        request: u16,
    },
}

byte_enum! {
    /// How an encoder operation ended.
    Outcome {
        /// Done.
        Ok = 0,
        /// Still working on an earlier request: ask again.
        Busy = 1,
        /// No card in the field.
        NoCard = 2,
        /// A different card than the one named is in the field.
        WrongCard = 3,
        /// The write failed.
        WriteFailed = 4,
        /// Written, but reading back gave something else.
        VerifyFailed = 5,
    }
}

/// The encoder's answer (`MFGREP` data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderReply<'a> {
    /// To `Encode`.
    Encoded {
        /// The request's ID.
        request: u16,
        /// How it ended.
        outcome: Outcome,
    },
    /// To `ReadBack`: the card's UID and the number it holds (0: none).
    Card {
        /// The request's ID.
        request: u16,
        /// How it ended.
        outcome: Outcome,
        /// The card's UID (empty without a card).
        uid: &'a [u8],
        /// The credential number on the card.
        number: u32,
    },
    /// To `Status`.
    Status {
        /// The request's ID.
        request: u16,
        /// Whether a card is in the field.
        card_present: bool,
        /// How the last encode ended.
        last: Outcome,
    },
}

fn header(d: &[u8]) -> Result<(u8, u16, &[u8]), PayloadError> {
    match d {
        [a, b, c, op, r0, r1, rest @ ..] if [*a, *b, *c] == OUI => Ok((*op, u16::from_le_bytes([*r0, *r1]), rest)),
        [_, _, _, _, _, _, ..] => Err(PayloadError::Format),
        _ => Err(PayloadError::Length),
    }
}

fn put(buf: &mut [u8], at: &mut usize, bytes: &[u8]) -> Option<()> {
    buf.get_mut(*at..*at + bytes.len())?.copy_from_slice(bytes);
    *at += bytes.len();
    Some(())
}

fn uid_field(rest: &[u8]) -> Result<(&[u8], &[u8]), PayloadError> {
    let (&n, rest) = rest.split_first().ok_or(PayloadError::Length)?;
    let n = usize::from(n);
    if n > MAX_UID || rest.len() < n {
        return Err(PayloadError::Length);
    }
    Ok(rest.split_at(n))
}

fn u32_exact(rest: &[u8]) -> Result<u32, PayloadError> {
    let b: [u8; 4] = rest.try_into().map_err(|_| PayloadError::Length)?;
    Ok(u32::from_le_bytes(b))
}

impl<'a> EncoderCommand<'a> {
    /// Parses `MFG` data; `Err(Format)` when it is another vendor's.
    pub fn parse(d: &'a [u8]) -> Result<Self, PayloadError> {
        let (op, request, rest) = header(d)?;
        match op {
            OP_ENCODE => {
                let (uid, rest) = uid_field(rest)?;
                Ok(Self::Encode { request, uid, number: u32_exact(rest)? })
            }
            OP_READ_BACK if rest.is_empty() => Ok(Self::ReadBack { request }),
            OP_STATUS if rest.is_empty() => Ok(Self::Status { request }),
            OP_READ_BACK | OP_STATUS => Err(PayloadError::Length),
            _ => Err(PayloadError::Format),
        }
    }

    /// Writes the `MFG` data into `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        let mut at = 0;
        put(buf, &mut at, &OUI)?;
        match *self {
            Self::Encode { request, uid, number } => {
                let n = u8::try_from(uid.len()).ok().filter(|&n| usize::from(n) <= MAX_UID)?;
                put(buf, &mut at, &[OP_ENCODE])?;
                put(buf, &mut at, &request.to_le_bytes())?;
                put(buf, &mut at, &[n])?;
                put(buf, &mut at, uid)?;
                put(buf, &mut at, &number.to_le_bytes())?;
            }
            Self::ReadBack { request } => {
                put(buf, &mut at, &[OP_READ_BACK])?;
                put(buf, &mut at, &request.to_le_bytes())?;
            }
            Self::Status { request } => {
                put(buf, &mut at, &[OP_STATUS])?;
                put(buf, &mut at, &request.to_le_bytes())?;
            }
        }
        Some(at)
    }
}

impl<'a> EncoderReply<'a> {
    /// Parses `MFGREP` data; `Err(Format)` when it is another vendor's.
    pub fn parse(d: &'a [u8]) -> Result<Self, PayloadError> {
        let (op, request, rest) = header(d)?;
        let (&outcome, rest) = rest.split_first().ok_or(PayloadError::Length)?;
        match op {
            x if x == OP_ENCODE | REPLY_BIT && rest.is_empty() => {
                Ok(Self::Encoded { request, outcome: code_of(outcome)? })
            }
            x if x == OP_READ_BACK | REPLY_BIT => {
                let (uid, rest) = uid_field(rest)?;
                Ok(Self::Card { request, outcome: code_of(outcome)?, uid, number: u32_exact(rest)? })
            }
            x if x == OP_STATUS | REPLY_BIT => match rest {
                [present @ (0 | 1)] => {
                    Ok(Self::Status { request, card_present: *present == 1, last: code_of(outcome)? })
                }
                _ => Err(PayloadError::Length),
            },
            _ => Err(PayloadError::Format),
        }
    }

    /// Writes the `MFGREP` data into `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        let mut at = 0;
        put(buf, &mut at, &OUI)?;
        match *self {
            Self::Encoded { request, outcome } => {
                put(buf, &mut at, &[OP_ENCODE | REPLY_BIT])?;
                put(buf, &mut at, &request.to_le_bytes())?;
                put(buf, &mut at, &[outcome as u8])?;
            }
            Self::Card { request, outcome, uid, number } => {
                let n = u8::try_from(uid.len()).ok().filter(|&n| usize::from(n) <= MAX_UID)?;
                put(buf, &mut at, &[OP_READ_BACK | REPLY_BIT])?;
                put(buf, &mut at, &request.to_le_bytes())?;
                put(buf, &mut at, &[outcome as u8, n])?;
                put(buf, &mut at, uid)?;
                put(buf, &mut at, &number.to_le_bytes())?;
            }
            Self::Status { request, card_present, last } => {
                put(buf, &mut at, &[OP_STATUS | REPLY_BIT])?;
                put(buf, &mut at, &request.to_le_bytes())?;
                put(buf, &mut at, &[last as u8, u8::from(card_present)])?;
            }
        }
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_replies_round_trip() {
        let uid = [0x04, 0xA1, 0xB2, 0xC3];
        let mut buf = [0u8; 32];
        let cmds = [
            EncoderCommand::Encode { request: 7, uid: &uid, number: 123_456 },
            EncoderCommand::ReadBack { request: 8 },
            EncoderCommand::Status { request: 9 },
        ];
        for c in cmds {
            let n = c.emit(&mut buf).unwrap();
            assert_eq!(EncoderCommand::parse(&buf[..n]), Ok(c));
            assert!(EncoderCommand::parse(&buf[..n - 1]).is_err(), "{c:?} cut short");
        }
        let n = cmds[0].emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[0x1D, 0x4D, 0x53, 0x01, 7, 0, 4, 0x04, 0xA1, 0xB2, 0xC3, 0x40, 0xE2, 0x01, 0x00]);
        let replies = [
            EncoderReply::Encoded { request: 7, outcome: Outcome::VerifyFailed },
            EncoderReply::Card { request: 8, outcome: Outcome::Ok, uid: &uid, number: 123_456 },
            EncoderReply::Status { request: 9, card_present: true, last: Outcome::Ok },
        ];
        for r in replies {
            let n = r.emit(&mut buf).unwrap();
            assert_eq!(EncoderReply::parse(&buf[..n]), Ok(r));
        }
    }

    #[test]
    fn other_vendors_and_bad_lengths_are_refused() {
        assert_eq!(EncoderCommand::parse(&[0x00, 0x01, 0x02, 0x01, 0, 0]), Err(PayloadError::Format));
        assert_eq!(EncoderCommand::parse(&[0x1D, 0x4D]), Err(PayloadError::Length));
        let too_long = [0x1D, 0x4D, 0x53, 0x01, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(EncoderCommand::parse(&too_long), Err(PayloadError::Length), "UID over 10 bytes");
        let mut buf = [0u8; 4];
        assert_eq!(EncoderCommand::Status { request: 1 }.emit(&mut buf), None, "buffer too small");
    }
}
