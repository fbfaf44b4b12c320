//! The examples of Kargo's `http` page against a local server standing in for the
//! services they call (a status API, a facts API, Slack's `chat.postMessage`, a YAML
//! config), as printed but for URLs. The last example's `errorExpression` uses Expr's
//! `?.` and `??`, which CEL does not have; it runs here written as CEL says the same.

use lading_tests::http_stub::{self, Seen};

use super::*;

/// Answers each path as the examples' services would; records every request.
fn server() -> (String, Seen) {
    http_stub::serve(|request| {
        let (status, kind, answer) = match request.path.as_str() {
            "/status" => (200, "application/json", r#"{"status": "completed"}"#),
            "/api/" => (
                200,
                "application/json",
                r#"{"facts": ["Cats sleep 16 hours a day.", "A group of cats is a clowder."]}"#,
            ),
            "/api/chat.postMessage" => (200, "application/json", r#"{"ok": true}"#),
            "/config.yaml" => (
                200,
                "application/yaml",
                "version: \"2.0\"\nfeatures:\n  - name: feature-a\n    enabled: true\n  - name: feature-b\n    enabled: false\n",
            ),
            "/data" => (200, "text/plain", "key: from-yaml\n"),
            "/missing" => (404, "application/json", r#"{"error": "no such data"}"#),
            _ => (500, "text/plain", "unexpected"),
        };
        (status, kind, answer.to_owned())
    })
}

#[test]
fn http_examples_check_status_read_outputs_post_to_slack_and_parse_yaml() {
    let (base, seen) = server();
    let access = secret_access("slack", "token", "xoxb-1");
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let workspace = tempfile::tempdir().unwrap();
    let run = |template: &str| {
        run_with(EngineRun { secrets: Some(access.clone()), ..EngineRun::new(&freight) }, workspace.path(), template)
    };
    // 1: success and failure expressions, one of them built from a variable.
    run(&format!("vars:\n- name: expectedStatus\n  value: completed\nsteps:\n- uses: http\n  config:\n    url: {base}/status\n    successExpression: response.body.status == '${{{{ vars.expectedStatus }}}}'\n    failureExpression: response.body.status == 'failed'\n")).unwrap();
    // 3 and 4: outputs from the response, with and without expressions deciding.
    for extra in ["", "  retry:\n    timeout: 10m\n"] {
        let success = if extra.is_empty() {
            ""
        } else {
            "    successExpression: response.status == 200\n    failureExpression: response.status == 404\n"
        };
        let example = format!(
            "steps:\n# ...\n- uses: http\n  as: cat-facts\n{extra}  config:\n    method: GET\n    url: {base}/api/\n{success}    outputs:\n    - name: status\n      fromExpression: response.status\n    - name: fact1\n      fromExpression: response.body.facts[0]\n    - name: fact2\n      fromExpression: response.body.facts[1]\n"
        );
        let outcome = run(&example).unwrap();
        assert_eq!(
            outcome.outputs["cat-facts"],
            json!({"status": 200, "fact1": "Cats sleep 16 hours a day.", "fact2": "A group of cats is a clowder."})
        );
    }
    // 5: a message posted to Slack, its body built with quote().
    let slack = format!(
        "vars:\n- name: slackChannel\n  value: C123456\nsteps:\n# ...\n- uses: http\n  config:\n    method: POST\n    url: {base}/api/chat.postMessage\n    headers:\n    - name: Authorization\n      value: Bearer ${{{{ secret('slack').token }}}}\n    - name: Content-Type\n      value: application/json\n    body: |\n      ${{{{ quote({{\n        \"channel\": vars.slackChannel,\n        \"blocks\": [\n          {{\n            \"type\": \"section\",\n            \"text\": {{\n              \"type\": \"mrkdwn\",\n              \"text\": \"Hi I am a bot that can post *_fancy_* messages to any public channel.\"\n            }}\n          }}\n        ]\n      }}) }}}}\n"
    );
    run(&slack).unwrap();
    let request = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(request.method, "POST");
    assert!(request.headers.contains(&("authorization".into(), "Bearer xoxb-1".into())), "{request:?}");
    let posted: Value = serde_json::from_str(request.body.trim()).unwrap_or_else(|e| panic!("{e}: {request:?}"));
    assert_eq!(posted["channel"], "C123456");
    assert_eq!(posted["blocks"][0]["text"]["type"], "mrkdwn");
    // 6: a YAML body, read as its Content-Type says.
    let outcome = run(&format!("steps:\n# ...\n- uses: http\n  as: config-fetch\n  config:\n    method: GET\n    url: {base}/config.yaml\n    successExpression: response.status == 200\n    outputs:\n    - name: version\n      fromExpression: response.body.version\n    - name: features\n      fromExpression: response.body.features\n")).unwrap();
    assert_eq!(outcome.outputs["config-fetch"]["version"], "2.0");
    assert_eq!(outcome.outputs["config-fetch"]["features"][1], json!({"name": "feature-b", "enabled": false}));
    // 8: YAML served as text, parsed as YAML because the step says so.
    let outcome = run(&format!("steps:\n- uses: http\n  as: data\n  config:\n    url: {base}/data\n    responseContentType: application/yaml  # Force YAML parsing\n    outputs:\n    - name: value\n      fromExpression: response.body.key\n")).unwrap();
    assert_eq!(outcome.outputs["data"]["value"], "from-yaml");
    // 9, in CEL: a failed call's error carries the message the service gave.
    let error = run(&format!("steps:\n# ...\n- uses: http\n  config:\n    url: {base}/missing\n    successExpression: response.status == 200\n    failureExpression: response.status >= 400 && response.status < 500\n    errorExpression: \"has(response.body.message) ? response.body.message : response.body.error\"\n")).unwrap_err().to_string();
    assert!(error.contains("no such data"), "{error}");
}
