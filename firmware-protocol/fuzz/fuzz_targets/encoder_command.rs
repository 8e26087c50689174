//! The encoder extension's `MFG` data: a parsed command emits back to the
//! input byte for byte (the format is canonical), and parses again to the
//! same command; emit into too small a buffer is refused.
#![no_main]

use firmware_protocol::codes::PayloadError;
use firmware_protocol::mfg::{EncoderCommand, MAX_UID, OUI};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cmd = match EncoderCommand::parse(data) {
        Ok(cmd) => cmd,
        Err(PayloadError::Format) => {
            // Another vendor's, or an unknown operation.
            assert!(data.len() >= 6);
            assert!(data[..3] != OUI || !(1..=3).contains(&data[3]), "a known operation was refused as Format");
            return;
        }
        Err(PayloadError::Length) => return,
        Err(e) => panic!("EncoderCommand::parse: unexpected {e:?}"),
    };
    if let EncoderCommand::Encode { uid, .. } = cmd {
        assert!(uid.len() <= MAX_UID);
    }
    let mut buf = [0u8; 64];
    let n = cmd.emit(&mut buf).expect("a parsed command emits");
    assert_eq!(&buf[..n], data, "emit is not the parsed bytes");
    assert_eq!(EncoderCommand::parse(&buf[..n]), Ok(cmd));
    assert_eq!(cmd.emit(&mut buf[..n - 1]), None, "too small a buffer is refused");
});
