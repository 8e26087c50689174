//! Floods cost little (issue 7/12, item 3): unknown bearer tokens are
//! refused from memory; the token set follows other processes' changes.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use idms::store::{Role, Store};

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
    let before = api.store.reads();
    for t in random_tokens(1000) {
        let (s, v) = api.call(Method::GET, "/api/v1/stats", Some(&t), None).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    }
    assert_eq!(api.store.reads(), before, "an unknown token must not cost a SQLite read");
    // A known token is answered from memory too: door decisions read nothing.
    for _ in 0..50 {
        assert_eq!(decide(&api, &api.door.1).await, StatusCode::OK);
    }
    assert_eq!(api.store.reads(), before, "a door decision must not read SQLite either");
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
