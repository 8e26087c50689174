//! Desk readers: what a tapped card is to the person looking, which reader
//! events staff may watch, and tap-to-enrol's pending enrolments.
//!
//! Rules: the live tap stream is a desk tool, not a tracking feed — door
//! readers' reads never reach it, nor enrolments; a scoped operator sees a
//! tapped card's holder only when the holder is in their unit (otherwise
//! the card's state without the holder). A pending enrolment belongs to the
//! operator who started it: only they confirm it (as themselves, so the
//! scope and role checks of enrolment apply), and one operator's pending
//! enrolments never push out another's.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::domain::{CredentialState, DomainError, Technology, Uid, UserId, UserState, check_bindable};
use crate::ops::{Acting, OpsError, load_scoped};
use crate::readers::{Hub, Published};
use crate::store::{Role, Store};

/// What a tapped card is to the badge office, as the caller may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardVerdict {
    /// `new` (never seen), `in_stock` (ready to issue or recycle), `held`,
    /// `retired` (lost, stolen, destroyed), or another credential state.
    pub status: &'static str,
    /// The holder, when held and within the caller's scope.
    pub holder: Option<UserId>,
    /// The holder's state, when the holder is shown.
    pub holder_state: Option<UserState>,
    /// `enroll` (a new card), `recycle` (from stock), or `refused`.
    pub action: &'static str,
    /// Why binding it would be refused.
    pub code: Option<&'static str>,
}

/// What the card with `uid` is, seen by `acting` (enroller and above).
pub fn card_status(store: &Store, acting: &Acting, technology: Technology, uid: &Uid) -> Result<CardVerdict, OpsError> {
    acting.require(Role::Enroller)?;
    let c = match store.get_credential(Some(technology), uid) {
        Ok(c) => c,
        Err(e) if e.code() == "not_found" => match store.get_credential(None, uid) {
            // The same bytes held under another technology: binding them
            // would be refused (one holder per UID bytes), so say so.
            Ok(other) if other.holder.is_some() => other,
            _ => {
                return Ok(CardVerdict {
                    status: "new",
                    holder: None,
                    holder_state: None,
                    action: "enroll",
                    code: None,
                });
            }
        },
        Err(e) => return Err(e.into()),
    };
    let status = if c.holder.is_some() {
        "held"
    } else if c.state.is_retired() {
        "retired"
    } else if c.state == CredentialState::InStock {
        "in_stock"
    } else {
        c.state.as_str()
    };
    let verdict = check_bindable(uid, c.state, c.holder.zip(c.holder_state));
    let shown = match (acting.unit(), c.holder) {
        (None, _) | (_, None) => true,
        (Some(_), Some(h)) => store.get_user(h).is_ok_and(|u| acting.may_see(&u)),
    };
    Ok(CardVerdict {
        status,
        holder: c.holder.filter(|_| shown),
        holder_state: c.holder_state.filter(|_| shown),
        action: if verdict.is_ok() { "recycle" } else { "refused" },
        code: verdict.err().map(|e| e.code()),
    })
}

/// The readers the service sees (any staff).
pub fn list(hub: &Hub, acting: &Acting) -> Result<Vec<crate::readers::ReaderInfo>, OpsError> {
    acting.require(Role::Viewer)?;
    Ok(hub.readers())
}

/// The readers a card may be enrolled on: desk readers, never door
/// readers (enroller and above).
pub fn enrol_readers(hub: &Hub, acting: &Acting) -> Result<Vec<crate::readers::ReaderInfo>, OpsError> {
    acting.require(Role::Enroller)?;
    Ok(hub.readers().into_iter().filter(|r| !hub.is_door(&r.id)).collect())
}

/// Whether the caller may watch the live tap stream (enroller and above:
/// what a tapped card is, and whose, is an enroller's business).
pub fn may_watch_taps(acting: &Acting) -> Result<(), OpsError> {
    acting.require(Role::Enroller)
}

/// Whether staff may see this reader event: door readers' events are door
/// decisions, never shown on the desk's tap stream.
#[must_use]
pub fn desk_event(hub: &Hub, p: &Published) -> bool {
    !hub.is_door(&p.event.reader)
}

/// Refuses a reader that is not a desk reader for enrolment.
pub fn check_enrol_reader(hub: &Hub, reader: &str) -> Result<(), OpsError> {
    if hub.is_door(reader) || !hub.has_reader(reader) {
        // A door reader is not offered for enrolment: to staff it does not exist.
        return Err(DomainError::NotFound { what: "reader", id: reader.to_owned() }.into());
    }
    Ok(())
}

/// Who may start an enrolment for `user`: an enroller who may act on them,
/// for a person who can receive a card.
pub fn may_enrol(store: &Store, acting: &Acting, user: UserId) -> Result<(), OpsError> {
    acting.require(Role::Enroller)?;
    let u = load_scoped(store, acting, user)?;
    crate::domain::credential::check_can_receive(user, u.state)?;
    Ok(())
}

/// A card read for a person, waiting for its operator's confirmation.
#[derive(Debug, Clone)]
pub struct Pending<V> {
    /// The audit name of the operator who started it.
    pub owner: String,
    /// When it was read.
    pub created: Instant,
    /// The person.
    pub user: UserId,
    /// The card.
    pub uid: Uid,
    /// Its technology.
    pub technology: Technology,
    /// What the front end shows for it.
    pub view: V,
}

/// Enrolments read but not yet confirmed, for ten minutes, at most
/// [`Enrollments::PER_OPERATOR`] per operator (their oldest goes first)
/// and [`Enrollments::MAX`] in all (then new ones are refused, never
/// someone else's dropped).
#[derive(Debug)]
pub struct Enrollments<V> {
    pending: Mutex<HashMap<String, Pending<V>>>,
}

impl<V> Default for Enrollments<V> {
    fn default() -> Self {
        Self { pending: Mutex::default() }
    }
}

impl<V: Clone> Enrollments<V> {
    /// How long a read waits for confirmation.
    pub const TTL: Duration = Duration::from_secs(600);
    /// Pending enrolments one operator may have.
    pub const PER_OPERATOR: usize = 20;
    /// Pending enrolments in all.
    pub const MAX: usize = 1000;

    /// Keeps `p` under `id`; refused when the service holds too many.
    pub fn put(&self, id: String, p: Pending<V>) -> Result<(), OpsError> {
        let mut m = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        m.retain(|_, v| v.created.elapsed() < Self::TTL);
        let mine = m.iter().filter(|(_, v)| v.owner == p.owner).count();
        if mine >= Self::PER_OPERATOR
            && let Some(oldest) =
                m.iter().filter(|(_, v)| v.owner == p.owner).min_by_key(|(_, v)| v.created).map(|(k, _)| k.clone())
        {
            m.remove(&oldest);
        }
        if m.len() >= Self::MAX {
            return Err(DomainError::InvalidInput {
                field: "enrollment",
                message: "too many enrolments are waiting for confirmation; confirm or let some expire".into(),
            }
            .into());
        }
        m.insert(id, p);
        Ok(())
    }

    /// The pending enrolment `id`, if it is the caller's.
    pub fn get(&self, acting: &Acting, id: &str) -> Option<Pending<V>> {
        let owner = acting.actor().id;
        let m = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        m.get(id).filter(|p| p.created.elapsed() < Self::TTL && p.owner == owner).cloned()
    }

    /// Forgets `id`.
    pub fn remove(&self, id: &str) {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }
}
