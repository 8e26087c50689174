//! Must-be-true 3 (race): concurrent enrolments of one card, each through
//! its own connection as separate processes would, against a file database.

use std::sync::{Arc, Barrier};

use idms::clock::SystemClock;
use idms::domain::Technology;
use idms::store::{DB_FILE, Store};

use crate::common::{Fixture, double_bindings, iso, staff};

#[test]
fn sixteen_enrolments_of_one_uid_one_wins() {
    let f = Fixture::new();
    let users: Vec<_> = (0..16).map(|_| f.person().id).collect();
    let barrier = Arc::new(Barrier::new(16));
    let path = f.dir.path().join(DB_FILE);
    let handles: Vec<_> = users
        .into_iter()
        .map(|u| {
            let barrier = barrier.clone();
            let path = path.clone();
            std::thread::spawn(move || {
                let store = Store::open(&path, Arc::new(SystemClock)).unwrap();
                barrier.wait();
                store.enroll(&staff(), u, Technology::Iso14443a, &iso("04C0FFEE")).map(|c| c.holder)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    let held = results.iter().filter(|r| r.as_ref().is_err_and(|e| e.code() == "credential_held")).count();
    assert_eq!(won.len(), 1, "{results:?}");
    assert_eq!(held, 15, "{results:?}");
    assert_eq!(double_bindings(&path), 0);
    let c = rusqlite::Connection::open(&path).unwrap();
    let open: i64 = c.query_row("SELECT COUNT(*) FROM bindings WHERE closed_at IS NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(open, 1);
}

#[test]
fn the_database_itself_refuses_a_second_open_binding() {
    let f = Fixture::new();
    let a = f.person().id;
    let b = f.person().id;
    f.enroll(a, "04C0FFEE").unwrap();
    let c = rusqlite::Connection::open(f.db_path()).unwrap();
    let err = c
        .execute(
            "INSERT INTO bindings (credential_id, user_id, opened_at, opened_by)
             SELECT id, ?1, 0, 'bypass' FROM credentials",
            [b.as_i64()],
        )
        .unwrap_err();
    assert!(err.to_string().contains("UNIQUE"), "{err}");
}
