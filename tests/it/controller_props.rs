//! Issue 15, must-be-true 1 (property): the simulated controller and the
//! service under random staff changes, random partitions, taps, syncs and
//! uploads. Every decision the controller makes offline is what the
//! service would have answered at that moment — or what it would have
//! answered at some change-log position at or after the cursor the
//! controller last applied (the changes since then had not reached it);
//! a UID the controller's list does not hold is denied `unknown_credential`
//! offline where the service may name another deny reason. After healing
//! and uploading, every access event the controller made is in the
//! service's log exactly once.
//!
//! The controller treats its cursor as opaque; the test reads its `SEQ`
//! part to know which change-log positions the controller could reflect.

use std::collections::{BTreeSet, HashMap};

use hw_sim::controller::rule::hex;
use idms::clock::Clock;
use idms::domain::{Decision, Technology, Timestamp};
use idms::store::UserPatch;
use proptest::prelude::*;

use crate::common::{T0, staff};
use crate::controller_sim::Served;
use crate::props::{Op, apply, card, op};

const CARDS: usize = 6;

#[derive(Debug, Clone)]
enum Step {
    Staff(Op),
    /// A person's validity window changes (seconds from T0).
    Window(usize, Option<i64>, Option<i64>),
    /// Time moves N × 50 s (windows are on 50 s edges: taps land on them).
    Advance(i64),
    /// Card N at door `main`, with the technology or without.
    Tap(usize, bool),
    Sync,
    Cut,
    Heal,
    Upload,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        // Time moves only on the 50 s grid.
        6 => op().prop_map(|o| match o {
            Op::Tick(secs) => Step::Advance(1 + secs / 100),
            o => Step::Staff(o),
        }),
        1 => (0usize..8, prop::option::of(edge()), prop::option::of(edge()))
            .prop_map(|(u, f, t)| Step::Window(u, f, t)),
        2 => (1i64..6).prop_map(Step::Advance),
        6 => (0usize..CARDS, any::<bool>()).prop_map(|(c, t)| Step::Tap(c, t)),
        2 => Just(Step::Sync),
        2 => Just(Step::Cut),
        1 => Just(Step::Heal),
        1 => Just(Step::Upload),
    ]
}

/// A time on a 50 s edge, from 500 s before T0 to 1,500 s after.
fn edge() -> impl Strategy<Value = i64> {
    (-10i64..30).prop_map(|k| k * 50)
}

type Verdict = (bool, Option<&'static str>);

/// The service's answers by (card, with technology, time).
type Answers = HashMap<(usize, bool, i64), Verdict>;

/// The service's answers for every card, with and without technology, at
/// each time a tap will happen.
fn answers(s: &Served, times: &BTreeSet<i64>) -> Answers {
    let mut out = HashMap::new();
    for i in 0..CARDS {
        for with_tech in [true, false] {
            for &t in times {
                let d = s.api.store.decide(with_tech.then_some(Technology::Iso14443a), &card(i), Timestamp(t));
                out.insert((i, with_tech, t), (d == Decision::Grant, d.reason().map(|r| r.code())));
            }
        }
    }
    out
}

/// The change-log position a cursor names (`SEQ-TAG`).
fn seq(cursor: &str) -> i64 {
    cursor.split_once('-').and_then(|(s, _)| s.parse().ok()).unwrap()
}

fn head(s: &Served) -> i64 {
    let f = s.api.store.credential_feed(None, 100_000).unwrap();
    assert!(!f.more);
    seq(&f.cursor)
}

/// Validity windows of the people each case starts with (seconds from T0).
type Windows = Vec<(Option<i64>, Option<i64>)>;

fn run(windows: Windows, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let s = Served::new();
    // Each card held by someone to begin with, so that most taps matter.
    let mut users = Vec::new();
    for (from, to) in windows {
        users.extend(apply(&s.api.fx, &users, Op::Create { from, to }));
    }
    for i in 0..CARDS {
        apply(&s.api.fx, &users, Op::Enroll(i, i));
    }
    s.api.store.catch_up().unwrap();
    // When each tap happens.
    let mut times = BTreeSet::new();
    let mut t = T0.0;
    for st in &steps {
        match st {
            Step::Advance(k) => t += k * 50,
            Step::Tap(..) => {
                times.insert(t);
            }
            _ => {}
        }
    }
    // The service's answers after each change, by change-log position.
    let mut positions: Vec<(i64, Answers)> = vec![(head(&s), answers(&s, &times))];
    let dir = tempfile::tempdir().unwrap();
    let c = s.controller(dir.path(), Some(2));
    c.sync().unwrap();
    let mut cut = false;
    let mut offline: Vec<(String, (bool, Option<String>))> = Vec::new();
    let mut online = 0usize;
    for st in steps {
        match st {
            Step::Staff(o) => {
                if let Some(id) = apply(&s.api.fx, &users, o) {
                    users.push(id);
                }
                s.api.store.catch_up().unwrap();
            }
            Step::Advance(k) => s.api.fx.clock.advance(k * 50),
            Step::Window(u, from, to) => {
                if !users.is_empty() {
                    let patch = UserPatch {
                        valid_from: Some(from.map(|x| Timestamp(T0.0 + x))),
                        valid_to: Some(to.map(|x| Timestamp(T0.0 + x))),
                        ..UserPatch::default()
                    };
                    let _ = s.api.store.update_user(&staff(), users[u % users.len()], patch);
                }
            }
            Step::Tap(i, with_tech) => {
                let now = s.api.fx.clock.now().0;
                let o = c.decide("main", with_tech.then_some("iso14443a"), &hex(card(i).as_bytes())).unwrap();
                let key = (i, with_tech, now);
                let got = (o.grant, o.reason.clone());
                let got_ref = (got.0, got.1.as_deref());
                if o.online {
                    prop_assert!(!cut, "an online answer through a cut network");
                    let want = positions.last().unwrap().1[&key];
                    prop_assert_eq!(got_ref, want, "online answer for card {} at {}", i, now);
                    online += 1;
                } else {
                    let from = o.cursor.as_deref().map_or(i64::MIN, seq);
                    let could: Vec<Verdict> =
                        positions.iter().filter(|(p, _)| *p >= from).map(|(_, a)| a[&key]).collect();
                    prop_assert!(!could.is_empty(), "cursor {:?} is ahead of the service", o.cursor);
                    let unknown_for_a_deny =
                        got_ref == (false, Some("unknown_credential")) && could.iter().any(|v| !v.0);
                    prop_assert!(
                        could.contains(&got_ref) || unknown_for_a_deny,
                        "card {} (technology: {}) at {}: offline {:?} with cursor {:?}; the service answered {:?} \
                         at the positions since",
                        i,
                        with_tech,
                        now,
                        got_ref,
                        o.cursor,
                        could
                    );
                    offline.push((o.event_id.clone().unwrap(), got));
                }
            }
            Step::Sync => {
                let r = c.sync();
                prop_assert!(cut || r.is_ok(), "sync failed on a healthy network: {:?}", r);
            }
            Step::Cut => {
                s.net.cut();
                cut = true;
            }
            Step::Heal => {
                s.net.heal();
                cut = false;
            }
            Step::Upload => {
                let r = c.upload();
                prop_assert!(cut || r.error.is_none(), "upload failed on a healthy network: {:?}", r);
            }
        }
        let h = head(&s);
        if positions.last().unwrap().0 != h {
            positions.push((h, answers(&s, &times)));
        }
    }
    // Heal, sync, upload: every event exactly once.
    s.net.heal();
    c.sync().unwrap();
    let up = c.upload();
    prop_assert!(up.error.is_none() && up.pending == 0, "{:?}", up);
    let me = s.api.door.0;
    let log = idms::store::events::read_all(s.api.fx.dir.path()).unwrap();
    let mine: Vec<_> = log.iter().filter(|e| e.controller == Some(me)).collect();
    let mut by_id: HashMap<&str, Vec<(bool, Option<String>)>> = HashMap::new();
    for e in mine.iter().filter(|e| !e.online) {
        let v = (e.decision == Decision::Grant, e.decision.reason().map(|r| r.code().to_string()));
        by_id.entry(e.event_id.as_deref().unwrap()).or_default().push(v);
    }
    prop_assert_eq!(by_id.len(), offline.len(), "uploaded events that the controller did not make");
    for (id, v) in &offline {
        prop_assert_eq!(by_id.get(id.as_str()), Some(&vec![v.clone()]), "event {}", id);
    }
    prop_assert_eq!(mine.iter().filter(|e| e.online).count(), online, "online decisions in the log");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn offline_decisions_match_the_service_up_to_the_cursor_and_every_event_arrives_once(
        windows in prop::collection::vec((prop::option::of(edge()), prop::option::of(edge())), CARDS),
        steps in prop::collection::vec(step(), 30..45)
    ) {
        run(windows, steps)?;
    }
}
