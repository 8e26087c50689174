//! The web UI's person pages over HTTP (in-process, as `ui_http`): the Add
//! person and Edit forms (field errors, 422, typed values kept, nothing
//! stored), a viewer's forged posts refused, keyset paging of People, the
//! record's tabs (History only for roles that may read the audit trail), a
//! refusal shown inside the Manage dialog, and times in the office's zone.

use axum::http::{Method, Request, StatusCode};
use idms::store::{NewUser, Role};

use crate::common::{new_user, staff};
use crate::ui_http::{Answer, ORIGIN, PW, Ui};

/// A form body, percent-encoded.
fn form(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// A post as htmx sends it (`HX-Request`, the CSRF token in the form).
async fn post_hx(ui: &Ui, path: &str, cookie: &str, body: &str) -> Answer {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .header("origin", ORIGIN)
        .header("hx-request", "true");
    ui.send(req, body).await
}

fn people(ui: &Ui) -> i64 {
    let c = rusqlite::Connection::open(ui._fx.db_path()).unwrap();
    c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0)).unwrap()
}

fn with_staff(ui: &Ui) {
    ui.store.add_operator(&staff(), "max", Role::Manager, None, Some(PW)).unwrap();
    ui.store.add_operator(&staff(), "ella", Role::Enroller, None, Some(PW)).unwrap();
    ui.store.add_operator(&staff(), "erin", Role::Eraser, None, Some(PW)).unwrap();
}

#[tokio::test]
async fn add_person_with_a_bad_email_and_no_given_name_shows_each_error_by_its_field_and_stores_nothing() {
    let ui = Ui::new();
    with_staff(&ui);
    let (cookie, csrf) = ui.sign_in("ella").await;
    let list = ui.get("/ui/people", Some(&cookie), false).await;
    assert!(list.body.contains("href=\"/ui/people/new\">Add person</a>"), "an enroller may add: {}", list.body);
    let page = ui.get("/ui/people/new", Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK);
    for want in ["<label for=\"given_name\">Given name</label>", "<label for=\"valid_to\">Valid to</label>"] {
        assert!(page.body.contains(want), "{want}: {}", page.body);
    }
    // An enroller cannot place a legal hold or set a purge date: shown locked, with why.
    assert!(page.body.contains("Placing a legal hold needs the manager role."), "{}", page.body);
    assert!(page.body.contains("Setting a purge date needs the manager role."), "{}", page.body);
    let before = people(&ui);

    let bad = form(&[
        ("csrf", &csrf),
        ("given_name", "  "),
        ("family_name", "Lovelace"),
        ("email", "ada-at-example"),
        ("balance", "twelve"),
    ]);
    let a = ui.post("/ui/people/new", Some(&cookie), Some(ORIGIN), &bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("<html"), "without htmx: the whole page");
    for want in [
        "id=\"given_name-error\">Enter the given name. (<code>invalid_input</code>)",
        "id=\"email-error\">Enter an email address such as name@example.org. (<code>invalid_input</code>)",
        "id=\"balance-error\">Balance must be an amount such as 12.50. (<code>invalid_input</code>)",
        "3 fields need attention",
        // The typed values are kept.
        "value=\"ada-at-example\"",
        "value=\"Lovelace\"",
        "value=\"twelve\"",
    ] {
        assert!(a.body.contains(want), "{want}: {}", a.body);
    }
    assert!(a.body.contains("aria-describedby=\"email-error\" aria-invalid=\"true\""), "{}", a.body);
    assert!(!a.body.contains("id=\"family_name-error\""), "a good field has no error");
    assert_eq!(people(&ui), before, "nothing was stored");

    // htmx gets the form only, still 422.
    let a = post_hx(&ui, "/ui/people/new", &cookie, &bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!a.body.contains("<html") && a.body.contains("<div id=\"person-form\">"), "{}", a.body);
    assert_eq!(people(&ui), before);

    // A forced legal hold is refused by `ops`, shown above the form.
    let held = form(&[
        ("csrf", &csrf),
        ("given_name", "Ada"),
        ("family_name", "Lovelace"),
        ("legal_hold_shown", "1"),
        ("legal_hold", "on"),
    ]);
    let a = ui.post("/ui/people/new", Some(&cookie), Some(ORIGIN), &held).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(
        a.body.contains("Your role does not allow this.") && a.body.contains("<code>forbidden</code>"),
        "{}",
        a.body
    );
    assert!(a.body.contains("value=\"Ada\""), "typed values kept: {}", a.body);
    assert_eq!(people(&ui), before);

    // Fixed: added, then to the record (PRG) with a notice.
    let good = form(&[
        ("csrf", &csrf),
        ("given_name", "Ada"),
        ("family_name", "Lovelace"),
        ("email", "ada@example.org"),
        ("valid_to", "2031-01-01"),
        ("balance", "12.50"),
        ("unreturned_items", "2"),
        ("record_type", "staff"),
    ]);
    let a = ui.post("/ui/people/new", Some(&cookie), Some(ORIGIN), &good).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let to = a.header("location").to_string();
    assert!(to.contains("?done=added&seal="), "{to}");
    assert_eq!(people(&ui), before + 1);
    let record = ui.get(&to, Some(&cookie), false).await;
    for want in ["was added.", "ada@example.org", "12.50", "<dd>staff</dd>", "datetime=\"2031-01-01T00:00:00Z\""] {
        assert!(record.body.contains(want), "{want}: {}", record.body);
    }
    // An enroller may not edit: no Edit button.
    assert!(!record.body.contains("/edit\">Edit</a>"), "{}", record.body);
}

#[tokio::test]
async fn edit_saves_only_the_changed_fields_and_a_past_valid_to_deactivates() {
    let ui = Ui::new();
    with_staff(&ui);
    let u = ui
        .store
        .create_user(&staff(), NewUser { email: Some("ada@example.org".into()), ..new_user("Ada", "Lovelace") })
        .unwrap();
    let id = u.id;
    let (cookie, csrf) = ui.sign_in("max").await;
    let record = ui.get(&format!("/ui/people/{id}"), Some(&cookie), false).await;
    assert!(record.body.contains(&format!("href=\"/ui/people/{id}/edit\">Edit</a>")), "{}", record.body);
    assert!(!record.body.contains("Deactivated"), "{}", record.body);
    let page = ui.get(&format!("/ui/people/{id}/edit"), Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("value=\"ada@example.org\"") && page.body.contains("value=\"Lovelace\""),
        "{}",
        page.body
    );

    // A bad change: 422, nothing saved, the typed value kept.
    let bad = form(&[("csrf", &csrf), ("given_name", "Ada"), ("family_name", "Byron"), ("valid_to", "soon")]);
    let a = ui.post(&format!("/ui/people/{id}/edit"), Some(&cookie), Some(ORIGIN), &bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("id=\"valid_to-error\">Enter a date such as 2026-11-22"), "{}", a.body);
    assert!(a.body.contains("value=\"Byron\"") && a.body.contains("value=\"soon\""), "{}", a.body);
    assert_eq!(ui.store.get_user(id).unwrap().family_name.as_deref(), Some("Lovelace"));

    // Valid to in the past (001) and a new family name.
    let edit = form(&[
        ("csrf", &csrf),
        ("given_name", "Ada"),
        ("family_name", "Byron"),
        ("email", "ada@example.org"),
        ("valid_to", "2020-01-01"),
        ("legal_hold_shown", "1"),
    ]);
    let a = ui.post(&format!("/ui/people/{id}/edit"), Some(&cookie), Some(ORIGIN), &edit).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert!(a.header("location").starts_with(&format!("/ui/people/{id}?done=saved&seal=")), "{:?}", a.headers);
    let now = ui.store.get_user(id).unwrap();
    assert_eq!(now.family_name.as_deref(), Some("Byron"));
    assert_eq!(now.valid_to.map(|t| t.to_rfc3339()).as_deref(), Some("2020-01-01T00:00:00Z"));
    assert_eq!(now.email.as_deref(), Some("ada@example.org"), "an unchanged field stays");
    let c = rusqlite::Connection::open(ui._fx.db_path()).unwrap();
    let detail: String = c
        .query_row(
            "SELECT detail FROM audit WHERE action = 'user.update' AND target_user = ?1 ORDER BY seq DESC",
            [id.as_i64()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(detail, "fields=family_name,valid_to", "only what changed is sent");
    let record = ui.get(a.header("location"), Some(&cookie), false).await;
    assert!(record.body.contains("The changes to person"), "{}", record.body);
    assert!(record.body.contains("Deactivated: Valid to has passed, so their cards open no door."), "{}", record.body);

    // A manager cannot lift a legal hold: shown locked; a forced lift is refused by `ops`.
    ui.store
        .update_user(&staff(), id, idms::store::UserPatch { legal_hold: Some(true), ..Default::default() })
        .unwrap();
    let page = ui.get(&format!("/ui/people/{id}/edit"), Some(&cookie), false).await;
    assert!(page.body.contains("Only an eraser can lift a legal hold."), "{}", page.body);
    let lift = form(&[("csrf", &csrf), ("given_name", "Ada"), ("family_name", "Byron"), ("legal_hold_shown", "1")]);
    let a = post_hx(&ui, &format!("/ui/people/{id}/edit"), &cookie, &lift).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(
        a.body.contains("lifting a legal hold needs the eraser role")
            || a.body.contains("Lifting a legal hold needs the eraser role"),
        "{}",
        a.body
    );
    assert!(!a.body.contains("<html"), "htmx: the form only");
    assert!(ui.store.get_user(id).unwrap().legal_hold, "still held");
}

#[tokio::test]
async fn a_viewers_add_and_edit_posts_with_their_own_session_and_token_get_403_and_change_nothing() {
    let ui = Ui::new();
    let id = ui.store.create_user(&staff(), new_user("Ada", "Lovelace")).unwrap().id;
    let (cookie, csrf) = ui.sign_in("vera").await;
    let list = ui.get("/ui/people?q=Love", Some(&cookie), false).await;
    assert!(!list.body.contains("Add person"), "no Add person for a viewer: {}", list.body);
    let record = ui.get(&format!("/ui/people/{id}"), Some(&cookie), false).await;
    assert!(!record.body.contains("/edit\">Edit</a>"), "{}", record.body);
    assert_eq!(ui.get("/ui/people/new", Some(&cookie), false).await.status, StatusCode::FORBIDDEN);
    assert_eq!(ui.get(&format!("/ui/people/{id}/edit"), Some(&cookie), false).await.status, StatusCode::FORBIDDEN);
    let before = people(&ui);
    let add = form(&[("csrf", &csrf), ("given_name", "Grace"), ("family_name", "Hopper")]);
    let a = ui.post("/ui/people/new", Some(&cookie), Some(ORIGIN), &add).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert_eq!(people(&ui), before);
    let edit = form(&[("csrf", &csrf), ("given_name", "Ada"), ("family_name", "Byron")]);
    for hx in [false, true] {
        let a = if hx {
            post_hx(&ui, &format!("/ui/people/{id}/edit"), &cookie, &edit).await
        } else {
            ui.post(&format!("/ui/people/{id}/edit"), Some(&cookie), Some(ORIGIN), &edit).await
        };
        assert_eq!(a.status, StatusCode::FORBIDDEN, "htmx {hx}: {}", a.body);
        assert!(!a.body.contains("Lovelace"), "a refusal shows no record");
    }
    assert_eq!(ui.store.get_user(id).unwrap().family_name.as_deref(), Some("Lovelace"), "nothing changed");
}

/// The user IDs of a results page, in order.
fn page_ids(body: &str) -> Vec<String> {
    body.split("<td><a href=\"/ui/people/").skip(1).map(|s| s[..s.find('"').unwrap()].to_string()).collect()
}

/// The link of a results page's paging control `label`, if it has one.
fn link(body: &str, label: &str) -> Option<String> {
    body.find(&format!("\">{label}</a>")).map(|end| {
        let start = body[..end].rfind("<a href=\"").unwrap() + "<a href=\"".len();
        let len = body[start..].find('"').unwrap();
        body[start..start + len].replace("&amp;", "&")
    })
}

#[tokio::test]
async fn people_pages_by_a_keyset_cursor_without_repeats_or_gaps_at_the_boundaries() {
    let ui = Ui::new();
    // 130 people under one name prefix; many share a whole name, so the ID
    // decides their order, across page boundaries too.
    let mut made = Vec::new();
    for i in 0..130 {
        let given = if i % 3 == 0 { "Ann".to_string() } else { format!("Given{:03}", i % 7) };
        let family = if i % 2 == 0 { "Pagewalker" } else { "PAGEWALKER-Smith" };
        made.push(ui.store.create_user(&staff(), new_user(&given, family)).unwrap().id.to_string());
    }
    ui.store.create_user(&staff(), new_user("Other", "Pagoda")).unwrap();
    let (cookie, _) = ui.sign_in("vera").await;
    let mut seen: Vec<String> = Vec::new();
    let mut forwards: Vec<Vec<String>> = Vec::new();
    let mut url = "/ui/people?q=pagewalker".to_string();
    let last = loop {
        let page = ui.get(&url, Some(&cookie), true).await;
        assert_eq!(page.status, StatusCode::OK, "{url}");
        let ids = page_ids(&page.body);
        assert!(ids.len() <= 50, "at most a page");
        let later = !forwards.is_empty();
        assert_eq!(link(&page.body, "First page").is_some(), later, "a later page links the first");
        assert_eq!(link(&page.body, "Previous page").is_some(), later, "and the previous");
        seen.extend(ids.clone());
        forwards.push(ids);
        assert!(forwards.len() < 10, "paging ends");
        match link(&page.body, "Next page") {
            Some(n) => url = n,
            None => break page,
        }
    };
    assert_eq!(forwards.iter().map(Vec::len).collect::<Vec<_>>(), vec![50, 50, 30], "130 people");
    // Previous page, from the last: the same pages, backwards.
    let mut page = last;
    for want in forwards.iter().rev().skip(1) {
        let prev = link(&page.body, "Previous page").expect("a Previous page link");
        page = ui.get(&prev, Some(&cookie), true).await;
        assert_eq!(&page_ids(&page.body), want, "{prev}");
        assert!(link(&page.body, "Next page").is_some(), "a page before another links it");
    }
    assert!(link(&page.body, "Previous page").is_none(), "back at the first page");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no one twice");
    let mut want = made.clone();
    want.sort();
    assert_eq!(unique, want, "everyone once, and no one else");
    // The same order the first page of a single big search gives.
    let all = ui.store.search_users("pagewalker", 500).unwrap();
    let order: Vec<String> = all.iter().map(|u| u.id.to_string()).collect();
    assert_eq!(seen, order, "pages follow the search's order");
    // A forged cursor is harmless: the first page (malformed) or nothing after no one.
    let forged = ui.get("/ui/people?q=pagewalker&after=%3Cscript%3E", Some(&cookie), true).await;
    assert_eq!(page_ids(&forged.body).len(), 50);
    let before_no_one = ui.get("/ui/people?q=pagewalker&before=ZZZZZZZZZZZZ", Some(&cookie), true).await;
    assert!(page_ids(&before_no_one.body).len() <= 50);
}

#[tokio::test]
async fn the_record_has_credentials_documents_and_history_tabs_history_only_for_who_may_read_the_trail() {
    let ui = Ui::new();
    with_staff(&ui);
    let id = ui.store.create_user(&staff(), new_user("Ada", "Lovelace")).unwrap().id;
    ui.store.lifecycle(&staff(), id, idms::domain::LifecycleAction::Suspend).unwrap();
    let (viewer, _) = ui.sign_in("vera").await;
    let record = ui.get(&format!("/ui/people/{id}"), Some(&viewer), false).await;
    assert!(record.body.contains("<nav class=\"tabs\" aria-label=\"Record\">"), "{}", record.body);
    assert!(record.body.contains("?tab=credentials#tab-h\" aria-current=\"page\">Credentials</a>"), "{}", record.body);
    assert!(record.body.contains("?tab=documents#tab-h\">Documents</a>"));
    assert!(!record.body.contains(">History</a>"), "no History tab for a viewer: {}", record.body);
    assert!(record.body.contains("<dt>Directory link</dt><dd>none</dd>"), "{}", record.body);
    let docs = ui.get(&format!("/ui/people/{id}?tab=documents"), Some(&viewer), false).await;
    assert!(
        docs.body.contains("<h2 id=\"tab-h\">Documents</h2>") && docs.body.contains("No documents."),
        "{}",
        docs.body
    );
    // Asking for History anyway shows Credentials, and no entry.
    let hist = ui.get(&format!("/ui/people/{id}?tab=history"), Some(&viewer), false).await;
    assert_eq!(hist.status, StatusCode::OK);
    assert!(
        hist.body.contains("<h2 id=\"tab-h\">Credentials</h2>") && !hist.body.contains("user.suspend"),
        "{}",
        hist.body
    );

    let (manager, _) = ui.sign_in("max").await;
    let record = ui.get(&format!("/ui/people/{id}"), Some(&manager), false).await;
    assert!(record.body.contains(">History</a>"), "{}", record.body);
    let hist = ui.get(&format!("/ui/people/{id}?tab=history"), Some(&manager), false).await;
    assert!(hist.body.contains("<h2 id=\"tab-h\">History</h2>"), "{}", hist.body);
    assert!(hist.body.contains("<td>user.create</td>") && hist.body.contains("<td>user.suspend</td>"), "{}", hist.body);
    assert!(hist.body.contains("<time datetime=\""), "times as <time>: {}", hist.body);
}

#[tokio::test]
async fn a_refused_action_is_said_inside_the_dialog_for_htmx_with_its_code() {
    let ui = Ui::new();
    with_staff(&ui);
    let held = NewUser { legal_hold: true, ..new_user("Ada", "Lovelace") };
    let id = ui.store.create_user(&staff(), held).unwrap().id;
    ui.store.lifecycle(&staff(), id, idms::domain::LifecycleAction::Delete).unwrap();
    let (cookie, csrf) = ui.sign_in("erin").await;
    // The dialog's form posts through htmx into the dialog.
    let dialog = ui.get(&format!("/ui/people/{id}/expunge"), Some(&cookie), true).await;
    let hx_post = format!("hx-post=\"/ui/people/{id}/expunge\" hx-target=\"#dialog\"");
    assert!(!dialog.body.contains(&hx_post), "blocked by the hold: no form at all: {}", dialog.body);
    let a = post_hx(
        &ui,
        &format!("/ui/people/{id}/expunge"),
        &cookie,
        &form(&[("csrf", &csrf), ("confirm", &id.to_string())]),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(!a.body.contains("<html"), "the dialog's content only: {}", a.body);
    assert!(a.body.contains("<h2 id=\"dialog-h\">Expunge - Permanent</h2>"), "{}", a.body);
    assert!(
        a.body.contains("Under legal hold: lift the hold before expunging.")
            && a.body.contains("<code>legal_hold</code>"),
        "{}",
        a.body
    );
    assert_eq!(ui.store.get_user(id).unwrap().state.as_str(), "deleted", "nothing changed");
    // A wrong typed ID (the hold lifted meanwhile): said in the dialog, the form offered again.
    ui.store
        .update_user(&staff(), id, idms::store::UserPatch { legal_hold: Some(false), ..Default::default() })
        .unwrap();
    let a = post_hx(&ui, &format!("/ui/people/{id}/expunge"), &cookie, &form(&[("csrf", &csrf), ("confirm", "nope")]))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.body.contains("role=\"alert\" id=\"refused\">Not done: The typed user ID did not match"), "{}", a.body);
    assert!(
        a.body.contains("<code>expunge_not_confirmed</code>") && a.body.contains(">Expunge User</button>"),
        "{}",
        a.body
    );
    assert!(a.body.contains(&hx_post), "the form posts into the dialog again: {}", a.body);
    assert_eq!(ui.store.get_user(id).unwrap().state.as_str(), "deleted");
}

#[tokio::test]
async fn times_show_in_the_office_zone_with_utc_on_hover() {
    // Each test is its own process (nextest): the zone is this test's alone.
    idms::ui::time::set_zone(idms::ui::time::Zone::named("Europe/Berlin").expect("tzdata has Europe/Berlin"));
    let ui = Ui::new();
    let valid_to = idms::domain::Timestamp::parse("valid_to", "2030-07-01T10:00:00Z").unwrap();
    let id =
        ui.store.create_user(&staff(), NewUser { valid_to: Some(valid_to), ..new_user("Ada", "Lovelace") }).unwrap().id;
    let (cookie, _) = ui.sign_in("vera").await;
    let record = ui.get(&format!("/ui/people/{id}"), Some(&cookie), false).await;
    let want = "<time datetime=\"2030-07-01T10:00:00Z\" title=\"2030-07-01 10:00:00 UTC\">2030-07-01 12:00 CEST</time>";
    assert!(record.body.contains(want), "{}", record.body);
}

#[tokio::test]
async fn a_scoped_enroller_adds_people_to_their_own_unit_only() {
    let ui = Ui::new();
    ui.store.add_operator(&staff(), "sam", Role::Enroller, Some("lab"), Some(PW)).unwrap();
    let (cookie, csrf) = ui.sign_in("sam").await;
    let page = ui.get("/ui/people/new", Some(&cookie), false).await;
    assert!(page.body.contains("People you add join your unit."), "{}", page.body);
    assert!(page.body.contains("id=\"org_unit\" name=\"org_unit\" type=\"text\" value=\"\" autocomplete=\"off\" aria-describedby=\"org_unit-locked\" disabled"), "{}", page.body);
    let add = form(&[("csrf", &csrf), ("given_name", "Grace"), ("family_name", "Hopper")]);
    let a = ui.post("/ui/people/new", Some(&cookie), Some(ORIGIN), &add).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let id: idms::domain::UserId =
        a.header("location").trim_start_matches("/ui/people/").split('?').next().unwrap().parse().unwrap();
    assert_eq!(ui.store.get_user(id).unwrap().org_unit.as_deref(), Some("lab"));
    // Another unit, forced: refused by `ops`, nothing stored.
    let before = people(&ui);
    let other = form(&[("csrf", &csrf), ("given_name", "Alan"), ("family_name", "Turing"), ("org_unit", "sales")]);
    let a = ui.post("/ui/people/new", Some(&cookie), Some(ORIGIN), &other).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(a.body.contains("<code>forbidden</code>") && a.body.contains("value=\"Turing\""), "{}", a.body);
    assert_eq!(people(&ui), before);
}
