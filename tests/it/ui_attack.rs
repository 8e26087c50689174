//! The web UI attacked as an intruder and as a careless admin would: what
//! a scoped operator can learn of other units, notices a forged link could
//! make lie, and what a careless post could do. Each test failed before
//! its fix.

use axum::http::StatusCode;
use idms::domain::{LifecycleAction, Technology, UserId};
use idms::store::{NewUser, Role};

use crate::common::{iso, new_user, staff};
use crate::ui_http::{ORIGIN, PW, Ui};

fn person_in(ui: &Ui, unit: &str, given: &str, family: &str) -> UserId {
    let n = NewUser { org_unit: Some(unit.into()), ..new_user(given, family) };
    ui.store.create_user(&staff(), n).unwrap().id
}

/// A card first held by someone of unit south (expunged since, so the card
/// went back to stock), then recycled to someone of unit north.
fn recycled_across_units(ui: &Ui) -> (UserId, UserId) {
    let south = person_in(ui, "south", "Sam", "South");
    let north = person_in(ui, "north", "Ned", "North");
    ui.store.enroll(&staff(), south, Technology::Iso14443a, &iso("04AABBCC")).unwrap();
    ui.store.lifecycle(&staff(), south, LifecycleAction::Delete).unwrap();
    ui.store.expunge(&staff(), south, &south.to_string()).unwrap();
    ui.store.enroll(&staff(), north, Technology::Iso14443a, &iso("04AABBCC")).unwrap();
    (south, north)
}

#[tokio::test]
async fn a_scoped_card_look_up_names_no_earlier_holder_of_another_unit() {
    let ui = Ui::new();
    let (south, north) = recycled_across_units(&ui);
    ui.store.add_operator(&staff(), "nina", Role::Viewer, Some("north"), Some(PW)).unwrap();
    let (cookie, _) = ui.sign_in("nina").await;
    let page = ui.get("/ui/cards?uid=04AABBCC", Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(&north.to_string()), "the holder in the unit is shown: {}", page.body);
    assert!(!page.body.contains(&south.to_string()), "another unit's earlier holder is not: {}", page.body);
    assert!(!page.body.contains("holder_expunged"), "nor what became of them: {}", page.body);
    // An operator without a unit sees the whole history.
    let (cookie, _) = ui.sign_in("vera").await;
    let page = ui.get("/ui/cards?uid=04AABBCC", Some(&cookie), false).await;
    assert!(page.body.contains(&south.to_string()) && page.body.contains(&north.to_string()), "{}", page.body);
}
