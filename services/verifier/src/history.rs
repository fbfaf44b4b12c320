//! What the log already holds of a verification: its measurements, its verdict, and
//! whether someone asked to abort it. A replica that takes a verification over reads
//! this first and continues from it, so counts and limits are never reset.

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use lading_bus::{Bus, BusError};
use lading_events::catalog::{VerificationFinishedV1, VerificationMeasuredV1, VerificationStartedV1};
use lading_events::headers::CE_TYPE;
use lading_events::{Event, EventType, decode, subject};

/// A verification's recorded events.
#[derive(Debug, Default)]
pub struct History {
    pub measurements: Vec<VerificationMeasuredV1>,
    pub finished: Option<VerificationFinishedV1>,
    /// Who asked to abort it, when someone did.
    pub aborted_by: Option<String>,
}

fn stage_subject(started: &VerificationStartedV1, event_type: EventType) -> String {
    subject::event(&started.project, event_type.entity_kind(), &started.stage, event_type.subject_token())
}

/// Reads the events of `started` stored after position `from` (its own position).
pub async fn read(bus: &Bus, started: &VerificationStartedV1, from: u64) -> Result<History, BusError> {
    let stream = bus
        .jetstream()
        .get_stream(lading_bus::names::EVENTS_STREAM)
        .await
        .map_err(|e| BusError::nats("opening the event stream", e))?;
    let config = pull::OrderedConfig {
        filter_subjects: vec![
            stage_subject(started, EventType::VerificationMeasuredV1),
            stage_subject(started, EventType::VerificationFinishedV1),
            stage_subject(started, EventType::VerificationRequestedV1),
        ],
        deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: from.max(1) },
        ..Default::default()
    };
    let mut consumer = stream.create_consumer(config).await.map_err(|e| BusError::nats("reading a verification", e))?;
    let pending = consumer.info().await.map_err(|e| BusError::nats("reading a verification", e))?.num_pending;
    let mut history = History::default();
    if pending == 0 {
        return Ok(history);
    }
    let mut messages = consumer.messages().await.map_err(|e| BusError::nats("reading a verification", e))?;
    let mut seen = 0;
    while seen < pending {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), messages.next()).await;
        let message = match next {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(e))) => return Err(BusError::nats("reading a verification", e)),
            Ok(None) | Err(_) => return Err(BusError::nats("reading a verification", "the log stopped answering")),
        };
        seen += 1;
        let ce_type = message.headers.as_ref().and_then(|h| h.get(CE_TYPE)).map(|v| v.as_str().to_owned());
        let Ok(event) = decode(ce_type.as_deref(), &message.payload) else { continue };
        match event {
            Event::VerificationMeasured(m) if m.verification_id == started.verification_id => {
                history.measurements.retain(|old| !(old.metric == m.metric && old.index == m.index));
                history.measurements.push(m);
            }
            Event::VerificationFinished(f) if f.verification_id == started.verification_id => {
                history.finished.get_or_insert(f);
            }
            Event::VerificationRequested(r) if r.abort && r.freight_id == started.freight_id => {
                history.aborted_by.get_or_insert(r.actor);
            }
            _ => {}
        }
    }
    Ok(history)
}

/// Who asked to abort a verification started at position `from`, if the stage's last
/// request is such an abort.
pub async fn abort_requested(
    bus: &Bus,
    started: &VerificationStartedV1,
    from: u64,
) -> Result<Option<String>, BusError> {
    let stream = bus
        .jetstream()
        .get_stream(lading_bus::names::EVENTS_STREAM)
        .await
        .map_err(|e| BusError::nats("opening the event stream", e))?;
    let subject = stage_subject(started, EventType::VerificationRequestedV1);
    let message = match stream.get_last_raw_message_by_subject(&subject).await {
        Ok(message) => message,
        Err(e) if e.kind() == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound => {
            return Ok(None);
        }
        Err(e) => return Err(BusError::nats("reading the last verification request", e)),
    };
    if message.sequence <= from {
        return Ok(None);
    }
    let ce_type = message.headers.get(CE_TYPE).map(|v| v.as_str().to_owned());
    match decode(ce_type.as_deref(), &message.payload) {
        Ok(Event::VerificationRequested(r)) if r.abort && r.freight_id == started.freight_id => Ok(Some(r.actor)),
        _ => Ok(None),
    }
}
