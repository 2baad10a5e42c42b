//! Arbitrary request paths through the static-file path resolver: nothing it accepts can
//! leave the root.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    httpd::fuzzing::files_resolve(data);
});
