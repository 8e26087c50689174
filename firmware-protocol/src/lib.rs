//! The OSDP wire protocol spoken with reader and encoder firmware.
//!
//! `no_std`, no allocation, no `unsafe`: the same code runs in the service,
//! in `hw-sim`, and on the encoder's microcontroller: frames (`packet`),
//! codes and card reads (`codes`), typed payloads (`payloads`), the badge
//! encoder extension (`mfg`) and the PD's end of a line (`pd`).
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

pub mod check;
pub mod codes;
pub mod mfg;
pub mod packet;
pub mod payloads;
pub mod pd;
