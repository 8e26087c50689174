//! Reading a contactless card's UID with the PC/SC "GET DATA" pseudo-APDU
//! `FF CA 00 00 00` (PC/SC Part 3, 3.2.2.1.3), and what its answers mean.

use crate::domain::{Technology, Uid};

/// `FF CA 00 00 00`: get the UID, full length.
pub const GET_UID: [u8; 5] = [0xFF, 0xCA, 0x00, 0x00, 0x00];

/// What a GET DATA answer means for the tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UidRead {
    /// A usable UID.
    Uid(Uid),
    /// An ISO 14443-A random UID: report it, never enrol it.
    Random(Uid),
    /// Ask again with this Le (`6C xx`: wrong length).
    RetryWithLe(u8),
    /// The card or reader cannot give a UID (`6A 81`, `6D 00`, …): `uid_unavailable`.
    Unavailable,
    /// No status word came back: the card left mid-APDU.
    NoAnswer,
    /// A status word came with a malformed answer.
    Broken,
}

/// Interprets an R-APDU to [`GET_UID`]. `62 82` (end of data reached
/// before Le) still carries a whole UID and is accepted.
#[must_use]
pub fn interpret_get_data(response: &[u8]) -> UidRead {
    let Some((sw, data)) = response.len().checked_sub(2).map(|n| (&response[n..], &response[..n])) else {
        return UidRead::NoAnswer;
    };
    match (sw[0], sw[1]) {
        (0x90, 0x00) | (0x62, 0x82) => match Uid::from_bytes(data) {
            Ok(uid) if uid.is_random(Technology::Iso14443a) => UidRead::Random(uid),
            Ok(uid) => UidRead::Uid(uid),
            Err(_) => UidRead::Broken,
        },
        (0x6C, le) => UidRead::RetryWithLe(le),
        (0x6A, 0x81) | (0x6D, 0x00) | (0x6E, 0x00) | (0x68, _) | (0x6A, _) => UidRead::Unavailable,
        _ => UidRead::Broken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let uid = |b: &[u8]| Uid::from_bytes(b).unwrap();
        assert_eq!(
            interpret_get_data(&[0x04, 0xA1, 0xB2, 0xC3, 0x90, 0x00]),
            UidRead::Uid(uid(&[0x04, 0xA1, 0xB2, 0xC3]))
        );
        assert_eq!(interpret_get_data(&[0x08, 0x01, 0x02, 0x03, 0x90, 0x00]), UidRead::Random(uid(&[0x08, 1, 2, 3])));
        assert_eq!(interpret_get_data(&[1, 2, 3, 4, 5, 6, 7, 0x62, 0x82]), UidRead::Uid(uid(&[1, 2, 3, 4, 5, 6, 7])));
        assert_eq!(interpret_get_data(&[0x6C, 0x07]), UidRead::RetryWithLe(7));
        assert_eq!(interpret_get_data(&[0x6A, 0x81]), UidRead::Unavailable);
        assert_eq!(interpret_get_data(&[0x90, 0x00]), UidRead::Broken, "success without a UID");
        assert_eq!(interpret_get_data(&[0x90]), UidRead::NoAnswer);
        assert_eq!(interpret_get_data(&[]), UidRead::NoAnswer, "the card left mid-APDU");
        assert_eq!(interpret_get_data(&[0u8; 19]), UidRead::Broken, "17 bytes is no UID");
    }
}
