//! OSDP frame integrity: the 16-bit CRC and the 8-bit checksum.
//!
//! - CRC: CRC-16/AUG-CCITT — polynomial `0x1021`, initial value `0x1D0F`,
//!   not reflected, no final XOR — sent least-significant byte first.
//! - Checksum: the two's complement of the byte sum, so that the sum of
//!   the frame and its checksum is zero modulo 256.
//!
//! Both cover the frame from SOM (`0x53`) up to, not including, the check.

/// CRC-16/AUG-CCITT over `data`.
#[must_use]
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0x1D0F;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// The CRC as it appears on the wire (little-endian).
#[must_use]
pub fn crc16_bytes(data: &[u8]) -> [u8; 2] {
    crc16(data).to_le_bytes()
}

/// The 8-bit checksum: two's complement of the byte sum.
#[must_use]
pub fn checksum(data: &[u8]) -> u8 {
    data.iter().fold(0u8, |acc, &b| acc.wrapping_add(b)).wrapping_neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known-answer vectors (libosdp's test frames): POLL-like ID command to
    // PD 0, and COMSET broadcast.
    static ID_FRAME: [u8; 7] = [0x53, 0x00, 0x09, 0x00, 0x04, 0x61, 0x00];
    static COMSET_FRAME: [u8; 11] = [0x53, 0x7F, 0x0D, 0x00, 0x04, 0x6E, 0x00, 0x80, 0x25, 0x00, 0x00];

    #[test]
    fn crc_known_answers() {
        assert_eq!(crc16_bytes(&ID_FRAME), [0xC0, 0x66]);
        assert_eq!(crc16_bytes(&COMSET_FRAME), [0x6E, 0x38]);
        // The catalogue check value of CRC-16/AUG-CCITT.
        assert_eq!(crc16(b"123456789"), 0xE5CC);
    }

    // The same two frames sent with a checksum: CTRL bit 0x04 clear, and
    // LEN one byte shorter.
    static ID_FRAME_CKSUM: [u8; 7] = [0x53, 0x00, 0x08, 0x00, 0x00, 0x61, 0x00];
    static COMSET_FRAME_CKSUM: [u8; 11] = [0x53, 0x7F, 0x0C, 0x00, 0x00, 0x6E, 0x00, 0x80, 0x25, 0x00, 0x00];

    #[test]
    fn checksum_known_answers() {
        assert_eq!(checksum(&ID_FRAME_CKSUM), 0x44);
        assert_eq!(checksum(&COMSET_FRAME_CKSUM), 0x0F);
    }

    #[test]
    fn checksum_makes_the_sum_zero() {
        let s = checksum(&COMSET_FRAME);
        let total = COMSET_FRAME.iter().fold(s, |a, &b| a.wrapping_add(b));
        assert_eq!(total, 0);
    }
}
