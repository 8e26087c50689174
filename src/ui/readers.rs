//! **Readers**: desk readers and OSDP devices with their live status
//! (`ops::readers::list`), and the live tap feed — taps on desk readers
//! only, never door passages (`ops::readers::desk_event`).
//!
//! The live parts come from one Server-Sent Events stream,
//! `GET /ui/readers/events` (the API's `desk_stream`, authenticated by the
//! session cookie and rechecked every couple of seconds): `readers` events
//! carry the reader table, `tap` and `unreadable` events a tapped card's
//! fragment — UID, card type and what enrolling it would do
//! (`ops::readers::card_status`). With `?user=ID` (the Enrol page) a card
//! that can be enrolled carries the **Confirm** form. Fragments are askama
//! templates (escaped), put in place by `assets/app.js` (`EventSource`). A
//! tapped card's holder is shown by user ID and state only.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::readers::{desk_stream, technology_of, unreadable_words};
use crate::api::{AppState, op};
use crate::domain::{Technology, Uid, UserId};
use crate::ops;
use crate::ops::readers::CardVerdict;
use crate::readers::{CardType, Published, ReaderEventKind, ReaderInfo, ReaderKind, ReaderStatus};
use crate::ui::error::UiError;
use crate::ui::session::{self, Session};
use crate::ui::{Nav, html};

/// Where the page lives (and the menu item points).
pub const HERE: &str = "/ui/readers";
/// The live stream.
pub const EVENTS: &str = "/ui/readers/events";

/// A reader in the table.
#[derive(Debug, Clone)]
pub struct ReaderLine {
    /// Its ID (the name its source reports).
    pub id: String,
    /// What kind, in words.
    pub kind: &'static str,
    /// Its status, in words.
    pub status: &'static str,
    /// Ready for a card (connected).
    pub ready: bool,
}

impl From<ReaderInfo> for ReaderLine {
    fn from(r: ReaderInfo) -> Self {
        Self {
            kind: match r.kind {
                ReaderKind::Pcsc => "Desk reader (PC/SC)",
                ReaderKind::Osdp => "OSDP device",
            },
            status: match r.status {
                ReaderStatus::Ready => "Ready",
                ReaderStatus::CardPresent => "Card on the reader",
                ReaderStatus::Unavailable => "Unavailable (reconnecting)",
            },
            ready: r.status != ReaderStatus::Unavailable,
            id: r.id,
        }
    }
}

/// The reader table alone (a `readers` event's data).
#[derive(askama::Template, Debug)]
#[template(path = "reader_list.html")]
pub struct ReaderList {
    /// The readers.
    pub readers: Vec<ReaderLine>,
}

/// The Confirm form under a tapped card that can be enrolled.
#[derive(Debug, Clone)]
pub struct ConfirmForm {
    /// The session's CSRF token.
    pub csrf: String,
    /// The person who receives the card.
    pub user: String,
}

/// A tapped card's fragment (a `tap` or `unreadable` event's data).
#[derive(askama::Template, Debug)]
#[template(path = "tap.html")]
pub struct TapFragment {
    /// The card.
    pub t: TapView,
}

/// A tapped (or typed) card and what enrolling it would do.
#[derive(Debug)]
pub struct TapView {
    /// The reader (empty when typed).
    pub reader: String,
    /// When it was read (shown in the office's zone).
    pub at: Option<crate::ui::time::Shown>,
    /// UID, when read.
    pub uid: String,
    /// Technology (`iso14443a`, …).
    pub technology: &'static str,
    /// Card type, in words.
    pub card_type: &'static str,
    /// What enrolling would do, in words.
    pub verdict: String,
    /// The refusal's stable code, if refused.
    pub code: &'static str,
    /// The holder's user ID, when held and shown.
    pub holder: String,
    /// The holder's state, when shown.
    pub holder_state: &'static str,
    /// The Confirm form, when the card can be enrolled for the page's person.
    pub confirm: Option<ConfirmForm>,
}

/// A card type in words.
#[must_use]
pub fn card_type_words(t: CardType) -> &'static str {
    match t {
        CardType::MifareClassic1k => "MIFARE Classic 1K",
        CardType::MifareClassic4k => "MIFARE Classic 4K",
        CardType::MifareUltralight => "MIFARE Ultralight",
        CardType::MifareMini => "MIFARE Mini",
        CardType::Desfire => "DESFire",
        CardType::Iso14443_4 => "ISO 14443-4 card",
        CardType::Other => "Other",
    }
}

impl TapView {
    /// A card with `uid` whose verdict is `v`; `confirm` is offered only
    /// when `ops` would enrol it.
    #[must_use]
    pub fn of(
        uid: &Uid,
        technology: Technology,
        card_type: &'static str,
        v: &CardVerdict,
        confirm: Option<ConfirmForm>,
    ) -> Self {
        let holder = v.holder.map(|h| h.to_string()).unwrap_or_default();
        let verdict = match (v.status, v.action) {
            ("new", "enroll") => "New card: Confirm enrols it.".to_owned(),
            ("in_stock", "recycle") => "In stock: Confirm recycles it.".to_owned(),
            ("held", _) if !holder.is_empty() => format!(
                "Held by person {holder} ({}): refused.",
                v.holder_state.map_or("", crate::domain::UserState::as_str)
            ),
            ("held", _) => "Held by someone outside your unit: refused.".to_owned(),
            ("retired", _) => "Retired (lost, stolen or destroyed): refused, it is never issued again.".to_owned(),
            (_, "refused") => "Refused: this card cannot be enrolled now.".to_owned(),
            _ => "Can be enrolled: Confirm enrols it.".to_owned(),
        };
        let refused = v.action == "refused";
        Self {
            reader: String::new(),
            at: None,
            uid: uid.to_string(),
            technology: technology.as_str(),
            card_type,
            verdict,
            code: v.code.unwrap_or(""),
            holder,
            holder_state: v.holder_state.map_or("", crate::domain::UserState::as_str),
            confirm: confirm.filter(|_| !refused),
        }
    }

    /// A card whose UID cannot be used (`random_uid`, …): always refused.
    #[must_use]
    pub fn unreadable(code: &'static str, card_type: &'static str) -> Self {
        let mut words = unreadable_words(code).to_owned();
        if let Some(f) = words.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        Self {
            reader: String::new(),
            at: None,
            uid: String::new(),
            technology: "",
            card_type,
            // A card that can never identify anyone is refused; a read that
            // failed is tried again.
            verdict: if matches!(code, "random_uid" | "uid_unavailable" | "unknown_format") {
                format!("{words}: refused.")
            } else {
                format!("{words}.")
            },
            code,
            holder: String::new(),
            holder_state: "",
            confirm: None,
        }
    }
}

/// The Readers page.
#[derive(askama::Template)]
#[template(path = "readers.html")]
pub struct ReadersPage {
    /// The header.
    pub nav: Nav,
    /// The readers.
    pub readers: Vec<ReaderLine>,
    /// The live tap feed is shown (the caller may watch taps).
    pub feed: bool,
}

redacted_debug!(ReadersPage);

/// `GET /ui/readers`.
pub async fn page(State(s): State<AppState>, session: Session) -> Result<Response, UiError> {
    let readers = op(&s, &session.acting, {
        let hub = s.readers.clone();
        move |_, a| ops::readers::list(&hub, a)
    })
    .await?;
    let page = ReadersPage {
        nav: Nav::new(&session, HERE),
        readers: readers.into_iter().map(ReaderLine::from).collect(),
        feed: ops::readers::may_watch_taps(&session.acting).is_ok(),
    };
    Ok(html(&page)?.into_response())
}

/// The stream's query.
#[derive(Deserialize, Default)]
pub struct EventsQuery {
    /// Only this reader's events.
    pub reader: Option<String>,
    /// The Enrol page's person: enrollable taps carry the Confirm form.
    pub user: Option<String>,
}

redacted_debug!(EventsQuery);

/// Renders a fragment as an SSE event.
fn fragment<T: askama::Template>(kind: &'static str, seq: u64, t: &T) -> Event {
    match t.render() {
        Ok(h) => Event::default().event(kind).id(seq.to_string()).data(h),
        Err(_) => Event::default().event("error").data("the event could not be shown"),
    }
}

/// What the stream's events need besides the event.
struct Ctx {
    /// Taps are shown (the caller may watch them).
    taps: bool,
    /// Desk readers only (the Enrol page) or every reader (Readers).
    desk_only: bool,
    /// The Enrol page's Confirm form.
    confirm: Option<ConfirmForm>,
}

async fn readers_now(s: &AppState, acting: &crate::ops::Acting, desk_only: bool) -> Option<Vec<ReaderLine>> {
    let hub = s.readers.clone();
    let list =
        op(
            s,
            acting,
            move |_, a| {
                if desk_only { ops::readers::enrol_readers(&hub, a) } else { ops::readers::list(&hub, a) }
            },
        )
        .await
        .ok()?;
    Some(list.into_iter().map(ReaderLine::from).collect())
}

async fn render(s: AppState, acting: crate::ops::Acting, p: Arc<Published>, ctx: Arc<Ctx>) -> Option<Event> {
    let e = &p.event;
    let mut view = match &e.kind {
        ReaderEventKind::Tap { uid, card_type, raw } if ctx.taps => {
            let (uid, technology) = (*uid, technology_of(raw.as_deref()));
            let v = op(&s, &acting, move |st, a| ops::readers::card_status(st, a, technology, &uid)).await.ok()?;
            TapView::of(&uid, technology, card_type_words(*card_type), &v, ctx.confirm.clone())
        }
        ReaderEventKind::Unreadable { code, card_type } if ctx.taps => {
            TapView::unreadable(code, card_type.map_or("Unknown", card_type_words))
        }
        ReaderEventKind::Tap { .. } | ReaderEventKind::Unreadable { .. } => return None,
        _ => {
            let readers = readers_now(&s, &acting, ctx.desk_only).await?;
            return Some(fragment("readers", p.seq, &ReaderList { readers }));
        }
    };
    view.reader.clone_from(&e.reader);
    view.at = Some(crate::ui::time::Shown(e.at));
    let kind = if view.uid.is_empty() { "unreadable" } else { "tap" };
    Some(fragment(kind, p.seq, &TapFragment { t: view }))
}

/// `GET /ui/readers/events[?reader=…][&user=…]`: the live stream (Viewer
/// and above see reader status; taps are for those `ops` lets watch them).
pub async fn events(
    State(s): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Result<Response, UiError> {
    let acting = session.acting.clone();
    let hub = s.readers.clone();
    op(&s, &acting, move |_, a| ops::readers::list(&hub, a).map(drop)).await?;
    let confirm = match q.user.as_deref().map(str::parse::<UserId>) {
        None => None,
        Some(Err(_)) => return Err(UiError::not_found()),
        Some(Ok(user)) => {
            op(&s, &acting, move |st, a| ops::readers::may_enrol(st, a, user)).await?;
            Some(ConfirmForm { csrf: hex::encode(session.csrf), user: user.to_string() })
        }
    };
    let ctx =
        Arc::new(Ctx { taps: ops::readers::may_watch_taps(&acting).is_ok(), desk_only: confirm.is_some(), confirm });
    let secret = session::secret(&s, &headers).ok_or_else(|| UiError::sign_in(crate::ui::Hx { partial: false }))?;
    let still = move |s: &AppState, a: &crate::ops::Acting| ops::sessions::still_live(&s.store, &secret, a);
    let render = move |s: AppState, a: crate::ops::Acting, p: Arc<Published>| render(s, a, p, ctx.clone());
    let stream = desk_stream(s, acting, q.reader, still, render);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}
