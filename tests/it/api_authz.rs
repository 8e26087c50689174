//! Issue 2/5, must-be-true 1: the authorisation matrix. Every route of the
//! OpenAPI document × {no token, bad token, each role, the door's
//! controller, another door's controller} → the expected status. The test
//! fails if a documented route is missing from the table (or vice versa),
//! and if a documented route is not served (routes and document drifting),
//! or answers a status its document does not declare.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use idms::store::Role;
use serde_json::{Value, json};

use crate::api::Api;

#[derive(Clone, Copy, Debug)]
enum Access {
    Public,
    Staff(Role),
    Door,
    /// A feed by ID: another controller's ID is not found, not forbidden.
    FeedById,
    /// Any controller, about itself.
    AnyController,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Nobody,
    BadToken,
    Op(Role),
    OwnController,
    OtherController,
}

/// What a route needs for one call: a fresh target so every allowed call
/// succeeds with the same status.
/// `starter` is the token that starts a pending enrolment: only the
/// operator who started one may confirm it.
async fn prepare(api: &Api, template: &str, method: &Method, starter: &str) -> (String, Option<Value>) {
    let fresh_user = |state: &'static str| async move {
        let id = api.person("Matrix").await;
        let admin = api.token(Role::Admin);
        let step = |p: &str| format!("/api/v1/users/{id}/{p}");
        match state {
            "suspended" => drop(api.call(Method::POST, &step("suspend"), Some(admin), None).await),
            "deleted" => drop(api.call(Method::POST, &step("delete"), Some(admin), None).await),
            _ => {}
        }
        id
    };
    let fresh_card = || async {
        let id = api.person("Card").await;
        let uid = format!("04{:06X}", rand_u24());
        let (s, v) = api.enroll(&id, &uid).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        uid
    };
    let door = api.door.0;
    // Admin routes act on a fresh operator, controller or token each time.
    let fresh_operator = |disabled: bool| {
        let name = format!("mx{}", rand_u24());
        api.store.create_token(&crate::common::staff(), &name, Role::Viewer, None).unwrap();
        if disabled {
            api.store.set_operator_enabled(&crate::common::staff(), &name, false).unwrap();
        }
        name
    };
    let fresh_controller = |disabled: bool| {
        let name = format!("mxc{}", rand_u24());
        let id = api.store.add_controller(&crate::common::staff(), &name, &["door-m".to_string()]).unwrap().0.id;
        if disabled {
            api.store.set_controller_enabled(&crate::common::staff(), id, false).unwrap();
        }
        id
    };
    // Access-level routes act on fresh doors, schedules and levels.
    let fresh_door = || format!("d{}", rand_u24());
    let fresh_door_record = || {
        let name = fresh_door();
        api.store.add_door(&crate::common::staff(), &name, None).unwrap();
        name
    };
    let fresh_schedule = || {
        let name = format!("sc{}", rand_u24());
        let s = idms::domain::access::Schedule::from_text("mon-fri 08:00-18:00", "").unwrap();
        api.store.put_schedule(&crate::common::staff(), &name, "Default", None, &s, false).unwrap();
        name
    };
    let fresh_level = || {
        let name = format!("l{}", rand_u24());
        let grants = [(idms::store::levels::GrantTarget::Door(fresh_door_record()), "Always".to_string())];
        api.store.add_level(&crate::common::staff(), &name, None, &grants).unwrap();
        name
    };
    match (method.as_str(), template) {
        ("POST", "/api/v1/login") => {
            (template.into(), Some(json!({"name": "pw-op", "password": "correct horse battery"})))
        }
        ("GET", "/api/v1/users") => ("/api/v1/users?q=Matrix&all=true".into(), None),
        ("POST", "/api/v1/directory/imports") => {
            (template.into(), Some(json!({"csv": "given_name,family_name\nAda,Lovelace\n", "dry_run": true})))
        }
        ("GET", "/api/v1/directory/runs/{id}") => ("/api/v1/directory/runs/999999".into(), None),
        ("POST", "/api/v1/operators") => (
            template.into(),
            Some(json!({"name": format!("op{}", rand_u24()), "role": "viewer", "password": "long enough secret"})),
        ),
        ("POST", "/api/v1/controllers") => {
            (template.into(), Some(json!({"name": format!("ctl{}", rand_u24()), "doors": ["door-x"]})))
        }
        ("POST", "/api/v1/operators/{name}/disable") => {
            (format!("/api/v1/operators/{}/disable", fresh_operator(false)), None)
        }
        ("POST", "/api/v1/operators/{name}/enable") => {
            (format!("/api/v1/operators/{}/enable", fresh_operator(true)), None)
        }
        ("PUT", "/api/v1/operators/{name}/password") => (
            format!("/api/v1/operators/{}/password", fresh_operator(false)),
            Some(json!({"password": "long enough secret"})),
        ),
        ("POST", "/api/v1/operators/{name}/tokens/revoke") => {
            (format!("/api/v1/operators/{}/tokens/revoke", fresh_operator(false)), None)
        }
        ("POST", "/api/v1/controllers/{id}/disable") => {
            (format!("/api/v1/controllers/{}/disable", fresh_controller(false)), None)
        }
        ("POST", "/api/v1/controllers/{id}/enable") => {
            (format!("/api/v1/controllers/{}/enable", fresh_controller(true)), None)
        }
        ("POST", "/api/v1/controllers/{id}/rotate-token") => {
            (format!("/api/v1/controllers/{}/rotate-token", fresh_controller(false)), Some(json!({})))
        }
        ("POST", "/api/v1/controllers/{id}/tokens/revoke") => {
            (format!("/api/v1/controllers/{}/tokens/revoke", fresh_controller(false)), None)
        }
        ("GET", "/api/v1/tokens") => ("/api/v1/tokens?active=true&limit=10".into(), None),
        ("POST", "/api/v1/tokens/{id}/revoke") => {
            let name = fresh_operator(false);
            let filter = idms::store::auth::TokenFilter { operator: Some(name), limit: 1, ..Default::default() };
            (format!("/api/v1/tokens/{}/revoke", api.store.tokens(&filter).unwrap()[0].id), None)
        }
        ("GET", "/api/v1/credentials") => ("/api/v1/credentials?state=in_stock".into(), None),
        ("POST", "/api/v1/users") => (template.into(), Some(json!({"given_name": "New", "family_name": "Person"}))),
        ("GET", "/api/v1/users/{id}") => (format!("/api/v1/users/{}", fresh_user("active").await), None),
        ("PATCH", "/api/v1/users/{id}") => {
            (format!("/api/v1/users/{}", fresh_user("active").await), Some(json!({"phone": "+1 555 0100"})))
        }
        ("POST", "/api/v1/users/{id}/suspend") => {
            (format!("/api/v1/users/{}/suspend", fresh_user("active").await), None)
        }
        ("POST", "/api/v1/users/{id}/resume") => {
            (format!("/api/v1/users/{}/resume", fresh_user("suspended").await), None)
        }
        ("POST", "/api/v1/users/{id}/delete") => (format!("/api/v1/users/{}/delete", fresh_user("active").await), None),
        ("POST", "/api/v1/users/{id}/restore") => {
            (format!("/api/v1/users/{}/restore", fresh_user("deleted").await), None)
        }
        ("GET", "/api/v1/users/{id}/expunge-preview") => {
            (format!("/api/v1/users/{}/expunge-preview", fresh_user("deleted").await), None)
        }
        ("POST", "/api/v1/users/{id}/expunge") => {
            let id = fresh_user("deleted").await;
            (format!("/api/v1/users/{id}/expunge"), Some(json!({"confirm": id})))
        }
        ("POST", "/api/v1/credentials") => {
            let id = fresh_user("active").await;
            (template.into(), Some(json!({"uid": format!("04{:06X}", rand_u24()), "user_id": id})))
        }
        ("GET", "/api/v1/credentials/{uid}") => (format!("/api/v1/credentials/{}", fresh_card().await), None),
        ("POST", "/api/v1/credentials/{uid}/revoke") => {
            (format!("/api/v1/credentials/{}/revoke", fresh_card().await), Some(json!({"reason": "lost"})))
        }
        ("POST", "/api/v1/credentials/{uid}/suspend") => {
            (format!("/api/v1/credentials/{}/suspend", fresh_card().await), None)
        }
        ("POST", "/api/v1/credentials/{uid}/unbind") => {
            // A twin, as an older database could hold one.
            let uid = fresh_card().await;
            let other = api.person("Twin").await.parse().unwrap();
            crate::twins::force_twin(&api.fx.db_path(), &idms::domain::Uid::parse_any(&uid).unwrap(), other);
            (format!("/api/v1/credentials/{uid}/unbind?technology=other"), None)
        }
        ("POST", "/api/v1/credentials/{uid}/resume") => {
            let uid = fresh_card().await;
            let (s, _) = api
                .call(Method::POST, &format!("/api/v1/credentials/{uid}/suspend"), Some(api.token(Role::Admin)), None)
                .await;
            assert_eq!(s, StatusCode::OK);
            (format!("/api/v1/credentials/{uid}/resume"), None)
        }
        ("POST", "/api/v1/enrollments") => {
            let id = fresh_user("active").await;
            (template.into(), Some(json!({"reader": MATRIX_READER, "user_id": id, "wait_s": 5})))
        }
        ("POST", "/api/v1/enrollments/{id}/confirm") => {
            let id = fresh_user("active").await;
            let body = json!({"reader": MATRIX_READER, "user_id": id, "wait_s": 5});
            let (s, v) = api.call(Method::POST, "/api/v1/enrollments", Some(starter), Some(body)).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            (format!("/api/v1/enrollments/{}/confirm", v["id"].as_str().unwrap()), None)
        }
        // No encoder is attached in-process: an allowed caller gets as far as 404 `encoder_not_found`.
        ("POST", "/api/v1/encoders/{id}/encode") => {
            ("/api/v1/encoders/osdp:none:1/encode".into(), Some(json!({"uid": fresh_card().await, "number": 1})))
        }
        ("GET", "/api/v1/users/deleted") => ("/api/v1/users/deleted?q=Matrix".into(), None),
        ("POST", "/api/v1/users/erase") => (template.into(), Some(json!({"ids": [fresh_user("deleted").await]}))),
        ("POST", "/api/v1/users/purge-date") => {
            (template.into(), Some(json!({"purge_date": "2030-01-31", "query": {"group": "matrix-nobody"}})))
        }
        ("POST", "/api/v1/purge-jobs") => {
            (template.into(), Some(json!({"criteria": {"grace_days": 0, "group": "matrix-nobody"}, "dry_run": false})))
        }
        ("GET", "/api/v1/purge-jobs/{id}") => (format!("/api/v1/purge-jobs/{}", matrix_job(api)), None),
        ("POST", "/api/v1/purge-jobs/{id}/cancel") => (format!("/api/v1/purge-jobs/{}/cancel", matrix_job(api)), None),
        ("POST", "/api/v1/access/decide") => (template.into(), Some(json!({"uid": "04A1B2C3", "door": "main"}))),
        ("GET", "/api/v1/controllers/{id}/credentials") => (format!("/api/v1/controllers/{door}/credentials"), None),
        ("POST", "/api/v1/access/events") => (
            template.into(),
            Some(
                json!({"events": [{"event_id": format!("e{}", rand_u24()), "at": "2026-01-01T00:00:00Z", "door": "main",
                "uid": "04A1B2C3", "decision": "deny", "reason": "unknown_credential"}]}),
            ),
        ),
        ("POST", "/api/v1/sites") => (template.into(), Some(json!({"name": format!("s{}", rand_u24()), "tz": "UTC"}))),
        ("DELETE", "/api/v1/sites/{name}") => {
            let name = format!("s{}", rand_u24());
            api.store.add_site(&crate::common::staff(), &name, "Europe/Berlin").unwrap();
            (format!("/api/v1/sites/{name}"), None)
        }
        ("POST", "/api/v1/doors") => (template.into(), Some(json!({"name": fresh_door()}))),
        ("DELETE", "/api/v1/doors/{name}") => (format!("/api/v1/doors/{}", fresh_door_record()), None),
        ("GET", "/api/v1/doors/{name}/who-can") => ("/api/v1/doors/main/who-can?at=2026-06-01T12:00:00Z".into(), None),
        ("POST", "/api/v1/areas") => {
            (template.into(), Some(json!({"name": format!("a{}", rand_u24()), "doors": [fresh_door_record()]})))
        }
        ("DELETE", "/api/v1/areas/{name}") => {
            let name = format!("a{}", rand_u24());
            api.store.add_area(&crate::common::staff(), &name, &[fresh_door_record()]).unwrap();
            (format!("/api/v1/areas/{name}"), None)
        }
        ("POST", "/api/v1/holiday-calendars/{name}/holidays") => (
            format!("/api/v1/holiday-calendars/c{}/holidays", rand_u24()),
            Some(json!({"date": "2027-12-25", "type": "public", "yearly": true})),
        ),
        ("DELETE", "/api/v1/holiday-calendars/{name}") => {
            let name = format!("c{}", rand_u24());
            let h = idms::domain::access::Holiday::parse("2027-12-25", "public", false).unwrap();
            api.store.add_holiday(&crate::common::staff(), &name, &h).unwrap();
            (format!("/api/v1/holiday-calendars/{name}"), None)
        }
        ("POST", "/api/v1/schedules") => (
            template.into(),
            Some(json!({"name": format!("sc{}", rand_u24()), "site": "Default", "intervals": ["mon-fri 08:00-18:00"]})),
        ),
        ("PUT", "/api/v1/schedules/{name}") => (
            format!("/api/v1/schedules/{}", fresh_schedule()),
            Some(json!({"site": "Default", "intervals": ["mon-fri 22:00-06:00"]})),
        ),
        ("DELETE", "/api/v1/schedules/{name}") => (format!("/api/v1/schedules/{}", fresh_schedule()), None),
        ("POST", "/api/v1/levels") => (
            template.into(),
            Some(json!({"name": format!("l{}", rand_u24()), "grants": [{"all_doors": true, "schedule": "Always"}]})),
        ),
        ("DELETE", "/api/v1/levels/{name}") => (format!("/api/v1/levels/{}", fresh_level()), None),
        ("PUT", "/api/v1/levels/{name}/default") => {
            (format!("/api/v1/levels/{}/default", fresh_level()), Some(json!({"default": false})))
        }
        ("GET", "/api/v1/levels/{name}/assignments") => {
            ("/api/v1/levels/All%20doors%2C%20always/assignments".into(), None)
        }
        ("POST", "/api/v1/levels/{name}/assignments") => {
            let id = fresh_user("active").await;
            (format!("/api/v1/levels/{}/assignments", fresh_level()), Some(json!({"user_id": id})))
        }
        ("DELETE", "/api/v1/levels/{name}/assignments") => {
            let id = fresh_user("active").await;
            let level = fresh_level();
            let holder = idms::store::levels::Holder::User(id.parse().unwrap());
            api.store.assign_level(&crate::common::staff(), &level, &holder, Default::default()).unwrap();
            (format!("/api/v1/levels/{level}/assignments?user_id={id}"), None)
        }
        ("GET", "/api/v1/users/{id}/access") => (format!("/api/v1/users/{}/access", fresh_user("active").await), None),
        ("POST", "/api/v1/users/{id}/refresh") => {
            (format!("/api/v1/users/{}/refresh", fresh_user("active").await), None)
        }
        ("POST", "/api/v1/access/explain") => (template.into(), Some(json!({"uid": "04A1B2C3", "door": "main"}))),
        _ => (template.into(), None),
    }
}

/// A purge job that selects nobody (so it completes at once).
fn matrix_job(api: &Api) -> i64 {
    let c = idms::domain::purge::Criteria { group: Some("matrix-nobody".into()), ..Default::default() };
    api.store.create_purge_job(&crate::common::staff(), &c).unwrap().id
}

/// A simulated reader on which a fresh card is tapped every 20 ms while the matrix runs.
const MATRIX_READER: &str = "Matrix Reader 00 00";

fn start_tapping(hub: std::sync::Arc<idms::readers::Hub>) -> tokio::task::JoinHandle<()> {
    use idms::domain::{Timestamp, Uid};
    use idms::readers::{CardType, ReaderEvent, ReaderEventKind};
    hub.publish(ReaderEvent::new(MATRIX_READER, Timestamp(0), ReaderEventKind::ReaderAdded, None));
    tokio::spawn(async move {
        loop {
            let uid = Uid::from_bytes(&[
                0x04,
                0x5A,
                (rand_u24() >> 16) as u8,
                (rand_u24() >> 8) as u8,
                rand_u24() as u8,
                1,
                2,
            ])
            .unwrap();
            let tap = ReaderEventKind::Tap { uid, card_type: CardType::Desfire, raw: None };
            hub.publish(ReaderEvent::new(MATRIX_READER, Timestamp(0), tap, None));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
}

fn rand_u24() -> u32 {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    u32::from_le_bytes(b) & 0xFF_FFFF
}

/// Who may call each documented route, and what success looks like.
fn table() -> Vec<(&'static str, &'static str, Access, StatusCode)> {
    use Access::*;
    let ok = StatusCode::OK;
    vec![
        ("POST", "/api/v1/login", Public, ok),
        ("POST", "/api/v1/logout", Staff(Role::Viewer), StatusCode::NO_CONTENT),
        ("POST", "/api/v1/operators", Staff(Role::Admin), StatusCode::CREATED),
        ("POST", "/api/v1/controllers", Staff(Role::Admin), StatusCode::CREATED),
        ("GET", "/api/v1/operators", Staff(Role::Admin), ok),
        ("POST", "/api/v1/operators/{name}/disable", Staff(Role::Admin), ok),
        ("POST", "/api/v1/operators/{name}/enable", Staff(Role::Admin), ok),
        ("PUT", "/api/v1/operators/{name}/password", Staff(Role::Admin), ok),
        ("POST", "/api/v1/operators/{name}/tokens/revoke", Staff(Role::Admin), ok),
        ("GET", "/api/v1/controllers", Staff(Role::Admin), ok),
        ("POST", "/api/v1/controllers/{id}/disable", Staff(Role::Admin), ok),
        ("POST", "/api/v1/controllers/{id}/enable", Staff(Role::Admin), ok),
        ("POST", "/api/v1/controllers/{id}/rotate-token", Staff(Role::Admin), ok),
        ("POST", "/api/v1/controllers/{id}/tokens/revoke", Staff(Role::Admin), ok),
        ("GET", "/api/v1/tokens", Staff(Role::Admin), ok),
        ("POST", "/api/v1/tokens/{id}/revoke", Staff(Role::Admin), ok),
        ("GET", "/api/v1/users", Staff(Role::Viewer), ok),
        ("POST", "/api/v1/users", Staff(Role::Enroller), StatusCode::CREATED),
        ("GET", "/api/v1/users/{id}", Staff(Role::Viewer), ok),
        ("PATCH", "/api/v1/users/{id}", Staff(Role::Manager), ok),
        ("POST", "/api/v1/users/{id}/suspend", Staff(Role::Manager), ok),
        ("POST", "/api/v1/users/{id}/resume", Staff(Role::Manager), ok),
        ("POST", "/api/v1/users/{id}/delete", Staff(Role::Manager), ok),
        ("POST", "/api/v1/users/{id}/restore", Staff(Role::Manager), ok),
        ("GET", "/api/v1/users/{id}/expunge-preview", Staff(Role::Eraser), ok),
        ("POST", "/api/v1/users/{id}/expunge", Staff(Role::Eraser), ok),
        ("POST", "/api/v1/credentials", Staff(Role::Enroller), StatusCode::CREATED),
        ("GET", "/api/v1/credentials", Staff(Role::Viewer), ok),
        ("GET", "/api/v1/credentials/{uid}", Staff(Role::Viewer), ok),
        ("POST", "/api/v1/credentials/{uid}/revoke", Staff(Role::Manager), ok),
        ("POST", "/api/v1/credentials/{uid}/suspend", Staff(Role::Manager), ok),
        ("POST", "/api/v1/credentials/{uid}/resume", Staff(Role::Manager), ok),
        ("GET", "/api/v1/credentials/twins", Staff(Role::Admin), ok),
        ("POST", "/api/v1/credentials/{uid}/unbind", Staff(Role::Admin), ok),
        ("GET", "/api/v1/audit", Staff(Role::Manager), ok),
        ("GET", "/api/v1/audit/verify", Staff(Role::Manager), ok),
        ("GET", "/api/v1/stats", Staff(Role::Viewer), ok),
        ("GET", "/api/v1/readers", Staff(Role::Viewer), ok),
        ("GET", "/api/v1/readers/events", Staff(Role::Enroller), ok),
        ("POST", "/api/v1/enrollments", Staff(Role::Enroller), StatusCode::CREATED),
        ("POST", "/api/v1/enrollments/{id}/confirm", Staff(Role::Enroller), StatusCode::CREATED),
        ("POST", "/api/v1/encoders/{id}/encode", Staff(Role::Enroller), StatusCode::NOT_FOUND),
        ("GET", "/api/v1/users/deleted", Staff(Role::Eraser), ok),
        ("POST", "/api/v1/users/erase", Staff(Role::Eraser), ok),
        ("POST", "/api/v1/users/purge-date", Staff(Role::Manager), ok),
        ("POST", "/api/v1/purge-jobs", Staff(Role::Eraser), StatusCode::ACCEPTED),
        ("GET", "/api/v1/purge-jobs", Staff(Role::Eraser), ok),
        ("GET", "/api/v1/purge-jobs/{id}", Staff(Role::Eraser), ok),
        ("POST", "/api/v1/purge-jobs/{id}/cancel", Staff(Role::Eraser), StatusCode::CONFLICT),
        ("POST", "/api/v1/access/decide", Door, ok),
        ("GET", "/api/v1/controllers/{id}/credentials", FeedById, ok),
        ("GET", "/api/v1/controllers/me/credentials", AnyController, ok),
        ("POST", "/api/v1/access/events", AnyController, ok),
        ("GET", "/api/v1/access/events", Staff(Role::Manager), ok),
        ("GET", "/api/v1/access/quarantine", Staff(Role::Manager), ok),
        ("GET", "/api/v1/sites", Staff(Role::Viewer), ok),
        ("POST", "/api/v1/sites", Staff(Role::Manager), StatusCode::CREATED),
        ("DELETE", "/api/v1/sites/{name}", Staff(Role::Manager), StatusCode::NO_CONTENT),
        ("GET", "/api/v1/doors", Staff(Role::Viewer), ok),
        ("POST", "/api/v1/doors", Staff(Role::Manager), StatusCode::CREATED),
        ("DELETE", "/api/v1/doors/{name}", Staff(Role::Manager), StatusCode::NO_CONTENT),
        ("GET", "/api/v1/doors/{name}/who-can", Staff(Role::Viewer), ok),
        ("GET", "/api/v1/areas", Staff(Role::Viewer), ok),
        ("POST", "/api/v1/areas", Staff(Role::Manager), StatusCode::CREATED),
        ("DELETE", "/api/v1/areas/{name}", Staff(Role::Manager), StatusCode::NO_CONTENT),
        ("GET", "/api/v1/holiday-calendars", Staff(Role::Viewer), ok),
        ("POST", "/api/v1/holiday-calendars/{name}/holidays", Staff(Role::Manager), StatusCode::CREATED),
        ("DELETE", "/api/v1/holiday-calendars/{name}", Staff(Role::Manager), StatusCode::NO_CONTENT),
        ("GET", "/api/v1/schedules", Staff(Role::Viewer), ok),
        ("POST", "/api/v1/schedules", Staff(Role::Manager), StatusCode::CREATED),
        ("PUT", "/api/v1/schedules/{name}", Staff(Role::Manager), ok),
        ("DELETE", "/api/v1/schedules/{name}", Staff(Role::Manager), StatusCode::NO_CONTENT),
        ("GET", "/api/v1/levels", Staff(Role::Viewer), ok),
        ("POST", "/api/v1/levels", Staff(Role::Manager), StatusCode::CREATED),
        ("DELETE", "/api/v1/levels/{name}", Staff(Role::Manager), StatusCode::NO_CONTENT),
        ("PUT", "/api/v1/levels/{name}/default", Staff(Role::Manager), ok),
        ("GET", "/api/v1/levels/{name}/assignments", Staff(Role::Viewer), ok),
        ("POST", "/api/v1/levels/{name}/assignments", Staff(Role::Manager), StatusCode::CREATED),
        ("DELETE", "/api/v1/levels/{name}/assignments", Staff(Role::Manager), StatusCode::NO_CONTENT),
        ("GET", "/api/v1/users/{id}/access", Staff(Role::Viewer), ok),
        // A fresh person has no directory link.
        ("POST", "/api/v1/users/{id}/refresh", Staff(Role::Manager), StatusCode::CONFLICT),
        ("POST", "/api/v1/directory/imports", Staff(Role::Manager), ok),
        ("GET", "/api/v1/directory/runs", Staff(Role::Manager), ok),
        ("GET", "/api/v1/directory/runs/{id}", Staff(Role::Manager), StatusCode::NOT_FOUND),
        ("POST", "/api/v1/access/explain", Staff(Role::Viewer), ok),
        ("GET", "/healthz", Public, ok),
        ("GET", "/readyz", Public, ok),
        ("GET", "/metrics", Public, ok),
    ]
}

fn expected(access: Access, who: Who, success: StatusCode) -> StatusCode {
    match (access, who) {
        (Access::Public, _) => success,
        (_, Who::Nobody | Who::BadToken) => StatusCode::UNAUTHORIZED,
        (Access::Staff(min), Who::Op(r)) if r.is_staff() && r >= min => success,
        (Access::Staff(_), _) => StatusCode::FORBIDDEN,
        (Access::Door | Access::FeedById | Access::AnyController, Who::OwnController) => success,
        (Access::AnyController, Who::OtherController) => success,
        (Access::FeedById, Who::OtherController) => StatusCode::NOT_FOUND,
        (Access::Door | Access::FeedById | Access::AnyController, _) => StatusCode::FORBIDDEN,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_for_every_kind_of_caller() {
    let api = Api::new();
    api.store
        .add_operator(&crate::common::staff(), "pw-op", Role::Viewer, None, Some("correct horse battery"))
        .unwrap();
    let (_, doc) = api.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    let mut documented = BTreeSet::new();
    // What each route declares it may answer: every status seen below must be in it.
    let mut declared = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "post", "patch", "put", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
                let statuses: BTreeSet<u16> =
                    op["responses"].as_object().unwrap().keys().map(|k| k.parse().unwrap()).collect();
                declared.insert((method.to_uppercase(), path.clone()), statuses);
            }
        }
    }
    let table = table();
    let listed: BTreeSet<_> = table.iter().map(|(m, p, _, _)| ((*m).to_string(), (*p).to_string())).collect();
    assert_eq!(documented, listed, "the matrix must list exactly the documented routes");

    let tapping = start_tapping(api.hub.clone());
    let mut whos = vec![Who::Nobody, Who::BadToken, Who::OwnController, Who::OtherController];
    whos.extend(Role::ALL.map(Who::Op));
    // An identity directory's token reaches no route here (SCIM only).
    whos.push(Who::Op(Role::Provisioner));
    let mut checked = 0;
    for (method, template, access, success) in table {
        let statuses = &declared[&(method.to_string(), template.to_string())];
        let method: Method = method.parse().unwrap();
        for &who in &whos {
            let token = match who {
                Who::Nobody => None,
                Who::BadToken => {
                    Some("idms_op_0000000000000000000000000000000000000000000000000000000000000000".to_string())
                }
                // Logging out revokes the token used: give it one of its own.
                Who::Op(r) if template == "/api/v1/logout" => {
                    Some(api.store.create_token(&crate::common::staff(), &format!("logout-{r}"), r, None).unwrap().1)
                }
                Who::Op(r) => Some(api.token(r).to_string()),
                Who::OwnController => Some(api.door.1.clone()),
                Who::OtherController => Some(api.other_door.1.clone()),
            };
            let starter = match who {
                Who::Op(r) if r.is_staff() && r >= Role::Enroller => api.token(r).to_string(),
                _ => api.token(Role::Admin).to_string(),
            };
            let (path, body) = prepare(&api, template, &method, &starter).await;
            let status = if template == "/api/v1/readers/events" {
                // An event stream never ends: only its status is checked.
                let status = api.status_only(method.clone(), &path, token.as_deref()).await;
                assert_eq!(status, expected(access, who, success), "{method} {template} as {who:?}");
                status
            } else {
                let (status, v) = api.call(method.clone(), &path, token.as_deref(), body).await;
                assert_eq!(status, expected(access, who, success), "{method} {template} as {who:?}: {v}");
                status
            };
            assert!(statuses.contains(&status.as_u16()), "{method} {template} answers {status}, not declared");
            checked += 1;
        }
    }
    tapping.abort();
    assert_eq!(checked, 88 * 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_are_problems() {
    let api = Api::new();
    let (s, v) = api.call(Method::GET, "/api/v1/nope", None, None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("route_not_found")));
    let (s, v) = api.call(Method::DELETE, "/api/v1/users", Some(api.token(Role::Admin)), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_units_scope_what_an_operator_sees() {
    let api = Api::new();
    let admin = api.token(Role::Admin).to_string();
    let mk = |unit: &'static str| {
        let admin = admin.clone();
        let api = &api;
        async move {
            let (s, v) = api
                .call(
                    Method::POST,
                    "/api/v1/users",
                    Some(&admin),
                    Some(json!({"given_name": "U", "family_name": unit, "org_unit": unit})),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED);
            v["id"].as_str().unwrap().to_string()
        }
    };
    let in_a = mk("unit-a").await;
    let in_b = mk("unit-b").await;
    let actor = crate::common::staff();
    api.store.add_operator(&actor, "scoped", Role::Manager, Some("unit-a"), Some("correct horse battery")).unwrap();
    let (s, v) = api
        .call(Method::POST, "/api/v1/login", None, Some(json!({"name": "scoped", "password": "correct horse battery"})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t = v["token"].as_str().unwrap().to_string();
    assert_eq!(api.call(Method::GET, &format!("/api/v1/users/{in_a}"), Some(&t), None).await.0, StatusCode::OK);
    let (s, v) = api.call(Method::GET, &format!("/api/v1/users/{in_b}"), Some(&t), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    assert_eq!(
        api.call(Method::POST, &format!("/api/v1/users/{in_b}/suspend"), Some(&t), None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = api.call(Method::GET, "/api/v1/users?q=unit", Some(&t), None).await;
    let ids: Vec<_> = list.as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, vec![in_a.clone()]);
    // New people land in the operator's unit; another unit is refused.
    let (s, v) =
        api.call(Method::POST, "/api/v1/users", Some(&t), Some(json!({"given_name": "N", "family_name": "New"}))).await;
    assert_eq!((s, v["org_unit"].as_str()), (StatusCode::CREATED, Some("unit-a")));
    let (s, _) = api
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&t),
            Some(json!({"given_name": "N", "family_name": "New", "org_unit": "unit-b"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A wrong password is a 401 with its own code.
    let (s, v) = api
        .call(Method::POST, "/api/v1/login", None, Some(json!({"name": "scoped", "password": "wrong wrong wrong"})))
        .await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_by_role_door_and_unit_are_audited() {
    let api = Api::new();
    let id = api.person("Audited").await;
    let viewer = api.token(Role::Viewer).to_string();
    let (s, _) = api.call(Method::POST, &format!("/api/v1/users/{id}/suspend"), Some(&viewer), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api
        .call(
            Method::POST,
            "/api/v1/access/decide",
            Some(&api.other_door.1),
            Some(json!({"uid": "04A1B2C3", "door": "main"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The audit write runs after the answer: wait for it briefly.
    let mut entries = Vec::new();
    for _ in 0..200 {
        entries =
            api.store.audit_entries(&idms::store::AuditQuery { limit: Some(1000), ..Default::default() }).unwrap();
        if entries.iter().filter(|e| e.action == "api.refused").count() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let refused: Vec<_> = entries.iter().filter(|e| e.action == "api.refused").collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().all(|e| e.outcome == "forbidden"));
    let op = refused.iter().find(|e| e.actor.starts_with("operator:")).unwrap();
    assert_eq!(op.detail, "POST /api/v1/users/{id}/suspend count=1");
    assert!(refused.iter().any(|e| e.actor == format!("controller:{}", api.other_door.0)));
    assert!(api.store.verify_audit().unwrap().first_bad.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refusals_costs_the_audit_trail_a_few_counted_entries() {
    let api = Api::new();
    let body = json!({"uid": "04A1B2C3", "door": "main"});
    for _ in 0..200 {
        let (s, _) = api.call(Method::POST, "/api/v1/access/decide", Some(&api.other_door.1), Some(body.clone())).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let mut total = 0;
    let mut entries = 0;
    for _ in 0..150 {
        let all =
            api.store.audit_entries(&idms::store::AuditQuery { limit: Some(1000), ..Default::default() }).unwrap();
        let refused: Vec<_> = all.iter().filter(|e| e.action == "api.refused").collect();
        entries = refused.len();
        total = refused.iter().map(|e| e.detail.rsplit_once("count=").unwrap().1.parse::<u64>().unwrap()).sum::<u64>();
        if total == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(total, 200, "every refusal counted");
    assert!(entries <= 5, "{entries} entries for 200 refusals");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_without_the_role_gets_403_whatever_it_sent() {
    let api = Api::new();
    let viewer = api.token(Role::Viewer).to_string();
    let bad = Some(b"{not json".to_vec());
    for (method, path) in [
        (Method::POST, "/api/v1/users"),
        (Method::POST, "/api/v1/credentials"),
        (Method::POST, "/api/v1/credentials/zz/revoke"),
        (Method::POST, "/api/v1/controllers"),
        (Method::PUT, "/api/v1/operators/op-admin/password"),
        (Method::POST, "/api/v1/controllers/1/rotate-token"),
        (Method::PATCH, "/api/v1/users/not-an-id"),
    ] {
        let (s, v) = api.call_raw(method.clone(), path, Some(&viewer), bad.clone(), "application/json").await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{method} {path}");
    }
    let (s, _) = api.call(Method::GET, "/api/v1/audit?since=not-a-number", Some(&viewer), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // With the role, the same malformed body is a 400.
    let admin = api.token(Role::Admin).to_string();
    let (s, _) = api.call_raw(Method::POST, "/api/v1/users", Some(&admin), bad, "application/json").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_schemas_keep_their_names_and_describe_every_field() {
    let api = Api::new();
    let (_, doc) = api.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    // Clients generate code from these names: a rename is a breaking change.
    let names: Vec<&str> = schemas.keys().map(String::as_str).collect();
    let expected = [
        "Access",
        "Area",
        "Assignment",
        "AuditEntry",
        "AuditHead",
        "AuditReport",
        "BadEntry",
        "BindingRecord",
        "Calendar",
        "CardStatus",
        "ControllerCreated",
        "ControllerView",
        "Count",
        "CreateJob",
        "CreateUser",
        "CredentialRecord",
        "CredentialSummary",
        "CriteriaBody",
        "DecideRequest",
        "DecideResponse",
        "DefaultFlag",
        "DenyCode",
        "DirectoryLink",
        "DirectoryRun",
        "Door",
        "DoorAccess",
        "DryRun",
        "EncodeBody",
        "Encoded",
        "EnrollBody",
        "Enrollment",
        "EnrollmentBody",
        "EraseBody",
        "EraseReport",
        "EventBatch",
        "EventPage",
        "EventResult",
        "EventStatus",
        "EventView",
        "ExplainRequest",
        "Explained",
        "ExpungeBody",
        "ExpungePreview",
        "Feed",
        "FeedEntry",
        "FeedKey",
        "FeedKind",
        "FeedLevel",
        "FeedRules",
        "HeldBinding",
        "HeldCredential",
        "Holiday",
        "ImportBody",
        "JobDetail",
        "JobState",
        "Level",
        "LevelGrant",
        "LevelSchedule",
        "LoginBody",
        "NewArea",
        "NewAssignment",
        "NewController",
        "NewDoor",
        "NewGrant",
        "NewHoliday",
        "NewLevel",
        "NewOperator",
        "NewSchedule",
        "NewSite",
        "NotErased",
        "OfflineEvent",
        "Operator",
        "OperatorView",
        "PasswordBody",
        "PasswordSet",
        "PatchUser",
        "PeopleQueryBody",
        "Problem",
        "PurgeDateBody",
        "PurgeJob",
        "PurgeOutcome",
        "PurgePlan",
        "QuarantinePage",
        "QuarantinedView",
        "ReaderInfo",
        "ReaderKind",
        "ReaderStatus",
        "RevokeBody",
        "Revoked",
        "Role",
        "RotateBody",
        "Rotated",
        "RulesCalendar",
        "RulesDoor",
        "RulesGrant",
        "RulesHoliday",
        "RulesLevel",
        "RulesSchedule",
        "RulesSite",
        "RunItem",
        "Schedule",
        "ScheduleBody",
        "Site",
        "Skipped",
        "Stats",
        "TapNotice",
        "TokenResponse",
        "TokenView",
        "Twin",
        "UploadResult",
        "UserRecord",
        "UserSummary",
        "WhoCan",
    ];
    assert_eq!(names, expected);
    // Field docs are the descriptions client authors read.
    let mut undescribed = Vec::new();
    for (name, schema) in schemas {
        let parts = schema["allOf"].as_array().cloned().unwrap_or_else(|| vec![schema.clone()]);
        for part in parts {
            for (field, p) in part["properties"].as_object().into_iter().flatten() {
                let described = [&p["description"], &p["oneOf"][0]["description"], &p["allOf"][0]["description"]]
                    .iter()
                    .any(|d| d.as_str().is_some_and(|d| !d.trim().is_empty()));
                if !described {
                    undescribed.push(format!("{name}.{field}"));
                }
            }
        }
    }
    assert!(undescribed.is_empty(), "fields without a description: {undescribed:?}");
}
