//! Background writers yield to the doors. A door decision over HTTP is
//! answered once its access event is fsynced to `events.db`, on the same
//! disk as `idms.db`, so a purge job's commits (and a directory
//! provisioning's) show up in the doors' latency on a slow disk and not on
//! a fast one. [`DoorWatch`] keeps the door decisions' latencies of the
//! last second; [`Pacer`] chooses a background writer's rest between steps
//! from their p99 against a target (`purge_door_p99_ms`): it rests longer
//! while the doors are above it, and less (down to none) while they are
//! well below it or quiet. A purge job judges each step by the doors that
//! asked since the step before it began ([`DoorWatch::p99_since`]), not by
//! the whole last second, which still holds the slow doors of a second ago
//! and made it rest at the longest long after the doors had recovered (the
//! simulated slow disk in this module's tests: the job stepped 3 % of the
//! time with the second's p99, 11 % with the step's; the doors held 5 ms).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window the doors' p99 is taken over.
pub const WINDOW: Duration = Duration::from_secs(1);
/// The longest rest between two steps.
pub const MAX_REST: Duration = Duration::from_secs(1);
/// The fewest people a step takes, however the doors fare: with
/// [`MAX_REST`], a job never falls below about ten people a second, even
/// where the doors are slow without it (it cannot make them faster then).
pub const MIN_USERS: u32 = 10;
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
        self.p99_of(None, now)
    }

    /// The p99 of the decisions answered at or after `since` (and in the
    /// [`WINDOW`] before `now`); `None` when there were none. A job judges
    /// its last step and rest by the doors that asked meanwhile: a whole
    /// second's p99 would still show the doors of a second ago, and the job
    /// would keep slowing down after they have recovered.
    pub fn p99_since(&self, since: Instant, now: Instant) -> Option<Duration> {
        self.p99_of(Some(since), now)
    }

    fn p99_of(&self, since: Option<Instant>, now: Instant) -> Option<Duration> {
        let mut s = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while s.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > WINDOW) {
            s.pop_front();
        }
        let mut v: Vec<Duration> = s.iter().filter(|(at, _)| since.is_none_or(|t| *at >= t)).map(|(_, d)| *d).collect();
        drop(s); // the doors record under this lock: the selection runs outside it
        if v.is_empty() {
            return None;
        }
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

/// A background writer's pace, following the doors: the rest between its
/// steps, and how many people a step takes.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    target: Duration,
    rest: Duration,
    users: u32,
    max_users: u32,
    /// When the step before the last one began (the doors since then judge the last one).
    last_started: Option<Instant>,
}

impl Pacer {
    /// Aiming at the doors' p99 staying at or under `target`, with steps
    /// of at most `max_users` people.
    #[must_use]
    pub fn new(target: Duration, max_users: u32) -> Self {
        Self { target, rest: Duration::ZERO, users: max_users.max(1), max_users: max_users.max(1), last_started: None }
    }

    /// The rest after a step (or a scrub's slice) that just ended and took
    /// `took`, judged by the p99 of the doors in `doors` that asked since
    /// the step before it began ([`DoorWatch::p99_since`]); see
    /// [`Pacer::rest_after`].
    pub fn after_step(&mut self, doors: &DoorWatch, took: Duration) -> Duration {
        let now = Instant::now();
        let started = now.checked_sub(took).unwrap_or(now);
        let since = self.last_started.replace(started).unwrap_or(started);
        self.rest_after(took, doors.p99_since(since, now))
    }

    /// The rest after a step that took `step`, the doors' p99 being
    /// `doors`. It aims under the target, so that a second's p99 stays
    /// below it: above four fifths of the target, at least as long as the
    /// step and twice the last rest (up to [`MAX_REST`]), and the next step
    /// half as large, down to [`MIN_USERS`] (its commit is the burst of
    /// writes the doors' fsyncs queue behind); under three fifths, or with no door asking, half the
    /// last rest (none below a millisecond), and once there is no rest,
    /// steps twice as large again; in between, the same.
    pub fn rest_after(&mut self, step: Duration, doors: Option<Duration>) -> Duration {
        match doors {
            Some(p) if p * 5 > self.target * 4 => {
                self.rest = (self.rest * 2).max(step).max(Duration::from_millis(1)).min(MAX_REST);
                self.users = (self.users / 2).max(MIN_USERS.min(self.max_users));
            }
            Some(p) if p * 5 >= self.target * 3 => {}
            _ if self.rest < Duration::from_millis(1) => {
                self.rest = Duration::ZERO;
                self.users = (self.users * 2).min(self.max_users);
            }
            _ => self.rest /= 2,
        }
        self.rest
    }

    /// The rest chosen last.
    #[must_use]
    pub fn rest(&self) -> Duration {
        self.rest
    }

    /// How many people the next step takes.
    #[must_use]
    pub fn users(&self) -> u32 {
        self.users
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

    #[test]
    fn the_p99_since_a_step_began_leaves_out_the_doors_before_it() {
        let w = DoorWatch::default();
        let t0 = Instant::now();
        for _ in 0..50 {
            w.record_at(t0, MS * 30);
        }
        let step = t0 + MS * 100;
        for _ in 0..50 {
            w.record_at(step + MS, MS * 2);
        }
        let now = step + MS * 10;
        assert_eq!(w.p99_at(now), Some(MS * 30), "the second still holds the slow ones");
        assert_eq!(w.p99_since(step, now), Some(MS * 2), "since the step: only the doors after it");
        assert_eq!(w.p99_since(now, now), None, "no door since");
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
        let mut p = Pacer::new(MS * 5, 50);
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
        assert_eq!(Pacer::new(MS * 5, 50).rest_after(Duration::from_micros(10), Some(MS * 6)), MS);
    }

    #[test]
    fn steps_shrink_while_the_doors_suffer_and_grow_back_once_the_job_no_longer_rests() {
        let mut p = Pacer::new(MS * 5, 50);
        let step = MS * 20;
        assert_eq!(p.users(), 50);
        p.rest_after(step, Some(MS * 8));
        assert_eq!(p.users(), 25);
        for _ in 0..10 {
            p.rest_after(step, Some(MS * 8));
        }
        assert_eq!(p.users(), MIN_USERS, "never below the floor");
        // Held between three and four fifths; while the rest comes down, the steps stay small.
        p.rest_after(step, Some(MS * 7 / 2));
        assert_eq!(p.users(), MIN_USERS);
        p.rest_after(step, Some(MS * 2));
        assert_eq!((p.users(), p.rest()), (MIN_USERS, MAX_REST / 2));
        // No rest left: the steps double back, up to the most.
        while p.rest_after(step, None) > Duration::ZERO {}
        let mut sizes = Vec::new();
        for _ in 0..8 {
            p.rest_after(step, None);
            sizes.push(p.users());
        }
        assert_eq!(sizes, [40, 50, 50, 50, 50, 50, 50, 50]);
    }

    /// A simulated disk, in virtual time: each of the job's steps keeps the
    /// disk busy for 20 ms, and a door's latency is 1 ms plus `slowdown`
    /// times the share of the last 100 ms the job kept the disk busy (its
    /// writes queued ahead of the door's fsync). Doors ask every 5 ms; the
    /// job rests what [`Pacer`] chooses from the [`DoorWatch`]. Returns
    /// each one-second window's door p99 and the share of the time the job
    /// was stepping.
    fn simulate(slowdown: Duration, seconds: u32) -> (Vec<Duration>, f64) {
        let t0 = Instant::now();
        let step = MS * 20;
        let watch = DoorWatch::default();
        let mut pacer = Pacer::new(MS * 5, 50);
        let mut steps: Vec<(Duration, Duration)> = Vec::new(); // [start, end) of each step
        let (mut now, mut next_door, mut busy_total) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let end = Duration::from_secs(u64::from(seconds));
        let mut windows = vec![Vec::new(); seconds as usize];
        let latency = |steps: &[(Duration, Duration)], at: Duration| {
            let from = at.saturating_sub(MS * 100);
            let busy: Duration = steps
                .iter()
                .rev()
                .take_while(|(_, e)| *e > from)
                .map(|(s, e)| (*e).min(at).saturating_sub((*s).max(from)))
                .sum();
            MS + slowdown.mul_f64(busy.as_secs_f64() / 0.1)
        };
        while now < end {
            // The step, then the rest; the doors that ask meanwhile.
            steps.push((now, now + step));
            busy_total += step;
            let rest_from = now + step;
            let mut doors_until =
                |until: Duration, steps: &[(Duration, Duration)], windows: &mut Vec<Vec<Duration>>| {
                    while next_door < until.min(end) {
                        let took = latency(steps, next_door);
                        watch.record_at(t0 + next_door, took);
                        windows[next_door.as_secs() as usize].push(took);
                        next_door += MS * 5;
                    }
                };
            doors_until(rest_from, &steps, &mut windows);
            // As the job does: judged by the doors since the step before this one began.
            let since = steps.len().checked_sub(2).map_or(now, |i| steps[i].0);
            let rest = pacer.rest_after(step, watch.p99_since(t0 + since, t0 + rest_from));
            now = rest_from + rest.max(MS);
            doors_until(now, &steps, &mut windows);
        }
        let p99s = windows
            .into_iter()
            .map(|mut w| {
                w.sort_unstable();
                w[(w.len() * 99).div_ceil(100) - 1]
            })
            .collect();
        (p99s, busy_total.as_secs_f64() / end.as_secs_f64())
    }

    #[test]
    fn on_a_slow_disk_the_doors_keep_their_p99_and_on_a_fast_one_the_job_runs_at_full_speed() {
        // Slow: at full speed the doors would take 13 ms. After the first seconds every second's p99
        // is at or under the 5 ms target, and the job still does real work.
        let (p99s, duty) = simulate(MS * 12, 60);
        let late: Vec<_> = p99s.iter().skip(3).filter(|p| **p > MS * 5).collect();
        assert!(late.is_empty(), "seconds over the target: {late:?} of {p99s:?}");
        assert!(duty > 0.1, "the job was starved: stepping {duty:.2} of the time");
        // Fast: the doors never notice (at most 2 ms), and the job barely rests.
        let (p99s, duty) = simulate(MS, 60);
        assert!(p99s.iter().all(|p| *p <= MS * 2), "{p99s:?}");
        assert!(duty > 0.9, "the job was slowed on a fast disk: stepping {duty:.2} of the time");
    }
}
