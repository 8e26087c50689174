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

/// What an operator may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
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
}

impl Role {
    /// Every role, lowest first.
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
        }
    }

    /// Parses a role name.
    pub fn from_name(s: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim()).ok_or(DomainError::InvalidInput {
            field: "role",
            message: "expected viewer, enroller, manager, eraser or admin".into(),
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A badge-office operator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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

impl Principal {
    /// The audit trail's name for this principal.
    #[must_use]
    pub fn actor(&self) -> Actor {
        match self {
            Self::Operator(o) => Actor::staff(format!("operator:{}", o.id)),
            Self::Controller(c) => Actor::staff(format!("controller:{}", c.id)),
        }
    }
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
) -> Result<String, StoreError> {
    let secret = new_secret(if operator.is_some() { "idms_op_" } else { "idms_ct_" })?;
    conn.prepare_cached(
        "INSERT INTO tokens (hash, operator_id, controller_id, label, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![&token_hash(&secret)[..], operator, controller, label, now.0, expires.map(|t| t.0)])?;
    Ok(secret)
}

impl Store {
    /// Adds an operator (`password` enables `POST /login`).
    pub fn add_operator(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        org_unit: Option<&str>,
        password: Option<&str>,
    ) -> Result<Operator, StoreError> {
        let name = clean_name("name", name)?;
        let hash = match password {
            Some(p) if p.chars().count() < 10 => {
                return Err(DomainError::InvalidInput {
                    field: "password",
                    message: "must be at least 10 characters".into(),
                }
                .into());
            }
            Some(p) => Some(hash_password(p)?),
            None => None,
        };
        let mut draft = AuditDraft::new("operator.add");
        draft.detail = format!("role={role}");
        self.write(actor, draft, |w| {
            if load_operator(&w.conn, &name)?.is_some() {
                return Err(DomainError::InvalidInput { field: "name", message: "an operator with this name exists".into() }.into());
            }
            w.conn
                .prepare_cached("INSERT INTO operators (name, role, org_unit, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![name, role.as_str(), org_unit, hash, w.now.0])?;
            let id = w.conn.last_insert_rowid();
            w.audit.detail = format!("operator={id} role={role}");
            Ok(Operator { id, name: name.clone(), role, org_unit: org_unit.map(str::to_string) })
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
        let name = clean_name("name", name)?;
        self.write(actor, AuditDraft::new("token.create"), |w| {
            let op = match load_operator(&w.conn, &name)? {
                Some((op, _)) if op.role != role => {
                    return Err(DomainError::InvalidInput {
                        field: "role",
                        message: format!("operator {name} exists with role {}", op.role),
                    }
                    .into());
                }
                Some((op, _)) => op,
                None => {
                    w.conn
                        .prepare_cached("INSERT INTO operators (name, role, created_at) VALUES (?1, ?2, ?3)")?
                        .execute(params![name, role.as_str(), w.now.0])?;
                    Operator { id: w.conn.last_insert_rowid(), name: name.clone(), role, org_unit: None }
                }
            };
            let expires = ttl_secs.map(|t| Timestamp(w.now.0 + t));
            let secret = insert_token(&w.conn, Some(op.id), None, "cli", w.now, expires)?;
            w.audit.detail = format!("operator={} role={}", op.id, op.role);
            Ok((op, secret))
        })
    }

    /// Checks an operator's password and issues a token valid for `ttl_secs`.
    /// A wrong name and a wrong password are the same refusal, take the
    /// same time (an unknown name is checked against a dummy hash), and are
    /// both audited — without the name typed, which may be anything.
    pub fn login(&self, name: &str, password: &str, ttl_secs: i64) -> Result<(Operator, String), StoreError> {
        let found = self.read(|c| load_operator(c, name.trim()))?;
        let (op, hash) = match found {
            Some((op, Some(hash))) => (Some(op), hash),
            _ => (None, dummy_hash().to_string()),
        };
        let parsed =
            argon2::password_hash::phc::PasswordHash::new(&hash).map_err(|_| StoreError::Corrupt("password hash"))?;
        let ok = argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        let mut draft = AuditDraft::new("operator.login");
        let actor = match &op {
            Some(op) => {
                draft.detail = format!("operator={}", op.id);
                Actor::staff(format!("operator:{}", op.id))
            }
            None => Actor::staff("login:unknown-operator"),
        };
        match op {
            Some(op) if ok => self.write(&actor, draft, |w| {
                let secret =
                    insert_token(&w.conn, Some(op.id), None, "login", w.now, Some(Timestamp(w.now.0 + ttl_secs)))?;
                Ok((op.clone(), secret))
            }),
            _ => self.write(&actor, draft, |_| {
                Err(DomainError::InvalidInput {
                    field: "credentials",
                    message: "unknown operator or wrong password".into(),
                }
                .into())
            }),
        }
    }

    /// Adds a door controller for `doors` with its own token (shown once).
    pub fn add_controller(
        &self,
        actor: &Actor,
        name: &str,
        doors: &[String],
    ) -> Result<(Controller, String), StoreError> {
        let name = clean_name("name", name)?;
        let doors: Vec<String> = doors.iter().map(|d| clean_name("door", d)).collect::<Result<_, _>>()?;
        if doors.is_empty() {
            return Err(DomainError::InvalidInput {
                field: "door",
                message: "a controller needs at least one door".into(),
            }
            .into());
        }
        self.write(actor, AuditDraft::new("controller.add"), |w| {
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
            let secret = insert_token(&w.conn, None, Some(id), "controller", w.now, None)?;
            w.audit.detail = format!("controller={id} doors={}", doors.len());
            let c = load_controller(&w.conn, id)?.ok_or(StoreError::Corrupt("controller"))?;
            Ok((c, secret))
        })
    }

    /// Who holds this token now (not revoked, not expired), if anyone,
    /// and when the token expires.
    pub fn principal(&self, token: &str, now: Timestamp) -> Result<Option<(Principal, Option<Timestamp>)>, StoreError> {
        let hash = token_hash(token);
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
