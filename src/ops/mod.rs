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
//! message is written in `api/`, `cli/` or `ui/`; they only authenticate, parse,
//! call and render.

pub mod access;
pub mod audit;
pub mod credentials;
pub mod directory;
pub mod doors;
pub mod events;
pub mod levels;
pub mod purge;
pub mod readers;
pub mod sessions;
pub mod users;

use crate::domain::{DomainError, UserId};
use crate::store::{Actor, Controller, Operator, Principal, Role, Store, StoreError, UserRecord};

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
            // A blank stored unit stays blank: the store's check then
            // refuses every person, as [`Acting::scope`] does.
            // An identity directory's account acts as the directory (its deletes of linked people are allowed).
            Self::Operator(o) if !o.role.is_staff() => Actor::directory(format!("operator:{}", o.id)),
            Self::Operator(o) => {
                Actor::staff(format!("operator:{}", o.id)).in_unit(o.org_unit.as_deref().map(|u| u.trim().to_owned()))
            }
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

    /// The org unit the caller is held to, if any (as stored; see
    /// [`Acting::scope`] for the checked one).
    #[must_use]
    pub fn unit(&self) -> Option<&str> {
        self.operator().and_then(|o| o.org_unit.as_deref())
    }

    /// The org unit the caller's work is held to: `None` for an unscoped
    /// caller. A scoped operator whose stored unit is blank (an old row, or
    /// one written around the checks) covers no one — it is refused rather
    /// than read as "no unit", which would widen it to everyone.
    pub fn scope(&self) -> Result<Option<&str>, OpsError> {
        match self.unit() {
            None => Ok(None),
            Some(u) if u.trim().is_empty() => {
                Err(forbidden("this operator's org unit is blank, so it covers no one; an admin must set it"))
            }
            Some(u) => Ok(Some(u.trim())),
        }
    }

    /// The unit a bulk action covers: a scoped caller's own (asking for
    /// another is refused), anyone else's choice (blank means every unit).
    pub fn unit_for(&self, asked: Option<String>) -> Result<Option<String>, OpsError> {
        let asked = asked.filter(|a| !a.trim().is_empty());
        match (self.scope()?, asked) {
            (Some(mine), Some(asked)) if asked.trim() != mine => {
                Err(forbidden(format!("you can act on people of unit {mine} only")))
            }
            (Some(mine), _) => Ok(Some(mine.to_owned())),
            (None, asked) => Ok(asked),
        }
    }

    /// Refused for a scoped caller: what covers every unit (the audit
    /// trail, for one) is for unscoped operators.
    pub fn require_unscoped(&self) -> Result<(), OpsError> {
        match self.unit() {
            Some(_) => Err(forbidden("this covers every unit; ask an operator without an org unit")),
            None => Ok(()),
        }
    }

    /// Refused unless the caller is staff with at least `min` (the local
    /// CLI has every role; a door controller has none).
    pub fn require(&self, min: Role) -> Result<(), OpsError> {
        match self {
            Self::Local(_) => Ok(()),
            Self::Operator(o) if o.role.is_staff() && o.role >= min => Ok(()),
            Self::Operator(o) => Err(forbidden(format!("this needs the {min} role; the token has {}", o.role))),
            Self::Controller(_) => Err(forbidden("door-controller tokens reach only the door-controller API")),
        }
    }

    /// Refused for an identity directory's token: it reaches `/scim/v2` only.
    /// Every other authenticated route checks this first.
    pub fn require_not_provisioner(&self) -> Result<(), OpsError> {
        match self {
            Self::Operator(o) if !o.role.is_staff() => {
                Err(forbidden("a provisioner token reaches only the SCIM API at /scim/v2"))
            }
            _ => Ok(()),
        }
    }

    /// Refused unless the caller is an identity directory's account (the
    /// SCIM API's callers).
    pub fn require_provisioner(&self) -> Result<(), OpsError> {
        match self {
            Self::Operator(o) if o.role == Role::Provisioner => Ok(()),
            _ => Err(forbidden("the SCIM API needs a provisioner token (`idms token create --role provisioner`)")),
        }
    }

    /// The controller, when the caller is one.
    pub fn controller(&self) -> Result<&Controller, OpsError> {
        match self {
            Self::Controller(c) => Ok(c),
            _ => Err(forbidden("only door-controller tokens reach the door-controller API")),
        }
    }

    /// The controller, if `door` is one of its doors (exactly: door names
    /// are case-sensitive).
    pub fn controller_for(&self, door: &str) -> Result<&Controller, OpsError> {
        let c = self.controller()?;
        if c.doors.iter().any(|d| d == door) {
            Ok(c)
        } else {
            // Name the doors it has (names an admin chose), not the one asked
            // for (anything a client sent); a near miss is usually the case.
            let doors: Vec<String> = c.doors.iter().map(|d| format!("`{d}`")).collect();
            Err(forbidden(format!(
                "that door is not one of this controller's doors ({}); door names match exactly, case included",
                doors.join(", ")
            )))
        }
    }

    /// Whether the caller's org unit (if any) covers a person of `unit`.
    /// A blank scope covers no one.
    #[must_use]
    pub fn covers(&self, unit: Option<&str>) -> bool {
        match self.unit() {
            None => true,
            Some(mine) => {
                let mine = mine.trim();
                !mine.is_empty() && unit.map(str::trim) == Some(mine)
            }
        }
    }

    /// Whether the caller's org unit (if any) covers `user`.
    #[must_use]
    pub fn may_see(&self, user: &UserRecord) -> bool {
        self.covers(user.org_unit.as_deref())
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

/// Loads a person the caller may act on (else "not found", as if missing).
pub fn load_scoped(store: &Store, acting: &Acting, id: UserId) -> Result<UserRecord, OpsError> {
    let u = store.get_user(id)?;
    acting.check_scope(&u)?;
    Ok(u)
}

pub(crate) fn forbidden(message: impl Into<String>) -> OpsError {
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

    /// For a front end that audits refusals at once (the CLI): a refusal
    /// no store operation audited is written to the trail under `draft`
    /// now; either way the store's error is what is left to report.
    #[must_use]
    pub fn audit_now(self, store: &Store, actor: &Actor, draft: crate::store::AuditDraft) -> StoreError {
        match self {
            Self::Refused(e) => match store.audit_refusal(actor, draft, e.code()) {
                Ok(()) => e.into(),
                Err(failed) => failed,
            },
            Self::Store(e) => e,
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
