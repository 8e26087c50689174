//! Issue 5/5 from the command line, through the real binary: `idms purge
//! plan|run|resume|status|history|cancel` and `idms user
//! deleted|erase|purge-date` — what is selected and skipped, that a dry
//! run and an unconfirmed run change nothing, that a run expunges exactly
//! the selected (and their data leaves the files), that Ctrl-C leaves the
//! job running for `resume`, and the refusals' codes and exit statuses.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::common::{contains, raw_files};

fn cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = crate::common::idms_cmd(dir, args);
    c.env("IDMS_ACTOR", "cli:test");
    c
}

fn idms(dir: &Path, args: &[&str]) -> Output {
    cmd(dir, args).output().unwrap()
}

fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = idms(dir, &a);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs a command that must be refused (exit 1); returns the JSON error from stderr.
fn refused(dir: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = idms(dir, &a);
    assert_eq!(out.status.code(), Some(1), "{args:?} should be refused: {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty(), "{args:?} printed a result: {}", String::from_utf8_lossy(&out.stdout));
    let e: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(e["message"].as_str().is_some_and(|m| m.len() > 20), "{e}");
    e
}

fn code(dir: &Path, args: &[&str]) -> String {
    refused(dir, args)["code"].as_str().unwrap().to_string()
}

fn init() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    assert!(idms(d.path(), &["init"]).status.success());
    d
}

/// A staff member of the library whose purge date (2020-01-01) is long past; `extra` flags add or override.
fn due(dir: &Path, family: &str, extra: &[&str]) -> String {
    let mut args = vec!["user", "add", "--given", "Purge", "--family", family];
    for (flag, value) in [("--purge-date", "2020-01-01"), ("--record-type", "staff"), ("--group", "library")] {
        if !extra.contains(&flag) {
            args.extend_from_slice(&[flag, value]);
        }
    }
    args.extend_from_slice(extra);
    let v = ok_json(dir, &args);
    v["id"].as_str().unwrap().to_string()
}

fn state(dir: &Path, id: &str) -> String {
    ok_json(dir, &["user", "show", id])["state"].as_str().unwrap().to_string()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn ids(v: &Value) -> Vec<String> {
    sorted(v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect())
}

fn audit_outcomes(dir: &Path, action: &str) -> Vec<String> {
    let log = ok_json(dir, &["audit", "list", "--limit", "1000"]);
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .map(|e| e["outcome"].as_str().unwrap().to_string())
        .collect()
}

const CRITERIA: [&str; 6] = ["--grace-days", "7", "--record-type", "staff", "--waive-threshold", "20"];

fn with<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    let mut v = head.to_vec();
    v.extend_from_slice(tail);
    v
}

#[test]
fn plan_then_run_expunges_exactly_the_selected_and_cancel_is_refused() {
    let d = init();
    let dir = d.path();
    let markers = ["PurgeCliGivenMk1", "PurgeCliFamilyMk2"];
    let a = ok_json(
        dir,
        &[
            "user",
            "add",
            "--given",
            markers[0],
            "--family",
            markers[1],
            "--purge-date",
            "2020-01-01",
            "--record-type",
            "staff",
            "--group",
            "library",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok_json(dir, &["card", "enroll", "--user", &a, "--uid", "04A0A0A1"]);
    let gone = due(dir, "Deleted", &[]);
    assert!(idms(dir, &["user", "delete", &gone]).status.success());
    let owes = due(dir, "Owes", &["--balance", "20.5"]);
    let items = due(dir, "Items", &["--balance", "20.00", "--unreturned-items", "1"]);
    let held = due(dir, "Held", &["--legal-hold"]);
    let later = due(dir, "Later", &["--purge-date", "2099-01-01"]);
    let contractor = due(dir, "Contractor", &["--record-type", "contractor"]);
    let undated = ok_json(dir, &["user", "add", "--given", "No", "--family", "Date", "--record-type", "staff"])["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The dry run: who is selected, who is skipped and why; nobody else is considered.
    let v = ok_json(dir, &with(&["purge", "plan"], &CRITERIA));
    assert_eq!(
        (v["dry_run"].as_bool(), v["selected_count"].as_u64(), v["skipped_count"].as_u64()),
        (Some(true), Some(2), Some(3)),
        "{v}"
    );
    assert_eq!(ids(&v["plan"]["selected"]), sorted(vec![a.clone(), gone.clone()]));
    let mut skipped: Vec<(String, Value)> = v["plan"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["user_id"].as_str().unwrap().to_string(), s["reasons"].clone()))
        .collect();
    skipped.sort_by(|x, y| x.0.cmp(&y.0));
    let mut want = vec![
        (owes.clone(), json!(["balance_over_threshold"])),
        (items.clone(), json!(["unreturned_items"])),
        (held.clone(), json!(["legal_hold"])),
    ];
    want.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(skipped, want);
    // --only-deleted skips the live one instead.
    let v = ok_json(dir, &with(&["purge", "plan", "--only-deleted"], &CRITERIA));
    assert_eq!(ids(&v["plan"]["selected"]), vec![gone.clone()]);
    assert!(
        v["plan"]["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["user_id"] == a.as_str() && s["reasons"] == json!(["not_deleted"])),
        "{v}"
    );
    // The text form: counts, reasons counted, and a row per person.
    let out = idms(dir, &with(&["purge", "plan"], &CRITERIA));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("2 selected, 3 skipped (balance_over_threshold 1, legal_hold 1, unreturned_items 1)"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with(&held) && l.contains("skipped") && l.contains("legal_hold")), "{text}");
    assert!(text.lines().any(|l| l.starts_with(&a) && l.contains("selected")), "{text}");
    assert!(!text.contains(&later) && !text.contains(&contractor) && !text.contains(&undated), "{text}");
    // Nothing changed, nothing recorded but the look.
    assert_eq!((state(dir, &a), state(dir, &gone)), ("active".into(), "deleted".into()));
    assert_eq!(ok_json(dir, &["purge", "history"]), json!([]));
    assert_eq!(audit_outcomes(dir, "purge.dry_run"), ["ok", "ok", "ok"]);

    // Without --yes: refused, audited, no job.
    let e = refused(dir, &with(&["purge", "run"], &CRITERIA));
    assert_eq!(e["code"], "not_confirmed");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("cannot be aborted") && msg.contains("idms purge plan") && msg.contains("--yes"), "{msg}");
    let out = idms(dir, &with(&["purge", "run"], &CRITERIA));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error[not_confirmed]: "), "{out:?}");
    assert_eq!(ok_json(dir, &["purge", "history"]), json!([]));
    assert_eq!(state(dir, &a), "active");
    assert_eq!(audit_outcomes(dir, "purge.plan"), ["not_confirmed", "not_confirmed"]);

    // The run: the selected are expunged, the skipped untouched, the summary counts reasons.
    let v = ok_json(dir, &with(&["purge", "run", "--yes"], &CRITERIA));
    let job = v["job"]["id"].as_i64().unwrap();
    assert_eq!(v["job"]["state"], "completed", "{v}");
    assert_eq!(
        (v["job"]["selected"].as_u64(), v["job"]["skipped"].as_u64(), v["job"]["expunged"].as_u64()),
        (Some(2), Some(3), Some(2))
    );
    assert_eq!(
        (v["processed"].as_u64(), v["skipped"].as_u64(), v["interrupted"].as_bool()),
        (Some(2), Some(3), Some(false))
    );
    assert_eq!(v["skipped_by_reason"], json!({"balance_over_threshold": 1, "legal_hold": 1, "unreturned_items": 1}));
    assert_eq!(v["job"]["criteria"]["waive_threshold"], json!(20.0));
    assert_eq!(v["job"]["created_by"], "cli:test");
    for (id, want) in [
        (&a, "expunged"),
        (&gone, "expunged"),
        (&owes, "active"),
        (&items, "active"),
        (&held, "active"),
        (&later, "active"),
        (&contractor, "active"),
        (&undated, "active"),
    ] {
        assert_eq!(state(dir, id), want, "{id}");
    }
    assert!(ok_json(dir, &["user", "show", &a])["family_name"].is_null());
    assert_eq!(ok_json(dir, &["card", "show", "04A0A0A1"])["state"], "in_stock");
    let db = dir.join(idms::store::DB_FILE);
    assert!(
        !raw_files(&db).iter().any(|(_, b)| markers.iter().any(|m| contains(b, m.as_bytes()))),
        "erased data survived the run in the database files"
    );

    // Status, with and without outcomes; history.
    let s = ok_json(dir, &["purge", "status", &job.to_string()]);
    assert_eq!((s["state"].as_str(), s["done"].as_u64()), (Some("completed"), Some(2)));
    assert!(s["completed_at"].is_string() && s["started_at"].is_string() && s.get("outcomes").is_none(), "{s}");
    let s = ok_json(dir, &["purge", "status", &job.to_string(), "--outcomes"]);
    let outcomes = s["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 5, "{s}");
    let of = |id: &str| outcomes.iter().find(|o| o["user_id"] == id).unwrap().clone();
    assert_eq!((of(&a)["outcome"].as_str(), of(&a)["selected"].as_bool()), (Some("expunged"), Some(true)));
    assert_eq!((of(&gone)["outcome"].as_str(), of(&gone)["selected"].as_bool()), (Some("expunged"), Some(true)));
    assert_eq!((of(&held)["outcome"].as_str(), of(&held)["selected"].as_bool()), (Some("skipped"), Some(false)));
    assert_eq!(of(&owes)["reasons"], json!(["balance_over_threshold"]));
    let out = idms(dir, &["purge", "status", &job.to_string(), "--outcomes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with(&items) && l.contains("unreturned_items")), "{text}");
    let h = ok_json(dir, &["purge", "history"]);
    assert_eq!((h[0]["id"].as_i64(), h.as_array().unwrap().len()), (Some(job), 1));

    // Cancel: always refused, audited; a job that does not exist is not_found.
    let e = refused(dir, &["purge", "cancel", &job.to_string()]);
    assert_eq!(e["code"], "job_not_abortable");
    assert!(e["message"].as_str().unwrap().contains("cannot be aborted"), "{e}");
    let out = idms(dir, &["purge", "cancel", &job.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error[job_not_abortable]: purge job"), "{out:?}");
    assert_eq!(audit_outcomes(dir, "purge.cancel"), ["job_not_abortable", "job_not_abortable"]);
    assert_eq!(code(dir, &["purge", "cancel", "999999"]), "not_found");
    assert_eq!(code(dir, &["purge", "status", "999999"]), "not_found");
    assert_eq!(code(dir, &["purge", "resume", "999999"]), "not_found");

    // Text mode of a run: the job's number first, then the summary; no progress bar when stderr is no terminal.
    let out = idms(dir, &with(&["purge", "run", "--yes"], &CRITERIA));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let next = job + 1;
    assert!(text.starts_with(&format!("purge job {next} planned on ")), "{text}");
    assert!(text.contains(&format!("purge job {next} completed: 0 expunged, 3 skipped")), "{text}");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ok_json(dir, &["purge", "resume"]), json!([]));
}

#[test]
fn bad_criteria_are_refused_and_create_no_job() {
    let d = init();
    let dir = d.path();
    let a = due(dir, "Alpha", &[]);
    assert_eq!(code(dir, &["purge", "plan", "--grace-days", "0", "--waive-threshold", "0.001"]), "invalid_input");
    let e = refused(dir, &["purge", "run", "--grace-days", "0", "--waive-threshold", "0.001", "--yes"]);
    assert_eq!(e["code"], "invalid_input");
    assert!(e["message"].as_str().unwrap().starts_with("waive_threshold:"), "{e}");
    // A refusal caught while parsing a state-changing command is audited.
    assert_eq!(audit_outcomes(dir, "purge.plan"), ["invalid_input"]);
    // Clap refuses what does not parse at all (usage error, exit 2).
    assert_eq!(idms(dir, &["purge", "plan", "--grace-days", "-1"]).status.code(), Some(2));
    assert_eq!(idms(dir, &["purge", "run", "--yes"]).status.code(), Some(2));
    assert_eq!(ok_json(dir, &["purge", "history"]), json!([]));
    assert_eq!(state(dir, &a), "active");
}

#[test]
fn an_interrupted_run_leaves_the_job_running_and_resume_finishes_it() {
    const PEOPLE: u64 = 10_000;
    let d = init();
    let dir = d.path();
    let out = idms(dir, &["dev", "seed", "--users", &PEOPLE.to_string()]);
    assert!(out.status.success(), "{out:?}");
    let v = ok_json(dir, &["user", "purge-date", "--set", "2020-01-01", "--state", "active"]);
    assert_eq!(v["count"].as_u64(), Some(PEOPLE));

    let mut child = cmd(dir, &["purge", "run", "--grace-days", "0", "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("purge job 1 planned on ") && first.contains(&format!("{PEOPLE} selected")), "{first}");
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stdout: {rest} stderr: {err}");
    assert!(err.contains("stays running") && err.contains("idms purge resume 1"), "{err}");
    assert!(rest.contains("purge job 1 stopped"), "{rest}");

    // Not aborted: still running, part done, and cancel is still refused.
    let s = ok_json(dir, &["purge", "status", "1"]);
    let done = s["done"].as_u64().unwrap();
    assert_eq!(s["state"], "running", "{s}");
    assert!((1..PEOPLE).contains(&done), "{s}");
    assert_eq!(s["expunged"].as_u64(), Some(done));
    let e = refused(dir, &["purge", "cancel", "1"]);
    assert_eq!(e["code"], "job_not_abortable");
    assert!(e["message"].as_str().unwrap().contains("running"), "{e}");

    // Resume carries it to completion, counting only what this process did.
    let v = ok_json(dir, &["purge", "resume"]);
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        (v[0]["job"]["state"].as_str(), v[0]["job"]["expunged"].as_u64(), v[0]["processed"].as_u64()),
        (Some("completed"), Some(PEOPLE), Some(PEOPLE - done))
    );
    let s = ok_json(dir, &["purge", "status", "1", "--outcomes"]);
    let outcomes = s["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len() as u64, PEOPLE, "every page of outcomes");
    assert!(outcomes.iter().all(|o| o["outcome"] == "expunged"));
    assert_eq!(ok_json(dir, &["user", "search", "", "--limit", "5"]), json!([]));
    assert_eq!(ok_json(dir, &["purge", "resume"]), json!([]));
}

#[test]
fn the_erase_flow_from_the_cli() {
    let d = init();
    let dir = d.path();
    let add = |family: &str, extra: &[&str]| {
        let mut args = vec!["user", "add", "--given", "Erase", "--family", family, "--org-unit", "north"];
        args.extend_from_slice(extra);
        ok_json(dir, &args)["id"].as_str().unwrap().to_string()
    };
    let gone = add("Gonefamily", &[]);
    let held = add("Heldfamily", &["--legal-hold"]);
    let alive = add("Alivefamily", &[]);
    let south = ok_json(dir, &["user", "add", "--given", "S", "--family", "Southfamily", "--org-unit", "south"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    for id in [&gone, &held, &south] {
        assert!(idms(dir, &["user", "delete", id]).status.success());
    }

    // Deleted people, by query, time and unit.
    let list = |args: &[&str]| -> Vec<String> {
        let v = ok_json(dir, &with(&["user", "deleted"], args));
        sorted(v.as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()).collect())
    };
    assert_eq!(list(&[]), sorted(vec![gone.clone(), held.clone(), south.clone()]));
    assert_eq!(list(&["gonefam"]), vec![gone.clone()]);
    assert_eq!(list(&["--org-unit", "north"]), sorted(vec![gone.clone(), held.clone()]));
    assert_eq!(list(&["--deleted-from", "2000-01-01", "--limit", "1"]).len(), 1);
    assert_eq!(list(&["--deleted-to", "2000-01-01"]), Vec::<String>::new());
    let v = ok_json(dir, &["user", "deleted", "gonefam"]);
    assert!(v[0]["deleted_at"].is_string() && v[0]["family_name"] == "Gonefamily", "{v}");
    let out = idms(dir, &["user", "deleted", "--org-unit", "north"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ID") && text.contains("Heldfamily") && !text.contains("Southfamily"), "{text}");
    assert_eq!(code(dir, &["user", "deleted", "--deleted-from", "yesterday"]), "invalid_input");

    // Without --yes, or with an ID that does not parse: refused, nobody erased, the bad ID never echoed.
    let e = refused(dir, &["user", "erase", &gone]);
    assert_eq!(e["code"], "not_confirmed");
    let out = idms(dir, &["user", "erase", &gone, "Jane-Secretname", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error[invalid_user_id]") && !err.contains("Secretname"), "{err}");
    assert_eq!(state(dir, &gone), "deleted");
    assert_eq!(audit_outcomes(dir, "user.expunge"), ["not_confirmed", "invalid_user_id"]);

    // Each person on their own: the report says who and why; the command ran, so exit 0.
    let v = ok_json(dir, &["user", "erase", &gone, &held, &alive, &gone, "--yes"]);
    assert_eq!(v["erased"], json!([gone]));
    let codes: Vec<(String, String)> = v["not_erased"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["user_id"].as_str().unwrap().to_string(), n["code"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(codes, vec![(held.clone(), "legal_hold".into()), (alive.clone(), "holder_not_deleted".into())]);
    assert_eq!(
        (state(dir, &gone), state(dir, &held), state(dir, &alive)),
        ("expunged".into(), "deleted".into(), "active".into())
    );
    let out = idms(dir, &["user", "erase", &gone, &south, "--yes"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("erased 1 of 2"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with(&gone) && l.contains("not erased") && l.contains("already_expunged")),
        "{text}"
    );
    assert_eq!(state(dir, &south), "expunged");
    assert_eq!(list(&[]), vec![held.clone()]);
}

#[test]
fn bulk_purge_dates_from_the_cli() {
    let d = init();
    let dir = d.path();
    let add = |family: &str, group: &str| {
        ok_json(dir, &["user", "add", "--given", "P", "--family", family, "--group", group, "--record-type", "visitor"])
            ["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let v1 = add("V1", "visitors");
    let v2 = add("V2", "visitors");
    let s1 = add("S1", "staff");
    let purge_date = |id: &str| ok_json(dir, &["user", "show", id])["purge_date"].clone();

    let v = ok_json(dir, &["user", "purge-date", "--set", "2027-03-31", "--group", "visitors"]);
    assert_eq!((v["count"].as_u64(), v["purge_date"].as_str()), (Some(2), Some("2027-03-31")));
    assert_eq!(
        (purge_date(&v1), purge_date(&v2), purge_date(&s1)),
        (json!("2027-03-31"), json!("2027-03-31"), Value::Null)
    );
    let out = idms(dir, &["user", "purge-date", "--set", "2028-01-01", "--group", "staff", "--record-type", "visitor"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "purge date set to 2028-01-01 for 1 people");
    assert_eq!(purge_date(&s1), json!("2028-01-01"));

    // Deleted people only: v2.
    assert!(idms(dir, &["user", "delete", &v2]).status.success());
    let v = ok_json(dir, &["user", "purge-date", "--clear", "--state", "deleted"]);
    assert_eq!((v["count"].as_u64(), &v["purge_date"]), (Some(1), &Value::Null));
    assert_eq!((purge_date(&v1), purge_date(&v2)), (json!("2027-03-31"), Value::Null));

    // Refused: no filter, the expunged, a bad date or state — nothing changes.
    for args in [
        &["--set", "2030-01-01"][..],
        &["--set", "2030-01-01", "--state", "expunged"],
        &["--set", "31/03/2030", "--group", "staff"],
        &["--set", "2030-01-01", "--state", "gone"],
    ] {
        assert_eq!(code(dir, &with(&["user", "purge-date"], args)), "invalid_input", "{args:?}");
    }
    assert_eq!(purge_date(&s1), json!("2028-01-01"));
    // Neither or both of --set and --clear: a usage error.
    assert_eq!(idms(dir, &["user", "purge-date", "--group", "staff"]).status.code(), Some(2));
    assert_eq!(
        idms(dir, &["user", "purge-date", "--set", "2030-01-01", "--clear", "--group", "staff"]).status.code(),
        Some(2)
    );
    // One audit entry per change, with its count; each refusal audited too.
    let log = ok_json(dir, &["audit", "list", "--limit", "1000"]);
    let bulk: Vec<(String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "user.purge_date.bulk")
        .map(|e| (e["outcome"].as_str().unwrap().to_string(), e["detail"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(bulk.len(), 7, "{bulk:?}");
    assert!(bulk[0].0 == "ok" && bulk[0].1.contains("count=2"), "{bulk:?}");
    assert!(bulk[2].0 == "ok" && bulk[2].1.contains("count=1"), "{bulk:?}");
    assert!(bulk[3..].iter().all(|(o, _)| o == "invalid_input"), "{bulk:?}");
}
