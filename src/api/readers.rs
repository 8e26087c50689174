//! Desk readers over HTTP: the reader list, the live tap stream
//! (Server-Sent Events), and tap-to-enrol (`POST /enrollments` waits for
//! the next tap on a reader; `POST /enrollments/{id}/confirm` binds).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};

use super::auth::Staff;
use super::dto::{CardStatus, CredentialRecord, Enrollment, ReaderInfo, TapNotice};
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, Problem};
use super::{AppState, audited, op};
use crate::domain::{Technology, Uid, UserId};
use crate::ops::Acting;
use crate::ops::readers::{self as rules, Pending};
use crate::readers::{Published, ReaderEventKind};
use crate::store::Role;

fn kind_name(k: &ReaderEventKind) -> &'static str {
    match k {
        ReaderEventKind::ReaderAdded => "reader_added",
        ReaderEventKind::ReaderRemoved => "reader_removed",
        ReaderEventKind::Tap { .. } => "tap",
        ReaderEventKind::Unreadable { .. } => "unreadable",
        ReaderEventKind::CardRemoved => "card_removed",
        ReaderEventKind::SourceDown => "source_down",
    }
}

/// What the card with `uid` is, seen by the caller.
async fn card_status(s: &AppState, acting: &Acting, technology: Technology, uid: Uid) -> Result<CardStatus, ApiError> {
    Ok(op(s, acting, move |st, a| rules::card_status(st, a, technology, &uid)).await?.into())
}

async fn notice(s: &AppState, acting: &Acting, p: &Published) -> Result<TapNotice, ApiError> {
    let e = &p.event;
    let (uid, card_type, code) = match &e.kind {
        ReaderEventKind::Tap { uid, card_type, raw } => {
            (Some((*uid, technology_of(raw.as_deref()))), Some((*card_type).into()), None)
        }
        ReaderEventKind::Unreadable { code, card_type } => (None, card_type.map(Into::into), Some(*code)),
        _ => (None, None, None),
    };
    let credential = match uid {
        Some((u, t)) => Some(card_status(s, acting, t, u).await?),
        None => None,
    };
    Ok(TapNotice {
        seq: p.seq,
        reader: e.reader.clone(),
        at: e.at.to_rfc3339(),
        kind: kind_name(&e.kind),
        uid: uid.map(|(u, _)| u.to_string()),
        card_type,
        code,
        credential,
    })
}

/// The readers the service sees.
#[utoipa::path(get, path = "/api/v1/readers", tag = "readers",
    responses((status = 200, body = Vec<ReaderInfo>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_readers(
    State(s): State<AppState>,
    auth: Staff<{ Role::Viewer as u8 }>,
) -> Result<Json<Vec<ReaderInfo>>, ApiError> {
    let readers = rules::list(&s.readers, auth.as_acting()).map_err(|e| auth.refused(e))?;
    Ok(Json(readers.into_iter().map(ReaderInfo::from).collect()))
}

/// How often a live stream checks that its token still holds (not
/// revoked, not expired, its operator not disabled, the same role).
const STILL_ALLOWED_EVERY: Duration = Duration::from_secs(2);

fn still_allowed(s: &AppState, hash: &[u8; 32], acting: &Acting) -> bool {
    // From the in-memory token set, as every request is authenticated:
    // a stream costs no SQLite read while it lasts.
    matches!(s.store.token_holder(hash, s.store.now()), Ok(Some((p, _))) if Acting::from((*p).clone()) == *acting)
}

/// Stream parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only events of this reader.
    pub reader: Option<String>,
}

/// Live reader events as Server-Sent Events: every tap with the card's
/// UID, type and status (new / in stock / held by whom / retired), cards
/// that could not be read with a code, readers coming and going. Each SSE
/// `event:` is the notice's `kind` and `id:` its `seq`; a subscriber too
/// slow to keep up gets an event `lagged` with the number it missed.
#[utoipa::path(get, path = "/api/v1/readers/events", tag = "readers", params(EventsQuery),
    responses((status = 200, body = TapNotice, content_type = "text/event-stream"), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn reader_events(
    State(s): State<AppState>,
    auth: Staff<{ Role::Enroller as u8 }>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let acting = auth.acting();
    let hash = auth.1;
    let still = move |s: &AppState, a: &Acting| still_allowed(s, &hash, a);
    let render = |s: AppState, acting: Acting, p: Arc<Published>| async move {
        Some(match notice(&s, &acting, &p).await {
            Ok(n) => Event::default()
                .event(n.kind)
                .id(n.seq.to_string())
                .json_data(&n)
                .unwrap_or_else(|_| Event::default().event("error")),
            Err(_) => Event::default().event("error").data("the card's status could not be read"),
        })
    };
    let stream = desk_stream(s, acting, q.reader, still, render);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The desk's live reader events (of one reader when `only` says so; door
/// readers' never), each as `render` puts it (`None`: left out). The
/// stream ends when the service stops, or when `still` — asked every
/// couple of seconds — says the caller's token or session no longer holds
/// for the same role. A subscriber too slow to keep up gets an event
/// `lagged` with the number it missed. The API's stream and the web UI's
/// are both this one.
pub fn desk_stream<C, R, F>(
    s: AppState,
    acting: Acting,
    only: Option<String>,
    still: C,
    render: R,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static
where
    C: Fn(&AppState, &Acting) -> bool + Send + Sync + 'static,
    R: Fn(AppState, Acting, Arc<Published>) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = Option<Event>> + Send,
{
    let rx = s.readers.subscribe();
    let recheck = tokio::time::Instant::now() + STILL_ALLOWED_EVERY;
    let fns = Arc::new((still, render));
    let init = (rx, s, acting, only, recheck, fns);
    futures_util::stream::unfold(init, move |(mut rx, s, acting, only, mut recheck, fns)| async move {
        loop {
            let got = tokio::select! {
                r = rx.recv() => Some(r),
                () = tokio::time::sleep_until(recheck) => None,
                () = s.stopping.wait() => return None,
            };
            if tokio::time::Instant::now() >= recheck {
                // A token revoked, expired or disabled (a session ended) ends the stream.
                if !(fns.0)(&s, &acting) {
                    return None;
                }
                recheck = tokio::time::Instant::now() + STILL_ALLOWED_EVERY;
            }
            let ev = match got {
                None => continue,
                Some(Ok(p)) if only.as_ref().is_some_and(|r| *r != p.event.reader) => continue,
                Some(Ok(p)) if !rules::desk_event(&s.readers, &p) => continue,
                Some(Ok(p)) => match (fns.1)(s.clone(), acting.clone(), p).await {
                    Some(ev) => ev,
                    None => continue,
                },
                Some(Err(RecvError::Lagged(n))) => Event::default().event("lagged").data(n.to_string()),
                Some(Err(RecvError::Closed)) => return None,
            };
            return Some((Ok(ev), (rx, s, acting, only, recheck, fns)));
        }
    })
}

/// Enrolments read but not yet confirmed (the rules are the rule layer's).
pub type Enrollments = rules::Enrollments<Enrollment>;

/// Start a tap-to-enrol.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentBody {
    /// The reader to wait on (an ID from `GET /readers`).
    pub reader: String,
    /// The person who will receive the card.
    pub user_id: String,
    /// How long to wait for a tap, in seconds (default 30, at most 120).
    pub wait_s: Option<u64>,
}

fn enrollment_id() -> Result<String, ApiError> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|_| ApiError::internal())?;
    Ok(format!("enr_{}", hex::encode(b)))
}

/// Wait for the next tap on a reader and show what binding it would do.
/// Nothing is bound until the enrolment is confirmed. A card that cannot
/// be enrolled (random UID, no UID) answers 422 with its code; no tap in
/// time answers 408 `no_tap`.
#[utoipa::path(post, path = "/api/v1/enrollments", tag = "readers", request_body = EnrollmentBody,
    responses((status = 201, body = Enrollment), (status = 400, body = Problem), (status = 404, body = Problem), (status = 408, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn start_enrollment(
    State(s): State<AppState>,
    auth: Staff<{ Role::Enroller as u8 }>,
    ApiJson(b): ApiJson<EnrollmentBody>,
) -> Result<(StatusCode, Json<Enrollment>), ApiError> {
    let acting = auth.acting();
    let user = audited(&s, &auth, "credential.enroll", b.user_id.parse::<UserId>()).await?;
    op(&s, &acting, move |st, a| rules::may_enrol(st, a, user)).await?;
    // Subscribe before looking at the reader, so a tap right now is not missed.
    let mut rx = s.readers.subscribe();
    rules::check_enrol_reader(&s.readers, &b.reader).map_err(|e| ApiError::from_ops(e, &acting.actor()))?;
    let wait = Duration::from_secs(b.wait_s.unwrap_or(30).clamp(1, 120));
    let deadline = tokio::time::Instant::now() + wait;
    let (uid, card_type, technology) = loop {
        let next = tokio::select! {
            r = tokio::time::timeout_at(deadline, rx.recv()) => r,
            () = s.stopping.wait() => return Err(super::Stopping::refusal()),
        };
        let p = match next {
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "no_tap",
                    format!("no card was tapped on {} within {} s", b.reader, wait.as_secs()),
                ));
            }
            Ok(Err(RecvError::Lagged(_))) => continue,
            Ok(Err(RecvError::Closed)) => return Err(ApiError::internal()),
            Ok(Ok(p)) => p,
        };
        if p.event.reader != b.reader {
            continue;
        }
        match &p.event.kind {
            ReaderEventKind::Tap { uid, card_type, raw } => break (*uid, *card_type, technology_of(raw.as_deref())),
            ReaderEventKind::Unreadable { code, .. } => return Err(unreadable(code)),
            ReaderEventKind::ReaderRemoved | ReaderEventKind::SourceDown => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "reader_unavailable",
                    format!("reader {} went away while waiting for a tap", b.reader),
                ));
            }
            _ => {}
        }
    };
    let credential = card_status(&s, &acting, technology, uid).await?;
    let view = Enrollment {
        id: enrollment_id()?,
        reader: b.reader,
        user_id: user.to_string(),
        uid: uid.to_string(),
        technology: technology.as_str().to_owned(),
        card_type: card_type.into(),
        credential,
    };
    let pending =
        Pending { owner: acting.actor().id, created: Instant::now(), user, uid, technology, view: view.clone() };
    s.enrollments.put(view.id.clone(), pending).map_err(|e| ApiError::from_ops(e, &acting.actor()))?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The technology a tap is looked up and enrolled as.
pub fn technology_of(raw: Option<&crate::readers::osdp::RawRead>) -> Technology {
    raw.map_or(Technology::Iso14443a, crate::readers::osdp::RawRead::technology)
}

/// Why a card seen on a reader cannot be used, in plain words (the API's
/// `detail` and the web UI's verdict).
#[must_use]
pub fn unreadable_words(code: &str) -> &'static str {
    match code {
        "random_uid" => {
            "this card presents a random UID (a new one every tap); it cannot identify anyone and is never enrolled"
        }
        "uid_unavailable" => "the reader could not get a UID from this card (it does not support GET DATA)",
        "card_removed" => "the card left the reader before it was read; tap it again and hold it still",
        "card_mute" => "the card does not answer; tap it again",
        "bad_parity" => "the reader sent a Wiegand read with a wrong parity bit; tap it again",
        "unknown_format" => {
            "the reader sent a card format IDMS does not know (use 26-bit H10301 or the card serial number)"
        }
        _ => "the reader failed to read the card; tap it again",
    }
}

fn unreadable(code: &'static str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, unreadable_words(code))
}

/// Bind the card of a pending enrolment: the same rules and codes as
/// `POST /credentials` (409 `credential_held` when someone holds it).
#[utoipa::path(post, path = "/api/v1/enrollments/{id}/confirm", tag = "readers", params(("id" = String, Path, description = "The enrolment")),
    responses((status = 201, body = CredentialRecord), (status = 404, body = Problem), (status = 409, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn confirm_enrollment(
    State(s): State<AppState>,
    auth: Staff<{ Role::Enroller as u8 }>,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<CredentialRecord>), ApiError> {
    let acting = auth.acting();
    let p = s.enrollments.get(&acting, &id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "enrollment_not_found",
            "no pending enrolment with this ID (confirmed already, or older than ten minutes)",
        )
    })?;
    let (user, technology, uid) = (p.user, p.technology, p.uid);
    let c = op(&s, &acting, move |st, a| crate::ops::credentials::enroll(st, a, user, technology, &uid)).await?;
    s.enrollments.remove(&id);
    Ok((StatusCode::CREATED, Json(c.into())))
}
