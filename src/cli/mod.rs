//! Subcommands. Each parses its input at the boundary (UIDs, IDs, times),
//! calls one store operation, and prints the result as a table or JSON.

mod access;
mod card;
mod directory;
mod events;
mod levels;
mod osdp;
mod output;
mod purge;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use idms::api::dto;
use idms::clock::{Clock, SystemClock};
use idms::config::{Config, LogFormat};
use idms::domain::{DomainError, LifecycleAction, Technology, Timestamp, Uid, UserId};
use idms::ops::{self, Acting, OpsError};
use idms::store::{self, Actor, AuditQuery, NewUser, Store, StoreError};

use output::{Table, opt};

#[derive(Parser)]
#[command(name = "idms", version, about = "Badge office: people, access cards and door decisions")]
struct Cli {
    /// Directory holding the database (idms.db).
    #[arg(long, env = "IDMS_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// TOML configuration file (the service's). Every command takes its
    /// `data_dir` from it when `--data-dir`/`IDMS_DATA_DIR` are not given,
    /// so the CLI and `idms serve` work on the same database.
    #[arg(long, env = "IDMS_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Print results (and errors, on stderr) as JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Who to record in the audit trail (default: `cli:` and the login name).
    #[arg(long, env = "IDMS_ACTOR", global = true)]
    actor: Option<String>,
    /// Log filter (tracing `EnvFilter` syntax; default `warn`, for `serve` `info`).
    #[arg(long, env = "IDMS_LOG", global = true)]
    log: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create the data directory (0700) and database; every other command
    /// refuses (`not_initialised`) a data directory without one. On an
    /// existing database: says so and changes nothing.
    Init,
    /// People: add, show, search, lifecycle.
    User {
        #[command(subcommand)]
        cmd: Box<user::UserCmd>,
    },
    /// Cards: enrol, show, revoke, suspend.
    Card {
        #[command(subcommand)]
        cmd: card::CardCmd,
    },
    /// Would this card open a door now (or at --at)?
    Decide {
        /// The card's UID in hex.
        #[arg(long)]
        uid: String,
        /// The door: the answer then follows its access levels and
        /// schedules, and explains a grant (level, schedule, interval).
        /// Without it, only the card and its holder are checked.
        #[arg(long)]
        door: Option<String>,
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
    ///
    /// Every configuration key is a line of the TOML file, an `IDMS_*`
    /// variable and (but `osdp` and secrets) a flag; a flag beats a
    /// variable, which beats the file.
    Serve {
        #[command(flatten)]
        flags: idms::config::Flags,
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
    /// Sites: where doors are, each with the IANA time zone its schedules use.
    Site {
        #[command(subcommand)]
        cmd: levels::SiteCmd,
    },
    /// Doors (a controller's doors become door records of the default site).
    Door {
        #[command(subcommand)]
        cmd: levels::DoorCmd,
    },
    /// Areas: named groups of doors.
    Area {
        #[command(subcommand)]
        cmd: levels::AreaCmd,
    },
    /// Holiday calendars.
    Holiday {
        #[command(subcommand)]
        cmd: levels::HolidayCmd,
    },
    /// Schedules: weekly intervals in a site's local time, and holiday rules.
    Schedule {
        #[command(subcommand)]
        cmd: levels::ScheduleCmd,
    },
    /// Access levels: (door or area, schedule) pairs, the unit staff assign.
    Level {
        #[command(subcommand)]
        cmd: levels::LevelCmd,
    },
    /// Import people from a file.
    Import {
        #[command(subcommand)]
        cmd: directory::ImportCmd,
    },
    /// The identity directory: runs of its sync and of imports, with their reports.
    Directory {
        #[command(subcommand)]
        cmd: directory::DirectoryCmd,
    },
    /// Who can open a door at a time (people's IDs).
    WhoCan {
        #[arg(long)]
        door: String,
        /// RFC 3339 (default: now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Which doors a person can open, and through which levels.
    Access {
        #[arg(long)]
        user: String,
        /// RFC 3339 (default: now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Access events: the door decisions, kept for the configured retention.
    Events {
        #[command(subcommand)]
        cmd: events::EventsCmd,
    },
    /// Print the HTTP API's OpenAPI 3.1 document (JSON), as `GET
    /// /api/v1/openapi.json` serves it; needs no database.
    Openapi,
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
        /// Also 1,000 doors and this many access levels; each person holds 1 to 3 of them.
        #[arg(long, default_value_t = 0)]
        levels: u32,
    },
    /// Open the database, build the index, and report time and peak memory.
    OpenStats,
    /// Serve a constant-answer decide endpoint (the baselines of `make bench-http`).
    Baseline {
        #[arg(long)]
        listen: std::net::SocketAddr,
        /// Tokio's default runtime (a worker per core) and `axum::serve`,
        /// instead of `idms serve`'s runtime and HTTP stack.
        #[arg(long)]
        tokio_default: bool,
    },
}

fn data_dir(cli: &Cli) -> PathBuf {
    cli.data_dir.clone().unwrap_or_else(idms::config::default_data_dir)
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
    Ok(Technology::from_name_opt(s)?)
}

fn ts(field: &'static str, s: Option<&str>) -> Result<Option<Timestamp>, DomainError> {
    Timestamp::parse_opt(field, s)
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

/// The service's configuration: the file, the `IDMS_*` variables, then the
/// flags — `serve`'s own and the global `--data-dir` and `--log`.
fn serve_config(cli: &Cli, file: Option<&std::path::Path>, flags: &idms::config::Flags) -> Result<Config, String> {
    let mut flags = flags.clone();
    if let Some(d) = &cli.data_dir {
        flags.push("data_dir", d.to_string_lossy());
    }
    if let Some(l) = &cli.log {
        flags.push("log", l.as_str());
    }
    Config::load(file, env_vars(), &flags)
}

/// The environment, for [`Config::load`].
fn env_vars() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
}

fn serve(cli: &Cli, file: Option<&std::path::Path>, flags: &idms::config::Flags) -> ExitCode {
    let c = match serve_config(cli, file, flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error[config]: {e}");
            return ExitCode::from(2);
        }
    };
    init_logs(&c.log, c.log_format == LogFormat::Json);
    let rt = match idms::service::runtime(c.workers) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error[io]: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let result = rt.block_on(idms::service::serve(c));
    // The events are committed; blocking work of requests the stop cut
    // short (a long audit verify) must not hold the exit.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => output::failure(&e, cli.json),
    }
}

pub fn run() -> ExitCode {
    // `level add` takes its ordered grants as trailing arguments, where a
    // `--json` would be read as one: the global flag is moved to the front.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.iter().any(|a| a == "--json") {
        args.retain(|a| a != "--json");
        args.insert(1.min(args.len()), "--json".into());
    }
    let mut cli = Cli::parse_from(args);
    if let Cmd::Serve { flags } = &cli.cmd {
        return serve(&cli, cli.config.as_deref(), flags);
    }
    // The data directory the service's configuration names, unless given.
    if let (None, Some(file)) = (&cli.data_dir, &cli.config) {
        match Config::load(Some(file), env_vars(), &idms::config::Flags::default()) {
            Ok(c) => cli.data_dir = Some(c.data_dir),
            Err(e) => {
                eprintln!("error[config]: {e}");
                return ExitCode::from(2);
            }
        }
    }
    init_logs(cli.log.as_deref().unwrap_or("warn"), false);
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
            // Idempotent, so provisioning can run it on every deploy: an
            // existing database is reported and left as it is (not even
            // opened: migrations are for the commands that use it).
            let path = data_dir(cli).join(store::DB_FILE);
            let created = !path.exists();
            if created {
                Store::create(&path, Arc::new(SystemClock))?;
            }
            if cli.json {
                output::json(&serde_json::json!({ "database": path, "created": created }));
            } else if created {
                println!("database ready at {}", path.display());
            } else {
                println!("already initialised: {} exists; nothing changed", path.display());
            }
            Ok(())
        }
        Cmd::User { cmd } => user::run(cli, &open(cli)?, &actor, cmd),
        Cmd::Card { cmd } => card::run(cli, &open(cli)?, &actor, cmd),
        Cmd::Decide { uid, door, at, tech: t } => {
            let s = open(cli)?;
            let uid = Uid::parse_any(uid)?;
            let now = ts("at", at.as_deref())?.unwrap_or_else(|| SystemClock.now());
            let me = Acting::Local(actor.clone());
            if let Some(door) = door {
                return levels::explain(cli, &s, &me, tech(t.as_deref())?, &uid, door, now);
            }
            let d =
                ops_audited(&s, &actor, "decide", ops::doors::would_decide(&s, &me, tech(t.as_deref())?, &uid, now))?;
            if cli.json {
                output::json(&serde_json::json!({
                    "decision": d.as_str(), "reason": d.reason().map(|r| r.code()),
                    "uid": uid, "at": now,
                }));
            } else {
                println!("{}  {}", d.as_str(), d.reason().map_or("", |r| r.code()));
            }
            Ok(())
        }
        Cmd::Audit { cmd } => audit(cli, &open(cli)?, cmd),
        Cmd::Events { cmd } => events::run(cli, &open(cli)?, cmd),
        Cmd::Site { cmd } => levels::site(cli, &open(cli)?, cmd),
        Cmd::Door { cmd } => levels::door(cli, &open(cli)?, cmd),
        Cmd::Area { cmd } => levels::area(cli, &open(cli)?, cmd),
        Cmd::Holiday { cmd } => levels::holiday(cli, &open(cli)?, cmd),
        Cmd::Schedule { cmd } => levels::schedule(cli, &open(cli)?, cmd),
        Cmd::Level { cmd } => levels::level(cli, &open(cli)?, cmd),
        Cmd::WhoCan { door, at } => levels::who_can(cli, &open(cli)?, door, at.as_deref()),
        Cmd::Access { user, at } => levels::access(cli, &open(cli)?, user, at.as_deref()),
        Cmd::Stats => {
            let (s, me) = (open(cli)?, Acting::Local(actor.clone()));
            let st = ops_audited(&s, &me.actor(), "stats", ops::audit::stats(&s, &me))?;
            if cli.json {
                output::json(&dto::Stats::from(st.clone()));
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
            let (s, me) = (open(cli)?, Acting::Local(actor.clone()));
            ops_audited(&s, &actor, "backup", ops::audit::backup(&s, &me, to))?;
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
        Cmd::Openapi => {
            output::json(&idms::api::openapi::document());
            Ok(())
        }
        Cmd::Serve { .. } | Cmd::Purge { .. } => Ok(()),
        Cmd::Token { cmd } => access::token(cli, cmd),
        Cmd::Import { cmd } => directory::import(cli, cmd),
        Cmd::Directory { cmd } => directory::directory(cli, cmd),
        Cmd::Operator { cmd } => access::operator(cli, cmd),
        Cmd::Controller { cmd } => access::controller(cli, cmd),
    }
}

fn audit(cli: &Cli, s: &Store, cmd: &AuditCmd) -> Result<(), StoreError> {
    match cmd {
        AuditCmd::Verify { expect } => {
            let expect = expect.as_deref().map(store::audit::AuditHead::parse).transpose()?;
            let me = Acting::Local(actor(cli));
            let r = ops_audited(s, &me.actor(), "audit.verify", ops::audit::verify(s, &me, expect.as_ref()))?;
            if cli.json {
                output::json(&dto::AuditReport::from(r.clone()));
            } else if r.first_bad.is_none() {
                println!("audit chain intact: {}", ops::audit::entries_verified(r.entries));
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
            let me = Acting::Local(actor(cli));
            let entries = ops_audited(s, &me.actor(), "audit.list", ops::audit::entries(s, &me, &q))?;
            if cli.json {
                output::json_as::<dto::AuditEntry, _>(&entries);
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
    let s = open(cli)?;
    let people = [
        ("Ada", "Lovelace", "ada@example.test", "E1001", "04A1B2C3"),
        ("Grace", "Hopper", "grace@example.test", "E1002", "04112233445566"),
        ("Alan", "Turing", "alan@example.test", "E1003", "04C0FFEE"),
        ("Edsger", "Dijkstra", "edsger@example.test", "E1004", "04DEADBEEF0102"),
    ];
    // The demo acts as the CLI does: through the rule layer.
    let me = Acting::Local(actor.clone());
    let done = |r| ops_audited(&s, actor, "demo", r);
    let mut ids = Vec::new();
    for (g, f, e, n, card) in people {
        let new = NewUser {
            given_name: g.into(),
            family_name: f.into(),
            email: Some(e.into()),
            employee_no: Some(n.into()),
            org_unit: Some("demo".into()),
            ..NewUser::default()
        };
        let u = done(ops::users::create(&s, &me, new))?;
        let uid = Uid::parse_for(Technology::Iso14443a, card)?;
        ops_audited(&s, actor, "demo", ops::credentials::enroll(&s, &me, u.id, Technology::Iso14443a, &uid))?;
        ids.push((u.id, card));
    }
    // Alan is suspended, Edsger deleted: their cards are refused at doors.
    done(ops::users::lifecycle(&s, &me, ids[2].0, LifecycleAction::Suspend))?;
    done(ops::users::lifecycle(&s, &me, ids[3].0, LifecycleAction::Delete))?;
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
    let expiry = ops::access::TokenExpiry::Days(7);
    let admin =
        ops_audited(&s, actor, "demo", ops::access::create_token(&s, &me, "demo-admin", "admin", expiry))?.1.secret;
    let (c, door) =
        ops_audited(&s, actor, "demo", ops::access::add_controller(&s, &me, "demo-door", &["front".to_string()]))?;
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
        output::json_as::<dto::ReaderInfo, _>(&list);
    } else if !cli.json {
        if list.is_empty() {
            println!(
                "no PC/SC readers (is pcscd running, and the reader plugged in? `pcsc_scan` shows what pcscd sees)"
            );
        } else {
            let mut t = Table::new(&["READER", "KIND", "STATUS"]);
            for r in &list {
                let status = serde_json::to_value(dto::ReaderStatus::from(r.status))
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned));
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
            let mut v = serde_json::to_value(dto::ReaderEvent::from(e.clone())).unwrap_or_default();
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
        DevCmd::Seed { users, cards_per_user, levels } => {
            let s = open(cli)?;
            let started = std::time::Instant::now();
            let mut last = 0;
            let r = s.seed(actor, *users, *cards_per_user, *levels, |n| {
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
        DevCmd::Baseline { listen, tokio_default } => {
            // The same worker threads and connection limits as `idms serve` (IDMS_*), or tokio's defaults.
            let config = Config::load(None, env_vars(), &idms::config::Flags::default())
                .map_err(|e| StoreError::Io(format!("configuration: {e}")))?;
            let rt = if *tokio_default {
                tokio::runtime::Builder::new_multi_thread().enable_all().build()
            } else {
                idms::service::runtime(config.workers)
            }
            .map_err(|e| StoreError::Io(format!("cannot start the runtime: {e}")))?;
            rt.block_on(idms::service::serve_baseline(*listen, idms::net::Limits::of(&config), *tokio_default))
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
