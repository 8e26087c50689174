//! Debouncing taps: a card held on the reader is one tap, and a card that
//! flickers at the edge of the field (gone and back within the window) is
//! not tapped again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::domain::Uid;

/// Remembers, per reader, the last card read and when it left.
#[derive(Debug)]
pub struct Debouncer {
    window: Duration,
    last: HashMap<String, (Uid, Option<Instant>)>,
}

impl Debouncer {
    /// A debouncer that swallows a re-read of the same card within `window`
    /// of its removal.
    #[must_use]
    pub fn new(window: Duration) -> Self {
        Self { window, last: HashMap::new() }
    }

    /// A card with `uid` was read at `reader` at `now`: should it count as a tap?
    pub fn tap(&mut self, reader: &str, uid: Uid, now: Instant) -> bool {
        let fresh = match self.last.get(reader) {
            // Still on the reader (no removal seen since): the same tap.
            Some((u, None)) => *u != uid,
            Some((u, Some(left))) => *u != uid || now.saturating_duration_since(*left) >= self.window,
            None => true,
        };
        self.last.insert(reader.to_owned(), (uid, None));
        fresh
    }

    /// The card left `reader` at `now`.
    pub fn removed(&mut self, reader: &str, now: Instant) {
        if let Some((_, left)) = self.last.get_mut(reader) {
            *left = Some(now);
        }
    }

    /// The reader is gone: forget it.
    pub fn forget(&mut self, reader: &str) {
        self.last.remove(reader);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tap_per_presentation() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let a = Uid::from_bytes(&[4, 1, 2, 3]).unwrap();
        let b = Uid::from_bytes(&[4, 9, 9, 9]).unwrap();
        let mut d = Debouncer::new(Duration::from_millis(300));
        assert!(d.tap("R", a, ms(0)), "first read");
        assert!(!d.tap("R", a, ms(50)), "read again while still on the reader");
        d.removed("R", ms(100));
        assert!(!d.tap("R", a, ms(399)), "flicker: back within the window");
        d.removed("R", ms(400));
        assert!(d.tap("R", a, ms(700)), "exactly the window later counts");
        assert!(d.tap("R", b, ms(701)), "another card counts at once");
        assert!(d.tap("S", b, ms(702)), "readers are independent");
        d.forget("R");
        assert!(d.tap("R", b, ms(703)));
    }
}
