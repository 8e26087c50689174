//! The 000 procedure's core in Chromium, as an eraser: search by last
//! name → open the record → Credentials shows the card → Manage → Delete
//! (confirm) → Manage → Expunge - Permanent → **Expunge User** stays
//! disabled until the typed ID matches; **Cancel** leaves the person
//! untouched; Expunge User → the notice naming the card back in stock; the
//! record shows the tombstone. axe-core runs with the dialog open. Then
//! the rest of must-be-true 1: the card shows in stock on Cards; it is
//! enrolled to another person from the Enrol page (tapped on an hw-sim
//! reader) and is granted at a door; and once the expunge is scrubbed a raw
//! scan of the data dir finds none of the person's values.

use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use hw_sim::card::CardModel;

use super::enrol::{person, place_until_shown, reader_service, shows, stream_open};
use super::{Browser, WAIT, add_operator, axe_serious, button, field, path, sign_in, wait_for};
use crate::common::contains;
use crate::server::{agent, cli, decide};

const PASSWORD: &str = "browser test password";

/// Whether the Expunge User button is enabled, once it has settled to `want`
/// (polled, capped by `WAIT`); answers what it last saw.
async fn enabled_becomes(c: &Client, want: bool) -> bool {
    let end = std::time::Instant::now() + WAIT;
    loop {
        let now = button(c, "Expunge User").await.is_enabled().await.unwrap();
        if now == want || std::time::Instant::now() > end {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn open_manage_item(c: &Client, item: &str) {
    wait_for(c, "//summary[normalize-space()='Manage']").await.click().await.unwrap();
    wait_for(c, &format!("//details[@open]//a[normalize-space()='{item}']")).await.click().await.unwrap();
    wait_for(c, "//dialog[@open]//h2").await;
}

/// The person's values, each written nowhere else.
const VALUES: [&str; 4] = ["Grace", "Hopper", "grace.hopper@navy.example", "EMP-HOPPER-1906"];

/// The files of the data dir (every file below it) that hold one of [`VALUES`].
fn files_with_values(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                for v in VALUES.iter().filter(|v| contains(&bytes, v.as_bytes())) {
                    found.push(format!("{}: {v}", p.display()));
                }
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eraser_deletes_and_expunges_a_person_with_the_typed_id() {
    let lease = hw_sim::pcscd::lease().unwrap();
    let d = tempfile::tempdir().unwrap();
    cli(d.path(), &["init"]);
    add_operator(d.path(), "erin", "eraser", PASSWORD);
    let id = cli(
        d.path(),
        &["user", "add", "--given", VALUES[0], "--family", VALUES[1], "--email", VALUES[2], "--employee-no", VALUES[3]],
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    cli(d.path(), &["card", "enroll", "--user", &id, "--uid", "04C0FFEE"]);
    let ada = person(d.path(), "Ada", "Lovelace");
    let door = cli(d.path(), &["controller", "add", "--name", "main-ctl", "--door", "main"])["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!files_with_values(d.path()).is_empty(), "the person's values are written before the expunge");
    let l = reader_service(d, &lease);
    let dir = l.dir.clone();
    let state = |d: &Path| cli(d, &["user", "show", &id])["state"].as_str().unwrap().to_string();
    let b = Browser::start().await;
    let c = &b.c;

    sign_in(c, &l.server.base, "erin", PASSWORD).await;

    // Search by last name, open the record: the card is listed.
    field(c, "User ID, last name, email, employee number or card UID").await.send_keys("Hopper").await.unwrap();
    wait_for(c, &format!("//table//a[normalize-space()='{id}']")).await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Grace Hopper']").await;
    c.find(Locator::XPath("//td[normalize-space()='04C0FFEE']")).await.expect("Credentials shows the card");

    // Manage → Delete → the dialog's Delete User.
    open_manage_item(c, "Delete").await;
    wait_for(c, "//dialog[@open]//button[normalize-space()='Delete User']").await.click().await.unwrap();
    wait_for(
        c,
        &format!(
            "//*[@role='status']/p[normalize-space()='Person {id} was deleted. They can be restored, or expunged.']"
        ),
    )
    .await;
    assert_eq!(state(&dir), "deleted");

    // Manage → Expunge - Permanent: what is destroyed and kept; the typed ID.
    open_manage_item(c, "Expunge - Permanent").await;
    let dialog = wait_for(c, "//dialog[@open]").await.text().await.unwrap();
    for want in ["Destroyed", "Family name", "Kept", "Card 04C0FFEE: released to stock, can be recycled."] {
        assert!(dialog.contains(want), "{want}: {dialog}");
    }
    assert!(!enabled_becomes(c, false).await, "Expunge User starts disabled");
    let typed = field(c, &format!("Type the user ID ({id}) to confirm")).await;
    typed.send_keys(&id[..id.len() - 1]).await.unwrap();
    assert!(!enabled_becomes(c, false).await, "a partial ID leaves it disabled");
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "record with the expunge dialog open: {v:#?}");
    typed.send_keys(&id[id.len() - 1..]).await.unwrap();
    assert!(enabled_becomes(c, true).await, "the whole ID enables Expunge User");

    // Cancel closes the dialog and changes nothing.
    wait_for(c, "//dialog[@open]//a[normalize-space()='Cancel']").await.click().await.unwrap();
    let end = std::time::Instant::now() + WAIT;
    while c.find(Locator::XPath("//dialog[@open]")).await.is_ok() {
        assert!(std::time::Instant::now() < end, "Cancel closes the dialog");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(path(c).await, format!("/ui/people/{id}"), "Cancel stays on the record");
    assert_eq!(state(&dir), "deleted", "Cancel leaves the person untouched");

    // Expunge User.
    open_manage_item(c, "Expunge - Permanent").await;
    field(c, &format!("Type the user ID ({id}) to confirm")).await.send_keys(&id).await.unwrap();
    assert!(enabled_becomes(c, true).await);
    button(c, "Expunge User").await.click().await.unwrap();
    wait_for(c, &format!("//*[@role='status']/p[normalize-space()='Person {id} was expunged.']")).await;
    let notice = c.find(Locator::XPath("//*[@role='status']")).await.unwrap().text().await.unwrap();
    assert!(notice.contains("back in stock and can be recycled") && notice.contains("04C0FFEE"), "{notice}");
    wait_for(c, "//p[starts-with(normalize-space(), 'Tombstone: expunged')]").await;
    wait_for(c, &format!("//h1[normalize-space()='Person {id}']")).await;
    assert!(c.find(Locator::XPath("//*[contains(text(), 'Hopper')]")).await.is_err(), "no name is left");
    assert_eq!(state(&dir), "expunged");

    // Cards: the card is in stock, ready to recycle.
    button(c, "Cards").await.click().await.unwrap();
    wait_for(c, "//table[caption='Cards in stock']//a[normalize-space()='04C0FFEE']").await;

    // Enrolled to another person from the Enrol page, tapped on the reader.
    c.goto(&format!("{}/ui/people/{ada}", l.server.base)).await.unwrap();
    button(c, "Enrol a card").await.click().await.unwrap();
    stream_open(c).await;
    let card =
        place_until_shown(c, &lease, CardModel::MifareClassic1k, &[0x04, 0xC0, 0xFF, 0xEE], &shows("04C0FFEE")).await;
    let shown = c.find(Locator::Id("tap")).await.unwrap().text().await.unwrap();
    assert!(shown.contains("In stock: Confirm recycles it."), "{shown}");
    card.remove().unwrap();
    wait_for(c, "//div[@id='tap']//button[normalize-space()='Confirm']").await.click().await.unwrap();
    wait_for(c, &format!("//*[@role='status']/p[normalize-space()='Card 04C0FFEE is now enrolled to person {ada}.']"))
        .await;

    // Granted at a door, to the new holder.
    let (status, v) = decide(&agent(), &l.server.base, &door, "04C0FFEE").unwrap();
    assert_eq!(
        (status, v["decision"].as_str(), v["user_id"].as_str()),
        (200, Some("grant"), Some(ada.as_str())),
        "{v}"
    );
    b.close().await;

    // The scrub (the service runs with `scrub_delay_secs = 1`): then no
    // file of the data dir holds the values, while the service runs.
    let end = Instant::now() + Duration::from_secs(30);
    let mut left = files_with_values(&dir);
    while !left.is_empty() && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = files_with_values(&dir);
    }
    assert!(left.is_empty(), "the person's values survive the scrub: {left:?}");
    l.server.stop();
}
