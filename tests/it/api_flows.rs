//! Issue 2/5, must-be-true 2, 3 and 4: the lifecycle over HTTP with every
//! refusal code of 1/5; 100 concurrent enrolments of one card; a table of
//! bad input that must never yield a 5xx.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use idms::store::Role;
use serde_json::{Value, json};

use crate::api::Api;

async fn post(api: &Api, path: &str, role: Role, body: Option<Value>) -> (StatusCode, Value) {
    api.call(Method::POST, path, Some(api.token(role)), body).await
}

fn code(r: &(StatusCode, Value)) -> (u16, &str) {
    (r.0.as_u16(), r.1["code"].as_str().unwrap_or("-"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_lifecycle_with_every_refusal() {
    let api = Api::new();
    let e = Role::Eraser;
    let a = api.person("Holder").await;
    let b = api.person("Next").await;
    let u = |id: &str, step: &str| format!("/api/v1/users/{id}/{step}");

    assert_eq!(api.enroll(&a, "04:a1:b2:c3").await.0, StatusCode::CREATED);
    assert_eq!(api.decide("04A1B2C3").await["decision"], "grant");
    assert_eq!(api.decide("04A1B2C3").await["user_id"], a.as_str());
    assert_eq!(code(&api.enroll(&b, "04A1B2C3").await), (409, "credential_held"));
    let held = api.enroll(&b, "04A1B2C3").await;
    assert!(held.1["detail"].as_str().unwrap().contains(&a), "names the holder: {}", held.1);
    // UID refusals, each with its own code.
    assert_eq!(code(&api.enroll(&b, "04A1B2C").await), (400, "uid_odd_digits"));
    assert_eq!(code(&api.enroll(&b, "04A1B2CG").await), (400, "invalid_uid"));
    assert_eq!(code(&api.enroll(&b, "04A1B2C3D4").await), (400, "uid_wrong_length"));
    assert_eq!(code(&api.enroll(&b, "08A1B2C3").await), (400, "random_uid"));
    // The lifecycle table's refusals.
    assert_eq!(code(&post(&api, &u(&a, "resume"), e, None).await), (409, "invalid_transition"));
    assert_eq!(code(&post(&api, &u(&a, "restore"), e, None).await), (409, "invalid_transition"));
    assert_eq!(code(&post(&api, &u(&a, "expunge"), e, Some(json!({"confirm": a}))).await), (409, "holder_not_deleted"));
    assert_eq!(post(&api, &u(&a, "suspend"), e, None).await.0, StatusCode::OK);
    assert_eq!(api.decide("04A1B2C3").await["reason"], "holder_suspended");
    assert_eq!(code(&post(&api, &u(&a, "suspend"), e, None).await), (409, "invalid_transition"));
    assert_eq!(post(&api, &u(&a, "delete"), e, None).await.1["state"], "deleted");
    assert_eq!(api.decide("04A1B2C3").await["reason"], "holder_deleted");
    assert_eq!(code(&api.enroll(&b, "04A1B2C3").await), (409, "credential_held"));
    assert_eq!(post(&api, &u(&a, "restore"), e, None).await.1["state"], "suspended");
    post(&api, &u(&a, "delete"), e, None).await;
    // The preview says what goes and what blocks.
    let (s, p) = api.call(Method::GET, &u(&a, "expunge-preview"), Some(api.token(e)), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p["releases"], json!(["04A1B2C3"]));
    assert_eq!(p["blocked_by"], json!([]));
    assert!(p["destroys"].as_array().unwrap().contains(&json!("family_name")));
    assert_eq!(
        code(&post(&api, &u(&a, "expunge"), e, Some(json!({"confirm": b}))).await),
        (400, "expunge_not_confirmed")
    );
    let (s, t) = post(&api, &u(&a, "expunge"), e, Some(json!({"confirm": a}))).await;
    assert_eq!((s, t["state"].as_str(), &t["family_name"]), (StatusCode::OK, Some("expunged"), &Value::Null));
    assert_eq!(code(&post(&api, &u(&a, "restore"), e, None).await), (409, "already_expunged"));
    assert_eq!(code(&post(&api, &u(&a, "expunge"), e, Some(json!({"confirm": a}))).await), (409, "already_expunged"));
    // An expunged person gets no access level, and the document says the route may answer so.
    let assign = "/api/v1/levels/All%20doors%2C%20always/assignments";
    let refused = post(&api, assign, Role::Manager, Some(json!({"user_id": a}))).await;
    assert_eq!(code(&refused), (409, "already_expunged"));
    let doc = serde_json::to_value(idms::api::openapi::document()).unwrap();
    assert!(doc["paths"]["/api/v1/levels/{name}/assignments"]["post"]["responses"].get("409").is_some());
    assert_eq!(api.decide("04A1B2C3").await["reason"], "credential_in_stock");
    // Recycling, then retirement.
    assert_eq!(api.enroll(&b, "04A1B2C3").await.1["holder"], b.as_str());
    let (s, c) = api.call(Method::GET, "/api/v1/credentials/04a1b2c3", Some(api.token(Role::Viewer)), None).await;
    assert_eq!((s, c["bindings"].as_array().unwrap().len()), (StatusCode::OK, 2));
    let revoke = post(&api, "/api/v1/credentials/04A1B2C3/revoke", e, Some(json!({"reason": "stolen"}))).await;
    assert_eq!(revoke.1["state"], "stolen");
    assert_eq!(api.decide("04A1B2C3").await["reason"], "credential_stolen");
    let c = api.person("Third").await;
    assert_eq!(code(&api.enroll(&c, "04A1B2C3").await), (409, "credential_retired"));
    // Legal hold and directory links.
    let (_, h) = post(
        &api,
        "/api/v1/users",
        Role::Admin,
        Some(json!({"given_name": "H", "family_name": "Hold", "legal_hold": true})),
    )
    .await;
    let h = h["id"].as_str().unwrap().to_string();
    post(&api, &u(&h, "delete"), e, None).await;
    assert_eq!(code(&post(&api, &u(&h, "expunge"), e, Some(json!({"confirm": h}))).await), (409, "legal_hold"));
    let linked = api
        .store
        .create_user(
            &crate::common::staff(),
            idms::store::NewUser { directory_id: Some("okta-7".into()), ..crate::common::new_user("D", "Linked") },
        )
        .unwrap()
        .id
        .to_string();
    assert_eq!(code(&post(&api, &u(&linked, "delete"), e, None).await), (409, "directory_linked"));
    // Unlinking is an admin's: the manager is refused, the admin unlinks.
    for (who, want) in [(e, StatusCode::FORBIDDEN), (Role::Admin, StatusCode::OK)] {
        let (s, _) = api
            .call(
                Method::PATCH,
                &format!("/api/v1/users/{linked}"),
                Some(api.token(who)),
                Some(json!({"directory_id": null})),
            )
            .await;
        assert_eq!(s, want, "unlink as {who:?}");
    }
    assert_eq!(post(&api, &u(&linked, "delete"), e, None).await.0, StatusCode::OK);
    assert_eq!(code(&post(&api, &u("ZZZZZZZZZZZZ", "delete"), e, None).await), (404, "not_found"));
    // Statistics keep counting the expunged; the audit chain holds.
    let (_, st) = api.call(Method::GET, "/api/v1/stats", Some(api.token(Role::Viewer)), None).await;
    assert_eq!(st["users"]["expunged"], 1);
    let (_, v) = api.call(Method::GET, "/api/v1/audit/verify", Some(api.token(Role::Manager)), None).await;
    assert_eq!(v["first_bad"], Value::Null);
    let (_, log) = api.call(Method::GET, "/api/v1/audit?limit=1000", Some(api.token(Role::Manager)), None).await;
    let outcomes: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    for c in [
        "credential_held",
        "random_uid",
        "holder_not_deleted",
        "expunge_not_confirmed",
        "legal_hold",
        "directory_linked",
    ] {
        assert!(outcomes.contains(&c), "{c} audited");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_enrolments_of_one_card() {
    let api = Arc::new(Api::new());
    let mut users = Vec::new();
    for i in 0..100 {
        users.push(api.person(&format!("Racer{i}")).await);
    }
    let tasks: Vec<_> = users
        .into_iter()
        .map(|u| {
            let api = api.clone();
            tokio::spawn(async move { api.enroll(&u, "04FACE0F").await })
        })
        .collect();
    let mut created = 0;
    let mut held = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match (s, v["code"].as_str()) {
            (StatusCode::CREATED, _) => created += 1,
            (StatusCode::CONFLICT, Some("credential_held")) => held += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((created, held), (1, 99));
    assert_eq!(crate::common::double_bindings(&api.fx.db_path()), 0);
}

/// Method, path, token, body, content type, expected status.
type Case<'a> = (Method, String, Option<&'a str>, Option<Vec<u8>>, &'a str, u16);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_problem_never_a_500() {
    let api = Api::new();
    let admin = api.token(Role::Admin).to_string();
    let id = api.person("Target").await;
    let big = vec![b'a'; 2 * 1024 * 1024];
    let big_json =
        format!("{{\"given_name\": \"{}\", \"family_name\": \"x\"}}", "a".repeat(2 * 1024 * 1024)).into_bytes();
    let t = Some(admin.as_str());
    let cases: Vec<Case<'_>> = vec![
        (Method::POST, "/api/v1/users".into(), t, Some(b"{\"given_name\": ".to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/users".into(), t, Some(b"[1,2,3]".to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/users".into(), t, Some(br#"{"given_name": 5, "family_name": true}"#.to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/users".into(), t, Some(br#"{"given_name": "a", "family_name": "b", "extra": 1}"#.to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/users".into(), t, Some(br#"{"given_name": "", "family_name": "b"}"#.to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/users".into(), t, Some(br#"{"given_name": "a", "family_name": "b", "email": "nope"}"#.to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/users".into(), t, Some(br#"{"given_name": "a", "family_name": "b", "valid_from": "tomorrow"}"#.to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/users".into(), t, Some(br#"{"given_name": "a", "family_name": "b", "valid_from": "2027-01-02", "valid_to": "2027-01-01"}"#.to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/users".into(), t, Some(big.clone()), "application/json", 413),
        (Method::POST, "/api/v1/users".into(), t, Some(big_json), "application/json", 413),
        (Method::POST, "/api/v1/users".into(), t, Some(b"given_name=a".to_vec()), "application/x-www-form-urlencoded", 415),
        (Method::POST, "/api/v1/users".into(), t, Some(b"\xff\xfe\x00".to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/users".into(), t, Some("{\"given_name\": \"\u{1F600}\u{202E}\", \"family_name\": \"\\u0000\"}".as_bytes().to_vec()), "application/json", 400),
        (Method::GET, "/api/v1/users?q=%27%3B%20DROP%20TABLE%20users%3B--".into(), t, None, "", 200),
        (Method::GET, "/api/v1/users?q=%25%5F%5C".into(), t, None, "", 200),
        (Method::GET, "/api/v1/users?q=M%C3%BCller%20%E2%80%AE".into(), t, None, "", 200),
        (Method::GET, "/api/v1/users?all=maybe".into(), t, None, "", 400),
        (Method::GET, "/api/v1/users?limit=-1".into(), t, None, "", 400),
        (Method::GET, "/api/v1/users/..%2F..%2Fetc%2Fpasswd".into(), t, None, "", 404),
        (Method::GET, "/api/v1/users/%00".into(), t, None, "", 404),
        (Method::GET, "/api/v1/users/Robert'); DROP TABLE users;--".replace(' ', "%20"), t, None, "", 404),
        (Method::GET, "/api/v1/users/../../etc/passwd".into(), t, None, "", 404),
        (Method::GET, "/api/v1/credentials/zz".into(), t, None, "", 400),
        (Method::GET, "/api/v1/credentials/0".into(), t, None, "", 400),
        (Method::GET, format!("/api/v1/credentials/{}", "ab".repeat(40)), t, None, "", 400),
        (Method::GET, "/api/v1/credentials/04A1B2C3?technology=nfc".into(), t, None, "", 400),
        (Method::POST, "/api/v1/credentials".into(), t, Some(format!(r#"{{"uid": "04:a1", "user_id": "{id}"}}"#).into_bytes()), "application/json", 400),
        (Method::POST, "/api/v1/credentials".into(), t, Some(br#"{"uid": "04A1B2C3", "user_id": "nobody"}"#.to_vec()), "application/json", 404),
        (Method::POST, "/api/v1/credentials".into(), t, Some(br#"{"uid": "04A1B2C3", "user_id": "ZZZZZZZZZZZZ"}"#.to_vec()), "application/json", 404),
        (Method::POST, "/api/v1/credentials".into(), t, Some(format!(r#"{{"uid": "04A1B2C3", "user_id": "{id}", "technology": "x"}}"#).into_bytes()), "application/json", 400),
        (Method::PATCH, format!("/api/v1/users/{id}"), t, Some(br#"{"valid_to": 17}"#.to_vec()), "application/json", 400),
        (Method::PATCH, format!("/api/v1/users/{id}"), t, Some(br#"{"given_name": null}"#.to_vec()), "application/json", 400),
        (Method::PATCH, format!("/api/v1/users/{id}"), t, Some(br#"{"directory_id": "evil"}"#.to_vec()), "application/json", 400),
        (Method::POST, format!("/api/v1/users/{id}/expunge"), t, Some(br#"{}"#.to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/credentials/04A1B2C3/revoke".into(), t, Some(br#"{"reason": "misplaced"}"#.to_vec()), "application/json", 400),
        (Method::GET, "/api/v1/audit?since=abc".into(), t, None, "", 400),
        // A malformed user ID in a filter is a bad query, not a missing resource.
        (Method::GET, "/api/v1/audit?target=%27".into(), t, None, "", 400),
        (Method::GET, "/api/v1/audit?target=".into(), t, None, "", 400),
        (Method::GET, "/api/v1/purge-jobs/1?after=nobody".into(), t, None, "", 400),
        // A body is a JSON object: serde alone would read `[1]` as `{"overlap_seconds": 1}`.
        (Method::POST, format!("/api/v1/controllers/{}/rotate-token", api.door.0), t, Some(b"[1]".to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/credentials/04A1B2C3/revoke".into(), t, Some(br#"["lost"]"#.to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/users".into(), t, Some(b" \"x\"".to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/access/decide".into(), Some(api.door.1.as_str()), Some(br#"{"uid": "nothex", "door": "main"}"#.to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/access/decide".into(), Some(api.door.1.as_str()), Some(br#"{"uid": 4, "door": "main"}"#.to_vec()), "application/json", 400),
        // An unknown cursor is not an error: the answer is a snapshot.
        (Method::GET, format!("/api/v1/controllers/{}/credentials?since=x", api.door.0), Some(api.door.1.as_str()), None, "", 200),
        (Method::GET, format!("/api/v1/controllers/{}/credentials?since=1&since=2", api.door.0), Some(api.door.1.as_str()), None, "", 400),
        (Method::POST, "/api/v1/access/events".into(), Some(api.door.1.as_str()), Some(br#"{"events": 5}"#.to_vec()), "application/json", 400),
        (Method::POST, "/api/v1/access/events".into(), Some(api.door.1.as_str()), Some(br#"{"sent_at": "x", "events": []}"#.to_vec()), "application/json", 400),
        // A bad event alone is refused in its result, not the request (tests/it/uploads.rs).
        (Method::POST, "/api/v1/access/events".into(), Some(api.door.1.as_str()), Some(br#"{"events": [{"event_id": "1", "at": "x", "door": "main", "uid": "04A1B2C3", "decision": "grant"}]}"#.to_vec()), "application/json", 200),
        (Method::POST, "/api/v1/login".into(), None, Some(br#"{"name": "x"}"#.to_vec()), "application/json", 400),
    ];
    let n = cases.len();
    for (method, path, token, body, ct, want) in cases {
        let (s, v) = api.call_raw(method.clone(), &path, token, body, ct).await;
        assert!(!s.is_server_error(), "{method} {path}: {s} {v}");
        assert_eq!(s.as_u16(), want, "{method} {path}: {v}");
    }
    assert!(n >= 40);
    // Nothing was half-done: only the one person exists.
    let (_, list) = api.call(Method::GET, "/api/v1/users?all=true", t, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_events_are_stored_once() {
    let api = Api::new();
    let batch = json!({"events": [
        {"event_id": "a-1", "at": "2025-12-31T08:00:00Z", "door": "main", "uid": "04A1B2C3", "decision": "deny", "reason": "unknown_credential"},
        {"event_id": "a-2", "at": "2025-12-31T08:00:05Z", "door": "main", "uid": "04A1B2C3", "decision": "grant"},
    ]});
    let (s, v) = api.call(Method::POST, "/api/v1/access/events", Some(&api.door.1), Some(batch.clone())).await;
    assert_eq!((s, v["accepted"].as_u64(), v["duplicates"].as_u64()), (StatusCode::OK, Some(2), Some(0)));
    let (_, v) = api.call(Method::POST, "/api/v1/access/events", Some(&api.door.1), Some(batch)).await;
    assert_eq!((v["accepted"].as_u64(), v["duplicates"].as_u64()), (Some(0), Some(2)));
    // Another controller may not upload for a door it does not control:
    // the event is refused (quarantined), not stored.
    let side = json!({"events": [{"event_id": "s-1", "at": "2025-12-31T08:00:00Z", "door": "main", "uid": "04A1B2C3", "decision": "grant"}]});
    let (s, v) = api.call(Method::POST, "/api/v1/access/events", Some(&api.other_door.1), Some(side)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["results"][0],
        json!({"status": "rejected", "code": "forbidden", "field": "door", "quarantined": true})
    );
    assert_eq!(api.decide("04A1B2C3").await["reason"], "unknown_credential");
    // Two uploads (the repeat stored nothing) and one online decision.
    assert_eq!(idms::store::events::count(api.fx.dir.path()).unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_and_can_be_revoked() {
    let api = Api::new();
    let actor = crate::common::staff();
    let (_, short) = api.store.create_token(&actor, "short-lived", Role::Viewer, Some(60)).unwrap();
    let get = |t: String| {
        let api = &api;
        async move { api.call(Method::GET, "/api/v1/stats", Some(&t), None).await.0 }
    };
    assert_eq!(get(short.clone()).await, StatusCode::OK);
    api.fx.clock.advance(61);
    assert_eq!(get(short).await, StatusCode::UNAUTHORIZED, "expired, even while cached");
    let (_, t) = api.store.create_token(&actor, "revoked-by-cli", Role::Viewer, None).unwrap();
    assert_eq!(get(t.clone()).await, StatusCode::OK);
    api.store.revoke_token(&actor, &t).unwrap();
    // The cache keeps a valid answer for at most two seconds.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(get(t).await, StatusCode::UNAUTHORIZED, "revoked");
    let (_, t) = api.store.create_token(&actor, "logs-out", Role::Viewer, None).unwrap();
    assert_eq!(api.call(Method::POST, "/api/v1/logout", Some(&t), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(get(t).await, StatusCode::UNAUTHORIZED, "logged out at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_operators_search_within_their_unit_and_cannot_read_the_audit_trail() {
    let api = Api::new();
    let admin = api.token(Role::Admin).to_string();
    for i in 0..60 {
        let unit = if i < 55 { "other" } else { "mine" };
        let body = json!({"given_name": "S", "family_name": format!("Same{i:02}"), "org_unit": unit});
        assert_eq!(api.call(Method::POST, "/api/v1/users", Some(&admin), Some(body)).await.0, StatusCode::CREATED);
    }
    let actor = crate::common::staff();
    api.store.add_operator(&actor, "unit-mgr", Role::Manager, Some("mine"), Some("correct horse battery")).unwrap();
    let (_, v) = api
        .call(
            Method::POST,
            "/api/v1/login",
            None,
            Some(json!({"name": "unit-mgr", "password": "correct horse battery"})),
        )
        .await;
    let t = v["token"].as_str().unwrap().to_string();
    // The unit filter applies before the limit: all five are found.
    let (_, list) = api.call(Method::GET, "/api/v1/users?q=Same&limit=10", Some(&t), None).await;
    assert_eq!(list.as_array().unwrap().len(), 5, "{list}");
    assert_eq!(api.call(Method::GET, "/api/v1/audit", Some(&t), None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(api.call(Method::GET, "/api/v1/audit/verify", Some(&t), None).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_dates_and_holds_need_a_manager_and_errors_never_echo_values() {
    let api = Api::new();
    let body = json!({"given_name": "P", "family_name": "Purge", "purge_date": "2030-01-01"});
    assert_eq!(post(&api, "/api/v1/users", Role::Enroller, Some(body.clone())).await.0, StatusCode::FORBIDDEN);
    assert_eq!(post(&api, "/api/v1/users", Role::Manager, Some(body)).await.0, StatusCode::CREATED);
    let (s, v) =
        post(&api, "/api/v1/users", Role::Admin, Some(json!({"given_name": "Jane Secretname", "family_name": 7})))
            .await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")));
    let detail = v["detail"].as_str().unwrap();
    assert!(detail.contains("family_name") && !detail.contains("Secretname") && !detail.contains('7'), "{detail}");
    let (_, v) = post(
        &api,
        "/api/v1/users",
        Role::Admin,
        Some(json!({"given_name": "Jane Secretname", "family_name": "X", "legal_hold": "Secretname"})),
    )
    .await;
    let detail = v["detail"].as_str().unwrap();
    assert!(detail.contains("legal_hold") && !detail.contains("Secretname"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_is_not_answered_before_its_event_is_committed() {
    let api = Arc::new(Api::new());
    assert_eq!(api.store.synchronous().unwrap(), 2, "the main database is FULL too");
    assert_eq!(api.decide("04000001").await["decision"], "deny");
    // Another process holds the events database's write lock: no commit can happen.
    let blocker = rusqlite::Connection::open(api.fx.dir.path().join("events.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let pending = tokio::spawn({
        let api = api.clone();
        async move { api.decide("04000002").await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(!pending.is_finished(), "answered before the event was durable");
    blocker.execute_batch("COMMIT").unwrap();
    let v = tokio::time::timeout(std::time::Duration::from_secs(10), pending).await.unwrap().unwrap();
    assert_eq!(v["reason"], "unknown_credential");
    let logged: Vec<_> =
        idms::store::events::read_all(api.fx.dir.path()).unwrap().iter().map(|e| e.uid.to_string()).collect();
    assert!(logged.contains(&"04000002".to_string()));
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let p = api.fx.dir.path().join(format!("events.db{suffix}"));
        if let Ok(m) = std::fs::metadata(&p) {
            assert_eq!(m.permissions().mode() & 0o777, 0o600, "{}", p.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_provisions_a_controller_and_an_operator_over_http() {
    let api = Api::new();
    let (s, c) = post(
        &api,
        "/api/v1/controllers",
        Role::Admin,
        Some(json!({"name": "lobby", "doors": ["lobby-in", "lobby-out"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let token = c["token"].as_str().unwrap();
    let (s, v) = api
        .call(Method::POST, "/api/v1/access/decide", Some(token), Some(json!({"uid": "04A1B2C3", "door": "lobby-out"})))
        .await;
    assert_eq!((s, v["reason"].as_str()), (StatusCode::OK, Some("unknown_credential")));
    let (s, _) =
        api.call(Method::GET, &format!("/api/v1/controllers/{}/credentials", c["id"]), Some(token), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        code(&post(&api, "/api/v1/controllers", Role::Admin, Some(json!({"name": "lobby", "doors": ["x"]}))).await).0,
        400
    );
    assert_eq!(
        code(&post(&api, "/api/v1/controllers", Role::Admin, Some(json!({"name": "empty", "doors": []}))).await).0,
        400
    );
    let body = json!({"name": "newbie", "role": "enroller", "password": "long enough secret"});
    let (s, op) = post(&api, "/api/v1/operators", Role::Admin, Some(body)).await;
    assert_eq!((s, op["role"].as_str()), (StatusCode::CREATED, Some("enroller")));
    assert!(op.get("password").is_none() && op.get("password_hash").is_none());
    let (s, v) = api
        .call(Method::POST, "/api/v1/login", None, Some(json!({"name": "newbie", "password": "long enough secret"})))
        .await;
    assert_eq!((s, v["role"].as_str()), (StatusCode::OK, Some("enroller")));
    let short = json!({"name": "weak", "role": "viewer", "password": "short"});
    assert_eq!(code(&post(&api, "/api/v1/operators", Role::Admin, Some(short)).await), (400, "invalid_input"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_metrics_token_once_one_is_set() {
    let api = Api::new();
    assert_eq!(api.call(Method::GET, "/metrics", None, None).await.0, StatusCode::OK, "no token set: open");
    assert!(api.state.metrics.require_token("scrape-s3cret"));
    for token in [None, Some("scrape-s3cre"), Some("scrape-s3cret-and-more"), Some(api.token(Role::Admin))] {
        let r = api.call(Method::GET, "/metrics", token, None).await;
        assert_eq!(code(&r), (401, "unauthorized"), "{token:?}");
    }
    let (s, body) = api.call(Method::GET, "/metrics", Some("scrape-s3cret"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        body.as_str().unwrap().contains("idms_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"401\"} 4")
    );
    assert!(!api.state.metrics.require_token("another"), "set once, at start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_decisions_latency_queue_and_routes() {
    let api = Api::new();
    api.decide("04000001").await;
    api.decide("04000002").await;
    let (s, body) = api.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let text = body.as_str().unwrap();
    for line in [
        "idms_decisions_total{result=\"deny\",reason=\"unknown_credential\"} 2",
        "idms_decisions_total{result=\"grant\",reason=\"\"} 0",
        "idms_decide_duration_seconds_count 2",
        "idms_event_queue_depth 0",
        "idms_http_requests_total{method=\"POST\",route=\"/api/v1/access/decide\",status=\"200\"} 2",
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
    }
    // The histogram is cumulative and ends in +Inf.
    assert!(text.contains("idms_decide_duration_seconds_bucket{le=\"+Inf\"} 2"));
}
