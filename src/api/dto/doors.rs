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
    /// The holder's access levels that touch this controller's doors
    /// (direct and through their group), each with its window: after the
    /// checks above, the door's rules (`rules`) decide with these. Absent:
    /// none (only an entry without a holder has none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub levels: Vec<FeedLevel>,
}

/// An access level held, from `from` (inclusive) to `to` (exclusive).
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct FeedLevel {
    /// The level's ID (in `rules.levels`).
    pub id: i64,
    /// Held from (inclusive, RFC 3339); absent: no start.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    pub from: Option<Timestamp>,
    /// Held until (exclusive, RFC 3339); absent: no end.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    pub to: Option<Timestamp>,
}

impl From<feed::FeedLevel> for FeedLevel {
    fn from(l: feed::FeedLevel) -> Self {
        Self { id: l.id, from: l.from, to: l.to }
    }
}

/// A door of the controller and its site.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct RulesDoor {
    /// The door's name, exactly as the controller says it.
    pub name: String,
    /// Its site's ID (in `sites`).
    pub site: i64,
}

/// A site: the UTC offsets of its time zone, so a controller needs no tz database.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct RulesSite {
    /// The site's ID.
    pub id: i64,
    /// The IANA time zone (informative: `offsets` decides).
    pub tz: String,
    /// `[from, offset]` pairs in order: from `from` (unix seconds) until the
    /// next pair's, the site's local time is UTC plus `offset` seconds. The
    /// first starts at 2000-01-01T00:00:00Z (use its offset before that);
    /// the last holds on.
    #[schema(value_type = Vec<Vec<i64>>)]
    pub offsets: Vec<(i64, i32)>,
}

/// A holiday.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct RulesHoliday {
    /// `YYYY-MM-DD`, local date at the site.
    pub date: String,
    /// Its type (the schedules' `on_holiday` keys).
    #[serde(rename = "type")]
    pub kind: String,
    /// Recurs every year on this month and day (29 February: leap years only). Absent: `false`.
    #[serde(skip_serializing_if = "is_false")]
    #[schema(required = false, default = false)]
    pub yearly: bool,
}

/// A holiday calendar.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct RulesCalendar {
    /// The calendar's ID.
    pub id: i64,
    /// Its holidays (a one-off date wins over a yearly one on the same day).
    pub holidays: Vec<RulesHoliday>,
}

/// A schedule, in its site's local wall-clock time.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct RulesSchedule {
    /// The schedule's ID.
    pub id: i64,
    /// The site whose local time it is written in.
    pub site: i64,
    /// Its holiday calendar; absent: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub calendar: Option<i64>,
    /// Weekly intervals, `DAYS HH:MM-HH:MM` (`mon-fri 22:00-06:00`; an end
    /// at or before the start crosses midnight; `00:00-00:00` is the whole day).
    pub intervals: Vec<String>,
    /// By holiday type: `closed`, or `HH:MM-HH:MM` ranges joined by `,`
    /// that replace the day's weekly intervals. A type not named leaves them.
    pub on_holiday: std::collections::BTreeMap<String, String>,
}

/// A level's grant, flattened to this controller's doors.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct RulesGrant {
    /// The doors it opens (names, as in `doors`).
    pub doors: Vec<String>,
    /// Its schedule's ID; one missing from `schedules` is never open.
    pub schedule: i64,
}

/// An access level: only its grants covering this controller's doors.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct RulesLevel {
    /// The level's ID (entries' `levels[].id`).
    pub id: i64,
    /// Its grants.
    pub grants: Vec<RulesGrant>,
}

/// The rules for this controller's doors: replace those held. Only what
/// touches its doors is listed; no personal data.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct FeedRules {
    /// The controller's doors.
    pub doors: Vec<RulesDoor>,
    /// The sites of its doors and schedules.
    pub sites: Vec<RulesSite>,
    /// The calendars its schedules use.
    pub calendars: Vec<RulesCalendar>,
    /// The schedules of the grants listed.
    pub schedules: Vec<RulesSchedule>,
    /// The levels with a grant covering one of its doors.
    pub levels: Vec<RulesLevel>,
}

impl From<feed::FeedRules> for FeedRules {
    fn from(r: feed::FeedRules) -> Self {
        Self {
            doors: r.doors.into_iter().map(|d| RulesDoor { name: d.name, site: d.site }).collect(),
            sites: r.sites.into_iter().map(|s| RulesSite { id: s.id, tz: s.tz, offsets: s.offsets }).collect(),
            calendars: r
                .calendars
                .into_iter()
                .map(|c| RulesCalendar {
                    id: c.id,
                    holidays: c
                        .holidays
                        .into_iter()
                        .map(|h| RulesHoliday { date: h.date, kind: h.kind, yearly: h.yearly })
                        .collect(),
                })
                .collect(),
            schedules: r
                .schedules
                .into_iter()
                .map(|s| RulesSchedule {
                    id: s.id,
                    site: s.site,
                    calendar: s.calendar,
                    intervals: s.intervals,
                    on_holiday: s.on_holiday,
                })
                .collect(),
            levels: r
                .levels
                .into_iter()
                .map(|l| RulesLevel {
                    id: l.id,
                    grants: l.grants.into_iter().map(|g| RulesGrant { doors: g.doors, schedule: g.schedule }).collect(),
                })
                .collect(),
        }
    }
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
            levels: all(e.levels),
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
    /// Page 0 of a snapshot, and of a delta when the rules changed since
    /// the cursor: the rules for this controller's doors; replace those
    /// held (a snapshot's once its last page arrived). Absent: keep yours.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub rules: Option<FeedRules>,
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
            rules: f.rules.map(Into::into),
        }
    }
}

/// The answer.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct DecideResponse {
    /// `grant` or `deny`.
    pub decision: &'static str,
    /// Why not (`null` on grant).
    #[schema(value_type = Option<DenyCode>)]
    pub reason: Option<&'static str>,
    /// The card's holder, if it has one.
    pub user_id: Option<String>,
}

/// What became of each uploaded event. Drop an event from the
/// controller's buffer on any result but a `rejected` or `conflict` one
/// with `quarantined: false` (this controller's share of the quarantine
/// is full: send it again later).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct UploadResult {
    /// Events stored now.
    pub accepted: usize,
    /// Events already stored, the same (same controller and event ID).
    pub duplicates: usize,
    /// Events whose event ID is stored with different content: the stored
    /// one stands; this one is quarantined for staff to see.
    pub conflicts: usize,
    /// Events refused (quarantined for staff to see).
    pub rejected: usize,
    /// The controller's clock minus the service's, in seconds, when the
    /// upload said what its clock read (`sent_at`).
    pub skew_secs: Option<i64>,
    /// One result per event, in the order sent: `results[i]` is `events[i]`'s.
    pub results: Vec<EventResult>,
}

/// What became of one uploaded event.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct EventResult {
    /// `accepted`, `duplicate`, `conflict` or `rejected`.
    pub status: EventStatus,
    /// Why it was refused (`rejected`: a stable error code such as
    /// `invalid_input`, `uid_wrong_length` or `forbidden`; `conflict`: `conflict`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// The field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// Accepted, but stamped this many seconds ahead of the time it is
    /// stored at (`clock_ahead`): more than 600 s ahead of the service's
    /// clock, it is stored at its arrival; from a controller whose measured
    /// skew (`sent_at`) is over 600 s, at its stamp corrected by the skew.
    /// The time it claimed is kept (`claimed_at`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_ahead_secs: Option<i64>,
    /// Accepted, but the controller's clock was measured (`sent_at`) more
    /// than 600 s behind: stored at its stamp corrected by the skew, and
    /// stamped this many seconds earlier than that.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_behind_secs: Option<i64>,
    /// For `rejected` and `conflict`: kept in the quarantine for staff.
    /// `false` means this controller's share of the quarantine (10,000
    /// events) is full: keep the event, send it again later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<bool>,
}

/// The result of one uploaded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Stored now.
    Accepted,
    /// Already stored, the same.
    Duplicate,
    /// Its event ID is stored with different content.
    Conflict,
    /// Refused.
    Rejected,
}

impl UploadResult {
    /// The answer to `upload` from the log's outcomes.
    #[must_use]
    pub fn new(upload: &crate::store::events::Upload, outcomes: &[crate::store::events::Outcome]) -> Self {
        use crate::store::events::Outcome;
        let mut r = Self {
            accepted: 0,
            duplicates: 0,
            conflicts: 0,
            rejected: 0,
            skew_secs: upload.skew_secs,
            results: Vec::with_capacity(outcomes.len()),
        };
        for (item, outcome) in upload.items.iter().zip(outcomes) {
            let mut e = EventResult {
                status: EventStatus::Accepted,
                code: None,
                field: None,
                clock_ahead_secs: None,
                clock_behind_secs: None,
                quarantined: None,
            };
            match (outcome, &item.checked) {
                (Outcome::Accepted | Outcome::Duplicate, Ok(ev)) => {
                    e.clock_ahead_secs = ev.clock_ahead_secs();
                    e.clock_behind_secs = ev.clock_behind_secs();
                    if *outcome == Outcome::Duplicate {
                        e.status = EventStatus::Duplicate;
                        r.duplicates += 1;
                    } else {
                        r.accepted += 1;
                    }
                }
                (Outcome::Conflict { quarantined }, _) => {
                    (e.status, e.code, e.field, e.quarantined) =
                        (EventStatus::Conflict, Some("conflict"), Some("event_id"), Some(*quarantined));
                    r.conflicts += 1;
                }
                (Outcome::Rejected { quarantined }, checked) => {
                    let refusal = checked.as_ref().err();
                    (e.status, e.code, e.field, e.quarantined) = (
                        EventStatus::Rejected,
                        refusal.map(|x| x.code),
                        refusal.and_then(|x| x.field),
                        Some(*quarantined),
                    );
                    r.rejected += 1;
                }
                // The log stores only checked events; nothing else reaches it.
                (Outcome::Accepted | Outcome::Duplicate, Err(_)) => {
                    e.status = EventStatus::Rejected;
                    r.rejected += 1;
                }
            }
            r.results.push(e);
        }
        r
    }
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
    #[schema(value_type = Option<DenyCode>)]
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
    /// When the service received an offline event (`null` for online ones).
    pub received_at: Option<String>,
    /// `clock_ahead`: the time the controller stamped on an offline event
    /// that lay more than 600 s ahead of the service's clock; `at` is then
    /// when it was received. `null` otherwise.
    pub claimed_at: Option<String>,
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
            received_at: e.received_at.map(|t| t.to_rfc3339()),
            claimed_at: e.claimed_at.map(|t| t.to_rfc3339()),
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
redacted_debug!(EventView, QuarantinedView, QuarantinePage);

/// A deny reason's code, as the document's enum (the wire carries the
/// code as a string; `docs/controllers.md` gives each one's meaning and
/// the order in which they win).
#[derive(Debug, Clone, Copy)]
pub struct DenyCode;

impl utoipa::PartialSchema for DenyCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(crate::domain::DenyReason::BY_PRECEDENCE.iter().map(|r| r.code())))
            .description(Some("Why a door denies, in the order the checks run (see docs/controllers.md)."))
            .into()
    }
}

impl utoipa::ToSchema for DenyCode {}

/// One event in the upload quarantine.
#[derive(serde::Serialize, ToSchema)]
pub struct QuarantinedView {
    /// Its position in the quarantine.
    pub id: i64,
    /// When its upload arrived (RFC 3339).
    pub received_at: String,
    /// The controller that sent it.
    pub controller: i64,
    /// Its index in that upload.
    pub index: i64,
    /// `rejected` or `conflict`.
    pub status: String,
    /// Why (a stable code).
    pub code: String,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// Its event ID, when it had a readable one.
    pub event_id: Option<String>,
    /// The event as the controller sent it (compact JSON, at most 2048
    /// bytes), each value the contract does not define (an unknown field's,
    /// a `user_id` that is no user ID) replaced by `(not kept)`.
    pub event: String,
}

/// A page of the upload quarantine.
#[derive(serde::Serialize, ToSchema)]
pub struct QuarantinePage {
    /// The entries, oldest first.
    pub entries: Vec<QuarantinedView>,
    /// Pass as `after` for the next page; `null` when none is left now.
    pub next_after: Option<i64>,
}

impl From<crate::ops::events::QuarantinePage> for QuarantinePage {
    fn from(p: crate::ops::events::QuarantinePage) -> Self {
        Self {
            entries: p
                .entries
                .into_iter()
                .map(|q| QuarantinedView {
                    id: q.id,
                    received_at: q.received_at.to_rfc3339(),
                    controller: q.controller,
                    index: q.position,
                    status: q.status,
                    code: q.code,
                    field: q.field,
                    event_id: q.event_id,
                    event: q.event,
                })
                .collect(),
            next_after: p.next_after,
        }
    }
}
