//! The CLI contract (issue 1/5), through the real binary: JSON shapes,
//! exit codes, error codes on stderr, UID spellings (must-be-true 6) and
//! the erasure and audit checks from the command line.

use std::path::Path;

use serde_json::Value;

use crate::common::{contains, idms, raw_files};

fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = idms(dir, &a);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs a command that must be refused; returns the code from the JSON on stderr.
fn refused(dir: &Path, args: &[&str]) -> String {
    let mut a = args.to_vec();
    a.push("--json");
    let out = idms(dir, &a);
    assert_eq!(out.status.code(), Some(1), "{args:?} should be refused: {}", String::from_utf8_lossy(&out.stdout));
    let e: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(e["message"].as_str().is_some_and(|m| m.len() > 20), "{e}");
    e["code"].as_str().unwrap().to_string()
}

fn add(dir: &Path, family: &str) -> String {
    let v = ok_json(dir, &["user", "add", "--given", "Casey", "--family", family]);
    assert_eq!(v["state"], "active");
    v["id"].as_str().unwrap().to_string()
}

fn init() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    assert!(idms(d.path(), &["init"]).status.success());
    d
}

/// Every command that uses the database, as a mistyped `--data-dir` would
/// run it.
const NEEDS_A_DATABASE: &[&[&str]] = &[
    &["user", "show", "000000000001"],
    &["user", "add", "--given", "G", "--family", "F"],
    &["user", "search", "x"],
    &["user", "deleted"],
    &["user", "purge-date", "--clear", "--group", "g"],
    &["card", "list"],
    &["card", "enroll", "--user", "000000000001", "--uid", "04A1B2C3"],
    &["card", "twins"],
    &["decide", "--uid", "04A1B2C3"],
    &["audit", "verify"],
    &["audit", "list"],
    &["events", "list"],
    &["stats"],
    &["checkpoint"],
    &["backup", "--to", "/nonexistent-dir/backup.db"],
    &["demo"],
    &["dev", "seed", "--users", "1"],
    &["dev", "open-stats"],
    &["token", "list"],
    &["token", "create", "--name", "a", "--role", "admin"],
    &["operator", "list"],
    &["controller", "list"],
    &["purge", "history"],
    &["purge", "plan", "--grace-days", "0"],
    &["serve", "--listen", "127.0.0.1:0"],
];

#[test]
fn every_command_but_init_refuses_a_data_dir_without_a_database_and_creates_nothing() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("mistyped");
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for dir in [&missing, &empty] {
        for args in NEEDS_A_DATABASE {
            let out = crate::common::idms_cmd(dir, args).env("IDMS_PCSC", "false").output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
            assert!(err.contains("error[not_initialised]"), "{args:?}: {err}");
            assert!(err.contains(&dir.display().to_string()) && err.contains("idms init"), "{args:?}: {err}");
        }
    }
    assert!(!missing.exists(), "no command but init creates the data directory");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "nor a database in an empty one");
}

/// `idms serve` on a data directory without a database: it reads its
/// configuration, sets up logging, logs the configuration at debug level,
/// then refuses `not_initialised`; returns what it wrote on stderr.
fn serve_stderr(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut c = crate::common::idms_cmd(dir, args);
    c.env_remove("IDMS_LOG").env_remove("IDMS_LOG_FORMAT").env("IDMS_PCSC", "false").envs(env.iter().copied());
    let out = c.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn serve_log_flags_take_effect() {
    let d = tempfile::tempdir().unwrap();
    let (code, err) = serve_stderr(d.path(), &["serve"], &[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(!err.contains("configuration"), "the default level is info: {err}");
    let (_, err) = serve_stderr(d.path(), &["--log", "debug", "serve"], &[("IDMS_LOG", "warn")]);
    assert!(err.contains("configuration") && err.contains("event_queue: 65536"), "--log beats IDMS_LOG: {err}");
    let (_, err) = serve_stderr(d.path(), &["serve", "--log", "debug", "--log-format", "json"], &[]);
    let line = err.lines().find(|l| l.contains("configuration")).unwrap();
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["fields"]["message"], "configuration", "{line}");
}

#[test]
fn serve_refuses_a_bad_configuration_naming_it() {
    let d = tempfile::tempdir().unwrap();
    for (env, named) in [
        (("IDMS_LOG_FORMAT", "xml"), "IDMS_LOG_FORMAT: unknown variant `xml`, expected `human` or `json`"),
        (("IDMS_EVENT_QUEUE_SIZE", "10"), "IDMS_EVENT_QUEUE_SIZE is not a configuration variable"),
        (("IDMS_PCSC_DEBOUNCE_MS", "soon"), "IDMS_PCSC_DEBOUNCE_MS: `soon`"),
    ] {
        let (code, err) = serve_stderr(d.path(), &["serve"], &[env]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.starts_with("error[config]: ") && err.contains(named), "{err}");
    }
    let conf = d.path().join("idms.toml");
    std::fs::write(&conf, "listen = \"127.0.0.1:0\"\nevent_queu = 1\n").unwrap();
    let (code, err) = serve_stderr(d.path(), &["serve", "--config", conf.to_str().unwrap()], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("event_queu"), "{err}");
}

#[test]
fn init_creates_the_data_dir_0700_and_a_second_init_changes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("new/idms");
    let v = ok_json(&dir, &["init"]);
    assert_eq!(v["created"], true);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "the data directory holds personal data");
    assert_eq!(mode(&dir.join("idms.db")), 0o600);
    let id = add(&dir, "Okafor");
    let files = |dir: &Path| {
        let mut f: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name(), std::fs::read(e.path()).unwrap(), e.metadata().unwrap().modified().unwrap())
            })
            .collect();
        f.sort();
        f
    };
    let before = files(&dir);
    let out = idms(&dir, &["init"]);
    assert!(out.status.success(), "init on an existing database exits 0");
    assert!(String::from_utf8_lossy(&out.stdout).contains("already initialised"));
    assert_eq!(ok_json(&dir, &["init"])["created"], false);
    assert!(files(&dir) == before, "init left the existing database exactly as it was");
    assert_eq!(ok_json(&dir, &["user", "show", &id])["state"], "active");
}

#[test]
fn user_lifecycle_and_search() {
    let d = init();
    let dir = d.path();
    let id = add(dir, "Okafor");
    let v = ok_json(dir, &["user", "show", &id]);
    assert_eq!((v["id"].as_str(), v["state"].as_str()), (Some(id.as_str()), Some("active")));
    assert_eq!(ok_json(dir, &["user", "search", "oka"])[0]["id"], id.as_str());
    for (cmd, state) in [("suspend", "suspended"), ("resume", "active"), ("delete", "deleted"), ("restore", "active")] {
        assert!(idms(dir, &["user", cmd, &id]).status.success(), "{cmd}");
        assert_eq!(ok_json(dir, &["user", "show", &id])["state"], state);
    }
    assert_eq!(refused(dir, &["user", "expunge", &id, "--confirm", &id]), "holder_not_deleted");
    assert_eq!(refused(dir, &["user", "resume", &id]), "invalid_transition");
    assert!(idms(dir, &["user", "delete", &id]).status.success());
    // Default search hides deleted people; --all shows them.
    assert_eq!(ok_json(dir, &["user", "search", "Okafor"]).as_array().unwrap().len(), 0);
    assert_eq!(ok_json(dir, &["user", "search", "Okafor", "--all"])[0]["state"], "deleted");
    let other = add(dir, "Other");
    assert_eq!(refused(dir, &["user", "expunge", &id, "--confirm", &other]), "expunge_not_confirmed");
    let v = ok_json(dir, &["user", "expunge", &id, "--confirm", &id]);
    assert_eq!(v["state"], "expunged");
    assert_eq!(refused(dir, &["user", "restore", &id]), "already_expunged");
    assert_eq!(refused(dir, &["user", "show", "ZZZZZZZZZZZZ"]), "not_found");
    // Text that is not an ID (it may be a name) is refused without being echoed.
    let out = idms(dir, &["user", "show", "Lovelace"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid_user_id") && !err.contains("Lovelace"), "{err}");
}

#[test]
fn uid_spellings_and_refusals() {
    let d = init();
    let dir = d.path();
    let id = add(dir, "Uid");
    let v = ok_json(dir, &["card", "enroll", "--user", &id, "--uid", "04:a1:b2:c3"]);
    assert_eq!((v["uid"].as_str(), v["state"].as_str()), (Some("04A1B2C3"), Some("issued")));
    assert_eq!(v["holder"], id.as_str());
    for spelling in ["04:a1:b2:c3", "04 A1 B2 C3", "04a1b2c3"] {
        assert_eq!(ok_json(dir, &["card", "show", spelling])["uid"], "04A1B2C3", "{spelling}");
    }
    let cases = [
        ("04A1B2C", "uid_odd_digits"),
        ("04A1B2CG", "invalid_uid"),
        ("04A1B2C3D4", "uid_wrong_length"),
        ("08A1B2C3", "random_uid"),
    ];
    for (uid, code) in cases {
        assert_eq!(refused(dir, &["card", "enroll", "--user", &id, "--uid", uid]), code, "{uid}");
    }
    // Refused at the boundary, and still audited.
    let audit = ok_json(dir, &["audit", "list"]);
    let outcomes: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    for (_, code) in cases {
        assert!(outcomes.contains(&code), "{code} audited: {outcomes:?}");
    }
    assert_eq!(
        refused(dir, &["card", "enroll", "--user", &id, "--uid", "0102030405", "--tech", "iso14443a"]),
        "uid_wrong_length"
    );
    let v = ok_json(dir, &["card", "enroll", "--user", &id, "--uid", "0102030405", "--tech", "em4100"]);
    assert_eq!(v["technology"], "em4100");
}

#[test]
fn cards_decide_and_recycle() {
    let d = init();
    let dir = d.path();
    let a = add(dir, "Holder");
    let b = add(dir, "Next");
    ok_json(dir, &["card", "enroll", "--user", &a, "--uid", "04C0FFEE"]);
    assert_eq!(refused(dir, &["decide", "--uid", "04c0ffee", "--door", "main"]), "not_found");
    ok_json(dir, &["door", "add", "main"]);
    let v = ok_json(dir, &["decide", "--uid", "04c0ffee", "--door", "main"]);
    assert_eq!((v["level"].as_str(), v["interval"].as_str()), (Some("All doors, always"), Some("00:00-24:00")));
    assert_eq!((v["decision"].as_str(), v["reason"].as_str()), (Some("grant"), None));
    assert_eq!(ok_json(dir, &["decide", "--uid", "04000000"])["reason"], "unknown_credential");
    assert_eq!(refused(dir, &["card", "enroll", "--user", &b, "--uid", "04C0FFEE"]), "credential_held");
    idms(dir, &["user", "delete", &a]);
    assert_eq!(ok_json(dir, &["decide", "--uid", "04C0FFEE"])["reason"], "holder_deleted");
    idms(dir, &["user", "expunge", &a, "--confirm", &a]);
    let v = ok_json(dir, &["card", "show", "04C0FFEE"]);
    assert_eq!((v["state"].as_str(), &v["holder"]), (Some("in_stock"), &Value::Null));
    assert_eq!(ok_json(dir, &["decide", "--uid", "04C0FFEE"])["reason"], "credential_in_stock");
    // The card is listed as ready to recycle; the tombstone keeps the history (IDs and UIDs only).
    let stock = ok_json(dir, &["card", "list", "--state", "in_stock"]);
    assert_eq!(stock.as_array().unwrap().iter().map(|c| c["uid"].as_str().unwrap()).collect::<Vec<_>>(), ["04C0FFEE"]);
    let tomb = ok_json(dir, &["user", "show", &a]);
    assert_eq!(tomb["history"][0]["uid"], "04C0FFEE");
    assert_eq!(tomb["history"][0]["close_reason"], "holder_expunged");
    assert_eq!(ok_json(dir, &["card", "enroll", "--user", &b, "--uid", "04C0FFEE"])["holder"], b.as_str());
    ok_json(dir, &["card", "revoke", "04C0FFEE", "--reason", "destroyed"]);
    assert_eq!(ok_json(dir, &["decide", "--uid", "04C0FFEE"])["reason"], "credential_destroyed");
    assert_eq!(refused(dir, &["card", "enroll", "--user", &a, "--uid", "04C0FFEE"]), "already_expunged");
    assert_eq!(refused(dir, &["card", "revoke", "04C0FFEE", "--reason", "lost"]), "credential_retired");
    assert_eq!(refused(dir, &["card", "revoke", "04C0FFEE", "--reason", "misplaced"]), "invalid_input");
}

#[test]
fn decide_at_window_boundaries() {
    let d = init();
    let dir = d.path();
    let v = ok_json(
        dir,
        &[
            "user",
            "add",
            "--given",
            "W",
            "--family",
            "Window",
            "--valid-from",
            "2027-01-01",
            "--valid-to",
            "2027-02-01T00:00:00Z",
        ],
    );
    let id = v["id"].as_str().unwrap();
    ok_json(dir, &["card", "enroll", "--user", id, "--uid", "04B0B0B0"]);
    for (at, want) in [
        ("2026-12-31T23:59:59Z", Some("not_yet_valid")),
        ("2027-01-01T00:00:00Z", None),
        ("2027-01-31T23:59:59Z", None),
        ("2027-02-01T00:00:00Z", Some("expired")),
    ] {
        assert_eq!(ok_json(dir, &["decide", "--uid", "04B0B0B0", "--at", at])["reason"].as_str(), want, "{at}");
    }
}

#[test]
fn expunge_from_the_cli_leaves_no_trace_in_the_files() {
    let d = init();
    let dir = d.path();
    let markers = ["CliGivenMk1", "CliFamilyMk2", "cli.mk3@example.test", "CliEmpMk4"];
    let v = ok_json(
        dir,
        &[
            "user",
            "add",
            "--given",
            markers[0],
            "--family",
            markers[1],
            "--email",
            markers[2],
            "--employee-no",
            markers[3],
        ],
    );
    let id = v["id"].as_str().unwrap();
    ok_json(dir, &["card", "enroll", "--user", id, "--uid", "04ABCDEF"]);
    let db = dir.join(idms::store::DB_FILE);
    let any = |db: &Path| raw_files(db).iter().any(|(_, b)| markers.iter().any(|m| contains(b, m.as_bytes())));
    assert!(any(&db), "markers are written before the expunge");
    idms(dir, &["user", "delete", id]);
    idms(dir, &["user", "expunge", id, "--confirm", id]);
    assert!(!any(&db), "markers survived the expunge");
    let v = ok_json(dir, &["user", "show", id]);
    assert_eq!(v["state"], "expunged");
    assert!(v["family_name"].is_null() && v["created_at"].is_string() && v["expunged_at"].is_string());
    assert_eq!(ok_json(dir, &["decide", "--uid", "04ABCDEF"])["reason"], "credential_in_stock");
}

#[test]
fn audit_verify_passes_then_names_the_tampered_entry() {
    let d = init();
    let dir = d.path();
    let a = add(dir, "Audited");
    refused(dir, &["user", "resume", &a]);
    idms(dir, &["user", "suspend", &a]);
    let out = idms(dir, &["audit", "verify"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 entries"));
    let entries = ok_json(dir, &["audit", "list"]);
    assert_eq!(entries[1]["outcome"], "invalid_transition");
    let c = rusqlite::Connection::open(dir.join(idms::store::DB_FILE)).unwrap();
    c.execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET outcome = 'ok' WHERE seq = 2;").unwrap();
    drop(c);
    let out = idms(dir, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("audit_broken") && err.contains("entry 2"), "{err}");
}

#[test]
fn a_backup_is_a_consistent_owner_only_copy_and_is_audited() {
    let d = init();
    let dir = d.path();
    let a = add(dir, "Backed");
    ok_json(dir, &["card", "enroll", "--user", &a, "--uid", "04BACC0F"]);
    let to = dir.join("copy.db");
    ok_json(dir, &["backup", "--to", to.to_str().unwrap()]);
    // The copy is a working database on its own.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(&to, copy.path().join(idms::store::DB_FILE)).unwrap();
    assert_eq!(ok_json(copy.path(), &["decide", "--uid", "04BACC0F"])["decision"], "grant");
    assert!(idms(copy.path(), &["audit", "verify"]).status.success());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&to).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let log = ok_json(dir, &["audit", "list"]);
    assert!(log.as_array().unwrap().iter().any(|e| e["action"] == "store.backup"));
    // Never over an existing file.
    assert_eq!(refused(dir, &["backup", "--to", to.to_str().unwrap()]), "invalid_input");
}

/// With only the service's configuration file naming the data directory
/// (`--config` or `IDMS_CONFIG`, as a systemd unit sets it), every command
/// works on the service's database — never on a default one beside it.
#[test]
fn every_command_uses_the_data_dir_of_the_configuration_file() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    let conf = tmp.path().join("idms.toml");
    std::fs::write(&conf, format!("data_dir = {:?}\n", served.to_str().unwrap())).unwrap();
    let bare = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_idms"));
        c.args(args).env_remove("IDMS_DATA_DIR").env_remove("IDMS_CONFIG").env("HOME", tmp.path().join("home"));
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let conf_s = conf.to_str().unwrap();
    assert!(bare(&["--config", conf_s, "init"], &[]).status.success());
    assert!(served.join("idms.db").exists(), "init made the configured database");
    let out = bare(&["user", "add", "--given", "C", "--family", "Configured", "--json"], &[("IDMS_CONFIG", conf_s)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(ok_json(&served, &["user", "show", &id])["family_name"], "Configured");
    assert!(!tmp.path().join("home").exists(), "no default data directory was made");
    // --data-dir still wins over the file.
    let other = tmp.path().join("other");
    let out = bare(&["--config", conf_s, "--data-dir", other.to_str().unwrap(), "user", "search", "x"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_initialised"));
    // A configuration that does not parse is refused, not skipped.
    std::fs::write(&conf, "data_dirr = \"x\"\n").unwrap();
    let out = bare(&["--config", conf_s, "user", "search", "x"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("data_dirr"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The shipped systemd unit keeps the sandbox the README promises, runs
/// `init` before `serve`, and the shipped configuration loads.
#[test]
fn the_shipped_unit_is_sandboxed_and_its_configuration_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("deploy/idms.service")).unwrap();
    let has = |line: &str| unit.lines().any(|l| l.trim() == line);
    for line in [
        "ProtectSystem=strict",
        "LimitNOFILE=65536",
        "NoNewPrivileges=yes",
        "StateDirectory=idms",
        "StateDirectoryMode=0700",
        "SupplementaryGroups=dialout",
        "CapabilityBoundingSet=",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "UMask=0077",
        "Environment=IDMS_CONFIG=/etc/idms/idms.toml",
        "ExecStartPre=/usr/local/bin/idms init",
        "ExecStart=/usr/local/bin/idms serve",
    ] {
        assert!(has(line), "deploy/idms.service lacks `{line}`");
    }
    let conf = root.join("deploy/idms.toml");
    let c = idms::config::Config::load(Some(&conf), std::iter::empty(), &idms::config::Flags::default()).unwrap();
    assert_eq!(c.data_dir, Path::new("/var/lib/idms"));
    assert_eq!(c.log_format, idms::config::LogFormat::Json);
    assert!(
        c.listen.ip().is_loopback() || c.tls_cert.is_some(),
        "the shipped configuration serves plain HTTP off loopback"
    );
}

/// Issue 10/12's CLI contract, end to end: every refusal has its stable
/// code and is on the audit trail, parse errors included.
#[test]
fn the_access_level_commands_refuse_with_stable_codes_and_audit_every_refusal() {
    let d = init();
    let dir = d.path();
    assert_eq!(refused(dir, &["site", "add", "Mars", "--tz", "Mars/Olympus"]), "invalid_input");
    assert_eq!(
        refused(dir, &["schedule", "add", "Bad", "--site", "Default", "--interval", "mon", "25:00-01:00"]),
        "invalid_input"
    );
    assert_eq!(
        refused(dir, &["holiday", "add", "--calendar", "DE", "--date", "2027-13-45", "--type", "public"]),
        "invalid_input"
    );
    assert_eq!(refused(dir, &["level", "add", "L", "--door", "nowhere", "--schedule", "Always"]), "not_found");
    assert_eq!(refused(dir, &["level", "add", "L", "--door"]), "invalid_input");
    assert_eq!(refused(dir, &["schedule", "delete", "Always"]), "in_use");
    assert_eq!(refused(dir, &["who-can", "--door", "nowhere"]), "not_found");
    let log = ok_json(dir, &["audit", "list", "--limit", "1000"]);
    let outcome = |action: &str| -> Vec<String> {
        log.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| e["outcome"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(outcome("site.add"), ["invalid_input"]);
    assert_eq!(outcome("schedule.add"), ["invalid_input"]);
    assert_eq!(outcome("holiday.add"), ["invalid_input"]);
    assert_eq!(outcome("level.add"), ["not_found", "invalid_input"]);
    assert_eq!(outcome("schedule.delete"), ["in_use"]);
    // And the contract's happy path, with --json anywhere.
    ok_json(dir, &["site", "add", "Berlin", "--tz", "Europe/Berlin"]);
    ok_json(dir, &["door", "add", "lab", "--site", "Berlin"]);
    ok_json(dir, &["area", "add", "Labs", "--door", "lab"]);
    ok_json(dir, &["holiday", "add", "--calendar", "DE", "--date", "2027-12-25", "--type", "public", "--yearly"]);
    let s = ok_json(
        dir,
        &[
            "schedule",
            "add",
            "Night",
            "--site",
            "Berlin",
            "--interval",
            "mon-fri",
            "22:00-06:00",
            "--calendar",
            "DE",
            "--on",
            "public",
            "closed",
        ],
    );
    assert_eq!(
        (s["intervals"][0].as_str(), s["on_holiday"]["public"].as_str()),
        (Some("mon-fri 22:00-06:00"), Some("closed"))
    );
    let l = ok_json(
        dir,
        &[
            "level",
            "add",
            "Night lab",
            "--area",
            "Labs",
            "--schedule",
            "Night",
            "--door",
            "lab",
            "--schedule",
            "Always",
        ],
    );
    assert_eq!(l["grants"][0]["area"], "Labs");
    assert_eq!(l["grants"][1]["door"], "lab");
    let u = add(dir, "Night");
    ok_json(dir, &["level", "assign", "Night lab", "--user", &u, "--from", "2027-01-01", "--to", "2028-01-01"]);
    let acc = ok_json(dir, &["access", "--user", &u, "--at", "2027-06-01T12:00:00Z"]);
    let levels: Vec<&str> =
        acc["assignments"].as_array().unwrap().iter().map(|a| a["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["All doors, always", "Night lab"]);
    ok_json(dir, &["level", "default", "remove", "All doors, always"]);
    let fresh = add(dir, "Fresh");
    let acc = ok_json(dir, &["access", "--user", &fresh]);
    assert!(acc["assignments"].as_array().unwrap().is_empty(), "{acc}");
}
