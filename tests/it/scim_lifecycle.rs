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

/// The cards (hex) a feed page lists with their level IDs, and those it removes.
fn feed_cards(f: &idms::store::Feed) -> (Vec<(String, Vec<i64>)>, Vec<String>) {
    let listed = f.entries.iter().map(|e| (e.uid.to_string(), e.levels.iter().map(|l| l.id).collect())).collect();
    (listed, f.removed.iter().map(|k| k.uid.to_string()).collect())
}

/// Issue 17, Build: access levels assigned to a directory group. Its
/// members hold them at the door and in the controller's feed (snapshot
/// and delta), a member who leaves loses them and one who joins gains
/// them, an index built afresh at a restart agrees, another source (a CSV
/// file) cannot join people to the group, a person the directory deleted
/// is in no group (a restore brings back no door), expunge erases which
/// groups the change log names, and the directory deleting the group —
/// members SCIM cannot see included — takes the level from everyone in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_on_a_directory_group_opens_the_door_to_its_members_and_follows_the_directory() {
    use idms::store::levels::GrantTarget;
    let api = Api::new();
    let st = staff();
    api.store.set_default_level(&st, "All doors, always", false).unwrap();
    let level = api.store.add_level(&st, "Main door", None, &[(GrantTarget::Door("main".into()), "Always".into())]);
    let level = level.unwrap().id;
    let t = api.store.create_token(&st, "entra", Role::Provisioner, None).unwrap().1;
    let mut ids = Vec::new();
    for (ext, card) in [("ext-a", "04AB00A1"), ("ext-b", "04AB00B1")] {
        let (s, v) = scim(&api, &t, Method::POST, "/scim/v2/Users", Some(user(ext))).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
        assert_eq!(api.enroll(&ids[ids.len() - 1], card).await.0, StatusCode::CREATED);
        assert_eq!(reason(&api, card).await, "no_access_to_door");
    }
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Night shift",
        "members": [{"value": a}]});
    let (s, g) = scim(&api, &t, Method::POST, "/scim/v2/Groups", Some(group)).await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_str().unwrap().to_owned();

    // An unknown directory group is not found; two holders at once are refused; the name's case does not matter.
    let assign = "/api/v1/levels/Main%20door/assignments";
    let manager = Some(api.token(Role::Manager));
    let (s, v) = api.call(Method::POST, assign, manager, Some(json!({"directory_group": "Day shift"}))).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");
    let both = json!({"directory_group": "Night shift", "group": "night"});
    let (s, v) = api.call(Method::POST, assign, manager, Some(both)).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")), "{v}");
    let (s, v) = api.call(Method::POST, assign, manager, Some(json!({"directory_group": "night SHIFT"}))).await;
    assert_eq!((s, v["directory_group"].as_str()), (StatusCode::CREATED, Some("Night shift")), "{v}");
    assert_eq!(reason(&api, "04AB00A1").await, "granted");
    assert_eq!(reason(&api, "04AB00B1").await, "no_access_to_door");
    let access = staff_get(&api, &format!("/api/v1/users/{a}/access")).await;
    assert_eq!(access["assignments"][0]["directory_group"], "Night shift", "{access}");
    let levels = staff_get(&api, "/api/v1/levels").await;
    let main = levels.as_array().unwrap().iter().find(|l| l["name"] == "Main door").unwrap().clone();
    assert_eq!(main["directory_groups"], json!(["Night shift"]), "{main}");
    // Deleting the level is refused while the group holds it.
    let (s, v) = api.call(Method::DELETE, "/api/v1/levels/Main%20door", Some(api.token(Role::Admin)), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("in_use")), "{v}");

    // The controller's snapshot lists A's card with the level, not B's.
    let feed =
        |since: Option<&str>| api.store.controller_feed(idms::store::FeedScope::Controller(api.door.0), since, 100);
    let snap = feed(None).unwrap();
    assert_eq!(feed_cards(&snap).0, vec![("04AB00A1".to_owned(), vec![level])]);

    // B joins and A leaves (Entra's PATCH): the doors and the feed's delta follow.
    let patch = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": b}]},
        {"op": "remove", "path": format!("members[value eq \"{a}\"]")}]});
    let (s, v) = scim(&api, &t, Method::PATCH, &format!("/scim/v2/Groups/{gid}"), Some(patch)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(reason(&api, "04AB00A1").await, "no_access_to_door");
    assert_eq!(reason(&api, "04AB00B1").await, "granted");
    let delta = feed(Some(&snap.cursor)).unwrap();
    assert!(delta.rules.is_none(), "membership is not a rules change");
    assert_eq!(feed_cards(&delta), (vec![("04AB00B1".to_owned(), vec![level])], vec!["04AB00A1".to_owned()]));

    // A restart builds the index from the tables: the same answers.
    let reopened = idms::store::Store::open(&api.fx.db_path(), api.fx.clock.clone()).unwrap();
    let now = reopened.now();
    let at_main = |uid: &str| {
        let d = reopened.index().decide_at_door(None, &crate::common::iso(uid), "main", now).decision;
        d.reason().map_or("granted", |r| r.code())
    };
    assert_eq!((at_main("04AB00A1"), at_main("04AB00B1")), ("no_access_to_door", "granted"));
    drop(reopened);

    // A CSV file naming the group joins nobody to it: each source manages its own groups.
    let me = idms::ops::Acting::Local(st.clone());
    let csv = b"external_id,given_name,family_name,groups\ncsv-1,Carl,Csv,Night shift\n";
    let r = idms::ops::directory::import_csv(&api.store, &me, csv, false, false, "cli").unwrap();
    let carl = r.items[0].user.unwrap();
    assert!(api.store.get_user(carl).unwrap().directory_groups.is_empty(), "{:?}", r.items);

    // The directory deletes B: they leave its groups, and staff restoring them brings back no door.
    let (s, _) = scim(&api, &t, Method::DELETE, &format!("/scim/v2/Users/{b}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let b_id: idms::domain::UserId = b.parse().unwrap();
    api.store.restore(&st, b_id).unwrap();
    assert_eq!(reason(&api, "04AB00B1").await, "no_access_to_door");
    assert!(api.store.get_user(b_id).unwrap().directory_groups.is_empty());
    // Expunged: which groups they were in is erased from the change log too.
    let db = rusqlite::Connection::open(api.fx.db_path()).unwrap();
    let named = |id: idms::domain::UserId| -> i64 {
        db.query_row(
            "SELECT COUNT(*) FROM change_log WHERE user_id = ?1 AND kind LIKE 'member_%' AND group_id IS NOT NULL",
            [id.as_i64()],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(named(b_id) > 0);
    api.store.delete(&st, b_id).unwrap();
    api.store.expunge(&st, b_id, &b).unwrap();
    assert_eq!(named(b_id), 0);
    assert_eq!(reason(&api, "04AB00B1").await, "credential_in_stock");

    // A rejoins; a member SCIM cannot see (Carl, as an older build could have left him) is in the group too.
    let patch = json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": a}]}]});
    let (s, v) = scim(&api, &t, Method::PATCH, &format!("/scim/v2/Groups/{gid}"), Some(patch)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(reason(&api, "04AB00A1").await, "granted");
    db.execute(
        "INSERT INTO directory_group_members (group_id, user_id) VALUES (?1, ?2)",
        [gid.parse::<i64>().unwrap(), carl.as_i64()],
    )
    .unwrap();

    // The directory deletes the group: the level goes with it, from the doors and the lists.
    let (s, _) = scim(&api, &t, Method::DELETE, &format!("/scim/v2/Groups/{gid}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(reason(&api, "04AB00A1").await, "no_access_to_door");
    let left: i64 = db.query_row("SELECT COUNT(*) FROM directory_group_members", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 0, "every membership went with the group");
    assert_eq!(staff_get(&api, "/api/v1/levels/Main%20door/assignments").await, json!([]));
    let (s, _) = api.call(Method::DELETE, "/api/v1/levels/Main%20door", Some(api.token(Role::Admin)), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "nobody holds it any more");
}
