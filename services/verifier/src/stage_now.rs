//! What the read model says of a stage when a verification starts or ends: the freight
//! it holds, the promotion that runs in it and its health, once the model has applied the log up to
//! the event being handled (or, for a verdict, up to the log's end).

use std::time::Duration;

use lading_bus::HandlerError;
use lading_domain::verification::when_to_verify::StageNow;
use lading_projection::Projection;
use lading_projection::model::PromotionPhase;

/// How long the read model may take to reach a log position before the handler retries.
pub const CATCH_UP: Duration = Duration::from_secs(10);

/// The stage as the model holds it once it applied position `seq`.
pub async fn at(projection: &Projection, project: &str, stage: &str, seq: u64) -> Result<StageNow, HandlerError> {
    if !projection.wait_for(seq, CATCH_UP).await {
        return Err(HandlerError::Transient(format!(
            "the read model did not reach log position {seq} within {}s",
            CATCH_UP.as_secs()
        )));
    }
    Ok(read(projection, project, stage))
}

/// The stage as the model holds it once it applied everything in the log now.
pub async fn latest(projection: &Projection, project: &str, stage: &str) -> Result<StageNow, HandlerError> {
    let seq = projection.latest_sequence().await.map_err(|e| HandlerError::Transient(e.to_string()))?;
    at(projection, project, stage, seq).await
}

/// The stage as the model holds it now (it may lag the log a little).
pub fn read(projection: &Projection, project: &str, stage: &str) -> StageNow {
    projection.read(|model| {
        let record = model.project(project).and_then(|p| p.stages.get(stage));
        StageNow {
            stage: stage.to_owned(),
            current: record
                .map(|r| r.current.values().map(|(id, _)| id.as_str().to_owned()).collect())
                .unwrap_or_default(),
            running_promotion: record
                .and_then(|r| r.promotions.iter().find(|p| p.phase == PromotionPhase::Running))
                .map(|p| p.name.clone()),
            health: record.and_then(|r| r.current_health()).map(|h| Some(h.health.status)),
        }
    })
}
