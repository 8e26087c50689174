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

// ---------------------------------------------------------------------------
// Test vectors: docs/contract/vectors.json.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{Method, StatusCode};
use idms::domain::{Decision, RetireReason, Technology, Timestamp, Uid, UserId};
use idms::store::{NewUser, UserPatch};
use serde_json::json;

use crate::api::Api;
use crate::common::{Fixture, T0, staff};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// The vectors file.
fn vectors_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/contract/vectors.json")
}

/// Every page of the feed from `since` (a snapshot when `None`), `limit` a page.
async fn pages(api: &Api, since: Option<&str>, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut since = since.map(str::to_string);
    loop {
        let q = since.as_ref().map_or(String::new(), |c| format!("&since={c}"));
        let (s, v) = api
            .call(Method::GET, &format!("/api/v1/controllers/me/credentials?limit={limit}{q}"), Some(&api.door.1), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        since = Some(v["cursor"].as_str().unwrap().to_string());
        let more = v["more"] == true;
        out.push(v);
        if !more {
            return out;
        }
    }
}

/// The `(technology, uid)` keys a controller holds after applying `pages`
/// to `held` as the contract says (stage a snapshot; upsert and remove a delta).
fn apply(held: &mut BTreeSet<(String, String)>, pages: &[Value]) {
    let key = |e: &Value| (e["technology"].as_str().unwrap().to_string(), e["uid"].as_str().unwrap().to_string());
    if pages[0]["kind"] == "snapshot" {
        held.clear();
    }
    for p in pages {
        for e in p["entries"].as_array().unwrap() {
            held.insert(key(e));
        }
        for e in p["removed"].as_array().map_or(&[][..], Vec::as_slice) {
            held.remove(&key(e));
        }
    }
}

/// The decision the offline rule must give for `(technology, uid)` at door
/// `main` at `at`, from what the service answers at that moment: the same,
/// except that bytes the controller does not hold are `unknown_credential`
/// (the service then denies too).
fn expected(api: &Api, held: &BTreeSet<(String, String)>, technology: Option<&str>, uid: &str, at: Timestamp) -> Value {
    let t = technology.map(|t| Technology::from_name_opt(Some(t)).unwrap().unwrap());
    let u = Uid::parse_any(uid).unwrap();
    let d = api.store.index().decide_at_door(t, &u, "main", at);
    let (decision, holder) = (d.decision, d.holder);
    let hex = u.to_string();
    let known = held.iter().any(|(tech, h)| *h == hex && technology.is_none_or(|x| x == tech));
    if !known {
        assert!(matches!(decision, Decision::Deny(_)), "{uid} is not in the list but the service grants it");
        return json!({"decision": "deny", "reason": "unknown_credential", "user_id": null});
    }
    json!({"decision": decision.as_str(), "reason": decision.reason().map(|r| r.code()), "user_id": holder.map(|h| h.to_string())})
}

/// Replaces each user ID (12 characters of 0-9 and A-Z) and cursor by a
/// stable stand-in in order of first appearance, so the file does not
/// change with the random IDs of each run.
fn normalise(v: &mut Value, ids: &mut [BTreeMap<String, String>; 2], ids_seen: &[String]) {
    let stand_in = |map: &mut BTreeMap<String, String>, s: &mut String, name: fn(usize) -> String| {
        let n = map.len() + 1;
        *s = map.entry(s.clone()).or_insert_with(|| name(n)).clone();
    };
    match v {
        Value::String(s) if ids_seen.contains(s) => stand_in(&mut ids[0], s, |n| format!("U{n:011}")),
        Value::Array(a) => a.iter_mut().for_each(|x| normalise(x, ids, ids_seen)),
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                match x {
                    Value::String(s) if k == "cursor" => stand_in(&mut ids[1], s, |n| format!("cursor-{n}")),
                    _ => normalise(x, ids, ids_seen),
                }
            }
        }
        _ => {}
    }
}

/// Builds the vectors from a running service: a snapshot in pages, then a
/// delta after staff changes, each followed by the decisions at chosen times.
async fn build_vectors() -> Value {
    let fx = Fixture::new();
    fx.clock.set(T0);
    let person = |valid_from: Option<i64>, valid_to: Option<i64>| {
        let mut n: NewUser = crate::common::new_user("Vector", "Person");
        n.valid_from = valid_from.map(|s| Timestamp(T0.0 + s));
        n.valid_to = valid_to.map(|s| Timestamp(T0.0 + s));
        fx.store.create_user(&staff(), n).unwrap().id
    };
    // A twin from before the one-holder rule: the same bytes held by two people.
    let (twin_a, twin_b) = (person(None, None), person(None, None));
    fx.enroll(twin_a, "04777777").unwrap();
    crate::twins::force_twin(&fx.db_path(), &Uid::parse_for(Technology::Other, "04777777").unwrap(), twin_b);
    let ids: Vec<UserId> = vec![twin_a, twin_b];
    let api = Api::over(fx);
    let s = &api.store;
    let actor = staff();
    let mut ids = ids;
    let mut add = |from: Option<i64>, to: Option<i64>| {
        let n = {
            let mut n: NewUser = crate::common::new_user("Vector", "Person");
            n.valid_from = from.map(|x| Timestamp(T0.0 + x));
            n.valid_to = to.map(|x| Timestamp(T0.0 + x));
            n
        };
        let id = s.create_user(&actor, n).unwrap().id;
        ids.push(id);
        id
    };
    let iso = |u: &str| Uid::parse_for(Technology::Iso14443a, u).unwrap();
    let em = |u: &str| Uid::parse_for(Technology::Em4100, u).unwrap();
    let windowed = add(Some(-30 * DAY), Some(DAY));
    s.enroll(&actor, windowed, Technology::Iso14443a, &iso("04A1B2C3D4E5F6")).unwrap();
    let two_cards = add(None, None);
    s.enroll(&actor, two_cards, Technology::Iso14443a, &iso("04112233")).unwrap();
    s.enroll(&actor, two_cards, Technology::Em4100, &em("0A0B0C0D0E")).unwrap();
    let suspended = add(None, None);
    s.enroll(&actor, suspended, Technology::Iso14443a, &iso("04222222")).unwrap();
    s.suspend(&actor, suspended).unwrap();
    let deleted = add(None, None);
    s.enroll(&actor, deleted, Technology::Iso14443a, &iso("04333333")).unwrap();
    s.delete(&actor, deleted).unwrap();
    let later = add(Some(HOUR), None);
    s.enroll(&actor, later, Technology::Iso14443a, &iso("04444444")).unwrap();
    let card_suspended = add(None, None);
    s.enroll(&actor, card_suspended, Technology::Iso14443a, &iso("04555555")).unwrap();
    s.suspend_credential(&actor, None, &iso("04555555")).unwrap();
    let lost = add(None, None);
    s.enroll(&actor, lost, Technology::Iso14443a, &iso("04666666")).unwrap();
    s.revoke(&actor, None, &iso("04666666"), RetireReason::Lost).unwrap();
    let destroyed = add(None, None);
    s.enroll(&actor, destroyed, Technology::Iso14443a, &iso("04888888")).unwrap();
    s.revoke(&actor, None, &iso("04888888"), RetireReason::Destroyed).unwrap();

    let cases: &[(&str, Option<&str>, i64)] = &[
        ("04A1B2C3D4E5F6", Some("iso14443a"), 0),
        ("04:a1:b2:c3:d4:e5:f6", None, 0),
        ("04A1B2C3D4E5F6", Some("iso14443a"), DAY - 1),
        ("04A1B2C3D4E5F6", Some("iso14443a"), DAY),
        ("04A1B2C3D4E5F6", Some("iso14443a"), -30 * DAY - 1),
        ("04A1B2C3D4E5F6", Some("iso14443a"), -30 * DAY),
        ("04112233", Some("iso14443a"), 0),
        ("04112233", None, 0),
        ("0A0B0C0D0E", None, 0),
        ("0A0B0C0D0E", Some("em4100"), 0),
        ("0A0B0C0D0E", Some("other"), 0),
        ("04222222", Some("iso14443a"), 0),
        ("04333333", Some("iso14443a"), 0),
        ("04444444", Some("iso14443a"), HOUR - 1),
        ("04444444", Some("iso14443a"), HOUR),
        ("04555555", Some("iso14443a"), 0),
        ("04666666", Some("iso14443a"), 0),
        ("04888888", Some("iso14443a"), 0),
        ("04777777", Some("iso14443a"), 0),
        ("04777777", Some("other"), 0),
        ("04777777", None, 0),
        ("04DEADBEEF0001", Some("iso14443a"), 0),
        ("04DEADBEEF0001", None, 0),
    ];
    let mut held = BTreeSet::new();
    let decide_all = |api: &Api, held: &BTreeSet<(String, String)>| -> Vec<Value> {
        cases
            .iter()
            .map(|(uid, tech, secs)| {
                let at = Timestamp(T0.0 + secs);
                json!({"at": at.to_rfc3339(), "door": "main", "uid": uid, "technology": tech,
                       "expect": expected(api, held, *tech, uid, at)})
            })
            .collect()
    };
    let snapshot = pages(&api, None, 4).await;
    apply(&mut held, &snapshot);
    let first = decide_all(&api, &held);
    let cursor = snapshot.last().unwrap()["cursor"].as_str().unwrap().to_string();

    // Staff changes, then the delta.
    api.fx.clock.set(Timestamp(T0.0 + 60));
    s.resume(&actor, suspended).unwrap();
    s.revoke(&actor, None, &em("0A0B0C0D0E"), RetireReason::Stolen).unwrap();
    s.expunge(&actor, deleted, &deleted.to_string()).unwrap();
    s.update_user(
        &actor,
        windowed,
        UserPatch { valid_to: Some(Some(Timestamp(T0.0 + 2 * DAY))), ..UserPatch::default() },
    )
    .unwrap();
    s.delete(&actor, two_cards).unwrap();
    let delta = pages(&api, Some(&cursor), 4).await;
    assert_eq!(delta[0]["kind"], "delta");
    apply(&mut held, &delta);
    let second = decide_all(&api, &held);
    let cursor = delta.last().unwrap()["cursor"].as_str().unwrap().to_string();

    // Access levels (issue 16): a level for door `main` on a Berlin schedule
    // of nights, held by a new person (no default level) from an instant on,
    // and by a group; who reaches the door changed: a snapshot, with rules.
    use idms::domain::ValidityWindow;
    use idms::domain::access::{Holiday, Schedule};
    use idms::store::levels::{GrantTarget, Holder};
    api.fx.clock.set(Timestamp(T0.0 + 120));
    s.set_default_level(&actor, "All doors, always", false).unwrap();
    s.add_site(&actor, "Berlin", "Europe/Berlin").unwrap();
    s.add_holiday(&actor, "de", &Holiday::parse("2026-12-26", "public", true).unwrap()).unwrap();
    let nights = Schedule::from_text("mon-sun 22:00-06:00", "public closed").unwrap();
    s.put_schedule(&actor, "Berlin nights", "Berlin", Some("de"), &nights, false).unwrap();
    s.add_level(&actor, "Night", None, &[(GrantTarget::Door("main".into()), "Berlin nights".into())]).unwrap();
    let night = add(None, None);
    s.enroll(&actor, night, Technology::Iso14443a, &iso("04B00001")).unwrap();
    let from = Timestamp::parse("t", "2026-03-28T21:30:00Z").unwrap();
    s.assign_level(&actor, "Night", &Holder::User(night), ValidityWindow { from: Some(from), to: None }).unwrap();
    let grouped = {
        let mut n: NewUser = crate::common::new_user("Vector", "Person");
        n.group = Some("night-crew".into());
        let id = s.create_user(&actor, n).unwrap().id;
        ids.push(id);
        id
    };
    s.enroll(&actor, grouped, Technology::Iso14443a, &iso("04B00002")).unwrap();
    s.assign_level(&actor, "Night", &Holder::Group("night-crew".into()), ValidityWindow::default()).unwrap();
    let rules = pages(&api, Some(&cursor), 4).await;
    assert_eq!(rules[0]["kind"], "snapshot");
    assert!(rules[0]["rules"].is_object());
    apply(&mut held, &rules);
    let at = |t: &str| Timestamp::parse("t", t).unwrap();
    let night_cases: &[(&str, Option<&str>, &str)] = &[
        // Berlin's spring-forward night: 22:00-06:00 is 21:00Z to 04:00Z; the
        // person's level counts from 21:30Z.
        ("04B00002", Some("iso14443a"), "2026-03-28T20:59:59Z"),
        ("04B00002", Some("iso14443a"), "2026-03-28T21:00:00Z"),
        ("04B00001", Some("iso14443a"), "2026-03-28T21:29:59Z"),
        ("04B00001", Some("iso14443a"), "2026-03-28T21:30:00Z"),
        ("04B00001", None, "2026-03-29T03:59:59Z"),
        ("04B00001", Some("iso14443a"), "2026-03-29T04:00:00Z"),
        // The fall-back night: 20:00Z to 05:00Z.
        ("04B00002", Some("iso14443a"), "2026-10-24T19:59:59Z"),
        ("04B00002", Some("iso14443a"), "2026-10-24T20:00:00Z"),
        ("04B00002", Some("iso14443a"), "2026-10-25T04:59:59Z"),
        ("04B00002", Some("iso14443a"), "2026-10-25T05:00:00Z"),
        // 26 December, yearly and closed: the night before runs into it; its own never starts.
        ("04B00001", Some("iso14443a"), "2026-12-26T04:00:00Z"),
        ("04B00001", Some("iso14443a"), "2026-12-26T21:30:00Z"),
        ("04B00001", Some("iso14443a"), "2026-12-27T04:00:00Z"),
        ("04B00001", Some("iso14443a"), "2026-12-26T10:30:00Z"),
        ("04B00001", Some("iso14443a"), "2027-12-26T21:30:00Z"),
        ("04B00001", Some("iso14443a"), "2027-12-27T21:30:00Z"),
        // A card from before holds the default level (every door, always) since it was made.
        ("04222222", Some("iso14443a"), "2026-03-28T21:30:00Z"),
    ];
    let decide_nights = |api: &Api, held: &BTreeSet<(String, String)>| -> Vec<Value> {
        night_cases
            .iter()
            .map(|(uid, tech, t)| {
                json!({"at": at(t).to_rfc3339(), "door": "main", "uid": uid, "technology": tech,
                       "expect": expected(api, held, *tech, uid, at(t))})
            })
            .collect()
    };
    let third = decide_nights(&api, &held);
    let cursor = rules.last().unwrap()["cursor"].as_str().unwrap().to_string();

    // A schedule edit changes no one's reach: a delta carrying the rules.
    let evenings = Schedule::from_text("mon-fri 18:00-23:00;sat,sun 22:00-06:00", "public 10:00-14:00").unwrap();
    s.put_schedule(&actor, "Berlin nights", "Berlin", Some("de"), &evenings, true).unwrap();
    let edit = pages(&api, Some(&cursor), 4).await;
    assert_eq!(edit[0]["kind"], "delta");
    assert!(edit[0]["rules"].is_object());
    apply(&mut held, &edit);
    let fourth = decide_nights(&api, &held);

    let mut v = json!({
        "contract": idms::api::doors::CONTRACT_VERSION,
        "about": "IDMS door-controller test vectors (docs/controllers.md). Each step: apply its feed pages in order \
                  (a snapshot: stage all pages, then replace the list; a delta: upsert `entries`, delete `removed`), \
                  then each decision's `expect` is what the offline rule must give at `at`, logging `user_id`. \
                  User IDs and cursors are stand-ins; the file is regenerated by `make vectors`.",
        "steps": [
            {"name": "snapshot, in pages of 4", "pages": snapshot, "decisions": first},
            {"name": "delta after: a holder resumed, a card stolen, a holder expunged (card back in stock), \
                      a validity window extended, a holder deleted", "pages": delta, "decisions": second},
            {"name": "snapshot after access levels: a level of Berlin nights (closed on a yearly holiday) held \
                      by a person from an instant on and by a group; no default level for new people; the \
                      DST nights", "pages": rules, "decisions": third},
            {"name": "delta after the schedule changed (evenings on weekdays, nights at weekends, 10:00-14:00 \
                      on the holiday): only the rules", "pages": edit, "decisions": fourth},
        ],
    });
    let seen: Vec<String> = ids.iter().map(ToString::to_string).collect();
    normalise(&mut v, &mut [BTreeMap::new(), BTreeMap::new()], &seen);
    v
}

/// The file in the repository is what the service sends and decides now:
/// a change of the feed or of a decision fails here until the vectors are
/// regenerated (`make vectors`) — and, if it is not a compatible change
/// (docs/controllers.md), the contract's major version is raised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_vectors_are_what_the_service_sends_and_decides() {
    let built = build_vectors().await;
    let text = serde_json::to_string_pretty(&built).unwrap() + "\n";
    if std::env::var_os("IDMS_WRITE_VECTORS").is_some() {
        std::fs::create_dir_all(vectors_path().parent().unwrap()).unwrap();
        std::fs::write(vectors_path(), &text).unwrap();
    }
    let file = std::fs::read_to_string(vectors_path())
        .unwrap_or_else(|e| panic!("{}: {e}; run `make vectors` to write it", vectors_path().display()));
    let on_file: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(on_file, built, "docs/contract/vectors.json is out of date: run `make vectors` and review the diff");
    // The vectors exercise every deny reason a feed can give (a card in
    // stock has no holder, so it is not in the feed).
    let reasons: BTreeSet<&str> = built["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["decisions"].as_array().unwrap())
        .filter_map(|d| d["expect"]["reason"].as_str())
        .collect();
    let want: BTreeSet<&str> =
        DenyReason::ALL.iter().map(|r| r.code()).filter(|c| *c != "credential_in_stock").collect();
    assert_eq!(reasons, want);
}
