//! **Deleted Users** (reference procedure 004) and **Erase deleted users**
//! (002): search deleted people by date deleted, keyword and org unit
//! (`ops::purge::deleted`, erasers and above); the results table has a
//! checkbox per person, all ticked (untick who stays), **Restore** per row
//! (the record's Restore confirmation, `ops::users::lifecycle`) and
//! **Erase**.
//!
//! Erase is a confirmation: `GET /ui/deleted/erase?id=…` is a full page
//! without htmx, or, for htmx, the `<dialog>`'s content, listing the people
//! to be erased with **Cancel** / **Erase**. Its form posts (through
//! [`Posted`]) to the same path, which calls `ops::purge::erase` and answers
//! `303` (or `HX-Redirect`) to the search page with the report in the query;
//! the page shows it only as far as the store bears it out (an erased person
//! is expunged, a refused one is not), so a forged link shows nothing
//! misleading.

use axum::extract::{Query, State};
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::{AppState, op};
use crate::domain::{Timestamp, UserId, UserState};
use crate::ops;
use crate::store::UserSummary;
use crate::ui::csrf::Posted;
use crate::ui::error::UiError;
use crate::ui::manage::{self, words};
use crate::ui::pages::{PAGE_ROWS, PersonLine};
use crate::ui::session::Session;
use crate::ui::{Hx, Nav, html};

/// Where the page lives (and the menu item points).
pub const HERE: &str = "/ui/deleted";

/// The search's query string, and the report after an erase.
#[derive(Deserialize, Default)]
pub struct DeletedQuery {
    /// Keyword: user ID, last name, email, employee number or card UID.
    #[serde(default)]
    pub q: String,
    /// Deleted on or after this date (`YYYY-MM-DD`).
    #[serde(default)]
    pub from: String,
    /// Deleted on or before this date (`YYYY-MM-DD`, the whole day).
    #[serde(default)]
    pub to: String,
    /// Org unit.
    #[serde(default)]
    pub unit: String,
    /// Present once Search was pressed.
    pub search: Option<String>,
    /// `erase` after an erase.
    pub done: Option<String>,
    /// Erased (user IDs, comma-separated).
    #[serde(default)]
    pub erased: String,
    /// Not erased (`ID:code`, comma-separated).
    #[serde(default)]
    pub kept: String,
    /// The report's seal (`ui::csrf::seal`): a report no erase of this
    /// session made is not shown.
    #[serde(default)]
    pub seal: String,
}

/// What the seal of an erase's report covers.
fn report_facts(erased: &str, kept: &str) -> String {
    format!("erase|{erased}|{kept}")
}

redacted_debug!(DeletedQuery);

/// A deleted person in the results.
pub struct DeletedLine {
    /// The person.
    pub person: PersonLine,
    /// When deleted.
    pub deleted: Option<crate::ui::time::Shown>,
}

redacted_debug!(DeletedLine);

impl From<UserSummary> for DeletedLine {
    fn from(u: UserSummary) -> Self {
        let person = PersonLine::from(u);
        Self { deleted: person.deleted, person }
    }
}

/// A person a bulk erase refused, with why.
pub struct NotErasedLine {
    /// User ID.
    pub id: String,
    /// Plain words.
    pub why: &'static str,
    /// The stable code.
    pub code: String,
}

redacted_debug!(NotErasedLine);

/// The report after an erase.
pub struct Report {
    /// Erased (user IDs).
    pub erased: Vec<String>,
    /// Not erased.
    pub not_erased: Vec<NotErasedLine>,
}

redacted_debug!(Report);

/// Deleted Users: the search page (or, for htmx, only its results).
#[derive(askama::Template)]
#[template(path = "deleted.html", blocks = ["results"])]
pub struct DeletedPage {
    /// The header.
    pub nav: Nav,
    /// The search as asked.
    pub q: String,
    /// Deleted from.
    pub from: String,
    /// Deleted to.
    pub to: String,
    /// Org unit.
    pub unit: String,
    /// Whether a search ran.
    pub searched: bool,
    /// The people found.
    pub rows: Vec<DeletedLine>,
    /// More than shown matched.
    pub more: bool,
    /// Restore is offered (the role allows it).
    pub restore: bool,
    /// After an erase: who was erased and who was not.
    pub report: Option<Report>,
}

redacted_debug!(DeletedPage);

/// The erase confirmation: the page (no htmx) or the dialog's content.
#[derive(askama::Template)]
#[template(path = "erase.html", blocks = ["dialog"])]
pub struct EraseConfirm {
    /// The header.
    pub nav: Nav,
    /// The deleted people to be erased.
    pub rows: Vec<DeletedLine>,
    /// Chosen people who are not (or no longer) deleted: left out.
    pub left_out: usize,
}

redacted_debug!(EraseConfirm);

/// A date box's value as an instant: the start of the day, or for `to` the
/// start of the next day (both days are included). Empty is no bound.
pub(crate) fn day(field: &'static str, s: &str, next: bool) -> Result<Option<Timestamp>, UiError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let t = Timestamp::parse(field, s).map_err(|e| UiError::from(ApiError::from(e)))?;
    let is_date = s.len() == 10;
    Ok(Some(if next && is_date { Timestamp(t.0 + 86_400) } else { t }))
}

/// User IDs from a comma-separated list, at most a page's worth; others ignored.
fn ids(list: &str) -> Vec<UserId> {
    list.split(',').filter_map(|s| s.trim().parse().ok()).take(PAGE_ROWS as usize).collect()
}

/// `GET /ui/deleted?q=…&from=…&to=…&unit=…&search=1`.
pub async fn page(
    State(s): State<AppState>,
    session: Session,
    hx: Hx,
    Query(q): Query<DeletedQuery>,
) -> Result<Response, UiError> {
    let searched = q.search.is_some();
    let (from, to) = (day("from", &q.from, false)?, day("to", &q.to, true)?);
    let (text, unit) = (q.q.trim().to_owned(), q.unit.trim().to_owned());
    // Without a search this asks for no one: `ops` still says whether the
    // caller may see deleted people at all.
    let limit = if searched { PAGE_ROWS + 1 } else { 0 };
    let unit_asked = (!unit.is_empty()).then(|| unit.clone());
    let mut rows =
        op(&s, &session.acting, move |st, a| ops::purge::deleted(st, a, &text, from, to, unit_asked, limit)).await?;
    let more = rows.len() > PAGE_ROWS as usize;
    rows.truncate(PAGE_ROWS as usize);
    let sealed = crate::ui::csrf::sealed(&session, &report_facts(&q.erased, &q.kept), &q.seal);
    let report =
        if q.done.as_deref() == Some("erase") && sealed { Some(report(&s, &session, &q).await?) } else { None };
    let restore = session.acting.require(crate::store::Role::Manager).is_ok();
    let page = DeletedPage {
        nav: Nav::new(&session, HERE),
        q: q.q,
        from: q.from,
        to: q.to,
        unit: q.unit,
        searched,
        rows: rows.into_iter().map(DeletedLine::from).collect(),
        more,
        restore,
        report,
    };
    let mut res = if hx.partial { html(&page.as_results())? } else { html(&page)? }.into_response();
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(res)
}

/// The report in the query, as far as the store bears it out: an erased
/// person is expunged now; a refused one is not, with a code we know.
async fn report(s: &AppState, session: &Session, q: &DeletedQuery) -> Result<Report, UiError> {
    let erased = ids(&q.erased);
    let kept: Vec<(UserId, String)> = q
        .kept
        .split(',')
        .filter_map(|p| p.split_once(':'))
        .filter_map(|(id, code)| Some((id.trim().parse().ok()?, code.trim().to_owned())))
        .filter(|(_, code)| words(code) != words(""))
        .take(PAGE_ROWS as usize)
        .collect();
    let (erased, kept) = op(s, &session.acting, move |st, a| {
        let state = |id: UserId| ops::users::get(st, a, id).map(|u| u.state).ok();
        let erased: Vec<UserId> = erased.into_iter().filter(|&id| state(id) == Some(UserState::Expunged)).collect();
        let kept: Vec<(UserId, String)> = kept
            .into_iter()
            .filter(|(id, code)| code == "not_found" || state(*id).is_some_and(|s| s != UserState::Expunged))
            .collect();
        Ok((erased, kept))
    })
    .await?;
    Ok(Report {
        erased: erased.iter().map(ToString::to_string).collect(),
        not_erased: kept
            .into_iter()
            .map(|(id, code)| NotErasedLine { id: id.to_string(), why: erase_words(&code), code })
            .collect(),
    })
}

/// Plain words for why a person was not erased.
#[must_use]
pub fn erase_words(code: &str) -> &'static str {
    match code {
        "legal_hold" => "Under legal hold: lift the hold before erasing.",
        "holder_not_deleted" => "Not deleted (restored since?): only deleted people can be erased.",
        "already_expunged" => "Already erased.",
        "not_found" => "There is no such person in your reach.",
        other => words(other),
    }
}

/// The chosen user IDs of a form or query (`id` fields); a malformed one
/// is a bad request, never echoed.
fn chosen(fields: &[(String, String)]) -> Result<Vec<UserId>, UiError> {
    let ids: Vec<UserId> = fields
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.trim().parse::<UserId>().map_err(|_| UiError::bad_request()))
        .collect::<Result<_, _>>()?;
    if ids.len() > PAGE_ROWS as usize {
        return Err(UiError::bad_request());
    }
    Ok(ids)
}

/// `GET /ui/deleted/erase?id=…&id=…`: who is about to be erased.
pub async fn confirm(
    State(s): State<AppState>,
    session: Session,
    hx: Hx,
    Query(fields): Query<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let wanted = chosen(&fields)?;
    let asked = wanted.len();
    // Each chosen person as the deleted-people search finds them (by user
    // ID), so the list holds only people `ops` lets this caller erase.
    let found = op(&s, &session.acting, move |st, a| {
        let mut found = Vec::new();
        for id in wanted {
            let hits = ops::purge::deleted(st, a, &id.to_string(), None, None, None, 5)?;
            found.extend(hits.into_iter().find(|u| u.id == id));
        }
        Ok(found)
    })
    .await?;
    let page = EraseConfirm {
        nav: Nav::new(&session, HERE),
        left_out: asked - found.len(),
        rows: found.into_iter().map(DeletedLine::from).collect(),
    };
    let mut res = if hx.partial { html(&page.as_dialog())? } else { html(&page)? }.into_response();
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(res)
}

/// `POST /ui/deleted/erase`: erases the chosen people through `ops`, then
/// back to the search page with the report.
pub async fn erase(State(s): State<AppState>, hx: Hx, p: Posted) -> Result<Response, UiError> {
    let ids = chosen(&p.form)?;
    let report = op(&s, &p.session.acting, move |st, a| ops::purge::erase(st, a, &ids)).await?;
    if !report.erased.is_empty() {
        s.jobs.scrub_soon();
    }
    let erased: Vec<String> = report.erased.iter().map(ToString::to_string).collect();
    let kept: Vec<String> = report.not_erased.iter().map(|n| format!("{}:{}", n.user_id, n.code)).collect();
    let (erased, kept) = (erased.join(","), kept.join(","));
    let seal = crate::ui::csrf::seal(&p.session, &report_facts(&erased, &kept));
    let to = format!("{HERE}?done=erase&erased={erased}&kept={kept}&seal={seal}");
    Ok(manage::redirect(hx, &to))
}
