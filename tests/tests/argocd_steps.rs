//! `argocd-update` and `argocd-wait` against a real kube-apiserver with Argo CD's
//! Application CRD; the test plays Argo CD's application controller. Kargo's quickstart
//! runs through `argocd-update`, and the stage takes its health from the Application:
//! `Progressing` after the sync, `Healthy` once Argo CD says so (only then does its
//! verification start), `Degraded` when the Application degrades later; `Unknown` while
//! a promotion runs; a stage refresh assesses it at once; two promoter replicas publish
//! each change once. Every example of Kargo's reference pages for both steps applies and
//! runs, selectors included.

#[path = "argocd_steps/kargo_examples.rs"]
mod kargo_examples;
#[path = "argocd_steps/quickstart.rs"]
mod quickstart;
#[path = "argocd_steps/stage_health.rs"]
mod stage_health;
#[path = "argocd_steps/update_and_wait.rs"]
mod update_and_wait;

use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);
