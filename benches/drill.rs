//! `make bench-drill`: the partition drill (issue 15). A real `idms serve`
//! and the simulated door controller (hw-sim); the service is killed for
//! DRILL_SECS (default 120) while the controller decides DRILL_TAPS times
//! (default 10,000) offline, paced over the outage; then the service is
//! started again on the same data and the controller uploads. Prints the
//! upload time after reconnect and the events lost, counted from the
//! service's log (must be 0), and fails if any was lost or duplicated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hw_sim::controller::{Config, Controller};

#[path = "support/serve.rs"]
mod serve;

use serve::{idms, serve};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let secs = env_or("DRILL_SECS", 120);
    let taps = env_or("DRILL_TAPS", 10_000);
    let users = env_or("DRILL_USERS", 1_000);
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("idms");
    idms(&dir, &["init"]);
    idms(&dir, &["dev", "seed", "--users", &users.to_string()]);
    let added: serde_json::Value =
        serde_json::from_str(&idms(&dir, &["--json", "controller", "add", "--name", "drill", "--door", "drill"]))
            .unwrap();
    let token = added["token"].as_str().unwrap().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut svc = serve(&dir, &listen);

    let cfg = Config::new(&format!("http://{listen}"), &token, vec!["drill".into()], data.path().join("controller"));
    let c = Controller::open(cfg).unwrap();
    let started = Instant::now();
    let r = c.sync().unwrap();
    println!("drill: snapshot of {} entries in {} pages, {:.2} s", r.entries, r.pages, started.elapsed().as_secs_f64());
    let uids: Vec<String> = c.list().iter().map(|e| hw_sim::controller::rule::hex(&e.uid)).collect();
    assert!(!uids.is_empty());

    // The outage.
    svc.kill().unwrap();
    svc.wait().unwrap();
    let outage = Instant::now();
    let pace = Duration::from_secs(secs).checked_div(u32::try_from(taps).unwrap()).unwrap();
    let mut ids = Vec::new();
    let mut granted = 0;
    for i in 0..taps {
        // Mostly known cards, some unknown ones.
        let uid = if i % 10 == 9 { format!("0F{:06X}", i) } else { uids[i as usize % uids.len()].clone() };
        let o = c.decide("drill", None, &uid).unwrap();
        assert!(!o.online, "the service answered during the outage");
        granted += usize::from(o.grant);
        ids.push(o.event_id.unwrap());
        let due = pace * u32::try_from(i + 1).unwrap();
        if let Some(wait) = due.checked_sub(outage.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let decided = outage.elapsed();
    if let Some(wait) = Duration::from_secs(secs).checked_sub(decided) {
        std::thread::sleep(wait);
    }
    println!(
        "drill: {taps} offline decisions ({granted} grants) in {:.1} s of a {:.1} s outage; {} buffered",
        decided.as_secs_f64(),
        outage.elapsed().as_secs_f64(),
        c.pending().len()
    );

    // Reconnect and upload.
    let mut svc = serve(&dir, &listen);
    let up_start = Instant::now();
    let up = c.upload();
    let up_secs = up_start.elapsed().as_secs_f64();
    assert!(up.error.is_none(), "{up:?}");
    println!(
        "drill: upload after reconnect: {} events in {} batches in {up_secs:.2} s ({:.0} events/s); {} accepted, \
         {} duplicates, {} still buffered",
        up.sent,
        up.batches,
        up.sent as f64 / up_secs,
        up.accepted,
        up.duplicates,
        up.pending
    );
    svc.kill().unwrap();
    svc.wait().unwrap();

    // Lost or duplicated, from the service's log.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in idms::store::events::read_all(&dir).unwrap() {
        if let Some(id) = e.event_id {
            *seen.entry(id).or_default() += 1;
        }
    }
    let lost = ids.iter().filter(|id| !seen.contains_key(*id)).count();
    let doubled = ids.iter().filter(|id| seen.get(*id).is_some_and(|n| *n > 1)).count();
    println!("drill: events lost: {lost}; stored more than once: {doubled}");
    assert_eq!((lost, doubled), (0, 0));
}
