//! Naming a contactless card from the ATR a PC/SC reader synthesises for it
//! (PC/SC Part 3, section 3.1.3.2.3): storage cards carry a registered
//! application provider ID `A0 00 00 03 06`, the card standard byte, and a
//! two-byte card name; ISO 14443-4 cards (DESFire and other smart cards)
//! answer with a short ATR built from their ATS.

/// The kind of card, as far as the ATR tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardType {
    /// MIFARE Classic 1K.
    MifareClassic1k,
    /// MIFARE Classic 4K.
    MifareClassic4k,
    /// MIFARE Ultralight (and NTAG, which readers report the same way).
    MifareUltralight,
    /// MIFARE Mini.
    MifareMini,
    /// DESFire (the common ISO 14443-4 ATR `3B 81 80 01 80 80`).
    Desfire,
    /// Another ISO 14443-4 card.
    Iso14443_4,
    /// Anything else.
    Other,
}

/// The registered application provider ID of PC/SC Part 3 storage cards.
const PCSC_RID: [u8; 5] = [0xA0, 0x00, 0x00, 0x03, 0x06];

/// Names a card from its ATR. Never fails: an unknown ATR is `Other`.
#[must_use]
pub fn card_type(atr: &[u8]) -> CardType {
    if atr == [0x3B, 0x81, 0x80, 0x01, 0x80, 0x80] {
        return CardType::Desfire;
    }
    // 3B 8F 80 01 80 4F 0C | RID(5) | standard | name(2) | RFU(4) | TCK
    if atr.len() >= 15 && atr[0] == 0x3B && atr.get(4..7) == Some(&[0x80, 0x4F, 0x0C]) && atr[7..12] == PCSC_RID {
        return match (atr[13], atr[14]) {
            (0x00, 0x01) => CardType::MifareClassic1k,
            (0x00, 0x02) => CardType::MifareClassic4k,
            (0x00, 0x03) => CardType::MifareUltralight,
            (0x00, 0x26) => CardType::MifareMini,
            _ => CardType::Other,
        };
    }
    // Short ATRs of ISO 14443-4 cards: 3B 8n 80 01 ...
    if atr.len() >= 4 && atr[0] == 0x3B && atr[1] & 0xF0 == 0x80 && atr[2] == 0x80 && atr[3] == 0x01 {
        return CardType::Iso14443_4;
    }
    CardType::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn known_atrs() {
        let cases = [
            ("3B8F8001804F0CA000000306030001000000006A", CardType::MifareClassic1k),
            ("3B8F8001804F0CA0000003060300020000000069", CardType::MifareClassic4k),
            ("3B8F8001804F0CA0000003060300030000000068", CardType::MifareUltralight),
            ("3B8180018080", CardType::Desfire),
            ("3B878001C1052F2F01BCD6A9", CardType::Iso14443_4),
            ("3B0000", CardType::Other),
            ("", CardType::Other),
        ];
        for (atr, want) in cases {
            assert_eq!(card_type(&hex(atr)), want, "{atr}");
        }
    }
}
