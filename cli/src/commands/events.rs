//! `lading events [-p P] [--type T] [--since SEQ] [-o text|json]`: follows a project's
//! events (the api's Server-Sent Events) in a terminal, reconnecting where it left off.

use std::time::Duration;

use anyhow::Context as _;
use http_body_util::BodyExt;
use serde_json::Value;

use super::Context;
use crate::client::ClientError;

/// The longest pause before reconnecting a stream that broke.
const MAX_RECONNECT_PAUSE: Duration = Duration::from_secs(10);

/// Follow a project's events as they happen.
///
/// Each line is one event: its sequence (give it to --since to start after it), time,
/// type and subject; with -o json, the whole CloudEvent. A broken connection is resumed
/// after the last event shown, so none is missed or repeated. Stop with Ctrl-C. Needs
/// read access to the project.
///
///   lading events -p demo
///   lading events -p demo --type promotion.succeeded,promotion.failed
///   lading events -p demo --since 0 -o json      # every event kept, as JSON lines
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct EventsArgs {
    /// Only these types, comma-separated: `promotion.succeeded` (every version),
    /// `freight.created.v1` or `dev.lading.freight.created.v1`.
    #[arg(long = "type", value_name = "TYPES")]
    pub types: Option<String>,
    /// Start after this event sequence (0: every event the server keeps); without it,
    /// only events from now on.
    #[arg(long, value_name = "SEQ")]
    pub since: Option<u64>,
    /// `text` (a line per event) or `json` (each CloudEvent on one line).
    #[arg(short, long, default_value = "text", value_parser = ["text", "json"])]
    pub output: String,
}

pub async fn run(context: &Context, args: EventsArgs) -> anyhow::Result<()> {
    let project = context.project()?;
    let mut path = format!("/api/v1/events?project={}", super::segment(project));
    if let Some(types) = &args.types {
        path.push_str(&format!("&type={}", super::segment(types)));
    }
    let json = args.output == "json";
    // Where a reconnect resumes: after the last event shown (else where we started).
    let mut last = args.since;
    let mut connected = false;
    let mut pause = Duration::from_millis(250);
    loop {
        let body = match context.client.open_stream(&path, last).await {
            Ok(body) => body,
            // An answer of the api (no such project, a bad type, no access) will not change,
            // and a server never reached is reported at once.
            Err(error @ ClientError::Api { .. }) => return Err(error.into()),
            Err(error) if !connected => return Err(error.into()),
            Err(error) => {
                eprintln!("lost the event stream ({error}); reconnecting in {:?}", pause);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RECONNECT_PAUSE);
                continue;
            }
        };
        connected = true;
        pause = Duration::from_millis(250);
        match follow(body, json, &mut last).await {
            Ok(()) => eprintln!("the server closed the event stream; reconnecting"),
            Err(error) => eprintln!("lost the event stream ({error:#}); reconnecting"),
        }
    }
}

/// Prints the events of one connection; `last` follows the last one printed.
async fn follow(mut body: hyper::body::Incoming, json: bool, last: &mut Option<u64>) -> anyhow::Result<()> {
    let mut parser = SseParser::default();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.context("reading the event stream")?;
        let Some(data) = frame.data_ref() else { continue };
        pending.extend_from_slice(data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            if let Some(event) = parser.line(line.trim_end_matches(['\n', '\r'])) {
                if let Some(id) = event.id {
                    *last = Some(id);
                }
                println!("{}", render(&event.data, event.id, json));
            }
        }
    }
    Ok(())
}

/// One Server-Sent Event: its `id` and its `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub data: String,
}

/// Reads the `text/event-stream` format line by line: `id:` and `data:` fields until an
/// empty line ends the event; comments (`:`) and other fields are skipped.
#[derive(Debug, Default)]
pub struct SseParser {
    id: Option<u64>,
    data: Vec<String>,
}

impl SseParser {
    /// Takes one line (without its line break); returns the event it completes.
    pub fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            if self.data.is_empty() {
                self.id = None;
                return None;
            }
            let event = SseEvent { id: self.id.take(), data: self.data.join("\n") };
            self.data.clear();
            return Some(event);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => self.id = value.parse().ok(),
            "data" => self.data.push(value.to_owned()),
            _ => {}
        }
        None
    }
}

/// One event as printed: the CloudEvent's JSON, or `SEQ  TIME  TYPE  SUBJECT`.
pub fn render(data: &str, id: Option<u64>, json: bool) -> String {
    if json {
        return data.to_owned();
    }
    let Ok(event) = serde_json::from_str::<Value>(data) else { return data.to_owned() };
    let text = |key: &str| event.get(key).and_then(Value::as_str).unwrap_or_default();
    let kind = text("type").strip_prefix("dev.lading.").unwrap_or(text("type"));
    let id = id.map(|id| id.to_string()).unwrap_or_default();
    format!("{id:>6}  {}  {kind:<32}  {}", text("time"), text("subject"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_field_by_field_and_comments_skipped() {
        // Given a stream with a comment, a heartbeat and two events,
        let stream = ": ok\n\nid: 7\ndata: {\"a\":1}\n\n: \n\nid:8\ndata: x\ndata: y\n\n";
        let mut parser = SseParser::default();
        // when it is read line by line,
        let events: Vec<SseEvent> = stream.split('\n').filter_map(|line| parser.line(line)).collect();
        // then the two events come out with their ids and data.
        assert_eq!(
            events,
            [SseEvent { id: Some(7), data: "{\"a\":1}".into() }, SseEvent { id: Some(8), data: "x\ny".into() }]
        );
    }

    #[test]
    fn a_line_per_event_shows_sequence_time_type_and_subject() {
        let data = r#"{"type":"dev.lading.promotion.succeeded.v1","time":"2026-11-30T09:12:44.123Z","subject":"projects/demo/promotions/test.1"}"#;
        let line = render(data, Some(42), false);
        assert_eq!(
            line,
            "    42  2026-11-30T09:12:44.123Z  promotion.succeeded.v1            projects/demo/promotions/test.1"
        );
        assert_eq!(render(data, Some(42), true), data);
    }
}
