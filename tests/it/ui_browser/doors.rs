//! An admin in Chromium sees a door controller whose clock drifted: its
//! row in Administration says how far ahead it reads and that its events
//! are flagged. From Access events they open Quarantined uploads and see
//! the event the controller sent that was refused, as text (markup in
//! every field); they narrow it to that controller with the form. axe-core
//! finds no serious or critical violation on the new page at 1280 and 768
//! px.

use fantoccini::Locator;
use serde_json::json;

use super::{Browser, add_operator, axe_serious, button, controller_uploads, field, service, sign_in, wait_for};

const PASSWORD: &str = "browser test password";
const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_a_drifted_controller_and_its_refused_upload_as_text() {
    let d = tempfile::tempdir().unwrap();
    let server = service(d.path(), PASSWORD);
    add_operator(d.path(), "ada", "admin", PASSWORD);
    let hostile = json!({"event_id": SCRIPT, "at": "2026-01-01T00:00:00Z", "door": IMG, "uid": "zz",
        "decision": "deny", "reason": IMG});
    // Its clock reads 15½ min ahead (a second either way: still 15 min).
    let (fast, v) = controller_uploads(d.path(), &server.base, "lobby-ctl", 930, json!([hostile]));
    assert_eq!(v["results"][0]["status"], "rejected", "{v}");
    assert!((929..=931).contains(&v["skew_secs"].as_i64().unwrap()), "{v}");
    // Another controller, in step, with nothing refused.
    let (steady, _) = controller_uploads(d.path(), &server.base, "yard-ctl", 0, json!([]));
    let b = Browser::start().await;
    let c = &b.c;
    sign_in(c, &server.base, "ada", PASSWORD).await;

    // Administration: the drifted controller's clock, in words.
    wait_for(c, "//nav//a[normalize-space()='Administration']").await.click().await.unwrap();
    let row =
        wait_for(c, "//table[caption[starts-with(., 'Door controllers')]]//tr[td[normalize-space()='lobby-ctl']]")
            .await
            .text()
            .await
            .unwrap();
    assert!(row.contains("15 min ahead — events flagged clock ahead") && row.contains("(measured "), "{row}");
    let yard = c
        .find(Locator::XPath("//tr[td[normalize-space()='yard-ctl']]/td[@class='clock']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(yard.starts_with("in step (measured "), "{yard}");

    // Access events → Quarantined uploads: the refused event, as text.
    wait_for(c, "//nav//a[normalize-space()='Access events']").await.click().await.unwrap();
    wait_for(c, "//main//a[normalize-space()='Quarantined uploads']").await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Quarantined uploads']").await;
    let cell = format!("//td[normalize-space()='{SCRIPT}']");
    wait_for(c, &cell).await;
    let mut cells = Vec::new();
    for td in c.find_all(Locator::XPath(&format!("//tr[{}]/td", &cell[2..]))).await.unwrap() {
        cells.push(td.text().await.unwrap());
    }
    assert_eq!(cells[1..4], [fast.to_string(), "0".into(), "rejected".into()], "{cells:?}");
    assert!(cells[7].starts_with('{') && cells[7].contains(IMG), "the event as sent, as text: {cells:?}");
    assert!(c.get_alert_text().await.is_err(), "a script opened a dialog");
    let injected = c.find_all(Locator::XPath("//img[@src='x'] | //script[not(@src)] | //*[@onerror]")).await.unwrap();
    assert!(injected.is_empty(), "{} injected elements", injected.len());
    for (w, h) in [(768, 1024), (1280, 800)] {
        c.set_window_size(w, h).await.unwrap();
        let v = axe_serious(c).await;
        assert!(v.is_empty(), "Quarantined uploads at {w}px: {v:#?}");
    }

    // Narrowed to the steady controller: nothing; to the drifted one: its event.
    field(c, "Controller ID").await.send_keys(&steady.to_string()).await.unwrap();
    button(c, "Show uploads").await.click().await.unwrap();
    wait_for(c, "//p[normalize-space()='No quarantined upload of this controller.']").await;
    let f = field(c, "Controller ID").await;
    f.clear().await.unwrap();
    f.send_keys(&fast.to_string()).await.unwrap();
    button(c, "Show uploads").await.click().await.unwrap();
    wait_for(c, &cell).await;
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "Quarantined uploads, filtered: {v:#?}");
    b.close().await;
    server.stop();
}
