//! Typed data of the commands and replies a control panel needs to bring a
//! reader online and give door feedback: `PDID`, `PDCAP`, `LED`, `BUZ`,
//! `COMSET`. Each parses from and emits into plain byte slices.

use crate::codes::{PayloadError, byte_enum, code_of};

/// `PDID`: who the PD is (12 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdId {
    /// IEEE OUI of the vendor.
    pub vendor: [u8; 3],
    /// Model number.
    pub model: u8,
    /// Model version.
    pub version: u8,
    /// Serial number.
    pub serial: u32,
    /// Firmware major, minor, build.
    pub firmware: [u8; 3],
}

impl PdId {
    /// Its length on the wire.
    pub const LEN: usize = 12;

    /// Parses `PDID` data.
    pub fn parse(d: &[u8]) -> Result<Self, PayloadError> {
        let d: &[u8; Self::LEN] = d.try_into().map_err(|_| PayloadError::Length)?;
        Ok(Self {
            vendor: [d[0], d[1], d[2]],
            model: d[3],
            version: d[4],
            serial: u32::from_le_bytes([d[5], d[6], d[7], d[8]]),
            firmware: [d[9], d[10], d[11]],
        })
    }

    /// The 12 bytes.
    #[must_use]
    pub fn emit(&self) -> [u8; Self::LEN] {
        let s = self.serial.to_le_bytes();
        [
            self.vendor[0],
            self.vendor[1],
            self.vendor[2],
            self.model,
            self.version,
            s[0],
            s[1],
            s[2],
            s[3],
            self.firmware[0],
            self.firmware[1],
            self.firmware[2],
        ]
    }
}

/// One `PDCAP` entry: a function, its compliance level, how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// Function code (1 contact status monitoring, 2 output control,
    /// 3 card data format, 4 reader LED control, 5 reader audible output,
    /// 6 text output, 8 check character support (CRC), 9 communication
    /// security, 10 receive buffer size, …).
    pub function: u8,
    /// Compliance level.
    pub compliance: u8,
    /// Number of items (LEDs, outputs, …).
    pub count: u8,
}

/// The entries of a `PDCAP` reply (3 bytes each).
pub fn capabilities(d: &[u8]) -> Result<impl Iterator<Item = Capability> + '_, PayloadError> {
    if !d.len().is_multiple_of(3) {
        return Err(PayloadError::Length);
    }
    Ok(d.chunks_exact(3).map(|c| Capability { function: c[0], compliance: c[1], count: c[2] }))
}

byte_enum! {
    /// LED colours.
    Color {
        /// Off / black.
        Black = 0,
        /// Red.
        Red = 1,
        /// Green.
        Green = 2,
        /// Amber.
        Amber = 3,
        /// Blue.
        Blue = 4,
    }
}

/// One `LED` record (14 bytes): a temporary pattern for a while, then the
/// permanent state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Led {
    /// Reader number.
    pub reader: u8,
    /// LED number.
    pub led: u8,
    /// Temporary control: 0 no change, 1 cancel, 2 set.
    pub temp_control: u8,
    /// On and off times, in 100 ms units.
    pub temp_on: u8,
    /// Off time, 100 ms units.
    pub temp_off: u8,
    /// Colour while on.
    pub temp_on_color: Color,
    /// Colour while off.
    pub temp_off_color: Color,
    /// How long the temporary pattern lasts, in 100 ms units.
    pub temp_timer: u16,
    /// Permanent control: 0 no change, 1 set.
    pub perm_control: u8,
    /// Permanent on time, 100 ms units.
    pub perm_on: u8,
    /// Permanent off time, 100 ms units.
    pub perm_off: u8,
    /// Permanent colour while on.
    pub perm_on_color: Color,
    /// Permanent colour while off.
    pub perm_off_color: Color,
}

impl Led {
    /// Its length on the wire.
    pub const LEN: usize = 14;

    /// A steady `color` for `tenths` × 100 ms on LED 0, then back to the permanent state.
    #[must_use]
    pub fn flash(reader: u8, color: Color, tenths: u16) -> Self {
        Self {
            reader,
            led: 0,
            temp_control: 2,
            temp_on: 1,
            temp_off: 0,
            temp_on_color: color,
            temp_off_color: color,
            temp_timer: tenths,
            perm_control: 0,
            perm_on: 0,
            perm_off: 0,
            perm_on_color: Color::Black,
            perm_off_color: Color::Black,
        }
    }

    /// Parses one record.
    pub fn parse(d: &[u8]) -> Result<Self, PayloadError> {
        let d: &[u8; Self::LEN] = d.try_into().map_err(|_| PayloadError::Length)?;
        Ok(Self {
            reader: d[0],
            led: d[1],
            temp_control: d[2],
            temp_on: d[3],
            temp_off: d[4],
            temp_on_color: code_of(d[5])?,
            temp_off_color: code_of(d[6])?,
            temp_timer: u16::from_le_bytes([d[7], d[8]]),
            perm_control: d[9],
            perm_on: d[10],
            perm_off: d[11],
            perm_on_color: code_of(d[12])?,
            perm_off_color: code_of(d[13])?,
        })
    }

    /// The 14 bytes.
    #[must_use]
    pub fn emit(&self) -> [u8; Self::LEN] {
        let t = self.temp_timer.to_le_bytes();
        [
            self.reader,
            self.led,
            self.temp_control,
            self.temp_on,
            self.temp_off,
            self.temp_on_color as u8,
            self.temp_off_color as u8,
            t[0],
            t[1],
            self.perm_control,
            self.perm_on,
            self.perm_off,
            self.perm_on_color as u8,
            self.perm_off_color as u8,
        ]
    }
}

/// `BUZ` (5 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buzzer {
    /// Reader number.
    pub reader: u8,
    /// 1 off, 2 the default tone.
    pub tone: u8,
    /// On time, 100 ms units.
    pub on: u8,
    /// Off time, 100 ms units.
    pub off: u8,
    /// Repetitions (0: until told otherwise).
    pub count: u8,
}

impl Buzzer {
    /// Its length on the wire.
    pub const LEN: usize = 5;

    /// Parses `BUZ` data.
    pub fn parse(d: &[u8]) -> Result<Self, PayloadError> {
        let [reader, tone, on, off, count] = *d else { return Err(PayloadError::Length) };
        Ok(Self { reader, tone, on, off, count })
    }

    /// The 5 bytes.
    #[must_use]
    pub fn emit(&self) -> [u8; Self::LEN] {
        [self.reader, self.tone, self.on, self.off, self.count]
    }
}

/// `COMSET` and its `COM` reply (5 bytes): the new address and baud rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComSet {
    /// The new address.
    pub address: u8,
    /// The new baud rate.
    pub baud: u32,
}

impl ComSet {
    /// Parses `COMSET` or `COM` data.
    pub fn parse(d: &[u8]) -> Result<Self, PayloadError> {
        let [address, b0, b1, b2, b3] = *d else { return Err(PayloadError::Length) };
        Ok(Self { address, baud: u32::from_le_bytes([b0, b1, b2, b3]) })
    }

    /// The 5 bytes.
    #[must_use]
    pub fn emit(&self) -> [u8; 5] {
        let b = self.baud.to_le_bytes();
        [self.address, b[0], b[1], b[2], b[3]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_wrong_lengths_are_refused() {
        let id = PdId { vendor: [0x0A, 0x0B, 0x0C], model: 7, version: 2, serial: 0x1234_5678, firmware: [1, 2, 3] };
        assert_eq!(PdId::parse(&id.emit()), Ok(id));
        assert_eq!(id.emit()[5..9], [0x78, 0x56, 0x34, 0x12], "serial little-endian");
        assert_eq!(PdId::parse(&[0; 11]), Err(PayloadError::Length));

        let led = Led::flash(0, Color::Green, 20);
        assert_eq!(Led::parse(&led.emit()), Ok(led));
        let mut bad = led.emit();
        bad[5] = 9;
        assert_eq!(Led::parse(&bad), Err(PayloadError::Format), "no colour 9");

        let buz = Buzzer { reader: 0, tone: 2, on: 1, off: 0, count: 1 };
        assert_eq!(Buzzer::parse(&buz.emit()), Ok(buz));
        assert_eq!(Buzzer::parse(&[0; 4]), Err(PayloadError::Length));

        // libosdp's COMSET vector: address 0, 9600 baud.
        assert_eq!(ComSet::parse(&[0x00, 0x80, 0x25, 0x00, 0x00]), Ok(ComSet { address: 0, baud: 9600 }));
        assert_eq!(ComSet { address: 0, baud: 9600 }.emit(), [0x00, 0x80, 0x25, 0x00, 0x00]);

        let caps: [Capability; 2] = {
            let mut it = capabilities(&[4, 1, 2, 5, 1, 1]).unwrap();
            [it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(caps[0], Capability { function: 4, compliance: 1, count: 2 });
        assert_eq!(caps[1].function, 5);
        assert!(capabilities(&[1, 2]).is_err());
    }
}
