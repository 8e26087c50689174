//! `idms card …`: credentials, through the rule layer as the local CLI.

use clap::Subcommand;
use idms::api::dto;
use idms::domain::{DomainError, RetireReason, Technology, Uid, UserId};
use idms::ops::Acting;
use idms::ops::credentials::{self as cards, CardAction};
use idms::store::{Actor, CredentialRecord, Store, StoreError};

use super::output::{self, Table, opt, pairs};
use super::{Cli, audited, ops_audited, tech};

#[derive(Subcommand)]
pub(super) enum CardCmd {
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

fn print_card(cli: &Cli, c: &CredentialRecord) {
    if cli.json {
        return output::json(&dto::CredentialRecord::from(c.clone()));
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

pub(super) fn run(cli: &Cli, s: &Store, actor: &Actor, cmd: &CardCmd) -> Result<(), StoreError> {
    let me = Acting::Local(actor.clone());
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
            let cards = ops_audited(s, actor, "credential.list", cards::list(s, &me, state, *limit))?;
            if cli.json {
                output::json_as::<dto::CredentialSummary, _>(&cards);
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
            ops_audited(s, actor, "credential.enroll", cards::enroll(s, &me, user, t, &uid))?
        }
        CardCmd::Show { uid, tech: t } => {
            ops_audited(s, actor, "credential.show", cards::get(s, &me, tech(t.as_deref())?, &Uid::parse_any(uid)?))?
        }
        CardCmd::Revoke { uid, reason, tech: t } => {
            let parsed = RetireReason::from_name(reason).and_then(|r| Ok((r, Uid::parse_any(uid)?)));
            let (reason, uid) = audited(s, actor, "credential.revoke", parsed)?;
            let action = CardAction::Revoke(reason);
            ops_audited(s, actor, "credential.revoke", cards::act(s, &me, tech(t.as_deref())?, &uid, action))?
        }
        CardCmd::Suspend { uid, tech: t } => {
            let (t, uid) = (tech(t.as_deref())?, Uid::parse_any(uid)?);
            ops_audited(s, actor, "credential.suspend", cards::act(s, &me, t, &uid, CardAction::Suspend))?
        }
        CardCmd::Resume { uid, tech: t } => {
            let (t, uid) = (tech(t.as_deref())?, Uid::parse_any(uid)?);
            ops_audited(s, actor, "credential.resume", cards::act(s, &me, t, &uid, CardAction::Resume))?
        }
        CardCmd::Twins => {
            let twins = ops_audited(s, actor, "credential.twins", cards::twins(s, &me))?;
            if cli.json {
                output::json_as::<dto::Twin, _>(&twins);
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
            ops_audited(s, actor, "credential.unbind", cards::unbind(s, &me, t, &uid))?
        }
    };
    print_card(cli, &c);
    Ok(())
}
