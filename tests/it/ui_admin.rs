//! The web UI's Overview, Audit, Administration and Access events pages
//! over HTTP, in-process: each page for the roles `ops` lets see it (and
//! absent from the menu and 403 for the others), operators added through
//! the form sign in, a disable ends the session, a rotated controller token
//! keeps the old one for the overlap, a non-admin's own valid session and
//! CSRF token change nothing, audit paging repeats no entry, and the
//! access-events filter by decision keeps only that decision.

use axum::http::{Method, Request, StatusCode};
use idms::domain::{LifecycleAction, Technology};
use idms::store::Role;
use idms::store::auth::TokenFilter;

use crate::common::{iso, new_user, staff};
use crate::ui_http::{Answer, ORIGIN, PW, Ui, assert_secure_headers};

/// The pages of this area, each with the least role that sees it.
const PAGES: &[(&str, &str, Role)] = &[
    ("/ui/overview", "Overview", Role::Viewer),
    ("/ui/events", "Access events", Role::Manager),
    ("/ui/audit", "Audit", Role::Manager),
    ("/ui/admin", "Administration", Role::Admin),
];

/// `vera` (viewer) and `adam` (admin) are there; adds the other roles.
fn with_every_role(ui: &Ui) {
    for (name, role) in [("ella", Role::Enroller), ("max", Role::Manager), ("erin", Role::Eraser)] {
        ui.store.add_operator(&staff(), name, role, None, Some(PW)).unwrap();
    }
}

const EVERY_ROLE: [(&str, Role); 5] = [
    ("vera", Role::Viewer),
    ("ella", Role::Enroller),
    ("max", Role::Manager),
    ("erin", Role::Eraser),
    ("adam", Role::Admin),
];

/// Signs `name` in with `password`; answers the cookie and the CSRF token.
async fn sign_in_with(ui: &Ui, name: &str, password: &str) -> Answer {
    let form = form_pair("name", name) + "&" + &form_pair("password", password);
    ui.post("/ui/sign-in", None, Some(ORIGIN), &form).await
}

/// `key=value`, form-encoded.
fn form_pair(key: &str, value: &str) -> String {
    let enc: String = value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{key}={enc}")
}

/// The secret a "shown once" page shows.
fn shown_secret(a: &Answer) -> String {
    let at = a.body.find("id=\"secret\"").unwrap_or_else(|| panic!("a secret shown: {}", a.body));
    let rest = &a.body[at..];
    let v = rest.find("value=\"").unwrap() + "value=\"".len();
    rest[v..v + rest[v..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn ui_admin_pages_render_for_the_roles_that_may_see_them_and_are_absent_and_403_for_the_others() {
    let ui = Ui::new();
    with_every_role(&ui);
    // An expunged person is still counted (002).
    let gone = ui.store.create_user(&staff(), new_user("Ada", "Lovelace")).unwrap().id;
    ui.store.lifecycle(&staff(), gone, LifecycleAction::Delete).unwrap();
    ui.store.expunge(&staff(), gone, &gone.to_string()).unwrap();
    ui.store.create_user(&staff(), new_user("Grace", "Hopper")).unwrap();
    for (who, role) in EVERY_ROLE {
        let (cookie, _) = ui.sign_in(who).await;
        let menu = ui.get("/ui/people", Some(&cookie), false).await;
        for (path, label, min) in PAGES {
            let allowed = role >= *min;
            let item = format!("<a href=\"{path}\">{label}</a>");
            assert_eq!(menu.body.contains(&item), allowed, "{who}: menu item {label}");
            let page = ui.get(path, Some(&cookie), false).await;
            assert_secure_headers(&page, path);
            if allowed {
                assert_eq!(page.status, StatusCode::OK, "{who} {path}: {}", page.body);
                assert!(page.body.contains(&format!("<h1>{label}</h1>")), "{who} {path}: {}", page.body);
                assert!(page.body.contains(&format!("<a href=\"{path}\" aria-current=\"page\">")), "{who} {path}");
            } else {
                assert_eq!(page.status, StatusCode::FORBIDDEN, "{who} {path}: {}", page.body);
                assert!(page.body.contains("forbidden"), "{who} {path}: {}", page.body);
            }
        }
        // The overview's counts are `/stats`: the expunged person is counted.
        let overview = ui.get("/ui/overview", Some(&cookie), false).await;
        let b = &overview.body;
        assert!(b.contains("<th scope=\"row\">expunged</th><td class=\"num\">1</td>"), "{who}: {b}");
        assert!(b.contains("<th scope=\"row\">active</th><td class=\"num\">1</td>"), "{who}: {b}");
        assert!(b.contains("2 recorded, erased (expunged) people still counted"), "{who}: {b}");
        assert!(b.contains("0 of 0 readers online."), "{who}: {b}");
        // Purge jobs are shown to the roles `ops::purge::jobs` allows.
        assert_eq!(b.contains("Running purge jobs"), role >= Role::Eraser, "{who}: {b}");
    }
}

#[tokio::test]
async fn ui_a_scoped_manager_or_admin_has_no_audit_or_administration_and_sees_their_units_events_only() {
    let ui = Ui::new();
    ui.store.add_operator(&staff(), "lena", Role::Manager, Some("lab"), Some(PW)).unwrap();
    ui.store.add_operator(&staff(), "luke", Role::Admin, Some("lab"), Some(PW)).unwrap();
    let lab =
        ui.store.create_user(&staff(), idms::store::NewUser { org_unit: Some("lab".into()), ..new_user("In", "Lab") });
    let lab = lab.unwrap().id;
    let out = ui.store.create_user(&staff(), new_user("Out", "Side")).unwrap().id;
    ui.store.enroll(&staff(), lab, Technology::Iso14443a, &iso("04A1B2C3")).unwrap();
    ui.store.enroll(&staff(), out, Technology::Iso14443a, &iso("04D4E5F6")).unwrap();
    let (_, door) = ui.store.add_controller(&staff(), "front", &["main".to_string()]).unwrap();
    for uid in ["04A1B2C3", "04D4E5F6"] {
        assert_eq!(decide(&ui, &door, uid).await, StatusCode::OK);
    }
    for who in ["lena", "luke"] {
        let (cookie, _) = ui.sign_in(who).await;
        let menu = ui.get("/ui/people", Some(&cookie), false).await;
        assert!(menu.body.contains("<a href=\"/ui/events\">Access events</a>"), "{who}: {}", menu.body);
        assert!(menu.body.contains("<a href=\"/ui/overview\">Overview</a>"), "{who}");
        for (path, label) in [("/ui/audit", "Audit"), ("/ui/admin", "Administration")] {
            assert!(!menu.body.contains(&format!(">{label}</a>")), "{who}: no {label} in {}", menu.body);
            assert_eq!(ui.get(path, Some(&cookie), false).await.status, StatusCode::FORBIDDEN, "{who} {path}");
        }
        let events = ui.get("/ui/events", Some(&cookie), false).await;
        assert_eq!(events.status, StatusCode::OK, "{who}: {}", events.body);
        assert!(
            events.body.contains(&lab.to_string()) && !events.body.contains(&out.to_string()),
            "{who}: {}",
            events.body
        );
    }
}

#[tokio::test]
async fn ui_an_operator_added_through_the_form_signs_in_with_the_password_shown_once() {
    let ui = Ui::new();
    let (cookie, csrf) = ui.sign_in("adam").await;
    let page = ui.get("/ui/admin", Some(&cookie), false).await;
    assert!(page.body.contains(">Add operator</button>") && page.body.contains(">Add controller</button>"));

    // A generated password.
    let form = format!("csrf={csrf}&name=olga&role=manager&org_unit=lab&password=");
    let a = ui.post("/ui/admin/operators", Some(&cookie), Some(ORIGIN), &form).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Operator olga was added as manager for unit lab."), "{}", a.body);
    assert!(a.body.contains("generated password is shown only now"), "{}", a.body);
    let generated = shown_secret(&a);
    assert_eq!(generated.len(), 23, "{generated}");
    let signed = sign_in_with(&ui, "olga", &generated).await;
    assert_eq!((signed.status, signed.header("location")), (StatusCode::SEE_OTHER, "/ui/people"), "{}", signed.body);
    let olga = ui.get("/ui/people", Some(&signed.cookie()), false).await;
    assert!(olga.body.contains("Signed in as olga (manager)"), "{}", olga.body);
    let listed = ui.store.operators().unwrap();
    let o = listed.iter().find(|o| o.name == "olga").unwrap();
    assert_eq!((o.role, o.org_unit.as_deref()), (Role::Manager, Some("lab")));

    // A typed password; the admin page lists both.
    let form = format!("csrf={csrf}&name=otto&role=viewer&org_unit=&password=otto+typed+this");
    let a = ui.post("/ui/admin/operators", Some(&cookie), Some(ORIGIN), &form).await;
    assert_eq!((a.status, shown_secret(&a).as_str()), (StatusCode::OK, "otto typed this"), "{}", a.body);
    assert_eq!(sign_in_with(&ui, "otto", "otto typed this").await.status, StatusCode::SEE_OTHER);
    let page = ui.get("/ui/admin", Some(&cookie), false).await;
    assert!(page.body.contains("<td>olga</td><td>manager</td><td>lab</td>"), "{}", page.body);
    assert!(page.body.contains("<td>otto</td><td>viewer</td><td>every unit</td>"), "{}", page.body);
    assert!(!page.body.contains(&generated) && !page.body.contains("otto typed this"), "never shown again");

    // Refusals are shown next to the form, with what was typed (never the password).
    let form = format!("csrf={csrf}&name=olga&role=viewer&org_unit=&password=another+long+one");
    let a = ui.post("/ui/admin/operators", Some(&cookie), Some(ORIGIN), &form).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("an operator with this name exists") && a.body.contains("id=\"add-operator-problem\""));
    assert!(a.body.contains("value=\"olga\"") && !a.body.contains("another long one"), "{}", a.body);
    let form = format!("csrf={csrf}&name=short&role=viewer&org_unit=&password=2short");
    let a = ui.post("/ui/admin/operators", Some(&cookie), Some(ORIGIN), &form).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("at least 10 characters"), "{}", a.body);
    assert!(!ui.store.operators().unwrap().iter().any(|o| o.name == "short"), "not added");
}

#[tokio::test]
async fn ui_disabling_an_operator_ends_their_ui_session_and_a_password_reset_is_shown_once() {
    let ui = Ui::new();
    let (vera, _) = ui.sign_in("vera").await;
    let (cookie, csrf) = ui.sign_in("adam").await;

    // The confirmation: a page without htmx, the dialog's content with it.
    let page = ui.get("/ui/admin/operators/vera/disable", Some(&cookie), false).await;
    assert!(page.body.contains("<html") && page.body.contains(">Disable</button>"), "{}", page.body);
    let dialog = ui.get("/ui/admin/operators/vera/disable", Some(&cookie), true).await;
    assert!(!dialog.body.contains("<html") && dialog.body.contains("<h2 id=\"dialog-h\">Disable operator vera</h2>"));
    assert!(dialog.body.contains(">Cancel</a>"), "{}", dialog.body);
    assert_eq!(ui.get("/ui/people", Some(&vera), false).await.status, StatusCode::OK, "asking changes nothing");

    let a = ui.post("/ui/admin/operators/vera/disable", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!(
        (a.status, a.header("location")),
        (StatusCode::SEE_OTHER, "/ui/admin?done=operators.disable&who=vera"),
        "{}",
        a.body
    );
    let gone = ui.get("/ui/people", Some(&vera), false).await;
    assert_eq!((gone.status, gone.header("location")), (StatusCode::SEE_OTHER, "/ui/sign-in"), "her session ended");
    let page = ui.get(a.header("location"), Some(&cookie), false).await;
    assert!(page.body.contains("Operator vera was disabled and signed out."), "{}", page.body);
    assert!(page.body.contains("<td>vera</td><td>viewer</td><td>every unit</td><td>set</td>"), "{}", page.body);
    assert_eq!(sign_in_with(&ui, "vera", PW).await.status, StatusCode::UNAUTHORIZED, "and she cannot sign in");
    // A forged notice shows nothing: adam is not disabled.
    let forged = ui.get("/ui/admin?done=operators.disable&who=adam", Some(&cookie), false).await;
    assert!(!forged.body.contains("was disabled"), "{}", forged.body);

    // Enable: the old session stays ended, a new sign-in works.
    let a = ui.post("/ui/admin/operators/vera/enable", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(ui.get("/ui/people", Some(&vera), false).await.status, StatusCode::SEE_OTHER);
    let (vera, _) = ui.sign_in("vera").await;

    // Reset her password (generated): her session ends, only the new one works.
    let dialog = ui.get("/ui/admin/operators/vera/password", Some(&cookie), true).await;
    assert!(dialog.body.contains("New password (empty: generate one)"), "{}", dialog.body);
    let a = ui
        .post("/ui/admin/operators/vera/password", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}&password="))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("The password of operator vera was reset; their sessions ended."), "{}", a.body);
    let new = shown_secret(&a);
    assert_eq!(ui.get("/ui/people", Some(&vera), false).await.status, StatusCode::SEE_OTHER);
    assert_eq!(sign_in_with(&ui, "vera", PW).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(sign_in_with(&ui, "vera", &new).await.status, StatusCode::SEE_OTHER);

    // The last admin cannot be disabled, in plain words.
    let a = ui.post("/ui/admin/operators/adam/disable", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.body.contains("last enabled admin") && a.body.contains("last_admin"), "{}", a.body);
}

/// The ID of `name`'s newest live session.
fn session_of(ui: &Ui, name: &str) -> i64 {
    let c = rusqlite::Connection::open(ui._fx.db_path()).unwrap();
    c.query_row(
        "SELECT s.id FROM sessions s JOIN operators o ON o.id = s.operator_id
         WHERE o.name = ?1 AND s.ended_at IS NULL ORDER BY s.id DESC LIMIT 1",
        [name],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test]
async fn ui_an_admin_ends_another_operators_session() {
    let ui = Ui::new();
    let (vera, _) = ui.sign_in("vera").await;
    let (cookie, csrf) = ui.sign_in("adam").await;
    let (theirs, mine) = (session_of(&ui, "vera"), session_of(&ui, "adam"));
    let page = ui.get("/ui/admin", Some(&cookie), false).await;
    assert!(page.body.contains(&format!("<tr><td>{theirs}</td><td>vera</td><td>viewer</td>")), "{}", page.body);
    assert!(page.body.contains(&format!("href=\"/ui/admin/sessions/{theirs}/revoke\"")), "{}", page.body);
    assert!(!page.body.contains(&format!("/ui/admin/sessions/{mine}/revoke")), "not one's own: {}", page.body);
    assert!(page.body.contains("<td>this session</td>"), "{}", page.body);
    let dialog = ui.get(&format!("/ui/admin/sessions/{theirs}/revoke"), Some(&cookie), true).await;
    assert!(dialog.body.contains(">End session</button>"), "{}", dialog.body);

    let path = format!("/ui/admin/sessions/{theirs}/revoke");
    let a = ui.post(&path, Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(ui.get("/ui/people", Some(&vera), false).await.header("location"), "/ui/sign-in", "vera is out");
    let page = ui.get(a.header("location"), Some(&cookie), false).await;
    assert!(page.body.contains(&format!("Session {theirs} was ended.")), "{}", page.body);
    let c = rusqlite::Connection::open(ui._fx.db_path()).unwrap();
    let why: String = c.query_row("SELECT ended_why FROM sessions WHERE id = ?1", [theirs], |r| r.get(0)).unwrap();
    assert_eq!(why, "revoked");
    // Again: there is no such live session.
    let a = ui.post(&path, Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    // vera signs in again.
    ui.sign_in("vera").await;
}

/// `POST /api/v1/access/decide` for door `main` with a controller's token.
async fn decide(ui: &Ui, token: &str, uid: &str) -> StatusCode {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/access/decide")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    ui.send(req, &serde_json::json!({"uid": uid, "door": "main"}).to_string()).await.status
}

#[tokio::test]
async fn ui_a_rotated_controller_token_decides_and_the_old_one_works_during_the_overlap() {
    let ui = Ui::new();
    let (cookie, csrf) = ui.sign_in("adam").await;
    let a = ui
        .post("/ui/admin/controllers", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}&name=front&doors=main"))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("was added for doors main.") && a.body.contains("Token (shown once)"), "{}", a.body);
    let first = shown_secret(&a);
    assert_eq!(decide(&ui, &first, "04A1B2C3").await, StatusCode::OK);
    let id = ui.store.controllers().unwrap()[0].id;

    // The rotation dialog offers the overlaps, 24 hours first.
    let dialog = ui.get(&format!("/ui/admin/controllers/{id}/rotate"), Some(&cookie), true).await;
    assert!(dialog.body.contains("value=\"86400\" checked> 24 hours (the default)"), "{}", dialog.body);
    assert!(dialog.body.contains(">Rotate token</button>"), "{}", dialog.body);

    let form = format!("csrf={csrf}&overlap=3600");
    let a = ui.post(&format!("/ui/admin/controllers/{id}/rotate"), Some(&cookie), Some(ORIGIN), &form).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let until = idms::domain::Timestamp(ui.store.now().0 + 3600).to_string();
    assert!(a.body.contains(&format!("The old token keeps working until {until} (UTC)")), "{}", a.body);
    let second = shown_secret(&a);
    assert_ne!(first, second);
    assert_eq!(decide(&ui, &second, "04A1B2C3").await, StatusCode::OK, "the new token decides");
    assert_eq!(decide(&ui, &first, "04A1B2C3").await, StatusCode::OK, "the old one works during the overlap");
    ui._fx.clock.advance(3601);
    assert_eq!(decide(&ui, &first, "04A1B2C3").await, StatusCode::UNAUTHORIZED, "and not after it");
    assert_eq!(decide(&ui, &second, "04A1B2C3").await, StatusCode::OK);

    // "None" revokes the old token at once.
    let (cookie, csrf) = ui.sign_in("adam").await;
    let a = ui
        .post(
            &format!("/ui/admin/controllers/{id}/rotate"),
            Some(&cookie),
            Some(ORIGIN),
            &format!("csrf={csrf}&overlap=0"),
        )
        .await;
    assert!(a.body.contains("The old token was revoked now."), "{}", a.body);
    let third = shown_secret(&a);
    assert_eq!(decide(&ui, &second, "04A1B2C3").await, StatusCode::UNAUTHORIZED);
    assert_eq!(decide(&ui, &third, "04A1B2C3").await, StatusCode::OK);

    // Revoke its tokens (confirmed): none works.
    let dialog = ui.get(&format!("/ui/admin/controllers/{id}/revoke"), Some(&cookie), true).await;
    assert!(dialog.body.contains(">Revoke tokens</button>"), "{}", dialog.body);
    let a = ui
        .post(&format!("/ui/admin/controllers/{id}/revoke"), Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}"))
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(decide(&ui, &third, "04A1B2C3").await, StatusCode::UNAUTHORIZED);
    let page = ui.get(a.header("location"), Some(&cookie), false).await;
    assert!(page.body.contains(&format!("The tokens of controller {id} were revoked.")), "{}", page.body);
    // The token list shows them revoked (with revoked ones included), none revocable.
    let page = ui.get("/ui/admin?all=on", Some(&cookie), false).await;
    assert!(page.body.contains("<td>controller front</td><td>controller</td>"), "{}", page.body);
    assert!(!page.body.contains("/ui/admin/tokens/1/revoke"), "{}", page.body);
}

#[tokio::test]
async fn ui_admin_posts_with_a_viewers_or_managers_own_session_and_csrf_are_refused_and_change_nothing() {
    let ui = Ui::new();
    with_every_role(&ui);
    let (c, token) = ui.store.add_controller(&staff(), "front", &["main".to_string()]).unwrap();
    let all = TokenFilter { limit: 100, ..TokenFilter::default() };
    let before = (ui.store.operators().unwrap(), ui.store.controllers().unwrap(), ui.store.tokens(&all).unwrap());
    let t = before.2[0].id;
    let (adams, _) = ui.sign_in("adam").await;
    let posts = [
        ("/ui/admin/operators".to_string(), "&name=mallory&role=admin&org_unit=&password=mallory+password"),
        ("/ui/admin/controllers".to_string(), "&name=evil&doors=main"),
        ("/ui/admin/operators/adam/disable".to_string(), ""),
        ("/ui/admin/operators/adam/password".to_string(), "&password=taken+over+now"),
        ("/ui/admin/operators/vera/enable".to_string(), ""),
        (format!("/ui/admin/controllers/{}/rotate", c.id), "&overlap=0"),
        (format!("/ui/admin/controllers/{}/revoke", c.id), ""),
        (format!("/ui/admin/controllers/{}/disable", c.id), ""),
        (format!("/ui/admin/tokens/{t}/revoke"), ""),
        (format!("/ui/admin/sessions/{}/revoke", session_of(&ui, "adam")), ""),
    ];
    for who in ["vera", "max", "erin"] {
        let (cookie, csrf) = ui.sign_in(who).await;
        for (path, rest) in &posts {
            let a = ui.post(path, Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}{rest}")).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{who} {path}: {}", a.body);
            assert!(a.body.contains("forbidden") && !a.body.contains("id=\"secret\""), "{who} {path}: {}", a.body);
            let page = ui.get(path, Some(&cookie), false).await;
            assert!(matches!(page.status, StatusCode::FORBIDDEN | StatusCode::METHOD_NOT_ALLOWED), "{who} GET {path}");
        }
    }
    let after = (ui.store.operators().unwrap(), ui.store.controllers().unwrap(), ui.store.tokens(&all).unwrap());
    assert_eq!(before, after, "nothing changed");
    assert_eq!(ui.get("/ui/people", Some(&adams), false).await.status, StatusCode::OK, "adam's session lives");
    assert_eq!(decide(&ui, &token, "04A1B2C3").await, StatusCode::OK, "the controller still decides");
    assert_eq!(sign_in_with(&ui, "adam", PW).await.status, StatusCode::SEE_OTHER, "adam still signs in");
}

/// A page's Next page link, if it has one.
fn next_link(a: &Answer) -> Option<String> {
    a.body.find("\" rel=\"next\">Next page").map(|end| {
        let start = a.body[..end].rfind("href=\"").unwrap() + "href=\"".len();
        a.body[start..end].replace("&amp;", "&")
    })
}

/// The `seq` column of an audit page's rows, and its Next link.
fn audit_page(a: &Answer) -> (Vec<i64>, Option<String>) {
    let seqs =
        a.body.split("<tr><td>").skip(1).map(|row| row[..row.find('<').unwrap()].parse::<i64>().unwrap()).collect();
    (seqs, next_link(a))
}

#[tokio::test]
async fn ui_audit_pages_through_the_trail_without_repeats_filters_and_verifies() {
    let ui = Ui::new();
    let people: Vec<_> =
        (0..70).map(|i| ui.store.create_user(&staff(), new_user("Test", &format!("P{i}"))).unwrap().id).collect();
    ui.store.lifecycle(&staff(), people[3], LifecycleAction::Suspend).unwrap();
    ui.store.add_operator(&staff(), "max", Role::Manager, None, Some(PW)).unwrap();
    let (cookie, _) = ui.sign_in("max").await;
    let total = ui.store.audit_entries(&idms::store::AuditQuery { limit: Some(10_000), ..Default::default() }).unwrap();

    let (mut seen, mut next, mut pages) = (Vec::new(), Some("/ui/audit".to_string()), 0);
    while let Some(path) = next {
        let a = ui.get(&path, Some(&cookie), false).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        let (seqs, n) = audit_page(&a);
        assert!(!seqs.is_empty() && seqs.len() <= 50, "{path}: {}", seqs.len());
        seen.extend(seqs);
        next = n;
        pages += 1;
    }
    assert!(pages >= 2, "{pages} pages");
    let want: Vec<i64> = total.iter().map(|e| e.seq).collect();
    assert_eq!(seen, want, "every entry once, oldest first, no repeats");

    // The htmx partial is the entries only.
    let part = ui.get("/ui/audit?since=10", Some(&cookie), true).await;
    assert!(!part.body.contains("<html") && audit_page(&part).0[0] == 11, "{}", part.body);

    // Filter by the person acted on.
    let a = ui.get(&format!("/ui/audit?target={}", people[3]), Some(&cookie), false).await;
    let (seqs, next) = audit_page(&a);
    assert_eq!(seqs.len(), 2, "created and suspended: {}", a.body);
    assert!(next.is_none() && a.body.contains("<td>user.suspend</td>"), "{}", a.body);
    let a = ui.get("/ui/audit?target=Ada+Lovelace", Some(&cookie), false).await;
    assert!(a.body.contains("Not a user ID") && audit_page(&a).0.is_empty(), "{}", a.body);
    let a = ui.get("/ui/audit?actor=nobody", Some(&cookie), false).await;
    assert!(a.body.contains("No audit entry matches."), "{}", a.body);

    // Verification with the head; a head the chain does not hold.
    let a = ui.get("/ui/audit?verify=1", Some(&cookie), false).await;
    let n = ui.store.audit_entries(&idms::store::AuditQuery { limit: Some(10_000), ..Default::default() }).unwrap();
    let last = n.last().unwrap().seq;
    assert!(a.body.contains(&format!("Audit chain intact: {} entries verified.", n.len())), "{}", a.body);
    assert!(a.body.contains(&format!("Head: <code class=\"wrap\">{last}:")), "{}", a.body);
    let at = a.body.find(&format!("{last}:")).unwrap();
    let head = a.body[at..at + format!("{last}:").len() + 64].to_string();
    let a = ui.get(&format!("/ui/audit?verify=1&expect={head}"), Some(&cookie), false).await;
    assert!(a.body.contains(&format!("It still holds the recorded head <code>{head}</code>")), "{}", a.body);
    let wrong = format!("1:{}", "0".repeat(64));
    let a = ui.get(&format!("/ui/audit?verify=1&expect={wrong}"), Some(&cookie), false).await;
    assert!(a.body.contains("no longer holds the recorded head"), "{}", a.body);
}

#[test]
fn one_entry_verified_is_singular() {
    assert_eq!(idms::ops::audit::entries_verified(1), "1 entry verified");
    assert_eq!(idms::ops::audit::entries_verified(0), "0 entries verified");
    assert_eq!(idms::ops::audit::entries_verified(2), "2 entries verified");
}

#[tokio::test]
async fn ui_access_events_filtered_by_decision_show_only_that_decision() {
    let ui = Ui::new();
    ui.store.add_operator(&staff(), "max", Role::Manager, None, Some(PW)).unwrap();
    let id = ui.store.create_user(&staff(), new_user("Grace", "Hopper")).unwrap().id;
    ui.store.enroll(&staff(), id, Technology::Iso14443a, &iso("04A1B2C3")).unwrap();
    let (_, door) = ui.store.add_controller(&staff(), "front", &["main".to_string()]).unwrap();
    for uid in ["04A1B2C3", "04FFFFFF", "04A1B2C3", "04EEEEEE", "04A1B2C3"] {
        assert_eq!(decide(&ui, &door, uid).await, StatusCode::OK);
    }
    let (cookie, _) = ui.sign_in("max").await;
    let count = |a: &Answer, what: &str| a.body.matches(what).count();
    let grant = "<td>grant</td>";
    let deny = "<td>deny (<code>unknown_credential</code>)</td>";

    let all = ui.get("/ui/events", Some(&cookie), false).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!((count(&all, grant), count(&all, deny)), (3, 2), "{}", all.body);
    let a = ui.get("/ui/events?decision=grant", Some(&cookie), false).await;
    assert_eq!((count(&a, grant), count(&a, deny)), (3, 0), "{}", a.body);
    assert!(a.body.contains(&format!("<a href=\"/ui/people/{id}\">{id}</a>")), "{}", a.body);
    let a = ui.get("/ui/events?decision=deny", Some(&cookie), true).await;
    assert!(!a.body.contains("<html"), "the htmx partial");
    assert_eq!((count(&a, grant), count(&a, deny)), (0, 2), "{}", a.body);
    // The person, door and day filters.
    let a = ui.get(&format!("/ui/events?user_id={id}&decision=deny"), Some(&cookie), false).await;
    assert!(a.body.contains("No access event matches."), "{}", a.body);
    let a = ui.get("/ui/events?door=side", Some(&cookie), false).await;
    assert!(a.body.contains("No access event matches."), "{}", a.body);
    let a = ui.get("/ui/events?from=2026-01-01&to=2026-01-01&decision=grant", Some(&cookie), false).await;
    assert_eq!(count(&a, grant), 3, "the whole day is included: {}", a.body);
    let a = ui.get("/ui/events?to=2025-12-31", Some(&cookie), false).await;
    assert!(a.body.contains("No access event matches."), "{}", a.body);
    // A filter `ops` refuses is named next to the filters, never echoed.
    let a = ui.get("/ui/events?user_id=Jane+Doe", Some(&cookie), false).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    let at = a.body.find("These filters were not used").unwrap_or_else(|| panic!("{}", a.body));
    let problem = &a.body[at..at + a.body[at..].find("</p>").unwrap()];
    assert!(problem.contains("user_id") && !problem.contains("Jane"), "{problem}");
}

#[tokio::test]
async fn ui_access_events_page_through_without_repeats() {
    let ui = Ui::new();
    ui.store.add_operator(&staff(), "max", Role::Manager, None, Some(PW)).unwrap();
    let (_, door) = ui.store.add_controller(&staff(), "front", &["main".to_string()]).unwrap();
    for i in 0..60 {
        ui._fx.clock.set(idms::domain::Timestamp(crate::common::T0.0 + i));
        assert_eq!(decide(&ui, &door, &format!("04{:06X}", 0xA000 + i)).await, StatusCode::OK);
    }
    let (cookie, _) = ui.sign_in("max").await;
    let (mut uids, mut next, mut pages) = (Vec::new(), Some("/ui/events".to_string()), 0);
    while let Some(path) = next {
        let a = ui.get(&path, Some(&cookie), false).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        uids.extend(a.body.split("<td>04").skip(1).map(|r| r[..r.find('<').unwrap()].to_string()));
        next = next_link(&a);
        pages += 1;
    }
    assert_eq!(pages, 2);
    let want: Vec<String> = (0..60).map(|i| format!("{:06X}", 0xA000 + i)).collect();
    assert_eq!(uids, want, "every event once, oldest first");
}
