//! **Directory**: the directory runs (LDAP syncs and CSV imports, kept a
//! year) and each run's report, and the CSV import (managers; the import
//! itself needs a manager without an org unit, as `ops` says).
//!
//! - `GET /ui/directory`: recent runs (started, source, trigger, outcome,
//!   counts, a link to the report) and the import form — the file's text
//!   pasted into a textarea (the crate has no multipart parser, and the UI
//!   runs no script of its own to read a file).
//! - `POST /ui/directory/import` (through [`Posted`]: session, CSRF,
//!   `Origin`) with `step=preview`: a dry run of every row
//!   (`ops::directory::import_csv`, nothing changed or recorded), shown per
//!   row — line, name as the file gives it, what would happen (create,
//!   update, unchanged, skipped, refused) with column and code — and the
//!   **Apply** form carrying the same text. With `step=apply`: the import
//!   (all rows or none when any is refused; the valid rows when "apply the
//!   valid rows" is ticked), then `303` to the run's report (PRG). A file
//!   refused as a whole is a recorded run too, so its report says why.
//! - `GET /ui/directory/runs/{id}`: the report — line, person (a link),
//!   action, code and column; IDs and codes only, as stored.
//!
//! Whatever the file holds is data: askama escapes it (names, the echoed
//! text), never `|safe`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::{AppState, op};
use crate::ops;
use crate::store::Role;
use crate::store::directory::{RunCounts, RunItem, RunReport};
use crate::ui::csrf::Posted;
use crate::ui::error::UiError;
use crate::ui::manage::redirect;
use crate::ui::session::Session;
use crate::ui::time::Shown;
use crate::ui::{Hx, Nav, html};

/// Where the page lives (and the menu item points).
pub const HERE: &str = "/ui/directory";
/// Runs the page lists.
const RUNS: u32 = 100;

/// Plain words for a run item's code.
#[must_use]
pub fn code_words(code: &str) -> &'static str {
    match code {
        "deleted_in_idms" => "Deleted in IDMS: the directory does not create them again.",
        "invalid_input" | "invalid_field" => "A field's value is not acceptable.",
        "duplicate_employee_no" => "Another person (or another row) has this employee number.",
        "duplicate_external_id" => "Another row has this external ID.",
        "directory_id_taken" => "Another person is linked to this external ID.",
        "user_name_taken" => "Another person has this user name.",
        "unknown_column" => "The header names a column the import does not know.",
        "missing_column" => "The header lacks a required column.",
        "duplicate_column" => "The header names a column twice.",
        "invalid_csv" => "The row is not valid CSV (UTF-8, quotes closed).",
        "wrong_field_count" => "The row has more or fewer fields than the header.",
        "too_many_rows" => "The file has more rows than one import takes.",
        "vanished" => "The entry is no longer in the directory.",
        other => crate::ui::manage::words(other),
    }
}

/// A run's line in the list.
#[derive(Debug)]
pub struct RunLine {
    /// Run ID.
    pub id: i64,
    /// When it started.
    pub started: Shown,
    /// `ldap` or `csv`.
    pub source: String,
    /// What started it.
    pub trigger: String,
    /// `ok`, `refused` or an error code.
    pub outcome: String,
    /// The counts, in words.
    pub counts: String,
}

fn counts_text(c: &RunCounts) -> String {
    let all = [
        ("created", c.created),
        ("updated", c.updated),
        ("suspended", c.suspended),
        ("resumed", c.resumed),
        ("deleted", c.deleted),
        ("skipped", c.skipped),
        ("refused", c.refused),
        ("unchanged", c.unchanged),
    ];
    let shown: Vec<String> = all.iter().filter(|(_, n)| *n > 0).map(|(w, n)| format!("{n} {w}")).collect();
    if shown.is_empty() { "no entry".into() } else { shown.join(", ") }
}

impl From<RunReport> for RunLine {
    fn from(r: RunReport) -> Self {
        Self {
            id: r.id.unwrap_or_default(),
            started: Shown(r.started_at),
            counts: counts_text(&r.counts),
            source: r.source,
            trigger: r.trigger,
            outcome: r.outcome,
        }
    }
}

/// The Directory page.
#[derive(askama::Template)]
#[template(path = "directory.html")]
pub struct DirectoryPage {
    /// The header.
    pub nav: Nav,
    /// Recent runs.
    pub runs: Vec<RunLine>,
    /// The import form is offered (`ops` imports only for an unscoped manager).
    pub import: bool,
    /// What was pasted (shown again after a refusal).
    pub csv: String,
    /// Why the last post showed nothing (plain words, code).
    pub problem: Option<(String, &'static str)>,
}

redacted_debug!(DirectoryPage);

/// `GET /ui/directory`.
pub async fn page(State(s): State<AppState>, session: Session) -> Result<Response, UiError> {
    list(&s, &session, String::new(), None, StatusCode::OK).await
}

async fn list(
    s: &AppState,
    session: &Session,
    csv: String,
    problem: Option<(String, &'static str)>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let runs = op(s, &session.acting, |st, a| ops::directory::runs(st, a, RUNS)).await?;
    let page = DirectoryPage {
        nav: Nav::new(session, HERE),
        runs: runs.into_iter().map(RunLine::from).collect(),
        import: session.acting.require(Role::Manager).is_ok() && session.acting.require_unscoped().is_ok(),
        csv,
        problem,
    };
    Ok((status, html(&page)?).into_response())
}

/// A line of a report or a preview.
#[derive(Debug)]
pub struct ItemLine {
    /// The CSV line or entry position.
    pub line: String,
    /// The person's ID, when there is one.
    pub user: Option<String>,
    /// The name as the file gives it (previews only: reports keep no names).
    pub name: String,
    /// What happened (or would).
    pub action: &'static str,
    /// The code, when skipped or refused.
    pub code: String,
    /// Its words.
    pub words: &'static str,
    /// The column a refusal names.
    pub column: String,
}

fn item_line(i: &RunItem, name: String) -> ItemLine {
    let code = i.code.clone().unwrap_or_default();
    ItemLine {
        line: i.line.map(|l| l.to_string()).unwrap_or_default(),
        user: i.user.map(|u| u.to_string()),
        name,
        action: i.action.as_str(),
        words: if code.is_empty() { "" } else { code_words(&code) },
        code,
        column: i.column.clone().unwrap_or_default(),
    }
}

/// A run's report.
#[derive(askama::Template)]
#[template(path = "directory_run.html")]
pub struct RunPage {
    /// The header.
    pub nav: Nav,
    /// The run.
    pub run: RunLine,
    /// The outcome in words.
    pub outcome_words: String,
    /// What it did to whom.
    pub items: Vec<ItemLine>,
}

redacted_debug!(RunPage);

fn outcome_words(outcome: &str) -> String {
    match outcome {
        "ok" => "Applied.".into(),
        "refused" => "Refused: some rows were refused, so nothing was applied.".into(),
        other => format!("Not run: {}", crate::ui::manage::words(other)),
    }
}

/// `GET /ui/directory/runs/{id}`.
pub async fn run(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> Result<Response, UiError> {
    let Ok(id) = id.parse::<i64>() else { return Err(UiError::not_found()) };
    let r = op(&s, &session.acting, move |st, a| ops::directory::run(st, a, id)).await?;
    let items = r.items.iter().map(|i| item_line(i, String::new())).collect();
    let page =
        RunPage { nav: Nav::new(&session, HERE), outcome_words: outcome_words(&r.outcome), items, run: r.into() };
    Ok(html(&page)?.into_response())
}

/// The import's preview.
#[derive(askama::Template)]
#[template(path = "directory_preview.html")]
pub struct PreviewPage {
    /// The header.
    pub nav: Nav,
    /// The pasted text, carried to Apply.
    pub csv: String,
    /// Every row: what would happen.
    pub rows: Vec<ItemLine>,
    /// The counts, in words.
    pub counts: String,
    /// Rows refused.
    pub refused: u32,
    /// The file itself is refused (its header): nothing can be applied.
    pub whole: bool,
}

redacted_debug!(PreviewPage);

fn field<'a>(p: &'a Posted, name: &str) -> Option<&'a str> {
    p.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Each row's name as the file gives it ("Family, Given"), by line — read
/// as `ops::directory::read_csv` reads the file, but also for rows it
/// refuses, so that staff see whose row it is. Only for the preview.
fn names(bytes: &[u8]) -> std::collections::HashMap<u32, String> {
    let mut out = std::collections::HashMap::new();
    let mut r = csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(bytes);
    let Ok(headers) = r.headers() else { return out };
    let col = |name: &str| headers.iter().position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name));
    let (given, family) = (col("given_name"), col("family_name"));
    for rec in r.records().take(ops::directory::MAX_CSV_ROWS).flatten() {
        let Some(line) = rec.position().and_then(|p| u32::try_from(p.line()).ok()) else { continue };
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or_default();
        let name = match (get(family), get(given)) {
            ("", g) => g.to_owned(),
            (f, "") => f.to_owned(),
            (f, g) => format!("{f}, {g}"),
        };
        out.insert(line, name);
    }
    out
}

/// `POST /ui/directory/import`: the preview (`step=preview`) or the import (`step=apply`).
pub async fn import(State(s): State<AppState>, hx: Hx, p: Posted) -> Result<Response, UiError> {
    let csv = field(&p, "csv").unwrap_or_default().to_owned();
    if csv.trim().is_empty() {
        let problem =
            Some(("Paste the file's text (a header row, then one row per person).".to_owned(), "invalid_input"));
        return list(&s, &p.session, csv, problem, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    if field(&p, "step") == Some("apply") {
        let partial = field(&p, "partial").is_some();
        let bytes = csv.clone().into_bytes();
        let r =
            op(&s, &p.session.acting, move |st, a| ops::directory::import_csv(st, a, &bytes, false, partial, "upload"))
                .await?;
        let Some(id) = r.id else { return Err(UiError::internal()) };
        return Ok(redirect(hx, &format!("{HERE}/runs/{id}")));
    }
    // The preview: every row's fate, as if the valid ones were applied (the page says that one refused row
    // applies none unless "apply the valid rows" is ticked).
    let bytes = csv.clone().into_bytes();
    let (r, read) = op(&s, &p.session.acting, move |st, a| {
        let r = ops::directory::import_csv(st, a, &bytes, true, true, "upload")?;
        Ok((r, ops::directory::read_csv(&bytes)))
    })
    .await?;
    let whole = read.len() == 1 && read.first().is_some_and(|i| i.line == 1);
    let names = names(csv.as_bytes());
    let name_of = |line: u32| names.get(&line).cloned().unwrap_or_default();
    let mut rows: Vec<ItemLine> = r
        .items
        .iter()
        .map(|i| {
            let mut l = item_line(i, i.line.map(name_of).unwrap_or_default());
            // A dry run's new people were rolled back: their IDs lead nowhere.
            if i.action == crate::store::directory::DirAction::Created {
                l.user = None;
            }
            l
        })
        .collect();
    // Unchanged rows are not report items: every read row without one is unchanged.
    for i in &read {
        if !r.items.iter().any(|x| x.line == Some(i.line)) {
            rows.push(ItemLine {
                line: i.line.to_string(),
                user: None,
                name: name_of(i.line),
                action: "unchanged",
                code: String::new(),
                words: "",
                column: String::new(),
            });
        }
    }
    rows.sort_by_key(|l| l.line.parse::<u32>().unwrap_or(u32::MAX));
    let page = PreviewPage {
        nav: Nav::new(&p.session, HERE),
        csv,
        counts: counts_text(&r.counts),
        refused: r.counts.refused,
        whole,
        rows,
    };
    Ok(html(&page)?.into_response())
}
