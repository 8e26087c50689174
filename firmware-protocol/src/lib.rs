//! The OSDP wire protocol spoken with reader and encoder firmware.
//!
//! `no_std`, no allocation, no `unsafe`: the same code runs in the service,
//! in `hw-sim`, and on the encoder's microcontroller. This first module
//! holds the integrity checks every OSDP frame ends with; framing, commands
//! and replies build on it (issue 4/5).
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

pub mod check;
pub mod codes;
pub mod mfg;
pub mod packet;
pub mod payloads;
