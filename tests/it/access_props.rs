//! Issue 16, must-be-true 2 (property): for random access configurations
//! and random sequences of changes — direct, group and directory-group
//! assignments with windows, people moving between groups and joining and
//! leaving directory groups (issue 17), schedule edits, holidays, a holder
//! suspended — a controller that applies its feed's deltas to its
//! first snapshot (a snapshot again when who reaches which door changed)
//! decides offline, with the reference controller's rule (hw-sim), what
//! the service decides online (`Index::decide_at_door`) for every card,
//! door of the controller and sampled time (DST nights, a holiday, window
//! edges); a card its list does not hold is `unknown_credential` offline
//! and denied online. The list it holds is then exactly the one a fresh
//! snapshot gives, rules included, and holds nothing of another
//! controller's door.

use hw_sim::controller::feed::Feed as HeldList;
use hw_sim::controller::rule;
use hw_sim::controller::wire::parse_page;
use idms::domain::access::{Holiday, Schedule};
use idms::domain::{Decision, Technology, Timestamp, UserId, ValidityWindow};
use idms::store::directory::DirPerson;
use idms::store::levels::{GrantTarget, Holder};
use idms::store::{Actor, FeedScope, Store, UserPatch};
use proptest::prelude::*;

use crate::common::{Fixture, iso, staff};

const PEOPLE: usize = 4;
const LEVELS: [&str; 4] = ["Labs at night", "NY office", "Store room", "Everywhere weekdays"];
const GROUPS: [&str; 2] = ["crew-a", "crew-b"];
/// Directory groups (SCIM `Groups`), made empty at the start.
const DIRECTORY_GROUPS: [&str; 2] = ["Night shift", "Facilities"];
const SCHEDULES: [&str; 3] = ["Berlin nights", "NY days", "Always on"];
/// Texts a schedule may be edited to.
const TEXTS: [(&str, &str); 4] = [
    ("mon-sun 22:00-06:00", "public closed"),
    ("mon-fri 08:00-18:00", ""),
    ("sat,sun 00:00-24:00;mon 02:00-03:00", "public 10:00-14:00"),
    ("fri-mon 21:00-01:00", ""),
];
const HOLIDAYS: [(&str, bool); 3] = [("2026-03-29", false), ("2026-11-01", false), ("2000-12-24", true)];

fn at(s: &str) -> Timestamp {
    Timestamp::parse("t", s).unwrap()
}

/// Sampled times: Berlin's and New York's DST nights, a holiday, a weekday.
fn times() -> Vec<Timestamp> {
    [
        "2026-03-08T06:30:00Z",
        "2026-03-08T09:59:59Z",
        "2026-03-28T21:30:00Z",
        "2026-03-29T00:30:00Z",
        "2026-03-29T03:59:59Z",
        "2026-03-30T12:00:00Z",
        "2026-10-25T04:30:00Z",
        "2026-11-01T05:30:00Z",
        "2026-11-02T14:00:00Z",
        "2026-12-24T13:00:00Z",
        "2026-12-24T21:30:00Z",
    ]
    .iter()
    .map(|t| at(t))
    .collect()
}

/// An assignment window's end points, on the sampled times' grid.
fn edge() -> impl Strategy<Value = Option<Timestamp>> {
    prop::option::of(prop::sample::select(times()))
}

#[derive(Debug, Clone)]
enum Step {
    Assign(usize, usize, Option<Timestamp>, Option<Timestamp>),
    Unassign(usize, usize),
    AssignGroup(usize, usize),
    UnassignGroup(usize, usize),
    SetGroup(usize, Option<usize>),
    AssignDirectoryGroup(usize, usize, Option<Timestamp>),
    UnassignDirectoryGroup(usize, usize),
    Join(usize, usize, bool),
    EditSchedule(usize, usize),
    AddHoliday(usize),
    Suspend(usize, bool),
    Sync,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..LEVELS.len(), 0..PEOPLE, edge(), edge()).prop_map(|(l, p, f, t)| Step::Assign(l, p, f, t)),
        2 => (0..LEVELS.len(), 0..PEOPLE).prop_map(|(l, p)| Step::Unassign(l, p)),
        2 => (0..LEVELS.len(), 0..GROUPS.len()).prop_map(|(l, g)| Step::AssignGroup(l, g)),
        1 => (0..LEVELS.len(), 0..GROUPS.len()).prop_map(|(l, g)| Step::UnassignGroup(l, g)),
        2 => (0..PEOPLE, prop::option::of(0..GROUPS.len())).prop_map(|(p, g)| Step::SetGroup(p, g)),
        2 => (0..LEVELS.len(), 0..DIRECTORY_GROUPS.len(), edge())
            .prop_map(|(l, g, to)| Step::AssignDirectoryGroup(l, g, to)),
        1 => (0..LEVELS.len(), 0..DIRECTORY_GROUPS.len()).prop_map(|(l, g)| Step::UnassignDirectoryGroup(l, g)),
        3 => (0..PEOPLE, 0..DIRECTORY_GROUPS.len(), any::<bool>()).prop_map(|(p, g, j)| Step::Join(p, g, j)),
        2 => (0..SCHEDULES.len(), 0..TEXTS.len()).prop_map(|(s, t)| Step::EditSchedule(s, t)),
        1 => (0..HOLIDAYS.len()).prop_map(Step::AddHoliday),
        1 => (0..PEOPLE, any::<bool>()).prop_map(|(p, s)| Step::Suspend(p, s)),
        4 => Just(Step::Sync),
    ]
}

/// Doors `lab` and `store` (Berlin, area `Labs` holds both) and `office`
/// (New York); the controller serves `lab` and `office`; levels as in
/// `LEVELS` on `SCHEDULES`; no default level; people (from SCIM) with one
/// card each; `DIRECTORY_GROUPS` empty, by their SCIM IDs.
fn site() -> (Fixture, i64, Vec<UserId>, Vec<i64>) {
    let f = Fixture::new();
    let (s, st) = (&f.store, staff());
    s.set_default_level(&st, "All doors, always", false).unwrap();
    s.add_site(&st, "Berlin", "Europe/Berlin").unwrap();
    s.add_site(&st, "New York", "America/New_York").unwrap();
    for (door, site) in [("lab", "Berlin"), ("store", "Berlin"), ("office", "New York")] {
        s.add_door(&st, door, Some(site)).unwrap();
    }
    s.add_area(&st, "Labs", &["lab".to_string(), "store".to_string()]).unwrap();
    s.add_holiday(&st, "de", &Holiday::parse("2026-12-24", "public", false).unwrap()).unwrap();
    for (name, site, cal, text) in [
        (SCHEDULES[0], "Berlin", Some("de"), TEXTS[0]),
        (SCHEDULES[1], "New York", None, TEXTS[1]),
        (SCHEDULES[2], "Berlin", Some("de"), ("mon-sun 00:00-24:00", "")),
    ] {
        s.put_schedule(&st, name, site, cal, &Schedule::from_text(text.0, text.1).unwrap(), false).unwrap();
    }
    let grants: [(GrantTarget, &str); 4] = [
        (GrantTarget::Area("Labs".into()), SCHEDULES[0]),
        (GrantTarget::Door("office".into()), SCHEDULES[1]),
        (GrantTarget::Door("store".into()), SCHEDULES[2]),
        (GrantTarget::AllDoors, SCHEDULES[1]),
    ];
    for (name, (target, schedule)) in LEVELS.iter().zip(grants) {
        s.add_level(&st, name, None, &[(target, schedule.to_string())]).unwrap();
    }
    let (c, _) = s.add_controller(&st, "ctl", &["lab".to_string(), "office".to_string()]).unwrap();
    let entra = Actor::directory("entra");
    let people = (0..PEOPLE)
        .map(|i| {
            let p = DirPerson {
                external_id: Some(format!("entra-{i}")),
                given_name: "Prop".into(),
                family_name: "Person".into(),
                active: true,
                ..DirPerson::default()
            };
            let u = s.scim_create_user(&entra, p).unwrap().id;
            s.enroll(&st, u, Technology::Iso14443a, &iso(&card(i))).unwrap();
            u
        })
        .collect();
    let groups =
        DIRECTORY_GROUPS.iter().map(|g| s.scim_create_group(&entra, (*g).into(), None, &[]).unwrap().id).collect();
    (f, c.id, people, groups)
}

fn card(i: usize) -> String {
    format!("04C0{i:04X}")
}

/// Fetches the feed from the held list's cursor and applies every page.
fn sync(s: &Store, ctl: i64, held: &mut HeldList) {
    loop {
        let page = s.controller_feed(FeedScope::Controller(ctl), held.since(), 2).unwrap();
        let json = serde_json::to_vec(&idms::api::dto::Feed::from(page)).unwrap();
        // Nothing of the `store` door (another controller's) and no names.
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert!(!String::from_utf8_lossy(&json).contains("Prop"), "personal data in the feed");
        if let Some(r) = v.get("rules") {
            let doors: Vec<&str> = r["doors"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
            assert_eq!(doors, ["lab", "office"]);
            for l in r["levels"].as_array().unwrap() {
                for g in l["grants"].as_array().unwrap() {
                    assert!(g["doors"].as_array().unwrap().iter().all(|d| d == "lab" || d == "office"), "{l}");
                }
            }
        }
        let more = held.apply(parse_page(&json).unwrap()).unwrap();
        if !matches!(more, hw_sim::controller::feed::Applied::Staged) {
            return;
        }
    }
}

fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let (f, ctl, people, groups) = site();
    let (s, st) = (&f.store, staff());
    let entra = Actor::directory("entra");
    let mut held = HeldList::in_memory();
    sync(s, ctl, &mut held);
    for step in steps {
        // A refused change (unassigning what is not held…) changes nothing.
        let _ = match step {
            Step::Assign(l, p, from, to) => {
                let w = match (from, to) {
                    (Some(a), Some(b)) if b.0 <= a.0 => ValidityWindow { from: Some(b), to: Some(a) },
                    (a, b) => ValidityWindow { from: a, to: b },
                };
                let _ = s.unassign_level(&st, LEVELS[l], &Holder::User(people[p]));
                if w.from.is_some() && w.from == w.to {
                    continue;
                }
                s.assign_level(&st, LEVELS[l], &Holder::User(people[p]), w).map(drop)
            }
            Step::Unassign(l, p) => s.unassign_level(&st, LEVELS[l], &Holder::User(people[p])),
            Step::AssignGroup(l, g) => {
                s.assign_level(&st, LEVELS[l], &Holder::Group(GROUPS[g].into()), ValidityWindow::default()).map(drop)
            }
            Step::UnassignGroup(l, g) => s.unassign_level(&st, LEVELS[l], &Holder::Group(GROUPS[g].into())),
            Step::SetGroup(p, g) => {
                let patch = UserPatch { group: Some(g.map(|g| GROUPS[g].to_string())), ..UserPatch::default() };
                s.update_user(&st, people[p], patch).map(drop)
            }
            Step::AssignDirectoryGroup(l, g, to) => {
                let holder = Holder::DirectoryGroup(DIRECTORY_GROUPS[g].into());
                s.assign_level(&st, LEVELS[l], &holder, ValidityWindow { from: None, to }).map(drop)
            }
            Step::UnassignDirectoryGroup(l, g) => {
                s.unassign_level(&st, LEVELS[l], &Holder::DirectoryGroup(DIRECTORY_GROUPS[g].into()))
            }
            Step::Join(p, g, join) => {
                let (add, remove) = if join { (vec![people[p]], vec![]) } else { (vec![], vec![people[p]]) };
                s.scim_update_group(&entra, groups[g], None, None, None, &add, &remove, None).map(drop)
            }
            Step::EditSchedule(k, t) => {
                let sched = Schedule::from_text(TEXTS[t].0, TEXTS[t].1).unwrap();
                let (site, cal) = [("Berlin", Some("de")), ("New York", None), ("Berlin", Some("de"))][k];
                s.put_schedule(&st, SCHEDULES[k], site, cal, &sched, true).map(drop)
            }
            Step::AddHoliday(h) => {
                let (date, yearly) = HOLIDAYS[h];
                s.add_holiday(&st, "de", &Holiday::parse(date, "public", yearly).unwrap()).map(drop)
            }
            Step::Suspend(p, true) => s.suspend(&st, people[p]).map(drop),
            Step::Suspend(p, false) => s.resume(&st, people[p]).map(drop),
            Step::Sync => {
                sync(s, ctl, &mut held);
                check(s, &held)?;
                Ok(())
            }
        };
    }
    sync(s, ctl, &mut held);
    check(s, &held)?;
    // The replayed list is the one a fresh snapshot gives, rules included.
    let mut fresh = HeldList::in_memory();
    sync(s, ctl, &mut fresh);
    prop_assert_eq!(held.list(), fresh.list(), "deltas replayed onto the first snapshot");
    Ok(())
}

/// Offline equals online for every card, door and sampled time.
fn check(s: &Store, held: &HeldList) -> Result<(), TestCaseError> {
    for i in 0..PEOPLE {
        let uid = card(i);
        let bytes = rule::parse_uid(&uid).unwrap();
        let listed = held.list().get("iso14443a", &bytes).is_some();
        for door in ["lab", "office"] {
            for t in times() {
                let on = s.index().decide_at_door(Some(Technology::Iso14443a), &iso(&uid), door, t).decision;
                let off = rule::decide(held.list(), door, Some("iso14443a"), &bytes, t.0);
                let on_v = (on == Decision::Grant, on.reason().map(|r| r.code()));
                if listed {
                    prop_assert_eq!((off.grant, off.reason), on_v, "{} at {} at {}", uid, door, t.to_rfc3339());
                } else {
                    prop_assert!(
                        !on_v.0 && off.reason == Some("unknown_credential"),
                        "{} at {} at {}",
                        uid,
                        door,
                        t.to_rfc3339()
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn replayed_deltas_decide_offline_as_the_service_decides_online(steps in prop::collection::vec(step(), 5..30)) {
        run(steps)?;
    }
}
