//! The door controllers' feed at 1,000,000 credentials (`make bench-doors`;
//! issue 15's benchmark): snapshot size, server time, and the simulated
//! controller's time to fetch and apply it.
//!
//! The site (`BENCH_DIR`, default `target/bench-data`, in `doors/idms.db`,
//! made once and reused) has `DOORS_CREDENTIALS` (default 1,000,000)
//! people with one card each, shaped like a real site by
//! `tests/it/feed_data.rs` (7- and 4-byte random UIDs, suspended holders
//! and cards, validity windows) — not `dev seed`'s sequential UIDs, which
//! would flatter compression. Each run works on a copy. Reported:
//! - **store**: the whole snapshot, page by page (10,000 entries, the
//!   service's default), read from the database (SQL and rows only);
//! - **plain / gzip**: the same through the service's router in process
//!   (authentication, JSON, compression; no network): total time, slowest
//!   page, bytes, bytes per entry;
//! - **controller**: `hw-sim`'s simulated controller against the service
//!   on loopback (`net::serve`), one full sync from nothing: every page
//!   fetched (gzip), parsed, staged, the list replaced and saved to disk
//!   (fsynced) — end to end.
//!
//! - **50 doors** (issue 16): the same people given access levels instead —
//!   1,000 doors in 100 areas of 10, 200 levels each granting one area,
//!   each person holding 1 to 3 of them (the default level taken away) —
//!   and a controller of 50 doors (5 areas, so 10 levels reach it): its
//!   snapshot through the router, plain and gzip, time and bytes. Every
//!   card is looked at; about one person in seven reaches its doors.
//!
//! Goals (issue 15): ≤ 40 bytes per entry compressed, ≤ 5 s end to end;
//! (issue 16) the 50-door controller's snapshot ≤ 1 s.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/it/feed_data.rs"]
mod feed_data;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use idms::api::{AppState, router};
use idms::clock::SystemClock;
use idms::store::{Actor, DB_FILE, Store};
use tower::ServiceExt;

/// CPU time this process has used (user + system, all threads), from
/// `/proc/self/stat` (Linux, 100 ticks a second): the machine is shared,
/// so wall time alone says little about the feed's own cost.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<u64> = after.split(' ').skip(11).take(2).map(|v| v.parse().unwrap_or(0)).collect();
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

/// Makes the site once: in a temporary file, renamed when complete.
fn site(dir: &Path, n: u64) -> PathBuf {
    let db = dir.join(DB_FILE);
    // Since access levels (issue 16) every holder holds levels: a site made before is made again.
    let marker = dir.join(format!("credentials-{n}-levels"));
    if db.exists() && marker.exists() {
        return db;
    }
    std::fs::create_dir_all(dir).unwrap();
    let _ = std::fs::remove_file(&db);
    let tmp = dir.join("making.db");
    let _ = std::fs::remove_file(&tmp);
    let t = Instant::now();
    drop(Store::create(&tmp, Arc::new(SystemClock)).unwrap());
    let mut c = rusqlite::Connection::open(&tmp).unwrap();
    feed_data::fill(&mut c, n).unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    drop(c);
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", tmp.display()));
    }
    std::fs::rename(&tmp, &db).unwrap();
    std::fs::write(&marker, b"").unwrap();
    println!("made {n} credentials in {} in {:.1} s", db.display(), t.elapsed().as_secs_f64());
    db
}

struct Pass {
    took: Duration,
    cpu: Duration,
    slowest: Duration,
    pages: usize,
    entries: usize,
    bytes: usize,
}

/// Every page of a snapshot through the router; `gzip`: asking for it.
async fn snapshot(app: &Router, token: &str, gzip: bool) -> Pass {
    let mut pass =
        Pass { took: Duration::ZERO, cpu: Duration::ZERO, slowest: Duration::ZERO, pages: 0, entries: 0, bytes: 0 };
    let mut since: Option<String> = None;
    loop {
        let path = match &since {
            Some(s) => format!("/api/v1/controllers/me/credentials?since={s}"),
            None => "/api/v1/controllers/me/credentials".to_string(),
        };
        let mut req = Request::get(path).header("authorization", format!("Bearer {token}"));
        if gzip {
            req = req.header(header::ACCEPT_ENCODING, "gzip");
        }
        let (t, c) = (Instant::now(), cpu());
        let res = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers().get(header::CONTENT_ENCODING).is_some(), gzip);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let took = t.elapsed();
        pass.cpu += cpu().saturating_sub(c);
        pass.took += took;
        pass.slowest = pass.slowest.max(took);
        pass.pages += 1;
        pass.bytes += body.len();
        let json = if gzip {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out).unwrap();
            out
        } else {
            body.to_vec()
        };
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["kind"], "snapshot");
        pass.entries += v["entries"].as_array().unwrap().len();
        if v["more"] == false {
            return pass;
        }
        since = Some(v["cursor"].as_str().unwrap().to_string());
    }
}

fn report(what: &str, p: &Pass) {
    println!(
        "{what:<6} {:>7.2} s ({:.2} s CPU) for {} pages (slowest {:>4.0} ms), {:>11} bytes, {:>6.1} bytes/entry",
        p.took.as_secs_f64(),
        p.cpu.as_secs_f64(),
        p.pages,
        p.slowest.as_secs_f64() * 1e3,
        p.bytes,
        p.bytes as f64 / p.entries.max(1) as f64,
    );
}

/// Gives the site's people access levels instead of the default one: 1,000
/// doors `d000`…`d999` in 100 areas of 10, 200 levels each granting one
/// area always, each person holding 1 to 3 of them.
fn levels_instead(db: &Path) -> rusqlite::Result<()> {
    let mut c = rusqlite::Connection::open(db)?;
    let tx = c.transaction()?;
    let t = feed_data::T;
    {
        let mut door = tx.prepare("INSERT INTO doors (name, site_id, created_at) VALUES (?1, 1, ?2)")?;
        for d in 0..1000 {
            door.execute(rusqlite::params![format!("d{d:03}"), t])?;
        }
        let mut area = tx.prepare("INSERT INTO areas (id, name, created_at) VALUES (?1, ?2, ?3)")?;
        for a in 0..100 {
            area.execute(rusqlite::params![a + 1, format!("area {a}"), t])?;
        }
        tx.execute(
            "INSERT INTO area_doors (area_id, door_id) SELECT CAST(substr(name, 2) AS INTEGER) / 10 + 1, id
             FROM doors WHERE name GLOB 'd[0-9][0-9][0-9]'",
            [],
        )?;
        let mut level = tx.prepare("INSERT INTO access_levels (id, name, created_at) VALUES (?1, ?2, ?3)")?;
        let mut grant =
            tx.prepare("INSERT INTO level_grants (level_id, position, area_id, schedule_id) VALUES (?1, 0, ?2, 1)")?;
        for l in 0..200 {
            level.execute(rusqlite::params![1000 + l, format!("level {l}"), t])?;
            grant.execute(rusqlite::params![1000 + l, l % 100 + 1])?;
        }
        tx.execute("DELETE FROM level_assignments", [])?;
        let users: Vec<i64> =
            tx.prepare("SELECT id FROM users")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        let mut assign =
            tx.prepare("INSERT INTO level_assignments (level_id, user_id, created_at) VALUES (?1, ?2, ?3)")?;
        for (i, u) in users.iter().enumerate() {
            let h = u64::try_from(*u).unwrap_or(0) ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let k = 1 + h % 3;
            let mut held = Vec::new();
            for j in 0..k {
                let l = 1000 + i64::try_from((h >> 8).wrapping_add(j * 67) % 200).unwrap_or(0);
                if !held.contains(&l) {
                    held.push(l);
                    assign.execute(rusqlite::params![l, u, t])?;
                }
            }
        }
    }
    tx.commit()?;
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
}

/// Issue 16's figure: a 50-door controller's snapshot at `n` credentials.
async fn fifty_doors(source: &Path, n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    std::fs::copy(source, &db).unwrap();
    let t = Instant::now();
    levels_instead(&db).unwrap();
    println!("50 doors: 200 levels over 1,000 doors given to {n} people in {:.1} s", t.elapsed().as_secs_f64());
    let store = Arc::new(Store::open(&db, Arc::new(SystemClock)).unwrap());
    let doors: Vec<String> = (0..50).map(|d| format!("d{d:03}")).collect();
    let (c, token) = store.add_controller(&Actor::staff("bench"), "fifty-doors", &doors).unwrap();
    // A running service built its index at start: the feed reads it.
    let t = Instant::now();
    assert_eq!(store.index().credentials() as u64, n);
    println!("50 doors: index built in {:.2} s", t.elapsed().as_secs_f64());
    let (t, cpu0) = (Instant::now(), cpu());
    let (mut pages, mut entries, mut since) = (0, 0, None::<String>);
    loop {
        let page = store.controller_feed(idms::store::FeedScope::Controller(c.id), since.as_deref(), 10_000).unwrap();
        pages += 1;
        entries += page.entries.len();
        if !page.more {
            break;
        }
        since = Some(page.cursor);
    }
    println!(
        "50 doors store {:>5.2} s ({:.2} s CPU) for {pages} pages, {entries} entries of {n} credentials",
        t.elapsed().as_secs_f64(),
        cpu().saturating_sub(cpu0).as_secs_f64()
    );
    let app = router(AppState::open(store.clone(), dir.path(), 1024, Duration::ZERO).unwrap());
    let plain = snapshot(&app, &token, false).await;
    report("50 plain", &plain);
    let gzip = snapshot(&app, &token, true).await;
    report("50 gzip", &gzip);
    assert_eq!(plain.entries, entries);
    assert!(entries > 0 && (entries as u64) < n, "some reach the 50 doors, not all");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let base = PathBuf::from(std::env::var("BENCH_DIR").unwrap_or_else(|_| "target/bench-data".into()));
    let n: u64 = std::env::var("DOORS_CREDENTIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let source = site(&base.join("doors"), n);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&source, dir.path().join(DB_FILE)).unwrap();
    let t = Instant::now();
    let store = Arc::new(Store::open(&dir.path().join(DB_FILE), Arc::new(SystemClock)).unwrap());
    println!("{n} credentials; opened a copy in {:.1} s", t.elapsed().as_secs_f64());
    let (_, token) = store.add_controller(&Actor::staff("bench"), "bench-doors", &["main".to_string()]).unwrap();
    let t = Instant::now();
    assert_eq!(store.index().credentials() as u64, n);
    println!("index built in {:.2} s (the feed's snapshots read it)", t.elapsed().as_secs_f64());

    // The database alone, page by page.
    let (t, c) = (Instant::now(), cpu());
    let (mut pages, mut entries, mut since, mut slowest) = (0, 0, None::<String>, Duration::ZERO);
    loop {
        let p0 = Instant::now();
        let page = store.credential_feed(since.as_deref(), 10_000).unwrap();
        slowest = slowest.max(p0.elapsed());
        pages += 1;
        entries += page.entries.len();
        if !page.more {
            break;
        }
        since = Some(page.cursor);
    }
    assert_eq!(entries as u64, n, "every card has a holder");
    println!(
        "store  {:>7.2} s ({:.2} s CPU) for {pages} pages (slowest {:>4.0} ms), {entries} entries",
        t.elapsed().as_secs_f64(),
        cpu().saturating_sub(c).as_secs_f64(),
        slowest.as_secs_f64() * 1e3
    );

    let state = AppState::open(store.clone(), dir.path(), 1024, Duration::ZERO).unwrap();
    let app = router(state);
    let plain = snapshot(&app, &token, false).await;
    report("plain", &plain);
    let gzip = snapshot(&app, &token, true).await;
    report("gzip", &gzip);
    assert_eq!((plain.entries as u64, gzip.entries as u64), (n, n));

    // The simulated controller against the service on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let limits = idms::net::Limits {
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        body_read_timeout: Duration::from_secs(30),
        max_connections: 64,
        max_per_address: 64,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(idms::net::serve(listener, None, limits, app, async move {
        let _ = stop_rx.await;
    }));
    let ctl_dir = tempfile::tempdir().unwrap();
    let (ctl_dir_path, ctl_token) = (ctl_dir.path().to_path_buf(), token.clone());
    let (took, took_cpu, report) = tokio::task::spawn_blocking(move || {
        let cfg = hw_sim::controller::Config::new(&url, &ctl_token, vec!["main".into()], ctl_dir_path);
        let ctl = hw_sim::controller::Controller::open(cfg).unwrap();
        let (t, c) = (Instant::now(), cpu());
        let r = ctl.sync();
        (t.elapsed(), cpu().saturating_sub(c), r)
    })
    .await
    .unwrap();
    let report = report.unwrap_or_else(|e| panic!("the controller's sync failed: {e}"));
    assert_eq!(report.entries as u64, n);
    let saved = std::fs::metadata(ctl_dir.path().join(hw_sim::controller::feed::LIST_FILE)).map_or(0, |m| m.len());
    println!(
        "controller {:.2} s end to end ({:.2} s CPU, service and controller): {} pages fetched (gzip), parsed, staged, {} entries applied, list saved ({saved} bytes)",
        took.as_secs_f64(),
        took_cpu.as_secs_f64(),
        report.pages,
        report.entries
    );
    let _ = stop_tx.send(());
    server.await.unwrap();

    fifty_doors(&source, n).await;
}
