//! `PDCAP`: whole 3-byte entries parse, in order, one per 3 bytes; any
//! other length is refused.
#![no_main]

use firmware_protocol::codes::PayloadError;
use firmware_protocol::payloads::capabilities;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match capabilities(data) {
        Ok(caps) => {
            assert_eq!(data.len() % 3, 0);
            let mut n = 0;
            for (c, raw) in caps.zip(data.chunks_exact(3)) {
                assert_eq!([c.function, c.compliance, c.count], raw, "entry {n}");
                n += 1;
            }
            assert_eq!(n, data.len() / 3);
            assert_eq!(capabilities(data).map(Iterator::count), Ok(n));
        }
        Err(e) => {
            assert_eq!(e, PayloadError::Length);
            assert_ne!(data.len() % 3, 0);
        }
    }
});
