//! `idms events list`: the access-event log, through the rule layer as
//! the local CLI (every role, no unit), audited like an API read.

use clap::Subcommand;
use idms::ops::Acting;
use idms::ops::events::EventFilter;
use idms::store::{Store, StoreError, events::EVENTS_FILE};

use super::output::{self, Table, opt};
use super::{Cli, actor, data_dir};

#[derive(Subcommand)]
pub(super) enum EventsCmd {
    /// Door decisions (online and uploaded), oldest first, one page at a time.
    /// Every listing is audited with its filters.
    List {
        /// Only this door.
        #[arg(long)]
        door: Option<String>,
        /// Only this holder's events (a user ID).
        #[arg(long = "user")]
        user_id: Option<String>,
        /// At or after this time (RFC 3339, or a date: its midnight UTC).
        #[arg(long)]
        from: Option<String>,
        /// Before this time (exclusive).
        #[arg(long)]
        to: Option<String>,
        /// `grant`, `deny`, or a deny reason such as `expired`.
        #[arg(long)]
        decision: Option<String>,
        /// Continue from a previous page's `next after` position (same filters).
        #[arg(long)]
        after: Option<String>,
        /// Events per page: 1 to 1000 (default 100).
        #[arg(long)]
        limit: Option<String>,
    },
}

pub(super) fn run(cli: &Cli, s: &Store, cmd: &EventsCmd) -> Result<(), StoreError> {
    let EventsCmd::List { door, user_id, from, to, decision, after, limit } = cmd;
    let f = EventFilter {
        door: door.clone(),
        user_id: user_id.clone(),
        from: from.clone(),
        to: to.clone(),
        decision: decision.clone(),
        after: after.clone(),
        limit: limit.clone(),
        unknown: 0,
    };
    let actor = actor(cli);
    let acting = Acting::Local(actor.clone());
    let page = super::ops_audited(
        s,
        &actor,
        "access_events.read",
        idms::ops::events::list(s, &data_dir(cli).join(EVENTS_FILE), &acting, &f),
    )?;
    if cli.json {
        let events: Vec<_> = page
            .events
            .iter()
            .map(|e| {
                serde_json::json!({
                    "at": e.at, "door": e.door, "decision": e.decision.as_str(),
                    "reason": e.decision.reason().map(|r| r.code()), "user_id": e.user_id, "uid": e.uid,
                    "technology": e.technology.map(|t| t.as_str()), "controller": e.controller,
                    "source": if e.online { "online" } else { "offline" }, "event_id": e.event_id,
                })
            })
            .collect();
        let mut body = serde_json::json!({ "events": events });
        if let (Some(next), Some(o)) = (&page.next_after, body.as_object_mut()) {
            o.insert("next_after".into(), serde_json::Value::String(next.clone()));
        }
        output::json(&body);
        return Ok(());
    }
    if page.events.is_empty() {
        println!("no access events match (events are kept for events_retention_days, default 365)");
        return Ok(());
    }
    let mut t = Table::new(&["AT", "DOOR", "DECISION", "REASON", "USER", "UID", "SOURCE"]);
    for e in &page.events {
        t.row(vec![
            e.at.to_string(),
            e.door.clone(),
            e.decision.as_str().to_string(),
            opt(e.decision.reason().map(|r| r.code())),
            opt(e.user_id),
            e.uid.to_string(),
            if e.online { "online" } else { "offline" }.to_string(),
        ]);
    }
    t.print();
    if let Some(next) = &page.next_after {
        println!("more: --after {next}");
    }
    Ok(())
}
