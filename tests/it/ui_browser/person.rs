//! Add person and Edit in Chromium, by keyboard only (Tab, Enter and
//! typing into whatever has the focus): a manager adds a person, sees the
//! field errors by their fields, fixes them, then edits Valid to into the
//! past and the record shows the person deactivated (procedure 001).
//! axe-core runs on the Add form (also with its errors), the Edit form and
//! each tab of the record.

use fantoccini::Client;

use super::{Browser, WAIT, add_operator, axe_serious, path, service, sign_in, wait_for};
use crate::server::cli;

const PASSWORD: &str = "browser test password";
const TAB: &str = "\u{e004}";
const ENTER: &str = "\u{e007}";
/// Ctrl+A, then the modifier released: selects what a field holds.
const SELECT_ALL: &str = "\u{e009}a\u{e000}";

/// What has the focus: its tag, id and text.
async fn focused(c: &Client) -> (String, String, String) {
    let e = c.active_element().await.unwrap();
    let tag = e.tag_name().await.unwrap().to_lowercase();
    let id = e.attr("id").await.unwrap().unwrap_or_default();
    let text = e.text().await.unwrap_or_default().trim().to_string();
    (tag, id, text)
}

/// Presses Tab until `want` says the focused element is the one (at most 40 times).
async fn tab_to(c: &Client, what: &str, want: impl Fn(&(String, String, String)) -> bool) {
    for _ in 0..40 {
        if want(&focused(c).await) {
            return;
        }
        keys(c, TAB).await;
    }
    panic!("Tab never reached {what}; the focus is on {:?}", focused(c).await);
}

/// Types `text` into whatever has the focus.
async fn keys(c: &Client, text: &str) {
    c.active_element().await.unwrap().send_keys(text).await.unwrap();
}

async fn no_serious(c: &Client, what: &str) {
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "{what}: {v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_adds_and_edits_a_person_by_keyboard_and_a_past_valid_to_deactivates_them() {
    let d = tempfile::tempdir().unwrap();
    let server = service(d.path(), PASSWORD);
    add_operator(d.path(), "max", "manager", PASSWORD);
    let b = Browser::start().await;
    let c = &b.c;
    sign_in(c, &server.base, "max", PASSWORD).await;

    // People → Add person, by Tab and Enter.
    tab_to(c, "Add person", |(tag, _, text)| tag == "a" && text == "Add person").await;
    keys(c, ENTER).await;
    wait_for(c, "//h1[normalize-space()='Add person']").await;
    assert_eq!(path(c).await, "/ui/people/new");
    no_serious(c, "Add person form").await;

    // Given name left empty, a bad email; Enter on the submit button.
    tab_to(c, "Given name", |(_, id, _)| id == "given_name").await;
    keys(c, TAB).await;
    assert_eq!(focused(c).await.1, "family_name");
    keys(c, "Keyboard").await;
    keys(c, TAB).await;
    keys(c, "kim-at-example").await;
    tab_to(c, "the Add person button", |(tag, _, text)| tag == "button" && text == "Add person").await;
    keys(c, ENTER).await;
    let error = wait_for(c, "//*[@id='email-error']").await.text().await.unwrap();
    assert!(
        error.contains("Enter an email address such as name@example.org.") && error.contains("invalid_input"),
        "{error}"
    );
    let given = wait_for(c, "//*[@id='given_name-error']").await.text().await.unwrap();
    assert!(given.contains("Enter the given name."), "{given}");
    assert_eq!(path(c).await, "/ui/people/new", "still the form");
    // The focus is on the first refused field; the typed values are kept.
    let end = std::time::Instant::now() + WAIT;
    while focused(c).await.1 != "given_name" {
        assert!(std::time::Instant::now() < end, "the first refused field gets the focus: {:?}", focused(c).await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let typed = wait_for(c, "//input[@id='email']").await.prop("value").await.unwrap();
    assert_eq!(typed.as_deref(), Some("kim-at-example"));
    no_serious(c, "Add person form with its errors").await;

    // Fixed by keyboard: the given name, then the email (replaced).
    keys(c, "Kim").await;
    keys(c, TAB).await;
    keys(c, TAB).await;
    assert_eq!(focused(c).await.1, "email");
    keys(c, SELECT_ALL).await;
    keys(c, "kim@example.org").await;
    tab_to(c, "the Add person button", |(tag, _, text)| tag == "button" && text == "Add person").await;
    keys(c, ENTER).await;
    wait_for(c, "//*[@role='status']/p[contains(normalize-space(), 'was added.')]").await;
    wait_for(c, "//h1[normalize-space()='Kim Keyboard']").await;
    let id = path(c).await.trim_start_matches("/ui/people/").to_string();
    let shown = cli(d.path(), &["user", "show", &id]);
    assert_eq!((shown["email"].as_str(), shown["state"].as_str()), (Some("kim@example.org"), Some("active")));
    assert!(c.find(fantoccini::Locator::XPath("//*[@id='validity']")).await.is_err(), "valid now");

    // The record's tabs, each checked by axe.
    no_serious(c, "record, Credentials tab").await;
    for tab in ["Documents", "History"] {
        tab_to(c, tab, |(tag, _, text)| tag == "a" && text == tab).await;
        keys(c, ENTER).await;
        wait_for(c, &format!("//h2[@id='tab-h' and normalize-space()='{tab}']")).await;
        no_serious(c, &format!("record, {tab} tab")).await;
    }
    wait_for(c, "//td[normalize-space()='user.create']").await;

    // Edit: Valid to into the past.
    tab_to(c, "Edit", |(tag, _, text)| tag == "a" && text == "Edit").await;
    keys(c, ENTER).await;
    wait_for(c, &format!("//h1[normalize-space()='Edit person {id}']")).await;
    no_serious(c, "Edit form").await;
    tab_to(c, "Valid to", |(_, fid, _)| fid == "valid_to").await;
    keys(c, "2020-01-01").await;
    tab_to(c, "Save", |(tag, _, text)| tag == "button" && text == "Save").await;
    keys(c, ENTER).await;
    wait_for(c, "//*[@role='status']/p[starts-with(normalize-space(), 'The changes to person')]").await;
    let v = wait_for(c, "//*[@id='validity']").await.text().await.unwrap();
    assert_eq!(v, "Deactivated: Valid to has passed, so their cards open no door.");
    wait_for(c, "//dt[normalize-space()='Valid to']/following-sibling::dd[1]/time[@datetime='2020-01-01T00:00:00Z']")
        .await;
    assert_eq!(cli(d.path(), &["user", "show", &id])["valid_to"].as_str(), Some("2020-01-01T00:00:00Z"));
    b.close().await;
    server.stop();
}
