//! Issue 5/5: purge jobs through the store and the job runner — plan
//! first, outcomes per person, same effects as a single expunge, cards
//! recyclable afterwards, no personal data left in any file, pruning after
//! a year (injected clock), the erase flow and bulk purge dates.

use std::sync::atomic::AtomicBool;

use idms::domain::purge::Criteria;
use idms::domain::{Decision, Technology, UserId, UserState};
use idms::store::{JobState, NewUser, PeopleQuery};
use time::macros::date;

use crate::common::{Fixture, contains, iso, raw_files, staff};

/// A person with a purge date well past, markers in every personal field,
/// and a card `04 00 00 NN`.
fn departed(f: &Fixture, n: u32, tweak: impl FnOnce(&mut NewUser)) -> UserId {
    let mut u = NewUser {
        given_name: format!("PurgeGiven{n:04}"),
        family_name: format!("PurgeFamily{n:04}"),
        email: Some(format!("purge.marker.{n:04}@example.test")),
        employee_no: Some(format!("PurgeEmp{n:04}")),
        notes: Some(format!("PurgeNotes{n:04}")),
        purge_date: Some(date!(2025 - 06 - 30)),
        record_type: Some("staff".into()),
        group: Some("library".into()),
        ..NewUser::default()
    };
    tweak(&mut u);
    let u = f.store.create_user(&staff(), u).unwrap();
    f.enroll(u.id, &format!("040000{n:02X}")).unwrap();
    u.id
}

fn markers(n: u32) -> [String; 5] {
    [
        format!("PurgeGiven{n:04}"),
        format!("PurgeFamily{n:04}"),
        format!("purge.marker.{n:04}@example.test"),
        format!("PurgeEmp{n:04}"),
        format!("PurgeNotes{n:04}"),
    ]
}

fn run_to_end(f: &Fixture, id: i64) -> idms::store::PurgeJob {
    idms::jobs::run(&f.store, id, &AtomicBool::new(false), |_| {}).unwrap()
}

#[test]
fn a_job_records_its_plan_then_expunges_the_selected_and_frees_their_cards() {
    let f = Fixture::new();
    let deleted = departed(&f, 1, |_| {});
    f.store.delete(&staff(), deleted).unwrap();
    let active = departed(&f, 2, |_| {});
    let held = departed(&f, 3, |u| u.legal_hold = true);
    let owes = departed(&f, 4, |u| u.balance = 1_001);
    let keys = departed(&f, 5, |u| u.unreturned_items = 1);
    let linked = departed(&f, 6, |u| u.directory_id = Some("dir-6".into()));
    let contractor = departed(&f, 7, |u| u.record_type = Some("contractor".into()));
    let no_date = departed(&f, 8, |u| u.purge_date = None);
    let recent = departed(&f, 9, |u| u.purge_date = Some(date!(2025 - 12 - 31)));
    let owes_little = departed(&f, 10, |u| u.balance = 1_000);

    let criteria =
        Criteria { grace_days: 30, record_type: Some("staff".into()), waive_threshold: 1_000, ..Criteria::default() };
    // A dry run changes nothing.
    let plan = f.store.purge_plan(&staff(), &criteria).unwrap();
    let mut want_selected = vec![deleted, active, owes_little];
    want_selected.sort_by_key(|u| u.as_i64());
    assert_eq!(plan.selected, want_selected);
    let mut skipped: Vec<(UserId, Vec<&str>)> = plan.skipped.iter().map(|s| (s.user_id, s.reasons.clone())).collect();
    skipped.sort_by_key(|(u, _)| u.as_i64());
    let mut want_skipped = vec![
        (held, vec!["legal_hold"]),
        (owes, vec!["balance_over_threshold"]),
        (keys, vec!["unreturned_items"]),
        (linked, vec!["directory_linked"]),
    ];
    want_skipped.sort_by_key(|(u, _)| u.as_i64());
    assert_eq!(skipped, want_skipped);
    assert_eq!(f.store.get_user(active).unwrap().state, UserState::Active, "a dry run changes nothing");
    assert!(f.store.purge_jobs(10).unwrap().is_empty(), "a dry run records no job");

    // The job records the same plan before anyone is expunged.
    let job = f.store.create_purge_job(&staff(), &criteria).unwrap();
    assert_eq!((job.state, job.selected, job.skipped, job.done), (JobState::Planned, 3, 4, 0));
    assert_eq!(f.store.get_user(deleted).unwrap().state, UserState::Deleted);
    let pending = f.store.purge_outcomes(job.id, None, 100).unwrap();
    assert_eq!(pending.iter().filter(|o| o.outcome == "pending").count(), 3);
    assert_eq!(pending.iter().filter(|o| o.outcome == "skipped").count(), 4);

    let done = run_to_end(&f, job.id);
    assert_eq!((done.state, done.done, done.expunged), (JobState::Completed, 3, 3));
    for id in [deleted, active, owes_little] {
        let u = f.store.get_user(id).unwrap();
        assert_eq!(u.state, UserState::Expunged, "{id}");
        assert!(u.given_name.is_none() && u.email.is_none());
        assert!(u.credentials.is_empty(), "bindings closed");
        assert_eq!(u.history[0].close_reason.as_deref(), Some("holder_expunged"));
    }
    for id in [held, owes, keys, linked, contractor, no_date, recent] {
        let u = f.store.get_user(id).unwrap();
        assert_eq!(u.state, UserState::Active, "untouched: {id}");
        assert!(u.given_name.is_some());
    }
    let outcomes = f.store.purge_outcomes(job.id, None, 100).unwrap();
    assert_eq!(outcomes.iter().filter(|o| o.outcome == "expunged").count(), 3);
    assert!(outcomes.iter().all(|o| o.outcome != "pending"));

    // Their cards are in stock and can be recycled to someone new.
    let newcomer = f.store.create_user(&staff(), crate::common::new_user("New", "Comer")).unwrap();
    for n in [1u32, 2, 10] {
        let uid = format!("040000{n:02X}");
        let c = f.store.enroll(&staff(), newcomer.id, Technology::Iso14443a, &iso(&uid)).unwrap();
        assert_eq!(c.holder, Some(newcomer.id), "{uid} recycled");
        let d = f.store.index().decide(Some(Technology::Iso14443a), &iso(&uid), f.store.now());
        assert_eq!(d, Decision::Grant, "{uid} opens doors for the new holder");
    }
    // A card of a skipped person is still theirs.
    assert_eq!(
        f.store.enroll(&staff(), newcomer.id, Technology::Iso14443a, &iso("04000003")).unwrap_err().code(),
        "credential_held"
    );

    // No marker of a purged person is in any database file; a skipped one's still is.
    for (file, bytes) in raw_files(&f.db_path()) {
        for n in [1u32, 2, 10] {
            for m in markers(n) {
                assert!(!contains(&bytes, m.as_bytes()), "{m} survives in {file}");
            }
        }
    }
    let all: Vec<u8> = raw_files(&f.db_path()).into_iter().flat_map(|(_, b)| b).collect();
    assert!(contains(&all, markers(3)[1].as_bytes()), "the check can see markers");

    // The trail: each purged person has one expunge entry, the active one a delete first; the chain holds.
    let audit = f.store.audit_entries(&idms::store::AuditQuery::default()).unwrap();
    for id in [deleted, active, owes_little] {
        let n = audit.iter().filter(|e| e.action == "user.expunge" && e.target_user == Some(id)).count();
        assert_eq!(n, 1, "{id}");
    }
    assert!(audit.iter().any(|e| e.action == "user.delete" && e.target_user == Some(active)));
    assert!(audit.iter().any(|e| e.action == "purge.complete" && e.detail.contains(&format!("job={}", job.id))));
    assert!(f.store.verify_audit().unwrap().first_bad.is_none());
}

#[test]
fn people_changed_after_the_plan_are_judged_again() {
    let f = Fixture::new();
    let a = departed(&f, 1, |_| {});
    let b = departed(&f, 2, |_| {});
    let c = departed(&f, 3, |_| {});
    let job = f.store.create_purge_job(&staff(), &Criteria { grace_days: 0, ..Criteria::default() }).unwrap();
    assert_eq!(job.selected, 3);
    // After planning: a legal hold on a, b's purge date cleared, c expunged by hand.
    let hold = idms::store::UserPatch { legal_hold: Some(true), ..Default::default() };
    f.store.update_user(&staff(), a, hold).unwrap();
    let clear = idms::store::UserPatch { purge_date: Some(None), ..Default::default() };
    f.store.update_user(&staff(), b, clear).unwrap();
    f.store.delete(&staff(), c).unwrap();
    f.store.expunge(&staff(), c, &c.to_string()).unwrap();

    let done = run_to_end(&f, job.id);
    assert_eq!((done.state, done.done, done.expunged), (JobState::Completed, 3, 0));
    let reasons = |id: UserId| {
        let o = f.store.purge_outcomes(job.id, None, 10).unwrap();
        let o = o.into_iter().find(|o| o.user_id == id).unwrap();
        (o.outcome, o.reasons)
    };
    assert_eq!(reasons(a), ("skipped", vec!["legal_hold".to_string()]));
    assert_eq!(reasons(b), ("skipped", vec!["no_longer_in_scope".to_string()]));
    assert_eq!(reasons(c), ("skipped", vec!["already_expunged".to_string()]));
    assert_eq!(f.store.get_user(a).unwrap().state, UserState::Active);
}

#[test]
fn job_records_are_pruned_a_year_after_completion() {
    let f = Fixture::new();
    departed(&f, 1, |_| {});
    let old = f.store.create_purge_job(&staff(), &Criteria::default()).unwrap();
    run_to_end(&f, old.id);
    // 364 days later it is kept.
    f.clock.advance(364 * 86_400);
    departed(&f, 2, |_| {});
    let newer = f.store.create_purge_job(&staff(), &Criteria::default()).unwrap();
    run_to_end(&f, newer.id);
    assert_eq!(f.store.prune_purge_jobs(&staff()).unwrap(), 0);
    assert!(f.store.purge_job(old.id).is_ok());
    // Past 365 days the old one goes (with its outcomes); the newer stays.
    f.clock.advance(2 * 86_400);
    assert_eq!(f.store.prune_purge_jobs(&staff()).unwrap(), 1);
    assert_eq!(f.store.purge_job(old.id).unwrap_err().code(), "not_found");
    assert_eq!(f.store.purge_outcomes(old.id, None, 10).unwrap_err().code(), "not_found");
    assert_eq!(f.store.purge_job(newer.id).unwrap().state, JobState::Completed);
    // Unfinished jobs are never pruned, however old.
    departed(&f, 3, |_| {});
    let open = f.store.create_purge_job(&staff(), &Criteria::default()).unwrap();
    f.clock.advance(800 * 86_400);
    assert_eq!(f.store.prune_purge_jobs(&staff()).unwrap(), 1, "only the newer completed one");
    assert_eq!(f.store.purge_job(open.id).unwrap().state, JobState::Planned);
    let audit = f.store.audit_entries(&idms::store::AuditQuery::default()).unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "purge.prune").count(), 2);
}

#[test]
fn bulk_purge_dates_change_everyone_matching_in_one_audited_action() {
    let f = Fixture::new();
    let a = departed(&f, 1, |u| u.purge_date = None);
    let b = departed(&f, 2, |u| u.purge_date = None);
    let other = departed(&f, 3, |u| {
        u.purge_date = None;
        u.group = Some("lab".into());
    });
    f.store.delete(&staff(), b).unwrap();
    let q = PeopleQuery { group: Some("library".into()), ..PeopleQuery::default() };
    assert_eq!(f.store.set_purge_dates(&staff(), &q, Some(date!(2027 - 01 - 31))).unwrap(), 2);
    for id in [a, b] {
        assert_eq!(f.store.get_user(id).unwrap().purge_date, Some(date!(2027 - 01 - 31)));
    }
    assert_eq!(f.store.get_user(other).unwrap().purge_date, None);
    // Deleted ones only, then clearing.
    let q = PeopleQuery { state: Some(UserState::Deleted), ..PeopleQuery::default() };
    assert_eq!(f.store.set_purge_dates(&staff(), &q, None).unwrap(), 1);
    assert_eq!(f.store.get_user(b).unwrap().purge_date, None);
    assert_eq!(f.store.get_user(a).unwrap().purge_date, Some(date!(2027 - 01 - 31)));
    // No filter: refused, nothing changed.
    let e = f.store.set_purge_dates(&staff(), &PeopleQuery::default(), None).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert_eq!(f.store.get_user(a).unwrap().purge_date, Some(date!(2027 - 01 - 31)));
    let audit = f.store.audit_entries(&idms::store::AuditQuery::default()).unwrap();
    let bulk: Vec<_> = audit.iter().filter(|e| e.action == "user.purge_date.bulk").collect();
    assert_eq!(bulk.len(), 3, "two changes and the refusal");
    assert!(bulk[0].detail.contains("count=2") && bulk[0].detail.contains("filters=group"), "{}", bulk[0].detail);
    assert_eq!(bulk[2].outcome, "invalid_input");
}

#[test]
fn the_erase_flow_finds_deleted_people_and_erases_the_chosen_ones() {
    let f = Fixture::new();
    let early = departed(&f, 1, |u| u.org_unit = Some("north".into()));
    let late = departed(&f, 2, |u| u.org_unit = Some("north".into()));
    let south = departed(&f, 3, |u| u.org_unit = Some("south".into()));
    let held = departed(&f, 4, |u| {
        u.org_unit = Some("north".into());
        u.legal_hold = true;
    });
    let alive = departed(&f, 5, |u| u.org_unit = Some("north".into()));
    f.store.delete(&staff(), early).unwrap();
    f.clock.advance(10 * 86_400);
    let mid = f.store.now();
    for id in [late, south, held] {
        f.store.delete(&staff(), id).unwrap();
    }
    let ids = |v: Vec<idms::store::UserSummary>| {
        let mut v: Vec<UserId> = v.into_iter().map(|s| s.id).collect();
        v.sort_by_key(|u| u.as_i64());
        v
    };
    let sorted = |mut v: Vec<UserId>| {
        v.sort_by_key(|u| u.as_i64());
        v
    };
    assert_eq!(ids(f.store.search_deleted("", None, None, None, 100).unwrap()), sorted(vec![early, late, south, held]));
    assert_eq!(ids(f.store.search_deleted("", None, Some(mid), None, 100).unwrap()), vec![early]);
    assert_eq!(ids(f.store.search_deleted("", Some(mid), None, Some("north"), 100).unwrap()), sorted(vec![late, held]));
    assert_eq!(ids(f.store.search_deleted("PurgeFamily0003", None, None, None, 100).unwrap()), vec![south]);
    let found = f.store.search_deleted("", None, None, None, 100).unwrap();
    assert!(found.iter().all(|s| s.deleted_at.is_some()));

    // A scoped eraser of unit north asks for five people.
    let missing = UserId::from_i64(12_345);
    let r = f.store.erase_users(&staff(), &[early, south, held, alive, missing], Some("north")).unwrap();
    assert_eq!(r.erased, vec![early]);
    let codes: Vec<(UserId, &str)> = r.not_erased.iter().map(|n| (n.user_id, n.code)).collect();
    assert_eq!(
        codes,
        vec![(south, "not_found"), (held, "legal_hold"), (alive, "holder_not_deleted"), (missing, "not_found")]
    );
    assert_eq!(f.store.get_user(early).unwrap().state, UserState::Expunged);
    assert_eq!(f.store.get_user(south).unwrap().state, UserState::Deleted);
    let all: Vec<u8> = raw_files(&f.db_path()).into_iter().flat_map(|(_, b)| b).collect();
    for m in markers(1) {
        assert!(!contains(&all, m.as_bytes()), "{m}");
    }
    assert!(f.store.verify_audit().unwrap().first_bad.is_none());
}

#[test]
fn user_fields_round_trip_and_are_validated() {
    let f = Fixture::new();
    let id = departed(&f, 1, |u| {
        u.balance = 1250;
        u.unreturned_items = 2;
    });
    let u = f.store.get_user(id).unwrap();
    assert_eq!(
        (u.record_type.as_deref(), u.group.as_deref(), u.balance, u.unreturned_items),
        (Some("staff"), Some("library"), 1250, 2)
    );
    let v = serde_json::to_value(idms::api::dto::UserRecord::from(u.clone())).unwrap();
    assert_eq!(v["balance"], serde_json::json!(12.5));
    assert_eq!(v["group"], "library");
    let patch = idms::store::UserPatch {
        record_type: Some(None),
        balance: Some(0),
        unreturned_items: Some(0),
        ..Default::default()
    };
    let u = f.store.update_user(&staff(), id, patch).unwrap();
    assert_eq!((u.record_type, u.balance, u.unreturned_items), (None, 0, 0));
    let long = idms::store::UserPatch { group: Some(Some("g".repeat(65))), ..Default::default() };
    assert_eq!(f.store.update_user(&staff(), id, long).unwrap_err().code(), "invalid_input");
}

/// Issue 18, must-be-true 4 and 5: the service's job loop follows the
/// doors. The doors' latencies are set deterministically — samples dated an
/// hour ahead stay in the watch's last second for the whole test — and the
/// real job runs through `jobs::run_paced`, reporting the rest it chose
/// after every step: while the doors are slower than the target it rests
/// after every step, longer each time (at least doubling, up to a second),
/// and its steps take half as many people each time (down to ten); while they are fast,
/// or no door asks, it never rests and its steps stay whole (full speed).
/// Every job still completes.
#[test]
fn a_job_rests_between_steps_while_the_doors_are_slow_and_not_while_they_are_fast() {
    use idms::jobs::pace::{DoorWatch, MAX_REST};
    use std::time::{Duration, Instant};
    let target = Duration::from_millis(5);
    let job_with = |people: u32, doors: Option<Duration>| {
        let f = Fixture::new();
        for n in 0..people {
            departed(&f, n, |_| {});
        }
        let job = f.store.create_purge_job(&staff(), &Criteria { grace_days: 0, ..Criteria::default() }).unwrap();
        let watch = DoorWatch::default();
        if let Some(p99) = doors {
            for _ in 0..100 {
                watch.record_at(Instant::now() + Duration::from_secs(3600), p99);
            }
        }
        let (mut rests, mut sizes, mut done_before) = (Vec::new(), Vec::new(), 0);
        let done = idms::jobs::run_paced(&f.store, job.id, &AtomicBool::new(false), &watch, target, |j, r| {
            rests.push(r);
            sizes.push(j.done - done_before);
            done_before = j.done;
        })
        .unwrap();
        assert_eq!((done.state, done.expunged), (JobState::Completed, u64::from(people)));
        assert_eq!(rests.pop(), Some(Duration::ZERO), "no rest after the last step");
        (rests, sizes)
    };
    // Slow doors (20 ms against 5): a rest after every step, each at least twice the one before, up to the
    // cap, and steps of at most 50, 25, 12, then 10 people (a step may stop early at its time budget).
    let (slow, sizes) = job_with(120, Some(Duration::from_millis(20)));
    assert!(slow.len() >= 2 && slow[0] >= Duration::from_millis(1), "{slow:?}");
    for w in slow.windows(2) {
        assert!(w[1] >= (w[0] * 2).min(MAX_REST), "the rest did not grow while the doors suffered: {slow:?}");
    }
    for (i, size) in sizes.iter().enumerate() {
        assert!(*size >= 1 && *size <= (50u64 >> i).max(10), "step {i} took {size}: {sizes:?}");
    }
    // Fast doors (1 ms, under three fifths of the target), and no doors at all: full speed.
    for doors in [Some(Duration::from_millis(1)), None] {
        let (rests, _) = job_with(150, doors);
        assert!(rests.iter().all(Duration::is_zero), "{doors:?}: {rests:?}");
    }
}
