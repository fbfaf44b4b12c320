//! A real etcd and kube-apiserver owned by one test: free loopback ports, a temp dir
//! with their data, certificates and a kubeconfig, and `kubectl` pointed at it (as the
//! cluster admin). Lading's api talks to it as its own ServiceAccount, with only the
//! ClusterRole `lading-api` of `k8s/base/rbac.yaml`.
//!
//! The binaries come from `scripts/lib/kube.sh` (`ensure_kube_apiserver`, which
//! `scripts/test` runs): `LADING_KUBE_APISERVER` and `LADING_ETCD` name them, else the
//! cache it builds into is looked in.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait;

/// The bearer token of the cluster admin (`system:masters`) every test cluster knows.
const ADMIN_TOKEN: &str = "lading-test-cluster-admin-token";
/// The bearer token of the api's identity.
const API_TOKEN: &str = "lading-test-api-service-account-token";
/// The api's identity: the ServiceAccount `k8s/base` binds the ClusterRole `lading-api` to.
pub const API_USER: &str = "system:serviceaccount:lading:lading-api";
/// The promoter's and the verifier's identities (ServiceAccounts `k8s/base` binds the
/// ClusterRole `lading-secret-reader` to): (context in the kubeconfig, user, token).
pub const PROMOTER: (&str, &str, &str) =
    ("promoter", "system:serviceaccount:lading:lading-promoter", "lading-test-promoter-token-41c9");
pub const VERIFIER: (&str, &str, &str) =
    ("verifier", "system:serviceaccount:lading:lading-verifier", "lading-test-verifier-token-83be");
/// Two people the cluster knows, with no rights until a test binds them: (user, token).
pub const ALICE: (&str, &str) = ("alice", "lading-test-alice-token-5d1e");
pub const BOB: (&str, &str) = ("bob", "lading-test-bob-token-7a2c");

pub struct TestKube {
    etcd: Child,
    apiserver: Child,
    dir: tempfile::TempDir,
    pub url: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address").port()
}

fn binary(env: &str, cached: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("LADING_KUBE_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
        base.join("lading/kapi")
    });
    let path = cache.join(cached);
    assert!(
        path.exists(),
        "{} is missing: run `source scripts/lib/tools.sh && ensure_kube_apiserver` (scripts/test does) or set {env}",
        path.display()
    );
    path
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Certificates: a CA, the apiserver's serving certificate for 127.0.0.1, and the
/// service-account signing key.
fn write_pki(dir: &Path) {
    let ca_key = rcgen::KeyPair::generate().expect("a CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "lading-test-cluster-ca");
    let ca_cert = ca_params.self_signed(&ca_key).expect("the CA certificate");
    std::fs::write(dir.join("ca.crt"), ca_cert.pem()).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("a serving key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("serving params")
        .signed_by(&key, &issuer)
        .expect("the serving certificate");
    std::fs::write(dir.join("apiserver.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("apiserver.key"), key.serialize_pem()).unwrap();
    let sa = rcgen::KeyPair::generate().expect("a service-account key");
    std::fs::write(dir.join("sa.key"), sa.serialize_pem()).unwrap();
    std::fs::write(dir.join("sa.pub"), sa.public_key_pem()).unwrap();
    std::fs::write(
        dir.join("tokens.csv"),
        format!(
            "{ADMIN_TOKEN},lading-test-admin,lading-test-admin,system:masters\n\
             {API_TOKEN},{API_USER},lading-api,system:serviceaccounts\n\
             {},{},alice,people\n{},{},bob,people\n\
             {},{},lading-promoter,system:serviceaccounts\n{},{},lading-verifier,system:serviceaccounts\n",
            ALICE.1, ALICE.0, BOB.1, BOB.0, PROMOTER.2, PROMOTER.1, VERIFIER.2, VERIFIER.1
        ),
    )
    .unwrap();
}

impl TestKube {
    /// Starts etcd and the apiserver and waits until the apiserver is ready.
    pub async fn start() -> TestKube {
        let apiserver_bin = binary("LADING_KUBE_APISERVER", "bin/kube-apiserver");
        let etcd_bin = binary("LADING_ETCD", "etcd/usr/bin/etcd");
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        write_pki(d);
        let (etcd_port, peer_port, api_port) = (free_port(), free_port(), free_port());
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let etcd = Command::new(etcd_bin)
            .args(["--name", "lading-test", "--log-level", "warn", "--logger", "zap"])
            .arg("--data-dir")
            .arg(d.join("etcd-data"))
            .args(["--listen-client-urls", &etcd_url, "--advertise-client-urls", &etcd_url])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .arg(format!("--initial-cluster=lading-test={peer_url}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("etcd.log")).unwrap())
            .spawn()
            .expect("etcd starts");
        let file = |name: &str| d.join(name).display().to_string();
        let apiserver = Command::new(apiserver_bin)
            .arg(format!("--etcd-servers={etcd_url}"))
            .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--insecure-port=0"])
            .arg(format!("--secure-port={api_port}"))
            .arg(format!("--tls-cert-file={}", file("apiserver.crt")))
            .arg(format!("--tls-private-key-file={}", file("apiserver.key")))
            .arg(format!("--cert-dir={}", file("certs")))
            .arg(format!("--token-auth-file={}", file("tokens.csv")))
            .args(["--authorization-mode=RBAC", "--service-cluster-ip-range=10.0.0.0/24"])
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .arg(format!("--service-account-key-file={}", file("sa.pub")))
            .arg(format!("--service-account-signing-key-file={}", file("sa.key")))
            .args(["--disable-admission-plugins=ServiceAccount", "--endpoint-reconciler-type=none"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("apiserver.log")).unwrap())
            .spawn()
            .expect("kube-apiserver starts");
        let url = format!("https://127.0.0.1:{api_port}");
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster: {{server: \"{url}\", certificate-authority: \"{}\"}}\n\
             users:\n- name: admin\n  user: {{token: \"{ADMIN_TOKEN}\"}}\n- name: api\n  user: {{token: \"{API_TOKEN}\"}}\n\
             - name: promoter\n  user: {{token: \"{}\"}}\n- name: verifier\n  user: {{token: \"{}\"}}\n\
             contexts:\n- name: test\n  context: {{cluster: test, user: admin, namespace: default}}\n\
             - name: api\n  context: {{cluster: test, user: api, namespace: default}}\n\
             - name: promoter\n  context: {{cluster: test, user: promoter, namespace: default}}\n\
             - name: verifier\n  context: {{cluster: test, user: verifier, namespace: default}}\n\
             current-context: test\n",
            file("ca.crt"),
            PROMOTER.2,
            VERIFIER.2,
        );
        std::fs::write(d.join("kubeconfig"), kubeconfig).unwrap();
        let kube = TestKube { etcd, apiserver, dir, url };
        let log = kube.dir.path().join("apiserver.log");
        wait::until("kube-apiserver to be ready", Duration::from_secs(120), || {
            let kube = &kube;
            let log = log.clone();
            async move {
                let (ok, out, err) = kube.kubectl(&["get", "namespace", "default", "-o", "name"]).await;
                if ok { Ok(()) } else { Err(format!("{out}{err}\napiserver log:\n{}", tail(&log))) }
            }
        })
        .await;
        kube
    }

    /// Installs Lading's CRDs (`lading crds`) and waits until the apiserver serves them.
    pub async fn install_crds(&self) {
        let crds = lading_api::kubernetes::crds::crds_yaml();
        let (ok, out, err) = self.kubectl_with_input(&["apply", "-f", "-"], Some(&crds)).await;
        assert!(ok, "the CRDs apply: {out}{err}");
        for resource in lading_api::kubernetes::crds::ALL {
            let crd = format!("crd/{}.lading.dev", resource.plural);
            self.kubectl_ok(&["wait", "--for", "condition=established", "--timeout=60s", &crd]).await;
        }
    }

    /// Api settings for Kubernetes mode on this cluster, as the api's ServiceAccount with
    /// the ClusterRole `lading-api` of `k8s/base/rbac.yaml` (granted here) and nothing else.
    pub async fn lading_settings(&self) -> lading_api::kubernetes::Settings {
        self.grant_api_role().await;
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig_path()).expect("the kubeconfig reads");
        let options = kube::config::KubeConfigOptions { context: Some("api".to_owned()), ..Default::default() };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("a kube config");
        lading_api::kubernetes::Settings { config: Some(config), ..Default::default() }
    }

    /// Applies the ClusterRoles of `k8s/base/rbac.yaml` (lading-viewer, -promoter, -admin,
    /// -api) and the api's binding, and waits until the apiserver authorizes by them.
    pub async fn grant_api_role(&self) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../k8s/base/rbac.yaml");
        let text = std::fs::read_to_string(path).expect("k8s/base/rbac.yaml reads");
        let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).expect("rbac.yaml parses");
        let items: Vec<serde_json::Value> =
            documents.into_iter().filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "ClusterRoleBinding").collect();
        assert_eq!(items.len(), 7, "k8s/base/rbac.yaml has five ClusterRoles and two bindings");
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
        let (ok, out, err) = self.kubectl_with_input(&["apply", "-f", "-"], Some(&list)).await;
        assert!(ok, "the roles apply: {out}{err}");
        wait::until("the api's role to be in force", Duration::from_secs(30), || async {
            let (_, out, err) = self.kubectl(&["auth", "can-i", "watch", "stages.lading.dev", "--as", API_USER]).await;
            if out.trim() == "yes" { Ok(()) } else { Err(format!("{out}{err}")) }
        })
        .await;
    }

    /// A kube client configuration for the kubeconfig's `context` (`api`, `promoter`,
    /// `verifier`: a service's identity, with only the rights `k8s/base/rbac.yaml` gives
    /// it once [`TestKube::grant_api_role`] applied them).
    pub async fn config_as(&self, context: &str) -> kube::Config {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig_path()).expect("the kubeconfig reads");
        let options = kube::config::KubeConfigOptions { context: Some(context.to_owned()), ..Default::default() };
        kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("a kube config")
    }

    /// The kubeconfig file (admin user, CA, server URL).
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// A kube client configuration for the admin.
    pub async fn config(&self) -> kube::Config {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig_path()).expect("the kubeconfig reads");
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .expect("a kube config")
    }

    pub async fn client(&self) -> kube::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        kube::Client::try_from(self.config().await).expect("a kube client")
    }

    /// Runs `kubectl ARGS` against this cluster: (success, stdout, stderr).
    pub async fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        self.kubectl_with_input(args, None).await
    }

    /// Runs `kubectl ARGS` with `input` on its standard input.
    pub async fn kubectl_with_input(&self, args: &[&str], input: Option<&str>) -> (bool, String, String) {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new("kubectl")
            .env("KUBECONFIG", self.kubeconfig_path())
            .args(args)
            .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl runs (scripts/test installs it)");
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(input.as_bytes()).await.expect("kubectl reads its input");
        }
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("kubectl answers within a minute")
            .expect("kubectl finishes");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Runs `kubectl ARGS`, panicking with its output when it fails; its stdout.
    pub async fn kubectl_ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.kubectl(args).await;
        assert!(ok, "kubectl {} failed:\n{out}{err}", args.join(" "));
        out
    }

    /// The last lines of the apiserver's log.
    pub fn apiserver_log(&self) -> String {
        tail(&self.dir.path().join("apiserver.log"))
    }
}

impl Drop for TestKube {
    fn drop(&mut self) {
        for child in [&mut self.apiserver, &mut self.etcd] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
