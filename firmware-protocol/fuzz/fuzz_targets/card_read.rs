//! `RAW` card reads: `CardRead::parse` accepts exactly reader, format,
//! bits (u16 LE, non-zero) and `ceil(bits / 8)` bytes; `emit` gives the
//! input back byte for byte, and parsing that again gives the same read.
#![no_main]

use firmware_protocol::codes::{CardRead, PayloadError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let read = match CardRead::parse(data) {
        Ok(read) => read,
        Err(e) => {
            assert_eq!(e, PayloadError::Length, "CardRead::parse only refuses on length");
            if let [_, _, lo, hi, rest @ ..] = data {
                let bits = usize::from(u16::from_le_bytes([*lo, *hi]));
                assert!(bits == 0 || rest.len() != bits.div_ceil(8), "a well-formed read was refused");
            }
            return;
        }
    };
    assert!(read.bits != 0);
    assert_eq!(read.data.len(), usize::from(read.bits).div_ceil(8));

    let mut buf = [0u8; 4 + 8192];
    let n = read.emit(&mut buf).expect("room for any read");
    assert_eq!(&buf[..n], data, "emit is not the parsed bytes");
    assert_eq!(CardRead::parse(&buf[..n]), Ok(read));
    assert_eq!(read.emit(&mut buf[..n - 1]), None, "too small a buffer is refused");
});
