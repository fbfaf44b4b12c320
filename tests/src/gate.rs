//! An HTTP endpoint a promotion's `http` step calls, which holds each call while it is
//! closed: tests use it to stop a promotion at a known step, act, then let it go on. It
//! records every call (its path) and the most calls it held at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use tokio::sync::watch;

#[derive(Default)]
struct Seen {
    calls: Vec<String>,
    waiting: usize,
    most_at_once: usize,
}

/// A running gate.
#[derive(Clone)]
pub struct Gate {
    url: String,
    open: Arc<watch::Sender<bool>>,
    seen: Arc<Mutex<Seen>>,
}

async fn pass(State(gate): State<Gate>, Path(name): Path<String>) -> &'static str {
    {
        let mut seen = gate.seen.lock().unwrap();
        seen.calls.push(name);
        seen.waiting += 1;
        seen.most_at_once = seen.most_at_once.max(seen.waiting);
    }
    let mut open = gate.open.subscribe();
    let _ = open.wait_for(|o| *o).await;
    gate.seen.lock().unwrap().waiting -= 1;
    "{\"ok\": true}"
}

impl Gate {
    /// Starts a closed gate on a free loopback port.
    pub async fn start() -> Gate {
        let (open, _) = watch::channel(false);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let gate = Gate { url, open: Arc::new(open), seen: Arc::default() };
        let app = axum::Router::new().route("/{name}", axum::routing::get(pass)).with_state(gate.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        gate
    }

    /// The gate's base URL; calls go to `<base>/<name>`.
    pub fn base(&self) -> &str {
        &self.url
    }

    /// The URL of the call named `name`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.url)
    }

    /// Lets every held and later call through (or holds them again).
    pub fn set_open(&self, open: bool) {
        self.open.send_replace(open);
    }

    /// The calls made so far, oldest first.
    pub fn calls(&self) -> Vec<String> {
        self.seen.lock().unwrap().calls.clone()
    }

    /// How many calls are held now.
    pub fn waiting(&self) -> usize {
        self.seen.lock().unwrap().waiting
    }

    /// The most calls held at once so far.
    pub fn most_at_once(&self) -> usize {
        self.seen.lock().unwrap().most_at_once
    }

    /// Waits until `n` calls are held.
    pub async fn wait_for_waiting(&self, n: usize, timeout: Duration) {
        crate::wait::until(&format!("{n} call(s) held at the gate"), timeout, || async {
            let waiting = self.waiting();
            if waiting >= n { Ok(()) } else { Err(format!("{waiting} held; calls so far {:?}", self.calls())) }
        })
        .await;
    }
}
