//! `set-metadata`: the three examples of Kargo's reference page, and metadata read back
//! by `freightMetadata()` and `stageMetadata()` in a later step.

use lading_domain::metadata::{MetadataKind, ProjectMetadata};
use lading_promoter::engine::StepObserver;

use super::*;

/// Plays the promoter service's part: knows the freight aliased `my-app-freight` and the
/// stages `production` and `staging`, and keeps what is set.
#[derive(Default)]
struct Recorded {
    metadata: ProjectMetadata,
    set: Vec<(MetadataKind, String, Value)>,
}

const FREIGHT_ID: &str = "0123456789abcdef0123456789abcdef01234567";

impl StepObserver for Recorded {
    fn project_metadata(&self) -> ProjectMetadata {
        self.metadata.clone()
    }

    fn set_metadata(&mut self, kind: MetadataKind, name: &str, values: &str) -> Result<String, String> {
        let name = match (kind, name) {
            (MetadataKind::Freight, "my-app-freight" | FREIGHT_ID) => FREIGHT_ID,
            (MetadataKind::Stage, "production" | "staging" | "test") => name,
            _ => return Err(format!("{name:?} is unknown")),
        };
        self.set.push((kind, name.to_owned(), serde_json::from_str(values).unwrap()));
        lading_domain::metadata::merge(self.metadata.of_mut(kind, name), values);
        Ok(name.to_owned())
    }
}

const COMMON_USAGE: &str = r#"steps:
- uses: set-metadata
  config:
    updates:
      - kind: Stage
        name: production
        values:
          foo: "hello"
          bar: 42
      - kind: Freight
        name: my-app-freight
        values:
          baz: true
          qux: ["a", "b", "c"]
"#;

const COMPLEX_METADATA: &str = r#"steps:
- uses: set-metadata
  config:
    updates:
      - kind: Stage
        name: staging
        values:
          foo:
            nested: "value"
            numbers: [1, 2, 3]
            items:
              - name: "item1"
                value: "abc"
              - name: "item2"
                value: "xyz"
          bar:
            alpha: "one"
            beta: "two"
"#;

#[test]
fn set_metadata_examples_set_stage_and_freight_metadata() {
    let workspace = tempfile::tempdir().unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let (vars, steps) = apply(COMMON_USAGE);
    let mut recorded = Recorded::default();
    EngineRun { vars: &vars, ..EngineRun::new(&freight) }
        .run_observed(workspace.path(), &steps, &mut recorded)
        .unwrap();
    assert_eq!(
        recorded.set,
        [
            (MetadataKind::Stage, "production".to_owned(), json!({"foo": "hello", "bar": 42})),
            (MetadataKind::Freight, FREIGHT_ID.to_owned(), json!({"baz": true, "qux": ["a", "b", "c"]})),
        ]
    );
    let (vars, steps) = apply(COMPLEX_METADATA);
    EngineRun { vars: &vars, ..EngineRun::new(&freight) }
        .run_observed(workspace.path(), &steps, &mut recorded)
        .unwrap();
    assert_eq!(
        recorded.metadata.stages["staging"]["foo"],
        json!({"nested": "value", "numbers": [1, 2, 3], "items": [{"name": "item1", "value": "abc"}, {"name": "item2", "value": "xyz"}]})
    );
}

#[test]
fn metadata_set_earlier_is_read_by_freight_metadata_and_stage_metadata() {
    // Kargo's "Using Metadata" example reads what a promotion set before; CEL has no
    // `??`, so a missing key is asked for with the two-argument form, which gives null.
    let workspace = tempfile::tempdir().unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let id = lading_domain::freight_id::compute(&freight).unwrap();
    let mut recorded = Recorded::default();
    recorded.metadata.freight.insert(id.to_string(), [("category".to_owned(), json!("backend"))].into());
    recorded.metadata.stages.insert("test".to_owned(), [("aws-region".to_owned(), json!("eu-west-1"))].into());
    let template = r#"steps:
- uses: set-metadata
  config:
    updates:
    - kind: Stage
      name: ${{ ctx.stage }}
      values:
        tier: gold
- uses: compose-output
  as: read
  config:
    category: ${{ freightMetadata(ctx.targetFreight.name).category }}
    region: ${{ stageMetadata(ctx.stage)['aws-region'] }}
    tier: ${{ stageMetadata(ctx.stage).tier }}
    missing: ${{ stageMetadata(ctx.stage, 'nothing') }}
    unknown: ${{ size(freightMetadata('0000000000000000000000000000000000000000')) }}
"#;
    let (vars, steps) = apply(template);
    let outcome = EngineRun { vars: &vars, ..EngineRun::new(&freight) }
        .run_observed(workspace.path(), &steps, &mut recorded)
        .unwrap();
    assert_eq!(
        outcome.outputs["read"],
        json!({"category": "backend", "region": "eu-west-1", "tier": "gold", "missing": null, "unknown": 0})
    );
}

#[test]
fn set_metadata_refuses_bad_updates_at_apply_and_unknown_names_when_run() {
    let error = refused(
        "steps:\n- uses: set-metadata\n  config:\n    updates:\n    - kind: Warehouse\n      name: app\n      values: {a: 1}\n",
    );
    assert!(error.contains("steps[0].config.updates[0].kind: \"Warehouse\" is not one of Freight, Stage"), "{error}");
    let error = refused(
        "steps:\n- uses: set-metadata\n  config:\n    updates:\n    - kind: Stage\n      name: s\n      values: 3\n",
    );
    assert!(error.contains("steps[0].config.updates[0].values: must be a mapping, got a number"), "{error}");
    let workspace = tempfile::tempdir().unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let (vars, steps) = apply(
        "steps:\n- uses: set-metadata\n  config:\n    updates:\n    - kind: Stage\n      name: test\n      values: {a: 1}\n    - kind: Stage\n      name: nowhere\n      values: {b: 2}\n",
    );
    let mut recorded = Recorded::default();
    let error = EngineRun { vars: &vars, ..EngineRun::new(&freight) }
        .run_observed(workspace.path(), &steps, &mut recorded)
        .unwrap_err()
        .to_string();
    assert!(error.contains("config.updates[1]: \"nowhere\" is unknown"), "{error}");
    let (vars, steps) = apply(
        "steps:\n- uses: set-metadata\n  config:\n    updates:\n    - kind: Stage\n      name: test\n      values: {}\n",
    );
    let error = EngineRun { vars: &vars, ..EngineRun::new(&freight) }
        .run_observed(workspace.path(), &steps, &mut recorded)
        .unwrap_err()
        .to_string();
    assert!(error.contains("config.updates[0].values: must set at least one key"), "{error}");
}
