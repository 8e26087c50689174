//! Benchmarks of issue 1/5 (`make bench`):
//! - `decide` on an index of 1,000,000 credentials (goal: median ≤ 200 ns);
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
    store.seed(&actor, EXPUNGES as u64, 1, |_| {}).unwrap();
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
