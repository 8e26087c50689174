//! OSDP frames: `Packet::new_checked` → `Repr::parse` → `emit` →
//! `new_checked` → `Repr::parse` is the identity, the emitted bytes are the
//! input's (CTRL's undefined high bits aside), and `find_frame` never
//! panics and only reports offsets inside the buffer. Each input is also
//! tried with its check bytes made right.
#![no_main]

use firmware_protocol::check;
use firmware_protocol::packet::{self, Error, MAX_FRAME, Packet, Repr, SOM};
use libfuzzer_sys::fuzz_target;

/// CTRL bits the crate defines (sequence, CRC, security block); emit
/// writes only these.
const CTRL_DEFINED: u8 = 0x0F;

fuzz_target!(|data: &[u8]| {
    check_find_frame(data);
    check_frame(data);
    // Most mutations break the check bytes; also try the input with them
    // made right, so the fuzzer gets past them into the security block,
    // MAC and data lengths.
    if let Some(fixed) = with_valid_check(data) {
        check_find_frame(&fixed);
        check_frame(&fixed);
    }
});

/// The input with its checksum or CRC recomputed, when its LEN fits it.
fn with_valid_check(data: &[u8]) -> Option<Vec<u8>> {
    let [SOM, _, lo, hi, ctrl, ..] = *data else { return None };
    let len = usize::from(u16::from_le_bytes([lo, hi]));
    let check_len = if ctrl & 0x04 != 0 { 2 } else { 1 };
    if len < 6 + check_len || len > data.len() {
        return None;
    }
    let mut fixed = data.to_vec();
    let at = len - check_len;
    if check_len == 2 {
        let c = check::crc16_bytes(&fixed[..at]);
        fixed[at..len].copy_from_slice(&c);
    } else {
        fixed[at] = check::checksum(&fixed[..at]);
    }
    Some(fixed)
}

fn check_frame(data: &[u8]) {
    let p = match Packet::new_checked(data) {
        Ok(p) => p,
        Err(Error::BufferTooSmall) => panic!("new_checked never reports BufferTooSmall"),
        Err(_) => return,
    };
    let len = p.frame_len();
    assert!(len <= data.len() && len <= MAX_FRAME);
    // The frame alone (without whatever followed it) is valid too.
    let alone = Packet::new_checked(&data[..len]).expect("the frame cut at LEN is still valid");

    let repr = Repr::parse(&p);
    assert_eq!(Repr::parse(&alone), repr);
    assert_eq!(repr.frame_len(), len, "Repr::frame_len disagrees with LEN");
    assert!(repr.address <= 0x7F && repr.sequence <= 3);
    if let Some(scb) = repr.security_block {
        assert!(scb.len() >= 2 && usize::from(scb[0]) == scb.len());
        assert_eq!(repr.mac.is_some(), (0x15..=0x18).contains(&scb[1]));
    } else {
        assert!(repr.mac.is_none());
    }

    let mut buf = [0u8; MAX_FRAME];
    let n = repr.emit(&mut buf).expect("a parsed frame emits");
    assert_eq!(n, len);
    // Too small a buffer is refused, not a panic.
    assert_eq!(repr.emit(&mut buf[..n - 1]), Err(Error::BufferTooSmall));

    let q = Packet::new_checked(&buf[..n]).expect("an emitted frame checks");
    assert_eq!(Repr::parse(&q), repr, "parse → emit → parse changed the frame");

    // Canonical: emit rewrites CTRL from the Repr, so only CTRL's undefined
    // high bits (and then the check bytes over them) may differ.
    let input = &data[..len];
    if input[4] & !CTRL_DEFINED == 0 {
        assert_eq!(&buf[..n], input, "emit is not byte-for-byte the parsed frame");
    } else {
        let check = if repr.crc { 2 } else { 1 };
        assert_eq!(buf[4], input[4] & CTRL_DEFINED);
        assert_eq!(&buf[..4], &input[..4]);
        assert_eq!(&buf[5..n - check], &input[5..len - check]);
    }
}

fn check_find_frame(data: &[u8]) {
    match packet::find_frame(data) {
        Ok((drop, None)) => {
            assert!(drop <= data.len(), "find_frame: drop {drop} past the end ({})", data.len());
            // Noise only (all dropped), or a SOM that starts an incomplete frame.
            assert!(drop == data.len() || data[drop] == SOM);
            assert!(!data[..drop].contains(&SOM), "find_frame skipped a SOM");
        }
        Ok((start, Some(len))) => {
            assert!(start < data.len() && len <= data.len() - start, "find_frame: frame {start}+{len} out of bounds");
            assert_eq!(data[start], SOM);
            assert!(!data[..start].contains(&SOM), "find_frame skipped a SOM");
            let p = Packet::new_checked(&data[start..start + len]).expect("find_frame's frame checks");
            assert_eq!(p.frame_len(), len);
        }
        Err((drop, e)) => {
            assert!(drop >= 1 && drop <= data.len(), "find_frame: drop {drop} out of bounds");
            assert_eq!(data[drop - 1], SOM, "find_frame drops through the bad frame's SOM");
            assert!(!data[..drop - 1].contains(&SOM), "find_frame skipped a SOM");
            assert!(!matches!(e, Error::Truncated | Error::NoSom | Error::BufferTooSmall), "find_frame: {e:?}");
        }
    }
}
