//! A NATS cluster owned by one test: `size` servers on loopback (JetStream on, each
//! with its own store and free ports, routes to all the others), admitting only
//! Lading's users as [`crate::nats::TestNats`] does. A server can be killed and started
//! again on the same ports and store, as a node of a production cluster restarts.

use std::time::Duration;

use lading_bus::Bus;
use lading_bus::local_server::LocalNatsServer;
use lading_bus::nats_users::{NatsPasswords, NatsUser};

use crate::wait;

pub struct TestNatsCluster {
    servers: Vec<LocalNatsServer>,
    passwords: NatsPasswords,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl TestNatsCluster {
    /// Starts `size` servers and waits until JetStream has a leader and accepts streams
    /// with `size` replicas.
    pub async fn start(size: usize) -> TestNatsCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let passwords = NatsPasswords::generate().expect("passwords");
        let route_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let routes =
            route_ports.iter().map(|port| format!("nats-route://127.0.0.1:{port}")).collect::<Vec<_>>().join(", ");
        let mut servers = Vec::new();
        for (index, port) in route_ports.iter().enumerate() {
            let configuration = format!(
                "server_name: n{index}\ncluster {{\n  name: lading-test\n  listen: 127.0.0.1:{port}\n  routes: [{routes}]\n}}\n"
            );
            let store = dir.path().join(format!("n{index}"));
            let server = LocalNatsServer::start_with_users_and(&store, &passwords, &configuration)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            servers.push(server);
        }
        let cluster = TestNatsCluster { servers, passwords, _dir: dir };
        cluster.wait_until_replicated(size).await;
        cluster
    }

    /// Waits until a stream with `replicas` replicas can be made (a leader is elected and
    /// enough servers are in the cluster), then deletes it.
    async fn wait_until_replicated(&self, replicas: usize) {
        let client = self.client().await;
        let js = async_nats::jetstream::new(client);
        wait::until("the NATS cluster to elect a leader", Duration::from_secs(60), || {
            let js = js.clone();
            async move {
                let config = async_nats::jetstream::stream::Config {
                    name: "CLUSTER_CHECK".to_owned(),
                    subjects: vec!["cluster.check".to_owned()],
                    num_replicas: replicas,
                    ..Default::default()
                };
                js.get_or_create_stream(config).await.map_err(|e| e.to_string())?;
                js.delete_stream("CLUSTER_CHECK").await.map_err(|e| e.to_string())?;
                Ok(())
            }
        })
        .await;
    }

    /// How many servers the cluster has.
    pub fn size(&self) -> usize {
        self.servers.len()
    }

    /// Every server's URL as `user`, comma-separated (what `LADING_NATS_URL` takes).
    pub fn url_for(&self, user: NatsUser) -> String {
        self.servers.iter().map(|s| self.passwords.url_for(s.url(), user)).collect::<Vec<_>>().join(",")
    }

    /// Every server's URL as `admin`.
    pub fn url(&self) -> String {
        self.url_for(NatsUser::Admin)
    }

    /// Kills server `index` (SIGKILL), as a node that crashes.
    pub async fn kill(&mut self, index: usize) {
        self.servers[index].kill().await;
    }

    /// Starts server `index` again on its ports with its store.
    pub async fn resume(&mut self, index: usize) {
        self.servers[index].resume().await.unwrap_or_else(|e| panic!("{e}"));
    }

    /// A plain NATS client connected as `admin` to any server.
    pub async fn client(&self) -> async_nats::Client {
        let (urls, credentials) = lading_bus::nats_users::split_server_list(&self.url());
        let (user, password) = credentials.expect("the admin URL has credentials");
        async_nats::ConnectOptions::with_user_and_password(user, password)
            .retry_on_initial_connect()
            .connect(urls)
            .await
            .expect("connect")
    }

    /// A provisioned bus connection as `admin`.
    pub async fn bus(&self, service: &str) -> Bus {
        let bus = Bus::connect(&self.url(), service).await.expect("connect");
        bus.provision().await.expect("provision");
        bus
    }
}
