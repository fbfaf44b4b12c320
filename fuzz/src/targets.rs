//! The bodies of the fuzz targets that need only `lading-domain` and `lading-events`:
//! one function per target, called by its libFuzzer binary in `fuzz_targets/` and by
//! the seed replay that `scripts/test` runs without libFuzzer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lading_domain::expression::template::{Part, expressions, is_template, split};
use lading_domain::expression::{Budget, Evaluator, ExpressionLimits, Program, on_expression_stack};
use lading_domain::freight_functions::{self, evaluate_bool};
use lading_domain::promotion_functions::{self, VARIABLES, all_functions, semver_diff};
use lading_domain::selection::{PathFilter, SemverConstraint, TagFilter, newest_lexical, newest_semver, parse_version};
use lading_domain::spec::references::{describe_cycle, find_cycle, upstream_stages};
use lading_domain::spec::{Spec, parse_manifests, validate_manifest};
use lading_domain::url_normalize::{go_path_clean, normalize_chart, normalize_git, normalize_image_repo};
use lading_domain::{Freight, FreightId, alias, freight_id};
use lading_events::{CloudEvent, Event, EventHeaders, TraceContext, decode, encode};
use serde_json::{Value, json};

use super::input::frames;

/// The event codec, every event type: messages as they arrive on the bus (a type and a
/// payload) are decoded; what decodes must encode back to the same event, give its
/// identity, subject, headers and public CloudEvent, and is then handed to `apply`
/// (with its position) for what else reads events. Nothing may panic.
pub fn event_codec(data: &[u8], mut apply: impl FnMut(u64, &Event)) {
    for (seq, (event_type, payload)) in frames(data).into_iter().enumerate() {
        let Ok(event) = decode(Some(event_type.ce_type()), payload) else { continue };
        assert_eq!(event.event_type(), event_type);
        let again = decode(Some(event_type.ce_type()), &encode(&event)).expect("an encoded event decodes");
        assert_eq!(again, event, "an event survives encoding");

        let _ = (event.identity(), event.subject(), event.ce_subject(), event.project());
        let trace = TraceContext::root(1, 2);
        let headers = EventHeaders::for_event(&event, "/lading/fuzz", &trace);
        assert!(headers.pairs().iter().all(|(name, _)| !name.is_empty()));
        let public = CloudEvent::of(&event, "/lading/fuzz", Some(&trace));
        let read: CloudEvent = serde_json::from_slice(&public.to_json()).expect("a CloudEvent reads back");
        assert_eq!(read.id, public.id);
        let _ = lading_events::subject::parse(&event.subject());
        apply(seq as u64 + 1, &event);
    }
}

/// Manifest parsing and validation, as `POST /api/v1/apply` does it: a body of YAML or
/// JSON documents, parsed, validated (every expression in them checked), and checked for
/// stage cycles. A manifest that is accepted is stored as its JSON and read back by every
/// service: that JSON must validate again to the same manifest. Nothing may panic.
pub fn manifest(data: &[u8]) {
    let Ok(body) = std::str::from_utf8(data) else { return };
    let Ok(documents) = serde_saphyr::from_multiple::<Value>(body) else { return };
    let manifests = match parse_manifests(documents) {
        Ok(manifests) => manifests,
        Err(errors) => {
            assert!(!errors.is_empty());
            for error in errors {
                assert!(!error.field.is_empty(), "an error names its field: {error}");
            }
            return;
        }
    };
    let mut stages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for manifest in &manifests {
        let stored = manifest.to_json();
        let read = validate_manifest(1, stored.clone())
            .unwrap_or_else(|e| panic!("a stored manifest reads back: {e}\n{stored:#}"));
        assert_eq!(read.to_json(), stored, "a stored manifest reads back the same");
        if let Spec::Stage(spec) = &manifest.spec {
            stages.insert(manifest.name().to_owned(), upstream_stages(spec));
        }
    }
    if let Some(cycle) = find_cycle(&stages) {
        assert!(!describe_cycle(&cycle).is_empty());
    }
}

/// Freight-ID input: a Freight document (YAML or JSON, Kargo's fields) as `lading
/// freight id` and the api read it, and freight IDs and aliases as requests name them.
/// An ID that is computed does not depend on the order of the artifacts, survives the
/// freight being printed as JSON and read again, parses as an ID and has an alias.
/// Nothing may panic.
pub fn freight_id(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // As a name in a request: an ID, an alias, or a repository URL.
    let _ = FreightId::parse(text);
    let _ = alias::looks_like_alias(text);
    let _ = (normalize_git(text), normalize_chart(text), normalize_image_repo(text), go_path_clean(text));

    let Ok(Value::Object(mut map)) = serde_saphyr::from_str::<Value>(text) else { return };
    map.remove("status");
    let Ok(freight) = lading_domain::spec::deserialize_at::<Freight>("", Value::Object(map)) else { return };
    let Ok(id) = freight_id::compute(&freight) else { return };

    let mut reversed = freight.clone();
    reversed.commits.reverse();
    reversed.images.reverse();
    reversed.charts.reverse();
    assert_eq!(freight_id::compute(&reversed).ok(), Some(id.clone()), "the order of artifacts counts");

    let printed = serde_json::to_value(&freight).expect("a freight prints as JSON");
    let read: Freight = serde_json::from_value(printed).expect("a printed freight reads back");
    assert_eq!(freight_id::compute(&read).ok(), Some(id.clone()), "printing changed the ID");

    assert_eq!(FreightId::parse(id.as_str()).ok(), Some(id.clone()));
    assert!(alias::looks_like_alias(&alias::candidate(&id, 0)));
}

/// How many versions [`semver`] asks for.
const NEWEST: usize = 5;

/// Semver constraints and tags: the first line is a constraint (also tried as a tag
/// regex and a path pattern), the other lines are tags as a registry or a Git server
/// lists them. The newest versions chosen hold to the constraint, highest first, within
/// the limit. Nothing may panic.
pub fn semver(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let tags: Vec<&str> = rest.lines().collect();

    let constraint = SemverConstraint::parse(first).ok();
    for strict in [true, false] {
        let newest = newest_semver(tags.iter().copied(), constraint.as_ref(), strict, NEWEST);
        assert!(newest.len() <= NEWEST);
        for (tag, version) in &newest {
            assert_eq!(parse_version(tag, strict).as_ref(), Some(version));
            assert!(constraint.as_ref().is_none_or(|c| c.matches(version)), "{tag} is outside {first:?}");
        }
        assert!(newest.windows(2).all(|w| w[0].1 >= w[1].1), "not highest first: {newest:?}");
    }
    let lexical = newest_lexical(tags.iter().copied(), NEWEST);
    assert!(lexical.windows(2).all(|w| w[0] >= w[1]));
    if let [a, b, ..] = tags.as_slice() {
        let _ = semver_diff(a, b);
    }

    let patterns = vec![first.to_owned()];
    if let Ok(filter) = TagFilter::new(&patterns, &[]) {
        let _ = tags.iter().filter(|t| filter.allows(t)).count();
    }
    if let Ok(filter) = PathFilter::new(&patterns, &patterns) {
        assert!(!filter.matches(tags.iter().copied()), "an excluded path counts");
    }
}

const LIMITS: ExpressionLimits =
    ExpressionLimits { timeout: Duration::from_millis(50), max_output_bytes: 64 * 1024, max_allocated_bytes: 1 << 20 };

fn sample_freight() -> Freight {
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
        freight_functions::add(evaluator.context_mut(), std::slice::from_ref(freight)).expect("freight functions add");
        promotion_functions::add_secret(evaluator.context_mut(), None).expect("secret adds");
        for program in programs {
            let _ = evaluator.evaluate(program);
        }
    });
}

/// The expression layer: the input is parsed as a template (`${{ … }}` inside text) and
/// as a bare CEL program, checked against the names a promotion knows, and evaluated
/// with Kargo's variables and functions (as a step's expressions and as a warehouse's
/// `freightCreationCriteria`) under a small budget. Whatever the program, it ends with a
/// value or an error within its budget (scripts/fuzz gives libFuzzer a timeout).
/// Nothing may panic.
pub fn expression(data: &[u8]) {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let freight = sample_freight();

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
}
