//! A subscriber to the public events written in Python with `nats-py`: a client that
//! shares no code with Lading. It prints each CloudEvent of a project as one JSON line.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

const SUBSCRIBER: &str = r#"
import asyncio, json, os, sys
import nats
from nats.js.api import DeliverPolicy

async def main():
    nc = await nats.connect(os.environ["NATS_URL"])
    js = nc.jetstream()
    while True:
        try:
            sub = await js.subscribe(f"lading.pub.{os.environ['PROJECT']}.>", ordered_consumer=True,
                                     deliver_policy=DeliverPolicy.ALL)
            break
        except Exception as error:  # the stream appears once the api has started
            print(f"waiting for the stream: {error}", file=sys.stderr)
            await asyncio.sleep(0.2)
    async for msg in sub.messages:
        print(json.dumps(json.loads(msg.data)), flush=True)

asyncio.run(main())
"#;

/// The Python interpreter with `nats-py` (`scripts/test` installs it in `.tools/venv`).
pub fn interpreter() -> String {
    std::env::var("LADING_TEST_PYTHON")
        .unwrap_or_else(|_| format!("{}/../.tools/venv/bin/python", env!("CARGO_MANIFEST_DIR")))
}

/// A running subscriber, killed on drop.
pub struct Subscriber {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Subscriber {
    /// Starts following `project`'s public events from the first one kept, connected to
    /// `nats_url` (with its user and password in it); the script goes in `dir`.
    pub fn start(dir: &std::path::Path, nats_url: &str, project: &str) -> Subscriber {
        let script = dir.join("subscriber.py");
        std::fs::write(&script, SUBSCRIBER).expect("write the subscriber");
        let python = interpreter();
        let mut child = tokio::process::Command::new(&python)
            .arg(&script)
            .env("NATS_URL", nats_url)
            .env("PROJECT", project)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{python}: {e} (scripts/test installs nats-py into .tools/venv)"));
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Subscriber { child, lines }
    }

    /// The next event it printed, within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Value {
        let line = tokio::time::timeout(timeout, self.lines.next_line())
            .await
            .expect("the Python subscriber printed nothing in time")
            .expect("reading the subscriber")
            .expect("the Python subscriber stopped");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    /// Events it printed until one `found` accepts (that one included), within `timeout`.
    pub async fn until(&mut self, timeout: Duration, found: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next(left).await;
            let done = found(&event);
            seen.push(event);
            if done {
                return seen;
            }
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
