//! Simulated hardware for IDMS tests and demos.
//!
//! Virtual contactless cards answer APDUs the way real ones do, so the
//! service's real PC/SC driver can be driven through pcscd and the vsmartcard
//! `vpcd` driver; OSDP door readers and encoders answer on a pseudo-terminal
//! through the same protocol code their firmware would run.
//!
//! - [`card`]: card models (MIFARE Classic, Ultralight, DESFire, a random-UID
//!   card, a card without GET DATA, a card that vanishes mid-APDU);
//! - [`vpcd`]: the vpcd wire framing; [`client`]: inserting, removing and
//!   tapping a card on a vpcd reader over TCP;
//! - [`pcscd`]: the machine's one pcscd with the simulator's readers, and
//!   per-reader leases so tests run in parallel;
//! - [`osdp`]: OSDP devices on a simulated serial line, with faults;
//! - [`controller`]: a door controller speaking the service's door API
//!   (online decisions, the feed, offline decisions, buffered uploads);
//! - [`netcut`]: a TCP proxy that partitions the network on demand.

pub mod card;
pub mod client;
pub mod controller;
pub mod netcut;
pub mod osdp;
pub mod pcscd;
pub mod vpcd;
