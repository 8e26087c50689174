//! The user lifecycle: `active` ⇄ `suspended` → `deleted` (restorable) →
//! `expunged` (terminal).
//!
//! | from \ action | suspend   | resume | delete  | restore        | expunge            |
//! |---------------|-----------|--------|---------|----------------|--------------------|
//! | active        | suspended | —      | deleted | —              | refused: delete first |
//! | suspended     | —         | active | deleted | —              | refused: delete first |
//! | deleted       | —         | —      | —       | previous state | expunged           |
//! | expunged      | refused   | refused| refused | refused        | refused (already)  |
//!
//! "—" is `invalid_transition`; every refusal on an expunged user is
//! `already_expunged`. Staff cannot delete a directory-linked user
//! (`directory_linked`); nobody can expunge a user under legal hold
//! (`legal_hold`).
//!
//! A suspension has holders ([`Holds`]): staff (a lost badge, an incident)
//! and the identity directory (`active: false`, an entry that vanished).
//! The person stays suspended while either holds; each side releases only
//! its own hold, so a directory that resends `active: true` never undoes a
//! suspension staff made. Staff may add their hold to a person the
//! directory suspended; staff cannot resume a suspension the directory
//! alone holds (`directory_suspended`).

use std::fmt;

use crate::domain::{DomainError, UserId};

/// Where a user is in the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    /// May be granted access.
    Active,
    /// Temporarily refused; reversible with resume.
    Suspended,
    /// Soft-deleted: refused everywhere, restorable, still holds their cards.
    Deleted,
    /// Personal data destroyed; only a tombstone remains. Terminal.
    Expunged,
}

impl UserState {
    /// The stored and displayed name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deleted => "deleted",
            Self::Expunged => "expunged",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Self::Active,
            "suspended" => Self::Suspended,
            "deleted" => Self::Deleted,
            "expunged" => Self::Expunged,
            _ => return None,
        })
    }
}

impl fmt::Display for UserState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lifecycle action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleAction {
    /// active → suspended.
    Suspend,
    /// suspended → active.
    Resume,
    /// active/suspended → deleted.
    Delete,
    /// deleted → the state before delete.
    Restore,
    /// deleted → expunged.
    Expunge,
}

impl LifecycleAction {
    /// Every action, for tables and tests.
    pub const ALL: [Self; 5] = [Self::Suspend, Self::Resume, Self::Delete, Self::Restore, Self::Expunge];

    /// The verb.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Delete => "delete",
            Self::Restore => "restore",
            Self::Expunge => "expunge",
        }
    }
}

impl LifecycleAction {
    /// The audit trail's name for this action, e.g. `user.suspend`.
    #[must_use]
    pub fn audit_name(self) -> &'static str {
        match self {
            Self::Suspend => "user.suspend",
            Self::Resume => "user.resume",
            Self::Delete => "user.delete",
            Self::Restore => "user.restore",
            Self::Expunge => "user.expunge",
        }
    }
}

impl fmt::Display for LifecycleAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who asks for the action: directory deprovisioning may delete linked users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Badge-office staff (UI, CLI, staff API).
    Staff,
    /// The identity directory (SCIM).
    Directory,
}

/// Who holds a person's suspension (while suspended, or while deleted from
/// a suspension: restore brings it back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Holds {
    /// Staff suspended them.
    pub staff: bool,
    /// The identity directory suspended them.
    pub directory: bool,
}

impl Holds {
    /// Held by `origin`'s side only.
    #[must_use]
    pub fn by(origin: Origin) -> Self {
        match origin {
            Origin::Staff => Self { staff: true, directory: false },
            Origin::Directory => Self { staff: false, directory: true },
        }
    }

    /// Whether `origin`'s side holds it.
    #[must_use]
    pub fn held_by(self, origin: Origin) -> bool {
        match origin {
            Origin::Staff => self.staff,
            Origin::Directory => self.directory,
        }
    }

    /// With `origin`'s hold set to `on`.
    #[must_use]
    pub fn with(mut self, origin: Origin, on: bool) -> Self {
        match origin {
            Origin::Staff => self.staff = on,
            Origin::Directory => self.directory = on,
        }
        self
    }

    /// Whether anyone holds it.
    #[must_use]
    pub fn any(self) -> bool {
        self.staff || self.directory
    }
}

/// What the lifecycle needs to know about a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserFacts {
    /// The user.
    pub id: UserId,
    /// Current state.
    pub state: UserState,
    /// The state the user had when deleted (restore goes back to it).
    pub state_before_delete: Option<UserState>,
    /// Managed by the identity directory.
    pub directory_linked: bool,
    /// Under legal hold: may not be expunged.
    pub legal_hold: bool,
    /// Who holds the suspension (a suspended person with no recorded
    /// holder counts as held by staff).
    pub holds: Holds,
}

/// The outcome of an allowed action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The new state.
    pub to: UserState,
    /// What to remember as the state before delete (`Some` only on delete).
    pub state_before_delete: Option<UserState>,
    /// The suspension's holders after the action.
    pub holds: Holds,
}

/// Applies the lifecycle table. Pure: the caller writes the result.
pub fn transition(user: &UserFacts, action: LifecycleAction, origin: Origin) -> Result<Transition, DomainError> {
    use LifecycleAction as A;
    use UserState as S;
    let invalid =
        |hint: &'static str| DomainError::InvalidTransition { user: user.id, state: user.state, action, hint };
    // A suspended person with no recorded holder is staff's (rows older than the holders).
    let holds = match user.state {
        S::Suspended if !user.holds.any() => Holds::by(Origin::Staff),
        S::Active => Holds::default(),
        _ => user.holds,
    };
    let to = |to, holds| Ok(Transition { to, state_before_delete: None, holds });
    match (user.state, action) {
        (S::Expunged, _) => Err(DomainError::AlreadyExpunged { user: user.id }),
        (S::Active, A::Suspend) => to(S::Suspended, Holds::by(origin)),
        (S::Suspended, A::Suspend) if holds.held_by(origin) => Err(invalid("the user is already suspended")),
        // The other side's suspension: this side adds its own hold.
        (S::Suspended, A::Suspend) => to(S::Suspended, holds.with(origin, true)),
        (S::Deleted, A::Suspend) => Err(invalid("restore the user first")),
        (S::Suspended, A::Resume) if !holds.held_by(origin) => match origin {
            Origin::Staff => Err(DomainError::DirectorySuspended { user: user.id }),
            Origin::Directory => Err(invalid("the directory did not suspend this user")),
        },
        (S::Suspended, A::Resume) => {
            let left = holds.with(origin, false);
            to(if left.any() { S::Suspended } else { S::Active }, left)
        }
        (S::Active, A::Resume) => Err(invalid("only a suspended user can be resumed")),
        (S::Deleted, A::Resume) => Err(invalid("restore the user instead")),
        (S::Active | S::Suspended, A::Delete) => {
            if user.directory_linked && origin == Origin::Staff {
                Err(DomainError::DirectoryLinked { user: user.id })
            } else {
                Ok(Transition { to: S::Deleted, state_before_delete: Some(user.state), holds })
            }
        }
        (S::Deleted, A::Delete) => Err(invalid("the user is already deleted")),
        (S::Deleted, A::Restore) => match user.state_before_delete {
            Some(S::Suspended) => to(S::Suspended, if holds.any() { holds } else { Holds::by(Origin::Staff) }),
            _ => to(S::Active, Holds::default()),
        },
        (S::Active | S::Suspended, A::Restore) => Err(invalid("only a deleted user can be restored")),
        (S::Active | S::Suspended, A::Expunge) => {
            Err(DomainError::HolderNotDeleted { user: user.id, state: user.state })
        }
        (S::Deleted, A::Expunge) => {
            if user.legal_hold {
                Err(DomainError::LegalHold { user: user.id })
            } else {
                to(S::Expunged, Holds::default())
            }
        }
    }
}

/// Expunge also needs a confirmation that repeats the user ID.
pub fn check_expunge_confirmation(user: UserId, confirm: &str) -> Result<(), DomainError> {
    match confirm.parse::<UserId>() {
        Ok(c) if c == user => Ok(()),
        _ => Err(DomainError::ExpungeNotConfirmed { user }),
    }
}

/// The lifecycle table of DESIGN.md as data — the expected outcome of
/// every (state, action) cell, actions in [`LifecycleAction::ALL`] order,
/// refusals by code — for the tests of every layer to check against. The
/// implementation above does not read it.
#[doc(hidden)]
pub const EXPECTED_LIFECYCLE: [(UserState, [Result<UserState, &str>; 5]); 4] = {
    use UserState as S;
    const IT: Result<UserState, &str> = Err("invalid_transition");
    const GONE: Result<UserState, &str> = Err("already_expunged");
    const DELETE_FIRST: Result<UserState, &str> = Err("holder_not_deleted");
    [
        (S::Active, [Ok(S::Suspended), IT, Ok(S::Deleted), IT, DELETE_FIRST]),
        (S::Suspended, [IT, Ok(S::Active), Ok(S::Deleted), IT, DELETE_FIRST]),
        (S::Deleted, [IT, IT, IT, Ok(S::Active), Ok(S::Expunged)]),
        (S::Expunged, [GONE, GONE, GONE, GONE, GONE]),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;
    use LifecycleAction as A;
    use UserState as S;

    fn facts(state: S) -> UserFacts {
        UserFacts {
            id: UserId::from_i64(42),
            state,
            state_before_delete: None,
            directory_linked: false,
            legal_hold: false,
            holds: Holds::default(),
        }
    }

    /// Every cell of the table: the outcome state or the refusal code.
    #[test]
    fn every_cell_of_the_lifecycle_table() {
        let table = EXPECTED_LIFECYCLE;
        for (from, row) in table {
            for (action, want) in A::ALL.into_iter().zip(row) {
                let got = transition(&facts(from), action, Origin::Staff).map(|t| t.to).map_err(|e| e.code());
                assert_eq!(got, want, "{from} --{action}-->");
            }
        }
    }

    #[test]
    fn restore_returns_to_the_state_before_delete() {
        for before in [S::Active, S::Suspended] {
            let deleted = transition(&facts(before), A::Delete, Origin::Staff).unwrap();
            assert_eq!(deleted.state_before_delete, Some(before));
            let f = UserFacts { state: S::Deleted, state_before_delete: Some(before), ..facts(S::Deleted) };
            assert_eq!(transition(&f, A::Restore, Origin::Staff).unwrap().to, before);
        }
    }

    #[test]
    fn directory_linked_users_are_deleted_by_the_directory_only() {
        let f = UserFacts { directory_linked: true, ..facts(S::Active) };
        assert_eq!(transition(&f, A::Delete, Origin::Staff).unwrap_err().code(), "directory_linked");
        assert_eq!(transition(&f, A::Delete, Origin::Directory).unwrap().to, S::Deleted);
    }

    #[test]
    fn each_side_releases_only_its_own_suspension() {
        let by_staff = transition(&facts(S::Active), A::Suspend, Origin::Staff).unwrap();
        assert_eq!(by_staff.holds, Holds::by(Origin::Staff));
        let f = UserFacts { state: S::Suspended, holds: by_staff.holds, ..facts(S::Suspended) };
        // The directory resending `active: true` does not resume a staff suspension.
        assert_eq!(transition(&f, A::Resume, Origin::Directory).unwrap_err().code(), "invalid_transition");
        // The directory adds its hold; staff resuming then leaves the directory's.
        let both = transition(&f, A::Suspend, Origin::Directory).unwrap();
        assert_eq!((both.to, both.holds), (S::Suspended, Holds { staff: true, directory: true }));
        let f = UserFacts { holds: both.holds, ..f };
        let staff_off = transition(&f, A::Resume, Origin::Staff).unwrap();
        assert_eq!((staff_off.to, staff_off.holds), (S::Suspended, Holds::by(Origin::Directory)));
        let dir_off = transition(&f, A::Resume, Origin::Directory).unwrap();
        assert_eq!((dir_off.to, dir_off.holds), (S::Suspended, Holds::by(Origin::Staff)));
        // The directory's own hold alone: staff cannot resume, the directory can.
        let f = UserFacts { holds: Holds::by(Origin::Directory), ..f };
        assert_eq!(transition(&f, A::Resume, Origin::Staff).unwrap_err().code(), "directory_suspended");
        assert_eq!(transition(&f, A::Resume, Origin::Directory).unwrap().to, S::Active);
        // A suspended row without holders is staff's.
        let legacy = facts(S::Suspended);
        assert_eq!(transition(&legacy, A::Resume, Origin::Directory).unwrap_err().code(), "invalid_transition");
        assert_eq!(transition(&legacy, A::Resume, Origin::Staff).unwrap().to, S::Active);
    }

    #[test]
    fn restore_brings_back_the_suspensions_holders() {
        let f = UserFacts {
            state: S::Deleted,
            state_before_delete: Some(S::Suspended),
            holds: Holds::by(Origin::Directory),
            ..facts(S::Deleted)
        };
        let t = transition(&f, A::Restore, Origin::Staff).unwrap();
        assert_eq!((t.to, t.holds), (S::Suspended, Holds::by(Origin::Directory)));
    }

    #[test]
    fn legal_hold_blocks_expunge_only() {
        let f = UserFacts { legal_hold: true, ..facts(S::Deleted) };
        assert_eq!(transition(&f, A::Expunge, Origin::Staff).unwrap_err().code(), "legal_hold");
        assert_eq!(transition(&f, A::Restore, Origin::Staff).unwrap().to, S::Active);
    }

    #[test]
    fn expunge_confirmation_must_name_the_user() {
        let id = UserId::from_i64(42);
        assert!(check_expunge_confirmation(id, &id.to_string()).is_ok());
        assert!(check_expunge_confirmation(id, &id.to_string().to_lowercase()).is_ok());
        let other = UserId::from_i64(43).to_string();
        assert_eq!(check_expunge_confirmation(id, &other).unwrap_err().code(), "expunge_not_confirmed");
        assert_eq!(check_expunge_confirmation(id, "yes").unwrap_err().code(), "expunge_not_confirmed");
    }

    #[test]
    fn refusal_messages_say_what_to_do() {
        let e = transition(&facts(S::Active), A::Expunge, Origin::Staff).unwrap_err();
        assert!(e.to_string().contains("delete the user first"), "{e}");
    }
}
