//! **Audit**: the hash-chained audit trail, oldest first, a page at a time
//! (a keyset cursor: the next page starts after the last entry's sequence
//! number, as `GET /api/v1/audit?since=` does), filtered by actor and by the
//! person acted on (the API's filters), and — on asking — the chain's
//! verification with its head (`ops::audit::verify`), optionally checked
//! against a head recorded earlier. Who may read it is `ops::audit`'s
//! rule (managers and above without an org unit).

use axum::extract::{Query, State};
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::{AppState, op};
use crate::domain::UserId;
use crate::ops;
use crate::store::AuditQuery;
use crate::store::audit::AuditHead;
use crate::ui::error::UiError;
use crate::ui::session::Session;
use crate::ui::{Hx, Nav, html};

/// Where the page lives.
pub const HERE: &str = "/ui/audit";

/// Entries per page.
pub const PAGE_ENTRIES: u32 = 50;

/// The page's query string.
#[derive(Deserialize, Default, Debug)]
pub struct AuditParams {
    /// Only this actor (`operator:<id>`, `controller:<id>`, `cli`).
    #[serde(default)]
    pub actor: String,
    /// Only entries about this person (user ID).
    #[serde(default)]
    pub target: String,
    /// Entries after this sequence number (the cursor).
    pub since: Option<i64>,
    /// Present: verify the chain.
    pub verify: Option<String>,
    /// A head recorded earlier (`SEQ:HASH`) the chain must still hold.
    #[serde(default)]
    pub expect: String,
}

/// An entry as shown.
#[derive(Debug)]
pub struct EntryLine {
    /// Its sequence number.
    pub seq: i64,
    /// When (UTC).
    pub at: crate::ui::time::Shown,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// The person acted on (user ID), if any.
    pub target: String,
    /// The card acted on (UID), if any.
    pub credential: String,
    /// `ok` or the refusal's code.
    pub outcome: String,
    /// Extra facts (never personal data).
    pub detail: String,
}

/// What verifying the chain found.
#[derive(Debug)]
pub enum Verdict {
    /// Every link holds.
    Intact {
        /// "N entries verified".
        words: String,
        /// The newest entry, `SEQ:HASH`, to record outside IDMS.
        head: Option<String>,
        /// The recorded head asked about, which the chain still holds.
        held: Option<String>,
    },
    /// The chain breaks at an entry.
    Broken {
        /// The entry.
        seq: i64,
        /// What does not hold (a stable code).
        problem: &'static str,
    },
    /// The recorded head asked about is no longer in the chain.
    HeadMissing,
}

/// The Audit page (for htmx, only the entries).
#[derive(askama::Template)]
#[template(path = "audit.html", blocks = ["entries"])]
pub struct AuditPage {
    /// The header.
    pub nav: Nav,
    /// The actor filter as typed.
    pub actor: String,
    /// The person filter as typed.
    pub target: String,
    /// Why the person filter was not used (plain words).
    pub target_problem: Option<&'static str>,
    /// The recorded head as typed.
    pub expect: String,
    /// Why the recorded head was not used.
    pub expect_problem: Option<&'static str>,
    /// The entries of this page.
    pub rows: Vec<EntryLine>,
    /// This page starts after an entry (not the first page).
    pub since: Option<i64>,
    /// The next page starts after this entry, when there is one.
    pub next: Option<i64>,
    /// The verification, when asked.
    pub verdict: Option<Verdict>,
}

impl std::fmt::Debug for AuditPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditPage").field("rows", &self.rows.len()).finish_non_exhaustive()
    }
}

/// `GET /ui/audit?actor=…&target=…&since=…` (and `verify=1&expect=…`).
pub async fn page(
    State(s): State<AppState>,
    session: Session,
    hx: Hx,
    Query(p): Query<AuditParams>,
) -> Result<Response, UiError> {
    let (actor, target) = (p.actor.trim().to_owned(), p.target.trim().to_owned());
    let (target_id, target_problem) = match target.as_str() {
        "" => (None, None),
        t => match t.parse::<UserId>() {
            Ok(id) => (Some(id), None),
            Err(_) => (None, Some("Not a user ID: user IDs are 12 characters of 0-9 and A-Z.")),
        },
    };
    let expect_text = p.expect.trim().to_owned();
    let (expect, expect_problem) = match expect_text.as_str() {
        "" => (None, None),
        e => match AuditHead::parse(e) {
            Ok(h) => (Some(h), None),
            Err(_) => (None, Some("Not a head: a sequence number, a colon and 64 hex digits, as shown here.")),
        },
    };
    let q = AuditQuery {
        after_seq: p.since.filter(|s| *s > 0),
        actor: (!actor.is_empty()).then(|| actor.clone()),
        target_user: target_id,
        limit: Some(PAGE_ENTRIES + 1),
    };
    // A person filter that is not a user ID shows no entries (rather than all).
    let list = target_problem.is_none();
    let verify = p.verify.is_some() && expect_problem.is_none();
    let (mut entries, verdict) = op(&s, &session.acting, move |st, a| {
        let entries = if list { ops::audit::entries(st, a, &q)? } else { ops::audit::entries(st, a, &no_entries())? };
        let verdict = if verify {
            Some(match ops::audit::verify(st, a, expect.as_ref()) {
                Ok(r) => match r.first_bad {
                    Some(b) => Verdict::Broken { seq: b.seq, problem: b.problem },
                    None => Verdict::Intact {
                        words: ops::audit::entries_verified(r.entries),
                        head: r.head.map(|h| h.to_string()),
                        held: expect.map(|h| h.to_string()),
                    },
                },
                Err(e) if e.code() == "audit_head_missing" => Verdict::HeadMissing,
                Err(e) => return Err(e),
            })
        } else {
            None
        };
        Ok((entries, verdict))
    })
    .await?;
    let more = entries.len() > PAGE_ENTRIES as usize;
    entries.truncate(PAGE_ENTRIES as usize);
    let next = if more { entries.last().map(|e| e.seq) } else { None };
    let page = AuditPage {
        nav: Nav::new(&session, HERE),
        actor,
        target,
        target_problem,
        expect: expect_text,
        expect_problem,
        rows: entries
            .into_iter()
            .map(|e| EntryLine {
                seq: e.seq,
                at: crate::ui::time::Shown(e.at),
                actor: e.actor,
                action: e.action,
                target: e.target_user.map(|u| u.to_string()).unwrap_or_default(),
                credential: e.target_credential.unwrap_or_default(),
                outcome: e.outcome,
                detail: e.detail,
            })
            .collect(),
        since: p.since,
        next,
        verdict,
    };
    let mut res = if hx.partial { html(&page.as_entries())? } else { html(&page)? }.into_response();
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(res)
}

/// A query that matches nothing (the role is still asked of `ops`).
fn no_entries() -> AuditQuery {
    AuditQuery { after_seq: Some(i64::MAX), actor: None, target_user: None, limit: Some(1) }
}
