//! Bytes nobody should send, sent by the thousand while a pipeline runs: every message
//! that does not decode is dead-lettered with its reason, every service stays up, and
//! the pipeline's freight is promoted as usual. The same for malformed manifests sent
//! to the api at once: each gets an error, nothing is stored.

use std::time::{Duration, Instant};

use lading_bus::consume::DEAD_LETTER_REASON;
use lading_bus::names::DEAD_LETTER_STREAM;
use lading_events::catalog::{EventType, FreightCreatedV1, PromotionCreatedV1, PromotionTrigger};
use lading_events::{Event, decode, encode};
use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, quickstart};
use lading_tests::wait;

const TIMEOUT: Duration = Duration::from_secs(120);
const POISON: usize = 10_000;

/// A small deterministic generator (xorshift64*), so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A well-formed event to truncate or mislabel.
fn sample(rng: &mut Rng) -> Event {
    if rng.below(2) == 0 {
        Event::FreightCreated(FreightCreatedV1 {
            project: "demo".into(),
            freight_id: format!("{:040x}", rng.next()),
            alias: "poison-pill".into(),
            origin_kind: "Warehouse".into(),
            origin_name: "app".into(),
            commits: vec![],
            images: vec![],
            charts: vec![],
            created_at_ms: 1,
        })
    } else {
        Event::PromotionCreated(PromotionCreatedV1 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: format!("test.poison{}.0000000", rng.next()),
            freight_id: "nope".into(),
            trigger: PromotionTrigger::Manual,
            created_at_ms: 1,
        })
    }
}

/// One poison message: (subject, ce-type header or none, payload).
fn poison(rng: &mut Rng) -> (EventType, String, Option<String>, Vec<u8>) {
    let types = EventType::ALL;
    let kind = types[rng.below(types.len())];
    let name = if kind.entity_kind() == "freight" { format!("{:040x}", rng.next()) } else { "test".to_owned() };
    let subject = lading_events::subject::event("demo", kind.entity_kind(), &name, kind.subject_token());
    let ce_type = match rng.below(4) {
        0 => None,
        1 => Some("dev.lading.nothing.v9".to_owned()),
        _ => Some(kind.ce_type().to_owned()),
    };
    let payload = match rng.below(3) {
        0 => {
            let n = rng.below(200);
            rng.bytes(n)
        }
        1 => {
            let whole = encode(&sample(rng));
            whole[..rng.below(whole.len())].to_vec()
        }
        _ => {
            let mut whole = encode(&sample(rng));
            let at = rng.below(whole.len());
            whole[at] ^= 0xff;
            whole
        }
    };
    (kind, subject, ce_type, payload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_poison_is_dead_lettered_while_the_pipeline_promotes() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;
    let bus = sandbox.nats.bus("poisoner").await;

    // Given 10,000 random, truncated and damaged messages on the event subjects,
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    // Undecodable messages on fact subjects, and on discovery subjects (whose stream
    // keeps only the latest per subject: one replaced before it was read is gone).
    let (mut undecodable, mut undecodable_discoveries) = (0, 0);
    let started = Instant::now();
    let flood = {
        let mut messages = Vec::with_capacity(POISON);
        for _ in 0..POISON {
            let (kind, subject, ce_type, payload) = poison(&mut rng);
            if decode(ce_type.as_deref(), &payload).is_err() {
                let latest_only = kind.kept() == lading_events::catalog::Kept::Latest;
                if latest_only {
                    undecodable_discoveries += 1;
                } else {
                    undecodable += 1;
                }
            }
            messages.push((subject, ce_type, payload));
        }
        let js = bus.jetstream().clone();
        tokio::spawn(async move {
            for (subject, ce_type, payload) in messages {
                let mut headers = async_nats::HeaderMap::new();
                if let Some(ce_type) = ce_type {
                    headers.insert("ce-type", ce_type.as_str());
                }
                js.publish_with_headers(subject, headers, payload.into()).await.unwrap().await.unwrap();
            }
        })
    };
    // while the pipeline promotes a freight, and a second one arrives mid-flood,
    sandbox.wait_current_in("demo", &first, "uat", TIMEOUT).await;
    let second = app.commit("app.txt", "v2", "second");
    sandbox.refresh("demo", "app").await;
    flood.await.unwrap();
    let flooded_in = started.elapsed();
    // then the pipeline promotes as usual,
    sandbox.wait_current_in("demo", &second, "uat", TIMEOUT).await;
    // every message that does not decode is dead-lettered with a reason,
    let dead = wait::until("every undecodable message in the dead letters", TIMEOUT, || async {
        let count = count_subject(&bus, "lading.dlq.api-log-check").await;
        if count >= undecodable { Ok(count) } else { Err(format!("{count} of {undecodable}")) }
    })
    .await;
    assert_eq!(dead, undecodable, "each undecodable fact once by the log check");
    let discoveries = count_subject(&bus, "lading.dlq.api-log-check-discovery").await;
    assert!(
        discoveries >= 1 && discoveries <= undecodable_discoveries,
        "{discoveries} of {undecodable_discoveries} discoveries (the rest were replaced before they were read)"
    );
    let stream = bus.jetstream().get_stream(DEAD_LETTER_STREAM).await.unwrap();
    let one = stream.get_last_raw_message_by_subject("lading.dlq.api-log-check").await.unwrap();
    assert!(one.headers.get(DEAD_LETTER_REASON).is_some_and(|r| !r.as_str().is_empty()));
    // and every service is still up and ready.
    let (status, body) = sandbox.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    eprintln!("{POISON} messages ({undecodable} undecodable) published in {} ms", flooded_in.as_millis());
}

async fn count_subject(bus: &lading_bus::Bus, subject: &str) -> usize {
    let stream = bus.jetstream().get_stream(DEAD_LETTER_STREAM).await.unwrap();
    let info = stream.info_with_subjects(subject).await.unwrap();
    let mut total = 0;
    let mut subjects = info;
    while let Some(Ok((_, count))) = futures::StreamExt::next(&mut subjects).await {
        total += count;
    }
    total
}

/// The `i`-th malformed request: a YAML or JSON body the api must refuse whole. Each
/// would add a project `p<i>` if it were (partly) stored.
fn malformed_manifests(i: usize, rng: &mut Rng) -> String {
    let project = format!("p{i}");
    let valid = format!("apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata:\n  name: {project}\n");
    let stage = |spec: &str| {
        format!(
            "{valid}---\napiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata:\n  name: s\n  namespace: {project}\nspec: {spec}\n"
        )
    };
    match i % 8 {
        // Truncated YAML, then broken.
        0 => valid[..rng.below(valid.len())].to_owned() + "\n: [",
        // A field of the wrong type.
        1 => stage("{requestedFreight: 7}"),
        // Random bytes.
        2 => String::from_utf8_lossy(&rng.bytes(300)).into_owned(),
        // No apiVersion.
        3 => format!("{valid}---\nkind: Warehouse\n"),
        // A 400-digit duration.
        4 => format!(
            "{valid}---\napiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: w, namespace: {project}}}\nspec: {{interval: {}h, subscriptions: [{{git: {{repoURL: x}}}}]}}\n",
            "9".repeat(400)
        ),
        // An expression that does not parse.
        5 => stage(
            "{requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}], promotionTemplate: {spec: {steps: [{uses: fail, if: '${{ 1 + }}'}]}}}",
        ),
        // An unknown step.
        6 => stage(
            "{requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}], promotionTemplate: {spec: {steps: [{uses: rm-rf}]}}}",
        ),
        // JSON cut short.
        _ => {
            let json = format!(
                "{{\"apiVersion\": \"lading.dev/v1alpha1\", \"kind\": \"Project\", \"metadata\": {{\"name\": \"{project}\"}}}}"
            );
            json[..rng.below(json.len())].to_owned()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_malformed_manifests_at_once_each_get_an_error_nothing_is_stored_and_the_pipeline_promotes() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;
    sandbox.wait_current_in("demo", &first, "uat", TIMEOUT).await;
    let (_, before) = sandbox.get("/api/v1/projects").await;

    // Given 1,000 malformed requests sent to the api at once while a new commit arrives,
    let http = lading_tests::sandbox::authorized_client();
    let mut rng = Rng(0xfeed_f00d);
    let bodies: Vec<String> = (0..1000).map(|i| malformed_manifests(i, &mut rng)).collect();
    let second = app.commit("app.txt", "v2", "second");
    sandbox.refresh("demo", "app").await;
    let started = Instant::now();
    let answers = futures::future::join_all(bodies.into_iter().map(|body| {
        let http = http.clone();
        let url = format!("{}/api/v1/apply", sandbox.api_url);
        async move {
            let response = http.post(url).body(body).send().await.unwrap();
            let status = response.status().as_u16();
            let json: serde_json::Value = response.json().await.unwrap_or_default();
            (status, json)
        }
    }))
    .await;
    let answered_in = started.elapsed();
    // then each is answered with an error in the api's shape,
    for (status, json) in &answers {
        assert!((400..500).contains(status), "{status}: {json}");
        assert!(json["error"].as_str().is_some_and(|e| !e.is_empty()), "{json}");
    }
    // nothing of them is stored (the projects are those there were before),
    let (status, after) = sandbox.get("/api/v1/projects").await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after, before, "a refused request stored something");
    // the pipeline promotes the new commit as usual,
    sandbox.wait_current_in("demo", &second, "uat", TIMEOUT).await;
    // and every service is still up and ready.
    let (status, body) = sandbox.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    eprintln!("1000 malformed requests answered in {} ms", answered_in.as_millis());
}
