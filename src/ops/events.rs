//! Reading the access-event log: who may, what they see, and the record
//! every read leaves.
//!
//! A movement history is sensitive: reading it needs the `manager` role
//! (viewers, enrollers and door controllers are refused). An operator held
//! to an org unit sees only the events of people now in that unit — the
//! mapping comes from `idms.db`, never from the event — so events without
//! a holder (unknown or ambiguous cards) are not theirs to see, and a
//! holder outside the unit is "not found". Every read, whatever it
//! returned, is audited as one `access_events.read` entry naming its
//! filters (IDs, doors, dates, counts; never personal data). Filters are
//! checked here, each refusal naming the parameter and never echoing its
//! value.

use std::path::Path;

use crate::domain::{DenyReason, DomainError, Timestamp, UserId};
use crate::ops::{Acting, OpsError};
use crate::store::events::{self, Cursor, DecisionFilter, EventQuery};
use crate::store::{AccessEvent, Role, Store, StoreError};

/// Events per page unless asked otherwise.
pub const DEFAULT_LIMIT: usize = 100;
/// The most events one page holds.
pub const MAX_LIMIT: usize = 1000;
/// The longest door name a filter may give (the log keeps 255 bytes).
const MAX_DOOR: usize = 255;

/// The filters as a front end received them, unparsed.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this door (exact).
    pub door: Option<String>,
    /// Only this holder (a user ID).
    pub user_id: Option<String>,
    /// At or after this time (RFC 3339, or a date meaning its midnight UTC).
    pub from: Option<String>,
    /// Before this time.
    pub to: Option<String>,
    /// `grant`, `deny`, or a deny reason's code.
    pub decision: Option<String>,
    /// The `next_after` of the previous page.
    pub after: Option<String>,
    /// Events per page (1 to 1000, default 100).
    pub limit: Option<String>,
    /// Parameters the front end did not recognise or got twice (refused).
    pub unknown: usize,
}

/// One page of events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventList {
    /// The events, merged by time.
    pub events: Vec<AccessEvent>,
    /// Pass as `after` (with the same filters) for the next page; `None`
    /// when nothing more matches now.
    pub next_after: Option<String>,
}

fn invalid(field: &'static str, message: &'static str) -> DomainError {
    DomainError::InvalidQuery { field, message }
}

/// Checks and parses the filters into a log query.
fn parse(f: &EventFilter) -> Result<EventQuery, DomainError> {
    if f.unknown > 0 {
        return Err(invalid(
            "query",
            "a parameter is unknown or given twice; this takes door, user_id, from, to, decision, after and limit, each at most once",
        ));
    }
    let limit = match f.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(s) => s
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| invalid("limit", "a whole number from 1 to 1000"))?,
    };
    let door = match f.door.as_deref() {
        None => None,
        Some(d) if d.is_empty() || d.len() > MAX_DOOR => {
            return Err(invalid("door", "a door name of 1 to 255 bytes"));
        }
        Some(d) => Some(d.to_string()),
    };
    let user = f
        .user_id
        .as_deref()
        .map(|s| s.parse::<UserId>())
        .transpose()
        .map_err(|_| invalid("user_id", "not a user ID; user IDs are 12 characters of 0-9 and A-Z"))?;
    let time = |field: &'static str, s: Option<&str>| {
        Timestamp::parse_opt(field, s).map_err(|_| {
            invalid(field, "expected an RFC 3339 time such as 2026-11-22T09:30:00Z, or a date such as 2026-11-22")
        })
    };
    let from = time("from", f.from.as_deref())?;
    let to = time("to", f.to.as_deref())?;
    if let (Some(a), Some(b)) = (from, to)
        && a >= b
    {
        return Err(invalid("to", "must be later than from (from is inclusive, to exclusive)"));
    }
    let decision = match f.decision.as_deref().map(str::trim) {
        None => None,
        Some("grant") => Some(DecisionFilter::Grant),
        Some("deny") => Some(DecisionFilter::Deny),
        Some(code) => Some(DecisionFilter::Reason(
            DenyReason::from_code(code)
                .ok_or_else(|| invalid("decision", "grant, deny, or a deny reason such as expired"))?,
        )),
    };
    let after = match f.after.as_deref() {
        None => Cursor::default(),
        Some(s) => Cursor::parse(s.trim())
            .ok_or_else(|| invalid("after", "not a position from this log; pass next_after as it was returned"))?,
    };
    Ok(EventQuery { door, user, holders: None, from, to, decision, after, limit })
}

/// What the audit entry says about a query: only the filters given.
fn detail(q: &EventQuery, f: &EventFilter, scoped: bool, returned: usize) -> String {
    let mut d = Vec::new();
    if let Some(door) = &q.door {
        // Quoted, so a door name cannot pose as another field.
        d.push(format!("door={door:?}"));
    }
    if let Some(u) = q.user {
        d.push(format!("user={u}"));
    }
    if let Some(t) = q.from {
        d.push(format!("from={t}"));
    }
    if let Some(t) = q.to {
        d.push(format!("to={t}"));
    }
    if let Some(x) = q.decision {
        d.push(format!("decision={}", x.as_str()));
    }
    if f.after.is_some() {
        d.push(format!("after={}", q.after));
    }
    d.push(format!("limit={}", q.limit));
    if scoped {
        d.push("scope=unit".into());
    }
    d.push(format!("returned={returned}"));
    d.join(" ")
}

/// Reads a page of the access-event log at `events_db` for `acting`: a
/// manager or above, scoped to their org unit if they have one; audited.
pub fn list(store: &Store, events_db: &Path, acting: &Acting, f: &EventFilter) -> Result<EventList, OpsError> {
    acting.require(Role::Manager)?;
    let mut q = parse(f).map_err(OpsError::Refused)?;
    let scoped = match acting.scope()? {
        Some(unit) => {
            match q.user {
                // One person: theirs to see, or refused (and audited) as if missing.
                Some(u) => {
                    crate::ops::load_scoped(store, acting, u).map_err(|e| match e {
                        OpsError::Store(StoreError::Domain(d)) => OpsError::Refused(d),
                        e => e,
                    })?;
                }
                None => q.holders = Some(store.user_ids_in_unit(unit)?),
            }
            true
        }
        None => false,
    };
    let page = events::query(events_db, &q)?;
    store.audit_event_read(&acting.actor(), q.user, detail(&q, f, scoped, page.events.len()))?;
    Ok(EventList { events: page.events, next_after: page.next.map(|c| c.to_string()) })
}

/// A page of the upload quarantine: events controllers sent that were
/// refused or conflicted with a stored one, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuarantinePage {
    /// The entries.
    pub entries: Vec<events::Quarantined>,
    /// Pass as `after` for the next page; `None` when none is left now.
    pub next_after: Option<i64>,
}

/// Refused unless `acting` may read the upload quarantine: a manager or
/// above without an org unit (front ends ask it to offer the page).
pub fn require_quarantine_reader(acting: &Acting) -> Result<(), OpsError> {
    acting.require(Role::Manager)?;
    if acting.scope()?.is_some() {
        return Err(crate::ops::forbidden(
            "the quarantine holds events that belong to no known person or unit; an operator without an org unit reads it",
        ));
    }
    Ok(())
}

/// Reads the upload quarantine at `events_db`: a manager or above without
/// an org unit (its events cannot be told to belong to a unit); audited.
/// `controller` narrows it to one controller; `after` is a previous page's
/// `next_after`; `limit` 1 to 1000 (default 100).
pub fn quarantine(
    store: &Store,
    events_db: &Path,
    acting: &Acting,
    controller: Option<&str>,
    after: Option<&str>,
    limit: Option<&str>,
) -> Result<QuarantinePage, OpsError> {
    require_quarantine_reader(acting)?;
    let number = |field: &'static str, s: Option<&str>, what: &'static str| {
        s.map(|s| s.trim().parse::<i64>().map_err(|_| OpsError::Refused(invalid(field, what)))).transpose()
    };
    let controller = number("controller", controller, "a controller ID")?;
    let after = number("after", after, "the next_after of the previous page")?.unwrap_or(0);
    let limit = match number("limit", limit, "a whole number from 1 to 1000")? {
        None => DEFAULT_LIMIT,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| OpsError::Refused(invalid("limit", "a whole number from 1 to 1000")))?,
    };
    let mut entries = events::quarantined(events_db.parent().unwrap_or(Path::new(".")), controller, after, limit + 1)?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next_after = if more { entries.last().map(|e| e.id) } else { None };
    let mut d = vec!["quarantine".to_string()];
    if let Some(c) = controller {
        d.push(format!("controller={c}"));
    }
    d.push(format!("limit={limit} returned={}", entries.len()));
    store.audit_event_read(&acting.actor(), None, d.join(" "))?;
    Ok(QuarantinePage { entries, next_after })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(set: impl FnOnce(&mut EventFilter)) -> EventFilter {
        let mut f = EventFilter::default();
        set(&mut f);
        f
    }

    fn refused(f: &EventFilter) -> (&'static str, String) {
        match parse(f) {
            Err(e @ DomainError::InvalidQuery { field, .. }) => (field, e.to_string()),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn limits_outside_one_to_a_thousand_are_refused_naming_the_field() {
        for bad in ["0", "1001", "-1", "ten", "", "1e3"] {
            let (field, msg) = refused(&filter(|f| f.limit = Some(bad.into())));
            assert_eq!(field, "limit", "{bad}");
            assert!(msg.contains("1 to 1000"), "{msg}");
        }
        assert_eq!(parse(&EventFilter::default()).unwrap().limit, 100);
        assert_eq!(parse(&filter(|f| f.limit = Some("1000".into()))).unwrap().limit, 1000);
    }

    #[test]
    fn a_bad_user_id_is_refused_without_echoing_it() {
        let (field, msg) = refused(&filter(|f| f.user_id = Some("Jane Doe".into())));
        assert_eq!(field, "user_id");
        assert!(!msg.contains("Jane"), "{msg}");
    }

    #[test]
    fn times_dates_decisions_and_cursors_are_checked() {
        let q = parse(&filter(|f| {
            f.from = Some("2026-01-01".into());
            f.to = Some("2026-01-02T00:00:00+01:00".into());
            f.decision = Some("expired".into());
        }))
        .unwrap();
        assert_eq!(q.from, Some(Timestamp(1_767_225_600)));
        assert_eq!(q.to, Some(Timestamp(1_767_225_600 + 23 * 3600)));
        assert_eq!(q.decision, Some(DecisionFilter::Reason(DenyReason::Expired)));
        assert_eq!(refused(&filter(|f| f.from = Some("yesterday".into()))).0, "from");
        assert_eq!(
            refused(&filter(|f| {
                f.from = Some("2026-01-02".into());
                f.to = Some("2026-01-02".into());
            }))
            .0,
            "to"
        );
        assert_eq!(refused(&filter(|f| f.decision = Some("maybe".into()))).0, "decision");
        assert_eq!(refused(&filter(|f| f.after = Some("12".into()))).0, "after");
        assert_eq!(refused(&filter(|f| f.door = Some(String::new()))).0, "door");
        assert_eq!(refused(&filter(|f| f.unknown = 1)).0, "query");
    }

    #[test]
    fn the_audit_detail_names_only_the_filters_given() {
        let f = filter(|f| {
            f.door = Some("main \"x\" limit=1".into());
            f.decision = Some("grant".into());
        });
        let q = parse(&f).unwrap();
        assert_eq!(
            detail(&q, &f, true, 3),
            r#"door="main \"x\" limit=1" decision=grant limit=100 scope=unit returned=3"#
        );
    }
}
