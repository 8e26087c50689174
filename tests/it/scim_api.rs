//! Issue 17: the SCIM HTTP layer at `/scim/v2` in-process — what
//! scim2-tester does not look at: who may call it, SCIM error bodies, the
//! filters an identity provider sends, ETags and `If-Match`, the PATCH forms
//! Entra ID and Okta send, group membership seen from the person.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use idms::store::{AuditQuery, Role};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::api::Api;
use crate::common::staff;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

struct Res {
    status: StatusCode,
    body: Value,
    etag: Option<String>,
    location: Option<String>,
}

async fn call(
    api: &Api,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    if_match: Option<&str>,
) -> Res {
    let mut req = Request::builder().method(method).uri(path).header("host", "idms.test");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(m) = if_match {
        req = req.header("if-match", m);
    }
    let req = match body {
        Some(b) => req.header("content-type", "application/scim+json").body(Body::from(b.to_string())).unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let res = api.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let header = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    let (etag, location, ct) = (header("etag"), header("location"), header("content-type"));
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED {
        assert_eq!(ct.as_deref(), Some("application/scim+json"), "{status} {body}");
    }
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(body["schemas"], json!([ERROR]), "{body}");
        assert_eq!(body["status"], json!(status.as_u16().to_string()), "{body}");
    }
    Res { status, body, etag, location }
}

fn provisioner(api: &Api) -> String {
    api.store.create_token(&staff(), "entra", Role::Provisioner, None).unwrap().1
}

fn entra_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": external_id,
        "userName": user_name,
        "active": "True",
        "displayName": "ignored",
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "ignored"},
        "emails": [{"primary": true, "type": "work", "value": "ada@example.test"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": format!("emp-{external_id}"), "department": "Engines"},
        "title": "not kept"
    })
}

#[tokio::test]
async fn only_provisioner_tokens_reach_scim_and_refusals_are_scim_bodies() {
    let api = Api::new();
    let r = call(&api, Method::GET, "/scim/v2/Users", None, None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(&api, Method::GET, "/scim/v2/Users", Some("not-a-token"), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    for role in Role::ALL {
        let r = call(&api, Method::GET, "/scim/v2/ServiceProviderConfig", Some(api.token(role)), None, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{role}: {}", r.body);
    }
    let p = provisioner(&api);
    let r = call(&api, Method::GET, "/scim/v2/ServiceProviderConfig", Some(&p), None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["meta"]["location"], "http://idms.test/scim/v2/ServiceProviderConfig");
    // a provisioner reaches nothing else
    let (s, _) = api.call(Method::GET, "/api/v1/users", Some(&p), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn discovery_answers_get_only_and_unknown_paths_are_scim_404() {
    let api = Api::new();
    let p = provisioner(&api);
    for path in ["/scim/v2/ServiceProviderConfig", "/scim/v2/Schemas", "/scim/v2/ResourceTypes"] {
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let r = call(&api, m.clone(), path, Some(&p), Some(json!({})), None).await;
            assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
        }
    }
    let r = call(&api, Method::GET, "/scim/v2/Schemas", Some(&p), None, None).await;
    assert_eq!(r.body["totalResults"], 3);
    let r = call(&api, Method::GET, "/scim/v2/ResourceTypes/User", Some(&p), None, None).await;
    assert_eq!(r.body["endpoint"], "/Users");
    assert_eq!(call(&api, Method::GET, "/scim/v2/Devices", Some(&p), None, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        call(&api, Method::GET, "/scim/v2/Schemas/urn:nope", Some(&p), None, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&api, Method::GET, "/scim/v2/Users/NOTANID", Some(&p), None, None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn create_filter_etag_if_match_delete() {
    let api = Api::new();
    let p = provisioner(&api);
    let r =
        call(&api, Method::POST, "/scim/v2/Users", Some(&p), Some(entra_user("Ada@Example.test", "ent-1")), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.location.as_deref(), Some(format!("http://idms.test/scim/v2/Users/{id}").as_str()));
    assert_eq!(r.etag.as_deref(), r.body["meta"]["version"].as_str());
    assert!(r.etag.as_deref().unwrap().starts_with("W/\""));
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["displayName"], "Ada Lovelace", "derived, not the client's");
    assert_eq!(r.body["emails"], json!([{"value": "ada@example.test", "type": "work"}]));
    assert_eq!(r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"], "Engines");
    assert!(r.body.get("title").is_none());
    let v1 = r.etag.unwrap();

    // Entra and Okta look people up before every create
    let q = |f: &str| format!("/scim/v2/Users?filter={}", f.replace(' ', "%20").replace('"', "%22"));
    let r = call(&api, Method::GET, &q(r#"userName eq "ada@example.TEST""#), Some(&p), None, None).await;
    assert_eq!((r.body["totalResults"].as_u64(), r.body["Resources"][0]["id"].as_str()), (Some(1), Some(id.as_str())));
    let r = call(&api, Method::GET, &q(r#"externalId eq "ent-1""#), Some(&p), None, None).await;
    assert_eq!(r.body["totalResults"], 1);
    let r = call(&api, Method::GET, &q(r#"externalId eq "ENT-1""#), Some(&p), None, None).await;
    assert_eq!(r.body["totalResults"], 0, "externalId is caseExact");
    let r = call(
        &api,
        Method::GET,
        &q(r#"emails[type eq "work" and value co "@example.test"] and active eq true"#),
        Some(&p),
        None,
        None,
    )
    .await;
    assert_eq!(r.body["totalResults"], 1);
    let r = call(&api, Method::GET, &q(r#"userName eq "ada" or"#), Some(&p), None, None).await;
    assert_eq!((r.status, r.body["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidFilter")));
    let r =
        call(&api, Method::GET, "/scim/v2/Users?attributes=userName&count=1&startIndex=0", Some(&p), None, None).await;
    let first = &r.body["Resources"][0];
    assert_eq!((r.body["itemsPerPage"].as_u64(), r.body["startIndex"].as_u64()), (Some(1), Some(1)));
    assert!(first.get("userName").is_some() && first.get("id").is_some() && first.get("emails").is_none(), "{first}");

    // a second create with the same userName or externalId
    let r =
        call(&api, Method::POST, "/scim/v2/Users", Some(&p), Some(entra_user("ada@example.test", "ent-2")), None).await;
    assert_eq!((r.status, r.body["scimType"].as_str()), (StatusCode::CONFLICT, Some("uniqueness")), "{}", r.body);
    let r = call(&api, Method::POST, "/scim/v2/Users", Some(&p), Some(entra_user("other@example.test", "ent-1")), None)
        .await;
    assert_eq!((r.status, r.body["scimType"].as_str()), (StatusCode::CONFLICT, Some("uniqueness")), "{}", r.body);

    // If-Match
    let path = format!("/scim/v2/Users/{id}");
    let patch =
        json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "name.familyName", "value": "Byron"}]});
    let r = call(&api, Method::PATCH, &path, Some(&p), Some(patch.clone()), Some(&v1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v2 = r.etag.unwrap();
    assert_ne!(v1, v2);
    assert_eq!(r.body["name"]["familyName"], "Byron");
    let r = call(&api, Method::PATCH, &path, Some(&p), Some(patch), Some(&v1)).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "stale version");
    let r = call(&api, Method::DELETE, &path, Some(&p), None, Some(&v1)).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = call(&api, Method::DELETE, &path, Some(&p), None, Some(&v2)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(call(&api, Method::GET, &path, Some(&p), None, None).await.status, StatusCode::NOT_FOUND);
    // deleted: the same externalId is refused and creates nothing
    let r =
        call(&api, Method::POST, "/scim/v2/Users", Some(&p), Some(entra_user("new@example.test", "ent-1")), None).await;
    assert_eq!((r.status, r.body["scimType"].as_str()), (StatusCode::CONFLICT, Some("uniqueness")), "{}", r.body);
    let r = call(&api, Method::GET, &q(r#"userName eq "new@example.test""#), Some(&p), None, None).await;
    assert_eq!(r.body["totalResults"], 0);
}

#[tokio::test]
async fn entra_and_okta_patch_forms_over_http() {
    let api = Api::new();
    let p = provisioner(&api);
    let r =
        call(&api, Method::POST, "/scim/v2/Users", Some(&p), Some(entra_user("b@example.test", "ent-b")), None).await;
    let path = format!("/scim/v2/Users/{}", r.body["id"].as_str().unwrap());
    let send = |ops: Value| json!({"schemas": [PATCH], "Operations": ops});
    // Entra: a string boolean
    let r = call(
        &api,
        Method::PATCH,
        &path,
        Some(&p),
        Some(send(json!([{"op": "Replace", "path": "active", "value": "False"}]))),
        None,
    )
    .await;
    assert_eq!((r.status, r.body["active"].as_bool()), (StatusCode::OK, Some(false)), "{}", r.body);
    assert_eq!(call(&api, Method::GET, &path, Some(&p), None, None).await.body["active"], false);
    // Okta: replace without a path
    let r = call(
        &api,
        Method::PATCH,
        &path,
        Some(&p),
        Some(send(json!([{"op": "replace", "value": {"active": true}}]))),
        None,
    )
    .await;
    assert_eq!(r.body["active"], true, "{}", r.body);
    // Entra: dotted and URN keys, a work email through a value filter
    let r = call(
        &api,
        Method::PATCH,
        &path,
        Some(&p),
        Some(send(json!([
            {"op": "Replace", "value": {"name.givenName": "Bea", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "77"}},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "bea@example.test"},
            {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+44 20 7946 0000"}
        ]))),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"]["givenName"], "Bea");
    assert_eq!(r.body["emails"], json!([{"value": "bea@example.test", "type": "work"}]));
    assert_eq!(r.body["phoneNumbers"], json!([{"value": "+44 20 7946 0000", "type": "work"}]));
    assert_eq!(r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"], "77");
    // errors keep their SCIM keyword
    let r = call(
        &api,
        Method::PATCH,
        &path,
        Some(&p),
        Some(send(json!([{"op": "replace", "path": "id", "value": "X"}]))),
        None,
    )
    .await;
    assert_eq!((r.status, r.body["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("mutability")));
    let r = call(&api, Method::PATCH, &path, Some(&p), Some(send(json!([{"op": "remove"}]))), None).await;
    assert_eq!(r.body["scimType"], "noTarget");
    let r = call(
        &api,
        Method::PATCH,
        &path,
        Some(&p),
        Some(send(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]))),
        None,
    )
    .await;
    assert_eq!(r.body["scimType"], "invalidPath");
    let r = call(&api, Method::PATCH, &path, Some(&p), Some(json!("not an object")), None).await;
    assert_eq!(r.body["scimType"], "invalidSyntax");
}

#[tokio::test]
async fn group_membership_through_patch_and_seen_on_the_person() {
    let api = Api::new();
    let p = provisioner(&api);
    let mut ids = Vec::new();
    for n in ["c1", "c2", "c3"] {
        let r = call(
            &api,
            Method::POST,
            "/scim/v2/Users",
            Some(&p),
            Some(entra_user(&format!("{n}@example.test"), n)),
            None,
        )
        .await;
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let r = call(
        &api,
        Method::POST,
        "/scim/v2/Groups",
        Some(&p),
        Some(json!({"schemas": [GROUP], "displayName": "Night shift", "externalId": "g-1", "members": [{"value": ids[0]}]})),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let gid = r.body["id"].as_str().unwrap().to_owned();
    let gpath = format!("/scim/v2/Groups/{gid}");
    let send = |ops: Value| json!({"schemas": [PATCH], "Operations": ops});
    let r = call(
        &api,
        Method::PATCH,
        &gpath,
        Some(&p),
        Some(send(json!([{"op": "Add", "path": "members", "value": [{"value": ids[1]}, {"value": ids[2]}]}]))),
        None,
    )
    .await;
    assert_eq!(r.body["members"].as_array().map(Vec::len), Some(3), "{}", r.body);
    let r = call(
        &api,
        Method::PATCH,
        &gpath,
        Some(&p),
        Some(send(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])}]))),
        None,
    )
    .await;
    let mut members: Vec<&str> =
        r.body["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    members.sort_unstable();
    let mut want = [ids[1].as_str(), ids[2].as_str()];
    want.sort_unstable();
    assert_eq!(members, want);
    // Entra: remove with a value list
    let r = call(
        &api,
        Method::PATCH,
        &gpath,
        Some(&p),
        Some(send(json!([{"op": "Remove", "path": "members", "value": [{"value": ids[2]}]}]))),
        None,
    )
    .await;
    assert_eq!(
        r.body["members"],
        json!([{"value": ids[1], "$ref": format!("http://idms.test/scim/v2/Users/{}", ids[1])}])
    );
    // the person lists the group
    let r = call(&api, Method::GET, &format!("/scim/v2/Users/{}", ids[1]), Some(&p), None, None).await;
    assert_eq!(
        r.body["groups"],
        json!([{"value": gid, "$ref": format!("http://idms.test{gpath}"), "display": "Night shift"}])
    );
    // Entra looks groups up by name
    let r =
        call(&api, Method::GET, "/scim/v2/Groups?filter=displayName%20eq%20%22night%20SHIFT%22", Some(&p), None, None)
            .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    let r = call(
        &api,
        Method::POST,
        "/scim/v2/Groups",
        Some(&p),
        Some(json!({"schemas": [GROUP], "displayName": "Night shift"})),
        None,
    )
    .await;
    assert_eq!((r.status, r.body["scimType"].as_str()), (StatusCode::CONFLICT, Some("uniqueness")), "{}", r.body);
    let r = call(
        &api,
        Method::POST,
        "/scim/v2/Groups",
        Some(&p),
        Some(json!({"schemas": [GROUP], "displayName": "X", "members": [{"value": "nope"}]})),
        None,
    )
    .await;
    assert_eq!(r.body["scimType"], "invalidValue");
    assert_eq!(call(&api, Method::DELETE, &gpath, Some(&p), None, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(call(&api, Method::GET, &gpath, Some(&p), None, None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_write_refused_while_parsing_is_audited_with_its_code() {
    let api = Api::new();
    let p = provisioner(&api);
    let r =
        call(&api, Method::POST, "/scim/v2/Users", Some(&p), Some(entra_user("d@example.test", "ent-d")), None).await;
    let path = format!("/scim/v2/Users/{}", r.body["id"].as_str().unwrap());
    let patch = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "id", "value": "X"}]});
    assert_eq!(call(&api, Method::PATCH, &path, Some(&p), Some(patch), None).await.status, StatusCode::BAD_REQUEST);
    let mut no_name = entra_user("e@example.test", "ent-e");
    no_name["name"] = json!({"givenName": "E"});
    assert_eq!(
        call(&api, Method::POST, "/scim/v2/Users", Some(&p), Some(no_name), None).await.status,
        StatusCode::BAD_REQUEST
    );
    // a read refused is not a write: not audited
    assert_eq!(
        call(&api, Method::GET, "/scim/v2/Users?filter=x%20eq", Some(&p), None, None).await.status,
        StatusCode::BAD_REQUEST
    );
    assert!(api.state.flush_refusals(std::time::Duration::from_secs(10)).await);
    let refused: Vec<_> = api
        .store
        .audit_entries(&AuditQuery { limit: Some(10_000), ..AuditQuery::default() })
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "api.refused")
        .collect();
    let mut seen: Vec<(String, String)> = refused.iter().map(|e| (e.outcome.clone(), e.detail.clone())).collect();
    seen.sort();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].0, "invalid_value");
    assert!(seen[0].1.starts_with("POST /scim/v2/Users"), "{seen:?}");
    assert_eq!(seen[1].0, "mutability");
    assert!(seen[1].1.starts_with("PATCH /scim/v2/Users/{id}"), "{seen:?}");
    assert!(refused.iter().all(|e| !e.detail.contains("example.test")), "no personal data");
    // /metrics names the SCIM routes
    let text = api.state.metrics.render(0, 0);
    assert!(text.contains("method=\"PATCH\",route=\"/scim/v2/Users/{id}\",status=\"400\"} 1"), "{text}");
}
