//! The PD's end of a line (`pd::Link`) on arbitrary line bytes, split
//! into frames as a PD's receive loop does: it never panics, and whatever
//! it sends (a replay, a NAK, or the application's ACK) is a valid reply
//! frame from its own address.
#![no_main]

use firmware_protocol::packet::{Packet, find_frame};
use firmware_protocol::pd::{Link, Step};
use libfuzzer_sys::fuzz_target;

fn assert_reply(bytes: &[u8], address: u8) {
    let p = Packet::new_checked(bytes).expect("what a PD sends is a valid frame");
    assert!(p.is_reply());
    assert_eq!(p.address(), address);
}

fuzz_target!(|data: &[u8]| {
    let Some((&address, mut rest)) = data.split_first() else { return };
    let address = address % 127;
    let mut link = Link::new(address);
    let mut out = [0u8; 1500];
    while !rest.is_empty() {
        let (drop, step) = match find_frame(rest) {
            Ok((drop, Some(len))) => (drop + len, link.receive(&rest[drop..drop + len], &mut out)),
            Ok((_, None)) => return,
            // A frame failing its check: the link may NAK it.
            Err((drop, _)) => (drop, link.receive(&rest[drop - 1..], &mut out)),
        };
        match step.expect("1500 bytes hold any reply") {
            Step::Ignore => {}
            Step::Send(n) => assert_reply(&out[..n], address),
            Step::Command(cmd) => {
                let n = link.reply(&cmd, 0x40, &[], &mut out).expect("an ACK fits");
                assert_reply(&out[..n], address);
            }
        }
        rest = &rest[drop..];
    }
});
