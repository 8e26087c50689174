//! The web UI's server time and page weight (`make bench-ui`; issue 8/12).
//!
//! On a copy of the `dev seed` database of `make bench-open`
//! (`BENCH_DIR`, default `target/bench-data`: 1,000,000 people with one card
//! each), in process (`api::router` + `oneshot`, no network), signed in as
//! an admin (a UI session cookie for the pages, a bearer token for the API):
//! - **people search**: the results fragment htmx swaps (`HX-Request`), the
//!   whole page, and `GET /api/v1/users` — for a broad prefix
//!   (`seed0012`: 10,000 people match, a page of 50 shown), one exact last
//!   name, a first keystroke (`s`: everyone matches) and an email with its
//!   `@`;
//! - **person record**: `/ui/people/{id}` and `GET /api/v1/users/{id}`, over
//!   people spread across the database.
//!
//! Each is run UI_ROUNDS times (default 2,000) after 50 warm-up requests;
//! reported: p50 / p99 / max in ms. Then the **page weight** of the first
//! view after sign-in (People): the HTML, each stylesheet and script it
//! links (bytes as served, and gzip -9 sizes), and the number of requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use idms::api::{AppState, router};
use idms::clock::SystemClock;
use idms::store::{Actor, Role, Store};
use tower::ServiceExt;

const PW: &str = "bench ui password";

struct Answer {
    status: StatusCode,
    cookie: Option<String>,
    body: Vec<u8>,
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let cookie = res.headers().get("set-cookie").map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    Answer { status, cookie, body }
}

fn get(path: &str, auth: (&str, &str), htmx: bool) -> Request<Body> {
    let mut r = Request::get(path).header("host", "idms.bench").header(auth.0, auth.1);
    if htmx {
        r = r.header("hx-request", "true");
    }
    r.body(Body::empty()).unwrap()
}

/// p50 / p99 / max of `rounds` requests made by `make`, in ms.
async fn time(app: &Router, rounds: usize, mut make: impl FnMut(usize) -> Request<Body>) -> (f64, f64, f64) {
    for i in 0..50 {
        assert_eq!(send(app, make(i)).await.status, StatusCode::OK);
    }
    let mut took = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let req = make(i);
        let t = Instant::now();
        let a = send(app, req).await;
        took.push(t.elapsed());
        assert_eq!(a.status, StatusCode::OK, "{}", String::from_utf8_lossy(&a.body));
    }
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(took[rounds / 2]), ms(took[rounds * 99 / 100]), ms(*took.last().unwrap()))
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut child = std::process::Command::new("gzip")
        .args(["-9", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    child.wait_with_output().unwrap().stdout.len()
}

/// The `href`/`src` values of the page's stylesheets and scripts.
fn linked(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["<link rel=\"stylesheet\" href=\"", "<script src=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attr) {
            let tail = &rest[at + attr.len()..];
            let end = tail.find('"').unwrap();
            out.push(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let source = std::path::PathBuf::from(std::env::var("BENCH_DIR").unwrap_or_else(|_| "target/bench-data".into()));
    assert!(source.join("idms.db").exists(), "no {}/idms.db: run `make bench-open` first", source.display());
    let rounds: usize = std::env::var("UI_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(source.join("idms.db"), dir.path().join("idms.db")).unwrap();
    let t = Instant::now();
    let store = Arc::new(Store::open(&dir.path().join("idms.db"), Arc::new(SystemClock)).unwrap());
    println!("opened a copy of {} in {:.1} s", source.display(), t.elapsed().as_secs_f64());
    store.add_operator(&Actor::staff("bench"), "bench-admin", Role::Admin, None, Some(PW)).unwrap();
    let state = AppState::open(store.clone(), dir.path(), 1024, Duration::ZERO).unwrap();
    let app = router(state);

    let form = format!("name=bench-admin&password={}", PW.replace(' ', "+"));
    let signed = send(
        &app,
        Request::post("/ui/sign-in")
            .header("host", "idms.bench")
            .header("origin", "http://idms.bench")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap(),
    )
    .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    let cookie = signed.cookie.unwrap();
    let login = send(
        &app,
        Request::post("/api/v1/login")
            .header("host", "idms.bench")
            .header("content-type", "application/json")
            .body(Body::from(format!(r#"{{"name":"bench-admin","password":"{PW}"}}"#)))
            .unwrap(),
    )
    .await;
    let token: serde_json::Value = serde_json::from_slice(&login.body).unwrap();
    let bearer = format!("Bearer {}", token["token"].as_str().expect("a token"));
    let ui = ("cookie", cookie.as_str());
    let api = ("authorization", bearer.as_str());

    let people: Vec<serde_json::Value> =
        serde_json::from_slice(&send(&app, get("/api/v1/users?q=seed0012&limit=50", api, false)).await.body).unwrap();
    assert_eq!(people.len(), 50, "the seed has 1,000,000 people");
    let total: u64 = std::env::var("BENCH_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    // 200 people spread over the database.
    let mut ids = Vec::new();
    for k in 0..200u64 {
        let n = (k * 4999 + 17) % total;
        let q = format!("/api/v1/users?q=seed{n:08}&limit=1");
        let found: Vec<serde_json::Value> =
            serde_json::from_slice(&send(&app, get(&q, api, false)).await.body).unwrap();
        ids.push(found[0]["id"].as_str().unwrap().to_string());
    }

    println!("{rounds} requests each, after 50 warm-up; p50 / p99 / max in ms");
    let row = |what: &str, (p50, p99, max): (f64, f64, f64)| println!("{what:<52} {p50:>7.3} {p99:>7.3} {max:>7.3}");
    // A broad prefix, one last name, a first keystroke, an email (with its @).
    for q in ["seed0012", "seed00500000", "s", "seed12%40"] {
        row(
            &format!("UI results fragment (htmx) q={q}"),
            time(&app, rounds, |_| get(&format!("/ui/people?q={q}"), ui, true)).await,
        );
        row(
            &format!("UI people page q={q}"),
            time(&app, rounds, |_| get(&format!("/ui/people?q={q}"), ui, false)).await,
        );
        row(
            &format!("API GET /api/v1/users?q={q}&limit=50"),
            time(&app, rounds, |_| get(&format!("/api/v1/users?q={q}&limit=50"), api, false)).await,
        );
    }
    row(
        "UI person record /ui/people/{id}",
        time(&app, rounds, |i| get(&format!("/ui/people/{}", ids[i % ids.len()]), ui, false)).await,
    );
    row(
        "API GET /api/v1/users/{id}",
        time(&app, rounds, |i| get(&format!("/api/v1/users/{}", ids[i % ids.len()]), api, false)).await,
    );

    // Page weight: the first view after sign-in.
    let page = send(&app, get("/ui/people", ui, false)).await;
    let html = String::from_utf8(page.body.clone()).unwrap();
    let (mut raw, mut gz, mut sent_total) = (0, 0, 0);
    println!("first view after sign-in (People): bytes sent to a browser accepting gzip / gzip -9 of the file");
    println!("  {:<44} {:>7} {:>7}", "/ui/people (HTML)", page.body.len(), gzip_len(&page.body));
    let assets = linked(&html);
    for path in &assets {
        let plain = send(&app, get(path, ("x-bench", "1"), false)).await;
        let sent = send(&app, get(path, ("accept-encoding", "gzip, deflate, br"), false)).await;
        assert_eq!((plain.status, sent.status), (StatusCode::OK, StatusCode::OK), "{path}");
        let z = gzip_len(&plain.body);
        println!("  {path:<44} {:>7} {z:>7}  ({} bytes without gzip)", sent.body.len(), plain.body.len());
        raw += plain.body.len();
        sent_total += sent.body.len();
        gz += z;
    }
    println!(
        "  JS + CSS: {raw} bytes ({:.1} KB) uncompressed, {sent_total} bytes sent ({:.1} KB), {gz} bytes if all were gzip -9 ({:.1} KB); {} requests (the page and {} assets)",
        raw as f64 / 1024.0,
        sent_total as f64 / 1024.0,
        gz as f64 / 1024.0,
        assets.len() + 1,
        assets.len()
    );
}
