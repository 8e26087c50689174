//! `PDID`: exactly 12 bytes parse, and emit gives them back.
#![no_main]

use firmware_protocol::codes::PayloadError;
use firmware_protocol::payloads::PdId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match PdId::parse(data) {
        Ok(id) => {
            assert_eq!(data.len(), PdId::LEN);
            assert_eq!(id.emit(), data, "emit is not the parsed bytes");
            assert_eq!(PdId::parse(&id.emit()), Ok(id));
        }
        Err(e) => {
            assert_eq!(e, PayloadError::Length);
            assert_ne!(data.len(), PdId::LEN);
        }
    }
});
