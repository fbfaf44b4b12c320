//! A NATS server (JetStream on) owned by one test.

use lading_bus::Bus;
use lading_bus::local_server::LocalNatsServer;

pub struct TestNats {
    server: Option<LocalNatsServer>,
    _dir: tempfile::TempDir,
}

impl TestNats {
    /// Starts a server; panics with the reason (and how to install NATS) when it cannot.
    pub async fn start() -> TestNats {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = LocalNatsServer::start(dir.path()).await.unwrap_or_else(|e| panic!("{e}"));
        TestNats { server: Some(server), _dir: dir }
    }

    pub fn url(&self) -> String {
        self.server.as_ref().map(|s| s.url().to_owned()).unwrap_or_default()
    }

    /// The server's log file.
    pub fn log_path(&self) -> std::path::PathBuf {
        self.server.as_ref().map(|s| s.log_path().to_path_buf()).unwrap_or_default()
    }

    /// Restarts the server on the same port with the same store.
    pub async fn restart(&mut self) {
        self.server.as_mut().expect("running").restart().await.unwrap_or_else(|e| panic!("{e}"));
    }

    /// A provisioned bus connection.
    pub async fn bus(&self, service: &str) -> Bus {
        let bus = Bus::connect(&self.url(), service).await.expect("connect");
        bus.provision().await.expect("provision");
        bus
    }
}
