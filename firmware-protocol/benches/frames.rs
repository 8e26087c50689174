//! Frames through the codec, per second (`cargo bench -p firmware-protocol
//! --bench frames`, part of `make bench-osdp`): emitting a `POLL`, checking
//! and parsing one, a parse → emit round trip of a 26-bit card read (`RAW`,
//! its payload decoded and encoded again) and of a 14-byte `LED` command,
//! and `find_frame` scanning a receive buffer of 64 back-to-back frames
//! with line noise, marks and false starts between them. All frames use
//! CRC-16, as the service's control panel sends them. Divan prints
//! frames/s (`item/s`) and bytes/s next to the time per iteration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use divan::counter::{BytesCount, ItemsCount};
use divan::{Bencher, black_box};
use firmware_protocol::codes::{CardRead, Command, H10301, Reply};
use firmware_protocol::packet::{MARK, Packet, Repr, find_frame};
use firmware_protocol::payloads::{Color, Led};

fn main() {
    divan::main();
}

fn command<'a>(address: u8, sequence: u8, code: Command, data: &'a [u8]) -> Repr<'a> {
    Repr { address, reply: false, sequence, crc: true, security_block: None, code: code.into(), data, mac: None }
}

fn reply<'a>(address: u8, sequence: u8, code: Reply, data: &'a [u8]) -> Repr<'a> {
    Repr { address, reply: true, sequence, crc: true, security_block: None, code: code.into(), data, mac: None }
}

fn framed(repr: &Repr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; repr.frame_len()];
    let n = repr.emit(&mut buf).unwrap();
    assert_eq!(n, buf.len());
    buf
}

/// The `RAW` data of an H10301 read: reader 0, Wiegand, 26 bits.
fn raw_26() -> Vec<u8> {
    let bits = H10301 { facility: 42, card: 1234 }.encode();
    let mut data = vec![0u8; 8];
    let n = CardRead { reader: 0, format: 1, bits: 26, data: &bits }.emit(&mut data).unwrap();
    data.truncate(n);
    data
}

#[divan::bench(sample_count = 1000)]
fn emit_poll(bencher: Bencher) {
    let mut out = [0u8; 16];
    let n = command(1, 1, Command::Poll, &[]).frame_len();
    bencher.counter(ItemsCount::new(1usize)).counter(BytesCount::new(n)).bench_local(|| {
        let repr = command(black_box(1), black_box(1), Command::Poll, &[]);
        repr.emit(black_box(&mut out[..])).unwrap()
    });
}

#[divan::bench(sample_count = 1000)]
fn parse_poll(bencher: Bencher) {
    let frame = framed(&command(1, 1, Command::Poll, &[]));
    bencher.counter(ItemsCount::new(1usize)).counter(BytesCount::new(frame.len())).bench_local(|| {
        let p = Packet::new_checked(black_box(&frame[..])).unwrap();
        let repr = Repr::parse(&p);
        (repr.address, repr.sequence, repr.code, repr.data.len())
    });
}

/// A PD's card read as the CP gets it: check, parse, decode the payload,
/// then encode it again and emit the frame (what a relay or hw-sim does).
#[divan::bench(sample_count = 1000)]
fn round_trip_raw_26_bit(bencher: Bencher) {
    let data = raw_26();
    let frame = framed(&reply(1, 2, Reply::Raw, &data));
    let mut payload = [0u8; 16];
    let mut out = [0u8; 32];
    bencher.counter(ItemsCount::new(1usize)).counter(BytesCount::new(frame.len())).bench_local(|| {
        let p = Packet::new_checked(black_box(&frame[..])).unwrap();
        let repr = Repr::parse(&p);
        let read = CardRead::parse(repr.data).unwrap();
        let n = read.emit(&mut payload).unwrap();
        Repr { data: &payload[..n], ..repr }.emit(black_box(&mut out[..])).unwrap()
    });
}

/// A CP's door feedback as the PD gets it: check, parse, decode the LED
/// record, then encode it again and emit the frame.
#[divan::bench(sample_count = 1000)]
fn round_trip_led_14_bytes(bencher: Bencher) {
    let record = Led::flash(0, Color::Green, 20).emit();
    let frame = framed(&command(1, 3, Command::Led, &record));
    let mut out = [0u8; 32];
    bencher.counter(ItemsCount::new(1usize)).counter(BytesCount::new(frame.len())).bench_local(|| {
        let p = Packet::new_checked(black_box(&frame[..])).unwrap();
        let repr = Repr::parse(&p);
        let led = Led::parse(repr.data).unwrap();
        let record = led.emit();
        Repr { data: &record, ..repr }.emit(black_box(&mut out[..])).unwrap()
    });
}

const BURST: usize = 64;

/// 64 frames (POLLs, ACKs, card reads, LED commands) each after a few
/// noise bytes and the `FF` mark; every 8th gap has a false start (a SOM
/// with an impossible length) that `find_frame` must step over.
fn line_buffer() -> Vec<u8> {
    let raw = raw_26();
    let led = Led::flash(0, Color::Red, 20).emit();
    let mut buf = Vec::new();
    for i in 0..BURST {
        let a = (i % 32) as u8 + 1;
        let s = (i % 3) as u8 + 1;
        buf.extend_from_slice(&[0x00, 0x12 + i as u8 % 0x30]);
        if i % 8 == 7 {
            buf.extend_from_slice(&[0x53, 0x01, 0x02, 0x00, 0x00, 0x00]);
        }
        buf.push(MARK);
        let frame = match i % 4 {
            0 => framed(&command(a, s, Command::Poll, &[])),
            1 => framed(&reply(a, s, Reply::Ack, &[])),
            2 => framed(&reply(a, s, Reply::Raw, &raw)),
            _ => framed(&command(a, s, Command::Led, &led)),
        };
        buf.extend_from_slice(&frame);
    }
    buf
}

/// Scans the whole buffer as a receive loop does; returns the frames found.
fn scan(mut rx: &[u8]) -> usize {
    let mut found = 0;
    loop {
        match find_frame(rx) {
            Ok((drop, Some(len))) => {
                found += usize::from(black_box(&rx[drop..drop + len])[0] == 0x53);
                rx = &rx[drop + len..];
            }
            Ok((_, None)) => return found,
            Err((drop, _)) => rx = &rx[drop..],
        }
    }
}

#[divan::bench(sample_count = 1000)]
fn find_frame_64_with_noise(bencher: Bencher) {
    let buf = line_buffer();
    assert_eq!(scan(&buf), BURST, "every frame found, every false start skipped");
    bencher
        .counter(ItemsCount::new(BURST))
        .counter(BytesCount::new(buf.len()))
        .bench_local(|| scan(black_box(&buf[..])));
}
