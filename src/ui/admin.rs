//! **Administration**: operators, door controllers and their tokens —
//! list, add, disable / enable, reset an operator's password, rotate a
//! controller's token (with the overlap of `ops::access`: the old token
//! keeps working for a while, or is revoked at once), revoke tokens; and
//! the live web UI sessions, each of which can be ended. Every action goes
//! through the same `ops::access` functions as the admin API (and
//! `ops::sessions` for sessions), which hold who may (admins without an
//! org unit).
//!
//! Disable, revoke, rotate, ending a session and a password reset are
//! confirmations: `GET /ui/admin/{kind}/{id}/{action}` is a full page
//! without htmx, or, for htmx, the `<dialog>`'s content; its form posts (through [`Posted`]) to
//! the same path. What ends or changes access answers `303` (PRG) to the
//! page with a notice the store bears out. What issues a secret — a new
//! operator's or a reset password, a new controller's or a rotated token —
//! answers the page that shows it, once: it is never put in a URL, stored
//! or shown again.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::{AppState, op};
use crate::domain::Timestamp;
use crate::ops::access::{self, RevokeTarget};
use crate::store::Role;
use crate::store::auth::{ControllerRecord, OperatorRecord, TokenFilter, TokenRecord, TokenState};
use crate::store::events::Contact;
use crate::store::sessions::SessionRecord;
use crate::ui::csrf::{Posted, seal};
use crate::ui::error::UiError;
use crate::ui::manage::redirect;
use crate::ui::session::Session;
use crate::ui::{Hx, Nav, html};

/// Where the page lives.
pub const HERE: &str = "/ui/admin";

/// Tokens per page.
pub const PAGE_TOKENS: u32 = 100;

/// The rotation overlaps offered, in seconds, with their words (0: now).
pub const OVERLAPS: &[(i64, &str)] = &[
    (access::DEFAULT_OVERLAP_SECS, "24 hours (the default)"),
    (12 * 3600, "12 hours"),
    (3600, "1 hour"),
    (0, "None: revoke the old token now (it was compromised)"),
];

/// An action on an operator, a controller or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Act {
    OperatorDisable(String),
    OperatorEnable(String),
    OperatorPassword(String),
    ControllerDisable(i64),
    ControllerEnable(i64),
    ControllerRotate(i64),
    ControllerRevoke(i64),
    TokenRevoke(i64),
    SessionRevoke(i64),
}

impl Act {
    /// `/ui/admin/{kind}/{id}/{action}`.
    fn parse(kind: &str, id: &str, action: &str) -> Option<Self> {
        let num = || id.parse::<i64>().ok().filter(|n| *n > 0);
        let name = || (!id.is_empty() && id.len() <= 200).then(|| id.to_owned());
        Some(match (kind, action) {
            ("operators", "disable") => Self::OperatorDisable(name()?),
            ("operators", "enable") => Self::OperatorEnable(name()?),
            ("operators", "password") => Self::OperatorPassword(name()?),
            ("controllers", "disable") => Self::ControllerDisable(num()?),
            ("controllers", "enable") => Self::ControllerEnable(num()?),
            ("controllers", "rotate") => Self::ControllerRotate(num()?),
            ("controllers", "revoke") => Self::ControllerRevoke(num()?),
            ("tokens", "revoke") => Self::TokenRevoke(num()?),
            ("sessions", "revoke") => Self::SessionRevoke(num()?),
            _ => return None,
        })
    }

    /// Who it is about, as shown and in the path.
    fn who(&self) -> String {
        match self {
            Self::OperatorDisable(n) | Self::OperatorEnable(n) | Self::OperatorPassword(n) => n.clone(),
            Self::ControllerDisable(i)
            | Self::ControllerEnable(i)
            | Self::ControllerRotate(i)
            | Self::ControllerRevoke(i)
            | Self::TokenRevoke(i)
            | Self::SessionRevoke(i) => i.to_string(),
        }
    }

    /// `kind/action`, the path's tail and the notice's key.
    fn path(&self) -> (&'static str, &'static str) {
        match self {
            Self::OperatorDisable(_) => ("operators", "disable"),
            Self::OperatorEnable(_) => ("operators", "enable"),
            Self::OperatorPassword(_) => ("operators", "password"),
            Self::ControllerDisable(_) => ("controllers", "disable"),
            Self::ControllerEnable(_) => ("controllers", "enable"),
            Self::ControllerRotate(_) => ("controllers", "rotate"),
            Self::ControllerRevoke(_) => ("controllers", "revoke"),
            Self::TokenRevoke(_) => ("tokens", "revoke"),
            Self::SessionRevoke(_) => ("sessions", "revoke"),
        }
    }

    /// The heading, what it does, and the confirming button.
    fn words(&self) -> (String, &'static str, &'static str) {
        let who = self.who();
        match self {
            Self::OperatorDisable(_) => (
                format!("Disable operator {who}"),
                "They are signed out at once and cannot sign in, and every token of theirs is refused, \
                 until an admin enables them. Nothing is deleted.",
                "Disable",
            ),
            Self::OperatorEnable(_) => (
                format!("Enable operator {who}"),
                "They can sign in again; their unrevoked, unexpired tokens work again. Sessions that \
                 ended when they were disabled stay ended.",
                "Enable",
            ),
            Self::OperatorPassword(_) => (
                format!("Reset the password of operator {who}"),
                "Their sessions end. Type a new password of at least 10 characters, or leave it empty to \
                 have one generated; it is shown once.",
                "Reset password",
            ),
            Self::ControllerDisable(_) => (
                format!("Disable controller {who}"),
                "Every token of this door controller is refused until an admin enables it: its doors get \
                 no online decisions.",
                "Disable",
            ),
            Self::ControllerEnable(_) => {
                (format!("Enable controller {who}"), "Its unrevoked, unexpired tokens work again.", "Enable")
            }
            Self::ControllerRotate(_) => (
                format!("Rotate the token of controller {who}"),
                "A new token is issued and shown once. The old token keeps working for the overlap chosen, \
                 so the controller can be given the new one without going dark.",
                "Rotate token",
            ),
            Self::ControllerRevoke(_) => (
                format!("Revoke the tokens of controller {who}"),
                "Every token of this door controller stops working now and never works again; it needs a \
                 rotated token to ask for decisions.",
                "Revoke tokens",
            ),
            Self::TokenRevoke(_) => {
                (format!("Revoke token {who}"), "The token stops working now and never works again.", "Revoke token")
            }
            Self::SessionRevoke(_) => (
                format!("End session {who}"),
                "Its operator is signed out of that browser at once; they can sign in again.",
                "End session",
            ),
        }
    }
}

/// Plain words for a refusal of an admin action.
fn refusal_words(code: &str) -> &'static str {
    match code {
        "last_admin" => "This is the last enabled admin without an org unit: add or enable another first.",
        "not_found" => "There is no such operator, controller or token.",
        "forbidden" => "Your role does not allow this.",
        _ => "This cannot be done now.",
    }
}

/// The page's query string.
#[derive(Deserialize, Default, Debug)]
pub struct AdminParams {
    /// `kind.action` after a change.
    pub done: Option<String>,
    /// Whom it was about.
    #[serde(default)]
    pub who: String,
    /// Tokens after this ID (paging).
    pub after: Option<i64>,
    /// Include revoked and expired tokens (a checkbox).
    pub all: Option<String>,
    /// An ended session's seal (`ui::csrf::seal`).
    #[serde(default)]
    pub seal: String,
}

/// What the seal of an ended session's notice covers.
fn ended_facts(who: &str) -> String {
    format!("sessions.revoke:{who}")
}

/// An operator as listed.
#[derive(Debug)]
pub struct OperatorLine {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: &'static str,
    /// Org unit ("" for every unit).
    pub unit: String,
    /// Whether a password is set.
    pub password: bool,
    /// Added (UTC).
    pub created: crate::ui::time::Shown,
    /// Disabled.
    pub disabled: bool,
}

impl From<OperatorRecord> for OperatorLine {
    fn from(o: OperatorRecord) -> Self {
        Self {
            name: o.name,
            role: o.role.as_str(),
            unit: o.org_unit.unwrap_or_default(),
            password: o.password,
            created: crate::ui::time::Shown(o.created_at),
            disabled: o.disabled_at.is_some(),
        }
    }
}

/// A controller as listed.
#[derive(Debug)]
pub struct ControllerLine {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Its doors, comma-separated.
    pub doors: String,
    /// Added (UTC).
    pub created: crate::ui::time::Shown,
    /// Disabled.
    pub disabled: bool,
    /// Its last request to a door route ("never").
    pub last_contact: crate::ui::time::ShownOr,
    /// Its clock in words (`in step`, `12 min ahead`, `not measured`).
    pub clock: String,
    /// When the skew was measured.
    pub measured: Option<crate::ui::time::Shown>,
    /// Its clock is so far ahead that its offline events are flagged `clock_ahead`.
    pub flagged: bool,
}

impl From<(ControllerRecord, Option<Contact>)> for ControllerLine {
    fn from((c, contact): (ControllerRecord, Option<Contact>)) -> Self {
        let upload = contact.and_then(|k| k.upload);
        let skew = upload.and_then(|u| u.skew_secs);
        Self {
            id: c.id,
            name: c.name,
            doors: c.doors.join(", "),
            created: crate::ui::time::Shown(c.created_at),
            disabled: c.disabled_at.is_some(),
            last_contact: crate::ui::time::ShownOr::new(contact.and_then(|k| k.last_contact), "never"),
            clock: crate::ui::time::skew_words(skew),
            measured: crate::ui::time::Shown::opt(upload.and_then(|u| u.skew_at)),
            flagged: skew.is_some_and(access::clock_flagged),
        }
    }
}

/// A token as listed (never its secret).
#[derive(Debug)]
pub struct TokenLine {
    /// ID.
    pub id: i64,
    /// `operator` or `controller`.
    pub kind: &'static str,
    /// The operator's login name or the controller's name.
    pub owner: String,
    /// `login`, `cli` or `controller`.
    pub label: String,
    /// Issued (UTC).
    pub created: crate::ui::time::Shown,
    /// Expires (UTC; "never").
    pub expires: crate::ui::time::ShownOr,
    /// `active`, `owner_disabled`, `expired` or `revoked`.
    pub state: &'static str,
    /// Not revoked or expired: can be revoked.
    pub revocable: bool,
}

impl From<TokenRecord> for TokenLine {
    fn from(t: TokenRecord) -> Self {
        Self {
            id: t.id,
            kind: if t.controller_id.is_some() { "controller" } else { "operator" },
            owner: t.owner,
            label: t.label,
            created: crate::ui::time::Shown(t.created_at),
            expires: crate::ui::time::ShownOr::new(t.expires_at, "never"),
            state: t.state.as_str(),
            revocable: matches!(t.state, TokenState::Active | TokenState::OwnerDisabled),
        }
    }
}

/// A live web UI session as listed.
#[derive(Debug)]
pub struct SessionLine {
    /// ID.
    pub id: i64,
    /// The operator's login name.
    pub operator: String,
    /// The role at sign-in.
    pub role: String,
    /// Signed in (UTC).
    pub created: crate::ui::time::Shown,
    /// Last request (UTC, to the minute).
    pub seen: crate::ui::time::Shown,
    /// Ends at the latest (UTC).
    pub expires: crate::ui::time::ShownOr,
}

impl From<SessionRecord> for SessionLine {
    fn from(s: SessionRecord) -> Self {
        Self {
            id: s.id,
            operator: s.operator,
            role: s.role,
            created: crate::ui::time::Shown(s.created_at),
            seen: crate::ui::time::Shown(s.last_seen_at),
            expires: crate::ui::time::ShownOr::new(Some(s.expires_at), ""),
        }
    }
}

/// What was typed into an add form (shown again after a refusal; never a password).
#[derive(Debug, Default)]
pub struct Typed {
    /// Name.
    pub name: String,
    /// Role (operators).
    pub role: String,
    /// Org unit (operators) or doors (controllers).
    pub extra: String,
    /// Why it was refused.
    pub problem: Option<String>,
}

/// The Administration page.
#[derive(askama::Template)]
#[template(path = "admin.html")]
pub struct AdminPage {
    /// The header.
    pub nav: Nav,
    /// The notice after a change.
    pub notice: Option<String>,
    /// Operators.
    pub operators: Vec<OperatorLine>,
    /// Controllers.
    pub controllers: Vec<ControllerLine>,
    /// Tokens of this page.
    pub tokens: Vec<TokenLine>,
    /// Live web UI sessions.
    pub sessions: Vec<SessionLine>,
    /// The caller's own session.
    pub current: i64,
    /// Revoked and expired tokens are listed too.
    pub all: bool,
    /// This page starts after a token.
    pub after: Option<i64>,
    /// The next page starts after this token.
    pub next: Option<i64>,
    /// The roles (for Add operator).
    pub roles: Vec<&'static str>,
    /// The add-operator form as typed.
    pub add_operator: Typed,
    /// The add-controller form as typed.
    pub add_controller: Typed,
}

impl std::fmt::Debug for AdminPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminPage").finish_non_exhaustive()
    }
}

/// A confirmation: the page (no htmx) or the dialog's content (htmx).
#[derive(askama::Template)]
#[template(path = "admin_confirm.html", blocks = ["dialog"])]
pub struct ConfirmPage {
    /// The header.
    pub nav: Nav,
    /// Where the form posts.
    pub action: String,
    /// The heading.
    pub title: String,
    /// What it does.
    pub explain: &'static str,
    /// The button.
    pub confirm: &'static str,
    /// Ask for a password (blank: generated).
    pub password: bool,
    /// Ask for the rotation's overlap.
    pub overlaps: Vec<(i64, &'static str)>,
}

impl std::fmt::Debug for ConfirmPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfirmPage").finish_non_exhaustive()
    }
}

/// A secret shown once: a password or a token.
#[derive(askama::Template)]
#[template(path = "admin_secret.html")]
pub struct SecretPage {
    /// The header.
    pub nav: Nav,
    /// The heading.
    pub title: String,
    /// What happened, in sentences.
    pub lines: Vec<String>,
    /// What the secret is ("Password", "Token").
    pub label: &'static str,
    /// The secret.
    pub secret: String,
}

impl std::fmt::Debug for SecretPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Holds a password or a token: never printed.
        f.debug_struct("SecretPage").field("title", &self.title).finish_non_exhaustive()
    }
}

/// Everything the page lists, from `ops::access`.
struct Listed {
    operators: Vec<OperatorRecord>,
    controllers: Vec<(ControllerRecord, Option<Contact>)>,
    tokens: Vec<TokenRecord>,
    sessions: Vec<SessionRecord>,
}

async fn listed(s: &AppState, session: &Session, all: bool, after: Option<i64>) -> Result<Listed, UiError> {
    let filter = TokenFilter { operator: None, controller: None, active: !all, after, limit: PAGE_TOKENS + 1 };
    let state = s.clone();
    Ok(op(s, &session.acting, move |st, a| {
        Ok(Listed {
            operators: access::list_operators(st, a)?,
            controllers: access::list_controllers_with_contact(st, a, &state.events)?,
            tokens: access::list_tokens(st, a, &filter)?,
            sessions: crate::ops::sessions::list(st, a)?,
        })
    })
    .await?)
}

/// Whether the store bears out a revocation notice: token `who` is
/// revoked, or controller `who` has no working token left (other notices
/// are borne out by what the page lists).
async fn revoked(s: &AppState, session: &Session, done: Option<&str>, who: &str) -> bool {
    let Some(id) = who.parse::<i64>().ok().filter(|n| *n > 0) else {
        return false;
    };
    let filter = match done {
        Some("tokens.revoke") => TokenFilter { after: Some(id - 1), limit: 1, ..TokenFilter::default() },
        Some("controllers.revoke") => {
            TokenFilter { controller: Some(id), active: true, limit: 1, ..TokenFilter::default() }
        }
        _ => return false,
    };
    // A controller that does not exist has nothing revoked: no notice.
    let Ok(found) = op(s, &session.acting, move |st, a| access::list_tokens(st, a, &filter)).await else {
        return false;
    };
    match done {
        Some("tokens.revoke") => found.first().is_some_and(|t| t.id == id && t.state == TokenState::Revoked),
        _ => found.is_empty(),
    }
}

/// The notice for `done`/`who`, if what is listed (and, for a revocation,
/// [`revoked`]) bears it out.
fn notice(done: Option<&str>, who: &str, l: &Listed, revoked: bool, sealed: bool) -> Option<String> {
    let operator = |disabled: bool| l.operators.iter().any(|o| o.name == who && o.disabled_at.is_some() == disabled);
    let controller = |disabled: bool| {
        l.controllers.iter().any(|(c, _)| c.id.to_string() == who && c.disabled_at.is_some() == disabled)
    };
    Some(match done? {
        "operators.disable" if operator(true) => format!("Operator {who} was disabled and signed out."),
        "operators.enable" if operator(false) => format!("Operator {who} was enabled."),
        "controllers.disable" if controller(true) => format!("Controller {who} was disabled."),
        "controllers.enable" if controller(false) => format!("Controller {who} was enabled."),
        "controllers.revoke" if revoked && (controller(false) || controller(true)) => {
            format!("The tokens of controller {who} were revoked.")
        }
        "tokens.revoke" if revoked => format!("Token {who} was revoked."),
        "sessions.revoke" if sealed && !l.sessions.iter().any(|s| s.id.to_string() == who) => {
            format!("Session {who} was ended.")
        }
        _ => return None,
    })
}

fn render_page(session: &Session, l: Listed, p: &AdminParams, forms: (Typed, Typed), revoked: bool) -> AdminPage {
    let sealed = crate::ui::csrf::sealed(session, &ended_facts(&p.who), &p.seal);
    let notice = notice(p.done.as_deref(), &p.who, &l, revoked, sealed);
    let Listed { operators, controllers, mut tokens, sessions } = l;
    let more = tokens.len() > PAGE_TOKENS as usize;
    tokens.truncate(PAGE_TOKENS as usize);
    AdminPage {
        nav: Nav::new(session, HERE),
        notice,
        operators: operators.into_iter().map(OperatorLine::from).collect(),
        controllers: controllers.into_iter().map(ControllerLine::from).collect(),
        next: if more { tokens.last().map(|t| t.id) } else { None },
        tokens: tokens.into_iter().map(TokenLine::from).collect(),
        sessions: sessions.into_iter().map(SessionLine::from).collect(),
        current: session.id,
        all: p.all.is_some(),
        after: p.after,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        add_operator: forms.0,
        add_controller: forms.1,
    }
}

/// `GET /ui/admin`.
pub async fn page(
    State(s): State<AppState>,
    session: Session,
    Query(p): Query<AdminParams>,
) -> Result<Response, UiError> {
    let l = listed(&s, &session, p.all.is_some(), p.after).await?;
    let revoked = revoked(&s, &session, p.done.as_deref(), &p.who).await;
    let page = render_page(&session, l, &p, (Typed::default(), Typed::default()), revoked);
    Ok(html(&page)?.into_response())
}

/// A form's field, trimmed ("" when absent).
fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
}

/// The admin page again, with a refused add form's problem next to it (422).
async fn refused_form(
    s: &AppState,
    session: &Session,
    e: ApiError,
    forms: (Typed, Typed),
) -> Result<Response, UiError> {
    if e.status != StatusCode::BAD_REQUEST {
        return Err(e.into());
    }
    let l = listed(s, session, false, None).await?;
    let page = render_page(session, l, &AdminParams::default(), forms, false);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, html(&page)?).into_response())
}

/// The typed password, or a generated one when blank.
fn password_or_generated(typed: &str) -> Result<(String, bool), UiError> {
    if typed.is_empty() {
        Ok((access::generate_password().map_err(|_| UiError::internal())?, true))
    } else {
        Ok((typed.to_owned(), false))
    }
}

fn secret_page(session: &Session, title: String, lines: Vec<String>, label: &'static str, secret: String) -> Response {
    let page = SecretPage { nav: Nav::new(session, HERE), title, lines, label, secret };
    match html(&page) {
        Ok(h) => h.into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /ui/admin/operators`: adds an operator (name, role, org unit,
/// password — generated when left blank), then shows the password once.
pub async fn add_operator(State(s): State<AppState>, p: Posted) -> Result<Response, UiError> {
    let (name, role, unit) =
        (field(&p.form, "name").to_owned(), field(&p.form, "role").to_owned(), field(&p.form, "org_unit").to_owned());
    // A password is taken as typed (spaces included), never trimmed.
    let typed = p.form.iter().find(|(k, _)| k == "password").map_or("", |(_, v)| v.as_str());
    let (password, generated) = password_or_generated(typed)?;
    let (n, r, u, pw) = (name.clone(), role.clone(), unit.clone(), password.clone());
    let added = op(&s, &p.session.acting, move |st, a| {
        access::add_operator(st, a, &n, &r, (!u.is_empty()).then_some(u.as_str()), &pw)
    })
    .await;
    match added {
        Ok(o) => {
            let scope = o.org_unit.map_or_else(|| "every unit".to_owned(), |u| format!("unit {u}"));
            let lines = vec![
                format!("Operator {} was added as {} for {scope}.", o.name, o.role),
                if generated {
                    "This generated password is shown only now: hand it to them safely.".into()
                } else {
                    "The password typed is shown only now: check it before handing it over.".into()
                },
            ];
            Ok(secret_page(&p.session, format!("Operator {} added", o.name), lines, "Password", password))
        }
        Err(e) => {
            let problem = Some(e.detail.clone());
            let typed = Typed { name, role, extra: unit, problem };
            refused_form(&s, &p.session, e, (typed, Typed::default())).await
        }
    }
}

/// `POST /ui/admin/controllers`: adds a door controller (name, doors), then
/// shows its token once.
pub async fn add_controller(State(s): State<AppState>, p: Posted) -> Result<Response, UiError> {
    let (name, doors_typed) = (field(&p.form, "name").to_owned(), field(&p.form, "doors").to_owned());
    let doors: Vec<String> =
        doors_typed.split([',', '\n']).map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned).collect();
    let n = name.clone();
    match op(&s, &p.session.acting, move |st, a| access::add_controller(st, a, &n, &doors)).await {
        Ok((c, token)) => {
            let lines = vec![
                format!("Controller {} ({}) was added for doors {}.", c.id, c.name, c.doors.join(", ")),
                "Its token is shown only now: configure the controller with it.".into(),
            ];
            Ok(secret_page(&p.session, format!("Controller {} added", c.name), lines, "Token", token))
        }
        Err(e) => {
            let typed = Typed { name, role: String::new(), extra: doors_typed, problem: Some(e.detail.clone()) };
            refused_form(&s, &p.session, e, (Typed::default(), typed)).await
        }
    }
}

/// `GET /ui/admin/{kind}/{id}/{action}`: the confirmation. The role is
/// asked of `ops` first (listing what it is about), so a refused caller
/// gets the 403 page, not a form.
pub async fn confirm(
    State(s): State<AppState>,
    session: Session,
    hx: Hx,
    Path((kind, id, action)): Path<(String, String, String)>,
) -> Result<Response, UiError> {
    let act = Act::parse(&kind, &id, &action).ok_or_else(UiError::not_found)?;
    op(&s, &session.acting, |st, a| access::list_controllers(st, a).map(|_| ())).await?;
    let (title, explain, confirm) = act.words();
    let (k, verb) = act.path();
    let page = ConfirmPage {
        nav: Nav::new(&session, HERE),
        action: format!("{HERE}/{k}/{}/{verb}", act.who()),
        title,
        explain,
        confirm,
        password: matches!(act, Act::OperatorPassword(_)),
        overlaps: if matches!(act, Act::ControllerRotate(_)) { OVERLAPS.to_vec() } else { Vec::new() },
    };
    let mut res = if hx.partial { html(&page.as_dialog())? } else { html(&page)? }.into_response();
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(res)
}

fn utc(t: Timestamp) -> String {
    t.to_string()
}

/// `POST /ui/admin/{kind}/{id}/{action}`: does it through `ops::access`.
pub async fn act(
    State(s): State<AppState>,
    hx: Hx,
    Path((kind, id, action)): Path<(String, String, String)>,
    p: Posted,
) -> Result<Response, UiError> {
    let act = Act::parse(&kind, &id, &action).ok_or_else(UiError::not_found)?;
    let acting = p.session.acting.clone();
    let done = |a: &Act| {
        let (k, verb) = a.path();
        let to = format!("{HERE}?done={k}.{verb}&who={}", a.who());
        // An ended session is no longer listed, which a made-up ID is not
        // either: that notice is sealed to this session.
        match a {
            Act::SessionRevoke(_) => format!("{to}&seal={}", seal(&p.session, &ended_facts(&a.who()))),
            _ => to,
        }
    };
    let outcome: Result<Response, ApiError> = match act.clone() {
        Act::OperatorDisable(n) => {
            op(&s, &acting, move |st, a| access::disable_operator(st, a, &n)).await.map(|_| redirect(hx, &done(&act)))
        }
        Act::OperatorEnable(n) => {
            op(&s, &acting, move |st, a| access::enable_operator(st, a, &n)).await.map(|_| redirect(hx, &done(&act)))
        }
        Act::ControllerDisable(i) => {
            op(&s, &acting, move |st, a| access::disable_controller(st, a, i)).await.map(|_| redirect(hx, &done(&act)))
        }
        Act::ControllerEnable(i) => {
            op(&s, &acting, move |st, a| access::enable_controller(st, a, i)).await.map(|_| redirect(hx, &done(&act)))
        }
        Act::ControllerRevoke(i) => {
            op(&s, &acting, move |st, a| access::revoke_tokens(st, a, &RevokeTarget::Controller(i)))
                .await
                .map(|_| redirect(hx, &done(&act)))
        }
        Act::TokenRevoke(i) => op(&s, &acting, move |st, a| access::revoke_tokens(st, a, &RevokeTarget::Id(i)))
            .await
            .map(|_| redirect(hx, &done(&act))),
        Act::SessionRevoke(i) => op(&s, &acting, move |st, a| crate::ops::sessions::revoke(st, a, i))
            .await
            .map(|()| redirect(hx, &done(&act))),
        Act::OperatorPassword(n) => {
            let typed = p.form.iter().find(|(k, _)| k == "password").map_or("", |(_, v)| v.as_str());
            let (password, generated) = password_or_generated(typed)?;
            let pw = password.clone();
            op(&s, &acting, move |st, a| access::set_password(st, a, &n, &pw)).await.map(|(o, _)| {
                let lines = vec![
                    format!("The password of operator {} was reset; their sessions ended.", o.name),
                    if generated {
                        "This generated password is shown only now: hand it to them safely.".into()
                    } else {
                        "The password typed is shown only now.".into()
                    },
                ];
                secret_page(&p.session, format!("Password of {} reset", o.name), lines, "Password", password)
            })
        }
        Act::ControllerRotate(i) => {
            let secs: i64 = field(&p.form, "overlap").parse().map_err(|_| UiError::bad_request())?;
            let (now, overlap) = if secs == 0 { (true, None) } else { (false, Some(secs)) };
            op(&s, &acting, move |st, a| access::rotate_controller_token(st, a, i, now, overlap)).await.map(|r| {
                let old = match (r.old_tokens, r.old_valid_until) {
                    (0, _) => "It had no working token before.".to_owned(),
                    (_, Some(until)) => {
                        format!("The old token keeps working until {} (UTC), then stops.", utc(until))
                    }
                    (_, None) => "The old token was revoked now.".to_owned(),
                };
                let lines = vec![
                    format!(
                        "Controller {} ({}) has a new token (ID {}).",
                        r.controller.id, r.controller.name, r.token.id
                    ),
                    old,
                    "The new token is shown only now: configure the controller with it.".into(),
                ];
                secret_page(
                    &p.session,
                    format!("Token of {} rotated", r.controller.name),
                    lines,
                    "Token",
                    r.token.secret,
                )
            })
        }
    };
    outcome.map_err(|mut e| {
        if e.status == StatusCode::CONFLICT || e.status == StatusCode::NOT_FOUND {
            e.detail = format!("{} ({})", refusal_words(e.code), e.detail);
        }
        UiError::from(e)
    })
}
