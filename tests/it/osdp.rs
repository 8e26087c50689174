//! Issue 4/5: the service's OSDP control panel against hw-sim's devices on
//! a pseudo-terminal — door decisions with LED/buzzer feedback, offline and
//! back, an unplugged line, corrupted frames, enrolment and encoding.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use firmware_protocol::codes::Command;
use firmware_protocol::payloads::{Buzzer, Color, Led};
use hw_sim::osdp::{Kind, Line};
use idms::api::doors::ReaderDoors;
use idms::domain::{RetireReason, Technology, Uid};
use idms::readers::osdp::{DeviceConfig, LineConfig, Osdp, Role as PdRole};
use idms::readers::{Published, ReaderEventKind};
use idms::store::Role;
use serde_json::json;
use tokio::sync::broadcast::Receiver;

use crate::api::Api;
use crate::common::staff;

pub struct Rig {
    pub api: Api,
    /// The simulated devices (none when the devices are libosdp's).
    pub sim: Option<Line>,
    pub events: Receiver<Arc<Published>>,
    /// Events received but not yet asked for.
    backlog: Vec<Arc<Published>>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.api.hub.stop();
        if let Some(o) = self.api.state.osdp.get() {
            o.join();
        }
    }
}

pub fn reader_id(address: u8) -> String {
    format!("osdp:line:{address}")
}

/// hw-sim devices on one line, and the service's control panel on it.
pub fn rig(devices: &[(u8, Kind, PdRole)]) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("line");
    let kinds: Vec<(u8, Kind)> = devices.iter().map(|&(a, k, _)| (a, k)).collect();
    let line = Line::start(&link, &kinds, None).unwrap();
    let roles: Vec<(u8, PdRole)> = devices.iter().map(|&(a, _, r)| (a, r)).collect();
    let mut rig = rig_on(&link, &roles);
    rig.sim = Some(line);
    rig._dir = Some(dir);
    rig
}

/// The service's control panel on the port at `link`, for devices with these roles.
pub fn rig_on(link: &std::path::Path, devices: &[(u8, PdRole)]) -> Rig {
    let api = Api::new();
    let config = LineConfig {
        port: link.to_path_buf(),
        baud: 115_200,
        poll_ms: 20,
        devices: devices
            .iter()
            .map(|&(address, role)| DeviceConfig {
                address,
                role,
                id: None,
                door: (role == PdRole::Door).then(|| "main".to_owned()),
            })
            .collect(),
    };
    let events = api.hub.subscribe();
    let osdp = Osdp::start(
        &[config],
        &api.hub,
        Arc::new(ReaderDoors::new(api.state.clone(), idms::config::OnLogFailure::Decide)),
    )
    .unwrap();
    api.state.osdp.set(osdp).unwrap();
    Rig { api, sim: None, events, backlog: Vec::new(), _dir: None }
}

impl Rig {
    pub fn line(&self) -> &Line {
        self.sim.as_ref().expect("a rig with hw-sim devices")
    }

    /// The next event at `reader` that `pred` accepts, within `within`.
    pub async fn expect(
        &mut self,
        reader: &str,
        within: Duration,
        pred: impl Fn(&ReaderEventKind) -> bool,
    ) -> Option<(Instant, ReaderEventKind)> {
        let matches = |p: &Published| p.event.reader == reader && pred(&p.event.kind);
        if let Some(i) = self.backlog.iter().position(|p| matches(p)) {
            return Some((Instant::now(), self.backlog.remove(i).event.kind.clone()));
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let p = match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return None,
                Ok(Ok(p)) => p,
                Ok(Err(e)) => panic!("hub: {e}"),
            };
            if matches(&p) {
                return Some((Instant::now(), p.event.kind.clone()));
            }
            self.backlog.push(p);
        }
    }

    pub async fn online(&mut self, address: u8) {
        let r = reader_id(address);
        let got = self.expect(&r, Duration::from_secs(5), |k| matches!(k, ReaderEventKind::ReaderAdded)).await;
        assert!(got.is_some(), "{r} did not come online");
    }

    /// Every tap reported at `reader` within `within`.
    pub async fn taps(&mut self, reader: &str, within: Duration) -> Vec<String> {
        let mut taps = Vec::new();
        while let Some((_, k)) = self.expect(reader, within, |k| matches!(k, ReaderEventKind::Tap { .. })).await {
            if let ReaderEventKind::Tap { uid, .. } = k {
                taps.push(uid.to_string());
            }
        }
        taps
    }
}

fn commands(line: &Line, address: u8, code: Command) -> Vec<hw_sim::osdp::Seen> {
    line.seen(address).into_iter().filter(|s| s.code == u8::from(code)).collect()
}

async fn wait_for<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(x) = f() {
            return Some(x);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_door_read_gets_its_decision_and_led_before_the_next_poll() {
    let mut rig = rig(&[(1, Kind::Reader, PdRole::Door), (2, Kind::Reader, PdRole::Door)]);
    let alice = rig.api.fx.person();
    // The H10301 card facility 42 / number 1234 is the credential `other` 2A04D2.
    let uid = Uid::parse_for(Technology::Other, "2A04D2").unwrap();
    rig.api.store.enroll(&staff(), alice.id, Technology::Other, &uid).unwrap();
    rig.online(1).await;
    rig.online(2).await;

    rig.line().h10301(1, 42, 1234);
    let leds =
        wait_for(Duration::from_secs(2), || Some(commands(rig.line(), 1, Command::Led)).filter(|l| !l.is_empty()))
            .await
            .expect("an LED command after the read");
    let led = Led::parse(&leds[0].data).unwrap();
    assert_eq!(led.temp_on_color, Color::Green, "granted");
    let reported = rig.line().reported(1);
    assert_eq!(reported.len(), 1);
    assert_eq!(leds[0].polls, reported[0], "the LED came before any further poll of this reader");
    let beeps = commands(rig.line(), 1, Command::Buz);
    assert_eq!(beeps.len(), 1, "one short beep on grant");
    assert_eq!(Buzzer::parse(&beeps[0].data).unwrap().count, 1);
    assert_eq!(beeps[0].polls, reported[0]);
    let tap = rig.expect(&reader_id(1), Duration::from_secs(1), |k| matches!(k, ReaderEventKind::Tap { .. })).await;
    let Some((_, ReaderEventKind::Tap { uid: got, raw: Some(raw), .. })) = tap else { panic!("a tap event") };
    assert_eq!(got, uid);
    assert_eq!((raw.format, raw.bits, raw.facility, raw.card), ("wiegand", 26, Some(42), Some(1234)));

    // An unknown card at the other door: red, no beep.
    rig.line().h10301(2, 42, 999);
    let leds =
        wait_for(Duration::from_secs(2), || Some(commands(rig.line(), 2, Command::Led)).filter(|l| !l.is_empty()))
            .await
            .expect("an LED command after the read");
    assert_eq!(Led::parse(&leds[0].data).unwrap().temp_on_color, Color::Red, "denied");
    assert_eq!(leds[0].polls, rig.line().reported(2)[0]);
    assert!(commands(rig.line(), 2, Command::Buz).is_empty());

    // Both decisions are access events at door `main`, without personal data.
    let logged = wait_for(Duration::from_secs(5), || {
        let all = idms::store::events::read_all(rig.api.fx.dir.path()).ok()?;
        (all.len() >= 2).then_some(all)
    })
    .await
    .expect("two access events");
    assert_eq!(logged.len(), 2);
    assert!(logged.iter().all(|e| e.door == "main" && e.online && e.controller.is_none()));
    assert_eq!(logged[0].decision.as_str(), "grant");
    assert_eq!(logged[0].user_id, Some(alice.id));
    assert_eq!(logged[1].decision.as_str(), "deny");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_device_goes_offline_after_8_s_and_comes_back() {
    let mut rig = rig(&[(1, Kind::Reader, PdRole::Door), (2, Kind::Reader, PdRole::Enrolment)]);
    rig.online(1).await;
    rig.online(2).await;
    rig.line().set_silent(1, true);
    let silent = Instant::now();
    // While 1 is retried, the other device on the line keeps its turns.
    tokio::time::sleep(Duration::from_secs(1)).await;
    rig.line().h10301(2, 1, 3);
    let quick =
        rig.expect(&reader_id(2), Duration::from_millis(800), |k| matches!(k, ReaderEventKind::Tap { .. })).await;
    assert!(quick.is_some(), "a read at 2 waited for the silent device 1");
    let off = rig
        .expect(&reader_id(1), Duration::from_secs(12), |k| matches!(k, ReaderEventKind::SourceDown))
        .await
        .expect("offline");
    let after = off.0 - silent;
    eprintln!("offline after {after:?}");
    assert!(after >= Duration::from_millis(7800) && after <= Duration::from_millis(9500), "offline after {after:?}");
    // The other device on the line kept working meanwhile.
    let polls = rig.line().polls(2);
    rig.line().h10301(2, 1, 1);
    let taps = rig.taps(&reader_id(2), Duration::from_millis(1500)).await;
    assert_eq!(taps, ["010001"]);
    assert!(rig.line().polls(2) > polls);
    let (_, v) = rig.api.call(Method::GET, "/api/v1/readers", Some(rig.api.token(Role::Viewer)), None).await;
    let status = |id: &str| v.as_array().unwrap().iter().find(|r| r["id"] == id).unwrap()["status"].clone();
    assert_eq!((status(&reader_id(1)), status(&reader_id(2))), (json!("unavailable"), json!("ready")), "{v}");
    assert_eq!(v[0]["kind"], "osdp");

    rig.line().set_silent(1, false);
    let back = Instant::now();
    rig.expect(&reader_id(1), Duration::from_secs(3), |k| matches!(k, ReaderEventKind::ReaderAdded))
        .await
        .expect("online again");
    eprintln!("online again after {:?}", back.elapsed());
    rig.line().h10301(1, 1, 2);
    assert_eq!(rig.taps(&reader_id(1), Duration::from_millis(1500)).await, ["010002"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplugged_line_is_reopened_within_5_s_of_reappearing() {
    let mut rig = rig(&[(1, Kind::Reader, PdRole::Door), (2, Kind::Reader, PdRole::Door)]);
    rig.online(1).await;
    rig.online(2).await;
    rig.sim.as_mut().unwrap().unplug();
    for a in [1, 2] {
        let r = reader_id(a);
        let down = rig.expect(&r, Duration::from_secs(3), |k| matches!(k, ReaderEventKind::SourceDown));
        assert!(down.await.is_some(), "device {a} reported down when the line went");
    }
    // Away long enough for the reopen backoff to reach its ceiling.
    tokio::time::sleep(Duration::from_secs(3)).await;
    rig.sim.as_mut().unwrap().plug().unwrap();
    let back = Instant::now();
    for a in [1, 2] {
        let r = reader_id(a);
        let up = rig.expect(&r, Duration::from_secs(5), |k| matches!(k, ReaderEventKind::ReaderAdded));
        assert!(up.await.is_some(), "device {a} back within 5 s of the line");
    }
    eprintln!("both devices online {:?} after the line came back", back.elapsed());
    rig.line().h10301(2, 7, 7);
    assert_eq!(rig.taps(&reader_id(2), Duration::from_millis(1500)).await, ["070007"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_frames_give_a_nak_or_a_retry_never_a_wrong_read() {
    let mut rig = rig(&[(1, Kind::Reader, PdRole::Enrolment)]);
    rig.online(1).await;
    type Inject<'a> = &'a dyn Fn(&Line);
    let faults: [(&str, Inject); 5] = [
        ("corrupted reply check bytes", &|l| l.corrupt_replies(3)),
        ("bytes dropped from replies", &|l| l.drop_bytes(3)),
        ("replies later than 200 ms", &|l| l.late_replies(2)),
        ("noise on the line", &|l| l.noise(&[0x53, 0x81, 0x20, 0x00, 0x04, 0xFF, 0x53])),
        ("corrupted commands (NAK 1)", &|l| l.corrupt_commands(3)),
    ];
    for (n, (what, inject)) in faults.iter().enumerate() {
        let card = u16::try_from(100 + n).unwrap();
        rig.line().h10301(1, 9, card);
        inject(rig.line());
        let taps = rig.taps(&reader_id(1), Duration::from_millis(2500)).await;
        assert_eq!(taps, [format!("09{card:04X}")], "{what}: exactly the one read, exactly once");
        assert_eq!(rig.line().faults_left(), 0, "{what}: every injected fault hit the line");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoder_writes_an_issued_credential_and_reads_it_back() {
    let mut rig = rig(&[(3, Kind::Encoder, PdRole::Encoder), (4, Kind::Reader, PdRole::Enrolment)]);
    rig.online(3).await;
    let t = rig.api.token(Role::Enroller).to_string();
    let path = format!("/api/v1/encoders/{}/encode", reader_id(3));
    let alice = rig.api.fx.person();
    rig.api.fx.enroll(alice.id, "04A1B2C3").unwrap();
    let body = json!({"uid": "04A1B2C3", "number": 777_001});

    let (s, v) = rig.api.call(Method::POST, &path, Some(&t), Some(body.clone())).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("no_card")), "{v}");

    rig.line().place(3, Some(&[0x04, 0xA1, 0xB2, 0xC3]));
    let (s, v) = rig.api.call(Method::POST, &path, Some(&t), Some(body.clone())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"encoder": reader_id(3), "uid": "04A1B2C3", "number": 777_001, "verified": true}));
    assert_eq!(rig.line().encoded(3), Some(777_001));
    // Placing the card also reported it, as an enrolment station does.
    let taps = rig.taps(&reader_id(3), Duration::from_millis(500)).await;
    assert_eq!(taps, ["04A1B2C3"]);

    rig.line().place(3, Some(&[0x04, 0x11, 0x22, 0x33]));
    let (s, v) = rig.api.call(Method::POST, &path, Some(&t), Some(body.clone())).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("wrong_card")), "{v}");
    let (s, v) = rig.api.call(Method::POST, &path, Some(&t), Some(json!({"uid": "04112233", "number": 1}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a card IDMS never saw: {v}");
    let bob = rig.api.fx.person();
    let c = rig.api.fx.enroll(bob.id, "04112233").unwrap();
    rig.api.store.revoke(&staff(), Some(c.technology), &c.uid, RetireReason::Lost).unwrap();
    let lost = json!({"uid": "04112233", "number": 2});
    let (s, v) = rig.api.call(Method::POST, &path, Some(&t), Some(lost)).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("credential_not_issued")), "a lost card: {v}");
    let other = format!("/api/v1/encoders/{}/encode", reader_id(4));
    let (s, v) = rig.api.call(Method::POST, &other, Some(&t), Some(body.clone())).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("encoder_not_found")),
        "a reader is no encoder: {v}"
    );
    rig.line().set_silent(3, true);
    let (s, v) = rig.api.call(Method::POST, &path, Some(&t), Some(json!({"uid": "04A1B2C3", "number": 5}))).await;
    assert!([StatusCode::SERVICE_UNAVAILABLE, StatusCode::GATEWAY_TIMEOUT].contains(&s), "a silent encoder: {s} {v}");
    let (s, _) = rig.api.call(Method::POST, &path, Some(rig.api.token(Role::Viewer)), Some(body)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_osdp_enrolment_station_enrols_a_wiegand_card() {
    let mut rig = rig(&[(5, Kind::Reader, PdRole::Enrolment)]);
    rig.online(5).await;
    let user = rig.api.person("Wiegand").await;
    let t = rig.api.token(Role::Enroller).to_string();
    let body = json!({"reader": reader_id(5), "user_id": user, "wait_s": 5});
    let call = rig.api.call(Method::POST, "/api/v1/enrollments", Some(&t), Some(body));
    let line = rig.line();
    let tap = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        line.h10301(5, 12, 3456);
    };
    let ((s, v), ()) = tokio::join!(call, tap);
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!((v["uid"].as_str(), v["technology"].as_str()), (Some("0C0D80"), Some("other")), "{v}");
    let (s, c) = rig
        .api
        .call(Method::POST, &format!("/api/v1/enrollments/{}/confirm", v["id"].as_str().unwrap()), Some(&t), None)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!((c["technology"].as_str(), c["holder"].as_str()), (Some("other"), Some(user.as_str())));
    // No LED at an enrolment station: the office decides, not the reader.
    assert!(commands(rig.line(), 5, Command::Led).is_empty());
}

fn idms(args: &[&str]) -> std::process::Output {
    std::process::Command::new(crate::server::bin()).args(args).output().unwrap()
}

#[test]
fn idms_osdp_probe_and_watch_speak_the_integrator_contract() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUSB-sim");
    let line = Line::start(&link, &[(1, Kind::Reader), (2, Kind::Encoder)], None).unwrap();
    let port = link.to_str().unwrap();

    let out = idms(&["osdp", "probe", "--port", port, "--address", "2", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["vendor"], &v["model"], &v["serial"], &v["firmware"]),
        (&json!("1D4D53"), &json!(2), &json!(0x0051_0002), &json!("1.4.2")),
        "{v}"
    );
    let caps = v["capabilities"].as_array().unwrap();
    let led = caps.iter().find(|c| c["function"] == 4).expect("LED control");
    assert_eq!((&led["name"], &led["count"]), (&json!("reader_led_control"), &json!(1)));
    let human = idms(&["osdp", "probe", "--port", port, "--address", "1"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("vendor") && text.contains("1D4D53") && text.contains("reader_audible_output"), "{text}");

    // watch: one JSON line per event; the card read has reader, format, bits, data.
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(800));
            line.h10301(1, 42, 1234);
            line.card(1, 0, 32, &[0x04, 0xA1, 0xB2, 0xC3]);
        });
        let out = idms(&["osdp", "watch", "--port", port, "--address", "1", "--json", "--seconds", "2.5"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let lines: Vec<serde_json::Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["event"], "online", "{lines:?}");
        let reads: Vec<_> = lines.iter().filter(|l| l["event"] == "card_read").collect();
        assert_eq!(reads.len(), 2, "{lines:?}");
        assert_eq!(
            (&reads[0]["reader"], &reads[0]["format"], &reads[0]["bits"], &reads[0]["data"]),
            (&json!(0), &json!("wiegand"), &json!(26), &json!("95026900"))
        );
        assert_eq!((&reads[0]["facility"], &reads[0]["card"]), (&json!(42), &json!(1234)));
        assert_eq!(
            (&reads[1]["format"], &reads[1]["bits"], &reads[1]["data"]),
            (&json!("raw"), &json!(32), &json!("04A1B2C3"))
        );
    });

    // Nobody at 9; no such port: clear errors with stable codes.
    let out = idms(&["osdp", "probe", "--port", port, "--address", "9", "--json"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_answer"), "{}", String::from_utf8_lossy(&out.stderr));
    let gone = dir.path().join("nothing");
    let out = idms(&["osdp", "probe", "--port", gone.to_str().unwrap(), "--address", "1", "--json"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("port_unavailable"));
    let out = idms(&["osdp", "probe", "--port", port, "--address", "127"]);
    assert!(!out.status.success(), "address 127 is the broadcast address, not a device");
}

#[test]
fn idms_serve_runs_the_configured_lines_and_stops_cleanly() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    crate::server::cli(&dir, &["init"]);
    let token = crate::server::cli(&dir, &["token", "create", "--name", "viewer", "--role", "viewer"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = dir.join("ttyS-door");
    let line = Line::start(&link, &[(1, Kind::Reader)], None).unwrap();
    let config = dir.join("idms.toml");
    let toml = format!(
        "[[osdp]]\nport = {:?}\nbaud = 115200\ndevices = [{{ address = 1, role = \"door\", door = \"lobby\", id = \"lobby-in\" }}]\n",
        link.display().to_string()
    );
    std::fs::write(&config, toml).unwrap();
    let server =
        crate::server::Server::start_with(&dir, &[("IDMS_PCSC", "false"), ("IDMS_CONFIG", config.to_str().unwrap())]);
    let get = || {
        let mut r = crate::server::agent()
            .get(&format!("{}/api/v1/readers", server.base))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        r.body_mut().read_json::<serde_json::Value>().unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while get()[0]["status"] != "ready" {
        assert!(Instant::now() < deadline, "the door reader did not come online: {}", get());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get(), json!([{"id": "lobby-in", "name": "lobby-in", "kind": "osdp", "status": "ready"}]));
    // An unknown card at the door: a red LED, and an access event at `lobby`.
    line.h10301(1, 1, 1);
    let deadline = Instant::now() + Duration::from_secs(3);
    while !line.seen(1).iter().any(|s| s.code == u8::from(Command::Led)) {
        assert!(Instant::now() < deadline, "no LED");
        std::thread::sleep(Duration::from_millis(20));
    }
    let led = line.seen(1).into_iter().find(|s| s.code == u8::from(Command::Led)).unwrap();
    assert_eq!(Led::parse(&led.data).unwrap().temp_on_color, Color::Red);
    server.stop();
    let events = idms::store::events::read_all(&dir).unwrap();
    assert_eq!(events.len(), 1, "the decision was logged before the service stopped");
    assert_eq!((events[0].door.as_str(), events[0].decision.as_str()), ("lobby", "deny"));

    // A bad line in the configuration stops the service at start, saying why.
    std::fs::write(&config, "[[osdp]]\nport = \"/dev/null\"\ndevices = [{ address = 1, role = \"door\" }]\n").unwrap();
    let out = std::process::Command::new(crate::server::bin())
        .args(["--data-dir", dir.to_str().unwrap(), "serve", "--config", config.to_str().unwrap()])
        .env("IDMS_PCSC", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs `door`"), "{}", String::from_utf8_lossy(&out.stderr));
}
