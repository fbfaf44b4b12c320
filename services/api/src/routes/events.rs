//! `GET /api/v1/events?project=P[&type=T,…][&since=SEQ]`: a project's public CloudEvents
//! as Server-Sent Events. Each event's SSE `id` is its sequence in the public stream; a
//! client reconnecting with `Last-Event-ID` (or `?since=`) resumes right after it, so it
//! misses nothing the stream still keeps. Without either, the stream starts with the
//! events published from now on; `since=0` replays every event kept. A comment every
//! heartbeat keeps idle connections open through proxies.

use std::collections::BTreeSet;
use std::convert::Infallible;

use axum::extract::{Query, State as AxumState};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use lading_bus::public::StartAt;
use lading_events::{EventType, cloudevent, subject};
use serde::Deserialize;

use super::{State, context, lookup};
use crate::error::ApiError;

/// The query of an event stream.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    pub project: Option<String>,
    /// Comma-separated type filters (`freight.created`, `dev.lading.promotion.succeeded.v1`).
    #[serde(rename = "type")]
    pub types: Option<String>,
    pub since: Option<String>,
}

/// The part of a public event's JSON the stream reads.
#[derive(Deserialize)]
struct Typed<'a> {
    #[serde(rename = "type", borrow)]
    ce_type: &'a str,
}

pub async fn stream(
    AxumState(state): AxumState<State>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let context = context(&state)?;
    let project = query.project.as_deref().unwrap_or_default();
    lookup::project(&context, project)?;
    let types = match query.types.as_deref() {
        None | Some("") => None,
        Some(filters) => {
            let mut named = BTreeSet::new();
            for filter in filters.split(',') {
                let types = cloudevent::types_named(filter).map_err(|e| ApiError::BadRequest(format!("type: {e}")))?;
                named.extend(types.into_iter().map(EventType::ce_type));
            }
            Some(named)
        }
    };
    let start = start_at(&headers, query.since.as_deref())?;
    let subjects = match &types {
        None => vec![subject::public_project(project)],
        Some(named) => {
            let mut subjects: Vec<String> = named
                .iter()
                .filter_map(|ce_type| EventType::from_ce_type(ce_type))
                .map(|t| subject::public(project, t.entity_kind(), "*", t.subject_token()))
                .collect();
            subjects.sort();
            subjects.dedup();
            subjects
        }
    };
    let permit = context.event_streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::Unavailable(format!(
            "{} event streams are open, the most the api serves ({})",
            context.events.max_streams,
            crate::config::MAX_EVENT_STREAMS_ENV
        ))
    })?;
    let messages = context.bus.follow_public(subjects, start).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let shutdown = context.shutdown.clone();
    let events = messages
        .take_until(async move { shutdown.cancelled().await })
        // A failed pull ends the stream: the client reconnects with its Last-Event-ID.
        .take_while(|next| futures::future::ready(next.is_ok()))
        .filter_map(move |next| {
            let _held = &permit;
            let event = next.ok().and_then(|message| {
                let seq = message.info().ok()?.stream_sequence;
                let json = std::str::from_utf8(&message.payload).ok()?;
                let typed: Typed = serde_json::from_str(json).ok()?;
                if types.as_ref().is_some_and(|named| !named.contains(typed.ce_type)) {
                    return None;
                }
                Some(SseEvent::default().id(seq.to_string()).data(json))
            });
            futures::future::ready(event.map(Ok))
        });
    let opened = futures::stream::once(futures::future::ready(Ok(SseEvent::default().comment("ok"))));
    Ok(Sse::new(opened.chain(events)).keep_alive(KeepAlive::new().interval(context.events.heartbeat).text("")))
}

/// Where the stream starts: after `Last-Event-ID`, else after `since`, else now.
fn start_at(headers: &HeaderMap, since: Option<&str>) -> Result<StartAt, ApiError> {
    let last_event_id = headers.get("last-event-id").map(|v| v.to_str().unwrap_or("?"));
    let (name, value) = match (last_event_id, since) {
        (Some(id), _) => ("the Last-Event-ID header", id),
        (None, Some(since)) => ("since", since),
        (None, None) => return Ok(StartAt::Now),
    };
    value.trim().parse::<u64>().map(StartAt::After).map_err(|_| {
        ApiError::BadRequest(format!("{name}: {value:?} is not an event sequence (a whole number from an event's id)"))
    })
}
