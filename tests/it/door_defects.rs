//! Issue 9/12 (15), must-be-true 4: the small defects of the controller
//! API a firmware integrator ran into, one regression test each.

use axum::http::{Method, StatusCode};
use serde_json::Value;

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
