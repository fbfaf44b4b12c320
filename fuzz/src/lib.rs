//! Lading's fuzz targets: what each one feeds arbitrary bytes to and checks, written as
//! plain functions so that the libFuzzer binaries in `fuzz_targets/` and the seed replay
//! in the main workspace (`tests/tests/fuzz_seeds.rs`, run by `scripts/test`) run the
//! same code.
//!
//! # Layout
//!
//! - [`input`]: the input formats, chosen so that seeds can be written by hand:
//!   [`input::frames`] (a byte string cut into event messages) and
//!   [`input::updates_and_document`] (`key=value` lines, a `%%` line, then a document).
//! - [`targets`]: the targets that need only `lading-domain` and `lading-events`.
//! - [`service_targets`] (feature `services`): the targets that need the promoter, the
//!   warehouse and the read model.
//!
//! The modules name each other through `super::`, so the replay can include the same
//! files as modules of its own crate root.

pub mod input;
#[cfg(feature = "services")]
pub mod service_targets;
pub mod targets;

pub use input::{frame, frames, lookup, same_value, updates_and_document};
