//! Running promotion steps straight through the step engine, without services, with the
//! defaults tests share: project `demo`, stage `test`, the Lading commit author.

use std::path::Path;

use lading_domain::spec::{PromotionStep, PromotionVariable};
use lading_domain::{Freight, freight_id};
use lading_promoter::engine::{
    EffectGuard, PromotionError, PromotionInput, PromotionOutcome, StepObserver, Unguarded, Unobserved,
    run_promotion_observed,
};
use lading_promoter::steps::{CommitAuthor, GitCredentials, RemoteBudgets, Remotes};

/// One promotion of `freight`; set the other fields to change the defaults.
pub struct EngineRun<'a> {
    pub promotion: &'a str,
    pub freight: &'a Freight,
    /// The freight of each origin the promotion sees (default: `freight` alone).
    pub origins: Option<&'a [Freight]>,
    pub vars: &'a [PromotionVariable],
    pub credentials: GitCredentials,
    /// What `secret(name)` reads (none by default).
    pub secrets: Option<lading_domain::secrets::SecretAccess>,
    pub budgets: RemoteBudgets,
    pub mirrors: Option<&'a Path>,
    /// `LADING_GIT_PROVIDERS`: host to Git hosting provider.
    pub git_providers: std::collections::BTreeMap<String, String>,
    /// Where the Argo CD steps find Argo CD.
    pub argocd: lading_promoter::steps::argocd::ArgoCdAccess,
    /// Asked before every effect (default: allows all, as under no lease).
    pub effects: &'a dyn EffectGuard,
    /// Who commits, and the promoter-wide signing key (default: Lading's, none).
    pub author: CommitAuthor,
    /// `LADING_GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS` (default false).
    pub github_verify_untrusted_commits: bool,
    /// `LADING_GIT_PUSH_INTEGRATION_POLICY` (default `AlwaysRebase`).
    pub push_integration_policy: lading_domain::push_integration::PushIntegrationPolicy,
}

impl<'a> EngineRun<'a> {
    /// Promotion `p` of `freight`, no variables, no credentials, the default budgets, no
    /// mirrors.
    pub fn new(freight: &'a Freight) -> Self {
        Self {
            promotion: "p",
            freight,
            origins: None,
            vars: &[],
            credentials: GitCredentials::default(),
            secrets: None,
            budgets: RemoteBudgets::default(),
            mirrors: None,
            git_providers: Default::default(),
            argocd: Default::default(),
            effects: &Unguarded,
            author: CommitAuthor::default(),
            github_verify_untrusted_commits: false,
            push_integration_policy: Default::default(),
        }
    }

    /// Runs `steps` in `workspace`.
    pub fn run(&self, workspace: &Path, steps: &[PromotionStep]) -> Result<PromotionOutcome, PromotionError> {
        self.run_observed(workspace, steps, &mut Unobserved)
    }

    /// Runs `steps` in `workspace`, reporting to `observer`.
    pub fn run_observed(
        &self,
        workspace: &Path,
        steps: &[PromotionStep],
        observer: &mut dyn StepObserver,
    ) -> Result<PromotionOutcome, PromotionError> {
        let id = freight_id::compute(self.freight).expect("test freight has an ID");
        let remotes = Remotes {
            credentials: self.credentials.clone(),
            budgets: self.budgets,
            cancel: Default::default(),
            git_providers: self.git_providers.clone(),
            argocd: self.argocd.clone(),
            github_verify_untrusted_commits: self.github_verify_untrusted_commits,
            push_integration_policy: self.push_integration_policy,
            insecure_skip_tls_verify: false,
        };
        let input = PromotionInput {
            project: "demo",
            stage: "test",
            promotion: self.promotion,
            freight_id: &id,
            freight: self.freight,
            origins: self.origins.unwrap_or(std::slice::from_ref(self.freight)),
            vars: self.vars,
            steps,
            author: &self.author,
            remotes: &remotes,
            mirrors: self.mirrors,
            effects: self.effects,
            secrets: self.secrets.as_ref(),
            parks: false,
            resume: None,
        };
        run_promotion_observed(&input, workspace, observer)
    }
}
