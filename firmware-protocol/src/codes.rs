//! OSDP command and reply codes, NAK error codes, the card-read (`RAW`)
//! payload with H10301 Wiegand decoding, and the sequence-number rules of
//! both ends of the line.

/// A `u8`-valued enum with `TryFrom<u8>` (the unknown byte back as the
/// error) and `From<Self> for u8`: every one-byte code of the protocol.
macro_rules! byte_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $n:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vm])* $v = $n),+
        }

        impl TryFrom<u8> for $name {
            type Error = u8;
            fn try_from(b: u8) -> Result<Self, u8> {
                match b {
                    $($n => Ok(Self::$v),)+
                    other => Err(other),
                }
            }
        }

        impl From<$name> for u8 {
            fn from(c: $name) -> u8 {
                c as u8
            }
        }
    };
}

byte_enum! {
    /// Commands from the control panel (CP).
    Command {
        /// Poll.
        Poll = 0x60,
        /// Ask for the PD's identity.
        Id = 0x61,
        /// Ask for the PD's capabilities.
        Cap = 0x62,
        /// Local status.
        LStat = 0x64,
        /// Input status.
        IStat = 0x65,
        /// Output status.
        OStat = 0x66,
        /// Reader tamper status.
        RStat = 0x67,
        /// Output control.
        Out = 0x68,
        /// Reader LED control.
        Led = 0x69,
        /// Buzzer control.
        Buz = 0x6A,
        /// Text output.
        Text = 0x6B,
        /// Communication settings.
        ComSet = 0x6E,
        /// Set the secure channel base key.
        KeySet = 0x75,
        /// Secure channel challenge.
        Chlng = 0x76,
        /// Secure channel cryptogram.
        SCrypt = 0x77,
        /// The CP's receive size.
        AcuRxSize = 0x7B,
        /// File transfer.
        FileTransfer = 0x7C,
        /// Manufacturer-specific.
        Mfg = 0x80,
        /// Extended write (transparent card commands).
        Xwr = 0xA1,
        /// Abort the current operation.
        Abort = 0xA2,
        /// Keep the secure channel alive.
        KeepActive = 0xA7,
    }
}

byte_enum! {
    /// Replies from a peripheral device (PD).
    Reply {
        /// Acknowledged, nothing to report.
        Ack = 0x40,
        /// Refused, with a [`NakCode`].
        Nak = 0x41,
        /// Identity.
        PdId = 0x45,
        /// Capabilities.
        PdCap = 0x46,
        /// Local status.
        LStatR = 0x48,
        /// Input status.
        IStatR = 0x49,
        /// Output status.
        OStatR = 0x4A,
        /// Reader tamper status.
        RStatR = 0x4B,
        /// A card read, as raw bits.
        Raw = 0x50,
        /// Keypad digits.
        Keypad = 0x53,
        /// Communication settings report.
        Com = 0x54,
        /// Secure channel: client cryptogram.
        CCrypt = 0x76,
        /// Secure channel: initial reply MAC.
        RMacI = 0x78,
        /// Busy: ask again.
        Busy = 0x79,
        /// Manufacturer-specific reply.
        MfgRep = 0x90,
        /// Extended read.
        Xrd = 0xB1,
    }
}

byte_enum! {
    /// Why a PD refused a command (the data byte of `NAK`).
    NakCode {
        /// The checksum or CRC did not match.
        BadCheck = 0x01,
        /// The command's length was wrong.
        BadLength = 0x02,
        /// Unknown command.
        UnknownCommand = 0x03,
        /// Unexpected sequence number.
        Sequence = 0x04,
        /// Secure channel not supported.
        ScUnsupported = 0x05,
        /// Security conditions not met.
        SecurityConditions = 0x06,
        /// BIO type not supported.
        BioType = 0x07,
        /// BIO format not supported.
        BioFormat = 0x08,
        /// Unable to process the command record.
        Record = 0x09,
    }
}

pub(crate) use byte_enum;

/// Reads a one-byte code of a payload: an unknown value is a format error.
pub(crate) fn code_of<T: TryFrom<u8>>(b: u8) -> Result<T, PayloadError> {
    T::try_from(b).map_err(|_| PayloadError::Format)
}

/// A card read: the `RAW` reply's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardRead<'a> {
    /// The reader on the PD (0 for the first).
    pub reader: u8,
    /// 0: raw bits, format unspecified; 1: Wiegand.
    pub format: u8,
    /// How many bits were read.
    pub bits: u16,
    /// The bits, most significant first, left-aligned, `ceil(bits / 8)` bytes.
    pub data: &'a [u8],
}

/// Why a payload or Wiegand frame is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadError {
    /// Too short, or its length disagrees with the bit count.
    Length,
    /// A Wiegand parity bit is wrong.
    Parity,
    /// Not the bit count of this format.
    Format,
}

impl<'a> CardRead<'a> {
    /// Parses a `RAW` reply's data.
    pub fn parse(data: &'a [u8]) -> Result<Self, PayloadError> {
        let [reader, format, lo, hi, rest @ ..] = data else { return Err(PayloadError::Length) };
        let bits = u16::from_le_bytes([*lo, *hi]);
        if bits == 0 || rest.len() != usize::from(bits).div_ceil(8) {
            return Err(PayloadError::Length);
        }
        Ok(Self { reader: *reader, format: *format, bits, data: rest })
    }

    /// Writes the `RAW` data into `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        let n = 4 + self.data.len();
        let out = buf.get_mut(..n)?;
        out[0] = self.reader;
        out[1] = self.format;
        out[2..4].copy_from_slice(&self.bits.to_le_bytes());
        out[4..].copy_from_slice(self.data);
        Some(n)
    }

    /// Bit `i` (0 = the first read).
    fn bit(&self, i: usize) -> bool {
        self.data.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
    }
}

/// HID H10301: 26 bits — even parity over bits 1–12, an 8-bit facility
/// code, a 16-bit card number, odd parity over bits 13–24.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H10301 {
    /// Facility code.
    pub facility: u8,
    /// Card number.
    pub card: u16,
}

impl H10301 {
    /// Decodes a 26-bit read, checking both parity bits.
    pub fn decode(read: &CardRead<'_>) -> Result<Self, PayloadError> {
        if read.bits != 26 {
            return Err(PayloadError::Format);
        }
        let value = (0..26).fold(0u32, |v, i| (v << 1) | u32::from(read.bit(i)));
        let ones = |from: u32, n: u32| ((value >> from) & ((1 << n) - 1)).count_ones();
        // Bit 0 (MSB of the 26) is even parity over the next 12; bit 25 odd over the 12 before it.
        let even_ok = (ones(25, 1) + ones(13, 12)) % 2 == 0;
        let odd_ok = (ones(0, 1) + ones(1, 12)) % 2 == 1;
        if !(even_ok && odd_ok) {
            return Err(PayloadError::Parity);
        }
        let payload = (value >> 1) & 0xFF_FFFF;
        Ok(Self { facility: (payload >> 16) as u8, card: (payload & 0xFFFF) as u16 })
    }

    /// The 26 bits, left-aligned in 4 bytes.
    #[must_use]
    pub fn encode(&self) -> [u8; 4] {
        let payload = (u32::from(self.facility) << 16) | u32::from(self.card);
        let even = (payload >> 12).count_ones() % 2;
        let odd = 1 - (payload & 0xFFF).count_ones() % 2;
        let value = (even << 25) | (payload << 1) | odd;
        (value << 6).to_be_bytes()
    }
}

/// The control panel's sequence numbers: 0 after reset, then 1, 2, 3, 1, …
/// A command is repeated with the same number until a valid reply comes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpSequence {
    next: u8,
}

impl CpSequence {
    /// The number for the next command (or its retry).
    #[must_use]
    pub fn current(&self) -> u8 {
        self.next
    }

    /// A valid reply arrived: move on.
    pub fn advance(&mut self) {
        self.next = if self.next >= 3 { 1 } else { self.next + 1 };
    }

    /// Start over (the PD went offline): the next command uses 0.
    pub fn reset(&mut self) {
        self.next = 0;
    }
}

/// What a PD does with a command, by its sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// A new command: process it and cache the reply.
    Fresh,
    /// The CP did not get the last reply: send the cached one again, byte for byte.
    Replay,
    /// Out of order: reply `NAK` with [`NakCode::Sequence`].
    Nak,
}

/// The PD's side: accepts 0 (reset) at any time, a repeat of the last
/// number as a replay request, and otherwise only the next number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PdSequence {
    last: Option<u8>,
}

impl PdSequence {
    /// Judges a command with sequence number `sqn`.
    pub fn judge(&mut self, sqn: u8) -> SeqVerdict {
        let verdict = match self.last {
            _ if sqn == 0 => SeqVerdict::Fresh,
            Some(last) if sqn == last => SeqVerdict::Replay,
            Some(last) if sqn == if last >= 3 { 1 } else { last + 1 } => SeqVerdict::Fresh,
            _ => SeqVerdict::Nak,
        };
        if verdict == SeqVerdict::Fresh {
            self.last = Some(sqn);
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknowns_are_refused() {
        for b in 0..=255u8 {
            if let Ok(c) = Command::try_from(b) {
                assert_eq!(u8::from(c), b);
            }
            if let Ok(r) = Reply::try_from(b) {
                assert_eq!(u8::from(r), b);
            }
        }
        assert_eq!(Command::try_from(0x61), Ok(Command::Id));
        assert_eq!(Reply::try_from(0x50), Ok(Reply::Raw));
        assert_eq!(Command::try_from(0x63), Err(0x63));
        assert_eq!(NakCode::try_from(4), Ok(NakCode::Sequence));
    }

    #[test]
    fn h10301_known_card_and_parity() {
        // Facility 1, card 1: 0 00000001 0000000000000001 0 → parities: even over 00000001 0000 = 1 one → 1;
        // odd over 000000000001 = 1 one → 0.
        let bits = H10301 { facility: 1, card: 1 }.encode();
        let value = u32::from_be_bytes(bits) >> 6;
        // parity | facility | card | parity, grouped as the format is.
        #[allow(clippy::unusual_byte_groupings)]
        let want = 0b1_00000001_0000000000000001_0;
        assert_eq!(value, want);
        let read = CardRead { reader: 0, format: 1, bits: 26, data: &bits };
        assert_eq!(H10301::decode(&read), Ok(H10301 { facility: 1, card: 1 }));
        for i in 0..26 {
            let mut bad = bits;
            bad[i / 8] ^= 0x80 >> (i % 8);
            let read = CardRead { reader: 0, format: 1, bits: 26, data: &bad };
            assert_eq!(H10301::decode(&read), Err(PayloadError::Parity), "bit {i} flipped");
        }
        let read = CardRead { reader: 0, format: 1, bits: 34, data: &[0; 5] };
        assert_eq!(H10301::decode(&read), Err(PayloadError::Format));
    }

    #[test]
    fn raw_payload_round_trip() {
        let bits = H10301 { facility: 42, card: 4242 }.encode();
        let read = CardRead { reader: 1, format: 1, bits: 26, data: &bits };
        let mut buf = [0u8; 16];
        let n = read.emit(&mut buf).unwrap();
        assert_eq!(&buf[..4], &[1, 1, 26, 0]);
        assert_eq!(CardRead::parse(&buf[..n]), Ok(read));
        assert_eq!(CardRead::parse(&buf[..n - 1]), Err(PayloadError::Length));
        assert_eq!(CardRead::parse(&[0, 1, 0, 0]), Err(PayloadError::Length), "zero bits");
    }

    #[test]
    fn sequence_rules() {
        let mut cp = CpSequence::default();
        let seen: [u8; 6] = core::array::from_fn(|_| {
            let s = cp.current();
            cp.advance();
            s
        });
        assert_eq!(seen, [0, 1, 2, 3, 1, 2]);
        cp.reset();
        assert_eq!(cp.current(), 0);

        let mut pd = PdSequence::default();
        assert_eq!(pd.judge(2), SeqVerdict::Nak, "the first command must use 0");
        assert_eq!(pd.judge(0), SeqVerdict::Fresh);
        assert_eq!(pd.judge(1), SeqVerdict::Fresh);
        assert_eq!(pd.judge(1), SeqVerdict::Replay, "a repeat asks for the cached reply");
        assert_eq!(pd.judge(3), SeqVerdict::Nak, "skipped 2");
        assert_eq!(pd.judge(2), SeqVerdict::Fresh);
        assert_eq!(pd.judge(3), SeqVerdict::Fresh);
        assert_eq!(pd.judge(1), SeqVerdict::Fresh, "3 wraps to 1");
        assert_eq!(pd.judge(0), SeqVerdict::Fresh, "0 resets at any time");
    }
}
