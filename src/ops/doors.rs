//! Doors: online decisions, the credential feed, and decisions made
//! offline — who may ask, about which doors, and what an upload must hold.
//!
//! Only door-controller tokens reach these operations, each only for its
//! own doors and its own feed. The service's own OSDP door readers decide
//! through [`door_event`] too, without a controller. Waiting for an event
//! to be durable is the front end's (it owns the connection); what the
//! event says is decided here.

use crate::domain::{Decision, DenyReason, DomainError, Technology, Timestamp, Uid, UserId};
use crate::ops::{Acting, OpsError};
use crate::store::events::{self, Refusal, Upload, UploadItem};
use crate::store::{AccessEvent, Feed, Store, StoreError};

/// At most this many offline decisions per upload.
pub const MAX_UPLOAD: usize = 1000;

/// How far ahead of the service's clock an offline decision may claim to
/// have happened (controllers' clocks drift), in seconds.
pub const MAX_CLOCK_AHEAD_SECS: i64 = 600;

/// The feed page size when the controller names none.
pub const DEFAULT_FEED_PAGE: usize = 10_000;

/// Decides a card at a door from the in-memory index (the card's checks,
/// then the door's access levels and schedules) and returns the
/// access event that records it (`controller` is `None` for the service's
/// own door readers).
#[must_use]
pub fn door_event(
    store: &Store,
    controller: Option<i64>,
    door: String,
    technology: Option<Technology>,
    uid: &Uid,
) -> AccessEvent {
    let now = store.now();
    let d = store.index().decide_at_door(technology, uid, &door, now);
    let (decision, user_id) = (d.decision, d.holder);
    AccessEvent {
        at: now,
        controller,
        event_id: None,
        door,
        technology,
        uid: *uid,
        decision,
        user_id,
        online: true,
        received_at: None,
        claimed_at: None,
    }
}

/// A controller asks about a card at one of its doors. The door is
/// checked first, so a refusal is the same (and audited) whatever the
/// rest of the question holds. A UID of a length the named technology
/// cannot have is refused (`uid_wrong_length`), not decided as unknown.
pub fn decide(
    store: &Store,
    acting: &Acting,
    door: String,
    technology: Option<&str>,
    uid: &str,
) -> Result<AccessEvent, OpsError> {
    let controller = acting.controller_for(&door)?.id;
    let technology = Technology::from_name_opt(technology)?;
    let uid = Uid::parse_any(uid)?;
    if let Some(t) = technology {
        uid.check_len(t)?;
    }
    Ok(door_event(store, Some(controller), door, technology, &uid))
}

/// What a door would answer for a card at `at` (staff; nothing is logged:
/// this is a question about the rules, not a door's access).
pub fn would_decide(
    store: &Store,
    acting: &Acting,
    technology: Option<Technology>,
    uid: &Uid,
    at: Timestamp,
) -> Result<Decision, OpsError> {
    acting.require(crate::store::Role::Viewer)?;
    Ok(store.decide(technology, uid, at))
}

/// A page of the controller's credential feed (`id` the caller's own, or
/// `None` for "mine"; a page holds at most `limit`, 1 to 100000, default
/// [`DEFAULT_FEED_PAGE`]; `limit=0` is refused rather than read as 1).
/// Any other ID is not found: a controller has no feed but its own, and it
/// lists only the credentials and rules that touch its own doors.
pub fn feed(
    store: &Store,
    acting: &Acting,
    id: Option<&str>,
    since: Option<&str>,
    limit: Option<usize>,
) -> Result<Feed, OpsError> {
    let c = acting.controller()?;
    if let Some(id) = id
        && id.parse::<i64>().ok() != Some(c.id)
    {
        return Err(DomainError::NotFound { what: "feed of this controller", id: id.to_string() }.into());
    }
    if limit == Some(0) {
        return Err(DomainError::InvalidQuery { field: "limit", message: "a whole number from 1 to 100000" }.into());
    }
    Ok(store.controller_feed(crate::store::FeedScope::Controller(c.id), since, limit.unwrap_or(DEFAULT_FEED_PAGE))?)
}

/// A decision a controller made offline, as a front end received it.
#[derive(Debug, Clone)]
pub struct OfflineDecision {
    /// The controller's own unique ID for this event (idempotency key).
    pub event_id: String,
    /// When it happened (RFC 3339).
    pub at: String,
    /// The door.
    pub door: String,
    /// The UID read, in hex.
    pub uid: String,
    /// Technology, if known.
    pub technology: Option<String>,
    /// `grant` or `deny`.
    pub decision: String,
    /// The deny reason code (deny only).
    pub reason: Option<String>,
    /// The holder, if the controller knew it.
    pub user_id: Option<String>,
}

/// A decision from its wire parts: `grant` without a reason, or `deny`
/// with a known deny-reason code.
pub fn decision_from(decision: &str, reason: Option<&str>) -> Result<Decision, DomainError> {
    match (decision, reason) {
        ("grant", None) => Ok(Decision::Grant),
        ("deny", Some(r)) => {
            DenyReason::from_code(r).map(Decision::Deny).ok_or_else(|| bad("reason", "not a known deny reason"))
        }
        _ => Err(bad("decision", "grant without a reason, or deny with one")),
    }
}

/// One event of an upload as a front end received it: its text (kept if
/// it is quarantined), its event ID if one could be read, and its parts,
/// or why they could not be read.
#[derive(Debug, Clone)]
pub struct SentEvent {
    /// The event as sent, compact; cut to [`events::RAW_MAX`] bytes here.
    pub raw: String,
    /// Its `event_id`, if it had a readable one.
    pub event_id: Option<String>,
    /// Its parts, or the field that could not be read.
    pub parsed: Result<OfflineDecision, Refusal>,
}

/// Checks an upload of offline decisions, each event on its own: at most
/// [`MAX_UPLOAD`] (more refuses the whole upload, as does a `sent_at` that
/// is not a time). An event is refused — quarantined, never dropped — when
/// its door is not the caller's, its event ID is not 1 to 128 printable
/// characters, or a field does not parse; the others are stored.
///
/// Clocks: `sent_at`, the controller's clock when it sent the upload,
/// measures its skew. When the skew is more than [`MAX_CLOCK_AHEAD_SECS`]
/// either way, the controller's clock is not trusted: each event is stored
/// at its stamp corrected by the skew (never later than its arrival),
/// flagged with the time it claimed. Without a measured skew, an event
/// stamped more than [`MAX_CLOCK_AHEAD_SECS`] ahead of the service's clock
/// is stored at its arrival, flagged the same way.
pub fn upload(
    store: &Store,
    acting: &Acting,
    sent_at: Option<&str>,
    events: Vec<SentEvent>,
) -> Result<Upload, OpsError> {
    let controller = acting.controller()?.id;
    if events.len() > MAX_UPLOAD {
        return Err(bad("events", "at most 1000 events per upload").into());
    }
    let now = store.now();
    let skew_secs = Timestamp::parse_opt("sent_at", sent_at)?.map(|t| t.0 - now.0);
    let items = events
        .into_iter()
        .map(|e| {
            let checked = e.parsed.and_then(|d| offline_event(acting, now, skew_secs, d).map_err(|e| refusal(&e)));
            // Both bounded: the quarantine's bound is in rows, so each row's
            // bytes must be too (an event ID too long to accept would
            // otherwise be kept whole, up to the body limit).
            let event_id = e.event_id.map(|id| cut(id, EVENT_ID_MAX_BYTES));
            UploadItem { raw: cut(e.raw, events::RAW_MAX), event_id, checked }
        })
        .collect();
    Ok(Upload { controller, received_at: now, skew_secs, items })
}

/// The time to store an event stamped `claimed` at, received at `now`
/// from a controller whose clock is `skew` seconds off (if measured), and
/// whether that is not its stamp (see [`upload`]).
fn stored_time(claimed: Timestamp, now: Timestamp, skew: Option<i64>) -> (Timestamp, bool) {
    match skew {
        Some(k) if k.abs() > MAX_CLOCK_AHEAD_SECS => (Timestamp(claimed.0.saturating_sub(k).min(now.0)), true),
        _ if claimed.0 > now.0 + MAX_CLOCK_AHEAD_SECS => (now, true),
        _ => (claimed, false),
    }
}

/// One offline decision as an access event received at `now`.
fn offline_event(
    acting: &Acting,
    now: Timestamp,
    skew: Option<i64>,
    d: OfflineDecision,
) -> Result<AccessEvent, OpsError> {
    let controller = acting.controller_for(&d.door)?.id;
    let n = d.event_id.chars().count();
    if n == 0 || n > 128 || d.event_id.chars().any(char::is_control) {
        return Err(bad("event_id", "1 to 128 characters, none of them control characters").into());
    }
    let decision = decision_from(&d.decision, d.reason.as_deref())?;
    let claimed = Timestamp::parse("at", &d.at)?;
    let (at, moved) = stored_time(claimed, now, skew);
    Ok(AccessEvent {
        at,
        controller: Some(controller),
        event_id: Some(d.event_id),
        door: d.door,
        technology: Technology::from_name_opt(d.technology.as_deref())?,
        uid: Uid::parse_any(&d.uid)?,
        decision,
        user_id: d
            .user_id
            .as_deref()
            .map(str::parse::<UserId>)
            .transpose()
            .map_err(|_| bad("user_id", "not a user ID"))?,
        online: false,
        received_at: Some(now),
        claimed_at: moved.then_some(claimed),
    })
}

/// The code and field of a refused event.
fn refusal(e: &OpsError) -> Refusal {
    let field = match e {
        OpsError::Refused(DomainError::Forbidden { .. }) => Some("door"),
        OpsError::Refused(d) | OpsError::Store(StoreError::Domain(d)) => match d {
            DomainError::InvalidInput { field, .. } | DomainError::InvalidQuery { field, .. } => Some(*field),
            DomainError::InvalidUid { .. } | DomainError::UidOddDigits { .. } | DomainError::UidWrongLength { .. } => {
                Some("uid")
            }
            _ => None,
        },
        OpsError::Store(_) => None,
    };
    Refusal { code: e.code(), field }
}

/// The most of an event ID the quarantine keeps: any valid one (128
/// characters of at most 4 bytes) whole, the start of a longer one.
const EVENT_ID_MAX_BYTES: usize = 128 * 4;

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn bad(field: &'static str, message: &str) -> DomainError {
    DomainError::InvalidInput { field, message: message.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_off_by_more_than_the_allowance_is_corrected_by_its_skew_and_never_past_arrival() {
        let now = Timestamp(1_000_000);
        let t = |s: i64| Timestamp(now.0 + s);
        // In step, or within the allowance: stored as stamped.
        assert_eq!(stored_time(t(-30), now, Some(5)), (t(-30), false));
        assert_eq!(stored_time(t(600), now, None), (t(600), false));
        // Ahead without a measured skew: at its arrival.
        assert_eq!(stored_time(t(601), now, None), (now, true));
        // Two hours ahead, measured: where it happened by the service's clock.
        assert_eq!(stored_time(t(7200 - 30), now, Some(7200)), (t(-30), true));
        // Reset to 1970 after a power loss: corrected forward, not pruned as ancient.
        let skew = 86_400 - now.0;
        assert_eq!(stored_time(Timestamp(86_400 - 90), now, Some(skew)), (t(-90), true));
        // Stamped before the clock jumped: never later than it arrived.
        assert_eq!(stored_time(t(-100), now, Some(-7200)), (now, true));
        assert!(stored_time(t(-30), now, Some(601)).1);
        assert_eq!(stored_time(t(-30), now, Some(600)), (t(-30), false));
    }
}
