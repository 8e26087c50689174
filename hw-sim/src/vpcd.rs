//! The vsmartcard `vpcd` wire protocol between pcscd's driver and a card.
//!
//! Both directions: a 2-byte big-endian length, then the payload. From the
//! driver, a one-byte payload is a control message (`00` power off, `01`
//! power on, `02` reset, `04` get ATR); anything longer is a command APDU.

use crate::card::VirtualCard;

/// A message from the vpcd driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// Power off.
    PowerOff,
    /// Power on.
    PowerOn,
    /// Reset.
    Reset,
    /// Send the ATR.
    GetAtr,
    /// A command APDU.
    Apdu(&'a [u8]),
    /// A one-byte message this simulator does not know.
    Unknown(u8),
}

/// Parses one payload (without its length prefix).
#[must_use]
pub fn parse(payload: &[u8]) -> Request<'_> {
    match payload {
        [0x00] => Request::PowerOff,
        [0x01] => Request::PowerOn,
        [0x02] => Request::Reset,
        [0x04] => Request::GetAtr,
        [b] => Request::Unknown(*b),
        apdu => Request::Apdu(apdu),
    }
}

/// Frames a payload: 2-byte big-endian length, then the bytes.
/// Payloads longer than 65535 bytes cannot be framed.
#[must_use]
pub fn frame(payload: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(payload.len()).ok()?;
    let mut out = Vec::with_capacity(payload.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Some(out)
}

/// What the card sends back for a request, if anything (control messages
/// other than get-ATR have no answer).
#[must_use]
pub fn answer(card: &VirtualCard, req: &Request<'_>) -> Option<Vec<u8>> {
    match req {
        Request::GetAtr => Some(card.atr()),
        Request::Apdu(a) => Some(card.respond(a)),
        Request::PowerOff | Request::PowerOn | Request::Reset | Request::Unknown(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::CardModel;

    #[test]
    fn control_and_apdu_messages() {
        assert_eq!(parse(&[0x01]), Request::PowerOn);
        assert_eq!(parse(&[0x04]), Request::GetAtr);
        assert_eq!(parse(&[0xFF, 0xCA, 0x00, 0x00, 0x00]), Request::Apdu(&[0xFF, 0xCA, 0x00, 0x00, 0x00]));
        let card = VirtualCard::new(CardModel::MifareClassic1k, &[0x04, 0xA1, 0xB2, 0xC3]);
        assert_eq!(answer(&card, &parse(&[0x00])), None);
        assert_eq!(
            answer(&card, &parse(&[0xFF, 0xCA, 0x00, 0x00, 0x00])),
            Some(vec![0x04, 0xA1, 0xB2, 0xC3, 0x90, 0x00])
        );
    }

    #[test]
    fn frames_with_big_endian_length() {
        assert_eq!(frame(&[0xAA; 3]), Some(vec![0x00, 0x03, 0xAA, 0xAA, 0xAA]));
        assert_eq!(frame(&vec![0; 0x1_0000]), None);
    }
}
