//! Synthetic data for benchmarks and demos (`idms dev seed`).
//!
//! Seeded people go through the same insert and bind code as real ones, in
//! batches of one transaction each, so the change log, audit trail and
//! constraints hold for them exactly as for real data.

use crate::domain::{Technology, Uid, UserId};
use crate::store::credentials::bind;
use crate::store::users::{fresh_user_id, insert_user};
use crate::store::{Actor, AuditDraft, NewUser, Store, StoreError};

/// What a seed run made.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeedReport {
    /// People created.
    pub users: u64,
    /// Credentials created and bound.
    pub credentials: u64,
}

const BATCH: u64 = 5_000;

impl Store {
    /// Creates `users` people, each holding `cards_per_user` 7-byte ISO
    /// 14443-A cards. `progress` is called with the running user count.
    pub fn seed(
        &self,
        actor: &Actor,
        users: u64,
        cards_per_user: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<SeedReport, StoreError> {
        let mut run = [0u8; 2];
        getrandom::fill(&mut run).map_err(|e| StoreError::Io(format!("no randomness from the OS: {e}")))?;
        let mut report = SeedReport::default();
        let mut card = 0u32;
        while report.users < users {
            let n = BATCH.min(users - report.users);
            let mut draft = AuditDraft::new("dev.seed");
            draft.detail = format!("users={n} cards_per_user={cards_per_user}");
            let start = report.users;
            let made = self.write(actor, draft, |w| {
                let mut made = SeedReport::default();
                for i in start..start + n {
                    let id: UserId = fresh_user_id(&w.conn)?;
                    let new = NewUser {
                        given_name: format!("Given{i}"),
                        family_name: format!("Seed{i:08}"),
                        email: Some(format!("seed{i}@example.test")),
                        employee_no: Some(format!("E{i:08}")),
                        ..NewUser::default()
                    };
                    insert_user(w, id, &new)?;
                    made.users += 1;
                    for _ in 0..cards_per_user {
                        let c = card.to_be_bytes();
                        card = card.wrapping_add(1);
                        let uid = Uid::from_bytes(&[0x04, run[0], run[1], c[0], c[1], c[2], c[3]])?;
                        bind(w, &actor.id, id, Technology::Iso14443a, &uid)?;
                        made.credentials += 1;
                    }
                }
                Ok(made)
            })?;
            report.users += made.users;
            report.credentials += made.credentials;
            progress(report.users);
        }
        Ok(report)
    }
}
