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
}

/// The outcome of an allowed action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The new state.
    pub to: UserState,
    /// What to remember as the state before delete (`Some` only on delete).
    pub state_before_delete: Option<UserState>,
}

/// Applies the lifecycle table. Pure: the caller writes the result.
pub fn transition(user: &UserFacts, action: LifecycleAction, origin: Origin) -> Result<Transition, DomainError> {
    use LifecycleAction as A;
    use UserState as S;
    let invalid =
        |hint: &'static str| DomainError::InvalidTransition { user: user.id, state: user.state, action, hint };
    let to = |to| Ok(Transition { to, state_before_delete: None });
    match (user.state, action) {
        (S::Expunged, _) => Err(DomainError::AlreadyExpunged { user: user.id }),
        (S::Active, A::Suspend) => to(S::Suspended),
        (S::Suspended, A::Suspend) => Err(invalid("the user is already suspended")),
        (S::Deleted, A::Suspend) => Err(invalid("restore the user first")),
        (S::Suspended, A::Resume) => to(S::Active),
        (S::Active, A::Resume) => Err(invalid("only a suspended user can be resumed")),
        (S::Deleted, A::Resume) => Err(invalid("restore the user instead")),
        (S::Active | S::Suspended, A::Delete) => {
            if user.directory_linked && origin == Origin::Staff {
                Err(DomainError::DirectoryLinked { user: user.id })
            } else {
                Ok(Transition { to: S::Deleted, state_before_delete: Some(user.state) })
            }
        }
        (S::Deleted, A::Delete) => Err(invalid("the user is already deleted")),
        (S::Deleted, A::Restore) => to(match user.state_before_delete {
            Some(S::Suspended) => S::Suspended,
            _ => S::Active,
        }),
        (S::Active | S::Suspended, A::Restore) => Err(invalid("only a deleted user can be restored")),
        (S::Active | S::Suspended, A::Expunge) => {
            Err(DomainError::HolderNotDeleted { user: user.id, state: user.state })
        }
        (S::Deleted, A::Expunge) => {
            if user.legal_hold {
                Err(DomainError::LegalHold { user: user.id })
            } else {
                to(S::Expunged)
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
