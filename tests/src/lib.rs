//! Test harness: real NATS, real Git repositories, a real OCI registry, and a sandbox running Lading's
//! services in-process against them. Every test gets its own server, ports and dirs.
//!
//! # Layout
//!
//! - [`nats`]: a `nats-server` per test, on a free loopback port, in a temp dir, with
//!   Lading's NATS users.
//! - [`argocd`]: Argo CD's Application CRD, Applications, and a stand-in for its
//!   controller answering sync operations.
//! - [`argocd_quickstart`]: Kargo's quickstart promoting through `argocd-update` on a
//!   real kube-apiserver, and the stage health a test reads back.
//! - [`browser`]: a headless Chromium per test, driven over WebDriver.
//! - [`canary`]: a file outside every workspace that no promotion may read or write.
//! - [`hosted_gitops`]: a GitOps repository on the GitHub stand-in, and a `prod` stage's
//!   manifests.
//! - [`chart_repo`]: an HTTP Helm repository whose `index.yaml` has an `ETag`.
//! - [`engine_run`]: promotion steps run through the step engine alone.
//! - [`faults`]: the fault-injection suite: a cluster, replicas as processes, a seeded
//!   schedule of kills, NATS restarts, Git stalls and aborts, and the invariants.
//! - [`gate`]: an HTTP endpoint that holds a promotion's `http` step until the test lets it go.
//! - [`git`]: bare repositories on disk, written to with the `git` CLI.
//! - [`git_http`]: those repositories over authenticated smart HTTP.
//! - [`git_hosting`]: a stand-in for a Git hosting service: smart HTTP plus the part of
//!   GitHub's REST API the pull-request steps use.
//! - [`git_cli`]: the git CLI doing by hand what a promotion does, in a copy of the
//!   same remote, to compare the commits both make.
//! - [`http_client`]: reqwest clients built after the process's TLS provider is installed.
//! - [`http_stub`]: a plain HTTP server answering as a test says, recording the requests.
//! - [`hostile`]: a TCP tarpit, a registry front and a chart repository that attack.
//! - [`kube`]: a real etcd and kube-apiserver per test, a kubeconfig, and `kubectl`.
//! - [`gpg`]: GnuPG in a keyring per test: keys made as a user makes them, and git's
//!   verdict on signed commits and tags.
//! - [`machine`]: the conditions a benchmark ran under (cores, load, build profile).
//! - [`nats_cluster`]: a cluster of `nats-server`s on loopback (R3 streams), whose
//!   servers can be killed and started again.
//! - [`prometheus`]: a `prometheus` per test scraping an exporter whose gauge the test sets.
//! - [`otlp`]: an OTLP/HTTP trace receiver in Python (a stand-in for a collector).
//! - [`python`]: a subscriber to the public events in Python (`nats-py`), sharing no
//!   code with Lading.
//! - [`registry`]: a `docker-registry` per test, and a pusher of images and indexes.
//! - [`sandbox`]: N replicas of every service plus the api, and an HTTP client for it.
//! - [`signing`]: webhook signatures as the providers compute them.
//! - [`stall_proxy`]: a TCP proxy that stalls on demand (a Git remote that hangs).
//! - [`wait`]: polling with a deadline instead of sleeping.
//! - [`web_answer`]: an HTTP endpoint a `web` verification metric calls, answering what
//!   the test set, counting calls, holding them on request.

pub mod argocd;
pub mod argocd_quickstart;
pub mod browser;
pub mod canary;
pub mod chart_repo;
pub mod engine_run;
pub mod faults;
pub mod gate;
pub mod git;
pub mod git_cli;
pub mod git_hosting;
pub mod git_http;
pub mod gpg;
pub mod hosted_gitops;
pub mod hostile;
pub mod http_client;
pub mod http_stub;
pub mod kube;
pub mod machine;
pub mod nats;
pub mod nats_cluster;
pub mod otlp;
pub mod prometheus;
pub mod python;
pub mod registry;
pub mod sandbox;
pub mod signing;
pub mod stall_proxy;
pub mod wait;
pub mod web_answer;
