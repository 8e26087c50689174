//! Bulk lifecycle in the database: purge jobs (the plan, per-user steps,
//! history, pruning), the deleted-users erase flow and bulk purge dates.
//!
//! A purge job is recorded with its whole plan — every person it considered,
//! selected or skipped with reasons — in one transaction before anything
//! changes. [`Store::purge_step`] then takes the next pending people in ID
//! order, judges each again against the same criteria and date (a legal hold
//! placed since the plan still protects), and expunges them: each person's
//! delete, expunge, audit entries and outcome row commit together, so a
//! crash leaves every person either untouched-and-pending or
//! expunged-and-recorded, never in between. The pending set lives in the
//! database, so any process can resume a job after a crash.

use std::time::{Duration, Instant};

use ::time::{Date, Duration as Days};
use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::purge::{Candidate, Criteria, SkipReason, Verdict, judge};
use crate::domain::time::format_date;
use crate::domain::time::parse_date;
use crate::domain::{DomainError, LifecycleAction, Origin, Timestamp, UserFacts, UserId, UserState, transition};
use crate::store::audit::{self, AuditDraft};
use crate::store::users::{MAX_CODE, MAX_FIELD, clean, expunge_in, lifecycle_in};
use crate::store::{Actor, Store, StoreError, Tx, columns};

/// How long a completed job's record is kept.
pub const JOB_RETENTION_SECS: i64 = 365 * 86_400;

/// A purge job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// The plan is recorded; nobody has been expunged yet.
    Planned,
    /// Under way (or interrupted, to be resumed).
    Running,
    /// Every selected person has an outcome.
    Completed,
}

impl JobState {
    /// The stored and shown name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Running => "running",
            Self::Completed => "completed",
        }
    }

    fn from_name(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "planned" => Self::Planned,
            "running" => Self::Running,
            "completed" => Self::Completed,
            _ => return Err(StoreError::Corrupt("purge job state")),
        })
    }
}

/// A purge job as recorded.
#[derive(Debug, Clone)]
pub struct PurgeJob {
    /// The job's number.
    pub id: i64,
    /// Where it is.
    pub state: JobState,
    /// The criteria it was planned with.
    pub criteria: Criteria,
    /// The date the plan was judged on.
    pub today: Date,
    /// People selected for expunge.
    pub selected: u64,
    /// People considered and skipped at planning.
    pub skipped: u64,
    /// Selected people with an outcome so far.
    pub done: u64,
    /// Of those, expunged (the rest were skipped when reached: see outcomes).
    pub expunged: u64,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: Timestamp,
    /// When the first person was processed.
    pub started_at: Option<Timestamp>,
    /// When the last one was.
    pub completed_at: Option<Timestamp>,
}

/// One person in a job: selected or skipped at planning, and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeOutcome {
    /// The person.
    pub user_id: UserId,
    /// Selected by the plan.
    pub selected: bool,
    /// `expunged`, `skipped`, or `pending` (selected, not reached yet).
    pub outcome: &'static str,
    /// Why skipped (stable codes).
    pub reasons: Vec<String>,
    /// When the outcome was recorded.
    pub at: Option<Timestamp>,
}

/// A plan: whom the criteria select and whom they skip, and why.
#[derive(Debug, Clone)]
pub struct PurgePlan {
    /// The date it was judged on.
    pub today: Date,
    /// To be expunged, in ID order.
    pub selected: Vec<UserId>,
    /// Considered and kept, with every reason that applies.
    pub skipped: Vec<Skipped>,
}

/// A person a plan keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The person.
    pub user_id: UserId,
    /// Stable codes, in a fixed order.
    pub reasons: Vec<&'static str>,
}

/// What one [`Store::purge_step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// People given an outcome in this step.
    pub processed: u64,
    /// Of those, expunged.
    pub expunged: u64,
    /// The job is complete.
    pub finished: bool,
}

/// Which people a bulk purge-date change applies to (at least one filter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleQuery {
    /// Group.
    pub group: Option<String>,
    /// Record type.
    pub record_type: Option<String>,
    /// Lifecycle state (never `expunged`).
    pub state: Option<UserState>,
    /// Deleted before this time.
    pub deleted_before: Option<Timestamp>,
    /// Organisational unit (forced for a scoped operator).
    pub org_unit: Option<String>,
}

/// What a bulk erase did for each person asked for.
#[derive(Debug, Clone, Default)]
pub struct EraseReport {
    /// Expunged now.
    pub erased: Vec<UserId>,
    /// Not expunged, each with the refusal.
    pub not_erased: Vec<NotErased>,
}

/// A person a bulk erase refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotErased {
    /// The person.
    pub user_id: UserId,
    /// Stable code (`holder_not_deleted`, `legal_hold`, `already_expunged`, `not_found`, …).
    pub code: &'static str,
    /// What it means (IDs and states only).
    pub message: String,
}

const CANDIDATE_SQL: &str = "SELECT id, state, purge_date, record_type, user_group, org_unit, balance,
    unreturned_items, legal_hold, directory_source IS NOT NULL AND directory_gone_at IS NULL FROM users";

/// The facts the criteria look at, owned.
struct Row {
    id: UserId,
    state: UserState,
    purge_date: Option<Date>,
    record_type: Option<String>,
    group: Option<String>,
    org_unit: Option<String>,
    balance: i64,
    unreturned_items: u32,
    legal_hold: bool,
    directory_linked: bool,
}

impl Row {
    fn read(r: &rusqlite::Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: UserId::from_i64(r.get(0)?),
            state: columns::user_state(r, 1)?,
            purge_date: columns::opt_date(r, 2)?,
            record_type: r.get(3)?,
            group: r.get(4)?,
            org_unit: r.get(5)?,
            balance: r.get(6)?,
            unreturned_items: r.get(7)?,
            legal_hold: r.get(8)?,
            directory_linked: r.get(9)?,
        })
    }

    fn candidate(&self) -> Candidate<'_> {
        Candidate {
            state: self.state,
            purge_date: self.purge_date,
            record_type: self.record_type.as_deref(),
            group: self.group.as_deref(),
            org_unit: self.org_unit.as_deref(),
            balance: self.balance,
            unreturned_items: self.unreturned_items,
            legal_hold: self.legal_hold,
            directory_linked: self.directory_linked,
        }
    }
}

fn codes(reasons: &[SkipReason]) -> Vec<&'static str> {
    reasons.iter().map(|r| r.code()).collect()
}

/// Criteria as the store takes them: codes trimmed, empty ones absent,
/// over-long ones refused — the one place every caller's input goes through.
fn clean_criteria(c: &Criteria) -> Result<Criteria, DomainError> {
    Ok(Criteria {
        record_type: clean("record_type", c.record_type.clone(), MAX_CODE)?,
        group: clean("group", c.group.clone(), MAX_CODE)?,
        org_unit: clean("org_unit", c.org_unit.clone(), MAX_FIELD)?,
        ..c.clone()
    })
}

/// Judges everyone with a purge date on or before the grace cut-off (the
/// partial index on `purge_date` finds them; `judge` decides).
fn plan_in(conn: &Connection, c: &Criteria, today: Date) -> Result<PurgePlan, StoreError> {
    let mut plan = PurgePlan { today, selected: Vec::new(), skipped: Vec::new() };
    let Some(cutoff) = today.checked_sub(Days::days(i64::from(c.grace_days))) else { return Ok(plan) };
    let mut stmt = conn.prepare_cached(&format!(
        "{CANDIDATE_SQL} WHERE purge_date IS NOT NULL AND state <> 'expunged' AND purge_date <= ?1 ORDER BY id"
    ))?;
    let mut rows = stmt.query([format_date(cutoff)])?;
    while let Some(r) = rows.next()? {
        let row = Row::read(r)?;
        match judge(c, &row.candidate(), today) {
            Verdict::OutOfScope => {}
            Verdict::Select => plan.selected.push(row.id),
            Verdict::Skip(reasons) => plan.skipped.push(Skipped { user_id: row.id, reasons: codes(&reasons) }),
        }
    }
    Ok(plan)
}

const JOB_COLUMNS: &str =
    "id, state, criteria, today, selected, skipped, done, expunged, created_by, created_at, started_at, completed_at";

fn job_from_row(r: &rusqlite::Row<'_>) -> Result<PurgeJob, StoreError> {
    let state: String = r.get(1)?;
    let criteria: String = r.get(2)?;
    let today: String = r.get(3)?;
    let count = |i| r.get::<_, i64>(i).map(i64::unsigned_abs);
    Ok(PurgeJob {
        id: r.get(0)?,
        state: JobState::from_name(&state)?,
        criteria: serde_json::from_str(&criteria).map_err(|_| StoreError::Corrupt("purge job criteria"))?,
        today: parse_date("today", &today).map_err(|_| StoreError::Corrupt("purge job date"))?,
        selected: count(4)?,
        skipped: count(5)?,
        done: count(6)?,
        expunged: count(7)?,
        created_by: r.get(8)?,
        created_at: Timestamp(r.get(9)?),
        started_at: r.get::<_, Option<i64>>(10)?.map(Timestamp),
        completed_at: r.get::<_, Option<i64>>(11)?.map(Timestamp),
    })
}

fn load_job(conn: &Connection, id: i64) -> Result<PurgeJob, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM purge_jobs WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(r) => job_from_row(r),
        None => Err(DomainError::NotFound { what: "purge job", id: id.to_string() }.into()),
    }
}

fn today_of(now: Timestamp) -> Result<Date, StoreError> {
    now.date().ok_or(StoreError::Corrupt("clock"))
}

/// What happens to one pending person: judged again, then expunged (deleted
/// first if need be) or skipped. Refusals are outcomes; any other error
/// aborts the whole step (its transaction rolls back).
fn process_one(w: &mut Tx<'_>, job: &PurgeJob, id: UserId, actor: &str) -> Result<bool, StoreError> {
    let row = {
        let mut stmt = w.conn.prepare_cached(&format!("{CANDIDATE_SQL} WHERE id = ?1"))?;
        let mut rows = stmt.query([id.as_i64()])?;
        match rows.next()? {
            Some(r) => Some(Row::read(r)?),
            None => None,
        }
    };
    let verdict = match &row {
        None => Err(vec!["not_found"]),
        Some(r) if r.state == UserState::Expunged => Err(vec!["already_expunged"]),
        Some(r) => match judge(&job.criteria, &r.candidate(), job.today) {
            Verdict::Select => Ok(r),
            Verdict::Skip(reasons) => Err(codes(&reasons)),
            Verdict::OutOfScope => Err(vec!["no_longer_in_scope"]),
        },
    };
    // The lifecycle rules, checked before anything is written for this person
    // (delete and expunge do not look at the state before a delete).
    let verdict = verdict.and_then(|r| {
        let facts = UserFacts {
            id,
            state: r.state,
            state_before_delete: None,
            directory_linked: r.directory_linked,
            legal_hold: r.legal_hold,
            holds: crate::domain::Holds::default(),
        };
        let deleted = if r.state == UserState::Deleted {
            facts
        } else {
            transition(&facts, LifecycleAction::Delete, Origin::Staff).map_err(|e| vec![e.code()])?;
            UserFacts { state: UserState::Deleted, ..facts }
        };
        transition(&deleted, LifecycleAction::Expunge, Origin::Staff).map_err(|e| vec![e.code()])?;
        Ok(r.state)
    });
    let detail = format!("job={}", job.id);
    let expunged = match verdict {
        Ok(state) => {
            if state != UserState::Deleted {
                lifecycle_in(w, id, LifecycleAction::Delete, Origin::Staff)?;
                let draft = AuditDraft { detail: detail.clone(), ..AuditDraft::new("user.delete").user(id) };
                audit::append(&w.conn, w.now, actor, &draft, "ok")?;
            }
            let released = expunge_in(w, id, actor)?;
            let draft = AuditDraft {
                detail: format!("{detail} credentials_released={released}"),
                ..AuditDraft::new("user.expunge").user(id)
            };
            audit::append(&w.conn, w.now, actor, &draft, "ok")?;
            set_outcome(&w.conn, job.id, id, "expunged", None, w.now)?;
            true
        }
        Err(reasons) => {
            set_outcome(&w.conn, job.id, id, "skipped", Some(&reasons.join(",")), w.now)?;
            false
        }
    };
    Ok(expunged)
}

fn set_outcome(
    conn: &Connection,
    job: i64,
    user: UserId,
    outcome: &str,
    reasons: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE purge_job_users SET outcome = ?3, reasons = ?4, done_at = ?5
             WHERE job_id = ?1 AND user_id = ?2 AND outcome IS NULL",
        )?
        .execute(params![job, user.as_i64(), outcome, reasons, now.0])?;
    // Exactly once: the row was pending when this transaction read it.
    if n == 1 { Ok(()) } else { Err(StoreError::Corrupt("purge outcome written twice")) }
}

impl Store {
    /// The plan a job with `criteria` would run today — a dry run: nothing
    /// changes but one audit entry saying who looked and what it found.
    pub fn purge_plan(&self, actor: &Actor, criteria: &Criteria) -> Result<PurgePlan, StoreError> {
        let today = today_of(self.now())?;
        let criteria = match clean_criteria(criteria).and_then(|c| actor.check_reach(c.org_unit.as_deref()).map(|()| c))
        {
            Ok(c) => c,
            Err(e) => {
                self.audit_refusal(actor, AuditDraft::new("purge.dry_run"), e.code())?;
                return Err(e.into());
            }
        };
        let plan = self.read(|c| plan_in(c, &criteria, today))?;
        let mut draft = AuditDraft::new("purge.dry_run");
        draft.detail = format!("selected={} skipped={}", plan.selected.len(), plan.skipped.len());
        self.write(actor, draft, |_| Ok(()))?;
        Ok(plan)
    }

    /// Records a purge job and its whole plan, in one transaction, before
    /// anyone is expunged. Run it with [`Store::purge_step`] (the service's
    /// job runner does, and resumes it after a crash).
    pub fn create_purge_job(&self, actor: &Actor, criteria: &Criteria) -> Result<PurgeJob, StoreError> {
        self.write(actor, AuditDraft::new("purge.plan"), |w| {
            let criteria = &clean_criteria(criteria)?;
            actor.check_reach(criteria.org_unit.as_deref())?;
            let crit = serde_json::to_string(criteria).map_err(|_| StoreError::Corrupt("purge job criteria"))?;
            let today = today_of(w.now)?;
            let plan = plan_in(&w.conn, criteria, today)?;
            let selected = i64::try_from(plan.selected.len()).unwrap_or(i64::MAX);
            let skipped = i64::try_from(plan.skipped.len()).unwrap_or(i64::MAX);
            let done = if selected == 0 { "completed" } else { "planned" };
            w.conn
                .prepare_cached(
                    "INSERT INTO purge_jobs (created_at, created_by, today, criteria, state, selected, skipped,
                        completed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, CASE WHEN ?5 = 'completed' THEN ?1 END)",
                )?
                .execute(params![w.now.0, actor.id, format_date(today), crit, done, selected, skipped])?;
            let job = w.conn.last_insert_rowid();
            {
                let mut ins = w.conn.prepare_cached(
                    "INSERT INTO purge_job_users (job_id, user_id, selected, outcome, reasons, done_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for id in &plan.selected {
                    ins.execute(params![job, id.as_i64(), 1, None::<&str>, None::<&str>, None::<i64>])?;
                }
                for s in &plan.skipped {
                    ins.execute(params![job, s.user_id.as_i64(), 0, "skipped", s.reasons.join(","), w.now.0])?;
                }
            }
            w.audit.detail = format!("job={job} selected={selected} skipped={skipped}");
            load_job(&w.conn, job)
        })
    }

    /// Gives the next pending people of job `id` their outcome, in one
    /// transaction of at most `max_users` people that stops taking new
    /// ones after `budget` (so the writer lock is never held long). Every
    /// person expunged gets the same rows, change-log entries and audit
    /// entries as a single expunge (plus a delete first, when the job may
    /// take people not yet deleted); the step's own audit entry records the
    /// job's progress. Safe to call from several processes at once: each
    /// step reads what is pending inside its own write transaction.
    pub fn purge_step(&self, id: i64, max_users: u32, budget: Duration) -> Result<Step, StoreError> {
        let creator = self.read(|c| load_job(c, id))?.created_by;
        let actor = Actor::staff(creator);
        let started = Instant::now();
        let step = self.write(&actor, AuditDraft::new("purge.step"), |w| {
            let job = load_job(&w.conn, id)?;
            if job.state == JobState::Completed {
                w.audit.detail = format!("job={id} already_completed");
                return Ok(Step { processed: 0, expunged: 0, finished: true });
            }
            let pending: Vec<UserId> = {
                let mut stmt = w.conn.prepare_cached(
                    "SELECT user_id FROM purge_job_users INDEXED BY purge_job_pending
                     WHERE job_id = ?1 AND outcome IS NULL ORDER BY user_id LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![id, max_users.max(1)], |r| r.get::<_, i64>(0))?;
                rows.map(|r| r.map(UserId::from_i64)).collect::<Result<_, _>>()?
            };
            let mut step = Step { processed: 0, expunged: 0, finished: false };
            for user in &pending {
                if step.processed > 0 && started.elapsed() > budget {
                    break;
                }
                step.expunged += u64::from(process_one(w, &job, *user, &actor.id)?);
                step.processed += 1;
            }
            let left = pending.len() as u64 - step.processed;
            step.finished = left == 0 && (pending.len() as u64) < u64::from(max_users.max(1));
            if !step.finished && left == 0 {
                // A full batch: anything left after it?
                step.finished = !w
                    .conn
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM purge_job_users INDEXED BY purge_job_pending
                         WHERE job_id = ?1 AND outcome IS NULL)",
                    )?
                    .query_row([id], |r| r.get::<_, bool>(0))?;
            }
            w.conn
                .prepare_cached(
                    "UPDATE purge_jobs SET done = done + ?2, expunged = expunged + ?3,
                        started_at = COALESCE(started_at, ?4),
                        state = CASE WHEN ?5 THEN 'completed' ELSE 'running' END,
                        completed_at = CASE WHEN ?5 THEN ?4 END
                     WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    i64::try_from(step.processed).unwrap_or(i64::MAX),
                    i64::try_from(step.expunged).unwrap_or(i64::MAX),
                    w.now.0,
                    step.finished
                ])?;
            w.audit.action = if step.finished { "purge.complete" } else { "purge.step" };
            w.audit.detail = format!(
                "job={id} processed={} expunged={} done={}/{}",
                step.processed,
                step.expunged,
                job.done + step.processed,
                job.selected
            );
            Ok(step)
        })?;
        Ok(step)
    }

    /// One job.
    pub fn purge_job(&self, id: i64) -> Result<PurgeJob, StoreError> {
        self.read(|c| load_job(c, id))
    }

    /// Jobs, newest first.
    pub fn purge_jobs(&self, limit: u32) -> Result<Vec<PurgeJob>, StoreError> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM purge_jobs ORDER BY id DESC LIMIT ?1"))?;
            let mut rows = stmt.query([limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(job_from_row(r)?);
            }
            Ok(out)
        })
    }

    /// Jobs not completed yet (to resume), oldest first.
    pub fn unfinished_purge_jobs(&self) -> Result<Vec<i64>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id FROM purge_jobs WHERE state <> 'completed' ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The people of a job with their outcomes, in ID order after `after`.
    pub fn purge_outcomes(&self, id: i64, after: Option<UserId>, limit: u32) -> Result<Vec<PurgeOutcome>, StoreError> {
        self.read(|c| {
            load_job(c, id)?;
            let mut stmt = c.prepare_cached(
                "SELECT user_id, selected, outcome, reasons, done_at FROM purge_job_users
                 WHERE job_id = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3",
            )?;
            let mut rows = stmt.query(params![id, after.map_or(i64::MIN, UserId::as_i64), limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let outcome: Option<String> = r.get(2)?;
                let reasons: Option<String> = r.get(3)?;
                out.push(PurgeOutcome {
                    user_id: UserId::from_i64(r.get(0)?),
                    selected: r.get(1)?,
                    outcome: match outcome.as_deref() {
                        None => "pending",
                        Some("expunged") => "expunged",
                        Some("skipped") => "skipped",
                        Some(_) => return Err(StoreError::Corrupt("purge outcome")),
                    },
                    reasons: reasons.map(|s| s.split(',').map(str::to_string).collect()).unwrap_or_default(),
                    at: r.get::<_, Option<i64>>(4)?.map(Timestamp),
                });
            }
            Ok(out)
        })
    }

    /// Deletes the records of jobs completed more than a year ago (their
    /// audit entries stay). Returns how many went.
    pub fn prune_purge_jobs(&self, actor: &Actor) -> Result<u64, StoreError> {
        let before = self.now().0 - JOB_RETENTION_SECS;
        let old: i64 = self.read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM purge_jobs WHERE state = 'completed' AND completed_at < ?1",
                [before],
                |r| r.get(0),
            )?)
        })?;
        if old == 0 {
            return Ok(0);
        }
        self.write(actor, AuditDraft::new("purge.prune"), |w| {
            let n = w
                .conn
                .prepare_cached("DELETE FROM purge_jobs WHERE state = 'completed' AND completed_at < ?1")?
                .execute([before])?;
            w.audit.detail = format!("jobs={n}");
            Ok(n as u64)
        })
    }

    /// Sets (or with `None` clears) the purge date of every person `q`
    /// matches — never the expunged — in one transaction audited as one
    /// action with the count. `q` must filter on something.
    pub fn set_purge_dates(&self, actor: &Actor, q: &PeopleQuery, date: Option<Date>) -> Result<u64, StoreError> {
        let mut draft = AuditDraft::new("user.purge_date.bulk");
        let cleaned = (|| {
            Ok::<_, DomainError>(PeopleQuery {
                group: clean("group", q.group.clone(), MAX_CODE)?,
                record_type: clean("record_type", q.record_type.clone(), MAX_CODE)?,
                org_unit: clean("org_unit", q.org_unit.clone(), MAX_FIELD)?,
                ..q.clone()
            })
        })();
        let q = cleaned.as_ref().unwrap_or(q);
        let filters: Vec<&str> = [
            (q.group.is_some(), "group"),
            (q.record_type.is_some(), "record_type"),
            (q.state.is_some(), "state"),
            (q.deleted_before.is_some(), "deleted_before"),
            (q.org_unit.is_some(), "org_unit"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect();
        draft.detail = format!("purge_date={} filters={}", date.map_or("none".into(), format_date), filters.join(","));
        self.write(actor, draft, |w| {
            let q = cleaned.clone()?;
            actor.check_reach(q.org_unit.as_deref())?;
            if filters.is_empty() {
                return Err(DomainError::InvalidInput {
                    field: "query",
                    message: "name at least one of group, record_type, state, deleted_before, org_unit".into(),
                }
                .into());
            }
            if q.state == Some(UserState::Expunged) {
                return Err(DomainError::InvalidInput {
                    field: "state",
                    message: "expunged people have no purge date to set".into(),
                }
                .into());
            }
            let n = w
                .conn
                .prepare_cached(
                    "UPDATE users SET purge_date = ?1, updated_at = ?2
                     WHERE state <> 'expunged' AND (?3 IS NULL OR user_group = ?3) AND (?4 IS NULL OR record_type = ?4)
                       AND (?5 IS NULL OR state = ?5) AND (?6 IS NULL OR deleted_at < ?6)
                       AND (?7 IS NULL OR org_unit = ?7)",
                )?
                .execute(params![
                    date.map(format_date),
                    w.now.0,
                    q.group,
                    q.record_type,
                    q.state.map(UserState::as_str),
                    q.deleted_before.map(|t| t.0),
                    q.org_unit,
                ])?;
            w.audit.detail.push_str(&format!(" count={n}"));
            Ok(n as u64)
        })
    }

    /// Expunges each of `ids` that may be (deleted, no legal hold, in
    /// `org_unit` if given), each in its own transaction and audited as a
    /// single expunge would be; the IDs in the request are the
    /// confirmation. The report says who was erased and why the others
    /// were not. The WAL is checkpointed at the end; the caller scrubs the
    /// file afterwards ([`Store::scrub`]: the CLI at once, the service's
    /// runner in the background, paced by the doors).
    pub fn erase_users(
        &self,
        actor: &Actor,
        ids: &[UserId],
        org_unit: Option<&str>,
    ) -> Result<EraseReport, StoreError> {
        let mut report = EraseReport::default();
        for &id in ids {
            let mut draft = AuditDraft::new("user.expunge").user(id);
            draft.detail = "bulk_erase".into();
            let done = self.write(actor, draft, |w| {
                let unit: Option<Option<String>> = w
                    .conn
                    .prepare_cached("SELECT org_unit FROM users WHERE id = ?1")?
                    .query_row([id.as_i64()], |r| r.get(0))
                    .optional()?;
                let in_scope = unit.as_ref().is_some_and(|u| org_unit.is_none_or(|want| u.as_deref() == Some(want)));
                if !in_scope {
                    return Err(DomainError::NotFound { what: "user", id: id.to_string() }.into());
                }
                let released = expunge_in(w, id, &actor.id)?;
                w.audit.detail = format!("bulk_erase credentials_released={released}");
                Ok(())
            });
            match done {
                Ok(()) => report.erased.push(id),
                Err(e) if e.is_refusal() => {
                    report.not_erased.push(NotErased { user_id: id, code: e.code(), message: e.to_string() });
                }
                Err(e) => return Err(e),
            }
        }
        // The erased rows' older versions leave the WAL now, as after a single expunge.
        if !report.erased.is_empty() {
            self.checkpoint()?;
        }
        Ok(report)
    }
}
