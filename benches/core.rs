//! Benchmarks of issue 1/5 (`make bench`):
//! - `decide` on an index of 1,000,000 credentials (goal: median ≤ 200 ns);
//! - `decide_at_door` with 1,000 doors and 200 access levels (issue 10/12,
//!   goal: median ≤ 250 ns);
//! - expunge, each its own durable transaction plus the WAL checkpoint
//!   (goal: ≥ 2,000 users/s, i.e. ≤ 500 µs each).
//!
//! Opening a 1,000,000-user database (index build time, peak RSS) is
//! measured in a fresh process by `make bench-open`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, LazyLock, Mutex};

use divan::Bencher;
use idms::clock::ManualClock;
use idms::domain::{CredentialState, Technology, Timestamp, Uid, UserId, UserState, ValidityWindow};
use idms::index::{Index, IndexBuilder};
use idms::store::{Actor, DB_FILE, NewUser, Store};

fn main() {
    divan::main();
    // `cargo bench --bench core -- decide` (make bench-levels): the
    // median and p99 of single decisions too (divan gives no percentiles);
    // each timing includes reading the clock twice (~20-40 ns).
    if std::env::args().any(|a| a.starts_with("decide")) {
        let l = &*LEVELS;
        let at = Timestamp(1_780_401_600);
        // One decision at a time, as a door asks: the plain check and the
        // door's, on the same index and probes, so their ratio compares like
        // with like (divan's loop overlaps independent decisions' memory
        // misses, which a lone decision cannot).
        let (plain, door) = (
            timed(|k| {
                divan::black_box(l.index.decide(None, divan::black_box(&l.probes[k & 4095].0), at));
            }),
            timed(|k| {
                let (uid, door) = &l.probes[k & 4095];
                divan::black_box(l.index.decide_at_door(None, divan::black_box(uid), &l.doors[*door], at));
            }),
        );
        let granted = l.probes.iter().filter(|(u, d)| {
            l.index.decide_at_door(None, u, &l.doors[*d], at).decision == idms::domain::Decision::Grant
        });
        println!(
            "1,000,000 credentials, 1,000 doors, 200 levels, one decision at a time (timer included):\n  \
             decide          median {} ns, p99 {} ns\n  decide_at_door  median {} ns, p99 {} ns ({:.2}x); {} of 4096 probes granted",
            plain.0,
            plain.1,
            door.0,
            door.1,
            door.0 as f64 / plain.0.max(1) as f64,
            granted.count()
        );
    }
}

/// Median and p99 in ns of 400,000 single timed calls of `f(k)`.
fn timed(mut f: impl FnMut(usize)) -> (u128, u128) {
    let mut ns: Vec<u128> = Vec::with_capacity(400_000);
    for k in 0..400_000usize {
        let t = std::time::Instant::now();
        f(k);
        ns.push(t.elapsed().as_nanos());
    }
    ns.sort_unstable();
    (ns[ns.len() / 2], ns[ns.len() * 99 / 100])
}

const N: u32 = 1_000_000;

fn uid(i: u32) -> Uid {
    let b = i.to_be_bytes();
    Uid::from_bytes(&[0x04, 0x5E, 0xED, b[0], b[1], b[2], b[3]]).unwrap()
}

static INDEX: LazyLock<(Index, Vec<Uid>)> = LazyLock::new(|| {
    let mut b = IndexBuilder::with_capacity(N as usize, N as usize);
    for i in 0..N {
        let id = UserId::from_i64(i64::from(i) + 1);
        let window = ValidityWindow { from: Some(Timestamp(0)), to: Some(Timestamp(i64::from(i) + 10)) };
        b.user(id, UserState::Active, window);
        b.credential(Technology::Iso14443a, uid(i), CredentialState::Issued, Some(id));
    }
    // Probe in a scrambled order so look-ups miss the cache as door traffic does.
    let probes = (0..4096u32).map(|k| uid(k.wrapping_mul(2_654_435_761) % N)).collect();
    (b.finish(0), probes)
});

#[divan::bench(sample_count = 2000, sample_size = 256)]
fn decide_1m_known(bencher: Bencher) {
    let (index, probes) = &*INDEX;
    let mut k = 0usize;
    bencher.bench_local(|| {
        k = (k + 1) & 4095;
        index.decide(None, divan::black_box(&probes[k]), Timestamp(5))
    });
}

#[divan::bench(sample_count = 2000, sample_size = 256)]
fn decide_1m_unknown(bencher: Bencher) {
    let (index, _) = &*INDEX;
    let unknown = Uid::from_bytes(&[0x04, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).unwrap();
    bencher.bench_local(|| index.decide(None, divan::black_box(&unknown), Timestamp(5)));
}

struct ExpungeRig {
    _dir: tempfile::TempDir,
    store: Store,
    queue: Mutex<Vec<UserId>>,
}

const EXPUNGES: usize = 3000;

static RIG: LazyLock<ExpungeRig> = LazyLock::new(|| {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let store = Store::create(&dir.path().join(DB_FILE), Arc::new(ManualClock::new(Timestamp(1_800_000_000)))).unwrap();
    let actor = Actor::staff("bench");
    store.seed(&actor, EXPUNGES as u64, 1, 0, |_| {}).unwrap();
    let ids: Vec<UserId> = store.search_users("", EXPUNGES as u32).unwrap().iter().map(|u| u.id).collect();
    for &id in &ids {
        store.delete(&actor, id).unwrap();
    }
    // A few thousand live neighbours, so pages are shared as in real data.
    for i in 0..2000 {
        let n = NewUser { given_name: format!("G{i}"), family_name: format!("Live{i}"), ..NewUser::default() };
        store.create_user(&actor, n).unwrap();
    }
    ExpungeRig { _dir: dir, store, queue: Mutex::new(ids) }
});

/// One expunge: its own `synchronous=FULL` transaction, then the WAL checkpoint.
#[divan::bench(sample_count = 2500, sample_size = 1)]
fn expunge_durable(bencher: Bencher) {
    let rig = &*RIG;
    let actor = Actor::staff("bench");
    bencher
        .with_inputs(|| rig.queue.lock().unwrap().pop().expect("enough deleted users seeded"))
        .bench_local_values(|id| rig.store.expunge(&actor, id, &id.to_string()).unwrap());
}

/// Issue 10/12: 1,000,000 credentials, 1,000 doors in 4 sites (UTC,
/// Berlin, New York, Tokyo), 50 areas of 20 doors, 10 schedules (some
/// across midnight, with a holiday calendar), 200 access levels of 3
/// grants each (an area or a door), each person holding 1 to 3 levels.
struct Levels {
    index: Index,
    probes: Vec<(Uid, usize)>,
    doors: Vec<String>,
}

static LEVELS: LazyLock<Levels> = LazyLock::new(|| {
    use idms::domain::access::{
        AccessLevel, AreaId, Assignment, CalendarId, DoorId, DoorRules, Holiday, HolidayCalendar, LevelId, RuleSet,
        Schedule, ScheduleId, Site, SiteId, Target,
    };
    let mut rules = RuleSet::default();
    for (i, tz) in ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"].iter().enumerate() {
        rules.set_site(SiteId(i as i64 + 1), Site::new(tz).unwrap());
    }
    let cal = HolidayCalendar::new(
        ["2026-12-25", "2026-01-01", "2026-05-01"].iter().map(|d| Holiday::parse(d, "public", true).unwrap()),
    )
    .unwrap();
    rules.set_calendar(CalendarId(1), cal);
    let texts = [
        "mon-fri 08:00-18:00",
        "mon-fri 22:00-06:00",
        "mon-sun 00:00-24:00",
        "sat,sun 09:00-13:00",
        "mon-fri 07:00-09:00;mon-fri 16:00-19:00",
    ];
    for s in 0..10i64 {
        let sched = Schedule::from_text(texts[s as usize % texts.len()], "public closed").unwrap();
        rules.set_schedule(ScheduleId(s + 1), SiteId(s % 4 + 1), Some(CalendarId(1)), sched).unwrap();
    }
    let doors: Vec<String> = (0..1000).map(|d| format!("door-{d:04}")).collect();
    for (d, name) in doors.iter().enumerate() {
        let area = AreaId(d as i64 / 20 + 1);
        rules.set_door(DoorId(d as i64 + 1), name, DoorRules { site: SiteId(d as i64 % 4 + 1), areas: vec![area] });
    }
    for l in 0..200i64 {
        let grants = (0..3)
            .map(|g| {
                let k = l * 3 + g;
                let target =
                    if g == 2 { Target::Door(DoorId(k * 7 % 1000 + 1)) } else { Target::Area(AreaId(k % 50 + 1)) };
                (target, ScheduleId(k % 10 + 1))
            })
            .collect();
        rules.set_level(LevelId(l + 1), AccessLevel { grants });
    }
    let mut b = IndexBuilder::with_capacity(N as usize, N as usize);
    b.rules(rules);
    for i in 0..N {
        let id = UserId::from_i64(i64::from(i) + 1);
        b.user(id, UserState::Active, ValidityWindow::default());
        b.credential(Technology::Iso14443a, uid(i), CredentialState::Issued, Some(id));
        for k in 0..=(i % 3) {
            let level = LevelId(i64::from((i.wrapping_mul(31) + k * 97) % 200) + 1);
            b.assignment(id, Assignment::new(level, None, None).unwrap());
        }
    }
    let probes = (0..4096u32)
        .map(|k| (uid(k.wrapping_mul(2_654_435_761) % N), (k.wrapping_mul(40_503) % 1000) as usize))
        .collect();
    Levels { index: b.finish(0), probes, doors }
});

/// A decision at a door with access levels and schedules (goal: median ≤ 250 ns).
#[divan::bench(sample_count = 2000, sample_size = 256)]
fn decide_at_door_1m_1000_doors_200_levels(bencher: Bencher) {
    let l = &*LEVELS;
    // A Tuesday afternoon in 2026.
    let at = Timestamp(1_780_401_600);
    let mut k = 0usize;
    bencher.bench_local(|| {
        k = (k + 1) & 4095;
        let (uid, door) = &l.probes[k];
        l.index.decide_at_door(None, divan::black_box(uid), divan::black_box(&l.doors[*door]), at)
    });
}
