//! Issue 17, must-be-true 1: scim2-tester (PyPI `scim2-cli`, the command
//! `scim2 --url URL test`, installed into the project's `.venv` from
//! `requirements-test.txt`) against `/scim/v2` of a real `idms serve`, with
//! a `provisioner` token in `SCIM_CLI_HEADERS` (never on the command line):
//! every applicable check passes.
//!
//! scim2-tester prints one line per check, `STATUS title`, then the reason
//! indented by two spaces; STATUS is SUCCESS, COMPLIANT, ACCEPTABLE,
//! DEVIATION, ERROR, CRITICAL or SKIPPED, and the command exits non-zero
//! unless every check is SUCCESS. The checks come from what the server
//! publishes (`/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`):
//! discovery endpoints and their methods, a random URL, and for each
//! resource type create, query (with and without `attributes`), replace,
//! delete, and a PATCH add/replace/remove of every writable attribute.
//!
//! A second test serves IDMS's own discovery documents (`idms::scim::schema`)
//! from the reference in-memory server (`scim2-server`, also from
//! `requirements-test.txt`) and runs the same checks: the documents are
//! readable by a strict client and every attribute IDMS publishes is one a
//! client can write and read back. That run's count is the M the run
//! against IDMS must reach.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::{Server, cli, free_port};

/// The statuses scim2-tester prints, as `scim2_tester.Status` names them.
const STATUSES: [&str; 7] = ["SUCCESS", "COMPLIANT", "ACCEPTABLE", "DEVIATION", "ERROR", "CRITICAL", "SKIPPED"];

/// Checks that do not apply to IDMS: (title, a substring of the reason,
/// why). Every entry must be justified in the closing note.
const NOT_APPLICABLE: &[(&str, &str, &str)] = &[];

/// At least this many checks in a run: fewer means the tester could not
/// read the discovery documents and stopped early.
const MIN_CHECKS: usize = 60;

/// The `scim2` command: `$SCIM2_CLI`, else the project venv's.
fn venv_bin(name: &str, env: &str) -> PathBuf {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin").join(name));
    assert!(
        path.is_file(),
        "{} is missing: run `make venv` (pip install -r requirements-test.txt), or set {env}",
        path.display()
    );
    path
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub status: String,
    pub title: String,
    pub reason: String,
}

/// scim2-tester's output, read back.
#[derive(Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

impl Report {
    pub fn parse(output: &str) -> Self {
        let mut checks: Vec<Check> = Vec::new();
        for line in strip_ansi(output).lines() {
            if let Some(reason) = line.strip_prefix("  ") {
                if let Some(last) = checks.last_mut() {
                    if !last.reason.is_empty() {
                        last.reason.push('\n');
                    }
                    last.reason.push_str(reason);
                }
                continue;
            }
            let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
            if STATUSES.contains(&word) {
                checks.push(Check { status: word.to_owned(), title: rest.trim().to_owned(), reason: String::new() });
            }
        }
        Self { checks }
    }

    pub fn passed(&self) -> usize {
        self.checks.iter().filter(|c| c.status == "SUCCESS").count()
    }

    /// Checks not SUCCESS and not listed in `not_applicable`.
    pub fn failures<'a>(&'a self, not_applicable: &[(&str, &str, &str)]) -> Vec<&'a Check> {
        self.checks
            .iter()
            .filter(|c| c.status != "SUCCESS")
            .filter(|c| !not_applicable.iter().any(|(t, r, _)| c.title == *t && c.reason.contains(r)))
            .collect()
    }

    pub fn summary(&self) -> String {
        let mut lines = vec![format!("{}/{} checks SUCCESS", self.passed(), self.checks.len())];
        for c in self.checks.iter().filter(|c| c.status != "SUCCESS") {
            lines.push(format!("{} {}: {}", c.status, c.title, c.reason));
        }
        lines.join("\n")
    }
}

/// A child process killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `scim2 --url URL test` with `headers` in the environment; its
/// output and exit status. Bounded at five minutes.
fn run_tester(url: &str, headers: Option<&str>) -> (String, bool) {
    let mut cmd = Command::new(venv_bin("scim2", "SCIM2_CLI"));
    cmd.args(["--url", url, "test"]).env_remove("SCIM_CLI_HEADERS").env("NO_COLOR", "1");
    if let Some(h) = headers {
        cmd.env("SCIM_CLI_HEADERS", h);
    }
    let mut child = Guard(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap());
    let mut stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "scim2 test ran for more than 300 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let all = format!("{out}{err}");
    // `SCIM_TESTER_LOG=FILE`: keep the whole output (one run per file name).
    if let Some(log) = std::env::var_os("SCIM_TESTER_LOG") {
        let mut name = PathBuf::from(log).into_os_string();
        name.push(if headers.is_some_and(|h| h.contains("reference-token")) { ".reference" } else { ".idms" });
        let _ = std::fs::write(name, &all);
    }
    (all, status.success())
}

/// Writes IDMS's discovery documents for a server at `base` into `dir`.
fn write_discovery(dir: &Path, base: &str) -> (PathBuf, PathBuf, PathBuf) {
    use idms::scim::schema;
    let write = |name: &str, v: Value| {
        let p = dir.join(name);
        std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        p
    };
    (
        write("schemas.json", Value::Array(schema::schemas(base))),
        write("resource-types.json", Value::Array(schema::resource_types(base))),
        write("spc.json", schema::service_provider_config(base)),
    )
}

#[test]
fn report_parser_reads_statuses_reasons_and_colours() {
    let out = "Performing a SCIM compliance check on http://x ...\n\
        \u{1b}[32mSUCCESS\u{1b}[0m service_provider_config_endpoint\n\
        SUCCESS query_all_resource_types\n  Resource types available are: 'User', 'Group'\n\
        \u{1b}[31mERROR\u{1b}[0m check_replace_attribute\n  Failed to replace attribute 'name': 400\n  second line\n\
        SKIPPED check_add_attribute\n  PATCH operations not supported by server\n\
        Traceback (most recent call last):\n";
    let r = Report::parse(out);
    assert_eq!(r.checks.len(), 4);
    assert_eq!(r.passed(), 2);
    assert_eq!(r.checks[1].reason, "Resource types available are: 'User', 'Group'");
    assert_eq!(r.checks[2].status, "ERROR");
    assert_eq!(r.checks[2].reason, "Failed to replace attribute 'name': 400\nsecond line");
    assert_eq!(r.failures(&[]).len(), 2, "SKIPPED is not a pass either");
    let na = [("check_add_attribute", "not supported", "because")];
    assert_eq!(r.failures(&na).len(), 1);
    assert!(r.summary().starts_with("2/4 checks SUCCESS"));
}

/// IDMS's discovery documents, served by the reference server: all pass.
#[test]
fn scim2_tester_passes_idms_discovery_documents_on_the_reference_server() {
    let d = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (schemas, types, spc) = write_discovery(d.path(), &base);
    let server = Guard(
        Command::new(venv_bin("scim2-server", "SCIM2_SERVER"))
            .args(["--port", &port.to_string(), "--bearer-token", "reference-token"])
            .arg("--schema")
            .arg(&schemas)
            .arg("--resource-type")
            .arg(&types)
            .arg("--service-provider-config")
            .arg(&spc)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let agent = crate::server::agent();
    while agent
        .get(&format!("{base}/ServiceProviderConfig"))
        .header("Authorization", "Bearer reference-token")
        .call()
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(Instant::now() < deadline, "scim2-server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (out, ok) = run_tester(&base, Some("Authorization: Bearer reference-token"));
    drop(server);
    let report = Report::parse(&out);
    eprintln!("reference server with IDMS's schemas: {}", report.summary());
    assert!(report.checks.len() >= MIN_CHECKS, "too few checks:\n{out}");
    assert!(report.failures(&[]).is_empty(), "{}", report.summary());
    assert!(ok, "scim2 test exited non-zero:\n{out}");
    let titles: Vec<&str> = report.checks.iter().map(|c| c.title.as_str()).collect();
    for t in [
        "object_creation",
        "check_add_attribute",
        "check_replace_attribute",
        "check_remove_attribute",
        "object_deletion",
    ] {
        assert!(titles.contains(&t), "{t} missing:\n{out}");
    }
}

/// Must-be-true 1: against `idms serve`.
#[test]
fn scim2_tester_passes_every_applicable_check_against_idms() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(d.path());
    let token = cli(d.path(), &["token", "create", "--name", "entra", "--role", "provisioner"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (out, _ok) = run_tester(&format!("{}/scim/v2", server.base), Some(&format!("Authorization: Bearer {token}")));
    server.stop();
    let report = Report::parse(&out);
    eprintln!("scim2-tester against IDMS: {}", report.summary());
    assert!(!out.contains(&token), "the token is never printed");
    assert!(report.checks.len() >= MIN_CHECKS, "too few checks:\n{out}");
    let failures = report.failures(NOT_APPLICABLE);
    assert!(failures.is_empty(), "{}", report.summary());
}
