//! Purge jobs, the deleted-users erase flow and bulk purge dates: who may,
//! and over whom.
//!
//! Erasers plan and run jobs, erase deleted people and read job history;
//! managers set purge dates in bulk. A scoped caller's job, erase, purge
//! dates and searches are held to their unit — asking for another unit is
//! refused, and a blank stored unit covers no one — and they see only their
//! unit's jobs. A planned job cannot be cancelled by anyone.

use crate::domain::purge::Criteria;
use crate::domain::{DomainError, Timestamp, UserId};
use crate::ops::{Acting, OpsError};
use crate::store::{EraseReport, PeopleQuery, PurgeJob, PurgeOutcome, PurgePlan, Role, Store, UserSummary};

/// `criteria` with its org unit held to the caller's scope.
fn held(acting: &Acting, mut criteria: Criteria) -> Result<Criteria, OpsError> {
    criteria.org_unit = acting.unit_for(criteria.org_unit.take())?;
    Ok(criteria)
}

/// Whether the caller may see a job: any for an unscoped caller, their
/// unit's for a scoped one.
#[must_use]
pub fn visible(acting: &Acting, job: &PurgeJob) -> bool {
    acting.unit().is_none() || acting.covers(job.criteria.org_unit.as_deref())
}

fn job_not_found(id: i64) -> OpsError {
    OpsError::Refused(DomainError::NotFound { what: "purge job", id: id.to_string() })
}

/// The plan a job with these criteria would record; nothing changes.
pub fn dry_run(store: &Store, acting: &Acting, criteria: Criteria) -> Result<PurgePlan, OpsError> {
    acting.require(Role::Eraser)?;
    let criteria = held(acting, criteria)?;
    Ok(store.purge_plan(&acting.actor(), &criteria)?)
}

/// Records a job with its whole plan; a runner then takes it to completion.
pub fn create_job(store: &Store, acting: &Acting, criteria: Criteria) -> Result<PurgeJob, OpsError> {
    acting.require(Role::Eraser)?;
    let criteria = held(acting, criteria)?;
    Ok(store.create_purge_job(&acting.actor(), &criteria)?)
}

/// The newest jobs the caller may see.
pub fn jobs(store: &Store, acting: &Acting, limit: u32) -> Result<Vec<PurgeJob>, OpsError> {
    acting.require(Role::Eraser)?;
    acting.scope()?;
    Ok(store.purge_jobs(limit)?.into_iter().filter(|j| visible(acting, j)).collect())
}

/// One job the caller may see.
pub fn job(store: &Store, acting: &Acting, id: i64) -> Result<PurgeJob, OpsError> {
    acting.require(Role::Eraser)?;
    let job = store.purge_job(id)?;
    if !visible(acting, &job) {
        return Err(job_not_found(id));
    }
    Ok(job)
}

/// One job with a page of its outcomes (people after `after`, in ID order).
pub fn job_outcomes(
    store: &Store,
    acting: &Acting,
    id: i64,
    after: Option<UserId>,
    limit: u32,
) -> Result<(PurgeJob, Vec<PurgeOutcome>), OpsError> {
    let job = job(store, acting, id)?;
    Ok((job, store.purge_outcomes(id, after, limit)?))
}

/// Jobs not yet complete that the caller may see, oldest first (what a
/// runner resumes).
pub fn unfinished(store: &Store, acting: &Acting) -> Result<Vec<i64>, OpsError> {
    acting.require(Role::Eraser)?;
    acting.scope()?;
    let mut ids = Vec::new();
    for id in store.unfinished_purge_jobs()? {
        if visible(acting, &store.purge_job(id)?) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Cancelling is always refused: a planned job runs to completion. The
/// refusal says how far it is and how to keep someone out of it.
pub fn cancel(store: &Store, acting: &Acting, id: i64) -> Result<(), OpsError> {
    let job = job(store, acting, id)?;
    Err(OpsError::Refused(DomainError::JobNotAbortable {
        id,
        done: job.done,
        selected: job.selected,
        state: job.state.as_str(),
    }))
}

/// Deleted people, optionally deleted within `[from, to)`, of the caller's
/// unit for a scoped caller (asking for another unit finds no one).
pub fn deleted(
    store: &Store,
    acting: &Acting,
    q: &str,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    unit: Option<String>,
    limit: u32,
) -> Result<Vec<UserSummary>, OpsError> {
    acting.require(Role::Eraser)?;
    let unit = match (acting.scope()?, unit.filter(|u| !u.trim().is_empty())) {
        (Some(mine), Some(asked)) if asked.trim() != mine => return Ok(Vec::new()),
        (Some(mine), _) => Some(mine.to_owned()),
        (None, asked) => asked,
    };
    Ok(store.search_deleted(q, from, to, unit.as_deref(), limit)?)
}

/// Expunges chosen deleted people, each in its own transaction; a scoped
/// caller's outside their unit are reported as not found.
pub fn erase(store: &Store, acting: &Acting, ids: &[UserId]) -> Result<EraseReport, OpsError> {
    acting.require(Role::Eraser)?;
    let unit = acting.scope()?.map(str::to_owned);
    Ok(store.erase_users(&acting.actor(), ids, unit.as_deref())?)
}

/// Refused unless the caller may set purge dates in bulk (what a front end
/// asks before offering the form).
pub fn may_set_purge_dates(acting: &Acting) -> Result<(), OpsError> {
    acting.require(Role::Manager)
}

/// Sets or clears the purge date of everyone the query matches, held to
/// the caller's unit; one transaction, one audit entry with the count.
pub fn set_purge_dates(
    store: &Store,
    acting: &Acting,
    mut query: PeopleQuery,
    date: Option<::time::Date>,
) -> Result<u64, OpsError> {
    may_set_purge_dates(acting)?;
    query.org_unit = acting.unit_for(query.org_unit.take())?;
    Ok(store.set_purge_dates(&acting.actor(), &query, date)?)
}
