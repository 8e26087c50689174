//! Properties of the wire format: emit → parse is the identity for frames
//! and every payload, parse → emit gives the same bytes back where the
//! format is canonical, and a frame with one byte changed is refused (or,
//! where the change moves the frame's layout, never read as the same frame).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use firmware_protocol::codes::{CardRead, H10301, PayloadError};
use firmware_protocol::mfg::{EncoderCommand, EncoderReply, MAX_UID, Outcome};
use firmware_protocol::packet::{self, MARK, MAX_FRAME, Packet, Repr, SOM};
use firmware_protocol::payloads::{Buzzer, Color, ComSet, Led, PdId};
use proptest::collection::vec;
use proptest::prelude::*;

/// The SCB types after which a 4-byte MAC follows the data.
const MAC_TYPES: core::ops::RangeInclusive<u8> = 0x15..=0x18;

/// An owned frame, to borrow a [`Repr`] from.
#[derive(Debug, Clone)]
struct Frame {
    address: u8,
    reply: bool,
    sequence: u8,
    crc: bool,
    /// The whole security block: length, type, data.
    scb: Option<Vec<u8>>,
    mac: Option<[u8; 4]>,
    code: u8,
    data: Vec<u8>,
}

impl Frame {
    fn repr(&self) -> Repr<'_> {
        Repr {
            address: self.address,
            reply: self.reply,
            sequence: self.sequence,
            crc: self.crc,
            security_block: self.scb.as_deref(),
            code: self.code,
            data: &self.data,
            mac: self.mac,
        }
    }

    fn emit(&self) -> Vec<u8> {
        let mut buf = vec![0u8; MAX_FRAME];
        let n = self.repr().emit(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }
}

fn scb(kind: u8, data: Vec<u8>) -> Vec<u8> {
    let mut b = vec![u8::try_from(data.len() + 2).unwrap(), kind];
    b.extend(data);
    b
}

/// A well-formed security block and MAC: a MAC exactly when the block's
/// type calls for one.
fn security() -> impl Strategy<Value = (Option<Vec<u8>>, Option<[u8; 4]>)> {
    prop_oneof![
        Just((None, None)),
        (any::<u8>().prop_filter("no MAC", |t| !MAC_TYPES.contains(t)), vec(any::<u8>(), 0..=16))
            .prop_map(|(t, d)| (Some(scb(t, d)), None)),
        (MAC_TYPES, vec(any::<u8>(), 0..=16), any::<[u8; 4]>()).prop_map(|(t, d, m)| (Some(scb(t, d)), Some(m))),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    (0u8..=0x7F, any::<bool>(), 0u8..=3, any::<bool>(), security(), any::<u8>(), vec(any::<u8>(), 0..=200)).prop_map(
        |(address, reply, sequence, crc, (scb, mac), code, data)| Frame {
            address,
            reply,
            sequence,
            crc,
            scb,
            mac,
            code,
            data,
        },
    )
}

/// Whether changing byte `i` of `f`'s frame by `mask` can move where its
/// fields are (LEN, CTRL's CRC and SCB bits, the SCB's length, an SCB
/// type that turns the MAC on or off). Any other single-byte change must
/// fail the check: a CRC-16 catches every burst of up to 16 bits, and the
/// checksum every change of one byte.
fn moves_layout(f: &Frame, i: usize, mask: u8) -> bool {
    match (i, &f.scb) {
        (2 | 3, _) => true,
        (4, _) => mask & 0x0C != 0,
        (5, Some(_)) => true,
        (6, Some(s)) => MAC_TYPES.contains(&s[1]) != MAC_TYPES.contains(&(s[1] ^ mask)),
        _ => false,
    }
}

fn color() -> impl Strategy<Value = Color> {
    (0u8..=4).prop_map(|c| Color::try_from(c).unwrap())
}

fn outcome() -> impl Strategy<Value = Outcome> {
    (0u8..=5).prop_map(|o| Outcome::try_from(o).unwrap())
}

fn uid() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=MAX_UID)
}

/// A card read's fields, with `ceil(bits / 8)` bytes of data.
fn card_read() -> impl Strategy<Value = (u8, u8, u16, Vec<u8>)> {
    (any::<u8>(), any::<u8>(), 1u16..=600)
        .prop_flat_map(|(r, f, bits)| (Just(r), Just(f), Just(bits), vec(any::<u8>(), usize::from(bits).div_ceil(8))))
}

/// Found by the `frame` fuzz target: a security block whose length byte
/// points past the end of the buffer must be refused, not panic (it did:
/// `check` read the block's type through an unchecked slice to decide
/// whether a MAC follows).
#[test]
fn a_security_block_longer_than_the_buffer_is_refused() {
    // SOM, address 0, LEN 9, CTRL: checksum + SCB; SCB length 0xFF.
    let frame = [0x53, 0x00, 0x09, 0x00, 0x08, 0xFF, 0x00, 0x00, 0x00];
    assert_eq!(Packet::new_checked(&frame[..]), Err(packet::Error::BadSecurityBlock));
    assert_eq!(packet::find_frame(&frame), Err((1, packet::Error::BadSecurityBlock)));
}

proptest! {
    #[test]
    fn frame_emit_then_parse_is_the_identity(f in frame(), noise in vec(any::<u8>().prop_filter("not SOM", |&b| b != SOM), 0..8)) {
        let repr = f.repr();
        let bytes = f.emit();
        prop_assert_eq!(bytes.len(), repr.frame_len());
        let p = Packet::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(Repr::parse(&p), repr);

        // Bytes after the frame do not change it.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[SOM, 0, 0]);
        let p = Packet::new_checked(&longer[..]).unwrap();
        prop_assert_eq!(p.frame_len(), bytes.len());
        prop_assert_eq!(Repr::parse(&p), repr);

        // Found after line noise and the mark byte.
        let mut line = noise.clone();
        line.push(MARK);
        line.extend_from_slice(&bytes);
        prop_assert_eq!(packet::find_frame(&line), Ok((noise.len() + 1, Some(bytes.len()))));
        // And not before all of it is there.
        prop_assert_eq!(packet::find_frame(&line[..line.len() - 1]), Ok((noise.len() + 1, None)));
    }

    #[test]
    fn frame_parse_then_emit_gives_the_bytes_back(f in frame()) {
        let bytes = f.emit();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let mut again = vec![0u8; MAX_FRAME];
        let n = Repr::parse(&p).emit(&mut again).unwrap();
        prop_assert_eq!(&again[..n], &bytes[..]);
    }

    #[test]
    fn a_changed_byte_is_refused(f in frame(), masks in vec(1u8..=255, 1..=4)) {
        let repr = f.repr();
        let bytes = f.emit();
        for i in 0..bytes.len() {
            let mask = masks[i % masks.len()];
            let mut bad = bytes.clone();
            bad[i] ^= mask;
            match Packet::new_checked(&bad[..]) {
                Err(_) => {}
                Ok(p) => {
                    // Only a change that moves the layout can happen to
                    // check, and then it is never read as the same frame.
                    prop_assert!(moves_layout(&f, i, mask), "byte {} ^ {:#04x} was not refused", i, mask);
                    prop_assert_ne!(Repr::parse(&p), repr, "byte {} ^ {:#04x}", i, mask);
                }
            }
        }
    }

    #[test]
    fn card_read_round_trips((reader, format, bits, data) in card_read()) {
        let read = CardRead { reader, format, bits, data: &data };
        let mut buf = [0u8; 4 + 80];
        let n = read.emit(&mut buf).unwrap();
        prop_assert_eq!(n, 4 + data.len());
        prop_assert_eq!(CardRead::parse(&buf[..n]), Ok(read));
        prop_assert_eq!(CardRead::parse(&buf[..n - 1]), Err(PayloadError::Length));
        // parse → emit → parse.
        let parsed = CardRead::parse(&buf[..n]).unwrap();
        let mut again = [0u8; 4 + 80];
        let m = parsed.emit(&mut again).unwrap();
        prop_assert_eq!(&again[..m], &buf[..n]);
        prop_assert_eq!(CardRead::parse(&again[..m]), Ok(parsed));
    }

    #[test]
    fn card_read_parse_then_emit_on_any_bytes(bytes in vec(any::<u8>(), 0..=12)) {
        if let Ok(read) = CardRead::parse(&bytes) {
            let mut buf = [0u8; 16];
            let n = read.emit(&mut buf).unwrap();
            prop_assert_eq!(&buf[..n], &bytes[..]);
        }
    }

    #[test]
    fn h10301_encode_then_decode_is_the_identity(facility in any::<u8>(), card in any::<u16>(), reader in any::<u8>()) {
        let h = H10301 { facility, card };
        let bits = h.encode();
        prop_assert_eq!(bits[3] & 0x3F, 0, "the padding after the 26 bits is zero");
        // Through a RAW reply's data, as a reader sends it.
        let mut buf = [0u8; 8];
        let n = CardRead { reader, format: 1, bits: 26, data: &bits }.emit(&mut buf).unwrap();
        let read = CardRead::parse(&buf[..n]).unwrap();
        prop_assert_eq!(H10301::decode(&read), Ok(h));
    }

    #[test]
    fn h10301_decode_then_encode_keeps_the_26_bits(data in any::<[u8; 4]>()) {
        let read = CardRead { reader: 0, format: 1, bits: 26, data: &data };
        match H10301::decode(&read) {
            Ok(h) => {
                prop_assert_eq!(h.encode(), [data[0], data[1], data[2], data[3] & 0xC0]);
                prop_assert_eq!(H10301::decode(&CardRead { data: &h.encode(), ..read }), Ok(h));
            }
            Err(e) => prop_assert_eq!(e, PayloadError::Parity),
        }
    }

    #[test]
    fn pd_id_round_trips(bytes in any::<[u8; PdId::LEN]>()) {
        let id = PdId::parse(&bytes).unwrap();
        prop_assert_eq!(id.emit(), bytes);
        prop_assert_eq!(PdId::parse(&id.emit()), Ok(id));
        prop_assert_eq!(PdId::parse(&bytes[1..]), Err(PayloadError::Length));
    }

    #[test]
    fn led_round_trips(
        bytes in any::<[u8; Led::LEN]>(),
        colors in (color(), color(), color(), color()),
    ) {
        let mut bytes = bytes;
        (bytes[5], bytes[6], bytes[12], bytes[13]) =
            (u8::from(colors.0), u8::from(colors.1), u8::from(colors.2), u8::from(colors.3));
        let led = Led::parse(&bytes).unwrap();
        prop_assert_eq!(led.emit(), bytes);
        prop_assert_eq!(Led::parse(&led.emit()), Ok(led));
    }

    #[test]
    fn led_refuses_unknown_colours(bytes in any::<[u8; Led::LEN]>(), at in prop::sample::select(vec![5usize, 6, 12, 13]), c in 5u8..=255) {
        let mut bytes = bytes;
        bytes[at] = c;
        prop_assert_eq!(Led::parse(&bytes), Err(PayloadError::Format));
    }

    #[test]
    fn buzzer_round_trips(bytes in any::<[u8; Buzzer::LEN]>()) {
        let buz = Buzzer::parse(&bytes).unwrap();
        prop_assert_eq!(buz.emit(), bytes);
        prop_assert_eq!(Buzzer::parse(&buz.emit()), Ok(buz));
    }

    #[test]
    fn comset_round_trips(address in any::<u8>(), baud in any::<u32>()) {
        let c = ComSet { address, baud };
        prop_assert_eq!(ComSet::parse(&c.emit()), Ok(c));
        let parsed = ComSet::parse(&c.emit()).unwrap();
        prop_assert_eq!(parsed.emit(), c.emit());
    }

    #[test]
    fn encoder_command_round_trips(op in 0u8..3, request in any::<u16>(), uid in uid(), number in any::<u32>()) {
        let cmd = match op {
            0 => EncoderCommand::Encode { request, uid: &uid, number },
            1 => EncoderCommand::ReadBack { request },
            _ => EncoderCommand::Status { request },
        };
        let mut buf = [0u8; 32];
        let n = cmd.emit(&mut buf).unwrap();
        prop_assert_eq!(EncoderCommand::parse(&buf[..n]), Ok(cmd));
        prop_assert!(EncoderCommand::parse(&buf[..n - 1]).is_err());
        prop_assert_eq!(cmd.emit(&mut buf[..n - 1]), None);
        // parse → emit → parse, byte for byte.
        let parsed = EncoderCommand::parse(&buf[..n]).unwrap();
        let mut again = [0u8; 32];
        let m = parsed.emit(&mut again).unwrap();
        prop_assert_eq!(&again[..m], &buf[..n]);
    }

    #[test]
    fn encoder_command_refuses_uids_over_the_limit(uid in vec(any::<u8>(), MAX_UID + 1..=40)) {
        let mut buf = [0u8; 64];
        prop_assert_eq!(EncoderCommand::Encode { request: 1, uid: &uid, number: 2 }.emit(&mut buf), None);
    }

    #[test]
    fn encoder_reply_round_trips(
        op in 0u8..3,
        request in any::<u16>(),
        outcome in outcome(),
        uid in uid(),
        number in any::<u32>(),
        card_present in any::<bool>(),
    ) {
        let reply = match op {
            0 => EncoderReply::Encoded { request, outcome },
            1 => EncoderReply::Card { request, outcome, uid: &uid, number },
            _ => EncoderReply::Status { request, card_present, last: outcome },
        };
        let mut buf = [0u8; 32];
        let n = reply.emit(&mut buf).unwrap();
        prop_assert_eq!(EncoderReply::parse(&buf[..n]), Ok(reply));
        prop_assert!(EncoderReply::parse(&buf[..n - 1]).is_err());
        prop_assert_eq!(reply.emit(&mut buf[..n - 1]), None);
        let parsed = EncoderReply::parse(&buf[..n]).unwrap();
        let mut again = [0u8; 32];
        let m = parsed.emit(&mut again).unwrap();
        prop_assert_eq!(&again[..m], &buf[..n]);
    }
}
