//! Issue 2/5, must-be-true 5 and 6, against a real `idms serve` process on
//! a loopback port: kill -9 under decide load loses no acknowledged event;
//! a change made with the CLI reaches the running service's decisions.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_idms")
}

pub fn cli(dir: &Path, args: &[&str]) -> Value {
    let out = Command::new(bin()).arg("--data-dir").arg(dir).args(args).arg("--json").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// `idms serve` without the PC/SC driver (the machine's pcscd belongs
    /// to the reader tests).
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[("IDMS_PCSC", "false")])
    }

    /// `idms serve` with extra environment, on `dir` initialised first
    /// (`idms init` leaves an existing database as it is).
    pub fn start_with(dir: &Path, env: &[(&str, &str)]) -> Self {
        cli(dir, &["init"]);
        let port = free_port();
        let child = Command::new(bin())
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("IDMS_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let agent = agent();
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(&format!("{base}/readyz")).call().map(|r| r.status().as_u16()).ok() != Some(200) {
            assert!(Instant::now() < deadline, "the service did not become ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, base }
    }

    /// SIGTERM, then wait: a graceful stop.
    pub fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful stop exits 0: {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

pub fn decide(agent: &ureq::Agent, base: &str, token: &str, uid: &str) -> Result<(u16, Value), ureq::Error> {
    let mut r = agent
        .post(&format!("{base}/api/v1/access/decide"))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(json!({"uid": uid, "door": "main"}))?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_json::<Value>().unwrap_or(Value::Null);
    Ok((status, body))
}

/// A data dir with one person, their card 04A1B2C3, and a controller of door `main`: (dir guard, dir, user, token).
pub fn setup() -> (tempfile::TempDir, PathBuf, String, String) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    cli(&dir, &["init"]);
    let user = cli(&dir, &["user", "add", "--given", "Door", "--family", "User"])["id"].as_str().unwrap().to_string();
    cli(&dir, &["card", "enroll", "--user", &user, "--uid", "04A1B2C3"]);
    let token = cli(&dir, &["controller", "add", "--name", "main-ctl", "--door", "main"])["token"]
        .as_str()
        .unwrap()
        .to_string();
    (d, dir, user, token)
}

#[test]
fn metrics_token_from_the_environment_guards_metrics() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start_with(d.path(), &[("IDMS_PCSC", "false"), ("IDMS_METRICS_TOKEN", "scrape-s3cret")]);
    let agent = agent();
    let get = |auth: Option<&str>| {
        let mut req = agent.get(&format!("{}/metrics", server.base));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let mut r = req.call().unwrap();
        let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        (r.status().as_u16(), ct, r.body_mut().read_to_string().unwrap())
    };
    let (status, ct, body) = get(None);
    assert_eq!((status, ct.as_deref()), (401, Some("application/problem+json")), "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], "unauthorized");
    assert_eq!(get(Some("Bearer wrong")).0, 401);
    let (status, _, body) = get(Some("Bearer scrape-s3cret"));
    assert_eq!(status, 200);
    assert!(body.contains("# TYPE idms_decisions_total counter"), "{body}");
    server.stop();
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_event() {
    let (_d, dir, _user, token) = setup();
    let server = Server::start(&dir);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8u8)
        .map(|w| {
            let (acked, stop, base, token) = (acked.clone(), stop.clone(), server.base.clone(), token.clone());
            std::thread::spawn(move || {
                let agent = agent();
                for i in 0..u16::MAX {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    // A distinct UID per request, so each acknowledgement names its event.
                    let uid = format!("05{w:02X}{i:04X}");
                    match decide(&agent, &base, &token, &uid) {
                        Ok((200, _)) => acked.lock().unwrap().push(uid),
                        Ok((status, body)) => panic!("decide answered {status}: {body}"),
                        Err(_) => break, // the server is gone
                    }
                }
            })
        })
        .collect();
    // Let the load run, then pull the plug.
    let t = Instant::now();
    while acked.lock().unwrap().len() < 300 && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 300, "load ran: {} acknowledged", acked.len());

    // Restart: the service comes back on the same files.
    let again = Server::start(&dir);
    let agent = agent();
    assert_eq!(decide(&agent, &again.base, &token, "04A1B2C3").unwrap().1["decision"], "grant");
    again.stop();

    let logged: std::collections::HashSet<String> =
        idms::store::events::read_all(&dir).unwrap().iter().map(|e| e.uid.to_string()).collect();
    let missing: Vec<_> = acked.iter().filter(|u| !logged.contains(*u)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged decisions have no event: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    for db in ["idms.db", "events.db"] {
        let c = rusqlite::Connection::open(dir.join(db)).unwrap();
        let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok", "{db}");
    }
    let out = Command::new(bin()).arg("--data-dir").arg(&dir).args(["audit", "verify"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn cli_changes_reach_the_running_service_within_200_ms() {
    let (_d, dir, user, token) = setup();
    let server = Server::start(&dir);
    let agent = agent();
    assert_eq!(decide(&agent, &server.base, &token, "04A1B2C3").unwrap().1["decision"], "grant");
    let wait_for = |reason: &str| {
        let since = Instant::now();
        loop {
            let (_, v) = decide(&agent, &server.base, &token, "04A1B2C3").unwrap();
            if v["reason"] == reason {
                return since.elapsed();
            }
            assert!(since.elapsed() < Duration::from_secs(5), "{reason} never seen: {v}");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    cli(&dir, &["user", "suspend", &user]);
    let took = wait_for("holder_suspended");
    assert!(took <= Duration::from_millis(200), "suspend took {took:?}");
    cli(&dir, &["user", "resume", &user]);
    cli(&dir, &["card", "revoke", "04A1B2C3", "--reason", "lost"]);
    let took = wait_for("credential_lost");
    assert!(took <= Duration::from_millis(200), "revoke took {took:?}");
    server.stop();
}
