//! IDMS: binds people to the credential UIDs of their access cards, answers
//! door controllers, and carries every person through deactivation, deletion,
//! restore and expunge — never recycling a card until its holder is expunged.
//!
//! Layers (each only calls the ones listed after it): [`store`] →
//! [`index`] → [`domain`]. See `ARCHITECTURE.md`.

pub mod api;
pub mod clock;
pub mod config;
pub mod domain;
pub mod index;
pub mod jobs;
pub mod net;
pub mod ops;
pub mod readers;
pub mod service;
pub mod signals;
pub mod store;
