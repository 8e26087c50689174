//! Issue 17, must-be-true 2 and 6, through SCIM over HTTP in-process:
//! `active: false` denies the person's card at a door once the service has
//! applied the change (waited on the change-log position, not a clock); a
//! staff suspension survives the directory resending `active: true`;
//! `DELETE` makes them deleted and hidden; re-creating the same
//! `externalId` while they are deleted is refused and creates nothing; a
//! purge job erases the person the directory deleted; after that the same
//! create makes a new person with a new ID and the old card stays in stock.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use idms::store::Role;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::api::Api;
use crate::common::staff;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn scim(api: &Api, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "idms.test")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/scim+json");
    let req = req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).unwrap();
    let res = api.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn user(external_id: &str) -> Value {
    json!({
        "schemas": [USER],
        "externalId": external_id,
        "userName": format!("{external_id}@example.test"),
        "active": true,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
    })
}

fn set_active(value: Value) -> Value {
    // Entra's form: capitalised op, the value a string.
    json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": value}]})
}

/// Waits until the decision index has applied every change-log entry written so far.
async fn applied(api: &Api) {
    let db = rusqlite::Connection::open(api.fx.db_path()).unwrap();
    let head: i64 = db.query_row("SELECT COALESCE(MAX(seq), 0) FROM change_log", [], |r| r.get(0)).unwrap();
    while api.store.index().applied_seq() < head {
        api.store.catch_up().unwrap();
        tokio::task::yield_now().await;
    }
}

async fn reason(api: &Api, uid: &str) -> String {
    applied(api).await;
    let v = api.decide(uid).await;
    v["reason"].as_str().map_or_else(|| "granted".to_owned(), str::to_owned)
}

async fn staff_get(api: &Api, path: &str) -> Value {
    let (s, v) = api.call(Method::GET, path, Some(api.token(Role::Admin)), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_drives_the_lifecycle_and_the_doors_follow() {
    let api = Api::new();
    let t = api.store.create_token(&staff(), "entra", Role::Provisioner, None).unwrap().1;
    let (s, v) = scim(&api, &t, Method::POST, "/scim/v2/Users", Some(user("ext-1"))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(api.enroll(&id, "04AB0001").await.0, StatusCode::CREATED);
    assert_eq!(reason(&api, "04AB0001").await, "granted");

    // active: false denies at the door once applied.
    let (s, v) = scim(&api, &t, Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(set_active(json!("False")))).await;
    assert_eq!((s, &v["active"]), (StatusCode::OK, &json!(false)), "{v}");
    assert_eq!(reason(&api, "04AB0001").await, "holder_suspended");
    // active: true lifts the directory's own suspension.
    scim(&api, &t, Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(set_active(json!("True")))).await;
    assert_eq!(reason(&api, "04AB0001").await, "granted");

    // Staff suspend them (a lost badge): the directory resending active: true does not lift it.
    let (s, _) =
        api.call(Method::POST, &format!("/api/v1/users/{id}/suspend"), Some(api.token(Role::Manager)), None).await;
    assert_eq!(s, StatusCode::OK);
    for _ in 0..2 {
        let (s, v) =
            scim(&api, &t, Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(set_active(json!(true)))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let okta = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": true}}]});
        scim(&api, &t, Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(okta)).await;
    }
    let staffs = staff_get(&api, &format!("/api/v1/users/{id}")).await;
    assert_eq!((staffs["state"].as_str(), &staffs["suspended_by"]), (Some("suspended"), &json!(["staff"])));
    assert_eq!(reason(&api, "04AB0001").await, "holder_suspended");
    let (s, _) =
        api.call(Method::POST, &format!("/api/v1/users/{id}/resume"), Some(api.token(Role::Manager)), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(reason(&api, "04AB0001").await, "granted");

    // DELETE: deleted (not expunged), hidden from SCIM and from the live search.
    let (s, _) = scim(&api, &t, Method::DELETE, &format!("/scim/v2/Users/{id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(scim(&api, &t, Method::GET, &format!("/scim/v2/Users/{id}"), None).await.0, StatusCode::NOT_FOUND);
    let record = staff_get(&api, &format!("/api/v1/users/{id}")).await;
    assert_eq!((record["state"].as_str(), record["directory_linked"].as_bool()), (Some("deleted"), Some(false)));
    assert!(staff_get(&api, "/api/v1/users?q=Lovelace").await.as_array().unwrap().is_empty());
    assert_eq!(reason(&api, "04AB0001").await, "holder_deleted");

    // Re-creating the same externalId while they are deleted: refused, nothing created.
    let everyone = |api: &Api| api.store.search_all_users("", 1000).unwrap().len();
    let before = everyone(&api);
    let (s, v) = scim(&api, &t, Method::POST, "/scim/v2/Users", Some(user("ext-1"))).await;
    assert_eq!((s, v["scimType"].as_str()), (StatusCode::CONFLICT, Some("uniqueness")), "{v}");
    assert_eq!(everyone(&api), before);
    assert_eq!(staff_get(&api, &format!("/api/v1/users/{id}")).await["state"], "deleted");

    // A purge job erases the person the directory let go (no longer directory_linked).
    let (s, _) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(api.token(Role::Manager)),
            Some(json!({"purge_date": "2025-11-30"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, job) = api
        .call(
            Method::POST,
            "/api/v1/purge-jobs",
            Some(api.token(Role::Eraser)),
            Some(json!({"criteria": {"grace_days": 0}})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while staff_get(&api, &format!("/api/v1/users/{id}")).await["state"] != "expunged" {
        assert!(Instant::now() < deadline, "the purge job did not expunge them");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Expunged: the same create makes a new person with a new ID; the old card stays in stock.
    let (s, v) = scim(&api, &t, Method::POST, "/scim/v2/Users", Some(user("ext-1"))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let new_id = v["id"].as_str().unwrap();
    assert_ne!(new_id, id);
    let card = staff_get(&api, "/api/v1/credentials/04AB0001").await;
    assert_eq!(card["state"], "in_stock", "{card}");
    assert_eq!(staff_get(&api, &format!("/api/v1/users/{new_id}")).await["credentials"], json!([]));
    assert_eq!(
        staff_get(&api, &format!("/api/v1/users/{id}")).await["state"],
        "expunged",
        "the tombstone is untouched"
    );
}
