//! **Cards**: look up a UID (its holder, state and who held it when, as
//! `ops::credentials::get` allows), the stock of cards ready to recycle
//! (`ops::credentials::list`), and **Revoke** (lost / stolen / destroyed),
//! **Suspend** and **Resume** a card (`ops::credentials::act`, managers).
//!
//! Each action is a confirmation: `GET /ui/cards/{uid}/{action}` is a full
//! page without htmx, or, for htmx, the `<dialog>`'s content. Its form posts
//! (through [`Posted`]) to the same path, which answers `303` (or
//! `HX-Redirect`) to the look-up with a notice the card's state bears out.

use axum::extract::{Path, Query, State};
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::{AppState, op};
use crate::domain::{CredentialState, RetireReason, Technology, Uid};
use crate::ops;
use crate::ops::credentials::CardAction;
use crate::store::{CredentialRecord, Role};
use crate::ui::csrf::Posted;
use crate::ui::error::UiError;
use crate::ui::manage::{self, words};
use crate::ui::pages::PAGE_ROWS;
use crate::ui::session::Session;
use crate::ui::{Hx, Nav, html};

/// Where the page lives (and the menu item points).
pub const HERE: &str = "/ui/cards";

/// The look-up's query, and the notice after an action.
#[derive(Deserialize, Default, Debug)]
pub struct CardsQuery {
    /// The UID typed.
    #[serde(default)]
    pub uid: String,
    /// Its technology, when the UID exists under several.
    #[serde(default)]
    pub technology: String,
    /// The action done.
    pub done: Option<String>,
}

/// A card in a table.
#[derive(Debug)]
pub struct CardLine {
    /// Technology.
    pub technology: &'static str,
    /// UID.
    pub uid: String,
    /// State.
    pub state: &'static str,
    /// Holder's user ID (empty when none).
    pub holder: String,
    /// Last changed (UTC).
    pub updated: crate::ui::time::Shown,
}

/// Who held the card, when.
#[derive(Debug)]
pub struct BindingLine {
    /// User ID.
    pub user: String,
    /// From (UTC).
    pub from: crate::ui::time::Shown,
    /// Until (UTC), empty while held.
    pub until: crate::ui::time::ShownOr,
    /// Why it ended.
    pub why: String,
}

/// An action offered on a card.
#[derive(Debug)]
pub struct ActionLink {
    /// The path segment.
    pub verb: &'static str,
    /// What staff see.
    pub label: &'static str,
}

/// The card looked up.
#[derive(Debug)]
pub struct CardView {
    /// The card.
    pub line: CardLine,
    /// The holder's state, when held.
    pub holder_state: &'static str,
    /// Every binding, newest first.
    pub bindings: Vec<BindingLine>,
    /// Actions the caller may take on it now.
    pub actions: Vec<ActionLink>,
}

/// The Cards page.
#[derive(askama::Template)]
#[template(path = "cards.html")]
pub struct CardsPage {
    /// The header.
    pub nav: Nav,
    /// The UID typed.
    pub uid: String,
    /// The card found.
    pub card: Option<CardView>,
    /// Why the look-up found nothing: words and code.
    pub problem: Option<(String, &'static str)>,
    /// The notice after an action.
    pub notice: Option<String>,
    /// Cards in stock, ready to recycle.
    pub stock: Vec<CardLine>,
    /// More in stock than shown.
    pub more: bool,
}

redacted_debug!(CardsPage);

/// A card action's confirmation: the page (no htmx) or the dialog's content.
#[derive(askama::Template)]
#[template(path = "card_action.html", blocks = ["dialog"])]
pub struct CardConfirm {
    /// The header.
    pub nav: Nav,
    /// The card.
    pub uid: String,
    /// Its technology.
    pub technology: &'static str,
    /// The path segment.
    pub verb: &'static str,
    /// The heading.
    pub title: &'static str,
    /// What the action does.
    pub explain: &'static str,
    /// The button.
    pub confirm: &'static str,
    /// Revoke: ask why.
    pub reasons: bool,
}

redacted_debug!(CardConfirm);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    Revoke,
    Suspend,
    Resume,
}

impl Verb {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "revoke" => Some(Self::Revoke),
            "suspend" => Some(Self::Suspend),
            "resume" => Some(Self::Resume),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Revoke => "revoke",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Revoke => "Revoke",
            Self::Suspend => "Suspend",
            Self::Resume => "Resume",
        }
    }

    fn confirm(self) -> &'static str {
        match self {
            Self::Revoke => "Revoke Card",
            Self::Suspend => "Suspend Card",
            Self::Resume => "Resume Card",
        }
    }

    fn explain(self) -> &'static str {
        match self {
            Self::Revoke => {
                "A revoked card is retired for good: it opens no door and is never issued again. The holder keeps \
                 their other cards."
            }
            Self::Suspend => "A suspended card opens no door until it is resumed; its holder keeps it.",
            Self::Resume => "The card opens its holder's doors again.",
        }
    }

    /// Offered on a card in `state`.
    fn applies(self, state: CredentialState, held: bool) -> bool {
        match self {
            Self::Revoke => !state.is_retired(),
            Self::Suspend => held && state == CredentialState::Issued,
            Self::Resume => held && state == CredentialState::Suspended,
        }
    }

    /// Whether a card in `state` bears out that this was done.
    fn done(self, state: CredentialState) -> bool {
        match self {
            Self::Revoke => state.is_retired(),
            Self::Suspend => state == CredentialState::Suspended,
            Self::Resume => state == CredentialState::Issued,
        }
    }
}

/// Plain words for a refused card action or look-up.
#[must_use]
pub fn card_words(code: &str) -> &'static str {
    match code {
        "not_found" => "No card with this UID is in your reach.",
        "invalid_uid" | "invalid_input" => "That is not a UID: type its bytes in hex, e.g. 04A1B2C3.",
        "credential_retired" => "This card is retired already.",
        other => words(other),
    }
}

fn line(
    technology: Technology,
    uid: &Uid,
    state: CredentialState,
    holder: Option<crate::domain::UserId>,
    updated: crate::domain::Timestamp,
) -> CardLine {
    CardLine {
        technology: technology.as_str(),
        uid: uid.to_string(),
        state: state.as_str(),
        holder: holder.map(|h| h.to_string()).unwrap_or_default(),
        updated: crate::ui::time::Shown(updated),
    }
}

fn view(c: CredentialRecord, manager: bool) -> CardView {
    let actions = [Verb::Revoke, Verb::Suspend, Verb::Resume]
        .into_iter()
        .filter(|v| manager && v.applies(c.state, c.holder.is_some()))
        .map(|v| ActionLink { verb: v.as_str(), label: v.label() })
        .collect();
    CardView {
        line: line(c.technology, &c.uid, c.state, c.holder, c.updated_at),
        holder_state: c.holder_state.map_or("", crate::domain::UserState::as_str),
        bindings: c
            .bindings
            .into_iter()
            .map(|b| BindingLine {
                user: b.user_id.to_string(),
                from: crate::ui::time::Shown(b.opened_at),
                until: crate::ui::time::ShownOr::new(b.closed_at, ""),
                why: b.close_reason.unwrap_or_default(),
            })
            .collect(),
        actions,
    }
}

/// A card's UID and optional technology as a form gives them.
pub(super) fn parse_card(uid: &str, technology: &str) -> Result<(Option<Technology>, Uid), ApiError> {
    let t = technology.trim();
    let t = if t.is_empty() { None } else { Some(Technology::from_name(t)?) };
    let uid = match t {
        Some(t) => Uid::parse_for(t, uid)?,
        None => Uid::parse_any(uid)?,
    };
    Ok((t, uid))
}

/// `GET /ui/cards[?uid=…&technology=…][&done=…]`.
pub async fn page(
    State(s): State<AppState>,
    session: Session,
    Query(q): Query<CardsQuery>,
) -> Result<Response, UiError> {
    let mut stock = op(&s, &session.acting, move |st, a| {
        ops::credentials::list(st, a, Some(CredentialState::InStock), PAGE_ROWS + 1)
    })
    .await?;
    let more = stock.len() > PAGE_ROWS as usize;
    stock.truncate(PAGE_ROWS as usize);
    let manager = session.acting.require(Role::Manager).is_ok();
    let (mut card, mut problem, mut notice) = (None, None, None);
    if !q.uid.trim().is_empty() {
        let found = match parse_card(&q.uid, &q.technology) {
            Ok((t, uid)) => op(&s, &session.acting, move |st, a| ops::credentials::get(st, a, t, &uid)).await,
            Err(e) => Err(e),
        };
        match found {
            Ok(c) => {
                notice = q.done.as_deref().and_then(Verb::parse).filter(|v| v.done(c.state)).map(|v| {
                    let did = match v {
                        Verb::Revoke => format!("revoked ({})", c.state),
                        Verb::Suspend => "suspended".into(),
                        Verb::Resume => "resumed".into(),
                    };
                    format!("Card {} was {did}.", c.uid)
                });
                card = Some(view(c, manager));
            }
            Err(e) if matches!(e.code, "not_found" | "invalid_uid" | "invalid_input") => {
                problem = Some((card_words(e.code).to_owned(), e.code));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let page = CardsPage {
        nav: Nav::new(&session, HERE),
        uid: q.uid,
        card,
        problem,
        notice,
        stock: stock.into_iter().map(|c| line(c.technology, &c.uid, c.state, c.holder, c.updated_at)).collect(),
        more,
    };
    Ok(html(&page)?.into_response())
}

/// The technology in a query or form.
#[derive(Deserialize, Default, Debug)]
pub struct TechQuery {
    /// `iso14443a`, `em4100` or `other`.
    #[serde(default)]
    pub technology: String,
}

/// `GET /ui/cards/{uid}/{action}`: the confirmation, for who may act on
/// the card (`ops::credentials::may_act`; a viewer gets the 403 page).
pub async fn confirm_page(
    State(s): State<AppState>,
    session: Session,
    hx: Hx,
    Path((uid, verb)): Path<(String, String)>,
    Query(q): Query<TechQuery>,
) -> Result<Response, UiError> {
    let v = Verb::parse(&verb).ok_or_else(UiError::not_found)?;
    let (t, uid) = parse_card(&uid, &q.technology).map_err(UiError::from)?;
    let c = op(&s, &session.acting, move |st, a| ops::credentials::may_act(st, a, t, &uid)).await?;
    let page = CardConfirm {
        nav: Nav::new(&session, HERE),
        uid: c.uid.to_string(),
        technology: c.technology.as_str(),
        verb: v.as_str(),
        title: v.label(),
        explain: v.explain(),
        confirm: v.confirm(),
        reasons: v == Verb::Revoke,
    };
    let mut res = if hx.partial { html(&page.as_dialog())? } else { html(&page)? }.into_response();
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(res)
}

/// `POST /ui/cards/{uid}/{action}`: does it through `ops`, then back to
/// the look-up with a notice.
pub async fn act(
    State(s): State<AppState>,
    hx: Hx,
    Path((uid, verb)): Path<(String, String)>,
    p: Posted,
) -> Result<Response, UiError> {
    let v = Verb::parse(&verb).ok_or_else(UiError::not_found)?;
    let field = |k: &str| p.form.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let (t, uid) = parse_card(&uid, &field("technology")).map_err(UiError::from)?;
    let action = match v {
        Verb::Revoke => CardAction::Revoke(RetireReason::from_name(&field("reason")).map_err(ApiError::from)?),
        Verb::Suspend => CardAction::Suspend,
        Verb::Resume => CardAction::Resume,
    };
    let c = op(&s, &p.session.acting, move |st, a| ops::credentials::act(st, a, t, &uid, action)).await?;
    let to = format!("{HERE}?uid={}&technology={}&done={}", c.uid, c.technology.as_str(), v.as_str());
    Ok(manage::redirect(hx, &to))
}
