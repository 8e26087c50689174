//! The web UI over HTTP, in-process (`tower::ServiceExt::oneshot` on
//! `api::router`): security headers on every page, the cookie's flags,
//! CSRF and `Origin` refusals that change nothing, sign-out and a disabled
//! operator ending the session server-side, names escaped.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use idms::api::{AppState, router};
use idms::store::{NewUser, Role, Store};
use tower::ServiceExt;

use idms::domain::Technology;

use crate::common::{Fixture, iso, new_user, staff};

pub(crate) const PW: &str = "viewer password 1";
pub(crate) const HOST: &str = "idms.test";
pub(crate) const ORIGIN: &str = "http://idms.test";
/// The names the escaping test gives a person.
const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";

/// The service in-process, with a viewer `vera` and an admin `adam`
/// (password [`PW`]); shared with the other `ui_*` HTTP tests.
pub(crate) struct Ui {
    pub(crate) _fx: Fixture,
    pub(crate) store: Arc<Store>,
    pub(crate) state: AppState,
    pub(crate) app: Router,
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    /// The session cookie set, as a `Cookie` header value.
    pub(crate) fn cookie(&self) -> String {
        let set = self.header("set-cookie");
        set.split(';').next().unwrap().to_string()
    }

    /// The CSRF token a signed-in page carries.
    pub(crate) fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
        self.body[at..at + 64].to_string()
    }
}

impl Ui {
    pub(crate) fn new() -> Self {
        let fx = Fixture::new();
        let store = Arc::new(Store::open(&fx.db_path(), fx.clock.clone()).unwrap());
        let state = AppState::open(store.clone(), fx.dir.path(), 1024, std::time::Duration::ZERO).unwrap();
        let app = router(state.clone());
        store.add_operator(&staff(), "vera", Role::Viewer, None, Some(PW)).unwrap();
        store.add_operator(&staff(), "adam", Role::Admin, None, Some(PW)).unwrap();
        Self { _fx: fx, store, state, app }
    }

    pub(crate) async fn send(&self, req: axum::http::request::Builder, body: &str) -> Answer {
        let res = self.app.clone().oneshot(req.header("host", HOST).body(Body::from(body.to_owned())).unwrap()).await;
        let res = res.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Answer { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub(crate) async fn get(&self, path: &str, cookie: Option<&str>, htmx: bool) -> Answer {
        let mut req = Request::builder().method(Method::GET).uri(path);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if htmx {
            req = req.header("hx-request", "true");
        }
        self.send(req, "").await
    }

    pub(crate) async fn post(&self, path: &str, cookie: Option<&str>, origin: Option<&str>, form: &str) -> Answer {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        self.send(req, form).await
    }

    /// Signs `name` in; answers the cookie and the CSRF token.
    pub(crate) async fn sign_in(&self, name: &str) -> (String, String) {
        let a = self
            .post("/ui/sign-in", None, Some(ORIGIN), &format!("name={name}&password={}", PW.replace(' ', "+")))
            .await;
        assert_eq!((a.status, a.header("location")), (StatusCode::SEE_OTHER, "/ui/people"), "{}", a.body);
        let cookie = a.cookie();
        let page = self.get("/ui/people", Some(&cookie), false).await;
        assert_eq!(page.status, StatusCode::OK);
        (cookie, page.csrf())
    }

    pub(crate) fn live_sessions(&self) -> i64 {
        let c = rusqlite::Connection::open(self._fx.db_path()).unwrap();
        c.query_row("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL", [], |r| r.get(0)).unwrap()
    }
}

pub(crate) fn assert_secure_headers(a: &Answer, what: &str) {
    assert_eq!(a.header("content-security-policy"), idms::ui::CSP, "{what}");
    let csp = a.header("content-security-policy");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: {csp}");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(a.header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(a.header("referrer-policy"), "same-origin", "{what}");
}

#[tokio::test]
async fn every_ui_response_carries_the_security_headers_and_the_cookie_its_flags() {
    let ui = Ui::new();
    let person = ui.store.create_user(&staff(), new_user("Ada", "Lovelace")).unwrap().id.to_string();
    let signin = ui.get("/ui/sign-in", None, false).await;
    assert_eq!(signin.status, StatusCode::OK);
    assert_secure_headers(&signin, "sign-in page");
    assert_eq!(signin.header("cache-control"), "no-store");
    let root = ui.get("/", None, false).await;
    assert_eq!((root.status, root.header("location")), (StatusCode::SEE_OTHER, "/ui/sign-in"));
    assert_secure_headers(&root, "/");

    let a = ui.post("/ui/sign-in", None, Some(ORIGIN), &format!("name=vera&password={}", PW.replace(' ', "+"))).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_secure_headers(&a, "sign-in answer");
    let set = a.header("set-cookie");
    assert!(set.starts_with("idms_session="), "{set}");
    for flag in ["; Path=/", "; HttpOnly", "; SameSite=Strict"] {
        assert!(set.contains(flag), "{flag} in {set}");
    }
    assert!(!set.contains("Secure") && !set.contains("Domain"), "plain HTTP: {set}");
    let cookie = a.cookie();
    assert_eq!(ui.get("/", Some(&cookie), false).await.header("location"), "/ui/people");

    let signed_in = [
        "/ui/people".to_string(),
        "/ui/people?q=Love".to_string(),
        format!("/ui/people/{person}"),
        "/ui/people/not-an-id".to_string(),
        "/ui/nowhere".to_string(),
    ];
    for path in &signed_in {
        let page = ui.get(path, Some(&cookie), false).await;
        assert_secure_headers(&page, path);
        assert_eq!(page.header("cache-control"), "no-store", "{path}");
        assert!(page.header("content-type").starts_with("text/html"), "{path}");
    }
    let partial = ui.get("/ui/people?q=Love", Some(&cookie), true).await;
    assert_secure_headers(&partial, "the results fragment");
    assert!(partial.body.contains("Lovelace") && !partial.body.contains("<html"), "{}", partial.body);

    // Assets: content-hashed names, cached for a year.
    let page = ui.get("/ui/people", Some(&cookie), false).await;
    let at = page.body.find("/ui/assets/htmx.").unwrap();
    let path = &page.body[at..at + page.body[at..].find('"').unwrap()];
    let asset = ui.get(path, None, false).await;
    assert_eq!(asset.status, StatusCode::OK, "{path}");
    assert_eq!(asset.header("cache-control"), "public, max-age=31536000, immutable");
    assert_secure_headers(&asset, path);
    assert_eq!((asset.header("content-encoding"), asset.header("vary")), ("", "Accept-Encoding"), "{path}");
    let zipped = ui.send(Request::get(path).header("accept-encoding", "gzip, deflate, br"), "").await;
    assert_eq!(zipped.header("content-encoding"), "gzip", "{path}");
    assert!(zipped.body.starts_with("\u{1f}\u{fffd}") && asset.body.is_ascii(), "{path}: gzip is sent (magic 1f 8b)");
    assert_eq!(ui.get("/ui/assets/htmx.00000000.js", None, false).await.status, StatusCode::NOT_FOUND);

    // Under TLS the cookie is `__Host-` and `Secure`.
    ui.state.https.store(true, std::sync::atomic::Ordering::Relaxed);
    let a = ui
        .post("/ui/sign-in", None, Some("https://idms.test"), &format!("name=vera&password={}", PW.replace(' ', "+")))
        .await;
    let set = a.header("set-cookie");
    assert!(set.starts_with("__Host-idms_session=") && set.contains("; Secure") && set.contains("; Path=/"), "{set}");
    assert!(a.header("strict-transport-security").starts_with("max-age="));
}

#[tokio::test]
async fn a_post_without_the_csrf_token_or_from_another_origin_is_refused_and_changes_nothing() {
    let ui = Ui::new();
    let (cookie, csrf) = ui.sign_in("vera").await;
    assert_eq!(ui.live_sessions(), 1);
    let forged = [
        (Some(ORIGIN), String::new(), "no token"),
        (Some(ORIGIN), format!("csrf={}", "0".repeat(64)), "a wrong token"),
        (Some("http://evil.test"), format!("csrf={csrf}"), "a foreign Origin"),
        (Some("null"), format!("csrf={csrf}"), "an opaque Origin"),
        (None, format!("csrf={csrf}"), "no Origin and no Sec-Fetch-Site"),
    ];
    for (origin, form, what) in forged {
        let a = ui.post("/ui/sign-out", Some(&cookie), origin, &form).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{what}: {}", a.body);
        assert_secure_headers(&a, what);
        assert!(a.body.contains("was not carried out"), "{what}: {}", a.body);
        assert_eq!(ui.live_sessions(), 1, "{what} changed nothing");
        assert_eq!(ui.get("/ui/people", Some(&cookie), false).await.status, StatusCode::OK, "{what}");
    }
    // Signing in from another site opens no session.
    let a = ui
        .post("/ui/sign-in", None, Some("http://evil.test"), &format!("name=vera&password={}", PW.replace(' ', "+")))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.header("set-cookie").is_empty());
    assert_eq!(ui.live_sessions(), 1);
    // The token in the header (as htmx sends it) is accepted.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/ui/sign-out")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &cookie)
        .header("origin", ORIGIN)
        .header("x-csrf-token", &csrf);
    let a = ui.send(req, "").await;
    assert_eq!((a.status, a.header("location")), (StatusCode::SEE_OTHER, "/ui/sign-in"), "{}", a.body);
    assert_eq!(ui.live_sessions(), 0);
}

#[tokio::test]
async fn sign_out_ends_the_session_server_side_and_a_wrong_password_opens_none() {
    let ui = Ui::new();
    let bad = ui.post("/ui/sign-in", None, Some(ORIGIN), "name=vera&password=wrong+password").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.body.contains("Unknown operator or wrong password.") && bad.header("set-cookie").is_empty());
    assert_secure_headers(&bad, "refused sign-in");

    let (cookie, csrf) = ui.sign_in("vera").await;
    let page = ui.get("/ui/people", Some(&cookie), false).await;
    assert!(page.body.contains("Signed in as vera (viewer)") && page.body.contains(">Sign out</button>"));
    let out = ui.post("/ui/sign-out", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!((out.status, out.header("location")), (StatusCode::SEE_OTHER, "/ui/sign-in"));
    assert!(out.header("set-cookie").contains("Max-Age=0"), "the cookie is cleared too");
    // The old cookie, replayed, gets the sign-in page: the store ended the session.
    let again = ui.get("/ui/people", Some(&cookie), false).await;
    assert_eq!((again.status, again.header("location")), (StatusCode::SEE_OTHER, "/ui/sign-in"));
    let hx = ui.get("/ui/people?q=a", Some(&cookie), true).await;
    assert_eq!(hx.header("hx-redirect"), "/ui/sign-in", "htmx is told to leave the page");
    let c = rusqlite::Connection::open(ui._fx.db_path()).unwrap();
    let why: String = c.query_row("SELECT ended_why FROM sessions", [], |r| r.get(0)).unwrap();
    assert_eq!(why, "sign_out");
    let out = ui.post("/ui/sign-out", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!(out.header("location"), "/ui/sign-in", "an ended session cannot post either");
}

#[tokio::test]
async fn a_disabled_operators_session_is_refused_at_once() {
    let ui = Ui::new();
    let (cookie, _) = ui.sign_in("vera").await;
    ui.store.set_operator_enabled(&staff(), "vera", false).unwrap();
    let a = ui.get("/ui/people", Some(&cookie), false).await;
    assert_eq!((a.status, a.header("location")), (StatusCode::SEE_OTHER, "/ui/sign-in"));
    ui.store.set_operator_enabled(&staff(), "vera", true).unwrap();
    let a = ui.get("/ui/people", Some(&cookie), false).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "enabling does not bring the session back");
}

#[tokio::test]
async fn sessions_live_as_long_as_the_configured_limits() {
    use idms::store::sessions::SessionLimits;
    let ui = Ui::new();
    *ui.state.session_limits.write().unwrap() = SessionLimits { idle_secs: 60, max_secs: 150 };
    let (cookie, _) = ui.sign_in("vera").await;
    let ok = |a: &Answer| a.status == StatusCode::OK;
    // Busy every 50 s: alive past the idle limit, until the whole life is over.
    for _ in 0..2 {
        ui._fx.clock.advance(50);
        assert!(ok(&ui.get("/ui/people", Some(&cookie), false).await), "used within the idle limit");
    }
    ui._fx.clock.advance(51);
    let a = ui.get("/ui/people", Some(&cookie), false).await;
    assert_eq!((a.status, a.header("location")), (StatusCode::SEE_OTHER, "/ui/sign-in"), "151 s: past the maximum");

    // Idle: ended after 60 s without a request.
    let (cookie, _) = ui.sign_in("vera").await;
    ui._fx.clock.advance(59);
    assert!(ok(&ui.get("/ui/people", Some(&cookie), false).await), "59 s idle");
    ui._fx.clock.advance(61);
    assert_eq!(ui.get("/ui/people", Some(&cookie), false).await.status, StatusCode::SEE_OTHER, "61 s idle");
}

#[tokio::test]
async fn names_are_escaped_in_the_results_and_the_record() {
    let ui = Ui::new();
    let id = ui.store.create_user(&staff(), new_user(IMG, SCRIPT)).unwrap().id.to_string();
    let (cookie, _) = ui.sign_in("vera").await;
    let q = "/ui/people?q=%3Cscript";
    for (what, a) in [
        ("results page", ui.get(q, Some(&cookie), false).await),
        ("results fragment", ui.get(q, Some(&cookie), true).await),
        ("record", ui.get(&format!("/ui/people/{id}"), Some(&cookie), false).await),
    ] {
        assert_eq!(a.status, StatusCode::OK, "{what}");
        assert!(a.body.contains(&id), "{what} shows the person: {}", a.body);
        // askama writes `<` `>` `"` as numeric references; either form is escaped.
        let text = a.body.replace("&#60;", "&lt;").replace("&#62;", "&gt;").replace("&#34;", "&quot;");
        assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{what}: {}", a.body);
        assert!(text.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"), "{what}: {}", a.body);
        assert!(!a.body.contains(SCRIPT) && !a.body.contains("<img"), "{what}: {}", a.body);
    }
    // The search term is echoed into the box escaped too.
    let a = ui.get("/ui/people?q=%22%3E%3Cscript%3Ealert(2)%3C%2Fscript%3E", Some(&cookie), false).await;
    assert!(!a.body.contains("<script>alert(2)"), "{}", a.body);
}

/// The person's state and their card's state, as the store has them.
fn states(ui: &Ui, id: &str, uid: &str) -> (&'static str, &'static str) {
    let user = ui.store.get_user(id.parse().unwrap()).unwrap();
    let card = ui.store.get_credential(Some(Technology::Iso14443a), &iso(uid)).unwrap();
    (user.state.as_str(), card.state.as_str())
}

/// A person with a card, and the operators `erin` (eraser) and `max` (manager).
fn with_person_and_card(ui: &Ui) -> String {
    ui.store.add_operator(&staff(), "erin", Role::Eraser, None, Some(PW)).unwrap();
    ui.store.add_operator(&staff(), "max", Role::Manager, None, Some(PW)).unwrap();
    let id = ui.store.create_user(&staff(), new_user("Grace", "Hopper")).unwrap().id;
    ui.store.enroll(&staff(), id, Technology::Iso14443a, &iso("04A1B2C3")).unwrap();
    id.to_string()
}

#[tokio::test]
async fn an_eraser_deletes_then_expunges_through_the_forms_and_the_card_returns_to_stock() {
    let ui = Ui::new();
    let id = with_person_and_card(&ui);
    let (cookie, csrf) = ui.sign_in("erin").await;
    let record = ui.get(&format!("/ui/people/{id}"), Some(&cookie), false).await;
    assert!(record.body.contains("<summary>Manage</summary>"), "{}", record.body);
    assert!(record.body.contains(&format!("href=\"/ui/people/{id}/delete\"")), "Delete is offered");
    // Expunge is shown, disabled, with the reason: the person is not deleted.
    assert!(record.body.contains("aria-disabled=\"true\" aria-describedby=\"why-expunge\">Expunge - Permanent<"));
    assert!(record.body.contains("holder_not_deleted"), "{}", record.body);
    // Refresh Org Info is offered to a manager and above, disabled for a person without a directory link.
    assert!(
        record.body.contains("aria-describedby=\"why-refresh\">Refresh Org Info</button>")
            && record.body.contains("not_directory_linked"),
        "{}",
        record.body
    );

    // The confirmation page (no htmx) and the dialog (htmx) for Delete.
    let page = ui.get(&format!("/ui/people/{id}/delete"), Some(&cookie), false).await;
    assert!(page.body.contains("<html") && page.body.contains(">Delete User</button>"), "{}", page.body);
    let dialog = ui.get(&format!("/ui/people/{id}/delete"), Some(&cookie), true).await;
    assert!(!dialog.body.contains("<html") && dialog.body.contains(">Delete User</button>"), "{}", dialog.body);

    let a = ui.post(&format!("/ui/people/{id}/delete"), Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!((a.status, a.header("location")), (StatusCode::SEE_OTHER, &*format!("/ui/people/{id}?done=delete")));
    assert_eq!(states(&ui, &id, "04A1B2C3").0, "deleted");

    // The expunge dialog shows what is destroyed and what is kept, and asks for the ID.
    let dialog = ui.get(&format!("/ui/people/{id}/expunge"), Some(&cookie), true).await;
    for want in ["Family name", "Given name", "Card 04A1B2C3: released to stock", "Expunge User", "data-expect"] {
        assert!(dialog.body.contains(want), "{want}: {}", dialog.body);
    }
    // A wrong typed ID changes nothing.
    let wrong = format!("csrf={csrf}&confirm={}", with_other(&ui));
    // Without htmx, back to the confirmation (PRG), which says why.
    let a = ui.post(&format!("/ui/people/{id}/expunge"), Some(&cookie), Some(ORIGIN), &wrong).await;
    let back = format!("/ui/people/{id}/expunge?refused=expunge_not_confirmed");
    assert_eq!((a.status, a.header("location")), (StatusCode::SEE_OTHER, &*back), "{}", a.body);
    let shown = ui.get(&back, Some(&cookie), false).await;
    assert!(shown.body.contains("did not match") && shown.body.contains("<code>expunge_not_confirmed</code>"));
    assert_eq!(states(&ui, &id, "04A1B2C3"), ("deleted", "issued"));
    let a = ui.post(&format!("/ui/people/{id}/expunge"), Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!((a.status, a.header("location")), (StatusCode::SEE_OTHER, &*back), "no typed ID: {}", a.body);
    assert_eq!(states(&ui, &id, "04A1B2C3"), ("deleted", "issued"));

    let a = ui
        .post(&format!("/ui/people/{id}/expunge"), Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}&confirm={id}"))
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let released = format!("/ui/people/{id}?done=expunge&released=04A1B2C3&seal=");
    assert!(a.header("location").starts_with(&released), "{}", a.header("location"));
    assert_eq!(states(&ui, &id, "04A1B2C3"), ("expunged", "in_stock"));
    let record = ui.get(a.header("location"), Some(&cookie), false).await;
    assert!(record.body.contains(&format!("Person {id} was expunged.")), "{}", record.body);
    assert!(record.body.contains("back in stock and can be recycled") && record.body.contains("<li>04A1B2C3</li>"));
    assert!(record.body.contains("Tombstone: expunged") && !record.body.contains("Hopper"), "{}", record.body);

    // For htmx the answer is HX-Redirect, not a 303.
    let other = ui.store.create_user(&staff(), new_user("Alan", "Turing")).unwrap().id.to_string();
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/ui/people/{other}/suspend"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &cookie)
        .header("origin", ORIGIN)
        .header("hx-request", "true")
        .header("x-csrf-token", &csrf);
    let a = ui.send(req, "").await;
    assert_eq!((a.status, a.header("hx-redirect")), (StatusCode::OK, &*format!("/ui/people/{other}?done=suspend")));
}

#[tokio::test]
async fn a_viewers_delete_or_expunge_post_is_refused_and_a_manager_sees_delete_but_not_expunge() {
    let ui = Ui::new();
    let id = with_person_and_card(&ui);
    let (cookie, csrf) = ui.sign_in("vera").await;
    let record = ui.get(&format!("/ui/people/{id}"), Some(&cookie), false).await;
    assert_eq!(record.status, StatusCode::OK);
    assert!(!record.body.contains("Manage</summary>") && !record.body.contains("/delete\""), "{}", record.body);
    for (verb, form) in [("delete", format!("csrf={csrf}")), ("expunge", format!("csrf={csrf}&confirm={id}"))] {
        let a = ui.post(&format!("/ui/people/{id}/{verb}"), Some(&cookie), Some(ORIGIN), &form).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{verb}: {}", a.body);
        assert!(a.body.contains("forbidden"), "{verb}: {}", a.body);
        assert_eq!(states(&ui, &id, "04A1B2C3"), ("active", "issued"), "{verb} changed nothing");
        let page = ui.get(&format!("/ui/people/{id}/{verb}"), Some(&cookie), false).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{verb} confirmation");
    }
    // Even after a manager deletes them, the viewer cannot expunge.
    ui.store.lifecycle(&staff(), id.parse().unwrap(), idms::domain::LifecycleAction::Delete).unwrap();
    let a = ui
        .post(&format!("/ui/people/{id}/expunge"), Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}&confirm={id}"))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert_eq!(states(&ui, &id, "04A1B2C3"), ("deleted", "issued"));

    let (cookie, _) = ui.sign_in("max").await;
    let record = ui.get(&format!("/ui/people/{id}"), Some(&cookie), false).await;
    assert!(record.body.contains("<summary>Manage</summary>"), "{}", record.body);
    assert!(record.body.contains(&format!("href=\"/ui/people/{id}/restore\"")), "{}", record.body);
    assert!(record.body.contains(">Delete</button>"), "Delete shown, disabled for a deleted person");
    assert!(!record.body.contains("Expunge - Permanent"), "no expunge for a manager: {}", record.body);
    let other = with_other(&ui);
    let record = ui.get(&format!("/ui/people/{other}"), Some(&cookie), false).await;
    assert!(record.body.contains(&format!("href=\"/ui/people/{other}/delete\"")), "{}", record.body);
    assert!(record.body.contains("hx-target=\"#dialog\">Delete</a>"), "{}", record.body);
    assert!(!record.body.contains("Expunge - Permanent"), "{}", record.body);
}

fn with_other(ui: &Ui) -> String {
    ui.store.create_user(&staff(), new_user("Alan", "Turing")).unwrap().id.to_string()
}

#[tokio::test]
async fn expunge_is_disabled_for_a_person_under_legal_hold_and_a_forced_post_is_refused_in_plain_words() {
    let ui = Ui::new();
    with_person_and_card(&ui);
    let held = NewUser { legal_hold: true, ..new_user("Ada", "Lovelace") };
    let id = ui.store.create_user(&staff(), held).unwrap().id;
    ui.store.lifecycle(&staff(), id, idms::domain::LifecycleAction::Delete).unwrap();
    let (cookie, csrf) = ui.sign_in("erin").await;
    let record = ui.get(&format!("/ui/people/{id}"), Some(&cookie), false).await;
    assert!(record.body.contains("aria-describedby=\"why-expunge\">Expunge - Permanent</button>"), "{}", record.body);
    assert!(record.body.contains("Under legal hold: lift the hold before expunging. (<code>legal_hold</code>)"));
    let a = ui
        .post(&format!("/ui/people/{id}/expunge"), Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}&confirm={id}"))
        .await;
    let back = format!("/ui/people/{id}/expunge?refused=legal_hold");
    assert_eq!((a.status, a.header("location")), (StatusCode::SEE_OTHER, &*back), "{}", a.body);
    let a = ui.get(&back, Some(&cookie), false).await;
    assert!(a.body.contains("legal hold") && a.body.contains("<code>legal_hold</code>"), "{}", a.body);
    assert_eq!(ui.store.get_user(id).unwrap().state.as_str(), "deleted", "nothing changed");
    let missing = ui.get("/ui/people/ZZZZZZZZ/expunge", Some(&cookie), false).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// Three deleted people of unit `lab`, the last under legal hold, and one
/// active person; operators `erin` (eraser), `max` (manager), `ella`
/// (enroller) beside `vera` (viewer).
fn three_deleted(ui: &Ui) -> [String; 4] {
    ui.store.add_operator(&staff(), "erin", Role::Eraser, None, Some(PW)).unwrap();
    ui.store.add_operator(&staff(), "max", Role::Manager, None, Some(PW)).unwrap();
    ui.store.add_operator(&staff(), "ella", Role::Enroller, None, Some(PW)).unwrap();
    let lab = |u: NewUser| NewUser { org_unit: Some("lab".into()), ..u };
    let people = [
        lab(new_user("Grace", "Hopper")),
        lab(new_user("Alan", "Turing")),
        lab(NewUser { legal_hold: true, ..new_user("Ada", "Lovelace") }),
    ];
    let ids: Vec<String> = people
        .into_iter()
        .map(|n| {
            let id = ui.store.create_user(&staff(), n).unwrap().id;
            ui.store.lifecycle(&staff(), id, idms::domain::LifecycleAction::Delete).unwrap();
            id.to_string()
        })
        .collect();
    let active = ui.store.create_user(&staff(), lab(new_user("Edsger", "Dijkstra"))).unwrap().id.to_string();
    [ids[0].clone(), ids[1].clone(), ids[2].clone(), active]
}

pub(crate) fn state_of(ui: &Ui, id: &str) -> &'static str {
    ui.store.get_user(id.parse().unwrap()).unwrap().state.as_str()
}

#[tokio::test]
async fn ui_erase_deleted_users_erases_two_and_reports_the_one_under_legal_hold() {
    let ui = Ui::new();
    let [a, b, held, active] = three_deleted(&ui);
    let (cookie, csrf) = ui.sign_in("erin").await;
    let people = ui.get("/ui/people", Some(&cookie), false).await;
    assert!(people.body.contains("<a href=\"/ui/deleted\">Deleted Users</a>"), "the eraser's menu: {}", people.body);

    // Search by org unit and date deleted (today, both bounds included).
    let today = ui.store.get_user(a.parse().unwrap()).unwrap().deleted_at.unwrap().to_string()[..10].to_string();
    let search = format!("/ui/deleted?search=1&q=&unit=lab&from={today}&to={today}");
    let page = ui.get(&search, Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_secure_headers(&page, "Deleted Users");
    for id in [&a, &b, &held] {
        assert!(page.body.contains(&format!("name=\"id\" value=\"{id}\" checked")), "{id} ticked: {}", page.body);
        assert!(page.body.contains(&format!("href=\"/ui/people/{id}/restore\"")), "Restore for {id}");
    }
    assert!(!page.body.contains(&active) && !page.body.contains("Dijkstra"), "only deleted people");
    assert!(page.body.contains(">Erase</button>") && page.body.contains(">Search for deleted users</button>"));
    let fragment = ui.get(&search, Some(&cookie), true).await;
    assert!(!fragment.body.contains("<html") && fragment.body.contains("Hopper"), "{}", fragment.body);
    // The day before finds no one; a keyword narrows.
    let none = ui.get("/ui/deleted?search=1&to=2000-01-01", Some(&cookie), false).await;
    assert!(none.body.contains("No deleted user found."), "{}", none.body);
    let one = ui.get("/ui/deleted?search=1&q=Turing", Some(&cookie), false).await;
    assert!(one.body.contains(&format!("value=\"{b}\"")) && !one.body.contains(&format!("value=\"{a}\"")));

    // Erase → the confirmation lists the three (page, and the dialog for htmx).
    let ask = format!("/ui/deleted/erase?id={a}&id={b}&id={held}");
    for (htmx, what) in [(false, "page"), (true, "dialog")] {
        let confirm = ui.get(&ask, Some(&cookie), htmx).await;
        assert_eq!(confirm.status, StatusCode::OK, "{what}: {}", confirm.body);
        assert_eq!(confirm.body.contains("<html"), !htmx, "{what}");
        assert!(confirm.body.contains("These 3 users will be erased:"), "{what}: {}", confirm.body);
        for (id, name) in [(&a, "Hopper, Grace"), (&b, "Turing, Alan"), (&held, "Lovelace, Ada")] {
            assert!(confirm.body.contains(&format!("<li>{id}: {name} (lab)</li>")), "{what} lists {id}");
        }
        assert!(confirm.body.contains(">Erase</button>") && confirm.body.contains(">Cancel</a>"), "{what}");
        assert!(confirm.body.contains("cannot be restored"), "{what}: the warning");
    }
    assert_eq!([state_of(&ui, &a), state_of(&ui, &b), state_of(&ui, &held)], ["deleted"; 3], "asking erases no one");

    let form = format!("csrf={csrf}&id={a}&id={b}&id={held}");
    let done = ui.post("/ui/deleted/erase", Some(&cookie), Some(ORIGIN), &form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let to = done.header("location").to_string();
    assert!(to.starts_with("/ui/deleted?done=erase"), "back to the search page: {to}");
    let result = ui.get(&to, Some(&cookie), false).await;
    assert!(result.body.contains("Erased 2:"), "{}", result.body);
    assert!(result.body.contains(&format!("<li>{a}</li>")) && result.body.contains(&format!("<li>{b}</li>")));
    assert!(result.body.contains("Not erased 1:"), "{}", result.body);
    assert!(
        result.body.contains(&format!(
            "<li>{held}: Under legal hold: lift the hold before erasing. (<code>legal_hold</code>)</li>"
        )),
        "{}",
        result.body
    );
    assert!(!result.body.contains("User operation not performed."));
    // The store agrees.
    assert_eq!([state_of(&ui, &a), state_of(&ui, &b), state_of(&ui, &held)], ["expunged", "expunged", "deleted"]);
    assert_eq!(state_of(&ui, &active), "active");

    // Erasing the held one alone: nothing erased, in plain words.
    let done = ui.post("/ui/deleted/erase", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}&id={held}")).await;
    let result = ui.get(done.header("location"), Some(&cookie), false).await;
    assert!(result.body.contains("User operation not performed."), "{}", result.body);
    assert!(result.body.contains("<code>legal_hold</code>"), "{}", result.body);
    // A forged report (no erase of this session made it) shows nothing.
    let forged = format!("/ui/deleted?done=erase&erased={held},{active}&kept={a}:legal_hold");
    let page = ui.get(&forged, Some(&cookie), false).await;
    assert!(!page.body.contains("User operation not performed."), "{}", page.body);
    assert!(!page.body.contains(&format!("<li>{held}</li>")) && !page.body.contains("Not erased"), "{}", page.body);
    // For htmx the erase answers HX-Redirect.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/ui/deleted/erase")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &cookie)
        .header("origin", ORIGIN)
        .header("hx-request", "true")
        .header("x-csrf-token", &csrf);
    let a = ui.send(req, &format!("id={held}")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.header("hx-redirect").starts_with("/ui/deleted?done=erase"), "{:?}", a.headers);
}

#[tokio::test]
async fn ui_deleted_users_is_not_offered_to_a_viewer_or_an_enroller_and_their_erase_post_is_refused() {
    let ui = Ui::new();
    let [a, b, held, _] = three_deleted(&ui);
    for who in ["vera", "ella"] {
        let (cookie, csrf) = ui.sign_in(who).await;
        let people = ui.get("/ui/people", Some(&cookie), false).await;
        assert!(!people.body.contains("Deleted Users") && !people.body.contains("/ui/deleted"), "{who}'s menu");
        for path in ["/ui/deleted", "/ui/deleted?search=1", &format!("/ui/deleted/erase?id={a}")] {
            let page = ui.get(path, Some(&cookie), false).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{who} {path}: {}", page.body);
            assert!(!page.body.contains("Hopper"), "{who} {path}");
        }
        // Their own valid session and CSRF token: still refused by the rule layer.
        let form = format!("csrf={csrf}&id={a}&id={b}&id={held}");
        let post = ui.post("/ui/deleted/erase", Some(&cookie), Some(ORIGIN), &form).await;
        assert_eq!(post.status, StatusCode::FORBIDDEN, "{who}: {}", post.body);
        assert!(post.body.contains("forbidden"), "{who}: {}", post.body);
        assert_eq!([state_of(&ui, &a), state_of(&ui, &b), state_of(&ui, &held)], ["deleted"; 3], "{who}");
    }
}

#[tokio::test]
async fn ui_restore_from_deleted_users_works_for_a_manager() {
    let ui = Ui::new();
    let [a, ..] = three_deleted(&ui);
    // The eraser's view links each row to Restore.
    let (cookie, _) = ui.sign_in("erin").await;
    let page = ui.get("/ui/deleted?search=1&q=Hopper", Some(&cookie), false).await;
    let link = format!("/ui/people/{a}/restore");
    assert!(page.body.contains(&format!("href=\"{link}\" hx-get=\"{link}\" hx-target=\"#dialog\">Restore")));
    // `ops::purge::deleted` lets only erasers list deleted people, so a
    // manager has no Deleted Users page; the Restore it links to is theirs.
    let (cookie, csrf) = ui.sign_in("max").await;
    let people = ui.get("/ui/people", Some(&cookie), false).await;
    assert!(!people.body.contains("Deleted Users"), "{}", people.body);
    assert_eq!(ui.get("/ui/deleted?search=1", Some(&cookie), false).await.status, StatusCode::FORBIDDEN);
    let dialog = ui.get(&link, Some(&cookie), true).await;
    assert!(dialog.body.contains(">Restore User</button>"), "{}", dialog.body);
    let done = ui.post(&link, Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!(
        (done.status, done.header("location")),
        (StatusCode::SEE_OTHER, &*format!("/ui/people/{a}?done=restore"))
    );
    assert_eq!(state_of(&ui, &a), "active");
    // An eraser restores from the view too, and the person leaves the list.
    let (cookie, csrf) = ui.sign_in("erin").await;
    let b_link = "/ui/deleted?search=1&q=Turing";
    let page = ui.get(b_link, Some(&cookie), false).await;
    let at = page.body.find("/restore\"").unwrap();
    let href = &page.body[page.body[..at].rfind('"').unwrap() + 1..at + "/restore".len()];
    let done = ui.post(href, Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let page = ui.get(b_link, Some(&cookie), false).await;
    assert!(page.body.contains("No deleted user found."), "{}", page.body);
}
