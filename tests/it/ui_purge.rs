//! Purge User Records (003) over HTTP, in-process: only erasers and above
//! get the menu item, and a viewer's or an enroller's post with their own
//! valid session and CSRF token is refused by the rule layer and starts no
//! job; bad criteria come back as field errors (422) and start no job;
//! Preview, Add → Confirm record a job with the criteria as typed; once
//! complete, its progress fragment stops polling; bulk purge dates
//! work for a manager and are refused for an enroller.

use axum::http::StatusCode;
use idms::domain::UserId;
use idms::domain::time::parse_date;
use idms::store::{NewUser, Role};

use crate::common::{new_user, staff};
use crate::ui_http::{ORIGIN, PW, Ui};

/// Operators of every role below admin, and people due for purge (the
/// clock is 2026-01-01): two selected, one owing too much, one under legal
/// hold, one whose purge date is not due with 7 days' grace.
fn with_people(ui: &Ui) -> [UserId; 5] {
    for (name, role) in [("erin", Role::Eraser), ("max", Role::Manager), ("ella", Role::Enroller)] {
        ui.store.add_operator(&staff(), name, role, None, Some(PW)).unwrap();
    }
    let due = |family: &str, date: &str, f: &dyn Fn(&mut NewUser)| {
        let mut n = NewUser {
            purge_date: Some(parse_date("purge_date", date).unwrap()),
            record_type: Some("staff".into()),
            group: Some("library".into()),
            ..new_user("Purge", family)
        };
        f(&mut n);
        ui.store.create_user(&staff(), n).unwrap().id
    };
    [
        due("Alpha", "2025-11-30", &|_| {}),
        due("Beta", "2025-11-30", &|_| {}),
        due("Owing", "2025-11-30", &|n| n.balance = 2_050),
        due("Held", "2025-11-30", &|n| n.legal_hold = true),
        due("Later", "2025-12-30", &|_| {}),
    ]
}

const CRITERIA: &str = "grace_days=7&record_type=staff&group=&waive_threshold=20&org_unit=";

fn jobs(ui: &Ui) -> usize {
    ui.store.purge_jobs(10).unwrap().len()
}

#[tokio::test]
async fn ui_purge_is_not_offered_to_a_viewer_or_an_enroller_and_their_posts_are_refused() {
    let ui = Ui::new();
    let [alpha, ..] = with_people(&ui);
    for who in ["vera", "ella"] {
        let (cookie, csrf) = ui.sign_in(who).await;
        let people = ui.get("/ui/people", Some(&cookie), false).await;
        assert!(!people.body.contains("Purge User Records") && !people.body.contains("/ui/purge"), "{who}'s menu");
        for path in ["/ui/purge", "/ui/purge/add", "/ui/purge/dates", "/ui/purge/jobs/1"] {
            let page = ui.get(path, Some(&cookie), false).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{who} {path}: {}", page.body);
        }
        // Their own valid session and CSRF token: refused by the rule layer.
        for (path, form) in [
            ("/ui/purge/jobs", format!("csrf={csrf}&{CRITERIA}")),
            ("/ui/purge/add", format!("csrf={csrf}&{CRITERIA}&step=add")),
            ("/ui/purge/dates", format!("csrf={csrf}&purge_date=2024-01-01&group=library")),
        ] {
            let post = ui.post(path, Some(&cookie), Some(ORIGIN), &form).await;
            assert_eq!(post.status, StatusCode::FORBIDDEN, "{who} {path}: {}", post.body);
            assert!(post.body.contains("forbidden"), "{who} {path}: {}", post.body);
        }
        assert_eq!(jobs(&ui), 0, "{who}: no job");
        let date = ui.store.get_user(alpha).unwrap().purge_date.map(idms::domain::time::format_date);
        assert_eq!(date.as_deref(), Some("2025-11-30"), "{who}: no purge date changed");
    }
    let (cookie, _) = ui.sign_in("erin").await;
    let people = ui.get("/ui/people", Some(&cookie), false).await;
    assert!(people.body.contains("<a href=\"/ui/purge\">Purge User Records</a>"), "the eraser's menu: {}", people.body);
}

#[tokio::test]
async fn ui_bad_criteria_give_field_errors_next_to_the_field_and_no_job() {
    let ui = Ui::new();
    with_people(&ui);
    let (cookie, csrf) = ui.sign_in("erin").await;
    let long = "x".repeat(300);
    for (form, field, words) in [
        ("grace_days=-1&waive_threshold=0".to_string(), "grace_days", "Enter a whole number of days, 0 or more."),
        ("grace_days=seven&waive_threshold=0".into(), "grace_days", "Enter a whole number of days, 0 or more."),
        ("grace_days=1&waive_threshold=0.001".into(), "waive_threshold", "Enter an amount such as 20 or 12.50"),
        ("grace_days=1&waive_threshold=lots".into(), "waive_threshold", "Enter an amount such as 20 or 12.50"),
        (format!("grace_days=1&waive_threshold=0&record_type={long}"), "record_type", "Must be at most"),
    ] {
        for (path, step) in [("/ui/purge/jobs", ""), ("/ui/purge/add", "&step=preview"), ("/ui/purge/add", "&step=add")]
        {
            let a = ui.post(path, Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}&{form}{step}")).await;
            assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{path} {form}: {}", a.body);
            let at = a.body.find(&format!("id=\"{field}-error\"")).unwrap_or_else(|| panic!("{form}: {}", a.body));
            let error = &a.body[at..];
            assert!(error.contains(words) && error.contains("<code>invalid_input</code>"), "{form}: {error}");
            // Next to the field: the input says so and points at it.
            assert!(a.body.contains(&format!("{field}-note {field}-error\" aria-invalid=\"true\"")), "{form}");
            assert!(a.body.contains("<h2 id=\"dialog-h\">Add Job</h2>"), "the form again: {}", a.body);
        }
    }
    // With htmx, only the dialog's content.
    let a =
        ui.post_htmx("/ui/purge/add", &cookie, &format!("csrf={csrf}&grace_days=&waive_threshold=0&step=add")).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("id=\"grace_days-error\"") && !a.body.contains("<html"), "{}", a.body);
    assert_eq!(jobs(&ui), 0, "no job from bad criteria");
}

#[tokio::test]
async fn ui_preview_add_confirm_records_the_job_which_runs_to_completion_into_the_history() {
    let ui = Ui::new();
    let [alpha, beta, owing, held, later] = with_people(&ui);
    let (cookie, csrf) = ui.sign_in("erin").await;

    // Without htmx Add Job is a page of its own.
    let page = ui.get("/ui/purge/add", Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<h1>Purge User Records</h1>") && page.body.contains("name=\"grace_days\""));
    let dialog = ui.get("/ui/purge/add", Some(&cookie), true).await;
    assert!(
        !dialog.body.contains("<html") && dialog.body.contains("<h2 id=\"dialog-h\">Add Job</h2>"),
        "{}",
        dialog.body
    );

    // Preview: the dry run's counts, skipped by reason, the people; no job.
    let a = ui.post_htmx("/ui/purge/add", &cookie, &format!("csrf={csrf}&{CRITERIA}&step=preview")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(!a.body.contains("<html"), "the dialog's content only");
    assert!(a.body.contains("this job would purge <strong>2</strong> users and skip 2"), "{}", a.body);
    for (code, n) in [("legal_hold", 1), ("balance_over_threshold", 1)] {
        assert!(a.body.contains(&format!("<td><code>{code}</code></td><td>{n}</td>")), "{code}: {}", a.body);
    }
    for id in [alpha, beta, owing, held] {
        assert!(a.body.contains(&format!("<td>{id}</td>")), "{id} listed");
    }
    assert!(!a.body.contains(&later.to_string()), "inside the grace period: not considered");
    assert!(a.body.contains("<td>Alpha, Purge</td>"), "names: {}", a.body);
    assert_eq!(jobs(&ui), 0, "a preview records no job");

    // Add: the Confirm step says the job cannot be aborted; still no job.
    let a = ui.post_htmx("/ui/purge/add", &cookie, &format!("csrf={csrf}&{CRITERIA}&step=add")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("<h2 id=\"dialog-h\">Confirm</h2>") && a.body.contains("no way to abort it"), "{}", a.body);
    assert!(a.body.contains("name=\"grace_days\" value=\"7\""), "{}", a.body);
    assert_eq!(jobs(&ui), 0);

    // Confirm: the job, then its page (PRG).
    let a = ui.post("/ui/purge/jobs", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}&{CRITERIA}")).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let job = ui.store.purge_jobs(10).unwrap().remove(0);
    assert_eq!(a.header("location"), format!("/ui/purge/jobs/{}", job.id));
    assert_eq!((job.criteria.grace_days, job.criteria.record_type.as_deref()), (7, Some("staff")));
    assert_eq!((job.criteria.waive_threshold, job.criteria.group.as_deref()), (2_000, None));
    assert_eq!((job.selected, job.skipped), (2, 2));

    let page = ui.get(&format!("/ui/purge/jobs/{}", job.id), Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let main = &page.body[page.body.find("<main").unwrap()..];
    assert!(!main.contains("Cancel") && !main.contains("Abort"), "no cancel control: {main}");

    // The service's job runner takes it to completion (whether the page
    // polls while it runs is `ui::purge`'s unit test: here it is too quick).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while ui.store.purge_job(job.id).unwrap().state != idms::store::JobState::Completed {
        assert!(std::time::Instant::now() < deadline, "the job did not complete");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let bar = ui.get(&format!("/ui/purge/jobs/{}/progress", job.id), Some(&cookie), true).await;
    assert_eq!(bar.status, StatusCode::OK);
    assert!(!bar.body.contains("hx-trigger"), "polling stops once complete: {}", bar.body);
    assert!(bar.body.contains("value=\"100\"") && bar.body.contains("2 of 2 done (100 %)"), "{}", bar.body);
    let list = ui.get("/ui/purge", Some(&cookie), false).await;
    assert!(list.body.contains("No job is running"), "{}", list.body);
    assert!(list.body.contains(&format!("<a href=\"/ui/purge/jobs/{0}\">Job {0}</a>", job.id)), "history");
    let page = ui.get(&format!("/ui/purge/jobs/{}", job.id), Some(&cookie), false).await;
    assert!(page.body.contains(&format!("<td>{alpha}</td><td>Yes</td><td>purged</td>")), "{}", page.body);
    assert!(page.body.contains("Under legal hold. (<code>legal_hold</code>)"), "{}", page.body);
}

#[tokio::test]
async fn ui_bulk_purge_dates_work_for_a_manager_and_are_refused_for_an_enroller() {
    let ui = Ui::new();
    let [alpha, beta, ..] = with_people(&ui);
    let other = ui.store.create_user(&staff(), new_user("No", "Group")).unwrap().id;
    let date_of = |id: UserId| ui.store.get_user(id).unwrap().purge_date.map(idms::domain::time::format_date);
    let dates = async |cookie: &str, csrf: &str, form: &str| {
        ui.post("/ui/purge/dates", Some(cookie), Some(ORIGIN), &format!("csrf={csrf}&{form}")).await
    };

    let (cookie, csrf) = ui.sign_in("ella").await;
    let post = dates(&cookie, &csrf, "purge_date=2030-01-01&group=library").await;
    assert_eq!(post.status, StatusCode::FORBIDDEN, "{}", post.body);
    assert_eq!(date_of(alpha).as_deref(), Some("2025-11-30"), "the enroller changed nothing");

    let (cookie, csrf) = ui.sign_in("max").await;
    let page = ui.get("/ui/purge/dates", Some(&cookie), false).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<h1>Update users in bulk</h1>"));
    let post = dates(&cookie, &csrf, "purge_date=2030-01-01&group=library").await;
    assert_eq!(post.status, StatusCode::SEE_OTHER, "{}", post.body);
    assert!(post.header("location").starts_with("/ui/purge/dates?updated=5&seal="), "{}", post.header("location"));
    assert_eq!(
        (date_of(alpha), date_of(beta), date_of(other)),
        (Some("2030-01-01".into()), Some("2030-01-01".into()), None)
    );
    let done = ui.get(post.header("location"), Some(&cookie), false).await;
    assert!(done.body.contains("The purge date of 5 users was updated."), "{}", done.body);

    // Clearing needs no date.
    let post = dates(&cookie, &csrf, "clear=on&purge_date=&state=active&group=library").await;
    assert_eq!(post.status, StatusCode::SEE_OTHER, "{}", post.body);
    assert_eq!(date_of(alpha), None);

    for (form, field) in [
        ("purge_date=2030-01-01", "query"),
        ("purge_date=someday&group=library", "purge_date"),
        ("purge_date=2030-01-01&deleted_before=yesterday", "deleted_before"),
    ] {
        let post = dates(&cookie, &csrf, form).await;
        assert_eq!(post.status, StatusCode::UNPROCESSABLE_ENTITY, "{form}: {}", post.body);
        assert!(post.body.contains(&format!("id=\"{field}-error\"")), "{form}: {}", post.body);
        assert!(post.body.contains("Nothing was updated"), "{form}");
    }
    assert_eq!(date_of(beta), None, "refused forms changed nothing");
}

impl Ui {
    /// A same-origin htmx form post with the session's cookie.
    async fn post_htmx(&self, path: &str, cookie: &str, form: &str) -> crate::ui_http::Answer {
        let req = axum::http::Request::builder()
            .method(axum::http::Method::POST)
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .header("origin", ORIGIN)
            .header("hx-request", "true");
        self.send(req, form).await
    }
}

#[tokio::test]
async fn ui_a_jobs_outcomes_are_paged_by_user_id_without_repeats() {
    let ui = Ui::new();
    ui.store.add_operator(&staff(), "erin", Role::Eraser, None, Some(PW)).unwrap();
    ui.store.seed(&staff(), 150, 0, 0, |_| {}).unwrap();
    let everyone = idms::store::PeopleQuery { state: Some(idms::domain::UserState::Active), ..Default::default() };
    ui.store.set_purge_dates(&staff(), &everyone, Some(parse_date("d", "2025-06-30").unwrap())).unwrap();
    let (cookie, csrf) = ui.sign_in("erin").await;
    let a = ui.post("/ui/purge/jobs", Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}&grace_days=0")).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let job = a.header("location").to_string();

    let rows = |body: &str| -> Vec<String> {
        body.split("<tr><td>").skip(1).map(|r| r[..r.find("</td>").unwrap()].to_string()).collect()
    };
    let first = ui.get(&job, Some(&cookie), false).await;
    assert_eq!(first.status, StatusCode::OK);
    let page1 = rows(&first.body);
    assert_eq!(page1.len(), 100, "a page holds 100");
    let next = format!("<a href=\"{job}?after={}\">Next page</a>", page1[99]);
    assert!(first.body.contains(&next) && !first.body.contains("First page"), "{}", first.body);
    let second = ui.get(&format!("{job}?after={}", page1[99]), Some(&cookie), false).await;
    let page2 = rows(&second.body);
    assert_eq!(page2.len(), 50);
    assert!(second.body.contains("First page") && !second.body.contains("Next page"));
    let mut all: Vec<String> = page1.into_iter().chain(page2).collect();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "no one twice");
    let bad = ui.get(&format!("{job}?after=nope"), Some(&cookie), false).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let missing = ui.get("/ui/purge/jobs/999", Some(&cookie), false).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
