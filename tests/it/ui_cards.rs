//! The web UI's Cards, Enrol and Readers pages over HTTP, in-process: a
//! UID look-up shows the holder, state and who held it; the stock lists
//! cards ready to recycle; a viewer's revoke / suspend / resume posts —
//! with their own valid session and CSRF token — get 403 and change
//! nothing, while a manager's go through `ops` with a notice; Enrol is
//! refused to a viewer and binds for an enroller (typed UID), refusing a
//! held card with `credential_held`.

use axum::http::StatusCode;
use idms::domain::{CredentialState, LifecycleAction, Technology};
use idms::store::Role;

use crate::common::{iso, new_user, staff};
use crate::ui_http::{ORIGIN, PW, Ui, assert_secure_headers};

const CARD: &str = "04C0FFEE";

/// A person holding [`CARD`], a manager `max` and an enroller `ella`.
fn setup(ui: &Ui) -> String {
    ui.store.add_operator(&staff(), "max", Role::Manager, None, Some(PW)).unwrap();
    ui.store.add_operator(&staff(), "ella", Role::Enroller, None, Some(PW)).unwrap();
    let id = ui.store.create_user(&staff(), new_user("Grace", "Hopper")).unwrap().id;
    ui.store.enroll(&staff(), id, Technology::Iso14443a, &iso(CARD)).unwrap();
    id.to_string()
}

fn card_state(ui: &Ui) -> CredentialState {
    ui.store.get_credential(None, &iso(CARD)).unwrap().state
}

#[tokio::test]
async fn a_viewer_looks_cards_up_but_revoke_suspend_and_resume_are_refused_and_change_nothing() {
    let ui = Ui::new();
    let holder = setup(&ui);
    let (cookie, csrf) = ui.sign_in("vera").await;
    let people = ui.get("/ui/people", Some(&cookie), false).await;
    assert!(people.body.contains("<a href=\"/ui/cards\">Cards</a>"), "{}", people.body);
    assert!(people.body.contains("<a href=\"/ui/readers\">Readers</a>"), "{}", people.body);

    let page = ui.get(&format!("/ui/cards?uid={}", CARD.to_lowercase()), Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_secure_headers(&page, "Cards");
    assert!(page.body.contains("<dt>State</dt><dd>issued</dd>"), "{}", page.body);
    assert!(page.body.contains(&format!("<a href=\"/ui/people/{holder}\">{holder}</a> (active)")), "{}", page.body);
    assert!(page.body.contains("Who held this card"), "the history: {}", page.body);
    assert!(!page.body.contains("Revoke") && !page.body.contains("Suspend"), "no actions for a viewer");
    assert!(!page.body.contains("Hopper"), "the Cards page shows user IDs, not names");

    let unknown = ui.get("/ui/cards?uid=04000001", Some(&cookie), false).await;
    assert!(unknown.body.contains("No card with this UID is in your reach.") && unknown.body.contains("not_found"));
    let bad = ui.get("/ui/cards?uid=nothex", Some(&cookie), false).await;
    assert!(bad.body.contains("That is not a UID") && bad.body.contains("aria-invalid=\"true\""), "{}", bad.body);

    for (verb, extra) in [("revoke", "&reason=lost"), ("suspend", ""), ("resume", "")] {
        let a = ui
            .post(
                &format!("/ui/cards/{CARD}/{verb}"),
                Some(&cookie),
                Some(ORIGIN),
                &format!("csrf={csrf}&technology=iso14443a{extra}"),
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{verb}: {}", a.body);
        assert_eq!(card_state(&ui), CredentialState::Issued, "{verb} changed nothing");
    }
    let enrol = ui.get(&format!("/ui/enrol?user={holder}"), Some(&cookie), false).await;
    assert_eq!(enrol.status, StatusCode::FORBIDDEN, "a viewer does not enrol");
    let readers = ui.get("/ui/readers", Some(&cookie), false).await;
    assert_eq!(readers.status, StatusCode::OK);
    assert!(
        readers.body.contains("No reader is connected.") && !readers.body.contains("Live taps"),
        "{}",
        readers.body
    );
}

#[tokio::test]
async fn a_manager_suspends_resumes_and_revokes_a_card_and_the_stock_lists_a_released_one() {
    let ui = Ui::new();
    setup(&ui);
    let (cookie, csrf) = ui.sign_in("max").await;
    let page = ui.get(&format!("/ui/cards?uid={CARD}"), Some(&cookie), false).await;
    for link in ["/revoke?technology=iso14443a\"", "/suspend?technology=iso14443a\""] {
        assert!(page.body.contains(&format!("/ui/cards/{CARD}{link}")), "{link}: {}", page.body);
    }
    assert!(!page.body.contains(&format!("/ui/cards/{CARD}/resume")), "resume only for a suspended card");

    // The confirmation: a page without htmx, the dialog's content with it.
    let full = ui.get(&format!("/ui/cards/{CARD}/revoke?technology=iso14443a"), Some(&cookie), false).await;
    assert!(full.body.contains("<h1>Card 04C0FFEE</h1>") && full.body.contains("Revoke Card"), "{}", full.body);
    let dialog = ui.get(&format!("/ui/cards/{CARD}/revoke?technology=iso14443a"), Some(&cookie), true).await;
    assert!(dialog.body.contains("<h2 id=\"dialog-h\">Revoke card 04C0FFEE</h2>"), "{}", dialog.body);
    assert!(!dialog.body.contains("<html"), "htmx gets only the dialog");
    assert_eq!(card_state(&ui), CredentialState::Issued, "a confirmation changes nothing");

    let post = |verb: &'static str, extra: &'static str| {
        let (cookie, csrf) = (cookie.clone(), csrf.clone());
        let ui = &ui;
        async move {
            ui.post(
                &format!("/ui/cards/{CARD}/{verb}"),
                Some(&cookie),
                Some(ORIGIN),
                &format!("csrf={csrf}&technology=iso14443a{extra}"),
            )
            .await
        }
    };
    let a = post("suspend", "").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.header("location"), format!("/ui/cards?uid={CARD}&technology=iso14443a&done=suspend"));
    assert_eq!(card_state(&ui), CredentialState::Suspended);
    let shown = ui.get(a.header("location"), Some(&cookie), false).await;
    assert!(shown.body.contains("Card 04C0FFEE was suspended."), "{}", shown.body);
    // A forged notice is not shown: the card is not issued.
    let forged = ui.get(&format!("/ui/cards?uid={CARD}&done=resume"), Some(&cookie), false).await;
    assert!(!forged.body.contains("was resumed"), "{}", forged.body);

    assert_eq!(post("resume", "").await.status, StatusCode::SEE_OTHER);
    assert_eq!(card_state(&ui), CredentialState::Issued);
    let no_reason = post("revoke", "").await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST, "revoke needs a reason: {}", no_reason.body);
    assert_eq!(card_state(&ui), CredentialState::Issued);
    let a = post("revoke", "&reason=stolen").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(card_state(&ui), CredentialState::Stolen);
    let shown = ui.get(a.header("location"), Some(&cookie), false).await;
    assert!(shown.body.contains("Card 04C0FFEE was revoked (stolen)."), "{}", shown.body);
    assert!(!shown.body.contains(&format!("/ui/cards/{CARD}/revoke")), "no action on a retired card");

    // A person's card released by an expunge is in stock, ready to recycle.
    let gone = ui.store.create_user(&staff(), new_user("Temp", "Leaver")).unwrap().id;
    ui.store.enroll(&staff(), gone, Technology::Iso14443a, &iso("04BEEF01")).unwrap();
    ui.store.lifecycle(&staff(), gone, LifecycleAction::Delete).unwrap();
    ui.store.expunge(&staff(), gone, &gone.to_string()).unwrap();
    let stock = ui.get("/ui/cards", Some(&cookie), false).await;
    assert!(
        stock.body.contains("<a href=\"/ui/cards?uid=04BEEF01&amp;technology=iso14443a\">04BEEF01</a>"),
        "{}",
        stock.body
    );
    assert!(!stock.body.contains(">04C0FFEE<"), "a retired card is not in stock");
}

#[tokio::test]
async fn an_enroller_enrols_a_typed_uid_and_a_held_card_is_refused_with_its_holder() {
    let ui = Ui::new();
    let holder = setup(&ui);
    let other = ui.store.create_user(&staff(), new_user("Alan", "Turing")).unwrap().id.to_string();
    let (cookie, csrf) = ui.sign_in("ella").await;
    let record = ui.get(&format!("/ui/people/{other}"), Some(&cookie), false).await;
    assert!(record.body.contains(&format!("<a href=\"/ui/enrol?user={other}\">Enrol a card</a>")), "{}", record.body);

    let page = ui.get(&format!("/ui/enrol?user={other}"), Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_secure_headers(&page, "Enrol");
    assert!(page.body.contains("<h1>Enrol a card</h1>") && page.body.contains("No reader is connected."));

    // The held card: its holder's ID and state, refused, no Confirm.
    let held = ui.get(&format!("/ui/enrol?user={other}&uid={CARD}"), Some(&cookie), false).await;
    assert!(held.body.contains(&format!("Held by person {holder} (active): refused.")), "{}", held.body);
    assert!(held.body.contains("<code>credential_held</code>") && !held.body.contains(">Confirm<"), "{}", held.body);
    // A forced post is refused by `ops` in plain words, and binds nothing.
    let forced = ui
        .post(
            "/ui/enrol",
            Some(&cookie),
            Some(ORIGIN),
            &format!("csrf={csrf}&user={other}&uid={CARD}&technology=iso14443a"),
        )
        .await;
    assert_eq!(forced.status, StatusCode::CONFLICT, "{}", forced.body);
    assert!(forced.body.contains("held by someone else"), "{}", forced.body);
    assert_eq!(ui.store.get_credential(None, &iso(CARD)).unwrap().holder.unwrap().to_string(), holder);

    // A new card: Confirm binds it.
    let new = ui.get(&format!("/ui/enrol?user={other}&uid=04A1B2C3"), Some(&cookie), false).await;
    assert!(new.body.contains("New card: Confirm enrols it.") && new.body.contains(">Confirm<"), "{}", new.body);
    let a = ui
        .post(
            "/ui/enrol",
            Some(&cookie),
            Some(ORIGIN),
            &format!("csrf={csrf}&user={other}&uid=04A1B2C3&technology=iso14443a"),
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(ui.store.get_credential(None, &iso("04A1B2C3")).unwrap().holder.unwrap().to_string(), other);
    let done = ui.get(a.header("location"), Some(&cookie), false).await;
    assert!(done.body.contains(&format!("Card 04A1B2C3 is now enrolled to person {other}.")), "{}", done.body);
    // Without a valid token nothing is bound.
    let forged = ui
        .post("/ui/enrol", Some(&cookie), Some(ORIGIN), &format!("csrf={}&user={other}&uid=04A1B2C4", "0".repeat(64)))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(ui.store.get_credential(None, &iso("04A1B2C4")).is_err(), "nothing bound");

    // The live stream needs a session.
    let anon = ui.get("/ui/readers/events", None, false).await;
    assert_eq!((anon.status, anon.header("location")), (StatusCode::SEE_OTHER, "/ui/sign-in"));
    let readers = ui.get("/ui/readers", Some(&cookie), false).await;
    assert!(readers.body.contains("Live taps") && readers.body.contains("data-live=\"/ui/readers/events\""));
}

/// Reads the body until it holds `want` (Some: the text so far) or ends (None).
async fn read_until(body: &mut axum::body::Body, text: &mut String, want: &str) -> Option<String> {
    use http_body_util::BodyExt;
    while !text.contains(want) {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame()).await.ok()??;
        if let Ok(data) = frame.ok()?.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    Some(text.clone())
}

#[tokio::test]
async fn the_live_stream_shows_a_tap_by_holder_id_only_and_ends_with_the_session() {
    use axum::body::Body;
    use axum::http::{Method, Request};
    use idms::domain::Timestamp;
    use idms::readers::{CardType, ReaderEvent, ReaderEventKind};
    use tower::ServiceExt;

    let ui = Ui::new();
    let holder = setup(&ui);
    let (cookie, csrf) = ui.sign_in("ella").await;
    let req = Request::builder()
        .method(Method::GET)
        .uri("/ui/readers/events")
        .header("host", crate::ui_http::HOST)
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    let res = ui.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    let tap = ReaderEventKind::Tap { uid: iso(CARD), card_type: CardType::MifareClassic1k, raw: None };
    ui.state.readers.publish(ReaderEvent::new("Desk 00 00", Timestamp(0), tap, None));
    let mut text = String::new();
    let got = read_until(&mut body, &mut text, "</div>").await.expect("the tap arrives");
    assert!(got.contains("event: tap") && got.contains("04C0FFEE"), "{got}");
    assert!(got.contains(&format!("Held by person {holder} (active): refused.")), "{got}");
    assert!(!got.contains("Grace") && !got.contains("Hopper"), "no name on the stream: {got}");
    assert!(!got.contains(">Confirm<"), "no Confirm on the Readers feed: {got}");

    // Signing out ends the stream (rechecked every couple of seconds).
    let out = ui.post("/ui/sign-out", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let started = std::time::Instant::now();
    assert!(read_until(&mut body, &mut text, "never sent").await.is_none(), "the stream ends");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "ended by the recheck, not a timeout");
}

#[tokio::test]
async fn a_scoped_enroller_learns_that_a_card_is_held_elsewhere_but_not_by_whom() {
    let ui = Ui::new();
    let holder = setup(&ui);
    ui.store.add_operator(&staff(), "nina", Role::Enroller, Some("north"), Some(PW)).unwrap();
    let north = idms::store::NewUser { org_unit: Some("north".into()), ..new_user("Nora", "North") };
    let newcomer = ui.store.create_user(&staff(), north).unwrap().id.to_string();
    let (cookie, _) = ui.sign_in("nina").await;
    let page = ui.get(&format!("/ui/enrol?user={newcomer}&uid={CARD}"), Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Held by someone outside your unit: refused."), "{}", page.body);
    assert!(!page.body.contains(&holder) && !page.body.contains(">Confirm<"), "{}", page.body);
    // The card itself is out of a scoped operator's reach on Cards.
    let cards = ui.get(&format!("/ui/cards?uid={CARD}"), Some(&cookie), false).await;
    assert!(cards.body.contains("No card with this UID is in your reach.") && !cards.body.contains(&holder));
    // And a person of another unit cannot be enrolled for.
    let other = ui.get(&format!("/ui/enrol?user={holder}"), Some(&cookie), false).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.body);
}
