//! `LED`: 14 bytes whose four colours are known parse, and emit gives them
//! back; a wrong length is `Length`, an unknown colour `Format`.
#![no_main]

use firmware_protocol::codes::PayloadError;
use firmware_protocol::payloads::{Color, Led};
use libfuzzer_sys::fuzz_target;

const COLOURS: [usize; 4] = [5, 6, 12, 13];

fuzz_target!(|data: &[u8]| {
    match Led::parse(data) {
        Ok(led) => {
            assert_eq!(data.len(), Led::LEN);
            assert_eq!(led.emit(), data, "emit is not the parsed bytes");
            assert_eq!(Led::parse(&led.emit()), Ok(led));
        }
        Err(PayloadError::Length) => assert_ne!(data.len(), Led::LEN),
        Err(PayloadError::Format) => {
            assert_eq!(data.len(), Led::LEN);
            assert!(COLOURS.iter().any(|&i| Color::try_from(data[i]).is_err()), "refused known colours");
        }
        Err(e) => panic!("Led::parse: unexpected {e:?}"),
    }
});
