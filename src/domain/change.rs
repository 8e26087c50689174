//! The effects a committed write can have on what doors see.
//!
//! **Architecture invariant:** every write appends its [`Change`]s to the
//! change log in the same transaction. The decision index and the door
//! controllers' delta feed are projections of that log, so a write from any
//! process reaches them. A change carries IDs, states, UIDs and validity
//! windows — never personal data.

use crate::domain::access::{GroupId, LevelId};
use crate::domain::{CredentialState, Technology, Uid, UserId, UserState, ValidityWindow};

/// One entry of the change log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A user's decision-relevant facts changed (or the user was created).
    User {
        /// The user.
        id: UserId,
        /// Their state now.
        state: UserState,
        /// Their validity window now.
        window: ValidityWindow,
    },
    /// A credential's decision-relevant facts changed (or it was created).
    Credential {
        /// Technology.
        technology: Technology,
        /// UID.
        uid: Uid,
        /// Its state now.
        state: CredentialState,
        /// The holder of its open binding now, if any.
        holder: Option<UserId>,
    },
    /// A person's group changed (its interned ID; `None`: no group).
    Group {
        /// The person.
        id: UserId,
        /// Their group now.
        group: Option<GroupId>,
    },
    /// A person joined (`member`) or left a directory group
    /// ([`GroupId::directory`]), whose levels they hold while in it.
    Membership {
        /// The person.
        id: UserId,
        /// The directory group.
        group: GroupId,
        /// In it now.
        member: bool,
    },
    /// An access level assigned directly to a person: held from now on with
    /// this window, or (`window: None`) no longer held.
    Assignment {
        /// The person.
        user: UserId,
        /// The level.
        level: LevelId,
        /// The assignment's validity window, or `None` when unassigned.
        window: Option<ValidityWindow>,
    },
    /// The access rules changed: sites, doors, areas, holiday calendars,
    /// schedules, levels, the default levels or a group's or a directory
    /// group's assignments. The
    /// index reloads them (they are small) from the tables.
    Rules {
        /// Who reaches which door may have changed (doors, areas, levels'
        /// grants, group assignments, controllers' doors): a controller's
        /// list of credentials must be recomputed, not only its rules.
        reach: bool,
    },
}
