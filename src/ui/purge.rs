//! **Purge User Records** (reference procedure 003): running jobs with a
//! live progress bar, completed jobs (kept a year), each job's outcomes
//! paged, the **Add Job** dialog and bulk purge dates ("Update users in
//! bulk"). There is no cancel control anywhere: a job cannot be aborted
//! (`ops::purge::cancel` refuses, always).
//!
//! - **Add Job** (`GET /ui/purge/add`: a page without htmx, the `<dialog>`'s
//!   content with htmx) has the API's criteria: Number of Days After Purge
//!   Date, User Record Type, User Group, Waive Threshold, only deleted users
//!   and org unit, read through `api::purge::criteria_of` as the API reads
//!   them. Its form posts to the same path: **Preview** is the API's dry
//!   run (`ops::purge::dry_run`: counts, skipped by reason, the first
//!   people); **Add** shows the **Confirm** step (the same dry run's counts,
//!   and that the job cannot be aborted). Invalid criteria come back as the
//!   form with the error next to the field (422). Both are answered in
//!   place (a preview changes nothing but an audit entry).
//! - **Confirm** posts (through [`Posted`]) to `/ui/purge/jobs`, which
//!   records the job (`ops::purge::create_job`), wakes the service's job
//!   runner and answers `303` to the job's page (PRG).
//! - A job's page polls its progress fragment every second with htmx
//!   (`/ui/purge/jobs/{id}/progress`); once the job is complete the fragment
//!   comes without the trigger, so polling stops. Without htmx the page
//!   shows the progress as of loading it.
//! - **Update users in bulk** (`/ui/purge/dates`) sets or clears the purge
//!   date of everyone matching the filters (`ops::purge::set_purge_dates`,
//!   managers and above), filters read through `api::purge::people_query`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::purge::{CriteriaBody, PeopleQueryBody, criteria_of, people_query};
use crate::api::{AppState, op};
use crate::domain::purge::{Criteria, SkipReason, units_from_minor};
use crate::domain::time::{format_date, parse_date};
use crate::domain::{Timestamp, UserId};
use crate::ops;
use crate::store::{PurgeJob, PurgePlan, UserSummary};
use crate::ui::csrf::{Posted, seal, sealed};
use crate::ui::error::UiError;
use crate::ui::manage;
use crate::ui::pages::PersonLine;
use crate::ui::session::Session;
use crate::ui::{Hx, Nav, html};

/// Where the page lives (and the menu item points).
pub const HERE: &str = "/ui/purge";
/// Outcomes on a page of a job.
const OUTCOME_ROWS: u32 = 100;
/// People of each list a preview shows.
const PREVIEW_ROWS: usize = 50;
/// Jobs the page lists at most (the store keeps completed ones a year).
const JOBS: u32 = 500;

/// The skip reasons in their fixed order.
const REASONS: [SkipReason; 5] = [
    SkipReason::NotDeleted,
    SkipReason::LegalHold,
    SkipReason::DirectoryLinked,
    SkipReason::UnreturnedItems,
    SkipReason::BalanceOverThreshold,
];

/// Plain words for why a job skips a person.
#[must_use]
pub fn reason_words(code: &str) -> &'static str {
    match code {
        "not_deleted" => "Not deleted: the job takes only users already deleted.",
        "legal_hold" => "Under legal hold.",
        "directory_linked" => "Linked to the identity directory, which owns their lifecycle.",
        "unreturned_items" => "Has items not handed back.",
        "balance_over_threshold" => "Owes more than the waive threshold.",
        other => manage::words(other),
    }
}

/// An error shown next to a form field.
pub struct FieldError {
    /// The field's name in the form.
    pub field: &'static str,
    /// Plain words.
    pub words: String,
    /// The stable code.
    pub code: &'static str,
}

redacted_debug!(FieldError);

/// A form's field errors.
#[derive(Default)]
pub struct Errors(Vec<FieldError>);

redacted_debug!(Errors);

impl Errors {
    /// The error of `field`, if any.
    #[must_use]
    pub fn get(&self, field: &str) -> Option<&FieldError> {
        self.0.iter().find(|e| e.field == field)
    }

    /// No error.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn add(&mut self, field: &'static str, words: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push(FieldError { field, words: words.into(), code: "invalid_input" });
        }
    }

    /// `e` as the error of one of `fields` when it is an invalid input
    /// naming it (`criteria.`/`query.` prefixes as the API names them);
    /// any other error is the page's.
    fn take(&mut self, e: ApiError, fields: &[&'static str]) -> Result<(), UiError> {
        if e.code == "invalid_input"
            && let Some((name, message)) = e.detail.split_once(": ")
        {
            let name = name.trim_start_matches("criteria.").trim_start_matches("query.");
            if let Some(f) = fields.iter().find(|f| **f == name) {
                let words = field_words(f).map_or_else(|| capitalised(message), str::to_owned);
                self.0.push(FieldError { field: f, words, code: e.code });
                return Ok(());
            }
        }
        Err(e.into())
    }
}

/// Plain words for a field whose value cannot be read.
fn field_words(field: &str) -> Option<&'static str> {
    Some(match field {
        "grace_days" => "Enter a whole number of days, 0 or more.",
        "waive_threshold" => "Enter an amount such as 20 or 12.50, with at most two decimals.",
        "purge_date" => "Enter a date such as 2027-06-30.",
        "deleted_before" => "Enter a date such as 2026-06-30.",
        "state" => "Choose active, suspended or deleted.",
        "query" => {
            "Choose whom to update: at least one of user group, user record type, state, deleted before or org unit."
        }
        _ => return None,
    })
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect::<String>() + ".").unwrap_or_default()
}

/// A form field's value (`""` when absent).
fn value(fields: &[(String, String)], name: &str) -> String {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

/// A blank text box is no filter.
fn given(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// The Add Job form as typed.
#[derive(Clone, Default)]
pub struct CriteriaForm {
    /// Number of Days After Purge Date.
    pub grace_days: String,
    /// User Record Type.
    pub record_type: String,
    /// User Group.
    pub group: String,
    /// Waive Threshold (an amount).
    pub waive_threshold: String,
    /// Only users already deleted.
    pub only_deleted: bool,
    /// Org unit.
    pub org_unit: String,
}

redacted_debug!(CriteriaForm);

const CRITERIA_FIELDS: [&str; 5] = ["grace_days", "record_type", "group", "waive_threshold", "org_unit"];

impl CriteriaForm {
    fn blank() -> Self {
        Self { grace_days: "0".into(), waive_threshold: "0".into(), ..Self::default() }
    }

    fn of(fields: &[(String, String)]) -> Self {
        Self {
            grace_days: value(fields, "grace_days"),
            record_type: value(fields, "record_type"),
            group: value(fields, "group"),
            waive_threshold: value(fields, "waive_threshold"),
            only_deleted: fields.iter().any(|(k, _)| k == "only_deleted"),
            org_unit: value(fields, "org_unit"),
        }
    }

    /// The criteria, read as the API reads them, or the field errors.
    fn criteria(&self) -> Result<Result<Criteria, Errors>, UiError> {
        let mut errors = Errors::default();
        let grace_days = self.grace_days.trim().parse::<u32>().ok();
        if grace_days.is_none() {
            errors.add("grace_days", field_words("grace_days").unwrap_or_default());
        }
        let threshold = self.waive_threshold.trim();
        let waive_threshold = if threshold.is_empty() { Some(0.0) } else { threshold.parse::<f64>().ok() };
        if waive_threshold.is_none() || waive_threshold.is_some_and(|v| v < 0.0) {
            errors.add("waive_threshold", field_words("waive_threshold").unwrap_or_default());
        }
        let (Some(grace_days), Some(waive_threshold), true) = (grace_days, waive_threshold, errors.is_empty()) else {
            return Ok(Err(errors));
        };
        let body = CriteriaBody {
            grace_days,
            record_type: given(&self.record_type),
            group: given(&self.group),
            org_unit: given(&self.org_unit),
            waive_threshold: Some(waive_threshold),
            only_deleted: self.only_deleted,
        };
        match criteria_of(body) {
            Ok(c) => Ok(Ok(c)),
            Err(e) => {
                errors.take(e, &CRITERIA_FIELDS)?;
                Ok(Err(errors))
            }
        }
    }
}

/// A criterion as staff read it.
pub struct Criterion {
    /// The field's label.
    pub label: &'static str,
    /// Its value, in words.
    pub value: String,
}

redacted_debug!(Criterion);

/// The criteria as staff read them, in the Add Job dialog's order.
fn described(c: &Criteria) -> Vec<Criterion> {
    let any = |v: &Option<String>| v.clone().unwrap_or_else(|| "Any".into());
    vec![
        Criterion { label: "Number of Days After Purge Date", value: c.grace_days.to_string() },
        Criterion { label: "User Record Type", value: any(&c.record_type) },
        Criterion { label: "User Group", value: any(&c.group) },
        Criterion { label: "Waive Threshold", value: format!("{:.2}", units_from_minor(c.waive_threshold)) },
        Criterion { label: "Only users already deleted", value: if c.only_deleted { "Yes" } else { "No" }.into() },
        Criterion { label: "Org unit", value: any(&c.org_unit) },
    ]
}

/// A job as listed and on its page.
pub struct JobLine {
    /// The job's number.
    pub id: i64,
    /// `planned`, `running` or `completed`.
    pub state: &'static str,
    /// Complete.
    pub completed: bool,
    /// Its criteria.
    pub criteria: Vec<Criterion>,
    /// Selected for purge.
    pub selected: u64,
    /// Skipped at planning.
    pub skipped: u64,
    /// Selected people with an outcome so far.
    pub done: u64,
    /// Of those, purged.
    pub expunged: u64,
    /// `done` of `selected`, in whole percent.
    pub percent: u64,
    /// People per second, in words.
    pub rate: String,
    /// Who created it.
    pub created_by: String,
    /// When (UTC).
    pub created_at: crate::ui::time::Shown,
    /// When completed (UTC), or empty.
    pub completed_at: crate::ui::time::ShownOr,
}

redacted_debug!(JobLine);

impl JobLine {
    fn of(j: PurgeJob, now: Timestamp) -> Self {
        let percent = (j.done.min(j.selected) * 100).checked_div(j.selected).unwrap_or(100);
        let rate = match j.started_at {
            Some(start) => {
                let end = j.completed_at.unwrap_or(now);
                let secs = u64::try_from(end.0 - start.0).unwrap_or(0).max(1);
                format!("{} people/s", j.done / secs)
            }
            None => "not started".into(),
        };
        Self {
            id: j.id,
            state: j.state.as_str(),
            completed: j.state == crate::store::JobState::Completed,
            criteria: described(&j.criteria),
            selected: j.selected,
            skipped: j.skipped,
            done: j.done,
            expunged: j.expunged,
            percent,
            rate,
            created_by: j.created_by,
            created_at: crate::ui::time::Shown(j.created_at),
            completed_at: crate::ui::time::ShownOr::new(j.completed_at, ""),
        }
    }

    /// The criteria in one line (for the job tables).
    #[must_use]
    pub fn summary(&self) -> String {
        self.criteria.iter().map(|c| format!("{}: {}", c.label, c.value)).collect::<Vec<_>>().join("; ")
    }
}

/// Purge User Records.
#[derive(askama::Template)]
#[template(path = "purge.html")]
pub struct PurgePage {
    /// The header.
    pub nav: Nav,
    /// Jobs not yet complete.
    pub running: Vec<JobLine>,
    /// Completed jobs, newest first.
    pub history: Vec<JobLine>,
    /// The caller may set purge dates in bulk.
    pub dates: bool,
}

redacted_debug!(PurgePage);

/// A job's progress (polled by htmx while the job runs).
#[derive(askama::Template)]
#[template(path = "purge_progress.html")]
pub struct Progress {
    /// The job.
    pub j: JobLine,
}

redacted_debug!(Progress);

/// A job's page: its criteria, progress and a page of its outcomes.
#[derive(askama::Template)]
#[template(path = "purge_job.html")]
pub struct JobPage {
    /// The header.
    pub nav: Nav,
    /// The job.
    pub j: JobLine,
    /// The outcomes of this page.
    pub outcomes: Vec<OutcomeLine>,
    /// This is not the first page.
    pub paged: bool,
    /// The next page's `after`, if any.
    pub next: Option<String>,
}

redacted_debug!(JobPage);

/// One person of a job.
pub struct OutcomeLine {
    /// User ID.
    pub id: String,
    /// Selected by the plan.
    pub selected: bool,
    /// `expunged`, `skipped` or `pending`.
    pub outcome: &'static str,
    /// Why skipped: words and code.
    pub reasons: Vec<(&'static str, String)>,
    /// When (UTC), or empty.
    pub at: crate::ui::time::ShownOr,
}

redacted_debug!(OutcomeLine);

/// A preview: the dry run.
pub struct PreviewView {
    /// The date it was judged on.
    pub today: String,
    /// How many would be purged.
    pub selected: usize,
    /// How many would be kept.
    pub skipped: usize,
    /// Kept, by reason (a person can have several).
    pub by_reason: Vec<ReasonCount>,
    /// The first people to be purged.
    pub selected_people: Vec<PersonLine>,
    /// The first people kept, with why.
    pub skipped_people: Vec<(PersonLine, Vec<&'static str>)>,
}

redacted_debug!(PreviewView);

/// How many a plan skips for one reason.
pub struct ReasonCount {
    /// Plain words.
    pub words: &'static str,
    /// The stable code.
    pub code: &'static str,
    /// People.
    pub count: usize,
}

redacted_debug!(ReasonCount);

/// The Add Job dialog (a page without htmx).
#[derive(askama::Template)]
#[template(path = "purge_add.html", blocks = ["dialog"])]
pub struct AddPage {
    /// The header.
    pub nav: Nav,
    /// As typed.
    pub form: CriteriaForm,
    /// Field errors.
    pub errors: Errors,
    /// After Preview.
    pub preview: Option<PreviewView>,
}

redacted_debug!(AddPage);

/// The Confirm step of Add Job.
#[derive(askama::Template)]
#[template(path = "purge_confirm.html", blocks = ["dialog"])]
pub struct ConfirmPage {
    /// The header.
    pub nav: Nav,
    /// As typed (sent again by Confirm).
    pub form: CriteriaForm,
    /// The criteria in words.
    pub criteria: Vec<Criterion>,
    /// Selected today.
    pub selected: usize,
    /// Skipped today.
    pub skipped: usize,
}

redacted_debug!(ConfirmPage);

/// Update users in bulk: the purge date.
#[derive(askama::Template)]
#[template(path = "purge_dates.html")]
pub struct DatesPage {
    /// The header.
    pub nav: Nav,
    /// As typed.
    pub form: DatesForm,
    /// Field errors.
    pub errors: Errors,
    /// After an update: how many users changed.
    pub updated: Option<u64>,
}

redacted_debug!(DatesPage);

/// The Update users in bulk form as typed.
#[derive(Clone, Default)]
pub struct DatesForm {
    /// The new purge date (`YYYY-MM-DD`).
    pub purge_date: String,
    /// Remove the purge date instead.
    pub clear: bool,
    /// User Group.
    pub group: String,
    /// User Record Type.
    pub record_type: String,
    /// State (`active`, `suspended`, `deleted` or empty).
    pub state: String,
    /// Deleted before (`YYYY-MM-DD`).
    pub deleted_before: String,
    /// Org unit.
    pub org_unit: String,
}

redacted_debug!(DatesForm);

/// `GET /ui/purge`: running jobs (with live progress) and the history.
pub async fn page(State(s): State<AppState>, session: Session) -> Result<Response, UiError> {
    let jobs = op(&s, &session.acting, move |st, a| ops::purge::jobs(st, a, JOBS)).await?;
    let now = s.store.now();
    let (mut running, mut history) = (Vec::new(), Vec::new());
    for j in jobs {
        let line = JobLine::of(j, now);
        if line.completed { history.push(line) } else { running.push(line) }
    }
    running.reverse(); // oldest first: the order the runner takes them
    let page = PurgePage {
        nav: Nav::new(&session, HERE),
        running,
        history,
        dates: ops::purge::may_set_purge_dates(&session.acting).is_ok(),
    };
    Ok(html(&page)?.into_response())
}

/// Parses a job number in a path (anything else: no such page).
fn job_id(id: &str) -> Result<i64, UiError> {
    id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(UiError::not_found)
}

/// `GET /ui/purge/jobs/{id}/progress`: the progress fragment; without its
/// polling trigger once the job is complete.
pub async fn progress(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id = job_id(&id)?;
    let job = op(&s, &session.acting, move |st, a| ops::purge::job(st, a, id)).await?;
    Ok(html(&Progress { j: JobLine::of(job, s.store.now()) })?.into_response())
}

/// A job page's query: where its outcomes page starts.
#[derive(Deserialize, Default)]
pub struct JobQuery {
    /// Outcomes after this user ID.
    pub after: Option<String>,
}

redacted_debug!(JobQuery);

/// `GET /ui/purge/jobs/{id}?after=…`: the job, its progress and a page of
/// its outcomes.
pub async fn job(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<JobQuery>,
) -> Result<Response, UiError> {
    let id = job_id(&id)?;
    let after = match q.after.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => Some(v.parse::<UserId>().map_err(|_| UiError::bad_request())?),
        None => None,
    };
    let (job, mut outcomes) =
        op(&s, &session.acting, move |st, a| ops::purge::job_outcomes(st, a, id, after, OUTCOME_ROWS + 1)).await?;
    let more = outcomes.len() > OUTCOME_ROWS as usize;
    outcomes.truncate(OUTCOME_ROWS as usize);
    let next = if more { outcomes.last().map(|o| o.user_id.to_string()) } else { None };
    let page = JobPage {
        nav: Nav::new(&session, HERE),
        j: JobLine::of(job, s.store.now()),
        outcomes: outcomes
            .into_iter()
            .map(|o| OutcomeLine {
                id: o.user_id.to_string(),
                selected: o.selected,
                outcome: o.outcome,
                reasons: o.reasons.into_iter().map(|r| (reason_words(&r), r)).collect(),
                at: crate::ui::time::ShownOr::new(o.at, ""),
            })
            .collect(),
        paged: after.is_some(),
        next,
    };
    Ok(html(&page)?.into_response())
}

/// A page or, for htmx, its dialog block; with `Vary: HX-Request`.
fn dialog_or_page(status: StatusCode, page: Result<axum::response::Html<String>, UiError>) -> Response {
    match page {
        Ok(body) => {
            let mut res = (status, body).into_response();
            res.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
            res
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /ui/purge/add`: the Add Job dialog, empty. Asks `ops` (a dry run
/// of nothing would be audited, so: the job list) whether the caller may
/// plan jobs at all.
pub async fn add_page(State(s): State<AppState>, session: Session, hx: Hx) -> Result<Response, UiError> {
    op(&s, &session.acting, move |st, a| ops::purge::jobs(st, a, 1)).await?;
    let page = AddPage {
        nav: Nav::new(&session, HERE),
        form: CriteriaForm::blank(),
        errors: Errors::default(),
        preview: None,
    };
    let body = if hx.partial { html(&page.as_dialog()) } else { html(&page) };
    Ok(dialog_or_page(StatusCode::OK, body))
}

/// Who the first `PREVIEW_ROWS` of each list are (names as `ops` shows them
/// to the caller).
fn people(st: &crate::store::Store, a: &ops::Acting, ids: &[UserId]) -> Result<Vec<PersonLine>, ops::OpsError> {
    ids.iter()
        .take(PREVIEW_ROWS)
        .map(|id| ops::users::get(st, a, *id).map(|u| PersonLine::from(UserSummary::from(u))))
        .collect()
}

/// The dry run of `criteria` (the API's), with the first people of each list.
async fn dry_run(s: &AppState, session: &Session, criteria: Criteria) -> Result<PreviewView, ApiError> {
    let (plan, selected_people, skipped_people) = op(s, &session.acting, move |st, a| {
        let plan: PurgePlan = ops::purge::dry_run(st, a, criteria)?;
        let selected = people(st, a, &plan.selected)?;
        let skipped_ids: Vec<UserId> = plan.skipped.iter().map(|k| k.user_id).collect();
        let skipped = people(st, a, &skipped_ids)?;
        Ok((plan, selected, skipped))
    })
    .await?;
    let by_reason = REASONS
        .iter()
        .map(|r| ReasonCount {
            words: reason_words(r.code()),
            code: r.code(),
            count: plan.skipped.iter().filter(|k| k.reasons.contains(&r.code())).count(),
        })
        .filter(|r| r.count > 0)
        .collect();
    Ok(PreviewView {
        today: format_date(plan.today),
        selected: plan.selected.len(),
        skipped: plan.skipped.len(),
        by_reason,
        selected_people,
        skipped_people: skipped_people
            .into_iter()
            .zip(&plan.skipped)
            .map(|(p, k)| (p, k.reasons.iter().map(|r| reason_words(r)).collect()))
            .collect(),
    })
}

/// `POST /ui/purge/add`: **Preview** (`step=preview`) shows the dry run in
/// the dialog; **Add** (`step=add`) shows the Confirm step. Invalid
/// criteria: the form again with the errors next to the fields (422).
pub async fn add(State(s): State<AppState>, hx: Hx, p: Posted) -> Result<Response, UiError> {
    let form = CriteriaForm::of(&p.form);
    let nav = Nav::new(&p.session, HERE);
    let criteria = match form.criteria()? {
        Ok(c) => c,
        Err(errors) => return Ok(invalid(hx, nav, form, errors)),
    };
    let preview = match dry_run(&s, &p.session, criteria.clone()).await {
        Ok(v) => v,
        Err(e) => return refused(hx, nav, form, e),
    };
    if value(&p.form, "step") == "add" {
        let page = ConfirmPage {
            nav,
            form,
            criteria: described(&criteria),
            selected: preview.selected,
            skipped: preview.skipped,
        };
        let body = if hx.partial { html(&page.as_dialog()) } else { html(&page) };
        return Ok(dialog_or_page(StatusCode::OK, body));
    }
    let page = AddPage { nav, form, errors: Errors::default(), preview: Some(preview) };
    let body = if hx.partial { html(&page.as_dialog()) } else { html(&page) };
    Ok(dialog_or_page(StatusCode::OK, body))
}

/// `e` next to its field in the Add Job form (422), when it names one;
/// any other refusal is the error page.
fn refused(hx: Hx, nav: Nav, form: CriteriaForm, e: ApiError) -> Result<Response, UiError> {
    let mut errors = Errors::default();
    errors.take(e, &CRITERIA_FIELDS)?;
    Ok(invalid(hx, nav, form, errors))
}

/// The Add Job form again with its errors: 422.
fn invalid(hx: Hx, nav: Nav, form: CriteriaForm, errors: Errors) -> Response {
    let page = AddPage { nav, form, errors, preview: None };
    let body = if hx.partial { html(&page.as_dialog()) } else { html(&page) };
    dialog_or_page(StatusCode::UNPROCESSABLE_ENTITY, body)
}

/// `POST /ui/purge/jobs` (Confirm): records the job through `ops`, wakes
/// the job runner, then to the job's page.
pub async fn create(State(s): State<AppState>, hx: Hx, p: Posted) -> Result<Response, UiError> {
    let form = CriteriaForm::of(&p.form);
    let criteria = match form.criteria()? {
        Ok(c) => c,
        Err(errors) => return Ok(invalid(hx, Nav::new(&p.session, HERE), form, errors)),
    };
    let job = match op(&s, &p.session.acting, move |st, a| ops::purge::create_job(st, a, criteria)).await {
        Ok(job) => job,
        Err(e) => return refused(hx, Nav::new(&p.session, HERE), form, e),
    };
    s.wake_jobs();
    Ok(manage::redirect(hx, &format!("{HERE}/jobs/{}", job.id)))
}

/// The bulk page's query after an update.
#[derive(Deserialize, Default)]
pub struct DatesQuery {
    /// How many users were updated.
    pub updated: Option<u64>,
    /// The count's seal ([`seal`]): a count no post of this session made is not shown.
    #[serde(default)]
    pub seal: String,
}

/// What the seal of a bulk update's count covers.
fn dates_facts(n: u64) -> String {
    format!("purge.dates:{n}")
}

redacted_debug!(DatesQuery);

/// `GET /ui/purge/dates`: Update users in bulk (the purge date).
pub async fn dates_page(session: Session, Query(q): Query<DatesQuery>) -> Result<Response, UiError> {
    ops::purge::may_set_purge_dates(&session.acting).map_err(|e| ApiError::from_ops(e, &session.acting.actor()))?;
    let page = DatesPage {
        nav: Nav::new(&session, HERE),
        form: DatesForm::default(),
        errors: Errors::default(),
        updated: q.updated.filter(|n| sealed(&session, &dates_facts(*n), &q.seal)),
    };
    Ok(html(&page)?.into_response())
}

const DATE_FIELDS: [&str; 7] = ["purge_date", "group", "record_type", "state", "deleted_before", "org_unit", "query"];

/// `POST /ui/purge/dates`: sets (or clears) the purge date of everyone
/// matching through `ops`, then back with the count (PRG). Invalid input:
/// the form again with the errors next to the fields (422).
pub async fn set_dates(State(s): State<AppState>, hx: Hx, p: Posted) -> Result<Response, UiError> {
    let form = DatesForm {
        purge_date: value(&p.form, "purge_date"),
        clear: p.form.iter().any(|(k, _)| k == "clear"),
        group: value(&p.form, "group"),
        record_type: value(&p.form, "record_type"),
        state: value(&p.form, "state"),
        deleted_before: value(&p.form, "deleted_before"),
        org_unit: value(&p.form, "org_unit"),
    };
    let mut errors = Errors::default();
    let date = if form.clear {
        None
    } else if form.purge_date.trim().is_empty() {
        errors.add("purge_date", "Choose the new purge date, or tick \u{201c}Remove the purge date instead\u{201d}.");
        None
    } else {
        match parse_date("purge_date", &form.purge_date) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.take(ApiError::from(e), &DATE_FIELDS)?;
                None
            }
        }
    };
    let query = people_query(PeopleQueryBody {
        group: given(&form.group),
        record_type: given(&form.record_type),
        state: given(&form.state),
        deleted_before: given(&form.deleted_before),
        org_unit: given(&form.org_unit),
    });
    let query = match query {
        Ok(q) => Some(q),
        Err(e) => {
            errors.take(e, &DATE_FIELDS)?;
            None
        }
    };
    if let (true, Some(query)) = (errors.is_empty(), query) {
        let done = op(&s, &p.session.acting, move |st, a| ops::purge::set_purge_dates(st, a, query, date)).await;
        match done {
            Ok(n) => {
                let seal = seal(&p.session, &dates_facts(n));
                return Ok(manage::redirect(hx, &format!("{HERE}/dates?updated={n}&seal={seal}")));
            }
            Err(e) => errors.take(e, &DATE_FIELDS)?,
        }
    }
    let page = DatesPage { nav: Nav::new(&p.session, HERE), form, errors, updated: None };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, html(&page)?).into_response())
}

#[cfg(test)]
mod tests {
    use askama::Template;

    use super::*;
    use crate::store::JobState;

    fn job(state: JobState, done: u64) -> PurgeJob {
        PurgeJob {
            id: 7,
            state,
            criteria: Criteria::default(),
            today: ::time::Date::MIN,
            selected: 2_000,
            skipped: 3,
            done,
            expunged: done,
            created_by: "operator:1".into(),
            created_at: Timestamp(1_000),
            started_at: Some(Timestamp(1_000)),
            completed_at: (state == JobState::Completed).then_some(Timestamp(1_004)),
        }
    }

    #[test]
    fn the_progress_fragment_polls_every_second_until_the_job_is_complete() {
        let running = Progress { j: JobLine::of(job(JobState::Running, 500), Timestamp(1_002)) }.render().unwrap();
        assert!(running.contains(r#"hx-get="/ui/purge/jobs/7/progress" hx-trigger="every 1s""#), "{running}");
        assert!(running.contains(r#"value="25""#) && running.contains("500 of 2000 done (25 %)"), "{running}");
        assert!(running.contains("250 people/s"), "{running}");
        let done = Progress { j: JobLine::of(job(JobState::Completed, 2_000), Timestamp(9_999)) }.render().unwrap();
        assert!(!done.contains("hx-trigger") && !done.contains("hx-get"), "polling stops: {done}");
        assert!(done.contains(r#"value="100""#) && done.contains("500 people/s"), "{done}");
    }
}
