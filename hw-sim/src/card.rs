//! A virtual contactless card: its ATR and how it answers APDUs.
//!
//! The PC/SC "GET DATA" pseudo-APDU `FF CA 00 00 Le` returns the UID
//! followed by `90 00` (PC/SC Part 3). Card models differ in UID length,
//! ATR, and whether they support GET DATA at all.

/// Status word: success.
pub const SW_OK: [u8; 2] = [0x90, 0x00];
/// Status word: function not supported.
pub const SW_FUNC_NOT_SUPPORTED: [u8; 2] = [0x6A, 0x81];
/// Status word: instruction not supported.
pub const SW_INS_NOT_SUPPORTED: [u8; 2] = [0x6D, 0x00];

/// The kind of card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardModel {
    /// MIFARE Classic 1K, 4-byte UID.
    MifareClassic1k,
    /// MIFARE Ultralight, 7-byte UID.
    Ultralight,
    /// DESFire, 7-byte UID.
    Desfire,
    /// A card that does not support GET DATA.
    NoGetData,
    /// An ISO 14443-A card with a random UID (first byte `08`), as privacy
    /// cards and phones present: a new UID every tap.
    RandomUid,
    /// A card that leaves the field in the middle of an APDU: it answers the
    /// ATR, then drops the connection instead of answering a command.
    VanishMidApdu,
}

/// A card with a UID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualCard {
    model: CardModel,
    uid: Vec<u8>,
}

impl VirtualCard {
    /// A card of `model` with `uid`.
    #[must_use]
    pub fn new(model: CardModel, uid: &[u8]) -> Self {
        Self { model, uid: uid.to_vec() }
    }

    /// The ATR a PC/SC reader reports for this card (PC/SC Part 3 storage-card
    /// ATR with the card name byte: 00 01 Classic 1K, 00 03 Ultralight; a
    /// DESFire answers with an ISO 14443-4 ATR).
    #[must_use]
    pub fn atr(&self) -> Vec<u8> {
        let storage = |name: u8| {
            let mut a = vec![0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, name];
            a.extend_from_slice(&[0x00, 0x00, 0x00, 0x00]);
            let tck = a[1..].iter().fold(0u8, |x, b| x ^ b);
            a.push(tck);
            a
        };
        match self.model {
            CardModel::MifareClassic1k | CardModel::NoGetData | CardModel::RandomUid | CardModel::VanishMidApdu => {
                storage(0x01)
            }
            CardModel::Ultralight => storage(0x03),
            CardModel::Desfire => vec![0x3B, 0x81, 0x80, 0x01, 0x80, 0x80],
        }
    }

    /// The card's model.
    #[must_use]
    pub fn model(&self) -> CardModel {
        self.model
    }

    /// The card's UID.
    #[must_use]
    pub fn uid(&self) -> &[u8] {
        &self.uid
    }

    /// Whether the card leaves the field instead of answering this APDU.
    #[must_use]
    pub fn vanishes_on(&self, _apdu: &[u8]) -> bool {
        self.model == CardModel::VanishMidApdu
    }

    /// Answers one command APDU with a response APDU (data ‖ SW1 SW2).
    #[must_use]
    pub fn respond(&self, apdu: &[u8]) -> Vec<u8> {
        match apdu {
            [0xFF, 0xCA, 0x00, 0x00, rest @ ..] if rest.len() <= 1 => {
                if self.model == CardModel::NoGetData {
                    return SW_FUNC_NOT_SUPPORTED.to_vec();
                }
                let le = rest.first().copied().unwrap_or(0);
                if le != 0 && usize::from(le) != self.uid.len() {
                    // Wrong Le: tell the reader the right length.
                    return vec![0x6C, self.uid.len() as u8];
                }
                let mut out = self.uid.clone();
                out.extend_from_slice(&SW_OK);
                out
            }
            _ => SW_INS_NOT_SUPPORTED.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_data_returns_the_uid() {
        let c = VirtualCard::new(CardModel::Ultralight, &[0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
        assert_eq!(c.respond(&[0xFF, 0xCA, 0x00, 0x00, 0x00]), [0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x90, 0x00]);
        assert_eq!(c.respond(&[0xFF, 0xCA, 0x00, 0x00, 0x04]), [0x6C, 0x07]);
        assert_eq!(c.respond(&[0x00, 0xA4, 0x04, 0x00]), SW_INS_NOT_SUPPORTED);
    }

    #[test]
    fn random_uid_card_and_vanishing_card() {
        let c = VirtualCard::new(CardModel::RandomUid, &[0x08, 0x12, 0x34, 0x56]);
        assert_eq!(c.respond(&[0xFF, 0xCA, 0x00, 0x00, 0x00]), [0x08, 0x12, 0x34, 0x56, 0x90, 0x00]);
        assert!(!c.vanishes_on(&[0xFF, 0xCA, 0x00, 0x00, 0x00]));
        let v = VirtualCard::new(CardModel::VanishMidApdu, &[0x04, 1, 2, 3]);
        assert!(v.vanishes_on(&[0xFF, 0xCA, 0x00, 0x00, 0x00]));
    }

    #[test]
    fn card_without_get_data_says_so() {
        let c = VirtualCard::new(CardModel::NoGetData, &[1, 2, 3, 4]);
        assert_eq!(c.respond(&[0xFF, 0xCA, 0x00, 0x00, 0x00]), SW_FUNC_NOT_SUPPORTED);
    }

    #[test]
    fn storage_atr_names_the_card_and_checks_out() {
        let atr = VirtualCard::new(CardModel::MifareClassic1k, &[1, 2, 3, 4]).atr();
        assert_eq!(atr[13..15], [0x00, 0x01]);
        assert_eq!(atr[1..].iter().fold(0u8, |x, b| x ^ b), 0, "TCK makes the XOR of T0..TCK zero");
    }
}
