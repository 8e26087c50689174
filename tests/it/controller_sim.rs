//! Issue 15: the simulated door controller (hw-sim) against a real service
//! over TCP, through a partition proxy: snapshot staging over many pages, a
//! cut mid-snapshot, deltas, offline decisions that agree with the online
//! ones, buffered events uploaded exactly once after a partition heals, and
//! a restart that keeps the cursor and the unsent events.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use hw_sim::controller::wire::Kind;
use hw_sim::controller::{Config, Controller, Outcome};
use hw_sim::netcut::Partition;
use idms::clock::Clock;
use idms::domain::{RetireReason, Timestamp, UserId};
use idms::store::{NewUser, UserPatch};

use crate::api::Api;
use crate::common::{Fixture, T0, iso, new_user, staff};

/// The service over TCP on a runtime of its own, behind a partition proxy.
pub struct Served {
    pub api: Api,
    pub net: Partition,
    _rt: tokio::runtime::Runtime,
}

impl Served {
    pub fn new() -> Self {
        Self::over(Fixture::new)
    }

    /// The service over the fixture `fx` makes (inside the runtime).
    pub fn over(fx: impl FnOnce() -> Fixture) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        // The service's event log starts a task on the runtime.
        let api = {
            let _in = rt.enter();
            Api::over(fx())
        };
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let app = api.app.clone();
        rt.spawn(async move { axum::serve(listener, app).await });
        let net = Partition::start(addr).unwrap();
        Self { api, net, _rt: rt }
    }

    /// The controller of door `main`, through the proxy, on the fixture's clock.
    pub fn controller(&self, dir: &Path, page_limit: Option<usize>) -> Controller {
        let clock = self.api.fx.clock.clone();
        let mut cfg = Config::new(
            &format!("http://{}", self.net.addr()),
            &self.api.door.1,
            vec!["main".to_string()],
            dir.to_path_buf(),
        );
        cfg.clock = Arc::new(move || clock.now().0);
        cfg.page_limit = page_limit;
        Controller::open(cfg).unwrap()
    }

    /// A person (created through the service's own store, so its index is current).
    pub fn person(&self, window: (Option<i64>, Option<i64>)) -> UserId {
        let n = NewUser {
            valid_from: window.0.map(|x| Timestamp(T0.0 + x)),
            valid_to: window.1.map(|x| Timestamp(T0.0 + x)),
            ..new_user("Sim", "Person")
        };
        self.api.store.create_user(&staff(), n).unwrap().id
    }

    pub fn enroll(&self, user: UserId, uid: &str) {
        self.api.store.enroll(&staff(), user, idms::domain::Technology::Iso14443a, &iso(uid)).unwrap();
    }

    /// The service's log, uploaded events by event ID: how many times each.
    pub fn uploaded(&self) -> HashMap<String, usize> {
        let mut n = HashMap::new();
        for e in idms::store::events::read_all(self.api.fx.dir.path()).unwrap() {
            if let Some(id) = e.event_id {
                *n.entry(id).or_default() += 1;
            }
        }
        n
    }
}

fn verdict(o: &Outcome) -> (bool, Option<&str>) {
    (o.grant, o.reason.as_deref())
}

#[test]
fn a_snapshot_in_small_pages_is_staged_and_applied_whole() {
    let s = Served::new();
    for i in 0..13 {
        s.enroll(s.person((None, None)), &format!("0401{i:04X}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let c = s.controller(dir.path(), Some(2));
    let r = c.sync().unwrap();
    assert_eq!((r.kind, r.pages, r.entries), (Some(Kind::Snapshot), 7, 13));
    assert_eq!(c.cursor(), r.cursor);
    // The next sync is a delta of nothing.
    let r = c.sync().unwrap();
    assert_eq!((r.kind, r.pages, r.entries), (Some(Kind::Delta), 1, 13));
}

#[test]
fn a_cut_mid_snapshot_keeps_the_old_list_and_the_sync_goes_on_after_healing() {
    let s = Served::new();
    for i in 0..6 {
        s.enroll(s.person((None, None)), &format!("0402{i:04X}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let c = s.controller(dir.path(), Some(2));
    c.sync().unwrap();
    let old = (c.list(), c.cursor());
    s.api.store.revoke(&staff(), None, &iso("04020000"), RetireReason::Stolen).unwrap();
    // A new snapshot starts (as after a cursor the service no longer knows):
    // its first page arrives, then the network is cut.
    let first = c.fetch_page(None).unwrap();
    assert!(first.more && first.kind == Kind::Snapshot);
    c.apply_page(first).unwrap();
    s.net.cut();
    assert!(c.sync().is_err());
    assert_eq!((c.list(), c.cursor()), old, "half a snapshot replaced the list");
    let o = c.decide("main", Some("iso14443a"), "04020000").unwrap();
    assert_eq!((verdict(&o), o.online, o.cursor.clone()), ((true, None), false, old.1.clone()));
    s.net.heal();
    let r = c.sync().unwrap();
    assert_eq!((r.kind, r.pages), (Some(Kind::Snapshot), 2), "the staged snapshot went on from its second page");
    assert_ne!(c.cursor(), None);
    let o = c.decide_offline("main", Some("iso14443a"), &[4, 2, 0, 0]).unwrap();
    assert_eq!(verdict(&o), (false, Some("credential_stolen")));
}

#[test]
fn deltas_reach_the_controllers_list() {
    let s = Served::new();
    let (a, b) = (s.person((None, None)), s.person((None, None)));
    s.enroll(a, "04030001");
    s.enroll(b, "04030002");
    let dir = tempfile::tempdir().unwrap();
    let c = s.controller(dir.path(), Some(1));
    c.sync().unwrap();
    let before = c.cursor();
    s.api.store.suspend(&staff(), a).unwrap();
    s.api.store.revoke(&staff(), None, &iso("04030002"), RetireReason::Lost).unwrap();
    let n = s.person((Some(100), None));
    s.enroll(n, "04030003");
    let r = c.sync().unwrap();
    assert_eq!(r.kind, Some(Kind::Delta));
    assert_ne!(c.cursor(), before);
    let off = |uid: &[u8]| verdict(&c.decide_offline("main", None, uid).unwrap()).1.map(str::to_string);
    assert_eq!(off(&[4, 3, 0, 1]).as_deref(), Some("holder_suspended"));
    assert_eq!(off(&[4, 3, 0, 2]).as_deref(), Some("credential_lost"));
    assert_eq!(off(&[4, 3, 0, 3]).as_deref(), Some("not_yet_valid"));
    s.api.fx.clock.advance(100);
    assert_eq!(off(&[4, 3, 0, 3]), None);
}

/// One card for each reason (and one that grants): the controller's
/// offline answer is the service's online one.
#[test]
fn offline_decisions_agree_with_online_ones_for_every_deny_reason() {
    let s = Served::new();
    let st = &s.api.store;
    let card = |n: u8| format!("0404000{n:X}");
    let mut cases: Vec<(String, Option<&str>)> = Vec::new();
    let mut add = |uid: String, want: Option<&'static str>| cases.push((uid, want));
    s.enroll(s.person((None, None)), &card(1));
    add(card(1), None);
    for (n, reason, code) in [
        (2, RetireReason::Lost, "credential_lost"),
        (3, RetireReason::Stolen, "credential_stolen"),
        (4, RetireReason::Destroyed, "credential_destroyed"),
    ] {
        s.enroll(s.person((None, None)), &card(n));
        st.revoke(&staff(), None, &iso(&card(n)), reason).unwrap();
        add(card(n), Some(code));
    }
    s.enroll(s.person((None, None)), &card(5));
    st.suspend_credential(&staff(), None, &iso(&card(5))).unwrap();
    add(card(5), Some("credential_suspended"));
    let p = s.person((None, None));
    s.enroll(p, &card(6));
    st.delete(&staff(), p).unwrap();
    add(card(6), Some("holder_deleted"));
    let p = s.person((None, None));
    s.enroll(p, &card(7));
    st.suspend(&staff(), p).unwrap();
    add(card(7), Some("holder_suspended"));
    s.enroll(s.person((Some(50), None)), &card(8));
    add(card(8), Some("not_yet_valid"));
    s.enroll(s.person((None, Some(50))), &card(9));
    add(card(9), Some("expired"));
    let p = s.person((None, None));
    s.enroll(p, &card(10));
    st.delete(&staff(), p).unwrap();
    st.expunge(&staff(), p, &p.to_string()).unwrap();
    add(card(10), Some("credential_in_stock"));
    add(card(11), Some("unknown_credential"));
    let dir = tempfile::tempdir().unwrap();
    let c = s.controller(dir.path(), Some(3));
    c.sync().unwrap();
    // Both sides of the window edges: at 49 and 50 seconds after T0.
    for at in [49, 50] {
        s.api.fx.clock.set(Timestamp(T0.0 + at));
        for (uid, want) in &cases {
            for tech in [Some("iso14443a"), None] {
                let online = c.decide("main", tech, uid).unwrap();
                assert!(online.online, "{uid}: the service did not answer");
                s.net.cut();
                let offline = c.decide("main", tech, uid).unwrap();
                s.net.heal();
                assert!(!offline.online);
                let want = match (*want, at) {
                    (Some("not_yet_valid"), 50) | (Some("expired"), 49) => None,
                    (w, _) => w,
                };
                assert_eq!(verdict(&online), (want.is_none(), want), "{uid} {tech:?} at {at} online");
                if offline.reason.as_deref() == Some("unknown_credential") && !online.grant {
                    // Not in the feed (no holder): the controller cannot
                    // know why; it denies either way.
                    continue;
                }
                assert_eq!(verdict(&offline), verdict(&online), "{uid} {tech:?} at {at}");
                assert_eq!(offline.user_id, online.user_id, "{uid} {tech:?} at {at}");
            }
        }
    }
}

#[test]
fn events_buffered_in_a_partition_are_uploaded_once_after_it_heals() {
    let s = Served::new();
    s.enroll(s.person((None, None)), "04050001");
    let dir = tempfile::tempdir().unwrap();
    let c = s.controller(dir.path(), None);
    c.sync().unwrap();
    s.net.cut();
    let ids: Vec<String> = ["04050001", "04050002", "04050001"]
        .iter()
        .map(|u| c.decide("main", None, u).unwrap().event_id.unwrap())
        .collect();
    let up = c.upload();
    assert!(up.error.is_some() && up.settled == 0 && up.pending == 3, "{up:?}");
    s.net.heal();
    let up = c.upload();
    assert_eq!((up.error, up.sent, up.accepted, up.settled, up.pending), (None, 3, 3, 3, 0));
    let again = c.upload();
    assert_eq!((again.sent, again.pending), (0, 0));
    let log = s.uploaded();
    for id in &ids {
        assert_eq!(log.get(id), Some(&1), "{id}");
    }
    assert_eq!(log.len(), 3);
}

#[test]
fn a_restarted_controller_keeps_its_cursor_and_unsent_events() {
    let s = Served::new();
    s.enroll(s.person((None, None)), "04060001");
    let dir = tempfile::tempdir().unwrap();
    let c = s.controller(dir.path(), None);
    c.sync().unwrap();
    let cursor = c.cursor();
    s.net.cut();
    let first = c.decide("main", None, "04060001").unwrap();
    assert_eq!((verdict(&first), first.online), ((true, None), false));
    drop(c);
    let c = s.controller(dir.path(), None);
    assert_eq!(c.cursor(), cursor);
    assert_eq!(c.pending().len(), 1);
    let second = c.decide("main", None, "04060001").unwrap();
    assert_eq!((verdict(&second), second.cursor.clone()), ((true, None), cursor.clone()));
    assert_ne!(first.event_id, second.event_id);
    s.net.heal();
    // The next sync is a delta from the saved cursor.
    assert_eq!(c.sync().unwrap().kind, Some(Kind::Delta));
    assert_eq!(c.upload().settled, 2);
    let log = s.uploaded();
    assert_eq!((log[&first.event_id.unwrap()], log[&second.event_id.unwrap()]), (1, 1));
}

/// A window change is in the next delta and the offline answer follows it.
#[test]
fn a_window_change_reaches_the_offline_answer() {
    let s = Served::new();
    let p = s.person((None, None));
    s.enroll(p, "04070001");
    let dir = tempfile::tempdir().unwrap();
    let c = s.controller(dir.path(), None);
    c.sync().unwrap();
    let patch = UserPatch { valid_to: Some(Some(Timestamp(T0.0 + 10))), ..Default::default() };
    s.api.store.update_user(&staff(), p, patch).unwrap();
    c.sync().unwrap();
    s.api.fx.clock.set(Timestamp(T0.0 + 10));
    let o = c.decide_offline("main", Some("iso14443a"), &[4, 7, 0, 1]).unwrap();
    assert_eq!(verdict(&o), (false, Some("expired")));
}

/// Twins (the same bytes bound to two people under two technologies, left
/// by an older build): ambiguous offline as online, with no holder; once an
/// admin unbinds one, a reader without technology still denies the unbound
/// card's bytes, offline as online.
#[test]
fn twins_and_an_unbound_twin_decide_offline_as_online() {
    let s = Served::over(|| {
        let fx = Fixture::new();
        let (a, b) = (fx.person().id, fx.person().id);
        fx.enroll(a, "04090001").unwrap();
        crate::twins::force_twin(&fx.db_path(), &iso("04090001"), b);
        fx
    });
    let dir = tempfile::tempdir().unwrap();
    let c = s.controller(dir.path(), None);
    let both = |want: (bool, Option<&str>)| {
        c.sync().unwrap();
        for tech in [Some("iso14443a"), Some("other"), None] {
            let online = c.decide("main", tech, "04090001").unwrap();
            s.net.cut();
            let offline = c.decide("main", tech, "04090001").unwrap();
            s.net.heal();
            assert!(online.online && !offline.online);
            let w = if tech == Some("other") && want.1 == Some("credential_destroyed") { (true, None) } else { want };
            assert_eq!(verdict(&online), w, "{tech:?} online");
            if verdict(&offline) == (false, Some("unknown_credential")) && !w.0 {
                // Left the feed (no holder): denied either way.
                continue;
            }
            assert_eq!((verdict(&offline), &offline.user_id), (w, &online.user_id), "{tech:?} offline");
        }
    };
    both((false, Some("credential_ambiguous")));
    s.api.store.unbind_twin(&staff(), idms::domain::Technology::Iso14443a, &iso("04090001")).unwrap();
    both((false, Some("credential_destroyed")));
}
