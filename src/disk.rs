//! The data directory's file system: how much room is left, and whether
//! that is below the warning threshold (`disk_free_warn_percent`). A full
//! disk stops the event log and staff writes (they fail fast and clean,
//! see `api::doors` and `StoreError::StorageFull`); this is the warning
//! before it: a metric, a `/readyz` detail and a log line.

use std::path::Path;

/// Room on a file system, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Available to this (unprivileged) process.
    pub free: u64,
    /// The file system's size.
    pub total: u64,
}

impl Space {
    /// The file system holding `dir`.
    pub fn of(dir: &Path) -> std::io::Result<Self> {
        let s = rustix::fs::statvfs(dir).map_err(std::io::Error::from)?;
        Ok(Self { free: s.f_bavail.saturating_mul(s.f_frsize), total: s.f_blocks.saturating_mul(s.f_frsize) })
    }

    /// Free space in whole percent of the size (rounded down; 100 for an
    /// empty-sized file system).
    #[must_use]
    pub fn percent_free(self) -> u64 {
        if self.total == 0 {
            100
        } else {
            u64::try_from(u128::from(self.free) * 100 / u128::from(self.total)).unwrap_or(100)
        }
    }

    /// Below `threshold` percent free (0: never).
    #[must_use]
    pub fn low(self, threshold: u8) -> bool {
        threshold > 0 && self.percent_free() < u64::from(threshold)
    }

    /// What `/readyz` and the log say when it is low.
    #[must_use]
    pub fn warning(self) -> String {
        format!(
            "low disk space: {} % ({} MiB) free on the data directory's file system; when it is full, doors get 503 \
             and staff writes 507",
            self.percent_free(),
            self.free / (1024 * 1024)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_a_percentage_of_the_size_and_zero_turns_it_off() {
        let s = Space { free: 9, total: 100 };
        assert_eq!(s.percent_free(), 9);
        assert!(s.low(10));
        assert!(!s.low(9));
        assert!(!s.low(0));
        assert!(!Space { free: 10, total: 100 }.low(10));
        assert_eq!(Space { free: 0, total: 0 }.percent_free(), 100);
        assert!(Space { free: 1 << 20, total: 1 << 40 }.warning().contains("0 % (1 MiB) free"));
    }

    #[test]
    fn a_real_directory_has_room_within_its_file_system() {
        let d = tempfile::tempdir().unwrap();
        let s = Space::of(d.path()).unwrap();
        assert!(s.total > 0 && s.free <= s.total, "{s:?}");
        assert!(Space::of(&d.path().join("missing")).is_err());
    }
}
