//! Issue 9/12 (15), the web UI of door controllers: Administration shows
//! each controller's last contact and clock skew (flagging one whose
//! events are stamped ahead); Access events shows the time a flagged upload
//! claimed; Quarantined uploads lists what controllers sent that was
//! refused or conflicted, as text (a controller can send anything), paged
//! and filtered by controller, for unscoped managers and above only.

use axum::http::{Method, Request, StatusCode};
use idms::domain::Timestamp;
use idms::store::Role;
use serde_json::{Value, json};

use crate::common::{T0, staff};
use crate::ui_http::{Answer, Ui};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";

/// An offline decision at door `main`, `secs` after T0.
fn event(id: &str, secs: i64) -> Value {
    json!({"event_id": id, "at": Timestamp(T0.0 + secs).to_rfc3339(), "door": "main",
        "uid": "04A1B2C3", "technology": "iso14443a", "decision": "deny", "reason": "unknown_credential"})
}

/// A door controller for door `main`: its ID and token.
fn controller(ui: &Ui, name: &str) -> (i64, String) {
    let (c, t) = ui.store.add_controller(&staff(), name, &["main".to_string()]).unwrap();
    (c.id, t)
}

/// Uploads `body` as the controller holding `token`; answers the result.
async fn upload(ui: &Ui, token: &str, body: Value) -> Value {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/access/events")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    let a = ui.send(req, &body.to_string()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    serde_json::from_str(&a.body).unwrap()
}

/// The table row (`<tr>…</tr>`) holding the cell `<td>{cell}</td>`.
fn row<'a>(a: &'a Answer, cell: &str) -> &'a str {
    let td = format!("<td>{cell}</td>");
    a.body.split("<tr>").find(|r| r.contains(&td)).unwrap_or_else(|| panic!("a row with {td}: {}", a.body))
}

/// How many entries the quarantine page lists.
fn entries(a: &Answer) -> usize {
    a.body.matches("<td class=\"when\">").count()
}

fn quarantine_reads(ui: &Ui) -> i64 {
    let c = rusqlite::Connection::open(ui._fx.db_path()).unwrap();
    c.query_row(
        "SELECT COUNT(*) FROM audit WHERE action = 'access_events.read' AND detail LIKE 'quarantine%'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controllers_table_shows_last_contact_and_clock_skew_after_an_upload_with_sent_at() {
    let ui = Ui::new();
    ui._fx.clock.set(T0);
    let (_, fast) = controller(&ui, "ctl-fast");
    let (_, slow) = controller(&ui, "ctl-slow");
    controller(&ui, "ctl-quiet");
    // Its clock reads 12 min ahead: its event stamped 2 h ahead is stored at arrival, flagged.
    ui._fx.clock.set(Timestamp(T0.0 + 100));
    let sent = Timestamp(T0.0 + 820).to_rfc3339();
    let v = upload(&ui, &fast, json!({"sent_at": sent, "events": [event("fast-1", 7300)]})).await;
    assert_eq!(v["results"][0], json!({"status": "accepted", "clock_ahead_secs": 7200}), "{v}");
    ui._fx.clock.set(Timestamp(T0.0 + 160));
    let sent = Timestamp(T0.0 + 157).to_rfc3339();
    let v = upload(&ui, &slow, json!({"sent_at": sent, "events": [event("slow-1", 30)]})).await;
    assert_eq!(v["skew_secs"], -3, "{v}");

    let (cookie, _) = ui.sign_in("adam").await;
    let a = ui.get("/ui/admin", Some(&cookie), false).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains(r#"<th scope="col">Last contact</th><th scope="col">Clock</th>"#), "{}", a.body);
    let at = |t: i64| format!(r#"datetime="{}""#, Timestamp(t).to_rfc3339());

    let r = row(&a, "ctl-fast");
    assert!(r.contains("12 min ahead — events flagged clock ahead"), "{r}");
    let shown = idms::ui::time::Shown(Timestamp(T0.0 + 100));
    assert!(r.contains(&format!("<td>{shown}</td>")), "last contact at the upload: {r}");
    assert!(r.contains(&format!("(measured {shown})")), "{r}");

    let r = row(&a, "ctl-slow");
    assert!(r.contains("3 s behind") && !r.contains("flagged"), "{r}");
    assert!(r.contains(&at(T0.0 + 160)), "{r}");

    let r = row(&a, "ctl-quiet");
    assert!(r.contains("<td>never</td>") && r.contains("not measured"), "{r}");
    assert_eq!(r.matches("datetime=").count(), 1, "only when it was added, never heard from: {r}");

    // Access events shows the flagged upload at its arrival, with what it claimed.
    let a = ui.get("/ui/events", Some(&cookie), false).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let flagged: Vec<&str> = a.body.split("<tr>").filter(|r| r.contains("stamped")).collect();
    assert_eq!(flagged.len(), 1, "only the event stamped ahead: {}", a.body);
    let claimed = idms::ui::time::Shown(Timestamp(T0.0 + 7300));
    assert!(flagged[0].contains(&format!("(stamped 2 h ahead, {claimed}; shown at arrival)")), "{}", flagged[0]);
    assert!(flagged[0].contains(&at(T0.0 + 100)), "shown at its arrival: {}", flagged[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quarantine_page_shows_what_a_controller_sent_as_text_paged_and_by_controller() {
    let ui = Ui::new();
    ui._fx.clock.set(T0);
    let (a_id, a_token) = controller(&ui, "ctl-a");
    let (b_id, b_token) = controller(&ui, "ctl-b");
    // A hostile controller: markup in every field, and a UID that cannot be read.
    let hostile = json!({"event_id": SCRIPT, "at": T0.to_rfc3339(), "door": IMG, "uid": format!("zz{SCRIPT}"),
        "decision": "deny", "reason": IMG, "user_id": IMG});
    let mut batch = vec![hostile];
    for i in 0..54 {
        let mut e = event(&format!("bad-{i}"), i);
        e["uid"] = json!("04A1B2C");
        batch.push(e);
    }
    let v = upload(&ui, &a_token, json!({"events": batch})).await;
    assert_eq!(v["rejected"], 55, "{v}");
    let v = upload(&ui, &b_token, json!({"events": [{"event_id": "from-b", "at": T0.to_rfc3339()}]})).await;
    assert_eq!(v["rejected"], 1, "{v}");

    let (cookie, _) = ui.sign_in("adam").await;
    let events = ui.get("/ui/events", Some(&cookie), false).await;
    assert!(events.body.contains(r#"<a href="/ui/events/quarantine">Quarantined uploads</a>"#), "{}", events.body);

    let reads = quarantine_reads(&ui);
    let first = ui.get("/ui/events/quarantine", Some(&cookie), false).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(quarantine_reads(&ui), reads + 1, "every read is audited");
    assert_eq!(entries(&first), 50, "a page holds 50");
    // The hostile event, as text: escaped, nothing of it markup.
    assert!(!first.body.contains(SCRIPT) && !first.body.contains("<img"), "{}", first.body);
    let text = first.body.replace("&#60;", "&lt;").replace("&#62;", "&gt;").replace("&#34;", "&quot;");
    assert!(text.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"), "the event ID as text: {}", first.body);
    let sent = text.split("<code class=\"wrap\">").nth(1).unwrap_or_default();
    assert!(sent.starts_with("{&quot;"), "the event as sent, in <code>: {sent}");
    assert!(sent.contains(r"&lt;img src=x onerror=alert(1)&gt;"), "{sent}");
    let r = row(&first, "bad-0");
    assert!(r.contains(&format!("<td>{a_id}</td><td>1</td><td>rejected</td>")), "controller, index, status: {r}");
    assert!(r.contains("<code>uid_odd_digits</code>") && r.contains("<code>uid</code>"), "code and field: {r}");

    // The next page, by `next_after`: the rest, and a way back.
    let next = first.body.split("rel=\"next\"").next().and_then(|s| s.rsplit("href=\"").next()).unwrap();
    let next = next.trim_end_matches("\" ").replace("&amp;", "&");
    assert!(next.starts_with("/ui/events/quarantine?controller=&after="), "{next}");
    let second = ui.get(&next, Some(&cookie), false).await;
    assert_eq!((second.status, entries(&second)), (StatusCode::OK, 6), "{}", second.body);
    assert!(second.body.contains("(continued)") && second.body.contains(">First page</a>"), "{}", second.body);
    assert!(!second.body.contains("rel=\"next\""), "no page after the last: {}", second.body);
    assert!(second.body.contains("<td>from-b</td>"), "{}", second.body);

    // One controller's only.
    let b = ui.get(&format!("/ui/events/quarantine?controller={b_id}"), Some(&cookie), false).await;
    assert_eq!((b.status, entries(&b)), (StatusCode::OK, 1), "{}", b.body);
    assert!(row(&b, "from-b").contains(&format!("<td>{b_id}</td><td>0</td>")), "{}", b.body);
    assert!(!b.body.contains("bad-0") && b.body.contains(&format!("value=\"{b_id}\"")), "{}", b.body);
    // For htmx, only the entries.
    let part = ui.get(&format!("/ui/events/quarantine?controller={b_id}"), Some(&cookie), true).await;
    assert!(part.body.contains("<td>from-b</td>") && !part.body.contains("<h1>"), "{}", part.body);
    // A filter that is not a controller ID: said next to the filter, naming it.
    let bad = ui.get("/ui/events/quarantine?controller=north%3Cb%3E", Some(&cookie), false).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("This filter was not used: query parameter controller: a controller ID"), "{}", bad.body);
    assert_eq!(entries(&bad), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_unscoped_managers_and_above_read_the_quarantine_or_see_its_link() {
    let ui = Ui::new();
    ui._fx.clock.set(T0);
    let (_, token) = controller(&ui, "ctl-a");
    let v = upload(&ui, &token, json!({"events": [{"event_id": "secret-event", "at": T0.to_rfc3339()}]})).await;
    assert_eq!(v["rejected"], 1, "{v}");
    let pw = Some(crate::ui_http::PW);
    let add = |name: &str, role: Role, unit: Option<&str>| ui.store.add_operator(&staff(), name, role, unit, pw);
    add("ed", Role::Enroller, None).unwrap();
    add("nora", Role::Manager, Some("north")).unwrap();
    add("max", Role::Manager, None).unwrap();
    add("erin", Role::Eraser, None).unwrap();
    for (name, ok) in [("vera", false), ("ed", false), ("nora", false), ("max", true), ("erin", true), ("adam", true)] {
        let (cookie, _) = ui.sign_in(name).await;
        let reads = quarantine_reads(&ui);
        let a = ui.get("/ui/events/quarantine", Some(&cookie), false).await;
        let events = ui.get("/ui/events", Some(&cookie), false).await;
        let link = events.body.contains("/ui/events/quarantine");
        if ok {
            assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
            assert!(a.body.contains("<td>secret-event</td>"), "{name}: {}", a.body);
            assert!(link, "{name} is offered the page: {}", events.body);
            assert_eq!(quarantine_reads(&ui), reads + 1, "{name}: audited");
        } else {
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{name}: {}", a.body);
            assert!(a.body.contains("forbidden") && !a.body.contains("secret-event"), "{name}: {}", a.body);
            assert!(!link, "{name} is not offered the page: {}", events.body);
            assert_eq!(quarantine_reads(&ui), reads, "{name}: nothing read");
        }
    }
}
