//! Issue 4/5, interop with libosdp (the reference OSDP implementation, from
//! PyPI into the project's `.venv`), both ways over a pty: the service's
//! control panel against a libosdp PD, and hw-sim's PD against a libosdp CP.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use firmware_protocol::codes::Command as OsdpCommand;
use firmware_protocol::payloads::Led;
use hw_sim::osdp::{Kind, Line};
use idms::domain::{Technology, Uid};
use idms::readers::ReaderEventKind;
use idms::readers::osdp::Role as PdRole;
use serde_json::{Value, json};

use crate::common::staff;

/// The venv's Python, with libosdp: `make venv` (part of `make test`) makes it.
pub fn python() -> PathBuf {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let ok = Command::new(&py).args(["-c", "import osdp"]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "{} with libosdp is missing: run `make venv` (pip install -r requirements-test.txt)", py.display());
    py
}

pub fn script(name: &str) -> String {
    format!("{}/tests/osdp/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A helper process speaking JSON lines.
pub struct JsonProc {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
    pub seen: Vec<Value>,
}

impl JsonProc {
    pub fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(python())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        });
        Self { child, stdin, lines, seen: Vec::new() }
    }

    pub fn send(&mut self, v: &Value) {
        writeln!(self.stdin, "{v}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next line `pred` accepts (earlier lines are kept in `seen`).
    pub fn expect(&mut self, within: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return Some(v.clone());
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let v = self.lines.recv_timeout(left).ok()?;
            self.seen.push(v.clone());
            if pred(&v) {
                return Some(v);
            }
        }
    }
}

impl Drop for JsonProc {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"quit": true}));
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_control_panel_drives_a_libosdp_pd() {
    let mut pd = JsonProc::spawn(&[&script("libosdp_pd.py"), "--address", "1"]);
    let tty = pd.expect(Duration::from_secs(10), |v| v["tty"].is_string()).expect("the PD's pty")["tty"]
        .as_str()
        .unwrap()
        .to_owned();
    // The PD made the pty; the service opens it by its path.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("line");
    std::os::unix::fs::symlink(&tty, &link).unwrap();
    let mut rig = crate::osdp::rig_on(&link, &[(1, PdRole::Door)]);
    let alice = rig.api.fx.person();
    let uid = Uid::parse_for(Technology::Other, "2A04D2").unwrap();
    rig.api.store.enroll(&staff(), alice.id, Technology::Other, &uid).unwrap();
    rig.online(1).await;

    // Facility 42, card 1234, as libosdp submits it: 26 bits, MSB first.
    let bits = firmware_protocol::codes::H10301 { facility: 42, card: 1234 }.encode();
    pd.send(&json!({"card": {"bits": 26, "data": hex::encode(bits), "format": "wiegand"}}));
    let tap = rig
        .expect(&crate::osdp::reader_id(1), Duration::from_secs(3), |k| matches!(k, ReaderEventKind::Tap { .. }))
        .await;
    let Some((_, ReaderEventKind::Tap { uid: got, raw: Some(raw), .. })) = tap else { panic!("no tap from libosdp") };
    assert_eq!(got, uid);
    assert_eq!((raw.bits, raw.format, raw.data.as_str()), (26, "wiegand", "95026900"));

    // Granted: libosdp's PD hands its app our LED (green) and buzzer commands.
    let led = pd.expect(Duration::from_secs(3), |v| v["command"] == "led").expect("LED accepted by libosdp");
    let ours = Led::flash(0, firmware_protocol::payloads::Color::Green, 20);
    assert_eq!(led["on_color"], json!(ours.temp_on_color as u8), "{led}");
    assert_eq!(led["reader"], json!(0));
    let buz = pd.expect(Duration::from_secs(3), |v| v["command"] == "buzzer").expect("buzzer accepted by libosdp");
    assert_eq!(buz["rep_count"], json!(1), "{buz}");
    // Still online: libosdp took both commands (a NAK would have shown as a dropped PD).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, v) = rig
        .api
        .call(axum::http::Method::GET, "/api/v1/readers", Some(rig.api.token(idms::store::Role::Viewer)), None)
        .await;
    assert_eq!(v[0]["status"], "ready", "{v}");

    // A raw card serial number.
    pd.send(&json!({"card": {"bits": 32, "data": "04A1B2C3", "format": "raw"}}));
    let taps = rig.taps(&crate::osdp::reader_id(1), Duration::from_secs(2)).await;
    assert_eq!(taps, ["04A1B2C3"]);
}

#[test]
fn a_libosdp_control_panel_drives_hw_sim_devices() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("line");
    let line = Line::start(&link, &[(1, Kind::Reader), (2, Kind::Encoder)], None).unwrap();
    let tty = std::fs::read_link(&link).unwrap();
    let mut cp = JsonProc::spawn(&[
        &script("libosdp_cp.py"),
        "--tty",
        tty.to_str().unwrap(),
        "--address",
        "1",
        "--address",
        "2",
    ]);
    for a in [1, 2] {
        let on = cp.expect(Duration::from_secs(10), |v| v["event"] == "online" && v["address"] == a);
        assert!(on.is_some(), "libosdp CP did not bring hw-sim device {a} online: {:?}", cp.seen);
    }
    let id = cp.expect(Duration::from_secs(1), |v| v["event"] == "pd_id" && v["address"] == 1).expect("PDID");
    assert_eq!(id["serial_number"], json!(0x0051_0001), "{id}");

    line.h10301(1, 42, 1234);
    let read = cp.expect(Duration::from_secs(3), |v| v["event"] == "card_read").expect("a card read at libosdp");
    assert_eq!((read["address"].clone(), read["bits"].clone()), (json!(1), json!(26)), "{read}");
    assert_eq!(read["data"].as_str().map(str::to_ascii_uppercase), Some("95026900".into()), "{read}");
    assert_eq!(read["format"], "wiegand");

    cp.send(&json!({"led": {"address": 1, "on_color": 2, "control_code": 1, "on_count": 1}}));
    cp.send(&json!({"buzzer": {"address": 1}}));
    let deadline = Instant::now() + Duration::from_secs(3);
    let seen = loop {
        let codes: Vec<u8> = line.seen(1).iter().map(|s| s.code).collect();
        if codes.contains(&u8::from(OsdpCommand::Led)) && codes.contains(&u8::from(OsdpCommand::Buz)) {
            break codes;
        }
        assert!(Instant::now() < deadline, "hw-sim saw {codes:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(&seen[..2], [0x61, 0x62], "ID then CAP first");
    let led = line.seen(1).into_iter().find(|s| s.code == 0x69).unwrap();
    let led = Led::parse(&led.data).expect("libosdp's LED record parses");
    assert_eq!(led.perm_on_color, firmware_protocol::payloads::Color::Green, "{led:?}");
    // Both PDs stay online (hw-sim ACKed; libosdp drops a PD that NAKs).
    std::thread::sleep(Duration::from_millis(500));
    assert!(cp.seen.iter().all(|v| v["event"] != "offline"), "{:?}", cp.seen);
}
