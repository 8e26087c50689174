//! Issue 2/5, must-be-true 7: the controllers' credential feed. Each kind
//! of change appears in the next delta; deltas replayed onto the first
//! snapshot reproduce the current snapshot exactly (property test).

use std::collections::BTreeMap;

use idms::domain::{RetireReason, Technology, Uid};
use idms::store::{FeedEntry, FeedKind, Store};
use proptest::prelude::*;

use crate::common::{Fixture, iso, staff};
use crate::props::{apply, op};

fn key(e: &FeedEntry) -> (Technology, Uid) {
    (e.technology, e.uid)
}

fn snapshot(s: &Store) -> BTreeMap<(Technology, Uid), FeedEntry> {
    let f = s.credential_feed(None, usize::MAX).unwrap();
    assert_eq!(f.kind, FeedKind::Snapshot);
    f.entries.into_iter().map(|e| (key(&e), e)).collect()
}

/// The delta since `cursor`: (entries by key, next cursor).
fn delta(s: &Store, cursor: &str) -> (BTreeMap<(Technology, Uid), FeedEntry>, String) {
    let f = s.credential_feed(Some(cursor), usize::MAX).unwrap();
    assert_eq!(f.kind, FeedKind::Delta);
    (f.entries.into_iter().map(|e| (key(&e), e)).collect(), f.cursor)
}

#[test]
fn each_kind_of_change_is_in_the_next_delta() {
    let f = Fixture::new();
    let s = &f.store;
    let mut cursor = s.credential_feed(None, usize::MAX).unwrap().cursor;
    let mut next = |want: &str, uid: &str, check: &dyn Fn(&FeedEntry) -> bool| {
        let (d, c) = delta(s, &cursor);
        cursor = c;
        let e = d.get(&(Technology::Iso14443a, iso(uid))).unwrap_or_else(|| panic!("{want}: {uid} not in delta {d:?}"));
        assert!(check(e), "{want}: {e:?}");
        d.len()
    };
    let u = f.person().id;
    f.enroll(u, "04000001").unwrap();
    next("enrolment", "04000001", &|e| e.state.as_str() == "issued" && e.user_id == Some(u));
    s.suspend(&staff(), u).unwrap();
    next("suspend", "04000001", &|e| e.holder_state.map(|h| h.as_str()) == Some("suspended"));
    s.resume(&staff(), u).unwrap();
    s.delete(&staff(), u).unwrap();
    next("delete", "04000001", &|e| e.holder_state.map(|h| h.as_str()) == Some("deleted"));
    s.expunge(&staff(), u, &u.to_string()).unwrap();
    next("expunge", "04000001", &|e| e.state.as_str() == "in_stock" && e.user_id.is_none());
    let v = f.person().id;
    f.enroll(v, "04000002").unwrap();
    s.revoke(&staff(), None, &iso("04000002"), RetireReason::Lost).unwrap();
    let n = next("revoke", "04000002", &|e| e.state.as_str() == "lost");
    assert_eq!(n, 1, "the delta holds only what changed");
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
    assert_eq!(d[&(Technology::Iso14443a, iso("04000003"))].valid_to, Some(idms::domain::Timestamp(2_000_000_000)));
    // No personal data in the feed's JSON.
    let json = serde_json::to_value(idms::api::dto::Feed::from(s.credential_feed(None, usize::MAX).unwrap())).unwrap();
    let keys: Vec<String> = json["entries"][0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["ambiguous", "holder_state", "state", "technology", "uid", "user_id", "valid_from", "valid_to"]);
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
        ops in prop::collection::vec((op(), any::<bool>()), 1..40)
    ) {
        let f = Fixture::new();
        let mut replica = snapshot(&f.store);
        let mut cursor = f.store.credential_feed(None, usize::MAX).unwrap().cursor;
        let mut users = Vec::new();
        for (op, sync_now) in ops {
            if let Some(id) = apply(&f, &users, op) {
                users.push(id);
            }
            if sync_now {
                let (d, c) = delta(&f.store, &cursor);
                replica.extend(d);
                cursor = c;
            }
        }
        let (d, _) = delta(&f.store, &cursor);
        replica.extend(d);
        prop_assert_eq!(replica, snapshot(&f.store));
    }
}

/// Pages everything from `since` with pages of `limit`: (upserts, cursor, first kind).
fn paged(s: &Store, since: Option<&str>, limit: usize) -> (Vec<FeedEntry>, String, FeedKind) {
    let mut out = Vec::new();
    let first = s.credential_feed(since, limit).unwrap();
    let kind = first.kind;
    assert_eq!(first.page, 0);
    let mut page = first;
    loop {
        assert!(page.entries.len() <= limit);
        out.extend(page.entries);
        if !page.more {
            return (out, page.cursor, kind);
        }
        let next = s.credential_feed(Some(&page.cursor), limit).unwrap();
        assert_eq!(next.kind, kind);
        page = next;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The same, in pages of one to four entries, with changes made between pages.
    #[test]
    fn paged_feeds_replay_to_the_current_snapshot(
        ops in prop::collection::vec((op(), any::<bool>()), 1..40),
        limit in 1usize..5,
    ) {
        let f = Fixture::new();
        let (first, mut cursor, kind) = paged(&f.store, None, limit);
        prop_assert_eq!(kind, FeedKind::Snapshot);
        let mut replica: BTreeMap<_, _> = first.into_iter().map(|e| (key(&e), e)).collect();
        let mut users = Vec::new();
        for (op, sync_now) in ops {
            if let Some(id) = apply(&f, &users, op) {
                users.push(id);
            }
            if sync_now {
                let (d, c, kind) = paged(&f.store, Some(&cursor), limit);
                prop_assert_eq!(kind, FeedKind::Delta);
                replica.extend(d.into_iter().map(|e| (key(&e), e)));
                cursor = c;
            }
        }
        let (d, _, _) = paged(&f.store, Some(&cursor), limit);
        replica.extend(d.into_iter().map(|e| (key(&e), e)));
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
    replica.extend(d);
    assert_eq!(replica, snapshot(&f.store));
    // A continuation token from another history starts over.
    let p = f.store.credential_feed(Some("p.1.x.99-abcdef.3"), 2).unwrap();
    assert_eq!((p.kind, p.page), (FeedKind::Snapshot, 0));
}
