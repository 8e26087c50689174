//! Floods cost little (issue 7/12, item 3): unknown bearer tokens are
//! refused from memory; the token set follows other processes' changes;
//! failed authentication is limited per client address and per name,
//! audited in counted batches, and one address holds one login slot.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use idms::store::{AuditQuery, Role, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::access::{decide_status as decide, get_status as stats};
use crate::api::Api;
use crate::common::staff;

/// A token-shaped string nobody was given (xorshift, seeded: replays).
fn random_tokens(n: usize) -> Vec<String> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            let mut t = String::from("idms_op_");
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                t.push_str(&format!("{x:016x}"));
            }
            t
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bearer_tokens_are_refused_without_reading_sqlite() {
    let api = Api::new();
    // The purge-job runner polls the store every 2 s (two reads) whatever
    // the requests do: that, and only that, may be read meanwhile — a
    // read per request would be a thousand.
    let started = std::time::Instant::now();
    let runner_reads = || 2 * (started.elapsed().as_secs() / 2 + 1);
    let before = api.store.reads();
    for t in random_tokens(1000) {
        let (s, v) = api.call(Method::GET, "/api/v1/stats", Some(&t), None).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    }
    let read = api.store.reads() - before;
    assert!(read <= runner_reads(), "an unknown token must not cost a SQLite read: {read} reads");
    // A known token is answered from memory too: door decisions read nothing.
    for _ in 0..50 {
        assert_eq!(decide(&api, &api.door.1).await, StatusCode::OK);
    }
    let read = api.store.reads() - before;
    assert!(read <= runner_reads(), "a door decision must not read SQLite either: {read} reads");
}

/// What another process (the CLI, here a second `Store` on the same file)
/// changes is taken in by the service's catch-up — the tailer's call —
/// and only needs that: tokens made, revoked, expired; holders disabled
/// and enabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_set_follows_another_process_through_catch_up() {
    let api = Api::new();
    let cli = Store::open(&api.fx.db_path(), api.fx.clock.clone()).unwrap();
    let (_, made) = cli.create_token(&staff(), "from-cli", Role::Viewer, None).unwrap();
    let (_, short) = cli.create_token(&staff(), "short-lived", Role::Viewer, Some(60)).unwrap();
    api.store.catch_up().unwrap();
    assert_eq!((stats(&api, &made).await, stats(&api, &short).await), (StatusCode::OK, StatusCode::OK));

    cli.revoke_token(&staff(), &made).unwrap();
    api.store.catch_up().unwrap();
    assert_eq!(stats(&api, &made).await, StatusCode::UNAUTHORIZED, "revoked by another process");

    api.fx.clock.advance(60);
    assert_eq!(stats(&api, &short).await, StatusCode::UNAUTHORIZED, "expired, with no log entry at all");

    let viewer = api.token(Role::Viewer).to_string();
    cli.set_operator_enabled(&staff(), "op-viewer", false).unwrap();
    api.store.catch_up().unwrap();
    assert_eq!(stats(&api, &viewer).await, StatusCode::UNAUTHORIZED, "holder disabled by another process");
    cli.set_operator_enabled(&staff(), "op-viewer", true).unwrap();
    api.store.catch_up().unwrap();
    assert_eq!(stats(&api, &viewer).await, StatusCode::OK, "enabled again");

    let door = api.door.1.clone();
    cli.set_controller_enabled(&staff(), api.door.0, false).unwrap();
    api.store.catch_up().unwrap();
    assert_eq!(decide(&api, &door).await, StatusCode::UNAUTHORIZED, "controller disabled by another process");
    cli.set_controller_enabled(&staff(), api.door.0, true).unwrap();
    let rotated = cli.rotate_controller_token(&staff(), api.door.0, 0).unwrap();
    api.store.catch_up().unwrap();
    assert_eq!(decide(&api, &door).await, StatusCode::UNAUTHORIZED, "rotated away");
    assert_eq!(decide(&api, &rotated.token.secret).await, StatusCode::OK);
}

/// The service's own writes reach the set before they return, even one
/// made straight on its store (no API handler involved).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_own_writes_reach_the_token_set_at_once() {
    let api = Api::new();
    let store: &Arc<Store> = &api.store;
    let (_, t) = store.create_token(&staff(), "own", Role::Viewer, None).unwrap();
    assert_eq!(stats(&api, &t).await, StatusCode::OK);
    store.revoke_token(&staff(), &t).unwrap();
    assert_eq!(stats(&api, &t).await, StatusCode::UNAUTHORIZED);
}

/// A request from `ip` (as `into_make_service_with_connect_info` passes it):
/// status, `Retry-After`, body.
async fn from(
    api: &Api,
    ip: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Option<u64>, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let mut req = match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let addr = SocketAddr::new(ip.parse().unwrap(), 40_000);
    req.extensions_mut().insert(ConnectInfo(addr));
    let res = api.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, retry, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn login(api: &Api, ip: &str, name: &str, password: &str) -> (StatusCode, Option<u64>) {
    let body = json!({"name": name, "password": password});
    let (s, retry, v) = from(api, ip, Method::POST, "/api/v1/login", None, Some(body)).await;
    if s == StatusCode::TOO_MANY_REQUESTS {
        assert_eq!(v["code"], "too_many_attempts", "{v}");
    }
    (s, retry)
}

const PASSWORD: &str = "correct horse battery";

fn operator(api: &Api, name: &str) {
    api.store.add_operator(&staff(), name, Role::Viewer, None, Some(PASSWORD)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_from_one_address_get_429_with_a_growing_retry_after() {
    let api = Api::new();
    operator(&api, "desk");
    const A: &str = "192.0.2.10";
    // Different unknown names, so only the address's count grows.
    for i in 0..6 {
        assert_eq!(
            login(&api, A, &format!("nobody-{i}"), "guess").await,
            (StatusCode::UNAUTHORIZED, None),
            "failure {i}"
        );
    }
    let mut waits = Vec::new();
    for i in 6..9 {
        // Locked: refused before any password check, even the right one.
        let (s, retry) = login(&api, A, "desk", PASSWORD).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        let retry = retry.unwrap();
        waits.push(retry);
        assert_eq!(
            login(&api, "198.51.100.7", "desk", PASSWORD).await.0,
            StatusCode::OK,
            "another address is unaffected"
        );
        api.fx.clock.advance(i64::try_from(retry).unwrap());
        assert_eq!(login(&api, A, &format!("nobody-{i}"), "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(waits, [1, 2, 4]);
    // A success does not clear the address: an insider cannot reset the
    // count of guesses against other names with their own login.
    api.fx.clock.advance(8);
    assert_eq!(login(&api, A, "desk", PASSWORD).await.0, StatusCode::OK);
    assert_eq!(login(&api, A, "nobody", "guess").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&api, A, "nobody-else", "guess").await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_attacked_from_many_addresses_is_slowed_but_not_shut_to_its_own_address() {
    let api = Api::new();
    operator(&api, "alice");
    const HOME: &str = "203.0.113.5";
    assert_eq!(login(&api, HOME, "alice", PASSWORD).await.0, StatusCode::OK);
    // One failure from each of six addresses: no address is locked, the name is.
    for i in 1..=6 {
        assert_eq!(login(&api, &format!("192.0.2.{i}"), "alice", "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(&api, "192.0.2.7", "alice", PASSWORD).await, (StatusCode::TOO_MANY_REQUESTS, Some(1)));
    assert_eq!(login(&api, "192.0.2.7", "someone-else", "guess").await.0, StatusCode::UNAUTHORIZED, "only that name");
    assert_eq!(login(&api, HOME, "alice", PASSWORD).await.0, StatusCode::OK, "her usual address is not held");
    // Her success clears the name, so the attackers start over: six more
    // failures lock it again, for a growing span each time.
    for i in 8..=13 {
        assert_eq!(login(&api, &format!("192.0.2.{i}"), "alice", "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(&api, "192.0.2.14", "alice", "guess").await, (StatusCode::TOO_MANY_REQUESTS, Some(1)));
    api.fx.clock.advance(1);
    assert_eq!(login(&api, "192.0.2.15", "alice", "guess").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&api, "192.0.2.16", "alice", PASSWORD).await, (StatusCode::TOO_MANY_REQUESTS, Some(2)), "growing");
    // The lock is capped: after it, alice logs in from a new address too.
    api.fx.clock.advance(2);
    assert_eq!(login(&api, "198.51.100.1", "alice", PASSWORD).await.0, StatusCode::OK);
}

/// `api.refused` entries whose detail starts with `what`: (outcome, count) each.
fn counted(api: &Api, what: &str) -> Vec<(String, u64)> {
    let q = AuditQuery { limit: Some(10_000), ..AuditQuery::default() };
    api.store
        .audit_entries(&q)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "api.refused" && e.detail.starts_with(what))
        .map(|e| (e.outcome.clone(), e.detail.rsplit("count=").next().unwrap().parse().unwrap()))
        .collect()
}

/// Waits (at most 10 s: the auditor writes once a second) until the
/// counts of `what` add up to `want`.
async fn audited(api: &Api, what: &str, want: u64) -> Vec<(String, u64)> {
    let since = Instant::now();
    loop {
        let got = counted(api, what);
        if got.iter().map(|e| e.1).sum::<u64>() >= want {
            return got;
        }
        assert!(since.elapsed() < Duration::from_secs(10), "{what}: {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentication_is_limited_per_address_and_audited_in_counted_entries() {
    let api = Api::new();
    const A: &str = "192.0.2.20";
    let mut statuses = Vec::new();
    for t in random_tokens(40) {
        statuses.push(from(&api, A, Method::GET, "/api/v1/stats", Some(&t), None).await.0.as_u16());
    }
    assert_eq!(statuses[..6], [401; 6]);
    assert!(statuses[6..].iter().all(|s| *s == 429), "{statuses:?}");
    // A valid token from the locked address still works; another address is unaffected.
    let viewer = api.token(Role::Viewer).to_string();
    assert_eq!(from(&api, A, Method::GET, "/api/v1/stats", Some(&viewer), None).await.0, StatusCode::OK);
    let t = &random_tokens(1)[0];
    assert_eq!(from(&api, "192.0.2.21", Method::GET, "/api/v1/stats", Some(t), None).await.0, StatusCode::UNAUTHORIZED);
    for i in 0..3 {
        login(&api, A, &format!("nobody-{i}"), "guess").await;
    }

    let bearer = audited(&api, &format!("bearer token from {A} "), 40).await;
    assert!(bearer.len() <= 4, "counted, not one entry per attempt: {bearer:?}");
    let total = |outcome: &str| bearer.iter().filter(|e| e.0 == outcome).map(|e| e.1).sum::<u64>();
    assert_eq!((total("unauthorized"), total("too_many_attempts")), (6, 34));
    // Three password checks (argon2) may straddle the auditor's one-second
    // flushes on a loaded machine: counted in at most one entry each, never more.
    let logins = audited(&api, &format!("POST /api/v1/login from {A} "), 3).await;
    assert!(logins.len() <= 3 && logins.iter().all(|e| e.0 == "invalid_credentials"), "{logins:?}");
    assert_eq!(logins.iter().map(|e| e.1).sum::<u64>(), 3, "{logins:?}");
    let q = AuditQuery { limit: Some(10_000), ..AuditQuery::default() };
    let entries = api.store.audit_entries(&q).unwrap();
    assert!(entries.iter().all(|e| e.action != "operator.login"), "no entry per failed login");
    // Neither the token nor a typed name is on the record.
    assert!(entries.iter().all(|e| !e.detail.contains("idms_op_") && !e.detail.contains("nobody")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_hold_every_login_slot() {
    let api = Api::new();
    operator(&api, "desk");
    let a: IpAddr = "192.0.2.30".parse().unwrap();
    // Address A has a password check in flight, holding one of the two argon2 slots.
    let _checking = api.state.throttle.logins_in_flight.enter(a).unwrap();
    let _argon2 = api.state.logins.try_acquire().unwrap();
    let (s, retry) = login(&api, "192.0.2.30", "desk", PASSWORD).await;
    assert_eq!((s, retry), (StatusCode::TOO_MANY_REQUESTS, Some(1)), "A's second check waits for its first");
    assert_eq!(
        login(&api, "198.51.100.30", "desk", PASSWORD).await.0,
        StatusCode::OK,
        "another address gets the other slot"
    );
}

/// Through a real `idms serve` (the service's own accept loop, not the
/// in-process router): the client's address reaches the limiter, so
/// failed logins under ever-new names from one address are locked out
/// after the free ones.
#[test]
fn a_real_service_limits_failed_logins_by_the_clients_address() {
    use crate::server::{Server, agent};
    let d = tempfile::tempdir().unwrap();
    let srv = Server::start(d.path());
    let a = agent();
    let statuses: Vec<u16> = (0..10)
        .map(|i| {
            a.post(&format!("{}/api/v1/login", srv.base))
                .send_json(serde_json::json!({"name": format!("nobody-{i}"), "password": "wrong"}))
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert!(statuses[..5].iter().all(|&s| s == 401), "{statuses:?}");
    // The 6th failure locks the address for 1 s, the next ones for 2, 4, …
    // (whole seconds: the first lock may end before the next request), so
    // a 429 comes, whatever the machine's speed, well before the 10th.
    assert!(statuses[5..].contains(&429), "{statuses:?}");
    srv.stop();
}
