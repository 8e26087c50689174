//! Failed authentication, counted per client address and per account
//! name, with growing lockouts; and one password check in flight per
//! address.
//!
//! Rules it enforces (time is a parameter — the store's clock — so tests
//! move it rather than sleep):
//! - A key (a client address, or an operator name typed at login) gets
//!   [`Policy::free`] failures; each further one locks it for twice as long
//!   as the last — 1 s, 2 s, 4 s … — up to [`Policy::cap_secs`]. While
//!   locked, attempts are answered 429 `too_many_attempts` with
//!   `Retry-After`, before any password is checked, and do not extend the
//!   lock. A success clears the key (the login handler clears only the
//!   name's, never the address's); failures are forgotten after
//!   [`Policy::forget_secs`] without one.
//! - Addresses are keyed as the peer sent them (an IPv4 address; an IPv6
//!   address by its /64, which one client usually holds whole).
//! - A name's lock slows guessing against it from many addresses, but never
//!   shuts its operator out: it is capped low ([`NAME`]: a minute), and an
//!   address that logged in as that name before (held in memory, up to
//!   [`TRUSTED_PER_NAME`] addresses for [`TRUST_SECS`]) is not held by it —
//!   only by its own address limit.
//! - Each table holds at most [`MAX_KEYS`] keys; when full, idle keys go
//!   first, then the one idle longest, so a flood of made-up names or
//!   addresses cannot grow memory.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};

use crate::domain::Timestamp;

/// How a key's failures turn into lockouts.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures allowed before the first lockout.
    pub free: u32,
    /// The longest lockout, in seconds.
    pub cap_secs: i64,
    /// Failures are forgotten this long after the last one (and its lock).
    pub forget_secs: i64,
}

/// Per client address: 5 free failures, then 1 s doubling up to 15 minutes.
pub const ADDRESS: Policy = Policy { free: 5, cap_secs: 15 * 60, forget_secs: 15 * 60 };
/// Per operator name: 5 free failures, then 1 s doubling up to a minute.
pub const NAME: Policy = Policy { free: 5, cap_secs: 60, forget_secs: 15 * 60 };
/// The most keys a table tracks.
pub const MAX_KEYS: usize = 50_000;
/// Addresses remembered per name as having logged in as it.
pub const TRUSTED_PER_NAME: usize = 4;
/// How long such an address is remembered (30 days).
pub const TRUST_SECS: i64 = 30 * 24 * 3600;

/// A client address as the limits key it.
#[must_use]
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[derive(Debug, Default)]
struct Entry {
    failures: u32,
    /// Locked until (seconds); 0 when not locked.
    until: i64,
    /// The last failure or success (seconds).
    last: i64,
    /// Addresses that succeeded for this key, with when (names only).
    trusted: Vec<(IpAddr, i64)>,
}

impl Entry {
    fn idle(&self, p: &Policy, now: i64) -> bool {
        now >= self.until && now - self.last.max(self.until) >= p.forget_secs
    }

    fn disposable(&self, p: &Policy, now: i64) -> bool {
        self.idle(p, now) && self.trusted.iter().all(|(_, at)| now - at >= TRUST_SECS)
    }
}

/// Failures per key (see the module documentation).
#[derive(Debug)]
pub struct Failures<K> {
    policy: Policy,
    map: Mutex<HashMap<K, Entry>>,
}

impl<K: Hash + Eq + Clone> Failures<K> {
    /// An empty table.
    #[must_use]
    pub fn new(policy: Policy) -> Self {
        Self { policy, map: Mutex::new(HashMap::new()) }
    }

    /// Seconds `key` stays locked for `from` (an address trusted for it is
    /// not held), or `None`.
    pub fn locked(&self, key: &K, from: Option<IpAddr>, now: Timestamp) -> Option<u64> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let e = map.get(key)?;
        if from.is_some_and(|a| e.trusted.iter().any(|(t, at)| *t == a && now.0 - at < TRUST_SECS)) {
            return None;
        }
        (e.until > now.0).then(|| u64::try_from(e.until - now.0).unwrap_or(1))
    }

    /// Counts a failure of `key`; answers the lockout it starts, in seconds.
    pub fn fail(&self, key: K, now: Timestamp) -> Option<u64> {
        let p = self.policy;
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let e = entry(&mut map, key, &p, now.0);
        if e.idle(&p, now.0) {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last = now.0;
        let over = e.failures.checked_sub(p.free)?.checked_sub(1)?;
        let secs = 1i64.checked_shl(over.min(40)).unwrap_or(p.cap_secs).min(p.cap_secs);
        e.until = now.0 + secs;
        Some(u64::try_from(secs).unwrap_or(1))
    }

    /// Clears `key`'s failures after a success, remembering `from` as an
    /// address that succeeded for it.
    pub fn succeed(&self, key: K, from: Option<IpAddr>, now: Timestamp) {
        let p = self.policy;
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let e = entry(&mut map, key, &p, now.0);
        e.failures = 0;
        e.until = 0;
        e.last = now.0;
        if let Some(a) = from {
            e.trusted.retain(|(t, at)| *t != a && now.0 - at < TRUST_SECS);
            if e.trusted.len() >= TRUSTED_PER_NAME {
                e.trusted.remove(0);
            }
            e.trusted.push((a, now.0));
        }
    }
}

/// `key`'s entry, making room when the table is full.
fn entry<'m, K: Hash + Eq + Clone>(map: &'m mut HashMap<K, Entry>, key: K, p: &Policy, now: i64) -> &'m mut Entry {
    if !map.contains_key(&key) && map.len() >= MAX_KEYS {
        map.retain(|_, e| !e.disposable(p, now));
        if map.len() >= MAX_KEYS
            && let Some(oldest) = map.iter().min_by_key(|(_, e)| e.last).map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
    }
    map.entry(key).or_default()
}

/// Addresses with a password check in flight: one each.
#[derive(Debug, Default)]
pub struct InFlight {
    set: Mutex<HashSet<IpAddr>>,
}

/// Holds an address's one password check; released on drop.
#[derive(Debug)]
pub struct Slot<'a> {
    owner: &'a InFlight,
    addr: IpAddr,
}

impl InFlight {
    /// The address's slot, unless it already has a check in flight.
    pub fn enter(&self, addr: IpAddr) -> Option<Slot<'_>> {
        // The guard is dropped before a refused slot could be (its drop locks too).
        let fresh = self.set.lock().unwrap_or_else(PoisonError::into_inner).insert(addr);
        fresh.then(|| Slot { owner: self, addr })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.owner.set.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.addr);
    }
}

/// Every limit the API keeps.
#[derive(Debug)]
pub struct Throttle {
    /// Bearer tokens that authenticate no one, per client address.
    pub bearer: Failures<IpAddr>,
    /// Failed logins per client address.
    pub login_address: Failures<IpAddr>,
    /// Failed logins per operator name typed.
    pub login_name: Failures<String>,
    /// Password checks in flight per client address.
    pub logins_in_flight: InFlight,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            bearer: Failures::new(ADDRESS),
            login_address: Failures::new(ADDRESS),
            login_name: Failures::new(NAME),
            logins_in_flight: InFlight::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn lockouts_start_after_the_free_failures_and_double_up_to_the_cap() {
        let f = Failures::new(NAME);
        let mut now = Timestamp(1000);
        let mut locks = Vec::new();
        for _ in 0..12 {
            assert_eq!(f.locked(&"n", None, now), None, "not locked between lockouts");
            locks.push(f.fail("n", now));
            if let Some(s) = locks.last().copied().flatten() {
                assert_eq!(f.locked(&"n", None, now), Some(s));
                now = Timestamp(now.0 + i64::try_from(s).unwrap());
            }
        }
        let want: Vec<Option<u64>> =
            [None, None, None, None, None, Some(1), Some(2), Some(4), Some(8), Some(16), Some(32), Some(60)].into();
        assert_eq!(locks, want);
    }

    #[test]
    fn a_success_clears_failures_and_idle_ones_are_forgotten() {
        let f = Failures::new(ADDRESS);
        for _ in 0..6 {
            f.fail(A, Timestamp(0));
        }
        assert_eq!(f.locked(&A, None, Timestamp(0)), Some(1));
        f.succeed(A, None, Timestamp(1));
        assert_eq!(f.fail(A, Timestamp(1)), None, "counted from zero again");
        for _ in 0..5 {
            f.fail(A, Timestamp(2));
        }
        assert_eq!(f.fail(A, Timestamp(2 + ADDRESS.forget_secs + 2)), None, "forgotten after a quiet spell");
    }

    #[test]
    fn an_address_that_logged_in_as_a_name_is_not_held_by_the_names_lock() {
        let f = Failures::new(NAME);
        f.succeed("alice".to_string(), Some(A), Timestamp(0));
        for _ in 0..6 {
            f.fail("alice".to_string(), Timestamp(10));
        }
        assert_eq!(f.locked(&"alice".to_string(), Some(B), Timestamp(10)), Some(1));
        assert_eq!(f.locked(&"alice".to_string(), Some(A), Timestamp(10)), None);
    }

    #[test]
    fn a_full_table_drops_the_longest_idle_key() {
        let f = Failures::new(ADDRESS);
        // None idle yet: the one failing longest ago goes.
        f.fail(0, Timestamp(999));
        for i in 1..MAX_KEYS {
            f.fail(i, Timestamp(1000));
        }
        f.fail(MAX_KEYS, Timestamp(1001));
        {
            let map = f.map.lock().unwrap();
            assert_eq!(map.len(), MAX_KEYS);
            assert!(!map.contains_key(&0) && map.contains_key(&MAX_KEYS));
        }
        // Once idle, they all go at the next new key (the newest is not idle yet).
        f.fail(MAX_KEYS + 1, Timestamp(1000 + ADDRESS.forget_secs));
        assert_eq!(f.map.lock().unwrap().len(), 2);
    }

    #[test]
    fn one_check_in_flight_per_address() {
        let slots = InFlight::default();
        let a = slots.enter(A).unwrap();
        assert!(slots.enter(A).is_none());
        assert!(slots.enter(B).is_some());
        drop(a);
        assert!(slots.enter(A).is_some());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_eq!(client_key("::ffff:192.0.2.1".parse().unwrap()), A);
    }
}
