//! `COMSET` / `COM`: exactly 5 bytes parse, and emit gives them back.
#![no_main]

use firmware_protocol::codes::PayloadError;
use firmware_protocol::payloads::ComSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match ComSet::parse(data) {
        Ok(c) => {
            assert_eq!(data.len(), 5);
            assert_eq!(c.emit(), data, "emit is not the parsed bytes");
            assert_eq!(ComSet::parse(&c.emit()), Ok(c));
        }
        Err(e) => {
            assert_eq!(e, PayloadError::Length);
            assert_ne!(data.len(), 5);
        }
    }
});
