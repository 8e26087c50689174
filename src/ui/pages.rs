//! The pages: People ("Manage": one search box, results paged by a
//! keyset cursor, **Add person** for roles that may add) and a person's
//! record (profile, state, **Edit**, the Manage menu of [`manage`], and
//! the tabs **Credentials**, **Documents** and **History**).
//!
//! The tabs are links (`?tab=credentials|documents|history`) marked with
//! `aria-current`: each is its own URL, works without script, and History
//! — the person's audit entries, only for roles `ops::audit` lets read the
//! trail — is read only when asked for.

use axum::extract::{Path, Query, State};
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::{AppState, op};
use crate::domain::time::WindowPosition;
use crate::domain::{UserId, UserState};
use crate::ops;
use crate::store::{AuditEntry, Cursor, UserRecord, UserSummary};
use crate::ui::error::UiError;
use crate::ui::session::Session;
use crate::ui::time::Shown;
use crate::ui::{Hx, Nav, html, manage};

/// The most people a search shows.
pub const PAGE_ROWS: u32 = 50;

/// The people search's query string (`after`: the next page).
#[derive(Deserialize, Default)]
pub struct PeopleQuery {
    /// What was typed.
    #[serde(default)]
    pub q: String,
    /// "Include deleted" (a checkbox: present when ticked).
    pub include_deleted: Option<String>,
    /// The next page: the results after this user ID.
    pub after: Option<String>,
    /// The previous page: the results before this user ID.
    pub before: Option<String>,
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
    /// When deleted (deleted and expunged people).
    pub deleted: Option<Shown>,
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
            deleted: Shown::opt(u.deleted_at),
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
    /// The next page starts after this user ID (more matched).
    pub next: Option<String>,
    /// The previous page ends before this user ID (this is a later page).
    pub previous: Option<String>,
    /// This is a later page.
    pub later: bool,
    /// The caller may add people.
    pub add: bool,
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
    // A malformed cursor is the first page (it is never echoed).
    let id = |v: &Option<String>| v.as_deref().and_then(|a| a.trim().parse::<UserId>().ok());
    let at = match (id(&q.after), id(&q.before)) {
        (Some(a), _) => Some(Cursor::After(a)),
        (None, Some(b)) => Some(Cursor::Before(b)),
        (None, None) => None,
    };
    let mut rows = if searched {
        let t = text.clone();
        op(&s, &session.acting, move |st, a| ops::users::search_page(st, a, &t, all, at, PAGE_ROWS + 1)).await?
    } else {
        Vec::new()
    };
    // One more than a page was asked for: it says whether there is more
    // that way (after the page; backwards, before it).
    let more = rows.len() > PAGE_ROWS as usize;
    let back = matches!(at, Some(Cursor::Before(_)));
    if more && back {
        rows.remove(0);
    }
    rows.truncate(PAGE_ROWS as usize);
    let first = |rows: &[UserSummary]| rows.first().map(|u| u.id.to_string());
    let last = |rows: &[UserSummary]| rows.last().map(|u| u.id.to_string());
    // Backwards, the page we came from is after this one; forwards, before it.
    let next = if more || back { last(&rows) } else { None };
    let previous = if matches!(at, Some(Cursor::After(_))) || more && back { first(&rows) } else { None };
    let page = PeoplePage {
        nav: Nav::new(&session, "/ui/people"),
        q: q.q,
        include_deleted: all,
        searched,
        rows: rows.into_iter().map(PersonLine::from).collect(),
        next,
        later: previous.is_some() || matches!(at, Some(Cursor::After(_))),
        previous,
        add: ops::users::rights(&session.acting).add,
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
    /// Its value when it is an instant.
    pub time: Option<Shown>,
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
    /// From.
    pub from: Shown,
    /// Until, none while held.
    pub until: Option<Shown>,
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
    /// Refresh Org Info in the Manage menu (a manager's): `None` when not offered.
    pub refresh: Option<manage::MenuAction>,
    /// The notice after an action.
    pub notice: Option<manage::Notice>,
    /// Once expunged: when and by whom.
    pub tombstone: Option<(Option<Shown>, String)>,
    /// Outside the validity window: why their cards open no door.
    pub validity: Option<&'static str>,
    /// The tab shown: `credentials`, `documents` or `history`.
    pub tab: &'static str,
    /// The History tab is offered (the role may read the audit trail).
    pub history_tab: bool,
    /// History: the person's audit entries (this page of them).
    pub audit: Vec<AuditLine>,
    /// History: the next page starts after this sequence number.
    pub audit_next: Option<i64>,
    /// Edit is offered (the role may edit).
    pub edit: bool,
    /// Enrol a card is offered (`ops::readers::may_enrol`).
    pub enrol: bool,
    /// The Access tab (when shown).
    pub access: Option<crate::ui::levels::AccessTab>,
    /// The Access tab's notice after an assign or unassign.
    pub access_notice: Option<String>,
}

redacted_debug!(PersonPage);

/// An entry of the person's history (the audit trail: no personal data).
#[derive(Debug)]
pub struct AuditLine {
    /// Position in the chain.
    pub seq: i64,
    /// When.
    pub at: Shown,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// `ok` or the refusal's code.
    pub outcome: String,
    /// Extra facts.
    pub detail: String,
}

impl From<AuditEntry> for AuditLine {
    fn from(e: AuditEntry) -> Self {
        Self { seq: e.seq, at: Shown(e.at), actor: e.actor, action: e.action, outcome: e.outcome, detail: e.detail }
    }
}

/// The most history entries a page shows.
pub const HISTORY_ROWS: u32 = 100;

fn text(v: Option<impl ToString>) -> String {
    v.map(|v| v.to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| "—".into())
}

fn yes_no(b: bool) -> String {
    if b { "Yes".into() } else { "No".into() }
}

/// What the record's query asks for besides the notice.
#[derive(Deserialize, Default)]
pub struct RecordQuery {
    /// The tab.
    pub tab: Option<String>,
    /// History: entries after this sequence number.
    pub after: Option<i64>,
    /// Access: what was done (`assign`, `unassign`).
    pub done: Option<String>,
    /// Access: the level it was done with.
    #[serde(default)]
    pub what: String,
    /// Access: the notice's seal.
    #[serde(default)]
    pub seal: String,
}

redacted_debug!(RecordQuery);

/// A tab's name as the query gives it (anything else is Credentials).
fn tab_of(q: &RecordQuery) -> &'static str {
    match q.tab.as_deref() {
        Some("documents") => "documents",
        Some("history") => "history",
        Some("access") => "access",
        _ => "credentials",
    }
}

/// What the record page is made of, as `ops` answered.
struct Record {
    u: UserRecord,
    offered: Vec<ops::users::Offered>,
    validity: WindowPosition,
    audit: Option<Vec<AuditEntry>>,
    enrol: bool,
    access: Option<crate::ui::levels::AccessTab>,
}

impl PersonPage {
    fn new(session: &Session, r: Record, done: &manage::Done, tab: &'static str) -> Self {
        let Record { u, offered, validity, audit, enrol, access } = r;
        let id = u.id.to_string();
        let manage = manage::menu(&offered, u.state == UserState::Suspended);
        let notice = manage::notice(done, u.id, u.state);
        let tombstone =
            (u.state == UserState::Expunged).then(|| (Shown::opt(u.expunged_at), text(u.expunged_by.clone())));
        let live = matches!(u.state, UserState::Active | UserState::Suspended);
        let validity = match validity {
            WindowPosition::After if live => Some("Deactivated: Valid to has passed, so their cards open no door."),
            WindowPosition::Before if live => {
                Some("Not yet valid: Valid from is still ahead, so their cards open no door yet.")
            }
            _ => None,
        };
        let heading = heading(&u);
        let suspended_by = suspended_by(&u);
        let refresh = refresh_item(session, &u);
        let f = |label, value| Field { label, value, time: None };
        let t = |label, t: Option<crate::domain::Timestamp>| Field { label, value: "—".into(), time: Shown::opt(t) };
        let mut fields = vec![
            f("User ID", id.clone()),
            f("State", u.state.as_str().into()),
            f("Given name", text(u.given_name)),
            f("Family name", text(u.family_name)),
            f("Email", text(u.email)),
            f("Phone", text(u.phone)),
            f("Employee number", text(u.employee_no)),
            f("Org unit", text(u.org_unit)),
            f("Record type", text(u.record_type)),
            f("Group", text(u.group)),
            t("Valid from", u.valid_from),
            t("Valid to", u.valid_to),
            f("Purge date", text(u.purge_date.map(crate::domain::time::format_date))),
            f("Legal hold", yes_no(u.legal_hold)),
            f("Directory link", link_text(u.directory.as_ref())),
            t("Released by the directory", u.directory.as_ref().and_then(|l| l.gone_at)),
            t("Directory entry vanished", u.directory.as_ref().and_then(|l| l.vanished_at)),
            f("Directory user name", text(u.user_name.clone())),
            f(
                "Directory groups",
                if u.directory_groups.is_empty() { "—".into() } else { u.directory_groups.join(", ") },
            ),
            f("Balance", crate::ui::forms::money(u.balance)),
            f("Unreturned items", u.unreturned_items.to_string()),
            f("Notes", text(u.notes)),
            t("Created", Some(u.created_at)),
            t("Last changed", Some(u.updated_at)),
            t("Deleted", u.deleted_at),
            t("Expunged", u.expunged_at),
        ];
        if let Some(by) = suspended_by {
            fields.insert(2, f("Suspended by", by.into()));
        }
        // A link's instants show only when they happened.
        fields.retain(|x| {
            !matches!(x.label, "Released by the directory" | "Directory entry vanished") || x.time.is_some()
        });
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
                from: Shown(h.opened_at),
                until: Shown::opt(h.closed_at),
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
            refresh,
            notice,
            tombstone,
            validity,
            tab,
            history_tab: ops::audit::readable(&session.acting),
            audit_next: audit
                .as_ref()
                .filter(|a| a.len() >= HISTORY_ROWS as usize)
                .and_then(|a| a.last().map(|e| e.seq)),
            audit: audit.unwrap_or_default().into_iter().map(AuditLine::from).collect(),
            edit: ops::users::rights(&session.acting).edit && u.state != UserState::Expunged,
            enrol,
            access,
            access_notice: None,
        }
    }
}

/// A person's directory link in words: where it came from and the entry's ID.
fn link_text(link: Option<&crate::store::records::DirectoryLink>) -> String {
    use crate::store::records::DirectorySource as S;
    let Some(l) = link else { return "none".into() };
    let from = match l.source {
        S::Scim => "SCIM (pushed by the directory)",
        S::Ldap => "LDAP / Active Directory import",
        S::Csv => "CSV import",
        S::Staff => "typed by staff",
    };
    match &l.external_id {
        Some(e) => format!("{from}, external ID {e}"),
        None => format!("{from}, no external ID"),
    }
}

/// Who holds a suspension ("staff", "the directory", "both"), while the
/// person is suspended or was deleted from a suspension.
fn suspended_by(u: &UserRecord) -> Option<&'static str> {
    if !matches!(u.state, UserState::Suspended | UserState::Deleted) {
        return None;
    }
    match (u.holds.staff, u.holds.directory) {
        (true, true) => Some("both staff and the directory"),
        (true, false) => Some("staff"),
        (false, true) => Some("the directory"),
        (false, false) => None,
    }
}

/// Refresh Org Info for the menu: offered to roles `ops::directory::refresh`
/// serves (a manager), disabled with why when the person has no link.
fn refresh_item(session: &Session, u: &UserRecord) -> Option<manage::MenuAction> {
    if session.acting.require(crate::store::Role::Manager).is_err() || u.state == UserState::Expunged {
        return None;
    }
    let disabled = u.directory.is_none().then(|| manage::words("not_directory_linked").to_owned());
    let code = if disabled.is_some() { "not_directory_linked" } else { "" };
    Some(manage::MenuAction { verb: manage::REFRESH, label: "Refresh Org Info", disabled, code })
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
    Query(q): Query<RecordQuery>,
) -> Result<Response, UiError> {
    let Ok(id) = id.parse::<UserId>() else {
        return Err(UiError::not_found());
    };
    let mut tab = tab_of(&q);
    if tab == "history" && !ops::audit::readable(&session.acting) {
        tab = "credentials";
    }
    let notice = crate::ui::levels::person_notice(&session, q.done.as_deref(), &q.what, &q.seal);
    let done = done.checked(&session, id);
    show(&s, &session, id, tab, q.after, &done, None, notice, axum::http::StatusCode::OK).await
}

/// The record with the Access tab's refused form (`levels::person_access`).
pub async fn record(
    s: &AppState,
    session: &Session,
    id: UserId,
    refused: (String, crate::ui::levels::Typed),
    status: axum::http::StatusCode,
) -> Result<Response, UiError> {
    show(s, session, id, "access", None, &manage::Done::default(), Some(refused), None, status).await
}

#[allow(clippy::too_many_arguments)]
async fn show(
    s: &AppState,
    session: &Session,
    id: UserId,
    tab: &'static str,
    after: Option<i64>,
    done: &manage::Done,
    refused: Option<(String, crate::ui::levels::Typed)>,
    access_notice: Option<String>,
    status: axum::http::StatusCode,
) -> Result<Response, UiError> {
    let r = op(s, &session.acting, move |st, a| {
        let u = ops::users::get(st, a, id)?;
        let offered = ops::users::offered(st, a, id)?;
        let validity = ops::users::validity(st, &u);
        let audit = if tab == "history" { Some(ops::audit::of_person(st, a, id, after, HISTORY_ROWS)?) } else { None };
        let enrol = ops::readers::may_enrol(st, a, id).is_ok();
        let access = if tab == "access" { Some(crate::ui::levels::person_tab(st, a, id)?) } else { None };
        Ok(Record { u, offered, validity, audit, enrol, access })
    })
    .await?;
    let mut page = PersonPage::new(session, r, done, tab);
    page.access_notice = access_notice;
    if let (Some(t), Some((problem, typed))) = (page.access.as_mut(), refused) {
        t.problem = Some(problem);
        t.typed = typed;
    }
    Ok((status, html(&page)?).into_response())
}
