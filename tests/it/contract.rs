//! Issue 9/12 (15), must-be-true 5: the OpenAPI document agrees with the
//! door-controller contract (`docs/controllers.md`). The document is also
//! validated by a standard validator (`openapi-spec-validator` in
//! `scripts/openapi-check.sh`, run by `make test`).

use idms::domain::DenyReason;
use serde_json::Value;

fn contract() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/controllers.md")).unwrap()
}

fn document() -> Value {
    serde_json::to_value(idms::api::openapi::document()).unwrap()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

/// The backticked first cell of each row of the table under `heading`.
fn table_codes(doc: &str, heading: &str, column: usize) -> Vec<String> {
    let start = doc.find(heading).unwrap_or_else(|| panic!("{heading} missing"));
    doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .filter_map(|l| l.split('|').nth(column).and_then(|c| c.split('`').nth(1)).map(str::to_string))
        .collect()
}

#[test]
fn the_deny_reasons_are_one_enum_in_the_document_in_the_order_they_win() {
    let doc = document();
    let codes: Vec<String> = DenyReason::BY_PRECEDENCE.iter().map(|r| r.code().to_string()).collect();
    let mut all: Vec<String> = DenyReason::ALL.iter().map(|r| r.code().to_string()).collect();
    let mut by_precedence = codes.clone();
    all.sort();
    by_precedence.sort();
    assert_eq!(all, by_precedence, "BY_PRECEDENCE holds every reason once");
    let enumerated: Vec<String> =
        schema(&doc, "DenyCode")["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(enumerated, codes, "the document's enum is every reason, in the order they win");
    assert_eq!(table_codes(&contract(), "### Deny reasons, and which one wins", 2), codes, "the contract's table");
    // Every place a reason appears points at the enum.
    for (name, field) in [("DecideResponse", "reason"), ("EventView", "reason"), ("OfflineEvent", "reason")] {
        let s = serde_json::to_string(&schema(&doc, name)["properties"][field]).unwrap();
        assert!(s.contains("#/components/schemas/DenyCode"), "{name}.{field}: {s}");
    }
}

#[test]
fn the_upload_results_are_the_contracts() {
    let doc = document();
    assert!(
        schema(&doc, "EventResult")["properties"]["status"].to_string().contains("#/components/schemas/EventStatus")
    );
    let statuses: Vec<String> = schema(&doc, "EventStatus")["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, table_codes(&contract(), "**Every event gets its own result**", 1));
    let upload = &doc["paths"]["/api/v1/access/events"]["post"];
    assert!(upload["responses"]["200"].to_string().contains("UploadResult"));
    let batch = schema(&doc, "EventBatch");
    assert!(
        batch["properties"]["sent_at"].is_object()
            && batch["properties"]["events"].to_string().contains("OfflineEvent")
    );
    let c = contract();
    assert!(c.contains(&format!("at most **{} events**", idms::ops::doors::MAX_UPLOAD).replace("1000", "1,000")));
}

#[test]
fn the_feed_is_staged_and_paged_by_query_parameters_as_the_contract_says() {
    let doc = document();
    let c = contract();
    let page = schema(&doc, "Feed")["properties"]["page"]["description"].as_str().unwrap().to_string();
    assert!(page.contains("Stage") && !page.contains("page 0 replaces"), "{page}");
    assert!(c.contains("**Stage** the pages") && c.contains("`more: false`"));
    for path in ["/api/v1/controllers/me/credentials", "/api/v1/controllers/{id}/credentials"] {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        for name in ["since", "limit"] {
            let p = params.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{path} {name}"));
            assert_eq!(p["in"], "query", "{path} {name}");
        }
    }
    assert!(c.contains("Both are query parameters"));
    // Every route the contract names is in the document.
    for (method, path) in [
        ("post", "/api/v1/access/decide"),
        ("get", "/api/v1/controllers/me/credentials"),
        ("get", "/api/v1/controllers/{id}/credentials"),
        ("post", "/api/v1/access/events"),
        ("get", "/api/v1/access/quarantine"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
        assert!(c.contains(&format!("`{} {path}", method.to_uppercase())), "{method} {path} not in the contract");
    }
}

#[test]
fn the_contract_version_is_the_same_on_the_page_and_in_the_document() {
    let doc = document();
    let v = idms::api::doors::CONTRACT_VERSION;
    assert_eq!(doc["info"]["x-idms-contract"], v);
    assert!(contract().contains(&format!("**Contract version {v}.**")));
    let (major, minor) = v.split_once('.').unwrap();
    assert!(major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok(), "{v}");
}
