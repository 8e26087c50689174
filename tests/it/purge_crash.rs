//! Issue 5/5, must-be-true 2: `kill -9` of a real `idms serve` at random
//! points of a purge job over 5,040 selected people (5,600 considered), ten
//! times (a third of the trials twice; the last one also the moment the job
//! reports itself complete). Every crash image is checked before the
//! restart — each person is either untouched or wholly expunged with their
//! outcome recorded (personal data gone ⇔ state `expunged` ⇔ bindings
//! closed ⇔ outcome `expunged` ⇔ one `user.expunge` audit entry) and the
//! job's counters match its outcomes. After the restart the job completes on
//! its own; then every selected person is expunged exactly once with their
//! card in stock, the skipped and out-of-scope people are exactly as before,
//! and the database passes `PRAGMA integrity_check` and the audit-chain
//! check. Last, for every trial (must-be-true 3 under crashes): no seeded
//! marker of a purged person is in the database files, neither while the
//! restarted service runs nor after it stops, while every kept person's is.
//!
//! The random points come from a seeded generator; the seed is printed (set
//! `PURGE_CRASH_SEED` to replay the points; the people's IDs are random).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use idms::clock::SystemClock;
use idms::domain::{UserId, UserState};
use idms::store::{Actor, DB_FILE, PeopleQuery, Role, Store, UserPatch};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::{Value, json};
use time::macros::date;

use crate::common::raw_files;
use crate::server::{Server, agent};

/// People seeded (`Seed{n:08}`, `seed{n}@example.test`, one card each).
const PEOPLE: u64 = 5_600;
/// Crash-and-restart rounds.
const TRIALS: usize = 10;

/// What the set-up made of seeded person `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Purge date passed, nothing holds them: the job takes them.
    Selected,
    /// Legal hold: skipped.
    Held,
    /// Keys not handed back: skipped.
    Keys,
    /// Linked to the directory: skipped.
    Linked,
    /// No purge date: never considered.
    NoDate,
    /// Deleted, but under legal hold: skipped.
    HeldDeleted,
}

fn kind(n: u64) -> Kind {
    match n % 50 {
        0 => Kind::Held,
        1 => Kind::Keys,
        2 => Kind::Linked,
        3 => Kind::NoDate,
        4 => Kind::HeldDeleted,
        _ => Kind::Selected,
    }
}

/// xorshift64*: small, seeded, good enough to pick crash points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One person as the database holds them: everything a purge may change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Person {
    state: String,
    /// given, family, family_fold, email, phone, employee_no, notes, directory_id.
    personal: [Option<String>; 8],
    open_bindings: i64,
    closed_bindings: i64,
}

impl Person {
    fn personal_gone(&self) -> bool {
        self.personal.iter().all(Option::is_none)
    }
}

fn people(c: &Connection) -> HashMap<i64, Person> {
    let mut stmt = c
        .prepare(
            "SELECT u.id, u.state, u.given_name, u.family_name, u.family_fold, u.email, u.phone, u.employee_no,
                    u.notes, u.directory_id,
                    (SELECT COUNT(*) FROM bindings b WHERE b.user_id = u.id AND b.closed_at IS NULL),
                    (SELECT COUNT(*) FROM bindings b WHERE b.user_id = u.id AND b.closed_at IS NOT NULL)
             FROM users u",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            Person {
                state: r.get(1)?,
                personal: [r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?],
                open_bindings: r.get(10)?,
                closed_bindings: r.get(11)?,
            },
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Database ID → seed number, from the family names (`Seed{n:08}`).
fn seed_numbers(c: &Connection) -> HashMap<i64, u64> {
    let mut stmt = c.prepare("SELECT id, family_name FROM users").unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| {
            let (id, family) = r.unwrap();
            (id, family.strip_prefix("Seed").unwrap().parse().unwrap())
        })
        .collect()
}

/// The database every trial starts from, built once.
struct Template {
    _dir: tempfile::TempDir,
    db: PathBuf,
    token: String,
    /// Database ID → seed number.
    by_id: HashMap<i64, u64>,
    /// Everyone as they were before any job.
    before: HashMap<i64, Person>,
    selected: HashSet<i64>,
    skipped: HashSet<i64>,
}

fn build_template() -> Template {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    let actor = Actor::staff("test-setup");
    let token = {
        let store = Store::create(&db, Arc::new(SystemClock)).unwrap();
        store.seed(&actor, PEOPLE, 1, 0, |_| {}).unwrap();
        let everyone = PeopleQuery { state: Some(UserState::Active), ..PeopleQuery::default() };
        assert_eq!(store.set_purge_dates(&actor, &everyone, Some(date!(2020 - 01 - 01))).unwrap(), PEOPLE);
        let ids = seed_numbers(&Connection::open(&db).unwrap());
        for (&id, &n) in &ids {
            let user = UserId::from_i64(id);
            let patch = match kind(n) {
                Kind::Held | Kind::HeldDeleted => UserPatch { legal_hold: Some(true), ..UserPatch::default() },
                Kind::Keys => UserPatch { unreturned_items: Some(2), ..UserPatch::default() },
                Kind::Linked => UserPatch { directory_id: Some(Some(format!("dir-{n}"))), ..UserPatch::default() },
                Kind::NoDate => UserPatch { purge_date: Some(None), ..UserPatch::default() },
                Kind::Selected => UserPatch::default(),
            };
            if kind(n) != Kind::Selected {
                store.update_user(&actor, user, patch).unwrap();
            }
            // Among the selected: some deleted already, some suspended (the
            // job deletes those first), the rest active.
            if kind(n) == Kind::HeldDeleted || (kind(n) == Kind::Selected && n % 10 == 5) {
                store.delete(&actor, user).unwrap();
            } else if kind(n) == Kind::Selected && n % 50 == 6 {
                store.suspend(&actor, user).unwrap();
            }
        }
        store.create_token(&actor, "purger", Role::Eraser, None).unwrap().1
        // The store closes here, checkpointing the WAL into the file.
    };
    let c = Connection::open(&db).unwrap();
    let before = people(&c);
    let by_id = seed_numbers(&c);
    drop(c);
    assert!(!Path::new(&format!("{}-wal", db.display())).exists(), "the template is one self-contained file");
    assert_eq!(by_id.len() as u64, PEOPLE);
    let selected: HashSet<i64> = by_id.iter().filter(|(_, n)| kind(**n) == Kind::Selected).map(|(id, _)| *id).collect();
    let skipped: HashSet<i64> =
        by_id.iter().filter(|(_, n)| !matches!(kind(**n), Kind::Selected | Kind::NoDate)).map(|(id, _)| *id).collect();
    assert_eq!(selected.len(), 5_040);
    Template { _dir: dir, db, token, by_id, before, selected, skipped }
}

/// A fresh data directory holding a copy of the template database.
fn fresh(t: &Template) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(&t.db, d.path().join(DB_FILE)).unwrap();
    d
}

fn get_job(a: &ureq::Agent, base: &str, token: &str, id: i64, query: &str) -> Option<Value> {
    let mut r = a
        .get(&format!("{base}/api/v1/purge-jobs/{id}{query}"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .ok()?;
    assert_eq!(r.status().as_u16(), 200);
    r.body_mut().read_json::<Value>().ok()
}

/// Where a kill lands: right after the 202 plus a random delay, or once the
/// job has passed a random number of people (plus a little).
#[derive(Debug, Clone, Copy)]
enum At {
    Delay(Duration),
    Done(u64, Duration),
    /// As soon as the job reports itself complete (before its final WAL
    /// checkpoint, if the poll is quick enough).
    Completed,
}

fn pick(rng: &mut Rng, selected: u64) -> At {
    let jitter = Duration::from_millis(rng.below(25));
    if rng.below(4) == 0 {
        At::Delay(Duration::from_millis(rng.below(100)))
    } else {
        At::Done(rng.below(selected), jitter)
    }
}

/// Waits for `at`, polling the job, then `kill -9`s the service.
fn kill_at(mut server: Server, token: &str, job: i64, at: At) {
    let a = agent();
    match at {
        At::Delay(d) => std::thread::sleep(d),
        At::Done(..) | At::Completed => {
            let (threshold, jitter) = match at {
                At::Done(threshold, jitter) => (threshold, jitter),
                _ => (u64::MAX, Duration::ZERO),
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let j = get_job(&a, &server.base, token, job, "?limit=1").expect("the job is readable");
                if j["done"].as_u64().unwrap() >= threshold || j["state"] == "completed" {
                    break;
                }
                assert!(Instant::now() < deadline, "the job stalled: {j}");
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(jitter);
        }
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// The crash image, read without changing it (read-only, no checkpoint on
/// close), checked person by person. Returns the job's `done`.
fn check_crash_image(t: &Template, db: &Path, job: i64) -> u64 {
    let before: Vec<(String, Vec<u8>)> = raw_files(db);
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    c.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true).unwrap();
    let (state, selected, done, expunged): (String, i64, i64, i64) = c
        .query_row("SELECT state, selected, done, expunged FROM purge_jobs WHERE id = ?1", [job], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap();
    let (selected, done, expunged) = (selected.unsigned_abs(), done.unsigned_abs(), expunged.unsigned_abs());
    assert_eq!(selected, t.selected.len() as u64);
    let (outcomes, expunge_entries) = outcomes_and_expunges(&c, job);
    let now = people(&c);
    drop(c);
    check_people(t, &now, &outcomes, &expunge_entries);
    let recorded = outcomes.values().filter(|o| o.is_some()).count() as u64;
    assert_eq!(done, recorded, "the job's count matches its outcomes");
    assert_eq!(expunged, done, "nobody selected became protected");
    assert_eq!(state == "completed", done == selected, "state {state} with {done}/{selected}");
    // Reading the image left it as it was.
    let after = raw_files(db);
    for ((name, a), (_, b)) in before.iter().zip(&after) {
        if !name.ends_with("-shm") {
            assert!(a == b, "reading the crash image changed {name}");
        }
    }
    done
}

/// Each selected person's recorded outcome, and how many `user.expunge`
/// audit entries each user has.
fn outcomes_and_expunges(c: &Connection, job: i64) -> (HashMap<i64, Option<String>>, HashMap<i64, i64>) {
    let mut stmt =
        c.prepare("SELECT user_id, outcome FROM purge_job_users WHERE job_id = ?1 AND selected = 1").unwrap();
    let outcomes = stmt.query_map([job], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    let mut stmt = c
        .prepare("SELECT target_user, COUNT(*) FROM audit WHERE action = 'user.expunge' GROUP BY target_user")
        .unwrap();
    let entries = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    (outcomes, entries)
}

/// Nobody half-expunged: each person is exactly as before the job, or
/// selected and wholly expunged — personal data gone, state `expunged`,
/// bindings closed, outcome `expunged` and one `user.expunge` entry, all
/// together.
fn check_people(
    t: &Template,
    now: &HashMap<i64, Person>,
    outcomes: &HashMap<i64, Option<String>>,
    expunge_entries: &HashMap<i64, i64>,
) {
    assert_eq!(now.len(), t.before.len());
    assert_eq!(outcomes.len(), t.selected.len(), "the plan selects exactly the selected");
    for (id, p) in now {
        let was = &t.before[id];
        let expunged = p.state == "expunged";
        let n = t.by_id[id];
        assert_eq!(p.personal_gone(), expunged, "person {n}: personal data gone ⇔ expunged ({p:?})");
        assert_eq!(p.open_bindings == 0, expunged, "person {n}: bindings closed ⇔ expunged ({p:?})");
        let entries = expunge_entries.get(id).copied().unwrap_or(0);
        if expunged {
            assert!(t.selected.contains(id), "person {n} ({:?}) expunged but not selected", kind(n));
            assert_eq!(p.closed_bindings, was.open_bindings + was.closed_bindings, "person {n}: every binding closed");
            assert_eq!(outcomes[id].as_deref(), Some("expunged"), "person {n}: expunged ⇔ outcome");
            assert_eq!(entries, 1, "person {n}: expunged exactly once");
        } else {
            assert_eq!(p, was, "person {n} ({:?}) touched but not expunged", kind(n));
            assert_eq!(entries, 0, "person {n}: an expunge entry without the expunge");
            if let Some(o) = outcomes.get(id) {
                assert_eq!(o.as_deref(), None, "person {n}: outcome without the expunge");
            }
        }
    }
}

/// Seed numbers whose markers (`Seed{n:08}`, its folded `seed{n:08}`, and
/// `seed{n}@example.test`) appear anywhere in `files`.
fn markers_found(files: &[(String, Vec<u8>)]) -> HashSet<u64> {
    let mut found = HashSet::new();
    for (_, b) in files {
        let mut i = 0;
        while i + 4 < b.len() {
            if b[i] | 0x20 == b's' && b[i..i + 4].eq_ignore_ascii_case(b"seed") {
                let digits = b[i + 4..].iter().take_while(|c| c.is_ascii_digit()).count();
                let end = i + 4 + digits;
                let email = b[end..].starts_with(b"@example.test");
                if (digits == 8 || email) && digits > 0 {
                    let n: u64 = std::str::from_utf8(&b[i + 4..end]).unwrap().parse().unwrap();
                    found.insert(n);
                }
                i = end;
            } else {
                i += 1;
            }
        }
    }
    found
}

/// Seed numbers of purged people whose markers are in the database files.
fn purged_markers(t: &Template, db: &Path) -> Vec<u64> {
    let found = markers_found(&raw_files(db));
    let mut left: Vec<u64> = t.selected.iter().map(|id| t.by_id[id]).filter(|n| found.contains(n)).collect();
    left.sort_unstable();
    left
}

fn wal_len(db: &Path) -> u64 {
    std::fs::metadata(format!("{}-wal", db.display())).map_or(0, |m| m.len())
}

/// Every check on a finished trial's files, the service stopped. Returns
/// the purged people whose markers are still in the files.
fn check_finished(t: &Template, db: &Path, job: i64, trial: usize) -> Vec<u64> {
    let selected = t.selected.len() as u64;
    // The raw files first: opening the database may checkpoint it.
    let files = raw_files(db);
    let found = markers_found(&files);
    for id in t.before.keys().filter(|id| !t.selected.contains(id)) {
        assert!(found.contains(&t.by_id[id]), "the marker scan finds kept person {}", t.by_id[id]);
    }
    let left = purged_markers(t, db);

    let c = Connection::open(db).unwrap();
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok", "trial {trial}");
    let now = people(&c);
    let (outcomes, expunge_entries) = outcomes_and_expunges(&c, job);
    check_people(t, &now, &outcomes, &expunge_entries);
    for id in &t.selected {
        assert_eq!(now[id].state, "expunged", "trial {trial}: selected person {} expunged", t.by_id[id]);
    }
    // Their cards are back in stock.
    let in_stock: i64 = c
        .query_row(
            "SELECT COUNT(DISTINCT c.id) FROM credentials c JOIN bindings b ON b.credential_id = c.id
             JOIN users u ON u.id = b.user_id WHERE u.state = 'expunged' AND c.state = 'in_stock'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(in_stock.unsigned_abs(), selected, "trial {trial}: the cards of the purged are in stock");
    // The job deleted each person not deleted yet, once.
    let job_deletes: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE action = 'user.delete' AND detail = ?1",
            [format!("job={job}")],
            |r| r.get(0),
        )
        .unwrap();
    let not_yet_deleted = t.selected.iter().filter(|id| t.before[id].state != "deleted").count();
    assert_eq!(job_deletes.unsigned_abs(), not_yet_deleted as u64, "trial {trial}: job deletes");
    let completed: Option<i64> = c
        .query_row("SELECT completed_at FROM purge_jobs WHERE id = ?1 AND state = 'completed'", [job], |r| r.get(0))
        .optional()
        .unwrap()
        .flatten();
    assert!(completed.is_some(), "trial {trial}: the job is recorded complete");
    drop(c);

    let store = Store::open(db, Arc::new(SystemClock)).unwrap();
    let report = store.verify_audit().unwrap();
    assert_eq!(report.first_bad, None, "trial {trial}: the audit chain holds");
    assert!(report.entries > selected);
    left
}

#[test]
fn kill_9_at_random_points_of_a_5000_person_job_leaves_nobody_half_expunged() {
    let started = Instant::now();
    let seed = std::env::var("PURGE_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        u64::from_le_bytes(b) | 1
    });
    eprintln!("purge_crash: seed {seed} (PURGE_CRASH_SEED={seed} replays the crash points)");
    let mut rng = Rng(seed);
    let t = build_template();
    eprintln!("purge_crash: template of {PEOPLE} people built in {:?}", started.elapsed());
    let selected = t.selected.len() as u64;
    let a = agent();
    let mut mid_job = 0;
    let mut kills = Vec::new();
    let mut residue = Vec::new();
    for trial in 0..TRIALS {
        let d = fresh(&t);
        let dir = d.path();
        let db = dir.join(DB_FILE);
        let server = Server::start(dir);
        let mut r = a
            .post(&format!("{}/api/v1/purge-jobs", server.base))
            .header("Authorization", &format!("Bearer {}", t.token))
            .send_json(json!({"criteria": {"grace_days": 0}, "dry_run": false}))
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let job: Value = r.body_mut().read_json().unwrap();
        let id = job["id"].as_i64().unwrap();
        assert_eq!(job["selected"].as_u64(), Some(selected));
        assert_eq!(job["skipped"].as_u64(), Some(t.skipped.len() as u64));

        // One kill, or two at different points in a third of the trials;
        // the last trial ends with a kill the moment the job completes.
        let mut points = vec![pick(&mut rng, selected)];
        if rng.below(3) == 0 {
            points.push(pick(&mut rng, selected));
        }
        if trial == TRIALS - 1 {
            points.push(At::Completed);
        }
        let mut server = Some(server);
        let mut done = 0;
        for (round, at) in points.into_iter().enumerate() {
            let s = server.take().unwrap_or_else(|| Server::start(dir));
            // A second point lies between the first and the end.
            let at = match at {
                At::Done(n, jitter) => At::Done(done + n * (selected - done) / selected, jitter),
                other => other,
            };
            kill_at(s, &t.token, id, at);
            done = check_crash_image(&t, &db, id);
            eprintln!("purge_crash: trial {trial} kill {round}: {at:?} → killed at {done}/{selected}");
            kills.push(done);
            if done > 0 && done < selected {
                mid_job += 1;
            }
            if done == selected {
                break;
            }
        }

        // Restart: the job resumes by itself and completes.
        let server = Server::start(dir);
        let deadline = Instant::now() + Duration::from_secs(60);
        let detail = loop {
            let j = get_job(&a, &server.base, &t.token, id, "?limit=10000").expect("the job is readable");
            if j["state"] == "completed" {
                break j;
            }
            assert!(
                Instant::now() < deadline,
                "trial {trial}: the job did not complete after the restart: {}",
                j["done"]
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(detail["done"].as_u64(), Some(selected));
        assert_eq!(detail["expunged"].as_u64(), Some(selected));
        assert_eq!(detail["next_after"], Value::Null, "one page holds every outcome");
        let outcomes = detail["outcomes"].as_array().unwrap();
        assert_eq!(outcomes.len(), t.selected.len() + t.skipped.len());
        for o in outcomes {
            let user: UserId = o["user_id"].as_str().unwrap().parse().unwrap();
            let uid = user.as_i64();
            if t.selected.contains(&uid) {
                assert_eq!((o["selected"].as_bool(), o["outcome"].as_str()), (Some(true), Some("expunged")), "{o}");
            } else {
                assert!(t.skipped.contains(&uid), "{o}");
                assert_eq!((o["selected"].as_bool(), o["outcome"].as_str()), (Some(false), Some("skipped")), "{o}");
                assert!(!o["reasons"].as_array().unwrap().is_empty(), "{o}");
            }
        }
        // While the service still runs, once the job's closing erasure has
        // had a moment: the erased data is in no file.
        let settle = Instant::now() + Duration::from_secs(2);
        let (wal, running) = loop {
            let (wal, left) = (wal_len(&db), purged_markers(&t, &db));
            if left.is_empty() || Instant::now() >= settle {
                break (wal, left);
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        server.stop();

        let stopped = check_finished(&t, &db, id, trial);
        if !running.is_empty() || !stopped.is_empty() {
            residue.push(format!(
                "trial {trial} (last kill at {done}/{selected}): service running (WAL {wal} bytes): {} people, \
                 e.g. {:?}; after a graceful stop: {} people, e.g. {:?}",
                running.len(),
                &running[..running.len().min(4)],
                stopped.len(),
                &stopped[..stopped.len().min(4)],
            ));
        }
    }
    eprintln!(
        "purge_crash: {} kills, {mid_job} mid-job ({kills:?}), {TRIALS} trials in {:?}",
        kills.len(),
        started.elapsed()
    );
    assert!(mid_job >= TRIALS / 2, "most kills land mid-job: {mid_job} of {} ({kills:?})", kills.len());
    // Checked last, so a run that finds markers has still checked every
    // crash for atomicity.
    assert!(
        residue.is_empty(),
        "markers (Seed{{n:08}}, seed{{n}}@example.test) of purged people are left in the database files:\n{}",
        residue.join("\n")
    );
}
