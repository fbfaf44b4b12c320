//! State rebuilt from the event log: freight, stages with their promotion queues, and
//! warehouses, as the api serves them and the promoter decides from them.
//!
//! # Layout
//!
//! - [`model`]: the read model and how each event changes it (rules from `lading_domain`).
//! - [`follower`]: following the log into a live read model: restarts, readiness, lag.
//! - [`snapshot`]: snapshots of the read model, so start-up reads only the log's tail.

pub mod follower;
pub mod model;
pub mod snapshot;

pub use follower::{FollowOptions, Projection};
pub use model::ReadModel;
