//! Issue 6/12, must-be-true 2 (taking access away) and the first rule of 3
//! (a scoped operator's org unit is never blank): through the CLI (the real
//! binary), the API in-process, the store under concurrency, and a real
//! `idms serve` that must refuse what the CLI disabled without a restart.

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use idms::store::auth::TokenFilter;
use idms::store::{AuditQuery, Role, Store};
use serde_json::{Value, json};

use crate::api::Api;
use crate::common::{Fixture, staff};
use crate::server::{Server, agent};

const DAY: i64 = 86_400;

/// Runs the CLI with `stdin` piped in and no password or token in the environment.
fn idms_with(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = crate::common::idms_cmd(dir, args)
        .arg("--json")
        .env_remove("IDMS_PASSWORD")
        .env_remove("IDMS_TOKEN")
        .env_remove("IDMS_ACTOR")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> Value {
    ok_with(dir, args, &[], "")
}

fn ok_with(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Value {
    let out = idms_with(dir, args, env, stdin);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// A refused command: exit 1 and the JSON problem on stderr.
fn refused_with(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Value {
    let out = idms_with(dir, args, env, stdin);
    assert_eq!(out.status.code(), Some(1), "{args:?} should be refused: {}", String::from_utf8_lossy(&out.stdout));
    serde_json::from_slice(&out.stderr).unwrap()
}

fn refused(dir: &Path, args: &[&str]) -> String {
    refused_with(dir, args, &[], "")["code"].as_str().unwrap().to_string()
}

fn init() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    ok(d.path(), &["init"]);
    d
}

fn audit(dir: &Path) -> Vec<Value> {
    ok(dir, &["audit", "list", "--limit", "1000"]).as_array().unwrap().clone()
}

/// The audit outcomes recorded for `action`, in order.
fn outcomes(entries: &[Value], action: &str) -> Vec<String> {
    entries.iter().filter(|e| e["action"] == action).map(|e| e["outcome"].as_str().unwrap().to_string()).collect()
}

fn open(dir: &Path) -> Store {
    Store::open(&dir.join(idms::store::DB_FILE), Arc::new(idms::clock::SystemClock)).unwrap()
}

fn secs(v: &Value) -> i64 {
    idms::domain::Timestamp::parse("t", v.as_str().unwrap()).unwrap().0
}

#[test]
fn operators_are_listed_disabled_enabled_and_given_a_password_from_the_cli() {
    let d = init();
    let dir = d.path();
    ok(dir, &["token", "create", "--name", "root", "--role", "admin"]);
    // The password comes from standard input (not a terminal here) or IDMS_PASSWORD, never a flag.
    let bob = ok_with(dir, &["operator", "add", "--name", "bob", "--role", "enroller"], &[], "first password 1\n");
    let bob_id = bob["id"].as_i64().unwrap();
    ok_with(
        dir,
        &["operator", "add", "--name", "eve", "--role", "viewer"],
        &[("IDMS_PASSWORD", "eve password 12")],
        "",
    );
    let out = idms_with(dir, &["operator", "add", "--name", "x", "--role", "viewer", "--password", "p"], &[], "");
    assert_eq!(out.status.code(), Some(2), "no --password flag");

    let list = ok(dir, &["operator", "list"]);
    let names: Vec<_> = list.as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["root", "bob", "eve"]);
    assert_eq!((list[1]["password"].as_bool(), list[1]["disabled_at"].is_null()), (Some(true), true));
    assert_eq!(list[0]["password"], false);

    let store = open(dir);
    let (_, session) = store.login("bob", "first password 1", 3600).unwrap().unwrap();
    let holder = |t: &str| store.principal(t, store.now()).unwrap().map(|p| p.0);
    assert!(holder(&session).is_some());

    let v = ok(dir, &["operator", "disable", "bob"]);
    assert_eq!((v["id"].as_i64(), v["disabled_at"].is_string()), (Some(bob_id), true));
    assert!(holder(&session).is_none(), "a disabled operator's session is refused");
    let refused = store.login("bob", "first password 1", 3600).unwrap().unwrap_err();
    assert_eq!(refused.actor.id, "login:unknown-operator", "a disabled operator is as unknown");
    // Disabling revokes nothing: the session is refused, not revoked.
    let tokens = store.tokens(&TokenFilter { operator: Some("bob".into()), limit: 10, ..TokenFilter::default() });
    let tokens: Vec<_> = tokens.unwrap().into_iter().map(idms::api::dto::TokenView::from).collect();
    assert_eq!(serde_json::to_value(tokens).unwrap()[0]["state"], "owner_disabled");
    let v = ok(dir, &["operator", "enable", "bob"]);
    assert!(v["disabled_at"].is_null());
    assert!(holder(&session).is_some(), "enable restores an unrevoked, unexpired session");

    // A new password ends the password sessions; the new one logs in, the old one does not.
    let v = ok_with(dir, &["operator", "set-password", "bob"], &[], "second password 2\n");
    assert_eq!(v["sessions_ended"], 1);
    assert!(holder(&session).is_none(), "sessions end with a password change");
    let refused = store.login("bob", "first password 1", 3600).unwrap().unwrap_err();
    assert_eq!(refused.actor.id, format!("operator:{bob_id}"));
    let (_, session) = store.login("bob", "second password 2", 3600).unwrap().unwrap();
    // Disable, then enable: a revoked token never comes back.
    ok(dir, &["token", "revoke", "--operator", "bob"]);
    ok(dir, &["operator", "disable", "bob"]);
    ok(dir, &["operator", "enable", "bob"]);
    assert!(holder(&session).is_none(), "enable does not resurrect a revoked token");

    let e = refused_with(dir, &["operator", "set-password", "bob"], &[], "short\n");
    assert_eq!(e["code"], "invalid_input");
    let e = refused_with(dir, &["operator", "disable", "nobody-such"], &[], "");
    assert_eq!(e["code"], "not_found");
    assert!(!e["message"].as_str().unwrap().contains("nobody-such"), "a login name is not echoed: {e}");

    let log = audit(dir);
    assert_eq!(outcomes(&log, "operator.disable"), ["ok", "ok", "not_found"]);
    assert_eq!(outcomes(&log, "operator.enable"), ["ok", "ok"]);
    assert_eq!(outcomes(&log, "operator.password"), ["ok", "invalid_input"]);
    let disable = log.iter().find(|e| e["action"] == "operator.disable").unwrap();
    assert_eq!(disable["detail"], format!("operator={bob_id} tokens=1"));
    assert!(log.iter().all(|e| !e["detail"].as_str().unwrap().contains("bob")), "IDs, not names");
}

#[test]
fn the_last_admin_cannot_be_disabled_but_another_admin_can_disable_themselves() {
    let d = init();
    let dir = d.path();
    ok(dir, &["token", "create", "--name", "root", "--role", "admin"]);
    ok_with(
        dir,
        &["operator", "add", "--name", "unit-admin", "--role", "admin", "--org-unit", "north"],
        &[],
        "a long password\n",
    );
    // A scoped admin cannot manage operators, so does not count.
    let e = refused_with(dir, &["operator", "disable", "root"], &[], "");
    assert_eq!(e["code"], "last_admin", "{e}");
    assert!(ok(dir, &["operator", "list"])[0]["disabled_at"].is_null());
    ok_with(dir, &["operator", "add", "--name", "second", "--role", "admin"], &[], "a long password\n");
    ok(dir, &["operator", "disable", "root"]);
    assert_eq!(refused(dir, &["operator", "disable", "second"]), "last_admin");
    ok(dir, &["operator", "disable", "unit-admin"]);
    assert_eq!(outcomes(&audit(dir), "operator.disable"), ["last_admin", "ok", "last_admin", "ok"]);
}

#[test]
fn two_concurrent_disables_of_the_last_two_admins_cannot_both_pass() {
    let fx = Fixture::new();
    fx.store.create_token(&staff(), "admin-a", Role::Admin, None).unwrap();
    fx.store.create_token(&staff(), "admin-b", Role::Admin, None).unwrap();
    // Two stores on the same file: two writers, serialised only by SQLite.
    let other = Arc::new(Store::open(&fx.db_path(), fx.clock.clone()).unwrap());
    let mine = Arc::new(Store::open(&fx.db_path(), fx.clock.clone()).unwrap());
    for round in 0..20 {
        let barrier = Arc::new(Barrier::new(2));
        let run = |s: Arc<Store>, name: &'static str| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                s.set_operator_enabled(&staff(), name, false).map(|_| ()).map_err(|e| e.code())
            })
        };
        let a = run(mine.clone(), "admin-a");
        let b = run(other.clone(), "admin-b");
        let results = [a.join().unwrap(), b.join().unwrap()];
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "round {round}: {results:?}");
        assert!(results.contains(&Err("last_admin")), "round {round}: {results:?}");
        let enabled = fx.store.operators().unwrap().iter().filter(|o| o.disabled_at.is_none()).count();
        assert_eq!(enabled, 1, "round {round}");
        fx.store.set_operator_enabled(&staff(), "admin-a", true).unwrap();
        fx.store.set_operator_enabled(&staff(), "admin-b", true).unwrap();
    }
}

#[test]
fn tokens_from_token_create_expire_after_90_days_unless_told_otherwise() {
    let d = init();
    let dir = d.path();
    let expiry = |v: &Value| {
        let t = ok(dir, &["token", "list", "--operator", v["name"].as_str().unwrap()]);
        let t = &t[0];
        assert_eq!(t["id"], v["id"]);
        (!t["expires_at"].is_null()).then(|| (secs(&t["expires_at"]) - secs(&t["created_at"])) / DAY)
    };
    let mut v = ok(dir, &["token", "create", "--name", "a", "--role", "viewer"]);
    v["name"] = "a".into();
    assert_eq!(expiry(&v), Some(90));
    assert!((secs(&v["expires_at"]) - (open(dir).now().0 + 90 * DAY)).abs() < 60, "{v}");
    let mut v = ok(dir, &["token", "create", "--name", "b", "--role", "viewer", "--days", "7"]);
    v["name"] = "b".into();
    assert_eq!(expiry(&v), Some(7));
    let mut v = ok(dir, &["token", "create", "--name", "c", "--role", "viewer", "--no-expiry"]);
    v["name"] = "c".into();
    assert!(v["expires_at"].is_null());
    assert_eq!(expiry(&v), None);
    assert_eq!(refused(dir, &["token", "create", "--name", "e", "--role", "viewer", "--days", "0"]), "invalid_input");
    let out =
        idms_with(dir, &["token", "create", "--name", "f", "--role", "viewer", "--days", "3", "--no-expiry"], &[], "");
    assert_eq!(out.status.code(), Some(2), "--days conflicts with --no-expiry");
    // A disabled operator gets no new token.
    ok(dir, &["operator", "disable", "a"]);
    assert_eq!(refused(dir, &["token", "create", "--name", "a", "--role", "viewer"]), "disabled");
    // Login tokens keep their 12-hour lifetime.
    ok_with(dir, &["operator", "add", "--name", "pw", "--role", "viewer"], &[], "a long password\n");
    open(dir).login("pw", "a long password", 12 * 3600).unwrap().unwrap();
    let t = &ok(dir, &["token", "list", "--operator", "pw"])[0];
    assert_eq!((t["label"].as_str(), secs(&t["expires_at"]) - secs(&t["created_at"])), (Some("login"), 12 * 3600));
    assert_eq!(outcomes(&audit(dir), "token.create"), ["ok", "ok", "ok", "invalid_input", "disabled"]);
}

#[test]
fn tokens_are_listed_without_secrets_and_revoked_by_id_or_owner_from_the_cli() {
    let d = init();
    let dir = d.path();
    let a = ok(dir, &["token", "create", "--name", "alice", "--role", "viewer"]);
    let a2 = ok(dir, &["token", "create", "--name", "alice", "--role", "viewer"]);
    let c = ok(dir, &["controller", "add", "--name", "ctl", "--door", "main"]);
    let cid = c["id"].as_i64().unwrap().to_string();
    let out = idms_with(dir, &["token", "list"], &[], "");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    for secret in [&a["token"], &a2["token"], &c["token"]] {
        assert!(!text.contains(secret.as_str().unwrap()), "a secret in the list");
    }
    let keys: std::collections::BTreeSet<_> = list[0].as_object().unwrap().keys().map(String::as_str).collect();
    let want =
        ["controller_id", "created_at", "expires_at", "id", "label", "operator_id", "owner", "revoked_at", "state"];
    assert_eq!(keys, want.into_iter().collect());
    assert_eq!((list[2]["controller_id"].as_i64(), list[2]["owner"].as_str()), (c["id"].as_i64(), Some("ctl")));

    let store = open(dir);
    let works = |t: &Value| store.principal(t.as_str().unwrap(), store.now()).unwrap().is_some();
    let id = a["id"].as_i64().unwrap().to_string();
    assert_eq!(ok(dir, &["token", "revoke", "--id", &id])["revoked"], 1);
    assert!(!works(&a["token"]) && works(&a2["token"]));
    assert_eq!(refused(dir, &["token", "revoke", "--id", &id]), "not_found");
    assert_eq!(ok(dir, &["token", "revoke", "--controller", &cid])["revoked"], 1);
    assert!(!works(&c["token"]));
    assert_eq!(ok(dir, &["token", "revoke", "--operator", "alice"])["revoked"], 1);
    assert!(!works(&a2["token"]));
    // Revoking by secret still works (IDMS_TOKEN or the argument).
    let b = ok(dir, &["token", "create", "--name", "bea", "--role", "viewer"]);
    ok_with(dir, &["token", "revoke"], &[("IDMS_TOKEN", b["token"].as_str().unwrap())], "");
    assert!(!works(&b["token"]));
    assert_eq!(refused(dir, &["token", "revoke"]), "invalid_input");
    assert!(ok(dir, &["token", "list", "--active"]).as_array().unwrap().is_empty());
    let states: Vec<_> = ok(dir, &["token", "list"]).as_array().unwrap().iter().map(|t| t["state"].clone()).collect();
    assert!(states.iter().all(|s| s == "revoked"), "{states:?}");
    let log = audit(dir);
    assert_eq!(outcomes(&log, "token.revoke"), ["ok", "not_found", "ok", "ok", "ok", "invalid_input"]);
    assert!(log.iter().any(|e| e["action"] == "token.revoke" && e["detail"] == format!("controller={cid} count=1")));
}

#[test]
fn a_blank_org_unit_is_refused_by_the_cli_and_a_padded_one_trimmed() {
    let d = init();
    let dir = d.path();
    for blank in [" ", "", "\t  "] {
        let e = refused_with(
            dir,
            &["operator", "add", "--name", "blank", "--role", "eraser", "--org-unit", blank],
            &[],
            "a long password\n",
        );
        assert_eq!(e["code"], "invalid_input");
        assert!(e["message"].as_str().unwrap().starts_with("org_unit:"), "{e}");
    }
    assert!(ok(dir, &["operator", "list"]).as_array().unwrap().is_empty(), "nobody was created");
    assert_eq!(outcomes(&audit(dir), "operator.add"), ["invalid_input"; 3]);
    let v = ok_with(
        dir,
        &["operator", "add", "--name", "n", "--role", "eraser", "--org-unit", "  north "],
        &[],
        "a long password\n",
    );
    assert_eq!(v["org_unit"], "north");
}

/// `POST /api/v1/operators` refuses a blank unit and trims a padded one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blank_org_unit_is_refused_over_http_and_a_padded_one_trimmed() {
    let api = Api::new();
    let admin = api.token(Role::Admin).to_string();
    for blank in [" ", "", "\u{3000}\t"] {
        let body = json!({"name": "blank", "role": "eraser", "org_unit": blank, "password": "a long password"});
        let (s, v) = api.call(Method::POST, "/api/v1/operators", Some(&admin), Some(body)).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")), "{blank:?}");
        assert!(v["detail"].as_str().unwrap().starts_with("org_unit:"), "{v}");
    }
    let body = json!({"name": "n", "role": "eraser", "org_unit": " north  ", "password": "a long password"});
    let (s, v) = api.call(Method::POST, "/api/v1/operators", Some(&admin), Some(body)).await;
    assert_eq!((s, v["org_unit"].as_str()), (StatusCode::CREATED, Some("north")));
    let log = api.store.audit_entries(&AuditQuery { limit: Some(1000), ..Default::default() }).unwrap();
    let adds: Vec<_> = log.iter().filter(|e| e.action == "operator.add").map(|e| e.outcome.as_str()).collect();
    assert_eq!(adds, ["invalid_input", "invalid_input", "invalid_input", "ok"]);
}

pub async fn get_status(api: &Api, token: &str) -> StatusCode {
    api.call(Method::GET, "/api/v1/stats", Some(token), None).await.0
}

pub async fn decide_status(api: &Api, token: &str) -> StatusCode {
    let body = json!({"uid": "04A1B2C3", "door": "main"});
    api.call(Method::POST, "/api/v1/access/decide", Some(token), Some(body)).await.0
}

/// Changes made through the API are in force at once, though the token was cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_takes_access_away_over_http_at_once() {
    let api = Api::new();
    let admin = api.token(Role::Admin).to_string();
    let post = |path: String, body: Option<Value>| {
        let (api, admin) = (&api, admin.clone());
        async move { api.call(Method::POST, &path, Some(&admin), body).await }
    };
    let (_, viewer) = api.store.create_token(&staff(), "watcher", Role::Viewer, None).unwrap();
    assert_eq!(get_status(&api, &viewer).await, StatusCode::OK);

    // Operators: list, disable (refused at once), enable (back), password.
    let (s, list) = api.call(Method::GET, "/api/v1/operators", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(list.as_array().unwrap().iter().any(|o| o["name"] == "watcher" && o["disabled_at"].is_null()));
    let (s, v) = post("/api/v1/operators/watcher/disable".into(), None).await;
    assert_eq!((s, v["disabled_at"].is_string()), (StatusCode::OK, true), "{v}");
    assert_eq!(get_status(&api, &viewer).await, StatusCode::UNAUTHORIZED, "refused at once");
    let (s, v) = post("/api/v1/operators/watcher/enable".into(), None).await;
    assert_eq!((s, v["disabled_at"].is_null()), (StatusCode::OK, true));
    assert_eq!(get_status(&api, &viewer).await, StatusCode::OK, "enable restores the unrevoked token");
    let (s, v) = api
        .call(
            Method::PUT,
            "/api/v1/operators/watcher/password",
            Some(&admin),
            Some(json!({"password": "a long password"})),
        )
        .await;
    assert_eq!((s, v["sessions_ended"].as_u64()), (StatusCode::OK, Some(0)), "{v}");
    let (s, v) = api
        .call(Method::POST, "/api/v1/login", None, Some(json!({"name": "watcher", "password": "a long password"})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let session = v["token"].as_str().unwrap().to_string();
    assert_eq!(get_status(&api, &session).await, StatusCode::OK);
    let (s, v) = post("/api/v1/operators/watcher/tokens/revoke".into(), None).await;
    assert_eq!((s, v["revoked"].as_u64()), (StatusCode::OK, Some(2)));
    assert_eq!(get_status(&api, &session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(get_status(&api, &viewer).await, StatusCode::UNAUTHORIZED);

    // Tokens: list (no secrets), revoke one by ID.
    let (_, other) = api.store.create_token(&staff(), "other", Role::Viewer, None).unwrap();
    assert_eq!(get_status(&api, &other).await, StatusCode::OK);
    let (s, list) = api.call(Method::GET, "/api/v1/tokens?operator=other&active=true", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!list.to_string().contains(&other) && !list.to_string().contains("hash"));
    let id = list[0]["id"].as_i64().unwrap();
    let (s, v) = post(format!("/api/v1/tokens/{id}/revoke"), None).await;
    assert_eq!((s, v["revoked"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(get_status(&api, &other).await, StatusCode::UNAUTHORIZED);
    let (s, v) = post(format!("/api/v1/tokens/{id}/revoke"), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    // Controllers: list, disable, enable, rotate with an overlap, rotate now.
    let door = api.door.1.clone();
    let ctl = api.door.0;
    assert_eq!(decide_status(&api, &door).await, StatusCode::OK);
    let (s, list) = api.call(Method::GET, "/api/v1/controllers", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list[0]["doors"], json!(["main"]));
    let (s, _) = post(format!("/api/v1/controllers/{ctl}/disable"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(decide_status(&api, &door).await, StatusCode::UNAUTHORIZED, "refused at once");
    post(format!("/api/v1/controllers/{ctl}/enable"), None).await;
    assert_eq!(decide_status(&api, &door).await, StatusCode::OK);
    let (s, r) = post(format!("/api/v1/controllers/{ctl}/rotate-token"), Some(json!({}))).await;
    assert_eq!((s, r["old_tokens"].as_u64()), (StatusCode::OK, Some(1)), "{r}");
    let rotated = r["token"].as_str().unwrap().to_string();
    let now = api.store.now().0;
    assert_eq!(secs(&r["old_valid_until"]), now + DAY, "24 hours by default");
    assert_eq!(decide_status(&api, &door).await, StatusCode::OK, "the old token works during the overlap");
    assert_eq!(decide_status(&api, &rotated).await, StatusCode::OK);
    api.fx.clock.advance(DAY + 1);
    assert_eq!(decide_status(&api, &door).await, StatusCode::UNAUTHORIZED, "and not after");
    assert_eq!(decide_status(&api, &rotated).await, StatusCode::OK);
    let (s, r) = post(format!("/api/v1/controllers/{ctl}/rotate-token"), Some(json!({"now": true}))).await;
    assert_eq!((s, r["old_valid_until"].is_null()), (StatusCode::OK, true));
    assert_eq!(decide_status(&api, &rotated).await, StatusCode::UNAUTHORIZED, "revoked at once");
    let newest = r["token"].as_str().unwrap().to_string();
    assert_eq!(decide_status(&api, &newest).await, StatusCode::OK);
    let (s, r) = post(format!("/api/v1/controllers/{ctl}/rotate-token"), Some(json!({"overlap_seconds": 60}))).await;
    assert_eq!(secs(&r["old_valid_until"]), api.store.now().0 + 60, "{s} {r}");
    for bad in [
        json!({"now": true, "overlap_seconds": 5}),
        json!({"overlap_seconds": 31 * DAY}),
        json!({"overlap_seconds": -1}),
    ] {
        let (s, v) = post(format!("/api/v1/controllers/{ctl}/rotate-token"), Some(bad)).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")));
    }
    let (s, v) = post(format!("/api/v1/controllers/{ctl}/tokens/revoke"), None).await;
    assert_eq!((s, v["revoked"].as_u64()), (StatusCode::OK, Some(2)));
    let (s, v) = post("/api/v1/controllers/999/disable".into(), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    // The last admin, over HTTP: disabling oneself is refused while last, fine otherwise.
    let (s, v) = post("/api/v1/operators/op-admin/disable".into(), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("last_admin")));
    assert_eq!(get_status(&api, &admin).await, StatusCode::OK);
    let body = json!({"name": "admin-2", "role": "admin", "password": "a long password"});
    assert_eq!(post("/api/v1/operators".into(), Some(body)).await.0, StatusCode::CREATED);
    assert_eq!(post("/api/v1/operators/op-admin/disable".into(), None).await.0, StatusCode::OK);
    assert_eq!(get_status(&api, &admin).await, StatusCode::UNAUTHORIZED);

    let log = api.store.audit_entries(&AuditQuery { limit: Some(1000), ..Default::default() }).unwrap();
    let actions: Vec<_> = log.iter().map(|e| (e.action.as_str(), e.outcome.as_str())).collect();
    for want in [
        ("operator.disable", "ok"),
        ("operator.enable", "ok"),
        ("operator.password", "ok"),
        ("token.revoke", "ok"),
        ("token.revoke", "not_found"),
        ("controller.disable", "ok"),
        ("controller.disable", "not_found"),
        ("controller.enable", "ok"),
        ("controller.rotate_token", "ok"),
        ("controller.rotate_token", "invalid_input"),
        ("operator.disable", "last_admin"),
    ] {
        assert!(actions.contains(&want), "{want:?} audited: {actions:?}");
    }
    for e in &log {
        assert!(!e.detail.contains("watcher") && !e.detail.contains("idms_"), "{e:?}");
    }
}

/// Only an admin without an org unit manages access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_admin_cannot_take_access_away() {
    let api = Api::new();
    api.store.add_operator(&staff(), "unit-admin", Role::Admin, Some("north"), Some("a long password")).unwrap();
    let (_, v) = api
        .call(Method::POST, "/api/v1/login", None, Some(json!({"name": "unit-admin", "password": "a long password"})))
        .await;
    let t = v["token"].as_str().unwrap().to_string();
    for (method, path) in [
        (Method::GET, "/api/v1/operators".to_string()),
        (Method::POST, "/api/v1/operators/op-viewer/disable".to_string()),
        (Method::GET, "/api/v1/tokens".to_string()),
        (Method::POST, format!("/api/v1/controllers/{}/disable", api.door.0)),
    ] {
        let (s, v) = api.call(method.clone(), &path, Some(&t), None).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{method} {path}");
    }
    assert_eq!(decide_status(&api, &api.door.1).await, StatusCode::OK);
    assert_eq!(get_status(&api, api.token(Role::Viewer)).await, StatusCode::OK);
}

/// Polls `f` until it answers `want`, for at most 10 s (the README's bound
/// is 2 s; the cap is generous for a loaded machine). Never a fixed sleep.
pub(crate) fn until(what: &str, want: u16, mut f: impl FnMut() -> u16) {
    let since = Instant::now();
    loop {
        let got = f();
        if got == want {
            return;
        }
        assert!(since.elapsed() < Duration::from_secs(10), "{what}: still {got} after 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn status(agent: &ureq::Agent, base: &str, token: &str, decide: bool) -> u16 {
    let r = if decide {
        agent
            .post(&format!("{base}/api/v1/access/decide"))
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(json!({"uid": "04A1B2C3", "door": "main"}))
    } else {
        agent.get(&format!("{base}/api/v1/stats")).header("Authorization", &format!("Bearer {token}")).call()
    };
    r.unwrap().status().as_u16()
}

/// A running `idms serve` refuses, without a restart, what the CLI (another
/// process) disabled, revoked or rotated away — and takes back what it enabled.
#[test]
fn a_running_service_refuses_what_the_cli_disabled_revoked_or_rotated() {
    let d = init();
    let dir = d.path();
    let op = ok(dir, &["token", "create", "--name", "desk", "--role", "viewer"]);
    let op_token = op["token"].as_str().unwrap().to_string();
    let spare = ok(dir, &["token", "create", "--name", "spare", "--role", "viewer"]);
    let c = ok(dir, &["controller", "add", "--name", "main-ctl", "--door", "main"]);
    let (cid, door) = (c["id"].as_i64().unwrap().to_string(), c["token"].as_str().unwrap().to_string());
    let server = Server::start(dir);
    let (agent, base) = (agent(), server.base.clone());
    let op_status = || status(&agent, &base, &op_token, false);
    let door_status = |t: &str| status(&agent, &base, t, true);
    assert_eq!((op_status(), door_status(&door)), (200, 200));

    // A token the CLI makes while the service runs reaches its token set.
    let late = ok(dir, &["token", "create", "--name", "late", "--role", "viewer"]);
    let late = late["token"].as_str().unwrap().to_string();
    until("token made while running", 200, || status(&agent, &base, &late, false));

    ok(dir, &["operator", "disable", "desk"]);
    until("disabled operator", 401, op_status);
    ok(dir, &["operator", "enable", "desk"]);
    until("enabled operator", 200, op_status);

    ok(dir, &["controller", "disable", &cid]);
    until("disabled controller", 401, || door_status(&door));
    ok(dir, &["controller", "enable", &cid]);
    until("enabled controller", 200, || door_status(&door));

    let spare_token = spare["token"].as_str().unwrap();
    assert_eq!(status(&agent, &base, spare_token, false), 200);
    ok(dir, &["token", "revoke", "--id", &spare["id"].as_i64().unwrap().to_string()]);
    until("revoked token", 401, || status(&agent, &base, spare_token, false));

    let r = ok(dir, &["controller", "rotate-token", &cid, "--overlap", "2h"]);
    let rotated = r["token"].as_str().unwrap().to_string();
    // A token made by another process is taken in by the tailer, within the bound.
    until("rotated token taken in", 200, || door_status(&rotated));
    assert_eq!((door_status(&door), door_status(&rotated)), (200, 200), "both work during the overlap");
    let r = ok(dir, &["controller", "rotate-token", &cid, "--now"]);
    until("rotated away at once", 401, || door_status(&door));
    until("rotated away at once", 401, || door_status(&rotated));
    until("the new token taken in", 200, || door_status(r["token"].as_str().unwrap()));
    assert_eq!(op_status(), 200);
    server.stop();
}

#[test]
fn refused_additions_are_on_the_record_whatever_path_added_them() {
    let f = Fixture::new();
    // Straight to the store, past the rule layer: still checked, still audited.
    let e = f.store.add_operator(&staff(), "blank-unit", Role::Eraser, Some(" \t"), None).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    let e = f.store.add_controller(&staff(), "no-doors", &[]).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    let e = f.store.add_controller(&staff(), "bad door", &["main".into()]).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    let entries = f.store.audit_entries(&AuditQuery { limit: Some(100), ..AuditQuery::default() }).unwrap();
    let refused: Vec<_> = entries.iter().map(|e| (e.action.as_str(), e.outcome.as_str())).collect();
    assert_eq!(
        refused,
        [("operator.add", "invalid_input"), ("controller.add", "invalid_input"), ("controller.add", "invalid_input")]
    );
    assert!(f.store.operators().unwrap().iter().all(|o| o.name != "blank-unit"));
}
