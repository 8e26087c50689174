//! The in-memory credential index: answers door decisions without SQLite.
//!
//! It is a projection of the change log: built from the tables at open
//! (remembering the log position it reflects), then advanced by applying
//! [`Change`]s in log order — by the writer before it acknowledges a write,
//! and by tailing the log for writes made by other processes.
//!
//! **Architecture invariant:** `decide` takes one read lock and does two
//! hash-map look-ups at most per technology tried; it never touches SQLite,
//! never allocates, and never reads the clock.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::domain::{
    Change, CredentialState, Decision, HolderView, Technology, Timestamp, Uid, UserId, UserState, ValidityWindow,
    decide,
};

/// `(technology, uid)`: a credential's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

#[derive(Debug, Default)]
struct Inner {
    creds: HashMap<Key, Cred>,
    slots: HashMap<UserId, u32>,
    /// A holder's view and ID side by side: one cache line per decision.
    holders: Vec<(HolderView, UserId)>,
    applied_seq: i64,
}

impl Inner {
    fn slot(&mut self, id: UserId) -> u32 {
        if let Some(&s) = self.slots.get(&id) {
            return s;
        }
        let s = u32::try_from(self.holders.len()).unwrap_or(NO_HOLDER - 1);
        // A holder first seen through a credential change is refused until
        // its own user change arrives: the safe default.
        self.holders.push((HolderView { state: UserState::Deleted, window: ValidityWindow::default() }, id));
        self.slots.insert(id, s);
        s
    }

    fn apply(&mut self, change: &Change) {
        match *change {
            Change::User { id, state, window } => {
                let s = self.slot(id) as usize;
                if let Some((h, _)) = self.holders.get_mut(s) {
                    *h = HolderView { state, window };
                }
            }
            Change::Credential { technology, uid, state, holder } => {
                let holder = holder.map_or(NO_HOLDER, |h| self.slot(h));
                let mut twin = false;
                for other in Technology::ALL.into_iter().filter(|t| *t != technology) {
                    if let Some(c) = self.creds.get_mut(&Key { technology: other, uid }) {
                        c.twin = true;
                        twin = true;
                    }
                }
                self.creds.insert(Key { technology, uid }, Cred { state, twin, holder });
            }
        }
    }

    /// The decision for one credential, and whether it has a twin in
    /// another technology.
    fn decide_one(
        &self,
        technology: Technology,
        uid: &Uid,
        now: Timestamp,
    ) -> Option<((Decision, Option<UserId>), bool)> {
        let c = self.creds.get(&Key { technology, uid: *uid })?;
        let holder = self.holders.get(c.holder as usize);
        Some(((decide(Some(c.state), holder.map(|h| &h.0), now), holder.map(|h| h.1)), c.twin))
    }
}

/// The decision index. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct Index {
    inner: RwLock<Inner>,
}

/// Builds an [`Index`] from a snapshot of the tables.
#[derive(Debug, Default)]
pub struct IndexBuilder {
    inner: Inner,
}

impl IndexBuilder {
    /// Pre-sizes for `users` holders and `credentials` credentials.
    #[must_use]
    pub fn with_capacity(users: usize, credentials: usize) -> Self {
        Self {
            inner: Inner {
                creds: HashMap::with_capacity(credentials),
                slots: HashMap::with_capacity(users),
                holders: Vec::with_capacity(users),
                applied_seq: 0,
            },
        }
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
        inner.applied_seq = applied_seq;
        Index { inner: RwLock::new(inner) }
    }
}

impl Index {
    /// Decides for `uid`. With no technology given, each technology whose
    /// UID length fits is tried in [`Technology::ALL`] order.
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
        let found = match technology {
            Some(t) => inner.decide_one(t, uid, now).map(|(d, _)| d),
            // Without a technology, the same bytes may name credentials of
            // several technologies: grant only if every one of them grants.
            None => {
                let mut found: Option<(Decision, Option<UserId>)> = None;
                for &t in Technology::ALL.iter().filter(|t| t.allows_len(uid.len())) {
                    if let Some((d, twin)) = inner.decide_one(t, uid, now) {
                        if !twin {
                            // The only credential with these bytes.
                            found = Some(d);
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
        found.unwrap_or((Decision::Deny(crate::domain::DenyReason::UnknownCredential), None))
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
        // In chunks, so a long backlog never holds door decisions off for long.
        let mut it = changes.into_iter().peekable();
        while it.peek().is_some() {
            let mut inner = self.inner.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            for (seq, change) in it.by_ref().take(1024) {
                if seq <= inner.applied_seq {
                    continue;
                }
                inner.apply(change);
                inner.applied_seq = seq;
            }
        }
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
    use crate::domain::DenyReason;

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
