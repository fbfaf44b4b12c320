//! Kubernetes identities in Kubernetes mode: a bearer token that is not a Lading token is
//! asked about with a TokenReview, and an approval by such an identity is allowed by a
//! SubjectAccessReview for the custom verb `promote` on the stage (as Kargo does), so
//! Kubernetes RBAC (the ClusterRole `lading-promoter`, bound in the project's namespace)
//! decides who may approve.

use std::time::Duration;

use k8s_openapi::api::authentication::v1::TokenReview;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use kube::api::{Api, PostParams};
use serde_json::json;

use super::crds;

/// How long the apiserver has to answer a review.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(10);

/// Who a Kubernetes token belongs to, as the apiserver says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeUser {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
}

/// The user `token` authenticates as; `Ok(None)` when the apiserver does not know it.
pub async fn review_token(client: &kube::Client, token: &str) -> Result<Option<KubeUser>, String> {
    let review: TokenReview =
        serde_json::from_value(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "metadata": {}, "spec": {"token": token}}))
        .map_err(|e| e.to_string())?;
    let api: Api<TokenReview> = Api::all(client.clone());
    let answer = tokio::time::timeout(REVIEW_TIMEOUT, api.create(&PostParams::default(), &review))
        .await
        .map_err(|_| format!("the apiserver did not answer a TokenReview within {}s", REVIEW_TIMEOUT.as_secs()))?
        .map_err(|e| format!("TokenReview: {e}"))?;
    let Some(status) = answer.status.filter(|s| s.authenticated == Some(true)) else { return Ok(None) };
    let user = status.user.unwrap_or_default();
    Ok(Some(KubeUser {
        username: user.username.unwrap_or_default(),
        uid: user.uid.unwrap_or_default(),
        groups: user.groups.unwrap_or_default(),
    }))
}

/// Whether `user` may `promote` the stage `stage` of `project` (the verb on `stages` in
/// the project's namespace); `Err` with the reason when not, or when no answer came.
pub async fn may_promote(client: &kube::Client, user: &KubeUser, project: &str, stage: &str) -> Result<(), String> {
    let review: SubjectAccessReview = serde_json::from_value(json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {},
        "spec": {
            "user": user.username, "uid": user.uid, "groups": user.groups,
            "resourceAttributes": {
                "group": crds::GROUP, "resource": crds::STAGE.plural, "verb": "promote",
                "namespace": project, "name": stage,
            },
        },
    }))
    .map_err(|e| e.to_string())?;
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    let answer = tokio::time::timeout(REVIEW_TIMEOUT, api.create(&PostParams::default(), &review))
        .await
        .map_err(|_| {
            format!("the apiserver did not answer a SubjectAccessReview within {}s", REVIEW_TIMEOUT.as_secs())
        })?
        .map_err(|e| format!("SubjectAccessReview: {e}"))?;
    let status = answer.status.unwrap_or_default();
    if status.allowed {
        return Ok(());
    }
    let why = status.reason.filter(|r| !r.is_empty()).map(|r| format!(" ({r})")).unwrap_or_default();
    Err(format!(
        "Kubernetes user {:?} may not promote stage {stage:?} in namespace {project:?}: it needs the verb \"promote\" on stages.{} there (the ClusterRole lading-promoter){why}",
        user.username,
        crds::GROUP
    ))
}
