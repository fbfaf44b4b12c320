//! Lading's vocabulary and rules, free of I/O.
//!
//! # Layout
//!
//! - [`suggest`]: the closest known name to a mistyped one.
//! - [`access`]: roles, permissions and tokens: who may do what.
//! - [`names`]: validated names of projects, stages, warehouses (Kubernetes DNS labels).
//! - [`freight`]: the Freight type with Kargo's field names, and its status.
//! - [`freight_functions`]: `commitFrom`, `imageFrom`, `chartFrom` for CEL expressions.
//! - [`promotion_functions`]: what a step's expressions may call and see.
//! - [`freight_id`]: the Freight name, computed exactly as Kargo computes it.
//! - [`url_normalize`]: Git, image and chart repository URL normalization used by the ID.
//! - [`alias`]: `<adjective>-<animal>` aliases derived from a freight ID.
//! - [`argocd`]: Argo CD Applications: who may update one, the sync a promotion starts,
//!   whether it finished, and the health a stage takes from them.
//! - [`credentials`]: credentials matched by repository URL and type.
//! - [`chart_index`]: a Helm repository's `index.yaml` read within budgets from its size limit.
//! - [`cluster_secrets`]: what a project may read from its namespace's Secrets, as Kargo
//!   reads them.
//! - [`duration`]: Go-style durations (`5m`, `1h30m`) as found in Kargo manifests.
//! - [`excerpt`]: quoting input in errors without echoing megabytes of it.
//! - [`expression`]: CEL expressions, checked before they run and bounded while they do.
//! - [`spec`]: manifests (Project, ProjectConfig, Warehouse, Stage) and their validation;
//!   a warehouse's subscriptions one kind (Git, image, chart) a file.
//! - [`availability`]: which freight a stage may take, and when it auto-promotes.
//! - [`selection`]: semver constraints, tag regexes, path filters, SemVer/Lexical order.
//! - [`promotion_claim`]: who may end a started promotion: an abort or its own run.
//! - [`promotion_queue`]: promotion phases, whose turn it is, what newer freight supersedes.
//! - [`promotion_wait`]: a promotion that waits on a step: where it resumes, and when its
//!   wait is over.
//! - [`soak`]: the longest time freight stayed in a stage.
//! - [`stage_health`]: a stage's health from the Applications its last promotion
//!   updated, its `Healthy` condition, and when it changed.
//! - [`freight_collection`]: what a promotion's steps see of the stage's other freight.
//! - [`kustomization`]: the files and directories a kustomization loads.
//! - [`label_selector`]: Kubernetes label selectors, checked and made the API's query.
//! - [`rendered_files`]: safe file names for rendered resources.
//! - [`host_paths`]: messages that name workspace-relative paths, not the host's.
//! - [`limits`]: timeouts and size limits for remote servers, named by their settings.
//! - [`metadata`]: freight and stage metadata set by the `set-metadata` step.
//! - [`digest`]: OCI content digests: their format, and whether bytes match them.
//! - [`paging`]: when to stop following `Link` pages.
//! - [`secrets`]: secrets steps read with `secret()`, and cutting revealed values out of messages.
//! - [`redact`]: URLs without user info, query or fragment, for errors and logs.
//! - [`refresh`]: refresh annotations: the token an object asks for, and whether to request it.
//! - [`commit_url`]: the web page of a commit on a Git host, from the repository URL.
//! - [`git_provider`]: which Git hosting provider a repository's host is.
//! - [`commit_signing`]: which key signs a promotion's commit, and how `github-push`
//!   attributes a signed commit it replays.
//! - [`push_integration`]: Kargo's push integration policy: whether a push rebases onto
//!   the remote branch or merges it, from the signatures a rebase would make again.
//! - [`verification`]: stage verification: conditions, measurements, and how they add up.
//! - [`webhook`]: webhook receivers: their paths, each provider's signature and payload,
//!   and which warehouses a push refreshes.

pub mod access;
pub mod alias;
pub mod argocd;
pub mod availability;
pub mod chart_index;
pub mod cluster_secrets;
pub mod commit_signing;
pub mod commit_url;
pub mod credentials;
pub mod digest;
pub mod duration;
pub mod excerpt;
pub mod expression;
pub mod freight;
pub mod freight_collection;
pub mod freight_functions;
pub mod freight_id;
pub mod git_provider;
pub mod host_paths;
pub mod kustomization;
pub mod label_selector;
pub mod limits;
pub mod metadata;
pub mod names;
pub mod paging;
pub mod promotion_claim;
pub mod promotion_functions;
pub mod promotion_queue;
pub mod promotion_wait;
pub mod push_integration;
pub mod redact;
pub mod refresh;
pub mod rendered_files;
pub mod secrets;
pub mod selection;
pub mod soak;
pub mod spec;
pub mod stage_health;
pub mod suggest;
pub mod url_normalize;
pub mod verification;
pub mod webhook;

pub use freight::{Chart, Freight, FreightOrigin, FreightStatus, GitCommit, Image};
pub use freight_id::FreightId;
