//! Bad expressions sent to `POST /api/v1/apply`: each is answered 422, naming the
//! document, the field and the place in the expression, and nothing of the request is
//! stored. The quickstart's expressions apply as they are.

use lading_tests::sandbox::{Sandbox, quickstart};
use serde_json::Value;

const PROJECT: &str = "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata:\n  name: demo\n";

/// A stage `test` with template variable `app` and the given steps (YAML list items).
fn stage(steps: &str) -> String {
    format!(
        "---\napiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: test\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n      vars:\n      - name: app\n        value: https://example.com/app.git\n      steps:\n{steps}"
    )
}

fn warehouse(git: &str, criteria: &str) -> String {
    format!(
        "---\napiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: app\n  namespace: demo\nspec:\n  subscriptions:\n  - git:\n      repoURL: https://example.com/app.git\n{git}{criteria}"
    )
}

struct Case {
    name: &'static str,
    document: String,
    kind: &'static str,
    field: &'static str,
    reason: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "a syntax error in an update",
            document: stage(
                "      - uses: git-clone\n        config: {repoURL: \"${{ vars.app }}\"}\n      - uses: yaml-update\n        config:\n          path: values.yaml\n          updates:\n          - key: image.tag\n            value: ${{ commitFrom(vars.app).ID + }}\n",
            ),
            kind: "Stage",
            field: "spec.promotionTemplate.spec.steps[1].config.updates[0].value",
            reason: "${{ commitFrom(vars.app).ID + }}: syntax error at column 26",
        },
        Case {
            name: "an unknown function",
            document: stage("      - uses: git-commit\n        config:\n          path: ./out\n          message: promote ${{ upper(ctx.stage) }}\n"),
            kind: "Stage",
            field: "spec.promotionTemplate.spec.steps[0].config.message",
            reason: "${{ upper(ctx.stage) }}: unknown function upper at column 1",
        },
        Case {
            name: "an output no earlier step makes",
            document: stage("      - uses: git-push\n        config:\n          path: ${{ outputs.clone.path }}\n"),
            kind: "Stage",
            field: "spec.promotionTemplate.spec.steps[0].config.path",
            reason: "${{ outputs.clone.path }}: outputs.clone at column 1 cannot exist",
        },
        Case {
            name: "a variable nothing defines",
            document: stage("      - uses: git-clone\n        config:\n          repoURL: ${{ vars.gitopsRepo }}\n"),
            kind: "Stage",
            field: "spec.promotionTemplate.spec.steps[0].config.repoURL",
            reason: "${{ vars.gitopsRepo }}: vars.gitopsRepo at column 1 cannot exist",
        },
        Case {
            name: "task.outputs outside a task",
            document: stage("      - uses: fail\n        if: ${{ task.outputs.pr.merged }}\n"),
            kind: "Stage",
            field: "spec.promotionTemplate.spec.steps[0].if",
            reason: "${{ task.outputs.pr.merged }}: task at column 1 cannot exist",
        },
        Case {
            name: "comprehensions nested four deep",
            document: stage("      - uses: fail\n        if: \"[1].all(a, [1].all(b, [1].all(c, [1].exists(d, true))))\"\n"),
            kind: "Stage",
            field: "spec.promotionTemplate.spec.steps[0].if",
            reason: "\"[1].all(a, [1].all(b, [1].all(c, [1].exists(d, true))))\": runs comprehensions (all, exists, exists_one, map, filter) 4 deep",
        },
        Case {
            name: "an http expression that does not parse",
            document: stage(
                "      - uses: http\n        config:\n          url: https://example.com/health\n          successExpression: response.status == 200 &&\n",
            ),
            kind: "Stage",
            field: "spec.promotionTemplate.spec.steps[0].config.successExpression",
            reason: "\"response.status == 200 &&\": syntax error at column 26",
        },
        Case {
            name: "an expressionFilter naming what a commit lacks",
            document: warehouse("      expressionFilter: \"!message.contains('[skip ci]')\"\n", ""),
            kind: "Warehouse",
            field: "spec.subscriptions[0].git.expressionFilter",
            reason: "\"!message.contains('[skip ci]')\": unknown variable message at column 2",
        },
        Case {
            name: "freightCreationCriteria that do not parse",
            document: warehouse("", "  freightCreationCriteria:\n    expression: imageFrom('nginx').Tag ==\n"),
            kind: "Warehouse",
            field: "spec.freightCreationCriteria.expression",
            reason: "\"imageFrom('nginx').Tag ==\": syntax error at column 26",
        },
        Case {
            name: "a task step naming a later step of its task",
            document: "---\napiVersion: kargo.akuity.io/v1alpha1\nkind: PromotionTask\nmetadata:\n  name: open-pr\n  namespace: demo\nspec:\n  steps:\n  - uses: fail\n    config:\n      message: ${{ task.outputs['wait-for-pr'].commit }}\n  - uses: fail\n    as: wait-for-pr\n".to_owned(),
            kind: "PromotionTask",
            field: "spec.steps[0].config.message",
            reason: "${{ task.outputs['wait-for-pr'].commit }}: task.outputs.wait-for-pr at column 1 cannot exist",
        },
        Case {
            name: "a template variable naming a later one",
            document: stage("      - uses: fail\n").replace(
                "      - name: app\n        value: https://example.com/app.git\n",
                "      - name: app\n        value: ${{ vars.branch }}\n      - name: branch\n        value: main\n",
            ),
            kind: "Stage",
            field: "spec.promotionTemplate.spec.vars[0].value",
            reason: "${{ vars.branch }}: vars.branch at column 1 cannot exist",
        },
        Case {
            name: "an unterminated template",
            document: stage("      - uses: git-commit\n        config:\n          path: ./out\n          message: \"promote ${{ ctx.stage\"\n"),
            kind: "Stage",
            field: "spec.promotionTemplate.spec.steps[0].config.message",
            reason: "\"promote ${{ ctx.stage\": unterminated ${{",
        },
        Case {
            name: "an expression nested past the limit",
            document: stage(&format!("      - uses: fail\n        if: \"{}1 == 71\"\n", "1 + ".repeat(70))),
            kind: "Stage",
            field: "spec.promotionTemplate.spec.steps[0].if",
            reason: "nests 65 levels deep at column 33; an expression may nest at most 64",
        },
        Case {
            name: "a webhook receiver's whenExpression calling what receivers lack",
            document: "---\napiVersion: kargo.akuity.io/v1alpha1\nkind: ProjectConfig\nmetadata:\n  name: demo\n  namespace: demo\nspec:\n  webhookReceivers:\n  - name: ci\n    generic:\n      secretRef: {name: ci}\n      actions:\n      - action: Refresh\n        whenExpression: \"commitFrom('x').ID == ''\"\n        targetSelectionCriteria:\n        - {kind: Warehouse, name: app}\n".to_owned(),
            kind: "ProjectConfig",
            field: "spec.webhookReceivers[0].generic.actions[0].whenExpression",
            reason: "\"commitFrom('x').ID == ''\": unknown function commitFrom at column 1",
        },
        Case {
            name: "a webhook receiver's target name that does not parse",
            document: "---\napiVersion: kargo.akuity.io/v1alpha1\nkind: ProjectConfig\nmetadata:\n  name: demo\n  namespace: demo\nspec:\n  webhookReceivers:\n  - name: ci\n    generic:\n      secretRef: {name: ci}\n      actions:\n      - action: Refresh\n        targetSelectionCriteria:\n        - {kind: Warehouse, name: \"${{ request.body.repository. }}\"}\n".to_owned(),
            kind: "ProjectConfig",
            field: "spec.webhookReceivers[0].generic.actions[0].targetSelectionCriteria[0].name",
            reason: "${{ request.body.repository. }}: syntax error at column",
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_expression_is_answered_422_with_its_field_and_nothing_is_stored() {
    let sandbox = Sandbox::start(1).await;
    let mut wrong = Vec::new();
    for case in cases() {
        // Given a Project and a document with a bad expression, when they are applied,
        let (status, body) = sandbox.post("/api/v1/apply", &format!("{PROJECT}{}", case.document)).await;
        // then the answer is 422 naming the second document, its field and the place (the
        // reason may open with an excerpt of a long expression),
        let detail = body["details"].as_array().and_then(|d| d.first()).cloned().unwrap_or(Value::Null);
        let reason = detail["reason"].as_str().unwrap_or_default();
        if status != 422
            || detail["document"] != 2
            || detail["kind"] != case.kind
            || detail["field"] != case.field
            || !reason.contains(case.reason)
        {
            wrong.push(format!(
                "{}: {status} {detail}\n  want: {} {}: {}",
                case.name, case.kind, case.field, case.reason
            ));
        }
        // and the Project before it was not stored.
        let (status, _) = sandbox.get("/api/v1/projects/demo/stages").await;
        if status != 404 {
            wrong.push(format!("{}: the project was stored ({status})", case.name));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The quickstart's expressions apply as they are.
    sandbox.apply(&quickstart("https://example.com/app.git", "https://example.com/gitops.git", "1h")).await;
}
