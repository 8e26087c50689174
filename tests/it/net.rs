//! Issue 7/12 items 1, 2 and 4, against a real `idms serve`: TLS with a
//! certificate generated here (reloaded on SIGHUP), the header-read and
//! idle timeouts, the connection cap, the plain-HTTP warning, and the
//! clean stop with a reader stream, a waiting enrolment and door reads
//! in flight.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use firmware_protocol::codes::Command as Osdp;
use hw_sim::osdp::{Kind, Line};
use serde_json::{Value, json};

use crate::server::{agent, bin, cli, decide, free_port};

/// `idms serve` on `listen` with `env`, its stderr kept in `dir/serve.log`.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Serve {
    fn start(dir: &Path, host: &str, env: &[(&str, &str)]) -> Self {
        cli(dir, &["init"]);
        let port = free_port();
        let log = dir.join("serve.log");
        let child = Command::new(bin())
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", &format!("{host}:{port}")])
            .env("IDMS_PCSC", "false")
            .env("IDMS_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let s = Self { child, port, log };
        // Ready once the log says so (the scheme may be https).
        let deadline = Instant::now() + Duration::from_secs(20);
        while !s.stderr().contains("serving") {
            assert!(Instant::now() < deadline, "the service did not start: {}", s.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn connect(&self) -> TcpStream {
        TcpStream::connect(("127.0.0.1", self.port)).unwrap()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        assert!(Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success());
    }

    /// SIGTERM; the exit status and how long the stop took.
    fn stop(&mut self) -> (std::process::ExitStatus, Duration) {
        let t = Instant::now();
        self.signal("-TERM");
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return (s, t.elapsed());
            }
            assert!(t.elapsed() < Duration::from_secs(30), "SIGTERM did not stop the service: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads until the peer closes; `None` if it did not within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => Some(got),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(got),
        Err(_) => None,
    }
}

/// One keep-alive `GET /healthz` on `s`: the status line.
fn healthz(s: &mut TcpStream) -> String {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: idms\r\n\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn a_half_sent_request_is_dropped_within_the_header_timeout_and_others_are_served() {
    let d = tempfile::tempdir().unwrap();
    let s = Serve::start(d.path(), "127.0.0.1", &[("IDMS_HEADER_READ_TIMEOUT_SECS", "1")]);
    let mut slow = s.connect();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: idms\r\nX-Slow: ").unwrap();
    let t = Instant::now();
    // A complete request on another connection is answered meanwhile.
    let (status, body) = {
        let mut r = agent().get(&format!("{}/healthz", s.base())).call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    assert_eq!((status, body.as_str()), (200, "ok"));
    let got = closed_within(&mut slow, Duration::from_secs(5));
    assert!(got.is_some(), "a half-sent request still held its connection after 5 s (timeout 1 s)");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(!String::from_utf8_lossy(&got.unwrap()).starts_with("HTTP/1.1 200"), "no answer to half a request");
}

/// A client that sends a request's head and then stalls its body (a
/// `POST /login` promising 1,000 bytes) is disconnected once the body-read
/// timeout passes; a request whose body arrived is not timed.
#[test]
fn a_stalled_body_is_dropped_within_the_body_timeout() {
    let d = tempfile::tempdir().unwrap();
    let s = Serve::start(d.path(), "127.0.0.1", &[("IDMS_BODY_READ_TIMEOUT_SECS", "1")]);
    let mut stalled = s.connect();
    stalled
        .write_all(b"POST /api/v1/login HTTP/1.1\r\nHost: idms\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\":")
        .unwrap();
    let t = Instant::now();
    let got = closed_within(&mut stalled, Duration::from_secs(8));
    assert!(got.is_some(), "a stalled body still held its connection after 8 s (timeout 1 s)");
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    // A whole request on a fresh connection is answered (401: no such operator).
    let mut r = agent()
        .post(&format!("{}/api/v1/login", s.base()))
        .send_json(json!({"name": "nobody", "password": "x"}))
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "{}", r.body_mut().read_to_string().unwrap());
}

/// One client address holds at most `max_connections_per_address`
/// connections: a further one is closed at once, and served again once
/// one of its others has closed.
#[test]
fn one_address_holds_at_most_its_share_of_connections() {
    let d = tempfile::tempdir().unwrap();
    let s = Serve::start(d.path(), "127.0.0.1", &[("IDMS_MAX_CONNECTIONS_PER_ADDRESS", "2")]);
    let mut a = s.connect();
    let mut b = s.connect();
    assert_eq!(healthz(&mut a), "HTTP/1.1 200 OK");
    assert_eq!(healthz(&mut b), "HTTP/1.1 200 OK");
    let mut third = s.connect();
    let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nHost: idms\r\n\r\n");
    let got = closed_within(&mut third, Duration::from_secs(5)).expect("the third connection was not closed");
    assert!(got.is_empty(), "the third connection was served: {}", String::from_utf8_lossy(&got));
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = s.connect();
        let _ = again.write_all(b"GET /healthz HTTP/1.1\r\nHost: idms\r\n\r\n");
        again.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        if matches!(again.read(&mut buf), Ok(n) if n > 0) {
            assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
            break;
        }
        assert!(Instant::now() < deadline, "a freed share was never served again");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(healthz(&mut b), "HTTP/1.1 200 OK", "the address's other connection still works");
}

#[test]
fn idle_connections_close_after_the_idle_timeout_but_a_reader_stream_stays() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    cli(dir, &["init"]);
    let token =
        cli(dir, &["token", "create", "--name", "desk", "--role", "enroller"])["token"].as_str().unwrap().to_owned();
    let s = Serve::start(dir, "127.0.0.1", &[("IDMS_IDLE_TIMEOUT_SECS", "1")]);
    let mut silent = s.connect();
    let mut kept = s.connect();
    assert_eq!(healthz(&mut kept), "HTTP/1.1 200 OK");
    let mut stream = s.connect();
    write!(stream, "GET /api/v1/readers/events HTTP/1.1\r\nHost: idms\r\nAuthorization: Bearer {token}\r\n\r\n")
        .unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(5)).is_some(), "a silent connection outlived 5 s");
    assert!(closed_within(&mut kept, Duration::from_secs(5)).is_some(), "an idle keep-alive connection outlived 5 s");
    // The stream answered its head and is still open, past the idle timeout.
    stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head[..n]));
    let mut rest = [0u8; 4096];
    let open = loop {
        match stream.read(&mut rest) {
            Ok(0) => break false,
            Ok(_) => {}
            Err(_) => break true, // nothing more to read, and not closed
        }
    };
    assert!(open, "the reader stream was closed as idle");
}

#[test]
fn beyond_the_connection_cap_a_connection_waits_until_one_closes() {
    let d = tempfile::tempdir().unwrap();
    let s = Serve::start(d.path(), "127.0.0.1", &[("IDMS_MAX_CONNECTIONS", "2")]);
    let mut first = s.connect();
    let mut second = s.connect();
    assert_eq!(healthz(&mut first), "HTTP/1.1 200 OK");
    assert_eq!(healthz(&mut second), "HTTP/1.1 200 OK");
    // The third connects (the kernel's backlog) but is not served…
    let mut third = s.connect();
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: idms\r\n\r\n").unwrap();
    third.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut buf = [0u8; 512];
    let waited = third.read(&mut buf);
    assert!(waited.is_err(), "served beyond the cap of 2: {waited:?}");
    // …until one of the two closes.
    drop(first);
    third.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = third.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
}

#[test]
fn plain_http_on_a_non_loopback_address_is_warned_about_and_loopback_is_not() {
    let d = tempfile::tempdir().unwrap();
    let mut open = Serve::start(d.path(), "0.0.0.0", &[]);
    let (status, _) = open.stop();
    assert!(status.success(), "{}", open.stderr());
    assert!(open.stderr().contains("serving plain HTTP on a non-loopback address"), "{}", open.stderr());
    let d = tempfile::tempdir().unwrap();
    let mut local = Serve::start(d.path(), "127.0.0.1", &[]);
    let (status, _) = local.stop();
    assert!(status.success());
    assert!(!local.stderr().contains("plain HTTP"), "{}", local.stderr());
}

/// A CA made here and a leaf it signs for `localhost`.
struct Pki {
    ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        Self { ca: rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap() }
    }

    /// A new leaf: (certificate PEM, key PEM, certificate DER).
    fn leaf(&self) -> (String, String, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert =
            rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&key, &self.ca).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }

    /// `GET /healthz` over TLS: the answer and the certificate the server showed.
    fn get(&self, port: u16) -> std::io::Result<(String, Vec<u8>)> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut answer = String::new();
        let _ = tls.read_to_string(&mut answer);
        let cert = tls.conn.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec()).unwrap_or_default();
        Ok((answer, cert))
    }
}

#[test]
fn https_with_a_generated_certificate_reloaded_on_sighup_and_when_the_files_change() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let pki = Pki::new();
    let (cert_pem, key_pem, first) = pki.leaf();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, &key_pem).unwrap();
    let mut s = Serve::start(
        dir,
        "127.0.0.1",
        &[("IDMS_TLS_CERT", cert.to_str().unwrap()), ("IDMS_TLS_KEY", key.to_str().unwrap())],
    );
    let (answer, shown) = pki.get(s.port).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
    assert_eq!(shown, first);
    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = s.connect();
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: idms\r\n\r\n").unwrap();
    let got = closed_within(&mut plain, Duration::from_secs(5)).expect("plain HTTP is closed");
    assert!(!got.starts_with(b"HTTP/"), "{}", String::from_utf8_lossy(&got));

    // A renewed certificate, then SIGHUP: new connections see it.
    let (cert_pem, key_pem, second) = pki.leaf();
    std::fs::write(&key, &key_pem).unwrap();
    std::fs::write(&cert, &cert_pem).unwrap();
    s.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pki.get(s.port).unwrap().1 != second {
        assert!(Instant::now() < deadline, "the new certificate was not taken: {}", s.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(s.stderr().contains("TLS certificate reloaded"), "{}", s.stderr());

    // A broken one is refused and the one in use stays.
    std::fs::write(&cert, "not a certificate").unwrap();
    s.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.stderr().contains("tls_no_certificate") {
        assert!(Instant::now() < deadline, "the broken certificate was not reported: {}", s.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    let (answer, shown) = pki.get(s.port).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(shown, second, "the previous certificate stays in use");
    assert!(!s.stderr().contains("PRIVATE KEY"), "no key material in the log");

    // Renewed again without a signal: the file check (every 5 s) takes it.
    let (cert_pem, key_pem, third) = pki.leaf();
    std::fs::write(&key, &key_pem).unwrap();
    std::fs::write(&cert, &cert_pem).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while pki.get(s.port).unwrap().1 != third {
        assert!(Instant::now() < deadline, "a changed certificate file was not taken: {}", s.stderr());
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, _) = s.stop();
    assert!(status.success(), "{}", s.stderr());
}

/// A key file others can read is served, with a warning at start that
/// says how to fix it; a 0600 one gets none.
#[test]
fn a_key_file_readable_by_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let pki = Pki::new();
    for (mode, warned) in [(0o600, false), (0o644, true)] {
        let d = tempfile::tempdir().unwrap();
        let (cert_pem, key_pem, _) = pki.leaf();
        let (cert, key) = (d.path().join("cert.pem"), d.path().join("key.pem"));
        std::fs::write(&cert, &cert_pem).unwrap();
        std::fs::write(&key, &key_pem).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let mut s = Serve::start(
            d.path(),
            "127.0.0.1",
            &[("IDMS_TLS_CERT", cert.to_str().unwrap()), ("IDMS_TLS_KEY", key.to_str().unwrap())],
        );
        assert_eq!(s.stderr().contains("TLS key file is readable by other users"), warned, "{mode:o}: {}", s.stderr());
        assert!(!s.stderr().contains("PRIVATE KEY"));
        let (status, _) = s.stop();
        assert!(status.success());
    }
}

#[test]
fn a_certificate_that_does_not_load_stops_the_service_at_start() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    cli(dir, &["init"]);
    std::fs::write(dir.join("cert.pem"), "nothing here").unwrap();
    std::fs::write(dir.join("key.pem"), "nor here").unwrap();
    let out = Command::new(bin())
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .env("IDMS_PCSC", "false")
        .env("IDMS_TLS_CERT", dir.join("cert.pem"))
        .env("IDMS_TLS_KEY", dir.join("key.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error[tls_no_certificate]") && err.contains("cert.pem"), "{err}");
}

/// The reader stream over raw HTTP on a thread: sends `()` when it ends.
fn reader_stream(port: u16, token: &str) -> mpsc::Receiver<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET /api/v1/readers/events HTTP/1.1\r\nHost: idms\r\nAuthorization: Bearer {token}\r\n\r\n").unwrap();
    let mut r = std::io::BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = r.read_to_end(&mut sink);
        let _ = tx.send(());
    });
    rx
}

#[test]
fn sigterm_ends_streams_finishes_requests_commits_door_reads_and_exits_0_within_5_s() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    cli(&dir, &["init"]);
    let person = cli(&dir, &["user", "add", "--given", "Door", "--family", "User"])["id"].as_str().unwrap().to_owned();
    let enroller =
        cli(&dir, &["token", "create", "--name", "desk", "--role", "enroller"])["token"].as_str().unwrap().to_owned();
    let controller =
        cli(&dir, &["controller", "add", "--name", "main-ctl", "--door", "main"])["token"].as_str().unwrap().to_owned();
    let link = dir.join("ttyS-door");
    let line = Line::start(&link, &[(1, Kind::Reader), (2, Kind::Reader)], None).unwrap();
    let config = dir.join("idms.toml");
    std::fs::write(
        &config,
        format!(
            "[[osdp]]\nport = {:?}\nbaud = 115200\npoll_ms = 20\ndevices = [{{ address = 1, role = \"door\", door = \"lobby\" }}, \
             {{ address = 2, role = \"enrolment\", id = \"desk\" }}]\n",
            link.display().to_string()
        ),
    )
    .unwrap();
    // Events wait 200 ms for company: at SIGTERM some are still queued.
    let mut s = Serve::start(
        &dir,
        "127.0.0.1",
        &[("IDMS_CONFIG", config.to_str().unwrap()), ("IDMS_EVENT_COMMIT_DELAY_US", "200000")],
    );
    let base = s.base();
    let readers = || {
        let mut r = agent()
            .get(&format!("{base}/api/v1/readers"))
            .header("Authorization", &format!("Bearer {enroller}"))
            .call()
            .unwrap();
        r.body_mut().read_json::<Value>().unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while readers().as_array().is_none_or(|a| a.len() != 2 || a.iter().any(|r| r["status"] != "ready")) {
        assert!(Instant::now() < deadline, "the OSDP readers did not come online: {}", readers());
        std::thread::sleep(Duration::from_millis(50));
    }

    let stream_ended = reader_stream(s.port, &enroller);
    let enrolment = {
        let (base, token, person) = (base.clone(), enroller.clone(), person.clone());
        std::thread::spawn(move || {
            let mut r = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .new_agent()
                .post(&format!("{base}/api/v1/enrollments"))
                .header("Authorization", &format!("Bearer {token}"))
                .send_json(json!({"reader": "desk", "user_id": person, "wait_s": 120}))
                .unwrap();
            (r.status().as_u16(), r.body_mut().read_json::<Value>().unwrap_or(Value::Null))
        })
    };
    // Decisions over HTTP until the service is gone; each acknowledged one must be logged.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let quit = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4u8)
        .map(|w| {
            let (acked, quit, base, token) = (acked.clone(), quit.clone(), base.clone(), controller.clone());
            std::thread::spawn(move || {
                let agent = agent();
                for i in 0..u16::MAX {
                    if quit.load(Ordering::Relaxed) {
                        break;
                    }
                    let uid = format!("06{w:02X}{i:04X}");
                    match decide(&agent, &base, &token, &uid) {
                        Ok((200, _)) => acked.lock().unwrap().push(uid),
                        Ok((503, _)) | Err(_) => break, // stopping, or gone
                        Ok((other, body)) => panic!("decide answered {other}: {body}"),
                    }
                }
            })
        })
        .collect();
    // Door reads, each answered with its LED (before its event is durable).
    for card in 1..=5u16 {
        line.h10301(1, 7, card);
    }
    let leds = || line.seen(1).iter().filter(|c| c.code == u8::from(Osdp::Led)).count();
    let deadline = Instant::now() + Duration::from_secs(5);
    while leds() < 5 || acked.lock().unwrap().len() < 20 {
        assert!(
            Instant::now() < deadline,
            "door reads answered: {}, decisions: {}",
            leds(),
            acked.lock().unwrap().len()
        );
        std::thread::sleep(Duration::from_millis(5));
    }

    let (status, took) = s.stop();
    quit.store(true, Ordering::Relaxed);
    assert!(status.success(), "exit status {status}: {}", s.stderr());
    assert!(took < Duration::from_secs(5), "the stop took {took:?}");
    assert!(stream_ended.recv_timeout(Duration::from_secs(1)).is_ok(), "the reader stream did not end");
    let (code, body) = enrolment.join().unwrap();
    assert_eq!((code, body["code"].as_str()), (503, Some("stopping")), "{body}");
    for t in load {
        t.join().unwrap();
    }
    let logged = idms::store::events::read_all(&dir).unwrap();
    let at_door = logged.iter().filter(|e| e.door == "lobby").count();
    assert_eq!(at_door, 5, "every door read answered is logged");
    let uids: std::collections::HashSet<String> = logged.iter().map(|e| e.uid.to_string()).collect();
    let acked = acked.lock().unwrap();
    let missing: Vec<_> = acked.iter().filter(|u| !uids.contains(*u)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged decisions are not logged: {missing:?}",
        missing.len(),
        acked.len()
    );
}

/// Failed authentications are audited in one-second batches; a stop right
/// after them writes the batch rather than losing it with the runtime.
#[test]
fn refusals_gathered_before_a_stop_are_audited() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Serve::start(d.path(), "127.0.0.1", &[]);
    let a = agent();
    for _ in 0..3 {
        let r = a
            .get(&format!("{}/api/v1/stats", s.base()))
            .header("Authorization", "Bearer idms_op_not-a-token")
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    let (status, _) = s.stop();
    assert!(status.success(), "{}", s.stderr());
    let entries = cli(d.path(), &["audit", "list", "--limit", "1000"]);
    let refused: Vec<&Value> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "api.refused" && e["detail"].as_str().unwrap_or("").contains("bearer"))
        .collect();
    let counted: u64 =
        refused.iter().filter_map(|e| e["detail"].as_str()?.rsplit("count=").next()?.parse::<u64>().ok()).sum();
    assert_eq!(counted, 3, "{refused:?}");
}
