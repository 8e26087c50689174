//! The LDAP import against a real slapd (issue 11/12): 300 people with the
//! server's size limit at 50, so paging is exercised. The first sync
//! creates them; a changed attribute updates the person; an entry removed
//! from the directory suspends the person; a person deleted in IDMS is not
//! created again; once expunged, the entry comes back as a new person; a
//! sync with no directory change changes no one and writes one audit
//! entry; Refresh Org Info pulls one person now; the bind password appears
//! in no log line, audit entry or error.

use std::collections::BTreeMap;

use idms::domain::{LifecycleAction, UserId, UserState};
use idms::ops::{self, Acting};
use idms::store::directory::RunReport;
use idms::store::{AuditQuery, Store, UserPatch};

use crate::common::{Fixture, staff};
use crate::slapd::{Person, Slapd};

fn sync(s: &Store, cfg: &idms::directory::LdapConfig) -> RunReport {
    ops::directory::sync(s, &Acting::Local(staff()), cfg, false, false, "cli").unwrap()
}

/// Everyone by employee number: (ID, state, revision).
fn by_employee_no(s: &Store) -> BTreeMap<String, (UserId, UserState, i64)> {
    let mut m = BTreeMap::new();
    for u in s.search_all_users("", 10_000).unwrap() {
        let r = s.get_user(u.id).unwrap();
        if let Some(no) = r.employee_no.clone() {
            assert!(m.insert(no, (r.id, r.state, r.revision)).is_none(), "one person per employee number");
        }
    }
    m
}

fn audit_len(s: &Store) -> usize {
    s.audit_entries(&AuditQuery { limit: Some(100_000), ..AuditQuery::default() }).unwrap().len()
}

#[test]
fn an_ldap_sync_follows_the_directory_through_the_lifecycle() {
    let ldap = Slapd::start(300);
    let cfg = ldap.config();
    let f = Fixture::new();
    let s = &f.store;

    // First sync: 300 people, over pages (the server cuts unpaged searches at 50).
    let r = sync(s, &cfg);
    assert_eq!((r.outcome.as_str(), r.counts.created, r.counts.refused), ("ok", 300, 0), "{:?}", r.counts);
    let people = by_employee_no(s);
    assert_eq!(people.len(), 300);
    let (id15, ..) = people["E000015"];
    let p = s.get_user(id15).unwrap();
    let want = Person::of(15);
    assert_eq!(
        (p.given_name.as_deref(), p.family_name.as_deref(), p.email.as_deref(), p.org_unit.as_deref()),
        (Some(want.given.as_str()), Some(want.family.as_str()), Some(want.mail.as_str()), Some("D5"))
    );
    assert_eq!(p.directory_groups, ["night shift", "staff"]);
    assert_eq!(p.directory.as_ref().unwrap().external_id, ldap.entry_uuid(15));
    assert!(p.directory_linked);

    // No change in the directory: no person changes, one audit entry, zero counts of change.
    let before = audit_len(s);
    let r = sync(s, &cfg);
    assert_eq!(r.counts.created + r.counts.updated + r.counts.suspended + r.counts.deleted + r.counts.resumed, 0);
    assert_eq!(audit_len(s), before + 1, "exactly one audit entry");
    assert_eq!(by_employee_no(s), people, "no person, state or row revision changed");

    // A changed attribute updates that person.
    ldap.modify(7, "mail", "seven@example.org");
    let r = sync(s, &cfg);
    assert_eq!(r.counts.updated, 1, "{:?}", r.items);
    let (id7, ..) = people["E000007"];
    assert_eq!(s.get_user(id7).unwrap().email.as_deref(), Some("seven@example.org"));

    // An entry removed from the directory suspends the person (the directory's hold).
    ldap.delete(8);
    let r = sync(s, &cfg);
    let (id8, ..) = people["E000008"];
    let gone = r.items.iter().find(|i| i.user == Some(id8)).expect("reported");
    assert_eq!((gone.action.as_str(), gone.code.as_deref()), ("suspended", Some("vanished")));
    let u8 = s.get_user(id8).unwrap();
    assert_eq!((u8.state, u8.holds.directory), (UserState::Suspended, true));

    // A person deleted in IDMS (an admin unlinked them, staff deleted them) is not created again.
    let (id9, ..) = people["E000009"];
    let me = Acting::Local(staff());
    ops::users::update(s, &me, id9, UserPatch { directory_id: Some(None), ..UserPatch::default() }).unwrap();
    s.delete(&staff(), id9).unwrap();
    ldap.modify(9, "mail", "nine@example.org");
    let r = sync(s, &cfg);
    let skipped = r.items.iter().find(|i| i.user == Some(id9)).expect("reported");
    assert_eq!((skipped.action.as_str(), skipped.code.as_deref()), ("skipped", Some("deleted_in_idms")));
    assert_eq!(by_employee_no(s).len(), 300);

    // Once expunged, the entry comes back as a new person with a new ID, though it did not change.
    s.expunge(&staff(), id9, &id9.to_string()).unwrap();
    let r = sync(s, &cfg);
    assert_eq!(r.counts.created, 1, "{:?}", r.items);
    let (new9, state, _) = by_employee_no(s)["E000009"];
    assert_ne!(new9, id9);
    assert_eq!(state, UserState::Active);
    assert_eq!(s.get_user(id9).unwrap().state, UserState::Expunged, "the tombstone stays");

    // Staff suspend person 10 (a lost badge); the directory resending them unchanged does not lift it.
    let (id10, ..) = people["E000010"];
    s.suspend(&staff(), id10).unwrap();
    ldap.modify(10, "telephoneNumber", "+41 44 000 00 10");
    sync(s, &cfg);
    assert_eq!(s.get_user(id10).unwrap().state, UserState::Suspended);

    // The runs are kept with their reports.
    let runs = s.directory_runs(100).unwrap();
    assert_eq!(runs.len(), 7);
    assert!(runs.iter().all(|r| r.source == "ldap" && r.outcome == "ok"));
}

#[test]
fn refresh_org_info_pulls_one_person_and_names_why_it_cannot() {
    let ldap = Slapd::start(20);
    let cfg = ldap.config();
    let f = Fixture::new();
    let s = &f.store;
    sync(s, &cfg);
    let people = by_employee_no(s);
    let (id3, ..) = people["E000003"];
    let me = Acting::Local(staff());
    let puller = ops::directory::LdapPuller(cfg.clone());
    ldap.modify(3, "sn", "Renamed");
    let (u, action) = ops::directory::refresh(s, &me, id3, Some(&puller)).unwrap();
    assert_eq!((u.family_name.as_deref(), action.as_str()), (Some("Renamed"), "updated"));
    // Its entry gone: suspended as a vanished entry is.
    ldap.delete(3);
    let (u, _) = ops::directory::refresh(s, &me, id3, Some(&puller)).unwrap();
    assert_eq!((u.state, u.holds.directory), (UserState::Suspended, true));
    // No link; linked through SCIM; no directory configured.
    let plain = f.person().id;
    let code = |r: Result<_, idms::ops::OpsError>| r.map(|_| ()).unwrap_err().code();
    assert_eq!(code(ops::directory::refresh(s, &me, plain, Some(&puller))), "not_directory_linked");
    let scim = s
        .scim_create_user(
            &idms::store::Actor::directory("operator:1"),
            idms::store::directory::DirPerson {
                external_id: Some("entra-1".into()),
                given_name: "S".into(),
                family_name: "Cim".into(),
                active: true,
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    assert_eq!(code(ops::directory::refresh(s, &me, scim, Some(&puller))), "directory_pull_unavailable");
    let (id4, ..) = people["E000004"];
    assert_eq!(code(ops::directory::refresh(s, &me, id4, None)), "directory_pull_unavailable");
    let _ = LifecycleAction::Resume;
}

#[test]
fn the_bind_password_appears_in_no_error_or_audit_entry() {
    let ldap = Slapd::start(5);
    let mut cfg = ldap.config();
    let secret = "hunter2-very-secret-pw";
    cfg.bind_password_file = ldap.password_file("wrong.pw", secret);
    let f = Fixture::new();
    let e = ops::directory::sync(&f.store, &Acting::Local(staff()), &cfg, false, false, "cli").unwrap_err();
    assert_eq!(e.code(), "directory_bind_failed");
    assert!(!format!("{e} {e:?}").contains(secret));
    let trail = f.store.audit_entries(&AuditQuery { limit: Some(1000), ..AuditQuery::default() }).unwrap();
    let last = trail.last().unwrap();
    assert_eq!((last.action.as_str(), last.outcome.as_str()), ("directory.sync", "directory_bind_failed"));
    assert!(trail.iter().all(|a| !format!("{a:?}").contains(secret)));
    let raw = std::fs::read(f.db_path()).unwrap();
    assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()), "nor in the database file");
}

#[test]
fn a_sync_that_would_suspend_most_people_at_once_is_refused_unless_allowed() {
    let ldap = Slapd::start(30);
    let mut cfg = ldap.config();
    let f = Fixture::new();
    let s = &f.store;
    sync(s, &cfg);
    // A careless filter edit: the directory now seems to hold one person.
    cfg.filter = Some("(uid=p000001)".into());
    let me = Acting::Local(staff());
    let e = ops::directory::sync(s, &me, &cfg, false, false, "cli").unwrap_err();
    assert_eq!(e.code(), "mass_vanish");
    assert!(by_employee_no(s).values().all(|(_, st, _)| *st == UserState::Active), "no one was suspended");
    let r = ops::directory::sync(s, &me, &cfg, false, true, "cli").unwrap();
    assert_eq!(r.counts.suspended, 29);
}
