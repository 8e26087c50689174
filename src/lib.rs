//! IDMS: binds people to the credential UIDs of their access cards, answers
//! door controllers, and carries every person through deactivation, deletion,
//! restore and expunge — never recycling a card until its holder is expunged.
//!
//! Layers (each only calls the ones listed after it): [`store`] →
//! [`index`] → [`domain`]. See `ARCHITECTURE.md`.

/// `Debug` that names the type and none of its fields, for request bodies
/// and queries that may carry personal data (names, emails, a search term
/// that is someone's name, a password), so a log line or a panic never
/// prints them.
macro_rules! redacted_debug {
    ($($t:ty),* $(,)?) => {
        $(impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        })*
    };
}

pub mod api;
pub mod clock;
pub mod config;
pub mod directory;
pub mod disk;
pub mod domain;
pub mod index;
pub mod jobs;
pub mod net;
pub mod ops;
pub mod readers;
pub mod scim;
pub mod service;
pub mod signals;
pub mod store;
pub mod ui;
