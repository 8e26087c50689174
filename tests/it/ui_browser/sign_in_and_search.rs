//! A viewer signs in, finds a person by last name as they type (no page
//! load), opens the record, signs out; the old cookie then gets the
//! sign-in page. axe-core finds no serious or critical violation on the
//! sign-in and people pages.

use fantoccini::Locator;

use super::{Browser, WAIT, axe_serious, button, field, path, service};
use crate::server::cli;

const PASSWORD: &str = "browser test password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_finds_a_person_by_last_name() {
    let d = tempfile::tempdir().unwrap();
    let server = service(d.path(), PASSWORD);
    let id =
        cli(d.path(), &["user", "add", "--given", "Grace", "--family", "Hopper"])["id"].as_str().unwrap().to_string();
    cli(d.path(), &["user", "add", "--given", "Alan", "--family", "Turing"]);
    cli(d.path(), &["card", "enroll", "--user", &id, "--uid", "04C0FFEE"]);
    let b = Browser::start().await;
    let c = &b.c;

    c.goto(&server.base).await.unwrap();
    assert_eq!(path(c).await, "/ui/sign-in", "/ leads to the sign-in page");
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "sign-in page: {v:#?}");
    field(c, "Operator name").await.send_keys("vera").await.unwrap();
    field(c, "Password").await.send_keys(PASSWORD).await.unwrap();
    button(c, "Sign in").await.click().await.unwrap();
    c.wait().at_most(WAIT).for_url(&format!("{}/ui/people", server.base).parse().unwrap()).await.unwrap();
    c.find(Locator::XPath("//*[contains(normalize-space(), 'Signed in as vera (viewer)')]")).await.unwrap();
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "people page: {v:#?}");

    // Typing shows the row through htmx: the page is not reloaded (the
    // marker set on this document survives).
    c.execute("window.__same_page = true;", vec![]).await.unwrap();
    field(c, "User ID, last name, email, employee number or card UID").await.send_keys("hop").await.unwrap();
    let link = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&format!("//table//a[normalize-space()='{id}']")))
        .await
        .expect("the row appears as the name is typed");
    let row = c.find(Locator::XPath(&format!("//tr[td/a[normalize-space()='{id}']]"))).await.unwrap();
    let text = row.text().await.unwrap();
    assert!(text.contains("Hopper, Grace") && text.contains("active"), "{text}");
    assert!(c.find(Locator::XPath("//td[normalize-space()='Turing, Alan']")).await.is_err(), "only who matches");
    assert_eq!(c.execute("return window.__same_page === true;", vec![]).await.unwrap(), true, "no reload");
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "people page with results: {v:#?}");

    link.click().await.unwrap();
    c.wait().at_most(WAIT).for_element(Locator::XPath("//h1[normalize-space()='Grace Hopper']")).await.unwrap();
    assert_eq!(path(c).await, format!("/ui/people/{id}"));
    c.find(Locator::XPath("//h2[normalize-space()='Credentials']")).await.unwrap();
    c.find(Locator::XPath("//td[normalize-space()='04C0FFEE']")).await.expect("the card is listed");

    // Sign out; the old cookie, put back, is refused by the server.
    let old = c.get_named_cookie("idms_session").await.unwrap();
    button(c, "Sign out").await.click().await.unwrap();
    c.wait().at_most(WAIT).for_url(&format!("{}/ui/sign-in", server.base).parse().unwrap()).await.unwrap();
    assert!(c.get_named_cookie("idms_session").await.is_err(), "the browser dropped it");
    c.add_cookie(old.clone()).await.unwrap();
    assert_eq!(c.get_named_cookie("idms_session").await.unwrap().value(), old.value(), "put back");
    c.goto(&format!("{}/ui/people/{id}", server.base)).await.unwrap();
    assert_eq!(path(c).await, "/ui/sign-in", "the ended session's cookie gets the sign-in page");
    b.close().await;
    server.stop();
}
