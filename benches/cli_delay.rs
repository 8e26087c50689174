//! `make bench-cli-delay` (issue 16, must-be-true 4's figure): how long a
//! schedule edited with the CLI takes to be in force at the doors of a
//! running `idms serve`. Each round edits the schedule (`idms schedule
//! edit`), then polls `/metrics` every millisecond until
//! `idms_index_applied_seq` reaches the database's change-log head; the
//! service tails the log every `tail_interval_ms` (default 50). Prints the
//! median and the worst delay after the CLI returned, and from its start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const IDMS: &str = env!("CARGO_BIN_EXE_idms");
const ROUNDS: usize = 40;

fn idms(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(IDMS).arg("--data-dir").arg(dir).args(args).env_remove("IDMS_DATA_DIR").output().unwrap();
    assert!(out.status.success(), "idms {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn head(dir: &Path) -> i64 {
    rusqlite::Connection::open(dir.join(idms::store::DB_FILE))
        .unwrap()
        .query_row("SELECT MAX(seq) FROM change_log", [], |r| r.get(0))
        .unwrap()
}

fn applied(agent: &ureq::Agent, base: &str) -> i64 {
    let text = agent.get(&format!("{base}/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
    text.lines().find_map(|l| l.strip_prefix("idms_index_applied_seq ")).unwrap().trim().parse().unwrap()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("idms");
    idms(&dir, &["init"]);
    idms(&dir, &["dev", "seed", "--users", "1000"]);
    idms(&dir, &["controller", "add", "--name", "main-ctl", "--door", "main"]);
    idms(&dir, &["schedule", "add", "Shift", "--site", "Default", "--interval", "mon-sun", "00:00-24:00"]);
    idms(&dir, &["level", "add", "Main shift", "--door", "main", "--schedule", "Shift"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(IDMS)
        .arg("--data-dir")
        .arg(&dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("IDMS_DATA_DIR")
        .env("IDMS_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(2))).build().into();
    let ready = Instant::now();
    while agent.get(&format!("{base}/readyz")).call().is_err() {
        assert!(ready.elapsed() < Duration::from_secs(30), "idms serve did not become ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    while applied(&agent, &base) < head(&dir) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let (mut after_cli, mut whole) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let range = if round % 2 == 0 { "08:00-18:00" } else { "00:00-24:00" };
        let start = Instant::now();
        idms(&dir, &["schedule", "edit", "Shift", "--site", "Default", "--interval", "mon-sun", range]);
        let returned = Instant::now();
        let want = head(&dir);
        while applied(&agent, &base) < want {
            assert!(returned.elapsed() < Duration::from_secs(30), "the service never applied position {want}");
            std::thread::sleep(Duration::from_millis(1));
        }
        let done = Instant::now();
        after_cli.push(done - returned);
        whole.push(done - start);
    }
    let _ = child.kill();
    let _ = child.wait();
    after_cli.sort_unstable();
    whole.sort_unstable();
    println!(
        "CLI schedule edit -> in force at the doors ({ROUNDS} rounds, tail_interval_ms 50): after the CLI returned \
         median {:.1} ms, worst {:.1} ms; from the CLI's start median {:.1} ms, worst {:.1} ms",
        ms(after_cli[ROUNDS / 2]),
        ms(after_cli[ROUNDS - 1]),
        ms(whole[ROUNDS / 2]),
        ms(whole[ROUNDS - 1])
    );
}
