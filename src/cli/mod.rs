//! Subcommands. Each parses its input at the boundary (UIDs, IDs, times),
//! calls one store operation, and prints the result as a table or JSON.

mod access;
mod events;
mod osdp;
mod output;
mod purge;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use idms::clock::{Clock, SystemClock};
use idms::domain::purge::minor_from_units;
use idms::domain::time::parse_date;
use idms::domain::{DomainError, RetireReason, Technology, Timestamp, Uid, UserId};
use idms::ops::{Acting, OpsError};
use idms::store::{self, Actor, AuditQuery, CredentialRecord, NewUser, Role, Store, StoreError, UserPatch, UserRecord};

use output::{Table, opt, pairs};

#[derive(Parser)]
#[command(name = "idms", version, about = "Badge office: people, access cards and door decisions")]
struct Cli {
    /// Directory holding the database (idms.db).
    #[arg(long, env = "IDMS_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Print results (and errors, on stderr) as JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Who to record in the audit trail (default: `cli:` and the login name).
    #[arg(long, env = "IDMS_ACTOR", global = true)]
    actor: Option<String>,
    /// Log filter (tracing `EnvFilter` syntax).
    #[arg(long, env = "IDMS_LOG", global = true, default_value = "warn")]
    log: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create the data directory and database.
    Init,
    /// People: add, show, search, lifecycle.
    User {
        #[command(subcommand)]
        cmd: Box<UserCmd>,
    },
    /// Cards: enrol, show, revoke, suspend.
    Card {
        #[command(subcommand)]
        cmd: CardCmd,
    },
    /// Would this card open a door now (or at --at)?
    Decide {
        /// The card's UID in hex.
        #[arg(long)]
        uid: String,
        /// The door (access levels come later; recorded for the answer).
        #[arg(long, default_value = "any")]
        door: String,
        /// Decide at this time (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<String>,
        /// Technology, when the UID exists for several.
        #[arg(long)]
        tech: Option<String>,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Counts of people and cards per state (expunged included).
    Stats,
    /// Fold the write-ahead log into the database and truncate it (finishes a pending erasure).
    Checkpoint,
    /// Copy the database, consistently, to a new file (safe while `idms serve` runs).
    Backup {
        /// The new file.
        #[arg(long)]
        to: PathBuf,
    },
    /// Fill a data directory with a few demo people and cards.
    Demo,
    /// PC/SC desk readers: list them; with --watch, print every tap live
    /// (with what the card is, when the database is there).
    Readers {
        /// Keep running and print reader events until interrupted.
        #[arg(long)]
        watch: bool,
        /// Only readers whose name starts with this (repeatable).
        #[arg(long = "reader")]
        include: Vec<String>,
    },
    /// OSDP serial lines: probe a device, watch what it reports.
    Osdp {
        #[command(subcommand)]
        cmd: OsdpCmd,
    },
    /// Developer tools: data generation and measurements.
    Dev {
        #[command(subcommand)]
        cmd: DevCmd,
    },
    /// Run the HTTP service (staff API, door-controller API, metrics).
    Serve {
        /// TOML configuration file.
        #[arg(long, env = "IDMS_CONFIG")]
        config: Option<PathBuf>,
        /// Listen address (overrides the configuration).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// API tokens: issue (bootstrap and automation), list, revoke.
    Token {
        #[command(subcommand)]
        cmd: access::TokenCmd,
    },
    /// Badge-office operators: add, list, disable, enable, set a password.
    Operator {
        #[command(subcommand)]
        cmd: access::OperatorCmd,
    },
    /// Door controllers: add, list, disable, enable, rotate a token.
    Controller {
        #[command(subcommand)]
        cmd: access::ControllerCmd,
    },
    /// Purge jobs: expunge, in bulk, the people whose purge date has passed.
    ///
    /// A job cannot be aborted once started. `idms purge run` runs it here;
    /// Ctrl-C stops this process, not the job: it stays `running` and is
    /// resumed by `idms serve` at its next start or poll, or by
    /// `idms purge resume`.
    Purge {
        #[command(subcommand)]
        cmd: purge::PurgeCmd,
    },
    /// Access events: the door decisions, kept for the configured retention.
    Events {
        #[command(subcommand)]
        cmd: events::EventsCmd,
    },
}

#[derive(Args)]
struct UserFields {
    /// Email address.
    #[arg(long)]
    email: Option<String>,
    /// Phone number.
    #[arg(long)]
    phone: Option<String>,
    /// Employee number.
    #[arg(long)]
    employee_no: Option<String>,
    /// Notes.
    #[arg(long)]
    notes: Option<String>,
    /// Organisational unit.
    #[arg(long)]
    org_unit: Option<String>,
    /// Valid from (inclusive): RFC 3339 or YYYY-MM-DD.
    #[arg(long)]
    valid_from: Option<String>,
    /// Valid to (exclusive): RFC 3339 or YYYY-MM-DD.
    #[arg(long)]
    valid_to: Option<String>,
    /// Purge date, YYYY-MM-DD.
    #[arg(long)]
    purge_date: Option<String>,
    /// Record type (e.g. staff, contractor, visitor).
    #[arg(long)]
    record_type: Option<String>,
    /// User group.
    #[arg(long)]
    group: Option<String>,
    /// Amount owed, in the office's currency (at most two decimals).
    #[arg(long, allow_negative_numbers = true)]
    balance: Option<f64>,
    /// Keys, equipment or cards not handed back.
    #[arg(long)]
    unreturned_items: Option<u32>,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a person.
    Add {
        /// Given name.
        #[arg(long)]
        given: String,
        /// Family name.
        #[arg(long)]
        family: String,
        #[command(flatten)]
        fields: UserFields,
        /// Link to the identity directory (its external ID).
        #[arg(long)]
        directory_id: Option<String>,
        /// Put under legal hold.
        #[arg(long)]
        legal_hold: bool,
    },
    /// Show a person (the tombstone if expunged).
    Show { id: String },
    /// Search by user ID, family name or email prefix, employee number, card UID.
    Search {
        query: String,
        /// Include deleted and expunged people.
        #[arg(long)]
        all: bool,
        /// At most this many results.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Edit a person's fields.
    Update {
        id: String,
        /// Given name.
        #[arg(long)]
        given: Option<String>,
        /// Family name.
        #[arg(long)]
        family: Option<String>,
        #[command(flatten)]
        fields: UserFields,
        /// Clear these fields (email, phone, employee_no, notes, org_unit, valid_from, valid_to, purge_date).
        #[arg(long, value_delimiter = ',')]
        clear: Vec<String>,
        /// Set or lift legal hold.
        #[arg(long)]
        legal_hold: Option<bool>,
        /// Remove the identity-directory link.
        #[arg(long)]
        unlink: bool,
    },
    /// Suspend: cards stop granting until resumed.
    Suspend { id: String },
    /// Resume a suspended person.
    Resume { id: String },
    /// Delete (restorable): cards stop granting and stay theirs.
    Delete { id: String },
    /// Restore a deleted person to the state they had.
    Restore { id: String },
    /// Destroy a deleted person's personal data for good; frees their cards.
    Expunge {
        id: String,
        /// Repeat the user ID to confirm.
        #[arg(long)]
        confirm: String,
    },
    #[command(flatten)]
    Erasure(purge::ErasureCmd),
}

#[derive(Subcommand)]
enum CardCmd {
    /// Bind a card to a person (a new card, or one in stock: recycling).
    Enroll {
        /// The person.
        #[arg(long)]
        user: String,
        /// The card's UID in hex (04:a1:…, 04 A1 …, 04a1…).
        #[arg(long)]
        uid: String,
        /// iso14443a, em4100 or other.
        #[arg(long, default_value = "iso14443a")]
        tech: String,
    },
    /// List cards, most recently changed first (`--state in_stock`: ready to recycle).
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show a card, its holder and binding history.
    Show {
        uid: String,
        #[arg(long)]
        tech: Option<String>,
    },
    /// Retire a card for good: lost, stolen or destroyed.
    Revoke {
        uid: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        tech: Option<String>,
    },
    /// Suspend a card (its holder keeps it).
    Suspend {
        uid: String,
        #[arg(long)]
        tech: Option<String>,
    },
    /// Resume a suspended card.
    Resume {
        uid: String,
        #[arg(long)]
        tech: Option<String>,
    },
    /// List twins: the same UID bytes held by different people under
    /// different technologies (left by databases from before that was
    /// refused); doors deny them `credential_ambiguous`.
    Twins,
    /// Resolve a twin: unbind this credential from its holder and retire it
    /// as destroyed (never granted, never recycled). Refused (`not_a_twin`)
    /// for anything but a twin.
    Unbind {
        uid: String,
        /// The technology of the credential to unbind.
        #[arg(long)]
        tech: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Prove the hash chain unbroken, and print its head (SEQ:HASH) to record elsewhere.
    Verify {
        /// A head recorded earlier: refused (`audit_head_missing`) if the
        /// chain no longer holds it (cut short or rewritten).
        #[arg(long, value_name = "SEQ:HASH")]
        expect: Option<String>,
    },
    /// List entries, oldest first.
    List {
        /// Only entries after this sequence number.
        #[arg(long)]
        after: Option<i64>,
        /// Only this actor.
        #[arg(long)]
        actor_id: Option<String>,
        /// Only entries about this user.
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

/// `idms osdp` subcommands.
#[derive(Subcommand)]
enum OsdpCmd {
    /// Ask the device at an address who it is (ID) and what it can do (CAP).
    Probe {
        #[command(flatten)]
        line: OsdpLine,
    },
    /// Poll the device at an address and print one line per event (card reads, online, offline).
    Watch {
        #[command(flatten)]
        line: OsdpLine,
        /// Stop after this many seconds (default: run until interrupted).
        #[arg(long)]
        seconds: Option<f64>,
    },
}

/// Where an OSDP device is.
#[derive(Args)]
struct OsdpLine {
    /// The serial port (`/dev/ttyUSB0`, `/dev/serial/by-id/…`).
    #[arg(long)]
    port: PathBuf,
    /// Baud rate.
    #[arg(long, default_value_t = 9600)]
    baud: u32,
    /// The device's OSDP address (0–126).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=126))]
    address: u8,
}

#[derive(Subcommand)]
enum DevCmd {
    /// Generate people with cards (for benchmarks).
    Seed {
        #[arg(long)]
        users: u64,
        #[arg(long, default_value_t = 1)]
        cards_per_user: u64,
    },
    /// Open the database, build the index, and report time and peak memory.
    OpenStats,
    /// Serve a constant-answer decide endpoint (the baseline of `make bench-http`).
    Baseline {
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
}

fn data_dir(cli: &Cli) -> PathBuf {
    cli.data_dir.clone().unwrap_or_else(idms::service::default_data_dir)
}

fn user_id(s: &str) -> Result<UserId, StoreError> {
    Ok(s.parse::<UserId>()?)
}

/// A refusal found while parsing a state-changing command is audited too.
fn audited<T>(s: &Store, actor: &Actor, action: &'static str, r: Result<T, DomainError>) -> Result<T, StoreError> {
    r.or_else(|e| {
        s.audit_refusal(actor, idms::store::AuditDraft::new(action), e.code())?;
        Err(e.into())
    })
}

/// The rule layer's answer for the CLI: a refusal it left unaudited (a
/// role or scope check) is audited now under `action`.
pub(crate) fn ops_audited<T>(
    s: &Store,
    actor: &Actor,
    action: &'static str,
    r: Result<T, OpsError>,
) -> Result<T, StoreError> {
    r.map_err(|e| e.audit_now(s, actor, idms::store::AuditDraft::new(action)))
}

fn tech(s: Option<&str>) -> Result<Option<Technology>, StoreError> {
    Ok(s.map(Technology::from_name).transpose()?)
}

fn ts(field: &'static str, s: Option<&str>) -> Result<Option<Timestamp>, DomainError> {
    s.map(|s| Timestamp::parse(field, s)).transpose()
}

/// Who the audit trail records: `--actor`, or `cli:` and the login name.
fn actor(cli: &Cli) -> Actor {
    Actor::staff(cli.actor.clone().unwrap_or_else(|| {
        format!(
            "cli:{}",
            std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into())
        )
    }))
}

fn init_logs(filter: &str, json: bool) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

fn serve(cli: &Cli, config: Option<&std::path::Path>, listen: Option<std::net::SocketAddr>) -> ExitCode {
    let mut c = match idms::service::Config::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error[config]: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(d) = &cli.data_dir {
        c.data_dir.clone_from(d);
    }
    if let Some(l) = listen {
        c.listen = l;
    }
    init_logs(&c.log, c.log_format == "json");
    let rt = match idms::service::runtime(c.workers) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error[io]: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match rt.block_on(idms::service::serve(c)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => output::failure(&e, cli.json),
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Serve { config, listen } = &cli.cmd {
        return serve(&cli, config.as_deref(), *listen);
    }
    init_logs(&cli.log, false);
    // Purge jobs and the erase flow have refusals of their own (`not_confirmed`, `job_not_abortable`).
    if let Some(code) = purge::run(&cli) {
        return code;
    }
    match dispatch(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => output::failure(&e, cli.json),
    }
}

fn open(cli: &Cli) -> Result<Store, StoreError> {
    Store::open(&data_dir(cli).join(store::DB_FILE), Arc::new(SystemClock))
}

fn dispatch(cli: &Cli) -> Result<(), StoreError> {
    let actor = actor(cli);
    match &cli.cmd {
        Cmd::Init => {
            let path = data_dir(cli).join(store::DB_FILE);
            let s = Store::create(&path, Arc::new(SystemClock))?;
            if cli.json {
                output::json(&serde_json::json!({ "database": s.path() }));
            } else {
                println!("database ready at {}", s.path().display());
            }
            Ok(())
        }
        Cmd::User { cmd } => user(cli, &open(cli)?, &actor, cmd),
        Cmd::Card { cmd } => card(cli, &open(cli)?, &actor, cmd),
        Cmd::Decide { uid, door, at, tech: t } => {
            let s = open(cli)?;
            let uid = Uid::parse_any(uid)?;
            let now = ts("at", at.as_deref())?.unwrap_or_else(|| SystemClock.now());
            let d = s.decide(tech(t.as_deref())?, &uid, now);
            if cli.json {
                output::json(&serde_json::json!({
                    "decision": d.as_str(), "reason": d.reason().map(|r| r.code()),
                    "uid": uid, "door": door, "at": now,
                }));
            } else {
                println!("{}  {}", d.as_str(), d.reason().map_or("", |r| r.code()));
            }
            Ok(())
        }
        Cmd::Audit { cmd } => audit(cli, &open(cli)?, cmd),
        Cmd::Events { cmd } => events::run(cli, &open(cli)?, cmd),
        Cmd::Stats => {
            let st = open(cli)?.stats()?;
            if cli.json {
                output::json(&st);
            } else {
                let mut t = Table::new(&["KIND", "STATE", "COUNT"]);
                for (k, v) in &st.users {
                    t.row(vec!["users".into(), (*k).into(), v.to_string()]);
                }
                for (k, v) in &st.credentials {
                    t.row(vec!["credentials".into(), (*k).into(), v.to_string()]);
                }
                t.print();
            }
            Ok(())
        }
        Cmd::Backup { to } => {
            open(cli)?.backup(&actor, to)?;
            if cli.json {
                output::json(&serde_json::json!({ "backup": to }));
            } else {
                println!("backed up to {} (it holds personal data: keep it safe, and expire it)", to.display());
            }
            Ok(())
        }
        Cmd::Checkpoint => {
            if open(cli)?.scrub()? {
                println!("write-ahead log folded in and truncated; no erased data left in unused space");
                Ok(())
            } else {
                Err(StoreError::ErasurePending)
            }
        }
        Cmd::Demo => demo(cli, &actor),
        Cmd::Readers { watch, include } => readers(cli, *watch, include),
        Cmd::Osdp { cmd: OsdpCmd::Probe { line } } => osdp::probe(cli.json, &line.port, line.baud, line.address),
        Cmd::Osdp { cmd: OsdpCmd::Watch { line, seconds } } => {
            osdp::watch(cli.json, &line.port, line.baud, line.address, seconds.map(std::time::Duration::from_secs_f64))
        }
        Cmd::Dev { cmd } => dev(cli, &actor, cmd),
        Cmd::Serve { .. } | Cmd::Purge { .. } => Ok(()),
        Cmd::Token { cmd } => access::token(cli, cmd),
        Cmd::Operator { cmd } => access::operator(cli, cmd),
        Cmd::Controller { cmd } => access::controller(cli, cmd),
    }
}

fn new_user(given: &str, family: &str, f: &UserFields) -> Result<NewUser, StoreError> {
    let form = idms::ops::users::NewUserForm {
        given_name: given.to_string(),
        family_name: family.to_string(),
        email: f.email.clone(),
        phone: f.phone.clone(),
        employee_no: f.employee_no.clone(),
        notes: f.notes.clone(),
        org_unit: f.org_unit.clone(),
        valid_from: f.valid_from.clone(),
        valid_to: f.valid_to.clone(),
        purge_date: f.purge_date.clone(),
        legal_hold: false,
        record_type: f.record_type.clone(),
        group: f.group.clone(),
        balance: f.balance,
        unreturned_items: f.unreturned_items,
    };
    Ok(form.parse()?)
}

fn print_user(cli: &Cli, u: &UserRecord) {
    if cli.json {
        return output::json(u);
    }
    let name = match (&u.given_name, &u.family_name) {
        (Some(g), Some(f)) => format!("{g} {f}"),
        _ => "(expunged)".to_string(),
    };
    pairs(&[
        ("id", u.id.to_string()),
        ("state", u.state.to_string()),
        ("name", name),
        ("email", opt(u.email.as_ref())),
        ("phone", opt(u.phone.as_ref())),
        ("employee no", opt(u.employee_no.as_ref())),
        ("org unit", opt(u.org_unit.as_ref())),
        ("valid", format!("[{}, {})", opt(u.valid_from), opt(u.valid_to))),
        ("purge date", opt(u.purge_date.map(idms::domain::time::format_date))),
        ("legal hold", u.legal_hold.to_string()),
        ("record type", opt(u.record_type.as_ref())),
        ("group", opt(u.group.as_ref())),
        ("balance", format!("{:.2}", idms::domain::purge::units_from_minor(u.balance))),
        ("unreturned items", u.unreturned_items.to_string()),
        ("directory", if u.directory_linked { "linked" } else { "-" }.to_string()),
        ("created", u.created_at.to_string()),
        ("updated", u.updated_at.to_string()),
        ("deleted", opt(u.deleted_at)),
        ("expunged", opt(u.expunged_at.map(|t| format!("{t} by {}", opt(u.expunged_by.as_ref()))))),
    ]);
    if !u.history.is_empty() {
        println!();
        let mut t = Table::new(&["TECHNOLOGY", "UID", "STATE", "FROM", "UNTIL", "WHY"]);
        for h in &u.history {
            let state = u.credentials.iter().find(|c| c.uid == h.uid && c.technology == h.technology).map(|c| c.state);
            t.row(vec![
                h.technology.to_string(),
                h.uid.to_string(),
                opt(state),
                h.opened_at.to_string(),
                opt(h.closed_at),
                opt(h.close_reason.as_ref()),
            ]);
        }
        t.print();
    }
}

fn user(cli: &Cli, s: &Store, actor: &Actor, cmd: &UserCmd) -> Result<(), StoreError> {
    let u = match cmd {
        UserCmd::Add { given, family, fields, directory_id, legal_hold } => {
            let mut n = new_user(given, family, fields)?;
            n.directory_id.clone_from(directory_id);
            n.legal_hold = *legal_hold;
            s.create_user(actor, n)?
        }
        UserCmd::Show { id } => s.get_user(user_id(id)?)?,
        // Run by `purge::run` before dispatch.
        UserCmd::Erasure(_) => return Ok(()),
        UserCmd::Search { query, all, limit } => {
            let found = if *all { s.search_all_users(query, *limit)? } else { s.search_users(query, *limit)? };
            if cli.json {
                output::json(&found);
            } else if found.is_empty() {
                println!("no match{}", if *all { "" } else { " (use --all to include deleted and expunged people)" });
            } else {
                let mut t = Table::new(&["ID", "STATE", "FAMILY NAME", "GIVEN NAME", "EMAIL", "EMPLOYEE NO"]);
                for u in &found {
                    t.row(vec![
                        u.id.to_string(),
                        u.state.to_string(),
                        opt(u.family_name.as_ref()),
                        opt(u.given_name.as_ref()),
                        opt(u.email.as_ref()),
                        opt(u.employee_no.as_ref()),
                    ]);
                }
                t.print();
            }
            return Ok(());
        }
        UserCmd::Update { id, given, family, fields, clear, legal_hold, unlink } => {
            let id = user_id(id)?;
            let mut p = UserPatch {
                given_name: given.clone(),
                family_name: family.clone(),
                email: fields.email.clone().map(Some),
                phone: fields.phone.clone().map(Some),
                employee_no: fields.employee_no.clone().map(Some),
                notes: fields.notes.clone().map(Some),
                org_unit: fields.org_unit.clone().map(Some),
                directory_id: unlink.then_some(None),
                valid_from: ts("valid_from", fields.valid_from.as_deref())?.map(Some),
                valid_to: ts("valid_to", fields.valid_to.as_deref())?.map(Some),
                purge_date: fields.purge_date.as_deref().map(|d| parse_date("purge_date", d)).transpose()?.map(Some),
                legal_hold: *legal_hold,
                record_type: fields.record_type.clone().map(Some),
                group: fields.group.clone().map(Some),
                balance: fields.balance.map(|v| minor_from_units("balance", v)).transpose()?,
                unreturned_items: fields.unreturned_items,
            };
            for c in clear {
                match c.as_str() {
                    "email" => p.email = Some(None),
                    "phone" => p.phone = Some(None),
                    "employee_no" => p.employee_no = Some(None),
                    "notes" => p.notes = Some(None),
                    "org_unit" => p.org_unit = Some(None),
                    "valid_from" => p.valid_from = Some(None),
                    "valid_to" => p.valid_to = Some(None),
                    "purge_date" => p.purge_date = Some(None),
                    "record_type" => p.record_type = Some(None),
                    "group" => p.group = Some(None),
                    _ => {
                        return Err(DomainError::InvalidInput {
                            field: "clear",
                            message:
                                "can clear email, phone, employee_no, notes, org_unit, valid_from, valid_to, purge_date, \
                                 record_type, group"
                                    .into(),
                        }
                        .into());
                    }
                }
            }
            s.update_user(actor, id, p)?
        }
        UserCmd::Suspend { id } => s.suspend(actor, audited(s, actor, "user.suspend", id.parse())?)?,
        UserCmd::Resume { id } => s.resume(actor, audited(s, actor, "user.resume", id.parse())?)?,
        UserCmd::Delete { id } => s.delete(actor, audited(s, actor, "user.delete", id.parse())?)?,
        UserCmd::Restore { id } => s.restore(actor, audited(s, actor, "user.restore", id.parse())?)?,
        UserCmd::Expunge { id, confirm } => {
            let u = s.expunge(actor, audited(s, actor, "user.expunge", id.parse())?, confirm)?;
            // This process ends now: rebuild the file here rather than leave it to a service.
            s.scrub()?;
            if s.erasure_pending() {
                print_user(cli, &u);
                return Err(StoreError::ErasurePending);
            }
            u
        }
    };
    print_user(cli, &u);
    Ok(())
}

fn print_card(cli: &Cli, c: &CredentialRecord) {
    if cli.json {
        return output::json(c);
    }
    pairs(&[
        ("uid", c.uid.to_string()),
        ("technology", c.technology.to_string()),
        ("state", c.state.to_string()),
        ("holder", c.holder.map_or_else(|| "-".into(), |h| format!("{h} ({})", opt(c.holder_state)))),
        ("created", c.created_at.to_string()),
        ("updated", c.updated_at.to_string()),
    ]);
    if !c.bindings.is_empty() {
        println!();
        let mut t = Table::new(&["HOLDER", "FROM", "BY", "UNTIL", "WHY"]);
        for b in &c.bindings {
            t.row(vec![
                b.user_id.to_string(),
                b.opened_at.to_string(),
                b.opened_by.clone(),
                opt(b.closed_at),
                opt(b.close_reason.as_ref()),
            ]);
        }
        t.print();
    }
}

fn card(cli: &Cli, s: &Store, actor: &Actor, cmd: &CardCmd) -> Result<(), StoreError> {
    let c = match cmd {
        CardCmd::List { state, limit } => {
            let state = state
                .as_deref()
                .map(|s| {
                    idms::domain::CredentialState::from_name(s).ok_or(DomainError::InvalidInput {
                        field: "state",
                        message: "expected in_stock, issued, suspended, lost, stolen or destroyed".into(),
                    })
                })
                .transpose()?;
            let cards = s.list_credentials(state, None, *limit)?;
            if cli.json {
                output::json(&cards);
            } else {
                let mut t = Table::new(&["TECHNOLOGY", "UID", "STATE", "HOLDER", "CHANGED"]);
                for c in &cards {
                    t.row(vec![
                        c.technology.to_string(),
                        c.uid.to_string(),
                        c.state.to_string(),
                        opt(c.holder),
                        c.updated_at.to_string(),
                    ]);
                }
                t.print();
            }
            return Ok(());
        }
        CardCmd::Enroll { user, uid, tech: t } => {
            let parsed =
                Technology::from_name(t).and_then(|t| Ok((t, Uid::parse_for(t, uid)?, user.parse::<UserId>()?)));
            let (t, uid, user) = audited(s, actor, "credential.enroll", parsed)?;
            s.enroll(actor, user, t, &uid)?
        }
        CardCmd::Show { uid, tech: t } => s.get_credential(tech(t.as_deref())?, &Uid::parse_any(uid)?)?,
        CardCmd::Revoke { uid, reason, tech: t } => {
            let parsed = RetireReason::from_name(reason).and_then(|r| Ok((r, Uid::parse_any(uid)?)));
            let (reason, uid) = audited(s, actor, "credential.revoke", parsed)?;
            s.revoke(actor, tech(t.as_deref())?, &uid, reason)?
        }
        CardCmd::Suspend { uid, tech: t } => s.suspend_credential(actor, tech(t.as_deref())?, &Uid::parse_any(uid)?)?,
        CardCmd::Resume { uid, tech: t } => s.resume_credential(actor, tech(t.as_deref())?, &Uid::parse_any(uid)?)?,
        CardCmd::Twins => {
            let twins = ops_audited(
                s,
                actor,
                "credential.twins",
                idms::ops::credentials::twins(s, &Acting::Local(actor.clone())),
            )?;
            if cli.json {
                output::json(&twins);
            } else if twins.is_empty() {
                println!("no twins: no UID bytes are held by different people");
            } else {
                let mut t = Table::new(&["UID", "TECHNOLOGY", "STATE", "HOLDER", "HOLDER STATE"]);
                for c in &twins {
                    t.row(vec![
                        c.uid.to_string(),
                        c.technology.to_string(),
                        c.state.to_string(),
                        c.holder.to_string(),
                        c.holder_state.to_string(),
                    ]);
                }
                t.print();
            }
            return Ok(());
        }
        CardCmd::Unbind { uid, tech: t } => {
            let parsed = Technology::from_name(t).and_then(|t| Ok((t, Uid::parse_for(t, uid)?)));
            let (t, uid) = audited(s, actor, "credential.unbind", parsed)?;
            let acting = Acting::Local(actor.clone());
            ops_audited(s, actor, "credential.unbind", idms::ops::credentials::unbind(s, &acting, t, &uid))?
        }
    };
    print_card(cli, &c);
    Ok(())
}

fn audit(cli: &Cli, s: &Store, cmd: &AuditCmd) -> Result<(), StoreError> {
    match cmd {
        AuditCmd::Verify { expect } => {
            let expect = expect.as_deref().map(store::audit::AuditHead::parse).transpose()?;
            let r = s.verify_audit_expecting(expect.as_ref())?;
            if cli.json {
                output::json(&r);
            } else if r.first_bad.is_none() {
                println!("audit chain intact: {} entries verified", r.entries);
                if let Some(e) = &expect {
                    println!("it still holds the recorded head {e}");
                }
                if let Some(h) = &r.head {
                    println!("head {h}");
                    println!(
                        "record it outside IDMS: `idms audit verify --expect {h}` fails once the chain no longer holds it"
                    );
                }
            }
            match r.first_bad {
                Some(b) => Err(StoreError::AuditBroken { seq: b.seq, problem: b.problem }),
                None => Ok(()),
            }
        }
        AuditCmd::List { after, actor_id, user, limit } => {
            let q = AuditQuery {
                after_seq: *after,
                actor: actor_id.clone(),
                target_user: user.as_deref().map(user_id).transpose()?,
                limit: Some(*limit),
            };
            let entries = s.audit_entries(&q)?;
            if cli.json {
                output::json(&entries);
            } else {
                let mut t = Table::new(&["SEQ", "AT", "ACTOR", "ACTION", "USER", "CREDENTIAL", "OUTCOME", "DETAIL"]);
                for e in &entries {
                    t.row(vec![
                        e.seq.to_string(),
                        e.at.to_string(),
                        e.actor.clone(),
                        e.action.clone(),
                        opt(e.target_user),
                        opt(e.target_credential.as_ref()),
                        e.outcome.clone(),
                        e.detail.clone(),
                    ]);
                }
                t.print();
            }
            Ok(())
        }
    }
}

fn demo(cli: &Cli, actor: &Actor) -> Result<(), StoreError> {
    let dir = data_dir(cli);
    let s = Store::create(&dir.join(store::DB_FILE), Arc::new(SystemClock))?;
    let people = [
        ("Ada", "Lovelace", "ada@example.test", "E1001", "04A1B2C3"),
        ("Grace", "Hopper", "grace@example.test", "E1002", "04112233445566"),
        ("Alan", "Turing", "alan@example.test", "E1003", "04C0FFEE"),
        ("Edsger", "Dijkstra", "edsger@example.test", "E1004", "04DEADBEEF0102"),
    ];
    let mut ids = Vec::new();
    for (g, f, e, n, card) in people {
        let u = s.create_user(
            actor,
            NewUser {
                given_name: g.into(),
                family_name: f.into(),
                email: Some(e.into()),
                employee_no: Some(n.into()),
                org_unit: Some("demo".into()),
                ..NewUser::default()
            },
        )?;
        let uid = Uid::parse_for(Technology::Iso14443a, card)?;
        s.enroll(actor, u.id, Technology::Iso14443a, &uid)?;
        ids.push((u.id, card));
    }
    // Alan is suspended, Edsger deleted: their cards are refused at doors.
    s.suspend(actor, ids[2].0)?;
    s.delete(actor, ids[3].0)?;
    let d = dir.display();
    println!("Demo data in {d}: 4 people, 4 cards (Turing suspended, Dijkstra deleted).\n");
    println!("Try:");
    println!("  idms --data-dir {d} user search ''            # everyone live");
    println!("  idms --data-dir {d} user search --all ''      # deleted too");
    println!("  idms --data-dir {d} decide --uid 04:a1:b2:c3  # grant");
    println!("  idms --data-dir {d} decide --uid 04C0FFEE     # deny holder_suspended");
    println!("  idms --data-dir {d} card enroll --user {} --uid {}   # credential_held", ids[0].0, ids[3].1);
    println!("  idms --data-dir {d} user expunge {id} --confirm {id}", id = ids[3].0);
    println!("  idms --data-dir {d} card enroll --user {} --uid {}   # now recycled", ids[0].0, ids[3].1);
    println!("  idms --data-dir {d} audit list");
    println!("  idms --data-dir {d} audit verify");
    let (_, admin) = s.create_token(actor, "demo-admin", Role::Admin, Some(7 * 86_400))?;
    let (c, door) = s.add_controller(actor, "demo-door", &["front".to_string()])?;
    println!("\nThe HTTP service (tokens valid for the demo only):");
    println!("  idms --data-dir {d} serve --listen 127.0.0.1:8080 &");
    println!("  curl -s -H 'Authorization: Bearer {admin}' 'localhost:8080/api/v1/users?q='");
    println!(
        "  curl -s -H 'Authorization: Bearer {door}' -H 'content-type: application/json' -d '{{\"uid\":\"04A1B2C3\",\"door\":\"front\"}}' localhost:8080/api/v1/access/decide"
    );
    println!("  curl -s -H 'Authorization: Bearer {door}' localhost:8080/api/v1/controllers/{}/credentials", c.id);
    println!("  curl -s localhost:8080/api/v1/openapi.json | head -c 300; curl -s localhost:8080/metrics | head");
    println!(
        "\nTap-to-enrol (make demo starts the virtual readers; tap within 30 s, then confirm with the returned id):"
    );
    println!(
        "  curl -s -H 'Authorization: Bearer {admin}' -H 'content-type: application/json' -d '{{\"reader\":\"IDMS Sim A 00 00\",\"user_id\":\"{}\"}}' localhost:8080/api/v1/enrollments",
        ids[1].0
    );
    println!("  curl -s -X POST -H 'Authorization: Bearer {admin}' localhost:8080/api/v1/enrollments/ID/confirm");
    Ok(())
}

fn readers(cli: &Cli, watch: bool, include: &[String]) -> Result<(), StoreError> {
    use idms::readers::{Hub, ReaderEventKind};
    let hub = Arc::new(Hub::default());
    let mut rx = hub.subscribe();
    let cfg = idms::readers::pcsc::PcscConfig { include: include.to_vec(), ..Default::default() };
    let driver = idms::readers::pcsc::spawn(cfg, hub.clone(), Arc::new(SystemClock))
        .map_err(|e| StoreError::Io(format!("cannot start the PC/SC driver: {e}")))?;
    // The driver lists the readers as soon as pcscd answers.
    std::thread::sleep(std::time::Duration::from_millis(700));
    let list = hub.readers();
    if cli.json && !watch {
        output::json(&list);
    } else if !cli.json {
        if list.is_empty() {
            println!(
                "no PC/SC readers (is pcscd running, and the reader plugged in? `pcsc_scan` shows what pcscd sees)"
            );
        } else {
            let mut t = Table::new(&["READER", "KIND", "STATUS"]);
            for r in &list {
                let status = serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(str::to_owned));
                t.row(vec![r.id.clone(), "pcsc".into(), status.unwrap_or_default()]);
            }
            t.print();
        }
    }
    if !watch {
        hub.stop();
        let _ = driver.join();
        return Ok(());
    }
    if !cli.json {
        println!("watching; tap a card (Ctrl-C to stop)");
    }
    // What a card is, when this data directory has a database.
    let store = open(cli).ok();
    while let Ok(p) = rx.blocking_recv() {
        let e = &p.event;
        let status = match (&e.kind, &store) {
            (ReaderEventKind::Tap { uid, .. }, Some(s)) => {
                // The same verdict staff see on the API's tap stream.
                let me = idms::ops::Acting::Local(actor(cli));
                Some(match idms::ops::readers::card_status(s, &me, Technology::Iso14443a, uid) {
                    Ok(v) => match (v.holder, v.holder_state) {
                        (Some(h), Some(st)) => format!("held by {h} ({})", st.as_str()),
                        _ => v.status.to_owned(),
                    },
                    Err(err) => format!("unknown ({})", err.code()),
                })
            }
            _ => None,
        };
        if cli.json {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            if let (Some(st), Some(o)) = (&status, v.as_object_mut()) {
                o.insert("credential".into(), serde_json::Value::String(st.clone()));
            }
            output::json_line(&v);
        } else {
            let what = match &e.kind {
                ReaderEventKind::Tap { uid, card_type, .. } => {
                    format!("tap {uid} {card_type:?} {}", status.as_deref().unwrap_or(""))
                }
                ReaderEventKind::Unreadable { code, .. } => format!("unreadable: {code}"),
                other => format!("{other:?}"),
            };
            println!("{}  {}  {}", e.at, e.reader, what.trim_end());
        }
    }
    Ok(())
}

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn dev(cli: &Cli, actor: &Actor, cmd: &DevCmd) -> Result<(), StoreError> {
    match cmd {
        DevCmd::Seed { users, cards_per_user } => {
            let path = data_dir(cli).join(store::DB_FILE);
            let s = Store::create(&path, Arc::new(SystemClock))?;
            let started = std::time::Instant::now();
            let mut last = 0;
            let r = s.seed(actor, *users, *cards_per_user, |n| {
                if n - last >= 100_000 || n == *users {
                    last = n;
                    eprintln!("seeded {n}/{users} users");
                }
            })?;
            let secs = started.elapsed().as_secs_f64();
            if cli.json {
                output::json(&serde_json::json!({ "users": r.users, "credentials": r.credentials, "seconds": secs }));
            } else {
                println!("seeded {} users and {} credentials in {secs:.1} s", r.users, r.credentials);
            }
            Ok(())
        }
        DevCmd::Baseline { listen } => {
            let workers = std::env::var("IDMS_WORKERS").ok().and_then(|v| v.parse().ok());
            let rt = idms::service::runtime(workers)
                .map_err(|e| StoreError::Io(format!("cannot start the runtime: {e}")))?;
            rt.block_on(idms::service::serve_baseline(*listen))
        }
        DevCmd::OpenStats => {
            let started = std::time::Instant::now();
            let s = open(cli)?;
            // The index is built on first use: build it now, inside the timing.
            s.try_index()?;
            let secs = started.elapsed().as_secs_f64();
            let rss = peak_rss_kib();
            if cli.json {
                output::json(&serde_json::json!({
                    "credentials": s.index().credentials(), "open_seconds": secs, "peak_rss_kib": rss,
                }));
            } else {
                println!(
                    "opened with {} credentials indexed in {secs:.3} s; peak RSS {} MiB",
                    s.index().credentials(),
                    rss.map_or_else(|| "?".into(), |k| (k / 1024).to_string())
                );
            }
            Ok(())
        }
    }
}
