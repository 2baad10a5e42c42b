//! Arbitrary bytes as a request head: the parser never panics and keeps its invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpd::fuzzing::parse_head(data));
