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
    let server = Server::start_with(&dir, &[("IDMS_PCSC_READERS", &lease.name())]);
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

/// The tapped card's fragment on the Enrol page, once it shows `uid`.
async fn tap_shown(c: &Client, uid: &str) -> String {
    wait_for(c, &format!("//div[@id='tap']//dd[normalize-space()='{uid}']")).await;
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
    let card = place(&lease, CardModel::MifareClassic1k, &[0x04, 0xC0, 0xFF, 0xEE]);
    let shown = tap_shown(c, "04C0FFEE").await;
    assert!(shown.contains(&format!("Held by person {alice} (active): refused.")), "{shown}");
    assert!(shown.contains("credential_held") && shown.contains("MIFARE Classic 1K"), "{shown}");
    assert!(!has_confirm(c).await, "no Confirm for a held card");
    card.remove().unwrap();

    // A random-UID card: refused, no Confirm.
    let card = place(&lease, CardModel::RandomUid, &[0x08, 0xDE, 0xAD, 0x01]);
    wait_for(c, "//div[@id='tap']//code[normalize-space()='random_uid']").await;
    let shown = c.find(Locator::Id("tap")).await.unwrap().text().await.unwrap();
    assert!(shown.contains("random UID") && shown.contains("refused"), "{shown}");
    assert!(!has_confirm(c).await, "no Confirm for a random UID");
    card.remove().unwrap();

    // A new card: UID, type, verdict and Confirm, all without a reload.
    let card = place(&lease, CardModel::Ultralight, &[0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
    let shown = tap_shown(c, "04112233445566").await;
    assert!(shown.contains("MIFARE Ultralight") && shown.contains("New card: Confirm enrols it."), "{shown}");
    assert!(has_confirm(c).await, "Confirm for a new card");
    assert_eq!(c.execute("return window.idmsNoReload;", vec![]).await.unwrap(), 1, "the page was not reloaded");
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "Enrol with a tapped card: {v:#?}");
    card.remove().unwrap();
    let (_, before) = l.get("/api/v1/credentials/04112233445566");
    assert_eq!(before["code"], "not_found", "nothing is bound before Confirm: {before}");
    wait_for(c, "//div[@id='tap']//button[normalize-space()='Confirm']").await.click().await.unwrap();
    wait_for(
        c,
        &format!("//*[@role='status']/p[normalize-space()='Card 04112233445566 is now enrolled to person {bob}.']"),
    )
    .await;
    let (status, bound) = l.get("/api/v1/credentials/04112233445566");
    assert_eq!((status, bound["holder"].as_str(), bound["state"].as_str()), (200, Some(bob.as_str()), Some("issued")));

    // Readers: the reader's live status and the tap in the feed.
    button(c, "Readers").await.click().await.unwrap();
    wait_for(c, &format!("//table//td[normalize-space()='{}']", lease.name())).await;
    stream_open(c).await;
    let card = place(&lease, CardModel::MifareClassic1k, &[0x04, 0xC0, 0xFF, 0xEE]);
    wait_for(c, "//ol[@id='taps']/li//dd[normalize-space()='04C0FFEE']").await;
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "Readers with a tap in the feed: {v:#?}");
    card.remove().unwrap();

    // Cards: the card just bound, looked up.
    button(c, "Cards").await.click().await.unwrap();
    super::field(c, "Card UID (hex)").await.send_keys("04112233445566").await.unwrap();
    button(c, "Look up").await.click().await.unwrap();
    wait_for(c, &format!("//dd/a[normalize-space()='{bob}']")).await;
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "Cards with a card looked up: {v:#?}");
    b.close().await;
    l.server.stop();
}
