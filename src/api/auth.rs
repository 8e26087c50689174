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

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::FromRequestParts;
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

/// The authenticated caller, and the hash of the token it used.
#[derive(Debug, Clone)]
pub struct Auth(pub Arc<Acting>, pub [u8; 32]);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(ApiError::unauthorized)?;
        let h = token_hash(token);
        let now = state.store.now();
        match state.store.token_holder(&h, now)? {
            Some((p, _)) => Ok(Auth(state.tokens.get(&p), h)),
            None => Err(ApiError::unauthorized()),
        }
    }
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
