//! **Overview**: the office at a glance — the counts of `/stats` (people
//! per state, erased people still counted, and cards per state), the
//! readers the service sees and how many are online, and the purge jobs
//! not yet completed. Every figure comes from the same `ops` functions as
//! the API (`ops::audit::stats`, `ops::readers::list`, `ops::purge::jobs`);
//! a part the caller's role does not reach is left out, as `ops` says.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::api::{AppState, op};
use crate::ops;
use crate::readers::{ReaderKind, ReaderStatus};
use crate::ui::error::UiError;
use crate::ui::session::Session;
use crate::ui::{Nav, html};

/// Where the page lives.
pub const HERE: &str = "/ui/overview";

/// How many jobs the overview looks through for unfinished ones.
const JOBS_SCANNED: u32 = 50;

/// A count.
#[derive(Debug)]
pub struct Count {
    /// The state.
    pub state: &'static str,
    /// How many.
    pub n: u64,
}

/// A reader.
#[derive(Debug)]
pub struct ReaderLine {
    /// Its name.
    pub name: String,
    /// Desk (PC/SC) or OSDP.
    pub kind: &'static str,
    /// Its state in words.
    pub status: &'static str,
    /// Connected.
    pub online: bool,
}

/// A purge job not yet completed.
#[derive(Debug)]
pub struct JobLine {
    /// Its number.
    pub id: i64,
    /// `planned` or `running`.
    pub state: &'static str,
    /// People with an outcome so far.
    pub done: u64,
    /// People selected.
    pub selected: u64,
}

/// The Overview page.
#[derive(askama::Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    /// The header.
    pub nav: Nav,
    /// People per state (expunged included).
    pub people: Vec<Count>,
    /// Everyone ever recorded.
    pub people_total: u64,
    /// Cards per state.
    pub cards: Vec<Count>,
    /// The readers.
    pub readers: Vec<ReaderLine>,
    /// Of them, online.
    pub online: usize,
    /// Unfinished purge jobs, when the role may see jobs.
    pub jobs: Option<Vec<JobLine>>,
}

impl std::fmt::Debug for OverviewPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverviewPage").finish_non_exhaustive()
    }
}

fn kind(k: ReaderKind) -> &'static str {
    match k {
        ReaderKind::Pcsc => "Desk reader (PC/SC)",
        ReaderKind::Osdp => "OSDP device",
    }
}

fn status(s: ReaderStatus) -> (&'static str, bool) {
    match s {
        ReaderStatus::Ready => ("Ready", true),
        ReaderStatus::CardPresent => ("Card present", true),
        ReaderStatus::Unavailable => ("Unavailable", false),
    }
}

/// `GET /ui/overview`.
pub async fn page(State(s): State<AppState>, session: Session) -> Result<Response, UiError> {
    let hub = s.readers.clone();
    let (stats, readers, jobs) = op(&s, &session.acting, move |st, a| {
        let stats = ops::audit::stats(st, a)?;
        let readers = ops::readers::list(&hub, a)?;
        // Jobs are for the roles `ops` lets read them; for the others the
        // part is left out (their refusal is not an attempt: not audited).
        let jobs = match ops::purge::jobs(st, a, JOBS_SCANNED) {
            Ok(j) => Some(j),
            Err(e) if e.code() == "forbidden" => None,
            Err(e) => return Err(e),
        };
        Ok((stats, readers, jobs))
    })
    .await?;
    let people: Vec<Count> = stats.users.iter().map(|(state, n)| Count { state, n: *n }).collect();
    let readers: Vec<ReaderLine> = readers
        .into_iter()
        .map(|r| {
            let (status, online) = status(r.status);
            ReaderLine { name: r.name, kind: kind(r.kind), status, online }
        })
        .collect();
    let page = OverviewPage {
        nav: Nav::new(&session, HERE),
        people_total: people.iter().map(|c| c.n).sum(),
        people,
        cards: stats.credentials.iter().map(|(state, n)| Count { state, n: *n }).collect(),
        online: readers.iter().filter(|r| r.online).count(),
        readers,
        jobs: jobs.map(|js| {
            js.into_iter()
                .filter(|j| j.state != crate::store::JobState::Completed)
                .map(|j| JobLine { id: j.id, state: j.state.as_str(), done: j.done, selected: j.selected })
                .collect()
        }),
    };
    Ok(html(&page)?.into_response())
}
