//! Issue 9/12 (15), must-be-true 4: the small defects of the controller
//! API a firmware integrator ran into, one regression test each.

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use idms::store::Role;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::api::Api;

/// `GET` a feed page as the `main` door's controller.
async fn feed(api: &Api, query: &str) -> (StatusCode, Value) {
    let path = format!("/api/v1/controllers/{}/credentials{query}", api.door.0);
    api.call(Method::GET, &path, Some(&api.door.1), None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_limit_of_zero_is_an_invalid_query() {
    let api = Api::new();
    let u = api.person("Zero").await;
    assert_eq!(api.enroll(&u, "04A1B2C3").await.0, StatusCode::CREATED);
    let (s, v) = feed(&api, "?limit=0").await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")), "{v}");
    assert!(v["detail"].as_str().unwrap().contains("limit"), "{v}");
    let (s, v) = feed(&api, "?limit=1").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["entries"].as_array().unwrap().len(), 1, "{v}");
}

/// The response to `method path` with an optional bearer token and JSON body.
async fn raw(api: &Api, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Response<Body> {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    api.app.clone().oneshot(req).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_401_says_www_authenticate_bearer_and_the_document_declares_it() {
    let api = Api::new();
    let feed = format!("/api/v1/controllers/{}/credentials", api.door.0);
    let decide = json!({"uid": "04A1B2C3", "door": "main"});
    let cases = [
        ("no token", Method::GET, feed.clone(), None, None),
        ("unknown token", Method::GET, feed, Some("idms_not_a_token"), None),
        ("no token, decide", Method::POST, "/api/v1/access/decide".into(), None, Some(decide)),
        ("staff route", Method::GET, "/api/v1/users".into(), None, None),
        (
            "wrong password",
            Method::POST,
            "/api/v1/login".into(),
            None,
            Some(json!({"name": "nobody", "password": "wrong wrong wrong"})),
        ),
    ];
    for (what, method, path, token, body) in cases {
        let res = raw(&api, method, &path, token, body).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"), "{what}");
    }
    // A 200 does not carry it.
    let res = raw(&api, Method::GET, "/api/v1/users", Some(api.token(Role::Admin)), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("www-authenticate").is_none());
    // Every documented 401 declares the header.
    let doc = serde_json::to_value(idms::api::openapi::document()).unwrap();
    let mut n = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(r) = op["responses"].get("401") {
                n += 1;
                assert!(
                    r["headers"].get("WWW-Authenticate").is_some(),
                    "{method} {path}: 401 without WWW-Authenticate"
                );
            }
        }
    }
    assert!(n > 20, "{n} documented 401s");
}

/// `POST /api/v1/access/decide` as the `main` door's controller.
async fn decide(api: &Api, body: Value) -> (StatusCode, Value) {
    api.call(Method::POST, "/api/v1/access/decide", Some(&api.door.1), Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uid_too_long_is_refused_with_its_real_length() {
    let api = Api::new();
    for bytes in [17usize, 20, 40] {
        let uid = "A5".repeat(bytes);
        let (s, v) = decide(&api, json!({"uid": uid, "door": "main"})).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("uid_wrong_length")), "{v}");
        let detail = v["detail"].as_str().unwrap();
        assert!(detail.ends_with(&format!("this one is {bytes}")), "{bytes} bytes: {detail}");
        // The same at enrolment.
        let u = api.person("Long").await;
        let (s, v) = api.enroll(&u, &uid).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("uid_wrong_length")), "{v}");
        assert!(v["detail"].as_str().unwrap().contains(&format!("this one is {bytes}")), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_or_body_that_does_not_fit_names_the_field_and_what_it_expects_not_serde() {
    let api = Api::new();
    let serde_words = ["Failed to deserialize", "invalid digit", "invalid type", "at line", "column", "u64", "usize"];
    let clean = |v: &Value| {
        let d = v["detail"].as_str().unwrap().to_string();
        for w in serde_words {
            assert!(!d.contains(w), "{w:?} in {d:?}");
        }
        d
    };
    for (query, want) in [
        ("?limit=abc", "query parameter `limit`: expected a whole number"),
        ("?limit=-1", "query parameter `limit`: expected a whole number"),
        ("?limit=99999999999999999999999", "query parameter `limit`: expected a whole number"),
    ] {
        let (s, v) = feed(&api, query).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")), "{query}: {v}");
        assert_eq!(clean(&v), want, "{query}");
    }
    // An unknown parameter: the known ones named, the unknown one not echoed.
    let (s, v) = feed(&api, "?sinse=Secretname").await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")), "{v}");
    let d = clean(&v);
    assert!(d.contains("`since`") && d.contains("`limit`") && !d.contains("sinse") && !d.contains("Secret"), "{d}");
    // JSON bodies: the field and its expected type.
    let (s, v) = decide(&api, json!({"uid": 4, "door": "main"})).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")), "{v}");
    assert_eq!(clean(&v), "field `uid` has the wrong type or an invalid value: expected a string");
    let (s, v) =
        api.call(Method::POST, "/api/v1/access/events", Some(&api.door.1), Some(json!({"events": "Secretname"}))).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")), "{v}");
    let d = clean(&v);
    assert_eq!(d, "field `events` has the wrong type or an invalid value: expected a list");
    // A whole-number field given text.
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/api/v1/controllers/{}/rotate-token", api.door.0),
            Some(api.token(Role::Admin)),
            Some(json!({"overlap_seconds": "Secretname"})),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")), "{v}");
    assert_eq!(clean(&v), "field `overlap_seconds` has the wrong type or an invalid value: expected a whole number");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uid_length_the_technology_cannot_have_is_refused_at_decide_not_unknown() {
    let api = Api::new();
    for (uid, technology) in [("04A1", "iso14443a"), ("04A1B2C3D4E5", "iso14443a"), ("04A1B2C3", "em4100")] {
        let (s, v) = decide(&api, json!({"uid": uid, "door": "main", "technology": technology})).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("uid_wrong_length")), "{uid}: {v}");
        let want = format!("this one is {}", uid.len() / 2);
        assert!(v["detail"].as_str().unwrap().contains(&want), "{v}");
    }
    // A length the technology allows, or no technology named: a decision.
    for body in
        [json!({"uid": "04A1B2C3", "door": "main", "technology": "iso14443a"}), json!({"uid": "04A1", "door": "main"})]
    {
        let (s, v) = decide(&api, body).await;
        assert_eq!((s, v["reason"].as_str()), (StatusCode::OK, Some("unknown_credential")), "{v}");
    }
    // The door is still checked first.
    let (s, v) = decide(&api, json!({"uid": "04A1", "door": "side", "technology": "iso14443a"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn door_names_match_exactly_and_a_wrong_door_names_the_controllers_doors() {
    let api = Api::new();
    for door in ["Main", "MAIN", "main ", "side"] {
        let (s, v) = decide(&api, json!({"uid": "04A1B2C3", "door": door})).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{door:?}: {v}");
        let d = v["detail"].as_str().unwrap();
        assert!(d.contains("(`main`)") && d.contains("case"), "{door:?}: {d}");
        assert!(!d.contains(door.trim()) || door.trim() == "main", "the door asked for is not echoed: {d}");
    }
    assert_eq!(decide(&api, json!({"uid": "04A1B2C3", "door": "main"})).await.0, StatusCode::OK);
    // The same at upload.
    let ev =
        json!({"event_id": "e1", "at": "2020-01-01T00:00:00Z", "door": "Main", "uid": "04A1B2C3", "decision": "grant"});
    let (s, v) =
        api.call(Method::POST, "/api/v1/access/events", Some(&api.door.1), Some(json!({"events": [ev]}))).await;
    // Refused on its own (one bad event never blocks the others) and kept in
    // the quarantine, where staff see the door it named.
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["results"][0],
        json!({"status": "rejected", "code": "forbidden", "field": "door", "quarantined": true})
    );
    // The contract says so, and the OpenAPI document too.
    let doc =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/controllers.md")).unwrap();
    assert!(doc.contains("Door names match exactly, case included"));
    let api_doc = serde_json::to_value(idms::api::openapi::document()).unwrap();
    for schema in ["DecideRequest", "OfflineEvent"] {
        let d = api_doc["components"]["schemas"][schema]["properties"]["door"]["description"].as_str().unwrap_or("");
        assert!(d.contains("case-sensitive"), "{schema}.door: {d:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_reads_its_feed_as_me_and_another_id_is_not_found() {
    let api = Api::new();
    let u = api.person("Me").await;
    assert_eq!(api.enroll(&u, "04A1B2C3").await.0, StatusCode::CREATED);
    let by_id = feed(&api, "?limit=5").await;
    let (s, me) = api.call(Method::GET, "/api/v1/controllers/me/credentials?limit=5", Some(&api.door.1), None).await;
    assert_eq!((s, by_id.0), (StatusCode::OK, StatusCode::OK), "{me}");
    assert_eq!(me, by_id.1, "me is the caller's own feed");
    assert_eq!(me["entries"].as_array().unwrap().len(), 1, "{me}");
    // The same query rules.
    let (s, v) = api.call(Method::GET, "/api/v1/controllers/me/credentials?limit=0", Some(&api.door.1), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")), "{v}");
    // Another controller's ID, an unknown one, or no number: 404.
    for id in [api.other_door.0.to_string(), "999999".into(), "main".into()] {
        let (s, v) =
            api.call(Method::GET, &format!("/api/v1/controllers/{id}/credentials"), Some(&api.door.1), None).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{id}: {v}");
    }
    // Staff tokens reach neither.
    for path in
        ["/api/v1/controllers/me/credentials".to_string(), format!("/api/v1/controllers/{}/credentials", api.door.0)]
    {
        let (s, _) = api.call(Method::GET, &path, Some(api.token(Role::Admin)), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    // `me` does not shadow the admin routes under /controllers/{id}.
    let (s, v) = api.call(Method::POST, "/api/v1/controllers/me/disable", Some(api.token(Role::Admin)), None).await;
    assert_ne!(v["code"].as_str(), Some("route_not_found"), "{s}: {v}");
}

/// The general rule (no path parameter the template does not name, for
/// every route) is `openapi::every_operation_declares_what_every_route_shares`,
/// since 7/12; this pins the feed's own parameters, which generated clients
/// got wrong.
#[test]
fn the_feeds_since_and_limit_are_query_parameters() {
    let doc = serde_json::to_value(idms::api::openapi::document()).unwrap();
    for (path, want) in [
        ("/api/v1/controllers/{id}/credentials", vec![("id", "path"), ("limit", "query"), ("since", "query")]),
        ("/api/v1/controllers/me/credentials", vec![("limit", "query"), ("since", "query")]),
    ] {
        let mut got: Vec<(&str, &str)> = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: no parameters"))
            .iter()
            .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
            .collect();
        got.sort_unstable();
        assert_eq!(got, want, "{path}");
    }
}
