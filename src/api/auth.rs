//! Bearer-token authentication: who the caller is, as the rule layer's
//! [`Acting`] (what they may do is decided in [`crate::ops`]).
//!
//! A token's SHA-256 is looked up in a small cache (entries live two
//! seconds, so a revocation, a disabled operator or controller, or a new
//! token made by the CLI — another process — takes effect within that),
//! falling back to the store on a miss. The API's own revocations and
//! disables empty the cache at once ([`TokenCache::clear`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};

use crate::api::{AppState, error::ApiError};
use crate::domain::Timestamp;
use crate::ops::{Acting, OpsError};
use crate::store::Role;
use crate::store::auth::token_hash;

/// How long a looked-up token is trusted without asking the store again:
/// the bound on how late a change made by another process is in force.
pub const TTL: Duration = Duration::from_secs(2);
const MAX_ENTRIES: usize = 10_000;

/// A known token: who holds it, when it expires, when it was looked up.
type Entry = (Arc<Acting>, Option<Timestamp>, Instant);

/// Recently seen *valid* tokens (SHA-256 → principal). Unknown tokens are
/// not cached, so a flood of random tokens cannot push valid ones out;
/// expiry is checked on every hit against the store's clock.
#[derive(Debug, Default)]
pub struct TokenCache {
    map: RwLock<HashMap<[u8; 32], Entry>>,
    /// Bumped by every [`TokenCache::clear`]: a look-up that started before
    /// a clear may have read what the clear's change ended, so its answer
    /// is not cached.
    generation: AtomicU64,
}

impl TokenCache {
    fn get(&self, h: &[u8; 32], now: Timestamp) -> Option<Arc<Acting>> {
        let map = self.map.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(h)
            .filter(|(_, expires, at)| at.elapsed() < TTL && expires.is_none_or(|e| e > now))
            .map(|(p, _, _)| p.clone())
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn put(&self, h: [u8; 32], p: Arc<Acting>, expires: Option<Timestamp>, generation: u64) {
        let mut map = self.map.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.generation() != generation {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (_, _, at)| at.elapsed() < TTL);
        }
        if map.len() < MAX_ENTRIES {
            map.insert(h, (p, expires, Instant::now()));
        }
    }

    /// Drops a token at once (logout).
    pub fn forget(&self, h: &[u8; 32]) {
        self.map.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(h);
    }

    /// Drops every entry at once, after a change that may end tokens
    /// (a disable, a revocation, a rotation): the next request of each
    /// token asks the store again.
    pub fn clear(&self) {
        let mut map = self.map.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.clear();
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
        if let Some(p) = state.tokens.get(&h, now) {
            return Ok(Auth(p, h));
        }
        let generation = state.tokens.generation();
        let store = state.store.clone();
        let token = token.to_string();
        let found = tokio::task::spawn_blocking(move || store.principal(&token, now))
            .await
            .map_err(|_| ApiError::internal())??;
        let (p, expires) = found.ok_or_else(ApiError::unauthorized)?;
        let p = Arc::new(Acting::from(p));
        state.tokens.put(h, p.clone(), expires, generation);
        Ok(Auth(p, h))
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
