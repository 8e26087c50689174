//! `make bench-ldap` (issue 17's LDAP figures, the client's share): a local
//! slapd (`tests/it/slapd.rs`, size limit 50) loaded with `slapadd` with
//! `LDAP_BENCH_ENTRIES` people (default 100,000), then
//! - a full paged fetch of every entry (`directory::fetch`, page size 500):
//!   entries/s, best and median of `LDAP_BENCH_ROUNDS` (default 3);
//! - the ID-only search an incremental sync makes for vanish detection;
//! - an incremental fetch after 1 % of the entries changed (the changed
//!   entries plus every ID): seconds.
//!
//! Then the whole sync (`ops::directory::sync` into a fresh store, one
//! transaction): the first sync of every entry (entries/s) and an
//! incremental sync after another 1 % changed (seconds).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

#[path = "../tests/it/slapd.rs"]
mod slapd;

use std::time::{Duration, Instant};

use idms::directory::{self, Directory};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n = env_usize("LDAP_BENCH_ENTRIES", 100_000);
    let rounds = env_usize("LDAP_BENCH_ROUNDS", 3).max(1);
    let t = Instant::now();
    let s = slapd::Slapd::start(n);
    println!("slapd with {n} people (slapadd + start): {:.1} s", t.elapsed().as_secs_f64());
    let cfg = s.config();

    let mut full = Vec::new();
    let mut marker = None;
    for _ in 0..rounds {
        let t = Instant::now();
        let f = directory::fetch(&cfg, None).unwrap();
        full.push(t.elapsed());
        assert_eq!(f.entries.len(), n);
        assert_eq!(f.all_ids.as_ref().map(Vec::len), Some(n));
        marker = f.marker;
    }
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let best = *full.iter().min().unwrap();
    println!(
        "full fetch of {n}: best {:.2} s ({:.0} entries/s), median {:.2} s ({:.0} entries/s)",
        best.as_secs_f64(),
        rate(best),
        median(full.clone()).as_secs_f64(),
        rate(median(full)),
    );

    let mut d = Directory::connect(&cfg).unwrap();
    let t = Instant::now();
    assert_eq!(d.all_ids().unwrap().len(), n);
    println!("ID-only search of {n}: {:.2} s", t.elapsed().as_secs_f64());
    d.close();

    let changed = (n / 100).max(1);
    let t = Instant::now();
    s.modify_many((0..n).step_by(n / changed).take(changed), "telephoneNumber", |i| format!("+1 555 {i:07}"));
    println!("{changed} entries modified through LDAP: {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let inc = directory::fetch(&cfg, marker.as_ref()).unwrap();
    let took = t.elapsed();
    assert!(inc.incremental);
    assert!(inc.entries.len() >= changed && inc.entries.len() <= changed + 1, "{}", inc.entries.len());
    assert_eq!(inc.all_ids.map(|v| v.len()), Some(n));
    println!(
        "incremental fetch after {changed} changes ({} entries + {n} IDs): {:.2} s",
        inc.entries.len(),
        took.as_secs_f64()
    );

    // The whole sync: the client, the rules and one transaction into a fresh store.
    let dir = tempfile::tempdir().unwrap();
    let store =
        idms::store::Store::create(&dir.path().join("idms.db"), std::sync::Arc::new(idms::clock::SystemClock)).unwrap();
    let me = idms::ops::Acting::Local(idms::store::Actor::staff("bench"));
    let t = Instant::now();
    let r = idms::ops::directory::sync(&store, &me, &cfg, false, false, "cli").unwrap();
    let took = t.elapsed();
    assert_eq!(r.counts.created as usize, n, "{:?}", r.counts);
    println!("first sync of {n} into a fresh store: {:.2} s ({:.0} entries/s)", took.as_secs_f64(), rate(took));
    let t = Instant::now();
    s.modify_many((1..n).step_by(n / changed).take(changed), "telephoneNumber", |i| format!("+1 556 {i:07}"));
    println!("{changed} more entries modified through LDAP: {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let r = idms::ops::directory::sync(&store, &me, &cfg, false, false, "cli").unwrap();
    let took = t.elapsed();
    assert!(r.counts.updated as usize >= changed, "{:?}", r.counts);
    println!(
        "incremental sync after {changed} changes: {:.2} s (updated {}, unchanged {})",
        took.as_secs_f64(),
        r.counts.updated,
        r.counts.unchanged
    );
}
