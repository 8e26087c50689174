//! Issue 3/5: tap-to-enrol and the live reader stream — in-process with
//! reader events published into the hub, and end to end against a real
//! `idms serve` reading hw-sim cards through the machine's pcscd.

use std::io::BufRead;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use hw_sim::card::{CardModel, VirtualCard};
use hw_sim::client::InsertedCard;
use hw_sim::pcscd;
use idms::domain::{Timestamp, Uid};
use idms::readers::{CardType, ReaderEvent, ReaderEventKind};
use idms::store::Role;
use serde_json::{Value, json};

use crate::api::Api;
use crate::server::{Server, agent, cli};

const R: &str = "Desk 00 00";

fn publish(api: &Api, kind: ReaderEventKind) {
    api.hub.publish(ReaderEvent::new(R, Timestamp(0), kind, None));
}

fn tap(uid: &[u8]) -> ReaderEventKind {
    ReaderEventKind::Tap { uid: Uid::from_bytes(uid).unwrap(), card_type: CardType::MifareClassic1k, raw: None }
}

/// Starts `POST /enrollments` and keeps presenting `kind` on the reader
/// until it answers (the handler subscribes a moment after the request).
async fn enrol_with(api: &Api, user: &str, kind: ReaderEventKind, wait_s: u64) -> (StatusCode, Value) {
    let body = json!({"reader": R, "user_id": user, "wait_s": wait_s});
    let call = api.call(Method::POST, "/api/v1/enrollments", Some(api.token(Role::Enroller)), Some(body));
    tokio::pin!(call);
    loop {
        tokio::select! {
            r = &mut call => return r,
            () = tokio::time::sleep(Duration::from_millis(10)) => publish(api, kind.clone()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_to_enrol_rules_and_codes() {
    let api = Api::new();
    let t = api.token(Role::Enroller).to_string();
    let (s, v) = api.call(Method::GET, "/api/v1/readers", Some(&t), None).await;
    assert_eq!((s, v.as_array().unwrap().len()), (StatusCode::OK, 0), "{v}");
    publish(&api, ReaderEventKind::ReaderAdded);
    let (_, v) = api.call(Method::GET, "/api/v1/readers", Some(&t), None).await;
    assert_eq!(v, json!([{"id": R, "name": R, "kind": "pcsc", "status": "ready"}]));

    let alice = api.person("Alice").await;
    let card = [0x04, 0xA1, 0xB2, 0xC3];
    let (s, v) = enrol_with(&api, &alice, tap(&card), 5).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!((v["uid"].as_str(), v["card_type"].as_str()), (Some("04A1B2C3"), Some("mifare_classic1k")));
    assert_eq!(
        v["credential"],
        json!({"status": "new", "holder": null, "holder_state": null, "action": "enroll", "code": null})
    );
    // Nothing is bound before the confirmation.
    let (s, _) = api.call(Method::GET, "/api/v1/credentials/04A1B2C3", Some(&t), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let confirm = format!("/api/v1/enrollments/{}/confirm", v["id"].as_str().unwrap());
    let (s, c) = api.call(Method::POST, &confirm, Some(&t), None).await;
    assert_eq!((s, c["holder"].as_str()), (StatusCode::CREATED, Some(alice.as_str())), "{c}");
    let (s, v) = api.call(Method::POST, &confirm, Some(&t), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("enrollment_not_found")));

    // The same card tapped for Bob: shown as Alice's, and confirming is refused.
    let bob = api.person("Bob").await;
    let (s, v) = enrol_with(&api, &bob, tap(&card), 5).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["credential"]["status"], "held");
    assert_eq!(v["credential"]["holder"], alice.as_str());
    assert_eq!(
        (v["credential"]["action"].as_str(), v["credential"]["code"].as_str()),
        (Some("refused"), Some("credential_held"))
    );
    let (s, e) = api
        .call(Method::POST, &format!("/api/v1/enrollments/{}/confirm", v["id"].as_str().unwrap()), Some(&t), None)
        .await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("credential_held")), "{e}");

    // Cards that cannot be enrolled, a silent reader, a reader that is not there.
    for code in ["random_uid", "uid_unavailable", "card_removed"] {
        let (s, e) = enrol_with(&api, &bob, ReaderEventKind::Unreadable { code, card_type: None }, 5).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{e}");
    }
    let body = json!({"reader": R, "user_id": bob, "wait_s": 1});
    let (s, e) = api.call(Method::POST, "/api/v1/enrollments", Some(&t), Some(body)).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::REQUEST_TIMEOUT, Some("no_tap")));
    let body = json!({"reader": "Nowhere 00 00", "user_id": bob});
    let (s, e) = api.call(Method::POST, "/api/v1/enrollments", Some(&t), Some(body)).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    // A deleted person is refused before anyone taps.
    let admin = api.token(Role::Admin);
    api.call(Method::POST, &format!("/api/v1/users/{bob}/delete"), Some(admin), None).await;
    let body = json!({"reader": R, "user_id": bob});
    let (s, e) = api.call(Method::POST, "/api/v1/enrollments", Some(&t), Some(body)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    // Only the bindings confirmed above exist.
    let (_, c) = api.call(Method::GET, "/api/v1/credentials/04A1B2C3", Some(&t), None).await;
    assert_eq!(c["bindings"].as_array().unwrap().len(), 1, "{c}");
}

/// Reads an SSE stream on a thread; each event's JSON data with the time it arrived.
pub struct SseClient {
    rx: mpsc::Receiver<(Instant, String, Value)>,
}

impl SseClient {
    pub fn open(base: &str, token: &str, query: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let res = agent
            .get(&format!("{base}/api/v1/readers/events{query}"))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let reader = std::io::BufReader::new(res.into_body().into_reader());
            let mut event = String::new();
            for line in reader.lines() {
                let Ok(line) = line else { return };
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    let v = serde_json::from_str(d).unwrap_or(Value::String(d.to_owned()));
                    if tx.send((Instant::now(), std::mem::take(&mut event), v)).is_err() {
                        return;
                    }
                }
            }
        });
        Self { rx }
    }

    /// The next event of `kind` within `within`, skipping others.
    pub fn next(&self, kind: &str, within: Duration) -> Option<(Instant, Value)> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.rx.recv_timeout(left) {
                Ok((at, k, v)) if k == kind => return Some((at, v)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

pub struct Live {
    pub _d: tempfile::TempDir,
    pub server: Server,
    pub token: String,
    pub dir: std::path::PathBuf,
}

/// `idms serve` watching `readers` (name prefixes), with an enroller token.
pub fn live(readers: &str) -> Live {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    cli(&dir, &["init"]);
    let token =
        cli(&dir, &["token", "create", "--name", "desk", "--role", "enroller"])["token"].as_str().unwrap().to_owned();
    let server = Server::start_with(&dir, &[("IDMS_PCSC_READERS", readers)]);
    Live { _d: d, server, token, dir }
}

impl Live {
    pub fn get(&self, path: &str) -> (u16, Value) {
        let mut r = agent()
            .get(&format!("{}{path}", self.server.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_json().unwrap_or(Value::Null))
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut r = agent
            .post(&format!("{}{path}", self.server.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body)
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// Waits until the service lists `reader` (its driver is connected).
    pub fn wait_for_reader(&self, reader: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, v) = self.get("/api/v1/readers");
            if v.as_array().is_some_and(|a| a.iter().any(|r| r["id"] == reader && r["status"] == "ready")) {
                return;
            }
            assert!(Instant::now() < deadline, "{reader} not listed as ready: {v}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `POST /enrollments` for `user` while `card` is put on the reader.
    pub fn enrol_tap(&self, lease: &pcscd::ReaderLease, user: &str, card: VirtualCard) -> (u16, Value) {
        let (body, this) = (json!({"reader": lease.name(), "user_id": user, "wait_s": 10}), self);
        std::thread::scope(|s| {
            let waiting = s.spawn(|| this.post("/api/v1/enrollments", body));
            // Give the request time to subscribe; pcscd takes longer than this to see a card anyway.
            std::thread::sleep(Duration::from_millis(100));
            let inserted = InsertedCard::insert(lease.addr(), card).unwrap();
            let answer = waiting.join().unwrap();
            inserted.remove().unwrap();
            answer
        })
    }
}

fn person(dir: &Path, name: &str) -> String {
    cli(dir, &["user", "add", "--given", name, "--family", "Tapper"])["id"].as_str().unwrap().to_owned()
}

#[test]
fn tap_enrol_confirm_through_pcscd_and_a_held_card_is_refused() {
    let lease = pcscd::lease().unwrap();
    let l = live(&lease.name());
    l.wait_for_reader(&lease.name());
    let events = SseClient::open(&l.server.base, &l.token, &format!("?reader={}", lease.name().replace(' ', "%20")));
    let (alice, bob) = (person(&l.dir, "Alice"), person(&l.dir, "Bob"));
    let card = || VirtualCard::new(CardModel::Ultralight, &[0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);

    let (s, v) = l.enrol_tap(&lease, &alice, card());
    assert_eq!(s, 201, "{v}");
    assert_eq!((v["uid"].as_str(), v["card_type"].as_str()), (Some("04112233445566"), Some("mifare_ultralight")));
    assert_eq!((v["credential"]["status"].as_str(), v["credential"]["action"].as_str()), (Some("new"), Some("enroll")));
    let (s, c) = l.post(&format!("/api/v1/enrollments/{}/confirm", v["id"].as_str().unwrap()), json!(null));
    assert_eq!((s, c["holder"].as_str()), (201, Some(alice.as_str())), "{c}");
    let (_, t) = events.next("tap", Duration::from_secs(5)).expect("the tap on the event stream");
    assert_eq!((t["uid"].as_str(), t["reader"].as_str()), (Some("04112233445566"), Some(lease.name().as_str())));

    // Tapped again for Bob: the stream and the enrolment show Alice holds it.
    let (s, v) = l.enrol_tap(&lease, &bob, card());
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["credential"]["status"].as_str(), v["credential"]["holder"].as_str()),
        (Some("held"), Some(alice.as_str()))
    );
    let (_, t) = events.next("tap", Duration::from_secs(5)).expect("the second tap on the event stream");
    assert_eq!(t["credential"]["holder"].as_str(), Some(alice.as_str()), "{t}");
    let (s, e) = l.post(&format!("/api/v1/enrollments/{}/confirm", v["id"].as_str().unwrap()), json!(null));
    assert_eq!((s, e["code"].as_str()), (409, Some("credential_held")), "{e}");

    // A random-UID card and a card without GET DATA: reported, never enrolled.
    let (s, e) = l.enrol_tap(&lease, &bob, VirtualCard::new(CardModel::RandomUid, &[0x08, 0xDE, 0xAD, 0x01]));
    assert_eq!((s, e["code"].as_str()), (422, Some("random_uid")), "{e}");
    let (_, u) = events.next("unreadable", Duration::from_secs(5)).expect("the random UID on the stream");
    assert_eq!(u["code"], "random_uid");
    let (s, e) = l.enrol_tap(&lease, &bob, VirtualCard::new(CardModel::NoGetData, &[0x04, 0x01, 0x02, 0x03]));
    assert_eq!((s, e["code"].as_str()), (422, Some("uid_unavailable")), "{e}");
    let (_, u) = events.next("unreadable", Duration::from_secs(5)).expect("the unreadable card on the stream");
    assert_eq!(u["code"], "uid_unavailable");
    let (_, cards) = l.get(&format!("/api/v1/users/{bob}"));
    assert_eq!(cards["credentials"].as_array().map(Vec::len), Some(0), "{cards}");
}

/// Taps `card` on `addr` until a tap shows on `events`; how long that took.
fn tap_until_reported(events: &SseClient, addr: (&str, u16), uid: &[u8], within: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        let Ok(card) = InsertedCard::insert(addr, VirtualCard::new(CardModel::MifareClassic1k, uid)) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let seen = events.next("tap", Duration::from_millis(1200));
        drop(card);
        if seen.is_some() {
            return Some(t0.elapsed());
        }
    }
    None
}

#[test]
fn pcscd_killed_and_restarted_taps_are_reported_again_without_restarting_the_service() {
    let daemon = pcscd::exclusive().unwrap();
    let reader = pcscd::reader_name(0);
    let mut l = live(&reader);
    l.wait_for_reader(&reader);
    let pid = l.server.child.id();
    let events = SseClient::open(&l.server.base, &l.token, "");
    let addr = ("127.0.0.1", pcscd::reader_port(0));
    assert!(tap_until_reported(&events, addr, &[0x04, 1, 1, 1], Duration::from_secs(5)).is_some(), "a tap before");

    daemon.kill().unwrap();
    let (_, down) = events.next("source_down", Duration::from_secs(5)).expect("the service notices pcscd is gone");
    assert_eq!(down["reader"], reader.as_str());
    let (_, listed) = l.get("/api/v1/readers");
    assert_eq!(listed[0]["status"], "unavailable", "{listed}");
    daemon.start_with(&[0, 1]).unwrap();
    let again = tap_until_reported(&events, addr, &[0x04, 2, 2, 2], Duration::from_secs(5));
    assert!(again.is_some(), "no tap reported within 5 s of pcscd's restart");
    eprintln!("tap reported {:?} after pcscd was back", again.unwrap());
    assert!(l.server.child.try_wait().unwrap().is_none(), "the service kept running");
    assert_eq!(l.server.child.id(), pid);
    l.wait_for_reader(&reader);
}

#[test]
fn a_reader_that_disappears_is_reported_and_the_others_keep_working() {
    let daemon = pcscd::exclusive().unwrap();
    let l = live("IDMS Sim");
    for n in 0..pcscd::READERS {
        l.wait_for_reader(&pcscd::reader_name(n));
    }
    let events = SseClient::open(&l.server.base, &l.token, "");
    // pcscd comes back without entry B: its two readers are gone.
    daemon.kill().unwrap();
    daemon.start_with(&[0]).unwrap();
    let mut removed = Vec::new();
    while removed.len() < 2 {
        let (_, v) = events.next("reader_removed", Duration::from_secs(10)).expect("the vanished readers are reported");
        removed.push(v["reader"].as_str().unwrap().to_owned());
    }
    removed.sort();
    assert_eq!(removed, [pcscd::reader_name(2), pcscd::reader_name(3)]);
    let (_, listed) = l.get("/api/v1/readers");
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [pcscd::reader_name(0), pcscd::reader_name(1)], "{listed}");
    // The remaining readers still read cards.
    for n in 0..2 {
        let addr = ("127.0.0.1", pcscd::reader_port(n));
        assert!(
            tap_until_reported(&events, addr, &[0x04, 3, 3, n as u8], Duration::from_secs(5)).is_some(),
            "reader {n}"
        );
    }
    // And a reader coming back is reported added.
    daemon.kill().unwrap();
    daemon.start_with(&[0, 1]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut added = Vec::new();
    while !added.contains(&pcscd::reader_name(3)) {
        let left = deadline.saturating_duration_since(Instant::now());
        let (_, v) = events.next("reader_added", left).expect("the returning readers are reported");
        added.push(v["reader"].as_str().unwrap().to_owned());
    }
}

#[test]
fn idms_readers_lists_readers_and_prints_taps_live() {
    let lease = pcscd::lease().unwrap();
    let d = tempfile::tempdir().unwrap();
    cli(d.path(), &["init"]);
    let alice = person(d.path(), "Alice");
    cli(d.path(), &["card", "enroll", "--user", &alice, "--uid", "04C0FFEE"]);
    let listed = cli(d.path(), &["readers", "--reader", &lease.name()]);
    assert_eq!(listed, json!([{"id": lease.name(), "name": lease.name(), "kind": "pcsc", "status": "ready"}]));

    let mut watch = std::process::Command::new(crate::server::bin())
        .arg("--data-dir")
        .arg(d.path())
        .args(["readers", "--watch", "--json", "--reader", &lease.name()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(watch.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            let _ = tx.send(serde_json::from_str::<Value>(&line).unwrap());
        }
    });
    std::thread::sleep(Duration::from_millis(800));
    let card =
        InsertedCard::insert(lease.addr(), VirtualCard::new(CardModel::MifareClassic1k, &[0x04, 0xC0, 0xFF, 0xEE]))
            .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let tap = loop {
        let v = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("a tap line");
        if v["kind"] == "tap" {
            break v;
        }
    };
    drop(card);
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(tap["uid"], "04C0FFEE");
    assert_eq!(tap["card_type"], "mifare_classic1k");
    assert_eq!(tap["credential"], format!("held by {alice} (active)"));
}
