//! The Kubernetes manifests (`k8s/`): every overlay renders with `kubectl kustomize` (or
//! `kustomize build`), and in the rendered output every service is wired to what it
//! needs: its NATS user and password, the NATS Service, its probes on the port it
//! serves, its ServiceAccount, a disruption budget, and the replicas the overlay says;
//! the CRDs come with the api, whose ClusterRole grants what its Kubernetes mode does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use lading_bus::nats_users::{NatsUser, Password, server_authorization};
use serde_json::Value;

fn k8s() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s")
}

/// The overlay rendered, one JSON value per object.
fn render(overlay: &str) -> Vec<Value> {
    let dir = k8s().join("overlays").join(overlay);
    let output = Command::new("kustomize")
        .arg("build")
        .arg(&dir)
        .output()
        .or_else(|_| Command::new("kubectl").arg("kustomize").arg(&dir).output())
        .expect("neither kustomize nor kubectl is installed (scripts/test installs kubectl)");
    assert!(output.status.success(), "rendering {overlay}: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    serde_saphyr::from_multiple::<Value>(&text).unwrap().into_iter().filter(|v| !v.is_null()).collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn str_of(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// A ConfigMap's or a Secret's keys and (decoded) values.
fn entries(object: &Value) -> BTreeMap<String, String> {
    use base64::Engine as _;
    let mut entries = BTreeMap::new();
    if let Some(data) = object["data"].as_object() {
        for (key, value) in data {
            let text = if object["kind"] == "Secret" {
                let bytes = base64::engine::general_purpose::STANDARD.decode(str_of(value)).unwrap();
                String::from_utf8(bytes).unwrap()
            } else {
                str_of(value).to_owned()
            };
            entries.insert(key.clone(), text);
        }
    }
    if let Some(data) = object["stringData"].as_object() {
        entries.extend(data.iter().map(|(k, v)| (k.clone(), str_of(v).to_owned())));
    }
    entries
}

/// The environment a container sees from its `envFrom` ConfigMaps and Secrets and its
/// `env` (values, or `secret:<name>/<key>` for a reference), in that order.
fn environment(objects: &[Value], container: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for source in container["envFrom"].as_array().into_iter().flatten() {
        let (kind, name) = if source["configMapRef"].is_object() {
            ("ConfigMap", str_of(&source["configMapRef"]["name"]))
        } else {
            ("Secret", str_of(&source["secretRef"]["name"]))
        };
        let object = find(objects, kind, name).unwrap_or_else(|| panic!("envFrom names a missing {kind} {name}"));
        env.extend(entries(object));
    }
    for variable in container["env"].as_array().into_iter().flatten() {
        let name = str_of(&variable["name"]).to_owned();
        let value = if let Some(value) = variable["value"].as_str() {
            value.to_owned()
        } else if variable["valueFrom"]["secretKeyRef"].is_object() {
            let reference = &variable["valueFrom"]["secretKeyRef"];
            let (secret, key) = (str_of(&reference["name"]), str_of(&reference["key"]));
            let found = find(objects, "Secret", secret).unwrap_or_else(|| panic!("{name}: no Secret {secret}"));
            assert!(entries(found).contains_key(key), "{name}: Secret {secret} has no key {key}");
            format!("secret:{secret}/{key}")
        } else {
            "(from the pod)".to_owned()
        };
        env.insert(name, value);
    }
    env
}

/// `$(VAR)` references expanded with `env`, as the kubelet does.
fn expand(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (name, value) in env {
        out = out.replace(&format!("$({name})"), value);
    }
    out
}

/// The container port a probe or a Service's targetPort names (by name or number).
fn container_port(container: &Value, port: &Value) -> Option<u64> {
    container["ports"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == *port || p["containerPort"] == *port)
        .and_then(|p| p["containerPort"].as_u64())
}

fn selects(selector: &Value, labels: &Value) -> bool {
    selector["matchLabels"].as_object().is_some_and(|m| m.iter().all(|(k, v)| labels[k] == *v))
}

struct Expected {
    overlay: &'static str,
    replicas: [(&'static str, u64); 4],
    nats_replicas: u64,
}

const SERVICES: [(NatsUser, &str); 4] = [
    (NatsUser::Api, "lading-api"),
    (NatsUser::Warehouse, "lading-warehouse"),
    (NatsUser::Promoter, "lading-promoter"),
    (NatsUser::Verifier, "lading-verifier"),
];

fn check(expected: &Expected) {
    let objects = render(expected.overlay);
    let overlay = expected.overlay;
    let namespace = "lading";
    for object in &objects {
        let cluster_scoped = ["Namespace", "CustomResourceDefinition"].contains(&str_of(&object["kind"]));
        if !cluster_scoped && !object["kind"].as_str().unwrap().starts_with("Cluster") {
            assert_eq!(object["metadata"]["namespace"], namespace, "{overlay}: {}", object["metadata"]["name"]);
        }
    }

    check_kubernetes_mode(&objects, overlay);

    // NATS: a StatefulSet with as many routes as replicas, every user's password from the
    // Secret, the users file equal to nats_users.rs, a client Service on 4222.
    let nats = find(&objects, "StatefulSet", "nats").expect("a nats StatefulSet");
    assert_eq!(nats["spec"]["replicas"], expected.nats_replicas, "{overlay}: NATS nodes");
    let headless = find(&objects, "Service", str_of(&nats["spec"]["serviceName"])).expect("its headless Service");
    assert_eq!(headless["spec"]["clusterIP"], "None");
    let nats_pod = &nats["spec"]["template"];
    let nats_container = &nats_pod["spec"]["containers"][0];
    let nats_env = environment(&objects, nats_container);
    let users_secret = nats_container["envFrom"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|source| source["secretRef"]["name"].as_str())
        .expect("nats-server reads the passwords from a Secret");
    for user in NatsUser::ALL {
        assert!(nats_env.contains_key(&user.password_env()), "{overlay}: nats-server lacks {}", user.password_env());
    }
    let config_volume = nats_pod["spec"]["volumes"].as_array().unwrap().iter().find(|v| v["configMap"].is_object());
    let nats_config = find(&objects, "ConfigMap", str_of(&config_volume.unwrap()["configMap"]["name"])).unwrap();
    let files = entries(nats_config);
    let users = &files["users.conf"];
    assert!(
        users.ends_with(&server_authorization(|_| Password::FromEnv)),
        "{overlay}: users.conf is not the users of nats_users.rs"
    );
    let conf = &files["nats.conf"];
    assert!(conf.contains("include ./users.conf") && conf.contains("jetstream"), "{overlay}: {conf}");
    let routes = conf.matches("nats-headless:6222").count() as u64;
    let clustered = expected.nats_replicas > 1;
    assert_eq!(routes, if clustered { expected.nats_replicas } else { 0 }, "{overlay}: routes in {conf}");
    for n in 0..routes {
        assert!(conf.contains(&format!("nats://nats-{n}.{}:6222", str_of(&headless["metadata"]["name"]))));
    }
    let nats_service = find(&objects, "Service", "nats").expect("a nats Service");
    assert!(
        selects(&nats["spec"]["selector"], &nats_service["spec"]["selector"])
            || nats_service["spec"]["selector"] == nats["spec"]["selector"]["matchLabels"]
    );
    let client_port = nats_service["spec"]["ports"].as_array().unwrap().iter().find(|p| p["name"] == "client").unwrap();
    assert_eq!(container_port(nats_container, &client_port["targetPort"]), Some(4222));

    let service_accounts: BTreeSet<&str> =
        of_kind(&objects, "ServiceAccount").iter().map(|a| str_of(&a["metadata"]["name"])).collect();
    let mut used_accounts = BTreeSet::from([str_of(&nats_pod["spec"]["serviceAccountName"])]);

    for (user, name) in SERVICES {
        let deployment =
            find(&objects, "Deployment", name).unwrap_or_else(|| panic!("{overlay}: no Deployment {name}"));
        let wanted = expected.replicas.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!(deployment["spec"]["replicas"], wanted, "{overlay}: {name} replicas");
        let pod = &deployment["spec"]["template"];
        assert!(selects(&deployment["spec"]["selector"], &pod["metadata"]["labels"]), "{overlay}: {name} selector");
        let container = &pod["spec"]["containers"][0];
        assert_eq!(container["command"][0], name, "{overlay}: {name} runs its own binary");
        let env = environment(&objects, container);

        // Its own NATS user, its own password, the NATS Service's client port.
        let url = expand(&env["LADING_NATS_URL"], &env);
        // The password is the one nats-server reads for this user: same Secret, same key.
        let password_ref = format!("secret:{users_secret}/{}", user.password_env());
        let (userinfo, host) = url.strip_prefix("nats://").unwrap().rsplit_once('@').unwrap();
        assert_eq!(userinfo, format!("{}:{password_ref}", user.name()), "{overlay}: {name}'s NATS user in {url}");
        let (service, port) = host.split_once(':').unwrap();
        assert_eq!(service, "nats", "{overlay}: {name} connects to {host}");
        assert_eq!(port.parse::<u64>().unwrap(), client_port["port"].as_u64().unwrap(), "{overlay}: {name}");

        // No more copies of a stream than NATS has servers.
        if let Some(replicas) = env.get("LADING_STREAM_REPLICAS") {
            let replicas: u64 = replicas.parse().unwrap();
            assert!(
                replicas <= expected.nats_replicas,
                "{overlay}: {name} wants R{replicas} of {} servers",
                expected.nats_replicas
            );
        }

        // Probes on the port the process serves health on.
        let health_addr = if user == NatsUser::Api { &env["LADING_API_ADDR"] } else { &env["LADING_HEALTH_ADDR"] };
        let served: u64 = health_addr.rsplit_once(':').unwrap().1.parse().unwrap();
        for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
            let get = &container[probe]["httpGet"];
            assert_eq!(get["path"], path, "{overlay}: {name} {probe}");
            assert_eq!(container_port(container, &get["port"]), Some(served), "{overlay}: {name} {probe} port");
        }
        assert!(container["resources"]["requests"].is_object(), "{overlay}: {name} has no resource requests");
        assert!(pod["spec"]["affinity"]["podAntiAffinity"].is_object(), "{overlay}: {name} has no anti-affinity");

        // A disruption budget, and a Service whose port reaches the container.
        let pdbs = of_kind(&objects, "PodDisruptionBudget");
        assert!(
            pdbs.iter().any(|p| selects(&p["spec"]["selector"], &pod["metadata"]["labels"])),
            "{overlay}: {name} PDB"
        );
        let service = find(&objects, "Service", name).unwrap_or_else(|| panic!("{overlay}: no Service {name}"));
        for port in service["spec"]["ports"].as_array().unwrap() {
            assert!(container_port(container, &port["targetPort"]).is_some(), "{overlay}: Service {name} {port}");
        }

        let account = str_of(&pod["spec"]["serviceAccountName"]);
        assert!(service_accounts.contains(account), "{overlay}: {name} uses a missing ServiceAccount {account}");
        used_accounts.insert(account);
    }

    // Every ServiceAccount is some pod's; every binding names one that exists, and the
    // api's (the only service that talks to Kubernetes) is bound.
    assert_eq!(used_accounts, service_accounts, "{overlay}: ServiceAccounts no pod uses");
    let mut bound = BTreeSet::new();
    for binding in of_kind(&objects, "ClusterRoleBinding").into_iter().chain(of_kind(&objects, "RoleBinding")) {
        let role = &binding["roleRef"];
        assert!(find(&objects, str_of(&role["kind"]), str_of(&role["name"])).is_some(), "{overlay}: {role}");
        for subject in binding["subjects"].as_array().unwrap() {
            assert_eq!(subject["namespace"], namespace, "{overlay}: {subject}");
            assert!(service_accounts.contains(str_of(&subject["name"])), "{overlay}: binds a missing {subject}");
            bound.insert(str_of(&subject["name"]));
        }
    }
    assert!(bound.contains("lading-api"), "{overlay}: the api's ServiceAccount is not bound");
    for ingress in of_kind(&objects, "Ingress") {
        for rule in ingress["spec"]["rules"].as_array().unwrap() {
            for path in rule["http"]["paths"].as_array().unwrap() {
                let backend = &path["backend"]["service"];
                let service = find(&objects, "Service", str_of(&backend["name"])).expect("the Ingress's Service");
                assert!(
                    service["spec"]["ports"].as_array().unwrap().iter().any(|p| p["name"] == backend["port"]["name"])
                );
            }
        }
    }
}

/// Whether `rules` let `verb` be done on `resource` of `group`.
fn grants(rules: &Value, group: &str, resource: &str, verb: &str) -> bool {
    let has = |list: &Value, item: &str| list.as_array().into_iter().flatten().any(|v| v == item || v == "*");
    rules
        .as_array()
        .into_iter()
        .flatten()
        .any(|rule| has(&rule["apiGroups"], group) && has(&rule["resources"], resource) && has(&rule["verbs"], verb))
}

/// The api runs in Kubernetes mode: the CRDs are installed with it, and its ClusterRole
/// grants everything that mode asks of the apiserver and nothing it does not.
fn check_kubernetes_mode(objects: &[Value], overlay: &str) {
    for resource in lading_api::kubernetes::crds::ALL {
        let name = format!("{}.{}", resource.plural, lading_api::kubernetes::crds::GROUP);
        assert!(find(objects, "CustomResourceDefinition", &name).is_some(), "{overlay}: no CRD {name}");
    }
    let deployment = find(objects, "Deployment", "lading-api").unwrap();
    let env = environment(objects, &deployment["spec"]["template"]["spec"]["containers"][0]);
    assert_eq!(env.get("LADING_KUBE").map(String::as_str), Some("true"), "{overlay}: the api's Kubernetes mode");
    let roles: Vec<&Value> =
        of_kind(objects, "ClusterRole").into_iter().filter(|r| r["metadata"]["name"] == "lading-api").collect();
    assert_eq!(roles.len(), 1, "{overlay}: one ClusterRole lading-api");
    let rules = &roles[0]["rules"];
    let wanted = lading_api::kubernetes::permissions();
    for (group, resource, verb) in &wanted {
        assert!(grants(rules, group, resource, verb), "{overlay}: lading-api may not {verb} {resource} ({group:?})");
    }
    // Nothing beyond: every verb the role lists on a resource is one the api uses.
    for rule in rules.as_array().unwrap() {
        for group in rule["apiGroups"].as_array().unwrap() {
            for resource in rule["resources"].as_array().unwrap() {
                for verb in rule["verbs"].as_array().unwrap() {
                    let used = wanted.iter().any(|(g, r, v)| g == group && r == resource && v == verb);
                    assert!(
                        used,
                        "{overlay}: lading-api grants {verb} on {resource} ({group}), which the api never does"
                    );
                }
            }
        }
    }
    let binding = find(objects, "ClusterRoleBinding", "lading-api").unwrap();
    assert_eq!(binding["roleRef"]["name"], "lading-api");
    assert_eq!(binding["subjects"][0]["name"], str_of(&deployment["spec"]["template"]["spec"]["serviceAccountName"]));
    check_secret_reader(objects, overlay);
}

/// The promoter and the verifier read secrets from project namespaces in Kubernetes
/// mode: their pods mount a token, and their ClusterRole grants listing Secrets, which
/// the code does (`lading_secret_source::PERMISSIONS`), and nothing else.
fn check_secret_reader(objects: &[Value], overlay: &str) {
    let role = find(objects, "ClusterRole", "lading-secret-reader").expect("a ClusterRole lading-secret-reader");
    let rules = &role["rules"];
    for (group, resource, verb) in lading_secret_source::PERMISSIONS {
        assert!(grants(rules, group, resource, verb), "{overlay}: lading-secret-reader may not {verb} {resource}");
    }
    for rule in rules.as_array().unwrap() {
        for (group, resource, verb) in rule["apiGroups"].as_array().unwrap().iter().flat_map(|g| {
            rule["resources"].as_array().unwrap().iter().flat_map(move |r| {
                rule["verbs"].as_array().unwrap().iter().map(move |v| (str_of(g), str_of(r), str_of(v)))
            })
        }) {
            assert!(
                lading_secret_source::PERMISSIONS.contains(&(group, resource, verb)),
                "{overlay}: lading-secret-reader grants {verb} on {resource} ({group}), which is never done"
            );
        }
    }
    let binding = find(objects, "ClusterRoleBinding", "lading-secret-reader").unwrap();
    assert_eq!(binding["roleRef"]["name"], "lading-secret-reader");
    let bound: BTreeSet<&str> = binding["subjects"].as_array().unwrap().iter().map(|s| str_of(&s["name"])).collect();
    for name in ["lading-promoter", "lading-verifier"] {
        let deployment = find(objects, "Deployment", name).unwrap();
        let pod = &deployment["spec"]["template"]["spec"];
        assert!(bound.contains(str_of(&pod["serviceAccountName"])), "{overlay}: {name} may not read Secrets");
        assert_eq!(pod["automountServiceAccountToken"], true, "{overlay}: {name} mounts no token");
        let env = environment(objects, &pod["containers"][0]);
        assert_eq!(env.get("LADING_KUBE").map(String::as_str), Some("true"), "{overlay}: {name}'s Kubernetes mode");
    }
}

#[test]
fn the_production_overlay_is_wired() {
    check(&Expected {
        overlay: "production",
        replicas: [("lading-api", 2), ("lading-warehouse", 2), ("lading-promoter", 3), ("lading-verifier", 2)],
        nats_replicas: 3,
    });
}

#[test]
fn the_dev_overlay_is_wired() {
    check(&Expected {
        overlay: "dev",
        replicas: [("lading-api", 1), ("lading-warehouse", 1), ("lading-promoter", 1), ("lading-verifier", 1)],
        nats_replicas: 1,
    });
}
