//! Given/when/then tests of the expression layer: programs keep CEL's meaning with their
//! probes in, and every way of running away ends in a budget error.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;

/// Evaluates `source` with `vars` bound, under `limits`.
fn run_with(source: &str, vars: &[(&str, Value)], limits: &ExpressionLimits) -> Result<Value, ExpressionError> {
    let program = Program::compile(source)?;
    let budget = Budget::new(limits);
    let mut evaluator = Evaluator::new(&budget);
    for (name, value) in vars {
        evaluator.bind(name, value)?;
    }
    evaluator.evaluate(&program)
}

fn run(source: &str) -> Result<Value, ExpressionError> {
    run_with(source, &[], &ExpressionLimits::default())
}

/// `[0, 1, …, n-1]` as CEL source.
fn range(n: usize) -> String {
    format!("[{}]", (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(","))
}

#[test]
fn programs_keep_their_meaning_with_probes_in() {
    assert_eq!(run("1 + 2 * 3").unwrap(), json!(7));
    assert_eq!(run("[1, 2, 3].map(x, x * 2)").unwrap(), json!([2, 4, 6]));
    assert_eq!(run("[1, 2, 3].map(x, x > 1, x * 10)").unwrap(), json!([20, 30]));
    assert_eq!(run("[1, 2, 3].filter(x, x != 2)").unwrap(), json!([1, 3]));
    assert_eq!(run("['a', 'b'].exists(x, x == 'b') && [1, 2].all(x, x > 0)").unwrap(), json!(true));
    assert_eq!(run("[1, 2, 2].exists_one(x, x == 1)").unwrap(), json!(true));
    assert_eq!(run("{'a': {'b': [1, 'two']}}.a").unwrap(), json!({"b": [1, "two"]}));
    assert_eq!(run("has({'a': 1}.a) && !has({'a': 1}.b)").unwrap(), json!(true));
    assert_eq!(run("'v1.2.3'.matches('^v[0-9]+') && matches('abc', 'c$')").unwrap(), json!(true));
    assert_eq!(run("size('abc') + int('4') + size([1, 2])").unwrap(), json!(9));
    assert_eq!(run("'a' + 'b' + string(1)").unwrap(), json!("ab1"));
    // An error beside a true `exists` is absorbed, as in CEL.
    assert_eq!(run("[0, 1].exists(x, 1 / x == 1)").unwrap(), json!(true));
}

#[test]
fn variables_and_type_names_resolve_and_results_become_json() {
    let vars = [("vars", json!({"n": 3, "names": ["a", "b"]}))];
    let limits = ExpressionLimits::default();
    assert_eq!(run_with("vars.names.map(n, n + '!')", &vars, &limits).unwrap(), json!(["a!", "b!"]));
    assert_eq!(run_with("type(vars.names) == list && type('a') == string", &vars, &limits).unwrap(), json!(true));
    let unusable = run("b'bytes'").unwrap_err();
    assert!(matches!(unusable, ExpressionError::Unusable(_)), "{unusable}");
    assert!(run("1 / 0").unwrap_err().to_string().starts_with("failed: "));
}

#[test]
fn shapes_that_cannot_be_bounded_are_refused_before_they_run() {
    // Given programs too long, too deep, or with comprehensions four deep,
    let too_long = format!("'{}'", "x".repeat(limits::MAX_SOURCE_BYTES));
    let deep_chain = format!("1{}", "+1".repeat(2000));
    let r = range(3);
    let four_deep = format!("{r}.all(a, {r}.all(b, {r}.all(c, {r}.all(d, true))))");
    // when they are compiled, then each is refused with its reason and position,
    assert!(matches!(Program::compile(&too_long), Err(ExpressionError::TooLong { .. })));
    assert!(matches!(Program::compile(&deep_chain), Err(ExpressionError::TooDeep { max: 64, .. })));
    let nested = Program::compile(&four_deep).unwrap_err();
    assert!(matches!(nested, ExpressionError::NestedComprehensions { depth: 4, max: 3, .. }), "{nested}");
    assert!(Program::compile(&format!("{r}.all(a, {r}.all(b, {r}.all(c, true)))")).is_ok());
    assert!(Program::compile(&format!("{r}.map(a, a){}", ".map(a, a)".repeat(20))).is_ok(), "chains do not nest");
    let brackets = Program::compile(&format!("{}1{}", "[".repeat(40), "]".repeat(40))).unwrap_err();
    assert!(brackets.to_string().contains("nest more than 32"), "{brackets}");
    assert!(matches!(Program::compile("Msg{a: 1}"), Err(ExpressionError::Unsupported { .. })));
    // and a syntax error says where.
    let syntax = Program::compile("vars.x +").unwrap_err();
    assert!(syntax.to_string().starts_with("syntax error at column 9: mismatched input '<EOF>'"), "{syntax}");
    assert!(matches!(Program::compile("  "), Err(ExpressionError::Empty)));
}

#[test]
fn names_are_checked_against_what_the_caller_offers() {
    let program = Program::compile("size(vars.x) > 0 && commitFrom(vars.repo).ID != '' && int(1) == 1").unwrap();
    assert!(program.check_names(&["commitFrom"], &["vars"]).is_ok());
    let function = program.check_names(&[], &["vars"]).unwrap_err();
    assert_eq!(function.to_string(), "unknown function commitFrom at column 21");
    let variable = Program::compile("[1].map(x, x + y)").unwrap().check_names(&[], &["vars"]).unwrap_err();
    assert_eq!(variable.to_string(), "unknown variable y at column 16; known here: vars");
    let method = Program::compile("'a'.shout()").unwrap().check_names(&[], &[]).unwrap_err();
    assert_eq!(method.to_string(), "unknown function shout at column 5");
    assert!(Program::compile("optional.of(1).hasValue()").unwrap().check_names(&[], &[]).is_ok());
    let paths: Vec<_> = Program::compile("outputs['open-pr'].number + outputs.x.y + outputs[vars.k].z")
        .unwrap()
        .references()
        .iter()
        .filter_map(|r| match r {
            Reference::Variable { path, .. } => Some(path.join("/")),
            Reference::Function { .. } => None,
        })
        .collect();
    assert_eq!(paths, vec!["outputs/open-pr/number", "outputs/x/y", "outputs", "vars/k"]);
}

/// Peak resident memory of this process, in MiB (Linux).
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    kib / 1024
}

/// Runs an attack: it must fail with a budget error, soon, without memory growing past
/// a few times the allocation budget.
fn assert_stopped(attack: &str, source: &str, expected: fn(&ExpressionError) -> bool) {
    let started = Instant::now();
    let error = run(source).unwrap_err();
    let elapsed = started.elapsed();
    assert!(expected(&error), "{attack}: {error}");
    assert!(elapsed < Duration::from_secs(2), "{attack}: stopped after {elapsed:?}");
    let peak = peak_rss_mib();
    assert!(peak < 400, "{attack}: peak RSS {peak} MiB");
    eprintln!("{attack}: {error} after {elapsed:?}; peak RSS {peak} MiB");
}

#[test]
fn doubling_a_string_runs_out_of_allocation_budget() {
    // `s + s + s + s` sixteen times over is 4 GiB: the probes stop it at 16 MiB.
    let source = format!("['x']{}", ".map(s, s + s + s + s)".repeat(16));
    assert!(source.len() < 500);
    assert_stopped("string doubling", &source, |e| matches!(e, ExpressionError::Allocation { .. }));
}

#[test]
fn growing_lists_run_out_of_allocation_budget() {
    // Lists that double at each step, and a cube of a 100-element list (a million lists).
    let doubling = format!("[{}]{}", range(8), ".map(l, l + l + l + l)".repeat(16));
    assert_stopped("list doubling", &doubling, |e| e.is_budget());
    let r = range(100);
    let cube = format!("{r}.map(a, {r}.map(b, {r}.map(c, [a, b, c])))");
    assert_stopped("list cube", &cube, |e| e.is_budget());
}

#[test]
fn nested_comprehensions_run_out_of_time() {
    // 27 million iterations, three deep: minutes without a budget; the second does
    // nothing in its loop but iterate.
    let r = range(300);
    let source = format!("{r}.all(a, {r}.all(b, {r}.all(c, a + b + c >= 0)))");
    assert_stopped("nested comprehensions", &source, |e| matches!(e, ExpressionError::Timeout { .. }));
    let empty = format!("{r}.exists_one(a, {r}.exists_one(b, {r}.exists_one(c, false)))");
    assert_stopped("empty nested comprehensions", &empty, |e| matches!(e, ExpressionError::Timeout { .. }));
}

/// How long evaluating `source` over `v` takes with `timeout`, and what it yields.
fn timed(source: &str, v: &Value, timeout: Duration) -> (Duration, Result<Value, ExpressionError>) {
    let program = Program::compile(source).unwrap();
    let budget = Budget::new(&ExpressionLimits { timeout, ..ExpressionLimits::default() });
    let mut evaluator = Evaluator::new(&budget);
    evaluator.bind("v", v).unwrap();
    let started = Instant::now();
    let result = evaluator.evaluate(&program);
    (started.elapsed(), result)
}

#[test]
fn a_loop_with_nothing_in_it_stops_at_its_deadline_not_at_its_end() {
    // Given a long input and loops whose bodies call nothing,
    let items = Value::Array((0..1_000_000).map(|i| json!(i % 7)).collect());
    for source in ["v.exists_one(x, false)", "v.filter(x, false) == []"] {
        // when one runs to its end with time to spare, and again with a tenth of that,
        let (whole, finished) = timed(source, &items, Duration::from_secs(60));
        assert!(finished.is_ok(), "{source}: {finished:?}");
        // (the shortest of three tries, so a busy machine pausing one try does not count)
        let stopped = (0..3)
            .map(|_| {
                let (stopped, error) = timed(source, &items, whole / 10);
                assert!(matches!(error, Err(ExpressionError::Timeout { .. })), "{source}: {error:?}");
                stopped
            })
            .min()
            .unwrap();
        // then the second stops at its deadline, long before the loop's end.
        assert!(stopped < whole / 2, "{source}: stopped after {stopped:?} of {whole:?}");
    }
}

#[test]
fn concatenating_an_input_runs_out_of_allocation_budget() {
    // Forty concatenations of a 1 MiB variable would build 40 MiB strings on the way.
    let source = format!("size(v{}) > 0", " + v".repeat(40));
    let v = json!("v".repeat(1 << 20));
    let error = run_with(&source, &[("v", v)], &ExpressionLimits::default()).unwrap_err();
    assert!(matches!(error, ExpressionError::Allocation { .. }), "{error}");
}

#[test]
fn a_budget_error_cannot_be_absorbed_by_or_or_exists() {
    let r = range(300);
    let bomb = format!("{r}.all(a, {r}.all(b, {r}.all(c, a + b + c >= 0)))");
    // `error || true` is true in CEL, and `exists` keeps looking past an error.
    for source in
        [format!("({bomb}) || true"), format!("{r}.exists(x, {r}.all(b, {r}.all(c, b + c >= 0)) || x == 299)")]
    {
        assert_stopped("absorbed bomb", &source, |e| matches!(e, ExpressionError::Timeout { .. }));
    }
}

#[test]
fn a_result_larger_than_the_output_limit_is_refused() {
    let big = json!("x".repeat(600 * 1024));
    let error = run_with("big + big", &[("big", big.clone())], &ExpressionLimits::default()).unwrap_err();
    assert!(matches!(error, ExpressionError::OutputTooLarge { limit } if limit == 1 << 20), "{error}");
    assert_eq!(run_with("size(big)", &[("big", big)], &ExpressionLimits::default()).unwrap(), json!(600 * 1024));
}

#[test]
fn limits_are_honoured_as_configured() {
    let tight =
        ExpressionLimits { timeout: Duration::from_secs(10), max_output_bytes: 1 << 20, max_allocated_bytes: 4096 };
    let error = run_with(&format!("{}.map(x, 'abcdefgh' + string(x))", range(200)), &[], &tight).unwrap_err();
    assert_eq!(error, ExpressionError::Allocation { limit: 4096 });
    let instant = ExpressionLimits { timeout: Duration::from_nanos(1), ..ExpressionLimits::default() };
    assert_eq!(
        run_with("[1, 2].map(x, x)", &[], &instant).unwrap_err(),
        ExpressionError::Timeout { limit: Duration::from_nanos(1) }
    );
}

#[test]
fn patterns_for_matches_are_bounded() {
    // `\w{200}` compiles to more than 1 MiB (though less than the regex crate's own 10 MiB).
    let huge = run("'a'.matches('\\\\w{200}')").unwrap_err();
    assert!(huge.to_string().contains("size limit"), "{huge}");
    let long = json!("a".repeat(limits::MAX_SOURCE_BYTES + 1));
    let error = run_with("'a'.matches(p)", &[("p", long)], &ExpressionLimits::default()).unwrap_err();
    assert!(error.to_string().contains("a pattern may have at most 8192"), "{error}");
}

#[test]
fn time_the_thread_spends_not_computing_is_not_spent() {
    // Given a budget of 50 ms shared by two evaluations,
    let budget = Budget::new(&ExpressionLimits { timeout: Duration::from_millis(50), ..ExpressionLimits::default() });
    let evaluator = Evaluator::new(&budget);
    let program = Program::compile("1 + 1 == 2").unwrap();
    assert_eq!(evaluator.evaluate(&program).unwrap(), json!(true));
    // when the caller is idle for longer than the budget between them (as a thread
    // waiting for a core on a busy machine would be),
    std::thread::sleep(Duration::from_millis(120));
    // then the second evaluation still has its time: only computing spends it.
    assert_eq!(evaluator.evaluate(&program).unwrap(), json!(true));
    assert!(budget.exceeded().is_none());
}
