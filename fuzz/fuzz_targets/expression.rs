//! The expression layer: the input is parsed as a template (`${{ … }}` inside text) and
//! as a bare CEL program, checked against the names a promotion knows, and evaluated
//! with Kargo's variables and functions (as a step's expressions and as a warehouse's
//! `freightCreationCriteria`) under a small budget. Whatever the program, it ends with a
//! value or an error within its budget (scripts/fuzz gives libFuzzer a timeout).
//! Nothing may panic.

#![no_main]

use std::collections::BTreeMap;
use std::time::Duration;

use lading_domain::Freight;
use lading_domain::expression::template::{Part, expressions, is_template, split};
use lading_domain::expression::{Budget, Evaluator, ExpressionLimits, Program, on_expression_stack};
use lading_domain::freight_functions::{self, evaluate_bool};
use lading_domain::promotion_functions::{self, VARIABLES, all_functions};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const LIMITS: ExpressionLimits =
    ExpressionLimits { timeout: Duration::from_millis(50), max_output_bytes: 64 * 1024, max_allocated_bytes: 1 << 20 };

fn freight() -> Freight {
    Freight::from_warehouse("app")
        .with_commit("https://github.com/org/app.git", "abc123")
        .with_image("ghcr.io/org/app", "1.2.0", "sha256:00")
        .with_chart("oci://ghcr.io/org/charts/app", "", "1.2.0")
}

/// Evaluates `programs` as a step's expressions are: Kargo's variables and functions,
/// one budget for all of them.
fn evaluate_as_a_step(programs: &[Program], freight: &Freight) {
    let budget = Budget::new(&LIMITS);
    let statuses = BTreeMap::from([("clone".to_owned(), "Succeeded".to_owned())]);
    let _ = on_expression_stack(|| {
        let mut evaluator = Evaluator::new(&budget);
        evaluator.bind("vars", &json!({"app": "https://github.com/org/app.git"})).expect("vars bind");
        evaluator
            .bind("ctx", &json!({"project": "demo", "stage": "test", "promotion": "test.01j.abc1234"}))
            .expect("ctx");
        evaluator.bind("outputs", &json!({"clone": {"commit": "abc123"}})).expect("outputs bind");
        evaluator.bind("task", &Value::Null).expect("task binds");
        promotion_functions::add(evaluator.context_mut(), &statuses, false).expect("functions add");
        freight_functions::add(evaluator.context_mut(), freight).expect("freight functions add");
        promotion_functions::add_secret(evaluator.context_mut(), None).expect("secret adds");
        for program in programs {
            let _ = evaluator.evaluate(program);
        }
    });
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let freight = freight();

    let mut programs = Vec::new();
    if is_template(source) {
        let _ = expressions(source);
        if let Ok(parts) = split(source) {
            for part in parts {
                if let Part::Expression(expression) = part
                    && let Ok(program) = Program::compile(expression)
                {
                    programs.push(program);
                }
            }
        }
    } else if let Ok(program) = Program::compile(source) {
        programs.push(program);
    }
    for program in &programs {
        let _ = program.check_names(&all_functions(), &VARIABLES);
    }
    evaluate_as_a_step(&programs, &freight);
    if !is_template(source) {
        let _ = evaluate_bool(source, &freight, &LIMITS);
    }
});
