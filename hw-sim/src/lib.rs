//! Simulated hardware for IDMS tests and demos.
//!
//! Virtual contactless cards answer APDUs the way real ones do, so the
//! service's real PC/SC driver can be driven through pcscd and the vsmartcard
//! `vpcd` driver (issue 3/5); OSDP devices follow in issue 4/5. So far: the
//! card model, the vpcd wire framing, and the client that inserts a card
//! into a vpcd reader over TCP.

pub mod card;
pub mod client;
pub mod vpcd;
