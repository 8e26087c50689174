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

/// Doors of the access-level seed (`idms dev seed --levels N`).
pub const SEED_DOORS: u32 = 1000;

impl Store {
    /// Access rules for benchmarks: 1,000 doors in the default
    /// site, areas of 20 doors, 10 schedules, `levels` levels of 3 grants;
    /// the default level stops being a default, so seeded people hold only
    /// the 1 to 3 levels `Store::seed` gives them. One write.
    pub fn seed_access(&self, actor: &Actor, levels: u32) -> Result<(), StoreError> {
        let mut draft = AuditDraft::new("dev.seed_access");
        draft.detail = format!("doors={SEED_DOORS} levels={levels}");
        self.write(actor, draft, |w| {
            let now = w.now.0;
            w.conn.execute("UPDATE access_levels SET is_default = 0", [])?;
            for d in 0..SEED_DOORS {
                w.conn.execute(
                    "INSERT INTO doors (name, site_id, created_at) VALUES (?1, 1, ?2)",
                    rusqlite::params![format!("seed-door-{d:04}"), now],
                )?;
                let door = w.conn.last_insert_rowid();
                if d % 20 == 0 {
                    w.conn.execute(
                        "INSERT INTO areas (name, created_at) VALUES (?1, ?2)",
                        rusqlite::params![format!("seed-area-{:02}", d / 20), now],
                    )?;
                }
                w.conn.execute(
                    "INSERT INTO area_doors (area_id, door_id) VALUES ((SELECT id FROM areas WHERE name = ?1), ?2)",
                    rusqlite::params![format!("seed-area-{:02}", d / 20), door],
                )?;
            }
            let texts = ["mon-fri 08:00-18:00", "mon-fri 22:00-06:00", "mon-sun 00:00-00:00", "sat,sun 09:00-13:00"];
            for k in 0..10 {
                w.conn.execute(
                    "INSERT INTO schedules (name, site_id, intervals, created_at) VALUES (?1, 1, ?2, ?3)",
                    rusqlite::params![format!("seed-schedule-{k}"), texts[k % texts.len()], now],
                )?;
            }
            for l in 0..i64::from(levels) {
                w.conn.execute(
                    "INSERT INTO access_levels (name, created_at) VALUES (?1, ?2)",
                    rusqlite::params![format!("seed-level-{l:03}"), now],
                )?;
                let id = w.conn.last_insert_rowid();
                for g in 0..3i64 {
                    let k = l * 3 + g;
                    w.conn.execute(
                        "INSERT INTO level_grants (level_id, position, area_id, door_id, schedule_id)
                         VALUES (?1, ?2, CASE WHEN ?2 < 2 THEN (SELECT id FROM areas WHERE name = ?3) END,
                                 CASE WHEN ?2 = 2 THEN (SELECT id FROM doors WHERE name = ?4) END,
                                 (SELECT id FROM schedules WHERE name = ?5))",
                        rusqlite::params![
                            id,
                            g,
                            format!("seed-area-{:02}", k % 50),
                            format!("seed-door-{:04}", k * 7 % 1000),
                            format!("seed-schedule-{}", k % 10)
                        ],
                    )?;
                }
            }
            w.change(crate::domain::Change::Rules { reach: true })
        })
    }

    /// Creates `users` people, each holding `cards_per_user` 7-byte ISO
    /// 14443-A cards (and, with `levels` > 0, 1 to 3 of that many seeded
    /// access levels, [`Store::seed_access`]). `progress` is called with the running user count.
    pub fn seed(
        &self,
        actor: &Actor,
        users: u64,
        cards_per_user: u64,
        levels: u32,
        mut progress: impl FnMut(u64),
    ) -> Result<SeedReport, StoreError> {
        let seeded: Vec<i64> = if levels > 0 {
            self.seed_access(actor, levels)?;
            self.levels()?.into_iter().filter(|l| l.name.starts_with("seed-level-")).map(|l| l.id).collect()
        } else {
            Vec::new()
        };
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
                    // 1 to 3 of the seeded levels.
                    for k in 0..=(i % 3) {
                        let Some(&level) = seeded.get(((i * 31 + k * 97) % seeded.len().max(1) as u64) as usize) else {
                            break;
                        };
                        w.conn
                            .prepare_cached(
                                "INSERT INTO level_assignments (level_id, user_id, created_at) VALUES (?1, ?2, ?3)",
                            )?
                            .execute(rusqlite::params![level, id.as_i64(), w.now.0])?;
                        w.change(crate::domain::Change::Assignment {
                            user: id,
                            level: crate::domain::access::LevelId(level),
                            window: Some(crate::domain::ValidityWindow::default()),
                        })?;
                    }
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
