//! Giving and taking access: operators, door controllers and their bearer
//! tokens. Admin only — and an admin without an org unit, since operators,
//! controllers and tokens span every unit.
//!
//! What must hold under concurrency (the last enabled admin cannot be
//! disabled) is checked by the store inside its write transaction; the
//! rules of input (org units, durations, expiries) are here. A refusal
//! found here is audited here, under the action it refused.

use crate::domain::DomainError;
use crate::ops::{Acting, OpsError};
use crate::store::auth::{ControllerRecord, IssuedToken, OperatorRecord, Rotation, TokenFilter, TokenRecord};
use crate::store::events::Contact;
use crate::store::{AuditDraft, Controller, Operator, Role, Store};

/// Tokens from `token create` expire after this many days unless told otherwise.
pub const DEFAULT_TOKEN_DAYS: i64 = 90;
/// The longest expiry `token create --days` accepts (ten years).
pub const MAX_TOKEN_DAYS: i64 = 3650;
/// How long a controller's old token keeps working after a rotation, by default.
pub const DEFAULT_OVERLAP_SECS: i64 = 24 * 3600;
/// The longest overlap a rotation accepts (30 days).
pub const MAX_OVERLAP_SECS: i64 = 30 * 24 * 3600;

/// Refused unless the caller is an admin without an org unit.
fn require_admin(acting: &Acting) -> Result<(), OpsError> {
    acting.require(Role::Admin)?;
    acting.require_unscoped()
}

/// Audits a refusal of the input under `action`, and returns it.
fn refuse<T>(store: &Store, acting: &Acting, action: &'static str, e: DomainError) -> Result<T, OpsError> {
    store.audit_refusal(&acting.actor(), AuditDraft::new(action), e.code())?;
    Err(OpsError::Store(e.into()))
}

/// Runs `check` and audits its refusal under `action`.
fn checked<T>(
    store: &Store,
    acting: &Acting,
    action: &'static str,
    check: Result<T, DomainError>,
) -> Result<T, OpsError> {
    check.or_else(|e| refuse(store, acting, action, e))
}

/// A duration: seconds (`3600`, `3600s`), minutes (`90m`), hours (`24h`) or days (`2d`).
pub fn parse_duration(field: &'static str, s: &str) -> Result<i64, DomainError> {
    let bad = || DomainError::InvalidInput {
        field,
        message: "a whole number with an optional unit: s, m, h or d (e.g. 24h, 90m, 2d, 3600)".into(),
    };
    let s = s.trim();
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_lowercase()),
        _ => (s, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).ok_or_else(bad)
}

/// A new random password for an operator, for an admin to hand over once:
/// 20 characters of an alphabet without look-alikes, in groups of five
/// (about 100 bits).
pub fn generate_password() -> Result<String, OpsError> {
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz023456789";
    let mut b = [0u8; 20];
    getrandom::fill(&mut b)
        .map_err(|e| OpsError::Store(crate::store::StoreError::Io(format!("no randomness from the OS: {e}"))))?;
    let chars: Vec<char> = b.iter().map(|x| char::from(ALPHABET[usize::from(x & 31)])).collect();
    Ok(chars.chunks(5).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("."))
}

/// Every operator, enabled or not.
pub fn list_operators(store: &Store, acting: &Acting) -> Result<Vec<OperatorRecord>, OpsError> {
    require_admin(acting)?;
    Ok(store.operators()?)
}

/// Adds an operator who logs in with `password`. `org_unit`, when given,
/// scopes them to that unit (trimmed; blank refused).
pub fn add_operator(
    store: &Store,
    acting: &Acting,
    name: &str,
    role: &str,
    org_unit: Option<&str>,
    password: &str,
) -> Result<Operator, OpsError> {
    require_admin(acting)?;
    let role = checked(store, acting, "operator.add", Role::from_name(role))?;
    if !role.is_staff() {
        let e = DomainError::InvalidInput {
            field: "role",
            message: "a provisioner has no password: create its token with `idms token create --role provisioner`"
                .into(),
        };
        return refuse(store, acting, "operator.add", e);
    }
    Ok(store.add_operator(&acting.actor(), name, role, org_unit, Some(password))?)
}

/// Disables an operator: every token of theirs is refused and they cannot
/// log in, until enabled. The last enabled admin without an org unit
/// cannot be disabled (`last_admin`).
pub fn disable_operator(store: &Store, acting: &Acting, name: &str) -> Result<OperatorRecord, OpsError> {
    require_admin(acting)?;
    Ok(store.set_operator_enabled(&acting.actor(), name, false)?)
}

/// Enables an operator: their unrevoked, unexpired tokens work again
/// (revoked ones never do).
pub fn enable_operator(store: &Store, acting: &Acting, name: &str) -> Result<OperatorRecord, OpsError> {
    require_admin(acting)?;
    Ok(store.set_operator_enabled(&acting.actor(), name, true)?)
}

/// Sets an operator's password and ends their password sessions; answers
/// how many ended.
pub fn set_password(
    store: &Store,
    acting: &Acting,
    name: &str,
    password: &str,
) -> Result<(OperatorRecord, usize), OpsError> {
    require_admin(acting)?;
    Ok(store.set_operator_password(&acting.actor(), name, password)?)
}

/// Every door controller, enabled or not.
pub fn list_controllers(store: &Store, acting: &Acting) -> Result<Vec<ControllerRecord>, OpsError> {
    require_admin(acting)?;
    Ok(store.controllers()?)
}

/// Every door controller, enabled or not, with what the service knows of
/// its contact (last request, last upload, measured clock skew): the
/// Administration page and `GET /api/v1/controllers` show the same.
pub fn list_controllers_with_contact(
    store: &Store,
    acting: &Acting,
    events: &crate::store::events::EventLog,
) -> Result<Vec<(ControllerRecord, Option<Contact>)>, OpsError> {
    let controllers = list_controllers(store, acting)?;
    let contacts = events.contacts()?;
    Ok(controllers
        .into_iter()
        .map(|c| {
            let contact = contacts.get(&c.id).copied();
            (c, contact)
        })
        .collect())
}

/// Whether a controller whose clock reads `skew_secs` ahead of the
/// service's has its offline events flagged `clock_ahead` (stored at their
/// arrival with the time they claimed).
#[must_use]
pub fn clock_flagged(skew_secs: i64) -> bool {
    skew_secs > crate::ops::doors::MAX_CLOCK_AHEAD_SECS
}

/// Adds a door controller; answers it and its token (shown once).
pub fn add_controller(
    store: &Store,
    acting: &Acting,
    name: &str,
    doors: &[String],
) -> Result<(Controller, String), OpsError> {
    require_admin(acting)?;
    Ok(store.add_controller(&acting.actor(), name, doors)?)
}

/// Disables a controller: every token of its is refused until enabled.
pub fn disable_controller(store: &Store, acting: &Acting, id: i64) -> Result<ControllerRecord, OpsError> {
    require_admin(acting)?;
    Ok(store.set_controller_enabled(&acting.actor(), id, false)?)
}

/// Enables a controller: its unrevoked, unexpired tokens work again.
pub fn enable_controller(store: &Store, acting: &Acting, id: i64) -> Result<ControllerRecord, OpsError> {
    require_admin(acting)?;
    Ok(store.set_controller_enabled(&acting.actor(), id, true)?)
}

/// Issues a controller a new token (shown once). Its old tokens keep
/// working for `overlap_secs` (default [`DEFAULT_OVERLAP_SECS`], at most
/// [`MAX_OVERLAP_SECS`]; 0 is the same as `now`), or are revoked at once
/// with `now` (a compromised token).
pub fn rotate_controller_token(
    store: &Store,
    acting: &Acting,
    id: i64,
    now: bool,
    overlap_secs: Option<i64>,
) -> Result<Rotation, OpsError> {
    require_admin(acting)?;
    let secs = match (now, overlap_secs) {
        (true, Some(_)) => Err(DomainError::InvalidInput {
            field: "overlap",
            message: "give either an overlap or now, not both".into(),
        }),
        (true, None) => Ok(0),
        (false, None) => Ok(DEFAULT_OVERLAP_SECS),
        (false, Some(s)) if (0..=MAX_OVERLAP_SECS).contains(&s) => Ok(s),
        (false, Some(_)) => Err(DomainError::InvalidInput {
            field: "overlap",
            message: format!("0 to {} days", MAX_OVERLAP_SECS / 86_400),
        }),
    };
    let secs = checked(store, acting, "controller.rotate_token", secs)?;
    Ok(store.rotate_controller_token(&acting.actor(), id, secs)?)
}

/// Tokens (never their secrets).
pub fn list_tokens(store: &Store, acting: &Acting, filter: &TokenFilter) -> Result<Vec<TokenRecord>, OpsError> {
    require_admin(acting)?;
    Ok(store.tokens(filter)?)
}

/// Which tokens to revoke.
#[derive(Clone, PartialEq, Eq)]
pub enum RevokeTarget {
    /// The token with this secret.
    Secret(String),
    /// The token with this ID.
    Id(i64),
    /// Every token of this operator (by login name).
    Operator(String),
    /// Every token of this controller.
    Controller(i64),
}

impl std::fmt::Debug for RevokeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The secret is never printed.
            Self::Secret(_) => f.write_str("Secret(..)"),
            Self::Id(id) => write!(f, "Id({id})"),
            Self::Operator(_) => f.write_str("Operator(..)"),
            Self::Controller(id) => write!(f, "Controller({id})"),
        }
    }
}

/// Revokes tokens; answers how many. Revoked tokens never work again.
pub fn revoke_tokens(store: &Store, acting: &Acting, target: &RevokeTarget) -> Result<usize, OpsError> {
    require_admin(acting)?;
    let actor = acting.actor();
    Ok(match target {
        RevokeTarget::Secret(s) => store.revoke_token(&actor, s).map(|()| 1)?,
        RevokeTarget::Id(id) => store.revoke_token_id(&actor, *id).map(|()| 1)?,
        RevokeTarget::Operator(name) => store.revoke_operator_tokens(&actor, name)?,
        RevokeTarget::Controller(id) => store.revoke_controller_tokens(&actor, *id)?,
    })
}

/// When a token from `token create` expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenExpiry {
    /// After [`DEFAULT_TOKEN_DAYS`].
    #[default]
    Default,
    /// After this many days (1 to [`MAX_TOKEN_DAYS`]).
    Days(i64),
    /// Never (asked for explicitly).
    Never,
}

/// Issues an API token for operator `name`, creating the operator with
/// `role` if missing (bootstrap and automation); a disabled operator gets
/// none. The secret is in the answer, once.
pub fn create_token(
    store: &Store,
    acting: &Acting,
    name: &str,
    role: &str,
    expiry: TokenExpiry,
) -> Result<(Operator, IssuedToken), OpsError> {
    require_admin(acting)?;
    let role = checked(store, acting, "token.create", Role::from_name(role))?;
    let ttl = match expiry {
        TokenExpiry::Default => Some(DEFAULT_TOKEN_DAYS * 86_400),
        TokenExpiry::Days(d) if (1..=MAX_TOKEN_DAYS).contains(&d) => Some(d * 86_400),
        TokenExpiry::Days(_) => {
            let e = DomainError::InvalidInput { field: "days", message: format!("1 to {MAX_TOKEN_DAYS}") };
            return refuse(store, acting, "token.create", e);
        }
        TokenExpiry::Never => None,
    };
    Ok(store.issue_token(&acting.actor(), name, role, ttl)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_is_flagged_only_past_the_allowance_ahead() {
        let max = crate::ops::doors::MAX_CLOCK_AHEAD_SECS;
        assert!(!clock_flagged(max) && clock_flagged(max + 1));
        assert!(!clock_flagged(-max - 1000), "a clock behind stamps nothing ahead");
    }

    #[test]
    fn durations_take_a_unit_or_mean_seconds() {
        for (s, want) in [("24h", 86_400), ("90m", 5400), ("2d", 172_800), ("3600", 3600), ("45s", 45), (" 1H ", 3600)]
        {
            assert_eq!(parse_duration("overlap", s), Ok(want), "{s}");
        }
        for s in ["", "h", "-1h", "1.5h", "1w", "24 h", "1hh", "99999999999999999999d"] {
            assert!(parse_duration("overlap", s).is_err(), "{s}");
        }
    }

    #[test]
    fn an_org_unit_is_trimmed_and_never_blank() {
        use crate::store::auth::clean_org_unit;
        assert_eq!(clean_org_unit(None), Ok(None));
        assert_eq!(clean_org_unit(Some("  north ")), Ok(Some("north".into())));
        for blank in ["", " ", "\t \n", "\u{3000}"] {
            let e = clean_org_unit(Some(blank)).unwrap_err();
            assert!(matches!(e, DomainError::InvalidInput { field: "org_unit", .. }), "{blank:?}");
        }
        assert!(clean_org_unit(Some(&"x".repeat(201))).is_err());
        assert!(clean_org_unit(Some("a\u{0}b")).is_err());
    }
}
