//! Freight objects as people edit them: an edit of the `alias` field or the
//! `lading.dev/alias` label becomes an alias change on the log (Kargo's rule, see
//! [`alias_from_object`]); one Lading cannot make (the alias is taken, not a DNS label,
//! or cleared) is set back, with a Kubernetes Event saying why.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use lading_bus::aliases::AliasChange;
use lading_domain::alias::{ALIAS_LABEL, ObjectAlias, alias_from_object};
use lading_events::catalog::FreightAliasChangedV2;
use lading_events::{Event, now_ms};

use super::crds::FREIGHT;
use super::status::freight_main_seen;
use super::{ACTOR, ObjectKey, Seen, Shared, digest, pause, record_event};

fn key_of(object: &DynamicObject) -> ObjectKey {
    ObjectKey {
        kind: FREIGHT.kind,
        namespace: object.metadata.namespace.clone().unwrap_or_default(),
        name: object.metadata.name.clone().unwrap_or_default(),
    }
}

/// `(field, label)` of an object.
fn alias_parts(object: &DynamicObject) -> (String, String) {
    let field = object.data.get("alias").and_then(|a| a.as_str()).unwrap_or_default().to_owned();
    let label = object.metadata.labels.as_ref().and_then(|l| l.get(ALIAS_LABEL)).cloned().unwrap_or_default();
    (field, label)
}

/// Watches Freight objects until shutdown.
pub async fn run(shared: Arc<Shared>) {
    let api: Api<DynamicObject> = Api::all_with(shared.client.clone(), &FREIGHT.api_resource());
    let mut stream = watcher(api, watcher::Config::default()).boxed();
    let mut previous: HashMap<ObjectKey, (String, String)> = HashMap::new();
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = shared.context.shutdown.cancelled() => return,
        };
        match event {
            None => return,
            Some(Ok(watcher::Event::InitApply(object) | watcher::Event::Apply(object))) => {
                observed(&shared, &mut previous, &object).await;
            }
            Some(Ok(watcher::Event::Delete(object))) => {
                // The log still holds it: the next round makes it again.
                let key = key_of(&object);
                previous.remove(&key);
                shared.cluster.lock().unwrap().remove(&key);
                shared.wake.notify_one();
            }
            Some(Ok(watcher::Event::InitDone)) => {
                shared.freight_listed.send_replace(true);
                shared.wake.notify_one();
            }
            Some(Ok(watcher::Event::Init)) => {}
            Some(Err(error)) => {
                tracing::warn!(%error, "watching Freight objects");
                if !pause(&shared, Duration::from_secs(1)).await {
                    return;
                }
            }
        }
    }
}

async fn observed(shared: &Shared, previous: &mut HashMap<ObjectKey, (String, String)>, object: &DynamicObject) {
    let key = key_of(object);
    let project = key.namespace.clone();
    let known = shared.context.projection.read(|model| {
        model
            .project(&project)
            .and_then(|p| p.freight.values().find(|r| r.id.as_str() == key.name))
            .map(|r| (r.id.clone(), r.freight.alias.clone()))
    });
    let current = alias_parts(object);
    let Some((id, known)) = known else {
        // Not (yet) on the log: nothing to compare with.
        remember(shared, &key, object);
        return;
    };
    let before = previous.get(&key).cloned().unwrap_or_else(|| (known.clone(), known.clone()));
    previous.insert(key.clone(), current.clone());
    let asked = alias_from_object(&known, (&before.0, &before.1), (&current.0, &current.1));
    let uid = object.metadata.uid.clone();
    match asked {
        ObjectAlias::Keep => remember(shared, &key, object),
        ObjectAlias::Cleared => {
            remember(shared, &key, object);
            let message =
                format!("a freight always has an alias; {known:?} stays (set the field or the label to change it)");
            record_event(shared, &key, uid.as_deref(), "AliasRequired", &message).await;
        }
        ObjectAlias::Change(alias) => {
            shared.alias_pending.lock().unwrap().insert(key.clone());
            remember(shared, &key, object);
            let refused = change_alias(shared, &project, &id, &alias, &known).await;
            shared.alias_pending.lock().unwrap().remove(&key);
            if let Some((reason, message)) = refused {
                tracing::info!(project, freight = key.name, alias, message, "alias edit refused");
                record_event(shared, &key, uid.as_deref(), reason, &message).await;
            }
        }
    }
    shared.wake.notify_one();
}

/// What the cluster shows of a Freight object, for the writer to compare with the log.
fn remember(shared: &Shared, key: &ObjectKey, object: &DynamicObject) {
    let main = digest(&freight_main_seen(object));
    let status = object.data.get("status").map(digest);
    shared.cluster.lock().unwrap().insert(key.clone(), Seen { main: Some(main), status });
}

/// Changes the alias on the log; `Some((reason, message))` when refused.
async fn change_alias(
    shared: &Shared,
    project: &str,
    id: &lading_domain::freight_id::FreightId,
    alias: &str,
    previous: &str,
) -> Option<(&'static str, String)> {
    if let Err(e) = lading_domain::names::validate_dns_label(alias) {
        return Some(("InvalidAlias", format!("alias {alias:?}: {e}; {previous:?} stays")));
    }
    let context = &shared.context;
    match context.bus.change_alias(project, id, alias, previous).await {
        Ok(AliasChange::Claimed) => {}
        Ok(AliasChange::TakenBy(other)) => {
            let other = other.get(..7).unwrap_or(&other).to_owned();
            return Some((
                "AliasConflict",
                format!("alias {alias:?} belongs to freight {other} in project {project:?}; {previous:?} stays"),
            ));
        }
        Err(e) => return Some(("AliasNotChanged", format!("the alias could not be changed now: {e}"))),
    }
    let event = Event::FreightAliasChangedV2(FreightAliasChangedV2 {
        project: project.to_owned(),
        freight_id: id.to_string(),
        alias: alias.to_owned(),
        previous_alias: previous.to_owned(),
        actor: ACTOR.to_owned(),
        changed_at_ms: now_ms(),
    });
    match context.bus.publish(&event, &lading_bus::tracing_context::new_root()).await {
        Ok(published) => {
            crate::routes::lookup::applied(context, published).await;
            None
        }
        Err(e) => Some(("AliasNotChanged", format!("the alias change could not be recorded: {e}"))),
    }
}
