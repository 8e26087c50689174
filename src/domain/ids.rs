//! User IDs: stable, opaque, never reused.
//!
//! A user ID is a random 60-bit number, shown as 12 Crockford base-32
//! characters (`7KQ2M9XW4HC1`). Randomness makes IDs unguessable and says
//! nothing about how many people exist; "never reused" holds because the
//! store never deletes a user row (an expunged user stays as a tombstone)
//! and the primary key refuses a collision.

use std::fmt;
use std::str::FromStr;

use crate::domain::DomainError;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LEN: usize = 12;
const MASK: u64 = (1 << 60) - 1;

/// A user's stable, opaque identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(i64);

impl UserId {
    /// Makes an ID from 64 random bits (the top four are dropped). Never zero.
    #[must_use]
    pub fn from_random_bits(bits: u64) -> Self {
        let v = bits & MASK;
        // Zero is reserved so that a default or unset value can never pass as an ID.
        Self(if v == 0 { 1 } else { v as i64 })
    }

    /// The value stored in the database.
    #[must_use]
    pub fn as_i64(self) -> i64 {
        self.0
    }

    /// Rebuilds an ID from its stored value.
    #[must_use]
    pub fn from_i64(v: i64) -> Self {
        Self(v)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; LEN];
        let mut v = self.0 as u64;
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(v & 31) as usize];
            v >>= 5;
        }
        // The alphabet is ASCII, so every byte is a char.
        for b in out {
            fmt::Write::write_char(f, char::from(b))?;
        }
        Ok(())
    }
}

impl FromStr for UserId {
    type Err = DomainError;

    /// Parses an ID case-insensitively; Crockford's look-alikes `I`/`L` read
    /// as `1` and `O` as `0`, so an ID read aloud or off paper still parses.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || DomainError::InvalidUserId;
        if s.len() != LEN {
            return Err(bad());
        }
        let mut v: u64 = 0;
        for c in s.bytes() {
            let c = match c.to_ascii_uppercase() {
                b'I' | b'L' => b'1',
                b'O' => b'0',
                c => c,
            };
            let d = ALPHABET.iter().position(|&a| a == c).ok_or_else(bad)?;
            v = (v << 5) | d as u64;
        }
        if v == 0 || v > MASK {
            return Err(bad());
        }
        Ok(Self(v as i64))
    }
}

impl serde::Serialize for UserId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_twelve_chars() {
        for bits in [1u64, 2, 31, 32, 0xDEAD_BEEF, u64::MAX, 1 << 59] {
            let id = UserId::from_random_bits(bits);
            let s = id.to_string();
            assert_eq!(s.len(), 12, "{s}");
            assert_eq!(s.parse::<UserId>().unwrap(), id);
            assert_eq!(s.to_lowercase().parse::<UserId>().unwrap(), id);
        }
    }

    #[test]
    fn zero_bits_never_make_zero_id() {
        assert_eq!(UserId::from_random_bits(0).as_i64(), 1);
        assert_eq!(UserId::from_random_bits(1 << 60).as_i64(), 1);
    }

    #[test]
    fn look_alikes_read_as_digits() {
        let id = UserId::from_i64(1);
        assert_eq!("OOOOOOOOOOOI".parse::<UserId>().unwrap(), id);
        assert_eq!("00000000000L".parse::<UserId>().unwrap(), id);
    }

    #[test]
    fn refuses_malformed() {
        for s in ["", "ABC", "0000000000000", "00000000000U", "000000000000", "ZZZZZZZZZZZZZ"] {
            let e = s.parse::<UserId>().unwrap_err();
            assert_eq!(e.code(), "invalid_user_id", "{s}");
            assert!(s.is_empty() || !e.to_string().contains(s), "never echoes the input");
        }
    }
}
