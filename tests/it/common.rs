//! Shared fixtures: a store on a temporary file with a manual clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use idms::clock::ManualClock;
use idms::domain::{Technology, Timestamp, Uid, UserId};
use idms::store::{Actor, DB_FILE, NewUser, Store, StoreError, UserRecord};
use tempfile::TempDir;

/// 2026-01-01T00:00:00Z.
pub const T0: Timestamp = Timestamp(1_767_225_600);

pub struct Fixture {
    pub dir: TempDir,
    pub store: Store,
    pub clock: Arc<ManualClock>,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let store = Store::create(&dir.path().join(DB_FILE), clock.clone()).unwrap();
        Self { dir, store, clock }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join(DB_FILE)
    }

    pub fn person(&self) -> UserRecord {
        self.store.create_user(&staff(), new_user("Test", "Person")).unwrap()
    }

    pub fn enroll(&self, user: UserId, uid: &str) -> Result<idms::store::CredentialRecord, StoreError> {
        self.store.enroll(&staff(), user, Technology::Iso14443a, &iso(uid))
    }
}

pub fn staff() -> Actor {
    Actor::staff("test-operator")
}

pub fn new_user(given: &str, family: &str) -> NewUser {
    NewUser { given_name: given.into(), family_name: family.into(), ..NewUser::default() }
}

pub fn iso(uid: &str) -> Uid {
    Uid::parse_for(Technology::Iso14443a, uid).unwrap()
}

/// The raw bytes of the database file and its `-wal` and `-shm` companions.
pub fn raw_files(db: &Path) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let p = PathBuf::from(format!("{}{suffix}", db.display()));
            std::fs::read(&p).ok().map(|b| (p.display().to_string(), b))
        })
        .collect()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Count of open bindings per credential that has more than one.
pub fn double_bindings(db: &Path) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(
        "SELECT COUNT(*) FROM (SELECT credential_id FROM bindings WHERE closed_at IS NULL
         GROUP BY credential_id HAVING COUNT(*) > 1)",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// `idms --data-dir DIR ARGS…`, ignoring any `IDMS_DATA_DIR` of the caller.
pub fn idms_cmd(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_idms"));
    c.arg("--data-dir").arg(dir).args(args).env_remove("IDMS_DATA_DIR");
    c
}

/// Runs `idms --data-dir DIR ARGS…` to its end.
pub fn idms(dir: &Path, args: &[&str]) -> std::process::Output {
    idms_cmd(dir, args).output().unwrap()
}

/// A copy of the database someone with file access edits directly (the
/// append-only triggers are dropped first): `sql` runs on it.
pub fn tampered_copy(f: &Fixture, sql: &str) -> (tempfile::TempDir, PathBuf) {
    let copy = tempfile::tempdir().unwrap();
    let path = copy.path().join(DB_FILE);
    rusqlite::Connection::open(f.db_path()).unwrap().execute("VACUUM INTO ?1", [path.to_str().unwrap()]).unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;").unwrap();
    c.execute_batch(sql).unwrap();
    (copy, path)
}
