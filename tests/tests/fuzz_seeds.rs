//! The fuzz targets at CI speed: every input in `fuzz/seeds/<target>/` and
//! `fuzz/regressions/<target>/` (the inputs that once crashed a target), and what a
//! local `scripts/fuzz` run kept in `fuzz/corpus/<target>/`, is fed through the same
//! target bodies the libFuzzer binaries run (`fuzz/src/`, included here as modules),
//! without libFuzzer and without its instrumented build. Each input is also cut short at
//! a few points, as the bus and the api meet truncated bytes. A target in
//! `fuzz/Cargo.toml` with no replay here, or with no seeds, fails the test.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/input.rs"]
mod input;
#[path = "../../fuzz/src/service_targets.rs"]
mod service_targets;
#[path = "../../fuzz/src/targets.rs"]
mod targets;

type Target = fn(&[u8]);

/// Every fuzz target, by its binary's name, with the function that binary runs.
const TARGETS: [(&str, Target); 9] = [
    ("event_codec", service_targets::event_codec),
    ("manifest", targets::manifest),
    ("freight_id", targets::freight_id),
    ("semver", targets::semver),
    ("expression", targets::expression),
    ("yaml_update", service_targets::yaml_update),
    ("json_update", service_targets::json_update),
    ("toml_update", service_targets::toml_update),
    ("oci_reference", service_targets::oci_reference),
];

/// Prefixes of each input fed besides the whole of it.
const CUTS: usize = 8;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        entries.map(|e| e.expect("a fuzz input directory lists").path()).filter(|p| p.is_file()).collect();
    files.sort();
    files.into_iter().map(|path| (path.clone(), std::fs::read(&path).expect("a fuzz input reads"))).collect()
}

/// The names `fuzz/Cargo.toml` gives its `[[bin]]` targets.
fn declared_targets() -> Vec<String> {
    let text = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml reads");
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(name) = line.strip_prefix("name = ") {
            names.push(name.trim_matches('"').to_owned());
        }
    }
    names
}

#[test]
fn every_declared_target_is_replayed() {
    let mut declared = declared_targets();
    let mut replayed: Vec<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    declared.sort();
    replayed.sort();
    assert_eq!(declared, replayed, "fuzz/Cargo.toml's targets and this replay's differ");
}

#[test]
fn every_seed_and_regression_input_runs_through_its_target_without_a_panic() {
    let mut failures = Vec::new();
    let mut fed = 0;
    for (name, target) in TARGETS {
        let mut all = inputs(&fuzz_dir().join("seeds").join(name));
        assert!(!all.is_empty(), "{name} has no seeds in fuzz/seeds/{name}");
        all.extend(inputs(&fuzz_dir().join("regressions").join(name)));
        all.extend(inputs(&fuzz_dir().join("corpus").join(name)));
        for (path, bytes) in &all {
            let mut ends: Vec<usize> = (1..=CUTS).map(|i| bytes.len() * i / (CUTS + 1)).collect();
            ends.push(bytes.len());
            ends.dedup();
            for end in ends {
                fed += 1;
                let input = &bytes[..end];
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(input))) {
                    let why = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    failures.push(format!("{name}: {} (first {end} of {} bytes): {why}", path.display(), bytes.len()));
                }
            }
        }
    }
    // Every event type once more, each with an empty payload, written as the seeds are.
    let empty: Vec<u8> =
        lading_events::EventType::ALL.iter().flat_map(|event_type| input::frame(*event_type, b"")).collect();
    if let Err(panic) = catch_unwind(|| service_targets::event_codec(&empty)) {
        failures.push(format!("event_codec: every type with an empty payload: {panic:?}"));
    }
    assert!(fed > 100, "only {fed} inputs were fed");
    assert!(failures.is_empty(), "{} inputs made a target panic:\n{}", failures.len(), failures.join("\n"));
}
