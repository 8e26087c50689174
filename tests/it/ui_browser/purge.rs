//! The 003 procedure in Chromium, as an eraser: Purge User Records → Add
//! Job → the criteria → Preview: its counts per skip reason equal the JSON
//! API's dry run for the same criteria → Add → the Confirm pop-up says the
//! job cannot be aborted → Confirm → the job's page: its progress bar
//! reaches 100 % for 2,000 people without a reload, there is no cancel
//! control, and the job is in the history. Then Update users in bulk
//! removes the purge date of the four it kept, after showing its field
//! errors. axe-core runs on the page, in the Add Job dialog (with the
//! preview), in the Confirm dialog, on the job's page and on the bulk
//! form (with its errors).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use fantoccini::key::Key;

use super::{
    Browser, WAIT, add_operator, axe_serious, button, field, focus_returns_to, keys, path, press, sign_in, tab_to,
    wait_for,
};
use crate::server::{Server, agent, cli};

const PASSWORD: &str = "browser test password";
/// People the job purges.
const PEOPLE: usize = 2_000;
const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";

/// The service with `PEOPLE` people due for purge (seeded in one
/// transaction) and four who are due but kept: one under legal hold (with a
/// hostile name), two owing more than the threshold, two with items not
/// handed back. Answers an eraser's API token.
fn service(dir: &std::path::Path) -> (Server, String) {
    cli(dir, &["init"]);
    cli(dir, &["dev", "seed", "--users", &PEOPLE.to_string(), "--cards-per-user", "0"]);
    // The one under legal hold has a hostile name: the Preview lists it as text.
    cli(dir, &["user", "add", "--given", IMG, "--family", SCRIPT, "--legal-hold"]);
    for extra in
        [&["--balance", "50"][..], &["--unreturned-items", "1"], &["--balance", "25.5", "--unreturned-items", "2"]]
    {
        let mut args = vec!["user", "add", "--given", "Kept", "--family", "Person"];
        args.extend_from_slice(extra);
        cli(dir, &args);
    }
    let set = cli(dir, &["user", "purge-date", "--set", "2026-01-01", "--state", "active"]);
    assert_eq!(set["count"].as_u64(), Some(PEOPLE as u64 + 4), "{set}");
    add_operator(dir, "erin", "eraser", PASSWORD);
    let token = cli(dir, &["token", "create", "--name", "api-eraser", "--role", "eraser"])["token"]
        .as_str()
        .unwrap()
        .to_string();
    (Server::start(dir), token)
}

/// The API's dry run for the criteria: people selected, and skipped per reason.
fn api_dry_run(base: &str, token: &str) -> (u64, BTreeMap<String, u64>) {
    let mut r = agent()
        .post(&format!("{base}/api/v1/purge-jobs"))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(json!({"criteria": {"grace_days": 7, "waive_threshold": 20.0}, "dry_run": true}))
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.body_mut().read_json().unwrap();
    let mut by_reason = BTreeMap::new();
    for s in v["plan"]["skipped"].as_array().unwrap() {
        for reason in s["reasons"].as_array().unwrap() {
            *by_reason.entry(reason.as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    (v["selected_count"].as_u64().unwrap(), by_reason)
}

/// The jobs the API lists.
fn api_jobs(base: &str, token: &str) -> Value {
    let mut r = agent()
        .get(&format!("{base}/api/v1/purge-jobs"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    r.body_mut().read_json().unwrap()
}

/// The Preview's "Skipped, by reason" table: code → count.
async fn preview_by_reason(c: &Client) -> BTreeMap<String, u64> {
    let rows = c
        .find_all(Locator::XPath(
            "//dialog[@open]//table[starts-with(normalize-space(caption), 'Skipped, by reason')]/tbody/tr",
        ))
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for row in rows {
        let cells = row.find_all(Locator::Css("td")).await.unwrap();
        let code = cells[1].text().await.unwrap();
        let count = cells[2].text().await.unwrap().parse::<u64>().unwrap();
        out.insert(code, count);
    }
    out
}

/// Job `id`'s progress bar's value, read in one script (htmx replaces the
/// bar every second, so an element found first may be gone when asked).
async fn percent(c: &Client, id: &str) -> Option<u64> {
    let v = c
        .execute(
            "const p = document.getElementById('bar-' + arguments[0]); return p ? p.value : null;",
            vec![json!(id)],
        )
        .await
        .unwrap();
    v.as_f64().map(|f| f as u64)
}

async fn no_serious_violation(c: &Client, what: &str) {
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "{what}: {v:#?}");
}

/// Replaces what a text box holds.
async fn type_into(c: &Client, label: &str, text: &str) {
    let f = field(c, label).await;
    f.clear().await.unwrap();
    f.send_keys(text).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_eraser_adds_a_purge_job_that_runs_to_100_percent_live_and_cannot_be_cancelled() {
    let d = tempfile::tempdir().unwrap();
    let (server, token) = service(d.path());
    let b = Browser::start().await;
    let c = &b.c;
    sign_in(c, &server.base, "erin", PASSWORD).await;

    wait_for(c, "//nav//a[normalize-space()='Purge User Records']").await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Purge User Records']").await;
    wait_for(c, "//*[normalize-space()='No job is running.']").await;
    no_serious_violation(c, "Purge User Records").await;

    // Add Job → the criteria → Preview.
    button(c, "Add Job").await.click().await.unwrap();
    wait_for(c, "//dialog[@open]//h2[normalize-space()='Add Job']").await;
    no_serious_violation(c, "the Add Job dialog").await;
    type_into(c, "Number of Days After Purge Date", "7").await;
    type_into(c, "Waive Threshold", "20").await;
    button(c, "Preview").await.click().await.unwrap();
    let summary = wait_for(c, "//dialog[@open]//section//p[@role='status']").await.text().await.unwrap();
    let (selected, api_by_reason) = api_dry_run(&server.base, &token);
    assert_eq!(selected, PEOPLE as u64);
    assert!(summary.contains(&format!("would purge {PEOPLE} users and skip 4")), "{summary}");
    let ui_by_reason = preview_by_reason(c).await;
    assert_eq!(ui_by_reason, api_by_reason, "the Preview's counts are the API's dry run's");
    assert_eq!(
        ui_by_reason.into_iter().collect::<Vec<_>>(),
        [("balance_over_threshold".to_string(), 2), ("legal_hold".into(), 1), ("unreturned_items".into(), 2)]
    );
    let dialog = wait_for(c, "//dialog[@open]").await.text().await.unwrap();
    assert!(dialog.contains(&format!("{SCRIPT}, {IMG}")), "the hostile name as text: {dialog}");
    assert!(c.get_alert_text().await.is_err(), "no script ran");
    let injected = c.find_all(Locator::XPath("//img[@src='x'] | //script[not(@src)] | //*[@onerror]")).await.unwrap();
    assert!(injected.is_empty(), "nothing injected");
    no_serious_violation(c, "the Add Job dialog with the preview").await;

    // Add → Confirm: says the job cannot be aborted; nothing started yet.
    wait_for(c, "//dialog[@open]//button[normalize-space()='Add']").await.click().await.unwrap();
    let dialog = wait_for(c, "//dialog[@open][.//h2[normalize-space()='Confirm']]").await;
    let text = dialog.text().await.unwrap();
    assert!(text.contains("there is no way to abort it") && text.contains(&format!("purge {PEOPLE} users")), "{text}");
    no_serious_violation(c, "the Confirm dialog").await;
    assert_eq!(api_jobs(&server.base, &token), json!([]), "no job before Confirm");

    wait_for(c, "//dialog[@open]//button[normalize-space()='Confirm']").await.click().await.unwrap();
    let h1 = wait_for(c, "//h1[starts-with(normalize-space(), 'Purge job ')]").await.text().await.unwrap();
    let id = h1.trim_start_matches("Purge job ").to_string();
    assert_eq!(path(c).await, format!("/ui/purge/jobs/{id}"));

    // The bar moves to 100 % without a reload: a mark set on this page
    // survives only if the page is never loaded again.
    c.execute("window.purgeMark = 'same page'; return null;", vec![]).await.unwrap();
    let first = percent(c, &id).await.expect("the progress bar");
    assert!(first < 100, "the page opened while the job ran ({first} %)");
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut seen = vec![first];
    loop {
        let v = percent(c, &id).await.unwrap_or(0);
        if seen.last() != Some(&v) {
            seen.push(v);
        }
        if v == 100 {
            break;
        }
        assert!(Instant::now() < deadline, "the bar stopped at {seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mark = c.execute("return window.purgeMark || null;", vec![]).await.unwrap();
    assert_eq!(mark, json!("same page"), "no reload on the way: {seen:?}");
    let done = wait_for(c, &format!("//div[@id='progress-{id}']")).await.text().await.unwrap();
    assert!(done.contains(&format!("{PEOPLE} of {PEOPLE} done (100 %), {PEOPLE} purged")), "{done}");
    let polling = c.find_all(Locator::XPath(&format!("//div[@id='progress-{id}'][@hx-trigger]"))).await.unwrap();
    assert!(polling.is_empty(), "polling stopped");

    // No cancel control anywhere on the job's page.
    let cancel = c
        .find_all(Locator::XPath(
            "//*[self::button or self::a or self::input or self::summary]
               [contains(normalize-space(.), 'Cancel') or contains(normalize-space(.), 'Abort')
                or contains(@value, 'Cancel') or contains(@value, 'Abort')
                or contains(@aria-label, 'Cancel') or contains(@aria-label, 'Abort')]",
        ))
        .await
        .unwrap();
    assert!(cancel.is_empty(), "no cancel control on the job's page");
    no_serious_violation(c, "the job's page").await;

    // In the history.
    wait_for(c, "//nav//a[normalize-space()='Purge User Records']").await.click().await.unwrap();
    let row = wait_for(
        c,
        &format!(
            "//table[starts-with(normalize-space(caption), 'Completed jobs')]//tr[.//a[normalize-space()='Job {id}']]"
        ),
    )
    .await;
    let row = row.text().await.unwrap();
    assert!(row.contains(&PEOPLE.to_string()), "{row}");
    assert_eq!(api_jobs(&server.base, &token)[0]["state"], "completed");
    wait_for(c, "//*[normalize-space()='No job is running.']").await;
    no_serious_violation(c, "Purge User Records with the history").await;

    // Update users in bulk: the four kept keep their purge date until it
    // is removed here; a form that names no one says so by its fields.
    button(c, "Update users in bulk").await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Update users in bulk']").await;
    no_serious_violation(c, "Update users in bulk").await;
    button(c, "Update users").await.click().await.unwrap();
    let error = wait_for(c, "//*[@id='purge_date-error']").await.text().await.unwrap();
    assert!(error.starts_with("Choose the new purge date, or tick") && error.contains("invalid_input"), "{error}");
    wait_for(c, "//input[@id='purge_date'][@aria-invalid='true']").await;
    no_serious_violation(c, "Update users in bulk with its errors").await;
    field(c, "Remove the purge date instead").await.click().await.unwrap();
    button(c, "Update users").await.click().await.unwrap();
    let error = wait_for(c, "//*[@id='query-error']").await.text().await.unwrap();
    assert!(error.starts_with("Choose whom to update") && error.contains("invalid_input"), "{error}");
    field(c, "State").await.select_by_value("active").await.unwrap();
    button(c, "Update users").await.click().await.unwrap();
    let notice = wait_for(c, "//*[@role='status']").await.text().await.unwrap();
    assert_eq!(notice, "The purge date of 4 users was updated.");
    let (selected, skipped) = api_dry_run(&server.base, &token);
    assert_eq!((selected, skipped.len()), (0, 0), "no one has a purge date any more");
    b.close().await;
    server.stop();
}

/// Tab to the control reading `text`, then Enter.
async fn activate(c: &Client, text: &str) {
    tab_to(c, text).await;
    press(c, Key::Enter).await;
}

/// The focused element's `id`.
async fn focused_id(c: &Client) -> String {
    let v = c.execute("return document.activeElement ? document.activeElement.id : '';", vec![]).await.unwrap();
    v.as_str().unwrap_or_default().to_string()
}

/// Replaces the focused field's "0" with `text`, by keyboard.
async fn retype(c: &Client, text: &str) {
    press(c, Key::End).await;
    press(c, Key::Backspace).await;
    keys(c, text).await;
}

/// Must-be-true 6 for 003: the same workflow by keyboard only — Tab to the
/// menu item, Enter on Add Job (the focus moves into the dialog), type the
/// criteria, Preview, Add; Escape closes the Confirm pop-up with no job
/// started and the focus back on Add Job; again, then Confirm starts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_eraser_adds_a_purge_job_by_keyboard_only_and_escape_starts_none() {
    let d = tempfile::tempdir().unwrap();
    cli(d.path(), &["init"]);
    cli(d.path(), &["dev", "seed", "--users", "30", "--cards-per-user", "0"]);
    cli(d.path(), &["user", "purge-date", "--set", "2026-01-01", "--state", "active"]);
    add_operator(d.path(), "erin", "eraser", PASSWORD);
    let server = Server::start(d.path());
    let history = || cli(d.path(), &["purge", "history"]);
    let b = Browser::start().await;
    let c = &b.c;
    sign_in(c, &server.base, "erin", PASSWORD).await;

    activate(c, "Purge User Records").await;
    wait_for(c, "//h1[normalize-space()='Purge User Records']").await;
    activate(c, "Add Job").await;
    wait_for(c, "//dialog[@open]//h2[normalize-space()='Add Job']").await;
    assert_eq!(focused_id(c).await, "grace_days", "the focus moves into the dialog");
    retype(c, "7").await;
    activate(c, "Preview").await;
    let summary = wait_for(c, "//dialog[@open]//section//p[@role='status']").await.text().await.unwrap();
    assert!(summary.contains("would purge 30 users and skip 0"), "{summary}");
    assert_eq!(focused_id(c).await, "preview-h", "the focus moves to the preview");
    activate(c, "Add").await;
    wait_for(c, "//dialog[@open]//h2[normalize-space()='Confirm']").await;

    // Escape: the pop-up closes, nothing started, the focus back on Add Job.
    press(c, Key::Escape).await;
    c.wait().at_most(WAIT).for_element(Locator::XPath("//dialog[not(@open)]")).await.unwrap();
    focus_returns_to(c, "Add Job").await;
    assert_eq!(history(), json!([]), "Escape starts no job");

    press(c, Key::Enter).await;
    wait_for(c, "//dialog[@open]//h2[normalize-space()='Add Job']").await;
    retype(c, "7").await;
    activate(c, "Add").await;
    wait_for(c, "//dialog[@open]//h2[normalize-space()='Confirm']").await;
    activate(c, "Confirm").await;
    let h1 = wait_for(c, "//h1[starts-with(normalize-space(), 'Purge job ')]").await.text().await.unwrap();
    let id = h1.trim_start_matches("Purge job ").to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while percent(c, &id).await != Some(100) {
        assert!(Instant::now() < deadline, "the job did not reach 100 %");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(history()[0]["selected"].as_u64(), Some(30), "{}", history());
    b.close().await;
    server.stop();
}
