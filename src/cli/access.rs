//! `idms operator …`, `idms controller …`, `idms token …`: giving access
//! and taking it away, through the rule layer (`ops::access`) as the local
//! CLI (every role).

use std::io::IsTerminal;

use clap::{ArgGroup, Subcommand};
use idms::api::dto;
use idms::domain::DomainError;
use idms::ops::access::{self, RevokeTarget, TokenExpiry};
use idms::ops::{Acting, OpsError};
use idms::store::auth::TokenFilter;
use idms::store::{Store, StoreError};

use super::output::{self, Table, opt};
use super::{Cli, actor, open};

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Issue a token for operator NAME (created with ROLE if missing); printed once.
    /// It expires after 90 days unless --days or --no-expiry says otherwise.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        /// Expire after this many days (default 90).
        #[arg(long, conflicts_with = "no_expiry")]
        days: Option<i64>,
        /// Never expire (revoke it when it is no longer needed).
        #[arg(long)]
        no_expiry: bool,
    },
    /// List tokens (never their secrets): ID, whose, label, created, expires, revoked.
    List {
        /// Only this operator's.
        #[arg(long, conflicts_with = "controller")]
        operator: Option<String>,
        /// Only this controller's.
        #[arg(long)]
        controller: Option<i64>,
        /// Hide revoked and expired tokens.
        #[arg(long)]
        active: bool,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// Revoke a token by its secret (the argument or IDMS_TOKEN), its --id,
    /// or every token of an --operator or a --controller.
    #[command(group(ArgGroup::new("by").args(["id", "operator", "controller"])))]
    Revoke {
        /// The token's secret.
        #[arg(env = "IDMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// The token's ID (`idms token list`).
        #[arg(long)]
        id: Option<i64>,
        /// Every token of this operator.
        #[arg(long)]
        operator: Option<String>,
        /// Every token of this controller.
        #[arg(long)]
        controller: Option<i64>,
    },
}

#[derive(Subcommand)]
pub enum OperatorCmd {
    /// Add an operator; the password is read from IDMS_PASSWORD, a no-echo
    /// prompt on a terminal, or standard input.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        /// Restrict the operator to people of this unit (not blank).
        #[arg(long)]
        org_unit: Option<String>,
    },
    /// List operators, enabled or disabled.
    List,
    /// Disable an operator: their tokens are refused and they cannot log in
    /// until enabled (nothing is revoked). The last enabled admin without an
    /// org unit cannot be disabled.
    Disable { name: String },
    /// Enable an operator: their unrevoked, unexpired tokens work again.
    Enable { name: String },
    /// Set an operator's password (IDMS_PASSWORD, a no-echo prompt, or
    /// standard input); their password sessions end.
    SetPassword { name: String },
}

#[derive(Subcommand)]
pub enum ControllerCmd {
    /// Add a door controller for one or more doors; prints its token once.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long = "door", required = true)]
        doors: Vec<String>,
    },
    /// List door controllers, enabled or disabled.
    List,
    /// Disable a controller: its tokens are refused until enabled.
    Disable { id: i64 },
    /// Enable a controller: its unrevoked, unexpired tokens work again.
    Enable { id: i64 },
    /// Print a new token for the controller, once. The old one keeps working
    /// for --overlap (default 24h) so the controller can be re-provisioned
    /// without going dark; --now revokes it at once (a compromised token).
    RotateToken {
        id: i64,
        /// How long the old token keeps working: seconds, or with a unit
        /// (90m, 24h, 2d); at most 30 days.
        #[arg(long, conflicts_with = "now")]
        overlap: Option<String>,
        /// Revoke the old token now.
        #[arg(long)]
        now: bool,
    },
}

/// The rule layer's answer for the CLI (see [`super::ops_audited`]).
fn local<T>(s: &Store, acting: &Acting, action: &'static str, r: Result<T, OpsError>) -> Result<T, StoreError> {
    super::ops_audited(s, &acting.actor(), action, r)
}

/// A password: `IDMS_PASSWORD`; else, on a terminal, a prompt that does
/// not echo (asked twice); else one line of standard input. Never a flag
/// (it would be in the shell history and the process list).
pub fn read_password() -> Result<String, StoreError> {
    if let Ok(p) = std::env::var("IDMS_PASSWORD") {
        return Ok(p);
    }
    let io = |e: std::io::Error| StoreError::Io(format!("cannot read the password: {e}"));
    let term = console::Term::stderr();
    if std::io::stdin().is_terminal() && term.is_term() {
        term.write_str("password: ").map_err(io)?;
        let p = term.read_secure_line().map_err(io)?;
        term.write_str("again: ").map_err(io)?;
        if term.read_secure_line().map_err(io)? != p {
            return Err(
                DomainError::InvalidInput { field: "password", message: "the two entries differ".into() }.into()
            );
        }
        return Ok(p);
    }
    let mut p = String::new();
    std::io::stdin().read_line(&mut p).map_err(io)?;
    Ok(p.trim_end_matches(['\r', '\n']).to_string())
}

fn print_operator(cli: &Cli, o: &idms::store::auth::OperatorRecord, what: &str) {
    if cli.json {
        output::json(&dto::OperatorView::from(o.clone()));
    } else {
        println!("operator {} ({}, id {}) {what}", o.name, o.role, o.id);
    }
}

fn print_controller(cli: &Cli, c: &idms::store::auth::ControllerRecord, what: &str) {
    if cli.json {
        output::json(&dto::ControllerView::from(c.clone()));
    } else {
        println!("controller {} (id {}) {what}", c.name, c.id);
    }
}

pub fn operator(cli: &Cli, cmd: &OperatorCmd) -> Result<(), StoreError> {
    let s = open(cli)?;
    let a = Acting::Local(actor(cli));
    match cmd {
        OperatorCmd::Add { name, role, org_unit } => {
            let password = read_password()?;
            let r = access::add_operator(&s, &a, name, role, org_unit.as_deref(), &password);
            let op = local(&s, &a, "operator.add", r)?;
            if cli.json {
                output::json(&dto::Operator::from(op.clone()));
            } else {
                println!("operator {} ({}) added with id {}", op.name, op.role, op.id);
            }
        }
        OperatorCmd::List => {
            let ops = local(&s, &a, "operator.list", access::list_operators(&s, &a))?;
            if cli.json {
                output::json_as::<dto::OperatorView, _>(&ops);
            } else {
                let mut t = Table::new(&["ID", "NAME", "ROLE", "ORG UNIT", "PASSWORD", "CREATED", "DISABLED"]);
                for o in &ops {
                    t.row(vec![
                        o.id.to_string(),
                        o.name.clone(),
                        o.role.to_string(),
                        opt(o.org_unit.as_ref()),
                        if o.password { "set" } else { "-" }.into(),
                        o.created_at.to_string(),
                        opt(o.disabled_at),
                    ]);
                }
                t.print();
            }
        }
        OperatorCmd::Disable { name } => {
            let o = local(&s, &a, "operator.disable", access::disable_operator(&s, &a, name))?;
            print_operator(cli, &o, "disabled: its tokens are refused until enabled");
        }
        OperatorCmd::Enable { name } => {
            let o = local(&s, &a, "operator.enable", access::enable_operator(&s, &a, name))?;
            print_operator(cli, &o, "enabled");
        }
        OperatorCmd::SetPassword { name } => {
            let password = read_password()?;
            let (o, ended) = local(&s, &a, "operator.password", access::set_password(&s, &a, name, &password))?;
            if cli.json {
                output::json(
                    &serde_json::json!({ "operator": dto::OperatorView::from(o.clone()), "sessions_ended": ended }),
                );
            } else {
                println!("password set for operator {} (id {}); {ended} password session(s) ended", o.name, o.id);
            }
        }
    }
    Ok(())
}

pub fn controller(cli: &Cli, cmd: &ControllerCmd) -> Result<(), StoreError> {
    let s = open(cli)?;
    let a = Acting::Local(actor(cli));
    match cmd {
        ControllerCmd::Add { name, doors } => {
            let (c, token) = local(&s, &a, "controller.add", access::add_controller(&s, &a, name, doors))?;
            if cli.json {
                output::json(&serde_json::json!({ "id": c.id, "name": c.name, "doors": c.doors, "token": token }));
            } else {
                println!("controller {} added with id {} for doors {}", c.name, c.id, c.doors.join(", "));
                println!("token (shown once): {token}");
            }
        }
        ControllerCmd::List => {
            let cs = local(&s, &a, "controller.list", access::list_controllers(&s, &a))?;
            if cli.json {
                output::json_as::<dto::ControllerView, _>(&cs);
            } else {
                let mut t = Table::new(&["ID", "NAME", "DOORS", "CREATED", "DISABLED"]);
                for c in &cs {
                    t.row(vec![
                        c.id.to_string(),
                        c.name.clone(),
                        c.doors.join(","),
                        c.created_at.to_string(),
                        opt(c.disabled_at),
                    ]);
                }
                t.print();
            }
        }
        ControllerCmd::Disable { id } => {
            let c = local(&s, &a, "controller.disable", access::disable_controller(&s, &a, *id))?;
            print_controller(cli, &c, "disabled: its tokens are refused until enabled");
        }
        ControllerCmd::Enable { id } => {
            let c = local(&s, &a, "controller.enable", access::enable_controller(&s, &a, *id))?;
            print_controller(cli, &c, "enabled");
        }
        ControllerCmd::RotateToken { id, overlap, now } => {
            const ACTION: &str = "controller.rotate_token";
            let secs = match overlap {
                Some(o) => {
                    Some(local(&s, &a, ACTION, access::parse_duration("overlap", o).map_err(OpsError::Refused))?)
                }
                None => None,
            };
            let r = local(&s, &a, ACTION, access::rotate_controller_token(&s, &a, *id, *now, secs))?;
            if cli.json {
                output::json(&serde_json::json!({
                    "controller": dto::ControllerView::from(r.controller.clone()), "token_id": r.token.id, "token": r.token.secret,
                    "old_tokens": r.old_tokens, "old_valid_until": r.old_valid_until,
                }));
            } else {
                println!("new token for controller {} (id {}), shown once:\n{}", r.controller.name, id, r.token.secret);
                match r.old_valid_until {
                    Some(t) => println!("its {} earlier token(s) keep working until {t}", r.old_tokens),
                    None => println!("{} earlier token(s) revoked", r.old_tokens),
                }
            }
        }
    }
    Ok(())
}

pub fn token(cli: &Cli, cmd: &TokenCmd) -> Result<(), StoreError> {
    let s = open(cli)?;
    let a = Acting::Local(actor(cli));
    match cmd {
        TokenCmd::Create { name, role, days, no_expiry } => {
            let expiry = match (days, no_expiry) {
                (_, true) => TokenExpiry::Never,
                (Some(d), false) => TokenExpiry::Days(*d),
                (None, false) => TokenExpiry::Default,
            };
            let (op, t) = local(&s, &a, "token.create", access::create_token(&s, &a, name, role, expiry))?;
            if cli.json {
                output::json(&serde_json::json!({
                    "token": t.secret, "id": t.id, "operator": op.id, "role": dto::Role::from(op.role), "expires_at": t.expires_at,
                }));
            } else {
                let until = t.expires_at.map_or_else(|| "never expires".into(), |e| format!("expires {e}"));
                println!("token {} for operator {} ({}), {until}; shown once:\n{}", t.id, op.name, op.role, t.secret);
            }
        }
        TokenCmd::List { operator, controller, active, limit } => {
            let f = TokenFilter {
                operator: operator.clone(),
                controller: *controller,
                active: *active,
                after: None,
                limit: *limit,
            };
            let ts = local(&s, &a, "token.list", access::list_tokens(&s, &a, &f))?;
            if cli.json {
                output::json_as::<dto::TokenView, _>(&ts);
            } else {
                let mut t = Table::new(&["ID", "WHOSE", "LABEL", "CREATED", "EXPIRES", "REVOKED", "STATE"]);
                for k in &ts {
                    let whose = match (k.operator_id, k.controller_id) {
                        (Some(id), _) => format!("operator {id} ({})", k.owner),
                        (_, Some(id)) => format!("controller {id} ({})", k.owner),
                        _ => "-".into(),
                    };
                    t.row(vec![
                        k.id.to_string(),
                        whose,
                        k.label.clone(),
                        k.created_at.to_string(),
                        k.expires_at.map_or_else(|| "never".into(), |e| e.to_string()),
                        opt(k.revoked_at),
                        k.state.as_str().into(),
                    ]);
                }
                t.print();
            }
        }
        TokenCmd::Revoke { token, id, operator, controller } => {
            let target = match (id, operator, controller, token) {
                (Some(id), ..) => RevokeTarget::Id(*id),
                (_, Some(name), ..) => RevokeTarget::Operator(name.clone()),
                (_, _, Some(id), _) => RevokeTarget::Controller(*id),
                (_, _, _, Some(secret)) => RevokeTarget::Secret(secret.clone()),
                (None, None, None, None) => {
                    let e = DomainError::InvalidInput {
                        field: "token",
                        message:
                            "name the token: its secret (argument or IDMS_TOKEN), --id, --operator or --controller"
                                .into(),
                    };
                    return local(&s, &a, "token.revoke", Err(OpsError::Refused(e)));
                }
            };
            let n = local(&s, &a, "token.revoke", access::revoke_tokens(&s, &a, &target))?;
            if cli.json {
                output::json(&serde_json::json!({ "revoked": n }));
            } else {
                println!("{n} token(s) revoked");
            }
        }
    }
    Ok(())
}
