//! **Enrol a card** for a person (`/ui/enrol?user=ID`, from the person's
//! record; enrollers and above, as `ops::readers::may_enrol` decides).
//!
//! Pick a desk reader (`ops::readers::enrol_readers`, status live), then
//! "Tap the card now": the tap arrives through the readers' event stream
//! (`ui::readers`, `?reader=…&user=…`) with its UID, card type and what
//! enrolling would do (`ops::readers::card_status`: new, in stock, held by
//! whom and in which state, retired, random UID). **Confirm** posts
//! (through [`Posted`]) to `/ui/enrol`, which calls
//! `ops::credentials::enroll` — the same function as the API's enrol
//! routes — and answers `303` back here with a notice. Typing a UID is the
//! fallback when no reader is at hand: the same verdict, the same Confirm.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::{AppState, op};
use crate::domain::{Technology, Uid, UserId};
use crate::ops;
use crate::ui::csrf::Posted;
use crate::ui::error::UiError;
use crate::ui::manage;
use crate::ui::readers::{ConfirmForm, ReaderLine, TapView};
use crate::ui::session::Session;
use crate::ui::{Hx, Nav, html};

/// Where the page lives.
pub const HERE: &str = "/ui/enrol";

/// The page's query (and, posted, the Confirm form).
#[derive(Deserialize, Default)]
pub struct EnrolQuery {
    /// The person.
    #[serde(default)]
    pub user: String,
    /// The desk reader chosen.
    pub reader: Option<String>,
    /// A typed UID (the fallback).
    #[serde(default)]
    pub uid: String,
    /// Its technology (default ISO 14443-A).
    #[serde(default)]
    pub technology: String,
    /// After Confirm: the UID enrolled.
    pub done: Option<String>,
}

redacted_debug!(EnrolQuery);

/// The Enrol a card page.
#[derive(askama::Template)]
#[template(path = "enrol.html")]
pub struct EnrolPage {
    /// The header.
    pub nav: Nav,
    /// The person's user ID.
    pub id: String,
    /// The person's name (or "Person ID").
    pub heading: String,
    /// Desk readers.
    pub readers: Vec<ReaderLine>,
    /// The reader whose taps are shown.
    pub reader: String,
    /// The typed UID.
    pub uid: String,
    /// Its technology.
    pub technology: String,
    /// The typed card's verdict.
    pub typed: Option<TapView>,
    /// Why the typed UID or the Confirm was refused: plain words and code.
    pub problem: Option<(String, &'static str)>,
    /// After Confirm: the card enrolled.
    pub done: Option<String>,
}

redacted_debug!(EnrolPage);

/// Plain words for a refused enrolment.
#[must_use]
pub fn enrol_words(code: &str) -> &'static str {
    match code {
        "credential_held" => "This card is held by someone else: they must give it back (or it is revoked) first.",
        "credential_held_elsewhere" => "This card is held by someone outside your unit.",
        "credential_retired" => "This card is retired (lost, stolen or destroyed) and is never issued again.",
        "holder_not_active" | "invalid_transition" => "This person cannot receive a card in their present state.",
        other => crate::ui::cards::card_words(other),
    }
}

fn person_id(s: &str) -> Result<UserId, UiError> {
    s.trim().parse().map_err(|_| UiError::not_found())
}

fn technology(s: &str) -> Result<Technology, ApiError> {
    let t = s.trim();
    Ok(if t.is_empty() { Technology::Iso14443a } else { Technology::from_name(t)? })
}

/// The page for `q`, with `problem` shown beside the UID.
async fn render(
    s: &AppState,
    session: &Session,
    q: EnrolQuery,
    mut problem: Option<(String, &'static str)>,
) -> Result<EnrolPage, UiError> {
    let user = person_id(&q.user)?;
    let hub = s.readers.clone();
    let (u, readers) = op(s, &session.acting, move |st, a| {
        ops::readers::may_enrol(st, a, user)?;
        Ok((ops::users::get(st, a, user)?, ops::readers::enrol_readers(&hub, a)?))
    })
    .await?;
    let readers: Vec<ReaderLine> = readers.into_iter().map(ReaderLine::from).collect();
    let reader = q
        .reader
        .filter(|r| readers.iter().any(|l| l.id == *r))
        .or_else(|| readers.iter().find(|l| l.ready).map(|l| l.id.clone()))
        .unwrap_or_default();
    let confirm = ConfirmForm { csrf: hex::encode(session.csrf), user: user.to_string() };
    let typed = if q.uid.trim().is_empty() || problem.is_some() {
        None
    } else {
        let parsed = technology(&q.technology).and_then(|t| Ok((t, Uid::parse_for(t, &q.uid)?)));
        match parsed {
            Err(e) => {
                problem = Some((enrol_words(e.code).to_owned(), e.code));
                None
            }
            Ok((t, uid)) => {
                let v = op(s, &session.acting, move |st, a| ops::readers::card_status(st, a, t, &uid)).await?;
                Some(TapView::of(&uid, t, "Not read (typed)", &v, Some(confirm)))
            }
        }
    };
    let done = match q.done {
        Some(d) => {
            let t = technology(&q.technology).unwrap_or(Technology::Iso14443a);
            match Uid::parse_for(t, &d) {
                Ok(uid) => op(s, &session.acting, move |st, a| ops::credentials::get(st, a, Some(t), &uid))
                    .await
                    .ok()
                    .filter(|c| c.holder == Some(user))
                    .map(|c| c.uid.to_string()),
                Err(_) => None,
            }
        }
        None => None,
    };
    Ok(EnrolPage {
        nav: Nav::new(session, ""),
        id: user.to_string(),
        heading: crate::ui::pages::heading(&u),
        readers,
        reader,
        uid: q.uid,
        technology: q.technology,
        typed,
        problem,
        done,
    })
}

/// `GET /ui/enrol?user=ID[&reader=…][&uid=…&technology=…]`.
pub async fn page(
    State(s): State<AppState>,
    session: Session,
    Query(q): Query<EnrolQuery>,
) -> Result<Response, UiError> {
    Ok(html(&render(&s, &session, q, None).await?)?.into_response())
}

/// `POST /ui/enrol` (Confirm): binds the card through
/// `ops::credentials::enroll`, then back to the page with a notice; a
/// refusal is shown on the page, in plain words with its code.
pub async fn confirm(State(s): State<AppState>, hx: Hx, p: Posted) -> Result<Response, UiError> {
    let field = |k: &str| p.form.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let (user_s, uid_s, tech_s) = (field("user"), field("uid"), field("technology"));
    let user = person_id(&user_s)?;
    let parsed = technology(&tech_s).and_then(|t| Ok((t, Uid::parse_for(t, &uid_s)?)));
    let outcome = match parsed {
        Ok((t, uid)) => op(&s, &p.session.acting, move |st, a| ops::credentials::enroll(st, a, user, t, &uid))
            .await
            .map(|c| (c.technology, c.uid)),
        Err(e) => Err(e),
    };
    match outcome {
        Ok((t, uid)) => Ok(manage::redirect(hx, &format!("{HERE}?user={user}&done={uid}&technology={}", t.as_str()))),
        Err(e)
            if matches!(
                e.status,
                StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST
            ) =>
        {
            let q = EnrolQuery { user: user_s, uid: uid_s, technology: tech_s, ..EnrolQuery::default() };
            let problem = Some((enrol_words(e.code).to_owned(), e.code));
            let page = render(&s, &p.session, q, problem).await?;
            Ok((e.status, html(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
