//! The HTTP API's JSON contract: every body a response carries, and what
//! the CLI prints with `--json` — one shape per thing across front ends.
//!
//! Handlers convert at the edge (`Json(dto::UserRecord::from(rec))`); the
//! doc comment of every field is its OpenAPI `description`. Store records
//! and reader types carry no serde or utoipa derives for output: changing
//! one of them never changes what a client parses, and a change to the
//! contract is a change here. Domain value types (`UserId`, `Uid`,
//! `Timestamp`, the state enums) serialise as their canonical strings and
//! are documented here as `String`.
//!
//! Records holding personal data (a person, a search line) print only
//! their type name with `Debug`.

mod access;
mod audit;
mod cards;
mod directory;
mod doors;
mod levels;
mod people;
mod purge;
mod readers;

pub use access::{
    ControllerCreated, ControllerView, Operator, OperatorView, PasswordSet, Revoked, Role, Rotated, TokenResponse,
    TokenView,
};
pub use audit::{AuditEntry, AuditHead, AuditReport, BadEntry, Stats};
pub use cards::{BindingRecord, CredentialRecord, CredentialSummary, Twin};
pub use directory::{DirectoryRun, RunItem};
pub use doors::{
    DecideResponse, DenyCode, EventPage, EventResult, EventStatus, EventView, Feed, FeedEntry, FeedKey, FeedKind,
    FeedLevel, FeedRules, QuarantinePage, QuarantinedView, UploadResult,
};
pub use levels::{
    Access, Area, Assignment, Calendar, Door, DoorAccess, Explained, Holiday, Level, LevelGrant, LevelSchedule,
    Schedule, Site, WhoCan,
};
pub use people::{ExpungePreview, HeldBinding, HeldCredential, UserRecord, UserSummary};
pub use purge::{
    Count, DryRun, EraseReport, JobDetail, JobState, NotErased, PurgeCriteria, PurgeJob, PurgeOutcome, PurgePlan,
    Skipped,
};
pub use readers::{
    CardStatus, CardType, Encoded, Enrollment, RawRead, ReaderEvent, ReaderEventKind, ReaderInfo, ReaderKind,
    ReaderStatus, TapNotice,
};

/// An RFC 9457 problem document: the body of every error
/// (`application/problem+json`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:idms:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened and what to do.
    pub detail: String,
    /// Stable code.
    pub code: String,
}

/// A calendar date as `YYYY-MM-DD`.
fn date_ser<S: serde::Serializer>(d: &::time::Date, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::domain::time::format_date(*d))
}

/// An optional calendar date as `YYYY-MM-DD` or `null`.
fn opt_date_ser<S: serde::Serializer>(d: &Option<::time::Date>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => date_ser(d, s),
        None => s.serialize_none(),
    }
}

/// Converts every element of a list.
fn all<T, U: From<T>>(v: Vec<T>) -> Vec<U> {
    v.into_iter().map(U::from).collect()
}
