//! `idms purge …` (purge jobs: the dry run, run with a progress bar,
//! resume, status, history, the refused cancel) and the erase flow under
//! `idms user` (`deleted`, `erase`, `purge-date`).
//!
//! A job runs in this process, but it is never aborted: Ctrl-C (or SIGTERM)
//! stops this process after the current step, the job stays `running`, and
//! `idms serve` (at its next start or poll) or `idms purge resume` carries
//! it to completion. These commands have two refusals of their own, which
//! the store has no error for: `not_confirmed` (a purge run or bulk erase
//! without `--yes`) and `job_not_abortable` (cancel); both exit 1 and are
//! audited like every refusal.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use idms::api::dto;
use idms::domain::purge::{Criteria, minor_from_units, units_from_minor};
use idms::domain::time::{format_date, parse_date};
use idms::domain::{DomainError, UserId, UserState};
use idms::ops::purge as rules;
use idms::ops::{self, Acting};
use idms::store::{AuditDraft, JobState, PeopleQuery, PurgeJob, PurgeOutcome, Store, StoreError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::output::{self, Table, opt, pairs};
use super::user::UserCmd;
use super::{Cli, Cmd, actor, audited, open, ops_audited, ts};

/// Exit status of a run stopped by Ctrl-C or SIGTERM (128 + SIGINT).
const INTERRUPTED: u8 = 130;
/// Outcomes read per page.
const PAGE: u32 = 1000;

/// Which people a purge job selects (the same for `plan` and `run`).
#[derive(Args)]
pub(super) struct CriteriaArgs {
    /// Days the purge date must lie in the past (0: today or earlier). People without a purge date are never selected.
    #[arg(long)]
    grace_days: u32,
    /// Only this record type.
    #[arg(long)]
    record_type: Option<String>,
    /// Only this group.
    #[arg(long)]
    group: Option<String>,
    /// Only this organisational unit.
    #[arg(long)]
    org_unit: Option<String>,
    /// Skip anyone owing more than this amount, e.g. 12.50 (default 0: any debt skips).
    #[arg(long)]
    waive_threshold: Option<f64>,
    /// Only people already deleted (others are skipped as `not_deleted`). Without it, active and
    /// suspended people in scope are deleted, then expunged.
    #[arg(long)]
    only_deleted: bool,
}

impl CriteriaArgs {
    fn criteria(&self) -> Result<Criteria, DomainError> {
        Ok(Criteria {
            grace_days: self.grace_days,
            record_type: self.record_type.clone(),
            group: self.group.clone(),
            org_unit: self.org_unit.clone(),
            waive_threshold: self
                .waive_threshold
                .map(|v| minor_from_units("waive_threshold", v))
                .transpose()?
                .unwrap_or(0),
            only_deleted: self.only_deleted,
        })
    }
}

/// `idms purge` subcommands.
#[derive(Subcommand)]
pub(super) enum PurgeCmd {
    /// Dry run: whom a job with these criteria would expunge today, and whom it would skip and why.
    ///
    /// Nothing changes (one audit entry records that the plan was looked at).
    Plan {
        #[command(flatten)]
        criteria: CriteriaArgs,
    },
    /// Record a purge job and run it to completion here, with a progress bar on a terminal.
    ///
    /// The job's whole plan (everyone considered: selected, or skipped with
    /// reasons) is recorded before anyone is expunged. A purge job cannot be
    /// aborted once started: review `idms purge plan` with the same flags
    /// first, then confirm with --yes. Ctrl-C stops this process after the
    /// current step, not the job: it stays `running` and is resumed by
    /// `idms serve` at its next start or poll, or by `idms purge resume`.
    Run {
        #[command(flatten)]
        criteria: CriteriaArgs,
        /// Confirm: the job expunges everyone it selects, for good, and cannot be aborted.
        #[arg(long)]
        yes: bool,
    },
    /// Run unfinished purge jobs (all of them, oldest first, or job ID) to completion here.
    ///
    /// For jobs a crash or Ctrl-C left `running` (`idms serve` also resumes
    /// them on its own). Ctrl-C stops this process again, never the job.
    Resume {
        /// Only this job.
        id: Option<i64>,
    },
    /// One job: state, criteria, progress, times; with --outcomes, every person's outcome.
    Status {
        id: i64,
        /// List each person of the plan: selected or skipped, expunged, skipped (with reasons) or pending.
        #[arg(long)]
        outcomes: bool,
    },
    /// Purge jobs, newest first (records are kept a year after completion).
    History {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Always refused: a purge job cannot be aborted (`job_not_abortable`).
    ///
    /// To keep someone out of a running job, place a legal hold or clear
    /// their purge date before the job reaches them.
    Cancel { id: i64 },
}

/// The erase flow and bulk purge dates, under `idms user`.
#[derive(Subcommand)]
pub(super) enum ErasureCmd {
    /// Deleted people (restorable, not yet expunged): what `user erase` chooses from.
    Deleted {
        /// ID, family-name prefix, email prefix (text with an @), employee number or card UID (default: everyone deleted).
        #[arg(default_value = "")]
        query: String,
        /// Deleted at or after (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        deleted_from: Option<String>,
        /// Deleted before (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        deleted_to: Option<String>,
        /// Only this organisational unit.
        #[arg(long)]
        org_unit: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Expunge chosen deleted people, each on its own; reports who was erased and who was not, with codes.
    ///
    /// Naming the IDs and --yes are the confirmation. Exits 0 once the
    /// erase ran, even if some people were refused (listed under "not
    /// erased" with their code); exits 1 only when the command as a whole
    /// is refused (no --yes, an ID that does not parse).
    Erase {
        /// The people (user IDs).
        #[arg(required = true)]
        ids: Vec<String>,
        /// Confirm: their personal data is destroyed for good.
        #[arg(long)]
        yes: bool,
    },
    /// Set or clear the purge date of everyone the filters match (at least one filter; never the expunged).
    #[command(group(clap::ArgGroup::new("date").required(true).args(["set", "clear"])))]
    PurgeDate {
        /// The new purge date, YYYY-MM-DD.
        #[arg(long)]
        set: Option<String>,
        /// Remove the purge date.
        #[arg(long)]
        clear: bool,
        /// People of this group.
        #[arg(long)]
        group: Option<String>,
        /// People of this record type.
        #[arg(long)]
        record_type: Option<String>,
        /// People in this state: active, suspended or deleted.
        #[arg(long)]
        state: Option<String>,
        /// People deleted before this time (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        deleted_before: Option<String>,
        /// People of this organisational unit.
        #[arg(long)]
        org_unit: Option<String>,
    },
}

/// Runs `idms purge …` and `idms user deleted|erase|purge-date`; `None` for any other command.
pub(super) fn run(cli: &Cli) -> Option<ExitCode> {
    let r = match &cli.cmd {
        Cmd::Purge { cmd } => purge(cli, cmd),
        Cmd::User { cmd } => match cmd.as_ref() {
            UserCmd::Erasure(c) => erasure(cli, c),
            _ => return None,
        },
        _ => return None,
    };
    Some(r.unwrap_or_else(|e| output::failure(&e, cli.json)))
}

/// Trimmed; empty is none.
fn text(v: Option<&str>) -> Option<String> {
    v.map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

fn not_confirmed(message: &str) -> StoreError {
    DomainError::NotConfirmed { message: message.to_owned() }.into()
}

fn purge(cli: &Cli, cmd: &PurgeCmd) -> Result<ExitCode, StoreError> {
    let actor = actor(cli);
    let me = Acting::Local(actor.clone());
    let s = open(cli)?;
    match cmd {
        PurgeCmd::Plan { criteria } => {
            let plan = ops_audited(&s, &actor, "purge.plan", rules::dry_run(&s, &me, criteria.criteria()?))?;
            if cli.json {
                output::json(&serde_json::json!({
                    "dry_run": true,
                    "selected_count": plan.selected.len(),
                    "skipped_count": plan.skipped.len(),
                    "plan": dto::PurgePlan::from(plan.clone()),
                }));
                return Ok(ExitCode::SUCCESS);
            }
            let mut reasons = BTreeMap::new();
            for sk in &plan.skipped {
                for r in &sk.reasons {
                    *reasons.entry((*r).to_owned()).or_insert(0u64) += 1;
                }
            }
            println!(
                "dry run on {}: {} selected, {} skipped{}; nothing changed",
                format_date(plan.today),
                plan.selected.len(),
                plan.skipped.len(),
                tally(&reasons),
            );
            if !plan.selected.is_empty() || !plan.skipped.is_empty() {
                println!();
                let mut t = Table::new(&["USER", "PLAN", "REASONS"]);
                for id in &plan.selected {
                    t.row(vec![id.to_string(), "selected".into(), "-".into()]);
                }
                for sk in &plan.skipped {
                    t.row(vec![sk.user_id.to_string(), "skipped".into(), sk.reasons.join(",")]);
                }
                t.print();
            }
            Ok(ExitCode::SUCCESS)
        }
        PurgeCmd::Run { criteria, yes } => {
            let criteria = audited(&s, &actor, "purge.plan", criteria.criteria())?;
            if !yes {
                let mut d = AuditDraft::new("purge.plan");
                d.detail = "confirmation (--yes) missing".into();
                s.audit_refusal(&actor, d, "not_confirmed")?;
                return Err(not_confirmed(
                    "a purge job cannot be aborted once started: it expunges everyone it selects, for good. \
                     Review whom it selects with `idms purge plan` and the same flags, then run again with --yes",
                ));
            }
            let job = ops_audited(&s, &actor, "purge.plan", rules::create_job(&s, &me, criteria))?;
            // From here a signal stops the run between steps, never the job.
            let stop = idms::signals::stop_flag();
            if !cli.json {
                println!(
                    "purge job {} planned on {}: {} selected, {} skipped (`idms purge status {} --outcomes` lists them)",
                    job.id,
                    format_date(job.today),
                    job.selected,
                    job.skipped,
                    job.id
                );
            }
            let ran = run_job(cli, &s, job.id, &stop)?;
            if cli.json {
                output::json(&ran);
            } else {
                print_ran(&ran);
            }
            finish(cli, &s, &[ran])
        }
        PurgeCmd::Resume { id } => {
            let ids = match id {
                Some(id) => vec![ops_audited(&s, &actor, "purge.status", rules::job(&s, &me, *id))?.id],
                None => ops_audited(&s, &actor, "purge.status", rules::unfinished(&s, &me))?,
            };
            if ids.is_empty() && !cli.json {
                println!("no unfinished purge jobs");
            }
            let stop = idms::signals::stop_flag();
            let mut all = Vec::new();
            for id in ids {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let ran = run_job(cli, &s, id, &stop)?;
                if !cli.json {
                    print_ran(&ran);
                }
                all.push(ran);
            }
            if cli.json {
                output::json(&all);
            }
            finish(cli, &s, &all)
        }
        PurgeCmd::Status { id, outcomes } => {
            let job = ops_audited(&s, &actor, "purge.status", rules::job(&s, &me, *id))?;
            let outcomes = if *outcomes { Some(all_outcomes(&s, &me, *id)?) } else { None };
            if cli.json {
                let outcomes = outcomes.map(|o| o.into_iter().map(dto::PurgeOutcome::from).collect());
                output::json(&JobDetail { job: job.into(), outcomes });
                return Ok(ExitCode::SUCCESS);
            }
            print_job(&job);
            if let Some(list) = outcomes {
                println!();
                let mut t = Table::new(&["USER", "PLAN", "OUTCOME", "REASONS", "AT"]);
                for o in &list {
                    t.row(vec![
                        o.user_id.to_string(),
                        if o.selected { "selected" } else { "skipped" }.into(),
                        o.outcome.into(),
                        if o.reasons.is_empty() { "-".into() } else { o.reasons.join(",") },
                        opt(o.at),
                    ]);
                }
                t.print();
            }
            Ok(ExitCode::SUCCESS)
        }
        PurgeCmd::History { limit } => {
            let jobs = ops_audited(&s, &actor, "purge.history", rules::jobs(&s, &me, *limit))?;
            if cli.json {
                output::json_as::<dto::PurgeJob, _>(&jobs);
            } else if jobs.is_empty() {
                println!("no purge jobs");
            } else {
                let mut t = Table::new(&[
                    "JOB",
                    "STATE",
                    "PLANNED",
                    "BY",
                    "SELECTED",
                    "SKIPPED",
                    "DONE",
                    "EXPUNGED",
                    "COMPLETED",
                ]);
                for j in &jobs {
                    t.row(vec![
                        j.id.to_string(),
                        j.state.as_str().into(),
                        j.created_at.to_string(),
                        j.created_by.clone(),
                        j.selected.to_string(),
                        j.skipped.to_string(),
                        j.done.to_string(),
                        j.expunged.to_string(),
                        opt(j.completed_at),
                    ]);
                }
                t.print();
            }
            Ok(ExitCode::SUCCESS)
        }
        PurgeCmd::Cancel { id } => {
            let mut d = AuditDraft::new("purge.cancel");
            d.detail = format!("job={id}");
            rules::cancel(&s, &me, *id).map_err(|e| e.audit_now(&s, &actor, d))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// After the summaries: an interrupted run exits 130; erased data still in
/// the WAL (a concurrent reader's snapshot) is reported like `user expunge`.
fn finish(cli: &Cli, s: &Store, ran: &[Ran]) -> Result<ExitCode, StoreError> {
    if let Some(r) = ran.iter().find(|r| r.interrupted) {
        let msg = format!(
            "interrupted: purge job {} is not aborted and stays running ({} of {} done); `idms serve` resumes it at \
             its next start or poll, or run `idms purge resume {}`",
            r.job.id, r.job.done, r.job.selected, r.job.id
        );
        if cli.json {
            eprintln!("{}", serde_json::json!({ "code": "interrupted", "message": msg }));
        } else {
            eprintln!("{msg}");
        }
        return Ok(ExitCode::from(INTERRUPTED));
    }
    if s.erasure_pending() {
        return Err(StoreError::ErasurePending);
    }
    Ok(ExitCode::SUCCESS)
}

/// What one run of a job in this process did.
#[derive(serde::Serialize)]
struct Ran {
    /// The job as it stands at the end (in its API shape).
    #[serde(serialize_with = "job_as_dto")]
    job: PurgeJob,
    /// Selected people given an outcome while this process ran it.
    processed: u64,
    /// Everyone skipped (at planning, or when reached), by reason.
    skipped: u64,
    skipped_by_reason: BTreeMap<String, u64>,
    seconds: f64,
    per_second: f64,
    /// Stopped by Ctrl-C or SIGTERM before completion: the job stays running.
    interrupted: bool,
}

fn job_as_dto<S: serde::Serializer>(job: &PurgeJob, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&dto::PurgeJob::from(job.clone()), s)
}

fn run_job(cli: &Cli, s: &Store, id: i64, stop: &AtomicBool) -> Result<Ran, StoreError> {
    let me = Acting::Local(actor(cli));
    let before = rules::job(s, &me, id).map_err(ops::OpsError::into_store)?;
    let bar = progress_bar(cli, &before);
    let started = Instant::now();
    let job = idms::jobs::run(s, id, stop, |j| {
        bar.set_position(j.done);
        bar.set_message(format!("{:.0} people/s", bar.per_sec()));
    });
    bar.finish_and_clear();
    let job = job?;
    let elapsed = started.elapsed();
    let processed = job.done.saturating_sub(before.done);
    let (skipped, skipped_by_reason) = skipped_tally(s, &me, id)?;
    Ok(Ran {
        interrupted: job.state != JobState::Completed && stop.load(Ordering::Relaxed),
        processed,
        skipped,
        skipped_by_reason,
        seconds: elapsed.as_secs_f64(),
        per_second: rate(processed, elapsed),
        job,
    })
}

#[allow(clippy::cast_precision_loss)]
fn rate(n: u64, d: Duration) -> f64 {
    let secs = d.as_secs_f64();
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

/// Users done/total, rate, ETA — on stderr when it is a terminal, never with --json.
fn progress_bar(cli: &Cli, job: &PurgeJob) -> ProgressBar {
    if cli.json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(job.selected), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("purge job {prefix} [{elapsed_precise}] {wide_bar} {pos}/{len}  {msg}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(job.id.to_string());
    bar.set_position(job.done);
    // A resumed job starts part done: the rate and ETA count from here.
    bar.reset_eta();
    bar
}

/// A page of a job's outcomes, through the rule layer.
fn outcomes(s: &Store, me: &Acting, id: i64, after: Option<UserId>) -> Result<Vec<PurgeOutcome>, StoreError> {
    Ok(rules::job_outcomes(s, me, id, after, PAGE).map_err(ops::OpsError::into_store)?.1)
}

/// Every outcome of a job, page by page.
fn all_outcomes(s: &Store, me: &Acting, id: i64) -> Result<Vec<PurgeOutcome>, StoreError> {
    let mut all: Vec<PurgeOutcome> = Vec::new();
    loop {
        let after: Option<UserId> = all.last().map(|o| o.user_id);
        let page = outcomes(s, me, id, after)?;
        let last = page.len() < PAGE as usize;
        all.extend(page);
        if last {
            return Ok(all);
        }
    }
}

/// Skipped people of a job (at planning or when reached) and their reasons, counted.
fn skipped_tally(s: &Store, me: &Acting, id: i64) -> Result<(u64, BTreeMap<String, u64>), StoreError> {
    let mut n = 0;
    let mut reasons = BTreeMap::new();
    let mut after = None;
    loop {
        let page = outcomes(s, me, id, after)?;
        for o in page.iter().filter(|o| o.outcome == "skipped") {
            n += 1;
            for r in &o.reasons {
                *reasons.entry(r.clone()).or_insert(0) += 1;
            }
        }
        if page.len() < PAGE as usize {
            return Ok((n, reasons));
        }
        after = page.last().map(|o| o.user_id);
    }
}

/// ` (legal_hold 2, unreturned_items 1)`, or nothing.
fn tally(reasons: &BTreeMap<String, u64>) -> String {
    if reasons.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
    format!(" ({})", parts.join(", "))
}

fn print_ran(r: &Ran) {
    let j = &r.job;
    let how = if r.interrupted { "stopped" } else { j.state.as_str() };
    println!(
        "purge job {} {how}: {} expunged, {} skipped{}; {}/{} done; {} processed here in {:.1} s ({:.1} people/s)",
        j.id,
        j.expunged,
        r.skipped,
        tally(&r.skipped_by_reason),
        j.done,
        j.selected,
        r.processed,
        r.seconds,
        r.per_second
    );
}

fn print_job(j: &PurgeJob) {
    let c = &j.criteria;
    let criteria = format!(
        "grace_days={} record_type={} group={} org_unit={} waive_threshold={:.2} only_deleted={}",
        c.grace_days,
        opt(c.record_type.as_ref()),
        opt(c.group.as_ref()),
        opt(c.org_unit.as_ref()),
        units_from_minor(c.waive_threshold),
        c.only_deleted
    );
    pairs(&[
        ("job", j.id.to_string()),
        ("state", j.state.as_str().to_string()),
        ("criteria", criteria),
        ("judged on", format_date(j.today)),
        ("selected", j.selected.to_string()),
        ("skipped", j.skipped.to_string()),
        ("done", format!("{}/{}", j.done, j.selected)),
        ("expunged", j.expunged.to_string()),
        ("created", format!("{} by {}", j.created_at, j.created_by)),
        ("started", opt(j.started_at)),
        ("completed", opt(j.completed_at)),
    ]);
}

/// A job with (optionally) every person's outcome.
#[derive(serde::Serialize)]
struct JobDetail {
    #[serde(flatten)]
    job: dto::PurgeJob,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcomes: Option<Vec<dto::PurgeOutcome>>,
}

fn erasure(cli: &Cli, cmd: &ErasureCmd) -> Result<ExitCode, StoreError> {
    let actor = actor(cli);
    let me = Acting::Local(actor.clone());
    let s = open(cli)?;
    match cmd {
        ErasureCmd::Deleted { query, deleted_from, deleted_to, org_unit, limit } => {
            let from = ts("deleted_from", deleted_from.as_deref())?;
            let to = ts("deleted_to", deleted_to.as_deref())?;
            let found = ops_audited(
                &s,
                &actor,
                "user.deleted",
                rules::deleted(&s, &me, query, from, to, text(org_unit.as_deref()), *limit),
            )?;
            if cli.json {
                output::json_as::<dto::UserSummary, _>(&found);
            } else if found.is_empty() {
                println!("no deleted people match");
            } else {
                let mut t = Table::new(&["ID", "FAMILY NAME", "GIVEN NAME", "ORG UNIT", "DELETED"]);
                for u in &found {
                    t.row(vec![
                        u.id.to_string(),
                        opt(u.family_name.as_ref()),
                        opt(u.given_name.as_ref()),
                        opt(u.org_unit.as_ref()),
                        opt(u.deleted_at),
                    ]);
                }
                t.print();
            }
            Ok(ExitCode::SUCCESS)
        }
        ErasureCmd::Erase { ids, yes } => {
            // Every ID must parse before anything is erased.
            let parsed = ids.iter().map(|raw| raw.parse::<UserId>()).collect::<Result<Vec<_>, _>>();
            let mut unique: Vec<UserId> = Vec::new();
            for id in audited(&s, &actor, "user.expunge", parsed)? {
                if !unique.contains(&id) {
                    unique.push(id);
                }
            }
            if !yes {
                let mut d = AuditDraft::new("user.expunge");
                d.detail = format!("bulk_erase users={} confirmation (--yes) missing", unique.len());
                s.audit_refusal(&actor, d, "not_confirmed")?;
                return Err(not_confirmed(
                    "erasing destroys these people's personal data for good; check them with `idms user deleted`, \
                     then run again with --yes",
                ));
            }
            let report = ops_audited(&s, &actor, "user.expunge", rules::erase(&s, &me, &unique))?;
            if cli.json {
                output::json(&dto::EraseReport::from(report.clone()));
            } else {
                println!("erased {} of {}", report.erased.len(), unique.len());
                let mut t = Table::new(&["ID", "RESULT", "CODE", "WHY"]);
                for id in &report.erased {
                    t.row(vec![id.to_string(), "erased".into(), "-".into(), "-".into()]);
                }
                for n in &report.not_erased {
                    t.row(vec![n.user_id.to_string(), "not erased".into(), n.code.into(), n.message.clone()]);
                }
                t.print();
            }
            // This process ends now: scrub here rather than leave it to a service, resting as long as
            // each slice took (a running service's doors share the disk). The erase itself is done.
            if !report.erased.is_empty()
                && let Err(e) = s.scrub_paced(Some)
            {
                eprintln!(
                    "warning: the erase is done, but the file was not scrubbed yet ({}); `idms serve` scrubs at its start",
                    e.code()
                );
            }
            if s.erasure_pending() {
                return Err(StoreError::ErasurePending);
            }
            Ok(ExitCode::SUCCESS)
        }
        ErasureCmd::PurgeDate { set, clear: _, group, record_type, state, deleted_before, org_unit } => {
            let parsed = set.as_deref().map(|d| parse_date("purge_date", d)).transpose().and_then(|date| {
                let state = state
                    .as_deref()
                    .map(|v| {
                        UserState::from_name(v.trim()).ok_or(DomainError::InvalidInput {
                            field: "state",
                            message: "must be active, suspended or deleted".into(),
                        })
                    })
                    .transpose()?;
                Ok((date, state, ts("deleted_before", deleted_before.as_deref())?))
            });
            let (date, state, deleted_before) = audited(&s, &actor, "user.purge_date.bulk", parsed)?;
            let q = PeopleQuery {
                group: group.clone(),
                record_type: record_type.clone(),
                state,
                deleted_before,
                org_unit: org_unit.clone(),
            };
            let count = ops_audited(&s, &actor, "user.purge_date.bulk", rules::set_purge_dates(&s, &me, q, date))?;
            if cli.json {
                output::json(&serde_json::json!({ "count": count, "purge_date": date.map(format_date) }));
            } else {
                match date {
                    Some(d) => println!("purge date set to {} for {count} people", format_date(d)),
                    None => println!("purge date cleared for {count} people"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
