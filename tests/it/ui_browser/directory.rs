//! The CSV import in Chromium, as a manager: the menu → Directory → paste
//! a file → Preview (each row's fate; nothing changed, no run recorded) →
//! Apply → the run's report, whose person links lead to the new records.
//! axe-core runs on the preview and on the report.

use super::{Browser, add_operator, axe_serious, button, field, path, service, sign_in, wait_for};
use crate::server::cli;

const PASSWORD: &str = "browser test password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_manager_previews_then_applies_a_csv_import() {
    let d = tempfile::tempdir().unwrap();
    let server = service(d.path(), PASSWORD);
    add_operator(d.path(), "max", "manager", PASSWORD);
    let runs = || cli(d.path(), &["directory", "runs"]).as_array().map_or(0, Vec::len);
    let b = Browser::start().await;
    let c = &b.c;
    sign_in(c, &server.base, "max", PASSWORD).await;

    wait_for(c, "//nav//a[normalize-space()='Directory']").await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Directory']").await;
    let csv = "given_name,family_name,email,external_id\nAda,Lovelace,ada@example.org,hr-1\nGrace,Hopper,grace@example.org,hr-2\n";
    field(c, "CSV text").await.send_keys(csv).await.unwrap();
    button(c, "Preview").await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Import preview']").await;
    let table = wait_for(c, "//table").await.text().await.unwrap();
    assert!(table.contains("Lovelace, Ada") && table.contains("Hopper, Grace"), "{table}");
    assert_eq!(table.matches("created").count(), 2, "{table}");
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "the preview: {v:#?}");
    assert_eq!(runs(), 0, "a preview records no run");

    button(c, "Apply").await.click().await.unwrap();
    wait_for(c, "//dd[@id='outcome'][starts-with(normalize-space(), 'ok')]").await;
    assert!(path(c).await.starts_with("/ui/directory/runs/"), "{}", path(c).await);
    assert_eq!(runs(), 1);
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "the report: {v:#?}");
    let first = wait_for(c, "//table//a[starts-with(@href, '/ui/people/')]").await;
    let id = first.text().await.unwrap();
    first.click().await.unwrap();
    wait_for(c, "//dt[normalize-space()='Directory link']").await;
    assert_eq!(path(c).await, format!("/ui/people/{id}"));
    let link = wait_for(c, "//dt[normalize-space()='Directory link']/following-sibling::dd[1]").await;
    assert!(link.text().await.unwrap().starts_with("CSV import, external ID hr-"), "{}", link.text().await.unwrap());
    b.close().await;
    server.stop();
}
