//! Bearer-token authentication: who the caller is, as the rule layer's
//! [`Acting`] (what they may do is decided in [`crate::ops`]).
//!
//! A token's SHA-256 is looked up in the store's token set
//! ([`crate::store::TokenSet`]), which holds every live token and enabled
//! holder in memory: an unknown token is refused without touching SQLite,
//! and so is a revoked or expired one or one whose holder is disabled. The
//! set takes in the API's own changes before they are answered, and other
//! processes' (the CLI) through the change-log tailer, well within the
//! README's bound.
//!
//! A request that sends a token authenticating no one is answered 401 and
//! counted against its client address; past the address's free failures
//! it gets 429 `too_many_attempts` with a growing `Retry-After`
//! ([`super::throttle`]) — a valid token from the same address still works.
//! Each failure is queued for the refusal auditor (counted entries, never
//! one write per attempt); the token itself is never logged or audited.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{header, request::Parts};

use crate::api::{AppState, error::ApiError};
use crate::ops::{Acting, OpsError};
use crate::store::auth::token_hash;
use crate::store::{Principal, Role};

/// Each holder's [`Acting`], made once per version of the holder the token
/// set hands out, so an authenticated request allocates nothing for it.
#[derive(Debug, Default)]
pub struct Actings {
    /// Keyed by the address of the token set's `Arc<Principal>`, which the
    /// entry holds, so the address is not reused while the entry lives.
    map: RwLock<HashMap<usize, Made>>,
}

/// A holder as the token set handed it out, and its `Acting`.
type Made = (Arc<Principal>, Arc<Acting>);

/// Entries past this many drop those the token set no longer holds.
const ACTINGS_PRUNE: usize = 1024;

impl Actings {
    fn get(&self, p: &Arc<Principal>) -> Arc<Acting> {
        let key = Arc::as_ptr(p) as usize;
        if let Some((_, a)) = self.map.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return a.clone();
        }
        let a = Arc::new(Acting::from((**p).clone()));
        let mut map = self.map.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= ACTINGS_PRUNE {
            // Held only here: the set has replaced or dropped that holder.
            map.retain(|_, (p, _)| Arc::strong_count(p) > 1);
        }
        map.entry(key).or_insert_with(|| (p.clone(), a)).1.clone()
    }
}

/// The client's address as the limits key it ([`super::throttle::client_key`]),
/// when the server passes it on (`into_make_service_with_connect_info`);
/// `None` in-process, where per-address limits do not apply.
#[derive(Debug, Clone, Copy)]
pub struct Client(pub Option<IpAddr>);

impl Client {
    /// The client of a request being extracted.
    #[must_use]
    pub fn of(parts: &Parts) -> Self {
        Self(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| super::throttle::client_key(c.0.ip())))
    }

    /// How the audit trail names it.
    #[must_use]
    pub fn label(&self) -> String {
        self.0.map_or_else(|| "an unknown address".to_string(), |a| a.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

/// The answer to a bearer token that authenticates no one: counted against
/// the client's address, audited in counted batches, 401 — or 429 while
/// the address is locked.
fn bearer_failed(state: &AppState, client: Client, now: crate::domain::Timestamp) -> ApiError {
    let what = format!("bearer token from {}", client.label());
    if let Some(a) = client.0 {
        if let Some(secs) = state.throttle.bearer.locked(&a, None, now) {
            state.audit_failure("anonymous", what, "too_many_attempts");
            return ApiError::too_many_attempts(secs);
        }
        state.throttle.bearer.fail(a, now);
    }
    state.audit_failure("anonymous", what, "unauthorized");
    ApiError::unauthorized()
}

/// The authenticated caller, and the hash of the token it used.
#[derive(Debug, Clone)]
pub struct Auth(pub Arc<Acting>, pub [u8; 32]);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = authenticate(parts, state)?;
        auth.0.require_not_provisioner().map_err(|e| auth.refused(e))?;
        Ok(auth)
    }
}

/// The holder of the request's bearer token, whoever it is — a provisioner
/// too: [`Auth`] (every route but SCIM's) refuses those; the SCIM API
/// asks for nothing else.
pub fn authenticate(parts: &Parts, state: &AppState) -> Result<Auth, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized());
    };
    let now = state.store.now();
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256);
    if let Some(token) = token {
        let h = token_hash(token);
        if let Some((p, _)) = state.store.token_holder(&h, now)? {
            return Ok(Auth(state.tokens.get(&p), h));
        }
    }
    Err(bearer_failed(state, Client::of(parts), now))
}

/// An operator whose role is at least `Role::ALL[MIN]`, checked while the
/// request's head is extracted — before any body or query is parsed, so a
/// caller without the role always gets 403, whatever it sent.
#[derive(Debug, Clone)]
pub struct Staff<const MIN: u8> {
    inner: Auth,
}

impl<const MIN: u8> Staff<MIN> {
    /// The authenticated caller.
    #[must_use]
    pub fn into_auth(self) -> Auth {
        self.inner
    }
}

impl<const MIN: u8> std::ops::Deref for Staff<MIN> {
    type Target = Auth;
    fn deref(&self) -> &Auth {
        &self.inner
    }
}

impl<const MIN: u8> FromRequestParts<AppState> for Staff<MIN> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let inner = Auth::from_request_parts(parts, state).await?;
        let min = Role::ALL.get(usize::from(MIN)).copied().unwrap_or(Role::Admin);
        inner.0.require(min).map_err(|e| inner.refused(e))?;
        Ok(Self { inner })
    }
}

impl Auth {
    /// The caller, for the rule layer (a copy, for work moved to another
    /// thread).
    #[must_use]
    pub fn acting(&self) -> Acting {
        (*self.0).clone()
    }

    /// The caller, for the rule layer, borrowed (the door hot path).
    #[must_use]
    pub fn as_acting(&self) -> &Acting {
        &self.0
    }

    /// The answer to a refusal of the rule layer: a role, scope or door
    /// refusal is queued for the audit trail under this caller.
    #[must_use]
    pub fn refused(&self, e: OpsError) -> ApiError {
        ApiError::from_ops(e, &self.0.actor())
    }
}
