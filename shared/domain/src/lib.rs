//! Lading's vocabulary and rules, free of I/O.
//!
//! # Layout
//!
//! - [`names`]: validated names of projects, stages, warehouses (Kubernetes DNS labels).
//! - [`freight`]: the Freight type with Kargo's field names, and its status.
//! - [`freight_functions`]: `commitFrom`, `imageFrom`, `chartFrom` for CEL expressions.
//! - [`freight_id`]: the Freight name, computed exactly as Kargo computes it.
//! - [`url_normalize`]: Git, image and chart repository URL normalization used by the ID.
//! - [`alias`]: `<adjective>-<animal>` aliases derived from a freight ID.
//! - [`credentials`]: credentials matched by repository URL and type.
//! - [`duration`]: Go-style durations (`5m`, `1h30m`) as found in Kargo manifests.
//! - [`spec`]: manifests (Project, ProjectConfig, Warehouse, Stage) and their validation.
//! - [`availability`]: which freight a stage may take, and when it auto-promotes.
//! - [`selection`]: semver constraints, tag regexes, path filters, SemVer/Lexical order.
//! - [`limits`]: timeouts and size limits for remote servers, named by their settings.
//! - [`digest`]: OCI content digests: their format, and whether bytes match them.
//! - [`paging`]: when to stop following `Link` pages.
//! - [`redact`]: URLs without user info, query or fragment, for errors and logs.

pub mod alias;
pub mod availability;
pub mod credentials;
pub mod digest;
pub mod duration;
pub mod freight;
pub mod freight_functions;
pub mod freight_id;
pub mod limits;
pub mod names;
pub mod paging;
pub mod redact;
pub mod selection;
pub mod spec;
pub mod url_normalize;

pub use freight::{Chart, Freight, FreightOrigin, FreightStatus, GitCommit, Image};
pub use freight_id::FreightId;
