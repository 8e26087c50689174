//! Door controllers: decisions, the credential feed, uploads; access events.

use utoipa::ToSchema;

use super::all;
use crate::domain::{CredentialState, Technology, Timestamp, Uid, UserId, UserState};
use crate::store::{AccessEvent, feed};

fn is_false(b: &bool) -> bool {
    !*b
}

/// One credential as a controller needs it to decide offline. Fields that
/// would be `null` (and `ambiguous` when `false`) are left out to keep the
/// feed small: read an absent field as `null` (`false`). Ignore fields you
/// do not know.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct FeedEntry {
    /// Card technology: `iso14443a`, `em4100` or `other` (with `uid`, the entry's key).
    #[schema(value_type = String)]
    pub technology: Technology,
    /// UID, uppercase hex.
    #[schema(value_type = String)]
    pub uid: Uid,
    /// Credential state; only `issued` may grant.
    #[schema(value_type = String)]
    pub state: CredentialState,
    /// The holder. Every entry has one (only held credentials are in the
    /// feed); absent or `null` would mean nobody holds it: deny.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    pub user_id: Option<UserId>,
    /// The holder's lifecycle state; only `active` may grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    pub holder_state: Option<UserState>,
    /// The holder's validity window start (inclusive, RFC 3339); absent or `null`: no start.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    pub valid_from: Option<Timestamp>,
    /// The holder's validity window end (exclusive, RFC 3339); absent or `null`: no end.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    pub valid_to: Option<Timestamp>,
    /// These UID bytes are bound to different people under different
    /// technologies (a twin, until an admin unbinds one): deny every read
    /// of them `credential_ambiguous`, with or without a technology, and
    /// log no holder. Absent: `false`.
    #[serde(skip_serializing_if = "is_false")]
    #[schema(required = false, default = false)]
    pub ambiguous: bool,
}

impl From<feed::FeedEntry> for FeedEntry {
    fn from(e: feed::FeedEntry) -> Self {
        Self {
            technology: e.technology,
            uid: e.uid,
            state: e.state,
            user_id: e.user_id,
            holder_state: e.holder_state,
            valid_from: e.valid_from,
            valid_to: e.valid_to,
            ambiguous: e.ambiguous,
        }
    }
}

/// A credential that left the feed (a delta's `removed`): delete the entry
/// with this key. A UID a controller holds no entry for is denied
/// `unknown_credential`.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct FeedKey {
    /// Card technology: `iso14443a`, `em4100` or `other`.
    #[schema(value_type = String)]
    pub technology: Technology,
    /// UID, uppercase hex.
    #[schema(value_type = String)]
    pub uid: Uid,
}

impl From<feed::FeedKey> for FeedKey {
    fn from(k: feed::FeedKey) -> Self {
        Self { technology: k.technology, uid: k.uid }
    }
}

/// Snapshot or delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// Every held credential: stage the pages, then replace what you hold.
    Snapshot,
    /// Only what changed: upsert `entries` and delete `removed` by `(technology, uid)`.
    Delta,
}

impl From<feed::FeedKind> for FeedKind {
    fn from(k: feed::FeedKind) -> Self {
        match k {
            feed::FeedKind::Snapshot => Self::Snapshot,
            feed::FeedKind::Delta => Self::Delta,
        }
    }
}

/// A page of the feed. Only credentials with a holder are listed.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct Feed {
    /// Snapshot or delta.
    pub kind: FeedKind,
    /// 0 for the first page. Stage a snapshot's pages and replace what
    /// the controller holds once the last one (`more: false`) arrived;
    /// every delta page is applied as it comes.
    pub page: u32,
    /// More pages follow: ask again with `cursor` as `since`.
    pub more: bool,
    /// Pass this as `since` next time (opaque).
    pub cursor: String,
    /// The entries (upsert by `(technology, uid)`).
    pub entries: Vec<FeedEntry>,
    /// Delta only: credentials that no longer have a holder; delete them.
    /// Absent: none (always absent from a snapshot). `entries` and
    /// `removed` together hold at most `limit` credentials.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub removed: Vec<FeedKey>,
}

impl From<feed::Feed> for Feed {
    fn from(f: feed::Feed) -> Self {
        Self {
            kind: f.kind.into(),
            page: f.page,
            more: f.more,
            cursor: f.cursor,
            entries: all(f.entries),
            removed: all(f.removed),
        }
    }
}

/// The answer.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct DecideResponse {
    /// `grant` or `deny`.
    pub decision: &'static str,
    /// Why not (`null` on grant).
    pub reason: Option<&'static str>,
    /// The card's holder, if it has one.
    pub user_id: Option<String>,
}

/// What the upload stored.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct UploadResult {
    /// Newly stored events.
    pub accepted: usize,
    /// Events already stored earlier (same controller and event ID).
    pub duplicates: usize,
}

/// One access decision.
#[derive(serde::Serialize, ToSchema)]
pub struct EventView {
    /// When it was decided (RFC 3339, UTC).
    pub at: String,
    /// The door.
    pub door: String,
    /// `grant` or `deny`.
    pub decision: &'static str,
    /// The deny reason (`null` on grant).
    pub reason: Option<&'static str>,
    /// The card's holder then (`null`: unknown or ambiguous card).
    pub user_id: Option<String>,
    /// The UID presented, hex.
    pub uid: String,
    /// The technology, when the reader knew it.
    pub technology: Option<&'static str>,
    /// The controller that asked or decided (`null`: the service's own reader).
    pub controller: Option<i64>,
    /// `online` (decided by the service) or `offline` (by the controller, uploaded).
    pub source: &'static str,
    /// The controller's own ID of an offline event.
    pub event_id: Option<String>,
}

impl From<AccessEvent> for EventView {
    fn from(e: AccessEvent) -> Self {
        Self {
            at: e.at.to_rfc3339(),
            door: e.door,
            decision: e.decision.as_str(),
            reason: e.decision.reason().map(crate::domain::DenyReason::code),
            user_id: e.user_id.map(|u| u.to_string()),
            uid: e.uid.to_string(),
            technology: e.technology.map(Technology::as_str),
            controller: e.controller,
            source: if e.online { "online" } else { "offline" },
            event_id: e.event_id,
        }
    }
}

/// A page of access events.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct EventPage {
    /// Oldest first (online and offline events merged by time).
    pub events: Vec<EventView>,
    /// Pass as `after`, with the same filters, for the next page; absent
    /// when nothing more matches now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

// A movement (who, where, when): never printed by `Debug`.
redacted_debug!(EventView);
