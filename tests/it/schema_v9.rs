//! Schema version 9 (issue 11/12): people from the directory. A version-8
//! database with real people — active, suspended, deleted from a suspension,
//! expunged, one linked by staff — and operators with tokens opens with the
//! new code: every suspension is staff's (so a directory's `active: true`
//! never lifts one), the staff-typed link stays a link (source `staff`),
//! the tombstone stays one, operators keep their roles and tokens, a
//! `provisioner` can be added afterwards (the widened role check), a
//! group's level stays and a level can be held through a directory group
//! (the widened holder and change-log checks).

use std::sync::Arc;

use idms::clock::ManualClock;
use idms::domain::ValidityWindow;
use idms::domain::{Holds, LifecycleAction, UserId, UserState};
use idms::store::directory::DirPerson;
use idms::store::levels::Holder;
use idms::store::records::DirectorySource;
use idms::store::schema::{MIGRATIONS, latest};
use idms::store::{Actor, DB_FILE, Role, Store};
use rusqlite::{Connection, params};

use crate::common::{T0, staff};

const ACTIVE: i64 = 0x0012_3456_789A_BCDE;
const SUSPENDED: i64 = 0x0012_3456_789A_BCDF;
const DELETED_SUSPENDED: i64 = 0x0012_3456_789A_BCE0;
const EXPUNGED: i64 = 0x0012_3456_789A_BCE1;
const LINKED: i64 = 0x0012_3456_789A_BCE2;

fn version_8(path: &std::path::Path) {
    let mut c = Connection::open(path).unwrap();
    c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;").unwrap();
    let tx = c.transaction().unwrap();
    for sql in &MIGRATIONS[..8] {
        tx.execute_batch(sql).unwrap();
    }
    tx.execute_batch("PRAGMA user_version = 8").unwrap();
    for (id, state, before, link) in [
        (ACTIVE, "active", None, None),
        (SUSPENDED, "suspended", None, None),
        (DELETED_SUSPENDED, "deleted", Some("suspended"), None),
        (LINKED, "active", None, Some("entra-42")),
    ] {
        tx.execute(
            "INSERT INTO users (id, state, given_name, family_name, family_fold, employee_no, created_at, updated_at,
                state_before_delete, deleted_at, directory_id)
             VALUES (?1, ?2, 'Ottilie', 'Quast', 'quast', 'E-' || ?1, ?3, ?3, ?4, CASE WHEN ?2 = 'deleted' THEN ?3 END, ?5)",
            params![id, state, T0.0, before, link],
        )
        .unwrap();
    }
    tx.execute(
        "INSERT INTO users (id, state, created_at, updated_at, expunged_at, expunged_by) VALUES (?1, 'expunged', ?2, ?2, ?2, 'cli')",
        params![EXPUNGED, T0.0],
    )
    .unwrap();
    tx.execute_batch(
        "INSERT INTO operators (id, name, role, created_at) VALUES (1, 'boss', 'admin', 0), (2, 'desk', 'enroller', 0);
         INSERT INTO tokens (hash, operator_id, label, created_at) VALUES (zeroblob(32), 2, 'desk', 0);
         INSERT INTO user_groups (id, name) VALUES (1, 'nights');
         INSERT INTO level_assignments (level_id, group_id, created_at) VALUES (1, 1, 0);",
    )
    .unwrap();
    tx.commit().unwrap();
}

#[test]
fn a_version_8_database_opens_with_every_suspension_staffs_and_links_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    version_8(&path);
    let s = Store::open(&path, Arc::new(ManualClock::new(T0))).unwrap();
    let v: i64 = Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, latest());
    assert_eq!(latest(), 9);

    let get = |id: i64| s.get_user(UserId::from_i64(id)).unwrap();
    assert_eq!(get(ACTIVE).holds, Holds::default());
    assert_eq!(get(SUSPENDED).holds, Holds { staff: true, directory: false });
    assert_eq!(get(DELETED_SUSPENDED).holds, Holds { staff: true, directory: false });
    let linked = get(LINKED);
    assert!(linked.directory_linked);
    let link = linked.directory.expect("the link is kept");
    assert_eq!((link.external_id.as_deref(), link.source), (Some("entra-42"), DirectorySource::Staff));
    assert!(get(ACTIVE).directory.is_none() && !get(ACTIVE).directory_linked);
    assert_eq!(get(EXPUNGED).state, UserState::Expunged);

    // The directory cannot lift the suspension staff made before the upgrade; staff can.
    let dir_actor = Actor::directory("operator:9");
    let e = s.lifecycle(&dir_actor, UserId::from_i64(SUSPENDED), LifecycleAction::Resume).unwrap_err();
    assert_eq!(e.code(), "invalid_transition");
    assert_eq!(s.resume(&staff(), UserId::from_i64(SUSPENDED)).unwrap().state, UserState::Active);
    // Restore brings the staff suspension back.
    let r = s.restore(&staff(), UserId::from_i64(DELETED_SUSPENDED)).unwrap();
    assert_eq!((r.state, r.holds), (UserState::Suspended, Holds { staff: true, directory: false }));

    // Operators keep their roles; a provisioner fits the widened check, in a new connection too.
    let ops = s.operators().unwrap();
    assert_eq!(
        ops.iter().map(|o| (o.name.as_str(), o.role)).collect::<Vec<_>>(),
        [("boss", Role::Admin), ("desk", Role::Enroller)]
    );
    let (op, _) = s.issue_token(&staff(), "entra", Role::Provisioner, None).unwrap();
    assert_eq!(op.role, Role::Provisioner);
    let c = Connection::open(&path).unwrap();
    let stored: String = c.query_row("SELECT role FROM operators WHERE name = 'entra'", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, "provisioner");
    let bad = c.execute("INSERT INTO operators (name, role, created_at) VALUES ('x', 'root', 0)", []);
    assert!(bad.unwrap_err().to_string().contains("CHECK"), "the role check still refuses unknown roles");

    // The group's level stays; a level can be held through a directory group, whose membership the change log
    // records; both widened checks still refuse what they refused.
    let held = s.assignments_of_level("All doors, always").unwrap();
    assert!(held.iter().any(|a| a.holder == Holder::Group("nights".into())), "{held:?}");
    let entra = Actor::directory("operator:9");
    let p = DirPerson {
        external_id: Some("entra-7".into()),
        given_name: "Ada".into(),
        family_name: "Byron".into(),
        active: true,
        ..DirPerson::default()
    };
    let who = s.scim_create_user(&entra, p).unwrap().id;
    let g = s.scim_create_group(&entra, "Night shift".into(), None, &[who]).unwrap();
    let night = Holder::DirectoryGroup("Night shift".into());
    s.assign_level(&staff(), "All doors, always", &night, ValidityWindow::default()).unwrap();
    assert!(s.assignments_of(who).unwrap().iter().any(|a| a.holder == night));
    let joined: i64 = c
        .query_row("SELECT COUNT(*) FROM change_log WHERE kind = 'member_in' AND group_id = ?1", [g.id], |r| r.get(0))
        .unwrap();
    assert_eq!(joined, 1);
    let two = c.execute(
        "INSERT INTO level_assignments (level_id, user_id, directory_group_id, created_at) VALUES (1, ?1, ?2, 0)",
        [LINKED, g.id],
    );
    assert!(two.unwrap_err().to_string().contains("CHECK"), "an assignment still has one holder");
    let odd = c.execute("INSERT INTO change_log (at, kind, user_id) VALUES (0, 'other', 0)", []);
    assert!(odd.unwrap_err().to_string().contains("CHECK"), "the change log still refuses unknown kinds");
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
}
