//! The encoder extension's `MFGREP` data: a parsed reply emits back to the
//! input byte for byte (the format is canonical), and parses again to the
//! same reply; emit into too small a buffer is refused.
#![no_main]

use firmware_protocol::codes::PayloadError;
use firmware_protocol::mfg::{EncoderReply, MAX_UID};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let reply = match EncoderReply::parse(data) {
        Ok(reply) => reply,
        Err(PayloadError::Format | PayloadError::Length) => return,
        Err(e) => panic!("EncoderReply::parse: unexpected {e:?}"),
    };
    if let EncoderReply::Card { uid, .. } = reply {
        assert!(uid.len() <= MAX_UID);
    }
    let mut buf = [0u8; 64];
    let n = reply.emit(&mut buf).expect("a parsed reply emits");
    assert_eq!(&buf[..n], data, "emit is not the parsed bytes");
    assert_eq!(EncoderReply::parse(&buf[..n]), Ok(reply));
    assert_eq!(reply.emit(&mut buf[..n - 1]), None, "too small a buffer is refused");
});
