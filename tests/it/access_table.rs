//! Issue 16, must-be-true 1 and 3: a decision table of people × doors ×
//! times — a holiday, the Berlin and New York spring-forward and fall-back
//! nights, a 22:00-06:00 interval, an assignment's validity edges, a group's
//! level, no level — decided three ways: by the index
//! (`Index::decide_at_door`), by `POST /api/v1/access/decide` on the
//! service's settable clock, and by the reference controller's offline rule
//! (hw-sim) over the feed it was sent. The three agree on the decision and
//! the reason, except that a card the controller's list does not hold (its
//! holder reaches none of its doors) is `unknown_credential` offline where
//! the service names its own reason: both deny. And a controller's feed
//! holds no level, schedule or card that touches none of its doors, and no
//! personal data — in the snapshot and in the deltas after changes.

use axum::http::{Method, StatusCode};
use hw_sim::controller::feed::Feed as HeldList;
use hw_sim::controller::rule;
use hw_sim::controller::wire::parse_page;
use idms::domain::access::{Holiday, Schedule};
use idms::domain::{Decision, RetireReason, Technology, Timestamp, UserId, ValidityWindow};
use idms::store::NewUser;
use idms::store::levels::{GrantTarget, Holder};
use serde_json::{Value, json};

use crate::api::Api;
use crate::common::{iso, new_user, staff};

fn at(s: &str) -> Timestamp {
    Timestamp::parse("t", s).unwrap()
}

type Verdict = (bool, Option<String>);

fn verdict(d: Decision) -> Verdict {
    (d == Decision::Grant, d.reason().map(|r| r.code().to_string()))
}

const GRANT: (bool, Option<&str>) = (true, None);
const OUTSIDE: (bool, Option<&str>) = (false, Some("outside_schedule"));
const NO_ACCESS: (bool, Option<&str>) = (false, Some("no_access_to_door"));

/// Personal data the table's people carry: none of it may reach a feed.
const PERSONAL: [&str; 5] = ["Zelda", "Quartermain", "zq@example.org", "E-77812", "night-shift-crew"];

/// The site: Berlin (doors `lab` in area `Labs`, and `vault`) and New York
/// (door `gate`); a controller serving `lab` and `gate`; no default level.
struct Site {
    api: Api,
    token: String,
    /// Card UID → its holder.
    cards: Vec<(&'static str, UserId)>,
}

impl Site {
    fn new() -> Self {
        let api = Api::new();
        let (s, st) = (&api.store, staff());
        s.set_default_level(&st, "All doors, always", false).unwrap();
        s.add_site(&st, "Berlin", "Europe/Berlin").unwrap();
        s.add_site(&st, "New York", "America/New_York").unwrap();
        for (door, site) in [("lab", "Berlin"), ("vault", "Berlin"), ("gate", "New York")] {
            s.add_door(&st, door, Some(site)).unwrap();
        }
        s.add_area(&st, "Labs", &["lab".to_string()]).unwrap();
        // Christmas Eve 2026 is a Thursday.
        s.add_holiday(&st, "de", &Holiday::parse("2026-12-24", "public", false).unwrap()).unwrap();
        let nights = Schedule::from_text("mon-sun 22:00-06:00", "public closed").unwrap();
        s.put_schedule(&st, "Berlin nights", "Berlin", Some("de"), &nights, false).unwrap();
        let ny = Schedule::from_text("mon-sun 22:00-06:00", "").unwrap();
        s.put_schedule(&st, "NY nights", "New York", None, &ny, false).unwrap();
        let vault = Schedule::from_text("mon-fri 09:00-10:00", "").unwrap();
        s.put_schedule(&st, "Vault hours", "Berlin", None, &vault, false).unwrap();
        s.add_level(&st, "Night", None, &[(GrantTarget::Area("Labs".into()), "Berlin nights".into())]).unwrap();
        s.add_level(&st, "NY", None, &[(GrantTarget::Door("gate".into()), "NY nights".into())]).unwrap();
        s.add_level(&st, "Vault", None, &[(GrantTarget::Door("vault".into()), "Vault hours".into())]).unwrap();
        let (_, token) = s.add_controller(&st, "ctl-lab", &["lab".to_string(), "gate".to_string()]).unwrap();

        let person = |group: Option<&str>| {
            let n = NewUser {
                email: Some(PERSONAL[2].into()),
                employee_no: Some(PERSONAL[3].into()),
                group: group.map(Into::into),
                ..new_user(PERSONAL[0], PERSONAL[1])
            };
            s.create_user(&st, n).unwrap().id
        };
        let assign = |level: &str, u: UserId, w: ValidityWindow| {
            s.assign_level(&st, level, &Holder::User(u), w).unwrap();
        };
        let mut cards = Vec::new();
        let mut card = |uid: &'static str, u: UserId| {
            s.enroll(&st, u, Technology::Iso14443a, &iso(uid)).unwrap();
            cards.push((uid, u));
        };
        let night = person(None);
        assign("Night", night, ValidityWindow::default());
        card("04A10001", night);
        let windowed = person(None);
        let w = ValidityWindow { from: Some(at("2026-03-29T00:00:00Z")), to: Some(at("2026-10-25T00:00:00Z")) };
        assign("Night", windowed, w);
        card("04A10002", windowed);
        let grouped = person(Some(PERSONAL[4]));
        s.assign_level(&st, "NY", &Holder::Group(PERSONAL[4].into()), ValidityWindow::default()).unwrap();
        card("04A10003", grouped);
        let nobody = person(None);
        card("04A10004", nobody);
        let lost = person(None);
        assign("Night", lost, ValidityWindow::default());
        card("04A10005", lost);
        s.revoke(&st, None, &iso("04A10005"), RetireReason::Lost).unwrap();
        let vaulted = person(None);
        assign("Vault", vaulted, ValidityWindow::default());
        card("04A10006", vaulted);
        Self { api, token, cards }
    }

    /// A feed page as the controller receives it (JSON).
    async fn feed(&self, since: Option<&str>) -> Value {
        let q = since.map_or_else(String::new, |c| format!("&since={c}"));
        let (st, v) = self
            .api
            .call(Method::GET, &format!("/api/v1/controllers/me/credentials?limit=100000{q}"), Some(&self.token), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["more"], false);
        v
    }

    /// Applies a page to the controller's list.
    fn apply(list: &mut HeldList, page: &Value) {
        list.apply(parse_page(page.to_string().as_bytes()).unwrap()).unwrap();
    }

    /// The three decisions for a card at a door at `t` (the clock set to it).
    async fn three(&self, list: &HeldList, uid: &str, door: &str, t: Timestamp) -> (Verdict, Verdict, Verdict) {
        self.api.fx.clock.set(t);
        let index =
            verdict(self.api.store.index().decide_at_door(Some(Technology::Iso14443a), &iso(uid), door, t).decision);
        let (st, v) = self
            .api
            .call(
                Method::POST,
                "/api/v1/access/decide",
                Some(&self.token),
                Some(json!({"uid": uid, "door": door, "technology": "iso14443a"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let http = (v["decision"] == "grant", v["reason"].as_str().map(str::to_string));
        let bytes = rule::parse_uid(uid).unwrap();
        let d = rule::decide(list.list(), door, Some("iso14443a"), &bytes, t.0);
        (index, http, (d.grant, d.reason.map(str::to_string)))
    }
}

fn is(v: &Verdict, want: (bool, Option<&str>)) -> bool {
    v.0 == want.0 && v.1.as_deref() == want.1
}

/// Each level, schedule and site the rules list, and each card listed, touches
/// the controller's doors; no personal data anywhere in the page.
fn touches_only_its_doors(page: &Value, listed: &[&str]) {
    let text = page.to_string();
    for p in PERSONAL {
        assert!(!text.contains(p), "personal data {p:?} in the feed");
    }
    let uids: Vec<&str> = page["entries"].as_array().unwrap().iter().map(|e| e["uid"].as_str().unwrap()).collect();
    for u in &uids {
        assert!(listed.contains(u), "card {u} touches none of the controller's doors");
    }
    let Some(rules) = page.get("rules") else { return };
    let doors: Vec<&str> = rules["doors"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(doors, ["gate", "lab"]);
    let mut schedules = Vec::new();
    for l in rules["levels"].as_array().unwrap() {
        for g in l["grants"].as_array().unwrap() {
            assert!(g["doors"].as_array().unwrap().iter().all(|d| doors.contains(&d.as_str().unwrap())));
            schedules.push(g["schedule"].as_i64().unwrap());
        }
    }
    let listed_schedules: Vec<i64> =
        rules["schedules"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert!(listed_schedules.iter().all(|s| schedules.contains(s)), "a schedule no grant of its doors uses");
    // Sites: those of its doors and of the schedules listed (the default
    // level "All doors, always" covers its doors too: its schedule's site).
    let mut sites: Vec<i64> = rules["doors"].as_array().unwrap().iter().map(|d| d["site"].as_i64().unwrap()).collect();
    sites.extend(rules["schedules"].as_array().unwrap().iter().map(|s| s["site"].as_i64().unwrap()));
    for s in rules["sites"].as_array().unwrap() {
        assert!(sites.contains(&s["id"].as_i64().unwrap()), "a site none of its doors or schedules is at");
        assert!(!s["offsets"].as_array().unwrap().is_empty());
    }
    // Every level an entry holds is one the rules list.
    let levels: Vec<i64> = rules["levels"].as_array().unwrap().iter().map(|l| l["id"].as_i64().unwrap()).collect();
    for e in page["entries"].as_array().unwrap() {
        for l in e["levels"].as_array().into_iter().flatten() {
            assert!(levels.contains(&l["id"].as_i64().unwrap()), "{e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_doors_and_times_decide_alike_online_over_http_and_offline_from_the_feed() {
    let site = Site::new();
    let snapshot = site.feed(None).await;
    assert_eq!(snapshot["kind"], "snapshot");
    // Listed: the cards whose holders reach `lab` or `gate` — not the one
    // with no level, nor the vault-only one.
    let listed = ["04A10001", "04A10002", "04A10003", "04A10005"];
    touches_only_its_doors(&snapshot, &listed);
    let uids: Vec<&str> = snapshot["entries"].as_array().unwrap().iter().map(|e| e["uid"].as_str().unwrap()).collect();
    assert_eq!(uids, listed);
    let level_names: Vec<_> = site.api.store.levels().unwrap();
    let vault = level_names.iter().find(|l| l.name == "Vault").unwrap().id;
    assert!(!snapshot.to_string().contains(&format!("{{\"id\":{vault},")), "the vault level reached the feed");
    let mut list = HeldList::in_memory();
    Site::apply(&mut list, &snapshot);

    let times = [
        // Berlin spring forward (2026-03-29 01:00Z): 22:00-06:00 runs 21:00Z-04:00Z, seven hours.
        "2026-03-28T20:59:59Z",
        "2026-03-28T21:00:00Z",
        "2026-03-29T00:00:00Z",
        "2026-03-29T03:59:59Z",
        "2026-03-29T04:00:00Z",
        // Berlin fall back (2026-10-25 01:00Z): 20:00Z-05:00Z, nine hours.
        "2026-10-24T19:59:59Z",
        "2026-10-24T20:00:00Z",
        "2026-10-24T23:59:59Z",
        "2026-10-25T00:00:00Z",
        "2026-10-25T04:59:59Z",
        "2026-10-25T05:00:00Z",
        // New York spring forward (2026-03-08 07:00Z): 03:00Z-10:00Z.
        "2026-03-08T02:59:59Z",
        "2026-03-08T03:00:00Z",
        "2026-03-08T09:59:59Z",
        "2026-03-08T10:00:00Z",
        // New York fall back (2026-11-01 06:00Z): 02:00Z-11:00Z.
        "2026-11-01T01:59:59Z",
        "2026-11-01T02:00:00Z",
        "2026-11-01T10:59:59Z",
        "2026-11-01T11:00:00Z",
        // Christmas Eve (Thursday) is closed in Berlin: Wednesday's night runs
        // into Thursday morning; Thursday's never starts.
        "2026-12-24T04:00:00Z",
        "2026-12-24T21:30:00Z",
        "2026-12-25T04:00:00Z",
        "2026-12-25T21:30:00Z",
    ];
    let mut table = Vec::new();
    for t in times {
        for (uid, _) in &site.cards {
            for door in ["lab", "gate"] {
                let (index, http, offline) = site.three(&list, uid, door, at(t)).await;
                assert_eq!(index, http, "{uid} at {door} at {t}: index and HTTP");
                if listed.contains(uid) {
                    assert_eq!(offline, index, "{uid} at {door} at {t}: offline and online");
                } else {
                    assert!(!index.0 && is(&offline, (false, Some("unknown_credential"))), "{uid} at {door} at {t}");
                }
                table.push(((*uid, door, t), index));
            }
        }
    }
    let want = |uid: &str, door: &str, t: &str| table.iter().find(|(k, _)| *k == (uid, door, t)).unwrap().1.clone();
    // The night card at the lab, across Berlin's two DST nights.
    for (t, w) in [
        ("2026-03-28T20:59:59Z", OUTSIDE),
        ("2026-03-28T21:00:00Z", GRANT),
        ("2026-03-29T03:59:59Z", GRANT),
        ("2026-03-29T04:00:00Z", OUTSIDE),
        ("2026-10-24T19:59:59Z", OUTSIDE),
        ("2026-10-24T20:00:00Z", GRANT),
        ("2026-10-25T04:59:59Z", GRANT),
        ("2026-10-25T05:00:00Z", OUTSIDE),
        // The holiday.
        ("2026-12-24T04:00:00Z", GRANT),
        ("2026-12-24T21:30:00Z", OUTSIDE),
        ("2026-12-25T04:00:00Z", OUTSIDE),
        ("2026-12-25T21:30:00Z", GRANT),
    ] {
        assert!(is(&want("04A10001", "lab", t), w), "night card at lab at {t}: {:?}", want("04A10001", "lab", t));
        // No level of it covers the gate.
        assert!(is(&want("04A10001", "gate", t), NO_ACCESS), "{t}");
    }
    // The windowed card: its level counts from 2026-03-29T00:00Z to 2026-10-25T00:00Z.
    assert!(is(&want("04A10002", "lab", "2026-03-28T21:00:00Z"), NO_ACCESS));
    assert!(is(&want("04A10002", "lab", "2026-03-29T00:00:00Z"), GRANT));
    assert!(is(&want("04A10002", "lab", "2026-10-24T23:59:59Z"), GRANT));
    assert!(is(&want("04A10002", "lab", "2026-10-25T00:00:00Z"), NO_ACCESS));
    // The group's level at the New York gate, across New York's two DST nights.
    for (t, w) in [
        ("2026-03-08T02:59:59Z", OUTSIDE),
        ("2026-03-08T03:00:00Z", GRANT),
        ("2026-03-08T09:59:59Z", GRANT),
        ("2026-03-08T10:00:00Z", OUTSIDE),
        ("2026-11-01T01:59:59Z", OUTSIDE),
        ("2026-11-01T02:00:00Z", GRANT),
        ("2026-11-01T10:59:59Z", GRANT),
        ("2026-11-01T11:00:00Z", OUTSIDE),
    ] {
        assert!(is(&want("04A10003", "gate", t), w), "group card at gate at {t}");
        assert!(is(&want("04A10003", "lab", t), NO_ACCESS), "{t}");
    }
    // No level: no access anywhere; a lost card: lost, before any door rule.
    for t in times {
        assert!(is(&want("04A10004", "lab", t), NO_ACCESS));
        assert!(is(&want("04A10005", "lab", t), (false, Some("credential_lost"))));
        assert!(is(&want("04A10006", "gate", t), NO_ACCESS));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_to_levels_and_rules_reach_the_controller_and_its_feed_stays_its_own() {
    let site = Site::new();
    let (s, st) = (&site.api.store, staff());
    let snapshot = site.feed(None).await;
    let mut list = HeldList::in_memory();
    Site::apply(&mut list, &snapshot);
    let night = site.cards[0].1;
    let vaulted = site.cards[5].1;
    let t = at("2026-01-05T23:00:00Z");
    assert!(is(&site.three(&list, "04A10001", "lab", t).await.2, GRANT));

    // Unassigned: the card leaves the list in the next delta (a removed key).
    s.unassign_level(&st, "Night", &Holder::User(night)).unwrap();
    let d = site.feed(snapshot["cursor"].as_str()).await;
    assert_eq!(d["kind"], "delta");
    assert!(d.get("rules").is_none(), "an assignment changes no rules");
    assert_eq!(d["removed"], json!([{"technology": "iso14443a", "uid": "04A10001"}]));
    Site::apply(&mut list, &d);
    let (index, _, offline) = site.three(&list, "04A10001", "lab", t).await;
    assert!(is(&index, NO_ACCESS) && is(&offline, (false, Some("unknown_credential"))));

    // A level of another controller's door: the card stays out, its level unnamed.
    s.assign_level(&st, "Vault", &Holder::User(night), ValidityWindow::default()).unwrap();
    // Reaching the lab: the card comes back as an entry (with only the levels of its doors).
    s.assign_level(&st, "Night", &Holder::User(vaulted), ValidityWindow::default()).unwrap();
    let d2 = site.feed(d["cursor"].as_str()).await;
    assert_eq!(d2["kind"], "delta");
    let entries = d2["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{d2}");
    assert_eq!(entries[0]["uid"], "04A10006");
    assert_eq!(entries[0]["levels"].as_array().unwrap().len(), 1, "only Night, not Vault: {d2}");
    assert_eq!(d2["removed"], json!([{"technology": "iso14443a", "uid": "04A10001"}]));
    touches_only_its_doors(&d2, &["04A10006"]);
    Site::apply(&mut list, &d2);
    let (index, http, offline) = site.three(&list, "04A10006", "lab", t).await;
    assert!(is(&index, GRANT) && index == http && index == offline);

    // A schedule edit: a delta carrying the rules; the door follows offline.
    let days = Schedule::from_text("mon-sun 08:00-18:00", "").unwrap();
    s.put_schedule(&st, "Berlin nights", "Berlin", Some("de"), &days, true).unwrap();
    let d3 = site.feed(d2["cursor"].as_str()).await;
    assert_eq!(d3["kind"], "delta");
    assert!(
        d3["rules"]["schedules"].as_array().unwrap().iter().any(|s| s["intervals"] == json!(["mon-sun 08:00-18:00"]))
    );
    touches_only_its_doors(&d3, &[]);
    Site::apply(&mut list, &d3);
    let (index, http, offline) = site.three(&list, "04A10006", "lab", t).await;
    assert!(is(&index, OUTSIDE) && index == http && index == offline, "{index:?} {offline:?}");

    // Moving a group's level (who reaches which door): a snapshot.
    s.unassign_level(&st, "NY", &Holder::Group(PERSONAL[4].into())).unwrap();
    let d4 = site.feed(d3["cursor"].as_str()).await;
    assert_eq!(d4["kind"], "snapshot");
    assert!(d4.get("rules").is_some());
    let uids: Vec<&str> = d4["entries"].as_array().unwrap().iter().map(|e| e["uid"].as_str().unwrap()).collect();
    assert_eq!(uids, ["04A10002", "04A10005", "04A10006"], "the group card left with its group's level");
    touches_only_its_doors(&d4, &uids);
}

/// The tag a format-1 service (before access levels) gave position `seq`:
/// a hash of the position and the change-log entry, without the format.
fn format1_tag(db: &std::path::Path, seq: i64) -> String {
    use sha2::{Digest, Sha256};
    let c = rusqlite::Connection::open(db).unwrap();
    let row: String = c
        .query_row(
            "SELECT CAST(at AS TEXT) || '|' || kind || '|' || user_id || '|' || COALESCE(user_state, '') || '|'
                || COALESCE(valid_from, '') || '|' || COALESCE(valid_to, '') || '|' || COALESCE(technology, '') || '|'
                || COALESCE(hex(uid), '') || '|' || COALESCE(credential_state, '')
             FROM change_log WHERE seq = ?1",
            [seq],
            |r| r.get(0),
        )
        .unwrap();
    let mut h = Sha256::new();
    h.update(seq.to_le_bytes());
    h.update(row.as_bytes());
    hex::encode(&h.finalize()[..6])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_from_before_the_feed_format_gets_a_snapshot() {
    let site = Site::new();
    let first = site.feed(None).await;
    let cursor = first["cursor"].as_str().unwrap();
    let delta = site.feed(Some(cursor)).await;
    assert_eq!(delta["kind"], "delta");
    assert!(delta.get("rules").is_none(), "nothing changed");
    // The same position as a format-1 service named it: a snapshot in this format.
    let seq: i64 = cursor.split_once('-').unwrap().0.parse().unwrap();
    let old = format!("{seq}-{}", format1_tag(&site.api.fx.db_path(), seq));
    assert_ne!(old, cursor);
    let again = site.feed(Some(&old)).await;
    assert_eq!(again["kind"], "snapshot");
    assert!(again.get("rules").is_some());
}

/// The OSDP door path (the service's own reader on hw-sim's simulated
/// device, door `main`) on a subset covering every reason a door's rules
/// add and one before them: each read's logged decision is the index's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_osdp_door_reader_decides_with_levels_and_schedules_like_the_index() {
    use hw_sim::osdp::Kind;
    use idms::readers::osdp::Role as PdRole;
    let rig = crate::osdp::rig(&[(1, Kind::Reader, PdRole::Door)]);
    let (s, st) = (&rig.api.store, staff());
    s.set_default_level(&st, "All doors, always", false).unwrap();
    s.add_site(&st, "Berlin", "Europe/Berlin").unwrap();
    let nights = Schedule::from_text("mon-sun 22:00-06:00", "").unwrap();
    s.put_schedule(&st, "Berlin nights", "Berlin", None, &nights, false).unwrap();
    let days = Schedule::from_text("mon-fri 08:00-18:00", "").unwrap();
    s.put_schedule(&st, "Berlin days", "Berlin", None, &days, false).unwrap();
    s.add_level(&st, "Main nights", None, &[(GrantTarget::Door("main".into()), "Berlin nights".into())]).unwrap();
    s.add_level(&st, "Main days", None, &[(GrantTarget::Door("main".into()), "Berlin days".into())]).unwrap();
    s.add_level(&st, "Side", None, &[(GrantTarget::Door("side".into()), "Berlin nights".into())]).unwrap();
    // H10301 facility 42, card N is the `other` credential 2A + N in hex.
    let mut cards = Vec::new();
    for (n, level, lost) in [
        (1u16, Some("Main nights"), false),
        (2, Some("Main days"), false),
        (3, Some("Side"), false),
        (4, Some("Main nights"), true),
    ] {
        let u = s.create_user(&st, new_user("Osdp", "Person")).unwrap().id;
        let uid = idms::domain::Uid::parse_for(Technology::Other, &format!("2A{n:04X}")).unwrap();
        s.enroll(&st, u, Technology::Other, &uid).unwrap();
        if let Some(l) = level {
            s.assign_level(&st, l, &Holder::User(u), ValidityWindow::default()).unwrap();
        }
        if lost {
            s.revoke(&st, Some(Technology::Other), &uid, RetireReason::Lost).unwrap();
        }
        cards.push((n, uid));
    }
    // Saturday night in Berlin, the spring-forward night.
    let t = at("2026-03-28T21:30:00Z");
    rig.api.fx.clock.set(t);
    let line = rig.line();
    let want = [GRANT, OUTSIDE, NO_ACCESS, (false, Some("credential_lost")), (false, Some("unknown_credential"))];
    for n in 1..=5u16 {
        line.h10301(1, 42, n);
        // One read at a time: its event is logged before the next.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while idms::store::events::read_all(rig.api.fx.dir.path()).map_or(0, |e| e.len()) < usize::from(n) {
            assert!(std::time::Instant::now() < deadline, "read {n} was not logged");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    let logged = idms::store::events::read_all(rig.api.fx.dir.path()).unwrap();
    assert_eq!(logged.len(), 5);
    for (i, e) in logged.iter().enumerate() {
        let got = verdict(e.decision);
        assert!(is(&got, want[i]), "read {}: {got:?}", i + 1);
        assert_eq!((e.door.as_str(), e.online, e.controller), ("main", true, None));
        let uid = cards
            .get(i)
            .map_or_else(|| idms::domain::Uid::parse_for(Technology::Other, "2A0005").unwrap(), |(_, u)| *u);
        let index = verdict(s.index().decide_at_door(Some(Technology::Other), &uid, "main", t).decision);
        assert_eq!(got, index, "read {}", i + 1);
    }
}
