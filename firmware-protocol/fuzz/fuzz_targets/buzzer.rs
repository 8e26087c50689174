//! `BUZ`: exactly 5 bytes parse, and emit gives them back.
#![no_main]

use firmware_protocol::codes::PayloadError;
use firmware_protocol::payloads::Buzzer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Buzzer::parse(data) {
        Ok(buz) => {
            assert_eq!(data.len(), Buzzer::LEN);
            assert_eq!(buz.emit(), data, "emit is not the parsed bytes");
            assert_eq!(Buzzer::parse(&buz.emit()), Ok(buz));
        }
        Err(e) => {
            assert_eq!(e, PayloadError::Length);
            assert_ne!(data.len(), Buzzer::LEN);
        }
    }
});
