//! Feed-sized data made straight in the tables, for the feed's size test
//! (`feed_size`) and `benches/doors.rs` (which includes this file): `n`
//! people with one card each, shaped like a real site rather than like
//! `dev seed` (whose sequential UIDs would flatter compression):
//! - four in five cards are 7-byte ISO 14443-A UIDs (`04` and six
//!   pseudo-random bytes), one in five a 4-byte random NUID;
//! - one holder in 20 is suspended; one in 10 has a validity end (a
//!   contractor), one in 25 a start and an end;
//! - one card in 50 is suspended, one in 200 lost (still bound, so still
//!   in the feed, with its state);
//! - every holder holds the default level "All doors, always" (as after the
//!   migration to access levels); one in four also one of ten more levels
//!   covering every door, one in 20 of those until an end.
//!
//! Deterministic: the same `n` gives the same UIDs, states and windows
//! (user IDs are pseudo-random too), so the measured size is repeatable.

/// Reference time of the data (2026-01-01T00:00:00Z).
pub const T: i64 = 1_767_225_600;

fn mix64(mut z: u64) -> u64 {
    // splitmix64's finaliser.
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn mix32(mut h: u32) -> u32 {
    // murmur3's fmix32: a bijection, so 4-byte UIDs never collide.
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

/// The UID of card `i`.
pub fn uid(i: u64) -> Vec<u8> {
    if i % 5 == 4 {
        mix32(u32::try_from(i).unwrap_or(u32::MAX)).to_be_bytes().to_vec()
    } else {
        let b = mix64(i).to_be_bytes();
        let mut v = vec![0x04];
        v.extend_from_slice(&b[..6]);
        v
    }
}

/// Adds `n` people, their cards and open bindings, in one transaction.
pub fn fill(conn: &mut rusqlite::Connection, n: u64) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut user = tx.prepare(
            "INSERT INTO users (id, state, org_unit, valid_from, valid_to, created_at, updated_at)
             VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?5)",
        )?;
        let mut card = tx.prepare(
            "INSERT INTO credentials (technology, uid, state, created_at, updated_at) VALUES ('iso14443a', ?1, ?2, ?3, ?3)",
        )?;
        let mut bind = tx.prepare(
            "INSERT INTO bindings (credential_id, user_id, opened_at, opened_by) VALUES (?1, ?2, ?3, 'feed-data')",
        )?;
        for l in 2..12 {
            tx.execute(
                "INSERT OR IGNORE INTO access_levels (id, name, created_at) VALUES (?1, 'Feed data ' || ?1, ?2)",
                rusqlite::params![l, T],
            )?;
            tx.execute("INSERT OR IGNORE INTO level_grants (level_id, position, schedule_id) VALUES (?1, 0, 1)", [l])?;
        }
        let mut assign = tx.prepare(
            "INSERT INTO level_assignments (level_id, user_id, valid_to, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for i in 0..n {
            let day = 86_400_i64;
            let k = i64::try_from(i).unwrap_or(i64::MAX);
            let id = idms::domain::UserId::from_random_bits(mix64(i ^ 0x5EED)).as_i64();
            let state = if i % 20 == 1 { "suspended" } else { "active" };
            let (from, to) = match (i % 10, i % 25) {
                (2, _) => (None, Some(T + day * (30 + k % 700))),
                (_, 3) => (Some(T - day * (k % 300)), Some(T + day * (60 + k % 400))),
                _ => (None, None),
            };
            let at = T - 3_600 * (k % 20_000);
            user.execute(rusqlite::params![id, state, from, to, at])?;
            let cstate = match (i % 50, i % 200) {
                (5, _) => "suspended",
                (_, 7) => "lost",
                _ => "issued",
            };
            card.execute(rusqlite::params![uid(i), cstate, at])?;
            bind.execute(rusqlite::params![tx.last_insert_rowid(), id, at])?;
            assign.execute(rusqlite::params![1, id, None::<i64>, at])?;
            if i % 4 == 1 {
                let to = (i % 20 == 1).then_some(T + day * (90 + k % 300));
                assign.execute(rusqlite::params![2 + k % 10, id, to, at])?;
            }
        }
    }
    tx.commit()
}
