//! Arbitrary bytes fed to a whole session over an in-memory transport (no sockets): the
//! server answers or closes, never panics or hangs, and keeps serving a well-formed request.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpd::fuzzing::session(data));
