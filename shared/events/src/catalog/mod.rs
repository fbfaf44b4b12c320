//! The event catalog. A published v1 payload never changes shape (golden-byte tests guard
//! it); an incompatible change is a new version with a new CloudEvents type.
//!
//! Guarantees every event gives:
//! - its `ce-id` (also its `Nats-Msg-Id`) is derived from its identity, so a retried or
//!   raced publish is stored once;
//! - its subject names the project, the entity kind and name, and the event type, so a
//!   subscriber filters without decoding.
//!
//! Assumptions consumers may make: events of one stage (promotion events) are stored in
//! the order they happened; a freight's `FreightCreated` precedes every event about it.
//!
//! Payloads live by entity in `freight`, `promotion`, `stage`, `verification` and
//! `warehouse`; `event_type` names every type with its version, subject tokens and
//! retention; `event` ties payloads to their types and subjects; `identity` derives each
//! event's identity and CloudEvents subject.

mod event;
mod event_type;
mod freight;
mod identity;
mod promotion;
mod stage;
mod verification;
mod warehouse;

pub use event::Event;
pub use event_type::{EventType, Kept};
pub use freight::*;
pub use promotion::*;
pub use stage::*;
pub use verification::*;
pub use warehouse::*;
