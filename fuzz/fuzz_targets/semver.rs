//! Semver constraints and tags: the first line is a constraint (also tried as a tag
//! regex and a path pattern), the other lines are tags as a registry or a Git server
//! lists them. The newest versions chosen hold to the constraint, highest first, within
//! the limit. Nothing may panic.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lading_fuzz::targets::semver(data));
