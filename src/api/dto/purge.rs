//! Purge jobs, dry runs, the bulk erase and bulk purge dates.

use ::time::Date;
use utoipa::ToSchema;

use super::{all, date_ser};
use crate::domain::purge::{Criteria, units_from_minor};
use crate::domain::{Timestamp, UserId};
use crate::store::purge as store;

/// A purge job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// The plan is recorded; nobody has been expunged yet.
    Planned,
    /// Under way (or interrupted, to be resumed).
    Running,
    /// Every selected person has an outcome.
    Completed,
}

impl From<store::JobState> for JobState {
    fn from(s: store::JobState) -> Self {
        match s {
            store::JobState::Planned => Self::Planned,
            store::JobState::Running => Self::Running,
            store::JobState::Completed => Self::Completed,
        }
    }
}

/// The criteria a job was planned with, the threshold as an amount.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PurgeCriteria {
    /// Days the purge date must lie in the past (0: today or earlier).
    pub grace_days: u32,
    /// Only this record type; `null`: any.
    pub record_type: Option<String>,
    /// Only this group; `null`: any.
    pub group: Option<String>,
    /// Only this organisational unit; `null`: any.
    pub org_unit: Option<String>,
    /// Anyone owing more than this amount was skipped.
    pub waive_threshold: f64,
    /// Only people already deleted were selected.
    pub only_deleted: bool,
}

impl From<Criteria> for PurgeCriteria {
    fn from(c: Criteria) -> Self {
        Self {
            grace_days: c.grace_days,
            record_type: c.record_type,
            group: c.group,
            org_unit: c.org_unit,
            waive_threshold: units_from_minor(c.waive_threshold),
            only_deleted: c.only_deleted,
        }
    }
}

/// A purge job as recorded.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct PurgeJob {
    /// The job's number (`/api/v1/purge-jobs/{id}`).
    pub id: i64,
    /// Where it is: `planned`, `running` or `completed`.
    pub state: JobState,
    /// The criteria it was planned with: `grace_days`, `record_type`,
    /// `group`, `org_unit`, `waive_threshold` (an amount) and `only_deleted`.
    #[schema(value_type = Object)]
    pub criteria: PurgeCriteria,
    /// The date the plan was judged on (`YYYY-MM-DD`).
    #[schema(value_type = String)]
    #[serde(serialize_with = "date_ser")]
    pub today: Date,
    /// People selected for expunge.
    pub selected: u64,
    /// People considered and skipped at planning.
    pub skipped: u64,
    /// Selected people with an outcome so far (progress: `done` of `selected`).
    pub done: u64,
    /// Of those, expunged (the rest were skipped when reached: see outcomes).
    pub expunged: u64,
    /// Who created it (`operator:<id>` or `cli`).
    pub created_by: String,
    /// When it was created (RFC 3339, UTC).
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// When the first person was processed; `null` until then.
    #[schema(value_type = Option<String>)]
    pub started_at: Option<Timestamp>,
    /// When the last one was; `null` until the job is complete.
    #[schema(value_type = Option<String>)]
    pub completed_at: Option<Timestamp>,
}

impl From<store::PurgeJob> for PurgeJob {
    fn from(j: store::PurgeJob) -> Self {
        Self {
            id: j.id,
            state: j.state.into(),
            criteria: j.criteria.into(),
            today: j.today,
            selected: j.selected,
            skipped: j.skipped,
            done: j.done,
            expunged: j.expunged,
            created_by: j.created_by,
            created_at: j.created_at,
            started_at: j.started_at,
            completed_at: j.completed_at,
        }
    }
}

/// One person in a job: selected or skipped at planning, and what happened.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct PurgeOutcome {
    /// The person.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// Selected by the plan (`false`: skipped at planning).
    pub selected: bool,
    /// `expunged`, `skipped`, or `pending` (selected, not reached yet).
    pub outcome: &'static str,
    /// Why skipped (stable codes: `not_deleted`, `legal_hold`, `directory_linked`, `unreturned_items`, `balance_over_threshold`).
    pub reasons: Vec<String>,
    /// When the outcome was recorded (RFC 3339, UTC); `null` while pending.
    #[schema(value_type = Option<String>)]
    pub at: Option<Timestamp>,
}

impl From<store::PurgeOutcome> for PurgeOutcome {
    fn from(o: store::PurgeOutcome) -> Self {
        Self { user_id: o.user_id, selected: o.selected, outcome: o.outcome, reasons: o.reasons, at: o.at }
    }
}

/// A plan: whom the criteria select and whom they skip, and why.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct PurgePlan {
    /// The date it was judged on (`YYYY-MM-DD`).
    #[schema(value_type = String)]
    #[serde(serialize_with = "date_ser")]
    pub today: Date,
    /// User IDs to be expunged, in ID order.
    #[schema(value_type = Vec<String>)]
    pub selected: Vec<UserId>,
    /// Considered and kept, with every reason that applies.
    pub skipped: Vec<Skipped>,
}

impl From<store::PurgePlan> for PurgePlan {
    fn from(p: store::PurgePlan) -> Self {
        Self { today: p.today, selected: p.selected, skipped: all(p.skipped) }
    }
}

/// A person a plan keeps.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct Skipped {
    /// The person.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// Stable codes, in a fixed order: `not_deleted`, `legal_hold`, `directory_linked`, `unreturned_items`, `balance_over_threshold`.
    pub reasons: Vec<&'static str>,
}

impl From<store::Skipped> for Skipped {
    fn from(s: store::Skipped) -> Self {
        Self { user_id: s.user_id, reasons: s.reasons }
    }
}

/// What a bulk erase did for each person asked for.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct EraseReport {
    /// User IDs expunged now.
    #[schema(value_type = Vec<String>)]
    pub erased: Vec<UserId>,
    /// Not expunged, each with the refusal.
    pub not_erased: Vec<NotErased>,
}

impl From<store::EraseReport> for EraseReport {
    fn from(r: store::EraseReport) -> Self {
        Self { erased: r.erased, not_erased: all(r.not_erased) }
    }
}

/// A person a bulk erase refused.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct NotErased {
    /// The person.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// Stable code (`holder_not_deleted`, `legal_hold`, `already_expunged`, `not_found`, …).
    pub code: &'static str,
    /// What it means (IDs and states only).
    pub message: String,
}

impl From<store::NotErased> for NotErased {
    fn from(n: store::NotErased) -> Self {
        Self { user_id: n.user_id, code: n.code, message: n.message }
    }
}

/// What a dry run found.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct DryRun {
    /// Always true.
    pub dry_run: bool,
    /// How many would be expunged.
    pub selected_count: usize,
    /// How many would be kept.
    pub skipped_count: usize,
    /// The plan itself.
    pub plan: PurgePlan,
}

impl From<store::PurgePlan> for DryRun {
    fn from(p: store::PurgePlan) -> Self {
        Self { dry_run: true, selected_count: p.selected.len(), skipped_count: p.skipped.len(), plan: p.into() }
    }
}

/// A job with a page of its per-person outcomes.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct JobDetail {
    /// The job.
    #[serde(flatten)]
    pub job: PurgeJob,
    /// People of the plan in ID order (a page of them).
    pub outcomes: Vec<PurgeOutcome>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<String>,
}

/// How many people were changed.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Count {
    /// People changed.
    pub count: u64,
}
