//! The 002 procedure in Chromium, as an eraser: Deleted Users → search by
//! org unit → the three deleted people are listed, all ticked → Erase → the
//! pop-up warns and lists the three → Erase → back on the search page: two
//! erased, one not, under legal hold (`legal_hold`). axe-core runs on the
//! results and with the pop-up open.

use super::{Browser, add_operator, axe_serious, button, field, path, service, sign_in, wait_for};
use crate::server::cli;

const PASSWORD: &str = "browser test password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_eraser_erases_deleted_users_and_one_under_legal_hold_stays() {
    let d = tempfile::tempdir().unwrap();
    let server = service(d.path(), PASSWORD);
    add_operator(d.path(), "erin", "eraser", PASSWORD);
    let ids = super::three_deleted_in_lab(d.path());
    let state = |id: &str| cli(d.path(), &["user", "show", id])["state"].as_str().unwrap().to_string();
    let b = Browser::start().await;
    let c = &b.c;

    sign_in(c, &server.base, "erin", PASSWORD).await;

    // The menu → Deleted Users → search by org unit.
    wait_for(c, "//nav//a[normalize-space()='Deleted Users']").await.click().await.unwrap();
    wait_for(c, "//h1[normalize-space()='Deleted Users']").await;
    field(c, "Org unit").await.send_keys("lab").await.unwrap();
    button(c, "Search for deleted users").await.click().await.unwrap();
    for id in &ids {
        let tick = wait_for(c, &format!("//table//input[@type='checkbox' and @value='{id}']")).await;
        assert!(tick.is_selected().await.unwrap(), "{id} is ticked by default");
    }
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "Deleted Users with results: {v:#?}");

    // Erase (unticking no one): the pop-up lists the three.
    button(c, "Erase").await.click().await.unwrap();
    let dialog = wait_for(c, "//dialog[@open]").await;
    wait_for(c, "//dialog[@open]//h2[normalize-space()='Erase deleted users']").await;
    let text = dialog.text().await.unwrap();
    assert!(text.contains("These 3 users will be erased:") && text.contains("cannot be restored"), "{text}");
    for (id, name) in ids.iter().zip(["Hopper, Grace", "Turing, Alan", "Lovelace, Ada"]) {
        assert!(text.contains(&format!("{id}: {name} (lab)")), "{id}: {text}");
    }
    let v = axe_serious(c).await;
    assert!(v.is_empty(), "with the Erase pop-up open: {v:#?}");
    assert_eq!(ids.iter().map(|id| state(id)).collect::<Vec<_>>(), ["deleted"; 3], "the pop-up erases no one");

    wait_for(c, "//dialog[@open]//button[normalize-space()='Erase']").await.click().await.unwrap();
    let notice = wait_for(c, "//*[@role='status'][starts-with(normalize-space(), 'Erased 2:')]").await;
    let notice = notice.text().await.unwrap();
    assert!(notice.contains(&ids[0]) && notice.contains(&ids[1]), "{notice}");
    assert!(notice.contains("Not erased 1:"), "{notice}");
    assert!(
        notice.contains(&format!("{}: Under legal hold: lift the hold before erasing. (legal_hold)", ids[2])),
        "{notice}"
    );
    assert_eq!(path(c).await, "/ui/deleted", "back on the search page");
    assert_eq!(ids.iter().map(|id| state(id)).collect::<Vec<_>>(), ["expunged", "expunged", "deleted"]);
    b.close().await;
    server.stop();
}
