//! The 000 procedure's core in Chromium, as an eraser: search by last
//! name → open the record → Credentials shows the card → Manage → Delete
//! (confirm) → Manage → Expunge - Permanent → **Expunge User** stays
//! disabled until the typed ID matches; **Cancel** leaves the person
//! untouched; Expunge User → the notice naming the card back in stock; the
//! record shows the tombstone. axe-core runs with the dialog open.

use fantoccini::{Client, Locator};

use super::{Browser, WAIT, add_operator, axe_serious, button, field, path, service, sign_in, wait_for};
use crate::server::cli;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eraser_deletes_and_expunges_a_person_with_the_typed_id() {
    let d = tempfile::tempdir().unwrap();
    let server = service(d.path(), PASSWORD);
    add_operator(d.path(), "erin", "eraser", PASSWORD);
    let id =
        cli(d.path(), &["user", "add", "--given", "Grace", "--family", "Hopper"])["id"].as_str().unwrap().to_string();
    cli(d.path(), &["card", "enroll", "--user", &id, "--uid", "04C0FFEE"]);
    let state = |d: &std::path::Path| cli(d, &["user", "show", &id])["state"].as_str().unwrap().to_string();
    let b = Browser::start().await;
    let c = &b.c;

    sign_in(c, &server.base, "erin", PASSWORD).await;

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
    assert_eq!(state(d.path()), "deleted");

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
    assert_eq!(state(d.path()), "deleted", "Cancel leaves the person untouched");

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
    assert_eq!(state(d.path()), "expunged");
    b.close().await;
    server.stop();
}
