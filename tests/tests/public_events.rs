//! Events for the outside world: every fact is republished, in log order, as a JSON
//! CloudEvent on `lading.pub.>`; a Python client sharing no code with Lading reads them;
//! `curl -N` follows them as Server-Sent Events and resumes with `Last-Event-ID`
//! without missing or repeating one; filters, bad queries and access are checked.

use std::process::Stdio;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use lading_bus::names::{EVENTS_STREAM, PUBLIC_STREAM};
use lading_tests::git::Repo;
use lading_tests::sandbox::{ADMIN_TOKEN, Sandbox, SandboxOptions, client_with_token, quickstart};
use lading_tests::wait;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A quickstart project `demo` whose first freight has reached `test`; its commit.
async fn promoted(sandbox: &Sandbox) -> String {
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let commit = app.commit("app.txt", "v1", "first");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;
    sandbox.wait_current_in("demo", &commit, "test", TIMEOUT).await;
    commit
}

/// Every message of `stream`, in order: (stream sequence, headers, payload).
async fn read_stream(sandbox: &Sandbox, stream: &str) -> Vec<(u64, async_nats::HeaderMap, Vec<u8>)> {
    let client = sandbox.nats.client().await;
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(stream).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut messages = Vec::new();
    if last == 0 {
        return messages;
    }
    let consumer = stream
        .create_consumer(pull::OrderedConfig { deliver_policy: DeliverPolicy::All, ..Default::default() })
        .await
        .unwrap();
    let mut delivered = consumer.messages().await.unwrap();
    while let Some(message) = tokio::time::timeout(TIMEOUT, delivered.next()).await.unwrap() {
        let message = message.unwrap();
        let seq = message.info().unwrap().stream_sequence;
        messages.push((seq, message.headers.clone().unwrap_or_default(), message.payload.to_vec()));
        if seq >= last {
            break;
        }
    }
    messages
}

/// Every fact of the log, in order: (ce-id, traceparent).
async fn facts(sandbox: &Sandbox) -> Vec<(String, String)> {
    read_stream(sandbox, EVENTS_STREAM)
        .await
        .into_iter()
        .map(|(_, headers, _)| {
            let header = |name| headers.get(name).map(|v| v.as_str().to_owned()).unwrap_or_default();
            (header("ce-id"), header("traceparent"))
        })
        .collect()
}

/// Waits until the public stream holds one event per fact of the log; both, in order.
async fn caught_up(sandbox: &Sandbox) -> (Vec<Value>, Vec<(String, String)>) {
    wait::until("the public stream to catch up with the log", TIMEOUT, || {
        async move {
            let facts = facts(sandbox).await;
            let public: Vec<Value> = read_stream(sandbox, PUBLIC_STREAM)
                .await
                .into_iter()
                .map(|(_, headers, payload)| {
                    assert_eq!(headers.get("content-type").map(|v| v.as_str()), Some("application/cloudevents+json"));
                    serde_json::from_slice(&payload).unwrap()
                })
                .collect();
            // Settled: no fact was added while the public stream was read.
            if public.len() != facts.len() || facts != self::facts(sandbox).await {
                return Err(format!("{} of {} facts public", public.len(), facts.len()));
            }
            Ok((public, facts))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fact_is_public_as_a_json_cloudevent_in_log_order() {
    let sandbox = Sandbox::start(1).await;
    let commit = promoted(&sandbox).await;
    let (public, facts) = caught_up(&sandbox).await;
    // The public stream holds the facts once each, in the log's order, with their ids
    // and their traces.
    let ids: Vec<&str> = public.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let fact_ids: Vec<&str> = facts.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, fact_ids);
    for (event, (_, traceparent)) in public.iter().zip(&facts) {
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["datacontenttype"], "application/json");
        assert_eq!(event["traceparent"], traceparent.as_str(), "{event}");
        assert!(event["time"].as_str().unwrap().ends_with('Z'), "{event}");
        assert!(event["source"].as_str().unwrap().starts_with("/lading/"), "{event}");
    }
    let freight_created = public.iter().find(|e| e["type"] == "dev.lading.freight.created.v1").unwrap();
    assert_eq!(freight_created["data"]["commits"][0]["id"], commit.as_str());
    assert_eq!(freight_created["source"], "/lading/warehouse");
    let freight = freight_created["data"]["freightId"].as_str().unwrap();
    assert_eq!(freight_created["subject"], format!("projects/demo/freight/{freight}"));
    let succeeded = public.iter().find(|e| e["type"] == "dev.lading.promotion.succeeded.v1").unwrap();
    assert_eq!(succeeded["data"]["stage"], "test");
    assert_eq!(succeeded["data"]["freightId"], freight);
    // The stream keeps events for a week by default.
    let client = sandbox.nats.client().await;
    let mut stream = async_nats::jetstream::new(client).get_stream(PUBLIC_STREAM).await.unwrap();
    assert_eq!(stream.info().await.unwrap().config.max_age, Duration::from_secs(7 * 24 * 3600));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_python_client_reads_a_promotion_from_the_public_stream() {
    let sandbox = Sandbox::start(1).await;
    // Given a subscriber written in Python with nats-py, connected as the `subscriber`
    // NATS user and started before anything happens,
    let url = sandbox.nats.url_for(lading_bus::nats_users::NatsUser::Subscriber);
    let mut subscriber = lading_tests::python::Subscriber::start(sandbox.dir.path(), &url, "demo");
    // when a freight is discovered and promoted,
    let commit = promoted(&sandbox).await;
    // then it prints the freight-created and promotion-succeeded CloudEvents.
    let seen = subscriber.until(TIMEOUT, |e| e["type"] == "dev.lading.promotion.succeeded.v1").await;
    let created = seen.iter().find(|e| e["type"] == "dev.lading.freight.created.v1").expect("freight created");
    assert_eq!(created["data"]["commits"][0]["id"], commit.as_str());
    let succeeded = seen.last().unwrap();
    assert_eq!(succeeded["data"]["freightId"], created["data"]["freightId"]);
    assert_eq!(succeeded["subject"].as_str().unwrap().split('/').nth(1), Some("demo"));
}

/// `curl -N` on the event stream: the (id, event) pairs it printed, once it printed
/// `count` or `deadline` passed; curl is stopped then.
async fn curl_events(url: &str, token: &str, last_event_id: Option<&str>, count: usize) -> Vec<(u64, Value)> {
    let mut command = tokio::process::Command::new("curl");
    command.args(["-sSN", "-H", &format!("Authorization: Bearer {token}")]);
    if let Some(id) = last_event_id {
        command.args(["-H", &format!("Last-Event-ID: {id}")]);
    }
    let mut curl = command.arg(url).stdout(Stdio::piped()).kill_on_drop(true).spawn().expect("curl");
    let mut lines = BufReader::new(curl.stdout.take().unwrap()).lines();
    let mut events = Vec::new();
    let mut id = None;
    let deadline = Instant::now() + TIMEOUT;
    while events.len() < count {
        let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("curl printed {} of {count} events: {events:?}", events.len()))
            .unwrap()
            .unwrap_or_else(|| panic!("curl stopped after {} of {count} events", events.len()));
        if let Some(value) = line.strip_prefix("id: ") {
            id = Some(value.parse::<u64>().unwrap());
        } else if let Some(data) = line.strip_prefix("data: ") {
            events.push((id.take().expect("an id before its data"), serde_json::from_str(data).unwrap()));
        }
    }
    curl.start_kill().unwrap();
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn curl_follows_the_events_and_resumes_with_last_event_id_missing_nothing() {
    let sandbox = Sandbox::start(1).await;
    promoted(&sandbox).await;
    let (public, _) = caught_up(&sandbox).await;
    let all = public.len();
    assert!(all >= 5, "{all} events");
    let url = format!("{}/api/v1/events?project=demo&since=0", sandbox.api_url);
    // A client reads three events and disconnects,
    let first = curl_events(&url, ADMIN_TOKEN, None, 3).await;
    // reconnects with the last id it saw,
    let last = first.last().unwrap().0.to_string();
    let rest = curl_events(&url, ADMIN_TOKEN, Some(&last), all - 3).await;
    // and has seen every event exactly once, in order.
    let seen: Vec<&Value> = first.iter().chain(&rest).map(|(_, e)| e).collect();
    let ids: Vec<u64> = first.iter().chain(&rest).map(|(id, _)| *id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(seen.len(), all);
    for (streamed, stored) in seen.iter().zip(&public) {
        assert_eq!(*streamed, stored);
    }
    // Events published while a client follows arrive as they happen.
    let http = client_with_token(ADMIN_TOKEN);
    let follow_url = format!("{}/api/v1/events?project=demo&type=warehouse.refresh-requested", sandbox.api_url);
    let follower = tokio::spawn(async move { curl_events(&follow_url, ADMIN_TOKEN, None, 1).await });
    wait::until("the refresh to be seen live", TIMEOUT, || {
        let http = http.clone();
        let url = format!("{}/api/v1/projects/demo/warehouses/app/refresh", sandbox.api_url);
        let follower = &follower;
        async move {
            http.post(&url).send().await.map_err(|e| e.to_string())?;
            if follower.is_finished() { Ok(()) } else { Err("not yet".into()) }
        }
    })
    .await;
    let live = follower.await.unwrap();
    assert_eq!(live[0].1["type"], "dev.lading.warehouse.refresh-requested.v2");
    assert!(live[0].0 as usize > all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_event_stream_filters_by_type_and_refuses_bad_queries_by_name() {
    let sandbox = Sandbox::start(1).await;
    promoted(&sandbox).await;
    caught_up(&sandbox).await;
    let base = format!("{}/api/v1/events", sandbox.api_url);
    // A type filter without version takes every version; only those types come.
    let url = format!("{base}?project=demo&since=0&type=promotion.succeeded,freight.created");
    let filtered = curl_events(&url, ADMIN_TOKEN, None, 2).await;
    let types: Vec<&str> = filtered.iter().map(|(_, e)| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["dev.lading.freight.created.v1", "dev.lading.promotion.succeeded.v1"]);
    let http = client_with_token(ADMIN_TOKEN);
    let refused = |query: &'static str| {
        let http = http.clone();
        let url = format!("{base}{query}");
        async move {
            let response = http.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body["error"].as_str().unwrap_or_default().to_owned())
        }
    };
    let (status, error) = refused("?project=demo&type=freight.craeted").await;
    assert_eq!(status, 400);
    assert!(error.contains("did you mean \"freight.created\""), "{error}");
    let (status, error) = refused("?project=demo&since=yesterday").await;
    assert_eq!((status, error.starts_with("since: \"yesterday\" is not an event sequence")), (400, true), "{error}");
    let (status, error) = refused("").await;
    assert_eq!(status, 400);
    assert!(error.contains("\"project\" is required"), "{error}");
    let (status, error) = refused("?project=demi").await;
    assert_eq!(status, 404);
    assert!(error.contains("did you mean \"demo\""), "{error}");
    // Reading a project's events needs read access to it.
    sandbox.apply("apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {name: other}\n").await;
    let (status, body) =
        sandbox.post_json("/api/v1/tokens", &json!({"name": "outsider", "role": "viewer", "project": "other"})).await;
    assert_eq!(status, 201, "{body}");
    let outsider = client_with_token(body["token"].as_str().unwrap());
    let response = outsider.get(format!("{base}?project=demo")).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let response = outsider.get(format!("{base}?project=other")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn heartbeats_keep_an_idle_stream_open_and_streams_are_bounded() {
    let mut options = SandboxOptions::default();
    // The api closes a connection after 1s without a byte; heartbeats come every 200ms.
    options.api_limits.idle_timeout = Duration::from_secs(1);
    options.api_events.heartbeat = Duration::from_millis(200);
    options.api_events.max_streams = 2;
    let sandbox = Sandbox::start_with_options(options).await;
    sandbox.apply("apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {name: demo}\n").await;
    let http = client_with_token(ADMIN_TOKEN);
    let url = format!("{}/api/v1/events?project=demo", sandbox.api_url);
    let mut first = http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "text/event-stream");
    let second = http.get(&url).send().await.unwrap();
    assert_eq!(second.status(), 200);
    // A third stream is refused while two are open, and says which setting bounds it.
    let third = http.get(&url).send().await.unwrap();
    assert_eq!(third.status(), 503);
    let body: Value = third.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("LADING_API_MAX_EVENT_STREAMS"), "{body}");
    drop(second);
    // The idle stream outlives three idle timeouts, heartbeat after heartbeat.
    let started = Instant::now();
    let mut heartbeats = 0;
    while started.elapsed() < Duration::from_secs(3) {
        let chunk = tokio::time::timeout(Duration::from_secs(2), first.chunk()).await.expect("a heartbeat").unwrap();
        let chunk = chunk.expect("the stream stays open");
        // A heartbeat is an empty SSE comment.
        heartbeats += String::from_utf8_lossy(&chunk).matches(": \n\n").count();
    }
    assert!(heartbeats >= 5, "{heartbeats} heartbeats in 3s");
    // A closed stream gives its place back.
    drop(first);
    wait::until("a stream's place to be free", TIMEOUT, || {
        let http = http.clone();
        let url = url.clone();
        async move {
            let status = http.get(&url).send().await.map_err(|e| e.to_string())?.status();
            if status == 200 { Ok(()) } else { Err(status.to_string()) }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_facts_keeps_its_order_in_public() {
    let sandbox = Sandbox::start_without_promoter().await;
    sandbox.apply("apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {name: demo}\n").await;
    // Given 1000 facts published as fast as the log takes them,
    let bus = sandbox.nats.bus("burst").await;
    let publishes = (0..1000).map(|i| {
        let event =
            lading_events::Event::WarehouseRefreshRequested(lading_events::catalog::WarehouseRefreshRequestedV1 {
                project: "demo".into(),
                warehouse: "nowhere".into(),
                request_id: format!("burst-{i:03}"),
                requested_at_ms: lading_events::now_ms(),
            });
        let bus = bus.clone();
        async move { bus.publish(&event, &lading_bus::tracing_context::new_root()).await.unwrap() }
    });
    futures::future::join_all(publishes).await;
    // then the public stream holds them in the log's order.
    let (public, facts) = caught_up(&sandbox).await;
    let ids: Vec<&str> = public.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let fact_ids: Vec<&str> = facts.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), 1000);
    assert_eq!(ids, fact_ids);
}

/// Publishes `count` refresh requests numbered from `from` on the log.
async fn publish_facts(bus: &lading_bus::Bus, from: usize, count: usize) {
    for i in from..from + count {
        let event =
            lading_events::Event::WarehouseRefreshRequested(lading_events::catalog::WarehouseRefreshRequestedV1 {
                project: "demo".into(),
                warehouse: "app".into(),
                request_id: format!("r{i:04}"),
                requested_at_ms: lading_events::now_ms(),
            });
        bus.publish(&event, &lading_bus::tracing_context::new_root()).await.unwrap();
    }
}

/// The request ids of the public stream, in order.
async fn public_request_ids(nats: &lading_tests::nats::TestNats, expected: usize) -> Vec<String> {
    let client = nats.client().await;
    let js = async_nats::jetstream::new(client);
    wait::until("the public stream to hold every fact", TIMEOUT, || {
        let js = js.clone();
        async move {
            let mut stream = js.get_stream(PUBLIC_STREAM).await.map_err(|e| e.to_string())?;
            let held = stream.info().await.map_err(|e| e.to_string())?.state.messages as usize;
            if held < expected {
                return Err(format!("{held} of {expected}"));
            }
            let mut ids = Vec::new();
            let first = stream.info().await.map_err(|e| e.to_string())?.state.first_sequence;
            for seq in first..first + held as u64 {
                let message = stream.get_raw_message(seq).await.map_err(|e| e.to_string())?;
                let event: Value = serde_json::from_slice(&message.payload).unwrap();
                ids.push(event["data"]["requestId"].as_str().unwrap().to_owned());
            }
            Ok(ids)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn republishing_resumes_where_it_stopped_and_never_repeats_a_fact() {
    let nats = lading_tests::nats::TestNats::start().await;
    let bus = nats.bus("test").await;
    bus.provision_public(lading_bus::public::DEFAULT_MAX_AGE).await.unwrap();
    let expected = |n: usize| (0..n).map(|i| format!("r{i:04}")).collect::<Vec<_>>();
    // Given a republisher that caught up with 100 facts and stopped,
    publish_facts(&bus, 0, 100).await;
    let first = lading_runtime::Shutdown::new();
    let running = tokio::spawn(lading_api::republish::run(bus.clone(), first.clone()));
    assert_eq!(public_request_ids(&nats, 100).await, expected(100));
    first.cancel();
    running.await.unwrap();
    // when 100 more arrive and two replicas start at once,
    publish_facts(&bus, 100, 100).await;
    let second = lading_runtime::Shutdown::new();
    let replicas = [
        tokio::spawn(lading_api::republish::run(bus.clone(), second.clone())),
        tokio::spawn(lading_api::republish::run(bus.clone(), second.clone())),
    ];
    // then the public stream has each fact once, in order.
    assert_eq!(public_request_ids(&nats, 200).await, expected(200));
    second.cancel();
    for replica in replicas {
        replica.await.unwrap();
    }
    // When a replica stopped before saving its cursor (and duplicates are no longer
    // recognised by id), the next resumes after the last public event all the same.
    let client = nats.client().await;
    let js = async_nats::jetstream::new(client);
    let mut config = js.get_stream(PUBLIC_STREAM).await.unwrap().info().await.unwrap().config.clone();
    config.duplicate_window = Duration::from_millis(100);
    js.update_stream(config).await.unwrap();
    js.get_key_value(lading_bus::names::CURSORS_BUCKET).await.unwrap().purge("public").await.unwrap();
    publish_facts(&bus, 200, 1).await;
    let crashed = lading_runtime::Shutdown::new();
    let running = tokio::spawn(lading_api::republish::run(bus.clone(), crashed.clone()));
    assert_eq!(public_request_ids(&nats, 201).await, expected(201));
    crashed.cancel();
    running.await.unwrap();
    // And when every public event has aged out (the stream now keeps them for a second),
    // a restart resumes from the saved cursor instead of republishing the log again.
    bus.provision_public(Duration::from_secs(1)).await.unwrap();
    wait::until("every public event to age out", TIMEOUT, || {
        let js = js.clone();
        async move {
            let mut stream = js.get_stream(PUBLIC_STREAM).await.map_err(|e| e.to_string())?;
            let held = stream.info().await.map_err(|e| e.to_string())?.state.messages;
            if held == 0 { Ok(()) } else { Err(format!("{held} left")) }
        }
    })
    .await;
    publish_facts(&bus, 201, 1).await;
    let third = lading_runtime::Shutdown::new();
    let running = tokio::spawn(lading_api::republish::run(bus.clone(), third.clone()));
    assert_eq!(public_request_ids(&nats, 1).await, ["r0201"]);
    third.cancel();
    running.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_subscriber_user_reads_the_public_stream_and_cannot_touch_the_log() {
    let sandbox = Sandbox::start(1).await;
    promoted(&sandbox).await;
    caught_up(&sandbox).await;
    // Given a client connected as `subscriber`, collecting what the server refuses it,
    let url = sandbox.nats.url_for(lading_bus::nats_users::NatsUser::Subscriber);
    let (bare, credentials) = lading_bus::nats_users::split_credentials(&url);
    let (user, password) = credentials.unwrap();
    let (refused_tx, mut refused) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::with_user_and_password(user, password)
        .event_callback(move |event| {
            let refused_tx = refused_tx.clone();
            async move {
                let _ = refused_tx.send(event.to_string());
            }
        })
        .connect(bare)
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let mut refusal = async |what: &str| {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let event = tokio::time::timeout_at(deadline.into(), refused.recv()).await.unwrap().unwrap();
            if event.contains("Permissions Violation") && event.contains(what) {
                return event;
            }
        }
    };
    // it reads the public stream with a consumer of its own,
    let consumer = js
        .get_stream(PUBLIC_STREAM)
        .await
        .unwrap()
        .create_consumer(pull::OrderedConfig { deliver_policy: DeliverPolicy::All, ..Default::default() })
        .await
        .unwrap();
    let first = consumer.messages().await.unwrap().next().await.unwrap().unwrap();
    let event: Value = serde_json::from_slice(&first.payload).unwrap();
    assert_eq!(event["specversion"], "1.0");
    // but cannot read the log, neither through JetStream
    // (a refused request gets no answer: the client gives up after its timeout),
    let mut impatient = async_nats::jetstream::new(client.clone());
    impatient.set_timeout(Duration::from_secs(2));
    assert!(impatient.get_stream(EVENTS_STREAM).await.is_err(), "the log's stream is not the subscriber's to see");
    refusal("$JS.API.STREAM.INFO.LADING_EVENTS").await;
    // nor by listening on its subjects,
    let _listening = client.subscribe("lading.evt.>").await.unwrap();
    refusal("Subscription to \"lading.evt.>\"").await;
    // and cannot publish a fact, nor a public event.
    let forged = lading_events::Event::WarehouseRefreshRequested(lading_events::catalog::WarehouseRefreshRequestedV1 {
        project: "demo".into(),
        warehouse: "app".into(),
        request_id: "forged".into(),
        requested_at_ms: lading_events::now_ms(),
    });
    let headers = lading_events::EventHeaders::for_event(&forged, "/forger", &lading_bus::tracing_context::new_root());
    let mut map = async_nats::HeaderMap::new();
    for (name, value) in headers.pairs() {
        map.insert(name, value);
    }
    client.publish_with_headers(forged.subject(), map, lading_events::encode(&forged).into()).await.unwrap();
    refusal("Publish to \"lading.evt.demo.warehouse.app.refresh-requested\"").await;
    client.publish("lading.pub.demo.freight.x.created", "{}".into()).await.unwrap();
    refusal("Publish to \"lading.pub.demo.freight.x.created\"").await;
    client.flush().await.unwrap();
    let log = read_stream(&sandbox, EVENTS_STREAM).await;
    let forged_stored =
        log.iter().any(|(_, headers, _)| headers.get("ce-source").is_some_and(|s| s.as_str() == "/forger"));
    assert!(!forged_stored, "the forged fact is not on the log");
}
