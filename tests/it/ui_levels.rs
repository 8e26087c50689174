//! Issue 10/12 (16), the web UI of access rules, over HTTP in-process:
//! adds answer `303` with a sealed notice and change the rules; a refused
//! field (`invalid_input`), a taken name and a delete refused `in_use`
//! show the page again with the refusal naming the field or what refers to
//! it, and change nothing; hostile names render escaped; posts need the
//! session's CSRF token and a role that edits; a scoped manager assigns
//! only their unit's levels to their unit's people, from the level's page
//! and from the person's Access tab; Explain a decision says grant with the
//! level, schedule and interval, or the reason in words. Issue 17: a level
//! is assigned to and taken from a directory group on the level's page, and
//! the member's Access tab says it comes through that group, its hostile
//! name shown as text.

use axum::http::StatusCode;
use idms::domain::{Timestamp, ValidityWindow};
use idms::store::levels::{GrantTarget, Holder};
use idms::store::{NewUser, Role};

use crate::common::{new_user, staff};
use crate::ui_http::{Answer, ORIGIN, Ui};

const SCRIPT: &str = "<script>alert(1)</script>";

/// Monday 2027-01-04 09:00 UTC (the default site is in UTC).
const MONDAY_9: &str = "2027-01-04T09:00:00Z";
/// The same Monday at 20:00 UTC.
const MONDAY_20: &str = "2027-01-04T20:00:00Z";

fn enc(s: &str) -> String {
    idms::ui::levels::enc(s)
}

async fn post(ui: &Ui, cookie: &str, csrf: &str, path: &str, form: &str) -> Answer {
    ui.post(path, Some(cookie), Some(ORIGIN), &format!("csrf={csrf}&{form}")).await
}

/// Follows a `303` and answers the page it leads to.
async fn follow(ui: &Ui, cookie: &str, a: &Answer) -> Answer {
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    ui.get(a.header("location"), Some(cookie), false).await
}

fn level_names(ui: &Ui) -> Vec<String> {
    ui.store.levels().unwrap().into_iter().map(|l| l.name).collect()
}

#[tokio::test]
async fn adds_show_a_notice_and_refusals_name_the_field_or_what_refers_to_it() {
    let ui = Ui::new();
    let (cookie, csrf) = ui.sign_in("adam").await;

    // A door, an area, a schedule, a level of two grants.
    let a = post(&ui, &cookie, &csrf, "/ui/access/doors", "name=lab&site=Default").await;
    assert_eq!(a.header("location").split('?').next(), Some("/ui/access/doors/lab"), "{}", a.body);
    let page = follow(&ui, &cookie, &a).await;
    assert!(page.body.contains("Door lab was added."), "{}", page.body);
    post(&ui, &cookie, &csrf, "/ui/access/doors", "name=gate&site=Default").await;
    let a = post(&ui, &cookie, &csrf, "/ui/access/areas", "name=Labs&doors=lab").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);

    // A schedule whose interval does not parse: the field is named, nothing added.
    let bad = "name=Day&site=Default&intervals=mon-fri+08%3A00-25%3A00&calendar=&holiday_rules=";
    let a = post(&ui, &cookie, &csrf, "/ui/access/schedules", bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("role=\"alert\"") && a.body.contains("invalid_input"), "{}", a.body);
    assert!(a.body.contains("interval"), "the refused field is named: {}", a.body);
    assert!(a.body.contains("08:00-25:00"), "what was typed is shown again: {}", a.body);
    assert!(ui.store.schedules().unwrap().iter().all(|s| s.name != "Day"));

    let ok =
        "name=Day&site=Default&intervals=mon-fri+08%3A00-18%3A00%0D%0Asat+10%3A00-12%3A00&calendar=&holiday_rules=";
    let a = post(&ui, &cookie, &csrf, "/ui/access/schedules", ok).await;
    let page = follow(&ui, &cookie, &a).await;
    assert!(page.body.contains("mon-fri 08:00-18:00") && page.body.contains("sat 10:00-12:00"), "{}", page.body);

    // Edit: the schedule changes.
    let edit = "site=Default&intervals=mon-fri+07%3A00-19%3A00&calendar=&holiday_rules=";
    let a = post(&ui, &cookie, &csrf, "/ui/access/schedules/Day/edit", edit).await;
    let page = follow(&ui, &cookie, &a).await;
    assert!(page.body.contains("Schedule Day was saved."), "{}", page.body);
    let day = ui.store.schedules().unwrap().into_iter().find(|s| s.name == "Day").unwrap();
    assert_eq!(day.schedule.intervals.iter().map(ToString::to_string).collect::<Vec<_>>(), ["mon-fri 07:00-19:00"]);

    let level = "name=Day+staff&org_unit=&grant_1=door%3Agate&schedule_1=Day&grant_2=area%3ALabs&schedule_2=Always\
                 &grant_3=&schedule_3=&grant_4=&schedule_4=";
    let a = post(&ui, &cookie, &csrf, "/ui/access/levels", level).await;
    let page = follow(&ui, &cookie, &a).await;
    assert!(page.body.contains("door gate on Day") && page.body.contains("area Labs on Always"), "{}", page.body);

    // The same name again: name_taken, shown at the form.
    let a = post(&ui, &cookie, &csrf, "/ui/access/levels", level).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.body.contains("name_taken"), "{}", a.body);
    assert_eq!(level_names(&ui).iter().filter(|n| *n == "Day staff").count(), 1);

    // Deleting what a level uses is refused, naming the level; nothing is lost.
    for (path, what) in [("/ui/access/schedules/Day/delete", "schedule"), ("/ui/access/areas/Labs/delete", "area")] {
        let a = post(&ui, &cookie, &csrf, path, "").await;
        assert_eq!(a.status, StatusCode::CONFLICT, "{path}: {}", a.body);
        assert!(a.body.contains("in_use") && a.body.contains("access level Day staff"), "{what}: {}", a.body);
    }
    assert!(ui.store.schedules().unwrap().iter().any(|s| s.name == "Day"));
    assert!(ui.store.areas().unwrap().iter().any(|s| s.name == "Labs"));

    // A level nobody holds can be deleted.
    let a = post(&ui, &cookie, &csrf, "/ui/access/levels/Day%20staff/delete", "").await;
    let page = follow(&ui, &cookie, &a).await;
    assert!(page.body.contains("Access level Day staff was deleted."), "{}", page.body);
    assert!(!level_names(&ui).contains(&"Day staff".to_string()));

    // A holiday, then its removal.
    let a =
        post(&ui, &cookie, &csrf, "/ui/access/calendars", "name=Office&date=2027-12-25&type=public&yearly=on").await;
    let page = follow(&ui, &cookie, &a).await;
    assert!(page.body.contains("2027-12-25") && page.body.contains("public"), "{}", page.body);
    let a = post(&ui, &cookie, &csrf, "/ui/access/calendars/Office/unholiday", "date=2027-12-25&yearly=true").await;
    let page = follow(&ui, &cookie, &a).await;
    assert!(page.body.contains("No holiday in this calendar."), "{}", page.body);

    // A site's time zone: one that is no IANA zone is refused naming the field; a real one is saved.
    let a = post(&ui, &cookie, &csrf, "/ui/access/sites/Default/tz", "tz=Mars%2FOlympus").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("invalid_input") && a.body.contains("tz"), "{}", a.body);
    let a = post(&ui, &cookie, &csrf, "/ui/access/sites/Default/tz", "tz=Europe%2FBerlin").await;
    let page = follow(&ui, &cookie, &a).await;
    assert!(page.body.contains("Site Default was saved.") && page.body.contains("Europe/Berlin"), "{}", page.body);
    assert_eq!(ui.store.sites().unwrap()[0].tz, "Europe/Berlin");

    // The default level taken out of the default levels, and back.
    let path = "/ui/access/levels/All%20doors%2C%20always/default";
    let page = follow(&ui, &cookie, &post(&ui, &cookie, &csrf, path, "default=off").await).await;
    assert!(page.body.contains("is no longer a default level"), "{}", page.body);
    assert!(!ui.store.levels().unwrap()[0].is_default);
    let page = follow(&ui, &cookie, &post(&ui, &cookie, &csrf, path, "default=on").await).await;
    assert!(page.body.contains("is now a default level"), "{}", page.body);
    assert!(ui.store.levels().unwrap()[0].is_default);

    // A notice whose seal does not fit says nothing.
    let forged = ui.get("/ui/access/doors/lab?done=deleted&what=lab&seal=00", Some(&cookie), false).await;
    assert!(!forged.body.contains("was deleted"), "{}", forged.body);
}

#[tokio::test]
async fn hostile_names_render_escaped_on_every_access_page() {
    let ui = Ui::new();
    let (cookie, csrf) = ui.sign_in("adam").await;
    let e = |s: &str| s.replace('<', "%3C").replace('>', "%3E").replace('(', "%28").replace(')', "%29");
    // Door names are plain (controllers name them); areas and levels may be called anything.
    let a = post(&ui, &cookie, &csrf, "/ui/access/doors", &format!("name={}&site=Default", e(SCRIPT))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(!a.body.contains(SCRIPT), "the refused name is shown as text: {}", a.body);
    post(&ui, &cookie, &csrf, "/ui/access/doors", "name=lab&site=Default").await;
    let a = post(&ui, &cookie, &csrf, "/ui/access/areas", &format!("name={}&doors=lab", e(SCRIPT))).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let level = format!("name={}&grant_1=area%3A{}&schedule_1=Always", e(SCRIPT), e(SCRIPT));
    let a = post(&ui, &cookie, &csrf, "/ui/access/levels", &level).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let mut pages: Vec<String> = ["doors", "areas", "levels"].iter().map(|k| format!("/ui/access/{k}")).collect();
    pages.push("/ui/access/doors/lab".into());
    for k in ["areas", "levels"] {
        pages.push(format!("/ui/access/{k}/{}", enc(SCRIPT)));
    }
    for path in pages {
        let a = ui.get(&path, Some(&cookie), false).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        assert!(a.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "{path}: shown as text: {}", a.body);
        assert!(!a.body.contains(SCRIPT), "{path}: never as markup");
    }
    // In use: the refusal names the hostile level as text.
    let a = post(&ui, &cookie, &csrf, &format!("/ui/access/areas/{}/delete", enc(SCRIPT)), "").await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.body.contains("in_use") && !a.body.contains(SCRIPT), "{}", a.body);
}

#[tokio::test]
async fn a_directory_group_holds_a_level_from_the_levels_page_and_its_member_sees_it_as_text() {
    let ui = Ui::new();
    let (cookie, csrf) = ui.sign_in("adam").await;
    let entra = idms::store::Actor::directory("entra");
    let p = idms::store::directory::DirPerson {
        external_id: Some("entra-1".into()),
        given_name: "Ada".into(),
        family_name: "Byron".into(),
        active: true,
        ..Default::default()
    };
    let who = ui.store.scim_create_user(&entra, p).unwrap().id;
    let name = format!("{SCRIPT} crew");
    ui.store.scim_create_group(&entra, name.clone(), None, &[who]).unwrap();
    let e =
        |s: &str| s.replace('<', "%3C").replace('>', "%3E").replace('(', "%28").replace(')', "%29").replace(' ', "+");
    let level = "/ui/access/levels/All%20doors%2C%20always";
    let held = || ui.store.assignments_of_level("All doors, always").unwrap();

    // A directory group that does not exist: said at the form, nothing assigned.
    let a = post(&ui, &cookie, &csrf, &format!("{level}/assign"), "directory_group=Nobody").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    assert!(a.body.contains("not_found") && a.body.contains("directory group"), "{}", a.body);
    // A user ID and a directory group at once: refused naming the holder.
    let both = format!("user={who}&directory_group={}", e(&name));
    let a = post(&ui, &cookie, &csrf, &format!("{level}/assign"), &both).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("invalid_input") && a.body.contains("holder"), "{}", a.body);
    let before = held().len();

    let a = post(&ui, &cookie, &csrf, &format!("{level}/assign"), &format!("directory_group={}", e(&name))).await;
    let page = follow(&ui, &cookie, &a).await;
    assert!(page.body.contains("directory group &#60;script&#62;alert(1)&#60;/script&#62; crew"), "{}", page.body);
    assert!(!page.body.contains(SCRIPT), "never as markup");
    assert!(
        page.body.contains("name=\"directory_group\" value=\"&#60;script&#62;"),
        "its unassign form: {}",
        page.body
    );
    assert_eq!(held().len(), before + 1);
    let tab = ui.get(&format!("/ui/people/{who}?tab=access"), Some(&cookie), false).await;
    assert!(
        tab.body.contains("through directory group &#60;script&#62;alert(1)&#60;/script&#62; crew"),
        "{}",
        tab.body
    );
    assert!(!tab.body.contains(SCRIPT));
    let list = ui.get("/ui/access/levels", Some(&cookie), false).await;
    assert!(list.body.contains("<td>&#60;script&#62;alert(1)&#60;/script&#62; crew</td>"), "{}", list.body);

    let a = post(&ui, &cookie, &csrf, &format!("{level}/unassign"), &format!("directory_group={}", e(&name))).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(held().len(), before);
}

#[tokio::test]
async fn posts_need_the_csrf_token_and_a_role_that_edits_and_a_refused_one_changes_nothing() {
    let ui = Ui::new();
    let (admin, admin_csrf) = ui.sign_in("adam").await;
    let (viewer, viewer_csrf) = ui.sign_in("vera").await;
    let before = ui.store.doors().unwrap().len();
    // No token, a wrong token.
    for form in ["name=lab&site=Default".to_string(), format!("csrf={}&name=lab&site=Default", "0".repeat(64))] {
        let a = ui.post("/ui/access/doors", Some(&admin), Some(ORIGIN), &form).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    }
    // A viewer reads but may not add; the form is not offered.
    let a = post(&ui, &viewer, &viewer_csrf, "/ui/access/doors", "name=lab&site=Default").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(a.body.contains("forbidden"), "{}", a.body);
    let page = ui.get("/ui/access/doors", Some(&viewer), false).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Add door"), "{}", page.body);
    assert_eq!(ui.store.doors().unwrap().len(), before, "nothing was added");
    // The default level stays a default level.
    let a = post(&ui, &viewer, &viewer_csrf, "/ui/access/levels/All%20doors%2C%20always/default", "default=off").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(ui.store.levels().unwrap()[0].is_default);
    // The admin adds it.
    let a = post(&ui, &admin, &admin_csrf, "/ui/access/doors", "name=lab&site=Default").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(ui.store.doors().unwrap().len(), before + 1);
}

#[tokio::test]
async fn a_scoped_manager_assigns_only_their_units_levels_to_their_units_people() {
    let ui = Ui::new();
    ui.store.add_operator(&staff(), "nora", Role::Manager, Some("north"), Some(crate::ui_http::PW)).unwrap();
    ui.store.add_door(&staff(), "lab", None).unwrap();
    let grant = [(GrantTarget::Door("lab".into()), "Always".to_string())];
    ui.store.add_level(&staff(), "North lab", Some("north"), &grant).unwrap();
    ui.store.add_level(&staff(), "South lab", Some("south"), &grant).unwrap();
    let in_unit = |unit: &str| {
        let n = NewUser { org_unit: Some(unit.into()), ..new_user("Scoped", "Person") };
        ui.store.create_user(&staff(), n).unwrap().id
    };
    let (north, south) = (in_unit("north"), in_unit("south"));
    let (cookie, csrf) = ui.sign_in("nora").await;
    let held = |level: &str| ui.store.assignments_of_level(level).unwrap().len();

    // Another unit's level, to their own person: refused at the form, nothing assigned.
    let a = post(&ui, &cookie, &csrf, "/ui/access/levels/South%20lab/assign", &format!("user={north}")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    assert_eq!(held("South lab"), 0);
    let a = post(&ui, &cookie, &csrf, &format!("/ui/people/{north}/access"), "op=assign&level=South+lab").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    assert!(a.body.contains("role=\"alert\"") && a.body.contains("not_found"), "on the Access tab: {}", a.body);
    assert_eq!(held("South lab"), 0);
    // Their level, to another unit's person: that person is out of reach.
    let a = post(&ui, &cookie, &csrf, "/ui/access/levels/North%20lab/assign", &format!("user={south}")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    let a = post(&ui, &cookie, &csrf, &format!("/ui/people/{south}/access"), "op=assign&level=North+lab").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    assert!(!a.body.contains("Scoped"), "nothing of the person shows");
    // A group spans units: refused.
    let a = post(&ui, &cookie, &csrf, "/ui/access/levels/North%20lab/assign", "group=staff").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert_eq!(held("North lab"), 0);
    // Their level to their person, from the Access tab: assigned, shown with its window.
    let form = "op=assign&level=North+lab&from=2027-01-01&to=2027-02-01";
    let a = post(&ui, &cookie, &csrf, &format!("/ui/people/{north}/access"), form).await;
    let page = follow(&ui, &cookie, &a).await;
    assert!(page.body.contains("Access level North lab was assigned."), "{}", page.body);
    assert!(page.body.contains("datetime=\"2027-01-01T00:00:00Z\""), "{}", page.body);
    let got = ui.store.assignments_of_level("North lab").unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].holder.clone(), got[0].valid_to), (Holder::User(north), Some(Timestamp(1_801_440_000))));
    // And unassigned again.
    let a = post(&ui, &cookie, &csrf, &format!("/ui/people/{north}/access"), "op=unassign&level=North+lab").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(held("North lab"), 0);
}

#[tokio::test]
async fn explain_says_which_level_and_interval_granted_or_why_not_and_the_door_page_who_can() {
    let ui = Ui::new();
    ui.store.set_default_level(&staff(), "All doors, always", false).unwrap();
    ui.store.add_door(&staff(), "lab", None).unwrap();
    let input = idms::ops::levels::ScheduleInput {
        site: "Default".into(),
        intervals: vec![("mon-fri".into(), "08:00-18:00".into())],
        ..Default::default()
    };
    let day = input.schedule().unwrap();
    ui.store.put_schedule(&staff(), "Day", "Default", None, &day, false).unwrap();
    ui.store.add_level(&staff(), "Lab by day", None, &[(GrantTarget::Door("lab".into()), "Day".into())]).unwrap();
    let id = ui.store.create_user(&staff(), new_user("Ada", "Lovelace")).unwrap().id;
    let tech = idms::domain::Technology::Iso14443a;
    ui.store.enroll(&staff(), id, tech, &idms::domain::Uid::parse_for(tech, "04A1B2C3").unwrap()).unwrap();
    let (cookie, _) = ui.sign_in("vera").await;

    // No level yet: no_access_to_door, in words.
    let q = |at: &str| format!("/ui/explain?uid=04A1B2C3&technology=&door=lab&at={at}");
    let a = ui.get(&q(MONDAY_9), Some(&cookie), false).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Denied") && a.body.contains("access levels covers this door"), "{}", a.body);
    assert!(a.body.contains("no_access_to_door"), "{}", a.body);

    ui.store.assign_level(&staff(), "Lab by day", &Holder::User(id), ValidityWindow::default()).unwrap();
    let a = ui.get(&q(MONDAY_9), Some(&cookie), false).await;
    assert!(a.body.contains("Granted"), "{}", a.body);
    for shows in ["<dd>Lab by day</dd>", "<dd>Day</dd>", "08:00-18:00", &id.to_string()] {
        assert!(a.body.contains(shows), "{shows}: {}", a.body);
    }
    let a = ui.get(&q(MONDAY_20), Some(&cookie), false).await;
    assert!(a.body.contains("Denied") && a.body.contains("outside_schedule"), "{}", a.body);
    assert!(!a.body.contains("<dt>Level</dt>"), "{}", a.body);

    // A time that does not parse: the field is named.
    let a = ui.get(&q("soon"), Some(&cookie), false).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("at:"), "{}", a.body);

    // The door's page: who can open it then.
    let a = ui.get(&format!("/ui/access/doors/lab?at={MONDAY_9}"), Some(&cookie), false).await;
    assert!(a.body.contains(&format!(">{id}</a>")), "{}", a.body);
    let a = ui.get(&format!("/ui/access/doors/lab?at={MONDAY_20}"), Some(&cookie), false).await;
    assert!(a.body.contains("card opens this door at"), "{}", a.body);

    // The person's Access tab: the level, and the door it covers.
    let a = ui.get(&format!("/ui/people/{id}?tab=access"), Some(&cookie), false).await;
    assert!(a.body.contains("Lab by day") && a.body.contains("directly"), "{}", a.body);
    assert!(a.body.contains("Lab by day on Day"), "{}", a.body);
    assert!(!a.body.contains("Assign a level"), "a viewer is not offered assign: {}", a.body);
}

/// The audit entries of `action`, waited for briefly (refusals are written
/// by the batching auditor after the answer).
async fn audited(ui: &Ui, action: &str, at_least: usize) -> Vec<idms::store::AuditEntry> {
    let mut found = Vec::new();
    for _ in 0..200 {
        let all = ui.store.audit_entries(&idms::store::AuditQuery { limit: Some(1000), ..Default::default() }).unwrap();
        found = all.into_iter().filter(|e| e.action == action).collect();
        if found.len() >= at_least {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_post_is_audited_with_its_stable_code() {
    let ui = Ui::new();
    ui.store.add_operator(&staff(), "nora", Role::Manager, Some("north"), Some(crate::ui_http::PW)).unwrap();
    let (admin, admin_csrf) = ui.sign_in("adam").await;
    let (nora, nora_csrf) = ui.sign_in("nora").await;
    // A form that does not parse (refused before any operation): api.refused, invalid_input.
    let bad = "name=Day&site=Default&intervals=every+day&calendar=&holiday_rules=";
    let a = post(&ui, &admin, &admin_csrf, "/ui/access/schedules", bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    // A scoped manager adding a site-wide door: api.refused, forbidden.
    let a = post(&ui, &nora, &nora_csrf, "/ui/access/doors", "name=lab&site=Default").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    let refused = audited(&ui, "api.refused", 2).await;
    let line = |code: &str| refused.iter().find(|e| e.outcome == code).map(|e| e.detail.clone());
    assert_eq!(line("invalid_input").as_deref(), Some("POST /ui/access/{kind} count=1"), "{refused:?}");
    assert_eq!(line("forbidden").as_deref(), Some("POST /ui/access/{kind} count=1"), "{refused:?}");
    // A delete the store refuses is audited by the store, with in_use.
    let a = post(&ui, &admin, &admin_csrf, "/ui/access/schedules/Always/delete", "").await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    let deletes = audited(&ui, "schedule.delete", 1).await;
    assert_eq!(deletes.iter().map(|e| e.outcome.as_str()).collect::<Vec<_>>(), ["in_use"], "{deletes:?}");
    assert!(ui.store.verify_audit().unwrap().first_bad.is_none());
}
