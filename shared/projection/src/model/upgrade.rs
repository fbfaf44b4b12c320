//! Earlier versions of an event, read as the current version: what they lack takes its
//! neutral value (an event from before actors were recorded names none).

use lading_events::Event;
use lading_events::catalog::{
    FreightAliasChangedV2, PromotionAbortedV2, PromotionCreatedV2, StageRefreshHandledV2, StageRefreshRequestedV2,
    WarehouseRefreshHandledV2, WarehouseRefreshRequestedV2,
};

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
        // Before requests named the last handled one.
        Event::WarehouseRefreshRequested(e) => Event::WarehouseRefreshRequestedV2(WarehouseRefreshRequestedV2 {
            project: e.project.clone(),
            warehouse: e.warehouse.clone(),
            request_id: e.request_id.clone(),
            after_seq: 0,
            requested_at_ms: e.requested_at_ms,
        }),
        Event::WarehouseRefreshHandled(e) => Event::WarehouseRefreshHandledV2(WarehouseRefreshHandledV2 {
            project: e.project.clone(),
            warehouse: e.warehouse.clone(),
            request_id: e.request_id.clone(),
            after_seq: 0,
            handled_at_ms: e.handled_at_ms,
        }),
        Event::StageRefreshRequested(e) => Event::StageRefreshRequestedV2(StageRefreshRequestedV2 {
            project: e.project.clone(),
            stage: e.stage.clone(),
            request_id: e.request_id.clone(),
            after_seq: 0,
            requested_at_ms: e.requested_at_ms,
        }),
        Event::StageRefreshHandled(e) => Event::StageRefreshHandledV2(StageRefreshHandledV2 {
            project: e.project.clone(),
            stage: e.stage.clone(),
            request_id: e.request_id.clone(),
            after_seq: 0,
            handled_at_ms: e.handled_at_ms,
        }),
        _ => return None,
    })
}
