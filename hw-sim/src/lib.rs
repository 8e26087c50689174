//! Simulated hardware for IDMS tests and demos.
//!
//! Virtual contactless cards answer APDUs the way real ones do, so the
//! service's real PC/SC driver can be driven through pcscd and the vsmartcard
//! `vpcd` driver (issue 3/5); OSDP devices follow in issue 4/5. This first
//! module models a card and the vpcd wire framing.

pub mod card;
pub mod vpcd;
