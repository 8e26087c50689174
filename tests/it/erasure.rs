//! Must-be-true 4: after expunge, no personal data survives in the database
//! file, its WAL or its shared-memory file; the tombstone and the freed card
//! remain.

use idms::domain::{Decision, DenyReason, UserState};
use idms::store::NewUser;

use crate::common::{Fixture, contains, iso, raw_files, staff};

const MARKERS: [&str; 7] = [
    "MarkerGivenQx7",
    "MarkerFamilyZk3",
    "marker.email.Wp9@example.test",
    "+99-MarkerPhone-5521",
    "MarkerEmpNo-88412",
    "MarkerNotes: allergic to Jv2 peanuts",
    "marker-directory-id-Rt6",
];

fn marked() -> NewUser {
    NewUser {
        given_name: MARKERS[0].into(),
        family_name: MARKERS[1].into(),
        email: Some(MARKERS[2].into()),
        phone: Some(MARKERS[3].into()),
        employee_no: Some(MARKERS[4].into()),
        notes: Some(MARKERS[5].into()),
        directory_id: Some(MARKERS[6].into()),
        org_unit: Some("unit-kept".into()),
        ..NewUser::default()
    }
}

fn found_markers(f: &Fixture) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    for (file, bytes) in raw_files(&f.db_path()) {
        for m in MARKERS {
            if contains(&bytes, m.as_bytes()) {
                found.push((file.clone(), m));
            }
        }
    }
    found
}

#[test]
fn personal_data_is_gone_from_every_file() {
    let f = Fixture::new();
    // Neighbours on the same pages, so the expunge rewrites shared pages.
    for i in 0..300 {
        f.store.create_user(&staff(), crate::common::new_user(&format!("N{i}"), &format!("Neighbour{i}"))).unwrap();
    }
    let u = f.store.create_user(&staff(), marked()).unwrap();
    f.enroll(u.id, "04E1E2E3").unwrap();
    // The markers are really written (so the check below can fail)...
    let before = found_markers(&f);
    assert_eq!(
        before.iter().map(|(_, m)| *m).collect::<std::collections::BTreeSet<_>>().len(),
        MARKERS.len(),
        "{before:?}"
    );

    // The directory link must go before staff may delete.
    let unlink = idms::store::UserPatch { directory_id: Some(None), ..Default::default() };
    f.store.update_user(&staff(), u.id, unlink).unwrap();
    f.store.delete(&staff(), u.id).unwrap();
    let tomb = f.store.expunge(&staff(), u.id, &u.id.to_string()).unwrap();

    // ...and afterwards they are nowhere, while the store is still open.
    assert_eq!(found_markers(&f), vec![], "personal data survived the expunge");

    assert_eq!(tomb.id, u.id);
    assert_eq!(tomb.state, UserState::Expunged);
    assert!(tomb.expunged_at.is_some() && tomb.deleted_at.is_some());
    assert_eq!(tomb.created_at, u.created_at);
    assert_eq!(tomb.expunged_by.as_deref(), Some("test-operator"));
    for field in [&tomb.given_name, &tomb.family_name, &tomb.email, &tomb.phone, &tomb.employee_no, &tomb.notes] {
        assert_eq!(field, &None);
    }
    assert!(!tomb.directory_linked);
    assert_eq!(tomb.org_unit.as_deref(), Some("unit-kept"));
    assert_eq!(f.store.get_user(u.id).unwrap().state, UserState::Expunged);
    assert_eq!(f.store.decide(None, &iso("04E1E2E3"), f.store.now()), Decision::Deny(DenyReason::CredentialInStock));
    // Found by ID with --all, not by default.
    assert!(f.store.search_users(&u.id.to_string(), 10).unwrap().is_empty());
    assert_eq!(f.store.search_all_users(&u.id.to_string(), 10).unwrap()[0].id, u.id);
    // Neither the audit trail nor the change log ever held the markers.
    let c = rusqlite::Connection::open(f.db_path()).unwrap();
    let audit: String = c
        .query_row("SELECT group_concat(actor || action || outcome || detail, '|') FROM audit", [], |r| r.get(0))
        .unwrap();
    assert!(MARKERS.iter().all(|m| !audit.contains(m)));
    assert_eq!(f.store.integrity_check().unwrap(), vec!["ok".to_string()]);
}

#[test]
fn the_database_refuses_a_tombstone_with_personal_data() {
    let f = Fixture::new();
    let u = f.person();
    let c = rusqlite::Connection::open(f.db_path()).unwrap();
    let err =
        c.execute("UPDATE users SET state = 'expunged', expunged_at = 1 WHERE id = ?1", [u.id.as_i64()]).unwrap_err();
    assert!(err.to_string().contains("CHECK"), "{err}");
}

#[test]
fn long_notes_and_a_directory_deprovisioned_user_are_erased_too() {
    let f = Fixture::new();
    // Notes long enough to spill onto overflow pages.
    let long = format!("LongNoteMk9 {}", "x".repeat(3_800));
    let mut n = marked();
    n.notes = Some(long);
    let u = f.store.create_user(&staff(), n).unwrap();
    assert!(contains(&raw_files(&f.db_path()).concat_bytes(), b"LongNoteMk9"));
    // The directory deprovisions (no unlink first), then staff expunge.
    f.store.delete(&idms::store::Actor::directory("scim"), u.id).unwrap();
    f.store.expunge(&staff(), u.id, &u.id.to_string()).unwrap();
    let all = raw_files(&f.db_path()).concat_bytes();
    assert!(!contains(&all, b"LongNoteMk9"));
    assert_eq!(found_markers(&f), vec![]);
}

#[test]
fn an_old_snapshot_holds_the_erasure_until_it_is_released() {
    let f = Fixture::new();
    let u = f.store.create_user(&staff(), marked()).unwrap();
    f.store
        .update_user(&staff(), u.id, idms::store::UserPatch { directory_id: Some(None), ..Default::default() })
        .unwrap();
    f.store.delete(&staff(), u.id).unwrap();
    // Another process reads, and keeps its read transaction open.
    let reader = rusqlite::Connection::open(f.db_path()).unwrap();
    reader.execute_batch("BEGIN; SELECT COUNT(*) FROM users;").unwrap();
    f.store.expunge(&staff(), u.id, &u.id.to_string()).unwrap();
    assert!(f.store.erasure_pending(), "the checkpoint cannot complete under an old snapshot");
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    assert!(f.store.retry_erasure().unwrap());
    assert!(!f.store.erasure_pending());
    assert_eq!(found_markers(&f), vec![]);
}

#[cfg(unix)]
#[test]
fn only_the_owner_may_read_the_database() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    f.person();
    for (file, _) in raw_files(&f.db_path()) {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
}

trait Concat {
    fn concat_bytes(&self) -> Vec<u8>;
}

impl Concat for Vec<(String, Vec<u8>)> {
    fn concat_bytes(&self) -> Vec<u8> {
        self.iter().flat_map(|(_, b)| b.iter().copied()).collect()
    }
}

/// Issue 18, must-be-true 4: the scrub, in slices. SQLite's page rebuilds
/// (`rebuildPage` in a rebalance) write a page's cells afresh and leave the
/// bytes that were there before in the gap between its cell pointers and
/// its cells, which `secure_delete` does not reach: a copy of a row that
/// an expunge cannot erase. Such a copy is planted here, as a rebuild
/// leaves it, in the gap of a page of people (deterministic: which page a
/// rebuild leaves one in depends on SQLite's balancing). The scrub zeroes
/// every page's unused bytes, a slice of pages a transaction, resting
/// between slices as it is told: afterwards the copy is in no file, the
/// mark is cleared, and the database is intact, every row as it was.
#[test]
fn the_scrub_erases_the_copies_page_rebuilds_left_a_slice_at_a_time() {
    let f = Fixture::new();
    let u = f.store.create_user(&staff(), marked()).unwrap();
    for i in 0..3000 {
        f.store.create_user(&staff(), crate::common::new_user(&format!("N{i}"), &format!("Neighbour{i}"))).unwrap();
    }
    let unlink = idms::store::UserPatch { directory_id: Some(None), ..Default::default() };
    f.store.update_user(&staff(), u.id, unlink).unwrap();
    f.store.delete(&staff(), u.id).unwrap();
    f.store.expunge(&staff(), u.id, &u.id.to_string()).unwrap();
    assert_eq!(found_markers(&f), vec![]);
    // The copy a rebuild leaves: the person's name in the gap of a table leaf page.
    let c = rusqlite::Connection::open(f.db_path()).unwrap();
    let pages: u32 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    let be16 = |p: &[u8], at: usize| usize::from(u16::from_be_bytes([p[at], p[at + 1]]));
    let planted = (2..=pages).find_map(|pgno| {
        let mut page: Vec<u8> =
            c.query_row("SELECT data FROM sqlite_dbpage WHERE pgno = ?1", [pgno], |r| r.get(0)).unwrap();
        let gap = (8 + 2 * be16(&page, 3), be16(&page, 5));
        (page[0] == 13 && gap.1 > gap.0 + 64).then(|| {
            page[gap.0 + 16..gap.0 + 16 + MARKERS[1].len()].copy_from_slice(MARKERS[1].as_bytes());
            c.execute("UPDATE sqlite_dbpage SET data = ?2 WHERE pgno = ?1", rusqlite::params![pgno, page]).unwrap();
            pgno
        })
    });
    assert!(planted.is_some(), "no table page with a gap in {pages} pages");
    drop(c);
    assert_eq!(found_markers(&f).len(), 1, "the planted copy is in the files");
    assert!(f.store.scrub_pending().unwrap());
    let people = f.store.search_all_users("Neighbour", 5000).unwrap().len();

    let mut slices = 0;
    assert!(
        f.store
            .scrub_paced(|_| {
                slices += 1;
                Some(std::time::Duration::ZERO)
            })
            .unwrap()
    );
    // A rest after every slice but the last.
    assert_eq!(slices + 1, pages.div_ceil(idms::store::scrub::SLICE_PAGES), "{pages} pages");
    assert_eq!(found_markers(&f), vec![], "the scrub left the copy");
    assert!(!f.store.scrub_pending().unwrap());
    assert_eq!(f.store.integrity_check().unwrap(), vec!["ok".to_string()]);
    assert_eq!(f.store.search_all_users("Neighbour", 5000).unwrap().len(), people, "every neighbour kept");
}

/// A scrub told to stop (the service stopping) ends between two slices,
/// and an expunge that commits while a scrub's slices run may leave copies
/// on pages the scrub has passed: either way the mark stays for the next
/// scrub.
#[test]
fn an_expunge_during_the_scrub_keeps_the_mark_for_the_next() {
    let f = Fixture::new();
    let mut ids = Vec::new();
    for i in 0..2000 {
        ids.push(
            f.store.create_user(&staff(), crate::common::new_user(&format!("G{i}"), &format!("Fam{i}"))).unwrap().id,
        );
    }
    f.store.delete(&staff(), ids[0]).unwrap();
    f.store.expunge(&staff(), ids[0], &ids[0].to_string()).unwrap();
    f.store.delete(&staff(), ids[1]).unwrap();
    // Told to stop after the first slice: the scrub ends there, unfinished, and the mark stays.
    let mut slices = 0;
    assert!(
        !f.store
            .scrub_paced(|_| {
                slices += 1;
                None
            })
            .unwrap()
    );
    assert_eq!(slices, 1);
    assert!(f.store.scrub_pending().unwrap(), "a stopped scrub cleared the mark");
    let mut expunged = false;
    assert!(
        f.store
            .scrub_paced(|_| {
                if !expunged {
                    f.store.expunge(&staff(), ids[1], &ids[1].to_string()).unwrap();
                    expunged = true;
                }
                Some(std::time::Duration::ZERO)
            })
            .unwrap()
    );
    assert!(expunged, "the database has more than one slice of pages");
    assert!(f.store.scrub_pending().unwrap(), "the mark was cleared over an expunge the scrub may have missed");
    assert!(f.store.scrub().unwrap());
    assert!(!f.store.scrub_pending().unwrap());
}

/// Pages on the freelist hold nothing, but a page freed by a connection
/// without `secure_delete` (a tool's, an older build's) keeps what it held:
/// the scrub zeroes freelist pages past what they hold too.
#[test]
fn the_scrub_zeroes_what_freed_pages_still_hold() {
    let f = Fixture::new();
    let u = f.store.create_user(&staff(), crate::common::new_user("Free", "Lister")).unwrap();
    let c = rusqlite::Connection::open(f.db_path()).unwrap();
    c.execute_batch(&format!(
        "PRAGMA secure_delete = OFF; CREATE TABLE junk (x TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
         INSERT INTO junk SELECT '{}' || i FROM n;
         DROP TABLE junk;",
        MARKERS[5]
    ))
    .unwrap();
    let free: i64 = c.query_row("PRAGMA freelist_count", [], |r| r.get(0)).unwrap();
    assert!(free > 2, "the dropped table's pages are on the freelist: {free}");
    drop(c);
    assert!(!found_markers(&f).is_empty(), "the freed pages hold the rows");
    f.store.delete(&staff(), u.id).unwrap();
    f.store.expunge(&staff(), u.id, &u.id.to_string()).unwrap();
    assert!(f.store.scrub().unwrap());
    assert_eq!(found_markers(&f), vec![], "freed pages kept their rows");
    assert_eq!(f.store.integrity_check().unwrap(), vec!["ok".to_string()]);
}
