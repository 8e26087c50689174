//! The OpenAPI document is complete and true: every response described,
//! every error `application/problem+json` with the `Problem` schema, the
//! statuses every route shares declared (401/403 with security; 400, 413,
//! 415 with a JSON body; 400 with query parameters; 404 with path
//! parameters; 500 and 503 everywhere), query parameters `in: query` — and
//! what the handlers really answer to the mechanical refusals (no token, a
//! body that is not JSON, too large or malformed, an unknown query
//! parameter, a malformed path ID) is declared for each route.
//!
//! `make openapi-check` goes further: openapi-spec-validator, and
//! schemathesis against a real `idms serve`.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use idms::store::Role;
use serde_json::Value;

use crate::api::Api;

const PROBLEM: &str = "application/problem+json";
const PROBLEM_REF: &str = "#/components/schemas/Problem";

/// One documented operation.
struct Op {
    method: Method,
    path: String,
    doc: Value,
}

impl Op {
    fn statuses(&self) -> BTreeSet<u16> {
        self.doc["responses"].as_object().unwrap().keys().map(|k| k.parse().unwrap()).collect()
    }

    fn secured(&self) -> bool {
        self.doc["security"].as_array().is_some_and(|s| !s.is_empty())
    }

    fn has_body(&self) -> bool {
        self.doc.get("requestBody").is_some()
    }

    fn params_in(&self, place: &str) -> Vec<String> {
        self.doc["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == place)
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

async fn documented(api: &Api) -> Vec<Op> {
    let (s, doc) = api.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    // `idms openapi` prints the same document the service serves.
    assert_eq!(serde_json::to_value(idms::api::openapi::document()).unwrap(), doc);
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Ok(m) = method.to_uppercase().parse::<Method>()
                && ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str())
            {
                ops.push(Op { method: m, path: path.clone(), doc: op.clone() });
            }
        }
    }
    assert!(ops.len() >= 56, "{} operations", ops.len());
    ops
}

/// Path parameters named in the template, `{id}` → `id`.
fn template_vars(path: &str) -> Vec<String> {
    path.split('{').skip(1).map(|s| s.split('}').next().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_declares_what_every_route_shares() {
    let api = Api::new();
    let mut wrong = Vec::new();
    for op in documented(&api).await {
        let name = op.name();
        let statuses = op.statuses();
        let mut need = vec![500, 503, 507];
        if op.secured() {
            need.extend([401, 403]);
        }
        if op.has_body() {
            need.extend([400, 413, 415]);
            if op.doc["requestBody"]["content"].get("application/json").is_none() {
                wrong.push(format!("{name}: the body is not declared application/json"));
            }
        }
        if !op.params_in("query").is_empty() {
            need.push(400);
        }
        let mut vars = template_vars(&op.path);
        if !vars.is_empty() {
            need.push(404);
        }
        for s in need {
            if !statuses.contains(&s) {
                wrong.push(format!("{name}: {s} not declared"));
            }
        }
        // A parameter is in the path only if the template names it, and
        // every name in the template is a path parameter.
        let mut in_path = op.params_in("path");
        in_path.sort();
        vars.sort();
        if in_path != vars {
            wrong.push(format!("{name}: path parameters {in_path:?}, template {vars:?}"));
        }
        for (status, r) in op.doc["responses"].as_object().unwrap() {
            let code: u16 = status.parse().unwrap();
            if r["description"].as_str().is_none_or(|d| d.trim().is_empty()) {
                wrong.push(format!("{name} {status}: no description"));
            }
            let content = r["content"].as_object();
            if code >= 400 {
                let types: Vec<&String> = content.into_iter().flat_map(|c| c.keys()).collect();
                let schema = content.map(|c| &c[PROBLEM]["schema"]["$ref"]);
                if types != [PROBLEM] || schema.is_none_or(|s| s != PROBLEM_REF) {
                    wrong.push(format!("{name} {status}: {types:?}, not only {PROBLEM} with the Problem schema"));
                }
            } else if content.is_some_and(|c| c.contains_key(PROBLEM)) {
                wrong.push(format!("{name} {status}: a success declared as a problem"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A request that a route must refuse, and the status it must refuse it
/// with (any 4xx when `None`).
struct Try<'a> {
    what: &'static str,
    path: String,
    token: Option<&'a str>,
    body: Option<Vec<u8>>,
    content_type: &'static str,
    want: Option<StatusCode>,
}

/// `path` with every `{name}` replaced by `value`.
fn fill(path: &str, value: &str) -> String {
    template_vars(path).iter().fold(path.to_string(), |p, v| p.replace(&format!("{{{v}}}"), value))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mechanical_refusals_of_every_route_are_declared() {
    let api = Api::new();
    let admin = api.token(Role::Admin).to_string();
    let door = api.door.1.clone();
    let mut undeclared = Vec::new();
    let mut sent = 0;
    for op in documented(&api).await {
        let declared = op.statuses();
        let token = op.secured().then(|| if op.doc["tags"][0] == "doors" { door.as_str() } else { admin.as_str() });
        let path = fill(&op.path, "1");
        let json = op.has_body().then(|| b"{}".to_vec());
        let refuse = |what, path: &str, token, body: Option<&[u8]>, content_type, want| Try {
            what,
            path: path.to_string(),
            token,
            body: body.map(<[u8]>::to_vec),
            content_type,
            want,
        };
        let mut tries = Vec::new();
        if op.secured() {
            let unknown = "idms_op_0000000000000000000000000000000000000000000000000000000000000000";
            let want = Some(StatusCode::UNAUTHORIZED);
            tries.push(refuse("no token", &path, None, json.as_deref(), "application/json", want));
            tries.push(refuse("an unknown token", &path, Some(unknown), json.as_deref(), "application/json", want));
        }
        if op.has_body() {
            let (bad, too_large) = (Some(StatusCode::BAD_REQUEST), Some(StatusCode::PAYLOAD_TOO_LARGE));
            // Past every route's limit (uploads of offline events have the largest).
            let mut big = b"{\"x\":\"".to_vec();
            big.resize(idms::api::MAX_UPLOAD_BODY.max(idms::api::MAX_IMPORT_BODY) + 16, b'a');
            let text = Some(StatusCode::UNSUPPORTED_MEDIA_TYPE);
            tries.push(refuse("a text body", &path, token, Some(b"{}"), "text/plain", text));
            tries.push(refuse("malformed JSON", &path, token, Some(b"{\"a\":"), "application/json", bad));
            tries.push(refuse("a JSON array", &path, token, Some(b"[1]"), "application/json", bad));
            tries.push(refuse("an oversize body", &path, token, Some(&big), "application/json", too_large));
        }
        if !op.params_in("query").is_empty() {
            let with_query = format!("{path}?zz_unknown=1");
            let bad = Some(StatusCode::BAD_REQUEST);
            tries.push(refuse(
                "an unknown query parameter",
                &with_query,
                token,
                json.as_deref(),
                "application/json",
                bad,
            ));
        }
        if op.path.contains('{') {
            let malformed = fill(&op.path, "n%C3%B8pe%20x");
            tries.push(refuse("a malformed path ID", &malformed, token, json.as_deref(), "application/json", None));
        }
        for t in tries {
            let (status, v) = api.call_raw(op.method.clone(), &t.path, t.token, t.body, t.content_type).await;
            sent += 1;
            let what = t.what;
            if let Some(want) = t.want {
                assert_eq!(status, want, "{} with {what}: {v}", op.name());
            } else {
                assert!(status.is_client_error(), "{} with {what}: {status} {v}", op.name());
            }
            if !declared.contains(&status.as_u16()) {
                undeclared.push(format!("{} answers {status} to {what} ({})", op.name(), v["code"]));
            }
        }
    }
    assert!(sent > 150, "{sent} requests");
    assert!(undeclared.is_empty(), "{undeclared:#?}");
}

/// Issue 15: the feed's entries may leave out null fields and
/// `ambiguous: false`, and a page may leave out `removed` — the document
/// says so (not required), and describes `removed`'s keys, so a generated
/// client accepts what the service sends.
#[test]
fn the_feed_schemas_show_what_may_be_absent() {
    let doc = serde_json::to_value(idms::api::openapi::document()).unwrap();
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let required = |name: &str| -> BTreeSet<String> {
        schema(name)["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    let props =
        |name: &str| -> BTreeSet<String> { schema(name)["properties"].as_object().unwrap().keys().cloned().collect() };
    let set = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| s.to_string()).collect() };

    let entry = set(&[
        "technology",
        "uid",
        "state",
        "user_id",
        "holder_state",
        "valid_from",
        "valid_to",
        "ambiguous",
        "levels",
    ]);
    assert_eq!(props("FeedEntry"), entry);
    assert_eq!(required("FeedEntry"), set(&["technology", "uid", "state"]), "{}", schema("FeedEntry"));
    assert_eq!(schema("FeedEntry")["properties"]["ambiguous"]["default"], false);
    assert_eq!(props("Feed"), set(&["kind", "page", "more", "cursor", "entries", "removed", "rules"]));
    assert_eq!(required("Feed"), set(&["kind", "page", "more", "cursor", "entries"]), "{}", schema("Feed"));
    assert_eq!(schema("Feed")["properties"]["removed"]["items"]["$ref"], "#/components/schemas/FeedKey");
    assert_eq!(props("FeedKey"), set(&["technology", "uid"]));
    assert_eq!(required("FeedKey"), set(&["technology", "uid"]));
    // Issue 16: an entry's levels (each window end may be absent), and the rules.
    assert_eq!(schema("FeedEntry")["properties"]["levels"]["items"]["$ref"], "#/components/schemas/FeedLevel");
    assert_eq!(props("FeedLevel"), set(&["id", "from", "to"]));
    assert_eq!(required("FeedLevel"), set(&["id"]));
    assert_eq!(props("FeedRules"), set(&["doors", "sites", "calendars", "schedules", "levels"]));
    assert_eq!(required("FeedRules"), props("FeedRules"));
    assert_eq!(required("RulesSchedule"), set(&["id", "site", "intervals", "on_holiday"]));
    assert_eq!(required("RulesHoliday"), set(&["date", "type"]));
    assert_eq!(required("RulesSite"), set(&["id", "tz", "offsets"]));
}
