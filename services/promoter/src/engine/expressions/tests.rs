//! Step expressions with Kargo's names, the fields their errors name, and their budgets.

use serde_json::json;

use super::*;

fn freight() -> Freight {
    Freight::from_warehouse("app")
        .with_commit("https://git.example.com/app.git", "abc123")
        .with_image("docker.io/library/nginx", "1.27.0", "sha256:00")
        .with_chart("oci://ghcr.io/x/charts", "app", "1.2.3")
}

fn with_scope<R>(f: impl FnOnce(&Scope<'_>) -> R) -> R {
    let mut vars = Map::new();
    vars.insert("repo".into(), json!("https://git.example.com/app"));
    vars.insert("replicas".into(), json!(3));
    let ctx = json!({"project": "demo", "stage": "test", "promotion": "test.x.abc"});
    let mut outputs = Map::new();
    outputs.insert("commit".into(), json!({"commit": "deadbeef"}));
    let freight = freight();
    let statuses = BTreeMap::from([("commit".to_owned(), "Succeeded".to_owned())]);
    let task = json!({"outputs": {"clone": {"commit": "c0ffee"}}});
    f(&Scope {
        vars: &vars,
        ctx: &ctx,
        outputs: &outputs,
        freight: &freight,
        origins: &[],
        step_status: &statuses,
        failed: false,
        task: &task,
        secrets: None,
        metadata: &Default::default(),
    })
}

fn eval(template: &str, s: &Scope<'_>) -> Result<Value, String> {
    evaluate_string(template, s, "config.value", &budget())
}

#[test]
fn plain_strings_pass_through() {
    with_scope(|s| assert_eq!(eval("hello", s).unwrap(), json!("hello")));
}

#[test]
fn interpolates_kargo_names() {
    with_scope(|s| {
        assert_eq!(eval("stage/${{ ctx.stage }}", s).unwrap(), json!("stage/test"));
        assert_eq!(eval("${{ ctx.project }}-${{ ctx.stage }}", s).unwrap(), json!("demo-test"));
        assert_eq!(eval("${{ outputs.commit.commit }}", s).unwrap(), json!("deadbeef"));
        assert_eq!(eval("${{ task.outputs.clone.commit }}", s).unwrap(), json!("c0ffee"));
    });
}

#[test]
fn a_whole_string_expression_keeps_its_type() {
    with_scope(|s| {
        assert_eq!(eval("${{ vars.replicas }}", s).unwrap(), json!(3));
        assert_eq!(eval("${{ vars.replicas > 2 }}", s).unwrap(), json!(true));
        assert_eq!(eval("n=${{ vars.replicas }}", s).unwrap(), json!("n=3"));
    });
}

#[test]
fn artifact_functions_match_normalized_urls() {
    with_scope(|s| {
        assert_eq!(eval("${{ commitFrom(vars.repo).ID }}", s).unwrap(), json!("abc123"));
        assert_eq!(eval("${{ imageFrom('nginx').Tag }}", s).unwrap(), json!("1.27.0"));
        assert_eq!(eval("${{ chartFrom('oci://ghcr.io/x/charts', 'app').Version }}", s).unwrap(), json!("1.2.3"));
        // As Kargo: quote() makes a string of a value, and the quotes do not show.
        assert_eq!(eval("${{ quote(vars.replicas) }}", s).unwrap(), json!("3"));
        assert_eq!(eval("${{ quote('a \\\"b\\\"') }}\n", s).unwrap(), json!("a \"b\"\n"));
        assert_eq!(eval("${{ unsafeQuote('x') }}", s).unwrap(), json!("\"x\""));
        assert_eq!(eval("${{ quote({'a': 1}) }}", s).unwrap(), json!("{\"a\":1}"));
        assert_eq!(eval("tag: ${{ quote(3) }}", s).unwrap(), json!("tag: \"3\""));
    });
}

#[test]
fn errors_name_the_field_and_the_expression() {
    with_scope(|s| {
        let e = eval("${{ commitFrom('https://other/repo').ID }}", s).unwrap_err();
        assert_eq!(
            e,
            "config.value: ${{ commitFrom('https://other/repo').ID }}: failed: commitFrom: no commit from https://other/repo in the freight"
        );
        assert!(eval("${{ (( }}", s).unwrap_err().starts_with("config.value: ${{ (( }}: syntax error at column 3"));
        assert!(eval("${{ vars.x", s).unwrap_err().contains("unterminated"));
        let nested = evaluate_tree(&json!({"a": [{"b": "${{ 1 / 0 }}"}]}), s, "config", &budget()).unwrap_err();
        assert!(nested.starts_with("config.a[0].b: ${{ 1 / 0 }}: failed: "), "{nested}");
    });
}

#[test]
fn semver_functions_follow_kargo() {
    with_scope(|s| {
        assert_eq!(eval("${{ semverParse('v1.27.3-rc.1').Minor }}", s).unwrap(), json!(27));
        assert_eq!(eval("${{ semverParse('1.2.3-rc.1+b5').Prerelease }}", s).unwrap(), json!("rc.1"));
        assert_eq!(eval("${{ semverDiff('1.2.3', '1.3.0') }}", s).unwrap(), json!("Minor"));
        assert!(eval("${{ semverParse('latest').Major }}", s).unwrap_err().contains("not a semantic version"));
    });
}

#[test]
fn conditions_see_how_earlier_steps_went() {
    with_scope(|s| {
        assert!(evaluate_condition("${{ success() }}", s, &budget()).unwrap());
        assert!(!evaluate_condition("failure()", s, &budget()).unwrap());
        assert!(evaluate_condition("${{ always() }}", s, &budget()).unwrap());
        assert!(evaluate_condition("${{ status('commit') == 'Succeeded' }}", s, &budget()).unwrap());
        assert!(evaluate_condition("status('nope') == 'x'", s, &budget()).unwrap_err().contains("no earlier step"));
        assert!(
            evaluate_condition("${{ vars.replicas }}", s, &budget()).unwrap_err().contains("must be true or false")
        );
    });
}

#[test]
fn trees_are_evaluated_recursively() {
    with_scope(|s| {
        let config = json!({"checkout": [{"branch": "stage/${{ ctx.stage }}", "create": true}]});
        assert_eq!(
            evaluate_tree(&config, s, "config", &budget()).unwrap(),
            json!({"checkout": [{"branch": "stage/test", "create": true}]})
        );
    });
}

#[test]
fn a_condition_that_runs_away_fails_naming_if_and_the_budget() {
    let r = format!("[{}]", (0..300).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
    let bomb = format!("{r}.all(a, {r}.all(b, {r}.all(c, a + b + c >= 0)))");
    with_scope(|s| {
        let e = evaluate_condition(&format!("${{{{ {bomb} }}}}"), s, &budget()).unwrap_err();
        assert!(e.starts_with("if: ${{ [0,1,2,"), "{e}");
        assert!(e.ends_with(": ran out of its time budget of 100ms (LADING_EXPRESSION_TIMEOUT)"), "{e}");
    });
}

#[test]
fn many_expressions_in_one_string_cannot_pass_the_output_limit_together() {
    // Each expression yields 600 KiB, under the 1 MiB limit; together they pass it.
    let mut vars = Map::new();
    vars.insert("big".into(), json!("x".repeat(600 * 1024)));
    let (ctx, outputs, freight, statuses) = (json!({}), Map::new(), freight(), BTreeMap::new());
    let scope = Scope {
        vars: &vars,
        ctx: &ctx,
        outputs: &outputs,
        freight: &freight,
        origins: &[],
        step_status: &statuses,
        failed: false,
        task: &Value::Null,
        secrets: None,
        metadata: &Default::default(),
    };
    let e = evaluate_string("${{ vars.big }}${{ vars.big }}", &scope, "config.contents", &budget()).unwrap_err();
    assert!(e.starts_with("config.contents: \"${{ vars.big }}${{ vars.big }}\": yields more than 1 MiB"), "{e}");
}

#[test]
fn bare_expressions_share_a_budget_and_see_only_their_variables() {
    let response = json!({"status": 200, "body": {"items": [1, 2, 3]}});
    let values = with_variables(&[("response", &response)], |exprs| {
        Ok((exprs.evaluate("a", "response.status == 200")?, exprs.evaluate("b", "size(response.body.items)")?))
    })
    .unwrap();
    assert_eq!(values, (json!(true), json!(3)));
    let unknown = with_variables(&[("response", &response)], |exprs| exprs.evaluate("config.x", "vars.a")).unwrap_err();
    assert!(unknown.starts_with("config.x: \"vars.a\": failed: "), "{unknown}");
}

#[test]
fn freight_functions_pick_from_the_collection_by_warehouse() {
    // Given a stage holding freight of two warehouses, both with a commit of one repository,
    let url = "https://git.example.com/app.git";
    let promoted = Freight::from_warehouse("base").with_commit(url, "b0");
    let overlay = Freight::from_warehouse("test-overlay").with_commit(url, "0e");
    let collection = [promoted.clone(), overlay];
    let (vars, outputs, statuses) = (Map::new(), Map::new(), BTreeMap::new());
    let ctx = json!({"stage": "test"});
    let scope = Scope {
        vars: &vars,
        ctx: &ctx,
        outputs: &outputs,
        freight: &promoted,
        origins: &collection,
        step_status: &statuses,
        failed: false,
        task: &Value::Null,
        secrets: None,
        metadata: &Default::default(),
    };
    // then warehouse() names which one answers, and without it the promoted one does.
    let id = |source: &str| eval(&format!("${{{{ {source} }}}}"), &scope);
    assert_eq!(id(&format!("commitFrom('{url}', warehouse(ctx.stage + '-overlay')).ID")).unwrap(), json!("0e"));
    assert_eq!(id(&format!("commitFrom('{url}', warehouse('base')).ID")).unwrap(), json!("b0"));
    assert_eq!(id(&format!("commitFrom('{url}').ID")).unwrap(), json!("b0"));
    let error = id(&format!("commitFrom('{url}', warehouse('prod')).ID")).unwrap_err();
    assert!(
        error.contains("no commit from https://git.example.com/app.git in the freight from warehouse prod"),
        "{error}"
    );
}
