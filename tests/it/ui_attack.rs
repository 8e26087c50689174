//! The web UI attacked as an intruder and as a careless admin would: what
//! a scoped operator can learn of other units, notices a forged link could
//! make lie, and what a careless post could do. Each test failed before
//! its fix.

use axum::http::StatusCode;
use idms::domain::{LifecycleAction, Technology, UserId};
use idms::store::{NewUser, Role};

use crate::common::{iso, new_user, staff};
use crate::ui_http::{ORIGIN, PW, Ui};

fn person_in(ui: &Ui, unit: &str, given: &str, family: &str) -> UserId {
    let n = NewUser { org_unit: Some(unit.into()), ..new_user(given, family) };
    ui.store.create_user(&staff(), n).unwrap().id
}

/// A card first held by someone of unit south (expunged since, so the card
/// went back to stock), then recycled to someone of unit north.
fn recycled_across_units(ui: &Ui) -> (UserId, UserId) {
    let south = person_in(ui, "south", "Sam", "South");
    let north = person_in(ui, "north", "Ned", "North");
    ui.store.enroll(&staff(), south, Technology::Iso14443a, &iso("04AABBCC")).unwrap();
    ui.store.lifecycle(&staff(), south, LifecycleAction::Delete).unwrap();
    ui.store.expunge(&staff(), south, &south.to_string()).unwrap();
    ui.store.enroll(&staff(), north, Technology::Iso14443a, &iso("04AABBCC")).unwrap();
    (south, north)
}

#[tokio::test]
async fn a_scoped_card_look_up_names_no_earlier_holder_of_another_unit() {
    let ui = Ui::new();
    let (south, north) = recycled_across_units(&ui);
    ui.store.add_operator(&staff(), "nina", Role::Viewer, Some("north"), Some(PW)).unwrap();
    let (cookie, _) = ui.sign_in("nina").await;
    let page = ui.get("/ui/cards?uid=04AABBCC", Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(&north.to_string()), "the holder in the unit is shown: {}", page.body);
    assert!(!page.body.contains(&south.to_string()), "another unit's earlier holder is not: {}", page.body);
    assert!(!page.body.contains("holder_expunged"), "nor what became of them: {}", page.body);
    // An operator without a unit sees the whole history.
    let (cookie, _) = ui.sign_in("vera").await;
    let page = ui.get("/ui/cards?uid=04AABBCC", Some(&cookie), false).await;
    assert!(page.body.contains(&south.to_string()) && page.body.contains(&north.to_string()), "{}", page.body);
}

/// The body's notice, if any.
fn notice(body: &str) -> &str {
    body.find("class=\"notice\"").map_or("", |at| &body[at..at + body[at..].find("</div>").unwrap_or(0)])
}

#[tokio::test]
async fn a_forged_admin_link_does_not_say_that_a_working_token_was_revoked_or_a_session_ended() {
    let ui = Ui::new();
    let (controller, _) = ui.store.add_controller(&staff(), "gate", &["front".to_string()]).unwrap();
    let (_, token) = ui.store.issue_token(&staff(), "bot", Role::Viewer, None).unwrap();
    let (cookie, csrf) = ui.sign_in("adam").await;
    for forged in [
        format!("/ui/admin?done=tokens.revoke&who={}", token.id),
        "/ui/admin?done=tokens.revoke&who=987654".to_string(),
        format!("/ui/admin?done=controllers.revoke&who={}", controller.id),
        "/ui/admin?done=controllers.revoke&who=987654".to_string(),
        "/ui/admin?done=tokens.revoke&who=-9223372036854775808".to_string(),
        "/ui/admin?done=sessions.revoke&who=424242".to_string(),
    ] {
        let a = ui.get(&forged, Some(&cookie), false).await;
        assert_eq!(a.status, StatusCode::OK, "{forged}: {}", a.body);
        assert_eq!(notice(&a.body), "", "{forged}: the token still works, so no notice says otherwise");
    }
    // Revoked for real, the notices are shown.
    for path in
        [format!("/ui/admin/tokens/{}/revoke", token.id), format!("/ui/admin/controllers/{}/revoke", controller.id)]
    {
        let a = ui.post(&path, Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}: {}", a.body);
        let shown = ui.get(a.header("location"), Some(&cookie), false).await;
        assert!(notice(&shown.body).contains("revoked"), "{path}: {}", shown.body);
    }
}

#[tokio::test]
async fn a_forged_bulk_update_link_shows_no_count_and_another_sessions_seal_does_not_fit() {
    let ui = Ui::new();
    ui.store.add_operator(&staff(), "max", Role::Manager, None, Some(PW)).unwrap();
    for i in 0..3 {
        let n = NewUser { group: Some("library".into()), ..new_user("Lib", &format!("Rary{i}")) };
        ui.store.create_user(&staff(), n).unwrap();
    }
    let (cookie, csrf) = ui.sign_in("max").await;
    let forged = ui.get("/ui/purge/dates?updated=123456", Some(&cookie), false).await;
    assert_eq!(forged.status, StatusCode::OK, "{}", forged.body);
    assert!(!forged.body.contains("123456"), "no one was updated: {}", notice(&forged.body));
    let post = ui
        .post(
            "/ui/purge/dates",
            Some(&cookie),
            Some(ORIGIN),
            &format!("csrf={csrf}&purge_date=2030-01-01&group=library"),
        )
        .await;
    assert_eq!(post.status, StatusCode::SEE_OTHER, "{}", post.body);
    let to = post.header("location").to_string();
    assert!(to.starts_with("/ui/purge/dates?updated=3&seal="), "{to}");
    let done = ui.get(&to, Some(&cookie), false).await;
    assert!(notice(&done.body).contains("The purge date of 3 users was updated."), "{}", done.body);
    // The seal fits only its own count and its own session.
    let bumped = to.replace("updated=3", "updated=300");
    assert!(!ui.get(&bumped, Some(&cookie), false).await.body.contains("users was updated"), "{bumped}");
    let (other, _) = ui.sign_in("max").await;
    assert!(!ui.get(&to, Some(&other), false).await.body.contains("users was updated"), "another session");
}

#[tokio::test]
async fn a_forged_expunge_link_lists_no_card_as_back_in_stock() {
    let ui = Ui::new();
    ui.store.add_operator(&staff(), "erin", Role::Eraser, None, Some(PW)).unwrap();
    let holder = ui.store.create_user(&staff(), new_user("Held", "Card")).unwrap().id;
    ui.store.enroll(&staff(), holder, Technology::Iso14443a, &iso("04DEAD01")).unwrap();
    let gone = ui.store.create_user(&staff(), new_user("Gone", "Person")).unwrap().id;
    ui.store.lifecycle(&staff(), gone, LifecycleAction::Delete).unwrap();
    ui.store.expunge(&staff(), gone, &gone.to_string()).unwrap();
    let (cookie, _) = ui.sign_in("erin").await;
    let forged = ui.get(&format!("/ui/people/{gone}?done=expunge&released=04DEAD01"), Some(&cookie), false).await;
    assert_eq!(forged.status, StatusCode::OK, "{}", forged.body);
    assert!(notice(&forged.body).contains(&format!("Person {gone} was expunged.")), "true, so shown");
    assert!(
        !forged.body.contains("04DEAD01") && !forged.body.contains("back in stock"),
        "a card someone holds is not said to be ready to recycle: {}",
        notice(&forged.body)
    );
}

#[tokio::test]
async fn a_forged_erase_report_gives_no_false_reason_and_no_made_up_person() {
    let ui = Ui::new();
    ui.store.add_operator(&staff(), "erin", Role::Eraser, None, Some(PW)).unwrap();
    let deleted = ui.store.create_user(&staff(), new_user("Not", "Held")).unwrap().id;
    ui.store.lifecycle(&staff(), deleted, LifecycleAction::Delete).unwrap();
    let live = ui.store.create_user(&staff(), new_user("Still", "Here")).unwrap().id;
    let (cookie, csrf) = ui.sign_in("erin").await;
    let forged = format!("/ui/deleted?done=erase&erased=&kept={deleted}:legal_hold,{live}:not_found");
    let page = ui.get(&forged, Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(notice(&page.body), "", "no erase was made, so no report: {}", notice(&page.body));
    // A real erase reports as before.
    let done = ui.post("/ui/deleted/erase", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}&id={deleted}")).await;
    let report = ui.get(done.header("location"), Some(&cookie), false).await;
    assert!(notice(&report.body).contains(&format!("<li>{deleted}</li>")), "{}", report.body);
}

#[tokio::test]
async fn a_forged_link_does_not_say_that_a_person_was_just_added_or_saved() {
    let ui = Ui::new();
    let id = ui.store.create_user(&staff(), new_user("Old", "Record")).unwrap().id;
    let (cookie, _) = ui.sign_in("vera").await;
    for done in ["added", "saved"] {
        let page = ui.get(&format!("/ui/people/{id}?done={done}"), Some(&cookie), false).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(notice(&page.body), "", "{done}: nothing was added or saved by this session");
    }
}

/// Markup an attacker types wherever a field takes free text.
const EVIL: &str = "\"><img src=x onerror=alert(1)><script>alert(2)</script>";

#[tokio::test]
async fn markup_in_doors_units_groups_criteria_and_audit_details_renders_as_text() {
    let ui = Ui::new();
    let _ = ui.store.add_controller(&staff(), "gate", &[EVIL.to_string()]);
    let _ = ui.store.add_operator(&staff(), "unit-op", Role::Viewer, Some(EVIL), Some(PW));
    let n = NewUser {
        org_unit: Some(EVIL.into()),
        group: Some(EVIL.into()),
        record_type: Some(EVIL.into()),
        notes: Some(EVIL.into()),
        ..new_user(EVIL, EVIL)
    };
    let id = ui.store.create_user(&staff(), n).unwrap().id;
    ui.store.add_operator(&staff(), "erin", Role::Eraser, None, Some(PW)).unwrap();
    let (cookie, csrf) = ui.sign_in("adam").await;
    let enc: String = EVIL.bytes().map(|b| format!("%{b:02X}")).collect();
    // A purge job whose criteria hold the markup, and an access-event read whose audit detail does.
    let (erin, erin_csrf) = ui.sign_in("erin").await;
    let job = ui
        .post(
            "/ui/purge/jobs",
            Some(&erin),
            Some(ORIGIN),
            &format!("csrf={erin_csrf}&grace_days=0&waive_threshold=0&record_type={enc}&group={enc}&org_unit={enc}"),
        )
        .await;
    assert_eq!(job.status, StatusCode::SEE_OTHER, "{}", job.body);
    let _ = ui.get(&format!("/ui/events?door={enc}"), Some(&cookie), false).await;
    let mut shown = Vec::new();
    for (path, c) in [
        ("/ui/admin".to_string(), &cookie),
        (format!("/ui/people/{id}"), &cookie),
        (format!("/ui/people/{id}/edit"), &cookie),
        (format!("/ui/people?q={enc}"), &cookie),
        (format!("/ui/people?q=x&include_deleted=on&after={enc}"), &cookie),
        (format!("/ui/events?door={enc}&user_id={enc}"), &cookie),
        ("/ui/audit".to_string(), &cookie),
        (format!("/ui/audit?actor={enc}&target={enc}&expect={enc}&verify=1"), &cookie),
        (format!("/ui/cards?uid={enc}&technology={enc}"), &cookie),
        (format!("/ui/deleted?search=1&q={enc}&unit={enc}"), &erin),
        ("/ui/purge".to_string(), &erin),
        (job.header("location").to_string(), &erin),
        (format!("/ui/enrol?user={id}&uid={enc}&technology={enc}"), &cookie),
        (format!("/ui/admin/operators/{enc}/disable"), &cookie),
    ] {
        let a = ui.get(&path, Some(c), false).await;
        assert!(!a.body.contains("<img") && !a.body.contains("<script>alert"), "{path}: {}", a.body);
        if a.body.contains("&#60;img") {
            shown.push(path);
        }
    }
    // The markup reached the pages that show these fields (as text).
    for want in ["/ui/admin", "/ui/people/", "/ui/purge", "/ui/audit"] {
        assert!(shown.iter().any(|p| p.starts_with(want)), "{want} shows the markup as text: {shown:?}");
    }
    let _ = csrf;
}

#[tokio::test]
async fn careless_posts_and_mangled_cursors_change_nothing_and_answer_no_server_error() {
    let ui = Ui::new();
    ui.store.add_operator(&staff(), "max", Role::Eraser, None, Some(PW)).unwrap();
    let id = ui.store.create_user(&staff(), new_user("Care", "Less")).unwrap().id;
    let (cookie, csrf) = ui.sign_in("max").await;
    // Update users in bulk with no filter at all: refused, no one's purge date set.
    let a =
        ui.post("/ui/purge/dates", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}&purge_date=2000-01-01")).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("Choose whom to update"), "{}", a.body);
    assert_eq!(ui.store.get_user(id).unwrap().purge_date, None);
    // A huge post (far over the body limit) is refused before anything is read.
    let huge = format!("csrf={csrf}&notes={}", "x".repeat(1 << 20));
    let a = ui.post(&format!("/ui/people/{id}/edit"), Some(&cookie), Some(ORIGIN), &huge).await;
    assert!(a.status.is_client_error(), "{}", a.status);
    assert_eq!(ui.store.get_user(id).unwrap().notes, None);
    // Mangled cursors, page numbers and dates: a client error or the page, never a 5xx.
    let long = "9".repeat(5000);
    for path in [
        format!("/ui/people?q=a&after=-1&before={long}"),
        format!("/ui/people?q={long}"),
        format!("/ui/people/{id}?tab=history&after=-9223372036854775808"),
        format!("/ui/people/{id}?after={long}"),
        "/ui/purge/jobs/0".to_string(),
        format!("/ui/purge/jobs/{long}"),
        "/ui/purge/jobs/1/progress".to_string(),
        "/ui/audit?since=-9223372036854775808".to_string(),
        "/ui/audit?since=9223372036854775807".to_string(),
        "/ui/admin?after=-9223372036854775808".to_string(),
        "/ui/admin?after=9223372036854775807&all=on".to_string(),
        "/ui/deleted?search=1&from=9999-12-31&to=9999-12-31".to_string(),
        "/ui/deleted?search=1&from=0000-01-01".to_string(),
        "/ui/events?from=9999-12-31&to=9999-12-31".to_string(),
        format!("/ui/events?after={long}"),
        "/ui/cards?uid=%20%20&technology=%00".to_string(),
        format!("/ui/cards?uid={long}"),
        format!("/ui/enrol?user={id}&uid=04%3Aa1%20b2%3Ac3&technology=ISO14443A"),
        "/ui/readers/events?user=-1".to_string(),
    ] {
        let a = ui.get(&path, Some(&cookie), false).await;
        assert!(!a.status.is_server_error(), "{path}: {} {}", a.status, a.body);
    }
}

#[tokio::test]
async fn a_planted_session_cookie_is_never_adopted_by_signing_in() {
    let ui = Ui::new();
    let planted = format!("idms_session={}", "ab".repeat(32));
    let req = axum::http::Request::builder()
        .method(axum::http::Method::POST)
        .uri("/ui/sign-in")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", ORIGIN)
        .header("cookie", &planted);
    let a = ui.send(req, &format!("name=vera&password={}", PW.replace(' ', "+"))).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_ne!(a.cookie(), planted, "a new secret of the server's making");
    let with_planted = ui.get("/ui/people", Some(&planted), false).await;
    assert_eq!(with_planted.header("location"), "/ui/sign-in", "the planted value opens nothing");
    assert_eq!(ui.get("/ui/people", Some(&a.cookie()), false).await.status, StatusCode::OK);
}
