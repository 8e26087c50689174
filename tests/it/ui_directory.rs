//! The web UI's directory pages over HTTP (in-process, as `ui_http`): the
//! person record shows the directory link and who holds a suspension;
//! Refresh Org Info in the Manage menu (refused in words without a link or
//! without a directory to ask, the outcome as a notice with one); the
//! Directory page lists runs and their reports; the CSV import's preview
//! changes nothing, Apply creates, one bad row is shown with line and
//! column and applies nothing (unless "apply the valid rows"); a viewer
//! gets neither the menu entry nor the pages; a post without the CSRF
//! token is refused; a hostile name in the file is escaped.

use std::sync::Arc;

use axum::http::StatusCode;
use idms::domain::{LifecycleAction, UserId, UserState};
use idms::ops::{self, Acting};
use idms::store::Role;
use idms::store::directory::{DirPerson, RunReport};

use crate::common::{new_user, staff};
use crate::ui_http::{ORIGIN, PW, Ui};

/// A form body, percent-encoded.
fn form(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

const GOOD: &str = "\
given_name,family_name,email,employee_no,external_id,groups
Ada,Lovelace,ada@example.org,E-1,hr-1,Engineering;Night shift
Grace,Hopper,grace@example.org,E-2,hr-2,Engineering
";

/// Row 3 has an invalid email: the file is refused whole.
const BAD: &str = "\
given_name,family_name,email,employee_no,external_id
Ada,Lovelace,ada@example.org,E-1,hr-1
Grace,Hopper,grace-at-example,E-2,hr-2
Alan,Turing,alan@example.org,E-3,hr-3
";

fn people(ui: &Ui) -> i64 {
    let c = rusqlite::Connection::open(ui._fx.db_path()).unwrap();
    c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0)).unwrap()
}

fn runs(ui: &Ui) -> i64 {
    let c = rusqlite::Connection::open(ui._fx.db_path()).unwrap();
    c.query_row("SELECT COUNT(*) FROM directory_runs", [], |r| r.get(0)).unwrap()
}

fn with_manager(ui: &Ui) {
    ui.store.add_operator(&staff(), "max", Role::Manager, None, Some(PW)).unwrap();
}

fn import(ui: &Ui, csv: &str) -> RunReport {
    ops::directory::import_csv(&ui.store, &Acting::Local(staff()), csv.as_bytes(), false, false, "cli").unwrap()
}

/// askama writes `<` `>` `"` as numeric references; either form is escaped.
fn unescaped(body: &str) -> String {
    body.replace("&#60;", "&lt;").replace("&#62;", "&gt;").replace("&#34;", "&quot;").replace("&#39;", "&apos;")
}

#[tokio::test]
async fn ui_directory_person_record_shows_the_link_groups_and_who_holds_the_suspension() {
    let ui = Ui::new();
    with_manager(&ui);
    let r = import(&ui, GOOD);
    let ada = r.items[0].user.unwrap();
    let me = Acting::Local(staff());
    // Staff suspend her; then the directory sends `active: false` too.
    ops::users::lifecycle(&ui.store, &me, ada, LifecycleAction::Suspend).unwrap();
    let (cookie, _) = ui.sign_in("max").await;
    let a = ui.get(&format!("/ui/people/{ada}"), Some(&cookie), false).await;
    assert_eq!(a.status, StatusCode::OK);
    for want in [
        "<dt>Directory link</dt><dd>CSV import, external ID hr-1</dd>",
        "<dt>Directory groups</dt><dd>Engineering, Night shift</dd>",
        "<dt>Suspended by</dt><dd>staff</dd>",
    ] {
        assert!(a.body.contains(want), "{want}: {}", a.body);
    }
    assert!(!a.body.contains("Released by the directory"), "not released: {}", a.body);

    let off = "\
given_name,family_name,email,employee_no,external_id,groups,active
Ada,Lovelace,ada@example.org,E-1,hr-1,Engineering;Night shift,false
Grace,Hopper,grace@example.org,E-2,hr-2,Engineering,true
";
    let r2 = import(&ui, off);
    assert_eq!(r2.outcome, "ok", "{r2:?}");
    assert!(ui.store.get_user(ada).unwrap().holds.directory, "the directory suspended her too");
    let a = ui.get(&format!("/ui/people/{ada}"), Some(&cookie), false).await;
    assert!(a.body.contains("<dt>Suspended by</dt><dd>both staff and the directory</dd>"), "{}", a.body);

    // An unlinked, active person: no link, no "Suspended by".
    let bob = ui.store.create_user(&staff(), new_user("Bob", "Plain")).unwrap().id;
    let a = ui.get(&format!("/ui/people/{bob}"), Some(&cookie), false).await;
    assert!(a.body.contains("<dt>Directory link</dt><dd>none</dd>"), "{}", a.body);
    assert!(!a.body.contains("Suspended by"), "{}", a.body);
}

/// A directory that answers Refresh Org Info with a new email.
#[derive(Debug)]
struct Fake;

impl ops::directory::Puller for Fake {
    fn pull(&self, external_id: &str) -> Result<Option<DirPerson>, idms::store::StoreError> {
        Ok(Some(DirPerson {
            external_id: Some(external_id.to_owned()),
            given_name: "Ada".into(),
            family_name: "Lovelace".into(),
            email: Some("ada.new@example.org".into()),
            employee_no: Some("E-1".into()),
            active: true,
            ..DirPerson::default()
        }))
    }
}

#[tokio::test]
async fn ui_directory_refresh_org_info_is_refused_in_words_then_updates_with_a_directory() {
    let ui = Ui::new();
    with_manager(&ui);
    // Linked by staff to an entry (a CSV link cannot be pulled: that is refused as the CSV-linked case below).
    let linked = idms::store::NewUser {
        directory_id: Some("hr-1".into()),
        email: Some("ada@example.org".into()),
        ..new_user("Ada", "Lovelace")
    };
    let ada = ui.store.create_user(&staff(), linked).unwrap().id;
    let bob = ui.store.create_user(&staff(), new_user("Bob", "Plain")).unwrap().id;
    let (cookie, csrf) = ui.sign_in("max").await;

    // Unlinked: the menu item is disabled with why; a forced post is refused in words.
    let a = ui.get(&format!("/ui/people/{bob}"), Some(&cookie), false).await;
    assert!(a.body.contains("aria-describedby=\"why-refresh\">Refresh Org Info</button>"), "{}", a.body);
    let post = |id: UserId| format!("/ui/people/{id}/refresh");
    let a = ui.post(&post(bob), Some(&cookie), Some(ORIGIN), &form(&[("csrf", &csrf)])).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.header("location"), format!("/ui/people/{bob}/refresh?refused=not_directory_linked"));
    let shown = ui.get(a.header("location"), Some(&cookie), false).await;
    assert!(
        shown.body.contains("Not done: Not linked to a directory entry: there is nothing to refresh from.")
            && shown.body.contains("<code>not_directory_linked</code>"),
        "{}",
        shown.body
    );

    // Linked (CSV) but no LDAP directory configured: nothing to pull from.
    let a = ui.get(&format!("/ui/people/{ada}"), Some(&cookie), false).await;
    assert!(a.body.contains(&format!("href=\"/ui/people/{ada}/refresh\"")), "offered: {}", a.body);
    let a = ui
        .send(
            axum::http::Request::builder()
                .method(axum::http::Method::POST)
                .uri(post(ada))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", &cookie)
                .header("origin", ORIGIN)
                .header("hx-request", "true"),
            &form(&[("csrf", &csrf)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(
        a.body.contains("The directory cannot be asked for this person")
            && a.body.contains("<code>directory_pull_unavailable</code>")
            && !a.body.contains("<html"),
        "the dialog's content: {}",
        a.body
    );
    assert_eq!(ui.store.get_user(ada).unwrap().email.as_deref(), Some("ada@example.org"), "unchanged");

    // With a directory to ask: updated, and the record says so.
    ui.state.directory.set(Arc::new(Fake)).unwrap();
    let a = ui.post(&post(ada), Some(&cookie), Some(ORIGIN), &form(&[("csrf", &csrf)])).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let to = a.header("location").to_string();
    assert!(to.contains("done=refresh&outcome=updated&seal="), "{to}");
    assert_eq!(ui.store.get_user(ada).unwrap().email.as_deref(), Some("ada.new@example.org"));
    let record = ui.get(&to, Some(&cookie), false).await;
    assert!(record.body.contains("was refreshed from the directory: their record was updated"), "{}", record.body);
    // A forged notice (no seal) shows nothing.
    let forged = ui.get(&format!("/ui/people/{ada}?done=refresh&outcome=suspended"), Some(&cookie), false).await;
    assert!(!forged.body.contains("was refreshed"), "{}", forged.body);

    // Without the CSRF token: refused, nothing pulled.
    let before = ui.store.get_user(ada).unwrap().revision;
    let a = ui.post(&post(ada), Some(&cookie), Some(ORIGIN), "").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(ui.store.get_user(ada).unwrap().revision, before);
}

#[tokio::test]
async fn ui_directory_preview_changes_nothing_then_apply_creates_and_the_run_is_listed() {
    let ui = Ui::new();
    with_manager(&ui);
    let (cookie, csrf) = ui.sign_in("max").await;
    let page = ui.get("/ui/directory", Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("href=\"/ui/directory\" aria-current=\"page\">Directory</a>"), "{}", page.body);
    assert!(page.body.contains("No run in the last year.") && page.body.contains("<label for=\"f-csv\">"));

    let before = people(&ui);
    let a = ui
        .post(
            "/ui/directory/import",
            Some(&cookie),
            Some(ORIGIN),
            &form(&[("csrf", &csrf), ("step", "preview"), ("csv", GOOD)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    for want in [
        "Nothing has been changed yet. If applied: 2 created.",
        "<td>2</td><td>Lovelace, Ada</td><td>created</td><td></td>",
        "<td>3</td><td>Hopper, Grace</td><td>created</td><td></td>",
        "name=\"step\" value=\"apply\"",
        "<label for=\"f-partial\">Apply the valid rows",
    ] {
        assert!(a.body.contains(want), "{want}: {}", a.body);
    }
    assert_eq!((people(&ui), runs(&ui)), (before, 0), "a preview changes and records nothing");

    let a = ui
        .post(
            "/ui/directory/import",
            Some(&cookie),
            Some(ORIGIN),
            &form(&[("csrf", &csrf), ("step", "apply"), ("csv", GOOD)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let to = a.header("location").to_string();
    assert!(to.starts_with("/ui/directory/runs/"), "{to}");
    assert_eq!(people(&ui), before + 2);
    let report = ui.get(&to, Some(&cookie), false).await;
    assert!(report.body.contains("ok: Applied.") && report.body.contains("2 created"), "{}", report.body);
    let ids: Vec<String> = ops::directory::runs(&ui.store, &Acting::Local(staff()), 10).unwrap()[0]
        .id
        .map(|id| ops::directory::run(&ui.store, &Acting::Local(staff()), id).unwrap())
        .unwrap()
        .items
        .iter()
        .map(|i| i.user.unwrap().to_string())
        .collect();
    for id in &ids {
        assert!(report.body.contains(&format!("<a href=\"/ui/people/{id}\">{id}</a>")), "{id}: {}", report.body);
    }
    let list = ui.get("/ui/directory", Some(&cookie), false).await;
    assert!(
        list.body.contains(&format!("<a href=\"{to}\">Run "))
            && list.body.contains("<td>csv</td><td>upload</td><td>ok</td><td>2 created</td>"),
        "{}",
        list.body
    );

    // The same file again: a preview says every row is unchanged.
    let a = ui
        .post(
            "/ui/directory/import",
            Some(&cookie),
            Some(ORIGIN),
            &form(&[("csrf", &csrf), ("step", "preview"), ("csv", GOOD)]),
        )
        .await;
    assert!(a.body.contains("<td>2</td><td>Lovelace, Ada</td><td>unchanged</td>"), "{}", a.body);
}

#[tokio::test]
async fn ui_directory_a_bad_row_is_shown_with_line_and_column_and_applies_nothing_unless_partial() {
    let ui = Ui::new();
    with_manager(&ui);
    let (cookie, csrf) = ui.sign_in("max").await;
    let before = people(&ui);
    let post = |step: &str, partial: bool| {
        let mut f = vec![("csrf", csrf.as_str()), ("step", step), ("csv", BAD)];
        if partial {
            f.push(("partial", "on"));
        }
        form(&f)
    };
    let a = ui.post("/ui/directory/import", Some(&cookie), Some(ORIGIN), &post("preview", false)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    for want in [
        "1 row(s) are refused. Applied as it is, the import applies <strong>no row</strong>",
        "<td>3</td><td>Hopper, Grace</td><td>refused</td><td></td><td><code>invalid_input</code>",
        "<td><code>email</code></td>",
    ] {
        assert!(a.body.contains(want), "{want}: {}", a.body);
    }
    // Applied all-or-nothing: a refused run, recorded, nothing applied.
    let a = ui.post("/ui/directory/import", Some(&cookie), Some(ORIGIN), &post("apply", false)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(people(&ui), before, "one refused row applies none");
    let report = ui.get(a.header("location"), Some(&cookie), false).await;
    assert!(
        report.body.contains("refused: Refused: some rows were refused, so nothing was applied."),
        "{}",
        report.body
    );
    assert!(
        report.body.contains("<td>3</td><td>—</td><td>refused</td><td><code>invalid_input</code>")
            && report.body.contains("<td><code>email</code></td>"),
        "{}",
        report.body
    );
    // "Apply the valid rows": the two others.
    let a = ui.post("/ui/directory/import", Some(&cookie), Some(ORIGIN), &post("apply", true)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(people(&ui), before + 2);

    // A header naming an unknown column refuses the file as a whole: no Apply offered.
    let csv = "given_name,family_name,shoe_size\nAda,Lovelace,9\n";
    let a = ui
        .post(
            "/ui/directory/import",
            Some(&cookie),
            Some(ORIGIN),
            &form(&[("csrf", &csrf), ("step", "preview"), ("csv", csv)]),
        )
        .await;
    assert!(
        a.body.contains("The file is refused as a whole") && a.body.contains("<code>unknown_column</code>"),
        "{}",
        a.body
    );
    assert!(!a.body.contains("value=\"apply\""), "{}", a.body);
}

#[tokio::test]
async fn ui_directory_is_not_offered_to_a_viewer_and_posts_without_csrf_are_refused() {
    let ui = Ui::new();
    with_manager(&ui);
    let (vcookie, vcsrf) = ui.sign_in("vera").await;
    let people_page = ui.get("/ui/people", Some(&vcookie), false).await;
    assert!(!people_page.body.contains("href=\"/ui/directory\""), "no menu entry: {}", people_page.body);
    assert_eq!(ui.get("/ui/directory", Some(&vcookie), false).await.status, StatusCode::FORBIDDEN);
    let r = import(&ui, GOOD);
    let run = r.id.unwrap();
    assert_eq!(ui.get(&format!("/ui/directory/runs/{run}"), Some(&vcookie), false).await.status, StatusCode::FORBIDDEN);
    let before = people(&ui);
    let csv = "given_name,family_name\nEve,Viewer\n";
    let a = ui
        .post(
            "/ui/directory/import",
            Some(&vcookie),
            Some(ORIGIN),
            &form(&[("csrf", &vcsrf), ("step", "apply"), ("csv", csv)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    // A viewer sees no Refresh Org Info.
    let ada = r.items[0].user.unwrap();
    let rec = ui.get(&format!("/ui/people/{ada}"), Some(&vcookie), false).await;
    assert!(!rec.body.contains("Refresh Org Info"), "{}", rec.body);

    // A manager's post without the token, or from another origin: refused, nothing applied.
    let (cookie, csrf) = ui.sign_in("max").await;
    let a =
        ui.post("/ui/directory/import", Some(&cookie), Some(ORIGIN), &form(&[("step", "apply"), ("csv", csv)])).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("csrf_token"), "{}", a.body);
    let a = ui
        .post(
            "/ui/directory/import",
            Some(&cookie),
            Some("http://evil.test"),
            &form(&[("csrf", &csrf), ("step", "apply"), ("csv", csv)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(people(&ui), before, "nothing was imported");
    assert_eq!(ui.store.get_user(ada).unwrap().state, UserState::Active);
}

#[tokio::test]
async fn ui_directory_a_hostile_name_in_the_file_is_escaped_in_the_preview() {
    let ui = Ui::new();
    with_manager(&ui);
    let (cookie, csrf) = ui.sign_in("max").await;
    let csv = "given_name,family_name\n\"<script>alert(1)</script></textarea>\",\"O\"\"Brien\"\"><img src=x onerror=alert(2)>\"\n";
    let a = ui
        .post(
            "/ui/directory/import",
            Some(&cookie),
            Some(ORIGIN),
            &form(&[("csrf", &csrf), ("step", "preview"), ("csv", csv)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(!a.body.contains("<script>alert(1)") && !a.body.contains("<img"), "{}", a.body);
    let text = unescaped(&a.body);
    assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the name, escaped: {}", a.body);
    // The text carried to Apply is escaped inside its attribute too.
    assert!(text.contains("readonly spellcheck=\"false\">given_name,family_name\n&quot;&lt;script&gt;"), "{}", a.body);
    assert_eq!(a.body.matches("</textarea>").count(), 1, "the text cannot close its box: {}", a.body);
    // Applied, it creates the person with the name as typed.
    let a = ui
        .post(
            "/ui/directory/import",
            Some(&cookie),
            Some(ORIGIN),
            &form(&[("csrf", &csrf), ("step", "apply"), ("csv", csv)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let c = rusqlite::Connection::open(ui._fx.db_path()).unwrap();
    let given: String = c.query_row("SELECT given_name FROM users", [], |r| r.get(0)).unwrap();
    assert_eq!(given, "<script>alert(1)</script></textarea>");
}
