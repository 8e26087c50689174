//! Access decisions: is this credential valid here, now?
//!
//! Checks run in a fixed order and the first failing one is the reason:
//! credential retired → no holder (in stock) → credential suspended →
//! holder deleted → holder suspended → before `valid_from` → at or after
//! `valid_to`. Then the door's rules (`domain::access`): no level the holder
//! holds now covers the door → `no_access_to_door`; covered, but no
//! covering schedule is open now → `outside_schedule`.
//!
//! Before all of these, the index denies `credential_ambiguous` when the
//! UID bytes read are bound, under different technologies, to different
//! people (twins from before the one-holder-per-UID rule): a door must
//! never grant one person's card as another's.

use std::fmt;

use crate::domain::{CredentialState, Timestamp, UserState, ValidityWindow, time::WindowPosition};

/// Why access is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// No credential with this UID.
    UnknownCredential,
    /// The credential has no holder.
    CredentialInStock,
    /// The credential is suspended.
    CredentialSuspended,
    /// The credential was reported lost.
    CredentialLost,
    /// The credential was reported stolen.
    CredentialStolen,
    /// The credential was destroyed.
    CredentialDestroyed,
    /// The holder is suspended.
    HolderSuspended,
    /// The holder is deleted.
    HolderDeleted,
    /// Before the holder's `valid_from`.
    NotYetValid,
    /// At or after the holder's `valid_to`.
    Expired,
    /// The holder may not open this door.
    NoAccessToDoor,
    /// The UID bytes are bound to different people under different
    /// technologies: whose card this is cannot be told.
    CredentialAmbiguous,
    /// A level the holder holds covers the door, but none of its schedules
    /// is open now.
    OutsideSchedule,
}

impl DenyReason {
    /// Every reason, in a fixed order (also their stored numbering, from 1:
    /// a new reason is appended, so stored events keep their meaning).
    pub const ALL: [Self; 13] = [
        Self::UnknownCredential,
        Self::CredentialInStock,
        Self::CredentialSuspended,
        Self::CredentialLost,
        Self::CredentialStolen,
        Self::CredentialDestroyed,
        Self::HolderSuspended,
        Self::HolderDeleted,
        Self::NotYetValid,
        Self::Expired,
        Self::NoAccessToDoor,
        Self::CredentialAmbiguous,
        Self::OutsideSchedule,
    ];

    /// Every reason in the order the checks run: the first that fails is
    /// the reason (`docs/controllers.md`, "Deny reasons, and which one
    /// wins"; reasons next to each other in one group cannot both apply).
    pub const BY_PRECEDENCE: [Self; 13] = [
        Self::CredentialAmbiguous,
        Self::UnknownCredential,
        Self::CredentialLost,
        Self::CredentialStolen,
        Self::CredentialDestroyed,
        Self::CredentialInStock,
        Self::CredentialSuspended,
        Self::HolderDeleted,
        Self::HolderSuspended,
        Self::NotYetValid,
        Self::Expired,
        Self::NoAccessToDoor,
        Self::OutsideSchedule,
    ];

    /// Parses a code.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownCredential => "unknown_credential",
            Self::CredentialInStock => "credential_in_stock",
            Self::CredentialSuspended => "credential_suspended",
            Self::CredentialLost => "credential_lost",
            Self::CredentialStolen => "credential_stolen",
            Self::CredentialDestroyed => "credential_destroyed",
            Self::HolderSuspended => "holder_suspended",
            Self::HolderDeleted => "holder_deleted",
            Self::NotYetValid => "not_yet_valid",
            Self::Expired => "expired",
            Self::NoAccessToDoor => "no_access_to_door",
            Self::CredentialAmbiguous => "credential_ambiguous",
            Self::OutsideSchedule => "outside_schedule",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The answer to a door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Open.
    Grant,
    /// Stay shut, and why.
    Deny(DenyReason),
}

impl Decision {
    /// `grant` or `deny`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Deny(_) => "deny",
        }
    }

    /// The deny reason, if any.
    #[must_use]
    pub fn reason(self) -> Option<DenyReason> {
        match self {
            Self::Grant => None,
            Self::Deny(r) => Some(r),
        }
    }
}

/// What a decision needs to know about the holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolderView {
    /// Lifecycle state.
    pub state: UserState,
    /// Validity window.
    pub window: ValidityWindow,
}

/// Decides for a credential in `state` held by `holder` (if any) at `now`.
/// `None` for `state` means the UID is unknown.
#[must_use]
#[inline]
pub fn decide(state: Option<CredentialState>, holder: Option<&HolderView>, now: Timestamp) -> Decision {
    use CredentialState as C;
    let Some(state) = state else {
        return Decision::Deny(DenyReason::UnknownCredential);
    };
    let deny = |r| Decision::Deny(r);
    match state {
        C::Lost => return deny(DenyReason::CredentialLost),
        C::Stolen => return deny(DenyReason::CredentialStolen),
        C::Destroyed => return deny(DenyReason::CredentialDestroyed),
        C::InStock | C::Issued | C::Suspended => {}
    }
    let Some(holder) = holder else {
        return deny(DenyReason::CredentialInStock);
    };
    if state == C::InStock {
        return deny(DenyReason::CredentialInStock);
    }
    if state == C::Suspended {
        return deny(DenyReason::CredentialSuspended);
    }
    match holder.state {
        UserState::Active => {}
        UserState::Suspended => return deny(DenyReason::HolderSuspended),
        // An expunged holder has no open binding; if one were seen, refusing is the safe answer.
        UserState::Deleted | UserState::Expunged => return deny(DenyReason::HolderDeleted),
    }
    match holder.window.position(now) {
        WindowPosition::Before => deny(DenyReason::NotYetValid),
        WindowPosition::After => deny(DenyReason::Expired),
        WindowPosition::Inside => Decision::Grant,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(state: UserState, from: Option<i64>, to: Option<i64>) -> HolderView {
        HolderView { state, window: ValidityWindow { from: from.map(Timestamp), to: to.map(Timestamp) } }
    }

    /// Must-be-true 7: every deny reason, and the window boundaries.
    #[test]
    fn every_deny_reason() {
        use CredentialState as C;
        use DenyReason as R;
        let now = Timestamp(1000);
        let active = holder(UserState::Active, None, None);
        let cases: [(Option<C>, Option<HolderView>, Decision); 11] = [
            (None, None, Decision::Deny(R::UnknownCredential)),
            (Some(C::InStock), None, Decision::Deny(R::CredentialInStock)),
            (Some(C::Suspended), Some(active), Decision::Deny(R::CredentialSuspended)),
            (Some(C::Lost), Some(active), Decision::Deny(R::CredentialLost)),
            (Some(C::Stolen), Some(active), Decision::Deny(R::CredentialStolen)),
            (Some(C::Destroyed), None, Decision::Deny(R::CredentialDestroyed)),
            (Some(C::Issued), Some(holder(UserState::Suspended, None, None)), Decision::Deny(R::HolderSuspended)),
            (Some(C::Issued), Some(holder(UserState::Deleted, None, None)), Decision::Deny(R::HolderDeleted)),
            (Some(C::Issued), Some(holder(UserState::Active, Some(1001), None)), Decision::Deny(R::NotYetValid)),
            (Some(C::Issued), Some(holder(UserState::Active, None, Some(1000))), Decision::Deny(R::Expired)),
            (Some(C::Issued), Some(active), Decision::Grant),
        ];
        for (state, h, want) in cases {
            assert_eq!(decide(state, h.as_ref(), now), want, "{state:?} {h:?}");
        }
    }

    #[test]
    fn codes_round_trip_and_new_reasons_come_last() {
        for r in DenyReason::ALL {
            assert_eq!(DenyReason::from_code(r.code()), Some(r));
        }
        // Stored events number reasons by their place in ALL: appended, never inserted.
        assert_eq!(DenyReason::ALL[11..], [DenyReason::CredentialAmbiguous, DenyReason::OutsideSchedule]);
        assert_eq!(DenyReason::OutsideSchedule.code(), "outside_schedule");
    }

    #[test]
    fn window_boundaries() {
        let h = holder(UserState::Active, Some(100), Some(200));
        let at = |t| decide(Some(CredentialState::Issued), Some(&h), Timestamp(t));
        assert_eq!(at(99), Decision::Deny(DenyReason::NotYetValid));
        assert_eq!(at(100), Decision::Grant);
        assert_eq!(at(199), Decision::Grant);
        assert_eq!(at(200), Decision::Deny(DenyReason::Expired));
    }

    #[test]
    fn retired_wins_over_holder_state() {
        let h = holder(UserState::Deleted, Some(5000), None);
        assert_eq!(
            decide(Some(CredentialState::Stolen), Some(&h), Timestamp(0)),
            Decision::Deny(DenyReason::CredentialStolen)
        );
    }
}
