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
use crate::store::{AccessEvent, Feed, Store};

/// At most this many offline decisions per upload.
pub const MAX_UPLOAD: usize = 1000;

/// How far ahead of the service's clock an offline decision may claim to
/// have happened (controllers' clocks drift), in seconds.
pub const MAX_CLOCK_AHEAD_SECS: i64 = 600;

/// The feed page size when the controller names none.
pub const DEFAULT_FEED_PAGE: usize = 10_000;

/// Decides a card at a door from the in-memory index and returns the
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
    let (decision, user_id) = store.index().decide_with_holder(technology, uid, now);
    AccessEvent { at: now, controller, event_id: None, door, technology, uid: *uid, decision, user_id, online: true }
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
/// Any other ID is not found: a controller has no feed but its own.
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
    Ok(store.credential_feed(since, limit.unwrap_or(DEFAULT_FEED_PAGE))?)
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

/// Checks an upload of offline decisions and turns it into access events:
/// at most [`MAX_UPLOAD`], each for one of the caller's doors (checked
/// first), with an event ID of 1 to 128 printable characters, not claiming
/// a time more than [`MAX_CLOCK_AHEAD_SECS`] ahead. One bad event refuses
/// the whole upload.
pub fn offline_events(
    store: &Store,
    acting: &Acting,
    decisions: Vec<OfflineDecision>,
) -> Result<Vec<AccessEvent>, OpsError> {
    let controller = acting.controller()?.id;
    if decisions.len() > MAX_UPLOAD {
        return Err(bad("events", "at most 1000 events per upload").into());
    }
    let now = store.now();
    decisions
        .into_iter()
        .map(|d| {
            acting.controller_for(&d.door)?;
            let n = d.event_id.chars().count();
            if n == 0 || n > 128 || d.event_id.chars().any(char::is_control) {
                return Err(bad("event_id", "1 to 128 characters, none of them control characters").into());
            }
            let decision = decision_from(&d.decision, d.reason.as_deref())?;
            let at = Timestamp::parse("at", &d.at)?;
            if at.0 > now.0 + MAX_CLOCK_AHEAD_SECS {
                return Err(bad("at", "lies in the future; check the controller's clock").into());
            }
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
            })
        })
        .collect()
}

fn bad(field: &'static str, message: &str) -> DomainError {
    DomainError::InvalidInput { field, message: message.into() }
}
