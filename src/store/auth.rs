//! Operators, door controllers and their bearer tokens.
//!
//! Passwords are hashed with argon2id. Tokens are 32 random bytes shown
//! once as `idms_…` and stored only as their SHA-256: a token is a long
//! random secret, so a fast hash is as safe as a slow one and keeps every
//! door request cheap.

use std::fmt;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::domain::{DomainError, Timestamp};
use crate::store::{Actor, AuditDraft, Store, StoreError};

/// What an operator may do. Each staff role includes the ones before it;
/// `Provisioner`, an identity directory's account, is none of them: staff
/// checks ask [`Role::is_staff`] first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read people, cards and statistics.
    Viewer,
    /// Also add people and enrol cards.
    Enroller,
    /// Also suspend, delete, restore, retire cards, edit purge dates, read the audit trail.
    Manager,
    /// Also expunge and run purge jobs.
    Eraser,
    /// Also manage operators, controllers and settings.
    Admin,
    /// An identity directory pushing people through SCIM: reaches `/scim/v2` only.
    Provisioner,
}

impl Role {
    /// Every staff role, lowest first.
    pub const ALL: [Self; 5] = [Self::Viewer, Self::Enroller, Self::Manager, Self::Eraser, Self::Admin];

    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Enroller => "enroller",
            Self::Manager => "manager",
            Self::Eraser => "eraser",
            Self::Admin => "admin",
            Self::Provisioner => "provisioner",
        }
    }

    /// Parses a role name.
    pub fn from_name(s: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().chain([Self::Provisioner]).find(|r| r.as_str() == s.trim()).ok_or(
            DomainError::InvalidInput {
                field: "role",
                message: "expected viewer, enroller, manager, eraser, admin or provisioner".into(),
            },
        )
    }

    /// A badge-office staff role (not an identity directory's).
    #[must_use]
    pub fn is_staff(self) -> bool {
        self != Self::Provisioner
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A badge-office operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// ID.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When set, the operator sees and touches only people of this unit.
    pub org_unit: Option<String>,
}

/// A door controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The doors it controls.
    pub doors: Vec<String>,
}

/// Who a bearer token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An operator.
    Operator(Operator),
    /// A door controller.
    Controller(Controller),
}

/// SHA-256 of a token's secret, as stored.
#[must_use]
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn new_secret(prefix: &str) -> Result<String, StoreError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| StoreError::Io(format!("no randomness from the OS: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(b)))
}

/// The longest org unit accepted, in characters.
pub const MAX_UNIT_CHARS: usize = 200;

/// A scoped operator's org unit: surrounding whitespace trimmed; blank or
/// whitespace-only is refused (it would scope to nobody's unit, and code
/// that treats "no unit" and "blank" alike would widen it to everyone).
pub fn clean_org_unit(unit: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(u) = unit else { return Ok(None) };
    let u = u.trim();
    if u.is_empty() || u.chars().count() > MAX_UNIT_CHARS || u.chars().any(char::is_control) {
        return Err(DomainError::InvalidInput {
            field: "org_unit",
            message: format!(
                "1 to {MAX_UNIT_CHARS} characters, not blank; leave it out for an operator who sees every unit"
            ),
        });
    }
    Ok(Some(u.to_string()))
}

/// A door's name as controllers and readers say it (exact, ASCII).
pub(crate) fn clean_door(s: &str) -> Result<String, DomainError> {
    clean_name("door", s)
}

fn clean_name(field: &'static str, s: &str) -> Result<String, DomainError> {
    let t = s.trim();
    if t.is_empty() || t.len() > 64 || !t.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@:".contains(c)) {
        return Err(DomainError::InvalidInput {
            field,
            message: "1 to 64 characters: letters, digits and - _ . @ :".into(),
        });
    }
    Ok(t.to_string())
}

fn load_operator(conn: &Connection, name: &str) -> Result<Option<(Operator, Option<String>)>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT id, name, role, org_unit, password_hash FROM operators WHERE name = ?1 AND disabled_at IS NULL",
        )?
        .query_row([name], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    row.map(|(id, name, role, org_unit, hash)| {
        let role = Role::from_name(&role).map_err(|_| StoreError::Corrupt("role"))?;
        Ok((Operator { id, name, role, org_unit }, hash))
    })
    .transpose()
}

fn load_controller(conn: &Connection, id: i64) -> Result<Option<Controller>, StoreError> {
    let name: Option<String> = conn
        .prepare_cached("SELECT name FROM controllers WHERE id = ?1 AND disabled_at IS NULL")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    let Some(name) = name else { return Ok(None) };
    let mut stmt = conn.prepare_cached("SELECT door FROM controller_doors WHERE controller_id = ?1 ORDER BY door")?;
    let doors = stmt.query_map([id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
    Ok(Some(Controller { id, name, doors }))
}

fn insert_token(
    conn: &Connection,
    operator: Option<i64>,
    controller: Option<i64>,
    label: &str,
    now: Timestamp,
    expires: Option<Timestamp>,
) -> Result<(i64, String), StoreError> {
    let secret = new_secret(if operator.is_some() { "idms_op_" } else { "idms_ct_" })?;
    conn.prepare_cached(
        "INSERT INTO tokens (hash, operator_id, controller_id, label, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![&token_hash(&secret)[..], operator, controller, label, now.0, expires.map(|t| t.0)])?;
    Ok((conn.last_insert_rowid(), secret))
}

/// Refused unless a password is long enough (it is hashed before the write,
/// so the refusal is checked first and audited by the write).
fn check_password(p: &str) -> Result<(), DomainError> {
    if p.chars().count() < 10 {
        return Err(DomainError::InvalidInput { field: "password", message: "must be at least 10 characters".into() });
    }
    Ok(())
}

impl Store {
    /// Adds an operator (`password` enables `POST /login`). The org unit is
    /// trimmed and never blank (a blank unit would read as "every unit").
    pub fn add_operator(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        org_unit: Option<&str>,
        password: Option<&str>,
    ) -> Result<Operator, StoreError> {
        // Checked before the write (argon2 runs outside the writer lock);
        // a refusal is handed to the write so it is audited.
        let checked = clean_name("name", name).and_then(|name| {
            password.map(check_password).transpose()?;
            Ok((name, clean_org_unit(org_unit)?))
        });
        let hash = match (&checked, password) {
            (Ok(_), Some(p)) => Some(hash_password(p)?),
            _ => None,
        };
        let mut draft = AuditDraft::new("operator.add");
        draft.detail = format!("role={role}");
        self.write(actor, draft, |w| {
            let (name, org_unit) = checked?;
            if operator_id(&w.conn, &name)?.is_some() {
                return Err(DomainError::InvalidInput { field: "name", message: "an operator with this name exists".into() }.into());
            }
            w.conn
                .prepare_cached("INSERT INTO operators (name, role, org_unit, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![name, role.as_str(), org_unit, hash, w.now.0])?;
            let id = w.conn.last_insert_rowid();
            w.audit.detail = format!("operator={id} role={role}");
            Ok(Operator { id, name: name.clone(), role, org_unit })
        })
    }

    /// Issues an API token for operator `name`, creating the operator with
    /// `role` if missing (bootstrap and automation). Returns the secret once.
    pub fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        ttl_secs: Option<i64>,
    ) -> Result<(Operator, String), StoreError> {
        self.issue_token(actor, name, role, ttl_secs).map(|(op, t)| (op, t.secret))
    }

    /// [`Store::create_token`], answering the token's ID and expiry too.
    /// A disabled operator gets no new token (409 `disabled`).
    pub fn issue_token(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        ttl_secs: Option<i64>,
    ) -> Result<(Operator, IssuedToken), StoreError> {
        let name = clean_name("name", name);
        self.write(actor, AuditDraft::new("token.create"), |w| {
            let name = name?;
            let op = match operator_id(&w.conn, &name)? {
                Some((id, Some(_))) => return Err(DomainError::Disabled { what: "operator", id }.into()),
                Some(_) => load_operator(&w.conn, &name)?.ok_or(StoreError::Corrupt("operator"))?.0,
                None => {
                    w.conn
                        .prepare_cached("INSERT INTO operators (name, role, created_at) VALUES (?1, ?2, ?3)")?
                        .execute(params![name, role.as_str(), w.now.0])?;
                    Operator { id: w.conn.last_insert_rowid(), name: name.clone(), role, org_unit: None }
                }
            };
            if op.role != role {
                return Err(DomainError::InvalidInput {
                    field: "role",
                    message: format!("operator {} exists with role {}", op.id, op.role),
                }
                .into());
            }
            let expires_at = ttl_secs.map(|t| Timestamp(w.now.0 + t));
            let (id, secret) = insert_token(&w.conn, Some(op.id), None, "cli", w.now, expires_at)?;
            w.audit.detail = format!("operator={} role={} token={id}", op.id, op.role);
            Ok((op, IssuedToken { id, secret, expires_at }))
        })
    }

    /// Checks an operator's password and issues a token valid for `ttl_secs`
    /// (the success is audited with the token's issue). A wrong name and a
    /// wrong password are the same refusal and take the same time (an
    /// unknown name is checked against a dummy hash); the refusal is *not*
    /// written here: it names the actor the caller audits it under
    /// (`operator:ID`, or `login:unknown-operator` — never the name typed,
    /// which may be anything), so a flood of failures can be audited in
    /// counted batches rather than one fsync each (the API does).
    pub fn login(
        &self,
        name: &str,
        password: &str,
        ttl_secs: i64,
    ) -> Result<Result<(Operator, String), LoginRefused>, StoreError> {
        let op = match self.check_password_of(name, password)? {
            Ok(op) => op,
            Err(refused) => return Ok(Err(refused)),
        };
        let mut draft = AuditDraft::new("operator.login");
        draft.detail = format!("operator={}", op.id);
        let actor = Actor::staff(format!("operator:{}", op.id));
        self.write(&actor, draft, |w| {
            let (_, secret) =
                insert_token(&w.conn, Some(op.id), None, "login", w.now, Some(Timestamp(w.now.0 + ttl_secs)))?;
            Ok(Ok((op.clone(), secret)))
        })
    }

    /// The one password check (`POST /login` and the web UI's sign-in):
    /// the enabled operator `name` if `password` is theirs. An unknown name
    /// is checked against a dummy hash, so both refusals take as long.
    pub(crate) fn check_password_of(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Result<Operator, LoginRefused>, StoreError> {
        let found = self.read(|c| load_operator(c, name.trim()))?;
        let (op, hash) = match found {
            Some((op, Some(hash))) => (Some(op), hash),
            _ => (None, dummy_hash().to_string()),
        };
        let parsed =
            argon2::password_hash::phc::PasswordHash::new(&hash).map_err(|_| StoreError::Corrupt("password hash"))?;
        let ok = argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(match op {
            Some(op) if ok => Ok(op),
            Some(op) => Err(LoginRefused { actor: Actor::staff(format!("operator:{}", op.id)) }),
            None => Err(LoginRefused { actor: Actor::staff("login:unknown-operator") }),
        })
    }

    /// Adds a door controller for `doors` with its own token (shown once).
    pub fn add_controller(
        &self,
        actor: &Actor,
        name: &str,
        doors: &[String],
    ) -> Result<(Controller, String), StoreError> {
        // Checked before the write, refused inside it, so a refusal is audited.
        let checked = clean_name("name", name).and_then(|name| {
            let doors: Vec<String> = doors.iter().map(|d| clean_name("door", d)).collect::<Result<_, _>>()?;
            if doors.is_empty() {
                return Err(DomainError::InvalidInput {
                    field: "door",
                    message: "a controller needs at least one door".into(),
                });
            }
            Ok((name, doors))
        });
        self.write(actor, AuditDraft::new("controller.add"), |w| {
            let (name, doors) = checked?;
            let exists: bool =
                w.conn.query_row("SELECT EXISTS (SELECT 1 FROM controllers WHERE name = ?1)", [&name], |r| r.get(0))?;
            if exists {
                return Err(DomainError::InvalidInput {
                    field: "name",
                    message: "a controller with this name exists".into(),
                }
                .into());
            }
            w.conn
                .prepare_cached("INSERT INTO controllers (name, created_at) VALUES (?1, ?2)")?
                .execute(params![name, w.now.0])?;
            let id = w.conn.last_insert_rowid();
            for d in &doors {
                w.conn
                    .prepare_cached("INSERT OR IGNORE INTO controller_doors (controller_id, door) VALUES (?1, ?2)")?
                    .execute(params![id, d])?;
            }
            // A door new to the store became a door record (a trigger, schema 8).
            w.change(crate::domain::Change::Rules { reach: true })?;
            let (_, secret) = insert_token(&w.conn, None, Some(id), "controller", w.now, None)?;
            w.audit.detail = format!("controller={id} doors={}", doors.len());
            let c = load_controller(&w.conn, id)?.ok_or(StoreError::Corrupt("controller"))?;
            Ok((c, secret))
        })
    }

    /// Who holds this token now (not revoked, not expired), if anyone,
    /// and when the token expires.
    pub fn principal(&self, token: &str, now: Timestamp) -> Result<Option<(Principal, Option<Timestamp>)>, StoreError> {
        self.principal_by_hash(&token_hash(token), now)
    }

    /// [`Store::principal`] for a token known by its SHA-256 (a stream that
    /// checks, now and then, that its caller may still watch).
    pub fn principal_by_hash(
        &self,
        hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<(Principal, Option<Timestamp>)>, StoreError> {
        self.read(|c| {
            let row: Option<(Option<i64>, Option<i64>, Option<i64>)> = c
                .prepare_cached(
                    "SELECT operator_id, controller_id, expires_at FROM tokens
                     WHERE hash = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)",
                )?
                .query_row(params![&hash[..], now.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let expires = row.and_then(|r| r.2).map(Timestamp);
            let found: Result<Option<Principal>, StoreError> = match row.map(|r| (r.0, r.1)) {
                Some((Some(op), _)) => {
                    let row = c
                        .prepare_cached("SELECT name FROM operators WHERE id = ?1 AND disabled_at IS NULL")?
                        .query_row([op], |r| r.get::<_, String>(0))
                        .optional()?;
                    match row {
                        Some(name) => Ok(load_operator(c, &name)?.map(|(o, _)| Principal::Operator(o))),
                        None => Ok(None),
                    }
                }
                Some((None, Some(ctl))) => Ok(load_controller(c, ctl)?.map(Principal::Controller)),
                _ => Ok(None),
            };
            Ok(found?.map(|p| (p, expires)))
        })
    }

    /// Revokes a token by its secret.
    pub fn revoke_token(&self, actor: &Actor, token: &str) -> Result<(), StoreError> {
        self.revoke_token_hash(actor, &token_hash(token))
    }

    /// Revokes a token by the SHA-256 of its secret.
    pub fn revoke_token_hash(&self, actor: &Actor, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.write(actor, AuditDraft::new("token.revoke"), |w| {
            let n = w
                .conn
                .prepare_cached("UPDATE tokens SET revoked_at = ?2 WHERE hash = ?1 AND revoked_at IS NULL")?
                .execute(params![&hash[..], w.now.0])?;
            if n == 0 {
                return Err(DomainError::NotFound { what: "token", id: "(secret)".into() }.into());
            }
            Ok(())
        })
    }

    /// A controller by ID.
    pub fn controller(&self, id: i64) -> Result<Controller, StoreError> {
        self.read(|c| load_controller(c, id))?
            .ok_or_else(|| DomainError::NotFound { what: "controller", id: id.to_string() }.into())
    }
}

/// A refused login (unknown operator or wrong password): who the audit
/// trail names for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRefused {
    /// `operator:ID` when the name is an enabled operator's, else
    /// `login:unknown-operator`.
    pub actor: Actor,
}

/// A token just issued: its ID, its secret (shown once) and its expiry.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// ID (for `idms token revoke --id`).
    pub id: i64,
    /// The bearer secret.
    pub secret: String,
    /// When it stops working (`None`: never).
    pub expires_at: Option<Timestamp>,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret is never printed.
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An operator as an administrator sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRecord {
    /// ID.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When set, the operator sees and touches only people of this unit.
    pub org_unit: Option<String>,
    /// Whether a password is set (`POST /login` works).
    pub password: bool,
    /// Added.
    pub created_at: Timestamp,
    /// When disabled; `None` while enabled.
    pub disabled_at: Option<Timestamp>,
}

/// A door controller as an administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerRecord {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The doors it controls.
    pub doors: Vec<String>,
    /// Added.
    pub created_at: Timestamp,
    /// When disabled; `None` while enabled.
    pub disabled_at: Option<Timestamp>,
}

/// Whether a token works now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Accepted.
    Active,
    /// Not revoked or expired, but its operator or controller is disabled:
    /// refused until enabled again.
    OwnerDisabled,
    /// Past its expiry.
    Expired,
    /// Revoked (logout, `token revoke`, rotation, a password change for login sessions).
    Revoked,
}

impl TokenState {
    /// The name shown for it: `active`, `owner_disabled`, `expired` or `revoked`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::OwnerDisabled => "owner_disabled",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// A token as listed: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// ID.
    pub id: i64,
    /// The operator it belongs to.
    pub operator_id: Option<i64>,
    /// The controller it belongs to.
    pub controller_id: Option<i64>,
    /// The operator's login name or the controller's name.
    pub owner: String,
    /// `login` (a password login), `cli` (`token create`) or `controller`.
    pub label: String,
    /// Issued.
    pub created_at: Timestamp,
    /// Expires (`None`: never).
    pub expires_at: Option<Timestamp>,
    /// Revoked.
    pub revoked_at: Option<Timestamp>,
    /// Whether it works now.
    pub state: TokenState,
}

/// Which tokens to list.
#[derive(Debug, Clone, Default)]
pub struct TokenFilter {
    /// Only this operator's (by login name).
    pub operator: Option<String>,
    /// Only this controller's.
    pub controller: Option<i64>,
    /// Hide revoked and expired tokens.
    pub active: bool,
    /// Only tokens with a larger ID (paging).
    pub after: Option<i64>,
    /// At most this many, by ID.
    pub limit: u32,
}

/// A controller's token rotation.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The controller.
    pub controller: ControllerRecord,
    /// The new token (its secret shown once).
    pub token: IssuedToken,
    /// How many earlier tokens were still working.
    pub old_tokens: usize,
    /// Until when they keep working (`None`: revoked now, or there were none).
    pub old_valid_until: Option<Timestamp>,
}

/// An operator's ID and `disabled_at`, disabled or not.
fn operator_id(conn: &Connection, name: &str) -> Result<Option<(i64, Option<i64>)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id, disabled_at FROM operators WHERE name = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

fn operator_records(conn: &Connection, id: Option<i64>) -> Result<Vec<OperatorRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, role, org_unit, password_hash IS NOT NULL, created_at, disabled_at FROM operators
         WHERE ?1 IS NULL OR id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, bool>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, Option<i64>>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, role, org_unit, password, created, disabled) = row?;
        let role = Role::from_name(&role).map_err(|_| StoreError::Corrupt("role"))?;
        out.push(OperatorRecord {
            id,
            name,
            role,
            org_unit,
            password,
            created_at: Timestamp(created),
            disabled_at: disabled.map(Timestamp),
        });
    }
    Ok(out)
}

fn operator_record(conn: &Connection, id: i64) -> Result<OperatorRecord, StoreError> {
    operator_records(conn, Some(id))?.pop().ok_or(StoreError::Corrupt("operator"))
}

fn controller_records(conn: &Connection, id: Option<i64>) -> Result<Vec<ControllerRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, created_at, disabled_at FROM controllers WHERE ?1 IS NULL OR id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, Option<i64>>(3)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut doors = conn.prepare_cached("SELECT door FROM controller_doors WHERE controller_id = ?1 ORDER BY door")?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, name, created, disabled) in rows {
        let doors = doors.query_map([id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        out.push(ControllerRecord {
            id,
            name,
            doors,
            created_at: Timestamp(created),
            disabled_at: disabled.map(Timestamp),
        });
    }
    Ok(out)
}

fn controller_record(conn: &Connection, id: i64) -> Result<ControllerRecord, StoreError> {
    controller_records(conn, Some(id))?
        .pop()
        .ok_or_else(|| DomainError::NotFound { what: "controller", id: id.to_string() }.into())
}

/// Tokens that still work or would work again once their owner is enabled.
const LIVE: &str = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)";

/// Whose tokens.
#[derive(Clone, Copy)]
enum Owner {
    Operator(i64),
    Controller(i64),
}

impl Owner {
    fn sql(self, set: &str) -> (String, i64) {
        let (column, id) = match self {
            Self::Operator(id) => ("operator_id", id),
            Self::Controller(id) => ("controller_id", id),
        };
        (format!("UPDATE tokens SET {set} WHERE {column} = ?1 AND {LIVE}"), id)
    }
}

/// Revokes every live token of `owner`; answers how many.
fn revoke_live(conn: &Connection, owner: Owner, now: Timestamp) -> Result<usize, StoreError> {
    let (sql, id) = owner.sql("revoked_at = ?2");
    Ok(conn.prepare_cached(&sql)?.execute(params![id, now.0])?)
}

impl Store {
    /// Every operator, enabled or not, by ID.
    pub fn operators(&self) -> Result<Vec<OperatorRecord>, StoreError> {
        self.read(|c| operator_records(c, None))
    }

    /// Disables or enables operator `name`. A disabled operator's tokens
    /// are all refused (none is revoked) and they cannot log in; enabling
    /// makes their unrevoked, unexpired tokens work again. The last
    /// enabled admin without an org unit cannot be disabled (409
    /// `last_admin`), checked inside this write so two concurrent disables
    /// cannot both pass. Doing what is already done is not an error.
    pub fn set_operator_enabled(&self, actor: &Actor, name: &str, enabled: bool) -> Result<OperatorRecord, StoreError> {
        let action = if enabled { "operator.enable" } else { "operator.disable" };
        self.write(actor, AuditDraft::new(action), |w| {
            let (id, disabled) = operator_id(&w.conn, name.trim())?.ok_or(DomainError::UnknownOperator)?;
            w.audit.detail = format!("operator={id}");
            let op = operator_record(&w.conn, id)?;
            if enabled == disabled.is_none() {
                w.audit.detail.push_str(" unchanged");
                return Ok(op);
            }
            if !enabled && op.role == Role::Admin && op.org_unit.is_none() {
                let others: i64 = w.conn.query_row(
                    "SELECT COUNT(*) FROM operators
                     WHERE role = 'admin' AND org_unit IS NULL AND disabled_at IS NULL AND id <> ?1",
                    [id],
                    |r| r.get(0),
                )?;
                if others == 0 {
                    return Err(DomainError::LastAdmin { operator: id }.into());
                }
            }
            w.conn
                .prepare_cached("UPDATE operators SET disabled_at = ?2 WHERE id = ?1")?
                .execute(params![id, (!enabled).then_some(w.now.0)])?;
            let live: i64 = w.conn.query_row(
                &format!("SELECT COUNT(*) FROM tokens WHERE operator_id = ?1 AND {LIVE}"),
                params![id, w.now.0],
                |r| r.get(0),
            )?;
            w.audit.detail.push_str(&format!(" tokens={live}"));
            operator_record(&w.conn, id)
        })
    }

    /// Sets operator `name`'s password (at least 10 characters) and ends
    /// their password sessions (tokens from `POST /login`); tokens from
    /// `token create` stay. Answers the operator and how many sessions ended.
    pub fn set_operator_password(
        &self,
        actor: &Actor,
        name: &str,
        password: &str,
    ) -> Result<(OperatorRecord, usize), StoreError> {
        let checked = check_password(password);
        let hash = if checked.is_ok() { Some(hash_password(password)?) } else { None };
        self.write(actor, AuditDraft::new("operator.password"), |w| {
            checked?;
            let (id, _) = operator_id(&w.conn, name.trim())?.ok_or(DomainError::UnknownOperator)?;
            w.conn
                .prepare_cached("UPDATE operators SET password_hash = ?2 WHERE id = ?1")?
                .execute(params![id, hash])?;
            let ended = w
                .conn
                .prepare_cached(&format!(
                    "UPDATE tokens SET revoked_at = ?2 WHERE operator_id = ?1 AND label = 'login' AND {LIVE}"
                ))?
                .execute(params![id, w.now.0])?;
            w.audit.detail = format!("operator={id} sessions_ended={ended}");
            Ok((operator_record(&w.conn, id)?, ended))
        })
    }

    /// Every door controller, enabled or not, by ID.
    pub fn controllers(&self) -> Result<Vec<ControllerRecord>, StoreError> {
        self.read(|c| controller_records(c, None))
    }

    /// Disables or enables a controller: while disabled its tokens are all
    /// refused (none is revoked). Doing what is already done is not an error.
    pub fn set_controller_enabled(
        &self,
        actor: &Actor,
        id: i64,
        enabled: bool,
    ) -> Result<ControllerRecord, StoreError> {
        let action = if enabled { "controller.enable" } else { "controller.disable" };
        self.write(actor, AuditDraft::new(action), |w| {
            let c = controller_record(&w.conn, id)?;
            w.audit.detail = format!("controller={id}");
            if enabled == c.disabled_at.is_none() {
                w.audit.detail.push_str(" unchanged");
                return Ok(c);
            }
            w.conn
                .prepare_cached("UPDATE controllers SET disabled_at = ?2 WHERE id = ?1")?
                .execute(params![id, (!enabled).then_some(w.now.0)])?;
            controller_record(&w.conn, id)
        })
    }

    /// Issues a controller a new token. Its earlier tokens keep working for
    /// `overlap_secs` more (never longer than they would have), so the
    /// controller can be re-provisioned without going dark; `0` revokes
    /// them now (a compromised token).
    pub fn rotate_controller_token(&self, actor: &Actor, id: i64, overlap_secs: i64) -> Result<Rotation, StoreError> {
        self.write(actor, AuditDraft::new("controller.rotate_token"), |w| {
            let controller = controller_record(&w.conn, id)?;
            let until = Timestamp(w.now.0 + overlap_secs.max(0));
            let old = if overlap_secs <= 0 {
                revoke_live(&w.conn, Owner::Controller(id), w.now)?
            } else {
                // Live tokens end at `until` at the latest (never later than they would have).
                let (sql, id) = Owner::Controller(id).sql("expires_at = MIN(COALESCE(expires_at, ?3), ?3)");
                w.conn.prepare_cached(&sql)?.execute(params![id, w.now.0, until.0])?
            };
            let (token_id, secret) = insert_token(&w.conn, None, Some(id), "controller", w.now, None)?;
            w.audit.detail =
                format!("controller={id} token={token_id} old_tokens={old} overlap_s={}", overlap_secs.max(0));
            Ok(Rotation {
                controller,
                token: IssuedToken { id: token_id, secret, expires_at: None },
                old_tokens: old,
                old_valid_until: (overlap_secs > 0 && old > 0).then_some(until),
            })
        })
    }

    /// Tokens by ID (never their secret or hash).
    pub fn tokens(&self, f: &TokenFilter) -> Result<Vec<TokenRecord>, StoreError> {
        let now = self.now();
        self.read(|c| {
            let operator = match f.operator.as_deref() {
                Some(name) => Some(operator_id(c, name.trim())?.ok_or(DomainError::UnknownOperator)?.0),
                None => None,
            };
            if let Some(id) = f.controller {
                controller_record(c, id)?;
            }
            let mut stmt = c.prepare_cached(
                "SELECT t.id, t.operator_id, t.controller_id, COALESCE(o.name, c.name), t.label, t.created_at,
                        t.expires_at, t.revoked_at, COALESCE(o.disabled_at, c.disabled_at) IS NOT NULL
                 FROM tokens t
                 LEFT JOIN operators o ON o.id = t.operator_id
                 LEFT JOIN controllers c ON c.id = t.controller_id
                 WHERE t.id > ?1 AND (?2 IS NULL OR t.operator_id = ?2) AND (?3 IS NULL OR t.controller_id = ?3)
                   AND (?4 = 0 OR (t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?5)))
                 ORDER BY t.id LIMIT ?6",
            )?;
            let rows =
                stmt.query_map(params![f.after.unwrap_or(0), operator, f.controller, f.active, now.0, f.limit], |r| {
                    let expires_at = r.get::<_, Option<i64>>(6)?.map(Timestamp);
                    let revoked_at = r.get::<_, Option<i64>>(7)?.map(Timestamp);
                    let owner_disabled: bool = r.get(8)?;
                    let state = if revoked_at.is_some() {
                        TokenState::Revoked
                    } else if expires_at.is_some_and(|e| e <= now) {
                        TokenState::Expired
                    } else if owner_disabled {
                        TokenState::OwnerDisabled
                    } else {
                        TokenState::Active
                    };
                    Ok(TokenRecord {
                        id: r.get(0)?,
                        operator_id: r.get(1)?,
                        controller_id: r.get(2)?,
                        owner: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                        label: r.get(4)?,
                        created_at: Timestamp(r.get(5)?),
                        expires_at,
                        revoked_at,
                        state,
                    })
                })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Revokes one token by its ID (no secret needed).
    pub fn revoke_token_id(&self, actor: &Actor, id: i64) -> Result<(), StoreError> {
        let mut draft = AuditDraft::new("token.revoke");
        draft.detail = format!("token={id}");
        self.write(actor, draft, |w| {
            let n = w
                .conn
                .prepare_cached("UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")?
                .execute(params![id, w.now.0])?;
            if n == 0 {
                return Err(DomainError::NotFound { what: "unrevoked token", id: id.to_string() }.into());
            }
            Ok(())
        })
    }

    /// Revokes every live (unrevoked, unexpired) token of operator `name`;
    /// answers how many.
    pub fn revoke_operator_tokens(&self, actor: &Actor, name: &str) -> Result<usize, StoreError> {
        self.write(actor, AuditDraft::new("token.revoke"), |w| {
            let (id, _) = operator_id(&w.conn, name.trim())?.ok_or(DomainError::UnknownOperator)?;
            let n = revoke_live(&w.conn, Owner::Operator(id), w.now)?;
            w.audit.detail = format!("operator={id} count={n}");
            Ok(n)
        })
    }

    /// Revokes every live (unrevoked, unexpired) token of a controller;
    /// answers how many.
    pub fn revoke_controller_tokens(&self, actor: &Actor, id: i64) -> Result<usize, StoreError> {
        self.write(actor, AuditDraft::new("token.revoke"), |w| {
            w.audit.detail = format!("controller={id}");
            controller_record(&w.conn, id)?;
            let n = revoke_live(&w.conn, Owner::Controller(id), w.now)?;
            w.audit.detail = format!("controller={id} count={n}");
            Ok(n)
        })
    }
}

/// A valid argon2 hash of a random secret, computed once: unknown names are
/// checked against it so they take as long as known ones.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not-a-password-anyone-knows-0123456789").unwrap_or_default())
}

fn hash_password(p: &str) -> Result<String, StoreError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| StoreError::Io(format!("no randomness from the OS: {e}")))?;
    argon2::Argon2::default()
        .hash_password_with_salt(p.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| StoreError::Corrupt("password hash"))
}
