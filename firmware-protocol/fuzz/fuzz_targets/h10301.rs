//! H10301 Wiegand: decoding any read never panics; a decoded read
//! re-encodes to its 26 bits (the 6 padding bits after them are ignored by
//! decode, and encode writes them as zero); encode → decode is the
//! identity for every facility and card number.
#![no_main]

use firmware_protocol::codes::{CardRead, H10301, PayloadError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Encode → decode, for the facility and card the first 3 bytes name.
    if let [facility, c0, c1, ..] = *data {
        let h = H10301 { facility, card: u16::from_le_bytes([c0, c1]) };
        let bits = h.encode();
        assert_eq!(bits[3] & 0x3F, 0, "encode leaves the padding bits zero");
        let read = CardRead { reader: 0, format: 1, bits: 26, data: &bits };
        assert_eq!(H10301::decode(&read), Ok(h));
        // Any single flipped bit of the 26 breaks a parity.
        let flip = usize::from(c0 ^ c1) % 26;
        let mut bad = bits;
        bad[flip / 8] ^= 0x80 >> (flip % 8);
        let read = CardRead { reader: 0, format: 1, bits: 26, data: &bad };
        assert_eq!(H10301::decode(&read), Err(PayloadError::Parity), "flipped bit {flip}");
    }

    // Decode of a parsed RAW read.
    if let Ok(read) = CardRead::parse(data) {
        check_decode(&read);
    }
    // Decode of a read whose data disagrees with its bit count (the struct
    // is public, so decode must not trust it).
    let read = CardRead { reader: 0, format: 1, bits: 26, data };
    let _ = H10301::decode(&read);
});

fn check_decode(read: &CardRead<'_>) {
    match H10301::decode(read) {
        Ok(h) => {
            assert_eq!(read.bits, 26);
            let want = [read.data[0], read.data[1], read.data[2], read.data[3] & 0xC0];
            assert_eq!(h.encode(), want, "decode → encode changed the 26 bits");
        }
        Err(PayloadError::Format) => assert_ne!(read.bits, 26),
        Err(PayloadError::Parity) => assert_eq!(read.bits, 26),
        Err(PayloadError::Length) => panic!("decode does not report Length"),
    }
}
