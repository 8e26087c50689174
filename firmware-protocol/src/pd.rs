//! The PD's end of a line: what a reader or encoder does with each frame it
//! receives — stay silent when it is for another device, answer a repeated
//! sequence number with the cached reply byte for byte, refuse an
//! out-of-order number or a corrupted command with `NAK` — and the one
//! place replies are framed and cached. The application sees only fresh
//! commands addressed to it.
//!
//! ```
//! use firmware_protocol::pd::{Link, Step};
//! use firmware_protocol::codes::Reply;
//! # use firmware_protocol::packet::Repr;
//! # let mut frame = [0u8; 16]; // POLL to PD 1, SQN 0, CRC
//! # let n = Repr { address: 1, reply: false, sequence: 0, crc: true, security_block: None,
//! #     code: 0x60, data: &[], mac: None }.emit(&mut frame).unwrap();
//! # let frame = &frame[..n];
//! let mut link = Link::new(1);
//! let mut out = [0u8; 64];
//! match link.receive(frame, &mut out).unwrap() {
//!     Step::Command(cmd) => {
//!         let n = link.reply(&cmd, Reply::Ack.into(), &[], &mut out).unwrap();
//!         // write out[..n] to the line
//! #       assert_eq!(out[1], 0x81);
//!     }
//!     Step::Send(n) => { /* write out[..n]: a replay or a NAK */ }
//!     Step::Ignore => {}
//! }
//! ```

use crate::codes::{NakCode, PdSequence, Reply, SeqVerdict};
use crate::packet::{BROADCAST, Error, Packet, Repr};

/// The longest reply a [`Link`] caches for replay.
pub const MAX_REPLY: usize = 256;

/// A fresh command for the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandFrame<'f> {
    /// The command code.
    pub code: u8,
    /// Its data.
    pub data: &'f [u8],
    /// Sent to the broadcast address.
    pub broadcast: bool,
    sequence: u8,
    crc: bool,
}

/// What to do with a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'f> {
    /// Not for this PD (another address, or another PD's reply): stay silent.
    Ignore,
    /// Write these many bytes of the output buffer to the line as they are
    /// (the cached reply again, or a `NAK`).
    Send(usize),
    /// A new command: answer it with [`Link::reply`].
    Command(CommandFrame<'f>),
}

/// One PD's link state: its address, the sequence rule and the last reply.
#[derive(Debug, Clone)]
pub struct Link {
    address: u8,
    sequence: PdSequence,
    cache: [u8; MAX_REPLY],
    cached: usize,
}

impl Link {
    /// A PD at `address` (0–126), fresh from reset.
    #[must_use]
    pub fn new(address: u8) -> Self {
        Self { address, sequence: PdSequence::default(), cache: [0; MAX_REPLY], cached: 0 }
    }

    /// Its address.
    #[must_use]
    pub fn address(&self) -> u8 {
        self.address
    }

    /// Handles one frame that starts at SOM (as [`crate::packet::find_frame`]
    /// found it; it may fail its check). Writes any bytes to send into
    /// `out`. `Err` only when `out` is too small.
    pub fn receive<'f>(&mut self, frame: &'f [u8], out: &mut [u8]) -> Result<Step<'f>, Error> {
        let packet = match Packet::new_checked(frame) {
            Ok(p) => p,
            // A corrupted command that still names us: NAK it (the CP sends
            // it again). If the address byte itself is hit we stay silent and
            // the CP's reply timeout does the same job.
            Err(Error::BadCheck) => {
                let p = Packet::new_unchecked(frame);
                if p.is_reply() || p.address() != self.address {
                    return Ok(Step::Ignore);
                }
                let n = self.frame(p.sequence(), p.uses_crc(), Reply::Nak.into(), &[NakCode::BadCheck.into()], out)?;
                return Ok(Step::Send(n));
            }
            Err(_) => return Ok(Step::Ignore),
        };
        let broadcast = packet.address() == BROADCAST;
        if packet.is_reply() || !(broadcast || packet.address() == self.address) {
            return Ok(Step::Ignore);
        }
        let sequence = packet.sequence();
        let crc = packet.uses_crc();
        match self.sequence.judge(sequence) {
            SeqVerdict::Replay if self.cached > 0 => {
                let n = self.cached;
                out.get_mut(..n).ok_or(Error::BufferTooSmall)?.copy_from_slice(&self.cache[..n]);
                Ok(Step::Send(n))
            }
            SeqVerdict::Nak => {
                let n = self.frame(sequence, crc, Reply::Nak.into(), &[NakCode::Sequence.into()], out)?;
                Ok(Step::Send(n))
            }
            SeqVerdict::Fresh | SeqVerdict::Replay => {
                // The data, borrowed from the frame rather than the view.
                let end = packet.frame_len() - if crc { 2 } else { 1 } - packet.mac().map_or(0, <[u8]>::len);
                let data = &frame[end - packet.data().len()..end];
                let code = packet.code();
                Ok(Step::Command(CommandFrame { code, data, broadcast, sequence, crc }))
            }
        }
    }

    /// Frames the application's reply to `cmd` into `out` and caches it for
    /// a replay; returns its length.
    pub fn reply(&mut self, cmd: &CommandFrame<'_>, code: u8, data: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        let n = self.frame(cmd.sequence, cmd.crc, code, data, out)?;
        if n <= MAX_REPLY {
            self.cache[..n].copy_from_slice(&out[..n]);
            self.cached = n;
        } else {
            self.cached = 0;
        }
        Ok(n)
    }

    fn frame(&self, sequence: u8, crc: bool, code: u8, data: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        let repr =
            Repr { address: self.address, reply: true, sequence, crc, security_block: None, code, data, mac: None };
        repr.emit(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Command;

    fn command(address: u8, sequence: u8, code: Command, data: &[u8]) -> ([u8; 64], usize) {
        let mut buf = [0u8; 64];
        let repr = Repr {
            address,
            reply: false,
            sequence,
            crc: true,
            security_block: None,
            code: code.into(),
            data,
            mac: None,
        };
        let n = repr.emit(&mut buf).unwrap();
        (buf, n)
    }

    fn reply_of(out: &[u8]) -> Repr<'static> {
        let bytes: &'static [u8] = Box::leak(out.to_vec().into_boxed_slice());
        let p: &'static Packet<&[u8]> = Box::leak(Box::new(Packet::new_checked(bytes).unwrap()));
        Repr::parse(p)
    }

    #[test]
    fn fresh_commands_reach_the_application_and_replies_are_replayed_byte_for_byte() {
        let mut link = Link::new(3);
        let mut out = [0u8; 64];
        let (f, n) = command(3, 0, Command::Poll, &[]);
        let Step::Command(cmd) = link.receive(&f[..n], &mut out).unwrap() else { panic!("a fresh poll") };
        assert_eq!(cmd.code, 0x60);
        let raw = [0, 1, 26, 0, 0x80, 0x40, 0x00, 0x40];
        let len = link.reply(&cmd, Reply::Raw.into(), &raw, &mut out).unwrap();
        let first = out[..len].to_vec();
        let r = reply_of(&first);
        assert!(r.reply);
        assert_eq!((r.address, r.sequence, r.code, r.data), (3, 0, 0x50, &raw[..]));

        // The CP did not get it and sends SQN 0 again… 0 is always fresh.
        // A repeat of a later number is a replay.
        let (f, n) = command(3, 1, Command::Poll, &[]);
        let Step::Command(cmd) = link.receive(&f[..n], &mut out).unwrap() else { panic!("fresh") };
        let len = link.reply(&cmd, Reply::Raw.into(), &raw, &mut out).unwrap();
        let cached = out[..len].to_vec();
        let mut out2 = [0u8; 64];
        assert_eq!(link.receive(&f[..n], &mut out2).unwrap(), Step::Send(len));
        assert_eq!(&out2[..len], &cached[..], "the same bytes again");
    }

    #[test]
    fn other_addresses_and_replies_are_ignored_and_broadcast_is_heard() {
        let mut link = Link::new(3);
        let mut out = [0u8; 64];
        let (f, n) = command(4, 0, Command::Poll, &[]);
        assert_eq!(link.receive(&f[..n], &mut out).unwrap(), Step::Ignore);
        let mut reply = [0u8; 64];
        let len = Repr {
            address: 3,
            reply: true,
            sequence: 0,
            crc: true,
            security_block: None,
            code: 0x40,
            data: &[],
            mac: None,
        }
        .emit(&mut reply)
        .unwrap();
        assert_eq!(link.receive(&reply[..len], &mut out).unwrap(), Step::Ignore, "a PD's own reply echoed");
        let (f, n) = command(BROADCAST, 0, Command::Id, &[0]);
        assert!(matches!(link.receive(&f[..n], &mut out).unwrap(), Step::Command(c) if c.broadcast));
    }

    #[test]
    fn out_of_order_and_corrupted_commands_are_nakked() {
        let mut link = Link::new(3);
        let mut out = [0u8; 64];
        let (f, n) = command(3, 2, Command::Poll, &[]);
        let Step::Send(len) = link.receive(&f[..n], &mut out).unwrap() else { panic!("a NAK") };
        let r = reply_of(&out[..len]);
        assert_eq!((r.code, r.data), (0x41, &[4u8][..]), "NAK sequence");

        let (mut f, n) = command(3, 0, Command::Poll, &[]);
        f[n - 1] ^= 0x01;
        let Step::Send(len) = link.receive(&f[..n], &mut out).unwrap() else { panic!("a NAK") };
        let r = reply_of(&out[..len]);
        assert_eq!((r.code, r.data), (0x41, &[1u8][..]), "NAK bad check");

        let (mut f, n) = command(4, 0, Command::Poll, &[]);
        f[n - 1] ^= 0x01;
        assert_eq!(link.receive(&f[..n], &mut out).unwrap(), Step::Ignore, "someone else's broken frame");
    }
}
