//! The effects a committed write can have on what doors see.
//!
//! **Architecture invariant:** every write appends its [`Change`]s to the
//! change log in the same transaction. The decision index and the door
//! controllers' delta feed are projections of that log, so a write from any
//! process reaches them. A change carries IDs, states, UIDs and validity
//! windows — never personal data.

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
}
