//! A headless Chromium per test, driven over WebDriver: Debian's `chromium` and
//! `chromium-driver` (`scripts/lib/tools.sh` installs them), `chromedriver` on a free
//! loopback port, a fresh profile in a temp dir, no network beyond loopback. Dropping the
//! browser ends the driver (and with it the browser).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::wait;

/// How long a page gets to show what a test waits for.
pub const UI_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// The Chromium binary: `LADING_CHROMIUM`, else Debian's `/usr/bin/chromium`.
fn chromium_binary() -> String {
    std::env::var("LADING_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

/// Where tests save screenshots: `target/ui-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    std::fs::create_dir_all(&dir).expect("a screenshot directory");
    dir
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub async fn start() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(std::env::var("LADING_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned()))
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that ending it ends the browsers it started.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver: {e} (install it: apt-get install chromium chromium-driver)"));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium_binary(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut driver = Some(driver);
        let client = wait::until("chromedriver to start a session", UI_TIMEOUT, || {
            let capabilities = capabilities.clone();
            let url = url.clone();
            let exited = driver.as_mut().and_then(|d| d.try_wait().ok().flatten());
            async move {
                if let Some(status) = exited {
                    panic!("chromedriver exited: {status}");
                }
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities)
                    .connect(&url)
                    .await
                    .map_err(|e| e.to_string())
            }
        })
        .await;
        Browser { client, driver: driver.take().unwrap(), _profile: profile }
    }

    /// Opens `url` (a full page load).
    pub async fn open(&self, url: &str) {
        self.client.goto("about:blank").await.expect("about:blank");
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Logs in on the page's login form with `token`.
    pub async fn login(&self, api_url: &str, token: &str) {
        self.open(&format!("{api_url}/#/login")).await;
        let field = self.wait_for("#token").await;
        field.send_keys(token).await.expect("type the token");
        self.click("#login-button").await;
        self.wait_until("the logged-in user's name", "return document.getElementById('who').textContent").await;
    }

    /// The first element `css` selects, once there is one.
    pub async fn wait_for(&self, css: &str) -> Element {
        wait::until(&format!("an element {css}"), UI_TIMEOUT, || async {
            self.client.find(Locator::Css(css)).await.map_err(|e| e.to_string())
        })
        .await
    }

    /// Waits until `script` (a function body) returns something truthy; returns it.
    pub async fn wait_until(&self, what: &str, script: &str) -> Value {
        wait::until(what, UI_TIMEOUT, || async {
            let value = self.client.execute(script, vec![]).await.map_err(|e| e.to_string())?;
            match &value {
                Value::Null | Value::Bool(false) => Err(format!("{value}")),
                Value::String(s) if s.is_empty() => Err("empty".to_owned()),
                _ => Ok(value),
            }
        })
        .await
    }

    /// Runs `script` (a function body) and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Clicks the first element `css` selects, once there is one.
    pub async fn click(&self, css: &str) {
        wait::until(&format!("a click on {css}"), UI_TIMEOUT, || async {
            let element = self.client.find(Locator::Css(css)).await.map_err(|e| e.to_string())?;
            element.click().await.map_err(|e| e.to_string())
        })
        .await;
    }

    /// Moves the mouse onto `element` (what a user does to read its tooltip).
    pub async fn hover(&self, element: &Element) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction};
        let moved = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element: element.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        });
        self.client.perform_actions(moved).await.expect("hover");
    }

    /// How many elements `css` selects now.
    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.map(|all| all.len()).unwrap_or(0)
    }

    /// Saves a PNG screenshot as `target/ui-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("save the screenshot");
    }

    /// A performance mark's time since navigation start, in milliseconds.
    pub async fn mark(&self, name: &str) -> f64 {
        let script =
            format!("const m = performance.getEntriesByName('{name}', 'mark')[0]; return m ? m.startTime : null");
        self.wait_until(&format!("the performance mark {name}"), &script).await.as_f64().expect("a time")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver's process group: chromedriver and the Chromium it started.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
