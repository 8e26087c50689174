//! Background writers yield to the doors. A door decision over HTTP is
//! answered once its access event is fsynced to `events.db`, on the same
//! disk as `idms.db`, so a purge job's commits (and a directory
//! provisioning's) show up in the doors' latency on a slow disk and not on
//! a fast one. [`DoorWatch`] keeps the door decisions' latencies of the
//! last second; [`Pacer`] chooses a background writer's rest between steps
//! from their p99 against a target (`purge_door_p99_ms`): it rests longer
//! while the doors are above it, and less (down to none) while they are
//! well below it or quiet.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window the doors' p99 is taken over.
pub const WINDOW: Duration = Duration::from_secs(1);
/// The longest rest between two steps.
pub const MAX_REST: Duration = Duration::from_secs(1);
/// Samples kept at most (a busy second of doors).
const MAX_SAMPLES: usize = 16_384;

/// The door decisions' latencies over the last [`WINDOW`].
#[derive(Debug, Default)]
pub struct DoorWatch {
    samples: Mutex<VecDeque<(Instant, Duration)>>,
}

impl DoorWatch {
    /// A door decision took `took` (answered at `at`).
    pub fn record_at(&self, at: Instant, took: Duration) {
        let mut s = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if s.len() >= MAX_SAMPLES {
            s.pop_front();
        }
        s.push_back((at, took));
    }

    /// A door decision took `took`, answered now.
    pub fn record(&self, took: Duration) {
        self.record_at(Instant::now(), took);
    }

    /// The p99 of the decisions answered in the [`WINDOW`] before `now`;
    /// `None` when there were none (no door to protect).
    pub fn p99_at(&self, now: Instant) -> Option<Duration> {
        let mut s = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while s.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > WINDOW) {
            s.pop_front();
        }
        if s.is_empty() {
            return None;
        }
        let mut v: Vec<Duration> = s.iter().map(|(_, d)| *d).collect();
        drop(s); // the doors record under this lock: the selection runs outside it
        let i = (v.len() * 99).div_ceil(100).clamp(1, v.len()) - 1;
        let (_, p, _) = v.select_nth_unstable(i);
        Some(*p)
    }

    /// [`DoorWatch::p99_at`] now.
    pub fn p99(&self) -> Option<Duration> {
        self.p99_at(Instant::now())
    }

    /// Waits while the doors' p99 is above `target`, looking every 10 ms,
    /// at most `max` in all (a writer is slowed, never stopped).
    pub async fn wait_for_doors(&self, target: Duration, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        while self.p99().is_some_and(|p| p > target) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A background writer's rest between steps, following the doors.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    target: Duration,
    rest: Duration,
}

impl Pacer {
    /// Aiming at the doors' p99 staying at or under `target`.
    #[must_use]
    pub fn new(target: Duration) -> Self {
        Self { target, rest: Duration::ZERO }
    }

    /// The rest after a step that took `step`, the doors' p99 being
    /// `doors`. It aims under the target, so that a second's p99 stays
    /// below it: above four fifths of the target, at least as long as the
    /// step and twice the last rest (up to [`MAX_REST`]); under three
    /// fifths, or with no door asking, half the last rest (none below a
    /// millisecond); in between, the same.
    pub fn rest_after(&mut self, step: Duration, doors: Option<Duration>) -> Duration {
        self.rest = match doors {
            Some(p) if p * 5 > self.target * 4 => (self.rest * 2).max(step).max(Duration::from_millis(1)).min(MAX_REST),
            Some(p) if p * 5 >= self.target * 3 => self.rest,
            _ if self.rest < Duration::from_millis(1) => Duration::ZERO,
            _ => self.rest / 2,
        };
        self.rest
    }

    /// The rest chosen last.
    #[must_use]
    pub fn rest(&self) -> Duration {
        self.rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_p99_is_of_the_last_second_only_and_none_without_doors() {
        let w = DoorWatch::default();
        let t0 = Instant::now();
        assert_eq!(w.p99_at(t0), None);
        for i in 0..100u32 {
            w.record_at(t0, MS * if i == 99 { 50 } else { 1 });
        }
        assert_eq!(w.p99_at(t0), Some(MS), "99 of 100 at 1 ms");
        w.record_at(t0, MS * 60);
        assert_eq!(w.p99_at(t0), Some(MS * 50), "two slow ones in 101");
        // A second later they have left the window.
        w.record_at(t0 + WINDOW + MS, MS * 2);
        assert_eq!(w.p99_at(t0 + WINDOW + MS * 2), Some(MS * 2));
        assert_eq!(w.p99_at(t0 + WINDOW * 3), None);
    }

    #[tokio::test]
    async fn a_writer_waits_while_the_doors_are_slow_at_least_its_bound_and_not_when_they_are_quiet() {
        let w = DoorWatch::default();
        let long = Duration::from_secs(30);
        // Quiet doors, then fast ones: the wait ends at once (30 s would fail the test's own hang guard).
        let t = Instant::now();
        w.wait_for_doors(MS * 5, long).await;
        for _ in 0..10 {
            w.record(MS * 2);
        }
        w.wait_for_doors(MS * 5, long).await;
        assert!(t.elapsed() < long, "no wait without slow doors");
        // One slow door in the last second: the writer waits its whole bound.
        w.record(MS * 40);
        let t = Instant::now();
        w.wait_for_doors(MS * 5, MS * 100).await;
        assert!(t.elapsed() >= MS * 100, "{:?}", t.elapsed());
        // Once the slow one has left the window, no wait.
        std::thread::sleep(WINDOW + MS * 10);
        w.record(MS * 2);
        let t = Instant::now();
        w.wait_for_doors(MS * 5, long).await;
        assert!(t.elapsed() < long);
    }

    #[test]
    fn the_rest_grows_while_the_doors_suffer_and_shrinks_to_none_when_they_do_not() {
        let mut p = Pacer::new(MS * 5);
        let step = MS * 20;
        // Quiet doors or fast ones: full speed.
        assert_eq!(p.rest_after(step, None), Duration::ZERO);
        assert_eq!(p.rest_after(step, Some(MS)), Duration::ZERO);
        // Over four fifths of the target: at least the step, then doubling, up to the cap.
        assert_eq!(p.rest_after(step, Some(MS * 8)), step);
        assert_eq!(p.rest_after(step, Some(MS * 8)), step * 2);
        for _ in 0..10 {
            p.rest_after(step, Some(MS * 8));
        }
        assert_eq!(p.rest(), MAX_REST);
        // Just under the target (4.5 ms): still too close, the rest stays at its cap.
        assert_eq!(p.rest_after(step, Some(MS * 9 / 2)), MAX_REST);
        // Between three and four fifths of it (3.5 ms): held.
        assert_eq!(p.rest_after(step, Some(MS * 7 / 2)), MAX_REST);
        // Well under it: halved each step, down to none.
        assert_eq!(p.rest_after(step, Some(MS * 2)), MAX_REST / 2);
        let mut n = 0;
        while p.rest_after(step, Some(MS * 2)) > Duration::ZERO {
            n += 1;
            assert!(n < 20, "the rest comes down to none");
        }
        // A tiny step over the target still rests a millisecond.
        assert_eq!(Pacer::new(MS * 5).rest_after(Duration::from_micros(10), Some(MS * 6)), MS);
    }
}
