//! A person's **Manage** menu: Suspend / Resume, Delete, Restore,
//! Expunge - Permanent, and Refresh Org Info (`ops::directory::refresh`:
//! the person's entry pulled from the LDAP directory now; the outcome —
//! updated, unchanged, suspended — is the record's sealed notice). Which actions show, and which are disabled and why, is asked of
//! `ops::users::offered`; expunge's page shows `ops::users::expunge_preview`.
//!
//! Each action is a confirmation: `GET /ui/people/{id}/{action}` is a full
//! page without htmx, or, for htmx, the `<dialog>`'s content. Its form
//! posts (through [`Posted`]: session, CSRF, `Origin`) to the same path,
//! which calls `ops` and answers `303` to the record with a notice (PRG), or
//! `HX-Redirect` for htmx. Expunge sends the typed user ID, which `ops`
//! checks (`expunge_not_confirmed`).
//!
//! When `ops` refuses (a `409` conflict: say a legal hold placed meanwhile),
//! the refusal is shown inside the confirmation in plain words with its
//! code: for htmx the dialog's content again with the refusal's status;
//! without htmx a `303` back to the confirmation page with `?refused=code`
//! (PRG), which shows it for codes it knows.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::error::Refused;
use crate::api::{AppState, op};
use crate::domain::{LifecycleAction, UserId};
use crate::ops;
use crate::ops::users::Offered;
use crate::ui::csrf::Posted;
use crate::ui::error::UiError;
use crate::ui::session::Session;
use crate::ui::{Hx, Nav, html};

/// What staff see on the menu item (the reference documents' words).
#[must_use]
pub fn label(a: LifecycleAction) -> &'static str {
    match a {
        LifecycleAction::Suspend => "Suspend",
        LifecycleAction::Resume => "Resume",
        LifecycleAction::Delete => "Delete",
        LifecycleAction::Restore => "Restore",
        LifecycleAction::Expunge => "Expunge - Permanent",
    }
}

/// The confirmation button.
fn confirm_label(a: LifecycleAction) -> &'static str {
    match a {
        LifecycleAction::Suspend => "Suspend User",
        LifecycleAction::Resume => "Resume User",
        LifecycleAction::Delete => "Delete User",
        LifecycleAction::Restore => "Restore User",
        LifecycleAction::Expunge => "Expunge User",
    }
}

/// What the confirmation says the action does.
fn explain(a: LifecycleAction) -> &'static str {
    match a {
        LifecycleAction::Suspend => "A suspended person's cards open no door until they are resumed.",
        LifecycleAction::Resume => "The person's cards open their doors again.",
        LifecycleAction::Delete => {
            "A deleted person's cards open no door. The record is kept and can be restored, or expunged later."
        }
        LifecycleAction::Restore => "The person returns to the state they had before they were deleted.",
        LifecycleAction::Expunge => {
            "All of this person's personal information is permanently deleted and cannot be recovered. \
             Their user ID and history remain for audit purposes."
        }
    }
}

/// The action in a path (`suspend`, `resume`, `delete`, `restore`, `expunge`).
fn parse_action(s: &str) -> Option<LifecycleAction> {
    LifecycleAction::ALL.into_iter().find(|a| a.as_str() == s)
}

/// Plain words for a stable code, for staff (the code is shown beside them).
#[must_use]
pub fn words(code: &str) -> &'static str {
    match code {
        "legal_hold" => "Under legal hold: lift the hold before expunging.",
        "holder_not_deleted" => "Only a deleted person can be expunged: delete them first.",
        "already_expunged" => "This person has already been expunged.",
        "directory_linked" => "Linked to the identity directory: deprovision them there, or unlink them first.",
        "invalid_transition" => "Not possible in this person's present state.",
        "expunge_not_confirmed" => "The typed user ID did not match, so nothing was expunged.",
        "forbidden" => "Your role does not allow this.",
        "not_found" => "There is no such person.",
        "invalid_input" => "A field's value is not acceptable.",
        "busy" => "The service is busy: try again.",
        "not_directory_linked" => "Not linked to a directory entry: there is nothing to refresh from.",
        "directory_pull_unavailable" => {
            "The directory cannot be asked for this person: they are linked through SCIM (the directory pushes \
             changes), the directory released them, or no LDAP directory is configured."
        }
        "directory_unreachable" => "The directory could not be reached: try again later.",
        "directory_bind_failed" => "The directory refused the service's sign-in (bind): check its configuration.",
        "directory_tls" => "The secure connection to the directory failed: check its certificate.",
        "directory_search_failed" => "The directory could not look the entry up: try again later.",
        "directory_config" => "The directory's configuration is not usable: see the service's log.",
        _ => "This cannot be done now.",
    }
}

/// A Manage menu item.
pub struct MenuAction {
    /// The path segment (`delete`, …).
    pub verb: &'static str,
    /// What staff see.
    pub label: &'static str,
    /// Why it is disabled (plain words), when it is.
    pub disabled: Option<String>,
    /// The refusal's stable code, when disabled.
    pub code: &'static str,
}

redacted_debug!(MenuAction);

impl MenuAction {
    fn of(o: &Offered) -> Self {
        let (disabled, code) = match &o.refused {
            None => (None, ""),
            Some(e) => {
                let code = e.code();
                // An invalid transition's hint says why in this state.
                let why = match e {
                    crate::domain::DomainError::InvalidTransition { hint, .. } => capitalised(hint),
                    _ => words(code).to_string(),
                };
                (Some(why), code)
            }
        };
        Self { verb: o.action.as_str(), label: label(o.action), disabled, code }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect::<String>() + ".").unwrap_or_default()
}

/// The Manage menu for a person in state `state`: Suspend or Resume (the
/// one that applies), Delete, Restore, Expunge - Permanent, as far as the
/// caller's role allows (empty: no menu).
#[must_use]
pub fn menu(offered: &[Offered], suspended: bool) -> Vec<MenuAction> {
    offered
        .iter()
        .filter(|o| match o.action {
            LifecycleAction::Suspend => !suspended,
            LifecycleAction::Resume => suspended,
            _ => true,
        })
        .map(MenuAction::of)
        .collect()
}

/// A confirmation: the page (no htmx) or the dialog's content (htmx).
#[derive(askama::Template)]
#[template(path = "manage.html", blocks = ["dialog"])]
pub struct ConfirmPage {
    /// The header.
    pub nav: Nav,
    /// User ID.
    pub id: String,
    /// The path segment.
    pub verb: &'static str,
    /// The heading.
    pub title: &'static str,
    /// What the action does.
    pub explain: &'static str,
    /// The button.
    pub confirm: &'static str,
    /// Why it cannot be done now (plain words, code), if so.
    pub blocked: Option<(String, &'static str)>,
    /// Expunge only: the preview.
    pub expunge: Option<Preview>,
    /// Shown inside the `<dialog>` (htmx): the form posts through htmx.
    pub in_dialog: bool,
    /// The last attempt was refused: plain words and the code.
    pub refused: Option<(&'static str, String)>,
}

redacted_debug!(ConfirmPage);

/// The confirmation's query: a refusal to show after a plain post.
#[derive(Deserialize, Default)]
pub struct ConfirmQuery {
    /// The refusal's code.
    pub refused: Option<String>,
}

redacted_debug!(ConfirmQuery);

/// A refusal code worth showing (one [`words`] knows; the query may be forged).
fn known(code: &str) -> Option<(&'static str, String)> {
    let w = words(code);
    (w != words("")).then(|| (w, code.to_owned()))
}

/// What expunging destroys and keeps.
pub struct Preview {
    /// Personal fields destroyed (labels).
    pub destroys: Vec<&'static str>,
    /// Cards returned to stock.
    pub releases: Vec<String>,
    /// Retired cards that stay retired.
    pub keeps_retired: Vec<String>,
}

redacted_debug!(Preview);

fn field_label(f: &str) -> &'static str {
    match f {
        "given_name" => "Given name",
        "family_name" => "Family name",
        "email" => "Email",
        "phone" => "Phone",
        "employee_no" => "Employee number",
        "notes" => "Notes",
        "directory_link" => "Directory link",
        _ => "Other personal data",
    }
}

/// The Manage menu's path segment for Refresh Org Info.
pub const REFRESH: &str = "refresh";

/// What Refresh Org Info did, in words (`DirAction` names).
fn refreshed_words(outcome: &str) -> Option<&'static str> {
    Some(match outcome {
        "updated" => "their record was updated with the directory's values.",
        "unchanged" => "the directory holds nothing new for them.",
        "suspended" => "their entry is gone from the directory, so they were suspended.",
        "resumed" => "their entry is back, so the directory's suspension was lifted.",
        "deleted" => "the directory deleted them.",
        "skipped" => "the directory's entry was left alone.",
        _ => return None,
    })
}

/// Refresh Org Info's confirmation, or the refusal inside it.
async fn refresh_confirmation(
    session: &Session,
    hx: Hx,
    id: &str,
    refused: Option<(&'static str, String)>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let Ok(uid) = id.parse::<UserId>() else { return Err(UiError::not_found()) };
    let page = ConfirmPage {
        nav: Nav::new(session, ""),
        id: uid.to_string(),
        verb: REFRESH,
        title: "Refresh Org Info",
        explain: "Pulls this person's latest information from the linked directory now and applies it as a sync \
                  would: changed fields are updated, and an entry that is gone suspends them.",
        confirm: "Refresh Org Info",
        blocked: None,
        expunge: None,
        in_dialog: hx.partial,
        refused,
    };
    let mut res = if hx.partial { html(&page.as_dialog())? } else { html(&page)? }.into_response();
    *res.status_mut() = status;
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(res)
}

/// `POST /ui/people/{id}/refresh`: Refresh Org Info through `ops`, then the
/// record with the outcome; a refusal (no link, nothing to pull from, the
/// directory unreachable) inside the confirmation in words.
async fn refresh(s: &AppState, hx: Hx, id: &str, p: Posted) -> Result<Response, UiError> {
    let Ok(uid) = id.parse::<UserId>() else { return Err(UiError::not_found()) };
    let puller = s.directory.get().cloned();
    let done = op(s, &p.session.acting, move |st, a| ops::directory::refresh(st, a, uid, puller.as_deref())).await;
    match done {
        Ok((_, action)) => Ok(redirect(hx, &after_refresh(&p.session, uid, action.as_str()))),
        Err(e)
            if (e.status.is_client_error() || e.status == StatusCode::SERVICE_UNAVAILABLE)
                && ![StatusCode::NOT_FOUND, StatusCode::FORBIDDEN].contains(&e.status) =>
        {
            let refused = e.refused_actor.clone().map(|actor| Refused { actor, code: e.code });
            let mut res = if hx.partial {
                refresh_confirmation(&p.session, hx, id, Some((words(e.code), e.code.to_owned())), e.status).await?
            } else {
                redirect(hx, &format!("/ui/people/{uid}/{REFRESH}?refused={}", e.code))
            };
            if let Some(r) = refused {
                res.extensions_mut().insert(r);
            }
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

/// The record's address after Refresh Org Info did `outcome`, sealed for `session`.
#[must_use]
pub fn after_refresh(session: &Session, id: UserId, outcome: &str) -> String {
    let seal = crate::ui::csrf::seal(session, &facts(REFRESH, id, outcome));
    format!("/ui/people/{id}?done={REFRESH}&outcome={outcome}&seal={seal}")
}

fn parse(id: &str, verb: &str) -> Result<(UserId, LifecycleAction), UiError> {
    match (id.parse::<UserId>(), parse_action(verb)) {
        (Ok(id), Some(a)) => Ok((id, a)),
        _ => Err(UiError::not_found()),
    }
}

/// `GET /ui/people/{id}/{action}`: the confirmation.
pub async fn confirm_page(
    State(s): State<AppState>,
    session: Session,
    hx: Hx,
    Path((id, verb)): Path<(String, String)>,
    Query(q): Query<ConfirmQuery>,
) -> Result<Response, UiError> {
    let refused = q.refused.as_deref().and_then(known);
    if verb == REFRESH {
        return refresh_confirmation(&session, hx, &id, refused, StatusCode::OK).await;
    }
    confirmation(&s, &session, hx, &id, &verb, refused, StatusCode::OK).await
}

/// The confirmation, with a refusal to show (and its status) if any.
async fn confirmation(
    s: &AppState,
    session: &Session,
    hx: Hx,
    id: &str,
    verb: &str,
    refused: Option<(&'static str, String)>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let (uid, action) = parse(id, verb)?;
    let s = s.clone();
    let (blocked, expunge) = if action == LifecycleAction::Expunge {
        let p = op(&s, &session.acting, move |st, a| ops::users::expunge_preview(st, a, uid)).await?;
        let blocked = p.blocked_by.first().map(|c| (words(c).to_string(), *c));
        let preview = Preview {
            destroys: p.destroys.iter().map(|f| field_label(f)).collect(),
            releases: p.releases.iter().map(ToString::to_string).collect(),
            keeps_retired: p.keeps_retired.iter().map(ToString::to_string).collect(),
        };
        (blocked, Some(preview))
    } else {
        let o = op(&s, &session.acting, move |st, a| ops::users::offered_one(st, a, uid, action)).await?;
        let m = MenuAction::of(&o);
        (m.disabled.map(|w| (w, m.code)), None)
    };
    // What blocks the action now already says why: the same code is not said twice.
    let refused = refused.filter(|(_, code)| blocked.as_ref().is_none_or(|(_, b)| b != code));
    let page = ConfirmPage {
        nav: Nav::new(session, ""),
        id: uid.to_string(),
        verb: action.as_str(),
        title: label(action),
        explain: explain(action),
        confirm: confirm_label(action),
        blocked,
        expunge,
        in_dialog: hx.partial,
        refused,
    };
    let mut res = if hx.partial { html(&page.as_dialog())? } else { html(&page)? }.into_response();
    *res.status_mut() = status;
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(res)
}

/// `POST /ui/people/{id}/{action}`: does it through `ops`, then back to
/// the record with a notice.
pub async fn act(
    State(s): State<AppState>,
    hx: Hx,
    Path((id, verb)): Path<(String, String)>,
    p: Posted,
) -> Result<Response, UiError> {
    if verb == REFRESH {
        return refresh(&s, hx, &id, p).await;
    }
    let (uid, action) = parse(&id, &verb)?;
    let acting = p.session.acting.clone();
    let done = if action == LifecycleAction::Expunge {
        let confirm = p.form.iter().find(|(k, _)| k == "confirm").map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
        op(&s, &acting, move |st, a| {
            let preview = ops::users::expunge_preview(st, a, uid)?;
            ops::users::expunge(st, a, uid, &confirm)?;
            Ok(preview.releases)
        })
        .await
        .map(|released| {
            let released = released.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
            after(&p.session, uid, "expunge", &released)
        })
    } else {
        op(&s, &acting, move |st, a| ops::users::lifecycle(st, a, uid, action))
            .await
            .map(|_| format!("/ui/people/{uid}?done={}", action.as_str()))
    };
    match done {
        Ok(to) => Ok(redirect(hx, &to)),
        // Refused by a rule or a state (not the role: that is the 403
        // page): said inside the confirmation.
        Err(e) if e.status.is_client_error() && ![StatusCode::NOT_FOUND, StatusCode::FORBIDDEN].contains(&e.status) => {
            let refused = e.refused_actor.clone().map(|actor| Refused { actor, code: e.code });
            let mut res = if hx.partial {
                let shown = (words(e.code), e.code.to_owned());
                confirmation(&s, &p.session, hx, &id, &verb, Some(shown), e.status).await?
            } else {
                redirect(hx, &format!("/ui/people/{uid}/{}?refused={}", action.as_str(), e.code))
            };
            if let Some(r) = refused {
                res.extensions_mut().insert(r);
            }
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

/// After a change: `303` (PRG), or for htmx `HX-Redirect`.
pub fn redirect(hx: Hx, to: &str) -> Response {
    let Ok(v) = HeaderValue::from_str(to) else {
        return UiError::internal().into_response();
    };
    if hx.partial {
        (StatusCode::OK, [(HeaderName::from_static("hx-redirect"), v)]).into_response()
    } else {
        (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response()
    }
}

/// The record's query after an action: which notice to show.
#[derive(Deserialize, Default)]
pub struct Done {
    /// The action done.
    pub done: Option<String>,
    /// Expunge: the cards returned to stock (UIDs, comma-separated).
    pub released: Option<String>,
    /// Refresh Org Info: what it did (`updated`, `unchanged`, `suspended`, …).
    pub outcome: Option<String>,
    /// The seal (`ui::csrf::seal`) of what the record cannot bear out:
    /// that the person was just added or saved, and which cards an
    /// expunge released. Without it those are not shown.
    #[serde(default)]
    pub seal: String,
}

/// What the seal of a record's notice covers.
fn facts(done: &str, id: UserId, released: &str) -> String {
    format!("{done}:{id}:{released}")
}

/// The record's address after `done` (`added`, `saved`, `expunge` with the
/// cards it released), sealed for `session`.
#[must_use]
pub fn after(session: &Session, id: UserId, done: &str, released: &str) -> String {
    let seal = crate::ui::csrf::seal(session, &facts(done, id, released));
    let released = if released.is_empty() { String::new() } else { format!("&released={released}") };
    format!("/ui/people/{id}?done={done}{released}&seal={seal}")
}

impl Done {
    /// `self` without what the record cannot bear out unless `session`
    /// sealed it for `id`.
    #[must_use]
    pub fn checked(mut self, session: &Session, id: UserId) -> Self {
        let refresh = self.done.as_deref() == Some(REFRESH);
        let third = if refresh { self.outcome.as_deref() } else { self.released.as_deref() }.unwrap_or_default();
        let ok =
            self.done.as_deref().is_some_and(|d| crate::ui::csrf::sealed(session, &facts(d, id, third), &self.seal));
        if !ok {
            self.released = None;
            self.outcome = None;
            if matches!(self.done.as_deref(), Some("added" | "saved" | REFRESH)) {
                self.done = None;
            }
        }
        self
    }
}

redacted_debug!(Done);

/// The notice on the record after an action, if the record's state bears
/// it out (a forged link shows nothing misleading); only hex UIDs are kept.
#[must_use]
pub fn notice(done: &Done, id: UserId, state: crate::domain::UserState) -> Option<Notice> {
    use crate::domain::UserState as S;
    let text = match done.done.as_deref()? {
        "added" => Some(format!("Person {id} was added.")),
        "saved" => Some(format!("The changes to person {id} were saved.")),
        REFRESH => done
            .outcome
            .as_deref()
            .and_then(refreshed_words)
            .map(|w| format!("Org info of person {id} was refreshed from the directory: {w}")),
        _ => None,
    };
    if let Some(text) = text {
        return Some(Notice { text, expunged: false, released: Vec::new() });
    }
    let action = parse_action(done.done.as_deref()?)?;
    let fits = match action {
        LifecycleAction::Suspend => state == S::Suspended,
        LifecycleAction::Resume | LifecycleAction::Restore => matches!(state, S::Active | S::Suspended),
        LifecycleAction::Delete => state == S::Deleted,
        LifecycleAction::Expunge => state == S::Expunged,
    };
    if !fits {
        return None;
    }
    let text = match action {
        LifecycleAction::Suspend => format!("Person {id} was suspended."),
        LifecycleAction::Resume => format!("Person {id} was resumed."),
        LifecycleAction::Delete => format!("Person {id} was deleted. They can be restored, or expunged."),
        LifecycleAction::Restore => format!("Person {id} was restored."),
        LifecycleAction::Expunge => format!("Person {id} was expunged."),
    };
    let released = if action == LifecycleAction::Expunge {
        done.released
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter(|u| !u.is_empty() && u.len() <= 32 && u.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_owned)
            .collect()
    } else {
        Vec::new()
    };
    Some(Notice { text, expunged: action == LifecycleAction::Expunge, released })
}

/// A notice after an action.
#[derive(Debug)]
pub struct Notice {
    /// What was done.
    pub text: String,
    /// The action was an expunge.
    pub expunged: bool,
    /// Expunge: cards back in stock, ready to recycle.
    pub released: Vec<String>,
}
