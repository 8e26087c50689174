//! Tap-to-enrol in Chromium with hw-sim (must-be-true 2): a card placed on
//! a virtual reader (hw-sim through pcscd/vpcd) appears on the Enrol page
//! without a reload, with its UID, type and verdict; a held card shows
//! `credential_held` with the holder's ID and state and no Confirm; a
//! random-UID card is refused; Confirm binds. The Readers page shows the
//! reader and the tap in its live feed; axe-core runs on Enrol, Readers and
//! Cards.

use std::path::Path;

use fantoccini::{Client, Locator};
use hw_sim::card::{CardModel, VirtualCard};
use hw_sim::client::InsertedCard;
use hw_sim::pcscd::ReaderLease;

use super::{Browser, add_operator, axe_serious, button, sign_in, wait_for};
use crate::enrol::Live;
use crate::server::{Server, cli};

const PASSWORD: &str = "browser test password";

/// `idms serve` on `d` (initialised, with its people and operators added
/// first) watching the leased hw-sim reader, once it lists it as ready.
pub fn reader_service(d: tempfile::TempDir, lease: &ReaderLease) -> Live {
    let dir = d.path().to_path_buf();
    let token =
        cli(&dir, &["token", "create", "--name", "desk", "--role", "enroller"])["token"].as_str().unwrap().to_owned();
    // The scrub delay short: the 000 test scans the files after an expunge's scrub.
    let server = Server::start_with(&dir, &[("IDMS_PCSC_READERS", &lease.name()), ("IDMS_SCRUB_DELAY_SECS", "1")]);
    let l = Live { _d: d, server, token, dir };
    l.wait_for_reader(&lease.name());
    l
}

/// A person, by the CLI.
pub fn person(dir: &Path, given: &str, family: &str) -> String {
    cli(dir, &["user", "add", "--given", given, "--family", family])["id"].as_str().unwrap().to_owned()
}

/// Waits until the page's live stream is connected (its taps arrive from now on).
pub async fn stream_open(c: &Client) {
    wait_for(c, "//*[@data-live and @data-stream='open']").await;
}

/// Puts `uid` (a card of `model`) on the leased reader.
pub fn place(lease: &ReaderLease, model: CardModel, uid: &[u8]) -> InsertedCard {
    InsertedCard::insert(lease.addr(), VirtualCard::new(model, uid)).unwrap()
}

/// Puts `uid` (a card of `model`) on the reader until `xpath` shows (at most
/// three placements: a placement right after another card left the vpcd
/// reader is now and then never reported, as the API's reader tests know).
pub async fn place_until_shown(
    c: &Client,
    lease: &ReaderLease,
    model: CardModel,
    uid: &[u8],
    xpath: &str,
) -> InsertedCard {
    for _ in 0..3 {
        let card = place(lease, model, uid);
        let within = std::time::Duration::from_secs(4);
        if c.wait().at_most(within).for_element(Locator::XPath(xpath)).await.is_ok() {
            return card;
        }
        card.remove().unwrap();
    }
    panic!("{xpath}: not shown after three placements");
}

/// Where the Enrol page shows a tapped card's `uid`.
pub fn shows(uid: &str) -> String {
    format!("//div[@id='tap']//dd[normalize-space()='{uid}']")
}

/// The tapped card's fragment on the Enrol page, once it shows `uid`.
async fn tap_shown(c: &Client, uid: &str) -> String {
    wait_for(c, &shows(uid)).await;
    c.find(Locator::Id("tap")).await.unwrap().text().await.unwrap()
}

/// Whether the Enrol page's tap shows a Confirm button.
async fn has_confirm(c: &Client) -> bool {
    c.find(Locator::XPath("//div[@id='tap']//button[normalize-space()='Confirm']")).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tapped_card_appears_live_with_its_verdict_and_confirm_binds_it() {
    let lease = hw_sim::pcscd::lease().unwrap();
    let d = tempfile::tempdir().unwrap();
    cli(d.path(), &["init"]);
    add_operator(d.path(), "ella", "enroller", PASSWORD);
    let alice = person(d.path(), "Alice", "Holder");
    cli(d.path(), &["card", "enroll", "--user", &alice, "--uid", "04C0FFEE"]);
    let bob = person(d.path(), "Bob", "Newcomer");
    let l = reader_service(d, &lease);
    let b = Browser::start().await;
    let c = &b.c;
    sign_in(c, &l.server.base, "ella", PASSWORD).await;

    // The record offers Enrol a card; the page lists the reader and waits.
    c.goto(&format!("{}/ui/people/{bob}", l.server.base)).await.unwrap();
    button(c, "Enrol a card").await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Enrol a card']").await;
    wait_for(c, &format!("//table//td[normalize-space()='{}']", lease.name())).await;
    wait_for(c, "//h2[normalize-space()='Tap the card now']").await;
    stream_open(c).await;
    // A mark in the page: still there after the taps, so nothing reloaded it.
    c.execute("window.idmsNoReload = 1;", vec![]).await.unwrap();

    // A card someone holds: their ID and state, credential_held, no Confirm.
    let card =
        place_until_shown(c, &lease, CardModel::MifareClassic1k, &[0x04, 0xC0, 0xFF, 0xEE], &shows("04C0FFEE")).await;
    let shown = tap_shown(c, "04C0FFEE").await;
    assert!(shown.contains(&format!("Held by person {alice} (active): refused.")), "{shown}");
    assert!(shown.contains("credential_held") && shown.contains("MIFARE Classic 1K"), "{shown}");
    assert!(!has_confirm(c).await, "no Confirm for a held card");
    card.remove().unwrap();

    // A random-UID card: refused, no Confirm.
    let random = "//div[@id='tap']//code[normalize-space()='random_uid']";
    let card = place_until_shown(c, &lease, CardModel::RandomUid, &[0x08, 0xDE, 0xAD, 0x01], random).await;
    let shown = c.find(Locator::Id("tap")).await.unwrap().text().await.unwrap();
    assert!(shown.contains("random UID") && shown.contains("refused"), "{shown}");
    assert!(!has_confirm(c).await, "no Confirm for a random UID");
    card.remove().unwrap();

    // A new card: UID, type, verdict and Confirm, all without a reload.
    let uid = [0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
    let card = place_until_shown(c, &lease, CardModel::Ultralight, &uid, &shows("04112233445566")).await;
    let shown = tap_shown(c, "04112233445566").await;
    assert!(shown.contains("MIFARE Ultralight") && shown.contains("New card: Confirm enrols it."), "{shown}");
    assert!(has_confirm(c).await, "Confirm for a new card");
    assert_eq!(c.execute("return window.idmsNoReload;", vec![]).await.unwrap(), 1, "the page was not reloaded");
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "Enrol with a tapped card: {v:#?}");
    card.remove().unwrap();
    let (_, before) = l.get("/api/v1/credentials/04112233445566");
    assert_eq!(before["code"], "not_found", "nothing is bound before Confirm: {before}");
    // Confirm by keyboard: Enter on the button.
    wait_for(c, "//div[@id='tap']//button[normalize-space()='Confirm']")
        .await
        .send_keys(&fantoccini::key::Key::Enter)
        .await
        .unwrap();
    wait_for(
        c,
        &format!("//*[@role='status']/p[normalize-space()='Card 04112233445566 is now enrolled to person {bob}.']"),
    )
    .await;
    let (status, bound) = l.get("/api/v1/credentials/04112233445566");
    assert_eq!((status, bound["holder"].as_str(), bound["state"].as_str()), (200, Some(bob.as_str()), Some("issued")));

    // Readers: the reader's live status and the tap in the feed.
    // (Each new page is waited for by its heading: the last one had a
    // reader table and a live stream too.)
    button(c, "Readers").await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Readers']").await;
    wait_for(c, &format!("//table//td[normalize-space()='{}']", lease.name())).await;
    stream_open(c).await;
    let card = place_until_shown(
        c,
        &lease,
        CardModel::MifareClassic1k,
        &[0x04, 0xC0, 0xFF, 0xEE],
        "//ol[@id='taps']/li//dd[normalize-space()='04C0FFEE']",
    )
    .await;
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "Readers with a tap in the feed: {v:#?}");
    card.remove().unwrap();

    // Cards: the card just bound, looked up.
    button(c, "Cards").await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Cards']").await;
    super::field(c, "Card UID (hex)").await.send_keys("04112233445566").await.unwrap();
    button(c, "Look up").await.click().await.unwrap();
    wait_for(c, &format!("//dd/a[normalize-space()='{bob}']")).await;
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "Cards with a card looked up: {v:#?}");
    b.close().await;
    l.server.stop();
}

/// The focused element's visible text.
async fn focused_text(c: &Client) -> String {
    c.active_element().await.unwrap().text().await.unwrap().trim().to_string()
}

/// Whether the dialog is open, once it has settled to `want` (capped by `WAIT`).
async fn dialog_open_becomes(c: &Client, want: bool) -> bool {
    let end = std::time::Instant::now() + super::WAIT;
    loop {
        let open = c.find(Locator::XPath("//dialog[@open]")).await.is_ok();
        if open == want || std::time::Instant::now() > end {
            return open;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_revokes_a_lost_card_on_the_cards_page_by_keyboard_only() {
    use fantoccini::key::Key;

    let d = tempfile::tempdir().unwrap();
    let server = super::service(d.path(), PASSWORD);
    add_operator(d.path(), "max", "manager", PASSWORD);
    let holder = person(d.path(), "Carla", "Keys");
    cli(d.path(), &["card", "enroll", "--user", &holder, "--uid", "04C0FFEE"]);
    let b = Browser::start().await;
    let c = &b.c;
    sign_in(c, &server.base, "max", PASSWORD).await;
    c.goto(&format!("{}/ui/cards", server.base)).await.unwrap();

    // Type the UID and press Enter; the card shows with its actions.
    super::field(c, "Card UID (hex)").await.send_keys(&format!("04c0ffee{}", &*Key::Enter)).await.unwrap();
    wait_for(c, &format!("//dd/a[normalize-space()='{holder}']")).await;
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "Cards: {v:#?}");

    // Revoke by Enter: the dialog opens with the focus in it; Escape closes
    // it and gives the focus back to Revoke.
    button(c, "Revoke").await.send_keys(&Key::Enter).await.unwrap();
    assert!(dialog_open_becomes(c, true).await, "Enter on Revoke opens the dialog");
    wait_for(c, "//dialog[@open]//h2[normalize-space()='Revoke card 04C0FFEE']").await;
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "Cards with the Revoke dialog open: {v:#?}");
    let focused = c.active_element().await.unwrap();
    assert_eq!(focused.attr("value").await.unwrap().as_deref(), Some("lost"), "the focus is on the first reason");
    focused.send_keys(&Key::Escape).await.unwrap();
    assert!(!dialog_open_becomes(c, false).await, "Escape closes the dialog");
    assert_eq!(focused_text(c).await, "Revoke", "the focus is back on Revoke");
    let state = |d: &Path| cli(d, &["card", "show", "04C0FFEE"])["state"].as_str().unwrap().to_string();
    assert_eq!(state(d.path()), "issued", "Escape changes nothing");

    // Again: Space picks Lost, Tab reaches Revoke Card, Enter revokes.
    c.active_element().await.unwrap().send_keys(&Key::Enter).await.unwrap();
    assert!(dialog_open_becomes(c, true).await);
    wait_for(c, "//dialog[@open]//input[@value='lost']").await;
    let first = c.active_element().await.unwrap();
    first.send_keys(" ").await.unwrap();
    let mut tabs = 0;
    while focused_text(c).await != "Revoke Card" {
        c.active_element().await.unwrap().send_keys(&Key::Tab).await.unwrap();
        tabs += 1;
        assert!(tabs < 10, "Tab reaches Revoke Card");
    }
    c.active_element().await.unwrap().send_keys(&Key::Enter).await.unwrap();
    wait_for(c, "//*[@role='status']/p[normalize-space()='Card 04C0FFEE was revoked (lost).']").await;
    assert_eq!(state(d.path()), "lost");
    b.close().await;
    server.stop();
}
