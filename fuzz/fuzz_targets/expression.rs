//! The expression layer: the input is parsed as a template (`${{ … }}` inside text) and
//! as a bare CEL program, checked against the names a promotion knows, and evaluated
//! with Kargo's variables and functions (as a step's expressions and as a warehouse's
//! `freightCreationCriteria`) under a small budget. Whatever the program, it ends with a
//! value or an error within its budget (scripts/fuzz gives libFuzzer a timeout).
//! Nothing may panic.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lading_fuzz::targets::expression(data));
