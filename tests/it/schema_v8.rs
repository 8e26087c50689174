//! Schema version 8 (issue 10/12): access levels. A version-7 database
//! with real people, cards, controllers and their doors opens with the new
//! code: every cardholder not expunged holds the default level "All doors,
//! always", every door a controller named is a door record of the default
//! site, and every door still opens for them — nothing stops opening on
//! upgrade day. People added after the upgrade get the default levels too.

use std::sync::Arc;

use idms::clock::ManualClock;
use idms::domain::{Decision, DenyReason, Technology, UserId};
use idms::store::schema::{MIGRATIONS, latest};
use idms::store::{DB_FILE, Store};
use rusqlite::{Connection, params};

use crate::common::{T0, iso, new_user, staff};

const ACTIVE: i64 = 0x0012_3456_789A_BCDE;
const SUSPENDED: i64 = 0x0012_3456_789A_BCDF;
const DELETED: i64 = 0x0012_3456_789A_BCE0;
const EXPUNGED: i64 = 0x0012_3456_789A_BCE1;

fn version_7(path: &std::path::Path) {
    let mut c = Connection::open(path).unwrap();
    c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;").unwrap();
    let tx = c.transaction().unwrap();
    for sql in &MIGRATIONS[..7] {
        tx.execute_batch(sql).unwrap();
    }
    tx.execute_batch("PRAGMA user_version = 7").unwrap();
    for (id, state, group) in
        [(ACTIVE, "active", Some("night")), (SUSPENDED, "suspended", None), (DELETED, "deleted", Some("day"))]
    {
        tx.execute(
            "INSERT INTO users (id, state, given_name, family_name, family_fold, created_at, updated_at, user_group,
                state_before_delete, deleted_at)
             VALUES (?1, ?2, 'Ottilie', 'Quast', 'quast', ?3, ?3, ?4, CASE WHEN ?2 = 'deleted' THEN 'active' END,
                CASE WHEN ?2 = 'deleted' THEN ?3 END)",
            params![id, state, T0.0, group],
        )
        .unwrap();
    }
    tx.execute(
        "INSERT INTO users (id, state, created_at, updated_at, expunged_at, expunged_by) VALUES (?1, 'expunged', ?2, ?2, ?2, 'cli')",
        params![EXPUNGED, T0.0],
    )
    .unwrap();
    for (cred, uid, user) in [(1, "04A1B2C3", ACTIVE), (2, "04A1B2C4", SUSPENDED), (3, "04A1B2C5", DELETED)] {
        tx.execute(
            "INSERT INTO credentials (id, technology, uid, state, created_at, updated_at)
             VALUES (?1, 'iso14443a', ?2, 'issued', ?3, ?3)",
            params![cred, hex::decode(uid).unwrap(), T0.0],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO bindings (credential_id, user_id, opened_at, opened_by) VALUES (?1, ?2, ?3, 'cli:old')",
            params![cred, user, T0.0],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO change_log (at, kind, user_id, technology, uid, credential_state)
             VALUES (?1, 'credential', ?2, 'iso14443a', ?3, 'issued')",
            params![T0.0, user, hex::decode(uid).unwrap()],
        )
        .unwrap();
    }
    tx.execute_batch(
        "INSERT INTO controllers (id, name, created_at) VALUES (1, 'gate-ctl', 0), (2, 'lab-ctl', 0);
         INSERT INTO controller_doors (controller_id, door) VALUES (1, 'front'), (1, 'back'), (2, 'lab'), (2, 'front');",
    )
    .unwrap();
    tx.commit().unwrap();
}

#[test]
fn a_version_7_database_opens_with_every_cardholder_on_the_default_level_and_every_door_still_opening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    version_7(&path);
    let s = Store::open(&path, Arc::new(ManualClock::new(T0))).unwrap();
    let v: i64 = Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, latest());
    assert!(latest() >= 8);

    // The doors controllers named are door records of the default site.
    let doors: Vec<(String, String)> = s.doors().unwrap().into_iter().map(|d| (d.name, d.site)).collect();
    assert_eq!(
        doors,
        [("back".into(), "Default".into()), ("front".into(), "Default".into()), ("lab".into(), "Default".into())]
    );
    let sites = s.sites().unwrap();
    assert_eq!((sites.len(), sites[0].tz.as_str(), sites[0].is_default), (1, "UTC", true));

    // One default level, held by every person not expunged, and only them.
    let levels = s.levels().unwrap();
    assert_eq!(levels.len(), 1);
    assert_eq!((levels[0].name.as_str(), levels[0].is_default, levels[0].people), ("All doors, always", true, 3));
    for id in [ACTIVE, SUSPENDED, DELETED] {
        let held = s.assignments_of(UserId::from_i64(id)).unwrap();
        assert_eq!(held.iter().map(|a| a.level.as_str()).collect::<Vec<_>>(), ["All doors, always"], "{id:x}");
    }
    assert!(s.assignments_of(UserId::from_i64(EXPUNGED)).unwrap().is_empty());

    // Every door opens for the active cardholder, at any hour; the others
    // are denied for the reasons they were before.
    let idx = s.index();
    for door in ["front", "back", "lab"] {
        for hour in [0, 3, 12, 23] {
            let at = idms::domain::Timestamp(T0.0 + hour * 3600);
            let d = idx.decide_at_door(Some(Technology::Iso14443a), &iso("04A1B2C3"), door, at);
            assert_eq!((d.decision, d.holder), (Decision::Grant, Some(UserId::from_i64(ACTIVE))), "{door} {hour}");
        }
        let d = idx.decide_at_door(None, &iso("04A1B2C4"), door, T0);
        assert_eq!(d.decision, Decision::Deny(DenyReason::HolderSuspended));
        let d = idx.decide_at_door(None, &iso("04A1B2C5"), door, T0);
        assert_eq!(d.decision, Decision::Deny(DenyReason::HolderDeleted));
    }
    // A door no controller named is not a door: no level covers it.
    let d = idx.decide_at_door(None, &iso("04A1B2C3"), "cellar", T0);
    assert_eq!(d.decision, Decision::Deny(DenyReason::NoAccessToDoor));

    // The old log entries are still read, the groups were interned, and a
    // reopened store decides the same (the index built from the tables).
    drop(s);
    let s = Store::open(&path, Arc::new(ManualClock::new(T0))).unwrap();
    let d = s.index().decide_at_door(None, &iso("04A1B2C3"), "lab", T0);
    assert_eq!(d.decision, Decision::Grant);
    let groups: i64 =
        Connection::open(&path).unwrap().query_row("SELECT COUNT(*) FROM user_groups", [], |r| r.get(0)).unwrap();
    assert_eq!(groups, 2);

    // A person added after the upgrade gets the default level; a restored
    // person still holds theirs.
    let new = s.create_user(&staff(), new_user("Neu", "Person")).unwrap();
    assert_eq!(s.assignments_of(new.id).unwrap().len(), 1);
    s.enroll(&staff(), new.id, Technology::Iso14443a, &iso("04A1B2C6")).unwrap();
    assert_eq!(s.index().decide_at_door(None, &iso("04A1B2C6"), "back", T0).decision, Decision::Grant);
    assert!(s.verify_audit().unwrap().first_bad.is_none());
}
