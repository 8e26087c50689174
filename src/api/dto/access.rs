//! Operators, door controllers and their tokens; login.

use utoipa::ToSchema;

use crate::domain::Timestamp;
use crate::store::auth as store;

/// What an operator may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
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
    /// An identity directory's account: reaches `/scim/v2` only.
    Provisioner,
}

impl From<store::Role> for Role {
    fn from(r: store::Role) -> Self {
        match r {
            store::Role::Viewer => Self::Viewer,
            store::Role::Enroller => Self::Enroller,
            store::Role::Manager => Self::Manager,
            store::Role::Eraser => Self::Eraser,
            store::Role::Admin => Self::Admin,
            store::Role::Provisioner => Self::Provisioner,
        }
    }
}

/// A badge-office operator, as just added.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct Operator {
    /// ID.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When set, the operator sees and touches only people of this unit; `null`: every unit.
    pub org_unit: Option<String>,
}

impl From<store::Operator> for Operator {
    fn from(o: store::Operator) -> Self {
        Self { id: o.id, name: o.name, role: o.role.into(), org_unit: o.org_unit }
    }
}

/// An operator, as an administrator sees them.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct OperatorView {
    /// ID.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The unit they are held to, if any.
    pub org_unit: Option<String>,
    /// Whether a password is set (they can log in).
    pub password: bool,
    /// Added (RFC 3339).
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Disabled since (RFC 3339); absent while enabled.
    #[schema(value_type = Option<String>)]
    pub disabled_at: Option<Timestamp>,
}

impl From<store::OperatorRecord> for OperatorView {
    fn from(o: store::OperatorRecord) -> Self {
        Self {
            id: o.id,
            name: o.name,
            role: o.role.into(),
            org_unit: o.org_unit,
            password: o.password,
            created_at: o.created_at,
            disabled_at: o.disabled_at,
        }
    }
}

/// A controller and its token (shown once).
#[derive(serde::Serialize, ToSchema)]
pub struct ControllerCreated {
    /// ID (its feed is `/api/v1/controllers/{id}/credentials`).
    pub id: i64,
    /// Name.
    pub name: String,
    /// Doors.
    pub doors: Vec<String>,
    /// Bearer token for the door-controller API (shown once).
    pub token: String,
}

impl From<(store::Controller, String)> for ControllerCreated {
    fn from((c, token): (store::Controller, String)) -> Self {
        Self { id: c.id, name: c.name, doors: c.doors, token }
    }
}

impl std::fmt::Debug for ControllerCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Holds a token: never printed.
        f.debug_struct("ControllerCreated").field("id", &self.id).finish_non_exhaustive()
    }
}

/// A password set.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct PasswordSet {
    /// The operator.
    pub operator: OperatorView,
    /// How many of their password sessions (login tokens) ended.
    pub sessions_ended: usize,
}

/// How many tokens were revoked.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Revoked {
    /// Count.
    pub revoked: usize,
}

/// A door controller, as an administrator sees it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ControllerView {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Its doors.
    pub doors: Vec<String>,
    /// Added (RFC 3339).
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Disabled since (RFC 3339); absent while enabled.
    #[schema(value_type = Option<String>)]
    pub disabled_at: Option<Timestamp>,
    /// Its last request to a door route (RFC 3339; `null`: none known).
    /// Filled by `GET /api/v1/controllers`.
    #[schema(value_type = Option<String>)]
    pub last_contact: Option<Timestamp>,
    /// When its last upload of offline decisions arrived.
    #[schema(value_type = Option<String>)]
    pub last_upload: Option<Timestamp>,
    /// Its clock minus the service's, in seconds, as last measured (from
    /// an upload's `sent_at`); a controller more than 600 s off stamps
    /// events the service flags `clock_ahead`.
    pub skew_secs: Option<i64>,
    /// When the skew was measured.
    #[schema(value_type = Option<String>)]
    pub skew_measured_at: Option<Timestamp>,
}

impl From<store::ControllerRecord> for ControllerView {
    fn from(c: store::ControllerRecord) -> Self {
        Self {
            id: c.id,
            name: c.name,
            doors: c.doors,
            created_at: c.created_at,
            disabled_at: c.disabled_at,
            last_contact: None,
            last_upload: None,
            skew_secs: None,
            skew_measured_at: None,
        }
    }
}

impl ControllerView {
    /// With what the service knows of its contact.
    #[must_use]
    pub fn with_contact(mut self, c: Option<&crate::store::events::Contact>) -> Self {
        if let Some(c) = c {
            self.last_contact = c.last_contact;
            self.last_upload = c.upload.map(|u| u.last_upload);
            self.skew_secs = c.upload.and_then(|u| u.skew_secs);
            self.skew_measured_at = c.upload.and_then(|u| u.skew_at);
        }
        self
    }
}

/// A controller's new token.
#[derive(serde::Serialize, ToSchema)]
pub struct Rotated {
    /// The controller.
    pub controller: ControllerView,
    /// The new token's ID.
    pub token_id: i64,
    /// The new bearer token (shown once).
    pub token: String,
    /// How many earlier tokens were still working.
    pub old_tokens: usize,
    /// Until when they keep working (RFC 3339); absent when revoked now or none.
    #[schema(value_type = Option<String>)]
    pub old_valid_until: Option<Timestamp>,
}

impl From<store::Rotation> for Rotated {
    fn from(r: store::Rotation) -> Self {
        Self {
            controller: r.controller.into(),
            token_id: r.token.id,
            token: r.token.secret,
            old_tokens: r.old_tokens,
            old_valid_until: r.old_valid_until,
        }
    }
}

impl std::fmt::Debug for Rotated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Holds a token: never printed.
        f.debug_struct("Rotated").field("token_id", &self.token_id).finish_non_exhaustive()
    }
}

/// A token (never its secret or hash).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct TokenView {
    /// ID.
    pub id: i64,
    /// The operator it belongs to.
    pub operator_id: Option<i64>,
    /// The controller it belongs to.
    pub controller_id: Option<i64>,
    /// The operator's login name or the controller's name.
    pub owner: String,
    /// `login`, `cli` (`token create`) or `controller`.
    pub label: String,
    /// Issued (RFC 3339).
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Expires (RFC 3339); absent: never.
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Timestamp>,
    /// Revoked (RFC 3339).
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<Timestamp>,
    /// `active`, `owner_disabled` (refused until its owner is enabled), `expired` or `revoked`.
    pub state: String,
}

impl From<store::TokenRecord> for TokenView {
    fn from(t: store::TokenRecord) -> Self {
        Self {
            id: t.id,
            operator_id: t.operator_id,
            controller_id: t.controller_id,
            owner: t.owner,
            label: t.label,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            state: t.state.as_str().into(),
        }
    }
}

/// A new token.
#[derive(serde::Serialize, ToSchema)]
pub struct TokenResponse {
    /// The bearer token (shown once).
    pub token: String,
    /// The operator's role.
    pub role: Role,
    /// Seconds until it expires.
    pub expires_in: i64,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Holds a token: never printed.
        f.debug_struct("TokenResponse").finish_non_exhaustive()
    }
}
