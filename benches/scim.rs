//! `make bench-scim` (issue 17's SCIM figures): a real `idms serve`
//! (release build) with `SCIM_BENCH_SEED` seeded people holding cards
//! (default 1,000) and a controller, then
//! - door decisions alone: a client paced at `DOOR_RATE` decisions/s
//!   (default 200) for `DOOR_SECS` seconds (default 20): p50 / p99;
//! - `POST /scim/v2/Users` from `SCIM_CLIENTS` concurrent clients (default
//!   16), `SCIM_LATENCY_REQS` requests in all (default 4,000): p50 / p99;
//! - `PATCH /scim/v2/Users/{id}` (Entra's `"active": "False"`, a real
//!   lifecycle change the doors hear of) on each of those: p50 / p99;
//! - an initial provisioning of `SCIM_BENCH_USERS` people (default
//!   100,000) by the same clients while the paced door client runs: users/s,
//!   and door p99 during it against door p99 alone (goal: at most 1.5×).
//!
//! Every answer is checked (201 / 200 / a decision), so a fast failure
//! cannot pass for a fast answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "support/serve.rs"]
mod serve;

use serve::{idms, serve};
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// p50 and p99 of `v`, in milliseconds.
fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    assert!(!v.is_empty());
    v.sort();
    let at = |q: f64| {
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        v[i].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.99))
}

fn new_user(n: usize) -> Value {
    json!({
        "schemas": [USER],
        "externalId": format!("bench-{n}"),
        "userName": format!("bench{n}@example.test"),
        "active": true,
        "name": {"givenName": "Bench", "familyName": format!("Person{n}")},
    })
}

/// `clients` threads share `total` requests (`make(i)` → method, path,
/// body, expected status); every latency, and the wall time.
fn hammer(
    base: &str,
    token: &str,
    clients: usize,
    total: usize,
    make: impl Fn(usize) -> (&'static str, String, Value, u16) + Sync,
) -> (Vec<Duration>, Duration) {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let lat = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| {
                    let a = agent();
                    let mut lat = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            return lat;
                        }
                        let (method, path, body, want) = make(i);
                        let url = format!("{base}{path}");
                        let t = Instant::now();
                        let r = match method {
                            "POST" => a.post(&url),
                            _ => a.patch(&url),
                        }
                        .header("Authorization", &format!("Bearer {token}"))
                        .header("Content-Type", "application/scim+json")
                        .send(body.to_string().as_bytes());
                        let mut r = r.unwrap();
                        lat.push(t.elapsed());
                        let status = r.status().as_u16();
                        assert_eq!(status, want, "{method} {path}: {}", r.body_mut().read_to_string().unwrap());
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });
    (lat, started.elapsed())
}

/// Door decisions paced at `rate`/s until `stop` (or for `secs`): their latencies.
fn doors(base: &str, token: &str, uids: &[String], rate: usize, secs: Option<u64>, stop: &AtomicBool) -> Vec<Duration> {
    let a = agent();
    let pace = Duration::from_secs(1) / u32::try_from(rate.max(1)).unwrap();
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) && secs.is_none_or(|s| started.elapsed() < Duration::from_secs(s)) {
        let due = started + pace * u32::try_from(i).unwrap();
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let body = json!({"uid": uids[i % uids.len()], "door": "bench"});
        let t = Instant::now();
        let mut r = a
            .post(&format!("{base}/api/v1/access/decide"))
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(&body)
            .unwrap();
        lat.push(t.elapsed());
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.body_mut().read_json().unwrap();
        assert_eq!(v["decision"], "grant", "{v}");
        i += 1;
    }
    lat
}

fn main() {
    let seed = env_or("SCIM_BENCH_SEED", 1_000);
    let users = env_or("SCIM_BENCH_USERS", 100_000);
    let clients = env_or("SCIM_CLIENTS", 16);
    let lat_reqs = env_or("SCIM_LATENCY_REQS", 4_000);
    let rate = env_or("DOOR_RATE", 200);
    let door_secs = env_or("DOOR_SECS", 20) as u64;

    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("idms");
    idms(&dir, &["init"]);
    idms(&dir, &["dev", "seed", "--users", &seed.to_string()]);
    let ctl: Value =
        serde_json::from_str(&idms(&dir, &["--json", "controller", "add", "--name", "bench", "--door", "bench"]))
            .unwrap();
    let door_token = ctl["token"].as_str().unwrap().to_owned();
    let prov: Value = serde_json::from_str(&idms(
        &dir,
        &["--json", "token", "create", "--name", "entra", "--role", "provisioner", "--no-expiry"],
    ))
    .unwrap();
    let token = prov["token"].as_str().unwrap().to_owned();
    let uids: Vec<String> = {
        let c = rusqlite::Connection::open(dir.join("idms.db")).unwrap();
        let mut st = c.prepare("SELECT hex(uid) FROM credentials ORDER BY id LIMIT 64").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert!(!uids.is_empty());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut svc = serve(&dir, &listen);
    let base = format!("http://{listen}");
    let never = AtomicBool::new(false);

    // Warm-up, then the doors alone.
    doors(&base, &door_token, &uids, rate, Some(2), &never);
    let alone = doors(&base, &door_token, &uids, rate, Some(door_secs), &never);
    let (a50, a99) = percentiles(alone.clone());
    println!("door decisions alone ({} at {rate}/s): p50 {a50:.2} ms, p99 {a99:.2} ms", alone.len());

    // POST /Users from `clients` clients.
    let (lat, took) = hammer(&base, &token, clients, lat_reqs, |i| ("POST", "/scim/v2/Users".into(), new_user(i), 201));
    let (p50, p99) = percentiles(lat);
    println!(
        "POST /scim/v2/Users, {clients} clients, {lat_reqs} requests: p50 {p50:.2} ms, p99 {p99:.2} ms ({:.0}/s)",
        lat_reqs as f64 / took.as_secs_f64()
    );

    // PATCH each of them (the IDs from a filter on externalId would cost a request each: list them).
    let ids: Vec<String> = {
        let c = rusqlite::Connection::open(dir.join("idms.db")).unwrap();
        let mut st = c.prepare("SELECT id FROM users WHERE directory_source = 'scim' ORDER BY id").unwrap();
        let raw: Vec<i64> = st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        raw.into_iter().map(|id| idms::domain::UserId::from_i64(id).to_string()).collect()
    };
    assert_eq!(ids.len(), lat_reqs);
    let off = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let (lat, took) = hammer(&base, &token, clients, ids.len(), |i| {
        ("PATCH", format!("/scim/v2/Users/{}", ids[i]), off.clone(), 200)
    });
    let (p50, p99) = percentiles(lat);
    println!(
        "PATCH /scim/v2/Users/{{id}} (active False), {clients} clients, {} requests: p50 {p50:.2} ms, p99 {p99:.2} ms \
         ({:.0}/s)",
        ids.len(),
        ids.len() as f64 / took.as_secs_f64()
    );

    // The initial provisioning while the doors are asked.
    let stop = Arc::new(AtomicBool::new(false));
    let (during, (took, _)) = std::thread::scope(|s| {
        let d = s.spawn(|| doors(&base, &door_token, &uids, rate, None, &stop));
        let (_, took) =
            hammer(&base, &token, clients, users, |i| ("POST", "/scim/v2/Users".into(), new_user(lat_reqs + i), 201));
        stop.store(true, Ordering::Relaxed);
        (d.join().unwrap(), (took, ()))
    });
    let (d50, d99) = percentiles(during.clone());
    println!(
        "initial provisioning of {users} people, {clients} clients: {:.1} s ({:.0} users/s)",
        took.as_secs_f64(),
        users as f64 / took.as_secs_f64()
    );
    println!(
        "door decisions during it ({} at {rate}/s): p50 {d50:.2} ms, p99 {d99:.2} ms — {:.2}× the p99 alone \
         (goal ≤ 1.5×)",
        during.len(),
        d99 / a99
    );
    let _ = svc.kill();
    let _ = svc.wait();
}
