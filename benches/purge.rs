//! Purge-job expunge rate, and what a running job does to door decisions
//! (`make bench-purge`; issue 5/5).
//!
//! For each size N in PURGE_SIZES (default `10000,100000`), in a fresh
//! database on disk (`SystemClock`, `synchronous=FULL`, in the temp dir):
//! 1. seed N people with one ISO 14443-A card each, give them all a purge
//!    date 30 days ago (one bulk `set_purge_dates`, state `active`: the job
//!    deletes, then expunges each), then seed PURGE_KEEP more (default
//!    10000) who have no purge date and stay; checkpoint and flush, so the
//!    seeding's writes are on disk before anything is timed;
//! 2. open the service's state (`AppState::open`: the access-event log,
//!    `events.db`, next to `idms.db` as in `idms serve`; commit delay 200 µs,
//!    the service's default), serve `api::router` on 127.0.0.1, add a door
//!    controller, and tail the change log every 50 ms as `idms serve` does;
//! 3. start two door probes over the cards of both groups, in a scrambled
//!    order: **index** — `store.index().decide(..)` in a thread of its own,
//!    200 µs between calls (a door's load, not a busy loop): the door hot
//!    path without HTTP; **http** — one keep-alive client (ureq) posting
//!    `POST /api/v1/access/decide` with 1 ms pauses; each answer waits for
//!    its access event's fsync in `events.db`, so it includes the disk
//!    contention with the job's commits;
//! 4. a baseline window of PURGE_BASELINE_SECS (default 5) without a job;
//! 5. `create_purge_job` (the plan: one transaction recording every
//!    selected person), timed alone;
//! 6. the job, run to completion by `idms::jobs::run_paced` — the loop the
//!    service's runner thread executes (steps of ≤ 50 people / ≤ 40 ms, each
//!    followed by the rest the pacer chooses from the HTTP doors' p99 over
//!    the last second against PURGE_DOOR_P99_MS, default 5 — the service's
//!    `purge_door_p99_ms` —, and at the end `Store::scrub`: VACUUM, WAL
//!    truncated) — with its progress recorded after every step. The time
//!    after the last step is the scrub. `AppState::open` starts the
//!    service's own runner thread too; it is stopped before the state is
//!    shared (it would otherwise pick the job up within its 2 s poll and
//!    share the steps), so the bench's thread is the job's only runner.
//!
//! Reported per size: wall time, users/s, CPU time and bytes written
//! (`write` syscalls) of the job's thread for the plan, the expunge steps
//! (also users/s over their first and last 10 %: cost growing as the job
//! advances shows as a lower last-10 % rate) and the scrub; users/s of the
//! whole job (plan + steps + scrub); the door probes' p50 / p99 / p99.9 /
//! max in the baseline, the plan, the steps and the scrub; the steps' p99
//! per tenth of the job; and how many one-second windows of the job had a
//! p99 above 5 ms (how long decisions are disturbed). Afterwards the bench
//! checks that everyone selected was expunged and that exactly their cards
//! are refused.
//!
//! Runs in about 30 s. PURGE_SIZES=1000000 (about 4 min) shows how the
//! cost keeps growing past 100k. PURGE_HTTP=0 leaves out the HTTP probe. PURGE_EVENTS_DIR puts
//! `events.db` in a directory of its own (a tmpfs, another disk) instead of
//! next to `idms.db`: a diagnostic that separates the disk contention
//! between the job's commits and the access events' fsyncs from the rest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use idms::api::{AppState, router};
use idms::clock::SystemClock;
use idms::domain::purge::Criteria;
use idms::domain::{Decision, Technology, Uid, UserState};
use idms::store::{Actor, PeopleQuery, Store};

/// The goal for the p99 of door decisions while a job runs.
const P99_GOAL: Duration = Duration::from_millis(5);
/// Pause between two index decisions (a busy door, not a busy loop).
const INDEX_PAUSE: Duration = Duration::from_micros(200);
/// Pause between two HTTP decisions of the one client.
const HTTP_PAUSE: Duration = Duration::from_millis(1);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The calling thread's CPU time (scheduler's on-CPU ns) and bytes passed
/// to `write`/`pwrite` (Linux; zeros elsewhere).
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    cpu_ns: u64,
    written: u64,
}

impl Counters {
    fn now() -> Self {
        let cpu_ns = std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        let written = std::fs::read_to_string("/proc/thread-self/io")
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix("wchar:").and_then(|v| v.trim().parse().ok())))
            .unwrap_or(0);
        Self { cpu_ns, written }
    }

    fn since(self, before: Self) -> Self {
        Self { cpu_ns: self.cpu_ns - before.cpu_ns, written: self.written - before.written }
    }

    fn cpu_s(self) -> f64 {
        self.cpu_ns as f64 / 1e9
    }

    fn mb(self) -> f64 {
        self.written as f64 / 1e6
    }
}

/// One decision: when it started and how long it took.
type Sample = (Instant, Duration);

/// A door probe running in a thread until `stop`; returns its samples and failures.
type Probe = std::thread::JoinHandle<(Vec<Sample>, u64)>;

fn index_probe(store: Arc<Store>, uids: Arc<Vec<Uid>>, stop: Arc<AtomicBool>) -> Probe {
    std::thread::Builder::new()
        .name("probe-index".into())
        .spawn(move || {
            let mut out = Vec::with_capacity(1 << 20);
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let uid = &uids[i % uids.len()];
                i += 1;
                let now = store.now();
                let t0 = Instant::now();
                let d = store.index().decide(Some(Technology::Iso14443a), uid, now);
                let took = t0.elapsed();
                std::hint::black_box(d);
                out.push((t0, took));
                std::thread::sleep(INDEX_PAUSE);
            }
            (out, 0)
        })
        .unwrap()
}

fn http_probe(base: String, token: String, uids: Arc<Vec<Uid>>, stop: Arc<AtomicBool>) -> Probe {
    std::thread::Builder::new()
        .name("probe-http".into())
        .spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into();
            let url = format!("{base}/api/v1/access/decide");
            let auth = format!("Bearer {token}");
            let mut out = Vec::with_capacity(1 << 18);
            let mut failed = 0u64;
            // Walk the cards from another point than the index probe.
            let mut i = uids.len() / 2;
            while !stop.load(Ordering::Relaxed) {
                let uid = uids[i % uids.len()].to_string();
                i += 1;
                let body = serde_json::json!({"uid": uid, "door": "main", "technology": "iso14443a"});
                let t0 = Instant::now();
                let ok = match agent.post(&url).header("Authorization", &auth).send_json(&body) {
                    Ok(mut r) => r.body_mut().read_to_string().is_ok() && r.status().as_u16() == 200,
                    Err(_) => false,
                };
                let took = t0.elapsed();
                if ok {
                    out.push((t0, took));
                } else {
                    failed += 1;
                }
                std::thread::sleep(HTTP_PAUSE);
            }
            (out, failed)
        })
        .unwrap()
}

/// Latency figures of the samples started in `[from, to)`.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    n: usize,
    p50: Duration,
    p99: Duration,
    p999: Duration,
    max: Duration,
}

fn stats(samples: &[Sample], from: Instant, to: Instant) -> Stats {
    let mut v: Vec<Duration> = samples.iter().filter(|(t, _)| *t >= from && *t < to).map(|(_, d)| *d).collect();
    v.sort();
    Stats {
        n: v.len(),
        p50: pct(&v, 0.5),
        p99: pct(&v, 0.99),
        p999: pct(&v, 0.999),
        max: v.last().copied().unwrap_or_default(),
    }
}

fn stats_row(label: &str, s: &Stats) {
    println!("    {label:<10} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3}", s.n, ms(s.p50), ms(s.p99), ms(s.p999), ms(s.max));
}

/// One-second windows of `[from, to)` whose p99 is above the goal, all
/// windows, and the worst window's p99.
fn disturbed(samples: &[Sample], from: Instant, to: Instant) -> (usize, usize, Duration) {
    let secs = to.duration_since(from).as_secs_f64().ceil() as usize;
    let mut windows: Vec<Vec<Duration>> = vec![Vec::new(); secs.max(1)];
    for (t, d) in samples.iter().filter(|(t, _)| *t >= from && *t < to) {
        let w = (t.duration_since(from).as_secs() as usize).min(windows.len() - 1);
        windows[w].push(*d);
    }
    let mut over = 0;
    let mut worst = Duration::ZERO;
    for w in &mut windows {
        w.sort();
        let p = pct(w, 0.99);
        worst = worst.max(p);
        if p > P99_GOAL {
            over += 1;
        }
    }
    (over, windows.len(), worst)
}

/// The figures of one size, for the summary.
struct Outcome {
    n: u64,
    plan: Duration,
    steps: Duration,
    scrub: Duration,
    first10: f64,
    last10: f64,
    written_per_user: f64,
    cpu_per_user: f64,
    index_p99: Duration,
    http: Option<(Duration, Duration, usize, usize)>,
}

fn shuffle<T>(v: &mut [T]) {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

fn run_size(n: u64, keep: u64, baseline: Duration, with_http: bool) -> Outcome {
    let actor = Actor::staff("bench");
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::create(&dir.path().join("idms.db"), Arc::new(SystemClock)).unwrap());

    // 1. The people: N to purge, `keep` who stay.
    let seeding = Instant::now();
    let total = n + keep;
    store.seed(&actor, n, 1, 0, |done| eprint!("\r  seeding {done}/{total} people (one card each)…   ")).unwrap();
    let today = store.now().date().unwrap();
    let q = PeopleQuery { state: Some(UserState::Active), ..PeopleQuery::default() };
    let dated = store.set_purge_dates(&actor, &q, Some(today - time::Duration::days(30))).unwrap();
    assert_eq!(dated, n);
    store
        .seed(&actor, keep, 1, 0, |done| eprint!("\r  seeding {}/{total} people (one card each)…   ", n + done))
        .unwrap();
    store.try_index().unwrap();
    // Let the disk settle: the seed's WAL into the database file, the file
    // flushed, so no window pays for the seeding's writes.
    store.retry_erasure().unwrap();
    std::fs::File::open(store.path()).unwrap().sync_all().unwrap();
    let db_mb = std::fs::metadata(store.path()).unwrap().len() as f64 / 1e6;
    eprintln!("\r  seeded {total} people in {:.1} s ({db_mb:.0} MB){:20}", seeding.elapsed().as_secs_f64(), "");

    // Every card (the purged and the kept), in a scrambled order.
    let mut uids: Vec<Uid> = {
        let conn = rusqlite::Connection::open(store.path()).unwrap();
        let mut stmt = conn.prepare("SELECT uid FROM credentials").unwrap();
        stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).unwrap().map(|b| Uid::from_bytes(&b.unwrap()).unwrap()).collect()
    };
    shuffle(&mut uids);
    let uids = Arc::new(uids);

    // 2. The service's state and router, its own job runner stopped (see the header).
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (base, state, events_dir) = rt.block_on(async {
        let events_dir = match std::env::var_os("PURGE_EVENTS_DIR") {
            Some(d) => tempfile::tempdir_in(d).unwrap(),
            None => tempfile::tempdir_in(dir.path()).unwrap(),
        };
        let state = AppState::open(store.clone(), events_dir.path(), 65_536, Duration::from_micros(200)).unwrap();
        state.jobs.stop();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let s = store.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let s = s.clone();
                let _ = tokio::task::spawn_blocking(move || s.catch_up()).await;
            }
        });
        (format!("http://{addr}"), state, events_dir)
    });
    let (_, door_token) = store.add_controller(&actor, "bench-door", &["main".to_string()]).unwrap();

    // 3. The probes, warmed up for a second.
    let stop = Arc::new(AtomicBool::new(false));
    let probe_i = index_probe(store.clone(), uids.clone(), stop.clone());
    let probe_h = with_http.then(|| http_probe(base, door_token, uids.clone(), stop.clone()));
    std::thread::sleep(Duration::from_secs(1));

    // 4. Baseline.
    let t_base = Instant::now();
    std::thread::sleep(baseline);

    // 5. The plan.
    let c_plan = Counters::now();
    let t_plan = Instant::now();
    let job = store.create_purge_job(&actor, &Criteria { grace_days: 0, ..Criteria::default() }).unwrap();
    let t_run = Instant::now();
    let c_run = Counters::now();
    assert_eq!(job.selected, n, "the plan selects every dated person");

    // 6. The job: steps, then the scrub.
    let mut progress: Vec<(Instant, u64)> = vec![(t_run, 0)];
    let mut c_steps = c_run;
    let mut last_print = t_run;
    // Paced as the service's runner paces it: on the HTTP doors' p99 (PURGE_DOOR_P99_MS, default 5).
    let target =
        Duration::from_millis(std::env::var("PURGE_DOOR_P99_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(5));
    // At the priority of the service's runner thread (PURGE_NICE=0: the default priority), restored after
    // the job (threads started later inherit it: the next size's probes).
    let niced = std::env::var("PURGE_NICE").map_or(true, |v| v != "0");
    if niced {
        idms::jobs::lower_priority();
    }
    let mut rests: Vec<Duration> = Vec::new();
    let done = idms::jobs::run_paced(&store, job.id, &AtomicBool::new(false), &state.door_watch, target, |j, rest| {
        let now = Instant::now();
        rests.push(rest);
        progress.push((now, j.done));
        // The callback runs on the job's thread: after the last step, these are the steps' counters.
        c_steps = Counters::now();
        if now.duration_since(last_print) > Duration::from_secs(2) {
            last_print = now;
            let rate = j.done as f64 / now.duration_since(t_run).as_secs_f64();
            eprint!("\r  job: {}/{} people, {rate:.0} users/s   ", j.done, j.selected);
        }
    })
    .unwrap();
    let t_end = Instant::now();
    let c_end = Counters::now();
    if niced && let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 0) {
        eprintln!("cannot restore the bench thread's priority ({e}): later sizes' probes run niced");
    }
    let t_steps = progress.last().map_or(t_run, |(t, _)| *t);
    eprintln!("\r{:60}", "");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let (si, _) = probe_i.join().unwrap();
    let http = probe_h.map(|p| p.join().unwrap());

    // Checks: everyone expunged, exactly their cards refused.
    assert_eq!((done.done, done.expunged), (n, n), "every selected person expunged");
    let after = store.now();
    let refused = uids
        .iter()
        .filter(|u| !matches!(store.index().decide(Some(Technology::Iso14443a), u, after), Decision::Grant))
        .count();
    assert_eq!(refused as u64, n, "exactly the purged people's cards are refused");

    // Rates over the first and last tenth of the steps.
    let tenth = n.div_ceil(10);
    let at = |k: u64| progress.iter().find(|(_, d)| *d >= k).map_or(t_steps, |(t, _)| *t);
    let first10 = {
        let (t, d) = progress.iter().find(|(_, d)| *d >= tenth).copied().unwrap_or((t_steps, n));
        d as f64 / t.duration_since(t_run).as_secs_f64()
    };
    let last10 = {
        let (t, d) = progress.iter().find(|(_, d)| *d >= n - tenth).copied().unwrap_or((t_run, 0));
        (n - d) as f64 / t_steps.duration_since(t).as_secs_f64()
    };
    let (plan, steps, scrub) = (t_run - t_plan, t_steps - t_run, t_end - t_steps);
    let job_time = t_end - t_plan;
    let (cp, cs, cz) = (c_run.since(c_plan), c_steps.since(c_run), c_end.since(c_steps));

    println!();
    println!(
        "N = {n} people purged, {keep} kept ({} people, {db_mb:.0} MB database); job {:.2} s, {:.0} users/s",
        n + keep,
        job_time.as_secs_f64(),
        n as f64 / job_time.as_secs_f64()
    );
    println!(
        "    {:<10} {:>8} {:>9} {:>8} {:>10} {:>10}",
        "phase", "wall s", "users/s", "cpu s", "written MB", "KB/user"
    );
    let phase = |label: &str, wall: Duration, c: Counters| {
        println!(
            "    {label:<10} {:>8.2} {:>9.0} {:>8.2} {:>10.0} {:>10.1}",
            wall.as_secs_f64(),
            n as f64 / wall.as_secs_f64(),
            c.cpu_s(),
            c.mb(),
            c.written as f64 / n as f64 / 1e3
        );
    };
    phase("plan", plan, cp);
    phase("steps", steps, cs);
    phase("scrub", scrub, cz);
    println!(
        "    steps: {} of them; first 10 % {first10:.0} users/s, last 10 % {last10:.0} users/s",
        progress.len() - 1
    );
    // What the pacing chose: the rest between steps (purge_door_p99_ms = PURGE_DOOR_P99_MS).
    let mut chosen = rests.clone();
    chosen.sort_unstable();
    let pick = |q: usize| chosen.get((chosen.len() * q / 100).min(chosen.len().saturating_sub(1))).copied();
    let mean = chosen.iter().sum::<Duration>().checked_div(u32::try_from(chosen.len()).unwrap_or(1).max(1));
    println!(
        "    pacing (target {} ms): rest between steps p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms, mean {:.1} ms; {} of {} steps rested",
        target.as_millis(),
        ms(pick(50).unwrap_or_default()),
        ms(pick(90).unwrap_or_default()),
        ms(chosen.last().copied().unwrap_or_default()),
        ms(mean.unwrap_or_default()),
        chosen.iter().filter(|r| !r.is_zero()).count(),
        chosen.len()
    );
    let mut probes: Vec<(&str, Vec<Sample>, u64)> = vec![("index", si, 0)];
    if let Some((sh, failed)) = http {
        probes.push(("http", sh, failed));
    }
    let mut index_p99 = Duration::ZERO;
    let mut http_figures = None;
    for (name, samples, failed) in &probes {
        let what = if *name == "index" {
            "Index::decide in-process, 200 µs apart"
        } else {
            "POST /api/v1/access/decide, one keep-alive client, 1 ms apart, answered after the event's fsync"
        };
        let failed = if *failed > 0 { format!("; {failed} FAILED") } else { String::new() };
        println!("  door probe `{name}` ({what}), ms{failed}");
        println!("    {:<10} {:>8} {:>9} {:>9} {:>9} {:>9}", "window", "n", "p50", "p99", "p99.9", "max");
        let base = stats(samples, t_base, t_plan);
        stats_row("baseline", &base);
        stats_row("plan", &stats(samples, t_plan, t_run));
        let during = stats(samples, t_run, t_steps);
        stats_row("steps", &during);
        stats_row("scrub", &stats(samples, t_steps, t_end));
        let deciles: Vec<String> = (0..10u64)
            .map(|k| {
                let s = stats(samples, at(k * tenth), if k == 9 { t_steps } else { at((k + 1) * tenth) });
                format!("{:.2}", ms(s.p99))
            })
            .collect();
        println!("    steps p99 by tenth of the job: {}", deciles.join("  "));
        let (over, secs, worst) = disturbed(samples, t_plan, t_end);
        println!(
            "    one-second windows of the job with p99 > {} ms: {over} of {secs} (worst window p99 {:.2} ms)",
            P99_GOAL.as_millis(),
            ms(worst)
        );
        if *name == "index" {
            index_p99 = during.p99;
        } else {
            http_figures = Some((base.p99, during.p99, over, secs));
        }
    }

    drop(state);
    rt.shutdown_timeout(Duration::from_secs(2));
    drop(events_dir);
    Outcome {
        n,
        plan,
        steps,
        scrub,
        first10,
        last10,
        written_per_user: (cs.written as f64) / n as f64 / 1e3,
        cpu_per_user: cs.cpu_ns as f64 / n as f64 / 1e3,
        index_p99,
        http: http_figures,
    }
}

fn main() {
    let sizes: Vec<u64> = std::env::var("PURGE_SIZES")
        .ok()
        .map(|s| s.split(',').map(|x| x.trim().parse().expect("PURGE_SIZES: comma-separated counts")).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    let keep: u64 = env_or("PURGE_KEEP", 10_000);
    let baseline = Duration::from_secs(env_or("PURGE_BASELINE_SECS", 5));
    let with_http = std::env::var("PURGE_HTTP").map_or(true, |v| v != "0");
    println!(
        "purge-job benchmark: PURGE_SIZES={} PURGE_KEEP={keep} PURGE_BASELINE_SECS={} PURGE_HTTP={} PURGE_NICE={}{}",
        sizes.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
        baseline.as_secs(),
        u8::from(with_http),
        if std::env::var("PURGE_NICE").map_or(true, |v| v != "0") { idms::jobs::NICE } else { 0 },
        std::env::var("PURGE_EVENTS_DIR").map(|d| format!(" PURGE_EVENTS_DIR={d}")).unwrap_or_default()
    );
    println!(
        "machine: {} CPUs; databases in {}; load average at start: {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::env::temp_dir().display(),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
    let mut outcomes = Vec::new();
    for &n in &sizes {
        eprintln!("size {n}:");
        outcomes.push(run_size(n, keep, baseline, with_http));
    }
    println!();
    println!("summary (goal: ≥ 2000 users/s, flat from 10k to 100k; door decision p99 ≤ 5 ms during the job)");
    println!(
        "  {:>7} {:>6} {:>7} {:>7} {:>8} {:>8} {:>10} {:>9} {:>7} {:>7} {:>9} {:>9} {:>11}",
        "people",
        "plan s",
        "steps s",
        "scrub s",
        "users/s",
        "steps/s",
        "first/last",
        "µs cpu/u",
        "KB w/u",
        "idx p99",
        "http p99",
        "(base)",
        "s > 5 ms"
    );
    for o in &outcomes {
        let job = o.plan + o.steps + o.scrub;
        let (hb, hr, over) = o.http.map_or(("-".into(), "-".into(), "-".into()), |(b, r, over, secs)| {
            (format!("{:.2}", ms(b)), format!("{:.2}", ms(r)), format!("{over} of {secs}"))
        });
        println!(
            "  {:>7} {:>6.2} {:>7.2} {:>7.2} {:>8.0} {:>8.0} {:>10} {:>9.1} {:>7.1} {:>7.3} {:>9} {:>9} {:>11}",
            o.n,
            o.plan.as_secs_f64(),
            o.steps.as_secs_f64(),
            o.scrub.as_secs_f64(),
            o.n as f64 / job.as_secs_f64(),
            o.n as f64 / o.steps.as_secs_f64(),
            format!("{:.0}/{:.0}", o.first10, o.last10),
            o.cpu_per_user,
            o.written_per_user,
            ms(o.index_p99),
            hr,
            hb,
            over
        );
    }
    println!("  users/s: the whole job (plan + steps + scrub); steps/s: the expunge steps alone; first/last: users/s");
    println!("  over the first and last 10 % of the steps; µs cpu/u, KB w/u: the steps' CPU time and bytes written");
    println!("  per user (job thread); p99s in ms during the steps, (base) without a job; s > 5 ms: one-second");
    println!("  windows of the job (plan to scrub) whose HTTP decide p99 was above 5 ms.");
}
