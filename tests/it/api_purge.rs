//! Issue 5/5 over HTTP: purge jobs (dry run, 202 + the service's runner,
//! outcomes, the refused cancel, scoping), the erase flow, bulk purge
//! dates, and the new user fields.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use idms::store::Role;
use serde_json::{Value, json};

use crate::api::Api;

/// A person through the API, due for purge (the Api's clock is 2026-01-01).
async fn due(api: &Api, family: &str, extra: Value) -> String {
    let mut body = json!({"given_name": "Purge", "family_name": family, "purge_date": "2025-11-30",
        "record_type": "staff", "group": "library"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, v) = api.call(Method::POST, "/api/v1/users", Some(api.token(Role::Manager)), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn state_of(api: &Api, id: &str) -> String {
    let (_, v) = api.call(Method::GET, &format!("/api/v1/users/{id}"), Some(api.token(Role::Admin)), None).await;
    v["state"].as_str().unwrap().to_string()
}

async fn wait_completed(api: &Api, job: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, v) =
            api.call(Method::GET, &format!("/api/v1/purge-jobs/{job}"), Some(api.token(Role::Eraser)), None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        if v["state"] == "completed" {
            return v;
        }
        assert!(Instant::now() < deadline, "job {job} did not complete: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_planned_over_http_is_run_by_the_service_and_cannot_be_cancelled() {
    let api = Api::new();
    let eraser = api.token(Role::Eraser).to_string();
    let a = due(&api, "Alpha", json!({})).await;
    let b = due(&api, "Beta", json!({"balance": 20.5})).await;
    let c = due(&api, "Gamma", json!({"balance": 20.0, "unreturned_items": 1})).await;
    let later = due(&api, "Later", json!({"purge_date": "2025-12-31"})).await;
    let (s, _) = api.enroll(&a, "04A0A0A0").await;
    assert_eq!(s, StatusCode::CREATED);
    let criteria = json!({"grace_days": 7, "record_type": "staff", "waive_threshold": 20.0});

    // Dry run: the plan, nothing recorded or changed.
    let (s, v) = api
        .call(Method::POST, "/api/v1/purge-jobs", Some(&eraser), Some(json!({"criteria": criteria, "dry_run": true})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["dry_run"].as_bool(), v["selected_count"].as_u64(), v["skipped_count"].as_u64()),
        (Some(true), Some(1), Some(2))
    );
    assert_eq!(v["plan"]["selected"], json!([a]));
    let skipped: Vec<(String, Value)> = v["plan"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["user_id"].as_str().unwrap().to_string(), s["reasons"].clone()))
        .collect();
    assert!(skipped.contains(&(b.clone(), json!(["balance_over_threshold"]))), "{skipped:?}");
    assert!(skipped.contains(&(c.clone(), json!(["unreturned_items"]))), "{skipped:?}");
    assert!(!skipped.iter().any(|(id, _)| *id == later), "inside the grace period: not considered");
    assert_eq!(state_of(&api, &a).await, "active");
    let (_, list) = api.call(Method::GET, "/api/v1/purge-jobs", Some(&eraser), None).await;
    assert_eq!(list, json!([]));

    // The real job: 202 with its record and where to watch it.
    let (s, v) = api
        .call(Method::POST, "/api/v1/purge-jobs", Some(&eraser), Some(json!({"criteria": criteria, "dry_run": false})))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let job = v["id"].as_i64().unwrap();
    assert_eq!((v["selected"].as_u64(), v["skipped"].as_u64()), (Some(1), Some(2)));
    assert_eq!(v["criteria"]["waive_threshold"], json!(20.0));

    // Cancel is refused, whatever the job's state, with a problem that says so.
    let (s, p) = api.call(Method::POST, &format!("/api/v1/purge-jobs/{job}/cancel"), Some(&eraser), None).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("job_not_abortable")), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("cannot be aborted"), "{p}");
    let (s, p) = api.call(Method::POST, "/api/v1/purge-jobs/999999/cancel", Some(&eraser), None).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    let v = wait_completed(&api, job).await;
    assert_eq!((v["selected"].as_u64(), v["done"].as_u64(), v["expunged"].as_u64()), (Some(1), Some(1), Some(1)));
    assert!(v["completed_at"].is_string() && v["started_at"].is_string(), "{v}");
    let outcomes = v["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 3);
    let of = |id: &str| outcomes.iter().find(|o| o["user_id"] == id).unwrap().clone();
    assert_eq!((of(&a)["outcome"].as_str(), of(&a)["selected"].as_bool()), (Some("expunged"), Some(true)));
    assert_eq!(of(&b)["outcome"], "skipped");
    assert_eq!(of(&b)["reasons"], json!(["balance_over_threshold"]));
    assert_eq!(state_of(&api, &a).await, "expunged");
    assert_eq!(state_of(&api, &b).await, "active");
    // The card is free again.
    let (_, card) = api.call(Method::GET, "/api/v1/credentials/04A0A0A0", Some(api.token(Role::Viewer)), None).await;
    assert_eq!(card["state"], "in_stock", "{card}");
    // Completed jobs are still not cancellable; the history lists the job.
    let (s, _) = api.call(Method::POST, &format!("/api/v1/purge-jobs/{job}/cancel"), Some(&eraser), None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, list) = api.call(Method::GET, "/api/v1/purge-jobs", Some(&eraser), None).await;
    assert_eq!(list[0]["id"].as_i64(), Some(job));

    // Outcomes page by user ID.
    let (_, p1) = api.call(Method::GET, &format!("/api/v1/purge-jobs/{job}?limit=2"), Some(&eraser), None).await;
    assert_eq!(p1["outcomes"].as_array().unwrap().len(), 2);
    let after = p1["next_after"].as_str().unwrap();
    let (_, p2) =
        api.call(Method::GET, &format!("/api/v1/purge-jobs/{job}?limit=2&after={after}"), Some(&eraser), None).await;
    assert_eq!(p2["outcomes"].as_array().unwrap().len(), 1);
    assert!(p2["next_after"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_criteria_are_refused_without_a_job() {
    let api = Api::new();
    let eraser = api.token(Role::Eraser).to_string();
    for (body, code, needle) in [
        (json!({"criteria": {}, "dry_run": false}), "invalid_body", "grace_days"),
        (json!({"criteria": {"grace_days": -1}}), "invalid_body", "grace_days"),
        (json!({"criteria": {"grace_days": 1, "waive_threshold": 0.001}}), "invalid_input", "waive_threshold"),
        (json!({"criteria": {"grace_days": 1, "colour": "red"}}), "invalid_body", "colour"),
    ] {
        let (s, p) = api.call(Method::POST, "/api/v1/purge-jobs", Some(&eraser), Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {p}");
        assert_eq!(p["code"].as_str(), Some(code), "{body}: {p}");
        assert!(p["detail"].as_str().unwrap().contains(needle), "{body}: {p}");
    }
    assert!(api.store.purge_jobs(10).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_eraser_purges_only_their_unit() {
    let api = Api::new();
    let north = due(&api, "North", json!({"org_unit": "north"})).await;
    let south = due(&api, "South", json!({"org_unit": "south"})).await;
    let actor = crate::common::staff();
    api.store.add_operator(&actor, "north-eraser", Role::Eraser, Some("north"), None).unwrap();
    let (op, t) = api.store.create_token(&actor, "north-eraser", Role::Eraser, None).unwrap();
    assert_eq!(op.org_unit.as_deref(), Some("north"));

    let (s, _) = api
        .call(
            Method::POST,
            "/api/v1/purge-jobs",
            Some(&t),
            Some(json!({"criteria": {"grace_days": 0, "org_unit": "south"}})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) =
        api.call(Method::POST, "/api/v1/purge-jobs", Some(&t), Some(json!({"criteria": {"grace_days": 0}}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["criteria"]["org_unit"], "north");
    let job = v["id"].as_i64().unwrap();
    let done = wait_completed(&api, job).await;
    assert_eq!(done["expunged"].as_u64(), Some(1));
    assert_eq!(state_of(&api, &north).await, "expunged");
    assert_eq!(state_of(&api, &south).await, "active");
    // An unscoped eraser's job is not theirs to see.
    let other = api.store.create_purge_job(&actor, &idms::domain::purge::Criteria::default()).unwrap();
    let (s, _) = api.call(Method::GET, &format!("/api/v1/purge-jobs/{}", other.id), Some(&t), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = api.call(Method::GET, "/api/v1/purge-jobs", Some(&t), None).await;
    let ids: Vec<i64> = list.as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![job]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_erase_flow_lists_deleted_people_and_reports_each_one() {
    let api = Api::new();
    let eraser = api.token(Role::Eraser).to_string();
    let admin = api.token(Role::Admin).to_string();
    let gone = due(&api, "Gone", json!({})).await;
    let held = due(&api, "Held", json!({"legal_hold": true})).await;
    let alive = due(&api, "Alive", json!({})).await;
    for id in [&gone, &held] {
        let (s, _) = api.call(Method::POST, &format!("/api/v1/users/{id}/delete"), Some(&admin), None).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, v) = api.call(Method::GET, "/api/v1/users/deleted?deleted_from=2025-12-31", Some(&eraser), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut ids: Vec<String> = v.as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    let mut want = vec![gone.clone(), held.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert!(v[0]["deleted_at"].is_string());
    let (_, v) = api.call(Method::GET, "/api/v1/users/deleted?deleted_to=2025-12-31", Some(&eraser), None).await;
    assert_eq!(v, json!([]));
    let (_, v) = api.call(Method::GET, "/api/v1/users/deleted?q=gone", Some(&eraser), None).await;
    assert_eq!(v.as_array().unwrap().len(), 1);

    // One malformed ID refuses the whole request, names its position, never its value, erases nobody.
    let (s, p) = api
        .call(Method::POST, "/api/v1/users/erase", Some(&eraser), Some(json!({"ids": [gone, "Jane Secret-Name"]})))
        .await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")));
    assert!(p["detail"].as_str().unwrap().contains("entry 1") && !p.to_string().contains("Secret"), "{p}");
    assert_eq!(state_of(&api, &gone).await, "deleted");

    let (s, v) =
        api.call(Method::POST, "/api/v1/users/erase", Some(&eraser), Some(json!({"ids": [gone, held, alive]}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["erased"], json!([gone]));
    let codes: Vec<(String, String)> = v["not_erased"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["user_id"].as_str().unwrap().to_string(), n["code"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(codes, vec![(held.clone(), "legal_hold".into()), (alive.clone(), "holder_not_deleted".into())]);
    assert_eq!(state_of(&api, &gone).await, "expunged");
    let (s, _) = api.call(Method::POST, "/api/v1/users/erase", Some(&eraser), Some(json!({"ids": []}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_purge_dates_and_the_new_user_fields() {
    let api = Api::new();
    let manager = api.token(Role::Manager).to_string();
    let a =
        due(&api, "A", json!({"purge_date": null, "group": "visitors", "balance": 3.25, "unreturned_items": 2})).await;
    let b = due(&api, "B", json!({"purge_date": null, "group": "visitors"})).await;
    let c = due(&api, "C", json!({"purge_date": null, "group": "staff"})).await;
    let (_, u) = api.call(Method::GET, &format!("/api/v1/users/{a}"), Some(&manager), None).await;
    assert_eq!(
        (u["group"].as_str(), u["balance"].as_f64(), u["unreturned_items"].as_u64()),
        (Some("visitors"), Some(3.25), Some(2))
    );
    assert_eq!(u["record_type"], "staff");

    let (s, v) = api
        .call(
            Method::POST,
            "/api/v1/users/purge-date",
            Some(&manager),
            Some(json!({"purge_date": "2027-03-31", "query": {"group": "visitors"}})),
        )
        .await;
    assert_eq!((s, v["count"].as_u64()), (StatusCode::OK, Some(2)), "{v}");
    for (id, want) in [(&a, json!("2027-03-31")), (&b, json!("2027-03-31")), (&c, Value::Null)] {
        let (_, u) = api.call(Method::GET, &format!("/api/v1/users/{id}"), Some(&manager), None).await;
        assert_eq!(u["purge_date"], want, "{id}");
    }
    // Refused: no filter, an expunged state, a bad date — nothing changes.
    for body in [
        json!({"purge_date": "2027-03-31", "query": {}}),
        json!({"purge_date": "2027-03-31", "query": {"state": "expunged"}}),
        json!({"purge_date": "31/03/2027", "query": {"group": "staff"}}),
    ] {
        let (s, p) = api.call(Method::POST, "/api/v1/users/purge-date", Some(&manager), Some(body.clone())).await;
        assert_eq!((s, p["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")), "{body}: {p}");
    }
    let (_, u) = api.call(Method::GET, &format!("/api/v1/users/{c}"), Some(&manager), None).await;
    assert_eq!(u["purge_date"], Value::Null);
    // PATCH edits the new fields; null clears the group.
    let (s, u) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{a}"),
            Some(&manager),
            Some(json!({"group": null, "balance": 0, "unreturned_items": 0, "record_type": "contractor"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(
        (u["group"].clone(), u["balance"].as_f64(), u["record_type"].as_str()),
        (Value::Null, Some(0.0), Some("contractor"))
    );
    let (s, p) =
        api.call(Method::PATCH, &format!("/api/v1/users/{a}"), Some(&manager), Some(json!({"balance": 1.005}))).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")));
    // The trail has one entry for the bulk change, with the count.
    let audit = api.store.audit_entries(&idms::store::AuditQuery::default()).unwrap();
    let bulk: Vec<_> = audit.iter().filter(|e| e.action == "user.purge_date.bulk" && e.outcome == "ok").collect();
    assert_eq!(bulk.len(), 1);
    assert!(bulk[0].detail.contains("count=2"), "{}", bulk[0].detail);
}
