//! Earlier versions of an event, read as the current version: what they lack takes its
//! neutral value (an event from before actors were recorded names none).

use lading_events::Event;
use lading_events::catalog::{FreightAliasChangedV2, PromotionAbortedV2, PromotionCreatedV2};

/// The current version of `event` when it is an earlier one; `None` when it is current.
pub fn to_current(event: &Event) -> Option<Event> {
    Some(match event {
        Event::PromotionCreated(e) => Event::PromotionCreatedV2(PromotionCreatedV2 {
            project: e.project.clone(),
            stage: e.stage.clone(),
            promotion: e.promotion.clone(),
            freight_id: e.freight_id.clone(),
            trigger: e.trigger,
            actor: String::new(),
            created_at_ms: e.created_at_ms,
        }),
        Event::PromotionAborted(e) => Event::PromotionAbortedV2(PromotionAbortedV2 {
            project: e.project.clone(),
            stage: e.stage.clone(),
            promotion: e.promotion.clone(),
            freight_id: e.freight_id.clone(),
            reason: e.reason.clone(),
            actor: String::new(),
            aborted_at_ms: e.aborted_at_ms,
        }),
        Event::FreightAliasChanged(e) => Event::FreightAliasChangedV2(FreightAliasChangedV2 {
            project: e.project.clone(),
            freight_id: e.freight_id.clone(),
            alias: e.alias.clone(),
            previous_alias: e.previous_alias.clone(),
            actor: String::new(),
            changed_at_ms: e.changed_at_ms,
        }),
        _ => return None,
    })
}
