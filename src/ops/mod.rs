//! The rule layer: the one place every front end — the CLI, the HTTP API,
//! the web UI — goes through to act.
//!
//! A front end authenticates its caller, parses its input, calls an
//! operation here with the acting principal ([`Acting`]), and renders what
//! comes back. The operation checks the role, the org-unit scope and the
//! door rights, applies the rules that are not the store's, calls the store
//! (which keeps the rules that must hold under concurrency, as database
//! constraints inside one transaction), and returns a value or a refusal
//! with a stable code ([`OpsError`]).
//!
//! **Architecture invariant:** no role, scope or door check and no refusal
//! message is written in `api/` or `cli/`; they only authenticate, parse,
//! call and render.

pub mod cards;

use crate::domain::{DomainError, UserId};
use crate::store::{Actor, Controller, Operator, Principal, Role, StoreError, UserRecord};

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acting {
    /// A badge-office operator, authenticated by a token or a session.
    Operator(Operator),
    /// A door controller, authenticated by its token.
    Controller(Controller),
    /// The local CLI: whoever may open the data directory (its file
    /// permissions are the authentication) acts with every role, under the
    /// audit name given (`cli`, or `IDMS_ACTOR`).
    Local(Actor),
}

impl From<Principal> for Acting {
    fn from(p: Principal) -> Self {
        match p {
            Principal::Operator(o) => Self::Operator(o),
            Principal::Controller(c) => Self::Controller(c),
        }
    }
}

impl Acting {
    /// The audit trail's name for the caller.
    #[must_use]
    pub fn actor(&self) -> Actor {
        match self {
            Self::Operator(o) => Actor::staff(format!("operator:{}", o.id)),
            Self::Controller(c) => Actor::staff(format!("controller:{}", c.id)),
            Self::Local(a) => a.clone(),
        }
    }

    /// The operator, when the caller is one.
    #[must_use]
    pub fn operator(&self) -> Option<&Operator> {
        match self {
            Self::Operator(o) => Some(o),
            _ => None,
        }
    }

    /// The org unit the caller is held to, if any.
    #[must_use]
    pub fn unit(&self) -> Option<&str> {
        self.operator().and_then(|o| o.org_unit.as_deref())
    }

    /// Refused unless the caller is staff with at least `min` (the local
    /// CLI has every role; a door controller has none).
    pub fn require(&self, min: Role) -> Result<(), OpsError> {
        match self {
            Self::Local(_) => Ok(()),
            Self::Operator(o) if o.role >= min => Ok(()),
            Self::Operator(o) => Err(forbidden(format!("this needs the {min} role; the token has {}", o.role))),
            Self::Controller(_) => Err(forbidden("door-controller tokens reach only the door-controller API")),
        }
    }

    /// The controller, when the caller is one.
    pub fn controller(&self) -> Result<&Controller, OpsError> {
        match self {
            Self::Controller(c) => Ok(c),
            _ => Err(forbidden("only door-controller tokens reach the door-controller API")),
        }
    }

    /// The controller, if `door` is one of its doors.
    pub fn controller_for(&self, door: &str) -> Result<&Controller, OpsError> {
        let c = self.controller()?;
        if c.doors.iter().any(|d| d == door) {
            Ok(c)
        } else {
            Err(forbidden(format!("door {door} is not one of this controller's doors")))
        }
    }

    /// Whether the caller's org unit (if any) covers `user`.
    #[must_use]
    pub fn may_see(&self, user: &UserRecord) -> bool {
        self.unit().is_none_or(|unit| user.org_unit.as_deref() == Some(unit))
    }

    /// Org-unit scope: someone outside the caller's unit is "not found",
    /// so a scope does not reveal who exists.
    pub fn check_scope(&self, user: &UserRecord) -> Result<(), OpsError> {
        if self.may_see(user) { Ok(()) } else { Err(OpsError::Refused(not_found(user.id))) }
    }
}

/// The refusal for a user outside the caller's scope (the same as a missing one).
#[must_use]
pub fn not_found(id: UserId) -> DomainError {
    DomainError::NotFound { what: "user", id: id.to_string() }
}

fn forbidden(message: impl Into<String>) -> OpsError {
    OpsError::Refused(DomainError::Forbidden { message: message.into() })
}

/// Why an operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// Refused by a role, scope or door check before any store operation
    /// could audit it: the front end audits it (the API in counted batches,
    /// the CLI at once).
    #[error(transparent)]
    Refused(DomainError),
    /// The store refused (and audited) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DomainError> for OpsError {
    fn from(e: DomainError) -> Self {
        Self::Store(e.into())
    }
}

impl OpsError {
    /// The stable machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }

    /// The underlying store error (a refusal becomes its domain error).
    #[must_use]
    pub fn into_store(self) -> StoreError {
        match self {
            Self::Refused(e) => e.into(),
            Self::Store(e) => e,
        }
    }
}
