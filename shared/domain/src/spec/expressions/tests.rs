//! Given a manifest with an expression in some field, when it is validated for apply,
//! then a bad expression is refused naming the field, the expression and the place in it,
//! and a good one (Kargo's forms included) is accepted.

use serde_json::Value;

use crate::spec::{ManifestError, validate_manifest};

/// A stage with template `vars`, and `steps` (YAML list items, indented by six).
fn stage(vars: &str, steps: &str) -> String {
    format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: test\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n      vars:\n{vars}      steps:\n{steps}"
    )
}

const VARS: &str = "      - name: app\n        value: https://example.com/app.git\n";

fn task(steps: &str) -> String {
    format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: PromotionTask\nmetadata:\n  name: open-pr\n  namespace: demo\nspec:\n  vars:\n  - name: repoURL\n  steps:\n{steps}"
    )
}

fn warehouse(filter: &str, criteria: &str) -> String {
    format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: app\n  namespace: demo\nspec:\n  subscriptions:\n  - git:\n      repoURL: https://example.com/app.git\n      expressionFilter: {filter:?}\n  freightCreationCriteria:\n    expression: {criteria:?}\n"
    )
}

fn validate(yaml: &str) -> Result<(), ManifestError> {
    let value: Value = serde_saphyr::from_str(yaml).expect("test YAML parses");
    validate_manifest(1, value).map(|_| ())
}

#[test]
fn kargo_expressions_that_can_run_are_accepted() {
    let steps = "      - uses: git-clone\n        as: clone\n        config:\n          repoURL: ${{ vars.app }}\n          checkout:\n          - branch: stage/${{ ctx.stage }}\n            path: ./out\n      - uses: yaml-update\n        as: open-pr\n        vars:\n        - name: tag\n          value: ${{ commitFrom(vars.app).ID }}\n        - name: quoted\n          value: ${{ quote(vars.tag) }}\n        if: ${{ status('clone') == 'Succeeded' && success() }}\n        config:\n          path: ./out/values.yaml\n          updates:\n          - key: image.tag\n            value: ${{ vars.tag }}-${{ outputs['clone'].commit }}\n      - uses: http\n        if: always()\n        config:\n          url: https://example.com/${{ ctx.targetFreight.name }}\n          successExpression: response.status == 200 && [1, 2].exists(x, x == 2)\n          outputs:\n          - name: pr\n            fromExpression: response.body.number\n      - uses: fail\n        config:\n          message: ${{ outputs['open-pr'].number + semverDiff('1.0.0', '2.0.0') }}\n";
    validate(&stage(VARS, steps)).unwrap();
    let in_task = "  - uses: git-clone\n    as: open-pr\n    config:\n      repoURL: ${{ vars.repoURL }}-${{ vars.fromTheStage }}-${{ outputs.stageStep.x }}\n  - uses: fail\n    config:\n      message: ${{ task.outputs['open-pr'].prNumber }}\n";
    validate(&task(in_task)).unwrap();
    validate(&warehouse("!subject.contains('[skip ci]') && tag.matches('^v1')", "imageFrom('nginx').Tag != ''"))
        .unwrap();
}

/// A manifest, the field its error must name, and what the reason must start with.
struct Case {
    name: &'static str,
    yaml: String,
    field: &'static str,
    reason: &'static str,
}

fn step(config: &str) -> String {
    format!("      - uses: compose-output\n        config:\n          out: {config:?}\n")
}

fn cases() -> Vec<Case> {
    let out = "spec.promotionTemplate.spec.steps[0].config.out";
    vec![
        Case {
            name: "a syntax error",
            yaml: stage(VARS, &step("${{ commitFrom(vars.app).ID + }}")),
            field: out,
            reason: "${{ commitFrom(vars.app).ID + }}: syntax error at column 26: mismatched input '<EOF>'",
        },
        Case {
            name: "an unknown function",
            yaml: stage(VARS, &step("v-${{ toUpper(vars.app) }}")),
            field: out,
            reason: "${{ toUpper(vars.app) }}: unknown function toUpper at column 1",
        },
        Case {
            name: "an unknown method",
            yaml: stage(VARS, &step("${{ vars.app.shout() }}")),
            field: out,
            reason: "${{ vars.app.shout() }}: unknown function shout at column 10",
        },
        Case {
            name: "an unknown variable",
            yaml: stage(VARS, &step("${{ freight.name }}")),
            field: out,
            reason: "${{ freight.name }}: unknown variable freight at column 1; known here: vars, ctx, outputs, task",
        },
        Case {
            name: "a variable no template or step defines",
            yaml: stage(VARS, &step("${{ vars.app + vars.missing }}")),
            field: out,
            reason: "${{ vars.app + vars.missing }}: vars.missing at column 12 cannot exist: no variable of that name",
        },
        Case {
            name: "the output of a step that comes later",
            yaml: stage(
                VARS,
                &format!(
                    "{}      - uses: git-push\n        as: push\n        config:\n          path: ./out\n",
                    step("${{ outputs.push.commit }}")
                ),
            ),
            field: out,
            reason: "${{ outputs.push.commit }}: outputs.push at column 1 cannot exist: no earlier step has it as its `as`",
        },
        Case {
            name: "task.outputs outside a task",
            yaml: stage(VARS, &step("${{ task.outputs.clone.commit }}")),
            field: out,
            reason: "${{ task.outputs.clone.commit }}: task at column 1 cannot exist: task.outputs exists only in the steps",
        },
        Case {
            name: "a field ctx does not have",
            yaml: stage(VARS, &step("${{ ctx.freight }}")),
            field: out,
            reason: "${{ ctx.freight }}: ctx.freight at column 1 cannot exist: ctx has project, stage, promotion, targetFreight",
        },
        Case {
            name: "an unterminated expression",
            yaml: stage(VARS, &step("${{ vars.app")),
            field: out,
            reason: "\"${{ vars.app\": unterminated ${{",
        },
        Case {
            name: "a bare if that does not parse",
            yaml: stage(VARS, "      - uses: fail\n        if: status('x') ==\n"),
            field: "spec.promotionTemplate.spec.steps[0].if",
            reason: "\"status('x') ==\": syntax error at column 15",
        },
        Case {
            name: "comprehensions four deep in an if",
            yaml: stage(
                VARS,
                "      - uses: fail\n        if: ${{ [1].all(a, [1].all(b, [1].all(c, [1].all(d, true)))) }}\n",
            ),
            field: "spec.promotionTemplate.spec.steps[0].if",
            reason: "${{ [1].all(a, [1].all(b, [1].all(c, [1].all(d, true)))) }}: runs comprehensions",
        },
        Case {
            name: "a step variable naming a later step's output",
            yaml: stage(
                VARS,
                "      - uses: fail\n        vars:\n        - name: x\n          value: ${{ outputs.later.a }}\n      - uses: fail\n        as: later\n",
            ),
            field: "spec.promotionTemplate.spec.steps[0].vars[0].value",
            reason: "${{ outputs.later.a }}: outputs.later at column 1 cannot exist",
        },
        Case {
            name: "a template variable naming a step output",
            yaml: stage(
                "      - name: sha\n        value: ${{ outputs.clone.commit }}\n",
                "      - uses: git-clone\n        as: clone\n        config:\n          repoURL: https://example.com/r.git\n",
            ),
            field: "spec.promotionTemplate.spec.vars[0].value",
            reason: "${{ outputs.clone.commit }}: outputs.clone at column 1 cannot exist: template variables are evaluated before any step runs",
        },
        Case {
            name: "an http successExpression that does not parse",
            yaml: stage(
                VARS,
                "      - uses: http\n        config:\n          url: https://example.com\n          successExpression: response.status = 200\n",
            ),
            field: "spec.promotionTemplate.spec.steps[0].config.successExpression",
            reason: "\"response.status = 200\": syntax error at column 17",
        },
        Case {
            name: "an http output naming a variable it does not have",
            yaml: stage(
                VARS,
                "      - uses: http\n        config:\n          url: https://example.com\n          outputs:\n          - name: number\n            fromExpression: vars.app\n",
            ),
            field: "spec.promotionTemplate.spec.steps[0].config.outputs[0].fromExpression",
            reason: "\"vars.app\": unknown variable vars at column 1; known here: response",
        },
        Case {
            name: "a task step naming a later step of its task",
            yaml: task(
                "  - uses: fail\n    config:\n      message: ${{ task.outputs.wait.n }}\n  - uses: fail\n    as: wait\n",
            ),
            field: "spec.steps[0].config.message",
            reason: "${{ task.outputs.wait.n }}: task.outputs.wait at column 1 cannot exist",
        },
        Case {
            name: "an expressionFilter naming what a commit does not have",
            yaml: warehouse("message.contains('x')", "true"),
            field: "spec.subscriptions[0].git.expressionFilter",
            reason: "\"message.contains('x')\": unknown variable message at column 1; known here: id, subject",
        },
        Case {
            name: "freightCreationCriteria calling what does not exist",
            yaml: warehouse("true", "warehouse('app').Tag == '1'"),
            field: "spec.freightCreationCriteria.expression",
            reason: "\"warehouse('app').Tag == '1'\": unknown function warehouse at column 1",
        },
        Case {
            name: "an expression longer than the limit",
            yaml: warehouse("true", &format!("'{}' != ''", "x".repeat(9000))),
            field: "spec.freightCreationCriteria.expression",
            reason: "\"'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…\" (9008 characters): is 9008 bytes long",
        },
    ]
}

#[test]
fn every_bad_expression_is_refused_naming_its_field_and_place() {
    let mut wrong = Vec::new();
    for case in cases() {
        match validate(&case.yaml) {
            Ok(()) => wrong.push(format!("{}: accepted", case.name)),
            Err(error) if error.field != case.field || !error.reason.starts_with(case.reason) => wrong.push(format!(
                "{}:\n  got:  {}: {}\n  want: {}: {}",
                case.name, error.field, error.reason, case.field, case.reason
            )),
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_1000_level_expression_is_refused_without_overflowing_the_callers_stack() {
    // Given a criteria expression `1+1+…` deep enough to overflow a 2 MiB stack when parsed,
    let deep = format!("1{} == 1", "+1".repeat(3000));
    // when it is validated on a thread with a small stack, then it is refused.
    let error = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || validate(&warehouse("true", &deep)).unwrap_err())
        .unwrap()
        .join()
        .unwrap();
    assert!(error.reason.contains("levels deep"), "{error}");
}

fn generic_receiver(action: &str) -> String {
    format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: ProjectConfig\nmetadata:\n  name: demo\n  namespace: demo\nspec:\n  webhookReceivers:\n  - name: hook\n    generic:\n      secretRef: {{name: hook}}\n      actions:\n      - action: Refresh\n{action}"
    )
}

#[test]
fn generic_receiver_expressions_see_the_request_and_are_checked_at_apply() {
    // Given Kargo's forms: a bare whenExpression, templates in names and index values,
    let good = "        whenExpression: \"request.header('X-Event-Type') == 'push' && params.env == 'prod'\"\n        parameters: {env: \"${{ request.params('env') }}\"}\n        targetSelectionCriteria:\n        - kind: Warehouse\n          name: \"${{ request.body.repository.name }}\"\n        - kind: Warehouse\n          indexSelector:\n            matchIndices:\n            - {key: subscribedURLs, operator: Equals, value: \"${{ normalizeGit(request.body.repository.url) }}\"}\n";
    // then they are accepted;
    validate(&generic_receiver(good)).unwrap();
    // a step's variables and functions are not there, and errors name the field.
    let ctx = "        whenExpression: \"ctx.stage == 'x'\"\n        targetSelectionCriteria: [{kind: Warehouse, name: app}]\n";
    let error = validate(&generic_receiver(ctx)).unwrap_err();
    assert_eq!(error.field, "spec.webhookReceivers[0].generic.actions[0].whenExpression");
    assert!(error.reason.contains("unknown variable ctx"), "{}", error.reason);
    let secret = "        targetSelectionCriteria: [{kind: Warehouse, name: \"${{ secret('x').y }}\"}]\n";
    let error = validate(&generic_receiver(secret)).unwrap_err();
    assert_eq!(error.field, "spec.webhookReceivers[0].generic.actions[0].targetSelectionCriteria[0].name");
    assert!(error.reason.contains("unknown function secret"), "{}", error.reason);
}

/// A stage with `spec.vars`, template `vars` and one `fail` step whose message is `message`.
fn stage_with_spec_vars(spec_vars: &str, template_vars: &str, message: &str) -> String {
    format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: test\n  namespace: demo\nspec:\n  vars:\n{spec_vars}  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n      vars:\n{template_vars}      steps:\n      - uses: fail\n        config:\n          message: {message:?}\n  verification:\n    args:\n    - name: where\n      value: ${{{{ vars.env }}}}\n"
    )
}

#[test]
fn stage_vars_are_seen_by_the_template_vars_the_steps_and_the_verification_args() {
    // Given a stage whose spec.vars define env and base, and whose template vars use them,
    let spec_vars = "  - name: env\n    value: prod\n  - name: base\n    value: https://example.com/${{ vars.env }}\n";
    let template_vars = "      - name: url\n        value: ${{ vars.base }}/app\n";
    // when a step uses both kinds, then the stage applies;
    validate(&stage_with_spec_vars(spec_vars, template_vars, "${{ vars.url }} in ${{ vars.env }}")).unwrap();
    // when a stage var uses one defined after it, then the error names spec.vars[0].
    let backwards = "  - name: env\n    value: ${{ vars.base }}\n  - name: base\n    value: b\n";
    let error = validate(&stage_with_spec_vars(backwards, template_vars, "x")).unwrap_err().to_string();
    assert!(error.contains("spec.vars[0].value"), "{error}");
    // when a step names a variable nobody defines, then it is refused.
    let error = validate(&stage_with_spec_vars(spec_vars, template_vars, "${{ vars.nope }}")).unwrap_err().to_string();
    assert!(error.contains("promotionTemplate.spec.steps[0].config.message"), "{error}");
}

#[test]
fn stage_vars_come_before_the_template_vars_which_override_them() {
    let yaml = stage_with_spec_vars(
        "  - name: env\n    value: prod\n  - name: who\n    value: stage\n",
        "      - name: who\n        value: template\n",
        "x",
    );
    let value: Value = serde_saphyr::from_str(&yaml).unwrap();
    let manifest = validate_manifest(1, value).unwrap();
    let crate::spec::Spec::Stage(spec) = manifest.spec else { panic!("a stage") };
    let names: Vec<(&str, &str)> = spec.vars.iter().map(|v| (v.name.as_str(), v.value.as_str())).collect();
    assert_eq!(names, [("env", "prod"), ("who", "stage")]);
    let all: Vec<(String, String)> = spec.vars().into_iter().map(|v| (v.name, v.value)).collect();
    assert_eq!(all.last().unwrap(), &("who".to_owned(), "template".to_owned()), "the template's come last and win");
    assert_eq!(spec.var_field(1), "spec.vars[1]");
    assert_eq!(spec.var_field(2), "spec.promotionTemplate.spec.vars[0]");
}
