//! The public stream `LADING_PUBLIC`: every fact again, as a structured-mode CloudEvent in
//! JSON on `lading.pub.<project>.<kind>.<name>.<type>`, for tools that are not Lading.
//! It keeps events for a limited age (seven days unless configured); its `Nats-Msg-Id`
//! is the event's identity, so a republish after a crash is stored once.
//!
//! Facts are republished in log order by one replica at a time. Where it got to (the
//! cursor) is the `Lading-Log-Sequence` header of the last public event, and a copy in
//! the `lading-cursors` bucket for when every public event has aged out.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::stream;
use lading_events::headers::{CONTENT_TYPE, NATS_MSG_ID};
use lading_events::{CloudEvent, Event, TraceContext, cloudevent, subject};

use crate::names::{CURSORS_BUCKET, DUPLICATE_WINDOW, EVENTS_STREAM, PUBLIC_STREAM};
use crate::{Bus, BusError, Published, Result};

/// The header naming the log sequence of the fact a public event republishes.
pub const LOG_SEQUENCE_HEADER: &str = "Lading-Log-Sequence";
/// The cursor's key in the cursors bucket.
const CURSOR_KEY: &str = "public";

/// How long the public stream keeps an event unless configured otherwise.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

impl Bus {
    /// Ensures the public stream exists and keeps events for `max_age`; an existing
    /// stream's age limit is brought in line.
    pub async fn provision_public(&self, max_age: Duration) -> Result<()> {
        crate::provision::retry_at_start("provisioning the public stream", || self.provision_public_once(max_age)).await
    }

    async fn provision_public_once(&self, max_age: Duration) -> Result<()> {
        let js = self.jetstream();
        let replicas = self.replicas().await;
        let config = stream::Config {
            name: PUBLIC_STREAM.to_owned(),
            subjects: vec![subject::PUBLIC_ALL.to_owned()],
            max_age,
            duplicate_window: DUPLICATE_WINDOW.min(max_age),
            storage: stream::StorageType::File,
            num_replicas: replicas.count,
            ..Default::default()
        };
        let mut existing =
            js.get_or_create_stream(config).await.map_err(|e| BusError::nats("creating the public stream", e))?;
        let mut current =
            existing.info().await.map_err(|e| BusError::nats("reading the public stream", e))?.config.clone();
        if current.max_age != max_age {
            current.max_age = max_age;
            current.duplicate_window = DUPLICATE_WINDOW.min(max_age);
            js.update_stream(current).await.map_err(|e| BusError::nats("updating the public stream", e))?;
        }
        crate::provision::ensure_replicas(js, PUBLIC_STREAM, replicas).await
    }

    /// Publishes `event`'s CloudEvent (the fact at `log_sequence`, published internally
    /// by `source` in `trace`) on the public stream, waiting for its acknowledgement.
    pub async fn publish_public(
        &self,
        event: &Event,
        source: &str,
        trace: Option<&TraceContext>,
        log_sequence: u64,
    ) -> Result<Published> {
        let public = CloudEvent::of(event, source, trace);
        let mut headers = HeaderMap::new();
        headers.insert(NATS_MSG_ID, public.id.as_str());
        headers.insert(CONTENT_TYPE, cloudevent::CONTENT_TYPE);
        headers.insert(LOG_SEQUENCE_HEADER, log_sequence.to_string().as_str());
        let ack = self
            .jetstream()
            .publish_with_headers(event.public_subject(), headers, public.to_json().into())
            .await
            .map_err(|e| BusError::nats("publishing a public event", e))?
            .await
            .map_err(|e| BusError::nats("publishing a public event", e))?;
        Ok(if ack.duplicate { Published::Duplicate } else { Published::Stored(ack.sequence) })
    }

    /// The log sequence of the last fact republished (0: none).
    pub async fn public_cursor(&self) -> Result<u64> {
        let saved = match self.bucket(CURSORS_BUCKET).await?.get(CURSOR_KEY).await {
            Ok(value) => value.and_then(|v| std::str::from_utf8(&v).ok()?.parse::<u64>().ok()).unwrap_or(0),
            Err(e) => return Err(BusError::nats("reading the public cursor", e)),
        };
        let mut stream = self
            .jetstream()
            .get_stream(PUBLIC_STREAM)
            .await
            .map_err(|e| BusError::nats("opening the public stream", e))?;
        let state = stream.info().await.map_err(|e| BusError::nats("reading the public stream", e))?.state.clone();
        if state.messages == 0 {
            return Ok(saved);
        }
        let last = stream
            .get_raw_message(state.last_sequence)
            .await
            .map_err(|e| BusError::nats("reading the last public event", e))?;
        let published = last.headers.get(LOG_SEQUENCE_HEADER).and_then(|v| v.as_str().parse::<u64>().ok()).unwrap_or(0);
        Ok(saved.max(published))
    }

    /// Keeps `log_sequence` as the cursor for when every public event has aged out.
    pub async fn save_public_cursor(&self, log_sequence: u64) -> Result<()> {
        self.bucket(CURSORS_BUCKET)
            .await?
            .put(CURSOR_KEY, log_sequence.to_string().into())
            .await
            .map_err(|e| BusError::nats("saving the public cursor", e))?;
        Ok(())
    }

    /// Follows the facts of the log, in order, from the one after `after`.
    pub async fn follow_facts(&self, after: u64) -> Result<pull::Ordered> {
        let stream =
            self.jetstream().get_stream(EVENTS_STREAM).await.map_err(|e| BusError::nats("opening the log", e))?;
        let deliver_policy =
            if after == 0 { DeliverPolicy::All } else { DeliverPolicy::ByStartSequence { start_sequence: after + 1 } };
        let consumer = stream
            .create_consumer(pull::OrderedConfig { deliver_policy, ..Default::default() })
            .await
            .map_err(|e| BusError::nats("following the log", e))?;
        consumer.messages().await.map_err(|e| BusError::nats("following the log", e))
    }
}

/// Where a reader of the public stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// With the events published from now on.
    Now,
    /// With the first event after this stream sequence (`0`: every event kept).
    After(u64),
}

impl Bus {
    /// Follows the public events on `subjects`, in order, from `from`. The consumer is
    /// ephemeral: it goes away with the returned stream.
    pub async fn follow_public(&self, subjects: Vec<String>, from: StartAt) -> Result<pull::Ordered> {
        let stream = self
            .jetstream()
            .get_stream(PUBLIC_STREAM)
            .await
            .map_err(|e| BusError::nats("opening the public stream", e))?;
        let deliver_policy = match from {
            StartAt::Now => DeliverPolicy::New,
            StartAt::After(0) => DeliverPolicy::All,
            StartAt::After(seq) => DeliverPolicy::ByStartSequence { start_sequence: seq + 1 },
        };
        let consumer = stream
            .create_consumer(pull::OrderedConfig { deliver_policy, filter_subjects: subjects, ..Default::default() })
            .await
            .map_err(|e| BusError::nats("following the public stream", e))?;
        consumer.messages().await.map_err(|e| BusError::nats("following the public stream", e))
    }
}
