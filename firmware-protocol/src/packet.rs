//! OSDP frames, in smoltcp's style: [`Packet`] is a checked view over a
//! buffer (field accessors, no copies), [`Repr`] is the parsed, high-level
//! form that can be emitted into a caller's buffer.
//!
//! ```text
//! [FF mark] SOM(53) ADDR LEN_LSB LEN_MSB CTRL [SCB: len type data…] CODE DATA… [MAC×4] CHECK(1 or 2)
//! ```
//!
//! `LEN` counts from SOM through the check bytes (the optional `FF` mark
//! is outside the frame). `ADDR` bit 7 marks a reply; `7F` is broadcast.
//! `CTRL`: bits 0–1 the sequence number, bit 2 CRC-16 (else an 8-bit
//! checksum), bit 3 a security control block follows. A MAC follows the
//! data when the block's type is `SCS_15`…`SCS_18`.

use crate::check::{checksum, crc16};

/// Start of message.
pub const SOM: u8 = 0x53;
/// The optional mark byte before SOM.
pub const MARK: u8 = 0xFF;
/// The broadcast address.
pub const BROADCAST: u8 = 0x7F;
/// Bit 7 of ADDR: this is a reply from a PD.
pub const REPLY_BIT: u8 = 0x80;
/// The largest frame this implementation accepts (OSDP's default receive size).
pub const MAX_FRAME: usize = 1440;

const CTRL_SQN: u8 = 0x03;
const CTRL_CRC: u8 = 0x04;
const CTRL_SCB: u8 = 0x08;
const HEADER: usize = 5;
const MAC_LEN: usize = 4;

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Fewer bytes than the frame needs (read more).
    Truncated,
    /// The first byte is not SOM.
    NoSom,
    /// LEN is smaller than a frame can be, or larger than [`MAX_FRAME`].
    BadLength,
    /// The security block's length does not fit the frame.
    BadSecurityBlock,
    /// The checksum or CRC does not match.
    BadCheck,
    /// The output buffer is too small, or the data too long for LEN.
    BufferTooSmall,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Truncated => "frame truncated",
            Self::NoSom => "no start of message",
            Self::BadLength => "frame length out of range",
            Self::BadSecurityBlock => "security block does not fit",
            Self::BadCheck => "checksum or CRC mismatch",
            Self::BufferTooSmall => "buffer too small",
        })
    }
}

/// A checked view of one frame, starting at SOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer that starts at SOM and checks that the whole frame is
    /// there, its lengths are consistent, and its checksum or CRC matches.
    /// The buffer may hold more bytes after the frame.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Self::new_unchecked(buffer);
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<(), Error> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER {
            return Err(if b.first().is_some_and(|&x| x != SOM) { Error::NoSom } else { Error::Truncated });
        }
        if b[0] != SOM {
            return Err(Error::NoSom);
        }
        let len = self.frame_len();
        let min = HEADER + 1 + self.check_len() + if self.has_security_block() { 2 } else { 0 };
        if len < min || len > MAX_FRAME {
            return Err(Error::BadLength);
        }
        if b.len() < len {
            return Err(Error::Truncated);
        }
        if self.has_security_block() {
            let scb_len = usize::from(b[HEADER]);
            // The block must fit before its type byte is read (for the MAC length).
            if scb_len < 2
                || HEADER + scb_len + 1 + self.check_len() > len
                || HEADER + scb_len + 1 + self.mac_len() + self.check_len() > len
            {
                return Err(Error::BadSecurityBlock);
            }
        }
        let (body, check) = b[..len].split_at(len - self.check_len());
        let ok = if self.uses_crc() { crc16(body).to_le_bytes() == check } else { checksum(body) == check[0] };
        if ok { Ok(()) } else { Err(Error::BadCheck) }
    }

    /// The buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The address (low 7 bits).
    pub fn address(&self) -> u8 {
        self.buffer.as_ref()[1] & !REPLY_BIT
    }

    /// Whether this frame is a PD's reply.
    pub fn is_reply(&self) -> bool {
        self.buffer.as_ref()[1] & REPLY_BIT != 0
    }

    /// LEN: the frame's length from SOM through the check bytes.
    pub fn frame_len(&self) -> usize {
        let b = self.buffer.as_ref();
        usize::from(u16::from_le_bytes([b[2], b[3]]))
    }

    /// The control byte.
    pub fn control(&self) -> u8 {
        self.buffer.as_ref()[4]
    }

    /// The sequence number, 0–3.
    pub fn sequence(&self) -> u8 {
        self.control() & CTRL_SQN
    }

    /// Whether the frame ends in a CRC-16 (else a checksum).
    pub fn uses_crc(&self) -> bool {
        self.control() & CTRL_CRC != 0
    }

    /// Whether a security control block follows the header.
    pub fn has_security_block(&self) -> bool {
        self.control() & CTRL_SCB != 0
    }

    fn check_len(&self) -> usize {
        if self.uses_crc() { 2 } else { 1 }
    }

    fn scb_len(&self) -> usize {
        if self.has_security_block() { usize::from(self.buffer.as_ref()[HEADER]) } else { 0 }
    }

    fn mac_len(&self) -> usize {
        match self.security_block() {
            Some(scb) if (0x15..=0x18).contains(&scb[1]) => MAC_LEN,
            _ => 0,
        }
    }

    /// The security control block (length, type, data), if any.
    pub fn security_block(&self) -> Option<&[u8]> {
        self.has_security_block().then(|| &self.buffer.as_ref()[HEADER..HEADER + self.scb_len()])
    }

    /// The command or reply code.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[HEADER + self.scb_len()]
    }

    /// The command or reply data.
    pub fn data(&self) -> &[u8] {
        let start = HEADER + self.scb_len() + 1;
        let end = self.frame_len() - self.check_len() - self.mac_len();
        &self.buffer.as_ref()[start..end]
    }

    /// The MAC, when the security block calls for one.
    pub fn mac(&self) -> Option<&[u8]> {
        let end = self.frame_len() - self.check_len();
        (self.mac_len() == MAC_LEN).then(|| &self.buffer.as_ref()[end - MAC_LEN..end])
    }
}

/// A frame's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The PD's address (0–126, or [`BROADCAST`]).
    pub address: u8,
    /// Whether it is a PD's reply.
    pub reply: bool,
    /// The sequence number, 0–3.
    pub sequence: u8,
    /// CRC-16 (true) or checksum.
    pub crc: bool,
    /// The security control block (length, type, data), carried as is.
    pub security_block: Option<&'a [u8]>,
    /// The command or reply code.
    pub code: u8,
    /// Its data.
    pub data: &'a [u8],
    /// The MAC, when the security block calls for one.
    pub mac: Option<[u8; 4]>,
}

impl<'a> Repr<'a> {
    /// Reads a checked packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &'a Packet<&'a T>) -> Self {
        Self {
            address: p.address(),
            reply: p.is_reply(),
            sequence: p.sequence(),
            crc: p.uses_crc(),
            security_block: p.security_block(),
            code: p.code(),
            data: p.data(),
            mac: p.mac().and_then(|m| m.try_into().ok()),
        }
    }

    /// The frame's length (without the optional mark byte).
    pub fn frame_len(&self) -> usize {
        HEADER
            + self.security_block.map_or(0, <[u8]>::len)
            + 1
            + self.data.len()
            + self.mac.map_or(0, |m| m.len())
            + if self.crc { 2 } else { 1 }
    }

    /// Writes the frame (from SOM) into `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let len = self.frame_len();
        if len > MAX_FRAME || len > buf.len() {
            return Err(Error::BufferTooSmall);
        }
        if let Some(scb) = self.security_block
            && (scb.len() < 2 || usize::from(scb[0]) != scb.len())
        {
            return Err(Error::BadSecurityBlock);
        }
        // A MAC exactly when the block's type calls for one, or the frame
        // would read back differently.
        let wants_mac = self.security_block.is_some_and(|scb| (0x15..=0x18).contains(&scb[1]));
        if wants_mac != self.mac.is_some() {
            return Err(Error::BadSecurityBlock);
        }
        let len16 = u16::try_from(len).map_err(|_| Error::BufferTooSmall)?;
        buf[0] = SOM;
        buf[1] = (self.address & !REPLY_BIT) | if self.reply { REPLY_BIT } else { 0 };
        buf[2..4].copy_from_slice(&len16.to_le_bytes());
        buf[4] = (self.sequence & CTRL_SQN)
            | if self.crc { CTRL_CRC } else { 0 }
            | if self.security_block.is_some() { CTRL_SCB } else { 0 };
        let mut at = HEADER;
        if let Some(scb) = self.security_block {
            buf[at..at + scb.len()].copy_from_slice(scb);
            at += scb.len();
        }
        buf[at] = self.code;
        at += 1;
        buf[at..at + self.data.len()].copy_from_slice(self.data);
        at += self.data.len();
        if let Some(mac) = self.mac {
            buf[at..at + MAC_LEN].copy_from_slice(&mac);
            at += MAC_LEN;
        }
        if self.crc {
            let c = crc16(&buf[..at]).to_le_bytes();
            buf[at..at + 2].copy_from_slice(&c);
        } else {
            buf[at] = checksum(&buf[..at]);
        }
        Ok(len)
    }
}

/// Finds the next frame in a receive buffer: skips noise (and the `FF`
/// mark) before SOM. Returns how many bytes to drop, and the frame's
/// length when a whole, valid frame starts there. A frame that fails its
/// check yields `Err` with the bytes to drop (the SOM), so the caller can
/// NAK or retry and resynchronise.
pub fn find_frame(buf: &[u8]) -> Result<(usize, Option<usize>), (usize, Error)> {
    let Some(start) = buf.iter().position(|&b| b == SOM) else {
        return Ok((buf.len(), None));
    };
    match Packet::new_checked(&buf[start..]) {
        Ok(p) => Ok((start, Some(p.frame_len()))),
        Err(Error::Truncated) => Ok((start, None)),
        Err(e) => Err((start + 1, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(repr: &Repr<'_>) -> ([u8; 64], usize) {
        let mut buf = [0u8; 64];
        let n = repr.emit(&mut buf).unwrap();
        (buf, n)
    }

    fn cmd(address: u8, code: u8, data: &[u8], crc: bool) -> Repr<'_> {
        Repr { address, reply: false, sequence: 0, crc, security_block: None, code, data, mac: None }
    }

    #[test]
    fn libosdp_vectors() {
        let (b, n) = frame(&cmd(0x00, 0x61, &[0x00], true));
        assert_eq!((n, &b[..7]), (9, &[0x53, 0x00, 0x09, 0x00, 0x04, 0x61, 0x00][..]));
        assert_eq!(&b[7..9], &[0xC0, 0x66], "CRC of ID to PD 0, as on the wire");
        let (b, n) = frame(&cmd(0x7F, 0x6E, &[0x00, 0x80, 0x25, 0x00, 0x00], true));
        assert_eq!(&b[..11], &[0x53, 0x7F, 0x0D, 0x00, 0x04, 0x6E, 0x00, 0x80, 0x25, 0x00, 0x00]);
        assert_eq!((n, &b[11..13]), (13, &[0x6E, 0x38][..]), "COMSET broadcast");
        let (b, n) = frame(&cmd(0x00, 0x61, &[0x00], false));
        assert_eq!(&b[..n], &[0x53, 0x00, 0x08, 0x00, 0x00, 0x61, 0x00, 0x44]);
        let (b, n) = frame(&cmd(0x7F, 0x6E, &[0x00, 0x80, 0x25, 0x00, 0x00], false));
        assert_eq!(&b[..n], &[0x53, 0x7F, 0x0C, 0x00, 0x00, 0x6E, 0x00, 0x80, 0x25, 0x00, 0x00, 0x0F]);
    }

    #[test]
    fn parse_emit_round_trip_with_security_block_and_mac() {
        let scb = [0x03, 0x15, 0x01];
        let repr = Repr {
            address: 0x05,
            reply: true,
            sequence: 2,
            crc: true,
            security_block: Some(&scb),
            code: 0x50,
            data: &[0x00, 0x01, 0x1A, 0x00, 0xDE, 0xAD, 0xBE, 0xC0],
            mac: Some([1, 2, 3, 4]),
        };
        let (b, n) = frame(&repr);
        let p = Packet::new_checked(&b[..n]).unwrap();
        assert_eq!(Repr::parse(&p), repr);
    }

    #[test]
    fn damaged_frames_are_refused() {
        let (b, n) = frame(&cmd(0x01, 0x60, &[], true));
        for cut in 0..n {
            assert!(Packet::new_checked(&b[..cut]).is_err(), "cut at {cut}");
        }
        for i in 1..n {
            let mut bad = b;
            bad[i] ^= 0x10;
            assert!(Packet::new_checked(&bad[..n]).is_err(), "byte {i} flipped");
        }
        assert_eq!(Packet::new_checked(&[0x00u8; 8][..]), Err(Error::NoSom));
    }

    #[test]
    fn frames_are_found_after_noise_and_the_mark() {
        let (b, n) = frame(&cmd(0x01, 0x60, &[], false));
        let mut line = [0u8; 40];
        line[..3].copy_from_slice(&[0x00, 0x12, MARK]);
        line[3..3 + n].copy_from_slice(&b[..n]);
        assert_eq!(find_frame(&line[..3 + n]), Ok((3, Some(n))));
        assert_eq!(find_frame(&line[..3 + n - 1]), Ok((3, None)), "not all there yet");
        assert_eq!(find_frame(&[0x00, 0x01]), Ok((2, None)), "only noise");
        line[3 + n - 1] ^= 0xFF;
        assert_eq!(find_frame(&line[..3 + n]), Err((4, Error::BadCheck)));
    }
}
