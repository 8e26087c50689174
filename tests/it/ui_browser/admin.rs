//! An admin in Chromium: Overview, Audit (with the chain verified), Access
//! events (filtered by decision) and Administration (with the Disable
//! dialog open, then cancelled) render, reached from the menu, and axe-core
//! finds no serious or critical violation on any of them. Then an operator
//! is added by keyboard only (Tab, typing, Enter), the password shown once
//! is read off the page, and the new operator signs in with it.

use fantoccini::Locator;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;

use super::{Browser, add_operator, axe_serious, button, field, path, service, sign_in, wait_for};
use crate::server::{agent, cli, decide};

const PASSWORD: &str = "browser test password";

/// Follows the menu item `label`, waits for its heading, runs axe.
async fn visit(c: &fantoccini::Client, label: &str) {
    wait_for(c, &format!("//nav//a[normalize-space()='{label}']")).await.click().await.unwrap();
    wait_for(c, &format!("//h1[normalize-space()='{label}']")).await;
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "{label}: {v:#?}");
}

/// Presses each key of `keys` (characters or [`Key`]s) on the keyboard,
/// wherever the focus is: no element is clicked or addressed.
async fn press(c: &fantoccini::Client, keys: &str) {
    let mut a = KeyActions::new("keyboard".into());
    for value in keys.chars() {
        a = a.then(KeyAction::Down { value }).then(KeyAction::Up { value });
    }
    c.perform_actions(a).await.unwrap();
}

/// The focused element's `id`.
async fn focused(c: &fantoccini::Client) -> Option<String> {
    c.active_element().await.unwrap().attr("id").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_admin_pages_pass_axe_and_an_operator_is_added_by_keyboard_only() {
    let d = tempfile::tempdir().unwrap();
    let server = service(d.path(), PASSWORD);
    add_operator(d.path(), "adam", "admin", PASSWORD);
    let id =
        cli(d.path(), &["user", "add", "--given", "Grace", "--family", "Hopper"])["id"].as_str().unwrap().to_string();
    cli(d.path(), &["card", "enroll", "--user", &id, "--uid", "04C0FFEE"]);
    let token = cli(d.path(), &["controller", "add", "--name", "front", "--door", "main"])["token"]
        .as_str()
        .unwrap()
        .to_string();
    let agent = agent();
    // A token the CLI makes while the service runs reaches its token set soon.
    let door = |uid: &str| decide(&agent, &server.base, &token, uid).unwrap().0;
    crate::access::until("the controller's token", 200, || door("04C0FFEE"));
    assert_eq!(door("04BADBAD"), 200);
    let b = Browser::start().await;
    let c = &b.c;
    sign_in(c, &server.base, "adam", PASSWORD).await;

    // Overview: the counts and the readers.
    visit(c, "Overview").await;
    wait_for(c, "//table[caption[starts-with(normalize-space(), 'People by state')]]//th[normalize-space()='active']")
        .await;

    // Audit: verify the chain; the head is shown.
    visit(c, "Audit").await;
    button(c, "Verify the chain").await.click().await.unwrap();
    let verdict = wait_for(c, "//*[@role='status'][contains(normalize-space(), 'Audit chain intact:')]").await;
    let text = verdict.text().await.unwrap();
    assert!(text.contains("entries verified.") && text.contains("Head: "), "{text}");
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "Audit with the verification: {v:#?}");

    // Access events: only grants once filtered.
    visit(c, "Access events").await;
    wait_for(c, "//td[normalize-space()='deny (unknown_credential)']").await;
    field(c, "Decision").await.send_keys("Grant").await.unwrap();
    button(c, "Show events").await.click().await.unwrap();
    c.wait()
        .at_most(super::WAIT)
        .for_element(Locator::XPath("//div[@id='events'][not(.//td[starts-with(normalize-space(), 'deny')])]"))
        .await
        .unwrap();
    wait_for(c, &format!("//tr[td[normalize-space()='grant']]//a[normalize-space()='{id}']")).await;
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "Access events filtered: {v:#?}");

    // Administration, and the Disable dialog (Cancel changes nothing).
    visit(c, "Administration").await;
    wait_for(c, "//a[normalize-space()='Disable vera']").await.click().await.unwrap();
    wait_for(c, "//dialog[@open]//h2[normalize-space()='Disable operator vera']").await;
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "with the Disable dialog open: {v:#?}");
    wait_for(c, "//dialog[@open]//a[normalize-space()='Cancel']").await.click().await.unwrap();
    c.wait().at_most(super::WAIT).for_element(Locator::XPath("//dialog[not(@open)]")).await.unwrap();
    let ops = cli(d.path(), &["operator", "list"]);
    let vera = ops.as_array().unwrap().iter().find(|o| o["name"] == "vera").unwrap().clone();
    assert!(vera["disabled_at"].is_null(), "Cancel left vera enabled: {vera}");

    // Add operator by keyboard only: Tab to the first field, type, Tab on, Enter.
    c.refresh().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Administration']").await;
    let mut tabs = 0;
    while focused(c).await.as_deref() != Some("op-name") {
        press(c, &Key::Tab).await;
        tabs += 1;
        assert!(tabs < 100, "the Operator name field is reachable by Tab");
    }
    let typed = "olga typed this";
    let tab = Key::Tab;
    press(c, &format!("olga{tab}m{tab}lab{tab}{typed}")).await;
    assert_eq!(focused(c).await.as_deref(), Some("op-password"), "Tab went field by field");
    press(c, &Key::Enter).await;
    wait_for(c, "//h1[normalize-space()='Operator olga added']").await;
    let notice = wait_for(c, "//*[@role='status']").await.text().await.unwrap();
    assert!(notice.contains("Operator olga was added as manager for unit lab."), "{notice}");
    let shown = field(c, "Password (shown once)").await.prop("value").await.unwrap();
    assert_eq!(shown.as_deref(), Some(typed));
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "the password shown once: {v:#?}");

    // She signs in with it.
    button(c, "Sign out").await.click().await.unwrap();
    c.wait().at_most(super::WAIT).for_url(&format!("{}/ui/sign-in", server.base).parse().unwrap()).await.unwrap();
    sign_in(c, &server.base, "olga", typed).await;
    c.find(Locator::XPath("//*[contains(normalize-space(), 'Signed in as olga (manager)')]")).await.unwrap();
    assert_eq!(path(c).await, "/ui/people");
    b.close().await;
    server.stop();
}
