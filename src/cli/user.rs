//! `idms user …`: people, through the rule layer as the local CLI.

use clap::{Args, Subcommand};
use idms::api::dto;
use idms::domain::purge::minor_from_units;
use idms::domain::time::parse_date;
use idms::domain::{DomainError, LifecycleAction};
use idms::ops::{Acting, users};
use idms::store::{Actor, NewUser, Store, StoreError, UserPatch, UserRecord};

use super::output::{self, Table, opt, pairs};
use super::{Cli, audited, ops_audited, purge, ts, user_id};

#[derive(Args)]
pub(super) struct UserFields {
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
pub(super) enum UserCmd {
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
    /// Search by user ID, family-name prefix, email prefix (text with an @), employee number, card UID.
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
        return output::json(&dto::UserRecord::from(u.clone()));
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

/// Suspend, resume, delete or restore, audited under the action's name.
fn lifecycle(s: &Store, me: &Acting, id: &str, action: LifecycleAction) -> Result<UserRecord, StoreError> {
    let actor = me.actor();
    let id = audited(s, &actor, action.audit_name(), id.parse())?;
    ops_audited(s, &actor, action.audit_name(), users::lifecycle(s, me, id, action))
}

pub(super) fn run(cli: &Cli, s: &Store, actor: &Actor, cmd: &UserCmd) -> Result<(), StoreError> {
    let me = Acting::Local(actor.clone());
    let u = match cmd {
        UserCmd::Add { given, family, fields, directory_id, legal_hold } => {
            let mut n = new_user(given, family, fields)?;
            n.directory_id.clone_from(directory_id);
            n.legal_hold = *legal_hold;
            ops_audited(s, actor, "user.add", users::create(s, &me, n))?
        }
        UserCmd::Show { id } => ops_audited(s, actor, "user.show", users::get(s, &me, user_id(id)?))?,
        // Run by `purge::run` before dispatch.
        UserCmd::Erasure(_) => return Ok(()),
        UserCmd::Search { query, all, limit } => {
            let found = ops_audited(s, actor, "user.search", users::search(s, &me, query, *all, *limit))?;
            if cli.json {
                output::json_as::<dto::UserSummary, _>(&found);
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
            ops_audited(s, actor, "user.update", users::update(s, &me, id, p))?
        }
        UserCmd::Suspend { id } => lifecycle(s, &me, id, LifecycleAction::Suspend)?,
        UserCmd::Resume { id } => lifecycle(s, &me, id, LifecycleAction::Resume)?,
        UserCmd::Delete { id } => lifecycle(s, &me, id, LifecycleAction::Delete)?,
        UserCmd::Restore { id } => lifecycle(s, &me, id, LifecycleAction::Restore)?,
        UserCmd::Expunge { id, confirm } => {
            let id = audited(s, actor, "user.expunge", id.parse())?;
            let u = ops_audited(s, actor, "user.expunge", users::expunge(s, &me, id, confirm))?;
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
