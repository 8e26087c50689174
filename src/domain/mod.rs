//! The rules of the badge office, as pure functions and types.
//!
//! **Architecture invariant:** nothing in `domain/` does I/O, is async, reads
//! the clock (clippy `disallowed-methods` enforces it; `now` is a parameter),
//! or knows SQL or HTTP. Every rule that decides *whether* something may
//! happen lives here; the store only decides *how* it is written.

pub mod access;
pub mod change;
pub mod credential;
pub mod decision;
pub mod error;
pub mod ids;
pub mod purge;
pub mod time;
pub mod user;

pub use change::Change;
pub use credential::{CredentialState, RetireReason, Technology, Uid, check_bindable};
pub use decision::{Decision, DenyReason, HolderView, decide};
pub use error::DomainError;
pub use ids::UserId;
pub use time::{Timestamp, ValidityWindow};
pub use user::{Holds, LifecycleAction, Origin, Transition, UserFacts, UserState, transition};
