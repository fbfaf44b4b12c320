//! Promotion objects created with `kubectl` request that promotion (as `lading promote`
//! does); their status follows the promotion on the log.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use serde_json::{Value, json};

use super::crds::PROMOTION;
use super::{ACTOR, ObjectKey, Seen, Shared, digest, pause};
use crate::objects::promotion_object;

/// What became of a Promotion object's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// Queued on the log under this name, for this stage.
    Queued { stage: String, name: String },
    /// Refused, with the reason.
    Refused(String),
}

fn key_of(object: &DynamicObject) -> ObjectKey {
    ObjectKey {
        kind: PROMOTION.kind,
        namespace: object.metadata.namespace.clone().unwrap_or_default(),
        name: object.metadata.name.clone().unwrap_or_default(),
    }
}

/// The ULID naming the promotion an object requests: from its creation time and UID, so
/// asking again (after a restart) names the same promotion.
fn ulid_of(object: &DynamicObject) -> String {
    let created = object.metadata.creation_timestamp.as_ref().map(|t| t.0.as_millisecond()).unwrap_or_default();
    let uid = object.metadata.uid.clone().unwrap_or_default().replace('-', "");
    let random = u128::from_str_radix(&uid, 16).unwrap_or_default();
    ulid::Ulid::from_parts(u64::try_from(created).unwrap_or_default(), random).to_string()
}

/// Watches Promotion objects until shutdown.
pub async fn run(shared: Arc<Shared>) {
    let api: Api<DynamicObject> = Api::all_with(shared.client.clone(), &PROMOTION.api_resource());
    let mut stream = watcher(api, watcher::Config::default()).boxed();
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = shared.context.shutdown.cancelled() => return,
        };
        match event {
            None => return,
            Some(Ok(watcher::Event::InitApply(object) | watcher::Event::Apply(object))) => {
                observed(&shared, &object).await;
            }
            Some(Ok(watcher::Event::Delete(object))) => {
                let key = key_of(&object);
                shared.promotions.lock().unwrap().remove(&key);
                shared.cluster.lock().unwrap().remove(&key);
            }
            Some(Ok(watcher::Event::Init | watcher::Event::InitDone)) => {}
            Some(Err(error)) => {
                tracing::warn!(%error, "watching Promotion objects");
                if !pause(&shared, Duration::from_secs(1)).await {
                    return;
                }
            }
        }
    }
}

async fn observed(shared: &Shared, object: &DynamicObject) {
    let key = key_of(object);
    let status = object.data.get("status");
    shared.cluster.lock().unwrap().insert(key.clone(), Seen { main: None, status: status.map(digest) });
    if shared.promotions.lock().unwrap().contains_key(&key) {
        return;
    }
    let spec = object.data.get("spec").cloned().unwrap_or(Value::Null);
    let stage = spec["stage"].as_str().unwrap_or_default().to_owned();
    // Requested before (by an api that since restarted): the status names it.
    if let Some(name) = status.and_then(|s| s["promotionName"].as_str()).filter(|n| !n.is_empty()) {
        let requested = Requested::Queued { stage, name: name.to_owned() };
        shared.promotions.lock().unwrap().insert(key, requested);
        shared.wake.notify_one();
        return;
    }
    let freight = spec["freight"].as_str().unwrap_or_default().to_owned();
    let requested = if stage.is_empty() {
        Requested::Refused("spec.stage: is required".to_owned())
    } else if freight.is_empty() {
        Requested::Refused("spec.freight: is required (a freight name or alias)".to_owned())
    } else {
        let ulid = ulid_of(object);
        match crate::routes::promotions::request_promotion(
            &shared.context,
            &key.namespace,
            &stage,
            &freight,
            ACTOR,
            &ulid,
        )
        .await
        {
            Ok((name, _)) => Requested::Queued { stage, name },
            Err(e) => Requested::Refused(e.to_string()),
        }
    };
    shared.promotions.lock().unwrap().insert(key, requested);
    shared.wake.notify_one();
}

/// A Promotion object's status from the log.
pub fn status(model: &lading_projection::model::ReadModel, key: &ObjectKey, requested: &Requested) -> Value {
    match requested {
        Requested::Refused(reason) => json!({"phase": "Errored", "message": reason}),
        Requested::Queued { stage, name } => {
            let found = model
                .project(&key.namespace)
                .and_then(|p| p.stages.get(stage).and_then(|s| s.promotion(name)).map(|r| (p, r)));
            let mut status = match found {
                Some((project, record)) => promotion_object(&key.namespace, stage, project, record)["status"].take(),
                None => json!({"phase": "Pending"}),
            };
            status["promotionName"] = json!(name);
            status
        }
    }
}
