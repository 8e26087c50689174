//! Issue 10/12: access levels through the store, the rule layer and a
//! running service.
//! - Must-be-true 4: a schedule edited with the CLI while `idms serve`
//!   runs is in force at the door once the service has applied the write's
//!   change-log position (read from `/metrics`; the test waits on that
//!   position, never on a clock), and the controller's next feed answer is
//!   a delta carrying it.
//! - Must-be-true 5: deleting a door, area, schedule, calendar, site or
//!   level that something still uses is refused `in_use`, naming what uses
//!   it; nothing is lost; every change — refused or not — is audited.
//! - Scope: a manager held to an org unit assigns only their unit's levels
//!   to their unit's people, and edits nothing site-wide.

use std::time::{Duration, Instant};

use idms::domain::access::{Holiday, Schedule};
use idms::domain::{Decision, DenyReason, Technology, UserId, ValidityWindow};
use idms::ops::Acting;
use idms::ops::levels as ops;
use idms::store::levels::{GrantTarget, Holder};
use idms::store::{AuditQuery, Role};

use crate::common::{Fixture, T0, iso, new_user, staff};
use crate::server::{Server, agent, cli, decide};

fn outcome_of(f: &Fixture, action: &str) -> Vec<String> {
    f.store
        .audit_entries(&AuditQuery { limit: Some(10_000), ..Default::default() })
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| e.outcome)
        .collect()
}

fn in_use(e: idms::store::StoreError) -> String {
    assert_eq!(e.code(), "in_use", "{e}");
    e.to_string()
}

#[test]
fn deleting_what_is_still_used_is_refused_naming_the_user_and_every_change_is_audited() {
    let f = Fixture::new();
    let s = &f.store;
    let a = staff();
    let p = s.create_user(&a, new_user("Ada", "Lovelace")).unwrap();
    s.enroll(&a, p.id, Technology::Iso14443a, &iso("04A1B2C3")).unwrap();
    s.add_site(&a, "Berlin", "Europe/Berlin").unwrap();
    s.add_door(&a, "lab", Some("Berlin")).unwrap();
    s.add_area(&a, "Labs", &["lab".to_string()]).unwrap();
    s.add_holiday(&a, "DE", &Holiday::parse("2026-12-25", "public", true).unwrap()).unwrap();
    let night = Schedule::from_text("mon-fri 22:00-06:00", "public closed").unwrap();
    s.put_schedule(&a, "Night", "Berlin", Some("DE"), &night, false).unwrap();
    s.add_level(&a, "Night lab", None, &[(GrantTarget::Area("Labs".into()), "Night".into())]).unwrap();
    s.assign_level(&a, "Night lab", &Holder::User(p.id), ValidityWindow::default()).unwrap();

    let e = in_use(s.delete_door(&a, "lab").unwrap_err());
    assert!(e.contains("door lab") && e.contains("area Labs"), "{e}");
    let e = in_use(s.delete_area(&a, "Labs").unwrap_err());
    assert!(e.contains("access level Night lab"), "{e}");
    let e = in_use(s.delete_schedule(&a, "Night").unwrap_err());
    assert!(e.contains("access level Night lab"), "{e}");
    let e = in_use(s.delete_calendar(&a, "DE").unwrap_err());
    assert!(e.contains("schedule Night"), "{e}");
    let e = in_use(s.delete_site(&a, "Berlin").unwrap_err());
    assert!(e.contains("door lab"), "{e}");
    let e = in_use(s.delete_site(&a, "Default").unwrap_err());
    assert!(e.contains("schedule Always"), "{e}");
    let e = in_use(s.delete_level(&a, "Night lab").unwrap_err());
    assert!(e.contains(&format!("person {}", p.id)), "{e}");
    let e = in_use(s.delete_level(&a, "All doors, always").unwrap_err());
    assert!(e.contains("default levels"), "{e}");
    // A level held through a group is used too.
    s.unassign_level(&a, "Night lab", &Holder::User(p.id)).unwrap();
    s.assign_level(&a, "Night lab", &Holder::Group("nights".into()), ValidityWindow::default()).unwrap();
    let e = in_use(s.delete_level(&a, "Night lab").unwrap_err());
    assert!(e.contains("group nights"), "{e}");

    // Nothing was lost: every refusal left the rules as they were.
    assert_eq!(s.doors().unwrap().iter().filter(|d| d.name == "lab").count(), 1);
    assert_eq!(s.levels().unwrap().len(), 2);
    let lab_areas: Vec<String> = s.doors().unwrap().into_iter().find(|d| d.name == "lab").unwrap().areas;
    assert_eq!(lab_areas, ["Labs"]);

    // Taken apart in order, each delete goes through.
    s.unassign_level(&a, "Night lab", &Holder::Group("nights".into())).unwrap();
    s.delete_level(&a, "Night lab").unwrap();
    s.delete_schedule(&a, "Night").unwrap();
    s.delete_calendar(&a, "DE").unwrap();
    s.delete_area(&a, "Labs").unwrap();
    s.delete_door(&a, "lab").unwrap();
    s.delete_site(&a, "Berlin").unwrap();
    assert!(s.doors().unwrap().is_empty() && s.areas().unwrap().is_empty() && s.calendars().unwrap().is_empty());

    // Every change is on the trail, refused ones with their code.
    assert_eq!(outcome_of(&f, "door.delete"), ["in_use", "ok"]);
    assert_eq!(outcome_of(&f, "area.delete"), ["in_use", "ok"]);
    assert_eq!(outcome_of(&f, "schedule.delete"), ["in_use", "ok"]);
    assert_eq!(outcome_of(&f, "calendar.delete"), ["in_use", "ok"]);
    assert_eq!(outcome_of(&f, "site.delete"), ["in_use", "in_use", "ok"]);
    assert_eq!(outcome_of(&f, "level.delete"), ["in_use", "in_use", "in_use", "ok"]);
    for action in ["site.add", "door.add", "area.add", "holiday.add", "schedule.add", "level.add"] {
        assert_eq!(outcome_of(&f, action), ["ok"], "{action}");
    }
    assert_eq!(outcome_of(&f, "level.assign"), ["ok", "ok"]);
    assert_eq!(outcome_of(&f, "level.unassign"), ["ok", "ok"]);
    // The audit details hold IDs and counts, never the names staff typed.
    let trail = s.audit_entries(&AuditQuery { limit: Some(10_000), ..Default::default() }).unwrap();
    assert!(trail.iter().all(|e| !e.detail.contains("Lovelace") && !e.detail.contains("Ada")));
    assert!(s.verify_audit().unwrap().first_bad.is_none());
}

#[test]
fn names_are_unique_and_bad_input_names_its_field() {
    let f = Fixture::new();
    let (s, a) = (&f.store, staff());
    s.add_door(&a, "lab", None).unwrap();
    assert_eq!(s.add_door(&a, "lab", None).unwrap_err().code(), "name_taken");
    assert_eq!(s.add_door(&a, "bad door", None).unwrap_err().code(), "invalid_input");
    assert_eq!(s.add_site(&a, "Mars", "Mars/Olympus").unwrap_err().code(), "invalid_input");
    // Invisible formatting characters would make two names look alike.
    for sneaky in ["Lobby\u{200B}", "Night\u{202E}live", "A\tB"] {
        assert_eq!(s.add_area(&a, sneaky, &["lab".to_string()]).unwrap_err().code(), "invalid_input", "{sneaky:?}");
    }
    assert_eq!(s.add_area(&a, "Empty", &[]).unwrap_err().code(), "invalid_input");
    assert_eq!(s.add_area(&a, "Ghost", &["nowhere".to_string()]).unwrap_err().code(), "not_found");
    // A failed write leaves nothing behind: the area was not half made.
    assert!(s.areas().unwrap().is_empty());
    let acting = Acting::Local(a.clone());
    let bad = ops::ScheduleInput {
        site: "Default".into(),
        intervals: vec![("mon-fri".into(), "25:00-06:00".into())],
        ..Default::default()
    };
    let e = ops::put_schedule(s, &acting, "Broken", &bad, false).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert!(e.to_string().starts_with("interval"), "{e}");
    let on_without_calendar = ops::ScheduleInput {
        site: "Default".into(),
        intervals: vec![("mon".into(), "08:00-09:00".into())],
        on: vec![("public".into(), "closed".into())],
        ..Default::default()
    };
    assert!(
        ops::put_schedule(s, &acting, "X", &on_without_calendar, false).unwrap_err().to_string().contains("calendar")
    );
    assert!(s.schedules().unwrap().iter().all(|x| x.name == "Always"));
    // Two holidays on one date are refused; the calendar keeps the first.
    s.add_holiday(&a, "DE", &Holiday::parse("2026-12-25", "public", false).unwrap()).unwrap();
    let e = s.add_holiday(&a, "DE", &Holiday::parse("2026-12-25", "other", false).unwrap()).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert_eq!(s.calendars().unwrap()[0].holidays.len(), 1);
    // An assignment's window must not be empty; an expunged person gets none.
    let p = s.create_user(&a, new_user("Bo", "Expunged")).unwrap();
    assert!(ValidityWindow::new(Some(T0), Some(T0)).is_err());
    s.lifecycle(&a, p.id, idms::domain::LifecycleAction::Delete).unwrap();
    s.expunge(&a, p.id, &p.id.to_string()).unwrap();
    let e = s.assign_level(&a, "All doors, always", &Holder::User(p.id), ValidityWindow::default()).unwrap_err();
    assert_eq!(e.code(), "already_expunged");
    // The expunge took their levels with it: a level only a tombstone held can be deleted.
    assert!(s.assignments_of(p.id).unwrap().is_empty());
    s.add_level(&a, "Once", None, &[(GrantTarget::Door("x".into()), "Always".into())]).unwrap_err();
    let q = s.create_user(&a, new_user("Quinn", "Gone")).unwrap();
    s.add_door(&a, "x", None).unwrap();
    s.add_level(&a, "Once", None, &[(GrantTarget::Door("x".into()), "Always".into())]).unwrap();
    s.assign_level(&a, "Once", &Holder::User(q.id), ValidityWindow::default()).unwrap();
    assert_eq!(s.delete_level(&a, "Once").unwrap_err().code(), "in_use");
    s.lifecycle(&a, q.id, idms::domain::LifecycleAction::Delete).unwrap();
    s.expunge(&a, q.id, &q.id.to_string()).unwrap();
    s.delete_level(&a, "Once").unwrap();
}

#[test]
fn a_scoped_manager_assigns_only_their_units_levels_to_their_units_people() {
    let f = Fixture::new();
    let (s, a) = (&f.store, staff());
    let north = Acting::Operator(s.add_operator(&a, "north-mgr", Role::Manager, Some("north"), None).unwrap());
    let viewer = Acting::Operator(s.add_operator(&a, "viewer", Role::Viewer, None, None).unwrap());
    let mut np = new_user("Nora", "North");
    np.org_unit = Some("north".into());
    let n = s.create_user(&a, np).unwrap();
    let mut sp = new_user("Sam", "South");
    sp.org_unit = Some("south".into());
    let south_person = s.create_user(&a, sp).unwrap();
    s.add_door(&a, "lab", None).unwrap();
    s.add_level(&a, "South lab", Some("south"), &[(GrantTarget::Door("lab".into()), "Always".into())]).unwrap();

    // Their own level, to their own person: fine.
    let own =
        ops::add_level(s, &north, "North lab", None, &[(GrantTarget::Door("lab".into()), "Always".into())]).unwrap();
    assert_eq!(own.org_unit.as_deref(), Some("north"));
    ops::assign(s, &north, "North lab", &Holder::User(n.id), ValidityWindow::default()).unwrap();
    // Another unit's person, another unit's level, a group, all doors, site-wide edits: refused.
    let refused = |r: Result<(), idms::ops::OpsError>| r.unwrap_err().code();
    let w = ValidityWindow::default();
    assert_eq!(refused(ops::assign(s, &north, "North lab", &Holder::User(south_person.id), w).map(drop)), "not_found");
    assert_eq!(refused(ops::assign(s, &north, "South lab", &Holder::User(n.id), w).map(drop)), "not_found");
    assert_eq!(refused(ops::assign(s, &north, "North lab", &Holder::Group("x".into()), w).map(drop)), "forbidden");
    let directory_group = Holder::DirectoryGroup("Night shift".into());
    assert_eq!(refused(ops::assign(s, &north, "North lab", &directory_group, w).map(drop)), "forbidden");
    assert_eq!(refused(ops::unassign(s, &north, "North lab", &directory_group)), "forbidden");
    assert_eq!(
        refused(ops::add_level(s, &north, "All of it", None, &[(GrantTarget::AllDoors, "Always".into())]).map(drop)),
        "forbidden"
    );
    assert_eq!(
        refused(
            ops::add_level(
                s,
                &north,
                "Theirs",
                Some("south".into()),
                &[(GrantTarget::Door("lab".into()), "Always".into())]
            )
            .map(drop)
        ),
        "forbidden"
    );
    assert_eq!(refused(ops::add_door(s, &north, "cellar", None).map(drop)), "forbidden");
    assert_eq!(refused(ops::delete_level(s, &north, "South lab")), "forbidden");
    assert_eq!(refused(ops::set_default_level(s, &north, "North lab", true).map(drop)), "forbidden");
    // A viewer reads and asks, never edits.
    assert_eq!(ops::levels(s, &viewer).unwrap().len(), 3);
    assert_eq!(refused(ops::add_site(s, &viewer, "X", "UTC").map(drop)), "forbidden");
    // Who holds South lab, as the north manager sees it: nobody of theirs.
    s.assign_level(&a, "South lab", &Holder::User(south_person.id), w).unwrap();
    assert!(ops::assignments_of_level(s, &north, "South lab").unwrap().is_empty());
    assert_eq!(ops::assignments_of_level(s, &viewer, "South lab").unwrap().len(), 1);
    // who-can is held to the caller's unit too.
    let at = T0;
    let (all, more) = ops::who_can(s, &viewer, "lab", at).unwrap();
    assert!(!more);
    assert!(all.contains(&n.id) && all.contains(&south_person.id));
    assert_eq!(ops::who_can(s, &north, "lab", at).unwrap(), (vec![n.id], false));
    assert_eq!(ops::access_of(s, &north, south_person.id, at).unwrap_err().code(), "not_found");
    // Explaining another unit's card reveals nothing of its holder.
    s.enroll(&a, south_person.id, Technology::Iso14443a, &iso("04D0D0D0")).unwrap();
    let e = ops::explain(s, &north, None, &iso("04D0D0D0"), "lab", at).unwrap_err();
    assert_eq!(e.code(), "not_found");
    assert!(ops::explain(s, &viewer, None, &iso("04D0D0D0"), "lab", at).unwrap().decision.holder.is_some());
    // A scoped manager is not told who holds a level they cannot delete.
    s.assign_level(&a, "North lab", &Holder::User(south_person.id), w).unwrap();
    let e = ops::delete_level(s, &north, "North lab").unwrap_err();
    assert_eq!(e.code(), "in_use");
    assert!(!e.to_string().contains(&south_person.id.to_string()), "{e}");
}

#[test]
fn a_person_with_no_level_is_denied_everywhere_and_levels_held_through_the_group_count() {
    let f = Fixture::new();
    let (s, a) = (&f.store, staff());
    s.add_door(&a, "lab", None).unwrap();
    s.set_default_level(&a, "All doors, always", false).unwrap();
    let mut new = new_user("Gus", "Group");
    new.group = Some("night".into());
    let p = s.create_user(&a, new).unwrap();
    assert!(s.assignments_of(p.id).unwrap().is_empty(), "not a default level any more");
    s.enroll(&a, p.id, Technology::Iso14443a, &iso("04A1B2C3")).unwrap();
    let d = |door: &str| s.index().decide_at_door(None, &iso("04A1B2C3"), door, T0).decision;
    assert_eq!(d("lab"), Decision::Deny(DenyReason::NoAccessToDoor));
    s.assign_level(&a, "All doors, always", &Holder::Group("night".into()), ValidityWindow::default()).unwrap();
    assert_eq!(d("lab"), Decision::Grant);
    // Leaving the group takes the group's levels away at once.
    s.update_user(&a, p.id, idms::store::UserPatch { group: Some(Some("day".into())), ..Default::default() }).unwrap();
    assert_eq!(d("lab"), Decision::Deny(DenyReason::NoAccessToDoor));
    s.update_user(&a, p.id, idms::store::UserPatch { group: Some(Some("night".into())), ..Default::default() })
        .unwrap();
    assert_eq!(d("lab"), Decision::Grant);
    // A window on the group's assignment: from tomorrow.
    let tomorrow = idms::domain::Timestamp(T0.0 + 86_400);
    s.assign_level(
        &a,
        "All doors, always",
        &Holder::Group("night".into()),
        ValidityWindow::new(Some(tomorrow), None).unwrap(),
    )
    .unwrap();
    assert_eq!(d("lab"), Decision::Deny(DenyReason::NoAccessToDoor));
    assert_eq!(s.index().decide_at_door(None, &iso("04A1B2C3"), "lab", tomorrow).decision, Decision::Grant);
    // The index a reopened store builds from the tables agrees.
    let path = f.db_path();
    let again = idms::store::Store::open(&path, f.clock.clone()).unwrap();
    assert_eq!(again.index().decide_at_door(None, &iso("04A1B2C3"), "lab", T0).decision, d("lab"));
    assert_eq!(again.index().decide_at_door(None, &iso("04A1B2C3"), "lab", tomorrow).decision, Decision::Grant);
    let _ = UserId::from_i64(0);
}

/// The change-log position the running service's door decisions reflect.
fn applied(agent: &ureq::Agent, base: &str) -> i64 {
    let text = agent.get(&format!("{base}/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
    text.lines().find_map(|l| l.strip_prefix("idms_index_applied_seq ")).unwrap().trim().parse().unwrap()
}

fn head(dir: &std::path::Path) -> i64 {
    rusqlite::Connection::open(dir.join(idms::store::DB_FILE))
        .unwrap()
        .query_row("SELECT MAX(seq) FROM change_log", [], |r| r.get(0))
        .unwrap()
}

/// Waits until the service has applied the change log up to the database's
/// head (the position, not a clock, is what is waited on).
fn wait_applied(agent: &ureq::Agent, base: &str, dir: &std::path::Path) {
    let want = head(dir);
    let since = Instant::now();
    while applied(agent, base) < want {
        assert!(since.elapsed() < Duration::from_secs(30), "the service never applied position {want}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_schedule_edited_with_the_cli_is_in_force_once_the_service_applied_its_position() {
    let (_d, dir, user, token) = crate::server::setup();
    cli(&dir, &["schedule", "add", "Shift", "--site", "Default", "--interval", "mon-sun", "00:00-24:00"]);
    cli(&dir, &["level", "add", "Main shift", "--door", "main", "--schedule", "Shift"]);
    cli(&dir, &["level", "assign", "Main shift", "--user", &user]);
    cli(&dir, &["level", "unassign", "All doors, always", "--user", &user]);
    let server = Server::start(&dir);
    let agent = agent();
    wait_applied(&agent, &server.base, &dir);
    assert_eq!(decide(&agent, &server.base, &token, "04A1B2C3").unwrap().1["decision"], "grant");

    // The controller's list and rules as of now: its cursor.
    let feed = |since: Option<&str>| -> serde_json::Value {
        let url = match since {
            Some(c) => format!("{}/api/v1/controllers/me/credentials?since={c}", server.base),
            None => format!("{}/api/v1/controllers/me/credentials", server.base),
        };
        let mut r = agent.get(&url).header("Authorization", &format!("Bearer {token}")).call().unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.body_mut().read_json().unwrap()
    };
    let mut page = feed(None);
    while page["more"] == true {
        page = feed(page["cursor"].as_str());
    }
    let cursor = page["cursor"].as_str().unwrap().to_string();

    // Now: the shift moves to an hour that is not now (UTC, the default site's zone).
    let hour = idms::clock::Clock::now(&idms::clock::SystemClock).0.div_euclid(3600).rem_euclid(24);
    let later = format!("{:02}:00-{:02}:00", (hour + 2) % 24, (hour + 3) % 24);
    cli(&dir, &["schedule", "edit", "Shift", "--site", "Default", "--interval", "mon-sun", &later]);
    wait_applied(&agent, &server.base, &dir);
    let (_, v) = decide(&agent, &server.base, &token, "04A1B2C3").unwrap();
    assert_eq!((v["decision"].as_str(), v["reason"].as_str()), (Some("deny"), Some("outside_schedule")), "{v}");
    // The next feed answer is a delta carrying the edited schedule in its rules.
    let delta = feed(Some(&cursor));
    assert_eq!(delta["kind"], "delta", "{delta}");
    let schedules = delta["rules"]["schedules"].as_array().unwrap_or_else(|| panic!("no rules in {delta}"));
    assert!(
        schedules.iter().any(|x| x["intervals"] == serde_json::json!([format!("mon-sun {later}")])),
        "{schedules:?}"
    );

    // And back.
    cli(&dir, &["schedule", "edit", "Shift", "--site", "Default", "--interval", "mon-sun", "00:00-24:00"]);
    wait_applied(&agent, &server.base, &dir);
    assert_eq!(decide(&agent, &server.base, &token, "04A1B2C3").unwrap().1["decision"], "grant");

    // Unassigning the level with the CLI: no level covers the door.
    cli(&dir, &["level", "unassign", "Main shift", "--user", &user]);
    wait_applied(&agent, &server.base, &dir);
    let (_, v) = decide(&agent, &server.base, &token, "04A1B2C3").unwrap();
    assert_eq!(v["reason"], "no_access_to_door", "{v}");
    server.stop();
}

#[test]
fn the_configuration_sets_the_default_sites_zone_and_osdp_doors_become_door_records_once() {
    let f = Fixture::new();
    let (s, a) = (&f.store, staff());
    s.reconcile_config(&a, Some("Europe/Berlin"), &["reader-door".to_string()]).unwrap();
    let site = s.sites().unwrap().into_iter().find(|x| x.is_default).unwrap();
    assert_eq!(site.tz, "Europe/Berlin");
    assert_eq!(
        s.doors().unwrap().iter().map(|d| (d.name.as_str(), d.site.as_str())).collect::<Vec<_>>(),
        [("reader-door", "Default")]
    );
    // Again: nothing to change, nothing written.
    let before = s.audit_entries(&AuditQuery { limit: Some(10_000), ..Default::default() }).unwrap().len();
    s.reconcile_config(&a, Some("europe/berlin"), &["reader-door".to_string()]).unwrap();
    assert_eq!(s.audit_entries(&AuditQuery { limit: Some(10_000), ..Default::default() }).unwrap().len(), before);
    // The OSDP door's decisions follow the default level like any other door.
    let p = s.create_user(&a, new_user("Olga", "Osdp")).unwrap();
    s.enroll(&a, p.id, Technology::Iso14443a, &iso("04A1B2C9")).unwrap();
    assert_eq!(s.index().decide_at_door(None, &iso("04A1B2C9"), "reader-door", T0).decision, Decision::Grant);

    // `idms serve` does it at start from IDMS_DEFAULT_TZ.
    let d = tempfile::tempdir().unwrap();
    let server = Server::start_with(d.path(), &[("IDMS_PCSC", "false"), ("IDMS_DEFAULT_TZ", "America/New_York")]);
    let sites = cli(d.path(), &["site", "list"]);
    assert_eq!(sites[0]["tz"], "America/New_York", "{sites}");
    server.stop();
}
