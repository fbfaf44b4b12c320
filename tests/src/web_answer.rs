//! An HTTP endpoint a verification's `web` metric calls: it answers what the test set
//! last, counts the calls, and holds them while the test keeps it held (to stop a
//! measurement at a known point, act, then let it finish).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use tokio::sync::watch;

#[derive(Clone)]
pub struct WebAnswer {
    url: String,
    answer: Arc<watch::Sender<String>>,
    held: Arc<watch::Sender<bool>>,
    calls: Arc<AtomicUsize>,
    waiting: Arc<AtomicUsize>,
}

async fn answer(State(web): State<WebAnswer>) -> String {
    web.calls.fetch_add(1, Ordering::SeqCst);
    web.waiting.fetch_add(1, Ordering::SeqCst);
    let mut held = web.held.subscribe();
    let _ = held.wait_for(|h| !*h).await;
    web.waiting.fetch_sub(1, Ordering::SeqCst);
    web.answer.borrow().clone()
}

impl WebAnswer {
    /// Answers `text` on a free loopback port, to every path.
    pub async fn start(text: &str) -> WebAnswer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let web = WebAnswer {
            url: format!("http://{}", listener.local_addr().unwrap()),
            answer: Arc::new(watch::channel(text.to_owned()).0),
            held: Arc::new(watch::channel(false).0),
            calls: Arc::default(),
            waiting: Arc::default(),
        };
        let app = axum::Router::new().fallback(answer).with_state(web.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        web
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What the next answers say.
    pub fn set(&self, text: &str) {
        self.answer.send_replace(text.to_owned());
    }

    /// Holds every call from now on until [`WebAnswer::release`].
    pub fn hold(&self) {
        self.held.send_replace(true);
    }

    /// Lets held and later calls through.
    pub fn release(&self) {
        self.held.send_replace(false);
    }

    /// How many calls arrived so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Waits until `n` calls are held.
    pub async fn wait_for_held(&self, n: usize, timeout: Duration) {
        crate::wait::until(&format!("{n} call(s) held at the web endpoint"), timeout, || async {
            let waiting = self.waiting.load(Ordering::SeqCst);
            if waiting >= n { Ok(()) } else { Err(format!("{waiting} held, {} calls", self.calls())) }
        })
        .await;
    }
}
