//! Access control in Chromium (issue 10/12, 16): an admin adds a schedule
//! and an access level on the Access control pages, assigns the level on
//! the person's Access tab, asks Explain a decision — granted by that
//! level and interval at 09:00 on a Monday, denied `outside_schedule` at
//! 20:00 — and tries to delete the schedule, which is refused naming the
//! level that uses it. axe-core finds no serious or critical violation on
//! the pages along the way.

use fantoccini::Client;

use super::{Browser, add_operator, axe_serious, button, field, service, sign_in, wait_for};
use crate::server::cli;

const PASSWORD: &str = "browser test password";

async fn no_serious(c: &Client, what: &str) {
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "{what}: {v:#?}");
}

async fn type_into(c: &Client, label: &str, text: &str) {
    let f = field(c, label).await;
    f.clear().await.unwrap();
    f.send_keys(text).await.unwrap();
}

async fn choose(c: &Client, label: &str, option: &str) {
    field(c, label).await.select_by_label(option).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_schedule_and_a_level_assigns_it_and_explains_a_decision() {
    let d = tempfile::tempdir().unwrap();
    let server = service(d.path(), PASSWORD);
    add_operator(d.path(), "ada", "admin", PASSWORD);
    // Deny by default: a new person holds no level.
    cli(d.path(), &["level", "default", "remove", "All doors, always"]);
    cli(d.path(), &["door", "add", "lab", "--site", "Default"]);
    let id =
        cli(d.path(), &["user", "add", "--given", "Grace", "--family", "Hopper"])["id"].as_str().unwrap().to_string();
    cli(d.path(), &["card", "enroll", "--user", &id, "--uid", "04A1B2C3"]);
    let b = Browser::start().await;
    let c = &b.c;
    sign_in(c, &server.base, "ada", PASSWORD).await;

    // Access control → Schedules: add "Day".
    wait_for(c, "//nav//a[normalize-space()='Access control']").await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Doors']").await;
    no_serious(c, "Doors").await;
    button(c, "Schedules").await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Schedules']").await;
    type_into(c, "Name", "Day").await;
    type_into(c, "Intervals, one a line (mon-fri 08:00-18:00)", "mon-fri 08:00-18:00").await;
    button(c, "Add schedule").await.click().await.unwrap();
    wait_for(c, "//*[@role='status']/p[normalize-space()='Schedule Day was added.']").await;
    no_serious(c, "a schedule's page").await;

    // Access levels: add "Lab by day" (door lab on Day).
    button(c, "Access levels").await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Access levels']").await;
    type_into(c, "Name", "Lab by day").await;
    choose(c, "Grant 1: opens", "door lab").await;
    choose(c, "Grant 1: schedule", "Day").await;
    no_serious(c, "Access levels with the add form filled").await;
    button(c, "Add access level").await.click().await.unwrap();
    wait_for(c, "//*[@role='status']/p[normalize-space()='Access level Lab by day was added.']").await;
    wait_for(c, "//dd[normalize-space()='door lab on Day']").await;

    // The person's Access tab: assign it.
    c.goto(&format!("{}/ui/people/{id}", server.base)).await.unwrap();
    button(c, "Access").await.click().await.unwrap();
    wait_for(c, "//p[normalize-space()='This person holds no access level: their cards open no door.']").await;
    choose(c, "Access level", "Lab by day").await;
    button(c, "Assign level").await.click().await.unwrap();
    wait_for(c, "//*[@role='status']/p[normalize-space()='Access level Lab by day was assigned.']").await;
    wait_for(c, "//table//tr[td[normalize-space()='Lab by day'] and td[normalize-space()='directly']]").await;
    wait_for(c, "//tr[td[normalize-space()='lab'] and td[normalize-space()='Lab by day on Day']]").await;
    no_serious(c, "the Access tab").await;

    // Explain a decision: granted on Monday at 09:00, by the level and its interval.
    wait_for(c, "//nav//a[normalize-space()='Access control']").await.click().await.unwrap();
    button(c, "Explain a decision").await.click().await.unwrap();
    type_into(c, "Card UID (hex)", "04A1B2C3").await;
    choose(c, "Door", "lab").await;
    type_into(c, "Time (RFC 3339, e.g. 2027-01-04T09:00:00Z; empty: now)", "2027-01-04T09:00:00Z").await;
    button(c, "Explain").await.click().await.unwrap();
    wait_for(c, "//h2[normalize-space()='Granted']").await;
    for (dt, dd) in [("Level", "Lab by day"), ("Schedule", "Day"), ("Holder", id.as_str())] {
        wait_for(c, &format!("//dt[normalize-space()='{dt}']/following-sibling::dd[1][normalize-space()='{dd}']"))
            .await;
    }
    wait_for(c, "//dd[starts-with(normalize-space(), '08:00-18:00')]").await;
    no_serious(c, "a granted explanation").await;

    // At 20:00 the level covers the door but its schedule is closed.
    type_into(c, "Time (RFC 3339, e.g. 2027-01-04T09:00:00Z; empty: now)", "2027-01-04T20:00:00Z").await;
    button(c, "Explain").await.click().await.unwrap();
    wait_for(c, "//h2[normalize-space()='Denied']").await;
    let why = wait_for(c, "//section[@aria-labelledby='answer-h']/p").await.text().await.unwrap();
    assert!(why.contains("none of its schedules is open then") && why.contains("outside_schedule"), "{why}");
    no_serious(c, "a denied explanation").await;

    // Deleting the schedule the level uses is refused, naming the level; it stays.
    button(c, "Schedules").await.click().await.unwrap();
    button(c, "Day").await.click().await.unwrap();
    button(c, "Delete schedule Day").await.click().await.unwrap();
    let alert = wait_for(c, "//*[@role='alert']").await.text().await.unwrap();
    assert!(alert.contains("in_use") && alert.contains("access level Lab by day"), "{alert}");
    wait_for(c, "//h1[normalize-space()='Schedule Day']").await;
    no_serious(c, "a refused delete").await;
    b.close().await;
    server.stop();
}
