//! Issue 8/12, must-be-true 5: every UI route × every role, over HTTP (in
//! process, like the API's matrix in `api_authz`). A role the route's
//! operation allows gets the page (or its `303` after a post) and the
//! change happens; a lower role gets the 403 page and nothing changes,
//! whatever it posts with its own valid session and CSRF token; no session
//! gets the sign-in page. The table must name exactly the routes of
//! `idms::ui::PATHS`, so a new page cannot be added without its row.
//!
//! A scoped operator (an org unit) reaches only people of that unit: a
//! person of another unit is `404`, for reads and posts alike.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use idms::domain::LifecycleAction;
use idms::store::{NewUser, Role};

use crate::common::{new_user, staff};
use crate::ui_http::{ORIGIN, PW, Ui, state_of};

/// Who a route is for.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// Anyone, even without a session.
    Anyone,
    /// Any signed-in operator.
    SignedIn,
    /// Operators with at least this role.
    AtLeast(Role),
}

/// One request of the matrix: a method on a route, and how to make a fresh
/// target for it (each role gets its own, so one role's change does not
/// decide the next role's answer).
struct Case {
    method: &'static str,
    /// An event stream: only the status and headers are read.
    stream: bool,
    template: &'static str,
    who: Who,
    /// The status a permitted caller gets.
    ok: StatusCode,
    /// Makes the target: the concrete path, the form (without `csrf`) and
    /// the person whose state a post changes.
    target: fn(&Ui) -> Target,
}

/// A session cookie and its CSRF token.
type Signed = (String, String);

struct Target {
    path: String,
    form: String,
    /// What a post changes, to compare before and after.
    watch: Watch,
}

enum Watch {
    Nothing,
    /// A person's state.
    Person(String),
    /// Operators, controllers and tokens.
    Access,
    /// What an SQL query over the database answers.
    Sql(&'static str),
    /// How many purge jobs are recorded.
    PurgeJobs,
    /// A person's purge date.
    PurgeDate(idms::domain::UserId),
}

fn snapshot(ui: &Ui, w: &Watch) -> Option<String> {
    match w {
        Watch::Nothing => None,
        Watch::Person(id) => Some(state_of(ui, id).to_string()),
        Watch::Access => {
            let all = idms::store::auth::TokenFilter { limit: 1000, ..idms::store::auth::TokenFilter::default() };
            let s = &ui.store;
            Some(format!("{:?}", (s.operators().unwrap(), s.controllers().unwrap(), s.tokens(&all).unwrap())))
        }
        Watch::Sql(q) => {
            let c = rusqlite::Connection::open(ui._fx.db_path()).unwrap();
            Some(c.query_row(q, [], |r| r.get::<_, Option<String>>(0)).unwrap().unwrap_or_default())
        }
        Watch::PurgeJobs => Some(ui.store.purge_jobs(10_000).unwrap().len().to_string()),
        Watch::PurgeDate(id) => Some(format!("{:?}", ui.store.get_user(*id).unwrap().purge_date)),
    }
}

/// A name no other row has used.
fn fresh(kind: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!("{kind}-{}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// An operator to act on (a viewer), by name.
fn operator(ui: &Ui) -> String {
    let name = fresh("target");
    ui.store.add_operator(&staff(), &name, Role::Viewer, None, Some(PW)).unwrap();
    name
}

/// A door controller to act on, by ID.
fn controller(ui: &Ui) -> i64 {
    ui.store.add_controller(&staff(), &fresh("door"), &["main".to_string()]).unwrap().0.id
}

/// A UID no other row has used.
fn fresh_uid() -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0x0400_0000);
    format!("{:08X}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// A card held by a fresh person; its UID.
fn card(ui: &Ui) -> String {
    let uid = fresh_uid();
    let id = person(ui, &[]).parse().unwrap();
    let tech = idms::domain::Technology::Iso14443a;
    let u = idms::domain::Uid::parse_for(tech, &uid).unwrap();
    ui.store.enroll(&staff(), id, tech, &u).unwrap();
    uid
}

fn admin(path: String, form: String) -> Target {
    Target { path, form, watch: Watch::Access }
}

fn person(ui: &Ui, then: &[LifecycleAction]) -> String {
    let id = ui.store.create_user(&staff(), new_user("Matrix", "Person")).unwrap().id;
    for a in then {
        ui.store.lifecycle(&staff(), id, *a).unwrap();
    }
    id.to_string()
}

fn page(path: &str) -> Target {
    Target { path: path.into(), form: String::new(), watch: Watch::Nothing }
}

fn action(ui: &Ui, verb: &str, before: &[LifecycleAction]) -> Target {
    let id = person(ui, before);
    let form = if verb == "expunge" { format!("confirm={id}") } else { String::new() };
    Target { path: format!("/ui/people/{id}/{verb}"), form, watch: Watch::Person(id) }
}

/// A level of the whole office, opening every door always; its name, for a form.
fn level(ui: &Ui) -> String {
    let name = fresh("level");
    let grant = [(idms::store::levels::GrantTarget::AllDoors, "Always".to_string())];
    ui.store.add_level(&staff(), &name, None, &grant).unwrap();
    name
}

/// A recorded purge job (no one due: complete at once), by number.
fn purge_job(ui: &Ui) -> i64 {
    ui.store.create_purge_job(&staff(), &idms::domain::purge::Criteria::default()).unwrap().id
}

/// Purge criteria as the Add Job form sends them.
const CRITERIA: &str = "grace_days=0&record_type=&group=&waive_threshold=0&org_unit=";

const DELETED: &[LifecycleAction] = &[LifecycleAction::Delete];
const SUSPENDED: &[LifecycleAction] = &[LifecycleAction::Suspend];

fn cases() -> Vec<Case> {
    use StatusCode as S;
    use Who::{Anyone, AtLeast, SignedIn};
    let (get, post) = ("GET", "POST");
    let (viewer, manager, eraser) = (AtLeast(Role::Viewer), AtLeast(Role::Manager), AtLeast(Role::Eraser));
    let admins = AtLeast(Role::Admin);
    let enroller = AtLeast(Role::Enroller);
    let admin_action = "/ui/admin/{kind}/{id}/{action}";
    let lifecycle = "/ui/people/{id}/{action}";
    vec![
        Case { stream: false, method: get, template: "/", who: Anyone, ok: S::SEE_OTHER, target: |_| page("/") },
        Case {
            stream: false,
            method: get,
            template: "/ui/sign-in",
            who: Anyone,
            ok: S::OK,
            target: |_| page("/ui/sign-in"),
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/sign-out",
            who: SignedIn,
            ok: S::SEE_OTHER,
            target: |_| page("/ui/sign-out"),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/assets/{file}",
            who: Anyone,
            ok: S::OK,
            target: |_| page(idms::ui::assets::url("app.css")),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/people",
            who: viewer,
            ok: S::OK,
            target: |_| page("/ui/people?q=Person"),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/people/{id}",
            who: viewer,
            ok: S::OK,
            target: |ui| page(&format!("/ui/people/{}", person(ui, &[]))),
        },
        Case {
            stream: false,
            method: get,
            template: lifecycle,
            who: manager,
            ok: S::OK,
            target: |ui| action(ui, "suspend", &[]),
        },
        Case {
            stream: false,
            method: post,
            template: lifecycle,
            who: manager,
            ok: S::SEE_OTHER,
            target: |ui| action(ui, "suspend", &[]),
        },
        Case {
            stream: false,
            method: post,
            template: lifecycle,
            who: manager,
            ok: S::SEE_OTHER,
            target: |ui| action(ui, "resume", SUSPENDED),
        },
        Case {
            stream: false,
            method: get,
            template: lifecycle,
            who: manager,
            ok: S::OK,
            target: |ui| action(ui, "delete", &[]),
        },
        Case {
            stream: false,
            method: post,
            template: lifecycle,
            who: manager,
            ok: S::SEE_OTHER,
            target: |ui| action(ui, "delete", &[]),
        },
        Case {
            stream: false,
            method: post,
            template: lifecycle,
            who: manager,
            ok: S::SEE_OTHER,
            target: |ui| action(ui, "restore", DELETED),
        },
        Case {
            stream: false,
            method: get,
            template: lifecycle,
            who: eraser,
            ok: S::OK,
            target: |ui| action(ui, "expunge", DELETED),
        },
        Case {
            stream: false,
            method: post,
            template: lifecycle,
            who: eraser,
            ok: S::SEE_OTHER,
            target: |ui| action(ui, "expunge", DELETED),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/deleted",
            who: eraser,
            ok: S::OK,
            target: |_| page("/ui/deleted?search=1"),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/deleted/erase",
            who: eraser,
            ok: S::OK,
            target: |ui| page(&format!("/ui/deleted/erase?id={}", person(ui, DELETED))),
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/deleted/erase",
            who: eraser,
            ok: S::SEE_OTHER,
            target: |ui| {
                let id = person(ui, DELETED);
                Target { path: "/ui/deleted/erase".into(), form: format!("id={id}"), watch: Watch::Person(id) }
            },
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/purge",
            who: eraser,
            ok: S::OK,
            target: |_| page("/ui/purge"),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/purge/add",
            who: eraser,
            ok: S::OK,
            target: |_| page("/ui/purge/add"),
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/purge/add",
            who: eraser,
            ok: S::OK,
            // A preview records nothing (`ui_purge` checks that no job appears).
            target: |_| Target {
                path: "/ui/purge/add".into(),
                form: format!("{CRITERIA}&step=preview"),
                watch: Watch::Nothing,
            },
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/purge/jobs",
            who: eraser,
            ok: S::SEE_OTHER,
            target: |_| Target { path: "/ui/purge/jobs".into(), form: CRITERIA.into(), watch: Watch::PurgeJobs },
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/purge/jobs/{id}",
            who: eraser,
            ok: S::OK,
            target: |ui| page(&format!("/ui/purge/jobs/{}", purge_job(ui))),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/purge/jobs/{id}/progress",
            who: eraser,
            ok: S::OK,
            target: |ui| page(&format!("/ui/purge/jobs/{}/progress", purge_job(ui))),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/purge/dates",
            who: manager,
            ok: S::OK,
            target: |_| page("/ui/purge/dates"),
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/purge/dates",
            who: manager,
            ok: S::SEE_OTHER,
            target: |ui| {
                let group = fresh("group");
                let n = NewUser { group: Some(group.clone()), ..new_user("Matrix", "Dated") };
                let id = ui.store.create_user(&staff(), n).unwrap().id;
                let form = format!("purge_date=2030-01-01&group={group}");
                Target { path: "/ui/purge/dates".into(), form, watch: Watch::PurgeDate(id) }
            },
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/directory",
            who: manager,
            ok: S::OK,
            target: |_| page("/ui/directory"),
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/directory/import",
            who: manager,
            ok: S::SEE_OTHER,
            target: |_| Target {
                path: "/ui/directory/import".into(),
                form: format!("step=apply&csv=given_name%2Cfamily_name%0A{}%2CImported%0A", fresh("Matrix")),
                watch: Watch::Sql("SELECT CAST(COUNT(*) AS TEXT) FROM users"),
            },
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/directory/runs/{id}",
            who: manager,
            ok: S::OK,
            target: |ui| {
                let me = idms::ops::Acting::Local(staff());
                let csv = format!("given_name,family_name\n{},Run\n", fresh("Matrix"));
                let r = idms::ops::directory::import_csv(&ui.store, &me, csv.as_bytes(), false, false, "cli").unwrap();
                page(&format!("/ui/directory/runs/{}", r.id.unwrap()))
            },
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/overview",
            who: viewer,
            ok: S::OK,
            target: |_| page("/ui/overview"),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/audit",
            who: manager,
            ok: S::OK,
            target: |_| page("/ui/audit"),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/events",
            who: manager,
            ok: S::OK,
            target: |_| page("/ui/events"),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/events/quarantine",
            who: manager,
            ok: S::OK,
            target: |_| page("/ui/events/quarantine"),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/admin",
            who: admins,
            ok: S::OK,
            target: |_| page("/ui/admin"),
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/admin/operators",
            who: admins,
            ok: S::OK,
            target: |_| {
                let form = format!("name={}&role=viewer&org_unit=&password=a+long+enough+password", fresh("new"));
                admin("/ui/admin/operators".into(), form)
            },
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/admin/controllers",
            who: admins,
            ok: S::OK,
            target: |_| admin("/ui/admin/controllers".into(), format!("name={}&doors=main", fresh("new-door"))),
        },
        Case {
            stream: false,
            method: get,
            template: admin_action,
            who: admins,
            ok: S::OK,
            target: |ui| page(&format!("/ui/admin/operators/{}/disable", operator(ui))),
        },
        Case {
            stream: false,
            method: post,
            template: admin_action,
            who: admins,
            ok: S::SEE_OTHER,
            target: |ui| admin(format!("/ui/admin/operators/{}/disable", operator(ui)), String::new()),
        },
        Case {
            stream: false,
            method: post,
            template: admin_action,
            who: admins,
            ok: S::OK,
            target: |ui| admin(format!("/ui/admin/controllers/{}/rotate", controller(ui)), "overlap=0".into()),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/people/new",
            who: enroller,
            ok: S::OK,
            target: |_| page("/ui/people/new"),
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/people/new",
            who: enroller,
            ok: S::SEE_OTHER,
            target: |_| Target {
                path: "/ui/people/new".into(),
                form: "given_name=Added&family_name=Person".into(),
                watch: Watch::Sql("SELECT CAST(COUNT(*) AS TEXT) FROM users"),
            },
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/people/{id}/edit",
            who: manager,
            ok: S::OK,
            target: |ui| page(&format!("/ui/people/{}/edit", person(ui, &[]))),
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/people/{id}/edit",
            who: manager,
            ok: S::SEE_OTHER,
            target: |ui| Target {
                path: format!("/ui/people/{}/edit", person(ui, &[])),
                form: "given_name=Matrix&family_name=Edited".into(),
                watch: Watch::Sql("SELECT group_concat(family_name) FROM users"),
            },
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/enrol",
            who: enroller,
            ok: S::OK,
            target: |ui| page(&format!("/ui/enrol?user={}", person(ui, &[]))),
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/enrol",
            who: enroller,
            ok: S::SEE_OTHER,
            target: |ui| Target {
                path: "/ui/enrol".into(),
                form: format!("user={}&uid={}&technology=iso14443a", person(ui, &[]), fresh_uid()),
                watch: Watch::Sql("SELECT CAST(COUNT(*) AS TEXT) FROM bindings"),
            },
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/cards",
            who: viewer,
            ok: S::OK,
            target: |ui| page(&format!("/ui/cards?uid={}", card(ui))),
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/cards/{uid}/{action}",
            who: manager,
            ok: S::OK,
            target: |ui| page(&format!("/ui/cards/{}/suspend?technology=iso14443a", card(ui))),
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/cards/{uid}/{action}",
            who: manager,
            ok: S::SEE_OTHER,
            target: |ui| Target {
                path: format!("/ui/cards/{}/revoke", card(ui)),
                form: "technology=iso14443a&reason=lost".into(),
                watch: Watch::Sql("SELECT group_concat(state) FROM credentials"),
            },
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/people/{id}/access",
            who: manager,
            ok: S::SEE_OTHER,
            target: |ui| Target {
                path: format!("/ui/people/{}/access", person(ui, &[])),
                form: format!("op=assign&level={}", level(ui)),
                watch: Watch::Sql("SELECT CAST(COUNT(*) AS TEXT) FROM level_assignments"),
            },
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/access/{kind}",
            who: viewer,
            ok: S::OK,
            target: |_| page("/ui/access/levels"),
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/access/{kind}",
            who: manager,
            ok: S::SEE_OTHER,
            target: |_| Target {
                path: "/ui/access/doors".into(),
                form: format!("name={}&site=Default", fresh("door")),
                watch: Watch::Sql("SELECT CAST(COUNT(*) AS TEXT) FROM doors"),
            },
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/access/{kind}/{name}",
            who: viewer,
            ok: S::OK,
            target: |_| page("/ui/access/schedules/Always"),
        },
        Case {
            stream: false,
            method: post,
            template: "/ui/access/{kind}/{name}/{action}",
            who: manager,
            ok: S::SEE_OTHER,
            target: |ui| {
                let door = fresh("door");
                ui.store.add_door(&staff(), &door, None).unwrap();
                Target {
                    path: format!("/ui/access/doors/{door}/delete"),
                    form: String::new(),
                    watch: Watch::Sql("SELECT CAST(COUNT(*) AS TEXT) FROM doors"),
                }
            },
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/explain",
            who: viewer,
            ok: S::OK,
            target: |ui| {
                let door = fresh("door");
                ui.store.add_door(&staff(), &door, None).unwrap();
                page(&format!("/ui/explain?uid={}&technology=&door={door}&at=", card(ui)))
            },
        },
        Case {
            stream: false,
            method: get,
            template: "/ui/readers",
            who: viewer,
            ok: S::OK,
            target: |_| page("/ui/readers"),
        },
        Case {
            stream: true,
            method: get,
            template: "/ui/readers/events",
            who: viewer,
            ok: S::OK,
            target: |_| page("/ui/readers/events"),
        },
    ]
}

/// An event stream's answer without its (endless) body.
async fn stream_status(ui: &Ui, path: &str, cookie: Option<&str>) -> crate::ui_http::Answer {
    use tower::ServiceExt;
    let mut req = axum::http::Request::get(path).header("host", crate::ui_http::HOST);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = ui.app.clone().oneshot(req.body(axum::body::Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    if status == StatusCode::OK {
        assert_eq!(headers["content-type"], "text/event-stream", "{path}");
        return crate::ui_http::Answer { status, headers, body: String::new() };
    }
    let bytes = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
    crate::ui_http::Answer { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

fn allowed(who: Who, role: Option<Role>) -> bool {
    match (who, role) {
        (Who::Anyone, _) => true,
        (_, None) => false,
        (Who::SignedIn, Some(_)) => true,
        (Who::AtLeast(min), Some(r)) => r >= min,
    }
}

#[tokio::test]
async fn every_ui_route_answers_each_role_as_its_operation_allows_and_a_refused_post_changes_nothing() {
    let ui = Ui::new();
    let listed: BTreeSet<&str> = cases().iter().map(|c| c.template).collect();
    let routes: BTreeSet<&str> = idms::ui::PATHS.iter().copied().collect();
    assert_eq!(listed, routes, "the matrix must list exactly the UI's routes");

    // One session per role (argon2 is slow in a debug build), a new one
    // after Sign out ended it.
    let mut callers: Vec<(Option<Role>, Option<Signed>)> = vec![(None, None)];
    for role in Role::ALL {
        let name = format!("matrix-{role}");
        ui.store.add_operator(&staff(), &name, role, None, Some(PW)).unwrap();
        callers.push((Some(role), Some(ui.sign_in(&name).await)));
    }
    let mut checked = 0;
    for case in cases() {
        for (role, session) in &mut callers {
            let t = (case.target)(&ui);
            let before = snapshot(&ui, &t.watch);
            let cookie = session.as_ref().map(|(c, _)| c.as_str());
            let a = if case.stream {
                stream_status(&ui, &t.path, cookie).await
            } else if case.method == "GET" {
                ui.get(&t.path, cookie, false).await
            } else {
                let csrf = session.as_ref().map_or(String::new(), |(_, t)| t.clone());
                let form = if t.form.is_empty() { format!("csrf={csrf}") } else { format!("csrf={csrf}&{}", t.form) };
                ui.post(&t.path, cookie, Some(ORIGIN), &form).await
            };
            let what = format!("{} {} as {role:?}", case.method, t.path);
            let after = snapshot(&ui, &t.watch);
            if allowed(case.who, *role) {
                assert_eq!(a.status, case.ok, "{what}: {}", a.body);
                if case.method == "POST" && before.is_some() {
                    assert_ne!(before, after, "{what}: a permitted post changes what it is for");
                }
            } else if role.is_none() {
                assert_eq!((a.status, a.header("location")), (StatusCode::SEE_OTHER, "/ui/sign-in"), "{what}");
                assert_eq!(before, after, "{what}: no session changes nothing");
            } else {
                assert_eq!(a.status, StatusCode::FORBIDDEN, "{what}: {}", a.body);
                assert!(a.body.contains("forbidden"), "{what}: the 403 page names the code: {}", a.body);
                assert_eq!(before, after, "{what}: a refused post changes nothing");
            }
            if case.template == "/ui/sign-out"
                && let Some(r) = role
            {
                assert_eq!(ui.get("/ui/people", cookie, false).await.status, StatusCode::SEE_OTHER, "{what}: ended");
                *session = Some(ui.sign_in(&format!("matrix-{r}")).await);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, cases().len() * 6);
}

#[tokio::test]
async fn a_scoped_manager_reaches_only_people_of_their_unit() {
    let ui = Ui::new();
    ui.store.add_operator(&staff(), "nora", Role::Manager, Some("north"), Some(PW)).unwrap();
    let in_unit = |unit: &str| {
        let n = NewUser { org_unit: Some(unit.into()), ..new_user("Scoped", "Person") };
        ui.store.create_user(&staff(), n).unwrap().id.to_string()
    };
    let (north, south) = (in_unit("north"), in_unit("south"));
    let (cookie, csrf) = ui.sign_in("nora").await;

    let results = ui.get("/ui/people?q=Person", Some(&cookie), false).await;
    assert!(results.body.contains(&north) && !results.body.contains(&south), "{}", results.body);
    assert_eq!(ui.get(&format!("/ui/people/{north}"), Some(&cookie), false).await.status, StatusCode::OK);
    for path in [format!("/ui/people/{south}"), format!("/ui/people/{south}/delete")] {
        let a = ui.get(&path, Some(&cookie), false).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {}", a.body);
        assert!(!a.body.contains("Scoped"), "{path} shows nothing of the person");
    }
    let a = ui.post(&format!("/ui/people/{south}/delete"), Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    assert_eq!(state_of(&ui, &south), "active", "out of reach: unchanged");
    let a = ui.post(&format!("/ui/people/{north}/delete"), Some(&cookie), Some(ORIGIN), &format!("csrf={csrf}")).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(state_of(&ui, &north), "deleted");
}
