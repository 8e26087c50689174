//! The pages: People ("Manage": one search box) and a person's record
//! (profile, state, Credentials, and the Manage menu of [`manage`]).

use axum::extract::{Path, Query, State};
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::{AppState, op};
use crate::domain::{Timestamp, UserId, UserState};
use crate::ops;
use crate::store::{UserRecord, UserSummary};
use crate::ui::error::UiError;
use crate::ui::session::Session;
use crate::ui::{Hx, Nav, html, manage};

/// The most people a search shows.
pub const PAGE_ROWS: u32 = 50;

/// The people search's query string.
#[derive(Deserialize, Default)]
pub struct PeopleQuery {
    /// What was typed.
    #[serde(default)]
    pub q: String,
    /// "Include deleted" (a checkbox: present when ticked).
    pub include_deleted: Option<String>,
}

redacted_debug!(PeopleQuery);

/// A line of the results.
pub struct PersonLine {
    /// User ID.
    pub id: String,
    /// "Family, Given" (empty once expunged).
    pub name: String,
    /// Email.
    pub email: String,
    /// Org unit.
    pub unit: String,
    /// State.
    pub state: &'static str,
}

redacted_debug!(PersonLine);

impl From<UserSummary> for PersonLine {
    fn from(u: UserSummary) -> Self {
        let name = match (u.family_name, u.given_name) {
            (Some(f), Some(g)) => format!("{f}, {g}"),
            (Some(f), None) => f,
            (None, Some(g)) => g,
            (None, None) => String::new(),
        };
        Self {
            id: u.id.to_string(),
            name,
            email: u.email.unwrap_or_default(),
            unit: u.org_unit.unwrap_or_default(),
            state: u.state.as_str(),
        }
    }
}

/// People: the search page (or, for htmx, only its results).
#[derive(askama::Template)]
#[template(path = "people.html", blocks = ["results"])]
pub struct PeoplePage {
    /// The header.
    pub nav: Nav,
    /// What was typed.
    pub q: String,
    /// "Include deleted" ticked.
    pub include_deleted: bool,
    /// Whether a search ran.
    pub searched: bool,
    /// The people found.
    pub rows: Vec<PersonLine>,
    /// More than shown matched.
    pub more: bool,
}

redacted_debug!(PeoplePage);

/// `GET /ui/people?q=…&include_deleted=on`.
pub async fn people(
    State(s): State<AppState>,
    session: Session,
    hx: Hx,
    Query(q): Query<PeopleQuery>,
) -> Result<Response, UiError> {
    let text = q.q.trim().to_owned();
    let all = q.include_deleted.is_some();
    let searched = !text.is_empty();
    let mut rows = if searched {
        let t = text.clone();
        op(&s, &session.acting, move |st, a| ops::users::search(st, a, &t, all, PAGE_ROWS + 1)).await?
    } else {
        Vec::new()
    };
    let more = rows.len() > PAGE_ROWS as usize;
    rows.truncate(PAGE_ROWS as usize);
    let page = PeoplePage {
        nav: Nav::new(&session, "/ui/people"),
        q: q.q,
        include_deleted: all,
        searched,
        rows: rows.into_iter().map(PersonLine::from).collect(),
        more,
    };
    let mut res = if hx.partial { html(&page.as_results())? } else { html(&page)? }.into_response();
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(res)
}

/// A row of the profile.
pub struct Field {
    /// Its label.
    pub label: &'static str,
    /// Its value, as text ("—" when empty).
    pub value: String,
}

redacted_debug!(Field);

/// A card the person holds.
#[derive(Debug)]
pub struct CardLine {
    /// Technology.
    pub technology: String,
    /// UID.
    pub uid: String,
    /// State.
    pub state: String,
}

/// A card the person held, and when.
#[derive(Debug)]
pub struct HeldLine {
    /// Technology.
    pub technology: String,
    /// UID.
    pub uid: String,
    /// From (UTC).
    pub from: String,
    /// Until (UTC), empty while held.
    pub until: String,
    /// Why it ended.
    pub why: String,
}

/// A person's record.
#[derive(askama::Template)]
#[template(path = "person.html")]
pub struct PersonPage {
    /// The header.
    pub nav: Nav,
    /// User ID.
    pub id: String,
    /// The heading: the name, or the ID once expunged.
    pub heading: String,
    /// State.
    pub state: &'static str,
    /// The profile.
    pub fields: Vec<Field>,
    /// Cards held now.
    pub cards: Vec<CardLine>,
    /// Every card held.
    pub history: Vec<HeldLine>,
    /// The Manage menu (empty: the role allows no action).
    pub manage: Vec<manage::MenuAction>,
    /// The notice after an action.
    pub notice: Option<manage::Notice>,
    /// Once expunged: when and by whom.
    pub tombstone: Option<String>,
    /// Enrol a card is offered (`ops::readers::may_enrol`).
    pub enrol: bool,
}

redacted_debug!(PersonPage);

fn text(v: Option<impl ToString>) -> String {
    v.map(|v| v.to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| "—".into())
}

fn time(t: Option<Timestamp>) -> String {
    text(t)
}

fn yes_no(b: bool) -> String {
    if b { "Yes".into() } else { "No".into() }
}

impl PersonPage {
    fn new(
        session: &Session,
        u: UserRecord,
        offered: &[ops::users::Offered],
        done: &manage::Done,
        enrol: bool,
    ) -> Self {
        let id = u.id.to_string();
        let manage = manage::menu(offered, u.state == UserState::Suspended);
        let notice = manage::notice(done, u.id, u.state);
        let tombstone = (u.state == UserState::Expunged).then(|| {
            format!(
                "expunged {} by {}; only the user ID and the history remain.",
                time(u.expunged_at),
                text(u.expunged_by.clone())
            )
        });
        let heading = heading(&u);
        let fields = vec![
            Field { label: "User ID", value: id.clone() },
            Field { label: "State", value: u.state.as_str().into() },
            Field { label: "Given name", value: text(u.given_name) },
            Field { label: "Family name", value: text(u.family_name) },
            Field { label: "Email", value: text(u.email) },
            Field { label: "Phone", value: text(u.phone) },
            Field { label: "Employee number", value: text(u.employee_no) },
            Field { label: "Org unit", value: text(u.org_unit) },
            Field { label: "Record type", value: text(u.record_type) },
            Field { label: "Group", value: text(u.group) },
            Field { label: "Valid from", value: time(u.valid_from) },
            Field { label: "Valid to", value: time(u.valid_to) },
            Field { label: "Purge date", value: text(u.purge_date) },
            Field { label: "Legal hold", value: yes_no(u.legal_hold) },
            Field { label: "Directory link", value: yes_no(u.directory_linked) },
            Field { label: "Balance", value: u.balance.to_string() },
            Field { label: "Unreturned items", value: u.unreturned_items.to_string() },
            Field { label: "Created", value: u.created_at.to_string() },
            Field { label: "Deleted", value: time(u.deleted_at) },
            Field { label: "Expunged", value: time(u.expunged_at) },
        ];
        let cards = u
            .credentials
            .iter()
            .map(|c| CardLine {
                technology: c.technology.to_string(),
                uid: c.uid.to_string(),
                state: c.state.to_string(),
            })
            .collect();
        let history = u
            .history
            .iter()
            .map(|h| HeldLine {
                technology: h.technology.to_string(),
                uid: h.uid.to_string(),
                from: h.opened_at.to_string(),
                until: h.closed_at.map(|t| t.to_string()).unwrap_or_default(),
                why: h.close_reason.clone().unwrap_or_default(),
            })
            .collect();
        Self {
            nav: Nav::new(session, ""),
            id,
            heading,
            state: u.state.as_str(),
            fields,
            cards,
            history,
            manage,
            notice,
            tombstone,
            enrol,
        }
    }
}

/// A record's heading: the person's name, or "Person ID" once expunged.
#[must_use]
pub fn heading(u: &UserRecord) -> String {
    match (&u.given_name, &u.family_name) {
        (None, None) => format!("Person {}", u.id),
        (g, f) => [g.as_deref(), f.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" "),
    }
}

/// `GET /ui/people/{id}`: the record. A malformed ID is a 404 and is never
/// echoed (it may be someone's name).
pub async fn person(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(done): Query<manage::Done>,
) -> Result<Response, UiError> {
    let Ok(id) = id.parse::<UserId>() else {
        return Err(UiError::not_found());
    };
    let (u, offered, enrol) = op(&s, &session.acting, move |st, a| {
        let enrol = ops::readers::may_enrol(st, a, id).is_ok();
        Ok((ops::users::get(st, a, id)?, ops::users::offered(st, a, id)?, enrol))
    })
    .await?;
    Ok(html(&PersonPage::new(&session, u, &offered, &done, enrol))?.into_response())
}
