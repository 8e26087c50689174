//! The 000 and 002 workflows and tap-to-enrol driven by the keyboard alone
//! (Tab, Enter, Space, Escape and typing; no click), must-be-true 6: every
//! control is reachable, dialogs take the focus, Escape closes them, and the
//! focus goes back to the Manage menu. (003 by keyboard is in `purge`.)

use fantoccini::key::Key;

use super::{Browser, focused, keys, path, press, service, tab_to, wait_for};
use crate::server::cli;

const PASSWORD: &str = "browser test password";

/// Signs in from the sign-in page by keyboard.
async fn sign_in_by_keyboard(c: &fantoccini::Client, base: &str, name: &str) {
    c.goto(&format!("{base}/ui/sign-in")).await.unwrap();
    tab_to(c, "Operator name").await;
    keys(c, name).await;
    press(c, Key::Tab).await;
    assert_eq!(focused(c).await, "Password");
    keys(c, PASSWORD).await;
    press(c, Key::Enter).await;
    wait_for(c, "//h1[normalize-space()='Manage']").await;
}

/// From People: types `query` in the search box, Enter, then Tab to the
/// result `id` and Enter; waits for the record headed `heading`.
async fn open_record_by_keyboard(c: &fantoccini::Client, query: &str, id: &str, heading: &str) {
    tab_to(c, "User ID, last name, email, employee number or card UID").await;
    keys(c, query).await;
    press(c, Key::Enter).await;
    wait_for(c, &format!("//table//a[normalize-space()='{id}']")).await;
    tab_to(c, id).await;
    press(c, Key::Enter).await;
    wait_for(c, &format!("//h1[normalize-space()='{heading}']")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_000_procedure_by_keyboard_only() {
    let d = tempfile::tempdir().unwrap();
    let server = service(d.path(), PASSWORD);
    super::add_operator(d.path(), "erin", "eraser", PASSWORD);
    let id =
        cli(d.path(), &["user", "add", "--given", "Grace", "--family", "Hopper"])["id"].as_str().unwrap().to_string();
    cli(d.path(), &["card", "enroll", "--user", &id, "--uid", "04C0FFEE"]);
    let state = || cli(d.path(), &["user", "show", &id])["state"].as_str().unwrap().to_string();
    let b = Browser::start().await;
    let c = &b.c;
    sign_in_by_keyboard(c, &server.base, "erin").await;

    // Search by last name, open the record.
    open_record_by_keyboard(c, "hopper", &id, "Grace Hopper").await;

    // Manage (Space opens the menu) → Delete → Delete User.
    tab_to(c, "Manage").await;
    press(c, Key::Space).await;
    tab_to(c, "Delete").await;
    press(c, Key::Enter).await;
    wait_for(c, "//dialog[@open]//h2[normalize-space()='Delete']").await;
    tab_to(c, "Delete User").await;
    press(c, Key::Enter).await;
    wait_for(c, "//*[@role='status']/p[contains(., 'was deleted')]").await;
    assert_eq!(state(), "deleted");

    // Manage → Expunge - Permanent: the focus is in the dialog, on the
    // typed-ID field; Escape closes it, changes nothing, and the focus is
    // back on Manage.
    tab_to(c, "Manage").await;
    press(c, Key::Space).await;
    tab_to(c, "Expunge - Permanent").await;
    press(c, Key::Enter).await;
    wait_for(c, "//dialog[@open]").await;
    let label = format!("Type the user ID ({id}) to confirm");
    let end = std::time::Instant::now() + super::WAIT;
    while focused(c).await != label {
        assert!(std::time::Instant::now() < end, "the dialog takes the focus: {:?}", focused(c).await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    press(c, Key::Escape).await;
    let end = std::time::Instant::now() + super::WAIT;
    while c.find(fantoccini::Locator::XPath("//dialog[@open]")).await.is_ok() {
        assert!(std::time::Instant::now() < end, "Escape closes the dialog");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    super::focus_returns_to(c, "Manage").await;
    assert_eq!(state(), "deleted", "Escape changes nothing");

    // Again, typing the ID, then Expunge User.
    press(c, Key::Space).await;
    tab_to(c, "Expunge - Permanent").await;
    press(c, Key::Enter).await;
    wait_for(c, "//dialog[@open]").await;
    tab_to(c, &label).await;
    keys(c, &id).await;
    tab_to(c, "Expunge User").await;
    press(c, Key::Enter).await;
    wait_for(c, &format!("//*[@role='status']/p[normalize-space()='Person {id} was expunged.']")).await;
    wait_for(c, "//p[starts-with(normalize-space(), 'Tombstone: expunged')]").await;
    assert_eq!(state(), "expunged");
    b.close().await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_002_procedure_by_keyboard_only() {
    let d = tempfile::tempdir().unwrap();
    let server = service(d.path(), PASSWORD);
    super::add_operator(d.path(), "erin", "eraser", PASSWORD);
    let ids = super::three_deleted_in_lab(d.path());
    let state = |id: &str| cli(d.path(), &["user", "show", id])["state"].as_str().unwrap().to_string();
    let b = Browser::start().await;
    let c = &b.c;
    sign_in_by_keyboard(c, &server.base, "erin").await;

    // The menu → Deleted Users → search by org unit.
    tab_to(c, "Deleted Users").await;
    press(c, Key::Enter).await;
    wait_for(c, "//h1[normalize-space()='Deleted Users']").await;
    tab_to(c, "Org unit").await;
    keys(c, "lab").await;
    press(c, Key::Enter).await;
    for id in &ids {
        wait_for(c, &format!("//table//input[@type='checkbox' and @value='{id}']")).await;
    }

    // Untick Turing with Space: he stays.
    tab_to(c, &format!("Erase {}", ids[1])).await;
    press(c, Key::Space).await;
    tab_to(c, "Erase").await;
    press(c, Key::Enter).await;
    let dialog = wait_for(c, "//dialog[@open]").await.text().await.unwrap();
    assert!(dialog.contains("These 2 users will be erased:"), "{dialog}");
    assert!(!dialog.contains(&ids[1]), "the unticked person is not listed: {dialog}");
    tab_to(c, "Erase").await;
    press(c, Key::Enter).await;
    let notice = wait_for(c, "//*[@role='status'][starts-with(normalize-space(), 'Erased 1:')]").await;
    let notice = notice.text().await.unwrap();
    assert!(notice.contains(&ids[0]) && notice.contains("(legal_hold)"), "{notice}");
    assert_eq!(path(c).await, "/ui/deleted");
    assert_eq!(ids.iter().map(|id| state(id)).collect::<Vec<_>>(), ["expunged", "deleted", "deleted"]);
    b.close().await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_to_enrol_by_keyboard_only() {
    use super::enrol::{person, place_until_shown, reader_service, shows, stream_open};
    let lease = hw_sim::pcscd::lease().unwrap();
    let d = tempfile::tempdir().unwrap();
    cli(d.path(), &["init"]);
    super::add_operator(d.path(), "ella", "enroller", PASSWORD);
    let bob = person(d.path(), "Bob", "Newcomer");
    let l = reader_service(d, &lease);
    let b = Browser::start().await;
    let c = &b.c;
    sign_in_by_keyboard(c, &l.server.base, "ella").await;

    // Search, open the record, Enrol a card: the one reader is chosen.
    open_record_by_keyboard(c, "newcomer", &bob, "Bob Newcomer").await;
    tab_to(c, "Enrol a card").await;
    press(c, Key::Enter).await;
    wait_for(c, "//h2[normalize-space()='Tap the card now']").await;
    stream_open(c).await;

    // The tap (a card on the reader, not a key), then Confirm by Tab and Enter.
    let uid = [0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x77];
    let card = place_until_shown(c, &lease, hw_sim::card::CardModel::Ultralight, &uid, &shows("04112233445577")).await;
    card.remove().unwrap();
    tab_to(c, "Confirm").await;
    press(c, Key::Enter).await;
    wait_for(
        c,
        &format!("//*[@role='status']/p[normalize-space()='Card 04112233445577 is now enrolled to person {bob}.']"),
    )
    .await;
    let (status, bound) = l.get("/api/v1/credentials/04112233445577");
    assert_eq!((status, bound["holder"].as_str()), (200, Some(bob.as_str())), "{bound}");
    b.close().await;
    l.server.stop();
}
