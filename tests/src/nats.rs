//! A NATS server (JetStream on) owned by one test, admitting only Lading's users with
//! their permissions, as `lading up` runs it.

use lading_bus::Bus;
use lading_bus::local_server::LocalNatsServer;
use lading_bus::nats_users::{NatsPasswords, NatsUser};

pub struct TestNats {
    server: Option<LocalNatsServer>,
    passwords: NatsPasswords,
    _dir: tempfile::TempDir,
}

impl TestNats {
    /// Starts a server; panics with the reason (and how to install NATS) when it cannot.
    pub async fn start() -> TestNats {
        let dir = tempfile::tempdir().expect("temp dir");
        let passwords = NatsPasswords::generate().expect("passwords");
        let server = LocalNatsServer::start_with_users(dir.path(), &passwords).await.unwrap_or_else(|e| panic!("{e}"));
        TestNats { server: Some(server), passwords, _dir: dir }
    }

    /// The server's URL as the `admin` user (who may do anything).
    pub fn url(&self) -> String {
        self.url_for(NatsUser::Admin)
    }

    /// The server's URL as `user`.
    pub fn url_for(&self, user: NatsUser) -> String {
        self.passwords.url_for(&self.plain_url(), user)
    }

    /// The server's URL with no user.
    pub fn plain_url(&self) -> String {
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

    /// Kills the server (SIGKILL); [`TestNats::resume`] starts it again.
    pub async fn kill(&mut self) {
        self.server.as_mut().expect("running").kill().await;
    }

    /// Starts a killed server again on the same port with the same store.
    pub async fn resume(&mut self) {
        self.server.as_mut().expect("killed").resume().await.unwrap_or_else(|e| panic!("{e}"));
    }

    /// A plain NATS client connected as `admin`.
    pub async fn client(&self) -> async_nats::Client {
        let (url, credentials) = lading_bus::nats_users::split_credentials(&self.url());
        let (user, password) = credentials.expect("the admin URL has credentials");
        async_nats::ConnectOptions::with_user_and_password(user, password).connect(url).await.expect("connect")
    }

    /// A provisioned bus connection.
    pub async fn bus(&self, service: &str) -> Bus {
        let bus = Bus::connect(&self.url(), service).await.expect("connect");
        bus.provision().await.expect("provision");
        bus
    }
}
