//! The in-memory credential index: answers door decisions without SQLite.
//!
//! It is a projection of the change log: built from the tables at open
//! (remembering the log position it reflects), then advanced by applying
//! [`Change`]s in log order — by the writer before it acknowledges a write,
//! and by tailing the log for writes made by other processes.
//!
//! **Architecture invariant:** `decide` takes one read lock and does two
//! hash-map look-ups at most per technology tried (plus one per technology
//! for bytes that exist in several); it never touches SQLite, never
//! allocates, and never reads the clock.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use smallvec::SmallVec;

use crate::domain::access::{Assignment, GroupId, LevelId, Refusal, RuleSet, ScheduleId, Target, TimeRange};
use crate::domain::{
    Change, CredentialState, Decision, DenyReason, HolderView, Technology, Timestamp, Uid, UserId, UserState,
    ValidityWindow, decide,
};

/// A holder: what today's checks look at, their ID, and what the door
/// rules look at (their groups and the levels assigned to them directly),
/// side by side so a decision at a door reads one place.
#[derive(Debug, Clone)]
struct Holder {
    view: HolderView,
    id: UserId,
    /// Their `group`, then their directory groups, sorted ([`GroupId`]).
    groups: SmallVec<[GroupId; 1]>,
    /// Inline up to three: no pointer to follow on the door path.
    levels: SmallVec<[Assignment; 3]>,
}

/// A grant covering a door: the level, what the grant names, its schedule.
pub type Covering = (LevelId, Target, ScheduleId);

/// Which level and interval opened a door (owned, for the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    /// The level.
    pub level: LevelId,
    /// The level's grant that covers the door.
    pub target: Target,
    /// The grant's schedule.
    pub schedule: ScheduleId,
    /// The interval open now.
    pub range: TimeRange,
    /// It began the local day before (its part after midnight).
    pub started_day_before: bool,
    /// It is a holiday rule's range rather than a weekly interval.
    pub holiday: bool,
}

/// A decision at a door, with the holder it was about and, on a grant,
/// what granted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoorDecision {
    /// Grant or deny with the reason.
    pub decision: Decision,
    /// The credential's holder, if any (none for ambiguous bytes).
    pub holder: Option<UserId>,
    /// On a grant: the level and interval that granted.
    pub granted: Option<Granted>,
}

/// One credential of a controller's snapshot page ([`Index::snapshot_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Technology.
    pub technology: Technology,
    /// UID.
    pub uid: Uid,
    /// Credential state.
    pub state: CredentialState,
    /// The holder, their state and window, and the levels they hold that
    /// reach the controller's doors: their own by level ID, then their
    /// group's in assignment order. None: a card without a holder whose
    /// bytes are held under another technology.
    pub holder: Option<(UserId, HolderView, Vec<Assignment>)>,
    /// The bytes are bound to different people under different technologies.
    pub ambiguous: bool,
}

/// `(technology, uid)`: a credential's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    technology: Technology,
    uid: Uid,
}

const NO_HOLDER: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Cred {
    state: CredentialState,
    /// Another technology has a credential with the same UID bytes.
    twin: bool,
    /// Slot in `holders`, or `NO_HOLDER`.
    holder: u32,
}

/// The index's hash maps: `foldhash`, seeded per map (see `RuleSet`).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
struct Inner {
    creds: FastMap<Key, Cred>,
    /// The same credentials in key order, each with its holder's slot:
    /// what a controller's snapshot pages through (made at `finish`).
    order: BTreeMap<Key, u32>,
    /// Being built: `order` is made whole at `finish`.
    building: bool,
    slots: FastMap<UserId, u32>,
    /// By slot.
    holders: Vec<Holder>,
    /// Sites, doors, areas, schedules, calendars, levels, group assignments.
    rules: Arc<RuleSet>,
    /// The change-log position `rules` were read at: older rules never
    /// replace newer ones (a catch-up and a write may race to apply).
    rules_seq: i64,
    applied_seq: i64,
}

impl Inner {
    fn slot(&mut self, id: UserId) -> u32 {
        let s = u32::try_from(self.holders.len()).unwrap_or(NO_HOLDER - 1);
        match self.slots.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => return *e.get(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(s),
        };
        // A holder first seen through a credential change is refused until
        // its own user change arrives: the safe default.
        self.holders.push(Holder {
            view: HolderView { state: UserState::Deleted, window: ValidityWindow::default() },
            id,
            groups: SmallVec::new(),
            levels: SmallVec::new(),
        });
        self.slots.insert(id, s);
        s
    }

    fn apply(&mut self, change: &Change) {
        match *change {
            Change::User { id, state, window } => {
                let s = self.slot(id) as usize;
                if let Some(h) = self.holders.get_mut(s) {
                    h.view = HolderView { state, window };
                    // A tombstone is in no group (expunge erased which ones it was in).
                    if state == UserState::Expunged {
                        h.groups.clear();
                    }
                }
            }
            Change::Credential { technology, uid, state, holder } => {
                let holder = holder.map_or(NO_HOLDER, |h| self.slot(h));
                let mut twin = false;
                // While building, twins are found at `finish`, in one pass.
                for other in Technology::ALL.into_iter().filter(|t| *t != technology && !self.building) {
                    if let Some(c) = self.creds.get_mut(&Key { technology: other, uid }) {
                        c.twin = true;
                        twin = true;
                    }
                }
                self.creds.insert(Key { technology, uid }, Cred { state, twin, holder });
                if !self.building {
                    self.order.insert(Key { technology, uid }, holder);
                }
            }
            Change::Group { id, group } => {
                let s = self.slot(id) as usize;
                if let Some(a) = self.holders.get_mut(s) {
                    a.groups.retain(|g| g.directory_row().is_some());
                    if let Some(g) = group {
                        a.groups.insert(0, g);
                    }
                }
            }
            Change::Membership { id, group, member } => {
                let s = self.slot(id) as usize;
                if let Some(a) = self.holders.get_mut(s) {
                    match (a.groups.binary_search(&group), member) {
                        (Err(at), true) => a.groups.insert(at, group),
                        (Ok(at), false) => drop(a.groups.remove(at)),
                        _ => {}
                    }
                }
            }
            Change::Assignment { user, level, window } => {
                let s = self.slot(user) as usize;
                if let Some(a) = self.holders.get_mut(s) {
                    match (a.levels.iter_mut().find(|x| x.level == level), window) {
                        (Some(x), Some(w)) => x.window = w,
                        (None, Some(w)) => a.levels.push(Assignment { level, window: w }),
                        (_, None) => a.levels.retain(|x| x.level != level),
                    }
                }
            }
            // The rules come whole with the batch that holds this entry (`Index::apply_with`).
            Change::Rules { .. } => {}
        }
    }

    /// [`Index::decide_with_holder`] under the caller's lock, naming the
    /// holder's slot (`NO_HOLDER`: none).
    fn decide_slot(&self, technology: Option<Technology>, uid: &Uid, now: Timestamp) -> (Decision, u32) {
        let found = match technology {
            // Bytes bound to different people are ambiguous even when the
            // reader names a technology: it may be wrong, and the twin is
            // an anomaly an admin must resolve.
            Some(t) => match self.decide_one(t, uid, now) {
                Some((_, true)) if self.ambiguous(uid) => Some(AMBIGUOUS),
                other => other.map(|(d, _)| d),
            },
            // Without a technology, the same bytes may name credentials of
            // several technologies: grant only if every one of them grants.
            None => {
                let mut found: Option<(Decision, u32)> = None;
                for &t in Technology::ALL.iter().filter(|t| t.allows_len(uid.len())) {
                    if let Some((d, twin)) = self.decide_one(t, uid, now) {
                        if !twin {
                            // The only credential with these bytes.
                            found = Some(d);
                            break;
                        }
                        if self.ambiguous(uid) {
                            // Bound to different people: whose card this is cannot be told.
                            found = Some(AMBIGUOUS);
                            break;
                        }
                        found = match found {
                            Some(prev @ (Decision::Deny(_), _)) => Some(prev),
                            _ => Some(d),
                        };
                    }
                }
                found
            }
        };
        found.unwrap_or((Decision::Deny(DenyReason::UnknownCredential), NO_HOLDER))
    }

    /// The holder's ID in `slot`, if any.
    fn holder_id(&self, slot: u32) -> Option<UserId> {
        self.holders.get(slot as usize).map(|h| h.id)
    }

    /// The door rules' answer for a holder slot at a door.
    fn door_rules(&self, slot: u32, door: &str, now: Timestamp) -> Result<Option<Granted>, DenyReason> {
        let refused = |r: Refusal| match r {
            Refusal::NoAccessToDoor => DenyReason::NoAccessToDoor,
            Refusal::OutsideSchedule => DenyReason::OutsideSchedule,
        };
        let Some(door) = self.rules.door_named(door) else { return Err(DenyReason::NoAccessToDoor) };
        let Some(a) = self.holders.get(slot as usize) else { return Err(DenyReason::NoAccessToDoor) };
        let g = self.rules.access(&a.levels, &a.groups, door, now).map_err(refused)?;
        Ok(Some(Granted {
            level: g.level,
            target: g.target,
            schedule: g.schedule,
            range: g.interval.range,
            started_day_before: g.interval.started_day_before,
            holiday: g.interval.holiday.is_some(),
        }))
    }

    /// Whether the bytes of `k` are held (an open binding) under another technology.
    fn held_elsewhere(&self, k: &Key) -> bool {
        Technology::ALL
            .into_iter()
            .filter(|t| *t != k.technology)
            .any(|technology| self.creds.get(&Key { technology, uid: k.uid }).is_some_and(|c| c.holder != NO_HOLDER))
    }

    /// The snapshot entry of credential `k` held in `slot`: none when its
    /// holder holds no level that `reaches`.
    fn listed(&self, k: &Key, slot: u32, reaches: &impl Fn(LevelId) -> bool) -> Option<Listed> {
        let c = self.creds.get(k)?;
        let holder = match self.holders.get(slot as usize) {
            None => None,
            Some(h) => {
                let mut levels: Vec<Assignment> = h.levels.iter().filter(|a| reaches(a.level)).copied().collect();
                levels.sort_by_key(|a| a.level);
                for g in &h.groups {
                    levels.extend(self.rules.group_assignments(*g).iter().filter(|a| reaches(a.level)));
                }
                if levels.is_empty() {
                    return None;
                }
                Some((h.id, h.view, levels))
            }
        };
        let ambiguous = holder.is_some() && c.twin && self.ambiguous(&k.uid);
        Some(Listed { technology: k.technology, uid: k.uid, state: c.state, holder, ambiguous })
    }

    /// Whether the open bindings of these bytes, across technologies, name
    /// different people. Looked at only for a credential with a twin.
    fn ambiguous(&self, uid: &Uid) -> bool {
        let mut seen = NO_HOLDER;
        for technology in Technology::ALL {
            if let Some(c) = self.creds.get(&Key { technology, uid: *uid })
                && c.holder != NO_HOLDER
            {
                if seen != NO_HOLDER && seen != c.holder {
                    return true;
                }
                seen = c.holder;
            }
        }
        false
    }

    /// The decision for one credential with its holder's slot, and whether
    /// it has a twin in another technology.
    fn decide_one(&self, technology: Technology, uid: &Uid, now: Timestamp) -> Option<((Decision, u32), bool)> {
        let c = self.creds.get(&Key { technology, uid: *uid })?;
        let holder = self.holders.get(c.holder as usize);
        Some(((decide(Some(c.state), holder.map(|h| &h.view), now), c.holder), c.twin))
    }
}

/// Bytes bound to different people: denied, and logged with no holder.
const AMBIGUOUS: (Decision, u32) = (Decision::Deny(DenyReason::CredentialAmbiguous), NO_HOLDER);

/// The decision index. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct Index {
    inner: RwLock<Inner>,
    /// The last snapshot's holder bits ([`Index::snapshot_page`]).
    reach_cache: std::sync::Mutex<Option<ReachCache>>,
}

/// Which holder slots hold one of `reach`'s levels, at these positions.
#[derive(Debug)]
struct ReachCache {
    reach: Vec<LevelId>,
    applied: i64,
    rules_seq: i64,
    bits: Arc<Vec<u64>>,
}

/// Builds an [`Index`] from a snapshot of the tables.
#[derive(Debug)]
pub struct IndexBuilder {
    inner: Inner,
}

impl Default for IndexBuilder {
    fn default() -> Self {
        Self::with_capacity(0, 0)
    }
}

impl IndexBuilder {
    /// Pre-sizes for `users` holders and `credentials` credentials.
    #[must_use]
    pub fn with_capacity(users: usize, credentials: usize) -> Self {
        Self {
            inner: Inner {
                creds: FastMap::with_capacity_and_hasher(credentials, foldhash::fast::RandomState::default()),
                order: BTreeMap::new(),
                building: true,
                slots: FastMap::with_capacity_and_hasher(users, foldhash::fast::RandomState::default()),
                holders: Vec::with_capacity(users),
                rules: Arc::default(),
                rules_seq: 0,
                applied_seq: 0,
            },
        }
    }

    /// Sets the access rules.
    pub fn rules(&mut self, rules: RuleSet) {
        rules.prepare();
        self.inner.rules = Arc::new(rules);
    }

    /// Sets a person's group.
    pub fn group(&mut self, id: UserId, group: Option<GroupId>) {
        self.inner.apply(&Change::Group { id, group });
    }

    /// Adds a level assigned directly to a person.
    pub fn assignment(&mut self, user: UserId, assignment: Assignment) {
        self.inner.apply(&Change::Assignment { user, level: assignment.level, window: Some(assignment.window) });
    }

    /// Applies one change as read from the tables (a user before their
    /// credentials, groups and levels).
    pub fn change(&mut self, change: &Change) {
        self.inner.apply(change);
    }

    /// Adds a user.
    pub fn user(&mut self, id: UserId, state: UserState, window: ValidityWindow) {
        self.inner.apply(&Change::User { id, state, window });
    }

    /// Adds a credential (after its holder, if any).
    pub fn credential(&mut self, technology: Technology, uid: Uid, state: CredentialState, holder: Option<UserId>) {
        self.inner.apply(&Change::Credential { technology, uid, state, holder });
    }

    /// Finishes, recording the change-log position the snapshot reflects.
    #[must_use]
    pub fn finish(self, applied_seq: i64) -> Index {
        let mut inner = self.inner;
        let mut order: Vec<(Key, u32)> = inner.creds.iter().map(|(k, c)| (*k, c.holder)).collect();
        order.sort_unstable_by_key(|(k, _)| *k);
        // Twins: the same bytes under two technologies. Each technology's
        // credentials are a run sorted by UID: merge the runs pairwise.
        let runs: Vec<&[(Key, u32)]> = order.chunk_by(|x, y| x.0.technology == y.0.technology).collect();
        let mut twins = Vec::new();
        for (i, a) in runs.iter().enumerate() {
            for b in runs.iter().skip(i + 1) {
                let (mut p, mut q) = (a.iter().peekable(), b.iter().peekable());
                while let (Some(x), Some(y)) = (p.peek(), q.peek()) {
                    match x.0.uid.cmp(&y.0.uid) {
                        std::cmp::Ordering::Less => drop(p.next()),
                        std::cmp::Ordering::Greater => drop(q.next()),
                        std::cmp::Ordering::Equal => {
                            twins.extend([x.0, y.0]);
                            p.next();
                            q.next();
                        }
                    }
                }
            }
        }
        for k in twins {
            if let Some(c) = inner.creds.get_mut(&k) {
                c.twin = true;
            }
        }
        inner.order = order.into_iter().collect();
        inner.building = false;
        inner.applied_seq = applied_seq;
        inner.rules_seq = applied_seq;
        Index { inner: RwLock::new(inner), reach_cache: std::sync::Mutex::default() }
    }
}

impl Index {
    /// Decides for `uid`. With no technology given, each technology whose
    /// UID length fits is tried in [`Technology::ALL`] order. Bytes whose
    /// credentials (in any technologies) are bound to different people deny
    /// `credential_ambiguous` with no holder, with or without a technology.
    #[must_use]
    pub fn decide(&self, technology: Option<Technology>, uid: &Uid, now: Timestamp) -> Decision {
        self.decide_with_holder(technology, uid, now).0
    }

    /// [`Index::decide`], also naming the credential's holder (if any).
    #[must_use]
    pub fn decide_with_holder(
        &self,
        technology: Option<Technology>,
        uid: &Uid,
        now: Timestamp,
    ) -> (Decision, Option<UserId>) {
        let inner = self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (decision, slot) = inner.decide_slot(technology, uid, now);
        (decision, inner.holder_id(slot))
    }

    /// Decides for `uid` at the door called `door` (exact name): today's
    /// checks ([`Index::decide_with_holder`]) first, then the door's rules —
    /// no level the holder holds now covers the door → `no_access_to_door`;
    /// covered but no covering schedule open now → `outside_schedule`. On a
    /// grant, says which level and interval granted. Does not allocate.
    #[must_use]
    pub fn decide_at_door(
        &self,
        technology: Option<Technology>,
        uid: &Uid,
        door: &str,
        now: Timestamp,
    ) -> DoorDecision {
        let inner = self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (decision, slot) = inner.decide_slot(technology, uid, now);
        let holder = inner.holder_id(slot);
        if decision != Decision::Grant {
            return DoorDecision { decision, holder, granted: None };
        }
        match inner.door_rules(slot, door, now) {
            Ok(granted) => DoorDecision { decision, holder, granted },
            Err(r) => DoorDecision { decision: Decision::Deny(r), holder, granted: None },
        }
    }

    /// Everyone whose levels open `door` at `now` and whose own checks
    /// (state, validity window) pass: the holder slots' IDs, in no order.
    #[must_use]
    pub fn who_can(&self, door: &str, now: Timestamp) -> Vec<UserId> {
        // In chunks of holders, each under its own short read lock, so a
        // scan of a million people never holds a writer (and, behind it,
        // the doors) off for long.
        let mut out = Vec::new();
        let mut slot = 0usize;
        loop {
            let inner = self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let end = (slot + 16_384).min(inner.holders.len());
            for s in slot..end {
                let Some(h) = inner.holders.get(s) else { break };
                let ok = decide(Some(CredentialState::Issued), Some(&h.view), now) == Decision::Grant;
                if ok && matches!(u32::try_from(s).map(|s| inner.door_rules(s, door, now)), Ok(Ok(Some(_)))) {
                    out.push(h.id);
                }
            }
            slot = end;
            if slot >= inner.holders.len() {
                return out;
            }
        }
    }

    /// The doors a person's levels cover at `now` (whatever the time of
    /// day), each with the (level, target, schedule) grants that cover it.
    #[must_use]
    pub fn doors_of(&self, user: UserId, now: Timestamp) -> Vec<(String, Vec<Covering>)> {
        let inner = self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(a) = inner.slots.get(&user).and_then(|&s| inner.holders.get(s as usize)) else { return Vec::new() };
        let mut out: Vec<_> = inner
            .rules
            .door_list()
            .map(|(name, id)| (name.to_owned(), inner.rules.covering(&a.levels, &a.groups, id, now)))
            .filter(|(_, g)| !g.is_empty())
            .collect();
        out.sort_by(|x, y| x.0.cmp(&y.0));
        out
    }

    /// The access rules now in force.
    #[must_use]
    pub fn rules(&self) -> Arc<RuleSet> {
        Arc::clone(&self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner).rules)
    }

    /// The change-log position this index reflects.
    #[must_use]
    pub fn applied_seq(&self) -> i64 {
        self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner).applied_seq
    }

    /// Applies changes that follow `applied_seq` in the log, in order.
    /// Entries at or below the applied position are skipped, so replaying an
    /// overlapping range is harmless.
    pub fn apply<'a>(&self, changes: impl IntoIterator<Item = (i64, &'a Change)>) {
        self.apply_with(changes, None);
    }

    /// [`Index::apply`], and when the entries hold a [`Change::Rules`],
    /// the rules as they are at log position `rules.0` (read by the caller
    /// in the same transaction as the entries) replace the ones in force —
    /// unless those were read at a later position: a catch-up and a write
    /// may race, and older rules never win.
    pub fn apply_with<'a>(&self, changes: impl IntoIterator<Item = (i64, &'a Change)>, rules: Option<(i64, RuleSet)>) {
        // In chunks, so a long backlog never holds door decisions off for long.
        let mut it = changes.into_iter().peekable();
        // The door table is made here, outside the lock.
        let mut rules = rules.map(|(seq, r)| {
            r.prepare();
            (seq, Arc::new(r))
        });
        loop {
            let mut inner = self.inner.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            for (seq, change) in it.by_ref().take(1024) {
                if seq <= inner.applied_seq {
                    continue;
                }
                inner.apply(change);
                inner.applied_seq = seq;
            }
            if it.peek().is_none() {
                // The rules change with the last chunk, in the same critical section.
                if let Some((seq, r)) = rules.take()
                    && seq >= inner.rules_seq
                {
                    inner.rules = r;
                    inner.rules_seq = seq;
                }
                break;
            }
        }
    }

    /// Up to `limit` credentials after `after`, in (technology, uid)
    /// order, that a controller whose doors `reaches` levels lists: held
    /// ones whose holder holds such a level (directly or through their
    /// group), and ones without a holder whose bytes are held under another
    /// technology. Returns the change-log position read before the first
    /// credential: every page reflects at least it, and a change after it
    /// comes in the delta from it. Reads in chunks under short read locks,
    /// as `who_can` does.
    #[must_use]
    pub fn snapshot_page(
        &self,
        reach: &[LevelId],
        after: Option<(Technology, Uid)>,
        limit: usize,
    ) -> (i64, Vec<Listed>) {
        const CHUNK: usize = 16_384;
        let read = || self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut sorted = reach.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let reaches = |l: LevelId| sorted.binary_search(&l).is_ok();
        let (applied, rules_seq, groups) = {
            let inner = read();
            let groups: Vec<GroupId> = inner
                .rules
                .group_list()
                .filter(|(_, held)| held.iter().any(|a| reaches(a.level)))
                .map(|(g, _)| g)
                .collect();
            (inner.applied_seq, inner.rules_seq, groups)
        };
        let holds =
            |h: &Holder| h.levels.iter().any(|a| reaches(a.level)) || h.groups.iter().any(|g| groups.contains(g));
        let bits = self.reach_bits(&sorted, applied, rules_seq, &holds);
        let mut out = Vec::new();
        let mut from = after.map(|(technology, uid)| Key { technology, uid });
        loop {
            let inner = read();
            let range = match from {
                Some(k) => inner.order.range((Bound::Excluded(k), Bound::Unbounded)),
                None => inner.order.range(..),
            };
            let mut seen = 0usize;
            for (k, &s) in range {
                seen += 1;
                from = Some(*k);
                let candidate = match s {
                    NO_HOLDER => inner.held_elsewhere(k),
                    // A slot made after the bits were: look at it.
                    s => bits.get(s as usize / 64).map_or_else(
                        || inner.holders.get(s as usize).is_some_and(&holds),
                        |w| w & (1 << (s % 64)) != 0,
                    ),
                };
                if let Some(l) = candidate.then(|| inner.listed(k, s, &reaches)).flatten() {
                    out.push(l);
                    if out.len() >= limit {
                        return (applied, out);
                    }
                }
                if seen >= CHUNK {
                    break;
                }
            }
            if seen < CHUNK {
                return (applied, out);
            }
        }
    }

    /// A bit per holder slot: holds a level of `reach` (directly or
    /// through their group). A prefilter only: each listed credential's
    /// levels are read again. Made in chunks under short read locks, and
    /// kept for the next page of the same controller while nothing changed
    /// (the same log and rules positions).
    fn reach_bits(
        &self,
        reach: &[LevelId],
        applied: i64,
        rules_seq: i64,
        holds: &impl Fn(&Holder) -> bool,
    ) -> Arc<Vec<u64>> {
        let mut cache = self.reach_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = cache.as_ref()
            && (c.applied, c.rules_seq, c.reach.as_slice()) == (applied, rules_seq, reach)
        {
            return Arc::clone(&c.bits);
        }
        let mut bits: Vec<u64> = Vec::new();
        let mut slot = 0usize;
        loop {
            let inner = self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let end = (slot + 65_536).min(inner.holders.len());
            bits.resize(end.div_ceil(64), 0);
            for (s, h) in inner.holders.iter().enumerate().take(end).skip(slot) {
                if holds(h) {
                    bits[s / 64] |= 1 << (s % 64);
                }
            }
            slot = end;
            if slot >= inner.holders.len() {
                break;
            }
        }
        let bits = Arc::new(bits);
        *cache = Some(ReachCache { reach: reach.to_vec(), applied, rules_seq, bits: Arc::clone(&bits) });
        bits
    }

    /// How many credentials are indexed.
    #[must_use]
    pub fn credentials(&self) -> usize {
        self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner).creds.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(s: &str) -> Uid {
        Uid::parse_any(s).unwrap()
    }

    #[test]
    fn follows_the_log_in_order_and_skips_replays() {
        let idx = IndexBuilder::default().finish(10);
        let u = UserId::from_i64(5);
        let card = uid("04A1B2C3");
        let t = Timestamp(0);
        let created = Change::User { id: u, state: UserState::Active, window: ValidityWindow::default() };
        let issued = Change::Credential {
            technology: Technology::Iso14443a,
            uid: card,
            state: CredentialState::Issued,
            holder: Some(u),
        };
        let deleted = Change::User { id: u, state: UserState::Deleted, window: ValidityWindow::default() };
        // At or below the built position: ignored.
        idx.apply([(9, &created), (10, &issued)]);
        assert_eq!(idx.decide(None, &card, t), Decision::Deny(DenyReason::UnknownCredential));
        idx.apply([(11, &created), (12, &issued)]);
        assert_eq!(idx.decide(None, &card, t), Decision::Grant);
        assert_eq!(idx.decide(Some(Technology::Other), &card, t), Decision::Deny(DenyReason::UnknownCredential));
        idx.apply([(13, &deleted)]);
        assert_eq!(idx.decide(None, &card, t), Decision::Deny(DenyReason::HolderDeleted));
        // A replay of an older entry must not undo the delete.
        idx.apply([(11, &created)]);
        assert_eq!(idx.decide(None, &card, t), Decision::Deny(DenyReason::HolderDeleted));
        assert_eq!(idx.applied_seq(), 13);
    }

    #[test]
    fn same_bytes_in_two_technologies_grant_only_if_both_grant() {
        let u = UserId::from_i64(5);
        let card = uid("04A1B2C3");
        let mut b = IndexBuilder::default();
        b.user(u, UserState::Active, ValidityWindow::default());
        b.credential(Technology::Iso14443a, card, CredentialState::Issued, Some(u));
        b.credential(Technology::Other, card, CredentialState::Stolen, None);
        let idx = b.finish(0);
        assert_eq!(idx.decide(None, &card, Timestamp(0)), Decision::Deny(DenyReason::CredentialStolen));
        assert_eq!(idx.decide(Some(Technology::Iso14443a), &card, Timestamp(0)), Decision::Grant);
    }

    #[test]
    fn bytes_bound_to_different_people_are_ambiguous_and_name_nobody() {
        let (a, b) = (UserId::from_i64(5), UserId::from_i64(6));
        let card = uid("04A1B2C3");
        let mut bld = IndexBuilder::default();
        bld.user(a, UserState::Active, ValidityWindow::default());
        bld.user(b, UserState::Active, ValidityWindow::default());
        bld.credential(Technology::Iso14443a, card, CredentialState::Issued, Some(a));
        bld.credential(Technology::Other, card, CredentialState::Issued, Some(b));
        let idx = bld.finish(0);
        let ambiguous = (Decision::Deny(DenyReason::CredentialAmbiguous), None);
        for t in [None, Some(Technology::Iso14443a), Some(Technology::Other)] {
            assert_eq!(idx.decide_with_holder(t, &card, Timestamp(0)), ambiguous, "{t:?}");
        }
        // Unbinding one of them (it ends destroyed, without a holder) resolves it.
        let unbound = Change::Credential {
            technology: Technology::Other,
            uid: card,
            state: CredentialState::Destroyed,
            holder: None,
        };
        idx.apply([(1, &unbound)]);
        assert_eq!(
            idx.decide_with_holder(Some(Technology::Iso14443a), &card, Timestamp(0)),
            (Decision::Grant, Some(a))
        );
        // A reader that cannot tell the technology may be reading the unbound card.
        assert_eq!(idx.decide(None, &card, Timestamp(0)), Decision::Deny(DenyReason::CredentialDestroyed));
        // The same person under two technologies is no twin.
        let mut bld = IndexBuilder::default();
        bld.user(a, UserState::Active, ValidityWindow::default());
        bld.credential(Technology::Iso14443a, card, CredentialState::Issued, Some(a));
        bld.credential(Technology::Other, card, CredentialState::Issued, Some(a));
        let idx = bld.finish(0);
        assert_eq!(idx.decide_with_holder(None, &card, Timestamp(0)), (Decision::Grant, Some(a)));
    }

    #[test]
    fn older_rules_never_replace_newer_ones() {
        use crate::domain::access::{DoorId, DoorRules, SiteId};
        let idx = IndexBuilder::default().finish(10);
        let with_door = |name: &str| {
            let mut r = RuleSet::default();
            r.set_door(DoorId(1), name, DoorRules { site: SiteId(1), areas: vec![] });
            r
        };
        let rules = Change::Rules { reach: true };
        // A write applies the rules as of 12; a catch-up that read them at 11 comes after.
        idx.apply_with([(12, &rules)], Some((12, with_door("new"))));
        idx.apply_with([(11, &rules)], Some((11, with_door("old"))));
        assert!(idx.rules().door_named("new").is_some() && idx.rules().door_named("old").is_none());
        // Rules read later do replace them, even when their entries were applied already.
        idx.apply_with([(12, &rules)], Some((13, with_door("newer"))));
        assert!(idx.rules().door_named("newer").is_some());
        // Rules read before the index was built never replace the built ones.
        idx.apply_with([], Some((5, with_door("ancient"))));
        assert!(idx.rules().door_named("newer").is_some());
    }

    #[test]
    fn holder_seen_before_its_user_change_is_refused() {
        let idx = IndexBuilder::default().finish(0);
        let card = uid("0102030405");
        let c = Change::Credential {
            technology: Technology::Em4100,
            uid: card,
            state: CredentialState::Issued,
            holder: Some(UserId::from_i64(9)),
        };
        idx.apply([(1, &c)]);
        assert_eq!(idx.decide(None, &card, Timestamp(0)), Decision::Deny(DenyReason::HolderDeleted));
    }
}
