//! CSV import of people (issue 11/12): a dry run changes nothing; one bad
//! row refuses the whole file, naming line and column; `--partial` applies
//! the rest; a re-import of the same file changes no one; the directory's
//! rules hold (a deleted person is not re-created, a staff suspension is not
//! lifted by `active: true`).

use idms::domain::{UserId, UserState};
use idms::ops::{self, Acting};
use idms::store::directory::RunReport;
use idms::store::{AuditQuery, Store};

use crate::common::{Fixture, idms, staff};

const GOOD: &str = "\
given_name,family_name,email,employee_no,org_unit,external_id,groups
Ada,Lovelace,ada@example.org,E-1,lab,hr-1,Engineering;Night shift
Grace,Hopper,grace@example.org,E-2,lab,hr-2,Engineering
Alan,Turing,alan@example.org,E-3,,hr-3,
";

fn import(s: &Store, csv: &str, dry_run: bool, partial: bool) -> RunReport {
    let me = Acting::Local(staff());
    ops::directory::import_csv(s, &me, csv.as_bytes(), dry_run, partial, "cli").unwrap()
}

fn people(s: &Store) -> Vec<String> {
    let mut v: Vec<String> = s.search_all_users("", 100).unwrap().into_iter().filter_map(|u| u.family_name).collect();
    v.sort();
    v
}

fn audit_len(s: &Store) -> usize {
    s.audit_entries(&AuditQuery { limit: Some(10_000), ..AuditQuery::default() }).unwrap().len()
}

#[test]
fn a_dry_run_changes_nothing_and_shows_what_each_row_would_do() {
    let f = Fixture::new();
    let before = audit_len(&f.store);
    let r = import(&f.store, GOOD, true, false);
    assert!(r.dry_run && r.id.is_none());
    assert_eq!((r.outcome.as_str(), r.counts.created), ("ok", 3));
    assert_eq!(r.items.iter().map(|i| i.line).collect::<Vec<_>>(), [Some(2), Some(3), Some(4)]);
    assert!(people(&f.store).is_empty(), "a dry run creates no one");
    assert_eq!(audit_len(&f.store), before, "nor audits or records anything");
    assert!(f.store.directory_runs(10).unwrap().is_empty());
}

#[test]
fn a_file_is_applied_once_and_a_second_import_changes_no_one() {
    let f = Fixture::new();
    let r = import(&f.store, GOOD, false, false);
    assert_eq!((r.outcome.as_str(), r.counts.created), ("ok", 3), "{r:?}");
    assert_eq!(people(&f.store), ["Hopper", "Lovelace", "Turing"]);
    let ada = r.items[0].user.unwrap();
    let u = f.store.get_user(ada).unwrap();
    assert_eq!(u.directory_groups, ["Engineering", "Night shift"]);
    assert_eq!(u.directory.unwrap().external_id.as_deref(), Some("hr-1"));
    let before = audit_len(&f.store);
    let again = import(&f.store, GOOD, false, false);
    assert_eq!(again.counts.unchanged, 3);
    assert_eq!(again.counts.created + again.counts.updated, 0);
    assert!(again.items.is_empty());
    assert_eq!(audit_len(&f.store), before + 1, "one audit entry per run");
    assert_eq!(f.store.get_user(ada).unwrap().revision, u.revision, "the row was not written");
    // A changed cell updates that person only; the report names them.
    let changed = GOOD.replace("grace@example.org", "grace.hopper@example.org");
    let r = import(&f.store, &changed, false, false);
    assert_eq!((r.counts.updated, r.counts.unchanged), (1, 2));
    assert_eq!(f.store.directory_run(r.id.unwrap()).unwrap().items, r.items);
}

#[test]
fn one_bad_row_refuses_the_whole_file_with_line_and_column_and_partial_applies_the_rest() {
    let f = Fixture::new();
    f.store
        .create_user(
            &staff(),
            idms::store::NewUser { employee_no: Some("E-9".into()), ..crate::common::new_user("Old", "Timer") },
        )
        .unwrap();
    let csv = "\
given_name,family_name,email,employee_no,external_id
Ada,Lovelace,ada@example.org,E-1,
Bad,Mail,not-an-email,E-2,
Dup,Licate,dup@example.org,E-9,hr-9
Twice,Inrun,twice@example.org,E-1,
Grace,Hopper,grace@example.org,E-3,
";
    let r = import(&f.store, csv, false, false);
    assert_eq!(r.outcome, "refused");
    let refused: Vec<_> = r
        .items
        .iter()
        .map(|i| (i.line.unwrap(), i.column.clone().unwrap_or_default(), i.code.clone().unwrap()))
        .collect();
    assert_eq!(
        refused,
        [
            (3, "email".into(), "invalid_input".into()),
            (4, "employee_no".into(), "duplicate_employee_no".into()),
            (5, "employee_no".into(), "duplicate_employee_no".into()),
        ]
    );
    assert_eq!(people(&f.store), ["Timer"], "nothing applied");
    assert_eq!(f.store.directory_runs(10).unwrap()[0].outcome, "refused", "the refused run is recorded");
    // --partial: the valid rows.
    let r = import(&f.store, csv, false, true);
    assert_eq!((r.outcome.as_str(), r.counts.created, r.counts.refused), ("ok", 2, 3));
    assert_eq!(people(&f.store), ["Hopper", "Lovelace", "Timer"]);
}

#[test]
fn an_unknown_or_missing_column_refuses_the_file_at_line_1() {
    let f = Fixture::new();
    for (csv, column, code) in [
        ("given_name,family_name,shoe_size\nAda,Lovelace,38\n", "shoe_size", "unknown_column"),
        ("given_name,email\nAda,ada@example.org\n", "family_name", "missing_column"),
    ] {
        let r = import(&f.store, csv, false, true);
        assert_eq!(r.outcome, "refused", "{csv}");
        assert_eq!(r.items.len(), 1);
        assert_eq!(
            (r.items[0].line, r.items[0].column.as_deref(), r.items[0].code.as_deref()),
            (Some(1), Some(column), Some(code))
        );
    }
    assert!(people(&f.store).is_empty());
}

#[test]
fn the_directory_rules_hold_for_imports() {
    let f = Fixture::new();
    let r = import(&f.store, GOOD, false, false);
    let (ada, grace) = (r.items[0].user.unwrap(), r.items[1].user.unwrap());
    // Staff suspend Ada (a lost badge): the file saying active does not lift it.
    f.store.suspend(&staff(), ada).unwrap();
    // Staff cannot delete a linked person; once she is deleted (by the directory), the file does not bring her back.
    assert_eq!(f.store.delete(&staff(), grace).unwrap_err().code(), "directory_linked");
    f.store.lifecycle(&idms::store::Actor::directory("hr"), grace, idms::domain::LifecycleAction::Delete).unwrap();
    let r = import(&f.store, GOOD, false, false);
    assert_eq!(f.store.get_user(ada).unwrap().state, UserState::Suspended);
    assert_eq!(f.store.get_user(grace).unwrap().state, UserState::Deleted);
    assert_eq!(r.outcome, "ok", "{:?}", r.items);
    let grace_item = r.items.iter().find(|i| i.user == Some(grace)).expect("grace's row is reported");
    assert_eq!((grace_item.action.as_str(), grace_item.code.as_deref()), ("skipped", Some("deleted_in_idms")));
    // `active: false` in the file is the directory's suspension; `true` lifts only that one.
    let off = GOOD
        .replace(
            "given_name,family_name,email,employee_no,org_unit,external_id,groups",
            "given_name,family_name,email,employee_no,org_unit,external_id,groups,active",
        )
        .replace(",Engineering\nAlan", ",Engineering,\nAlan")
        .replace("Night shift\n", "Night shift,\n")
        .replace("hr-3,\n", "hr-3,,false\n");
    let r = import(&f.store, &off, false, false);
    let alan = r.items.iter().find(|i| i.action.as_str() == "suspended").and_then(|i| i.user).unwrap();
    let u = f.store.get_user(alan).unwrap();
    assert_eq!((u.state, u.holds.directory, u.holds.staff), (UserState::Suspended, true, false));
    import(&f.store, GOOD, false, false);
    assert_eq!(f.store.get_user(alan).unwrap().state, UserState::Active);
    assert_eq!(f.store.get_user(ada).unwrap().state, UserState::Suspended, "staff's suspension stays");
    let _: UserId = ada;
}

#[test]
fn the_cli_imports_with_dry_run_and_partial_and_exits_1_when_refused() {
    let f = Fixture::new();
    let dir = f.dir.path();
    let file = dir.join("people.csv");
    std::fs::write(&file, "given_name,family_name,email\nAda,Lovelace,ada@example.org\nBad,Mail,nope\n").unwrap();
    let path = file.to_str().unwrap();
    let out = idms(dir, &["import", "csv", path, "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["outcome"].as_str(), v["items"][0]["line"].as_u64(), v["items"][0]["column"].as_str()),
        (Some("refused"), Some(3), Some("email"))
    );
    let out = idms(dir, &["import", "csv", path, "--partial", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["created"].as_u64(), v["refused"].as_u64()), (Some(1), Some(1)));
    let out = idms(dir, &["directory", "runs", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "the dry run is not recorded: {v}");
}
