//! Issue 2/5, must-be-true 7, and issue 15: the controllers' credential
//! feed. Each kind of change appears in the next delta — as the current
//! entry of a held credential, or as a removed key for one that lost its
//! holder; deltas replayed onto the first snapshot (upsert the entries,
//! delete the removed keys) reproduce the current snapshot exactly
//! (property tests, also with twins and paging).

use std::collections::{BTreeMap, BTreeSet};

use idms::domain::{RetireReason, Technology, Uid};
use idms::store::{Feed, FeedEntry, FeedKey, FeedKind, Store};
use proptest::prelude::*;

use crate::common::{Fixture, iso, staff};
use crate::props::{Op, apply, card, op};

type Replica = BTreeMap<(Technology, Uid), FeedEntry>;

fn key(e: &FeedEntry) -> (Technology, Uid) {
    (e.technology, e.uid)
}

fn snapshot(s: &Store) -> Replica {
    let f = s.credential_feed(None, usize::MAX).unwrap();
    assert_eq!(f.kind, FeedKind::Snapshot);
    assert!(f.removed.is_empty(), "a snapshot removes nothing");
    let listed: Replica = f.entries.into_iter().map(|e| (key(&e), e)).collect();
    // Held credentials, and those whose bytes are held under another technology.
    for e in listed.values().filter(|e| e.user_id.is_none()) {
        let elsewhere = listed.values().any(|o| o.uid == e.uid && o.technology != e.technology && o.user_id.is_some());
        assert!(elsewhere, "{e:?} has no holder and its bytes are held nowhere else");
    }
    listed
}

/// A delta page: its entries and removed keys, which never overlap.
struct Delta {
    entries: Replica,
    removed: BTreeSet<(Technology, Uid)>,
}

impl Delta {
    fn of(f: Feed) -> Self {
        assert_eq!(f.kind, FeedKind::Delta);
        let removed: BTreeSet<_> = f.removed.iter().map(|k: &FeedKey| (k.technology, k.uid)).collect();
        assert_eq!(removed.len(), f.removed.len(), "a key is removed once");
        let entries: Replica = f.entries.into_iter().map(|e| (key(&e), e)).collect();
        assert!(entries.keys().all(|k| !removed.contains(k)), "upserted and removed at once");
        Self { entries, removed }
    }

    /// Upserts the entries and deletes the removed keys.
    fn apply(self, replica: &mut Replica) {
        replica.retain(|k, _| !self.removed.contains(k));
        replica.extend(self.entries);
    }
}

/// The delta since `cursor`: (delta, next cursor).
fn delta(s: &Store, cursor: &str) -> (Delta, String) {
    let f = s.credential_feed(Some(cursor), usize::MAX).unwrap();
    let cursor = f.cursor.clone();
    (Delta::of(f), cursor)
}

/// The feed's own operations on top of the store's: the same bytes under
/// another technology (a twin when someone else holds them), and unbinding
/// a twin, so ambiguity comes and goes.
#[derive(Debug, Clone)]
enum FeedOp {
    Store(Op),
    EnrollOther(usize, usize),
    UnbindTwin(usize, bool),
}

fn feed_op() -> impl Strategy<Value = FeedOp> {
    prop_oneof![
        8 => op().prop_map(FeedOp::Store),
        1 => (0usize..8, 0usize..3).prop_map(|(u, c)| FeedOp::EnrollOther(u, c)),
        1 => (0usize..3, any::<bool>()).prop_map(|(c, other)| FeedOp::UnbindTwin(c, other)),
    ]
}

fn apply_feed_op(f: &Fixture, users: &[idms::domain::UserId], op: FeedOp) -> Option<idms::domain::UserId> {
    match op {
        FeedOp::Store(op) => apply(f, users, op),
        FeedOp::EnrollOther(u, c) => {
            if !users.is_empty() {
                let _ = f.store.enroll(&staff(), users[u % users.len()], Technology::Other, &card(c));
            }
            None
        }
        FeedOp::UnbindTwin(c, other) => {
            let tech = if other { Technology::Other } else { Technology::Iso14443a };
            let _ = f.store.unbind_twin(&staff(), tech, &card(c));
            None
        }
    }
}

#[test]
fn each_kind_of_change_is_in_the_next_delta() {
    let f = Fixture::new();
    let s = &f.store;
    let mut cursor = s.credential_feed(None, usize::MAX).unwrap().cursor;
    let next = |cursor: &mut String, want: &str, uid: &str, check: &dyn Fn(&FeedEntry) -> bool| {
        let (d, c) = delta(s, cursor);
        *cursor = c;
        assert!(d.removed.is_empty(), "{want}: nothing lost its holder");
        let e =
            d.entries.get(&(Technology::Iso14443a, iso(uid))).unwrap_or_else(|| panic!("{want}: {uid} not in delta"));
        assert!(check(e), "{want}: {e:?}");
        d.entries.len()
    };
    let u = f.person().id;
    f.enroll(u, "04000001").unwrap();
    next(&mut cursor, "enrolment", "04000001", &|e| e.state.as_str() == "issued" && e.user_id == Some(u));
    s.suspend(&staff(), u).unwrap();
    next(&mut cursor, "suspend", "04000001", &|e| e.holder_state.map(|h| h.as_str()) == Some("suspended"));
    s.resume(&staff(), u).unwrap();
    s.delete(&staff(), u).unwrap();
    next(&mut cursor, "delete", "04000001", &|e| e.holder_state.map(|h| h.as_str()) == Some("deleted"));
    // Expunging the holder closes the binding: the card leaves the feed.
    s.expunge(&staff(), u, &u.to_string()).unwrap();
    let (d, c) = delta(s, &cursor);
    cursor = c;
    assert!(d.entries.is_empty());
    assert_eq!(d.removed, BTreeSet::from([(Technology::Iso14443a, iso("04000001"))]), "expunge removes the card");
    assert!(!snapshot(s).contains_key(&(Technology::Iso14443a, iso("04000001"))), "nor is it in a snapshot");
    // A retired card that is still bound stays, with its state.
    let v = f.person().id;
    f.enroll(v, "04000002").unwrap();
    s.revoke(&staff(), None, &iso("04000002"), RetireReason::Lost).unwrap();
    let n = next(&mut cursor, "revoke", "04000002", &|e| e.state.as_str() == "lost" && e.user_id == Some(v));
    assert_eq!(n, 1, "the delta holds only what changed");
    assert_eq!(snapshot(s)[&(Technology::Iso14443a, iso("04000002"))].state.as_str(), "lost");
    // A validity change of the holder reaches the delta too.
    let w = f.person().id;
    f.enroll(w, "04000003").unwrap();
    delta(s, &cursor);
    let (_, c) = delta(s, &cursor);
    cursor = c;
    let patch =
        idms::store::UserPatch { valid_to: Some(Some(idms::domain::Timestamp(2_000_000_000))), ..Default::default() };
    s.update_user(&staff(), w, patch).unwrap();
    let (d, _) = delta(s, &cursor);
    assert_eq!(
        d.entries[&(Technology::Iso14443a, iso("04000003"))].valid_to,
        Some(idms::domain::Timestamp(2_000_000_000))
    );
    // No personal data in the feed's JSON; null fields and `ambiguous: false` are left out.
    let json = serde_json::to_value(idms::api::dto::Feed::from(s.credential_feed(None, usize::MAX).unwrap())).unwrap();
    let keys = |e: &serde_json::Value| -> Vec<String> { e.as_object().unwrap().keys().cloned().collect() };
    // Each holder holds the default level "All doors, always", with no window.
    assert_eq!(keys(&json["entries"][0]), ["holder_state", "levels", "state", "technology", "uid", "user_id"]);
    assert_eq!(json["entries"][0]["levels"], serde_json::json!([{"id": 1}]));
    assert_eq!(
        keys(&json["entries"][1]),
        ["holder_state", "levels", "state", "technology", "uid", "user_id", "valid_to"]
    );
    assert!(json.get("removed").is_none(), "a snapshot has no removed keys: {json}");
}

#[test]
fn a_cursor_from_elsewhere_gets_a_snapshot() {
    let f = Fixture::new();
    f.enroll(f.person().id, "04000009").unwrap();
    let head = f.store.credential_feed(None, usize::MAX).unwrap().cursor;
    assert_eq!(f.store.credential_feed(Some(&head), usize::MAX).unwrap().kind, FeedKind::Delta);
    let (seq, tag) = head.split_once('-').unwrap();
    let seq: i64 = seq.parse().unwrap();
    // Positions this history never reached, garbage, and a right position
    // with the wrong tag (another history) all get a snapshot.
    for bad in [format!("{}-{tag}", seq + 1), "-1-0".into(), "nonsense".into(), format!("{seq}-000000000000")] {
        let r = f.store.credential_feed(Some(&bad), usize::MAX).unwrap();
        assert_eq!((r.kind, r.entries.len()), (FeedKind::Snapshot, 1), "{bad}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn deltas_replayed_onto_the_first_snapshot_give_the_current_snapshot(
        ops in prop::collection::vec((feed_op(), any::<bool>()), 1..40)
    ) {
        let f = Fixture::new();
        let mut replica = snapshot(&f.store);
        let mut cursor = f.store.credential_feed(None, usize::MAX).unwrap().cursor;
        let mut users = Vec::new();
        for (op, sync_now) in ops {
            if let Some(id) = apply_feed_op(&f, &users, op) {
                users.push(id);
            }
            if sync_now {
                let (d, c) = delta(&f.store, &cursor);
                d.apply(&mut replica);
                cursor = c;
            }
        }
        let (d, _) = delta(&f.store, &cursor);
        d.apply(&mut replica);
        prop_assert_eq!(replica, snapshot(&f.store));
    }
}

/// Pages everything from `since` with pages of `limit`: (the pages, cursor, first kind).
fn paged(s: &Store, since: Option<&str>, limit: usize) -> (Vec<Feed>, String, FeedKind) {
    let mut out = Vec::new();
    let first = s.credential_feed(since, limit).unwrap();
    let kind = first.kind;
    assert_eq!(first.page, 0);
    let mut page = first;
    loop {
        assert!(page.entries.len() + page.removed.len() <= limit, "limit bounds entries and removed keys together");
        let (more, cursor) = (page.more, page.cursor.clone());
        out.push(page);
        if !more {
            return (out, cursor, kind);
        }
        let next = s.credential_feed(Some(&cursor), limit).unwrap();
        assert_eq!(next.kind, kind);
        page = next;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The same, in pages of one to four entries, with changes made between pages.
    #[test]
    fn paged_feeds_replay_to_the_current_snapshot(
        ops in prop::collection::vec((feed_op(), any::<bool>()), 1..40),
        limit in 1usize..5,
    ) {
        let f = Fixture::new();
        let (first, mut cursor, kind) = paged(&f.store, None, limit);
        prop_assert_eq!(kind, FeedKind::Snapshot);
        let mut replica: Replica = first.into_iter().flat_map(|p| p.entries).map(|e| (key(&e), e)).collect();
        let mut users = Vec::new();
        for (op, sync_now) in ops {
            if let Some(id) = apply_feed_op(&f, &users, op) {
                users.push(id);
            }
            if sync_now {
                let (d, c, kind) = paged(&f.store, Some(&cursor), limit);
                prop_assert_eq!(kind, FeedKind::Delta);
                for page in d {
                    Delta::of(page).apply(&mut replica);
                }
                cursor = c;
            }
        }
        let (d, _, _) = paged(&f.store, Some(&cursor), limit);
        for page in d {
            Delta::of(page).apply(&mut replica);
        }
        prop_assert_eq!(replica, snapshot(&f.store));
    }
}

#[test]
fn a_paged_snapshot_taken_during_changes_is_completed_by_the_next_delta() {
    let f = Fixture::new();
    for i in 0..6 {
        f.enroll(f.person().id, &format!("040000{i:02}")).unwrap();
    }
    let p0 = f.store.credential_feed(None, 2).unwrap();
    assert!(p0.more && p0.entries.len() == 2 && p0.page == 0);
    // A change to a card already sent, while the snapshot is being paged.
    f.store.revoke(&staff(), None, &iso("04000000"), RetireReason::Stolen).unwrap();
    let mut replica: BTreeMap<_, _> = p0.entries.into_iter().map(|e| (key(&e), e)).collect();
    let mut cursor = p0.cursor;
    loop {
        let p = f.store.credential_feed(Some(&cursor), 2).unwrap();
        assert_eq!(p.kind, FeedKind::Snapshot);
        replica.extend(p.entries.into_iter().map(|e| (key(&e), e)));
        cursor = p.cursor;
        if !p.more {
            break;
        }
    }
    assert_eq!(replica[&(Technology::Iso14443a, iso("04000000"))].state.as_str(), "issued", "sent before the change");
    let (d, _) = delta(&f.store, &cursor);
    d.apply(&mut replica);
    assert_eq!(replica, snapshot(&f.store));
    // A continuation token from another history starts over.
    let p = f.store.credential_feed(Some("p.1.x.99-abcdef.3"), 2).unwrap();
    assert_eq!((p.kind, p.page), (FeedKind::Snapshot, 0));
}

/// A card without a holder stays listed while its bytes are held under
/// another technology (a reader that cannot tell the technology must deny
/// them `credential_in_stock` offline as online), and leaves with them.
#[test]
fn a_holderless_card_stays_while_its_bytes_are_held_under_another_technology() {
    let f = Fixture::new();
    let s = &f.store;
    let (a, b) = (f.person().id, f.person().id);
    f.enroll(a, "04000010").unwrap();
    let mut cursor = s.credential_feed(None, usize::MAX).unwrap().cursor;
    s.delete(&staff(), a).unwrap();
    s.expunge(&staff(), a, &a.to_string()).unwrap();
    let (d, c) = delta(s, &cursor);
    cursor = c;
    let iso_key = (Technology::Iso14443a, iso("04000010"));
    let other_key = (Technology::Other, iso("04000010"));
    assert_eq!(d.removed, BTreeSet::from([iso_key]), "no holder, bytes held nowhere else");
    s.enroll(&staff(), b, Technology::Other, &iso("04000010")).unwrap();
    let (d, c) = delta(s, &cursor);
    cursor = c;
    assert!(d.removed.is_empty());
    assert_eq!(d.entries.keys().copied().collect::<Vec<_>>(), [iso_key, other_key]);
    assert_eq!((d.entries[&iso_key].state.as_str(), d.entries[&iso_key].user_id), ("in_stock", None));
    assert_eq!(d.entries[&other_key].user_id, Some(b));
    assert_eq!(snapshot(s).len(), 2);
    s.delete(&staff(), b).unwrap();
    s.expunge(&staff(), b, &b.to_string()).unwrap();
    let (d, _) = delta(s, &cursor);
    assert!(d.entries.is_empty());
    assert_eq!(d.removed, BTreeSet::from([iso_key, other_key]));
    assert!(snapshot(s).is_empty());
}

/// The snapshot is read from the decision index, which follows writes of
/// other processes (the CLI) by tailing the log: a snapshot taken before
/// the index caught up carries a cursor no later than what it reflects, so
/// the next delta brings the rest and the replica ends equal to a fresh
/// snapshot.
#[test]
fn a_snapshot_taken_before_the_index_caught_up_is_completed_by_the_next_delta() {
    let f = Fixture::new();
    let a = f.person().id;
    f.enroll(a, "04000001").unwrap();
    assert_eq!(f.store.index().credentials(), 1);
    // Another process (as the CLI does) enrols a card and revokes the first.
    let cli = Store::open(&f.db_path(), f.clock.clone()).unwrap();
    let b = cli.create_user(&staff(), crate::common::new_user("Cli", "Person")).unwrap().id;
    cli.enroll(&staff(), b, Technology::Iso14443a, &iso("04000002")).unwrap();
    cli.revoke(&staff(), None, &iso("04000001"), RetireReason::Stolen).unwrap();
    let first = f.store.credential_feed(None, usize::MAX).unwrap();
    let seen = f.store.index().applied_seq();
    let at: i64 = first.cursor.split_once('-').unwrap().0.parse().unwrap();
    assert!(at <= seen, "the cursor ({at}) must not claim more than the entries reflect ({seen})");
    let mut replica: Replica = first.entries.into_iter().map(|e| (key(&e), e)).collect();
    f.store.catch_up().unwrap();
    let (d, _) = delta(&f.store, &first.cursor);
    d.apply(&mut replica);
    assert_eq!(replica, snapshot(&f.store));
    assert_eq!(replica[&(Technology::Iso14443a, iso("04000001"))].state.as_str(), "stolen");
    assert!(replica.contains_key(&(Technology::Iso14443a, iso("04000002"))));
}

/// A snapshot's pages go on after a credential whose stored bytes today's
/// enrolment rules would refuse (a random-UID `08…` ISO card written
/// before the rule, or by hand): the continuation names the bytes as
/// stored, so the paging ends and lists every card.
#[test]
fn a_snapshot_pages_past_a_stored_uid_the_enrolment_rules_would_refuse() {
    let f = Fixture::new();
    let a = f.person().id;
    // Seven-byte UIDs: the four-byte one sorts first, so a continuation names it.
    f.enroll(a, "04000000000001").unwrap();
    f.enroll(a, "04000000000003").unwrap();
    let c = rusqlite::Connection::open(f.db_path()).unwrap();
    c.execute(
        "INSERT INTO credentials (technology, uid, state, created_at, updated_at) VALUES ('iso14443a', X'08A1B2C3', 'issued', 1, 1)",
        [],
    )
    .unwrap();
    c.execute(
        "INSERT INTO bindings (credential_id, user_id, opened_at, opened_by) VALUES (last_insert_rowid(), ?1, 1, 'test')",
        [a.as_i64()],
    )
    .unwrap();
    drop(c);
    // A store opened now builds its index from the tables.
    let s = Store::open(&f.db_path(), f.clock.clone()).unwrap();
    let (mut listed, mut since, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let p = s.credential_feed(since.as_deref(), 1).unwrap();
        assert_eq!(p.kind, FeedKind::Snapshot);
        assert_eq!(p.page, pages, "the sequence goes on, it does not start over");
        pages += 1;
        listed.extend(p.entries.iter().map(|e| e.uid.to_string()));
        if !p.more {
            break;
        }
        since = Some(p.cursor);
        assert!(pages < 10, "the snapshot never ends");
    }
    assert_eq!(listed, ["08A1B2C3", "04000000000001", "04000000000003"]);
}
