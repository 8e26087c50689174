//! `idms import csv` and `idms directory`: people from files and from the
//! directory, through the rule layer.

use std::path::PathBuf;

use clap::Subcommand;
use idms::api::dto;
use idms::ops::{self, Acting};
use idms::store::StoreError;

use super::{Cli, actor, open, ops_audited, output};

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// People from a CSV file (UTF-8, a header row): columns external_id, user_name, given_name, family_name,
    /// email, phone, employee_no, org_unit, active, groups (`;`-separated). A row is matched by external_id, else
    /// employee_no, else creates a person. One refused row applies none, unless --partial.
    Csv {
        /// The file.
        file: PathBuf,
        /// Show what would happen (per row: created, updated, unchanged, refused with line and column); change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply the valid rows even when some are refused.
        #[arg(long)]
        partial: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DirectoryCmd {
    /// Sync people from the LDAP directory / Active Directory of the configuration's `[directory]` now (an admin):
    /// the entries changed since the last run, every entry's ID for those that vanished. `idms serve` runs it every
    /// `interval_minutes`.
    Sync {
        /// Show what would happen (created, updated, suspended, …); change nothing, record nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply it even when more than a tenth of the linked people would vanish at once (refused
        /// `mass_vanish` otherwise: usually a changed base_dn or filter, or a lost read right).
        #[arg(long)]
        allow_mass_vanish: bool,
    },
    /// Recent directory runs (LDAP syncs and CSV imports), newest first.
    Runs {
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One run's report: every person it touched, with action and code.
    Run {
        /// The run's ID.
        id: i64,
    },
}

/// Prints a run: the counts, then each item (IDs and codes only).
pub fn print_run(cli: &Cli, r: idms::store::directory::RunReport) {
    let r = dto::DirectoryRun::from(r);
    if cli.json {
        output::json(&r);
        return;
    }
    let id = r.id.map_or_else(|| "dry run".to_owned(), |i| format!("run {i}"));
    println!(
        "{id} ({} {}): {} — created {}, updated {}, suspended {}, resumed {}, deleted {}, skipped {}, refused {}, unchanged {}",
        r.source,
        r.trigger,
        r.outcome,
        r.created,
        r.updated,
        r.suspended,
        r.resumed,
        r.deleted,
        r.skipped,
        r.refused,
        r.unchanged
    );
    if r.items.is_empty() {
        return;
    }
    let mut t = output::Table::new(&["LINE", "USER", "ACTION", "CODE", "COLUMN"]);
    for i in r.items {
        t.row(vec![
            output::opt(i.line),
            output::opt(i.user_id),
            i.action.to_owned(),
            output::opt(i.code),
            output::opt(i.column),
        ]);
    }
    t.print();
}

/// The configuration's `[directory]`, or why there is none.
fn ldap_config(cli: &Cli) -> Result<idms::directory::LdapConfig, StoreError> {
    let none = || {
        StoreError::from(idms::domain::DomainError::InvalidInput {
            field: "directory",
            message: "no [directory] table in the configuration (give it with --config FILE or IDMS_CONFIG)".into(),
        })
    };
    let file = cli.config.as_deref().ok_or_else(none)?;
    let c = idms::config::Config::load(Some(file), super::env_vars(), &idms::config::Flags::default())
        .map_err(|e| StoreError::from(idms::domain::DomainError::InvalidInput { field: "config", message: e }))?;
    c.directory.ok_or_else(none)
}

pub fn import(cli: &Cli, cmd: &ImportCmd) -> Result<(), StoreError> {
    let ImportCmd::Csv { file, dry_run, partial } = cmd;
    let bytes = std::fs::read(file).map_err(|e| StoreError::Io(format!("cannot read {}: {e}", file.display())))?;
    let s = open(cli)?;
    let a = Acting::Local(actor(cli));
    let r = ops_audited(
        &s,
        &a.actor(),
        "directory.import_csv",
        ops::directory::import_csv(&s, &a, &bytes, *dry_run, *partial, "cli"),
    )?;
    let refused = r.outcome == "refused";
    print_run(cli, r);
    if refused {
        return Err(idms::domain::DomainError::InvalidInput {
            field: "file",
            message: "some rows were refused, so none was applied (see above; --partial applies the others)".into(),
        }
        .into());
    }
    Ok(())
}

pub fn directory(cli: &Cli, cmd: &DirectoryCmd) -> Result<(), StoreError> {
    let s = open(cli)?;
    let a = Acting::Local(actor(cli));
    match cmd {
        DirectoryCmd::Sync { dry_run, allow_mass_vanish } => {
            let cfg = ldap_config(cli)?;
            let r = ops_audited(
                &s,
                &a.actor(),
                "directory.sync",
                ops::directory::sync(&s, &a, &cfg, *dry_run, *allow_mass_vanish, "cli"),
            )?;
            print_run(cli, r);
        }
        DirectoryCmd::Runs { limit } => {
            let runs = ops_audited(&s, &a.actor(), "directory.runs", ops::directory::runs(&s, &a, *limit))?;
            if cli.json {
                output::json_as::<dto::DirectoryRun, _>(&runs);
            } else {
                let mut t = output::Table::new(&[
                    "RUN",
                    "SOURCE",
                    "TRIGGER",
                    "STARTED",
                    "OUTCOME",
                    "CREATED",
                    "UPDATED",
                    "SUSPENDED",
                    "DELETED",
                    "SKIPPED",
                    "REFUSED",
                ]);
                for r in runs {
                    let c = r.counts;
                    t.row(vec![
                        output::opt(r.id),
                        r.source,
                        r.trigger,
                        r.started_at.to_string(),
                        r.outcome,
                        c.created.to_string(),
                        c.updated.to_string(),
                        c.suspended.to_string(),
                        c.deleted.to_string(),
                        c.skipped.to_string(),
                        c.refused.to_string(),
                    ]);
                }
                t.print();
            }
        }
        DirectoryCmd::Run { id } => {
            let r = ops_audited(&s, &a.actor(), "directory.run", ops::directory::run(&s, &a, *id))?;
            print_run(cli, r);
        }
    }
    Ok(())
}
