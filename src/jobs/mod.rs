//! Purge jobs, run to completion: they cannot be aborted, and after a
//! crash they resume where they stopped.
//!
//! The database holds everything a job needs (its plan and which people are
//! still pending, see `store::purge`), so running one is a loop of
//! [`Store::purge_step`] until it reports the job finished. [`run`] is that
//! loop, with a progress callback (the CLI's progress bar); [`Runner`] is
//! the service's background thread, which scrubs the database after
//! expunges (`Store::scrub`, also when a process crashed before its own
//! scrub), resumes unfinished jobs when the service starts, runs new ones when woken, looks for jobs other processes
//! left unfinished every few seconds, and prunes job records older than a
//! year. Several runners (the service and `idms purge run`) may work on one
//! job at once: each step claims its people inside its own transaction.
//!
//! **Architecture invariant:** a job is stopped only by the process ending;
//! nothing in the API or CLI can abort it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::store::{Actor, PurgeJob, Store, StoreError};

pub mod pace;

use pace::{DoorWatch, Pacer};

/// People per step (one transaction), at most. Small steps keep each
/// commit's fsync short, so door decisions (whose access events are fsynced
/// to `events.db` on the same disk) are not held up: measured at 100,000
/// people, 500 gave an HTTP decide p99 of 8.7 ms during the job, 50 gave
/// 4.3 ms at 6,200 people/s (`make bench-purge`).
pub const STEP_USERS: u32 = 50;
/// A step takes no new person after this long, so the writer lock (and
/// with it every other write) is never held up for long.
pub const STEP_BUDGET: Duration = Duration::from_millis(40);
/// The doors' p99 a job aims at by default (`purge_door_p99_ms`).
pub const DOOR_P99_TARGET: Duration = Duration::from_millis(5);
/// How often the runner looks for unfinished jobs nobody woke it for.
const POLL: Duration = Duration::from_secs(2);
/// How long the scrub mark of a single expunge may wait by default
/// (`scrub_delay_secs`; jobs and bulk erases scrub when they finish): a
/// scrub reads every page of the file, so single expunges are scrubbed in
/// batches.
pub const SCRUB_DELAY: Duration = Duration::from_secs(600);
/// How often job records are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Runs job `id` until it is complete or `stop` is set (between steps).
/// `progress` sees the job after every step; after each step it rests as
/// long as the step took (a job shares the disk with the doors' access
/// events, and 2,000 people/s is plenty). A completed job ends with
/// [`Store::scrub`] (the file rebuilt, the WAL truncated), so the erased
/// data survives in no file; a stopped one with a WAL checkpoint.
pub fn run(
    store: &Store,
    id: i64,
    stop: &AtomicBool,
    mut progress: impl FnMut(&PurgeJob),
) -> Result<PurgeJob, StoreError> {
    run_with(store, id, stop, None, |j, _| progress(j))
}

/// [`run`], resting between steps as the doors need: the [`Pacer`] reads
/// the doors' p99 from `doors` after every step and aims at `target`
/// (`purge_door_p99_ms`), so the job slows down while the doors suffer and
/// runs at full speed while they do not. `progress` sees the job after
/// every step with the rest chosen before the next (zero after the last).
pub fn run_paced(
    store: &Store,
    id: i64,
    stop: &AtomicBool,
    doors: &DoorWatch,
    target: Duration,
    progress: impl FnMut(&PurgeJob, Duration),
) -> Result<PurgeJob, StoreError> {
    run_with(store, id, stop, Some((doors, Pacer::new(target, STEP_USERS))), progress)
}

fn run_with(
    store: &Store,
    id: i64,
    stop: &AtomicBool,
    mut pace: Option<(&DoorWatch, Pacer)>,
    mut progress: impl FnMut(&PurgeJob, Duration),
) -> Result<PurgeJob, StoreError> {
    loop {
        let step_started = Instant::now();
        let users = pace.as_ref().map_or(STEP_USERS, |(_, p)| p.users());
        let step = store.purge_step(id, users, STEP_BUDGET)?;
        let job = store.purge_job(id)?;
        if step.finished || stop.load(Ordering::Relaxed) {
            progress(&job, Duration::ZERO);
            // A reader holding an old snapshot leaves the erasure pending: the tailer retries it,
            // and the scrub mark stays set until it succeeds.
            if step.finished {
                match &mut pace {
                    Some((doors, pacer)) => scrub_paced(store, doors, pacer, stop)?,
                    // Rest as long as each slice took, as after each step.
                    None => store.scrub_paced(|slice| (!stop.load(Ordering::Relaxed)).then_some(slice))?,
                };
            } else {
                store.retry_erasure()?;
            }
            return Ok(job);
        }
        // Without a door watch (the CLI, another process than the doors'): rest as long as the step
        // took, leaving the disk idle half the time for the doors' access-event fsyncs (measured:
        // HTTP decide p99 5.8 ms → 3.8 ms during a 100,000-person job; `make bench-purge`).
        let rest = match &mut pace {
            Some((doors, pacer)) => pacer.after_step(doors, step_started.elapsed()),
            None => step_started.elapsed(),
        };
        progress(&job, rest);
        // At least a millisecond: other writers (staff, SCIM) get the writer lock between steps.
        std::thread::sleep(rest.max(Duration::from_millis(1)));
    }
}

/// [`Store::scrub_paced`] resting between slices as between a job's steps:
/// each slice judged by the doors that asked since the slice before it
/// began, the rest chosen by `pacer`; it ends between two slices once
/// `stop` is set (the mark stays for the next start).
pub fn scrub_paced(store: &Store, doors: &DoorWatch, pacer: &mut Pacer, stop: &AtomicBool) -> Result<bool, StoreError> {
    store.scrub_paced(|slice| {
        (!stop.load(Ordering::Relaxed)).then(|| pacer.after_step(doors, slice).max(Duration::from_millis(1)))
    })
}

/// The nice value of the thread that runs purge jobs and scrubs.
pub const NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`NICE`] (Linux: a thread's
/// own nice value), so a job's steps and its scrub take the CPU the doors'
/// requests and the event writer leave; on 2 cores they otherwise compete
/// for it. A failure is logged and changes nothing else.
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), NICE) {
        tracing::warn!(error = %e, "cannot lower the purge-job thread's priority");
    }
}

/// The service's job thread.
#[derive(Debug)]
pub struct Runner {
    stop: Arc<AtomicBool>,
    scrub_delay: Arc<AtomicU64>,
    scrub_soon: Arc<AtomicBool>,
    door_target_ms: Arc<AtomicU64>,
    wake: SyncSender<()>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Runner {
    /// Starts the thread; it resumes unfinished jobs at once. Its jobs
    /// rest between steps as the door decisions in `doors` need.
    pub fn start(store: Arc<Store>, doors: Arc<DoorWatch>) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let scrub_delay = Arc::new(AtomicU64::new(SCRUB_DELAY.as_secs()));
        let door_target_ms = Arc::new(AtomicU64::new(DOOR_P99_TARGET.as_millis().try_into().unwrap_or(5)));
        let scrub_soon = Arc::new(AtomicBool::new(false));
        let (wake, woken) = sync_channel(1);
        let (s, d, t, soon) = (stop.clone(), scrub_delay.clone(), door_target_ms.clone(), scrub_soon.clone());
        let thread = std::thread::Builder::new().name("purge-jobs".into()).spawn(move || {
            lower_priority();
            work(&store, &s, &d, &soon, &doors, &t, &woken);
        })?;
        Ok(Self { stop, scrub_delay, scrub_soon, door_target_ms, wake, thread: std::sync::Mutex::new(Some(thread)) })
    }

    /// The doors' p99 the jobs aim at (`purge_door_p99_ms`).
    pub fn set_door_target(&self, target: Duration) {
        self.door_target_ms.store(target.as_millis().try_into().unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The doors' p99 background writers aim at.
    #[must_use]
    pub fn door_target(&self) -> Duration {
        Duration::from_millis(self.door_target_ms.load(Ordering::Relaxed))
    }

    /// How long a single expunge waits for its scrub (`scrub_delay_secs`).
    pub fn set_scrub_delay(&self, delay: Duration) {
        self.scrub_delay.store(delay.as_secs(), Ordering::Relaxed);
        self.wake();
    }

    /// Asks the runner to scrub now rather than after `scrub_delay_secs` (a
    /// bulk erase just finished: it scrubs at its end, as a job does, but
    /// paced by the doors on the runner's thread rather than in the request).
    pub fn scrub_soon(&self) {
        self.scrub_soon.store(true, Ordering::Relaxed);
        self.wake();
    }

    /// Asks the runner to look for jobs now (a job was just created).
    pub fn wake(&self) {
        let _ = self.wake.try_send(());
    }

    /// Stops after the current step (an unfinished job resumes on the next
    /// start) and waits for the thread.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake();
        let thread = self.thread.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop();
    }
}

fn work(
    store: &Store,
    stop: &AtomicBool,
    scrub_delay: &AtomicU64,
    scrub_soon: &AtomicBool,
    doors: &DoorWatch,
    door_target_ms: &AtomicU64,
    woken: &Receiver<()>,
) {
    let system = Actor::staff("system:purge-jobs");
    let mut last_prune: Option<Instant> = None;
    let mut started = false;
    let mut pending_seen: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        if last_prune.is_none_or(|t| t.elapsed() > PRUNE_EVERY) {
            match store.prune_purge_jobs(&system) {
                Ok(n) if n > 0 => tracing::info!(jobs = n, "pruned purge-job records older than a year"),
                Ok(_) => {}
                Err(e) => tracing::warn!(code = e.code(), "pruning purge jobs failed"),
            }
            last_prune = Some(Instant::now());
        }
        let mut failed = false;
        // Whatever expunged last (a job, a bulk erase, a single expunge, a
        // process that crashed before its scrub) left the mark.
        match store.scrub_pending() {
            // At start at once (a process may have crashed before its scrub); then a single
            // expunge waits SCRUB_DELAY, so a busy desk does not rebuild the file every few seconds.
            Ok(true)
                if started
                    && !scrub_soon.load(Ordering::Relaxed)
                    && pending_seen.get_or_insert_with(Instant::now).elapsed()
                        < Duration::from_secs(scrub_delay.load(Ordering::Relaxed)) => {}
            Ok(true) => {
                // A bulk erase that asks while this scrub runs asks for the next one.
                scrub_soon.store(false, Ordering::Relaxed);
                let target = Duration::from_millis(door_target_ms.load(Ordering::Relaxed));
                match scrub_paced(store, doors, &mut Pacer::new(target, STEP_USERS), stop) {
                    Ok(true) => {
                        pending_seen = None;
                        tracing::info!("scrubbed the database after expunges");
                    }
                    // Stopped, or the WAL is held by an old snapshot (the tailer retries its checkpoint):
                    // the mark stays, and the next whole scrub waits the delay rather than reading every
                    // page again every round.
                    Ok(false) => pending_seen = Some(Instant::now()),
                    Err(e) => {
                        tracing::warn!(code = e.code(), "scrubbing after expunges failed");
                        failed = true;
                    }
                }
            }
            Ok(false) => {
                pending_seen = None;
                scrub_soon.store(false, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(code = e.code(), "cannot read the scrub mark"),
        }
        started = true;
        match store.unfinished_purge_jobs() {
            Ok(ids) => {
                for id in ids {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    tracing::info!(job = id, "running purge job");
                    let target = Duration::from_millis(door_target_ms.load(Ordering::Relaxed));
                    match run_paced(store, id, stop, doors, target, |_, _| {}) {
                        Ok(j) => {
                            tracing::info!(job = id, state = ?j.state, done = j.done, selected = j.selected, "purge job stopped")
                        }
                        Err(e) => {
                            tracing::error!(job = id, code = e.code(), "purge job step failed; retrying");
                            failed = true;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(code = e.code(), "cannot list purge jobs");
                failed = true;
            }
        }
        let wait = if failed { Duration::from_secs(1) } else { POLL };
        match woken.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
