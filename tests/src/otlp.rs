//! An OTLP/HTTP trace receiver standing in for an OpenTelemetry Collector (none is
//! installable here): a small Python server that shares no code with Lading, decoding
//! each `POST /v1/traces` (`application/x-protobuf`, an `ExportTraceServiceRequest`) with
//! the official `opentelemetry-proto` package and printing every span as one JSON line.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

const RECEIVER: &str = r#"
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)

printing = threading.Lock()

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        if self.path != "/v1/traces":
            self.send_error(404)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        lines = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    lines.append(json.dumps({
                        "service": attributes.get("service.name", ""),
                        "resource": attributes,
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "attributes": {a.key: a.value.string_value for a in span.attributes},
                    }))
        # Requests are served side by side: one request's lines are written at once.
        with printing:
            for line in lines:
                sys.stdout.write(line + "\n")
            sys.stdout.flush()
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(json.dumps({"listening": server.server_address[1]}), flush=True)
server.serve_forever()
"#;

/// One span as the receiver got it.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub service: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub resource: Value,
}

/// A running receiver, killed on drop.
pub struct Receiver {
    _child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// The value for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub endpoint: String,
    pub spans: Vec<ReceivedSpan>,
}

impl Receiver {
    /// Starts the receiver on a free loopback port; its script goes in `dir`.
    pub async fn start(dir: &std::path::Path) -> Receiver {
        let script = dir.join("otlp_receiver.py");
        std::fs::write(&script, RECEIVER).expect("write the receiver");
        let python = crate::python::interpreter();
        let mut child = tokio::process::Command::new(&python)
            .arg(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{python}: {e} (scripts/test installs opentelemetry-proto into .tools/venv)"));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the receiver did not start in 30s")
            .unwrap()
            .expect("the receiver exited (is opentelemetry-proto installed? scripts/test installs it)");
        let port = serde_json::from_str::<Value>(&first).unwrap()["listening"].as_u64().unwrap();
        Receiver { _child: child, lines, endpoint: format!("http://127.0.0.1:{port}"), spans: Vec::new() }
    }

    /// Reads the spans received so far into [`Receiver::spans`], waiting up to `wait`
    /// for the first new one.
    pub async fn read(&mut self, wait: Duration) {
        let mut wait = wait;
        while let Ok(Ok(Some(line))) = tokio::time::timeout(wait, self.lines.next_line()).await {
            let span: Value = serde_json::from_str(&line).unwrap();
            let text = |key: &str| span[key].as_str().unwrap_or_default().to_owned();
            self.spans.push(ReceivedSpan {
                service: text("service"),
                name: text("name"),
                trace_id: text("trace_id"),
                span_id: text("span_id"),
                parent_span_id: text("parent_span_id"),
                resource: span["resource"].clone(),
            });
            wait = Duration::from_millis(10);
        }
    }
}
